'use strict';
// Runs spec files of the test suite with another Node.js binary: the arm64
// one, which the kernel hands to qemu-user through binfmt_misc, as it does
// for every child process the tests start. The addon is the one given by
// NAPI_RS_NATIVE_LIBRARY_PATH (the binary installed from the registry).
//
//   node emulated-suite.js <node binary> <spec file>...
//
// Emulated code runs 5-20x slower and the suite's child processes have
// fixed time limits (5-8 s), so the tests run one at a time, each failed
// test is run once more on its own, and a group whose emulated ava process
// ended before reporting every test is run again file by file (qemu-user is
// not flawless). One ava run per group of files (core-*, options-*,
// lifecycle-*): starting the emulated ava alone takes ~20 s of CPU, which one
// run per file paid 25 times (ava still gives each file its own process).
// The tests excluded below fail under emulation for reasons that are not
// the addon's: qemu-user's system-call translation, or child processes
// (cluster workers, nested node processes) whose emulated start-up alone
// exceeds the test's limit. The native arm64 runners of the GitHub workflow
// run the whole suite.
//
// Time budget: with DGRAM_RS_CI_DEADLINE (epoch seconds by which .ci/run must
// be done; .ci/run sets it) the suite stops RESERVE_S before it, so that a
// slow host trims the emulated subset rather than failing CI for its
// 30 minutes: a running ava is killed with its workers (`timeout` signals
// its process group), groups not started are named as not run. What did run
// is reported and must pass as usual.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const AVA = path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');

const EXCLUDED = [
  // qemu-user (Debian 12's qemu 7.2) translates the IP_MULTICAST_IF /
  // IPV6_MULTICAST_IF socket options unlike the kernel: node:dgram's and
  // dgram-rs's calls get ENOPROTOOPT where the kernel answers success or
  // EBADF, so the two no longer compare equal.
  ['*setMulticastInterface: *', 'qemu-user: IP(V6)_MULTICAST_IF'],
  ['*setMulticastInterface() before bind*', 'qemu-user: IP(V6)_MULTICAST_IF'],
  ['*setters on an unbound socket*', 'qemu-user: IP(V6)_MULTICAST_IF (setMulticastInterface is among these setters)'],
  // Forked cluster workers: each is an emulated node start-up, past the
  // tests' limits (workers killed, EPIPE on the IPC channel).
  ['cluster*', 'cluster workers start too slowly under emulation'],
  // Several or nested child processes against a 5 s limit: the node:dgram
  // reference child itself times out.
  ['DEP0112*', 'nested/parallel child processes time out under emulation'],
  ['*(child process)', 'child process time limit under emulation'],
  ['recvBufferSize: 2 ** 31 option*', 'child process time limit under emulation'],
];

// What the rest of registry-e2e.sh needs after this suite (the arm64 musl
// chroot takes ~30 s) and .ci/run's summary.
const RESERVE_S = 120;
const DEADLINE_MS = process.env.DGRAM_RS_CI_DEADLINE
  ? (Number(process.env.DGRAM_RS_CI_DEADLINE) - RESERVE_S) * 1000
  : Infinity;
// An ava run is not started with less time than this left.
const MIN_RUN_S = 30;

// Seconds left in the budget (Infinity without one).
const secondsLeft = () => (DEADLINE_MS - Date.now()) / 1000;

