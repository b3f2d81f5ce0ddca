'use strict';

// connect(), disconnect(), remoteAddress() and sending on a connected socket.

const test = require('ava');
const { parity, capture, errShape, boundSocket, closeAll, collect, withTimeout, delay, once, fence } = require('./helpers.js');

async function server(dgram, tr, type = 'udp4') {
  const s = await boundSocket(dgram, type);
  tr.reg(s.address().port, 'server');
  return { server: s, inbox: collect(s), port: s.address().port };
}

function dnsShape(err) {
  const shape = errShape(err);
  if (!shape) return shape;
  if (shape.code === 'EAI_AGAIN') {
    shape.code = 'ENOTFOUND';
    for (const k of ['message', 'string', 'stackHead']) shape[k] = shape[k].replace('EAI_AGAIN', 'ENOTFOUND');
  }
  shape.errno = 'normalised';
  return shape;
}

test('connect() forms: events, callback, return value, remoteAddress', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, port } = await server(dgram, tr);
    const forms = [
      ['(port, addr, cb)', (s, cb) => s.connect(port, '127.0.0.1', cb)],
      ['(port, cb)', (s, cb) => s.connect(port, cb)],
      ['(port)', (s) => s.connect(port)],
      ['(port, addr)', (s) => s.connect(port, '127.0.0.1')],
      ['(String(port), addr, cb)', (s, cb) => s.connect(String(port), '127.0.0.1', cb)],
      ['(port, "localhost", cb)', (s, cb) => s.connect(port, 'localhost', cb)],
      ['(port, undefined, cb)', (s, cb) => s.connect(port, undefined, cb)],
    ];
    for (const [label, fn] of forms) {
      const s = dgram.createSocket('udp4');
      const order = [];
      let returned = false;
      s.on('listening', () => order.push({ listening: !returned ? 'sync' : 'async' }));
      s.on('connect', (...args) => order.push({ connect: args.length }));
      const r = capture(() => fn(s, function (...args) { order.push({ cb: args.length, self: this === s }); }), s);
      returned = true;
      order.push({ remoteWhileConnecting: capture(() => s.remoteAddress()) });
      await once(s, 'connect');
      await delay(5); // a window for a second 'connect' or callback that must not come
      tr.reg(s.address().port, label);
      tr.push({ label, r, order, remote: s.remoteAddress(), local: s.address() });
      await closeAll(s);
    }
    await closeAll(srv);
  });
  t.is(node[0].remote.address, '127.0.0.1');
});

test('connect() on an already bound socket; tick order of connect event', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server: srv, port } = await server(dgram, tr);
    const s = await boundSocket(dgram);
    tr.reg(s.address().port, 'client');
    const order = [];
    process.nextTick(() => order.push('nextTick before'));
    s.connect(port, '127.0.0.1', () => order.push('cb'));
    s.on('connect', () => order.push('connect (after)'));
    order.push('returned');
    process.nextTick(() => order.push('nextTick after'));
    const immediate = new Promise((resolve) => setImmediate(() => { order.push('setImmediate'); resolve(); }));
    await once(s, 'connect');
    await immediate;
    await delay(10); // a window for a second 'connect' or callback that must not come
    tr.push(order, s.remoteAddress());
    await closeAll(s, srv);
  });
});

test('send on a connected socket without an address: all forms deliver to the peer', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const s = dgram.createSocket('udp4');
    await new Promise((resolve) => s.connect(port, '127.0.0.1', resolve));
    tr.reg(s.address().port, 'client');
    const results = [];
    const cb = (label) => (err, n) => results.push({ label, err: errShape(err), n });
    const forms = [
      ['(msg)', () => s.send('a')],
      ['(msg, cb)', () => s.send('b', cb('(msg, cb)'))],
      ['(msg, off, len)', () => s.send('xcx', 1, 1)],
      ['(msg, off, len, cb)', () => s.send('xdx', 1, 1, cb('(msg, off, len, cb)'))],
      ['(list, cb)', () => s.send(['e', 'f'], cb('(list, cb)'))],
      ['(u8, cb)', () => s.send(new Uint8Array([0x67]), cb('(u8, cb)'))],
      ['(msg, off, len, undefined, undefined, cb)', () => s.send('hh', 0, 1, undefined, undefined, cb('(msg, off, len, undefined, undefined, cb)'))],
      ['(msg, null, null, cb)', () => s.send('i', null, null, cb('(msg, null, null, cb)'))],
      ['(empty list, cb)', () => s.send([], cb('(empty list, cb)'))],
      ['(msg, port) port taken as callback', () => s.send('j', port)],
      ['(msg, undefined, cb)', () => s.send('k', undefined, cb('(msg, undefined, cb)'))],
      ['(msg, off, len, cb, extra)', () => s.send('lmn', 1, 1, cb('(msg, off, len, cb, extra)'), 'extra')],
    ];
    let expected = 0;
    for (const [label, fn] of forms) {
      const r = capture(fn);
      if (!r.threw) expected++;
      results.push({ label, r });
    }
    const msgs = await inbox.wait(expected);
    await delay(10); // a window for late callbacks (node never calls back (msg, undefined, cb): no count to await)
    tr.push({ results, msgs: msgs.map((m) => m.msg.toString()), rinfo: msgs[0].rinfo });
    await closeAll(s, srv);
  });
  t.true(node[0].msgs.length >= 9);
});

