/* Segment merges: consecutive segments are replayed, in docnum order, into a private write
 * buffer (postings shifted by each segment's offset, norms, doc values, present docs) which is
 * then sealed like a refresh. Terms arrive per segment in increasing docnum order, which is all
 * the buffer needs. The policy (which segments, when) lives in sindex.c. */
#include "search/iter.h"

#include "core/buf.h"
#include "index/zblock.h"

#include <stdlib.h>
#include <string.h>

static uint32_t kiln__mfield(kiln__fields *fs, const kiln__sfield *sf)
{
    for (uint32_t i = 0; i < fs->n; i++)
        if (!strcmp(fs->v[i].path, sf->path)) return i;
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 16;
        fs->v = kiln_xrealloc(fs->v, fs->cap * sizeof *fs->v);
    }
    kiln__wfield *f = &fs->v[fs->n];
    memset(f, 0, sizeof *f);
    f->path = kiln_xstrdup(sf->path);
    f->type = sf->type;
    f->indexed = sf->indexed;
    f->has_pos = sf->has_pos;
    f->has_norms = sf->has_norms;
    f->dv_kind = sf->dv.kind;
    return fs->n++;
}

static void kiln__mdv_push(kiln__wfield *f, uint32_t doc)
{
    if (f->dv_n + 1 > f->dv_cap) {
        uint32_t cap = f->dv_cap ? f->dv_cap * 2 : 1024;
        f->dv_doc = kiln_xrealloc(f->dv_doc, (size_t)cap * sizeof *f->dv_doc);
        f->dv_val.i64 = kiln_xrealloc(f->dv_val.i64, (size_t)cap * sizeof(int64_t));
        f->dv_cap = cap;
    }
    f->dv_doc[f->dv_n] = doc;
}

/* Reads a field's text originals in value order. Compressed ones are decompressed a block at a
 * time and walked once: kiln_dv_str would re-walk the block's lengths for every value. */
typedef struct kiln__strcur {
    const kiln_dv *dv;
    uint32_t blk, end; /* current block; its values end before value `end` */
    const uint8_t *lens, *lens_end;
    const char *val, *val_end; /* the next value's bytes, the block's end */
} kiln__strcur;

static const char *kiln__strcur_next(kiln__strcur *c, uint32_t d, uint32_t i, uint32_t v,
                                     size_t *len)
{
    const kiln_dv *dv = c->dv;
    if (!dv->str_z || dv->str_ord) return kiln_dv_str(dv, d, i, len);
    const kiln__strblock *b = dv->str_blocks;
    if (!c->lens || v >= c->end) { /* values arrive in order: the next block starts here */
        c->blk = c->lens ? c->blk + 1 : 0;
        while (c->blk + 1 < dv->str_nblocks && b[c->blk + 1].first <= v)
            c->blk++;
        uint32_t k = c->blk;
        c->end = k + 1 < dv->str_nblocks ? b[k + 1].first : dv->off[dv->ndocs];
        uint64_t zend = k + 1 < dv->str_nblocks ? b[k + 1].zoff : dv->str_zlen;
        const uint8_t *raw = kiln_zblock_get(dv->str_owner, k, dv->str_z + b[k].zoff,
                                             zend - b[k].zoff, b[k].raw_len,
                                             (kiln_zcodec)dv->str_codec);
        c->lens = c->lens_end = raw;
        if (!raw) return kiln_dv_str(dv, d, i, len); /* reports the damage as reads do */
        const uint8_t *p = raw, *end = raw + b[k].raw_len;
        for (uint32_t n = b[k].first; n < c->end && p < end; n++)
            while (p < end && *p++ & 0x80)
                ;
        c->lens_end = p;
        c->val = (const char *)p;
        c->val_end = (const char *)end;
        for (uint32_t n = b[k].first; n < v; n++) { /* a block entered mid-way (never, in order) */
            uint32_t l;
            c->lens = kiln__get_vu32(c->lens, &l);
            c->val += l;
        }
    }
    if (c->lens >= c->lens_end) return kiln_dv_str(dv, d, i, len);
    uint32_t l;
    c->lens = kiln__get_vu32(c->lens, &l);
    if (l > (size_t)(c->val_end - c->val)) return kiln_dv_str(dv, d, i, len);
    const char *s = c->val;
    c->val += l;
    *len = l;
    return s;
}

