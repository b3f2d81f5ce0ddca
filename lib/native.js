'use strict';
// Loads the native addon through the loader that `napi build` generates
// (binding.js: a `dgram-rs.<platform>.node` next to it first, i.e. a local
// build in a checkout, then the installed `dgram-rs-<platform>` package).
// When neither exists, that loader throws a generic "Cannot find native
// binding"; this module replaces it with one error that names the platform,
// says why the binary is missing and how to build it from source. The
// loader's own errors stay reachable as `cause`.

const path = require('node:path');

const REPO = 'https://github.com/dgram-rs/dgram-rs';

function libc() {
  try {
    if (!process.report) return 'gnu';
    const report = withReportSettingKept(() => {
      process.report.excludeNetwork = true; // as binding.js does: no DNS lookups for the report
      return process.report.getReport();
    });
    return report && report.header && report.header.glibcVersionRuntime ? 'gnu' : 'musl';
  } catch {
    return 'gnu';
  }
}

// The generated loader asks a diagnostic report for the libc when it
// cannot read /usr/bin/ldd (distroless images), and sets
// `process.report.excludeNetwork` for it, a process-wide setting that
// every later report of the application would keep: put it back.
function withReportSettingKept(fn) {
  const report = process.report;
  const before = report ? report.excludeNetwork : undefined;
  try {
    return fn();
  } finally {
    if (report && report.excludeNetwork !== before) report.excludeNetwork = before;
  }
}

/** The platform in napi-rs's naming, as in `dgram-rs-<platform>`. */
function platformName() {
  const { platform, arch } = process;
  if (platform === 'linux') return `${platform}-${arch}-${libc()}`;
  if (platform === 'win32') return `${platform}-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function prebuiltPackages() {
  try {
    return Object.keys(require('../package.json').optionalDependencies || {});
  } catch {
    return [];
  }
}

/** Messages of the loader's error chain (`cause` links), oldest last. */
function causeMessages(err) {
  const out = [];
  for (let e = err && err.cause; e && out.length < 50; e = e.cause) out.push(String(e.message));
  return out;
}

// Node's ERR_DLOPEN_DISABLED, as its message reaches us (binding.js keeps
// only the messages of the loader's errors).
const ADDONS_DISABLED = /loading addons is disabled/;

/** No build from source helps when the process may not load addons at all. */
function addonsDisabledError(cause) {
  const err = new Error(
    `dgram-rs: this process may not load native addons, and dgram-rs is one (Node.js ${process.version} ` +
      'was started with --no-addons, or with --permission and without --allow-addons). Start it without ' +
      '--no-addons, or add --allow-addons, or use node:dgram in such a process.',
  );
  err.code = 'ERR_DLOPEN_DISABLED';
  err.cause = cause;
  return err;
}

/** A loader error's first line, without its closing full stop (quoted in ours). */
function firstLine(message) {
  return message.split('\n')[0].replace(/\.+$/, '');
}

// The loader loads only what NAPI_RS_NATIVE_LIBRARY_PATH names, when set,
// with require() from the package's folder (where binding.js is).
function overrideLoadError(cause, failedLoad) {
  const value = process.env.NAPI_RS_NATIVE_LIBRARY_PATH;
  const err = new Error(
    `dgram-rs: NAPI_RS_NATIVE_LIBRARY_PATH is set (${value}), so only that file is loaded, and it ` +
      `${failedLoad ? `does not load: ${firstLine(failedLoad)}` : 'is not there'}` +
      `${path.isAbsolute(value) ? '' : ` (not an absolute path: require() resolves it from ${path.join(__dirname, '..')})`}. ` +
      'Point it at a dgram-rs.<platform>.node by its absolute path, or unset it to use the installed ' +
      `prebuilt package (${platformName()}, Node.js ${process.version}).`,
  );
  err.code = 'ERR_DGRAM_RS_NO_BINDING';
  err.cause = cause;
  return err;
}

function missingBindingError(cause) {
  if (causeMessages(cause).some((m) => ADDONS_DISABLED.test(m))) return addonsDisabledError(cause);
  const platform = platformName();
  const wanted = `dgram-rs-${platform}`;
  const published = prebuiltPackages();
  // A binary that exists but does not load (wrong architecture, too old a
  // libc, ...) shows up among "Cannot find module" misses of the others.
  const failedLoad = causeMessages(cause).find((m) => !/^(Cannot find module\b|Unsupported )/.test(m));
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return overrideLoadError(cause, failedLoad);
  let why = '';
  if (failedLoad) {
    // The headline says it all.
  } else if (published.includes(wanted)) {
    why =
      `Its prebuilt binary comes in the optional dependency ${wanted}, which is not installed: ` +
      'install again with optional dependencies enabled (npm: without --omit=optional; pnpm, yarn: ' +
      'without --no-optional / --ignore-optional; if it still is missing, remove node_modules and ' +
      'the lockfile first, npm/cli#4828).';
  } else if (published.length > 0) {
    why = `No prebuilt binary is published for ${platform}; there are: ${published.map((p) => p.slice('dgram-rs-'.length)).join(', ')}.`;
  } else {
    // A checkout, or a package packed without the release step.
    why = `Neither dgram-rs.${platform}.node (a local build) nor the package ${wanted} is there.`;
  }
  const where = `${platform}, Node.js ${process.version}`;
  const headline = failedLoad
    ? `dgram-rs: the native addon for this platform (${where}) was found but does not load: ${firstLine(failedLoad)}.`
    : `dgram-rs: no native addon for this platform (${where}). ${why}`;
  const err = new Error(
    `${headline} ` +
      `To build it from source (Rust >= 1.88 from rustup and a C linker): git clone ${REPO} && ` +
      'cd dgram-rs && npm install (this compiles dgram-rs.<platform>.node), then install that folder ' +
      '(npm install /path/to/dgram-rs) or set NAPI_RS_NATIVE_LIBRARY_PATH to the built .node file.',
  );
  err.code = 'ERR_DGRAM_RS_NO_BINDING';
  err.cause = cause;
  return err;
}

// Bun and Deno load Node-API addons but provide no libuv loop: dgram-rs's
// first bind would call a libuv function they lack (Bun panics, Deno
// corrupts its heap). Refuse at require() instead, before the binary loads.
function unsupportedRuntimeError() {
  const versions = process.versions || {};
  const runtime = versions.bun ? `Bun ${versions.bun}` : versions.deno ? `Deno ${versions.deno}` : null;
  if (!runtime) return null;
  const err = new Error(
    `dgram-rs runs on Node.js only: it watches its sockets on Node's libuv event loop, which ${runtime} ` +
      'does not provide. Use the runtime\'s own node:dgram there.',
  );
  err.code = 'ERR_DGRAM_RS_UNSUPPORTED_RUNTIME';
  return err;
}

