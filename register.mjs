// `node --import dgram-rs/register app.mjs`: every `import 'node:dgram'`,
// `import 'dgram'` and (through register.js) every require() of them and
// `process.getBuiltinModule('node:dgram')` gets dgram-rs.
import * as nodeModule from 'node:module';
import { resolveSync } from './lib/register-hooks.mjs';

nodeModule.createRequire(import.meta.url)('./register.js');
// In-thread hooks where Node has them (module.register() is deprecated
// from Node 26 on and prints so).
if (typeof nodeModule.registerHooks === 'function') nodeModule.registerHooks({ resolve: resolveSync });
else nodeModule.register('./lib/register-hooks.mjs', import.meta.url);
