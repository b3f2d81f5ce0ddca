'use strict';

// Process lifetime: what keeps the event loop alive, ref/unref, exiting
// with open sockets, pending sends.
// Every scenario runs in a child process (once with node:dgram, once with
// dgram-rs, DGRAM names the module) and the two runs must agree on exit
// code, signal, stdout, stderr and whether the child had to be killed.

const path = require('node:path');
const test = require('ava');
const { childParity, impls, boundSocket, closeAll, collect } = require('./helpers.js');

const FIXTURES = path.join(__dirname, 'fixtures');
const D = "const dgram = require(process.env.DGRAM);\n";
// Scenarios whose node:dgram behaviour is libuv's Unix reading (32
// datagrams a turn); libuv on Windows reads one per completion.
const unixOnly = process.platform === 'win32' ? test.skip : test;

test('createSocket() alone lets the process exit', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    const s6 = dgram.createSocket('udp6');
    console.log(typeof s.bind, typeof s6.bind);
  `);
  t.is(node.code, 0);
});

test('bind() keeps the process alive until close()', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => console.log('listening'));
    // Unref'd: only the socket can keep the process alive long enough.
    setTimeout(() => { console.log('still alive'); s.close(() => console.log('closed')); }, 300).unref();
    process.on('exit', (code) => console.log('exit', code));
  `);
  t.is(node.stdout, 'listening\nstill alive\nclosed\nexit 0\n');
});

test('bind() then unref() lets the process exit (after listening)', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    const r = s.bind(0, '127.0.0.1', () => console.log('listening'));
    console.log('unref returns this:', s.unref() === s, r === s);
    setTimeout(() => console.log('should not print'), 2000).unref();
    process.on('exit', (code) => console.log('exit', code));
  `);
  t.is(node.stdout, 'unref returns this: true true\nlistening\nexit 0\n');
});

unixOnly('a backlog of 100: a ref()\'d socket takes them all; unref()\'d, the process exits after one turn of 32 messages', async (t) => {
  const { node } = await childParity(t, `${D}
    const nodeDgram = require('node:dgram');
    const r = dgram.createSocket('udp4');
    let n = 0;
    r.on('message', () => {
      if (++n === 100) { console.log('all 100'); r.close(); }
    });
    process.on('exit', () => console.log('exit after', n));
    r.bind(0, '127.0.0.1', () => {
      const tx = nodeDgram.createSocket('udp4');
      let sent = 0;
      // All 100 wait in the kernel before the receiver's turn comes.
      for (let i = 0; i < 100; i++) {
        tx.send(Buffer.alloc(10), r.address().port, '127.0.0.1', () => ++sent === 100 && tx.close());
      }
    });
  `);
  t.is(node.stdout, 'all 100\nexit after 100\n');
  const unref = await childParity(t, `${D}
    const nodeDgram = require('node:dgram');
    const r = dgram.createSocket('udp4');
    let n = 0;
    r.on('message', () => n++);
    process.on('exit', () => console.log('exit after', n));
    r.bind(0, '127.0.0.1', () => {
      const tx = nodeDgram.createSocket('udp4');
      let sent = 0;
      for (let i = 0; i < 100; i++) {
        tx.send(Buffer.alloc(10), r.address().port, '127.0.0.1', () => {
          if (++sent === 100) { tx.close(); r.unref(); }
        });
      }
    });
  `);
  t.is(unref.node.stdout, 'exit after 32\n');
});

test('unref() before bind() still applies after bind', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.unref();
    s.bind(0, '127.0.0.1', () => console.log('listening'));
    setTimeout(() => console.log('should not print'), 2000).unref();
    process.on('exit', (code) => console.log('exit', code));
  `);
  t.is(node.stdout, 'listening\nexit 0\n');
});

test('unref() then ref() keeps the process alive', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1');
    console.log('chain:', s.unref().ref() === s);
    setTimeout(() => { console.log('still alive'); s.close(); }, 300).unref();
    process.on('exit', (code) => console.log('exit', code));
  `);
  t.is(node.stdout, 'chain: true\nstill alive\nexit 0\n');
});

test('unref() after listening, ref() again later', async (t) => {
  await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      s.unref();
      setImmediate(() => {
        s.ref();
        setTimeout(() => { console.log('alive after re-ref'); s.close(); }, 200).unref();
      });
    });
  `);
});

