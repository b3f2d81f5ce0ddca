'use strict';

// Benchmark suite: node:dgram vs dgram-rs.
//
//   node bench/run.js [--quick] [--rounds N] [--case NAME[,NAME...]]
//                     [--pairing same|node] [--list]
//
// A case measures one side of a conversation (the receiver of a flood, the
// client of a pingpong or echo-load). Each round runs the baseline
// node/node and, per pairing, dgram-rs under test: rs/rs (pairing `same`,
// both sides dgram-rs) and rs/node (pairing `node`, the peer stays
// node:dgram). Default 5 rounds (--quick: 1 round of shorter runs); the
// order of the variants is reversed every other round so that slow drifts
// of a noisy machine hit all alike. Every run uses fresh worker processes
// (bench/worker.js), one per role (sender / receiver / server / client),
// talking to the parent over IPC. The parent only orchestrates and
// aggregates: medians per variant and the ratio dgram-rs / node:dgram per
// figure, one table per pairing. Results go to stdout (Markdown),
// bench/results/latest.json and bench/results/latest.md.
//
// Robustness: every wait on a worker has a timeout; on timeout or crash the
// workers of that run are SIGKILLed, the error is printed, and the suite
// goes on. The exit code is 1 only if no run of any case succeeded.

const { execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const WORKER = path.join(__dirname, 'worker.js');

// ---------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
  const opts = { quick: false, rounds: undefined, cases: [], pairing: undefined, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--list') opts.list = true;
    else if (a.startsWith('--rounds')) opts.rounds = Number(value());
    else if (a.startsWith('--case')) opts.cases.push(...value().split(',').filter(Boolean));
    else if (a.startsWith('--pairing')) opts.pairing = value();
    else if (a === '--help' || a === '-h') opts.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (opts.rounds === undefined) opts.rounds = opts.quick ? 1 : 5;
  if (!Number.isInteger(opts.rounds) || opts.rounds < 1 || opts.rounds > 50) throw new Error('--rounds must be 1..50');
  if (opts.pairing !== undefined && !PAIRINGS.includes(opts.pairing)) throw new Error(`--pairing must be one of ${PAIRINGS.join(', ')}`);
  return opts;
}

// ---------------------------------------------------------------------------
// Workers

// A forked worker with promise-based waits on its messages. Messages are
// queued so that none is missed between two waits; a crash or exit rejects
// every pending and future wait with the exit status and the stderr tail.
class Worker {
  constructor(impl, role, params, execArgv = []) {
    this.label = `${role}[${impl}]`;
    this.queue = [];
    this.waiters = [];
    this.stderr = '';
    this.dead = null;
    this.child = fork(WORKER, [impl, role, JSON.stringify(params)], {
      execArgv,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-2000);
    });
    this.child.on('message', (msg) => {
      if (msg && msg.type === 'error') {
        this.die(new Error(`${this.label}: ${msg.message}`));
        return;
      }
      this.queue.push(msg);
      this.pump();
    });
    this.child.on('error', (err) => this.die(err));
    this.child.on('exit', (code, signal) => {
      this.die(new Error(`${this.label} exited (code ${code}, signal ${signal})${stderrSummary(this.stderr)}`));
    });
  }

  die(err) {
    if (!this.dead) this.dead = err;
    for (const w of this.waiters.splice(0)) w.reject(this.dead);
  }

  pump() {
    while (this.waiters.length) {
      const w = this.waiters[0];
      const i = this.queue.findIndex((m) => m.type === w.type);
      if (i < 0) return;
      this.waiters.shift();
      w.resolve(this.queue.splice(i, 1)[0]);
    }
  }

  // Resolves with the next message of `type`, or rejects after `ms`.
  waitFor(type, ms) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.label}: no '${type}' within ${ms} ms`));
      }, ms);
      const waiter = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
      if (this.dead) return this.die(this.dead);
      this.pump();
    });
  }

  send(msg) {
    if (this.dead) throw this.dead;
    this.child.send(msg);
  }

  // Asks the worker to exit, SIGKILLs it if it has not after `graceMs`.
  async stop(graceMs = 500) {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    try {
      if (this.child.connected) this.child.send({ cmd: 'exit' });
    } catch {
      // channel already gone: the kill below handles it
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    // Bounded too: a child that never started may never emit 'exit'.
    await Promise.race([exited, sleep(graceMs + 3000)]);
    clearTimeout(timer);
  }
}

// The useful part of a dead worker's stderr: the lines naming the error (a
// JS exception or a Rust panic), else the last few lines.
function stderrSummary(stderr) {
  const lines = stderr.trim().split('\n').filter((l) => l.trim());
  if (!lines.length) return '';
  const key = lines.filter((l) => /^\s*(\w*Error\b|Uncaught|panicked|thread '|FATAL|Segmentation)/.test(l)).slice(0, 3);
  return `\n    stderr: ${(key.length ? key : lines.slice(-4)).map((l) => l.trim()).join('\n    ')}`;
}

// Runs `body(spawn)` where spawn() forks workers; whatever happens, all
// workers forked for this run are stopped (killed if need be) afterwards.
async function withWorkers(body) {
  const workers = [];
  const spawn = (...args) => {
    const w = new Worker(...args);
    workers.push(w);
    return w;
  };
  try {
    return await body(spawn);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Pairings and variants.
//
// A case measures one side of a conversation: the side under test (the
// flood / paced receiver, the pingpong client, the echo-load client, the
// echo-server server). Each
// round runs it in up to three variants, written <side under test>/<peer>:
//
//   node/node  baseline: node:dgram on both sides
//   rs/rs      pairing `same`: dgram-rs on both sides
//   rs/node    pairing `node`: dgram-rs under test, node:dgram as the peer
//              (the flood sender, the echo server, the echo clients)
//
// The baseline is the denominator of both pairings: in the `node` pairing
// the peer is node:dgram in both runs and only the side under test changes,
// and in the `same` pairing the baseline is node:dgram on both sides, which
// is the same configuration, so it is run once per round and shared.

const VARIANTS = {
  base: { impl: 'node', peer: 'node', label: 'node/node' },
  same: { impl: 'rs', peer: 'rs', label: 'rs/rs' },
  node: { impl: 'rs', peer: 'node', label: 'rs/node' },
};
const PAIRINGS = ['same', 'node'];
const PAIRING_TITLES = {
  same: 'Both sides the same implementation',
  node: 'Peer is node:dgram, only the side under test changes',
};

// ---------------------------------------------------------------------------
// Cases. Each has a name, title(pairing), the pairings it runs in,
// figures(pairing) (key, name, which direction is better) and
// run(impl, peer) returning { values: { key: number }, extra, notes }.
// `notes` collects anything that should not happen (lost callbacks,
// resends, corrupted sizes, a sender that could not hold its rate ...).

const READY_MS = 10000; // fork + bind; generous for a loaded 2-core box

const FLOOD_FIGURES = {
  rate: { key: 'rate', name: 'received datagrams/s', better: 'higher' },
  loss: { key: 'loss', name: 'loss %', better: 'lower' },
  rxCpu: { key: 'rxCpu', name: 'recv CPU µs / received dgram', better: 'lower' },
  txCpu: { key: 'txCpu', name: 'send CPU µs / sent dgram', better: 'lower' },
};

// Saturating flood: the receiver is under test. In the `same` pairing the
// sender is the same implementation, and its CPU per datagram is reported
// too (the send path's figure); in the `node` pairing the sender is
// node:dgram in both runs, so its CPU is only kept in the JSON.
function floodCase(size, cfg) {
  return {
    name: `flood-${size}`,
    title: (p) => (p === 'node' ? `flood ${size} B, node:dgram sender` : `flood ${size} B`),
    pairings: PAIRINGS,
    figures: (p) => {
      const f = FLOOD_FIGURES;
      return p === 'same' ? [f.rate, f.loss, f.rxCpu, f.txCpu] : [f.rate, f.loss, f.rxCpu];
    },
    run: (impl, peer) => floodRun({ rxImpl: impl, txImpl: peer, size, durationMs: cfg.floodMs }),
  };
}

// A paced 50,000 × 64 B datagrams/s that either receiver keeps up with: the
// receiver's cost per datagram without saturation. The sender is the peer
// (node:dgram, one packet per datagram) or, in the `same` pairing, the same
// implementation as the receiver.
function pacedCase(cfg) {
  const rate = 50000;
  const f = FLOOD_FIGURES;
  return {
    name: 'flood-paced',
    title: (p) => (p === 'node' ? 'paced 50k/s 64 B, node:dgram sender' : 'paced 50k/s 64 B'),
    pairings: PAIRINGS,
    figures: (p) => (p === 'same' ? [f.rxCpu, f.txCpu, f.rate, f.loss] : [f.rxCpu, f.rate, f.loss]),
    run: (impl, peer) => floodRun({ rxImpl: impl, txImpl: peer, size: 64, durationMs: cfg.pacedMs, rate }),
  };
}

// dgram-rs's sendMany against a loop of send(), both sides dgram-rs: two
// figures per run. For node:dgram (which has no batch API) both are its
// send() loop; for dgram-rs one is its send() loop and the other sendMany,
// so the rows read "loop vs node's loop" and "sendMany vs node's loop"
// (their quotient: sendMany vs dgram-rs's own loop).
function sendManyCase(cfg) {
  const size = 64;
  return {
    name: 'sendmany',
    title: () => `sendMany vs send() loop, ${size} B, 64 per batch`,
    pairings: ['same'],
    figures: () => [
      { key: 'loopCpu', name: 'send CPU µs / dgram, send() loop', better: 'lower' },
      { key: 'manyCpu', name: 'send CPU µs / dgram, sendMany (node: send() loop)', better: 'lower' },
      { key: 'loopRate', name: 'sent datagrams/s, send() loop', better: 'higher' },
      { key: 'manyRate', name: 'sent datagrams/s, sendMany (node: send() loop)', better: 'higher' },
    ],
    run: async (impl, peer) => {
      const base = { rxImpl: peer, txImpl: impl, size, durationMs: cfg.floodMs };
      const loop = await floodRun(base);
      const many = impl === 'rs' ? await floodRun({ ...base, sendMany: true }) : loop;
      return {
        values: {
          loopCpu: loop.values.txCpu,
          manyCpu: many.values.txCpu,
          loopRate: loop.extra.sendRate,
          manyRate: many.extra.sendRate,
        },
        extra: { loop: loop.extra, many: many === loop ? undefined : many.extra },
        notes: [...loop.notes, ...(many === loop ? [] : many.notes.map((n) => `sendMany: ${n}`))],
      };
    },
  };
}

async function floodRun({ rxImpl, txImpl, size, durationMs, rate, sendMany }) {
  const host = '127.0.0.1';
  const hardMs = durationMs + 15000;
  return withWorkers(async (spawn) => {
    const rx = spawn(rxImpl, 'flood-recv', { host, size, hardMs });
    const { port } = await rx.waitFor('ready', READY_MS);
    const tx = spawn(txImpl, 'flood-send', { host, port, size, durationMs, rate, batch: 64, hardMs, sendMany });
    await tx.waitFor('ready', READY_MS);
    rx.send({ cmd: 'start' });
    await rx.waitFor('started', 5000);
    tx.send({ cmd: 'start' });
    const s = await tx.waitFor('result', durationMs + 5000);
    // Let the receiver drain what is still queued (at most its socket
    // buffer's worth) before closing its window.
    await sleep(250);
    rx.send({ cmd: 'stop' });
    const r = await rx.waitFor('result', 5000);
    const sendRate = s.sent / (s.elapsedMs / 1000);
    const notes = [];
    if (s.callbacks !== s.withCallback) notes.push(`send callbacks: ${s.callbacks}/${s.withCallback} called`);
    if (s.cbErrors) notes.push(`${s.cbErrors} send callbacks with an error`);
    if (r.badSize) notes.push(`${r.badSize} datagrams of the wrong size (sizes seen: ${r.badSizes.join(', ')})`);
    if (r.badData) notes.push(`${r.badData} datagrams with wrong contents`);
    if (r.received > s.sent) notes.push(`received ${r.received} > sent ${s.sent}`);
    if (s.queuedAtEnd) notes.push(`${s.queuedAtEnd} sends still queued at the end`);
    if (rate && sendRate < 0.95 * rate) notes.push(`paced sender held only ${fmt(sendRate)}/s of ${fmt(rate)}/s`);
    if (rate && s.maxGapMs > 50) notes.push(`paced sender's timer stalled for ${fmt(s.maxGapMs)} ms`);
    if (rate && r.received < 0.9 * s.sent) notes.push(`receiver got only ${fmt((100 * r.received) / s.sent)} % of a paced flow`);
    return {
      values: {
        rate: r.received / (s.elapsedMs / 1000),
        loss: s.sent ? (100 * (s.sent - r.received)) / s.sent : NaN,
        rxCpu: r.received ? r.cpuMicros / r.received : NaN,
        txCpu: s.sent ? s.cpuMicros / s.sent : NaN,
      },
      extra: { rxImpl, txImpl, sent: s.sent, received: r.received, sendRate, maxGapMs: s.maxGapMs, recvBuf: r.recvBuf },
      notes,
    };
  });
}

