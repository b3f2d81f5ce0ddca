'use strict';

// Address strings as Node's binding hands them to libuv: C strings (a NUL
// ends them), `uv_ip6_addr`'s reading of an IPv6 literal with a `%zone` (the
// address before it cut to 39 bytes, the zone an interface name: a number
// names none, scope 0), and a lookup's answer converted to a string by the
// binding (a Symbol throws). Compared with node:dgram for bind, connect and
// send; every datagram stays on loopback.

const test = require('ava');
const { parity, capture, errShape, boundSocket, closeAll, collect, internals, LOOPBACK_IF } = require('./helpers.js');

const onLinux = process.platform === 'linux';

const outcome = (fn) => new Promise((resolve) => {
  try {
    fn((err, n) => resolve(err ? { code: err.code, syscall: err.syscall } : { ok: n === undefined ? true : n }));
  } catch (err) {
    resolve({ threw: errShape(err) });
  }
});

test('udp6 link-local with a numeric zone (no interface of that name: scope 0), and a zoned literal longer than libuv reads', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const a = dgram.createSocket('udp6');
    a.on('error', () => {});
    tr.push({ bindNumericZone: await outcome((cb) => a.bind(0, 'fe80::1%1', () => cb(null)) && a.once('error', cb)) });
    a.close();
    const b = await boundSocket(dgram, 'udp6', '::');
    tr.push({ connectNumericZone: await outcome((cb) => b.connect(9, 'fe80::1%1', cb)) });
    const c = await boundSocket(dgram, 'udp6', '::');
    const long = '0000:0000:0000:0000:0000:ffff:127.100.200.201%lo';
    tr.push({ sendLongZoned: await outcome((cb) => c.send('x', 9, long, cb)) });
    await closeAll(b, c);
  });
  const got = node.map((e) => Object.values(e)[0]);
  if (process.platform === 'win32') {
    // libuv on Windows reads the zone with atoi(): "%1" names interface 1,
    // and the kernel answers bind and connect (EADDRNOTAVAIL, ENETUNREACH).
    t.deepEqual(got.map((e) => e.syscall), ['bind', 'connect', 'send']);
    t.deepEqual(got[2], { code: 'EINVAL', syscall: 'send' });
  } else if (onLinux) {
    t.deepEqual(got, [
      { code: 'EINVAL', syscall: 'bind' },
      { code: 'EINVAL', syscall: 'connect' },
      { code: 'EINVAL', syscall: 'send' },
    ]);
  } else {
    // macOS: the kernel's answers to a scope-0 link-local bind/connect are its
    // own (compared with node above); the send fails in libuv's parser.
    t.deepEqual(got[2], { code: 'EINVAL', syscall: 'send' });
  }
});

test('a lookup answer with a NUL is cut there (send, connect); a Symbol answer throws out of connect()', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const r = await boundSocket(dgram, 'udp4', '127.0.0.1');
    tr.reg(r.address().port, 'r');
    const inbox = collect(r);
    const lookup = (host, opts, cb) => cb(null, '127.0.0.1\0junk', 4);
    const s = dgram.createSocket({ type: 'udp4', lookup });
    tr.push({ send: await outcome((cb) => s.send('via-nul', r.address().port, 'host.invalid', cb)) });
    tr.push({ got: (await inbox.wait(1)).map((m) => String(m.msg)) });
    const c = dgram.createSocket({ type: 'udp4', lookup });
    tr.push({ connect: await outcome((cb) => c.connect(r.address().port, 'host.invalid', cb)) });
    const sym = dgram.createSocket({
      type: 'udp4',
      lookup: (host, opts, cb) => cb(null, host === 'host.invalid' ? Symbol('x') : host, 4),
    });
    await new Promise((resolve) => sym.bind(0, '127.0.0.1', resolve));
    tr.push({ symbol: capture(() => sym.connect(9, 'host.invalid')) });
    tr.push({ again: capture(() => sym.connect(9, 'host.invalid')) });
    await closeAll(r, s, c, sym);
  });
  t.deepEqual(node[0], { send: { ok: 7 } });
  t.is(node[3].symbol.threw.name, 'TypeError');
});

test('a lookup that answers connect() twice: the second native connect fails with EISCONN and the socket ends disconnected', async (t) => {
  await parity(t, async (dgram, tr) => {
    // (Once for bind's literal.)
    const lookup = (host, opts, cb) => {
      cb(null, '127.0.0.1', 4);
      if (host === 'host.invalid') cb(null, '127.0.0.1', 4);
    };
    const s = dgram.createSocket({ type: 'udp4', lookup });
    await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
    const events = [];
    s.on('connect', () => events.push('connect event'));
    s.connect(9, 'host.invalid', (err) => events.push(err ? `cb ${err.code} ${err.syscall}` : 'cb ok'));
    await new Promise((resolve) => setImmediate(resolve));
    tr.push({ events, remote: capture(() => s.remoteAddress()) });
    await closeAll(s);
  });
});

test('handle.fd: UV_EBADF before the socket has a descriptor, the descriptor after bind', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    tr.push({ unbound: internals(s).handle.fd });
    await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
    tr.push({ bound: internals(s).handle.fd > 2 });
    await closeAll(s);
  });
  // On Windows node's handle.fd is always UV_EBADF (-4083), bound or not.
  t.deepEqual(node, process.platform === 'win32' ? [{ unbound: -4083 }, { bound: false }] : [{ unbound: -9 }, { bound: true }]);
});

// The kernel gives a socket bound to a zoned multicast address a scope id,
// but Node names the zone only for link-local unicast addresses (fe80::/10).
test('udp6 bound to a zoned multicast address: address() without the zone, as Node', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    // The platform's loopback name (macOS: lo0).
    for (const at of [`ff02::1%${LOOPBACK_IF}`, `ff01::1%${LOOPBACK_IF}`]) {
      const s = dgram.createSocket('udp6');
      const bound = await outcome((cb) => s.bind(0, at, () => cb(null)) && s.once('error', cb));
      tr.push({ at, bound, address: bound.ok ? s.address().address : null });
      s.close();
    }
  });
  // Windows has no interface named lo: both binds fail there (as node's).
  // macOS's answer (binding a zoned ff01:: address) is compared only.
  if (onLinux) t.deepEqual(node.map((e) => e.address), ['ff02::1', 'ff01::1']);
});
