// dgram-rs's typings have the same shapes as @types/node's `node:dgram`:
// values of one type are assignable to the other, both ways. (dgram-rs's
// connect callback may take an optional error, where @types/node says
// `() => void`; the two stay assignable both ways.)
import * as rs from 'dgram-rs';
import * as node from 'node:dgram';

declare const rsSocket: rs.Socket;
declare const nodeSocket: node.Socket;

export const a: node.Socket = rsSocket;
// dgram-rs's Socket adds methods (bindSync, connectSync, sendMany), so only
// the direction above holds for sockets: everything node's has, ours has.
void nodeSocket;
export const c: typeof node.createSocket = rs.createSocket;
// The module and its class stand where node:dgram's are expected (a
// library's options that take `typeof import('node:dgram')`).
export const m: typeof node = rs;
export const n: typeof node.Socket = rs.Socket;

export const e: node.RemoteInfo = {} as rs.RemoteInfo;
export const f: rs.RemoteInfo = {} as node.RemoteInfo;
export const g: node.BindOptions = {} as rs.BindOptions;
export const h: rs.BindOptions = {} as node.BindOptions;
export const i: node.SocketOptions = {} as rs.SocketOptions;
export const j: rs.SocketOptions = {} as node.SocketOptions;
export const k: node.SocketType = {} as rs.SocketType;
export const l: rs.SocketType = {} as node.SocketType;
