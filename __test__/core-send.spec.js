'use strict';

// send(): argument overloads, message types, and the synchronous
// validation errors.

const test = require('ava');
const { parity, documentedDifference, capture, errShape, boundSocket, closeAll, collect, withTimeout, fence, childParity } = require('./helpers.js');

/** A server + client pair on 127.0.0.1 (or ::1), ports registered in the trace. */
async function pair(dgram, tr, type = 'udp4') {
  const server = await boundSocket(dgram, type);
  const client = await boundSocket(dgram, type);
  tr.reg(server.address().port, 'server');
  tr.reg(client.address().port, 'client');
  return { server, client, inbox: collect(server), port: server.address().port };
}

const received = (m) => ({ hex: m.msg.toString('hex'), isBuffer: Buffer.isBuffer(m.msg), rinfo: m.rinfo });

test('every send() overload on an unbound-address-less/unconnected socket', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    const msg = Buffer.from('0123456789');
    const forms = [
      ['(msg, port)', () => client.send(msg, port)],
      ['(msg, port, addr)', () => client.send(msg, port, '127.0.0.1')],
      ['(msg, port, cb)', (cb) => client.send(msg, port, cb)],
      ['(msg, port, addr, cb)', (cb) => client.send(msg, port, '127.0.0.1', cb)],
      ['(msg, off, len, port, addr, cb)', (cb) => client.send(msg, 2, 3, port, '127.0.0.1', cb)],
      ['(msg, off, len, port, cb)', (cb) => client.send(msg, 4, 2, port, cb)],
      ['(msg, off, len, port)', () => client.send(msg, 1, 1, port)],
      ['(msg, off, len, port, addr)', () => client.send(msg, 0, 10, port, '127.0.0.1')],
      ['(msg, String(port), addr, cb)', (cb) => client.send(msg, String(port), '127.0.0.1', cb)],
      ['(msg, port, undefined, cb)', (cb) => client.send(msg, port, undefined, cb)],
      ['(msg, port, null, cb)', (cb) => client.send(msg, port, null, cb)],
      ['(msg, off, len, port, undefined, cb)', (cb) => client.send(msg, 0, 2, port, undefined, cb)],
      ['(msg, port, addr, "not a function")', () => client.send(msg, port, '127.0.0.1', 'nope')],
      ['(msg, 0, 0, port, addr, cb) zero length', (cb) => client.send(msg, 0, 0, port, '127.0.0.1', cb)],
      ['(msg, 10, 0, port, cb) offset at end', (cb) => client.send(msg, 10, 0, port, cb)],
      ['(msg, "1", "2", port, cb) string offset/length', (cb) => client.send(msg, '1', '2', port, cb)],
    ];
    for (const [label, fn] of forms) {
      const before = inbox.msgs.length;
      let cbArgs = 'not called';
      let r;
      const cbDone = new Promise((resolve) => {
        r = capture(() => fn(function (...args) {
          cbArgs = { args: args.map((a) => (a instanceof Error ? errShape(a) : a)), self: this === client };
          resolve();
        }), client);
        if (fn.length === 0 || r.threw) resolve();
        tr.push({ label, r });
      });
      await withTimeout(cbDone, 3000, `${label} callback`);
      if (r.threw) continue;
      const [m] = (await inbox.wait(before + 1)).slice(before);
      tr.push({ label, cbArgs, got: received(m) });
    }
    await fence(inbox, port);
    tr.push({ total: inbox.msgs.length });
    await closeAll(server, client);
  });
  t.is(node[0].r.returned, 'undefined');
});

