// The docs snippet (socket.bind(options[, callback])) uses an existing
// `socket`; these two lines, not in the docs, create it.
const dgram = require('dgram-rs');
const socket = dgram.createSocket('udp4');

socket.bind({
  address: 'localhost',
  port: 8000,
  exclusive: true,
});
