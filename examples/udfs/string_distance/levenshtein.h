/* Levenshtein distance over UTF-8 code points: the algorithm of the string_distance UDF,
 * free of any Kiln call so the same code also compiles natively (gcc/clang on the host) for
 * the native-versus-wasm benchmark and for tests.
 *
 * Strings are compared by Unicode code point, not by byte: "café" vs "cafe" is 1. Invalid
 * UTF-8 is not rejected: each byte that does not start a valid, shortest-form sequence
 * decodes to its own unit (0xDC00 + byte, a lone-surrogate value no valid sequence produces),
 * so it costs one edit like any other character.
 *
 * The pattern (the query's target) is compiled once into a lev_pattern; distances against it
 * are computed with Myers' bit-parallel algorithm (Hyyrö's formulation for global edit
 * distance) when it has at most 64 code points: O(n) word operations for a text of n code
 * points. Longer patterns fall back to the two-row dynamic program, O(n*m).
 *
 * Both entry points take a bound k and may stop early once the distance provably exceeds k:
 * they then return some value > k (not necessarily the exact distance). */
#ifndef KILN_LEVENSHTEIN_H
#define KILN_LEVENSHTEIN_H

#include <stdint.h>

#ifndef LEV_MAX_PATTERN
#define LEV_MAX_PATTERN 1024 /* code points; longer patterns are refused by lev_compile() */
#endif

typedef struct {
  int32_t m;                   /* pattern length in code points */
  int32_t n_other;             /* distinct non-ASCII code points (bit-parallel mode) */
  uint64_t ascii[128];         /* Peq for ASCII code points */
  uint32_t other_cp[64];       /* Peq for the others: code point -> mask, linear scan */
  uint64_t other_mask[64];
  uint32_t cps[LEV_MAX_PATTERN]; /* the pattern's code points (for the fallback) */
  uint32_t row[2][LEV_MAX_PATTERN + 1];
} lev_pattern;

