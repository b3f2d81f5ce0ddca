'use strict';

// Reliability: a process the OS refuses new threads (RLIMIT_NPROC reached,
// a pids cgroup full). node:dgram needs no thread of its own; dgram-rs
// starts its runtime thread when a socket gets busy (read-ahead) and then
// carries on without it on the JS loop. Before session 13 tokio's panic
// ("OS can't spawn worker thread") escaped from the libuv poll callback and
// aborted the process.
//
// RLIMIT_NPROC counts the threads of a user and does not hold for root, so
// the scenario runs as an unprivileged user (setpriv, which needs root).

const { spawnSync } = require('node:child_process');
const test = require('ava');
const { ROOT, runProcess } = require('./helpers.js');

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

function unavailable() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (to run a child as another user)';
  const r = spawnSync('setpriv', [...NOBODY, 'prlimit', '--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || r.status !== 0) return `setpriv/prlimit unavailable: ${r.error ? r.error.message : r.stderr.trim()}`;
  return null;
}

// Binds, limits its own threads to those it has, then takes a burst large
// enough for read-ahead (dgram-rs) and a second one after it.
const SCRIPT = `
const dgram = require(process.env.DGRAM);
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const threads = () => Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const rx = dgram.createSocket('udp4');
const tx = dgram.createSocket('udp4');
let got = 0;
let rounds = 0;
function burst() {
  for (let i = 0; i < 150; i++) tx.send(Buffer.alloc(100), rx.address().port, '127.0.0.1');
  tx.send('end', rx.address().port, '127.0.0.1');
}
rx.on('message', (msg) => {
  got++;
  if (String(msg) !== 'end') return;
  if (++rounds === 1) return burst();
  console.log('two bursts received:', got > 2);
  rx.close();
  tx.close();
});
rx.bind(0, '127.0.0.1', () => tx.bind(0, '127.0.0.1', () => {
  execFileSync('prlimit', ['--pid', String(process.pid), '--nproc=' + threads() + ':' + threads()]);
  burst();
}));`;

/** Runs `script` with node:dgram (`impl` 'node') or dgram-rs, as nobody. */
function runAsNobody(impl, nodeArgs, script) {
  return runProcess('setpriv', [...NOBODY, process.execPath, ...nodeArgs, '-e', script], {
    env: { DGRAM: impl === 'node' ? 'node:dgram' : ROOT },
    ms: 20000,
  });
}

const why = unavailable();
const limitTest = why ? test.skip : test;
if (why) console.log(`[reliability-thread-limit] skipped: ${why}`);

limitTest('no thread to be had: busy sockets stay on the JS loop, no abort, as node:dgram', async (t) => {
  const run = (impl) => runAsNobody(impl, [], SCRIPT);
  const node = await run('node');
  const rs = await run('rs');
  t.is(node.stdout, 'two bursts received: true\n', node.stderr);
  t.is(rs.stdout, node.stdout, rs.stderr);
  t.is(rs.code, 0, rs.stderr);
  t.is(rs.stderr, '');
});

// A send the kernel refuses for now waits on a thread (with
// --test-udp-no-try-send every send does): without one it fails with
// EAGAIN in its callback (node:dgram, which needs no thread, sends it), and
// the socket sends again once threads are to be had (README, Known
// differences).
const SEND_SCRIPT = `
const dgram = require(process.env.DGRAM);
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const threads = () => Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
// Lifts the limit later without a new thread of ours (exec only).
const lifter = spawn('sh', ['-c', 'read x; exec prlimit --pid ' + process.pid + ' --nproc=4096'], { stdio: ['pipe', 'inherit', 'inherit'] });
const rx = dgram.createSocket('udp4');
const tx = dgram.createSocket('udp4');
let got = 0;
let expected = Infinity; // datagrams to wait for, once every callback came
function check() {
  if (got < expected) return;
  expected = Infinity;
  console.log('later sends received, queue', tx.getSendQueueCount());
  rx.close();
  tx.close();
}
rx.on('message', () => { got++; check(); });
rx.bind(0, '127.0.0.1', () => tx.bind(0, '127.0.0.1', () => {
  const port = rx.address().port;
  execFileSync('prlimit', ['--pid', String(process.pid), '--nproc=' + (threads() + 1) + ':4096']); // +1: the lifter
  let firstSent = false;
  tx.send('first', port, '127.0.0.1', (err) => {
    firstSent = !err;
    console.log('limited:', err ? err.code + ' ' + err.syscall : 'sent');
    lifter.stdin.write('go\\n');
  });
  lifter.on('exit', () => {
    let left = 3;
    for (let i = 0; i < 3; i++) {
      tx.send('later', port, '127.0.0.1', (err) => {
        if (err) console.log('later:', err.code);
        if (--left === 0) {
          expected = (firstSent ? 1 : 0) + 3;
          check();
        }
      });
    }
  });
}));`;

limitTest('no thread to be had: a queued send fails with EAGAIN (node sends it), later ones go out', async (t) => {
  const run = (impl) => runAsNobody(impl, ['--test-udp-no-try-send'], SEND_SCRIPT);
  const node = await run('node');
  const rs = await run('rs');
  t.is(node.stdout, 'limited: sent\nlater sends received, queue 0\n', node.stderr);
  t.is(rs.stdout, 'limited: EAGAIN send\nlater sends received, queue 0\n', rs.stderr);
  t.is(rs.code, 0, rs.stderr);
});

// The runtime already runs (a socket reads ahead) when the limit is
// reached; then a send the kernel refuses for now is queued and needs the
// runtime's first blocking thread. tokio panics in that case (and prints
// its message) after queueing the task: the OS is asked first now, and the
// send fails with EAGAIN, as in the test above, with nothing printed and
// no drain run later.
const BUSY_THEN_SEND_SCRIPT = `
const dgram = require(process.env.DGRAM);
const feeder = require('node:dgram').createSocket('udp4'); // the reference, as a peer
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const threads = () => Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const rx = dgram.createSocket('udp4');
const tx = dgram.createSocket('udp4');
rx.on('message', (msg) => {
  if (String(msg) !== 'end') return;
  execFileSync('prlimit', ['--pid', String(process.pid), '--nproc=' + threads() + ':' + threads()]);
  tx.send('first', rx.address().port, '127.0.0.1', (err) => {
    console.log('limited:', err ? err.code + ' ' + err.syscall : 'sent');
    rx.close();
    tx.close();
    feeder.close();
  });
});
rx.bind(0, '127.0.0.1', () => tx.bind(0, '127.0.0.1', () => {
  for (let i = 0; i < 150; i++) feeder.send(Buffer.alloc(100), rx.address().port, '127.0.0.1');
  feeder.send('end', rx.address().port, '127.0.0.1');
}));`;

limitTest('threads refused while the runtime reads ahead: a queued send fails with EAGAIN (node sends it), nothing printed', async (t) => {
  const run = (impl) => runAsNobody(impl, ['--test-udp-no-try-send'], BUSY_THEN_SEND_SCRIPT);
  const node = await run('node');
  const rs = await run('rs');
  t.is(node.stdout, 'limited: sent\n', node.stderr);
  t.is(rs.stdout, 'limited: EAGAIN send\n', rs.stderr);
  t.is(rs.code, 0, rs.stderr);
  t.is(rs.stderr, '');
});

// Signals sent to the process reach Node's own threads: dgram-rs's
// threads (the runtime's, started by a burst for read-ahead; a send
// drain's) block them, so that no handler runs on a thread of ours.
// Faults stay deliverable.
test('dgram-rs threads block the signals sent to the process (faults excepted)', async (t) => {
  if (process.platform !== 'linux') return t.pass('reads /proc');
  const script = `
const dgram = require(process.env.DGRAM);
const fs = require('node:fs');
const rx = dgram.createSocket('udp4');
const tx = dgram.createSocket('udp4');
let got = 0;
rx.on('message', () => {
  if (++got !== 5000) return;
  const ours = fs.readdirSync('/proc/self/task')
    .map((tid) => ({ tid, name: fs.readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim() }))
    .filter((th) => th.name.startsWith('dgram-rs'));
  const masks = ours.map((th) => /SigBlk:\\s+([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/task/' + th.tid + '/status', 'utf8'))[1]);
  console.log(JSON.stringify({ threads: ours.map((th) => th.name), masks }));
  rx.close();
  tx.close();
});
rx.bind(0, '127.0.0.1', () => {
  rx.setRecvBufferSize(8 << 20);
  for (let i = 0; i < 5000; i++) tx.send(Buffer.alloc(100), rx.address().port, '127.0.0.1');
});`;
  const r = await runProcess(process.execPath, ['-e', script], { env: { DGRAM: ROOT }, ms: 20000 });
  t.is(r.code, 0, r.stderr);
  const { threads, masks } = JSON.parse(r.stdout);
  t.true(threads.includes('dgram-rs-io'), `the burst started the runtime: ${threads}`);
  const bit = (mask, signal) => (BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n;
  const { constants: { signals } } = require('node:os');
  for (const mask of masks) {
    for (const s of ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGCHLD', 'SIGWINCH']) {
      t.is(bit(mask, signals[s]), 1n, `${s} blocked (SigBlk ${mask})`);
    }
    for (const s of ['SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL']) t.is(bit(mask, signals[s]), 0n, `${s} deliverable`);
  }
});
