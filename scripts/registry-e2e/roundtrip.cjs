'use strict';
// A loopback round trip through the installed dgram-rs, from CommonJS.
// Prints which prebuilt package the binary came from.
const { createSocket } = require('dgram-rs');

const timer = setTimeout(() => {
  console.error('cjs: no datagram within 20 s');
  process.exit(1);
}, 20000);
const server = createSocket('udp4');
const client = createSocket('udp4');
server.on('message', (msg, rinfo) => {
  clearTimeout(timer);
  const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node')) || '(none)';
  console.log(`cjs: "${msg}" from ${rinfo.address} (${rinfo.family}); addon ${loaded.replace(/.*node_modules\//, '')}`);
  server.close();
  client.close();
});
server.bind(0, '127.0.0.1', () => client.send('round trip', server.address().port, '127.0.0.1'));
