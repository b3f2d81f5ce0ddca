#!/usr/bin/env node
'use strict';
// Where the CPU of one exchange goes, side by side: the probes that
// sessions 8, 19, 27 and 35 each rewrote in /tmp to read bench/run.js's
// figures (docs/status.md, "How to measure").
//
//   node bench/stress/dissect.js echo     [--client rs|node] [--server rs|node]
//                                         [--sockets 8] [--inflight 4] [--ms 3000]
//   node bench/stress/dissect.js pingpong [--client rs|node] [--server rs|node] [--count 20000]
//   node bench/stress/dissect.js churn    [--impl rs|node] [--count 10000] [--warmup 200]
//
// echo: an echo server in a child process (no callbacks on its replies),
// the client here: N sockets keeping K datagrams of 64 B in flight, each
// reply answered by a send with a callback (bench's echo-load). Prints
// round trips/s, the client's and the server's CPU per round trip split
// into user and system time over the same window, and for a dgram-rs side
// its receive path's counters (`receiveStats()`: wake-ups, datagrams,
// read-aheads, streams). pingpong: one datagram in flight; median and p99
// round trip and the client's CPU. churn: create, bind 127.0.0.1:0, wait
// for 'listening', close, wait for 'close', sequentially (bench's churn
// without its timer and promise bookkeeping).
//
// Run it several times alternating the implementations: single runs on a
// shared VM swing by ±10 %. Pair it with `perf stat -e 'syscalls:sys_enter_*'
// --no-inherit` or `perf record -g` on the client's pid. Loopback only;
// every run is bounded in time.

const path = require('node:path');
const { fork } = require('node:child_process');

const args = process.argv.slice(2);
const mode = args[0];
function opt(name, dflt) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
}
const load = (impl) => (impl === 'rs' ? require(path.join(__dirname, '..', '..')) : require('node:dgram'));
const stats = (impl) => (impl === 'rs' ? require(path.join(__dirname, '..', '..', 'binding.js')).receiveStats() : null);
const HOST = '127.0.0.1';

// Counters that moved between two receiveStats() snapshots.
function statsDelta(before, after) {
  if (!before) return '';
  const d = {};
  for (const k of Object.keys(after)) {
    if (typeof after[k] === 'number' && after[k] !== before[k]) d[k] = after[k] - before[k];
  }
  return JSON.stringify(d);
}

const perUnit = (micros, n) => (micros / n).toFixed(2);
function cpuLine(label, cpu, n) {
  return `${label} ${perUnit(cpu.user + cpu.system, n)} µs (user ${perUnit(cpu.user, n)}, sys ${perUnit(cpu.system, n)})`;
}

// The echo server, in a child: reports its CPU between 'mark' and 'report'.
function serverChild() {
  const impl = opt('impl', 'node');
  const sock = load(impl).createSocket('udp4');
  let echoed = 0;
  sock.on('message', (msg, rinfo) => {
    echoed++;
    sock.send(msg, rinfo.port, rinfo.address);
  });
  let mark = null;
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m) => {
    if (m === 'mark') mark = { cpu: process.cpuUsage(), echoed, stats: stats(impl) };
    if (m === 'report' && mark) {
      const n = echoed - mark.echoed;
      process.send(`  server ${impl}: ${cpuLine('CPU per echo', process.cpuUsage(mark.cpu), n)} ${statsDelta(mark.stats, stats(impl))}`);
    }
  });
  sock.bind(0, HOST, () => process.send({ port: sock.address().port }));
}

