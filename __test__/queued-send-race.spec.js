'use strict';

// A queued send that completes at once (another thread writes it while
// send() is still returning) must be called back, as on node:dgram. Every
// send is queued (--test-udp-no-try-send); the race needs both cores busy,
// so four processes run fixtures/queued-send-callback.js at once (each 100
// sends from new sockets). Each must report what node:dgram reports.

const path = require('node:path');
const test = require('ava');
const { runProcess } = require('./helpers.js');
const { FIXTURES, modulePath, lastJson, summary } = require('./parity-files.js');

const FIXTURE = path.join(FIXTURES, 'queued-send-callback.js');

function run(impl) {
  return runProcess(process.execPath, ['--test-udp-no-try-send', FIXTURE], { env: { DGRAM: modulePath(impl) }, ms: 60000 });
}

test('queued sends that complete before send() returns are called back (4 processes at once, 100 sends each)', async (t) => {
  const node = await run('node');
  const expected = lastJson(node);
  t.truthy(expected, summary(node));
  t.is(expected.results.length, 100);
  t.true(expected.results.every((r, i) => r === `${String(i).length + 1}/q${i}`), JSON.stringify(expected.results));
  const rs = await Promise.all([1, 2, 3, 4].map(() => run('rs')));
  for (const r of rs) {
    const report = lastJson(r);
    t.truthy(report, summary(r));
    if (report) t.deepEqual(report.results, expected.results);
  }
});
