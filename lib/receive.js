'use strict';

// The receive side: what the native handle reports of received datagrams,
// emitted as node:dgram emits it, one 'message' per datagram with a Buffer
// and an rinfo of its own, the receive block list applied and ticks run
// between the messages of a batch. A datagram alone or a small batch comes
// through `scratch`, shared with the native side (index.js registers it with
// its event function, onNativeEvent, which calls in here); a larger batch
// as chunks. Batches go through the send path's emitBatch
// (lib/send-path.js), which holds back the replies made meanwhile so that
// they go out together.

const { AsyncLocalStorage } = require('node:async_hooks');
const { markAsUntransferable } = require('node:worker_threads');
const { asyncFrameIsSet, hostProcess, restoreAsyncFrame, setCopyChunks } = require('./native.js');
const { kState } = require('./state.js');
const { kOwner } = require('./udp-handle.js');
const { emitBatch, betweenMessages } = require('./send-path.js');
const errors = require('./errors.js');
// The process object of the context the addon was loaded in, whose tick
// runner runTicks is (see index.js).
const process = hostProcess();

// A datagram received alone (up to 2 KiB), or a few together, cross into
// JS through `scratch` (see src/deliver.rs): copying them out here is
// cheaper than Buffers made natively. Payloads start at 0; a small batch's table of
// (length, port, sender) per datagram at 64 KiB (`smallMeta`).
const SCRATCH_META_AT = 64 * 1024;
const SMALL_MAX = 16;
const scratch = Buffer.allocUnsafeSlow(SCRATCH_META_AT + SMALL_MAX * 3 * 4);
const smallMeta = new Uint32Array(scratch.buffer, SCRATCH_META_AT, SMALL_MAX * 3);
// Copies `length` bytes at `offset` of scratch into `msg`: through a view
// of scratch's ArrayBuffer (its own, at offset 0), ~60 ns less than
// `scratch.copy`, which validates its arguments and reads `.buffer`.
const scratchBytes = scratch.buffer;
function copyOut(msg, offset, length) {
  msg.set(new Uint8Array(scratchBytes, offset, length));
}

// Node calls into JS once per datagram, so nextTick callbacks and
// microtasks queued by a 'message' listener run before the next message
// (a stream fed from 'message' sees each datagram's state). A batch is one
// call here: run them between its messages (Node's own tick runner; the
// last message is followed by the native callback's own).
let runTicks = typeof process._tickCallback === 'function' ? process._tickCallback : () => {};

// Under --pending-deprecation Node wraps that runner to warn (DEP0134) on
// its first call, which node:dgram never makes: the first call here
// swallows that one warning, and only it (with --throw-deprecation it
// would be thrown out of a 'message' event).
if (runTicks.name === 'deprecated') {
  const tick = runTicks;
  runTicks = () => {
    runTicks = tick;
    const emitWarning = process.emitWarning;
    const swallow = function (warning, type, code) {
      if (process.emitWarning === swallow) process.emitWarning = emitWarning;
      if (code === 'DEP0134') return undefined;
      return Reflect.apply(emitWarning, this, arguments);
    };
    process.emitWarning = swallow;
    try {
      tick();
    } finally {
      if (process.emitWarning === swallow) process.emitWarning = emitWarning;
    }
  };
}

// Where AsyncLocalStorage keeps its stores in async context frames (Node
// 24+; 22 behind a flag), Node enters the socket's frame for each message:
// a listener's enterWith() ends with its message. A batch is one call:
// the socket's frame is set again between its messages. (Elsewhere a
// store entered in a listener stays with the socket's resource, on node
// as here.) Where the storage is built on async_hooks (Node 20/22, 24+
// with --no-async-context-frame: its prototype has `_propagate`) there are
// no frames, and no probe: running one turns on async_hooks' flags for
// the life of the process. Elsewhere the probe's storage is disabled at
// once all the same.
const restoreFrame = (() => {
  if (typeof AsyncLocalStorage.prototype._propagate === 'function') return undefined;
  const probe = new AsyncLocalStorage();
  const framed = probe.run(true, asyncFrameIsSet);
  probe.disable();
  return framed ? restoreAsyncFrame : undefined;
})();

// Between two messages of a batch, what Node does between two callbacks:
// ticks and microtasks, then held replies may leave (send-path.js), and the
// socket's frame again.
function betweenTwo() {
  runTicks();
  betweenMessages();
  if (restoreFrame !== undefined) restoreFrame();
}

// libuv reads at most 32 datagrams per socket per loop turn, so timers,
// immediates and other sockets run between every 32 messages of a
// backlog. A call here emits at most that many and returns true when it
// holds the rest of its batch (state.batch): the native side calls again
// with EVENT_RESUME on the next turn and reads nothing for the socket
// meanwhile (src/socket.rs).
const TURN_MAX = 32;

