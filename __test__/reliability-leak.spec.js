'use strict';

// Reliability: no descriptor or memory leaks when sockets are churned, and
// sockets dropped without close() are collectable when nothing keeps them.
// Each measurement runs in its own child process (with --expose-gc), so the
// test runner's own sockets and heap do not blur the numbers. The long runs
// are `node bench/stress/churn-leak.js` (N = 100,000) and
// `node --expose-gc bench/stress/dropped-sockets.js <impl>`.

const path = require('node:path');
const { spawn } = require('node:child_process');
const test = require('ava');
const { runChild, fmt } = require('../bench/stress/churn-leak.js');
const { ROOT, runProcess } = require('./helpers.js');

const STRESS = path.join(__dirname, '..', 'bench', 'stress');

function runScript(args, ms) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test.serial('churn 5,000 sockets (udp4/udp6, connected or not, one send+receive each): fds return to the start, RSS bounded', async (t) => {
  t.timeout(90000);
  const args = ['--n', '5000', '--concurrency', '16', '--rss-limit-mb', '48'];
  const node = await runChild('node', args, 60000);
  const rs = await runChild('rs', args, 60000);
  t.log(fmt(node));
  t.log(fmt(rs));
  // Descriptors are counted on Linux and macOS, threads on Linux
  // (bench/stress/process-counts.js; null elsewhere).
  if (process.platform === 'linux' || process.platform === 'darwin') {
    t.is(node.fdLeak, 0, 'node:dgram: descriptors back to the start');
    t.is(rs.fdLeak, 0, `dgram-rs: descriptors ${rs.before.fds} -> ${rs.after.fds}`);
  }
  t.true(rs.rssGrowthMb < 48, `dgram-rs RSS grew by ${rs.rssGrowthMb} MB`);
  t.true(rs.heapGrowthMb < 8, `dgram-rs JS heap grew by ${rs.heapGrowthMb} MB`);
  if (process.platform === 'linux') t.is(rs.after.threads, rs.before.threads, 'no threads left behind');
  t.true(rs.lost <= 5, `${rs.lost} datagrams lost on loopback`);
});

test.serial('sockets dropped without close(): unbound and closed ones are collected (FinalizationRegistry)', async (t) => {
  t.timeout(60000);
  const rsRun = await runScript(['--expose-gc', path.join(STRESS, 'dropped-sockets.js'), 'rs', '200', '3000'], 30000);
  t.is(rsRun.code, 0, rsRun.stderr);
  const nodeRun = await runScript(['--expose-gc', path.join(STRESS, 'dropped-sockets.js'), 'node', '200', '500'], 30000);
  t.is(nodeRun.code, 0, nodeRun.stderr);
  const rs = JSON.parse(rsRun.stdout);
  const node = JSON.parse(nodeRun.stdout);
  t.log('node:dgram', JSON.stringify(node.kinds));
  t.log('dgram-rs  ', JSON.stringify(rs.kinds));
  for (const kind of ['unbound', 'unbound-listen', 'unbound-options', 'closed']) {
    t.is(rs.kinds[kind].collected, rs.kinds[kind].created, `dgram-rs: every '${kind}' socket collected`);
  }
  // node:dgram itself never frees a dropped unbound socket (its UDP handle
  // is a strong handle until closed); closed ones it does.
  t.is(node.kinds.closed.collected, node.kinds.closed.created);
  // A bound socket is an active handle: never collected while open.
  t.is(rs.kinds['bound-dropped'].collected, 0);
  t.is(node.kinds['bound-dropped'].collected, 0);
});

