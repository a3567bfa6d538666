'use strict';
// Executor for OpenSearch's REST API YAML tests (../shared/opensearch-rest-tests, see its README).

const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const C = require('./common');

// APIs the tests call that have no JSON definition in the suite's api/ folder.
const BUILTIN_APIS = {
  info: { paths: [{ path: '/', methods: ['GET'], parts: [] }] },
  ping: { paths: [{ path: '/', methods: ['HEAD'], parts: [] }] },
  'indices.refresh': {
    paths: [
      { path: '/{index}/_refresh', methods: ['POST', 'GET'], parts: ['index'] },
      { path: '/_refresh', methods: ['POST', 'GET'], parts: [] },
    ],
  },
  'indices.put_alias': {
    paths: [{ path: '/{index}/_alias/{name}', methods: ['PUT', 'POST'], parts: ['index', 'name'] }],
  },
  'indices.get_alias': {
    paths: [
      { path: '/{index}/_alias/{name}', methods: ['GET'], parts: ['index', 'name'] },
      { path: '/_alias/{name}', methods: ['GET'], parts: ['name'] },
      { path: '/{index}/_alias', methods: ['GET'], parts: ['index'] },
      { path: '/_alias', methods: ['GET'], parts: [] },
    ],
  },
  'indices.stats': {
    paths: [
      { path: '/{index}/_stats/{metric}', methods: ['GET'], parts: ['index', 'metric'] },
      { path: '/{index}/_stats', methods: ['GET'], parts: ['index'] },
      { path: '/_stats/{metric}', methods: ['GET'], parts: ['metric'] },
      { path: '/_stats', methods: ['GET'], parts: [] },
    ],
  },
  'indices.forcemerge': {
    paths: [
      { path: '/{index}/_forcemerge', methods: ['POST'], parts: ['index'] },
      { path: '/_forcemerge', methods: ['POST'], parts: [] },
    ],
  },
  'indices.put_settings': {
    paths: [
      { path: '/{index}/_settings', methods: ['PUT'], parts: ['index'] },
      { path: '/_settings', methods: ['PUT'], parts: [] },
    ],
  },
  'cluster.put_settings': { paths: [{ path: '/_cluster/settings', methods: ['PUT'], parts: [] }] },
  'cluster.get_settings': { paths: [{ path: '/_cluster/settings', methods: ['GET'], parts: [] }] },
};

const HEAD_APIS = new Set(['exists', 'exists_source', 'indices.exists', 'ping', 'indices.exists_alias']);

// Features this runner implements (skip.features naming anything else skips the test).
const FEATURES = new Set(['headers', 'allowed_warnings', 'warnings', 'contains', 'node_selector', 'stash_in_path', 'default_shards']);

const CATCHES = {
  bad_request: (s) => s === 400,
  unauthorized: (s) => s === 401,
  forbidden: (s) => s === 403,
  missing: (s) => s === 404,
  request_timeout: (s) => s === 408,
  conflict: (s) => s === 409,
  unavailable: (s) => s === 503,
  // upstream: any 4xx/5xx other than the ones that have their own name
  request: (s) => s >= 400 && s < 600 && ![404, 408, 409, 403].includes(s),
};

class ApiTable {
  constructor(apiDir) {
    this.apis = {};
    if (apiDir && fs.existsSync(apiDir)) {
      for (const f of fs.readdirSync(apiDir)) {
        if (!f.endsWith('.json')) continue;
        const j = JSON.parse(fs.readFileSync(path.join(apiDir, f), 'utf8'));
        for (const [name, def] of Object.entries(j)) {
          this.apis[name] = {
            paths: def.url.paths
              .filter((p) => !p.deprecated)
              .map((p) => ({ path: p.path, methods: p.methods, parts: Object.keys(p.parts || {}) })),
            bulk: def.body && def.body.serialize === 'bulk',
          };
        }
      }
    }
    for (const [k, v] of Object.entries(BUILTIN_APIS)) if (!this.apis[k]) this.apis[k] = v;
    this.apis.bulk = this.apis.bulk || { paths: [{ path: '/_bulk', methods: ['POST'], parts: [] }], bulk: true };
  }

