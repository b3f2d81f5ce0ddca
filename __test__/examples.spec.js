'use strict';

// Runs the Node docs' dgram examples (examples/) as child processes over
// real loopback, checks what they print, and checks that they print the same
// with dgram-rs as with node:dgram (a copy of each example with the require
// changed back to 'node:dgram' is run the same way).
//
// The docs' server example binds the fixed UDP port 41234, so these tests
// run serially; they wait a few seconds for that port if something holds
// it, then fail saying so. Examples that print nothing are observed through a preloaded tracer
// that logs their sockets' events to stderr. The multicast examples are not
// run (they would use non-loopback interfaces): `npm run test:types` only
// type-checks them.

const test = require('ava');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.join(__dirname, '..');
const EXAMPLES = path.join(ROOT, 'examples');
const PORT = 41234; // fixed by the docs' examples
const WAIT_MS = 10_000;

const CLIENTS = [
  'client.js',
  'client.mjs',
  'client-multi-buffer.js',
  'client-multi-buffer.mjs',
  'client-connect.js',
  'client-connect.mjs',
];

let tmp;

// Logs every socket's events, for examples that print nothing themselves.
// TRACE_MODULE names the dgram module the example uses.
const TRACER = `'use strict';
const dgram = require(process.env.TRACE_MODULE);
const log = (...a) => process.stderr.write('[trace] ' + a.join(' ') + '\\n');
const createSocket = dgram.createSocket;
dgram.createSocket = function (...args) {
  const s = createSocket.apply(this, args);
  s.on('listening', () => {
    const a = s.address();
    log('listening', a.address, a.port, a.family);
  });
  s.on('connect', () => log('connect'));
  s.on('close', () => log('close'));
  s.on('error', (e) => log('error', e.code, e.message));
  return s;
};
`;

test.before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dgram-rs-examples-'));
  fs.writeFileSync(path.join(tmp, 'tracer.js'), TRACER);
  // node:dgram copies of the examples, to compare against.
  fs.mkdirSync(path.join(tmp, 'node'));
  for (const name of fs.readdirSync(EXAMPLES)) {
    if (!/\.m?js$/.test(name)) continue;
    const src = fs.readFileSync(path.join(EXAMPLES, name), 'utf8');
    fs.writeFileSync(path.join(tmp, 'node', name), src.replaceAll("'dgram-rs'", "'node:dgram'"));
  }
});

