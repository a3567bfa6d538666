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

/* Sorting a field's term ids by their bytes: an LSD radix sort on the first 8 bytes (big-endian,
 * zero-padded: the same order as memcmp then length), then runs of equal keys by the whole
 * bytes. Most terms differ within 8 bytes, so the comparator rarely runs. */
typedef struct kiln__tkey {
    uint64_t key;
    uint32_t id;
} kiln__tkey;

static uint64_t kiln__term_key(const kiln__writer *w, uint32_t id)
{
    const kiln__wterm *t = &w->terms[id];
    const uint8_t *p = w->text.p + t->text_off;
    uint64_t k = 0;
    uint32_t n = t->text_len < 8 ? t->text_len : 8;
    for (uint32_t i = 0; i < n; i++) k |= (uint64_t)p[i] << (56 - 8 * i);
    return k;
}

static void kiln__sort_terms(const kiln__writer *w, uint32_t *ids, uint32_t n, kiln__tkey **buf,
                             size_t *cap)
{
    if (n < 2) return;
    if (2 * (size_t)n > *cap) {
        *cap = 2 * (size_t)n;
        *buf = kiln_xrealloc(*buf, *cap * sizeof **buf);
    }
    kiln__tkey *a = *buf, *b = *buf + n;
    static __thread uint32_t hist[8][256];
    memset(hist, 0, sizeof hist);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = kiln__term_key(w, ids[i]);
        a[i] = (kiln__tkey){k, ids[i]};
        for (unsigned d = 0; d < 8; d++) hist[d][(k >> (8 * d)) & 255]++;
    }
    for (unsigned d = 0; d < 8; d++) {
        uint32_t *h = hist[d];
        if (h[(a[0].key >> (8 * d)) & 255] == n) continue; /* every key has this byte */
        uint32_t sum = 0;
        for (unsigned x = 0; x < 256; x++) {
            uint32_t c = h[x];
            h[x] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) b[h[(a[i].key >> (8 * d)) & 255]++] = a[i];
        kiln__tkey *t = a;
        a = b;
        b = t;
    }
    for (uint32_t i = 0; i < n; i++) ids[i] = a[i].id;
    for (uint32_t i = 0; i + 1 < n;) { /* ties on the first 8 bytes */
        uint32_t j = i + 1;
        while (j < n && a[j].key == a[i].key) j++;
        if (j - i > 1)
            qsort_r(ids + i, j - i, sizeof *ids, kiln__cmp_terms, (void *)w);
        i = j;
    }
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

/* The competitive impacts of a block from the max tf per norm byte (best[lo..hi], 0 = none),
 * which it leaves zeroed. */
