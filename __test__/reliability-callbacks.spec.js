'use strict';

// Reliability: every send callback is called at most once (never twice),
// exactly where Node calls it, whatever happens to the socket meanwhile;
// listener exceptions and ICMP errors never stop a socket from receiving.
//
// As on Node 20, a send that has not passed its lookup step when close()
// runs (a send() followed by close() in the same tick, sends queued behind
// the implicit bind, a host-name lookup still running) is dropped: nothing
// sent, no callback.

const test = require('ava');
const { impls, boundSocket, closeAll, collect, delay, fence, parity, childParity, closedPort, uncaughtSummary, withTimeout } = require('./helpers.js');
const { once } = require('node:events');

const D = 'const dgram = require(process.env.DGRAM);\n';
// ICMP errors reach a UDP socket as libuv's Unix reading reports them
// (Windows reports WSAECONNRESET, which libuv ignores there).
const unixOnly = process.platform === 'win32' ? test.skip : test;

/** Callback factory that records every call of callback #i. */
function callbacks(n) {
  const calls = Array.from({ length: n }, () => []);
  return {
    calls,
    cb: (i) => (err, bytes) => { calls[i].push({ code: err ? err.code : null, bytes }); },
    /** Resolves once every callback ran (or `ms` passed), then waits a bit more to catch double calls. */
    async settle(ms = 3000, extra = 150) {
      const deadline = Date.now() + ms;
      while (calls.some((c) => c.length === 0) && Date.now() < deadline) await delay(5);
      await delay(extra);
      return this.summary();
    },
    summary() {
      const count = (k) => calls.filter((c) => c.length === k).length;
      const codes = {};
      for (const c of calls) for (const { code } of c) codes[code] = (codes[code] || 0) + 1;
      return { never: count(0), once: count(1), more: calls.filter((c) => c.length > 1).length, codes };
    },
  };
}

/** A delaying custom lookup: answers loopback after `ms`. */
const slowLookup = (ms) => (host, family, cb) => setTimeout(cb, ms, null, family === 6 ? '::1' : '127.0.0.1', family === 6 ? 6 : 4);

async function bothImpls(fn) {
  const out = {};
  for (const name of ['node', 'rs']) out[name] = await fn(impls[name], name);
  return out;
}

test('close() while sends are queued before the implicit bind: dropped, never called back, on both', async (t) => {
  const res = await bothImpls(async (dgram) => {
    const rx = await boundSocket(impls.node);
    const inbox = collect(rx);
    const s = dgram.createSocket('udp4');
    const cbs = callbacks(20);
    for (let i = 0; i < 20; i++) s.send(`q${i}`, rx.address().port, '127.0.0.1', cbs.cb(i));
    const closed = new Promise((resolve) => s.close(resolve));
    await closed;
    const summary = await cbs.settle(1000);
    await fence(inbox, rx.address().port);
    await closeAll(rx);
    return { ...summary, received: inbox.msgs.length };
  });
  t.log('node:dgram', JSON.stringify(res.node));
  t.log('dgram-rs  ', JSON.stringify(res.rs));
  t.deepEqual(res.node, { never: 20, once: 0, more: 0, codes: {}, received: 0 });
  t.deepEqual(res.rs, res.node);
});

test('close() while a host-name lookup is pending (custom delaying lookup): dropped, never called back, on both', async (t) => {
  const res = await bothImpls(async (dgram) => {
    const rx = await boundSocket(impls.node);
    const inbox = collect(rx);
    const s = dgram.createSocket({ type: 'udp4', lookup: slowLookup(100) });
    await new Promise((resolve) => s.bind(0, resolve)); // lookup('0.0.0.0') also goes through the slow lookup
    const cbs = callbacks(10);
    for (let i = 0; i < 10; i++) s.send(`h${i}`, rx.address().port, 'delayed.example', cbs.cb(i));
    s.close();
    const summary = await cbs.settle(1000);
    await closeAll(rx);
    return { ...summary, received: inbox.msgs.length };
  });
  t.log('node:dgram', JSON.stringify(res.node));
  t.log('dgram-rs  ', JSON.stringify(res.rs));
  t.deepEqual(res.node, { never: 10, once: 0, more: 0, codes: {}, received: 0 });
  t.deepEqual(res.rs, res.node);
});

