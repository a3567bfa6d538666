'use strict';
// Deterministic randomness for dataset makers: a seeded PRNG and a Zipf sampler.
// Same seed → same sequence on every machine and Node version (integer math only, plus
// IEEE-754 double arithmetic that is fully specified).

/** mulberry32: 32-bit state, good enough statistically for test data, and fast. */
function prng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

/**
 * Zipf(s) over ranks 0..n-1 (rank 0 most frequent): P(k) ∝ 1/(k+1)^s. Sampling is a binary
 * search in the cumulative table.
 */
function zipf(n, s = 1.0) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / Math.pow(k + 1, s);
    cdf[k] = sum;
  }
  for (let k = 0; k < n; k++) cdf[k] /= sum;
  return (rnd) => {
    const u = rnd();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

module.exports = { prng, zipf };
