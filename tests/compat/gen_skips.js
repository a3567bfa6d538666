#!/usr/bin/env node
'use strict';
// Turn the failures of a compat run into skip-list entries, with a reason read from the failure.
//
//   node tests/compat/run.js --start --rest-schema --json /tmp/run.json   # with the current list
//   node tests/compat/gen_skips.js /tmp/run.json >> tests/compat/skip.yaml
//
// A file whose every non-skipped test fails for one reason becomes one file entry; otherwise one
// entry per reason lists the failing tests. Review the reasons before committing: a generated
// entry says what is missing ("query [intervals] not supported"), not why that is acceptable.

const fs = require('node:fs');

function reasonOf(text) {
  const t = String(text);
  let m;
  if ((m = /unknown query \[([^\]]+)\]/.exec(t))) return `query [${m[1]}]: not supported`;
  if ((m = /No handler for type \[([^\]]+)\]/.exec(t))) return `field type [${m[1]}]: not supported`;
  if ((m = /no handler found for uri \[([^\]?]+)[^\]]*\] and method \[([A-Z]+)\]/.exec(t))) {
    const p = m[1].replace(/\/[a-z0-9_.-]*[0-9][a-z0-9_.-]*/g, '/{x}');
    return `API ${m[2]} ${p}: not built`;
  }
  if ((m = /\[([a-z_]+)\] query does not allow type \[([a-z_]+)\]/.exec(t))) return `${m[1]} type [${m[2]}]: not supported`;
  if ((m = /unknown aggregation (type )?\[([^\]]+)\]/i.exec(t))) return `aggregation [${m[2]}]: not supported`;
  if (/"aggs"|aggregations|"aggs"/.test(t) && /unknown|not supported|unsupported/i.test(t)) return 'aggregations: not supported';
  if ((m = /"reason":"([^"]{1,120})/.exec(t))) return `not passing yet: ${m[1]}`;
  return `not passing yet: ${t.split('\n')[0].replace(/\s+/g, ' ').slice(0, 140)}`;
}

function main() {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: gen_skips.js RESULTS.json (from run.js --json)\n');
    process.exit(2);
  }
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byFile = new Map();
  for (const r of j.results) {
    if (!byFile.has(r.file)) byFile.set(r.file, []);
    byFile.get(r.file).push(r);
  }
  const out = [];
  for (const [f, rs] of byFile) {
    const fails = rs.filter((r) => r.status === 'fail' && !r.name.startsWith('(epilogue'));
    if (!fails.length) continue;
    const ran = rs.filter((r) => r.status !== 'skip' && !r.name.startsWith('(epilogue'));
    const groups = new Map();
    for (const r of fails) {
      const why = reasonOf(r.reason);
      if (!groups.has(why)) groups.set(why, []);
      groups.get(why).push(r.name.replace(/ \[[A-Z]+\]$/, ''));
    }
    if (groups.size === 1 && fails.length === ran.length) {
      out.push(`- path: ${f}\n  reason: ${JSON.stringify([...groups.keys()][0])}`);
      continue;
    }
    for (const [why, names] of groups) {
      const uniq = [...new Set(names)];
      out.push(`- path: ${f}\n  test:\n${uniq.map((n) => `    - ${JSON.stringify(n)}`).join('\n')}\n  reason: ${JSON.stringify(why)}`);
    }
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}

main();
