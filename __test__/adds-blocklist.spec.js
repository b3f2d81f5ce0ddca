'use strict';
// receiveBlockList / sendBlockList (node:dgram ≥ 22.13; dgram-rs on every
// Node). Node 20 has no block lists to compare with, so these check Node
// 22.13+'s documented behaviour: send → callback ERR_IP_BLOCKED (or a silent
// drop), connect → callback/'error' ERR_IP_BLOCKED, blocked senders never
// reach 'message'. Where the behaviour exists on Node 20 (no list given),
// the parity suites cover it.
const test = require('ava');
const net = require('node:net');
const dgram = require('..');
const { withTimeout, once, closeAll, errShape, runChild, childParity } = require('./helpers.js');

function blockList(...addresses) {
  const list = new net.BlockList();
  for (const a of addresses) list.addAddress(a, a.includes(':') ? 'ipv6' : 'ipv4');
  return list;
}

// A socket bound to `address`, with `options` merged in.
async function bound(address, options = {}) {
  const type = address.includes(':') ? 'udp6' : 'udp4';
  const s = dgram.createSocket({ type, ...options });
  await withTimeout(new Promise((resolve) => s.bind(0, address, resolve)), 3000, 'bind');
  return s;
}

// Messages as [text, sender address].
function record(s) {
  const got = [];
  s.on('message', (m, rinfo) => got.push([m.toString(), rinfo.address]));
  return got;
}

const sendP = (s, msg, port, address) =>
  new Promise((resolve) => s.send(msg, port, address, (err, n) => resolve(err || n)));

test('options: anything but a net.BlockList is ERR_INVALID_ARG_TYPE, as in Node', (t) => {
  for (const name of ['receiveBlockList', 'sendBlockList']) {
    const err = t.throws(() => dgram.createSocket({ type: 'udp4', [name]: { check: () => true } }));
    t.is(err.code, 'ERR_INVALID_ARG_TYPE');
    t.true(err instanceof TypeError);
    t.is(err.message, `The "options.${name}" property must be an net.BlockList. Received an instance of Object`);
    // Falsy values mean "no list", as Node's `if (options.x)` does.
    dgram.createSocket({ type: 'udp4', [name]: null }).close();
  }
});

test('sendBlockList: a blocked destination calls back with ERR_IP_BLOCKED on a later tick and sends nothing', async (t) => {
  const r = await bound('0.0.0.0');
  const got = record(r);
  const port = r.address().port;
  const s = dgram.createSocket({ type: 'udp4', sendBlockList: blockList('127.0.0.1') });
  let sync = true;
  const err = await new Promise((resolve) => {
    s.send('blocked', port, '127.0.0.1', resolve);
    sync = false;
  });
  t.false(sync);
  t.like(errShape(err), {
    ctor: 'Error',
    code: 'ERR_IP_BLOCKED',
    message: 'IP(127.0.0.1) is blocked by net.BlockList',
  });
  // Another loopback address is not blocked; it arrives, the blocked one never did.
  const arrived = once(r, 'message');
  t.is(await sendP(s, 'allowed', port, '127.0.0.2'), 7);
  await arrived;
  t.deepEqual(got.map(([m]) => m), ['allowed']);
  await closeAll(r, s);
});

test('sendBlockList: without a callback the datagram is dropped silently (no error event)', async (t) => {
  const r = await bound('0.0.0.0');
  const got = record(r);
  const s = dgram.createSocket({ type: 'udp4', sendBlockList: blockList('127.0.0.1') });
  s.on('error', (e) => t.fail(`unexpected error ${e.code}`));
  s.send('blocked', r.address().port, '127.0.0.1');
  const arrived = once(r, 'message');
  s.send('allowed', r.address().port, '127.0.0.3');
  await arrived;
  t.deepEqual(got.map(([m]) => m), ['allowed']);
  await closeAll(r, s);
});

test('sendBlockList: checked on the address the lookup resolved, and for the default address', async (t) => {
  const list = blockList('127.0.0.1');
  const s = dgram.createSocket({
    type: 'udp4',
    sendBlockList: list,
    lookup: (host, family, cb) => cb(null, host === 'example.test' ? '127.0.0.1' : host, 4),
  });
  const viaName = await sendP(s, 'x', 9, 'example.test');
  t.is(viaName.code, 'ERR_IP_BLOCKED');
  t.is(viaName.message, 'IP(127.0.0.1) is blocked by net.BlockList');
  const viaDefault = await new Promise((resolve) => s.send('x', 9, resolve));
  t.is(viaDefault.code, 'ERR_IP_BLOCKED');
  await closeAll(s);
});

