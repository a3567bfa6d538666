/* Statistics (dfs) and per-segment iterator construction from the plan; BM25 as Lucene's
 * BM25Similarity computes it (k1 1.2, b 0.75, float math, 1-byte norms). */
#include "search/plan.h"
#include "search/udf_iter.h"

#include "core/buf.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KILN__K1 1.2f
#define KILN__B 0.75f

kiln_search_stats *kiln_stats_new(const kiln_plan *p)
{
    kiln_search_stats *st = kiln_xcalloc(1, sizeof *st);
    st->nterms = p->nterms;
    st->nfields = p->nfields;
    st->df = kiln_xcalloc(p->nterms + 1, sizeof *st->df);
    st->idf = kiln_xcalloc(p->nterms + 1, sizeof *st->idf);
    st->doc_count = kiln_xcalloc(p->nfields + 1, sizeof *st->doc_count);
    st->sum_ttf = kiln_xcalloc(p->nfields + 1, sizeof *st->sum_ttf);
    st->cache = kiln_xcalloc((p->nfields + 1) * 256, sizeof *st->cache);
    st->nfuzzy = p->nfuzzy;
    st->fuzzy = kiln_xcalloc(p->nfuzzy + 1, sizeof *st->fuzzy);
    return st;
}

void kiln_stats_free(kiln_search_stats *st)
{
    if (!st) return;
    free(st->df);
    free(st->idf);
    free(st->doc_count);
    free(st->sum_ttf);
    free(st->cache);
    for (size_t i = 0; i < st->nfuzzy; i++) kiln__fuzzset_free(&st->fuzzy[i]);
    free(st->fuzzy);
    free(st);
}

void kiln_stats_gather(const kiln_plan *p, const kiln_sindex_reader *r, kiln_search_stats *st)
{
    for (size_t i = 0; i < r->nsegs; i++) {
        const kiln_segment *s = r->segs[i];
        for (size_t t = 0; t < p->nterms; t++) {
            const kiln__sfield *f = kiln__segment_field(s, p->terms[t].field);
            if (!f) continue;
            int64_t k = kiln__term_find(f, p->terms[t].term, p->terms[t].len);
            if (k >= 0) st->df[t] += kiln__term_df(f, (uint32_t)k);
        }
        for (size_t j = 0; j < p->nfields; j++) {
            const kiln__sfield *f = kiln__segment_field(s, p->fields[j].field);
            if (!f) continue;
            st->doc_count[j] += f->doc_count;
            st->sum_ttf[j] += f->sum_ttf;
        }
        for (size_t z = 0; z < p->nfuzzy; z++) /* candidates from every segment of every shard */
            kiln__fuzzy_gather(p->fuzzy[z], kiln__segment_field(s, p->fuzzy[z]->field),
                               &st->fuzzy[z]);
    }
}

static uint32_t kiln__field_of_term(const kiln_plan *p, size_t t)
{
    for (size_t j = 0; j < p->nfields; j++)
        if (!strcmp(p->fields[j].field, p->terms[t].field)) return (uint32_t)j;
    return 0;
}

void kiln_stats_finish(const kiln_plan *p, kiln_search_stats *st)
{
    for (size_t t = 0; t < p->nterms; t++) {
        uint64_t n = st->doc_count[kiln__field_of_term(p, t)], df = st->df[t];
        if (df > n) n = df;
        st->idf[t] = (float)log(1.0 + ((double)n - (double)df + 0.5) / ((double)df + 0.5));
    }
    for (size_t j = 0; j < p->nfields; j++) {
        float avgdl = st->doc_count[j] ? (float)((double)st->sum_ttf[j] / (double)st->doc_count[j])
                                       : 1.0f;
        float *cache = st->cache + 256 * j;
        for (int i = 0; i < 256; i++)
            cache[i] = 1.0f / (KILN__K1 * ((1 - KILN__B) +
                                           KILN__B * (float)kiln__norm_decode((uint8_t)i) / avgdl));
    }
    for (size_t z = 0; z < p->nfuzzy; z++)
        kiln__fuzzy_finish(p->fuzzy[z], &st->fuzzy[z], st->doc_count[p->fuzzy[z]->field_slot]);
}

