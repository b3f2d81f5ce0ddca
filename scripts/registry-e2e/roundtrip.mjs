// A loopback round trip through the installed dgram-rs, from ESM (default
// and named imports are the same module).
import dgram, { createSocket } from 'dgram-rs';
import { once } from 'node:events';

if (dgram.createSocket !== createSocket) throw new Error('default and named exports differ');
const timer = setTimeout(() => {
  console.error('esm: no datagram within 20 s');
  process.exit(1);
}, 20000);
const server = createSocket('udp4');
const client = dgram.createSocket('udp4');
server.bind(0, '127.0.0.1');
await once(server, 'listening');
client.send('round trip', server.address().port, '127.0.0.1');
const [msg, rinfo] = await once(server, 'message');
clearTimeout(timer);
console.log(`esm: "${msg}" from ${rinfo.address} (${rinfo.family})`);
server.close();
client.close();
