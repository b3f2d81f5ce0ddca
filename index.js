'use strict';

// dgram-rs: node:dgram's API over a Rust socket handle.
//
// This file owns the API semantics, as Node's lib/dgram.js does: argument
// forms and validation, DNS lookups, the bind/connect state machines, the
// queue of operations issued before the socket is bound, and event timing.
// The native `UdpHandle` (src/handle.rs) owns the socket and all its I/O.

const EventEmitter = require('node:events');
const dns = require('node:dns');
const { deprecate } = require('node:util');
const { UdpHandle, guessHandleType, setDispatcher, startReceiving } = require('./lib/native.js');
const errors = require('./lib/errors.js');
const { isIPv4, isIPv6 } = require('./lib/ip.js');
const { ReceiveFilter, sendBlocked, validateBlockList } = require('./lib/blocklist.js');
const {
  validateAbortSignal,
  validateBoolean,
  validateBufferSize,
  validateFunction,
  validateNumber,
  validateObject,
  validatePort,
  validateString,
  validateUint32,
} = require('./lib/validators.js');

const {
  ERR_BUFFER_OUT_OF_BOUNDS,
  ERR_FEATURE_UNAVAILABLE_ON_PLATFORM,
  ERR_INVALID_ARG_TYPE,
  ERR_INVALID_FD_TYPE,
  ERR_MISSING_ARGS,
  ERR_SOCKET_ALREADY_BOUND,
  ERR_SOCKET_BAD_TYPE,
  ERR_SOCKET_BUFFER_SIZE,
  ERR_SOCKET_DGRAM_IS_CONNECTED,
  ERR_SOCKET_DGRAM_NOT_CONNECTED,
  ERR_SOCKET_DGRAM_NOT_RUNNING,
} = errors.codes;

const kState = Symbol('kState');

// dns.lookup as this module found it: a socket whose lookup is still this
// function may skip it for IP literals, as it would only echo them back.
const pristineLookup = dns.lookup;

const BIND_STATE_UNBOUND = 0;
const BIND_STATE_BINDING = 1;
const BIND_STATE_BOUND = 2;

const CONNECT_STATE_DISCONNECTED = 0;
const CONNECT_STATE_CONNECTING = 1;
const CONNECT_STATE_CONNECTED = 2;

// The bind flags the native handle understands (libuv's values).
const FLAG_IPV6ONLY = 1;
const FLAG_REUSEADDR = 4;
const FLAG_REUSEPORT = 8;

// Event kinds the native handle reports (src/shared.rs).
const EVENT_BATCH = 0;
const EVENT_RECV_ERROR = 1;
const EVENT_SEND_DONE = 2;

const kBufferTypes = ['Buffer', 'TypedArray', 'DataView', 'string'];
const kIovMax = 1024;

// Receiving sockets by native id: every native event names its socket. Like
// Node's active handles, a socket stays reachable here until it is closed.
// Ids are handed out here (cheaper than asking each handle for its own);
// they need only be unique within this copy of the module, whose sockets
// report on a channel of their own (src/env.rs: a module registry reset, as
// jest makes per test file, loads this file again in the same environment).
const liveSockets = new Map();
let lastId = 0;
function nextId() {
  do lastId = lastId >= 0xfffffffe ? 1 : lastId + 1;
  while (liveSockets.has(lastId)); // after a wrap-around, skip ids in use
  return lastId;
}
const channel = setDispatcher(onNativeEvent);


// ---------------------------------------------------------------------------

function lookup4(lookup, address, callback) {
  address = address || '127.0.0.1';
  // Node 26: the default lookup is skipped for a literal of the socket's
  // family, the answer still coming on the next tick as dns.lookup's would.
  if (lookup === pristineLookup && isIPv4(address)) return process.nextTick(callback, null, address, 4);
  return lookup(address, 4, callback);
}

function lookup6(lookup, address, callback) {
  address = address || '::1';
  if (lookup === pristineLookup && isIPv6(address)) return process.nextTick(callback, null, address, 6);
  return lookup(address, 6, callback);
}

function newHandle(type, lookup, validateOnly) {
  if (lookup === undefined) {
    lookup = dns.lookup;
  } else {
    validateFunction(lookup, 'lookup');
  }
  if (validateOnly) {
    if (type !== 'udp4' && type !== 'udp6') throw new ERR_SOCKET_BAD_TYPE();
    return undefined;
  }
  const id = nextId();
  if (type === 'udp4') return { handle: new UdpHandle(false, id, channel), id, lookup: lookup4.bind(null, lookup), rawLookup: lookup };
  if (type === 'udp6') return { handle: new UdpHandle(true, id, channel), id, lookup: lookup6.bind(null, lookup), rawLookup: lookup };
  throw new ERR_SOCKET_BAD_TYPE();
}

// Reads createSocket()'s options, validating them as Node does; with
// `validateOnly`, creates nothing (for `Socket()` called without `new`).
function readOptions(type, validateOnly) {
  let lookup;
  let recvBufferSize;
  let sendBufferSize;
  let options;
  if (type !== null && typeof type === 'object') {
    options = type;
    type = options.type;
    lookup = options.lookup;
    if (options.recvBufferSize) validateUint32(options.recvBufferSize, 'options.recvBufferSize');
    if (options.sendBufferSize) validateUint32(options.sendBufferSize, 'options.sendBufferSize');
    recvBufferSize = options.recvBufferSize;
    sendBufferSize = options.sendBufferSize;
    if (options.receiveBlockList) validateBlockList(options.receiveBlockList, 'options.receiveBlockList');
    if (options.sendBlockList) validateBlockList(options.sendBlockList, 'options.sendBlockList');
    if (options.recvDestination !== undefined) {
      validateBoolean(options.recvDestination, 'options.recvDestination');
      if (options.recvDestination && process.platform !== 'linux') {
        throw new ERR_FEATURE_UNAVAILABLE_ON_PLATFORM('options.recvDestination');
      }
    }
  }
  const created = newHandle(type, lookup, validateOnly);
  return { type, options, recvBufferSize, sendBufferSize, ...created };
}

