/* Sealing: the write buffer becomes an immutable segment. Terms are sorted per field, postings
 * re-encoded in blocks of KILN__BLOCK docs with a skip entry and score-bound inputs per block,
 * doc values laid out as offset + value columns. */
#include "search/searchInt.h"

#include "core/buf.h"
#include "index/zblock.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- SmallFloat.intToByte4 / byte4ToInt (Lucene), for norms ------------------------------- */

static uint32_t kiln__long_to_int4(uint64_t i)
{
    unsigned bits = i ? 64 - (unsigned)__builtin_clzll(i) : 0;
    if (bits < 4) return (uint32_t)i;
    unsigned shift = bits - 4;
    return (uint32_t)((i >> shift) & 0x07) | ((shift + 1) << 3);
}

static uint64_t kiln__int4_to_long(uint32_t i)
{
    uint64_t b = i & 0x07;
    int shift = (int)(i >> 3) - 1;
    return shift == -1 ? b : (b | 0x08) << shift;
}

#define KILN__NUM_FREE 24 /* 255 - longToInt4(Integer.MAX_VALUE) */

uint8_t kiln__norm_encode(uint32_t len)
{
    if (len > INT32_MAX) len = INT32_MAX;
    if (len < KILN__NUM_FREE) return (uint8_t)len;
    return (uint8_t)(KILN__NUM_FREE + kiln__long_to_int4(len - KILN__NUM_FREE));
}

uint32_t kiln__norm_decode(uint8_t b)
{
    if (b < KILN__NUM_FREE) return b;
    return (uint32_t)(KILN__NUM_FREE + kiln__int4_to_long(b - KILN__NUM_FREE));
}

/* ---- helpers ---------------------------------------------------------------------------- */

static int kiln__cmp_terms(const void *a, const void *b, void *ctx)
{
    const kiln__writer *w = ctx;
    const kiln__wterm *x = &w->terms[*(const uint32_t *)a], *y = &w->terms[*(const uint32_t *)b];
    size_t n = x->text_len < y->text_len ? x->text_len : y->text_len;
    int c = memcmp(w->text.p + x->text_off, w->text.p + y->text_off, n);
    if (c) return c;
    return (x->text_len > y->text_len) - (x->text_len < y->text_len);
}

