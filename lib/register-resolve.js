'use strict';

// Where `import 'dgram'` / `import 'node:dgram'` resolve under the register
// hook: dgram-rs's ESM entry with the named exports of the running Node's
// node:dgram. Shared by register.js (in-thread hooks, from `-r` too) and
// lib/register-hooks.mjs (Node's loader thread, before registerHooks).

const { pathToFileURL } = require('node:url');
const path = require('node:path');
const { deprecatedMembersRemoved } = require('./node-version.js');

const target = pathToFileURL(path.join(__dirname, deprecatedMembersRemoved ? 'esm-node25.mjs' : '../index.mjs')).href;

function isDgram(specifier) {
  return specifier === 'dgram' || specifier === 'node:dgram';
}

/**
 * For module.registerHooks: synchronous. In-thread hooks see require()
 * too, which register.js serves itself (`Module._load`): left to Node, so
 * that `require.resolve('dgram')` stays `'dgram'`.
 */
function resolveSync(specifier, context, nextResolve) {
  if (isDgram(specifier) && !isRequire(context)) return { url: target, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}

function isRequire(context) {
  return Array.isArray(context && context.conditions) && context.conditions.includes('require');
}

module.exports = { isDgram, resolveSync, target };
