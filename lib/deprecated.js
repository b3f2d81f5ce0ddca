'use strict';

// Node's deprecated dgram internals (DEP0112), still used by libraries and
// by Node's own tests, kept while the running Node has them (Node 25
// removed them: lib/node-version.js `deprecatedMembersRemoved`): the
// Socket's underscore fields and methods, the native handle's `owner`, and
// the module's `_createSocketHandle()`.

const { deprecate } = require('node:util');
const errors = require('./errors.js');
const { hostProcess } = require('./native.js');
const { kState, nodeStateSymbol } = require('./state.js');
const { kOwner } = require('./udp-handle.js');
const { isInt32 } = require('./validators.js');

/**
 * Adds the deprecated members to `SocketImpl.prototype` and `UDP.prototype`
 * (before index.js makes the prototype's methods enumerable, as Node's
 * are) and returns `_createSocketHandle`. `ops` are index.js's functions
 * they call: healthCheck(socket), stopReceiving(socket), newHandle(type),
 * nativePort(port).
 */
function installDeprecated(SocketImpl, UDP, ops) {
  const { healthCheck, stopReceiving, newHandle, nativePort } = ops;

  // The socket a native handle belongs to (Node's owner_symbol, `kOwner`).
  Object.defineProperty(UDP.prototype, 'owner', {
    get() {
      return this[kOwner];
    },
    set(socket) {
      this[kOwner] = socket;
    },
  });

  // Node's private fields: accessors of the socket's state.
  for (const [name, key] of [
    ['_handle', 'handle'],
    ['_receiving', 'receiving'],
    ['_bindState', 'bindState'],
    ['_queue', 'queue'],
    ['_reuseAddr', 'reuseAddr'],
  ]) {
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

  SocketImpl.prototype._healthCheck = deprecate(function () {
    healthCheck(this);
  }, 'Socket.prototype._healthCheck() is deprecated', 'DEP0112');

  SocketImpl.prototype._stopReceiving = deprecate(function () {
    stopReceiving(this);
  }, 'Socket.prototype._stopReceiving() is deprecated', 'DEP0112');

  // With Node's internals exposed (its own tests), the handles
  // _createSocketHandle() returns also answer `instanceof` for Node's
  // internal UDP class, as node:dgram's do: their prototype has every
  // member of ours, with Node's behind it. Only those: a socket's own
  // handle that passed for Node's would be handed to a child process as one
  // (`subprocess.send(m, socket._handle)`), and Node's C++, unable to
  // unwrap it, would crash where it otherwise throws ERR_INVALID_HANDLE_TYPE.
  let internalsHandlePrototype;
  function asInternalsHandle(handle) {
    if (!nodeStateSymbol) return handle;
    if (internalsHandlePrototype === undefined) {
      try {
        const NodeUDP = hostProcess().binding('udp_wrap').UDP;
        internalsHandlePrototype = Object.create(NodeUDP.prototype, Object.getOwnPropertyDescriptors(UDP.prototype));
      } catch {
        internalsHandlePrototype = null; // no such binding in this Node: instanceof stays ours alone
      }
    }
    if (internalsHandlePrototype !== null) Object.setPrototypeOf(handle, internalsHandlePrototype);
    return handle;
  }

  // The module's export: a bound native handle, or a negative errno.
  return deprecate(
    function _createSocketHandle(address, port, addressType, fd, flags) {
      const { handle } = newHandle(addressType);
      try {
        if (isInt32(fd) && fd > 0) handle.open(fd);
        else if (port || address) handle.bind(String(address), nativePort(port), flags >>> 0);
      } catch (err) {
        handle.close(false);
        const code = errors.nativeCode(err);
        if (code === undefined) throw err;
        return typeof code === 'number' ? code : errors.uvErrno(code);
      }
      return asInternalsHandle(handle);
    },
    'dgram._createSocketHandle() is deprecated',
    'DEP0112',
  );
}

module.exports = { installDeprecated };
