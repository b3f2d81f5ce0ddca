'use strict';

// Process lifetime: uncaught errors (error events without listeners,
// throwing listeners, node's own queue quirks) and how the process dies.
// Every scenario runs in a child process (once with node:dgram, once with
// dgram-rs, DGRAM names the module) and the two runs must agree on exit
// code, signal, stdout, stderr and whether the child had to be killed.

const path = require('node:path');
const test = require('ava');
const { childParity, uncaughtSummary } = require('./helpers.js');
const { zeroPortStringsRejected, bindCallbackOnErrorMonitor } = require('../lib/node-version.js');

const FIXTURES = path.join(__dirname, 'fixtures');
const D = "const dgram = require(process.env.DGRAM);\n";

test('EADDRINUSE without an error listener crashes the process like node', async (t) => {
  const { node } = await childParity(t, `${D}
    const a = dgram.createSocket('udp4');
    a.bind(0, '127.0.0.1', () => {
      const b = dgram.createSocket('udp4');
      b.bind(a.address().port, '127.0.0.1');
    });
  `, { stderr: (s) => uncaughtSummary(s.replace(/:\d{4,5}/g, ':PORT').replace(/port: \d+/, 'port: PORT')) });
  t.is(node.code, 1);
});

test('a throwing message listener: uncaught, later datagrams still delivered after uncaughtException', async (t) => {
  const { node } = await childParity(t, `require(${JSON.stringify(path.join(FIXTURES, 'throwing-listener.js'))})`);
  t.is(node.stdout.trim(), 'uncaught boom 0\nmessages 5');
});

test('a throwing message listener without a handler crashes the process', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.on('message', () => { throw new Error('listener boom'); });
    s.bind(0, '127.0.0.1', () => s.send('x', s.address().port, '127.0.0.1'));
  `, { stderr: uncaughtSummary });
  t.is(node.code, 1);
});

test('node quirk: send(msg, "0") on an unbound socket throws later, uncaught, from the queue (from Node 24.19 / 26.5 at once)', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    let threw = false;
    try { s.send('x', '0', '127.0.0.1'); } catch (e) { threw = e.code; }
    console.log('sync throw:', threw);
  `, { stderr: uncaughtSummary });
  t.is(node.code, zeroPortStringsRejected ? 0 : 1);
});

test('EADDRINUSE with only a bind() callback: swallowed by its cleanup listener until Node 24.21 / 26.8, then uncaught', async (t) => {
  const { node } = await childParity(t, `${D}
    const a = dgram.createSocket('udp4');
    a.bind(0, '127.0.0.1', () => {
      const b = dgram.createSocket('udp4');
      b.bind(a.address().port, '127.0.0.1', () => console.log('listening'));
      console.log('error listeners:', b.listenerCount('error'));
      b.on('close', () => console.log('b closed'));
      setTimeout(() => { console.log('still running'); a.close(); b.close(); }, 50);
    });
  `, { stderr: (s) => uncaughtSummary(s.replace(/:\d{4,5}/g, ':PORT').replace(/port: \d+/, 'port: PORT')) });
  t.is(node.code, bindCallbackOnErrorMonitor ? 1 : 0);
});

test('node quirk: send() and close() queued behind an implicit bind: the send after close throws later', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.send('a', 9, '127.0.0.1');
    s.close(() => console.log('closed'));
    try { s.send('b', 9, '127.0.0.1'); console.log('second send accepted'); } catch (e) { console.log('threw', e.code); }
  `, { stderr: uncaughtSummary });
  t.is(node.code, 1);
});

test('node quirk: close() twice while the implicit bind is pending throws later, uncaught', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket('udp4');
    s.send('a', 9, '127.0.0.1');
    s.close();
    try { s.close(); console.log('second close accepted'); } catch (e) { console.log('threw', e.code); }
  `, { stderr: uncaughtSummary });
  t.is(node.code, 1);
});

test('an error event without listeners (lookup failure on send) is uncaught', async (t) => {
  const { node } = await childParity(t, `${D}
    const s = dgram.createSocket({ type: 'udp4', lookup: (h, f, cb) => process.nextTick(cb, Object.assign(new Error('custom lookup failure'), { code: 'ECUSTOM' })) });
    s.send('x', 1234, 'name.example');
  `, { stderr: uncaughtSummary });
  t.is(node.code, 1);
});