/* ---- doc-value predicates ------------------------------------------------------------------ */

typedef struct kiln__nrange {
    int64_t lo, hi;
} kiln__nrange;
typedef struct kiln__frange {
    double lo, hi;
} kiln__frange;
typedef struct kiln__set {
    const void *v;
    size_t n;
} kiln__set;

static int kiln__pred_nrange(const kiln_dv *dv, uint32_t doc, const void *arg)
{
    const kiln__nrange *r = arg;
    for (uint32_t i = dv->off[doc]; i < dv->off[doc + 1]; i++)
        if (dv->i64[i] >= r->lo && dv->i64[i] <= r->hi) return 1;
    return 0;
}

static int kiln__pred_frange(const kiln_dv *dv, uint32_t doc, const void *arg)
{
    const kiln__frange *r = arg;
    for (uint32_t i = dv->off[doc]; i < dv->off[doc + 1]; i++)
        if (dv->f64[i] >= r->lo && dv->f64[i] <= r->hi) return 1;
    return 0;
}

/* numeric ranges also apply to the other numeric column kind */
static int kiln__pred_nrange_f(const kiln_dv *dv, uint32_t doc, const void *arg)
{
    const kiln__nrange *r = arg;
    for (uint32_t i = dv->off[doc]; i < dv->off[doc + 1]; i++)
        if (dv->f64[i] >= (double)r->lo && dv->f64[i] <= (double)r->hi) return 1;
    return 0;
}

static int kiln__pred_nset(const kiln_dv *dv, uint32_t doc, const void *arg)
{
    const kiln__set *s = arg;
    const int64_t *v = s->v;
    for (uint32_t i = dv->off[doc]; i < dv->off[doc + 1]; i++) {
        size_t lo = 0, hi = s->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (v[mid] < dv->i64[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < s->n && v[lo] == dv->i64[i]) return 1;
    }
    return 0;
}

static int kiln__pred_fset(const kiln_dv *dv, uint32_t doc, const void *arg)
{
    const kiln__set *s = arg;
    const double *v = s->v;
    for (uint32_t i = dv->off[doc]; i < dv->off[doc + 1]; i++)
        for (size_t k = 0; k < s->n; k++)
            if (v[k] == dv->f64[i]) return 1;
    return 0;
}

static int kiln__pred_any(const kiln_dv *dv, uint32_t doc, const void *arg)
{
    return 1;
}

/* ---- term expansion (terms, prefix, wildcard, keyword ranges) ------------------------------ */

static int kiln__casecmp_prefix(const char *a, size_t alen, const char *p, size_t plen)
{
    if (alen < plen) return 0;
    for (size_t i = 0; i < plen; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)p[i])) return 0;
    return 1;
}

static int kiln__wild_ci(const char *pat, size_t plen, const char *s, size_t slen)
{
    char pb[256], sb[256];
    if (plen >= sizeof pb || slen >= sizeof sb) return kiln__wildcard_match(pat, plen, s, slen);
    for (size_t i = 0; i < plen; i++) pb[i] = (char)tolower((unsigned char)pat[i]);
    for (size_t i = 0; i < slen; i++) sb[i] = (char)tolower((unsigned char)s[i]);
    return kiln__wildcard_match(pb, plen, sb, slen);
}

