'use strict';

// dgram in cluster workers, through Node's cluster protocol: a worker's
// non-exclusive bind gets the primary's socket (one per address, port and
// type) and shares it with the other workers that bind the same; exclusive
// and implicit binds stay the worker's own; close() gives the socket back;
// disconnecting a worker closes its shared sockets. Each scenario runs as a
// cluster (primary + workers) once with node:dgram and once with dgram-rs
// in the workers; the primary prints one JSON summary, compared as is.

const test = require('ava');
const { runNode, scriptFile, jsonLines } = require('./options-helpers.js');

const LOW_PORT = require.resolve('./fixtures/low-port.js');

// Windows cannot pass a UDP handle to a worker (node's primary fails with
// write ENOTSUP, see options-cluster): there the two runs are compared and
// nothing about the shared sockets is pinned.
const sharesHandles = process.platform !== 'win32';

const SCRIPT = `'use strict';
const cluster = require('node:cluster');
const dgram = require(process.env.DGRAM);
const nodeDgram = require('node:dgram');
const scenario = process.env.SCENARIO;
const GROUP = '239.255.77.21';
const out = (o) => console.log(JSON.stringify(o));

// A free loopback port, for the scenarios that need a fixed one: free
// now, below the ephemeral range, where the bind(0)s of tests running
// beside this one cannot take it.
const { closedLowPort } = require(${JSON.stringify(LOW_PORT)});
const freePort = (cb) => closedLowPort(nodeDgram).then(cb);
// Whether the primary itself can bind port P exclusively now.
function probe(port, cb) {
  const s = nodeDgram.createSocket('udp4');
  s.on('error', (e) => cb(e.code));
  s.bind({ port, address: '127.0.0.1', exclusive: true }, () => s.close(() => cb('free')));
}

if (cluster.isPrimary) {
  const reports = [];
  const exits = [];
  // Workers exit in no particular order.
  const summary = (extra) => { exits.sort((a, b) => (a.w < b.w ? -1 : 1)); out({ reports, exits, ...extra }); };
  const fork = (env) => {
    const w = cluster.fork(env);
    w.on('message', (m) => { reports.push({ w: env.ROLE, ...m }); onReport(w, m, env.ROLE); });
    w.on('exit', (code, signal) => { exits.push({ w: env.ROLE, code, signal }); onExit(); });
    return w;
  };
  let onReport = () => {};
  let onExit = () => {};
  // Generous: the six tests' primaries and workers (node and rs) all start
  // at once on a loaded 2-core machine.
  setTimeout(() => { summary({ timedOut: true }); process.exit(1); }, 20000).unref();

  if (scenario === 'ports') {
    // Shared, exclusive and implicit binds to port 0; then a datagram to
    // the shared port per shared worker's report, then disconnect.
    const roles = ['shared1', 'shared2', 'exclusive', 'implicit'];
    const ports = {};
    let received = 0;
    onReport = (w, m, role) => {
      if (m.port !== undefined) {
        ports[role] = m.port;
        if (Object.keys(ports).length < roles.length) return;
        const tx = nodeDgram.createSocket('udp4');
        let n = 0;
        const next = () => tx.send('d' + n, ports.shared1, '127.0.0.1', () => { if (++n < 6) next(); else tx.close(); });
        next();
      } else if (m.received !== undefined && ++received === 6) {
        onExit = () => {
          if (exits.length < roles.length) return;
          const closed = reports.filter((r) => r.closed).sort((a, b) => a.w < b.w ? -1 : 1);
          reports.splice(0, reports.length, ...closed);
          summary({
            sharedSame: ports.shared1 === ports.shared2,
            exclusiveOwn: ports.exclusive !== ports.shared1,
            implicitOwn: ports.implicit !== ports.shared1 && ports.implicit !== ports.exclusive,
            received,
          });
        };
        cluster.disconnect();
      }
    };
    for (const role of roles) fork({ ROLE: role });
  } else if (scenario === 'to-primary') {
    // Workers bind port 0 (one shared socket) and send to the primary.
    const rx = nodeDgram.createSocket('udp4');
    const from = new Set();
    let n = 0;
    rx.on('message', (m, rinfo) => {
      from.add(rinfo.port);
      if (++n === 20) {
        rx.close();
        onExit = () => { if (exits.length === 2) { reports.length = 0; summary({ n, oneSourcePort: from.size === 1 }); } };
        cluster.disconnect();
      }
    });
    rx.bind(0, '127.0.0.1', () => { for (const r of ['a', 'b']) fork({ ROLE: r, TARGET: String(rx.address().port) }); });
  } else if (scenario === 'membership') {
    // The docs' example: both workers bind port P; the second one's
    // addMembership() of the same group fails (one shared socket).
    freePort((port) => {
      let done = 0;
      onReport = () => {
        if (++done === 1) fork({ ROLE: 'second', PORT: String(port) });
        else {
          onExit = () => { if (exits.length === 2) summary({}); };
          cluster.disconnect();
        }
      };
      fork({ ROLE: 'first', PORT: String(port) });
    });
  } else if (scenario === 'give-back') {
    // The socket is closed by close() (user), by the worker's own
    // disconnect, by close() while the primary has not replied yet, and by
    // close() before the lookup ended; each time the primary must have let
    // go of its socket (the port is free for the primary to bind).
    const modes = ['close', 'worker-disconnect', 'before-reply', 'before-lookup', 'after-error'];
    let i = 0;
    const results = [];
    const nextMode = () => {
      if (i === modes.length) { summary({ results }); process.exit(0); }
      const mode = modes[i++];
      freePort((port) => {
        // Next mode once the probe is done and the worker gone.
        let pending = 2;
        const settle = () => { if (--pending === 0) nextMode(); };
        onReport = (w, m) => {
          if (!m.done) return;
          // The worker reported after giving the socket back; give the
          // primary's cluster code a moment to process the release.
          setTimeout(() => probe(port, (state) => { results.push({ mode, state }); w.process.kill(); settle(); }), 100);
        };
        onExit = settle;
        fork({ ROLE: mode, PORT: String(port) });
      });
    };
    nextMode();
  } else if (scenario === 'unref') {
    fork({ ROLE: 'unref' });
    onExit = () => summary({});
  } else if (scenario === 'adopted-handle') {
    // One datagram to the worker's shared socket, then disconnect.
    onReport = (w, m) => {
      if (m.port !== undefined) {
        reports[reports.length - 1].port = 'P'; // random: not compared
        const tx = nodeDgram.createSocket('udp4');
        tx.send('x', m.port, '127.0.0.1', () => tx.close());
      } else if (m.message !== undefined) {
        onExit = () => summary({});
        cluster.disconnect();
      }
    };
    fork({ ROLE: 'adopted-handle' });
  }
} else {
  const role = process.env.ROLE;
  const report = (m) => process.send(m);
  const trace = (s, name) => {
    const ev = [];
    for (const e of ['listening', 'close', 'error']) s.on(e, (err) => { ev.push(e === 'error' ? e + ':' + err.message.replace(process.env.PORT, 'P') : e); });
    return ev;
  };
  if (scenario === 'ports') {
    const s = dgram.createSocket('udp4');
    const ev = trace(s);
    s.on('close', () => report({ closed: role, ev }));
    s.on('message', (m) => report({ received: String(m) }));
    if (role === 'implicit') {
      s.unref();
      s.send('x', 9, '127.0.0.1', () => report({ port: s.address().port }));
    } else if (role === 'exclusive') {
      s.unref(); // cluster does not close it: it must not keep the worker alive
      s.bind({ port: 0, exclusive: true }, () => report({ port: s.address().port }));
    } else {
      s.bind(0, () => report({ port: s.address().port }));
    }
  } else if (scenario === 'to-primary') {
    const s = dgram.createSocket('udp4');
    s.bind(0, () => {
      const timer = setInterval(() => s.send('hello', Number(process.env.TARGET), '127.0.0.1'), 2);
      cluster.worker.on('disconnect', () => clearInterval(timer));
    });
  } else if (scenario === 'membership') {
    const s = dgram.createSocket('udp4');
    s.bind(Number(process.env.PORT), () => {
      try {
        s.addMembership(GROUP, '127.0.0.1');
        report({ addMembership: 'ok' });
      } catch (e) {
        report({ addMembership: e.code, message: e.message, syscall: e.syscall });
      }
    });
  } else if (scenario === 'give-back') {
    const port = Number(process.env.PORT);
    const s = dgram.createSocket('udp4');
    const ev = trace(s);
    const done = (extra) => setImmediate(() => report({ done: true, ev, ...extra }));
    if (role === 'close') {
      s.bind(port, '127.0.0.1', () => s.close(() => done()));
    } else if (role === 'worker-disconnect') {
      s.bind(port, '127.0.0.1', () => {
        // The disconnect closes the socket ('close' and the close()
        // callback of the cluster code), then the IPC channel: report
        // from the 'close' event, while the channel is still up.
        s.on('close', () => report({ done: true, ev }));
        cluster.worker.disconnect();
      });
    } else if (role === 'before-reply' || role === 'after-error') {
      const getServer = cluster._getServer;
      cluster._getServer = function (obj, options, cb) {
        const opts = { ...options, port: options.port === Number(process.env.PORT) ? "P" : options.port };
        if (role === 'after-error') {
          // The primary's answer is an error; the socket is open: 'error'.
          return getServer.call(this, obj, options, (err, handle) => {
            if (handle) handle.close();
            cb(-22, null);
            done({ opts });
          });
        }
        getServer.call(this, obj, options, (err, handle) => {
          const close = handle.close;
          handle.close = function () {
            const r = close.apply(this, arguments);
            done({ opts, err });
            return r;
          };
          cb(err, handle);
        });
        s.close(() => ev.push('close-callback'));
      };
      s.bind(port, '127.0.0.1', () => ev.push('bind-callback'));
    } else if (role === 'before-lookup') {
      s.bind(port, '127.0.0.1', () => ev.push('bind-callback'));
      s.close(() => done());
    }
  } else if (scenario === 'adopted-handle') {
    // The socket runs on the handle the primary shared, as node:dgram swaps
    // it in: events in the async context of the primary's reply (not of
    // createSocket()), and a membership call made while the bind was
    // pending (which bound the old handle) does not fail the bind.
    const { AsyncLocalStorage, executionAsyncResource } = require('node:async_hooks');
    const als = new AsyncLocalStorage();
    const s = als.run('created', () => dgram.createSocket('udp4'));
    const seen = {};
    const where = () => ({ store: als.getStore(), resource: executionAsyncResource().constructor.name });
    s.on('error', (e) => report({ error: e.code, syscall: e.syscall }));
    s.on('listening', () => {
      seen.listening = where();
      report({ port: s.address().port });
    });
    s.on('message', () => report({ message: where(), ...seen }));
    s.bind(0);
    s.addMembership(GROUP);
    seen.addMembership = 'returned';
  } else if (scenario === 'unref') {
    const s = dgram.createSocket('udp4');
    s.unref();
    s.bind(0, () => {
      report({ udpWraps: process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length });
      process.disconnect();
    });
  }
}
`;

