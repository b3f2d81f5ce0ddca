'use strict';
// What dgram-rs adds beyond node:dgram on Node 20 (opt-in): bindSync,
// connectSync (Node 26 semantics) and sendMany.
const test = require('ava');
const dgram = require('..');

function receiver(count) {
  const r = dgram.createSocket('udp4');
  const msgs = [];
  const all = new Promise((resolve) => {
    r.on('message', (m) => {
      msgs.push(m.toString());
      if (msgs.length === count) resolve(msgs);
    });
  });
  const { port } = r.bindSync({ address: '127.0.0.1' });
  return { r, port, all };
}

const within = (p, ms = 5000) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), ms).unref())]);

test('bindSync binds now, returns the address, emits listening on the next tick', async (t) => {
  const s = dgram.createSocket('udp4');
  const order = [];
  s.on('listening', () => order.push('listening'));
  const a = s.bindSync({ address: '127.0.0.1' });
  order.push('returned');
  t.deepEqual(s.address(), a);
  t.is(a.family, 'IPv4');
  t.true(a.port > 0);
  await new Promise((r) => process.nextTick(r));
  t.deepEqual(order, ['returned', 'listening']);
  t.throws(() => s.bindSync(), { code: 'ERR_SOCKET_ALREADY_BOUND' });
  s.close();
});

test('bindSync throws bind errors synchronously, Node-shaped, and takes IP literals only', (t) => {
  const a = dgram.createSocket('udp4');
  const { port } = a.bindSync({ address: '127.0.0.1' });
  const b = dgram.createSocket('udp4');
  const err = t.throws(() => b.bindSync({ port, address: '127.0.0.1' }));
  t.is(err.code, 'EADDRINUSE');
  t.is(err.syscall, 'bind');
  t.is(err.message, `bind EADDRINUSE 127.0.0.1:${port}`);
  t.is(err.port, port);
  t.throws(() => dgram.createSocket('udp4').bindSync({ address: 'localhost' }), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => dgram.createSocket('udp6').bindSync({ address: '127.0.0.1' }), { code: 'ERR_INVALID_ARG_VALUE' });
  a.close();
  b.close();
});

test('connectSync connects now (binding first), emits connect on the next tick', async (t) => {
  const { r, port, all } = receiver(1);
  const c = dgram.createSocket('udp4');
  const connected = new Promise((resolve) => c.once('connect', resolve));
  c.connectSync(port, '127.0.0.1');
  t.deepEqual(c.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port });
  await within(connected);
  c.send('hi');
  t.deepEqual(await within(all), ['hi']);
  t.throws(() => c.connectSync(port), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
  const pending = dgram.createSocket('udp4');
  pending.bind(0);
  t.throws(() => pending.connectSync(port), { code: 'ERR_SOCKET_ALREADY_BOUND' });
  t.throws(() => dgram.createSocket('udp4').connectSync(port, 'localhost'), { code: 'ERR_INVALID_ARG_VALUE' });
  c.close();
  r.close();
  pending.close();
});

test('sendMany delivers every datagram in order and reports the count', async (t) => {
  // Small enough that the burst fits the receiver's kernel buffer (default
  // rmem ~208 KiB, ~1 KiB per queued datagram): UDP may drop beyond that.
  const N = 120;
  const { r, port, all } = receiver(N);
  const s = dgram.createSocket('udp4');
  // Mixed sizes and types: runs of equal size (GSO) and odd ones.
  const list = Array.from({ length: N }, (_, i) => ({
    msg: i % 40 === 39 ? new Uint8Array(Buffer.from(`odd-${i}`)) : `m${String(i).padStart(4, '0')}`,
    port,
    address: '127.0.0.1',
  }));
  const result = await within(new Promise((resolve) => s.sendMany(list, (err, n) => resolve([err, n]))));
  t.deepEqual(result, [null, N]);
  const got = await within(all);
  t.deepEqual(got, list.map((it) => Buffer.from(it.msg).toString()));
  s.close();
  r.close();
});

test('sendMany on a connected socket takes bare messages; errors are counted out', async (t) => {
  const { r, port, all } = receiver(3);
  const c = dgram.createSocket('udp4');
  c.connectSync(port);
  const result = await within(
    new Promise((resolve) => c.sendMany(['a', Buffer.alloc(70000), Buffer.from('b'), 'c'], (err, n) => resolve([err && err.code, n]))),
  );
  t.deepEqual(result, ['EMSGSIZE', 3]);
  t.deepEqual(await within(all), ['a', 'b', 'c']);
  t.throws(() => c.sendMany([{ msg: 'x', port }]), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
  c.close();
  r.close();
});

test('sendMany validates like send', (t) => {
  const s = dgram.createSocket('udp4');
  t.throws(() => s.sendMany('nope'), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => s.sendMany([{ msg: 5, port: 1 }]), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => s.sendMany([{ msg: 'x', port: 0 }]), { code: 'ERR_SOCKET_BAD_PORT' });
  t.throws(() => s.sendMany([], 'cb'), { code: 'ERR_INVALID_ARG_TYPE' });
  s.close();
});
