// Every public form of the API, used as a TypeScript user would: this file
// must compile under --strict.
import * as dgram from 'dgram-rs';
import type { BindOptions, RemoteInfo, SocketOptions, SocketType } from 'dgram-rs';
import { createSocket, Socket } from 'dgram-rs';
import type { AddressInfo } from 'node:net';

const type: SocketType = 'udp6';
const s4: Socket = createSocket('udp4');
const s6: dgram.Socket = dgram.createSocket(type, (msg: Buffer, rinfo: RemoteInfo) => {
  const family: 'IPv4' | 'IPv6' = rinfo.family;
  console.log(msg.toString('utf8'), rinfo.address, rinfo.port, rinfo.size, family);
});

const options: SocketOptions = {
  type: 'udp4',
  reuseAddr: true,
  reusePort: false,
  ipv6Only: false,
  recvBufferSize: 1 << 16,
  sendBufferSize: 1 << 16,
  signal: new AbortController().signal,
  lookup: (hostname, opts, callback) => {
    const family: number | undefined = opts.family === 'IPv6' ? 6 : undefined;
    callback(null, hostname === 'localhost' ? '127.0.0.1' : hostname, family ?? 4);
  },
};
const s: Socket = createSocket(options, (msg, rinfo) => {
  const b: Buffer = msg;
  const r: RemoteInfo = rinfo;
  console.log(b, r);
});

// bind: every form returns the socket.
const bindOptions: BindOptions = { port: 0, address: '127.0.0.1', exclusive: true };
const chained: Socket = s4.bind();
s4.bind(0);
s4.bind(0, '127.0.0.1');
s4.bind(0, '127.0.0.1', () => {});
s4.bind(0, () => {});
s4.bind(() => {});
s4.bind(bindOptions);
s4.bind({ fd: 3 }, () => {});
void chained;

// connect / disconnect / remoteAddress
s4.connect(41234);
s4.connect(41234, 'localhost');
s4.connect(41234, 'localhost', () => {});
s4.connect(41234, 'localhost', (err) => {
  const e: Error | undefined = err;
  void e;
});
s4.connect(41234, () => {});
s4.disconnect();
const remote: AddressInfo = s4.remoteAddress();
const local: AddressInfo = s4.address();
console.log(remote.address, remote.family, remote.port, local.port);

// send: the six forms, with every message type.
const buf = Buffer.from('hello');
const cb = (error: Error | null, bytes: number): void => {
  console.log(error?.message, bytes);
};
s4.send(buf, 41234, 'localhost', cb);
s4.send('text', 41234, 'localhost');
s4.send(new Uint16Array(4), 41234);
s4.send(new DataView(new ArrayBuffer(8)), 41234, cb);
s4.send([buf, 'more', new Uint8Array(2)], 41234, '127.0.0.1', cb);
s4.send(buf, cb);
s4.send(buf);
s4.send(buf, 0, 2, 41234, 'localhost', cb);
s4.send('text', 1, 2, 41234, cb);
s4.send(buf, 0, buf.length, cb);
s4.send(new Float64Array(2), 0, 8);

// options, buffers and queue
s4.setBroadcast(true);
const ttl: number = s4.setTTL(64);
const mttl: number = s4.setMulticastTTL(1);
const loop: boolean = s4.setMulticastLoopback(true);
s4.setMulticastInterface('127.0.0.1');
s4.addMembership('224.0.0.114');
s4.addMembership('224.0.0.114', '127.0.0.1');
s4.dropMembership('224.0.0.114');
s4.addSourceSpecificMembership('127.0.0.1', '232.1.1.1');
s4.dropSourceSpecificMembership('127.0.0.1', '232.1.1.1', '127.0.0.1');
s4.setRecvBufferSize(1 << 20);
s4.setSendBufferSize(1 << 20);
const sizes: number[] = [
  s4.getRecvBufferSize(),
  s4.getSendBufferSize(),
  s4.getSendQueueSize(),
  s4.getSendQueueCount(),
];
console.log(ttl, mttl, loop, sizes);
const refd: Socket = s4.unref().ref();
// Node's Socket constructor, as dgram-rs's takes the same arguments.
const constructed: Socket = new Socket('udp4', (msg: Buffer) => msg.length);
const constructedFromOptions: Socket = new dgram.Socket({ type: 'udp6', reuseAddr: true });
void constructed;
void constructedFromOptions;
void refd;

