'use strict';

// Runs a fuzz plan against both implementations (one child process each)
// and compares: synchronous results op by op (thrown error name, code,
// message, constructor, errno/syscall; returned values), exit status,
// crash markers on stderr, and callbacks called more than once. Also
// renders repro scripts.

const path = require('node:path');
const { runProcess } = require('../helpers.js');
const { generate } = require('./gen.js');

const CHILD = path.join(__dirname, 'child.js');

async function runChild(impl, args, { ms = 60000 } = {}) {
  const r = await runProcess(process.execPath, [CHILD, impl, ...args], { ms });
  let trace = null;
  try {
    trace = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch { /* crashed before printing */ }
  return { impl, code: r.code, signal: r.signal, timedOut: r.timedOut, stderr: r.stderr, trace, ms: r.ms };
}

/**
 * Replaces the ports the sockets were bound to (ephemeral, different in
 * each run) by 'PORT'. (Not by the slot that owns them: a port can pass
 * from a closed socket to a new one, at slightly different moments.)
 */
function normalize(value, ports, key) {
  if (Array.isArray(value)) return value.map((v) => normalize(v, ports));
  if (value && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value)) out[k] = normalize(value[k], ports, k);
    return out;
  }
  if (typeof value === 'number' && (key === 'port' || key === 'returned') && value >= 1024) {
    return ports.has(value) || key === 'port' || value >= 32768 ? 'PORT' : value;
  }
  if (typeof value === 'string') {
    return value.replace(/\b(\d{4,5})\b/g, (m, d) => (ports.has(Number(d)) || Number(d) >= 32768 ? 'PORT' : m));
  }
  return value;
}

// node:dgram's C++ CHECK on a send whose lookup answered a non-string (N2).
const nodeSendAbort = /UDPWrap::DoSend[\s\S]*Assertion failed: args\[4\]->IsString\(\)/;