static int kiln__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}
static int kiln__cmp_f64(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static int kiln__cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

typedef struct kiln__skipvec {
    kiln__skip *v;
    size_t n, cap;
} kiln__skipvec;

/* The competitive impacts of a block from the max tf per norm byte (best[256], 0 = none). */
static void kiln__impacts(kiln__skip *sk, uint16_t *best)
{
    uint16_t tf[256];
    uint8_t nb[256];
    unsigned n = 0, run = 0;
    for (unsigned b = 0; b < 256; b++) { /* shorter fields first: keep pairs with a higher tf */
        if (best[b] > run) {
            run = best[b];
            tf[n] = best[b];
            nb[n] = (uint8_t)b;
            n++;
        }
        best[b] = 0;
    }
    while (n > KILN__IMPACTS) { /* merge the adjacent pair closest in tf: (tf[i+1], nb[i]) */
        unsigned at = 0, gap = UINT32_MAX;
        for (unsigned i = 0; i + 1 < n; i++)
            if ((unsigned)(tf[i + 1] - tf[i]) < gap) {
                gap = (unsigned)(tf[i + 1] - tf[i]);
                at = i;
            }
        tf[at] = tf[at + 1];
        memmove(tf + at + 1, tf + at + 2, (n - at - 2) * sizeof *tf);
        memmove(nb + at + 1, nb + at + 2, (n - at - 2) * sizeof *nb);
        n--;
    }
    sk->nimp = (uint8_t)n;
    memcpy(sk->imp_tf, tf, n * sizeof *tf);
    memcpy(sk->imp_norm, nb, n);
}

/* Re-encodes one term's buffered postings into blocks. */
/* Positions of a full block, gathered before packing (grows; owned by kiln__seal). */
typedef struct kiln__u32vec {
    uint32_t *v;
    size_t n, cap;
} kiln__u32vec;

static void kiln__seal_term(const kiln__writer *w, const kiln__wterm *t, const kiln__wfield *wf,
                            kiln__sterm *st, kiln__bytes *post, kiln__bytes *pos,
                            kiln__skipvec *skips, kiln__u32vec *pv)
{
    st->df = t->df;
    st->post_off = post->len;
    st->pos_off = pos->len;
    st->skip_idx = (uint32_t)skips->n;
    st->max_tf = 0;
    st->min_norm = 255;
    kiln__slice_rd p, pp;
    kiln__slice_rd_init(&p, &w->pool, &t->post);
    kiln__slice_rd_init(&pp, &w->pool, &t->pos);
    uint32_t doc = 0, prev_last = 0;
    uint32_t post_base = post->len, pos_base = pos->len;
    uint16_t best[256] = {0};
    for (uint32_t i = 0; i < t->df; i += KILN__BLOCK) {
        uint32_t n = t->df - i < KILN__BLOCK ? t->df - i : KILN__BLOCK;
        if (skips->n == skips->cap) {
            skips->cap = skips->cap ? skips->cap * 2 : 1024;
            skips->v = kiln_xrealloc(skips->v, skips->cap * sizeof *skips->v);
        }
        kiln__skip *sk = &skips->v[skips->n++];
        sk->doc_off = post->len - post_base;
        sk->pos_off = pos->len - pos_base;
        sk->max_tf = 0;
        sk->min_norm = 255;
        sk->ndocs = (uint8_t)(n - 1);
        if (post->len + 10 * n + 2 > post->cap) kiln__bytes_grow(post, 10 * n + 2);
        uint8_t *o = post->p + post->len;
        uint32_t deltas[KILN__BLOCK], tfs1[KILN__BLOCK], dmax = 0, tmax = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t delta = kiln__slice_rd_vu32(&p), tf = kiln__slice_rd_vu32(&p);
            doc += delta;
            uint32_t d = doc - prev_last;
            prev_last = doc;
            deltas[k] = d;
            tfs1[k] = tf - 1;
            dmax |= d;
            tmax |= tf - 1;
            if (n < KILN__BLOCK) { /* the last, partial block: varints */
                o = kiln__put_vu32(o, d << 1 | (tf == 1));
                if (tf != 1) o = kiln__put_vu32(o, tf);
            }
            uint32_t tfc = tf > 65535 ? 65535 : tf;
            if (tfc > sk->max_tf) sk->max_tf = (uint16_t)tfc;
            uint8_t nb = wf->has_norms && wf->norms ? wf->norms[doc] : 1;
            if (nb < sk->min_norm) sk->min_norm = nb;
            if (tfc > best[nb]) best[nb] = (uint16_t)tfc;
            if (wf->has_pos && n == KILN__BLOCK) { /* gathered, packed below */
                if (pv->n + tf > pv->cap) {
                    pv->cap = (pv->n + tf) * 2;
                    pv->v = kiln_xrealloc(pv->v, pv->cap * sizeof *pv->v);
                }
                for (uint32_t k2 = 0; k2 < tf; k2++) pv->v[pv->n++] = kiln__slice_rd_vu32(&pp);
            } else if (wf->has_pos) {
                if (pos->len + 5 * tf > pos->cap) kiln__bytes_grow(pos, 5 * tf);
                uint8_t *q = pos->p + pos->len;
                for (uint32_t k2 = 0; k2 < tf; k2++) q = kiln__put_vu32(q, kiln__slice_rd_vu32(&pp));
                pos->len = (uint32_t)(q - pos->p);
            }
        }
        if (wf->has_pos && n == KILN__BLOCK) { /* a width byte, then every position delta */
            uint32_t pmax = 0;
            for (size_t k = 0; k < pv->n; k++) pmax |= pv->v[k];
            unsigned bw = kiln__bits(pmax);
            size_t bytes = (pv->n * bw + 7) / 8;
            if (pos->len + 1 + bytes > pos->cap) kiln__bytes_grow(pos, (uint32_t)(1 + bytes));
            pos->p[pos->len++] = (uint8_t)bw;
            kiln__pack_n(pos->p + pos->len, pv->v, pv->n, bw);
            pos->len += (uint32_t)bytes;
            pv->n = 0;
        }
        if (n == KILN__BLOCK) { /* a full block: widths, then deltas and tf - 1 bit-packed */
            unsigned bd = kiln__bits(dmax), bt = kiln__bits(tmax);
            *o++ = (uint8_t)bd;
            *o++ = (uint8_t)bt;
            kiln__pack(o, deltas, bd);
            o += 16 * bd;
            kiln__pack(o, tfs1, bt);
            o += 16 * bt;
        }
        post->len = (uint32_t)(o - post->p);
        sk->last_doc = doc;
        kiln__impacts(sk, best);
        if (sk->max_tf > st->max_tf) st->max_tf = sk->max_tf;
        if (sk->min_norm < st->min_norm) st->min_norm = sk->min_norm;
    }
    if (kiln__sterm_nblocks(st) == 1) { /* the reader rebuilds the entry from the term (iter.c) */
        skips->n--;
        st->skip_idx = doc;
    }
    if (kiln__sterm_pulsed(st)) post->len = post_base; /* the dictionary holds (doc, tf) */
}

