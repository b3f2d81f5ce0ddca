// The docs snippet (socket.setMulticastInterface(), "IPv6 outgoing multicast
// interface", most systems) uses `dgram` without requiring it; this line,
// not in the docs, does.
const dgram = require('dgram-rs');

const socket = dgram.createSocket('udp6');

socket.bind(1234, () => {
  socket.setMulticastInterface('::eth1');
});
