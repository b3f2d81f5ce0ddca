'use strict';

// Real multicast over the loopback interface: a receiver joins a group on
// 127.0.0.1, a sender picks 127.0.0.1 as its multicast interface with
// loopback on, sends to the group, and the receiver gets the datagram with
// the sender's address in rinfo. Compared with node:dgram. Nothing leaves
// the host: the only interface ever named is 127.0.0.1, and the TTL is 1.

const test = require('ava');
const { parity, boundSocket, closeAll, collect, fence, once, errShape } = require('./helpers.js');
const { GROUP, LO } = require('./options-helpers.js');

/**
 * A receiver bound to `address`:`port` (reuseAddr) that joined `group` on
 * LO. Its inbox keeps only the payloads in `expect` (and fences): Linux
 * gives an ephemeral port that a SO_REUSEADDR socket holds to the next
 * socket that sets SO_REUSEADDR too, so a receiver may share its port with
 * another test's running at the same time (ava runs a file's tests, and
 * files, concurrently), and get its group datagrams.
 */
async function receiver(dgram, tr, name, expect, { address = '0.0.0.0', port = 0, group = GROUP } = {}) {
  const r = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise((resolve, reject) => {
    r.once('error', reject);
    r.bind(port, address, resolve);
  });
  tr.reg(r.address().port, 'receiver');
  r.addMembership(group, LO);
  const ours = new Set([...expect, 'FENCE']);
  return { sock: r, inbox: collect(r, (msg) => ours.has(msg.toString())), name };
}

/** A sender bound to 127.0.0.1 with the multicast options set. */
async function sender(dgram, { loopback = true } = {}) {
  const s = await boundSocket(dgram, 'udp4');
  s.setMulticastInterface(LO);
  s.setMulticastTTL(1);
  s.setMulticastLoopback(loopback);
  return s;
}

function sendP(s, msg, port, address) {
  return new Promise((resolve) => s.send(msg, port, address, (err, n) => resolve([errShape(err), n])));
}

test('round trip: receiver on 0.0.0.0 joined on 127.0.0.1 gets the group datagram with the sender in rinfo', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const rx = await receiver(dgram, tr, 'r', ['hello group', 'ab', '123']);
    const s = await sender(dgram);
    tr.reg(s.address().port, 'sender');
    const port = rx.sock.address().port;
    tr.push({ sent: await sendP(s, 'hello group', port, GROUP) });
    const [{ msg, rinfo }] = await rx.inbox.wait(1);
    tr.push({ msg: msg.toString(), rinfo, rinfoKeys: Object.keys(rinfo) });
    // A second datagram from a multi-buffer send, and one with offset/length.
    tr.push({ sent2: await new Promise((resolve) => s.send(['a', 'b'], port, GROUP, (e, n) => resolve([errShape(e), n]))) });
    tr.push({ sent3: await new Promise((resolve) => s.send(Buffer.from('xyz123'), 3, 3, port, GROUP, (e, n) => resolve([errShape(e), n]))) });
    await rx.inbox.wait(3);
    tr.push({ all: rx.inbox.msgs.map((m) => ({ msg: m.msg.toString(), port: m.rinfo.port })) });
    await closeAll(rx.sock, s);
  });
  t.is(node.find((e) => 'msg' in e).msg, 'hello group');
  t.deepEqual(node.find((e) => 'rinfo' in e).rinfo, { address: '127.0.0.1', family: 'IPv4', port: 'PORT:sender', size: 11 });
});

test('round trip: receiver bound to the group address itself', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const rx = await receiver(dgram, tr, 'r', ['to the group'], { address: GROUP });
    tr.push({ receiverAddress: rx.sock.address() });
    const s = await sender(dgram);
    tr.reg(s.address().port, 'sender');
    tr.push({ sent: await sendP(s, 'to the group', rx.sock.address().port, GROUP) });
    const [{ msg, rinfo }] = await rx.inbox.wait(1);
    tr.push({ msg: msg.toString(), rinfo });
    await closeAll(rx.sock, s);
  });
  t.is(node.find((e) => 'msg' in e).msg, 'to the group');
});

test('two receivers sharing the port (reuseAddr) both get each group datagram', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const a = await receiver(dgram, tr, 'a', ['one', 'two']);
    const b = await receiver(dgram, tr, 'b', ['one', 'two'], { port: a.sock.address().port });
    const s = await sender(dgram);
    tr.reg(s.address().port, 'sender');
    const port = a.sock.address().port;
    await sendP(s, 'one', port, GROUP);
    await sendP(s, 'two', port, GROUP);
    await a.inbox.wait(2);
    await b.inbox.wait(2);
    tr.push({
      a: a.inbox.msgs.map((m) => [m.msg.toString(), m.rinfo.address]),
      b: b.inbox.msgs.map((m) => [m.msg.toString(), m.rinfo.address]),
    });
    await closeAll(a.sock, b.sock, s);
  });
  t.deepEqual(node[0].a, [['one', '127.0.0.1'], ['two', '127.0.0.1']]);
});

