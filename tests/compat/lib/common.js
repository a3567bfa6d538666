'use strict';
// Shared helpers for the compat runner: dotted paths, equality, versions, regexes, HTTP.

const http = require('node:http');

/** Split a dotted path; `\.` is a literal dot inside a key. '' or '$body' → []. */
function splitPath(p) {
  if (p === '' || p === '$body' || p === undefined || p === null) return [];
  const out = [];
  let cur = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\' && p[i + 1] === '.') {
      cur += '.';
      i++;
    } else if (c === '.') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const MISSING = Symbol('missing');

/** Value at a path of segments; numeric segments index lists. MISSING when absent. */
function getPath(obj, segs) {
  let v = obj;
  for (const s of segs) {
    if (v === null || v === undefined || typeof v !== 'object') return MISSING;
    if (Array.isArray(v)) {
      if (!/^\d+$/.test(s)) return MISSING;
      const i = Number(s);
      if (i >= v.length) return MISSING;
      v = v[i];
    } else {
      if (!Object.prototype.hasOwnProperty.call(v, s)) return MISSING;
      v = v[s];
    }
  }
  return v;
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqual(a[k], b[k])) return false;
  }
  return true;
}

/**
 * Subset match for story payloads: every key of `expected` must be in `actual` with a matching
 * value, recursively; arrays compared index by index (extra trailing actual elements allowed).
 * Returns null on match, or a string "path: reason".
 */
