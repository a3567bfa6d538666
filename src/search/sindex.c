/* Search index lifecycle: open/close, refresh (seal + publish a reader), readers, term
 * dictionary lookups and the doc-values reader API. */
#include "search/searchInt.h"

#include "core/clock.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/log.h"
#include "index/zblock.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A write buffer detached by kiln_sindex_freeze, waiting to be sealed. */
typedef struct kiln__frozen {
    kiln__writer w;
    kiln__fields fs; /* the fields' buffered values (definitions copied) */
    uint32_t upto;   /* every docnum below was added before the freeze */
    struct kiln__frozen *next;
} kiln__frozen;

void (*kiln_sindex_merge_hook)(void *ctx);
void *kiln_sindex_merge_hook_ctx;

static kiln_sindex_reader *kiln__reader_new(kiln_segment **segs, size_t n)
{
    kiln_sindex_reader *r = kiln_xcalloc(1, sizeof *r);
    atomic_init(&r->refs, 1);
    r->nsegs = n;
    r->segs = kiln_xmalloc((n + 1) * sizeof *r->segs);
    r->bases = kiln_xmalloc((n + 1) * sizeof *r->bases);
    for (size_t i = 0; i < n; i++) {
        r->segs[i] = segs[i];
        r->bases[i] = segs[i]->base;
        kiln__segment_ref(segs[i]);
    }
    return r;
}

static void kiln__push_segment(kiln_sindex *si, kiln_segment *s)
{
    if (si->nsegs == si->segs_cap) {
        si->segs_cap = si->segs_cap ? si->segs_cap * 2 : 8;
        si->segs = kiln_xrealloc(si->segs, si->segs_cap * sizeof *si->segs);
    }
    si->segs[si->nsegs++] = s;
}

kiln_sindex *kiln_sindex_open(const char *dir, kiln_error *err)
{
    if (dir && kiln_fs_mkdirs(dir, err)) return NULL;
    kiln_sindex *si = kiln_xcalloc(1, sizeof *si);
    si->dir = dir ? kiln_xstrdup(dir) : NULL;
    pthread_mutex_init(&si->lock, NULL);
    pthread_mutex_init(&si->publish_lock, NULL);
    pthread_mutex_init(&si->merge_lock, NULL);
    kiln__writer_init(&si->w);
    if (dir) { /* the last commit's segments, memory-mapped */
        uint32_t upto, *bases;
        size_t n;
        if (kiln__commit_read(dir, &upto, &bases, &n, err)) goto fail;
        for (size_t i = 0; i < n; i++) {
            kiln_segment *s = kiln__segment_open(dir, bases[i], err);
            if (!s) {
                free(bases);
                goto fail;
            }
            s->persisted = 1;
            kiln__push_segment(si, s);
        }
        free(bases);
        si->next_docnum = si->sealed_upto = si->committed_upto = upto;
        si->busy_sealed = upto; /* opening is not a load: the merge policy is not paced */
    }
    si->current = kiln__reader_new(si->segs, si->nsegs);
    return si;
fail:
    si->current = kiln__reader_new(NULL, 0);
    kiln_sindex_close(si);
    return NULL;
}

static void kiln__fields_free(kiln__fields *fs)
{
    for (uint32_t i = 0; i < fs->n; i++) {
        kiln__wfield *f = &fs->v[i];
        free(f->path);
        free(f->norms);
        free(f->dv_doc);
        free(f->dv_val.i64);
        free(f->str_blob.p);
        free(f->str_off);
    }
    free(fs->v);
    memset(fs, 0, sizeof *fs);
}

static void kiln__frozen_free(kiln__frozen *fz)
{
    if (!fz) return;
    kiln__fields none = {0};
    kiln__writer_reset(&fz->w, &none, 0);
    kiln__writer_free(&fz->w);
    kiln__fields_free(&fz->fs);
    free(fz);
}

void kiln_sindex_close(kiln_sindex *si)
{
    if (!si) return;
    kiln_sindex_reader_release(si->current);
    for (size_t i = 0; i < si->nsegs; i++)
        kiln__segment_unref(si->segs[i]);
    free(si->segs);
    free(si->obsolete);
    while (si->frozen) {
        kiln__frozen *next = si->frozen->next;
        kiln__frozen_free(si->frozen);
        si->frozen = next;
    }
    kiln__frozen_free(si->spare);
    kiln__writer_reset(&si->w, &si->fields, 0);
    kiln__writer_free(&si->w);
    kiln__fields_free(&si->fields);
    if (si->cached_m) kiln_mapping_unref(si->cached_m);
    free(si->m_fid);
    free(si->m_multi);
    free(si->m_multi_at);
    pthread_mutex_destroy(&si->merge_lock);
    pthread_mutex_destroy(&si->publish_lock);
    pthread_mutex_destroy(&si->lock);
    free(si->dir);
    free(si);
}

