'use strict';

// `npm run examples`: runs the Node docs' UDP server example (server.js),
// then the docs' client example (client.js) against it, and prints what
// both print. Exits 0 once the server has printed that it got the client's
// message; exits 1 on any failure or after a timeout. The server example
// never closes by itself, so it is killed at the end.

const { spawn } = require('node:child_process');
const path = require('node:path');

const TIMEOUT_MS = 10_000;
const PORT = 41234; // fixed by the docs example

const children = new Set();

function start(name) {
  const child = spawn(process.execPath, [path.join(__dirname, name)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const tag = `[${path.basename(name, '.js')}]`;
  const onLine = (cb) => {
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        pending += chunk;
        let nl;
        while ((nl = pending.indexOf('\n')) !== -1) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          cb(line, stream === child.stderr);
        }
      });
      stream.on('end', () => {
        if (pending) cb(pending, stream === child.stderr);
        pending = '';
      });
    }
  };
  onLine((line, isErr) => (isErr ? console.error : console.log)(`${tag} ${line}`));
  return { child, onLine };
}

function finish(code, message) {
  if (message) (code === 0 ? console.log : console.error)(message);
  for (const child of children) child.kill('SIGKILL');
  process.exit(code);
}

const timer = setTimeout(() => {
  finish(1, `examples: timed out after ${TIMEOUT_MS} ms without the server receiving the client's message`);
}, TIMEOUT_MS);
timer.unref();

const server = start('server.js');
let clientStarted = false;
let clientExited = false;
let messageReceived = false;

function checkDone() {
  // Success needs both: the server got the message, and the client exited 0.
  if (messageReceived && clientExited) finish(0, "examples: OK, the server received the client's message");
}

server.onLine((line) => {
  if (!clientStarted && line.startsWith('server listening ')) {
    clientStarted = true;
    const client = start('client.js');
    client.child.on('exit', (code, signal) => {
      if (code !== 0) finish(1, `examples: client.js exited with ${signal || code}`);
      clientExited = true;
      checkDone();
    });
  } else if (line.startsWith('server got: Some bytes from ')) {
    messageReceived = true;
    checkDone();
  } else if (line.includes('EADDRINUSE')) {
    finish(1, `examples: UDP port ${PORT} (fixed by the docs' server example) is in use; free it and rerun`);
  }
});

server.child.on('exit', (code, signal) => {
  finish(1, `examples: server.js exited early with ${signal || code}`);
});
