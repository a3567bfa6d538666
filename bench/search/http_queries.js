#!/usr/bin/env node
'use strict';
// bench_search's query set over HTTP: starts build/kiln on a fresh temp data dir, creates the
// index with the same explicit mapping as bench/search/bench_search.c (read from
// bench_common.h, so the two cannot drift), bulk-loads the corpus, refreshes, then runs each
// query --runs times with 1 and 2 concurrent keep-alive clients: p50/p99 latency, QPS and the
// server's CPU time per query (summed over the kiln process's threads: fairer than wall time on a
// shared machine), as a markdown table.
//
//   node bench/search/http_queries.js [--bin build/kiln] [--dataset products|debian] [--n DOCS]
//        [--runs 200] [--clients 1,2] [--file NDJSON] [--md FILE]
//
// Corpus files (one document per line) default to bench/out/products-<n>-42.docs.ndjson and
// bench/out/debian.docs.ndjson, generated when missing. Query terms are picked by document
// frequency in the text field as bench_search picks them: most frequent ("common"), second,
// 201st ("medium"), first at or below df 100 ("rare"). Frequencies are counted on the analyzed
// text: products' synthetic words are lowercase ASCII (a regex split gives the analyzer's
// tokens), Debian's text goes through the index's own _analyze; each chosen term's df is then
// checked with _count (ties of df are broken by term text here; bench_search's sort may pick
// another term of the same df — compare the printed terms). Kiln has no _forcemerge: the
// segment count after a _flush is reported.
// Searches ask for the default response (top 10 with _source), track_total_hits default 10,000.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { KilnServer, request, REPO_ROOT } = require('../../tests/integration/lib/server');

const DATASETS = {
  products: { mapping: 'kiln__mapping_json', text: 'description', kw: ['category', 'books'], num: ['price', 100, 200], n: 1000000 },
  debian: { mapping: 'kiln__debian_mapping_json', text: 'description', kw: ['section', 'doc'], num: ['installed_size', 100, 1000], n: Infinity },
};

function parseArgs() {
  const o = { bin: path.join(REPO_ROOT, 'build', 'kiln'), dataset: 'products', runs: 200, clients: [1, 2], batch: 5000 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    const v = () => {
      if (i + 1 >= a.length) throw new Error(`${k} needs a value`);
      return a[++i];
    };
    if (k === '--bin') o.bin = v();
    else if (k === '--dataset') o.dataset = v();
    else if (k === '--n') o.n = Number(v());
    else if (k === '--runs') o.runs = Number(v());
    else if (k === '--clients') o.clients = v().split(',').map(Number);
    else if (k === '--file') o.file = v();
    else if (k === '--md') o.md = v();
    else throw new Error(`unknown argument ${k}`);
  }
  if (!DATASETS[o.dataset]) throw new Error(`unknown dataset ${o.dataset} (products, debian)`);
  o.ds = DATASETS[o.dataset];
  if (o.n === undefined) o.n = o.ds.n;
  return o;
}

/** The mapping string of bench_common.h (adjacent C string literals) as an object. */
function mappingOf(name) {
  const h = fs.readFileSync(path.join(__dirname, 'bench_common.h'), 'utf8');
  const m = new RegExp(`${name}\\s*=\\s*((?:\\s*"(?:[^"\\\\]|\\\\.)*")+)\\s*;`).exec(h);
  if (!m) throw new Error(`${name} not found in bench_common.h`);
  const lits = m[1].match(/"(?:[^"\\]|\\.)*"/g);
  return JSON.parse(lits.map((l) => JSON.parse(l)).join(''));
}

function corpusFile(o) {
  if (o.file) return o.file;
  const out = path.join(REPO_ROOT, 'bench', 'out');
  fs.mkdirSync(out, { recursive: true });
  if (o.dataset === 'products') {
    const f = path.join(out, `products-${o.n}-42.docs.ndjson`);
    if (!fs.existsSync(f)) {
      process.stderr.write(`generating ${o.n} products → ${f}\n`);
      const { writeProducts } = require('../datasets/products');
      const fd = fs.openSync(f + '.tmp', 'w');
      writeProducts(fd, { n: o.n, seed: 42, format: 'docs' });
      fs.closeSync(fd);
      fs.renameSync(f + '.tmp', f);
    }
    return f;
  }
  const f = path.join(out, 'debian.docs.ndjson');
  if (!fs.existsSync(f)) {
    process.stderr.write(`building the Debian corpus → ${f}\n`);
    const { debianDocs } = require('../datasets/debian');
    fs.writeFileSync(f, debianDocs().map((d) => JSON.stringify(d)).join('\n') + '\n');
  }
  return f;
}

