#!/usr/bin/env node
'use strict';
// Are sockets dropped without close() garbage-collected? Run with
// --expose-gc:
//
//   node --expose-gc bench/stress/dropped-sockets.js <node|rs> [count] [wait-ms]
//
// Creates `count` sockets of each kind below, drops every reference, and
// observes their collection with a FinalizationRegistry (gc() and event
// loop turns, for up to wait-ms, default 3000, per kind). Prints one JSON line:
// { impl, kinds: { <kind>: { created, collected } }, fds: { before, after } }.
//
// Kinds:
//   unbound          createSocket('udp4'/'udp6') and nothing else
//   unbound-listen   the same with 'message'/'error' listeners and unref()
//   unbound-options  createSocket({ type, lookup, recvBufferSize, reuseAddr })
//   closed           bound, then closed (awaited 'close'), then dropped
//   bound-dropped    bound and dropped without close() (an active handle in
//                    node: not expected to be collected; closed at the end)

const path = require('node:path');

const impl = process.argv[2] || 'rs';
const count = Number(process.argv[3] || 200);
const waitMs = Number(process.argv[4] || 3000);
const dgram = require(impl === 'node' ? 'node:dgram' : path.join(__dirname, '..', '..'));

if (typeof global.gc !== 'function') {
  console.error('run with --expose-gc');
  process.exit(2);
}

const { fdCount } = require('./process-counts.js');
const turn = () => new Promise((resolve) => setImmediate(resolve));
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const collected = {};
const registry = new FinalizationRegistry((kind) => {
  collected[kind] = (collected[kind] || 0) + 1;
});

async function waitCollected(kind, n, ms = waitMs) {
  const deadline = Date.now() + ms;
  while ((collected[kind] || 0) < n && Date.now() < deadline) {
    global.gc();
    await turn();
    await delay(10);
  }
  return collected[kind] || 0;
}

function bindAsync(s, host) {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, resolve);
  });
}

const makers = {
  unbound(i) {
    return dgram.createSocket(i % 2 ? 'udp6' : 'udp4');
  },
  'unbound-listen'(i) {
    const s = dgram.createSocket(i % 2 ? 'udp6' : 'udp4', () => {});
    s.on('error', () => {});
    s.unref();
    return s;
  },
  'unbound-options'(i) {
    return dgram.createSocket({
      type: i % 2 ? 'udp6' : 'udp4',
      lookup: (host, family, cb) => cb(null, i % 2 ? '::1' : '127.0.0.1', i % 2 ? 6 : 4),
      recvBufferSize: 65536,
      reuseAddr: true,
    });
  },
  async closed(i) {
    const s = dgram.createSocket(i % 2 ? 'udp6' : 'udp4');
    await bindAsync(s, i % 2 ? '::1' : '127.0.0.1');
    await new Promise((resolve) => s.close(resolve));
    return s;
  },
};

async function main() {
  const fdsBefore = fdCount();
  const kinds = {};
  for (const [kind, make] of Object.entries(makers)) {
    // Created inside a function so no reference outlives it.
    await (async () => {
      for (let i = 0; i < count; i++) registry.register(await make(i), kind);
    })();
    kinds[kind] = { created: count, collected: await waitCollected(kind, count) };
  }
  // Bound and dropped: kept alive while open (like an active handle);
  // remembered weakly so they can be closed at the end.
  const bound = [];
  await (async () => {
    for (let i = 0; i < 20; i++) {
      const s = dgram.createSocket('udp4');
      await bindAsync(s, '127.0.0.1');
      s.unref();
      registry.register(s, 'bound-dropped');
      bound.push(new WeakRef(s));
    }
  })();
  kinds['bound-dropped'] = { created: 20, collected: await waitCollected('bound-dropped', 20, Math.min(waitMs, 1000)) };
  for (const w of bound) {
    const s = w.deref();
    if (s) s.close();
  }
  await delay(50);
  console.log(JSON.stringify({ impl, kinds, fds: { before: fdsBefore, after: fdCount() } }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
