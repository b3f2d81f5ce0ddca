'use strict';

// Shared helpers for the parity suites: every scenario is run against the
// real node:dgram and against dgram-rs, records an observable trace, and the
// two traces are compared with t.deepEqual. Loopback addresses and ephemeral
// ports only.

const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { closedLowPort } = require('./fixtures/low-port.js');

const ROOT = path.join(__dirname, '..');

// The loopback interface's name, for IPv6 zones (`::%lo`): Linux's lo,
// macOS's lo0 (the interface holding 127.0.0.1). libuv on Windows reads a
// zone as a number, so any name is scope 0 there: 'lo' as before.
const LOOPBACK_IF = process.platform === 'win32'
  ? 'lo'
  : (Object.entries(os.networkInterfaces()).find(([, addrs]) => addrs.some((a) => a.address === '127.0.0.1')) || ['lo'])[0];

const impls = {
  node: require('node:dgram'),
  rs: require(ROOT),
};

/** Rejects with a labelled error when `promise` does not settle within `ms`. */
function withTimeout(promise, ms = 3000, label = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the arguments of the next `event` (bounded). */
function once(emitter, event, ms = 3000) {
  return withTimeout(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), ms, `'${event}'`);
}

/** Resolves after the current tick's nextTick queue and microtasks drained. */
function tick() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Waits for `n` turns of the event loop (setImmediate each). */
async function ticks(n) {
  for (let i = 0; i < n; i++) await tick();
}

/**
 * A plain-data description of an error, with all the properties Node's own
 * tests (and users) look at.
 */
// A socket's state (bindState, receiving, handle, queue, reuseAddr):
// node:dgram and dgram-rs keep it under a symbol described 'state symbol'
// (dgram-rs's was 'kState' before session 10).
// Tests read it here rather than through the DEP0112 getters (`_bindState`,
// `_handle`, …), which Node 25 removed.
function internals(socket) {
  const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'state symbol' || k.description === 'kState');
  return socket[key];
}

function errShape(err) {
  if (err === null) return null;
  if (err === undefined) return undefined;
  if (!(err instanceof Error)) return { notAnError: typeof err, value: String(err) };
  const shape = {
    ctor: err.constructor && err.constructor.name,
    isTypeError: err instanceof TypeError,
    isRangeError: err instanceof RangeError,
    name: err.name,
    code: err.code,
    message: err.message,
    string: String(err),
    stackHead: typeof err.stack === 'string' ? err.stack.split('\n')[0] : typeof err.stack,
    keys: Object.keys(err).sort(),
  };
  for (const key of ['errno', 'syscall', 'address', 'port', 'info', 'hostname']) {
    if (key in err) shape[key] = err[key];
  }
  return shape;
}

/** Calls fn and describes what happened: a thrown error or the return value. */
function capture(fn, self) {
  try {
    const value = fn();
    return { returned: describeValue(value, self) };
  } catch (err) {
    return { threw: errShape(err) };
  }
}

function describeValue(value, self) {
  if (self !== undefined && value === self) return 'this';
  if (value === undefined) return 'undefined';
  if (Buffer.isBuffer(value)) return { buffer: value.toString('hex') };
  return value;
}

/**
 * Port labelling: ephemeral port numbers differ between runs, so a trace
 * registers each port it learns (`reg(port, 'server')`) and, at the end,
 * every `port` property holding a registered number becomes 'PORT:server'
 * and every `:<port>` inside a string becomes ':PORT:server'. Any other
 * positive `port` property becomes 'PORT' (an unregistered ephemeral port),
 * so 0 / negative / non-number values stay visible.
 *
 * The kernel may hand a closed socket's port to the next socket of the same
 * scenario, on one implementation's run and not the other's. Registering a
 * port again under a new name therefore first fixes the names in the events
 * recorded so far, then lets the new name apply to what follows.
 */
function makeTrace() {
  const events = [];
  const ports = new Map();
  const trace = {
    events,
    push(...items) {
      for (const item of items) events.push(item);
    },
    reg(port, name) {
      if (typeof port !== 'number' || port <= 0) return port;
      if (ports.has(port) && ports.get(port) !== name) {
        events.splice(0, events.length, ...normalize(events, ports, undefined, true));
      }
      ports.set(port, name);
      return port;
    },
    result() {
      return normalize(events, ports);
    },
  };
  return trace;
}

// `known` only rewrites registered ports and leaves every other value as it
// is (used when a port is registered again; the final pass does the rest).
function normalize(value, ports, key, known = false) {
  if (Array.isArray(value)) return value.map((v) => normalize(v, ports, undefined, known));
  if (Buffer.isBuffer(value)) return { buffer: value.toString('hex') };
  if (value && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value)) out[k] = normalize(value[k], ports, k, known);
    return out;
  }
  if (typeof value === 'number' && (key === 'port' || key === 'localPort' || key === 'remotePort')) {
    if (ports.has(value)) return `PORT:${ports.get(value)}`;
    if (!known && Number.isInteger(value) && value > 0) return 'PORT';
    return value;
  }
  if (typeof value === 'string' && ports.size > 0) {
    return value.replace(/:(\d{1,5})\b/g, (m, digits) => {
      const n = Number(digits);
      return ports.has(n) ? `:PORT:${ports.get(n)}` : m;
    });
  }
  return value;
}