/** Document lines of the file, at most n. */
function readLines(file, n) {
  const data = fs.readFileSync(file);
  const lines = [];
  let pos = 0;
  while (lines.length < n && pos < data.length) {
    let nl = data.indexOf(10, pos);
    if (nl < 0) nl = data.length;
    if (nl > pos) lines.push(data.subarray(pos, nl));
    pos = nl + 1;
  }
  return lines;
}

/** CPU time of a local process in seconds: the sum over its threads of /proc/PID/task/T/schedstat
 * (nanoseconds; utime + stime in /proc/PID/stat has 10 ms ticks, too coarse per search). */
function cpuSeconds(pid) {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return ns / 1e9;
}

function post(url, agent, p, body, ctype = 'application/json') {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method: 'POST', path: p, agent, headers: { 'Content-Type': ctype, 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`${p} answered ${res.statusCode}: ${text.slice(0, 300)}`));
          else resolve(text);
        });
        res.on('error', reject);
      }
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function load(url, o, lines) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const t0 = process.hrtime.bigint();
  for (let start = 0; start < lines.length; start += o.batch) {
    const parts = [];
    for (let i = start; i < Math.min(lines.length, start + o.batch); i++) parts.push(Buffer.from(`{"index":{"_id":"${i}"}}\n`), lines[i], Buffer.from('\n'));
    const text = await post(url, agent, '/bench/_bulk', Buffer.concat(parts), 'application/x-ndjson');
    if (text.includes('"errors":true')) throw new Error(`bulk item errors: ${text.slice(0, 400)}`);
  }
  agent.destroy();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Document frequency of each analyzed term of the text field. */
