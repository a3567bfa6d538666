'use strict';
// Index APIs through the real OpenSearch JS client (Elasticsearch semantics, issue 2).
const assert = require('node:assert/strict');
const { useServer, expectError } = require('./lib/fixture');

const k = useServer();
const test = k.test;

test('create index with settings and mappings, read it back', async () => {
  const r = await k.client.indices.create({
    index: 'books',
    body: {
      settings: { number_of_shards: 2 },
      mappings: {
        properties: {
          title: { type: 'text' },
          isbn: { type: 'keyword' },
          pages: { type: 'integer' },
          price: { type: 'double' },
          published: { type: 'date' },
          in_print: { type: 'boolean' },
          author: { properties: { name: { type: 'text' }, born: { type: 'short' } } },
        },
      },
    },
  });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.body, { acknowledged: true, shards_acknowledged: true, index: 'books' });

  const m = await k.client.indices.getMapping({ index: 'books' });
  const props = m.body.books.mappings.properties;
  assert.equal(props.title.type, 'text');
  assert.equal(props.isbn.type, 'keyword');
  assert.equal(props.pages.type, 'integer');
  assert.equal(props.price.type, 'double');
  assert.equal(props.published.type, 'date');
  assert.equal(props.in_print.type, 'boolean');
  assert.equal(props.author.properties.born.type, 'short');

  const g = await k.client.indices.get({ index: 'books' });
  assert.ok(g.body.books, 'GET /books has the index');
  assert.equal(String(g.body.books.settings.index.number_of_shards), '2');
  assert.ok(g.body.books.mappings.properties.title);
});

test('HEAD /{index} is 200 for an existing index and 404 otherwise', async () => {
  await k.client.indices.create({ index: 'exists-a' });
  assert.equal((await k.client.indices.exists({ index: 'exists-a' })).body, true);
  assert.equal((await k.client.indices.exists({ index: 'exists-b' })).body, false);
});

test('creating an existing index is 400 resource_already_exists_exception', async () => {
  await k.client.indices.create({ index: 'dup' });
  const e = await expectError(() => k.client.indices.create({ index: 'dup' }));
  assert.equal(e.statusCode, 400);
  assert.equal(e.body.error.type, 'resource_already_exists_exception');
  assert.equal(e.body.status, 400);
});

test('invalid index names are 400 invalid_index_name_exception', async () => {
  // '.' and '..' cannot be sent as a path segment (HTTP stacks normalise them away); the unit
  // test of kiln_index_name_check covers them.
  for (const name of ['UpperCase', '_leading', '-leading', 'has space', 'a*b', 'a?b', 'a"b', 'x'.repeat(256)]) {
    const r = await k.raw('PUT', '/' + encodeURIComponent(name), {});
    assert.equal(r.status, 400, `PUT /${name} → ${r.status} ${r.text}`);
    assert.equal(r.body && r.body.error && r.body.error.type, 'invalid_index_name_exception', `PUT /${name}: ${r.text}`);
  }
});

test('delete index; unknown index is 404 index_not_found_exception', async () => {
  await k.client.indices.create({ index: 'gone' });
  const d = await k.client.indices.delete({ index: 'gone' });
  assert.deepEqual(d.body, { acknowledged: true });
  const e = await expectError(() => k.client.indices.delete({ index: 'gone' }));
  assert.equal(e.statusCode, 404);
  assert.equal(e.body.error.type, 'index_not_found_exception');
  const g = await expectError(() => k.client.indices.get({ index: 'never-was' }));
  assert.equal(g.statusCode, 404);
  assert.equal(g.body.error.type, 'index_not_found_exception');
});

test('PUT _mapping adds a field; changing a field type is refused', async () => {
  await k.client.indices.create({ index: 'mapped', body: { mappings: { properties: { a: { type: 'keyword' } } } } });
  const r = await k.client.indices.putMapping({ index: 'mapped', body: { properties: { b: { type: 'long' } } } });
  assert.deepEqual(r.body, { acknowledged: true });
  const m = await k.client.indices.getMapping({ index: 'mapped' });
  assert.equal(m.body.mapped.mappings.properties.a.type, 'keyword');
  assert.equal(m.body.mapped.mappings.properties.b.type, 'long');
  const e = await expectError(() => k.client.indices.putMapping({ index: 'mapped', body: { properties: { a: { type: 'long' } } } }));
  assert.equal(e.statusCode, 400);
});