let file;
function script() {
  if (!file) file = scriptFile('cluster-protocol.js', SCRIPT);
  return file;
}

async function parity(t, scenario) {
  const [node, rs] = await Promise.all(['node', 'rs'].map((impl) => runNode(script(), impl, { env: { SCENARIO: scenario }, ms: 30000 })));
  const view = (r) => ({ code: r.code, timedOut: r.timedOut, lines: jsonLines(r.stdout), stderr: r.stderr });
  t.log(`node: ${node.stdout.trim()}${node.stderr ? ` [stderr ${node.stderr.trim()}]` : ''}`);
  t.log(`rs:   ${rs.stdout.trim()}${rs.stderr ? ` [stderr ${rs.stderr.trim()}]` : ''}`);
  t.deepEqual(view(rs), view(node));
  return view(node);
}

test('cluster: port 0 binds: non-exclusive ones share one socket, exclusive and implicit ones get their own; datagrams reach the shared one; disconnect closes it', async (t) => {
  const node = await parity(t, 'ports');
  if (!sharesHandles) return;
  const [summary] = node.lines;
  t.like(summary, { sharedSame: true, exclusiveOwn: true, implicitOwn: true, received: 6 });
  // Only the shared sockets are closed by the disconnect.
  t.deepEqual(summary.reports.map((r) => r.closed).sort(), ['shared1', 'shared2']);
});

