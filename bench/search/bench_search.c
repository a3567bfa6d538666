/* In-process search benchmark: indexes the synthetic product catalogue (NDJSON, one document
 * per line, from bench/datasets/products.js --format docs) into one shard's search index, then
 * measures query latency p50/p99 for term (common, medium, rare), two-term AND and OR, phrase,
 * term + range + keyword filter, and sort by a numeric field, top-10.
 *
 *   bench_search FILE [--docs N] [--segment-docs N] [--runs N] [--exact-totals]
 *
 * Indexing is timed without JSON parsing (reported separately). Queries go through the whole
 * search path: DSL parse, plan, statistics, execution, top-k. */
#include "dsl/query.h"
#include "search/search.h"
#include "search/searchInt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_common.h"

static double kiln__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double kiln__cpu(void)
{
    return kiln__clock(CLOCK_THREAD_CPUTIME_ID);
}

typedef struct kiln__tdf {
    const char *t;
    size_t len;
    uint32_t df;
} kiln__tdf;

static int kiln__cmp_df(const void *a, const void *b)
{
    const kiln__tdf *x = a, *y = b;
    return (x->df < y->df) - (x->df > y->df);
}

static void kiln__run(kiln_sindex *si, kiln_mapping *m, const char *label, const char *qjs,
                      int runs, int exact, const kiln_sort_key *sort, size_t nsort)
{
    json_error_t je;
    json_t *j = json_loads(qjs, 0, &je);
    double *lat = calloc((size_t)runs, sizeof *lat), *cpu = calloc((size_t)runs, sizeof *cpu);
    uint64_t total = 0;
    int lb = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = kiln__now(), c0 = kiln__cpu();
        kiln_dsl_error de;
        kiln_error err;
        kiln_query *q = kiln_dsl_parse(j, "query", &de);
        kiln_plan *p = q ? kiln_plan_build(q, m, NULL, 0, &err) : NULL;
        if (!p) {
            fprintf(stderr, "%s: %s\n", label, q ? err.reason : de.err.reason);
            exit(1);
        }
        kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
        kiln_search_stats *st = kiln_stats_new(p);
        kiln_stats_gather(p, rd, st);
        kiln_stats_finish(p, st);
        kiln_search_opts o = {.k = 10, .track_total_hits = exact ? -1 : 10000, .sort = sort,
                              .nsort = nsort};
        kiln_search_result res;
        kiln_search_execute(p, st, rd, NULL, &o, &res, &err);
        total = res.total;
        lb = res.total_is_lower_bound;
        kiln_search_result_free(&res);
        kiln_stats_free(st);
        kiln_plan_free(p);
        kiln_query_free(q);
        kiln_sindex_reader_release(rd);
        lat[r] = (kiln__now() - t0) * 1e3;
        cpu[r] = (kiln__cpu() - c0) * 1e3;
    }
    qsort(lat, (size_t)runs, sizeof *lat, kiln__cmp_d);
    qsort(cpu, (size_t)runs, sizeof *cpu, kiln__cmp_d);
    printf("| %s | %" PRIu64 "%s | %.3f | %.3f | %.3f | %.3f |\n", label, total, lb ? "+" : "",
           lat[runs / 2], lat[(runs * 99) / 100], cpu[runs / 2], cpu[(runs * 99) / 100]);
    free(lat);
    free(cpu);
    json_decref(j);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [--docs N] [--segment-docs N] [--runs N] [--exact-totals]\n",
                argv[0]);
        return 2;
    }
    long max_docs = 1000000, seg_docs = 0, runs = 200;
    int exact = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--docs") && i + 1 < argc) max_docs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--segment-docs") && i + 1 < argc) seg_docs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--exact-totals")) exact = 1;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    kiln_error err;
    json_t *mj = json_loads(kiln__mapping_json, 0, NULL);
    kiln_mapping *m = kiln_mapping_new(mj, &err);
    json_decref(mj);
    kiln_sindex *si = kiln_sindex_open(NULL, &err);

    /* parse everything first so indexing is timed alone */
    json_t **docs = malloc((size_t)max_docs * sizeof *docs);
    char *line = NULL;
    size_t cap = 0, bytes = 0;
    long n = 0;
    double t0 = kiln__now();
    ssize_t len;
    while (n < max_docs && (len = getline(&line, &cap, f)) > 0) {
        docs[n] = json_loadb(line, (size_t)len, 0, NULL);
        if (!docs[n]) continue;
        bytes += (size_t)len;
        n++;
    }
    double t_parse = kiln__now() - t0;
    free(line);
    fclose(f);

    double t_seal = 0;
    t0 = kiln__now();
    double c0 = kiln__cpu();
    for (long i = 0; i < n; i++) {
        if (kiln_sindex_add(si, (uint32_t)i, docs[i], m, NULL, &err)) {
            fprintf(stderr, "doc %ld: %s\n", i, err.reason);
            return 1;
        }
        if (seg_docs && (i + 1) % seg_docs == 0) {
            double s0 = kiln__now();
            kiln_sindex_refresh(si, &err);
            t_seal += kiln__now() - s0;
        }
    }
    double s0 = kiln__now();
    kiln_sindex_refresh(si, &err);
    t_seal += kiln__now() - s0;
    double t_index = kiln__now() - t0, c_index = kiln__cpu() - c0;
    for (long i = 0; i < n; i++) json_decref(docs[i]);
    free(docs);

    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    size_t mem = 0;
    for (size_t i = 0; i < kiln_reader_nsegments(rd); i++) {
        const kiln_segment *s = kiln_reader_segment(rd, i);
        mem += s->post_len + s->pos_len + s->nskips * sizeof(kiln__skip);
        for (uint32_t k = 0; k < s->nfields; k++) {
            const kiln__sfield *sf = &s->fields[k];
            if (!sf->path) continue;
            mem += sf->nterms * sizeof(kiln__sterm) + (sf->norms ? s->ndocs : 0) +
                   (s->ndocs + 1) * 4;
            if (sf->dv_i64 || sf->dv_f64) mem += sf->dv_off[s->ndocs] * 8;
            if (sf->dv_ord) mem += sf->dv_off[s->ndocs] * 4;
            if (sf->dv_str_off) mem += sf->dv_str_off[sf->dv_off[s->ndocs]];
        }
    }
    printf("docs: %ld (%.1f MB JSON), parse %.2f s, index %.2f s wall = %.0f docs/s, %.1f MB/s "
           "(of which refresh/seal %.2f s); index CPU %.2f s = %.0f docs/s, %.1f us/doc; "
           "segments %zu, index memory %.1f MB\n\n",
           n, bytes / 1e6, t_parse, t_index, n / t_index, bytes / 1e6 / t_index, t_seal, c_index,
           n / c_index, c_index * 1e6 / n, kiln_reader_nsegments(rd), mem / 1e6);

    /* query terms by document frequency in description (first segment is representative) */
    const kiln__sfield *desc = kiln__segment_field(kiln_reader_segment(rd, 0), "description");
    kiln__tdf *tv = malloc(desc->nterms * sizeof *tv);
    for (uint32_t i = 0; i < desc->nterms; i++) {
        tv[i].t = kiln__term_text(desc, i, &tv[i].len);
        tv[i].df = desc->terms[i].df;
    }
    qsort(tv, desc->nterms, sizeof *tv, kiln__cmp_df);
    char common[64], common2[64], medium[64], rare[64];
    snprintf(common, sizeof common, "%.*s", (int)tv[0].len, tv[0].t);
    snprintf(common2, sizeof common2, "%.*s", (int)tv[1].len, tv[1].t);
    snprintf(medium, sizeof medium, "%.*s", (int)tv[200].len, tv[200].t);
    uint32_t i_rare = 0; /* the first term at or below df 100, else the rarest */
    while (i_rare + 1 < desc->nterms && tv[i_rare].df > 100) i_rare++;
    snprintf(rare, sizeof rare, "%.*s", (int)tv[i_rare].len, tv[i_rare].t);
    printf("terms: common [%s] df %u, second [%s] df %u, medium [%s] df %u, rare [%s] df %u\n\n",
           common, tv[0].df, common2, tv[1].df, medium, tv[200].df, rare, tv[i_rare].df);
    free(tv);
    kiln_sindex_reader_release(rd);

    printf("| query (top 10%s) | hits | p50 ms | p99 ms | p50 CPU ms | p99 CPU ms |\n"
           "|---|---|---|---|---|---|\n",
           exact ? ", exact totals" : ", totals tracked to 10,000");
    char q[512];
    snprintf(q, sizeof q, "{\"match\":{\"description\":\"%s\"}}", common);
    kiln__run(si, m, "term, common", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"description\":\"%s\"}}", medium);
    kiln__run(si, m, "term, medium", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"description\":\"%s\"}}", rare);
    kiln__run(si, m, "term, rare", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"description\":{\"query\":\"%s %s\",\"operator\":\"and\"}}}",
             common, medium);
    kiln__run(si, m, "AND, common + medium", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"description\":{\"query\":\"%s %s\",\"operator\":\"and\"}}}",
             common, common2);
    kiln__run(si, m, "AND, two common", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"description\":\"%s %s\"}}", common, medium);
    kiln__run(si, m, "OR, common + medium", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match_phrase\":{\"description\":\"%s %s\"}}", common, common2);
    kiln__run(si, m, "phrase, two common", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q,
             "{\"bool\":{\"must\":{\"match\":{\"description\":\"%s\"}},\"filter\":["
             "{\"range\":{\"price\":{\"gte\":100,\"lte\":200}}},{\"term\":{\"category\":\"books\"}}]}}",
             medium);
    kiln__run(si, m, "term + price range + category", q, (int)runs, exact, NULL, 0);
    kiln_sort_key price = {.by = KILN_SORT_FIELD, .field = "price", .desc = 1};
    snprintf(q, sizeof q, "{\"match\":{\"description\":\"%s\"}}", medium);
    kiln__run(si, m, "term, sort by price desc", q, (int)runs, exact, &price, 1);
    kiln__run(si, m, "match_all, sort by price desc", "{\"match_all\":{}}", (int)(runs / 10 + 1),
              exact, &price, 1);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
    return 0;
}
