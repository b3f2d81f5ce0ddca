'use strict';

// send(): callback timing, implicit bind and the pre-bind queue, send
// errors (EMSGSIZE, DNS), host names, custom lookup, send after close.

const test = require('ava');
const dns = require('node:dns');
const { parity, capture, errShape, boundSocket, closeAll, collect, withTimeout, delay, once, fence, childParity } = require('./helpers.js');
const { zeroPortStringsRejected, defaultLookupSkipsLiterals } = require('../lib/node-version.js');

async function server(dgram, tr, type = 'udp4') {
  const s = await boundSocket(dgram, type);
  tr.reg(s.address().port, 'server');
  return { server: s, inbox: collect(s), port: s.address().port };
}

/** DNS failures may be ENOTFOUND or EAI_AGAIN depending on the resolver. */
function dnsShape(err) {
  const shape = errShape(err);
  if (shape && shape.code === 'EAI_AGAIN') {
    shape.code = 'ENOTFOUND';
    for (const k of ['message', 'string', 'stackHead']) shape[k] = shape[k].replace('EAI_AGAIN', 'ENOTFOUND');
    shape.errno = 'normalised';
  } else if (shape) {
    shape.errno = 'normalised';
  }
  return shape;
}

test('callback(err, bytes) runs once, asynchronously, in node\'s tick order', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    tr.reg(client.address().port, 'client');
    for (const [label, send] of [
      ['literal address', (cb) => client.send('abc', port, '127.0.0.1', cb)],
      ['omitted address', (cb) => client.send('abc', port, cb)],
      ['offset/length', (cb) => client.send('abcdef', 1, 2, port, '127.0.0.1', cb)],
      ['array', (cb) => client.send(['ab', 'cd'], port, '127.0.0.1', cb)],
    ]) {
      const order = [];
      let calls = 0;
      let immediate;
      const done = new Promise((resolve) => {
        process.nextTick(() => order.push('nextTick before send'));
        const r = send(function (err, bytes, ...rest) {
          calls++;
          order.push({ cb: { err, bytes, rest: rest.length, self: this === client } });
          resolve();
        });
        order.push({ returned: r });
        process.nextTick(() => order.push('nextTick after send'));
        Promise.resolve().then(() => order.push('microtask after send'));
        immediate = new Promise((res) => setImmediate(() => { order.push('setImmediate after send'); res(); }));
      });
      await withTimeout(done, 3000, label);
      await immediate;
      await delay(30); // a window for a second callback that must not come
      tr.push({ label, order, calls });
    }
    await inbox.wait(4);
    await closeAll(srv, client);
  });
  t.is(node[0].calls, 1);
  t.deepEqual(node[0].order[0], { returned: undefined });
});

test('callback timing relative to nextTick when send() is called from a plain callback', async (t) => {
  // Same as above but from a timer callback (not inside a microtask), where
  // nextTick runs before promise jobs.
  await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const order = await withTimeout(new Promise((resolve) => {
      setTimeout(() => {
        const o = [];
        let cbDone;
        const cbP = new Promise((res) => { cbDone = res; });
        client.send('x', port, '127.0.0.1', (err, n) => {
          o.push(`cb ${err} ${n}`);
          cbDone();
        });
        o.push('returned');
        process.nextTick(() => o.push('nextTick'));
        Promise.resolve().then(() => o.push('microtask'));
        const imm = new Promise((res) => setImmediate(() => { o.push('setImmediate'); res(); }));
        Promise.all([cbP, imm]).then(() => setTimeout(() => resolve(o), 5));
      }, 1);
    }));
    tr.push(order);
    await inbox.wait(1);
    await closeAll(srv, client);
  });
});

test('implicit bind on first send: listening, address(), rinfo.port match', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = dgram.createSocket('udp4');
    const events = [];
    client.on('listening', () => {
      const a = client.address();
      tr.reg(a.port, 'implicit');
      events.push({ listening: a });
    });
    tr.push({ before: capture(() => client.address()) });
    let returned = false;
    const called = new Promise((resolve) => client.send('one', port, '127.0.0.1', (err, n) => {
      events.push({ cb: [err, n], async: returned });
      resolve();
    }));
    returned = true;
    tr.push({ right_after_send: capture(() => client.address()) });
    const [m] = await inbox.wait(1);
    await withTimeout(called, 3000, 'the send callback');
    tr.push({ events, rinfo: m.rinfo, rebind: capture(() => client.bind(0), client) });
    await closeAll(srv, client);
  });
  t.is(node[2].events[0].listening.address, '0.0.0.0');
});