// One 64 B datagram in flight: the client is under test; the echo server is
// the peer.
function pingpongCase(host, cfg) {
  const v6 = host.includes(':');
  return {
    name: v6 ? 'pingpong6' : 'pingpong',
    title: (p) => `pingpong 64 B (${host})${p === 'node' ? ', node:dgram server' : ''}`,
    pairings: PAIRINGS,
    figures: () => [
      { key: 'median', name: 'round trip median µs', better: 'lower' },
      { key: 'p99', name: 'round trip p99 µs', better: 'lower' },
      { key: 'cliCpu', name: 'client CPU µs / round trip', better: 'lower' },
    ],
    run: (impl, peer) =>
      withWorkers(async (spawn) => {
        const hardMs = cfg.pingMs + 15000;
        const srv = spawn(peer, 'echo-server', { host, hardMs, size: 64 });
        const { port } = await srv.waitFor('ready', READY_MS);
        const cli = spawn(impl, 'pingpong-client', { host, port, count: cfg.pingCount, warmup: 1000, durationMs: cfg.pingMs, hardMs });
        await cli.waitFor('ready', READY_MS);
        cli.send({ cmd: 'start' });
        const c = await cli.waitFor('result', cfg.pingMs + 5000);
        srv.send({ cmd: 'stop' });
        const s = await srv.waitFor('result', 5000);
        const notes = [];
        if (c.callbacks !== c.sends) notes.push(`send callbacks: ${c.callbacks}/${c.sends} called`);
        if (c.cbErrors) notes.push(`${c.cbErrors} send callbacks with an error`);
        if (c.resends) notes.push(`${c.resends} resends after 50 ms without a reply`);
        if (c.stale) notes.push(`${c.stale} stale/duplicate replies`);
        if (s.badSize) notes.push(`echo server got ${s.badSize} datagrams of the wrong size`);
        if (c.roundTrips < 100) throw new Error(`only ${c.roundTrips} round trips measured`);
        return {
          values: { median: c.medianUs, p99: c.p99Us, cliCpu: c.cpuMicros / c.roundTrips },
          extra: { roundTrips: c.roundTrips, serverEchoed: s.echoed },
          notes,
        };
      }),
  };
}

