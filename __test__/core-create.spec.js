'use strict';

// createSocket(type | options[, onMessage]) and new Socket(...): accepted
// forms, validation errors, and the 'message' listener argument.

const test = require('ava');
const { impls, parity, capture, errShape, boundSocket, closeAll, once } = require('./helpers.js');

test('module exports the same public functions', (t) => {
  const pub = (m) => Object.keys(m).filter((k) => !k.startsWith('_')).sort();
  t.deepEqual(pub(impls.rs), pub(impls.node));
  t.is(typeof impls.rs.createSocket, 'function');
  t.is(typeof impls.rs.Socket, 'function');
});

test('createSocket with a type string or options returns a Socket (EventEmitter)', async (t) => {
  await parity(t, async (dgram, tr) => {
    const EventEmitter = require('node:events');
    for (const arg of ['udp4', 'udp6', { type: 'udp4' }, { type: 'udp6' }, { type: 'udp4', reuseAddr: true }]) {
      const s = dgram.createSocket(arg);
      tr.push({
        arg,
        isSocket: s instanceof dgram.Socket,
        isEmitter: s instanceof EventEmitter,
        type: s.type,
        ownKeys: Object.keys(s),
        messageListeners: s.listenerCount('message'),
      });
      s.close();
    }
  });
});

test('new Socket(type) works like createSocket(type)', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.track(new dgram.Socket('udp4'));
    const s2 = dgram.track(new dgram.Socket({ type: 'udp6' }, () => {}));
    tr.push(s instanceof dgram.Socket, s.type, s2.type, s2.listenerCount('message'));
    s.close();
    s2.close();
  });
});

test('Socket called without new behaves like node (returns undefined, no throw)', async (t) => {
  await parity(t, async (dgram, tr) => {
    // eslint-disable-next-line new-cap
    tr.push(capture(() => dgram.Socket('udp4')));
  });
});

// A library that makes an object with Socket.prototype without calling the
// constructor (Object.create, setPrototypeOf) gets the TypeError of a
// missing socket state from every method, worded as Node's.
test('methods called on an object that was never constructed throw the TypeError node:dgram throws', async (t) => {
  const methods = ['ref', 'unref', 'setTTL', 'setBroadcast', 'setMulticastTTL', 'setMulticastLoopback', 'setMulticastInterface',
    'address', 'remoteAddress', 'close', 'send', 'bind', 'connect', 'disconnect', 'addMembership',
    'setRecvBufferSize', 'getRecvBufferSize', 'getSendQueueSize', 'getSendQueueCount'];
  await parity(t, async (dgram, tr) => {
    const fake = Object.create(dgram.Socket.prototype);
    for (const m of methods) tr.push({ [m]: capture(() => fake[m](1)) });
  });
});

test('bad socket types throw ERR_SOCKET_BAD_TYPE', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const bad = ['udp5', 'UDP4', 'tcp', '', undefined, null, 4, true, {}, { type: 'udp' }, { type: null }, [], ['udp4']];
    for (const type of bad) tr.push({ type: String(type), r: capture(() => dgram.createSocket(type)) });
    tr.push({ ctor: capture(() => new dgram.Socket('nope')) });
  });
  t.is(node[0].r.threw.code, 'ERR_SOCKET_BAD_TYPE');
});

test('recvBufferSize / sendBufferSize options are validated as uint32 at construction', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const values = [-1, 1.5, 2 ** 32, 'x', '1024', true, {}, Infinity, -Infinity, 0, NaN, '', null, false, 1024];
    for (const key of ['recvBufferSize', 'sendBufferSize']) {
      for (const v of values) {
        const r = capture(() => dgram.createSocket({ type: 'udp4', [key]: v }));
        tr.push({ key, v: String(v), threw: r.threw || null });
      }
    }
  });
  t.truthy(node[0].threw, 'node rejects -1');
});

test('lookup option must be a function when given', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const lookup of [null, 'dns', 1, {}, [], true, undefined, () => {}]) {
      const r = capture(() => {
        const s = dgram.createSocket({ type: 'udp4', lookup });
        s.close();
        return 'ok';
      });
      tr.push({ lookup: typeof lookup, r });
    }
  });
  t.is(node[0].r.threw.code, 'ERR_INVALID_ARG_TYPE');
});

