// Unit tests of the guest side: the example UDFs and fixtures built into $KILN_UDF_DIR,
// run under Node's WebAssembly with a JS mock of the kiln host imports.
// Run: KILN_UDF_DIR=build/udfs node --test tests/udf/node/
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { KilnMock, HostTrap, loadWasm, udfDir, ABI_V1, parsePath } from './kiln_mock.mjs';
import { wasmInfo } from './wasm_info.mjs';

const ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Reference Levenshtein distance over code points.
function lev(a, b) {
  const A = [...a], B = [...b];
  let prev = Array.from({ length: B.length + 1 }, (_, j) => j);
  for (let i = 1; i <= A.length; i++) {
    const cur = [i];
    for (let j = 1; j <= B.length; j++)
      cur[j] = Math.min(prev[j - 1] + (A[i - 1] === B[j - 1] ? 0 : 1), prev[j] + 1, cur[j - 1] + 1);
    prev = cur;
  }
  return prev[B.length];
}

const SD = new WebAssembly.Module(loadWasm('string_distance.wasm'));

// One "query": a fresh instance (Kiln restores memory between queries) with these params.
async function sdQuery(params, doc = {}) {
  const host = new KilnMock({ doc, params });
  const inst = await host.instantiate(SD);
  return { host, f: inst.exports.calculate_distance, inst };
}

async function stringDistance() {
  // The exact distance: the smallest max_distance that matches.
  const dist = async (a, b) => {
    const { f } = await sdQuery({ field: 'name', target: b, max_distance: 3 }, { name: a });
    const limit = Math.max([...a].length, [...b].length) + 1;
    for (let k = 0; k <= limit; k++) if (f(k)) return k;
    return Infinity;
  };
  return { dist };
}

