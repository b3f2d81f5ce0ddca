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
const { AsyncResource } = require('node:async_hooks');
const diagnosticsChannel = require('node:diagnostics_channel');
const { udpClass, addEventHandler, guessHandleType, hostProcess, setNoTrySend } = require('./lib/native.js');
// The native handle class (Node's UDP handle).
const UDP = udpClass();
const errors = require('./lib/errors.js');
const { isIPv4, isIPv6 } = require('./lib/ip.js');
const { ReceiveFilter, sendBlocked, validateBlockList } = require('./lib/blocklist.js');
const cluster = require('./lib/cluster.js');
// Node's dgram schedules its ticks with the real `process.nextTick`, looked
// up at each call. Where this file runs in a sandbox with a `process` object
// of its own (jest's test environment), fake timers replace that copy's
// nextTick: use the process object of the context the addon was loaded in.
const process = hostProcess();

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

// The socket's state, under Node's own key when Node's internals are exposed
// (`--expose-internals`, as in Node's own tests, which reach into it).
const nodeStateSymbol = internalStateSymbol();
const kState = nodeStateSymbol || Symbol('kState');
function internalStateSymbol() {
  if (!process.execArgv.some((a) => a === '--expose-internals' || a === '--expose_internals')) return undefined;
  try {
    return require('internal/dgram').kStateSymbol;
  } catch {
    return undefined;
  }
}

// With Node's internals exposed (its own tests), handles also answer
// `instanceof` for Node's internal UDP class, as node:dgram's do. Every
// method is our own; Node's prototype only sits behind ours in the chain.
if (nodeStateSymbol) {
  try {
    Object.setPrototypeOf(UDP.prototype, process.binding('udp_wrap').UDP.prototype);
  } catch {
    // No such binding in this Node: instanceof stays ours alone.
  }
}

// The socket a native handle belongs to (Node's owner_symbol).
const kOwner = Symbol('kOwner');

// Published with { socket } by every new socket, last thing in its
// constructor, as node:dgram does.
const udpSocketChannel = diagnosticsChannel.channel('udp.socket');

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

// Event kinds the native handles report (src/deliver.rs).
const EVENT_BATCH = 0;
const EVENT_RECV_ERROR = 1;
const EVENT_SEND_DONE = 2;
const EVENT_RESUME = 3;
const EVENT_CLOSED = 4;
const EVENT_ONE = 5;
const EVENT_SMALL = 6;

const kBufferTypes = ['Buffer', 'TypedArray', 'DataView', 'string'];
const kIovMax = 1024;

