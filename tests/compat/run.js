#!/usr/bin/env node
'use strict';
// Kiln compatibility runner: OpenSearch REST API YAML tests and OpenSearch API-spec test stories
// (responses validated against the OpenAPI spec), in one run.
//
//   node tests/compat/run.js --url http://127.0.0.1:9200 PATH...
//   node tests/compat/run.js --start [--bin build/kiln] PATH...
//
// PATH: files or directories (*.yml REST tests, *.yaml stories; the kind is detected from the
// content). Default PATHs: both suites under ../shared. Options:
//   --skip FILE       skip list (default tests/compat/skip.yaml); --no-skip ignores it
//   --version X.Y.Z   OpenSearch version to emulate for version-gated tests (default: the
//                     server's version.number when it is an OpenSearch-style 1.x-4.x number,
//                     else 2.19.0)
//   --verbose         print every request, skip reason and passing test
//   --md FILE         also write per-file counts as a markdown table
//   --json FILE       also write every result as JSON
//   --filter STR      run only tests whose name contains STR
//   --rest-schema     also validate REST YAML test responses against the OpenAPI spec
//   --check-skips     run skip-listed tests too (still counted as skipped) and list the skip
//                     entries whose tests pass now, so they can be removed
// New failures → skip entries: --json FILE, then `node tests/compat/gen_skips.js FILE`.
// Last line: "N passed, N failed, N skipped". Exit 1 when a non-skipped test failed.
// WARNING: like upstream's runners it deletes every index between tests: never point it at a
// server holding data you need.

const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const C = require('./lib/common');
const { RestYamlRunner, ApiTable } = require('./lib/rest_yaml');
const { StoryRunner } = require('./lib/story');

const REPO = path.resolve(__dirname, '..', '..');

function parseArgs(argv) {
  const o = { paths: [], skip: path.join(__dirname, 'skip.yaml'), useSkip: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--url') o.url = next();
    else if (a === '--start') o.start = true;
    else if (a === '--bin') o.bin = next();
    else if (a === '--data') o.data = next();
    else if (a === '--skip') o.skip = next();
    else if (a === '--no-skip') o.useSkip = false;
    else if (a === '--version') o.version = next();
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--md') o.md = next();
    else if (a === '--json') o.json = next();
    else if (a === '--filter') o.filter = next();
    else if (a === '--check-skips') o.checkSkips = true;
    else if (a === '--rest-schema') o.restSchema = true;
    else if (a === '--shared') o.shared = next();
    else if (a === '-h' || a === '--help') o.help = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.paths.push(a);
  }
  return o;
}

function walk(p) {
  const st = fs.statSync(p);
  if (st.isFile()) return [p];
  const out = [];
  for (const e of fs.readdirSync(p).sort()) {
    const q = path.join(p, e);
    const s = fs.statSync(q);
    if (s.isDirectory()) out.push(...walk(q));
    else if (/\.ya?ml$/.test(e)) out.push(q);
  }
  return out;
}

/** Suite root and kind of a file: walk up to opensearch-rest-tests-like or api-spec-like roots. */
function suiteOf(file) {
  let d = path.dirname(path.resolve(file));
  while (d !== path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'api')) && fs.existsSync(path.join(d, 'test'))) return { kind: 'rest', root: d };
    if (fs.existsSync(path.join(d, 'spec')) && fs.existsSync(path.join(d, 'tests'))) return { kind: 'story', root: d };
    d = path.dirname(d);
  }
  return null;
}

/** Key used by the skip list: "<suite folder name>/<path inside the suite>". */
function keyOf(file, suite) {
  if (!suite) return path.relative(REPO, path.resolve(file)).split(path.sep).join('/');
  return [path.basename(suite.root), path.relative(suite.root, path.resolve(file)).split(path.sep).join('/')].join('/');
}

function loadSkips(file) {
  if (!file || !fs.existsSync(file)) return [];
  const raw = file.endsWith('.json') ? JSON.parse(fs.readFileSync(file, 'utf8')) : YAML.parse(fs.readFileSync(file, 'utf8'));
  const list = Array.isArray(raw) ? raw : raw.skip || [];
  for (const e of list) {
    if (!e.path || !e.reason) throw new Error(`skip list ${file}: every entry needs path and reason (${JSON.stringify(e)})`);
    e.path = e.path.replace(/\/+$/, '');
  }
  return list;
}

