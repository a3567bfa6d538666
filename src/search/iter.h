/* Doc iterators over one segment, in the style of RediSearch's index_iterator.h:
 *   next(it)            → the next matching local doc id, or KILN__END;
 *   advance(it, target) → the first matching doc >= target (returns doc unchanged if the
 *                         iterator is already there), or KILN__END;
 *   cost                → an estimate of the matches, to drive conjunctions by the cheapest;
 *   score(it)           → the score of the current doc (0 for non-scoring iterators);
 *   max_score           → an upper bound of score() over the whole iterator;
 *   bound(it, t, &end)  → an upper bound of score() over the docs in [t, end] (block-max
 *                         pruning: the collector skips ranges whose bound cannot beat its
 *                         threshold). end = KILN__END: no match at or after t.
 * Before the first next/advance, doc is KILN__UNSTARTED. */
#ifndef KILN_ITER_H
#define KILN_ITER_H

#include "search/searchInt.h"

#define KILN__END UINT32_MAX
#define KILN__UNSTARTED (UINT32_MAX - 1)
#define KILN__FAR (UINT32_MAX - 2) /* a bound's range reaching the end of the segment */

typedef struct kiln__it kiln__it;
struct kiln__it {
    uint32_t doc;
    uint32_t (*next)(kiln__it *it);
    uint32_t (*advance)(kiln__it *it, uint32_t target);
    float (*score)(kiln__it *it);
    float (*bound)(kiln__it *it, uint32_t target, uint32_t *end); /* NULL: max_score */
    void (*free)(kiln__it *it);
    uint64_t cost;
    float max_score;
    int cost_class; /* 0 postings, 1 doc-value scans, 4 costly per-doc filters (UDF) */
    /* Set by the collector on the root while pruning: docs scoring <= min_comp cannot enter
     * the top k, so an iterator may skip them (phrases skip position checks, disjunctions
     * stop leading with clauses that cannot reach it alone: MaxScore). < 0: no hint. */
    float min_comp;
    /* Two-phase check for costly filters: does doc match? Conjunctions and exclusions call it
     * on their candidates instead of advance(), so a UDF never runs on a doc the cheaper
     * clauses already ruled out. NULL for ordinary iterators. */
    int (*matches)(kiln__it *it, uint32_t doc);
};

static inline uint32_t kiln__it_next(kiln__it *it)
{
    return it->next(it);
}
static inline uint32_t kiln__it_advance(kiln__it *it, uint32_t target)
{
    if (it->doc != KILN__UNSTARTED && it->doc >= target) return it->doc;
    return it->advance(it, target);
}
/* next() of an iterator that only knows how to advance: the doc after the current one. */
static inline uint32_t kiln__it_next_by_advance(kiln__it *it,
                                                uint32_t (*adv)(kiln__it *it, uint32_t target))
{
    if (it->doc == KILN__END) return KILN__END;
    return adv(it, it->doc == KILN__UNSTARTED ? 0 : it->doc + 1);
}
void kiln__it_free(kiln__it *it);

static inline float kiln__it_bound(kiln__it *it, uint32_t target, uint32_t *end)
{
    if (it->doc == KILN__END) {
        *end = KILN__END;
        return 0;
    }
    if (it->bound) return it->bound(it, target, end);
    *end = KILN__FAR;
    return it->max_score;
}

/* BM25 inputs of a term iterator: weight = boost * idf; cache[norm byte] = 1/(k1*(1-b+b*len/avgdl)). */
typedef struct kiln__bm25 {
    float weight;
    const float *cache; /* NULL: not scoring */
} kiln__bm25;

kiln__it *kiln__it_term(const kiln_segment *s, const kiln__sfield *f, uint32_t term,
                        kiln__bm25 bm);
/* Positions of the term iterator's current doc into out (cap entries); returns the count. */
uint32_t kiln__it_term_positions(kiln__it *it, uint32_t *out, uint32_t cap);
uint32_t kiln__it_term_freq(kiln__it *it);
/* The term iterator's block bound for other BM25 inputs (a phrase's: its freq <= the tf). */
float kiln__it_term_bound_bm(kiln__it *it, uint32_t target, uint32_t *end, kiln__bm25 bm);

/* Unpacks KILN__BLOCK values of width w (0..32) packed as kiln__pack packs them: the same
 * as kiln__unpack, with one specialised loop per width (the term iterator's block decode). */
void kiln__unpack_block(const uint8_t *in, uint32_t *v, unsigned w);

kiln__it *kiln__it_empty(void);
/* Every doc of the segment (present: borrowed bitset of existing docs, or NULL = all). */
kiln__it *kiln__it_all(uint32_t ndocs, const uint64_t *present, float score);
/* Docs of a bitset over the segment (owned by the iterator), constant score. */
kiln__it *kiln__it_bitset(uint64_t *bits, uint32_t ndocs, uint64_t count, float score);
/* AND of children (takes ownership); scores add up. */
kiln__it *kiln__it_and(kiln__it **kids, size_t n);
/* OR of children; a doc matches when at least msm children match (msm >= 1); scores add up.
 * With dismax, score = max + tie * (sum - max). */
kiln__it *kiln__it_or(kiln__it **kids, size_t n, int msm, int dismax, float tie);
/* The same docs and scores as kiln__it_or(kids, n, 1, 0, 0), computed a window of docs at a
 * time: for disjunctions of many clauses that match most docs between them (fuzzy terms). */
kiln__it *kiln__it_or_window(kiln__it **kids, size_t n);
/* req AND NOT any of excl; score from req. */
kiln__it *kiln__it_not(kiln__it *req, kiln__it **excl, size_t n);
/* req, with score += score of opt when opt matches the doc (optional should clauses). */
kiln__it *kiln__it_req_opt(kiln__it *req, kiln__it *opt);
/* Scales (boosting's negative_boost on matches of neg) or replaces scores. */
kiln__it *kiln__it_boosting(kiln__it *pos, kiln__it *neg, float negative_boost);
kiln__it *kiln__it_const(kiln__it *kid, float score);
kiln__it *kiln__it_scale(kiln__it *kid, float factor);

/* Doc-value predicate scans: the doc matches when any of its values passes. */
typedef int (*kiln__dv_pred)(const kiln_dv *dv, uint32_t doc, const void *arg);
kiln__it *kiln__it_dv(const kiln_dv *dv, kiln__dv_pred pred, const void *arg, size_t argsz,
                      float score);

/* Phrase over term iterators (kiln__it_term, owned: the phrase steps them itself, term_it.h);
 * offsets are the terms' positions in the query. */
kiln__it *kiln__it_phrase(kiln__it **terms, const uint32_t *offsets, size_t n, int slop,
                          kiln__bm25 bm, const uint8_t *norms);

#endif
