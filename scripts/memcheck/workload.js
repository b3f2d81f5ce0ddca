'use strict';
// The workload scripts/memcheck.sh runs under valgrind: every place where
// the addon's native memory changes hands (poll reads, the runtime's
// read-ahead and its hand-back, a close in the middle of a batch, sends the
// kernel refuses for now and their drain, GSO/GRO between two dgram-rs
// sockets, worker environments torn down with sockets open, the process
// exiting with one open). It prints one line per step; the script judges
// valgrind's log, not this output. Loopback only, bounded in count.

const assert = require('node:assert');
const { once } = require('node:events');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const dgram = require('../..');

async function bound(type, address, options = {}) {
  const sock = dgram.createSocket({ type, ...options });
  sock.bind(0, address);
  await once(sock, 'listening');
  return sock;
}

// Counts a socket's datagrams; `reached(n)` resolves once n have come.
function counter(sock, counts = () => true) {
  let got = 0;
  const waiting = [];
  sock.on('message', (msg) => {
    if (!counts(msg)) return;
    got++;
    for (const w of waiting.filter((w) => w.n <= got)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    get got() {
      return got;
    },
    reached(n) {
      return got >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }));
    },
  };
}

// A sender's bursts of datagrams of varied sizes (each its own packet, no
// GSO), all written in one tick: a read that finds a full batch waiting
// hands reading to the runtime (read-ahead), which hands it back when JS
// has caught up. `closeAt` closes the receiver from its listener, in the
// middle of a batch.
async function readAhead(rounds, closeAt) {
  const receiver = await bound('udp4', '127.0.0.1');
  const sender = dgram.createSocket('udp4');
  const port = receiver.address().port;
  const count = counter(receiver);
  if (closeAt) count.reached(closeAt).then(() => receiver.close());
  for (let r = 1; r <= rounds; r++) {
    for (let i = 0; i < 100; i++) sender.send(Buffer.alloc(64 + (i % 300)), port, '127.0.0.1');
    if (closeAt && closeAt <= r * 100) break;
    await count.reached(r * 100);
  }
  if (closeAt) await once(receiver, 'close');
  else receiver.close();
  sender.close();
  return count.got;
}

// Sends the kernel refuses for now (a small send buffer) wait on the
// runtime; close() settles the ones still queued.
async function queuedSends() {
  const receiver = await bound('udp4', '127.0.0.1');
  const sender = dgram.createSocket({ type: 'udp4', sendBufferSize: 4096 });
  sender.connect(receiver.address().port, '127.0.0.1');
  await once(sender, 'connect');
  const results = [];
  const all = [];
  for (let i = 0; i < 200; i++) {
    all.push(new Promise((resolve) => sender.send(Buffer.alloc(1400), (err) => resolve(results.push(err ? err.code : 'ok')))));
  }
  await Promise.all(all.slice(0, 20));
  const queued = sender.getSendQueueCount();
  sender.close();
  receiver.close();
  await Promise.all(all);
  return `${results.length} (${queued} queued at close: ${results.filter((r) => r === 'ECANCELED').length} cancelled)`;
}

// Between two dgram-rs sockets equal-size sends travel as GSO segments and
// arrive coalesced (GRO); IPv6 for the other address family's paths.
async function batched(rounds) {
  const receiver = await bound('udp6', '::1');
  const sender = dgram.createSocket('udp6');
  const port = receiver.address().port;
  const count = counter(receiver);
  for (let r = 1; r <= rounds; r++) {
    for (let i = 0; i < 50; i++) sender.send(Buffer.alloc(1000, i), port, '::1');
    await count.reached(r * 50);
  }
  sender.close();
  receiver.close();
  return count.got;
}

// A worker whose sockets are receiving and sending when it is terminated.
function workerMain() {
  (async () => {
    const receiver = await bound('udp4', '127.0.0.1');
    const sender = dgram.createSocket('udp4');
    const port = receiver.address().port;
    receiver.on('message', () => {});
    let announced = false;
    const blast = () => {
      for (let i = 0; i < 64; i++) sender.send('x', port, '127.0.0.1');
      if (!announced) {
        announced = true;
        parentPort.postMessage('up');
      }
      setImmediate(blast);
    };
    if (workerData.exitAfterClose) {
      // Closed in the tick the worker ends: the sockets' close completes
      // during the environment's teardown.
      receiver.close();
      sender.close();
      process.exit(0);
    }
    if (workerData.idle) parentPort.postMessage('up');
    else blast();
  })();
}

async function terminatedWorker(idle, turns) {
  const worker = new Worker(__filename, { workerData: { idle } });
  await once(worker, 'message');
  for (let i = 0; i < turns; i++) await new Promise(setImmediate);
  await worker.terminate();
}

async function main() {
  console.log('bursts received:', await readAhead(10));
  console.log('received before a close in a batch:', await readAhead(3, 137));
  console.log('queued sends settled:', await queuedSends());
  console.log('batched received:', await batched(6));
  console.log('paths:', JSON.stringify(require('../../binding.js').receiveStats()));
  for (const [idle, turns] of [[true, 0], [false, 0], [false, 3], [false, 20]]) {
    await terminatedWorker(idle, turns);
  }
  console.log('workers terminated: 4');
  await once(new Worker(__filename, { workerData: { exitAfterClose: true } }), 'exit');
  console.log('worker exited in the tick it closed its sockets');
  // The process exits with a socket open and a datagram just received.
  const last = await bound('udp4', '127.0.0.1');
  const peer = dgram.createSocket('udp4');
  last.on('message', () => process.exit(0));
  peer.send('bye', last.address().port, '127.0.0.1');
}

if (isMainThread) {
  // Every step waits for datagrams to arrive: should one never come (a
  // machine with a much smaller receive buffer), fail rather than hang.
  setTimeout(() => {
    console.error('memcheck workload: not done after 5 minutes');
    process.exit(2);
  }, 300_000).unref();
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  assert.ok(workerData);
  workerMain();
}