  /** → { method, path, query, template } for a call with args (params incl. parts). */
  build(name, args) {
    const api = this.apis[name];
    if (!api) throw new Error(`unknown API '${name}' (no definition in api/ and none built in)`);
    const given = new Set(Object.keys(args));
    const cands = api.paths.filter((p) => p.parts.every((x) => given.has(x)));
    if (!cands.length) throw new Error(`API '${name}': no path fits the arguments ${[...given].join(',')}`);
    cands.sort((a, b) => b.parts.length - a.parts.length);
    const chosen = cands[0];
    let p = chosen.path;
    for (const part of chosen.parts) {
      const v = args[part];
      p = p.replace(`{${part}}`, Array.isArray(v) ? v.map((x) => encodeURIComponent(String(x))).join(',') : encodeURIComponent(String(v)));
    }
    const q = [];
    for (const [k, v] of Object.entries(args)) {
      if (chosen.parts.includes(k)) continue;
      q.push(`${encodeURIComponent(k)}=${encodeURIComponent(C.queryValue(v))}`);
    }
    return { method: chosen.methods[0], path: p, query: q.length ? '?' + q.join('&') : '', template: chosen.path, bulk: !!api.bulk };
  }
}

function replaceStash(v, stash) {
  if (typeof v === 'string') {
    if (/^\$[A-Za-z_][\w]*$/.test(v) && Object.prototype.hasOwnProperty.call(stash, v.slice(1))) return stash[v.slice(1)];
    return v.replace(/\$\{([A-Za-z_][\w]*)\}/g, (m, n) => (Object.prototype.hasOwnProperty.call(stash, n) ? String(stash[n]) : m));
  }
  if (Array.isArray(v)) return v.map((x) => replaceStash(x, stash));
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[replaceStash(k, stash)] = replaceStash(x, stash);
    return o;
  }
  return v;
}

function stepKind(step) {
  return Object.keys(step)[0];
}

function truthy(v) {
  return !(v === C.MISSING || v === null || v === undefined || v === false || v === '' || v === 'false' || v === 0);
}

/** Parse a YAML test file → { setup, teardown, tests: [{name, steps}] } */
function parseFile(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'), { merge: true });
  const out = { setup: null, teardown: null, tests: [] };
  for (const d of docs) {
    if (d.errors && d.errors.length) throw new Error(`YAML error: ${d.errors[0].message}`);
    const j = d.toJS();
    if (!j) continue;
    for (const [k, v] of Object.entries(j)) {
      if (k === 'setup') out.setup = v || [];
      else if (k === 'teardown') out.teardown = v || [];
      else out.tests.push({ name: k, steps: v || [] });
    }
  }
  return out;
}

class RestYamlRunner {
  /**
   * ctx: { url, version ([maj,min,patch]), apis: ApiTable, verbose, log(fn) }
   */
  constructor(ctx) {
    this.ctx = ctx;
  }

  skipReason(steps) {
    const first = steps && steps[0];
    if (!first || stepKind(first) !== 'skip') return null;
    const s = first.skip || {};
    if (s.version !== undefined && C.inSkipRange(this.ctx.version, s.version)) {
      return `version ${this.ctx.version.join('.')} in skip range "${String(s.version).trim()}": ${s.reason || ''}`;
    }
    const feats = [].concat(s.features || []);
    const missing = feats.filter((f) => !FEATURES.has(f));
    if (missing.length) return `unsupported runner feature(s): ${missing.join(', ')}`;
    return null;
  }

  /**
   * Run one file. skipFor(testName) → reason|null from the skip list.
   * Returns [{ name, status: 'pass'|'fail'|'skip', reason }].
   */
  async runFile(file, skipFor) {
    let parsed;
    try {
      parsed = parseFile(file);
    } catch (e) {
      return [{ name: '(file)', status: 'fail', reason: e.message }];
    }
    const results = [];
    const setupSkip = parsed.setup ? this.skipReason(parsed.setup) : null;
    for (const t of parsed.tests) {
      const listed = skipFor(t.name);
      if (listed) {
        results.push({ name: t.name, status: 'skip', reason: listed });
        continue;
      }
      const why = setupSkip || this.skipReason(t.steps);
      if (why) {
        results.push({ name: t.name, status: 'skip', reason: why });
        continue;
      }
      results.push(await this.runTest(t, parsed));
    }
    return results;
  }

  async runTest(t, parsed) {
    const state = { stash: {}, last: null, indices: new Set() };
    let failure = null;
    await C.wipeIndices(this.ctx.url);
    try {
      if (parsed.setup) await this.runSteps(parsed.setup, state, 'setup');
      await this.runSteps(t.steps, state, '');
    } catch (e) {
      failure = e.message || String(e);
    }
    try {
      if (parsed.teardown) await this.runSteps(parsed.teardown, state, 'teardown');
    } catch (e) {
      if (!failure) failure = `teardown: ${e.message}`;
    }
    await C.wipeIndices(this.ctx.url, [...state.indices]);
    return failure ? { name: t.name, status: 'fail', reason: failure } : { name: t.name, status: 'pass' };
  }

  async runSteps(steps, state, where) {
    let i = 0;
    for (const step of steps) {
      i++;
      const kind = stepKind(step);
      const label = `${where ? where + ' ' : ''}step ${i} (${kind})`;
      try {
        await this.runStep(kind, step[kind], state, step);
      } catch (e) {
        throw new Error(`${label}: ${e.message}`);
      }
    }
  }

