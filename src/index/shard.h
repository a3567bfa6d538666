/* A shard: the unit of storage. It owns a write-ahead log, the stored documents and the version
 * map, and feeds every change to the shard's search index (src/search), which is derived data.
 *
 * Documents are numbered per shard with dense "doc numbers" (uint32, assigned in write order,
 * never reused): an update stores the new version under a new number and deletes the old one,
 * as Lucene does. The search index refers to documents only by doc number; the stored source,
 * _id, _seq_no and _version are read back from the shard by number.
 *
 * Durability: kiln_shard_index/delete return an LSN; the write is durable after
 * kiln_shard_sync(lsn) returns 0 (group commit: concurrent callers share one fdatasync). */
#ifndef KILN_SHARD_H
#define KILN_SHARD_H

#include "core/error.h"
#include "index/mapping.h"

#include <jansson.h>
#include <stdint.h>

typedef struct kiln_shard kiln_shard;
struct kiln_sindex; /* the search index of the shard (src/search) */

typedef struct kiln_doc_meta {
    uint32_t docnum;
    int64_t seq_no;
    int64_t version;
    int64_t primary_term;
} kiln_doc_meta;

/* Outcome of a write. */
typedef enum { KILN_RESULT_CREATED, KILN_RESULT_UPDATED, KILN_RESULT_DELETED,
               KILN_RESULT_NOT_FOUND, KILN_RESULT_NOOP } kiln_result;

typedef struct kiln_write_opts {
    int op_create;          /* fail with 409 if the document exists */
    int64_t if_seq_no;      /* -2: not given */
    int64_t if_primary_term;/* -2: not given */
} kiln_write_opts;

#define KILN_WRITE_OPTS_INIT {0, -2, -2}

#endif
