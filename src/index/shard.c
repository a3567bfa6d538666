#include "index/shard.h"
#include "core/clock.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "index/docstore.h"
#include "index/idmap.h"
#include "index/wal.h"
#include "search/sindex.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

enum { KILN_WAL_INDEX = 1, KILN_WAL_DELETE = 2 };

/* Prepared documents kept for reuse (their buffers are warm): a _bulk request prepares up to
 * its window of documents ahead of the one it applies (api/bulk.c). */
#define KILN__PREP_POOL 96

struct kiln_shard {
    char dir[1024];
    unsigned id;
    uint64_t flush_threshold;
    pthread_rwlock_t lock; /* writers exclusive; gets and searches shared */
    kiln_wal *wal;
    kiln_docstore *ds;
    kiln_idmap ids;
    roaring_bitmap_t *deleted; /* doc numbers no longer live */
    int64_t next_seq_no;
    int64_t primary_term;
    uint64_t live_docs;
    uint64_t commit_gen;
    /* search side (see kiln_shard_search_attach) */
    kiln_sindex *si;
    kiln_shard_mapping_fn mapping_fn;
    void *mapping_ctx;
    const kiln_analysis_registry *ar;
    pthread_mutex_t searcher_lock;
    kiln_shard_searcher *searcher;
    int64_t last_refresh_ms;
    int64_t last_search_ms;  /* a search acquired a searcher (search idle after a while) */
    atomic_int idle_skipped; /* a scheduled refresh was skipped: the next search refreshes */
    int64_t idle_after_ms;   /* index.search.idle.after as last given; -1 never idle */
    atomic_uint_least64_t refreshes;
    pthread_mutex_t refresh_lock; /* one refresh at a time, so searchers are installed in order */
    atomic_int sindex_commit_due; /* a flush happened: kiln_shard_maintain persists segments */
    pthread_mutex_t flush_mu; /* one flush at a time (taken before lock) */
    atomic_int flush_due;     /* the log passed flush_threshold: kiln_shard_flush_if_due */
    /* documents are prepared for the search index outside the write lock, in these */
    pthread_mutex_t prep_lock;
    kiln_sindex_prep *preps[KILN__PREP_POOL];
    unsigned npreps;
};

static void kiln__search_add(kiln_shard *s, uint32_t docnum, const kiln_json *doc);
static void kiln__search_apply(kiln_shard *s, uint32_t docnum, const kiln_sindex_prep *p);
static kiln_sindex_prep *kiln__prep_acquire(kiln_shard *s);
static void kiln__prep_release(kiln_shard *s, kiln_sindex_prep *p);

/* ---- commit point ------------------------------------------------------------------------
 * File "commit" (replaced atomically):
 *   "KILNCMT1" | u64 gen | u64 wal_gen | i64 next_seq_no | u32 next_docnum | u32 nfiles |
 *   nfiles × (u32 first, u32 count) | u32 deleted_len | deleted (CRoaring portable format) |
 *   u64 checksum (xxh3 of everything before it) */

typedef struct {
    uint64_t gen, wal_gen;
    int64_t next_seq_no;
    uint32_t next_docnum;
    kiln_docstore_file *files;
    uint32_t nfiles;
    roaring_bitmap_t *deleted;
} kiln__commit;

static int kiln__commit_read(const char *dir, kiln__commit *c, kiln_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/commit", dir);
    memset(c, 0, sizeof *c);
    if (!kiln_fs_exists(path)) {
        c->deleted = roaring_bitmap_create();
        return 0;
    }
    char *data;
    size_t len;
    if (kiln_fs_read_all(path, &data, &len, err)) return -1;
    const uint8_t *p = (const uint8_t *)data;
    uint64_t sum;
    size_t fixed = 8 + 8 + 8 + 8 + 4 + 4;
    if (len < fixed + 4 + 8 || memcmp(p, "KILNCMT1", 8)) goto corrupt;
    memcpy(&sum, p + len - 8, 8);
    if (kiln_checksum(p, len - 8) != sum) goto corrupt;
    memcpy(&c->gen, p + 8, 8);
    memcpy(&c->wal_gen, p + 16, 8);
    memcpy(&c->next_seq_no, p + 24, 8);
    memcpy(&c->next_docnum, p + 32, 4);
    memcpy(&c->nfiles, p + 36, 4);
    size_t off = fixed;
    if (off + (size_t)c->nfiles * 8 + 4 + 8 > len) goto corrupt;
    c->files = kiln_xcalloc(c->nfiles ? c->nfiles : 1, sizeof *c->files);
    for (uint32_t i = 0; i < c->nfiles; i++, off += 8) {
        memcpy(&c->files[i].first, p + off, 4);
        memcpy(&c->files[i].count, p + off + 4, 4);
    }
    uint32_t dlen;
    memcpy(&dlen, p + off, 4);
    off += 4;
    if (off + dlen + 8 != len) goto corrupt;
    c->deleted = roaring_bitmap_portable_deserialize_safe((const char *)p + off, dlen);
    if (!c->deleted) goto corrupt;
    free(data);
    return 0;
corrupt:
    free(data);
    free(c->files);
    c->files = NULL;
    return kiln_fail(err, KILN_E_IO, "%s: corrupt commit point", path);
}

