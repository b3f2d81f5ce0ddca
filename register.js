'use strict';

// `node -r dgram-rs/register app.js`: every require of the 'dgram' or
// 'node:dgram' builtin in the application and its dependencies (and
// `process.getBuiltinModule` of it) gets dgram-rs instead; the builtin
// itself is never loaded by this package. Where Node has in-thread module
// hooks (module.registerHooks, Node 22.15+ / 23.5+), every `import` of it
// too. (The ESM `--import dgram-rs/register` equivalent is register.mjs,
// which loads this file, and on older Node adds the import hook on Node's
// loader thread.)

const Module = require('node:module');

const dgramRs = require('./index.js');
const { isDgram, resolveSync } = require('./lib/register-resolve.js');
const kPatched = Symbol.for('dgram-rs.register');

if (!Module[kPatched]) {
  Module[kPatched] = true;
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    if (isDgram(request)) return dgramRs;
    return load.call(this, request, parent, isMain);
  };
  // `import 'node:dgram'`, in this thread: no loader thread to start, so
  // `-r` can afford it for applications that never import.
  if (typeof Module.registerHooks === 'function') {
    Module.registerHooks({ resolve: resolveSync });
  }
  // Node 22.3+ / 20.16+: the builtin by name, without require().
  const getBuiltinModule = process.getBuiltinModule;
  if (typeof getBuiltinModule === 'function') {
    process.getBuiltinModule = {
      getBuiltinModule(id) {
        if (isDgram(id)) return dgramRs;
        return Reflect.apply(getBuiltinModule, this, arguments);
      },
    }.getBuiltinModule;
  }
}
