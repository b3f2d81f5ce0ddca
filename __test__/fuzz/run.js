#!/usr/bin/env node
'use strict';

// Differential fuzzer, node:dgram vs dgram-rs. Long runs:
//
//   node __test__/fuzz/run.js --seed 1 --ops 5000
//   node __test__/fuzz/run.js --seeds 1-50 --ops 1000
//   node __test__/fuzz/run.js --seed 7 --ops 300 --shrink --repro /tmp/repro.js
//   node __test__/fuzz/run.js --seed 7 --ops 300 --shrink --target 123   (the difference at op #123)
//
// Each seed generates one plan (gen.js); both implementations run it in
// their own child process (child.js); the traces are compared
// (compare.js). Prints the differences grouped by signature and exits 1 if
// there were any besides the known ones (compare.js KNOWN; --all counts
// those too; --known lists more signature substrings to ignore).
// --raw turns off child.js's masks (FUZZ_UNMASK=R9,R13 turns off single
// ones). --shrink minimises the first difference's plan (--target I: the
// one at op #I; --timeout MS per child, --budget N tries); --repro FILE
// writes a standalone script for it. FUZZ_PROGRESS=1 makes the children
// print each op to stderr (to find where one hangs).
// Children run one after the other: plans bind fixed ports (9, 65535...),
// so do not run two fuzz runs at once on one machine.

const fs = require('node:fs');
const { fuzzSeed, shrink, renderRepro, signature, known } = require('./compare.js');

function parse(argv) {
  const opt = (name, def) => {
    const k = argv.indexOf(`--${name}`);
    return k === -1 ? def : argv[k + 1];
  };
  let seeds = [Number(opt('seed', 1))];
  const range = opt('seeds');
  if (range) {
    seeds = [];
    for (const part of range.split(',')) {
      const [a, b] = part.split('-').map(Number);
      for (let s = a; s <= (b === undefined ? a : b); s++) seeds.push(s);
    }
  }
  return {
    seeds,
    ops: Number(opt('ops', 300)),
    shrink: argv.includes('--shrink'),
    repro: opt('repro'),
    target: opt('target') === undefined ? undefined : Number(opt('target')),
    known: (opt('known', '') || '').split(',').filter(Boolean),
    all: argv.includes('--all'),
    raw: argv.includes('--raw'),
    timeout: Number(opt('timeout', 120000)),
    budget: Number(opt('budget', 80)),
    verbose: argv.includes('--verbose'),
  };
}

function show(d) {
  const e = d.entry || { op: 'create', how: '?', args: [] };
  const what = e ? (e.op === 'create' ? `${e.how}(${e.args.join(', ')})` : `s${e.slot}.${e.method}(${e.args.join(', ')})`) : '';
  return `#${d.i} ${what}\n      node: ${JSON.stringify(d.node)}\n      rs:   ${JSON.stringify(d.rs)}`;
}

async function main() {
  const o = parse(process.argv.slice(2));
  const groups = new Map();
  let failedSeeds = 0;
  let first = null;
  const knownCount = new Map();
  for (const seed of o.seeds) {
    const r = await fuzzSeed(seed, o.ops, { ms: o.timeout, raw: o.raw });
    const knownDiffs = r.diffs.filter((d) => !o.all && known(d));
    const diffs = r.diffs.filter((d) => !knownDiffs.includes(d) && !o.known.some((k) => signature(d).includes(k)));
    for (const d of knownDiffs) knownCount.set(known(d).id, (knownCount.get(known(d).id) || 0) + 1);
    const line = `seed ${seed}: ${r.plan.length} plan entries, node ${r.node.ms} ms (exit ${r.node.code}${r.node.signal ? ` ${r.node.signal}` : ''}), ` +
      `rs ${r.rs.ms} ms (exit ${r.rs.code}${r.rs.signal ? ` ${r.rs.signal}` : ''}), ${diffs.length} differences (+${knownDiffs.length} known)`;
    console.log(line);
    if (diffs.length) {
      failedSeeds++;
      const d = o.target === undefined ? diffs[0] : diffs.find((x) => x.i === o.target);
      if (!first && d) first = { r, d };
    }
    for (const d of diffs) {
      const sig = signature(d);
      if (!groups.has(sig)) groups.set(sig, []);
      groups.get(sig).push({ seed, d });
    }
    if (o.verbose && r.rs.stderr) console.log(`  rs stderr: ${r.rs.stderr.slice(0, 500)}`);
  }
  for (const [sig, list] of groups) {
    console.log(`\n${sig}  (${list.length}×, seeds ${[...new Set(list.map((x) => x.seed))].slice(0, 10).join(',')})`);
    const d = list[0].d;
    if (d.kind === 'sync') console.log(`  seed ${list[0].seed} ${show(d)}`);
    else console.log(`  ${JSON.stringify(d).slice(0, 1500)}`);
  }
  if (first && (o.shrink || o.repro)) {
    let plan = first.r.plan;
    if (o.shrink) {
      console.log(`\nshrinking seed ${first.r.seed} #${first.d.i} (${signature(first.d)})`);
      plan = await shrink(plan, first.d, { log: (m) => console.log(m), ms: o.timeout, budget: o.budget });
    } else if (first.d.i !== undefined) {
      plan = plan.filter((e) => e.i <= first.d.i);
    }
    const script = renderRepro(plan, { title: `fuzz seed ${first.r.seed}: ${signature(first.d)}` });
    if (o.repro) {
      fs.writeFileSync(o.repro, script);
      console.log(`repro written to ${o.repro}`);
    } else {
      console.log(`\n${script}`);
    }
  }
  console.log(`\nknown differences (not counted): ${[...knownCount].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`);
  console.log(`${o.seeds.length} seeds, ${failedSeeds} with differences, ${groups.size} distinct signatures`);
  process.exitCode = failedSeeds ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
