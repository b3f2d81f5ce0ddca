'use strict';

// bind() in every form, its errors, its lookup, 'listening' timing, and
// address().

const test = require('ava');
const { parity, capture, errShape, once, closeAll, boundSocket, closedPort, withTimeout } = require('./helpers.js');

/**
 * Calls `doBind(socket, cb)` and records: what bind returned, whether
 * 'listening' came before bind() returned, listening vs callback order, the
 * callback's this/arguments and the bound address.
 */
async function recordBind(dgram, tr, type, label, doBind, { withCb = true, port } = {}) {
  const s = dgram.createSocket(type);
  const order = [];
  let returned = false;
  s.on('listening', () => order.push({ listening: true, sync: !returned }));
  s.on('error', (err) => order.push({ error: errShape(err) }));
  const cb = function (...args) {
    order.push({ cb: true, self: this === s, args: args.length, sync: !returned });
  };
  const done = once(s, 'listening');
  const r = capture(() => doBind(s, withCb ? cb : undefined), s);
  returned = true;
  await done;
  await new Promise((resolve) => setImmediate(resolve));
  const addr = s.address();
  if (port === undefined) tr.reg(addr.port, `${label}`);
  else tr.reg(port, 'fixed');
  // Named here too: the kernel may hand a later form the ephemeral port of
  // an earlier one (closed by then), which the trace would name after it.
  const named = { ...addr, port: addr.port > 0 ? `PORT:${port === undefined ? label : 'fixed'}` : addr.port };
  tr.push({ label, r, order, addr: named, addrKeys: Object.keys(addr) });
  await closeAll(s);
}

test('bind() forms on udp4: return value, listening, callback, address', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const forms = {
      'bind()': (s) => s.bind(),
      'bind(0)': (s) => s.bind(0),
      'bind(0, addr)': (s) => s.bind(0, '127.0.0.1'),
      'bind(0, cb)': (s, cb) => s.bind(0, cb),
      'bind(0, addr, cb)': (s, cb) => s.bind(0, '127.0.0.1', cb),
      'bind(cb)': (s, cb) => s.bind(cb),
      'bind({})': (s) => s.bind({}),
      'bind({}, cb)': (s, cb) => s.bind({}, cb),
      'bind({port,address,exclusive})': (s) => s.bind({ port: 0, address: '127.0.0.1', exclusive: true }),
      'bind({port,address,exclusive:false}, cb)': (s, cb) => s.bind({ port: 0, address: '127.0.0.1', exclusive: false }, cb),
      'bind({address}, cb)': (s, cb) => s.bind({ address: '127.0.0.1' }, cb),
      'bind(undefined, addr, cb)': (s, cb) => s.bind(undefined, '127.0.0.1', cb),
      'bind(null, cb)': (s, cb) => s.bind(null, cb),
      'bind(0, undefined, cb)': (s, cb) => s.bind(0, undefined, cb),
      'bind(0, null, cb)': (s, cb) => s.bind(0, null, cb),
      'bind(0, "", cb)': (s, cb) => s.bind(0, '', cb),
      'bind("0", addr, cb)': (s, cb) => s.bind('0', '127.0.0.1', cb),
      'bind(0, addr, notAFunction)': (s) => s.bind(0, '127.0.0.1', 'nope'),
      'bind(0, "localhost", cb)': (s, cb) => s.bind(0, 'localhost', cb),
    };
    for (const [label, fn] of Object.entries(forms)) await recordBind(dgram, tr, 'udp4', label, fn);
  });
  t.is(node[0].r.returned, 'this');
  t.is(node[0].addr.address, '0.0.0.0');
});

test('bind() forms on udp6', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const forms = {
      'bind()': (s) => s.bind(),
      'bind(0, "::1", cb)': (s, cb) => s.bind(0, '::1', cb),
      'bind({port:0, address:"::1"}, cb)': (s, cb) => s.bind({ port: 0, address: '::1' }, cb),
      'bind(0, "::ffff:127.0.0.1", cb)': (s, cb) => s.bind(0, '::ffff:127.0.0.1', cb),
    };
    for (const [label, fn] of Object.entries(forms)) await recordBind(dgram, tr, 'udp6', label, fn);
  });
  t.is(node[0].addr.address, '::');
  t.is(node[0].addr.family, 'IPv6');
});

test('bind(port) / bind(port, address, cb) / bind({port}) with a fixed free port', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (const [label, fn] of [
      ['bind(port)', (s, cb, port) => s.bind(port)],
      ['bind(port, cb)', (s, cb, port) => s.bind(port, cb)],
      ['bind(port, addr, cb)', (s, cb, port) => s.bind(port, '127.0.0.1', cb)],
      ['bind({port}, cb)', (s, cb, port) => s.bind({ port }, cb)],
      ['bind(String(port), addr)', (s, cb, port) => s.bind(String(port), '127.0.0.1')],
    ]) {
      const port = await closedPort();
      await recordBind(dgram, tr, 'udp4', label, (s, cb) => fn(s, cb, port), { port });
    }
  });
});

