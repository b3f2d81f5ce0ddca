// Module resolution hooks: resolve the dgram builtin to dgram-rs's ESM
// entry with node:dgram's named exports for the running Node. Used in the
// thread (module.registerHooks, Node 22.15+ / 23.5+) or on Node's loader
// thread (module.register, before that).
import { createRequire } from 'node:module';

const { deprecatedMembersRemoved } = createRequire(import.meta.url)('./node-version.js');
const target = new URL(deprecatedMembersRemoved ? './esm-node25.mjs' : '../index.mjs', import.meta.url).href;

function isDgram(specifier) {
  return specifier === 'dgram' || specifier === 'node:dgram';
}

/** For module.registerHooks: synchronous. */
export function resolveSync(specifier, context, nextResolve) {
  if (isDgram(specifier)) return { url: target, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}

/** For module.register. */
export async function resolve(specifier, context, nextResolve) {
  if (isDgram(specifier)) return { url: target, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}