test('dynamic mapping follows Elasticsearch rules', async () => {
  await k.client.index({ index: 'dyn', id: '1', body: { s: 'hello', n: 42, f: 1.5, b: true, o: { inner: 'x', deep: { v: 7 } } } });
  const m = await k.client.indices.getMapping({ index: 'dyn' });
  const p = m.body.dyn.mappings.properties;
  assert.equal(p.s.type, 'text');
  assert.deepEqual(p.s.fields, { keyword: { type: 'keyword', ignore_above: 256 } });
  assert.equal(p.n.type, 'long');
  assert.ok(['float', 'double'].includes(p.f.type), `f: ${p.f.type}`);
  assert.equal(p.b.type, 'boolean');
  assert.equal(p.o.properties.inner.type, 'text');
  assert.equal(p.o.properties.deep.properties.v.type, 'long');
});

test('unknown field type in mappings is 400 mapper_parsing_exception', async () => {
  const e = await expectError(() =>
    k.client.indices.create({ index: 'badmap', body: { mappings: { properties: { a: { type: 'no_such_type' } } } } })
  );
  assert.equal(e.statusCode, 400);
  assert.equal(e.body.error.type, 'mapper_parsing_exception');
  assert.equal((await k.client.indices.exists({ index: 'badmap' })).body, false);
});