// A large batch's chunks, which its messages share (README, Known
// differences): like Node's own Buffer pool, they cannot be transferred
// (postMessage / structuredClone with a transfer list copy them on Node 20
// and throw DataCloneError from 22), since detaching one would take the
// other messages' bytes with it. Where that marking also makes an
// ArrayBuffer undetachable (Node 24+: transfer() throws), chunks must not
// be Buffers over external memory, which Node detaches at teardown (an
// abort for an undetachable one): the native side copies them then.
const markingBlocksDetach = (() => {
  const probe = new ArrayBuffer(1);
  markAsUntransferable(probe);
  if (typeof probe.transfer !== 'function') return false;
  try {
    probe.transfer();
    return false;
  } catch {
    return true;
  }
})();
if (markingBlocksDetach) setCopyChunks(true);

function newBatch(chunks, meta, addrs) {
  for (let k = 0; k < chunks.length; k++) markAsUntransferable(chunks[k].buffer);
  // budget, check: set by emitMessages (named here so the object keeps its shape).
  return { chunks, meta, addrs, i: 0, chunk: 0, offset: 0, end: chunks[0].length, budget: undefined, check: undefined };
}

// Node's handle calls its `onmessage` property with each datagram, or
// with a negative nread for a receive error: node:dgram sets it (and
// `onerror`) on the handle itself when the socket starts listening, and so
// does index.js, with these two.
function onMessage(nread, handle, buf, rinfo) {
  const socket = handle[kOwner];
  const state = socket[kState];
  if (nread < 0) {
    if (state.handle && state.receiving) socket.emit('error', errors.errnoException(nread, 'recvmsg'));
    return;
  }
  rinfo.size = buf.length;
  socket.emit('message', buf, rinfo);
}

function onError(nread, handle, error) {
  handle[kOwner].emit('error', error);
}

// A datagram to the socket's 'message' listeners, or, where code replaced
// the handle's `onmessage` (DEP0112 internals), to that function instead,
// called as Node's handle would call it (the rinfo without `size`).
function emitMessage(socket, handle, msg, rinfo) {
  const onmessage = handle.onmessage;
  if (onmessage === onMessage || typeof onmessage !== 'function') {
    socket.emit('message', msg, rinfo);
    return;
  }
  const { size, ...withoutSize } = rinfo;
  Reflect.apply(onmessage, handle, [size, handle, msg, withoutSize]);
}

// Whether the datagrams of `batch` must be checked against the socket's
// receiveBlockList in JS (ReceiveFilter.sync): decided once per batch, and
// again when the rules have changed since. Once per batch, not per call:
// a batch emitted over several turns (or resumed after a listener threw)
// is one of the batches that may have been read under older rules, and
// counting each call used up that allowance before the last of them came.
function batchCheck(filter, handle, batch) {
  if (batch.check === undefined || (!batch.check && filter.changed())) batch.check = filter.sync(handle);
  return batch.check;
}

// One 'message' per datagram of the current batch (state.batch): `chunks`
// hold the payloads back to back, a datagram that did not fit one chunk
// starting the next (`end`: the current chunk's length). A listener that
// throws ends this call (the exception is reported as uncaught, as on
// Node); the native side then calls again with EVENT_RESUME for the rest,
// in the same turn, as libuv goes on with the next datagram: the turn's
// count (batch.budget) goes on too.
// True when TURN_MAX were emitted and the rest waits for the next turn.
function emitMessages(socket) {
  const state = socket[kState];
  const batch = state.batch;
  const { chunks, meta, addrs } = batch;
  // Per datagram: length, port, sender (index into addrs); with
  // recvDestination also destination (index), interface index and name.
  const stride = state.recvDestination ? 6 : 3;
  const filter = state.receiveFilter;
  const check = filter !== undefined && batchCheck(filter, state.handle, batch);
  let c = batch.chunk;
  let off = batch.offset;
  let end = batch.end;
  if (batch.budget === undefined) batch.budget = TURN_MAX;
  while (batch.i < meta.length) {
    if (!state.handle || !state.receiving) break; // closed by a listener
    if (batch.budget === 0) {
      batch.budget = undefined; // the next call is the next turn's
      return true;
    }
    batch.budget--;
    if (state.errorCheck > 0 && pendingError(socket, state)) break;
    const at = batch.i;
    const len = meta[at];
    if (off + len > end) {
      c++;
      off = 0;
      end = chunks[c].length;
      batch.end = end;
    }
    // Advance first: a listener that throws skips this datagram only.
    batch.i += stride;
    batch.chunk = c;
    batch.offset = off + len;
    // ArrayBuffer.prototype.transfer() (Node 22, which markAsUntransferable
    // does not stop) detached the chunk: its datagrams left with it.
    if (chunks[c].length !== end) {
      off += len;
      continue;
    }
    // A view into its chunk (at most 64 KiB): one copy out of the kernel's
    // buffers per batch instead of an allocation per datagram.
    const msg = chunks[c].subarray(off, off + len);
    off += len;
    const address = addrs[meta[at + 2]];
    // The sender's family (a socket adopted with bind({ fd }) may not be
    // of the socket's type), as Node reports it.
    const family = address.includes(':') ? 'IPv6' : 'IPv4';
    // (Rules changed by a listener of this batch: check the rest in JS.)
    if (filter !== undefined && (check || batchCheck(filter, state.handle, batch)) && filter.blocks(address, family)) continue;
    const port = meta[at + 1];
    const rinfo = stride === 3
      ? { address, family, port, size: len }
      : { address, family, port, size: len, localAddress: addrs[meta[at + 3]], interfaceIndex: meta[at + 4], interface: addrs[meta[at + 5]] };
    emitMessage(socket, state.handle, msg, rinfo);
    if (batch.i < meta.length) {
      betweenTwo();
    }
  }
  if (state.batch === batch) state.batch = undefined;
}

