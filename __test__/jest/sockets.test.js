'use strict';

// Sockets in jest's test environment (a `process` object of its own per
// test file, fake timers that replace its nextTick). Every test closes what
// it opened; the run must end with no open handle reported
// (--detectOpenHandles) and exit 0, with node:dgram and with dgram-rs
// (DGRAM names the module). Run also with --test-udp-no-try-send, where
// every send is queued.

const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { internals } = require('../helpers.js');

const realDgram = require(process.env.DGRAM);

// Every socket a test creates, until it closes: a test that fails before
// its own close() would otherwise leave it open, and jest would hang on it
// instead of reporting the failure (afterEach closes what is left).
const open = new Set();
const dgram = {
  createSocket(...args) {
    const s = realDgram.createSocket(...args);
    open.add(s);
    s.once('close', () => open.delete(s));
    return s;
  },
};
afterEach(() => Promise.all([...open].map((s) => new Promise((resolve) => {
  try {
    s.close(resolve);
  } catch {
    resolve();
  }
}))));

// dgram-rs's receive counters (process-wide), to check that a test took the
// path it is about; null on node:dgram.
function rsStats() {
  if (process.env.DGRAM === 'node:dgram') return null;
  return require(path.join(process.env.DGRAM, 'binding.js')).receiveStats();
}

// With every send queued (--test-udp-no-try-send), dgram-rs's drain thread
// writes them while this thread goes on: wait, without giving the event
// loop a turn (so nothing is read meanwhile), until all of the client's
// sends are in the kernel, as they are when each is written at its
// lookup tick. The lookups run on the ticks queued by send() (a few
// nextTick hops let them and the outbox's flush run first).
async function allWritten(s) {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => process.nextTick(resolve));
  const { handle } = internals(s);
  const until = Date.now() + 5000;
  while (handle.unwrittenSends() !== 0 && Date.now() < until);
}

const closed = (s) => new Promise((resolve) => s.close(resolve));
const bound = (s, address = '127.0.0.1') => new Promise((resolve, reject) => {
  s.once('error', reject);
  s.bind(0, address, () => {
    s.removeListener('error', reject);
    resolve(s.address().port);
  });
});

function inbox(s) {
  const got = [];
  let waiter = null;
  s.on('message', (m) => {
    got.push(String(m));
    if (waiter && waiter.pred(got)) waiter.resolve(got);
  });
  return {
    got,
    until(pred) {
      if (pred(got)) return Promise.resolve(got);
      return new Promise((resolve) => { waiter = { pred, resolve }; });
    },
  };
}

test('create, bind, send, receive, close (udp4 and udp6)', async () => {
  for (const [type, address] of [['udp4', '127.0.0.1'], ['udp6', '::1']]) {
    const server = dgram.createSocket(type);
    const rx = inbox(server);
    const port = await bound(server, address);
    const client = dgram.createSocket(type);
    const n = await new Promise((resolve, reject) => client.send('hello', port, address, (err, bytes) => (err ? reject(err) : resolve(bytes))));
    expect(n).toBe(5);
    await rx.until((g) => g.length === 1);
    expect(rx.got).toEqual(['hello']);
    await Promise.all([closed(server), closed(client)]);
  }
});

test('a burst of 200 datagrams in one tick (read ahead by dgram-rs)', async () => {
  const server = dgram.createSocket('udp4');
  const rx = inbox(server);
  const port = await bound(server);
  const client = dgram.createSocket('udp4');
  await bound(client);
  const before = rsStats();
  for (let i = 0; i < 200; i++) client.send(`b${i}${'x'.repeat(i % 7)}`, port, '127.0.0.1');
  if (before) await allWritten(client);
  await rx.until((g) => g.length === 200);
  expect(rx.got[199]).toBe(`b199${'x'.repeat(199 % 7)}`);
  if (before) expect(rsStats().readAheads).toBeGreaterThan(before.readAheads);
  await Promise.all([closed(server), closed(client)]);
});

