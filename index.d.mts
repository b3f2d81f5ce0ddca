// Typings of the ESM entry (index.mjs): the same declarations as
// index.d.ts, which types the CommonJS entry, with the module object as
// the default export, as `import dgram from 'dgram-rs'` gets it.
import * as dgram from './index.js';

export * from './index.js';
export default dgram;
