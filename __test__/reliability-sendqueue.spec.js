'use strict';

// The send queue: sends the kernel refuses for now (EAGAIN) wait in a queue
// and complete in order, counted by getSendQueueSize()/getSendQueueCount(),
// and close() cancels what still waits (ECANCELED). Loopback never pushes
// back on its own, so each scenario runs in a private network namespace
// (unshare -rn) whose lo is rate limited by a token-bucket qdisc: datagrams
// wait in the qdisc, count against the sender's small send buffer, and the
// socket stops being writable. Compared with node:dgram.
//
// Most datagrams here have sizes of their own, so that each is a write of
// its own on both; equal-size sends of one tick go out as UDP GSO writes of
// at most half the send buffer (R20 in __test__/DISCREPANCIES.md), which
// the last two tests cover.

const { spawnSync } = require('node:child_process');
const test = require('ava');
const { netnsParity, netnsTest } = require('./options-helpers.js');
const { parity, runBoth, boundSocket, closeAll, collect, errShape, fence, ticks, withTimeout } = require('./helpers.js');

// 2 Mbit/s, a 5 KB burst, up to 1 MB waiting: nothing is dropped, only late.
const SLOW_LO = 'tc qdisc add dev lo root tbf rate 2mbit burst 5kb limit 1mb';

// These need `tc` (iproute2) inside the namespace as well; reported as
// skipped, with the reason, where it is missing (.ci/run installs it).
function tcTest() {
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', `ip link set lo up && ${SLOW_LO}`], { encoding: 'utf8', timeout: 5000 });
  if (!r.error && r.status === 0) return netnsTest(test);
  console.log(`[reliability-sendqueue] skipping: cannot rate-limit lo in a namespace: ${r.error ? r.error.message : String(r.stderr).trim()}`);
  return test.skip;
}
const slowLoTest = tcTest();

slowLoTest('sends beyond a full send buffer are queued, counted, completed in order and all delivered', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const N = 40;
    const SIZE = 1000;
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    const inbox = h.collect(r);
    const done = [];
    const all = new Promise((resolve) => {
      for (let i = 0; i < N; i++) {
        s.send(Buffer.alloc(SIZE + i, i), port, '127.0.0.1', (err, n) => {
          done.push([i, h.errShape(err), n]);
          if (done.length === N) resolve();
        });
      }
    });
    // Right after the burst (on the next tick, when dgram-rs has written
    // this tick's sends), part of it waits in the queue.
    await new Promise((resolve) => process.nextTick(resolve));
    const count = s.getSendQueueCount();
    const size = s.getSendQueueSize();
    // The queued ones are the last `count`, of sizes SIZE + N - count … SIZE + N - 1.
    let expected = 0;
    for (let i = N - count; i < N; i++) expected += SIZE + i;
    tr.push({ queuedSome: count > 0 && count < N, sizeMatches: size === expected });
    await all;
    tr.push({ callbacks: done });
    tr.push({ queueAfter: [s.getSendQueueCount(), s.getSendQueueSize()] });
    const got = await inbox.wait(N);
    tr.push({ received: got.map(({ msg }) => [msg.length, msg[0]]) });
    await h.closeAll(r, s);
  }, { setup: SLOW_LO, ms: 15000 });
  t.true(node[0].queuedSome, 'the scenario must make the kernel push back');
});

