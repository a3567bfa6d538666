// Node/V8 baseline: the same lev.wasm, timed like the C benchmark.
const fs = require('fs');
const bytes = fs.readFileSync(process.argv[2]);
const n = parseInt(process.argv[3] || '2000000');
WebAssembly.instantiate(bytes, {}).then(({ instance }) => {
  const f = instance.exports.lev_bench;
  let s = 0;
  for (let i = 0; i < 200000; i++) s += f(i); // warm up (tier-up in V8)
  // CPU time, like the C side (the machine is shared).
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) s += f(i);
    const c = process.cpuUsage(c0);
    best = Math.min(best, ((c.user + c.system) * 1000) / n);
  }
  console.log(JSON.stringify({ ns_per_call: best, checksum: s }));
  const id = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(process.argv[4])), {}).exports.id;
  let q = 0;
  for (let i = 0; i < 200000; i++) q += id(i);
  let bid = Infinity;
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n * 10; i++) q += id(i);
    const c = process.cpuUsage(c0);
    bid = Math.min(bid, ((c.user + c.system) * 1000) / (n * 10));
  }
  console.log(JSON.stringify({ id_ns_per_call: bid, checksum: q }));
});
