'use strict';

// The fuzzer's plan generator: a seeded sequence of operations on dgram
// sockets, as plain JSON, so that node:dgram and dgram-rs (each in its own
// child process, see child.js) run exactly the same calls.
//
// An argument is a JS source string, evaluated in the child (`ctx` gives
// access to instrumented callbacks, custom lookups, live ports); the same
// string renders the op in a repro script.
//
// Plan entries:
//   { i, op: 'create', how: 'createSocket'|'new'|'call', args: [src...], errorListener }
//   { i, op: 'call', slot, method, args: [src...] }     slot: the `i` of a create op
//   { i, op: 'settle' }                                  let pending work finish
//
// generate(seed, ops): `ops` calls (creates and method calls), with settle
// points between about half of them.

/** mulberry32: small, fast, good enough, and the same everywhere. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (arr) => arr[int(arr.length)];
  const chance = (p) => next() < p;
  const weighted = (table) => {
    let total = 0;
    for (const [, w] of table) total += w;
    let r = next() * total;
    for (const [v, w] of table) {
      r -= w;
      if (r < 0) return v;
    }
    return table[table.length - 1][0];
  };
  return { next, int, pick, chance, weighted };
}

const NUMBERS = [
  '0', '-0', '1', '-1', '9', '1.5', '0.5', '255', '256', '1024', '65535', '65536', '2 ** 31 - 1', '2 ** 31', '2 ** 32',
  '2 ** 32 + 9', '-(2 ** 31)', 'Number.MAX_SAFE_INTEGER', '1e21', 'NaN', 'Infinity', '-Infinity',
];
const STRINGS = [
  "''", "'abc'", "'127.0.0.1'", "'::1'", "'localhost'", "'0.0.0.0'", "'::'", "'255.255.255.255'", "'224.0.0.114'",
  "'ff02::1'", "'::ffff:127.0.0.1'", "'1.2.3.4'", "'127.1'", "' 127.0.0.1'", "'udp4'", "'udp6'", "'UDP4'", "'udp'",
  "'9'", "'-1'", "'65536'", "'0x10'", "'1e3'", "'fe80::1%lo'", "'::1%lo'", "'%'", "'ünïcødé'", "'a'.repeat(300)",
  "'\\u0000'", "'no.such.host.invalid'", "'127.0.0.256'", "'::1::'", "'localhost.'", "'x'.repeat(70000)",
];
const OTHER_PRIMITIVES = ['undefined', 'null', 'true', 'false', '0n', '1n', '2n ** 64n', "Symbol('s')", 'Symbol.iterator'];
const BUFFERS = [
  'Buffer.alloc(0)', "Buffer.from('hello')", 'Buffer.alloc(1472, 1)', 'Buffer.alloc(1473, 2)', 'Buffer.alloc(8192, 3)',
  'Buffer.alloc(65507, 4)', 'Buffer.alloc(65508, 5)', 'Buffer.alloc(70000)', 'new Uint8Array(3)',
  'new Uint16Array([1, 2, 3])', 'new Float64Array(2)', 'new BigInt64Array(1)', 'new Int8Array(0)',
  'new DataView(new ArrayBuffer(7))', 'new DataView(new ArrayBuffer(16), 4, 8)', "Buffer.from('abcdef').subarray(2, 4)",
  'new ArrayBuffer(8)', 'new SharedArrayBuffer(8)', 'new Uint8Array(new SharedArrayBuffer(4))', 'ctx.detached()',
];
const ARRAYS = [
  '[]', "[Buffer.from('a'), 'b', new Uint8Array(2)]", "['a', 1]", '[null]', "Array.from({ length: 1025 }, () => Buffer.from('a'))",
  "Array.from({ length: 1024 }, () => Buffer.from('a'))", "[, Buffer.from('a')]", "[new DataView(new ArrayBuffer(3)), 'x']",
  "[Buffer.alloc(65000), Buffer.alloc(600)]", '[[]]',
];
const OBJECTS = [
  '{}', '{ port: 0 }', "{ port: 0, address: '127.0.0.1' }", "{ port: 0, address: '::1' }", "{ port: '0' }",
  '{ port: -1 }', '{ port: 65536 }', "{ address: 'localhost' }", '{ port: 0, exclusive: true }', '{ fd: 0 }',
  '{ fd: 1 }', '{ fd: 2 }', '{ fd: -1 }', '{ fd: 1.5 }', '{ fd: 2 ** 31 }', '{ fd: 19999 }', "{ fd: '3' }",
  'Object.create(null)', "{ toString() { return '127.0.0.1'; } }", '{ valueOf() { return 9; } }', 'ctx.throwingGetters()',
  'ctx.revokedProxy()', 'new Date(0)', '/re/', "new Error('e')", 'new Map()', 'Promise.resolve()',
  "new String('127.0.0.1')", 'new Number(9)', "{ port: 0, address: 'no.such.host.invalid' }", "{ port: 1.5 }",
];
// reusePort where the OS cannot balance a port (macOS, Windows): dgram-rs
// fails the bind with ENOTSUP, as node:dgram does since it has the option
// (Node 22.12); an older node:dgram ignores it. There plans leave it off.
const { stateHasReusePort } = require('../../lib/node-version.js');
const REUSE_PORT = stateHasReusePort || process.platform === 'linux' || process.platform === 'freebsd' ? 'true' : 'false';
const OPTIONS = [
  "{ type: 'udp4' }", "{ type: 'udp6' }", "{ type: 'udp6', ipv6Only: true }", "{ type: 'udp4', reuseAddr: true }",
  `{ type: 'udp4', reusePort: ${REUSE_PORT} }`, "{ type: 'udp4', recvBufferSize: 65536, sendBufferSize: 65536 }",
  "{ type: 'udp4', recvBufferSize: -1 }", "{ type: 'udp4', sendBufferSize: 1.5 }", "{ type: 'udp4', recvBufferSize: 2 ** 32 }",
  "{ type: 'udp4', lookup: ctx.lookups.loopback }", "{ type: 'udp6', lookup: ctx.lookups.async }",
  "{ type: 'udp4', lookup: ctx.lookups.error }", "{ type: 'udp4', lookup: ctx.lookups.never }",
  "{ type: 'udp4', lookup: ctx.lookups.slow }", "{ type: 'udp4', lookup: ctx.lookups.throws }",
  "{ type: 'udp4', lookup: ctx.lookups.twice }", "{ type: 'udp4', lookup: ctx.lookups.weird }",
  "{ type: 'udp4', lookup: ctx.lookups.wrongFamily }", "{ type: 'udp4', lookup: 'notafunction' }",
  "{ type: 'udp4', lookup: null }", "{ type: 'udp4', signal: AbortSignal.abort() }",
  "{ type: 'udp4', signal: new AbortController().signal }", "{ type: 'udp6', signal: ctx.abortAtSettle() }",
  "{ type: 'udp4', signal: {} }", "{ type: 'udp7' }", '{ type: undefined }', "{ type: 'udp4', reuseAddr: 'yes', ipv6Only: 1 }",
  "Object.assign(Object.create({ type: 'udp4' }), {})",
];
const FUNCTIONS = ['ctx.fn()', 'ctx.fn()', 'ctx.fn()', "ctx.fn('throw')"];

const ALL = [...NUMBERS, ...STRINGS, ...OTHER_PRIMITIVES, ...BUFFERS, ...ARRAYS, ...OBJECTS, ...OPTIONS, ...FUNCTIONS];

const METHODS = [
  ['send', 26], ['bind', 10], ['connect', 10], ['close', 3], ['sendto', 5], ['disconnect', 4], ['address', 3],
  ['remoteAddress', 3], ['setTTL', 2], ['setMulticastTTL', 2], ['setBroadcast', 2], ['setMulticastLoopback', 2],
  ['setMulticastInterface', 2], ['setRecvBufferSize', 2], ['setSendBufferSize', 2], ['getRecvBufferSize', 1],
  ['getSendBufferSize', 1], ['addMembership', 2], ['dropMembership', 1], ['addSourceSpecificMembership', 1],
  ['dropSourceSpecificMembership', 1], ['ref', 1], ['unref', 2], ['getSendQueueSize', 1], ['getSendQueueCount', 1],
  ['asyncDispose', 1],
  // Where node:dgram has them (Node 24.19+, 26.4+): both children run on
  // the same Node, so both plans have them or neither does.
  ...(typeof require('node:dgram').Socket.prototype.bindSync === 'function' ? [['bindSync', 3], ['connectSync', 3]] : []),
];

function generate(seed, ops) {
  const r = prng(seed);
  const plan = [];
  const slots = []; // `i` of every create op so far
  const port = () => (slots.length && r.chance(0.85) ? `ctx.port(${r.pick(slots)})` : r.pick(['9', '0', '65535', "'9'", '1.5', '-1', '65536']));
  const value = () => r.weighted([[() => r.pick(ALL), 6], [port, 1]])();
  const bufferish = () => r.weighted([
    [() => r.pick(["'hello'", "'x'", "''", 'Buffer.from([1, 2, 3])']), 4],
    [() => r.pick(BUFFERS), 3],
    [() => r.pick(ARRAYS), 1],
    [value, 1],
  ])();
  const address = () => r.weighted([
    [() => r.pick(["'127.0.0.1'", "'::1'", "'localhost'"]), 5],
    [() => r.pick(STRINGS), 2],
    [value, 1],
  ])();
  const cb = () => r.pick(FUNCTIONS);
  const maybe = (p, f) => (r.chance(p) ? [f()] : []);

  const templates = {
    createSocket: () => [r.weighted([[() => r.pick(["'udp4'", "'udp6'"]), 6], [() => r.pick(OPTIONS), 4], [value, 1]])(), ...maybe(0.2, cb)],
    bind: () => r.pick([
      () => [],
      () => [port()],
      () => ['0', address()],
      () => ['0', address(), cb()],
      () => [cb()],
      () => [r.pick(OBJECTS)],
      () => [r.pick(OBJECTS), cb()],
      () => [port(), cb()],
    ])(),
    connect: () => r.pick([
      () => [port()],
      () => [port(), address()],
      () => [port(), address(), cb()],
      () => [port(), cb()],
      () => [],
    ])(),
    bindSync: () => r.pick([
      () => [],
      () => [`{ address: ${address()} }`],
      () => [`{ port: ${port()}, address: ${address()} }`],
      () => [r.pick(OBJECTS)],
      () => [value()],
    ])(),
    connectSync: () => r.pick([
      () => [port()],
      () => [port(), address()],
      () => [],
    ])(),
    send: () => r.pick([
      () => [bufferish(), port(), address(), ...maybe(0.6, cb)],
      () => [bufferish(), port(), ...maybe(0.5, cb)],
      () => [bufferish(), ...maybe(0.6, cb)],
      () => [bufferish(), r.pick(NUMBERS), r.pick(NUMBERS), port(), address(), ...maybe(0.5, cb)],
      () => [bufferish(), r.pick(NUMBERS), r.pick(NUMBERS), ...maybe(0.5, cb)],
      () => [bufferish(), '0', '3', port(), ...maybe(0.5, cb)],
    ])(),
    sendto: () => [bufferish(), r.pick(NUMBERS), r.pick(NUMBERS), port(), address(), ...maybe(0.5, cb)],
    close: () => maybe(0.5, cb),
    setTTL: () => [r.pick([...NUMBERS, value()])],
    setMulticastTTL: () => [r.pick([...NUMBERS, value()])],
    setBroadcast: () => [value()],
    setMulticastLoopback: () => [value()],
    setMulticastInterface: () => [r.pick([...STRINGS, value()])],
    setRecvBufferSize: () => [r.pick([...NUMBERS, value()])],
    setSendBufferSize: () => [r.pick([...NUMBERS, value()])],
    // Multicast: the interface argument is always forced to a loopback or
    // invalid value by the child (never the default interface).
    addMembership: () => [r.pick([...STRINGS, value()]), 'IFACE'],
    dropMembership: () => [r.pick([...STRINGS, value()]), 'IFACE'],
    addSourceSpecificMembership: () => [r.pick([...STRINGS, value()]), r.pick([...STRINGS, value()]), 'IFACE'],
    dropSourceSpecificMembership: () => [r.pick([...STRINGS, value()]), r.pick([...STRINGS, value()]), 'IFACE'],
  };

  /** Random mutation of a template: replace, drop or add arguments. */
  const mutate = (args) => {
    const out = [...args];
    const n = r.int(3);
    for (let k = 0; k < n; k++) {
      const what = r.int(3);
      if (what === 0 && out.length) out[r.int(out.length)] = value();
      else if (what === 1 && out.length) out.splice(r.int(out.length), 1);
      else out.splice(r.int(out.length + 1), 0, value());
    }
    return out;
  };

  let i = 0;
  const live = () => slots.filter((s) => s > i - 120); // recent sockets are the interesting ones
  // `ops` counts calls (creates included), not settle points.
  const calls = () => plan.reduce((n, e) => n + (e.op === 'settle' ? 0 : 1), 0);
  while (calls() < ops) {
    const wantCreate = slots.length === 0 || r.chance(slots.length > 20 ? 0.03 : 0.12);
    if (wantCreate) {
      const how = r.weighted([['createSocket', 14], ['new', 5], ['call', 1]]);
      let args = templates.createSocket();
      if (r.chance(0.25)) args = mutate(args);
      plan.push({ i, op: 'create', how, args, errorListener: r.chance(0.85) });
      if (how !== 'call') {
        slots.push(i);
        // Most sockets get a plain bind (and some a connect) soon, so that
        // the bound and connected states see as many calls as the others.
        const slot = i;
        if (r.chance(0.6)) {
          plan.push({ i: ++i, op: 'call', slot, method: 'bind', args: r.pick([[], ['0'], [cb()], ['0', cb()]]) });
          if (r.chance(0.5)) plan.push({ i: ++i, op: 'settle' });
          if (r.chance(0.35)) plan.push({ i: ++i, op: 'call', slot, method: 'connect', args: [port(), ...maybe(0.5, cb)] });
        }
      }
    } else {
      const pool = live();
      const slot = pool.length ? r.pick(pool) : r.pick(slots);
      const method = r.weighted(METHODS);
      let args = templates[method] ? templates[method]() : [];
      if (r.chance(method === 'send' || method === 'bind' || method === 'connect' ? 0.35 : 0.25)) args = mutate(args);
      // Keep the forced interface slot for membership calls.
      if (/Membership$/.test(method) && !args.includes('IFACE')) args.push('IFACE');
      plan.push({ i, op: 'call', slot, method, args });
    }
    i++;
    if (r.chance(0.5)) plan.push({ i: i++, op: 'settle' });
  }
  return plan;
}

module.exports = { generate, prng, ALL };
