'use strict';

// createSocket() options: reuseAddr, ipv6Only, recvBufferSize /
// sendBufferSize (applied when the socket starts listening), lookup, signal,
// and reusePort (a dgram-rs addition on Node 20: no parity, checked on its
// own). Compared with node:dgram wherever Node 20 has the option.

const test = require('ava');
const { getEventListeners } = require('node:events');
const {
  parity,
  boundSocket,
  closeAll,
  collect,
  fence,
  once,
  errShape,
  capture,
  childParity,
  uncaughtSummary,
  impls,
  withTimeout,
  internals,
} = require('./helpers.js');
const { rec } = require('./options-helpers.js');


/** bind() as a promise of 'ok' or the error's shape. */
function tryBind(s, ...args) {
  return withTimeout(new Promise((resolve) => {
    const onError = (err) => resolve({ error: errShape(err) });
    s.once('error', onError);
    s.bind(...args, () => {
      s.removeListener('error', onError);
      resolve('ok');
    });
  }), 3000, 'bind');
}

// ---------------------------------------------------------------------------
// reuseAddr

test('reuseAddr: two sockets bind the same port; without it EADDRINUSE; the last one bound gets unicast', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const a = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    tr.push({ a: await tryBind(a, 0, '127.0.0.1') });
    const port = tr.reg(a.address().port, 'shared');
    const b = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    tr.push({ b: await tryBind(b, port, '127.0.0.1') });
    const c = dgram.createSocket({ type: 'udp4' });
    tr.push({ cWithoutReuse: await tryBind(c, port, '127.0.0.1') });
    const d = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    tr.push({ dReuseFalse: await tryBind(d, port, '127.0.0.1') });
    tr.push({ reuseAddrField: [internals(a).reuseAddr, internals(c).reuseAddr, internals(d).reuseAddr] });
    const got = [];
    a.on('message', (m) => got.push(`a:${m}`));
    b.on('message', (m) => got.push(`b:${m}`));
    const inboxB = collect(b);
    const tx = dgram.createSocket('udp4');
    await new Promise((resolve) => tx.send('1', port, '127.0.0.1', resolve));
    await inboxB.wait(1);
    tr.push({ got });
    await closeAll(a, b, c, d, tx);
  });
  t.is(node[0].a, 'ok');
  t.is(node[1].b, 'ok');
  t.is(node[2].cWithoutReuse.error.code, 'EADDRINUSE');
});

// ---------------------------------------------------------------------------
// ipv6Only

test('ipv6Only: a udp6 socket on :: shares its port with a udp4 socket; each gets its own family', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const v6 = dgram.createSocket({ type: 'udp6', ipv6Only: true });
    tr.push({ v6: await tryBind(v6, 0, '::') });
    const port = tr.reg(v6.address().port, 'shared');
    const v4 = dgram.createSocket('udp4');
    tr.push({ v4: await tryBind(v4, port, '0.0.0.0') });
    const in6 = collect(v6);
    const in4 = collect(v4);
    const tx4 = await boundSocket(dgram, 'udp4');
    const tx6 = await boundSocket(dgram, 'udp6');
    tr.reg(tx4.address().port, 'tx4');
    tr.reg(tx6.address().port, 'tx6');
    await new Promise((resolve) => tx4.send('to4', port, '127.0.0.1', resolve));
    await new Promise((resolve) => tx6.send('to6', port, '::1', resolve));
    await in4.wait(1);
    await in6.wait(1);
    tr.push({
      v4got: in4.msgs.map((m) => ({ msg: m.msg.toString(), rinfo: m.rinfo })),
      v6got: in6.msgs.map((m) => ({ msg: m.msg.toString(), rinfo: m.rinfo })),
    });
    await closeAll(v6, v4, tx4, tx6);
  });
  t.is(node[1].v4, 'ok');
  t.is(node[2].v4got[0].msg, 'to4');
});

test('ipv6Only: the udp6 socket alone does not receive IPv4 datagrams; without ipv6Only it does (mapped) and the port is taken', async (t) => {
  await parity(t, async (dgram, tr) => {
    const only = dgram.createSocket({ type: 'udp6', ipv6Only: true });
    await tryBind(only, 0, '::');
    const port = tr.reg(only.address().port, 'only');
    const inbox = collect(only);
    const tx4 = await boundSocket(dgram, 'udp4');
    tr.reg(tx4.address().port, 'tx4');
    await new Promise((resolve) => tx4.send('ipv4 datagram', port, '127.0.0.1', resolve));
    tr.push({ ipv6OnlyReceived: await fence(inbox, port, '::1') });

    const dual = dgram.createSocket('udp6');
    await tryBind(dual, 0, '::');
    const dualPort = tr.reg(dual.address().port, 'dual');
    const dualIn = collect(dual);
    await new Promise((resolve) => tx4.send('mapped', dualPort, '127.0.0.1', resolve));
    const [{ msg, rinfo }] = await dualIn.wait(1);
    tr.push({ dual: msg.toString(), rinfo });
    const v4 = dgram.createSocket('udp4');
    tr.push({ udp4OnDualPort: await tryBind(v4, dualPort, '0.0.0.0') });
    await closeAll(only, tx4, dual, v4);
  });
});

