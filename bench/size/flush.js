#!/usr/bin/env node
'use strict';
// Opens a kept data dir (bench/ingest/ingest.js --keep DIR), flushes every index (POST /_flush)
// and stops the server cleanly, so the directory holds the fully committed index: nothing left
// in the write-ahead log. Then run `kiln_size DIR`.
//
//   node bench/size/flush.js --bin build/kiln [--forcemerge N] DIR
// With --forcemerge N it asks POST /_forcemerge?max_num_segments=N instead (which flushes too):
// the size of a read-mostly index merged down, as a catalogue's owner would do after a load.
const { KilnServer, request } = require('../../tests/integration/lib/server');

async function main() {
  const a = process.argv.slice(2);
  const bin = a[0] === '--bin' ? a[1] : 'build/kiln';
  const fm = a.indexOf('--forcemerge');
  const dir = a[a.length - 1];
  const t0 = Date.now();
  const srv = await KilnServer.start({ bin, dataDir: dir, readyTimeoutMs: 600000 });
  const t1 = Date.now();
  const op = fm >= 0 ? `/_forcemerge?max_num_segments=${a[fm + 1]}` : '/_flush';
  const r = await request(srv.url, 'POST', op, undefined, {}, { timeoutMs: 600000 });
  const t2 = Date.now();
  await srv.stop({ timeoutMs: 600000 });
  process.stderr.write(`open ${((t1 - t0) / 1000).toFixed(1)} s, ${op} ${r.status} in ${((t2 - t1) / 1000).toFixed(1)} s\n`);
}
main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
