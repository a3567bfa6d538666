/* Ingest while a refresh seals a segment and a merge runs: a shard with a search index holds 8
 * segments of the product catalogue (bench/datasets/products.js --format docs) and a ninth
 * segment's worth of unrefreshed documents; one thread refreshes (sealing the ninth) and merges
 * (the policy keeps 8) while this thread keeps indexing documents one by one (the write path of
 * kiln_shard_index: version map, log append without sync, stored document, search buffer).
 * Per-write latency meanwhile is compared with the same number of writes afterwards.
 *
 *   bench_merge_ingest FILE [--docs N]
 *
 * Built with -DKILN_BENCH_OLD_MERGE against an older tree, the merge is triggered by a refresh
 * instead (where merges ran under the shard's write lock). */
#include "index/shard.h"
#include "search/sindex.h"

#include "core/fs.h"
#include "core/json.h"

#include <pthread.h>
#include <stdatomic.h>
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

static kiln_mapping *kiln__m;
static kiln_mapping *kiln__mapping_of(void *ctx)
{
    (void)ctx;
    return kiln_mapping_ref(kiln__m);
}

typedef struct {
    char **src;
    size_t *len;
    kiln_json *doc;
    long n, next;
} kiln__docs;

static void kiln__put(kiln_shard *s, kiln__docs *d, long i)
{
    char id[32];
    snprintf(id, sizeof id, "%ld", i);
    kiln_write_opts o = KILN_WRITE_OPTS_INIT;
    kiln_doc_meta meta;
    kiln_result res;
    uint64_t lsn;
    kiln_error err;
    if (kiln_shard_index(s, id, strlen(id), d->src[i % d->n], d->len[i % d->n], &d->doc[i % d->n],
                         &o, &meta, &res, &lsn, &err)) {
        fprintf(stderr, "index: %s\n", err.reason);
        exit(1);
    }
}

static atomic_int kiln__merging;
static double kiln__merge_s;

static void *kiln__merge_thread(void *arg)
{
    kiln_shard *s = arg;
    kiln_error err;
    double t0 = kiln__now();
    kiln_shard_refresh(s, &err); /* the old refresh also merged, under the write lock */
#ifndef KILN_BENCH_OLD_MERGE
    kiln_shard_maintain(s, 0, &err);
#endif
    kiln__merge_s = kiln__now() - t0;
    atomic_store(&kiln__merging, 0);
    return NULL;
}

static void kiln__report(const char *label, double *lat, long n, double secs)
{
    qsort(lat, (size_t)n, sizeof *lat, kiln__cmp_d);
    printf("| %s | %ld | %.0f | %.1f | %.1f | %.2f | %.1f |\n", label, n, n / secs,
           lat[n / 2] * 1e6, lat[(n * 99) / 100] * 1e6, lat[(n * 999) / 1000] * 1e3,
           lat[n - 1] * 1e3);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [--docs N]\n", argv[0]);
        return 2;
    }
    long max_docs = 200000;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--docs") && i + 1 < argc) max_docs = atol(argv[++i]);
    FILE *f = fopen(argv[1], "r");
    if (!f) return perror(argv[1]), 1;
    kiln__docs d = {calloc((size_t)max_docs, sizeof(char *)), calloc((size_t)max_docs, sizeof(size_t)),
                    calloc((size_t)max_docs, sizeof(kiln_json)), 0, 0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (d.n < max_docs && (len = getline(&line, &cap, f)) > 0) {
        while (len && line[len - 1] == '\n') len--;
        d.doc[d.n] = (kiln_json)KILN_JSON_INIT;
        if (kiln_json_parse(&d.doc[d.n], line, (size_t)len)) continue;
        d.src[d.n] = strndup(line, (size_t)len);
        d.len[d.n++] = (size_t)len;
    }
    free(line);
    fclose(f);
    kiln_error err;
    json_t *mj = json_loads("{\"properties\":{\"name\":{\"type\":\"text\"},\"description\":{\"type\":\"text\"},"
                            "\"category\":{\"type\":\"keyword\"},\"brand\":{\"type\":\"keyword\"},"
                            "\"price\":{\"type\":\"double\"},\"stock\":{\"type\":\"long\"},"
                            "\"tags\":{\"type\":\"keyword\"}}}", 0, NULL);
    kiln__m = kiln_mapping_new(mj, &err);
    json_decref(mj);
    char dir[] = "/tmp/kiln-bench-merge-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    kiln_shard *s = kiln_shard_open(dir, 0, 1ull << 40, KILN_ZCODEC_LZ4, &err);
    kiln_shard_search_attach(s, kiln__mapping_of, NULL, NULL, &err);
    long per_seg = d.n / 9, i = 0;
    for (int seg = 0; seg < 9; seg++) { /* 9 segments: the policy wants one merge of 4 */
        for (long k = 0; k < per_seg; k++) kiln__put(s, &d, i++);
        if (seg < 8) kiln_shard_refresh(s, &err); /* the ninth is sealed by the merge thread */
    }
    printf("docs: %ld, 8 segments of %ld + as many unrefreshed\n\n", i, per_seg);
    long cap_w = 4000000, nw = 0;
    double *lat = malloc((size_t)cap_w * sizeof *lat);
    atomic_store(&kiln__merging, 1);
    pthread_t t;
    pthread_create(&t, NULL, kiln__merge_thread, s);
    double t0 = kiln__now();
    while (atomic_load(&kiln__merging) && nw < cap_w) {
        double w0 = kiln__now();
        kiln__put(s, &d, i++);
        lat[nw++] = kiln__now() - w0;
    }
    double during = kiln__now() - t0;
    pthread_join(t, NULL);
    printf("refresh + merge: %.2f s\n\n| writes | count | writes/s | p50 µs | p99 µs | p99.9 ms "
           "| max ms |\n|---|---|---|---|---|---|---|\n", kiln__merge_s);
    kiln__report("during the refresh + merge", lat, nw, during);
    long n2 = nw;
    t0 = kiln__now();
    for (long k = 0; k < n2; k++) {
        double w0 = kiln__now();
        kiln__put(s, &d, i++);
        lat[k] = kiln__now() - w0;
    }
    kiln__report("no merge", lat, n2, kiln__now() - t0);
    kiln_shard_close(s);
    kiln_fs_remove_tree(dir, NULL);
    return 0;
}
