'use strict';

// Many sockets on one thread. On Linux dgram-rs watches a thread's sockets
// through one epoll of its own under one libuv poll handle
// (src/drivers/loop_epoll.rs), where node:dgram has a libuv handle per
// socket: what that must not change is checked here against node:dgram,
// namely every ready socket served in the same loop turn, a socket closed
// by another's listener while its datagram waits emitting nothing, and
// each socket's ref()/unref() deciding the process's lifetime on its own.

const test = require('ava');
const { parity, childParity, documentedDifference, boundSocket, closeAll, withTimeout, impls } = require('./helpers.js');
const { deprecatedMembersRemoved } = require('../lib/node-version.js');
const { netnsParity, netnsTest } = require('./options-helpers.js');

// Sends one datagram to each port from `tx`, all in one tick started in
// the loop's check phase, so that they wait in the kernel together for the
// next turn's poll phase; resolves once every send was called back (in the
// same tick: the loop has not polled yet).
// Loopback delivery of a large burst may finish in the kernel's softirq
// thread a little later: the JS thread holds the loop back meanwhile (no
// event says when the kernel is done).
function sendEach(tx, ports, label = (i) => `d${i}`) {
  return new Promise((resolve) => setImmediate(resolve)).then(() => Promise.all(ports.map((port, i) => new Promise((resolve, reject) => {
    tx.send(label(i), port, '127.0.0.1', (err) => (err ? reject(err) : resolve()));
  })))).then(() => {
    const end = Date.now() + 30;
    while (Date.now() < end);
  });
}

// In a private network namespace: 1,100 sockets bound on the host would
// take ephemeral ports that concurrent test files expect to be free.
netnsTest(test)('datagrams waiting on several sockets at once: every socket emits its own in the same loop turn, before the immediates', async (t) => {
  await netnsParity(t, async (dgram, tr, h) => {
    // 1100: more than one epoll_wait's 1,024 events (libuv asks again).
    for (const count of [2, 5, 70, 1100]) {
      const socks = [];
      for (let i = 0; i < count; i++) socks.push(await h.boundSocket(dgram));
      const tx = await h.boundSocket(h.impls.node);
      const log = [];
      await h.withTimeout(new Promise((resolve) => {
        let got = 0;
        socks.forEach((s, i) => s.on('message', (msg) => {
          log.push(`${i}:${msg}`);
          if (++got === count) setImmediate(resolve);
        }));
        // All sent in one tick started in the check phase, each called
        // back (written) before the loop polls; then the loop is held
        // until the kernel has surely delivered them (a large burst may
        // finish in its softirq thread).
        setImmediate(() => {
          let sent = 0;
          socks.forEach((s, i) => tx.send(`d${i}`, s.address().port, '127.0.0.1', () => {
            if (++sent < count) return;
            const end = Date.now() + 30;
            while (Date.now() < end);
            // The turn that reads them ends with this immediate.
            setImmediate(() => log.push('|'));
          }));
        });
      }), 10000, 'every socket');
      const turn = log.indexOf('|');
      // Which socket the kernel reports first is its business: compare
      // what came before the immediate, sorted.
      const before = log.slice(0, turn).sort();
      const after = log.slice(turn + 1);
      tr.push(count > 100 ? { count, beforeImmediate: before.length, after: after.length } : { count, beforeImmediate: before, after });
      await h.closeAll(socks, tx);
    }
  }, { ms: 30000 });
});

test('a listener that closes the other sockets while their datagrams wait: only the first socket emits', async (t) => {
  const results = await parity(t, async (dgram, tr) => {
    for (const count of [2, 4]) {
      const socks = [];
      for (let i = 0; i < count; i++) socks.push(await boundSocket(dgram));
      const emitted = [];
      const tx = await boundSocket(impls.node);
      await withTimeout(new Promise((resolve) => {
        socks.forEach((s) => s.on('message', (msg) => {
          emitted.push(String(msg).slice(0, 1));
          for (const other of socks) if (other !== s) other.close();
          setImmediate(resolve);
        }));
        sendEach(tx, socks.map((s) => s.address().port), () => 'x');
      }), 5000, 'the first message');
      tr.push({ count, emitted });
      await closeAll(socks, tx);
    }
  });
  t.deepEqual(results.rs[0], { count: 2, emitted: ['x'] });
});

