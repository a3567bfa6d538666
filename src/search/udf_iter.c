/* WebAssembly UDFs inside searches: the filter iterator (wasm_udf, script query), the scoring
 * wrapper (script_score, function_score), and the document a UDF reads — columnar doc values
 * of the current segment, and _source only for text fields kept without a column of originals
 * (KILN_DV_COUNT: no store: true and no keyword multi-field spelling them).
 *
 * A UDF filter is a two-phase iterator: conjunctions and exclusions ask matches(doc) on the
 * candidates that survived every cheaper clause, so the UDF runs once per candidate. Alone, it
 * scans the segment. Each execution owns one session per UDF (an instance from this thread's
 * pool); errors stop the search unless the query said on_error: exclude. */
#include "search/udf_iter.h"
#include "core/buf.h"
#include "core/json.h"
#include "index/shard.h"
#include "search/prep.h"
#include "udf/udf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the document: doc values of one segment ------------------------------------------------ */

typedef struct {
    kiln_dv dv;
    int index; /* -1: the first value; a path's [i] picks the i-th value of the leaf */
    const kiln_field *mf; /* KILN_DV_COUNT: the text field, read from _source */
    char tmp[64];         /* a number or boolean of such a field, as text */
} kiln__dv_handle;

/* The document is rows[doc->at]: a batch's candidates, or `one` for a single call. */
typedef struct {
    const kiln_segment *s;
    const uint32_t *rows;
    uint32_t one;
    kiln_shard *shard;
    const kiln_mapping *m;
    kiln_buf id;
    uint32_t id_docnum;  /* whose _id is in id; UINT32_MAX: none */
    kiln_buf src;        /* the _source of src_docnum (UINT32_MAX: none), parsed into tape */
    kiln_json tape;
    uint32_t src_docnum;
    int src_ok;
} kiln__dvdoc;

static void kiln__dvdoc_free(kiln__dvdoc *d)
{
    kiln_buf_free(&d->id);
    kiln_buf_free(&d->src);
    kiln_json_dispose(&d->tape);
}

static inline uint32_t kiln__dv_local(const kiln_udf_doc *doc)
{
    const kiln__dvdoc *d = doc->impl;
    return d->rows[doc->at];
}

/* "a.b[2]" → dv of "a.b", index 2. Doc values are flattened per leaf path, so an index in the
 * middle ("items[1].price") selects the leaf's i-th value. */
static int kiln__dv_resolve(const kiln_udf_doc *doc, const char *p, size_t n, void **handle)
{
    const kiln__dvdoc *d = doc->impl;
    char path[512];
    size_t o = 0;
    int index = -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '[') {
            size_t j = i + 1;
            long v = 0;
            while (j < n && p[j] >= '0' && p[j] <= '9' && v < 1000000) v = v * 10 + (p[j++] - '0');
            if (j == i + 1 || j >= n || p[j] != ']') return -1;
            if (index < 0) index = (int)v;
            i = j;
            continue;
        }
        if (o + 1 >= sizeof path) return -1;
        path[o++] = p[i];
    }
    path[o] = 0;
    if (!o || path[0] == '.' || path[o - 1] == '.') return -1;
    kiln__dv_handle *h = kiln_xcalloc(1, sizeof *h);
    h->index = index;
    if (kiln_dv_get(d->s, path, &h->dv)) h->dv.kind = KILN_DV_NONE;
    if (h->dv.kind == KILN_DV_COUNT && !(h->mf = d->m ? kiln_mapping_field(d->m, path) : NULL))
        h->dv.kind = KILN_DV_NONE;
    *handle = h;
    return 0;
}

/* Value i of a text field kept without a column of originals, from the document's _source:
 * fetched (through the thread's docstore block cache) and parsed once per document. Valid
 * until another document is read. */
