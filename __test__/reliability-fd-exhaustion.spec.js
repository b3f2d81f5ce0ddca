'use strict';

// Reliability: running out of file descriptors (EMFILE) for a moment.
// node:dgram needs no descriptor beyond the socket's own to receive or
// queue a send; dgram-rs's read-ahead and send drain run on a runtime that
// needs an epoll and an eventfd when it starts. A runtime that cannot start
// must cost only read-ahead (the JS loop keeps reading, as Node's does),
// never an 'error' event, and must start once descriptors are free again.
// Each scenario runs in a child process with both implementations
// (helpers.childParity).

const test = require('ava');
const { childParity } = require('./helpers.js');

test('a burst received while no descriptor is free: every datagram, no error, and the same after they are freed', async (t) => {
  const { node } = await childParity(
    t,
    `const dgram = require(process.env.DGRAM);
    const fs = require('node:fs');
    const N = 300;
    const rx = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
    const tx = dgram.createSocket('udp4');
    const errors = [];
    rx.on('error', (e) => errors.push(e.code + ' ' + e.syscall));
    let got = 0;
    let onBurst = null;
    rx.on('message', () => { if (++got % N === 0) onBurst(); });
    // N datagrams in one tick: the receiver finds them all waiting. The
    // last send's callback runs before the receiver reads; 'held' is
    // filled with descriptors until open() fails.
    function burst(exhaust, then) {
      const held = [];
      onBurst = () => { held.forEach((fd) => fs.closeSync(fd)); then(); };
      for (let i = 0; i < N; i++) {
        tx.send('x', rx.address().port, '127.0.0.1', i < N - 1 ? undefined : () => {
          if (!exhaust) return;
          try { for (;;) held.push(fs.openSync(require('node:os').devNull, 'r')); } catch (e) { console.log('open:', e.code); }
        });
      }
    }
    rx.bind(0, '127.0.0.1', () => tx.bind(0, '127.0.0.1', () => {
      burst(true, () => {
        console.log('exhausted burst:', got);
        burst(false, () => {
          console.log('after:', got, 'errors:', errors.join(', ') || 'none');
          rx.close();
          tx.close();
        });
      });
    }));`,
    { ms: 15000 },
  );
  t.is(node.stdout, 'open: EMFILE\nexhausted burst: 300\nafter: 600 errors: none\n');
});
