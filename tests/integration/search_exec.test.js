'use strict';
// Search execution (issue 4): shards searched in parallel on the worker pool give the same
// answers as one shard, UDF searches included (each worker runs its own UDF sessions); the
// background refresh honours index.refresh_interval; size=0 and search_after on a formatted
// date behave as in Elasticsearch.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { useServer } = require('./lib/fixture');

const k = useServer();
const UDFS = path.join(path.dirname(path.resolve(process.env.KILN_BIN || 'build/kiln')), 'udfs');
const json = { 'Content-Type': 'application/json' };

async function registerManifest(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'udf.json'), 'utf8'));
  const wasm = fs.readFileSync(path.join(dir, manifest.wasm));
  const { name, version, ...meta } = manifest;
  meta.wasm = wasm.toString('base64');
  const r = await k.raw('PUT', `/_udf/${name}/${version}`, JSON.stringify(meta), json);
  assert.equal(r.status, 201, r.text);
}

const WORDS = ['iPhone 15', 'iPhone 14', 'Galaxy S24', 'Pixel 8', 'iPhone 13', 'Moto G', 'iPhone 15 Pro'];

async function fill(index, shards) {
  await k.client.indices.create({ index, body: {
    settings: { number_of_shards: shards },
    mappings: { properties: { name: { type: 'text' }, tag: { type: 'keyword' }, n: { type: 'long' } } } } });
  const body = [];
  for (let i = 0; i < 300; i++) {
    body.push({ index: { _index: index, _id: String(i) } },
      { name: `${WORDS[i % WORDS.length]} edition ${i % 11}`, tag: `t${i % 5}`, n: i });
  }
  const b = await k.client.bulk({ body, refresh: true });
  assert.equal(b.body.errors, false);
}

const hitsOf = (r) => r.body.hits.hits.map((h) => [h._id, h._score, h.sort]);

test('five shards in parallel answer as one shard: hits, scores, totals, sorts, UDFs', async () => {
  await registerManifest(path.join(UDFS, 'string_distance'));
  await fill('one', 1);
  await fill('five', 5);
  // every match fits in the page, so ties (broken by shard, then doc) cannot change the set
  const queries = [
    { query: { match: { name: 'iphone edition' } }, size: 300 },
    { query: { match_phrase: { name: 'iphone 15' } }, size: 300, track_total_hits: true },
    { query: { bool: { filter: [{ term: { tag: 't3' } }], must: [{ match: { name: '15' } }] } }, size: 300 },
    { query: { match_all: {} }, sort: [{ n: 'desc' }], size: 15 },
    { query: { match_all: {} }, sort: [{ tag: 'asc' }, { n: 'asc' }], size: 10, search_after: ['t2', 40] },
    { query: { bool: { must: [{ match: { name: 'iphone' } }],
      filter: [{ wasm_udf: { name: 'string_distance', params: { field: 'name', target: 'iPhone 15 edition 3', max_distance: 2 } } }] } }, size: 300 },
    { size: 0, query: { match: { name: 'pixel' } } },
    // fuzzy candidates and their blended statistics are gathered over every shard
    { query: { match: { name: { query: 'iphnoe edtion', fuzziness: 'AUTO' } } }, size: 300 },
    { query: { fuzzy: { name: { value: 'galxy', fuzziness: 2 } } }, size: 300 },
  ];
  for (const q of queries) {
    const a = await k.raw('POST', '/one/_search', JSON.stringify(q), json);
    const b = await k.raw('POST', '/five/_search', JSON.stringify(q), json);
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    assert.equal(b.body._shards.total, 5);
    assert.deepEqual(b.body.hits.total, a.body.hits.total, JSON.stringify(q));
    assert.deepEqual(b.body.hits.max_score, a.body.hits.max_score);
    const key = (h) => JSON.stringify(h);
    if (q.sort) assert.deepEqual(hitsOf(b), hitsOf(a), JSON.stringify(q)); // unique sort keys
    else assert.deepEqual(hitsOf(b).map(key).sort(), hitsOf(a).map(key).sort(), JSON.stringify(q));
    assert.deepEqual(hitsOf(b).map((h) => h[1]), hitsOf(a).map((h) => h[1]));
    if (q.query.fuzzy || (q.query.match && q.query.match.name.fuzziness))
      assert.ok(a.body.hits.total.value > 0, `fuzzy matched nothing: ${JSON.stringify(q)}`);
  }
  // the UDF query found something, and one index pattern over both indices sums them
  const u = await k.raw('POST', '/one,five/_search', JSON.stringify(queries[5]), json);
  assert.equal(u.body._shards.total, 6);
  assert.ok(u.body.hits.total.value > 0);
  const one = await k.raw('POST', '/one/_search', JSON.stringify(queries[5]), json);
  assert.equal(u.body.hits.total.value, 2 * one.body.hits.total.value);
});