static void kiln__publish(kiln_sindex *si)
{
    pthread_mutex_lock(&si->lock);
    kiln_sindex_reader *old = si->current;
    si->current = kiln__reader_new(si->segs, si->nsegs);
    atomic_fetch_add(&si->gen, 1);
    pthread_mutex_unlock(&si->lock);
    kiln_sindex_reader_release(old);
}

uint64_t kiln_sindex_generation(const kiln_sindex *si)
{
    return atomic_load(&((kiln_sindex *)si)->gen);
}

/* ---- freeze: the buffer moves aside in O(fields) ------------------------------------------- */

/* Copies dst <- src; the doc count, which searchers read concurrently (kiln_sindex_pending), is
 * stored atomically. */
static void kiln__writer_move(kiln__writer *dst, const kiln__writer *src)
{
    size_t at = offsetof(kiln__writer, count), end = at + sizeof dst->count;
    memcpy(dst, src, at);
    memcpy((char *)dst + end, (const char *)src + end, sizeof *dst - end);
    __atomic_store_n(&dst->count, src->count, __ATOMIC_RELAXED);
}

/* The fields' buffered values move to out; the live fields keep their definitions (ids are
 * stable) and start empty, as kiln__writer_reset leaves them, in the arrays of `reuse` (a
 * sealed buffer's, emptied by kiln__fields_recycle) where it has them: a buffer refilled every
 * second would otherwise regrow them from nothing (realloc copies and fresh pages each time). */
static void kiln__fields_detach(kiln__fields *live, kiln__fields *out, kiln__fields *reuse)
{
    out->n = out->cap = live->n;
    out->v = kiln_xcalloc(live->n ? live->n : 1, sizeof *out->v);
    for (uint32_t i = 0; i < live->n; i++) {
        kiln__wfield *f = &live->v[i], *o = &out->v[i];
        *o = *f;
        o->path = kiln_xstrdup(f->path);
        kiln__wfield *r = i < reuse->n ? &reuse->v[i] : NULL;
        f->norms = r ? r->norms : NULL;
        f->norms_cap = r ? r->norms_cap : 0;
        f->dv_doc = r ? r->dv_doc : NULL;
        f->dv_val.i64 = r ? r->dv_val.i64 : NULL;
        f->dv_cap = r ? r->dv_cap : 0;
        f->dv_n = 0;
        if (r)
            f->str_blob = r->str_blob;
        else
            memset(&f->str_blob, 0, sizeof f->str_blob);
        f->str_blob.len = 0;
        f->str_off = r ? r->str_off : NULL;
        f->str_cap = r ? r->str_cap : 0;
        f->str_n = 0;
        f->twin_broken = 0;
        f->doc_count = 0;
        f->sum_ttf = 0;
        f->cur_doc1 = f->cur_len = f->next_pos = 0;
        if (r) { /* the arrays are the live field's now */
            free(r->path);
            memset(r, 0, sizeof *r);
        }
    }
}

/* Empties a sealed buffer's fields for reuse by the next freeze: norms zeroed here, on the
 * refresher's thread, rather than under the shard's write lock. */
static void kiln__fields_recycle(kiln__fields *fs)
{
    for (uint32_t i = 0; i < fs->n; i++) {
        kiln__wfield *f = &fs->v[i];
        if (f->norms) memset(f->norms, 0, f->norms_cap);
        f->dv_n = f->str_n = 0;
        f->str_blob.len = 0;
    }
}