slowLoTest('close() with sends still queued: each callback gets ECANCELED once, nothing after', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const N = 40;
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    const results = new Map();
    // What happens around close(), in order (runs of the same entry once).
    const order = [];
    const mark = (what) => {
      if (order[order.length - 1] !== what) order.push(what);
    };
    for (let i = 0; i < N; i++) {
      s.send(Buffer.alloc(1000 + i), port, '127.0.0.1', (err) => {
        results.set(i, (results.get(i) || []).concat([err ? err.code : 'ok']));
        mark(err ? err.code : 'ok');
      });
    }
    await new Promise((resolve) => process.nextTick(resolve));
    const queued = s.getSendQueueCount();
    mark('close()');
    s.close(() => mark('close'));
    process.nextTick(() => mark('tick'));
    setImmediate(() => mark('immediate'));
    await h.ticks(20);
    // 'ok' left out: which sends complete before close() is a race on
    // dgram-rs (a thread writes queued sends), and one written just before
    // close() is reported with the cancelled ones.
    tr.push({ order: order.filter((e) => e !== 'ok').filter((e, i, a) => e !== a[i - 1]) });
    const outcomes = [...results.values()];
    tr.push({
      queued: queued > 0,
      everyCallbackOnce: results.size === N && outcomes.every((o) => o.length === 1),
      // The queued ones that were not written yet (on node:dgram all of
      // them: nothing completes between two statements on its one thread;
      // dgram-rs writes queued sends on another thread meanwhile).
      someCancelled: outcomes.some((o) => o[0] === 'ECANCELED'),
      cancelledAtMostQueued: outcomes.filter((o) => o[0] === 'ECANCELED').length <= queued,
      okThenCancelled: outcomes.map((o) => o[0]).join(',').replace(/(ok,)*(ECANCELED,?)*/, '') === '',
    });
    await h.closeAll(r);
  }, { setup: SLOW_LO, ms: 15000 });
  t.true(node.find((e) => 'queued' in e).queued, 'the scenario must make the kernel push back');
  // libuv reports the cancelled sends after 'close' and this turn's immediates.
  t.deepEqual(node[0].order, ['close()', 'close', 'tick', 'immediate', 'ECANCELED']);
});

slowLoTest('getSendQueueCount()/Size() count a queued send until its callback runs, written or not (libuv), then 0', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const N = 30;
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    const counts = [];
    let done;
    const all = new Promise((resolve) => { done = resolve; });
    let called = 0;
    for (let i = 0; i < N; i++) {
      s.send(Buffer.alloc(1000 + i), port, '127.0.0.1', () => {
        // Each callback runs after its send left the count.
        counts.push(s.getSendQueueCount());
        if (++called === N) done();
      });
    }
    await new Promise((resolve) => process.nextTick(resolve));
    const before = [s.getSendQueueCount(), s.getSendQueueSize()];
    // dgram-rs's drain thread writes the queued sends meanwhile; JS has not
    // heard of them, so they still count.
    const written = h.busyUntilWritten(s, 2000);
    const after = [s.getSendQueueCount(), s.getSendQueueSize()];
    await all;
    tr.push({
      queued: before[0] > 1,
      unchangedWhileUnheard: after[0] === before[0] && after[1] === before[1],
      countsFall: counts.every((c, i) => i === 0 || c <= counts[i - 1]),
      lastCount: counts[N - 1],
      end: [s.getSendQueueCount(), s.getSendQueueSize()],
      written,
    });
    await h.closeAll(r, s);
  }, {
    setup: SLOW_LO,
    ms: 15000,
    expect: {
      node: [{ queued: true, unchangedWhileUnheard: true, countsFall: true, lastCount: 0, end: [0, 0], written: false }],
      rs: [{ queued: true, unchangedWhileUnheard: true, countsFall: true, lastCount: 0, end: [0, 0], written: true }],
    },
  });
  t.true(node[0].queued);
});

slowLoTest('a send made after queued sends were written but before their callbacks ran is called back after them, in send order', async (t) => {
  await netnsParity(t, async (dgram, tr, h) => {
    const N = 20;
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    const order = [];
    let done;
    const all = new Promise((resolve) => { done = resolve; });
    const cb = (i) => (err) => {
      order.push(err ? `${i}:${err.code}` : i);
      if (order.length === N + 1) done();
    };
    for (let i = 0; i < N; i++) s.send(Buffer.alloc(1000 + i), port, '127.0.0.1', cb(i));
    await new Promise((resolve) => process.nextTick(resolve));
    const queued = s.getSendQueueCount();
    // The written sends' callbacks have not run yet; libuv keeps counting
    // them as queued, so a new send waits behind them.
    const drained = h.busyUntilWritten(s, 2000);
    // And until the rate-limited lo has sent what the send buffer held
    // (at most ~5 KB: 20 ms at 2 Mbit/s), so that the kernel would take
    // the next send at once.
    const settled = Date.now() + 150;
    while (Date.now() < settled);
    s.send(Buffer.alloc(999), port, '127.0.0.1', cb(N));
    await all;
    tr.push({ queued: queued > 1, drained, order });
    await h.closeAll(r, s);
  }, {
    setup: SLOW_LO,
    ms: 15000,
    expect: {
      node: [{ queued: true, drained: false, order: Array.from({ length: 21 }, (_, i) => i) }],
      rs: [{ queued: true, drained: true, order: Array.from({ length: 21 }, (_, i) => i) }],
    },
  });
});

