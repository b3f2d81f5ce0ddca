#!/usr/bin/env bash
# Publishes one npm package per target (dgram-rs-<platform>: os, cpu, libc,
# one .node) and then the main package, which lists them as
# optionalDependencies of the same version. The binaries come from
# artifacts/bindings-<target>/ (scripts/build-target.sh, or the CI artifacts
# downloaded there).
#
#   bash scripts/publish-packages.sh [--targets t1,t2,...] [--artifacts DIR] [--dry-run]
#
# --targets   the Rust targets to publish (default: all of package.json's
#             napi.targets); a release publishes all of them, the local
#             registry test (scripts/registry-e2e.sh) those built here.
# --dry-run   assemble and check the packages, publish nothing.
# Registry, credentials and provenance come from npm's own configuration
# (NPM_CONFIG_REGISTRY, NPM_CONFIG_USERCONFIG, NPM_CONFIG_PROVENANCE, ...).
#
# Works on a staged copy of exactly what `npm pack` ships, so the checkout is
# left alone: the npm/<platform> folders are generated there by
# `napi create-npm-dirs` from package.json (one source of truth for name,
# version, targets and metadata; nothing committed that could drift), filled
# by `napi artifacts`, and published by `napi prepublish`, which also writes
# the optionalDependencies into the staged package.json.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
targets=""
artifacts="$root/artifacts"
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) targets=$2; shift 2 ;;
    --artifacts) artifacts=$(cd "$2" && pwd); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    *) echo "publish-packages.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

napi="$root/node_modules/.bin/napi"
stage=$(mktemp -d "${TMPDIR:-/tmp}/dgram-rs-publish-XXXXXX")
trap 'rm -rf "$stage"' EXIT

echo "== staging the main package (npm pack)"
(cd "$root" && npm pack --ignore-scripts --silent --pack-destination "$stage" >/dev/null)
tar -xzf "$stage"/dgram-rs-*.tgz -C "$stage"
rm -f "$stage"/dgram-rs-*.tgz
pkg="$stage/package"
cd "$pkg"

TARGETS="$targets" node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
  if (pkg.optionalDependencies) throw new Error("package.json must not list optionalDependencies: napi prepublish writes them");
  if (process.env.TARGETS) {
    const wanted = process.env.TARGETS.split(",");
    const unknown = wanted.filter((t) => !pkg.napi.targets.includes(t));
    if (unknown.length) throw new Error("not in napi.targets: " + unknown.join(", "));
    pkg.napi.targets = wanted;
  }
  fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2) + "\n");
  console.log("targets: " + pkg.napi.targets.join(" "));
'

echo "== npm/<platform> packages (napi create-npm-dirs, napi artifacts)"
"$napi" create-npm-dirs
"$napi" artifacts --output-dir "$artifacts" --npm-dir npm
# `napi artifacts` also copies every binary next to the loader; the main
# package ships none (and `files` would not take them anyway).
rm -f ./*.node
# The licence travels with each binary, as with the main package (npm
# packs a LICENSE whatever `files` says).
for dir in npm/*/; do cp LICENSE "$dir"; done

# Each platform package: one .node, os/cpu(/libc) set; the main one: no
# binary, under 150 KB packed.
node -e '
  const { execFileSync } = require("child_process");
  const fs = require("fs");
  const path = require("path");
  const pack = (dir) => JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: dir, encoding: "utf8" }))[0];
  for (const dir of fs.readdirSync("npm")) {
    const info = pack(path.join("npm", dir));
    const meta = JSON.parse(fs.readFileSync(path.join("npm", dir, "package.json"), "utf8"));
    const nodes = info.files.filter((f) => f.path.endsWith(".node"));
    if (nodes.length !== 1) throw new Error(`${info.name}: ${nodes.length} binaries`);
    if (!info.files.some((f) => f.path === "LICENSE")) throw new Error(`${info.name}: no LICENSE`);
    if (!meta.os || !meta.cpu || (meta.os[0] === "linux" && !meta.libc)) throw new Error(`${info.name}: os/cpu/libc missing`);
    console.log(`${info.name}@${info.version}: ${nodes[0].path}, os ${meta.os} cpu ${meta.cpu}${meta.libc ? " libc " + meta.libc : ""}; packed ${info.size} B, unpacked ${info.unpackedSize} B`);
  }
  const main = pack(".");
  const binaries = main.files.filter((f) => f.path.endsWith(".node"));
  if (binaries.length) throw new Error("main package holds binaries: " + binaries.map((f) => f.path));
  if (main.size >= 150 * 1024) throw new Error(`main package is ${main.size} B packed (limit 150 KB)`);
  console.log(`${main.name}@${main.version}: ${main.files.length} files, no binary; packed ${main.size} B, unpacked ${main.unpackedSize} B`);
'

if [ "$dry_run" = 1 ]; then
  echo "== dry run: nothing published"
  exit 0
fi

echo "== publishing the platform packages (napi prepublish)"
# Adds optionalDependencies { dgram-rs-<platform>: <version> } to the staged
# package.json. No GitHub release: the packages are the release.
"$napi" prepublish -t npm --no-gh-release

node -e '
  const pkg = require("./package.json");
  const deps = pkg.optionalDependencies || {};
  const want = require("fs").readdirSync("npm").map((d) => `dgram-rs-${d}`).sort();
  const got = Object.keys(deps).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`optionalDependencies ${got} != ${want}`);
  for (const [name, v] of Object.entries(deps)) if (v !== pkg.version) throw new Error(`${name}@${v} != ${pkg.version}`);
  console.log("optionalDependencies: " + got.join(" ") + " @ " + pkg.version);
'

echo "== publishing the main package"
# --ignore-scripts: `prepare` would compile the addon and prepublishOnly
# (napi prepublish) has just run.
npm publish --ignore-scripts