/* Compresses text originals (nstr values: bytes [off[v], off[v+1]) of blob) into blocks of
 * about KILN__STR_BLOCK bytes of values; a longer value gets a block of its own. A block's raw
 * bytes are the varint length of each of its values, then the values: 1-2 bytes a value
 * before compression instead of a 4-byte offset column. */
static void kiln__seal_str_blocks(kiln__sfield *sf, const char *blob, const uint32_t *off,
                                  uint32_t nstr)
{
    kiln_buf z = KILN_BUF_INIT, raw = KILN_BUF_INIT;
    uint32_t cap = 64, n = 0;
    sf->dv_str_blocks = kiln_xmalloc(cap * sizeof *sf->dv_str_blocks);
    for (uint32_t v = 0; v < nstr;) {
        uint32_t end = v + 1;
        while (end < nstr && off[end + 1] - off[v] <= KILN__STR_BLOCK) end++;
        if (n == cap) {
            cap *= 2;
            sf->dv_str_blocks = kiln_xrealloc(sf->dv_str_blocks, cap * sizeof *sf->dv_str_blocks);
        }
        kiln_buf_reset(&raw);
        for (uint32_t k = v; k < end; k++) {
            uint8_t vb[5];
            kiln_buf_append(&raw, vb, (size_t)(kiln__put_vu32(vb, off[k + 1] - off[k]) - vb));
        }
        kiln_buf_append(&raw, blob + off[v], off[end] - off[v]);
        sf->dv_str_blocks[n++] = (kiln__strblock){z.len, v, (uint32_t)raw.len};
        kiln_zblock_compress(&z, raw.data, raw.len);
        v = end;
    }
    kiln_buf_free(&raw);
    sf->dv_str_nblocks = n;
    sf->dv_str_zlen = z.len;
    sf->dv_str_z = (uint8_t *)kiln_buf_steal(&z, NULL);
}

/* Points the public view of a field's doc values at its arrays (seal and segment open). */
void kiln__sfield_publish_dv(kiln__sfield *sf, uint32_t ndocs)
{
    sf->dv.type = sf->type;
    sf->dv.ndocs = ndocs;
    sf->dv.off = sf->dv_off;
    sf->dv.i64 = sf->dv_i64;
    sf->dv.f64 = sf->dv_f64;
    sf->dv.ord = sf->dv_ord;
    sf->dv.str_off = sf->dv_str_off;
    sf->dv.str_blob = sf->dv_blob;
    sf->dv.str_z = sf->dv_str_z;
    sf->dv.str_zlen = sf->dv_str_zlen;
    sf->dv.str_blocks = sf->dv_str_blocks;
    sf->dv.str_nblocks = sf->dv_str_nblocks;
    sf->dv.str_owner = sf->dv_str_z ? kiln_zblock_owner_new() : 0;
    sf->dv.str_ord = NULL;
    sf->dv.str_dict = NULL;
    sf->dv.dict = sf;
}

/* Links the shared arrays of every field of s (dv_off_from, str_from) and publishes the doc
 * values; 0, or -1 when a link is invalid (a corrupt file). */
