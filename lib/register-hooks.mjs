// Module resolution hooks for Node's loader thread (module.register, where
// Node has no in-thread module.registerHooks): see register-resolve.js.
import { createRequire } from 'node:module';

const { isDgram, target } = createRequire(import.meta.url)('./register-resolve.js');

export async function resolve(specifier, context, nextResolve) {
  if (isDgram(specifier)) return { url: target, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}
