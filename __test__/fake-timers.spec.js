'use strict';

// Fake timers: node:dgram never goes through the global setImmediate /
// setTimeout, so sockets keep working while a test suite has sinon's or
// jest's fake timers installed; where process.nextTick is faked too, both
// get on only as the fake clock runs. dgram-rs must do exactly the same:
// nothing in it may depend on timers that user code can replace.
//
// fixtures/fake-timers.js installs the fake clock first, then binds,
// sends (with callbacks), closes sockets with sends pending (in the same
// tick and on the next), receives a stream of 3000 datagrams (dgram-rs's
// timer-driven stream mode), restores the clock and uses new sockets. It
// runs in a child process per implementation, with and without Node's
// --test-udp-no-try-send (every send queued, completed later), and the two
// traces must be equal. (jest's own test environment, where each test file
// has a `process` object of its own, is covered by open-handles.spec.js.)

const path = require('node:path');
const test = require('ava');
const { FIXTURES, runBothFiles, lastJson, summary, rerunUntilCovered, STREAMS } = require('./parity-files.js');

const FIXTURE = path.join(FIXTURES, 'fake-timers.js');

const CLOCKS = {
  none: { setTimeout: false, setImmediate: false, nextTick: false, queueMicrotask: false },
  'sinon-default': { setTimeout: true, setImmediate: true, nextTick: true, queueMicrotask: true },
  'sinon-toFake': { setTimeout: true, setImmediate: true, nextTick: false, queueMicrotask: false },
  'jest-default': { setTimeout: true, setImmediate: true, nextTick: true, queueMicrotask: true },
  'jest-doNotFake': { setTimeout: true, setImmediate: true, nextTick: false, queueMicrotask: false },
};

for (const [clock, faked] of Object.entries(CLOCKS)) {
  for (const queued of [false, true]) {
    const title = `${clock === 'none' ? 'no fake timers (control)' : clock}${queued ? ', every send queued (--test-udp-no-try-send)' : ''}: bind, send, close with sends pending, a stream, restore`;
    test(title, async (t) => {
      const { node, rs } = await rerunUntilCovered(t, () => runBothFiles(FIXTURE, [clock], {
        ms: 90000,
        nodeArgs: queued ? ['--test-udp-no-try-send'] : [],
      }), (x) => ((lastJson(x.rs) || {}).stats || {}).streams > 0, 'dgram-rs\'s stream mode');
      const n = lastJson(node);
      const r = lastJson(rs);
      t.truthy(n, `node:dgram: no report (${summary(node)})`);
      t.truthy(r, `dgram-rs: no report (${summary(rs)})`);
      if (!n || !r) return;
      t.is(n.failed, undefined, `node:dgram: ${n.failed}`);
      t.deepEqual(r.trace, n.trace, r.failed ? `dgram-rs: ${r.failed}` : undefined);
      t.is(rs.code, 0, summary(rs));
      // The fixture did what it is about (on node:dgram).
      t.deepEqual(n.trace[0], { faked });
      t.is(n.trace.find((e) => e.callbacks).callbacks.length, 20);
      t.like(n.trace.find((e) => e.stream), { stream: { someArrived: true, inOrder: true } });
      t.like(n.trace.find((e) => e.afterRestore), { afterRestore: { sent: 5, received: ['after'] } });
      // dgram-rs read the stream on its timer.
      if (STREAMS) t.true(r.stats.streams > 0, `stream mode: ${JSON.stringify(r.stats)}`);
    });
  }
}
