'use strict';

// Handing a socket to a child process (`subprocess.send(message, socket)`,
// `process.send(message, socket)`): Node's IPC channel passes the socket's
// descriptor and the receiving process gets a node:dgram socket bound to it
// (lib/child-handle.js says how a dgram-rs socket takes that path). Each
// scenario runs a parent process with node:dgram and with dgram-rs and
// compares everything both print; the parents must also exit by themselves
// (a carrier must not keep the process alive). Windows' libuv sends TCP
// handles only: there both report ENOTSUP.

const path = require('node:path');
const test = require('ava');
const { childParity, impls, runChild, runProcess } = require('./helpers.js');

const CHILD = JSON.stringify(path.join(__dirname, 'fixtures', 'handle-child.js'));
const onWindows = process.platform === 'win32';

// Prints each line the parent logs, in order; ends with the child.
const PARENT = `
const dgram = require(process.env.DGRAM);
const { fork } = require('node:child_process');
const log = (x) => console.log(JSON.stringify(x));
const child = fork(${CHILD}, process.argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const replies = [];
let waiter;
child.on('message', (m) => { if (waiter && waiter(m)) waiter = undefined; else replies.push(m); });
function reply(match = () => true) {
  const i = replies.findIndex(match);
  if (i >= 0) return Promise.resolve(replies.splice(i, 1)[0]);
  return new Promise((resolve) => { waiter = (m) => match(m) && (resolve(m), true); });
}
function send(label, socket) {
  return new Promise((resolve) => {
    try {
      child.send(label, socket, (err) => { log({ label, callback: err ? err.code : null }); resolve(!err); });
    } catch (err) {
      log({ label, threw: err.code });
      resolve(false);
    }
  });
}
`;

