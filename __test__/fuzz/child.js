'use strict';

// Runs one fuzz plan against one implementation and prints its trace as
// one JSON line on stdout:
//
//   node __test__/fuzz/child.js <node|rs> --seed N --ops M
//   node __test__/fuzz/child.js <node|rs> --plan plan.json
//
// Network safety: every destination is loopback. dns.lookup is replaced
// (before the module under test is loaded, so dgram-rs sees it as the
// pristine lookup) by a deterministic one: 'localhost' is 127.0.0.1 / ::1,
// other host names fail with ENOTFOUND, IP literals go to the real lookup
// (which only echoes them). Send/sendto/connect arguments that are
// non-loopback IP literals are rewritten to loopback; multicast interface
// arguments are forced to loopback or invalid values; custom lookups only
// ever answer loopback.

const dns = require('node:dns');
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const { generate } = require('./gen.js');

const realLookup = dns.lookup;
dns.lookup = function fuzzLookup(hostname, options, callback) {
  const cb = typeof options === 'function' ? options : callback;
  const family = typeof options === 'number' ? options : options && typeof options === 'object' ? options.family : 0;
  if (typeof hostname === 'string' && hostname !== '' && net.isIP(hostname) === 0 && typeof cb === 'function') {
    if (hostname === 'localhost') {
      process.nextTick(cb, null, family === 6 ? '::1' : '127.0.0.1', family === 6 ? 6 : 4);
    } else {
      const err = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      Object.assign(err, { errno: -3008, code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname });
      process.nextTick(cb, err);
    }
    return {};
  }
  return realLookup.apply(this, arguments);
};

const impl = process.argv[2];
const argv = process.argv.slice(3);
// Masks: calls that hit a known, documented difference which would change
// the socket's state (and so make every later result differ) are skipped in
// both implementations. --raw runs them anyway.
const RAW = argv.includes('--raw');
// FUZZ_UNMASK=R1,R13 turns off single masks (by their DISCREPANCIES.md id).
const UNMASK = new Set((process.env.FUZZ_UNMASK || '').split(',').filter(Boolean));
const masking = (id) => !RAW && !UNMASK.has(id);
const opt = (name) => {
  const k = argv.indexOf(`--${name}`);
  return k === -1 ? undefined : argv[k + 1];
};
const dgram = require(impl === 'node' ? 'node:dgram' : path.join(__dirname, '..', '..'));
const plan = opt('plan') ? JSON.parse(fs.readFileSync(opt('plan'), 'utf8')) : generate(Number(opt('seed')), Number(opt('ops')));

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const SAFE_IFACES = ["'127.0.0.1'", "'::%lo'", "'abc'", "''", '42', "'1.2.3.4'"];
const IFACE_POS = { addMembership: 1, dropMembership: 1, addSourceSpecificMembership: 2, dropSourceSpecificMembership: 2 };

// ---------------------------------------------------------------------------
// What the trace records.

const sync = []; // one entry per op: [i, result]
const events = {}; // slot -> ['listening', 'close', 'error:CODE', ...] (in order)
const messages = {}; // slot -> count
const callbacks = []; // { i, arg, calls: [errShape|null...] }
const uncaught = [];
const extras = []; // results outside the comparison
const states = {}; // socket state -> calls made in it
const ports = new Map(); // port number -> label

function errShape(err) {
  if (!(err instanceof Error)) return { notAnError: describe(err) };
  const shape = { name: err.name, code: err.code, message: err.message, ctor: err.constructor && err.constructor.name };
  for (const k of ['errno', 'syscall', 'address', 'port']) if (k in err) shape[k] = describe(err[k]);
  return shape;
}

function describe(v, depth = 0) {
  try {
    return describeUnsafe(v, depth);
  } catch (err) {
    return `<describe threw ${err && err.message}>`;
  }
}