// One echo server and one client process with `sockets` sockets, each
// keeping `inflight` 64 B datagrams in flight. The side under test is the
// client (`echo-load-*`) or the server (`echo-server-*`: what a server gets
// from ordinary clients; its replies pass no callback). The client passes
// a callback to every send() unless `callbacks` is false (`-nocb`): a send
// with a callback must be written before its callback's tick, which Node
// runs before the next message of a batch, so dgram-rs writes those one at
// a time; without callbacks, the replies to a batch leave together. The
// server's CPU is counted over the client's measurement window (from its
// 'counting' to its 'counted', relayed by the parent).
function echoLoadCase(sockets, inflight, cfg, { callbacks = true, side = 'client' } = {}) {
  const server = side === 'server';
  const shape = `${sockets} sockets × ${inflight} in flight, 64 B`;
  return {
    name: `${server ? 'echo-server' : 'echo-load'}-${sockets}x${inflight}${callbacks ? '' : '-nocb'}`,
    title: (p) => (server
      ? `echo server, clients with ${shape}${p === 'node' ? ', node:dgram clients' : ''}`
      : `echo-load ${shape}${callbacks ? '' : ', sends without callbacks'}${p === 'node' ? ', node:dgram server' : ''}`),
    pairings: PAIRINGS,
    figures: () => [
      { key: 'rtps', name: 'round trips/s', better: 'higher' },
      server
        ? { key: 'srvCpu', name: 'server CPU µs / echoed datagram', better: 'lower' }
        : { key: 'cliCpu', name: 'client CPU µs / round trip', better: 'lower' },
    ],
    run: (impl, peer) =>
      withWorkers(async (spawn) => {
        const host = '127.0.0.1';
        const hardMs = cfg.echoMs + 15000;
        const srv = spawn(server ? impl : peer, 'echo-server', { host, hardMs, size: 64 });
        const { port } = await srv.waitFor('ready', READY_MS);
        const cli = spawn(server ? peer : impl, 'echo-client', { host, port, sockets, inflight, callbacks, warmupMs: 300, durationMs: cfg.echoMs, hardMs });
        await cli.waitFor('ready', READY_MS);
        cli.send({ cmd: 'start' });
        await cli.waitFor('counting', READY_MS);
        srv.send({ cmd: 'mark' });
        await cli.waitFor('counted', cfg.echoMs + 6000);
        srv.send({ cmd: 'unmark' });
        const c = await cli.waitFor('result', 6000);
        srv.send({ cmd: 'stop' });
        const s = await srv.waitFor('result', 5000);
        const notes = [];
        if (c.callbacks !== c.sends) notes.push(`send callbacks: ${c.callbacks}/${c.sends} called`);
        if (c.cbErrors) notes.push(`${c.cbErrors} send callbacks with an error`);
        if (c.refills) notes.push(`${c.refills} refills (a socket heard nothing for 300 ms)`);
        if (c.badSize) notes.push(`client got ${c.badSize} replies of the wrong size`);
        if (s.badSize) notes.push(`echo server got ${s.badSize} datagrams of the wrong size`);
        if (c.replies === 0 || (server && !s.measuredEchoes)) throw new Error('no replies measured');
        return {
          values: server
            ? { rtps: c.replies / (c.elapsedMs / 1000), srvCpu: s.cpuMicros / s.measuredEchoes }
            : { rtps: c.replies / (c.elapsedMs / 1000), cliCpu: c.cpuMicros / c.replies },
          extra: { clientSends: c.sends, serverEchoed: s.echoed },
          notes,
        };
      }),
  };
}

