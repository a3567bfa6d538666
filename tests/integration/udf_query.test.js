'use strict';
// UDFs inside searches (issue 5), through the OpenSearch JS client: the original design's
// workflow verbatim (string_distance registered from its udf.json manifest, a bool query with a
// term clause and a wasm_udf filter, then _stats), scoring with script_score, the planner running
// UDFs last, error policies. The example modules are built by CMake into <build>/udfs/.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { useServer } = require('./lib/fixture');

const k = useServer();
const UDFS = path.join(path.dirname(path.resolve(process.env.KILN_BIN || 'build/kiln')), 'udfs');

/** Registers a UDF from its manifest: the metadata of udf.json plus the module it names. */
async function registerManifest(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'udf.json'), 'utf8'));
  const wasm = fs.readFileSync(path.join(dir, manifest.wasm));
  const { name, version, ...meta } = manifest;
  meta.wasm = wasm.toString('base64');
  const r = await k.raw('PUT', `/_udf/${name}/${version}`, JSON.stringify(meta), { 'Content-Type': 'application/json' });
  assert.equal(r.status, 201, r.text);
  return manifest;
}

function wat(name, src) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-udfq-'));
  fs.writeFileSync(path.join(tmp, `${name}.wat`), src);
  execFileSync('wat2wasm', [path.join(tmp, `${name}.wat`), '-o', path.join(tmp, `${name}.wasm`)]);
  return fs.readFileSync(path.join(tmp, `${name}.wasm`));
}

const PRODUCTS = [
  { id: '1', product_name: 'iPhone 15', category: 'electronics', price: 999, rating: 4.7, stock: 120 },
  { id: '2', product_name: 'iPhone 14', category: 'electronics', price: 799, rating: 4.5, stock: 300 },
  { id: '3', product_name: 'iPhone 15 Pro Max', category: 'electronics', price: 1299, rating: 4.8, stock: 40 },
  { id: '4', product_name: 'Galaxy S24', category: 'electronics', price: 899, rating: 4.4, stock: 200 },
  { id: '5', product_name: 'iPhone 15', category: 'refurbished', price: 699, rating: 4.1, stock: 15 },
  { id: '6', product_name: 'Pixel 8', category: 'electronics', price: 699, rating: 4.3, stock: 0 },
  { id: '7', product_name: 'iPhone 13', category: 'electronics', price: 599, rating: 4.2, stock: 80 },
];

test('the original workflow: register string_distance, index products, bool + wasm_udf, _stats', async () => {
  await registerManifest(path.join(UDFS, 'string_distance'));
  await k.client.indices.create({
    index: 'products',
    body: { mappings: { properties: { product_name: { type: 'text' }, category: { type: 'keyword' }, price: { type: 'double' } } } },
  });
  const body = PRODUCTS.flatMap(({ id, ...doc }) => [{ index: { _index: 'products', _id: id } }, doc]);
  const b = await k.client.bulk({ body, refresh: true });
  assert.equal(b.body.errors, false);

  const r = await k.client.search({
    index: 'products',
    body: {
      query: {
        bool: {
          must: [{ term: { category: 'electronics' } }],
          filter: [{ wasm_udf: { name: 'string_distance', version: '1.0.0',
            params: { field: 'product_name', target: 'iPhone 15', max_distance: 3 } } }],
        },
      },
    },
  });
  // distances to "iPhone 15": iPhone 15 → 0, iPhone 14 → 1, iPhone 13 → 1, iPhone 15 Pro Max → 8,
  // Galaxy S24 and Pixel 8 → far; doc 5 is refurbished (not a term match)
  const ids = r.body.hits.hits.map((h) => h._id).sort();
  assert.deepEqual(ids, ['1', '2', '7']);
  assert.equal(r.body.hits.total.value, 3);

  // The planner runs the UDF last: it was called once per term match, never on doc 5.
  const s = (await k.raw('GET', '/_udf/string_distance/1.0.0/_stats')).body;
  assert.equal(s.calls, PRODUCTS.filter((p) => p.category === 'electronics').length);
  assert.equal(s.errors, 0);

  // Without a version the latest is used; default max_distance (3) applies.
  const r2 = await k.client.search({ index: 'products', body: { query: { wasm_udf: { name: 'string_distance',
    params: { field: 'product_name', target: 'iphone 15' } } } } });
  assert.deepEqual(r2.body.hits.hits.map((h) => h._id).sort(), ['1', '2', '5', '7']); // case counts: 'i'≠'I'
});

