'use strict';

// Reliability: no descriptor or memory leaks when sockets are churned, and
// sockets dropped without close() are collectable when nothing keeps them.
// Each measurement runs in its own child process (with --expose-gc), so the
// test runner's own sockets and heap do not blur the numbers. The long runs
// are `node bench/stress/churn-leak.js` (N = 100,000) and
// `node --expose-gc bench/stress/dropped-sockets.js <impl>`.

const path = require('node:path');
const { spawn } = require('node:child_process');
const test = require('ava');
const { runChild, fmt } = require('../bench/stress/churn-leak.js');

const STRESS = path.join(__dirname, '..', 'bench', 'stress');

function runScript(args, ms) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test.serial('churn 5,000 sockets (udp4/udp6, connected or not, one send+receive each): fds return to the start, RSS bounded', async (t) => {
  t.timeout(90000);
  const args = ['--n', '5000', '--concurrency', '16', '--rss-limit-mb', '48'];
  const node = await runChild('node', args, 60000);
  const rs = await runChild('rs', args, 60000);
  t.log(fmt(node));
  t.log(fmt(rs));
  t.is(node.fdLeak, 0, 'node:dgram: descriptors back to the start');
  t.is(rs.fdLeak, 0, `dgram-rs: descriptors ${rs.before.fds} -> ${rs.after.fds}`);
  t.true(rs.rssGrowthMb < 48, `dgram-rs RSS grew by ${rs.rssGrowthMb} MB`);
  t.true(rs.heapGrowthMb < 8, `dgram-rs JS heap grew by ${rs.heapGrowthMb} MB`);
  t.is(rs.after.threads, rs.before.threads, 'no threads left behind');
  t.true(rs.lost <= 5, `${rs.lost} datagrams lost on loopback`);
});

test.serial('sockets dropped without close(): unbound and closed ones are collected (FinalizationRegistry)', async (t) => {
  t.timeout(60000);
  const rsRun = await runScript(['--expose-gc', path.join(STRESS, 'dropped-sockets.js'), 'rs', '200', '3000'], 30000);
  t.is(rsRun.code, 0, rsRun.stderr);
  const nodeRun = await runScript(['--expose-gc', path.join(STRESS, 'dropped-sockets.js'), 'node', '200', '500'], 30000);
  t.is(nodeRun.code, 0, nodeRun.stderr);
  const rs = JSON.parse(rsRun.stdout);
  const node = JSON.parse(nodeRun.stdout);
  t.log('node:dgram', JSON.stringify(node.kinds));
  t.log('dgram-rs  ', JSON.stringify(rs.kinds));
  for (const kind of ['unbound', 'unbound-listen', 'unbound-options', 'closed']) {
    t.is(rs.kinds[kind].collected, rs.kinds[kind].created, `dgram-rs: every '${kind}' socket collected`);
  }
  // node:dgram itself never frees a dropped unbound socket (its UDP handle
  // is a strong handle until closed); closed ones it does.
  t.is(node.kinds.closed.collected, node.kinds.closed.created);
  // A bound socket is an active handle: never collected while open.
  t.is(rs.kinds['bound-dropped'].collected, 0);
  t.is(node.kinds['bound-dropped'].collected, 0);
});
