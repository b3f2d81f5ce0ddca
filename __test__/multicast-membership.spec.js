'use strict';

// addMembership / dropMembership / addSourceSpecificMembership /
// dropSourceSpecificMembership: argument validation, kernel errors, joins
// and leaves on the loopback interface, the implicit bind libuv performs on
// an unbound socket, and the closed-socket errors. Everything compared with
// node:dgram. On the host, groups are only ever joined on the loopback
// interface (127.0.0.1, or ::%lo for IPv6). Joins that name no interface
// (the kernel then picks one by route, which could be a real network) run
// inside a private network namespace whose only interface is lo.

const test = require('ava');

// Scenarios whose node:dgram behaviour is libuv's Unix one (see each).
const unixOnly = process.platform === 'win32' ? test.skip : test;
const { parity, boundSocket, closeAll, once, errShape, delay, internals, LOOPBACK_IF } = require('./helpers.js');
// Kernel answers (error codes) are pinned on Linux only; elsewhere they are
// compared with node:dgram's.
const onLinux = process.platform === 'linux';
// IPv6 joins on the host name the loopback interface by its name (macOS: lo0).
const LO6 = `::%${LOOPBACK_IF}`;
const { rec, GROUP, SSM_GROUP, LO, netnsParity, netnsTest } = require('./options-helpers.js');
const { groupConversionIsEinval } = require('../lib/node-version.js');


test('udp4 add/dropMembership on a bound socket on 127.0.0.1: repeats, bad groups and interfaces', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp4', '0.0.0.0');
    const calls = [
      ['add(GROUP, LO)', () => s.addMembership(GROUP, LO)],
      ['add(GROUP, LO) again', () => s.addMembership(GROUP, LO)],
      ['drop(GROUP, LO)', () => s.dropMembership(GROUP, LO)],
      ['drop(GROUP, LO) again', () => s.dropMembership(GROUP, LO)],
      ['add(unicast)', () => s.addMembership('127.0.0.1', LO)],
      ['add(bogus)', () => s.addMembership('bogus', LO)],
      ['add(GROUP, bogus iface)', () => s.addMembership(GROUP, 'bogus')],
      ['add(GROUP, "" iface)', () => s.addMembership(GROUP, '')],
      ['add(GROUP, foreign iface)', () => s.addMembership(GROUP, '10.123.45.6')],
      ['add(GROUP, number iface)', () => s.addMembership(GROUP, 5)],
      ['add(IPv6 group, ::%lo) on udp4', () => s.addMembership('ff02::1:3', '::%lo')],
      ['add(number)', () => s.addMembership(239)],
      ['add()', () => s.addMembership()],
      ['add("")', () => s.addMembership('')],
      ['drop(0)', () => s.dropMembership(0)],
      ['drop(null)', () => s.dropMembership(null)],
    ];
    for (const [label, fn] of calls) rec(tr, label, fn, s);
    await closeAll(s);
  });
  const get = (label) => node.find((e) => label in e)[label];
  t.deepEqual(get('add(GROUP, LO)'), { returned: 'undefined' });
  // The kernel's answers (Winsock's and macOS's: compared with node above).
  if (onLinux) t.is(get('add(GROUP, LO) again').threw.code, 'EADDRINUSE');
  if (onLinux) t.is(get('drop(GROUP, LO) again').threw.code, 'EADDRNOTAVAIL');
  t.is(get('add()').threw.code, 'ERR_MISSING_ARGS');
});

