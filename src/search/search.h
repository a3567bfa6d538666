/* Search execution: a DSL query tree (src/dsl) compiled once per request into a plan, BM25
 * statistics gathered across all shards (the "dfs" phase, so scores do not depend on the shard
 * count), a query phase per shard over a point-in-time reader and the shard's live docs, and a
 * merge of the per-shard top-k.
 *
 *   kiln_plan *p = kiln_plan_build(q, mapping, analysis, now_ms, &err);
 *   kiln_search_stats *st = kiln_stats_new(p);
 *   for each shard: kiln_stats_gather(p, reader[i], st);          // dfs
 *   kiln_stats_finish(p, st);                                      // weights, once per query
 *   for each shard: kiln_search_execute(p, st, reader[i], live[i], &opts, &res[i], &err);
 *   kiln_search_merge(res, nshards, &opts, &merged);
 *
 * Plan order: within a conjunction, clauses run cheapest first (postings, then doc-value
 * filters, then costly per-document filters such as the future wasm_udf), so a costly filter
 * only sees candidates every cheaper clause accepted. */
#ifndef KILN_SEARCH_H
#define KILN_SEARCH_H

#include "dsl/query.h"
#include "search/sindex.h"

#include <roaring/roaring.h>

typedef struct kiln_plan kiln_plan;
typedef struct kiln_search_stats kiln_search_stats;

/* Compiles q against the mapping (borrowed for the plan's life) and analyzers (query text is
 * analyzed here, once). now_ms anchors date math. NULL + err (query_shard_exception, ...). */
struct kiln_udf_registry;
/* Resolves every UDF the query names (wasm_udf, script, script_score, function_score) in the
 * registry and binds its parameters, checked against their declared types: unknown UDFs,
 * missing required parameters and wrong types are 400 errors naming them. */
int kiln_search_bind_udfs(kiln_query *q, struct kiln_udf_registry *r, kiln_error *err);

kiln_plan *kiln_plan_build(const kiln_query *q, const kiln_mapping *m,
                           const kiln_analysis_registry *ar, int64_t now_ms, kiln_error *err);
void kiln_plan_free(kiln_plan *p);

kiln_search_stats *kiln_stats_new(const kiln_plan *p);
/* Adds one shard's statistics (df, doc count, sum of field lengths) of the plan's terms. */
void kiln_stats_gather(const kiln_plan *p, const kiln_sindex_reader *r, kiln_search_stats *st);
/* Computes idf and norm tables from the gathered statistics. Call once after gathering. */
void kiln_stats_finish(const kiln_plan *p, kiln_search_stats *st);
void kiln_stats_free(kiln_search_stats *st);

/* ---- sorting --------------------------------------------------------------------------- */

typedef enum { KILN_SORT_SCORE, KILN_SORT_DOC, KILN_SORT_FIELD } kiln_sort_by;
typedef enum { KILN_SMODE_DEFAULT, KILN_SMODE_MIN, KILN_SMODE_MAX, KILN_SMODE_SUM,
               KILN_SMODE_AVG, KILN_SMODE_MEDIAN } kiln_sort_mode;

typedef enum { KILN_SV_NULL, KILN_SV_I64, KILN_SV_F64, KILN_SV_STR } kiln_sv_type;

typedef struct kiln_sort_value {
    kiln_sv_type type;
    int64_t i;
    double d;
    const char *s; /* borrowed from the segment (valid while its reader is held) or owned by
                      the caller for search_after */
    size_t len;
} kiln_sort_value;

typedef struct kiln_sort_key {
    kiln_sort_by by;
    const char *field; /* KILN_SORT_FIELD; borrowed */
    int desc;
    int missing_first;           /* "_first"; default "_last" */
    const kiln_sort_value *missing_value; /* a value given as "missing", or NULL */
    kiln_sort_mode mode;
} kiln_sort_key;

typedef struct kiln_hit {
    uint32_t docnum;
    uint32_t shard; /* set by the caller (kiln_search_execute leaves opts->shard here) */
    float score;    /* NaN when scores were not computed (field sort without track_scores) */
    kiln_sort_value *sort; /* nsort values (owned by the result), NULL when sorting by score */
} kiln_hit;

/* Resolves an _id to the shard's current doc number; returns 0 if found. The shard owns _id. */
typedef int (*kiln_id_lookup_fn)(void *ctx, const char *id, uint32_t *docnum);

typedef struct kiln_search_opts {
    size_t k;                       /* hits to keep: from + size */
    const kiln_sort_key *sort;      /* NULL/0: by score desc */
    size_t nsort;
    const kiln_sort_value *after;   /* search_after: nsort values, or NULL */
    int64_t track_total_hits;       /* -1: exact; 0: don't count; n: count at least up to n */
    int track_scores;               /* compute scores even when sorting by field */
    float min_score;                /* hits below are dropped (0 disables when !has_min_score) */
    int has_min_score;
    uint32_t shard;
    kiln_id_lookup_fn id_lookup;
    void *id_ctx;
    int64_t deadline_ns;            /* CLOCK_MONOTONIC; 0 = none */
    int capture_udf_logs;           /* keep UDF log lines for the response ("udf_log": true) */
    void *udf_rt;                   /* internal: UDF sessions of one execution (udf_iter.c) */
} kiln_search_opts;

typedef struct kiln_search_result {
    kiln_hit *hits; /* best first */
    size_t nhits;
    size_t nsort;
    uint64_t total;
    int total_is_lower_bound; /* hits.total.relation "gte" */
    float max_score;          /* NaN if no hits or not scored */
    int timed_out;
    json_t *udf_logs;         /* UDF log lines when capture_udf_logs (owned), else NULL */
} kiln_search_result;

/* The query phase over one shard's reader. live (frozen at the reader's refresh) says which
 * docnums exist; NULL means all. res is overwritten. */
int kiln_search_execute(const kiln_plan *p, const kiln_search_stats *st,
                        const kiln_sindex_reader *r, const roaring_bitmap_t *live,
                        const kiln_search_opts *o, kiln_search_result *res, kiln_error *err);
/* Merges per-shard results (hits keep their shard) into out: best o->k overall, totals summed. */
void kiln_search_merge(kiln_search_result *shards, size_t n, const kiln_search_opts *o,
                       kiln_search_result *out);
void kiln_search_result_free(kiln_search_result *res);
/* Compares two hits by the sort keys (ties: shard, then docnum), <0 if a comes first. */
int kiln_hit_cmp(const kiln_hit *a, const kiln_hit *b, const kiln_sort_key *keys, size_t n);

#endif
