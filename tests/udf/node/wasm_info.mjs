// Minimal reader of a .wasm binary's type, import and export sections, to check modules
// against the host ABI (Node's WebAssembly API does not expose import signatures).
const VT = { 0x7f: 'i', 0x7e: 'I', 0x7d: 'f', 0x7c: 'F' };

export function wasmInfo(buf) {
  const b = new Uint8Array(buf);
  let pos = 8;
  const u32 = () => {
    let r = 0, shift = 0, byte;
    do { byte = b[pos++]; r |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
    return r >>> 0;
  };
  const name = () => { const n = u32(); const s = new TextDecoder().decode(b.subarray(pos, pos + n)); pos += n; return s; };
  const types = [], imports = [], exports = [], funcs = [];
  const features = new Set();
  if (b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) throw new Error('not a wasm module');
  while (pos < b.length) {
    const id = b[pos++];
    const size = u32();
    const end = pos + size;
    if (id === 1) {
      for (let n = u32(), i = 0; i < n; i++) {
        if (b[pos++] !== 0x60) throw new Error('bad func type');
        const np = u32(); let s = '';
        for (let j = 0; j < np; j++) s += VT[b[pos++]] ?? '?';
        s += ':';
        const nr = u32();
        if (nr > 1) features.add('multi-value');
        for (let j = 0; j < nr; j++) s += VT[b[pos++]] ?? '?';
        types.push(s);
      }
    } else if (id === 2) {
      for (let n = u32(), i = 0; i < n; i++) {
        const module = name(), field = name(), kind = b[pos++];
        if (kind === 0) imports.push({ module, field, kind: 'func', sig: types[u32()] });
        else { imports.push({ module, field, kind: ['func', 'table', 'memory', 'global'][kind] }); break; }
      }
    } else if (id === 3) {
      for (let n = u32(), i = 0; i < n; i++) funcs.push(types[u32()]);
    } else if (id === 7) {
      for (let n = u32(), i = 0; i < n; i++) {
        const nm = name(), kind = b[pos++];
        exports.push({ name: nm, kind: ['func', 'table', 'memory', 'global'][kind], index: u32() });
      }
    } else if (id === 12) {
      features.add('bulk-memory (data count section)');
    }
    pos = end;
  }
  // Signature of each function export ("ii:F" style), through imports then definitions.
  const fimports = imports.filter((im) => im.kind === 'func');
  for (const e of exports)
    if (e.kind === 'func') e.sig = e.index < fimports.length ? fimports[e.index].sig : funcs[e.index - fimports.length];
  return { types, imports, exports, features };
}
