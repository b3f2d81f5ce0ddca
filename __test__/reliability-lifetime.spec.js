'use strict';

// Reliability: process lifetime. Each scenario runs in a child process,
// once with node:dgram and once with dgram-rs (DGRAM names the module), and
// the two must agree on exit code, signal, stdout, stderr and whether the
// child had to be killed (helpers.childParity). Timing facts the child can
// judge itself (e.g. "exited within 250 ms of close") are printed as
// booleans so that they take part in the comparison.

const test = require('ava');
const { childParity, closedPort, uncaughtSummary } = require('./helpers.js');

const D = 'const dgram = require(process.env.DGRAM);\n';

// Error summaries without ports and addresses that vary between runs.
const crashSummary = (s) => uncaughtSummary(s.replace(/:\d{4,5}\b/g, ':PORT').replace(/port: \d+/g, 'port: PORT'));

test('unbound sockets (with listeners, after failed option calls) let the process exit at once', async (t) => {
  const { node, rs } = await childParity(t, `${D}
    const started = Date.now();
    const a = dgram.createSocket('udp4', () => {});
    const b = dgram.createSocket({ type: 'udp6', reuseAddr: true });
    a.on('error', () => {});
    b.on('close', () => console.log('never: b not closed'));
    for (const fn of [() => a.setTTL(5), () => b.setBroadcast(true), () => a.getRecvBufferSize()]) {
      try { fn(); } catch (e) { console.log('threw', e.code || e.message); }
    }
    process.on('exit', (code) => console.log('exit', code, 'fast:', Date.now() - started < 2000));
  `);
  t.is(node.code, 0);
  t.regex(node.stdout, /exit 0 fast: true\n$/);
  t.log('exit after', node.ms, 'ms (node)', rs.ms, 'ms (dgram-rs)');
});

test('bind() + unref() (udp4, udp6, connected) lets the process exit after listening', async (t) => {
  const { node } = await childParity(t, `${D}
    const a = dgram.createSocket('udp4');
    const b = dgram.createSocket('udp6');
    const c = dgram.createSocket('udp4');
    a.bind(0, '127.0.0.1', () => {
      console.log('a listening');
      c.connect(a.address().port, '127.0.0.1', () => { console.log('c connected'); c.unref(); });
    }).unref();
    b.bind(0, '::1', () => console.log('b listening'));
    b.unref();
    setTimeout(() => console.log('never: timer is unref\\'d'), 3000).unref();
    process.on('exit', (code) => console.log('exit', code));
  `);
  t.is(node.stdout, 'a listening\nb listening\nc connected\nexit 0\n');
});

test('a bound, ref\'d socket keeps the process alive until close() 300 ms later, then it exits at once', async (t) => {
  const { node, rs } = await childParity(t, `${D}
    const started = Date.now();
    const s = dgram.createSocket('udp4');
    const s6 = dgram.createSocket('udp6');
    s.bind(0, '127.0.0.1');
    s6.bind(0, '::1', () => s6.connect(s6.address().port, '::1'));
    let closedAt;
    setTimeout(() => {
      closedAt = Date.now();
      console.log('closing after >= 300 ms:', closedAt - started >= 300);
      s.close();
      s6.close();
    }, 300).unref();
    process.on('exit', (code) => console.log('exit', code, 'within 2 s of close:', Date.now() - closedAt < 2000));
  `);
  t.is(node.stdout, 'closing after >= 300 ms: true\nexit 0 within 2 s of close: true\n');
  t.log('child ran', node.ms, 'ms (node)', rs.ms, 'ms (dgram-rs)');
});

test('process.exit() with bound sockets, a flood in flight, queued sends and a pending lookup: exits at once, code kept, no stderr', async (t) => {
  const { node, rs } = await childParity(t, `${D}
    const rx = dgram.createSocket('udp4');
    const rx6 = dgram.createSocket('udp6');
    let got = 0;
    rx.on('message', () => { got++; });
    rx6.on('message', () => { got++; });
    rx.bind(0, '127.0.0.1', () => rx6.bind(0, '::1', () => {
      const port = rx.address().port;
      const tx = dgram.createSocket('udp4');
      const tx6 = dgram.createSocket('udp6');
      tx6.connect(rx6.address().port, '::1');
      const big = Buffer.alloc(60000, 1);
      const flood = () => {
        for (let i = 0; i < 50; i++) {
          tx.send(i % 10 ? 'x' : big, port, '127.0.0.1');
          try { tx6.send('y'); } catch { /* still connecting */ }
        }
        setImmediate(flood);
      };
      flood();
      // Sends queued behind an implicit bind, and one waiting for a slow lookup.
      const q = dgram.createSocket('udp4');
      for (let i = 0; i < 10; i++) q.send('queued', port, '127.0.0.1');
      const slow = dgram.createSocket({ type: 'udp4', lookup: (h, f, cb) => setTimeout(cb, 5000, null, '127.0.0.1', 4) });
      slow.send('slow', port, 'slow.example');
      setTimeout(() => {
        console.log('received some:', got > 0);
        globalThis.exitAt = Date.now();
        process.exit(5);
      }, 200);
    }));
    process.on('exit', (code) => console.log('exit', code, 'fast:', Date.now() - globalThis.exitAt < 100));
  `, { ms: 8000 });
  t.is(node.code, 5);
  t.is(node.stderr, '');
  t.is(node.stdout, 'received some: true\nexit 5 fast: true\n');
  t.log('child ran', node.ms, 'ms (node)', rs.ms, 'ms (dgram-rs)');
});