test('message types: Buffer, TypedArrays, DataView, strings, arrays, empty', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    const big = Buffer.from('abcdefghijklmnop');
    const cases = [
      ['Buffer', Buffer.from('buffer')],
      ['Buffer slice with byteOffset', big.subarray(3, 7)],
      ['Uint8Array', new Uint8Array([1, 2, 3, 255])],
      ['Uint16Array', new Uint16Array([0x0102, 0xfffe])],
      ['Int32Array', new Int32Array([-1, 7])],
      ['Float64Array', new Float64Array([1.5])],
      ['Uint8Array view with offset', new Uint8Array(big.buffer, big.byteOffset + 2, 3)],
      ['DataView', new DataView(big.buffer, big.byteOffset + 5, 4)],
      ['ascii string', 'hello'],
      ['utf8 multibyte string', 'héllo €𝄞'],
      ['empty string', ''],
      ['empty Buffer', Buffer.alloc(0)],
      ['empty array', []],
      ['array of mixed', [Buffer.from('a'), 'bé', new Uint8Array([0x63]), new DataView(big.buffer, big.byteOffset, 2), new Uint16Array([0x4142])]],
      ['array of one string', ['solo']],
      ['array with empty items', ['', Buffer.alloc(0)]],
    ];
    for (const [label, msg] of cases) {
      const before = inbox.msgs.length;
      const cb = await withTimeout(new Promise((resolve) => {
        client.send(msg, port, '127.0.0.1', (err, bytes) => resolve({ err: errShape(err), bytes }));
      }), 3000, label);
      const [m] = (await inbox.wait(before + 1)).slice(before);
      tr.push({ label, cb, got: received(m), size: m.rinfo.size, len: m.msg.length });
    }
    await closeAll(server, client);
  });
  t.is(node[9].cb.bytes, Buffer.byteLength('héllo €𝄞'));
  t.is(node[12].len, 0);
});

test('offset/length slicing works on strings and typed arrays (byte offsets)', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    const cases = [
      ['string', 'héllo world', 1, 4],
      ['Uint16Array', new Uint16Array([0x1122, 0x3344, 0x5566]), 1, 3],
      ['DataView', new DataView(new ArrayBuffer(8)), 2, 2],
      ['Buffer', Buffer.from('0123456789'), 9, 1],
    ];
    for (const [label, msg, off, len] of cases) {
      const before = inbox.msgs.length;
      const bytes = await withTimeout(new Promise((resolve) => client.send(msg, off, len, port, '127.0.0.1', (e, n) => resolve(n))));
      const [m] = (await inbox.wait(before + 1)).slice(before);
      tr.push({ label, bytes, got: received(m) });
    }
    await closeAll(server, client);
  });
});

test('ERR_BUFFER_OUT_OF_BOUNDS for offset/length outside the buffer', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    const buf = Buffer.alloc(10);
    for (const [off, len] of [[11, 0], [10, 1], [5, 6], [-1, 1], [0, -1], [0, 11], [2 ** 32, 0], ['x', 11], [NaN, 20]]) {
      tr.push({ off: String(off), len: String(len), r: capture(() => s.send(buf, off, len, 1234, '127.0.0.1')) });
    }
    tr.push({ string: capture(() => s.send('abc', 0, 4, 1234, '127.0.0.1')) });
    tr.push({ stillUnbound: capture(() => s.address()) });
    s.close();
  });
  t.is(node[0].r.threw.code, 'ERR_BUFFER_OUT_OF_BOUNDS');
});

test('ERR_INVALID_ARG_TYPE for bad messages and bad list items', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    const bad = [123, null, undefined, true, {}, { length: 1 }, new ArrayBuffer(4), Symbol('s'), () => {}, 10n];
    for (const msg of bad) tr.push({ msg: typeof msg, r: capture(() => s.send(msg, 1234, '127.0.0.1')) });
    for (const list of [[1], ['ok', 2], [null], [Buffer.from('a'), {}], [new ArrayBuffer(1)], [['nested']]]) {
      tr.push({ list: list.map((x) => typeof x), r: capture(() => s.send(list, 1234, '127.0.0.1')) });
    }
    // With offset/length the message goes through the slicing path.
    tr.push({ sliced: capture(() => s.send(42, 0, 1, 1234, '127.0.0.1')) });
    tr.push({ slicedList: capture(() => s.send(['a'], 0, 1, 1234, '127.0.0.1')) });
    tr.push({ stillUnbound: capture(() => s.address()) });
    s.close();
  });
  t.is(node[0].r.threw.code, 'ERR_INVALID_ARG_TYPE');
});

