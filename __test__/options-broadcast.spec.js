'use strict';

// setBroadcast() end to end, inside a private network namespace (unshare -rn)
// so that nothing can leave the machine: there the only interface is lo, and
// the kernel's local table has `broadcast 127.255.255.255 dev lo`. A send to
// that address fails with EACCES until SO_BROADCAST is set, and a receiver
// bound to 0.0.0.0 gets it afterwards. Compared with node:dgram.

const test = require('ava');
const { netnsParity, netnsTest } = require('./options-helpers.js');

netnsTest(test)('broadcast to 127.255.255.255: EACCES without setBroadcast(true), delivered with it, EACCES again after setBroadcast(false)', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const BCAST = '127.255.255.255';
    const r = await h.boundSocket(dgram, 'udp4', '0.0.0.0');
    const port = tr.reg(r.address().port, 'receiver');
    const inbox = h.collect(r);
    const s = await h.boundSocket(dgram, 'udp4', '127.0.0.1');
    tr.reg(s.address().port, 'sender');
    const send = (msg) => new Promise((resolve) => s.send(msg, port, BCAST, (err, n) => resolve([h.errShape(err), n])));
    tr.push({ before: await send('no-broadcast') });
    tr.push({ set: h.capture(() => s.setBroadcast(true)) });
    tr.push({ during: await send('broadcast') });
    const [{ msg, rinfo }] = await inbox.wait(1);
    tr.push({ msg: msg.toString(), rinfo });
    tr.push({ unset: h.capture(() => s.setBroadcast(false)) });
    tr.push({ after: await send('no-broadcast-again') });
    tr.push({ received: await h.fence(inbox, port) });
    await h.closeAll(r, s);
  });
  t.is(node[0].before[0].code, 'EACCES');
  t.is(node[0].before[0].message, 'send EACCES 127.255.255.255:PORT:receiver');
  t.is(node.find((e) => 'msg' in e).msg, 'broadcast');
});

netnsTest(test)('udp6 socket: setBroadcast works (it sets SO_BROADCAST), IPv4-mapped broadcast behaves like node', async (t) => {
  const { node } = await netnsParity(t, async (dgram, tr, h) => {
    const r = await h.boundSocket(dgram, 'udp4', '0.0.0.0');
    const port = tr.reg(r.address().port, 'receiver');
    const inbox = h.collect(r);
    const s = await h.boundSocket(dgram, 'udp6', '::');
    tr.reg(s.address().port, 'sender');
    const send = (msg) => new Promise((resolve) => s.send(msg, port, '::ffff:127.255.255.255', (err, n) => resolve([h.errShape(err), n])));
    tr.push({ before: await send('a') });
    tr.push({ set: h.capture(() => s.setBroadcast(true)) });
    tr.push({ during: await send('b') });
    tr.push({ received: await h.fence(inbox, port) });
    await h.closeAll(r, s);
  });
  t.is(node[0].before[0].code, 'EACCES');
  t.deepEqual(node[node.length - 1].received, ['b']);
});