class SocketImpl extends EventEmitter {
  constructor(type_, listener) {
    super();
    const { type, options, recvBufferSize, sendBufferSize, handle, id, lookup: boundLookup, rawLookup } = readOptions(type_);
    this.type = type;
    if (typeof listener === 'function') this.on('message', listener);

    this[kState] = {
      handle,
      lookup: boundLookup,
      // A literal IP needs no lookup when the lookup is the pristine
      // dns.lookup (which would only echo it back on the next tick).
      literalShortcut: rawLookup === pristineLookup,
      family: type === 'udp4' ? 'IPv4' : 'IPv6',
      receiving: false,
      bindState: BIND_STATE_UNBOUND,
      connectState: CONNECT_STATE_DISCONNECTED,
      queue: undefined,
      reuseAddr: options && options.reuseAddr,
      reusePort: options && options.reusePort,
      ipv6Only: options && options.ipv6Only,
      recvBufferSize,
      sendBufferSize,
      // Node 22.13+ block lists (lib/blocklist.js); undefined when unused.
      sendBlockList: (options && options.sendBlockList) || undefined,
      receiveFilter: options && options.receiveBlockList ? new ReceiveFilter(options.receiveBlockList) : undefined,
      // Opt-in: rinfo also tells where each datagram arrived.
      recvDestination: !!(options && options.recvDestination),
      // The native handle's id (events carry it; key of liveSockets).
      id,
      // Callbacks of sends the native side queued, oldest first.
      pendingSends: [],
      // Sends to literal addresses waiting for this tick's flush.
      outbox: [],
      // Whether the outbox holds a blocked send or a sendFrom().
      outboxOneByOne: false,
    };

    // Applied by the native side when bind creates the OS socket.
    if (this[kState].recvDestination) handle.recvDestination();

    if (options && options.signal !== undefined) {
      const { signal } = options;
      validateAbortSignal(signal, 'options.signal');
      const onAborted = () => {
        if (this[kState].handle) this.close();
      };
      if (signal.aborted) {
        onAborted();
      } else {
        signal.addEventListener('abort', onAborted, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAborted));
      }
    }
  }

  bind(port_, address_ /* , callback */) {
    let port = port_;
    healthCheck(this);
    const state = this[kState];
    if (state.bindState !== BIND_STATE_UNBOUND) throw new ERR_SOCKET_ALREADY_BOUND();
    state.bindState = BIND_STATE_BINDING;

    const cb = arguments.length && arguments[arguments.length - 1];
    if (typeof cb === 'function') {
      const removeListeners = () => {
        this.removeListener('error', removeListeners);
        this.removeListener('listening', onListening);
      };
      const onListening = () => {
        removeListeners();
        cb.call(this);
      };
      this.on('error', removeListeners);
      this.on('listening', onListening);
    }

    if (port !== null && typeof port === 'object' && Number.isInteger(port.fd) && port.fd > 0 && port.fd <= 0x7fffffff) {
      const fd = port.fd;
      const kind = guessHandleType(fd);
      if (kind !== 'UDP') throw new ERR_INVALID_FD_TYPE(kind);
      try {
        state.handle.open(fd);
      } catch (err) {
        throw errors.fromNative(err, 'open');
      }
      startListening(this);
      return this;
    }

    let address;
    let exclusive;
    if (port !== null && typeof port === 'object') {
      address = port.address || '';
      exclusive = !!port.exclusive;
      port = port.port;
    } else {
      address = typeof address_ === 'function' ? '' : address_;
      exclusive = false;
    }
    if (!address) address = this.type === 'udp4' ? '0.0.0.0' : '::';

    state.lookup(address, (err, ip) => {
      if (!state.handle) return; // closed while the lookup ran
      if (err) {
        state.bindState = BIND_STATE_UNBOUND;
        this.emit('error', err);
        return;
      }
      let flags = 0;
      if (state.reuseAddr) flags |= FLAG_REUSEADDR;
      if (state.ipv6Only) flags |= FLAG_IPV6ONLY;
      if (state.reusePort) flags |= FLAG_REUSEPORT;
      // In a cluster worker, Node has the primary share one socket among
      // the workers for non-exclusive binds. We bind in the worker, with
      // SO_REUSEADDR and SO_REUSEPORT, so that every worker can bind the
      // same port and the kernel spreads datagrams over them.
      else if (!exclusive && isClusterWorker()) flags |= FLAG_REUSEADDR | FLAG_REUSEPORT;
      try {
        // Like Node, the port is not validated: it is taken as a uint32
        // and the kernel sees its low 16 bits.
        state.handle.bind(String(ip), (Number(port || 0) >>> 0) & 0xffff, flags);
      } catch (e) {
        state.bindState = BIND_STATE_UNBOUND;
        this.emit('error', errors.fromNative(e, 'bind', ip, port));
        return;
      }
      startListening(this);
    });
    return this;
  }

  connect(port, address, callback) {
    port = validatePort(port, 'Port', false);
    if (typeof address === 'function') {
      callback = address;
      address = '';
    } else if (address === undefined) {
      address = '';
    }
    validateString(address, 'address');

    const state = this[kState];
    if (state.connectState !== CONNECT_STATE_DISCONNECTED) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    state.connectState = CONNECT_STATE_CONNECTING;
    if (state.bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true }, null);
    if (state.bindState !== BIND_STATE_BOUND) {
      enqueue(this, doConnectLookup.bind(this, port, address, callback));
      return;
    }
    doConnectLookup.call(this, port, address, callback);
  }

  disconnect() {
    const state = this[kState];
    if (state.connectState !== CONNECT_STATE_CONNECTED) throw new ERR_SOCKET_DGRAM_NOT_CONNECTED();
    try {
      state.handle.disconnect();
    } catch (err) {
      throw errors.fromNative(err, 'connect');
    }
    state.connectState = CONNECT_STATE_DISCONNECTED;
  }

  sendto(buffer, offset, length, port, address, callback) {
    validateNumber(offset, 'offset');
    validateNumber(length, 'length');
    validateNumber(port, 'port');
    validateString(address, 'address');
    this.send(buffer, offset, length, port, address, callback);
  }

  // The accepted forms (msg: Buffer, TypedArray, DataView, string, or an
  // array of those):
  //   send(msg, port[, address][, cb])
  //   send(msg, offset, length, port[, address][, cb])
  //   send(msg[, cb])                      connected sockets only
  //   send(msg, offset, length[, cb])      connected sockets only
  send(buffer, offset, length, port, address, callback) {
    let list;
    const state = this[kState];
    const connected = state.connectState === CONNECT_STATE_CONNECTED;
    if (!connected) {
      if (address || (port && typeof port !== 'function')) {
        buffer = sliceBuffer(buffer, offset, length);
      } else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        buffer = sliceBuffer(buffer, offset, length);
        if (typeof port === 'function') {
          callback = port;
          port = null;
        }
      } else {
        callback = offset;
      }
      if (port || address) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    }

    if (!Array.isArray(buffer)) {
      if (typeof buffer === 'string') {
        list = [Buffer.from(buffer)];
      } else if (!ArrayBuffer.isView(buffer)) {
        throw new ERR_INVALID_ARG_TYPE('buffer', kBufferTypes, buffer);
      } else {
        list = [buffer];
      }
    } else if (!(list = fixBufferList(buffer))) {
      throw new ERR_INVALID_ARG_TYPE('buffer list arguments', kBufferTypes, buffer);
    }

    if (!connected) port = validatePort(port, 'Port', false);

    if (typeof callback !== 'function') callback = undefined;
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    } else if (address != null) {
      validateString(address, 'address');
    }

    healthCheck(this);

    if (state.bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true }, null);
    if (list.length === 0) list.push(Buffer.alloc(0));

    // Not bound yet: send once the implicit bind completes.
    if (state.bindState !== BIND_STATE_BOUND) {
      enqueue(this, this.send.bind(this, list, port, address, callback));
      return;
    }

    // The kernel takes at most IOV_MAX pieces per datagram; Node passes the
    // list to sendmsg as is and so fails the same way, after the lookup
    // (`data` null: sendTo reports EMSGSIZE once the address is known).
    const tooMany = list.length > kIovMax;
    if (tooMany && connected) {
      if (callback) process.nextTick(callback, errors.exceptionWithHostPort('EMSGSIZE', 'send', address, port));
      return;
    }
    const data = tooMany ? null : list.length === 1 ? toBuffer(list[0]) : Buffer.concat(list);
    if (connected) transmit(this, data, undefined, undefined, undefined, callback);
    else sendTo(this, data, port, address, callback);
  }

  close(callback) {
    const state = this[kState];
    const queue = state.queue;
    if (typeof callback === 'function') this.on('close', callback);
    if (queue !== undefined) {
      queue.push(this.close.bind(this));
      return this;
    }
    healthCheck(this);
    // Sends already accepted this tick still go out, as they would have on
    // Node, where a send to a literal address is not deferred.
    flushOutbox(this);
    // close() also stops the native receive side: no separate recvStop().
    state.receiving = false;
    liveSockets.delete(state.id);
    const cancelled = state.handle.close();
    state.handle = null;
    const pending = state.pendingSends;
    state.pendingSends = [];
    process.nextTick(socketCloseNT, this, pending, cancelled);
    return this;
  }

  address() {
    healthCheck(this);
    try {
      return this[kState].handle.getsockname();
    } catch (err) {
      throw errors.fromNative(err, 'getsockname');
    }
  }

  remoteAddress() {
    const state = this[kState];
    healthCheck(this);
    if (state.connectState !== CONNECT_STATE_CONNECTED) throw new ERR_SOCKET_DGRAM_NOT_CONNECTED();
    try {
      return state.handle.getpeername();
    } catch (err) {
      throw errors.fromNative(err, 'getpeername');
    }
  }

  setBroadcast(arg) {
    const { handle } = this[kState];
    try {
      handle.setBroadcast(!!arg);
    } catch (err) {
      throw errors.fromNative(err, 'setBroadcast');
    }
  }

  setTTL(ttl) {
    validateNumber(ttl, 'ttl');
    const { handle } = this[kState];
    try {
      handle.setTTL(ttl);
    } catch (err) {
      throw errors.fromNative(err, 'setTTL');
    }
    return ttl;
  }

  setMulticastTTL(ttl) {
    validateNumber(ttl, 'ttl');
    const { handle } = this[kState];
    try {
      handle.setMulticastTTL(ttl);
    } catch (err) {
      throw errors.fromNative(err, 'setMulticastTTL');
    }
    return ttl;
  }

  setMulticastLoopback(arg) {
    const { handle } = this[kState];
    try {
      handle.setMulticastLoopback(!!arg);
    } catch (err) {
      throw errors.fromNative(err, 'setMulticastLoopback');
    }
    return arg;
  }

  setMulticastInterface(interfaceAddress) {
    healthCheck(this);
    validateString(interfaceAddress, 'interfaceAddress');
    try {
      this[kState].handle.setMulticastInterface(interfaceAddress);
    } catch (err) {
      throw errors.fromNative(err, 'setMulticastInterface');
    }
  }

  addMembership(multicastAddress, interfaceAddress) {
    membership(this, multicastAddress, interfaceAddress, true);
  }

  dropMembership(multicastAddress, interfaceAddress) {
    membership(this, multicastAddress, interfaceAddress, false);
  }

  addSourceSpecificMembership(sourceAddress, groupAddress, interfaceAddress) {
    sourceMembership(this, sourceAddress, groupAddress, interfaceAddress, true);
  }

  dropSourceSpecificMembership(sourceAddress, groupAddress, interfaceAddress) {
    sourceMembership(this, sourceAddress, groupAddress, interfaceAddress, false);
  }

  // --- Beyond node:dgram on Node 20 (opt-in; see README "What dgram-rs adds")

  /**
   * Node 26's synchronous bind: IP literals only, errors thrown, the
   * 'listening' event on the next tick. Returns the bound address.
   */
  bindSync(options = {}) {
    healthCheck(this);
    validateObject(options, 'options');
    const state = this[kState];
    if (state.bindState !== BIND_STATE_UNBOUND) throw new ERR_SOCKET_ALREADY_BOUND();
    const port = options.port === undefined ? 0 : validatePort(options.port, 'options.port');
    const address = literalOrThrow(this, options.address, 'options.address', true);
    let flags = 0;
    if (state.reuseAddr) flags |= FLAG_REUSEADDR;
    if (state.ipv6Only) flags |= FLAG_IPV6ONLY;
    if (state.reusePort) flags |= FLAG_REUSEPORT;
    try {
      state.handle.bind(address, port, flags);
    } catch (err) {
      throw errors.fromNative(err, 'bind', address, port);
    }
    startListening(this, true);
    return this.address();
  }

  /**
   * Node 26's synchronous connect: IP literals only (default loopback),
   * binds implicitly if needed, throws errors, 'connect' on the next tick.
   */
  connectSync(port, address) {
    port = validatePort(port, 'Port', false);
    healthCheck(this);
    const state = this[kState];
    if (state.connectState !== CONNECT_STATE_DISCONNECTED) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    if (state.bindState === BIND_STATE_BINDING) throw new ERR_SOCKET_ALREADY_BOUND();
    const ip = literalOrThrow(this, address, 'address', false);
    const blocked = sendBlocked(state.sendBlockList, ip);
    if (blocked) throw blocked;
    if (state.bindState === BIND_STATE_UNBOUND) this.bindSync();
    try {
      state.handle.connect(ip, port);
    } catch (err) {
      throw errors.fromNative(err, 'connect', ip, port);
    }
    state.connectState = CONNECT_STATE_CONNECTED;
    process.nextTick(() => this.emit('connect'));
  }

  /**
   * Sends one datagram from the local address `localAddress` (an IP
   * literal; IPv6 may name the interface with `%scope`), e.g. to answer
   * from the address a request reached (`rinfo.localAddress` with
   * `recvDestination`). Otherwise as send(msg, port, address, callback);
   * Linux only.
   */
  sendFrom(msg, port, address, localAddress, callback) {
    const state = this[kState];
    if (process.platform !== 'linux') throw new ERR_FEATURE_UNAVAILABLE_ON_PLATFORM('socket.sendFrom()');
    if (state.connectState === CONNECT_STATE_CONNECTED) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    const data = messageData(msg, 'msg');
    port = validatePort(port, 'Port', false);
    if (address != null) validateString(address, 'address');
    const local = localOrThrow(this, localAddress, 'localAddress');
    if (callback !== undefined) validateFunction(callback, 'callback');
    healthCheck(this);
    if (state.bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true }, null);
    if (state.bindState !== BIND_STATE_BOUND) {
      enqueue(this, () => sendTo(this, data, port, address, callback, local));
      return;
    }
    sendTo(this, data, port, address, callback, local);
  }

  /**
   * Sends many datagrams in one call: `list` holds messages (connected
   * sockets) or `{ msg, port, address[, localAddress] }` items. On Linux they go out with
   * as few syscalls as the kernel allows (UDP GSO for runs of equal-size
   * datagrams to one destination). `callback(err, sent)` gets the number
   * of datagrams sent and the first error.
   */
  sendMany(list, callback) {
    if (!Array.isArray(list)) throw new ERR_INVALID_ARG_TYPE('list', 'Array', list);
    if (callback !== undefined) validateFunction(callback, 'callback');
    const state = this[kState];
    const connected = state.connectState === CONNECT_STATE_CONNECTED;
    const items = list.map((item, i) => normalizeManyItem(this, item, i, connected));
    healthCheck(this);
    if (state.bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true }, null);
    if (state.bindState !== BIND_STATE_BOUND) {
      enqueue(this, () => sendManyBound(this, items, callback));
      return;
    }
    sendManyBound(this, items, callback);
  }

  ref() {
    const { handle } = this[kState];
    if (handle) handle.ref();
    return this;
  }

  unref() {
    const { handle } = this[kState];
    if (handle) handle.unref();
    return this;
  }

  setRecvBufferSize(size) {
    bufferSize(this, size, true);
  }

  setSendBufferSize(size) {
    bufferSize(this, size, false);
  }

  getRecvBufferSize() {
    return bufferSize(this, 0, true);
  }

  getSendBufferSize() {
    return bufferSize(this, 0, false);
  }

  getSendQueueSize() {
    return this[kState].handle.getSendQueueSize();
  }

  getSendQueueCount() {
    return this[kState].handle.getSendQueueCount();
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  SocketImpl.prototype[Symbol.asyncDispose] = async function () {
    if (!this[kState].handle) return;
    await new Promise((resolve) => this.close(resolve));
  };
}

