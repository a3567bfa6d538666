/* Document preparation on the product corpus: what kiln_sindex_prepare costs per document
 * (walk, conversions, analysis, token hashing and copying), and the analysis part alone with
 * the fused standard fast path and with the general path, A/B in one process.
 *
 *   bench_prep [--docs N] [--reps R] [--only prep|fused|general] [FILE]
 *   (FILE defaults to bench/out/products-1000000-42.docs.ndjson; --only runs one part, for
 *   profiling)
 *
 * The mapping is the dynamic one the server derives from the documents (strings: text with a
 * .keyword sub-field). Times are thread CPU, best of R passes; single-threaded. */
#include "analysis/analysis.h"
#include "core/json.h"
#include "index/mapping.h"
#include "search/prep.h"
#include "search/sindex.h"
#include "../bench_clock.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From analysis_int.h, which can not be included next to searchInt.h (both name a kiln__tok):
 * kiln_analyze with and without the fused standard path. */
int kiln__analyze_ex(const kiln_analyzer *a, const char *text, size_t len, uint32_t position_base,
                     kiln_token_fn fn, void *ctx, uint32_t *trailing);
int kiln__analyze_general(const kiln_analyzer *a, const char *text, size_t len,
                          uint32_t position_base, kiln_token_fn fn, void *ctx, uint32_t *trailing);

typedef struct {
    kiln_json *docs;
    size_t n;
} corpus;

static int load(corpus *c, const char *path, size_t want, kiln_mapping **mp)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    c->docs = calloc(want, sizeof *c->docs);
    c->n = 0;
    kiln_mapping *m = kiln_mapping_new(NULL, NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (c->n < want && (len = getline(&line, &cap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!len) continue;
        if (kiln_json_parse(&c->docs[c->n], line, (size_t)len)) continue;
        if (c->n < 1000) { /* the dynamic mapping, as the server builds it from the first docs */
            json_t *j = json_loadb(line, (size_t)len, 0, NULL);
            kiln_mapping *up = NULL;
            kiln_error err;
            if (j && !kiln_mapping_check_doc(m, j, "x", &up, &err) && up) {
                kiln_mapping_unref(m);
                m = up;
            }
            json_decref(j);
        }
        c->n++;
    }
    free(line);
    fclose(f);
    *mp = m;
    return 0;
}

static int count_tok(const kiln_token *t, void *ctx)
{
    (void)t;
    ++*(uint64_t *)ctx;
    return 0;
}

/* Every string value of the document through the analyzer (the text fields' analysis). */
static void analyze_strings(const kiln_json *d, const kiln_analyzer *a, bool fused, uint64_t *nt)
{
    for (uint32_t i = 0; i < d->n; i++) {
        const kiln_jnode *v = &d->nodes[i];
        if (v->type != KILN_JSON_STRING) continue;
        const char *s = kiln_json_string(d, v);
        if (fused)
            kiln__analyze_ex(a, s, v->v.s.len, 0, count_tok, nt, NULL);
        else
            kiln__analyze_general(a, s, v->v.s.len, 0, count_tok, nt, NULL);
    }
}

int main(int argc, char **argv)
{
    size_t ndocs = 50000;
    int reps = 5;
    const char *only = NULL;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "--docs")) ndocs = (size_t)atol(argv[i + 1]);
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--only")) only = argv[i + 1];
    }
    const char *path = i < argc ? argv[i] : "bench/out/products-1000000-42.docs.ndjson";
    corpus c;
    kiln_mapping *m;
    if (load(&c, path, ndocs, &m) || !c.n) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    const kiln_analyzer *std = kiln_analyzer_get(NULL, "standard");
    kiln_sindex_prep *p = kiln_sindex_prep_new();
    printf("%s: %zu documents, %zu mapping fields\n", path, c.n, m->nfields);

    double best_prep = 1e9, best_fused = 1e9, best_general = 1e9;
    uint64_t ptoks = 0, atoks = 0;
    for (int r = 0; r < reps; r++) {
        /* the three measurements interleaved, so they see the same machine */
        ptoks = 0;
        double t0 = kiln__cpu_s(), t;
        if (!only || !strcmp(only, "prep")) {
            for (size_t d = 0; d < c.n; d++) {
                kiln_sindex_prepare(p, &c.docs[d], m, NULL);
                ptoks += p->ntoks;
            }
            t = kiln__cpu_s() - t0;
            if (t < best_prep) best_prep = t;
        }
        for (int fused = 1; fused >= 0; fused--) {
            if (only && strcmp(only, fused ? "fused" : "general")) continue;
            atoks = 0;
            t0 = kiln__cpu_s();
            for (size_t d = 0; d < c.n; d++)
                analyze_strings(&c.docs[d], std, fused, &atoks);
            t = kiln__cpu_s() - t0;
            double *best = fused ? &best_fused : &best_general;
            if (t < *best) *best = t;
        }
    }
    double nd = (double)c.n;
    if (ptoks)
        printf("  kiln_sindex_prepare    %6.2f us/doc  %5.1f tokens/doc  %5.1f ns/token\n",
           best_prep * 1e6 / nd, (double)ptoks / nd, best_prep * 1e9 / (double)ptoks);
    if (atoks && best_fused < 1e9)
        printf("  standard, fused path   %6.2f us/doc  %5.1f tokens/doc  %5.1f ns/token\n",
           best_fused * 1e6 / nd, (double)atoks / nd, best_fused * 1e9 / (double)atoks);
    if (atoks && best_general < 1e9)
        printf("  standard, general path %6.2f us/doc  %5.1f tokens/doc  %5.1f ns/token\n",
           best_general * 1e6 / nd, (double)atoks / nd, best_general * 1e9 / (double)atoks);
    kiln_sindex_prep_free(p);
    kiln_mapping_unref(m);
    for (size_t d = 0; d < c.n; d++)
        kiln_json_dispose(&c.docs[d]);
    free(c.docs);
    return 0;
}
