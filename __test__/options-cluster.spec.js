'use strict';

// dgram in cluster workers. A child process runs a cluster primary that
// forks two workers; each worker binds a socket with the implementation
// under test and reports back. For non-exclusive binds the workers share one
// socket, created by the primary (dgram-rs takes part in Node's cluster
// protocol, lib/cluster.js). The outputs of the two implementations are
// compared. More cluster scenarios: cluster-protocol.spec.js.

const test = require('ava');
const { runNode, runInNetns, netnsUnavailable, scriptFile, jsonLines } = require('./options-helpers.js');
const { closedLowPort } = require('./fixtures/low-port.js');

const LOW_PORT = require.resolve('./fixtures/low-port.js');

// WORKERS: a JSON array of the workers' bind options (port: 'P' = the
// shared free port, 0 = ephemeral); SEND: datagrams the primary sends to P
// once both are listening; PRIMARY_BIND: options for a socket the primary
// itself binds on P afterwards.
const SCRIPT = `'use strict';
const cluster = require('node:cluster');
const dgram = require(process.env.DGRAM);
const nodeDgram = require('node:dgram');
const workerOpts = JSON.parse(process.env.WORKERS);
const out = (o) => console.log(JSON.stringify(o));
// A port free now, below the ephemeral range, where the bind(0)s of tests
// running beside this one cannot take it meanwhile.
const { closedLowPort } = require(${JSON.stringify(LOW_PORT)});
const pickPort = (cb) => closedLowPort(nodeDgram).then(cb);
if (cluster.isPrimary) {
  pickPort((port) => {
    const results = [];
    const received = [];
    const workers = [];
    let reported = 0;
    const finish = () => {
      // The shared port becomes 'P', any other port 'EPHEMERAL'.
      const norm = (v) => JSON.parse(JSON.stringify(v, (k, x) => {
        if (k === 'port' && typeof x === 'number') return x === port ? 'P' : 'EPHEMERAL';
        return typeof x === 'string' ? x.split(String(port)).join('P') : x;
      }));
      const ports = results.map((r) => r && r.port);
      out({ results: norm(results), samePort: ports[0] !== undefined && ports[0] === ports[1] });
      for (const w of workers) w.kill();
      setTimeout(() => process.exit(0), 50).unref();
    };
    const afterBinds = () => {
      const toSend = Number(process.env.SEND || 0);
      const primaryBind = process.env.PRIMARY_BIND && JSON.parse(process.env.PRIMARY_BIND);
      const next = () => {
        if (!primaryBind) return finish();
        const s = dgram.createSocket(primaryBind);
        s.on('error', (e) => { out({ primaryBind: e.message.split(String(port)).join('P') }); finish(); });
        s.bind(port, '127.0.0.1', () => { out({ primaryBind: 'ok' }); s.close(); finish(); });
      };
      if (!toSend) return next();
      const tx = nodeDgram.createSocket('udp4');
      let sent = 0;
      const sendOne = () => tx.send('d' + sent, port, '127.0.0.1', () => { if (++sent < toSend) sendOne(); });
      sendOne();
      const wait = setInterval(() => {
        if (received.length >= toSend) {
          clearInterval(wait);
          tx.close();
          out({ totalReceived: received.length, allDistinct: new Set(received).size === received.length });
          next();
        }
      }, 5);
      setTimeout(() => { clearInterval(wait); out({ totalReceived: received.length, timedOut: true }); tx.close(); next(); }, 8000).unref();
    };
    // One after the other (the next is forked once the previous one
    // reported), so that "second" is well defined.
    const forkWorker = (i) => {
      const w = cluster.fork({ IDX: String(i), PORT: String(port) });
      workers.push(w);
      w.on('message', (m) => {
        if (m.received) { received.push(m.received); return; }
        results[i] = m;
        if (++reported === workerOpts.length) afterBinds();
        else forkWorker(i + 1);
      });
    };
    forkWorker(0);
  });
} else {
  const i = Number(process.env.IDX);
  const opts = { ...workerOpts[i] };
  if (opts.port === 'P') opts.port = Number(process.env.PORT);
  const s = dgram.createSocket('udp4');
  s.on('message', (m) => process.send({ received: String(m) }));
  s.on('error', (e) => process.send({ error: e.code, message: e.message, syscall: e.syscall }));
  s.bind({ address: '127.0.0.1', ...opts }, () => process.send({ listening: true, port: s.address().port }));
}
`;

let file;
function script() {
  if (!file) file = scriptFile('cluster.js', SCRIPT);
  return file;
}

// Each run in a network namespace of its own where one can be made: the
// shared port is picked free, then bound by the primary a moment later,
// and a concurrent test file that took it meanwhile failed a worker's bind
// (seen once in CI).
async function clusterParity(t, env) {
  const run = netnsUnavailable() ? runNode : runInNetns;
  const [node, rs] = await Promise.all(['node', 'rs'].map((impl) => run(script(), impl, { env, ms: 20000 })));
  const view = (r) => ({ code: r.code, timedOut: r.timedOut, lines: jsonLines(r.stdout), stderr: r.stderr });
  t.log(`node: ${r2s(node)}`);
  t.log(`rs:   ${r2s(rs)}`);
  t.deepEqual(view(rs), view(node));
  return { node: view(node), rs: view(rs) };
}