// A string holding a negative 32-bit integer binds an ephemeral port on
// node:dgram (the number -1 would give 65535; fuzzer R17).
test('odd port values are coerced like node (65536, "abc", NaN, "0x0", "-1")', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (const port of [65536, 'abc', NaN, '0x0', [], {}.x, '-1', ' -5', '-1e3', '-2147483648']) {
      const s = dgram.createSocket('udp4');
      const events = [];
      s.on('error', (e) => events.push(errShape(e)));
      const r = capture(() => s.bind(port, '127.0.0.1'), s);
      await withTimeout(new Promise((resolve) => {
        s.once('listening', resolve);
        s.once('error', resolve);
      }), 3000, 'listening/error');
      let addr;
      try {
        addr = s.address();
        tr.reg(addr.port, String(port));
      } catch (e) {
        addr = errShape(e);
      }
      tr.push({ port: String(port), r, events, addr });
      await closeAll(s);
    }
  });
});

test('listening is emitted asynchronously, in the tick order node uses', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const addr of [undefined, '127.0.0.1', 'localhost']) {
      const s = dgram.createSocket('udp4');
      const order = [];
      s.on('listening', () => order.push('listening(before bind)'));
      process.nextTick(() => order.push('nextTick before bind'));
      s.bind(0, addr, () => order.push('bind cb'));
      s.on('listening', () => order.push('listening(after bind)'));
      order.push('bind returned');
      process.nextTick(() => order.push('nextTick after bind'));
      Promise.resolve().then(() => order.push('microtask after bind'));
      const immediate = new Promise((resolve) => setImmediate(() => { order.push('setImmediate after bind'); resolve(); }));
      await once(s, 'listening');
      await immediate;
      await new Promise((resolve) => setTimeout(resolve, 20));
      tr.push({ addr: String(addr), order: addr === 'localhost' ? order.filter((o) => !o.startsWith('setImmediate') && !o.startsWith('microtask') && !o.startsWith('nextTick')) : order });
      await closeAll(s);
    }
  });
  t.is(node[0].order[0], 'bind returned');
});

test('bind twice throws ERR_SOCKET_ALREADY_BOUND synchronously (binding and bound)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    const events = [];
    s.on('error', (e) => events.push(errShape(e)));
    s.bind(0, '127.0.0.1');
    tr.push({ whileBinding: capture(() => s.bind(0, '127.0.0.1'), s) });
    await once(s, 'listening');
    tr.push({ whileBound: capture(() => s.bind(0), s) });
    tr.push({ whileBoundObj: capture(() => s.bind({ port: 0 }, () => {}), s) });
    await new Promise((resolve) => setImmediate(resolve));
    tr.push({ events, listeningListeners: s.listenerCount('listening') });
    await closeAll(s);
  });
  t.is(node[0].whileBinding.threw.code, 'ERR_SOCKET_ALREADY_BOUND');
});

test('bind after close throws ERR_SOCKET_DGRAM_NOT_RUNNING', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const a = dgram.createSocket('udp4');
    a.close();
    tr.push({ unboundClosed: capture(() => a.bind(0), a) });
    const b = await boundSocket(dgram);
    await closeAll(b);
    tr.push({ boundClosed: capture(() => b.bind(0), b) });
  });
  t.is(node[0].unboundClosed.threw.code, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
});

test('EADDRINUSE: full error shape via the error event, no listening, no callback', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const a = await boundSocket(dgram);
    const port = tr.reg(a.address().port, 'taken');
    const b = dgram.createSocket('udp4');
    const events = [];
    b.on('listening', () => events.push('listening'));
    b.on('error', (e) => events.push({ error: errShape(e) }));
    let returned = false;
    const r = capture(() => b.bind(port, '127.0.0.1', () => events.push('bind cb')), b);
    returned = true;
    const [err] = await once(b, 'error');
    tr.push({ r, errorAfterReturn: returned, instanceOfError: err instanceof Error });
    await new Promise((resolve) => setTimeout(resolve, 20));
    tr.push({ events: [...events], listeningListeners: b.listenerCount('listening'), errorListeners: b.listenerCount('error') });
    tr.push({ addressAfterError: capture(() => b.address()) });
    // The socket is usable again: a new bind works and the old callback is not called.
    b.bind(0, '127.0.0.1');
    await once(b, 'listening');
    tr.reg(b.address().port, 'rebound');
    tr.push({ afterRebind: events, address: b.address() });
    await closeAll(a, b);
  });
  const err = node[1].events[0].error;
  t.truthy(err);
  t.is(err.code, 'EADDRINUSE');
  t.is(err.message, 'bind EADDRINUSE 127.0.0.1:PORT:taken');
});

