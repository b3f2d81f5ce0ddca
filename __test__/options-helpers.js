'use strict';

// Helpers for the options-* and multicast-* parity suites (socket options,
// multicast, buffer sizes, createSocket options, bind({ fd }), deprecated
// accessors, cluster). The generic machinery (parity, capture, errShape,
// childParity...) lives in helpers.js; this file only adds what these suites
// need on top of it. Loopback only: multicast always goes out through
// 127.0.0.1; broadcast only inside a private network namespace.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { spawnSync } = require('node:child_process');

const { ROOT, boundSocket, capture, errShape, runProcess, internals } = require('./helpers.js');

// Multicast groups used by the suites: administratively scoped (239/8) and
// source-specific (232/8). Sockets only ever join them on 127.0.0.1.
const GROUP = '239.255.77.1';
const SSM_GROUP = '232.1.1.1';
const LO = '127.0.0.1';

/** Records `{ [label]: { returned } | { threw } }` for fn() in the trace. */
function rec(tr, label, fn, self) {
  const r = capture(fn, self);
  tr.push({ [label]: r });
  return r;
}

/**
 * util.inspect(err) without the stack frames (they name the implementation's
 * files): the header line, the properties and the `info` block.
 */
function inspectNoStack(err) {
  return util
    .inspect(err)
    .split('\n')
    .filter((l) => !/^\s+at /.test(l))
    .join('\n');
}

/** Like capture() but describes a thrown error with inspectNoStack too. */
function captureInspect(fn) {
  try {
    return { returned: fn() };
  } catch (err) {
    return { threw: errShape(err), inspect: inspectNoStack(err) };
  }
}

// ---------------------------------------------------------------------------
// Child processes

// Child processes: helpers.js's runProcess.
const spawnP = runProcess;

/** The module path a child should require for an implementation name. */
function modulePath(impl) {
  return impl === 'node' ? 'node:dgram' : ROOT;
}

let scratchDir;
/** A per-process scratch directory for child scripts (removed on exit). */
function scratch() {
  if (!scratchDir) {
    scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dgram-rs-options-'));
    process.once('exit', () => fs.rmSync(scratchDir, { recursive: true, force: true }));
  }
  return scratchDir;
}

/** Writes `source` to a scratch file and returns its path. */
function scriptFile(name, source) {
  const file = path.join(scratch(), name);
  fs.writeFileSync(file, source);
  return file;
}

/** Runs a node script file with DGRAM set to the implementation's module. */
function runNode(file, impl, { args = [], env = {}, ms } = {}) {
  return spawnP(process.execPath, [file, ...args], { env: { DGRAM: modulePath(impl), ...env }, ms });
}

// ---------------------------------------------------------------------------
// bind({ fd }): an inherited UDP descriptor that no Node socket owns.
//
// python3 creates the socket, binds it to loopback, makes it fd 3
// (inheritable) and execs node, so the child's `bind({ fd: 3 })` wraps a
// descriptor that nothing else in that process uses.

const PY_WRAP = `
import os, socket, sys
family = socket.AF_INET6 if sys.argv[1] == '6' else socket.AF_INET
kind = socket.SOCK_STREAM if sys.argv[2] == 'tcp' else socket.SOCK_DGRAM
s = socket.socket(family, kind)
s.bind(('::1' if family == socket.AF_INET6 else '127.0.0.1', 0))
if kind == socket.SOCK_STREAM:
    s.listen(1)
if sys.argv[2] == 'udp-connected':
    s.connect(s.getsockname()[:2])
fd = s.detach()
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.set_inheritable(3, True)
os.execv(sys.argv[3], sys.argv[3:])
`;

let pythonChecked;
/** The python3 executable, or null when there is none. */
function python() {
  if (pythonChecked === undefined) {
    const r = spawnSync('python3', ['-c', 'import socket, os; print("ok")'], { encoding: 'utf8', timeout: 5000 });
    pythonChecked = r.status === 0 && r.stdout.trim() === 'ok' ? 'python3' : null;
  }
  return pythonChecked;
}

