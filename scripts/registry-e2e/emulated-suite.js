'use strict';
// Runs spec files of the test suite with another Node.js binary: the arm64
// one, which the kernel hands to qemu-user through binfmt_misc, as it does
// for every child process the tests start. The addon is the one given by
// NAPI_RS_NATIVE_LIBRARY_PATH (the binary installed from the registry).
//
//   node emulated-suite.js <node binary> <spec file>...
//
// Emulated code runs 5-20x slower and the suite's child processes have
// fixed time limits (5-8 s), so the tests run one at a time (one file at a
// time, serially within it) and each failed test is run once more on its
// own. The tests excluded below fail under emulation for reasons that are
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
  ['*setMulticastInterface*', 'qemu-user: IP(V6)_MULTICAST_IF'],
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

function ava(nodeBin, files, matches) {
  const args = [AVA, '--tap', '--serial', '--concurrency', '1', '--timeout', '10m'];
  for (const m of matches) args.push('--match', m);
  const r = spawnSync(nodeBin, [...args, ...files], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const results = [];
  for (const line of (r.stdout || '').split('\n')) {
    const m = /^(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/.exec(line);
    if (m) results.push({ ok: m[1] === 'ok', title: m[2], skip: Boolean(m[3]) });
  }
  return { status: r.status, results, stdout: r.stdout || '', stderr: r.stderr || '' };
}

function main() {
  const [nodeBin, ...files] = process.argv.slice(2);
  if (!nodeBin || files.length === 0) throw new Error('usage: emulated-suite.js <node> <spec files>');
  const started = Date.now();
  const first = ava(nodeBin, files, EXCLUDED.map(([p]) => `!${p}`));
  if (first.results.length === 0) {
    process.stdout.write(first.stdout);
    process.stderr.write(first.stderr);
    throw new Error(`ava ran no test (exit ${first.status})`);
  }
  for (const r of first.results) console.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.title}${r.skip ? ' (skipped)' : ''}`);

  // Titles are "<file> › <test>" when several files run.
  const failed = first.results.filter((r) => !r.ok);
  const retried = [];
  const stillFailing = [];
  for (const f of failed) {
    const cut = f.title.indexOf(' › ');
    const file = files.find((p) => path.basename(p).startsWith(`${f.title.slice(0, cut)}.`));
    const title = f.title.slice(cut + 3);
    const again = file ? ava(nodeBin, [file], [title]) : { results: [] };
    if (again.results.length > 0 && again.results.every((r) => r.ok)) {
      retried.push(f.title);
      console.log(`ok on a second run: ${f.title}`);
    } else {
      stillFailing.push(f.title);
      console.log(`FAILED again: ${f.title}`);
      if (again.stdout) console.log(again.stdout.split('\n').filter((l) => !/^ok /.test(l)).join('\n'));
    }
  }

  const skipped = first.results.filter((r) => r.skip).length;
  const passed = first.results.length - skipped - failed.length + retried.length;
  console.log('excluded under emulation (by title):');
  for (const [p, why] of EXCLUDED) console.log(`  ${p}  -- ${why}`);
  console.log(
    `emulated suite (${process.execPath === nodeBin ? 'host' : nodeBin}): ${passed} tests passed ` +
      `(${retried.length} of them on a second run), ${stillFailing.length} still failing, ${skipped} skipped, ` +
      `${Math.round((Date.now() - started) / 1000)} s`,
  );
  if (stillFailing.length > 0) process.exit(1);
}

main();
