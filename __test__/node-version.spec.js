'use strict';

// lib/node-version.js says, from the version number, which of node:dgram's
// post-Node-20 changes the running Node has. Here node:dgram itself is
// asked, one probe per change: the flags must match what it does. Run on
// every Node line by scripts/newer-node.sh, so a release that brings a
// change to another line (a backport) fails here instead of going unnoticed.

const test = require('ava');
const dgram = require('node:dgram');
const dns = require('node:dns');
const flags = require('../lib/node-version.js');
const { once } = require('./helpers.js');

function codeOf(fn) {
  try {
    fn();
    return 'returned';
  } catch (err) {
    return err.code || err.name;
  }
}

/** Runs `fn` with a fresh unbound node:dgram socket, closed afterwards. */
function withSocket(fn) {
  const s = dgram.createSocket('udp4');
  s.on('error', () => {});
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

async function probe() {
  const seen = {};
  seen.groupConversionIsEinval = withSocket((s) => codeOf(() => s.addMembership(Symbol('group')))) === 'EINVAL';
  seen.zeroPortStringsRejected = withSocket((s) => codeOf(() => s.connect('0'))) === 'ERR_SOCKET_BAD_PORT';
  seen.namelessConstructorInspected = withSocket((s) => {
    try {
      s.send(new (class {})(), 9, '127.0.0.1');
    } catch (err) {
      return err.message.endsWith('Received {}');
    }
    return undefined;
  });
  seen.deprecatedMembersRemoved = !('_handle' in dgram.Socket.prototype) && !('_createSocketHandle' in dgram);
  const stateKeys = withSocket((s) => {
    const state = Object.getOwnPropertySymbols(s).map((k) => s[k]).find((v) => v !== null && typeof v === 'object' && 'bindState' in v);
    return Object.keys(state);
  });
  seen.stateHasReusePort = stateKeys.includes('reusePort');
  seen.stateHasBlockLists = stateKeys.includes('receiveBlockList') && stateKeys.includes('sendBlockList');

  // bind(cb): an 'error' listener (the callback's cleanup) or none.
  const b = dgram.createSocket('udp4');
  b.bind(0, '127.0.0.1', () => {});
  seen.bindCallbackOnErrorMonitor = b.listenerCount('error') === 0;
  await once(b, 'listening');
  b.close();

  // A literal of the socket's family: through dns.lookup or not.
  const original = dns.lookup;
  const calls = [];
  dns.lookup = function (...args) {
    calls.push(args[0]);
    return original.apply(this, args);
  };
  try {
    const l = dgram.createSocket('udp4');
    l.bind(0, '127.0.0.1');
    await once(l, 'listening');
    l.close();
  } finally {
    dns.lookup = original;
  }
  seen.defaultLookupSkipsLiterals = calls.length === 0;
  return seen;
}

test.serial(`lib/node-version.js agrees with what node:dgram ${process.version} does`, async (t) => {
  const { hasChange, ...expected } = flags;
  t.deepEqual(await probe(), expected);
});

test('hasChange: the first release of each line named, later majors, lines in between', (t) => {
  const { hasChange } = flags;
  const v = (s) => s.split('.').map(Number);
  const firsts = ['24.19.0', '26.5.0'];
  for (const [version, has] of [
    ['20.20.2', false], ['22.23.5', false], ['24.18.1', false], ['24.19.0', true], ['24.22.3', true],
    ['25.9.0', false], ['26.4.0', false], ['26.5.0', true], ['26.12.1', true], ['27.0.0', true],
  ]) t.is(hasChange(v(version), firsts), has, version);
  t.true(hasChange(v('25.0.0'), ['25.0.0']));
  t.true(hasChange(v('26.0.0'), ['25.0.0']));
  t.false(hasChange(v('24.22.3'), ['25.0.0']));
});
