/* Doc iterators: term postings (block decode + skips), and/or/not, constant-score sets, doc-value
 * scans. See iter.h for the contract. */
#include "search/iter.h"
#include "search/term_it.h"

#include "core/buf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void kiln__it_free(kiln__it *it)
{
    if (it) it->free(it);
}

static float kiln__score_zero(kiln__it *it)
{
    return 0;
}

static void kiln__free_plain(kiln__it *it)
{
    free(it);
}

static void kiln__it_init(kiln__it *it)
{
    it->doc = KILN__UNSTARTED;
    it->score = kiln__score_zero;
    it->bound = NULL;
    it->min_comp = -1;
    it->free = kiln__free_plain;
    it->cost_class = 0;
    it->matches = NULL;
}

/* ---- term ------------------------------------------------------------------------------- */

/* Bit-unpacking of a full block, one function per width: 8 values of width W fill exactly W
 * bytes, so each group of 8 starts byte aligned and every shift is a constant the compiler
 * folds (the generic loop of kiln__unpack computes them per value; decoding was ~40% of a
 * two-term AND on 1M docs). Reads 8 bytes at a time, like kiln__unpack (KILN__PACK_PAD). */
#define KILN__UNPACK_V(W, i)                                                                  \
    do {                                                                                      \
        uint64_t x;                                                                           \
        memcpy(&x, in + (((i) * (W)) >> 3), 8);                                               \
        v[i] = (uint32_t)((x >> (((i) * (W)) & 7)) & ((1ull << (W)) - 1));                   \
    } while (0)
/* the 8 values of a group written out: at -O2 the compiler keeps a loop over them, and
 * computes each shift at run time (11 instructions a value instead of 4) */
#define KILN__UNPACK_W(W)                                                                     \
    static void kiln__unpack_##W(const uint8_t *in, uint32_t *v)                             \
    {                                                                                         \
        for (unsigned g = 0; g < KILN__BLOCK / 8; g++, in += (W), v += 8) {                   \
            KILN__UNPACK_V(W, 0);                                                             \
            KILN__UNPACK_V(W, 1);                                                             \
            KILN__UNPACK_V(W, 2);                                                             \
            KILN__UNPACK_V(W, 3);                                                             \
            KILN__UNPACK_V(W, 4);                                                             \
            KILN__UNPACK_V(W, 5);                                                             \
            KILN__UNPACK_V(W, 6);                                                             \
            KILN__UNPACK_V(W, 7);                                                             \
        }                                                                                     \
    }
KILN__UNPACK_W(1)
KILN__UNPACK_W(2)
KILN__UNPACK_W(3)
KILN__UNPACK_W(4)
KILN__UNPACK_W(5)
KILN__UNPACK_W(6)
KILN__UNPACK_W(7)
KILN__UNPACK_W(8)
KILN__UNPACK_W(9)
KILN__UNPACK_W(10)
KILN__UNPACK_W(11)
KILN__UNPACK_W(12)
KILN__UNPACK_W(13)
KILN__UNPACK_W(14)
KILN__UNPACK_W(15)
KILN__UNPACK_W(16)
KILN__UNPACK_W(17)
KILN__UNPACK_W(18)
KILN__UNPACK_W(19)
KILN__UNPACK_W(20)
KILN__UNPACK_W(21)
KILN__UNPACK_W(22)
KILN__UNPACK_W(23)
KILN__UNPACK_W(24)
KILN__UNPACK_W(25)
KILN__UNPACK_W(26)
KILN__UNPACK_W(27)
KILN__UNPACK_W(28)
KILN__UNPACK_W(29)
KILN__UNPACK_W(30)
KILN__UNPACK_W(31)
KILN__UNPACK_W(32)
#undef KILN__UNPACK_W
#undef KILN__UNPACK_V

static void (*const kiln__unpackers[33])(const uint8_t *, uint32_t *) = {
    NULL,            kiln__unpack_1,  kiln__unpack_2,  kiln__unpack_3,  kiln__unpack_4,
    kiln__unpack_5,  kiln__unpack_6,  kiln__unpack_7,  kiln__unpack_8,  kiln__unpack_9,
    kiln__unpack_10, kiln__unpack_11, kiln__unpack_12, kiln__unpack_13, kiln__unpack_14,
    kiln__unpack_15, kiln__unpack_16, kiln__unpack_17, kiln__unpack_18, kiln__unpack_19,
    kiln__unpack_20, kiln__unpack_21, kiln__unpack_22, kiln__unpack_23, kiln__unpack_24,
    kiln__unpack_25, kiln__unpack_26, kiln__unpack_27, kiln__unpack_28, kiln__unpack_29,
    kiln__unpack_30, kiln__unpack_31, kiln__unpack_32,
};

void kiln__unpack_block(const uint8_t *in, uint32_t *v, unsigned w)
{
    if (w == 0)
        memset(v, 0, KILN__BLOCK * sizeof *v);
    else
        kiln__unpackers[w](in, v);
}

/* Decodes block b of the term into docs[] (and tfs[], or marks them for kiln__term_tfs): a
 * full block is bit-packed (one width byte for the doc deltas, one for tf - 1, then the packed
 * values), the term's last, partial block is varints of (delta << 1 | tf == 1) then tf unless
 * 1 (seal.c). */
