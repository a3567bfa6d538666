'use strict';
// _delete_by_query through the real OpenSearch JS client: batches over every shard, conflicts
// against the point-in-time view, max_docs, durability, and the errors ES gives.
const assert = require('node:assert/strict');
const { useServer, expectError } = require('./lib/fixture');

const k = useServer();
const test = k.test;

// refresh_interval -1 where a test needs writes to stay out of the searchable view until it
// refreshes (no scheduled or search-driven refresh then, whatever the machine's speed)
async function load(index, n, shards, refreshInterval) {
  const settings = { number_of_shards: shards };
  if (refreshInterval) settings.refresh_interval = refreshInterval;
  await k.client.indices.create({ index, body: { settings } });
  const body = [];
  for (let i = 0; i < n; i++) body.push({ index: { _index: index, _id: `d${i}` } }, { n: i, parity: i % 2 ? 'odd' : 'even', tag: `t${i % 7}` });
  const r = await k.client.bulk({ body, refresh: true });
  assert.equal(r.body.errors, false);
}

const count = async (index, query) => (await k.client.count({ index, body: query ? { query } : {} })).body.count;

test('deletes every match across shards in batches, durably, leaving the rest', async () => {
  await load('dbq', 2500, 3);
  const r = await k.client.deleteByQuery({ index: 'dbq', refresh: true, scroll_size: 400, body: { query: { term: { parity: 'odd' } } } });
  assert.equal(r.statusCode, 200);
  assert.equal(r.body.total, 1250);
  assert.equal(r.body.deleted, 1250);
  assert.equal(r.body.version_conflicts, 0);
  assert.deepEqual(r.body.failures, []);
  assert.ok(r.body.batches >= 4 && r.body.batches <= 6, `${r.body.batches} batches`); // ~1250/400 over 3 shards
  assert.equal(await count('dbq'), 1250);
  assert.equal(await count('dbq', { term: { parity: 'odd' } }), 0);
  // every remaining doc is an even one, intact
  const g = await k.client.get({ index: 'dbq', id: 'd1248' });
  assert.equal(g.body._source.n, 1248);
  await expectError(() => k.client.get({ index: 'dbq', id: 'd1249' }));

  // acknowledged means durable: the deletes survive kill -9 (no refresh or flush needed)
  await k.client.deleteByQuery({ index: 'dbq', body: { query: { range: { n: { lt: 100 } } } } });
  await k.restart('SIGKILL');
  assert.equal(await count('dbq'), 1200);
  assert.equal(await count('dbq', { range: { n: { lt: 100 } } }), 0);
});

test('max_docs stops after that many deletions; a query with no match deletes nothing', async () => {
  await load('dbq_max', 300, 1);
  let r = await k.client.deleteByQuery({ index: 'dbq_max', refresh: true, body: { max_docs: 25, query: { term: { tag: 't3' } } } });
  assert.equal(r.body.deleted, 25);
  assert.equal(await count('dbq_max', { term: { tag: 't3' } }), 43 - 25);
  r = await k.client.deleteByQuery({ index: 'dbq_max', max_docs: 5, refresh: true, body: { query: { match_all: {} } } });
  assert.equal(r.body.deleted, 5);
  r = await k.client.deleteByQuery({ index: 'dbq_max', body: { query: { term: { tag: 'nothing' } } } });
  assert.equal(r.body.total, 0);
  assert.equal(r.body.deleted, 0);
  assert.equal(r.body.batches, 0);
});

