// `node --import dgram-rs/register app.mjs`: every `import 'node:dgram'`,
// `import 'dgram'` and (through register.js) every require() of them and
// `process.getBuiltinModule('node:dgram')` gets dgram-rs. register.js
// installs the import hook in the thread where Node has
// module.registerHooks (Node 22.15+ / 23.5+); before that it is served from
// Node's loader thread (module.register, deprecated from Node 26 on).
import * as nodeModule from 'node:module';

if (typeof nodeModule.registerHooks !== 'function' && typeof nodeModule.register !== 'function') {
  // Node 20.0–20.5 (which dgram-rs itself supports) has neither.
  const err = new Error(
    `dgram-rs/register: replacing node:dgram for import statements needs Node.js 20.6 or newer (module.register); ` +
      `this is ${process.version}. Upgrade Node.js, or preload it with -r dgram-rs/register, which replaces it for ` +
      'require() only.',
  );
  err.code = 'ERR_DGRAM_RS_UNSUPPORTED_NODE';
  throw err;
}
nodeModule.createRequire(import.meta.url)('./register.js');
if (typeof nodeModule.registerHooks !== 'function') nodeModule.register('./lib/register-hooks.mjs', import.meta.url);