static void kiln__term_load(kiln__term_it *t, uint32_t b)
{
    const kiln__skip *sk = &t->sk[b];
    t->blk = b;
    t->n = (uint32_t)sk->ndocs + 1;
    const uint8_t *p = t->post + sk->doc_off;
    uint32_t prev = b ? t->sk[b - 1].last_doc : 0;
    if (t->n == KILN__BLOCK) {
        unsigned bd = p[0] > 32 ? 32 : p[0];
        uint32_t first = prev + kiln__unpack_at(p + 2, 0, bd);
        t->dense = sk->last_doc - first == KILN__BLOCK - 1;
        if (t->dense) { /* docs are consecutive */
            for (uint32_t k = 0; k < KILN__BLOCK; k++) t->docs[k] = first + k;
        } else {
            kiln__unpack_block(p + 2, t->docs, bd);
            for (uint32_t k = 0; k < KILN__BLOCK; k++) {
                prev += t->docs[k];
                t->docs[k] = prev;
            }
        }
        t->tf_packed = p;
    } else {
        t->dense = 0;
        for (uint32_t k = 0; k < t->n; k++) {
            uint32_t v, tf = 1;
            p = kiln__get_vu32(p, &v);
            if (!(v & 1)) p = kiln__get_vu32(p, &tf);
            prev += v >> 1;
            t->docs[k] = prev;
            t->tfs[k] = tf;
        }
        t->tf_packed = NULL;
    }
    t->i = 0;
    t->pp = t->pos ? t->pos + sk->pos_off : NULL;
    t->pos_i = 0;
    t->cum_ok = 0;
    t->pos_packed = t->n == KILN__BLOCK;
    t->pos_idx = 0;
}

static uint32_t kiln__term_next(kiln__it *it)
{
    kiln__term_it *t = (kiln__term_it *)it;
    if (it->doc == KILN__END) return KILN__END;
    if (it->doc == KILN__UNSTARTED) {
        if (!t->nblocks) return it->doc = KILN__END;
        kiln__term_load(t, 0);
        return it->doc = t->docs[0];
    }
    if (++t->i < t->n) return it->doc = t->docs[t->i];
    if (t->blk + 1 >= t->nblocks) return it->doc = KILN__END;
    kiln__term_load(t, t->blk + 1);
    return it->doc = t->docs[0];
}

static uint32_t kiln__term_advance(kiln__it *it, uint32_t target)
{
    kiln__term_it *t = (kiln__term_it *)it;
    if (it->doc == KILN__END) return KILN__END;
    int started = it->doc != KILN__UNSTARTED;
    uint32_t b = started ? t->blk : 0;
    if (!started || t->sk[b].last_doc < target) {
        /* gallop over skip entries, then binary search */
        uint32_t lo = b, step = 1, hi = b;
        while (hi < t->nblocks && t->sk[hi].last_doc < target) {
            lo = hi + 1;
            hi += step;
            step *= 2;
        }
        if (hi > t->nblocks) hi = t->nblocks;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (t->sk[mid].last_doc < target)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= t->nblocks) return it->doc = KILN__END;
        if (!started || lo != t->blk) kiln__term_load(t, lo);
    }
    while (t->docs[t->i] < target) t->i++;
    return it->doc = t->docs[t->i];
}

static float kiln__term_score(kiln__it *it)
{
    return kiln__term_score_fast((kiln__term_it *)it);
}

static float kiln__term_bound(kiln__it *it, uint32_t target, uint32_t *end)
{
    return kiln__it_term_bound_bm(it, target, end, ((kiln__term_it *)it)->bm);
}

float kiln__it_term_bound_bm(kiln__it *it, uint32_t target, uint32_t *end, kiln__bm25 bm)
{
    kiln__term_it *t = (kiln__term_it *)it;
    if (it->doc == KILN__END) {
        *end = KILN__END;
        return 0;
    }
    uint32_t b = it->doc == KILN__UNSTARTED || t->blk < t->bblk ? t->bblk : t->blk;
    while (b < t->nblocks && t->sk[b].last_doc < target) b++;
    t->bblk = b;
    if (b >= t->nblocks) {
        *end = KILN__END;
        return 0;
    }
    const kiln__skip *sk = &t->sk[b];
    *end = sk->last_doc;
    if (!bm.cache) return 0;
    float w = bm.weight;
    if (t->docs_only) return w - w / (1.0f + bm.cache[1]);
    /* conjunctions ask again for the same block while their other clauses move on */
    if (b == t->cblk && w == t->cweight && bm.cache == t->bm.cache) return t->cbound;
    float best = 0;
    for (unsigned i = 0; i < sk->nimp; i++) {
        float s = w - w / (1.0f + (float)sk->imp_tf[i] * bm.cache[t->norms ? sk->imp_norm[i] : 1]);
        if (s > best) best = s;
    }
    if (bm.cache == t->bm.cache) {
        t->cblk = b;
        t->cweight = w;
        t->cbound = best;
    }
    return best;
}

