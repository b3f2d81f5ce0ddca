'use strict';

// jest.mock('dns') replaces the dns module of the test's module registry;
// node:dgram resolves with Node's own, which the mock does not reach, so
// host names still resolve (dgram-rs takes its dns module from the host
// process for the same reason).

jest.mock('dns');
const dns = require('dns');
const dgram = require(process.env.DGRAM);

test('jest.mock(\'dns\') does not reach the socket\'s lookups', async () => {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.bind(0, 'localhost', resolve));
  const { port } = s.address();
  const got = new Promise((resolve) => {
    const seen = [];
    s.on('message', (m) => {
      seen.push(String(m));
      if (seen.length === 2) resolve(seen.sort());
    });
  });
  const sent = await Promise.all(['127.0.0.1', 'localhost'].map((to) => new Promise((resolve) => {
    s.send(to, port, to, (err) => resolve(err ? err.code : 'ok'));
  })));
  expect(sent).toEqual(['ok', 'ok']);
  expect(await got).toEqual(['127.0.0.1', 'localhost']);
  expect(dns.lookup).not.toHaveBeenCalled();
  await new Promise((resolve) => s.close(resolve));
});