void kiln_sindex_freeze(kiln_sindex *si)
{
    if (si->w.count == 0) return; /* we are the writer: a plain read is ours */
    pthread_mutex_lock(&si->lock);
    kiln__frozen *fz = si->spare;
    si->spare = NULL;
    pthread_mutex_unlock(&si->lock);
    if (!fz) {
        fz = kiln_xcalloc(1, sizeof *fz);
        kiln__writer_init(&fz->w);
    }
    /* fz->w is an empty writer: swap it with the live one */
    kiln__writer empty;
    kiln__writer_move(&empty, &fz->w);
    kiln__writer_move(&fz->w, &si->w);
    kiln__writer_move(&si->w, &empty);
    kiln__fields reuse = fz->fs; /* empty, or a sealed buffer's arrays (kiln__fields_recycle) */
    kiln__fields_detach(&si->fields, &fz->fs, &reuse);
    kiln__fields_free(&reuse); /* what the live fields did not take */
    fz->upto = si->next_docnum;
    fz->next = NULL;
    atomic_store(&si->buf_bytes, 0);
    pthread_mutex_lock(&si->lock);
    kiln__frozen **tail = &si->frozen;
    while (*tail)
        tail = &(*tail)->next;
    *tail = fz;
    pthread_mutex_unlock(&si->lock);
}

int kiln_sindex_publish(kiln_sindex *si, kiln_error *err)
{
    (void)err;
    pthread_mutex_lock(&si->publish_lock);
    int changed = 0;
    for (;;) {
        pthread_mutex_lock(&si->lock);
        kiln__frozen *fz = si->frozen;
        pthread_mutex_unlock(&si->lock);
        if (!fz) break;
        kiln_segment *s = kiln__seal(&fz->w, &fz->fs, 0); /* the slow part, no lock held */
        pthread_mutex_lock(&si->lock);
        si->frozen = fz->next;
        if (s) kiln__push_segment(si, s);
        si->sealed_upto = fz->upto;
        pthread_mutex_unlock(&si->lock);
        changed = 1;
        /* keep the writer (its pool blocks and tables) and the fields' arrays for the next
         * freeze */
        kiln__fields none = {0};
        kiln__writer_reset(&fz->w, &none, 0);
        kiln__fields_recycle(&fz->fs);
        pthread_mutex_lock(&si->lock);
        if (!si->spare) {
            si->spare = fz;
            fz = NULL;
        }
        pthread_mutex_unlock(&si->lock);
        kiln__frozen_free(fz);
    }
    if (changed) kiln__publish(si);
    pthread_mutex_unlock(&si->publish_lock);
    return 0;
}

/* ---- merges --------------------------------------------------------------------------------
 * Policy (a simple tiered one): keep at most KILN__MAX_SEGS segments by merging the
 * KILN__MERGE_WIDTH adjacent segments holding the fewest docs, so small segments merge often
 * and large ones rarely. A merge reads immutable segments, so it runs with no lock but its
 * own: refreshes append segments meanwhile and writes go on. Liveness is the shard's (a frozen
 * bitmap per searcher), never the segment's, so deletes that arrive during a merge need no
 * carrying over: the merged segment keeps every doc and the next searcher's bitmap hides them. */
#define KILN__MAX_SEGS 8
#define KILN__MERGE_WIDTH 4
/* While refreshes keep sealing new documents (a bulk load), up to twice as many segments are
 * let be: merging then takes CPU from the load itself (a 1M-document load at 40k docs/s seals a
 * segment a second, and merged each document ~1.15 times), and the merges left wait until the
 * sealing has stopped for kiln_sindex_busy_ms; the index then goes back to KILN__MAX_SEGS, as
 * Lucene's merge scheduler lets merges fall behind heavy indexing and catch up after. */
#define KILN__MAX_SEGS_BUSY 16
int64_t kiln_sindex_busy_ms = 3000;

/* Merges the adjacent run of `width` segments holding the fewest docs if there are more than
 * `keep` segments; 1 if it merged, 0 if not. */
