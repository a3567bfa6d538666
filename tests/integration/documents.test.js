'use strict';
// Document APIs through the real OpenSearch JS client (Elasticsearch semantics, issue 2).
const assert = require('node:assert/strict');
const { useServer, expectError } = require('./lib/fixture');

const k = useServer();
const test = k.test;

test('index, overwrite, get, delete a document', async () => {
  const c = await k.client.index({ index: 'docs', id: '1', body: { title: 'first', n: 1 } });
  assert.equal(c.statusCode, 201);
  assert.equal(c.body._index, 'docs');
  assert.equal(c.body._id, '1');
  assert.equal(c.body._version, 1);
  assert.equal(c.body.result, 'created');
  assert.equal(c.body._primary_term, 1);
  assert.equal(typeof c.body._seq_no, 'number');
  assert.equal(c.body._shards.failed, 0);

  const u = await k.client.index({ index: 'docs', id: '1', body: { title: 'second', n: 2 } });
  assert.equal(u.statusCode, 200);
  assert.equal(u.body.result, 'updated');
  assert.equal(u.body._version, 2);
  assert.ok(u.body._seq_no > c.body._seq_no, 'seq_no grows');

  const g = await k.client.get({ index: 'docs', id: '1' });
  assert.equal(g.body.found, true);
  assert.equal(g.body._version, 2);
  assert.equal(g.body._seq_no, u.body._seq_no);
  assert.equal(g.body._primary_term, 1);
  assert.deepEqual(g.body._source, { title: 'second', n: 2 });

  const d = await k.client.delete({ index: 'docs', id: '1' });
  assert.equal(d.body.result, 'deleted');
  assert.equal(d.body._version, 3);

  const e = await expectError(() => k.client.get({ index: 'docs', id: '1' }));
  assert.equal(e.statusCode, 404);
  assert.equal(e.body.found, false);
  assert.equal(e.body._id, '1');

  const e2 = await expectError(() => k.client.delete({ index: 'docs', id: '1' }));
  assert.equal(e2.statusCode, 404);
  assert.equal(e2.body.result, 'not_found');
});

test('POST /{index}/_doc generates an id', async () => {
  const r = await k.client.index({ index: 'gen', body: { a: 1 } });
  assert.equal(r.statusCode, 201);
  assert.equal(r.body.result, 'created');
  assert.ok(typeof r.body._id === 'string' && r.body._id.length >= 10, r.body._id);
  const r2 = await k.client.index({ index: 'gen', body: { a: 2 } });
  assert.notEqual(r2.body._id, r.body._id);
  const g = await k.client.get({ index: 'gen', id: r.body._id });
  assert.deepEqual(g.body._source, { a: 1 });
});

test('_create is 409 version_conflict_engine_exception when the id exists', async () => {
  const c = await k.client.create({ index: 'cr', id: 'x', body: { v: 1 } });
  assert.equal(c.statusCode, 201);
  const e = await expectError(() => k.client.create({ index: 'cr', id: 'x', body: { v: 2 } }));
  assert.equal(e.statusCode, 409);
  assert.equal(e.body.error.type, 'version_conflict_engine_exception');
  const g = await k.client.get({ index: 'cr', id: 'x' });
  assert.deepEqual(g.body._source, { v: 1 }, 'the refused create harmed nothing');
  const p = await k.raw('POST', '/cr/_create/y', { v: 3 });
  assert.equal(p.status, 201, p.text);
});

test('HEAD and GET _source', async () => {
  await k.client.index({ index: 'src', id: 'a', body: { z: [1, 2, 3] } });
  assert.equal((await k.client.exists({ index: 'src', id: 'a' })).body, true);
  assert.equal((await k.client.exists({ index: 'src', id: 'b' })).body, false);
  const s = await k.raw('GET', '/src/_source/a');
  assert.equal(s.status, 200);
  assert.deepEqual(s.body, { z: [1, 2, 3] });
  assert.equal((await k.raw('GET', '/src/_source/b')).status, 404);
});

test('_source comes back byte for byte as stored', async () => {
  const odd = '{ "b" :  2,\n  "a":[1 , 2.50, "x\\u00e9"], "c":{"k":null}   }';
  const r = await k.raw('PUT', '/raw/_doc/1', odd);
  assert.equal(r.status, 201, r.text);
  const g = await k.raw('GET', '/raw/_doc/1');
  assert.equal(g.status, 200);
  assert.ok(g.text.includes(odd), `stored source not verbatim in: ${g.text}`);
  const s = await k.raw('GET', '/raw/_source/1');
  assert.equal(s.text, odd);
});

test('optimistic concurrency: if_seq_no / if_primary_term', async () => {
  const a = await k.client.index({ index: 'occ', id: '1', body: { v: 1 } });
  const ok = await k.client.index({ index: 'occ', id: '1', body: { v: 2 }, if_seq_no: a.body._seq_no, if_primary_term: a.body._primary_term });
  assert.equal(ok.body.result, 'updated');
  const e = await expectError(() => k.client.index({ index: 'occ', id: '1', body: { v: 3 }, if_seq_no: a.body._seq_no, if_primary_term: a.body._primary_term }));
  assert.equal(e.statusCode, 409);
  assert.equal(e.body.error.type, 'version_conflict_engine_exception');
  const e2 = await expectError(() => k.client.delete({ index: 'occ', id: '1', if_seq_no: a.body._seq_no, if_primary_term: 1 }));
  assert.equal(e2.statusCode, 409);
  const g = await k.client.get({ index: 'occ', id: '1' });
  assert.deepEqual(g.body._source, { v: 2 });
});

