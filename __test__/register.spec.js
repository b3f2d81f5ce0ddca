'use strict';
// The drop-in preload: code we don't own (here the node-statsd client, a
// real dependency that does require('dgram')) runs on dgram-rs under
// `node -r dgram-rs/register` and `node --import dgram-rs/register`.
const test = require('ava');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const dgram = require('node:dgram');

const ROOT = path.join(__dirname, '..');

async function receiveOne(run) {
  const srv = dgram.createSocket('udp4');
  await new Promise((resolve) => srv.bind(0, '127.0.0.1', resolve));
  const got = new Promise((resolve) => srv.once('message', (m) => resolve(m.toString())));
  const child = run(srv.address().port);
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no datagram')), 5000).unref());
  try {
    return { child, msg: await Promise.race([got, timeout]) };
  } finally {
    srv.close();
  }
}

const cjsApp = (port) => `
  const StatsD = require('node-statsd');
  const usesRs = require('dgram') === require('dgram-rs') && require('node:dgram') === require('dgram-rs') &&
    (typeof process.getBuiltinModule !== 'function' || process.getBuiltinModule('node:dgram') === require('dgram-rs'));
  const client = new StatsD({ host: '127.0.0.1', port: ${port} });
  client.increment('dgram_rs.preload', 1, () => { client.close(); console.log('usesRs', usesRs); });
`;

test('node -r dgram-rs/register: a dependency that requires dgram runs on dgram-rs', async (t) => {
  const { child, msg } = await receiveOne((port) =>
    spawnSync(process.execPath, ['-r', 'dgram-rs/register', '-e', cjsApp(port)], { cwd: ROOT, encoding: 'utf8', timeout: 10000 }),
  );
  t.is(child.status, 0, child.stderr);
  t.is(child.stdout.trim(), 'usesRs true');
  t.is(msg, 'dgram_rs.preload:1|c');
});

test('node --import dgram-rs/register: import "node:dgram" and require("dgram") both get dgram-rs, with node:dgram\'s named exports, silently', async (t) => {
  // The named exports of this Node's own node:dgram.
  const expected = Object.keys(await import('node:dgram')).sort().join(',');
  const app = (port) => `
    import * as ns from 'node:dgram';
    import dgram from 'node:dgram';
    import { createSocket } from 'dgram';
    import rs from 'dgram-rs';
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const StatsD = require('node-statsd');
    const client = new StatsD({ host: '127.0.0.1', port: ${port} });
    const same = dgram === rs && createSocket === rs.createSocket && require('dgram') === rs &&
      Object.keys(ns).sort().join(',') === ${JSON.stringify(expected)};
    client.increment('dgram_rs.import', 1, () => { client.close(); console.log('usesRs', same); });
  `;
  const { child, msg } = await receiveOne((port) =>
    spawnSync(process.execPath, ['--import', 'dgram-rs/register', '--input-type=module', '-e', app(port)], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 10000,
    }),
  );
  t.is(child.status, 0, child.stderr);
  t.is(child.stdout.trim(), 'usesRs true');
  t.is(child.stderr, '', 'no warning (module.register() is deprecated from Node 26)');
  t.is(msg, 'dgram_rs.import:1|c');
});

// Node 20.0–20.5 have neither module.registerHooks nor module.register
// (simulated: a preload removes both before --import runs).
test('node --import dgram-rs/register where Node has no module.register: one clear error', (t) => {
  const preload = path.join(__dirname, 'fixtures', 'no-module-register.js');
  const child = spawnSync(process.execPath, ['-r', preload, '--import', 'dgram-rs/register', '-e', '0'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 10000,
  });
  t.not(child.status, 0);
  t.regex(child.stderr, /dgram-rs\/register: replacing node:dgram for import statements needs Node\.js 20\.6 or newer \(module\.register\); this is v[\d.]+\. .*-r dgram-rs\/register/);
  t.regex(child.stderr, /code: 'ERR_DGRAM_RS_UNSUPPORTED_NODE'/);
});

test('ESM named and default imports, and CommonJS, are one module instance', (t) => {
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "import d, { createSocket, Socket } from 'dgram-rs'; import { createRequire } from 'node:module'; const c = createRequire(import.meta.url)('dgram-rs'); console.log(d === c && createSocket === c.createSocket && Socket === c.Socket);"],
    { cwd: ROOT, encoding: 'utf8', timeout: 10000 },
  );
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), 'true');
});

// Where Node has in-thread module hooks (module.registerHooks: 22.15+,
// 23.5+), `-r` reaches ES modules' imports too; before, only --import does
// (README), and an ES module under `-r` imports Node's own node:dgram.
test('node -r dgram-rs/register: import "node:dgram" gets dgram-rs where Node has module.registerHooks, node:dgram before', (t) => {
  const inThread = typeof require('node:module').registerHooks === 'function';
  const app = `
    import dgram from 'node:dgram';
    import { createSocket } from 'dgram';
    import rs from 'dgram-rs';
    import { createRequire } from 'node:module';
    // require() keeps Node's resolution of the builtin's name.
    const resolved = createRequire(import.meta.url).resolve('dgram');
    console.log(dgram === rs && createSocket === rs.createSocket, typeof dgram.createSocket, resolved);
  `;
  const child = spawnSync(process.execPath, ['-r', 'dgram-rs/register', '--input-type=module', '-e', app], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 10000,
  });
  t.is(child.status, 0, child.stderr);
  t.is(child.stdout.trim(), `${inThread} function dgram`);
  t.is(child.stderr, '');
});
