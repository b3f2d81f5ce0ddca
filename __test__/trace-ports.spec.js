'use strict';

// The parity traces name ephemeral ports; the kernel may give a closed
// socket's port to the next socket on one implementation's run only, so the
// naming must not depend on whether a number came back.
const test = require('ava');
const { makeTrace } = require('./helpers');

function scenario(ports) {
  const tr = makeTrace();
  ['first', 'second', 'third'].forEach((name, i) => {
    tr.reg(ports[i], name);
    tr.push({ name, addr: { port: ports[i] }, text: `bound 127.0.0.1:${ports[i]}` });
  });
  tr.push({ unregistered: { port: 40000 }, zero: { port: 0 } });
  return tr.result();
}

test('a port handed to a later socket is named after the socket that holds it', (t) => {
  const distinct = scenario([50001, 50002, 50003]);
  const reused = scenario([50001, 50002, 50001]);
  t.deepEqual(reused, distinct);
  t.is(distinct[2].addr.port, 'PORT:third');
  t.is(distinct[0].text, 'bound 127.0.0.1:PORT:first');
  t.deepEqual(distinct[3], { unregistered: { port: 'PORT' }, zero: { port: 0 } });
});
