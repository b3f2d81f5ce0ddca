'use strict';

// The native handle (reachable as the deprecated `socket._handle`) must not
// crash whatever JS runs while it reads its arguments. sendMany() reads two
// arrays; an element getter of the second one used to run after the first
// one's bytes were borrowed, so detaching (and collecting) their buffer
// left the native side reading freed memory: a segfault (session 13).

const test = require('ava');
const { ROOT, runProcess } = require('./helpers.js');

const SCRIPT = `
const dgram = require(${JSON.stringify(ROOT)});
const tx = dgram.createSocket('udp4');
tx.bind(0, '127.0.0.1', () => {
  const port = tx.address().port;
  let ab = new ArrayBuffer(8 << 20); // large: its memory is returned to the OS when freed
  const data = [new Uint8Array(ab, 0, 1000), new Uint8Array(ab, 1000, 1000)];
  const addresses = [];
  Object.defineProperty(addresses, 0, { enumerable: true, get() {
    structuredClone(ab, { transfer: [ab] }); // detaches ab
    ab = null;
    for (let i = 0; i < 5; i++) globalThis.gc();
    return '127.0.0.1';
  } });
  addresses[1] = '127.0.0.1';
  const results = new Int32Array(2);
  const h = Object.getOwnPropertySymbols(tx).map((k) => tx[k]).find((s) => s && s.handle).handle;
  h.sendMany(data, new Uint32Array([port, port]), new Uint32Array([0, 0]), addresses, results);
  console.log('results', Array.from(results).join(','));
  tx.close();
});`;

test('sendMany: a getter that detaches the data buffers while the addresses are read does not crash', async (t) => {
  const r = await runProcess(process.execPath, ['--expose-gc', '-e', SCRIPT], { ms: 15000 });
  t.is(r.signal, null, r.stderr);
  t.is(r.code, 0, r.stderr);
  // The buffers were detached before any byte was read: empty datagrams.
  t.is(r.stdout, 'results 0,0\n');
});