test('a UDF trap on a worker fails the search with the UDF and a document named', async () => {
  const tmp = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'kiln-exec-'));
  fs.writeFileSync(path.join(tmp, 'trap.wat'), `(module
    (func (export "kiln_abi_version") (result i32) (i32.const 1))
    (func (export "f") (result i32) unreachable))`);
  require('node:child_process').execFileSync('wat2wasm', [path.join(tmp, 'trap.wat'), '-o', path.join(tmp, 'trap.wasm')]);
  const put = await k.raw('PUT', '/_udf/trap/1.0.0?function_name=f', fs.readFileSync(path.join(tmp, 'trap.wasm')),
    { 'Content-Type': 'application/wasm' });
  assert.equal(put.status, 201, put.text);
  const r = await k.raw('POST', '/five/_search', JSON.stringify({ query: { wasm_udf: { name: 'trap' } } }), json);
  assert.ok(r.status >= 400, r.text);
  assert.match(r.body.error.reason, /trap@1\.0\.0.*document \[\d+\]/);
  // excluded on request: no hit, no error, on every shard
  const x = await k.raw('POST', '/five/_search', JSON.stringify({ query: { wasm_udf: { name: 'trap', on_error: 'exclude' } } }), json);
  assert.equal(x.status, 200, x.text);
  assert.equal(x.body.hits.total.value, 0);
});

test('size=0 answers max_score null', async () => {
  const r = await k.raw('POST', '/five/_search', JSON.stringify({ size: 0, query: { match: { name: 'iphone' } } }), json);
  assert.equal(r.status, 200);
  assert.equal(r.body.hits.max_score, null);
  assert.deepEqual(r.body.hits.hits, []);
  assert.ok(r.body.hits.total.value > 0);
});

test('search_after takes a date in the field\'s format', async () => {
  await k.client.indices.create({ index: 'dates', body: { mappings: { properties: {
    at: { type: 'date', format: 'yyyy-MM-dd HH:mm:ss.SSS' } } } } });
  const body = [];
  for (let i = 0; i < 5; i++) body.push({ index: { _index: 'dates', _id: String(i) } }, { at: `2024-01-0${i + 1} 10:00:00.000` });
  await k.client.bulk({ body, refresh: true });
  const r = await k.raw('POST', '/dates/_search', JSON.stringify({ sort: [{ at: { order: 'asc', format: 'yyyy-MM-dd HH:mm:ss.SSS' } }],
    search_after: ['2024-01-02 10:00:00.000'] }), json);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.hits.hits.map((h) => h._id), ['2', '3', '4']);
});

async function visibleAfterWrite(index) {
  const w = await k.raw('PUT', `/${index}/_doc/x`, JSON.stringify({ v: 1 }), json);
  assert.equal(w.status, 201, w.text);
  return async () => (await k.raw('POST', `/${index}/_search`, '{}', json)).body.hits.total.value;
}

test('index.refresh_interval: a background refresh makes writes searchable; -1 disables it', async () => {
  await k.client.indices.create({ index: 'bg', body: { settings: { refresh_interval: '200ms', number_of_shards: 2 } } });
  await k.client.indices.create({ index: 'off', body: { settings: { index: { refresh_interval: -1 } } } });
  const bg = await visibleAfterWrite('bg');
  const off = await visibleAfterWrite('off');
  // no search-driven refresh needed: poll the count without ever asking for a refresh
  let n = 0;
  for (let i = 0; i < 200 && n === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = await bg();
  }
  assert.equal(n, 1);
  // refresh disabled: still invisible (well past the default interval), until asked for
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await off(), 0);
  await k.raw('POST', '/off/_refresh');
  assert.equal(await off(), 1);
  const g = await k.raw('GET', '/off/_settings');
  assert.equal(String(g.body.off.settings.index.refresh_interval), '-1');
});

test('a malformed refresh_interval is refused at creation', async () => {
  const r = await k.raw('PUT', '/badri', JSON.stringify({ settings: { refresh_interval: 'often' } }), json);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.error.type, 'illegal_argument_exception');
  assert.equal((await k.raw('HEAD', '/badri')).status, 404);
});

