'use strict';

// Runs examples/multicast-receiver.js and examples/multicast-sender.js as
// child processes: the receiver joins 239.255.77.77 on 127.0.0.1 (port 0:
// a free one), the sender sends three datagrams to the group through
// 127.0.0.1, the receiver prints them and exits. The same pair is run with
// the require changed to 'node:dgram', and the outputs must match.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const test = require('ava');
const { scriptFile, spawnP } = require('./options-helpers.js');

const EXAMPLES = path.join(__dirname, '..', 'examples');
const NAMES = ['multicast-receiver.js', 'multicast-sender.js'];

/** The example file for an implementation ('rs': as shipped). */
function example(name, impl) {
  const file = path.join(EXAMPLES, name);
  if (impl === 'rs') return file;
  return scriptFile(`node-${name}`, fs.readFileSync(file, 'utf8').replaceAll("'dgram-rs'", "'node:dgram'"));
}

/** Runs receiver + sender; resolves with both outputs, ports replaced. */
async function runPair(impl) {
  const receiver = spawn(process.execPath, [example(NAMES[0], impl), '0', '3'], {
    cwd: EXAMPLES,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let rOut = '';
  let rErr = '';
  receiver.stderr.on('data', (d) => { rErr += d; });
  const killTimer = setTimeout(() => receiver.kill('SIGKILL'), 10000);
  const exited = new Promise((resolve) => receiver.on('close', (code, signal) => resolve({ code, signal })));
  try {
    const port = await new Promise((resolve, reject) => {
      receiver.stdout.on('data', (d) => {
        rOut += d;
        const m = /receiver listening [\d.]+:(\d+),/.exec(rOut);
        if (m) resolve(Number(m[1]));
      });
      exited.then(() => reject(new Error(`receiver exited early: ${rOut}${rErr}`)));
    });
    const sender = await spawnP(process.execPath, [example(NAMES[1], impl), String(port), '3'], { cwd: EXAMPLES, ms: 8000 });
    const rExit = await exited;
    const senderPort = (/from 127\.0\.0\.1:(\d+)/.exec(rOut) || [])[1];
    const scrub = (s) => s.split(`:${port}`).join(':RECEIVER_PORT').split(`:${senderPort}`).join(':SENDER_PORT');
    return {
      receiver: { ...rExit, stdout: scrub(rOut), stderr: rErr },
      sender: { code: sender.code, signal: sender.signal, stdout: scrub(sender.stdout), stderr: sender.stderr },
    };
  } finally {
    clearTimeout(killTimer);
    receiver.kill('SIGKILL');
  }
}

test('multicast examples: the receiver gets the sender\'s three group datagrams, same output as with node:dgram', async (t) => {
  const rs = await runPair('rs');
  const node = await runPair('node');
  t.log(rs.receiver.stdout);
  t.deepEqual(rs.receiver, {
    code: 0,
    signal: null,
    stdout: [
      'receiver listening 0.0.0.0:RECEIVER_PORT, joined 239.255.77.77 on 127.0.0.1',
      'receiver got: multicast message 1 of 3 from 127.0.0.1:SENDER_PORT (24 bytes)',
      'receiver got: multicast message 2 of 3 from 127.0.0.1:SENDER_PORT (24 bytes)',
      'receiver got: multicast message 3 of 3 from 127.0.0.1:SENDER_PORT (24 bytes)',
      'receiver done after 3 datagrams',
      '',
    ].join('\n'),
    stderr: '',
  });
  t.is(rs.sender.code, 0);
  t.deepEqual(rs, node);
});
