'use strict';

// The send path of a bound socket, from send() to the native handle and
// back to the callback: the outbox where sends to IP literals wait for
// their lookup step and then go out together (one native call, UDP GSO),
// sends that need a lookup, sendMany's list, and the outcomes of the sends
// the native side queued (their async resource, and what close() gives
// them). index.js keeps the argument forms, their validation and the
// bind/connect state machines, and calls in here once a socket is bound.
// It also holds ready sends back while a batch of messages is emitted
// (emitBatch), as the flush after the batch is part of the send path.

const { AsyncResource } = require('node:async_hooks');
const { performance } = require('node:perf_hooks');
const { hostProcess } = require('./native.js');
const errors = require('./errors.js');
const { isIPv4, isIPv6 } = require('./ip.js');
const { sendBlocked } = require('./blocklist.js');
const { kState, socketTick, CONNECT_STATE_CONNECTED } = require('./state.js');
// Ticks go to the process object of the context the addon was loaded in,
// as index.js's do (see there).
const process = hostProcess();
// Whether the kernel reports a socket's pending error before the datagrams
// already queued on it (see transmit).
const ERROR_BEFORE_QUEUED = process.platform === 'linux' || process.platform === 'android';
// After such a send, the messages of this and later batches checked for
// its error before they are emitted (lib/receive.js pendingError): two of
// libuv's turns' worth (32 each).
const ERROR_CHECKS = 64;

// sendMany() once the socket is bound, on items index.js has validated.
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
  // Settled at once when the last queued datagram's outcome arrives (it
  // comes in its own event, or on close in its own tick, as a send()'s
  // callback does): a later tick would put it after the callbacks of
  // sends made after this call.
  const settle = (now) => {
    if (--pending !== 0 || !callback) return;
    if (now) callback(firstError, sent);
    else process.nextTick(callback, firstError, sent);
  };
  let written = 0;
  let codes;
  const tables = sendTablesFor(data.length);
  const results = tables.results;
  if (data.length) {
    const wire = new Array(data.length);
    packedEnd = 0;
    for (let k = 0; k < data.length; k++) {
      tables.ports[k] = ports[k];
      tables.targets[k] = targets[k];
      wire[k] = packedOr(data[k]);
    }
    try {
      codes = state.handle.sendMany(wire, tables.ports, tables.targets, addresses, results, packed);
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
      const entry = queuedEntry(items[origin[k]].address, ports[k], data[k].length);
      entry.callback = (err) => {
        if (err) fail(err);
        else sent++;
        settle(true);
      };
      state.pendingSends.push(entry);
    } else {
      fail(errors.fromNative(codes[e++], 'send', items[origin[k]].address, ports[k]));
    }
  }
  settle(false);
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

// Sends to IP literals (sendTo) wait in the outbox for their lookup step,
// which Node runs even for literals, answering on the next tick: one
// nextTick per send (outboxTick), in the send's async context. A send is
// written once it has passed that step, and those that have are written
// together (one native call per run of one socket's sends, UDP GSO, see
// src/core/send.rs and src/drivers/send.rs) when the last one queued has passed it, or earlier when
// something must see them gone (a callback, close(), an option change, a
// direct send). close() drops a socket's sends that have not passed it, as
// Node does.
// One outbox for all sockets, in send() order: Node writes each send at
// its own tick, so datagrams from several sockets leave in the order of
// their send() calls, and a receiver of them all sees that order.
const ITEM_WAITING = 0;
const ITEM_READY = 1;
const ITEM_WRITTEN = 2;
const ITEM_DROPPED = 3;

// Ticks run in the order they were queued, so the sends past their lookup
// step are always the first `outboxReady` of the outbox; the rest wait.
let outbox = [];
let outboxReady = 0;

function outboxTick(item) {
  if (item.stage === ITEM_DROPPED) return;
  // Its block list's check threw when sendMany wrote it early (flushAll):
  // thrown now, at the send's own tick, where Node throws it.
  if (item.error instanceof CheckThrew) throw item.error.error;
  let thrown;
  if (item.stage === ITEM_WAITING) {
    item.stage = ITEM_READY;
    thrown = checkBlocked(item);
    // A batch holds replies, but not one with a callback: its callback's
    // tick would write it before the next message anyway, and nothing
    // queued later could join it (holding it cost a process hook each).
    if (++outboxReady === outbox.length && (!(emittingBatch && holding) || item.callback !== undefined)) flushReady();
    else if (!exitHooked) hookExit();
    if (thrown !== undefined) throw thrown.error;
  }
  // Node calls back on the tick after its lookup step.
  if (item.callback !== undefined) socketTick(item.socket[kState], deliverSendResult, item);
}

