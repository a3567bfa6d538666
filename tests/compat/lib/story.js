'use strict';
// Executor for OpenSearch API-spec test stories (../shared/opensearch-api-spec/tests, see its
// README): prologues, chapters, epilogues; expected status, subset payload match, content type,
// outputs, and every response body validated against the spec's response schema.

const fs = require('node:fs');
const YAML = require('yaml');
const C = require('./common');

const DISTRIBUTION = 'opensearch.org'; // Kiln answers like OpenSearch itself

function distributionAllows(d) {
  if (!d) return true;
  if (d.excluded && d.excluded.includes(DISTRIBUTION)) return false;
  if (d.included && !d.included.includes(DISTRIBUTION) && !d.included.includes('opensearch')) return false;
  return true;
}

function interpolate(v, outputs) {
  if (typeof v === 'string') {
    const whole = /^\$\{([\w-]+)\.([\w.-]+)\}$/.exec(v);
    if (whole && outputs[whole[1]] && whole[2] in outputs[whole[1]]) return outputs[whole[1]][whole[2]];
    return v.replace(/\$\{([\w-]+)\.([\w.-]+)\}/g, (m, id, name) =>
      outputs[id] && name in outputs[id] ? String(outputs[id][name]) : m
    );
  }
  if (Array.isArray(v)) return v.map((x) => interpolate(x, outputs));
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = interpolate(x, outputs);
    return o;
  }
  return v;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class StoryRunner {
  /** ctx: { url, version, validator (SpecValidator, lazily created), verbose, log } */
  constructor(ctx) {
    this.ctx = ctx;
  }

  /** Build and send one request of a chapter/prologue → { res, path, query, method } */
  async send(ch, method, outputs) {
    const params = interpolate(ch.parameters || {}, outputs);
    let p = interpolate(ch.path, outputs);
    if (!p.startsWith('/')) p = '/' + p; // a few stories write "movies" for "/movies"
    const used = new Set();
    p = p.replace(/\{([^}]+)\}/g, (m, name) => {
      if (!(name in params)) return m;
      used.add(name);
      const v = params[name];
      return Array.isArray(v) ? v.map((x) => encodeURIComponent(String(x))).join(',') : encodeURIComponent(String(v));
    });
    const q = Object.entries(params)
      .filter(([k]) => !used.has(k))
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(C.queryValue(v))}`);
    const query = q.length ? '?' + q.join('&') : '';
    const req = ch.request || {};
    const headers = { ...(interpolate(req.headers || {}, outputs) || {}) };
    let buf = null;
    if (req.payload !== undefined) {
      const payload = interpolate(req.payload, outputs);
      const ct = req.content_type || 'application/json';
      if (ct === 'application/x-ndjson') {
        buf = Buffer.from([].concat(payload).map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
      } else if (typeof payload === 'string') buf = Buffer.from(payload);
      else buf = Buffer.from(JSON.stringify(payload));
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = ct;
    }
    const res = await C.httpRequest(this.ctx.url, method, p + query, buf, headers);
    if (this.ctx.verbose) this.ctx.log(`      ${method} ${p}${query} → ${res.status}`);
    return { res, path: p, query, method };
  }

  collectOutputs(ch, res, outputs) {
    if (!ch.output) return null;
    const o = {};
    for (const [name, spec] of Object.entries(ch.output)) {
      const where = typeof spec === 'string' ? spec : spec.path;
      let v = C.MISSING;
      if (where.startsWith('payload')) {
        const rest = where.slice('payload'.length).replace(/^\./, '');
        v = rest ? C.getPath(res.body, C.splitPath(rest)) : res.body;
      } else if (where.startsWith('headers.')) {
        const h = res.headers[where.slice(8).toLowerCase()];
        v = h === undefined ? C.MISSING : h;
      }
      if (v === C.MISSING && typeof spec === 'object' && 'default' in spec) v = spec.default;
      if (v === C.MISSING) return `output ${name}: ${where} not in the response`;
      o[name] = v;
    }
    if (ch.id) outputs[ch.id] = o;
    return null;
  }

  /** Check one chapter response → list of failure strings (empty = pass). */
  checkChapter(ch, sent) {
    const { res } = sent;
    const exp = ch.response || {};
    const errs = [];
    const wantStatus = exp.status === undefined ? 200 : exp.status;
    if (res.status !== wantStatus) {
      errs.push(`status: expected ${wantStatus}, got ${res.status} ${C.fmt(res.body !== null ? res.body : res.text, 400)}`);
      return errs;
    }
    const mime = C.mimeOf(res.headers);
    if (exp.content_type && mime !== exp.content_type) {
      errs.push(`content-type: expected ${exp.content_type}, got ${mime || '(none)'}`);
    }
    let body = res.body;
    if (mime === 'application/yaml' && res.text) {
      try {
        body = YAML.parse(res.text);
      } catch (e) {
        errs.push(`body: not YAML: ${e.message}`);
      }
    } else if (mime === 'text/plain' || (mime && !mime.includes('json') && !mime.includes('yaml'))) {
      body = res.text;
    } else if (res.text.length && res.body === null) {
      errs.push(`body: not JSON: ${C.fmt(res.text, 200)}`);
    }
    if (exp.payload !== undefined) {
      const m = C.subsetMismatch(exp.payload, body);
      if (m) errs.push(`payload: ${m}`);
    }
    if (sent.method !== 'HEAD' && res.text.length) {
      const tpl = ch.path.startsWith('/') ? ch.path : '/' + ch.path;
      const v = this.ctx.validator().check(sent.method, tpl, sent.path, res.status, mime, body);
      if (!v.ok) for (const e of v.errors) errs.push(`schema (${v.where}): ${e}`);
      else if (v.skipped && this.ctx.verbose) this.ctx.log(`      (schema not checked: ${v.skipped})`);
    }
    return errs;
  }

  async runFile(file, skipFor) {
    let story;
    try {
      story = YAML.parse(fs.readFileSync(file, 'utf8'), { merge: true });
    } catch (e) {
      return [{ name: '(file)', status: 'fail', reason: `YAML error: ${e.message}` }];
    }
    const chapters = [];
    for (const ch of story.chapters || []) {
      for (const m of [].concat(ch.method)) chapters.push({ ch, method: m, name: `${ch.synopsis}${[].concat(ch.method).length > 1 ? ` [${m}]` : ''}` });
    }
    const skipAll = (reason) => chapters.map((c) => ({ name: c.name, status: 'skip', reason }));
    if (story.version && !C.satisfiesRange(this.ctx.version, story.version)) {
      return skipAll(`story needs version ${story.version}, server is ${this.ctx.version.join('.')}`);
    }
    if (!distributionAllows(story.distributions)) return skipAll('story excluded for this distribution');
    const fileSkip = skipFor(null);
    if (fileSkip) return skipAll(fileSkip);

    await C.wipeIndices(this.ctx.url);
    const outputs = {};
    const results = [];
    let prologueError = null;
    for (const [i, pr] of (story.prologues || []).entries()) {
      if (pr.version && !C.satisfiesRange(this.ctx.version, pr.version)) continue;
      if (!distributionAllows(pr.distributions)) continue;
      try {
        const sent = await this.send(pr, [].concat(pr.method)[0], outputs);
        const ok = [].concat(pr.status || [200, 201]);
        if (!ok.includes(sent.res.status)) {
          prologueError = `prologue ${i + 1} ${sent.method} ${sent.path}${sent.query}: status ${sent.res.status} not in [${ok}] ${C.fmt(sent.res.body || sent.res.text, 300)}`;
          break;
        }
        const oe = this.collectOutputs(pr, sent.res, outputs);
        if (oe) {
          prologueError = `prologue ${i + 1}: ${oe}`;
          break;
        }
      } catch (e) {
        prologueError = `prologue ${i + 1}: ${e.message}`;
        break;
      }
    }
    for (const c of chapters) {
      const { ch, method, name } = c;
      const listed = skipFor(ch.synopsis) || skipFor(name);
      if (listed) {
        results.push({ name, status: 'skip', reason: listed });
        continue;
      }
      if (ch.pending) {
        results.push({ name, status: 'skip', reason: `pending: ${ch.pending}` });
        continue;
      }
      if (ch.version && !C.satisfiesRange(this.ctx.version, ch.version)) {
        results.push({ name, status: 'skip', reason: `chapter needs version ${ch.version}` });
        continue;
      }
      if (!distributionAllows(ch.distributions)) {
        results.push({ name, status: 'skip', reason: 'chapter excluded for this distribution' });
        continue;
      }
      if (prologueError) {
        results.push({ name, status: 'fail', reason: prologueError });
        continue;
      }
      const tries = ch.retry ? Math.max(1, Number(ch.retry.count) || 1) + 1 : 1;
      let errs = [];
      for (let t = 0; t < tries; t++) {
        try {
          const sent = await this.send(ch, method, outputs);
          errs = this.checkChapter(ch, sent);
          if (!errs.length) {
            const oe = this.collectOutputs(ch, sent.res, outputs);
            if (oe) errs.push(oe);
          }
        } catch (e) {
          errs = [e.message];
        }
        if (!errs.length) break;
        if (t + 1 < tries) await sleep((ch.retry && Number(ch.retry.wait)) || 1000);
      }
      results.push(errs.length ? { name, status: 'fail', reason: errs.join('\n') } : { name, status: 'pass' });
    }
    for (const [i, ep] of (story.epilogues || []).entries()) {
      try {
        const sent = await this.send(ep, [].concat(ep.method)[0], outputs);
        const ok = [].concat(ep.status || [200, 201]);
        if (!ok.includes(sent.res.status)) {
          results.push({ name: `(epilogue ${i + 1}: ${ep.method} ${ep.path})`, status: 'fail', reason: `status ${sent.res.status} not in [${ok}] ${C.fmt(sent.res.body || sent.res.text, 300)}` });
        }
      } catch (e) {
        results.push({ name: `(epilogue ${i + 1})`, status: 'fail', reason: e.message });
      }
    }
    await C.wipeIndices(this.ctx.url);
    return results;
  }
}

module.exports = { StoryRunner };