function describeUnsafe(v, depth) {
  switch (typeof v) {
    case 'undefined': return '<undefined>';
    case 'bigint': return `<bigint ${v}>`;
    case 'symbol': return `<${String(v)}>`;
    case 'function': return '<function>';
    case 'number': return Number.isNaN(v) || !Number.isFinite(v) || Object.is(v, -0) ? `<number ${Object.is(v, -0) ? '-0' : v}>` : v;
    case 'string': return v.length > 200 ? `<string ${v.length}: ${v.slice(0, 40)}…>` : v;
    case 'boolean': return v;
    default:
  }
  if (v === null) return null;
  if (v instanceof dgram.Socket) return '<socket>';
  if (Buffer.isBuffer(v)) return `<Buffer ${v.length}>`;
  if (depth > 1) return '<object>';
  try {
    if (Array.isArray(v)) return v.slice(0, 10).map((x) => describe(x, depth + 1));
    const out = {};
    for (const k of Object.keys(v).slice(0, 10)) out[k] = describe(v[k], depth + 1);
    return out;
  } catch (err) {
    return `<throws ${err && err.message}>`;
  }
}

process.on('uncaughtException', (err) => {
  uncaught.push(errShape(err));
});
process.on('unhandledRejection', (err) => {
  uncaught.push({ unhandledRejection: errShape(err) });
});

// ---------------------------------------------------------------------------
// The evaluation context of argument sources.

// Custom lookups still to answer: id -> when asked. A settle waits for
// those asked in the last LOOKUP_WAIT_MS only, so that one that never
// answers cannot make every later settle wait its whole deadline (and the
// run its 120 s limit: seeds 13033 and 14050 did, on both implementations,
// when the error lookup counted an answer before its message threw).
const pendingLookups = new Map();
const LOOKUP_WAIT_MS = 200;
let lookupIds = 0;
let current = { i: -1, arg: -1 };
const abortAtSettle = [];
const slots = new Map();

const done = (fn) => {
  const id = ++lookupIds;
  pendingLookups.set(id, Date.now());
  return (...a) => {
    pendingLookups.delete(id);
    fn(...a);
  };
};
const lookups = {
  loopback: (h, f, cb) => cb(null, f === 6 ? '::1' : '127.0.0.1', f === 6 ? 6 : 4),
  async: (h, f, cb) => { process.nextTick(done(cb), null, f === 6 ? '::1' : '127.0.0.1', f === 6 ? 6 : 4); },
  // (The error first: making its message can throw, e.g. for a view of a
  // detached ArrayBuffer as the host, and then no answer is pending.)
  error: (h, f, cb) => {
    const err = Object.assign(new Error(`lookup failed for ${h}`), { code: 'EFUZZ' });
    process.nextTick(done(cb), err);
  },
  never: () => {},
  slow: (h, f, cb) => { setTimeout(done(cb), 5, null, f === 6 ? '::1' : '127.0.0.1', f === 6 ? 6 : 4); },
  throws: () => { throw new Error('lookup threw'); },
  // A second answer for a connect() reaches the native connect twice,
  // which refuses it (EISCONN) on both (R8, fixed in session 10), and
  // both then call the connect callback a second time (with the error),
  // which the fuzzer reports as a callback called twice. So unless --raw,
  // only the bind wildcards ('0.0.0.0', '::') get two answers (connect()
  // never looks those up: the child maps them to loopback);
  // core-addresses.spec.js compares the connect case.
  twice: (h, f, cb) => {
    cb(null, '127.0.0.1', 4);
    if (!masking('R8') || h === '0.0.0.0' || h === '::') cb(null, '127.0.0.1', 4);
  },
  weird: (h, f, cb) => cb(null, 12345, 4),
  wrongFamily: (h, f, cb) => cb(null, f === 6 ? '127.0.0.1' : '::1', f === 6 ? 4 : 6),
};

const ctx = {
  lookups,
  fn(kind) {
    const rec = { i: current.i, arg: current.arg, calls: [] };
    callbacks.push(rec);
    // A function given to createSocket becomes a 'message' listener: how
    // often it runs depends on timing, so its throws are told apart.
    const what = plan.find((e) => e.i === rec.i);
    const message = what && what.op === 'create' ? 'message listener threw' : 'callback threw';
    return function fuzzCallback(err) {
      rec.calls.push(err instanceof Error ? errShape(err) : err === undefined || err === null ? null : describe(err));
      if (kind === 'throw') throw new Error(message);
    };
  },
  port(slot) {
    const s = slots.get(slot);
    try {
      return s ? s.address().port : 9;
    } catch {
      return 9;
    }
  },
  detached() {
    const u = new Uint8Array(8);
    structuredClone(u.buffer, { transfer: [u.buffer] });
    return u;
  },
  throwingGetters() {
    return {
      get port() { throw new Error('port getter threw'); },
      get address() { throw new Error('address getter threw'); },
      get type() { throw new Error('type getter threw'); },
      get fd() { throw new Error('fd getter threw'); },
    };
  },
  revokedProxy() {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  },
  abortAtSettle() {
    const c = new AbortController();
    abortAtSettle.push(c);
    return c.signal;
  },
};

