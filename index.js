'use strict';

// dgram-rs: node:dgram's API over a Rust socket handle.
//
// This file owns the API semantics, as Node's lib/dgram.js does: argument
// forms and validation, DNS lookups, the bind/connect state machines, the
// queue of operations issued before the socket is bound, and event timing.
// The native `UdpHandle` (src/handle.rs) owns the socket and all its I/O.
// The send path (lib/send-path.js) and the receive emitters
// (lib/receive.js) are modules of their own; this file calls into them.

const EventEmitter = require('node:events');
const { inspect } = require('node:util');
const diagnosticsChannel = require('node:diagnostics_channel');
const { udpParts, addEventHandler, guessHandleType, hostProcess, setNoTrySend } = require('./lib/native.js');
// The native handle class (Node's UDP handle).
const { udpHandleClass, handleClosed, kOwner, MAP_KEEPER } = require('./lib/udp-handle.js');
const UDP = udpHandleClass(udpParts());
const errors = require('./lib/errors.js');
const { isIPv4, isIPv6 } = require('./lib/ip.js');
const { ReceiveFilter, sendBlocked, validateBlockList } = require('./lib/blocklist.js');
const cluster = require('./lib/cluster.js');
const { installDeprecated } = require('./lib/deprecated.js');
const { localOrThrow, messageData, normalizeManyItem, numericAddress } = require('./lib/adds-args.js');
const { netAccessError } = require('./lib/permission.js');
const {
  bindCallbackOnErrorMonitor,
  defaultLookupSkipsLiterals,
  deprecatedMembersRemoved,
  groupConversionIsEinval,
  stateHasBlockLists,
  stateHasReusePort,
} = require('./lib/node-version.js');
// The socket's state key and its state machines' values (lib/state.js).
const {
  kState,
  kAsyncIdSymbol,
  socketTick,
  BIND_STATE_UNBOUND,
  BIND_STATE_BINDING,
  BIND_STATE_BOUND,
  CONNECT_STATE_DISCONNECTED,
  CONNECT_STATE_CONNECTING,
  CONNECT_STATE_CONNECTED,
} = require('./lib/state.js');
const {
  dropOutbox,
  emitBatch,
  flushReady,
  sendManyBound,
  sendTo,
  settleOutbox,
  settlePendingSends,
  toBuffer,
  transmit,
} = require('./lib/send-path.js');
const { emitList, emitMessages, emitOne, emitSmall, newBatch, onError, onMessage, scratch } = require('./lib/receive.js');
// Node's dgram schedules its ticks with the real `process.nextTick`, looked
// up at each call. Where this file runs in a sandbox with a `process` object
// of its own (jest's test environment), fake timers replace that copy's
// nextTick: use the process object of the context the addon was loaded in.
const process = hostProcess();
// node:dgram resolves names with Node's own dns module, which a test
// framework's module mocks (`jest.mock('dns')`) do not replace: take it
// from the host process (Node 20.16+), past any module registry. Patching
// `dns.lookup` itself still reaches it, as it reaches node:dgram.
const dns = typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('node:dns') : require('node:dns');

