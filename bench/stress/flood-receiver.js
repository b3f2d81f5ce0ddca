'use strict';
// Child of blocked-consumer.js: a receiver whose JS thread can be blocked.
//   DGRAM=<module> TYPE=udp4|udp6 node flood-receiver.js
// Talks to its parent over IPC: -> {ready, port}, <- {block: ms},
// -> {blocking}, -> {unblocked, count}, -> {marker, count}, <- {close}.
const fs = require('node:fs');
const dgram = require(process.env.DGRAM);

const type = process.env.TYPE || 'udp4';
const host = type === 'udp4' ? '127.0.0.1' : '::1';
const s = dgram.createSocket(type);
let count = 0;
let bytes = 0;
let marker = false;
s.on('error', (err) => {
  fs.writeSync(2, `receiver error: ${err.stack}\n`);
  process.exit(3);
});
s.on('message', (m) => {
  if (m.length === 6 && m.toString() === 'MARKER') {
    if (!marker) {
      marker = true;
      process.send({ marker: true, count, bytes });
    }
    return;
  }
  count++;
  bytes += m.length;
});
s.bind(0, host, () => process.send({ ready: true, port: s.address().port }));
process.on('message', (msg) => {
  if (msg.block) {
    process.send({ blocking: true });
    const end = Date.now() + msg.block;
    // Busy loop: no event loop turn, no microtask, no I/O callback.
    // eslint-disable-next-line no-empty
    while (Date.now() < end) {}
    setImmediate(() => process.send({ unblocked: true, count, bytes }));
  } else if (msg.close) {
    s.close(() => process.send({ closed: true, count, bytes }, () => process.exit(0)));
  }
});
