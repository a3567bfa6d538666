/* Multi-shard search benchmark: the product catalogue (bench/datasets/products.js --format docs)
 * spread round-robin over S in-memory shard search indices, then each query (top 10, totals
 * tracked to 10,000, BM25 statistics summed over the shards first as a search does) run with
 * the shards one after the other on the calling thread (what Kiln did before) and in parallel
 * on the worker pool (src/core/workers, the calling thread helping).
 *
 *   bench_shards FILE [--docs N] [--shards S] [--runs N] [--threads T]
 *
 * Wall-clock p50/p99 per mode, and the process CPU time per query (all threads). */
#include "core/workers.h"
#include "dsl/query.h"
#include "search/search.h"
#include "search/searchInt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_common.h"

typedef struct kiln__q {
    kiln_plan *p;
    kiln_search_stats *st;
    kiln_sindex_reader **rd;
    kiln_search_opts o;
    kiln_search_result *res;
} kiln__q;

static void kiln__shard_task(void *ctx, size_t i)
{
    kiln__q *q = ctx;
    kiln_search_opts o = q->o;
    o.shard = (uint32_t)i;
    kiln_error err;
    kiln_search_execute(q->p, q->st, q->rd[i], NULL, &o, &q->res[i], &err);
}

static uint64_t kiln__one(kiln_sindex **si, size_t ns, kiln_mapping *m, json_t *j,
                          kiln_workers *w, const kiln_sort_key *sort, size_t nsort)
{
    kiln_dsl_error de;
    kiln_error err;
    kiln_query *query = kiln_dsl_parse(j, "query", &de);
    kiln__q q = {.p = kiln_plan_build(query, m, NULL, 0, &err)};
    q.st = kiln_stats_new(q.p);
    q.rd = calloc(ns, sizeof *q.rd);
    q.res = calloc(ns, sizeof *q.res);
    for (size_t i = 0; i < ns; i++) {
        q.rd[i] = kiln_sindex_reader_acquire(si[i]);
        kiln_stats_gather(q.p, q.rd[i], q.st);
    }
    kiln_stats_finish(q.p, q.st);
    q.o = (kiln_search_opts){.k = 10, .track_total_hits = 10000, .sort = sort, .nsort = nsort};
    kiln_workers_run(w, kiln__shard_task, &q, ns);
    kiln_search_result merged;
    kiln_search_merge(q.res, ns, &q.o, &merged);
    uint64_t total = merged.total;
    kiln_search_result_free(&merged);
    for (size_t i = 0; i < ns; i++) {
        kiln_search_result_free(&q.res[i]);
        kiln_sindex_reader_release(q.rd[i]);
    }
    free(q.rd);
    free(q.res);
    kiln_stats_free(q.st);
    kiln_plan_free(q.p);
    kiln_query_free(query);
    return total;
}