// Node's private fields, deprecated (DEP0112) but still used by libraries.
function defineDeprecatedField(name, key) {
  const msg = `Socket.prototype.${name} is deprecated`;
  Object.defineProperty(SocketImpl.prototype, name, {
    get: deprecate(function () {
      return this[kState][key];
    }, msg, 'DEP0112'),
    set: deprecate(function (value) {
      this[kState][key] = value;
    }, msg, 'DEP0112'),
    configurable: false,
    enumerable: false,
  });
}
defineDeprecatedField('_handle', 'handle');
defineDeprecatedField('_receiving', 'receiving');
defineDeprecatedField('_bindState', 'bindState');
defineDeprecatedField('_queue', 'queue');
defineDeprecatedField('_reuseAddr', 'reuseAddr');

SocketImpl.prototype._healthCheck = deprecate(function () {
  healthCheck(this);
}, 'Socket.prototype._healthCheck() is deprecated', 'DEP0112');

SocketImpl.prototype._stopReceiving = deprecate(function () {
  stopReceiving(this);
}, 'Socket.prototype._stopReceiving() is deprecated', 'DEP0112');

// Node assigns its methods to Socket.prototype, so they are enumerable.
for (const name of Object.getOwnPropertyNames(SocketImpl.prototype)) {
  if (name === 'constructor') continue;
  const desc = Object.getOwnPropertyDescriptor(SocketImpl.prototype, name);
  if (typeof desc.value === 'function') Object.defineProperty(SocketImpl.prototype, name, { ...desc, enumerable: true });
}