test('UDF clauses work in every bool clause and at depth', async () => {
  const sd = (target, max) => ({ wasm_udf: { name: 'string_distance', params: { field: 'product_name', target, max_distance: max } } });
  const q = async (query) => (await k.client.search({ index: 'products', body: { query, size: 20 } })).body.hits.hits.map((h) => h._id).sort();
  assert.deepEqual(await q({ bool: { must_not: [sd('iPhone 15', 1)] } }), ['3', '4', '6']);
  assert.deepEqual(await q({ bool: { should: [sd('Pixel 8', 0), sd('Galaxy S24', 0)] } }), ['4', '6']);
  assert.deepEqual(await q({ bool: { filter: [{ bool: { must: [sd('iPhone 15', 0)], filter: [{ range: { price: { gte: 900 } } }] } }] } }), ['1']);
  assert.deepEqual(await q({ constant_score: { filter: sd('iPhone 14', 0) } }), ['2']);
  // the script query form, as ES users know it
  assert.deepEqual(await q({ script: { script: { lang: 'wasm', id: 'string_distance@1.0.0', params: { field: 'product_name', target: 'Pixel 8', max_distance: 0 } } } }), ['6']);
  assert.equal((await k.client.count({ index: 'products', body: { query: sd('iPhone 15', 1) } })).body.count, 4);
});

test('script_score and function_score with a scoring UDF', async () => {
  await registerManifest(path.join(UDFS, 'popularity_boost'));
  const r = await k.client.search({ index: 'products', body: { query: { script_score: {
    query: { match: { product_name: 'iphone' } },
    script: { lang: 'wasm', id: 'popularity_boost', params: { weight: 1.0 } } } } } });
  const hits = r.body.hits.hits;
  assert.equal(hits.length, 5);
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]._score >= hits[i]._score);
  assert.ok(hits.every((h) => h._score > 0));
  const f = await k.client.search({ index: 'products', body: { query: { function_score: {
    query: { term: { category: 'electronics' } },
    functions: [{ script_score: { script: { lang: 'wasm', id: 'popularity_boost' } } }], boost_mode: 'replace' } } } });
  assert.equal(f.body.hits.total.value, 6);
});

test('bad UDF references are 400s that say which', async () => {
  const bad = async (query, re) => {
    const r = await k.raw('POST', '/products/_search', JSON.stringify({ query }), { 'Content-Type': 'application/json' });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.error.reason, re);
  };
  await bad({ wasm_udf: { name: 'no_such_udf' } }, /UDF \[no_such_udf\] is not registered/);
  await bad({ wasm_udf: { name: 'string_distance', version: '9.9.9' } }, /string_distance@9\.9\.9/);
  await bad({ wasm_udf: { name: 'string_distance', params: { field: 'product_name' } } }, /requires parameter \[target\]/);
  await bad({ wasm_udf: { name: 'string_distance', params: { field: 'x', target: 'y', max_distance: 'far' } } }, /\[max_distance\].*\[i32\]/);
  await bad({ wasm_udf: { params: {} } }, /requires \[name\]/);
  await bad({ script: { script: { source: 'doc.x.value > 1' } } }, /lang.*wasm/);
});

