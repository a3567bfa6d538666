/* In-process ingest benchmark of one shard's search index, phase by phase, in thread CPU time:
 * parse (kiln_json), prepare (walk + analysis, kiln_sindex_prepare), add (the write buffer,
 * kiln_sindex_add_prepared: what runs under the shard's write lock), seal (freeze + publish
 * every --segment-docs docs, as the 1 s refresh of an ingest does) and, with --merge, one
 * merge of every sealed segment. The mapping is what dynamic mapping gives the product
 * catalogue over HTTP (strings: text + keyword sub-field), so the figures add up to the server's.
 *
 *   bench_writer FILE [--docs N] [--segment-docs N] [--merge]
 *
 * Documents are prepared a segment at a time (all preps of a segment held, grown once before
 * timing), then added, then sealed, so each phase is timed alone and its caches are its own. */
#include "search/sindex.h"

#include "core/buf.h"
#include "core/json.h"
#include "index/mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../bench_clock.h"
#include "../bench_products.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_writer FILE [--docs N] [--segment-docs N] [--merge]\n");
        return 2;
    }
    long max_docs = 200000, seg_docs = 30000;
    int merge = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--docs") && i + 1 < argc)
            max_docs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--segment-docs") && i + 1 < argc)
            seg_docs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--merge"))
            merge = 1;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    kiln_error err;
    json_t *mj = json_loads(kiln__products_mapping, 0, NULL);
    kiln_mapping *m = kiln_mapping_new(mj, &err);
    json_decref(mj);
    kiln_analysis_registry *ar = kiln_analysis_registry_new(NULL, &err);
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    if (!m || !ar || !si) {
        fprintf(stderr, "set-up: %s\n", err.reason);
        return 1;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char **lines = malloc((size_t)max_docs * sizeof *lines);
    size_t *lens = malloc((size_t)max_docs * sizeof *lens);
    long n = 0;
    size_t bytes = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    while (n < max_docs && (len = getline(&line, &cap, f)) > 0) {
        lines[n] = kiln_xstrndup(line, (size_t)len);
        lens[n++] = (size_t)len;
        bytes += (size_t)len;
    }
    free(line);
    fclose(f);

    kiln_json *docs = calloc((size_t)seg_docs, sizeof *docs);
    kiln_sindex_prep **preps = calloc((size_t)seg_docs, sizeof *preps);
    for (long i = 0; i < seg_docs; i++)
        preps[i] = kiln_sindex_prep_new();
    /* the server recycles a few preps per thread, long grown to size: grow these once, untimed,
     * or the first segment times malloc finding room for 30,000 growing objects */
    for (long i = 0; i < seg_docs && i < n; i++)
        if (kiln_json_parse(&docs[i], lines[i], lens[i]) == 0)
            kiln_sindex_prepare(preps[i], &docs[i], m, ar);
    double t_parse = 0, t_prep = 0, t_add = 0, t_seal = 0, t_merge = 0;
    long f_prep = 0, f_add = 0, f_seal = 0; /* minor page faults: fresh memory touched */
    for (long base = 0; base < n; base += seg_docs) {
        long k = n - base < seg_docs ? n - base : seg_docs;
        double c0 = kiln__cpu_s();
        for (long i = 0; i < k; i++)
            if (kiln_json_parse(&docs[i], lines[base + i], lens[base + i])) {
                fprintf(stderr, "doc %ld does not parse\n", base + i);
                return 1;
            }
        double c1 = kiln__cpu_s();
        long f1 = kiln__thread_faults();
        for (long i = 0; i < k; i++)
            kiln_sindex_prepare(preps[i], &docs[i], m, ar);
        double c2 = kiln__cpu_s();
        long f2 = kiln__thread_faults();
        for (long i = 0; i < k; i++)
            if (kiln_sindex_add_prepared(si, (uint32_t)(base + i), preps[i], &err)) {
                fprintf(stderr, "doc %ld: %s\n", base + i, err.reason);
                return 1;
            }
        double c3 = kiln__cpu_s();
        long f3 = kiln__thread_faults();
        kiln_sindex_freeze(si);
        kiln_sindex_publish(si, &err);
        double c4 = kiln__cpu_s();
        long f4 = kiln__thread_faults();
        f_prep += f2 - f1;
        f_add += f3 - f2;
        f_seal += f4 - f3;
        t_parse += c1 - c0;
        t_prep += c2 - c1;
        t_add += c3 - c2;
        t_seal += c4 - c3;
    }
    if (merge) {
        double c0 = kiln__cpu_s();
        kiln_sindex_force_merge(si, 1);
        t_merge = kiln__cpu_s() - c0;
    }
    double us = 1e6 / (double)n;
    printf("%ld docs (%.1f MB), segments of %ld: thread CPU per doc: parse %.2f us, prepare "
           "%.2f us, add %.2f us, seal %.2f us%s",
           n, bytes / 1e6, seg_docs, t_parse * us, t_prep * us, t_add * us, t_seal * us,
           merge ? "" : "\n");
    if (merge) printf(", merge into one %.2f us\n", t_merge * us);
    printf("page faults per 1000 docs: prepare %.1f, add %.1f, seal %.1f\n", f_prep * 1e3 / n,
           f_add * 1e3 / n, f_seal * 1e3 / n);
    for (long i = 0; i < seg_docs; i++) {
        kiln_json_dispose(&docs[i]);
        kiln_sindex_prep_free(preps[i]);
    }
    for (long i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(lens);
    free(docs);
    free(preps);
    kiln_sindex_close(si);
    kiln_analysis_registry_free(ar);
    kiln_mapping_unref(m);
    return 0;
}