test('a document changed or deleted since the view is a conflict: abort answers 409, proceed counts it', async () => {
  await load('dbq_c', 20, 1, '-1');
  // deleted but not refreshed: still in the searchable view, gone from the store
  await k.client.delete({ index: 'dbq_c', id: 'd4' });
  await k.client.index({ index: 'dbq_c', id: 'd6', body: { n: 6, parity: 'even', tag: 'changed' } });
  let e = await expectError(() => k.client.deleteByQuery({ index: 'dbq_c', body: { query: { term: { parity: 'even' } } } }));
  assert.equal(e.statusCode, 409);
  assert.equal(e.body.version_conflicts, 1);
  assert.equal(e.body.failures.length, 1);
  assert.equal(e.body.failures[0].status, 409);
  assert.equal(e.body.failures[0].cause.type, 'version_conflict_engine_exception');
  assert.equal(e.body.deleted, 2); // d0, d2 went before d4 stopped it
  await k.client.indices.refresh({ index: 'dbq_c' });
  await k.client.delete({ index: 'dbq_c', id: 'd8' }); // not refreshed again: a conflict once more
  const r = await k.client.deleteByQuery({ index: 'dbq_c', conflicts: 'proceed', refresh: true, body: { query: { term: { parity: 'even' } } } });
  assert.equal(r.statusCode, 200);
  assert.equal(r.body.version_conflicts, 1);
  assert.equal(r.body.deleted, 6); // d6 (its new version is in the view now), d10 .. d18; not d8
  assert.equal(await count('dbq_c', { term: { parity: 'even' } }), 0);
  assert.equal(await count('dbq_c'), 10);
});

test('date math in the query is relative to the wall clock ("now-1d"), as in _search', async () => {
  await k.client.indices.create({ index: 'dbq_date', body: { mappings: { properties: { at: { type: 'date' } } } } });
  const day = 86400000, now = Date.now();
  await k.client.bulk({ refresh: true, body: [
    { index: { _index: 'dbq_date', _id: 'old' } }, { at: now - 3 * day },
    { index: { _index: 'dbq_date', _id: 'new' } }, { at: now - 3600000 },
  ] });
  const r = await k.client.deleteByQuery({ index: 'dbq_date', refresh: true, body: { query: { range: { at: { lt: 'now-1d' } } } } });
  assert.equal(r.body.deleted, 1);
  assert.equal((await k.client.get({ index: 'dbq_date', id: 'new' })).body.found, true);
  await expectError(() => k.client.get({ index: 'dbq_date', id: 'old' }));
});

test('bad requests get ES errors and delete nothing', async () => {
  await load('dbq_e', 10, 1);
  const bad = [
    [{ index: 'dbq_e', body: {} }, 'action_request_validation_exception', /query is missing/],
    [{ index: 'dbq_e', body: { query: { nope: {} } } }, 'parsing_exception', /unknown query \[nope\]/],
    [{ index: 'dbq_e', conflicts: 'sometimes', body: { query: { match_all: {} } } }, 'illegal_argument_exception', /conflicts/],
    [{ index: 'dbq_e', wait_for_completion: false, body: { query: { match_all: {} } } }, 'illegal_argument_exception', /wait_for_completion/],
    [{ index: 'dbq_e', body: { max_docs: 0, query: { match_all: {} } } }, 'action_request_validation_exception', /maxDocs/],
    [{ index: 'dbq_missing', body: { query: { match_all: {} } } }, 'index_not_found_exception', /dbq_missing/],
  ];
  for (const [params, type, re] of bad) {
    const e = await expectError(() => k.client.deleteByQuery(params));
    assert.equal(e.body.error.type, type, JSON.stringify(params));
    assert.match(e.body.error.reason, re);
  }
  assert.equal(await count('dbq_e'), 10);
});

test("the API-spec story's requests and payloads (its response schema is unsatisfiable: see skip.yaml)", async () => {
  await k.client.indices.create({ index: 'books', body: { settings: { refresh_interval: '-1' } } });
  await k.client.bulk({ refresh: true, body: [
    { create: { _index: 'books', _id: 'book_1392214' } }, { author: 'Harper Lee', title: 'To Kill a Mockingbird', year: 1960 },
    { create: { _index: 'books', _id: 'book_1392215' } }, { author: 'Elizabeth Rudnick', title: 'Beauty and the Beast', year: 1991 },
  ] });
  let r = await k.client.deleteByQuery({ index: 'books', body: { query: { term: { title: { _name: 'title', value: 'beauty', case_insensitive: true, boost: 1 } } } } });
  assert.equal(r.body.total, 1);
  assert.equal(r.body.deleted, 1);
  r = await k.client.deleteByQuery({ index: 'books', refresh: true, conflicts: 'proceed', body: { query: { match_all: {} } } });
  assert.equal(r.body.total, 2); // the first delete is not refreshed yet: still in the view
  assert.equal(r.body.deleted, 1);
  assert.equal(await count('books'), 0);
});