static void kiln__run(kiln_sindex **si, size_t ns, kiln_mapping *m, kiln_workers *w,
                      const char *label, const char *qjs, int runs, const kiln_sort_key *sort,
                      size_t nsort)
{
    json_t *j = json_loads(qjs, 0, NULL);
    double *lat = calloc((size_t)runs, sizeof *lat), *cpu = calloc((size_t)runs, sizeof *cpu);
    printf("| %s |", label);
    double all = 0, mine = 0; /* CPU of the whole process and of this thread, parallel mode */
    for (int mode = 0; mode < 2; mode++) {
        uint64_t total = 0;
        for (int r = 0; r < runs; r++) {
            double t0 = kiln__clock(CLOCK_MONOTONIC), c0 = kiln__clock(CLOCK_PROCESS_CPUTIME_ID);
            double m0 = kiln__clock(CLOCK_THREAD_CPUTIME_ID);
            total = kiln__one(si, ns, m, j, mode ? w : NULL, sort, nsort);
            lat[r] = (kiln__clock(CLOCK_MONOTONIC) - t0) * 1e3;
            cpu[r] = (kiln__clock(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3;
            if (mode) all += cpu[r], mine += (kiln__clock(CLOCK_THREAD_CPUTIME_ID) - m0) * 1e3;
        }
        qsort(lat, (size_t)runs, sizeof *lat, kiln__cmp_d);
        qsort(cpu, (size_t)runs, sizeof *cpu, kiln__cmp_d);
        if (!mode) printf(" %" PRIu64 " |", total);
        printf(" %.3f | %.3f | %.3f |", lat[runs / 2], lat[(runs * 99) / 100], cpu[runs / 2]);
    }
    printf(" %.0f%% |\n", all > 0 ? 100 * (1 - mine / all) : 0);
    fflush(stdout);
    free(lat);
    free(cpu);
    json_decref(j);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [--docs N] [--shards S] [--runs N] [--threads T]\n", argv[0]);
        return 2;
    }
    long max_docs = 1000000, runs = 100, ns = 4, threads = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--docs") && i + 1 < argc) max_docs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--shards") && i + 1 < argc) ns = atol(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atol(argv[++i]);
    }
    FILE *f = fopen(argv[1], "r");
    if (!f || ns < 1) {
        perror(argv[1]);
        return 1;
    }
    kiln_error err;
    json_t *mj = json_loads(kiln__mapping_json, 0, NULL);
    kiln_mapping *m = kiln_mapping_new(mj, &err);
    json_decref(mj);
    kiln_sindex **si = calloc((size_t)ns, sizeof *si);
    for (long s = 0; s < ns; s++) si[s] = kiln_sindex_open(NULL, &err);
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    ssize_t len;
    double t0 = kiln__clock(CLOCK_MONOTONIC);
    while (n < max_docs && (len = getline(&line, &cap, f)) > 0) {
        json_t *doc = json_loadb(line, (size_t)len, 0, NULL);
        if (!doc) continue;
        kiln_sindex_add(si[n % ns], (uint32_t)(n / ns), doc, m, NULL, &err);
        json_decref(doc);
        n++;
    }
    free(line);
    fclose(f);
    for (long s = 0; s < ns; s++) kiln_sindex_refresh(si[s], &err);
    kiln_workers *w = kiln_workers_new((unsigned)threads);
    printf("docs: %ld over %ld shards, loaded in %.1f s; pool of %u threads (+ the caller)\n\n", n,
           ns, kiln__clock(CLOCK_MONOTONIC) - t0, kiln_workers_count(w));

    /* the same query terms as bench_search: by df in description (shard 0) */
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si[0]);
    const kiln__sfield *desc = kiln__segment_field(kiln_reader_segment(rd, 0), "description");
    uint32_t best[3] = {0, 0, 0}; /* most frequent, second, ~200th by a partial pass */
    for (uint32_t i = 0; i < desc->nterms; i++) {
        if (kiln__term_df(desc, i) > kiln__term_df(desc, best[0])) best[1] = best[0], best[0] = i;
        else if (i != best[0] && kiln__term_df(desc, i) > kiln__term_df(desc, best[1])) best[1] = i;
    }
    uint32_t target = kiln__term_df(desc, best[0]) / 50, mid = 0;
    for (uint32_t i = 0; i < desc->nterms; i++)
        if (kiln__term_df(desc, i) >= target && kiln__term_df(desc, i) < kiln__term_df(desc, mid) + (mid ? 0 : ~0u))
            mid = i;
    char common[64], common2[64], medium[64];
    size_t l;
    const char *t = kiln__term_text(desc, best[0], &l);
    snprintf(common, sizeof common, "%.*s", (int)l, t);
    t = kiln__term_text(desc, best[1], &l);
    snprintf(common2, sizeof common2, "%.*s", (int)l, t);
    t = kiln__term_text(desc, mid, &l);
    snprintf(medium, sizeof medium, "%.*s", (int)l, t);
    kiln_sindex_reader_release(rd);
    printf("terms: common [%s], second [%s], medium [%s]\n\n", common, common2, medium);

    printf("| query (top 10, totals to 10,000) | hits | sequential p50 ms | p99 ms | CPU ms | "
           "parallel p50 ms | p99 ms | CPU ms | CPU on workers |\n|---|---|---|---|---|---|---|---|---|\n");
    char q[512];
    snprintf(q, sizeof q, "{\"match\":{\"description\":\"%s\"}}", common);
    kiln__run(si, (size_t)ns, m, w, "term, common", q, (int)runs, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"description\":{\"query\":\"%s %s\",\"operator\":\"and\"}}}",
             common, medium);
    kiln__run(si, (size_t)ns, m, w, "AND, common + medium", q, (int)runs, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"description\":\"%s %s\"}}", common, medium);
    kiln__run(si, (size_t)ns, m, w, "OR, common + medium", q, (int)runs, NULL, 0);
    snprintf(q, sizeof q, "{\"match_phrase\":{\"description\":\"%s %s\"}}", common, common2);
    kiln__run(si, (size_t)ns, m, w, "phrase, two common", q, (int)runs, NULL, 0);
    snprintf(q, sizeof q,
             "{\"bool\":{\"must\":{\"match\":{\"description\":\"%s\"}},\"filter\":["
             "{\"range\":{\"price\":{\"gte\":100,\"lte\":200}}},{\"term\":{\"category\":\"books\"}}]}}",
             medium);
    kiln__run(si, (size_t)ns, m, w, "term + price range + category", q, (int)runs, NULL, 0);
    kiln_sort_key price = {.by = KILN_SORT_FIELD, .field = "price", .desc = 1};
    kiln__run(si, (size_t)ns, m, w, "match_all, sort by price desc", "{\"match_all\":{}}",
              (int)(runs / 5 + 1), &price, 1);
    kiln_workers_free(w);
    for (long s = 0; s < ns; s++) kiln_sindex_close(si[s]);
    free(si);
    kiln_mapping_unref(m);
    return 0;
}
