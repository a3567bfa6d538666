#!/usr/bin/env node
'use strict';
// Power-loss test: writes acknowledged by Kiln must survive losing every byte that was written
// but not fsync'd. kill -9 alone lets the kernel keep the page cache (the crash test covers
// that); here the server runs with tests/crash/sync_shim.so, which logs the size of each file
// at every fsync/fdatasync. After SIGKILL, every write-ahead-log file is cut back to its last
// synced size (never synced: emptied), as a power cut would leave it, and the server restarts on
// the result. Every acknowledged document must be there with its exact _source, and every
// acknowledged delete must stay deleted. Several rounds, with writers busy at the kill.
//
//   node tests/crash/power_loss.js --bin build/kiln --shim build/tests/crash/sync_shim.so
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { KilnServer, request, sleep } = require('../integration/lib/server');

const o = { bin: 'build/kiln', shim: '', rounds: 6, seed: 7 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in o)) throw new Error(`unknown option ${process.argv[i]}`);
  o[k] = ['rounds', 'seed'].includes(k) ? Number(process.argv[++i]) : process.argv[++i];
}
if (!o.shim || !fs.existsSync(o.shim)) throw new Error(`--shim: ${o.shim} not found`);

let rng = o.seed;
const rand = () => ((rng = (rng * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

/** Cuts every file the shim saw synced, and every never-synced log file, to its synced size. */
function dropUnsynced(dataDir, syncLog) {
  const synced = new Map();
  if (fs.existsSync(syncLog))
    for (const line of fs.readFileSync(syncLog, 'utf8').split('\n')) {
      const sp = line.lastIndexOf(' ');
      if (sp > 0) synced.set(line.slice(0, sp), Number(line.slice(sp + 1)));
    }
  let dropped = 0;
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^translog-\d+\.log$/.test(e.name)) {
        const size = fs.statSync(p).size;
        const keep = synced.has(fs.realpathSync(p)) ? synced.get(fs.realpathSync(p)) : 0;
        if (size > keep) {
          fs.truncateSync(p, keep);
          dropped += size - keep;
        }
      }
    }
  };
  walk(dataDir);
  fs.rmSync(syncLog, { force: true });
  return dropped;
}

(async () => {
  const syncLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-sync-')), 'sync.log');
  const env = { LD_PRELOAD: path.resolve(o.shim), KILN_SYNC_LOG: syncLog };
  const srv = await KilnServer.start({ bin: o.bin, env, args: ['--log-level', 'warn'] });
  const expected = new Map(); // id → source text (acknowledged), or null (acknowledged delete)
  let acked = 0, droppedTotal = 0, seq = 0;
  try {
    for (let round = 0; round < o.rounds; round++) {
      let stop = false;
      // Writes of a request cut off by the kill were not acknowledged: each may or may not have
      // reached the disk, so for those ids the old and the new value are both correct.
      const maybe = new Map(); // id → [possible sources (null: deleted)]
      const writer = async (w) => {
        while (!stop) {
          const lines = [], batch = [];
          const n = 1 + Math.floor(rand() * 400);
          for (let i = 0; i < n; i++) {
            // each writer owns its ids: the order of two in-flight acks for one id is unknowable
            const id = `w${w}-${Math.floor(rand() * 1500)}`;
            if (rand() < 0.1) {
              lines.push(JSON.stringify({ delete: { _index: 'pl', _id: id } }));
              batch.push([id, null]);
            } else {
              const src = JSON.stringify({ w, seq: seq++, round, pad: 'x'.repeat(Math.floor(rand() * 300)) });
              lines.push(JSON.stringify({ index: { _index: 'pl', _id: id } }), src);
              batch.push([id, src]);
            }
          }
          let r;
          try {
            r = await request(srv.url, 'POST', '/_bulk', lines.join('\n') + '\n', { 'Content-Type': 'application/x-ndjson' });
          } catch (_) {
            for (const [id, src] of batch) maybe.set(id, [...(maybe.get(id) || []), src]);
            return; // the server died mid-request: nothing of this batch was acknowledged
          }
          if (r.status !== 200) return;
          r.body.items.forEach((it, i) => {
            const item = it.index || it.delete;
            if (item.status < 300 || (it.delete && item.status === 404)) {
              expected.set(batch[i][0], batch[i][1]);
              acked++;
            }
          });
        }
      };
      const writers = [writer(0), writer(1)];
      await sleep(200 + Math.floor(rand() * 600));
      await srv.kill(); // SIGKILL while both writers are busy
      stop = true;
      await Promise.all(writers);
      droppedTotal += dropUnsynced(srv.dataDir, syncLog);
      await srv.restart({ signal: 'SIGKILL' });
      // every acknowledged write, exactly
      const ids = [...expected.keys()];
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const r = await request(srv.url, 'POST', '/pl/_mget', JSON.stringify({ ids: chunk }), { 'Content-Type': 'application/json' });
        if (r.status !== 200) throw new Error(`_mget: ${r.status} ${r.text.slice(0, 300)}`);
        r.body.docs.forEach((d, j) => {
          const id = chunk[j];
          const same = (src) => (src === null ? !d.found : d.found && JSON.stringify(d._source) === JSON.stringify(JSON.parse(src)));
          if (same(expected.get(id))) return;
          const alt = (maybe.get(id) || []).find(same);
          if (alt !== undefined) {
            expected.set(id, alt); // an unacknowledged write that did reach the disk
            return;
          }
          const want = expected.get(id);
          throw new Error(`round ${round}: ${want === null ? `acknowledged delete of ${id} came back`
            : !d.found ? `acknowledged document ${id} lost` : `${id} does not hold its last acknowledged _source`}`);
        });
        for (const [id, vals] of maybe) if (!expected.has(id)) {
          // a brand-new id written only by a cut-off request: present or absent are both fine,
          // and what the restart shows is on disk from now on (a later round's cut-off write of
          // the same id may leave it so)
          const g = await request(srv.url, 'GET', `/pl/_doc/${id}`);
          const v = g.status === 200 ? vals.find((x) => x !== null && JSON.stringify(g.body._source) === JSON.stringify(JSON.parse(x))) : null;
          if (v === undefined) throw new Error(`round ${round}: ${id} holds a _source nobody wrote`);
          expected.set(id, v);
        }
      }
      console.log(`round ${round + 1}/${o.rounds}: ${expected.size} ids checked, unsynced bytes dropped so far ${droppedTotal}`);
    }
  } finally {
    await srv.stop();
  }
  if (acked === 0) throw new Error('no write was acknowledged: the test proved nothing');
  console.log(`${o.rounds} passed, 0 failed (power loss: ${acked} acknowledged writes, ${droppedTotal} unsynced bytes dropped)`);
})().catch((e) => {
  console.error(`power loss test failed: ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