  async runStep(kind, arg, state) {
    switch (kind) {
      case 'skip':
        return; // evaluated before the test started
      case 'do':
        return this.doCall(arg, state);
      case 'set':
        for (const [p, name] of Object.entries(arg)) {
          const v = this.valueAt(state, p);
          if (v === C.MISSING) throw new Error(`set: path '${p}' not in the response`);
          state.stash[name] = v;
        }
        return;
      case 'match':
        for (const [p, exp0] of Object.entries(arg)) {
          const exp = replaceStash(exp0, state.stash);
          const act = this.valueAt(state, p);
          if (C.isRegexString(exp)) {
            if (act === C.MISSING || act === null) throw new Error(`match ${p}: missing, expected ${exp}`);
            const s = typeof act === 'string' ? act : JSON.stringify(act);
            if (!C.regexOf(exp).test(s)) throw new Error(`match ${p}: ${C.fmt(act)} does not match ${exp}`);
          } else if (!matchValue(exp, act)) {
            throw new Error(`match ${p}: expected ${C.fmt(exp)}, got ${C.fmt(act)}`);
          }
        }
        return;
      case 'length':
        for (const [p, n] of Object.entries(arg)) {
          const act = this.valueAt(state, p);
          let len;
          if (Array.isArray(act)) len = act.length;
          else if (typeof act === 'string') len = act.length;
          else if (act && typeof act === 'object') len = Object.keys(act).length;
          else throw new Error(`length ${p}: not a list/map (${C.fmt(act)})`);
          if (len !== Number(replaceStash(n, state.stash))) throw new Error(`length ${p}: expected ${n}, got ${len}`);
        }
        return;
      case 'is_true': {
        const p = arg === null ? '' : String(arg);
        const act = this.valueAt(state, p);
        if (!truthy(act)) throw new Error(`is_true '${p}': got ${C.fmt(act)}`);
        return;
      }
      case 'is_false': {
        const p = arg === null ? '' : String(arg);
        const act = this.valueAt(state, p);
        if (truthy(act)) throw new Error(`is_false '${p}': got ${C.fmt(act)}`);
        return;
      }
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        for (const [p, n0] of Object.entries(arg)) {
          const n = replaceStash(n0, state.stash);
          const act = this.valueAt(state, p);
          const a = typeof act === 'string' ? Number(act) : act;
          if (typeof a !== 'number' || Number.isNaN(a)) throw new Error(`${kind} ${p}: not a number (${C.fmt(act)})`);
          const ok = kind === 'gt' ? a > n : kind === 'gte' ? a >= n : kind === 'lt' ? a < n : a <= n;
          if (!ok) throw new Error(`${kind} ${p}: ${a} is not ${kind} ${n}`);
        }
        return;
      case 'contains':
        for (const [p, exp0] of Object.entries(arg)) {
          const exp = replaceStash(exp0, state.stash);
          const act = this.valueAt(state, p);
          if (!Array.isArray(act)) throw new Error(`contains ${p}: not a list (${C.fmt(act)})`);
          const ok = act.some((x) => (exp && typeof exp === 'object' && !Array.isArray(exp) ? !C.subsetMismatch(exp, x) : matchValue(exp, x)));
          if (!ok) throw new Error(`contains ${p}: ${C.fmt(exp)} not in ${C.fmt(act)}`);
        }
        return;
      default:
        throw new Error(`unsupported step '${kind}'`);
    }
  }

  valueAt(state, p) {
    const resolved = C.splitPath(String(p)).map((s) => {
      if (/^\$[A-Za-z_]\w*$/.test(s) && Object.prototype.hasOwnProperty.call(state.stash, s.slice(1))) return String(state.stash[s.slice(1)]);
      return s;
    });
    if (state.last === null) return C.MISSING;
    if (!resolved.length) return state.last;
    return C.getPath(state.last, resolved);
  }

