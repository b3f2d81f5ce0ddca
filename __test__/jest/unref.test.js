'use strict';

// A socket left open but unref()'d does not keep the process alive, and
// --detectOpenHandles does not report it (node:dgram's handle answers
// hasRef() false; jest counts a resource without hasRef() as open).

const dgram = require(process.env.DGRAM);

test('an unref()d socket left bound and open is not an open handle', async () => {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
  s.unref();
  const received = new Promise((resolve) => s.once('message', (m) => resolve(String(m))));
  s.send('self', s.address().port, '127.0.0.1');
  expect(await received).toBe('self');
});
