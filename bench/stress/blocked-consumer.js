#!/usr/bin/env node
'use strict';
// Blocked consumer: a receiver process whose JS thread is busy-blocked for
// --block-ms while another process floods it (alternating 64 B and 1400 B
// datagrams) on loopback. The parent samples the receiver's VmRSS/VmHWM from
// /proc/<pid>/status, then checks that the socket receives again (a MARKER
// datagram, resent every 50 ms, arrives) once the receiver is unblocked.
//
//   node bench/stress/blocked-consumer.js [--impl node|rs|both] [--block-ms 2000]
//        [--type udp4|udp6] [--sizes 64,1400] [--json]
//
// Exits non-zero if dgram-rs's peak exceeds baseline + 64 MB or the marker
// never arrives. `run(impl, opts)` is used by __test__/reliability-flood.spec.js.

const path = require('node:path');
const fs = require('node:fs');
const dgram = require('node:dgram');
const { fork } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const LIMIT_KB = 64 * 1024;

function status(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => {
      const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
      return m ? Number(m[1]) : NaN;
    };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), threads: Number((text.match(/^Threads:\s+(\d+)/m) || [])[1]) };
  } catch {
    return null; // exited
  }
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for an IPC message matching `pred` from `child` (bounded). */
function waitFor(child, pred, ms, label) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.removeListener('message', on);
      reject(new Error(`timed out after ${ms} ms waiting for ${label}`));
    }, ms);
    const on = (msg) => {
      if (!pred(msg)) return;
      clearTimeout(timer);
      child.removeListener('message', on);
      resolve(msg);
    };
    child.on('message', on);
  });
}

async function run(impl, { blockMs = 2000, type = 'udp4', sizes = [64, 1400], sampleMs = 20 } = {}) {
  const modulePath = impl === 'node' ? 'node:dgram' : ROOT;
  const host = type === 'udp4' ? '127.0.0.1' : '::1';
  const children = [];
  const spawn = (file, args, env) => {
    const c = fork(path.join(__dirname, file), args, {
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(c);
    return c;
  };
  let sampler;
  try {
    const receiver = spawn('flood-receiver.js', [], { DGRAM: modulePath, TYPE: type });

    const { port } = await waitFor(receiver, (m) => m.ready, 10000, 'receiver ready');
    await delay(200); // let start-up allocations settle
    const base = status(receiver.pid);
    let peakRss = base.rss;
    let maxThreads = base.threads;
    sampler = setInterval(() => {
      const st = status(receiver.pid);
      if (!st) return;
      if (st.rss > peakRss) peakRss = st.rss;
      if (st.threads > maxThreads) maxThreads = st.threads;
    }, sampleMs);

    // Flood for the whole blocked period and a little more, so that the
    // receiver also drains a backlog while traffic still arrives.
    const flooder = spawn('flooder.js', [type, String(port), String(blockMs + 500), sizes.join(',')]);
    await waitFor(flooder, (m) => m.flooding, 10000, 'flooder start');
    const blocked = waitFor(receiver, (m) => m.unblocked, blockMs + 15000, 'receiver unblocked');
    receiver.send({ block: blockMs });
    const unblocked = await blocked;
    const flood = await waitFor(flooder, (m) => m.done, 15000, 'flood end');

    // Afterwards the socket must receive again.
    const markerStart = Date.now();
    const sender = dgram.createSocket(type);
    const resend = setInterval(() => sender.send('MARKER', port, host), 50);
    sender.send('MARKER', port, host);
    let marker;
    try {
      marker = await waitFor(receiver, (m) => m.marker, 5000, 'marker datagram');
    } catch (err) {
      marker = { error: err.message };
    } finally {
      clearInterval(resend);
      sender.close();
    }
    const markerMs = Date.now() - markerStart;
    clearInterval(sampler);
    sampler = undefined;
    const end = status(receiver.pid);
    const closed = waitFor(receiver, (m) => m.closed, 5000, 'receiver close').catch((e) => ({ error: e.message }));
    receiver.send({ close: true });
    await closed;
    const hwm = end ? end.hwm : NaN;
    return {
      impl,
      type,
      sizes,
      blockMs,
      baselineKB: base.rss,
      peakRssKB: Math.max(peakRss, end ? end.rss : 0),
      hwmKB: hwm,
      growthKB: Math.max(peakRss, hwm) - base.rss,
      endRssKB: end ? end.rss : NaN,
      threads: { base: base.threads, max: maxThreads },
      sent: flood.sent,
      countAtUnblock: unblocked.count,
      received: marker.count,
      markerArrived: !marker.error,
      markerMs,
    };
  } finally {
    if (sampler) clearInterval(sampler);
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }
}

function fmt(r) {
  const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
  return `${r.impl.padEnd(4)} ${r.type} baseline ${mb(r.baselineKB)}, peak RSS ${mb(r.peakRssKB)}, VmHWM ${mb(r.hwmKB)}, ` +
    `growth ${mb(r.growthKB)}; sent ${r.sent}, received ${r.received} ` +
    `(${r.sent ? ((100 * r.received) / r.sent).toFixed(1) : '?'}%), ${r.countAtUnblock} at unblock; ` +
    `threads ${r.threads.base}->${r.threads.max}; marker ${r.markerArrived ? `after ${r.markerMs} ms` : 'NEVER ARRIVED'}`;
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i === -1 ? def : args[i + 1];
  };
  const impl = opt('impl', 'both');
  const opts = {
    blockMs: Number(opt('block-ms', 2000)),
    type: opt('type', 'udp4'),
    sizes: opt('sizes', '64,1400').split(',').map(Number),
  };
  const results = [];
  for (const name of impl === 'both' ? ['node', 'rs'] : [impl]) {
    const r = await run(name, opts);
    results.push(r);
    if (!args.includes('--json')) console.log(fmt(r));
  }
  if (args.includes('--json')) console.log(JSON.stringify(results));
  const bad = results.filter((r) => r.impl === 'rs' && (r.growthKB > LIMIT_KB || !r.markerArrived));
  if (bad.length) {
    console.error('FAIL: dgram-rs grew by more than 64 MB or stopped receiving');
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 2;
  });
}

module.exports = { run, fmt, status, LIMIT_KB };
