/* The query phase: iterate each segment's plan iterator, skip dead docs, count, and keep the
 * top k in a heap (by score, or by sort keys read from doc values); then the merge of per-shard
 * results. */
#include "search/plan.h"
#include "search/udf_iter.h"

#include "core/buf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void kiln_search_result_free(kiln_search_result *res)
{
    if (!res) return;
    for (size_t i = 0; i < res->nhits; i++) free(res->hits[i].sort);
    free(res->hits);
    json_decref(res->udf_logs);
    memset(res, 0, sizeof *res);
}

static int kiln__sv_cmp(const kiln_sort_value *a, const kiln_sort_value *b)
{
    if (a->type == KILN_SV_STR && b->type == KILN_SV_STR) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        if (c) return c;
        return (a->len > b->len) - (a->len < b->len);
    }
    if (a->type == KILN_SV_I64 && b->type == KILN_SV_I64) return (a->i > b->i) - (a->i < b->i);
    double x = a->type == KILN_SV_I64 ? (double)a->i : a->d;
    double y = b->type == KILN_SV_I64 ? (double)b->i : b->d;
    return (x > y) - (x < y);
}

/* Value order of two hits under the keys, without tie-breaks. */
static int kiln__keys_cmp(const kiln_sort_value *a, const kiln_sort_value *b,
                          const kiln_sort_key *keys, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const kiln_sort_value *x = &a[k], *y = &b[k];
        int xn = x->type == KILN_SV_NULL, yn = y->type == KILN_SV_NULL;
        if (xn || yn) {
            if (xn && yn) continue;
            /* missing values sort last (or first) whatever the order */
            int c = xn ? 1 : -1;
            return keys[k].missing_first ? -c : c;
        }
        int c = kiln__sv_cmp(x, y);
        if (c) return keys[k].desc ? -c : c;
    }
    return 0;
}

int kiln_hit_cmp(const kiln_hit *a, const kiln_hit *b, const kiln_sort_key *keys, size_t n)
{
    if (n) {
        int c = kiln__keys_cmp(a->sort, b->sort, keys, n);
        if (c) return c;
    } else {
        if (a->score > b->score) return -1;
        if (a->score < b->score) return 1;
    }
    if (a->shard != b->shard) return a->shard < b->shard ? -1 : 1;
    return (a->docnum > b->docnum) - (a->docnum < b->docnum);
}

/* ---- top-k heap (root = the worst kept hit) ------------------------------------------------- */

typedef struct kiln__heap {
    kiln_hit *v;
    size_t n, k;
    const kiln_sort_key *keys;
    size_t nkeys;
} kiln__heap;

static int kiln__worse(const kiln__heap *h, const kiln_hit *a, const kiln_hit *b)
{
    return kiln_hit_cmp(a, b, h->keys, h->nkeys) > 0;
}

static void kiln__heap_down(kiln__heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < h->n && kiln__worse(h, &h->v[l], &h->v[w])) w = l;
        if (r < h->n && kiln__worse(h, &h->v[r], &h->v[w])) w = r;
        if (w == i) return;
        kiln_hit t = h->v[i];
        h->v[i] = h->v[w];
        h->v[w] = t;
        i = w;
    }
}

static void kiln__heap_up(kiln__heap *h, size_t i)
{
    while (i) {
        size_t parent = (i - 1) / 2;
        if (!kiln__worse(h, &h->v[i], &h->v[parent])) return;
        kiln_hit t = h->v[i];
        h->v[i] = h->v[parent];
        h->v[parent] = t;
        i = parent;
    }
}

/* Offers a candidate; its sort array is copied when kept. */
static void kiln__heap_offer(kiln__heap *h, const kiln_hit *c)
{
    if (h->n < h->k) {
        kiln_hit *d = &h->v[h->n];
        d->docnum = c->docnum;
        d->shard = c->shard;
        d->score = c->score;
        if (h->nkeys) memcpy(d->sort, c->sort, h->nkeys * sizeof *c->sort);
        h->n++;
        kiln__heap_up(h, h->n - 1);
        return;
    }
    if (!kiln__worse(h, &h->v[0], c)) return;
    kiln_hit *d = &h->v[0];
    d->docnum = c->docnum;
    d->shard = c->shard;
    d->score = c->score;
    if (h->nkeys) memcpy(d->sort, c->sort, h->nkeys * sizeof *c->sort);
    kiln__heap_down(h, 0);
}

