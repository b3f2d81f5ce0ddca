'use strict';

// Errors shaped like the ones node:dgram throws on the running Node
// (lib/node-version.js), so code that checks `err.code`, `err.message`,
// `String(err)` or compares `util.inspect(err)` cannot tell dgram-rs from
// the built-in module.
//
// Every message below was written from observing Node's output, not from
// its source; __test__/errors.spec.js keeps them honest against the real
// node:dgram.

const { inspect, getSystemErrorMap } = require('node:util');
const { namelessConstructorInspected } = require('./node-version');

// ---------------------------------------------------------------------------
// libuv error names <-> numbers
//
// Node reports `errno` as libuv's negative number, which differs by OS
// (EADDRINUSE is -98 on Linux, -48 on macOS, -4091 on Windows). Node ships the
// table for the running OS, so invert it instead of hard-coding numbers.

const uvByNumber = getSystemErrorMap(); // errno -> [name, description]
const uvByName = new Map();
for (const [errno, [name, description]] of uvByNumber) {
  uvByName.set(name, { errno, description });
}

/**
 * Resolves a libuv error given as a name ('EBADF'), a negative errno, or an
 * error object carrying either as `code` (what the native addon throws).
 */
function uvError(err) {
  if (err !== null && typeof err === 'object') err = err.code;
  if (typeof err === 'number') {
    const entry = uvByNumber.get(err);
    // Node's own wording for an errno libuv does not know.
    return { errno: err, code: entry ? entry[0] : `Unknown system error ${err}` };
  }
  const entry = uvByName.get(err);
  return { errno: entry ? entry.errno : undefined, code: err };
}

/**
 * The `ctx` object SystemError-based errors such as ERR_SOCKET_BUFFER_SIZE
 * expose as `err.info` (key order as Node prints it).
 */
function uvErrorContext(err, syscall) {
  const { errno, code } = uvError(err);
  const entry = uvByName.get(code);
  return { errno, code, message: entry ? entry.description : 'unknown error', syscall };
}

// ---------------------------------------------------------------------------
// How Node describes values inside messages

// Node shortens long strings so one bad argument cannot flood a log line.
function describeString(value) {
  const shown = value.length > 28 ? `${value.slice(0, 25)}...` : value;
  // Raw text between single quotes, unless it contains one: then JSON quoting
  // (which also escapes backslashes and newlines).
  return shown.includes("'") ? JSON.stringify(shown) : `'${shown}'`;
}

/** The "Received …" wording of ERR_INVALID_ARG_TYPE and ERR_SOCKET_BAD_PORT. */
function describeReceived(value) {
  if (value == null) return String(value);
  if (typeof value === 'function') return `function ${value.name}`;
  if (typeof value === 'object') {
    // Node trusts whatever `constructor` says, even an odd own property,
    // and fails the same way when it is a primitive (the `in` throws).
    if (namelessConstructorInspected) {
      // Newer Node reads `constructor` and its `name` once each and names
      // only a non-empty string.
      const name = value.constructor?.name;
      if (typeof name === 'string' && name !== '') return `an instance of ${name}`;
    } else if (value.constructor && 'name' in value.constructor) {
      return `an instance of ${value.constructor.name}`;
    }
    return inspect(value, { depth: -1 });
  }
  if (typeof value === 'string') return `type string (${describeString(value)})`;
  return `type ${typeof value} (${inspect(value)})`;
}

// 4294967297 -> '4_294_967_297'. Grouping is by characters from the right,
// so Node's quirk '1e+21' -> '1e_+21' is reproduced on purpose.
function groupDigits(text) {
  const start = text[0] === '-' ? 1 : 0;
  let end = text.length;
  let groups = '';
  for (; end >= start + 4; end -= 3) groups = `_${text.slice(end - 3, end)}${groups}`;
  return text.slice(0, end) + groups;
}

/** The "Received …" wording of ERR_OUT_OF_RANGE: big integers get separators. */
function describeOutOfRange(value) {
  if (Number.isInteger(value) && Math.abs(value) > 2 ** 32) return groupDigits(String(value));
  if (typeof value === 'bigint' && (value > 2n ** 32n || value < -(2n ** 32n))) {
    return `${groupDigits(String(value))}n`;
  }
  return inspect(value);
}

// 'a', 'a or b', 'a, b, or c' (Oxford comma).
function joinList(items, word = 'or') {
  if (items.length > 2) return `${items.slice(0, -1).join(', ')}, ${word} ${items[items.length - 1]}`;
  return items.join(` ${word} `);
}

