#!/usr/bin/env node
'use strict';
// Synthetic product catalogue, deterministic: the same --n and --seed give byte-identical output.
//
//   node bench/datasets/products.js --n 1000000 [--seed 42] [--index products]
//        [--format bulk|docs] [--out FILE]        (default: bulk NDJSON to stdout)
//
// Fields: name, description, category, brand, price, rating, stock, tags[], created_at,
// attributes.{color,size}; ~0.5–1 KB per document. Text is drawn from a 50,000-word synthetic
// vocabulary with a Zipf(1.0) distribution (rank 0 most frequent), so term statistics look like
// natural language: a few very common terms, a long tail of rare ones.
// --format bulk writes `{"index":{"_index":...,"_id":"<n>"}}` + document lines (a _bulk body);
// --format docs writes one document per line.
// As a module: `products({ seed }).doc(i)` returns document i as an object.

const fs = require('node:fs');
const { prng, zipf } = require('./rand');

const VOCAB_SIZE = 50000;
const VOCAB_SEED = 0x6b696c6e; // fixed: the vocabulary never depends on --seed

const ONSETS = ['b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'cl', 'cr', 'dr', 'fl', 'gr', 'pl', 'pr', 'sl', 'st', 'tr', 'ch', 'sh', 'th', ''];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou', 'io', 'y'];
const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'ck', 'nd', 'st', 'x'];

let vocabCache = null;
/** 50k distinct pseudo-words, shortest first (frequent words are short, as in real text). */
function vocabulary() {
  if (vocabCache) return vocabCache;
  const rnd = prng(VOCAB_SEED);
  const seen = new Set();
  const words = [];
  while (words.length < VOCAB_SIZE) {
    const syl = 1 + Math.floor(rnd() * rnd() * 4.5);
    let w = '';
    for (let i = 0; i < syl; i++) w += rnd.pick(ONSETS) + rnd.pick(VOWELS) + rnd.pick(CODAS);
    if (w.length < 2 || seen.has(w)) continue;
    seen.add(w);
    words.push(w);
  }
  // stable sort by length keeps generation order within a length
  vocabCache = words.map((w, i) => [w, i]).sort((a, b) => a[0].length - b[0].length || a[1] - b[1]).map((x) => x[0]);
  return vocabCache;
}

const CATEGORIES = ['electronics', 'books', 'clothing', 'home', 'garden', 'toys', 'sports', 'beauty', 'health', 'automotive', 'grocery', 'music', 'movies', 'office', 'pet supplies', 'tools', 'jewelry', 'shoes', 'baby', 'outdoors', 'kitchen', 'furniture', 'video games', 'software', 'crafts', 'industrial', 'luggage', 'watches', 'camera', 'phones', 'computers', 'appliances', 'lighting', 'bedding', 'bath', 'party', 'stationery', 'fitness', 'cycling', 'camping'];
const COLORS = ['black', 'white', 'red', 'blue', 'green', 'yellow', 'grey', 'silver', 'gold', 'pink', 'purple', 'orange', 'brown', 'beige', 'navy', 'teal'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL', 'XXL', 'one size', '36', '38', '40', '42', '44', '10 cm', '20 cm', '50 cm', '1 m'];

function cap(w) {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

function products({ seed = 42 } = {}) {
  const vocab = vocabulary();
  const word = zipf(VOCAB_SIZE, 1.0);
  const cat = zipf(CATEGORIES.length, 0.8);
  const brandRank = zipf(500, 1.1);
  const brandRnd = prng(VOCAB_SEED ^ 0x55);
  const brands = [];
  for (let i = 0; i < 500; i++) brands.push(cap(vocab[1000 + Math.floor(brandRnd() * 20000)]) + (brandRnd() < 0.3 ? ' ' + cap(vocab[Math.floor(brandRnd() * 3000)]) : ''));
  const T0 = Date.UTC(2020, 0, 1) / 1000;
  const T1 = Date.UTC(2025, 11, 31) / 1000;

  /** Document i: depends only on (seed, i), so any slice can be generated independently. */
  function doc(i) {
    const rnd = prng((seed * 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b));
    const words = (n) => {
      const out = new Array(n);
      for (let k = 0; k < n; k++) out[k] = vocab[word(rnd)];
      return out;
    };
    const nameWords = words(rnd.int(2, 5));
    const brand = brands[brandRank(rnd)];
    const descN = rnd.int(60, 125);
    const desc = words(descN);
    // sentences of 6–14 words
    let d = '';
    for (let k = 0; k < desc.length; ) {
      const len = Math.min(desc.length - k, rnd.int(6, 14));
      d += (d ? ' ' : '') + cap(desc.slice(k, k + len).join(' ')) + '.';
      k += len;
    }
    // log-normal-ish price
    const price = Math.round(Math.exp(1 + rnd() * 6 + rnd() * 1.5) * 100) / 100;
    const created = new Date((T0 + Math.floor(rnd() * (T1 - T0))) * 1000).toISOString().replace('.000Z', 'Z');
    const ntags = rnd.int(1, 5);
    const tags = [];
    for (let k = 0; k < ntags; k++) {
      const t = vocab[word(rnd) % 5000];
      if (!tags.includes(t)) tags.push(t);
    }
    return {
      name: `${brand} ${nameWords.map(cap).join(' ')}`,
      description: d,
      category: CATEGORIES[cat(rnd)],
      brand,
      price,
      rating: Math.round((1 + rnd() * 4) * 10) / 10,
      stock: rnd() < 0.1 ? 0 : rnd.int(1, 1000),
      tags,
      created_at: created,
      attributes: { color: rnd.pick(COLORS), size: rnd.pick(SIZES) },
    };
  }
  return { doc };
}

/** Write n docs as NDJSON (bulk or docs) to fd, in ~1 MiB chunks. */
function writeProducts(fd, { n, seed, index = 'products', format = 'bulk', start = 0 }) {
  const g = products({ seed });
  let buf = '';
  for (let i = start; i < start + n; i++) {
    if (format === 'bulk') buf += `{"index":{"_index":"${index}","_id":"${i}"}}\n`;
    buf += JSON.stringify(g.doc(i)) + '\n';
    if (buf.length > 1 << 20) {
      fs.writeSync(fd, buf);
      buf = '';
    }
  }
  if (buf) fs.writeSync(fd, buf);
}

if (require.main === module) {
  const o = { n: 1000, seed: 42, index: 'products', format: 'bulk', out: null, start: 0 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i].replace(/^--/, '');
    if (!(k in o)) {
      process.stderr.write(`unknown option ${a[i]}\nusage: products.js [--n N] [--seed S] [--start I] [--index NAME] [--format bulk|docs] [--out FILE]\n`);
      process.exit(2);
    }
    o[k] = ['n', 'seed', 'start'].includes(k) ? Number(a[++i]) : a[++i];
  }
  const fd = o.out ? fs.openSync(o.out, 'w') : 1;
  try {
    writeProducts(fd, o);
  } catch (e) {
    if (e.code !== 'EPIPE') throw e;
  }
  if (o.out) fs.closeSync(fd);
}

module.exports = { products, vocabulary, writeProducts, CATEGORIES };
