#!/usr/bin/env node
'use strict';
// A bool query with match + range, with and without a wasm_udf clause, from 2 concurrent
// keep-alive clients over HTTP: QPS and latency percentiles, both variants in the same run
// against the same server and data.
//
//   node bench/udf/qps.js [--bin build/kiln] [--n 50000] [--seconds 10] [--clients 2]
//
// Data: the synthetic product catalogue (bench/datasets/products.js, seed 42). The UDF is the
// string_distance example (built into <build>/udfs), filtering on the product name.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { KilnServer, request } = require('../../tests/integration/lib/server');
const { products } = require('../datasets/products');

const o = { bin: 'build/kiln', n: 50000, seconds: 10, clients: 2 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in o)) throw new Error(`unknown option ${process.argv[i]}`);
  o[k] = k === 'bin' ? process.argv[++i] : Number(process.argv[++i]);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });

function post(url, p, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(p, url), { method: 'POST', agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${res.statusCode} ${Buffer.concat(chunks)}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function load(srv) {
  const g = products({ seed: 42 });
  const ddl = { mappings: { properties: { name: { type: 'text', fields: { keyword: { type: 'keyword' } } }, price: { type: 'double' } } } };
  await request(srv.url, 'PUT', '/bench', JSON.stringify(ddl), { 'Content-Type': 'application/json' });
  for (let start = 0; start < o.n; start += 5000) {
    const lines = [];
    for (let i = start; i < Math.min(o.n, start + 5000); i++) lines.push(`{"index":{"_id":"${i}"}}`, JSON.stringify(g.doc(i)));
    const r = await request(srv.url, 'POST', '/bench/_bulk', lines.join('\n') + '\n', { 'Content-Type': 'application/x-ndjson' });
    if (r.status !== 200 || r.body.errors) throw new Error(`bulk failed: ${r.status}`);
  }
  await request(srv.url, 'POST', '/bench/_refresh');
  const udfDir = path.join(path.dirname(path.resolve(o.bin)), 'udfs', 'string_distance');
  const m = JSON.parse(fs.readFileSync(path.join(udfDir, 'udf.json'), 'utf8'));
  const { name, version, wasm, ...meta } = m;
  meta.wasm = fs.readFileSync(path.join(udfDir, wasm)).toString('base64');
  const r = await request(srv.url, 'PUT', `/_udf/${name}/${version}`, JSON.stringify(meta), { 'Content-Type': 'application/json' });
  if (r.status !== 201) throw new Error(`register failed: ${r.text}`);
}

// Query words: the commonest words of the first product names (so clauses match many docs).
let WORDS = [];
let TARGET = '';
function pickWords() {
  const g = products({ seed: 42 });
  const freq = new Map();
  for (let i = 0; i < 2000; i++)
    for (const w of g.doc(i).name.toLowerCase().split(/\s+/)) freq.set(w, (freq.get(w) || 0) + 1);
  WORDS = [...freq.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map((e) => e[0]);
  TARGET = g.doc(0).name;
}

function query(i, withUdf) {
  const bool = {
    must: [{ match: { name: WORDS[i % WORDS.length] } }],
    filter: [{ range: { price: { gte: 10 + (i % 50), lte: 500 + (i % 400) } } }],
  };
  if (withUdf) bool.filter.push({ wasm_udf: { name: 'string_distance', params: { field: 'name.keyword', target: TARGET, max_distance: 8 } } });
  return JSON.stringify({ size: 10, query: { bool } });
}

async function run(url, withUdf) {
  const lat = [];
  const end = Date.now() + o.seconds * 1000;
  let i = 0;
  async function client() {
    while (Date.now() < end) {
      const q = query(i++, withUdf);
      const t0 = process.hrtime.bigint();
      await post(url, '/bench/_search', q);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  await Promise.all(Array.from({ length: o.clients }, client));
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { qps: lat.length / o.seconds, p50: pct(0.5), p99: pct(0.99), n: lat.length };
}

(async () => {
  pickWords();
  const srv = await KilnServer.start({ bin: o.bin, args: ['--log-level', 'warn'] });
  try {
    await load(srv);
    await run(srv.url, true); // warm-up: tier 1 and caches
    const rows = [];
    for (const withUdf of [false, true, false, true]) rows.push([withUdf, await run(srv.url, withUdf)]);
    const hits = JSON.parse(await post(srv.url, '/bench/_count', JSON.stringify({ query: JSON.parse(query(0, false)).query })));
    const calls = JSON.parse((await request(srv.url, 'GET', '/_udf/string_distance/1.0.0/_stats')).text).calls;
    console.log(`${o.n} products, ${o.clients} clients, ${o.seconds} s per run, alternating; words ${WORDS.join(' ')}; ` +
      `the first query matches ${hits.count} docs before the UDF; UDF calls so far ${calls}\n`);
    console.log('| query | QPS | p50 ms | p99 ms | queries |\n|---|---:|---:|---:|---:|');
    for (const [u, r] of rows)
      console.log(`| match + range${u ? ' + wasm_udf' : ''} | ${r.qps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.n} |`);
  } finally {
    agent.destroy();
    await srv.stop();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