test('sends issued while connect() is pending are queued behind it; one with an address then fails with EISCONN', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const s = dgram.createSocket('udp4');
    const order = [];
    s.connect(port, '127.0.0.1', () => order.push('connect cb'));
    // Not connected yet: the port is required; once the queue runs the
    // socket is connected, and libuv refuses a send with an address (EISCONN).
    const called = new Promise((resolve) => s.send('pending', port, '127.0.0.1', (...args) => {
      order.push({ cb: args.map(errShape) });
      resolve();
    }));
    tr.push({ noPortWhileConnecting: capture(() => s.send('x')) });
    await once(s, 'connect');
    await withTimeout(called, 3000, 'the queued send\'s callback');
    await fence(inbox, port); // (nothing arrives: the send failed)
    tr.push({ order, msgs: inbox.msgs.map((m) => m.msg.toString()) });
    await closeAll(s, srv);
  });
});

test('send with port/address on a connected socket throws ERR_SOCKET_DGRAM_IS_CONNECTED', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const s = dgram.createSocket('udp4');
    await new Promise((resolve) => s.connect(port, '127.0.0.1', resolve));
    // (msg, port) on a connected socket: the port lands in `offset` and is
    // taken as the callback, so this is a plain connected send.
    const forms = {
      port: () => s.send('x', port),
      portAddr: () => s.send('x', port, '127.0.0.1'),
      portAddrCb: () => s.send('x', port, '127.0.0.1', () => {}),
      offLenPort: () => s.send('xy', 0, 1, port),
      offLenPortAddr: () => s.send('xy', 0, 1, port, '127.0.0.1'),
      offLenNullAddr: () => s.send('xy', 0, 1, null, '127.0.0.1'),
      offLenPortCb: () => s.send('xy', 0, 1, port, () => {}),
      badMsg: () => s.send(123),
      badMsgPort: () => s.send(123, port),
      oob: () => s.send('xy', 0, 5),
    };
    let sent = 0;
    for (const [label, fn] of Object.entries(forms)) {
      const r = capture(fn);
      if (!r.threw) sent++;
      tr.push({ label, r });
    }
    // Wait for whatever was sent before closing.
    await inbox.wait(sent);
    await fence(inbox, port);
    tr.push({ received: inbox.msgs.map((m) => m.msg.toString()) });
    await closeAll(s, srv);
  });
  t.is(node[3].r.threw.code, 'ERR_SOCKET_DGRAM_IS_CONNECTED');
});

test('connect twice throws ERR_SOCKET_DGRAM_IS_CONNECTED (connecting and connected)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, port } = await server(dgram, tr);
    const s = dgram.createSocket('udp4');
    s.connect(port, '127.0.0.1');
    tr.push({ whileConnecting: capture(() => s.connect(port, '127.0.0.1')) });
    await once(s, 'connect');
    tr.push({ whileConnected: capture(() => s.connect(port)) });
    tr.push({ badPortWhileConnected: capture(() => s.connect(0)) });
    await closeAll(s, srv);
  });
  t.is(node[0].whileConnecting.threw.code, 'ERR_SOCKET_DGRAM_IS_CONNECTED');
});

