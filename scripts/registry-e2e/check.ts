// Compiled with tsc against the installed package's own types, as a
// TypeScript user of dgram-rs writes it (CommonJS output).
import * as dgram from 'dgram-rs';
import { createSocket, Socket, type RemoteInfo } from 'dgram-rs';

const server: Socket = createSocket({ type: 'udp4', reuseAddr: true });
server.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
  const port: number = rinfo.port;
  console.log(msg.toString('utf8'), rinfo.address, port);
});
server.bind(0, '127.0.0.1', () => {
  const client: dgram.Socket = dgram.createSocket('udp6');
  client.send(Buffer.from('x'), server.address().port, '::1', (err: Error | null, bytes: number) => {
    console.log(err, bytes);
    client.close();
  });
});
// @ts-expect-error: not a socket type
createSocket('tcp');
