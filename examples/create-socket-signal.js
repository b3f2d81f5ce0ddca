// The docs snippet (dgram.createSocket(options[, callback]), `signal`
// option) uses `dgram` without requiring it; this line, not in the docs, does.
const dgram = require('dgram-rs');

const controller = new AbortController();
const { signal } = controller;
const server = dgram.createSocket({ type: 'udp4', signal });
server.on('message', (msg, rinfo) => {
  console.log(`server got: ${msg} from ${rinfo.address}:${rinfo.port}`);
});
// Later, when you want to close the server.
controller.abort();
