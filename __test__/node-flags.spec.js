'use strict';

// Node's run-time flags that change what a library may do. node:dgram uses
// none of the APIs they deprecate or restrict beyond what it documents, so
// dgram-rs must not either. Each scenario runs in a child process with both
// implementations (helpers.childParity).

const test = require('ava');
const { ROOT, childParity, runProcess } = require('./helpers.js');
const { python, runWithInheritedFd, scriptFile } = require('./options-helpers.js');

const D = 'const dgram = require(process.env.DGRAM);\n';
// bind({ fd }) is Unix-only (Node cannot adopt a descriptor on Windows).
const unixOnly = process.platform === 'win32' ? test.skip : test;

test('--pending-deprecation with --throw-deprecation: a batch of messages raises no deprecation', async (t) => {
  const { node } = await childParity(
    t,
    `${D}
    process.throwDeprecation = true;
    process.on('warning', (w) => console.log('warning', w.code));
    const s = dgram.createSocket('udp4');
    let n = 0;
    s.on('message', (m) => {
      n++;
      // A deprecation of the application's own still warns (and throws).
      process.nextTick(() => { if (n === 2) process.emitWarning('own', 'Custom', 'C1'); });
      if (n === 20) s.close(() => console.log('received', n));
    });
    // Twenty datagrams in one tick: read and emitted together by dgram-rs.
    s.bind(0, '127.0.0.1', () => {
      for (let i = 0; i < 20; i++) s.send('m' + i, s.address().port, '127.0.0.1');
    });`,
    { env: { NODE_PENDING_DEPRECATION: '1' }, stderr: (e) => e.replace(/\(node:\d+\)/g, '(node)') },
  );
  t.is(node.stdout, 'warning C1\nreceived 20\n');
});

// Node 25+ checks the network grant (--allow-net) in its UDP handle: every
// bind fails with ERR_ACCESS_DENIED (an 'error' event, a throw from
// bindSync and from bind({ fd })). Before that the permission model left
// UDP alone, and so must dgram-rs there.
const permissionFlags = () =>
  `${process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission'} --allow-fs-read=* --allow-addons`;

test('the permission model without a network grant: bind, send, connect, bindSync as node:dgram', async (t) => {
  const netChecked = process.allowedNodeEnvironmentFlags.has('--allow-net');
  const { node } = await childParity(
    t,
    `${D}
    const show = (e) => [e.code, e.syscall, e.address, e.port, e.message, e.errno && e.errno.resource].join(' | ');
    const steps = [
      (done) => dgram.createSocket('udp4').on('error', function (e) { console.log('bind:', show(e)); this.close(done); })
        .bind(0, '127.0.0.1', function () { console.log('bind: listening'); this.close(done); }),
      (done) => { const s = dgram.createSocket('udp6').on('error', (e) => { console.log('send error:', show(e)); s.close(done); });
        s.send('x', 9, '::1', (e) => { console.log('send cb:', e ? e.code : 'ok'); s.close(done); }); },
      (done) => { const s = dgram.createSocket('udp4').on('error', (e) => { console.log('connect error:', show(e)); s.close(done); });
        s.connect(9, '127.0.0.1', (e) => { console.log('connect cb:', e ? e.code : 'ok'); s.close(done); }); },
      (done) => { const s = dgram.createSocket('udp4');
        if (!require('node:dgram').Socket.prototype.bindSync) return s.close(done); // Node's own since 24.19
        try { s.bindSync({ port: 0, address: '127.0.0.1' }); console.log('bindSync: ok'); } catch (e) { console.log('bindSync:', show(e)); }
        s.close(done); },
    ];
    const next = () => { const step = steps.shift(); if (step) step(next); };
    next();`,
    {
      env: { NODE_OPTIONS: permissionFlags() },
      stderr: (e) => e.replace(/\(node:\d+\)/g, '(node)'),
    },
  );
  t.regex(node.stdout, netChecked ? /^bind: ERR_ACCESS_DENIED \| bind \| 127\.0\.0\.1 \| [^|]*\| bind ERR_ACCESS_DENIED Access/ : /^bind: listening\n/);
});

unixOnly('the permission model without a network grant: bind({ fd }) as node:dgram', async (t) => {
  if (!python()) return t.fail('python3 is needed to hand a socket to the child');
  const file = scriptFile('node-flags-fd.js', `${D}
    const s = dgram.createSocket('udp4');
    try {
      s.bind({ fd: 3 }, () => { console.log('listening'); s.close(); });
    } catch (e) {
      console.log('threw', e.code, e.permission, JSON.stringify(e.resource), e.message);
    }`);
  const run = (impl) => runWithInheritedFd(file, impl, { env: { NODE_OPTIONS: permissionFlags() } });
  const [node, rs] = [await run('node'), await run('rs')];
  t.is(rs.stdout, node.stdout);
  t.is(rs.code, node.code);
  t.regex(node.stdout, process.allowedNodeEnvironmentFlags.has('--allow-net') ? /^threw ERR_ACCESS_DENIED Net "" Access/ : /^listening\n$/);
});

// node:dgram works in a process that may not load addons; dgram-rs cannot,
// and says so (not "build it from source", which would not help).
test('--no-addons: require() fails with ERR_DLOPEN_DISABLED and says which flags', async (t) => {
  const r = await runProcess(process.execPath, ['--no-addons', '-e', `
    try { require(${JSON.stringify(ROOT)}); console.log('loaded'); } catch (e) { console.log(e.code, e.message); }`]);
  t.regex(r.stdout, /^ERR_DLOPEN_DISABLED dgram-rs: this process may not load native addons\b.*--no-addons.*--allow-addons/);
  t.notRegex(r.stdout, /build it from source|\.\./);
});