/* Decodes the code point at s[*i] (i < n) and advances *i. */
static inline uint32_t lev_next_cp(const unsigned char *s, int32_t n, int32_t *i) {
  uint32_t b = s[*i];
  if (b < 0x80) {
    (*i)++;
    return b;
  }
  int32_t k = *i, len;
  uint32_t cp, min;
  if (b >= 0xC2 && b <= 0xDF)
    len = 2, cp = b & 0x1F, min = 0x80;
  else if (b >= 0xE0 && b <= 0xEF)
    len = 3, cp = b & 0x0F, min = 0x800;
  else if (b >= 0xF0 && b <= 0xF4)
    len = 4, cp = b & 0x07, min = 0x10000;
  else
    goto invalid;
  if (k + len > n)
    goto invalid;
  for (int32_t j = 1; j < len; j++) {
    uint32_t c = s[k + j];
    if ((c & 0xC0) != 0x80)
      goto invalid;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    goto invalid;
  *i = k + len;
  return cp;
invalid:
  (*i)++;
  return 0xDC00 + b;
}

/* Number of code points lev_next_cp() yields for s[0..n). */
static inline int32_t lev_count_cp(const unsigned char *s, int32_t n) {
  int32_t c = 0, i = 0;
  while (i < n) {
    if (s[i] < 0x80)
      i++;
    else
      lev_next_cp(s, n, &i);
    c++;
  }
  return c;
}

/* Compiles pattern p (n bytes of UTF-8). Returns 0, or -1 if it has more than
 * LEV_MAX_PATTERN code points. */
static inline int lev_compile(lev_pattern *P, const unsigned char *p, int32_t n) {
  for (int c = 0; c < 128; c++)
    P->ascii[c] = 0;
  P->n_other = 0;
  int32_t m = 0, i = 0;
  while (i < n) {
    if (m == LEV_MAX_PATTERN)
      return -1;
    P->cps[m++] = lev_next_cp(p, n, &i);
  }
  P->m = m;
  if (m > 64)
    return 0;
  for (int32_t j = 0; j < m; j++) {
    uint32_t c = P->cps[j];
    uint64_t bit = (uint64_t)1 << j;
    if (c < 128) {
      P->ascii[c] |= bit;
      continue;
    }
    int32_t k = 0;
    while (k < P->n_other && P->other_cp[k] != c)
      k++;
    if (k == P->n_other) {
      P->other_cp[k] = c;
      P->other_mask[k] = 0;
      P->n_other++;
    }
    P->other_mask[k] |= bit;
  }
  return 0;
}

static inline uint64_t lev_peq(const lev_pattern *P, uint32_t c) {
  if (c < 128)
    return P->ascii[c];
  for (int32_t k = 0; k < P->n_other; k++)
    if (P->other_cp[k] == c)
      return P->other_mask[k];
  return 0;
}

/* Edit distance between the compiled pattern and text t (n bytes of UTF-8), or some value
 * > k as soon as the distance is known to exceed k (k >= 0). */
static inline int32_t lev_distance(lev_pattern *P, const unsigned char *t, int32_t n, int32_t k) {
  int32_t m = P->m;
  /* The distance is at least the difference of the lengths in code points. The text has
   * between ceil(n/4) and n code points: bound with bytes first, count only when needed. */
  if (m - n > k)
    return m - n;
  if ((n + 3) / 4 - m > k)
    return (n + 3) / 4 - m;
  if (m == 0)
    return lev_count_cp(t, n);
  if (m <= 64) {
    /* Myers/Hyyrö: column-wise deltas of the DP matrix as bit vectors. Pv/Mv: vertical
     * +1/-1 deltas; score tracks the last row, D[m][j]. */
    uint64_t Pv = ~(uint64_t)0, Mv = 0, last = (uint64_t)1 << (m - 1);
    int32_t score = m, i = 0;
    while (i < n) {
      uint32_t c = t[i] < 0x80 ? t[i++] : lev_next_cp(t, n, &i);
      uint64_t Eq = lev_peq(P, c);
      uint64_t Xv = Eq | Mv;
      uint64_t Xh = (((Eq & Pv) + Pv) ^ Pv) | Eq;
      uint64_t Ph = Mv | ~(Xh | Pv);
      uint64_t Mh = Pv & Xh;
      score += (int32_t)((Ph & last) != 0) - (int32_t)((Mh & last) != 0);
      Ph = (Ph << 1) | 1; /* global distance: the top row grows by 1 per column */
      Mh <<= 1;
      Pv = Mh | ~(Xv | Ph);
      Mv = Ph & Xv;
      /* Each remaining column lowers the score by at most 1, and at most n - i columns (one
       * per remaining byte, an upper bound on the code points) remain. */
      if (score - (n - i) > k)
        return score - (n - i);
    }
    return score;
  }
  /* Two-row dynamic program, with the same early exit on the row minimum. */
  uint32_t *prev = P->row[0], *cur = P->row[1];
  for (int32_t j = 0; j <= m; j++)
    prev[j] = (uint32_t)j;
  int32_t i = 0, row = 0;
  while (i < n) {
    uint32_t c = lev_next_cp(t, n, &i);
    row++;
    cur[0] = (uint32_t)row;
    uint32_t best = cur[0];
    for (int32_t j = 1; j <= m; j++) {
      uint32_t v = prev[j - 1] + (P->cps[j - 1] != c);
      uint32_t del = prev[j] + 1, ins = cur[j - 1] + 1;
      if (del < v)
        v = del;
      if (ins < v)
        v = ins;
      cur[j] = v;
      if (v < best)
        best = v;
    }
    if ((int64_t)best > k) /* the row minimum never decreases */
      return (int32_t)best;
    uint32_t *tmp = prev;
    prev = cur;
    cur = tmp;
  }
  return (int32_t)prev[m];
}

#endif