test('ERR_SOCKET_BAD_PORT for bad ports on an unconnected socket', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    const ports = [0, -1, 65536, 'abc', NaN, undefined, null, 1.5, '', ' ', Infinity, true, {}, [], 2 ** 32, -0, '70000', '-1', '0x10000'];
    for (const port of ports) {
      tr.push({ port: typeof port === 'number' ? String(port) : JSON.stringify(port), r: capture(() => s.send('x', port, '127.0.0.1')) });
    }
    for (const port of [0, 'abc', undefined]) {
      tr.push({ form: 'off,len', port: String(port), r: capture(() => s.send('xy', 0, 1, port, '127.0.0.1')) });
      tr.push({ form: 'cb', port: String(port), r: capture(() => s.send('xy', port, () => {})) });
    }
    tr.push({ noArgs: capture(() => s.send()) });
    tr.push({ onlyMsg: capture(() => s.send('x')) });
    tr.push({ msgAndCb: capture(() => s.send('x', () => {})) });
    tr.push({ stillUnbound: capture(() => s.address()) });
    s.close();
  });
  t.is(node[0].r.threw.code, 'ERR_SOCKET_BAD_PORT');
});

test('ERR_INVALID_ARG_TYPE for a non-string address', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    for (const address of [123, {}, true, [], Symbol.iterator]) {
      tr.push({ address: typeof address, r: capture(() => s.send('x', 1234, address)) });
      tr.push({ address: typeof address, withCb: capture(() => s.send('x', 1234, address, () => {})) });
    }
    tr.push({ stillUnbound: capture(() => s.address()) });
    await new Promise((resolve) => setImmediate(resolve));
    s.close();
  });
});

test('validation order: message type vs port vs closed socket', async (t) => {
  await parity(t, async (dgram, tr) => {
    const s = dgram.createSocket('udp4');
    tr.push({ badMsgBadPort: capture(() => s.send(123, 0)) });
    tr.push({ badMsgBadAddr: capture(() => s.send(123, 1234, 5)) });
    tr.push({ badPortBadAddr: capture(() => s.send('x', 0, 5)) });
    s.close();
    tr.push({ closedBadMsg: capture(() => s.send(123, 1234, '127.0.0.1')) });
    tr.push({ closedBadPort: capture(() => s.send('x', 0, '127.0.0.1')) });
    tr.push({ closedOk: capture(() => s.send('x', 1234, '127.0.0.1')) });
    tr.push({ closedOkCb: capture(() => s.send('x', 1234, '127.0.0.1', () => {})) });
  });
});

test('sendto(): legacy wrapper validation and delivery', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    tr.push({ badOffset: capture(() => client.sendto(Buffer.from('a'), '0', 1, port, '127.0.0.1')) });
    tr.push({ badLength: capture(() => client.sendto(Buffer.from('a'), 0, null, port, '127.0.0.1')) });
    tr.push({ badPort: capture(() => client.sendto(Buffer.from('a'), 0, 1, '1234', '127.0.0.1')) });
    tr.push({ badAddress: capture(() => client.sendto(Buffer.from('a'), 0, 1, port)) });
    const bytes = await withTimeout(new Promise((resolve) => client.sendto(Buffer.from('abc'), 1, 2, port, '127.0.0.1', (e, n) => resolve(n))));
    const [m] = await inbox.wait(1);
    tr.push({ bytes, got: received(m) });
    await closeAll(server, client);
  });
});

test('sends with an omitted address and with a literal address keep their order (udp4)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    client.send('1', port);
    client.send('2', port, '127.0.0.1');
    client.send('3', port);
    client.send('4', port, '127.0.0.1');
    client.send('5', 0, 1, port);
    const msgs = await inbox.wait(5);
    tr.push(msgs.map((m) => m.msg.toString()));
    await closeAll(server, client);
  });
  t.deepEqual(node[0], ['1', '2', '3', '4', '5']);
});