/* Replays term `term` of sf into writer term t, docs shifted by offset, decoding the sealed
 * blocks directly (seal.c's layout, as kiln__term_load reads it): no iterator to allocate per
 * term, and position deltas are copied as stored, never turned into positions and back. */
static void kiln__merge_postings(kiln__writer *w, kiln__wterm *t, const kiln_segment *s,
                                 const kiln__sfield *sf, uint32_t term, uint32_t offset)
{
    kiln__sterm st;
    kiln__term_meta(sf, term, &st);
    uint32_t nblocks = kiln__sterm_nblocks(&st), prev = 0;
    uint32_t docs[KILN__BLOCK], tfs[KILN__BLOCK];
    for (uint32_t b = 0; b < nblocks; b++) {
        kiln__skip one = {.last_doc = st.skip_idx, .ndocs = (uint8_t)(st.df - 1)};
        const kiln__skip *sk = nblocks == 1 ? &one : &s->skips[st.skip_idx + b];
        uint32_t n = (uint32_t)sk->ndocs + 1;
        if (kiln__sterm_pulsed(&st)) { /* (doc, tf) in the dictionary */
            docs[0] = st.skip_idx;
            tfs[0] = st.max_tf;
        } else if (n == KILN__BLOCK) {
            const uint8_t *p = s->post + st.post_off + sk->doc_off;
            unsigned bd = p[0] > 32 ? 32 : p[0], bt = p[1] > 32 ? 32 : p[1];
            kiln__unpack_block(p + 2, docs, bd);
            kiln__unpack_block(p + 2 + 16 * bd, tfs, bt);
            for (uint32_t k = 0; k < KILN__BLOCK; k++) {
                prev += docs[k];
                docs[k] = prev;
                tfs[k]++;
            }
        } else {
            const uint8_t *p = s->post + st.post_off + sk->doc_off;
            for (uint32_t k = 0; k < n; k++) {
                uint32_t v, tf = 1;
                p = kiln__get_vu32(p, &v);
                if (!(v & 1)) p = kiln__get_vu32(p, &tf);
                prev += v >> 1;
                docs[k] = prev;
                tfs[k] = tf;
            }
        }
        prev = sk->last_doc;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t local = offset + docs[k];
            kiln__slice_vu32(&w->pool, &t->post, local - t->last_doc);
            kiln__slice_vu32(&w->pool, &t->post, tfs[k]);
            t->last_doc = local;
            t->df++;
            t->ttf += tfs[k];
        }
        if (!sf->has_pos) continue;
        const uint8_t *pp = s->pos + st.pos_off + sk->pos_off;
        if (n == KILN__BLOCK) { /* a width byte, then every delta of the block packed */
            unsigned pw = pp[0] > 32 ? 32 : pp[0];
            uint32_t at = 0;
            for (uint32_t k = 0; k < n; k++)
                for (uint32_t j = 0; j < tfs[k]; j++, at++)
                    kiln__slice_vu32(&w->pool, &t->pos, kiln__unpack_at(pp + 1, at, pw));
        } else {
            for (uint32_t k = 0; k < n; k++)
                for (uint32_t j = 0; j < tfs[k]; j++) {
                    uint32_t d;
                    pp = kiln__get_vu32(pp, &d);
                    kiln__slice_vu32(&w->pool, &t->pos, d);
                }
        }
    }
}