/* Calls fn for every term id of f the node selects. */
static void kiln__expand(const kiln__pnode *n, const kiln__sfield *f,
                         void (*fn)(void *ctx, uint32_t term), void *ctx)
{
    switch (n->kind) {
    case KILN__P_TERMSET:
        for (size_t i = 0; i < n->nterms; i++) {
            int64_t k = kiln__term_find(f, n->terms[i], n->tlens[i]);
            if (k >= 0) fn(ctx, (uint32_t)k);
        }
        break;
    case KILN__P_PREFIX: {
        const char *pre = n->terms[0];
        size_t plen = n->tlens[0];
        if (n->case_insensitive) {
            for (uint32_t i = 0; i < f->nterms; i++) {
                size_t len;
                const char *t = kiln__term_text(f, i, &len);
                if (kiln__casecmp_prefix(t, len, pre, plen)) fn(ctx, i);
            }
            break;
        }
        for (uint32_t i = kiln__term_lower_bound(f, pre, plen); i < f->nterms; i++) {
            size_t len;
            const char *t = kiln__term_text(f, i, &len);
            if (len < plen || memcmp(t, pre, plen)) break;
            fn(ctx, i);
        }
        break;
    }
    case KILN__P_WILDCARD: {
        const char *pat = n->terms[0];
        size_t plen = n->tlens[0];
        /* the literal prefix before the first wildcard narrows the dictionary range */
        size_t lit = 0;
        while (lit < plen && pat[lit] != '*' && pat[lit] != '?' && pat[lit] != '\\') lit++;
        uint32_t i = n->case_insensitive ? 0 : kiln__term_lower_bound(f, pat, lit);
        for (; i < f->nterms; i++) {
            size_t len;
            const char *t = kiln__term_text(f, i, &len);
            if (!n->case_insensitive && (len < lit || memcmp(t, pat, lit))) break;
            if (n->case_insensitive ? kiln__wild_ci(pat, plen, t, len)
                                    : kiln__wildcard_match(pat, plen, t, len))
                fn(ctx, i);
        }
        break;
    }
    case KILN__P_KWRANGE: {
        uint32_t i = 0;
        if (n->klo) {
            i = kiln__term_lower_bound(f, n->klo, n->klo_len);
            if (!n->klo_inc && i < f->nterms) {
                size_t len;
                const char *t = kiln__term_text(f, i, &len);
                if (len == n->klo_len && !memcmp(t, n->klo, len)) i++;
            }
        }
        for (; i < f->nterms; i++) {
            if (n->khi) {
                size_t len;
                const char *t = kiln__term_text(f, i, &len);
                size_t m = len < n->khi_len ? len : n->khi_len;
                int c = memcmp(t, n->khi, m);
                if (!c) c = (len > n->khi_len) - (len < n->khi_len);
                if (c > 0 || (c == 0 && !n->khi_inc)) break;
            }
            fn(ctx, i);
        }
        break;
    }
    default:
        break;
    }
}

typedef struct kiln__expctx {
    const kiln_segment *s;
    const kiln__sfield *f;
    uint64_t *bits;
    uint64_t count;
    uint32_t first, nterms;
} kiln__expctx;

static void kiln__exp_one(void *ctx, uint32_t term)
{
    kiln__expctx *e = ctx;
    if (e->nterms++ == 0) e->first = term;
    kiln__it *it = kiln__it_term(e->s, e->f, term, (kiln__bm25){0, NULL});
    for (uint32_t d = kiln__it_next(it); d != KILN__END; d = kiln__it_next(it)) {
        uint64_t bit = 1ULL << (d & 63);
        if (!(e->bits[d >> 6] & bit)) {
            e->bits[d >> 6] |= bit;
            e->count++;
        }
    }
    kiln__it_free(it);
}

static kiln__it *kiln__expansion_iter(const kiln__pnode *n, const kiln_segment *s, float score)
{
    const kiln__sfield *f = kiln__segment_field(s, n->field);
    if (!f || !f->indexed || !f->nterms) return NULL;
    kiln__expctx e = {.s = s, .f = f};
    e.bits = kiln_xcalloc((s->ndocs + 63) / 64 + 1, sizeof *e.bits);
    kiln__expand(n, f, kiln__exp_one, &e);
    if (!e.count) {
        free(e.bits);
        return NULL;
    }
    return kiln__it_bitset(e.bits, s->ndocs, e.count, score);
}

