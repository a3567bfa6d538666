// A JavaScript mock of Kiln's host ABI v1 (src/udf/abi.h) for unit tests of guest modules
// under Node: the same imports, signatures and contracts as the server, over a plain JS
// document. Out-of-bounds guest ranges throw (the server traps with KILN_TRAP_HOST).
//
//   const host = new KilnMock({ doc: { name: "kitten", tags: ["a", "b"] }, params: { target: "x" } });
//   const udf = await host.instantiate(bytes);   // checks kiln_abi_version() === 1
// One instance stands for one query on one thread: Kiln restores module memory between
// queries, so use a new instance whenever the parameters change.
//   udf.exports.calculate_distance(3);
//   host.logs  // [{ level, msg }]
import fs from 'node:fs';
import path from 'node:path';

const enc = new TextEncoder();
const dec = new TextDecoder();

export class HostTrap extends Error {}

// "a.b[2].c" -> ["a", "b", 2, "c"]; null if malformed.
export function parsePath(p) {
  const out = [];
  const re = /([^.[\]]+)|\[(\d+)\]|(\.)/gy;
  let m, expectName = true;
  if (!p.length) return null;
  while (re.lastIndex < p.length) {
    const at = re.lastIndex;
    m = re.exec(p);
    if (!m || m.index !== at) return null;
    if (m[1] !== undefined) { if (!expectName) return null; out.push(m[1]); expectName = false; }
    else if (m[2] !== undefined) { if (expectName) return null; out.push(Number(m[2])); }
    else { if (expectName) return null; expectName = true; }
  }
  return expectName ? null : out;
}

// All values at a path (arrays flattened one level, as doc values are multi-valued).
function lookup(obj, p) {
  const parts = parsePath(p);
  if (!parts) return [];
  let cur = [obj];
  for (const part of parts) {
    const next = [];
    for (let v of cur) {
      if (typeof part === 'number') {
        if (Array.isArray(v) && part < v.length) next.push(v[part]);
        else if (!Array.isArray(v) && part === 0 && v !== undefined) next.push(v);
      } else {
        if (Array.isArray(v)) { for (const e of v) if (e && typeof e === 'object' && part in e) next.push(e[part]); }
        else if (v && typeof v === 'object' && !(v instanceof Uint8Array) && part in v) next.push(v[part]);
      }
    }
    cur = next;
  }
  const flat = [];
  for (const v of cur) {
    if (Array.isArray(v)) flat.push(...v);
    else flat.push(v);
  }
  return flat.filter((v) => v !== null && v !== undefined);
}

function asBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return enc.encode(v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return enc.encode(String(v));
  return enc.encode(JSON.stringify(v));
}
function asI64(v) {
  if (typeof v === 'bigint') return BigInt.asIntN(64, v);
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
}
function asF64(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return NaN;
}

export class KilnMock {
  constructor({ doc = {}, params = {}, score = 0, id = 'doc-1' } = {}) {
    Object.assign(this, { doc, params, score, id });
    this.logs = [];
    this.calls = {}; // import name -> count
    this.handles = [];
    this.binds = [];
    this.memory = null;
  }

  mem() {
    return new Uint8Array(this.memory.buffer);
  }
  range(p, n) {
    const size = this.memory.buffer.byteLength;
    const lo = p >>> 0, len = n >>> 0;
    if ((n | 0) < 0 || lo + len > size) throw new HostTrap(`out-of-bounds guest range (${lo}, ${n | 0})`);
    return [lo, len];
  }
  str(p, n) {
    const [lo, len] = this.range(p, n);
    return dec.decode(this.mem().slice(lo, lo + len));
  }
  copyOut(bytes, out, cap) {
    const [lo, len] = this.range(out, cap);
    const k = Math.min(bytes.length, len);
    this.mem().set(bytes.subarray(0, k), lo);
    return bytes.length;
  }
  field(p, n) {
    return lookup(this.doc, this.str(p, n));
  }
  param(p, n) {
    const name = this.str(p, n);
    return Object.prototype.hasOwnProperty.call(this.params, name) && this.params[name] !== null
      ? [this.params[name]] : [];
  }