slowLoTest('close() after queued sends completed unseen: each callback gets its own outcome (a failed write its error), the unwritten ECANCELED', async (t) => {
  await netnsParity(t, async (dgram, tr, h) => {
    const N = 20;
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    const outcomes = [];
    for (let i = 0; i < N; i++) {
      s.send(Buffer.alloc(1000 + i), port, '127.0.0.1', (err, n) => outcomes.push({ i, code: err ? err.code : null, n }));
    }
    // Too large for UDP over IPv4: queued behind the others, refused by the
    // kernel when it is written.
    s.send(Buffer.alloc(65508), port, '127.0.0.1', (err, n) => outcomes.push({ i: 'big', code: err ? err.code : null, n }));
    await new Promise((resolve) => process.nextTick(resolve));
    const queued = s.getSendQueueCount();
    // dgram-rs's queued sends complete while JS has not heard; then
    // close() before any completion reaches JS.
    const drained = h.busyUntilWritten(s, 2000);
    s.close();
    await h.ticks(20);
    const big = outcomes.find((o) => o.i === 'big');
    tr.push({
      queued: queued > 1,
      drained,
      callbacks: outcomes.length,
      big: big && [big.code, big.n],
      others: [...new Set(outcomes.filter((o) => o.i !== 'big').map((o) => o.code))],
    });
    await h.closeAll(r);
  }, {
    setup: SLOW_LO,
    ms: 15000,
    expect: {
      node: [{ queued: true, drained: false, callbacks: 21, big: ['ECANCELED', 65508], others: [null, 'ECANCELED'] }],
      rs: [{ queued: true, drained: true, callbacks: 21, big: ['EMSGSIZE', 65508], others: [null] }],
    },
  });
});

// The completion of a queued send that the kernel refused when it was
// written carries that error to the callback (dgram-rs used to call it
// back with (null, 0)). The failing send comes last: libuv before 1.51
// gives a failed write's error to every send of the same sendmmsg batch
// behind it (DISCREPANCIES.md R22), which dgram-rs does not copy.
slowLoTest('a queued send that the kernel refuses when written is called back with its error (EMSGSIZE, EACCES), unconnected and connected', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    for (const variant of ['too big', 'broadcast', 'connected, too big']) {
      const { r, port, s } = await h.senderAndReceiver(dgram, tr);
      const connected = variant.startsWith('connected');
      if (connected) await new Promise((resolve) => s.connect(port, '127.0.0.1', resolve));
      const to = connected ? [] : [port, variant === 'broadcast' ? '127.255.255.255' : '127.0.0.1'];
      const outcomes = [];
      for (let i = 0; i < 20; i++) {
        s.send(Buffer.alloc(1000 + i), ...(connected ? [] : [port, '127.0.0.1']), (err, n) => outcomes.push([i, err ? err.code : null, n]));
      }
      const last = new Promise((resolve) => {
        s.send(Buffer.alloc(variant === 'broadcast' ? 100 : 65508), ...to, (err, n) => {
          outcomes.push(['last', err ? [err.code, err.syscall, err.errno] : null, n, h.errShape(err)]);
          resolve();
        });
      });
      await new Promise((resolve) => process.nextTick(resolve));
      const queued = s.getSendQueueCount() > 1;
      await last;
      tr.push({ variant, queued, outcomes });
      await h.closeAll(r, s);
    }
  }, { setup: SLOW_LO, ms: 20000 });
  t.true(node.every((v) => v.queued), 'the scenario must make the kernel push back');
  t.deepEqual(node.map((v) => v.outcomes[20].slice(0, 3)), [
    ['last', ['EMSGSIZE', 'send', -90], 65508],
    ['last', ['EACCES', 'send', -13], 100],
    ['last', ['EMSGSIZE', 'send', -90], 65508],
  ]);
});