test('udp6 add/dropMembership on a bound socket on lo: scope forms, IPv4 groups, bad interfaces', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp6', '::');
    const calls = [
      ['add(ff02::1:4, ::%lo)', () => s.addMembership('ff02::1:4', LO6)],
      ['add(ff02::1:4, ::%lo) again', () => s.addMembership('ff02::1:4', LO6)],
      ['drop(ff02::1:4, ::%lo)', () => s.dropMembership('ff02::1:4', LO6)],
      ['drop(ff02::1:4, ::%lo) again', () => s.dropMembership('ff02::1:4', LO6)],
      ['add(ff02::1:8%lo, ::%lo)', () => s.addMembership(`ff02::1:8%${LOOPBACK_IF}`, LO6)],
      ['add(ff02::1:9, lo)', () => s.addMembership('ff02::1:9', 'lo')],
      ['add(ff02::1:9, bogus)', () => s.addMembership('ff02::1:9', 'bogus')],
      ['add(::1, ::%lo)', () => s.addMembership('::1', LO6)],
      ['add(GROUP, LO) IPv4 group on udp6', () => s.addMembership(GROUP, LO)],
      ['drop(GROUP, LO) IPv4 group on udp6', () => s.dropMembership(GROUP, LO)],
      ['add(bogus)', () => s.addMembership('bogus', LO6)],
    ];
    for (const [label, fn] of calls) rec(tr, label, fn, s);
    await closeAll(s);
  });
});

// Joins without an interface, or with one that resolves to "any" ('::1',
// '::%1' and '::%bogus0' carry scope id 0 for libuv on Linux): in a private
// network namespace whose multicast routes go to lo.
netnsTest(test)('add/dropMembership with no interface (network namespace): udp4 and udp6', async (t) => {
  await netnsParity(t, async (dgram, tr, h) => {
    const s4 = await h.boundSocket(dgram, 'udp4', '0.0.0.0');
    const calls4 = [
      ['add(GROUP)', () => s4.addMembership(h.GROUP)],
      ['add(GROUP) again', () => s4.addMembership(h.GROUP)],
      ['drop(GROUP)', () => s4.dropMembership(h.GROUP)],
      ['add(GROUP, null)', () => s4.addMembership(h.GROUP, null)],
      ['drop(GROUP, null)', () => s4.dropMembership(h.GROUP, null)],
      ['add(GROUP, undefined)', () => s4.addMembership(h.GROUP, undefined)],
      ['drop(GROUP, undefined)', () => s4.dropMembership(h.GROUP, undefined)],
      ['add(IPv6 group) on udp4', () => s4.addMembership('ff02::1:3')],
    ];
    for (const [label, fn] of calls4) h.rec(tr, `udp4 ${label}`, fn, s4);
    const s6 = await h.boundSocket(dgram, 'udp6', '::');
    const calls6 = [
      ['add(ff02::1:3)', () => s6.addMembership('ff02::1:3')],
      ['drop(ff02::1:3)', () => s6.dropMembership('ff02::1:3')],
      ['add(ff02::1:5, ::%1)', () => s6.addMembership('ff02::1:5', '::%1')],
      ['add(ff02::1:6, ::%bogus0)', () => s6.addMembership('ff02::1:6', '::%bogus0')],
      ['add(ff02::1:7, ::1)', () => s6.addMembership('ff02::1:7', '::1')],
      ['add(ff02::1:8%lo)', () => s6.addMembership('ff02::1:8%lo')],
      ['add(::1)', () => s6.addMembership('::1')],
      ['add(GROUP) IPv4 group on udp6', () => s6.addMembership(h.GROUP)],
      ['add(bogus)', () => s6.addMembership('bogus')],
    ];
    for (const [label, fn] of calls6) h.rec(tr, `udp6 ${label}`, fn, s6);
    await h.closeAll(s4, s6);
  });
});