const {
  isInt32,
  kBufferTypes,
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


// Published with { socket } by every new socket, last thing in its
// constructor, as node:dgram does.
const udpSocketChannel = diagnosticsChannel.channel('udp.socket');

// Node's own dns.lookup, which a socket may skip for IP literals, as it
// would only echo them back on the next tick. Recognised by the argument
// names for util.promisify that Node keeps on it under a symbol of its
// own, so that a replacement installed before this module loaded is still
// called, as node:dgram calls it.
const pristineLookup = isNodeDnsLookup(dns.lookup) ? dns.lookup : undefined;

function isNodeDnsLookup(fn) {
  return typeof fn === 'function' && Object.getOwnPropertySymbols(fn).some((sym) => sym.description === 'customPromisifyArgs');
}

// The lookup of a socket created without a `lookup` option on Node 24.19+ /
// 26.5+: dns.lookup as it is when called, and never for a literal of the
// socket's family. (Before, the socket kept dns.lookup as it was when the
// socket was created, and called it even for literals, unless pristine.)
function currentDnsLookup(address, family, callback) {
  return dns.lookup(address, family, callback);
}

// Whether a socket's lookup may be skipped for a literal of its family.
const skipsLiterals = (lookup) => lookup === pristineLookup || lookup === currentDnsLookup;

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

const kIovMax = 1024;

// Every event of this module's sockets comes to onNativeEvent, with the
// socket's handle as `this`. A copy of this module loaded again over the
// same addon (jest's registry resets do that) registers its own. The
// addon holds the two strongly only while a socket of this copy is bound;
// the copy's handles keep them alive from here, through their class, so
// that a copy nothing uses any more can be collected. They sit in a
// private field, out of user code's reach: the addon writes into scratch.
class Kept {
  #values;
  constructor(values) {
    this.#values = values;
  }
}
const eventHandler = addEventHandler(onNativeEvent, scratch);
Object.defineProperty(UDP.prototype, Symbol('eventHandler'), { value: new Kept([onNativeEvent, scratch]) });
// Node's test flag: every send takes the queued path.
if (process.execArgv.includes('--test-udp-no-try-send')) setNoTrySend(true);


// ---------------------------------------------------------------------------

// The native bind's flags from the socket's options.
function bindFlags(state) {
  let flags = 0;
  if (state.reuseAddr) flags |= FLAG_REUSEADDR;
  if (state.ipv6Only) flags |= FLAG_IPV6ONLY;
  if (state.reusePort) flags |= FLAG_REUSEPORT;
  return flags;
}

// What util.inspect shows of a socket's state: the fields node:dgram's
// state has on the running Node, in its order, with its values (our own
// fields are the implementation's, as Node's C++ handle fields are).
const inspectedKeys = ['handle', 'receiving', 'bindState', 'connectState', 'queue', 'reuseAddr'];
if (stateHasReusePort) inspectedKeys.push('reusePort');
inspectedKeys.push('ipv6Only', 'recvBufferSize', 'sendBufferSize');
if (stateHasBlockLists) inspectedKeys.push('receiveBlockList', 'sendBlockList');
function inspectedState() {
  const view = {};
  for (const key of inspectedKeys) {
    view[key] = key === 'receiveBlockList' ? this.receiveFilter && this.receiveFilter.list : this[key];
  }
  return view;
}

function lookup4(lookup, address, callback) {
  return lookupAs(lookup, address || '127.0.0.1', 4, callback);
}

function lookup6(lookup, address, callback) {
  return lookupAs(lookup, address || '::1', 6, callback);
}

// A default lookup answers an IP literal of the socket's family itself, on
// the next tick as dns.lookup would. Node 24.19+ / 26.5+ (currentDnsLookup)
// reads the address as a string for that check, which throws for a Symbol
// or a detached view, synchronously, as Node's isIP does; before, only a
// string could be a literal and the rest went to dns.lookup.
function lookupAs(lookup, address, family, callback) {
  if (skipsLiterals(lookup)) {
    const text = lookup === currentDnsLookup ? `${address}` : address;
    if (family === 4 ? isIPv4(text) : isIPv6(text)) return process.nextTick(callback, null, address, family);
  }
  return lookup(address, family, callback);
}

function newHandle(type, lookup, validateOnly) {
  if (lookup === undefined) {
    lookup = defaultLookupSkipsLiterals ? currentDnsLookup : dns.lookup;
  } else {
    validateFunction(lookup, 'lookup');
  }
  if (validateOnly) {
    if (type !== 'udp4' && type !== 'udp6') throw new ERR_SOCKET_BAD_TYPE();
    return { handle: undefined, rawLookup: lookup };
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
  // Read here only, as often as Node 22+ reads them (a getter on the
  // options runs as often as there), kept for setUpSocket.
  let receiveBlockList;
  let sendBlockList;
  let recvDestination = false;
  if (type !== null && typeof type === 'object') {
    options = type;
    type = options.type;
    lookup = options.lookup;
    if (options.recvBufferSize) validateUint32(options.recvBufferSize, 'options.recvBufferSize');
    if (options.sendBufferSize) validateUint32(options.sendBufferSize, 'options.sendBufferSize');
    recvBufferSize = options.recvBufferSize;
    sendBufferSize = options.sendBufferSize;
    if (options.receiveBlockList) {
      validateBlockList(options.receiveBlockList, 'options.receiveBlockList');
      receiveBlockList = options.receiveBlockList;
    }
    if (options.sendBlockList) {
      validateBlockList(options.sendBlockList, 'options.sendBlockList');
      sendBlockList = options.sendBlockList;
    }
    const destination = options.recvDestination;
    if (destination !== undefined) {
      validateBoolean(destination, 'options.recvDestination');
      if (destination && process.platform !== 'linux') {
        throw new ERR_FEATURE_UNAVAILABLE_ON_PLATFORM('options.recvDestination');
      }
      recvDestination = destination;
    }
  }
  const { handle, rawLookup } = newHandle(type, lookup, validateOnly);
  return { type, options, recvBufferSize, sendBufferSize, receiveBlockList, sendBlockList, recvDestination, handle, rawLookup };
}

// The constructor's work on `this`, an EventEmitter already: also run by
// `Socket.call(this, …)` from an ES5-style subclass, as Node's Socket is a
// plain function.
function initSocket(type_, listener) {
  const parts = readOptions(type_);
  // The socket's async id, as Node keeps it on the socket (its first
  // handle's: a cluster worker's handle swap keeps it); unknown (-1) where
  // the addon cannot get it from Node (Node-API contexts).
  setUpSocket(this, parts, parts.handle.getAsyncId(), listener);
  const { options } = parts;
  if (options && options.signal !== undefined) {
    closeOnAbort(this, options.signal, () => {
      if (this[kState].handle) this.close();
    });
  }
  if (udpSocketChannel.hasSubscribers) udpSocketChannel.publish({ socket: this });
}

// The socket's own properties and its state, in the order that gives every
// socket the same hidden class (the map keeper's too, below).
function setUpSocket(socket, parts, asyncId, listener) {
  const { type, options, recvBufferSize, sendBufferSize, receiveBlockList, sendBlockList, recvDestination, handle, rawLookup } = parts;
  if (asyncId >= 0) socket[kAsyncIdSymbol] = asyncId;
  socket.type = type;
  if (typeof listener === 'function') socket.on('message', listener);

  socket[kState] = {
    handle,
    asyncId: asyncId >= 0 ? asyncId : undefined,
    // A literal IP of the socket's family needs no lookup when the lookup
    // is the default one (see skipsLiterals).
    literalShortcut: skipsLiterals(rawLookup),
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
    sendBlockList,
    receiveFilter: receiveBlockList ? new ReceiveFilter(receiveBlockList) : undefined,
    // Opt-in: rinfo also tells where each datagram arrived.
    recvDestination,
    // Callbacks of sends the native side queued, oldest first.
    pendingSends: [],
    // The sender of the last datagram received alone (see emitOne).
    lastSender: '',
    // The received batch being emitted (lib/receive.js), and what close()
    // left for the native side to report (onNativeEvent): named here so
    // that every socket's state keeps the one shape it is created with.
    batch: undefined,
    closing: undefined,
    // Whether its last batch's listeners took long: its replies are then
    // not held to the batch's end (lib/send-path.js, emitBatch).
    slowListeners: false,
    // A connected send while a batch was emitted: its ICMP error, if any,
    // comes before the next messages (this many still to check; see
    // lib/receive.js pendingError).
    errorCheck: 0,
    // In a cluster worker, gives back the primary's socket (lib/cluster.js).
    clusterRelease: undefined,
    // util.inspect(socket) shows Node's fields only (inspectedState).
    [inspect.custom]: inspectedState,
  };

  handle[kOwner] = socket;
  // Applied by the native side when bind creates the OS socket.
  if (socket[kState].recvDestination) handle.recvDestination();
}

// The `signal` option: closes the socket when it aborts (at once when it
// already has); forgotten when the socket closes.
function closeOnAbort(socket, signal, onAborted) {
  validateAbortSignal(signal, 'options.signal');
  if (signal.aborted) {
    onAborted();
  } else {
    socket.once('close', onAbortListener(signal, onAborted));
  }
}

// Listens for `signal`'s abort as Node's sockets do, with
// `events.addAbortListener` (Node 20.5+), which another listener's
// stopImmediatePropagation() cannot silence; returns what forgets it.
function onAbortListener(signal, onAborted) {
  if (typeof EventEmitter.addAbortListener === 'function') {
    return EventEmitter.addAbortListener(signal, onAborted)[Symbol.dispose];
  }
  signal.addEventListener('abort', onAborted, { once: true });
  return () => signal.removeEventListener('abort', onAborted);
}

// A handle and a socket that are never opened, kept by the socket class
// (`SocketImpl`'s `#mapKeepers`) as long as this module lives. V8 keeps
// the hidden class (map) of a class's objects only while one of them
// lives, and a full collection that finds none throws away the optimized
// code built on it. Every full collection made while no socket was open (a
// socket per request closes before the next) would then have the socket
// path compiled again: measured with a full GC every 2,000 sockets of a
// create/bind/close loop, 164-180 TurboFan compilations instead of ~100
// (node:dgram's count) and 30-40 µs of CPU per socket instead of 22-26
// (node:dgram 36-40). node:dgram's handles are made from a C++ template,
// whose map lives as long as the process.
function makeMapKeepers(SocketClass) {
  const handle = new UDP(false, MAP_KEEPER);
  const socket = Reflect.construct(EventEmitter, [], SocketClass);
  const parts = {
    type: 'udp4', options: undefined, recvBufferSize: undefined, sendBufferSize: undefined,
    receiveBlockList: undefined, sendBlockList: undefined, recvDestination: false, handle, rawLookup: dns.lookup,
  };
  setUpSocket(socket, parts, 0, undefined);
  // A listening socket's handle (startListening) has these too.
  handle.onmessage = onMessage;
  handle.onerror = onError;
  return { handle, socket };
}

class SocketImpl extends EventEmitter {
  static #mapKeepers = makeMapKeepers(this);

  constructor(type_, listener) {
    super();
    Reflect.apply(initSocket, this, [type_, listener]);
  }

  bind(port_, address_ /* , callback */) {
    let port = port_;
    healthCheck(this);
    const state = this[kState];
    if (state.bindState !== BIND_STATE_UNBOUND) throw new ERR_SOCKET_ALREADY_BOUND();
    state.bindState = BIND_STATE_BINDING;

    const cb = arguments.length && arguments[arguments.length - 1];
    if (typeof cb === 'function') {
      // Until Node 24.21 / 26.8 the callback's cleanup was an 'error'
      // listener, which kept a failed bind from throwing.
      const errorEvent = bindCallbackOnErrorMonitor ? EventEmitter.errorMonitor : 'error';
      const removeListeners = () => {
        this.removeListener(errorEvent, removeListeners);
        this.removeListener('listening', onListening);
      };
      const onListening = () => {
        removeListeners();
        cb.call(this);
      };
      this.on(errorEvent, removeListeners);
      this.on('listening', onListening);
    }

    // bind(handle) (DEP0112 internals; Node's cluster code passes the
    // primary's handle this way): the socket takes the handle over and
    // listens at once.
    if (port !== null && typeof port === 'object' && typeof port.recvStart === 'function') {
      replaceHandle(this, port);
      startListening(this);
      return this;
    }

    // isInt32 converts the value, as Node's check does: a BigInt or a
    // Symbol throws its TypeError here, an object's valueOf() is called.
    if (port !== null && typeof port === 'object' && isInt32(port.fd) && port.fd > 0) {
      const fd = port.fd;
      // In a cluster worker the primary opens the descriptor (a number in
      // its own process) and shares the socket, unchecked here, as on Node.
      if (!port.exclusive && cluster.isWorker()) {
        bindInCluster(this, { address: null, port: null, addressType: this.type, fd, flags: null }, (errno) => errors.errnoException(errno, 'open'));
        return this;
      }
      const kind = guessHandleType(fd);
      if (kind !== 'UDP') throw new ERR_INVALID_FD_TYPE(kind);
      const denied = netAccessError('');
      if (denied) throw denied;
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
      const flags = bindFlags(state);
      // reusePort binds are exclusive (Node 22.12+): each worker its own.
      if (!state.reusePort && !exclusive && cluster.isWorker()) {
        // A cluster worker shares the primary's socket (lib/cluster.js).
        bindInCluster(this, { address: ip, port, addressType: this.type, fd: -1, flags }, (errno) => errors.exceptionWithHostPort(errno, 'bind', ip, port));
        return;
      }
      // Outside the try, as in Node: a port that cannot become a number
      // throws from here and leaves the socket binding.
      const native = nativePort(port);
      const denied = netAccessError(String(ip));
      try {
        if (denied) throw denied;
        state.handle.bind(String(ip), native, flags);
      } catch (e) {
        state.bindState = BIND_STATE_UNBOUND;
        this.emit('error', denied ? errors.exceptionWithHostPort(denied, 'bind', ip, port) : errors.fromNative(e, 'bind', ip, port));
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
    flushReady();
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
    // (`data` null: sendTo reports the error Node's write gives once the
    // address is known: EMSGSIZE, or EINVAL, EISCONN, EDESTADDRREQ first).
    const tooMany = list.length > kIovMax;
    if (tooMany && connected) {
      if (callback) socketTick(state, callback, errors.exceptionWithHostPort('EMSGSIZE', 'send', address, port));
      return;
    }
    // A single view goes to the write as it is: its length is read there,
    // as Node reads it (toBuffer in lib/send-path.js).
    const data = tooMany ? null : list.length === 1 ? list[0] : Buffer.concat(list);
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
    flushReady();
    dropOutbox(this);
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
    if (state.receiveFilter !== undefined) state.receiveFilter.stop();
    if (state.clusterRelease !== undefined) {
      const release = state.clusterRelease;
      state.clusterRelease = undefined;
      release();
    }
    socketTick(state, socketCloseNT, this);
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
    const handle = this[kState].handle;
    settleOutbox(this);
    try {
      handle.setBroadcast(!!arg);
    } catch (err) {
      throw errors.fromNative(err, 'setBroadcast');
    }
  }

  setTTL(ttl) {
    validateNumber(ttl, 'ttl');
    const handle = this[kState].handle;
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
    const handle = this[kState].handle;
    settleOutbox(this);
    try {
      handle.setMulticastTTL(ttl);
    } catch (err) {
      throw errors.fromNative(err, 'setMulticastTTL');
    }
    return ttl;
  }

  setMulticastLoopback(arg) {
    const handle = this[kState].handle;
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
   * Node's synchronous bind (24.19+, 26.4+; here on every version): an IP
   * literal or none, errors thrown (the socket stays unbound), 'listening'
   * on the next tick if still open. Returns the bound address.
   */
  bindSync(options = {}) {
    healthCheck(this);
    validateObject(options, 'options');
    const state = this[kState];
    if (state.bindState !== BIND_STATE_UNBOUND) throw new ERR_SOCKET_ALREADY_BOUND();
    // Validated before the state changes, so that a bad argument leaves the
    // socket as it was. An address of the other family is the bind's EINVAL.
    const port = validatePort(options.port ?? 0, 'options.port');
    const address = numericAddress(options.address, 'options.address', 'bindSync') ||
      (state.family === 'IPv4' ? '0.0.0.0' : '::');
    state.bindState = BIND_STATE_BINDING;
    const flags = bindFlags(state);
    const denied = netAccessError(address);
    try {
      if (denied) throw denied;
      state.handle.bind(address, port, flags);
    } catch (err) {
      state.bindState = BIND_STATE_UNBOUND;
      throw denied ? errors.exceptionWithHostPort(denied, 'bind', address, port) : errors.fromNative(err, 'bind', address, port);
    }
    startListening(this, true);
    return this.address();
  }

  /**
   * Node's synchronous connect (24.19+, 26.4+): an IP literal or the
   * family's loopback, binding first (bindSync) when unbound, errors
   * thrown, 'connect' on the next tick if still open.
   */
  connectSync(port, address) {
    healthCheck(this);
    port = validatePort(port, 'Port', false);
    const state = this[kState];
    if (state.connectState !== CONNECT_STATE_DISCONNECTED) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    const ip = numericAddress(address, 'address', 'connectSync') ||
      (state.family === 'IPv4' ? '127.0.0.1' : '::1');
    if (state.bindState === BIND_STATE_UNBOUND) this.bindSync();
    else if (state.bindState !== BIND_STATE_BOUND) throw new ERR_SOCKET_ALREADY_BOUND();
    // Bound by now even if the destination turns out to be blocked.
    const blocked = sendBlocked(state.sendBlockList, ip);
    if (blocked) throw blocked;
    try {
      state.handle.connect(ip, port);
    } catch (err) {
      throw errors.fromNative(err, 'connect', ip, port);
    }
    state.connectState = CONNECT_STATE_CONNECTED;
    process.nextTick(() => {
      if (state.handle) this.emit('connect');
    });
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
    const handle = this[kState].handle;
    if (handle) handle.ref();
    return this;
  }

  unref() {
    const handle = this[kState].handle;
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


// Node's deprecated internals (DEP0112), while the running Node has them.
const _createSocketHandle = deprecatedMembersRemoved
  ? undefined
  : installDeprecated(SocketImpl, UDP, { healthCheck, stopReceiving, newHandle, nativePort });

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
    if (this instanceof Socket && this[kState] === undefined) {
      // An ES5-style subclass's constructor (`Socket.call(this, …)` after
      // `util.inherits`): `this` becomes a socket.
      EventEmitter.call(this);
      Reflect.apply(initSocket, this, [type, listener]);
    } else {
      Reflect.apply(constructorBody, this, [type, listener]);
    }
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
  // (Not closeOnAbort(): the error must name `this`, as Node's does.)
  if (options && options.signal !== undefined) {
    const { signal } = options;
    validateAbortSignal(signal, 'options.signal');
    const onAborted = () => {
      this.close();
    };
    if (signal.aborted) {
      onAborted();
    } else {
      this.once('close', onAbortListener(signal, onAborted));
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
  state.handle.onmessage = onMessage;
  state.handle.onerror = onError;
  if (state.receiveFilter) state.receiveFilter.start(state.handle);
  state.handle.recvStart();
  state.receiving = true;
  state.bindState = BIND_STATE_BOUND;
  if (state.recvBufferSize) bufferSize(socket, state.recvBufferSize, true);
  if (state.sendBufferSize) bufferSize(socket, state.sendBufferSize, false);
  if (!deferListening) {
    socket.emit('listening');
    return;
  }
  // bindSync: on the next tick, if the socket is still open then.
  process.nextTick(() => {
    if (state.handle) socket.emit('listening');
  });
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
      // A new native handle for the primary's socket replaces the one the
      // socket had, as node:dgram swaps in the handle it received: events
      // then run in the async context of this reply, not of createSocket(),
      // and whatever the old handle did meanwhile (a membership call binds
      // it implicitly) goes with it. Only unref() carries over.
      const adopted = new UDP(state.family === 'IPv6', eventHandler);
      if (state.recvDestination) adopted.recvDestination();
      try {
        adopted.open(handle.fd, true);
      } catch (err) {
        adopted.close(false);
        handle.close();
        state.bindState = BIND_STATE_UNBOUND;
        socket.emit('error', toError(errors.nativeCode(err)));
        return;
      }
      if (!state.handle.hasRef()) adopted.unref();
      swapHandle(socket, adopted);
      state.clusterRelease = cluster.keepHandle(handle, (callback) => socket.close(callback));
      startListening(socket);
    },
  });
}

// bind(handle): `handle` replaces the socket's own, as node:dgram swaps in
// a handle it is given. One of ours (from _createSocketHandle()) is taken
// as it is; anything else (Node's own handle) through a duplicate of its
// descriptor, after which it is closed: dgram-rs does no I/O through it.
function replaceHandle(socket, handle) {
  const state = socket[kState];
  if (UDP.isHandle(handle)) {
    if (state.recvDestination) handle.recvDestination();
    swapHandle(socket, handle);
  } else {
    try {
      state.handle.open(handle.fd, true);
    } catch (err) {
      throw errors.fromNative(err, 'open');
    }
    handle.close();
  }
  try {
    state.handle.getpeername();
    state.connectState = CONNECT_STATE_CONNECTED;
  } catch {
    // not connected
  }
}

// `handle` takes the place of the socket's own, which closes.
function swapHandle(socket, handle) {
  const state = socket[kState];
  handle.lookup = state.handle.lookup;
  handle[kOwner] = socket;
  state.handle.close(false);
  state.handle = handle;
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
      flushReady();
      // What the lookup answered, as a string; a Symbol throws TypeError
      // here, out of the lookup's callback, as Node's binding does.
      const text = `${ip}`;
      try {
        state.handle.connect(text, port);
      } catch (err) {
        ex = errors.fromNative(err, 'connect', address, port);
      }
    }
    if (ex) {
      state.connectState = CONNECT_STATE_DISCONNECTED;
      socketTick(state, () => {
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
    socketTick(state, () => this.emit('connect'));
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
    // A new view of each piece, as Node makes: one whose buffer was
    // detached throws here (TypeError), at send() or at the replay of a
    // send queued behind the bind, where Node throws.
    else out[i] = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return out;
}

// Everything a native handle reports arrives here, on the JS thread, called
// from the event loop in the socket's async context, with the handle as
// `this` (see src/deliver.rs).
function onNativeEvent(kind, a, b, c, d) {
  const socket = this[kOwner];
  // A handle that no socket owns (made by _createSocketHandle()) hears only
  // its close.
  if (socket === undefined) {
    if (kind === EVENT_CLOSED) handleClosed(this);
    return true;
  }
  const state = socket[kState];
  let held = false;
  switch (kind) {
    case EVENT_ONE:
      emitOne(socket, a, b, c, d);
      break;
    case EVENT_SMALL:
      emitSmall(socket, a, b);
      break;
    case EVENT_BATCH:
      state.batch = newBatch(a, b, c);
      held = emitBatch(socket, emitMessages) === true;
      break;
    case EVENT_RESUME:
      // A listener threw (reported as uncaught), or the batch was longer
      // than one turn's messages: go on with it.
      if (state.batch === undefined) break;
      held = emitBatch(socket, state.batch.list !== undefined ? emitList : emitMessages) === true;
      break;
    case EVENT_RECV_ERROR:
      if (state.handle && state.receiving) socket.emit('error', errors.fromNative(a, 'recvmsg'));
      break;
    case EVENT_SEND_DONE: {
      // (bytes written, the error code if the write failed)
      const p = state.pendingSends.shift();
      if (p && p.callback) {
        const err = b === undefined ? null : errors.fromNative(b, 'send', p.address, p.port);
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
      handleClosed(this);
      break;
  }
  // Completed (true), or the rest of the batch waits for the next turn
  // (false). A call that threw (reported as uncaught) returns nothing, and
  // the native side then resumes the batch with EVENT_RESUME.
  return !held;
}

function socketCloseNT(socket) {
  socket.emit('close');
}

function membership(socket, multicastAddress, interfaceAddress, join) {
  healthCheck(socket);
  if (!multicastAddress) throw new ERR_MISSING_ARGS('multicastAddress');
  const syscall = join ? 'addMembership' : 'dropMembership';
  // Converted as Node's binding does: a Symbol throws a TypeError. From
  // Node 22 a group that fails to convert is an invalid group (EINVAL),
  // unless the interface is a string: then the conversion's error stands.
  let group;
  try {
    group = `${multicastAddress}`;
  } catch (err) {
    if (!groupConversionIsEinval || typeof interfaceAddress === 'string') throw err;
  }
  const iface = interfaceAddress === undefined || interfaceAddress === null ? undefined : `${interfaceAddress}`;
  if (group === undefined) throw errors.errnoException('EINVAL', syscall);
  try {
    socket[kState].handle.membership(group, iface, join);
  } catch (err) {
    throw errors.fromNative(err, syscall);
  }
}

function sourceMembership(socket, sourceAddress, groupAddress, interfaceAddress, join) {
  healthCheck(socket);
  validateString(sourceAddress, 'sourceAddress');
  validateString(groupAddress, 'groupAddress');
  const iface = interfaceAddress === undefined || interfaceAddress === null ? undefined : `${interfaceAddress}`;
  try {
    socket[kState].handle.sourceMembership(sourceAddress, groupAddress, iface, join);
  } catch (err) {
    throw errors.fromNative(err, join ? 'addSourceSpecificMembership' : 'dropSourceSpecificMembership');
  }
}

function bufferSize(socket, size, recv) {
  validateBufferSize(size);
  const handle = socket[kState].handle;
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


module.exports = deprecatedMembersRemoved ? { createSocket, Socket } : { _createSocketHandle, createSocket, Socket };