// Measured: libuv 1.46 (Node 20) gives the error to the sends behind the
// failed one; 1.51 and later (Node 22.23, 24, 26) do not, as dgram-rs.
// Versions between were not measured.
const uvVersion = process.versions.uv.split('.').map(Number);
const uvSpreadsErrors = uvVersion[0] === 1 && uvVersion[1] < 51;
const rsQueuedError = {
  queued: true,
  outcomes: [['too big', 'EMSGSIZE', 65508], ['after 1', null, 7], ['after 2', null, 8]],
  small: [7, 8, 9],
};

slowLoTest(`${uvSpreadsErrors ? 'documented difference (R22): libuv gives' : 'as libuv (R22, fixed there since): no longer'} a queued write's error to the sends queued behind it in the same sendmmsg; dgram-rs sends them`, async (t) => {
  await netnsParity(t, async (dgram, tr, h) => {
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    const inbox = h.collect(r);
    const outcomes = [];
    for (let i = 0; i < 20; i++) s.send(Buffer.alloc(1000 + i), port, '127.0.0.1');
    const sent = (name) => (err, n) => outcomes.push([name, err ? err.code : null, n]);
    s.send(Buffer.alloc(65508), port, '127.0.0.1', sent('too big'));
    s.send(Buffer.alloc(7), port, '127.0.0.1', sent('after 1'));
    const last = new Promise((resolve) => s.send(Buffer.alloc(8), port, '127.0.0.1', (err, n) => {
      sent('after 2')(err, n);
      resolve();
    }));
    await new Promise((resolve) => process.nextTick(resolve));
    const queued = s.getSendQueueCount() > 3;
    await last;
    // The last datagram: everything before it has arrived once it has.
    const nine = new Promise((resolve) => r.on('message', (m) => m.length === 9 && resolve()));
    s.send(Buffer.alloc(9), port, '127.0.0.1');
    await h.withTimeout(nine, 5000, 'the last datagram');
    tr.push({ queued, outcomes, small: inbox.msgs.filter((m) => m.msg.length < 1000).map((m) => m.msg.length) });
    await h.closeAll(r, s);
  }, {
    setup: SLOW_LO,
    ms: 15000,
    expect: {
      node: [uvSpreadsErrors
        ? {
          queued: true,
          outcomes: [['too big', 'EMSGSIZE', 65508], ['after 1', 'EMSGSIZE', 7], ['after 2', 'EMSGSIZE', 8]],
          small: [9],
        }
        : rsQueuedError],
      rs: [rsQueuedError],
    },
  });
});

// R20 (fixed in session 29): dgram-rs's GSO writes carry at most half the
// send buffer, so a small buffer holds back an equal-size burst as it
// holds back node:dgram's one-by-one writes.
slowLoTest('an equal-size burst past a small send buffer: its tail is queued, as on node:dgram, then all delivered in order (R20)', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const N = 40;
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    const inbox = h.collect(r);
    let ok = 0;
    const all = new Promise((resolve) => {
      for (let i = 0; i < N; i++) {
        s.send(Buffer.alloc(1000, i), port, '127.0.0.1', (err) => {
          if (!err) ok++;
          if (ok === N) resolve();
        });
      }
    });
    await new Promise((resolve) => process.nextTick(resolve));
    tr.push({ queuedSome: s.getSendQueueCount() > 0 });
    await all;
    const got = await inbox.wait(N);
    tr.push({ allOk: ok === N, inOrder: got.every(({ msg }, i) => msg[0] === i) });
    await h.closeAll(r, s);
  }, { setup: SLOW_LO, ms: 15000 });
  t.deepEqual(node, [{ queuedSome: true }, { allOk: true, inOrder: true }]);
});

