#!/usr/bin/env node
'use strict';
// _delete_by_query throughput over HTTP: a fresh server, N small documents (refresh_interval -1,
// one _refresh), then half of them deleted by a term query and the rest by match_all, each
// with ?refresh=true and the default scroll_size (1,000 per batch). Prints docs/s and batches.
//
//   node bench/search/delete_by_query.js [--bin build/kiln] [--n 400000]

const { KilnServer, request } = require('../../tests/integration/lib/server');

function args(argv) {
  const o = { bin: 'build/kiln', n: 400000 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--bin') o.bin = argv[++i];
    else if (argv[i] === '--n') o.n = +argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return o;
}

async function main() {
  const o = args(process.argv.slice(2));
  const srv = await KilnServer.start({ bin: o.bin, args: ['--log-level', 'warn'] });
  const call = async (method, path, body, headers) => {
    const r = await request(srv.url, method, path, body, headers);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.body;
  };
  try {
    await call('PUT', '/dbq', { settings: { refresh_interval: '-1' } });
    for (let s = 0; s < o.n; s += 5000) {
      const lines = [];
      for (let i = s; i < Math.min(o.n, s + 5000); i++)
        lines.push(`{"index":{"_id":"${i}"}}`, `{"n":${i},"p":"${i % 2 ? 'odd' : 'even'}"}`);
      await call('POST', '/dbq/_bulk', lines.join('\n') + '\n', { 'Content-Type': 'application/x-ndjson' });
    }
    await call('POST', '/dbq/_refresh');
    console.log(`| query | deleted | ms | docs/s | batches |\n|---|---:|---:|---:|---:|`);
    for (const q of [{ term: { p: 'odd' } }, { match_all: {} }]) {
      const t = process.hrtime.bigint();
      const r = await call('POST', '/dbq/_delete_by_query?refresh=true', { query: q });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      console.log(`| ${JSON.stringify(q)} | ${r.deleted} | ${ms.toFixed(0)} | ${Math.round((r.deleted / ms) * 1000)} | ${r.batches} |`);
    }
  } finally {
    await srv.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`delete_by_query: ${e.stack || e.message}\n`);
  process.exit(1);
});