test('implicit bind on udp6: address is ::', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr, 'udp6');
    const client = dgram.createSocket('udp6');
    client.send('six', port);
    await once(client, 'listening');
    tr.reg(client.address().port, 'implicit');
    tr.push(client.address());
    const [m] = await inbox.wait(1);
    tr.push(m.rinfo, m.msg.toString());
    await closeAll(srv, client);
  });
});

test('sends before bind are queued and delivered in order; callbacks in order', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = dgram.createSocket('udp4');
    const order = [];
    client.on('listening', () => order.push('listening'));
    const called = [];
    for (let i = 0; i < 10; i++) {
      const args = i % 3 === 0 ? [port] : i % 3 === 1 ? [port, '127.0.0.1'] : [0, 1, port, '127.0.0.1'];
      called.push(new Promise((resolve) => client.send(`m${i}`, ...args, (err, n) => {
        order.push(`cb${i}:${err}:${n}`);
        resolve();
      })));
    }
    order.push('returned');
    const msgs = await inbox.wait(10);
    await withTimeout(Promise.all(called), 3000, 'the ten send callbacks');
    tr.push({ order, msgs: msgs.map((m) => m.msg.toString()) });
    await closeAll(srv, client);
  });
  t.is(node[0].msgs.length, 10);
});

test('explicit bind() then immediate sends (still binding) are queued in order', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = dgram.createSocket('udp4');
    const order = [];
    client.bind(0, '127.0.0.1', () => order.push('bind cb'));
    client.on('listening', () => order.push('listening (registered after bind)'));
    const called = [];
    for (let i = 0; i < 3; i++) called.push(new Promise((resolve) => client.send(`q${i}`, port, '127.0.0.1', () => { order.push(`cb${i}`); resolve(); })));
    const msgs = await inbox.wait(3);
    await withTimeout(Promise.all(called), 3000, 'the three send callbacks');
    tr.push({ order, msgs: msgs.map((m) => m.msg.toString()) });
    await closeAll(srv, client);
  });
});

test('EMSGSIZE for a 70000-byte datagram: callback error, no error event', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const events = [];
    client.on('error', (e) => events.push({ error: errShape(e) }));
    const big = Buffer.alloc(70000, 1);
    const [err, bytes, ...rest] = await withTimeout(new Promise((resolve) => client.send(big, port, '127.0.0.1', (...a) => resolve(a))));
    tr.push({ err: errShape(err), bytes, rest: rest.length });
    // Without a callback the error is dropped.
    tr.push({ noCb: capture(() => client.send(big, port, '127.0.0.1')) });
    // Several pieces adding up to more than 64 KiB.
    const [err2] = await withTimeout(new Promise((resolve) => client.send([big.subarray(0, 40000), big.subarray(0, 40000)], port, '127.0.0.1', (...a) => resolve(a))));
    tr.push({ list: errShape(err2) });
    // The socket still works.
    await new Promise((resolve) => client.send('ok', port, '127.0.0.1', resolve));
    const msgs = await inbox.wait(1);
    await delay(30); // a window for an 'error' that must not come
    tr.push({ events, msgs: msgs.map((m) => m.msg.toString()) });
    await closeAll(srv, client);
  });
  t.is(node[0].err.code, 'EMSGSIZE');
  t.is(node[0].err.syscall, 'send');
});

test('EMSGSIZE on an unbound socket (implicit bind) and on udp6', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (const type of ['udp4', 'udp6']) {
      const { server: srv, port } = await server(dgram, tr, type);
      const client = dgram.createSocket(type);
      const events = [];
      client.on('error', (e) => events.push(errShape(e)));
      const [err] = await withTimeout(new Promise((resolve) => client.send(Buffer.alloc(70000), port, (...a) => resolve(a))));
      tr.push({ type, err: errShape(err), events });
      await closeAll(srv, client);
    }
  });
});

