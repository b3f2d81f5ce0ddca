'use strict';
// Child of blocked-consumer.js: floods 127.0.0.1/::1:<port> for <ms> with
// datagrams of the given sizes (alternating), always using node:dgram so
// both receivers face the same sender.
//   node flooder.js <type> <port> <ms> <size,size,...>
const dgram = require('node:dgram');

const [type, portArg, msArg, sizesArg] = process.argv.slice(2);
const port = Number(portArg);
const ms = Number(msArg);
const sizes = sizesArg.split(',').map(Number);
const host = type === 'udp4' ? '127.0.0.1' : '::1';
const bufs = sizes.map((n, i) => Buffer.alloc(n, 0x61 + i));
const s = dgram.createSocket(type);
let sent = 0;
let errors = 0;
s.on('error', () => { errors++; });
s.connect(port, host, () => {
  const end = Date.now() + ms;
  process.send({ flooding: true });
  const burst = () => {
    for (let i = 0; i < 64; i++) {
      s.send(bufs[sent % bufs.length]);
      sent++;
    }
    if (Date.now() < end) setImmediate(burst);
    else s.close(() => process.send({ done: true, sent, errors }, () => process.exit(0)));
  };
  burst();
});
