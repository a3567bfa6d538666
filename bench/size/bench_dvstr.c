/* Cost of reading text originals through the doc-values API (what a UDF's get_field_string
 * does): the first N products are indexed into one segment, then kiln_dv_str is timed over
 * every document in order and at random, for `description` (long text) and `name` (short
 * text with a keyword multi-field).
 *
 *   bench_dvstr FILE [N] [ROUNDS]
 *
 * Uses only the public sindex API, so one source measures before and after. */
#include "search/sindex.h"

#include "../bench_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_dvstr FILE [N] [ROUNDS]\n");
        return 2;
    }
    uint32_t n = argc > 2 ? (uint32_t)atoi(argv[2]) : 200000;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    json_t *mj =
        json_loads("{\"properties\":{\"description\":{\"type\":\"text\",\"store\":true},\"name\":{\"type\":"
                   "\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\"}}}}}",
                   0, NULL);
    kiln_error err;
    kiln_mapping *m = kiln_mapping_new(mj, &err);
    json_decref(mj);
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    FILE *f = fopen(argv[1], "r");
    if (!f || !m || !si) return 1;
    char *line = NULL;
    size_t cap = 0;
    uint32_t count = 0;
    for (ssize_t len; count < n && (len = getline(&line, &cap, f)) > 0; count++) {
        json_t *doc = json_loadb(line, (size_t)len, 0, NULL);
        kiln_sindex_add(si, count, doc, m, NULL, &err);
        json_decref(doc);
    }
    fclose(f);
    free(line);
    kiln_sindex_refresh(si, &err);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    const kiln_segment *s = kiln_reader_segment(rd, 0);
    const char *fields[] = {"description", "name"};
    for (int fi = 0; fi < 2; fi++) {
        kiln_dv dv;
        if (kiln_dv_get(s, fields[fi], &dv)) continue;
        double best_seq = 1e9, best_rand = 1e9;
        uint64_t x = 88172645463325252ull, sum = 0;
        for (int r = 0; r < rounds; r++) {
            double t0 = kiln__cpu_s();
            for (uint32_t d = 0; d < count; d++) {
                size_t len;
                const char *v = kiln_dv_str(&dv, d, 0, &len);
                sum += len + (v ? (unsigned char)v[0] : 0);
            }
            double t = (kiln__cpu_s() - t0) / count;
            if (t < best_seq) best_seq = t;
            t0 = kiln__cpu_s();
            for (uint32_t i = 0; i < 100000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t len;
                const char *v = kiln_dv_str(&dv, (uint32_t)(x % count), 0, &len);
                sum += len + (v ? (unsigned char)v[0] : 0);
            }
            t = (kiln__cpu_s() - t0) / 100000;
            if (t < best_rand) best_rand = t;
        }
        printf("%s: kiln_dv_str in doc order %.1f ns, at random %.1f ns  [%llu]\n", fields[fi],
               best_seq * 1e9, best_rand * 1e9, (unsigned long long)(sum & 1));
    }
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
    return 0;
}