test('sendBlockList: rules added after the socket was created apply', async (t) => {
  const list = new net.BlockList();
  const s = dgram.createSocket({ type: 'udp4', sendBlockList: list });
  const r = await bound('127.0.0.1');
  t.is(await sendP(s, 'x', r.address().port, '127.0.0.1'), 1);
  list.addSubnet('127.0.0.0', 8);
  t.is((await sendP(s, 'x', r.address().port, '127.0.0.1')).code, 'ERR_IP_BLOCKED');
  await closeAll(r, s);
});

test('sendBlockList: checked at the send\'s lookup step, as Node does: a rule added (or, Node 24+, removed) after send() in the same tick counts', async (t) => {
  const r = await bound('127.0.0.1');
  const got = record(r);
  const port = r.address().port;
  const added = new net.BlockList();
  const a = await bound('127.0.0.1', { sendBlockList: added });
  const addedAfter = sendP(a, 'added-after', port, '127.0.0.1');
  added.addAddress('127.0.0.1');
  t.is((await addedAfter).code, 'ERR_IP_BLOCKED');
  if (typeof added.removeAddress === 'function') {
    const removed = blockList('127.0.0.1');
    const b = await bound('127.0.0.1', { sendBlockList: removed });
    const removedAfter = sendP(b, 'removed-after', port, '127.0.0.1');
    removed.removeAddress('127.0.0.1');
    t.is(await removedAfter, 'removed-after'.length);
    await withTimeout(new Promise((resolve) => { const check = () => (got.length ? resolve() : setImmediate(check)); check(); }), 3000, 'datagram');
    t.deepEqual(got, [['removed-after', '127.0.0.1']]);
    await closeAll(b);
  }
  await closeAll(r, a);
});

