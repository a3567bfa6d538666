'use strict';
// _bulk through the real OpenSearch JS client, and its error cases over raw HTTP (issue 2).
const assert = require('node:assert/strict');
const { useServer } = require('./lib/fixture');

const k = useServer({ args: ['--max-body', '1mb'] });
const test = k.test;

test('bulk index/create/update/delete: one result per item, in order', async () => {
  const r = await k.client.bulk({
    body: [
      { index: { _index: 'bulk1', _id: '1' } },
      { title: 'one', n: 1 },
      { create: { _index: 'bulk1', _id: '2' } },
      { title: 'two', n: 2 },
      { index: { _index: 'bulk1' } },
      { title: 'generated id' },
      { update: { _index: 'bulk1', _id: '1' } },
      { doc: { extra: true } },
      { delete: { _index: 'bulk1', _id: '2' } },
      { delete: { _index: 'bulk1', _id: 'missing' } },
    ],
  });
  assert.equal(r.statusCode, 200);
  assert.equal(typeof r.body.took, 'number');
  assert.equal(r.body.errors, false);
  const it = r.body.items;
  assert.equal(it.length, 6);
  assert.equal(it[0].index.result, 'created');
  assert.equal(it[0].index.status, 201);
  assert.equal(it[0].index._id, '1');
  assert.equal(it[1].create.result, 'created');
  assert.equal(it[2].index.status, 201);
  assert.ok(it[2].index._id);
  assert.equal(it[3].update.result, 'updated');
  assert.equal(it[3].update.status, 200);
  assert.equal(it[4].delete.result, 'deleted');
  assert.equal(it[5].delete.result, 'not_found');
  assert.equal(it[5].delete.status, 404);
  const g = await k.client.get({ index: 'bulk1', id: '1' });
  assert.deepEqual(g.body._source, { title: 'one', n: 1, extra: true });
});

test('one bad item never sinks the others; errors flag is set', async () => {
  await k.client.index({ index: 'bulk2', id: 'taken', body: { v: 0 } });
  const r = await k.client.bulk({
    body: [
      { index: { _index: 'bulk2', _id: 'a' } },
      { v: 1 },
      { create: { _index: 'bulk2', _id: 'taken' } },
      { v: 2 },
      { update: { _index: 'bulk2', _id: 'absent' } },
      { doc: { v: 3 } },
      { index: { _index: 'bulk2', _id: '' } },
      { v: 4 },
      { index: { _index: 'bulk2', _id: 'b' } },
      { v: 5 },
    ],
  });
  assert.equal(r.body.errors, true);
  const it = r.body.items;
  assert.equal(it[0].index.status, 201);
  assert.equal(it[1].create.status, 409);
  assert.equal(it[1].create.error.type, 'version_conflict_engine_exception');
  assert.equal(it[2].update.status, 404);
  assert.equal(it[2].update.error.type, 'document_missing_exception');
  assert.equal(it[3].index.status, 400);
  assert.equal(it[3].index.error.type, 'illegal_argument_exception');
  assert.equal(it[4].index.status, 201);
  assert.deepEqual((await k.client.get({ index: 'bulk2', id: 'taken' })).body._source, { v: 0 });
  assert.deepEqual((await k.client.get({ index: 'bulk2', id: 'b' })).body._source, { v: 5 });
});

test('POST /{index}/_bulk uses the path index as default', async () => {
  const r = await k.client.bulk({ index: 'bulk3', body: [{ index: { _id: '1' } }, { a: 1 }, { index: { _index: 'bulk3b', _id: '1' } }, { b: 1 }] });
  assert.equal(r.body.errors, false);
  assert.equal(r.body.items[0].index._index, 'bulk3');
  assert.equal(r.body.items[1].index._index, 'bulk3b');
  assert.equal((await k.client.exists({ index: 'bulk3', id: '1' })).body, true);
});

test('PUT /_bulk works like POST, with ?refresh', async () => {
  const r = await k.raw('PUT', '/_bulk?refresh=true', [{ index: { _index: 'bulk4', _id: '1' } }, { a: 1 }]);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.errors, false);
});

test('malformed NDJSON is a 400 for the whole request', async () => {
  const r = await k.raw('POST', '/_bulk', '{"index":{"_index":"bulk5","_id":"1"}}\n{"a":1\n', { 'Content-Type': 'application/x-ndjson' });
  assert.ok(r.status === 400 || (r.status === 200 && r.body.errors === true && r.body.items[0].index.status === 400), `${r.status} ${r.text}`);
  const r2 = await k.raw('POST', '/_bulk', '{"nonsense":{}}\n{"a":1}\n', { 'Content-Type': 'application/x-ndjson' });
  assert.equal(r2.status, 400, r2.text);
  assert.ok(r2.body && r2.body.error, r2.text);
  const r3 = await k.raw('POST', '/_bulk', '', { 'Content-Type': 'application/x-ndjson' });
  assert.equal(r3.status, 400, r3.text);
});