kiln__it *kiln__it_term(const kiln_segment *s, const kiln__sfield *f, uint32_t term,
                        kiln__bm25 bm)
{
    kiln__sterm meta, *st = &meta;
    kiln__term_meta(f, term, st);
    kiln__term_it *t = kiln_xmalloc(sizeof *t);
    kiln__it_init(&t->base);
    t->base.next = kiln__term_next;
    t->base.advance = kiln__term_advance;
    t->base.bound = kiln__term_bound;
    t->base.cost = st->df;
    if (kiln__sterm_nblocks(st) == 1) { /* bound by the term's (max tf, shortest norm): one impact */
        t->one = (kiln__skip){.last_doc = st->skip_idx, .max_tf = st->max_tf,
                              .min_norm = st->min_norm, .ndocs = (uint8_t)(st->df - 1),
                              .imp_tf = {st->max_tf}, .imp_norm = {st->min_norm}, .nimp = 1};
        t->sk = &t->one;
    } else {
        t->sk = s->skips + st->skip_idx;
    }
    t->nblocks = kiln__sterm_nblocks(st);
    t->post = s->post + st->post_off;
    if (kiln__sterm_pulsed(st)) { /* the partial block's varints (seal.c), from the dictionary */
        uint8_t *p = kiln__put_vu32(t->pulse, st->skip_idx << 1 | (st->max_tf == 1));
        if (st->max_tf != 1) kiln__put_vu32(p, st->max_tf);
        t->post = t->pulse;
    }
    t->pos = f->has_pos ? s->pos + st->pos_off : NULL;
    t->bm = bm;
    t->norms = f->has_norms ? f->norms : NULL;
    t->docs_only = !f->has_pos;
    t->blk = UINT32_MAX;
    t->bblk = 0;
    t->cblk = UINT32_MAX;
    t->tf_packed = NULL;
    t->i = t->n = 0;
    t->base.max_score = 0;
    if (bm.cache) {
        t->base.score = kiln__term_score;
        float freq = t->docs_only ? 1.0f : (float)st->max_tf;
        uint8_t nb = t->norms ? st->min_norm : 1;
        t->base.max_score = bm.weight - bm.weight / (1.0f + freq * bm.cache[nb]);
    }
    return &t->base;
}

uint32_t kiln__it_term_freq(kiln__it *it)
{
    kiln__term_it *t = (kiln__term_it *)it;
    kiln__term_tfs(t);
    return t->tfs[t->i];
}

uint32_t kiln__it_term_positions(kiln__it *it, uint32_t *out, uint32_t cap)
{
    kiln__term_it *t = (kiln__term_it *)it;
    if (!t->pp) return 0;
    kiln__term_tfs(t);
    if (t->pos_packed) { /* random access: skip earlier docs by their tf */
        unsigned w = t->pp[0] > 32 ? 32 : t->pp[0];
        while (t->pos_i < t->i) t->pos_idx += t->tfs[t->pos_i++];
        uint32_t tf = t->tfs[t->i], pos = 0, n = 0;
        for (uint32_t k = 0; k < tf; k++) {
            pos += kiln__unpack_at(t->pp + 1, t->pos_idx + k, w);
            if (n < cap) out[n++] = pos;
        }
        t->pos_idx += tf;
        t->pos_i++;
        return n;
    }
    while (t->pos_i < t->i) { /* skip positions of earlier docs in the block */
        for (uint32_t k = 0; k < t->tfs[t->pos_i]; k++) {
            uint32_t d;
            t->pp = kiln__get_vu32(t->pp, &d);
        }
        t->pos_i++;
    }
    uint32_t tf = t->tfs[t->i], pos = 0, n = 0;
    for (uint32_t k = 0; k < tf; k++) {
        uint32_t d;
        t->pp = kiln__get_vu32(t->pp, &d);
        pos += d;
        if (n < cap) out[n++] = pos;
    }
    t->pos_i++;
    return n;
}

/* A partial block's positions are varints: decoded into buf (term_it.h's fast path reads full
 * blocks in place). */
uint32_t kiln__term_poscur_slow(kiln__term_it *t, kiln__poscur *c, uint32_t **buf, uint32_t *cap)
{
    c->left = 0;
    c->pos = 0;
    if (!t->pp) return 0;
    kiln__term_tfs(t);
    uint32_t tf = t->tfs[t->i];
    if (tf > *cap) {
        *cap = tf;
        *buf = kiln_xrealloc(*buf, tf * sizeof **buf);
    }
    uint32_t n = kiln__it_term_positions(&t->base, *buf, *cap);
    if (!n) return 0;
    c->packed = NULL;
    c->buf = *buf + 1;
    c->pos = (*buf)[0];
    c->left = n - 1;
    return n;
}

/* ---- empty / all / bitset --------------------------------------------------------------- */

static uint32_t kiln__empty_next(kiln__it *it)
{
    return it->doc = KILN__END;
}
static uint32_t kiln__empty_adv(kiln__it *it, uint32_t t)
{
    return it->doc = KILN__END;
}

kiln__it *kiln__it_empty(void)
{
    kiln__it *it = kiln_xmalloc(sizeof *it);
    kiln__it_init(it);
    it->next = kiln__empty_next;
    it->advance = kiln__empty_adv;
    it->cost = 0;
    it->max_score = 0;
    return it;
}

typedef struct kiln__all_it {
    kiln__it base;
    uint32_t ndocs;
    const uint64_t *present;
    float s;
} kiln__all_it;

static uint32_t kiln__all_adv(kiln__it *it, uint32_t target)
{
    kiln__all_it *a = (kiln__all_it *)it;
    if (a->present)
        while (target < a->ndocs && !(a->present[target >> 6] & (1ULL << (target & 63)))) target++;
    return it->doc = target < a->ndocs ? target : KILN__END;
}
static uint32_t kiln__all_next(kiln__it *it)
{
    return kiln__it_next_by_advance(it, kiln__all_adv);
}
static float kiln__all_score(kiln__it *it)
{
    return ((kiln__all_it *)it)->s;
}