test('send to the host name localhost', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    tr.reg(client.address().port, 'client');
    const cb = await withTimeout(new Promise((resolve) => client.send('via name', port, 'localhost', (...a) => resolve(a))));
    const [m] = await inbox.wait(1);
    tr.push({ cb, msg: m.msg.toString(), rinfo: m.rinfo });
    client.send('no cb', port, 'localhost');
    const msgs = await inbox.wait(2);
    tr.push(msgs[1].msg.toString());
    await closeAll(srv, client);
  });
  t.deepEqual(node[0].cb, [null, 8]);
});

test('send to a host name that does not resolve: callback error, or error event without callback', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const client = await boundSocket(dgram);
    const events = [];
    client.on('error', (e) => events.push({ error: dnsShape(e) }));
    let returned = false;
    const [err, ...rest] = await withTimeout(new Promise((resolve) => {
      client.send('x', 1234, 'nonexistent.invalid', (...a) => resolve(a));
      returned = true;
    }), 10000, 'dns callback');
    tr.push({ returned, err: dnsShape(err), rest: rest.length, events: [...events] });
    client.send('x', 1234, 'nonexistent.invalid');
    await withTimeout(new Promise((resolve) => client.once('error', resolve)), 10000, 'error event');
    tr.push({ events });
    await closeAll(client);
  }, { ms: 25000 });
  t.is(node[0].err.syscall, 'getaddrinfo');
});

test('send after close throws ERR_SOCKET_DGRAM_NOT_RUNNING (bound and unbound)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const a = dgram.createSocket('udp4');
    a.close();
    tr.push({ unbound: capture(() => a.send('x', 1234, '127.0.0.1')) });
    tr.push({ unboundCb: capture(() => a.send('x', 1234, '127.0.0.1', () => tr.push('cb called'))) });
    const b = await boundSocket(dgram);
    b.close();
    tr.push({ bound: capture(() => b.send('x', 1234)) });
    tr.push({ boundList: capture(() => b.send(['x'], 1234, 'localhost')) });
    await delay(10); // a window for a callback ('cb called') that must not come
  });
  t.is(node[0].unbound.threw.code, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
});

test('custom lookup is used for every send, with the default address when omitted', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const calls = [];
    const client = dgram.createSocket({
      type: 'udp4',
      lookup(host, family, cb) {
        calls.push({ host, family });
        process.nextTick(cb, null, '127.0.0.1', 4);
      },
    });
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    client.send('a', port);
    client.send('b', port, '127.0.0.1');
    client.send('c', port, 'some.name');
    const msgs = await inbox.wait(3);
    tr.push({ calls, msgs: msgs.map((m) => m.msg.toString()) });
    await closeAll(srv, client);
  });
  t.is(node[0].calls.length, 4);
});

test('custom lookup error on send: callback gets it, else error event', async (t) => {
  await parity(t, async (dgram, tr) => {
    const lookupErr = Object.assign(new Error('nope'), { code: 'ECUSTOM' });
    const client = dgram.createSocket({
      type: 'udp4',
      lookup(host, family, cb) {
        if (host === '127.0.0.1' || host === '0.0.0.0') return process.nextTick(cb, null, host, 4);
        process.nextTick(cb, lookupErr);
      },
    });
    const events = [];
    client.on('error', (e) => events.push({ error: e === lookupErr }));
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    const r = await withTimeout(new Promise((resolve) => client.send('x', 1234, 'bad.name', (...a) => resolve(a))));
    tr.push({ cbArgs: r.length, same: r[0] === lookupErr });
    client.send('x', 1234, 'bad.name');
    await withTimeout(new Promise((resolve) => client.once('error', resolve)));
    tr.push({ events });
    await closeAll(client);
  });
});

test.serial('a dns.lookup patched before createSocket is used for binds and sends (even literals; from Node 24.19 / 26.5 not at all once restored)', async (t) => {
  const original = dns.lookup;
  try {
    const { node } = await parity(t, async (dgram, tr) => {
      const { server: srv, inbox, port } = await server(dgram, tr);
      const calls = [];
      dns.lookup = function (...args) {
        calls.push({ host: args[0], family: args[1] });
        return original.apply(this, args);
      };
      let client;
      try {
        client = dgram.createSocket('udp4');
      } finally {
        dns.lookup = original;
      }
      client.send('a', port, '127.0.0.1');
      client.send('b', port);
      await inbox.wait(2);
      tr.push(calls);
      await closeAll(srv, client);
    });
    t.is(node[0].length, defaultLookupSkipsLiterals ? 0 : 3);
  } finally {
    dns.lookup = original;
  }
});