/**
 * Runs `file` under node with a fresh loopback socket as fd 3.
 * family: '4' | '6'; kind: 'udp' | 'tcp' | 'udp-connected' (connected to
 * its own address).
 */
function runWithInheritedFd(file, impl, { family = '4', kind = 'udp', ms = 8000, env = {} } = {}) {
  return spawnP(python(), ['-c', PY_WRAP, family, kind, process.execPath, file], {
    env: { ...env, DGRAM: modulePath(impl) },
    ms,
  });
}

// ---------------------------------------------------------------------------
// A private network namespace (unshare -rn): its own loopback, nothing else,
// so broadcast cannot leave it.

let netnsChecked;
/** Why a private network namespace cannot be made here, or null if it can. */
function netnsUnavailable() {
  if (netnsChecked === undefined) {
    const r = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && ip route show table local'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    if (r.error) netnsChecked = `unshare not usable: ${r.error.message}`;
    else if (r.status !== 0) netnsChecked = `unshare -rn failed (${r.status}): ${String(r.stderr).trim()}`;
    else if (!r.stdout.includes('broadcast 127.255.255.255')) netnsChecked = 'no loopback broadcast route in the namespace';
    else netnsChecked = null;
  }
  return netnsChecked;
}

/** Runs a node script file inside a fresh `unshare -rn` namespace with lo up. */
function runInNetns(file, impl, { ms = 8000, env = {} } = {}) {
  return spawnP('unshare', ['-rn', 'sh', '-c', `${NETNS_SETUP} && exec "$0" "$1"`, process.execPath, file], {
    env: { DGRAM: modulePath(impl), ...env },
    ms,
  });
}

// Inside the namespace, multicast routes point at lo, so joins that name no
// interface (the kernel picks one by route) stay on lo too.
const NETNS_SETUP = [
  'ip link set lo up',
  'ip route add 224.0.0.0/4 dev lo',
  'ip -6 route add ff00::/8 dev lo table local',
].join(' && ');

/**
 * parity() for scenarios that must run inside a private network namespace
 * (broadcast; multicast joins that name no interface, which on the host
 * would pick a real interface). `scenario` is serialised with toString(), so
 * it may only use its arguments: (dgram, tr, h) where h has everything
 * helpers.js and options-helpers.js export. Each implementation runs in its
 * own `unshare -rn` child (after the shell commands in `setup`, if any); the
 * two normalised traces are compared, or, for a documented difference, each
 * is compared with its own trace in `expect: { node, rs }`.
 */
