'use strict';

// Reliability: datagrams of every size class round-trip intact (byte for
// byte), one at a time and in same-tick bursts of equal sizes (the bursts
// take dgram-rs's batched/GSO send path and its GRO-splitting receive path),
// and the first size over the limit fails with EMSGSIZE in the callback,
// exactly as node:dgram reports it.

const crypto = require('node:crypto');
const test = require('ava');
const { impls, boundSocket, closeAll, collect, parity, errShape } = require('./helpers.js');

const SIZES = {
  udp4: [0, 1, 2, 100, 1472, 1473, 8192, 65507],
  udp6: [0, 1, 2, 100, 1452, 1453, 8192, 65527],
};
const HOST = { udp4: '127.0.0.1', udp6: '::1' };

function payload(size, seed) {
  // Deterministic, distinct per (size, seed).
  const out = Buffer.alloc(size);
  let block = Buffer.alloc(0);
  for (let off = 0, n = 0; off < size; off += block.length, n++) {
    block = crypto.createHash('sha256').update(`${seed}:${size}:${n}`).digest();
    block.copy(out, off);
  }
  return out;
}

for (const type of ['udp4', 'udp6']) {
  for (const [senderName, receiverName] of [['rs', 'rs'], ['rs', 'node'], ['node', 'rs']]) {
    test(`${type}: every size class round-trips intact, one at a time (${senderName} -> ${receiverName})`, async (t) => {
      const rx = await boundSocket(impls[receiverName], type);
      const tx = await boundSocket(impls[senderName], type);
      // macOS refuses a datagram larger than the send buffer (9216 bytes
      // by default, net.inet.udp.maxdgram) with EMSGSIZE.
      if (process.platform === 'darwin') tx.setSendBufferSize(256 * 1024);
      const inbox = collect(rx);
      try {
        for (const size of SIZES[type]) {
          const data = payload(size, 'single');
          const before = inbox.msgs.length;
          const sent = await new Promise((resolve, reject) => tx.send(data, rx.address().port, HOST[type], (err, n) => (err ? reject(err) : resolve(n))));
          t.is(sent, size, `send callback bytes for ${size}`);
          await inbox.wait(before + 1);
          const { msg, rinfo } = inbox.msgs[before];
          t.is(msg.length, size);
          t.is(rinfo.size, size);
          t.true(msg.equals(data), `payload of ${size} bytes intact`);
        }
      } finally {
        await closeAll(rx, tx);
      }
    });
  }

  test(`${type}: same-tick bursts of equal-size datagrams arrive intact and unmerged (dgram-rs both ends)`, async (t) => {
    const rx = await boundSocket(impls.rs, type);
    const tx = await boundSocket(impls.rs, type);
    rx.setRecvBufferSize(4 * 1024 * 1024);
    const inbox = collect(rx);
    try {
      for (const size of [1, 100, type === 'udp4' ? 1472 : 1452, 8192]) {
        const burst = Array.from({ length: 20 }, (_, i) => payload(size, `burst${i}`));
        const before = inbox.msgs.length;
        await Promise.all(burst.map((data) => new Promise((resolve, reject) => tx.send(data, rx.address().port, HOST[type], (err) => (err ? reject(err) : resolve())))));
        await inbox.wait(before + 20);
        const got = inbox.msgs.slice(before).map((m) => m.msg.toString('hex')).sort();
        t.deepEqual(got, burst.map((b) => b.toString('hex')).sort(), `burst of 20 × ${size} bytes`);
      }
    } finally {
      await closeAll(rx, tx);
    }
  });

  test(`${type}: one byte over the limit fails with EMSGSIZE in the callback, as node (single buffer, buffer list, connected)`, async (t) => {
    const over = SIZES[type][SIZES[type].length - 1] + 1;
    const { node } = await parity(t, async (dgram, trace) => {
      const rx = await boundSocket(dgram, type);
      const inbox = collect(rx);
      const tx = await boundSocket(dgram, type);
      const port = trace.reg(rx.address().port, 'rx');
      const result = (fn) => new Promise((resolve) => fn((err, n) => resolve({ err: errShape(err), n })));
      trace.push({ single: await result((cb) => tx.send(Buffer.alloc(over), port, HOST[type], cb)) });
      trace.push({ list: await result((cb) => tx.send([Buffer.alloc(over - 10), Buffer.alloc(10)], port, HOST[type], cb)) });
      trace.push({ offsetLength: await result((cb) => tx.send(Buffer.alloc(over + 100), 50, over, port, HOST[type], cb)) });
      const c = await boundSocket(dgram, type);
      await new Promise((resolve) => c.connect(port, HOST[type], resolve));
      trace.push({ connected: await result((cb) => c.send(Buffer.alloc(over), cb)) });
      // The socket still works afterwards.
      trace.push({ after: await result((cb) => tx.send('still ok', port, HOST[type], cb)) });
      await inbox.wait(1);
      trace.push({ received: inbox.msgs.map((m) => m.msg.toString()) });
      await closeAll(rx, tx, c);
    });
    t.is(node[0].single.err.code, 'EMSGSIZE');
  });
}
