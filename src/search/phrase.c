/* Phrase iterator: a conjunction of term iterators whose positions line up. Exact phrases count
 * every occurrence (Lucene's ExactPhraseMatcher); sloppy phrases add 1/(1 + distance) per match
 * within slop, distance being how far the terms sit from their query offsets. The conjunction
 * is stepped here, inline (term_it.h), not through an AND iterator: with two terms present in
 * nearly every doc, most docs are turned away on their tfs and norm alone, and the indirect
 * calls per doc were a third of the query. */
#include "search/iter.h"
#include "search/term_it.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

typedef struct kiln__phrase_it {
    kiln__it base;
    kiln__it **terms;   /* owned, in query order */
    kiln__term_it **ct; /* the same, cheapest first: ct[0] leads the conjunction */
    uint32_t *offsets;
    size_t n;
    int slop;
    kiln__bm25 bm;
    const uint8_t *norms;
    float freq;
    uint32_t **pos;
    uint32_t *npos, *cap;
    kiln__poscur *cur;            /* exact phrases: position cursors, one per term */
    size_t *order;                /* exact phrases: terms by increasing tf in the doc */
    /* occurrences needed to compete, by norm byte, for min_comp need_for (NaN: not yet) */
    float need_for;
    uint32_t need[256];
    /* the lead's docs in block left_blk that can compete at need_for (kiln__phrase_lead_skip) */
    uint64_t left[2];
    uint32_t left_blk;
    float left_for;
} kiln__phrase_it;

static uint32_t kiln__load_pos(kiln__phrase_it *p, size_t i)
{
    uint32_t tf = kiln__it_term_freq(p->terms[i]);
    if (tf > p->cap[i]) {
        p->cap[i] = tf;
        p->pos[i] = kiln_xrealloc(p->pos[i], tf * sizeof(uint32_t));
    }
    return p->npos[i] = kiln__it_term_positions(p->terms[i], p->pos[i], p->cap[i]);
}

/* Nearest value to x in sorted v (n > 0). */
static uint32_t kiln__nearest(const uint32_t *v, uint32_t n, int64_t x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if ((int64_t)v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == n) return v[n - 1];
    if (lo == 0) return v[0];
    return x - (int64_t)v[lo - 1] <= (int64_t)v[lo] - x ? v[lo - 1] : v[lo];
}

/* The fewest occurrences a doc with norm byte nb needs for its phrase score to beat min_comp.
 * BM25 grows with the frequency, so the score of f occurrences beats min_comp iff
 * f * cache > w / (w - min_comp) - 1. */
static uint32_t kiln__phrase_need_of(const kiln__phrase_it *p, uint8_t nb)
{
    float w = p->bm.weight, c = p->bm.cache[nb], mc = p->base.min_comp;
    if (!(w > mc) || !(c > 0)) return UINT32_MAX;
    float x = (w / (w - mc) - 1.0f) / c;
    uint32_t f = x < 1 ? 1 : x > 1e9f ? UINT32_MAX : (uint32_t)x;
    while (f > 1 && w - w / (1.0f + (float)(f - 1) * c) > mc) f--; /* float rounding */
    while (f != UINT32_MAX && !(w - w / (1.0f + (float)f * c) > mc)) f++;
    return f;
}

/* need[] for the current min_comp (1 everywhere when the collector has no threshold yet or
 * nothing is scored): the threshold changes only when the collector's heap does, so the
 * per-doc check is a lookup by norm byte. */
static void kiln__phrase_need_table(kiln__phrase_it *p)
{
    if (p->need_for == p->base.min_comp) return;
    p->need_for = p->base.min_comp;
    int none = p->base.min_comp < 0 || !p->bm.cache;
    for (int nb = 0; nb < 256; nb++) p->need[nb] = none ? 1 : kiln__phrase_need_of(p, (uint8_t)nb);
}

static inline uint32_t kiln__phrase_need(const kiln__phrase_it *p, uint32_t d)
{
    return p->need[p->norms ? p->norms[d] : 1];
}

_Static_assert(KILN__BLOCK <= 128, "the lead's mask holds a block in two words");

/* Pruned exact phrase: a doc of the lead whose tf there is below its need cannot compete
 * (the phrase occurs at most tf times). In the pruned phase of a phrase of two common terms
 * that is nearly every doc, turned away at random: the lead's block is sifted into a mask of
 * the docs left (branch-free: a branch per doc mispredicted a third of the time), once per
 * block and threshold, before any other term moves. Returns the lead's first doc at or after
 * its current one that is left, or KILN__END. */