slowLoTest('queued sends call back in the async context of their send(), in a UDPSENDWRAP resource (init, before, after, destroy)', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const { AsyncLocalStorage, createHook, executionAsyncId } = require('node:async_hooks');
    const N = 40;
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    // UDPSENDWRAP resources: id -> the hooks seen for it.
    const wraps = new Map();
    const hook = createHook({
      init(id, type) { if (type === 'UDPSENDWRAP') wraps.set(id, ['init']); },
      before(id) { if (wraps.has(id)) wraps.get(id).push('before'); },
      after(id) { if (wraps.has(id)) wraps.get(id).push('after'); },
      destroy(id) { if (wraps.has(id)) wraps.get(id).push('destroy'); },
    }).enable();
    const als = new AsyncLocalStorage();
    const seen = [];
    await new Promise((resolve) => {
      let n = 0;
      for (let i = 0; i < N; i++) {
        als.run({ i }, () => {
          s.send(Buffer.alloc(1000 + i), port, '127.0.0.1', (err) => {
            const store = als.getStore();
            // In a UDPSENDWRAP (queued: completed later) or not (sync).
            seen.push({ i, err: h.errShape(err), store: store && store.i, inWrap: wraps.has(executionAsyncId()) });
            if (++n === N) setImmediate(resolve);
          });
        });
      }
    });
    // Destroy hooks run on a later turn.
    await new Promise((resolve) => setTimeout(resolve, 20));
    hook.disable();
    const queued = seen.filter((x) => x.inWrap);
    tr.push({
      storesMatch: seen.every((x) => x.store === x.i),
      inOrder: seen.every((x, k) => x.i === k),
      someQueued: queued.length > 0,
      // The wraps whose callbacks ran: init, before, after, destroy each once.
      queuedWrapHooks: [...new Set([...wraps.values()].filter((v) => v.includes('before')).map((v) => v.join(',')))],
    });
    await h.closeAll(r, s);
  }, { setup: SLOW_LO, ms: 15000 });
  t.like(node[0], { storesMatch: true, inOrder: true, someQueued: true, queuedWrapHooks: ['init,before,after,destroy'] });
});

// A descriptor another process holds too (a cluster's primary and its
// workers, or one passed by a parent): closing our handle while sends wait
// must leave the socket itself working for the others, as closing a libuv
// handle does (it only closes its own descriptor). Here a child adopts a
// dup of the scenario's socket with bind({ fd }), queues sends behind the
// slow lo and closes; then the parent's socket must still send and receive.
slowLoTest('closing a shared descriptor with sends queued leaves the socket working for the other holders', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const { spawn } = require('node:child_process');
    const shared = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    const sharedPort = tr.reg(shared.address().port, 'shared');
    const r = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    const port = tr.reg(r.address().port, 'receiver');
    const inbox = h.collect(r);
    const child = spawn(process.execPath, ['-e', `
      const dgram = require(process.env.DGRAM);
      const s = dgram.createSocket('udp4');
      s.bind({ fd: 3 }, () => {
        s.setSendBufferSize(4096);
        for (let i = 0; i < 40; i++) s.send(Buffer.alloc(1000 + i), ${port}, '127.0.0.1', () => {});
        setImmediate(() => {
          const queued = s.getSendQueueCount() > 0;
          s.close(() => console.log(JSON.stringify({ queued })));
        });
      });
    `], { stdio: ['ignore', 'pipe', 'inherit', h.internals(shared).handle.fd] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const [code] = await require('node:events').once(child, 'exit');
    tr.push({ child: code, ...JSON.parse(out || '{}') });
    const r2 = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    const inbox2 = h.collect(r2);
    const sent = await new Promise((resolve) => shared.send('after', r2.address().port, '127.0.0.1', (err) => resolve(h.errShape(err))));
    tr.push({ sendAfter: sent });
    const [after] = await inbox2.wait(1);
    tr.push({ receivedAfter: String(after.msg) });
    const back = h.collect(shared);
    r2.send('back', sharedPort, '127.0.0.1');
    const [{ msg }] = await back.wait(1);
    tr.push({ receivedBack: String(msg), childDatagramsArrived: inbox.msgs.length > 0 });
    await h.closeAll(r, r2, shared);
  }, { setup: SLOW_LO, ms: 20000 });
  t.true(node[0].queued, 'the scenario must make the kernel push back');
});

