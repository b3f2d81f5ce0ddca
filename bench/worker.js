'use strict';

// One side of one benchmark run, in its own process (forked by bench/run.js).
//
//   node bench/worker.js <impl: node|rs> <role> <params as JSON>
//
// The parent drives the worker over the IPC channel: the worker answers
// { type: 'ready', ... } once its socket is bound, then waits for
// { cmd: 'start' } / { cmd: 'stop' } as its role needs, and reports
// { type: 'result', ... } (or { type: 'error', message }) with process.send.
// Every role is bounded twice: by its own duration / count limits and by a
// hard self-destruct timer (params.hardMs), on top of the parent's timeouts
// which SIGKILL the worker. Losing the parent (IPC 'disconnect') exits too.

const path = require('node:path');
const v8 = require('node:v8');

const [impl, role, rawParams] = process.argv.slice(2);
const params = JSON.parse(rawParams || '{}');

// The only difference between the two implementations: which module is used.
const dgram = impl === 'rs' ? require(path.join(__dirname, '..')) : require('node:dgram');

const hard = setTimeout(() => {
  fail(`${role}: hard timeout (${params.hardMs} ms) in the worker`, 3);
}, params.hardMs || 30000);
hard.unref(); // the IPC channel keeps us alive; this timer must not

process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => fail(`${role}: uncaught ${err && err.stack ? err.stack : err}`, 4));

function send(msg) {
  if (process.connected) process.send(msg);
}

// Reports an error and exits once the message is flushed (process.send is
// asynchronous; exiting at once could lose it). Bounded by a short timer.
function fail(message, code) {
  if (!process.connected) process.exit(code);
  process.send({ type: 'error', message }, () => process.exit(code));
  setTimeout(() => process.exit(code), 500).unref();
}

// Resolves with the next IPC command named `cmd` (commands are few and
// strictly ordered by the parent, so a one-shot listener is enough).
function nextCommand(cmd) {
  return new Promise((resolve) => {
    const on = (msg) => {
      if (msg && msg.cmd === cmd) {
        process.off('message', on);
        resolve(msg);
      }
    };
    process.on('message', on);
  });
}

function cpuMicros(since) {
  const u = process.cpuUsage(since);
  return u.user + u.system;
}

// The flood sender's fill byte, checked by the receiver.
const FILL = 0x61;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const immediate = () => new Promise((r) => setImmediate(r));

