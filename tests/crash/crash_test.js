#!/usr/bin/env node
'use strict';
// Crash test: acknowledged writes survive SIGKILL.
//
// Writers send _bulk requests (index ops; an id is recorded only after the 200 answer, and only
// for items without an error) while the server is killed with SIGKILL at random moments, many
// times in a row. After every restart, every acknowledged document must be present with
// identical _source (compared key order included); a document whose overwrite was in flight at
// the kill may hold either its acknowledged or its in-flight version.
//
//   node tests/crash/crash_test.js [--bin build/kiln] [--seconds 75] [--writers 2] [--seed 1]
//                                  [--single-writers 1] [--shards 2] [--keep-data]
// Bulk writers send _bulk requests of 1–2000 index/delete ops; single-document writers send
// PUT /{index}/_doc/{id} and DELETE. 7% (bulk) / 30% (single) of the writes overwrite or delete
// an acknowledged document; no two unanswered requests ever touch the same id.
// Exit 0 and "N passed, 0 failed" when all cycles verify; exit 1 with the missing ids otherwise.

const http = require('node:http');
const { KilnServer, request, sleep } = require('../integration/lib/server');

function args() {
  const o = { seconds: 75, writers: 2, singles: 1, seed: Number(process.env.KILN_CRASH_SEED) || Date.now() % 100000, shards: 2, minCycles: 8 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    if (k === '--bin') o.bin = a[++i];
    else if (k === '--seconds') o.seconds = Number(a[++i]);
    else if (k === '--writers') o.writers = Number(a[++i]);
    else if (k === '--single-writers') o.singles = Number(a[++i]);
    else if (k === '--seed') o.seed = Number(a[++i]);
    else if (k === '--shards') o.shards = Number(a[++i]);
    else if (k === '--min-cycles') o.minCycles = Number(a[++i]);
    else if (k === '--keep-data') o.keepData = true;
    else if (k === '--data') o.data = a[++i];
    else throw new Error(`unknown argument ${k}`);
  }
  return o;
}

// mulberry32: small seeded PRNG, same sequence for the same seed.
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['kiln', 'durable', 'fsync', 'λόγος', '日本語', 'naïve', 'emoji 🔥', 'tab\there', 'quote "q"', 'back\\slash', 'line\nbreak', 'wal', 'segment', 'shard', 'crash'];

/** A varied JSON document (its exact text is what we compare later). */
function makeDoc(rnd, id, version) {
  const pick = () => WORDS[Math.floor(rnd() * WORDS.length)];
  const n = 1 + Math.floor(rnd() * 12);
  const words = [];
  for (let i = 0; i < n; i++) words.push(pick());
  const doc = {
    id,
    version,
    title: words.join(' '),
    count: Math.floor(rnd() * 1e9),
    price: Math.round(rnd() * 1e6) / 100,
    neg: -Math.floor(rnd() * 1000),
    ok: rnd() < 0.5,
    none: null,
    tags: words.slice(0, 3),
    nested: { a: { b: { c: pick(), d: [1.5, 2.5, -3e-7, rnd() * 1e6] } } },
  };
  const r = rnd();
  if (r < 0.02) doc.big = 'x'.repeat(20000 + Math.floor(rnd() * 50000)); // crosses buffers
  else if (r < 0.3) doc.body = words.join(' ').repeat(1 + Math.floor(rnd() * 20));
  return JSON.stringify(doc);
}

function bulkPost(baseUrl, agent, indexName, lines) {
  const body = Buffer.from(lines.join('\n') + '\n');
  return request(baseUrl, 'POST', `/${indexName}/_bulk`, body,
    { 'Content-Type': 'application/x-ndjson' }, { agent, timeoutMs: 30000 });
}

