'use strict';

// Nothing left open: sockets created, used (sends with callbacks, a burst
// read ahead, a stream read on a timer, ICMP errors, sends pending at
// close, queued sends) and closed leave nothing that keeps the process
// alive or that jest's --detectOpenHandles reports, as with node:dgram.
// Each check runs once without and once with --test-udp-no-try-send (every
// send queued), for node:dgram and for dgram-rs, in child processes.
//
// - the jest project in __test__/jest (its own config; test files outside
//   ava's glob) under `jest --detectOpenHandles`: no open handle reported,
//   exit 0, the same test results;
// - fixtures/exit-after-close.js: the process exits by itself as soon as
//   the last socket closed, and ends right after 'exit';
// - fixtures/worker-open-sockets.js: workers terminated with open sockets
//   (a stream coming in, sends going out) end without crash or hang, free
//   their ports, leave no descriptor behind.

const path = require('node:path');
const test = require('ava');
const { runFile, IMPLS, FIXTURES, lastJson, summary, rerunUntilCovered, STREAMS } = require('./parity-files.js');

const JEST = require.resolve('jest/bin/jest');
const JEST_CONFIG = path.join(__dirname, 'jest', 'jest.config.js');
const QUEUED = ['--test-udp-no-try-send'];

/** Runs `file` for both implementations; each result gets `endedAt`. */
async function both(file, args, opts) {
  const [node, rs] = await Promise.all(IMPLS.map((impl) => runFile(file, args, { ...opts, impl }).then((r) => ({ ...r, endedAt: Date.now() }))));
  return { node, rs };
}

for (const queued of [false, true]) {
  const how = queued ? ', every send queued' : '';

  test(`jest --detectOpenHandles on a project that uses sockets: nothing open, exit 0${how}`, async (t) => {
    // sockets.test.js prints NO_STREAM_MODE when dgram-rs's stream mode was
    // not reached.
    const r = await rerunUntilCovered(t, () => both(JEST, ['--config', JEST_CONFIG, '--detectOpenHandles', '--ci', '--colors=false'], {
      ms: 120000,
      nodeArgs: queued ? QUEUED : [],
    }), (x) => !/NO_STREAM_MODE/.test(x.rs.stdout + x.rs.stderr), 'dgram-rs\'s stream mode');
    const results = {};
    for (const impl of IMPLS) {
      const { code, timedOut, stdout, stderr } = r[impl];
      const output = stdout + stderr;
      t.false(timedOut, `${impl}: jest did not exit: ${summary(r[impl])}`);
      t.is(code, 0, `${impl}: ${summary(r[impl])}`);
      t.notRegex(output, /open handle/i, `${impl} reported open handles:\n${output.slice(-3000)}`);
      t.notRegex(output, /did not exit/i, impl);
      t.notRegex(output, /NO_STREAM_MODE/, `${impl}: the stream test did not reach dgram-rs's stream mode`);
      results[impl] = (output.match(/^Tests:.*$/m) || ['no summary'])[0];
    }
    t.is(results.node, 'Tests:       9 passed, 9 total');
    t.is(results.rs, results.node);
  });

  test(`after every socket closed the process exits at once${how}`, async (t) => {
    const r = await rerunUntilCovered(t, () => both(path.join(FIXTURES, 'exit-after-close.js'), [], { ms: 30000, nodeArgs: queued ? QUEUED : [] }),
      (x) => ((lastJson(x.rs) || {}).stats || {}).streams > 0, 'dgram-rs\'s stream mode');
    const first = (x) => x.stdout.split('\n')[0];
    t.is(first(r.rs), first(r.node));
    // libuv on Windows ignores ICMP port-unreachable reports (WSAECONNRESET).
    const icmp = process.platform === 'win32' ? {} : { icmp: 'ECONNREFUSED' };
    const timerfds = process.platform === 'linux' ? { timerfds: 0 } : {};
    t.deepEqual(JSON.parse(first(r.node)), { sent: [2, 2, 2, 2], streamEnded: true, ...icmp, ...timerfds });
    for (const impl of IMPLS) {
      const x = r[impl];
      t.false(x.timedOut, `${impl}: ${summary(x)}`);
      t.is(x.code, 0, `${impl}: ${summary(x)}`);
      t.is(x.stderr, '', impl);
      const times = lastJson(x);
      t.truthy(times, `${impl}: ${x.stdout}`);
      if (!times) continue;
      // Generous bounds (a shared 2-core machine): a handle left open would
      // keep it alive until killed, a timer of ours would show here.
      t.true(times.exitAt - times.closedAt < 1000, `${impl}: 'exit' ${times.exitAt - times.closedAt} ms after the last close`);
      t.true(x.endedAt - times.exitAt < 2000, `${impl}: ended ${x.endedAt - times.exitAt} ms after 'exit'`);
    }
    // dgram-rs took its read-ahead and stream paths before closing.
    const { stats } = lastJson(r.rs) || {};
    t.true(Boolean(stats) && stats.readAheads > 0 && (!STREAMS || stats.streams > 0), JSON.stringify(stats));
  });

  test(`workers terminated with open sockets (a stream coming in, sends going out): no crash, hang or leak${how}`, async (t) => {
    const r = await both(path.join(FIXTURES, 'worker-open-sockets.js'), [], { ms: 60000, nodeArgs: queued ? QUEUED : [] });
    t.is(r.node.stdout, [
      'round 1: exit code 1, ports freed true',
      'rounds 2-8: exit codes 1, ports freed true',
      // Counted in /proc: Linux only.
      `descriptors left behind: ${process.platform === 'linux' ? 0 : 'not counted'}`,
      'main thread receives: still here',
      '',
    ].join('\n'), summary(r.node));
    for (const impl of IMPLS) {
      t.false(r[impl].timedOut, `${impl}: ${summary(r[impl])}`);
      t.is(r[impl].code, 0, `${impl}: ${summary(r[impl])}`);
      t.is(r[impl].signal, null, impl);
      t.is(r[impl].stderr, '', impl);
    }
    t.is(r.rs.stdout, r.node.stdout);
  });
}
