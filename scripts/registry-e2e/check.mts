// The same from an ES module: default and named imports.
import dgram, { createSocket, type SocketType } from 'dgram-rs';

const type: SocketType = 'udp4';
const a = dgram.createSocket(type);
const b = createSocket({ type: 'udp6', ipv6Only: true });
a.close();
b.close();
// @ts-expect-error: send() needs a message
a.send();
