// ESM entry: the same module instance as require('dgram-rs').
import dgram from './index.js';

export default dgram;
export const { createSocket, Socket } = dgram;
