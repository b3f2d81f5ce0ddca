// `node --import dgram-rs/register app.mjs`: every `import 'node:dgram'`,
// `import 'dgram'` and (through register.js) every require() of them gets
// dgram-rs.
import { register } from 'node:module';
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./register.js');
register('./lib/register-hooks.mjs', import.meta.url);