test('refresh: POST /{index}/_refresh and POST /_refresh', async () => {
  await k.client.indices.create({ index: 'refr' });
  const r = await k.client.indices.refresh({ index: 'refr' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.body._shards.failed, 0);
  const all = await k.raw('POST', '/_refresh');
  assert.equal(all.status, 200);
  assert.equal(all.body._shards.failed, 0);
});

test('cat indices: text with ?v and format=json', async () => {
  await k.client.indices.create({ index: 'cat-a' });
  await k.client.index({ index: 'cat-a', id: '1', body: { x: 1 }, refresh: 'true' });
  const t = await k.raw('GET', '/_cat/indices?v');
  assert.equal(t.status, 200);
  assert.match(t.headers['content-type'], /^text\/plain/);
  const lines = t.text.trim().split('\n');
  assert.match(lines[0], /^health\s+status\s+index\s+uuid\s+pri\s+rep\s+docs\.count\s+docs\.deleted\s+store\.size\s+pri\.store\.size\s*$/);
  assert.ok(lines.some((l) => l.split(/\s+/)[2] === 'cat-a'), t.text);
  const j = await k.client.cat.indices({ format: 'json' });
  const row = j.body.find((x) => x.index === 'cat-a');
  assert.ok(row, JSON.stringify(j.body));
  assert.equal(row['docs.count'], '1');
  assert.ok(['green', 'yellow'].includes(row.health));
  assert.equal(row.status, 'open');
});

test('root and cluster health', async () => {
  const info = await k.client.info();
  for (const f of ['name', 'cluster_name', 'cluster_uuid', 'tagline']) assert.equal(typeof info.body[f], 'string', f);
  assert.match(info.body.version.number, /^\d+\.\d+\.\d+/);
  const h = await k.client.cluster.health();
  assert.ok(['green', 'yellow'].includes(h.body.status));
  assert.equal(h.body.number_of_nodes, 1);
  assert.equal(typeof h.body.cluster_name, 'string');
});

test('index.search.idle.after: an idle shard is refreshed by the next search, which sees every write', async () => {
  // 0s: idle at once, so every scheduled refresh is skipped until a search comes
  let r = await k.raw('PUT', '/idle1', { settings: { index: { search: { idle: { after: '0s' } } } } });
  assert.equal(r.status, 200, r.text);
  const s = await k.raw('GET', '/idle1/_settings');
  assert.equal(s.body.idle1.settings.index.search.idle.after, '0s');
  const nd = (docs) => docs.map((d, i) => `{"index":{"_id":"${i}"}}\n${JSON.stringify(d)}`).join('\n') + '\n';
  r = await k.raw('POST', '/idle1/_bulk', nd([{ t: 'a' }, { t: 'b' }, { t: 'c' }]), { 'Content-Type': 'application/x-ndjson' });
  assert.equal(r.status, 200, r.text);
  const g = await k.raw('GET', '/idle1/_doc/2'); /* gets stay realtime */
  assert.equal(g.status, 200);
  assert.equal(g.body._source.t, 'c');
  r = await k.raw('POST', '/idle1/_search', { query: { match_all: {} } });
  assert.equal(r.body.hits.total.value, 3, r.text);
  r = await k.raw('POST', '/idle1/_bulk?refresh=wait_for', nd([{ t: 'a' }, { t: 'b' }, { t: 'c' }, { t: 'd' }]), { 'Content-Type': 'application/x-ndjson' });
  assert.equal(r.status, 200, r.text);
  r = await k.raw('POST', '/idle1/_count', { query: { term: { t: 'd' } } });
  assert.equal(r.body.count, 1, r.text);
  // the setting is checked like any time value; negative values are refused as by ES
  r = await k.raw('PUT', '/idle2', { settings: { 'index.search.idle.after': '-1' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.error.reason, /index\.search\.idle\.after/);
  r = await k.raw('PUT', '/idle3', { settings: { search: { idle: { after: 'soon' } } } });
  assert.equal(r.status, 400, r.text);
});

test('_forcemerge merges search segments down to max_num_segments, committed on disk', async () => {
  const fs = require('node:fs');
  const path = require('node:path');
  await k.client.indices.create({ index: 'merged', body: { settings: { number_of_shards: 1 } } });
  for (let b = 0; b < 3; b++) { // three refreshes: three segments
    const body = [];
    for (let i = 0; i < 50; i++) body.push({ index: { _index: 'merged', _id: `${b}-${i}` } }, { batch: b, n: i, text: `word${i % 7} batch${b}` });
    await k.client.bulk({ body, refresh: true });
  }
  await k.client.delete({ index: 'merged', id: '1-7', refresh: true });
  await k.client.indices.flush({ index: 'merged' });
  const uuid = (await k.client.indices.get({ index: 'merged' })).body.merged.settings.index.uuid;
  const segDir = path.join(k.srv.dataDir, 'indices', uuid, '0', 'search');
  const segs = () => fs.readdirSync(segDir).filter((f) => f.endsWith('.ksg')).length;
  assert.ok(segs() >= 3, `${segs()} segment files before`);

  const r = await k.raw('POST', '/merged/_forcemerge?max_num_segments=1');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body._shards.successful, 1); // total also counts the (unassigned) replica, as ES
  assert.equal(r.body._shards.failed, 0);
  assert.equal(segs(), 1);
  const c = await k.client.count({ index: 'merged' });
  assert.equal(c.body.count, 149); // the deleted document stays deleted
  const s = await k.client.search({ index: 'merged', body: { query: { match: { text: 'word3 batch2' } }, size: 200 } });
  assert.equal(s.body.hits.total.value, 64); // 50 of batch 2, plus word3 in batches 0 and 1 (7 + 7)

  // after a restart the merged segment is what is on disk
  await k.restart();
  assert.equal((await k.client.count({ index: 'merged' })).body.count, 149);
  assert.equal(segs(), 1);

  assert.equal((await k.raw('POST', '/merged/_forcemerge')).status, 200); // the policy's merges
  const bad = await k.raw('POST', '/merged/_forcemerge?max_num_segments=0');
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.reason, /max_num_segments/);
  const exp = await k.raw('POST', '/merged/_forcemerge?only_expunge_deletes=true');
  assert.equal(exp.status, 400);
  assert.match(exp.body.error.reason, /only_expunge_deletes/);
});

test('PUT _settings: dynamic settings change a live index, survive kill -9, and bad updates change nothing', async () => {
  await k.client.indices.create({ index: 'live' });
  let r = await k.client.indices.putSettings({ index: 'live', body: { index: { refresh_interval: '-1' } } });
  assert.deepEqual(r.body, { acknowledged: true });
  await k.client.index({ index: 'live', id: '1', body: { t: 'hello' } });
  // refresh_interval -1: no background refresh, and an explicit interval is never search idle
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal((await k.client.count({ index: 'live' })).body.count, 0);
  await k.client.indices.putSettings({ index: 'live', body: { 'index.refresh_interval': '100ms' } });
  let count = 0;
  for (let i = 0; i < 100 && count === 0; i++) { // visible once the scheduler picks the new interval
    await new Promise((res) => setTimeout(res, 50));
    count = (await k.client.count({ index: 'live' })).body.count;
  }
  assert.equal(count, 1);

  // index.max_result_window bounds from + size; GET one setting by name, flat or nested
  await k.client.indices.putSettings({ index: 'live', body: { settings: { max_result_window: 5 } } });
  let e = await expectError(() => k.client.search({ index: 'live', body: { size: 6 } }));
  assert.equal(e.statusCode, 400);
  assert.match(e.body.error.reason, /less than or equal to: \[5\] but was \[6\].*index\.max_result_window/);
  assert.equal((await k.client.search({ index: 'live', body: { size: 5 } })).body.hits.total.value, 1);
  r = await k.raw('GET', '/live/_settings/index.max_result_window');
  assert.deepEqual(r.body, { live: { settings: { index: { max_result_window: '5' } } } });
  r = await k.raw('GET', '/live/_settings/refresh*?flat_settings=true');
  assert.deepEqual(r.body, { live: { settings: { 'index.refresh_interval': '100ms' } } });

  // one bad key fails the whole update, with ES's message, and changes nothing
  const bad = [
    [{ index: { number_of_shards: 3 } }, /Can't update non dynamic settings \[\[index\.number_of_shards\]\] for open indices \[\[live\//],
    [{ 'index.uuid': 'x' }, /can not update private setting \[index\.uuid\]/],
    [{ max_result_window: 7, colour: 'red' }, /unknown setting \[index\.colour\]/],
    [{ refresh_interval: 'soon' }, /failed to parse setting \[index\.refresh_interval\] with value \[soon\]/],
    [{ max_result_window: 0 }, /must be >= 1/],
    [{ number_of_replicas: 'two' }, /Failed to parse value \[two\] for setting \[index\.number_of_replicas\]/],
  ];
  for (const [body, re] of bad) {
    e = await expectError(() => k.client.indices.putSettings({ index: 'live', body }));
    assert.equal(e.statusCode, 400, JSON.stringify(body));
    assert.equal(e.body.error.type, 'illegal_argument_exception');
    assert.match(e.body.error.reason, re);
  }
  r = await k.raw('PUT', '/live/_settings', {});
  assert.equal(r.status, 400);
  assert.equal(r.body.error.type, 'action_request_validation_exception');
  r = await k.raw('PUT', '/live/_settings', '{"index": ');
  assert.equal(r.status, 400);

  // acknowledged means durable: the settings are there after kill -9
  await k.restart('SIGKILL');
  let s = (await k.client.indices.getSettings({ index: 'live' })).body.live.settings.index;
  assert.equal(s.max_result_window, '5');
  assert.equal(s.refresh_interval, '100ms');
  assert.equal(s.number_of_shards, '1');

  // null resets a setting to its default, which include_defaults shows
  await k.client.indices.putSettings({ index: 'live', body: { index: { max_result_window: null } } });
  r = await k.raw('GET', '/live/_settings?include_defaults=true');
  assert.equal(r.body.live.settings.index.max_result_window, undefined);
  assert.equal(r.body.live.defaults.index.max_result_window, '10000');
  assert.equal(r.body.live.defaults.index.refresh_interval, undefined); // set, so not a default
  assert.equal((await k.client.search({ index: 'live', body: { size: 6 } })).statusCode, 200);

  // PUT /_settings applies to every index; creation checks the window too
  await k.client.indices.create({ index: 'other' });
  await k.client.indices.putSettings({ body: { index: { number_of_replicas: 0 } } });
  r = await k.raw('GET', '/_settings/number_of_replicas');
  assert.equal(r.body.live.settings.index.number_of_replicas, '0');
  assert.equal(r.body.other.settings.index.number_of_replicas, '0');
  r = await k.raw('PUT', '/win0', { settings: { index: { max_result_window: 0 } } });
  assert.equal(r.status, 400, r.text);
});

test('GET _mapping/field/{fields}: full names, wildcards, multi-fields and objects', async () => {
  await k.client.indices.create({ index: 'fm', body: { mappings: { properties: {
    title: { type: 'text', fields: { raw: { type: 'keyword' } } },
    year: { type: 'integer' },
    author: { properties: { name: { type: 'keyword' } } },
  } } } });
  let r = await k.client.indices.getFieldMapping({ index: 'fm', fields: 'title.raw,year' });
  assert.deepEqual(r.body, { fm: { mappings: {
    'title.raw': { full_name: 'title.raw', mapping: { raw: { type: 'keyword' } } },
    year: { full_name: 'year', mapping: { year: { type: 'integer' } } },
  } } });
  r = await k.raw('GET', '/_mapping/field/author.*');
  assert.deepEqual(r.body.fm.mappings, { 'author.name': { full_name: 'author.name', mapping: { name: { type: 'keyword' } } } });
  r = await k.raw('GET', '/fm/_mapping/field/nothing*');
  assert.deepEqual(r.body, { fm: { mappings: {} } });
  r = await k.raw('GET', '/missing/_mapping/field/x');
  assert.equal(r.status, 404);
});

test('_cat/count counts searchable documents, as ES (a _count of match_all); GET /_cat lists the _cat APIs', async () => {
  await k.client.indices.create({ index: 'catc', body: { settings: { refresh_interval: '-1' } } });
  await k.client.bulk({ refresh: true, body: [{ index: { _index: 'catc', _id: '1' } }, { a: 1 }, { index: { _index: 'catc', _id: '2' } }, { a: 2 }] });
  await k.client.index({ index: 'catc', id: '3', body: { a: 3 } }); // not refreshed: not counted yet
  let r = await k.raw('GET', '/_cat/count/catc?format=json');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.length, 1);
  assert.equal(r.body[0].count, '2');
  assert.match(r.body[0].epoch, /^\d+$/);
  assert.match(r.body[0].timestamp, /^\d\d:\d\d:\d\d$/);
  r = await k.raw('GET', '/_cat/count/catc?v&h=count');
  assert.equal(r.text, 'count\n    2\n');
  r = await k.raw('GET', '/_cat/count?format=json');
  assert.ok(Number(r.body[0].count) >= 2);
  r = await k.raw('GET', '/_cat/count/nope');
  assert.equal(r.status, 404);
  r = await k.raw('GET', '/_cat');
  assert.equal(r.status, 200);
  assert.match(r.text, /^=\^\.\^=\n/);
  assert.match(r.text, /\/_cat\/count\n/);
});

test('index.blocks.*: write, read_only, read_only_allow_delete and read refuse what ES refuses, with 403 cluster_block_exception', async () => {
  await k.client.indices.create({ index: 'blk' });
  await k.client.index({ index: 'blk', id: '1', body: { a: 1 }, refresh: true });
  const put = (s) => k.raw('PUT', '/blk/_settings', { index: { blocks: s } });
  const expect403 = (r, what) => {
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.type, 'cluster_block_exception');
    assert.match(r.body.error.reason, new RegExp(`index \\[blk\\] blocked by: \\[FORBIDDEN/${what}`));
  };
  const nd = (lines) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  const bulk = () => k.raw('POST', '/_bulk', nd([{ index: { _index: 'blk', _id: '9' } }, { a: 9 }]), { 'Content-Type': 'application/x-ndjson' });

  assert.equal((await put({ write: true })).status, 200);
  expect403(await k.raw('PUT', '/blk/_doc/2', { a: 2 }), '8/index write');
  expect403(await k.raw('DELETE', '/blk/_doc/1'), '8/index write');
  let b = await bulk();
  assert.equal(b.body.errors, true);
  assert.equal(b.body.items[0].index.status, 403);
  assert.equal(b.body.items[0].index.error.type, 'cluster_block_exception');
  assert.equal((await k.raw('GET', '/blk/_doc/1')).status, 200); // reads go on
  assert.equal((await k.raw('PUT', '/blk/_mapping', { properties: { z: { type: 'keyword' } } })).status, 200);

  assert.equal((await put({ write: false, read_only: true })).status, 200);
  expect403(await k.raw('PUT', '/blk/_mapping', { properties: { y: { type: 'keyword' } } }), '5/index read-only');
  expect403(await k.raw('PUT', '/blk/_settings', { index: { refresh_interval: '2s' } }), '5/index read-only');
  expect403(await k.raw('POST', '/blk/_delete_by_query', { query: { match_all: {} } }), '5/index read-only');

  // read_only_allow_delete: deletes only (the disk-flood block ES sets)
  assert.equal((await put({ read_only: null, read_only_allow_delete: true })).status, 200);
  expect403(await k.raw('PUT', '/blk/_doc/3', { a: 3 }), '12/index read-only / allow delete');
  assert.equal((await k.raw('DELETE', '/blk/_doc/1')).status, 200);

  // read: searches and gets refused; blocks survive a restart (persisted settings)
  assert.equal((await put({ read_only_allow_delete: null, read: true })).status, 200);
  await k.restart('SIGKILL');
  expect403(await k.raw('POST', '/blk/_search', { query: { match_all: {} } }), '7/index read');
  expect403(await k.raw('GET', '/blk/_doc/1'), '7/index read');
  const mg = await k.raw('POST', '/_mget', { docs: [{ _index: 'blk', _id: '1' }] });
  assert.equal(mg.status, 200); // _mget answers each doc: this one with the block
  assert.equal(mg.body.docs[0].error.type, 'cluster_block_exception');
  assert.equal((await k.raw('PUT', '/blk/_doc/4', { a: 4 })).status, 201); // writes go on
  assert.equal((await put({ read: 'maybe' })).status, 400);
  assert.equal((await put({ read: false })).status, 200);
  assert.equal((await k.raw('GET', '/blk/_doc/4')).status, 200);
  b = await bulk();
  assert.equal(b.body.errors, false);
});