const compiled = new Map();
function evaluate(src) {
  if (src === 'IFACE') src = SAFE_IFACES[current.i % SAFE_IFACES.length];
  let f = compiled.get(src);
  if (!f) {
    f = new Function('ctx', `return (${src});`);
    compiled.set(src, f);
  }
  return f(ctx);
}

function materialize(entry) {
  const args = [];
  for (let k = 0; k < entry.args.length; k++) {
    current = { i: entry.i, arg: k };
    let v = evaluate(entry.args[k]);
    if (entry.method === 'send' || entry.method === 'sendto' || entry.method === 'connect') {
      const family = typeof v === 'string' ? net.isIP(v) : 0;
      if (family !== 0 && !LOOPBACK.has(v)) v = family === 6 ? '::1' : '127.0.0.1';
    }
    args.push(v);
  }
  if (entry.method === 'send' || entry.method === 'sendto' || entry.method === 'connect') {
    // Belt and braces: nothing but loopback literals may reach a destination.
    for (const v of args) {
      if (typeof v === 'string' && net.isIP(v) !== 0 && !LOOPBACK.has(v)) {
        fs.writeSync(2, `fuzz child: non-loopback destination ${v} at #${entry.i}\n`);
        process.exit(71);
      }
    }
  }
  const pos = IFACE_POS[entry.method];
  if (pos !== undefined) {
    while (args.length <= pos) args.push(undefined);
    current = { i: entry.i, arg: pos };
    args[pos] = evaluate(SAFE_IFACES[entry.i % SAFE_IFACES.length]);
  }
  return args;
}

function instrument(s, slot, errorListener) {
  const log = (e) => (events[slot] || (events[slot] = [])).push(e);
  s.on('listening', () => {
    log('listening');
    try {
      const { port } = s.address();
      if (!ports.has(port)) ports.set(port, `P${slot}`);
    } catch { /* closed meanwhile */ }
  });
  s.on('close', () => log('close'));
  s.on('connect', () => log('connect'));
  s.on('message', () => { messages[slot] = (messages[slot] || 0) + 1; });
  if (errorListener) s.on('error', (err) => log(`error:${err.code}:${err.syscall}`));
}

function run(entry) {
  let args;
  try {
    args = materialize(entry);
  } catch (err) {
    return { argsThrew: errShape(err) };
  }
  let createMask = null;
  if (entry.op === 'create' && !RAW) createMask = mask(entry, null, args);
  try {
    if (entry.op === 'create') {
      let s;
      if (entry.how === 'createSocket') s = dgram.createSocket(...args);
      else if (entry.how === 'new') s = new dgram.Socket(...args);
      else s = dgram.Socket(...args);
      if (s instanceof dgram.Socket) {
        slots.set(entry.i, s);
        instrument(s, entry.i, entry.errorListener);
        return createMask ? { returned: '<socket>', masked: createMask } : { returned: '<socket>' };
      }
      return { returned: describe(s) };
    }
    const s = slots.get(entry.slot);
    if (!s) return { noSocket: true };
    const st = stateOf(s);
    states[st] = (states[st] || 0) + 1;
    const masked = RAW ? null : mask(entry, s, args);
    if (masked) return { skipped: masked };
    let value;
    // node:dgram aborts the process on setRecvBufferSize(-0) (its check
    // `size >>> 0 !== size` lets -0 through to a C++ IsUint32() assertion).
    // Run it only on dgram-rs, outside the comparison.
    if (/^set(Recv|Send)BufferSize$/.test(entry.method) && Object.is(args[0], -0)) {
      if (impl === 'rs') {
        try {
          extras.push([entry.i, { returned: describe(s[entry.method](...args)) }]);
        } catch (err) {
          extras.push([entry.i, { threw: errShape(err) }]);
        }
      }
      return { skipped: 'node:dgram aborts on -0 buffer sizes' };
    }
    if (entry.method === 'asyncDispose') {
      const p = s[Symbol.asyncDispose] ? s[Symbol.asyncDispose](...args) : undefined;
      if (p && typeof p.then === 'function') p.catch((err) => uncaught.push({ disposeRejected: errShape(err) }));
      value = p && typeof p.then === 'function' ? '<promise>' : p;
    } else {
      value = s[entry.method](...args);
    }
    return { returned: value === s ? '<this>' : describe(value) };
  } catch (err) {
    return { threw: errShape(err) };
  }
}

