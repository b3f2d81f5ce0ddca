'use strict';
// What users install, without a registry: `npm pack` of the main package
// gives a small tarball with the runtime files and no binary; a platform
// package made the release way (napi create-npm-dirs + this checkout's
// binary) holds one binary. A fresh project with only the main package
// gets the clear "no native addon" error; with both, loopback round trips
// from CommonJS and ESM. (scripts/registry-e2e.sh does the same through a
// real registry, for every Linux target.)
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const win = process.platform === 'win32';
const npm = win ? 'npm.cmd' : 'npm';
const napi = path.join(ROOT, 'node_modules', '.bin', win ? 'napi.cmd' : 'napi');
// Windows needs a shell for .cmd files since Node's CVE-2024-27980 fix.
const run = (cmd, args, opts) => execFileSync(cmd, args, { shell: win, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

const pack = (cwd, dest) => JSON.parse(run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd }))[0];

test('npm pack: main package without binary, platform package with one; installed together they round-trip on loopback', (t) => {
  // This platform in napi-rs's naming; the binary built in this checkout
  // (or downloaded there by CI) is dgram-rs.<platform>.node.
  const libc = () => (process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl');
  const abi = { linux: `-${libc()}`, win32: '-msvc' }[process.platform] || '';
  const platform = `${process.platform}-${process.arch}${abi}`;
  const local = [`dgram-rs.${platform}.node`];
  t.true(fs.existsSync(path.join(ROOT, local[0])), `no local build ${local[0]}`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dgram-rs-pack-'));
  try {
    const info = pack(ROOT, dir);
    const files = info.files.map((f) => f.path).sort();
    t.true(files.includes('index.js') && files.includes('index.d.ts') && files.includes('binding.js') && files.includes('lib/native.js'));
    // Every file that "exports" names (code and types, per condition) ships.
    const targets = (node) => (typeof node === 'string' ? [node] : Object.values(node).flatMap(targets));
    const exported = targets(require('../package.json').exports).map((f) => f.replace(/^\.\//, ''));
    t.deepEqual(exported.filter((f) => !files.includes(f)), [], 'files named by "exports" are in the tarball');
    t.true(files.includes('LICENSE'));
    t.deepEqual(files.filter((f) => f.endsWith('.node')), [], 'the main package holds no binary');
    t.false(files.some((f) => /^(src|__test__|bench|examples|scripts|target|node_modules|npm|artifacts)\//.test(f)), files.join(' '));
    t.true(info.size < 150 * 1024, `main tarball of ${info.size} bytes packed`);

    // The platform package as the release makes it (from package.json, in
    // a copy: napi keeps npm/ inside the project it reads).
    const stage = path.join(dir, 'stage');
    fs.mkdirSync(stage);
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(stage, 'package.json'));
    run(napi, ['create-npm-dirs'], { cwd: stage });
    const pkgDir = path.join(stage, 'npm', platform);
    const meta = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    t.is(meta.name, `dgram-rs-${platform}`);
    t.is(meta.version, require('../package.json').version);
    t.deepEqual(meta.os, [process.platform]);
    t.deepEqual(meta.cpu, [process.arch]);
    fs.copyFileSync(path.join(ROOT, local[0]), path.join(pkgDir, local[0]));
    const platformInfo = pack(pkgDir, dir);
    t.deepEqual(platformInfo.files.map((f) => f.path).filter((f) => f.endsWith('.node')), [local[0]]);

    const proj = path.join(dir, 'app');
    fs.mkdirSync(proj);
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    const install = (tgz) => run(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-save', ...tgz.map((f) => path.join(dir, f))], { cwd: proj, stdio: 'ignore' });
    const node = (args) => spawnSync(process.execPath, args, { cwd: proj, encoding: 'utf8', timeout: 10000 });

    // Only the main package: one clear error naming the platform.
    install([info.filename]);
    const missing = node(['-e', 'try { require("dgram-rs") } catch (e) { console.log(e.code, e.message) }']);
    t.regex(missing.stdout, new RegExp(`^ERR_DGRAM_RS_NO_BINDING dgram-rs: no native addon for this platform \\(${platform}, `), missing.stderr);
    t.regex(missing.stdout, /build it from source/);

    // With the platform package.
    install([info.filename, platformInfo.filename]);
    const roundTrip = (createSocket) => `
      const s = ${createSocket}('udp4');
      s.on('message', (m, r) => { console.log(m.toString(), r.family); s.close(); c.close(); });
      let c;
      s.bind(0, '127.0.0.1', () => { c = ${createSocket}('udp4'); c.send('round trip', s.address().port, '127.0.0.1'); });`;
    const cjs = node(['-e', `const { createSocket } = require('dgram-rs');${roundTrip('createSocket')}`]);
    t.is(cjs.stdout.trim(), 'round trip IPv4', cjs.stderr);
    const esm = node(['--input-type=module', '-e', `import dgram from 'dgram-rs';${roundTrip('dgram.createSocket')}`]);
    t.is(esm.stdout.trim(), 'round trip IPv4', esm.stderr);
    const from = node(['-p', `require('dgram-rs'); Object.keys(require.cache).find((f) => f.endsWith('.node'))`]);
    t.true(from.stdout.includes(path.join('node_modules', `dgram-rs-${platform}`)), from.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