test('the second argument becomes a message listener only when it is a function', async (t) => {
  await parity(t, async (dgram, tr) => {
    const fn = () => {};
    for (const listener of [fn, undefined, null, 'x', 1, {}]) {
      const r = capture(() => {
        const s = dgram.createSocket('udp4', listener);
        const ls = s.listeners('message');
        s.close();
        return { count: ls.length, same: ls[0] === fn };
      });
      tr.push({ listener: typeof listener, r });
    }
    const s = dgram.createSocket({ type: 'udp4' }, fn);
    tr.push({ options: s.listeners('message').length });
    s.close();
  });
});

test('the createSocket listener receives messages with rinfo', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    let resolveMsg;
    const got = new Promise((resolve) => { resolveMsg = resolve; });
    const server = dgram.createSocket('udp4', function (msg, rinfo) {
      resolveMsg({ self: this === server, msg: msg.toString(), isBuffer: Buffer.isBuffer(msg), rinfo });
    });
    await new Promise((resolve) => server.bind(0, '127.0.0.1', resolve));
    tr.reg(server.address().port, 'server');
    const client = await boundSocket(dgram);
    tr.reg(client.address().port, 'client');
    client.send('hi', server.address().port, '127.0.0.1');
    tr.push(await got);
    await closeAll(server, client);
  });
  t.is(node[0].msg, 'hi');
});

test('options.type is read, other unknown options are ignored', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket({ type: 'udp6', bogus: 1, port: 5 });
    tr.push(s.type);
    await new Promise((resolve) => s.bind(0, '::1', resolve));
    tr.push(s.address().family);
    await new Promise((resolve) => s.close(resolve));
  });
});

test('a custom lookup is called as lookup(host, family, cb) for bind', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const type of ['udp4', 'udp6']) {
      const calls = [];
      const s = dgram.createSocket({
        type,
        lookup(host, family, cb) {
          calls.push({ host, family, argc: arguments.length, cbType: typeof cb });
          cb(null, type === 'udp4' ? '127.0.0.1' : '::1', family);
        },
      });
      const listening = once(s, 'listening');
      let returned = false;
      s.on('listening', () => calls.push({ listeningAfterBindReturned: returned }));
      s.bind(0, 'my.host.example');
      returned = true;
      await listening;
      tr.push({ type, calls, address: s.address().address });
      await closeAll(s);
    }
  });
  t.is(node[0].calls[0].family, 4);
});

test('socket errors are Error instances (sanity of errShape helper)', (t) => {
  t.deepEqual(errShape(null), null);
  t.is(errShape(new TypeError('x')).ctor, 'TypeError');
});

test('options.signal: validation, already-aborted signal closes at once, abort() closes later', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const signal of [null, 'x', {}, 1]) {
      tr.push({ bad: String(signal), r: capture(() => dgram.createSocket({ type: 'udp4', signal })) });
    }
    const events = [];
    const aborted = AbortSignal.abort();
    const a = dgram.createSocket({ type: 'udp4', signal: aborted });
    a.on('close', () => events.push('a close'));
    tr.push({ aAddress: capture(() => a.address()), aBind: capture(() => a.bind(0), a) });
    const ac = new AbortController();
    const b = dgram.createSocket({ type: 'udp4', signal: ac.signal });
    b.on('close', () => events.push('b close'));
    await new Promise((resolve) => b.bind(0, '127.0.0.1', resolve));
    ac.abort();
    events.push('aborted');
    await once(b, 'close');
    tr.push({ events, bClosed: capture(() => b.address()), abortAgain: capture(() => ac.abort()) });
    // Closing normally first, then aborting, does nothing more.
    const ac2 = new AbortController();
    const c = dgram.createSocket({ type: 'udp4', signal: ac2.signal });
    await new Promise((resolve) => c.close(resolve));
    tr.push({ abortAfterClose: capture(() => ac2.abort()) });
  });
  t.is(node[0].r.threw.code, 'ERR_INVALID_ARG_TYPE');
});

