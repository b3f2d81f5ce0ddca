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

// The handle class is JS (lib/udp-handle.js) over native functions that
// take the instance's number first (src/sys/napi.rs `class`): its method
// list must match the native one, and the native functions must refuse
// anything but the number of one of our live instances.
test('the handle class forwards every native method, and the native functions refuse foreign values', (t) => {
  const dgram = require('..');
  const { udpParts } = require('../lib/native.js');
  const parts = udpParts();
  const sock = dgram.createSocket('udp4');
  // The socket's state holds its handle (`_handle` is gone on Node 26+).
  const handle = Object.getOwnPropertySymbols(sock).map((k) => sock[k]).find((s) => s && s.handle).handle;
  const proto = Object.getPrototypeOf(handle);
  const own = Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor' && typeof Object.getOwnPropertyDescriptor(proto, n).value === 'function');
  t.deepEqual(own.sort(), Object.keys(parts.methods).sort());
  t.deepEqual(Object.keys(parts.getters), ['fd']);
  // Numbers no instance has: not integral, not positive, never issued.
  for (const bad of [undefined, null, {}, 0, -1, 1.5, NaN, 2 ** 52, 'x', handle, Buffer.alloc(8)]) {
    t.throws(() => parts.methods.getAsyncId(bad), { instanceOf: TypeError, message: 'Illegal invocation' });
    t.throws(() => parts.methods.send.call(handle, bad, Buffer.alloc(1), 9, '127.0.0.1'), { instanceOf: TypeError });
  }
  t.throws(() => parts.methods.close(), { instanceOf: TypeError, message: 'Illegal invocation' });
  // A method of the class called on another object: a TypeError, not a crash.
  t.throws(() => proto.bind.call({}, '127.0.0.1', 0, 0), { instanceOf: TypeError });
  t.throws(() => proto.getsockname.call(Object.create(proto)), { instanceOf: TypeError });
  sock.close();
});

test('address() and remoteAddress() of IPv4 sockets: the same objects as node:dgram', async (t) => {
  const dgram = require('..');
  const nodeDgram = require('node:dgram');
  const run = async (impl) => {
    const out = [];
    for (const addr of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '0.0.0.0']) {
      const s = impl.createSocket('udp4');
      await new Promise((resolve) => s.bind(0, addr, resolve));
      const a = s.address();
      out.push([JSON.stringify({ ...a, port: a.port > 0 }), Object.keys(a), a.port === s.address().port]);
      s.connect(65535, '127.0.0.9');
      await new Promise((resolve) => s.once('connect', resolve));
      out.push(JSON.stringify(s.remoteAddress()));
      await new Promise((resolve) => s.close(resolve));
    }
    return out;
  };
  const rs = await run(dgram);
  t.deepEqual(rs, await run(nodeDgram));
  t.is(rs[0][0], '{"address":"127.0.0.1","family":"IPv4","port":true}');
  t.is(rs[1], '{"address":"127.0.0.9","family":"IPv4","port":65535}');
});

// Small datagrams cross into JS through a Buffer the addon writes into
// (lib/receive.js's scratch). The addon used to keep that Buffer's memory
// address: once user code detached it (it was reachable from any socket
// through a symbol on the handles' prototype), received bytes went into
// memory that belonged to someone else (session 37). Now the Buffer is out
// of reach, and were it detached anyway (here through the module itself),
// the addon sees it and gives each message a Buffer of its own.
const SCRATCH_SCRIPT = `
const dgram = require(${JSON.stringify(ROOT)});
const { scratch } = require(${JSON.stringify(`${ROOT}/lib/receive.js`)});
const rx = dgram.createSocket('udp4');
const proto = Object.getPrototypeOf(Object.getOwnPropertySymbols(rx).map((k) => rx[k]).find((s) => s && s.handle).handle);
const exposed = Object.getOwnPropertySymbols(proto).some((k) => {
  const v = proto[k];
  return v === scratch || (Array.isArray(v) && v.includes(scratch));
});
console.log('exposed', exposed);
const stolen = new Uint8Array(structuredClone(scratch.buffer, { transfer: [scratch.buffer] })).fill(0);
console.log('detached', scratch.length);
const got = [];
rx.on('message', (msg) => {
  got.push(msg.toString());
  if (got.length === 1) {
    // A small batch: several waiting at once.
    for (let i = 0; i < 5; i++) tx.send('batch' + i, rx.address().port, '127.0.0.1');
  } else if (got.length === 6) {
    console.log('got', got.join(','));
    console.log('stolen untouched', stolen.every((b) => b === 0));
    rx.close();
    tx.close();
  }
});
const tx = dgram.createSocket('udp4');
rx.bind(0, '127.0.0.1', () => tx.send('one', rx.address().port, '127.0.0.1'));`;

test('the receive scratch buffer is out of reach, and detaching it anyway neither loses nor misplaces bytes', async (t) => {
  const r = await runProcess(process.execPath, ['-e', SCRATCH_SCRIPT], { ms: 15000 });
  t.is(r.signal, null, r.stderr);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'exposed false\ndetached 0\ngot one,batch0,batch1,batch2,batch3,batch4\nstolen untouched true\n');
});
