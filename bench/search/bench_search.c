/* In-process search benchmark: indexes a corpus (NDJSON, one document per line) into one
 * shard's search index with an explicit mapping, then measures query latency p50/p99 (wall and
 * thread CPU) for term (common, medium, rare), two-term AND and OR, phrase, term + range +
 * keyword filter, and sort by a numeric field, top-10. Query terms are picked by document
 * frequency in the corpus's main text field, so the same code path serves every corpus:
 *   --dataset products  bench/datasets/products.js --format docs (the default)
 *   --dataset debian    bench/datasets/debian.js --format docs
 *
 *   bench_search FILE [--dataset products|debian] [--docs N] [--segment-docs N] [--runs N]
 *                     [--exact-totals] [--index-dir DIR] [--merge M] [--only LABEL] [--hits]
 *
 * Indexing is timed without JSON parsing (reported separately). Queries go through the whole
 * search path: DSL parse, plan, statistics, execution, top-k.
 * --index-dir DIR commits the index there, and a later run with the same DIR reuses it
 * (memory-mapped) instead of indexing again: quick re-runs while profiling.
 * --merge M measures refresh and merge cost instead of queries: documents are refreshed every
 * --segment-docs N (each refresh timed; no policy merges), then the first M segments are
 * merged into one (CPU time and MB/s of segment bytes in and out).
 * --only LABEL runs only the queries whose label contains LABEL (for profiles).
 * --hits prints each query's hits (doc:score, the score in hex float) under its row, to check
 * that a change to the query path keeps results bit for bit. */
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

static const char *kiln__only; /* --only SUBSTRING: run the queries whose label contains it */
static int kiln__hits;         /* --hits: print each query's hits (doc, score) after its row */

static void kiln__run(kiln_sindex *si, kiln_mapping *m, const char *label, const char *qjs,
                      int runs, int exact, const kiln_sort_key *sort, size_t nsort)
{
    if (kiln__only && !strstr(label, kiln__only)) return;
    json_error_t je;
    json_t *j = json_loads(qjs, 0, &je);
    double *lat = calloc((size_t)runs, sizeof *lat), *cpu = calloc((size_t)runs, sizeof *cpu);
    uint64_t total = 0;
    int lb = 0;
    char hits[1024] = "";
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
        if (kiln__hits && r == 0) /* bit-exact scores: %a */
            for (size_t h = 0, n = 0; h < res.nhits && n < sizeof hits; h++)
                n += (size_t)snprintf(hits + n, sizeof hits - n, " %u:%a", res.hits[h].docnum,
                                      (double)res.hits[h].score);
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
    if (kiln__hits) printf("hits:%s\n", hits);
    free(lat);
    free(cpu);
    json_decref(j);
}

/* What a corpus needs besides its documents: mapping, the text field whose document
 * frequencies pick the query terms, a keyword filter, a numeric range and a numeric sort. */
typedef struct kiln__dataset {
    const char *name;
    const char *const *mapping;
    const char *text, *kw_field, *kw_value, *num_field;
    double num_lo, num_hi;
} kiln__dataset;

static const kiln__dataset kiln__datasets[] = {
    {"products", &kiln__mapping_json, "description", "category", "books", "price", 100, 200},
    {"debian", &kiln__debian_mapping_json, "description", "section", "doc", "installed_size",
     100, 1000},
};

/* Bytes a segment holds in memory (postings, positions, skips, terms, norms, doc values). */
static size_t kiln__seg_bytes(const kiln_segment *s)
{
    size_t mem = s->post_len + s->pos_len + s->nskips * sizeof(kiln__skip);
    for (uint32_t k = 0; k < s->nfields; k++) {
        const kiln__sfield *sf = &s->fields[k];
        if (!sf->path) continue;
        mem += (sf->nterms ? (sf->nterms + 1) * 4 + kiln__tdict_meta_bytes(sf) : 0) + (sf->norms ? s->ndocs : 0) + (s->ndocs + 1) * 4;
        if (sf->dv_i64 || sf->dv_f64) mem += sf->dv_off[s->ndocs] * 8;
        if (sf->dv_ord) mem += sf->dv_off[s->ndocs] * 4;
        if (sf->dv_str_off) mem += sf->dv_str_off[sf->dv_off[s->ndocs]];
    }
    return mem;
}

