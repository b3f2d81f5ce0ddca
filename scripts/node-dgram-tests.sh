#!/usr/bin/env bash
# Runs Node's own dgram tests (v20.19: test/parallel and test/sequential
# test-dgram*, the cluster-dgram and async-hooks UDP ones) against dgram-rs
# (IMPL=rs, the default: each test runs with `-r register.js`, which makes
# require('dgram') load this checkout) or node:dgram (IMPL=node).
#
# Needs Node's test tree, which is not in this repository. From Debian's
# source package (a registry this project's machines reach):
#   curl -LO http://deb.debian.org/debian/pool/main/n/nodejs/nodejs_20.19.2+dfsg.orig.tar.xz
#   (or `apt-get source --download-only nodejs` where deb-src lines are configured)
#   tar xf nodejs_20.19.2+dfsg.orig.tar.xz
#   NODE_TEST_DIR=$PWD/node-v20.19.2/test bash scripts/node-dgram-tests.sh
#
# usage: [IMPL=rs|node] [VERBOSE=1] NODE_TEST_DIR=… node-dgram-tests.sh [grep pattern]
# Newer lines the same way: Debian sid carries nodejs_22.22.2+dfsg+~cs22.19.15
# (run it with a Node 22 binary first on PATH, e.g. scripts/newer-node.sh's).
# Last runs (2026-12-07): v20.19.2's tests on Node v20.20.2, IMPL=node 100 of
# 100, IMPL=rs 99 + the known difference; v22.22.2's on Node v22.23.5, 103 of
# 103 and 102 + the known one; on Node v26.12.1, 96 of 103 for both (rs: 95 +
# the known one), failing the same 7 (tests of behaviour Node changed since,
# which dgram-rs follows as node:dgram does).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${NODE_TEST_DIR:?set NODE_TEST_DIR to the test directory of the Node sources, see the comment above}"
IMPL=${IMPL:-rs}
pat=${1:-.}
cd "$NODE_TEST_DIR" || exit 2
pass=0
fail=0
failed=()
# Fails with dgram-rs by design (README, Known differences: Node's IPC sends
# only node:dgram's own sockets, which dgram-rs never loads): reported, not
# counted as a failure.
known_rs=(parallel/test-child-process-fork-dgram.js)
known=()
shopt -s nullglob
# Beyond test-dgram*: the other tests that open dgram sockets (handing one to
# a child process, ref/unref, diagnostics_channel, handle refs, and the dns
# tests whose fake DNS servers are dgram sockets; test-dns.js needs the
# internet and is left out).
for f in parallel/test-dgram* sequential/test-dgram* parallel/test-cluster-dgram* \
  parallel/test-cluster-disconnect-unshared-udp* parallel/test-cluster-child-index-dgram.js \
  async-hooks/test-async-local-storage-dgram.js async-hooks/test-udpwrap.js async-hooks/test-udpsendwrap.js \
  parallel/test-child-process-fork-dgram.js parallel/test-ref-unref-return.js \
  parallel/test-diagnostics-channel-udp.js parallel/test-handle-wrap-hasref.js \
  parallel/test-dns-resolveany*.js parallel/test-dns-channel-*.js parallel/test-dns-multi-channel.js \
  parallel/test-dns-cancel-reverse-lookup.js parallel/test-worker-dns-terminate-during-query.js; do
  [ -e "$f" ] && [[ $f =~ $pat ]] || continue
  # Each test names the flags it needs on a `// Flags:` line.
  read -r -a flags <<<"$(grep -m1 -E '^// Flags:' "$f" | sed 's#^// Flags:##')"
  pre=()
  if [ "$IMPL" = rs ]; then
    if [[ $f == *.mjs ]]; then pre=(--import "$ROOT/register.mjs"); else pre=(-r "$ROOT/register.js"); fi
  fi
  out=$(timeout 60 node "${flags[@]}" "${pre[@]}" "$f" 2>&1)
  rc=$?
  if [ $rc = 0 ]; then
    pass=$((pass + 1))
  elif [ "$IMPL" = rs ] && [[ " ${known_rs[*]} " == *" $f "* ]]; then
    known+=("$f")
  else
    fail=$((fail + 1))
    failed+=("$f")
    if [ -n "${VERBOSE:-}" ]; then
      echo "=== $f rc=$rc"
      echo "$out" | tail -30
    fi
  fi
done
echo "IMPL=$IMPL pass=$pass fail=$fail known=${#known[@]}"
if [ ${#known[@]} -gt 0 ]; then printf '  known difference: %s\n' "${known[@]}"; fi
if [ ${#failed[@]} -gt 0 ]; then printf '  %s\n' "${failed[@]}"; fi
[ "$fail" = 0 ]