static void kiln__merge_field(kiln__writer *w, kiln__fields *fs, const kiln_segment *s,
                              const kiln__sfield *sf, uint32_t offset, uint32_t total_docs)
{
    uint32_t fid = kiln__mfield(fs, sf);
    kiln__wfield *f = &fs->v[fid];
    uint32_t *tid = kiln_xmalloc(((size_t)sf->nterms + 1) * sizeof *tid);
    for (uint32_t i = 0; i < sf->nterms; i++) {
        size_t len;
        const char *text = kiln__term_text(sf, i, &len);
        tid[i] = kiln__writer_term(w, fid, text, len);
        kiln__merge_postings(w, &w->terms[tid[i]], s, sf, i, offset);
    }
    f->doc_count += sf->doc_count;
    f->sum_ttf += sf->sum_ttf;
    if (sf->has_norms && sf->norms) {
        if (total_docs > f->norms_cap) {
            f->norms = kiln_xrealloc(f->norms, total_docs);
            memset(f->norms + f->norms_cap, 0, total_docs - f->norms_cap);
            f->norms_cap = total_docs;
        }
        memcpy(f->norms + offset, sf->norms, s->ndocs);
    }
    const kiln_dv *dv = &sf->dv;
    kiln__strcur cur = {.dv = dv};
    f->store |= sf->stored;
    if (dv->kind == KILN_DV_COUNT && f->dv_kind == KILN_DV_STR) { /* no originals to carry on */
        f->dv_kind = KILN_DV_COUNT;
        f->str_blob.len = f->str_n = 0;
    }
    for (uint32_t d = 0; d < s->ndocs && dv->kind != KILN_DV_NONE; d++) {
        for (uint32_t v = dv->off[d]; v < dv->off[d + 1]; v++) {
            kiln__mdv_push(f, offset + d);
            if (f->dv_kind == KILN_DV_COUNT) { /* counts only, whatever this input holds */
                f->dv_val.u32[f->dv_n++] = 0;
                continue;
            }
            switch (dv->kind) {
            case KILN_DV_I64:
                f->dv_val.i64[f->dv_n++] = dv->i64[v];
                break;
            case KILN_DV_F64:
                f->dv_val.f64[f->dv_n++] = dv->f64[v];
                break;
            case KILN_DV_ORD:
                f->dv_val.u32[f->dv_n++] = tid[dv->ord[v]];
                break;
            case KILN_DV_STR: {
                size_t n;
                const char *sv = kiln__strcur_next(&cur, d, v - dv->off[d], v, &n);
                uint32_t a = 0, b = (uint32_t)n;
                if (f->str_n + 2 > f->str_cap) {
                    f->str_cap = f->str_cap ? f->str_cap * 2 : 1024;
                    f->str_off = kiln_xrealloc(f->str_off, (size_t)f->str_cap * 4);
                }
                if (f->str_n == 0) f->str_off[0] = 0;
                if (f->str_blob.len + (b - a) > f->str_blob.cap)
                    kiln__bytes_grow(&f->str_blob, b - a);
                if (b) memcpy(f->str_blob.p + f->str_blob.len, sv + a, b - a);
                f->str_blob.len += b - a;
                f->dv_val.u32[f->dv_n++] = f->str_n;
                f->str_off[++f->str_n] = f->str_blob.len;
                break;
            }
            default:
                break;
            }
        }
    }
    free(tid);
}

kiln_segment *kiln__merge(kiln_segment *const *segs, size_t n)
{
    if (!n) return NULL;
    uint32_t base = segs[0]->base;
    uint32_t total = segs[n - 1]->base + segs[n - 1]->ndocs - base;
    kiln__writer w;
    kiln__writer_init(&w);
    kiln__fields fs = {0};
    w.base = base;
    w.ndocs = total;
    w.present_words = (total + 63) / 64 + 1;
    w.present = kiln_xcalloc(w.present_words, 8);
    for (size_t i = 0; i < n; i++) {
        const kiln_segment *s = segs[i];
        uint32_t offset = s->base - base;
        for (uint32_t d = 0; d < s->ndocs; d++)
            if (!s->present || (s->present[d >> 6] >> (d & 63) & 1)) {
                w.present[(offset + d) >> 6] |= 1ULL << ((offset + d) & 63);
                w.count++;
            }
        for (uint32_t k = 0; k < s->nfields; k++)
            if (s->fields[k].path) kiln__merge_field(&w, &fs, s, &s->fields[k], offset, total);
    }
    kiln_segment *out = kiln__seal(&w, &fs, 1);
    kiln__writer_free(&w);
    for (uint32_t i = 0; i < fs.n; i++) {
        kiln__wfield *f = &fs.v[i];
        free(f->path);
        free(f->norms);
        free(f->dv_doc);
        free(f->dv_val.i64);
        free(f->str_blob.p);
        free(f->str_off);
    }
    free(fs.v);
    return out;
}