async function netnsParity(t, scenario, { ms = 8000, setup = '', expect } = {}) {
  const file = scriptFile(
    `netns-${process.pid}-${Math.random().toString(36).slice(2)}.js`,
    `'use strict';
process.noDeprecation = true;
const H = require(${JSON.stringify(path.join(__dirname, 'helpers.js'))});
const O = require(${JSON.stringify(__filename)});
const h = { ...H, ...O };
const scenario = (${scenario.toString()});
(async () => {
  const tr = H.makeTrace();
  const { dgram, cleanup } = H.tracked(require(process.env.DGRAM));
  try {
    await H.withTimeout(Promise.resolve(scenario(dgram, tr, h)), ${ms - 2000}, 'scenario');
  } catch (err) {
    tr.push({ scenarioFailed: H.errShape(err) });
  } finally {
    cleanup();
  }
  process.stdout.write(JSON.stringify(tr.result()) + '\\n');
})();
`,
  );
  const results = {};
  for (const impl of ['node', 'rs']) {
    // `setup`: more shell commands for the namespace (e.g. a tc qdisc).
    const prepare = setup ? `${NETNS_SETUP} && ${setup}` : NETNS_SETUP;
    const r = await spawnP('unshare', ['-rn', 'sh', '-c', `${prepare} && exec "$0" "$1"`, process.execPath, file], {
      env: { DGRAM: modulePath(impl) },
      ms,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('['));
    results[impl] = line ? JSON.parse(line) : [{ childFailed: { code: r.code, signal: r.signal, timedOut: r.timedOut, stderr: r.stderr.slice(0, 2000) } }];
  }
  const nodeFailure = results.node.find((e) => e && typeof e === 'object' && ('scenarioFailed' in e || 'childFailed' in e));
  if (nodeFailure) t.fail(`scenario failed on node:dgram: ${JSON.stringify(nodeFailure)}`);
  if (expect) {
    // A documented difference: each side against its own expected trace.
    t.deepEqual(results.node, expect.node, 'node:dgram');
    t.deepEqual(results.rs, expect.rs, 'dgram-rs');
  } else {
    t.deepEqual(results.rs, results.node);
  }
  return results;
}

/**
 * `test`, or `test.skip` (with the reason printed) when no private network
 * namespace can be made here.
 */
function netnsTest(test) {
  const why = netnsUnavailable();
  if (!why) return test;
  console.log(`[options-helpers] skipping network-namespace tests: ${why}`);
  return test.skip;
}

/** Replaces every 4–5 digit number (ports, pids) with N. */
function scrubNumbers(text) {
  return text.replace(/\b\d{4,5}\b/g, 'N');
}

/** A child result reduced to what two implementations should share. */
function childView(r, { stderr = (s) => s } = {}) {
  return {
    code: r.code,
    signal: r.signal,
    timedOut: r.timedOut,
    stdout: scrubNumbers(r.stdout),
    stderr: stderr(scrubNumbers(r.stderr)),
  };
}

/** Parses the JSON lines a child printed. */
function jsonLines(stdout) {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{') || l.startsWith('['))
    .map((l) => JSON.parse(l));
}

// For scenarios in a namespace whose lo is rate limited (netnsParity's
// `setup`): a receiver and a sender with a small send buffer, both on
// 127.0.0.1, whose sends queue once lo holds a few KB of them.
async function senderAndReceiver(dgram, tr) {
  const r = await boundSocket(dgram, 'udp4', '127.0.0.1');
  const port = tr.reg(r.address().port, 'receiver');
  const s = await boundSocket(dgram, 'udp4', '127.0.0.1');
  tr.reg(s.address().port, 'sender');
  s.setSendBufferSize(4096);
  return { r, port, s };
}

// Keeps this thread busy until `s`'s send queue is written (at most `ms`):
// dgram-rs writes it on another thread, node:dgram on this one (so nothing
// moves there). Returns whether the queue was seen empty.
// Busy-waits (the JS thread never yields) until the socket's queued sends
// are written, for at most `ms`. dgram-rs's drain thread writes them
// meanwhile (its handle's unwrittenSends() tells); node:dgram writes only
// from its event loop, so there nothing is written and this returns false.
// getSendQueueCount() cannot tell: it counts a send until its callback ran.
function busyUntilWritten(s, ms) {
  const { handle } = internals(s);
  const unwritten = typeof handle.unwrittenSends === 'function'
    ? () => handle.unwrittenSends()
    : () => s.getSendQueueCount();
  const until = Date.now() + ms;
  while (unwritten() !== 0 && Date.now() < until);
  return unwritten() === 0;
}

module.exports = {
  GROUP,
  SSM_GROUP,
  LO,
  rec,
  inspectNoStack,
  captureInspect,
  spawnP,
  modulePath,
  scriptFile,
  runNode,
  python,
  runWithInheritedFd,
  netnsUnavailable,
  runInNetns,
  netnsParity,
  netnsTest,
  senderAndReceiver,
  busyUntilWritten,
  scrubNumbers,
  childView,
  jsonLines,
};