static const char *kiln__dv_source_text(const kiln_udf_doc *doc, kiln__dv_handle *h, uint32_t i,
                                        size_t *len)
{
    kiln__dvdoc *d = doc->impl;
    uint32_t docnum = d->s->base + kiln__dv_local(doc);
    if (d->src_docnum != docnum) {
        kiln_buf_reset(&d->src);
        d->src_ok = d->shard && !kiln_shard_doc_at(d->shard, docnum, NULL, NULL, &d->src) &&
                    !kiln_json_parse(&d->tape, d->src.data, d->src.len);
        d->src_docnum = docnum;
    }
    *len = 0;
    return d->src_ok ? kiln__source_text(&d->tape, h->mf, i, h->tmp, sizeof h->tmp, len) : NULL;
}

static void kiln__dv_value(const kiln_udf_doc *doc, void *handle, kiln_udf_value *out)
{
    kiln__dv_handle *h = handle;
    const kiln_dv *dv = &h->dv;
    uint32_t local = kiln__dv_local(doc);
    uint32_t i = h->index < 0 ? 0 : (uint32_t)h->index;
    out->kind = KILN_UDF_V_MISSING;
    if (i >= kiln_dv_count(dv, local)) return;
    switch (dv->kind) {
    case KILN_DV_I64:
        out->i = kiln_dv_i64(dv, local, i);
        out->f = (double)out->i;
        out->kind = dv->type == KILN_FT_BOOLEAN ? KILN_UDF_V_BOOL : KILN_UDF_V_INT;
        break;
    case KILN_DV_F64:
        out->f = kiln_dv_f64(dv, local, i);
        out->i = (int64_t)out->f;
        out->kind = KILN_UDF_V_FLOAT;
        break;
    case KILN_DV_ORD:
    case KILN_DV_STR:
        out->str = kiln_dv_str(dv, local, i, &out->len);
        if (out->str) out->kind = KILN_UDF_V_STRING;
        break;
    case KILN_DV_COUNT:
        out->str = kiln__dv_source_text(doc, h, i, &out->len);
        if (out->str) out->kind = KILN_UDF_V_STRING;
        break;
    default: break;
    }
}

static const char *kiln__dv_str(const kiln_udf_doc *doc, void *handle, size_t *len)
{
    kiln__dv_handle *h = handle;
    uint32_t i = h->index < 0 ? 0 : (uint32_t)h->index, local = kiln__dv_local(doc);
    if (h->dv.kind == KILN_DV_COUNT)
        return i < kiln_dv_count(&h->dv, local) ? kiln__dv_source_text(doc, h, i, len) : NULL;
    if (h->dv.kind != KILN_DV_ORD && h->dv.kind != KILN_DV_STR) return NULL;
    return kiln_dv_str(&h->dv, local, i, len);
}

static int kiln__dv_count(const kiln_udf_doc *doc, void *handle)
{
    const kiln__dv_handle *h = handle;
    uint32_t count = kiln_dv_count(&h->dv, kiln__dv_local(doc));
    if (h->index >= 0) return (uint32_t)h->index < count;
    return (int)count;
}

static const char *kiln__dv_doc_id(const kiln_udf_doc *doc, size_t *len)
{
    kiln__dvdoc *d = doc->impl;
    uint32_t docnum = d->s->base + kiln__dv_local(doc);
    if (d->id_docnum != docnum) {
        kiln_doc_meta meta;
        kiln_buf_reset(&d->id);
        if (!d->shard || kiln_shard_doc_at(d->shard, docnum, &meta, &d->id, NULL))
            kiln_buf_puts(&d->id, "");
        d->id_docnum = docnum;
    }
    *len = d->id.len;
    return d->id.data ? d->id.data : "";
}

/* Text originals kept in compressed blocks are decoded into the thread's block cache (kiln_dv_str);
 * those read from _source live in the document's parsed copy until the next document. */
static int kiln__dv_str_transient(const kiln_udf_doc *doc, void *handle)
{
    (void)doc;
    const kiln_dv *dv = &((const kiln__dv_handle *)handle)->dv;
    return (dv->kind == KILN_DV_STR && dv->str_z && !dv->str_ord) || dv->kind == KILN_DV_COUNT;
}