test('string_distance: table of cases', async () => {
  const { dist } = await stringDistance();
  const cases = [
    ['kitten', 'sitting', 3], ['sitting', 'kitten', 3], ['iPhone 15', 'iPhone 14', 1],
    ['', '', 0], ['', 'abc', 3], ['abc', '', 3], ['same', 'same', 0], ['flaw', 'lawn', 2],
    ['café', 'cafe', 1], ['日本語', '日本', 1], ['a😀b', 'ab', 1], ['😀😀', '😁😀', 1],
    ['Straße', 'Strasse', 2], ['ÅÄÖ', 'AAO', 3],
    ['a'.repeat(64), 'a'.repeat(63) + 'b', 1], // 64 code points: the last bit-parallel width
    ['x' + 'a'.repeat(64), 'a'.repeat(65), 1], // 65: the dynamic-programming fallback
    ['the quick brown fox jumps over the lazy dog '.repeat(5), 'the quick brown fox jumps over the lazy cat '.repeat(5), 15],
  ];
  for (const [a, b, d] of cases) assert.equal(await dist(a, b), d, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
});

test('string_distance: random strings against a reference implementation', async () => {
  const { dist } = await stringDistance();
  const alphabet = ['a', 'b', 'c', 'd', 'é', '日', '😀', ' '];
  let seed = 12345;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  for (let i = 0; i < 300; i++) {
    const mk = (max) => Array.from({ length: rnd(max) }, () => alphabet[rnd(1 + (i % alphabet.length))]).join('');
    const long = i % 10 === 0;
    const a = mk(long ? 200 : 24), b = mk(long ? 90 : 24);
    assert.equal(await dist(a, b), lev(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
});

test('string_distance: threshold semantics, missing values, limits', async () => {
  let { host, f, inst } = await sdQuery({ field: 'name', target: 'sitting' }, { name: 'kitten', brand: { title: 'Apple' }, n: 42 });
  assert.equal(f(3), 1);
  assert.equal(f(2), 0);
  assert.equal(f(-1), 0, 'negative max_distance never matches');
  assert.equal(inst.exports.string_distance(3), 1, 'alias export');
  host.doc = { name: 'sitting' }; // documents change within a query, parameters do not
  assert.equal(f(0), 1);
  host.doc = {};
  assert.equal(f(100), 0, 'a missing field never matches');
  ({ f } = await sdQuery({ field: 'brand.title', target: 'Apples' }, { brand: { title: 'Apple' } }));
  assert.equal(f(1), 1);
  assert.equal(f(0), 0);
  ({ f } = await sdQuery({ field: 'n', target: '43' }, { n: 42 })); // numbers are read as text
  assert.equal(f(1), 1);
  ({ host, f } = await sdQuery({ field: 'name' }, { name: 'x' }));
  assert.equal(f(3), 0, 'missing target');
  assert.equal(host.logs.length, 1);
  assert.equal(host.logs[0].level, 3);
  ({ f } = await sdQuery({ field: 'name', target: 'x'.repeat(2000) }, { name: 'x' }));
  assert.equal(f(5000), 0, 'target over 1024 bytes is refused');
  ({ f } = await sdQuery({ field: 'name', target: 'kit' }, { name: new Uint8Array([0x6b, 0xff, 0x74]) }));
  assert.equal(f(0), 0, 'an invalid UTF-8 byte is one unit');
  assert.equal(f(1), 1);
  ({ host, f } = await sdQuery({ field: 'name', target: 'y' }, { name: 'y'.repeat(20000) }));
  assert.equal(f(3), 0, 'longer than the 16 KiB buffer: decided by length');
  assert.equal(host.logs.length, 0);
  ({ host, f } = await sdQuery({ field: 'name', target: 'y'.repeat(1000) }, { name: 'y'.repeat(17000) }));
  assert.equal(f(4000), 0, 'undecidable by length: no match, a warning');
  assert.equal(host.logs[0].level, 2);
});

test('string_distance: parameters and the field binding once per query, then no host call per document', async () => {
  const { host, f } = await sdQuery({ field: 'name', target: 'sitting' }, { name: 'kitten' });
  assert.equal(f(3), 1);
  assert.deepEqual(host.calls, { get_param_string: 2, field_handle: 1, bind_field_string: 1 });
  const want = { a: 0, bb: 0, kitten: 1, sitting: 1, sittin: 1, xxxxxxxxxxx: 0 };
  for (const [name, m] of Object.entries(want)) {
    host.doc = { name };
    assert.equal(f(3), m, name); // the bound value is the current document's
  }
  host.doc = {};
  assert.equal(f(3), 0, 'a missing bound field never matches');
  assert.deepEqual(host.calls, { get_param_string: 2, field_handle: 1, bind_field_string: 1 });
});

test('popularity_boost: score formula and missing fields', async () => {
  const host = new KilnMock({ doc: { rating: 4.5, stock: 10 }, score: 2 });
  const inst = await host.instantiate(loadWasm('popularity_boost.wasm'));
  const expect = (s, r, st, w) => s * (1 + w * Math.log1p(r * Math.log1p(st)));
  const close = (a, b) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
  close(inst.exports.popularity_boost(1), expect(2, 4.5, 10, 1));
  close(inst.exports.popularity_boost(0.25), expect(2, 4.5, 10, 0.25));
  host.doc = { rating: 3 }; // no stock: boost 1
  close(inst.exports.popularity_boost(1), 2);
  const fresh = new KilnMock({ doc: { rating: 3 }, score: 2 }); // stock never resolvable: -1, no trap
  const inst2 = await fresh.instantiate(loadWasm('popularity_boost.wasm'));
  close(inst2.exports.popularity_boost(1), 2);
  fresh.doc = { rating: 3, stock: 5 }; // resolved on a later call
  close(inst2.exports.popularity_boost(1), expect(2, 3, 5, 1));
  close(inst.exports.popularity_boost(1), 2);
  host.doc = { rating: -5, stock: 'many' };
  close(inst.exports.popularity_boost(1), 2);
  host.score = 0;
  assert.equal(inst.exports.popularity_boost(1), 0);
  // The handles were resolved once (on the first call) and reused.
  assert.equal(host.calls.field_handle, 2);
  // log1p accuracy over a wide range.
  host.score = 1;
  for (const x of [1e-300, 1e-17, 1e-9, 0.001, 0.5, 1, 2.5, 1e3, 1e10, 1e300]) {
    host.doc = { rating: x, stock: Math.E - 1 }; // log1p(stock) = 1, so boost = 1 + log1p(x)
    close(inst.exports.popularity_boost(1), 1 + Math.log1p(x));
  }
});

test('tag_match: arrays, counts, case', async () => {
  const mod = new WebAssembly.Module(loadWasm('tag_match.wasm'));
  let doc = { tags: ['Wireless', 'bluetooth', 'audio'], cats: ['a', 'b'] };
  const f = async (tags, min, field) => { // one query each: a fresh instance
    const host = new KilnMock({ doc, params: field ? { tags, field } : { tags } });
    return (await host.instantiate(mod)).exports.tag_match(min);
  };
  assert.equal(await f('wireless', 1), 1);
  assert.equal(await f('wireless, bluetooth', 2), 1);
  assert.equal(await f('wireless,bluetooth,usb', 3), 0);
  assert.equal(await f('usb', 1), 0);
  assert.equal(await f('wireless,wireless', 2), 0, 'each wanted tag counts once');
  assert.equal(await f('b', 1, 'cats'), 1);
  assert.equal(await f('audio', 1, 'nope'), 0);
  assert.equal(await f('', 1), 0);
  assert.equal(await f('anything', 0), 1, 'min_matches 0 matches everything');
  doc = { tags: 'single' }; // a scalar is a one-value field
  assert.equal(await f('single', 1), 1);
  // Within a query: parameters parsed once, documents vary.
  const host = new KilnMock({ doc: { tags: ['x'] }, params: { tags: 'x,y' } });
  const t = (await host.instantiate(mod)).exports.tag_match;
  assert.equal(t(1), 1);
  host.doc = { tags: ['y', 'x'] };
  assert.equal(t(2), 1);
  host.doc = { tags: ['z'] };
  assert.equal(t(1), 0);
  assert.equal(host.calls.get_param_string, 2);
});

test('wat_min_rating', async () => {
  const host = new KilnMock({ doc: { rating: 4.2 } });
  const inst = await host.instantiate(loadWasm('wat_min_rating.wasm'));
  assert.equal(inst.exports.min_rating(4), 1);
  assert.equal(inst.exports.min_rating(4.5), 0);
  host.doc = {};
  assert.equal(inst.exports.min_rating(0), 0);
});

test('fixtures behave as documented', async () => {
  const fx = async (name, opts) => {
    const host = new KilnMock(opts);
    return [host, await host.instantiate(loadWasm(`fixtures/${name}.wasm`))];
  };
  let [h, i] = await fx('filter_ge', { doc: { n: 10 } });
  assert.equal(i.exports.filter(10n), 1);
  assert.equal(i.exports.filter(11n), 0);
  [h, i] = await fx('filter_param_eq', { doc: { color: 'red' }, params: { field: 'color', value: 'red' } });
  assert.equal(i.exports.filter(), 1);
  h.params.value = 'blue';
  assert.equal(i.exports.filter(), 0);
  [h, i] = await fx('scorer', { doc: { boost: 0.5 }, score: 3 });
  assert.equal(i.exports.score(2), 6.5);
  [h, i] = await fx('trap');
  assert.throws(() => i.exports.filter(), WebAssembly.RuntimeError);
  assert.throws(() => i.exports.div0(), WebAssembly.RuntimeError);
  [h, i] = await fx('infinite_loop');
  assert.throws(() => i.exports.recurse(), RangeError);
  [h, i] = await fx('bad_pointer', { doc: { name: 'x' } });
  for (const e of ['bad_path', 'bad_out', 'bad_log', 'bad_docid']) assert.throws(() => i.exports[e](), HostTrap, e);
  await assert.rejects(fx('no_abi_version'));
  await assert.rejects(fx('abi_version_99'));
  [h, i] = await fx('logging');
  assert.equal(i.exports.filter(), 1);
  assert.deepEqual(h.logs, [{ level: 1, msg: 'hello from udf' }, { level: 3, msg: 'second line' }]);
  assert.equal(i.exports.noisy(5), 1);
  assert.equal(h.logs.length, 7);
  [h, i] = await fx('all_imports', { doc: { x: 1 } });
  assert.equal(i.exports.filter(), 1);
  [h, i] = await fx('handles', { doc: { price: 10 } });
  assert.equal(i.exports.filter(9.5), 1);
  assert.equal(i.exports.filter(10.5), 0);
  assert.equal(h.calls.field_handle, 1);
  h.doc = {}; // cached handle, field now missing: no match, no trap
  assert.equal(i.exports.filter(0), 0);
  [h, i] = await fx('handles', { doc: {} }); // unresolvable: -1 is never passed on
  assert.equal(i.exports.filter(0), 0);
  h.doc = { price: 3 };
  assert.equal(i.exports.filter(1), 1, 'resolved on a later call');
  [h, i] = await fx('bench_reads', { doc: { price: 2.5 } });
  assert.equal(i.exports.trivial(5), 1);
  assert.equal(i.exports.by_name(4), 1);
  assert.equal(h.calls.get_field_float64, 4);
  assert.equal(new Float64Array(h.memory.buffer, 64, 1)[0], 10);
  assert.equal(i.exports.by_handle(3), 1);
  assert.equal(h.calls.get_field_float64_h, 3);
  assert.equal(new Float64Array(h.memory.buffer, 64, 1)[0], 7.5);
  [h, i] = await fx('memory_grow');
  assert.equal(i.exports.grow(1), 1);
  [h, i] = await fx('bad_return');
  assert.equal(i.exports.ok(), 1);
  assert.equal(i.exports.filter(), undefined);
});

test('every built module: names, imports against ABI v1, no post-MVP sections', () => {
  const dir = udfDir();
  const files = [
    ...fs.readdirSync(dir).filter((f) => f.endsWith('.wasm')),
    ...fs.readdirSync(path.join(dir, 'fixtures')).filter((f) => f.endsWith('.wasm')).map((f) => `fixtures/${f}`),
  ];
  assert.ok(files.length >= 15, `found ${files.length} modules in ${dir}`);
  const negative = { 'fixtures/unknown_import.wasm': 'unknown', 'fixtures/wrong_import_sig.wasm': 'sig' };
  for (const f of files) {
    const info = wasmInfo(fs.readFileSync(path.join(dir, f)));
    for (const e of info.exports) assert.match(e.name, ID, `${f}: export ${e.name}`);
    assert.equal(info.features.size, 0, `${f}: ${[...info.features]}`);
    for (const im of info.imports) {
      assert.match(im.field, ID, `${f}: import ${im.field}`);
      assert.equal(im.module, 'kiln', `${f}: import module ${im.module}`);
      assert.equal(im.kind, 'func', `${f}: ${im.field} is not a function import`);
      if (negative[f] === 'unknown') assert.equal(ABI_V1[im.field], undefined, f);
      else if (negative[f] === 'sig') assert.notEqual(im.sig, ABI_V1[im.field], f);
      else assert.equal(im.sig, ABI_V1[im.field], `${f}: ${im.field} has signature ${im.sig}`);
    }
    const abi = info.exports.find((e) => e.name === 'kiln_abi_version');
    if (!f.includes('no_abi_version')) assert.ok(abi && abi.kind === 'func', `${f}: kiln_abi_version`);
  }
  // Every ABI function is covered by all_imports.
  const all = wasmInfo(fs.readFileSync(path.join(dir, 'fixtures/all_imports.wasm')));
  assert.deepEqual(all.imports.map((im) => im.field), Object.keys(ABI_V1));
});

test('every manifest: fields, function export, parameter mapping', async () => {
  const dir = udfDir();
  const manifests = fs.readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'udf.json')))
    .map((d) => path.join(dir, d.name, 'udf.json'));
  assert.ok(manifests.length >= 4, `found ${manifests.length} manifests`);
  const wasmType = { i32: 'i', i64: 'I', f32: 'f', f64: 'F', bool: 'i' };
  for (const mf of manifests) {
    const m = JSON.parse(fs.readFileSync(mf, 'utf8'));
    for (const k of ['name', 'version', 'description', 'function_name', 'wasm', 'parameters', 'returns', 'tags', 'category', 'author'])
      assert.ok(k in m, `${mf}: ${k}`);
    assert.match(m.version, /^\d+\.\d+\.\d+$/);
    const info = wasmInfo(fs.readFileSync(path.join(path.dirname(mf), m.wasm)));
    const ex = info.exports.find((e) => e.name === m.function_name && e.kind === 'func');
    assert.ok(ex, `${mf}: export ${m.function_name}`);
    // The export's signature follows from the declared numeric parameters and the return type.
    const want = m.parameters.filter((p) => p.type !== 'string').map((p) => wasmType[p.type]).join('') +
      ':' + wasmType[m.returns[0].type];
    assert.equal(ex.sig, want, `${mf}: ${m.function_name} signature`);
    for (const p of m.parameters) {
      assert.ok(['string', 'i32', 'i64', 'f32', 'f64', 'bool'].includes(p.type), `${mf}: ${p.name}`);
      assert.ok(p.required === true || 'default' in p, `${mf}: ${p.name} is neither required nor defaulted`);
    }
    await new KilnMock().instantiate(fs.readFileSync(path.join(path.dirname(mf), m.wasm)));
  }
});

test('sdk helpers (tests/udf/sdk/sdk_check.c)', async () => {
  const host = new KilnMock({ doc: { s: 'héllo wörld', i: 42, f: 2.5 }, params: { p: 'héllo', i: 7, f: 0.25, b: true } });
  const x = (await host.instantiate(loadWasm('sdk/sdk_check.wasm'))).exports;
  const lastLog = () => host.logs[host.logs.length - 1];
  // kiln_field_str: full length back, cap - 1 bytes kept, NUL-terminated.
  assert.equal(x.t_field_str(64), 13);
  assert.equal(lastLog().msg, 'héllo wörld');
  assert.equal(x.t_field_str(4), 13);
  assert.equal(lastLog().msg, 'hé'); // 3 bytes: "h" + 2-byte "é"
  assert.equal(x.t_field_str(1), 13);
  assert.equal(lastLog().msg, '');
  host.doc = {};
  assert.equal(x.t_field_str(64), -1);
  assert.equal(lastLog().msg, '');
  assert.equal(x.t_param_str(64), 6);
  assert.equal(lastLog().msg, 'héllo');
  // kiln_log_i64 / kiln_fmt_i64.
  for (const v of [0n, 7n, -7n, 1234567890123n, -9223372036854775808n, 9223372036854775807n]) {
    x.t_log_i64(v);
    assert.deepEqual(lastLog(), { level: 2, msg: `value ${v}` });
  }
  // log1p and log against Math, relative error.
  const rel = (a, b) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-300));
  for (const v of [1e-300, 1e-20, 1e-10, 1e-5, 0.1, 0.5, 0.999, 1, 1.5, 2, 10, 1234.5, 1e10, 1e100, 1.7e308, -0.5, -0.999999])
    assert.ok(rel(x.t_log1p(v), Math.log1p(v)) < 4e-16, `log1p(${v}) = ${x.t_log1p(v)} vs ${Math.log1p(v)}`);
  for (const v of [5e-324, 1e-310, 1e-300, 0.5, 1, 2, Math.E, 10, 1e300])
    assert.ok(rel(x.t_log(v), Math.log(v)) < 4e-16 || Math.abs(x.t_log(v) - Math.log(v)) < 1e-15, `log(${v})`);
  assert.ok(Number.isNaN(x.t_log(-1)) && Number.isNaN(x.t_log1p(-2)) && Number.isNaN(x.t_log(NaN)));
  assert.equal(x.t_log(0), -Infinity);
  assert.equal(x.t_log1p(-1), -Infinity);
  assert.equal(x.t_log(Infinity), Infinity);
  assert.equal(x.t_log1p(0), 0);
  // Typed readers and their defaults.
  host.doc = { i: 42, f: 2.5, s: 'abc' };
  assert.equal(x.t_field_i64(-1n), 42n);
  assert.equal(x.t_field_f64(-1), 2.5);
  assert.equal(x.t_param_i64(-1n), 7n);
  assert.equal(x.t_param_f64(-1), 0.25);
  assert.equal(x.t_param_bool(0), 1);
  host.doc = { f: 'not a number' };
  host.params = {};
  assert.equal(x.t_field_i64(-1n), -1n);
  assert.equal(x.t_field_f64(-1), -1);
  assert.equal(x.t_param_i64(-1n), -1n);
  assert.equal(x.t_param_f64(-1), -1);
  assert.equal(x.t_param_bool(1), 1);
  // UTF-8 counting and comparisons.
  host.doc = { s: 'a😀é日' };
  assert.equal(x.t_utf8_count(), 4);
  host.doc = { s: 'abc' };
  host.params = { p: 'abc' };
  assert.equal(x.t_str_eq(), 101);
  host.params = { p: 'abb' };
  assert.equal(x.t_str_eq(), 11);
  host.params = { p: 'abcd' };
  assert.equal(x.t_str_eq(), 1);
  // Cached handle of a missing field: NaN, no trap; resolved once present.
  host.doc = {};
  assert.ok(Number.isNaN(x.t_cached()));
  host.doc = { f: 3.5 };
  assert.equal(x.t_cached(), 3.5);
  // Long log lines are cut at KILN_LOG_MAX.
  x.t_long_log();
  assert.equal(lastLog().msg.length, 1024);
});

test('mock: path parsing', () => {
  assert.deepEqual(parsePath('user.address.city'), ['user', 'address', 'city']);
  assert.deepEqual(parsePath('items[0].price'), ['items', 0, 'price']);
  assert.equal(parsePath('a..b'), null);
  assert.equal(parsePath(''), null);
});