static uint32_t kiln__phrase_lead_skip(kiln__phrase_it *p)
{
    kiln__term_it *lead = p->ct[0];
    while (lead->base.doc != KILN__END) {
        if (p->left_blk != lead->blk || !(p->left_for == p->need_for)) {
            kiln__term_tfs(lead);
            uint64_t left[2] = {0, 0};
            for (uint32_t k = 0; k < lead->n; k++) {
                uint32_t need = kiln__phrase_need(p, lead->docs[k]);
                left[k >> 6] |= (uint64_t)(lead->tfs[k] >= need) << (k & 63);
            }
            p->left[0] = left[0];
            p->left[1] = left[1];
            p->left_blk = lead->blk;
            p->left_for = p->need_for;
        }
        uint32_t i = lead->i, word = i >> 6;
        uint64_t x = p->left[word] & (~0ull << (i & 63));
        if (!x && word == 0) x = p->left[word = 1];
        if (x) {
            lead->i = word * 64 + (uint32_t)__builtin_ctzll(x);
            return lead->base.doc = lead->docs[lead->i];
        }
        lead->i = lead->n - 1;
        lead->base.doc = lead->docs[lead->i];
        kiln__term_next_fast(lead); /* the next block */
    }
    return KILN__END;
}

/* kiln__exact_freq of two terms, the common case, without the general loops. */
static float kiln__exact_freq2(kiln__phrase_it *p, uint32_t need)
{
    kiln__term_it *t0 = (kiln__term_it *)p->terms[0], *t1 = (kiln__term_it *)p->terms[1];
    uint32_t f0 = kiln__term_freq_fast(t0), f1 = kiln__term_freq_fast(t1);
    int swap = f1 < f0;
    if ((swap ? f1 : f0) < need) return 0; /* occurs at most min(tf) times */
    size_t l = swap, o = !swap; /* the lead (fewer occurrences) and the other */
    kiln__term_it *tl = swap ? t1 : t0, *to = swap ? t0 : t1;
    kiln__poscur cl, co;
    uint32_t m = kiln__term_poscur(tl, &cl, &p->pos[l], &p->cap[l]);
    if (m < need || !kiln__term_poscur(to, &co, &p->pos[o], &p->cap[o])) return 0;
    int64_t delta = (int64_t)p->offsets[o] - (int64_t)p->offsets[l];
    uint32_t count = 0, misses = 0, allowed = m - need;
    for (uint32_t a = 0; a < m; a++) {
        if (a) kiln__poscur_next(&cl);
        int64_t want = (int64_t)cl.pos + delta;
        while ((int64_t)co.pos < want)
            if (!kiln__poscur_next(&co)) return count >= need ? (float)count : 0;
        if ((int64_t)co.pos == want)
            count++;
        else if (++misses > allowed)
            return 0;
    }
    return count >= need ? (float)count : 0;
}

/* Exact phrase, Lucene-style: the term with the fewest occurrences in the doc leads; each of
 * its positions is a candidate start, kept when every other term (rarest first) sits at its
 * offset from it. Positions are decoded one at a time as the cursors move (they only move
 * forward, as the starts grow), and the walk stops as soon as too few candidates are left to
 * reach `need`: in the pruned phase that is usually the first or second candidate. */