kiln__it *kiln__it_all(uint32_t ndocs, const uint64_t *present, float score)
{
    kiln__all_it *a = kiln_xmalloc(sizeof *a);
    a->present = present;
    kiln__it_init(&a->base);
    a->base.next = kiln__all_next;
    a->base.advance = kiln__all_adv;
    a->base.score = kiln__all_score;
    a->base.cost = ndocs;
    a->base.max_score = score;
    a->ndocs = ndocs;
    a->s = score;
    return &a->base;
}

typedef struct kiln__bits_it {
    kiln__it base;
    uint64_t *bits;
    uint32_t ndocs;
    float s;
} kiln__bits_it;

static uint32_t kiln__bits_adv(kiln__it *it, uint32_t target)
{
    kiln__bits_it *b = (kiln__bits_it *)it;
    if (target >= b->ndocs) return it->doc = KILN__END;
    uint32_t w = target >> 6;
    uint64_t x = b->bits[w] & (~0ULL << (target & 63));
    uint32_t nw = (b->ndocs + 63) >> 6;
    while (!x) {
        if (++w >= nw) return it->doc = KILN__END;
        x = b->bits[w];
    }
    uint32_t d = (w << 6) + (uint32_t)__builtin_ctzll(x);
    return it->doc = d < b->ndocs ? d : KILN__END;
}
static uint32_t kiln__bits_next(kiln__it *it)
{
    return kiln__it_next_by_advance(it, kiln__bits_adv);
}
static float kiln__bits_score(kiln__it *it)
{
    return ((kiln__bits_it *)it)->s;
}
static void kiln__bits_free(kiln__it *it)
{
    free(((kiln__bits_it *)it)->bits);
    free(it);
}

kiln__it *kiln__it_bitset(uint64_t *bits, uint32_t ndocs, uint64_t count, float score)
{
    kiln__bits_it *b = kiln_xmalloc(sizeof *b);
    kiln__it_init(&b->base);
    b->base.next = kiln__bits_next;
    b->base.advance = kiln__bits_adv;
    b->base.score = kiln__bits_score;
    b->base.free = kiln__bits_free;
    b->base.cost = count;
    b->base.max_score = score;
    b->bits = bits;
    b->ndocs = ndocs;
    b->s = score;
    return &b->base;
}

/* ---- and ---------------------------------------------------------------------------------- */

typedef struct kiln__multi_it {
    kiln__it base;
    kiln__it **kids;
    size_t n;
    int msm, dismax;
    float tie;
    float factor;
} kiln__multi_it;

static void kiln__multi_free(kiln__it *it)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    for (size_t i = 0; i < m->n; i++) kiln__it_free(m->kids[i]);
    free(m->kids);
    free(m);
}

/* m zeroed; it takes the kids (an iterator that embeds a multi_it at its start, as the windowed
 * OR does, shares kiln__multi_free) */
static void kiln__multi_init(kiln__multi_it *m, kiln__it **kids, size_t n)
{
    kiln__it_init(&m->base);
    m->base.free = kiln__multi_free;
    m->kids = kiln_xmalloc((n + 1) * sizeof *kids);
    memcpy(m->kids, kids, n * sizeof *kids);
    m->n = n;
}

static kiln__multi_it *kiln__multi_new(kiln__it **kids, size_t n)
{
    kiln__multi_it *m = kiln_xcalloc(1, sizeof *m);
    kiln__multi_init(m, kids, n);
    return m;
}

static uint32_t kiln__and_align(kiln__multi_it *m, uint32_t d)
{
    kiln__it *lead = m->kids[0];
restart:
    if (d == KILN__END) return m->base.doc = KILN__END;
    for (size_t k = 1; k < m->n; k++) {
        if (m->kids[k]->matches) { /* costly filter: check the candidate, never scan for one */
            if (!m->kids[k]->matches(m->kids[k], d)) {
                d = kiln__it_next(lead);
                goto restart;
            }
            continue;
        }
        uint32_t dk = kiln__it_advance(m->kids[k], d);
        if (dk > d) {
            d = kiln__it_advance(lead, dk);
            goto restart;
        }
    }
    return m->base.doc = d;
}

static uint32_t kiln__and_next(kiln__it *it)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    if (it->doc == KILN__END) return KILN__END;
    return kiln__and_align(m, kiln__it_next(m->kids[0]));
}

static uint32_t kiln__and_adv(kiln__it *it, uint32_t target)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    return kiln__and_align(m, kiln__it_advance(m->kids[0], target));
}

static float kiln__sum_score(kiln__it *it)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    double s = 0;
    for (size_t k = 0; k < m->n; k++) s += m->kids[k]->score(m->kids[k]);
    return (float)s;
}

/* Widening a losing bound: when the bound over the intersection of the clauses' blocks,
 * [target, end], cannot beat the collector's threshold (min_comp), clause k's block bound
 * plus every other clause's max score bounds the longer range up to clause k's block end; if
 * that still loses, the collector skips the longer range with one call instead of one per
 * block of the densest clause (a very common term's blocks span ~128 doc ids, a rarer term's
 * thousands). Same for disjunctions (the clauses present in a doc are a subset). */
#define KILN__WIDEN_MAX 16