/* A fuzzy node over one segment: its chosen terms (kiln__fuzzy_finish), each a BM25 term
 * boosted by its similarity with the shared blended idf, summed; or, constant, their union. */
static kiln__it *kiln__fuzzy_iter(const kiln__pnode *n, const kiln_search_stats *st,
                                  const kiln_segment *s, const kiln__sfield *f, float cscore)
{
    if (!f || !f->indexed || !f->nterms) return NULL;
    const kiln__fuzzset *fs = &st->fuzzy[n->fuzzy_slot];
    if (n->fuzzy_const || !n->scoring) {
        kiln__expctx e = {.s = s, .f = f};
        e.bits = kiln_xcalloc((s->ndocs + 63) / 64 + 1, sizeof *e.bits);
        for (size_t i = 0; i < fs->n; i++) {
            int64_t k = kiln__term_find(f, fs->v[i].term, fs->v[i].len);
            if (k >= 0) kiln__exp_one(&e, (uint32_t)k);
        }
        if (!e.count) {
            free(e.bits);
            return NULL;
        }
        return kiln__it_bitset(e.bits, s->ndocs, e.count, cscore);
    }
    kiln__it **its = kiln_xmalloc((fs->n + 1) * sizeof *its);
    size_t k = 0;
    for (size_t i = 0; i < fs->n; i++) {
        int64_t t = kiln__term_find(f, fs->v[i].term, fs->v[i].len);
        if (t < 0) continue;
        kiln__bm25 bm = {n->boost * fs->v[i].boost * fs->idf, st->cache + 256 * n->field_slot};
        its[k++] = kiln__it_term(s, f, (uint32_t)t, bm);
    }
    /* the expansions (up to max_expansions, 50) match most docs between them: summed a
     * window of docs at a time rather than by the smallest current doc of 50 clauses */
    kiln__it *it = k ? kiln__it_or_window(its, k) : NULL; /* copies the list */
    free(its);
    return it;
}

/* ---- iterator construction ----------------------------------------------------------------- */

static kiln__it *kiln__list_iters(const kiln_plan *p, const kiln__plist *l,
                                  const kiln_search_stats *st, const kiln_segment *s,
                                  const kiln_search_opts *o, kiln__it ***out, size_t *n,
                                  int all_required)
{
    *out = kiln_xmalloc((l->n + 1) * sizeof **out);
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        kiln__it *it = kiln__plan_iter(p, l->v[i], st, s, o);
        if (!it) {
            if (all_required) {
                for (size_t k = 0; k < *n; k++) kiln__it_free((*out)[k]);
                free(*out);
                *out = NULL;
                return (kiln__it *)1; /* signal: a required clause matches nothing */
            }
            continue;
        }
        (*out)[(*n)++] = it;
    }
    return NULL;
}

static void kiln__free_iters(kiln__it **v, size_t n)
{
    for (size_t i = 0; i < n; i++) kiln__it_free(v[i]);
    free(v);
}

