// string_distance under Node 20 / V8, for docs/benchmarks.md's comparison with Kiln's engine
// and native code: per-call time of calculate_distance over generated product names, with a
// minimal host (the three reads copy preencoded bytes; no path parsing).
//   KILN_UDF_DIR=build/udfs node tests/udf/node/bench_v8.mjs [calls]
import { loadWasm } from './kiln_mock.mjs';

const calls = Number(process.argv[2] || 1_000_000);
const enc = new TextEncoder();
const brands = ['iPhone', 'Galaxy', 'Pixel', 'Xperia', 'Redmi', 'Nokia', 'Moto', 'OnePlus'];
const names = Array.from({ length: 4096 }, (_, i) => enc.encode(`${brands[i % 8]} ${10 + (i * 7919) % 90}${i % 3 ? '' : ' Pro'}`));
const target = enc.encode('iPhone 14');
const field = enc.encode('name');

let mem, u8, doc = names[0];
const copy = (bytes, out, cap) => {
  if (bytes.length <= cap) u8.set(bytes, out);
  else u8.set(bytes.subarray(0, cap), out);
  return bytes.length;
};
const imports = {
  kiln: {
    get_param_string: (p, n, out, cap) => copy(n === 6 ? target : field, out, cap), // "target" / "field"
    get_field_string: (p, n, out, cap) => copy(doc, out, cap),
    log: () => {},
  },
};
const { instance } = await WebAssembly.instantiate(loadWasm('string_distance.wasm'), imports);
mem = instance.exports.memory;
u8 = new Uint8Array(mem.buffer); // the modules never grow their memory
const f = instance.exports.calculate_distance;
let matches = 0;
for (let i = 0; i < 100_000; i++) { doc = names[i & 4095]; matches += f(2); } // warm up (tier-up)
matches = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < calls; i++) { doc = names[i & 4095]; matches += f(2); }
const ns = Number(process.hrtime.bigint() - t0) / calls;
console.log(`string_distance on V8 (node ${process.version}): ${ns.toFixed(1)} ns per call, ` +
            `${calls} calls, ${matches} matches (max_distance 2, target "iPhone 14")`);
