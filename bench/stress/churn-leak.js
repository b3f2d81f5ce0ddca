#!/usr/bin/env node
'use strict';
// Socket churn leak check: create, bind, use (one send + one receive),
// close N sockets, cycling through udp4/udp6 × connected/unconnected, with a
// few sockets in flight at once. Prints the descriptor count (process-counts.js),
// RSS, heap and thread count before and after, and exits non-zero on a leak:
// descriptors not back to the start once the closes settled, or RSS grown
// by more than the bound.
//
//   node bench/stress/churn-leak.js [--impl node|rs|both] [--n 100000]
//        [--concurrency 16] [--rss-limit-mb 64] [--json]
//
// --impl both (the default) runs each implementation in a child process
// with --expose-gc. A single implementation runs in this process (pass
// --expose-gc to node for meaningful RSS numbers).

const path = require('node:path');
const { spawn } = require('node:child_process');

const { fdCount, threadCount } = require('./process-counts.js');

const ROOT = path.join(__dirname, '..', '..');

function gc() {
  if (typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function snapshot() {
  gc();
  const mu = process.memoryUsage();
  return { fds: fdCount(), rss: mu.rss, heapUsed: mu.heapUsed, external: mu.external, arrayBuffers: mu.arrayBuffers, threads: threadCount() };
}

/** Polls the descriptor count until it is back to `target` or `ms` passed. */
async function settleFds(target, ms = 2000) {
  const deadline = Date.now() + ms;
  let n = fdCount();
  while (n > target && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
    await delay(5);
    n = fdCount();
  }
  return n;
}

const payload = Buffer.from('churn');

/** One socket's life. Resolves with true once its datagram came back. */
function one(dgram, i) {
  const udp6 = (i & 1) === 1;
  const connected = (i & 2) === 2;
  const type = udp6 ? 'udp6' : 'udp4';
  const host = udp6 ? '::1' : '127.0.0.1';
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(type);
    let timer;
    let received = false;
    const finish = () => {
      clearTimeout(timer);
      s.close(() => resolve(received));
    };
    s.once('error', (err) => {
      clearTimeout(timer);
      try { s.close(); } catch { /* closed */ }
      reject(err);
    });
    s.once('message', () => {
      received = true;
      finish();
    });
    s.bind(0, host, () => {
      const port = s.address().port;
      // A lost datagram (loopback under pressure) is counted, not fatal.
      timer = setTimeout(finish, 2000);
      if (connected) s.connect(port, host, () => s.send(payload));
      else s.send(payload, port, host);
    });
  });
}

async function churn(impl, { n, concurrency, onProgress }) {
  const dgram = require(impl === 'node' ? 'node:dgram' : ROOT);
  let next = 0;
  let lost = 0;
  let done = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      if (!(await one(dgram, i))) lost++;
      done++;
      if (onProgress) onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { lost };
}

async function measure(impl, { n = 100000, concurrency = 16, rssLimitMb = 64 } = {}) {
  const dgram = require(impl === 'node' ? 'node:dgram' : ROOT);
  // Warm up: the runtime, JIT, allocator arenas and the lazily created
  // per-environment state exist before the baseline.
  await churn(impl, { n: Math.min(1000, Math.max(100, n / 10)), concurrency });
  await settleFds(0, 200);
  const before = snapshot();
  const started = Date.now();
  let mid;
  const { lost } = await churn(impl, {
    n,
    concurrency,
    onProgress: (done) => {
      if (done === Math.floor(n / 2)) mid = { rss: process.memoryUsage().rss };
    },
  });
  const ms = Date.now() - started;
  const fdsSettled = await settleFds(before.fds, 2000);
  await delay(50);
  const after = snapshot();
  void dgram;
  const rssGrowthMb = (after.rss - before.rss) / 2 ** 20;
  const result = {
    impl,
    n,
    ms,
    perSecond: Math.round((n / ms) * 1000),
    lost,
    before,
    after: { ...after, fds: fdsSettled },
    midRss: mid && mid.rss,
    rssGrowthMb: Number(rssGrowthMb.toFixed(1)),
    heapGrowthMb: Number(((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1)),
    // NaN (null in JSON) where descriptors cannot be counted (Windows).
    fdLeak: fdsSettled - before.fds,
  };
  result.leak = (Number.isFinite(result.fdLeak) && result.fdLeak !== 0) || rssGrowthMb > rssLimitMb;
  return result;
}

function fmt(r) {
  const mb = (b) => `${(b / 2 ** 20).toFixed(1)} MB`;
  return `${r.impl.padEnd(4)} N=${r.n} in ${r.ms} ms (${r.perSecond}/s, ${r.lost} lost): ` +
    `fds ${r.before.fds} -> ${r.after.fds}; RSS ${mb(r.before.rss)} -> ${r.midRss ? `${mb(r.midRss)} (mid) -> ` : ''}${mb(r.after.rss)} ` +
    `(+${r.rssGrowthMb} MB); heap ${mb(r.before.heapUsed)} -> ${mb(r.after.heapUsed)}; ` +
    `threads ${r.before.threads} -> ${r.after.threads}${r.leak ? '  LEAK' : ''}`;
}

function runChild(impl, argv, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', __filename, '--impl', impl, '--json', ...argv], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch {
        reject(new Error(`churn child (${impl}) exited with ${code}/${signal}: ${out}`));
      }
    });
  });
}

function parseArgs(args) {
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i === -1 ? def : args[i + 1];
  };
  return {
    impl: opt('impl', 'both'),
    n: Number(opt('n', 100000)),
    concurrency: Number(opt('concurrency', 16)),
    rssLimitMb: Number(opt('rss-limit-mb', 64)),
    json: args.includes('--json'),
  };
}

async function main() {
  const args = process.argv.slice(2);
  const o = parseArgs(args);
  let results;
  if (o.impl === 'both') {
    const pass = ['--n', String(o.n), '--concurrency', String(o.concurrency), '--rss-limit-mb', String(o.rssLimitMb)];
    results = [];
    for (const impl of ['node', 'rs']) {
      const r = await runChild(impl, pass, 30 * 60 * 1000);
      if (!o.json) console.log(fmt(r));
      results.push(r);
    }
  } else {
    results = [await measure(o.impl, o)];
    if (!o.json) console.log(fmt(results[0]));
  }
  if (o.json) console.log(JSON.stringify(o.impl === 'both' ? results : results[0]));
  if (results.some((r) => r.leak)) {
    console.error(`LEAK: ${results.filter((r) => r.leak).map((r) => r.impl).join(', ')}`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 2;
  });
}

module.exports = { measure, fmt, runChild };