int kiln__segment_link(kiln_segment *s)
{
    for (uint32_t i = 0; i < s->nfields; i++) {
        kiln__sfield *f = &s->fields[i];
        if (!f->path) continue;
        if (f->dv_off_from) {
            const kiln__sfield *o = &s->fields[f->dv_off_from - 1];
            if (f->dv_off_from > i || !o->dv_off || o->dv_off_from) return -1;
            f->dv_off = o->dv_off;
        }
    }
    for (uint32_t i = 0; i < s->nfields; i++) {
        kiln__sfield *f = &s->fields[i];
        if (!f->path) continue;
        kiln__sfield_publish_dv(f, s->ndocs);
        if (!f->str_from) continue;
        const kiln__sfield *k = &s->fields[f->str_from - 1];
        if (f->str_from > s->nfields || f->dv.kind != KILN_DV_STR || k->dv.kind != KILN_DV_ORD ||
            !k->dv_ord || !f->dv_off || k->dv_off[s->ndocs] != f->dv_off[s->ndocs])
            return -1;
        f->dv.str_ord = k->dv_ord;
        f->dv.str_dict = k;
    }
    return 0;
}

/* The keyword multi-field (path.*) whose ordinals spell exactly the text originals of wf, value
 * by value (same docs, same order), as field index + 1; 0 if none. Its dv must be sealed. */
static uint32_t kiln__str_sibling(const kiln_segment *s, const kiln__sfield *sf,
                                  const kiln__wfield *wf)
{
    size_t plen = strlen(sf->path);
    uint32_t n = sf->dv_off[s->ndocs];
    for (uint32_t g = 0; g < s->nfields; g++) {
        const kiln__sfield *k = &s->fields[g];
        if (!k->path || k->dv.kind != KILN_DV_ORD || strncmp(k->path, sf->path, plen) ||
            k->path[plen] != '.' || k->dv_off[s->ndocs] != n ||
            memcmp(k->dv_off, sf->dv_off, ((size_t)s->ndocs + 1) * 4))
            continue;
        uint32_t v = 0;
        for (; v < n; v++) {
            size_t len;
            const char *t = kiln__term_text(k, k->dv_ord[v], &len);
            if (len != wf->str_off[v + 1] - wf->str_off[v] ||
                memcmp(t, wf->str_blob.p + wf->str_off[v], len))
                break;
        }
        if (v == n) return g + 1;
    }
    return 0;
}

/* Frees f's offsets when an earlier field has the same array, and points at that one. */
static void kiln__share_offsets(kiln_segment *s, uint32_t f)
{
    kiln__sfield *sf = &s->fields[f];
    size_t bytes = ((size_t)s->ndocs + 1) * 4;
    for (uint32_t g = 0; g < f; g++) {
        kiln__sfield *o = &s->fields[g];
        if (!o->path || !o->dv_off || o->dv_off_from ||
            o->dv_off[s->ndocs] != sf->dv_off[s->ndocs] || memcmp(o->dv_off, sf->dv_off, bytes))
            continue;
        free(sf->dv_off);
        sf->dv_off = o->dv_off;
        sf->dv_off_from = g + 1;
        return;
    }
}