/** Compares two traces; returns a list of differences (empty: same). */
function compareTraces(node, rs, plan) {
  const diffs = [];
  const byI = new Map(plan.map((e) => [e.i, e]));
  const np = new Map(node.trace ? node.trace.ports : []);
  const rp = new Map(rs.trace ? rs.trace.ports : []);
  const status = (r) => ({ code: r.code, signal: r.signal, timedOut: r.timedOut, printed: !!r.trace });
  if (JSON.stringify(status(node)) !== JSON.stringify(status(rs))) {
    diffs.push({ kind: 'exit', node: status(node), rs: status(rs), nodeSendAbort: nodeSendAbort.test(node.stderr) });
  }
  const crash = /panicked|FATAL ERROR|Assertion|Segmentation|SIGSEGV|SIGABRT|double free|corrupted/i;
  for (const r of [node, rs]) {
    if (crash.test(r.stderr)) diffs.push({ kind: 'crash-output', impl: r.impl, stderr: r.stderr.slice(0, 2000) });
  }
  if (!node.trace || !rs.trace) return diffs;
  const n = Math.max(node.trace.sync.length, rs.trace.sync.length);
  for (let k = 0; k < n; k++) {
    const a = node.trace.sync[k];
    const b = rs.trace.sync[k];
    const na = a && normalize(a[1], np);
    const nb = b && normalize(b[1], rp);
    if (JSON.stringify(na) !== JSON.stringify(nb)) {
      const i = (a || b)[0];
      const diff = { kind: 'sync', i, entry: byI.get(i), node: na, rs: nb };
      Object.defineProperty(diff, 'plan', { value: plan, enumerable: false });
      diffs.push(diff);
    }
  }
  // Asynchronous outcomes, after the plan and a final settle: each
  // socket's events in order ('listening', 'connect', 'close', 'error:CODE:
  // syscall'; not ICMP 'recvmsg' errors, whose timing varies), what each
  // callback was called with, and the uncaught exceptions (by message; not
  // the fuzz callbacks' own throws, which the callback results cover).
  const events = (t) => {
    const out = {};
    for (const [slot, list] of Object.entries(t.events)) out[slot] = list.filter((e) => !e.endsWith(':recvmsg')).join(' ');
    return out;
  };
  const ne = events(node.trace);
  const re = events(rs.trace);
  for (const slot of new Set([...Object.keys(ne), ...Object.keys(re)])) {
    if ((ne[slot] || '') !== (re[slot] || '')) {
      diffs.push({ kind: 'events', i: Number(slot), entry: byI.get(Number(slot)), node: ne[slot] || '', rs: re[slot] || '' });
    }
  }
  const results = (t, ports) => new Map(t.callbacks.map((c) => [`${c.i}/${c.arg}`, JSON.stringify(normalize(c.calls, ports))]));
  const nc = results(node.trace, np);
  const rc = results(rs.trace, rp);
  for (const key of new Set([...nc.keys(), ...rc.keys()])) {
    const i = Number(key.split('/')[0]);
    // createSocket's callback is a 'message' listener: how many datagrams
    // arrive from other sockets before they close is a matter of timing.
    if (byI.get(i) && byI.get(i).op === 'create') continue;
    if (nc.get(key) !== rc.get(key)) {
      const diff = { kind: 'callback', i, entry: byI.get(i), node: nc.get(key), rs: rc.get(key) };
      Object.defineProperty(diff, 'plan', { value: plan, enumerable: false });
      diffs.push(diff);
    }
  }
  const messages = (t) => t.uncaught.filter((u) => u.syscall !== 'recvmsg' && u.message !== 'message listener threw' && u.message !== 'callback threw').map((u) => (u.unhandledRejection ? `rejection: ${u.unhandledRejection.message}` : u.disposeRejected ? `dispose: ${u.disposeRejected.message}` : u.message)).sort();
  const nu = normalize(messages(node.trace), np);
  const ru = normalize(messages(rs.trace), rp);
  if (JSON.stringify(nu) !== JSON.stringify(ru)) {
    diffs.push({ kind: 'uncaught', node: nu, rs: ru });
  }
  // Callbacks: never more than once (send/bind/connect/close callbacks;
  // createSocket's callback is a 'message' listener and may run often).
  for (const t of [node.trace, rs.trace]) {
    for (const c of t.callbacks) {
      const e = byI.get(c.i);
      if (c.calls.length > 1 && e && e.op === 'call') {
        diffs.push({ kind: 'callback-called-twice', impl: t.impl, i: c.i, entry: e, calls: c.calls.length });
      }
    }
  }
  return diffs;
}

/**
 * Known differences (see DISCREPANCIES.md, "## Reliability"): synchronous
 * results that differ for a documented reason and do not change the
 * socket's state. (Known differences that would change the state are
 * masked in child.js instead, so later results stay comparable.)
 */
