'use strict';

// Argument checks of the additions to node:dgram's API (README, "What
// dgram-rs adds"): bindSync/connectSync addresses, sendFrom's source address,
// sendMany's items. Errors use Node's codes, worded as Node words its own.

const errors = require('./errors.js');
const { hostProcess } = require('./native.js');
const { isIPv4, isIPv6 } = require('./ip.js');
const { toBuffer } = require('./send-path.js');
const { kState } = require('./state.js');
const { kBufferTypes, validatePort, validateString } = require('./validators.js');

const { ERR_FEATURE_UNAVAILABLE_ON_PLATFORM, ERR_INVALID_ARG_TYPE, ERR_SOCKET_DGRAM_IS_CONNECTED } = errors.codes;
const process = hostProcess();

// The address of bindSync/connectSync: undefined when absent (null or ''
// for connectSync, any falsy value for bindSync, as Node reads them), else
// a string holding an IP literal of either family.
function numericAddress(address, name, method) {
  if (address === undefined || address === null || address === '' || (method === 'bindSync' && !address)) return undefined;
  validateString(address, name);
  if (!isIPv4(address) && !isIPv6(address)) {
    throw new errors.codes.ERR_INVALID_ARG_VALUE(name, address,
      `must be a numeric IP address; ${method} does not perform DNS resolution`);
  }
  return address;
}

// A sendFrom() source address: an IP literal of the socket's family (an
// IPv6 socket also takes IPv4, for its IPv4-mapped peers).
function localOrThrow(socket, address, name) {
  validateString(address, name);
  const ok = isIPv4(address) || (socket[kState].family === 'IPv6' && isIPv6(address));
  if (!ok) throw new errors.codes.ERR_INVALID_ARG_VALUE(name, address, 'must be an IP address the socket can send from');
  return address;
}

// A message given as a string or any ArrayBufferView, as a Uint8Array.
function messageData(msg, name) {
  if (typeof msg === 'string') return Buffer.from(msg);
  if (!ArrayBuffer.isView(msg)) throw new ERR_INVALID_ARG_TYPE(name, kBufferTypes, msg);
  return toBuffer(msg);
}

// One sendMany() item (a message, or { msg, port, address, localAddress }),
// checked and made into what the send path takes.
function normalizeManyItem(socket, item, i, connected) {
  let msg = item;
  let port;
  let address;
  let localAddress;
  if (item !== null && typeof item === 'object' && !ArrayBuffer.isView(item)) {
    ({ msg, port, address, localAddress } = item);
  }
  // The argument name is built only for an error: this runs per datagram.
  if (typeof msg !== 'string' && !ArrayBuffer.isView(msg)) throw new ERR_INVALID_ARG_TYPE(`list[${i}].msg`, kBufferTypes, msg);
  const data = messageData(msg);
  let local;
  if (localAddress !== undefined) {
    if (process.platform !== 'linux') throw new ERR_FEATURE_UNAVAILABLE_ON_PLATFORM(`list[${i}].localAddress`);
    local = localOrThrow(socket, localAddress, `list[${i}].localAddress`);
  }
  if (connected) {
    if (port !== undefined || address !== undefined) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    return { data, local };
  }
  if (!(typeof port === 'number' && port > 0 && port <= 0xffff && Number.isInteger(port))) {
    port = validatePort(port, `list[${i}].port`, false);
  }
  if (address !== undefined && address !== null && typeof address !== 'string') validateString(address, `list[${i}].address`);
  return { data, port, address, local };
}

module.exports = { localOrThrow, messageData, normalizeManyItem, numericAddress };
