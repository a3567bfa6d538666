/* The search index of one shard: derived data keyed by the shard's dense doc numbers.
 *
 * Writes (kiln_sindex_add) go to an in-memory buffer, one writer at a time (the shard's write
 * lock). Making them searchable has a cheap part that needs the writer's exclusion and a slow
 * part that does not, so writes go on while segments are sealed, merged and written:
 *
 *   writer exclusion held:  kiln_sindex_freeze        the buffer moves aside (O(fields))
 *   no lock needed:         kiln_sindex_publish       seal frozen buffers, publish a reader
 *                           kiln_sindex_merge_step    merge a run of segments, publish
 *                           kiln_sindex_commit_sealed persist sealed segments
 *
 * kiln_sindex_refresh and kiln_sindex_commit do it all at once for single-threaded users. A
 * reader is a refcounted point-in-time list of segments; searches run over a reader while
 * writes go on. Liveness is not ours: the shard passes its frozen live-docs bitmap to every
 * search (see search.h).
 *
 * Doc values (columnar, per segment) are exposed through kiln_dv_*: a field handle resolved once
 * per segment, then values by doc in a few nanoseconds. UDF host functions use them. */
#ifndef KILN_SINDEX_H
#define KILN_SINDEX_H

#include "analysis/analysis.h"
#include "core/error.h"
#include "core/json.h"
#include "index/mapping.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kiln_sindex kiln_sindex;
typedef struct kiln_sindex_reader kiln_sindex_reader;
typedef struct kiln_segment kiln_segment;

/* Opens (creating if needed) the search index stored under dir. NULL + err on failure. */
kiln_sindex *kiln_sindex_open(const char *dir, kiln_error *err);
/* Frees the index; readers still held keep their segments alive until released. */
void kiln_sindex_close(kiln_sindex *si);

/* Indexes doc (borrowed for the call) under docnum, which must be greater than every docnum
 * added before. m and ar are borrowed for the call; fields the mapping lacks are skipped. */
int kiln_sindex_add(kiln_sindex *si, uint32_t docnum, json_t *doc, const kiln_mapping *m,
                    const kiln_analysis_registry *ar, kiln_error *err);
/* The same from a parsed document (the write path: no jansson tree per document). */
int kiln_sindex_add_json(kiln_sindex *si, uint32_t docnum, const kiln_json *doc,
                         const kiln_mapping *m, const kiln_analysis_registry *ar,
                         kiln_error *err);
/* The write path's two halves of kiln_sindex_add_json, so concurrent writers of a shard can
 * do the costly half in parallel: kiln_sindex_prepare walks the document, converts values and
 * runs the analyzers, touching no shared state (no lock needed; doc, m and ar are read only);
 * kiln_sindex_add_prepared then applies it under the shard's write lock. A prep object is
 * reusable and holds a reference to the last mapping it prepared with (freed with it). */
typedef struct kiln_sindex_prep kiln_sindex_prep;
kiln_sindex_prep *kiln_sindex_prep_new(void);
void kiln_sindex_prep_free(kiln_sindex_prep *p);
/* 0, or -1 when the document cannot be indexed (add_prepared then reports why). */
int kiln_sindex_prepare(kiln_sindex_prep *p, const kiln_json *doc, const kiln_mapping *m,
                        const kiln_analysis_registry *ar);
int kiln_sindex_add_prepared(kiln_sindex *si, uint32_t docnum, const kiln_sindex_prep *p,
                             kiln_error *err);
/* Makes every doc added so far visible to readers acquired afterwards, merging as the policy
 * asks (freeze + publish + merge steps; needs the writer's exclusion). */
int kiln_sindex_refresh(kiln_sindex *si, kiln_error *err);
/* Detaches what is buffered so far for the next kiln_sindex_publish. Call with the writer's
 * exclusion (the shard's write lock); cheap. */
void kiln_sindex_freeze(kiln_sindex *si);
/* Seals every frozen buffer into a segment and publishes a reader holding them. Concurrent
 * with kiln_sindex_add; publishes are serialised. */
int kiln_sindex_publish(kiln_sindex *si, kiln_error *err);
/* One merge if the policy wants one: 1 merged (a new reader is published), 0 nothing to do.
 * Concurrent with adds and publishes; merges are serialised. */
int kiln_sindex_merge_step(kiln_sindex *si);
/* kiln_sindex_merge_step that lets up to twice as many segments be while refreshes keep sealing
 * new documents (a bulk load), catching up once they have stopped for a few seconds: the
 * background merger's. */
int kiln_sindex_merge_step_paced(kiln_sindex *si);
extern int64_t kiln_sindex_busy_ms; /* how long after the last seal merges wait (tests shorten it) */
/* Merges segments until at most max_segs remain (_forcemerge; 0: as the merge policy
 * would); 1 if it merged. */
int kiln_sindex_force_merge(kiln_sindex *si, size_t max_segs);
/* Test hook: called by every merge after it picked its segments, before merging them. */
extern void (*kiln_sindex_merge_hook)(void *ctx);
extern void *kiln_sindex_merge_hook_ctx;
/* Seals what is buffered and durably persists every segment not yet on disk (segment files
 * fsync'd, then the commit file replaced atomically; layout in segfile.c). After a restart the
 * index holds the committed segments (memory-mapped) and the shard re-adds every doc from
 * committed_upto on. An index opened with dir NULL lives in memory only (commit is a no-op). */