// libuv refuses UV_UDP_IPV6ONLY for an IPv4 address (uv__udp_bind: EINVAL),
// so on Node a udp4 socket created with ipv6Only: true cannot bind.
test('ipv6Only: true on a udp4 socket: bind fails with EINVAL like node', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket({ type: 'udp4', ipv6Only: true });
    tr.push({ bind: await tryBind(s, 0, '127.0.0.1') });
    tr.push({ bindState: internals(s).bindState, address: capture(() => s.address()) });
    await closeAll(s);
  });
  t.is(node[0].bind.error.message, 'bind EINVAL 127.0.0.1');
});

// ---------------------------------------------------------------------------
// recvBufferSize / sendBufferSize

test('recvBufferSize/sendBufferSize options: applied when listening (explicit and implicit bind), values as node', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const a = dgram.createSocket({ type: 'udp4', recvBufferSize: 12345, sendBufferSize: 23456 });
    tr.push({ beforeBind: capture(() => a.getRecvBufferSize()).threw.code });
    a.bind(0, '127.0.0.1');
    await once(a, 'listening');
    tr.push({ explicit: [a.getRecvBufferSize(), a.getSendBufferSize()] });
    // Inside a 'listening' listener registered first, the sizes are
    // already applied (startListening sets them before emitting).
    const b = dgram.createSocket({ type: 'udp6', recvBufferSize: 50000 });
    const seen = new Promise((resolve) => b.once('listening', () => resolve(b.getRecvBufferSize())));
    b.send('x', 9, '::1');
    tr.push({ implicitInListening: await seen });
    // 0 / undefined: left alone.
    const c = dgram.createSocket({ type: 'udp4', recvBufferSize: 0, sendBufferSize: undefined });
    const d = dgram.createSocket({ type: 'udp4' });
    await Promise.all([tryBind(c, 0, '127.0.0.1'), tryBind(d, 0, '127.0.0.1')]);
    tr.push({ zeroSameAsDefault: c.getRecvBufferSize() === d.getRecvBufferSize() });
    await closeAll(a, b, c, d);
  });
  // Linux doubles the sizes asked for; Windows keeps them (macOS: not pinned).
  if (process.platform === 'linux') t.deepEqual(node.find((e) => 'explicit' in e).explicit, [24690, 46912]);
  if (process.platform === 'win32') t.deepEqual(node.find((e) => 'explicit' in e).explicit, [12345, 23456]);
});

test('invalid buffer size options and other bad options throw at createSocket like node', async (t) => {
  await parity(t, async (dgram, tr) => {
    const cases = {
      'recvBufferSize: -1': { recvBufferSize: -1 },
      'recvBufferSize: "x"': { recvBufferSize: 'x' },
      'sendBufferSize: 1.5': { sendBufferSize: 1.5 },
      'sendBufferSize: 2 ** 32': { sendBufferSize: 2 ** 32 },
      'recvBufferSize: NaN': { recvBufferSize: NaN },
      'recvBufferSize: true': { recvBufferSize: true },
      'recvBufferSize: 2 ** 31 (accepted here)': { recvBufferSize: 2 ** 31 },
      'lookup: null': { lookup: null },
      'lookup: 5': { lookup: 5 },
      'type: "udp5"': { type: 'udp5' },
      'type missing': { type: undefined },
    };
    for (const [label, opts] of Object.entries(cases)) {
      rec(tr, label, () => {
        const s = dgram.createSocket({ type: 'udp4', ...opts });
        s.close();
        return 'created';
      });
    }
  });
});