static float kiln__widen(const kiln__multi_it *m, const float *b, const uint32_t *ek, double s,
                         uint32_t *end)
{
    double maxsum = 0;
    for (size_t k = 0; k < m->n; k++)
        if (ek[k] != KILN__END) maxsum += m->kids[k]->max_score;
    for (size_t k = 0; k < m->n; k++) {
        if (ek[k] == KILN__END || ek[k] <= *end) continue;
        double w = (double)b[k] + (maxsum - m->kids[k]->max_score);
        if (w <= m->base.min_comp) {
            *end = ek[k];
            s = w;
        }
    }
    return (float)s;
}

static float kiln__and_bound(kiln__it *it, uint32_t target, uint32_t *end)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    double s = 0;
    uint32_t e = KILN__FAR, ek[KILN__WIDEN_MAX];
    float b[KILN__WIDEN_MAX];
    for (size_t k = 0; k < m->n; k++) {
        uint32_t ekk;
        float bk = kiln__it_bound(m->kids[k], target, &ekk);
        if (ekk == KILN__END) {
            *end = KILN__END;
            return 0;
        }
        if (k < KILN__WIDEN_MAX) {
            b[k] = bk;
            ek[k] = ekk;
        }
        s += bk;
        if (ekk < e) e = ekk;
    }
    *end = e;
    if (m->base.min_comp >= 0 && s <= m->base.min_comp && m->n <= KILN__WIDEN_MAX)
        return kiln__widen(m, b, ek, s, end);
    return (float)s;
}

static float kiln__or_bound(kiln__it *it, uint32_t target, uint32_t *end)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    double s = 0;
    float mx = 0;
    uint32_t e = KILN__END, ek[KILN__WIDEN_MAX];
    float b[KILN__WIDEN_MAX];
    for (size_t k = 0; k < m->n; k++) {
        uint32_t ekk;
        float bk = kiln__it_bound(m->kids[k], target, &ekk);
        if (k < KILN__WIDEN_MAX) {
            b[k] = bk;
            ek[k] = ekk;
        }
        if (ekk == KILN__END) continue;
        s += bk;
        if (bk > mx) mx = bk;
        if (ekk < e) e = ekk;
    }
    *end = e;
    if (e == KILN__END) return 0;
    if (m->dismax) return mx + m->tie * (float)(s - mx);
    if (m->base.min_comp >= 0 && s <= m->base.min_comp && m->n <= KILN__WIDEN_MAX)
        return kiln__widen(m, b, ek, s, end);
    return (float)s;
}

static int kiln__cmp_cost(const void *a, const void *b)
{
    const kiln__it *x = *(kiln__it *const *)a, *y = *(kiln__it *const *)b;
    if (x->cost_class != y->cost_class) return x->cost_class - y->cost_class;
    return (x->cost > y->cost) - (x->cost < y->cost);
}

kiln__it *kiln__it_and(kiln__it **kids, size_t n)
{
    if (n == 1) return kids[0];
    kiln__multi_it *m = kiln__multi_new(kids, n);
    /* cheapest first: postings before doc-value scans before costly per-doc filters */
    qsort(m->kids, n, sizeof *m->kids, kiln__cmp_cost);
    m->base.next = kiln__and_next;
    m->base.advance = kiln__and_adv;
    m->base.score = kiln__sum_score;
    m->base.bound = kiln__and_bound;
    m->base.cost = m->kids[0]->cost;
    double ms = 0;
    int cc = 0;
    for (size_t k = 0; k < n; k++) {
        ms += m->kids[k]->max_score;
        if (m->kids[k]->cost_class > cc) cc = m->kids[k]->cost_class;
    }
    m->base.max_score = (float)ms;
    m->base.cost_class = m->kids[0]->cost_class;
    return &m->base;
}

/* ---- or ----------------------------------------------------------------------------------- */

/* MaxScore: with kids ordered by max_score, the longest prefix whose max scores add up to at
 * most min_comp is non-essential: a doc matching only those cannot compete. */
static size_t kiln__or_nonessential(kiln__multi_it *m)
{
    if (m->base.min_comp < 0 || m->dismax || m->msm > 1) return 0;
    double s = 0;
    size_t k = 0;
    while (k < m->n && s + m->kids[k]->max_score <= m->base.min_comp) s += m->kids[k++]->max_score;
    return k < m->n ? k : 0;
}

static uint32_t kiln__or_find(kiln__multi_it *m)
{
    for (;;) {
        uint32_t min = KILN__END;
        size_t ne = kiln__or_nonessential(m);
        for (size_t k = ne; k < m->n; k++)
            if (m->kids[k]->doc < min) min = m->kids[k]->doc;
        if (min == KILN__END) return m->base.doc = KILN__END;
        for (size_t k = 0; k < ne; k++) kiln__it_advance(m->kids[k], min);
        if (m->msm <= 1) return m->base.doc = min;
        int cnt = 0;
        for (size_t k = 0; k < m->n; k++) cnt += m->kids[k]->doc == min;
        if (cnt >= m->msm) return m->base.doc = min;
        for (size_t k = 0; k < m->n; k++)
            if (m->kids[k]->doc == min) kiln__it_next(m->kids[k]);
    }
}

static uint32_t kiln__or_next(kiln__it *it)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    if (it->doc == KILN__END) return KILN__END;
    uint32_t cur = it->doc;
    for (size_t k = 0; k < m->n; k++)
        if (cur == KILN__UNSTARTED || m->kids[k]->doc == cur) kiln__it_next(m->kids[k]);
    return kiln__or_find(m);
}

