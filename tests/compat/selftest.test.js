'use strict';
// Self-tests of the compat runner's building blocks (no server needed): node --test
const { test } = require('node:test');
const assert = require('node:assert/strict');
const C = require('./lib/common');
const { ApiTable } = require('./lib/rest_yaml');
const path = require('node:path');

test('skip version ranges order legacy ES 5–7 before OpenSearch 1.0', () => {
  const v = [2, 11, 0];
  assert.equal(C.inSkipRange(v, ' - 7.4.99'), false);
  assert.equal(C.inSkipRange(v, ' - 1.2.99'), false);
  assert.equal(C.inSkipRange(v, ' - 2.11.99'), true);
  assert.equal(C.inSkipRange(v, ' - 2.10.99'), false);
  assert.equal(C.inSkipRange(v, '2.0.0 - '), true);
  assert.equal(C.inSkipRange(v, '- 1.0.99, 2.11.0 - 2.11.99'), true);
  assert.equal(C.inSkipRange(v, 'all'), true);
  assert.equal(C.inSkipRange([7, 10, 2], ' - 1.2.99'), true);
});

test('story semver ranges', () => {
  assert.equal(C.satisfiesRange([2, 11, 0], '>= 2.5'), true);
  assert.equal(C.satisfiesRange([2, 11, 0], '>= 2.17'), false);
  assert.equal(C.satisfiesRange([2, 11, 0], '< 2.0'), false);
  assert.equal(C.satisfiesRange([2, 11, 0], '>2.0.0'), true);
  assert.equal(C.satisfiesRange([2, 11, 0], '>= 1.2'), true);
  assert.equal(C.satisfiesRange([1, 3, 0], '< 2.0 || >= 3'), true);
});

test('regexes with Perl x flag', () => {
  assert.ok(C.regexOf('/ foo \\s+ bar # comment\n/').test('foo   bar'));
  assert.ok(C.regexOf("/\\[fuzzy\\] queries cannot be executed when \\'search.allow_expensive_queries\\' is set to false./", false).test("[fuzzy] queries cannot be executed when 'search.allow_expensive_queries' is set to false."));
  assert.ok(C.regexOf('/[a b]/').test(' '));
});

test('paths and subset matching', () => {
  const o = { hits: { hits: [{ _source: { 'a.b': 1 } }] } };
  assert.equal(C.getPath(o, C.splitPath('hits.hits.0._source.a\\.b')), 1);
  assert.equal(C.getPath(o, C.splitPath('hits.hits.1')), C.MISSING);
  assert.equal(C.subsetMismatch({ a: [1, { b: 2 }] }, { a: [1, { b: 2, c: 3 }, 4], d: 1 }), null);
  assert.match(C.subsetMismatch({ a: [1, 2] }, { a: [1] }), /a\[1\]: missing/);
  assert.match(C.subsetMismatch({ x: { y: 1 } }, { x: { y: '1' } }), /x\.y: expected 1, got "1"/);
});

test('API table picks the path with the most parts and sends the rest as query', () => {
  const t = new ApiTable(path.join(process.env.KILN_SHARED || path.resolve(__dirname, '../../../shared'), 'opensearch-rest-tests/api'));
  const c = t.build('index', { index: 'i', id: 'a b', refresh: true });
  assert.equal(c.method, 'PUT');
  assert.equal(c.path, '/i/_doc/a%20b');
  assert.equal(c.query, '?refresh=true');
  assert.equal(t.build('index', { index: 'i' }).path, '/i/_doc');
  assert.equal(t.build('indices.refresh', {}).path, '/_refresh');
  assert.equal(t.build('bulk', { index: 'x' }).bulk, true);
});
