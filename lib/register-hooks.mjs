// Module resolution hooks (run on Node's loader thread): resolve the dgram
// builtin to dgram-rs's ESM entry.
const target = new URL('../index.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'dgram' || specifier === 'node:dgram') {
    return { url: target, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