static float kiln__exact_freq(kiln__phrase_it *p, uint32_t need)
{
    if (p->n == 2) return kiln__exact_freq2(p, need);
    size_t n = p->n, *order = p->order;
    uint32_t tf[16], *tfv = n <= 16 ? tf : NULL;
    for (size_t i = 0; i < n; i++) { /* insertion sort by tf: n is a handful */
        uint32_t x = kiln__term_freq_fast((kiln__term_it *)p->terms[i]);
        if (tfv) tfv[i] = x;
        size_t k = i;
        while (k > 0 && (tfv ? tfv[order[k - 1]]
                             : kiln__term_freq_fast((kiln__term_it *)p->terms[order[k - 1]])) > x) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    size_t lead = order[0];
    kiln__poscur *c = p->cur;
    uint32_t m = kiln__term_poscur((kiln__term_it *)p->terms[lead], &c[lead], &p->pos[lead],
                                   &p->cap[lead]);
    if (m < need) return 0;
    for (size_t k = 1; k < n; k++) {
        size_t i = order[k];
        if (!kiln__term_poscur((kiln__term_it *)p->terms[i], &c[i], &p->pos[i], &p->cap[i]))
            return 0;
    }
    uint32_t count = 0, misses = 0, allowed = m - need;
    for (uint32_t a = 0; a < m; a++) {
        if (a && !kiln__poscur_next(&c[lead])) break;
        /* may be negative: offsets can start past 0 (stop words) */
        int64_t start = (int64_t)c[lead].pos - p->offsets[lead];
        int ok = 1;
        for (size_t k = 1; k < n; k++) {
            size_t i = order[k];
            int64_t want = start + p->offsets[i];
            while ((int64_t)c[i].pos < want)
                if (!kiln__poscur_next(&c[i])) /* past this term's last position: no later */
                    return count >= need ? (float)count : 0; /* start can match either */
            if ((int64_t)c[i].pos != want) {
                ok = 0;
                break;
            }
        }
        if (ok)
            count++;
        else if (++misses > allowed)
            return 0; /* cannot reach need any more */
    }
    return count >= need ? (float)count : 0;
}

static float kiln__phrase_freq(kiln__phrase_it *p, uint32_t d)
{
    if (p->slop == 0) return kiln__exact_freq(p, kiln__phrase_need(p, d));
    for (size_t i = 0; i < p->n; i++)
        if (!kiln__load_pos(p, i)) return 0;
    float freq = 0;
    for (uint32_t a = 0; a < p->npos[0]; a++) {
        int64_t start = (int64_t)p->pos[0][a] - p->offsets[0];
        int64_t lo = start, hi = start;
        for (size_t i = 1; i < p->n; i++) {
            uint32_t q = kiln__nearest(p->pos[i], p->npos[i], start + p->offsets[i]);
            int64_t r = (int64_t)q - p->offsets[i];
            if (r < lo) lo = r;
            if (r > hi) hi = r;
        }
        int64_t dist = hi - lo;
        if (dist <= p->slop) freq += 1.0f / (1.0f + (float)dist);
    }
    return freq;
}

/* The doc's score bound from its terms' frequencies (see kiln__phrase_bound): an exact phrase
 * occurs at most min(tf) times, a sloppy one adds at most 1 per occurrence of term 0; the
 * score of that many occurrences beats min_comp iff it reaches kiln__phrase_need. */
static int kiln__phrase_cannot_compete(kiln__phrase_it *p, uint32_t d)
{
    if (p->base.min_comp < 0 || !p->bm.cache) return 0;
    uint32_t tf = kiln__term_freq_fast((kiln__term_it *)p->terms[0]);
    for (size_t i = 1; p->slop == 0 && i < p->n; i++) {
        uint32_t x = kiln__term_freq_fast((kiln__term_it *)p->terms[i]);
        if (x < tf) tf = x;
    }
    return tf < kiln__phrase_need(p, d);
}

/* From d, a doc of the lead (ct[0]): the first doc where all terms are and the phrase is. */
static uint32_t kiln__phrase_match(kiln__phrase_it *p, uint32_t d)
{
    kiln__term_it **ct = p->ct, *lead = ct[0];
    kiln__phrase_need_table(p);
    int skip = p->slop == 0 && p->base.min_comp >= 0 && p->bm.cache;
    for (;;) {
    align:
        if (d == KILN__END) return p->base.doc = KILN__END;
        if (skip && (d = kiln__phrase_lead_skip(p)) == KILN__END) return p->base.doc = d;
        for (size_t k = 1; k < p->n; k++) {
            uint32_t dk = kiln__term_advance_fast(ct[k], d);
            if (dk > d) {
                d = kiln__term_advance_fast(lead, dk);
                goto align;
            }
        }
        if (skip) { /* kiln__exact_freq checks the smallest tf against need first */
            if ((p->freq = kiln__exact_freq(p, kiln__phrase_need(p, d))) > 0)
                return p->base.doc = d;
        } else if (!kiln__phrase_cannot_compete(p, d)) {
            p->freq = kiln__phrase_freq(p, d);
            if (p->freq > 0) return p->base.doc = d;
        }
        d = kiln__term_next_fast(lead);
    }
}

static uint32_t kiln__phrase_next(kiln__it *it)
{
    kiln__phrase_it *p = (kiln__phrase_it *)it;
    if (it->doc == KILN__END) return KILN__END;
    return kiln__phrase_match(p, kiln__term_next_fast(p->ct[0]));
}

static uint32_t kiln__phrase_adv(kiln__it *it, uint32_t t)
{
    kiln__phrase_it *p = (kiln__phrase_it *)it;
    return kiln__phrase_match(p, kiln__term_advance_fast(p->ct[0], t));
}

static float kiln__phrase_score(kiln__it *it)
{
    kiln__phrase_it *p = (kiln__phrase_it *)it;
    if (!p->bm.cache) return 0;
    uint8_t nb = p->norms ? p->norms[it->doc] : 1;
    float w = p->bm.weight;
    return w - w / (1.0f + p->freq * p->bm.cache[nb]);
}

/* An exact phrase occurs at most min(tf) times in a doc (a sloppy one at most tf of term 0,
 * adding at most 1 per occurrence of it), and BM25 grows with the frequency: so the smallest
 * of the terms' impact bounds, computed with the phrase weight, bounds the phrase. */
static float kiln__phrase_bound(kiln__it *it, uint32_t target, uint32_t *end)
{
    kiln__phrase_it *p = (kiln__phrase_it *)it;
    float b = kiln__it_term_bound_bm(p->terms[0], target, end, p->bm);
    for (size_t i = 1; p->slop == 0 && i < p->n && *end != KILN__END; i++) {
        uint32_t e;
        float bi = kiln__it_term_bound_bm(p->terms[i], target, &e, p->bm);
        if (e == KILN__END) {
            *end = KILN__END;
            return 0;
        }
        if (bi < b) b = bi;
        if (e < *end) *end = e;
    }
    return b;
}

static void kiln__phrase_free(kiln__it *it)
{
    kiln__phrase_it *p = (kiln__phrase_it *)it;
    for (size_t i = 0; i < p->n; i++) {
        kiln__it_free(p->terms[i]);
        free(p->pos[i]);
    }
    free(p->pos);
    free(p->npos);
    free(p->cap);
    free(p->cur);
    free(p->order);
    free(p->terms);
    free(p->ct);
    free(p->offsets);
    free(p);
}

kiln__it *kiln__it_phrase(kiln__it **terms, const uint32_t *offsets, size_t n, int slop,
                          kiln__bm25 bm, const uint8_t *norms)
{
    kiln__phrase_it *p = kiln_xcalloc(1, sizeof *p);
    p->base.doc = KILN__UNSTARTED;
    p->base.min_comp = -1;
    p->base.next = kiln__phrase_next;
    p->base.advance = kiln__phrase_adv;
    p->base.score = kiln__phrase_score;
    p->base.bound = kiln__phrase_bound;
    p->base.free = kiln__phrase_free;
    p->terms = kiln_xmalloc(n * sizeof *terms);
    memcpy(p->terms, terms, n * sizeof *terms);
    p->offsets = kiln_xmalloc(n * sizeof *offsets);
    memcpy(p->offsets, offsets, n * sizeof *offsets);
    p->n = n;
    p->slop = slop;
    p->bm = bm;
    p->norms = norms;
    p->pos = kiln_xcalloc(n, sizeof *p->pos);
    p->npos = kiln_xcalloc(n, sizeof *p->npos);
    p->cap = kiln_xcalloc(n, sizeof *p->cap);
    p->cur = kiln_xcalloc(n, sizeof *p->cur);
    p->order = kiln_xcalloc(n, sizeof *p->order);
    p->need_for = __builtin_nanf("");
    p->left_blk = UINT32_MAX;
    p->ct = kiln_xmalloc(n * sizeof *p->ct);
    for (size_t i = 0; i < n; i++) { /* by cost (df), insertion: n is a handful */
        size_t k = i;
        while (k > 0 && p->ct[k - 1]->base.cost > terms[i]->cost) {
            p->ct[k] = p->ct[k - 1];
            k--;
        }
        p->ct[k] = (kiln__term_it *)terms[i];
    }
    p->base.cost = p->ct[0]->base.cost;
    p->base.max_score = bm.cache ? bm.weight : 0; /* w * freq/(freq + K) < w */
    return &p->base;
}
