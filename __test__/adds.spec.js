'use strict';
// What dgram-rs adds beyond node:dgram on Node 20 (opt-in): bindSync,
// connectSync (node:dgram's own from 24.19 / 26.4, compared with it at the
// end where it has them) and sendMany.
const test = require('ava');
const dgram = require('..');

function receiver(count) {
  const r = dgram.createSocket('udp4');
  const msgs = [];
  const all = new Promise((resolve) => {
    r.on('message', (m) => {
      msgs.push(m.toString());
      if (msgs.length === count) resolve(msgs);
    });
  });
  const { port } = r.bindSync({ address: '127.0.0.1' });
  return { r, port, all };
}

const within = (p, ms = 5000) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), ms).unref())]);

test('bindSync binds now, returns the address, emits listening on the next tick', async (t) => {
  const s = dgram.createSocket('udp4');
  const order = [];
  s.on('listening', () => order.push('listening'));
  const a = s.bindSync({ address: '127.0.0.1' });
  order.push('returned');
  t.deepEqual(s.address(), a);
  t.is(a.family, 'IPv4');
  t.true(a.port > 0);
  await new Promise((r) => process.nextTick(r));
  t.deepEqual(order, ['returned', 'listening']);
  t.throws(() => s.bindSync(), { code: 'ERR_SOCKET_ALREADY_BOUND' });
  s.close();
});

test('bindSync throws bind errors synchronously, Node-shaped, and takes IP literals only', (t) => {
  const a = dgram.createSocket('udp4');
  const { port } = a.bindSync({ address: '127.0.0.1' });
  const b = dgram.createSocket('udp4');
  const err = t.throws(() => b.bindSync({ port, address: '127.0.0.1' }));
  t.is(err.code, 'EADDRINUSE');
  t.is(err.syscall, 'bind');
  t.is(err.message, `bind EADDRINUSE 127.0.0.1:${port}`);
  t.is(err.port, port);
  t.throws(() => dgram.createSocket('udp4').bindSync({ address: 'localhost' }), { code: 'ERR_INVALID_ARG_VALUE' });
  // An IP literal of the other family is left to the bind, which refuses it.
  const six = dgram.createSocket('udp6');
  t.throws(() => six.bindSync({ address: '127.0.0.1' }), { code: 'EINVAL', message: 'bind EINVAL 127.0.0.1' });
  t.is(six.bindSync({ address: '::1' }).family, 'IPv6');
  six.close();
  a.close();
  b.close();
});

test('connectSync connects now (binding first), emits connect on the next tick', async (t) => {
  const { r, port, all } = receiver(1);
  const c = dgram.createSocket('udp4');
  const connected = new Promise((resolve) => c.once('connect', resolve));
  c.connectSync(port, '127.0.0.1');
  t.deepEqual(c.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port });
  await within(connected);
  c.send('hi');
  t.deepEqual(await within(all), ['hi']);
  t.throws(() => c.connectSync(port), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
  const pending = dgram.createSocket('udp4');
  pending.bind(0);
  t.throws(() => pending.connectSync(port), { code: 'ERR_SOCKET_ALREADY_BOUND' });
  t.throws(() => dgram.createSocket('udp4').connectSync(port, 'localhost'), { code: 'ERR_INVALID_ARG_VALUE' });
  c.close();
  r.close();
  pending.close();
});

test('sendMany delivers every datagram in order and reports the count', async (t) => {
  // Small enough that the burst fits the receiver's kernel buffer (default
  // rmem ~208 KiB, ~1 KiB per queued datagram): UDP may drop beyond that.
  const N = 120;
  const { r, port, all } = receiver(N);
  const s = dgram.createSocket('udp4');
  // Mixed sizes and types: runs of equal size (GSO) and odd ones.
  const list = Array.from({ length: N }, (_, i) => ({
    msg: i % 40 === 39 ? new Uint8Array(Buffer.from(`odd-${i}`)) : `m${String(i).padStart(4, '0')}`,
    port,
    address: '127.0.0.1',
  }));
  const result = await within(new Promise((resolve) => s.sendMany(list, (err, n) => resolve([err, n]))));
  t.deepEqual(result, [null, N]);
  const got = await within(all);
  t.deepEqual(got, list.map((it) => Buffer.from(it.msg).toString()));
  s.close();
  r.close();
});