const KNOWN = [
  {
    id: 'N2',
    what: "node:dgram aborts (a C++ CHECK in UDPWrap::DoSend) when a custom lookup answers a send with a non-string address, which bindSync (Node 24.19+, 26.4+) makes reachable: it binds without a lookup, so the bind's EINVAL no longer stops the socket first. dgram-rs does not crash",
    test: (d) => (d.kind === 'exit' && d.nodeSendAbort) ||
      (d.kind === 'crash-output' && d.impl === 'node' && nodeSendAbort.test(d.stderr)),
  },
  {
    id: 'R14',
    what: 'getSendQueueSize/getSendQueueCount: what is still queued depends on timing (libuv queues, dgram-rs mostly writes at once)',
    test: (d) => d.kind === 'sync' && /^getSendQueue(Size|Count)$/.test(d.entry.method) && d.node.returned !== undefined && d.rs.returned !== undefined,
  },
  {
    id: 'R16',
    what: 'an udp6 socket bound as IPv4 by a membership call (IPv4 group): dgram-rs keeps using IPv6 option levels (ENOPROTOOPT)',
    test: (d) => d.kind === 'sync' && /^set(TTL|MulticastTTL|MulticastLoopback|Broadcast)$/.test(d.entry.method) &&
      d.node.returned !== undefined && d.rs.threw && d.rs.threw.code === 'ENOPROTOOPT',
  },
  {
    id: 'R5',
    what: 'connect() on a socket closed after binding: node:dgram throws a TypeError (null handle)',
    test: (d) => d.entry.method === 'connect' && d.node.threw && d.node.threw.name === 'TypeError' && !d.node.threw.code &&
      (d.rs.returned === '<undefined>' || (d.rs.threw && d.rs.threw.code === 'ERR_SOCKET_DGRAM_NOT_RUNNING')),
  },
  {
    id: 'R12',
    what: 'a pending ICMP error (connected socket): node:dgram may hand it to the next send callback, dgram-rs to its receive path (racy in both)',
    test: (d) => d.kind === 'callback' && d.entry && /^send(to)?$/.test(d.entry.method) &&
      /"code":"ECONNREFUSED"/.test(d.node) !== /"code":"ECONNREFUSED"/.test(d.rs || ''),
  },
  {
    id: 'R32',
    what: "a send refused with ENOBUFS waits, then disconnect(): libuv tries it again at its next loop turn, dgram-rs's drain thread at once, so what happens a tick or two later (address(): the port that try binds; close(): ECANCELED for what was not tried yet, or for a send queued behind it) can differ",
    test: (d, plan) => {
      if (!d.entry || !earlier(plan, d.entry, 'setSendBufferSize')) return false;
      if (d.kind === 'sync') {
        const ports = d.node.returned && d.rs.returned && [d.node.returned.port, d.rs.returned.port].sort().join();
        return d.entry.method === 'address' && earlier(plan, d.entry, 'disconnect') && ports === '0,PORT';
      }
      // A send queued behind the retried one: written on one side, still
      // queued when close() came on the other.
      const codes = (x) => (x === '[null]' ? 'sent' : (/"code":"(EDESTADDRREQ|ECANCELED)"/.exec(x || '') || [])[1]);
      return d.kind === 'callback' && /^send(to)?$/.test(d.entry.method) && plan.some((e) => e.slot === d.entry.slot && e.method === 'disconnect') &&
        codes(d.node) !== undefined && codes(d.rs) !== undefined && (codes(d.node) !== 'sent' || codes(d.rs) === 'ECANCELED');
    },
  },
  {
    id: 'R7',
    what: "bind({ fd }) with a Unix socket: node:dgram names the type 'PIPE', dgram-rs 'UNIX'",
    test: (d) => d.entry.method === 'bind' && d.node.threw && d.rs.threw && d.node.threw.code === 'ERR_INVALID_FD_TYPE' &&
      d.rs.threw.code === 'ERR_INVALID_FD_TYPE' && /PIPE$/.test(d.node.threw.message) && /UNIX$/.test(d.rs.threw.message),
  },
];

/** Whether the plan called `method` on `entry`'s socket before it. */
function earlier(plan, entry, method) {
  return Array.isArray(plan) && plan.some((e) => e.i < entry.i && e.slot === entry.slot && e.method === method);
}

/** The KNOWN entry a difference matches, if any. */
function known(d, plan) {
  if (d.kind === 'uncaught') return undefined;
  if (d.kind === 'exit' || d.kind === 'crash-output') return KNOWN.find((k) => k.id === 'N2' && k.test(d));
  if (d.kind === 'callback') return KNOWN.find((k) => ['R12', 'R32'].includes(k.id) && k.test(d, d.plan || plan));
  if (d.kind !== 'sync' || !d.entry || !d.node || !d.rs) return undefined;
  return KNOWN.find((k) => k.test(d, d.plan || plan));
}

/** A short, stable signature of a difference, for grouping. */
function signature(d) {
  if (d.kind === 'events' || d.kind === 'callback') {
    const m = d.entry ? (d.entry.op === 'create' ? d.entry.how : d.entry.method) : '?';
    return `${d.kind} (${m}): node ${String(d.node).slice(0, 80)} / rs ${String(d.rs).slice(0, 80)}`;
  }
  if (d.kind !== 'sync') return d.kind;
  const sum = (r) => (r.threw ? `threw ${r.threw.code || r.threw.name}` : r.returned !== undefined ? 'returned' : Object.keys(r)[0]);
  const m = d.entry ? (d.entry.op === 'create' ? d.entry.how : d.entry.method) : '?';
  return `${m}: node ${sum(d.node)} / rs ${sum(d.rs)}`;
}