test('a trapping UDF fails the search with a structured error, or excludes the doc on request', async () => {
  const bytes = wat('trap_on_pixel', `(module
    (import "kiln" "get_field_string" (func $gs (param i32 i32 i32 i32) (result i32)))
    (import "kiln" "log" (func $log (param i32 i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "product_name")
    (data (i32.const 32) "about to look")
    (func (export "kiln_abi_version") (result i32) (i32.const 1))
    (func (export "f") (result i32)
      (call $log (i32.const 1) (i32.const 32) (i32.const 13))
      (drop (call $gs (i32.const 0) (i32.const 12) (i32.const 100) (i32.const 50)))
      ;; "Pixel 8" starts with 'P': trap there
      (if (i32.eq (i32.load8_u (i32.const 100)) (i32.const 80)) (then unreachable))
      (i32.const 1)))`);
  const put = await k.raw('PUT', '/_udf/trap_on_pixel/1.0.0?function_name=f', bytes, { 'Content-Type': 'application/wasm' });
  assert.equal(put.status, 201, put.text);
  const r = await k.raw('POST', '/products/_search', JSON.stringify({ query: { wasm_udf: { name: 'trap_on_pixel' } } }), { 'Content-Type': 'application/json' });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.error.reason, /UDF \[trap_on_pixel@1\.0\.0\] failed on document \[6\]: unreachable/);
  assert.match(r.body.error.reason, /about to look/); // the UDF's last log lines
  const ex = await k.client.search({ index: 'products', body: { size: 20, query: { wasm_udf: { name: 'trap_on_pixel', on_error: 'exclude' } } } });
  assert.deepEqual(ex.body.hits.hits.map((h) => h._id).sort(), ['1', '2', '3', '4', '5', '7']);
  const s = (await k.raw('GET', '/_udf/trap_on_pixel/1.0.0/_stats')).body;
  assert.equal(s.errors, 2);
  assert.equal(s.last_error.doc_id, '6');
});

test('deleted and updated documents are seen as they are now', async () => {
  await k.client.delete({ index: 'products', id: '2', refresh: true });
  await k.client.update({ index: 'products', id: '7', body: { doc: { product_name: 'iPhone 15' } }, refresh: true });
  const r = await k.client.search({ index: 'products', body: { query: { wasm_udf: { name: 'string_distance',
    params: { field: 'product_name', target: 'iPhone 15', max_distance: 0 } } } } });
  assert.deepEqual(r.body.hits.hits.map((h) => h._id).sort(), ['1', '5', '7']);
});

test('"udf_log": true returns the UDF log lines with the response', async () => {
  const r = await k.raw('POST', '/products/_search', JSON.stringify({ udf_log: true,
    query: { bool: { filter: [{ term: { category: 'electronics' } }, { wasm_udf: { name: 'trap_on_pixel', on_error: 'exclude' } }] } } }),
  { 'Content-Type': 'application/json' });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.body.udf_logs.length >= 1);
  assert.deepEqual(Object.keys(r.body.udf_logs[0]).sort(), ['doc_id', 'level', 'message', 'udf', 'version']);
  assert.equal(r.body.udf_logs[0].message, 'about to look');
  assert.equal(r.body.udf_logs[0].udf, 'trap_on_pixel');
  const plain = await k.raw('POST', '/products/_search', JSON.stringify({ query: { match_all: {} } }), { 'Content-Type': 'application/json' });
  assert.equal(plain.body.udf_logs, undefined);
});

