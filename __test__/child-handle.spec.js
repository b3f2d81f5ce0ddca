'use strict';

// Handing a socket to a child process (`subprocess.send(message, socket)`):
// Node's IPC channel only sends handles of its own classes (net.Socket,
// net.Server, its internal TCP/Pipe/UDP handles and dgram.Socket), checked
// with `instanceof` against its internal modules. A dgram-rs socket is not one
// of them, and an addon cannot make one without Node's internal handle
// types, so Node throws what it throws for any other object: a TypeError
// ERR_INVALID_HANDLE_TYPE, synchronously. Documented in README, "Known
// differences".

const path = require('node:path');
const { fork } = require('node:child_process');
const test = require('ava');
const { documentedDifference, withTimeout } = require('./helpers.js');

const CHILD = path.join(__dirname, 'fixtures', 'handle-child.js');

test('subprocess.send(message, socket): node:dgram hands the socket over; dgram-rs throws ERR_INVALID_HANDLE_TYPE, as Node does for any handle it cannot send', async (t) => {
  await documentedDifference(
    t,
    async (dgram, trace) => {
      const s = dgram.createSocket('udp4');
      await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
      const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
      try {
        const got = new Promise((resolve) => child.once('message', resolve));
        try {
          // (Windows' libuv passes only TCP handles: node's send fails there,
          // reported to this callback.)
          let wrote;
          const written = new Promise((resolve) => { wrote = resolve; });
          child.send('socket', s, (err) => wrote(err));
          trace.push('sent');
          const err = await withTimeout(written, 5000, 'the send to the child');
          trace.push(err ? { sendFailed: err.code } : await withTimeout(got, 5000, 'child reply'));
        } catch (err) {
          trace.push({ name: err.name, code: err.code, message: err.message });
        }
      } finally {
        child.kill();
        s.close();
      }
    },
    {
      node: ['sent', process.platform === 'win32' ? { sendFailed: 'ENOTSUP' } : 'child got a udp4 socket'],
      rs: [{ name: 'TypeError', code: 'ERR_INVALID_HANDLE_TYPE', message: 'This handle type cannot be sent' }],
    },
  );
});
