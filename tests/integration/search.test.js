'use strict';
// Search through the real OpenSearch JS client: refresh visibility, _count, a basic query (issue 4).
const assert = require('node:assert/strict');
const { useServer } = require('./lib/fixture');

const k = useServer();
const test = k.test;

const count = async (index) => (await k.client.count({ index })).body.count;

test('writes become visible to search after a refresh, not before', async () => {
  await k.client.indices.create({ index: 'vis', body: { settings: { refresh_interval: '-1' } } });
  await k.client.index({ index: 'vis', id: '1', body: { t: 'one' } });
  assert.equal(await count('vis'), 0, 'not searchable before a refresh (refresh_interval -1)');
  assert.deepEqual((await k.client.get({ index: 'vis', id: '1' })).body._source, { t: 'one' }, 'GET is real time');
  await k.client.indices.refresh({ index: 'vis' });
  assert.equal(await count('vis'), 1);
  await k.client.index({ index: 'vis', id: '2', body: { t: 'two' }, refresh: 'wait_for' });
  assert.equal(await count('vis'), 2, 'refresh=wait_for returns once the write is searchable');
  await k.client.index({ index: 'vis', id: '3', body: { t: 'three' }, refresh: 'true' });
  assert.equal(await count('vis'), 3, 'refresh=true');
  await k.client.bulk({ index: 'vis', refresh: 'true', body: [{ delete: { _id: '1' } }] });
  assert.equal(await count('vis'), 2, 'a refreshed delete disappears from search');
});

test('the default refresh interval makes writes searchable within about a second', async () => {
  await k.client.indices.create({ index: 'auto' });
  await k.client.index({ index: 'auto', id: '1', body: { t: 'x' } });
  const t0 = Date.now();
  while ((await count('auto')) === 0) {
    assert.ok(Date.now() - t0 < 5000, 'not searchable 5 s after the write');
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('match query, bool filter, sort and hits shape', async () => {
  await k.client.indices.create({
    index: 'shop',
    body: { mappings: { properties: { name: { type: 'text' }, brand: { type: 'keyword' }, price: { type: 'double' } } } },
  });
  await k.client.bulk({
    index: 'shop',
    refresh: 'true',
    body: [
      { index: { _id: 'a' } }, { name: 'red wool scarf', brand: 'acme', price: 20 },
      { index: { _id: 'b' } }, { name: 'blue wool hat', brand: 'acme', price: 15 },
      { index: { _id: 'c' } }, { name: 'red cotton shirt', brand: 'other', price: 30 },
    ],
  });
  const r = await k.client.search({
    index: 'shop',
    body: { query: { bool: { must: [{ match: { name: 'wool' } }], filter: [{ term: { brand: 'acme' } }] } }, sort: [{ price: 'asc' }] },
  });
  assert.equal(r.body.hits.total.value, 2);
  assert.equal(r.body.hits.total.relation, 'eq');
  assert.deepEqual(r.body.hits.hits.map((h) => h._id), ['b', 'a']);
  assert.deepEqual(r.body.hits.hits[0].sort, [15]);
  assert.equal(r.body.hits.hits[0]._index, 'shop');
  assert.deepEqual(r.body.hits.hits[1]._source, { name: 'red wool scarf', brand: 'acme', price: 20 });
  assert.equal(typeof r.body.took, 'number');
  assert.equal(r.body.timed_out, false);
  const scored = await k.client.search({ index: 'shop', body: { query: { match: { name: 'red' } } } });
  assert.equal(scored.body.hits.total.value, 2);
  assert.ok(scored.body.hits.max_score > 0);
  assert.equal(await count('shop'), 3);
});