// See DISCREPANCIES.md, "## Reliability" (R-numbers).
function bindState(s) {
  try {
    return state(s).bindState;
  } catch {
    return -1;
  }
}

// The socket's state object: node:dgram's 'state symbol', dgram-rs's
// 'kState' (the DEP0112 getters are gone from Node 25).
function state(s) {
  return s[Object.getOwnPropertySymbols(s).find((k) => k.description === 'state symbol' || k.description === 'kState')];
}

function isDetached(v) {
  if (!ArrayBuffer.isView(v)) return false;
  try {
    Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return false;
  } catch {
    return true;
  }
}

/** unbound / binding / bound / connected / closed (for coverage counts). */
function stateOf(s) {
  try {
    if (!state(s).handle) return 'closed';
    const b = bindState(s);
    if (b !== 2) return b === 1 ? 'binding' : 'unbound';
    try {
      s.remoteAddress();
      return 'connected';
    } catch {
      return 'bound';
    }
  } catch {
    return 'unknown';
  }
}

function mask(entry, s, args) {
  const why = maskReason(entry, s, args);
  return why && masking(why.slice(0, why.search(/[: ]/))) ? why : null;
}

function maskReason(entry, s, args) {
  // (R1, R3, R4 were masked here until 655637b fixed them.)
  if (entry.op === 'create') return null;
  // (R13, R17, bind ports that node:dgram converts its own way, were
  // masked here until index.js's nativePort() matched it.)
  // (R9, views of detached ArrayBuffers in send(), was masked here until
  // index.js's fixBufferList made Node's new Buffer per list piece.)
  return null;
}

async function settle() {
  for (let k = 0; k < 3; k++) await new Promise((resolve) => setImmediate(resolve));
  const start = Date.now();
  const deadline = start + LOOKUP_WAIT_MS;
  const waiting = () => [...pendingLookups.values()].some((asked) => asked > start - LOOKUP_WAIT_MS);
  while (waiting() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
  for (let k = 0; k < 2; k++) await new Promise((resolve) => setImmediate(resolve));
  if (abortAtSettle.length) {
    for (const c of abortAtSettle.splice(0)) c.abort();
    for (let k = 0; k < 2; k++) await new Promise((resolve) => setImmediate(resolve));
  }
}

async function main() {
  const progress = process.env.FUZZ_PROGRESS === '1';
  for (const entry of plan) {
    if (progress) fs.writeSync(2, `#${entry.i} ${entry.op === 'call' ? `s${entry.slot}.${entry.method}` : entry.op}\n`);
    if (entry.op === 'settle') {
      await settle();
      continue;
    }
    sync.push([entry.i, run(entry)]);
  }
  if (progress) fs.writeSync(2, 'final settle\n');
  await settle();
  if (progress) fs.writeSync(2, 'closing all\n');
  // Close what is still open; then give callbacks and events a moment.
  for (const s of slots.values()) {
    try { s.close(); } catch { /* closed or queued */ }
  }
  if (progress) fs.writeSync(2, 'settle after close\n');
  await settle();
  if (progress) fs.writeSync(2, 'last wait\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const out = { impl, sync, events, messages, callbacks, uncaught, extras, states, ports: [...ports] };
  fs.writeSync(1, `${JSON.stringify(out)}\n`);
  process.exit(0);
}

main().catch((err) => {
  fs.writeSync(2, `fuzz child failed: ${err && err.stack}\n`);
  process.exit(70);
});