test('close() while the bind\'s own lookup is pending, sends queued behind it: dropped, never called back, on both', async (t) => {
  const res = await bothImpls(async (dgram) => {
    const rx = await boundSocket(impls.node);
    const s = dgram.createSocket({ type: 'udp4', lookup: slowLookup(80) });
    s.bind(0, 'bind.example');
    const cbs = callbacks(5);
    for (let i = 0; i < 5; i++) s.send(`b${i}`, rx.address().port, '127.0.0.1', cbs.cb(i));
    const closed = new Promise((resolve) => s.close(resolve));
    await closed;
    await delay(300); // a window for callbacks that must not come (the slow lookups answer after 80 ms)
    await closeAll(rx);
    return cbs.summary();
  });
  t.log('node:dgram', JSON.stringify(res.node));
  t.log('dgram-rs  ', JSON.stringify(res.rs));
  // When the queue (bind, sends, close) runs, the sends start their
  // lookups (a custom lookup is used even for literals) and close() follows
  // at once: each lookup then finds the socket closed.
  t.deepEqual(res.node, { never: 5, once: 0, more: 0, codes: {} });
  t.deepEqual(res.rs, res.node);
});

test('1000 sends then close() in the same tick: dropped, never called back, on both', async (t) => {
  const res = await bothImpls(async (dgram) => {
    const rx = await boundSocket(impls.node);
    const inbox = collect(rx);
    const s = await boundSocket(dgram);
    const cbs = callbacks(1000);
    for (let i = 0; i < 1000; i++) s.send('x', rx.address().port, '127.0.0.1', cbs.cb(i));
    s.close();
    const summary = await cbs.settle(2000);
    await closeAll(rx);
    return { ...summary, received: inbox.msgs.length };
  });
  t.log('node:dgram', JSON.stringify(res.node));
  t.log('dgram-rs  ', JSON.stringify(res.rs));
  t.deepEqual(res.node, { never: 1000, once: 0, more: 0, codes: {}, received: 0 });
  t.deepEqual(res.rs, res.node);
});

test('1000 sends, close() a tick later: every callback once, on both', async (t) => {
  const res = await bothImpls(async (dgram) => {
    const rx = await boundSocket(impls.node);
    const s = await boundSocket(dgram);
    const cbs = callbacks(1000);
    for (let i = 0; i < 1000; i++) s.send(i % 2 ? 'x' : Buffer.alloc(1000), rx.address().port, '127.0.0.1', cbs.cb(i));
    await new Promise((resolve) => setImmediate(resolve));
    s.close();
    const summary = await cbs.settle(2000);
    await closeAll(rx);
    return summary;
  });
  t.deepEqual(res.rs, res.node);
  t.is(res.rs.once, 1000);
});

test('1000 sends on a connected socket, then close() in the same tick: every callback once, on both', async (t) => {
  const res = await bothImpls(async (dgram) => {
    const rx = await boundSocket(impls.node);
    const s = dgram.createSocket('udp6');
    await new Promise((resolve) => s.connect(rx.address().port, '::ffff:127.0.0.1', resolve));
    const cbs = callbacks(1000);
    for (let i = 0; i < 1000; i++) s.send('x', cbs.cb(i));
    s.close();
    const summary = await cbs.settle(2000);
    await closeAll(rx);
    return summary;
  });
  t.log('node:dgram', JSON.stringify(res.node));
  t.log('dgram-rs  ', JSON.stringify(res.rs));
  t.deepEqual(res.rs, res.node);
});

test('large sends that overflow the kernel buffer, then close(): every callback once (sent or ECANCELED)', async (t) => {
  const res = await bothImpls(async (dgram) => {
    const rx = await boundSocket(impls.node);
    const s = await boundSocket(dgram);
    s.setSendBufferSize(65536);
    const cbs = callbacks(400);
    const big = Buffer.alloc(60000, 9);
    for (let i = 0; i < 400; i++) s.send(big, rx.address().port, '127.0.0.1', cbs.cb(i));
    await new Promise((resolve) => setImmediate(resolve));
    const queued = s.getSendQueueCount();
    s.close();
    const summary = await cbs.settle(3000);
    await closeAll(rx);
    return { ...summary, queuedAtClose: queued };
  });
  t.log('node:dgram', JSON.stringify(res.node));
  t.log('dgram-rs  ', JSON.stringify(res.rs));
  t.is(res.node.more, 0);
  t.is(res.rs.more, 0);
  t.is(res.rs.never, 0);
  t.deepEqual(Object.keys(res.rs.codes).filter((c) => c !== 'null' && c !== 'ECANCELED'), []);
});