test('source-specific membership: validation (ERR_INVALID_ARG_TYPE), IPv4 join/leave on loopback, kernel errors', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp4', '0.0.0.0');
    const calls = [
      ['add(src, group, LO)', () => s.addSourceSpecificMembership(LO, SSM_GROUP, LO)],
      ['add(src, group, LO) again', () => s.addSourceSpecificMembership(LO, SSM_GROUP, LO)],
      ['drop(src, group, LO)', () => s.dropSourceSpecificMembership(LO, SSM_GROUP, LO)],
      ['drop(src, group, LO) again', () => s.dropSourceSpecificMembership(LO, SSM_GROUP, LO)],
      ['add(number src)', () => s.addSourceSpecificMembership(1, SSM_GROUP)],
      ['add(undefined src)', () => s.addSourceSpecificMembership(undefined, SSM_GROUP)],
      ['add(src, number group)', () => s.addSourceSpecificMembership(LO, 2)],
      ['add(src, null group)', () => s.addSourceSpecificMembership(LO, null)],
      ['drop(object src)', () => s.dropSourceSpecificMembership({}, SSM_GROUP)],
      ['drop(src, array group)', () => s.dropSourceSpecificMembership(LO, [SSM_GROUP])],
      ['add(bogus src)', () => s.addSourceSpecificMembership('bogus', SSM_GROUP)],
      ['add(src, bogus group)', () => s.addSourceSpecificMembership(LO, 'bogus')],
      ['add(src, unicast group)', () => s.addSourceSpecificMembership(LO, '127.0.0.2')],
      ['add("", "")', () => s.addSourceSpecificMembership('', '')],
      ['add(IPv6 src, IPv4 group)', () => s.addSourceSpecificMembership('::1', SSM_GROUP)],
      ['add(IPv4 src, IPv6 group)', () => s.addSourceSpecificMembership(LO, 'ff3e::1')],
      ['add(src, group, bogus iface)', () => s.addSourceSpecificMembership(LO, '232.1.1.4', 'bogus')],
      ['add(src, group, number iface)', () => s.addSourceSpecificMembership(LO, '232.1.1.4', 7)],
    ];
    for (const [label, fn] of calls) rec(tr, label, fn, s);
    await closeAll(s);
  });
  const get = (label) => node.find((e) => label in e)[label];
  t.deepEqual(get('add(src, group, LO)'), { returned: 'undefined' });
  t.is(get('add(number src)').threw.code, 'ERR_INVALID_ARG_TYPE');
  t.is(get('add(src, number group)').threw.message.split('.')[0], 'The "groupAddress" argument must be of type string');
});

// Linux supports IPv6 SSM (MCAST_JOIN_SOURCE_GROUP): node joins and leaves
// on udp6, and on udp4 the IPv6 option fails with ENOPROTOOPT.
test('IPv6 source-specific membership like node (joins on udp6, ENOPROTOOPT on udp4)', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s4 = await boundSocket(dgram, 'udp4');
    rec(tr, 'udp4 add(::1, ff3e::1)', () => s4.addSourceSpecificMembership('::1', 'ff3e::1'), s4);
    await closeAll(s4);
    const s = await boundSocket(dgram, 'udp6', '::');
    const calls = [
      ['add(::1, ff3e::1235, ::%lo)', () => s.addSourceSpecificMembership('::1', 'ff3e::1235', LO6)],
      ['drop(::1, ff3e::1235, ::%lo)', () => s.dropSourceSpecificMembership('::1', 'ff3e::1235', LO6)],
      ['add(::1, ff3e::1235, ::%lo) again', () => s.addSourceSpecificMembership('::1', 'ff3e::1235', LO6)],
      ['add IPv4 SSM on udp6', () => s.addSourceSpecificMembership(LO, SSM_GROUP, LO)],
      ['drop IPv4 SSM on udp6', () => s.dropSourceSpecificMembership(LO, SSM_GROUP, LO)],
    ];
    for (const [label, fn] of calls) rec(tr, label, fn, s);
    await closeAll(s);
  });
});