/**
 * Runs `scenario(dgram, trace)` on node:dgram then on dgram-rs and asserts the
 * two normalised traces are equal. Returns both traces (so a test can add
 * sanity assertions that make sure the scenario actually did something).
 */
async function runBoth(t, scenario, ms) {
  const results = {};
  for (const name of ['node', 'rs']) {
    const trace = makeTrace();
    const { dgram, cleanup } = tracked(impls[name]);
    try {
      await withTimeout(Promise.resolve(scenario(dgram, trace, name)), ms, `${name} scenario`);
    } catch (err) {
      trace.push({ scenarioFailed: errShape(err) });
    } finally {
      cleanup();
    }
    results[name] = trace.result();
  }
  // A scenario that fails on node:dgram itself is a broken test, not a
  // parity result: say so instead of comparing two identical failures.
  const nodeFailure = results.node.find((e) => e && typeof e === 'object' && 'scenarioFailed' in e);
  if (nodeFailure) t.fail(`scenario failed on node:dgram: ${JSON.stringify(nodeFailure.scenarioFailed.message)}`);
  return results;
}

async function parity(t, scenario, { ms = 15000 } = {}) {
  const results = await runBoth(t, scenario, ms);
  t.deepEqual(results.rs, results.node);
  return results;
}

/**
 * A documented difference from node:dgram (README, "Known differences"):
 * runs the scenario on both and checks each against its own expected trace,
 * so the test fails if either side changes behaviour.
 */
async function documentedDifference(t, scenario, expected, { ms = 15000 } = {}) {
  const results = await runBoth(t, scenario, ms);
  t.deepEqual(results.node, expected.node, 'node:dgram');
  t.deepEqual(results.rs, expected.rs, 'dgram-rs');
  return results;
}

/**
 * A view of a dgram module whose createSocket() remembers every socket, so a
 * scenario that fails or times out cannot leave a socket keeping the test
 * process alive: cleanup() closes (and unrefs) whatever is still open.
 */
function tracked(dgram) {
  const sockets = [];
  const closeCalled = new WeakSet();
  const track = (s) => {
    // Remember whether the scenario called close(): a second close() while
    // an implicit bind is pending is queued and throws later, uncaught.
    // (Non-enumerable, so Object.keys(socket) is unchanged.)
    const close = s.close;
    Object.defineProperty(s, 'close', {
      value: function (...args) {
        closeCalled.add(s);
        return close.apply(this, args);
      },
      enumerable: false,
      configurable: true,
      writable: true,
    });
    sockets.push(s);
    return s;
  };
  const wrapped = {
    ...dgram,
    createSocket: (...args) => track(dgram.createSocket(...args)),
    Socket: dgram.Socket,
    track,
  };
  const cleanup = () => {
    for (const s of sockets) {
      try { s.unref(); } catch { /* closed */ }
      if (closeCalled.has(s)) continue;
      try { s.close(); } catch { /* closed */ }
    }
  };
  return { dgram: wrapped, cleanup };
}

/**
 * Closes every socket given that is still open; ignores already-closed ones.
 * Resolves once all of them emitted 'close'.
 */
function closeAll(...sockets) {
  return Promise.all(
    sockets.flat().map((s) => new Promise((resolve) => {
      try {
        s.close(resolve);
      } catch {
        resolve();
      }
    })),
  );
}

/** Creates and binds a socket on loopback; resolves with it once listening. */
async function boundSocket(dgram, type = 'udp4', address) {
  const sock = dgram.createSocket(type);
  const host = address || (type === 'udp4' ? '127.0.0.1' : '::1');
  await withTimeout(new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, host, () => {
      sock.removeListener('error', reject);
      resolve();
    });
  }), 3000, 'bind');
  return sock;
}

/**
 * Records every 'message' of `sock` (only those `accept(msg, rinfo)`
 * takes, if given); wait(n) resolves once n have arrived (bounded), with
 * the list of { msg, rinfo }.
 */
function collect(sock, accept = undefined) {
  const msgs = [];
  let waiter = null;
  sock.on('message', (msg, rinfo) => {
    if (accept !== undefined && !accept(msg, rinfo)) return;
    msgs.push({ msg, rinfo });
    if (waiter && msgs.length >= waiter.n) waiter.resolve(msgs);
  });
  return {
    msgs,
    wait(n, ms = 3000) {
      if (msgs.length >= n) return Promise.resolve(msgs);
      return withTimeout(new Promise((resolve) => { waiter = { n, resolve }; }), ms, `${n} messages (got ${msgs.length})`);
    },
  };
}