// typeof-style names (plus the capitalised aliases Node folds to lower case).
const kTypeNames = new Set([
  'string', 'function', 'number', 'object', 'Function', 'Object', 'boolean', 'bigint', 'symbol',
]);
// Anything spelled like a class name (Buffer, TypedArray, ABC) is an instance check.
const kClassName = /^([A-Z][a-z0-9]*)+$/;

/** 'must be of type string or an instance of Buffer, TypedArray, or DataView' */
function describeExpected(expected) {
  const types = [];
  const instances = [];
  const other = [];
  for (const name of Array.isArray(expected) ? expected : [expected]) {
    if (kTypeNames.has(name)) types.push(name.toLowerCase());
    else if (kClassName.test(name)) instances.push(name);
    else other.push(name);
  }
  // "object" next to class names reads better as "an instance of … or Object".
  if (instances.length > 0 && types.includes('object')) {
    types.splice(types.indexOf('object'), 1);
    instances.push('Object');
  }
  const parts = [];
  if (types.length > 0) parts.push(`${types.length > 1 ? 'one of type' : 'of type'} ${joinList(types)}`);
  if (instances.length > 0) parts.push(`an instance of ${joinList(instances)}`);
  if (other.length > 1) parts.push(`one of ${joinList(other)}`);
  else if (other.length === 1) {
    // 'must be null' but 'must be an Array-like Object'.
    parts.push(other[0].toLowerCase() === other[0] ? other[0] : `an ${other[0]}`);
  }
  return parts.join(' or ');
}

// ---------------------------------------------------------------------------
// Node's coded errors: `TypeError [ERR_X]: message`

// Node's stack header carries the code. V8 builds the header lazily from
// `name`, so format it once now with a temporary own `name`, then drop it.
function stampStackHeader(error, header) {
  error.name = header;
  void error.stack;
  delete error.name;
}

/**
 * Makes the class for one code. `format` builds the message from the
 * constructor's arguments (or is the fixed message). Node creates `code`
 * before `message` for some codes and after it for others; `codeFirst`
 * copies that so even Object.getOwnPropertyNames() agrees.
 */
function defineCodedError(code, Base, format, codeFirst = false) {
  const NodeError = class extends Base {
    constructor(...args) {
      const message = typeof format === 'function' ? format(...args) : format;
      if (codeFirst) {
        super();
        this.code = code;
        Object.defineProperty(this, 'message', { value: message, writable: true, enumerable: false, configurable: true });
      } else {
        super(message);
      }
      stampStackHeader(this, `${Base.name} [${code}]`);
      if (!codeFirst) this.code = code;
    }

    toString() {
      return `${this.name} [${code}]: ${this.message}`;
    }
  };
  // Node's errors answer `err.constructor === TypeError`.
  Object.defineProperty(NodeError.prototype, 'constructor', {
    get() { return Base; },
    enumerable: false,
    configurable: true,
  });
  Object.defineProperty(NodeError, 'name', { value: code });
  return NodeError;
}

// Node words "a.b" as a property and "x" as an argument; a name already
// ending in " argument" (e.g. "first argument") is used as-is.
function describeArgName(name) {
  if (name.endsWith(' argument')) return name;
  return `"${name}" ${name.includes('.') ? 'property' : 'argument'}`;
}

// ERR_MISSING_ARGS: '"a"', '"a" and "b"', '"a", "b", and "c"'; an inner array
// means "either of these".
function describeMissing(names) {
  const quoted = names.map((n) => (Array.isArray(n) ? n.map((m) => `"${m}"`).join(' or ') : `"${n}"`));
  return `${joinList(quoted, 'and')} ${names.length > 1 ? 'arguments' : 'argument'}`;
}

const CODE_FIRST = true; // see defineCodedError()