// Runs `files` (one ava process, each file in its own child, one at a time)
// and returns each reported test with the file it belongs to. `outOfTime`:
// not started, or killed, for the time budget.
function ava(nodeBin, files, matches) {
  const left = secondsLeft();
  if (left < MIN_RUN_S) return { results: [], complete: false, outOfTime: true, stdout: '', stderr: '' };
  const args = [AVA, '--tap', '--serial', '--concurrency', '1', '--timeout', '10m'];
  for (const m of matches) args.push('--match', m);
  // Under `timeout` when there is a budget: it signals the whole process
  // group, ava's emulated workers too.
  const [cmd, cmdArgs] = Number.isFinite(left)
    ? ['timeout', ['--kill-after=10', String(Math.floor(left)), nodeBin, ...args, ...files]]
    : [nodeBin, [...args, ...files]];
  const r = spawnSync(cmd, cmdArgs, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const stdout = r.stdout || '';
  const names = files.map(specName);
  const results = [];
  for (const line of stdout.split('\n')) {
    const m = /^(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/.exec(line);
    if (!m) continue;
    // With several files ava puts "<file> › " before each title.
    let file = files[0];
    let title = m[2];
    if (files.length > 1) {
      const i = names.findIndex((n) => title.startsWith(`${n} › `));
      if (i === -1) continue; // not a test's line (a file-level failure)
      file = files[i];
      title = title.slice(names[i].length + 3);
    }
    results.push({ file, ok: m[1] === 'ok', title, skip: Boolean(m[3]) });
  }
  const plan = /^1\.\.(\d+)$/m.exec(stdout);
  // Complete: ava printed its plan and a result for each planned test (a
  // crash of the emulated ava process itself leaves neither).
  const complete = plan !== null && Number(plan[1]) === results.length;
  // timeout(1) exits 124 when it stopped the command (137 after its KILL).
  const outOfTime = Number.isFinite(left) && !complete && (r.status === 124 || r.status === 137);
  return { status: r.status, signal: r.signal, results, complete, outOfTime, stdout, stderr: r.stderr || '' };
}

const specName = (file) => path.basename(file).replace(/\.spec\.js$/, '');
const groupName = (file) => specName(file).split('-')[0];

// How a run stopped for the time budget is named in the summary.
const cutShort = (what, run) =>
  `${what} (${run.results.length > 0 ? `stopped after ${run.results.length} tests` : 'not started'})`;

const tail = (text, n = 25) => text.trim().split('\n').slice(-n).join('\n');

function main() {
  const [nodeBin, ...files] = process.argv.slice(2);
  if (!nodeBin || files.length === 0) throw new Error('usage: emulated-suite.js <node> <spec files>');
  const started = Date.now();
  const excludes = EXCLUDED.map(([p]) => `!${p}`);
  let passed = 0;
  let skipped = 0;
  let retriedOk = 0;
  let reruns = 0;
  const failing = [];
  const groups = new Map();
  for (const file of files) groups.set(groupName(file), [...(groups.get(groupName(file)) || []), file]);
  const completed = [];
  // What the time budget left out: groups and files not run, or cut short.
  const notRun = [];
  for (const [group, groupFiles] of groups) {
    const run = ava(nodeBin, groupFiles, excludes);
    if (run.complete) {
      completed.push(run);
      continue;
    }
    if (run.outOfTime) {
      // What it reported before it was stopped still counts.
      completed.push(run);
      notRun.push(cutShort(`${group}-*`, run));
      continue;
    }
    // The emulated ava ended early: each file of the group on its own, twice
    // at most, so that a crash loses one file's results at most.
    reruns++;
    console.log(`${group}-*: ava ended early (exit ${run.status}, signal ${run.signal}); running its files one by one\n${tail(run.stderr)}`);
    for (const file of groupFiles) {
      let one = ava(nodeBin, [file], excludes);
      if (!one.complete && !one.outOfTime) one = ava(nodeBin, [file], excludes);
      if (one.complete) {
        completed.push(one);
      } else if (one.outOfTime) {
        completed.push(one);
        notRun.push(cutShort(specName(file), one));
      } else {
        failing.push(`${specName(file)} (ava ended early twice)`);
        console.log(`FAILED ${specName(file)}: ava ended early again (exit ${one.status}, signal ${one.signal})\n${tail(one.stdout)}\n${tail(one.stderr)}`);
      }
    }
  }
  for (const run of completed) {
    for (const r of run.results) {
      const name = specName(r.file);
      if (r.skip) {
        skipped++;
        console.log(`skip   ${name} › ${r.title}`);
      } else if (r.ok) {
        passed++;
        console.log(`ok     ${name} › ${r.title}`);
      } else {
        // Once more on its own (emulation is slow, children have fixed limits).
        const again = ava(nodeBin, [r.file], [r.title]);
        if (again.outOfTime) {
          // No time to tell a flake from a failure: a failure.
          failing.push(`${name} › ${r.title} (no time left to run it again)`);
          console.log(`FAILED ${name} › ${r.title} (not run again: time budget)`);
        } else if (again.complete && again.results.length > 0 && again.results.every((x) => x.ok)) {
          passed++;
          retriedOk++;
          console.log(`ok     ${name} › ${r.title} (failed once, passed on a second run)`);
        } else {
          failing.push(`${name} › ${r.title}`);
          console.log(`FAILED ${name} › ${r.title}\n${tail(again.stdout, 60)}`);
        }
      }
    }
  }

  console.log('excluded under emulation (by title):');
  for (const [p, why] of EXCLUDED) console.log(`  ${p}  -- ${why}`);
  console.log(
    `emulated suite (${nodeBin}): ${passed} tests passed (${retriedOk} of them on a second run), ` +
      `${failing.length} still failing, ${skipped} skipped, ${reruns} group(s) run again file by file after ava ended early, ` +
      `${Math.round((Date.now() - started) / 1000)} s`,
  );
  if (notRun.length > 0) {
    console.log(
      `NOT RUN for .ci/run's time budget (DGRAM_RS_CI_DEADLINE, ${RESERVE_S} s kept for the rest): ` +
        `${notRun.join(', ')}; the GitHub workflow's native arm64 runner runs them all`,
    );
  }
  if (failing.length > 0) {
    console.log(`still failing:\n  ${failing.join('\n  ')}`);
    process.exit(1);
  }
  if (passed === 0) {
    console.log('no test ran');
    process.exit(1);
  }
}

main();
