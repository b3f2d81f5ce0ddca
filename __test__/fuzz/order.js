'use strict';

// The event-order fuzzer's child: one seeded run of random operations on a
// few loopback sockets of one implementation, printing every event and
// callback in the order they happened, across all sockets (run.js compares
// calls' synchronous results; this compares the interleaving: which
// socket's datagram, callback, timer or tick comes first).
//
//   node __test__/fuzz/order.js <node:dgram | path of dgram-rs> <seed>
//
// Operations are drawn at the start and from inside events (listeners,
// callbacks, ticks, immediates, timers), so the random stream follows the
// order events come in: the first difference in order shows as the first
// differing line, and everything after it differs too. Destinations are
// the sockets themselves or port 9, on 127.0.0.1 and ::1 only.
// order-run.js runs seeds on both implementations and tells differences
// that repeat from those that change from run to run (timing).

const path = require('node:path');

const [impl, seedArg] = process.argv.slice(2);
const dgram = require(impl.startsWith('.') ? path.resolve(impl) : impl);

// The plan fuzzer's seeded generator: the same sequence on both sides.
const { next: random, int: below } = require('./gen.js').prng(Number(seedArg));

const FIRST = 4; // sockets bound before the first operation
const MOST = 8; // sockets created in all
// The timers' delay (0: 1 ms). order-run.js reruns a difference in a
// timer's place with a longer one: a 1 ms timer races the first poll.
const TIMER_MS = Number(process.env.ORDER_TIMER_MS) || 0;
const log = [];
const sockets = [];
const ports = [];
let opCount = 0;
// Whether the loop has polled since the last socket was created: closing
// a socket before it was first polled is a case of its own (session 40).
let polled = false;

const loopback = (i) => (i % 2 ? '::1' : '127.0.0.1');
const portOf = (j) => ports[j] || 9;
const done = (tag) => (err, n) => log.push(`cb ${tag} ${err ? err.code : n}`);

function create(i) {
  const s = dgram.createSocket(i % 2 ? 'udp6' : 'udp4');
  s.on('message', (msg, rinfo) => {
    log.push(`s${i} message ${msg.length > 20 ? msg.length : msg} from s${ports.indexOf(rinfo.port)}`);
    if (random() < 0.3) operate(`m${i}`);
  });
  s.on('listening', () => log.push(`s${i} listening`));
  s.on('connect', () => log.push(`s${i} connect`));
  s.on('close', () => log.push(`s${i} close`));
  s.on('error', (e) => log.push(`s${i} error ${e.code} ${e.syscall}`));
  return s;
}

function addSocket() {
  const i = sockets.length;
  const s = create(i);
  sockets.push(s);
  polled = false;
  setImmediate(() => { polled = true; });
  s.bind(0, loopback(i), () => {
    ports[i] = s.address().port;
    log.push(`s${i} bound`);
  });
  return s;
}

const OPS = ['send', 'send', 'send', 'sendConnected', 'sendList', 'sendTooBig', 'connect', 'disconnect',
  'close', 'nextTick', 'setImmediate', 'setTimeout', 'create', 'unref', 'setTTL'];

function operate(where) {
  const i = below(sockets.length);
  const j = below(sockets.length);
  const op = OPS[below(OPS.length)];
  const s = sockets[i];
  const tag = `${where}:${opCount++}`;
  if (process.env.ORDER_OPS) log.push(`op ${tag} ${op} s${i} s${j}${polled ? '' : ' (not polled yet)'}`);
  try {
    switch (op) {
      case 'send': s.send(tag, portOf(j), loopback(i), done(tag)); break;
      case 'sendConnected': s.send(tag, done(tag)); break;
      case 'sendList': s.send([tag, '+'], portOf(j), loopback(i)); break;
      case 'sendTooBig': s.send(Buffer.alloc(70000), portOf(j), loopback(i), done(tag)); break;
      case 'connect': s.connect(portOf(j), loopback(i), (err) => log.push(`connected ${tag} ${err ? err.code : ''}`)); break;
      case 'disconnect': s.disconnect(); break;
      case 'close': s.close(() => log.push(`closed ${tag}`)); break;
      case 'nextTick': process.nextTick(() => { log.push(`tick ${tag}`); if (random() < 0.5) operate('t'); }); break;
      case 'setImmediate': setImmediate(() => { log.push(`immediate ${tag}`); if (random() < 0.7) operate('i'); }); break;
      case 'setTimeout': setTimeout(() => { log.push(`timeout ${tag}`); if (random() < 0.7) operate('o'); }, TIMER_MS); break;
      case 'create': if (sockets.length < MOST) addSocket(); break;
      case 'unref': s.unref(); break;
      case 'setTTL': log.push(`ttl ${s.setTTL(5)}`); break;
    }
  } catch (e) {
    log.push(`${tag} ${op} s${i} threw ${e.code}`);
  }
}

let bound = 0;
for (let i = 0; i < FIRST; i++) {
  const s = create(i);
  sockets.push(s);
  s.bind(0, loopback(i), () => {
    ports[i] = s.address().port;
    if (++bound === FIRST) start();
  });
}

function start() {
  setImmediate(() => { polled = true; });
  for (let k = 0; k < 12; k++) operate('main');
  // Everything above settles within a few loop turns on loopback.
  setTimeout(() => {
    process.stdout.write(`${log.join('\n')}\n`);
    for (const s of sockets) {
      try { s.close(); } catch {}
    }
  }, 300);
}
