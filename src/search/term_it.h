/* The term iterator's state (iter.c), shared with the phrase iterator (phrase.c), whose own
 * conjunction loop steps its terms inline instead of through next/advance pointers: a phrase
 * of two terms present in nearly every doc walks ~1M docs to check a few hundred thousand. */
#ifndef KILN_TERM_IT_H
#define KILN_TERM_IT_H

#include "search/iter.h"

typedef struct kiln__term_it {
    kiln__it base;
    const kiln__skip *sk;
    uint32_t nblocks;
    const uint8_t *post, *pos;
    uint32_t blk, i, n;
    int dense; /* the block's docs are consecutive: docs[k] = docs[0] + k */
    const uint8_t *pp;
    uint32_t pos_i;
    int pos_packed;   /* full block: pp[0] is the width, packed deltas follow (seal.c) */
    uint32_t pos_idx; /* packed: index of the first delta of doc pos_i */
    kiln__bm25 bm;
    const uint8_t *norms;
    int docs_only;
    const uint8_t *tf_packed; /* full block whose tfs are not decoded yet (NULL: tfs[] valid) */
    uint32_t bblk;            /* bound cursor: targets only grow */
    uint32_t cblk;            /* block of the cached bound (UINT32_MAX: none) */
    float cweight, cbound;    /* its BM25 weight and bound */
    uint32_t docs[KILN__BLOCK], tfs[KILN__BLOCK];
    int cum_ok;                /* cum[], pw and pmask are valid for the current block */
    unsigned pw;               /* packed positions: width of the deltas */
    uint64_t pmask;            /* (1 << pw) - 1, 0 for width 0 (no branch on it) */
    uint32_t cum[KILN__BLOCK]; /* packed positions: index of each doc's first delta */
    kiln__skip one; /* the skip entry of a one-block term, which the segment does not store */
    uint8_t pulse[16]; /* a pulsed term's postings, rebuilt from the dictionary */
} kiln__term_it;

/* The tfs of a full block, decoded when first needed: a conjunction's follower skips most
 * docs of the blocks it loads, and scores only the few that match. */
static inline void kiln__term_tfs(kiln__term_it *t)
{
    if (!t->tf_packed) return;
    const uint8_t *p = t->tf_packed;
    unsigned bd = p[0] > 32 ? 32 : p[0], bt = p[1] > 32 ? 32 : p[1];
    kiln__unpack_block(p + 2 + 16 * bd, t->tfs, bt);
    for (uint32_t k = 0; k < KILN__BLOCK; k++) t->tfs[k]++;
    t->tf_packed = NULL;
}

/* BM25 of the current doc (the term iterator's score(), inline for the windowed OR). */
static inline float kiln__term_score_fast(kiln__term_it *t)
{
    float freq = 1.0f;
    if (!t->docs_only) {
        kiln__term_tfs(t);
        freq = (float)t->tfs[t->i];
    }
    uint8_t nb = t->norms ? t->norms[t->base.doc] : 1;
    float w = t->bm.weight;
    return w - w / (1.0f + freq * t->bm.cache[nb]);
}

/* next() without the indirect call while inside the current block. */
static inline uint32_t kiln__term_next_fast(kiln__term_it *t)
{
    if (t->base.doc < KILN__UNSTARTED && t->i + 1 < t->n) return t->base.doc = t->docs[++t->i];
    return t->base.next(&t->base);
}

/* kiln__it_advance() without the indirect call when target is inside the current block. */
static inline uint32_t kiln__term_advance_fast(kiln__term_it *t, uint32_t target)
{
    uint32_t d = t->base.doc;
    if (d < KILN__UNSTARTED) {
        if (d >= target) return d;
        if (t->docs[t->n - 1] >= target) {
            /* a term in nearly every doc: most blocks are dense, and a scan's exit branch
             * would mispredict on every move of a few docs */
            uint32_t i = t->i;
            if (t->dense)
                i = target - t->docs[0];
            else
                while (t->docs[i] < target) i++;
            t->i = i;
            return t->base.doc = t->docs[i];
        }
    } else if (d == KILN__END)
        return d;
    return t->base.advance(&t->base, target);
}

static inline uint32_t kiln__term_freq_fast(kiln__term_it *t)
{
    kiln__term_tfs(t);
    return t->tfs[t->i];
}

/* A cursor over the positions of the term's current doc, decoded one at a time: a phrase
 * check usually fails on its first candidates, so most positions are never decoded. Full
 * blocks are read in place (bit-packed deltas, random access); a partial block's varints are
 * decoded into buf first (kiln__it_term_positions). */
typedef struct kiln__poscur {
    const uint8_t *packed; /* NULL: values from buf */
    const uint32_t *buf;
    size_t bit;    /* packed: bit offset of the next delta */
    uint64_t mask; /* packed: (1 << width) - 1, 0 for width 0 (no branch on it) */
    uint32_t left, pos;
    unsigned w;
} kiln__poscur;

/* Sets c at the first position of the term's current doc (c->pos; tf >= 1 always) and moves
 * the term's position state past the doc. buf holds *cap values, grown as needed. Returns
 * the tf. */
uint32_t kiln__term_poscur_slow(kiln__term_it *t, kiln__poscur *c, uint32_t **buf, uint32_t *cap);

static inline uint32_t kiln__term_poscur(kiln__term_it *t, kiln__poscur *c, uint32_t **buf,
                                         uint32_t *cap)
{
    if (!t->pp || !t->pos_packed) return kiln__term_poscur_slow(t, c, buf, cap);
    /* in place: the doc's first delta is at the sum of the earlier docs' tfs in the block */
    kiln__term_tfs(t);
    if (!t->cum_ok) {
        uint32_t sum = 0;
        for (uint32_t k = 0; k < t->n; k++) {
            t->cum[k] = sum;
            sum += t->tfs[k];
        }
        t->pw = t->pp[0] > 32 ? 32 : t->pp[0];
        t->pmask = t->pw ? (~0ull >> (64 - t->pw)) : 0;
        t->cum_ok = 1;
    }
    uint32_t tf = t->tfs[t->i], idx = t->cum[t->i];
    unsigned w = t->pw;
    c->w = w;
    c->mask = t->pmask;
    c->packed = t->pp + 1;
    c->buf = NULL;
    c->bit = (size_t)idx * w;
    uint64_t x;
    memcpy(&x, c->packed + (c->bit >> 3), 8);
    c->pos = (uint32_t)((x >> (c->bit & 7)) & c->mask);
    c->bit += w;
    c->left = tf - 1;
    t->pos_idx = idx + tf; /* where kiln__it_term_positions goes on from */
    t->pos_i = t->i + 1;
    return tf;
}

/* Moves c to the next position; 0 when there is none. */
static inline int kiln__poscur_next(kiln__poscur *c)
{
    if (!c->left) return 0;
    c->left--;
    if (c->packed) {
        uint64_t x;
        memcpy(&x, c->packed + (c->bit >> 3), 8);
        c->pos += (uint32_t)((x >> (c->bit & 7)) & c->mask);
        c->bit += c->w;
    } else
        c->pos = *c->buf++;
    return 1;
}

#endif
