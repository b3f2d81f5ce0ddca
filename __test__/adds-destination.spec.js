'use strict';
// recvDestination (rinfo.localAddress / interface / interfaceIndex from
// IP_PKTINFO / IPV6_RECVPKTINFO) and sendFrom (sending from a chosen local
// address): dgram-rs additions, Linux only. The default rinfo stays exactly
// node:dgram's.
const test = require('ava');
const dgram = require('..');
const { impls, withTimeout, once, closeAll } = require('./helpers.js');

const linux = process.platform === 'linux';

async function bound(dg, address, options = {}) {
  const type = address.includes(':') ? 'udp6' : 'udp4';
  const s = dg.createSocket({ type, ...options });
  await withTimeout(new Promise((resolve) => s.bind(0, address, resolve)), 3000, 'bind');
  return s;
}

test('without recvDestination, rinfo has exactly node:dgram\'s fields', async (t) => {
  const shapes = {};
  for (const [name, dg] of Object.entries(impls)) {
    const r = await bound(dg, '0.0.0.0');
    const c = await bound(dg, '127.0.0.1');
    const arrived = once(r, 'message');
    c.send('x', r.address().port, '127.0.0.1');
    const [, rinfo] = await arrived;
    shapes[name] = Object.keys(rinfo);
    await closeAll(r, c);
  }
  t.deepEqual(shapes.rs, shapes.node);
  t.deepEqual(shapes.rs, ['address', 'family', 'port', 'size']);
});

test('recvDestination must be a boolean', (t) => {
  const err = t.throws(() => dgram.createSocket({ type: 'udp4', recvDestination: 'yes' }));
  t.is(err.code, 'ERR_INVALID_ARG_TYPE');
  t.is(err.message, 'The "options.recvDestination" property must be of type boolean. Received type string (\'yes\')');
  dgram.createSocket({ type: 'udp4', recvDestination: false }).close();
});