test('sendBlockList: connect fails with ERR_IP_BLOCKED (callback, else error event) and leaves the socket disconnected', async (t) => {
  const list = blockList('127.0.0.1');
  const a = dgram.createSocket({ type: 'udp4', sendBlockList: list });
  const err = await withTimeout(new Promise((resolve) => a.connect(9999, '127.0.0.1', resolve)));
  t.is(err.code, 'ERR_IP_BLOCKED');
  t.throws(() => a.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
  // Not connected: a second connect is allowed, to an address not blocked.
  await withTimeout(new Promise((resolve, reject) => a.connect(9999, '127.0.0.2', (e) => (e ? reject(e) : resolve()))));
  t.is(a.remoteAddress().address, '127.0.0.2');

  const b = dgram.createSocket({ type: 'udp4', sendBlockList: list });
  b.connect(9999, '127.0.0.1');
  const [evErr] = await once(b, 'error');
  t.is(evErr.code, 'ERR_IP_BLOCKED');

  const c = dgram.createSocket({ type: 'udp4', sendBlockList: list });
  t.throws(() => c.connectSync(9999, '127.0.0.1'), { code: 'ERR_IP_BLOCKED', message: 'IP(127.0.0.1) is blocked by net.BlockList' });
  await closeAll(a, b, c);
});

test('sendBlockList: sendMany reports the first blocked item and sends the rest', async (t) => {
  const r = await bound('127.0.0.1');
  const got = record(r);
  const port = r.address().port;
  const s = dgram.createSocket({ type: 'udp4', sendBlockList: blockList('127.0.0.7') });
  const [err, sent] = await new Promise((resolve) => s.sendMany([
    { msg: 'a', port, address: '127.0.0.1' },
    { msg: 'b', port, address: '127.0.0.7' },
    { msg: 'c', port, address: '127.0.0.1' },
  ], (...args) => resolve(args)));
  t.is(err.code, 'ERR_IP_BLOCKED');
  t.is(sent, 2);
  await withTimeout((async () => { while (got.length < 2) await once(r, 'message'); })());
  t.deepEqual(got.map(([m]) => m), ['a', 'c']);
  await closeAll(r, s);
});

test('receiveBlockList: blocked senders never reach message listeners; others do, in order', async (t) => {
  const r = await bound('127.0.0.1', { receiveBlockList: blockList('127.0.0.2') });
  const got = record(r);
  const port = r.address().port;
  const blocked = await bound('127.0.0.2');
  const allowed = await bound('127.0.0.3');
  for (let i = 0; i < 20; i++) {
    await sendP(blocked, `b${i}`, port, '127.0.0.1');
    await sendP(allowed, `a${i}`, port, '127.0.0.1');
  }
  await withTimeout((async () => { while (got.length < 20) await once(r, 'message'); })());
  t.deepEqual(got, Array.from({ length: 20 }, (_, i) => [`a${i}`, '127.0.0.3']));
  await closeAll(r, blocked, allowed);
});

// Also with a frozen list, which Node accepts (dgram-rs cannot wrap its
// methods to follow changes, so it checks every datagram in JS).
for (const [kind, makeList] of [['a list', (l) => l], ['a frozen list', (l) => Object.freeze(l)]]) {
  test(`receiveBlockList (${kind}): blocked from the start, and a rule added while the socket receives applies to the next datagrams`, async (t) => {
    const list = makeList(blockList('127.0.0.2'));
    const r = await bound('127.0.0.1', { receiveBlockList: list });
    const got = record(r);
    const port = r.address().port;
    const blocked = await bound('127.0.0.2');
    const a = await bound('127.0.0.4');
    const b = await bound('127.0.0.5');
    await sendP(blocked, 'blocked', port, '127.0.0.1');
    let arrived = once(r, 'message');
    await sendP(a, 'before', port, '127.0.0.1');
    await arrived;
    list.addRange('127.0.0.4', '127.0.0.4');
    await sendP(a, 'after', port, '127.0.0.1');
    arrived = once(r, 'message');
    await sendP(b, 'other', port, '127.0.0.1');
    await arrived;
    t.deepEqual(got, [['before', '127.0.0.4'], ['other', '127.0.0.5']]);
    await closeAll(r, blocked, a, b);
  });
}

// BlockList's removing methods (Node 24+): the next datagram from a sender
// no longer blocked arrives (the native copy of the rules follows the list
// at once; it used to keep dropping them).
const removals = ['removeAddress', 'removeSubnet', 'removeCIDR', 'clear'];
const hasRemovals = typeof net.BlockList.prototype.removeAddress === 'function';
(hasRemovals ? test : test.skip)(`receiveBlockList: a rule removed while the socket receives lets the next datagrams through (${removals.join(', ')}, addAddresses)`, async (t) => {
  const a = await bound('127.0.0.4');
  const b = await bound('127.0.0.5');
  for (const change of [...removals, 'addAddresses']) {
    const list = new net.BlockList();
    // (Each removal takes away a rule of its own kind.)
    if (change === 'removeAddress') list.addAddress('127.0.0.4');
    else if (change !== 'addAddresses') list.addSubnet('127.0.0.4', 32);
    const r = await bound('127.0.0.1', { receiveBlockList: list });
    const got = record(r);
    const port = r.address().port;
    const arrived = new Promise((resolve) => r.on('message', (m) => String(m) === 'other' && resolve()));
    await sendP(a, 'before', port, '127.0.0.1');
    await sendP(b, 'other', port, '127.0.0.1');
    await withTimeout(arrived, 3000, 'other');
    ({
      removeAddress: () => list.removeAddress('127.0.0.4'),
      removeSubnet: () => list.removeSubnet('127.0.0.4', 32),
      removeCIDR: () => list.removeCIDR('127.0.0.4/32'),
      clear: () => list.clear(),
      addAddresses: () => list.addAddresses(['127.0.0.4']),
    })[change]();
    const last = new Promise((resolve) => r.on('message', (m) => String(m) === 'last' && resolve()));
    await sendP(a, 'after', port, '127.0.0.1');
    await sendP(b, 'last', port, '127.0.0.1');
    await withTimeout(last, 3000, 'the last datagram');
    if (change === 'addAddresses') t.deepEqual(got, [['before', '127.0.0.4'], ['other', '127.0.0.5'], ['last', '127.0.0.5']], change);
    else t.deepEqual(got, [['other', '127.0.0.5'], ['after', '127.0.0.4'], ['last', '127.0.0.5']], change);
    await closeAll(r);
  }
  await closeAll(a, b);
});

test('receiveBlockList: IPv4 rules block IPv4-mapped senders on a dual-stack udp6 socket; IPv6 rules block ::1', async (t) => {
  const list = new net.BlockList();
  list.addSubnet('127.0.0.0', 30); // 127.0.0.0-127.0.0.3
  const r = await bound('::', { receiveBlockList: list });
  const got = record(r);
  const port = r.address().port;
  const v4blocked = await bound('127.0.0.2');
  const v4allowed = await bound('127.0.0.9');
  const v6 = await bound('::1');
  await sendP(v4blocked, 'mapped-blocked', port, '127.0.0.1');
  let arrived = once(r, 'message');
  await sendP(v4allowed, 'mapped-allowed', port, '127.0.0.1');
  await arrived;
  arrived = once(r, 'message');
  await sendP(v6, 'six', port, '::1');
  await arrived;
  list.addAddress('::1', 'ipv6');
  await sendP(v6, 'six-blocked', port, '::1');
  arrived = once(r, 'message');
  await sendP(v4allowed, 'last', port, '127.0.0.1');
  await arrived;
  t.deepEqual(got, [
    ['mapped-allowed', '::ffff:127.0.0.9'],
    ['six', '::1'],
    ['last', '::ffff:127.0.0.9'],
  ]);
  await closeAll(r, v4blocked, v4allowed, v6);
});

test('receiveBlockList: a replaced check() is called for received datagrams, as Node does', async (t) => {
  // Node's own test wraps check() to observe the receive path: keep working.
  const list = blockList('127.0.0.1');
  const r = dgram.createSocket({ type: 'udp4', receiveBlockList: list });
  const calls = [];
  const check = list.check;
  list.check = function (...args) {
    calls.push(args);
    return check.apply(this, args);
  };
  r.on('message', () => t.fail('a blocked datagram was emitted'));
  await withTimeout(new Promise((resolve) => r.bind(0, '127.0.0.1', resolve)));
  const c = dgram.createSocket('udp4');
  const checked = withTimeout(new Promise((resolve) => {
    const wait = () => (calls.length ? resolve() : setImmediate(wait));
    wait();
  }), 3000, 'check() call');
  c.send('hello', r.address().port, '127.0.0.1');
  await checked;
  t.deepEqual(calls, [['127.0.0.1', 'ipv4']]);
  await closeAll(r, c);
});

test('sendBlockList: a blocked send\'s callback comes in order with those of the sends around it', async (t) => {
  const r = await bound('127.0.0.1');
  const port = r.address().port;
  const s = dgram.createSocket({ type: 'udp4', sendBlockList: blockList('127.0.0.9') });
  await withTimeout(new Promise((resolve) => s.bind(0, '127.0.0.1', resolve)));
  const order = [];
  await withTimeout(new Promise((resolve) => {
    s.send('A', port, '127.0.0.1', (err) => order.push(['A', err && err.code]));
    s.send('B', port, '127.0.0.9', (err) => order.push(['B', err && err.code]));
    s.send('C', port, '127.0.0.1', (err) => {
      order.push(['C', err && err.code]);
      resolve();
    });
  }));
  t.deepEqual(order, [['A', null], ['B', 'ERR_IP_BLOCKED'], ['C', null]]);
  await closeAll(r, s);
});

test('receiveBlockList: a listener that blocks its sender stops the rest of the batch too', async (t) => {
  const list = new net.BlockList();
  const r = await bound('127.0.0.1', { receiveBlockList: list });
  const got = [];
  r.on('message', (m, rinfo) => {
    got.push(m.toString());
    list.addAddress(rinfo.address);
  });
  const c = await bound('127.0.0.2');
  const last = await bound('127.0.0.3');
  // Hold the JS thread so that all of them arrive in one batch.
  for (let i = 0; i < 20; i++) c.send(`m${i}`, r.address().port, '127.0.0.1');
  await new Promise((resolve) => c.send('flush', r.address().port, '127.0.0.1', resolve));
  const start = Date.now();
  while (Date.now() - start < 50); // eslint-disable-line no-empty
  // A datagram from an unblocked sender marks the end.
  last.send('end', r.address().port, '127.0.0.1');
  await withTimeout((async () => { while (!got.includes('end')) await once(r, 'message'); })());
  t.deepEqual(got, ['m0', 'end']);
  await closeAll(r, c, last);
});

// Under load the native side reads ahead while JS emits: up to 8 batches
// of up to 256 datagrams, each read under the rules of its time, plus the
// one being emitted. A rule added then must stop the sender's datagrams in
// those batches too (they are checked in JS). A batch emitted over several
// turns used to count once per turn against that allowance, so the last
// batches read before the change went through unchecked (hundreds of
// datagrams from the blocked sender).
test('receiveBlockList: a rule added mid-flood also stops the datagrams read ahead before it', async (t) => {
  const list = new net.BlockList();
  const r = await bound('127.0.0.1', { receiveBlockList: list, recvBufferSize: 4 << 20 });
  const a = await bound('127.0.0.2');
  const c = await bound('127.0.0.3');
  const port = r.address().port;
  // As many as the receive buffer holds with room to spare (~1 KB of
  // kernel memory each), so that the end marker is not dropped.
  const pairs = Math.min(1000, Math.floor(r.getRecvBufferSize() / 4096));
  const blockAt = Math.floor(pairs * 0.3);
  let seen = 0;
  let blocked = false;
  const fromA = { before: 0, after: 0 };
  const fromC = [];
  const end = new Promise((resolve) => r.on('message', (m, rinfo) => {
    // A slow listener, so that the read-ahead queue stays full.
    const until = process.hrtime.bigint() + 20000n;
    while (process.hrtime.bigint() < until); // eslint-disable-line no-empty
    if (rinfo.address === '127.0.0.2') fromA[blocked ? 'after' : 'before']++;
    else fromC.push(String(m));
    if (++seen === blockAt) {
      list.addAddress('127.0.0.2');
      blocked = true;
    }
    if (String(m) === 'end') resolve();
  }));
  // All sent before the first is read (from this thread).
  for (let i = 0; i < pairs; i++) {
    a.send('a', port, '127.0.0.1');
    c.send(`c${i}`, port, '127.0.0.1');
  }
  c.send('end', port, '127.0.0.1');
  await withTimeout(end, 10000, 'the end marker');
  t.log(`${pairs} pairs, receiveStats:`, JSON.stringify(require('../binding.js').receiveStats()));
  t.true(fromA.before > 0);
  t.is(fromA.after, 0);
  t.deepEqual(fromC, [...Array.from({ length: pairs }, (_, i) => `c${i}`), 'end']);
  await closeAll(r, a, c);
});

// A list whose `check` the application replaced, throwing on the first
// call: on Node the exception leaves that send's lookup step (uncaught, the
// send dropped without a callback); the sends after it are unaffected.
const throwingCheck = `
  const dgram = require(process.env.DGRAM);
  const net = require('node:net');
  const list = new net.BlockList();
  let calls = 0;
  list.check = () => { if (calls++ === 0) throw new Error('boom'); return false; };
  process.on('uncaughtException', (e) => console.log('uncaught', e.message));
  const r = dgram.createSocket('udp4');
  r.bind(0, '127.0.0.1', () => {
    const s = dgram.createSocket({ type: 'udp4', sendBlockList: list });
    const got = [];
    r.on('message', (m) => {
      got.push(String(m));
      if (got.length === 2) s.send('fence', r.address().port, '127.0.0.1');
      if (String(m) === 'fence') { console.log('got', got.join(' ')); r.close(); s.close(); }
    });
    for (const x of ['a', 'b', 'c']) s.send(x, r.address().port, '127.0.0.1', (e, n) => console.log('cb', x, e ? e.code : n));
  });
`;
const nodeHasSendBlockList = (() => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 13);
})();