static kiln__it *kiln__bool_iter(const kiln_plan *p, const kiln__pnode *n,
                                 const kiln_search_stats *st, const kiln_segment *s,
                                 const kiln_search_opts *o)
{
    kiln__it **req = NULL, **opt = NULL, **excl = NULL, **flt = NULL;
    size_t nreq = 0, nopt = 0, nexcl = 0, nflt = 0;
    if (kiln__list_iters(p, &n->must, st, s, o, &req, &nreq, 1)) return NULL;
    if (kiln__list_iters(p, &n->filter, st, s, o, &flt, &nflt, 1)) {
        kiln__free_iters(req, nreq);
        return NULL;
    }
    kiln__list_iters(p, &n->should, st, s, o, &opt, &nopt, 0);
    kiln__list_iters(p, &n->must_not, st, s, o, &excl, &nexcl, 0);
    req = kiln_xrealloc(req, (nreq + nflt + 2) * sizeof *req);
    memcpy(req + nreq, flt, nflt * sizeof *flt);
    nreq += nflt;
    free(flt);
    kiln__it *main = NULL;
    if ((size_t)n->msm > nopt) goto none;
    if (nreq == 0) {
        if (n->should.n == 0) {
            /* only must_not (or nothing): every doc, score 0 (bool with no clauses: 1) */
            main = kiln__it_all(s->ndocs, s->present, n->must_not.n ? 0 : (n->scoring ? n->boost : 0));
        } else if (nopt == 0)
            goto none;
        else
            main = kiln__it_or(opt, nopt, n->msm > 1 ? n->msm : 1, 0, 0);
    } else {
        if (nopt && n->msm > 0) {
            req[nreq++] = kiln__it_or(opt, nopt, n->msm, 0, 0);
            main = kiln__it_and(req, nreq);
        } else {
            main = kiln__it_and(req, nreq);
            if (nopt && n->scoring) main = kiln__it_req_opt(main, kiln__it_or(opt, nopt, 1, 0, 0));
            else kiln__free_iters(opt, nopt), opt = NULL, nopt = 0;
        }
    }
    free(req);
    free(opt);
    main = kiln__it_not(main, excl, nexcl);
    free(excl);
    return main;
none:
    kiln__free_iters(req, nreq);
    kiln__free_iters(opt, nopt);
    kiln__free_iters(excl, nexcl);
    return NULL;
}

static kiln__it *kiln__ids_iter(const kiln__pnode *n, const kiln_segment *s,
                                const kiln_search_opts *o, float score)
{
    if (!o->id_lookup) return NULL;
    uint64_t *bits = kiln_xcalloc((s->ndocs + 63) / 64 + 1, sizeof *bits);
    uint64_t count = 0;
    for (size_t i = 0; i < n->nids; i++) {
        uint32_t d;
        if (o->id_lookup(o->id_ctx, n->ids[i], &d)) continue;
        if (d < s->base || d - s->base >= s->ndocs) continue;
        d -= s->base;
        if (!(bits[d >> 6] & (1ULL << (d & 63)))) count++;
        bits[d >> 6] |= 1ULL << (d & 63);
    }
    if (!count) {
        free(bits);
        return NULL;
    }
    return kiln__it_bitset(bits, s->ndocs, count, score);
}

