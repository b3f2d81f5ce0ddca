#!/usr/bin/env node
'use strict';
// worker_threads storm: the addon loaded in 8 workers at once, each binding
// an udp4 and an udp6 socket and exchanging traffic with the main thread;
// the workers are terminated with their sockets open and traffic in flight,
// and the main thread must keep receiving. Repeated for --rounds rounds,
// then a worker that calls process.exit(3) and a worker whose 'message'
// listener throws (uncaught in the worker).
//
//   DGRAM=<module path or node:dgram> [MAIN_DGRAM=node:dgram] node bench/stress/worker-storm.js [--rounds 3] [--workers 8]
//
// Prints one line per step (deterministic, for comparison between
// implementations), and exits 0 when every step succeeded.

const { Worker } = require('node:worker_threads');

const DGRAM = process.env.DGRAM || require('node:path').join(__dirname, '..', '..');
process.env.DGRAM = DGRAM;
// The main thread's module: by default the same; MAIN_DGRAM=node:dgram
// makes the workers the only users of the addon (first loaded in a worker,
// unloaded with it).
const dgram = require(process.env.MAIN_DGRAM || DGRAM);

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
};
const ROUNDS = opt('rounds', 3);
const WORKERS = opt('workers', 8);

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require(process.env.DGRAM);
const { id, port4, port6, mode } = workerData;
const a = dgram.createSocket('udp4');
const b = dgram.createSocket('udp6');
let echoes = 0;
const onEcho = (m) => {
  if (mode === 'throw') throw new Error('listener boom in worker ' + id);
  if (++echoes === 1) parentPort.postMessage({ echo: id });
};
a.on('message', onEcho);
b.on('message', onEcho);
let n = 0;
a.bind(0, '127.0.0.1', () => b.bind(0, '::1', () => {
  b.connect(port6, '::1', () => {
    parentPort.postMessage({ ready: id });
    const flood = () => {
      for (let i = 0; i < 20; i++) {
        a.send('w' + id + ':' + n++, port4, '127.0.0.1');
        b.send('w' + id + ':' + n++);
      }
      if (mode === 'exit' && n > 400) process.exit(3);
      // A timer, not setImmediate: 8 workers spinning would starve the
      // 2-CPU machine (and the other tests) without adding coverage.
      setTimeout(flood, 1);
    };
    flood();
  });
}));
`;

function withTimeout(promise, ms, label) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function bound(type, host) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(type);
    s.once('error', reject);
    s.bind(0, host, () => resolve(s));
  });
}

async function main() {
  const rx4 = await bound('udp4', '127.0.0.1');
  const rx6 = await bound('udp6', '::1');
  let received = 0;
  let markers = 0;
  const echo = (sock) => (msg, rinfo) => {
    if (msg.toString() === 'MARKER') {
      markers++;
      return;
    }
    received++;
    // Echo every 2nd datagram back to the worker socket that sent it, so
    // that the workers are receiving hard when they are terminated.
    if (received % 2 === 0) sock.send('echo', rinfo.port, rinfo.address, () => {});
  };
  rx4.on('message', echo(rx4));
  rx6.on('message', echo(rx6));
  rx4.on('error', (err) => console.log('main rx4 error', err.code));
  rx6.on('error', () => { /* ICMP from terminated workers' ports, if any */ });
  const port4 = rx4.address().port;
  const port6 = rx6.address().port;

  async function stillReceives(label) {
    const before = markers;
    const s = await bound('udp4', '127.0.0.1');
    const timer = setInterval(() => s.send('MARKER', port4, '127.0.0.1'), 50);
    s.send('MARKER', port4, '127.0.0.1');
    try {
      await withTimeout(new Promise((resolve) => {
        const check = setInterval(() => {
          if (markers > before) {
            clearInterval(check);
            resolve();
          }
        }, 5);
      }), 5000, `${label}: marker`);
      console.log(`${label}: main thread still receives`);
    } finally {
      clearInterval(timer);
      s.close();
    }
  }

  function start(id, mode) {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { id, port4, port6, mode }, env: process.env });
    const state = { w, errors: [] };
    state.ready = new Promise((resolve) => w.on('message', (m) => { if (m.ready === id) resolve(); }));
    state.echoed = new Promise((resolve) => w.on('message', (m) => { if (m.echo === id) resolve(); }));
    state.exited = new Promise((resolve) => w.on('exit', resolve));
    w.on('error', (err) => state.errors.push(err.message));
    return state;
  }

  for (let round = 1; round <= ROUNDS; round++) {
    const before = received;
    const workers = Array.from({ length: WORKERS }, (_, i) => start(round * 100 + i));
    await withTimeout(Promise.all(workers.map((w) => w.echoed)), 30000, `round ${round}: echoes`);
    console.log(`round ${round}: ${WORKERS} workers exchanged traffic with the main thread: ${received > before}`);
    // Terminate them all at once, sockets open, traffic in flight.
    const codes = await withTimeout(Promise.all(workers.map((w) => w.w.terminate())), 15000, `round ${round}: terminate`);
    console.log(`round ${round}: terminated, exit codes ${[...new Set(codes)].join(',')}, errors ${workers.reduce((n, w) => n + w.errors.length, 0)}`);
    await stillReceives(`round ${round}`);
  }

  // A worker calling process.exit() with its sockets open and flooding.
  const ex = start(900, 'exit');
  const exitCode = await withTimeout(ex.exited, 15000, 'process.exit worker');
  console.log(`process.exit() in a worker: exit code ${exitCode}, errors ${ex.errors.length}`);
  await stillReceives('after process.exit() worker');

  // A worker whose 'message' listener throws: uncaught in the worker.
  const th = start(901, 'throw');
  const throwCode = await withTimeout(th.exited, 15000, 'throwing worker');
  console.log(`throwing listener in a worker: exit code ${throwCode}, error: ${th.errors[0]}`);
  await stillReceives('after throwing worker');

  rx4.close();
  rx6.close();
  console.log('done');
}

main().catch((err) => {
  console.log('FAILED', err.message);
  process.exitCode = 1;
});