// dgram-rs sends a run of equal-size datagrams to one address as one UDP
// GSO write; an empty datagram at the end of such a run was folded into it
// and lost (its callback said 0 bytes sent).
test('empty datagrams in a burst, after and between runs of equal size, each arrive (udp4, udp6)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    for (const type of ['udp4', 'udp6']) {
      const { server, client, inbox, port } = await pair(dgram, tr, type);
      const host = type === 'udp4' ? '127.0.0.1' : '::1';
      const burst = ['a', '', 'b', 'b', '', 'cc', 'cc', 'cc', [], '', 'd'];
      const calls = [];
      await new Promise((resolve) => {
        burst.forEach((msg, i) => client.send(msg, port, host, (err, bytes) => {
          calls.push([i, errShape(err), bytes]);
          if (calls.length === burst.length) resolve();
        }));
      });
      const msgs = await inbox.wait(burst.length);
      tr.push({ type, got: msgs.map((m) => m.msg.toString()), calls });
      await closeAll(server, client);
    }
  });
  t.deepEqual(node[0].got, ['a', '', 'b', 'b', '', 'cc', 'cc', 'cc', '', '', 'd']);
});

// dgram-rs copies datagrams of up to 64 bytes (which V8 may keep on its
// heap) into one shared buffer for the native send (lib/send-path.js,
// offHeap): every size around that limit, from views of every kind and at
// offsets, in a burst, one at a time and after a name lookup, and the
// echo of a received datagram, must arrive as sent.
test('small datagrams from views of every kind arrive intact, in a burst, alone, after a lookup and echoed (udp4)', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    const bytes = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255));
    const big = bytes(300, 3);
    const msgs = [];
    for (const n of [0, 1, 2, 63, 64, 65, 130]) {
      msgs.push(bytes(n, n)); // Buffer.from(array): the pool, or its own
      msgs.push(Buffer.alloc(n, n + 1)); // on V8's heap up to 64 bytes
      msgs.push(big.subarray(5, 5 + n)); // at an offset into a larger buffer
      msgs.push(new Uint8Array(bytes(n, n + 2)));
    }
    msgs.push(new Uint16Array([0x0102, 0x0304, 0x0506]), new DataView(big.buffer, big.byteOffset + 7, 9), new Float64Array([1.5]));
    const hexOf = (m) => Buffer.from(m.buffer, m.byteOffset, m.byteLength).toString('hex');
    const expected = msgs.map(hexOf);
    const calls = [];
    const sendAll = (host) => new Promise((resolve) => {
      msgs.forEach((m, i) => client.send(m, port, host, (err, n) => {
        calls.push([i, errShape(err), n]);
        if (calls.length % msgs.length === 0) resolve();
      }));
    });
    await sendAll('127.0.0.1'); // one tick: a burst
    const burst = (await inbox.wait(msgs.length)).slice(0, msgs.length).map((m) => m.msg.toString('hex'));
    const alone = [];
    for (const m of msgs) {
      client.send(m, port, '127.0.0.1');
      const got = await inbox.wait(msgs.length + alone.length + 1);
      alone.push(got[msgs.length + alone.length].msg.toString('hex'));
    }
    // Each after its own lookup, which may finish out of order (on Node too).
    await sendAll('localhost');
    const looked = (await inbox.wait(3 * msgs.length)).slice(2 * msgs.length).map((m) => m.msg.toString('hex')).sort();
    // An echo of what arrived (a received message, up to 64 bytes on V8's heap).
    const echoes = collect(client);
    server.on('message', (m, rinfo) => server.send(m, rinfo.port, rinfo.address));
    msgs.forEach((m) => client.send(m, port, '127.0.0.1'));
    const echoed = (await echoes.wait(msgs.length)).map((m) => m.msg.toString('hex'));
    const ok = [burst, alone, looked, echoed].map((got, i) => JSON.stringify(got) === JSON.stringify(i === 2 ? [...expected].sort() : expected));
    tr.push({ ok, calls: calls.sort((a, b) => a[0] - b[0]) });
    await closeAll(server, client);
  });
  t.deepEqual(node[0].ok, [true, true, true, true]);
});