// Node's Socket is a plain constructor function: called without `new` it
// validates its arguments and returns undefined. Keep that, and keep
// `instanceof`, subclassing and `socket.constructor === Socket` working.
function Socket(type, listener) {
  if (new.target === undefined) {
    readOptions(type, true);
    return undefined;
  }
  // `new SocketImpl` when possible: Reflect.construct with `Socket` as
  // new.target gives every socket a fresh hidden class (V8 re-derives
  // Socket's initial map between its own `new` and SocketImpl's), which
  // makes every property access on sockets megamorphic. The prototype is
  // the same object either way (Socket.prototype === SocketImpl.prototype).
  if (new.target === Socket) return new SocketImpl(type, listener);
  return Reflect.construct(SocketImpl, [type, listener], new.target);
}
Socket.prototype = SocketImpl.prototype;
Object.defineProperty(Socket.prototype, 'constructor', { value: Socket, writable: true, configurable: true });
Object.setPrototypeOf(Socket, EventEmitter);

function createSocket(type, listener) {
  return new Socket(type, listener);
}

// ---------------------------------------------------------------------------
// Private helpers, roughly in the order the methods above use them.

function healthCheck(socket) {
  if (!socket[kState].handle) throw new ERR_SOCKET_DGRAM_NOT_RUNNING();
}