/* What a commit point records of the shard, taken with the write lock held where the log was
 * rolled: the log's later generations hold everything after it. */
typedef struct kiln__commit_snap {
    uint64_t wal_gen;
    int64_t next_seq_no;
    uint32_t next_docnum;
    roaring_bitmap_t *deleted; /* a copy */
} kiln__commit_snap;

static void kiln__commit_snap_take(kiln_shard *s, uint64_t wal_gen, kiln__commit_snap *c)
{
    *c = (kiln__commit_snap){wal_gen, s->next_seq_no, kiln_docstore_next(s->ds),
                             roaring_bitmap_copy(s->deleted)};
}

/* Writes the commit point (the docstore's files as they are now: flushes are serialised). */
static int kiln__commit_write(kiln_shard *s, kiln__commit_snap *c, kiln_error *err)
{
    kiln_buf b = KILN_BUF_INIT;
    size_t nfiles;
    const kiln_docstore_file *files = kiln_docstore_files(s->ds, &nfiles);
    uint64_t gen = s->commit_gen + 1;
    uint32_t nf = (uint32_t)nfiles;
    kiln_buf_append(&b, "KILNCMT1", 8);
    kiln_buf_append(&b, &gen, 8);
    kiln_buf_append(&b, &c->wal_gen, 8);
    kiln_buf_append(&b, &c->next_seq_no, 8);
    kiln_buf_append(&b, &c->next_docnum, 4);
    kiln_buf_append(&b, &nf, 4);
    for (size_t i = 0; i < nfiles; i++) {
        kiln_buf_append(&b, &files[i].first, 4);
        kiln_buf_append(&b, &files[i].count, 4);
    }
    roaring_bitmap_run_optimize(c->deleted);
    uint32_t dlen = (uint32_t)roaring_bitmap_portable_size_in_bytes(c->deleted);
    kiln_buf_append(&b, &dlen, 4);
    kiln_buf_reserve(&b, dlen);
    roaring_bitmap_portable_serialize(c->deleted, b.data + b.len);
    b.len += dlen;
    uint64_t sum = kiln_checksum(b.data, b.len);
    kiln_buf_append(&b, &sum, 8);
    char path[1200];
    snprintf(path, sizeof path, "%s/commit", s->dir);
    int rc = kiln_fs_write_atomic(path, b.data, b.len, err);
    kiln_buf_free(&b);
    if (rc == 0) s->commit_gen = gen;
    return rc;
}

/* ---- log records --------------------------------------------------------------------------
 * INDEX:  i64 seq_no | i64 version | i64 primary_term | u32 docnum | u32 id_len | u32 src_len |
 *         id | source
 * DELETE: i64 seq_no | i64 version | i64 primary_term | u32 id_len | id */

static void kiln__mark_deleted(kiln_shard *s, uint32_t docnum)
{
    if (docnum == KILN_DOCNUM_NONE) return;
    if (!roaring_bitmap_contains(s->deleted, docnum)) {
        roaring_bitmap_add(s->deleted, docnum);
        s->live_docs--;
    }
}

/* Applies an index operation to the in-memory state (shared by writes and replay). */
/* Points id's version-map entry at docnum (KILN_DOCNUM_NONE: a delete tombstone), marking the
 * doc it pointed at deleted: one lookup. */
static void kiln__id_set(kiln_shard *s, const char *id, size_t idlen, uint32_t docnum,
                         int64_t seq_no, int64_t version)
{
    int added;
    kiln_idmap_entry *e = kiln_idmap_upsert(&s->ids, id, idlen, &added);
    if (!added) kiln__mark_deleted(s, e->docnum);
    e->docnum = docnum;
    e->seq_no = seq_no;
    e->version = version;
}

static void kiln__apply_index(kiln_shard *s, const kiln_stored_doc *d)
{
    kiln__id_set(s, d->id, d->idlen, kiln_docstore_next(s->ds), d->seq_no, d->version);
    kiln_docstore_add(s->ds, d);
    s->live_docs++;
    if (d->seq_no >= s->next_seq_no) s->next_seq_no = d->seq_no + 1;
}

static void kiln__apply_delete(kiln_shard *s, const char *id, size_t idlen, int64_t seq_no,
                               int64_t version)
{
    kiln__id_set(s, id, idlen, KILN_DOCNUM_NONE, seq_no, version);
    if (seq_no >= s->next_seq_no) s->next_seq_no = seq_no + 1;
}

