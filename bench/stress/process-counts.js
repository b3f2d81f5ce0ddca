'use strict';
// This process's open descriptors and threads, where the OS lets a process
// list them: Linux's /proc, macOS's /dev/fd (descriptors only). NaN where
// it does not (Windows; threads off Linux): callers leave those checks out.

const fs = require('node:fs');

const FD_DIR = { linux: '/proc/self/fd', darwin: '/dev/fd' }[process.platform];

function fdCount() {
  return FD_DIR === undefined ? NaN : fs.readdirSync(FD_DIR).length;
}

function threadCount() {
  if (process.platform !== 'linux') return NaN;
  const m = /^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

module.exports = { fdCount, threadCount };