function startListening(socket, deferListening) {
  const state = socket[kState];
  liveSockets.set(state.id, socket);
  if (state.receiveFilter) state.receiveFilter.start(state.handle);
  // The native receive task starts on the loop's next turn, for every
  // socket started in this one at once (see env::defer_start).
  if (state.handle.recvStart() && !startScheduled) {
    startScheduled = true;
    setImmediate(runDeferredStarts);
  }
  state.receiving = true;
  state.bindState = BIND_STATE_BOUND;
  if (state.recvBufferSize) bufferSize(socket, state.recvBufferSize, true);
  if (state.sendBufferSize) bufferSize(socket, state.sendBufferSize, false);
  if (deferListening) process.nextTick(() => socket.emit('listening'));
  else socket.emit('listening');
}

// One pending setImmediate for all deferred receive starts (a socket that
// closes in the same turn leaves nothing to start, and the next one would
// otherwise schedule another).
let startScheduled = false;
function runDeferredStarts() {
  startScheduled = false;
  startReceiving();
}

function stopReceiving(socket) {
  const state = socket[kState];
  if (!state.receiving) return;
  state.handle.recvStop();
  state.receiving = false;
}

// Loaded lazily (most programs never touch cluster), once: a require() per
// bind showed in socket churn profiles.
let clusterWorker;
function isClusterWorker() {
  if (clusterWorker === undefined) clusterWorker = require('node:cluster').isWorker;
  return clusterWorker;
}

// Operations issued before the implicit bind completes run, in order, once
// 'listening' is emitted; a bind error drops them (observed through
// errorMonitor so that it works whether or not 'error' has listeners).
function enqueue(socket, fn) {
  const state = socket[kState];
  if (state.queue === undefined) {
    state.queue = [];
    socket.once(EventEmitter.errorMonitor, onListenError);
    socket.once('listening', onListenSuccess);
  }
  state.queue.push(fn);
}

function onListenSuccess() {
  this.removeListener(EventEmitter.errorMonitor, onListenError);
  const state = this[kState];
  const queue = state.queue;
  state.queue = undefined;
  for (const fn of queue) fn();
}

function onListenError() {
  this.removeListener('listening', onListenSuccess);
  this[kState].queue = undefined;
}

function doConnectLookup(port, address, callback) {
  const state = this[kState];
  if (callback) this.once('connect', callback); // validates it, as Node does first
  // Closed (connect() after close(), which Node does not check either): fail
  // as Node's handle access does.
  if (!state.handle) throw new TypeError("Cannot read properties of null (reading 'lookup')");
  state.lookup(address, (ex, ip) => {
    if (!state.handle) return; // closed while the lookup ran
    if (!ex) ex = sendBlocked(state.sendBlockList, ip);
    if (!ex) {
      try {
        state.handle.connect(String(ip), port);
      } catch (err) {
        ex = errors.fromNative(err, 'connect', address, port);
      }
    }
    if (ex) {
      state.connectState = CONNECT_STATE_DISCONNECTED;
      process.nextTick(() => {
        if (callback) {
          this.removeListener('connect', callback);
          callback(ex);
        } else {
          this.emit('error', ex);
        }
      });
      return;
    }
    state.connectState = CONNECT_STATE_CONNECTED;
    process.nextTick(() => this.emit('connect'));
  });
}

function sliceBuffer(buffer, offset, length) {
  if (typeof buffer === 'string') {
    buffer = Buffer.from(buffer);
  } else if (!ArrayBuffer.isView(buffer)) {
    throw new ERR_INVALID_ARG_TYPE('buffer', kBufferTypes, buffer);
  }
  offset = offset >>> 0;
  length = length >>> 0;
  if (offset > buffer.byteLength) throw new ERR_BUFFER_OUT_OF_BOUNDS('offset');
  if (offset + length > buffer.byteLength) throw new ERR_BUFFER_OUT_OF_BOUNDS('length');
  return Buffer.from(buffer.buffer, buffer.byteOffset + offset, length);
}

function fixBufferList(list) {
  const out = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const buf = list[i];
    if (typeof buf === 'string') out[i] = Buffer.from(buf);
    else if (!ArrayBuffer.isView(buf)) return null;
    else out[i] = toBuffer(buf);
  }
  return out;
}