static int kiln__qsort_hits(const void *a, const void *b, void *ctx)
{
    const kiln__heap *h = ctx;
    return kiln_hit_cmp(a, b, h->keys, h->nkeys);
}

/* ---- sort values from doc values ------------------------------------------------------------ */

typedef struct kiln__skey {
    kiln_dv dv;
    int has;
} kiln__skey;

static void kiln__sort_value(const kiln_sort_key *k, const kiln__skey *sk, uint32_t doc,
                             uint32_t docnum, float score, kiln_sort_value *out)
{
    memset(out, 0, sizeof *out);
    if (k->by == KILN_SORT_SCORE) {
        out->type = KILN_SV_F64;
        out->d = score;
        return;
    }
    if (k->by == KILN_SORT_DOC) {
        out->type = KILN_SV_I64;
        out->i = docnum;
        return;
    }
    uint32_t cnt = sk->has ? kiln_dv_count(&sk->dv, doc) : 0;
    if (!cnt) {
        if (k->missing_value) *out = *k->missing_value;
        return;
    }
    kiln_sort_mode mode = k->mode;
    if (mode == KILN_SMODE_DEFAULT) mode = k->desc ? KILN_SMODE_MAX : KILN_SMODE_MIN;
    uint32_t a = sk->dv.off[doc];
    uint32_t pick = mode == KILN_SMODE_MAX ? a + cnt - 1 : a;
    switch (sk->dv.kind) {
    case KILN_DV_I64:
    case KILN_DV_F64: {
        int isf = sk->dv.kind == KILN_DV_F64;
        if (mode == KILN_SMODE_MIN || mode == KILN_SMODE_MAX) {
            if (isf) {
                out->type = KILN_SV_F64;
                out->d = sk->dv.f64[pick];
            } else {
                out->type = KILN_SV_I64;
                out->i = sk->dv.i64[pick];
            }
            return;
        }
        double sum = 0;
        uint64_t isum = 0; /* longs add up as Java longs do: wrapping, as ES's sort modes */
        for (uint32_t i = a; i < a + cnt; i++) {
            if (isf)
                sum += sk->dv.f64[i];
            else
                isum += (uint64_t)sk->dv.i64[i];
        }
        if (!isf) sum = (double)(int64_t)isum;
        if (mode == KILN_SMODE_SUM && !isf) {
            out->type = KILN_SV_I64;
            out->i = (int64_t)isum;
            return;
        }
        out->type = KILN_SV_F64;
        if (mode == KILN_SMODE_SUM)
            out->d = sum;
        else if (mode == KILN_SMODE_AVG)
            out->d = sum / cnt;
        else { /* median */
            uint32_t m = a + cnt / 2;
            double hi = isf ? sk->dv.f64[m] : (double)sk->dv.i64[m];
            double lo = isf ? sk->dv.f64[m - (cnt % 2 == 0)] : (double)sk->dv.i64[m - (cnt % 2 == 0)];
            out->d = (lo + hi) / 2;
        }
        if (!isf) { /* ES's MultiValueMode on longs rounds avg and median back to a long */
            out->type = KILN_SV_I64;
            out->i = (int64_t)llround(out->d);
        }
        return;
    }
    case KILN_DV_ORD:
        out->type = KILN_SV_STR;
        out->s = kiln_dv_ord_term(&sk->dv, sk->dv.ord[pick], &out->len);
        return;
    default:
        return;
    }
}

/* Does doc lose to the worst kept hit w on a numeric first key alone (min/max mode)? Equal
 * values and missing ones are left to the full comparison (tie-breaks, missing order). */