test('_update: partial doc merge, noop, doc_as_upsert, missing document', async () => {
  await k.client.index({ index: 'upd', id: '1', body: { a: 1, nested: { x: 1, y: 2 } } });
  const u = await k.client.update({ index: 'upd', id: '1', body: { doc: { b: 2, nested: { y: 3 } } } });
  assert.equal(u.body.result, 'updated');
  assert.equal(u.body._version, 2);
  let g = await k.client.get({ index: 'upd', id: '1' });
  assert.deepEqual(g.body._source, { a: 1, nested: { x: 1, y: 3 }, b: 2 });

  const n = await k.client.update({ index: 'upd', id: '1', body: { doc: { b: 2 } } });
  assert.equal(n.body.result, 'noop');
  assert.equal(n.body._version, 2);

  const up = await k.client.update({ index: 'upd', id: '2', body: { doc: { fresh: true }, doc_as_upsert: true } });
  assert.equal(up.statusCode, 201);
  assert.equal(up.body.result, 'created');
  g = await k.client.get({ index: 'upd', id: '2' });
  assert.deepEqual(g.body._source, { fresh: true });

  const e = await expectError(() => k.client.update({ index: 'upd', id: 'nope', body: { doc: { a: 1 } } }));
  assert.equal(e.statusCode, 404);
  assert.equal(e.body.error.type, 'document_missing_exception');
});

test('?refresh=true|wait_for|false is accepted on writes', async () => {
  for (const refresh of ['true', 'wait_for', 'false']) {
    const r = await k.client.index({ index: 'refresh', id: refresh, body: { r: refresh }, refresh });
    assert.ok([200, 201].includes(r.statusCode), refresh);
  }
});

test('unknown index: GET doc is 404 index_not_found_exception', async () => {
  const e = await expectError(() => k.client.get({ index: 'no-such-index', id: '1' }));
  assert.equal(e.statusCode, 404);
  assert.equal(e.body.error.type, 'index_not_found_exception');
});

test('ids: unicode works, over 512 bytes is 400', async () => {
  const r = await k.client.index({ index: 'ids', id: 'ключ/中文 ?&', body: { a: 1 } });
  assert.equal(r.body._id, 'ключ/中文 ?&');
  const g = await k.client.get({ index: 'ids', id: 'ключ/中文 ?&' });
  assert.deepEqual(g.body._source, { a: 1 });
  const e = await expectError(() => k.client.index({ index: 'ids', id: 'x'.repeat(513), body: { a: 1 } }));
  assert.equal(e.statusCode, 400);
  // Elasticsearch's IndexRequest.validate(): "Validation Failed: 1: id [...] is too long, ..."
  assert.equal(e.body.error.type, 'action_request_validation_exception');
  const ok = await k.client.index({ index: 'ids', id: 'y'.repeat(512), body: { a: 1 } });
  assert.equal(ok.statusCode, 201);
});

test('documents survive a clean restart and a SIGKILL restart', async () => {
  await k.client.index({ index: 'durable', id: 'before-term', body: { v: 'term' } });
  await k.restart('SIGTERM');
  let g = await k.client.get({ index: 'durable', id: 'before-term' });
  assert.deepEqual(g.body._source, { v: 'term' });
  await k.client.index({ index: 'durable', id: 'before-kill', body: { v: 'kill' } });
  await k.client.update({ index: 'durable', id: 'before-term', body: { doc: { w: 1 } } });
  await k.restart('SIGKILL');
  g = await k.client.get({ index: 'durable', id: 'before-kill' });
  assert.deepEqual(g.body._source, { v: 'kill' });
  g = await k.client.get({ index: 'durable', id: 'before-term' });
  assert.deepEqual(g.body._source, { v: 'term', w: 1 });
  assert.equal(g.body._version, 2);
});

test('_mget: docs and ids forms, missing documents and missing indices', async () => {
  await k.client.index({ index: 'mg', id: '1', body: { a: 1 } });
  await k.client.index({ index: 'mg', id: '2', body: { a: 2 } });
  const r = await k.client.mget({
    body: { docs: [{ _index: 'mg', _id: '1' }, { _index: 'mg', _id: 'nope' }, { _index: 'mg-missing', _id: '1' }] },
  });
  const d = r.body.docs;
  assert.equal(d.length, 3);
  assert.equal(d[0].found, true);
  assert.deepEqual(d[0]._source, { a: 1 });
  assert.equal(d[0]._version, 1);
  assert.equal(d[1].found, false);
  assert.equal(d[1]._id, 'nope');
  assert.equal(d[2]._index, 'mg-missing');
  assert.equal(d[2].error && d[2].error.type, 'index_not_found_exception', JSON.stringify(d[2]));
  const ids = await k.client.mget({ index: 'mg', body: { ids: ['2', '1'] } });
  assert.deepEqual(ids.body.docs.map((x) => x._source), [{ a: 2 }, { a: 1 }]);
});