test('process.exit() inside a send callback and inside a close callback', async (t) => {
  for (const where of ['send', 'close']) {
    const { node } = await childParity(t, `${D}
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => {
        s.send('x', s.address().port, '127.0.0.1', () => {
          if (${JSON.stringify(where)} === 'send') process.exit(4);
          s.close(() => process.exit(6));
        });
      });
      s.on('message', () => console.log('message'));
      process.on('exit', (code) => console.log('exit', code));
    `);
    t.is(node.code, where === 'send' ? 4 : 6);
    t.is(node.stderr, '');
  }
});

test('unref\'d sockets with in-flight send callbacks: every callback runs before the process exits', async (t) => {
  const { node } = await childParity(t, `${D}
    const rx = dgram.createSocket('udp4');
    rx.bind(0, '127.0.0.1', () => {
      rx.unref();
      const port = rx.address().port;
      let ok = 0, failed = 0, local = 0, slow = 0;
      // 1000 small sends on an unbound socket (implicit bind), unref'd.
      const s = dgram.createSocket('udp4');
      s.unref();
      for (let i = 0; i < 1000; i++) s.send('x', port, '127.0.0.1', (err) => { if (err) failed++; else ok++; });
      // A send whose lookup (host name) is still running.
      const l = dgram.createSocket('udp4');
      l.unref();
      l.send('y', port, 'localhost', (err) => { local++; });
      // A send waiting for a custom lookup that answers after 200 ms.
      const c = dgram.createSocket({ type: 'udp4', lookup: (h, f, cb) => setTimeout(cb, 200, null, '127.0.0.1', 4) });
      c.unref();
      c.send('z', port, 'delayed.example', (err) => { slow++; });
      process.on('exit', (code) => console.log('exit', code, { ok, failed, local, slow }));
    });
  `, { ms: 10000 });
  t.is(node.stdout, "exit 0 { ok: 1000, failed: 0, local: 1, slow: 1 }\n");
});

test('unref\'d socket with large sends that may queue in the kernel: all callbacks run, then exit', async (t) => {
  const { node } = await childParity(t, `${D}
    const rx = dgram.createSocket('udp4');
    rx.bind(0, '127.0.0.1', () => {
      rx.unref();
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => {
        s.unref();
        let done = 0;
        const big = Buffer.alloc(65000, 7);
        for (let i = 0; i < 300; i++) s.send(big, rx.address().port, '127.0.0.1', () => { done++; });
        process.on('exit', (code) => console.log('exit', code, 'callbacks', done));
      });
    });
  `, { ms: 10000 });
  t.is(node.stdout, 'exit 0 callbacks 300\n');
});

test('unhandled recvmsg ECONNREFUSED on a connected socket crashes like node', async (t) => {
  const port = await closedPort();
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.connect(${port}, '127.0.0.1', () => {
      s.send('ping');
      setTimeout(() => { console.log('no error event'); s.close(); }, 1000);
    });
  `, { stderr: crashSummary });
  // Linux's errno number (macOS: -61; Windows' libuv ignores the ICMP report): compared only.
  if (process.platform === 'linux') t.is(node.code, 1);
  if (process.platform === 'linux') t.deepEqual(crashSummary(node.stderr).props, ["errno: -111,", "code: 'ECONNREFUSED',", "syscall: 'recvmsg'"]);
});

test('unhandled bind error (EADDRNOTAVAIL) crashes like node; a failed send without callback is dropped silently, like node', async (t) => {
  const a = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.bind(0, '192.0.2.1');
  `, { stderr: crashSummary });
  t.is(a.node.code, 1);
  t.regex(crashSummary(a.node.stderr).header, /EADDRNOTAVAIL/);
  // node:dgram reports a failed send only to its callback: without one,
  // an oversized datagram is neither an 'error' event nor an exception.
  const b = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => s.send(Buffer.alloc(70000), 9, '127.0.0.1'));
    s.on('error', (e) => console.log('error event', e.code));
    setTimeout(() => { console.log('no crash'); s.close(); }, 500);
  `, { stderr: crashSummary });
  t.is(b.node.code, 0);
  t.is(b.node.stdout, 'no crash\n');
});