/** skipFor(key)(testName|null) → reason or null. testName null asks "is the whole file skipped?" */
function skipper(skips, key) {
  const hits = skips.filter((e) => key === e.path || key.startsWith(e.path + '/'));
  return (name) => {
    for (const e of hits) {
      if (!e.test) return e.reason;
      if (name !== null && [].concat(e.test).includes(name)) return e.reason;
    }
    return null;
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 26).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    return 0;
  }
  const shared = o.shared || process.env.KILN_SHARED || path.resolve(REPO, '..', 'shared');
  if (!o.paths.length) o.paths = [path.join(shared, 'opensearch-rest-tests', 'test'), path.join(shared, 'opensearch-api-spec', 'tests')];
  const skips = o.useSkip ? loadSkips(o.skip) : [];
  const log = (s) => process.stdout.write(s + '\n');

  let server = null;
  if (o.start) {
    const { KilnServer } = require('../integration/lib/server');
    server = new KilnServer({ bin: o.bin, dataDir: o.data });
    await server.start();
    o.url = server.url;
    log(`started kiln pid ${server.pid} at ${server.url}, data ${server.dataDir}`);
  }
  if (!o.url) throw new Error('--url or --start is required');

  let version = o.version ? C.parseVersion(o.version) : null;
  if (!version) {
    let info = null;
    try {
      info = (await C.httpRequest(o.url, 'GET', '/', null)).body;
    } catch (e) {
      throw new Error(`server at ${o.url} does not answer: ${e.message}`);
    }
    const v = info && info.version;
    // An OpenSearch-style number (1.x–4.x) is what the server claims compatibility with; an
    // Elasticsearch-style (5+) or pre-1.0 number says nothing about OpenSearch behaviour.
    const pv = v && C.parseVersion(v.number);
    version = pv && pv[0] >= 1 && pv[0] <= 4 ? pv : [2, 19, 0];
    log(`server: ${info && info.name} version ${v && v.number} (${(v && v.distribution) || 'no distribution'}); tests gated as OpenSearch ${version.join('.')}`);
  }

  let validator = null;
  const specDirFor = (suite) =>
    suite && suite.kind === 'story' ? path.join(suite.root, 'spec') : path.join(shared, 'opensearch-api-spec', 'spec');
  const getValidator = (suite) => {
    if (!validator) {
      const { SpecValidator } = require('./lib/schema');
      validator = new SpecValidator(specDirFor(suite));
    }
    return validator;
  };
  const ctx = {
    url: o.url,
    version,
    verbose: o.verbose,
    restSchema: o.restSchema,
    log,
    validator: () => getValidator(null),
  };

  const files = [];
  for (const p of o.paths) {
    if (!fs.existsSync(p)) throw new Error(`no such path: ${p}`);
    files.push(...walk(p));
  }

  const totals = { pass: 0, fail: 0, skip: 0 };
  const perFile = [];
  const allResults = [];
  const apiTables = new Map();
  const stale = [];
  const t0 = Date.now();
  for (const file of files) {
    const suite = suiteOf(file);
    const key = keyOf(file, suite);
    const listedSkip = skipper(skips, key);
    const skipFor = o.checkSkips ? () => null : listedSkip;
    let kind = suite && suite.kind;
    let results;
    const fileSkip = skipFor(null);
    if (!kind) {
      const head = fs.readFileSync(file, 'utf8');
      kind = /^chapters:/m.test(head) ? 'story' : 'rest';
    }
    if (fileSkip) {
      // do not even parse steps: count the tests so the totals stay honest
      results = countTests(file, kind).map((n) => ({ name: n, status: 'skip', reason: fileSkip }));
    } else if (kind === 'story') {
      getValidator(suite);
      results = await new StoryRunner(ctx).runFile(file, skipFor);
    } else {
      const apiDir = suite ? path.join(suite.root, 'api') : path.join(shared, 'opensearch-rest-tests', 'api');
      if (!apiTables.has(apiDir)) apiTables.set(apiDir, new ApiTable(apiDir));
      results = await new RestYamlRunner({ ...ctx, apis: apiTables.get(apiDir) }).runFile(file, skipFor);
    }
    if (o.filter) results = results.filter((r) => r.name.includes(o.filter));
    if (o.checkSkips) {
      results = results.map((r) => {
        const why = listedSkip(null) || listedSkip(r.name) || listedSkip(r.name.replace(/ \[[A-Z]+\]$/, ''));
        if (!why) return r;
        if (r.status === 'pass') stale.push(`${key}: "${r.name}" (listed: ${why})`);
        return { ...r, status: 'skip', reason: why + (r.status === 'pass' ? ' [passes now]' : '') };
      });
    }
    const c = { pass: 0, fail: 0, skip: 0 };
    for (const r of results) c[r.status]++;
    totals.pass += c.pass;
    totals.fail += c.fail;
    totals.skip += c.skip;
    perFile.push({ key, kind, ...c, skipReason: fileSkip || skipReasons(results) });
    for (const r of results) allResults.push({ file: key, ...r });
    const mark = c.fail ? 'FAIL' : c.pass ? 'ok  ' : 'skip';
    if (fileSkip && !c.fail) {
      log(`${mark} ${key}: ${c.skip} skipped (${fileSkip})`);
    } else {
      log(`${mark} ${key}: ${c.pass} passed, ${c.fail} failed, ${c.skip} skipped`);
    }
    for (const r of results) {
      if (r.status === 'fail') {
        log(`     ✗ ${r.name}`);
        for (const line of String(r.reason).split('\n')) log(`         ${line}`);
      } else if (o.verbose && r.status === 'skip' && !fileSkip) log(`     - ${r.name}: skipped (${r.reason})`);
      else if (o.verbose && r.status === 'pass') log(`     ✓ ${r.name}`);
    }
    if (server && !server.proc) {
      log(`kiln died during ${key}:\n${server.tail(30)}`);
      try {
        await server.restart();
        log(`restarted kiln at ${server.url}`);
      } catch (e) {
        log(`restart failed: ${e.message}`);
        break;
      }
    }
  }

  if (o.md) fs.writeFileSync(o.md, markdown(perFile, totals));
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ totals, files: perFile, results: allResults }, null, 1));
  if (server) {
    if (totals.fail) log(`--- kiln log (tail) ---\n${server.tail(40)}`);
    await server.stop();
  }
  if (o.checkSkips) {
    log(stale.length ? `skip-listed tests that pass now (${stale.length}):` : 'no skip-listed test passes now');
    for (const x of stale) log(`  ${x}`);
  }
  log(`(${files.length} files in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skip} skipped`);
  return totals.fail ? 1 : 0;
}

