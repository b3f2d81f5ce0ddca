#!/usr/bin/env bash
# Builds the release addon for one Rust target into
#   artifacts/bindings-<target>/dgram-rs.<platform>.node
# (the layout `napi artifacts` reads). The one build command per target that
# both scripts/registry-e2e.sh and .github/workflows/ci.yml run.
#
#   bash scripts/build-target.sh x86_64-unknown-linux-gnu
#
# Linux targets (x64 and arm64, glibc and musl) are cross-linked with Zig on
# any Linux x64 host: `napi build -x` runs cargo-zigbuild, and both cargo-
# zigbuild and Zig come as wheels from PyPI (no C cross toolchain, no
# download outside the package registries). glibc targets link against
# glibc 2.17's symbol versions (the `.2.17` suffix), so the binaries load on
# any glibc distribution of the last decade, not only on the builder's. musl
# targets link musl dynamically (napi adds `-C target-feature=-crt-static`).
# macOS and Windows targets build natively on their own runner (no `-x`).
set -euo pipefail

target=${1:?usage: build-target.sh <rust target triple>}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Versions of the PyPI tools, pinned: a new Zig can change what links.
CARGO_ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1

# Puts `zig` and `cargo-zigbuild` on PATH, from a virtualenv under
# target/tools (kept between local runs, fresh in CI).
zig_tools() {
  if command -v zig >/dev/null 2>&1 && command -v cargo-zigbuild >/dev/null 2>&1; then
    return
  fi
  local venv="${DGRAM_RS_TOOLS_DIR:-$root/target/tools}/zig-venv"
  if [ ! -x "$venv/bin/cargo-zigbuild" ] || ! "$venv/bin/python" -c 'import ziglang' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION"
  fi
  # The ziglang wheel ships the zig binary inside the Python package.
  local zig
  zig=$("$venv/bin/python" -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
  mkdir -p "$venv/zig-bin"
  ln -sf "$zig" "$venv/zig-bin/zig"
  export PATH="$venv/zig-bin:$venv/bin:$PATH"
}

case "$target" in
  *-unknown-linux-gnu) napi_target="$target.2.17"; cross=-x ;;
  *-unknown-linux-musl) napi_target="$target"; cross=-x ;;
  *) napi_target="$target"; cross= ;;
esac

if command -v rustup >/dev/null 2>&1; then
  rustup target add "$target" >/dev/null
fi
if [ -n "$cross" ]; then
  zig_tools
  echo "zig $(zig version), $(cargo-zigbuild --version)"
fi

out="artifacts/bindings-$target"
rm -rf "$out"
mkdir -p "$out"
# --no-js: the loader (binding.js) is the committed one; the type
# definitions written next to the binary are dropped below.
npx --no-install napi build --platform --release --target "$napi_target" $cross \
  --output-dir "$out" --no-js
rm -f "$out"/*.d.ts
ls -l "$out"