// The same, with the patch made before the implementation is first
// required: dgram-rs must tell Node's own dns.lookup from a replacement
// without having seen the original.
test('a dns.lookup patched before the module is first required is called as on node:dgram (literals too before Node 24.19 / 26.5)', async (t) => {
  const script = `
    const dns = require('node:dns');
    const original = dns.lookup;
    const calls = [];
    dns.lookup = function (...args) { calls.push(args[0]); return original.apply(this, args); };
    const dgram = require(process.env.DGRAM);
    const server = dgram.createSocket('udp4');
    server.bind(0, '127.0.0.1', () => {
      const client = dgram.createSocket('udp4');
      server.on('message', (m) => {
        console.log(String(m), JSON.stringify(calls));
        if (String(m) === 'b') { client.close(); server.close(); }
      });
      client.send('a', server.address().port, '127.0.0.1', () => {
        client.send('b', server.address().port, 'localhost');
      });
    });`;
  const { node } = await childParity(t, script);
  t.is(node.code, 0);
  t.regex(node.stdout, defaultLookupSkipsLiterals ? /^b \["localhost"\]$/m : /"127\.0\.0\.1","0\.0\.0\.0","127\.0\.0\.1"/);
});

test.serial('a dns.lookup patched after createSocket: from Node 24.19 / 26.5 called for names and other-family literals (looked up when used), before not at all', async (t) => {
  const original = dns.lookup;
  try {
    const { node } = await parity(t, async (dgram, tr) => {
      const { server: srv, inbox, port } = await server(dgram, tr);
      const client = dgram.createSocket('udp4');
      const calls = [];
      dns.lookup = function (...args) {
        calls.push({ host: args[0], family: args[1] });
        return original.apply(this, args);
      };
      const outcomes = [];
      const sent = (label) => new Promise((resolve) => {
        client.send(label, port, label, (err) => resolve(outcomes.push([label, err ? err.code : null])));
      });
      await sent('127.0.0.1');
      await sent('localhost');
      await sent('::1');
      await inbox.wait(2);
      dns.lookup = original;
      tr.push({ calls, outcomes });
      await closeAll(srv, client);
    });
    t.is(node[0].calls.length, defaultLookupSkipsLiterals ? 2 : 0);
  } finally {
    dns.lookup = original;
  }
});

// Node 20 runs every unconnected send through its lookup step, which
// answers on the next tick even for a literal, and drops the send silently
// (no datagram, no callback) if the socket was closed meanwhile. The
// fence proves what reached the server.
test('a send followed by close() in the same tick: dropped, never called back', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const events = [];
    client.send('sent-then-closed', port, '127.0.0.1', (err, n) => events.push({ cb: [errShape(err), n] }));
    client.send('no-callback', port, '127.0.0.1');
    client.close(() => events.push('close'));
    await once(client, 'close');
    tr.push({ events, received: await fence(inbox, port) });
    await closeAll(srv);
  });
  t.deepEqual(node, [{ events: ['close'], received: [] }]);
});

test('close() on a tick queued between two sends: the first goes out and is called back, the second is dropped', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const events = [];
    client.send('first', port, '127.0.0.1', (err, n) => events.push({ first: [errShape(err), n] }));
    client.send('first-no-cb', port, '127.0.0.1');
    process.nextTick(() => client.close(() => events.push('close')));
    client.send('second', port, '127.0.0.1', (err, n) => events.push({ second: [errShape(err), n] }));
    client.send('second-no-cb', port, '127.0.0.1');
    await once(client, 'close');
    tr.push({ events, received: await fence(inbox, port) });
    await closeAll(srv);
  });
  t.deepEqual(node, [{ events: [{ first: [null, 5] }, 'close'], received: ['first', 'first-no-cb'] }]);
});

test('sends queued behind an implicit bind, then close(): dropped, never called back', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = dgram.createSocket('udp4');
    const events = [];
    client.on('listening', () => events.push('listening'));
    client.send('queued', port, '127.0.0.1', (err, n) => events.push({ cb: [errShape(err), n] }));
    client.send('queued-no-cb', port, '127.0.0.1');
    client.close(() => events.push('close'));
    await once(client, 'close');
    tr.push({ events, received: await fence(inbox, port) });
    await closeAll(srv);
  });
  t.deepEqual(node, [{ events: ['listening', 'close'], received: [] }]);
});