test('action lines: metadata keys, integer ids, op_type, duplicate keys and errors read as before', async () => {
  const nd = (lines) => lines.join('\n') + '\n';
  const post = (lines) => k.raw('POST', '/_bulk', nd(lines), { 'Content-Type': 'application/x-ndjson' });
  let r = await post([
    '{"index":{"_index":"bulkact","_id":7}}', '{"a":1}', // integer _id
    '{"index":{"_index":"bulkact","_id":"r","routing":"x"}}', '{"a":2}',
    '{"index":{"_index":"bulkact","_id":"c","op_type":"create"}}', '{"a":3}', // reported as create
    '{"index":{"_index":"bulkact","_id":"d","_id":"e"}}', '{"a":4}', // duplicate key: the last wins
    '{"index":{"_index":"bulkact","_id":"7","if_seq_no":999,"if_primary_term":1}}', '{"a":5}',
    ' {"delete" : {"_index":"bulkact","_id":"r"}} ',
  ]);
  assert.equal(r.status, 200, r.text);
  const it = r.body.items;
  assert.equal(it[0].index._id, '7');
  assert.equal(it[0].index.status, 201);
  assert.equal(it[1].index.status, 201);
  assert.equal(it[2].create.status, 201);
  assert.equal(it[3].index._id, 'e');
  assert.equal(it[4].index.status, 409);
  assert.equal(it[4].index.error.type, 'version_conflict_engine_exception');
  assert.equal(it[5].delete.result, 'deleted');
  const cases = [
    ['{}', 'Malformed action/metadata line [1], expected FIELD_NAME but found [END_OBJECT]'],
    ['{"index":{},"delete":{}}', 'Malformed action/metadata line [1], expected a JSON object with one key (index, create, update or delete)'],
    ['{"upsert":{}}', 'Malformed action/metadata line [1], expected one of [create, delete, index, update] but found [upsert]'],
    ['{"index":"x"}', 'Malformed action/metadata line [1], expected START_OBJECT after the action name'],
  ];
  for (const [line, reason] of cases) {
    r = await post([line, '{"a":1}']);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.reason, reason);
  }
  r = await post(['{"index":{"_index":"bulkact"']);
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.error.reason, /^Malformed action\/metadata line \[1\], expected a JSON object with one key \(index, create, update or delete\): /);
});

test('document sources: invalid JSON keeps jansson\'s message, values are indexed as parsed', async () => {
  const post = (body) => k.raw('POST', '/bulksrc/_bulk?refresh=true', body, { 'Content-Type': 'application/x-ndjson' });
  let r = await post('{"index":{"_id":"1"}}\n{"a":1,"a":2}\n{"index":{"_id":"2"}}\n{"a":"\\ud800"}\n' +
    '{"index":{"_id":"3"}}\n{"a":[1,}\n{"index":{"_id":"4"}}\n{"t":"caf\\u00e9 cr\\u00e8me","n":12,"p":2.50}\n');
  assert.equal(r.status, 200, r.text);
  const it = r.body.items;
  assert.equal(it[0].index.error.reason, 'failed to parse source: duplicate object key near \'"a"\' at line 1, column 10');
  assert.equal(it[1].index.error.reason, "failed to parse source: invalid Unicode '\\uD800' near '\"\\ud800\"' at line 1, column 13");
  assert.equal(it[2].index.error.type, 'mapper_parsing_exception');
  assert.match(it[2].index.error.reason, /^failed to parse source: unexpected token near '}'/);
  assert.equal(it[3].index.status, 201);
  const s = await k.raw('POST', '/bulksrc/_search', JSON.stringify({ query: { match: { t: 'café' } } }), { 'Content-Type': 'application/json' });
  assert.equal(s.body.hits.total.value, 1, s.text);
  const g = await k.client.get({ index: 'bulksrc', id: '4' });
  assert.deepEqual(g.body._source, { t: 'café crème', n: 12, p: 2.5 });
  const m = await k.client.indices.getMapping({ index: 'bulksrc' });
  assert.equal(m.body.bulksrc.mappings.properties.p.type, 'float');
  assert.equal(m.body.bulksrc.mappings.properties.n.type, 'long');
});

