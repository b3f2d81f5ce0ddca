'use strict';

// `receiveBlockList` / `sendBlockList` (createSocket options of Node 22.13+),
// on every Node version: a `net.BlockList` of peers this socket must not
// send to / connect to (ERR_IP_BLOCKED) or hear from.
//
// Send and connect check the list in JS, as Node does, at the moment the
// destination is known. Receive filtering runs in Rust (src/core/blocklist.rs):
// the list's rules are handed to the native handle, which drops blocked
// datagrams before they cost JS anything. A BlockList can change after the
// socket was created (even from a 'message' listener, mid-batch): a change
// made through the list's own methods reaches the native copy at once (a
// removed rule must not drop the next datagram), and every datagram already
// read first checks that the native copy is current; when it is not (or
// the application replaced the list's `check`, which Node calls per
// datagram), datagrams are checked here with the list's own `check`,
// exactly as Node does. Rules added bypassing the list's own methods (e.g.
// `BlockList.prototype.addAddress.call(list, ...)`) are not noticed. The
// wrapped methods are visible on the list (own properties); a list that
// cannot take them (frozen) is checked in JS only.

const { ERR_INVALID_ARG_TYPE, ERR_IP_BLOCKED } = require('./errors.js').codes;
const { isIPv6 } = require('./ip.js');

// Batches that may have been read under an older copy of the rules: the
// native side lets at most this many wait for JS (src/drivers/shared.rs),
// plus the one being delivered.
const BATCHES_IN_FLIGHT = 8 + 1;

let netBlockList;
function BlockList() {
  if (netBlockList === undefined) netBlockList = require('node:net').BlockList;
  return netBlockList;
}

function validateBlockList(value, name) {
  const B = BlockList();
  // BlockList.isBlockList arrived with Node 22.13 / 23.4.
  const ok = typeof B.isBlockList === 'function' ? B.isBlockList(value) : value instanceof B;
  if (!ok) throw new ERR_INVALID_ARG_TYPE(name, 'net.BlockList', value);
  return value;
}

/** ERR_IP_BLOCKED when `list` blocks sending to `ip`, else undefined. */
function sendBlocked(list, ip) {
  if (list === undefined || !ip) return undefined;
  return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4') ? new ERR_IP_BLOCKED(ip) : undefined;
}

// Rule changes per list, counted by wrapping the list's changing methods
// (on the instance, as own non-enumerable properties) when a socket first
// uses it, so that a change is noticed with one property read per datagram
// instead of reading `rules` (which builds every rule's string) per batch.
// The count, and the receiving sockets' filters that use the list (a
// change reaches their native copies at once, so that a rule removed now
// lets the next datagram through: the native side drops before JS could
// check it again), live here, not on the application's object. A list that
// cannot take the wrappers (frozen, sealed, non-extensible) is checked in
// JS for every datagram, as Node does.
const tracked = new WeakMap();
// (Node 24 and 26 added the ones after fromJSON; some call others, which
// only counts a change twice.)
const kMutators = [
  'addAddress', 'addRange', 'addSubnet', 'fromJSON',
  'addAddresses', 'addCIDR', 'addCIDRs', 'removeAddress', 'removeRange', 'removeSubnet', 'removeCIDR', 'clear',
];

/** The list's change record, wrapping its methods first; undefined if it cannot be wrapped. */
function track(list) {
  let record = tracked.get(list);
  if (record !== undefined || !Object.isExtensible(list)) return record;
  record = { version: 0, filters: new Set() };
  tracked.set(list, record);
  for (const name of kMutators) {
    const original = list[name];
    if (typeof original !== 'function') continue;
    const counted = {
      [name](...args) {
        try {
          return original.apply(this, args);
        } finally {
          const changed = tracked.get(this);
          if (changed !== undefined) {
            changed.version++;
            for (const filter of changed.filters) filter.push();
          }
        }
      },
    }[name];
    Object.defineProperty(list, name, { value: counted, writable: true, configurable: true });
  }
  return record;
}

/** The receive side of one socket's `receiveBlockList`. */
class ReceiveFilter {
  constructor(list) {
    this.list = list;
    this.record = track(list); // undefined: JS checks every datagram
    this.handle = undefined; // while receiving
    this.version = -1; // the list's version that sync() last saw
    this.pushed = -1; // the list's version push() gave the native copy
    this.native = false; // whether the native side filters
    this.checkNext = 0; // batches still to check here after a change
  }

  /** Hands the rules to a socket that starts receiving. */
  start(handle) {
    this.handle = handle;
    if (this.record !== undefined) this.record.filters.add(this);
    this.version = -1;
    this.pushed = -1;
    this.sync(handle);
    this.checkNext = 0;
  }

  /** The socket closed: it no longer hears of changes. */
  stop() {
    this.handle = undefined;
    if (this.record !== undefined) this.record.filters.delete(this);
  }

  /**
   * The list changed (one of its own methods): the native copy follows now.
   * The version is left for `sync`, so that the batch being emitted is
   * checked in JS from here on (`changed`).
   */
  push() {
    if (this.handle === undefined || !this.native || this.list.check !== BlockList().prototype.check) return;
    this.native = this.handle.setReceiveBlockList(this.list.rules);
    this.pushed = this.record.version;
    this.checkNext = BATCHES_IN_FLIGHT;
  }

  /**
   * Per batch: brings the native copy up to date; returns whether the batch
   * must be checked datagram by datagram in JS (it may have been read under
   * older rules, or the native side cannot filter this list).
   */
  sync(handle) {
    const list = this.list;
    if (this.record === undefined || list.check !== BlockList().prototype.check) {
      // Changes cannot be followed, or the application replaced check():
      // it must see every datagram.
      if (this.native) handle.setReceiveBlockList(null);
      this.native = false;
      this.version = -1;
      return true;
    }
    if (this.record.version !== this.version) {
      this.version = this.record.version;
      // (push() may have handed these rules over already.)
      if (this.pushed !== this.version || !this.native) this.native = handle.setReceiveBlockList(list.rules);
      this.checkNext = BATCHES_IN_FLIGHT;
    }
    if (!this.native) return true;
    if (this.checkNext === 0) return false;
    this.checkNext--;
    return true;
  }

  /** Per datagram, cheap: whether the rules changed since the last sync. */
  changed() {
    return this.record.version !== this.version || this.list.check !== BlockList().prototype.check;
  }

  /** Node's per-datagram check (`rinfo.family` lower-cased). */
  blocks(address, family) {
    return this.list.check(address, family === 'IPv6' ? 'ipv6' : 'ipv4');
  }
}

module.exports = { validateBlockList, sendBlocked, ReceiveFilter };