static const kiln_udf_doc_ops kiln__dv_ops = {kiln__dv_resolve, kiln__dv_value,    kiln__dv_count,
                                              free,             kiln__dv_doc_id,   kiln__dv_str,
                                              kiln__dv_str_transient};

/* ---- one execution's sessions ------------------------------------------------------------------ */

#define KILN__UDF_BATCH 128 /* scan: candidates evaluated under one trap guard */

struct kiln__udf_rt {
    const kiln_plan *plan;
    kiln_udf_session **sessions; /* by slot, created on first use */
    const roaring_bitmap_t *live;
    kiln_shard *shard;
    int64_t deadline_ns;
    int capture;
    uint64_t evals;
    int64_t last_check_ns;  /* with a search timeout: when the clock was last read */
    uint32_t check_mask;    /* read it every check_mask + 1 calls (adapts to the UDF's cost) */
    uint32_t batch_cap;     /* scan batches: smaller while calls are slow, so the timeout holds */
    int failed, timed_out;
    kiln_error err;
};

static int64_t kiln__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

kiln__udf_rt *kiln__udf_rt_new(const kiln_plan *p, const roaring_bitmap_t *live, void *shard,
                               int64_t deadline_ns, int capture_logs)
{
    if (!p->nudfs) return NULL;
    kiln__udf_rt *rt = kiln_xcalloc(1, sizeof *rt);
    rt->plan = p;
    rt->sessions = kiln_xcalloc(p->nudfs, sizeof *rt->sessions);
    rt->live = live;
    rt->shard = shard;
    rt->deadline_ns = deadline_ns;
    rt->capture = capture_logs;
    rt->batch_cap = deadline_ns ? 8 : KILN__UDF_BATCH;
    if (deadline_ns) rt->last_check_ns = kiln__mono_ns();
    return rt;
}

int kiln__udf_rt_finish(kiln__udf_rt *rt, int *timed_out, kiln_error *err, json_t **logs)
{
    if (!rt) return 0;
    int rc = 0;
    if (rt->failed) {
        if (err) *err = rt->err;
        rc = -1;
    }
    if (rt->timed_out && timed_out) *timed_out = 1;
    for (size_t i = 0; i < rt->plan->nudfs; i++) {
        json_t *lines = rt->sessions[i] && logs ? kiln_udf_session_logs(rt->sessions[i]) : NULL;
        if (lines) {
            const kiln_udf *u = kiln_udf_bound_udf(rt->plan->udfs[i]);
            if (!*logs) *logs = json_array();
            size_t k;
            json_t *line;
            json_array_foreach(lines, k, line)
            {
                json_t *l = json_copy(line);
                json_object_set_new(l, "udf", json_string(kiln_udf_name(u)));
                json_object_set_new(l, "version", json_string(kiln_udf_version(u)));
                json_array_append_new(*logs, l);
            }
            json_decref(lines);
        }
        kiln_udf_session_free(rt->sessions[i]);
    }
    free(rt->sessions);
    free(rt);
    return rc;
}

/* What both UDF iterators call: the UDF of a plan slot, its error policy, the document. */
typedef struct {
    kiln__udf_rt *rt;
    size_t slot;
    int exclude;
    const roaring_bitmap_t *live; /* NULL when every doc of the segment is live */
    kiln__dvdoc doc;
} kiln__udf_ref;

static void kiln__udf_ref_init(kiln__udf_ref *u, const kiln_segment *s, kiln__udf_rt *rt,
                               size_t slot, int exclude)
{
    u->rt = rt;
    u->slot = slot;
    u->exclude = exclude;
    u->doc.s = s;
    u->doc.shard = rt->shard;
    u->doc.m = rt->plan->m;
    u->doc.rows = &u->doc.one;
    u->doc.id_docnum = u->doc.src_docnum = UINT32_MAX;
    /* deletes elsewhere in the shard cost this segment nothing: check liveness per doc only
     * when some doc of this segment is deleted */
    u->live = rt->live && !roaring_bitmap_contains_range(rt->live, s->base,
                                                         (uint64_t)s->base + s->ndocs)
                  ? rt->live
                  : NULL;
}

