// The ESM entry as an ES module sees it (index.d.mts through the "import"
// condition): the default export is the module object, the named exports
// are the same declarations as index.d.ts's.
import dgram, { createSocket, Socket } from 'dgram-rs';
import type { RemoteInfo, SocketType } from 'dgram-rs';
import 'dgram-rs/register';

const type: SocketType = 'udp4';
const server: Socket = createSocket(type);
server.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
  console.log(msg.length, rinfo.address);
});
const client: dgram.Socket = dgram.createSocket({ type: 'udp4' });
const same: typeof createSocket = dgram.createSocket;
client.close();
server.close();
void same;