// Node's docs: the send callback tells when the buffer may be reused. Before
// it, the bytes that leave are read at another moment: Node reads each
// send's buffer (and joins a message list) on its own lookup tick; dgram-rs
// joins a list at send() and reads the tick's buffers when the last of
// them has passed that tick. README, Known differences ("Timing inside a
// tick").
test('documented difference: a buffer changed before its send\'s callback (on a later tick of the same burst; a list changed right after send())', async (t) => {
  await documentedDifference(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    const a = Buffer.alloc(4, 1);
    client.send(a, port, '127.0.0.1');
    process.nextTick(() => a.fill(2));
    client.send('other', port, '127.0.0.1');
    const piece = Buffer.alloc(2, 3);
    client.send([piece, piece], port, '127.0.0.1');
    piece.fill(4);
    const msgs = await inbox.wait(3);
    tr.push(msgs.map((m) => m.msg.toString('hex')));
    await closeAll(server, client);
  }, {
    node: [['01010101', '6f74686572', '04040404']],
    rs: [['02020202', '6f74686572', '03030303']],
  });
});

// DISCREPANCIES A65: a view whose length is shadowed by an own property.
// Node reads a lone view's length natively; dgram-rs's send path reads the
// JS property (the array form reads the real bytes on both).
test('documented difference (A65): a view whose length/byteLength an own property shadows, sent alone by a bound socket', async (t) => {
  await documentedDifference(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    const views = [
      Object.defineProperty(Buffer.from('xyz'), 'length', { value: 1 }),
      Object.defineProperty(new Uint16Array([1, 2, 3]), 'byteLength', { value: 1 }),
      [Object.defineProperty(Buffer.from('xyz'), 'length', { value: 1 })],
    ];
    const sizes = [];
    for (const view of views) {
      await new Promise((resolve) => client.send(view, port, '127.0.0.1', (err, n) => {
        sizes.push(err ? err.code : n);
        resolve();
      }));
    }
    const msgs = await inbox.wait(3);
    tr.push({ sizes, got: msgs.map((m) => m.msg.toString('hex')) });
    await closeAll(server, client);
  }, {
    node: [{ sizes: [3, 6, 3], got: ['78797a', '010002000300', '78797a'] }],
    rs: [{ sizes: [1, 1, 3], got: ['78', '01', '78797a'] }],
  });
});

test('sends from several sockets in one tick reach a common receiver in send() order, with and without callbacks', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    const other = await boundSocket(dgram);
    tr.reg(other.address().port, 'other');
    client.send('a', port, '127.0.0.1');
    other.send('b', port, '127.0.0.1');
    client.send('c', port, '127.0.0.1');
    const order = [];
    const sent = (name) => () => order.push(name);
    await new Promise((resolve) => {
      other.send('d', port, '127.0.0.1', sent('d'));
      client.send('e', port, '127.0.0.1', sent('e'));
      client.send('f', port, '127.0.0.1', sent('f'));
      other.send('g', port, '127.0.0.1', (err) => {
        sent('g')(err);
        resolve();
      });
    });
    const msgs = await inbox.wait(7);
    tr.push(msgs.map((m) => m.msg.toString()), order);
    await closeAll(server, client, other);
  });
  t.deepEqual(node[0], ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
});

test('udp6: send overloads default to ::1 and rinfo is IPv6', async (t) => {
  const { node } = await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr, 'udp6');
    client.send('a', port);
    client.send('b', port, '::1');
    client.send('cd', 0, 1, port);
    await new Promise((resolve) => client.send('e', port, '::1', resolve));
    const msgs = await inbox.wait(4);
    tr.push(msgs.map(received));
    await closeAll(server, client);
  });
  t.is(node[0][0].rinfo.address, '::1');
  t.is(node[0][0].rinfo.family, 'IPv6');
});