// One process creating and closing sockets: no peer, so it only belongs in
// the `same` table. Memory growth is split into the JS heap (its resident
// size), Buffers (external) and the rest of RSS (native allocations, e.g.
// dgram-rs's Rust side, which the JS heap figures do not see); the growth
// over the second half of the loop tells one-off growth from a leak.
function churnCase(cfg, roundTrip = false) {
  return {
    name: roundTrip ? 'churn-rt' : 'churn',
    title: () => (roundTrip
      ? `churn ${cfg.churnCount} sockets with a datagram each (create, bind, send to itself, receive, close)`
      : `churn ${cfg.churnCount} sockets (create, bind, close)`),
    pairings: ['same'],
    figures: () => [
      { key: 'rate', name: 'sockets/s', better: 'higher' },
      // Growths can be ~0 or negative: the table shows their difference
      // (dgram-rs − node:dgram) instead of a ratio.
      { key: 'rss', name: 'RSS growth MB', better: 'lower', diff: true },
      { key: 'native', name: 'RSS outside the JS heap, growth MB', better: 'lower', diff: true },
      { key: 'rss2', name: 'RSS growth over the 2nd half MB', better: 'lower', diff: true },
      { key: 'heap', name: 'JS heapUsed growth MB', better: 'lower', diff: true },
      { key: 'external', name: 'external (Buffers) growth MB', better: 'lower', diff: true },
      { key: 'fd', name: 'fd delta', better: 'lower', diff: true },
    ],
    run: (impl) =>
      withWorkers(async (spawn) => {
        const hardMs = cfg.churnMs + 15000;
        const w = spawn(impl, 'churn', { count: cfg.churnCount, warmup: 200, durationMs: cfg.churnMs, hardMs, roundTrip }, ['--expose-gc']);
        await w.waitFor('ready', READY_MS);
        w.send({ cmd: 'start' });
        const r = await w.waitFor('result', cfg.churnMs + 8000);
        if (r.error) throw new Error(`churn failed after ${r.done} sockets: ${r.error}`);
        const notes = [];
        if (r.done < cfg.churnCount) notes.push(`time limit hit after ${r.done}/${cfg.churnCount} sockets`);
        if (r.fdDeltaImmediate !== r.fdDelta) notes.push(`fd delta right after the loop ${r.fdDeltaImmediate}, after 200 ms ${r.fdDelta}`);
        if (r.threadsDelta) notes.push(`thread count changed by ${r.threadsDelta}`);
        if (!r.gcExposed) notes.push('global.gc missing: memory measured without a forced GC');
        const mb = (k, from = r.mem0) => (from ? (r.mem1[k] - from[k]) / (1024 * 1024) : NaN);
        return {
          values: {
            rate: r.done / (r.elapsedMs / 1000),
            rss: mb('rss'),
            native: mb('rss') - mb('heapPhysical'),
            rss2: mb('rss', r.memMid),
            heap: mb('heapUsed'),
            external: mb('external'),
            fd: r.fdDelta,
          },
          extra: { done: r.done, mem0: r.mem0, memMid: r.memMid, mem1: r.mem1, threadsDelta: r.threadsDelta },
          notes,
        };
      }),
  };
}

