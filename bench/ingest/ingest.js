#!/usr/bin/env node
'use strict';
// _bulk ingest throughput with durability on (Kiln acknowledges only after fsync), with 1 and 2
// concurrent keep-alive connections, plus server RSS idle and after the load.
//
//   node bench/ingest/ingest.js [--bin build/kiln] [--dataset products|debian] [--n 1000000]
//        [--batch 2000] [--connections 1,2] [--seed 42] [--shards 1] [--md FILE] [--quick]
//        [--keep DIR]   (data dir DIR is kept after the run, with DIR.du: `du -ab` at measure time)
//   node bench/ingest/ingest.js --url http://127.0.0.1:9200 --pid PID ...   (a running server)
//
// Each connection count gets a fresh server on a fresh temp data dir (with --bin; the default),
// so runs do not see each other's data. Bodies are built in memory before the clock starts
// (`{"index":{"_id":...}}` + document lines, POST /<index>/_bulk), so the client is not the
// bottleneck. --quick = --n 50000. The dataset file is cached in bench/out/.
// Output: a markdown table (stdout, and --md FILE).

const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const { execFileSync } = require('node:child_process');
const { KilnServer, request, readRssKiB, sleep, REPO_ROOT } = require('../../tests/integration/lib/server');

function parseArgs() {
  const o = { dataset: 'products', n: 1000000, batch: 2000, connections: [1, 2], seed: 42, shards: 1, index: 'bench' };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    const v = () => a[++i];
    if (k === '--bin') o.bin = v();
    else if (k === '--url') o.url = v();
    else if (k === '--pid') o.pid = Number(v());
    else if (k === '--dataset') o.dataset = v();
    else if (k === '--n') o.n = Number(v());
    else if (k === '--batch') o.batch = Number(v());
    else if (k === '--connections') o.connections = v().split(',').map(Number);
    else if (k === '--seed') o.seed = Number(v());
    else if (k === '--shards') o.shards = Number(v());
    else if (k === '--md') o.md = v();
    else if (k === '--quick') o.n = 50000;
    else if (k === '--index') o.index = v();
    else if (k === '--keep') o.keep = v();
    else throw new Error(`unknown argument ${k}`);
  }
  return o;
}

/** Dataset as one Buffer of document lines (no action lines), cached under bench/out/. */
function datasetFile(o) {
  const outDir = path.join(REPO_ROOT, 'bench', 'out');
  fs.mkdirSync(outDir, { recursive: true });
  if (o.dataset === 'products') {
    const f = path.join(outDir, `products-${o.n}-${o.seed}.docs.ndjson`);
    if (!fs.existsSync(f)) {
      process.stderr.write(`generating ${o.n} product docs → ${f}\n`);
      const { writeProducts } = require('../datasets/products');
      const tmp = f + '.tmp';
      const fd = fs.openSync(tmp, 'w');
      writeProducts(fd, { n: o.n, seed: o.seed, format: 'docs' });
      fs.closeSync(fd);
      fs.renameSync(tmp, f);
    }
    return f;
  }
  if (o.dataset === 'debian') {
    const f = path.join(outDir, 'debian.docs.ndjson');
    if (!fs.existsSync(f)) {
      process.stderr.write(`building Debian corpus → ${f}\n`);
      const { debianDocs } = require('../datasets/debian');
      fs.writeFileSync(f, debianDocs().map((d) => JSON.stringify(d)).join('\n') + '\n');
    }
    return f;
  }
  throw new Error(`unknown dataset ${o.dataset}`);
}

/** Split document lines into _bulk bodies of `batch` docs with ids 0..n-1. */
function buildBodies(file, n, batch) {
  const data = fs.readFileSync(file);
  const bodies = [];
  let pos = 0;
  let id = 0;
  let docBytes = 0;
  while (id < n && pos < data.length) {
    const parts = [];
    for (let k = 0; k < batch && id < n && pos < data.length; k++) {
      let nl = data.indexOf(10, pos);
      if (nl < 0) nl = data.length;
      parts.push(Buffer.from(`{"index":{"_id":"${id}"}}\n`), data.subarray(pos, nl), Buffer.from('\n'));
      docBytes += nl - pos;
      pos = nl + 1;
      id++;
    }
    bodies.push(Buffer.concat(parts));
  }
  return { bodies, docs: id, docBytes, bodyBytes: bodies.reduce((s, b) => s + b.length, 0) };
}

function post(url, agent, p, body) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method: 'POST', path: p, agent, headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': body.length } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error('connection closed before the response was complete'));
        });
      }
    );
    req.on('error', reject);
    req.setTimeout(300000, () => req.destroy(new Error('bulk request timeout (300 s)')));
    req.end(body);
  });
}