// Node validates the option as a uint32 but its native BufferSize() then
// refuses a non-int32 with EINVAL; as the sizes are applied inside the bind
// lookup callback, the SystemError is thrown uncaught and the process dies.
test('recvBufferSize: 2 ** 31 option: the bind crashes the process with ERR_SOCKET_BUFFER_SIZE like node', async (t) => {
  const script = `
    const dgram = require(process.env.DGRAM);
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 2 ** 31 });
    s.on('listening', () => console.log('listening', s.getRecvBufferSize() > 0));
    s.on('error', (e) => console.log('error event', e.code));
    s.bind(0, '127.0.0.1');
    setTimeout(() => { console.log('still alive'); s.close(); }, 300);
  `;
  const { node } = await childParity(t, script, { stderr: uncaughtSummary });
  t.is(node.code, 1);
  t.regex(node.stderr, /ERR_SOCKET_BUFFER_SIZE/);
});

// ---------------------------------------------------------------------------
// lookup

test('lookup option: called with (host, family, cb) for bind, send (default address too) and connect', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const calls = [];
    const lookup = (...args) => {
      const [host, family, cb] = args;
      calls.push({ host, family, cb: typeof cb, argc: args.length });
      setImmediate(() => cb(null, family === 6 ? '::1' : '127.0.0.1', family));
    };
    const rx = await boundSocket(dgram);
    const port = tr.reg(rx.address().port, 'rx');
    const inbox = collect(rx);
    const s = dgram.createSocket({ type: 'udp4', lookup });
    tr.push({ bind: await tryBind(s, 0, 'my-host') });
    tr.reg(s.address().port, 's');
    tr.push({ address: s.address() });
    s.send('named', port, 'peer-name');
    s.send('default', port);
    await inbox.wait(2);
    s.connect(port, 'peer2');
    await once(s, 'connect');
    tr.push({ remote: s.remoteAddress() });
    tr.push({ calls: [...calls], received: inbox.msgs.map((m) => m.msg.toString()).sort() });
    const s6 = dgram.createSocket({ type: 'udp6', lookup });
    tr.push({ bind6: await tryBind(s6) });
    tr.push({ calls6: calls.slice(4) });
    tr.reg(s6.address().port, 's6');
    await closeAll(rx, s, s6);
  });
  t.deepEqual(node.find((e) => e.calls).calls.map((c) => [c.host, c.family]), [
    ['my-host', 4],
    ['peer-name', 4],
    ['127.0.0.1', 4],
    ['peer2', 4],
  ]);
});

test('lookup option: synchronous callback emits listening inside bind(); errors and wrong families like node', async (t) => {
  await parity(t, async (dgram, tr) => {
    const order = [];
    const sync = dgram.createSocket({ type: 'udp4', lookup: (h, f, cb) => cb(null, '127.0.0.1', 4) });
    sync.on('listening', () => order.push('listening'));
    sync.bind(0, 'x');
    order.push('bind returned');
    tr.push({ order });

    const failing = dgram.createSocket({
      type: 'udp4',
      lookup: (h, f, cb) => {
        const err = new Error(`getaddrinfo ENOTFOUND ${h}`);
        err.code = 'ENOTFOUND';
        setImmediate(() => cb(err));
      },
    });
    tr.push({ failing: await tryBind(failing, 0, 'nowhere'), bindState: internals(failing).bindState });
    const wrongFamily = dgram.createSocket({ type: 'udp4', lookup: (h, f, cb) => setImmediate(() => cb(null, '::1', 6)) });
    tr.push({ wrongFamily: await tryBind(wrongFamily, 0, 'x') });
    const notAnIp = dgram.createSocket({ type: 'udp4', lookup: (h, f, cb) => setImmediate(() => cb(null, 'not-an-ip', 4)) });
    tr.push({ notAnIp: await tryBind(notAnIp, 0, 'x') });
    await closeAll(sync, failing, wrongFamily, notAnIp);
  });
});

// ---------------------------------------------------------------------------
// signal

test('signal: abort closes a bound socket (close event, handle gone, listener removed)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const ac = new AbortController();
    const s = dgram.createSocket({ type: 'udp4', signal: ac.signal });
    const events = [];
    for (const e of ['listening', 'close', 'error']) s.on(e, () => events.push(e));
    await tryBind(s, 0, '127.0.0.1');
    tr.push({ abortListeners: getEventListeners(ac.signal, 'abort').length });
    ac.abort();
    tr.push({ handleNullSync: internals(s).handle === null, eventsSync: [...events] });
    await once(s, 'close').catch(() => {});
    tr.push({ events, abortListenersAfter: getEventListeners(ac.signal, 'abort').length });
    tr.push({ address: capture(() => s.address()), close: capture(() => s.close()) });
  });
  t.deepEqual(node.find((e) => e.events).events, ['listening', 'close']);
});

