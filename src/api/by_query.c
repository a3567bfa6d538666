/* POST /{index}/_delete_by_query: deletes every document a query matches, as Elasticsearch
 * does it: a point-in-time view of each shard (a searcher held for the whole request, as a
 * scroll would be) read in batches of scroll_size docs in doc order, each document deleted with
 * the seq_no it had in that view, so a document changed or deleted since then is a version
 * conflict (counted; the request stops at the first one unless conflicts=proceed). Deletes are
 * fsynced before the response; ?refresh makes them visible at once. Synchronous only. */
#include "api/api_int.h"
#include "core/buf.h"
#include "dsl/query.h"
#include "search/search.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct kiln__dbq {
    int proceed;        /* conflicts=proceed */
    int64_t max_docs;   /* -1: all */
    int64_t batch;      /* scroll_size */
    uint64_t total, deleted, conflicts, batches;
    json_t *failures;
} kiln__dbq;

/* Deletes one batch's hits from shard s; -1 with err on a storage error. *stop when the request
 * has to end (a conflict without proceed, or max_docs reached). */
static int kiln__delete_hits(kiln__dbq *d, kiln_index *idx, unsigned s, const kiln_hit *hits,
                             size_t n, uint64_t *lsn, int *stop, kiln_error *err)
{
    kiln_shard *sh = idx->shards[s];
    kiln_buf id = KILN_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && !*stop; i++) {
        kiln_doc_meta seen;
        kiln_buf_reset(&id);
        if (kiln_shard_doc_at(sh, hits[i].docnum, &seen, &id, NULL)) continue;
        d->total++;
        kiln_write_opts o = KILN_WRITE_OPTS_INIT;
        o.if_seq_no = seen.seq_no; /* changed or gone since the view: a conflict, as in ES */
        o.if_primary_term = seen.primary_term;
        kiln_doc_meta meta;
        kiln_result res;
        uint64_t at = 0;
        kiln_error e;
        kiln_error_clear(&e);
        if (kiln_shard_delete(sh, id.data, id.len, &o, &meta, &res, &at, &e) == 0) {
            d->deleted++;
            if (at > *lsn) *lsn = at;
        } else if (e.code == KILN_E_VERSION_CONFLICT) {
            d->conflicts++;
            if (!d->proceed) {
                json_array_append_new(
                    d->failures,
                    json_pack("{s:s,s:s%,s:{s:s,s:s,s:s},s:i}", "index", idx->name, "id",
                              id.data, id.len, "cause", "type", kiln_code_type(e.code), "reason",
                              e.reason, "index", idx->name, "status", 409));
                *stop = 1;
            }
        } else {
            *err = e;
            rc = -1;
            break;
        }
        if (d->max_docs >= 0 && (int64_t)d->deleted >= d->max_docs) *stop = 1; /* as ES */
    }
    kiln_buf_free(&id);
    return rc;
}

/* Runs the plan over one shard's view in batches of hits in doc order. */
static int kiln__delete_shard(kiln__dbq *d, kiln_index *idx, unsigned s, const kiln_plan *p,
                              const kiln_search_stats *st, kiln_shard_searcher *sr, int *stop,
                              kiln_error *err)
{
    kiln_sort_key by_doc = {.by = KILN_SORT_DOC};
    kiln_sort_value after = {.type = KILN_SV_I64};
    uint64_t lsn = 0;
    int rc = 0, first = 1;
    while (!*stop && rc == 0) {
        kiln_search_opts o = {.k = (size_t)d->batch, .sort = &by_doc, .nsort = 1,
                              .after = first ? NULL : &after, .track_total_hits = 0,
                              .id_ctx = idx->shards[s]};
        kiln_search_result res;
        if (kiln_search_execute(p, st, sr->reader, sr->live, &o, &res, err)) return -1;
        if (res.nhits) {
            d->batches++;
            rc = kiln__delete_hits(d, idx, s, res.hits, res.nhits, &lsn, stop, err);
            after.i = res.hits[res.nhits - 1].docnum;
        }
        size_t got = res.nhits;
        kiln_search_result_free(&res);
        if (got < (size_t)d->batch) break;
        first = 0;
    }
    if (lsn && kiln_index_sync(idx, s, lsn, err)) rc = -1; /* durable before the answer */
    return rc;
}