test('cluster: workers sharing one socket send to the primary (one source port), then cluster.disconnect()', async (t) => {
  const node = await parity(t, 'to-primary');
  if (!sharesHandles) return;
  t.like(node.lines[0], { n: 20, oneSourcePort: true });
});

test('cluster: the docs\' example: the second worker\'s addMembership() on the shared socket fails with EADDRINUSE', async (t) => {
  const node = await parity(t, 'membership');
  if (!sharesHandles) return;
  t.is(node.lines[0].reports[0].addMembership, 'ok');
  // A second join of the group: Linux's EADDRINUSE (macOS: compared only).
  if (process.platform === 'linux') t.deepEqual(node.lines[0].reports.map(({ w, addMembership }) => [w, addMembership]), [['first', 'ok'], ['second', 'EADDRINUSE']]);
});

test('cluster: close(), the worker\'s disconnect, close() before the primary replied or before the lookup: the primary lets go of its socket; an error reply is an error event', async (t) => {
  const node = await parity(t, 'give-back');
  if (!sharesHandles) return;
  t.deepEqual(node.lines[0].results.map((r) => r.state), ['free', 'free', 'free', 'free', 'free']);
  const byMode = Object.fromEntries(node.lines[0].reports.map((r) => [r.w, r]));
  t.deepEqual(byMode.close.ev, ['listening', 'close']);
  t.deepEqual(byMode['worker-disconnect'].ev, ['listening', 'close']);
  t.deepEqual(byMode['before-reply'].ev, ['close', 'close-callback']);
  t.deepEqual(byMode['before-lookup'].ev, ['close']);
  t.deepEqual(byMode['after-error'].ev, ['error:bind EINVAL 127.0.0.1:P']);
});

test('cluster: a worker\'s socket runs on the handle the primary shared: events in its async context; a membership call while the bind is pending does not fail it', async (t) => {
  const node = await parity(t, 'adopted-handle');
  if (!sharesHandles) return;
  const [listening, message] = node.lines[0].reports;
  t.is(listening.port, 'P');
  t.like(message, { message: { store: undefined }, addMembership: 'returned' });
});

test('cluster: an unref()ed shared socket leaves no UDPWrap holding the worker', async (t) => {
  const node = await parity(t, 'unref');
  if (!sharesHandles) return;
  t.deepEqual(node.lines[0].reports, [{ w: 'unref', udpWraps: 0 }]);
});