test('signal: already aborted closes immediately; abort during a pending bind; abort after close; close removes the listener', async (t) => {
  await parity(t, async (dgram, tr) => {
    const pre = dgram.createSocket({ type: 'udp4', signal: AbortSignal.abort() });
    const preEvents = [];
    pre.on('close', () => preEvents.push('close'));
    tr.push({ preHandle: internals(pre).handle === null, preAddress: capture(() => pre.address()), preBind: capture(() => pre.bind(0)) });
    await new Promise((resolve) => setImmediate(resolve));
    tr.push({ preEvents });

    const ac = new AbortController();
    const pending = dgram.createSocket({ type: 'udp4', signal: ac.signal });
    const pendingEvents = [];
    for (const e of ['listening', 'close', 'error']) pending.on(e, () => pendingEvents.push(e));
    pending.bind(0, '127.0.0.1');
    ac.abort();
    await new Promise((resolve) => setTimeout(resolve, 30));
    tr.push({ pendingEvents });

    const ac2 = new AbortController();
    const closed = dgram.createSocket({ type: 'udp4', signal: ac2.signal });
    tr.push({ listenersBeforeClose: getEventListeners(ac2.signal, 'abort').length });
    closed.close();
    await once(closed, 'close');
    tr.push({ listenersAfterClose: getEventListeners(ac2.signal, 'abort').length });
    tr.push({ abortAfterClose: capture(() => ac2.abort()) });

    // An abort with a reason: the reason is not surfaced.
    const ac3 = new AbortController();
    const withReason = dgram.createSocket({ type: 'udp4', signal: ac3.signal });
    const reasonEvents = [];
    withReason.on('close', (...args) => reasonEvents.push({ close: args.length }));
    withReason.on('error', (e) => reasonEvents.push({ error: errShape(e) }));
    ac3.abort(new Error('because'));
    await new Promise((resolve) => setImmediate(resolve));
    tr.push({ reasonEvents });
  });
});

test('signal: an abort listener that stops propagation does not keep the socket open; the listener on \'close\' is Node\'s disposer', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const ac = new AbortController();
    ac.signal.addEventListener('abort', (e) => e.stopImmediatePropagation());
    const s = dgram.createSocket({ type: 'udp4', signal: ac.signal });
    tr.push({ closeListeners: s.listeners('close').map((f) => f.name) });
    await tryBind(s, 0, '127.0.0.1');
    ac.abort();
    tr.push({ handleNull: internals(s).handle === null, address: capture(() => s.address()) });
    if (internals(s).handle !== null) s.close();
  });
  t.like(node[1], { handleNull: true });
});

test('signal: a non-AbortSignal throws ERR_INVALID_ARG_TYPE with node\'s message', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const values = { 5: 5, '{}': {}, null: null, '"x"': 'x', EventTarget: new EventTarget(), 'signal-like': { aborted: false, addEventListener() {}, removeEventListener() {} }, undefined };
    for (const [label, signal] of Object.entries(values)) {
      rec(tr, label, () => {
        const s = dgram.createSocket({ type: 'udp4', signal });
        s.close();
        return 'created';
      });
    }
  });
  t.is(node[0]['5'].threw.message, 'The "options.signal" property must be an instance of AbortSignal. Received type number (5)');
});

// ---------------------------------------------------------------------------
// reusePort (Node 22.12+/23.1+; Node 20 ignores it): dgram-rs only.
// Load balancing exists on Linux and FreeBSD; elsewhere (macOS, Windows)
// bind fails with ENOTSUP, as libuv.
const reusePortBalances = ['linux', 'android', 'freebsd'].includes(process.platform);

/** Where reusePort is not supported: bind fails with ENOTSUP. */
async function reusePortUnsupported(t, options, address) {
  const s = impls.rs.createSocket(options);
  const r = await tryBind(s, 0, address);
  t.like(r, { error: { code: 'ENOTSUP', syscall: 'bind', message: `bind ENOTSUP ${address}` } });
  await closeAll(s);
}