// A Uint8Array view of any ArrayBufferView, without copying.
function toBuffer(view) {
  return view instanceof Uint8Array ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

// --- sendMany / bindSync helpers

function literalOrThrow(socket, address, name, forBind) {
  const v4 = socket[kState].family === 'IPv4';
  if (address === undefined || address === null || address === '') {
    if (forBind) return v4 ? '0.0.0.0' : '::';
    return v4 ? '127.0.0.1' : '::1';
  }
  validateString(address, name);
  if (!(v4 ? isIPv4(address) : isIPv6(address))) {
    throw new errors.codes.ERR_INVALID_ARG_VALUE(name, address, 'must be an IP address of the socket\'s family');
  }
  return address;
}

// A sendFrom() source address: an IP literal of the socket's family (an
// IPv6 socket also takes IPv4, for its IPv4-mapped peers).
function localOrThrow(socket, address, name) {
  validateString(address, name);
  const ok = isIPv4(address) || (socket[kState].family === 'IPv6' && isIPv6(address));
  if (!ok) throw new errors.codes.ERR_INVALID_ARG_VALUE(name, address, 'must be an IP address the socket can send from');
  return address;
}

// A message given as a string or any ArrayBufferView, as a Uint8Array.
function messageData(msg, name) {
  if (typeof msg === 'string') return Buffer.from(msg);
  if (!ArrayBuffer.isView(msg)) throw new ERR_INVALID_ARG_TYPE(name, kBufferTypes, msg);
  return toBuffer(msg);
}

function normalizeManyItem(socket, item, i, connected) {
  let msg = item;
  let port;
  let address;
  let localAddress;
  if (item !== null && typeof item === 'object' && !ArrayBuffer.isView(item)) {
    ({ msg, port, address, localAddress } = item);
  }
  // The argument name is built only for an error: this runs per datagram.
  if (typeof msg !== 'string' && !ArrayBuffer.isView(msg)) throw new ERR_INVALID_ARG_TYPE(`list[${i}].msg`, kBufferTypes, msg);
  const data = messageData(msg);
  let local;
  if (localAddress !== undefined) {
    if (process.platform !== 'linux') throw new ERR_FEATURE_UNAVAILABLE_ON_PLATFORM(`list[${i}].localAddress`);
    local = localOrThrow(socket, localAddress, `list[${i}].localAddress`);
  }
  if (connected) {
    if (port !== undefined || address !== undefined) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    return { data, local };
  }
  if (!(typeof port === 'number' && port > 0 && port <= 0xffff && Number.isInteger(port))) {
    port = validatePort(port, `list[${i}].port`, false);
  }
  if (address !== undefined && address !== null && typeof address !== 'string') validateString(address, `list[${i}].address`);
  return { data, port, address, local };
}

function sendManyBound(socket, items, callback) {
  const state = socket[kState];
  let sent = 0;
  let firstError = null;
  let pending = items.length;
  const done = (err, n) => {
    if (err) firstError = firstError || err;
    else sent++;
    if (--pending === 0 && callback) callback(firstError, sent);
  };
  if (pending === 0) {
    if (callback) process.nextTick(callback, null, 0);
    return;
  }
  if (state.connectState !== CONNECT_STATE_CONNECTED && sendManyLiterals(socket, items, callback)) return;
  // Every item goes through the same path as send(): literal destinations
  // into this tick's outbox (one native call, GSO), host names through the
  // lookup, connected sockets straight to the kernel.
  for (const item of items) {
    if (state.connectState === CONNECT_STATE_CONNECTED) {
      transmit(socket, item.data, undefined, undefined, undefined, done, item.local);
    } else if (item.local !== undefined) {
      sendTo(socket, item.data, item.port, item.address, done, item.local);
    } else {
      socket.send(item.data, item.port, item.address, done);
    }
  }
}

// The fast path of sendMany: every destination an IP literal (no lookup to
// wait for), no source address. One native call for the whole list and one
// callback, instead of send()'s per-datagram bookkeeping. False (nothing
// done) when the list does not qualify.
function sendManyLiterals(socket, items, callback) {
  const state = socket[kState];
  if (!state.literalShortcut) return false;
  const v4 = state.family === 'IPv4';
  const data = [];
  const ports = [];
  const targets = [];
  const addresses = [];
  const origin = []; // index in `items` of each datagram sent
  let firstError = null;
  let checked; // the last address found to be a literal (lists repeat them)
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const ip = item.address == null ? (v4 ? '127.0.0.1' : '::1') : item.address;
    if (item.local !== undefined) return false;
    if (ip !== checked) {
      if (!(v4 ? isIPv4(ip) : isIPv6(ip))) return false;
      checked = ip;
    }
    const blocked = sendBlocked(state.sendBlockList, ip);
    if (blocked) {
      if (firstError === null) firstError = blocked;
      continue;
    }
    data.push(item.data);
    ports.push(item.port);
    targets.push(addressIndex(addresses, ip));
    origin.push(i);
  }
  // Keep the order with send() calls made earlier in this tick.
  flushOutbox(socket);
  let sent = 0;
  let pending = 1; // released below, once every datagram is accounted for
  const fail = (err) => {
    if (firstError === null) firstError = err;
  };
  const settle = () => {
    if (--pending === 0 && callback) process.nextTick(callback, firstError, sent);
  };
  let result = { results: [], errors: [] };
  if (data.length) {
    try {
      result = state.handle.sendMany(data, Uint32Array.from(ports), Uint32Array.from(targets), addresses);
    } catch (err) {
      fail(errors.fromNative(err, 'send', items[origin[0]].address, ports[0]));
    }
  }
  const { results, errors: codes } = result;
  let e = 0;
  for (let k = 0; k < results.length; k++) {
    const r = results[k];
    if (r >= 0) {
      sent++;
    } else if (r === -1) {
      // Queued natively: settles when its send-done event arrives.
      pending++;
      state.pendingSends.push({
        callback: (err) => {
          if (err) fail(err);
          else sent++;
          settle();
        },
        address: items[origin[k]].address,
        port: ports[k],
        size: data[k].length,
      });
    } else {
      fail(errors.fromNative(codes[e++], 'send', items[origin[k]].address, ports[k]));
    }
  }
  settle();
  return true;
}