// Node checks sendBlockList after the lookup step (a rule added or
// removed after send() in the same tick counts): at the send's tick, or
// when sendMany writes it before that. A `check` that throws (a list whose
// method the application replaced) drops the send without a callback, as
// the exception leaves Node's lookup step; it is kept on the item and
// returned, for the send's tick to throw once the outbox is in order.
class CheckThrew {
  constructor(error) {
    this.error = error;
  }
}

function checkBlocked(item) {
  const list = item.socket[kState].sendBlockList;
  if (list === undefined || item.error !== undefined) return undefined;
  try {
    item.error = sendBlocked(list, item.ip);
  } catch (error) {
    item.error = new CheckThrew(error); // not written ...
    item.callback = undefined; // ... and never reported
    return item.error;
  }
  return undefined;
}

// While a batch of messages is emitted, the ticks that run between its
// messages (runTicks, lib/receive.js) leave ready sends in the outbox, so
// that the replies to a batch still go out together: with the last
// message's sends, or on a tick queued after the batch when those were
// for other sockets. Node writes each at its own tick, before the next
// message's listener, so the hold must not show: it is for listeners that
// return quickly (an echo server's replies without callbacks leave in one
// sendmmsg/GSO write: ~1.8x the round trips of writing each in bench
// echo-load-8x4-nocb with dgram-rs at both ends; against a node:dgram
// server, the bottleneck there, 1.03-1.10x either way), and ends early
// when they do not (`holding`,
// betweenMessages), when one throws, and when the process exits meanwhile
// (hookExit).
// This module owns that hold, as the flush after the batch is its own:
// the receive side (lib/receive.js, and onNativeEvent in index.js) emits
// every batch through emitBatch, and outboxTick asks emittingBatch.
let emittingBatch = false;
let holding = true;
let batchStart = 0;
let batchMessages = 0;
// Replies are held while a batch has run less than HOLD_MS (the clock is
// read every 4th message, ~40 ns a read), and in a batch only if the
// socket's previous one took less than SLOW_MS a message
// (state.slowListeners): a listener doing synchronous work would delay the
// replies of the messages before it.
// A faked performance.now() can only move a flush earlier or later within
// the batch, never hold a send past it.
const HOLD_MS = 1;
const SLOW_MS = 0.05;
const now = performance.now.bind(performance);

// Emits a batch through `emit(socket)` with ready sends held back;
// returns what `emit` returns.
function emitBatch(socket, emit) {
  if (emittingBatch) return emit(socket);
  emittingBatch = true;
  const state = socket[kState];
  holding = !state.slowListeners;
  batchStart = now();
  batchMessages = 1;
  let returned = false;
  try {
    const result = emit(socket);
    returned = true;
    return result;
  } finally {
    // A listener threw (reported as uncaught next, from where it was
    // thrown: no catch here): what Node had written goes out first.
    if (!returned) flushReady();
    emittingBatch = false;
    const slow = now() - batchStart >= SLOW_MS * batchMessages;
    if (slow !== state.slowListeners) {
      state.slowListeners = slow;
      // Nor does the native side read ahead for slow listeners.
      if (state.handle) state.handle.setSlowConsumer(slow);
    }
    if (outboxReady !== 0 && outboxReady === outbox.length) process.nextTick(flushReady);
  }
}

// Called by the receive side between the messages of a batch, after their
// ticks ran: once the batch has run HOLD_MS, the held replies leave and
// the rest of the batch holds none.
function betweenMessages() {
  if ((++batchMessages & 3) !== 0 || !holding) return;
  if (now() - batchStart < HOLD_MS) return;
  holding = false;
  flushReady();
}