test('reusePort: two dgram-rs sockets bind the same port and both receive (no parity: Node 20 ignores the option)', async (t) => {
  if (!reusePortBalances) return reusePortUnsupported(t, { type: 'udp4', reusePort: true }, '127.0.0.1');
  const dgram = impls.rs;
  const a = dgram.createSocket({ type: 'udp4', reusePort: true });
  const b = dgram.createSocket({ type: 'udp4', reusePort: true });
  try {
    t.is(await tryBind(a, 0, '127.0.0.1'), 'ok');
    const port = a.address().port;
    t.is(await tryBind(b, port, '127.0.0.1'), 'ok');
    t.is(b.address().port, port);
    // Without reusePort the port is taken.
    const c = dgram.createSocket('udp4');
    const cResult = await tryBind(c, port, '127.0.0.1');
    t.is(cResult.error && cResult.error.code, 'EADDRINUSE');
    await closeAll(c);
    // The kernel spreads datagrams over the group by source address/port:
    // send from fresh sockets until both have received.
    const inA = collect(a);
    const inB = collect(b);
    for (let i = 0; i < 64 && (inA.msgs.length === 0 || inB.msgs.length === 0); i++) {
      const tx = impls.node.createSocket('udp4');
      await new Promise((resolve) => tx.send(`m${i}`, port, '127.0.0.1', resolve));
      await new Promise((resolve) => tx.close(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await withTimeout((async () => {
      while (inA.msgs.length === 0 || inB.msgs.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    })(), 2000, 'both sockets to receive').catch(() => {});
    t.log(`received: a=${inA.msgs.length} b=${inB.msgs.length}`);
    t.true(inA.msgs.length > 0, 'first socket received');
    t.true(inB.msgs.length > 0, 'second socket received');
  } finally {
    await closeAll(a, b);
  }
  // For the record: what Node 20 does with the same option.
  const n1 = impls.node.createSocket({ type: 'udp4', reusePort: true });
  const n2 = impls.node.createSocket({ type: 'udp4', reusePort: true });
  await tryBind(n1, 0, '127.0.0.1');
  const r = await tryBind(n2, n1.address().port, '127.0.0.1');
  t.log(`node:dgram ${process.version} with reusePort: second bind -> ${r === 'ok' ? 'ok' : r.error.code}`);
  await closeAll(n1, n2);
});

test('reusePort with ipv6 and reuseAddr combined: dgram-rs binds twice and address() is right', async (t) => {
  if (!reusePortBalances) return reusePortUnsupported(t, { type: 'udp6', reusePort: true, reuseAddr: true }, '::1');
  const dgram = impls.rs;
  const a = dgram.createSocket({ type: 'udp6', reusePort: true, reuseAddr: true });
  const b = dgram.createSocket({ type: 'udp6', reusePort: true, reuseAddr: true });
  try {
    t.is(await tryBind(a, 0, '::1'), 'ok');
    t.is(await tryBind(b, a.address().port, '::1'), 'ok');
    t.deepEqual(b.address(), a.address());
  } finally {
    await closeAll(a, b);
  }
});

// util.inspect(socket) (console.log while debugging): the state shows
// node:dgram's fields, in its order, unbound, bound with options, closed.
test('util.inspect of a socket shows what node:dgram\'s shows (its state fields, in its order)', async (t) => {
  const { inspect } = require('node:util');
  await parity(t, async (dgram, tr) => {
    const view = (s) => inspect(s, { depth: 1 }).replace(/async_id_symbol\)\]?: \d+/g, 'async_id');
    const a = dgram.createSocket('udp4');
    tr.push({ unbound: view(a) });
    const b = dgram.createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true, recvBufferSize: 65536 });
    await new Promise((resolve) => b.bind(0, '::1', resolve));
    tr.push({ bound: view(b) });
    b.close();
    tr.push({ closed: view(b) });
    a.close();
  });
});

// createSocket() reads its options object as node:dgram does: each option
// as often and in the same order (a getter, or a Proxy, sees the same
// reads), apart from the options node:dgram of the running Node does not
// have (dgram-rs's recvDestination; before Node 22.12/22.13 reusePort and
// the block lists, which dgram-rs offers on every Node).
test('createSocket(options) reads each option as often, and in the same order, as node:dgram', async (t) => {
  const { stateHasReusePort, stateHasBlockLists } = require('../lib/node-version.js');
  const { BlockList } = require('node:net');
  const ours = new Set(['recvDestination']);
  if (!stateHasReusePort) ours.add('reusePort');
  if (!stateHasBlockLists) ours.add('receiveBlockList').add('sendBlockList');
  const results = await parity(t, async (dgram, tr) => {
    const shapes = [
      { type: 'udp4' },
      { type: 'udp4', recvBufferSize: 8192, sendBufferSize: 8192, reuseAddr: true, ipv6Only: false, lookup: require('node:dns').lookup },
      { type: 'udp6', receiveBlockList: new BlockList(), sendBlockList: new BlockList(), reusePort: false, signal: new AbortController().signal },
    ];
    for (const shape of shapes) {
      const reads = [];
      const options = new Proxy(shape, {
        get(target, key) {
          if (typeof key === 'string' && !ours.has(key)) reads.push(key);
          return target[key];
        },
      });
      const s = dgram.createSocket(options);
      tr.push(reads);
      await closeAll(s);
    }
  });
  t.true(results.rs[0].includes('recvBufferSize'));
});