test('an implicit bind (send on an unbound socket) keeps the process alive', async (t) => {
  // Port 9 (discard) on loopback: nothing listens there, nothing is sent elsewhere.
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.send('x', 9, '127.0.0.1', (err) => console.log('sent', err));
    setTimeout(() => { console.log('still alive'); s.close(); }, 300).unref();
  `);
  t.is(node.stdout, 'sent null\nstill alive\n');
});

test('a closed socket lets the process exit (close in listening, close before bind)', async (t) => {
  await childParity(t, `${D}
    const a = dgram.createSocket('udp4');
    a.bind(0, '127.0.0.1', () => a.close(() => console.log('a closed')));
    const b = dgram.createSocket('udp4');
    b.bind(0, '127.0.0.1');
    b.close(() => console.log('b closed'));
    const c = dgram.createSocket('udp4');
    c.send('x', 9, '127.0.0.1');
    c.close(() => console.log('c closed'));
    process.on('exit', (code) => console.log('exit', code));
  `);
});

test('ref()/unref() are chainable and no-ops after close', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      s.close();
      console.log(s.ref() === s, s.unref() === s, s.ref() === s);
    });
    process.on('exit', (code) => console.log('exit', code));
  `);
  t.is(node.stdout, 'true true true\nexit 0\n');
});

test('process.exit() with open bound sockets exits cleanly', async (t) => {
  const { node } = await childParity(t, `${D}
    const a = dgram.createSocket('udp4');
    const b = dgram.createSocket('udp6');
    a.bind(0, '127.0.0.1', () => b.bind(0, '::1', () => {
      b.connect(a.address().port, '::1', () => a.send('x', a.address().port, '127.0.0.1'));
    }));
    a.on('message', () => {
      console.log('got message');
      b.send('pending');
      process.exit(3);
    });
  `);
  t.is(node.code, 3);
  t.is(node.stderr, '');
});

test('process.exit() from a message listener during a flood exits cleanly', async (t) => {
  const { node } = await childParity(t, `require(${JSON.stringify(path.join(FIXTURES, 'exit-during-flood.js'))})`, { ms: 8000 });
  t.is(node.code, 0);
  t.is(node.stderr, '');
});

test('a socket with a pending send exits once the datagram is sent (unref\'d socket)', async (t) => {
  const receiver = await boundSocket(impls.node);
  const inbox = collect(receiver);
  try {
    const port = receiver.address().port;
    const { node } = await childParity(t, `${D}
      const s = dgram.createSocket('udp4');
      s.unref();
      s.send('from child', ${port}, '127.0.0.1', (err, n) => console.log('sent', err, n));
      process.on('exit', (code) => console.log('exit', code));
    `);
    t.is(node.stdout, 'sent null 10\nexit 0\n');
    await inbox.wait(2);
    t.deepEqual(inbox.msgs.map((m) => m.msg.toString()), ['from child', 'from child']);
  } finally {
    await closeAll(receiver);
  }
});

test('send() then close() in the callback: exits after the datagram is sent', async (t) => {
  const receiver = await boundSocket(impls.node);
  const inbox = collect(receiver);
  try {
    const port = receiver.address().port;
    const { node } = await childParity(t, `${D}
      const s = dgram.createSocket('udp4');
      s.send(Buffer.alloc(1000, 1), ${port}, '127.0.0.1', () => s.close(() => console.log('closed')));
    `);
    t.is(node.stdout, 'closed\n');
    await inbox.wait(2);
    t.true(inbox.msgs.every((m) => m.msg.length === 1000));
  } finally {
    await closeAll(receiver);
  }
});

// 'beforeExit' is emitted each time the loop runs out of work: whether a
// socket made inside its listener keeps the loop for another turn decides
// whether it comes again. An unref()'d libuv handle does not keep it; one
// being closed does, for one turn (Node's socket has its handle from
// createSocket(), so closing even a never-bound socket does).
const BEFORE_EXIT = {
  'bound, unref() in the bind callback': `u.bind(0, '127.0.0.1', () => { console.log('bound'); u.unref(); });`,
  'bind() then unref() at once': `u.bind(0, '127.0.0.1'); u.unref();`,
  'bound, then closed': `u.bind(0, '127.0.0.1', () => u.close(() => console.log('closed')));`,
  'never bound, closed': `u.close(() => console.log('closed'));`,
  'closed before its bind ended': `u.bind(0, '127.0.0.1'); u.close(() => console.log('closed'));`,
  'a send, then unref()': `u.send('x', 9, '127.0.0.1', (e) => { console.log('sent', e); u.unref(); });`,
  'a send, then close()': `u.send('x', 9, '127.0.0.1', (e) => { console.log('sent', e); u.close(); });`,
  'created only': ``,
};
for (const [name, body] of Object.entries(BEFORE_EXIT)) {
  test(`'beforeExit' comes again as on node:dgram when its listener makes a socket: ${name}`, async (t) => {
    const { node } = await childParity(t, `${D}
      let calls = 0;
      process.on('beforeExit', () => {
        console.log('beforeExit', ++calls);
        if (calls > 1) return;
        const u = dgram.createSocket('udp4');
        ${body}
      });
      process.on('exit', (code) => console.log('exit', code));
    `);
    // What node:dgram does: a second 'beforeExit' only when a handle closed.
    t.is(node.stdout.split('\n').filter((l) => l.startsWith('beforeExit')).length, /close/.test(body) ? 2 : 1);
  });
}