test('diagnostics_channel \'udp.socket\' gets { socket } for every new socket, at the end of its constructor', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const dc = require('node:diagnostics_channel');
    const seen = [];
    const onSocket = (msg, name) => {
      const { socket } = msg;
      seen.push({
        name,
        keys: Object.keys(msg),
        isSocket: socket instanceof dgram.Socket,
        type: socket.type,
        messageListeners: socket.listenerCount('message'),
        // Open (unbound: EBADF) or, with a pre-aborted signal, closed
        // already (no handle: TypeError).
        setTTL: (({ threw }) => threw && (threw.code || threw.name))(capture(() => socket.setTTL(1))),
      });
    };
    dc.subscribe('udp.socket', onSocket);
    const sockets = [];
    try {
      sockets.push(dgram.createSocket('udp4'));
      sockets.push(dgram.createSocket({ type: 'udp6' }, () => {}));
      sockets.push(new dgram.Socket('udp4'));
      sockets.push(dgram.createSocket({ type: 'udp4', signal: AbortSignal.abort() }));
      tr.push({ badType: capture(() => dgram.createSocket('udp5')) });
      tr.push({ same: seen.length === 4 });
    } finally {
      dc.unsubscribe('udp.socket', onSocket);
    }
    sockets.push(dgram.createSocket('udp4')); // no longer observed
    tr.push({ seen });
    await closeAll(...sockets.slice(0, 3), sockets[4]);
  });
  const { seen } = node.find((e) => e.seen);
  t.deepEqual(seen.map((x) => x.setTTL), ['EBADF', 'EBADF', 'EBADF', 'TypeError']);
  t.deepEqual(seen.map((x) => x.messageListeners), [0, 1, 0, 0]);
});

test('Socket() without new runs the constructor body on `this`, failing where `this` is no socket, as Node (fuzzer R6)', async (t) => {
  const { childParity } = require('./helpers.js');
  const { node } = await childParity(t, `
const dgram = require(process.env.DGRAM);
process.on('uncaughtException', (e) => console.log('uncaught', e.message));
const t = (f) => { try { console.log('returned', f()); } catch (e) { console.log('threw', e.name, e.code, e.message); } };
t(() => dgram.Socket('udp4'));
t(() => dgram.Socket('udp4', () => {}));
t(() => dgram.Socket({ type: 'udp4', signal: {} }));
t(() => dgram.Socket({ type: 'udp4', signal: AbortSignal.abort() }));
const ac = new AbortController();
t(() => dgram.Socket({ type: 'udp4', signal: ac.signal }));
ac.abort();
t(() => dgram.Socket('udp5'));
const { Socket } = dgram;
t(() => Socket('udp4'));
const target = new (require('node:events'))();
t(() => Socket.call(target, 'udp6', () => {}));
console.log(target.type, target.listenerCount('message'), Object.keys(dgram).join());
`);
  t.regex(node.stdout, /threw TypeError undefined this\.on is not a function/);
  t.regex(node.stdout, /uncaught this\.close is not a function/);
});

// An ES5-style subclass: `Socket.call(this, …)` in a constructor function
// whose prototype inherits Socket's (util.inherits, Object.create). Node's
// Socket is a plain function, so `this` becomes a working socket.
test('an ES5-style subclass (Socket.call(this) + util.inherits / Object.create) gets a working socket, as on Node', async (t) => {
  const util = require('node:util');
  const { node } = await parity(t, async (dgram, tr) => {
    function MySocket(type) {
      dgram.Socket.call(this, type);
      this.mine = true;
    }
    util.inherits(MySocket, dgram.Socket);
    const a = new MySocket('udp4');
    const b = Object.create(dgram.Socket.prototype);
    dgram.Socket.call(b, { type: 'udp4' });
    for (const s of [a, b]) {
      await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
      tr.reg(s.address().port, s === a ? 'a' : 'b');
    }
    const got = new Promise((resolve) => b.once('message', (m, rinfo) => resolve({ text: String(m), port: rinfo.port })));
    a.send('hello', b.address().port, '127.0.0.1');
    tr.push({ instance: a instanceof dgram.Socket, mine: a.mine, type: b.type, got: await got });
    await new Promise((resolve) => a.close(resolve));
    await new Promise((resolve) => b.close(resolve));
    tr.push('closed');
  });
  t.like(node[0], { instance: true, mine: true, type: 'udp4', got: { text: 'hello', port: 'PORT:a' } });
});
