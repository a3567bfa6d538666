/* Compressed blocks with a small per-thread cache of decompressed blocks: the stored documents
 * (docstore.c) and the original strings of text fields (search segments) both keep their bytes
 * in independently compressed blocks of a few KiB and read one value at a time.
 *
 * Two codecs, as Elasticsearch's index.codec offers: LZ4 (its default: ~2x as fast to compress
 * and ~4x to decompress as zstd's fastest level on product JSON, at ~0.73 of the raw size
 * instead of ~0.50; bench/size/bench_codec.c) and zstd (best_compression).
 *
 * A block is named by (owner, key): owner is a serial unique to the holder for the process's
 * lifetime (kiln_zblock_owner_new), key is anything that names the block within it (e.g. its
 * first doc number). Blocks must be immutable under their name. */
#ifndef KILN_ZBLOCK_H
#define KILN_ZBLOCK_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

/* zstd level for every block: the fastest level; at blocks of a few KiB, higher levels gain
 * ~1% on product JSON and cost ~2x the CPU on the write path. */
#define KILN_ZBLOCK_LEVEL 1

typedef enum { KILN_ZCODEC_ZSTD = 0, KILN_ZCODEC_LZ4 = 1 } kiln_zcodec; /* values are on disk */

uint64_t kiln_zblock_owner_new(void);
/* Appends the compressed block of src[0..n) to out (a thread-local zstd context is reused);
 * returns its size. */
size_t kiln_zblock_compress(kiln_buf *out, const void *src, size_t n, kiln_zcodec codec);
/* The raw_len bytes of block (owner, key), compressed in z[0..zlen): served from this thread's
 * cache or decompressed into it. Borrowed until this thread's next call that misses the cache
 * (at least until its next call). NULL when the block is corrupt or not raw_len bytes long. */
const uint8_t *kiln_zblock_get(uint64_t owner, uint64_t key, const void *z, size_t zlen,
                               size_t raw_len, kiln_zcodec codec);

#endif
