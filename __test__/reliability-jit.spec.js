'use strict';

// The socket path's optimized code survives full garbage collections made
// while no socket is open (a socket per request, closed before the next):
// V8 throws code away when an object it was built on dies, and the hidden
// classes of our JS socket and handle objects die with the last of them
// unless something keeps one alive (index.js makeMapKeepers). Without the
// keepers every such collection had the path compiled again (measured:
// twice node:dgram's TurboFan compilations and ~1.5x its CPU per socket in
// a create/bind/close loop with a full GC every 2,000 sockets). Read from
// V8's own trace: each deoptimization it marks names the function and why
// ("weak objects" up to Node 22, "embedded weak objects cleared" after).

const path = require('node:path');
const test = require('ava');
const { runProcess } = require('./helpers.js');

// Functions of index.js and lib/udp-handle.js whose code depends on the
// socket's and the handle's hidden classes.
const SOCKET_PATH = ['UDP', 'SocketImpl', 'initSocket', 'setUpSocket', 'healthCheck', 'getAsyncId', 'recvStart', 'newHandle', 'readOptions', 'startListening'];

test('full collections with no socket open keep the socket path optimized', async (t) => {
  const fixture = path.join(__dirname, 'fixtures', 'socket-path-code-kept.js');
  const r = await runProcess(process.execPath, ['--expose-gc', '--trace-deopt-verbose', fixture], { ms: 60000 });
  t.is(r.code, 0, r.stderr);
  const marked = r.stdout.split('\n').filter((l) => l.includes('marking dependent code') && l.includes('weak objects'));
  const ours = marked
    .map((l) => /SharedFunctionInfo ([A-Za-z_$]+)>/.exec(l))
    .filter((m) => m && SOCKET_PATH.includes(m[1]))
    .map((m) => m[1]);
  t.log(`${marked.length} code objects dropped for dead objects; of the socket path: ${ours.join(', ') || 'none'}`);
  // (One is allowed: code compiled before a field's type settled.)
  t.true(ours.length <= 1, `socket path code dropped at collections: ${ours.join(', ')}`);
});