static int kiln__replay(uint32_t type, const void *payload, size_t len, void *ctx, kiln_error *err)
{
    kiln_shard *s = ctx;
    const uint8_t *p = payload;
    if (type == KILN_WAL_INDEX && len >= 36) {
        kiln_stored_doc d;
        uint32_t docnum, idlen, srclen;
        memcpy(&d.seq_no, p, 8);
        memcpy(&d.version, p + 8, 8);
        memcpy(&d.primary_term, p + 16, 8);
        memcpy(&docnum, p + 24, 4);
        memcpy(&idlen, p + 28, 4);
        memcpy(&srclen, p + 32, 4);
        if (36 + (size_t)idlen + srclen != len) goto bad;
        if (docnum != kiln_docstore_next(s->ds))
            return kiln_fail(err, KILN_E_IO,
                             "shard %s: log replay expected doc number %u but found %u", s->dir,
                             kiln_docstore_next(s->ds), docnum);
        d.id = (const char *)p + 36;
        d.idlen = idlen;
        d.src = d.id + idlen;
        d.srclen = srclen;
        kiln__apply_index(s, &d);
        return 0;
    }
    if (type == KILN_WAL_DELETE && len >= 28) {
        int64_t seq_no, version;
        uint32_t idlen;
        memcpy(&seq_no, p, 8);
        memcpy(&version, p + 8, 8);
        memcpy(&idlen, p + 24, 4);
        if (28 + (size_t)idlen != len) goto bad;
        kiln__apply_delete(s, (const char *)p + 28, idlen, seq_no, version);
        return 0;
    }
bad:
    return kiln_fail(err, KILN_E_IO, "shard %s: malformed log record of type %u", s->dir, type);
}

/* ---- open / close ------------------------------------------------------------------------ */

kiln_shard *kiln_shard_open(const char *dir, unsigned shard_id, uint64_t flush_threshold_bytes,
                            kiln_zcodec codec, kiln_error *err)
{
    kiln_shard *s = kiln_xcalloc(1, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->id = shard_id;
    s->flush_threshold = flush_threshold_bytes;
    s->primary_term = 1;
    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->searcher_lock, NULL);
    pthread_mutex_init(&s->refresh_lock, NULL);
    pthread_mutex_init(&s->prep_lock, NULL);
    pthread_mutex_init(&s->flush_mu, NULL);
    s->last_search_ms = kiln_mono_ms(); /* as ES: a new shard is not search idle at once */
    s->idle_after_ms = -1;
    kiln_idmap_init(&s->ids);
    kiln__commit c;
    char sub[1200];
    if (kiln_fs_mkdirs(dir, err) || kiln__commit_read(dir, &c, err)) goto fail_nocommit;
    s->deleted = c.deleted;
    s->commit_gen = c.gen;
    s->next_seq_no = c.next_seq_no;
    snprintf(sub, sizeof sub, "%s/docs", dir);
    s->ds = kiln_docstore_open(sub, c.files, c.nfiles, codec, err);
    free(c.files);
    if (!s->ds) goto fail;
    if (kiln_docstore_next(s->ds) != c.next_docnum && c.gen) {
        kiln_fail(err, KILN_E_IO, "shard %s: commit point and stored documents disagree", dir);
        goto fail;
    }
    /* Rebuild the version map from the stored documents. */
    for (uint32_t d = 0; d < kiln_docstore_next(s->ds); d++) {
        kiln_stored_doc sd;
        if (kiln_docstore_get(s->ds, d, &sd)) continue;
        if (roaring_bitmap_contains(s->deleted, d)) continue;
        kiln_idmap_put(&s->ids, sd.id, sd.idlen, d, sd.seq_no, sd.version);
        s->live_docs++;
    }
    snprintf(sub, sizeof sub, "%s/translog", dir);
    s->wal = kiln_wal_open(sub, c.wal_gen, kiln__replay, s, err);
    if (!s->wal) goto fail;
    return s;
fail_nocommit:
    s->deleted = roaring_bitmap_create();
fail:
    kiln_shard_close(s);
    return NULL;
}

static int kiln__refresh(kiln_shard *s, kiln_error *err);

