'use strict';
// What users install: `npm pack` gives a small tarball with only the
// runtime files, and a fresh project that installs it can use it from
// CommonJS and ESM for a loopback round trip.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('npm pack: only runtime files; installable into a fresh project that round-trips on loopback', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dgram-rs-pack-'));
  try {
    // --ignore-scripts: no rebuild of the addon other tests are using.
    const out = execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
    const [info] = JSON.parse(out);
    const files = info.files.map((f) => f.path).sort();
    t.true(files.includes('index.js') && files.includes('index.d.ts') && files.includes('binding.js'));
    t.true(files.some((f) => f.endsWith('.node')), 'the addon for this platform is packed');
    t.false(files.some((f) => /^(src|__test__|bench|examples|target|node_modules)\//.test(f)), files.join(' '));
    t.true(info.size < 2_000_000, `tarball of ${info.size} bytes`);

    const proj = path.join(dir, 'app');
    fs.mkdirSync(proj);
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    execFileSync(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts', path.join(dir, info.filename)], { cwd: proj, stdio: 'ignore' });
    const roundTrip = (createSocket) => `
      const s = ${createSocket}('udp4');
      s.on('message', (m, r) => { console.log(m.toString(), r.family); s.close(); c.close(); });
      let c;
      s.bind(0, '127.0.0.1', () => { c = ${createSocket}('udp4'); c.send('round trip', s.address().port, '127.0.0.1'); });`;
    const cjs = spawnSync(process.execPath, ['-e', `const { createSocket } = require('dgram-rs');${roundTrip('createSocket')}`], { cwd: proj, encoding: 'utf8', timeout: 10000 });
    t.is(cjs.stdout.trim(), 'round trip IPv4', cjs.stderr);
    const esm = spawnSync(process.execPath, ['--input-type=module', '-e', `import dgram from 'dgram-rs';${roundTrip('dgram.createSocket')}`], { cwd: proj, encoding: 'utf8', timeout: 10000 });
    t.is(esm.stdout.trim(), 'round trip IPv4', esm.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