async function fuzzSeed(seed, ops, opts = {}) {
  const args = ['--seed', String(seed), '--ops', String(ops), ...(opts.raw ? ['--raw'] : [])];
  // One after the other: the plans bind fixed ports (9, 65535, ...), which
  // two children running at once would fight over.
  const node = await runChild('node', args, opts);
  const rs = await runChild('rs', args, opts);
  const plan = generate(seed, ops);
  return { seed, ops, node, rs, plan, diffs: compareTraces(node, rs, plan) };
}

async function fuzzPlan(plan, opts = {}) {
  const fs = require('node:fs');
  const os = require('node:os');
  const file = path.join(os.tmpdir(), `dgram-fuzz-plan-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(plan));
  try {
    const node = await runChild('node', ['--plan', file], opts);
    const rs = await runChild('rs', ['--plan', file], opts);
    return { node, rs, plan, diffs: compareTraces(node, rs, plan) };
  } finally {
    fs.unlinkSync(file);
  }
}

/**
 * Shrinks a plan to the smallest prefix-respecting subset that still shows
 * a difference with the same signature (ddmin-style chunk removal).
 */
async function shrink(plan, target, { log = () => {}, budget = 80, ms = 60000 } = {}) {
  const sig = signature(target);
  const hasOp = target.i !== undefined && target.kind === 'sync';
  let current = hasOp ? plan.filter((e) => e.i <= target.i) : plan;
  let tries = 0;
  const keeps = async (candidate) => {
    if (hasOp && !candidate.some((e) => e.i === target.i)) return false;
    tries++;
    const r = await fuzzPlan(candidate, { ms });
    return r.diffs.some((d) => signature(d) === sig && (!hasOp || d.i === target.i));
  };
  let chunk = Math.max(1, Math.floor(current.length / 2));
  while (chunk >= 1 && tries < budget) {
    let removed = false;
    for (let start = 0; start < current.length && tries < budget; start += chunk) {
      const candidate = current.filter((e, k) => k < start || k >= start + chunk || (hasOp && e.i === target.i));
      if (candidate.length === current.length) continue;
      if (await keeps(candidate)) {
        current = candidate;
        removed = true;
        log(`  shrink: ${current.length} ops`);
        start -= chunk;
      }
    }
    if (!removed) chunk = Math.floor(chunk / 2);
  }
  return current;
}

/** A standalone script reproducing `plan` with `node repro.js <module>`. */
function renderRepro(plan, { title = '' } = {}) {
  const childSrc = require('node:fs').readFileSync(CHILD, 'utf8');
  const lookupPatch = childSrc.slice(childSrc.indexOf('const realLookup'), childSrc.indexOf('const impl = '));
  const lines = [
    "'use strict';",
    `// ${title}`,
    '// Run: node repro.js node:dgram   and   node repro.js /work/main',
    "const dns = require('node:dns');",
    "const net = require('node:net');",
    '// Deterministic lookups, as in the fuzzer: localhost is loopback, other names fail.',
    lookupPatch.trim(),
    'const dgram = require(process.argv[2]);',
    'const aborters = [];',
    'const ctx = {',
    "  fn: (kind) => function cb(err) { console.log('callback', err ? `${err.code} ${err.message}` : err); if (kind === 'throw') throw new Error('callback threw'); },",
    '  lookups: {',
    "    loopback: (h, f, cb) => cb(null, f === 6 ? '::1' : '127.0.0.1', f === 6 ? 6 : 4),",
    "    async: (h, f, cb) => process.nextTick(cb, null, f === 6 ? '::1' : '127.0.0.1', f === 6 ? 6 : 4),",
    "    error: (h, f, cb) => process.nextTick(cb, Object.assign(new Error(`lookup failed for ${h}`), { code: 'EFUZZ' })),",
    '    never: () => {},',
    "    slow: (h, f, cb) => setTimeout(cb, 5, null, f === 6 ? '::1' : '127.0.0.1', f === 6 ? 6 : 4),",
    "    throws: () => { throw new Error('lookup threw'); },",
    "    twice: (h, f, cb) => { cb(null, '127.0.0.1', 4); cb(null, '127.0.0.1', 4); },",
    '    weird: (h, f, cb) => cb(null, 12345, 4),',
    "    wrongFamily: (h, f, cb) => cb(null, f === 6 ? '127.0.0.1' : '::1', f === 6 ? 4 : 6),",
    '  },',
    '  port: (slot) => { try { return sockets[slot].address().port; } catch { return 9; } },',
    '  detached: () => { const u = new Uint8Array(8); structuredClone(u.buffer, { transfer: [u.buffer] }); return u; },',
    "  throwingGetters: () => ({ get port() { throw new Error('port getter threw'); }, get address() { throw new Error('address getter threw'); }, get type() { throw new Error('type getter threw'); }, get fd() { throw new Error('fd getter threw'); } }),",
    '  revokedProxy: () => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; },',
    '  abortAtSettle: () => { const c = new AbortController(); aborters.push(c); return c.signal; },',
    '};',
    'const sockets = {};',
    "const show = (label, fn) => { try { const v = fn(); console.log(label, '->', v instanceof dgram.Socket ? '<socket>' : v); } catch (e) { console.log(label, 'threw', e.name, e.code, e.message); } };",
    'const settle = () => new Promise((r) => setImmediate(() => setImmediate(() => setImmediate(r))));',
    'process.on(\'uncaughtException\', (e) => console.log(\'uncaught\', e.code, e.message));',
    '(async () => {',
  ];
  const SAFE_IFACES = ["'127.0.0.1'", "'::%lo'", "'abc'", "''", '42', "'1.2.3.4'"];
  const IFACE_POS = { addMembership: 1, dropMembership: 1, addSourceSpecificMembership: 2, dropSourceSpecificMembership: 2 };
  for (const e of plan) {
    if (e.op === 'settle') {
      lines.push('  await settle();');
      continue;
    }
    let args = e.args.map((a) => (a === 'IFACE' ? SAFE_IFACES[e.i % SAFE_IFACES.length] : a));
    const pos = IFACE_POS[e.method];
    if (pos !== undefined) {
      while (args.length <= pos) args.push('undefined');
      args[pos] = SAFE_IFACES[e.i % SAFE_IFACES.length];
    }
    // (The fuzzer maps non-loopback IP literals in send/sendto/connect to loopback.)
    if (e.method === 'send' || e.method === 'sendto' || e.method === 'connect') {
      args = args.map((a) => {
        const m = /^'(.*)'$/.exec(a);
        if (!m) return a;
        const fam = require('node:net').isIP(m[1]);
        return fam && !['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(m[1]) ? (fam === 6 ? "'::1'" : "'127.0.0.1'") : a;
      });
    }
    const list = args.join(', ');
    if (e.op === 'create') {
      const call = e.how === 'createSocket' ? `dgram.createSocket(${list})` : e.how === 'new' ? `new dgram.Socket(${list})` : `dgram.Socket(${list})`;
      lines.push(`  show('#${e.i} ${e.how}', () => { const s = ${call}; if (s instanceof dgram.Socket) { sockets[${e.i}] = s;${e.errorListener ? ` s.on('error', (err) => console.log('#${e.i} error event', err.code, err.message));` : ''} } return s; });`);
    } else if (e.method === 'asyncDispose') {
      lines.push(`  show('#${e.i} s${e.slot}[Symbol.asyncDispose]', () => sockets[${e.slot}] && sockets[${e.slot}][Symbol.asyncDispose](${list}));`);
    } else {
      lines.push(`  show('#${e.i} s${e.slot}.${e.method}', () => sockets[${e.slot}] && sockets[${e.slot}].${e.method}(${list}));`);
    }
  }
  lines.push('  await settle();');
  lines.push('  setTimeout(() => process.exit(0), 100);');
  lines.push('})();');
  return `${lines.join('\n')}\n`;
}

module.exports = { KNOWN, known, runChild, compareTraces, normalize, signature, fuzzSeed, fuzzPlan, shrink, renderRepro };
