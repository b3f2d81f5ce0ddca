'use strict';

// Process lifetime: sockets in worker threads, many sockets.
// Every scenario runs in a child process (once with node:dgram, once with
// dgram-rs, DGRAM names the module) and the two runs must agree on exit
// code, signal, stdout, stderr and whether the child had to be killed.

const path = require('node:path');
const test = require('ava');
const { childParity } = require('./helpers.js');

const FIXTURES = path.join(__dirname, 'fixtures');
const D = "const dgram = require(process.env.DGRAM);\n";

test('a socket in a worker thread: terminate() with an open socket does not crash', async (t) => {
  const { node } = await childParity(t, `require(${JSON.stringify(path.join(FIXTURES, 'worker-terminate.js'))})`, { ms: 8000 });
  t.is(node.stdout, 'worker listening\nworker got message\nterminated 1\n');
  t.is(node.code, 0);
});

test('a socket in a worker thread that closes it: the worker exits by itself', async (t) => {
  const { node } = await childParity(t, `
    const { Worker } = require('node:worker_threads');
    const w = new Worker(\`
      const dgram = require(process.env.DGRAM);
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => s.send('hi', s.address().port, '127.0.0.1'));
      s.on('message', (m) => { console.log('worker got', String(m)); s.close(); });
    \`, { eval: true });
    w.on('exit', (code) => console.log('worker exit', code));
  `, { ms: 8000 });
  t.is(node.stdout, 'worker got hi\nworker exit 0\n');
});

test('many sockets created and closed in a loop: the process exits promptly', async (t) => {
  const { node } = await childParity(t, `${D}
    let open = 0;
    for (let i = 0; i < 200; i++) {
      const s = dgram.createSocket(i % 2 ? 'udp4' : 'udp6');
      s.bind(0, i % 2 ? '127.0.0.1' : '::1', () => { open++; s.close(); });
    }
    process.on('exit', () => console.log('bound', open));
  `, { ms: 10000 });
  t.is(node.stdout, 'bound 200\n');
});