function bindSocket(type, host) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(type);
    sock.once('error', reject);
    sock.bind(0, host, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

function typeOf(host) {
  return host.includes(':') ? 'udp6' : 'udp4';
}

// ---------------------------------------------------------------------------
// flood / paced receiver: counts datagrams between 'start' and 'stop'.
// CPU is the whole process (JS thread + any native threads) over that window;
// the parent leaves the receiver idle but for the flood inside the window.

async function floodRecv() {
  const sock = await bindSocket(typeOf(params.host), params.host);
  let counting = false;
  let received = 0;
  let bytes = 0;
  let badSize = 0;
  let badData = 0;
  const badSizes = new Set(); // a few of the wrong sizes seen, for the notes
  const last = params.size - 1;
  sock.on('message', (msg) => {
    if (!counting) return;
    received++;
    bytes += msg.length;
    if (msg.length !== params.size) {
      badSize++;
      if (badSizes.size < 5) badSizes.add(msg.length);
    } else if (msg[0] !== FILL || msg[last] !== FILL) {
      // first and last byte only: a mis-split super-packet shows up here
      // without the check costing more than the receive it measures.
      badData++;
    }
  });
  sock.on('error', (err) => send({ type: 'error', message: `receiver socket error: ${err.message}` }));
  send({ type: 'ready', port: sock.address().port, recvBuf: sock.getRecvBufferSize() });

  await nextCommand('start');
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  counting = true;
  send({ type: 'started' });

  await nextCommand('stop');
  counting = false;
  const cpu = cpuMicros(cpu0);
  const windowMs = Number(process.hrtime.bigint() - t0) / 1e6;
  send({ type: 'result', received, bytes, badSize, badSizes: [...badSizes], badData, cpuMicros: cpu, windowMs });
}

// ---------------------------------------------------------------------------
// flood sender: batches of `batch` fire-and-forget sends, then setImmediate so
// the event loop turns (and node:dgram's nextTick-deferred sends go out).
// Only the last send of each batch carries a callback, to check that send
// callbacks are not lost without paying for one per datagram.
// paced sender (params.rate): a 1 ms interval tops the count up to
// rate * elapsed, so the average rate is accurate even though timers are
// coarse. A burst is capped at 3 ms worth (150 datagrams at 50k/s): after a
// stalled tick on a loaded machine the sender falls behind (reported by the
// parent) rather than catching up in bursts of hundreds, which overflow a
// default receive buffer (~200 KB holds only a few hundred small datagrams)
// and turn the paced case into a loss measurement.

async function floodSend() {
  const sock = await bindSocket(typeOf(params.host), params.host);
  sock.on('error', (err) => send({ type: 'error', message: `sender socket error: ${err.message}` }));
  const buf = Buffer.alloc(params.size, FILL);
  send({ type: 'ready' });
  await nextCommand('start');

  let sent = 0;
  let callbacks = 0;
  let cbErrors = 0;
  let withCallback = 0;
  const onSent = (err) => {
    callbacks++;
    if (err) cbErrors++;
  };
  const maxSends = params.maxSends || 50e6;
  const durationNs = BigInt(Math.round(params.durationMs * 1e6));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let elapsedNs = 0n;
  let maxGapMs = 0; // paced: the longest gap between two timer ticks

  if (params.rate) {
    const cap = Math.max(1, Math.ceil((params.rate * 3) / 1000));
    let lastTick = t0;
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const now = process.hrtime.bigint();
        maxGapMs = Math.max(maxGapMs, Number(now - lastTick) / 1e6);
        lastTick = now;
        elapsedNs = now - t0;
        if (elapsedNs >= durationNs || sent >= maxSends) {
          clearInterval(timer);
          resolve();
          return;
        }
        const due = Math.min(cap, Math.floor((params.rate * Number(elapsedNs)) / 1e9) - sent);
        for (let i = 0; i < due; i++) {
          sock.send(buf, params.port, params.host);
          sent++;
        }
      }, 1);
    });
  } else {
    const batch = params.batch || 64;
    const many = params.sendMany ? Array.from({ length: batch }, () => ({ msg: buf, port: params.port, address: params.host })) : null;
    // Safety valve only: if sends pile up in the socket's queue (the kernel
    // said EAGAIN), let the event loop turn instead of growing memory.
    const maxQueued = 10000;
    for (;;) {
      elapsedNs = process.hrtime.bigint() - t0;
      if (elapsedNs >= durationNs || sent >= maxSends) break;
      if (sock.getSendQueueCount() < maxQueued) {
        if (many) {
          // dgram-rs's batch API: one call per batch, one callback.
          sock.sendMany(many, onSent);
        } else {
          for (let i = 0; i < batch - 1; i++) sock.send(buf, params.port, params.host);
          sock.send(buf, params.port, params.host, onSent);
        }
        sent += batch;
        withCallback++;
      }
      await immediate();
    }
  }
  const cpu = cpuMicros(cpu0);
  const elapsedMs = Number(elapsedNs) / 1e6;

  // Give outstanding callbacks a moment (bounded) before reporting.
  for (let i = 0; i < 100 && callbacks < withCallback; i++) await sleep(10);
  send({
    type: 'result',
    sent,
    elapsedMs,
    cpuMicros: cpu,
    withCallback,
    callbacks,
    cbErrors,
    maxGapMs,
    queuedAtEnd: sock.getSendQueueCount(),
  });
}

// ---------------------------------------------------------------------------
// echo server (pingpong and echo-load): sends every datagram back.

async function echoServer() {
  const sock = await bindSocket(typeOf(params.host), params.host);
  let echoed = 0;
  let badSize = 0;
  sock.on('message', (msg, rinfo) => {
    echoed++;
    if (params.size && msg.length !== params.size) badSize++;
    sock.send(msg, rinfo.port, rinfo.address);
  });
  sock.on('error', (err) => send({ type: 'error', message: `echo server socket error: ${err.message}` }));
  // When the server is the side under test, the parent marks the start
  // and the end of the clients' measurement window: CPU and echoes are
  // counted over it.
  let measured = {};
  nextCommand('mark').then(() => {
    const mark = { cpu: process.cpuUsage(), echoed };
    return nextCommand('unmark').then(() => {
      measured = { cpuMicros: cpuMicros(mark.cpu), measuredEchoes: echoed - mark.echoed };
    });
  });
  send({ type: 'ready', port: sock.address().port });
  await nextCommand('stop');
  send({ type: 'result', echoed, badSize, ...measured });
}

// ---------------------------------------------------------------------------
// pingpong client: one 64 B datagram in flight; the next is sent from the
// 'message' handler. Every send has a callback (counted: lost callbacks show
// up as callbacks < sends). The first 4 bytes carry a sequence number so
// that a 50 ms watchdog can resend a lost datagram (reported as `resends`)
// without ever putting two in flight: a late duplicate reply is ignored.

