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

async function stringDistance() {
  const host = new KilnMock({ params: { field: 'name', target: '' } });
  const inst = await host.instantiate(loadWasm('string_distance.wasm'));
  // The exact distance: the smallest max_distance that matches.
  const dist = (a, b) => {
    host.doc = { name: a };
    host.params = { field: 'name', target: b, max_distance: 3 };
    const limit = Math.max([...a].length, [...b].length) + 1;
    for (let k = 0; k <= limit; k++) if (inst.exports.calculate_distance(k)) return k;
    return Infinity;
  };
  return { host, inst, dist };
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
  for (const [a, b, d] of cases) assert.equal(dist(a, b), d, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
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
    assert.equal(dist(a, b), lev(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
});

test('string_distance: threshold semantics, missing values, cache', async () => {
  const { host, inst } = await stringDistance();
  const f = inst.exports.calculate_distance;
  host.doc = { name: 'kitten', brand: { title: 'Apple' }, n: 42 };
  host.params = { field: 'name', target: 'sitting' };
  assert.equal(f(3), 1);
  assert.equal(f(2), 0);
  assert.equal(f(-1), 0, 'negative max_distance never matches');
  assert.equal(inst.exports.string_distance(3), 1, 'alias export');
  host.params = { field: 'brand.title', target: 'Apples' }; // target changed: recompiled
  assert.equal(f(1), 1);
  assert.equal(f(0), 0);
  host.params = { field: 'n', target: '43' }; // numbers are read as text
  assert.equal(f(1), 1);
  host.params = { field: 'missing', target: 'x' };
  assert.equal(f(100), 0, 'a missing field never matches');
  host.logs.length = 0;
  host.params = { field: 'name' };
  assert.equal(f(3), 0, 'missing target');
  assert.equal(host.logs.length, 1);
  assert.equal(host.logs[0].level, 3);
  host.params = { field: 'name', target: 'x'.repeat(2000) };
  assert.equal(f(5000), 0, 'target over 1024 bytes is refused');
  host.doc = { name: new Uint8Array([0x6b, 0xff, 0x74]) }; // "k\xfft": invalid UTF-8 byte = 1 unit
  host.params = { field: 'name', target: 'kit' };
  assert.equal(f(0), 0);
  assert.equal(f(1), 1);
  host.doc = { name: 'y'.repeat(20000) }; // longer than the 16 KiB buffer: decided by length
  host.params = { field: 'name', target: 'y' };
  assert.equal(f(3), 0);
});

test('string_distance: get_param_string and get_field_string only, two reads of params', async () => {
  const { host, inst } = await stringDistance();
  host.doc = { name: 'kitten' };
  host.params = { field: 'name', target: 'sitting' };
  host.calls = {};
  inst.exports.calculate_distance(3);
  assert.deepEqual(host.calls, { get_param_string: 2, get_field_string: 1 });
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
  const host = new KilnMock({ doc: { tags: ['Wireless', 'bluetooth', 'audio'], cats: ['a', 'b'] } });
  const inst = await host.instantiate(loadWasm('tag_match.wasm'));
  const f = (tags, min, field) => {
    host.params = field ? { tags, field } : { tags };
    return inst.exports.tag_match(min);
  };
  assert.equal(f('wireless', 1), 1);
  assert.equal(f('wireless, bluetooth', 2), 1);
  assert.equal(f('wireless,bluetooth,usb', 3), 0);
  assert.equal(f('usb', 1), 0);
  assert.equal(f('wireless,wireless', 2), 0, 'each wanted tag counts once');
  assert.equal(f('b', 1, 'cats'), 1);
  assert.equal(f('audio', 1, 'nope'), 0);
  assert.equal(f('', 1), 0);
  assert.equal(f('anything', 0), 1, 'min_matches 0 matches everything');
  host.doc = { tags: 'single' }; // a scalar is a one-value field
  assert.equal(f('single', 1), 1);
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

test('mock: path parsing', () => {
  assert.deepEqual(parsePath('user.address.city'), ['user', 'address', 'city']);
  assert.deepEqual(parsePath('items[0].price'), ['items', 0, 'price']);
  assert.equal(parsePath('a..b'), null);
  assert.equal(parsePath(''), null);
});
