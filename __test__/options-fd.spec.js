'use strict';

// bind({ fd }): wrapping an existing descriptor. A real UDP descriptor that
// no Node socket owns comes from python3: it creates and binds a socket,
// makes it fd 3 (inheritable) and execs node, whose script then calls
// bind({ fd: 3 }) with node:dgram or dgram-rs; the two outputs are compared.
// Descriptors of the wrong kind (file, TCP, unused numbers) are checked in
// process.

const fs = require('node:fs');
const net = require('node:net');
const test = require('ava');
const { parity, capture, errShape, closeAll, once, internals } = require('./helpers.js');
const { python, runWithInheritedFd, scriptFile, childView, rec } = require('./options-helpers.js');


const pyTest = python() ? test : test.skip;
if (!python()) console.log('[options-fd] skipping inherited-descriptor tests: python3 is not available');

// The child: wraps fd 3, prints what it sees, answers a ping, closes.
const CHILD = `'use strict';
const dgram = require(process.env.DGRAM);
const type = process.argv[2];
const out = (o) => console.log(JSON.stringify(o));
// The socket's state object (see internals() in helpers.js).
const state = () => s[Object.getOwnPropertySymbols(s).find((k) => k.description === 'state symbol' || k.description === 'kState')];
// recvBufferSize is applied when listening starts, for bind({ fd }) too.
const s = dgram.createSocket({ type, recvBufferSize: 10000 });
const events = [];
let returned = false;
s.on('listening', () => events.push({ listening: true, sync: !returned }));
s.on('error', (e) => out({ errorEvent: e.code, message: e.message }));
let r;
try {
  r = s.bind({ fd: 3 }, function () { events.push({ cb: true, self: this === s, sync: !returned }); }) === s ? 'this' : 'other';
} catch (e) {
  out({ threw: e.code, message: e.message, name: e.name });
  process.exit(0);
}
returned = true;
const addr = s.address();
out({ r, addrFamily: addr.family, addrAddress: addr.address, bindState: state().bindState, receiving: state().receiving, fdIs3: state().handle.fd === 3 });
out({ bindAgain: (() => { try { s.bind(0); return 'ok'; } catch (e) { return e.code; } })() });
out({ ttl: (() => { try { return s.setTTL(9); } catch (e) { return e.code; } })(), rbuf: s.getRecvBufferSize() });
const peerType = addr.family === 'IPv6' ? 'udp6' : 'udp4';
const host = addr.family === 'IPv6' ? '::1' : '127.0.0.1';
const peer = require('node:dgram').createSocket(peerType);
s.on('message', (m, rinfo) => {
  out({ message: String(m), fromPeer: rinfo.port === peer.address().port, family: rinfo.family, size: rinfo.size });
  s.send('pong', rinfo.port, rinfo.address, (err, n) => {
    out({ sendCb: err ? err.code : null, n });
    if (err) process.exit(0);
  });
});
peer.on('message', (m) => {
  out({ reply: String(m), events });
  peer.close();
  s.close(() => {
    out({ closed: true, handleNull: state().handle === null });
    // The descriptor was closed with the socket (ownership passed to it).
    try { require('node:fs').fstatSync(3); out({ fd3: 'open' }); } catch (e) { out({ fd3: e.code }); }
  });
});
peer.send('ping', addr.port, host);
setTimeout(() => { out({ timeout: true }); process.exit(3); }, 3000).unref();
`;

// The child script for one socket type (runWithInheritedFd runs `node file`).
function withType(type) {
  return scriptFile(`fd-child-${type}.js`, CHILD.replace('const type = process.argv[2];', `const type = ${JSON.stringify(type)};`));
}

async function inheritedParity(t, type, family, kind = 'udp') {
  const file = withType(type);
  const [node, rs] = await Promise.all(['node', 'rs'].map((impl) => runWithInheritedFd(file, impl, { family, kind })));
  t.deepEqual(childView(rs), childView(node));
  return { node, rs };
}

pyTest('udp4 bind({ fd }) on an inherited IPv4 UDP socket: sync listening, address, state, round trip, close', async (t) => {
  const { node } = await inheritedParity(t, 'udp4', '4');
  t.regex(node.stdout, /"addrFamily":"IPv4","addrAddress":"127.0.0.1","bindState":2,"receiving":true,"fdIs3":true/);
  t.regex(node.stdout, /"reply":"pong"/);
  t.regex(node.stdout, /"fd3":"EBADF"/);
});

pyTest('udp6 bind({ fd }) on an inherited IPv6 UDP socket', async (t) => {
  const { node } = await inheritedParity(t, 'udp6', '6');
  t.regex(node.stdout, /"addrFamily":"IPv6","addrAddress":"::1"/);
  t.regex(node.stdout, /"reply":"pong"/);
});