static int kiln__merge_run(kiln_sindex *si, size_t keep, size_t width)
{
    pthread_mutex_lock(&si->merge_lock);
    pthread_mutex_lock(&si->lock);
    if (si->nsegs <= keep || width < 2) {
        pthread_mutex_unlock(&si->lock);
        pthread_mutex_unlock(&si->merge_lock);
        return 0;
    }
    if (width > si->nsegs) width = si->nsegs;
    kiln_segment **in = kiln_xmalloc(width * sizeof *in);
    size_t best = 0;
    uint64_t best_docs = UINT64_MAX;
    for (size_t i = 0; i + width <= si->nsegs; i++) {
        uint64_t docs = 0;
        for (size_t k = i; k < i + width; k++)
            docs += si->segs[k]->ndocs;
        if (docs < best_docs) {
            best_docs = docs;
            best = i;
        }
    }
    for (size_t k = 0; k < width; k++) {
        in[k] = si->segs[best + k];
        kiln__segment_ref(in[k]);
    }
    size_t before = si->nsegs;
    pthread_mutex_unlock(&si->lock);

    if (kiln_sindex_merge_hook) kiln_sindex_merge_hook(kiln_sindex_merge_hook_ctx);
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    kiln_segment *m = kiln__merge(in, width);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    KILN_DEBUG("sindex", "merged %zu segments (%llu docs, %zu segments before) in %.0f ms CPU",
               width, (unsigned long long)best_docs, before,
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

    pthread_mutex_lock(&si->lock);
    if (m) {
        /* only merges remove segments and we hold the merge lock: the run is where it was,
         * maybe with new segments after it */
        size_t at = 0;
        while (si->segs[at] != in[0])
            at++;
        for (size_t k = 0; k < width; k++) {
            kiln_segment *old = si->segs[at + k];
            if (old->persisted) {
                si->obsolete =
                    kiln_xrealloc(si->obsolete, (si->nobsolete + 1) * sizeof *si->obsolete);
                si->obsolete[si->nobsolete++] = old->base;
            }
            kiln__segment_unref(old);
        }
        si->segs[at] = m;
        memmove(si->segs + at + 1, si->segs + at + width,
                (si->nsegs - at - width) * sizeof *si->segs);
        si->nsegs -= width - 1;
    }
    pthread_mutex_unlock(&si->lock);
    for (size_t k = 0; k < width; k++)
        kiln__segment_unref(in[k]);
    free(in);
    if (m) kiln__publish(si);
    pthread_mutex_unlock(&si->merge_lock);
    return m ? 1 : 0;
}

int kiln_sindex_merge_step(kiln_sindex *si)
{
    return kiln__merge_run(si, KILN__MAX_SEGS, KILN__MERGE_WIDTH);
}

int kiln_sindex_merge_step_paced(kiln_sindex *si)
{
    int64_t now = kiln_mono_ms();
    pthread_mutex_lock(&si->lock);
    if (si->sealed_upto != si->busy_sealed) { /* new documents sealed since we last looked */
        si->busy_sealed = si->sealed_upto;
        si->busy_ms = now;
    }
    int busy = si->busy_ms && now - si->busy_ms < kiln_sindex_busy_ms;
    pthread_mutex_unlock(&si->lock);
    return kiln__merge_run(si, busy ? KILN__MAX_SEGS_BUSY : KILN__MAX_SEGS, KILN__MERGE_WIDTH);
}

int kiln_sindex_force_merge(kiln_sindex *si, size_t max_segs)
{
    int merged = 0;
    if (max_segs == 0) { /* what the policy would merge */
        while (kiln_sindex_merge_step(si) > 0)
            merged = 1;
        return merged;
    }
    for (;;) { /* one run of just enough segments; again if refreshes added some meanwhile */
        pthread_mutex_lock(&si->lock);
        size_t n = si->nsegs;
        pthread_mutex_unlock(&si->lock);
        if (n <= max_segs || !kiln__merge_run(si, max_segs, n - max_segs + 1)) return merged;
        merged = 1;
    }
}

int kiln_sindex_refresh(kiln_sindex *si, kiln_error *err)
{
    kiln_sindex_freeze(si);
    if (kiln_sindex_publish(si, err)) return -1;
    while (kiln_sindex_merge_step(si) > 0)
        ;
    return 0;
}

/* ---- commit ----------------------------------------------------------------------------------
 * Persists the sealed segments: their files (fsync'd), then the commit file. A merge result
 * takes its first input's base, hence its file name: overwriting a file the durable commit
 * still lists would, after a crash before the new commit, pair it with its inputs' old files
 * (docs twice). So such a commit first writes an intermediate commit that stops before the
 * reused name (the shard re-adds the docs after it on open). */

static int kiln__base_in(const uint32_t *v, size_t n, uint32_t base)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == base) return 1;
    return 0;
}

