'use strict';

// The socket's state: the key it lives under on every socket (Node's own
// when Node's internals are exposed) and the values of its bind and connect
// state machines. A module of its own so that index.js and the send path
// (lib/send-path.js) share them without requiring each other.

const { callWithTrigger, hostProcess, triggerScopeAvailable } = require('./native.js');
// The process object of the context the addon was loaded in (see index.js).
const process = hostProcess();

// The socket's state, under Node's own key when Node's internals are exposed
// (`--expose-internals`, as in Node's own tests, which reach into it).
const nodeStateSymbol = internalStateSymbol();
// (Described as Node's, so util.inspect(socket) shows the same key.)
const kState = nodeStateSymbol || Symbol('state symbol');
function internalStateSymbol() {
  if (!process.execArgv.some((a) => a === '--expose-internals' || a === '--expose_internals')) return undefined;
  try {
    return require('internal/dgram').kStateSymbol;
  } catch {
    return undefined;
  }
}

// node:dgram queues the ticks of a socket's send callbacks and errors,
// 'connect' and 'close' with the socket's async id (its first handle's,
// kept after close() and a cluster's handle swap) as their default
// trigger: their triggerAsyncId() is the socket's UDPWRAP. The addon sets
// that around process.nextTick where Node's C++ API lets it
// (src/sys/napi.rs `call_with_trigger`); elsewhere a plain nextTick.
// Fixed arity (fn and up to two arguments, as its callers pass): no rest
// array on the send path.
const triggerScoped = triggerScopeAvailable();
function socketTick(state, fn, a, b) {
  const n = arguments.length - 1; // fn and its arguments, as nextTick gets them
  if (triggerScoped && state.asyncId !== undefined) {
    callWithTrigger(state.asyncId, process, process.nextTick, n, fn, a, b);
  } else if (n === 1) {
    process.nextTick(fn);
  } else if (n === 2) {
    process.nextTick(fn, a);
  } else {
    process.nextTick(fn, a, b);
  }
}

// The socket's async id lives under this key (Node's own with its
// internals exposed, as util.inspect shows Node's `async_id_symbol`).
const kAsyncIdSymbol = (nodeStateSymbol && internalAsyncIdSymbol()) || Symbol('async_id_symbol');
function internalAsyncIdSymbol() {
  try {
    return require('internal/async_hooks').symbols.async_id_symbol;
  } catch {
    return undefined;
  }
}

const BIND_STATE_UNBOUND = 0;
const BIND_STATE_BINDING = 1;
const BIND_STATE_BOUND = 2;

const CONNECT_STATE_DISCONNECTED = 0;
const CONNECT_STATE_CONNECTING = 1;
const CONNECT_STATE_CONNECTED = 2;

module.exports = {
  kState,
  kAsyncIdSymbol,
  nodeStateSymbol,
  socketTick,
  BIND_STATE_UNBOUND,
  BIND_STATE_BINDING,
  BIND_STATE_BOUND,
  CONNECT_STATE_DISCONNECTED,
  CONNECT_STATE_CONNECTING,
  CONNECT_STATE_CONNECTED,
};