function allCases(quick) {
  const cfg = quick
    ? { floodMs: 1000, pacedMs: 1000, pingCount: 5000, pingMs: 1000, echoMs: 1000, churnCount: 2000, churnMs: 8000 }
    : { floodMs: 2000, pacedMs: 2000, pingCount: 20000, pingMs: 3000, echoMs: 3000, churnCount: 10000, churnMs: 20000 };
  return [
    ...[64, 1024, 1400, 8192].map((size) => floodCase(size, cfg)),
    pacedCase(cfg),
    sendManyCase(cfg),
    pingpongCase('127.0.0.1', cfg),
    pingpongCase('::1', cfg),
    echoLoadCase(8, 4, cfg),
    echoLoadCase(8, 16, cfg),
    echoLoadCase(8, 4, cfg, { callbacks: false }),
    echoLoadCase(8, 4, cfg, { side: 'server' }),
    echoLoadCase(8, 16, cfg, { side: 'server' }),
    churnCase(cfg),
    churnCase(cfg, true),
  ];
}

// ---------------------------------------------------------------------------
// Statistics and formatting

function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function fmt(x) {
  if (!Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Number.isInteger(x)) return String(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

function ratio(rs, node) {
  return Number.isFinite(rs) && Number.isFinite(node) && node !== 0 ? rs / node : NaN;
}

// One table per pairing; the node:dgram column is the shared node/node
// baseline, the dgram-rs column that pairing's variant.
function markdownTable(results, pairing) {
  const lines = [
    '| case | figure | node:dgram | dgram-rs | rs / node | better |',
    '| --- | --- | ---: | ---: | ---: | :---: |',
  ];
  let any = false;
  for (const c of results) {
    const p = c.pairings[pairing];
    if (!p) continue;
    any = true;
    if (!p.figures.length) {
      lines.push(`| ${p.title} | FAILED: no successful run | | | | |`);
      continue;
    }
    for (const f of p.figures) {
      let r = Number.isFinite(f.ratio) ? `${f.ratio.toFixed(2)}×` : 'n/a';
      if (f.diff !== undefined && Number.isFinite(f.diff)) r = `Δ ${f.diff > 0 ? '+' : ''}${fmt(f.diff)}`;
      const runs = f.node.length !== c.rounds || f.rs.length !== c.rounds ? ` (runs ${f.node.length}/${f.rs.length})` : '';
      lines.push(`| ${p.title} | ${f.name}${runs} | ${fmt(f.nodeMedian)} | ${fmt(f.rsMedian)} | ${r} | ${f.better === 'higher' ? '↑' : '↓'} |`);
    }
  }
  return any ? lines.join('\n') : '';
}

function tablesText(results, heading) {
  const out = [];
  for (const p of PAIRINGS) {
    const t = markdownTable(results, p);
    if (!t) continue;
    const variant = VARIANTS[p];
    out.push(`${heading} ${PAIRING_TITLES[p]}: \`${variant.label}\` vs \`${VARIANTS.base.label}\``, '', t, '');
  }
  return out.join('\n');
}

function notesText(results) {
  const out = [];
  for (const c of results) {
    for (const e of c.errors) out.push(`- **${c.name}** ERROR (${VARIANTS[e.variant].label}, round ${e.round}): ${e.message.split('\n')[0]}`);
    for (const n of c.notes) out.push(`- ${c.name} (${VARIANTS[n.variant].label}, round ${n.round}): ${n.note}`);
  }
  return out.join('\n');
}

// CPU time the hypervisor gave to other guests while this VM wanted it
// ("steal", /proc/stat, in USER_HZ ticks of 10 ms, all cores), or null
// where there is no such file. On a shared VM a run with a few % of steal
// measures the host more than the code: such runs are marked.
const STEAL_WARN_PCT = 3;
function stealTicks() {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
    return cpu[0] === 'cpu' && cpu.length > 8 ? Number(cpu[8]) : null;
  } catch {
    return null;
  }
}

// Steal as a % of the cores' time over `ms` of wall time since `from`.
function stealPct(from, ms) {
  const now = stealTicks();
  if (from === null || now === null || ms <= 0) return null;
  return ((now - from) * 10 * 100) / (ms * os.cpus().length);
}

// Which dgram-rs was measured: the commit (and whether the tree differs from
// it) and the addon's build time, since the addon is rebuilt in place.
function buildInfo() {
  const root = path.join(__dirname, '..');
  let commit = 'unknown commit';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5000 }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'index.js', 'lib'], { cwd: root, encoding: 'utf8', timeout: 5000 }).trim();
    if (dirty) commit += ' + uncommitted changes';
  } catch {
    // not a git checkout: leave 'unknown commit'
  }
  let addon = 'addon not found';
  try {
    const file = fs.readdirSync(root).find((f) => f.endsWith('.node'));
    if (file) addon = `${file} built ${fs.statSync(path.join(root, file)).mtime.toISOString()}`;
  } catch {
    // unreadable: leave as is
  }
  return `${commit}, ${addon}`;
}