// uv_udp_open does not check the address family: a udp4 socket wrapping an
// IPv6 descriptor works with IPv6 addresses (libuv does not care).
pyTest('udp4 bind({ fd }) on an inherited IPv6 UDP socket: like node', async (t) => {
  await inheritedParity(t, 'udp4', '6');
});

// A descriptor connected before it was handed over: libuv's uv_udp_open
// marks the handle connected, so a send with an address and connect()
// fail with EISCONN (the JS socket does not know it is connected).
const CONNECTED_CHILD = `'use strict';
const dgram = require(process.env.DGRAM);
const out = (o) => console.log(JSON.stringify(o));
const s = dgram.createSocket('udp4');
s.bind({ fd: 3 }, () => {
  const port = s.address().port;
  s.send('x', port, '127.0.0.1', (err, n) => {
    out({ sendTo: err ? [err.code, err.syscall] : n });
    s.connect(port, '127.0.0.1', (e) => {
      out({ connect: e ? [e.code, e.syscall] : 'ok' });
      s.close(() => out({ closed: true }));
    });
  });
});
`;

pyTest('bind({ fd }) on a UDP descriptor connected beforehand: a send with an address and connect() fail with EISCONN, like node', async (t) => {
  const file = scriptFile('fd-child-connected.js', CONNECTED_CHILD);
  const [node, rs] = await Promise.all(['node', 'rs'].map((impl) => runWithInheritedFd(file, impl, { kind: 'udp-connected' })));
  t.is(rs.stdout, node.stdout);
  t.regex(node.stdout, /"sendTo":\["EISCONN","send"\]/);
  t.regex(node.stdout, /"connect":\["EISCONN","connect"\]/);
});

pyTest('bind({ fd }) on an inherited TCP socket: ERR_INVALID_FD_TYPE (TCP)', async (t) => {
  const { node } = await inheritedParity(t, 'udp4', '4', 'tcp');
  t.regex(node.stdout, /"threw":"ERR_INVALID_FD_TYPE","message":"Unsupported fd type: TCP"/);
});

test('bind({ fd }) with descriptors of the wrong kind or invalid numbers, in process, like node', async (t) => {
  const file = fs.openSync(__filename, 'r');
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { node } = await parity(t, async (dgram, tr) => {
      const cases = {
        'regular file': file,
        'TCP server': server._handle.fd,
        'unused 9999': 9999,
        'fd 0 (ignored: not > 0)': 0,
        'fd -1 (ignored)': -1,
        'fd 1.5 (ignored)': 1.5,
        'fd 2 ** 31 (ignored: not int32)': 2 ** 31,
        'fd "3" (ignored: not a number)': '3',
        // Node's int32 check converts the value: these throw from it.
        'fd 1n (TypeError)': 1n,
        'fd Symbol (TypeError)': Symbol('fd'),
        'fd null-prototype object (TypeError)': Object.create(null),
      };
      let valueOfCalls = 0;
      cases['fd { valueOf } (called, then ignored)'] = { valueOf: () => ++valueOfCalls && 3 };
      for (const [label, fd] of Object.entries(cases)) {
        const s = dgram.createSocket('udp4');
        const events = [];
        s.on('listening', () => events.push('listening'));
        s.on('error', (e) => events.push({ error: errShape(e) }));
        rec(tr, label, () => s.bind({ fd, address: '127.0.0.1' }), s);
        tr.push({ [`${label}: bindState`]: internals(s).bindState });
        await new Promise((resolve) => setTimeout(resolve, 10));
        const addr = capture(() => s.address());
        if (addr.returned && addr.returned.port) tr.reg(addr.returned.port, label);
        tr.push({ [`${label}: after`]: { events, address: addr } });
        s.close();
        await once(s, 'close');
      }
      tr.push({ valueOfCalls });
    });
    t.is(node.find((e) => 'fd 1n (TypeError)' in e)['fd 1n (TypeError)'].threw.name, 'TypeError');
    t.is(node[node.length - 1].valueOfCalls, 1);
    t.is(node[0]['regular file'].threw.message, 'Unsupported fd type: FILE');
    t.is(node[0]['regular file'].threw.code, 'ERR_INVALID_FD_TYPE');
  } finally {
    fs.closeSync(file);
    server.close();
  }
});

test('bind({ fd }) after close() and on an already bound socket', async (t) => {
  const file = fs.openSync(__filename, 'r');
  try {
    await parity(t, async (dgram, tr) => {
      const closed = dgram.createSocket('udp4');
      closed.close();
      rec(tr, 'closed', () => closed.bind({ fd: file }), closed);
      const bound = dgram.createSocket('udp4');
      await new Promise((resolve) => bound.bind(0, '127.0.0.1', resolve));
      rec(tr, 'bound', () => bound.bind({ fd: file }), bound);
      await closeAll(bound);
    });
  } finally {
    fs.closeSync(file);
  }
});