async function main() {
  const o = args();
  const rnd = prng(o.seed);
  const INDEX = 'crash';
  const acked = new Map(); // id → source text of the last acknowledged write, null once deleted
  const ackedIds = []; // distinct acknowledged ids, in first-ack order
  const dirty = new Set(); // ids acknowledged since the last verification
  const inflightAtKill = new Map(); // id → Set of source texts sent but not acknowledged
  const stats = { singles: 0, recoveryKills: 0, deletes: 0, cycles: 0, bulks: 0, ackedWrites: 0, itemErrors: 0, itemErrorSamples: [], connErrors: 0, restartMs: [], verifyMs: [], verified: 0, overwrites: 0 };
  const failures = [];

  const srv = new KilnServer({ bin: o.bin, dataDir: o.data, keepData: o.keepData });
  await srv.start();
  const log = (s) => process.stdout.write(s + '\n');
  log(`crash test: seed ${o.seed}, ${o.writers} bulk writer(s) + ${o.singles} single-document writer(s), ${o.seconds} s budget, kiln pid ${srv.pid} at ${srv.url}, data ${srv.dataDir}`);

  // Explicit numeric types, so no document depends on dynamic-mapping order or coercion.
  const mappings = {
    properties: {
      count: { type: 'long' },
      neg: { type: 'long' },
      version: { type: 'long' },
      price: { type: 'double' },
      nested: { properties: { a: { properties: { b: { properties: { d: { type: 'double' } } } } } } },
    },
  };
  let r = await request(srv.url, 'PUT', `/${INDEX}`, { settings: { number_of_shards: o.shards }, mappings });
  if (r.status !== 200) {
    log(`  (PUT /${INDEX} with ${o.shards} shards answered ${r.status}; trying without settings)`);
    r = await request(srv.url, 'PUT', `/${INDEX}`);
    if (r.status !== 200) log(`  (PUT /${INDEX} answered ${r.status}: relying on auto-creation by _bulk)`);
  }

  let useMget = null;
  const deadline = Date.now() + o.seconds * 1000;
  let seq = 0;

  while (Date.now() < deadline || stats.cycles < o.minCycles) {
    stats.cycles++;
    const cycle = stats.cycles;
    const agent = new http.Agent({ keepAlive: true, maxSockets: o.writers + o.singles });
    let stop = false;
    const inflight = new Map(); // request no → [[id, src], ...]
    let reqNo = 0;
    // ids in some unanswered request: two concurrent writes of one id would make "the last
    // acknowledged version" ambiguous (acks can arrive in another order than the server applied)
    const busy = new Set();

    const ack = (id, src) => {
      if (!acked.has(id)) ackedIds.push(id);
      acked.set(id, src);
      dirty.add(id);
      stats.ackedWrites++;
      inflightAtKill.delete(id);
    };

    // single-document writer: PUT /{index}/_doc/{id} and DELETE, one request per write
    const singleWriter = async (w) => {
      while (!stop) {
        let id;
        let src;
        const r = rnd();
        if (acked.size > 0 && r < 0.3) {
          id = ackedIds[Math.floor(rnd() * ackedIds.length)];
          if (busy.has(id)) continue;
          src = r < 0.1 && acked.get(id) !== null ? null : makeDoc(rnd, id, cycle);
        } else {
          id = `c${cycle}s${w}n${seq++}`;
          src = makeDoc(rnd, id, cycle);
        }
        busy.add(id);
        const my = reqNo++;
        inflight.set(my, [[id, src]]);
        const p = `/${INDEX}/_doc/${encodeURIComponent(id)}`;
        let res;
        try {
          res = src === null ? await request(srv.url, 'DELETE', p, null, {}, { agent }) : await request(srv.url, 'PUT', p, src, {}, { agent });
        } catch {
          stats.connErrors++;
          return; // unknown outcome: stays in flight
        }
        if (res.status >= 500 || !res.body) return;
        stats.singles++;
        const ok = src === null ? res.status === 200 && res.body.result === 'deleted' : res.status === 200 || res.status === 201;
        if (ok && res.body._id === id) ack(id, src);
        else {
          stats.itemErrors++;
          if (stats.itemErrorSamples.length < 5) stats.itemErrorSamples.push(`${src === null ? 'DELETE' : 'PUT'} ${p} → ${res.status} ${res.text.slice(0, 200)}`);
        }
        inflight.delete(my);
        busy.delete(id);
      }
    };

    const writer = async (w) => {
      while (!stop) {
        const n = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 2000 : 200));
        const lines = [];
        const ops = [];
        for (let i = 0; i < n; i++) {
          let id;
          const r = rnd();
          if (acked.size > 0 && r < 0.07) {
            // overwrite (or re-create) an acknowledged document, or delete a live one
            id = ackedIds[Math.floor(rnd() * ackedIds.length)];
            if (busy.has(id)) continue;
            if (r < 0.02 && acked.get(id) !== null) {
              busy.add(id);
              lines.push(JSON.stringify({ delete: { _id: id } }));
              ops.push([id, null]);
              stats.deletes++;
              continue;
            }
            stats.overwrites++;
          } else id = `c${cycle}w${w}n${seq++}`;
          busy.add(id);
          const src = makeDoc(rnd, id, cycle);
          lines.push(JSON.stringify({ index: { _id: id } }), src);
          ops.push([id, src]);
        }
        const my = reqNo++;
        inflight.set(my, ops);
        let res;
        try {
          res = await bulkPost(srv.url, agent, INDEX, lines);
        } catch {
          stats.connErrors++;
          return; // server is gone: this request stays in flight (unknown outcome)
        }
        if (res.status !== 200 || !res.body || !Array.isArray(res.body.items)) {
          if (res.status >= 500 || !res.body) return; // died mid-answer
          throw new Error(`bulk answered ${res.status}: ${res.text.slice(0, 500)}`);
        }
        stats.bulks++;
        const items = res.body.items;
        if (items.length !== ops.length) throw new Error(`bulk answered ${items.length} items for ${ops.length} ops`);
        for (let i = 0; i < ops.length; i++) {
          const [id, src] = ops[i];
          const it = src === null ? items[i].delete : items[i].index;
          if (it && !it.error && it.status >= 200 && it.status < 300 && it._id === id && (src !== null || it.result === 'deleted')) {
            ack(id, src);
          } else {
            stats.itemErrors++;
            if (stats.itemErrorSamples.length < 5) stats.itemErrorSamples.push(JSON.stringify(items[i]).slice(0, 300));
          }
        }
        inflight.delete(my);
        for (const [id] of ops) busy.delete(id);
      }
    };

    const writers = [];
    for (let w = 0; w < o.writers; w++) writers.push(writer(w));
    for (let w = 0; w < o.singles; w++) writers.push(singleWriter(w));
    const killAfter = Math.floor(rnd() < 0.15 ? rnd() * 30 : rnd() * 1500);
    await sleep(killAfter);
    stop = true;
    await srv.kill();
    const results = await Promise.allSettled(writers);
    agent.destroy();
    for (const res of results) if (res.status === 'rejected') throw res.reason;
    for (const ops of inflight.values()) {
      for (const [id, src] of ops) {
        if (!inflightAtKill.has(id)) inflightAtKill.set(id, new Set());
        inflightAtKill.get(id).add(src);
      }
    }

    // Sometimes kill it again while it recovers (before or around "ready"): recovery itself must
    // be crash-safe (torn tails truncated, commit points written atomically).
    if (rnd() < 0.25) {
      const early = Math.floor(rnd() * 150);
      const p = srv.restart({ signal: 'SIGKILL' }).then(
        () => 'ready',
        () => 'died'
      );
      await sleep(early);
      await srv.kill();
      await p;
      stats.recoveryKills++;
    }
    const t0 = Date.now();
    await srv.restart({ signal: 'SIGKILL' });
    stats.restartMs.push(Date.now() - t0);

    // verify every acknowledged document
    const t1 = Date.now();
    if (useMget === null) useMget = await probeMget(srv.url, INDEX);
    // Every acknowledged doc, unless that is too slow without _mget: then every doc acknowledged
    // since the last check, those in flight at the kill, a random sample of older ones, and a
    // full check after the last cycle.
    const last = !(Date.now() < deadline || stats.cycles < o.minCycles);
    let ids = ackedIds;
    if (!useMget && !last && ackedIds.length > 20000) {
      const s = new Set(dirty);
      for (const id of inflightAtKill.keys()) if (acked.has(id)) s.add(id);
      for (let i = 0; i < 3000; i++) s.add(ackedIds[Math.floor(rnd() * ackedIds.length)]);
      ids = [...s];
    }
    const bad = await verify(srv.url, INDEX, ids, acked, inflightAtKill, useMget);
    dirty.clear();
    stats.verifyMs.push(Date.now() - t1);
    stats.verified += ids.length;
    const line = `cycle ${String(cycle).padStart(3)}: killed after ${String(killAfter).padStart(4)} ms, ${String(ids.length).padStart(7)}/${acked.size} acked docs verified in ${Date.now() - t1} ms (restart ${stats.restartMs[stats.restartMs.length - 1]} ms)`;
    if (bad.length) {
      log(line + `  FAILED: ${bad.length} bad`);
      failures.push({ cycle, bad });
      break;
    }
    log(line + '  ok');
    // writes in flight at this kill are settled now: what the server holds after recovery is it
    inflightAtKill.clear();
  }

  const pct = (a, p) => (a.length ? [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))] : 0);
  log('');
  log(`summary: ${stats.cycles} SIGKILL cycles, ${stats.bulks} acknowledged bulk requests, ${stats.singles} single-document requests, ${stats.ackedWrites} acknowledged writes (${stats.overwrites} overwrites, ${stats.deletes} deletes), ${acked.size} distinct ids`);
  log(`         ${stats.recoveryKills} extra SIGKILLs during recovery`);
  log(`         restart-to-ready p50 ${pct(stats.restartMs, 0.5)} ms, max ${Math.max(0, ...stats.restartMs)} ms; verify p50 ${pct(stats.verifyMs, 0.5)} ms (${useMget ? '_mget' : 'GET per doc'})`);
  log(`         connection errors at kills ${stats.connErrors}; item errors ${stats.itemErrors}${stats.itemErrorSamples.length ? ': ' + stats.itemErrorSamples.join(' | ') : ''}`);
  if (failures.length) {
    const f = failures[0];
    log(`\nFAILED in cycle ${f.cycle}: ${f.bad.length} acknowledged document(s) missing or different:`);
    for (const b of f.bad.slice(0, 50)) log(`  ${b}`);
    if (f.bad.length > 50) log(`  ... and ${f.bad.length - 50} more`);
    log(`\n--- kiln log (tail) ---\n${srv.tail(60)}`);
    await srv.stop({ removeData: !o.keepData });
    log(`0 passed, 1 failed`);
    return 1;
  }
  if (stats.itemErrors > 0) {
    log(`FAILED: ${stats.itemErrors} bulk item(s) were refused though every document is valid`);
    log(`--- kiln log (tail) ---\n${srv.tail(40)}`);
    await srv.stop({ removeData: !o.keepData });
    log('0 passed, 1 failed');
    return 1;
  }
  if (stats.ackedWrites === 0) {
    log('FAILED: no write was ever acknowledged');
    log(`--- kiln log (tail) ---\n${srv.tail(40)}`);
    await srv.stop();
    log('0 passed, 1 failed');
    return 1;
  }
  await srv.stop({ removeData: !o.keepData });
  log(`${stats.cycles} passed, 0 failed`);
  return 0;
}