const codes = {
  ERR_BUFFER_OUT_OF_BOUNDS: defineCodedError('ERR_BUFFER_OUT_OF_BOUNDS', RangeError, (name) =>
    (name ? `"${name}" is outside of buffer bounds` : 'Attempt to access memory outside buffer bounds'), CODE_FIRST),
  ERR_INVALID_ARG_TYPE: defineCodedError('ERR_INVALID_ARG_TYPE', TypeError, (name, expected, actual) =>
    `The ${describeArgName(name)} must be ${describeExpected(expected)}. Received ${describeReceived(actual)}`, CODE_FIRST),
  ERR_INVALID_ARG_VALUE: defineCodedError('ERR_INVALID_ARG_VALUE', TypeError, (name, value, reason = 'is invalid') => {
    let shown = inspect(value);
    if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
    return `The ${name.includes('.') ? 'property' : 'argument'} '${name}' ${reason}. Received ${shown}`;
  }, CODE_FIRST),
  ERR_FEATURE_UNAVAILABLE_ON_PLATFORM: defineCodedError('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', TypeError, (feature) =>
    `The feature ${feature} is unavailable on the current platform, which is being used to run Node.js`, CODE_FIRST),
  ERR_INVALID_FD_TYPE: defineCodedError('ERR_INVALID_FD_TYPE', TypeError, (type) => `Unsupported fd type: ${type}`),
  // Added to Node in v22.13 (send/connect blocklists); Node 20 has no such code,
  // so its property order is a guess.
  ERR_IP_BLOCKED: defineCodedError('ERR_IP_BLOCKED', Error, (ip) => `IP(${ip}) is blocked by net.BlockList`, CODE_FIRST),
  ERR_MISSING_ARGS: defineCodedError('ERR_MISSING_ARGS', TypeError, (...names) =>
    `The ${describeMissing(names)} must be specified`, CODE_FIRST),
  // `rawName`: use `name` as the whole first sentence instead of 'The value of "name" is out of range.'
  ERR_OUT_OF_RANGE: defineCodedError('ERR_OUT_OF_RANGE', RangeError, (name, range, received, rawName = false) =>
    `${rawName ? name : `The value of "${name}" is out of range.`} It must be ${range}. ` +
    `Received ${describeOutOfRange(received)}`, CODE_FIRST),
  ERR_SOCKET_ALREADY_BOUND: defineCodedError('ERR_SOCKET_ALREADY_BOUND', Error, 'Socket is already bound'),
  ERR_SOCKET_BAD_BUFFER_SIZE: defineCodedError('ERR_SOCKET_BAD_BUFFER_SIZE', TypeError,
    'Buffer size must be a positive integer'),
  ERR_SOCKET_BAD_PORT: defineCodedError('ERR_SOCKET_BAD_PORT', RangeError, (name, port, allowZero = true) =>
    `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${describeReceived(port)}.`, CODE_FIRST),
  ERR_SOCKET_BAD_TYPE: defineCodedError('ERR_SOCKET_BAD_TYPE', TypeError,
    'Bad socket type specified. Valid types are: udp4, udp6'),
  ERR_SOCKET_DGRAM_IS_CONNECTED: defineCodedError('ERR_SOCKET_DGRAM_IS_CONNECTED', Error, 'Already connected'),
  ERR_SOCKET_DGRAM_NOT_CONNECTED: defineCodedError('ERR_SOCKET_DGRAM_NOT_CONNECTED', Error, 'Not connected'),
  ERR_SOCKET_DGRAM_NOT_RUNNING: defineCodedError('ERR_SOCKET_DGRAM_NOT_RUNNING', Error, 'Not running'),
};

// ---------------------------------------------------------------------------
// SystemError: coded errors that wrap an OS error (ERR_SOCKET_BUFFER_SIZE)
//
// Unlike the errors above these carry an own `name`, a read-only `info`
// object, and `errno`/`syscall` accessors that read and write `info`.

class SystemError extends Error {
  constructor(code, prefix, ctx) {
    super(); // no message yet: Node's own-property order is stack, code, name, message, …
    const data = { writable: true, enumerable: false, configurable: true };
    Object.defineProperty(this, 'code', { ...data, enumerable: true, value: code });
    Object.defineProperty(this, 'name', { ...data, value: `SystemError [${code}]` });
    Object.defineProperty(this, 'message', {
      ...data,
      value: `${prefix}: ${ctx.syscall} returned ${ctx.code} (${ctx.message})`,
    });
    void this.stack; // fix the header while `name` still carries the code
    this.name = 'SystemError';
    Object.defineProperty(this, 'info', { value: ctx, enumerable: true, configurable: true, writable: false });
    for (const key of ['errno', 'syscall']) {
      Object.defineProperty(this, key, {
        get() { return ctx[key]; },
        set(value) { ctx[key] = value; },
        enumerable: true,
        configurable: true,
      });
    }
  }

  toString() {
    return `${this.name} [${this.code}]: ${this.message}`;
  }

  // Show accessor values (`errno: [Getter/Setter: -9]`) like Node does.
  [inspect.custom](depth, options) {
    return inspect(this, { ...options, getters: true, customInspect: false });
  }
}