/* The session of the ref's slot, created on first use; NULL (rt->failed set) if impossible. */
static kiln_udf_session *kiln__udf_session(kiln__udf_ref *u)
{
    kiln__udf_rt *rt = u->rt;
    if (rt->sessions[u->slot]) return rt->sessions[u->slot];
    kiln_error err;
    rt->sessions[u->slot] = kiln_udf_session_new(rt->plan->udfs[u->slot], 0, rt->capture, &err);
    if (!rt->sessions[u->slot]) {
        rt->failed = 1;
        rt->err = err;
    }
    return rt->sessions[u->slot];
}

/* A failed call: the search stops unless the clause excludes the document. */
static void kiln__udf_failed(kiln__udf_ref *u, const kiln_error *err)
{
    if (u->exclude) return;
    u->rt->failed = 1;
    u->rt->err = *err;
}

/* With a search timeout, reads the clock and adapts how often it is read again: every call
 * while calls are slow, up to one in 64 (and batches up to KILN__UDF_BATCH) while they are
 * fast, so a slow UDF cannot overrun the timeout by much and a fast one pays nothing. */
static int kiln__udf_past_deadline(kiln__udf_rt *rt)
{
    if (!rt->deadline_ns) return rt->timed_out;
    int64_t now = kiln__mono_ns();
    int fast = now - rt->last_check_ns < 200000;
    rt->last_check_ns = now;
    rt->check_mask = fast ? (rt->check_mask * 2 + 1) & 63 : rt->check_mask / 2;
    if (fast && rt->batch_cap < KILN__UDF_BATCH) rt->batch_cap *= 2;
    if (!fast && rt->batch_cap > 1) rt->batch_cap /= 2;
    if (now > rt->deadline_ns) rt->timed_out = 1; /* partial results, as ES does */
    return rt->timed_out;
}

/* Calls the UDF on a segment doc. 1: result in *r; 0: no result (excluded error, deleted doc,
 * stopped); the search stops (END) once rt->failed or rt->timed_out is set. */
static int kiln__udf_eval(kiln__udf_ref *u, uint32_t local, double score, kiln_udf_result *r)
{
    kiln__udf_rt *rt = u->rt;
    kiln__dvdoc *d = &u->doc;
    if (rt->failed || rt->timed_out) return 0;
    if (u->live && !roaring_bitmap_contains(u->live, d->s->base + local)) return 0;
    if (rt->deadline_ns && (++rt->evals & rt->check_mask) == 0 && kiln__udf_past_deadline(rt))
        return 0;
    kiln_udf_session *session = kiln__udf_session(u);
    if (!session) return 0;
    d->rows = &d->one;
    d->one = local;
    kiln_udf_doc doc = {&kiln__dv_ops, d->s, NULL, 0, d, 0};
    kiln_error err;
    if (kiln_udf_call(session, &doc, score, r, &err) == 0) return 1;
    kiln__udf_failed(u, &err);
    return 0;
}

/* ---- the filter ----------------------------------------------------------------------------
 * Led by itself (a scan), the filter evaluates candidates ahead in batches of KILN__UDF_BATCH
 * under one trap guard; as the second phase of a conjunction (matches) it calls once per
 * candidate the cheaper clauses agreed on. */

typedef struct {
    kiln__it base;
    kiln__udf_ref ref;
    uint32_t ndocs;
    const uint64_t *present;
    float cscore;
    uint32_t scanned;             /* scan: first doc not yet evaluated */
    uint32_t nbuf, pos;           /* scan: evaluated candidates, next one to hand out */
    uint32_t buf[KILN__UDF_BATCH];
    uint8_t hit[KILN__UDF_BATCH];
} kiln__udf_it;

static int kiln__udf_matches(kiln__it *it, uint32_t d)
{
    kiln__udf_it *u = (kiln__udf_it *)it;
    kiln_udf_result r;
    return kiln__udf_eval(&u->ref, d, 0, &r) && r.matched;
}