test('the search timeout bounds UDF time: timed_out with partial results', async () => {
  // ~1-3 ms per call: 2,000,000 loop iterations
  const bytes = wat('slow', `(module
    (func (export "kiln_abi_version") (result i32) (i32.const 1))
    (func (export "f") (result i32) (local $i i32)
      (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 2000000))))
      (i32.const 1)))`);
  // a generous per-call limit: this test is about the search's timeout, not the UDF's own
  const limits = encodeURIComponent(JSON.stringify({ timeout_ms: 10000 }));
  assert.equal((await k.raw('PUT', `/_udf/slow/1.0.0?function_name=f&limits=${limits}`, bytes, { 'Content-Type': 'application/wasm' })).status, 201);
  const body = [];
  for (let i = 0; i < 400; i++) body.push({ index: { _index: 'slowdocs', _id: String(i) } }, { n: i });
  await k.client.bulk({ body, refresh: true });
  const t0 = Date.now();
  const r = await k.raw('POST', '/slowdocs/_search', JSON.stringify({ timeout: '50ms', track_total_hits: true, query: { wasm_udf: { name: 'slow' } } }), { 'Content-Type': 'application/json' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.timed_out, true);
  assert.ok(r.body.hits.total.value < 400, `partial: ${r.body.hits.total.value}`);
  assert.ok(Date.now() - t0 < 5000);
});

test('a scan over many documents evaluates in batches: every document once, traps excluded', async () => {
  // traps when n % 100 == 7; matches odd n otherwise
  const bytes = wat('odd_trap7', `(module
    (import "kiln" "get_field_int64" (func $gi (param i32 i32) (result i64)))
    (memory (export "memory") 1)
    (data (i32.const 0) "n")
    (func (export "kiln_abi_version") (result i32) (i32.const 1))
    (func (export "f") (result i32) (local $n i64)
      (local.set $n (call $gi (i32.const 0) (i32.const 1)))
      (if (i64.eq (i64.rem_u (local.get $n) (i64.const 100)) (i64.const 7)) (then unreachable))
      (i32.wrap_i64 (i64.and (local.get $n) (i64.const 1)))))`);
  assert.equal((await k.raw('PUT', '/_udf/odd_trap7/1.0.0?function_name=f', bytes, { 'Content-Type': 'application/wasm' })).status, 201);
  const body = [];
  for (let i = 0; i < 1000; i++) body.push({ index: { _index: 'many', _id: String(i) } }, { n: i });
  await k.client.bulk({ body, refresh: true });
  await k.client.delete({ index: 'many', id: '1', refresh: true }); // a deleted doc is never called
  const r = await k.client.search({ index: 'many', body: { size: 1000, track_total_hits: true, query: { wasm_udf: { name: 'odd_trap7', on_error: 'exclude' } } } });
  const want = [];
  for (let i = 0; i < 1000; i++) if (i % 2 === 1 && i % 100 !== 7 && i !== 1) want.push(String(i));
  assert.equal(r.body.hits.total.value, want.length);
  assert.deepEqual(r.body.hits.hits.map((h) => h._id).sort(), want.sort());
  const s = (await k.raw('GET', '/_udf/odd_trap7/1.0.0/_stats')).body;
  assert.equal(s.calls, 999); // each live document once
  assert.equal(s.errors, 10);
});

test('a bound text field reads each document\'s own value, compressed originals included', async () => {
  // bound "body" (buffer at 100, 8 bytes; length at 200): matches when its first 6 bytes, a
  // zero-padded number, equal the document's n
  const bytes = wat('own_body', `(module
    (import "kiln" "field_handle" (func $fh (param i32 i32) (result i32)))
    (import "kiln" "bind_field_string" (func $bind (param i32 i32 i32 i32) (result i32)))
    (import "kiln" "get_field_int64" (func $gi (param i32 i32) (result i64)))
    (memory (export "memory") 1)
    (data (i32.const 0) "body")
    (data (i32.const 16) "n")
    (global $bound (mut i32) (i32.const 0))
    (func (export "kiln_abi_version") (result i32) (i32.const 1))
    (func (export "f") (result i32) (local $i i32) (local $acc i64)
      (if (i32.eqz (global.get $bound)) (then (global.set $bound (i32.const 1))
        (drop (call $bind (call $fh (i32.const 0) (i32.const 4)) (i32.const 100) (i32.const 8) (i32.const 200)))))
      (if (i32.lt_s (i32.load (i32.const 200)) (i32.const 6)) (then (return (i32.const 0))))
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (i32.const 6)))
        (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 10))
          (i64.extend_i32_u (i32.sub (i32.load8_u (i32.add (i32.const 100) (local.get $i))) (i32.const 48)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
      (i64.eq (local.get $acc) (call $gi (i32.const 16) (i32.const 1)))))`);
  assert.equal((await k.raw('PUT', '/_udf/own_body/1.0.0?function_name=f', bytes, { 'Content-Type': 'application/wasm' })).status, 201);
  // 600 bodies of ~400 bytes: over the size from which text originals are kept in zstd blocks
  // (decoded per block into a per-thread cache while a batch is staged ahead of its calls)
  const filler = (i) => Array.from({ length: 60 }, (_, j) => `w${(i * 7919 + j * 104729) % 100000}`).join(' ');
  const body = [];
  for (let i = 0; i < 600; i++)
    body.push({ index: { _index: 'bodies', _id: String(i) } }, { n: i, body: `${String(i).padStart(6, '0')} ${filler(i)}` });
  await k.client.bulk({ body, refresh: true });
  await k.client.indices.flush({ index: 'bodies' });
  const r = await k.client.search({ index: 'bodies', body: { size: 0, track_total_hits: true, query: { wasm_udf: { name: 'own_body' } } } });
  assert.equal(r.body.hits.total.value, 600);
});

test('text fields without a column of originals are read from _source; store: true keeps one', async () => {
  await k.client.indices.create({
    index: 'texts',
    body: { mappings: { properties: {
      title: { type: 'text' }, // no keyword twin: read from _source
      code: { type: 'keyword', fields: { text: { type: 'text' } } }, // a text multi-field: its source is "code"
      notes: { type: 'text', store: true }, // a column of originals
      items: { properties: { label: { type: 'text' } } },
    } } },
  });
  const docs = [
    { title: 'alpha', code: 'X1', notes: 'n1', items: [{ label: 'a' }, { label: 'b' }] },
    { title: 42, code: 'Y2', notes: ['n2', 'n3'], items: [{ label: 'c' }] },
    { title: ['beta', null, 'gamma'], code: 'Z3' },
  ];
  const body = docs.flatMap((d, i) => [{ index: { _index: 'texts', _id: String(i + 1) } }, d]);
  assert.equal((await k.client.bulk({ body, refresh: true })).body.errors, false);
  const hits = async (field, target) => (await k.client.search({ index: 'texts', body: { query: {
    wasm_udf: { name: 'string_distance', params: { field, target, max_distance: 0 } } } } }))
    .body.hits.hits.map((h) => h._id).sort();
  const check = async () => {
    assert.deepEqual(await hits('title', 'alpha'), ['1']);
    assert.deepEqual(await hits('title', '42'), ['2']); // a number in a text field, as text
    assert.deepEqual(await hits('title[1]', 'gamma'), ['3']); // null is not a value
    assert.deepEqual(await hits('code.text', 'Y2'), ['2']);
    assert.deepEqual(await hits('items[1].label', 'b'), ['1']);
    assert.deepEqual(await hits('items.label', 'c'), ['2']);
    assert.deepEqual(await hits('notes[1]', 'n3'), ['2']);
    assert.deepEqual(await hits('notes', 'n1'), ['1']);
    // exists still sees every text field's values
    const ex = await k.client.search({ index: 'texts', body: { query: { exists: { field: 'items.label' } } } });
    assert.deepEqual(ex.body.hits.hits.map((h) => h._id).sort(), ['1', '2']);
  };
  await check(); // refreshed segments in memory
  await k.client.indices.flush({ index: 'texts' });
  await check(); // segment files
  // store cannot be turned on (or off) under existing segments
  const r = await k.raw('PUT', '/texts/_mapping', JSON.stringify({ properties: { title: { type: 'text', store: true } } }),
    { 'Content-Type': 'application/json' });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.error.reason, /Cannot update parameter \[store\] from \[false\] to \[true\]/);
  const bad = await k.raw('PUT', '/texts2', JSON.stringify({ mappings: { properties: { t: { type: 'text', store: 'yes' } } } }),
    { 'Content-Type': 'application/json' });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.body.error.type, 'mapper_parsing_exception');
});