codes.ERR_SOCKET_BUFFER_SIZE = class NodeError extends SystemError {
  /** @param ctx {errno, code, message, syscall}: see uvErrorContext(). */
  constructor(ctx) {
    super('ERR_SOCKET_BUFFER_SIZE', 'Could not get or set buffer size', ctx);
  }
};

// ---------------------------------------------------------------------------
// Plain system-call errors: `Error: bind EADDRINUSE 0.0.0.0:41234`

// Node's are instances of an Error subclass that still reports `Error` as its
// constructor; keep that so prototype checks agree.
class UvException extends Error {}
Object.defineProperty(UvException.prototype, 'constructor', {
  get() { return Error; },
  enumerable: false,
  configurable: true,
});

/**
 * `setTTL EBADF`: an errno error without an address.
 * @param err libuv error name ('EBADF') or negative errno
 * @param original optional text appended to the message
 */
function errnoException(err, syscall, original) {
  const { errno, code } = uvError(err);
  const error = new UvException(original ? `${syscall} ${code} ${original}` : `${syscall} ${code}`);
  error.errno = errno;
  error.code = code;
  error.syscall = syscall;
  return error;
}

/**
 * `bind EADDRINUSE 0.0.0.0:41234`, `send EMSGSIZE ::1:5`, `bind EADDRNOTAVAIL 1.2.3.4`.
 * `address` is always an own property (even undefined, as for a connected
 * send); `port` only when truthy, and the message shows it only when > 0.
 */
function exceptionWithHostPort(err, syscall, address, port, additional) {
  // The permission model's refusal (lib/permission.js) is carried whole, as
  // `errno`, with its own message in place of the address.
  const denied = typeof err === 'object' && err !== null && err.code === 'ERR_ACCESS_DENIED';
  const { errno, code } = denied ? { errno: err, code: err.code } : uvError(err);
  let where = '';
  if (denied) where = ` ${err.message}`;
  else if (port && port > 0) where = ` ${address}:${port}`;
  else if (address) where = ` ${address}`;
  if (additional && !denied) where += ` - Local (${additional})`;
  const error = new UvException(`${syscall} ${code}${where}`);
  error.errno = errno;
  error.code = code;
  error.syscall = syscall;
  error.address = address;
  if (port) error.port = port;
  return error;
}

/**
 * The libuv error an error thrown by the native addon stands for. The addon
 * puts the libuv name in the message ('EADDRINUSE'), or 'ERRNO:<n>' for an
 * OS error it has no name for (answered here with the negative errno, which
 * Node's table names). A code string is accepted too (native events carry
 * bare codes). Undefined for anything else: a bug, not an OS error.
 */
function nativeCode(errOrCode) {
  const msg = typeof errOrCode === 'string' ? errOrCode : errOrCode && errOrCode.message;
  if (typeof msg !== 'string') return undefined;
  if (msg.startsWith('ERRNO:')) return -Number(msg.slice(6));
  return /^E[A-Z0-9]+$|^UNKNOWN$/.test(msg) ? msg : undefined;
}

/**
 * Turns what the native addon reported (an error or a code, see
 * nativeCode) into Node's shape. Pass `address` (even as undefined) for
 * calls Node reports with host and port (bind, connect, send); leave it out
 * for the rest (getsockname, setTTL, …). Anything that is not an OS error is
 * returned unchanged, to surface as the bug it is.
 */
function fromNative(errOrCode, syscall, ...hostPort) {
  const code = nativeCode(errOrCode);
  if (code === undefined) return errOrCode;
  return hostPort.length > 0
    ? exceptionWithHostPort(code, syscall, hostPort[0], hostPort[1])
    : errnoException(code, syscall);
}

// ---------------------------------------------------------------------------
// AbortError, as Node's promise APIs reject with it.

class AbortError extends Error {
  constructor(message = 'The operation was aborted', options = undefined) {
    if (options !== undefined && typeof options !== 'object') {
      throw new codes.ERR_INVALID_ARG_TYPE('options', 'Object', options);
    }
    super(message, options);
    this.code = 'ABORT_ERR';
    this.name = 'AbortError';
  }
}

module.exports = {
  codes,
  /** libuv's (negative) errno for a code name such as 'EINVAL'. */
  uvErrno: (code) => uvError(code).errno,
  ...codes,
  AbortError,
  SystemError,
  errnoException,
  exceptionWithHostPort,
  fromNative,
  nativeCode,
  uvErrorContext,
};
