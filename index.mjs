// ESM entry: the same module instance as require('dgram-rs'). Its named
// exports are node:dgram's up to Node 24 (`_createSocketHandle` is
// undefined where Node 25+ removed it; the register hook then serves
// lib/esm-node25.mjs, which matches those lines' node:dgram).
import dgram from './index.js';

export default dgram;
export const { createSocket, Socket, _createSocketHandle } = dgram;
