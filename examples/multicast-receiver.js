'use strict';

// Multicast receiver on the loopback interface (not a docs example).
//
//   node examples/multicast-receiver.js [port] [count]
//
// Binds 0.0.0.0:<port> (default 41237; 0 picks a free port) with reuseAddr,
// joins the group 239.255.77.77 on the interface 127.0.0.1 only, prints
// every datagram it gets, and exits after <count> of them (default: never).
// Run examples/multicast-sender.js with the same port to feed it.

const dgram = require('dgram-rs');

const GROUP = '239.255.77.77';
const INTERFACE = '127.0.0.1';
const port = Number(process.argv[2] ?? 41237);
const count = Number(process.argv[3] ?? Infinity);

const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
let received = 0;

socket.on('error', (err) => {
  console.error(`receiver error:\n${err.stack}`);
  socket.close();
  process.exitCode = 1;
});

socket.on('message', (msg, rinfo) => {
  received++;
  console.log(`receiver got: ${msg} from ${rinfo.address}:${rinfo.port} (${rinfo.size} bytes)`);
  if (received >= count) {
    socket.dropMembership(GROUP, INTERFACE);
    socket.close(() => console.log(`receiver done after ${received} datagrams`));
  }
});

socket.bind(port, () => {
  socket.addMembership(GROUP, INTERFACE);
  const address = socket.address();
  console.log(`receiver listening ${address.address}:${address.port}, joined ${GROUP} on ${INTERFACE}`);
});