test('a connected send followed by close(): sent and called back, before close', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = dgram.createSocket('udp4');
    await new Promise((resolve) => client.connect(port, '127.0.0.1', resolve));
    const events = [];
    client.send('connected', (err, n) => events.push({ cb: [errShape(err), n] }));
    client.close(() => events.push('close'));
    await once(client, 'close');
    tr.push({ events, received: await fence(inbox, port) });
    await closeAll(srv);
  });
  t.deepEqual(node, [{ events: [{ cb: [null, 9] }, 'close'], received: ['connected'] }]);
});

test('a send whose host-name lookup finishes after close(): dropped, never called back', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const events = [];
    client.on('error', (e) => events.push(errShape(e)));
    client.send('late', port, 'localhost', (err, n) => events.push({ cb: [err && err.code, n] }));
    client.close(() => events.push('close'));
    // A lookup of the same name issued afterwards finishes after the send's.
    await withTimeout(dns.promises.lookup('localhost', 4), 5000, 'lookup');
    await new Promise((resolve) => setImmediate(resolve));
    tr.push({ events, received: await fence(inbox, port) });
    await closeAll(srv);
  });
  t.deepEqual(node, [{ events: ['close'], received: [] }]);
});

test('send callbacks keep node\'s place among ticks queued between the sends and by the callbacks', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const order = [];
    await new Promise((resolve) => {
      client.send('a', port, '127.0.0.1', () => {
        order.push('cb a');
        process.nextTick(() => order.push('tick from cb a'));
      });
      process.nextTick(() => {
        order.push('tick X');
        process.nextTick(() => order.push('tick Y (from X)'));
      });
      client.send('b', port, '127.0.0.1', () => order.push('cb b'));
      client.send('c', port, '127.0.0.1', () => {
        order.push('cb c');
        setImmediate(resolve);
      });
    });
    tr.push({ order, received: await fence(inbox, port) });
    await closeAll(srv, client);
  });
  t.is(node[0].received.length, 3);
});

test('sends queued behind a bind that fails are dropped; a later send binds again', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const s = dgram.createSocket('udp4');
    const events = [];
    s.on('error', (e) => events.push({ error: e.code }));
    s.on('listening', () => events.push('listening'));
    // Explicit bind to the server's (taken) port, then sends queued behind it.
    s.bind(port, '127.0.0.1');
    s.send('dropped-1', port, '127.0.0.1', (err, n) => events.push({ cb1: [errShape(err), n] }));
    s.send('dropped-2', port, (err, n) => events.push({ cb2: [errShape(err), n] }));
    await once(s, 'error');
    await delay(20); // a window for the dropped sends' callbacks, which must not come
    tr.push({ afterError: [...events] });
    const called = new Promise((resolve) => s.send('after', port, '127.0.0.1', (err, n) => {
      events.push({ cb3: [errShape(err), n] });
      resolve();
    }));
    const msgs = await inbox.wait(1);
    await withTimeout(called, 3000, 'the send callback');
    await fence(inbox, port);
    tr.push({ events, msgs: msgs.map((m) => m.msg.toString()) });
    await closeAll(srv, s);
  });
  t.deepEqual(node[0].afterError, [{ error: 'EADDRINUSE' }]);
});

test('a message list of more than IOV_MAX (1024) pieces fails with EMSGSIZE', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const pieces = (n) => Array.from({ length: n }, () => Buffer.from('a'));
    for (const n of [1024, 1025, 3000]) {
      const r = await withTimeout(new Promise((resolve) => client.send(pieces(n), port, '127.0.0.1', (...a) => resolve(a))));
      tr.push({ n, err: errShape(r[0]), bytes: r[1], argc: r.length });
    }
    tr.push({ received: (await fence(inbox, port)).map((m) => m.length) });
    await closeAll(srv, client);
  });
  t.is(node[1].err.code, 'EMSGSIZE');
});

test('send to an address of the other family: EINVAL in the callback; empty address means default', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const c4 = await boundSocket(dgram, 'udp4');
    const c6 = await boundSocket(dgram, 'udp6');
    const run = (sock, ...args) => withTimeout(new Promise((resolve) => sock.send('x', port, ...args, (...a) => resolve(a.map((v) => (v instanceof Error ? errShape(v) : v))))));
    tr.push({ v6OnUdp4: await run(c4, '::1') });
    tr.push({ v4OnUdp6: await run(c6, '127.0.0.1') });
    tr.push({ mappedOnUdp6: await run(c6, '::ffff:127.0.0.1') });
    tr.push({ emptyAddress: await run(c4, '') });
    tr.push({ received: await fence(inbox, port) });
    await closeAll(srv, c4, c6);
  });
  t.is(node[0].v6OnUdp4[0].code, 'EINVAL');
});

