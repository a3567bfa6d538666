/* zstd-compressed blocks with a small per-thread cache of decompressed blocks: the stored
 * documents (docstore.c) and the original strings of text fields (search segments) both keep
 * their bytes in independently compressed blocks of a few KiB and read one value at a time.
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

uint64_t kiln_zblock_owner_new(void);
/* Appends the zstd frame of src[0..n) to out (a thread-local compression context is reused);
 * returns the frame's size. */
size_t kiln_zblock_compress(kiln_buf *out, const void *src, size_t n);
/* The raw_len bytes of block (owner, key), compressed in z[0..zlen): served from this thread's
 * cache or decompressed into it. Borrowed until this thread's next call that misses the cache
 * (at least until its next call). NULL when the frame is corrupt or not raw_len bytes long. */
const uint8_t *kiln_zblock_get(uint64_t owner, uint64_t key, const void *z, size_t zlen,
                               size_t raw_len);

#endif
