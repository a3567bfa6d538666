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

#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "index/mapping.h"
#include "index/zblock.h"

#include <jansson.h>
#include <roaring/roaring.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct kiln_shard kiln_shard;
struct kiln_sindex; /* the search index of the shard (src/search) */
struct kiln_sindex_prep;

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

typedef struct kiln_shard_stats {
    uint64_t docs;         /* live documents */
    uint64_t deleted;      /* deleted documents still taking space */
    uint64_t store_bytes;  /* stored-fields files + write-ahead log */
    int64_t max_seq_no;
    uint64_t refreshes;    /* searchers published (every refresh, however triggered) */
    uint64_t search_idle;  /* 1 if the last scheduled refresh was skipped: search idle */
} kiln_shard_stats;

/* Opens or creates the shard in dir and recovers it: commit point, then log replay. codec
 * compresses the stored documents written from now on (files say their own). */
kiln_shard *kiln_shard_open(const char *dir, unsigned shard_id, uint64_t flush_threshold_bytes,
                            kiln_zcodec codec, kiln_error *err);
/* Flushes (so the next open replays nothing) and frees. */
void kiln_shard_close(kiln_shard *s);

/* Indexes a document (source bytes kept exactly as given; doc is its parsed form, borrowed for
 * the call; NULL: stored but not searchable, as in tests of the storage alone).
 * Fills meta and res; *lsn is what kiln_shard_sync needs before acknowledging. */
int kiln_shard_index(kiln_shard *s, const char *id, size_t idlen, const char *src, size_t srclen,
                     const kiln_json *doc, const kiln_write_opts *o, kiln_doc_meta *meta, kiln_result *res,
                     uint64_t *lsn, kiln_error *err);
/* kiln_shard_index in two halves, so a caller can prepare documents on other threads while it
 * applies earlier ones in order: kiln_shard_prepare does the search index's costly half (walk,
 * analysis, hashing) on any thread, touching no shard state (NULL when there is no search index
 * or doc is NULL); kiln_shard_index_prepared is the rest of kiln_shard_index; then give the
 * prepared document back with kiln_shard_prep_release (NULL is fine). */
struct kiln_sindex_prep *kiln_shard_prepare(kiln_shard *s, const kiln_json *doc);
int kiln_shard_index_prepared(kiln_shard *s, const char *id, size_t idlen, const char *src,
                              size_t srclen, const struct kiln_sindex_prep *prep,
                              const kiln_write_opts *o, kiln_doc_meta *meta, kiln_result *res,
                              uint64_t *lsn, kiln_error *err);
void kiln_shard_prep_release(kiln_shard *s, struct kiln_sindex_prep *prep);
/* A writer applying a run of prepared documents may hold the write lock across them: one
 * acquisition per run instead of per document (with concurrent _bulk requests, handing a
 * contended lock over for every document costs more than the documents). _held expects it
 * held by kiln_shard_write_hold. Hold it briefly: readers wait meanwhile. */
void kiln_shard_write_hold(kiln_shard *s);
/* kiln_shard_write_hold if the lock is free at once: 1 held, 0 busy (not held). */
int kiln_shard_write_try_hold(kiln_shard *s);
void kiln_shard_write_release(kiln_shard *s);
int kiln_shard_index_prepared_held(kiln_shard *s, const char *id, size_t idlen, const char *src,
                                   size_t srclen, const struct kiln_sindex_prep *prep,
                                   const kiln_write_opts *o, kiln_doc_meta *meta, kiln_result *res,
                                   uint64_t *lsn, kiln_error *err);
/* Background work a writer's helper can take off the write lock's path when idle: compresses
 * one full block of stored documents. 1 if it did something. Any thread, no lock held. */
int kiln_shard_assist(kiln_shard *s);
int kiln_shard_delete(kiln_shard *s, const char *id, size_t idlen, const kiln_write_opts *o,
                      kiln_doc_meta *meta, kiln_result *res, uint64_t *lsn, kiln_error *err);

/* Read-modify-write under the shard lock. fn sees the current source (NULL when missing) and
 * either fills new_src (compact JSON: the shard parses it for the search index) and returns 0,
 * returns 1 for a no-op, or fails with a negative status. */
typedef int (*kiln_update_fn)(const char *old_src, size_t old_len, kiln_buf *new_src, void *ctx,
                              kiln_error *err);
int kiln_shard_update(kiln_shard *s, const char *id, size_t idlen, const kiln_write_opts *o,
                      kiln_update_fn fn, void *ctx, kiln_doc_meta *meta, kiln_result *res,
                      uint64_t *lsn, kiln_error *err);

