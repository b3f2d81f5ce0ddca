// The docs snippet (socket.setMulticastInterface(), "IPv4 outgoing multicast
// interface") uses `dgram` without requiring it; this line, not in the docs,
// does.
const dgram = require('dgram-rs');

const socket = dgram.createSocket('udp4');

socket.bind(1234, () => {
  socket.setMulticastInterface('10.0.0.2');
});
