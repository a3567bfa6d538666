/* Cost of reading stored documents: the first N products (NDJSON, one per line) go into a
 * docstore, flushed to a file, then each document is read (as a search's fetch phase does:
 * get + copy of _source) in order and at random ("top-10 fetches" of scattered docs).
 *
 *   bench_fetch FILE [N] [ROUNDS] [lz4|zstd]      (the codec: index.codec default or
 *                                                  best_compression; lz4 if omitted)
 *
 * Built against any docstore with the same API, so one source measures before and after. */
#include "core/buf.h"
#include "core/fs.h"
#include "index/docstore.h"

#include "../bench_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_fetch FILE [N] [ROUNDS] [lz4|zstd]\n");
        return 2;
    }
    uint32_t n = argc > 2 ? (uint32_t)atoi(argv[2]) : 200000;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    kiln_zcodec codec = argc > 4 && !strcmp(argv[4], "zstd") ? KILN_ZCODEC_ZSTD : KILN_ZCODEC_LZ4;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char dir[] = "/tmp/kiln-bench-fetch-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    kiln_error err;
    kiln_docstore *ds = kiln_docstore_open(dir, NULL, 0, codec, &err);
    char *line = NULL;
    size_t cap = 0, raw = 0;
    uint32_t count = 0;
    for (ssize_t len; count < n && (len = getline(&line, &cap, f)) > 0; count++) {
        char id[16];
        snprintf(id, sizeof id, "%u", count);
        kiln_stored_doc d = {id, strlen(id), line, (size_t)len - 1, count, 1, 1};
        kiln_docstore_add(ds, &d);
        raw += (size_t)len - 1;
    }
    fclose(f);
    free(line);
    double t0 = kiln__cpu_s();
    if (kiln_docstore_flush(ds, &err)) {
        fprintf(stderr, "flush: %s\n", err.reason);
        return 1;
    }
    double t_flush = kiln__cpu_s() - t0;
    kiln_buf out = KILN_BUF_INIT;
    double best_seq = 1e9, best_rand = 1e9;
    uint64_t x = 88172645463325252ull, sum = 0;
    for (int r = 0; r < rounds; r++) {
        t0 = kiln__cpu_s();
        for (uint32_t i = 0; i < count; i++) {
            kiln_stored_doc d;
            kiln_docstore_get(ds, i, &d);
            kiln_buf_reset(&out);
            kiln_buf_append(&out, d.src, d.srclen);
            sum += out.len;
        }
        double t = (kiln__cpu_s() - t0) / count;
        if (t < best_seq) best_seq = t;
        t0 = kiln__cpu_s();
        for (uint32_t i = 0; i < 100000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            kiln_stored_doc d;
            kiln_docstore_get(ds, (uint32_t)(x % count), &d);
            kiln_buf_reset(&out);
            kiln_buf_append(&out, d.src, d.srclen);
            sum += out.len;
        }
        t = (kiln__cpu_s() - t0) / 100000;
        if (t < best_rand) best_rand = t;
    }
    printf("docs %u, raw JSON %.1f MB, file %.1f MB (%.2fx smaller), flush %.2f s CPU\n", count,
           raw / 1e6, kiln_docstore_disk_bytes(ds) / 1e6,
           (double)raw / kiln_docstore_disk_bytes(ds), t_flush);
    printf("get + copy _source, in order: %.0f ns/doc; at random: %.0f ns/doc (a top-10 fetch: "
           "%.1f us)  [%llu]\n",
           best_seq * 1e9, best_rand * 1e9, best_rand * 1e7, (unsigned long long)(sum & 1));
    kiln_buf_free(&out);
    kiln_docstore_close(ds);
    kiln_fs_remove_tree(dir, NULL);
    return 0;
}