netnsTest(test)('source-specific membership with no interface (network namespace): IPv4 and IPv6', async (t) => {
  await netnsParity(t, async (dgram, tr, h) => {
    const s4 = await h.boundSocket(dgram, 'udp4', '0.0.0.0');
    h.rec(tr, 'udp4 add(src, group)', () => s4.addSourceSpecificMembership(h.LO, h.SSM_GROUP), s4);
    h.rec(tr, 'udp4 drop(src, group)', () => s4.dropSourceSpecificMembership(h.LO, h.SSM_GROUP), s4);
    h.rec(tr, 'udp4 add(src, group, null)', () => s4.addSourceSpecificMembership(h.LO, '232.1.1.3', null), s4);
    h.rec(tr, 'udp4 drop(src, group, null)', () => s4.dropSourceSpecificMembership(h.LO, '232.1.1.3', null), s4);
    const s6 = await h.boundSocket(dgram, 'udp6', '::');
    h.rec(tr, 'udp6 add(::1, ff3e::1234)', () => s6.addSourceSpecificMembership('::1', 'ff3e::1234'), s6);
    h.rec(tr, 'udp6 drop(::1, ff3e::1234)', () => s6.dropSourceSpecificMembership('::1', 'ff3e::1234'), s6);
    await h.closeAll(s4, s6);
  });
});

test('memberships after close(): ERR_SOCKET_DGRAM_NOT_RUNNING before any validation', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (const type of ['udp4', 'udp6']) {
      const s = await boundSocket(dgram, type);
      s.close();
      const calls = [
        ['addMembership(GROUP)', () => s.addMembership(GROUP)],
        ['dropMembership(GROUP, LO)', () => s.dropMembership(GROUP, LO)],
        ['addMembership()', () => s.addMembership()],
        ['addSSM', () => s.addSourceSpecificMembership(LO, SSM_GROUP, LO)],
        ['dropSSM', () => s.dropSourceSpecificMembership(LO, SSM_GROUP)],
        ['addSSM(1, 2)', () => s.addSourceSpecificMembership(1, 2)],
      ];
      for (const [label, fn] of calls) rec(tr, `${type} ${label}`, fn, s);
      await once(s, 'close');
    }
  });
});

/**
 * Performs `join(s)` on an unbound socket, then records the socket's state
 * and what a later bind() and send() do (libuv bound the descriptor already,
 * so the explicit bind fails with EINVAL, and so does the implicit one).
 */
async function afterImplicitBind(dgram, tr, type, label, join) {
  const s = dgram.createSocket(type);
  const events = [];
  s.on('listening', () => events.push('listening'));
  s.on('error', (err) => events.push({ error: errShape(err) }));
  rec(tr, `${label}: join`, () => join(s), s);
  const addr = rec(tr, `${label}: address()`, () => s.address(), s);
  if (addr.returned && addr.returned.port) tr.reg(addr.returned.port, `${label}-implicit`);
  tr.push({ [`${label}: state`]: { bindState: internals(s).bindState, receiving: internals(s).receiving, hasFd: internals(s).handle.fd >= 0 } });
  rec(tr, `${label}: setTTL(3)`, () => s.setTTL(3), s);
  rec(tr, `${label}: bind()`, () => s.bind(0, type === 'udp4' ? LO : '::1'), s);
  await Promise.race([once(s, 'error', 1000), once(s, 'listening', 1000)]).catch(() => {});
  tr.push({ [`${label}: bindState after bind`]: internals(s).bindState });
  const sent = [];
  rec(tr, `${label}: send()`, () => s.send('x', 9, type === 'udp4' ? LO : '::1', (err, n) => sent.push([errShape(err), n])), s);
  // The send's implicit bind fails too (on Linux): its error.
  await Promise.race([once(s, 'error', 1000), once(s, 'listening', 1000)]).catch(() => {});
  await delay(30); // a window for the dropped send's callback, which must not come
  tr.push({ [`${label}: events`]: events, sent });
  s.close();
  await once(s, 'close');
}