// Every event of this module's sockets comes to onNativeEvent, with the
// socket's handle as `this`. A copy of this module loaded again over the
// same addon (jest's registry resets do that) registers its own.
// A datagram received alone, or a few together, cross into JS through
// `scratch` (see src/deliver.rs): copying them out here is cheaper than
// Buffers made natively. Payloads start at 0; a small batch's table of
// (length, port, sender) per datagram at 64 KiB (`smallMeta`).
const SCRATCH_META_AT = 64 * 1024;
const SMALL_MAX = 16;
const scratch = Buffer.allocUnsafeSlow(SCRATCH_META_AT + SMALL_MAX * 3 * 4);
const smallMeta = new Uint32Array(scratch.buffer, SCRATCH_META_AT, SMALL_MAX * 3);
const eventHandler = addEventHandler(onNativeEvent, scratch);
// Node's test flag: every send takes the queued path.
if (process.execArgv.includes('--test-udp-no-try-send')) setNoTrySend(true);


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
  let handle;
  if (type === 'udp4') {
    handle = new UDP(false, eventHandler);
    handle.lookup = lookup4.bind(null, lookup);
  } else if (type === 'udp6') {
    handle = new UDP(true, eventHandler);
    handle.lookup = lookup6.bind(null, lookup);
  } else {
    throw new ERR_SOCKET_BAD_TYPE();
  }
  return { handle, rawLookup: lookup };
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
    const { type, options, recvBufferSize, sendBufferSize, handle, rawLookup } = readOptions(type_);
    this.type = type;
    if (typeof listener === 'function') this.on('message', listener);

    this[kState] = {
      handle,
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
      // Callbacks of sends the native side queued, oldest first.
      pendingSends: [],
      // The sender of the last datagram received alone (see emitOne).
      lastSender: '',
      // Sends to literal addresses not written yet, in order (see sendTo).
      outbox: [],
      // How many of them, from the front, have passed their lookup step.
      outboxReady: 0,
      // In a cluster worker, gives back the primary's socket (lib/cluster.js).
      clusterRelease: undefined,
    };

    handle[kOwner] = this;
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
    if (udpSocketChannel.hasSubscribers) udpSocketChannel.publish({ socket: this });
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
      // In a cluster worker the primary opens the descriptor (a number in
      // its own process) and shares the socket, unchecked here, as on Node.
      if (!port.exclusive && cluster.isWorker()) {
        bindInCluster(this, { address: null, port: null, addressType: this.type, fd, flags: null }, (errno) => errors.errnoException(errno, 'open'));
        return this;
      }
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

    state.handle.lookup(address, (err, ip) => {
      if (!state.handle) return; // closed while the lookup ran
      if (err) {
        state.bindState = BIND_STATE_UNBOUND;
        this.emit('error', err);
        return;
      }
      let flags = 0;
      if (state.reuseAddr) flags |= FLAG_REUSEADDR;
      if (state.ipv6Only) flags |= FLAG_IPV6ONLY;
      // reusePort binds are exclusive (Node 22.12+): each worker its own.
      if (state.reusePort) flags |= FLAG_REUSEPORT;
      else if (!exclusive && cluster.isWorker()) {
        // A cluster worker shares the primary's socket (lib/cluster.js).
        bindInCluster(this, { address: ip, port, addressType: this.type, fd: -1, flags }, (errno) => errors.exceptionWithHostPort(errno, 'bind', ip, port));
        return;
      }
      // Outside the try, as in Node: a port that cannot become a number
      // throws from here and leaves the socket binding.
      const native = nativePort(port);
      try {
        state.handle.bind(String(ip), native, flags);
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
    if (state.outboxReady !== 0) flushReady(this);
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
    // Sends past their lookup step would have gone out on Node: they go now.
    // The others are dropped, without a callback, as Node drops them.
    flushReady(this);
    dropOutbox(state);
    // close() also stops the native receive side: no separate recvStop().
    state.receiving = false;
    const pending = state.pendingSends;
    state.pendingSends = [];
    // Sends the native side queued are settled in the loop's close phase
    // (the CLOSED event), where libuv reports a closed handle's requests:
    // the oldest with the outcomes of those that completed before the close
    // (an array after the count when there are any), the rest cancelled.
    const closed = state.handle.close(pending.length !== 0);
    if (pending.length !== 0) {
      state.closing = typeof closed === 'number'
        ? { pending, cancelled: closed, completed: [] }
        : { pending, cancelled: closed[0], completed: closed.slice(1) };
    }
    state.handle = null;
    if (state.clusterRelease !== undefined) {
      const release = state.clusterRelease;
      state.clusterRelease = undefined;
      release();
    }
    process.nextTick(socketCloseNT, this);
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
    settleOutbox(this);
    try {
      handle.setBroadcast(!!arg);
    } catch (err) {
      throw errors.fromNative(err, 'setBroadcast');
    }
  }

  setTTL(ttl) {
    validateNumber(ttl, 'ttl');
    const { handle } = this[kState];
    settleOutbox(this);
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
    settleOutbox(this);
    try {
      handle.setMulticastTTL(ttl);
    } catch (err) {
      throw errors.fromNative(err, 'setMulticastTTL');
    }
    return ttl;
  }

  setMulticastLoopback(arg) {
    const { handle } = this[kState];
    settleOutbox(this);
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
    settleOutbox(this);
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
    Reflect.apply(constructorBody, this, [type, listener]);
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

// Node's Socket called without `new` runs its constructor body on `this`
// (the module object for `dgram.Socket(...)`, undefined for a bare call):
// the EventEmitter fields, the validation, `type`, the 'message' listener,
// the signal's abort handler and the diagnostics message all land there,
// and calls `this` cannot take fail as they do on Node. The same here,
// minus the native handle, which nothing could ever close.
function constructorBody(type, listener) {
  EventEmitter.call(this);
  const { type: checked, options } = readOptions(type, true);
  this.type = checked;
  if (typeof listener === 'function') this.on('message', listener);
  // The constructor's abort handling, repeated: a `this` that is no socket
  // fails here with Node's own message ("this.once is not a function").
  if (options && options.signal !== undefined) {
    const { signal } = options;
    validateAbortSignal(signal, 'options.signal');
    const onAborted = () => {
      this.close();
    };
    if (signal.aborted) {
      onAborted();
    } else {
      signal.addEventListener('abort', onAborted, { once: true });
      this.once('close', () => signal.removeEventListener('abort', onAborted));
    }
  }
  if (udpSocketChannel.hasSubscribers) udpSocketChannel.publish({ socket: this });
}
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
  if (state.receiveFilter) state.receiveFilter.start(state.handle);
  state.handle.recvStart();
  state.receiving = true;
  state.bindState = BIND_STATE_BOUND;
  if (state.recvBufferSize) bufferSize(socket, state.recvBufferSize, true);
  if (state.sendBufferSize) bufferSize(socket, state.sendBufferSize, false);
  if (deferListening) process.nextTick(() => socket.emit('listening'));
  else socket.emit('listening');
}

function stopReceiving(socket) {
  const state = socket[kState];
  if (!state.receiving) return;
  state.handle.recvStop();
  state.receiving = false;
}

// A non-exclusive bind in a cluster worker: the primary's socket for
// `options`, adopted by a duplicate of its descriptor (lib/cluster.js), or
// `toError(errno)` as an 'error' event.
function bindInCluster(socket, options, toError) {
  const state = socket[kState];
  cluster.bindShared(socket, options, {
    isOpen: () => state.handle !== null,
    onError(errno) {
      state.bindState = BIND_STATE_UNBOUND;
      socket.emit('error', toError(errno));
    },
    adopt(handle) {
      try {
        state.handle.open(handle.fd, true);
      } catch (err) {
        handle.close();
        state.bindState = BIND_STATE_UNBOUND;
        socket.emit('error', toError(errors.nativeCode(err)));
        return;
      }
      state.clusterRelease = cluster.keepHandle(handle, (callback) => socket.close(callback));
      startListening(socket);
    },
  });
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
  state.handle.lookup(address, (ex, ip) => {
    if (!state.handle) return; // closed while the lookup ran
    if (!ex) ex = sendBlocked(state.sendBlockList, ip);
    if (!ex) {
      // Sends that passed their lookup step go out unconnected first.
      if (state.outboxReady !== 0) flushReady(this);
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
  flushAll(socket);
  let sent = 0;
  let pending = 1; // released below, once every datagram is accounted for
  const fail = (err) => {
    if (firstError === null) firstError = err;
  };
  const settle = () => {
    if (--pending === 0 && callback) process.nextTick(callback, firstError, sent);
  };
  let written = 0;
  let codes;
  const tables = sendTablesFor(data.length);
  const results = tables.results;
  if (data.length) {
    for (let k = 0; k < data.length; k++) {
      tables.ports[k] = ports[k];
      tables.targets[k] = targets[k];
    }
    try {
      codes = state.handle.sendMany(data, tables.ports, tables.targets, addresses, results);
      written = data.length;
    } catch (err) {
      fail(errors.fromNative(err, 'send', items[origin[0]].address, ports[0]));
    }
  }
  let e = 0;
  for (let k = 0; k < written; k++) {
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

// The tables of a native sendMany call, one set for the whole module
// (filled, passed and read back within one call), grown to the largest
// call: each datagram's port and index into the addresses, and where the
// native side writes its outcome (bytes sent, -1 queued, -2 failed: the
// next of the returned codes). Allocated large enough to live outside V8's
// heap, so that handing them to native code costs no copy.
const sendTables = { capacity: 0, ports: null, targets: null, results: null };
function sendTablesFor(n) {
  if (sendTables.capacity < n) {
    const capacity = Math.max(n, 2 * sendTables.capacity, 64);
    sendTables.capacity = capacity;
    sendTables.ports = new Uint32Array(capacity);
    sendTables.targets = new Uint32Array(capacity);
    sendTables.results = new Int32Array(capacity);
  }
  return sendTables;
}

// The index of `ip` in the distinct addresses of a native sendMany call
// (consecutive datagrams mostly share theirs).
function addressIndex(addresses, ip) {
  const last = addresses.length - 1;
  if (last >= 0 && addresses[last] === ip) return last;
  const i = addresses.indexOf(ip);
  return i >= 0 ? i : addresses.push(ip) - 1;
}

// Sends to IP literals (sendTo) wait in the socket's outbox for their
// lookup step, which Node runs even for literals, answering on the next
// tick: one nextTick per send (outboxTick), in the send's async context.
// A send is written once it has passed that step, and those that have are
// written together, in one native call (UDP GSO, see src/send.rs), when
// the last one queued has passed it, or earlier when something must see
// them gone (a callback, close(), an option change, a direct send).
// close() drops the ones that have not passed it, as Node does.
const ITEM_WAITING = 0;
const ITEM_READY = 1;
const ITEM_WRITTEN = 2;
const ITEM_DROPPED = 3;

function outboxTick(item) {
  if (item.stage === ITEM_DROPPED) return;
  if (item.stage === ITEM_WAITING) {
    item.stage = ITEM_READY;
    const state = item.socket[kState];
    if (++state.outboxReady === state.outbox.length) {
      if (emittingBatch) deferFlush(item.socket);
      else flushReady(item.socket);
    }
  }
  // Node calls back on the tick after its lookup step.
  if (item.callback !== undefined) process.nextTick(deliverSendResult, item);
}

// Node calls into JS once per datagram, so nextTick callbacks and
// microtasks queued by a 'message' listener run before the next message
// (a stream fed from 'message' sees each datagram's state). A batch is one
// call here: run them between its messages (Node's own tick runner; the
// last message is followed by the native callback's own).
const runTicks = typeof process._tickCallback === 'function' ? process._tickCallback : () => {};

// While a batch of messages is emitted, the ticks that run between its
// messages (runTicks) leave ready sends in the outbox, so that the replies
// to a batch still go out together: with the last message's sends, or on
// a tick queued after the batch when those were for other sockets.
let emittingBatch = false;
let deferred = [];

function deferFlush(socket) {
  if (!deferred.includes(socket)) deferred.push(socket);
}

function flushDeferred(socket) {
  const state = socket[kState];
  if (state.outboxReady !== 0 && state.handle) flushReady(socket);
}

// Emits a batch through `emit(socket)` with ready sends held back.
function emitBatch(socket, emit) {
  if (emittingBatch) return emit(socket);
  emittingBatch = true;
  try {
    emit(socket);
  } finally {
    emittingBatch = false;
    if (deferred.length !== 0) {
      for (const s of deferred) process.nextTick(flushDeferred, s);
      deferred = [];
    }
  }
}

function deliverSendResult(item) {
  if (item.stage === ITEM_READY) flushReady(item.socket);
  const callback = item.callback;
  const result = item.result;
  if (typeof result === 'number') {
    callback(null, result);
  } else if (result === undefined) {
    // Queued by the native side: completes later, in an async resource
    // made here, in the send's context, as Node's queued SendWrap.
    if (item.queued !== undefined) item.queued.resource = new SendWrap();
  } else {
    callback(result);
  }
}

// Writes the sends that passed their lookup step.
function flushReady(socket) {
  const state = socket[kState];
  const n = state.outboxReady;
  if (n === 0) return;
  const outbox = state.outbox;
  let items;
  if (n === outbox.length) {
    items = outbox;
    state.outbox = [];
  } else {
    items = outbox.splice(0, n);
  }
  state.outboxReady = 0;
  writeItems(socket, items);
}

// Writes every send of the outbox, whether past its lookup step or not
// (sendMany, which Node does not have, keeps its order with them).
// Before an option change: the sends that passed their lookup step would
// have gone out with the options as they were.
function settleOutbox(socket) {
  const state = socket[kState];
  if (state !== undefined && state.outboxReady !== 0 && state.handle) flushReady(socket);
}

function flushAll(socket) {
  const state = socket[kState];
  const items = state.outbox;
  if (items.length === 0) return;
  state.outbox = [];
  state.outboxReady = 0;
  writeItems(socket, items);
}

function dropOutbox(state) {
  const items = state.outbox;
  if (items.length === 0) return;
  for (const item of items) item.stage = ITEM_DROPPED;
  state.outbox = [];
  state.outboxReady = 0;
}

// Writes `items` in order: runs of plain ones in one native call each,
// sendFrom()s one by one; failed ones (blocked, too many pieces) only
// keep their place. Results are kept on the items for their callbacks.
function writeItems(socket, items) {
  const state = socket[kState];
  const n = items.length;
  let i = 0;
  while (i < n) {
    const item = items[i];
    if (item.error !== undefined || item.data === null) {
      item.stage = ITEM_WRITTEN;
      item.result = item.error !== undefined ? item.error : tooManyPieces(state, item.ip, item.address, item.port);
      i++;
      continue;
    }
    if (item.local !== undefined || !item.port) {
      writeOne(state, item);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && items[j].error === undefined && items[j].data !== null && items[j].local === undefined && items[j].port) j++;
    if (j - i === 1) writeOne(state, item);
    else writeMany(state, items, i, j);
    i = j;
  }
}

function writeOne(state, item) {
  item.stage = ITEM_WRITTEN;
  let r;
  try {
    if (item.local !== undefined) r = state.handle.sendFrom(item.data, item.port || 0, item.ip, item.local);
    // Port 0 (a string such as '0x0' passes validatePort): Node sends with
    // no destination at all (EDESTADDRREQ unless connected).
    else if (!item.port) r = state.handle.send(item.data, 0);
    else r = state.handle.send(item.data, item.port, item.ip);
  } catch (err) {
    item.result = errors.fromNative(err, 'send', item.address, item.port);
    return;
  }
  // Node's handle convention: bytes + 1 when sent now, 0 when queued, or a
  // negative libuv errno.
  if (r > 0) settleItem(state, item, r - 1);
  else if (r === 0) settleItem(state, item, -1);
  else item.result = errors.exceptionWithHostPort(r, 'send', item.address, item.port);
}

function writeMany(state, items, from, to) {
  const n = to - from;
  const data = new Array(n);
  const { ports, targets, results } = sendTablesFor(n);
  const addresses = [];
  for (let k = 0; k < n; k++) {
    const item = items[from + k];
    item.stage = ITEM_WRITTEN;
    data[k] = item.data;
    ports[k] = item.port;
    targets[k] = addressIndex(addresses, item.ip);
  }
  let codes;
  try {
    codes = state.handle.sendMany(data, ports, targets, addresses, results);
  } catch (err) {
    for (let k = from; k < to; k++) items[k].result = errors.fromNative(err, 'send', items[k].address, items[k].port);
    return;
  }
  let e = 0;
  for (let k = 0; k < n; k++) {
    const item = items[from + k];
    const r = results[k];
    if (r === -1 || r >= 0) settleItem(state, item, r);
    else item.result = errors.fromNative(codes[e++], 'send', item.address, item.port);
  }
}

// A native send's outcome: bytes sent, or -1 when the native side queued
// it (its completion comes as an event, see pendingSends).
function settleItem(state, item, r) {
  if (r >= 0) {
    item.result = r;
    return;
  }
  const entry = { callback: undefined, address: item.address, port: item.port, size: item.data.length, resource: undefined };
  if (item.callback !== undefined) {
    entry.callback = runQueuedCallback.bind(null, entry, item.callback);
    item.queued = entry;
  }
  state.pendingSends.push(entry);
}

// The async resource of a queued send, as Node's (a `SendWrap` of type
// UDPSENDWRAP, as executionAsyncResource() shows it to its callback).
class SendWrap extends AsyncResource {
  constructor() {
    super('UDPSENDWRAP');
  }
}

// A queued send's callback, in the async resource made at the send.
function runQueuedCallback(entry, callback, err, sent) {
  const resource = entry.resource;
  if (resource === undefined) return callback(err, sent);
  try {
    return resource.runInAsyncScope(callback, null, err, sent);
  } finally {
    resource.emitDestroy();
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
    const item = {
      socket,
      data,
      port,
      ip: literal,
      address,
      callback,
      local,
      error: undefined,
      stage: ITEM_WAITING,
      result: undefined,
      queued: undefined,
    };
    if (state.sendBlockList !== undefined) item.error = sendBlocked(state.sendBlockList, literal);
    // Failed without a callback: dropped silently, as Node does.
    if ((item.error !== undefined || data === null) && !callback) return;
    state.outbox.push(item);
    process.nextTick(outboxTick, item);
    return;
  }
  state.handle.lookup(address, (ex, ip) => {
    if (ex) {
      if (callback) process.nextTick(callback, ex);
      else process.nextTick(() => socket.emit('error', ex));
      return;
    }
    // Closed while the lookup ran: dropped silently, no callback, as Node.
    if (!state.handle) return;
    let failed = state.sendBlockList === undefined ? undefined : sendBlocked(state.sendBlockList, ip);
    if (failed === undefined && data === null) failed = tooManyPieces(state, ip, address, port);
    if (failed === undefined) transmit(socket, data, ip, address, port, callback, local);
    else if (callback) process.nextTick(callback, failed);
  });
}

// A message of more than IOV_MAX pieces fails where the native send would
// have: the checks libuv makes before it (connection state, then the
// address family), then EMSGSIZE.
function tooManyPieces(state, ip, address, port) {
  const connected = state.connectState === CONNECT_STATE_CONNECTED;
  let code;
  if (!port) code = connected ? 'EMSGSIZE' : 'EDESTADDRREQ';
  else if (connected) code = 'EISCONN';
  else code = (state.family === 'IPv4' ? isIPv4(String(ip)) : isIPv6(String(ip))) ? 'EMSGSIZE' : 'EINVAL';
  return errors.exceptionWithHostPort(code, 'send', address, port);
}

// Hands one datagram to the native handle; the callback runs on a later
// tick with (null, bytes) or a 'send' error, never as an 'error' event.
function transmit(socket, data, ip, address, port, callback, local) {
  const state = socket[kState];
  if (state.outboxReady !== 0) flushReady(socket); // sends that came first
  let sent;
  try {
    if (local !== undefined) sent = state.handle.sendFrom(data, port || 0, ip === undefined ? undefined : String(ip), local);
    else if (ip === undefined || !port) sent = state.handle.send(data, 0); // no destination, as Node
    else sent = state.handle.send(data, port, String(ip));
  } catch (err) {
    if (callback) process.nextTick(callback, errors.fromNative(err, 'send', address, port));
    return;
  }
  // Node's handle convention: bytes + 1 when sent now, 0 when queued (a
  // SEND_DONE event follows), or a negative libuv errno.
  if (sent > 0) {
    if (callback) process.nextTick(callback, null, sent - 1);
  } else if (sent === 0) {
    // Queued natively: called back later, in an async resource made now.
    const entry = { callback, address, port, size: data.length, resource: undefined };
    if (callback) {
      entry.resource = new SendWrap();
      entry.callback = runQueuedCallback.bind(null, entry, callback);
    }
    state.pendingSends.push(entry);
  } else if (callback) {
    process.nextTick(callback, errors.exceptionWithHostPort(sent, 'send', address, port));
  }
}

// After close: of the sends the native side had queued, the last
// `cancelled` never reached the kernel and get ECANCELED, as libuv cancels
// unwritten requests; the ones before them were written (their completion
// events, still on the way, were dropped with the socket) and get their
// bytes. Each callback runs on its own tick, so one that throws does not
// keep the others from running.
function settlePendingSends(pending, cancelled, completed) {
  const written = Math.max(0, pending.length - cancelled);
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i];
    if (!p.callback) continue;
    if (i < completed.length) {
      // Bytes written, or the code of the error the write failed with.
      const outcome = completed[i];
      if (typeof outcome === 'number') process.nextTick(p.callback, null, outcome);
      else process.nextTick(p.callback, errors.fromNative(outcome, 'send', p.address, p.port), p.size);
    } else if (i < written) {
      // Written in the instant before the close, its outcome not recorded.
      process.nextTick(p.callback, null, p.size);
    } else {
      const err = errors.exceptionWithHostPort('ECANCELED', 'send', p.address, p.port);
      process.nextTick(p.callback, err, p.size);
    }
  }
}

// Everything a native handle reports arrives here, on the JS thread, called
// from the event loop in the socket's async context, with the handle as
// `this` (see src/deliver.rs).
function onNativeEvent(kind, a, b, c) {
  const socket = this[kOwner];
  const state = socket[kState];
  switch (kind) {
    case EVENT_ONE:
      emitOne(socket, a, b, c);
      break;
    case EVENT_SMALL:
      emitSmall(socket, a, b);
      break;
    case EVENT_BATCH:
      state.batch = { chunks: a, meta: b, addrs: c, i: 0, chunk: 0, offset: 0 };
      emitBatch(socket, emitMessages);
      break;
    case EVENT_RESUME:
      // A listener threw (reported as uncaught): go on with the batch.
      if (state.batch === undefined) break;
      emitBatch(socket, state.batch.list !== undefined ? emitList : emitMessages);
      break;
    case EVENT_RECV_ERROR:
      if (state.handle && state.receiving) socket.emit('error', errors.fromNative(a, 'recvmsg'));
      break;
    case EVENT_SEND_DONE: {
      const p = state.pendingSends.shift();
      if (p && p.callback) {
        const err = c === undefined ? null : errors.fromNative(c, 'send', p.address, p.port);
        p.callback(err, err ? p.size : a);
      }
      break;
    }
    case EVENT_CLOSED:
      if (state.closing !== undefined) {
        const { pending, cancelled, completed } = state.closing;
        state.closing = undefined;
        settlePendingSends(pending, cancelled, completed);
      }
      break;
  }
  // Completed: a call that threw (reported as uncaught) returns nothing,
  // and the native side then resumes the batch with EVENT_RESUME.
  return true;
}

// Node's handle.onmessage(nread, handle, buf, rinfo): one datagram, or a
// receive error when nread < 0 (native batches take emitMessages instead).
UDP.prototype.onmessage = function onmessage(nread, handle, buf, rinfo) {
  const socket = handle[kOwner];
  const state = socket[kState];
  if (nread < 0) {
    if (state.handle && state.receiving) socket.emit('error', errors.errnoException(nread, 'recvmsg'));
    return;
  }
  rinfo.size = buf.length;
  socket.emit('message', buf, rinfo);
};

// One 'message' per datagram of the current batch (state.batch): `chunks`
// hold the payloads back to back, a datagram that did not fit one chunk
// starting the next. A listener that throws ends this call (the exception
// is reported as uncaught, as on Node); the native side then calls again
// with EVENT_RESUME for the rest, as libuv goes on with the next datagram.
function emitMessages(socket) {
  const state = socket[kState];
  const batch = state.batch;
  const { chunks, meta, addrs } = batch;
  // Per datagram: length, port, sender (index into addrs); with
  // recvDestination also destination (index), interface index and name.
  const stride = state.recvDestination ? 6 : 3;
  const filter = state.receiveFilter;
  let check = filter !== undefined && filter.sync(state.handle);
  let c = batch.chunk;
  let off = batch.offset;
  while (batch.i < meta.length) {
    if (!state.handle || !state.receiving) break; // closed by a listener
    const at = batch.i;
    const len = meta[at];
    if (off + len > chunks[c].length) {
      c++;
      off = 0;
    }
    // Advance first: a listener that throws skips this datagram only.
    batch.i += stride;
    batch.chunk = c;
    batch.offset = off + len;
    // A view into its chunk (at most 64 KiB): one copy out of the kernel's
    // buffers per batch instead of an allocation per datagram.
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
    if (batch.i < meta.length) runTicks();
  }
  if (state.batch === batch) state.batch = undefined;
}

// A batch of one datagram (without recvDestination), `length` bytes at the
// start of `scratch`: copied into a Buffer of its own, as Node gives each
// message.
function emitOne(socket, length, port, address) {
  const state = socket[kState];
  // Kept in step with the native side's last sender, emitted or not.
  if (address === undefined) address = state.lastSender; // the same as last time
  else state.lastSender = address;
  if (!state.handle || !state.receiving) return;
  const msg = Buffer.allocUnsafeSlow(length);
  scratch.copy(msg, 0, 0, length);
  const family = address.includes(':') ? 'IPv6' : 'IPv4';
  const filter = state.receiveFilter;
  if (filter !== undefined && filter.sync(state.handle) && filter.blocks(address, family)) return;
  socket.emit('message', msg, { address, family, port, size: msg.length });
}

// A small batch (at most SMALL_MAX datagrams) in `scratch`: each copied
// into a Buffer of its own, as Node gives each message, all before the
// first listener runs; then emitted by emitList. `addrs` is undefined when
// the only sender is the previous event's.
function emitSmall(socket, count, addrs) {
  const state = socket[kState];
  // Kept in step with the native side's last sender, emitted or not.
  if (addrs !== undefined && addrs.length === 1) state.lastSender = addrs[0];
  if (!state.handle || !state.receiving) return;
  const list = new Array(3 * count);
  let off = 0;
  for (let k = 0; k < 3 * count; k += 3) {
    const len = smallMeta[k];
    const msg = Buffer.allocUnsafeSlow(len);
    scratch.copy(msg, 0, off, off + len);
    off += len;
    list[k] = msg;
    list[k + 1] = smallMeta[k + 1];
    list[k + 2] = addrs === undefined ? state.lastSender : addrs[smallMeta[k + 2]];
  }
  state.batch = { list, i: 0 };
  emitBatch(socket, emitList);
}

// One 'message' per (msg, port, address) of state.batch.list; resumed
// like emitMessages after a listener's exception.
function emitList(socket) {
  const state = socket[kState];
  const batch = state.batch;
  const list = batch.list;
  const filter = state.receiveFilter;
  while (batch.i < list.length) {
    if (!state.handle || !state.receiving) break; // closed by a listener
    const at = batch.i;
    batch.i += 3; // first: a listener that throws skips this datagram only
    const msg = list[at];
    const address = list[at + 2];
    const family = address.includes(':') ? 'IPv6' : 'IPv4';
    if (filter !== undefined && filter.sync(state.handle) && filter.blocks(address, family)) continue;
    socket.emit('message', msg, { address, family, port: list[at + 1], size: msg.length });
    if (batch.i < list.length) runTicks();
  }
  if (state.batch === batch) state.batch = undefined;
}

function socketCloseNT(socket) {
  socket.emit('close');
}

function membership(socket, multicastAddress, interfaceAddress, join) {
  healthCheck(socket);
  if (!multicastAddress) throw new ERR_MISSING_ARGS('multicastAddress');
  // Converted as Node's binding does (a Symbol throws a TypeError).
  const group = `${multicastAddress}`;
  const iface = interfaceAddress === undefined || interfaceAddress === null ? undefined : `${interfaceAddress}`;
  try {
    socket[kState].handle.membership(group, iface, join);
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

// The port a bind hands to the kernel. Node does not validate it: its
// binding converts it to a uint32 (a Symbol or BigInt throws the
// conversion's TypeError) and the kernel sees the low 16 bits; a *string*
// holding a negative 32-bit integer ('-1', ' -5', '-1e3') comes out as 0,
// an ephemeral port (seen on Node 20; the number -1 gives 65535).
function nativePort(port) {
  const n = +(port || 0);
  if (typeof port === 'string' && n < 0 && n >= -0x80000000 && Number.isInteger(n)) return 0;
  return (n >>> 0) & 0xffff;
}

// Node's deprecated (DEP0112) export: a bound native handle, or a negative
// errno. Kept for old code that reaches for it.
const _createSocketHandle = deprecate(
  function _createSocketHandle(address, port, addressType, fd, flags) {
    const { handle } = newHandle(addressType);
    try {
      if (Number.isInteger(fd) && fd > 0 && fd <= 0x7fffffff) handle.open(fd);
      else if (port || address) handle.bind(String(address), nativePort(port), flags >>> 0);
    } catch (err) {
      handle.close(false);
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
