'use strict';

// The socket option setters: setBroadcast, setTTL, setMulticastTTL,
// setMulticastLoopback and setMulticastInterface, on unbound, bound and
// closed sockets of both types. Every value (returned or thrown: class,
// code, message, errno, syscall) is compared with node:dgram.
//
// Node's setters call straight into the handle: unbound, the descriptor does
// not exist yet (EBADF); closed, the handle is null, so all of them but
// setMulticastInterface (which has a health check) throw a plain TypeError.

const test = require('ava');
const { parity, boundSocket, closeAll, LOOPBACK_IF } = require('./helpers.js');

// Kernel answers are pinned on Linux only (elsewhere compared with node).
const onLinux = process.platform === 'linux';
const { rec } = require('./options-helpers.js');

const TTL_VALUES = [1, 64, 255, 0, 256, -1, NaN, Infinity, 1.5, 2 ** 32 + 5];
const TTL_BAD_TYPES = [undefined, null, '5', true, {}, 5n];

function setterCalls(s) {
  const calls = {
    'setBroadcast(true)': () => s.setBroadcast(true),
    'setBroadcast(false)': () => s.setBroadcast(false),
    'setBroadcast()': () => s.setBroadcast(),
    'setBroadcast("yes")': () => s.setBroadcast('yes'),
    'setMulticastLoopback(true)': () => s.setMulticastLoopback(true),
    'setMulticastLoopback(false)': () => s.setMulticastLoopback(false),
    'setMulticastLoopback(0)': () => s.setMulticastLoopback(0),
    'setMulticastLoopback("yes")': () => s.setMulticastLoopback('yes'),
    'setMulticastLoopback()': () => s.setMulticastLoopback(),
  };
  for (const v of TTL_VALUES) {
    calls[`setTTL(${String(v)})`] = () => s.setTTL(v);
    calls[`setMulticastTTL(${String(v)})`] = () => s.setMulticastTTL(v);
  }
  for (const v of TTL_BAD_TYPES) {
    const label = typeof v === 'bigint' ? `${v}n` : typeof v === 'object' && v ? '{}' : JSON.stringify(v) ?? String(v);
    calls[`setTTL(${label})`] = () => s.setTTL(v);
    calls[`setMulticastTTL(${label})`] = () => s.setMulticastTTL(v);
  }
  return calls;
}

function runAll(tr, calls, self) {
  for (const [label, fn] of Object.entries(calls)) rec(tr, label, fn, self);
}

for (const type of ['udp4', 'udp6']) {
  test(`${type}: setters on an unbound socket throw EBADF system errors (type errors first)`, async (t) => {
    const { node } = await parity(t, async (dgram, tr) => {
      const s = dgram.createSocket(type);
      runAll(tr, setterCalls(s), s);
      rec(tr, 'setMulticastInterface(any)', () => s.setMulticastInterface(type === 'udp4' ? '0.0.0.0' : '::'), s);
      rec(tr, 'setMulticastInterface(5)', () => s.setMulticastInterface(5), s);
      await closeAll(s);
    });
    // Sanity: the scenario did hit the EBADF path on node.
    t.is(node.find((e) => e['setTTL(64)'])['setTTL(64)'].threw.message, 'setTTL EBADF');
  });

  test(`${type}: setters on a bound socket: ranges, return values, EINVAL for out-of-range`, async (t) => {
    const { node } = await parity(t, async (dgram, tr) => {
      const s = await boundSocket(dgram, type);
      runAll(tr, setterCalls(s), s);
      await closeAll(s);
    });
    const get = (label) => node.find((e) => label in e)[label];
    t.deepEqual(get('setTTL(255)'), { returned: 255 });
    t.is(get('setTTL(0)').threw.message, 'setTTL EINVAL');
    t.is(get('setTTL("5")').threw.code, 'ERR_INVALID_ARG_TYPE');
    t.deepEqual(get('setMulticastTTL(0)'), { returned: 0 });
    t.deepEqual(get('setMulticastLoopback("yes")'), { returned: 'yes' });
  });

  test(`${type}: setters after close(): TypeError on the null handle, NOT_RUNNING for setMulticastInterface`, async (t) => {
    await parity(t, async (dgram, tr) => {
      const s = await boundSocket(dgram, type);
      s.close();
      runAll(tr, setterCalls(s), s);
      rec(tr, 'setMulticastInterface(lo)', () => s.setMulticastInterface(type === 'udp4' ? '127.0.0.1' : '::%lo'), s);
      rec(tr, 'setMulticastInterface(5)', () => s.setMulticastInterface(5), s);
    });
  });
}

