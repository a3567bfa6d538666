/* Phrase iterator: a conjunction of term iterators whose positions line up. Exact phrases count
 * every occurrence (Lucene's ExactPhraseMatcher); sloppy phrases add 1/(1 + distance) per match
 * within slop, distance being how far the terms sit from their query offsets. */
#include "search/iter.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

typedef struct kiln__phrase_it {
    kiln__it base;
    kiln__it *conj;  /* AND of the terms (borrowed views in terms[]) */
    kiln__it **terms;
    uint32_t *offsets;
    size_t n;
    int slop;
    kiln__bm25 bm;
    const uint8_t *norms;
    float freq;
    uint32_t **pos;
    uint32_t *npos, *cap;
    uint32_t *cur; /* merge-walk cursors, one per term */
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

static float kiln__phrase_freq(kiln__phrase_it *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (!kiln__load_pos(p, i)) return 0;
    float freq = 0;
    if (p->slop == 0) { /* merge walk: the wanted positions only grow with term 0's */
        uint32_t *cur = p->cur;
        size_t n = p->n;
        memset(cur, 0, n * sizeof *cur);
        for (uint32_t a = 0; a < p->npos[0]; a++) {
            int64_t start = (int64_t)p->pos[0][a] - p->offsets[0];
            size_t i;
            for (i = 1; i < n; i++) {
                int64_t want = start + p->offsets[i];
                const uint32_t *v = p->pos[i];
                uint32_t c = cur[i], m = p->npos[i];
                while (c < m && (int64_t)v[c] < want) c++;
                cur[i] = c;
                if (c == m) return freq; /* no later match for this term */
                if ((int64_t)v[c] != want) break;
            }
            if (i == n) freq += 1;
        }
        return freq;
    }
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

/* The doc's score bound from its terms' frequencies (see kiln__phrase_bound). */
static int kiln__phrase_cannot_compete(kiln__phrase_it *p, uint32_t d)
{
    if (p->base.min_comp < 0 || !p->bm.cache) return 0;
    uint32_t tf = kiln__it_term_freq(p->terms[0]);
    for (size_t i = 1; p->slop == 0 && i < p->n; i++) {
        uint32_t x = kiln__it_term_freq(p->terms[i]);
        if (x < tf) tf = x;
    }
    uint8_t nb = p->norms ? p->norms[d] : 1;
    float w = p->bm.weight;
    return w - w / (1.0f + (float)tf * p->bm.cache[nb]) <= p->base.min_comp;
}

static uint32_t kiln__phrase_match(kiln__phrase_it *p, uint32_t d)
{
    while (d != KILN__END) {
        if (kiln__phrase_cannot_compete(p, d)) {
            d = kiln__it_next(p->conj);
            continue;
        }
        p->freq = kiln__phrase_freq(p);
        if (p->freq > 0) return p->base.doc = d;
        d = kiln__it_next(p->conj);
    }
    return p->base.doc = KILN__END;
}

static uint32_t kiln__phrase_next(kiln__it *it)
{
    kiln__phrase_it *p = (kiln__phrase_it *)it;
    if (it->doc == KILN__END) return KILN__END;
    return kiln__phrase_match(p, kiln__it_next(p->conj));
}

static uint32_t kiln__phrase_adv(kiln__it *it, uint32_t t)
{
    kiln__phrase_it *p = (kiln__phrase_it *)it;
    return kiln__phrase_match(p, kiln__it_advance(p->conj, t));
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
    kiln__it_free(p->conj);
    for (size_t i = 0; i < p->n; i++) free(p->pos[i]);
    free(p->pos);
    free(p->npos);
    free(p->cap);
    free(p->cur);
    free(p->terms);
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
    p->conj = kiln__it_and(terms, n); /* owns the term iterators */
    p->base.cost = p->conj->cost;
    p->base.max_score = bm.cache ? bm.weight : 0; /* w * freq/(freq + K) < w */
    return &p->base;
}
