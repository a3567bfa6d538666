'use strict';
// Response validation against OpenSearch's OpenAPI 3.1 spec (draft 2020-12 schemas, Ajv).
//
// Every spec file is loaded once under a synthetic base URI (BASE + path inside spec/), so the
// spec's relative references ('../schemas/_common.yaml#/components/schemas/Name') resolve as
// they do on disk. An operation is found by path template + method, the response schema by
// status and content type, and compiled validators are cached.

const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const BASE = 'https://spec.kiln.invalid/';

function listYaml(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listYaml(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}

function escPointer(s) {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function uriPointer(segs) {
  // JSON pointer inside a URI fragment: percent-encode what a URI fragment cannot hold.
  return segs
    .map((s) => escPointer(s))
    .map((s) => encodeURIComponent(s).replace(/%40/g, '@').replace(/%3A/g, ':'))
    .join('/');
}

class SpecValidator {
  constructor(specDir) {
    this.specDir = specDir;
    this.docs = new Map(); // rel path → parsed doc
    this.ajv = new Ajv2020({
      strict: false,
      allErrors: true,
      validateSchema: false,
      validateFormats: true,
    });
    addFormats(this.ajv);
    // OpenAPI/OpenSearch numeric formats that ajv-formats does not know are accepted as is.
    for (const f of ['int16', 'int8', 'uint64']) this.ajv.addFormat(f, true);
    for (const file of listYaml(specDir)) {
      const rel = path.relative(specDir, file).split(path.sep).join('/');
      const doc = YAML.parse(fs.readFileSync(file, 'utf8'), { merge: true, maxAliasCount: -1 });
      this.docs.set(rel, doc);
      this.ajv.addSchema(doc, BASE + rel);
    }
    // operation index: "METHOD path-template" → { rel, op }
    this.ops = new Map();
    this.templates = [];
    for (const [rel, doc] of this.docs) {
      if (!rel.startsWith('namespaces/') || !doc || !doc.paths) continue;
      for (const [tpl, item] of Object.entries(doc.paths)) {
        for (const [m, op] of Object.entries(item)) {
          if (!op || typeof op !== 'object' || !op.responses) continue;
          this.ops.set(`${m.toUpperCase()} ${tpl}`, { rel, tpl, method: m.toUpperCase(), op });
        }
        this.templates.push({ tpl, rel, re: templateRegex(tpl) });
      }
    }
    this.cache = new Map();
  }

  /** Find an operation by template, or by matching a concrete path against templates. */
  findOperation(method, template, concretePath) {
    const direct = this.ops.get(`${method} ${template}`);
    if (direct) return direct;
    if (concretePath) {
      // most specific first: fewest placeholders
      const cands = this.templates
        .filter((t) => t.re.test(concretePath) && this.ops.has(`${method} ${t.tpl}`))
        .sort((a, b) => (a.tpl.match(/\{/g) || []).length - (b.tpl.match(/\{/g) || []).length);
      if (cands.length) return this.ops.get(`${method} ${cands[0].tpl}`);
    }
    return null;
  }

  /** Resolve a $ref (relative to file rel) to [rel, segments, value]. */
  _deref(rel, ref) {
    const [filePart, frag = ''] = ref.split('#');
    const target = filePart ? path.posix.normalize(path.posix.join(path.posix.dirname(rel), filePart)) : rel;
    const doc = this.docs.get(target);
    if (!doc) throw new Error(`spec: unresolved reference ${ref} from ${rel}`);
    const segs = frag
      .split('/')
      .filter((s) => s.length)
      .map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'));
    let v = doc;
    for (const s of segs) {
      if (v === undefined || v === null) break;
      v = v[s];
    }
    if (v === undefined) throw new Error(`spec: reference ${ref} from ${rel} points nowhere`);
    return [target, segs, v];
  }

  /**
   * Validator for (operation, status, mime): returns { validate, where } or { none: reason }.
   */
  responseValidator(opInfo, status, mime) {
    const key = `${opInfo.method} ${opInfo.tpl} ${status} ${mime}`;
    if (this.cache.has(key)) return this.cache.get(key);
    const res = this._buildValidator(opInfo, status, mime);
    this.cache.set(key, res);
    return res;
  }

  _buildValidator(opInfo, status, mime) {
    const responses = opInfo.op.responses || {};
    let r = responses[String(status)] || responses[`${String(status)[0]}XX`] || responses.default;
    if (!r) return { none: `the spec defines no ${status} response for ${opInfo.op.operationId}` };
    let rel = opInfo.rel;
    let segs = ['paths', opInfo.tpl, opInfo.method.toLowerCase(), 'responses', String(status)];
    if (r.$ref) [rel, segs, r] = this._deref(rel, r.$ref);
    const content = r.content || {};
    let ct = mime && content[mime] ? mime : null;
    if (!ct) {
      const keys = Object.keys(content);
      if (!keys.length) return { none: `no response body in the spec for ${opInfo.op.operationId} ${status}` };
      if (mime && !content[mime]) {
        return { mismatch: `content type ${mime || '(none)'} is not one the spec lists (${keys.join(', ')})` };
      }
      ct = keys.includes('application/json') ? 'application/json' : keys[0];
    }
    if (!content[ct].schema) return { none: 'no schema' };
    const ptr = [...segs, 'content', ct, 'schema'];
    const uri = BASE + rel + '#/' + uriPointer(ptr);
    const validate = this.ajv.compile({ $ref: uri });
    return { validate, where: `${opInfo.op.operationId} ${status} ${ct}`, ct };
  }

  /** → { ok, errors: [ 'jsonpath: message' ], where, skipped? } */
  check(method, template, concretePath, status, mime, body) {
    const op = this.findOperation(method, template, concretePath);
    if (!op) return { ok: true, skipped: `no operation ${method} ${template} in the spec` };
    let v;
    try {
      v = this.responseValidator(op, status, mime);
    } catch (e) {
      return { ok: true, skipped: `schema compile failed: ${e.message}` };
    }
    if (v.none) return { ok: true, skipped: v.none };
    if (v.mismatch) return { ok: false, errors: [`content-type: ${v.mismatch}`], where: op.op.operationId };
    if (v.validate(body)) return { ok: true, where: v.where };
    return { ok: false, where: v.where, errors: summarizeErrors(v.validate.errors, body) };
  }
}

function templateRegex(tpl) {
  const re = tpl
    .split(/(\{[^}]+\})/)
    .map((p) => (p.startsWith('{') ? '[^/]+' : p.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp('^' + re + '$');
}

/** JSON pointer "/items/0/index" → JSONPath-ish "$.items[0].index". */
function jsonPath(pointer) {
  if (!pointer) return '$';
  return (
    '$' +
    pointer
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_][\w@-]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`))
      .join('')
  );
}

/**
 * Ajv reports every failed branch of oneOf/anyOf; keep the deepest, most specific errors first
 * and drop duplicates so the report points at the real offending field.
 */
function summarizeErrors(errors, body) {
  if (!errors || !errors.length) return ['(invalid, no detail)'];
  const seen = new Set();
  const rows = [];
  const sorted = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length);
  for (const e of sorted) {
    let msg = e.message;
    if (e.keyword === 'additionalProperties') msg = `unexpected property '${e.params.additionalProperty}'`;
    else if (e.keyword === 'required') msg = `missing required property '${e.params.missingProperty}'`;
    else if (e.keyword === 'enum') msg = `must be one of ${JSON.stringify(e.params.allowedValues)}`;
    else if (e.keyword === 'const') msg = `must be ${JSON.stringify(e.params.allowedValue)}`;
    const line = `${jsonPath(e.instancePath)}: ${msg}`;
    if (seen.has(line)) continue;
    seen.add(line);
    rows.push(line + `  [schema ${e.schemaPath}]`);
  }
  // a oneOf/anyOf summary line is only useful when nothing deeper was reported for that path
  const filtered = rows.filter((r, i) => !(/must match (exactly one|a) schema/.test(r) && rows.length > 1 && i > 0));
  return filtered.slice(0, 12);
}

module.exports = { SpecValidator, jsonPath };