// Sockets bound in one tick start being watched together before the loop
// next polls, in the order they were bound; datagrams already waiting for
// them are then served in that order (libuv registers its watchers in
// start order, and the kernel reports descriptors that are readable when
// registered in registration order). A socket closed before that point
// must not move another into its place.
test('a socket closed before its first poll: the others still emit in the order they were bound', async (t) => {
  const results = await parity(t, async (dgram, tr) => {
    const tx = await boundSocket(impls.node);
    for (const [count, closed] of [[3, 0], [4, 0], [4, 1], [5, 2]]) {
      const socks = [];
      const log = [];
      await withTimeout(new Promise((resolve) => {
        for (let i = 0; i < count; i++) {
          const s = dgram.createSocket('udp4');
          s.on('message', (msg) => {
            log.push(`${i}:${msg}`);
            if (log.length === count - 1) resolve();
          });
          socks.push(s);
        }
        for (const s of socks) s.bind(0, '127.0.0.1');
        // The last 'listening' comes in the tick of the binds, before
        // the loop polls: close one, then datagrams for the others.
        socks[count - 1].on('listening', () => {
          socks[closed].close();
          socks.forEach((s, i) => {
            if (i !== closed) tx.send(`d${i}`, s.address().port, '127.0.0.1');
          });
        });
      }), 5000, 'the datagrams');
      tr.push({ count, closed, log });
      await closeAll(socks.filter((_, i) => i !== closed));
    }
    await closeAll(tx);
  });
  t.deepEqual(results.rs[0], { count: 3, closed: 0, log: ['1:d1', '2:d2'] });
});

// Only the deprecated internals (DEP0112, gone since Node 25) stop and
// restart receiving without closing: the test runs where they exist.
(deprecatedMembersRemoved ? test.skip : test)('a listener that stops and restarts another ready socket (deprecated _handle calls): that socket still emits in the same turn', async (t) => {
  const results = await parity(t, async (dgram, tr) => {
    const [a, b] = [await boundSocket(dgram), await boundSocket(dgram)];
    const tx = await boundSocket(impls.node);
    const log = [];
    await withTimeout(new Promise((resolve) => {
      a.on('message', () => {
        log.push('a');
        b._handle.recvStop();
        b._handle.recvStart();
        setImmediate(() => log.push('immediate'));
      });
      b.on('message', () => {
        log.push('b');
        setImmediate(resolve);
      });
      // a's datagram first: the kernel reports a first.
      sendEach(tx, [a.address().port, b.address().port]);
    }), 5000, 'both messages');
    tr.push(log);
    await closeAll(a, b, tx);
  }, { ms: 20000 });
  t.deepEqual(results.rs[0], ['a', 'b', 'immediate']);
});

// The same with sockets on descriptors that other sockets opened
// (bind({ fd })): dgram-rs watches those with a libuv poll handle each, as
// it watches every socket off Linux, and libuv's poll stop drops the
// events already gathered for the descriptor this turn (its UDP
// recvStop does not). In a child process: the adopted descriptors stay
// shared with their first sockets until the process exits.
(deprecatedMembersRemoved ? test.skip : test)('the same on sockets opened from descriptors (a libuv poll handle each): still the same turn', async (t) => {
  const { node } = await childParity(t, `process.noDeprecation = true;
    const dgram = require(process.env.DGRAM);
    const nodeDgram = require('node:dgram');
    async function adopted() {
      const donor = nodeDgram.createSocket('udp4');
      await new Promise((resolve) => donor.bind(0, '127.0.0.1', resolve));
      donor._handle.recvStop();
      const s = dgram.createSocket('udp4');
      await new Promise((resolve) => s.bind({ fd: donor._handle.fd }, resolve));
      return s;
    }
    (async () => {
      const [a, b] = [await adopted(), await adopted()];
      const tx = nodeDgram.createSocket('udp4');
      await new Promise((resolve) => tx.bind(0, '127.0.0.1', resolve));
      const log = [];
      a.on('message', () => {
        log.push('a');
        b._handle.recvStop();
        b._handle.recvStart();
        setImmediate(() => log.push('immediate'));
      });
      b.on('message', () => {
        log.push('b');
        setImmediate(() => { console.log(log.join(' ')); process.exit(0); });
      });
      // Both wait in the kernel for the same poll phase, a's first.
      setImmediate(() => tx.send('1', a.address().port, '127.0.0.1', () => tx.send('2', b.address().port, '127.0.0.1')));
    })();`, { ms: 10000 });
  t.is(node.stdout, 'a b immediate\n');
});

