'use strict';

// Handing a socket to a child process: `subprocess.send(message, socket)`
// and `process.send(message, socket)`, as with node:dgram.
//
// Node's IPC channel sends only handles of its own classes, which it tells
// apart with `instanceof` against its internal modules. For a node:dgram
// socket it takes the native handle under node:dgram's private state key
// and passes that handle's descriptor over the channel (SCM_RIGHTS); the
// receiving process makes a node:dgram socket bound to it. A dgram-rs
// socket takes the same path:
// - its prototype chain runs through node:dgram's `Socket.prototype`, behind
//   our own prototype, which has every member node's has (one it lacked
//   would be shadowed with `undefined`: no node:dgram method ever runs on a
//   dgram-rs socket);
// - node:dgram's state key (learnt by running node's `ref()` on a probe)
//   reads on a dgram-rs socket as `{ handle }`, the handle being a carrier:
//   a Node UDP handle opened on a duplicate of the socket's descriptor.
//   Made when a socket is first sent, closed with the socket, unref'd and
//   never started: it does no I/O, only lends the descriptor to the channel.
//   Before the socket is bound it has no descriptor (Node's handle has none
//   either: the channel reports EBADF), after close() there is no handle
//   (the message goes alone), and on Windows it never has one (libuv sends
//   TCP handles only there: ENOTSUP), as with node:dgram in each case.
// The receiving process gets a node:dgram socket: Node's IPC makes it.
// Under `--expose-internals` (Node's own tests) the state key is already
// ours and holds our handle, which the channel cannot send: no link there,
// so such a send throws ERR_INVALID_HANDLE_TYPE.

const { closeSync } = require('node:fs');
const { dupFd, hostProcess } = require('./native.js');
const { kState, nodeStateSymbol, BIND_STATE_BOUND } = require('./state.js');

const process = hostProcess();

// Marks dgram-rs's prototypes, so that another copy of this package whose
// register hook answers for 'node:dgram' is not taken for node:dgram.
const kDgramRs = Symbol.for('dgram-rs.socket-prototype');

// The open carrier of each socket that has been sent.
const carriers = new WeakMap();
// A carrier without a descriptor, shared by unbound sockets (and all of
// them on Windows); kept for the process's life, as it is never opened.
let emptyCarrier;
// node:dgram's Socket class and state key, and Node's UDP handle class.
let NodeSocket;
let nodeKey;
let NodeUDP;

/**
 * Makes sockets of `proto` (index.js's prototype) sendable to child
 * processes, where Node's internals allow it. Returns `release(socket)`,
 * which close() calls to close the socket's carrier.
 */
function offerToChildProcesses(proto) {
  Object.defineProperty(proto, kDgramRs, { value: true });
  if (nodeStateSymbol !== undefined) return noCarrier;
  NodeSocket = builtinSocketClass();
  const key = NodeSocket && nodeStateKey(NodeSocket);
  if (key === undefined || Object.getPrototypeOf(NodeSocket.prototype) !== Object.getPrototypeOf(proto)) {
    return noCarrier;
  }
  nodeKey = key;
  for (const name of Reflect.ownKeys(NodeSocket.prototype)) {
    if (!Object.prototype.hasOwnProperty.call(proto, name)) {
      Object.defineProperty(proto, name, { value: undefined, writable: true, configurable: true });
    }
  }
  Object.defineProperty(proto, key, {
    configurable: true,
    get() {
      return { handle: carrierFor(this) };
    },
  });
  Object.setPrototypeOf(proto, NodeSocket.prototype);
  return releaseCarrier;
}

function noCarrier() {}

// node:dgram's Socket class. This module is loaded before dgram-rs's
// register hook (register.js loads index.js first), so the names still
// give the builtin, unless another copy of dgram-rs registered earlier.
function builtinSocketClass() {
  try {
    const dgram = typeof process.getBuiltinModule === 'function'
      ? process.getBuiltinModule('node:dgram')
      : require('node:dgram');
    const Socket = dgram && dgram.Socket;
    if (typeof Socket !== 'function' || Socket.prototype[kDgramRs]) return undefined;
    return Socket;
  } catch {
    return undefined;
  }
}

// node:dgram's `ref()` reads the socket's state under its key and nothing
// else; run on a probe, it names the key.
function nodeStateKey(NodeSocket) {
  let key;
  const probe = new Proxy({}, {
    get(_, name) {
      if (key === undefined && typeof name === 'symbol') key = name;
      return { handle: null };
    },
  });
  try {
    Reflect.apply(NodeSocket.prototype.ref, probe, []);
  } catch {
    return undefined;
  }
  return key;
}

function carrierFor(socket) {
  const state = socket[kState];
  if (state === undefined || !state.handle) return null;
  const open = carriers.get(socket);
  if (open !== undefined) return open;
  if (state.bindState !== BIND_STATE_BOUND || process.platform === 'win32') return emptyHandle();
  let fd;
  try {
    fd = dupFd(state.handle.fd);
  } catch {
    return emptyHandle(); // no descriptor to lend: the channel reports EBADF
  }
  const carrier = newNodeHandle();
  if (carrier.open(fd) !== 0) {
    closeSync(fd);
    carrier.close();
    return emptyHandle();
  }
  carriers.set(socket, carrier);
  return carrier;
}

function emptyHandle() {
  if (emptyCarrier === undefined) emptyCarrier = newNodeHandle();
  return emptyCarrier;
}

function newNodeHandle() {
  if (NodeUDP === undefined) NodeUDP = nodeUdpClass();
  const handle = new NodeUDP();
  handle.unref();
  return handle;
}

// Node's own UDP handle class, from the binding Node keeps public for
// compatibility, unless calling it would warn (DEP0111: Node wraps it under
// --pending-deprecation, node:dgram warns of nothing) or the permission model
// denies it. Then from the handle of a node:dgram socket made for the
// purpose, never bound and closed at once (seen, like any node:dgram
// socket, by 'udp.socket' subscribers and async hooks).
function nodeUdpClass() {
  if (typeof process.binding === 'function' && process.binding.name === 'binding') {
    try {
      return process.binding('udp_wrap').UDP;
    } catch {
      // denied: as below
    }
  }
  const probe = new NodeSocket('udp4');
  const UDP = probe[nodeKey].handle.constructor;
  probe.close();
  return UDP;
}

function releaseCarrier(socket) {
  const carrier = carriers.get(socket);
  if (carrier === undefined) return;
  carriers.delete(socket);
  carrier.close();
}

module.exports = { offerToChildProcesses };