int kiln_sindex_commit(kiln_sindex *si, kiln_error *err);
/* Persists the segments sealed so far (committed_upto becomes the sealed boundary). Concurrent
 * with adds, publishes and merges. */
int kiln_sindex_commit_sealed(kiln_sindex *si, kiln_error *err);
uint32_t kiln_sindex_committed_upto(const kiln_sindex *si);
/* Bytes the write buffer holds (its term table, postings pool, doc values, norms); an
 * estimate from capacities, cheap enough to ask often. Any thread. */
size_t kiln_sindex_buffer_bytes(const kiln_sindex *si);
/* Docs added but not yet refreshed (for refresh decisions and stats). */
uint32_t kiln_sindex_pending(const kiln_sindex *si);
/* Bumped whenever the published segment set changes (refresh, commit's seal, merge): a
 * searcher built at an older generation misses sealed docs. */
uint64_t kiln_sindex_generation(const kiln_sindex *si);

/* A point-in-time reader; cheap (one lock + refcount). Release exactly once. */
kiln_sindex_reader *kiln_sindex_reader_acquire(kiln_sindex *si);
void kiln_sindex_reader_release(kiln_sindex_reader *r);
size_t kiln_reader_nsegments(const kiln_sindex_reader *r);
/* Segment i of the reader, borrowed while the reader is held. */
const kiln_segment *kiln_reader_segment(const kiln_sindex_reader *r, size_t i);
/* Segment holding docnum, or NULL; *local receives the doc's id inside the segment. */
const kiln_segment *kiln_reader_find(const kiln_sindex_reader *r, uint32_t docnum,
                                     uint32_t *local);
uint32_t kiln_segment_base(const kiln_segment *s);  /* first docnum of the segment */
uint32_t kiln_segment_ndocs(const kiln_segment *s); /* local ids are 0 .. ndocs-1 */

/* ---- doc values -------------------------------------------------------------------------- */

typedef enum {
    KILN_DV_NONE = 0,
    KILN_DV_I64,  /* long/integer/short/byte, date (epoch ms), boolean (0/1) */
    KILN_DV_F64,  /* double/float */
    KILN_DV_ORD,  /* keyword: ordinals into the segment's sorted dictionary */
    KILN_DV_STR,  /* text: the original string(s) */
    KILN_DV_COUNT, /* text without a column of originals: value counts only (exists; a UDF
                      reads the strings from _source) */
} kiln_dv_kind;

/* A field's doc values in one segment. Plain data: valid while the segment is (reader held).
 * Values of doc d are [off[d], off[d+1]) in the value array of the kind; numeric and ordinal
 * values are sorted per doc as in ES; strings keep source order. Read text originals only with
 * kiln_dv_str: large fields keep them in compressed blocks (the str_z* members). */
typedef struct kiln_dv {
    kiln_dv_kind kind;
    kiln_field_type type;
    uint32_t ndocs;
    const uint32_t *off; /* ndocs + 1 entries */
    const int64_t *i64;
    const double *f64;
    const uint32_t *ord;
    const uint32_t *str_off; /* KILN_DV_STR, uncompressed: value v = off[d] + i is raw bytes
                                [str_off[v], str_off[v+1]) (NULL when compressed) */
    const char *str_blob;    /* the raw bytes, or NULL when compressed: */
    const uint8_t *str_z;    /* compressed blocks of values, back to back */
    uint64_t str_zlen;
    const void *str_blocks;  /* block table (searchInt.h kiln__strblock) */
    uint32_t str_nblocks;
    uint64_t str_owner;      /* names the field's blocks in the per-thread block cache */
    int str_codec;           /* kiln_zcodec of the blocks: LZ4 (format 5), zstd (format 4) */
    const uint32_t *str_ord; /* or: value v is term str_ord[v] of the keyword field str_dict */
    const void *str_dict;
    const void *dict;        /* KILN_DV_ORD: the term dictionary (see kiln_dv_ord_term) */
} kiln_dv;

/* Resolves field path in segment s; returns 0 and fills dv, or -1 when the segment has no
 * values for it (dv->kind = KILN_DV_NONE). */
int kiln_dv_get(const kiln_segment *s, const char *path, kiln_dv *dv);

static inline uint32_t kiln_dv_count(const kiln_dv *dv, uint32_t doc)
{
    return dv->kind == KILN_DV_NONE || doc >= dv->ndocs ? 0 : dv->off[doc + 1] - dv->off[doc];
}
static inline int64_t kiln_dv_i64(const kiln_dv *dv, uint32_t doc, uint32_t i)
{
    return dv->i64[dv->off[doc] + i];
}
static inline double kiln_dv_f64(const kiln_dv *dv, uint32_t doc, uint32_t i)
{
    return dv->f64[dv->off[doc] + i];
}
/* The i-th string of doc: keyword (dictionary term) or text (original value). Borrowed while
 * the segment is held; a compressed text original is only valid until this thread's next
 * kiln_dv_str (or stored-document) read, so copy it before reading another. */
const char *kiln_dv_str(const kiln_dv *dv, uint32_t doc, uint32_t i, size_t *len);
/* The dictionary term of an ordinal (KILN_DV_ORD). */
const char *kiln_dv_ord_term(const kiln_dv *dv, uint32_t ord, size_t *len);

#endif