test('sendBlockList: a check() that throws drops that send without a callback; the exception is uncaught, the other sends go out', async (t) => {
  const expected = 'uncaught boom\ncb b 1\ncb c 1\ngot b c fence\n';
  if (nodeHasSendBlockList) {
    const { rs } = await childParity(t, throwingCheck);
    t.is(rs.stdout, expected);
  } else {
    const rs = await runChild(throwingCheck, { impl: 'rs' });
    t.is(rs.stderr, '');
    t.is(rs.stdout, expected);
  }
});

// sendMany (dgram-rs's) writes the sends of this tick before its own; a
// throwing check of one of those is still thrown at that send's own tick,
// not out of sendMany, whose datagrams go out.
test('sendBlockList: a check() that throws for an earlier send() is not thrown out of sendMany()', async (t) => {
  const script = `
    const dgram = require(process.env.DGRAM);
    const net = require('node:net');
    const list = new net.BlockList();
    let calls = 0;
    list.check = () => { if (calls++ === 2) throw new Error('boom'); return false; };
    process.on('uncaughtException', (e) => console.log('uncaught', e.message));
    const r = dgram.createSocket('udp4');
    r.bind(0, '127.0.0.1', () => {
      const port = r.address().port;
      const s = dgram.createSocket({ type: 'udp4', sendBlockList: list });
      const got = [];
      r.on('message', (m) => {
        got.push(String(m));
        if (got.length === 2) { console.log('got', got.join(' ')); r.close(); s.close(); }
      });
      s.bind(0, '127.0.0.1', () => {
        s.send('first', port, '127.0.0.1', () => console.log('first called back'));
        s.sendMany([{ msg: 'm1', port, address: '127.0.0.1' }, { msg: 'm2', port, address: '127.0.0.1' }], (e, n) => console.log('sendMany', e, n));
        console.log('sendMany returned');
      });
    });
  `;
  const rs = await runChild(script, { impl: 'rs' });
  t.is(rs.stderr, '');
  t.is(rs.stdout, 'sendMany returned\nuncaught boom\nsendMany null 2\ngot m1 m2\n');
});
