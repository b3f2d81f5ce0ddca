// `node --import dgram-rs/register app.mjs`: every `import 'node:dgram'`,
// `import 'dgram'` and (through register.js) every require() of them and
// `process.getBuiltinModule('node:dgram')` gets dgram-rs. register.js
// installs the import hook in the thread where Node has
// module.registerHooks (Node 22.15+ / 23.5+); before that it is served from
// Node's loader thread (module.register, deprecated from Node 26 on).
import * as nodeModule from 'node:module';

nodeModule.createRequire(import.meta.url)('./register.js');
if (typeof nodeModule.registerHooks !== 'function') nodeModule.register('./lib/register-hooks.mjs', import.meta.url);