// process.exit() or an exception (handled or not) in a listener or in a
// tick between sends: the sends that passed their lookup step had been
// written on Node. (After a handled exception the ticks left in the queue
// wait for the next callback; on Node the datagrams written meanwhile
// could be what brings it.) Listeners for 'exit' and
// 'uncaughtExceptionMonitor' write them, there only while a ready send is
// held: an application that counts its process's listeners sees none
// otherwise, as with node:dgram, and they never take it past its
// maxListeners (no MaxListenersExceededWarning of ours).
let exitHooked = false;
let raisedMax; // [what it was, what we made it] while raised
function hookExit() {
  exitHooked = true;
  const max = process.getMaxListeners();
  if (max !== 0) {
    const need = Math.max(process.listenerCount('exit'), process.listenerCount('uncaughtExceptionMonitor')) + 1;
    if (need > max) {
      process.setMaxListeners(need);
      raisedMax = [max, need];
    }
  }
  process.on('exit', flushReady);
  process.on('uncaughtExceptionMonitor', flushReady);
}

function unhookExit() {
  exitHooked = false;
  process.removeListener('exit', flushReady);
  process.removeListener('uncaughtExceptionMonitor', flushReady);
  if (raisedMax !== undefined) {
    if (process.getMaxListeners() === raisedMax[1]) process.setMaxListeners(raisedMax[0]);
    raisedMax = undefined;
  }
}

function deliverSendResult(item) {
  if (item.stage === ITEM_READY) flushReady();
  const callback = item.callback;
  const result = item.result;
  if (typeof result === 'number') {
    callback(null, result);
  } else if (result === undefined) {
    // Queued by the native side: completes later, in an async resource
    // made here, in the send's context, as Node's queued SendWrap.
    if (item.queued !== undefined) item.queued.resource = new SendWrap(item.socket[kState].asyncId);
  } else {
    callback(result);
  }
}

// Writes the sends that passed their lookup step, of every socket, in
// order: each run of one socket's sends in one go.
function flushReady() {
  const n = outboxReady;
  if (n === 0) return;
  if (exitHooked) unhookExit();
  let items;
  if (n === outbox.length) {
    items = outbox;
    outbox = [];
  } else {
    items = outbox.splice(0, n);
  }
  outboxReady = 0;
  let from = 0;
  for (let i = 1; i <= n; i++) {
    if (i === n || items[i].socket !== items[from].socket) {
      writeItems(items[from].socket, from === 0 && i === n ? items : items.slice(from, i));
      from = i;
    }
  }
}

// Before an option change: the sends that passed their lookup step would
// have gone out with the options as they were.
function settleOutbox(socket) {
  const state = socket[kState];
  if (state !== undefined && state.handle) flushReady();
}

// Writes the sends that passed their lookup step, then every send of
// `socket` still waiting for it (sendMany, which Node does not have, keeps
// its order with the socket's earlier sends).
function flushAll(socket) {
  flushReady();
  const mine = takeWaiting(socket);
  if (mine.length === 0) return;
  // (A check that throws is thrown at its send's tick, see outboxTick.)
  for (const item of mine) checkBlocked(item);
  writeItems(socket, mine);
}

// close(): the socket's sends still waiting for their lookup step are
// dropped, without a callback, as Node drops them.
function dropOutbox(socket) {
  for (const item of takeWaiting(socket)) item.stage = ITEM_DROPPED;
}

// Removes `socket`'s sends from the outbox (all waiting: call flushReady
// first).
function takeWaiting(socket) {
  if (outbox.length === 0) return [];
  const mine = [];
  const rest = [];
  for (const item of outbox) (item.socket === socket ? mine : rest).push(item);
  if (mine.length !== 0) outbox = rest;
  return mine;
}