async function pingpongClient() {
  const sock = await bindSocket(typeOf(params.host), params.host);
  const buf = Buffer.alloc(params.size || 64, 0x62);
  const total = params.warmup + params.count;
  const samples = new Float64Array(params.count);
  let done = 0; // completed round trips (= sequence number in flight)
  let sends = 0;
  let callbacks = 0;
  let cbErrors = 0;
  let resends = 0;
  let stale = 0;
  let tSend = 0n;
  let cpu0 = null; // CPU counted from the end of the warm-up
  let cpu = 0;
  const onSent = (err) => {
    callbacks++;
    if (err) cbErrors++;
  };
  send({ type: 'ready' });
  await nextCommand('start');
  const deadline = process.hrtime.bigint() + BigInt(params.durationMs) * 1000000n;

  await new Promise((resolve) => {
    let lastDone = -1;
    const finish = () => {
      if (cpu0) cpu = cpuMicros(cpu0);
      clearInterval(watchdog);
      sock.removeAllListeners('message');
      resolve();
    };
    // The buffer is rewritten only after the previous datagram came back,
    // i.e. long after both implementations handed it to the kernel.
    const ping = () => {
      sends++;
      buf.writeUInt32LE(done, 0);
      tSend = process.hrtime.bigint();
      sock.send(buf, params.port, params.host, onSent);
    };
    sock.on('message', (msg) => {
      const now = process.hrtime.bigint();
      if (msg.length !== buf.length || msg.readUInt32LE(0) !== done) {
        stale++; // a duplicate after a resend, or corrupted
        return;
      }
      if (done >= params.warmup) samples[done - params.warmup] = Number(now - tSend) / 1000;
      done++;
      if (done === params.warmup) cpu0 = process.cpuUsage();
      if (done >= total || now >= deadline) return finish();
      ping();
    });
    if (params.warmup === 0) cpu0 = process.cpuUsage();
    const watchdog = setInterval(() => {
      if (process.hrtime.bigint() >= deadline) return finish();
      if (done === lastDone) {
        resends++;
        ping();
      }
      lastDone = done;
    }, 50);
    ping();
  });

  for (let i = 0; i < 100 && callbacks < sends; i++) await sleep(10);
  const measured = Math.max(0, done - params.warmup);
  const lat = Array.from(samples.subarray(0, measured)).sort((a, b) => a - b);
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : NaN);
  send({
    type: 'result',
    roundTrips: measured,
    cpuMicros: cpu,
    medianUs: pct(50),
    p99Us: pct(99),
    sends,
    callbacks,
    cbErrors,
    resends,
    stale,
  });
}

// ---------------------------------------------------------------------------
// echo-load client: `sockets` sockets with `inflight` datagrams each in
// flight against one echo server; every reply is answered with a new send.
// Replies are counted only after a warm-up. A socket that has heard nothing
// for three 100 ms watchdog ticks is presumed to have lost its datagrams and
// is refilled (reported as `refills`; expected 0 on loopback).

async function echoClient() {
  const socks = [];
  for (let i = 0; i < params.sockets; i++) socks.push(await bindSocket(typeOf(params.host), params.host));
  const buf = Buffer.alloc(params.size || 64, 0x63);
  send({ type: 'ready' });
  await nextCommand('start');

  let counting = false;
  let running = true;
  let replies = 0;
  let sends = 0;
  let callbacks = 0;
  let cbErrors = 0;
  let refills = 0;
  let badSize = 0;
  const onSent = (err) => {
    callbacks++;
    if (err) cbErrors++;
  };
  const heard = new Array(socks.length).fill(0);
  const quietTicks = new Array(socks.length).fill(0);
  const lastHeard = heard.slice();
  const shoot = params.callbacks === false
    ? (s) => {
        sends++;
        callbacks++; // nothing to wait for
        s.send(buf, params.port, params.host);
      }
    : (s) => {
        sends++;
        s.send(buf, params.port, params.host, onSent);
      };
  socks.forEach((s, i) => {
    s.on('message', (msg) => {
      heard[i]++;
      if (msg.length !== buf.length) badSize++;
      if (counting) replies++;
      if (running) shoot(s);
    });
    for (let k = 0; k < params.inflight; k++) shoot(s);
  });
  const watchdog = setInterval(() => {
    socks.forEach((s, i) => {
      quietTicks[i] = heard[i] === lastHeard[i] ? quietTicks[i] + 1 : 0;
      lastHeard[i] = heard[i];
      if (quietTicks[i] >= 3) {
        quietTicks[i] = 0;
        refills++;
        for (let k = 0; k < params.inflight; k++) shoot(s);
      }
    });
  }, 100);

  await sleep(params.warmupMs);
  counting = true;
  send({ type: 'counting' });
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  await sleep(params.durationMs);
  counting = false;
  send({ type: 'counted' });
  const cpu = cpuMicros(cpu0);
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  running = false;
  clearInterval(watchdog);
  for (let i = 0; i < 100 && callbacks < sends; i++) await sleep(10);
  send({ type: 'result', replies, elapsedMs, cpuMicros: cpu, sends, callbacks, cbErrors, refills, badSize });
}

