'use strict';
// Two copies of the module in one environment: a module registry reset
// (jest makes one per test file, in a new vm context) loads index.js again
// while the native addon stays loaded. Each copy must hear its own sockets,
// and only those, and sockets of both must keep, then release, the process.
const path = require('node:path');
const vm = require('node:vm');
const { spawnSync } = require('node:child_process');
const test = require('ava');
const nodeDgram = require('node:dgram');
const { withTimeout, once, closeAll } = require('./helpers.js');

const ROOT = path.join(__dirname, '..');

// A fresh copy of dgram-rs, evaluated in its own vm context like jest's.
function freshCopy() {
  for (const k of Object.keys(require.cache)) {
    if (k.startsWith(ROOT + path.sep) && !k.includes(`${path.sep}node_modules${path.sep}`) && !k.endsWith('.node') && !k.includes('__test__')) {
      delete require.cache[k];
    }
  }
  const context = vm.createContext({ require, process, Buffer, setTimeout, setImmediate, clearTimeout, console });
  return vm.runInContext(`require(${JSON.stringify(ROOT)})`, context);
}

test('each copy receives its own sockets\' datagrams, whichever was loaded last', async (t) => {
  const a = freshCopy();
  const b = freshCopy();
  t.not(a, b);
  const sa = a.createSocket('udp4');
  const sb = b.createSocket('udp4');
  const got = [];
  sa.on('message', (m) => got.push(`A:${m}`));
  sb.on('message', (m) => got.push(`B:${m}`));
  await withTimeout(new Promise((resolve) => sa.bind(0, '127.0.0.1', resolve)));
  await withTimeout(new Promise((resolve) => sb.bind(0, '127.0.0.1', resolve)));
  const c = nodeDgram.createSocket('udp4');
  let arrived = once(sa, 'message');
  c.send('one', sa.address().port, '127.0.0.1');
  await arrived;
  arrived = once(sb, 'message');
  c.send('two', sb.address().port, '127.0.0.1');
  await arrived;
  t.deepEqual(got, ['A:one', 'B:two']);
  await closeAll(sa, sb, c);
});

test('sockets of two copies keep the process alive until both are closed, then let it exit', (t) => {
  const script = `
    const vm = require('node:vm');
    const load = () => {
      for (const k of Object.keys(require.cache)) if (k.startsWith(${JSON.stringify(ROOT)}) && !k.endsWith('.node')) delete require.cache[k];
      return vm.runInContext('require(' + JSON.stringify(${JSON.stringify(ROOT)}) + ')', vm.createContext({ require, process, Buffer, setTimeout, setImmediate, console }));
    };
    const a = load(); const b = load();
    const sa = a.createSocket('udp4'); const sb = b.createSocket('udp4');
    sa.bind(0, '127.0.0.1', () => sb.bind(0, '127.0.0.1', () => {
      setTimeout(() => { sa.close(); console.log('closed a'); }, 100).unref();
      setTimeout(() => { sb.close(); console.log('closed b'); }, 300).unref();
    }));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, 'closed a\nclosed b\n');
});