// The index of `ip` in the distinct addresses of a native sendMany call
// (consecutive datagrams mostly share theirs).
function addressIndex(addresses, ip) {
  const last = addresses.length - 1;
  if (last >= 0 && addresses[last] === ip) return last;
  const i = addresses.indexOf(ip);
  return i >= 0 ? i : addresses.push(ip) - 1;
}

// Sends queued this tick to literal addresses go out in one native call,
// which can coalesce them (UDP GSO, see src/send.rs).
function flushOutbox(socket) {
  const state = socket[kState];
  const outbox = state.outbox;
  if (outbox.length === 0) return;
  state.outbox = [];
  const oneByOne = state.outboxOneByOne;
  state.outboxOneByOne = false;
  if (!state.handle) return;
  if (outbox.length === 1 || oneByOne) {
    for (const item of outbox) {
      if (item.error !== undefined) process.nextTick(item.callback, item.error);
      else transmit(socket, item.data, item.ip, item.address, item.port, item.callback, item.local);
    }
    return;
  }
  const n = outbox.length;
  const data = new Array(n);
  const ports = new Uint32Array(n);
  const targets = new Uint32Array(n);
  const addresses = [];
  for (let i = 0; i < n; i++) {
    data[i] = outbox[i].data;
    ports[i] = outbox[i].port;
    targets[i] = addressIndex(addresses, outbox[i].ip);
  }
  let result;
  try {
    result = state.handle.sendMany(data, ports, targets, addresses);
  } catch (err) {
    for (const item of outbox) {
      if (item.callback) process.nextTick(item.callback, errors.fromNative(err, 'send', item.address, item.port));
    }
    return;
  }
  const { results, errors: codes } = result;
  let e = 0;
  for (let i = 0; i < n; i++) {
    const item = outbox[i];
    const r = results[i];
    if (r >= 0) {
      if (item.callback) process.nextTick(item.callback, null, r);
    } else if (r === -1) {
      state.pendingSends.push({ callback: item.callback, address: item.address, port: item.port, size: item.data.length });
    } else {
      const code = codes[e++];
      if (item.callback) process.nextTick(item.callback, errors.fromNative(code, 'send', item.address, item.port));
    }
  }
}

// Sends one datagram of a bound, unconnected socket to `address` (the
// family's loopback when omitted): resolved with the socket's lookup, checked
// against sendBlockList, then queued in this tick's outbox. `local` is a
// source address (sendFrom); `data` null is a message of too many pieces,
// which fails with EMSGSIZE once the address is known.
function sendTo(socket, data, port, address, callback, local) {
  const state = socket[kState];
  const literal = address == null ? (state.family === 'IPv4' ? '127.0.0.1' : '::1') : address;
  if (state.literalShortcut && (state.family === 'IPv4' ? isIPv4(literal) : isIPv6(literal))) {
    // dns.lookup would only hand the literal back on the next tick; do
    // that without it, and send everything queued this tick in one go.
    const item = { data, port, ip: literal, address, callback, local, error: undefined };
    if (state.sendBlockList !== undefined) item.error = sendBlocked(state.sendBlockList, literal);
    if (item.error === undefined && data === null) item.error = errors.exceptionWithHostPort('EMSGSIZE', 'send', address, port);
    // Failed without a callback: dropped silently, as Node does.
    if (item.error !== undefined && !callback) return;
    // A blocked send keeps its place, so that its callback comes in order
    // with those of the sends around it; it and sendFrom()s go one by one.
    if (local !== undefined || item.error !== undefined) state.outboxOneByOne = true;
    if (state.outbox.push(item) === 1) process.nextTick(flushOutbox, socket);
    return;
  }
  state.lookup(address, (ex, ip) => {
    if (ex) {
      if (callback) process.nextTick(callback, ex);
      else process.nextTick(() => socket.emit('error', ex));
      return;
    }
    // Closed while the lookup ran: Node drops the datagram silently and
    // never calls back; we call back once, with the reason.
    if (!state.handle) {
      if (callback) process.nextTick(callback, new ERR_SOCKET_DGRAM_NOT_RUNNING());
      return;
    }
    let failed = state.sendBlockList === undefined ? undefined : sendBlocked(state.sendBlockList, ip);
    if (failed === undefined && data === null) {
      // As the native send would: an address of the other family first.
      const ok = state.family === 'IPv4' ? isIPv4(String(ip)) : isIPv6(String(ip));
      failed = errors.exceptionWithHostPort(ok ? 'EMSGSIZE' : 'EINVAL', 'send', address, port);
    }
    if (failed === undefined) transmit(socket, data, ip, address, port, callback, local);
    else if (callback) process.nextTick(callback, failed);
  });
}

// Hands one datagram to the native handle; the callback runs on a later
// tick with (null, bytes) or a 'send' error, never as an 'error' event.
function transmit(socket, data, ip, address, port, callback, local) {
  const state = socket[kState];
  let sent;
  try {
    if (local !== undefined) sent = state.handle.sendFrom(data, port || 0, ip === undefined ? undefined : String(ip), local);
    else if (ip === undefined) sent = state.handle.send(data, 0);
    else sent = state.handle.send(data, port, String(ip));
  } catch (err) {
    if (callback) process.nextTick(callback, errors.fromNative(err, 'send', address, port));
    return;
  }
  if (sent >= 0) {
    if (callback) process.nextTick(callback, null, sent);
  } else {
    state.pendingSends.push({ callback, address, port, size: data.length });
  }
}

// After close: of the sends the native side had queued, the last
// `cancelled` never reached the kernel and get ECANCELED, as libuv cancels
// unwritten requests; the ones before them were written (their completion
// events, still on the way, were dropped with the socket) and get their
// bytes. Each callback runs on its own tick, so one that throws does not
// keep the others from running.
function settlePendingSends(pending, cancelled) {
  const written = Math.max(0, pending.length - cancelled);
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i];
    if (!p.callback) continue;
    if (i < written) {
      process.nextTick(p.callback, null, p.size);
    } else {
      const err = errors.exceptionWithHostPort('ECANCELED', 'send', p.address, p.port);
      process.nextTick(p.callback, err, p.size);
    }
  }
}