test('a throwing \'message\' listener surfaces as uncaughtException and later datagrams still arrive', async (t) => {
  const { node } = await childParity(t, `${D}
    let received = 0, uncaught = 0;
    process.on('uncaughtException', (err) => { uncaught++; if (err.message !== 'boom') console.log('other', err.message); });
    const rx = dgram.createSocket('udp4');
    const tx = dgram.createSocket('udp4');
    // Runs \`then\` once \`n\` messages have arrived (bounded: 5 s).
    let awaited = null;
    const whenReceived = (n, label, then) => {
      const timer = setTimeout(() => { console.log('timed out', label, { received, uncaught }); process.exit(1); }, 5000);
      awaited = { n, then: () => { clearTimeout(timer); then(); } };
    };
    rx.on('message', (m) => {
      received++;
      if (awaited && received >= awaited.n) { const { then } = awaited; awaited = null; setImmediate(then); }
      if (String(m).startsWith('boom')) throw new Error('boom');
    });
    rx.bind(0, '127.0.0.1', () => {
      const port = rx.address().port;
      // One burst (delivered in one batch by dgram-rs): every 5th throws.
      whenReceived(50, 'burst', () => {
        console.log('after burst', { received, uncaught });
        whenReceived(55, 'later', () => {
          console.log('after later', { received, uncaught });
          rx.close(); tx.close();
        });
        for (let i = 0; i < 5; i++) tx.send('later' + i, port, '127.0.0.1');
      });
      for (let i = 0; i < 50; i++) tx.send(i % 5 === 0 ? 'boom' + i : 'ok' + i, port, '127.0.0.1');
    });
  `, { ms: 10000 });
  t.is(node.stdout, 'after burst { received: 50, uncaught: 10 }\nafter later { received: 55, uncaught: 10 }\n');
});

test('a throwing listener without a handler: crash output shape like node', async (t) => {
  const { node } = await childParity(t, `${D}
    const rx = dgram.createSocket('udp4');
    rx.on('message', (m) => { throw new TypeError('listener failed on ' + m); });
    rx.bind(0, '127.0.0.1', () => { for (let i = 0; i < 3; i++) rx.send('d' + i, rx.address().port, '127.0.0.1'); });
  `, { stderr: uncaughtSummary });
  t.is(node.code, 1);
  t.is(uncaughtSummary(node.stderr).header, 'TypeError: listener failed on d0');
});

unixOnly('ICMP errors on a connected socket (ECONNREFUSED, syscall recvmsg) never stop it from receiving', async (t) => {
  const port = await closedPort('udp4');
  await parity(t, async (dgram, trace) => {
    const s = dgram.createSocket('udp4');
    const errs = [];
    const inbox = collect(s);
    s.on('error', (err) => errs.push(`${err.code}/${err.syscall}`));
    await new Promise((resolve) => s.connect(port, '127.0.0.1', resolve));
    for (let cycle = 0; cycle < 3; cycle++) {
      // Peer absent: every send draws an ICMP port unreachable.
      for (let i = 0; i < 5; i++) {
        s.send(`ping${cycle}.${i}`);
        await delay(10); // pacing: lets each ICMP report be read (an 'error') before the next send
      }
      if (errs.length === 0) await withTimeout(once(s, 'error'), 2000, 'ICMP error').catch(() => {});
      trace.push({ cycle, errors: [...new Set(errs)], someErrors: errs.length > 0 });
      errs.length = 0;
      // Peer present on that port: traffic flows both ways.
      const peer = impls.node.createSocket('udp4');
      await new Promise((resolve, reject) => { peer.once('error', reject); peer.bind(port, '127.0.0.1', resolve); });
      const peerInbox = collect(peer);
      peer.send(`hello${cycle}`, s.address().port, '127.0.0.1');
      const [{ msg }] = (await inbox.wait(1)).splice(0);
      s.send(`reply${cycle}`);
      const [{ msg: reply }] = await peerInbox.wait(1);
      trace.push({ cycle, received: String(msg), peerReceived: String(reply) });
      await closeAll(peer);
    }
    await closeAll(s);
  }, { ms: 20000 });
});
