'use strict';

// Node's permission model (`--permission`) covers the network where Node
// has `--allow-net` (26; not 24): without that grant node:dgram's handle refuses to
// bind (an 'error' event, or a throw from bindSync) and to open a
// descriptor (a throw from bind({ fd })). dgram-rs's native handle knows
// nothing of it, so the same checks are made here, where the wrapper calls
// the handle. The grant cannot change while the process runs: asked once.

let denied;

function netDenied() {
  if (denied === undefined) {
    const { permission } = process;
    denied = Boolean(
      permission &&
        typeof permission.has === 'function' &&
        process.allowedNodeEnvironmentFlags.has('--allow-net') &&
        !permission.has('net'),
    );
  }
  return denied;
}

/**
 * The error Node's handle gives for a network call the permission model
 * refuses (`resource`: the address, '' for a descriptor), or null if the
 * network is allowed. A plain Error with `code`, `permission`, `resource`.
 */
function netAccessError(resource) {
  if (!netDenied()) return null;
  const err = new Error('Access to this API has been restricted. Use --allow-net to manage permissions.');
  err.code = 'ERR_ACCESS_DENIED';
  err.permission = 'Net';
  err.resource = resource;
  return err;
}

module.exports = { netAccessError };
