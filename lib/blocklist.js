'use strict';

// `receiveBlockList` / `sendBlockList` (createSocket options of Node 22.13+),
// on every Node version: a `net.BlockList` of peers this socket must not
// send to / connect to (ERR_IP_BLOCKED) or hear from.
//
// Send and connect check the list in JS, as Node does, at the moment the
// destination is known. Receive filtering runs in Rust (src/blocklist.rs):
// the list's rules are handed to the native handle, which drops blocked
// datagrams before they cost JS anything. A BlockList can grow after the
// socket was created, so each received batch first checks that the native
// copy is current; when it is not (or the application replaced the list's
// `check`, which Node calls per datagram), the batch is checked here with the
// list's own `check`, exactly as Node does.

const { ERR_INVALID_ARG_TYPE, ERR_IP_BLOCKED } = require('./errors.js').codes;
const { isIPv6 } = require('./ip.js');

// Batches that may have been read under an older copy of the rules: the
// native side lets at most this many wait for JS (src/shared.rs), plus the
// one being delivered.
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

/** The receive side of one socket's `receiveBlockList`. */
class ReceiveFilter {
  constructor(list) {
    this.list = list;
    this.synced = -1; // rules count the native copy has (-1: none)
    this.native = false; // whether the native side filters
    this.checkNext = 0; // batches still to check here after a change
  }

  /** Hands the rules to a socket that starts receiving. */
  start(handle) {
    this.synced = -1;
    if (this.sync(handle)) this.checkNext = 0;
  }

  /**
   * Brings the native copy up to date; returns whether the batch about to
   * be delivered must be checked datagram by datagram in JS.
   */
  sync(handle) {
    const list = this.list;
    if (list.check !== BlockList().prototype.check) {
      // The application wraps check(): it must see every datagram.
      if (this.native) handle.setReceiveBlockList(null);
      this.native = false;
      this.synced = -1;
      return true;
    }
    const rules = list.rules;
    if (rules.length !== this.synced) {
      this.synced = rules.length;
      this.native = handle.setReceiveBlockList(rules);
      this.checkNext = BATCHES_IN_FLIGHT;
    }
    if (!this.native) return true;
    if (this.checkNext === 0) return false;
    this.checkNext--;
    return true;
  }

  /** Node's per-datagram check (`rinfo.family` lower-cased). */
  blocks(address, family) {
    return this.list.check(address, family === 'IPv6' ? 'ipv6' : 'ipv4');
  }
}

module.exports = { validateBlockList, sendBlocked, ReceiveFilter };