async function probeMget(url, index) {
  try {
    const r = await request(url, 'POST', `/${index}/_mget`, { ids: ['__probe__'] });
    return r.status === 200 && r.body && Array.isArray(r.body.docs);
  } catch {
    return false;
  }
}

function sourceText(obj) {
  return JSON.stringify(obj);
}

/** → list of "id: problem" strings. */
async function verify(url, index, ids, acked, inflightAtKill, useMget) {
  const bad = [];
  // acceptable states: the acknowledged one, or any write in flight at the kill (null = deleted)
  const check = (id, found, src) => {
    const want = acked.get(id);
    const ok = [want, ...(inflightAtKill.get(id) || [])];
    if (!found) {
      if (ok.includes(null)) return void acked.set(id, null);
      bad.push(`${id}: missing`);
      return;
    }
    const got = sourceText(src);
    for (const v of ok) if (v !== null && got === sourceText(JSON.parse(v))) return void acked.set(id, v);
    if (want === null) bad.push(`${id}: deleted (acknowledged) but present again: ${got.slice(0, 160)}`);
    else bad.push(`${id}: _source differs: got ${got.slice(0, 160)} want ${want.slice(0, 160)}`);
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    if (useMget) {
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = ids.slice(i, i + 1000);
        const r = await request(url, 'POST', `/${index}/_mget`, { ids: chunk }, {}, { agent });
        if (r.status !== 200 || !r.body || !Array.isArray(r.body.docs)) {
          bad.push(`_mget answered ${r.status}: ${r.text.slice(0, 300)}`);
          return bad;
        }
        const byId = new Map(r.body.docs.map((d) => [d._id, d]));
        for (const id of chunk) {
          const d = byId.get(id);
          check(id, d && d.found, d && d._source);
        }
      }
    } else {
      let next = 0;
      const worker = async () => {
        while (next < ids.length) {
          const id = ids[next++];
          const r = await request(url, 'GET', `/${index}/_doc/${encodeURIComponent(id)}`, null, {}, { agent });
          if (r.status === 404) check(id, false);
          else if (r.status !== 200 || !r.body) bad.push(`${id}: GET answered ${r.status} ${r.text.slice(0, 200)}`);
          else check(id, r.body.found !== false, r.body._source);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    }
  } finally {
    agent.destroy();
  }
  return bad;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stdout.write(`crash test error: ${e.stack || e.message}\n0 passed, 1 failed\n`);
    process.exit(1);
  }
);
