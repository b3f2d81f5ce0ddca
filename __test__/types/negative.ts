// Wrong calls that must NOT compile. Each `// @ts-expect-error` fails the
// build if the line below it compiles (an unused directive is an error), so
// `npm run test:types` passing proves every one of these is rejected.
import * as dgram from 'dgram-rs';
import type { BindOptions, RemoteInfo, SocketOptions } from 'dgram-rs';

// @ts-expect-error: not a socket type
dgram.createSocket('udp5');
// @ts-expect-error: the type is required
dgram.createSocket();
// @ts-expect-error: options need `type`
dgram.createSocket({ reuseAddr: true });
// @ts-expect-error: unknown option
const badOptions: SocketOptions = { type: 'udp4', reuseAdress: true };
// @ts-expect-error: ipv6Only is a boolean
dgram.createSocket({ type: 'udp6', ipv6Only: 'yes' });
// @ts-expect-error: the message callback gets a Buffer, not a number
dgram.createSocket('udp4', (msg: number) => msg);

const s = dgram.createSocket('udp4');

// @ts-expect-error: a number is not a message
s.send(123);
// @ts-expect-error: nor is a plain object
s.send({ data: 'x' }, 41234);
// @ts-expect-error: the port is a number
s.send('x', '41234');
// @ts-expect-error: the address is a string
s.send(Buffer.from('x'), 41234, { host: 'localhost' });
// @ts-expect-error: an array message takes no offset/length
s.send(['a', 'b'], 0, 1, 41234, 'localhost');
// @ts-expect-error: offset without length
s.send(Buffer.from('x'), 0, 41234, 'localhost', () => {}, 'extra');
// @ts-expect-error: the send callback's first argument is Error | null
s.send('x', 41234, (err: string) => err);

// @ts-expect-error: the port is a number
s.bind('41234');
// @ts-expect-error: the bind callback takes no arguments
s.bind(0, (err: Error) => err);
// @ts-expect-error: unknown bind option
const badBind: BindOptions = { port: 0, reuse: true };
// @ts-expect-error: connect needs a port
s.connect();
// @ts-expect-error: the port is a number
s.connect('41234', 'localhost');

// @ts-expect-error: setTTL takes a number
s.setTTL('64');
// @ts-expect-error: setBroadcast takes a boolean
s.setBroadcast(1);
// @ts-expect-error: addMembership needs the group
s.addMembership();
// @ts-expect-error: addSourceSpecificMembership needs the group too
s.addSourceSpecificMembership('127.0.0.1');
// @ts-expect-error: ref() takes nothing and unref() returns the socket, not a boolean
const refd: boolean = s.unref();

// @ts-expect-error: 'message' listeners get a RemoteInfo, whose port is a number
s.on('message', (_msg, rinfo) => rinfo.port.toUpperCase());
// @ts-expect-error: 'error' listeners get an Error
s.once('error', (err) => err.toFixed());
// @ts-expect-error: emitting 'message' needs a RemoteInfo-shaped object... and a RemoteInfo needs all its fields
const badInfo: RemoteInfo = { address: '127.0.0.1', port: 1 };
// @ts-expect-error: address() returns AddressInfo, not a string
const addr: string = s.address();
// @ts-expect-error: close takes a callback, not a boolean
s.close(true);
// @ts-expect-error: Symbol.asyncDispose returns a Promise, not the socket
const disposed: dgram.Socket = s[Symbol.asyncDispose]();

// @ts-expect-error: receiveBlockList takes a net.BlockList, not address strings
const badList = dgram.createSocket({ type: 'udp4', receiveBlockList: ['10.0.0.1'] });
// @ts-expect-error: sendFrom needs the local address to send from
s.sendFrom('x', 1, '127.0.0.1');

export { badOptions, badBind, refd, badInfo, addr, disposed, badList };