test('index.codec: default (LZ4) and best_compression (zstd) store documents that survive a restart', async () => {
  for (const codec of ['default', 'best_compression']) {
    const index = `codec-${codec.replace('_', '-')}`;
    await k.client.indices.create({ index, body: { settings: { 'index.codec': codec } } });
    const s = await k.client.indices.getSettings({ index });
    assert.equal(s.body[index].settings.index.codec, codec);
    const body = [];
    for (let i = 0; i < 300; i++) body.push({ index: { _index: index, _id: String(i) } }, { n: i, text: `document ${i} `.repeat(20) });
    assert.equal((await k.client.bulk({ body })).body.errors, false);
    await k.client.indices.flush({ index }); // into a stored-documents file
  }
  await k.restart('SIGKILL');
  for (const codec of ['default', 'best_compression']) {
    const index = `codec-${codec.replace('_', '-')}`;
    for (const i of [0, 151, 299]) {
      const g = await k.client.get({ index, id: String(i) });
      assert.deepEqual(g.body._source, { n: i, text: `document ${i} `.repeat(20) });
    }
  }
  const e = await expectError(() => k.client.indices.create({ index: 'codec-bad', body: { settings: { 'index.codec': 'snappy' } } }));
  assert.equal(e.statusCode, 400);
  assert.equal(e.body.error.type, 'illegal_argument_exception');
  assert.match(e.body.error.reason, /unknown value for \[index.codec\].*but was: snappy/);
  const u = await expectError(() => k.client.indices.putSettings({ index: 'codec-default', body: { 'index.codec': 'best_compression' } }));
  assert.equal(u.statusCode, 400); // a static setting
});