test('a socket in each state: what the child receives and what the send reports', async (t) => {
  const { node } = await childParity(t, `${PARENT}
(async () => {
  const unbound = dgram.createSocket('udp4');
  unbound.on('error', (e) => log({ unboundError: e.code }));
  await send('unbound', unbound);
  const bound = dgram.createSocket('udp6');
  await new Promise((r) => bound.bind(0, '::1', r));
  if (await send('bound udp6', bound)) log(await reply());
  const connected = dgram.createSocket('udp4');
  await new Promise((r) => connected.connect(9, '127.0.0.1', r));
  if (await send('connected', connected)) log(await reply());
  const binding = dgram.createSocket('udp4');
  binding.bind(0, 'localhost');
  await send('binding', binding);
  const closed = dgram.createSocket('udp4');
  await new Promise((r) => closed.bind(0, '127.0.0.1', r));
  closed.close();
  if (await send('closed', closed)) log(await reply());
  log({ instanceofNodeSocket: bound instanceof process.getBuiltinModule('node:dgram').Socket });
  child.send('close');
  await reply((m) => m === 'closed');
  for (const s of [unbound, bound, connected, binding]) s.close();
  child.disconnect();
})();
`, { ms: 15000 });
  t.false(node.timedOut);
  if (!onWindows) t.regex(node.stdout, /"handle":"Socket","type":"udp6","address":\{"address":"::1"/);
});

test('the parent and the child both receive on the socket they share', async (t) => {
  const { node } = await childParity(t, `${PARENT}
(async () => {
  const server = dgram.createSocket('udp4');
  await new Promise((r) => server.bind(0, '127.0.0.1', r));
  if (!await send('server', server)) return server.close(), child.disconnect();
  await reply((m) => m && m.msg === 'server');
  let parentGot = false;
  let childGot = false;
  server.once('message', () => { parentGot = true; });
  reply((m) => m === 'child got x').then(() => { childGot = true; });
  const client = dgram.createSocket('udp4');
  // Both read the one socket: each datagram goes to whichever reads first.
  let sent = 0;
  await new Promise((resolve) => {
    const next = () => {
      if ((parentGot && childGot) || sent === 2000) return resolve();
      sent++;
      client.send('x', server.address().port, '127.0.0.1', () => setImmediate(next));
    };
    next();
  });
  log({ parentGot, childGot });
  client.close();
  server.close();
  child.send('close');
  await reply((m) => m === 'closed');
  child.disconnect();
})();
`, { ms: 15000 });
  if (!onWindows) t.regex(node.stdout, /"parentGot":true,"childGot":true/);
});

test('a socket sent to a child and closed on both sides frees its port', async (t) => {
  const { node } = await childParity(t, `${PARENT}
(async () => {
  const first = dgram.createSocket('udp4');
  await new Promise((r) => first.bind(0, '127.0.0.1', r));
  const port = first.address().port;
  if (await send('first', first)) await reply((m) => m && m.msg === 'first');
  child.send('close');
  await reply((m) => m === 'closed');
  first.close(() => {
    const again = dgram.createSocket('udp4');
    again.on('error', (e) => log({ rebind: e.code }));
    again.bind({ port, address: '127.0.0.1', exclusive: true }, () => {
      log({ rebind: 'listening' });
      again.close();
    });
    child.disconnect();
  });
})();
`, { ms: 15000 });
  t.regex(node.stdout, /"rebind":"listening"/);
});

test('a child hands its socket to the parent (process.send)', async (t) => {
  const { node } = await childParity(t, `
const dgram = require(process.env.DGRAM);
const { fork } = require('node:child_process');
const log = (x) => console.log(JSON.stringify(x));
const child = fork(${CHILD}, ['give'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
let sent;
let adoptedGot;
const finish = () => {
  if (sent === undefined || adoptedGot === undefined) return;
  log({ sent, adoptedGot });
  child.disconnect();
};
child.on('message', (m, handle) => {
  if (!handle) {
    sent = m.sent;
    return finish();
  }
  log({ handle: handle.constructor.name, samePort: handle.address().port === m.port });
  const client = dgram.createSocket('udp4');
  handle.once('message', (data) => {
    adoptedGot = String(data);
    client.close();
    handle.close();
    finish();
  });
  client.send('hello', m.port, '127.0.0.1');
});
`, { ms: 15000 });
  if (!onWindows) t.regex(node.stdout, /"adoptedGot":"hello"/);
});

test('a dgram-rs socket is an instance of node:dgram\'s Socket, and runs none of its methods', (t) => {
  const NodeSocket = impls.node.Socket;
  const socket = impls.rs.createSocket('udp4');
  try {
    t.true(socket instanceof NodeSocket);
    t.true(socket instanceof impls.rs.Socket);
    for (const key of Reflect.ownKeys(NodeSocket.prototype)) {
      if (key === 'constructor') continue;
      const ours = Object.getOwnPropertyDescriptor(impls.rs.Socket.prototype, key);
      t.truthy(ours, `dgram-rs's prototype has its own ${String(key)}`);
      const theirs = Object.getOwnPropertyDescriptor(NodeSocket.prototype, key);
      t.not(ours.value ?? ours.get, theirs.value ?? theirs.get, String(key));
    }
  } finally {
    socket.close();
  }
});

// Where `process.binding` would warn or is denied, the carrier's class comes
// from elsewhere (lib/child-handle.js): still no warning, still sent.
// (Node 25+ also checks the network grant when a UDP socket binds.)
const permissionFlags = () => {
  const flags = process.allowedNodeEnvironmentFlags;
  return `${flags.has('--permission') ? '--permission' : '--experimental-permission'} --allow-fs-read=* ` +
    `--allow-addons --allow-child-process${flags.has('--allow-net') ? ' --allow-net' : ''}`;
};

for (const [name, env] of [
  ['--pending-deprecation with --throw-deprecation', { NODE_OPTIONS: '--pending-deprecation --throw-deprecation' }],
  ['the permission model', { NODE_OPTIONS: permissionFlags() }],
]) {
  test(`handing a socket over under ${name}`, async (t) => {
    const { node } = await childParity(t, `${PARENT}
process.on('warning', (w) => { if (w.name === 'DeprecationWarning') log({ warning: w.code }); });
(async () => {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  if (await send('socket', s)) log(await reply());
  child.send('close');
  await reply((m) => m === 'closed');
  s.close();
  child.disconnect();
})();
`, { ms: 15000, env, stderr: (e) => e.replace(/\(node:\d+\)/g, '(node)') });
    if (!onWindows) t.regex(node.stdout, /"handle":"Socket","type":"udp4"/);
  });
}

// Known difference (README): a socket's native handle (`socket._handle`,
// DEP0112) is one of Node's own on node:dgram and goes over as it is; a
// dgram-rs handle is not, and Node throws what it throws for any object it
// cannot send.
// (Node 25+ has no `_handle`: there is nothing to compare.)
const withHandleMember = Object.getOwnPropertyDescriptor(impls.node.Socket.prototype, '_handle') ? test : test.skip;
// Hands over the socket's raw handle, then (with `alsoSocket`) the socket.
const handOverHandle = (alsoSocket) => `${PARENT}
(async () => {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  if (await send('raw', s._handle)) log(await reply());
  if (${alsoSocket} && await send('socket', s)) log(await reply());
  child.send('close');
  await reply((m) => m === 'closed');
  s.close();
  child.disconnect();
})();
`;
withHandleMember('subprocess.send(message, socket._handle): node:dgram sends the raw handle; dgram-rs throws ERR_INVALID_HANDLE_TYPE', async (t) => {
  const script = handOverHandle(false);
  const opts = { ms: 15000, env: { NODE_OPTIONS: '--no-deprecation' } };
  const [node, rs] = await Promise.all([runChild(script, { ...opts, impl: 'node' }), runChild(script, { ...opts, impl: 'rs' })]);
  t.is(rs.stdout, '{"label":"raw","threw":"ERR_INVALID_HANDLE_TYPE"}\n');
  t.is(rs.code, 0);
  t.is(node.code, 0);
  t.is(node.stdout, onWindows
    ? '{"label":"raw","callback":"ENOTSUP"}\n'
    : '{"label":"raw","callback":null}\n{"msg":"raw","handle":"UDP"}\n');
});

// Under --expose-internals (Node's own tests) node:dgram's state key is
// dgram-rs's and holds its own handle, which Node's channel cannot carry:
// both sends throw, where they would otherwise reach Node's C++ and crash
// (lib/child-handle.js, index.js `asInternalsHandle`; docs/status.md).
withHandleMember('under --expose-internals: a socket and its handle are refused with ERR_INVALID_HANDLE_TYPE, no crash', async (t) => {
  const script = handOverHandle(true);
  const run = (modulePath) => runProcess(process.execPath, ['--expose-internals', '--no-deprecation', '-e', script],
    { env: { DGRAM: modulePath }, ms: 15000 });
  const [node, rs] = await Promise.all([run('node:dgram'), run(path.join(__dirname, '..'))]);
  t.deepEqual({ code: rs.code, signal: rs.signal, stdout: rs.stdout }, {
    code: 0,
    signal: null,
    stdout: '{"label":"raw","threw":"ERR_INVALID_HANDLE_TYPE"}\n{"label":"socket","threw":"ERR_INVALID_HANDLE_TYPE"}\n',
  });
  t.is(node.code, 0);
  if (!onWindows) t.regex(node.stdout, /"label":"raw","callback":null[^]*"label":"socket","callback":null/);
});