// ---------------------------------------------------------------------------

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  let cases = allCases(opts.quick);
  if (opts.help || opts.list) {
    console.log('usage: node bench/run.js [--quick] [--rounds N] [--case NAME[,NAME...]] [--pairing same|node] [--list]');
    console.log('cases (a NAME also selects every case it prefixes, e.g. "flood", "echo-load"):');
    for (const c of cases) console.log(`  ${c.name.padEnd(18)} ${c.pairings.join(',').padEnd(10)} ${c.title('same')}`);
    console.log('pairings: same = rs/rs vs node/node; node = rs/node vs node/node (<side under test>/<peer>)');
    return;
  }
  if (opts.cases.length) {
    const want = (c) => opts.cases.some((n) => c.name === n || c.name.startsWith(`${n}-`) || (n === 'pingpong' && c.name === 'pingpong6'));
    cases = cases.filter(want);
  }
  const pairings = opts.pairing ? [opts.pairing] : PAIRINGS;
  cases = cases.filter((c) => c.pairings.some((p) => pairings.includes(p)));
  if (!cases.length) {
    console.error(`no case matches ${opts.cases.join(', ') || 'all'}${opts.pairing ? ` in pairing ${opts.pairing}` : ''} (try --list)`);
    process.exit(2);
  }

  const cpus = os.cpus();
  const machine = {
    cpu: cpus.length ? cpus[0].model : 'unknown',
    cores: cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
  machine.build = buildInfo();
  const started = new Date();
  const nRuns = cases.reduce((n, c) => n + 1 + c.pairings.filter((p) => pairings.includes(p)).length, 0) * opts.rounds;
  console.log(`dgram-rs bench: ${cases.length} case(s), ${opts.rounds} round(s), ${nRuns} runs${opts.quick ? ', quick' : ''}; pairings: ${pairings.join(', ')}`);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}, load ${machine.loadavg.join(' ')}`);
  console.log(`build: ${machine.build}\n`);

  const results = [];
  let okRuns = 0;
  const stealAtStart = stealTicks();
  for (const c of cases) {
    const mine = c.pairings.filter((p) => pairings.includes(p));
    // The baseline, then this case's pairings; reversed every other round
    // so that a slow drift of the machine does not favour one variant.
    const order = ['base', ...mine];
    const raw = { base: [], same: [], node: [] };
    const res = { name: c.name, rounds: opts.rounds, pairings: {}, errors: [], notes: [], runs: [] };
    const t0case = Date.now();
    for (let round = 1; round <= opts.rounds; round++) {
      for (const variant of round % 2 ? order : [...order].reverse()) {
        const { impl, peer, label } = VARIANTS[variant];
        const t0 = Date.now();
        const steal0 = stealTicks();
        try {
          const r = await c.run(impl, peer);
          const steal = stealPct(steal0, Date.now() - t0);
          if (steal !== null && steal >= STEAL_WARN_PCT) r.notes.push(`the host stole ${steal.toFixed(1)} % of the VM's CPU time during this run`);
          okRuns++;
          raw[variant].push(r.values);
          res.runs.push({ variant, impl, peer, round, ...r });
          for (const note of r.notes) res.notes.push({ variant, round, note });
          const figs = new Map();
          for (const p of variant === 'base' ? mine : [variant]) for (const f of c.figures(p)) figs.set(f.key, f);
          const shown = [...figs.keys()].map((k) => `${k}=${fmt(r.values[k])}`).join(' ');
          const warn = r.notes.length ? `  [!] ${r.notes.join('; ')}` : '';
          console.log(`[${c.name}] round ${round} ${label.padEnd(9)} ${shown}  (${((Date.now() - t0) / 1000).toFixed(1)} s)${warn}`);
        } catch (err) {
          res.errors.push({ variant, round, message: err.message });
          console.log(`[${c.name}] round ${round} ${label.padEnd(9)} ERROR: ${err.message}`);
        }
      }
    }
    res.seconds = Math.round((Date.now() - t0case) / 1000);
    for (const p of mine) {
      const figures = [];
      if (raw.base.length || raw[p].length) {
        for (const f of c.figures(p)) {
          const node = raw.base.map((v) => v[f.key]);
          const rs = raw[p].map((v) => v[f.key]);
          const nodeMedian = median(node);
          const rsMedian = median(rs);
          const fig = { key: f.key, name: f.name, better: f.better, node, rs, nodeMedian, rsMedian, ratio: f.diff ? NaN : ratio(rsMedian, nodeMedian) };
          if (f.diff) fig.diff = rsMedian - nodeMedian;
          figures.push(fig);
        }
      }
      res.pairings[p] = { title: c.title(p), variant: VARIANTS[p].label, baseline: VARIANTS.base.label, figures };
    }
    results.push(res);
  }

  // The addon is rebuilt in place while others work: say so if it changed
  // under the run, as the runs before and after measured different code.
  const buildAtEnd = buildInfo();
  const buildWarning = buildAtEnd !== machine.build ? `WARNING: dgram-rs changed during the run; at the end: ${buildAtEnd}` : '';
  const notes = [buildWarning && `- ${buildWarning}`, notesText(results)].filter(Boolean).join('\n');
  const elapsed = Math.round((Date.now() - started.getTime()) / 1000);
  machine.loadavgAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
  const steal = stealPct(stealAtStart, Date.now() - started.getTime());
  machine.stealPct = steal === null ? null : Number(steal.toFixed(2));
  console.log(`\n${tablesText(results, '###')}`);
  if (notes) console.log(`Notes:\n${notes}\n`);
  console.log(`(${elapsed} s; ratio = dgram-rs median / node:dgram median; ↑ higher is better, ↓ lower is better)`);

  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const command = ['node bench/run.js', ...process.argv.slice(2)].join(' ');
  const meta = {
    date: started.toISOString(),
    machine,
    command,
    options: { quick: opts.quick, rounds: opts.rounds, pairings, cases: cases.map((c) => c.name) },
    variants: VARIANTS,
    elapsedSeconds: elapsed,
  };
  fs.writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
  const md = [
    '# dgram-rs benchmark results',
    '',
    `- date: ${meta.date}`,
    `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.os}; load average ${machine.loadavg.join(' ')} at the start, ${machine.loadavgAtEnd.join(' ')} at the end${machine.stealPct === null ? '' : `; CPU time stolen by the host over the run: ${machine.stealPct} %`}`,
    `- node: ${machine.node}`,
    `- dgram-rs build: ${machine.build}`,
    `- command: \`${command}\` (${elapsed} s)`,
    `- rounds: ${opts.rounds}${opts.quick ? ' (quick)' : ''}; figures are medians over rounds; ratio = dgram-rs / node:dgram; ↑ higher is better, ↓ lower is better`,
    '- variants are written `<side under test>/<peer>`; the side under test is the receiver (flood, paced), the client (pingpong, echo-load), the server (echo-server), the sender (sendmany)',
    '',
    tablesText(results, '##'),
    ...(notes ? ['## Notes', '', notes, ''] : []),
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'latest.md'), md);
  console.log(`wrote ${path.relative(process.cwd(), path.join(dir, 'latest.json'))} and latest.md`);

  process.exitCode = okRuns === 0 ? 1 : 0;
}

// `node bench/run.js | head` closes stdout early: keep going (the results
// files are still written) instead of dying on EPIPE.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
});

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
