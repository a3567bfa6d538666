/* Stored documents of a shard, by doc number: _id, _source bytes exactly as received, _seq_no,
 * _version, _primary_term.
 *
 * Documents are packed into blocks of ~KILN_DOC_BLOCK raw bytes, each compressed with the
 * index's codec (index.codec: LZ4 by default, zstd for best_compression; zblock.h) once it
 * fills, by whichever thread calls kiln_docstore_compress first (idle _bulk helpers; the writer
 * itself past a small backlog), so the in-memory tail is mostly compressed too;
 * kiln_docstore_flush writes the tail to an immutable, checksummed file (docs-<first>.kdoc)
 * that is memory-mapped from then on. Reading a document decompresses its block into a small
 * per-thread cache (one block of a few KiB, not the file).
 *
 * File layout (little-endian), format 2:
 *   offset  size          field
 *   0       8             magic "KILNDOC2"
 *   8       4, 4          u32 first_docnum, u32 count
 *   16      4, 4          u32 nblocks, u32 codec (0 zstd, 1 LZ4: zblock.h; files written
 *                         before LZ4 existed hold 0 there)
 *   24      ...           nblocks compressed blocks (zstd frames or LZ4 blocks), back to back;
 *                         block b holds the records of docs
 *                         [block b first doc, next block's first doc), each record:
 *                         i64 seq_no | i64 version | i64 primary_term | u32 id_len |
 *                         u32 src_len | id bytes | source bytes
 *   T       16 × nblocks  block table: u64 frame offset | u32 first doc (index in the file) |
 *                         u32 raw (decompressed) length
 *                         (a record is found by walking its block's records: no offset table)
 *   end-24  8             u64 T (offset of the block table)
 *   end-16  8             u64 checksum: xxh3 of every byte before it
 *   end-8   8             magic "KDOCEND2"
 * Format 1 files ("KILNDOC1", records uncompressed) are refused with an error naming the format. */
#ifndef KILN_DOCSTORE_H
#define KILN_DOCSTORE_H

#include "core/error.h"
#include "index/zblock.h"

#include <stddef.h>
#include <stdint.h>

/* Raw bytes per compressed block: small enough that fetching one document decompresses ~8 KiB
 * (a few µs), large enough for zstd to find the repeated field names and values. */
#ifndef KILN_DOC_BLOCK
#define KILN_DOC_BLOCK 8192
#endif

typedef struct kiln_docstore kiln_docstore;

typedef struct kiln_stored_doc {
    /* borrowed: valid while the caller holds the shard lock and makes no other
     * kiln_docstore_get call on this thread (it may live in the thread's block cache) */
    const char *id;
    size_t idlen;
    const char *src;
    size_t srclen;
    int64_t seq_no;
    int64_t version;
    int64_t primary_term;
} kiln_stored_doc;

typedef struct kiln_docstore_file {
    uint32_t first;
    uint32_t count;
} kiln_docstore_file;

/* Opens the files listed (in docnum order) from dir; the tail starts after the last one. */
kiln_docstore *kiln_docstore_open(const char *dir, const kiln_docstore_file *files, size_t n,
                                  kiln_zcodec codec, kiln_error *err);
void kiln_docstore_close(kiln_docstore *ds);
/* Appends a document; its docnum must be kiln_docstore_next(ds). Copies id and src. A full
 * block waits for kiln_docstore_compress (or is compressed here once too many wait). */
void kiln_docstore_add(kiln_docstore *ds, const kiln_stored_doc *doc);
uint32_t kiln_docstore_next(const kiln_docstore *ds);
/* Compresses the oldest full block waiting for it; 1 if it did, 0 if none waits (or another
 * thread is compressing). Any thread, no lock needed: lets idle threads take the compression
 * off the writer's path. */
int kiln_docstore_compress(kiln_docstore *ds);
/* 0 and *out filled, or -1 when docnum is not stored (or its block is corrupt). */
int kiln_docstore_get(const kiln_docstore *ds, uint32_t docnum, kiln_stored_doc *out);
/* Writes the tail to a new file (fsync'd) and maps it. No-op when the tail is empty. */
int kiln_docstore_flush(kiln_docstore *ds, kiln_error *err);
/* The same in three steps, so writers wait only for the cheap ones: begin (with the writer's
 * exclusion) fixes the docs to flush, the whole tail so far; write (no lock: concurrent with
 * adds and reads) writes and fsyncs their file; end (the writer's exclusion again, and no
 * reader) maps it and drops those docs from the tail. One flush at a time. */
typedef struct kiln_docstore_flush_job {
    uint32_t first, count, nblocks;
} kiln_docstore_flush_job;
void kiln_docstore_flush_begin(kiln_docstore *ds, kiln_docstore_flush_job *j);
int kiln_docstore_flush_write(kiln_docstore *ds, const kiln_docstore_flush_job *j, kiln_error *err);
int kiln_docstore_flush_end(kiln_docstore *ds, const kiln_docstore_flush_job *j, kiln_error *err);
/* The current file list (borrowed until the next flush). */
const kiln_docstore_file *kiln_docstore_files(const kiln_docstore *ds, size_t *n);
/* Bytes the tail holds in memory (compressed blocks plus the open block). */
size_t kiln_docstore_tail_bytes(const kiln_docstore *ds);
uint64_t kiln_docstore_disk_bytes(const kiln_docstore *ds);

#endif