static int kiln__first_key_loses(const kiln_sort_key *k, const kiln__skey *sk, uint32_t doc,
                                 const kiln_sort_value *w)
{
    uint32_t cnt = kiln_dv_count(&sk->dv, doc);
    if (!cnt) return 0;
    kiln_sort_mode mode = k->mode;
    if (mode == KILN_SMODE_DEFAULT) mode = k->desc ? KILN_SMODE_MAX : KILN_SMODE_MIN;
    uint32_t pick = sk->dv.off[doc] + (mode == KILN_SMODE_MAX ? cnt - 1 : 0);
    int c;
    if (sk->dv.kind == KILN_DV_F64) {
        if (w->type != KILN_SV_F64) return 0;
        double x = sk->dv.f64[pick];
        c = (x > w->d) - (x < w->d);
    } else {
        if (w->type != KILN_SV_I64) return 0;
        int64_t x = sk->dv.i64[pick];
        c = (x > w->i) - (x < w->i);
    }
    return (k->desc ? -c : c) > 0;
}

static int64_t kiln__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int kiln_search_execute(const kiln_plan *p, const kiln_search_stats *st,
                        const kiln_sindex_reader *r, const roaring_bitmap_t *live,
                        const kiln_search_opts *o, kiln_search_result *res, kiln_error *err)
{
    memset(res, 0, sizeof *res);
    /* UDF sessions live for this execution on this thread; iterators reach them through o. */
    kiln_search_opts with_udfs = *o;
    with_udfs.udf_rt =
        kiln__udf_rt_new(p, live, o->id_ctx, o->deadline_ns, o->capture_udf_logs);
    o = &with_udfs;
    size_t nk = o->nsort;
    int need_scores = !nk || o->track_scores || o->has_min_score;
    for (size_t k = 0; k < nk; k++) {
        if (o->sort[k].by == KILN_SORT_SCORE) need_scores = 1;
        if (o->sort[k].by == KILN_SORT_FIELD) {
            const kiln_field *f = kiln_mapping_field(p->m, o->sort[k].field);
            if (f && f->type == KILN_FT_TEXT) {
                kiln__udf_rt_finish(o->udf_rt, NULL, NULL, NULL);
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                 "Text fields are not optimised for operations that require "
                                 "per-document field data like aggregations and sorting, so these "
                                 "operations are disabled by default. Please use a keyword field "
                                 "instead. Alternatively, set fielddata=true on [%s] in order to "
                                 "load field data by uninverting the inverted index. Note that "
                                 "this can use significant memory.",
                                 o->sort[k].field);
            }
        }
    }
    kiln__heap h = {.k = o->k, .keys = o->sort, .nkeys = nk};
    h.v = kiln_xcalloc(o->k + 1, sizeof *h.v);
    kiln_sort_value *pool = kiln_xcalloc((o->k + 1) * (nk ? nk : 1), sizeof *pool);
    for (size_t i = 0; i <= o->k; i++) h.v[i].sort = nk ? pool + i * nk : NULL;
    kiln_sort_value *cand_sort = kiln_xcalloc(nk ? nk : 1, sizeof *cand_sort);
    kiln__skey *skeys = kiln_xcalloc(nk ? nk : 1, sizeof *skeys);
    uint64_t total = 0;
    float max_score = -INFINITY;
    int no_deletes = live == NULL;
    uint64_t visited = 0;

    /* Sorted by _doc ascending first (scrolls, exports, _delete_by_query): a segment's docs come
     * in sort order, so once the heap is full a later doc never enters it, and when nothing is
     * counted a search_after page starts past its after doc instead of at the segment's top. */
    int doc_order = nk && o->k && o->sort[0].by == KILN_SORT_DOC && !o->sort[0].desc;
    int64_t after_doc = doc_order && o->after && o->after[0].type == KILN_SV_I64 &&
                                o->track_total_hits == 0
                            ? o->after[0].i
                            : -1;
    for (size_t si = 0; si < r->nsegs && !res->timed_out; si++) {
        const kiln_segment *s = r->segs[si];
        if (after_doc >= (int64_t)s->base + s->ndocs - 1) continue; /* all at or before after */
        kiln__it *it = kiln__plan_iter(p, p->root, st, s, o);
        if (!it) continue;
        uint32_t skip_to = after_doc >= (int64_t)s->base ? (uint32_t)(after_doc - s->base + 1) : 0;
        for (size_t k = 0; k < nk; k++)
            skeys[k].has = o->sort[k].by == KILN_SORT_FIELD &&
                           !kiln_dv_get(s, o->sort[k].field, &skeys[k].dv);
        /* a full heap turns most docs away on the first sort key: compared in place */
        int fast_key = nk && !o->after && o->sort[0].by == KILN_SORT_FIELD && skeys[0].has &&
                       (skeys[0].dv.kind == KILN_DV_I64 || skeys[0].dv.kind == KILN_DV_F64) &&
                       (o->sort[0].mode == KILN_SMODE_DEFAULT ||
                        o->sort[0].mode == KILN_SMODE_MIN || o->sort[0].mode == KILN_SMODE_MAX);
        /* live docs: a segment range fully present needs no per-doc check */
        int check_live = !no_deletes && !roaring_bitmap_contains_range(
                                            live, s->base, (uint64_t)s->base + s->ndocs);
        /* Block-max pruning, by score only and once the hit count is no longer exact: skip
         * ranges whose score bound cannot beat the worst kept hit (ties lose to earlier docs). */
        int prune_ok = !nk && o->k && !o->after && !o->has_min_score && o->track_total_hits >= 0;
        uint32_t target = 0, upto = 0;
        int have_upto = 0;
        /* Counting to track_total_hits with a full heap: every match is counted, but a doc is
         * scored only when its range's bound can beat the worst kept hit (the bound is taken
         * once per range [doc, cnt_end]). */
        uint32_t cnt_end = 0;
        int have_cnt = 0, cnt_skip = 0;
        for (;;) {
            uint32_t d;
            if (skip_to) {
                d = kiln__it_advance(it, skip_to);
                skip_to = 0;
            } else if (prune_ok && h.n == h.k && total >= (uint64_t)o->track_total_hits) {
                if (!have_upto || target > upto) {
                    uint32_t end;
                    float b = kiln__it_bound(it, target, &end);
                    if (end == KILN__END) break;
                    if (b <= h.v[0].score) {
                        res->total_is_lower_bound = 1;
                        if (end >= KILN__FAR) break;
                        target = end + 1;
                        have_upto = 0;
                        continue;
                    }
                    upto = end;
                    have_upto = 1;
                }
                /* with min_comp set, an iterator may pass over matches without returning
                 * them (a phrase skips docs that cannot compete), so the count stops being
                 * exact here even when no range is skipped */
                it->min_comp = h.v[0].score;
                res->total_is_lower_bound = 1;
                d = kiln__it_advance(it, target);
            } else
                d = kiln__it_next(it);
            if (d == KILN__END) break;
            target = d + 1;
            uint32_t docnum = s->base + d;
            if ((++visited & 4095) == 0 && o->deadline_ns && kiln__now_ns() > o->deadline_ns) {
                res->timed_out = 1;
                break;
            }
            if (check_live && !roaring_bitmap_contains(live, docnum)) continue;
            if (doc_order && h.n == h.k && docnum > h.v[0].docnum && o->track_total_hits >= 0 &&
                total >= (uint64_t)o->track_total_hits) { /* the rest of the segment loses */
                if (o->track_total_hits) res->total_is_lower_bound = 1;
                break;
            }
            if (prune_ok && h.n == h.k && total < (uint64_t)o->track_total_hits) { /* counting */
                if (!have_cnt || d > cnt_end) {
                    /* the threshold lets conjunctions widen a losing range; it is taken back
                     * at once, as next() must not skip docs (phrases, MaxScore) while
                     * counting */
                    it->min_comp = h.v[0].score;
                    float b = kiln__it_bound(it, d, &cnt_end);
                    it->min_comp = -1;
                    cnt_skip = cnt_end != KILN__END && b <= h.v[0].score;
                    have_cnt = cnt_end != KILN__END;
                }
                if (cnt_skip) { /* cannot enter the top k: ties lose to earlier docs */
                    total++;
                    continue;
                }
            }
            float score = need_scores ? it->score(it) : NAN;
            if (o->has_min_score && !(score >= o->min_score)) continue;
            total++;
            if (need_scores && score > max_score) max_score = score;
            if (!o->k) continue;
            kiln_hit c = {.docnum = docnum, .shard = o->shard, .score = score, .sort = NULL};
            if (nk && h.n == h.k && fast_key && kiln__first_key_loses(&o->sort[0], &skeys[0], d,
                                                                       &h.v[0].sort[0]))
                continue;
            if (nk) {
                for (size_t k = 0; k < nk; k++)
                    kiln__sort_value(&o->sort[k], &skeys[k], d, docnum, score, &cand_sort[k]);
                c.sort = cand_sort;
                if (o->after && kiln__keys_cmp(cand_sort, o->after, o->sort, nk) <= 0) continue;
            } else if (o->after && o->after[0].type != KILN_SV_NULL) {
                double a = o->after[0].type == KILN_SV_I64 ? (double)o->after[0].i : o->after[0].d;
                if (!(score < a)) continue;
            }
            kiln__heap_offer(&h, &c);
        }
        kiln__it_free(it);
    }

    /* hand the kept hits over, best first, each with its own sort array */
    qsort_r(h.v, h.n, sizeof *h.v, kiln__qsort_hits, &h);
    res->hits = kiln_xcalloc(h.n + 1, sizeof *res->hits);
    for (size_t i = 0; i < h.n; i++) {
        res->hits[i] = h.v[i];
        if (nk) {
            res->hits[i].sort = kiln_xmalloc(nk * sizeof(kiln_sort_value));
            memcpy(res->hits[i].sort, h.v[i].sort, nk * sizeof(kiln_sort_value));
        }
    }
    res->nhits = h.n;
    res->nsort = nk;
    res->total = total;
    if (o->track_total_hits >= 0 && total > (uint64_t)o->track_total_hits) {
        res->total = (uint64_t)o->track_total_hits;
        res->total_is_lower_bound = 1;
    }
    res->max_score = need_scores && total ? max_score : NAN;
    free(h.v);
    free(pool);
    free(cand_sort);
    free(skeys);
    if (kiln__udf_rt_finish(o->udf_rt, &res->timed_out, err, &res->udf_logs)) {
        kiln_search_result_free(res);
        return -1;
    }
    return 0;
}

