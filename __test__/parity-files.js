'use strict';

// Running a fixture script file in child processes, once with node:dgram and
// once with dgram-rs (DGRAM names the module to require), for the suites
// that compare whole processes: async-context, listener-exceptions,
// fake-timers, open-handles. At most MAX_CHILDREN run at a time (2 shared
// cores), so that their own time limits measure them and not the queue.

const path = require('node:path');
const { runProcess, ROOT } = require('./helpers.js');

const FIXTURES = path.join(__dirname, 'fixtures');
const IMPLS = ['node', 'rs'];

const MAX_CHILDREN = 3;
let running = 0;
const waiting = [];

async function limited(fn) {
  if (running >= MAX_CHILDREN) await new Promise((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    const next = waiting.shift();
    if (next) next();
  }
}

/** The module a child requires for an implementation name. */
function modulePath(impl) {
  return impl === 'node' ? 'node:dgram' : ROOT;
}

/**
 * Runs `node [nodeArgs] file [args]` with DGRAM set for `impl`; resolves with
 * { code, signal, stdout, stderr, timedOut, ms }. `netns`: shell commands
 * run first in a private network namespace (`unshare -rn`, lo up), the
 * script then runs inside it.
 */
function runFile(file, args = [], { impl = 'node', env = {}, ms = 15000, nodeArgs = [], netns, cwd } = {}) {
  const fullEnv = { DGRAM: modulePath(impl), ...env };
  return limited(() => {
    if (netns === undefined) return runProcess(process.execPath, [...nodeArgs, file, ...args], { env: fullEnv, ms, cwd });
    const setup = ['ip link set lo up', netns].filter(Boolean).join(' && ');
    return runProcess('unshare', ['-rn', 'sh', '-c', `${setup} && exec "$0" "$@"`, process.execPath, ...nodeArgs, file, ...args], { env: fullEnv, ms, cwd });
  });
}

/** Runs the same file with both implementations: { node, rs }. */
async function runBothFiles(file, args, opts) {
  const [node, rs] = await Promise.all(IMPLS.map((impl) => runFile(file, args, { ...opts, impl })));
  return { node, rs };
}

/** The last line of stdout that parses as JSON (a fixture's report). */
function lastJson(r) {
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{') || l.startsWith('['));
  if (lines.length === 0) return undefined;
  try {
    return JSON.parse(lines[lines.length - 1]);
  } catch {
    return undefined;
  }
}

/** A child's result in one line, for assertion messages. */
function summary(r) {
  return `code ${r.code}, signal ${r.signal}${r.timedOut ? ', timed out' : ''}, stderr: ${r.stderr.slice(0, 1500)}`;
}

/** stderr without stack frame lines (`    at …`: they name implementation files). */
function withoutFrames(stderr) {
  return stderr
    .split('\n')
    .filter((l) => !/^ {4}at /.test(l))
    .join('\n');
}

// dgram-rs's timer-driven stream mode exists on Linux only (its timer is a
// timerfd; drivers/js_loop.rs `STREAMS`): elsewhere tests that cover it
// check only what node:dgram also shows.
const STREAMS = process.platform === 'linux';

/**
 * Runs `run()` and, when `covered(result)` says the run did not take the
 * path it is meant to cover (dgram-rs's stream mode needs wake-ups less
 * than 250 µs apart, which a machine busy with other work may not give),
 * once more. The caller still asserts coverage on what this returns.
 */
async function rerunUntilCovered(t, run, covered, what) {
  if (/stream mode/.test(what) && !STREAMS) return run();
  const first = await run();
  if (covered(first)) return first;
  t.log(`${what} not reached (a busy machine?): running again`);
  return run();
}

module.exports = {
  STREAMS,
  rerunUntilCovered,
  FIXTURES,
  IMPLS,
  modulePath,
  runFile,
  runBothFiles,
  lastJson,
  summary,
  withoutFrames,
};