test('sendMany on a connected socket takes bare messages; errors are counted out', async (t) => {
  const { r, port, all } = receiver(3);
  const c = dgram.createSocket('udp4');
  c.connectSync(port);
  const result = await within(
    new Promise((resolve) => c.sendMany(['a', Buffer.alloc(70000), Buffer.from('b'), 'c'], (err, n) => resolve([err && err.code, n]))),
  );
  t.deepEqual(result, ['EMSGSIZE', 3]);
  t.deepEqual(await within(all), ['a', 'b', 'c']);
  t.throws(() => c.sendMany([{ msg: 'x', port }]), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
  c.close();
  r.close();
});

test('sendMany validates like send', (t) => {
  const s = dgram.createSocket('udp4');
  t.throws(() => s.sendMany('nope'), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => s.sendMany([{ msg: 5, port: 1 }]), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => s.sendMany([{ msg: 'x', port: 0 }]), { code: 'ERR_SOCKET_BAD_PORT' });
  t.throws(() => s.sendMany([], 'cb'), { code: 'ERR_INVALID_ARG_TYPE' });
  s.close();
});

// ---------------------------------------------------------------------------
// bindSync / connectSync against node:dgram's own (Node 24.19+ and 26.4+
// have them; on older Node these are dgram-rs additions and the tests above
// pin them).

const { parity, errShape, impls, capture, ticks } = require('./helpers.js');
const { rec } = require('./options-helpers.js');

const nodeHasSync = typeof impls.node.Socket.prototype.bindSync === 'function';
const syncParity = nodeHasSync ? test : test.skip;
if (!nodeHasSync) console.log(`[adds] node:dgram ${process.version} has no bindSync/connectSync: parity tests skipped`);

/** A socket whose events are recorded in `events`. */
function watched(d, type, events, label) {
  const s = d.createSocket(type);
  for (const e of ['listening', 'connect', 'close']) s.on(e, () => events.push(`${label}:${e}`));
  s.on('error', (err) => events.push({ [`${label}:error`]: errShape(err) }));
  return s;
}

syncParity('bindSync: arguments, errors, state after a failure, and listening only while open, as node:dgram', async (t) => {
  await parity(t, async (d, tr) => {
    const events = [];
    const a = watched(d, 'udp4', events, 'a');
    const addr = rec(tr, 'bindSync()', () => a.bindSync(), a);
    tr.reg(addr.returned && addr.returned.port, 'a');
    rec(tr, 'again', () => a.bindSync(), a);
    const b = watched(d, 'udp4', events, 'b');
    const r = rec(tr, 'port: null', () => b.bindSync({ port: null, address: '127.0.0.1' }), b);
    const port = tr.reg(r.returned && r.returned.port, 'b');
    const open = [];
    for (const [label, arg] of [['null', null], ['array', []], ['string', 'x'], ['function', () => {}],
      ['address localhost', { address: 'localhost' }], ['address 5', { address: 5 }], ['address ::1', { address: '::1' }],
      ['port abc', { port: 'abc' }], ['port -1', { port: -1 }], ['port 70000', { port: 70000 }],
      ['EADDRINUSE', { port, address: '127.0.0.1' }]]) {
      const s = watched(d, 'udp4', events, label);
      rec(tr, label, () => s.bindSync(arg), s);
      // A failed bindSync leaves the socket unbound and usable.
      const again = rec(tr, `${label}: then bindSync()`, () => s.bindSync({ address: '127.0.0.1' }), s);
      tr.reg(again.returned && again.returned.port, `${label}-again`);
      // Closed after the loop: a port freed here could be handed out
      // again to a later socket on one side only, and relabelled.
      open.push(s);
    }
    for (const s of open) s.close();
    const six = watched(d, 'udp6', events, 'six');
    rec(tr, 'udp6 127.0.0.1', () => six.bindSync({ address: '127.0.0.1' }), six);
    six.close();
    const closedAtOnce = watched(d, 'udp4', events, 'closedAtOnce');
    rec(tr, 'closed in the same tick', () => closedAtOnce.bindSync({ address: '127.0.0.1' }).family, closedAtOnce);
    closedAtOnce.close();
    const pending = watched(d, 'udp4', events, 'pending');
    pending.bind(0, '127.0.0.1');
    rec(tr, 'while bind() is pending', () => pending.bindSync(), pending);
    const closed = watched(d, 'udp4', events, 'closed');
    closed.close();
    rec(tr, 'closed', () => closed.bindSync(), closed);
    await ticks(2);
    tr.push({ events });
    a.close();
    b.close();
    pending.close();
    await ticks(2);
  });
});

syncParity('connectSync: arguments, errors, bind state, block list and connect only while open, as node:dgram', async (t) => {
  await parity(t, async (d, tr) => {
    const events = [];
    const r = watched(d, 'udp4', events, 'r');
    const port = tr.reg(r.bindSync({ address: '127.0.0.1' }).port, 'r');
    const state = (s) => ({ address: capture(() => s.address()), remote: capture(() => s.remoteAddress()) });
    for (const [label, type, args] of [
      ['default address', 'udp4', [port]], ['empty address', 'udp4', [port, '']], ['null address', 'udp4', [port, null]],
      ['localhost', 'udp4', [port, 'localhost']], ['address 5', 'udp4', [port, 5]], ['port 0', 'udp4', [0]],
      ['port "0x0"', 'udp4', ['0x0']], ['udp6 to 127.0.0.1', 'udp6', [port, '127.0.0.1']], ['udp4 to ::1', 'udp4', [port, '::1']],
    ]) {
      const s = watched(d, type, events, label);
      rec(tr, label, () => s.connectSync(...args), s);
      tr.push({ [`${label}: state`]: state(s) });
      rec(tr, `${label}: again`, () => s.connectSync(port, type === 'udp4' ? '127.0.0.1' : '::1'), s);
      s.close();
    }
    const pending = watched(d, 'udp4', events, 'pending');
    pending.bind(0, '127.0.0.1');
    rec(tr, 'bind pending, localhost', () => pending.connectSync(port, 'localhost'), pending);
    rec(tr, 'bind pending', () => pending.connectSync(port, '127.0.0.1'), pending);
    const closed = watched(d, 'udp4', events, 'closed');
    closed.close();
    rec(tr, 'closed, bad port', () => closed.connectSync('bad'), closed);
    const blockList = new (require('node:net').BlockList)();
    blockList.addAddress('127.0.0.1');
    const blocked = d.createSocket({ type: 'udp4', sendBlockList: blockList });
    rec(tr, 'blocked', () => blocked.connectSync(port, '127.0.0.1'), blocked);
    tr.push({ 'blocked: state': state(blocked) });
    blocked.close();
    const closedAtOnce = watched(d, 'udp4', events, 'closedAtOnce');
    rec(tr, 'closed in the same tick', () => closedAtOnce.connectSync(port), closedAtOnce);
    closedAtOnce.close();
    await ticks(2);
    tr.push({ events });
    r.close();
    pending.close();
    await ticks(2);
  });
});
