/* Stored documents of a shard, by doc number: _id, _source bytes exactly as received, _seq_no,
 * _version, _primary_term.
 *
 * Recent documents live in an in-memory tail; kiln_docstore_flush writes the tail to an
 * immutable, checksummed file (docs-<first>.kdoc) that is memory-mapped from then on.
 *
 * File layout (little-endian):
 *   "KILNDOC1" | u32 first_docnum | u32 count
 *   count × record: i64 seq_no | i64 version | i64 primary_term | u32 id_len | u32 src_len |
 *                   id bytes | source bytes
 *   u64 record_offset[count]
 *   u64 offsets_pos | u64 checksum (xxh3 of every byte before it) | "KDOCEND1" */
#ifndef KILN_DOCSTORE_H
#define KILN_DOCSTORE_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct kiln_docstore kiln_docstore;

typedef struct kiln_stored_doc {
    const char *id; /* borrowed: valid while the caller holds the shard lock */
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
                                  kiln_error *err);
void kiln_docstore_close(kiln_docstore *ds);
/* Appends a document; its docnum must be kiln_docstore_next(ds). Copies id and src. */
void kiln_docstore_add(kiln_docstore *ds, const kiln_stored_doc *doc);
uint32_t kiln_docstore_next(const kiln_docstore *ds);
int kiln_docstore_get(const kiln_docstore *ds, uint32_t docnum, kiln_stored_doc *out);
/* Writes the tail to a new file (fsync'd) and maps it. No-op when the tail is empty. */
int kiln_docstore_flush(kiln_docstore *ds, kiln_error *err);
/* The current file list (borrowed until the next flush). */
const kiln_docstore_file *kiln_docstore_files(const kiln_docstore *ds, size_t *n);
size_t kiln_docstore_tail_bytes(const kiln_docstore *ds);
uint64_t kiln_docstore_disk_bytes(const kiln_docstore *ds);

#endif