test('a body over the configured limit is 413 and stores nothing', async () => {
  const lines = [];
  for (let i = 0, len = 0; len < 1.5e6; i++) {
    lines.push(JSON.stringify({ index: { _index: 'bulk6', _id: String(i) } }), JSON.stringify({ pad: 'p'.repeat(1000) }));
    len += lines[lines.length - 2].length + lines[lines.length - 1].length + 2;
  }
  // The server reads and drops the body, then answers 413: the client sees the answer, not
  // EPIPE/ECONNRESET while it is still writing.
  const r = await k.raw('POST', '/_bulk', lines.join('\n') + '\n', { 'Content-Type': 'application/x-ndjson' });
  assert.equal(r.status, 413, r.text.slice(0, 300));
  assert.equal((await k.client.indices.exists({ index: 'bulk6' })).body, false);
  const ok = await k.client.bulk({ body: [{ index: { _index: 'bulk6b', _id: '1' } }, { a: 1 }] });
  assert.equal(ok.body.errors, false, 'the server still works after a 413');
});

test('bulk items are durable once acknowledged (SIGKILL restart)', async () => {
  const body = [];
  for (let i = 0; i < 500; i++) body.push({ index: { _index: 'bulk7', _id: `d${i}` } }, { i, s: `doc ${i}` });
  const r = await k.client.bulk({ body });
  assert.equal(r.body.errors, false);
  await k.restart('SIGKILL');
  for (const i of [0, 1, 250, 499]) {
    const g = await k.client.get({ index: 'bulk7', id: `d${i}` });
    assert.deepEqual(g.body._source, { i, s: `doc ${i}` });
  }
});

test('a malformed line anywhere fails the whole request before any item is applied', async () => {
  const body = '{"index":{"_index":"bulkatomic","_id":"1"}}\n{"a":1}\n{"nonsense":{}}\n{"a":2}\n';
  const r = await k.raw('POST', '/_bulk', body, { 'Content-Type': 'application/x-ndjson' });
  assert.equal(r.status, 400, r.text);
  const g = await k.raw('GET', '/bulkatomic/_doc/1');
  assert.equal(g.status, 404, g.text); /* not applied, and the index was not even created */
});

test('large bulks (items prepared in parallel) keep item order, versions and new fields', async () => {
  const lines = [];
  for (let i = 0; i < 300; i++) {
    lines.push(JSON.stringify({ index: { _index: 'bulkpar', _id: String(i % 250) } }));
    // item 120 adds a field (mapping update mid-request); later items use it too
    lines.push(JSON.stringify(i >= 120 ? { n: i, title: `doc ${i}`, extra: i } : { n: i, title: `doc ${i}` }));
    if (i === 200) lines.push(JSON.stringify({ delete: { _index: 'bulkpar', _id: '100' } }));
    if (i === 201) lines.push(JSON.stringify({ create: { _index: 'bulkpar', _id: '4' } }), '{"n":-1}');
  }
  const r = await k.raw('POST', '/_bulk', lines.join('\n') + '\n', { 'Content-Type': 'application/x-ndjson' });
  assert.equal(r.status, 200, r.text);
  const it = r.body.items;
  assert.equal(it.length, 302);
  assert.equal(r.body.errors, true); /* the create of an existing id */
  let seq = -1;
  for (const x of it) {
    const v = Object.values(x)[0];
    if (v.error) continue;
    assert.ok(v._seq_no > seq, 'seq_no grows in item order');
    seq = v._seq_no;
  }
  assert.equal(it[0].index.result, 'created');
  assert.equal(it[0].index._version, 1);
  const second = it.findIndex((x, k2) => k2 > 0 && x.index && x.index._id === '0');
  assert.equal(it[second].index.result, 'updated'); /* id 0 again (item 250) */
  assert.equal(it[second].index._version, 2);
  assert.equal(it[201].delete.result, 'deleted');
  assert.equal(it[203].create.status, 409);
  const g = await k.raw('GET', '/bulkpar/_doc/100');
  assert.equal(g.status, 404, 'deleted by the delete item, never re-indexed after it');
  const g2 = await k.raw('GET', '/bulkpar/_doc/10');
  assert.equal(g2.body._source.n, 260); /* the last write of id 10 wins */
  const m = await k.raw('GET', '/bulkpar/_mapping');
  assert.ok(m.body.bulkpar.mappings.properties.extra, JSON.stringify(m.body));
  await k.raw('POST', '/bulkpar/_refresh');
  const c = await k.raw('POST', '/bulkpar/_count', { query: { range: { extra: { gte: 120 } } } });
  assert.equal(c.body.count, 50 + 130); /* ids 0..49 (rewritten from item 250 on) and 120..249 */
});