// The runtime thread (read-ahead, queued sends) and its reactor's
// descriptors exist only while a socket that used them is open: once every
// socket is closed, threads and descriptors are back where they were before
// the first socket, as with node:dgram (which has no thread of its own).
// Until session 13 the runtime, once started, stayed: +1 thread, +3 fds.
const RUNTIME_SCRIPT = `
const dgram = require(process.env.DGRAM);
const fs = require('node:fs');
const threads = () => Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const fds = () => fs.readdirSync('/proc/self/fd').length;
void process.stderr; // made before counting: its stream over a pipe holds a descriptor
const before = [threads(), fds()];
const rx = dgram.createSocket('udp4');
const tx = dgram.createSocket('udp4');
let received = 0;
rx.on('message', () => { received++; });
rx.bind(0, '127.0.0.1', () => tx.bind(0, '127.0.0.1', () => {
  for (let i = 0; i < 200; i++) tx.send(Buffer.alloc(64), rx.address().port, '127.0.0.1');
  process.nextTick(() => { // after the sends' lookup step: written, or queued
    const queued = tx.getSendQueueCount() > 0;
    const end = Date.now() + 20; while (Date.now() < end); // the burst waits in the kernel
    rx.on('message', function closeAll(msg) {
      if (String(msg) !== 'last') return;
      if (process.env.DGRAM !== 'node:dgram') process.stderr.write(JSON.stringify(require(process.env.DGRAM + '/binding.js').receiveStats()));
      rx.close();
      tx.close(() => {
        const deadline = Date.now() + 5000;
        (function settle() {
          const now = [threads() - before[0], fds() - before[1]];
          if ((now[0] === 0 && now[1] === 0) || Date.now() > deadline) console.log(JSON.stringify({ queued, received: received > 100, left: now }));
          else setImmediate(settle);
        })();
      });
    });
    tx.send('last', rx.address().port, '127.0.0.1');
  });
}));`;

// Threads and descriptors are counted in /proc: Linux only.
const linuxSerial = process.platform === 'linux' ? test.serial : test.serial.skip;
for (const [name, flags] of [['a burst read ahead', []], ['sends queued (--test-udp-no-try-send) and a burst', ['--test-udp-no-try-send']]]) {
  linuxSerial(`after ${name}, closing every socket leaves no thread or descriptor behind (as node:dgram)`, async (t) => {
    const run = (impl) => runProcess(process.execPath, [...flags, '-e', RUNTIME_SCRIPT], { env: { DGRAM: impl === 'node' ? 'node:dgram' : ROOT }, ms: 20000 });
    const node = await run('node');
    const rs = await run('rs');
    t.is(node.code, 0, node.stderr);
    t.is(rs.code, 0, rs.stderr);
    t.is(node.stdout, `{"queued":${flags.length > 0},"received":true,"left":[0,0]}\n`);
    t.is(rs.stdout, node.stdout);
    const stats = JSON.parse(rs.stderr);
    t.true(stats.readAheads > 0, `the runtime ran (read-ahead): ${rs.stderr}`);
  });
}

// A module registry reset (jest does one per test file) loads index.js
// again over the same addon: a copy no longer required, whose sockets are
// closed, must be collectable, as node:dgram's module would be. Each copy
// binds, receives and closes; only the copy still in require.cache stays.
test('copies of index.js loaded again after a registry reset are collected once their sockets are closed', async (t) => {
  const r = await runProcess(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'reloaded-copies.js')], { ms: 20000 });
  t.is(r.stderr, '');
  t.is(r.stdout.trim(), 'collected collected collected alive');
});

// A closed socket whose object is still reachable (or simply not collected
// yet) holds no native socket state: a process that opens and closes many
// sockets keeps ~600 bytes less per socket between collections. (dgram-rs
// only: node:dgram's handles are C++ objects that JS cannot count.)
test('closed sockets hold no native socket state while their objects wait to be collected', async (t) => {
  const r = await runProcess(process.execPath, [path.join(__dirname, 'fixtures', 'closed-socket-states.js')], { ms: 20000 });
  t.is(r.stderr, '');
  const { start, end, kept, idsLost } = JSON.parse(r.stdout);
  t.is(kept, 60);
  t.is(idsLost, 0, 'getAsyncId() after close() answers as before');
  t.is(start, 1, 'only the closed stand-in before');
  t.is(end, start, 'every closed socket let go of its state');
});
