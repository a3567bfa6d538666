'use strict';
// Server lifecycle and concurrency: shards and routing, many concurrent writers (group commit),
// SIGTERM finishing in-flight requests (issue 2: "in-flight requests finish, everything
// acknowledged is durable").
const assert = require('node:assert/strict');
const http = require('node:http');
const { useServer } = require('./lib/fixture');
const { request } = require('./lib/server');

const k = useServer();
const test = k.test;

test('an index with several shards stores and finds every document; routing is honoured', async () => {
  const c = await k.client.indices.create({ index: 'sharded', body: { settings: { number_of_shards: 3 } } });
  assert.equal(c.statusCode, 200);
  const body = [];
  for (let i = 0; i < 300; i++) body.push({ index: { _index: 'sharded', _id: `s${i}` } }, { i });
  const b = await k.client.bulk({ body });
  assert.equal(b.body.errors, false);
  for (let i = 0; i < 300; i += 7) {
    const g = await k.client.get({ index: 'sharded', id: `s${i}` });
    assert.deepEqual(g.body._source, { i });
  }
  const r = await k.client.index({ index: 'sharded', id: 'routed', routing: 'user-42', body: { r: 1 } });
  assert.equal(r.statusCode, 201);
  const g = await k.client.get({ index: 'sharded', id: 'routed', routing: 'user-42' });
  assert.deepEqual(g.body._source, { r: 1 });
  await k.client.indices.refresh({ index: 'sharded' }); // docs.count counts refreshed documents
  const cat = await k.client.cat.indices({ index: 'sharded', format: 'json' });
  assert.equal(cat.body[0].pri, '3');
  assert.equal(cat.body[0]['docs.count'], '301');
});

test('50 concurrent single-document writers are all acknowledged and stored', async () => {
  await k.client.indices.create({ index: 'concurrent', body: { settings: { number_of_shards: 2 } } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const writes = [];
  for (let i = 0; i < 50; i++) writes.push(request(k.url, 'PUT', `/concurrent/_doc/c${i}`, { i, s: 'x'.repeat(i * 10) }, {}, { agent }));
  const res = await Promise.all(writes);
  agent.destroy();
  for (const r of res) assert.equal(r.status, 201, r.text);
  const seqs = new Set(res.map((r) => `${r.body._seq_no}`));
  assert.ok(seqs.size >= 25, 'sequence numbers are per shard and distinct within a shard');
  await k.restart('SIGKILL');
  for (let i = 0; i < 50; i++) {
    const g = await k.client.get({ index: 'concurrent', id: `c${i}` });
    assert.deepEqual(g.body._source, { i, s: 'x'.repeat(i * 10) });
  }
});

test('SIGTERM lets in-flight bulk requests finish; what was acknowledged survives', async (t) => {
  await k.client.indices.create({ index: 'term' });
  const mk = (n) => {
    const lines = [];
    for (let i = 0; i < 2000; i++) lines.push(JSON.stringify({ index: { _id: `t${n}-${i}` } }), JSON.stringify({ n, i, pad: 'p'.repeat(200) }));
    return lines.join('\n') + '\n';
  };
  const bodies = [mk(0), mk(1), mk(2), mk(3)];
  const inflight = bodies.map((b) => request(k.url, 'POST', '/term/_bulk', b, { 'Content-Type': 'application/x-ndjson' }).then((r) => r, (e) => ({ status: 0, error: e })));
  await new Promise((r) => setTimeout(r, 30));
  const stopped = k.srv.stop({ signal: 'SIGTERM', removeData: false, timeoutMs: 20000 });
  const res = await Promise.all(inflight);
  const exit = await stopped;
  assert.equal(exit.signal, null, `kiln did not exit by itself after SIGTERM: ${JSON.stringify(exit)}`);
  assert.equal(exit.code, 0, `exit code after SIGTERM: ${exit.code}`);
  const acked = res.map((r, n) => [r, n]).filter(([r]) => r.status === 200);
  t.diagnostic(`${acked.length}/${res.length} bulk requests answered 200 across SIGTERM; others: ${res.filter((r) => r.status !== 200).map((r) => r.status || (r.error && r.error.code)).join(',') || 'none'}`);
  for (const [r] of acked) assert.equal(r.body.errors, false);
  // requests that reached the server before SIGTERM must not be cut off mid-way
  for (const r of res) assert.ok(r.status === 200 || r.status === 0 || r.status === 503, `answer during shutdown: ${r.status} ${r.text && r.text.slice(0, 200)}`);
  await k.restart('SIGTERM'); // srv is stopped already: this only starts it again
  for (const [, n] of acked) {
    for (const i of [0, 999, 1999]) {
      const g = await k.client.get({ index: 'term', id: `t${n}-${i}` });
      assert.equal(g.body._source.i, i);
    }
  }
});
