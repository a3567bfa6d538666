'use strict';
// The UDF registry over REST (issue 5): registration (raw and base64), validation, versions,
// discovery, dry runs, statistics, traps and limits, persistence, API key. The modules are
// small WAT sources compiled here with wat2wasm (wabt, a build dependency).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { useServer } = require('./lib/fixture');
const { KilnServer, request } = require('./lib/server');

const k = useServer();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-udf-'));

function wasm(name, wat) {
  const src = path.join(tmp, `${name}.wat`);
  const out = path.join(tmp, `${name}.wasm`);
  fs.writeFileSync(src, wat);
  execFileSync('wat2wasm', [src, '-o', out]);
  return fs.readFileSync(out);
}

const ABI = '(func (export "kiln_abi_version") (result i32) (i32.const 1))';

// Filter: price <= max_price (the declared i64 parameter is the export's argument).
const CHEAP = wasm('cheap', `(module
  (import "kiln" "get_field_int64" (func $gi (param i32 i32) (result i64)))
  (import "kiln" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "price")
  (data (i32.const 16) "checking price")
  ${ABI}
  (func (export "cheap") (param $max i64) (result i32)
    (call $log (i32.const 1) (i32.const 16) (i32.const 14))
    (i64.le_s (call $gi (i32.const 0) (i32.const 5)) (local.get $max))))`);

// Score: byte length of the field named by the string parameter "path", plus get_score().
const FIELD_LEN = wasm('field_len', `(module
  (import "kiln" "get_param_string" (func $gp (param i32 i32 i32 i32) (result i32)))
  (import "kiln" "get_field_string" (func $gf (param i32 i32 i32 i32) (result i32)))
  (import "kiln" "get_field_count" (func $gc (param i32 i32) (result i32)))
  (import "kiln" "get_score" (func $score (result f64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "path")
  ${ABI}
  (func (export "field_len") (result f64) (local $n i32) (local $len i32)
    (local.set $n (call $gp (i32.const 0) (i32.const 4) (i32.const 100) (i32.const 100)))
    (local.set $len (call $gf (i32.const 100) (local.get $n) (i32.const 300) (i32.const 1000)))
    (f64.add (call $score)
      (f64.add (f64.convert_i32_s (local.get $len))
               (f64.mul (f64.const 1000) (f64.convert_i32_s (call $gc (i32.const 100) (local.get $n))))))))`);

const TRAPS = wasm('traps', `(module ${ABI} (func (export "f") (result i32) unreachable))`);
const LOOPS = wasm('loops', `(module ${ABI} (func (export "f") (result i32) (loop $l (br $l)) (i32.const 0)))`);
const BAD_PTR = wasm('bad_ptr', `(module
  (import "kiln" "get_field_int64" (func $gi (param i32 i32) (result i64)))
  (memory 1) ${ABI}
  (func (export "f") (result i32) (i32.wrap_i64 (call $gi (i32.const 65530) (i32.const 100)))))`);
const NO_ABI = wasm('no_abi', `(module (func (export "f") (result i32) (i32.const 1)))`);
const ABI_99 = wasm('abi_99', `(module (func (export "kiln_abi_version") (result i32) (i32.const 99)) (func (export "f") (result i32) (i32.const 1)))`);
const UNKNOWN_IMPORT = wasm('unknown_import', `(module (import "kiln" "format_disk" (func (result i32))) ${ABI} (func (export "f") (result i32) (i32.const 1)))`);
const NAN = wasm('nan', `(module ${ABI} (func (export "f") (result f64) (f64.const nan)))`);

const JSON_CT = { 'Content-Type': 'application/json' };

function putRaw(name, version, bytes, query, headers = {}) {
  const q = new URLSearchParams(query).toString();
  return k.raw('PUT', `/_udf/${name}/${version}?${q}`, bytes, { 'Content-Type': 'application/wasm', ...headers });
}

function putJson(name, version, bytes, meta) {
  return k.raw('PUT', `/_udf/${name}/${version}`, JSON.stringify({ ...meta, wasm: bytes.toString('base64') }), JSON_CT);
}

function execute(name, version, body) {
  return k.raw('POST', `/_udf/${name}/${version}/_execute`, JSON.stringify(body), JSON_CT);
}