void kiln_shard_close(kiln_shard *s)
{
    if (!s) return;
    if (s->wal && s->ds) {
        kiln_error err;
        if (s->si && kiln__refresh(s, &err)) /* sealed, so the flush persists it all */
            KILN_WARN("shard", "%s: refresh on close failed: %s", s->dir, err.reason);
        if (kiln_shard_flush(s, &err))
            KILN_WARN("shard", "%s: flush on close failed: %s (the log still has the writes)",
                      s->dir, err.reason);
    }
    if (s->searcher) kiln_shard_searcher_release(s->searcher);
    kiln_sindex_close(s->si);
    pthread_mutex_destroy(&s->refresh_lock);
    pthread_mutex_destroy(&s->searcher_lock);
    for (unsigned i = 0; i < s->npreps; i++)
        kiln_sindex_prep_free(s->preps[i]);
    pthread_mutex_destroy(&s->prep_lock);
    pthread_mutex_destroy(&s->flush_mu);
    kiln_wal_close(s->wal);
    kiln_docstore_close(s->ds);
    kiln_idmap_dispose(&s->ids);
    if (s->deleted) roaring_bitmap_free(s->deleted);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

/* ---- writes ------------------------------------------------------------------------------ */

static int kiln__version_check(const kiln_shard *s, const char *id, size_t idlen,
                               const kiln_idmap_entry *e, const kiln_write_opts *o, kiln_error *err)
{
    int live = e && e->docnum != KILN_DOCNUM_NONE;
    if (o->op_create && live)
        return kiln_fail(err, KILN_E_VERSION_CONFLICT,
                         "[%.*s]: version conflict, document already exists (current version "
                         "[%" PRId64 "])",
                         (int)idlen, id, e->version);
    if (o->if_seq_no != -2 || o->if_primary_term != -2) {
        if (!live)
            return kiln_fail(err, KILN_E_VERSION_CONFLICT,
                             "[%.*s]: version conflict, required seqNo [%" PRId64
                             "], primary term [%" PRId64 "] but no document was found",
                             (int)idlen, id, o->if_seq_no, o->if_primary_term);
        if (e->seq_no != o->if_seq_no || s->primary_term != o->if_primary_term)
            return kiln_fail(
                err, KILN_E_VERSION_CONFLICT,
                "[%.*s]: version conflict, required seqNo [%" PRId64 "], primary term [%" PRId64
                "]. current document has seqNo [%" PRId64 "] and primary term [%" PRId64 "]",
                (int)idlen, id, o->if_seq_no, o->if_primary_term, e->seq_no, s->primary_term);
    }
    return 0;
}

/* Flushes when the log has grown past the threshold. Called with the write lock held. */
static int kiln__flush(kiln_shard *s, int held, kiln_error *err);

/* Past the threshold the node's background thread flushes (kiln_shard_flush_if_due) without
 * holding writers up; past twice the threshold (no background thread, or it fell behind) the
 * writer flushes here, as a bound on the log's size. */
static void kiln__maybe_flush(kiln_shard *s)
{
    uint64_t size = kiln_wal_size(s->wal);
    if (size < s->flush_threshold) return;
    atomic_store(&s->flush_due, 1);
    if (size / 2 < s->flush_threshold || pthread_mutex_trylock(&s->flush_mu)) return;
    kiln_error err;
    if (kiln__flush(s, 1, &err))
        KILN_WARN("shard", "%s: automatic flush failed: %s", s->dir, err.reason);
    pthread_mutex_unlock(&s->flush_mu);
}

static int kiln__index_locked(kiln_shard *s, const char *id, size_t idlen, const char *src,
                              size_t srclen, const kiln_sindex_prep *prep,
                              const kiln_idmap_entry *e, kiln_doc_meta *meta, kiln_result *res,
                              uint64_t *lsn, kiln_error *err)
{
    int live = e && e->docnum != KILN_DOCNUM_NONE;
    kiln_stored_doc d = {
        id, idlen, src, srclen, s->next_seq_no, e ? e->version + 1 : 1, s->primary_term};
    uint32_t docnum = kiln_docstore_next(s->ds);
    uint8_t head[36];
    uint32_t il = (uint32_t)idlen, sl = (uint32_t)srclen;
    memcpy(head, &d.seq_no, 8);
    memcpy(head + 8, &d.version, 8);
    memcpy(head + 16, &d.primary_term, 8);
    memcpy(head + 24, &docnum, 4);
    memcpy(head + 28, &il, 4);
    memcpy(head + 32, &sl, 4);
    /* One record: header, id, source, written from where they are. */
    struct iovec parts[3] = {{head, sizeof head}, {(void *)id, idlen}, {(void *)src, srclen}};
    *lsn = kiln_wal_appendv(s->wal, KILN_WAL_INDEX, parts, 3, err);
    if (!*lsn) return -1;
    kiln__apply_index(s, &d);
    kiln__search_apply(s, docnum, prep);
    *meta = (kiln_doc_meta){docnum, d.seq_no, d.version, d.primary_term};
    *res = live ? KILN_RESULT_UPDATED : KILN_RESULT_CREATED;
    return 0;
}

kiln_sindex_prep *kiln_shard_prepare(kiln_shard *s, const kiln_json *doc)
{
    if (!s->si || !doc) return NULL;
    kiln_sindex_prep *prep = kiln__prep_acquire(s);
    kiln_mapping *m = s->mapping_fn(s->mapping_ctx);
    kiln_sindex_prepare(prep, doc, m, s->ar);
    kiln_mapping_unref(m);
    return prep;
}

void kiln_shard_prep_release(kiln_shard *s, kiln_sindex_prep *prep)
{
    if (prep) kiln__prep_release(s, prep);
}

int kiln_shard_assist(kiln_shard *s)
{
    return kiln_docstore_compress(s->ds); /* s->ds is set at open, never replaced */
}

void kiln_shard_write_hold(kiln_shard *s)
{
    pthread_rwlock_wrlock(&s->lock);
}

int kiln_shard_write_try_hold(kiln_shard *s)
{
    return pthread_rwlock_trywrlock(&s->lock) == 0;
}

void kiln_shard_write_release(kiln_shard *s)
{
    pthread_rwlock_unlock(&s->lock);
}

int kiln_shard_index_prepared_held(kiln_shard *s, const char *id, size_t idlen, const char *src,
                                   size_t srclen, const kiln_sindex_prep *prep,
                                   const kiln_write_opts *o, kiln_doc_meta *meta, kiln_result *res,
                                   uint64_t *lsn, kiln_error *err)
{
    kiln_idmap_entry *e = kiln_idmap_get(&s->ids, id, idlen);
    int rc = kiln__version_check(s, id, idlen, e, o, err);
    if (rc == 0) rc = kiln__index_locked(s, id, idlen, src, srclen, prep, e, meta, res, lsn, err);
    if (rc == 0) kiln__maybe_flush(s);
    return rc;
}

int kiln_shard_index_prepared(kiln_shard *s, const char *id, size_t idlen, const char *src,
                              size_t srclen, const kiln_sindex_prep *prep, const kiln_write_opts *o,
                              kiln_doc_meta *meta, kiln_result *res, uint64_t *lsn, kiln_error *err)
{
    pthread_rwlock_wrlock(&s->lock);
    int rc = kiln_shard_index_prepared_held(s, id, idlen, src, srclen, prep, o, meta, res, lsn, err);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int kiln_shard_index(kiln_shard *s, const char *id, size_t idlen, const char *src, size_t srclen,
                     const kiln_json *doc, const kiln_write_opts *o, kiln_doc_meta *meta,
                     kiln_result *res, uint64_t *lsn, kiln_error *err)
{
    /* the costly half of indexing (walk, analysis, hashing) runs here, before the lock */
    kiln_sindex_prep *prep = kiln_shard_prepare(s, doc);
    int rc = kiln_shard_index_prepared(s, id, idlen, src, srclen, prep, o, meta, res, lsn, err);
    kiln_shard_prep_release(s, prep);
    return rc;
}

int kiln_shard_delete(kiln_shard *s, const char *id, size_t idlen, const kiln_write_opts *o,
                      kiln_doc_meta *meta, kiln_result *res, uint64_t *lsn, kiln_error *err)
{
    pthread_rwlock_wrlock(&s->lock);
    kiln_idmap_entry *e = kiln_idmap_get(&s->ids, id, idlen);
    int rc = kiln__version_check(s, id, idlen, e, o, err);
    if (rc) goto out;
    int live = e && e->docnum != KILN_DOCNUM_NONE;
    int64_t seq_no = s->next_seq_no, version = e ? e->version + 1 : 1;
    uint8_t head[28];
    uint32_t il = (uint32_t)idlen;
    memcpy(head, &seq_no, 8);
    memcpy(head + 8, &version, 8);
    memcpy(head + 16, &s->primary_term, 8);
    memcpy(head + 24, &il, 4);
    kiln_buf rec = KILN_BUF_INIT;
    kiln_buf_append(&rec, head, sizeof head);
    kiln_buf_append(&rec, id, idlen);
    *lsn = kiln_wal_append(s->wal, KILN_WAL_DELETE, rec.data, rec.len, err);
    kiln_buf_free(&rec);
    if (!*lsn) {
        rc = -1;
        goto out;
    }
    kiln__apply_delete(s, id, idlen, seq_no, version);
    *meta = (kiln_doc_meta){KILN_DOCNUM_NONE, seq_no, version, s->primary_term};
    *res = live ? KILN_RESULT_DELETED : KILN_RESULT_NOT_FOUND;
    kiln__maybe_flush(s);
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int kiln_shard_update(kiln_shard *s, const char *id, size_t idlen, const kiln_write_opts *o,
                      kiln_update_fn fn, void *ctx, kiln_doc_meta *meta, kiln_result *res,
                      uint64_t *lsn, kiln_error *err)
{
    pthread_rwlock_wrlock(&s->lock);
    kiln_idmap_entry *e = kiln_idmap_get(&s->ids, id, idlen);
    int live = e && e->docnum != KILN_DOCNUM_NONE;
    kiln_buf out = KILN_BUF_INIT;
    kiln_json doc = KILN_JSON_INIT;
    int rc = kiln__version_check(s, id, idlen, e, o, err);
    if (rc) goto out;
    kiln_stored_doc old;
    if (live && kiln_docstore_get(s->ds, e->docnum, &old) == 0)
        rc = fn(old.src, old.srclen, &out, ctx, err);
    else
        rc = fn(NULL, 0, &out, ctx, err);
    if (rc < 0) goto out;
    if (rc == 1) { /* no-op: report the current version */
        *meta = (kiln_doc_meta){e->docnum, e->seq_no, e->version, s->primary_term};
        *res = KILN_RESULT_NOOP;
        *lsn = 0;
        rc = 0;
        goto out;
    }
    /* the new source is what fn serialised; the search index reads it back */
    kiln_sindex_prep *prep = NULL;
    if (s->si && out.len && kiln_json_parse(&doc, out.data, out.len) == 0) {
        prep = kiln__prep_acquire(s);
        kiln_mapping *m = s->mapping_fn(s->mapping_ctx);
        kiln_sindex_prepare(prep, &doc, m, s->ar);
        kiln_mapping_unref(m);
    }
    rc = kiln__index_locked(s, id, idlen, out.data, out.len, prep, e, meta, res, lsn, err);
    if (prep) kiln__prep_release(s, prep);
    if (rc == 0) kiln__maybe_flush(s);
out:
    pthread_rwlock_unlock(&s->lock);
    kiln_json_dispose(&doc);
    kiln_buf_free(&out);
    return rc;
}

int kiln_shard_sync(kiln_shard *s, uint64_t lsn, kiln_error *err)
{
    if (lsn == 0) return 0;
    return kiln_wal_sync(s->wal, lsn, err);
}

int kiln_shard_get(kiln_shard *s, const char *id, size_t idlen, kiln_doc_meta *meta, kiln_buf *src)
{
    pthread_rwlock_rdlock(&s->lock);
    kiln_idmap_entry *e = kiln_idmap_get(&s->ids, id, idlen);
    int found = 0;
    kiln_stored_doc d;
    if (e && e->docnum != KILN_DOCNUM_NONE && kiln_docstore_get(s->ds, e->docnum, &d) == 0) {
        *meta = (kiln_doc_meta){e->docnum, d.seq_no, d.version, d.primary_term};
        if (src) kiln_buf_append(src, d.src, d.srclen);
        found = 1;
    }
    pthread_rwlock_unlock(&s->lock);
    return found;
}

int kiln_shard_refresh(kiln_shard *s, kiln_error *err)
{
    if (!s->si) return 0;
    return kiln__refresh(s, err);
}

/* A flush: the stored documents' tail to an immutable file, the log rolled, a new commit point,
 * the older log generations dropped (flush_mu held: flushes are serialised). With `held` the
 * caller holds the write lock throughout (POST _flush; a writer that found the log at twice the
 * threshold). Without, writers are held up only at the start (the log rolls, the docs to flush
 * are fixed) and the end (their file replaces them in memory): the file, hundreds of
 * milliseconds of writing and fsync, is written while writes go on. Documents written meanwhile
 * are in the new log generation, which the commit point names. */
static int kiln__flush(kiln_shard *s, int held, kiln_error *err)
{
    if (!held) pthread_rwlock_wrlock(&s->lock);
    kiln_docstore_flush_job j;
    kiln_docstore_flush_begin(s->ds, &j);
    uint64_t gen;
    int rc = kiln_wal_roll(s->wal, &gen, err);
    kiln__commit_snap c = {0};
    if (rc == 0) kiln__commit_snap_take(s, gen, &c);
    atomic_store(&s->flush_due, 0);
    if (!held) pthread_rwlock_unlock(&s->lock);
    if (rc == 0) rc = kiln_docstore_flush_write(s->ds, &j, err);
    if (rc == 0) {
        if (!held) pthread_rwlock_wrlock(&s->lock);
        rc = kiln_docstore_flush_end(s->ds, &j, err);
        if (!held) pthread_rwlock_unlock(&s->lock);
    }
    /* after the file is mapped: a commit naming it must not precede a retry that rewrites it */
    if (rc == 0) rc = kiln__commit_write(s, &c, err);
    if (rc == 0) {
        if (!held) pthread_rwlock_wrlock(&s->lock);
        kiln_wal_drop_before(s->wal, gen);
        if (!held) pthread_rwlock_unlock(&s->lock);
        /* the search index is derived from the stored documents: its segments are persisted
         * outside the write lock (kiln_shard_flush, kiln_shard_maintain) */
        if (s->si) atomic_store(&s->sindex_commit_due, 1);
    }
    roaring_bitmap_free(c.deleted);
    return rc ? -1 : 0;
}

int kiln_shard_flush(kiln_shard *s, kiln_error *err)
{
    pthread_mutex_lock(&s->flush_mu);
    pthread_rwlock_wrlock(&s->lock);
    int rc = kiln_docstore_tail_bytes(s->ds) || kiln_wal_size(s->wal)
                 ? kiln__flush(s, 1, err)
                 : 0;
    pthread_rwlock_unlock(&s->lock);
    pthread_mutex_unlock(&s->flush_mu);
    if (rc == 0 && s->si) {
        atomic_store(&s->sindex_commit_due, 0);
        rc = kiln_sindex_commit_sealed(s->si, err);
    }
    return rc;
}

int kiln_shard_flush_if_due(kiln_shard *s, kiln_error *err)
{
    if (!atomic_load(&s->flush_due)) return 0;
    pthread_mutex_lock(&s->flush_mu);
    int rc = kiln__flush(s, 0, err);
    pthread_mutex_unlock(&s->flush_mu);
    return rc ? -1 : 1;
}

int kiln_shard_force_merge(kiln_shard *s, size_t max_segments, kiln_error *err)
{
    if (!s->si) return 0;
    if (kiln_shard_refresh(s, err)) return -1; /* the write buffer becomes a segment too */
    kiln_sindex_force_merge(s->si, max_segments);
    return kiln_shard_flush(s, err); /* the merged segment on disk, the old files gone */
}

int kiln_shard_maintain(kiln_shard *s, int paced, kiln_error *err)
{
    if (!s->si) return 0;
    int merged = 0;
    while ((paced ? kiln_sindex_merge_step_paced(s->si) : kiln_sindex_merge_step(s->si)) > 0)
        merged = 1;
    if (atomic_exchange(&s->sindex_commit_due, 0) && kiln_sindex_commit_sealed(s->si, err))
        return -1;
    return merged;
}

void kiln_shard_stats_get(kiln_shard *s, kiln_shard_stats *out)
{
    pthread_rwlock_rdlock(&s->lock);
    out->docs = s->live_docs;
    out->deleted = roaring_bitmap_get_cardinality(s->deleted);
    out->store_bytes =
        kiln_docstore_disk_bytes(s->ds) + kiln_wal_size(s->wal) + kiln_docstore_tail_bytes(s->ds);
    out->max_seq_no = s->next_seq_no - 1;
    out->refreshes = atomic_load(&s->refreshes);
    out->search_idle = (uint64_t)atomic_load(&s->idle_skipped);
    pthread_rwlock_unlock(&s->lock);
}

/* ---- search ------------------------------------------------------------------------------ */

static kiln_sindex_prep *kiln__prep_acquire(kiln_shard *s)
{
    pthread_mutex_lock(&s->prep_lock);
    kiln_sindex_prep *p = s->npreps ? s->preps[--s->npreps] : NULL;
    pthread_mutex_unlock(&s->prep_lock);
    return p ? p : kiln_sindex_prep_new();
}

static void kiln__prep_release(kiln_shard *s, kiln_sindex_prep *p)
{
    pthread_mutex_lock(&s->prep_lock);
    if (s->npreps < sizeof s->preps / sizeof *s->preps) {
        s->preps[s->npreps++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&s->prep_lock);
    kiln_sindex_prep_free(p);
}

/* Applies a prepared document to the search index (write lock held). The index is derived
 * data: a failure here is logged, never fails the acknowledged write. */
static void kiln__search_apply(kiln_shard *s, uint32_t docnum, const kiln_sindex_prep *p)
{
    if (!s->si || !p) return;
    kiln_error err;
    if (kiln_sindex_add_prepared(s->si, docnum, p, &err))
        KILN_WARN("shard", "%s: search index: doc %u: %s", s->dir, docnum, err.reason);
}

/* Prepares and applies in one go (write lock held: recovery's catch-up). */
static void kiln__search_add(kiln_shard *s, uint32_t docnum, const kiln_json *doc)
{
    if (!s->si || !doc) return;
    kiln_sindex_prep *p = kiln__prep_acquire(s);
    kiln_mapping *m = s->mapping_fn(s->mapping_ctx);
    kiln_sindex_prepare(p, doc, m, s->ar);
    kiln_mapping_unref(m);
    kiln__search_apply(s, docnum, p);
    kiln__prep_release(s, p);
}

/* Seals pending docs and publishes a new searcher. The write lock is held only to detach the
 * buffer and freeze the live docs; sealing runs while writes go on. */
static int kiln__refresh(kiln_shard *s, kiln_error *err)
{
    pthread_mutex_lock(&s->refresh_lock);
    pthread_rwlock_wrlock(&s->lock);
    kiln_sindex_freeze(s->si);
    uint32_t next = kiln_docstore_next(s->ds); /* from_range(0, 0) is NULL in CRoaring 0.2 */
    roaring_bitmap_t *live = next ? roaring_bitmap_from_range(0, next, 1) : roaring_bitmap_create();
    roaring_bitmap_andnot_inplace(live, s->deleted);
    pthread_rwlock_unlock(&s->lock);
    roaring_bitmap_run_optimize(live);
    if (kiln_sindex_publish(s->si, err)) {
        roaring_bitmap_free(live);
        pthread_mutex_unlock(&s->refresh_lock);
        return -1;
    }
    kiln_shard_searcher *sr = kiln_xcalloc(1, sizeof *sr);
    atomic_init(&sr->refs, 1);
    sr->gen = kiln_sindex_generation(s->si); /* before the reader: a merge in between only
                                                makes the searcher look stale */
    sr->reader = kiln_sindex_reader_acquire(s->si);
    sr->live = live;
    pthread_mutex_lock(&s->searcher_lock);
    kiln_shard_searcher *old = s->searcher;
    s->searcher = sr;
    __atomic_store_n(&s->last_refresh_ms, kiln_mono_ms(), __ATOMIC_RELAXED);
    atomic_fetch_add(&s->refreshes, 1);
    pthread_mutex_unlock(&s->searcher_lock);
    pthread_mutex_unlock(&s->refresh_lock);
    if (old) kiln_shard_searcher_release(old);
    return 0;
}

int kiln_shard_search_attach(kiln_shard *s, kiln_shard_mapping_fn fn, void *ctx,
                             const kiln_analysis_registry *ar, kiln_error *err)
{
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/search", s->dir);
    pthread_rwlock_wrlock(&s->lock);
    s->mapping_fn = fn;
    s->mapping_ctx = ctx;
    s->ar = ar;
    s->si = kiln_sindex_open(sub, err);
    int rc = s->si ? 0 : -1;
    /* catch up: the search index may lack what the log replay and stored files hold */
    kiln_json doc = KILN_JSON_INIT;
    for (uint32_t d = s->si ? kiln_sindex_committed_upto(s->si) : 0;
         rc == 0 && d < kiln_docstore_next(s->ds); d++) {
        kiln_stored_doc sd;
        if (kiln_docstore_get(s->ds, d, &sd) || roaring_bitmap_contains(s->deleted, d)) continue;
        if (kiln_json_parse(&doc, sd.src, sd.srclen) == 0) kiln__search_add(s, d, &doc);
    }
    kiln_json_dispose(&doc);
    pthread_rwlock_unlock(&s->lock);
    if (rc == 0) rc = kiln__refresh(s, err);
    return rc;
}

/* Writes not yet in the current searcher: pending in the write buffer, or sealed (a flush or
 * a full buffer) since the searcher was built. */
static int kiln__stale(kiln_shard *s)
{
    pthread_mutex_lock(&s->searcher_lock);
    int stale = !s->searcher || s->searcher->gen != kiln_sindex_generation(s->si);
    pthread_mutex_unlock(&s->searcher_lock);
    return stale || kiln_sindex_pending(s->si);
}

static int kiln__refresh_due(kiln_shard *s, int64_t after_ms)
{
    return after_ms >= 0 && kiln__stale(s) &&
           kiln_mono_ms() - __atomic_load_n(&s->last_refresh_ms, __ATOMIC_RELAXED) >= after_ms;
}

static void kiln__refresh_logged(kiln_shard *s)
{
    kiln_error err;
    if (kiln__refresh(s, &err)) KILN_WARN("shard", "%s: refresh failed: %s", s->dir, err.reason);
}

static kiln_shard_searcher *kiln__searcher_ref(kiln_shard *s)
{
    pthread_mutex_lock(&s->searcher_lock);
    kiln_shard_searcher *sr = s->searcher;
    if (sr) atomic_fetch_add(&sr->refs, 1);
    pthread_mutex_unlock(&s->searcher_lock);
    return sr;
}

kiln_shard_searcher *kiln_shard_searcher_acquire(kiln_shard *s, int64_t refresh_after_ms)
{
    if (!s->si) return NULL;
    /* a search on a search-idle shard (or one whose scheduled refresh was skipped) refreshes
     * first and waits for it, however recent the last refresh */
    int64_t now = kiln_mono_ms(), after = __atomic_load_n(&s->idle_after_ms, __ATOMIC_RELAXED);
    int64_t last = __atomic_exchange_n(&s->last_search_ms, now, __ATOMIC_RELAXED);
    int idle = atomic_exchange(&s->idle_skipped, 0) || (after >= 0 && now - last >= after);
    if (refresh_after_ms >= 0 &&
        ((idle && kiln__stale(s)) || kiln__refresh_due(s, refresh_after_ms)))
        kiln__refresh_logged(s);
    return kiln__searcher_ref(s);
}

void kiln_shard_set_search_idle_after(kiln_shard *s, int64_t idle_after_ms)
{
    __atomic_store_n(&s->idle_after_ms, idle_after_ms, __ATOMIC_RELAXED);
}

int kiln_shard_scheduled_refresh(kiln_shard *s, int64_t every_ms, int64_t idle_after_ms)
{
    kiln_shard_set_search_idle_after(s, idle_after_ms);
    if (!s->si || !kiln__refresh_due(s, every_ms)) return 0;
    if (idle_after_ms >= 0 &&
        kiln_mono_ms() - __atomic_load_n(&s->last_search_ms, __ATOMIC_RELAXED) >= idle_after_ms) {
        atomic_store(&s->idle_skipped, 1);
        return 0;
    }
    kiln__refresh_logged(s);
    return 1;
}

int kiln_shard_seal_if_over(kiln_shard *s, size_t limit)
{
    if (!s->si || kiln_sindex_buffer_bytes(s->si) <= limit) return 0;
    pthread_rwlock_wrlock(&s->lock);
    kiln_sindex_freeze(s->si); /* O(fields): writers wait only for this */
    pthread_rwlock_unlock(&s->lock);
    kiln_error err;
    if (kiln_sindex_publish(s->si, &err)) {
        KILN_WARN("shard", "%s: sealing the search buffer failed: %s", s->dir, err.reason);
        return 0;
    }
    return 1;
}

void kiln_shard_searcher_release(kiln_shard_searcher *sr)
{
    if (!sr || atomic_fetch_sub(&sr->refs, 1) != 1) return;
    kiln_sindex_reader_release(sr->reader);
    roaring_bitmap_free(sr->live);
    free(sr);
}

int kiln_shard_docnum(kiln_shard *s, const char *id, size_t idlen, uint32_t *docnum)
{
    pthread_rwlock_rdlock(&s->lock);
    kiln_idmap_entry *e = kiln_idmap_get(&s->ids, id, idlen);
    int rc = e && e->docnum != KILN_DOCNUM_NONE ? (*docnum = e->docnum, 0) : -1;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int kiln_shard_doc_at(kiln_shard *s, uint32_t docnum, kiln_doc_meta *meta, kiln_buf *id,
                      kiln_buf *src)
{
    pthread_rwlock_rdlock(&s->lock);
    kiln_stored_doc d;
    int rc = kiln_docstore_get(s->ds, docnum, &d) ? -1 : 0;
    if (rc == 0) {
        if (meta) *meta = (kiln_doc_meta){docnum, d.seq_no, d.version, d.primary_term};
        if (id) kiln_buf_append(id, d.id, d.idlen);
        if (src) kiln_buf_append(src, d.src, d.srclen);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}