// Windows cannot pass a UDP handle to another process: node's primary
// fails to send the shared socket to a worker (write ENOTSUP) and dies, with
// either implementation in the worker. The scenarios that share a socket
// compare the two and pin what they share on the other platforms only.
const sharesHandles = process.platform !== 'win32';
function primaryCannotShare(t, r) {
  t.regex(r.stderr, /Error: write ENOTSUP/);
}

function r2s(r) {
  return r.stdout.trim().split('\n').join(' | ') + (r.stderr ? ` [stderr: ${r.stderr.trim().split('\n')[0]}]` : '');
}

test('cluster: two workers bind the same port non-exclusively: both listen; datagrams reach them', async (t) => {
  const { node } = await clusterParity(t, {
    WORKERS: JSON.stringify([{ port: 'P' }, { port: 'P' }]),
    SEND: '20',
  });
  if (!sharesHandles) return primaryCannotShare(t, node);
  t.deepEqual(node.lines.find((l) => l.results), { results: [{ listening: true, port: 'P' }, { listening: true, port: 'P' }], samePort: true });
  t.deepEqual(node.lines.find((l) => 'totalReceived' in l), { totalReceived: 20, allDistinct: true });
});

test('cluster: exclusive: true on the same port: the second worker gets EADDRINUSE', async (t) => {
  const { node } = await clusterParity(t, {
    WORKERS: JSON.stringify([{ port: 'P', exclusive: true }, { port: 'P', exclusive: true }]),
  });
  t.is(node.lines.find((l) => l.results).results[1].error, 'EADDRINUSE');
});

test('cluster: a non-exclusive worker after an exclusive one, and the reverse', async (t) => {
  await clusterParity(t, { WORKERS: JSON.stringify([{ port: 'P', exclusive: true }, { port: 'P' }]) });
  await clusterParity(t, { WORKERS: JSON.stringify([{ port: 'P' }, { port: 'P', exclusive: true }]) });
});

// The primary keys shared sockets by address/port/type, so two workers that
// bind port 0 non-exclusively get the *same* ephemeral port (one socket).
test('cluster: two workers binding port 0 non-exclusively share one ephemeral port', async (t) => {
  const { node } = await clusterParity(t, { WORKERS: JSON.stringify([{ port: 0 }, { port: 0 }]) });
  if (!sharesHandles) return primaryCannotShare(t, node);
  const both = { results: [{ listening: true, port: 'EPHEMERAL' }, { listening: true, port: 'EPHEMERAL' }] };
  t.deepEqual(node.lines, [{ ...both, samePort: true }]);
});

test('cluster: after the workers bound non-exclusively, sockets in the primary with and without reuseAddr', async (t) => {
  await clusterParity(t, { WORKERS: JSON.stringify([{ port: 'P' }, { port: 'P' }]), PRIMARY_BIND: JSON.stringify({ type: 'udp4', reuseAddr: true }) });
  await clusterParity(t, { WORKERS: JSON.stringify([{ port: 'P' }, { port: 'P' }]), PRIMARY_BIND: JSON.stringify({ type: 'udp4' }) });
});

// Two unrelated cluster applications on the same port: the second primary's
// bind fails, and EADDRINUSE reaches its worker.
const APP = `'use strict';
const cluster = require('node:cluster');
const dgram = require(process.env.DGRAM);
if (cluster.isPrimary) {
  const w = cluster.fork();
  w.on('message', (m) => {
    console.log(JSON.stringify(m));
    if (process.env.EXIT_AFTER_REPORT) { w.kill(); setTimeout(() => process.exit(0), 20).unref(); }
  });
} else {
  const s = dgram.createSocket('udp4');
  s.on('error', (e) => process.send({ error: e.code, message: e.message.replace(process.env.PORT, 'P') }));
  s.bind(Number(process.env.PORT), '127.0.0.1', () => process.send({ listening: true }));
}
`;

// Application A's worker needs the shared socket (see sharesHandles).
(sharesHandles ? test : test.skip)('cluster: a second, unrelated cluster application on the same port: EADDRINUSE', async (t) => {
  const { spawn } = require('node:child_process');
  const { impls } = require('./helpers.js');
  const app = scriptFile('cluster-app.js', APP);
  const outcome = {};
  for (const impl of ['node', 'rs']) {
    const port = await closedLowPort(impls.node);
    const env = { ...process.env, NODE_OPTIONS: '', DGRAM: impl === 'node' ? 'node:dgram' : require('node:path').join(__dirname, '..'), PORT: String(port) };
    // Application A: stays up (killed below, by pid) once its worker listens.
    const a = spawn(process.execPath, [app], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const first = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('application A did not report')), 8000);
        a.stdout.once('data', (d) => { clearTimeout(timer); resolve(JSON.parse(String(d).split('\n')[0])); });
      });
      const b = await runNode(app, impl, { env: { PORT: String(port), EXIT_AFTER_REPORT: '1' }, ms: 8000 });
      outcome[impl] = { first, second: jsonLines(b.stdout)[0] };
    } finally {
      a.kill('SIGKILL');
    }
  }
  t.log(JSON.stringify(outcome));
  t.deepEqual(outcome.node, { first: { listening: true }, second: { error: 'EADDRINUSE', message: 'bind EADDRINUSE 127.0.0.1:P' } }, 'node:dgram');
  t.deepEqual(outcome.rs, outcome.node, 'dgram-rs');
});