static void kiln__impacts(kiln__skip *sk, uint16_t *best, unsigned lo, unsigned hi)
{
    uint16_t tf[256];
    uint8_t nb[256];
    unsigned n = 0, run = 0;
    for (unsigned b = lo; b <= hi; b++) { /* shorter fields first: keep pairs with a higher tf */
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

/* Scratch of kiln__seal_term, reused across terms (owned by kiln__seal). */
typedef struct kiln__sealtmp {
    uint32_t *pv; /* the positions of a full block, before packing */
    size_t pv_cap;
    uint16_t best[256]; /* max tf per norm byte of the block (kiln__impacts) */
} kiln__sealtmp;

/* One varint of a slice chain: decoded in place when the slice holds 5 more bytes (a varint
 * never runs past the chain's written bytes), else a byte at a time across the link. */
static inline uint32_t kiln__rd_vu32(kiln__slice_rd *r)
{
    if (r->end - r->at >= 5) {
        const uint8_t *p = kiln__pool_at(r->p, r->at);
        uint32_t v;
        r->at += (uint32_t)(kiln__get_vu32(p, &v) - p);
        return v;
    }
    return kiln__slice_rd_vu32(r);
}

static inline void kiln__bytes_need(kiln__bytes *b, size_t extra)
{
    if (b->len + extra > b->cap) kiln__bytes_grow(b, (uint32_t)extra);
}

/* Re-encodes one term's buffered postings into blocks, decoding its slice chains in place. */
static void kiln__seal_term(const kiln__writer *w, const kiln__wterm *t, const kiln__wfield *wf,
                            kiln__sterm *st, kiln__bytes *post, kiln__bytes *pos,
                            kiln__skipvec *skips, kiln__sealtmp *tmp)
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
    const uint8_t *norms = wf->has_norms && wf->norms ? wf->norms : NULL;
    uint32_t doc = 0, prev_last = 0;
    uint32_t post_base = post->len, pos_base = pos->len;
    uint16_t *best = tmp->best;
    int one_block = t->df <= KILN__BLOCK; /* no skip entry kept: no impacts needed */
    for (uint32_t i = 0; i < t->df; i += KILN__BLOCK) {
        uint32_t n = t->df - i < KILN__BLOCK ? t->df - i : KILN__BLOCK;
        if (skips->n == skips->cap) {
            skips->cap = skips->cap ? skips->cap * 2 : 1024;
            skips->v = kiln_xrealloc(skips->v, skips->cap * sizeof *skips->v);
        }
        kiln__skip *sk = &skips->v[skips->n++];
        sk->doc_off = post->len - post_base;
        sk->pos_off = pos->len - pos_base;
        sk->ndocs = (uint8_t)(n - 1);
        kiln__bytes_need(post, 10 * n + 2);
        uint8_t *o = post->p + post->len;
        uint32_t deltas[KILN__BLOCK], tfs1[KILN__BLOCK], dmax = 0, tmax = 0, ntf = 0;
        unsigned max_tf = 0, min_norm = 255, nlo = 255, nhi = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t delta = kiln__rd_vu32(&p), tf = kiln__rd_vu32(&p);
            doc += delta;
            uint32_t d = doc - prev_last;
            prev_last = doc;
            deltas[k] = d;
            tfs1[k] = tf - 1;
            dmax |= d;
            tmax |= tf - 1;
            ntf += tf;
            if (n < KILN__BLOCK) { /* the last, partial block: varints */
                o = kiln__put_vu32(o, d << 1 | (tf == 1));
                if (tf != 1) o = kiln__put_vu32(o, tf);
            }
            unsigned tfc = tf > 65535 ? 65535 : tf;
            if (tfc > max_tf) max_tf = tfc;
            unsigned nb = norms ? norms[doc] : 1;
            if (nb < min_norm) min_norm = nb;
            if (!one_block) {
                if (tfc > best[nb]) best[nb] = (uint16_t)tfc;
                if (nb < nlo) nlo = nb;
                if (nb > nhi) nhi = nb;
            }
            if (wf->has_pos && n < KILN__BLOCK) { /* the partial block's positions: varints */
                kiln__bytes_need(pos, 5 * (size_t)tf);
                uint8_t *q = pos->p + pos->len;
                for (uint32_t k2 = 0; k2 < tf; k2++) q = kiln__put_vu32(q, kiln__rd_vu32(&pp));
                pos->len = (uint32_t)(q - pos->p);
            }
        }
        if (wf->has_pos && n == KILN__BLOCK) { /* a width byte, then every position delta */
            if (ntf > tmp->pv_cap) {
                tmp->pv_cap = (size_t)ntf * 2;
                tmp->pv = kiln_xrealloc(tmp->pv, tmp->pv_cap * sizeof *tmp->pv);
            }
            uint32_t pmax = 0, *pv = tmp->pv;
            for (uint32_t k = 0; k < ntf; k++) {
                pv[k] = kiln__rd_vu32(&pp);
                pmax |= pv[k];
            }
            unsigned bw = kiln__bits(pmax);
            size_t bytes = ((size_t)ntf * bw + 7) / 8;
            kiln__bytes_need(pos, 1 + bytes);
            pos->p[pos->len++] = (uint8_t)bw;
            kiln__pack_n(pos->p + pos->len, pv, ntf, bw);
            pos->len += (uint32_t)bytes;
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
        sk->max_tf = (uint16_t)max_tf;
        sk->min_norm = (uint8_t)min_norm;
        if (!one_block) kiln__impacts(sk, best, nlo, nhi);
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
 * before compression instead of a 4-byte offset column. The arrays are malloc'd. */
void kiln__str_compress(const char *blob, const uint32_t *off, uint32_t nstr,
                        kiln__strblock **blocks_out, uint32_t *nblocks_out, uint8_t **z_out,
                        uint64_t *zlen_out)
{
    kiln_buf z = KILN_BUF_INIT, raw = KILN_BUF_INIT;
    uint32_t cap = 64, n = 0;
    kiln__strblock *blocks = kiln_xmalloc(cap * sizeof *blocks);
    kiln_buf_reserve(&z, (size_t)(off[nstr] - off[0]) / 2 + 64);
    for (uint32_t v = 0; v < nstr;) {
        uint32_t end = v + 1;
        while (end < nstr && off[end + 1] - off[v] <= KILN__STR_BLOCK) end++;
        if (n == cap) {
            cap *= 2;
            blocks = kiln_xrealloc(blocks, cap * sizeof *blocks);
        }
        kiln_buf_reset(&raw);
        kiln_buf_reserve(&raw, (size_t)(end - v) * 5 + (off[end] - off[v]));
        uint8_t *q = (uint8_t *)raw.data;
        for (uint32_t k = v; k < end; k++) q = kiln__put_vu32(q, off[k + 1] - off[k]);
        memcpy(q, blob + off[v], off[end] - off[v]);
        raw.len = (size_t)(q - (uint8_t *)raw.data) + (off[end] - off[v]);
        raw.data[raw.len] = 0;
        blocks[n++] = (kiln__strblock){z.len, v, (uint32_t)raw.len};
        kiln_zblock_compress(&z, raw.data, raw.len, KILN__STR_CODEC);
        v = end;
    }
    kiln_buf_free(&raw);
    *blocks_out = blocks;
    *nblocks_out = n;
    *zlen_out = z.len;
    *z_out = (uint8_t *)kiln_buf_steal(&z, NULL);
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
    sf->dv.str_codec = sf->dv_str_codec;
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
                          const uint32_t *ord_of, int compress)
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
        if (!wf->twin_broken && (sf->str_from = kiln__str_sibling(seg, sf, wf))) break;
        if (!wf->store) { /* no keyword twin spells them and none were asked for: _source has them */
            sf->dv.kind = KILN_DV_COUNT;
            break;
        }
        if (compress && wf->str_blob.len >= KILN__STR_COMPRESS_MIN) {
            sf->dv_str_codec = KILN__STR_CODEC;
            kiln__str_compress((const char *)wf->str_blob.p, wf->str_off, wf->str_n,
                               &sf->dv_str_blocks, &sf->dv_str_nblocks, &sf->dv_str_z,
                               &sf->dv_str_zlen);
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

kiln_segment *kiln__seal(kiln__writer *w, kiln__fields *fs, int compress)
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

    /* The encoded postings and positions take about the pool's bytes or fewer (links and unused
     * slice tails dropped, blocks bit-packed): reserve that once rather than regrow by doubling;
     * pages never written cost nothing, and the arrays are shrunk to fit at the end */
    kiln__bytes post = {0}, pos = {0};
    size_t pool_bytes = (size_t)w->pool.cur * KILN__POOL_BLOCK + w->pool.off + 4096;
    if (pool_bytes > (1u << 30)) pool_bytes = 1u << 30;
    kiln__bytes_grow(&post, (uint32_t)pool_bytes);
    kiln__bytes_grow(&pos, (uint32_t)pool_bytes);
    kiln__skipvec skips = {0};
    kiln__sealtmp *tmp = kiln_xcalloc(1, sizeof *tmp);
    kiln__tkey *tkeys = NULL;
    size_t tkeys_cap = 0;
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
        sf->stored = wf->store;
        sf->doc_count = wf->doc_count;
        sf->sum_ttf = wf->sum_ttf;
        size_t tlen = 0; /* in id order, before the sort: term records read sequentially */
        for (uint32_t i = a; i < b; i++) tlen += w->terms[order[i]].text_len;
        kiln__sort_terms(w, order + a, b - a, &tkeys, &tkeys_cap);
        sf->nterms = b - a;
        if (b - a > meta_cap) {
            meta_cap = b - a;
            meta = kiln_xrealloc(meta, meta_cap * sizeof *meta);
        }
        sf->term_off = kiln_xmalloc(((size_t)sf->nterms + 1) * sizeof *sf->term_off);
        sf->text = kiln_xmalloc(tlen + 1);
        size_t to = 0;
        for (uint32_t i = a; i < b; i++) {
            /* in byte order the term records and their slices are all over memory: load them
             * ahead (the records 16 terms ahead, their text and slice heads 8 ahead) */
            if (i + 16 < b) {
                const char *r = (const char *)&w->terms[order[i + 16]];
                __builtin_prefetch(r);
                __builtin_prefetch(r + sizeof(kiln__wterm) - 1);
            }
            if (i + 8 < b) {
                const kiln__wterm *u = &w->terms[order[i + 8]];
                __builtin_prefetch(w->text.p + u->text_off);
                if (u->post.head) __builtin_prefetch(kiln__pool_at(&w->pool, u->post.head));
                if (u->pos.head) __builtin_prefetch(kiln__pool_at(&w->pool, u->pos.head));
            }
            const kiln__wterm *t = &w->terms[order[i]];
            sf->term_off[i - a] = (uint32_t)to;
            memcpy(sf->text + to, w->text.p + t->text_off, t->text_len);
            to += t->text_len;
            ord_of[order[i]] = i - a;
            kiln__seal_term(w, t, wf, &meta[i - a], &post, &pos, &skips, tmp);
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
                kiln__seal_dv(s, &fs->v[f], &s->fields[f], ord_of, compress);
    for (uint32_t f = 0; f < fs->n; f++)
        if (s->fields[f].path) kiln__share_offsets(s, f);
    kiln__segment_link(s);
    free(tmp->pv);
    free(tmp);
    free(tkeys);
    free(meta);
    if (post.len + KILN__PACK_PAD > post.cap) kiln__bytes_grow(&post, KILN__PACK_PAD);
    memset(post.p + post.len, 0, KILN__PACK_PAD);
    post.len += KILN__PACK_PAD;
    if (pos.len + KILN__PACK_PAD > pos.cap) kiln__bytes_grow(&pos, KILN__PACK_PAD);
    memset(pos.p + pos.len, 0, KILN__PACK_PAD);
    pos.len += KILN__PACK_PAD;
    s->post = kiln_xrealloc(post.p, post.len);
    s->post_len = post.len;
    s->pos = kiln_xrealloc(pos.p, pos.len);
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
