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
run=(timeout 600 valgrind --error-limit=no --smc-check=all-non-file --leak-check=full
  --show-leak-kinds=definite --num-callers=40 --log-file="$log"
  node "$ROOT/scripts/memcheck/workload.js")
export NAPI_RS_NATIVE_LIBRARY_PATH=$target/dgram-rs.memcheck.node
slow_lo='ip link set lo up && tc qdisc add dev lo root tbf rate 20mbit burst 5kb limit 1mb'
status=0
if unshare -rn sh -c "$slow_lo" >/dev/null 2>&1; then
  echo "memcheck: in a namespace with a rate-limited lo"
  unshare -rn sh -c "$slow_lo && exec \"\$@\"" sh "${run[@]}" || status=$?
else
  echo "memcheck: on the host's loopback (no namespace with tc here: sends seldom queue)"
  "${run[@]}" || status=$?
fi
if [ "$status" != 0 ]; then
  echo "memcheck: the workload failed (exit $status); the end of valgrind's log ($log):" >&2
  tail -n 60 "$log" >&2
  exit 1
fi

# Each error record (from its first line to the blank line that ends it)
# counts as ours when its stack goes through the addon: memory errors of
# any kind, and memory definitely lost. Node's and V8's own records are
# reported, not judged (they depend on the Node build).
read -r ours_errors other_errors ours_leaks < <(awk '
  /^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function)/ { kind = "error"; hit = 0; next }
  /definitely lost in loss record/ { kind = "leak"; hit = 0; next }
  kind != "" && /dgram_rs|dgram-rs/ { hit = 1 }
  kind != "" && /^==[0-9]+== $/ {
    if (kind == "error") { if (hit) oe++; else xe++ } else if (hit) ol++
    kind = ""
  }
  END { print oe + 0, xe + 0, ol + 0 }' "$log")
grep -E 'ERROR SUMMARY|definitely lost:' "$log" | sed 's/^==[0-9]*== /memcheck: /'
if [ "$other_errors" != 0 ]; then
  echo "memcheck: $other_errors memory error(s) outside the addon's frames (Node's own; see $log)"
fi
if [ "$ours_errors" != 0 ] || [ "$ours_leaks" != 0 ]; then
  echo "memcheck: $ours_errors memory error(s) and $ours_leaks leak(s) of the addon; the full log: $log" >&2
  grep -E -A30 '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and|Argument)|definitely lost in loss record' "$log" | head -200 >&2
  exit 1
fi
echo "memcheck: no memory error, no leak of the addon"
