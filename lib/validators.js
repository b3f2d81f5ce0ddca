'use strict';

// Argument checks with node:dgram's exact error codes and messages (Node 20).
// The `name` passed in is part of the message, so callers must use Node's:
// e.g. 'ttl', 'interfaceAddress', 'options.recvBufferSize' (a dotted name is
// worded as a property), 'lookup', 'options.signal', 'address'.

const {
  ERR_INVALID_ARG_TYPE,
  ERR_INVALID_ARG_VALUE,
  ERR_OUT_OF_RANGE,
  ERR_SOCKET_BAD_BUFFER_SIZE,
  ERR_SOCKET_BAD_PORT,
} = require('./errors');
const { zeroPortStringsRejected } = require('./node-version');

const isInt32 = (value) => value === (value | 0);
const isUint32 = (value) => value === (value >>> 0);

function validateString(value, name) {
  if (typeof value !== 'string') throw new ERR_INVALID_ARG_TYPE(name, 'string', value);
}

function validateFunction(value, name) {
  if (typeof value !== 'function') throw new ERR_INVALID_ARG_TYPE(name, 'Function', value);
}

function validateBoolean(value, name) {
  if (typeof value !== 'boolean') throw new ERR_INVALID_ARG_TYPE(name, 'boolean', value);
}

/** Plain objects only, unless the options widen it. */
function validateObject(value, name, { allowArray = false, allowFunction = false, nullable = false } = {}) {
  const ok = value === null
    ? nullable
    : (typeof value === 'object' && (allowArray || !Array.isArray(value))) ||
      (typeof value === 'function' && allowFunction);
  if (!ok) throw new ERR_INVALID_ARG_TYPE(name, 'Object', value);
}

/**
 * Any number passes (NaN and ±Infinity included) unless a bound is given;
 * with a bound, NaN fails too. setTTL/setMulticastTTL use no bounds: the
 * handle rejects 0 or 256 later with EINVAL, as libuv does.
 */
function validateNumber(value, name, min = undefined, max) {
  if (typeof value !== 'number') throw new ERR_INVALID_ARG_TYPE(name, 'number', value);
  const hasMin = min != null;
  const hasMax = max != null;
  if ((hasMin && value < min) || (hasMax && value > max) || ((hasMin || hasMax) && Number.isNaN(value))) {
    const range = [hasMin ? `>= ${min}` : '', hasMax ? `<= ${max}` : ''].filter(Boolean).join(' && ');
    throw new ERR_OUT_OF_RANGE(name, range, value);
  }
}

// Shared by the integer validators: type first, then integer-ness, then range.
function validateInteger(value, name, min, max) {
  if (typeof value !== 'number') throw new ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value)) throw new ERR_OUT_OF_RANGE(name, 'an integer', value);
  if (value < min || value > max) throw new ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
}

function validateInt32(value, name, min = -2147483648, max = 2147483647) {
  validateInteger(value, name, min, max);
}

/** Used for options.recvBufferSize / options.sendBufferSize. */
function validateUint32(value, name, positive = false) {
  validateInteger(value, name, positive ? 1 : 0, 4294967295);
}

/**
 * Returns the port as a number. Like Node, numeric strings are accepted,
 * including ' 80 ', '0x10', '1e3' and '0b1' (anything Number() parses to an
 * integer in range), but not '' or whitespace. Only the number 0 counts as
 * zero for `allowZero`: the string '0' passes even when zero is refused.
 */
function validatePort(port, name = 'Port', allowZero = true) {
  let number = NaN;
  if (typeof port === 'number') number = port;
  else if (typeof port === 'string' && port.trim() !== '') number = Number(port);
  // Before Node 24.19 / 26.5 only the number 0 counted as zero here.
  const zero = zeroPortStringsRejected ? number === 0 : port === 0;
  if (!Number.isInteger(number) || number < 0 || number > 0xffff || (zero && !allowZero)) {
    throw new ERR_SOCKET_BAD_PORT(name, port, allowZero);
  }
  return number | 0; // also turns -0 into 0
}

/**
 * Undefined is allowed (the option is optional). Node duck-types: any object
 * with an `aborted` property passes.
 */
function validateAbortSignal(signal, name) {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw new ERR_INVALID_ARG_TYPE(name, 'AbortSignal', signal);
  }
}

function validateOneOf(value, name, oneOf) {
  if (!oneOf.includes(value)) {
    const allowed = oneOf.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');
    throw new ERR_INVALID_ARG_VALUE(name, value, `must be one of: ${allowed}`);
  }
}

/** set{Recv,Send}BufferSize: any uint32 (0 included); no argument name in the message. */
function validateBufferSize(size) {
  if (!isUint32(size)) throw new ERR_SOCKET_BAD_BUFFER_SIZE();
}

// What a message may be, as Node's ERR_INVALID_ARG_TYPE lists it.
const kBufferTypes = ['Buffer', 'TypedArray', 'DataView', 'string'];

module.exports = {
  isInt32,
  kBufferTypes,
  isUint32,
  validateAbortSignal,
  validateBoolean,
  validateBufferSize,
  validateFunction,
  validateInt32,
  validateNumber,
  validateObject,
  validateOneOf,
  validatePort,
  validateString,
  validateUint32,
};