if (!linux) {
  test('recvDestination and sendFrom are Linux-only', (t) => {
    t.throws(() => dgram.createSocket({ type: 'udp4', recvDestination: true }), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' });
    t.throws(() => dgram.createSocket('udp4').sendFrom('x', 9, '127.0.0.1', '127.0.0.1'), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' });
  });
} else {
  test('udp4 bound to 0.0.0.0: rinfo tells which loopback address and interface each datagram reached', async (t) => {
    const r = await bound(dgram, '0.0.0.0', { recvDestination: true });
    const port = r.address().port;
    const c = await bound(dgram, '127.0.0.1');
    const got = [];
    r.on('message', (m, rinfo) => got.push(rinfo));
    for (const to of ['127.0.0.1', '127.0.0.5', '127.1.2.3']) {
      const arrived = once(r, 'message');
      c.send('x', port, to);
      await arrived;
    }
    t.deepEqual(got.map((ri) => ri.localAddress), ['127.0.0.1', '127.0.0.5', '127.1.2.3']);
    for (const ri of got) {
      t.like(ri, { address: '127.0.0.1', family: 'IPv4', port: c.address().port, size: 1, interface: 'lo' });
      t.true(Number.isInteger(ri.interfaceIndex) && ri.interfaceIndex > 0);
    }
    await closeAll(r, c);
  });

  test('udp6 dual-stack: ::1 reports ::1; IPv4 traffic reports IPv4-mapped destinations like its senders', async (t) => {
    const r = await bound(dgram, '::', { recvDestination: true });
    const port = r.address().port;
    const c6 = await bound(dgram, '::1');
    const c4 = await bound(dgram, '127.0.0.1');
    let arrived = once(r, 'message');
    c6.send('six', port, '::1');
    const [, ri6] = await arrived;
    arrived = once(r, 'message');
    c4.send('four', port, '127.0.0.8');
    const [, ri4] = await arrived;
    t.like(ri6, { address: '::1', family: 'IPv6', localAddress: '::1', interface: 'lo' });
    t.like(ri4, { address: '::ffff:127.0.0.1', family: 'IPv6', localAddress: '::ffff:127.0.0.8', interface: 'lo' });
    await closeAll(r, c6, c4);
  });

  test('sendFrom: a server bound to the any-address answers from the address it was reached on', async (t) => {
    const server = await bound(dgram, '0.0.0.0', { recvDestination: true });
    server.on('message', (msg, rinfo) => {
      server.sendFrom(`re:${msg}`, rinfo.port, rinfo.address, rinfo.localAddress);
    });
    const client = await bound(dgram, '127.0.0.1');
    const replies = [];
    for (const to of ['127.0.0.1', '127.0.0.42']) {
      const reply = once(client, 'message');
      client.send(to, server.address().port, to);
      const [msg, rinfo] = await reply;
      replies.push([msg.toString(), rinfo.address, rinfo.port]);
    }
    const port = server.address().port;
    t.deepEqual(replies, [['re:127.0.0.1', '127.0.0.1', port], ['re:127.0.0.42', '127.0.0.42', port]]);
    await closeAll(server, client);
  });

  test('sendFrom: callback (null, bytes) on a later tick; order kept with send() of the same tick; udp6 sends from ::1 and from IPv4', async (t) => {
    const r = await bound(dgram, '::');
    const got = [];
    r.on('message', (m, ri) => got.push([m.toString(), ri.address]));
    const s = await bound(dgram, '::');
    const port = r.address().port;
    const done = [];
    s.send('plain', port, '::1');
    s.sendFrom('from-v6', port, '::1', '::1', (err, n) => done.push([err, n]));
    s.sendFrom('from-v4', port, '::ffff:127.0.0.1', '127.0.0.33', (err, n) => done.push([err, n]));
    t.deepEqual(done, []); // never called back synchronously
    await withTimeout((async () => { while (got.length < 3) await once(r, 'message'); })());
    t.deepEqual(got, [['plain', '::1'], ['from-v6', '::1'], ['from-v4', '::ffff:127.0.0.33']]);
    t.deepEqual(done, [[null, 7], [null, 7]]);
    await closeAll(r, s);
  });

  test('sendFrom: validation and errors look like send()\'s', async (t) => {
    const s = dgram.createSocket('udp4');
    t.throws(() => s.sendFrom('x', 9, '127.0.0.1', 'localhost'), { code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => s.sendFrom('x', 9, '127.0.0.1', '::1'), { code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => s.sendFrom('x', 0, '127.0.0.1', '127.0.0.1'), { code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => s.sendFrom(42, 9, '127.0.0.1', '127.0.0.1'), { code: 'ERR_INVALID_ARG_TYPE' });
    // Implicit bind, as send() does; a source address the host does not
    // have fails with a 'send' system error through the callback.
    const err = await withTimeout(new Promise((resolve) => s.sendFrom('x', 9, '127.0.0.1', '192.0.2.1', resolve)));
    t.is(err.syscall, 'send');
    t.is(typeof err.errno, 'number');
    t.regex(err.message, /^send E[A-Z]+ 127\.0\.0\.1:9$/);
    t.is(s.address().address, '0.0.0.0');
    s.connect(9, '127.0.0.1');
    await once(s, 'connect');
    t.throws(() => s.sendFrom('x', 9, '127.0.0.1', '127.0.0.1'), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
    await closeAll(s);
  });

  test('sendMany items may carry localAddress', async (t) => {
    const r = await bound(dgram, '127.0.0.1');
    const got = [];
    r.on('message', (m, ri) => got.push([m.toString(), ri.address]));
    const s = await bound(dgram, '0.0.0.0');
    const port = r.address().port;
    const [err, sent] = await new Promise((resolve) => s.sendMany([
      { msg: 'a', port, address: '127.0.0.1', localAddress: '127.0.0.11' },
      { msg: 'b', port, address: '127.0.0.1' },
      { msg: 'c', port, address: '127.0.0.1', localAddress: '127.0.0.12' },
    ], (...args) => resolve(args)));
    t.is(err, null);
    t.is(sent, 3);
    await withTimeout((async () => { while (got.length < 3) await once(r, 'message'); })());
    t.deepEqual(got, [['a', '127.0.0.11'], ['b', '127.0.0.1'], ['c', '127.0.0.12']]);
    await closeAll(r, s);
  });
}

if (linux) {
  test('sendFrom on udp6: an IPv4 source for an IPv6 destination is EINVAL, not a silent other source', async (t) => {
    const s = await bound(dgram, '::');
    const err = await withTimeout(new Promise((resolve) => s.sendFrom('x', 9, '::1', '127.0.0.7', resolve)));
    t.is(err.code, 'EINVAL');
    t.is(err.syscall, 'send');
    await closeAll(s);
  });
}