/* Lays out doc values: off[ndocs+1] and values sorted per doc (numbers, ordinals). */
static void kiln__seal_dv(const kiln_segment *seg, const kiln__wfield *wf, kiln__sfield *sf,
                          const uint32_t *ord_of)
{
    uint32_t ndocs = seg->ndocs;
    sf->dv.kind = wf->dv_kind;
    sf->dv.type = wf->type;
    sf->dv.ndocs = ndocs;
    sf->dv_off = kiln_xcalloc((size_t)ndocs + 1, sizeof *sf->dv_off);
    for (uint32_t i = 0; i < wf->dv_n; i++) sf->dv_off[wf->dv_doc[i] + 1]++;
    for (uint32_t d = 0; d < ndocs; d++) sf->dv_off[d + 1] += sf->dv_off[d];
    /* values are appended in doc order, so they are already grouped by doc */
    size_t n = wf->dv_n;
    switch (wf->dv_kind) {
    case KILN_DV_I64:
        sf->dv_i64 = kiln_xmalloc(n * sizeof(int64_t) + 1);
        memcpy(sf->dv_i64, wf->dv_val.i64, n * sizeof(int64_t));
        break;
    case KILN_DV_F64:
        sf->dv_f64 = kiln_xmalloc(n * sizeof(double) + 1);
        memcpy(sf->dv_f64, wf->dv_val.f64, n * sizeof(double));
        break;
    case KILN_DV_ORD:
        sf->dv_ord = kiln_xmalloc(n * sizeof(uint32_t) + 1);
        for (size_t i = 0; i < n; i++) sf->dv_ord[i] = ord_of[wf->dv_val.u32[i]];
        break;
    case KILN_DV_STR:
        /* strings are numbered in doc order, so value v of the column is string v: no id array */
        if ((sf->str_from = kiln__str_sibling(seg, sf, wf))) break;
        if (wf->str_blob.len >= KILN__STR_COMPRESS_MIN) {
            kiln__seal_str_blocks(sf, (const char *)wf->str_blob.p, wf->str_off, wf->str_n);
            break;
        }
        sf->dv_str_off = kiln_xmalloc(((size_t)wf->str_n + 1) * sizeof(uint32_t));
        sf->dv_str_off[0] = 0;
        if (wf->str_n) memcpy(sf->dv_str_off, wf->str_off, ((size_t)wf->str_n + 1) * 4);
        sf->dv_blob = kiln_xmalloc((size_t)wf->str_blob.len + 1);
        if (wf->str_blob.len) memcpy(sf->dv_blob, wf->str_blob.p, wf->str_blob.len);
        break;
    default:
        break;
    }
    for (uint32_t d = 0; d < ndocs; d++) {
        uint32_t a = sf->dv_off[d], b = sf->dv_off[d + 1];
        if (b - a < 2) continue;
        if (wf->dv_kind == KILN_DV_I64) qsort(sf->dv_i64 + a, b - a, 8, kiln__cmp_i64);
        if (wf->dv_kind == KILN_DV_F64) qsort(sf->dv_f64 + a, b - a, 8, kiln__cmp_f64);
        if (wf->dv_kind == KILN_DV_ORD) {
            /* ES keeps a sorted set: sort and drop duplicates is what SortedSetDocValues do,
             * but counts per doc must stay consistent with off[]: keep duplicates, sorted */
            qsort(sf->dv_ord + a, b - a, 4, kiln__cmp_u32);
        }
    }
}