test('EADDRINUSE on udp6 ::1', async (t) => {
  await parity(t, async (dgram, tr) => {
    const a = await boundSocket(dgram, 'udp6');
    const port = tr.reg(a.address().port, 'taken');
    const b = dgram.createSocket('udp6');
    b.bind(port, '::1');
    const [err] = await once(b, 'error');
    tr.push(errShape(err));
    await closeAll(a, b);
  });
});

test('bind errors: EINVAL for the wrong family, EADDRNOTAVAIL for a non-local address', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const [type, addr, port] of [['udp4', '::1', 0], ['udp6', '127.0.0.1', 0], ['udp4', '192.0.2.1', 0], ['udp4', '192.0.2.1', 4444], ['udp6', '2001:db8::1', 0]]) {
      const s = dgram.createSocket(type);
      s.bind(port, addr);
      const [err] = await once(s, 'error');
      tr.push({ type, addr, err: errShape(err) });
      await closeAll(s);
    }
  });
  t.is(node[0].err.code, 'EINVAL');
});

test('reuseAddr lets two sockets bind the same port', async (t) => {
  await parity(t, async (dgram, tr) => {
    const a = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise((resolve) => a.bind(0, '127.0.0.1', resolve));
    const port = tr.reg(a.address().port, 'shared');
    const b = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const events = [];
    b.on('error', (e) => events.push(errShape(e)));
    b.on('listening', () => events.push({ listening: b.address() }));
    b.bind(port, '127.0.0.1');
    await withTimeout(new Promise((resolve) => { b.once('listening', resolve); b.once('error', resolve); }), 3000, 'b');
    // Without reuseAddr on the third socket: EADDRINUSE.
    const c = dgram.createSocket('udp4');
    c.on('error', (e) => events.push({ c: errShape(e) }));
    c.bind(port, '127.0.0.1');
    await withTimeout(new Promise((resolve) => { c.once('listening', resolve); c.once('error', resolve); }), 3000, 'c');
    tr.push(events);
    await closeAll(a, b, c);
  });
});

test('bind to a host name that does not resolve: error event from the lookup', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    const events = [];
    s.on('listening', () => events.push('listening'));
    s.bind(0, 'nonexistent.invalid', () => events.push('cb'));
    const [err] = await once(s, 'error', 10000);
    const shape = errShape(err);
    // The resolver may answer ENOTFOUND or EAI_AGAIN; normalise only that.
    if (shape.code === 'EAI_AGAIN') {
      shape.code = 'ENOTFOUND';
      shape.message = shape.message.replace('EAI_AGAIN', 'ENOTFOUND');
    }
    delete shape.errno;
    delete shape.string;
    delete shape.stackHead;
    tr.push({ shape, events, again: capture(() => { s.bind(0, '127.0.0.1'); return 'rebind ok'; }) });
    await once(s, 'listening');
    tr.push({ events });
    await closeAll(s);
  }, { ms: 20000 });
  t.is(node[0].shape.syscall, 'getaddrinfo');
});

test('custom lookup: called as lookup(host, 4|6, cb), default host, async result', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const [type, host, answer] of [['udp4', 'a.example', '127.0.0.1'], ['udp4', undefined, '127.0.0.1'], ['udp6', 'b.example', '::1'], ['udp6', undefined, '::1']]) {
      const calls = [];
      const s = dgram.createSocket({
        type,
        lookup(...args) {
          calls.push({ host: args[0], family: args[1], argc: args.length, cb: typeof args[2] });
          setTimeout(() => args[2](null, answer, args[1]), 5);
        },
      });
      s.bind(0, host);
      await once(s, 'listening');
      tr.reg(s.address().port, `${type}-${host}`);
      tr.push({ type, host: String(host), calls, addr: s.address() });
      await closeAll(s);
    }
  });
  t.is(node[0].calls[0].family, 4);
  t.is(node[1].calls[0].host, '0.0.0.0');
});

test('custom lookup error becomes the error event (same object), socket can bind again', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const lookupErr = Object.assign(new Error('lookup failed'), { code: 'ECUSTOM' });
    let fail = true;
    const s = dgram.createSocket({
      type: 'udp4',
      lookup(host, family, cb) {
        if (fail) process.nextTick(cb, lookupErr);
        else cb(null, '127.0.0.1', 4);
      },
    });
    const events = [];
    s.on('listening', () => events.push('listening'));
    s.bind(0, 'x.example', () => events.push('cb'));
    const [err] = await once(s, 'error');
    tr.push({ same: err === lookupErr, events: [...events], address: capture(() => s.address()) });
    fail = false;
    const listening = once(s, 'listening');
    tr.push({ rebind: capture(() => s.bind(0, 'x.example'), s) });
    await listening;
    tr.reg(s.address().port, 'p');
    tr.push({ events, address: s.address() });
    await closeAll(s);
  });
  t.true(node[0].same);
});