test('an implicitly bound sender (send() on an unbound socket) reaches the group', async (t) => {
  await parity(t, async (dgram, tr) => {
    const rx = await receiver(dgram, tr, 'r', ['unicast first', 'via group']);
    const s = dgram.createSocket('udp4');
    // Unbound: the option setters fail with EBADF, so bind through send()
    // first, then set the interface and send to the group.
    const first = await new Promise((resolve) => s.send('unicast first', rx.sock.address().port, LO, (e, n) => resolve([errShape(e), n])));
    tr.reg(s.address().port, 'sender');
    s.setMulticastInterface(LO);
    s.setMulticastLoopback(true);
    tr.push({ first, sent: await sendP(s, 'via group', rx.sock.address().port, GROUP) });
    await rx.inbox.wait(2);
    tr.push({ got: rx.inbox.msgs.map((m) => [m.msg.toString(), m.rinfo]) });
    await closeAll(rx.sock, s);
  });
});

// A socket bound to 0.0.0.0 gets a group's datagrams for its port as long
// as *any* socket of the host is a member (Linux's IP_MULTICAST_ALL), so this
// test uses a group no other test joins (random, in case another copy of
// the suite runs at the same time). On the loopback interface the datagram
// is looped back by the interface itself, so turning multicast loopback off
// does not stop it: node:dgram delivers it too.
const DROP_GROUP = `239.255.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`;

test('after dropMembership group datagrams are not delivered; loopback off makes no difference on lo', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const rx = await receiver(dgram, tr, 'r', ['loopback off', 'joined', 'after drop'], { group: DROP_GROUP });
    const port = rx.sock.address().port;
    const quiet = await sender(dgram, { loopback: false });
    tr.reg(quiet.address().port, 'quiet');
    tr.push({ quietSent: await sendP(quiet, 'loopback off', port, DROP_GROUP) });
    const loud = await sender(dgram);
    tr.reg(loud.address().port, 'loud');
    tr.push({ loudSent: await sendP(loud, 'joined', port, DROP_GROUP) });
    // Until 'joined' is in: 'loopback off', sent first, arrives before it
    // where it arrives at all (not on BSD, see below).
    while (!rx.inbox.msgs.some((m) => String(m.msg) === 'joined')) await rx.inbox.wait(rx.inbox.msgs.length + 1);
    rx.sock.dropMembership(DROP_GROUP, LO);
    tr.push({ afterDropSent: await sendP(loud, 'after drop', port, DROP_GROUP) });
    // Anything sent above is queued on the receiver by now: the fence
    // datagram, sent afterwards, arrives after it.
    tr.push({ received: await fence(rx.inbox, port) });
    await closeAll(rx.sock, quiet, loud);
  });
  // Linux loops lo's multicast back through the interface; BSD (macOS) sends
  // nothing out a loopback interface and delivers only its own loopback copy.
  if (process.platform === 'linux') t.deepEqual(node.find((e) => 'received' in e).received, ['loopback off', 'joined']);
});

test('a group datagram sent by node:dgram reaches a dgram-rs receiver and vice versa', async (t) => {
  // Not a node-vs-rs trace: each implementation receives from the other.
  const { impls } = require('./helpers.js');
  const results = {};
  for (const [rxName, txName] of [['rs', 'node'], ['node', 'rs']]) {
    const tr = { reg() {} };
    const rx = await receiver(impls[rxName], tr, rxName, [`${txName}->${rxName}`]);
    const s = await sender(impls[txName]);
    await sendP(s, `${txName}->${rxName}`, rx.sock.address().port, GROUP);
    const [{ msg, rinfo }] = await rx.inbox.wait(1);
    results[rxName] = { msg: msg.toString(), fromSender: rinfo.port === s.address().port && rinfo.address === LO };
    await closeAll(rx.sock, s);
  }
  t.deepEqual(results, {
    rs: { msg: 'node->rs', fromSender: true },
    node: { msg: 'rs->node', fromSender: true },
  });
});

test('close() while joined leaves the group (a new socket on the port can join again)', async (t) => {
  await parity(t, async (dgram, tr) => {
    const rx = await receiver(dgram, tr, 'r', ['rejoined']);
    const port = rx.sock.address().port;
    rx.sock.close();
    await once(rx.sock, 'close');
    const again = await receiver(dgram, tr, 'again', ['rejoined'], { port });
    const s = await sender(dgram);
    tr.reg(s.address().port, 'sender');
    await sendP(s, 'rejoined', port, GROUP);
    const [{ msg }] = await again.inbox.wait(1);
    tr.push({ msg: msg.toString(), oldGotNothing: rx.inbox.msgs.length });
    await closeAll(again.sock, s);
  });
});