  imports() {
    const count = (name, fn) => (...a) => { this.calls[name] = (this.calls[name] || 0) + 1; return fn(...a); };
    const strFrom = (vals, out, cap) => (vals.length ? this.copyOut(asBytes(vals[0]), out, cap) : (this.range(out, cap), -1));
    const f = {
      get_field_string: (p, n, out, cap) => strFrom(this.field(p, n), out, cap),
      get_field_int64: (p, n) => { const v = this.field(p, n); return v.length ? asI64(v[0]) : 0n; },
      get_field_float64: (p, n) => { const v = this.field(p, n); return v.length ? asF64(v[0]) : NaN; },
      get_field_bool: (p, n) => { const v = this.field(p, n); return v.length && v[0] === true ? 1 : 0; },
      has_field: (p, n) => (this.field(p, n).length ? 1 : 0),
      get_field_count: (p, n) => this.field(p, n).length,
      get_document_id: (out, cap) => this.copyOut(enc.encode(this.id), out, cap),
      get_score: () => this.score,
      log: (level, p, n) => { this.logs.push({ level, msg: this.str(p, n) }); },
      get_param_string: (p, n, out, cap) => strFrom(this.param(p, n), out, cap),
      get_param_int64: (p, n) => { const v = this.param(p, n); return v.length ? asI64(v[0]) : 0n; },
      get_param_float64: (p, n) => { const v = this.param(p, n); return v.length ? asF64(v[0]) : NaN; },
      get_param_bool: (p, n) => { const v = this.param(p, n); return v.length && v[0] === true ? 1 : 0; },
      has_param: (p, n) => (this.param(p, n).length ? 1 : 0),
      field_handle: (p, n) => {
        const s = this.str(p, n);
        if (!parsePath(s) || !lookup(this.doc, s).length) return -1; // unresolved: -1, as Kiln
        const known = this.handles.indexOf(s);
        if (known >= 0) return known;
        this.handles.push(s);
        return this.handles.length - 1;
      },
      get_field_string_h: (h, out, cap) => strFrom(lookup(this.doc, this.handlePath(h)), out, cap),
      get_field_int64_h: (h) => { const v = lookup(this.doc, this.handlePath(h)); return v.length ? asI64(v[0]) : 0n; },
      get_field_float64_h: (h) => { const v = lookup(this.doc, this.handlePath(h)); return v.length ? asF64(v[0]) : NaN; },
      has_field_h: (h) => (lookup(this.doc, this.handlePath(h)).length ? 1 : 0),
      bind_field_string: (h, buf, cap, lenAt) => {
        this.handlePath(h);
        this.range(buf, cap);
        this.range(lenAt, 4);
        this.binds = this.binds.filter((b) => b.lenAt !== lenAt);
        if (this.binds.length === 8) throw new HostTrap('bind_field_string: at most 8 bound fields');
        this.binds.push({ h, buf, cap, lenAt });
        this.writeBound();
        return 0;
      },
    };
    for (const k of Object.keys(f)) f[k] = count(k, f[k]);
    return { kiln: f };
  }
  // What Kiln does before every call: each bound field's value and length into guest memory.
  writeBound() {
    for (const { h, buf, cap, lenAt } of this.binds) {
      const vals = lookup(this.doc, this.handlePath(h));
      const n = vals.length ? this.copyOut(asBytes(vals[0]), buf, cap) : -1;
      new DataView(this.memory.buffer).setInt32(lenAt, n, true);
    }
  }
  handlePath(h) {
    if (h < 0 || h >= this.handles.length) throw new HostTrap(`invalid field handle ${h}`);
    return this.handles[h];
  }

  // bytes: a module's bytes or a compiled WebAssembly.Module (cheap to instantiate again).
  async instantiate(bytes) {
    const instance = bytes instanceof WebAssembly.Module
      ? await WebAssembly.instantiate(bytes, this.imports())
      : (await WebAssembly.instantiate(bytes, this.imports())).instance;
    this.memory = instance.exports.memory;
    this.instance = instance;
    if (typeof instance.exports.kiln_abi_version !== 'function' || instance.exports.kiln_abi_version() !== 1)
      throw new Error('module does not export kiln_abi_version() == 1');
    // Exported functions run as Kiln calls them: bound fields written first.
    const exports = {};
    for (const [k, v] of Object.entries(instance.exports))
      exports[k] = typeof v === 'function' ? (...a) => { this.writeBound(); return v(...a); } : v;
    return { exports, instance };
  }
}

// The directory of built modules: $KILN_UDF_DIR, else ../../../build/udfs.
export function udfDir() {
  return process.env.KILN_UDF_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../build/udfs');
}
export function loadWasm(rel) {
  return fs.readFileSync(path.join(udfDir(), rel));
}

// Every import a module declares must be a kiln function of ABI v1 with the right type.
export const ABI_V1 = {
  get_field_string: 'iiii:i', get_field_int64: 'ii:I', get_field_float64: 'ii:F', get_field_bool: 'ii:i',
  has_field: 'ii:i', get_field_count: 'ii:i', get_document_id: 'ii:i', get_score: ':F', log: 'iii:',
  get_param_string: 'iiii:i', get_param_int64: 'ii:I', get_param_float64: 'ii:F', get_param_bool: 'ii:i',
  has_param: 'ii:i', field_handle: 'ii:i', get_field_string_h: 'iii:i', get_field_int64_h: 'i:I',
  get_field_float64_h: 'i:F', has_field_h: 'i:i', bind_field_string: 'iiii:i',
};