/**
 * Proves that nothing else is on its way to `inbox`'s socket: sends a
 * 'FENCE' datagram from a fresh node:dgram socket to `port` and waits for it.
 * On loopback a datagram is queued on the receiver during sendto(), so
 * anything sent before the fence has arrived once the fence has. Returns the
 * messages (as strings) received before the fence, and drops the fence.
 */
async function fence(inbox, port, host = '127.0.0.1') {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  const sock = impls.node.createSocket(type);
  const before = inbox.msgs.length;
  await new Promise((resolve) => sock.send('FENCE', port, host, resolve));
  await new Promise((resolve) => sock.close(resolve));
  const deadline = Date.now() + 3000;
  for (;;) {
    const idx = inbox.msgs.findIndex((m, i) => i >= before && m.msg.toString() === 'FENCE');
    if (idx !== -1) {
      inbox.msgs.splice(idx, 1);
      break;
    }
    if (Date.now() > deadline) throw new Error('fence datagram never arrived');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return inbox.msgs.map((m) => m.msg.toString());
}

/** Resolves after `ms` milliseconds (only to prove that something did NOT happen). */
function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A loopback port that nothing listens on (see fixtures/low-port.js). */
function closedPort(type = 'udp4') {
  return closedLowPort(impls.node, type);
}

/**
 * Runs a script in a child node process (with DGRAM set to the module path to
 * test) and resolves with { code, signal, stdout, stderr, timedOut, ms }.
 * The child is killed (by its pid) if it outlives `ms`.
 */
// Child processes are slow to start when many run at once (2 CPUs, gVisor):
// at most this many at a time, so their own timeouts measure the child and
// not the queue.
const MAX_CHILDREN = 4;
let runningChildren = 0;
const childQueue = [];

async function runChild(script, opts = {}) {
  if (runningChildren >= MAX_CHILDREN) await new Promise((resolve) => childQueue.push(resolve));
  runningChildren++;
  try {
    return await spawnChild(script, opts);
  } finally {
    runningChildren--;
    const next = childQueue.shift();
    if (next) next();
  }
}

/**
 * Spawns `cmd args` and resolves with { code, signal, stdout, stderr,
 * timedOut, ms }. The child (and only it) is killed after `ms`.
 */
function runProcess(cmd, args, { env = {}, ms = 8000, cwd = ROOT } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, ms);
    const done = (code, signal, extra = '') => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr: stderr + extra, timedOut, ms: Date.now() - started });
    };
    child.on('error', (err) => done(null, null, String(err)));
    child.on('close', (code, signal) => done(code, signal));
  });
}

function spawnChild(script, { impl = 'node', ms = 5000, args = [], env = {} } = {}) {
  const modulePath = impl === 'node' ? 'node:dgram' : ROOT;
  return runProcess(process.execPath, ['-e', script, ...args], { env: { ...env, DGRAM: modulePath }, ms });
}

/**
 * Runs the same child script with node:dgram and dgram-rs; asserts equal
 * exit code/signal/stdout/stderr/timeout status. Returns both results.
 * `opts.stderr(text)` may reduce stderr first (stack traces name different
 * files: keep the lines that matter, e.g. with uncaughtSummary).
 */
async function childParity(t, script, opts = {}) {
  const [node, rs] = await Promise.all([runChild(script, { ...opts, impl: 'node' }), runChild(script, { ...opts, impl: 'rs' })]);
  const view = (r) => ({
    code: r.code,
    signal: r.signal,
    timedOut: r.timedOut,
    stdout: r.stdout.replace(/\b\d{4,5}\b/g, 'N'),
    stderr: opts.stderr ? opts.stderr(r.stderr) : r.stderr,
  });
  t.deepEqual(view(rs), view(node));
  return { node, rs };
}

/**
 * The part of an uncaught-exception report that does not depend on the
 * implementation's file layout: the error header line and the printed
 * properties (`{ code: ... }`), without the stack frames and source excerpt.
 */
function uncaughtSummary(stderr) {
  const lines = stderr.split(/\r?\n/); // node.exe writes CRLF
  const header = lines.find((l) => /^[A-Za-z]*Error\b|^Error \[|^\w+Error \[/.test(l)) || '';
  const props = lines.filter((l) => /^ {2}[a-z]\w*: /.test(l)).map((l) => l.trim());
  return { header, props, nodeVersionLine: lines.some((l) => l.startsWith('Node.js v')) };
}

module.exports = {
  LOOPBACK_IF,
  runBoth,
  internals,
  uncaughtSummary,
  ROOT,
  impls,
  withTimeout,
  once,
  tick,
  ticks,
  errShape,
  capture,
  describeValue,
  makeTrace,
  normalize,
  parity,
  documentedDifference,
  tracked,
  closeAll,
  boundSocket,
  closedPort,
  collect,
  delay,
  fence,
  runChild,
  runProcess,
  childParity,
};
