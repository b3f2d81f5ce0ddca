'use strict';

// Exceptions thrown by listeners and callbacks reach 'uncaughtException'
// (and 'uncaughtExceptionMonitor') or Node's default handler exactly as with
// node:dgram: the same arguments to the handlers (origin, async context),
// the same printed report (source line and caret at the throw statement,
// the error, its properties), the same exit code (process.exitCode preset
// or not), and the process goes on as it does (later datagrams of the same
// burst still delivered). Each case runs fixtures/throwing.js in a child
// process per implementation; stdout, stderr without the stack frame lines
// (`    at …`, which name internal functions), exit code and signal must be
// equal.

const path = require('node:path');
const test = require('ava');
const { FIXTURES, runBothFiles, withoutFrames } = require('./parity-files.js');

const FIXTURE = path.join(FIXTURES, 'throwing.js');

function view(r) {
  return { code: r.code, signal: r.signal, timedOut: r.timedOut, stdout: r.stdout, stderr: withoutFrames(r.stderr) };
}

const CASES = [
  // A one-datagram 'message': every kind of thrown value, no handler.
  ...['error', 'split', 'string', 'object', 'null', 'number'].map((what) => ['message', what, 'none']),
  // ... and every kind of handler.
  ...['uncaught', 'monitor', 'both', 'exitcode', 'exitcode-uncaught'].map((handler) => ['message', 'error', handler]),
  ['message', 'string', 'uncaught'],
  ['message', 'object', 'both'],
  // A burst delivered in one batch, every third listener call throws.
  ...['error', 'split', 'string', 'object'].map((what) => ['burst', what, 'uncaught']),
  ['burst', 'error', 'none'],
  ['burst', 'split', 'monitor'],
  ['burst', 'null', 'exitcode-uncaught'],
  // 'listening', 'close', a send callback, a receive 'error' listener.
  ...['listening', 'close', 'send', 'error'].flatMap((where) => [
    [where, 'error', 'none'],
    [where, 'split', 'none'],
    [where, 'string', 'none'],
    [where, 'object', 'uncaught'],
    [where, 'error', 'both'],
    [where, 'split', 'exitcode'],
  ]),
];

for (const [where, what, handler] of CASES) {
  // The 'error' cases are made by an ICMP report on a connected socket,
  // which libuv on Windows ignores: node:dgram emits no 'error' there.
  const runs = where === 'error' && process.platform === 'win32' ? test.skip : test;
  runs(`throw ${what} in ${where}, ${handler === 'none' ? 'no handler' : handler}`, async (t) => {
    const { node, rs } = await runBothFiles(FIXTURE, [where, what, handler], { ms: 15000 });
    t.deepEqual(view(rs), view(node));
    // The fixture did what the case is about (on node:dgram).
    t.false(node.timedOut);
    const survives = handler === 'uncaught' || handler === 'both' || handler === 'exitcode-uncaught';
    if (survives) {
      t.regex(node.stdout, /^uncaughtException .* origin=uncaughtException /m);
      t.is(node.code, handler === 'exitcode-uncaught' ? 42 : 0);
      if (where === 'burst') t.regex(node.stdout, /^received d0,d1,d2,d3,d4,d5,d6,d7,d8,d9,d10,d11$/m);
    } else {
      // Node's report: `file:line`, the source line, a caret under the throw.
      const lines = node.stderr.split(/\r?\n/).filter((l) => l !== '');
      t.regex(lines[0], /throwing\.js:\d+$/);
      t.regex(lines[1], /\bthrow\b/);
      t.regex(lines[2], /^\s*\^+$/);
      t.is(lines[2].indexOf('^'), lines[1].indexOf('throw'), 'the caret marks the throw statement');
      t.is(node.code, 1);
      if (handler === 'monitor') t.regex(node.stdout, /^uncaughtExceptionMonitor .* origin=uncaughtException$/m);
    }
  });
}

// libuv reads at most 32 datagrams per socket per loop turn, exceptions or
// not: a listener's exception (or one from a tick or send callback it
// caused) in the middle of a backlog does not start a new count.
// libuv's Unix count of 32 per turn (see core-receive.spec.js).
(process.platform === 'win32' ? test.skip : test)('an exception while a backlog is emitted keeps the turn\'s count: 32 messages per loop turn', async (t) => {
  const file = path.join(FIXTURES, 'throw-turns.js');
  for (const [k, kind] of [[1, 'listener'], [5, 'listener'], [32, 'listener'], [40, 'listener'], [5, 'tick'], [32, 'sendcb']]) {
    const { node, rs } = await runBothFiles(file, [String(k), kind]);
    t.deepEqual(view(rs), view(node), `K=${k} ${kind}`);
    t.regex(node.stdout, /"turns":\[32,32,32,4\]/, `K=${k} ${kind}`);
  }
});