// ---------------------------------------------------------------------------
// churn: create, bind to 127.0.0.1:0, wait for 'listening', close, and wait
// for 'close' -- sequentially, so each socket is fully gone (as far as the
// API can tell) before the next one exists. Waiting for 'close' makes the
// figure comparable: both implementations emit it on a later tick.
// Memory (process.memoryUsage(): rss, heapTotal, heapUsed, external, ...) and
// open fds are measured after a warm-up (so lazily created runtime state is
// not counted as growth), and again after a short settle + GC.

const { fdCount, threadCount } = require('./stress/process-counts.js');

// process.memoryUsage() plus the JS heap's resident size (heapTotal is what
// V8 reserved, not what is in RAM), so that RSS can be split into the JS
// heap and the rest (native allocations, code, stacks).
function memory() {
  return { ...process.memoryUsage(), heapPhysical: v8.getHeapStatistics().total_physical_size };
}

function gc() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
}

// With `roundTrip`, each socket also sends one datagram to itself and
// waits for it before closing (a short-lived request socket: the receive
// path is set up and torn down with every socket).
const churnPayload = Buffer.alloc(16, 1);
function churnOne(roundTrip) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => reject(new Error('churn: socket did not listen+close within 2 s')), 2000);
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const close = () => {
      sock.close(() => {
        clearTimeout(timer);
        resolve();
      });
    };
    sock.bind(0, '127.0.0.1', () => {
      if (!roundTrip) return close();
      sock.once('message', close);
      sock.send(churnPayload, sock.address().port, '127.0.0.1');
    });
  });
}

async function churn() {
  send({ type: 'ready' });
  await nextCommand('start');
  for (let i = 0; i < params.warmup; i++) await churnOne(params.roundTrip);
  await sleep(100);
  gc();
  const mem0 = memory();
  const fd0 = fdCount();
  const threads0 = threadCount();
  const deadline = process.hrtime.bigint() + BigInt(params.durationMs) * 1000000n;
  const t0 = process.hrtime.bigint();
  let done = 0;
  let error = null;
  // A snapshot halfway (after a GC, not counted in the time) separates
  // one-off growth (allocator arenas, caches) from growth per socket: a
  // leak keeps growing in the second half.
  const half = Math.floor(params.count / 2);
  let memMid = null;
  let pausedNs = 0n;
  try {
    while (done < params.count && process.hrtime.bigint() < deadline) {
      await churnOne(params.roundTrip);
      done++;
      if (done === half) {
        const p0 = process.hrtime.bigint();
        gc();
        memMid = memory();
        pausedNs += process.hrtime.bigint() - p0;
      }
    }
  } catch (err) {
    error = err.message;
  }
  const elapsedMs = Number(process.hrtime.bigint() - t0 - pausedNs) / 1e6;
  const fdImmediate = fdCount() - fd0;
  await sleep(200);
  gc();
  const mem1 = memory();
  send({
    type: 'result',
    done,
    elapsedMs,
    mem0,
    memMid,
    mem1,
    fdDelta: fdCount() - fd0,
    fdDeltaImmediate: fdImmediate,
    threadsDelta: threadCount() - threads0,
    gcExposed: !!global.gc,
    error,
  });
}

// ---------------------------------------------------------------------------

const roles = {
  'flood-recv': floodRecv,
  'flood-send': floodSend,
  'echo-server': echoServer,
  'pingpong-client': pingpongClient,
  'echo-client': echoClient,
  churn,
};

if (!roles[role]) {
  fail(`unknown role ${role}`, 2);
} else {
  roles[role]().then(
    // Stay alive until the parent says so (or disconnects): an exiting sender
    // must not race the parent's reads of other workers.
    () => nextCommand('exit').then(() => process.exit(0)),
    (err) => fail(`${role}: ${err && err.stack ? err.stack : err}`, 1),
  );
}