test('a stream of 3000 datagrams from a worker thread (timer-driven reads on dgram-rs)', async () => {
  const server = dgram.createSocket('udp4');
  const rx = inbox(server);
  const port = await bound(server);
  // dgram-rs switches to timer-driven reads when wake-ups come close
  // together; a busy machine may need more than one round to get there.
  const before = rsStats();
  for (let round = 0; round < 10; round++) {
    const worker = new Worker(path.join(__dirname, '..', 'fixtures', 'stream-sender.js'), { workerData: { port, count: 3000, burst: 3 } });
    await new Promise((resolve) => worker.once('exit', resolve));
    if (!before || rsStats().streams > before.streams) break;
  }
  // Reported, not failed here: open-handles.spec.js runs the project again
  // once, then fails if it still sees this.
  // (Linux only: elsewhere dgram-rs has no stream mode.)
  if (process.platform === 'linux' && before && rsStats().streams === before.streams) console.warn('NO_STREAM_MODE: dgram-rs did not switch to its stream mode');
  // UDP may have dropped some: 'end' until it arrives.
  const fin = dgram.createSocket('udp4');
  for (let i = 0; i < 100 && !rx.got.includes('end'); i++) {
    fin.send('end', port, '127.0.0.1');
    await Promise.race([rx.until((g) => g.includes('end')), new Promise((resolve) => setTimeout(resolve, 30))]);
  }
  expect(rx.got).toContain('end');
  expect(rx.got.length).toBeGreaterThan(100);
  await Promise.all([closed(server), closed(fin)]);
});

test('sends then close() in the same tick and on the next tick', async () => {
  const server = dgram.createSocket('udp4');
  const port = await bound(server);
  const calls = [];
  const a = dgram.createSocket('udp4');
  await bound(a);
  for (let i = 0; i < 5; i++) a.send(`a${i}`, port, '127.0.0.1', (err) => calls.push(err ? err.code : 'ok'));
  await closed(a);
  const b = dgram.createSocket('udp4');
  await bound(b);
  const done = [];
  for (let i = 0; i < 5; i++) done.push(new Promise((resolve) => b.send(`b${i}`, port, '127.0.0.1', resolve)));
  await new Promise((resolve) => process.nextTick(resolve));
  await Promise.all([closed(b), ...done]);
  expect(calls).toEqual([]);
  await closed(server);
});

test('a connected socket whose peer is gone (ICMP errors), then closed', async () => {
  const gone = dgram.createSocket('udp4');
  const port = await bound(gone);
  await closed(gone);
  const s = dgram.createSocket('udp4');
  const errors = [];
  s.on('error', (err) => errors.push(err.code));
  await new Promise((resolve) => s.connect(port, '127.0.0.1', resolve));
  for (let i = 0; i < 20 && errors.length === 0; i++) {
    s.send('ping');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // libuv on Windows ignores ICMP port-unreachable reports (WSAECONNRESET).
  expect(errors[0]).toBe(process.platform === 'win32' ? undefined : 'ECONNREFUSED');
  await closed(s);
});

describe('under jest fake timers', () => {
  afterEach(() => jest.useRealTimers());

  for (const [name, options] of [['all faked (nextTick included)', {}], ['nextTick not faked', { doNotFake: ['nextTick', 'queueMicrotask'] }]]) {
    test(`${name}: bind, send with callbacks, receive, close`, async () => {
      jest.useFakeTimers(options);
      const server = dgram.createSocket('udp4');
      const rx = inbox(server);
      const port = await bound(server);
      const client = dgram.createSocket('udp4');
      const sent = await Promise.all([0, 1, 2].map((i) => new Promise((resolve) => client.send(`f${i}`, port, '127.0.0.1', (err, n) => resolve(err ? err.code : n)))));
      expect(sent).toEqual([2, 2, 2]);
      await rx.until((g) => g.length === 3);
      expect(rx.got).toEqual(['f0', 'f1', 'f2']);
      await Promise.all([closed(server), closed(client)]);
    });
  }
});
