'use strict';

// IP literal checks, so that an address that needs no DNS lookup can skip
// it. Pure string work: the library uses no Node socket module.

const kIPv4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const kHextet = /^[0-9a-fA-F]{1,4}$/;
const kZone = /^[0-9a-zA-Z\-.:]+$/;

// The last string each check accepted: sends go to the same few
// addresses, and a comparison costs a few ns where the checks below cost
// ~0.1 µs ('127.0.0.1') to ~0.2 µs ('::1').
let lastIPv4 = '127.0.0.1';
let lastIPv6 = '::1';

function isIPv4(s) {
  if (s === lastIPv4) return true;
  if (typeof s !== 'string' || !kIPv4.test(s)) return false;
  lastIPv4 = s;
  return true;
}

// An IPv6 literal, optionally with a trailing dotted IPv4 part and a
// `%zone` (`fe80::1%eth0`).
function isIPv6(s) {
  if (s === lastIPv6) return true;
  if (!checkIPv6(s)) return false;
  lastIPv6 = s;
  return true;
}

function checkIPv6(s) {
  if (typeof s !== 'string' || s.length < 2 || s.length > 100) return false;
  const pct = s.indexOf('%');
  if (pct !== -1) {
    // A zone as Node's isIPv6 accepts it: letters, digits, '-', '.', ':'.
    if (!kZone.test(s.slice(pct + 1))) return false;
    s = s.slice(0, pct);
  }
  let groups = 8;
  const lastColon = s.lastIndexOf(':');
  if (lastColon !== -1 && s.includes('.', lastColon)) {
    if (!isIPv4(s.slice(lastColon + 1))) return false;
    s = s.slice(0, lastColon + 1) + '0'; // stand-in for the two v4 hextets
    groups = 7;
  }
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const parts = (h) => (h === '' ? [] : h.split(':'));
  const head = parts(halves[0]);
  const tail = halves.length === 2 ? parts(halves[1]) : [];
  for (const p of head.concat(tail)) if (!kHextet.test(p)) return false;
  const n = head.length + tail.length;
  return halves.length === 2 ? n < groups : n === groups;
}

module.exports = { isIPv4, isIPv6 };
