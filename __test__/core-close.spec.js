'use strict';

// close(): 'close' timing, callbacks, double close, close during a pending
// (implicit) bind, what still works after close, and port release.

const path = require('node:path');
const test = require('ava');
const { parity, capture, errShape, boundSocket, closeAll, closedPort, collect, delay, once, childParity, fence, withTimeout } = require('./helpers.js');

const FIXTURES = path.join(__dirname, 'fixtures');

test('close(): returns this, emits close once, asynchronously, callback has no args', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const bound of [false, true]) {
      const s = bound ? await boundSocket(dgram) : dgram.createSocket('udp4');
      const order = [];
      let closeEvents = 0;
      s.on('close', (...args) => { closeEvents++; order.push({ closeEvent: args.length }); });
      process.nextTick(() => order.push('nextTick before close'));
      const r = capture(() => s.close(function (...args) { order.push({ cb: args.length, self: this === s }); }), s);
      order.push({ returned: r });
      process.nextTick(() => order.push('nextTick after close'));
      Promise.resolve().then(() => order.push('microtask'));
      const immediate = new Promise((resolve) => setImmediate(() => { order.push('setImmediate'); resolve(); }));
      await withTimeout(Promise.all([immediate, new Promise((resolve) => s.once('close', resolve))]).catch(() => {}), 1000, 'close').catch(() => {});
      await delay(10); // a window for a second 'close' or callback that must not come
      tr.push({ bound, order, closeEvents, closeListeners: s.listenerCount('close') });
    }
  });
  t.deepEqual(node[0].order[0], { returned: { returned: 'this' } });
});

test('double close throws ERR_SOCKET_DGRAM_NOT_RUNNING; a callback passed to it is still registered', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram);
    const order = [];
    s.on('close', () => order.push('close'));
    s.close();
    tr.push({ second: capture(() => s.close(() => order.push('second cb')), s) });
    tr.push({ third: capture(() => s.close('not a function'), s) });
    await once(s, 'close');
    await delay(10); // a window for a second 'close' that must not come
    tr.push({ order });
    tr.push({ afterClose: capture(() => s.close(), s) });
  });
  t.is(node[0].second.threw.code, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
});

test('close during a pending bind: no listening, no error, no bind callback', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (const addr of ['127.0.0.1', 'localhost', undefined]) {
      const s = dgram.createSocket('udp4');
      const events = [];
      for (const e of ['listening', 'error', 'close']) s.on(e, () => events.push(e));
      s.bind(0, addr, () => events.push('bind cb'));
      s.close(() => events.push('close cb'));
      await once(s, 'close');
      await delay(60); // a window for listening/error/bind cb that must not come (the lookup may still finish)
      tr.push({ addr: String(addr), events, address: capture(() => s.address()) });
    }
  });
});

test('close during a pending bind that would fail (EADDRINUSE): nothing but close', async (t) => {
  await parity(t, async (dgram, tr) => {
    const a = await boundSocket(dgram);
    const s = dgram.createSocket('udp4');
    const events = [];
    for (const e of ['listening', 'error', 'close']) s.on(e, () => events.push(e));
    s.bind(a.address().port, '127.0.0.1');
    s.close();
    await once(s, 'close');
    await delay(30); // a window for listening/error that must not come
    tr.push(events);
    await closeAll(a);
  });
});

// The lifecycle (events, address()) and the queued sends: dropped without
// a callback and never sent, on both (issue 13's "send() then close()").
test('close during a pending implicit bind with queued sends', async (t) => {
  const outcome = {};
  const { node } = await parity(t, async (dgram, tr, name) => {
    const srv = await boundSocket(dgram);
    tr.reg(srv.address().port, 'server');
    const inbox = collect(srv);
    const s = dgram.createSocket('udp4');
    const events = [];
    const sends = [];
    for (const e of ['listening', 'error', 'close']) s.on(e, () => events.push(e));
    s.send('q1', srv.address().port, '127.0.0.1', (err, n) => sends.push({ cb1: [errShape(err), n] }));
    s.send('q2', srv.address().port, (err, n) => sends.push({ cb2: [errShape(err), n] }));
    const r = capture(() => s.close(() => events.push('close cb')), s);
    events.push({ closeReturned: r });
    tr.push({ addressRightAfterClose: capture(() => s.address()) });
    // (A send() or close() here would be queued too and then throw
    // ERR_SOCKET_DGRAM_NOT_RUNNING uncaught: see lifecycle-process.spec.js.)
    await once(s, 'close');
    await delay(20); // a window for events and send callbacks that must not come
    tr.push({ events });
    outcome[name] = { sends, received: await fence(inbox, srv.address().port) };
    tr.push({ addressLater: capture(() => s.address()) });
    await closeAll(srv);
  });
  t.truthy(node.length);
  // Dropped without a callback, as Node drops them.
  t.deepEqual(outcome.node, { sends: [], received: [] });
  t.deepEqual(outcome.rs, outcome.node);
});

test('close during a pending connect queued behind the implicit bind', async (t) => {
  await parity(t, async (dgram, tr) => {
    const srv = await boundSocket(dgram);
    const s = dgram.createSocket('udp4');
    const events = [];
    for (const e of ['listening', 'connect', 'error', 'close']) s.on(e, () => events.push(e));
    s.connect(srv.address().port, '127.0.0.1', () => events.push('connect cb'));
    s.close();
    await once(s, 'close');
    await delay(60); // a window for connect/error that must not come (the lookup may still finish)
    tr.push({ events, remote: capture(() => s.remoteAddress()) });
    await closeAll(srv);
  });
});