static uint32_t kiln__or_adv(kiln__it *it, uint32_t target)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    for (size_t k = 0; k < m->n; k++) kiln__it_advance(m->kids[k], target);
    return kiln__or_find(m);
}

static float kiln__or_score(kiln__it *it)
{
    kiln__multi_it *m = (kiln__multi_it *)it;
    double s = 0;
    float mx = 0;
    for (size_t k = 0; k < m->n; k++)
        if (m->kids[k]->doc == it->doc) {
            float x = m->kids[k]->score(m->kids[k]);
            s += x;
            if (x > mx) mx = x;
        }
    if (m->dismax) return mx + m->tie * (float)(s - mx);
    return (float)s;
}

static int kiln__cmp_max_score(const void *a, const void *b)
{
    const kiln__it *x = *(kiln__it *const *)a, *y = *(kiln__it *const *)b;
    return (x->max_score > y->max_score) - (x->max_score < y->max_score);
}

kiln__it *kiln__it_or(kiln__it **kids, size_t n, int msm, int dismax, float tie)
{
    if (n == 1 && msm <= 1) return kids[0];
    kiln__multi_it *m = kiln__multi_new(kids, n);
    /* lowest max score first (MaxScore's order); scores are summed in this order too */
    qsort(m->kids, n, sizeof *m->kids, kiln__cmp_max_score);
    kids = m->kids;
    m->msm = msm;
    m->dismax = dismax;
    m->tie = tie;
    m->base.next = kiln__or_next;
    m->base.advance = kiln__or_adv;
    m->base.score = kiln__or_score;
    m->base.bound = kiln__or_bound;
    double ms = 0, mx = 0;
    uint64_t cost = 0;
    for (size_t k = 0; k < n; k++) {
        ms += kids[k]->max_score;
        if (kids[k]->max_score > mx) mx = kids[k]->max_score;
        cost += kids[k]->cost;
        if (kids[k]->cost_class > m->base.cost_class) m->base.cost_class = kids[k]->cost_class;
    }
    m->base.max_score = dismax ? (float)(mx + tie * (ms - mx)) : (float)ms;
    m->base.cost = cost;
    return &m->base;
}

/* ---- or, a window of docs at a time ------------------------------------------------------ */

/* Lucene's BooleanScorer for a disjunction of many clauses (a fuzzy term's ~50 expansions,
 * most docs matching one or two of them): instead of finding the smallest current doc among
 * all clauses for every match, each clause in turn adds its scores for a window of docs into
 * an array, then the window's docs come out in order. The sums are done in the clauses'
 * order (kiln__it_or's), in double, so scores are bit for bit the OR's. The window's scores
 * are known before its docs are returned, so its score bound is exact, and with a threshold
 * set (min_comp) docs that cannot compete are passed over. */
#define KILN__WIN 2048

typedef struct kiln__orwin_it {
    kiln__multi_it m;
    int have;            /* a window is loaded: docs [wlo, wend) */
    uint32_t wlo, wend;
    uint64_t bits[KILN__WIN / 64];
    double acc[KILN__WIN];
} kiln__orwin_it;

/* Loads the window starting at the first doc of any clause at or after t; 0 at the end. */
static int kiln__orwin_fill(kiln__orwin_it *w, uint32_t t)
{
    kiln__multi_it *m = &w->m;
    uint32_t lo = KILN__END;
    for (size_t k = 0; k < m->n; k++) {
        uint32_t d = kiln__it_advance(m->kids[k], t);
        if (d < lo) lo = d;
    }
    w->have = 0;
    if (lo == KILN__END) return 0;
    uint32_t end = lo < KILN__FAR - KILN__WIN ? lo + KILN__WIN : KILN__FAR;
    memset(w->bits, 0, sizeof w->bits);
    memset(w->acc, 0, sizeof w->acc);
    for (size_t k = 0; k < m->n; k++) {
        kiln__it *kid = m->kids[k];
        if (kid->next == kiln__term_next) { /* inline steps through the block */
            kiln__term_it *tk = (kiln__term_it *)kid;
            for (uint32_t d = kid->doc; d < end; d = kiln__term_next_fast(tk)) {
                w->acc[d - lo] += kiln__term_score_fast(tk);
                w->bits[(d - lo) >> 6] |= 1ull << ((d - lo) & 63);
            }
            continue;
        }
        for (uint32_t d = kid->doc; d < end; d = kiln__it_next(kid)) {
            w->acc[d - lo] += kid->score(kid);
            w->bits[(d - lo) >> 6] |= 1ull << ((d - lo) & 63);
        }
    }
    w->wlo = lo;
    w->wend = end;
    w->have = 1;
    return 1;
}

static uint32_t kiln__orwin_find(kiln__orwin_it *w, uint32_t t)
{
    float mc = w->m.base.min_comp;
    for (;;) {
        if (w->have && t < w->wend) {
            uint32_t i = t < w->wlo ? 0 : t - w->wlo, word = i >> 6;
            uint64_t x = w->bits[word] & (~0ull << (i & 63));
            for (;;) {
                while (!x && ++word < KILN__WIN / 64) x = w->bits[word];
                if (!x) break;
                uint32_t j = word * 64 + (uint32_t)__builtin_ctzll(x);
                x &= x - 1;
                if (mc >= 0 && (float)w->acc[j] <= mc) continue; /* cannot compete */
                return w->m.base.doc = w->wlo + j;
            }
            t = w->wend;
        }
        if (!kiln__orwin_fill(w, t)) return w->m.base.doc = KILN__END;
    }
}