/* --merge: refreshes were timed while indexing; now merge the first m segments into one. */
static void kiln__merge_report(kiln_sindex *si, long m, const double *rw, const double *rc,
                               long nref, long seg_docs)
{
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    size_t n = kiln_reader_nsegments(rd);
    if ((size_t)m > n) m = (long)n;
    qsort((double *)rw, (size_t)nref, sizeof *rw, kiln__cmp_d);
    qsort((double *)rc, (size_t)nref, sizeof *rc, kiln__cmp_d);
    printf("refresh of %ld docs (%ld refreshes): p50 %.1f ms wall, %.1f ms CPU; max %.1f ms "
           "wall, %.1f ms CPU\n",
           seg_docs, nref, rw[nref / 2] * 1e3, rc[nref / 2] * 1e3, rw[nref - 1] * 1e3,
           rc[nref - 1] * 1e3);
    kiln_segment **in = malloc((size_t)(m + 1) * sizeof *in);
    size_t bin = 0;
    uint32_t docs = 0;
    for (long i = 0; i < m; i++) {
        in[i] = (kiln_segment *)kiln_reader_segment(rd, (size_t)i);
        bin += kiln__seg_bytes(in[i]);
        docs += kiln_segment_ndocs(in[i]);
    }
    double t0 = kiln__now(), c0 = kiln__cpu();
    kiln_segment *out = kiln__merge(in, (size_t)m);
    double tw = kiln__now() - t0, tc = kiln__cpu() - c0;
    size_t bout = kiln__seg_bytes(out);
    printf("merge of %ld segments (%u docs, %.1f MB in, %.1f MB out): %.2f s wall, %.2f s CPU "
           "= %.1f MB/s in per CPU second, %.0f docs/s\n",
           m, docs, bin / 1e6, bout / 1e6, tw, tc, bin / 1e6 / tc, docs / tc);
    kiln__segment_unref(out);
    free(in);
    kiln_sindex_reader_release(rd);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: %s FILE [--dataset products|debian] [--docs N] [--segment-docs N] "
                "[--runs N] [--exact-totals] [--index-dir DIR] [--merge M] [--only LABEL] [--hits]\n",
                argv[0]);
        return 2;
    }
    long max_docs = 1000000, seg_docs = 0, runs = 200, merge = 0;
    int exact = 0;
    const char *dir = NULL;
    const kiln__dataset *ds = &kiln__datasets[0];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--docs") && i + 1 < argc) max_docs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--segment-docs") && i + 1 < argc) seg_docs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--exact-totals")) exact = 1;
        else if (!strcmp(argv[i], "--index-dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--merge") && i + 1 < argc) merge = atol(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) kiln__only = argv[++i];
        else if (!strcmp(argv[i], "--hits")) kiln__hits = 1;
        else if (!strcmp(argv[i], "--dataset") && i + 1 < argc) {
            const char *name = argv[++i];
            ds = NULL;
            for (size_t k = 0; k < sizeof kiln__datasets / sizeof *kiln__datasets; k++)
                if (!strcmp(kiln__datasets[k].name, name)) ds = &kiln__datasets[k];
            if (!ds) {
                fprintf(stderr, "unknown dataset %s (products, debian)\n", name);
                return 2;
            }
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (merge && (!seg_docs || dir)) {
        fprintf(stderr, "--merge needs --segment-docs and no --index-dir\n");
        return 2;
    }
    kiln_error err;
    json_t *mj = json_loads(*ds->mapping, 0, NULL);
    kiln_mapping *m = kiln_mapping_new(mj, &err);
    json_decref(mj);
    kiln_sindex *si = kiln_sindex_open(dir, &err);
    if (!si) {
        fprintf(stderr, "%s: %s\n", dir, err.reason);
        return 1;
    }
    long n = 0;
    if (dir && kiln_sindex_committed_upto(si)) {
        n = kiln_sindex_committed_upto(si);
        printf("docs: %ld, reused from %s (delete it to index again)\n", n, dir);
    } else {
        FILE *f = fopen(argv[1], "r");
        if (!f) {
            perror(argv[1]);
            return 1;
        }
        /* parse everything first so indexing is timed alone */
        json_t **docs = malloc((size_t)max_docs * sizeof *docs);
        char *line = NULL;
        size_t cap = 0, bytes = 0;
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

        long nref = 0;
        double *rw = calloc((size_t)(seg_docs ? n / seg_docs + 2 : 2), sizeof *rw);
        double *rc = calloc((size_t)(seg_docs ? n / seg_docs + 2 : 2), sizeof *rc);
        double t_seal = 0;
        t0 = kiln__now();
        double c0 = kiln__cpu();
        for (long i = 0; i < n; i++) {
            if (kiln_sindex_add(si, (uint32_t)i, docs[i], m, NULL, &err)) {
                fprintf(stderr, "doc %ld: %s\n", i, err.reason);
                return 1;
            }
            if (seg_docs && (i + 1) % seg_docs == 0) {
                double s0 = kiln__now(), sc = kiln__cpu();
                if (merge) { /* a refresh alone: no policy merge */
                    kiln_sindex_freeze(si);
                    kiln_sindex_publish(si, &err);
                } else
                    kiln_sindex_refresh(si, &err);
                rw[nref] = kiln__now() - s0;
                rc[nref++] = kiln__cpu() - sc;
                t_seal += rw[nref - 1];
            }
        }
        double s0 = kiln__now();
        if (merge) {
            kiln_sindex_freeze(si);
            kiln_sindex_publish(si, &err);
        } else
            kiln_sindex_refresh(si, &err);
        t_seal += kiln__now() - s0;
        double t_index = kiln__now() - t0, c_index = kiln__cpu() - c0;
        for (long i = 0; i < n; i++) json_decref(docs[i]);
        free(docs);
        if (dir && kiln_sindex_commit(si, &err)) {
            fprintf(stderr, "commit: %s\n", err.reason);
            return 1;
        }
        printf("docs: %ld (%.1f MB JSON), parse %.2f s, index %.2f s wall = %.0f docs/s, %.1f "
               "MB/s (of which refresh/seal %.2f s); index CPU %.2f s = %.0f docs/s, %.1f "
               "us/doc\n",
               n, bytes / 1e6, t_parse, t_index, n / t_index, bytes / 1e6 / t_index, t_seal,
               c_index, n / c_index, c_index * 1e6 / n);
        if (merge) {
            kiln__merge_report(si, merge, rw, rc, nref, seg_docs);
            free(rw);
            free(rc);
            kiln_sindex_close(si);
            kiln_mapping_unref(m);
            return 0;
        }
        free(rw);
        free(rc);
    }

    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    size_t mem = 0;
    for (size_t i = 0; i < kiln_reader_nsegments(rd); i++)
        mem += kiln__seg_bytes(kiln_reader_segment(rd, i));
    printf("dataset %s: segments %zu, index memory %.1f MB\n\n", ds->name,
           kiln_reader_nsegments(rd), mem / 1e6);

    /* query terms by document frequency in the text field (first segment is representative) */
    const kiln__sfield *desc = kiln__segment_field(kiln_reader_segment(rd, 0), ds->text);
    kiln__tdf *tv = malloc(desc->nterms * sizeof *tv);
    for (uint32_t i = 0; i < desc->nterms; i++) {
        tv[i].t = kiln__term_text(desc, i, &tv[i].len);
        tv[i].df = kiln__term_df(desc, i);
    }
    qsort(tv, desc->nterms, sizeof *tv, kiln__cmp_df);
    char common[64], common2[64], medium[64], rare[64];
    uint32_t i_med = desc->nterms > 200 ? 200 : desc->nterms / 2;
    snprintf(common, sizeof common, "%.*s", (int)tv[0].len, tv[0].t);
    snprintf(common2, sizeof common2, "%.*s", (int)tv[1].len, tv[1].t);
    snprintf(medium, sizeof medium, "%.*s", (int)tv[i_med].len, tv[i_med].t);
    uint32_t i_rare = 0; /* the first term at or below df 100, else the rarest */
    while (i_rare + 1 < desc->nterms && tv[i_rare].df > 100) i_rare++;
    snprintf(rare, sizeof rare, "%.*s", (int)tv[i_rare].len, tv[i_rare].t);
    printf("terms of %s: common [%s] df %u, second [%s] df %u, medium [%s] df %u, rare [%s] df "
           "%u\n\n",
           ds->text, common, tv[0].df, common2, tv[1].df, medium, tv[i_med].df, rare,
           tv[i_rare].df);
    free(tv);
    kiln_sindex_reader_release(rd);

    printf("| query (top 10%s) | hits | p50 ms | p99 ms | p50 CPU ms | p99 CPU ms |\n"
           "|---|---|---|---|---|---|\n",
           exact ? ", exact totals" : ", totals tracked to 10,000");
    const char *tf = ds->text;
    char q[768];
    snprintf(q, sizeof q, "{\"match\":{\"%s\":\"%s\"}}", tf, common);
    kiln__run(si, m, "term, common", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"%s\":\"%s\"}}", tf, medium);
    kiln__run(si, m, "term, medium", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"%s\":\"%s\"}}", tf, rare);
    kiln__run(si, m, "term, rare", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"%s\":{\"query\":\"%s %s\",\"operator\":\"and\"}}}", tf,
             common, medium);
    kiln__run(si, m, "AND, common + medium", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"%s\":{\"query\":\"%s %s\",\"operator\":\"and\"}}}", tf,
             common, common2);
    kiln__run(si, m, "AND, two common", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match\":{\"%s\":\"%s %s\"}}", tf, common, medium);
    kiln__run(si, m, "OR, common + medium", q, (int)runs, exact, NULL, 0);
    snprintf(q, sizeof q, "{\"match_phrase\":{\"%s\":\"%s %s\"}}", tf, common, common2);
    kiln__run(si, m, "phrase, two common", q, (int)runs, exact, NULL, 0);
    /* fuzziness AUTO: the candidates come from a bounded edit-distance scan of the dictionary */
    snprintf(q, sizeof q, "{\"match\":{\"%s\":{\"query\":\"%s\",\"fuzziness\":\"AUTO\"}}}", tf,
             medium);
    kiln__run(si, m, "term, medium, fuzziness AUTO", q, (int)runs, exact, NULL, 0);
    char label[128];
    snprintf(label, sizeof label, "term + %s range + %s", ds->num_field, ds->kw_field);
    snprintf(q, sizeof q,
             "{\"bool\":{\"must\":{\"match\":{\"%s\":\"%s\"}},\"filter\":["
             "{\"range\":{\"%s\":{\"gte\":%g,\"lte\":%g}}},{\"term\":{\"%s\":\"%s\"}}]}}",
             tf, medium, ds->num_field, ds->num_lo, ds->num_hi, ds->kw_field, ds->kw_value);
    kiln__run(si, m, label, q, (int)runs, exact, NULL, 0);
    kiln_sort_key by = {.by = KILN_SORT_FIELD, .field = ds->num_field, .desc = 1};
    snprintf(label, sizeof label, "term, sort by %s desc", ds->num_field);
    snprintf(q, sizeof q, "{\"match\":{\"%s\":\"%s\"}}", tf, medium);
    kiln__run(si, m, label, q, (int)runs, exact, &by, 1);
    snprintf(label, sizeof label, "match_all, sort by %s desc", ds->num_field);
    kiln__run(si, m, label, "{\"match_all\":{}}", (int)(runs / 10 + 1), exact, &by, 1);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
    return 0;
}