test('no message is emitted after close(), even for datagrams already queued', async (t) => {
  await parity(t, async (dgram, tr) => {
    // The receiver sits below the ephemeral range: the datagram sent after
    // it closed cannot land on a parallel test's bind(0).
    const port = await closedPort();
    const srv = dgram.createSocket('udp4');
    await new Promise((resolve) => srv.bind(port, '127.0.0.1', resolve));
    const client = await boundSocket(dgram);
    const inbox = collect(srv);
    client.send('before', port, '127.0.0.1');
    await inbox.wait(1);
    // Sent and sitting in the receive buffer when close() runs: the send
    // callback runs before the loop's next poll, which would read it.
    await new Promise((resolve) => client.send('in flight', port, '127.0.0.1', () => {
      srv.close();
      resolve();
    }));
    client.send('after', port, '127.0.0.1');
    await delay(50); // a window for messages that must not come (the receiver is closed: no fence)
    tr.push(inbox.msgs.map((m) => m.msg.toString()));
    await closeAll(client);
  });
});

test('close() inside a message handler during a burst: no more messages, process not wedged (child process)', async (t) => {
  const { node } = await childParity(t, `require(${JSON.stringify(path.join(FIXTURES, 'close-in-message.js'))})`, { ms: 5000 });
  t.is(node.stdout.trim(), 'messages after close: 0');
});

test('closing the receiver in the same tick as a peer sends (repeated, child process)', async (t) => {
  const { node } = await childParity(t, `require(${JSON.stringify(path.join(FIXTURES, 'close-race.js'))})`, { ms: 8000 });
  t.is(node.stdout.trim(), 'done 30');
});

test('a port released by close() can be bound again right after close() returns', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const type of ['udp4', 'udp6']) {
      const a = await boundSocket(dgram, type);
      const port = tr.reg(a.address().port, `${type} port`);
      a.close();
      const b = dgram.createSocket(type);
      const events = [];
      b.on('error', (e) => events.push(errShape(e)));
      b.on('listening', () => events.push({ listening: b.address() }));
      b.bind(port, type === 'udp4' ? '127.0.0.1' : '::1');
      await new Promise((resolve) => { b.once('listening', resolve); b.once('error', resolve); });
      tr.push({ type, events });
      await closeAll(b);
    }
  });
  t.truthy(node[0].events[0].listening);
});

test('after close: address/remoteAddress throw NOT_RUNNING, ref/unref return this, setters throw TypeError', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram);
    s.close();
    tr.push({ address: capture(() => s.address()) });
    tr.push({ remoteAddress: capture(() => s.remoteAddress()) });
    tr.push({ ref: capture(() => s.ref(), s) });
    tr.push({ unref: capture(() => s.unref(), s) });
    tr.push({ disconnect: capture(() => s.disconnect()) });
    tr.push({ setTTL: capture(() => s.setTTL(5)) });
    tr.push({ setBroadcast: capture(() => s.setBroadcast(true)) });
    tr.push({ setMulticastTTL: capture(() => s.setMulticastTTL(5)) });
    tr.push({ setMulticastLoopback: capture(() => s.setMulticastLoopback(true)) });
    tr.push({ setMulticastInterface: capture(() => s.setMulticastInterface('127.0.0.1')) });
    tr.push({ addMembership: capture(() => s.addMembership('224.0.0.114')) });
    tr.push({ getRecvBufferSize: capture(() => s.getRecvBufferSize()) });
    tr.push({ getSendQueueSize: capture(() => s.getSendQueueSize()) });
    tr.push({ getSendQueueCount: capture(() => s.getSendQueueCount()) });
    tr.push({ type: s.type });
    await once(s, 'close');
  });
  t.is(node[0].address.threw.code, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
});

test('close from inside the listening handler and from inside the close of another socket', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    const events = [];
    s.on('listening', () => { events.push('listening'); s.close(() => events.push('closed')); });
    s.bind(0, '127.0.0.1', () => events.push('bind cb'));
    await once(s, 'close');
    await delay(5); // a window for a second 'closed' that must not come
    tr.push(events);
  });
});

test('Symbol.asyncDispose closes the socket and is a no-op when already closed', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram);
    const events = [];
    s.on('close', () => events.push('close'));
    tr.push({ hasDispose: typeof s[Symbol.asyncDispose] });
    const p = s[Symbol.asyncDispose]();
    tr.push({ isPromise: p instanceof Promise });
    events.push({ resolved: await p });
    tr.push({ again: await s[Symbol.asyncDispose]() });
    tr.push({ events, address: capture(() => s.address()) });
    const u = dgram.createSocket('udp4');
    await u[Symbol.asyncDispose]();
    tr.push({ unboundClosed: capture(() => u.close(), u) });
  });
  t.is(node[0].hasDispose, 'function');
});

test('close() while a send callback is pending on a busy socket still calls back or drops like node', async (t) => {
  await parity(t, async (dgram, tr) => {
    const srv = await boundSocket(dgram);
    const inbox = collect(srv);
    const s = await boundSocket(dgram);
    const port = srv.address().port;
    const cbs = [];
    await new Promise((resolve) => s.send('first', port, '127.0.0.1', resolve));
    // A send whose lookup already completed (callback pending) then close.
    const called = new Promise((resolve) => s.send('second', port, '127.0.0.1', (err, n) => {
      cbs.push([errShape(err), n]);
      resolve();
    }));
    await new Promise((resolve) => process.nextTick(resolve));
    s.close();
    // Node calls it back here; were it dropped, the bound is the window.
    await withTimeout(called, 1000, 'the pending send\'s callback').catch(() => {});
    await delay(10); // a window for a second callback that must not come
    tr.push({ cbs, received: await fence(inbox, port) });
    await closeAll(srv);
  });
});
