// Node/V8 baseline: the same lev.wasm, timed like the C benchmark.
const fs = require('fs');
const bytes = fs.readFileSync(process.argv[2]);
const n = parseInt(process.argv[3] || '2000000');
WebAssembly.instantiate(bytes, {}).then(({ instance }) => {
  const f = instance.exports.lev_bench;
  let s = 0;
  for (let i = 0; i < 200000; i++) s += f(i); // warm up (tier-up in V8)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) s += f(i);
  const t1 = process.hrtime.bigint();
  console.log(JSON.stringify({ ns_per_call: Number(t1 - t0) / n, checksum: s }));
  const id = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(process.argv[4])), {}).exports.id;
  let q = 0;
  for (let i = 0; i < 200000; i++) q += id(i);
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) q += id(i);
  const t3 = process.hrtime.bigint();
  console.log(JSON.stringify({ id_ns_per_call: Number(t3 - t2) / n, checksum: q }));
});
