// What `import 'node:dgram'` resolves to under the register hook from Node
// 25 on, where node:dgram no longer exports `_createSocketHandle`.
import dgram from '../index.js';

export default dgram;
export const { createSocket, Socket } = dgram;