/* Collects the next live candidates from `from` into buf and evaluates them; 0 at the end. */
static int kiln__udf_fill(kiln__udf_it *u, uint32_t from)
{
    kiln__udf_rt *rt = u->ref.rt;
    u->nbuf = u->pos = 0;
    if (rt->failed || kiln__udf_past_deadline(rt)) return 0;
    uint32_t d = from, base = u->ref.doc.s->base;
    for (; d < u->ndocs && u->nbuf < rt->batch_cap; d++) {
        if (u->present) {
            uint64_t w = u->present[d >> 6] >> (d & 63);
            if (!w) { /* the rest of this word is empty */
                d |= 63;
                continue;
            }
            d += (uint32_t)__builtin_ctzll(w);
            if (d >= u->ndocs) break;
        }
        if (u->ref.live && !roaring_bitmap_contains(u->ref.live, base + d)) continue;
        u->buf[u->nbuf++] = d;
    }
    u->scanned = d;
    if (!u->nbuf) return 0;
    kiln_udf_session *session = kiln__udf_session(&u->ref);
    if (!session) return 0;
    u->ref.doc.rows = u->buf;
    kiln_udf_doc doc = {&kiln__dv_ops, u->ref.doc.s, NULL, 0, &u->ref.doc, 0};
    size_t at = 0;
    while (at < u->nbuf) { /* after an excluded failure, the rest of the batch */
        kiln_error err;
        at = kiln_udf_call_batch(session, &doc, at, u->nbuf, u->hit, &err);
        if (at == u->nbuf) break;
        u->hit[at++] = 0; /* the failed document: excluded, or the search stops */
        kiln__udf_failed(&u->ref, &err);
        if (rt->failed) return 0;
    }
    return 1;
}

static uint32_t kiln__udf_adv(kiln__it *it, uint32_t target)
{
    kiln__udf_it *u = (kiln__udf_it *)it;
    for (;;) {
        for (; u->pos < u->nbuf; u->pos++)
            if (u->hit[u->pos] && u->buf[u->pos] >= target) return it->doc = u->buf[u->pos++];
        if (u->ref.rt->timed_out ||
            !kiln__udf_fill(u, target > u->scanned ? target : u->scanned))
            return it->doc = KILN__END;
    }
}
static uint32_t kiln__udf_next(kiln__it *it)
{
    return kiln__it_next_by_advance(it, kiln__udf_adv);
}

static float kiln__udf_score(kiln__it *it)
{
    return ((kiln__udf_it *)it)->cscore;
}

static void kiln__udf_free(kiln__it *it)
{
    kiln__dvdoc_free(&((kiln__udf_it *)it)->ref.doc);
    free(it);
}

kiln__it *kiln__it_udf(const kiln_segment *s, kiln__udf_rt *rt, size_t slot, int exclude,
                       float score)
{
    if (!rt || !kiln_segment_ndocs(s)) return NULL;
    kiln__udf_it *u = kiln_xcalloc(1, sizeof *u);
    u->base.doc = KILN__UNSTARTED;
    u->base.next = kiln__udf_next;
    u->base.advance = kiln__udf_adv;
    u->base.score = kiln__udf_score;
    u->base.free = kiln__udf_free;
    u->base.matches = kiln__udf_matches;
    u->base.cost = kiln_segment_ndocs(s);
    u->base.cost_class = 4;
    u->base.max_score = score;
    kiln__udf_ref_init(&u->ref, s, rt, slot, exclude);
    u->ndocs = kiln_segment_ndocs(s);
    u->present = s->present;
    u->cscore = score;
    return &u->base;
}

/* ---- the scorer ------------------------------------------------------------------------------ */

typedef struct {
    kiln__it base;
    kiln__it *kid;
    kiln__udf_ref ref;
    int mode, has_min;
    float min_score, boost, score;
} kiln__script_it;