// sendMany() (dgram-rs's) calls back once, after the last of its datagrams
// is settled, in call order with send()s around it; on node:dgram the same
// scenario runs with one send() per datagram, the last callback standing
// for sendMany's.
slowLoTest('close() with a sendMany() queued: its callback comes before those of later send()s, as a send()\'s does', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    const order = [];
    const items = [];
    for (let i = 0; i < 40; i++) items.push({ msg: Buffer.alloc(1000 + i), port, address: '127.0.0.1' });
    const many = (err) => order.push(`many:${err ? err.code : 'ok'}`);
    if (s.sendMany) {
      s.sendMany(items, many);
    } else {
      let left = items.length;
      let first = null;
      for (const { msg } of items) {
        s.send(msg, port, '127.0.0.1', (err) => {
          first = first || err;
          if (--left === 0) many(first);
        });
      }
    }
    s.send(Buffer.alloc(10), port, '127.0.0.1', (err) => order.push(`send:${err ? err.code : 'ok'}`));
    await new Promise(setImmediate);
    tr.push({ queued: s.getSendQueueCount() > 0 });
    s.close();
    await h.ticks(20);
    tr.push({ order });
    await h.closeAll(r);
  }, { setup: SLOW_LO, ms: 15000 });
  t.true(node[0].queued, 'the scenario must make the kernel push back');
});

// The last holder of a shared descriptor frees its port when it closes, by
// its close callback, sends queued or not (libuv closes the descriptor in
// close(); dgram-rs wakes the thread writing its queue, which lets go).
slowLoTest('closing the last holder of a shared descriptor with sends queued frees the port by the close callback', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    // Datagrams of 4 KB: each takes ~16 ms to leave the slow lo, so room
    // in the send buffer comes late (a thread waiting for it is not woken
    // by the room before the rebind).
    const { spawn } = require('node:child_process');
    const original = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    const sharedPort = tr.reg(original.address().port, 'shared');
    const r = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    const port = tr.reg(r.address().port, 'receiver');
    const child = spawn(process.execPath, ['-e', `
      const dgram = require(process.env.DGRAM);
      const s = dgram.createSocket('udp4');
      process.stdin.once('data', () => s.bind({ fd: 3 }, () => {
        s.setSendBufferSize(4096);
        for (let i = 0; i < 10; i++) s.send(Buffer.alloc(4000 + i), ${port}, '127.0.0.1', () => {});
        setImmediate(() => {
          const queued = s.getSendQueueCount() > 0;
          s.close(() => {
            const again = dgram.createSocket('udp4');
            again.on('error', (err) => console.log(JSON.stringify({ queued, rebind: err.code })));
            again.bind(${sharedPort}, '127.0.0.1', () => {
              console.log(JSON.stringify({ queued, rebind: 'ok' }));
              again.close();
            });
          });
        });
      }));
    `], { stdio: ['pipe', 'pipe', 'inherit', h.internals(original).handle.fd] });
    // The child holds its copy now: the original goes, the child's is the last.
    await h.closeAll(original);
    child.stdin.end('go');
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const [code] = await require('node:events').once(child, 'exit');
    tr.push({ child: code, ...JSON.parse(out || '{}') });
    await h.closeAll(r);
  }, { setup: SLOW_LO, ms: 20000 });
  t.true(node[0].queued, 'the scenario must make the kernel push back');
  t.is(node[0].rebind, 'ok');
});

// ENOBUFS needs no namespace: an IPv6 datagram of 65508 bytes leaves in two
// fragments, and with the smallest send buffer the second never fits beside
// the first. libuv takes ENOBUFS as "no room yet": the send waits in the
// queue (libuv tries it again at every loop turn) and so do the sends
// behind it, until something changes what the try gives: a larger send
// buffer (both are sent), disconnect() (EDESTADDRREQ) or close() (ECANCELED).
// Linux's answer: other kernels size and refuse send buffers their own way.
const linuxTest = process.platform === 'linux' ? test : test.skip;
for (const end of ['setSendBufferSize', 'disconnect', 'close']) {
  linuxTest(`a send refused with ENOBUFS waits in the queue, as libuv retries it, until ${end}()`, async (t) => {
    const { node } = await parity(t, async (dgram, tr) => {
      const r = await boundSocket(dgram, 'udp6');
      const inbox = collect(r);
      const s = await boundSocket(dgram, 'udp6');
      s.setSendBufferSize(1);
      await withTimeout(new Promise((resolve) => s.connect(r.address().port, '::1', resolve)));
      const results = [];
      const settled = new Promise((resolve) => {
        const cb = (label) => (err, n) => {
          results.push([label, err ? errShape(err) : n]);
          if (results.length === 2) resolve();
        };
        s.send(Buffer.alloc(65508), cb('big'));
        s.send('small', cb('small'));
      });
      await ticks(5);
      tr.push({ before: { called: results.length, count: s.getSendQueueCount() } });
      if (end === 'setSendBufferSize') s.setSendBufferSize(1 << 20);
      else s[end]();
      await withTimeout(settled);
      tr.push({ results });
      if (end !== 'close') s.close();
      tr.push({ received: await fence(inbox, r.address().port, '::1') });
      await closeAll(r);
    });
    t.deepEqual(node[0].before, { called: 0, count: 2 });
  });
}