kiln_segment *kiln__seal(kiln__writer *w, kiln__fields *fs)
{
    if (w->count == 0) return NULL;
    kiln_segment *s = kiln_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->base = w->base;
    s->ndocs = w->ndocs;
    s->nfields = fs->n;
    if (w->count != w->ndocs) {
        size_t nw = ((size_t)s->ndocs + 63) / 64;
        s->present = kiln_xmalloc(nw * 8 + 8);
        memcpy(s->present, w->present, nw * 8);
    }
    s->fields = kiln_xcalloc(fs->n ? fs->n : 1, sizeof *s->fields);

    /* group term ids by field, then sort each group by bytes */
    uint32_t *cnt = kiln_xcalloc((size_t)fs->n + 1, sizeof *cnt);
    for (uint32_t i = 0; i < w->nterms; i++) cnt[w->terms[i].field + 1]++;
    for (uint32_t f = 0; f < fs->n; f++) cnt[f + 1] += cnt[f];
    uint32_t *order = kiln_xmalloc(((size_t)w->nterms + 1) * sizeof *order);
    uint32_t *fill = kiln_xmalloc(((size_t)fs->n + 1) * sizeof *fill);
    memcpy(fill, cnt, (size_t)fs->n * sizeof *fill);
    for (uint32_t i = 0; i < w->nterms; i++) order[fill[w->terms[i].field]++] = i;
    uint32_t *ord_of = kiln_xmalloc(((size_t)w->nterms + 1) * sizeof *ord_of);

    kiln__bytes post = {0}, pos = {0};
    kiln__skipvec skips = {0};
    kiln__u32vec pv = {0};
    kiln__sterm *meta = NULL; /* a field's term metadata before its dictionary is encoded */
    uint32_t meta_cap = 0;
    for (uint32_t f = 0; f < fs->n; f++) {
        const kiln__wfield *wf = &fs->v[f];
        kiln__sfield *sf = &s->fields[f];
        uint32_t a = cnt[f], b = cnt[f + 1];
        if (wf->dv_n == 0 && a == b) continue; /* field absent from this segment */
        sf->path = kiln_xstrdup(wf->path);
        sf->type = wf->type;
        sf->indexed = wf->indexed;
        sf->has_pos = wf->has_pos;
        sf->has_norms = wf->has_norms;
        sf->doc_count = wf->doc_count;
        sf->sum_ttf = wf->sum_ttf;
        qsort_r(order + a, b - a, sizeof *order, kiln__cmp_terms, w);
        sf->nterms = b - a;
        if (b - a > meta_cap) {
            meta_cap = b - a;
            meta = kiln_xrealloc(meta, meta_cap * sizeof *meta);
        }
        sf->term_off = kiln_xmalloc(((size_t)sf->nterms + 1) * sizeof *sf->term_off);
        size_t tlen = 0;
        for (uint32_t i = a; i < b; i++) tlen += w->terms[order[i]].text_len;
        sf->text = kiln_xmalloc(tlen + 1);
        size_t to = 0;
        for (uint32_t i = a; i < b; i++) {
            const kiln__wterm *t = &w->terms[order[i]];
            sf->term_off[i - a] = (uint32_t)to;
            memcpy(sf->text + to, w->text.p + t->text_off, t->text_len);
            to += t->text_len;
            ord_of[order[i]] = i - a;
            kiln__seal_term(w, t, wf, &meta[i - a], &post, &pos, &skips, &pv);
        }
        sf->term_off[sf->nterms] = (uint32_t)to;
        kiln__tdict_encode(sf, meta);
        if (wf->has_norms) {
            sf->norms = kiln_xcalloc(s->ndocs ? s->ndocs : 1, 1);
            if (wf->norms)
                memcpy(sf->norms, wf->norms, wf->norms_cap < s->ndocs ? wf->norms_cap : s->ndocs);
        }
    }
    /* doc values once every dictionary is sorted: keyword columns first, so text originals can
     * point at a keyword multi-field holding the same strings */
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t f = 0; f < fs->n; f++)
            if (s->fields[f].path && (fs->v[f].dv_kind == KILN_DV_STR) == pass)
                kiln__seal_dv(s, &fs->v[f], &s->fields[f], ord_of);
    for (uint32_t f = 0; f < fs->n; f++)
        if (s->fields[f].path) kiln__share_offsets(s, f);
    kiln__segment_link(s);
    free(pv.v);
    free(meta);
    if (post.len + KILN__PACK_PAD > post.cap) kiln__bytes_grow(&post, KILN__PACK_PAD);
    memset(post.p + post.len, 0, KILN__PACK_PAD);
    post.len += KILN__PACK_PAD;
    if (pos.len + KILN__PACK_PAD > pos.cap) kiln__bytes_grow(&pos, KILN__PACK_PAD);
    memset(pos.p + pos.len, 0, KILN__PACK_PAD);
    pos.len += KILN__PACK_PAD;
    s->post = post.p;
    s->post_len = post.len;
    s->pos = pos.p;
    s->pos_len = pos.len;
    s->skips = skips.v;
    s->nskips = skips.n;
    free(cnt);
    free(order);
    free(fill);
    free(ord_of);
    return s;
}

void kiln__segment_ref(kiln_segment *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void kiln__segment_unref(kiln_segment *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    if (s->map) { /* mapped from a file: only the paths and the field table are ours */
        for (uint32_t i = 0; i < s->nfields; i++) free(s->fields[i].path);
        free(s->fields);
        munmap(s->map, s->map_len);
        free(s);
        return;
    }
    for (uint32_t i = 0; i < s->nfields; i++) {
        kiln__sfield *f = &s->fields[i];
        free(f->path);
        free(f->term_off);
        free(f->tblock_off);
        free(f->tmeta);
        free(f->text);
        free(f->norms);
        if (!f->dv_off_from) free(f->dv_off);
        free(f->dv_ord);
        free(f->dv_str_off);
        free(f->dv_i64);
        free(f->dv_f64);
        free(f->dv_blob);
        free(f->dv_str_z);
        free(f->dv_str_blocks);
    }
    free(s->fields);
    free(s->present);
    free(s->post);
    free(s->pos);
    free(s->skips);
    free(s);
}