/* One index: the query planned against its mapping, statistics from all its shards' views. */
static int kiln__delete_index(kiln__dbq *d, kiln_index *idx, const kiln_query *q, int *stop,
                              kiln_error *err)
{
    if (kiln_index_blocked(idx, KILN_OP_CLASS_DELETE, err)) return -1;
    kiln_mapping *m = kiln_index_mapping(idx);
    kiln_plan *p = kiln_plan_build(q, m, idx->analysis, kiln_wall_ms(), err); /* date math "now" */
    kiln_mapping_unref(m);
    if (!p) return -1;
    kiln_search_stats *st = kiln_stats_new(p);
    kiln_shard_searcher **sr = kiln_xcalloc(idx->nshards, sizeof *sr);
    int64_t every = kiln_node_refresh_interval(idx);
    for (unsigned s = 0; s < idx->nshards; s++) {
        sr[s] = kiln_shard_searcher_acquire(idx->shards[s], every);
        if (sr[s]) kiln_stats_gather(p, sr[s]->reader, st);
    }
    kiln_stats_finish(p, st);
    int rc = 0;
    for (unsigned s = 0; s < idx->nshards && rc == 0 && !*stop; s++)
        if (sr[s]) rc = kiln__delete_shard(d, idx, s, p, st, sr[s], stop, err);
    for (unsigned s = 0; s < idx->nshards; s++)
        if (sr[s]) kiln_shard_searcher_release(sr[s]);
    free(sr);
    kiln_stats_free(st);
    kiln_plan_free(p);
    if (rc) kiln_error_set_index(err, idx->name);
    return rc;
}

static int kiln__bad_param(kiln_resp *resp, const char *what)
{
    return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT, "%s", what);
}

static int kiln__delete_by_query(kiln_req *req, kiln_resp *resp)
{
    int64_t t0 = kiln_mono_ms();
    kiln__dbq d = {.max_docs = -1};
    const char *conflicts = kiln_req_query(req, "conflicts");
    if (conflicts && strcmp(conflicts, "abort") && strcmp(conflicts, "proceed"))
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "conflicts may only be \"proceed\" or \"abort\" but was [%s]",
                              conflicts);
    d.proceed = conflicts && !strcmp(conflicts, "proceed");
    if (kiln_req_query_bool(req, "wait_for_completion", 1) == 0)
        return kiln__bad_param(resp, "wait_for_completion=false is not supported: Kiln runs "
                                     "_delete_by_query to completion within the request (no "
                                     "tasks API)");
    const char *slices = kiln_req_query(req, "slices");
    if (slices && strcmp(slices, "1") && strcmp(slices, "auto"))
        return kiln__bad_param(resp, "slices other than 1 or auto are not supported: each shard "
                                     "is one slice already");
    if (kiln__query_i64(req, resp, "scroll_size", 1000, &d.batch) ||
        kiln__query_i64(req, resp, "max_docs", -1, &d.max_docs) || kiln__refresh_check(req, resp))
        return 0;
    if (d.batch < 1 || d.batch > 10000)
        return kiln__bad_param(resp, "scroll_size must be between 1 and 10000");
    int ok;
    json_t *body = kiln__body_json(req, resp, &ok);
    if (!ok) return 0;
    json_t *qj = json_object_get(body, "query");
    json_t *md = json_object_get(body, "max_docs");
    if (md && (!json_is_integer(md) || json_integer_value(md) < 1)) {
        json_decref(body);
        return kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                              "Validation Failed: 1: maxDocs should be greater than 0;");
    }
    if (md) d.max_docs = json_integer_value(md);
    if (!qj) {
        json_decref(body);
        return kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                              "Validation Failed: 1: query is missing;");
    }
    kiln_dsl_error de;
    kiln_query *q = kiln_dsl_parse(qj, "query", &de);
    json_decref(body);
    kiln_error err;
    kiln_error_clear(&err);
    if (!q) return kiln__dsl_fail(resp, &de);
    if (kiln_search_bind_udfs(q, kiln__udfs, &err)) {
        kiln_query_free(q);
        return kiln__reply(resp, &err);
    }
    kiln_index **list;
    size_t n;
    if (kiln__resolve_indices(req, resp, &list, &n)) {
        kiln_query_free(q);
        return 0;
    }
    d.failures = json_array();
    int rc = 0, stop = 0;
    for (size_t i = 0; i < n && rc == 0 && !stop; i++) rc = kiln__delete_index(&d, list[i], q, &stop, &err);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (kiln__refresh_param(req, resp, list[i]) < 0) rc = 1; /* answered */
    kiln_node_release(list, n);
    kiln_query_free(q);
    if (rc) {
        json_decref(d.failures);
        return rc < 0 ? kiln__reply(resp, &err) : 0;
    }
    json_t *out = json_pack(
        "{s:I,s:b,s:I,s:I,s:I,s:I,s:i,s:{s:i,s:i},s:i,s:f,s:i,s:o}", "took",
        (json_int_t)(kiln_mono_ms() - t0), "timed_out", 0, "total", (json_int_t)d.total,
        "deleted", (json_int_t)d.deleted, "batches", (json_int_t)d.batches, "version_conflicts",
        (json_int_t)d.conflicts, "noops", 0, "retries", "bulk", 0, "search", 0,
        "throttled_millis", 0, "requests_per_second", -1.0, "throttled_until_millis", 0,
        "failures", d.failures);
    return kiln__reply_json(resp, json_array_size(d.failures) ? 409 : 200, out);
}

static const kiln_route kiln__routes[] = {
    {KILN_POST, "/{index}/_delete_by_query", kiln__delete_by_query},
};

const kiln_route *kiln__routes_by_query(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