static uint32_t kiln__orwin_next(kiln__it *it)
{
    if (it->doc == KILN__END) return KILN__END;
    return kiln__orwin_find((kiln__orwin_it *)it, it->doc == KILN__UNSTARTED ? 0 : it->doc + 1);
}

static uint32_t kiln__orwin_adv(kiln__it *it, uint32_t target)
{
    return kiln__orwin_find((kiln__orwin_it *)it, target);
}

static float kiln__orwin_score(kiln__it *it)
{
    kiln__orwin_it *w = (kiln__orwin_it *)it;
    return (float)w->acc[it->doc - w->wlo];
}

/* Inside the loaded window: its best score from target on (exact), up to the window's end;
 * past it, the clauses' block bounds (they all stand at or past the window's end). */
static float kiln__orwin_bound(kiln__it *it, uint32_t target, uint32_t *end)
{
    kiln__orwin_it *w = (kiln__orwin_it *)it;
    if (!w->have || target >= w->wend) return kiln__or_bound(it, target, end);
    *end = w->wend - 1;
    uint32_t i = target < w->wlo ? 0 : target - w->wlo, word = i >> 6;
    uint64_t x = w->bits[word] & (~0ull << (i & 63));
    float best = 0;
    for (;;) {
        while (!x && ++word < KILN__WIN / 64) x = w->bits[word];
        if (!x) break;
        float s = (float)w->acc[word * 64 + (uint32_t)__builtin_ctzll(x)];
        x &= x - 1;
        if (s > best) best = s;
    }
    return best;
}

kiln__it *kiln__it_or_window(kiln__it **kids, size_t n)
{
    if (n == 1) return kids[0];
    kiln__orwin_it *w = kiln_xcalloc(1, sizeof *w);
    kiln__multi_it *m = &w->m;
    kiln__multi_init(m, kids, n);
    m->msm = 1;
    /* kiln__it_or's order (lowest max score first), which is also the order of the sums */
    qsort(m->kids, n, sizeof *m->kids, kiln__cmp_max_score);
    m->base.next = kiln__orwin_next;
    m->base.advance = kiln__orwin_adv;
    m->base.score = kiln__orwin_score;
    m->base.bound = kiln__orwin_bound;
    double ms = 0;
    uint64_t cost = 0;
    for (size_t k = 0; k < n; k++) {
        ms += m->kids[k]->max_score;
        cost += m->kids[k]->cost;
        if (m->kids[k]->cost_class > m->base.cost_class) m->base.cost_class = m->kids[k]->cost_class;
    }
    m->base.max_score = (float)ms;
    m->base.cost = cost;
    return &m->base;
}

/* ---- not / req_opt / boosting / const --------------------------------------------------- */

typedef struct kiln__pair_it {
    kiln__it base;
    kiln__it *a;
    kiln__it **b;
    size_t nb;
    float f;
} kiln__pair_it;

static void kiln__pair_free(kiln__it *it)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    kiln__it_free(p->a);
    for (size_t i = 0; i < p->nb; i++) kiln__it_free(p->b[i]);
    free(p->b);
    free(p);
}

static kiln__pair_it *kiln__pair_new(kiln__it *a, kiln__it **b, size_t nb)
{
    kiln__pair_it *p = kiln_xcalloc(1, sizeof *p);
    kiln__it_init(&p->base);
    p->base.free = kiln__pair_free;
    p->a = a;
    p->b = kiln_xmalloc((nb + 1) * sizeof *b);
    if (nb) memcpy(p->b, b, nb * sizeof *b);
    p->nb = nb;
    p->base.cost = a->cost;
    p->base.max_score = a->max_score;
    p->base.cost_class = a->cost_class;
    return p;
}

static uint32_t kiln__not_skip(kiln__pair_it *p, uint32_t d)
{
    for (;;) {
        if (d == KILN__END) return p->base.doc = KILN__END;
        size_t k;
        for (k = 0; k < p->nb; k++)
            if (p->b[k]->matches ? p->b[k]->matches(p->b[k], d)
                                 : kiln__it_advance(p->b[k], d) == d)
                break;
        if (k == p->nb) return p->base.doc = d;
        d = kiln__it_next(p->a);
    }
}
static uint32_t kiln__not_next(kiln__it *it)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    if (it->doc == KILN__END) return KILN__END;
    return kiln__not_skip(p, kiln__it_next(p->a));
}
static uint32_t kiln__not_adv(kiln__it *it, uint32_t t)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    return kiln__not_skip(p, kiln__it_advance(p->a, t));
}
static float kiln__a_score(kiln__it *it)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    return p->a->score(p->a);
}

static float kiln__a_bound(kiln__it *it, uint32_t target, uint32_t *end)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    return kiln__it_bound(p->a, target, end);
}

static float kiln__reqopt_bound(kiln__it *it, uint32_t target, uint32_t *end)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    float b = kiln__it_bound(p->a, target, end);
    if (*end == KILN__END) return 0;
    uint32_t e2;
    float b2 = kiln__it_bound(p->b[0], target, &e2);
    if (e2 == KILN__END) return b;
    if (e2 < *end) *end = e2;
    return (float)((double)b + b2);
}