test('udp4 setMulticastInterface: loopback, any-address, malformed and foreign addresses', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp4');
    const values = [
      '127.0.0.1',
      '0.0.0.0', // back to the system default
      '127.0.0.1',
      'bogus',
      '',
      '127.0.0.1 ',
      '10.123.45.6', // no such local address
      '255.255.255.255',
      '224.0.0.1',
      '1.2.3',
    ];
    for (const v of values) rec(tr, JSON.stringify(v), () => s.setMulticastInterface(v), s);
    for (const v of [undefined, null, 127, {}]) rec(tr, `non-string ${String(v)}`, () => s.setMulticastInterface(v), s);
    await closeAll(s);
  });
  t.deepEqual(node[0], { '"127.0.0.1"': { returned: 'undefined' } });
  t.is(node.find((e) => e['"bogus"'])['"bogus"'].threw.code, 'EINVAL');
  // The kernel's answer (Winsock's and macOS's: compared with node above).
  if (onLinux) t.is(node.find((e) => e['"10.123.45.6"'])['"10.123.45.6"'].threw.code, 'EADDRNOTAVAIL');
});

// libuv parses an IPv6 address for a udp4 socket too, and then sets the IPv6
// option on the IPv4 socket: ENOPROTOOPT on Linux.
test('udp4 setMulticastInterface with an IPv6 address: ENOPROTOOPT like node', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp4');
    for (const v of ['::1', '::', '::%lo']) rec(tr, v, () => s.setMulticastInterface(v), s);
    await closeAll(s);
  });
});

test('udp6 setMulticastInterface: scope forms (::%lo, ::%1), any-address resets, malformed', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp6', '::');
    // The loopback interface by the platform's name (macOS: lo0); labels keep 'lo'.
    const lo = (v) => v.replace(/%lo$/, `%${LOOPBACK_IF}`);
    const values = ['::%lo', '::', '::%1', '::%bogus0', '::1', 'fe80::1%lo', 'zz', '', '%lo', '::%lo'];
    for (const v of values) rec(tr, JSON.stringify(v), () => s.setMulticastInterface(lo(v)), s);
    await closeAll(s);
  });
  t.deepEqual(node[0], { '"::%lo"': { returned: 'undefined' } });
});

// A dual-stack udp6 socket accepts an IPv4 interface address on Linux
// (IP_MULTICAST_IF works on AF_INET6 sockets); node passes it through.
test('udp6 setMulticastInterface with an IPv4 address, like node', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp6', '::');
    for (const v of ['127.0.0.1', '0.0.0.0']) rec(tr, v, () => s.setMulticastInterface(v), s);
    await closeAll(s);
  });
});

test('setMulticastInterface() before bind: a string that is no address fails with EINVAL first, an address with EBADF (fuzzer R2)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const type of ['udp4', 'udp6']) {
      const s = dgram.createSocket(type);
      for (const arg of ['::1::', 'bogus', '', '1.2.3.4%lo', '127.0.0.1', '::', '::%lo', 'fe80::1%1']) {
        rec(tr, `${type} ${JSON.stringify(arg)}`, () => s.setMulticastInterface(arg));
      }
      await closeAll(s);
    }
  });
  const code = (label) => Object.values(node.find((e) => label in e))[0].threw.code;
  t.is(code('udp4 "::1::"'), 'EINVAL');
  t.is(code('udp6 "127.0.0.1"'), 'EBADF');
});