test('register a raw module with metadata in the query string, then dry-run it', async () => {
  const r = await putRaw('cheap', '1.0.0', CHEAP, {
    function_name: 'cheap', tags: 'price,filter', category: 'commerce', author: 'kiln-tests',
    parameters: JSON.stringify([{ name: 'max_price', type: 'i64', default: 100 }]),
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.name, 'cheap');
  assert.equal(r.body.version, '1.0.0');
  assert.match(r.body.sha256, /^[0-9a-f]{64}$/);
  assert.equal(r.body.size, CHEAP.length);
  assert.equal(r.body.abi_version, 1);
  assert.deepEqual(r.body.returns, [{ type: 'i32' }]);
  let e = await execute('cheap', '1.0.0', { doc: { price: 50 }, params: { max_price: 60 } });
  assert.equal(e.status, 200, e.text);
  assert.equal(e.body.matched, true);
  assert.equal(e.body.result, 1);
  assert.deepEqual(e.body.logs.map((l) => l.message), ['checking price']);
  e = await execute('cheap', '1.0.0', { doc: { price: 500 } }); // default 100
  assert.equal(e.body.matched, false);
  e = await execute('cheap', '1.0.0', { doc: { price: 50 }, params: { max_price: '40' } }); // coerced
  assert.equal(e.body.matched, false);
});

test('duplicates are 409; versions coexist and the highest semver is the latest', async () => {
  const meta = { function_name: 'cheap', parameters: [{ name: 'max_price', type: 'i64', required: true }], description: 'v', tags: ['price'], category: 'commerce', author: 'someone' };
  assert.equal((await putJson('cheap', '1.0.0', CHEAP, meta)).status, 409);
  assert.equal((await putJson('cheap', '1.10.0', CHEAP, meta)).status, 201);
  assert.equal((await putJson('cheap', '1.2.0', CHEAP, meta)).status, 201);
  assert.equal((await putJson('cheap', '2.0.0-rc.1', CHEAP, meta)).status, 201);
  const v = await k.raw('GET', '/_udf/cheap');
  assert.equal(v.status, 200);
  // Highest release wins (1.10.0 > 1.2.0 numerically); prereleases are used only when pinned.
  assert.equal(v.body.latest, '1.10.0');
  assert.deepEqual(v.body.versions.map((x) => x.version), ['1.0.0', '1.2.0', '1.10.0', '2.0.0-rc.1']);
  const e = await execute('cheap', 'latest', { doc: { price: 5 } });
  assert.equal(e.status, 400, 'the latest (1.10.0) requires max_price');
  assert.match(e.body.error.reason, /requires parameter \[max_price\] of type \[i64\]/);
  const pinned = await execute('cheap', '2.0.0-rc.1', { doc: { price: 5 }, params: { max_price: 9 } });
  assert.equal(pinned.body.version, '2.0.0-rc.1');
  assert.equal(pinned.body.matched, true);
});

test('discovery by tag, category, author and name prefix', async () => {
  await putRaw('field_len', '0.1.0', FIELD_LEN, { function_name: 'field_len', tags: 'strings', category: 'text', author: 'ann',
    parameters: JSON.stringify([{ name: 'path', type: 'string', required: true }]) });
  const byTag = await k.raw('GET', '/_udf?tag=strings');
  assert.deepEqual(byTag.body.udfs.map((u) => u.name), ['field_len']);
  const byCat = await k.raw('GET', '/_udf?category=commerce');
  assert.ok(byCat.body.udfs.length >= 4 && byCat.body.udfs.every((u) => u.name === 'cheap'));
  assert.equal((await k.raw('GET', '/_udf?author=ann')).body.total, 1);
  assert.equal((await k.raw('GET', '/_udf?name=fie')).body.total, 1);
  assert.equal((await k.raw('GET', '/_udf?name=zzz')).body.total, 0);
  const one = await k.raw('GET', '/_udf/field_len/0.1.0');
  assert.equal(one.status, 200);
  assert.equal(one.body.category, 'text');
  assert.equal((await k.raw('GET', '/_udf/field_len/9.9.9')).status, 404);
  assert.equal((await k.raw('GET', '/_udf/nothing')).status, 404);
});

test('fields by dot path and array index, string parameters, the score', async () => {
  const doc = { user: { address: { city: 'Lisboa' } }, tags: ['a', 'bcd', 'ef'], items: [{ p: 'xy' }, { p: 'z' }], n: 12345 };
  const len = async (p, score = 0) => (await execute('field_len', '0.1.0', { doc, params: { path: p }, score })).body.result;
  assert.equal(await len('user.address.city'), 6 + 1000);
  assert.equal(await len('tags[1]'), 3 + 1000);
  assert.equal(await len('tags'), 1 + 3000); // first value; three values
  assert.equal(await len('items.p'), 2 + 2000); // arrays of objects flatten, as in ES
  assert.equal(await len('items[1].p'), 1 + 1000);
  assert.equal(await len('n'), 5 + 1000); // numbers read as text
  assert.equal(await len('missing.field'), -1);
  assert.equal(await len('user.address.city', 2.5), 1008.5);
});

test('parameters are validated against their declared types', async () => {
  let e = await execute('field_len', '0.1.0', { doc: {} });
  assert.equal(e.status, 400);
  assert.match(e.body.error.reason, /requires parameter \[path\]/);
  e = await execute('cheap', '1.0.0', { doc: {}, params: { max_price: 'cheap' } });
  assert.equal(e.status, 400);
  assert.match(e.body.error.reason, /must be of type \[i64\]/);
  e = await execute('cheap', '1.0.0', { doc: {}, params: { nope: 1 } });
  assert.equal(e.status, 400);
  assert.match(e.body.error.reason, /has no parameter \[nope\]/);
});

test('bad modules and bad metadata are rejected with a reason', async () => {
  const cases = [
    [Buffer.from('not wasm at all'), { function_name: 'f' }, /not a WebAssembly binary/],
    [NO_ABI, { function_name: 'f' }, /does not export \[kiln_abi_version\]/],
    [ABI_99, { function_name: 'f' }, /ABI version 99/],
    [UNKNOWN_IMPORT, { function_name: 'f' }, /format_disk/],
    [TRAPS, { function_name: 'missing' }, /no exported function \[missing\]/],
    [CHEAP, { function_name: 'cheap' }, /takes 1 arguments but the UDF declares 0/],
    [TRAPS, { function_name: 'f', parameters: [{ name: 'x', type: 'decimal' }] }, /unknown type \[decimal\]/],
    [TRAPS, { function_name: 'f', parameters: [{ name: 'x', type: 'i32', default: 'many' }] }, /default of parameter \[x\]/],
    [TRAPS, { function_name: 'f', returns: [{ type: 'f64' }] }, /\[returns\] says f64/],
    [TRAPS, { function_name: 'f', colour: 'blue' }, /unknown UDF metadata field \[colour\]/],
  ];
  for (const [bytes, meta, re] of cases) {
    const r = await putJson('bad', '1.0.0', bytes, meta);
    assert.equal(r.status, 400, `${re}: ${r.text}`);
    assert.match(r.body.error.reason, re);
  }
  assert.equal((await putJson('bad', 'one', TRAPS, { function_name: 'f' })).status, 400);
  assert.equal((await putJson('bad name', '1.0.0', TRAPS, { function_name: 'f' })).status, 400);
  assert.equal((await k.raw('GET', '/_udf/bad')).status, 404, 'nothing half-registered');
});

test('traps, out-of-bounds host pointers, NaN results and endless loops are errors, counted', async () => {
  await putJson('traps', '1.0.0', TRAPS, { function_name: 'f' });
  await putJson('bad_ptr', '1.0.0', BAD_PTR, { function_name: 'f' });
  await putJson('nan', '1.0.0', NAN, { function_name: 'f' });
  await putJson('loops', '1.0.0', LOOPS, { function_name: 'f', limits: { timeout_ms: 50 } });
  let e = await execute('traps', '1.0.0', { doc: {}, id: 'd1' });
  assert.equal(e.status, 200);
  assert.match(e.body.error.reason, /UDF \[traps@1.0.0\] failed on document \[d1\]: unreachable/);
  e = await execute('bad_ptr', '1.0.0', { doc: {} });
  assert.match(e.body.error.reason, /outside the module's memory/);
  e = await execute('nan', '1.0.0', { doc: {} });
  assert.match(e.body.error.reason, /NaN or infinite/);
  const t0 = Date.now();
  e = await execute('loops', '1.0.0', { doc: {} });
  assert.match(e.body.error.reason, /deadline|fuel/);
  assert.ok(Date.now() - t0 < 10000, 'an endless loop is stopped');
  const s = await k.raw('GET', '/_udf/traps/1.0.0/_stats');
  assert.equal(s.body.calls, 1);
  assert.equal(s.body.errors, 1);
  assert.equal(s.body.error_rate, 1);
  assert.equal(s.body.last_error.kind, 'unreachable');
  assert.equal(s.body.last_error.doc_id, 'd1');
  // the server is fine and the UDF still works after a trap
  e = await execute('cheap', '1.0.0', { doc: { price: 1 } });
  assert.equal(e.body.matched, true);
});

test('statistics count every call', async () => {
  const before = (await k.raw('GET', '/_udf/cheap/1.0.0/_stats')).body.calls;
  for (let i = 0; i < 20; i++) await execute('cheap', '1.0.0', { doc: { price: i } });
  const s = (await k.raw('GET', '/_udf/cheap/1.0.0/_stats')).body;
  assert.equal(s.calls, before + 20);
  assert.equal(s.errors, 0);
  assert.ok(s.duration_ns.max >= s.duration_ns.min);
  assert.equal(typeof s.last_called, 'number');
  const all = (await k.raw('GET', '/_udf/_stats')).body.udfs;
  assert.ok(all.some((x) => x.name === 'cheap' && x.version === '1.0.0' && x.calls === s.calls));
});

test('a dry run on a stored document', async () => {
  await k.client.index({ index: 'shop', id: 'p1', body: { price: 30 }, refresh: true });
  const e = await execute('cheap', '1.0.0', { index: 'shop', id: 'p1', params: { max_price: 31 } });
  assert.equal(e.body.matched, true);
  assert.equal((await execute('cheap', '1.0.0', { index: 'shop', id: 'nope' })).status, 404);
});

test('UDFs survive a crash; unregistering removes one version only', async () => {
  await k.restart('SIGKILL');
  const v = await k.raw('GET', '/_udf/cheap');
  assert.equal(v.status, 200);
  assert.equal(v.body.versions.length, 4);
  assert.equal((await execute('cheap', '1.0.0', { doc: { price: 1 } })).body.matched, true);
  assert.equal((await k.raw('DELETE', '/_udf/cheap/1.2.0')).status, 200);
  assert.equal((await k.raw('DELETE', '/_udf/cheap/1.2.0')).status, 404);
  await k.restart('SIGTERM');
  assert.deepEqual((await k.raw('GET', '/_udf/cheap')).body.versions.map((x) => x.version), ['1.0.0', '1.10.0', '2.0.0-rc.1']);
});

test('with an API key, writes to /_udf need it; reads do not', async () => {
  const srv = await KilnServer.start({ args: ['--api-key', 's3cret'] });
  try {
    const q = '?function_name=cheap&parameters=' + encodeURIComponent(JSON.stringify([{ name: 'm', type: 'i64', default: 1 }]));
    let r = await request(srv.url, 'PUT', '/_udf/cheap/1.0.0' + q, CHEAP, { 'Content-Type': 'application/wasm' });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.error.type, 'security_exception');
    r = await request(srv.url, 'PUT', '/_udf/cheap/1.0.0' + q, CHEAP, { 'Content-Type': 'application/wasm', Authorization: 'ApiKey s3cret' });
    assert.equal(r.status, 201, r.text);
    assert.equal((await request(srv.url, 'GET', '/_udf/cheap/1.0.0')).status, 200);
    assert.equal((await request(srv.url, 'DELETE', '/_udf/cheap/1.0.0')).status, 401);
    assert.equal((await request(srv.url, 'DELETE', '/_udf/cheap/1.0.0', undefined, { 'X-Api-Key': 's3cret' })).status, 200);
  } finally {
    await srv.stop();
  }
});