async function termDfs(url, o, lines) {
  const df = new Map();
  const add = (tokens) => {
    for (const t of new Set(tokens)) df.set(t, (df.get(t) || 0) + 1);
  };
  const texts = lines.map((l) => {
    const v = JSON.parse(l)[o.ds.text];
    return Array.isArray(v) ? v.join(' ') : v || '';
  });
  if (o.dataset === 'products') {
    for (const t of texts) add(t.toLowerCase().match(/[a-z0-9]+/g) || []);
    return df;
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (const t of texts) { // one text per request: the tokens of an array carry no document
    const r = JSON.parse(await post(url, agent, '/bench/_analyze', JSON.stringify({ field: o.ds.text, text: t })));
    add(r.tokens.map((x) => x.token));
  }
  agent.destroy();
  return df;
}

function pickTerms(df) {
  const v = [...df.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  let rare = 0;
  while (rare + 1 < v.length && v[rare][1] > 100) rare++;
  const med = v.length > 200 ? 200 : v.length >> 1;
  return { common: v[0][0], common2: v[1][0], medium: v[med][0], rare: v[rare][0] };
}

function queries(o, t) {
  const f = o.ds.text;
  const [kf, kv] = o.ds.kw;
  const [nf, lo, hi] = o.ds.num;
  const m = (q) => ({ match: { [f]: q } });
  return [
    ['term, common', { query: m(t.common) }],
    ['term, medium', { query: m(t.medium) }],
    ['term, rare', { query: m(t.rare) }],
    ['AND, common + medium', { query: m({ query: `${t.common} ${t.medium}`, operator: 'and' }) }],
    ['AND, two common', { query: m({ query: `${t.common} ${t.common2}`, operator: 'and' }) }],
    ['OR, common + medium', { query: m(`${t.common} ${t.medium}`) }],
    ['phrase, two common', { query: { match_phrase: { [f]: `${t.common} ${t.common2}` } } }],
    [`term + ${nf} range + ${kf}`, { query: { bool: { must: m(t.medium), filter: [{ range: { [nf]: { gte: lo, lte: hi } } }, { term: { [kf]: kv } }] } } }],
    [`term, sort by ${nf} desc`, { query: m(t.medium), sort: [{ [nf]: 'desc' }] }],
    [`match_all, sort by ${nf} desc`, { query: { match_all: {} }, sort: [{ [nf]: 'desc' }] }],
  ];
}

async function measure(url, pid, body, runs, clients) {
  const agents = Array.from({ length: clients }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const lat = [];
  let left = runs;
  const c0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    agents.map(async (agent) => {
      while (left > 0) {
        left--;
        const s = process.hrtime.bigint();
        await post(url, agent, '/bench/_search', body);
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    })
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(pid) - c0;
  for (const a of agents) a.destroy();
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { p50: pct(0.5), p99: pct(0.99), qps: lat.length / secs, cpuMs: (cpu * 1e3) / lat.length };
}

function segmentFiles(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += segmentFiles(path.join(dir, e.name));
    else if (/^seg-.*\.ksg$/.test(e.name)) n++;
  }
  return n;
}

async function main() {
  const o = parseArgs();
  const file = corpusFile(o);
  const lines = readLines(file, o.n);
  const bytes = lines.reduce((s, l) => s + l.length, 0);
  const srv = await KilnServer.start({ bin: o.bin, args: ['--log-level', 'warn'] });
  const out = [];
  try {
    const ddl = { settings: { number_of_shards: 1, refresh_interval: '-1' }, mappings: mappingOf(o.ds.mapping) };
    const r = await request(srv.url, 'PUT', '/bench', ddl);
    if (r.status !== 200) throw new Error(`PUT /bench: ${r.status} ${r.text}`);
    const cpuL = cpuSeconds(srv.pid);
    const tLoad = await load(srv.url, o, lines);
    const cpuLoad = cpuSeconds(srv.pid) - cpuL;
    let t0 = process.hrtime.bigint();
    await post(srv.url, undefined, '/bench/_refresh', '');
    const tRefresh = Number(process.hrtime.bigint() - t0) / 1e9;
    t0 = process.hrtime.bigint();
    await post(srv.url, undefined, '/bench/_flush', '');
    const tFlush = Number(process.hrtime.bigint() - t0) / 1e9;
    const segs = segmentFiles(srv.dataDir);
    const t = pickTerms(await termDfs(srv.url, o, lines));
    const dfs = {};
    for (const [k, term] of Object.entries(t)) dfs[k] = JSON.parse(await post(srv.url, undefined, '/bench/_count', JSON.stringify({ query: { term: { [o.ds.text]: term } } }))).count;
    out.push(
      `Dataset ${o.dataset}: ${lines.length} docs (${(bytes / 1e6).toFixed(1)} MB JSON) from ${path.basename(file)}; ` +
        `_bulk of ${o.batch} on 1 connection ${tLoad.toFixed(1)} s (${Math.round(lines.length / tLoad)} docs/s, server CPU ${cpuLoad.toFixed(1)} s), ` +
        `_refresh ${tRefresh.toFixed(2)} s, _flush ${tFlush.toFixed(2)} s; segments after the flush: ${segs} (Kiln has no _forcemerge). ` +
        `Terms of ${o.ds.text}: common [${t.common}] df ${dfs.common}, second [${t.common2}] df ${dfs.common2}, medium [${t.medium}] df ${dfs.medium}, rare [${t.rare}] df ${dfs.rare}. ` +
        `${o.runs} searches per row after 20 warm-up searches; CPU = server CPU time (all threads, schedstat) per search.`,
      ''
    );
    out.push('| query (top 10, with _source) | hits | clients | p50 ms | p99 ms | QPS | server CPU ms/search |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const [label, q] of queries(o, t)) {
      const body = JSON.stringify(q);
      const res = JSON.parse(await post(srv.url, undefined, '/bench/_search', body));
      const hits = `${res.hits.total.value}${res.hits.total.relation === 'gte' ? '+' : ''}`;
      await measure(srv.url, srv.pid, body, 20, 1);
      for (const c of o.clients) {
        const m = await measure(srv.url, srv.pid, body, o.runs, c);
        out.push(`| ${label} | ${hits} | ${c} | ${m.p50.toFixed(3)} | ${m.p99.toFixed(3)} | ${m.qps.toFixed(0)} | ${m.cpuMs.toFixed(3)} |`);
        process.stderr.write(out[out.length - 1] + '\n');
      }
    }
  } finally {
    await srv.stop();
  }
  const md = out.join('\n') + '\n';
  process.stdout.write(md);
  if (o.md) fs.writeFileSync(o.md, md);
}

main().catch((e) => {
  process.stderr.write(`http_queries: ${e.stack || e.message}\n`);
  process.exit(1);
});