function subsetMismatch(expected, actual, path = '') {
  if (expected === null || typeof expected !== 'object') {
    if (deepEqual(expected, actual)) return null;
    return `${path || '(root)'}: expected ${fmt(expected)}, got ${fmt(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path || '(root)'}: expected an array, got ${fmt(actual)}`;
    for (let i = 0; i < expected.length; i++) {
      if (i >= actual.length) return `${path}[${i}]: missing (array has ${actual.length} elements)`;
      const m = subsetMismatch(expected[i], actual[i], `${path}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
    return `${path || '(root)'}: expected an object, got ${fmt(actual)}`;
  }
  for (const k of Object.keys(expected)) {
    const p = path ? `${path}.${k}` : k;
    if (!Object.prototype.hasOwnProperty.call(actual, k)) return `${p}: missing (expected ${fmt(expected[k])})`;
    const m = subsetMismatch(expected[k], actual[k], p);
    if (m) return m;
  }
  return null;
}

function fmt(v, max = 300) {
  if (v === MISSING) return '(missing)';
  let s;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  if (s === undefined) s = String(v);
  return s.length > max ? s.slice(0, max) + '…' : s;
}

/**
 * A Java-style regex "/.../" from the YAML tests, compiled with Perl's x flag semantics
 * (whitespace and #-comments outside character classes are ignored).
 */
function compileXRegex(src) {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const n = src[i + 1];
      // `\ ` and `\#` are literal in x mode; other escapes pass through.
      out += n === ' ' || n === '#' ? (n === ' ' ? ' ' : '#') : c + (n === undefined ? '' : n);
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (/\s/.test(c)) continue;
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    out += c;
  }
  // Java's \A \z \Z anchors
  out = out.replace(/\\A/g, '^').replace(/\\[zZ]/g, '$');
  return new RegExp(out, 's');
}

function isRegexString(v) {
  return typeof v === 'string' && v.length >= 2 && v.trim().startsWith('/') && v.trim().endsWith('/');
}

/**
 * "/.../" → RegExp. Upstream compiles `match` regexes with Pattern.COMMENTS (x flag: spaces and
 * # comments ignored) and `catch` regexes plainly; both are searched (find), not anchored.
 */
function regexOf(v, xflag = true) {
  const t = v.trim();
  if (xflag) return compileXRegex(t.slice(1, -1));
  return new RegExp(t.slice(1, -1).replace(/\\A/g, '^').replace(/\\[zZ]/g, '$'), 's');
}

// ---- versions -----------------------------------------------------------------------------
// OpenSearch test files mix OpenSearch versions (1.x–3.x) with legacy Elasticsearch versions
// (5.x–7.x), which OpenSearch's runner orders before OpenSearch 1.0. We do the same.

function parseVersion(s) {
  const m = /^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(String(s));
  if (!m) return null;
  const v = [Number(m[1]), Number(m[2] || 0), Number(m[3] || 0)];
  return v;
}

function versionKey(v) {
  const legacy = v[0] >= 5 ? 0 : 1;
  return [legacy, ...v];
}

function cmpVersion(a, b) {
  const ka = versionKey(a);
  const kb = versionKey(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return 0;
}

/** YAML-test skip ranges: "lo - hi" with either side open, comma-separated, or "all". */
function inSkipRange(version, rangeSpec) {
  if (rangeSpec === undefined || rangeSpec === null) return false;
  const spec = String(rangeSpec).trim();
  if (spec === 'all') return true;
  for (const part of spec.split(',')) {
    const m = /^\s*([^\s-][^\s]*)?\s*-\s*([^\s]+)?\s*$/.exec(part);
    if (!m) continue;
    const lo = m[1] ? parseVersion(m[1]) : null;
    const hi = m[2] ? parseVersion(m[2]) : null;
    if ((!lo || cmpVersion(version, lo) >= 0) && (!hi || cmpVersion(version, hi) <= 0)) return true;
  }
  return false;
}

/** Semver-style ranges of the test stories: ">= 2.17", "< 2.0", ">1 <3", "a || b". */
function satisfiesRange(version, range) {
  if (!range) return true;
  return String(range)
    .split('||')
    .some((alt) => {
      const toks = alt.trim().match(/(>=|<=|>|<|=|\^|~)?\s*v?\d+(?:\.\d+){0,2}(?:\.x)?/g) || [];
      return toks.every((t) => {
        const m = /^(>=|<=|>|<|=|\^|~)?\s*(.*)$/.exec(t.trim());
        const op = m[1] || '=';
        const v = parseVersion(m[2]);
        const parts = m[2].split('.').length;
        const c = cmpVersion(version, v);
        switch (op) {
          case '>=':
            return c >= 0;
          case '<=':
            return c <= 0;
          case '>':
            return c > 0;
          case '<':
            return c < 0;
          case '^':
            return c >= 0 && version[0] === v[0];
          case '~':
            return c >= 0 && version[0] === v[0] && version[1] === v[1];
          default:
            // "2" or "2.1" match any patch/minor, like semver's X-ranges
            if (parts === 1) return version[0] === v[0];
            if (parts === 2) return version[0] === v[0] && version[1] === v[1];
            return c === 0;
        }
      });
    });
}

// ---- HTTP -----------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** Raw request → { status, headers, text, body(parsed JSON or null) }. body: Buffer/string. */
function httpRequest(baseUrl, method, pathAndQuery, bodyBuf, headers = {}, timeoutMs = 30000) {
  const u = new URL(baseUrl);
  const hdrs = { ...headers };
  if (bodyBuf) hdrs['Content-Length'] = Buffer.byteLength(bodyBuf);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: pathAndQuery, headers: hdrs, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body = null;
          if (text.length) {
            try {
              body = JSON.parse(text);
            } catch {
              body = null;
            }
          }
          resolve({ status: res.statusCode, headers: res.headers, text, body });
        });
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error('connection closed before the response was complete'));
        });
      }
    );
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${pathAndQuery}`)));
    if (bodyBuf) req.write(bodyBuf);
    req.end();
  });
}

function queryValue(v) {
  if (Array.isArray(v)) return v.map(queryValue).join(',');
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function mimeOf(headers) {
  const ct = headers && headers['content-type'];
  return ct ? ct.split(';')[0].trim().toLowerCase() : '';
}

/**
 * Delete every index (between tests). Lists them with _cat/indices?format=json; falls back to
 * the names the test is known to have used.
 */
async function wipeIndices(baseUrl, knownNames = []) {
  const names = new Set(knownNames.filter((n) => n && !/[*,]/.test(n)));
  try {
    const r = await httpRequest(baseUrl, 'GET', '/_cat/indices?format=json', null);
    if (r.status === 200 && Array.isArray(r.body)) for (const row of r.body) if (row && row.index) names.add(row.index);
  } catch {
    /* server may be down: the next request will say so */
  }
  for (const n of names) {
    if (n.startsWith('.')) continue;
    try {
      await httpRequest(baseUrl, 'DELETE', '/' + encodeURIComponent(n), null);
    } catch {
      /* ignore */
    }
  }
}

module.exports = {
  splitPath,
  getPath,
  MISSING,
  deepEqual,
  subsetMismatch,
  fmt,
  compileXRegex,
  isRegexString,
  regexOf,
  parseVersion,
  cmpVersion,
  inSkipRange,
  satisfiesRange,
  httpRequest,
  queryValue,
  mimeOf,
  wipeIndices,
};
