'use strict';

// Multicast sender on the loopback interface (not a docs example).
//
//   node examples/multicast-sender.js [port] [count]
//
// Sends <count> datagrams (default 3) to the group 239.255.77.77 on <port>
// (default 41237) through the interface 127.0.0.1 only, with multicast
// loopback on (so a receiver on this host gets them) and a TTL of 1 (so no
// router would forward them), then closes.

const dgram = require('dgram-rs');

const GROUP = '239.255.77.77';
const INTERFACE = '127.0.0.1';
const port = Number(process.argv[2] ?? 41237);
const count = Number(process.argv[3] ?? 3);

const socket = dgram.createSocket('udp4');

socket.on('error', (err) => {
  console.error(`sender error:\n${err.stack}`);
  socket.close();
  process.exitCode = 1;
});

socket.bind(0, INTERFACE, () => {
  socket.setMulticastInterface(INTERFACE);
  socket.setMulticastLoopback(true);
  socket.setMulticastTTL(1);
  let sent = 0;
  const next = () => {
    if (sent === count) {
      socket.close(() => console.log(`sender done after ${sent} datagrams`));
      return;
    }
    const message = `multicast message ${sent + 1} of ${count}`;
    socket.send(message, port, GROUP, (err) => {
      if (err) {
        socket.emit('error', err);
        return;
      }
      sent++;
      console.log(`sender sent: ${message}`);
      next();
    });
  };
  next();
});