// Writes `items` in order: runs of plain ones in one native call each,
// sendFrom()s one by one; failed ones (blocked, too many pieces) only
// keep their place. Results are kept on the items for their callbacks.
function writeItems(socket, items) {
  const state = socket[kState];
  const n = items.length;
  for (let k = 0; k < n; k++) if (items[k].data !== null) items[k].data = toBuffer(items[k].data);
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

// The native send of one datagram: from `local` (sendFrom), to `ip`:`port`,
// or, with no port (port 0: a string such as '0x0' passes validatePort) or
// no address, to no destination at all, as Node sends it (EDESTADDRREQ
// unless connected). Returns bytes + 1 when the kernel took it now, 0 when
// it was queued (a SEND_DONE event follows); throws a failure. (A negative
// libuv errno is Node's handle convention for a failure: ours throws, but a
// `handle.send` replaced by the application, as Node's own tests do,
// returns one.)
function sendOne(state, data, port, ip, local) {
  if (local !== undefined) return state.handle.sendFrom(data, port || 0, ip, local);
  if (ip === undefined || !port) return state.handle.send(data, 0);
  return state.handle.send(offHeap(data), port, ip);
}

function writeOne(state, item) {
  item.stage = ITEM_WRITTEN;
  let r;
  try {
    r = sendOne(state, item.data, item.port, item.ip, item.local);
  } catch (err) {
    item.result = errors.fromNative(err, 'send', item.address, item.port);
    return;
  }
  if (r > 0) settleItem(state, item, r - 1);
  else if (r === 0) settleItem(state, item, -1);
  else item.result = errors.exceptionWithHostPort(r, 'send', item.address, item.port);
}

function writeMany(state, items, from, to) {
  const n = to - from;
  const data = new Array(n);
  const { ports, targets, results } = sendTablesFor(n);
  const addresses = [];
  packedEnd = 0;
  for (let k = 0; k < n; k++) {
    const item = items[from + k];
    item.stage = ITEM_WRITTEN;
    data[k] = packedOr(item.data);
    ports[k] = item.port;
    targets[k] = addressIndex(addresses, item.ip);
  }
  let codes;
  try {
    codes = state.handle.sendMany(data, ports, targets, addresses, results, packed);
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

// V8 keeps typed arrays of up to 64 bytes on its heap (`Buffer.alloc(64)`,
// the small messages lib/receive.js hands out), and a native call that
// reads one first moves its bytes to a new ArrayBuffer of their own
// (~0.5 µs with the sweep that frees it later, where copying them is
// ~10 ns): an echo server pays it for every reply. Small datagrams are
// copied into `packed` (off the heap, as it is larger) for the native
// send: the sendMany callers pass their sizes, writeOne and transmit a
// view of its start (one per size, made once). Each native call's
// datagrams are copied right before it: nothing keeps a pointer into it
// after the call (a send the kernel cannot take now is copied by the
// native side).
const SMALL_BYTES = 64;
const packed = Buffer.allocUnsafeSlow(SMALL_BYTES * 256);
const packedViews = Array.from({ length: SMALL_BYTES + 1 }, (_, size) => packed.subarray(0, size));

// Where the next small datagram of the native call being prepared goes
// in `packed` (set to 0 before each call's datagrams are packed).
let packedEnd = 0;

// What the native sendMany takes for `data`: its size, its bytes copied
// to `packed` at packedEnd, when it is small and fits; else `data` itself.
function packedOr(data) {
  const size = data.length;
  if (size > SMALL_BYTES || packedEnd + size > packed.length) return data;
  // (A detached buffer's view, empty, cannot be read even for nothing.)
  if (size !== 0) packed.set(data, packedEnd);
  packedEnd += size;
  return size;
}

// What the native send takes for `data`: a view of its copy when small.
function offHeap(data) {
  packedEnd = 0;
  const wire = packedOr(data);
  return typeof wire === 'number' ? packedViews[wire] : wire;
}

// A Uint8Array view of any ArrayBufferView, without copying, made when the
// datagram is written: Node reads a view's length there, so a view over a
// resizable ArrayBuffer resized since send() goes out at its new length
// (a Uint8Array keeps tracking it by itself).
function toBuffer(view) {
  if (view instanceof Uint8Array) return view;
  // Detached or out of bounds (where a DataView's byteLength throws): sent
  // empty, as Node sends it.
  let length = 0;
  try {
    length = view.byteLength;
  } catch {}
  return length === 0 ? Buffer.alloc(0) : Buffer.from(view.buffer, view.byteOffset, length);
}

// A send the native side queued, in state.pendingSends until its send-done
// event (or close()) settles it: `callback` (if any) and its async
// `resource` are set by the caller (all three kinds of queued send share
// this shape).
function queuedEntry(address, port, size) {
  return { callback: undefined, address, port, size, resource: undefined };
}

// A native send's outcome: bytes sent, or -1 when the native side queued
// it (its completion comes as an event, see pendingSends).
function settleItem(state, item, r) {
  if (r >= 0) {
    item.result = r;
    return;
  }
  const entry = queuedEntry(item.address, item.port, item.data.length);
  if (item.callback !== undefined) {
    entry.callback = runQueuedCallback.bind(null, entry, item.callback);
    item.queued = entry;
  }
  state.pendingSends.push(entry);
}

// The async resource of a queued send, as Node's (a `SendWrap` of type
// UDPSENDWRAP, as executionAsyncResource() shows it to its callback).
// Triggered by the socket, as Node makes its SendWrap inside the socket's
// defaultTriggerAsyncIdScope (where the socket's async id is known).
class SendWrap extends AsyncResource {
  constructor(socketAsyncId) {
    super('UDPSENDWRAP', socketAsyncId === undefined ? undefined : { triggerAsyncId: socketAsyncId });
  }
}

// A queued send's callback, in the async resource made at the send.
function runQueuedCallback(entry, callback, err, sent) {
  const resource = entry.resource;
  if (resource === undefined) return callback(err, sent);
  try {
    // `this` is the send's request, as Node's queued callbacks get.
    return resource.runInAsyncScope(callback, resource, err, sent);
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
    // Failed without a callback: dropped silently, as Node does.
    if (data === null && !callback) return;
    outbox.push(item);
    process.nextTick(outboxTick, item);
    return;
  }
  state.handle.lookup(address, (ex, ip) => {
    if (ex) {
      if (callback) socketTick(state, callback, ex);
      else socketTick(state, () => socket.emit('error', ex));
      return;
    }
    // Closed while the lookup ran: dropped silently, no callback, as Node.
    if (!state.handle) return;
    let failed = state.sendBlockList === undefined ? undefined : sendBlocked(state.sendBlockList, ip);
    if (failed === undefined && data === null) failed = tooManyPieces(state, ip, address, port);
    if (failed === undefined) transmit(socket, data, ip, address, port, callback, local);
    else if (callback) socketTick(state, callback, failed);
  });
}

// A message of more than IOV_MAX pieces fails where the native send would
// have: the checks made before it (the address, read in the socket's
// family, then libuv's of the connection state), then EMSGSIZE.
function tooManyPieces(state, ip, address, port) {
  const connected = state.connectState === CONNECT_STATE_CONNECTED;
  let code;
  if (!port) code = connected ? 'EMSGSIZE' : 'EDESTADDRREQ';
  else if (!(state.family === 'IPv4' ? isIPv4(String(ip)) : isIPv6(String(ip)))) code = 'EINVAL';
  else code = connected ? 'EISCONN' : 'EMSGSIZE';
  return errors.exceptionWithHostPort(code, 'send', address, port);
}

// Hands one datagram to the native handle; the callback runs on a later
// tick with (null, bytes) or a 'send' error, never as an 'error' event.
function transmit(socket, data, ip, address, port, callback, local) {
  const state = socket[kState];
  flushReady(); // sends that came first
  data = toBuffer(data);
  let sent;
  try {
    sent = sendOne(state, data, port, ip === undefined ? undefined : String(ip), local);
  } catch (err) {
    if (callback) socketTick(state, callback, errors.fromNative(err, 'send', address, port));
    return;
  }
  // A connected send while messages read before it are being emitted:
  // the receive side asks for its ICMP error before the next of them.
  // Linux reports a pending error ahead of the datagrams still queued (so
  // node:dgram emits it next); BSD/macOS only once they are read, and
  // libuv ignores it on Windows: there the read path reports it, as libuv.
  if (emittingBatch && ip === undefined && ERROR_BEFORE_QUEUED) state.errorCheck = ERROR_CHECKS;
  if (sent > 0) {
    if (callback) socketTick(state, callback, null, sent - 1);
  } else if (sent === 0) {
    // Queued natively: called back later, in an async resource made now.
    const entry = queuedEntry(address, port, data.length);
    if (callback) {
      entry.resource = new SendWrap(state.asyncId);
      entry.callback = runQueuedCallback.bind(null, entry, callback);
    }
    state.pendingSends.push(entry);
  } else if (callback) {
    socketTick(state, callback, errors.exceptionWithHostPort(sent, 'send', address, port));
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

module.exports = {
  dropOutbox,
  emitBatch,
  betweenMessages,
  flushReady,
  sendManyBound,
  sendTo,
  settleOutbox,
  settlePendingSends,
  toBuffer,
  transmit,
};
