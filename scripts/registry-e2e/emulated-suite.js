'use strict';
// Runs spec files of the test suite with another Node.js binary: the arm64
// one, which the kernel hands to qemu-user through binfmt_misc, as it does
// for every child process the tests start. The addon is the one given by
// NAPI_RS_NATIVE_LIBRARY_PATH (the binary installed from the registry).
//
//   node emulated-suite.js <node binary> <spec file>...
//
// Emulated code runs 5-20x slower and the suite's child processes have
// fixed time limits (5-8 s), so the tests run one at a time (one ava run
// per file, serially within it), each failed test is run once more on its
// own, and a file whose emulated ava process ended before reporting every
// test is run again (qemu-user is not flawless). The tests excluded below fail under emulation for reasons that are
// not the addon's: qemu-user's system-call translation, or child processes
// (cluster workers, nested node processes) whose emulated start-up alone
// exceeds the test's limit. The native arm64 runners of the GitHub workflow
// run the whole suite.
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

function ava(nodeBin, file, matches) {
  const args = [AVA, '--tap', '--serial', '--concurrency', '1', '--timeout', '10m'];
  for (const m of matches) args.push('--match', m);
  const r = spawnSync(nodeBin, [...args, file], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const stdout = r.stdout || '';
  const results = [];
  for (const line of stdout.split('\n')) {
    const m = /^(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/.exec(line);
    if (m) results.push({ ok: m[1] === 'ok', title: m[2], skip: Boolean(m[3]) });
  }
  const plan = /^1\.\.(\d+)$/m.exec(stdout);
  // Complete: ava printed its plan and a result for each planned test (a
  // crash of the emulated ava process itself leaves neither).
  const complete = plan !== null && Number(plan[1]) === results.length;
  return { status: r.status, signal: r.signal, results, complete, stdout, stderr: r.stderr || '' };
}

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
  // One ava run per file: a crash of the emulated process loses one file's
  // results at most, and that file is run again.
  for (const file of files) {
    const name = path.basename(file).replace(/\.spec\.js$/, '');
    let run = ava(nodeBin, file, excludes);
    if (!run.complete) {
      reruns++;
      console.log(`${name}: ava ended early (exit ${run.status}, signal ${run.signal}); running the file again\n${tail(run.stderr)}`);
      run = ava(nodeBin, file, excludes);
      if (!run.complete) {
        failing.push(`${name} (ava ended early twice)`);
        console.log(`FAILED ${name}: ava ended early again (exit ${run.status}, signal ${run.signal})\n${tail(run.stdout)}\n${tail(run.stderr)}`);
        continue;
      }
    }
    for (const r of run.results) {
      if (r.skip) {
        skipped++;
        console.log(`skip   ${name} › ${r.title}`);
      } else if (r.ok) {
        passed++;
        console.log(`ok     ${name} › ${r.title}`);
      } else {
        // Once more on its own (emulation is slow, children have fixed limits).
        const again = ava(nodeBin, file, [r.title]);
        if (again.complete && again.results.length > 0 && again.results.every((x) => x.ok)) {
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
      `${failing.length} still failing, ${skipped} skipped, ${reruns} file(s) run again after ava ended early, ` +
      `${Math.round((Date.now() - started) / 1000)} s`,
  );
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