test('custom lookup that answers synchronously emits listening inside bind()', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket({ type: 'udp4', lookup: (h, f, cb) => cb(null, '127.0.0.1', 4) });
    const order = [];
    s.on('listening', () => order.push('listening'));
    s.bind(0, 'sync.example', () => order.push('cb'));
    order.push('returned');
    await new Promise((resolve) => setImmediate(resolve));
    tr.push(order);
    await closeAll(s);
  });
});

test('custom lookup that throws synchronously: thrown from bind()', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket({ type: 'udp4', lookup: () => { throw new Error('boom'); } });
    const events = [];
    s.on('error', (e) => events.push(errShape(e)));
    tr.push(capture(() => s.bind(0, 'x.example'), s));
    await new Promise((resolve) => setImmediate(resolve));
    tr.push({ events, again: capture(() => s.bind(0), s) });
    await closeAll(s);
  });
});

test('custom lookup returning a non-string address', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (const answer of [undefined, 12345, '   ', 'not-an-ip']) {
      const s = dgram.createSocket({ type: 'udp4', lookup: (h, f, cb) => process.nextTick(cb, null, answer, 4) });
      const r = await withTimeout(new Promise((resolve) => {
        s.once('listening', () => resolve({ listening: s.address().address }));
        s.once('error', (e) => resolve({ error: errShape(e) }));
        try { s.bind(0, 'x.example'); } catch (e) { resolve({ threw: errShape(e) }); }
      }), 3000, 'bind result');
      tr.push({ answer: String(answer), r });
      await closeAll(s);
    }
  });
});

test('address() when unbound / binding throws EBADF (getsockname), after close ERR_SOCKET_DGRAM_NOT_RUNNING', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const type of ['udp4', 'udp6']) {
      const s = dgram.createSocket(type);
      tr.push({ type, unbound: capture(() => s.address()) });
      s.bind(0);
      tr.push({ type, binding: capture(() => s.address()) });
      await once(s, 'listening');
      const a = s.address();
      tr.reg(a.port, type);
      tr.push({ type, bound: a, keys: Object.keys(a), fresh: s.address() !== a });
      await closeAll(s);
      tr.push({ type, closed: capture(() => s.address()) });
    }
  });
  t.is(node[0].unbound.threw.code, 'EBADF');
  t.is(node[0].unbound.threw.syscall, 'getsockname');
});

test('listening event has no arguments; bind callback gets none', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    const p = new Promise((resolve) => s.on('listening', (...args) => resolve(args.length)));
    let cbArgs;
    s.bind(0, '127.0.0.1', (...args) => { cbArgs = args.length; });
    tr.push(await withTimeout(p), cbArgs);
    await closeAll(s);
  });
});

test('bind callback is removed after an error and not called on a later bind', async (t) => {
  await parity(t, async (dgram, tr) => {
    const a = await boundSocket(dgram);
    const port = tr.reg(a.address().port, 'taken');
    const s = dgram.createSocket('udp4');
    const calls = [];
    s.on('error', () => calls.push('error'));
    s.bind(port, '127.0.0.1', () => calls.push('first cb'));
    await once(s, 'error');
    s.bind(0, '127.0.0.1', () => calls.push('second cb'));
    await once(s, 'listening');
    await new Promise((resolve) => setImmediate(resolve));
    tr.push(calls);
    await closeAll(a, s);
  });
});

// The bind address goes through the socket's lookup: Node 20 hands anything
// but a string to dns.lookup, which throws ERR_INVALID_ARG_TYPE; from Node
// 24.19 / 26.5 the default lookup first reads it as a string (a Symbol or a
// detached view throws that conversion's TypeError, an object whose
// toString gives an IP literal binds there).
test('bind() with an address that is not a string: thrown or bound as the running Node does', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const detached = new Uint8Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    for (const [label, address] of [['Symbol', Symbol('a')], ['detached view', detached], ['number', 12345],
      ['object with an IP toString', { toString: () => '127.0.0.1' }], ['object', {}]]) {
      const s = dgram.createSocket('udp4');
      const events = [];
      s.on('listening', () => events.push('listening'));
      s.on('error', (err) => events.push({ error: errShape(err) }));
      const r = capture(() => s.bind(0, address), s);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const addr = capture(() => s.address());
      tr.push({ [label]: { bind: r, events, address: addr.returned ? addr.returned.address : addr.threw.code } });
      s.close();
    }
  });
  t.truthy(node[0].Symbol.bind.threw);
});