kiln__it *kiln__it_not(kiln__it *req, kiln__it **excl, size_t n)
{
    if (!n) return req;
    kiln__pair_it *p = kiln__pair_new(req, excl, n);
    p->base.next = kiln__not_next;
    p->base.advance = kiln__not_adv;
    p->base.score = kiln__a_score;
    p->base.bound = kiln__a_bound;
    return &p->base;
}

static uint32_t kiln__a_next(kiln__it *it)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    return it->doc = kiln__it_next(p->a);
}
static uint32_t kiln__a_adv(kiln__it *it, uint32_t t)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    return it->doc = kiln__it_advance(p->a, t);
}
static float kiln__reqopt_score(kiln__it *it)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    double s = p->a->score(p->a);
    if (p->b[0]->matches ? p->b[0]->matches(p->b[0], it->doc)
                         : kiln__it_advance(p->b[0], it->doc) == it->doc)
        s += p->b[0]->score(p->b[0]);
    return (float)s;
}

kiln__it *kiln__it_req_opt(kiln__it *req, kiln__it *opt)
{
    kiln__pair_it *p = kiln__pair_new(req, &opt, 1);
    p->base.next = kiln__a_next;
    p->base.advance = kiln__a_adv;
    p->base.score = kiln__reqopt_score;
    p->base.bound = kiln__reqopt_bound;
    p->base.max_score = req->max_score + opt->max_score;
    return &p->base;
}

static float kiln__boosting_score(kiln__it *it)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    float s = p->a->score(p->a);
    if (kiln__it_advance(p->b[0], it->doc) == it->doc) s *= p->f;
    return s;
}

kiln__it *kiln__it_boosting(kiln__it *pos, kiln__it *neg, float negative_boost)
{
    kiln__pair_it *p = kiln__pair_new(pos, &neg, 1);
    p->base.next = kiln__a_next;
    p->base.advance = kiln__a_adv;
    p->base.score = kiln__boosting_score;
    p->f = negative_boost;
    if (negative_boost > 1) p->base.max_score *= negative_boost;
    return &p->base;
}

static float kiln__const_score(kiln__it *it)
{
    return ((kiln__pair_it *)it)->f;
}

kiln__it *kiln__it_const(kiln__it *kid, float score)
{
    kiln__pair_it *p = kiln__pair_new(kid, NULL, 0);
    p->base.next = kiln__a_next;
    p->base.advance = kiln__a_adv;
    p->base.score = kiln__const_score;
    p->base.max_score = score;
    p->f = score;
    return &p->base;
}

static float kiln__scale_score(kiln__it *it)
{
    kiln__pair_it *p = (kiln__pair_it *)it;
    return p->a->score(p->a) * p->f;
}

kiln__it *kiln__it_scale(kiln__it *kid, float factor)
{
    kiln__pair_it *p = kiln__pair_new(kid, NULL, 0);
    p->base.next = kiln__a_next;
    p->base.advance = kiln__a_adv;
    p->base.score = kiln__scale_score;
    p->base.max_score = kid->max_score * factor;
    p->f = factor;
    return &p->base;
}

/* ---- doc-value scans ------------------------------------------------------------------------ */

typedef struct kiln__dv_it {
    kiln__it base;
    kiln_dv dv;
    kiln__dv_pred pred;
    float s;
    void *arg;
} kiln__dv_it;

static uint32_t kiln__dv_adv(kiln__it *it, uint32_t target)
{
    kiln__dv_it *d = (kiln__dv_it *)it;
    for (uint32_t doc = target; doc < d->dv.ndocs; doc++)
        if (d->dv.off[doc + 1] != d->dv.off[doc] && d->pred(&d->dv, doc, d->arg))
            return it->doc = doc;
    return it->doc = KILN__END;
}
/* As a conjunction's follower a scan is checked on the lead's candidates (two-phase, like a
 * UDF filter) rather than advanced: advance() would walk every doc from the candidate to the
 * next value in range, only for the lead to skip past most of them. */
static int kiln__dv_matches(kiln__it *it, uint32_t doc)
{
    kiln__dv_it *d = (kiln__dv_it *)it;
    return doc < d->dv.ndocs && d->dv.off[doc + 1] != d->dv.off[doc] &&
           d->pred(&d->dv, doc, d->arg);
}
static uint32_t kiln__dv_next(kiln__it *it)
{
    return kiln__it_next_by_advance(it, kiln__dv_adv);
}
static float kiln__dv_score(kiln__it *it)
{
    return ((kiln__dv_it *)it)->s;
}
static void kiln__dv_free(kiln__it *it)
{
    free(((kiln__dv_it *)it)->arg);
    free(it);
}

kiln__it *kiln__it_dv(const kiln_dv *dv, kiln__dv_pred pred, const void *arg, size_t argsz,
                      float score)
{
    kiln__dv_it *d = kiln_xmalloc(sizeof *d);
    kiln__it_init(&d->base);
    d->base.next = kiln__dv_next;
    d->base.advance = kiln__dv_adv;
    d->base.score = kiln__dv_score;
    d->base.free = kiln__dv_free;
    d->base.cost = dv->ndocs;
    d->base.cost_class = 1;
    d->base.matches = kiln__dv_matches;
    d->base.max_score = score;
    d->dv = *dv;
    d->pred = pred;
    d->s = score;
    d->arg = kiln_xmalloc(argsz ? argsz : 1);
    if (argsz) memcpy(d->arg, arg, argsz);
    return &d->base;
}