// A batch of one datagram (without recvDestination): `own`, a Buffer of
// its own, as Node gives each message, or `length` bytes at the start of
// `scratch` to copy into one.
function emitOne(socket, length, port, address, own) {
  const state = socket[kState];
  // Kept in step with the native side's last sender, emitted or not.
  if (address === undefined) address = state.lastSender; // the same as last time
  else state.lastSender = address;
  if (!state.handle || !state.receiving) return;
  let msg = own;
  if (msg === undefined) {
    msg = Buffer.allocUnsafeSlow(length);
    copyOut(msg, 0, length);
  }
  const family = address.includes(':') ? 'IPv6' : 'IPv4';
  const filter = state.receiveFilter;
  if (filter !== undefined && filter.sync(state.handle) && filter.blocks(address, family)) return;
  emitMessage(socket, state.handle, msg, { address, family, port, size: msg.length });
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
    copyOut(msg, off, len);
    off += len;
    list[k] = msg;
    list[k + 1] = smallMeta[k + 1];
    list[k + 2] = addrs === undefined ? state.lastSender : addrs[smallMeta[k + 2]];
  }
  state.batch = { list, i: 0, check: undefined };
  emitBatch(socket, emitList);
}

// One 'message' per (msg, port, address) of state.batch.list; resumed
// like emitMessages after a listener's exception (a list is shorter than
// TURN_MAX).
function emitList(socket) {
  const state = socket[kState];
  const batch = state.batch;
  const list = batch.list;
  const filter = state.receiveFilter;
  const check = filter !== undefined && batchCheck(filter, state.handle, batch);
  while (batch.i < list.length) {
    if (!state.handle || !state.receiving) break; // closed by a listener
    if (state.errorCheck > 0 && pendingError(socket, state)) break;
    const at = batch.i;
    batch.i += 3; // first: a listener that throws skips this datagram only
    const msg = list[at];
    const address = list[at + 2];
    const family = address.includes(':') ? 'IPv6' : 'IPv4';
    if (filter !== undefined && (check || batchCheck(filter, state.handle, batch)) && filter.blocks(address, family)) continue;
    emitMessage(socket, state.handle, msg, { address, family, port: list[at + 1], size: msg.length });
    if (batch.i < list.length) {
      betweenTwo();
    }
  }
  if (state.batch === batch) state.batch = undefined;
}

// A connected send made while a batch was emitted may have brought an
// ICMP error (ECONNREFUSED): the kernel reports a pending error before the
// datagrams still queued, so node:dgram, reading one at a time, emits it
// before the next message; ours were read already. Emitted here, as
// Node's 'error' from recvmsg; true if that closed the socket. The send
// sets state.errorCheck to the number of messages to check before
// (ERROR_CHECKS in lib/send-path.js): on a loaded host the report can
// come a few messages late (the kernel's softirq deferred), when Node's
// next recvmsg would see it; the count bounds what a socket that sends
// now and then pays.
function pendingError(socket, state) {
  state.errorCheck--;
  const code = state.handle.takeError();
  if (code === undefined) return false;
  state.errorCheck = 0;
  socket.emit('error', errors.fromNative(code, 'recvmsg'));
  return !state.handle || !state.receiving;
}

module.exports = { emitList, emitMessages, emitOne, emitSmall, newBatch, onError, onMessage, scratch };