int kiln_sindex_commit_sealed(kiln_sindex *si, kiln_error *err)
{
    if (!si->dir) return 0;
    pthread_mutex_lock(&si->merge_lock); /* no merge changes the list or the obsolete files */
    pthread_mutex_lock(&si->lock);
    size_t n = si->nsegs, nobs = si->nobsolete;
    uint32_t upto = si->sealed_upto;
    kiln_segment **segs = kiln_xmalloc((n + 1) * sizeof *segs);
    for (size_t i = 0; i < n; i++) {
        segs[i] = si->segs[i];
        kiln__segment_ref(segs[i]);
    }
    uint32_t *obs = kiln_xmalloc((nobs + 1) * sizeof *obs);
    if (nobs) memcpy(obs, si->obsolete, nobs * sizeof *obs);
    pthread_mutex_unlock(&si->lock);

    int rc = 0, dirty = si->committed_upto != upto || nobs;
    size_t prefix = 0; /* durable segments before the first reused file name */
    while (prefix < n && segs[prefix]->persisted)
        prefix++;
    for (size_t i = prefix; i < n; i++)
        if (!segs[i]->persisted && kiln__base_in(obs, nobs, segs[i]->base)) {
            rc = kiln__commit_write(si->dir, segs[prefix]->base, segs, prefix, err);
            break;
        }
    int swapped = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (segs[i]->persisted) continue;
        if ((rc = kiln__segment_write(segs[i], si->dir, err))) break;
        segs[i]->persisted = 1;
        dirty = 1;
        /* a refresh seal's raw text originals: use the file's compressed copy instead, so
         * memory holds what the file does (readers still on the old segment keep it alive) */
        kiln_error e2;
        kiln_segment *m = kiln__segment_raw_strings(segs[i])
                              ? kiln__segment_open(si->dir, segs[i]->base, &e2)
                              : NULL;
        if (!m) continue;
        m->persisted = 1;
        pthread_mutex_lock(&si->lock);
        size_t k = 0;
        while (k < si->nsegs && si->segs[k] != segs[i])
            k++;
        if (k < si->nsegs) { /* merges wait for our merge lock: it is still listed */
            si->segs[k] = m;
            kiln__segment_unref(segs[i]); /* the list's reference; ours goes below */
            m = NULL;
            swapped = 1;
        }
        pthread_mutex_unlock(&si->lock);
        kiln__segment_unref(m);
    }
    if (rc == 0 && dirty) rc = kiln__commit_write(si->dir, upto, segs, n, err);
    if (rc == 0 && dirty) {
        si->committed_upto = upto;
        /* files of merged-away segments are garbage once the new commit is durable (a merge
         * result that reused a name was just rewritten: keep it) */
        for (size_t i = 0; i < nobs; i++) {
            size_t k;
            for (k = 0; k < n && segs[k]->base != obs[i]; k++)
                ;
            if (k < n) continue;
            char path[1200];
            snprintf(path, sizeof path, "%s/seg-%010u.ksg", si->dir, obs[i]);
            unlink(path);
        }
        pthread_mutex_lock(&si->lock); /* merges wait for our lock: none were added */
        si->nobsolete = 0;
        pthread_mutex_unlock(&si->lock);
    }
    for (size_t i = 0; i < n; i++)
        kiln__segment_unref(segs[i]);
    free(segs);
    free(obs);
    if (swapped) kiln__publish(si);
    pthread_mutex_unlock(&si->merge_lock);
    return rc;
}

int kiln_sindex_commit(kiln_sindex *si, kiln_error *err)
{
    if (!si->dir) return 0;
    if (kiln_sindex_refresh(si, err)) return -1; /* seal what is buffered */
    return kiln_sindex_commit_sealed(si, err);
}

uint32_t kiln_sindex_committed_upto(const kiln_sindex *si)
{
    return si->committed_upto;
}

uint32_t kiln_sindex_pending(const kiln_sindex *si)
{
    return __atomic_load_n(&si->w.count, __ATOMIC_RELAXED); /* any thread */
}

kiln_sindex_reader *kiln_sindex_reader_acquire(kiln_sindex *si)
{
    pthread_mutex_lock(&si->lock);
    kiln_sindex_reader *r = si->current;
    atomic_fetch_add(&r->refs, 1);
    pthread_mutex_unlock(&si->lock);
    return r;
}

void kiln_sindex_reader_release(kiln_sindex_reader *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    for (size_t i = 0; i < r->nsegs; i++)
        kiln__segment_unref(r->segs[i]);
    free(r->segs);
    free(r->bases);
    free(r);
}

size_t kiln_reader_nsegments(const kiln_sindex_reader *r)
{
    return r->nsegs;
}

const kiln_segment *kiln_reader_segment(const kiln_sindex_reader *r, size_t i)
{
    return i < r->nsegs ? r->segs[i] : NULL;
}

