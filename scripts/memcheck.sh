#!/usr/bin/env bash
# Runs scripts/memcheck/workload.js under valgrind's memcheck with an addon
# built with debug info, and fails on any memory error (invalid read or
# write, use of uninitialised memory, bad free) and on memory definitely
# lost by the addon (a stack through dgram_rs). Leaks of Node itself, and
# what is still reachable at exit, are not ours to judge.
#
# In a network namespace whose lo is rate limited (when unshare and tc
# work), so that sends queue and the drain thread runs; otherwise on the
# host's loopback. About two minutes (a release build with debug info, then
# a minute under valgrind). Needs valgrind (.ci/run installs Debian's).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if ! command -v valgrind >/dev/null 2>&1; then
  echo "memcheck: valgrind is not installed" >&2
  exit 1
fi

target=$ROOT/target/memcheck
mkdir -p "$target"
CARGO_TARGET_DIR=$target CARGO_PROFILE_RELEASE_DEBUG=1 CARGO_PROFILE_RELEASE_STRIP=false \
  cargo build --release --lib --quiet
case "$(uname -s)" in
  Darwin) lib=libdgram_rs.dylib ;;
  *) lib=libdgram_rs.so ;;
esac
# require() loads a native addon by its .node name.
cp "$target/release/$lib" "$target/dgram-rs.memcheck.node"

log=$target/memcheck.log
run=(valgrind --error-limit=no --smc-check=all-non-file --leak-check=full
  --show-leak-kinds=definite --num-callers=40 --log-file="$log"
  node "$ROOT/scripts/memcheck/workload.js")
export NAPI_RS_NATIVE_LIBRARY_PATH=$target/dgram-rs.memcheck.node
slow_lo='ip link set lo up && tc qdisc add dev lo root tbf rate 20mbit burst 5kb limit 1mb'
if unshare -rn sh -c "$slow_lo" >/dev/null 2>&1; then
  echo "memcheck: in a namespace with a rate-limited lo"
  unshare -rn sh -c "$slow_lo && exec \"\$@\"" sh "${run[@]}"
else
  echo "memcheck: on the host's loopback (no namespace with tc here)"
  "${run[@]}"
fi

# Memory errors: every record valgrind reports that is not a leak summary.
errors=$(grep -cE '^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap)' "$log" || true)
# Leaks: each "definitely lost" record whose stack goes through the addon.
ours=$(awk '
  /definitely lost in loss record/ { inrec = 1; hit = 0; next }
  inrec && /dgram_rs|dgram-rs/ && !hit { n++; hit = 1 }
  /^==[0-9]+== $/ { inrec = 0 }
  END { print n + 0 }' "$log")
grep -E 'ERROR SUMMARY|definitely lost:' "$log" | sed 's/^==[0-9]*== /memcheck: /'
if [ "$errors" != 0 ] || [ "$ours" != 0 ]; then
  echo "memcheck: $errors memory error(s), $ours leak(s) of the addon; the full log: $log" >&2
  grep -E -A30 '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and)|definitely lost in loss record' "$log" | head -200 >&2
  exit 1
fi
echo "memcheck: no memory error, no leak of the addon"
