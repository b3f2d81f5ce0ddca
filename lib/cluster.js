'use strict';

// dgram sockets in cluster workers, taking part in Node's cluster protocol
// as node:dgram does.
//
// In a worker, a non-exclusive bind does not create a socket: the worker
// asks the primary (`cluster._getServer`), which keeps one socket per
// address, port, type and fd (created by Node's own dgram) and passes it to
// every worker that asks, over the IPC channel. The worker receives a
// native UDP handle; this socket takes a duplicate of its descriptor (all
// I/O goes through dgram-rs's own handle) and keeps the received handle
// only to give it back: closing it through the cluster code tells the
// primary that this worker is done with the socket.
//
// The cluster code also closes the handles it handed out when the worker
// disconnects. node:dgram's handle leads it to the socket, which it closes
// instead (with its 'close' event and callback); the kept handle does the
// same here by standing in for the socket's close().

let cluster;
let worker;

/** Whether this process is a cluster worker (asked once: a require() per bind shows in churn profiles). */
function isWorker() {
  if (worker === undefined) {
    cluster = require('node:cluster');
    worker = cluster.isWorker === true;
  }
  return worker;
}

/**
 * Asks the primary for the socket it shares for `options` (`address`,
 * `port`, `addressType`, `fd`, `flags`, as node:dgram passes them). Then,
 * as node:dgram: an error is reported with `hooks.onError(errno)` only if
 * the socket is still open (`hooks.isOpen()`); a handle that arrives after
 * the socket closed is given back at once; otherwise
 * `hooks.adopt(handle)` takes it.
 */
function bindShared(socket, options, hooks) {
  isWorker();
  cluster._getServer(socket, options, (err, handle) => {
    if (err) {
      if (hooks.isOpen()) hooks.onError(err);
      return;
    }
    if (!hooks.isOpen()) {
      handle.close();
      return;
    }
    hooks.adopt(handle);
  });
}

/**
 * Keeps `handle`, the primary's socket as this worker received it, for a
 * socket that adopted a duplicate of its descriptor, and returns the
 * function that gives it back (once) when the socket closes. While kept,
 * the cluster code closing the handle itself (worker disconnect) closes
 * the socket instead, through `closeSocket(callback)`, which gives the
 * handle back: the primary hears of it once.
 */
function keepHandle(handle, closeSocket) {
  const giveBack = handle.close;
  let kept = true;
  // The handle only holds the descriptor: it never receives, and the
  // socket's own ref()/unref() decide whether it keeps the process alive.
  if (typeof handle.unref === 'function') handle.unref();
  handle.close = function close(callback) {
    if (kept) closeSocket(callback);
  };
  return function release() {
    if (!kept) return;
    kept = false;
    Reflect.apply(giveBack, handle, []);
  };
}

module.exports = { bindShared, isWorker, keepHandle };
