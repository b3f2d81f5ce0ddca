'use strict';

// Reliability: worker_threads. bench/stress/worker-storm.js loads the module
// in 8 workers at once; each binds an udp4 and an udp6 socket and exchanges
// traffic with the main thread (which echoes every 2nd datagram back); all
// 8 are terminated at once with their sockets open and traffic in flight,
// and the main thread must keep receiving. 3 rounds, then a worker calling
// process.exit(3) and a worker whose 'message' listener throws. Run in a
// child process per implementation (helpers.childParity: same output, exit
// code 0, no stderr, no crash).

const path = require('node:path');
const test = require('ava');
const { childParity } = require('./helpers.js');

const STORM = JSON.stringify(path.join(__dirname, '..', 'bench', 'stress', 'worker-storm.js'));

const EXPECTED = [
  ...[1, 2, 3].flatMap((r) => [
    `round ${r}: 8 workers exchanged traffic with the main thread: true`,
    `round ${r}: terminated, exit codes 1, errors 0`,
    `round ${r}: main thread still receives`,
  ]),
  'process.exit() in a worker: exit code 3, errors 0',
  'after process.exit() worker: main thread still receives',
  'throwing listener in a worker: exit code 1, error: listener boom in worker 901',
  'after throwing worker: main thread still receives',
  'done',
  '',
].join('\n');

test.serial('8 workers at once, terminated with sockets open and traffic in flight, 3 rounds; process.exit() and a throwing listener in a worker', async (t) => {
  t.timeout(100000);
  const { node, rs } = await childParity(t, `require(${STORM})`, { ms: 60000 });
  t.is(node.stdout, EXPECTED);
  t.is(rs.stderr, '');
  t.is(rs.code, 0);
  t.log('child ran', node.ms, 'ms (node)', rs.ms, 'ms (dgram-rs)');
});

test.serial('the addon used only by workers (main thread on node:dgram): loaded and torn down with them, 3 rounds', async (t) => {
  t.timeout(100000);
  const { node, rs } = await childParity(t, `process.env.MAIN_DGRAM = 'node:dgram'; require(${STORM})`, { ms: 60000 });
  t.is(node.stdout, EXPECTED);
  t.is(rs.stderr, '');
  t.is(rs.code, 0);
});