/* Waits until the write at lsn is durable. */
int kiln_shard_sync(kiln_shard *s, uint64_t lsn, kiln_error *err);

/* Realtime get: 1 and the source appended to src if the document exists, 0 if not. */
int kiln_shard_get(kiln_shard *s, const char *id, size_t idlen, kiln_doc_meta *meta,
                   kiln_buf *src);

/* Refreshes, merges the search segments down to at most max_segments (0: as the merge
 * policy would), then flushes,
 * so the merged segment is committed and the files it replaced are deleted (_forcemerge). */
int kiln_shard_force_merge(kiln_shard *s, size_t max_segments, kiln_error *err);
/* Makes recent writes searchable. */
int kiln_shard_refresh(kiln_shard *s, kiln_error *err);
/* Writes the in-memory tail to immutable files and trims the log, then commits the search
 * index's segments. */
int kiln_shard_flush(kiln_shard *s, kiln_error *err);
/* Flushes if the log passed the flush threshold since the last flush, holding writers up only
 * briefly (the node's background thread calls it); 1 flushed, 0 not due, -1 failed. */
int kiln_shard_flush_if_due(kiln_shard *s, kiln_error *err);
/* Background upkeep of the search index, outside the write lock: merges while the policy asks
 * (paced: letting merges wait while a bulk load keeps sealing, kiln_sindex_merge_step_paced),
 * then persists sealed segments if a flush happened since. 1 if it merged, 0 if not, -1 + err. */
int kiln_shard_maintain(kiln_shard *s, int paced, kiln_error *err);
void kiln_shard_stats_get(kiln_shard *s, kiln_shard_stats *out);

/* ---- search (src/search) ----------------------------------------------------------------
 * The shard feeds every indexed document to its search index (derived data under dir/search),
 * under the write lock. A searcher is a refcounted point-in-time view: the search index reader
 * and the doc numbers live at that refresh. */
struct kiln_sindex_reader;
struct kiln_analysis_registry;
typedef struct kiln_shard_searcher {
    atomic_int refs;
    struct kiln_sindex_reader *reader;
    roaring_bitmap_t *live;
    uint64_t gen; /* the search index's generation it was built at */
} kiln_shard_searcher;
/* Returns a reference to the index's current mapping (the caller unrefs). */
typedef kiln_mapping *(*kiln_shard_mapping_fn)(void *ctx);
/* Opens the shard's search index and re-adds the documents it lacks (everything from its
 * committed_upto on), then refreshes. fn/ctx/ar must outlive the shard. */
int kiln_shard_search_attach(kiln_shard *s, kiln_shard_mapping_fn fn, void *ctx,
                             const struct kiln_analysis_registry *ar, kiln_error *err);
/* The current searcher. When refresh_after_ms >= 0 and writes are pending since a refresh at
 * least that old, refreshes first (a search-driven refresh_interval). Release exactly once. */
kiln_shard_searcher *kiln_shard_searcher_acquire(kiln_shard *s, int64_t refresh_after_ms);
/* The node's scheduled refresh (index.refresh_interval = every_ms): refreshes when writes are
 * pending and the last refresh is at least every_ms old, unless the shard is search idle: no
 * search acquired a searcher for idle_after_ms (index.search.idle.after; -1: never idle). An
 * idle shard's refresh waits for the next search, which then refreshes before it runs, as in
 * Elasticsearch. A new shard counts as searched when opened. 1 if it refreshed. */
int kiln_shard_scheduled_refresh(kiln_shard *s, int64_t every_ms, int64_t idle_after_ms);
/* Tells the shard its index.search.idle.after (-1 never idle, the default until told) so a
 * search can tell it arrives on an idle shard before any scheduled refresh ran. */
void kiln_shard_set_search_idle_after(kiln_shard *s, int64_t idle_after_ms);
/* Seals the search write buffer into a segment when it holds more than limit bytes (memory
 * stays bounded while no refresh happens); the new segment is searchable after the next
 * refresh, as a Lucene flush is. The seal runs on the calling thread. 1 if it sealed. */
int kiln_shard_seal_if_over(kiln_shard *s, size_t limit);
void kiln_shard_searcher_release(kiln_shard_searcher *sr);
/* Current doc number of _id (realtime), 0 if found. */
int kiln_shard_docnum(kiln_shard *s, const char *id, size_t idlen, uint32_t *docnum);
/* _id and _source (appended to id/src, either may be NULL) and metadata of a doc number;
 * 0 if stored. */
int kiln_shard_doc_at(kiln_shard *s, uint32_t docnum, kiln_doc_meta *meta, kiln_buf *id,
                      kiln_buf *src);

#endif
