'use strict';
// Bad input over raw HTTP: ES-style error bodies and statuses, and nothing stored is harmed.
const assert = require('node:assert/strict');
const { useServer } = require('./lib/fixture');

const k = useServer();
const test = k.test;

function assertEsError(r, status, type) {
  assert.equal(r.status, status, `${r.status} ${r.text}`);
  assert.ok(r.body && r.body.error, `no error object: ${r.text}`);
  if (type) assert.equal(r.body.error.type, type, r.text);
  assert.equal(r.body.status, status, r.text);
  assert.ok(Array.isArray(r.body.error.root_cause), r.text);
  assert.equal(typeof r.body.error.reason, 'string');
}

test('malformed JSON: 400 naming line and column; the stored doc is unharmed', async () => {
  const ok = await k.raw('PUT', '/err/_doc/1', { good: true });
  assert.equal(ok.status, 201, ok.text);
  const r = await k.raw('PUT', '/err/_doc/1', '{\n  "a": 1,\n  "b": }');
  assert.equal(r.status, 400, r.text);
  assert.ok(r.body && r.body.error, r.text);
  assert.match(JSON.stringify(r.body), /line[^0-9]{0,4}3/i, `no line in ${r.text}`);
  assert.match(JSON.stringify(r.body), /col(umn)?[^0-9]{0,4}\d+/i, `no column in ${r.text}`);
  const g = await k.raw('GET', '/err/_doc/1');
  assert.deepEqual(g.body._source, { good: true });
});

test('malformed JSON when creating an index', async () => {
  const r = await k.raw('PUT', '/err2', '{"settings": ');
  assert.equal(r.status, 400, r.text);
  assert.equal((await k.raw('HEAD', '/err2')).status, 404);
});

test('a document that is not an object is 400', async () => {
  for (const body of ['[1,2]', '"str"', '42']) {
    const r = await k.raw('PUT', '/err/_doc/x', body);
    assert.equal(r.status, 400, `${body}: ${r.text}`);
  }
});

test('wrong type for a mapped field is 400 mapper_parsing_exception', async () => {
  const c = await k.raw('PUT', '/typed', { mappings: { properties: { n: { type: 'integer' }, d: { type: 'date' }, b: { type: 'boolean' } } } });
  assert.equal(c.status, 200, c.text);
  for (const doc of [{ n: 'not a number' }, { d: 'not a date' }, { b: 'maybe' }]) {
    const r = await k.raw('PUT', '/typed/_doc/1', doc);
    assertEsError(r, 400, 'mapper_parsing_exception');
  }
  assert.equal((await k.raw('GET', '/typed/_doc/1')).status, 404);
});

test('unknown index: 404 index_not_found_exception', async () => {
  assertEsError(await k.raw('GET', '/nothing-here'), 404, 'index_not_found_exception');
  assertEsError(await k.raw('GET', '/nothing-here/_mapping'), 404, 'index_not_found_exception');
  assertEsError(await k.raw('POST', '/nothing-here/_refresh'), 404, 'index_not_found_exception');
});

test('unknown endpoint and wrong method answer as Elasticsearch does', async () => {
  const r = await k.raw('GET', '/_no_such_endpoint/x/y/z');
  assert.ok([400, 404].includes(r.status), `${r.status} ${r.text}`);
  assert.ok(r.body && r.body.error, r.text);
  // A path some route matches, with a method none of the matching routes accepts. (DELETE /_bulk
  // is not that: like ES, it falls through to DELETE /{index} and answers index_not_found.)
  const m = await k.raw('DELETE', '/some-index/_refresh');
  assert.equal(m.status, 405, m.text);
  assert.match(r.text + m.text, /method|handler/i);
});

test('invalid document ids', async () => {
  const long = await k.raw('PUT', '/err/_doc/' + 'i'.repeat(513), { a: 1 });
  // ES: IndexRequest.validate() → ActionRequestValidationException.
  assertEsError(long, 400, 'action_request_validation_exception');
  assert.match(long.body.error.reason, /512/);
});

test('invalid index name on auto-creation is 400 invalid_index_name_exception', async () => {
  assertEsError(await k.raw('PUT', '/BadName/_doc/1', { a: 1 }), 400, 'invalid_index_name_exception');
  assertEsError(await k.raw('POST', '/_underscore/_doc', { a: 1 }), 400);
});

test('the server still answers after all of the above', async () => {
  const r = await k.raw('GET', '/');
  assert.equal(r.status, 200);
  const g = await k.raw('GET', '/err/_doc/1');
  assert.equal(g.status, 200);
});