  async doCall(spec0, state) {
    const spec = { ...spec0 };
    const catchSpec = spec.catch;
    const headers = replaceStash(spec.headers || {}, state.stash);
    const expWarnings = [].concat(spec.warnings || []);
    const allowedWarnings = [].concat(spec.allowed_warnings || []);
    const nodeSelector = spec.node_selector;
    delete spec.catch;
    delete spec.headers;
    delete spec.warnings;
    delete spec.allowed_warnings;
    delete spec.allowed_warnings_regex;
    delete spec.warnings_regex;
    delete spec.node_selector;
    const names = Object.keys(spec);
    if (names.length !== 1) throw new Error(`do: expected one API call, got ${names.join(', ') || 'none'}`);
    const api = names[0];
    if (nodeSelector && nodeSelector.version && !C.inSkipRange(this.ctx.version, nodeSelector.version)) {
      throw new Error(`node_selector version ${nodeSelector.version} excludes this server`);
    }
    const args = replaceStash({ ...(spec[api] || {}) }, state.stash);
    const body = args.body;
    delete args.body;
    let ignore = [];
    if (args.ignore !== undefined) {
      ignore = [].concat(args.ignore).map(Number);
      delete args.ignore;
    }
    if (args.index !== undefined) for (const n of String(args.index).split(',')) state.indices.add(n);
    const call = this.ctx.apis.build(api, args);
    let buf = null;
    const hdrs = { ...headers };
    const hasCT = Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type');
    if (body !== undefined && body !== null) {
      if (call.bulk) {
        let text;
        if (typeof body === 'string') text = body.endsWith('\n') ? body : body + '\n';
        else text = [].concat(body).map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
        buf = Buffer.from(text);
        if (!hasCT) hdrs['Content-Type'] = 'application/x-ndjson';
        for (const l of text.split('\n')) {
          const m = /"_index"\s*:\s*"([^"]+)"/.exec(l);
          if (m) state.indices.add(m[1]);
        }
      } else {
        buf = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
        if (!hasCT) hdrs['Content-Type'] = 'application/json';
      }
    }
    const r = await C.httpRequest(this.ctx.url, call.method, call.path + call.query, buf, hdrs);
    if (this.ctx.verbose) this.ctx.log(`      ${call.method} ${call.path}${call.query} → ${r.status}`);
    const isHead = call.method === 'HEAD' || HEAD_APIS.has(api);
    if (isHead) state.last = r.status >= 200 && r.status < 300;
    else state.last = r.body !== null ? r.body : r.text;

    // warnings
    const warnHdr = [].concat(r.headers.warning || []).join(', ');
    for (const w of expWarnings) {
      if (!warnHdr.includes(w)) throw new Error(`${api}: expected warning header "${w}", got "${warnHdr}"`);
    }
    void allowedWarnings;

    if (this.ctx.restSchema && !isHead && r.text.length && r.body !== null) {
      const v = this.ctx.validator().check(call.method, call.template, call.path, r.status, C.mimeOf(r.headers), r.body);
      if (!v.ok) throw new Error(`${api} ${call.method} ${call.path}: response violates the spec schema (${v.where}):\n${v.errors.join('\n')}`);
    }
    const isError = r.status >= 400;
    if (catchSpec !== undefined && catchSpec !== null) {
      if (C.isRegexString(catchSpec)) {
        if (!isError) throw new Error(`${api} ${call.method} ${call.path}: expected an error matching ${catchSpec}, got ${r.status} ${C.fmt(r.body || r.text)}`);
        if (!C.regexOf(catchSpec, false).test(r.text)) throw new Error(`${api}: error body does not match ${catchSpec}: ${r.status} ${C.fmt(r.text, 500)}`);
      } else if (catchSpec === 'param') {
        throw new Error(`${api}: catch 'param' (client-side parameter check) is not applicable over HTTP`);
      } else {
        const pred = CATCHES[catchSpec];
        if (!pred) throw new Error(`unknown catch '${catchSpec}'`);
        if (!pred(r.status)) throw new Error(`${api} ${call.method} ${call.path}${call.query}: expected catch ${catchSpec}, got ${r.status} ${C.fmt(r.body || r.text)}`);
      }
      return;
    }
    if (isError && !ignore.includes(r.status) && !(isHead && r.status === 404)) {
      throw new Error(`${api} ${call.method} ${call.path}${call.query} failed: ${r.status} ${C.fmt(r.body || r.text, 500)}`);
    }
  }
}

/** match semantics: numbers compare numerically (1 == 1.0), everything else deep-equal. */
function matchValue(exp, act) {
  if (act === C.MISSING) return false;
  if (typeof exp === 'number' && typeof act === 'number') return exp === act;
  if (exp !== null && typeof exp === 'object') {
    if (act === null || typeof act !== 'object') return false;
    if (Array.isArray(exp)) {
      return Array.isArray(act) && exp.length === act.length && exp.every((x, i) => matchValue(x, act[i]));
    }
    const ke = Object.keys(exp);
    if (Array.isArray(act) || ke.length !== Object.keys(act).length) return false;
    return ke.every((k) => Object.prototype.hasOwnProperty.call(act, k) && matchValue(exp[k], act[k]));
  }
  if (C.isRegexString(exp) && typeof act === 'string') return C.regexOf(exp).test(act);
  return C.deepEqual(exp, act);
}

module.exports = { RestYamlRunner, ApiTable, parseFile };
