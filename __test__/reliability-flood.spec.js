'use strict';

// Reliability: a receiver whose JS thread is blocked while it is flooded.
// The receiver runs in a child process (bench/stress/flood-receiver.js), a
// second child floods it with node:dgram (alternating 64 B and 1400 B
// datagrams) and this process samples the receiver's VmRSS/VmHWM from
// /proc/<pid>/status. dgram-rs must stay bounded (its receive task stops
// reading when JS has not taken the batches in flight, so the kernel drops)
// and must receive again afterwards; node:dgram is measured the same way
// for comparison. Serial: the two runs must not compete for the 2 CPUs.

const test = require('ava');
const { run, fmt, LIMIT_KB } = require('../bench/stress/blocked-consumer.js');

// The receiver's memory and threads are sampled from /proc: Linux only.
const linuxSerial = process.platform === 'linux' ? test.serial : test.serial.skip;

async function compare(t, opts) {
  const node = await run('node', opts);
  const rs = await run('rs', opts);
  t.log(fmt(node));
  t.log(fmt(rs));
  t.true(node.markerArrived, 'node:dgram received the marker after the flood');
  t.true(rs.markerArrived, 'dgram-rs received the marker after the flood');
  t.true(rs.sent > 1000, `the flood sent ${rs.sent} datagrams`);
  t.true(rs.received > 0, 'dgram-rs received part of the flood');
  t.true(rs.growthKB < LIMIT_KB, `dgram-rs peak ${rs.growthKB} kB above baseline (limit ${LIMIT_KB} kB)`);
  // The receive path must not spawn threads per datagram/batch.
  t.true(rs.threads.max <= rs.threads.base + 1, `threads ${rs.threads.base} -> ${rs.threads.max}`);
}

linuxSerial('blocked receiver flooded for 2 s (udp4, 64 B + 1400 B): bounded memory, receives again', async (t) => {
  t.timeout(60000);
  await compare(t, { blockMs: 2000, type: 'udp4', sizes: [64, 1400] });
});

linuxSerial('blocked receiver flooded for 1 s (udp6, 1400 B): bounded memory, receives again', async (t) => {
  t.timeout(60000);
  await compare(t, { blockMs: 1000, type: 'udp6', sizes: [1400] });
});