// libuv-Unix: a second bind() reaches the kernel. Windows' libuv leaves a
// bound handle as it is (the bind succeeds, as dgram-rs's there).
unixOnly('addMembership / addSourceSpecificMembership on an unbound socket bind it implicitly; a later bind() fails with EINVAL', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    await afterImplicitBind(dgram, tr, 'udp4', 'add(GROUP, LO)', (s) => s.addMembership(GROUP, LO));
    await afterImplicitBind(dgram, tr, 'udp4', 'drop(GROUP, LO) not joined', (s) => s.dropMembership(GROUP, LO));
    await afterImplicitBind(dgram, tr, 'udp4', 'add(GROUP, bogus iface)', (s) => s.addMembership(GROUP, 'bogus'));
    await afterImplicitBind(dgram, tr, 'udp4', 'addSSM', (s) => s.addSourceSpecificMembership(LO, SSM_GROUP, LO));
    await afterImplicitBind(dgram, tr, 'udp6', 'udp6 add(ff02::1:3, ::%lo)', (s) => s.addMembership('ff02::1:3', LO6));
  });
  const first = node.find((e) => 'add(GROUP, LO): events' in e)['add(GROUP, LO): events'];
  // The kernel's answer to a second bind (macOS: compared only).
  if (onLinux) t.is(first[0].error.message, 'bind EINVAL 127.0.0.1');
  t.is(node.find((e) => 'add(GROUP, LO): address()' in e)['add(GROUP, LO): address()'].returned.address, '0.0.0.0');
});

// The second bind() goes to the kernel, whose IPv4 side checks the address
// before it notices that the socket is bound (fuzzer seed 4079); IPv6 says
// EINVAL first.
unixOnly('after a membership call\'s implicit bind, bind() to an address that is not local fails as the kernel says (udp4 EADDRNOTAVAIL, udp6 EINVAL), as libuv', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const [type, group, iface, addr] of [['udp4', GROUP, LO, '192.0.2.1'], ['udp6', 'ff02::1:3', LO6, '2001:db8::1']]) {
      const s = dgram.createSocket(type);
      const [err] = await new Promise((resolve) => {
        s.once('error', (e) => resolve([e]));
        rec(tr, `${type}: join`, () => s.addMembership(group, iface), s);
        s.bind(0, addr);
      });
      tr.push({ type, error: errShape(err) });
      await closeAll(s);
    }
  });
  // Linux's order of checks (macOS: compared only).
  if (onLinux) t.deepEqual(node.filter((e) => e.error).map((e) => e.error.code), ['EADDRNOTAVAIL', 'EINVAL']);
});

// libuv parses the group (and, for SSM, the source, in the group's family)
// before binding: a malformed one fails with EINVAL and leaves the socket
// unbound, so a later bind() works as usual.
test('a membership call with a malformed group on an unbound socket does not bind it', async (t) => {
  await parity(t, async (dgram, tr) => {
    await afterImplicitBind(dgram, tr, 'udp4', 'add(bogus)', (s) => s.addMembership('bogus', LO));
    await afterImplicitBind(dgram, tr, 'udp4', 'drop(bogus)', (s) => s.dropMembership('bogus'));
    await afterImplicitBind(dgram, tr, 'udp4', 'addSSM(bogus src)', (s) => s.addSourceSpecificMembership('bogus', SSM_GROUP));
    await afterImplicitBind(dgram, tr, 'udp4', 'addSSM(src, bogus group)', (s) => s.addSourceSpecificMembership(LO, 'bogus'));
    // The source must parse in the group's family (uv_ip4_addr / uv_ip6_addr).
    await afterImplicitBind(dgram, tr, 'udp4', 'addSSM(IPv6 src, IPv4 group)', (s) => s.addSourceSpecificMembership('::1', SSM_GROUP, LO));
    await afterImplicitBind(dgram, tr, 'udp4', 'addSSM(IPv4 src, IPv6 group)', (s) => s.addSourceSpecificMembership(LO, 'ff3e::1', '::%lo'));
  });
});

