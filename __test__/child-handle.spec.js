'use strict';

// Handing a socket to a child process (`subprocess.send(message, socket)`,
// `process.send(message, socket)`): Node's IPC channel sends only its own
// handle classes, picked with `instanceof` against its internal modules
// (node:dgram's Socket, Node's internal UDP class), and passes the
// descriptor of the native handle such a socket holds. A dgram-rs socket
// could pass only by carrying node:dgram's own Socket class in its prototype
// chain, i.e. by loading node:dgram, which dgram-rs never does; so Node
// throws what it throws for any object it cannot send, synchronously: a
// TypeError ERR_INVALID_HANDLE_TYPE. Documented in README, "Known
// differences". Each scenario runs a parent process with each
// implementation; the parents must exit by themselves.

const path = require('node:path');
const test = require('ava');
const { impls, runChild, runProcess } = require('./helpers.js');

const CHILD = JSON.stringify(path.join(__dirname, 'fixtures', 'handle-child.js'));
// Windows' libuv sends TCP handles only: node:dgram's send fails there.
const onWindows = process.platform === 'win32';

// Logs each step as a JSON line; ends with the child.
const PARENT = `
const dgram = require(process.env.DGRAM);
const { fork } = require('node:child_process');
const log = (x) => console.log(JSON.stringify(x));
const child = fork(${CHILD}, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const replies = [];
let waiter;
child.on('message', (m) => { if (waiter && waiter(m)) waiter = undefined; else replies.push(m); });
function reply(match = () => true) {
  const i = replies.findIndex(match);
  if (i >= 0) return Promise.resolve(replies.splice(i, 1)[0]);
  return new Promise((resolve) => { waiter = (m) => match(m) && (resolve(m), true); });
}
function send(label, handle) {
  return new Promise((resolve) => {
    try {
      child.send(label, handle, (err) => { log({ label, callback: err ? err.code : null }); resolve(!err); });
    } catch (err) {
      log({ label, threw: err.code, name: err.name, message: err.message });
      resolve(false);
    }
  });
}
`;

// Hands over the socket, then (with `raw`) its native handle.
const handOver = (raw) => `${PARENT}
(async () => {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  if (await send('socket', s)) log(await reply());
  if (${raw} && await send('raw', s._handle)) log(await reply());
  child.send('close');
  await reply((m) => m === 'closed');
  s.close();
  child.disconnect();
})();
`;

const THREW = (label) => `{"label":"${label}","threw":"ERR_INVALID_HANDLE_TYPE","name":"TypeError","message":"This handle type cannot be sent"}\n`;
const SENT = (label, handle) => (onWindows
  ? `{"label":"${label}","callback":"ENOTSUP"}\n`
  : `{"label":"${label}","callback":null}\n{"msg":"${label}","handle":"${handle}"`);

test('subprocess.send(message, socket): node:dgram hands the socket over; dgram-rs throws ERR_INVALID_HANDLE_TYPE, as Node does for any handle it cannot send', async (t) => {
  const [node, rs] = await Promise.all([runChild(handOver(false), { impl: 'node', ms: 15000 }), runChild(handOver(false), { impl: 'rs', ms: 15000 })]);
  t.deepEqual({ code: rs.code, signal: rs.signal, stdout: rs.stdout }, { code: 0, signal: null, stdout: THREW('socket') });
  t.is(node.code, 0);
  t.true(node.stdout.startsWith(SENT('socket', 'Socket')), node.stdout);
});

// A socket's native handle (`socket._handle`, DEP0112) is one of Node's own
// on node:dgram and goes over as it is; dgram-rs's is not. (Node 25+ has no
// `_handle`.)
const withHandleMember = Object.getOwnPropertyDescriptor(impls.node.Socket.prototype, '_handle') ? test : test.skip;
withHandleMember('subprocess.send(message, socket._handle): node:dgram sends the raw handle; dgram-rs throws ERR_INVALID_HANDLE_TYPE', async (t) => {
  const opts = { ms: 15000, env: { NODE_OPTIONS: '--no-deprecation' } };
  const [node, rs] = await Promise.all([runChild(handOver(true), { ...opts, impl: 'node' }), runChild(handOver(true), { ...opts, impl: 'rs' })]);
  t.deepEqual({ code: rs.code, signal: rs.signal, stdout: rs.stdout }, { code: 0, signal: null, stdout: THREW('socket') + THREW('raw') });
  t.is(node.code, 0);
  t.true(node.stdout.includes(SENT('raw', 'UDP')), node.stdout);
});

// Under --expose-internals (Node's own tests) the handles of
// _createSocketHandle() answer `instanceof` Node's internal UDP class
// (index.js `asInternalsHandle`); a socket's own handle must not, or Node's
// channel would hand it to its C++, which cannot unwrap it (SIGSEGV).
withHandleMember('under --expose-internals: a socket and its handle are refused with ERR_INVALID_HANDLE_TYPE, no crash', async (t) => {
  const run = (modulePath) => runProcess(process.execPath, ['--expose-internals', '--no-deprecation', '-e', handOver(true)],
    { env: { DGRAM: modulePath }, ms: 15000 });
  const [node, rs] = await Promise.all([run('node:dgram'), run(path.join(__dirname, '..'))]);
  t.deepEqual({ code: rs.code, signal: rs.signal, stdout: rs.stdout }, { code: 0, signal: null, stdout: THREW('socket') + THREW('raw') });
  t.is(node.code, 0);
  t.true(node.stdout.includes(SENT('raw', 'UDP')), node.stdout);
});
