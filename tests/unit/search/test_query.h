/* The search tests' way to run a query given as JSON text through the whole search path
 * (parse, plan, index-wide statistics, execute) on a search index's current reader. */
#ifndef KILN_TEST_QUERY_H
#define KILN_TEST_QUERY_H

#include "../test.h"
#include "dsl/query.h"
#include "search/plan.h"

#include <jansson.h>

/* 0, or -1 if the query does not parse or plan, else what kiln_search_execute returned. */
static inline int run_query(kiln_sindex *si, kiln_mapping *m, const char *json,
                            kiln_search_opts *o, kiln_search_result *res)
{
    json_t *j = json_loads(json, 0, NULL);
    kiln_dsl_error de;
    kiln_query *q = j ? kiln_dsl_parse(j, "query", &de) : NULL;
    json_decref(j);
    kiln_error err;
    kiln_plan *p = q ? kiln_plan_build(q, m, NULL, 0, &err) : NULL;
    if (!p) {
        kiln_query_free(q);
        return -1;
    }
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    kiln_search_stats *st = kiln_stats_new(p);
    kiln_stats_gather(p, rd, st);
    kiln_stats_finish(p, st);
    int rc = kiln_search_execute(p, st, rd, NULL, o, res, &err);
    kiln_stats_free(st);
    kiln_sindex_reader_release(rd);
    kiln_plan_free(p);
    kiln_query_free(q);
    return rc;
}

/* A pruned top k (totals tracked to 10) against the exhaustive result of the same query: the
 * same first k hits, docs and scores bit for bit, and the total capped at 10 with its relation.
 * Returns how many hits differ (0 when they agree), for the caller's message; the checks count
 * in the test's failures either way. */
static inline int check_pruned_top(const kiln_search_result *pr, const kiln_search_result *full,
                                   size_t k)
{
    size_t want = full->nhits < k ? full->nhits : k;
    CHECK_INT(pr->nhits, want);
    int bad = 0;
    for (size_t h = 0; h < pr->nhits && h < want; h++)
        bad += pr->hits[h].docnum != full->hits[h].docnum ||
               pr->hits[h].score != full->hits[h].score;
    CHECK_INT(bad, 0);
    CHECK_INT(pr->total, full->total < 10 ? full->total : 10);
    CHECK_INT(pr->total_is_lower_bound, full->total > 10);
    return bad;
}

#endif