test('disconnect(): remoteAddress throws NOT_CONNECTED, send needs a port again, reconnect works', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const s = dgram.createSocket('udp4');
    tr.push({ unboundDisconnect: capture(() => s.disconnect(), s) });
    tr.push({ unboundRemote: capture(() => s.remoteAddress()) });
    s.connect(port, '127.0.0.1');
    tr.push({ disconnectWhileConnecting: capture(() => s.disconnect(), s) });
    await once(s, 'connect');
    tr.reg(s.address().port, 'client');
    tr.push({ disconnect: capture(() => s.disconnect(), s) });
    tr.push({ remoteAfter: capture(() => s.remoteAddress()) });
    tr.push({ localAfter: s.address() });
    tr.push({ again: capture(() => s.disconnect(), s) });
    tr.push({ sendNoPort: capture(() => s.send('x')) });
    s.send('after-disconnect', port, '127.0.0.1');
    await inbox.wait(1);
    const events = [];
    s.on('connect', () => events.push('connect'));
    tr.push({ reconnect: capture(() => s.connect(port, '127.0.0.1'), s) });
    await once(s, 'connect');
    s.send('reconnected');
    const msgs = await inbox.wait(2);
    tr.push({ events, remote: s.remoteAddress(), msgs: msgs.map((m) => m.msg.toString()) });
    await closeAll(s, srv);
  });
  t.is(node[0].unboundDisconnect.threw.code, 'ERR_SOCKET_DGRAM_NOT_CONNECTED');
});

test('connect with a bad port throws ERR_SOCKET_BAD_PORT; bad address ERR_INVALID_ARG_TYPE', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    for (const port of [0, -1, 65536, 'abc', undefined, null, NaN, 1.5, '', true, {}]) {
      tr.push({ port: String(port), r: capture(() => s.connect(port, '127.0.0.1')) });
    }
    for (const address of [123, {}, null, true]) {
      tr.push({ address: String(address), r: capture(() => s.connect(1234, address)) });
    }
    tr.push({ badBoth: capture(() => s.connect(0, 123)) });
    tr.push({ stillUnbound: capture(() => s.address()) });
    tr.push({ stillDisconnected: capture(() => s.remoteAddress()) });
    s.close();
  });
  t.is(node[0].r.threw.code, 'ERR_SOCKET_BAD_PORT');
});

test('connect after close', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    s.close();
    tr.push({ r: capture(() => s.connect(1234, '127.0.0.1')) });
    tr.push({ again: capture(() => s.connect(1234, '127.0.0.1')) });
    tr.push({ remote: capture(() => s.remoteAddress()) });
    tr.push({ disconnect: capture(() => s.disconnect()) });
    await once(s, 'close');
  });
});

test('connect failure via lookup error: callback gets it (else error event), state resets', async (t) => {
  await parity(t, async (dgram, tr) => {
    const lookupErr = Object.assign(new Error('no such host'), { code: 'ECUSTOM' });
    const mk = () => dgram.createSocket({
      type: 'udp4',
      lookup(host, family, cb) {
        if (host === '0.0.0.0' || host === '127.0.0.1') return process.nextTick(cb, null, host, 4);
        process.nextTick(cb, lookupErr);
      },
    });
    const a = mk();
    const events = [];
    a.on('error', (e) => events.push({ aError: e === lookupErr }));
    a.on('connect', () => events.push('a connect event'));
    const args = await withTimeout(new Promise((resolve) => a.connect(1234, 'bad.host', (...x) => resolve(x))));
    tr.push({ cbArgs: args.length, same: args[0] === lookupErr, connectListeners: a.listenerCount('connect') });
    tr.push({ remote: capture(() => a.remoteAddress()) });
    tr.push({ retry: capture(() => a.connect(1234, '127.0.0.1')) });
    await once(a, 'connect');
    const b = mk();
    b.on('error', (e) => events.push({ bError: e === lookupErr }));
    b.connect(1234, 'bad.host');
    await withTimeout(new Promise((resolve) => b.once('error', resolve)));
    tr.push({ events });
    await closeAll(a, b);
  });
});

test('connect to a host name that does not resolve', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    const [err] = await withTimeout(new Promise((resolve) => s.connect(1234, 'nonexistent.invalid', (...a) => resolve(a))), 10000);
    tr.push({ err: dnsShape(err), remote: capture(() => s.remoteAddress()) });
    const s2 = dgram.createSocket('udp4');
    s2.connect(1234, 'nonexistent.invalid');
    const [err2] = await once(s2, 'error', 10000);
    tr.push({ err2: dnsShape(err2) });
    await closeAll(s, s2);
  }, { ms: 25000 });
  t.is(node[0].err.syscall, 'getaddrinfo');
});