/** utime+stime of a process in seconds, from /proc/PID/stat (null when not local). */
function cpuSeconds(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // clock ticks; USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

function dirBytes(d) {
  try {
    return Number(execFileSync('du', ['-sb', d], { encoding: 'utf8' }).split(/\s/)[0]);
  } catch {
    return null;
  }
}

async function runOnce(o, set, conns) {
  let srv = null;
  let url = o.url;
  let pid = o.pid;
  if (!url) {
    const keep = o.keep ? { dataDir: `${o.keep}${o.connections.length > 1 ? `-${conns}` : ''}` } : {};
    if (keep.dataDir) fs.mkdirSync(keep.dataDir, { recursive: true });
    srv = await KilnServer.start({ bin: o.bin, ...keep });
    url = srv.url;
    pid = srv.pid;
  }
  try {
    await sleep(1000);
    const rssIdle = pid ? readRssKiB(pid) : null;
    let r = await request(url, 'PUT', `/${o.index}`, { settings: { number_of_shards: o.shards } });
    if (r.status !== 200) r = await request(url, 'PUT', `/${o.index}`);
    if (r.status !== 200 && !(r.body && r.body.error && /already_exists/.test(r.body.error.type))) {
      process.stderr.write(`note: PUT /${o.index} answered ${r.status}; relying on auto-creation\n`);
    }
    const lat = [];
    let next = 0;
    let itemErrors = 0;
    let firstError = null;
    const cpu0 = pid ? cpuSeconds(pid) : null;
    const ccpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const worker = async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        while (next < set.bodies.length) {
          const b = set.bodies[next++];
          const s = process.hrtime.bigint();
          const res = await post(url, agent, `/${o.index}/_bulk`, b);
          lat.push(Number(process.hrtime.bigint() - s) / 1e6);
          if (res.status !== 200) throw new Error(`_bulk answered ${res.status}: ${res.text.slice(0, 300)}`);
          if (res.text.includes('"errors":true')) {
            const j = JSON.parse(res.text);
            for (const it of j.items) {
              const x = Object.values(it)[0];
              if (x.error) {
                itemErrors++;
                if (!firstError) firstError = JSON.stringify(x.error).slice(0, 300);
              }
            }
          }
        }
      } finally {
        agent.destroy();
      }
    };
    const ws = [];
    for (let c = 0; c < conns; c++) ws.push(worker());
    await Promise.all(ws);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const serverCpu = cpu0 !== null ? cpuSeconds(pid) - cpu0 : null;
    const cu = process.cpuUsage(ccpu0);
    const clientCpu = (cu.user + cu.system) / 1e6;
    await sleep(1000);
    const rssAfter = pid ? readRssKiB(pid) : null;
    let hwm = null;
    try {
      const m = /^VmHWM:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      hwm = m && Number(m[1]);
    } catch {
      /* not local */
    }
    const disk = srv ? dirBytes(srv.dataDir) : null;
    if (srv && o.keep) fs.writeFileSync(`${srv.dataDir}.du`, execFileSync('du', ['-ab', srv.dataDir], { encoding: 'utf8' }));
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return { conns, secs, docs: set.docs, bodyBytes: set.bodyBytes, docBytes: set.docBytes, rssIdle, rssAfter, hwm, disk, itemErrors, firstError, serverCpu, clientCpu, p50: q(0.5), p99: q(0.99), requests: lat.length };
  } finally {
    if (srv) await srv.stop();
  }
}

const mb = (b) => (b / 1e6).toFixed(1);
const mib = (k) => (k === null || k === undefined ? 'n/a' : `${(k / 1024).toFixed(1)} MiB`);

async function main() {
  const o = parseArgs();
  const file = datasetFile(o);
  const set = buildBodies(file, o.n, o.batch);
  process.stderr.write(`${set.docs} docs (${mb(set.docBytes)} MB of JSON, ${mb(set.bodyBytes)} MB as _bulk bodies) in ${set.bodies.length} requests of ${o.batch}\n`);
  const rows = [];
  for (const c of o.connections) {
    const r = await runOnce(o, set, c);
    process.stderr.write(`  ${c} connection(s): ${(r.docs / r.secs).toFixed(0)} docs/s, ${mb(r.bodyBytes / r.secs)} MB/s, ${r.secs.toFixed(1)} s, item errors ${r.itemErrors}\n`);
    rows.push(r);
  }
  const cpu = (() => {
    try {
      return /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))[1].trim();
    } catch {
      return 'unknown CPU';
    }
  })();
  const lines = [];
  lines.push(`Dataset: ${o.dataset}, ${set.docs} docs, ${mb(set.docBytes)} MB of document JSON (${mb(set.bodyBytes)} MB of _bulk bodies), ${o.batch} docs per request, ${o.shards} shard(s). Machine: ${require('node:os').cpus().length} cores, ${cpu}.`);
  lines.push('');
  lines.push('| connections | seconds | docs/s | MB/s (bulk body) | bulk p50 / p99 ms | item errors | server CPU s | client CPU s | RSS idle | RSS after load | peak RSS | data dir |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    lines.push(
      `| ${r.conns} | ${r.secs.toFixed(1)} | ${Math.round(r.docs / r.secs).toLocaleString('en-US')} | ${mb(r.bodyBytes / r.secs)} | ${r.p50.toFixed(1)} / ${r.p99.toFixed(1)} | ${r.itemErrors} | ${r.serverCpu === null ? 'n/a' : r.serverCpu.toFixed(1)} | ${r.clientCpu.toFixed(1)} | ${mib(r.rssIdle)} | ${mib(r.rssAfter)} | ${mib(r.hwm)} | ${r.disk === null ? 'n/a' : mb(r.disk) + ' MB'} |`
    );
  }
  if (rows.some((r) => r.firstError)) lines.push('', `First item error: ${rows.find((r) => r.firstError).firstError}`);
  const md = lines.join('\n') + '\n';
  process.stdout.write(md);
  if (o.md) fs.writeFileSync(o.md, md);
  return rows.some((r) => r.itemErrors) ? 1 : 0;
}

main().then(
  (c) => process.exit(c),
  (e) => {
    process.stderr.write(`ingest bench error: ${e.stack || e.message}\n`);
    process.exit(1);
  }
);
