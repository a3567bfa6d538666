#!/usr/bin/env node
'use strict';
// What a UDF pays to read a long text field (a product description, ~400 bytes): from _source
// (the default: text fields keep no column of originals, as in Elasticsearch), from a column of
// originals (`"store": true`), and, for scale, a short text field read through its keyword
// multi-field's ordinals (name) and a field that is missing (the call alone, the baseline).
// One server, two indices of the same products that differ only in the description's `store`;
// every variant runs in the same process, interleaved, and reports the server's `took`.
//
//   node bench/udf/text_reads.js [--bin build/kiln] [--n 100000] [--runs 15]
//
// Two access patterns: a scan (the UDF is the only clause: every document, in order) and the
// second phase of a selective query (a match on a description word; the UDF on its matches).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { KilnServer, request } = require('../../tests/integration/lib/server');
const { products } = require('../datasets/products');

const o = { bin: 'build/kiln', n: 100000, runs: 15 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in o)) throw new Error(`unknown option ${process.argv[i]}`);
  o[k] = k === 'bin' ? process.argv[++i] : Number(process.argv[++i]);
}

// Matches when the field named by the "field" parameter has a non-empty first value: one
// get_field_string of up to 4 KiB per call, nothing else.
const WAT = `(module
  (import "kiln" "get_param_string" (func $gp (param i32 i32 i32 i32) (result i32)))
  (import "kiln" "get_field_string" (func $gf (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "field")
  (func (export "kiln_abi_version") (result i32) (i32.const 1))
  (func (export "f") (result i32) (local $n i32)
    (local.set $n (call $gp (i32.const 0) (i32.const 5) (i32.const 64) (i32.const 64)))
    (i32.gt_s (call $gf (i32.const 64) (local.get $n) (i32.const 1024) (i32.const 4096)) (i32.const 0))))`;

const TEXT_KW = { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
function mapping(store) {
  const description = store ? { ...TEXT_KW, store: true } : TEXT_KW;
  return { mappings: { properties: { name: TEXT_KW, description, category: { type: 'keyword' } } } };
}

async function load(url) {
  const g = products({ seed: 42 });
  for (const [index, store] of [['plain', false], ['stored', true]]) {
    const r = await request(url, 'PUT', `/${index}`, JSON.stringify(mapping(store)), { 'Content-Type': 'application/json' });
    if (r.status !== 200) throw new Error(r.text);
  }
  for (let start = 0; start < o.n; start += 5000) {
    const lines = [];
    for (let i = start; i < Math.min(o.n, start + 5000); i++) {
      const d = g.doc(i);
      lines.push(`{"index":{"_id":"${i}"}}`, JSON.stringify({ name: d.name, description: d.description, category: d.category }));
    }
    for (const index of ['plain', 'stored']) {
      const r = await request(url, 'POST', `/${index}/_bulk`, lines.join('\n') + '\n', { 'Content-Type': 'application/x-ndjson' });
      if (r.status !== 200 || r.body.errors) throw new Error(`bulk failed: ${r.status}`);
    }
  }
  for (const index of ['plain', 'stored']) {
    await request(url, 'POST', `/${index}/_flush`);
    await request(url, 'POST', `/${index}/_forcemerge?max_num_segments=1`);
    await request(url, 'POST', `/${index}/_refresh`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-textreads-'));
  fs.writeFileSync(path.join(tmp, 'r.wat'), WAT);
  execFileSync('wat2wasm', [path.join(tmp, 'r.wat'), '-o', path.join(tmp, 'r.wasm')]);
  const meta = { function_name: 'f', wasm: fs.readFileSync(path.join(tmp, 'r.wasm')).toString('base64'),
    parameters: [{ name: 'field', type: 'string', required: true }] };
  const r = await request(url, 'PUT', '/_udf/read_field/1.0.0', JSON.stringify(meta), { 'Content-Type': 'application/json' });
  if (r.status !== 201) throw new Error(`register failed: ${r.text}`);
}

const VARIANTS = [
  ['missing field (call only, baseline)', 'plain', 'zzz'],
  ['name via name.keyword ordinals', 'plain', 'name'],
  ['description, column (store: true)', 'stored', 'description'],
  ['description from _source (default)', 'plain', 'description'],
];

async function took(url, index, field, must) {
  const udf = { wasm_udf: { name: 'read_field', params: { field } } };
  const query = must ? { bool: { must: [must], filter: [udf] } } : udf;
  const r = await request(url, 'POST', `/${index}/_search`, JSON.stringify({ size: 0, track_total_hits: true, query }),
    { 'Content-Type': 'application/json' });
  if (r.status !== 200) throw new Error(r.text);
  return { ms: r.body.took, hits: r.body.hits.total.value };
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function main() {
  const srv = new KilnServer({ bin: o.bin });
  await srv.start();
  try {
    await load(srv.url);
    // a description word in ~3% of the documents (document frequency over the first 5,000)
    const g = products({ seed: 42 });
    const df = new Map();
    for (let i = 0; i < 5000; i++)
      for (const w of new Set(g.doc(i).description.toLowerCase().split(/\W+/))) df.set(w, (df.get(w) || 0) + 1);
    const probe = [...df.entries()].sort((a, b) => Math.abs(a[1] - 150) - Math.abs(b[1] - 150))[0][0];
    const must = { match: { description: probe } };
    for (const [label, m] of [[`scan of ${o.n} documents`, null], [`second phase of match "${probe}"`, must]]) {
      const ms = VARIANTS.map(() => []);
      let hits = [];
      for (let run = 0; run < o.runs; run++)
        for (let v = 0; v < VARIANTS.length; v++) {
          const t = await took(srv.url, VARIANTS[v][1], VARIANTS[v][2], m);
          ms[v].push(t.ms);
          hits[v] = t.hits;
        }
      const cand = m ? (await took(srv.url, 'plain', 'name', m)).hits : o.n;
      const base = median(ms[0]);
      console.log(`\n## ${label} (${cand} UDF calls), median of ${o.runs} runs`);
      console.log('| field read | took ms | µs per call over the baseline |\n|---|---:|---:|');
      VARIANTS.forEach(([name], v) => {
        const t = median(ms[v]);
        console.log(`| ${name} | ${t} | ${v ? ((t - base) * 1000 / cand).toFixed(2) : '-'} |`);
      });
    }
  } finally {
    await srv.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