test('each send callback runs in the async context of its send(), sends of one tick in different stores included', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { AsyncLocalStorage } = require('node:async_hooks');
    const als = new AsyncLocalStorage();
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const connected = dgram.createSocket('udp4');
    await new Promise((resolve) => connected.connect(port, '127.0.0.1', resolve));
    const seen = [];
    await new Promise((resolve) => {
      const sends = [
        ['literal 1', (cb) => client.send('1', port, '127.0.0.1', cb)],
        ['no store', null],
        ['literal 2', (cb) => client.send('2', port, '127.0.0.1', cb)],
        ['blocked-free list', (cb) => client.send(['3', '4'], port, '127.0.0.1', cb)],
        ['host name', (cb) => client.send('5', port, 'localhost', cb)],
        ['connected', (cb) => connected.send('6', cb)],
      ];
      let left = sends.length - 1;
      const done = (label) => () => {
        seen.push([label, als.getStore() && als.getStore().label]);
        if (--left === 0) resolve();
      };
      for (const [label, send] of sends) {
        if (send === null) client.send('x', port, '127.0.0.1', () => {});
        else als.run({ label }, () => send(done(label)));
      }
    });
    seen.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    tr.push({ seen });
    await fence(inbox, port);
    await closeAll(srv, client, connected);
  });
  t.true(node[0].seen.every(([label, store]) => label === store));
});

test('port strings that validatePort lets through as 0 (\'0x0\', \' 0\'; until Node 24.19 / 26.5): sent with no destination, EDESTADDRREQ (fuzzer)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server: srv, inbox, port } = await server(dgram, tr);
    const client = await boundSocket(dgram);
    const results = [];
    for (const [p, a] of [['0x0', '127.0.0.1'], [' 0', undefined], ['0b0', 'localhost'], [port, '127.0.0.1']]) {
      results.push(await withTimeout(new Promise((resolve) => {
        try {
          client.send('z', p, a, (err, n) => resolve([errShape(err), n]));
        } catch (err) {
          resolve({ threw: errShape(err) });
        }
      })));
    }
    tr.push({ results, received: await fence(inbox, port) });
    await closeAll(srv, client);
  });
  if (zeroPortStringsRejected) t.is(node[0].results[0].threw.code, 'ERR_SOCKET_BAD_PORT');
  // Linux's answer to a send without a destination (BSD's may be ENOTCONN: compared only).
  else if (process.platform === 'linux') t.is(node[0].results[0][0].code, 'EDESTADDRREQ');
});

test('more than IOV_MAX pieces to an address, the socket connected meanwhile: the address family, then EISCONN, as Node checks (fuzzer)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp6');
    const list = () => Array.from({ length: 1025 }, () => Buffer.from('a'));
    const results = [];
    await new Promise((resolve) => {
      let left = 4;
      const cb = (label) => (err) => { results.push([label, errShape(err)]); if (--left === 0) resolve(); };
      s.send(list(), 9, '::1', cb('before connect'));
      s.connect(9, '::1');
      s.send(list(), 9, '::1', cb('connect pending'));
      s.send(list(), 9, '127.0.0.1', cb('connect pending, other family'));
      try {
        s.send(list(), '0x0', '::1', cb('port 0'));
      } catch (err) {
        cb('port 0 (thrown)')(err); // Node 24.19 / 26.5+
      }
    });
    tr.push({ results });
    await closeAll(s);
  });
  t.deepEqual(node[0].results.map(([l, e]) => [l, e.code]), zeroPortStringsRejected
    ? [['port 0 (thrown)', 'ERR_SOCKET_BAD_PORT'], ['before connect', 'EMSGSIZE'], ['connect pending', 'EISCONN'], ['connect pending, other family', 'EINVAL']]
    : [['before connect', 'EMSGSIZE'], ['connect pending', 'EISCONN'], ['connect pending, other family', 'EINVAL'], ['port 0', 'EMSGSIZE']]);
});
