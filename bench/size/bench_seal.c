/* The search index's background work during an ingest, replayed on one thread: the first N
 * products are added in chunks of CHUNK docs (a refresh's worth: ~1 s of ingest), and after
 * each chunk the buffer is sealed (refresh), the merge policy runs, and every FLUSH chunks the
 * sealed segments are committed to DIR (as a translog flush does). Prints the thread CPU of
 * each phase, per document, and the merges (count and documents rewritten).
 *
 *   bench_seal FILE DIR [N] [CHUNK] [FLUSH]
 *
 * Deterministic (no timer-driven refreshes) and single-threaded, so an A/B of two builds is
 * exact on instruction counts and close on CPU time even on a shared machine. Uses only the
 * public sindex API, so one source measures before and after. */
#include "search/sindex.h"

#include "../bench_clock.h"
#include "../bench_products.h"
#include "core/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_seal FILE DIR [N] [CHUNK] [FLUSH]\n");
        return 2;
    }
    uint32_t n = argc > 3 ? (uint32_t)atoi(argv[3]) : 200000;
    uint32_t chunk = argc > 4 ? (uint32_t)atoi(argv[4]) : 30000;
    uint32_t flush = argc > 5 ? (uint32_t)atoi(argv[5]) : 10;
    json_t *mj = json_loads(kiln__products_mapping, 0, NULL);
    kiln_error err;
    kiln_mapping *m = kiln_mapping_new(mj, &err);
    json_decref(mj);
    if (!m) {
        fprintf(stderr, "mapping: %s\n", err.reason);
        return 1;
    }
    kiln_fs_remove_tree(argv[2], NULL);
    kiln_sindex *si = kiln_sindex_open(argv[2], &err);
    FILE *f = fopen(argv[1], "r");
    if (!f || !si) return 1;
    json_t **docs = calloc(n, sizeof *docs);
    char *line = NULL;
    size_t cap = 0;
    uint32_t count = 0;
    for (ssize_t len; count < n && (len = getline(&line, &cap, f)) > 0; count++)
        docs[count] = json_loadb(line, (size_t)len, 0, NULL);
    free(line);
    fclose(f);
    double t_add = 0, t_seal = 0, t_merge = 0, t_commit = 0;
    long f_seal = 0, f_merge = 0, f_commit = 0;
    int merges = 0;
    for (uint32_t at = 0, c = 0; at < count; c++) {
        double t0 = kiln__cpu_s();
        for (uint32_t end = at + chunk < count ? at + chunk : count; at < end; at++)
            kiln_sindex_add(si, at, docs[at], m, NULL, &err);
        double t1 = kiln__cpu_s();
        long f1 = kiln__thread_faults();
        kiln_sindex_freeze(si);
        kiln_sindex_publish(si, &err);
        double t2 = kiln__cpu_s();
        long f2 = kiln__thread_faults();
        while (kiln_sindex_merge_step(si) > 0)
            merges++;
        double t3 = kiln__cpu_s();
        long f3 = kiln__thread_faults();
        if ((c + 1) % flush == 0 || at == count) kiln_sindex_commit_sealed(si, &err);
        double t4 = kiln__cpu_s();
        f_seal += f2 - f1;
        f_merge += f3 - f2;
        f_commit += kiln__thread_faults() - f3;
        t_add += t1 - t0;
        t_seal += t2 - t1;
        t_merge += t3 - t2;
        t_commit += t4 - t3;
    }
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    size_t nsegs = kiln_reader_nsegments(rd);
    kiln_sindex_reader_release(rd);
    double us = 1e6 / count;
    printf("%u docs in chunks of %u, commit every %u chunks: %d merges, %zu segments at the end\n",
           count, chunk, flush, merges, nsegs);
    printf("add    %7.3f s CPU  %6.2f us/doc\n", t_add, t_add * us);
    printf("seal   %7.3f s CPU  %6.2f us/doc  %8ld minor faults\n", t_seal, t_seal * us, f_seal);
    printf("merge  %7.3f s CPU  %6.2f us/doc  %8ld minor faults\n", t_merge, t_merge * us,
           f_merge);
    printf("commit %7.3f s CPU  %6.2f us/doc  %8ld minor faults\n", t_commit, t_commit * us,
           f_commit);
    printf("seal+merge+commit %7.3f s CPU  %6.2f us/doc\n", t_seal + t_merge + t_commit,
           (t_seal + t_merge + t_commit) * us);
    kiln_sindex_close(si);
    for (uint32_t i = 0; i < count; i++)
        json_decref(docs[i]);
    free(docs);
    kiln_mapping_unref(m);
    kiln_fs_remove_tree(argv[2], NULL);
    return 0;
}