// A bundler that rewrites `require('./x.node')` into something other than
// the addon (esbuild's `--loader:.node=file` gives the file's name, a
// string) makes the generated loader export that instead of the addon;
// in a strict-mode bundle (esbuild's, of a "use strict" entry) the loader
// then throws its TypeError as it adds to that string.
function bundledBindingError(cause) {
  const err = new Error(
    'dgram-rs: its native addon was replaced by a bundler (require() of the .node file did not return ' +
      'the addon). Keep dgram-rs out of the bundle (esbuild --external:dgram-rs, webpack externals) or ' +
      'copy the .node file next to the bundle (esbuild --loader:.node=copy).',
  );
  err.code = 'ERR_DGRAM_RS_NO_BINDING';
  if (cause !== undefined) err.cause = cause;
  return err;
}

// NAPI_RS_NATIVE_LIBRARY_PATH is read by the loader of every napi-rs
// package: one meant for another package's addon loads that addon here.
function foreignOverrideError() {
  const err = new Error(
    `dgram-rs: NAPI_RS_NATIVE_LIBRARY_PATH (${process.env.NAPI_RS_NATIVE_LIBRARY_PATH}) names a native addon ` +
      "that is not dgram-rs's. Every napi-rs package's loader reads that variable: unset it, or set it only " +
      'for a process that loads no other napi-rs addon, pointing at a dgram-rs.<platform>.node.',
  );
  err.code = 'ERR_DGRAM_RS_NO_BINDING';
  return err;
}

// What index.js and lib/ call on the addon.
const REQUIRED = ['addEventHandler', 'asyncFrameIsSet', 'guessHandleType', 'hostProcess', 'hotFunctions',
  'setCopyChunks', 'setNoTrySend', 'triggerScopeAvailable', 'udpParts'];

function staleBindingError(missing) {
  const err = new Error(
    `dgram-rs: its native addon is from another version of dgram-rs (it lacks ${missing.join(', ')}). ` +
      'Install dgram-rs again so that its platform package matches it, or rebuild it (npm install in a ' +
      'checkout)' + (process.env.NAPI_RS_NATIVE_LIBRARY_PATH ? `; NAPI_RS_NATIVE_LIBRARY_PATH is ${process.env.NAPI_RS_NATIVE_LIBRARY_PATH}.` : '.'),
  );
  err.code = 'ERR_DGRAM_RS_NO_BINDING';
  return err;
}

const unsupported = unsupportedRuntimeError();
if (unsupported) throw unsupported;

let binding;
try {
  binding = withReportSettingKept(() => require('../binding.js'));
} catch (err) {
  // Only the loader's "nothing found" failure is rewritten; anything else
  // (e.g. a binary that exists but fails to initialise) is thrown as is.
  if (err && typeof err.message === 'string' && /^Cannot find native binding/.test(err.message)) {
    throw missingBindingError(err);
  }
  if (err instanceof TypeError && /^Cannot create property '\w+' on (string|number)/.test(err.message)) {
    throw bundledBindingError(err);
  }
  throw err;
}
if (binding === null || typeof binding !== 'object' || typeof binding.addEventHandler !== 'function') {
  throw process.env.NAPI_RS_NATIVE_LIBRARY_PATH ? foreignOverrideError() : bundledBindingError();
}
// A binary of another dgram-rs version (a stale platform package, an old
// build named by NAPI_RS_NATIVE_LIBRARY_PATH) fails here rather than at
// the first call of what it lacks.
const missing = REQUIRED.filter((name) => typeof binding[name] !== 'function');
if (missing.length !== 0) throw staleBindingError(missing);

// The per-event functions come as an object of plain functions (cheaper
// calls than napi-rs's exports, see src/exports.rs `hot_functions`).
module.exports = { ...binding, ...binding.hotFunctions() };