test.after.always(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const children = new Set();
test.afterEach.always(() => {
  for (const child of children) child.kill('SIGKILL');
});

// Where to find an example for an implementation: 'rs' (this package, by its
// own name) or 'node' (the node:dgram copy).
function example(impl, name) {
  return impl === 'rs' ? path.join(EXAMPLES, name) : path.join(tmp, 'node', name);
}

// Spawns `node [--require tracer] file` (cwd: the repo) and collects its
// output lines; `waitFor` awaits a line without sleeping.
function run(impl, name, { trace = false } = {}) {
  const args = [];
  const env = { ...process.env };
  if (trace) {
    args.push('--require', path.join(tmp, 'tracer.js'));
    env.TRACE_MODULE = impl === 'rs' ? path.join(ROOT, 'index.js') : 'node:dgram';
  }
  args.push(example(impl, name));
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);

  const out = { stdout: [], stderr: [] };
  const waiters = new Set();
  let exit;

  const check = () => {
    for (const w of waiters) {
      const line = out[w.stream].find(w.test);
      if (line !== undefined) w.resolve(line);
      else if (exit) w.reject(new Error(`${name} (${impl}) exited (${exit.signal || exit.code}) before printing ${w.what}\n${transcript()}`));
    }
  };
  const transcript = () => `stdout:\n${out.stdout.join('\n')}\nstderr:\n${out.stderr.join('\n')}`;

  for (const stream of ['stdout', 'stderr']) {
    readline.createInterface({ input: child[stream] }).on('line', (line) => {
      out[stream].push(line);
      check();
    });
  }
  const exited = new Promise((resolve) => {
    // 'close': the process has exited and its output has been read.
    child.on('close', (code, signal) => {
      children.delete(child);
      exit = { code, signal };
      check();
      resolve({ code, signal, stdout: out.stdout, stderr: out.stderr });
    });
  });

  function waitFor(stream, test, what) {
    return new Promise((resolve, reject) => {
      const w = { stream, test, what };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`${name} (${impl}) did not print ${what} within ${WAIT_MS} ms\n${transcript()}`));
      }, WAIT_MS);
      w.resolve = (line) => {
        clearTimeout(timer);
        waiters.delete(w);
        resolve(line);
      };
      w.reject = (err) => {
        clearTimeout(timer);
        waiters.delete(w);
        reject(err);
      };
      waiters.add(w);
      check();
    });
  }

  // Resolves with the exit once the process is done, or kills it and fails.
  function finished() {
    let timer;
    const timeout = new Promise((resolve, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name} (${impl}) did not exit within ${WAIT_MS} ms\n${transcript()}`));
      }, WAIT_MS);
    });
    return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
  }

  return { child, out, waitFor, finished, kill: () => child.kill('SIGKILL'), exited };
}

function portBusy(name, lines, port) {
  return lines.some((l) => l.includes('EADDRINUSE'))
    ? `UDP port ${port} is in use by another process (the docs' ${name} example binds this fixed port): free it and rerun`
    : undefined;
}

// 41234 lies inside the ephemeral range: another test's bind(0) may hold it
// for a moment. Waits (up to 5 s) until 0.0.0.0:port can be bound, so that
// a passing holder doesn't fail the test; a lasting one still does, saying so.
async function untilPortFree(port) {
  const dgram = require('node:dgram');
  for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
    const s = dgram.createSocket('udp4');
    const free = await new Promise((resolve) => {
      s.once('error', () => resolve(false));
      s.bind({ port, exclusive: true }, () => resolve(true));
    });
    await new Promise((resolve) => s.close(resolve));
    if (free) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Starts the docs' server example and waits until it is listening. (If its
// port is taken, the example prints the error, closes and exits.)
async function startServer(t, impl, name) {
  await untilPortFree(PORT);
  const server = run(impl, name);
  let first;
  try {
    first = await server.waitFor('stdout', (l) => l.startsWith('server listening '), "'server listening …'");
  } catch (err) {
    throw new Error(portBusy(name, server.out.stderr, PORT) || err.message);
  }
  t.is(first, `server listening 0.0.0.0:${PORT}`);
  return server;
}

// Runs one client example against a listening server; returns the line the
// server printed for it, with the client's port replaced by PORT, and the
// client's traced events.
async function runClient(t, impl, server, name, index) {
  const client = run(impl, name, { trace: true });
  const { code, signal, stdout, stderr } = await client.finished();
  t.is(code, 0, `${name} (${impl}) exited with ${signal || code}: ${stderr.join('\n')}`);
  t.deepEqual(stdout, [], `${name} (${impl}) prints nothing`);
  const listening = stderr.find((l) => l.startsWith('[trace] listening '));
  t.truthy(listening, `${name} (${impl}) socket was bound: ${stderr.join('\n')}`);
  const clientPort = listening.split(' ')[3];
  // The server's line for this client: the (index + 1)-th message it got.
  const got = await server.waitFor('stdout', (_l, i) => i === index + 1, `the message from ${name}`);
  t.is(got, `server got: Some bytes from 127.0.0.1:${clientPort}`, `${name} (${impl})`);
  return {
    got: got.replace(`:${clientPort}`, ':PORT'),
    trace: stderr.map((l) => l.replace(/^\[trace\] listening 0\.0\.0\.0 \d+ IPv4$/, '[trace] listening 0.0.0.0 PORT IPv4')),
  };
}

test.serial("examples resolve 'dgram-rs' to this package by its own name (CJS and ESM)", async (t) => {
  const resolveIn = (args) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: EXAMPLES, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`))));
    });
  const index = path.join(ROOT, 'index.js');
  t.is(await resolveIn(['-p', "require.resolve('dgram-rs')"]), index);
  const esm = await resolveIn(['--input-type=module', '-e', "console.log(import.meta.resolve('dgram-rs'))"]);
  // ESM resolves to the ESM entry, which re-exports the same CJS module.
  t.is(esm, require('node:url').pathToFileURL(path.join(ROOT, 'index.mjs')).href);
});

for (const serverName of ['server.js', 'server.mjs']) {
  test.serial(`${serverName} receives every client example's message, as with node:dgram`, async (t) => {
    const results = {};
    for (const impl of ['rs', 'node']) {
      const server = await startServer(t, impl, serverName);
      try {
        results[impl] = [];
        for (const [i, name] of CLIENTS.entries()) {
          const r = await runClient(t, impl, server, name, i);
          results[impl].push({ name, ...r });
        }
        // Nothing unexpected on the server's side.
        t.deepEqual(server.out.stderr, [], `${serverName} (${impl}) stderr`);
        t.is(server.out.stdout.length, 1 + CLIENTS.length, `${serverName} (${impl}) stdout:\n${server.out.stdout.join('\n')}`);
      } finally {
        server.kill();
        await server.exited;
      }
    }
    for (const r of results.rs) {
      t.is(r.got, 'server got: Some bytes from 127.0.0.1:PORT');
      const connect = r.name.startsWith('client-connect') ? ['[trace] connect'] : [];
      t.deepEqual(r.trace, ['[trace] listening 0.0.0.0 PORT IPv4', ...connect, '[trace] close'], r.name);
    }
    t.deepEqual(results.rs, results.node);
  });
}

test.serial('npm run examples (examples/run.js) runs the server and client examples and exits 0', async (t) => {
  await untilPortFree(PORT);
  const runner = run('rs', 'run.js');
  const { code, stdout, stderr } = await runner.finished();
  const busy = portBusy('server', stderr, PORT);
  if (busy) t.fail(busy);
  t.is(code, 0, `stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`);
  t.is(stdout[0], `[server] server listening 0.0.0.0:${PORT}`);
  t.regex(stdout[1], /^\[server\] server got: Some bytes from 127\.0\.0\.1:\d+$/);
  t.is(stdout.at(-1), "examples: OK, the server received the client's message");
  t.deepEqual(stderr, []);
});

test.serial('create-socket-signal.js: aborting the signal closes the socket and the process exits', async (t) => {
  const results = {};
  for (const impl of ['rs', 'node']) {
    const r = await run(impl, 'create-socket-signal.js', { trace: true }).finished();
    results[impl] = { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }
  t.deepEqual(results.rs, { code: 0, stdout: [], stderr: ['[trace] close'] });
  t.deepEqual(results.rs, results.node);
});

test.serial('bind-options-exclusive.js: binds localhost:8000, as with node:dgram', async (t) => {
  for (const impl of ['rs', 'node']) {
    const p = run(impl, 'bind-options-exclusive.js', { trace: true });
    try {
      const line = await p.waitFor('stderr', (l) => l.startsWith('[trace] '), 'a socket event');
      if (line.includes('EADDRINUSE')) t.fail(portBusy('bind-options-exclusive', [line], 8000));
      t.is(line, '[trace] listening 127.0.0.1 8000 IPv4', impl);
      t.deepEqual(p.out.stdout, [], impl);
    } finally {
      // The example keeps listening forever, as in the docs.
      p.kill();
      await p.exited;
    }
  }
});