void kiln_search_merge(kiln_search_result *shards, size_t n, const kiln_search_opts *o,
                       kiln_search_result *out)
{
    memset(out, 0, sizeof *out);
    size_t all = 0;
    for (size_t i = 0; i < n; i++) all += shards[i].nhits;
    out->hits = kiln_xcalloc(all + 1, sizeof *out->hits);
    out->max_score = NAN;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < shards[i].nhits; j++) out->hits[out->nhits++] = shards[i].hits[j];
        shards[i].nhits = 0; /* hits (and their sort arrays) move to out */
        out->total += shards[i].total;
        out->total_is_lower_bound |= shards[i].total_is_lower_bound;
        out->timed_out |= shards[i].timed_out;
        if (shards[i].udf_logs) {
            if (!out->udf_logs) out->udf_logs = json_array();
            json_array_extend(out->udf_logs, shards[i].udf_logs);
        }
        if (!isnan(shards[i].max_score) &&
            (isnan(out->max_score) || shards[i].max_score > out->max_score))
            out->max_score = shards[i].max_score;
        out->nsort = shards[i].nsort;
    }
    kiln__heap h = {.keys = o->sort, .nkeys = o->nsort};
    qsort_r(out->hits, out->nhits, sizeof *out->hits, kiln__qsort_hits, &h);
    while (out->nhits > o->k) free(out->hits[--out->nhits].sort);
    if (o->track_total_hits >= 0 && out->total > (uint64_t)o->track_total_hits) {
        out->total = (uint64_t)o->track_total_hits;
        out->total_is_lower_bound = 1;
    }
}