test('connect errors from the OS: wrong family', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (const [type, addr] of [['udp4', '::1'], ['udp6', '127.0.0.1']]) {
      const s = dgram.createSocket(type);
      s.on('error', (e) => tr.push({ type, errorEvent: errShape(e) }));
      const r = await withTimeout(new Promise((resolve) => {
        s.connect(4321, addr, (...a) => resolve(a.map(errShape)));
      }));
      tr.push({ type, cb: r, remote: capture(() => s.remoteAddress()) });
      await closeAll(s);
    }
  });
});

test('connect(port, addr, notAFunction) on a bound socket', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server: srv, port } = await server(dgram, tr);
    const s = await boundSocket(dgram);
    tr.push({ r: capture(() => s.connect(port, '127.0.0.1', 'nope')) });
    tr.push({ again: capture(() => s.connect(port, '127.0.0.1')) });
    await delay(20); // a window for a 'connect' that must not come
    tr.push({ remote: capture(() => s.remoteAddress()) });
    await closeAll(s, srv);
  });
});

test('a connected socket only receives datagrams from its peer', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const peer = await boundSocket(dgram);
    const other = await boundSocket(dgram);
    tr.reg(peer.address().port, 'peer');
    tr.reg(other.address().port, 'other');
    const s = await boundSocket(dgram);
    tr.reg(s.address().port, 'client');
    const inbox = collect(s);
    await new Promise((resolve) => s.connect(peer.address().port, '127.0.0.1', resolve));
    // Sent (and dropped by the kernel) before the peer's datagram is.
    await new Promise((resolve) => other.send('from other', s.address().port, '127.0.0.1', resolve));
    peer.send('from peer', s.address().port, '127.0.0.1');
    const msgs = await inbox.wait(1);
    await delay(20); // a window for datagrams that must not come (a connected socket: no fence)
    tr.push(msgs.map((m) => ({ msg: m.msg.toString(), rinfo: m.rinfo })));
    await closeAll(peer, other, s);
  });
  t.is(node[0].length, 1);
});

test('udp6 connect: default address ::1, remoteAddress family IPv6', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr, 'udp6');
    const s = dgram.createSocket('udp6');
    await new Promise((resolve) => s.connect(port, resolve));
    tr.reg(s.address().port, 'client');
    tr.push(s.remoteAddress(), s.address());
    s.send('v6');
    const [m] = await inbox.wait(1);
    tr.push(m.rinfo);
    await closeAll(s, srv);
  });
});

test('close while connect is pending: no connect event, no callback', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server: srv, port } = await server(dgram, tr);
    const s = dgram.createSocket('udp4');
    const events = [];
    for (const e of ['listening', 'connect', 'close', 'error']) s.on(e, () => events.push(e));
    s.connect(port, '127.0.0.1', () => events.push('cb'));
    s.close();
    await once(s, 'close');
    await delay(50); // a window for connect/cb that must not come (the lookup may still finish)
    tr.push(events);
    // Bound but the connect lookup pending.
    const s2 = await boundSocket(dgram);
    const events2 = [];
    for (const e of ['connect', 'close', 'error']) s2.on(e, () => events2.push(e));
    s2.connect(port, 'localhost', () => events2.push('cb'));
    s2.close();
    await once(s2, 'close');
    await delay(100); // a window for connect/cb that must not come (the lookup may still finish)
    tr.push(events2);
    await closeAll(srv);
  });
});

// macOS and the BSDs refuse the AF_UNSPEC address of an IPv6 socket's
// disconnect with EINVAL after disconnecting it (libuv ignores that): runs
// everywhere, meant for the workflow's macOS runners.
test('udp6 connect, disconnect, then send with an address: as Node', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr, 'udp6');
    const s = dgram.createSocket('udp6');
    await new Promise((resolve) => s.connect(port, '::1', resolve));
    tr.reg(s.address().port, 'client');
    tr.push({ disconnect: capture(() => s.disconnect(), s) });
    tr.push({ remote: capture(() => s.remoteAddress(), s) });
    const sent = await new Promise((resolve) => s.send('after', port, '::1', (err, n) => resolve(err ? err.code : n)));
    const [m] = await inbox.wait(1);
    tr.push({ sent, got: String(m.msg) });
    await closeAll(s, srv);
  });
  t.deepEqual(node.map((e) => Object.keys(e)[0]), ['disconnect', 'remote', 'sent']);
});