function startServer(impl) {
  const child = fork(__filename, ['server', '--impl', impl]);
  const hard = setTimeout(() => child.kill('SIGKILL'), 60000);
  hard.unref();
  return new Promise((resolve) => child.once('message', (m) => resolve({ child, port: m.port })));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function echo() {
  const client = opt('client', 'rs');
  const server = opt('server', 'node');
  const sockets = Number(opt('sockets', 8));
  const inflight = Number(opt('inflight', 4));
  const ms = Number(opt('ms', 3000));
  const { child, port } = await startServer(server);
  const dgram = load(client);
  const socks = [];
  for (let i = 0; i < sockets; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(0, HOST, r));
    socks.push(s);
  }
  const buf = Buffer.alloc(64, 0x63);
  let replies = 0;
  let running = true;
  const onSent = () => {};
  for (const s of socks) {
    s.on('message', () => {
      replies++;
      if (running) s.send(buf, port, HOST, onSent);
    });
    for (let k = 0; k < inflight; k++) s.send(buf, port, HOST, onSent);
  }
  await sleep(300);
  child.send('mark');
  const st0 = stats(client);
  const r0 = replies;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const cpu = process.cpuUsage(cpu0);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const n = replies - r0;
  const st1 = stats(client);
  child.send('report');
  const serverLine = await new Promise((r) => child.once('message', r));
  running = false;
  console.log(`echo ${sockets} × ${inflight}, client ${client}, server ${server}: ${Math.round(n / secs)} round trips/s`);
  console.log(`  client ${client}: ${cpuLine('CPU per round trip', cpu, n)} ${statsDelta(st0, st1)}`);
  console.log(serverLine);
  for (const s of socks) s.close();
  child.disconnect();
}

async function pingpong() {
  const client = opt('client', 'rs');
  const server = opt('server', 'node');
  const count = Number(opt('count', 20000));
  const warmup = 1000;
  const { child, port } = await startServer(server);
  const sock = load(client).createSocket('udp4');
  const buf = Buffer.alloc(64, 1);
  const rtts = [];
  await new Promise((resolve) => {
    let sentAt = 0n;
    let i = 0;
    let cpu0 = null;
    const giveUp = setTimeout(resolve, 60000); // a lost datagram ends the run
    const shoot = () => {
      sentAt = process.hrtime.bigint();
      sock.send(buf, port, HOST, () => {});
    };
    sock.on('message', () => {
      const now = process.hrtime.bigint();
      if (i === warmup) cpu0 = process.cpuUsage();
      if (i >= warmup) rtts.push(Number(now - sentAt) / 1000);
      if (++i < warmup + count) return shoot();
      clearTimeout(giveUp);
      const cpu = process.cpuUsage(cpu0);
      rtts.sort((a, b) => a - b);
      const at = (q) => rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * q))].toFixed(1);
      console.log(`pingpong, client ${client}, server ${server}: median ${at(0.5)} µs, p99 ${at(0.99)} µs, ${cpuLine('client CPU per round trip', cpu, rtts.length)}`);
      resolve();
    });
    sock.bind(0, HOST, shoot);
  });
  sock.close();
  child.disconnect();
}

async function churn() {
  const impl = opt('impl', 'rs');
  const count = Number(opt('count', 10000));
  const warmup = Number(opt('warmup', 200));
  const dgram = load(impl);
  const one = () =>
    new Promise((resolve, reject) => {
      const sock = dgram.createSocket('udp4');
      sock.once('error', reject);
      sock.bind(0, HOST, () => sock.close(resolve));
    });
  for (let i = 0; i < warmup; i++) await one();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await one();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`churn ${impl}: ${Math.round(count / secs)} sockets/s, ${cpuLine('CPU per socket', process.cpuUsage(cpu0), count)} (all threads: V8 compiles and collects on its own)`);
}

const modes = { server: serverChild, echo, pingpong, churn };
if (!modes[mode]) {
  console.error('usage: node bench/stress/dissect.js echo|pingpong|churn [options] (see the file)');
  process.exit(2);
}
setTimeout(() => {
  console.error(`dissect ${mode}: no result within 90 s`);
  process.exit(1);
}, 90000).unref();
Promise.resolve(modes[mode]()).catch((err) => {
  console.error(err);
  process.exit(1);
});