kiln__it *kiln__plan_iter(const kiln_plan *p, const kiln__pnode *n, const kiln_search_stats *st,
                          const kiln_segment *s, const kiln_search_opts *o)
{
    float cscore = n->scoring ? n->boost : 0; /* constant-score leaves */
    const kiln__sfield *f = n->field ? kiln__segment_field(s, n->field) : NULL;
    switch (n->kind) {
    case KILN__P_ALL:
        return s->ndocs ? kiln__it_all(s->ndocs, s->present, cscore) : NULL;
    case KILN__P_NONE:
        return NULL;
    case KILN__P_UDF:
        return kiln__it_udf(s, o->udf_rt, n->udf_slot, n->udf_exclude, cscore);
    case KILN__P_SCRIPT:
        return kiln__it_script(kiln__plan_iter(p, n->must.v[0], st, s, o), s, o->udf_rt,
                               n->udf_slot, n->udf_exclude, n->score_mode,
                               n->scoring ? n->boost : 1.0f, n->has_min_score, n->min_score);
    case KILN__P_FUZZY:
        return kiln__fuzzy_iter(n, st, s, f, cscore);
    case KILN__P_TERM: {
        if (!f || !f->indexed) return NULL;
        int64_t k = kiln__term_find(f, n->terms[0], n->tlens[0]);
        if (k < 0) return NULL;
        kiln__bm25 bm = {0, NULL};
        if (n->scoring) {
            bm.weight = n->boost * st->idf[n->term_slot[0]];
            bm.cache = st->cache + 256 * n->field_slot;
        }
        return kiln__it_term(s, f, (uint32_t)k, bm);
    }
    case KILN__P_PHRASE: {
        if (!f || !f->indexed || !f->has_pos) return NULL;
        kiln__it **ts = kiln_xmalloc(n->nterms * sizeof *ts);
        double idf = 0;
        for (size_t i = 0; i < n->nterms; i++) {
            int64_t k = kiln__term_find(f, n->terms[i], n->tlens[i]);
            if (k < 0) {
                kiln__free_iters(ts, i);
                return NULL;
            }
            ts[i] = kiln__it_term(s, f, (uint32_t)k, (kiln__bm25){0, NULL});
            idf += st->idf[n->term_slot[i]];
        }
        kiln__bm25 bm = {0, NULL};
        if (n->scoring) {
            bm.weight = n->boost * (float)idf;
            bm.cache = st->cache + 256 * n->field_slot;
        }
        kiln__it *it = kiln__it_phrase(ts, n->offsets, n->nterms, n->slop, bm, f->norms);
        free(ts);
        return it;
    }
    case KILN__P_TERMSET:
    case KILN__P_PREFIX:
    case KILN__P_WILDCARD:
    case KILN__P_KWRANGE:
        return kiln__expansion_iter(n, s, cscore);
    case KILN__P_NRANGE:
        if (!f) return NULL;
        if (f->dv.kind == KILN_DV_I64) {
            kiln__nrange r = {n->lo, n->hi};
            return kiln__it_dv(&f->dv, kiln__pred_nrange, &r, sizeof r, cscore);
        }
        if (f->dv.kind == KILN_DV_F64) {
            kiln__nrange r = {n->lo, n->hi};
            return kiln__it_dv(&f->dv, kiln__pred_nrange_f, &r, sizeof r, cscore);
        }
        return NULL;
    case KILN__P_FRANGE:
        if (!f || f->dv.kind != KILN_DV_F64) return NULL;
        {
            kiln__frange r = {n->flo, n->fhi};
            return kiln__it_dv(&f->dv, kiln__pred_frange, &r, sizeof r, cscore);
        }
    case KILN__P_NSET:
        if (!f || f->dv.kind != KILN_DV_I64) return NULL;
        {
            kiln__set set = {n->nset, n->nset_n};
            return kiln__it_dv(&f->dv, kiln__pred_nset, &set, sizeof set, cscore);
        }
    case KILN__P_FSET:
        if (!f || f->dv.kind != KILN_DV_F64) return NULL;
        {
            kiln__set set = {n->fset, n->nset_n};
            return kiln__it_dv(&f->dv, kiln__pred_fset, &set, sizeof set, cscore);
        }
    case KILN__P_EXISTS:
        if (!f || f->dv.kind == KILN_DV_NONE) return NULL;
        return kiln__it_dv(&f->dv, kiln__pred_any, NULL, 0, cscore);
    case KILN__P_IDS:
        return kiln__ids_iter(n, s, o, cscore);
    case KILN__P_BOOL:
        return kiln__bool_iter(p, n, st, s, o);
    case KILN__P_DISMAX: {
        kiln__it **kids;
        size_t nk;
        kiln__list_iters(p, &n->should, st, s, o, &kids, &nk, 0);
        if (!nk) {
            free(kids);
            return NULL;
        }
        kiln__it *it = kiln__it_or(kids, nk, 1, 1, n->tie);
        free(kids);
        return it;
    }
    case KILN__P_CONST: {
        kiln__it *k = kiln__plan_iter(p, n->filter.v[0], st, s, o);
        return k ? kiln__it_const(k, cscore) : NULL;
    }
    case KILN__P_BOOSTING: {
        kiln__it *pos = kiln__plan_iter(p, n->must.v[0], st, s, o);
        if (!pos) return NULL;
        kiln__it *neg = kiln__plan_iter(p, n->must_not.v[0], st, s, o);
        return neg ? kiln__it_boosting(pos, neg, n->negative_boost) : pos;
    }
    }
    return NULL;
}