// Documented difference (DISCREPANCIES R32): libuv tries a send refused
// with ENOBUFS again at its next loop turn, dgram-rs's drain thread as soon
// as disconnect() changes what the try gives. So a close() in the same tick
// as the disconnect() finds nothing tried on node (ECANCELED for both), and
// on dgram-rs either the same or, when its retry came first, the retry's
// EDESTADDRREQ. Every callback is called once either way.
linuxTest('documented difference (R32): disconnect() then close() in one tick while a send waits after ENOBUFS: node cancels, dgram-rs may have retried (EDESTADDRREQ)', async (t) => {
  const { node, rs } = await runBoth(t, async (dgram, tr) => {
    const r = await boundSocket(dgram, 'udp6');
    const s = await boundSocket(dgram, 'udp6');
    s.setSendBufferSize(1);
    await withTimeout(new Promise((resolve) => s.connect(r.address().port, '::1', resolve)));
    const codes = [];
    const settled = new Promise((resolve) => {
      const cb = (err) => {
        codes.push(err ? err.code : null);
        if (codes.length === 2) resolve();
      };
      s.send(Buffer.alloc(65508), cb);
      s.send('small', cb);
    });
    await ticks(5);
    s.disconnect();
    s.close();
    await withTimeout(settled);
    await ticks(5);
    tr.push({ codes });
    await closeAll(r);
  }, 15000);
  t.deepEqual(node, [{ codes: ['ECANCELED', 'ECANCELED'] }]);
  t.is(rs[0].codes.length, 2);
  for (const code of rs[0].codes) t.true(code === 'ECANCELED' || code === 'EDESTADDRREQ', String(code));
  t.log(`dgram-rs: ${rs[0].codes.join(', ')}`);
});

// A queue that drops: 2 Mbit/s, a 16 KB burst, at most 50 ms of waiting
// (~28 KB). A sender that keeps its send buffer small is held back by it
// (EAGAIN, queued) and loses nothing; dgram-rs's UDP GSO writes of equal
// sizes must be too (a 60 KB GSO write was taken whole past the 4 KB
// buffer, and the qdisc dropped its tail).
const SHORT_QUEUE_LO = 'tc qdisc add dev lo root tbf rate 2mbit burst 16kb latency 50ms';

slowLoTest('a burst of equal-size sends from a socket with a small send buffer: all delivered, as node:dgram paces them', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const N = 200;
    const { r, port, s } = await h.senderAndReceiver(dgram, tr);
    r.setRecvBufferSize(1 << 22);
    const inbox = h.collect(r);
    let ok = 0;
    await new Promise((resolve) => {
      let done = 0;
      for (let i = 0; i < N; i++) {
        s.send(Buffer.alloc(1200, i), port, '127.0.0.1', (err) => {
          if (!err) ok++;
          if (++done === N) resolve();
        });
      }
    });
    const got = await inbox.wait(N, 5000).catch(() => inbox.msgs);
    tr.push({ ok, received: got.length });
    await h.closeAll(r, s);
  }, { setup: SHORT_QUEUE_LO, ms: 20000 });
  t.deepEqual(node, [{ ok: 200, received: 200 }]);
});