// events: typed listeners on every method of the family, chainable.
s4.on('close', () => {})
  .on('connect', () => {})
  .on('error', (err) => console.log(err.message))
  .on('listening', () => {})
  .on('message', (msg, rinfo) => console.log(msg.byteLength, rinfo.port));
s4.addListener('message', (msg) => msg.readUInt8(0));
s4.once('error', (err: Error) => err.stack);
s4.prependListener('listening', () => s4.address());
s4.prependOnceListener('message', (_msg: Buffer, rinfo: RemoteInfo) => rinfo.size);
s4.on('custom', (...args: any[]) => args.length);
s4.off('message', () => {});
const emitted: boolean[] = [
  s4.emit('close'),
  s4.emit('connect'),
  s4.emit('error', new Error('x')),
  s4.emit('listening'),
  s4.emit('message', buf, { address: '127.0.0.1', family: 'IPv4', port: 1, size: 5 }),
];
console.log(emitted);

// close and async disposal
const closed: Socket = s6.close(() => {});
void closed;
async function dispose(): Promise<void> {
  await s[Symbol.asyncDispose]();
  await using scoped = createSocket('udp4');
  scoped.bind(0);
}
void dispose;

// Socket is a class extending EventEmitter.
import { EventEmitter } from 'node:events';
const ee: EventEmitter = s;
const isSocket: boolean = s instanceof Socket;
console.log(ee, isSocket);

// What dgram-rs adds: block lists (Node 22.13), where a datagram arrived,
// sending from a chosen local address.
import { BlockList } from 'node:net';
const blocked = new BlockList();
blocked.addSubnet('10.0.0.0', 8);
const guarded = createSocket({ type: 'udp4', receiveBlockList: blocked, sendBlockList: blocked, recvDestination: true });
guarded.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
  const local: string | undefined = rinfo.localAddress;
  const ifName: string | undefined = rinfo.interface;
  const ifIndex: number | undefined = rinfo.interfaceIndex;
  console.log(ifName, ifIndex);
  if (local !== undefined) {
    guarded.sendFrom(msg, rinfo.port, rinfo.address, local, (err: Error | null, bytes: number) => console.log(err, bytes));
  }
});
guarded.sendMany([{ msg: 'x', port: 1, address: '127.0.0.1', localAddress: '127.0.0.2' }]);

// bindSync/connectSync (Node 24.19+, 26.4+) and their options type, which
// @types/node 22+ exports as dgram.BindSyncOptions.
const syncOptions: dgram.BindSyncOptions = { port: 0, address: '127.0.0.1' };
const syncSocket = createSocket('udp4');
const boundAt: AddressInfo = syncSocket.bindSync(syncOptions);
syncSocket.connectSync(boundAt.port, '127.0.0.1');
syncSocket.close();

// SocketEventMap (as @types/node 25+ exports it): listener argument tuples
// per event, usable in generic helpers over a socket's events.
function onEvent<K extends keyof dgram.SocketEventMap>(s: dgram.Socket, event: K, listener: (...args: dgram.SocketEventMap[K]) => void): void {
  s.on(event, listener);
}
onEvent(dgram.createSocket('udp4'), 'message', (msg, rinfo) => {
  const n: number = msg.length + rinfo.port;
  void n;
});
const errorArgs: dgram.SocketEventMap['error'] = [new Error('x')];
void errorArgs;
