'use strict';
// tools/kiln-udf.js, the command-line tool, against a real server: register from udf.json
// manifests (examples/udfs built into <build>/udfs), list, get, execute, stats, delete.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { useServer } = require('./lib/fixture');

const k = useServer();
const UDFS = path.join(path.dirname(path.resolve(process.env.KILN_BIN || 'build/kiln')), 'udfs');
const TOOL = path.join(__dirname, '..', '..', 'tools', 'kiln-udf.js');

function cli(...args) {
  const r = spawnSync(process.execPath, [TOOL, '--url', k.url, ...args], { encoding: 'utf8' });
  let body = null;
  try { body = JSON.parse(r.stdout); } catch (_) { /* leave null */ }
  return { code: r.status, body, stdout: r.stdout, stderr: r.stderr };
}

test('register every example from its manifest, then use it', () => {
  for (const ex of ['string_distance', 'popularity_boost', 'tag_match', 'wat_min_rating']) {
    const r = cli('register', path.join(UDFS, ex, 'udf.json'));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.body.result, 'created');
  }
  assert.equal(cli('list', '--category', 'string').body.udfs[0].name, 'string_distance');
  assert.equal(cli('get', 'string_distance', '1.0.0').body.function_name, 'calculate_distance');
  const e = cli('execute', 'string_distance', '1.0.0',
    JSON.stringify({ doc: { title: 'kitten' }, params: { field: 'title', target: 'sitting', max_distance: 3 } }));
  assert.equal(e.code, 0, e.stdout);
  assert.equal(e.body.matched, true);
  const e2 = cli('execute', 'string_distance', '1.0.0',
    JSON.stringify({ doc: { title: 'kitten' }, params: { field: 'title', target: 'sitting', max_distance: 2 } }));
  assert.equal(e2.body.matched, false);
  assert.equal(cli('stats', 'string_distance', '1.0.0').body.calls, 2);
});

test('errors exit non-zero with the server message', () => {
  const dup = cli('register', path.join(UDFS, 'string_distance', 'udf.json'));
  assert.equal(dup.code, 1);
  assert.equal(dup.body.status, 409);
  assert.equal(cli('delete', 'string_distance', '1.0.0').code, 0);
  assert.equal(cli('get', 'string_distance', '1.0.0').code, 1);
  assert.equal(cli('bogus').code, 2);
});