const kiln_segment *kiln_reader_find(const kiln_sindex_reader *r, uint32_t docnum, uint32_t *local)
{
    size_t lo = 0, hi = r->nsegs;
    while (lo < hi) { /* last segment with base <= docnum */
        size_t mid = (lo + hi) / 2;
        if (r->bases[mid] <= docnum)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return NULL;
    const kiln_segment *s = r->segs[lo - 1];
    if (docnum - s->base >= s->ndocs) return NULL;
    *local = docnum - s->base;
    return s;
}

uint32_t kiln_segment_base(const kiln_segment *s)
{
    return s->base;
}

uint32_t kiln_segment_ndocs(const kiln_segment *s)
{
    return s->ndocs;
}

/* ---- term dictionary ---------------------------------------------------------------------- */

const kiln__sfield *kiln__segment_field(const kiln_segment *s, const char *path)
{
    for (uint32_t i = 0; i < s->nfields; i++)
        if (s->fields[i].path && !strcmp(s->fields[i].path, path)) return &s->fields[i];
    return NULL;
}

/* Lookups by text and the dictionary encoding: tdict.c. */

/* ---- doc values ---------------------------------------------------------------------------- */

int kiln_dv_get(const kiln_segment *s, const char *path, kiln_dv *dv)
{
    const kiln__sfield *f = kiln__segment_field(s, path);
    if (!f || f->dv.kind == KILN_DV_NONE) {
        memset(dv, 0, sizeof *dv);
        return -1;
    }
    *dv = f->dv;
    return 0;
}

const char *kiln_dv_ord_term(const kiln_dv *dv, uint32_t ord, size_t *len)
{
    const kiln__sfield *f = dv->dict;
    if (!f || ord >= f->nterms) {
        *len = 0;
        return NULL;
    }
    return kiln__term_text(f, ord, len);
}

/* Reads one varint of at most 5 bytes below end (its low 32 bits); NULL past it. */
static const uint8_t *kiln__get_vu32_in(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
    uint64_t x;
    p = kiln__get_varint_in(p, end, 5, &x);
    if (p) *v = (uint32_t)x;
    return p;
}

/* Text original v from its compressed block, through the thread's block cache: the block's raw
 * bytes are the varint length of each of its values, then the values (seal.c). */
static const char *kiln__dv_str_block(const kiln_dv *dv, uint32_t v, size_t *len)
{
    const kiln__strblock *blocks = dv->str_blocks;
    uint32_t lo = 0, hi = dv->str_nblocks;
    while (lo < hi) { /* last block whose first value is <= v */
        uint32_t mid = lo + (hi - lo) / 2;
        if (blocks[mid].first <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    const kiln__strblock *b = &blocks[lo - 1];
    uint32_t nv = (lo < dv->str_nblocks ? blocks[lo].first : dv->off[dv->ndocs]) - b->first;
    uint64_t zend = lo < dv->str_nblocks ? blocks[lo].zoff : dv->str_zlen;
    const uint8_t *raw =
        kiln_zblock_get(dv->str_owner, lo - 1, dv->str_z + b->zoff, zend - b->zoff, b->raw_len,
                        (kiln_zcodec)dv->str_codec);
    *len = 0;
    if (!raw) return NULL; /* memory damage: the file's checksum passed */
    const uint8_t *p = raw, *end = raw + b->raw_len;
    uint64_t start = 0;
    uint32_t l = 0, k = v - b->first;
    for (uint32_t i = 0; i < nv && p; i++) {
        p = kiln__get_vu32_in(p, end, &l);
        if (i < k)
            start += l;
        else if (i == k)
            *len = l;
    }
    if (!p || start + *len > (uint64_t)(end - p)) {
        *len = 0;
        return NULL;
    }
    return (const char *)p + start;
}

const char *kiln_dv_str(const kiln_dv *dv, uint32_t doc, uint32_t i, size_t *len)
{
    if (i >= kiln_dv_count(dv, doc)) {
        *len = 0;
        return NULL;
    }
    uint32_t v = dv->off[doc] + i;
    if (dv->kind == KILN_DV_ORD) return kiln_dv_ord_term(dv, dv->ord[v], len);
    if (dv->kind == KILN_DV_STR) {
        if (dv->str_ord) { /* the same strings as a keyword multi-field's terms */
            const kiln__sfield *k = dv->str_dict;
            return kiln__term_text(k, dv->str_ord[v], len);
        }
        if (dv->str_z) return kiln__dv_str_block(dv, v, len);
        *len = dv->str_off[v + 1] - dv->str_off[v];
        return dv->str_blob + dv->str_off[v];
    }
    *len = 0;
    return NULL;
}