// A connected socket whose sends wait behind EAGAIN, to a port that is
// closed: each datagram that leaves brings an ICMP report. libuv reads
// before it writes, so node:dgram's receive path usually takes those
// errors ('error', recvmsg) and its queued sends go out (118 of 120 in a
// quiet run); dgram-rs's drain thread must not take them in its writes
// instead (R34: 74 of 120 went out before the fix). How many land where
// races on both (node:dgram's own split moves under load, seen in CI), so
// both are held to what always holds, and dgram-rs to its bound.
slowLoTest('queued sends of a connected socket to a closed port: its ICMP errors go to the receive side, not into the queued writes (R34)', async (t) => {
  await netnsParity(t, async (dgram, tr, h) => {
    const N = 60;
    const closed = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    const port = closed.address().port;
    await new Promise((resolve) => closed.close(resolve));
    const s = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    s.setSendBufferSize(20000);
    await new Promise((resolve) => s.connect(port, '127.0.0.1', resolve));
    let errorEvents = 0;
    const codes = new Set();
    s.on('error', (e) => {
      errorEvents++;
      codes.add(`${e.code} ${e.syscall}`);
    });
    let ok = 0;
    let failed = 0;
    await new Promise((resolve) => {
      let done = 0;
      for (let i = 0; i < N; i++) {
        s.send(Buffer.alloc(1000, i), (err) => {
          if (err) {
            failed++;
            codes.add(`${err.code} ${err.syscall}`);
          } else {
            ok++;
          }
          if (++done === N) resolve();
        });
      }
    });
    // The last reports arrive after the last write: wait for them.
    const deadline = Date.now() + 1000;
    while (errorEvents + failed < N - 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    // (How many reports arrive is not pinned: the kernel rate-limits ICMP
    // for all namespaces, and ava runs other files' ICMP tests meanwhile.)
    tr.push({
      everyCallbackOnce: ok + failed === N,
      allConnRefused: [...codes].every((c) => c.startsWith('ECONNREFUSED ')),
    });
    if (process.env.DGRAM !== 'node:dgram') tr.push({ failedAtMost10: failed <= 10 });
    s.close();
  }, {
    setup: SLOW_LO,
    ms: 20000,
    expect: {
      node: [{ everyCallbackOnce: true, allConnRefused: true }],
      rs: [{ everyCallbackOnce: true, allConnRefused: true }, { failedAtMost10: true }],
    },
  });
});

// libuv waits for each socket's writability on its own, so sockets whose
// queues all wait progress side by side: none waits for another's queue to
// empty. dgram-rs drains each waiting queue on a blocking thread of its
// runtime; with fewer threads than waiting queues (8 until session 42),
// the later queues started only as earlier ones emptied. Checked without
// timing: by the time a second socket has had all its callbacks, every
// socket has had one of its queued ones. (Not the first socket: dgram-rs's
// first queue can start writing, on its drain thread, while the JS thread
// still writes the other sockets' first sends, and so run ahead.)
slowLoTest('sixteen sockets whose sends all wait drain side by side, as libuv serves each socket on its own', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const SOCKETS = 16;
    const N = 15;
    const r = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    const port = tr.reg(r.address().port, 'receiver');
    const inbox = h.collect(r);
    const senders = [];
    for (let k = 0; k < SOCKETS; k++) {
      const s = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
      s.setSendBufferSize(4096);
      senders.push(s);
    }
    const calls = senders.map(() => 0);
    let finished = 0;
    let atSecond; // the callback counts when a second socket had all of its
    const all = Promise.all(senders.map((s, k) => new Promise((resolve) => {
      for (let i = 0; i < N; i++) {
        // Sizes of their own: each datagram a write of its own on both.
        s.send(Buffer.alloc(1000 + k * N + i, k), port, '127.0.0.1', () => {
          if (++calls[k] === N) {
            if (++finished === 2) atSecond = calls.slice();
            resolve();
          }
        });
      }
    })));
    await new Promise((resolve) => process.nextTick(resolve));
    const immediate = senders.map((s) => N - s.getSendQueueCount());
    tr.push({ allQueuedSome: immediate.every((n) => n < N) });
    await all;
    const got = await inbox.wait(SOCKETS * N);
    tr.push({
      everyOneStarted: atSecond.every((n, k) => n > immediate[k]),
      delivered: got.length,
    });
    await h.closeAll(r, ...senders);
  }, { setup: SLOW_LO, ms: 20000 });
  t.deepEqual(node, [{ allQueuedSome: true }, { everyOneStarted: true, delivered: 240 }]);
});
