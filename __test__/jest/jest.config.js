'use strict';

// A small jest project (run by __test__/open-handles.spec.js with
// --detectOpenHandles, once with DGRAM=node:dgram and once with dgram-rs):
// sockets created, used and closed inside jest's test environment must
// leave nothing open, as with node:dgram. Outside ava's glob (*.spec.js).
module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/*.test.js'],
  testEnvironment: 'node',
  // A stream on a busy machine may take several rounds (sockets.test.js).
  testTimeout: 60000,
  // No cache or watchman: a throwaway run in a child process.
  cache: false,
  watchman: false,
};