// A single view is handed to the write as it is (Node converts nothing at
// send()): its length is read when the datagram is written, at the lookup
// step, so a view over a resizable ArrayBuffer resized or detached in the
// send()'s tick goes out at its new length, whatever its type.
test('a view\'s length is read when its datagram is written (a resizable ArrayBuffer resized, a buffer detached, in the send()\'s tick)', async (t) => {
  await parity(t, async (dgram, tr) => {
    const { server, client, inbox, port } = await pair(dgram, tr);
    const results = [];
    const cb = (name) => (err, n) => results.push(`${name} ${err ? err.code : n}`);
    const resizable = (bytes, fill) => {
      const ab = new ArrayBuffer(bytes, { maxByteLength: 16 });
      new Uint8Array(ab).fill(fill);
      return ab;
    };
    const a = resizable(4, 0x11);
    client.send(new DataView(a), port, '127.0.0.1', cb('DataView shrunk'));
    a.resize(1);
    const b = resizable(2, 0x22);
    client.send(new Uint16Array(b), port, '127.0.0.1', cb('Uint16Array grown'));
    b.resize(6);
    const c = resizable(8, 0x33);
    client.send(new Uint16Array(c), port, '127.0.0.1', cb('Uint16Array shrunk'));
    c.resize(2);
    const d = resizable(4, 0x44);
    client.send(new Uint8Array(d), port, '127.0.0.1', cb('Uint8Array grown'));
    d.resize(5);
    const e = new DataView(new ArrayBuffer(4));
    client.send(e, port, '127.0.0.1', cb('DataView detached'));
    structuredClone(e.buffer, { transfer: [e.buffer] });
    const f = resizable(8, 0x66);
    client.send(new DataView(f, 2, 4), port, '127.0.0.1', cb('DataView out of bounds'));
    f.resize(4);
    const msgs = await inbox.wait(6);
    tr.push({ results, received: msgs.map((m) => m.msg.toString('hex')).sort() });
    await closeAll(server, client);
  });
});

// Node makes a new Buffer over each piece of a message list (at send() and
// again when a send queued behind the implicit bind is replayed with the
// list): a piece whose ArrayBuffer was detached throws the TypeError of that
// construction, synchronously or, replayed, as an uncaught exception that
// also leaves the queued close() undone. A single detached view is sent
// empty on both. (DISCREPANCIES R9.)
test('a message list with a detached piece throws as on Node, at send() and at the replay after the implicit bind', async (t) => {
  const script = `
const dgram = require(process.env.DGRAM);
const detached = () => { const u = new Uint8Array(8); structuredClone(u.buffer, { transfer: [u.buffer] }); return u; };
let q;
process.on('uncaughtException', (e) => {
  console.log('uncaught', e.name, e.message);
  let bound;
  try { q.address(); bound = true; } catch { bound = false; }
  console.log('queued socket still open:', bound);
  process.exit(0);
});
const s = dgram.createSocket('udp4');
s.bind(0, '127.0.0.1', () => {
  try { s.send([detached()], 9, '127.0.0.1', () => console.log('list cb')); console.log('list accepted'); } catch (e) { console.log('list threw', e.name, e.message); }
  s.send(detached(), 9, '127.0.0.1', (e, n) => {
    console.log('single cb', e, n);
    s.close();
    q = dgram.createSocket('udp4');
    q.send(detached(), 9, '127.0.0.1', () => console.log('queued cb'));
    q.close(() => console.log('queued socket closed'));
  });
});`;
  const { node } = await childParity(t, script);
  t.is(node.stdout, 'list threw TypeError Cannot perform Construct on a detached ArrayBuffer\nsingle cb null 0\n'
    + 'uncaught TypeError Cannot perform Construct on a detached ArrayBuffer\nqueued socket still open: true\n');
});
