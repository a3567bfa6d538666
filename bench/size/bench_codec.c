/* The stored documents' codecs (index.codec) on real documents: the file's lines packed into
 * blocks of KILN_DOC_BLOCK bytes as the docstore packs records, each block compressed and
 * decompressed through zblock.h with LZ4 (default) and zstd (best_compression), alternately in
 * the same process; ratio and MB/s of raw bytes, best of ROUNDS.
 *
 *   bench_codec FILE [MB] [ROUNDS]      (MB of the file to use, default 200) */
#include "index/docstore.h"
#include "index/zblock.h"

#include "../bench_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_codec FILE [MB] [ROUNDS]\n");
        return 2;
    }
    size_t cap = (size_t)(argc > 2 ? atoi(argv[2]) : 200) << 20;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    FILE *f = fopen(argv[1], "r");
    if (!f) return 1;
    char *data = kiln_xmalloc(cap);
    size_t n = fread(data, 1, cap, f);
    fclose(f);
    size_t nblocks = n / KILN_DOC_BLOCK;
    static const char *const names[] = {"zstd (best_compression)", "LZ4 (default)"};
    double best_c[2] = {1e9, 1e9}, best_d[2] = {1e9, 1e9};
    size_t zbytes[2] = {0, 0};
    kiln_buf z = KILN_BUF_INIT;
    size_t *zoff = kiln_xmalloc((nblocks + 1) * sizeof *zoff);
    uint64_t owner = kiln_zblock_owner_new(), sum = 0;
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < 2; c++) {
            kiln_zcodec codec = c ? KILN_ZCODEC_LZ4 : KILN_ZCODEC_ZSTD;
            kiln_buf_reset(&z);
            double t0 = kiln__cpu_s();
            for (size_t b = 0; b < nblocks; b++) {
                zoff[b] = z.len;
                kiln_zblock_compress(&z, data + b * KILN_DOC_BLOCK, KILN_DOC_BLOCK, codec);
            }
            zoff[nblocks] = z.len;
            double t1 = kiln__cpu_s();
            for (size_t b = 0; b < nblocks; b++) { /* keys differ per round: every get decodes */
                const uint8_t *raw =
                    kiln_zblock_get(owner, (uint64_t)(r * 2 + c) * nblocks + b, z.data + zoff[b],
                                    zoff[b + 1] - zoff[b], KILN_DOC_BLOCK, codec);
                if (!raw) return 1;
                sum += raw[b % KILN_DOC_BLOCK];
            }
            double t2 = kiln__cpu_s();
            zbytes[c] = z.len;
            if (t1 - t0 < best_c[c]) best_c[c] = t1 - t0;
            if (t2 - t1 < best_d[c]) best_d[c] = t2 - t1;
        }
    double mb = (double)nblocks * KILN_DOC_BLOCK / 1e6;
    printf("%zu blocks of %d bytes (%.1f MB), best of %d  [%llu]\n", nblocks, KILN_DOC_BLOCK, mb,
           rounds, (unsigned long long)sum);
    printf("| codec | compressed / raw | compress MB/s | decompress MB/s |\n|---|---:|---:|---:|\n");
    for (int c = 0; c < 2; c++)
        printf("| %s | %.3f | %.0f | %.0f |\n", names[c], zbytes[c] / (mb * 1e6), mb / best_c[c],
               mb / best_d[c]);
    printf("LZ4 / zstd: %.2fx the bytes, %.2fx compress speed, %.2fx decompress speed\n",
           (double)zbytes[1] / zbytes[0], best_c[0] / best_c[1], best_d[0] / best_d[1]);
    kiln_buf_free(&z);
    free(zoff);
    free(data);
    return 0;
}
