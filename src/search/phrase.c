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
    int64_t *starts;              /* exact phrases: candidate starts (pos - offset) */
    uint32_t starts_cap;
    size_t *order;                /* exact phrases: terms by increasing tf in the doc */
    /* kiln__phrase_need by norm byte, for the min_comp it was computed with (NaN: not yet):
     * the threshold changes only when the collector's heap does, the per-doc check is then a
     * lookup instead of a division and a search */
    float need_comp[256];
    uint32_t need[256];
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

/* The fewest occurrences the doc needs for its phrase score to beat min_comp (1 when the
 * collector has no threshold yet). BM25 grows with the frequency, so the score of f
 * occurrences beats min_comp iff f * cache > w / (w - min_comp) - 1. */
static inline uint32_t kiln__phrase_need(kiln__phrase_it *p, uint32_t d)
{
    if (p->base.min_comp < 0 || !p->bm.cache) return 1;
    uint8_t nb = p->norms ? p->norms[d] : 1;
    if (p->need_comp[nb] == p->base.min_comp) return p->need[nb];
    float w = p->bm.weight, c = p->bm.cache[nb];
    uint32_t f;
    if (!(w > p->base.min_comp) || !(c > 0))
        f = UINT32_MAX;
    else {
        float x = (w / (w - p->base.min_comp) - 1.0f) / c;
        f = x < 1 ? 1 : x > 1e9f ? UINT32_MAX : (uint32_t)x;
        while (f > 1 && w - w / (1.0f + (float)(f - 1) * c) > p->base.min_comp) f--; /* float */
        while (f != UINT32_MAX && !(w - w / (1.0f + (float)f * c) > p->base.min_comp)) f++;
    }
    p->need_comp[nb] = p->base.min_comp;
    p->need[nb] = f;
    return f;
}

/* Positions below this are matched through a bitmap (products' descriptions have ~60–125
 * tokens, so nearly every doc); longer docs take the merge walk. */
#define KILN__PHRASE_BITS 512

/* Exact phrase, Lucene-style: the term with the fewest occurrences in the doc leads (only its
 * positions are decoded first); each other term, rarest first, keeps the candidate starts it
 * lines up with (a merge walk that gallops over long position lists); the walk stops as soon
 * as too few candidates are left to reach `need`. */
static float kiln__exact_freq(kiln__phrase_it *p, uint32_t need)
{
    size_t n = p->n, *order = p->order;
    for (size_t i = 0; i < n; i++) { /* insertion sort by tf: n is a handful */
        uint32_t tf = kiln__it_term_freq(p->terms[i]);
        size_t k = i;
        while (k > 0 && kiln__it_term_freq(p->terms[order[k - 1]]) > tf) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    size_t lead = order[0];
    uint32_t count = kiln__load_pos(p, lead);
    if (count < need) return 0;
    if (count > p->starts_cap) {
        p->starts_cap = count;
        p->starts = kiln_xrealloc(p->starts, count * sizeof *p->starts);
    }
    int64_t *starts = p->starts; /* may be negative: offsets can start past 0 (stop words) */
    for (uint32_t a = 0; a < count; a++) starts[a] = (int64_t)p->pos[lead][a] - p->offsets[lead];
    uint32_t kept;
    for (size_t k = 1; k < n && count >= need; k++) {
        size_t i = order[k];
        uint32_t m = kiln__load_pos(p, i), c = 0;
        const uint32_t *v = p->pos[i];
        kept = 0;
        if (m && v[m - 1] < KILN__PHRASE_BITS) { /* short doc: a bitmap, no branchy walk */
            /* a fixed-size clear (a few vector stores, not a `rep stos` of a variable count);
             * positions are sorted, so each word is built in a register and stored once,
             * instead of a read-modify-write per position */
            uint64_t bits[KILN__PHRASE_BITS / 64] = {0};
            uint32_t wi = v[0] >> 6;
            uint64_t acc = 0;
            for (uint32_t j = 0; j < m; j++) {
                uint32_t x = v[j] >> 6;
                if (x != wi) {
                    bits[wi] = acc;
                    acc = 0;
                    wi = x;
                }
                acc |= 1ULL << (v[j] & 63);
            }
            bits[wi] = acc;
            int64_t top = v[m - 1];
            for (uint32_t a = 0; a < count; a++) {
                int64_t want = starts[a] + p->offsets[i];
                if (want >= 0 && want <= top && (bits[want >> 6] >> (want & 63) & 1))
                    starts[kept++] = starts[a];
                else if (kept + (count - a - 1) < need)
                    return 0; /* cannot reach need any more */
            }
            count = kept;
            continue;
        }
        for (uint32_t a = 0; a < count && c < m; a++) {
            int64_t want = starts[a] + p->offsets[i];
            if (v[c] < want) { /* gallop, then step */
                uint32_t step = 1;
                while (c + step < m && v[c + step] < want) c += step, step *= 2;
                while (c < m && v[c] < want) c++;
            }
            if (c < m && v[c] == want) starts[kept++] = starts[a];
            if (kept + (count - a - 1) < need) return 0; /* cannot reach need any more */
        }
        count = kept;
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
    uint32_t tf = kiln__it_term_freq(p->terms[0]);
    for (size_t i = 1; p->slop == 0 && i < p->n; i++) {
        uint32_t x = kiln__it_term_freq(p->terms[i]);
        if (x < tf) tf = x;
    }
    return tf < kiln__phrase_need(p, d);
}

static uint32_t kiln__phrase_match(kiln__phrase_it *p, uint32_t d)
{
    while (d != KILN__END) {
        if (kiln__phrase_cannot_compete(p, d)) {
            d = kiln__it_next(p->conj);
            continue;
        }
        p->freq = kiln__phrase_freq(p, d);
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
    free(p->starts);
    free(p->order);
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
    p->order = kiln_xcalloc(n, sizeof *p->order);
    for (int i = 0; i < 256; i++) p->need_comp[i] = __builtin_nanf("");
    p->conj = kiln__it_and(terms, n); /* owns the term iterators */
    p->base.cost = p->conj->cost;
    p->base.max_score = bm.cache ? bm.weight : 0; /* w * freq/(freq + K) < w */
    return &p->base;
}
