'use strict';

// Where dgram-rs cannot work, require() says so with one clear error instead
// of failing later (or crashing the process). The missing-binary case is in
// pack.spec.js and scripts/registry-e2e.sh, --no-addons in node-flags.spec.js.

const fs = require('node:fs');
const path = require('node:path');
const test = require('ava');
const { ROOT, runProcess } = require('./helpers.js');

const REPORT = `
  try {
    const d = require(${JSON.stringify(ROOT)});
    d.createSocket('udp4').bind(0, '127.0.0.1', function () { console.log('bound'); this.close(); });
  } catch (e) { console.log(e.code, e.message); }`;

// Bun and Deno load Node-API addons but have no libuv loop: the first bind
// panicked (Bun 1.4) or corrupted the heap (Deno 2.9). Both announce
// themselves in process.versions, simulated here.
for (const runtime of ['bun', 'deno']) {
  test(`on ${runtime}: require() throws ERR_DGRAM_RS_UNSUPPORTED_RUNTIME`, async (t) => {
    const r = await runProcess(process.execPath, ['-e', `process.versions.${runtime} = '9.9.9';${REPORT}`]);
    t.is(r.code, 0, r.stderr);
    const name = runtime === 'bun' ? 'Bun' : 'Deno';
    t.regex(r.stdout, new RegExp(`^ERR_DGRAM_RS_UNSUPPORTED_RUNTIME dgram-rs runs on Node.js only: .*${name} 9\\.9\\.9 does not provide`));
  });
}

test('on Node.js the same script binds (the check above looks at the runtime, nothing else)', async (t) => {
  const r = await runProcess(process.execPath, ['-e', REPORT]);
  t.is(r.stdout, 'bound\n', r.stderr);
});

// esbuild's --loader:.node=file turns require('./x.node') into the file's
// name; the generated loader then exports a string. Simulated by a .node
// handler that does the same.
test('a bundler that replaces the addon with its file name: ERR_DGRAM_RS_NO_BINDING naming the fix', async (t) => {
  const fileLoader = "require.extensions['.node'] = (m, f) => { m.exports = './' + require('path').basename(f); };";
  const r = await runProcess(process.execPath, ['-e', `${fileLoader}${REPORT}`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^ERR_DGRAM_RS_NO_BINDING dgram-rs: its native addon was replaced by a bundler\b.*--external:dgram-rs.*--loader:\.node=copy/);
});

// A strict-mode bundle (esbuild's, of an entry that starts with "use
// strict", as tsc's CommonJS output does): the generated loader throws a
// TypeError as it adds its exports to the string. Strict mode simulated by
// a module wrapper that adds the directive.
test('the same in a strict-mode bundle: ERR_DGRAM_RS_NO_BINDING, the TypeError as its cause', async (t) => {
  const strict = "const M = require('module'); const wrap = M.wrap; M.wrap = (src) => wrap(\"'use strict';\" + src);";
  const fileLoader = "require.extensions['.node'] = (m, f) => { m.exports = './' + require('path').basename(f); };";
  const r = await runProcess(process.execPath, ['-e', `${strict}${fileLoader}${REPORT.replace('e.message);', "e.message, '| cause:', e.cause && e.cause.message);")}`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^ERR_DGRAM_RS_NO_BINDING dgram-rs: its native addon was replaced by a bundler\b.*\| cause: Cannot create property 'addEventHandler' on string/);
});

// Set, NAPI_RS_NATIVE_LIBRARY_PATH is all the generated loader tries: a
// path to nothing says so (not that the platform package is missing).
for (const [what, value, detail] of [
  ['an absolute path to nothing', '/nonexistent/dgram-rs.node', /is not there\. Point it at/],
  ['a relative path', './dgram-rs.node', /is not there \(not an absolute path: require\(\) resolves it from /],
  ['a file that is not an addon', path.join(ROOT, 'Cargo.toml'), /does not load: /],
]) {
  test(`NAPI_RS_NATIVE_LIBRARY_PATH set to ${what}: ERR_DGRAM_RS_NO_BINDING naming the variable`, async (t) => {
    const r = await runProcess(process.execPath, ['-e', REPORT], { env: { NAPI_RS_NATIVE_LIBRARY_PATH: value } });
    t.is(r.code, 0, r.stderr);
    t.true(r.stdout.startsWith(`ERR_DGRAM_RS_NO_BINDING dgram-rs: NAPI_RS_NATIVE_LIBRARY_PATH is set (${value}), so only that file is loaded`), r.stdout);
    t.regex(r.stdout, detail);
  });
}

// NAPI_RS_NATIVE_LIBRARY_PATH is read by every napi-rs loader: set for
// another package, it hands dgram-rs that package's addon (simulated by a
// .node handler giving an object without dgram-rs's functions).
test('NAPI_RS_NATIVE_LIBRARY_PATH naming another addon: ERR_DGRAM_RS_NO_BINDING naming the variable', async (t) => {
  const other = "require.extensions['.node'] = (m) => { m.exports = { someoneElses: true }; };";
  const r = await runProcess(process.execPath, ['-e', `${other}${REPORT}`], {
    env: { NAPI_RS_NATIVE_LIBRARY_PATH: path.join(ROOT, fs.readdirSync(ROOT).find((f) => f.endsWith('.node'))) },
  });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^ERR_DGRAM_RS_NO_BINDING dgram-rs: NAPI_RS_NATIVE_LIBRARY_PATH \(.*\) names a native addon that is not dgram-rs's\b/);
});

// Without /usr/bin/ldd (distroless images) the generated loader asks a
// diagnostic report for the libc and sets process.report.excludeNetwork
// for it: a process-wide setting node:dgram leaves alone, put back.
// (The missing file is simulated: the loader reads it with readFileSync.)
test('a system without /usr/bin/ldd: require() leaves process.report.excludeNetwork as node:dgram does', async (t) => {
  const script = (mod) => `const fs = require('fs');
const read = fs.readFileSync;
fs.readFileSync = function (file, ...rest) {
  if (file === '/usr/bin/ldd') throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
  return read.call(this, file, ...rest);
};
require(${JSON.stringify(mod)});
console.log(process.report.excludeNetwork);`;
  const [node, rs] = await Promise.all([
    runProcess(process.execPath, ['-e', script('node:dgram')]),
    runProcess(process.execPath, ['-e', script(ROOT)]),
  ]);
  t.is(node.stdout, 'false\n', node.stderr);
  t.is(rs.stdout, node.stdout, rs.stderr);
});