// libuv's implicit bind uses the group's address family, not the socket
// type's: an IPv6 group makes a udp4 socket's descriptor AF_INET6 (and the
// join succeeds), an IPv4 group makes a udp6 socket's descriptor AF_INET.
test('implicit bind by a membership call uses the group\'s address family, like libuv', async (t) => {
  await parity(t, async (dgram, tr) => {
    for (const [type, group, iface, label] of [['udp4', 'ff02::1:3', LO6, '::%lo'], ['udp6', GROUP, LO, LO]]) {
      const s = dgram.createSocket(type);
      rec(tr, `${type} add(${group}, ${label})`, () => s.addMembership(group, iface), s);
      const addr = rec(tr, `${type} address()`, () => s.address(), s);
      if (addr.returned && addr.returned.port) tr.reg(addr.returned.port, `${type}-implicit`);
      s.close();
      await once(s, 'close');
    }
  });
});

test('add/dropMembership with a Symbol group or interface: TypeError from the string conversion (Node 22+: EINVAL for the group unless the interface is a string), as Node (fuzzer R11)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp4', LO);
    const throwing = { toString() { throw new RangeError('no string'); } };
    rec(tr, 'add(Symbol)', () => s.addMembership(Symbol('g')));
    rec(tr, 'drop(Symbol, LO)', () => s.dropMembership(Symbol('g'), LO));
    rec(tr, 'drop(Symbol, null)', () => s.dropMembership(Symbol('g'), null));
    rec(tr, 'add(Symbol, 0)', () => s.addMembership(Symbol('g'), 0));
    rec(tr, 'add(Symbol, { toString })', () => s.addMembership(Symbol('g'), { toString: () => LO }));
    rec(tr, "add(Symbol, '')", () => s.addMembership(Symbol('g'), ''));
    rec(tr, 'add(throwing)', () => s.addMembership(throwing));
    rec(tr, 'add(throwing, LO)', () => s.addMembership(throwing, LO));
    rec(tr, 'add(GROUP, Symbol)', () => s.addMembership(GROUP, Symbol('i')));
    rec(tr, 'addSSM(LO, SSM_GROUP, Symbol)', () => s.addSourceSpecificMembership(LO, SSM_GROUP, Symbol('i')));
    rec(tr, 'dropSSM(LO, SSM_GROUP, Symbol)', () => s.dropSourceSpecificMembership(LO, SSM_GROUP, Symbol('i')));
    rec(tr, 'add({ toString })', () => s.addMembership({ toString: () => GROUP }, LO));
    rec(tr, 'drop({ toString })', () => s.dropMembership({ toString: () => GROUP }, LO));
    await closeAll(s);
  });
  t.is(node[0]['add(Symbol)'].threw.name, groupConversionIsEinval ? 'Error' : 'TypeError');
  t.is(node[1]['drop(Symbol, LO)'].threw.name, 'TypeError');
  t.is(node.find((e) => 'addSSM(LO, SSM_GROUP, Symbol)' in e)['addSSM(LO, SSM_GROUP, Symbol)'].threw.name, 'TypeError');
});

test('source-specific membership: an IPv6 source with a %zone parses as libuv parses it (ENOPROTOOPT on udp4, not EINVAL; fuzzer R2)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = await boundSocket(dgram, 'udp4', LO);
    for (const [src, grp] of [['::1%lo', '::1'], ['::1%lo', 'ff3e::1'], ['1.2.3.4%x', SSM_GROUP], ['::1', '::1']]) {
      for (const iface of [LO, '::%lo']) {
        rec(tr, `add(${src}, ${grp}, ${iface})`, () => s.addSourceSpecificMembership(src, grp, iface));
        rec(tr, `drop(${src}, ${grp}, ${iface})`, () => s.dropSourceSpecificMembership(src, grp, iface));
      }
    }
    await closeAll(s);
  });
  // (libuv on Windows refuses an IPv6 group on an IPv4 handle itself; the
  // kernel answers elsewhere: Linux's ENOPROTOOPT pinned, macOS's compared.)
  const dropped = node.find((e) => 'drop(::1%lo, ::1, ::%lo)' in e)['drop(::1%lo, ::1, ::%lo)'].threw.code;
  if (process.platform === 'win32') t.is(dropped, 'EINVAL');
  if (onLinux) t.is(dropped, 'ENOPROTOOPT');
});

