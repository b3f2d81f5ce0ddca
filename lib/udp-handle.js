'use strict';
// The handle class (Node's internal `UDP`): a socket's `_handle`. Its Rust
// value (src/handle.rs `UdpHandle`) is made by the addon's `create`, which
// returns the value's number (freed by a finalizer on the handle when the
// handle is collected); the number is kept here in a private field and each
// method hands it and the handle itself to its native function. This is
// what `napi_wrap` would do, minus the private-property lookup
// `napi_unwrap` makes on every call (~800 instructions: more than most of
// these methods' own work). The handle goes as an argument, not as `this`
// through `fn.call(handle, ...)`, which V8 runs through its slow path for
// native functions; a few keep it (the socket's async resource, its events'
// target).
//
// Every method forwards exactly the arguments its native function reads
// (src/handle.rs `udp_parts`); __test__/reliability-handle.spec.js checks
// that the two lists name the same methods.

// The socket a handle belongs to (Node's owner_symbol).
const kOwner = Symbol('owner_symbol'); // described as Node's (util.inspect)

// Makes `new UDP` an object that is no handle: the one index.js keeps so
// that V8 keeps the handles' hidden class (index.js `makeMapKeepers`).
const MAP_KEEPER = Symbol('map keeper');

function udpHandleClass(parts) {
  const { create, methods: N, getters: G } = parts;

  class UDP {
    #native;
    // Set by index.js on every handle; declared here so that a handle has
    // its final hidden class, the kept one, from birth.
    lookup = undefined;
    [kOwner] = undefined;

    constructor(ipv6, eventHandler) {
      if (eventHandler !== MAP_KEEPER) this.#native = create(this, ipv6, eventHandler);
    }

    get fd() {
      return G.fd(this.#native, this);
    }

    bind(address, port, flags) {
      return N.bind(this.#native, this, address, port, flags);
    }

    open(fd, dup) {
      return N.open(this.#native, this, fd, dup);
    }

    getAsyncId() {
      return N.getAsyncId(this.#native, this);
    }

    recvStart() {
      return N.recvStart(this.#native, this);
    }

    recvStop() {
      return N.recvStop(this.#native, this);
    }

    send(data, port, address) {
      return N.send(this.#native, this, data, port, address);
    }

    sendFrom(data, port, address, local) {
      return N.sendFrom(this.#native, this, data, port, address, local);
    }

    sendMany(data, ports, targets, addresses, results, packed) {
      return N.sendMany(this.#native, this, data, ports, targets, addresses, results, packed);
    }

    setReceiveBlockList(rules) {
      return N.setReceiveBlockList(this.#native, this, rules);
    }

    recvDestination() {
      return N.recvDestination(this.#native, this);
    }

    setSlowConsumer(slow) {
      return N.setSlowConsumer(this.#native, this, slow);
    }

    connect(address, port) {
      return N.connect(this.#native, this, address, port);
    }

    disconnect() {
      return N.disconnect(this.#native, this);
    }

    getsockname() {
      return addressInfo(N.getsockname(this.#native, this));
    }

    getpeername() {
      return addressInfo(N.getpeername(this.#native, this));
    }

    setBroadcast(on) {
      return N.setBroadcast(this.#native, this, on);
    }

    setTTL(ttl) {
      return N.setTTL(this.#native, this, ttl);
    }

    setMulticastTTL(ttl) {
      return N.setMulticastTTL(this.#native, this, ttl);
    }

    setMulticastLoopback(on) {
      return N.setMulticastLoopback(this.#native, this, on);
    }

    setMulticastInterface(address) {
      return N.setMulticastInterface(this.#native, this, address);
    }

    membership(group, iface, join) {
      return N.membership(this.#native, this, group, iface, join);
    }

    sourceMembership(source, group, iface, join) {
      return N.sourceMembership(this.#native, this, source, group, iface, join);
    }

    bufferSize(size, recv) {
      return N.bufferSize(this.#native, this, size, recv);
    }

    getSendQueueSize() {
      return N.getSendQueueSize(this.#native, this);
    }

    getSendQueueCount() {
      return N.getSendQueueCount(this.#native, this);
    }

    unwrittenSends() {
      return N.unwrittenSends(this.#native, this);
    }

    takeError() {
      return N.takeError(this.#native, this);
    }

    ref() {
      return N.ref(this.#native, this);
    }

    unref() {
      return N.unref(this.#native, this);
    }

    // close(pending): the socket's own call, `pending` saying whether JS
    // waits for the CLOSED event (sends to settle). close([callback]):
    // Node's handles' form (DEP0112 internals), the callback called with
    // the handle as `this` in the loop's close phase once closed.
    close(pendingOrCallback) {
      if (typeof pendingOrCallback === 'boolean') return N.close(this.#native, this, pendingOrCallback);
      const notify = typeof pendingOrCallback === 'function';
      // (A second close is ignored, its callback too, as Node ignores it.)
      if (notify && this[kOnClose] === undefined) this[kOnClose] = pendingOrCallback;
      N.close(this.#native, this, notify);
      return undefined;
    }

    hasRef() {
      return N.hasRef(this.#native, this);
    }

    /** Whether `value` is one of these handles (not Node's own UDP). */
    static isHandle(value) {
      return value !== null && typeof value === 'object' && #native in value;
    }
  }
  return UDP;
}

// The callback of close([callback]) (see UDP#close), until called.
const kOnClose = Symbol('onclose');

// Calls what close([callback]) asked for, once: the handle has closed.
function handleClosed(handle) {
  const callback = handle[kOnClose];
  if (callback === undefined) return;
  handle[kOnClose] = undefined;
  Reflect.apply(callback, handle, []);
}

// `{ address, family, port }` from what getsockname/getpeername return: the
// object itself (IPv6), or an IPv4 address as `ip * 65536 + port`.
function addressInfo(r) {
  if (typeof r !== 'number') return r;
  const port = r % 65536;
  return { address: ipv4Text((r - port) / 65536), family: 'IPv4', port };
}

// The last IPv4 address formatted (a socket's address() is usually asked
// of the same few addresses).
let lastIp = -1;
let lastText = '';
function ipv4Text(ip) {
  if (ip !== lastIp) {
    lastText = `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
    lastIp = ip;
  }
  return lastText;
}

module.exports = { udpHandleClass, handleClosed, kOwner, MAP_KEEPER };