test('sort by _doc: search_after pages visit every match once, in order, over several segments with deletes; totals as ES', async () => {
  await k.client.indices.create({ index: 'pages', body: { settings: { refresh_interval: '-1' } } });
  for (let seg = 0; seg < 3; seg++) { // three refreshes: three segments
    const body = [];
    for (let i = 0; i < 40; i++) body.push({ index: { _index: 'pages', _id: `${seg}-${i}` } }, { n: seg * 40 + i, even: i % 2 === 0 });
    await k.client.bulk({ body, refresh: true });
  }
  await k.client.delete({ index: 'pages', id: '1-4', refresh: true });
  const q = { range: { n: { gte: 3 } } }; // consecutive docs: 116 matches after the delete
  const all = (await k.client.search({ index: 'pages', body: { query: q, sort: ['_doc'], size: 1000 } })).body.hits.hits.map((h) => h._id);
  assert.equal(all.length, 116);
  for (const track of [false, true, 5]) {
    const seen = [];
    let after;
    for (;;) {
      const body = { query: q, sort: ['_doc'], size: 7, track_total_hits: track };
      if (after) body.search_after = after;
      const r = (await k.client.search({ index: 'pages', body })).body;
      if (track === true) assert.deepEqual(r.hits.total, { value: 116, relation: 'eq' });
      if (track === 5) assert.deepEqual(r.hits.total, { value: 5, relation: 'gte' });
      if (track === false) assert.equal(r.hits.total, undefined);
      if (!r.hits.hits.length) break;
      seen.push(...r.hits.hits.map((h) => h._id));
      after = r.hits.hits[r.hits.hits.length - 1].sort;
    }
    assert.deepEqual(seen, all, `track_total_hits ${track}`);
  }
  // the default (exact up to 10,000) stays exact while the heap fills first
  const r = (await k.client.search({ index: 'pages', body: { query: q, sort: ['_doc'], size: 3 } })).body;
  assert.deepEqual(r.hits.total, { value: 116, relation: 'eq' });
  assert.deepEqual(r.hits.hits.map((h) => h._id), all.slice(0, 3));
});

test('half_float and scaled_float: values stored (and compared, sorted) at their precision, _source as sent', async () => {
  const r0 = await k.raw('PUT', '/rounded', JSON.stringify({ mappings: { properties: {
    price: { type: 'scaled_float', scaling_factor: 100 }, h: { type: 'half_float' } } } }), json);
  assert.equal(r0.status, 200, r0.text);
  const body = [
    { index: { _index: 'rounded', _id: 'a' } }, { price: 9.999, h: 0.1 },
    { index: { _index: 'rounded', _id: 'b' } }, { price: 10.004, h: 2049 },
    { index: { _index: 'rounded', _id: 'c' } }, { price: 12.5, h: 65000 },
  ];
  assert.equal((await k.client.bulk({ body, refresh: true })).body.errors, false);
  const search = async (b) => (await k.raw('POST', '/rounded/_search', JSON.stringify(b), json)).body.hits;
  // 9.999 and 10.004 are both stored as 10.00: a term on 10 finds both, a range above 10 neither
  assert.deepEqual((await search({ query: { term: { price: 10 } }, sort: ['_doc'] })).hits.map((h) => h._id), ['a', 'b']);
  assert.equal((await search({ query: { range: { price: { gt: 10 } } } })).total.value, 1);
  const sorted = await search({ sort: [{ price: 'asc' }, { h: 'asc' }] });
  assert.deepEqual(sorted.hits.map((h) => h.sort), [[10, 0.0999755859375], [10, 2048], [12.5, 64992]]);
  assert.deepEqual(sorted.hits[0]._source, { price: 9.999, h: 0.1 }); // _source byte for byte
  // half precision: 2049 is stored as 2048 (ties to even), 0.1 as 0.0999755859375
  assert.equal((await search({ query: { term: { h: 2048 } } })).total.value, 1);
  assert.equal((await search({ query: { term: { h: 0.1 } } })).total.value, 1);
  // past half precision's range (65,504) is rejected, as ES does, not stored as infinity
  const over = await k.raw('PUT', '/rounded/_doc/d', JSON.stringify({ h: 70000 }), json);
  assert.equal(over.status, 400, over.text);
  assert.match(over.body.error.reason, /\[half_float\] supports only finite values/);
  // GET _mapping shows the types as given; a scaled_float needs its factor
  const m = await k.raw('GET', '/rounded/_mapping');
  assert.equal(m.body.rounded.mappings.properties.price.type, 'scaled_float');
  const bad = await k.raw('PUT', '/rounded_bad', JSON.stringify({ mappings: { properties: { p: { type: 'scaled_float' } } } }), json);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.type, 'mapper_parsing_exception');
  assert.match(bad.body.error.reason, /scaling_factor/);
});