function countTests(file, kind) {
  try {
    if (kind === 'story') {
      const s = YAML.parse(fs.readFileSync(file, 'utf8'));
      const names = [];
      for (const ch of s.chapters || []) {
        const ms = [].concat(ch.method);
        for (const m of ms) names.push(ms.length > 1 ? `${ch.synopsis} [${m}]` : ch.synopsis);
      }
      return names;
    }
    const names = [];
    for (const d of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
      const j = d.toJS() || {};
      for (const k of Object.keys(j)) if (k !== 'setup' && k !== 'teardown') names.push(k);
    }
    return names;
  } catch {
    return ['(file)'];
  }
}

/** Distinct reasons of a file's skipped tests, with how many each covers: "reason (3); other". */
function skipReasons(results) {
  const n = new Map();
  for (const r of results) if (r.status === 'skip') n.set(r.reason, (n.get(r.reason) || 0) + 1);
  return [...n].map(([why, k]) => (n.size > 1 ? `${why} (${k})` : why)).join('; ');
}

function markdown(perFile, totals) {
  const rows = ['| file | passed | failed | skipped | note |', '|---|---:|---:|---:|---|'];
  for (const f of perFile) rows.push(`| ${f.key} | ${f.pass} | ${f.fail} | ${f.skip} | ${String(f.skipReason || '').replace(/\|/g, '\\|')} |`);
  rows.push(`| **total** | **${totals.pass}** | **${totals.fail}** | **${totals.skip}** | |`);
  return rows.join('\n') + '\n';
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`compat runner error: ${e.stack || e.message}\n`);
    process.stdout.write('0 passed, 1 failed, 0 skipped\n');
    process.exit(2);
  }
);