unixOnly('udp6 socket bound as IPv4 by a membership call, then bind() with ipv6Only: ENOPROTOOPT (without: EINVAL), as libuv', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const ipv6Only of [true, false]) {
      const s = dgram.createSocket({ type: 'udp6', ipv6Only });
      rec(tr, `drop(127.0.0.1) ipv6Only=${ipv6Only}`, () => s.dropMembership('127.0.0.1'));
      const err = await new Promise((resolve) => {
        s.once('error', resolve);
        s.bind(0, () => resolve(null));
      });
      tr.push({ ipv6Only, bind: errShape(err) });
      await closeAll(s);
    }
  });
  // Linux's answer (macOS: compared only).
  if (onLinux) t.is(node.find((e) => e.ipv6Only === true).bind.code, 'ENOPROTOOPT');
});

// Node hands these strings to libuv as C strings: an IPv4 address takes no
// zone, an IPv6 one needs an address before its `%zone`, a zone is an
// interface name (a number is none: scope 0), and a NUL ends the string.
netnsTest(test)('membership and multicast-interface strings are read as libuv reads them: zones, numeric zones, NUL', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const v4 = await h.boundSocket(dgram, 'udp4', '0.0.0.0');
    const v6 = await h.boundSocket(dgram, 'udp6', '::');
    const calls = [
      ['v4 add(239.1.1.1%lo)', () => v4.addMembership('239.1.1.1%lo')],
      ['v4 add(239.2.2.2\\0junk)', () => v4.addMembership('239.2.2.2\0junk')],
      ['v4 add(239.2.2.3, 127.0.0.1\\0x)', () => v4.addMembership('239.2.2.3', '127.0.0.1\0x')],
      ['v4 setMulticastInterface(127.0.0.1\\0x)', () => v4.setMulticastInterface('127.0.0.1\0x')],
      ['v4 setMulticastInterface(127.0.0.1%lo)', () => v4.setMulticastInterface('127.0.0.1%lo')],
      ['v6 add(ff02::7, %lo)', () => v6.addMembership('ff02::7', '%lo')],
      ['v6 add(ff02::7, x%lo)', () => v6.addMembership('ff02::7', 'x%lo')],
      ['v6 add(ff02::7, ::%1)', () => v6.addMembership('ff02::7', '::%1')],
      ['v6 add(ff02::7, ::%lo)', () => v6.addMembership('ff02::7', '::%lo')],
      ['v6 drop(ff02::7, %lo)', () => v6.dropMembership('ff02::7', '%lo')],
      ['v6 drop(ff02::7, ::%lo\\0x)', () => v6.dropMembership('ff02::7', '::%lo\0x')],
      ['v6 add(ff02::8\\0x, ::%lo)', () => v6.addMembership('ff02::8\0x', '::%lo')],
      ['v6 setMulticastInterface(::%4294967295)', () => v6.setMulticastInterface('::%4294967295')],
      ['v6 setMulticastInterface(%lo)', () => v6.setMulticastInterface('%lo')],
      ['v6 addSSM(::1, ff3e::7, %lo)', () => v6.addSourceSpecificMembership('::1', 'ff3e::7', '%lo')],
      ['v6 addSSM(fe80::1%1, ff3e::7, ::%lo)', () => v6.addSourceSpecificMembership('fe80::1%1', 'ff3e::7', '::%lo')],
    ];
    for (const [label, fn] of calls) h.rec(tr, label, fn, v4);
    await h.closeAll(v4, v6);
  });
  const get = (label) => node.find((e) => label in e)[label];
  t.is(get('v4 add(239.1.1.1%lo)').threw.code, 'EINVAL');
  t.deepEqual(get('v4 add(239.2.2.2\\0junk)'), { returned: 'undefined' });
  t.is(get('v6 add(ff02::7, %lo)').threw.code, 'EINVAL');
});