// Everything the native handle reports arrives here, on the JS thread.
function onNativeEvent(id, kind, buf, meta, strings) {
  const socket = liveSockets.get(id);
  if (socket === undefined) return; // closed since
  const state = socket[kState];
  if (kind === EVENT_BATCH) {
    emitMessages(socket, buf, meta, strings);
  } else if (kind === EVENT_RECV_ERROR) {
    if (state.handle && state.receiving) socket.emit('error', errors.fromNative(strings[0], 'recvmsg'));
  } else if (kind === EVENT_SEND_DONE) {
    const p = state.pendingSends.shift();
    if (p && p.callback) {
      const err = strings.length ? errors.fromNative(strings[0], 'send', p.address, p.port) : null;
      p.callback(err, err ? p.size : meta[0]);
    }
  }
}

// One 'message' per datagram of a batch: `chunks` hold the payloads back to
// back, a datagram that did not fit one chunk starting the next. If a
// listener throws, the rest of the batch is emitted on the next tick, so one
// bad datagram loses no others when the exception is handled (each
// datagram is its own callback on Node).
function emitMessages(socket, chunks, meta, addrs, start = 0, chunkStart = 0, offset = 0) {
  const state = socket[kState];
  // Per datagram: length, port, sender (index into addrs); with
  // recvDestination also destination (index), interface index and name.
  const stride = state.recvDestination ? 6 : 3;
  const filter = state.receiveFilter;
  let check = filter !== undefined && filter.sync(state.handle);
  let i = start;
  let c = chunkStart;
  let off = offset;
  let threw = true;
  try {
    while (i < meta.length) {
      if (!state.handle || !state.receiving) break; // closed by a listener
      const at = i;
      const len = meta[at];
      // Advance first: whatever throws below skips this datagram only,
      // and the rest of the batch goes on.
      i += stride;
      if (off + len > chunks[c].length) {
        c++;
        off = 0;
      }
      // A view into its chunk (at most 64 KiB): one copy out of the
      // kernel's buffers per batch instead of an allocation per datagram.
      const msg = chunks[c].subarray(off, off + len);
      off += len;
      const address = addrs[meta[at + 2]];
      // The sender's family (a socket adopted with bind({ fd }) may not be
      // of the socket's type), as Node reports it.
      const family = address.includes(':') ? 'IPv6' : 'IPv4';
      if (filter !== undefined) {
        // Rules changed (maybe by a listener of this batch): check in JS.
        if (!check && filter.changed()) check = filter.sync(state.handle);
        if (check && filter.blocks(address, family)) continue;
      }
      const port = meta[at + 1];
      const rinfo = stride === 3
        ? { address, family, port, size: len }
        : { address, family, port, size: len, localAddress: addrs[meta[at + 3]], interfaceIndex: meta[at + 4], interface: addrs[meta[at + 5]] };
      socket.emit('message', msg, rinfo);
    }
    threw = false;
  } finally {
    if (threw && i < meta.length) process.nextTick(emitMessages, socket, chunks, meta, addrs, i, c, off);
  }
}

function socketCloseNT(socket, pending, cancelled) {
  socket.emit('close');
  // libuv reports a closed handle's send requests in its close phase,
  // after 'close' and after the setImmediate callbacks of this turn.
  if (pending.length !== 0) setImmediate(settlePendingSends, pending, cancelled);
}

function membership(socket, multicastAddress, interfaceAddress, join) {
  healthCheck(socket);
  if (!multicastAddress) throw new ERR_MISSING_ARGS('multicastAddress');
  const iface = interfaceAddress === undefined || interfaceAddress === null ? undefined : String(interfaceAddress);
  try {
    socket[kState].handle.membership(String(multicastAddress), iface, join);
  } catch (err) {
    throw errors.fromNative(err, join ? 'addMembership' : 'dropMembership');
  }
}

function sourceMembership(socket, sourceAddress, groupAddress, interfaceAddress, join) {
  healthCheck(socket);
  validateString(sourceAddress, 'sourceAddress');
  validateString(groupAddress, 'groupAddress');
  const iface = interfaceAddress === undefined || interfaceAddress === null ? undefined : String(interfaceAddress);
  try {
    socket[kState].handle.sourceMembership(sourceAddress, groupAddress, iface, join);
  } catch (err) {
    throw errors.fromNative(err, join ? 'addSourceSpecificMembership' : 'dropSourceSpecificMembership');
  }
}

function bufferSize(socket, size, recv) {
  validateBufferSize(size);
  const { handle } = socket[kState];
  try {
    return handle.bufferSize(size, recv);
  } catch (err) {
    const syscall = recv ? 'uv_recv_buffer_size' : 'uv_send_buffer_size';
    const code = errors.nativeCode(err);
    if (code === undefined) throw err;
    throw new ERR_SOCKET_BUFFER_SIZE(errors.uvErrorContext(code, syscall));
  }
}

// Node's deprecated (DEP0112) export: a bound native handle, or a negative
// errno. Kept for old code that reaches for it.
const _createSocketHandle = deprecate(
  function _createSocketHandle(address, port, addressType, fd, flags) {
    const { handle } = newHandle(addressType);
    try {
      if (Number.isInteger(fd) && fd > 0 && fd <= 0x7fffffff) handle.open(fd);
      else if (port || address) handle.bind(String(address), (Number(port || 0) >>> 0) & 0xffff, flags >>> 0);
    } catch (err) {
      handle.close();
      const code = errors.nativeCode(err);
      if (code === undefined) throw err;
      return typeof code === 'number' ? code : errors.uvErrno(code);
    }
    return handle;
  },
  'dgram._createSocketHandle() is deprecated',
  'DEP0112',
);

module.exports = { _createSocketHandle, createSocket, Socket };
