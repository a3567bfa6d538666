'use strict';
// _msearch and _validate/query through the real server: each search of an _msearch answers as its own _search
// would, in order, one failing search does not fail the others, and a malformed request fails
// as a whole.
const assert = require('node:assert/strict');
const { useServer, expectError } = require('./lib/fixture');

const k = useServer();
const test = k.test;

test('searches answer in order as _search would; errors stay in their slot', async () => {
  const body = [];
  for (let i = 0; i < 30; i++) body.push({ index: { _index: i % 2 ? 'ms_a' : 'ms_b', _id: String(i) } }, { n: i, word: i % 3 ? 'red' : 'blue' });
  await k.client.bulk({ body, refresh: true });
  const searches = [
    [{ index: 'ms_a' }, { query: { term: { word: 'blue' } }, sort: [{ n: 'asc' }] }],
    [{ index: ['ms_a', 'ms_b'] }, { size: 0, query: { range: { n: { gte: 10 } } } }],
    [{ index: 'ms_missing' }, { query: { match_all: {} } }],
    [{ index: 'ms_missing', ignore_unavailable: true }, { query: { match_all: {} } }],
    [{ index: 'ms_b' }, { query: { nope: {} } }],
    [{}, { query: { match: { word: 'red' } }, size: 3 }],
  ];
  const r = await k.client.msearch({ body: searches.flat() });
  assert.equal(r.statusCode, 200);
  const res = r.body.responses;
  assert.equal(res.length, searches.length);
  for (let i = 0; i < searches.length; i++) {
    if (res[i].status !== 200) continue;
    const [h, b] = searches[i];
    const alone = await k.client.search({ index: h.index || '_all', ignore_unavailable: h.ignore_unavailable, body: b });
    assert.deepEqual(res[i].hits, alone.body.hits, `search ${i}`);
  }
  assert.deepEqual(res.map((x) => x.status), [200, 200, 404, 200, 400, 200]);
  assert.deepEqual(res[0].hits.hits.map((h) => h._id), ['3', '9', '15', '21', '27']);
  assert.equal(res[1].hits.total.value, 20);
  assert.equal(res[2].error.type, 'index_not_found_exception');
  assert.equal(res[3].hits.total.value, 0);
  assert.equal(res[4].error.type, 'parsing_exception');
  assert.equal(res[5].hits.hits.length, 3);

  // {index} in the path is every header's default; rest_total_hits_as_int applies to all
  const p = await k.raw('POST', '/ms_a/_msearch?rest_total_hits_as_int=true',
    '{}\n{"size":0}\n{"index":"ms_b"}\n{"size":0}\n', { 'Content-Type': 'application/x-ndjson' });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.body.responses.map((x) => x.hits.total), [15, 15]);
});

test('a malformed request fails as a whole with a 400', async () => {
  const cases = [
    ['{"index": "x"\n{}\n', /line 1 is not valid JSON/],
    ['{"index": "x"}\n', /no search body line/],
    ['{"colour": "red"}\n{}\n', /key \[colour\] is not supported in the metadata section/],
    ['[1]\n{}\n', /must be an object/],
    ['', /no requests added/],
  ];
  for (const [text, re] of cases) {
    const r = await k.raw('POST', '/_msearch', text, { 'Content-Type': 'application/x-ndjson' });
    assert.equal(r.status, 400, text);
    assert.match(r.body.error.reason, re);
  }
  const e = await expectError(() => k.client.msearch({ body: [{ index: 'x', colour: 1 }, {}] }));
  assert.equal(e.statusCode, 400);
});

test('_validate/query: valid or not without running, with the reason per index under explain', async () => {
  await k.client.indices.create({ index: 'val', body: { mappings: { properties: { when: { type: 'date' }, t: { type: 'text' } } } } });
  const v = async (path, body) => (await k.raw('POST', path, body ? JSON.stringify(body) : undefined, { 'Content-Type': 'application/json' })).body;
  assert.equal((await v('/val/_validate/query', { query: { match: { t: 'x' } } })).valid, true);
  assert.equal((await v('/_validate/query')).valid, true); // no body: match_all
  let r = await v('/val/_validate/query?explain=true', { query: { nope: {} } });
  assert.equal(r.valid, false);
  assert.match(r.explanations[0].error, /unknown query \[nope\]/);
  r = await v('/val/_validate/query?explain=true', { query: { range: { when: { gte: 'not a date' } } } });
  assert.equal(r.valid, false); // caught when planned against the mapping
  assert.equal(r.explanations[0].index, 'val');
  assert.match(r.explanations[0].error, /not a date/);
  r = await v('/val/_validate/query', { query: { wasm_udf: { name: 'no_such_udf' } } });
  assert.equal(r.valid, false);
  assert.equal(r.explanations, undefined);
  assert.equal((await v('/val/_validate/query?q=t:hello')).valid, true);
  const missing = await k.raw('POST', '/val_missing/_validate/query', '{}', { 'Content-Type': 'application/json' });
  assert.equal(missing.status, 404);
});
