/* Search index lifecycle: open/close, refresh (seal + publish a reader), readers, term
 * dictionary lookups and the doc-values reader API. */
#include "search/searchInt.h"

#include "core/buf.h"
#include "core/fs.h"
#include "index/zblock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    }
    si->current = kiln__reader_new(si->segs, si->nsegs);
    return si;
fail:
    si->current = kiln__reader_new(NULL, 0);
    kiln_sindex_close(si);
    return NULL;
}

void kiln_sindex_close(kiln_sindex *si)
{
    if (!si) return;
    kiln_sindex_reader_release(si->current);
    for (size_t i = 0; i < si->nsegs; i++) kiln__segment_unref(si->segs[i]);
    free(si->segs);
    free(si->obsolete);
    kiln__writer_reset(&si->w, &si->fields, 0);
    kiln__writer_free(&si->w);
    for (uint32_t i = 0; i < si->fields.n; i++) {
        kiln__wfield *f = &si->fields.v[i];
        free(f->path);
        free(f->norms);
        free(f->dv_doc);
        free(f->dv_val.i64);
        free(f->str_blob.p);
        free(f->str_off);
    }
    free(si->fields.v);
    if (si->cached_m) kiln_mapping_unref(si->cached_m);
    free(si->m_fid);
    free(si->m_multi);
    free(si->m_multi_at);
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

/* Merge policy (a simple tiered one): keep at most KILN__MAX_SEGS segments by merging the
 * KILN__MERGE_WIDTH adjacent segments holding the fewest docs, so small segments merge often
 * and large ones rarely. Runs in the writer (refresh), synchronously for now. */
#define KILN__MAX_SEGS 8
#define KILN__MERGE_WIDTH 4

static void kiln__maybe_merge(kiln_sindex *si)
{
    while (si->nsegs > KILN__MAX_SEGS) {
        size_t best = 0;
        uint64_t best_docs = UINT64_MAX;
        for (size_t i = 0; i + KILN__MERGE_WIDTH <= si->nsegs; i++) {
            uint64_t docs = 0;
            for (size_t k = i; k < i + KILN__MERGE_WIDTH; k++) docs += si->segs[k]->ndocs;
            if (docs < best_docs) {
                best_docs = docs;
                best = i;
            }
        }
        kiln_segment *m = kiln__merge(si->segs + best, KILN__MERGE_WIDTH);
        if (!m) return;
        pthread_mutex_lock(&si->lock);
        for (size_t k = best; k < best + KILN__MERGE_WIDTH; k++) {
            kiln_segment *old = si->segs[k];
            if (old->persisted) {
                si->obsolete = kiln_xrealloc(si->obsolete, (si->nobsolete + 1) * sizeof *si->obsolete);
                si->obsolete[si->nobsolete++] = old->base;
            }
            kiln__segment_unref(old);
        }
        si->segs[best] = m;
        memmove(si->segs + best + 1, si->segs + best + KILN__MERGE_WIDTH,
                (si->nsegs - best - KILN__MERGE_WIDTH) * sizeof *si->segs);
        si->nsegs -= KILN__MERGE_WIDTH - 1;
        pthread_mutex_unlock(&si->lock);
    }
}

int kiln_sindex_refresh(kiln_sindex *si, kiln_error *err)
{
    kiln_segment *s = kiln__seal(&si->w, &si->fields);
    if (!s) return 0;
    kiln__writer_reset(&si->w, &si->fields, si->next_docnum);
    si->sealed_upto = si->next_docnum;
    pthread_mutex_lock(&si->lock);
    kiln__push_segment(si, s);
    pthread_mutex_unlock(&si->lock);
    kiln__maybe_merge(si);
    kiln__publish(si);
    return 0;
}

int kiln_sindex_commit(kiln_sindex *si, kiln_error *err)
{
    if (!si->dir) return 0;
    if (kiln_sindex_refresh(si, err)) return -1; /* seal what is buffered */
    int dirty = si->committed_upto != si->sealed_upto || si->nobsolete;
    /* segments are immutable and only this writer changes the list: no lock while writing */
    for (size_t i = 0; i < si->nsegs; i++) {
        if (si->segs[i]->persisted) continue;
        if (kiln__segment_write(si->segs[i], si->dir, err)) return -1;
        si->segs[i]->persisted = 1;
        dirty = 1;
    }
    if (!dirty) return 0;
    if (kiln__commit_write(si->dir, si->sealed_upto, si->segs, si->nsegs, err)) return -1;
    si->committed_upto = si->sealed_upto;
    /* files of merged-away segments are garbage once the new commit is durable; a file that
     * a merge result reuses the name of (same base) was just rewritten: keep it */
    for (size_t i = 0; i < si->nobsolete; i++) {
        size_t k;
        for (k = 0; k < si->nsegs && si->segs[k]->base != si->obsolete[i]; k++)
            ;
        if (k < si->nsegs) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/seg-%010u.ksg", si->dir, si->obsolete[i]);
        unlink(path);
    }
    si->nobsolete = 0;
    return 0;
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
    for (size_t i = 0; i < r->nsegs; i++) kiln__segment_unref(r->segs[i]);
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

const kiln_segment *kiln_reader_find(const kiln_sindex_reader *r, uint32_t docnum,
                                     uint32_t *local)
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

static int kiln__term_cmp(const kiln__sfield *f, uint32_t i, const char *t, size_t len)
{
    const kiln__sterm *st = &f->terms[i];
    size_t n = st->text_len < len ? st->text_len : len;
    int c = memcmp(f->text + st->text_off, t, n);
    if (c) return c;
    return (st->text_len > len) - (st->text_len < len);
}

uint32_t kiln__term_lower_bound(const kiln__sfield *f, const char *t, size_t len)
{
    uint32_t lo = 0, hi = f->nterms;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (kiln__term_cmp(f, mid, t, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t kiln__term_find(const kiln__sfield *f, const char *t, size_t len)
{
    uint32_t i = kiln__term_lower_bound(f, t, len);
    return i < f->nterms && kiln__term_cmp(f, i, t, len) == 0 ? (int64_t)i : -1;
}

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

/* Reads one varint of at most 5 bytes below end; NULL past it. */
static const uint8_t *kiln__get_vu32_in(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
    uint32_t x = 0;
    for (unsigned shift = 0; p < end && shift < 35; shift += 7) {
        uint8_t b = *p++;
        x |= (uint32_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return p;
        }
    }
    return NULL;
}

/* Text original v from its zstd block, through the thread's block cache: the block's raw
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
        kiln_zblock_get(dv->str_owner, lo - 1, dv->str_z + b->zoff, zend - b->zoff, b->raw_len);
    *len = 0;
    if (!raw) return NULL; /* memory damage: the file's checksum passed */
    const uint8_t *p = raw, *end = raw + b->raw_len;
    uint64_t start = 0;
    uint32_t l = 0, k = v - b->first;
    for (uint32_t i = 0; i < nv && p; i++) {
        p = kiln__get_vu32_in(p, end, &l);
        if (i < k) start += l;
        else if (i == k) *len = l;
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