test('ref() and unref() per socket: the process lives while a watched, ref\'d socket is open, and not longer', async (t) => {
  await childParity(
    t,
    `const dgram = require(process.env.DGRAM);
    const [a, b, c] = [0, 1, 2].map(() => dgram.createSocket('udp4'));
    process.on('exit', () => console.log('exit'));
    a.bind(0, '127.0.0.1', () => b.bind(0, '127.0.0.1', () => c.bind(0, '127.0.0.1', () => {
      b.unref();
      c.unref();
      c.ref();
      c.unref();
      // a keeps the process alive until it closes; b and c do not.
      setTimeout(() => {
        console.log('closing a');
        a.close();
      }, 100).unref();
    })));`,
    { ms: 10000 },
  );
});

test('closing the last watched socket: a new socket receives afterwards, and one closed at once after bind too', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (let round = 0; round < 3; round++) {
      const s = await boundSocket(dgram);
      const got = new Promise((resolve) => s.once('message', (m) => resolve(String(m))));
      const tx = await boundSocket(impls.node);
      await sendEach(tx, [s.address().port], () => `round ${round}`);
      tr.push(await withTimeout(got, 3000, 'message'));
      await closeAll(s, tx);
      const brief = await boundSocket(dgram);
      await closeAll(brief);
    }
  });
});

// A55: a thread's dgram-rs sockets are served together at their shared
// epoll's place among the loop's ready handles, and that epoll is asked
// when the loop reaches it. Handles of other kinds (here node:dgram ones in
// the same process) ready in the same turn see another order than libuv's.
// Linux only: elsewhere each socket has a libuv poll handle of its own.
(process.platform === 'linux' ? test : test.skip)('documented difference (A55): the order against node:dgram sockets ready in the same turn', async (t) => {
  const nodeDgram = impls.node;
  const scenario = async (dgram, tr) => {
    // a (the implementation under test), n (node:dgram), b (under test):
    // datagrams to a, n, b in that order, all waiting before one poll.
    const [a, b] = [await boundSocket(dgram), await boundSocket(dgram)];
    const n = await boundSocket(nodeDgram);
    const tx = await boundSocket(nodeDgram);
    const tx2 = await boundSocket(nodeDgram);
    // A loop turn polls, so every socket is watched before datagrams wait
    // (libuv adds a new socket to epoll at its next poll: datagrams
    // waiting by then would be reported in the order the sockets were added).
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    let log = [];
    const round = (ports, expected) => withTimeout(new Promise((resolve) => {
      const seen = () => {
        if (log.filter((e) => e.length === 1).length === expected) setImmediate(resolve);
      };
      for (const [s, name] of [[a, 'a'], [b, 'b'], [n, 'n']]) {
        s.removeAllListeners('message');
        s.on('message', (msg) => {
          log.push(name);
          // Second round: n's listener sends to b (written in this poll
          // phase), then marks the turn's end.
          if (name === 'n' && String(msg) === 'to b') {
            tx2.send('x', b.address().port, '127.0.0.1');
            setImmediate(() => log.push('immediate'));
          }
          seen();
        });
      }
      sendEach(tx, ports, (i) => (i === 0 && ports.length === 2 ? 'to b' : 'x'));
    }), 5000, 'the round');
    await round([a.address().port, n.address().port, b.address().port], 3);
    tr.push(log);
    log = [];
    await round([n.address().port, a.address().port], 3);
    tr.push(log);
    await closeAll(a, b, n, tx, tx2);
  };
  await documentedDifference(t, scenario, {
    node: [['a', 'n', 'b'], ['n', 'a', 'immediate', 'b']],
    rs: [['a', 'b', 'n'], ['n', 'a', 'b', 'immediate']],
  });
});