/* Scores kid's current doc; 0 when the doc is dropped (error excluded, below min_score). */
static int kiln__script_eval(kiln__script_it *s, uint32_t d)
{
    kiln_udf_result r;
    double inner = s->kid->score(s->kid);
    if (!kiln__udf_eval(&s->ref, d, inner, &r)) return 0;
    double v = r.score;
    if (s->mode == KILN_SCORE_MULTIPLY)
        v *= inner;
    else if (s->mode == KILN_SCORE_SUM)
        v += inner;
    if (v < 0) v = 0; /* as in ES, scores are never negative */
    s->score = (float)(v * s->boost);
    return !s->has_min || s->score >= s->min_score;
}

static uint32_t kiln__script_settle(kiln__script_it *s, uint32_t d)
{
    while (d != KILN__END) {
        if (s->ref.rt->failed || s->ref.rt->timed_out) return s->base.doc = KILN__END;
        if (kiln__script_eval(s, d)) return s->base.doc = d;
        d = kiln__it_next(s->kid);
    }
    return s->base.doc = KILN__END;
}

static uint32_t kiln__script_next(kiln__it *it)
{
    kiln__script_it *s = (kiln__script_it *)it;
    if (it->doc == KILN__END) return KILN__END;
    return kiln__script_settle(s, kiln__it_next(s->kid));
}

static uint32_t kiln__script_adv(kiln__it *it, uint32_t target)
{
    kiln__script_it *s = (kiln__script_it *)it;
    return kiln__script_settle(s, kiln__it_advance(s->kid, target));
}

static float kiln__script_score(kiln__it *it)
{
    return ((kiln__script_it *)it)->score;
}

static void kiln__script_free(kiln__it *it)
{
    kiln__script_it *s = (kiln__script_it *)it;
    kiln__it_free(s->kid);
    kiln__dvdoc_free(&s->ref.doc);
    free(s);
}

kiln__it *kiln__it_script(kiln__it *kid, const kiln_segment *s, kiln__udf_rt *rt, size_t slot,
                          int exclude, int mode, float boost, int has_min, float min_score)
{
    if (!kid) return NULL;
    if (!rt) {
        kiln__it_free(kid);
        return NULL;
    }
    kiln__script_it *it = kiln_xcalloc(1, sizeof *it);
    it->base.doc = KILN__UNSTARTED;
    it->base.next = kiln__script_next;
    it->base.advance = kiln__script_adv;
    it->base.score = kiln__script_score;
    it->base.free = kiln__script_free;
    it->base.cost = kid->cost;
    it->base.cost_class = kid->cost_class;
    it->base.max_score = INFINITY; /* a UDF's score has no known bound: no pruning below it */
    it->kid = kid;
    kiln__udf_ref_init(&it->ref, s, rt, slot, exclude);
    it->mode = mode;
    it->boost = boost;
    it->has_min = has_min;
    it->min_score = min_score;
    return &it->base;
}

/* ---- binding ----------------------------------------------------------------------------- */

typedef struct {
    kiln_udf_registry *r;
    kiln_error *err;
} kiln__bind_ctx;

static void kiln__bound_free(void *b)
{
    kiln_udf_bound_free(b);
}

static int kiln__bind_one(kiln_query *q, void *arg)
{
    kiln__bind_ctx *c = arg;
    kiln_query_udf *u = q->kind == KILN_Q_WASM_UDF       ? &q->u.udf
                        : q->kind == KILN_Q_SCRIPT_SCORE ? &q->u.script_score.udf
                                                         : NULL;
    if (!u || u->bound) return 0;
    kiln_error nf;
    kiln_udf *udf = kiln_udf_get(c->r, u->name, u->version, &nf);
    if (!udf) {
        /* an unknown UDF is a bad request, not a missing resource of the search */
        return kiln_fail(c->err, KILN_E_ILLEGAL_ARGUMENT, "%s", nf.reason);
    }
    u->bound = kiln_udf_bind(udf, u->params, c->err);
    kiln_udf_unref(udf);
    if (!u->bound) return -1;
    u->bound_free = kiln__bound_free;
    return 0;
}

int kiln_search_bind_udfs(kiln_query *q, kiln_udf_registry *r, kiln_error *err)
{
    kiln__bind_ctx c = {r, err};
    return kiln_query_walk(q, kiln__bind_one, &c);
}
