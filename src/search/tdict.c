/* The term dictionary of a segment field (format 4): term bytes with a u32 offset per term, and
 * the terms' metadata in blocks of KILN__TBLOCK terms. A block is
 *
 *   6 width bytes (one per column, below) | varints: postings base (u64), positions base
 *   (u64), skip base, df min, max-tf min, norm min | the columns, bit-packed back to back
 *   (column c of term k at bit n × (w0 + ... + w(c-1)) + k × wc, n = terms in the block)
 *
 * columns: df - df min | postings offset - base | positions offset - base | max tf - min |
 * shortest norm - min | last doc (a term of one postings block) or skip index - skip base.
 * Offsets are relative to the block's smallest, so a block of rare terms needs a few bits
 * per offset; one term is decoded without its neighbours (a lookup is a binary search over
 * the text, then one block header and six unpacks). */
#include "search/searchInt.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

static inline uint8_t *kiln__put_vu64(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Value of w bits (0..57) at bit offset `bit` of in (8 readable bytes from its first byte). */
static inline uint64_t kiln__unpack64_at(const uint8_t *in, uint64_t bit, unsigned w)
{
    if (w == 0) return 0;
    uint64_t x;
    memcpy(&x, in + (bit >> 3), 8);
    return (x >> (bit & 7)) & ((1ull << w) - 1);
}

enum { KILN__C_DF, KILN__C_POST, KILN__C_POS, KILN__C_TF, KILN__C_NORM, KILN__C_X };

/* Widest column: postings and positions offsets within a block (kiln__unpack64_at reads 57
 * bits at most); the others hold u32 values. */
static unsigned kiln__col_max_width(int c)
{
    return c == KILN__C_POST || c == KILN__C_POS ? 57 : 32;
}

static unsigned kiln__bits64(uint64_t v)
{
    return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

static uint32_t kiln__tblocks(const kiln__sfield *f)
{
    return (f->nterms + KILN__TBLOCK - 1) / KILN__TBLOCK;
}

void kiln__tdict_encode(kiln__sfield *f, const kiln__sterm *terms)
{
    uint32_t nb = kiln__tblocks(f);
    f->tblock_off = kiln_xmalloc((nb ? nb : 1) * sizeof *f->tblock_off);
    kiln_buf b = KILN_BUF_INIT;
    for (uint32_t blk = 0; blk < nb; blk++) {
        uint32_t a = blk * KILN__TBLOCK;
        uint32_t n = f->nterms - a < KILN__TBLOCK ? f->nterms - a : KILN__TBLOCK;
        const kiln__sterm *t = terms + a;
        uint64_t base[KILN__TCOLS] = {UINT64_MAX, UINT64_MAX, UINT64_MAX,
                                      UINT64_MAX, UINT64_MAX, UINT64_MAX};
        for (uint32_t k = 0; k < n; k++) {
            uint64_t x[KILN__TCOLS] = {t[k].df,     t[k].post_off, t[k].pos_off,
                                       t[k].max_tf, t[k].min_norm, UINT64_MAX};
            if (kiln__sterm_nblocks(&t[k]) > 1) x[KILN__C_X] = t[k].skip_idx;
            for (int c = 0; c < KILN__TCOLS; c++)
                if (x[c] < base[c]) base[c] = x[c];
        }
        if (base[KILN__C_X] == UINT64_MAX) base[KILN__C_X] = 0; /* no term with skip entries */
        uint64_t v[KILN__TCOLS][KILN__TBLOCK], max[KILN__TCOLS] = {0};
        for (uint32_t k = 0; k < n; k++) {
            v[KILN__C_DF][k] = t[k].df - base[KILN__C_DF];
            v[KILN__C_POST][k] = t[k].post_off - base[KILN__C_POST];
            v[KILN__C_POS][k] = t[k].pos_off - base[KILN__C_POS];
            v[KILN__C_TF][k] = t[k].max_tf - base[KILN__C_TF];
            v[KILN__C_NORM][k] = t[k].min_norm - base[KILN__C_NORM];
            v[KILN__C_X][k] =
                kiln__sterm_nblocks(&t[k]) > 1 ? t[k].skip_idx - base[KILN__C_X] : t[k].skip_idx;
            for (int c = 0; c < KILN__TCOLS; c++)
                if (v[c][k] > max[c]) max[c] = v[c][k];
        }
        f->tblock_off[blk] = b.len;
        uint8_t hdr[KILN__TCOLS + 6 * 10], *h = hdr + KILN__TCOLS;
        unsigned wsum = 0;
        for (int c = 0; c < KILN__TCOLS; c++) {
            hdr[c] = (uint8_t)kiln__bits64(max[c]);
            wsum += hdr[c];
        }
        h = kiln__put_vu64(h, base[KILN__C_POST]);
        h = kiln__put_vu64(h, base[KILN__C_POS]);
        h = kiln__put_vu64(h, base[KILN__C_X]);
        h = kiln__put_vu64(h, base[KILN__C_DF]);
        h = kiln__put_vu64(h, base[KILN__C_TF]);
        h = kiln__put_vu64(h, base[KILN__C_NORM]);
        kiln_buf_append(&b, hdr, (size_t)(h - hdr));
        size_t bytes = ((size_t)n * wsum + 7) / 8, at = b.len;
        kiln_buf_reserve(&b, bytes);
        memset(b.data + at, 0, bytes);
        uint8_t *out = (uint8_t *)b.data + at;
        uint64_t bit = 0;
        for (int c = 0; c < KILN__TCOLS; c++)
            for (uint32_t k = 0; k < n; k++, bit += hdr[c]) {
                uint64_t x = v[c][k] << (bit & 7); /* width <= 57: the shifted value fits */
                for (size_t i = bit >> 3; x; i++, x >>= 8)
                    out[i] |= (uint8_t)x;
            }
        b.len += bytes;
    }
    static const uint8_t pad[KILN__PACK_PAD] = {0};
    kiln_buf_append(&b, pad, sizeof pad);
    f->tmeta_len = b.len;
    f->tmeta = (uint8_t *)kiln_buf_steal(&b, NULL);
}

/* A block's header: widths, bases, and where its columns start. */
typedef struct kiln__thdr {
    const uint8_t *w;
    uint64_t post_base, pos_base, skip_base, df_min, tf_min, norm_min;
    const uint8_t *cols;
} kiln__thdr;

/* Reads the header at p; NULL if it does not end before end. */
static const uint8_t *kiln__thdr_read(const uint8_t *p, const uint8_t *end, kiln__thdr *h)
{
    if (end - p < KILN__TCOLS) return NULL;
    h->w = p;
    p += KILN__TCOLS;
    uint64_t *dst[6] = {&h->post_base, &h->pos_base, &h->skip_base,
                        &h->df_min,    &h->tf_min,   &h->norm_min};
    for (int i = 0; i < 6 && p; i++)
        p = kiln__get_varint_in(p, end, 10, dst[i]);
    h->cols = p;
    return p;
}

static void kiln__thdr_term(const kiln__thdr *h, uint32_t n, uint32_t k, kiln__sterm *out)
{
    uint64_t v[KILN__TCOLS], bit = 0;
    for (int c = 0; c < KILN__TCOLS; c++) {
        v[c] = kiln__unpack64_at(h->cols, bit + (uint64_t)k * h->w[c], h->w[c]);
        bit += (uint64_t)n * h->w[c];
    }
    out->df = (uint32_t)(h->df_min + v[KILN__C_DF]);
    out->post_off = h->post_base + v[KILN__C_POST];
    out->pos_off = h->pos_base + v[KILN__C_POS];
    out->max_tf = (uint16_t)(h->tf_min + v[KILN__C_TF]);
    out->min_norm = (uint8_t)(h->norm_min + v[KILN__C_NORM]);
    out->skip_idx =
        (uint32_t)(kiln__sterm_nblocks(out) > 1 ? h->skip_base + v[KILN__C_X] : v[KILN__C_X]);
}

static uint32_t kiln__tblock_n(const kiln__sfield *f, uint32_t blk)
{
    uint32_t a = blk * KILN__TBLOCK;
    return f->nterms - a < KILN__TBLOCK ? f->nterms - a : KILN__TBLOCK;
}

/* A varint with no bound: only for headers kiln__tdict_valid has read (or the encoder wrote). */
static inline const uint8_t *kiln__get_vu64(const uint8_t *p, uint64_t *v)
{
    uint64_t x = *p++;
    if (x >= 0x80) {
        x &= 0x7f;
        for (unsigned shift = 7;; shift += 7) {
            uint64_t b = *p++;
            x |= (b & 0x7f) << shift;
            if (b < 0x80) break;
        }
    }
    *v = x;
    return p;
}

static void kiln__thdr_at(const kiln__sfield *f, uint32_t blk, kiln__thdr *h)
{
    const uint8_t *p = f->tmeta + f->tblock_off[blk];
    h->w = p;
    p = kiln__get_vu64(p + KILN__TCOLS, &h->post_base);
    p = kiln__get_vu64(p, &h->pos_base);
    p = kiln__get_vu64(p, &h->skip_base);
    p = kiln__get_vu64(p, &h->df_min);
    p = kiln__get_vu64(p, &h->tf_min);
    h->cols = kiln__get_vu64(p, &h->norm_min);
}

void kiln__term_meta(const kiln__sfield *f, uint32_t i, kiln__sterm *out)
{
    kiln__thdr h;
    kiln__thdr_at(f, i / KILN__TBLOCK, &h);
    kiln__thdr_term(&h, kiln__tblock_n(f, i / KILN__TBLOCK), i % KILN__TBLOCK, out);
}

uint32_t kiln__term_df(const kiln__sfield *f, uint32_t i)
{
    kiln__thdr h;
    kiln__thdr_at(f, i / KILN__TBLOCK, &h); /* df is the first column */
    return (uint32_t)(h.df_min + kiln__unpack64_at(h.cols,
                                                   (uint64_t)(i % KILN__TBLOCK) * h.w[KILN__C_DF],
                                                   h.w[KILN__C_DF]));
}

int kiln__tdict_valid(const kiln__sfield *f, size_t text_len, const kiln_segment *s)
{
    if (f->term_off[0] != 0 || f->term_off[f->nterms] != text_len) return -1;
    for (uint32_t i = 0; i < f->nterms; i++)
        if (f->term_off[i + 1] < f->term_off[i]) return -1;
    if (f->tmeta_len < KILN__PACK_PAD) return -1;
    uint64_t meta_end = f->tmeta_len - KILN__PACK_PAD; /* the columns' reads may touch the pad */
    uint32_t nb = kiln__tblocks(f);
    for (uint32_t blk = 0; blk < nb; blk++) {
        uint64_t at = f->tblock_off[blk], end = blk + 1 < nb ? f->tblock_off[blk + 1] : meta_end;
        if (at > end || end > meta_end || (blk == 0 && at != 0)) return -1;
        kiln__thdr h;
        if (!kiln__thdr_read(f->tmeta + at, f->tmeta + end, &h)) return -1;
        uint32_t n = kiln__tblock_n(f, blk);
        uint64_t bits = 0;
        for (int c = 0; c < KILN__TCOLS; c++) {
            if (h.w[c] > kiln__col_max_width(c)) return -1;
            bits += (uint64_t)n * h.w[c];
        }
        if ((uint64_t)(h.cols - f->tmeta) + (bits + 7) / 8 > end) return -1;
        for (uint32_t k = 0; k < n; k++) {
            kiln__sterm st;
            kiln__thdr_term(&h, n, k, &st);
            uint32_t nblk = kiln__sterm_nblocks(&st);
            if (st.df == 0 || st.max_tf == 0 || st.post_off > s->post_len ||
                st.pos_off > s->pos_len)
                return -1;
            if (nblk > 1 ? (uint64_t)st.skip_idx + nblk > s->nskips : st.skip_idx >= s->ndocs)
                return -1;
        }
    }
    return 0;
}

/* ---- lookups by text ------------------------------------------------------------------------ */

static int kiln__term_cmp(const kiln__sfield *f, uint32_t i, const char *t, size_t len)
{
    size_t tl;
    const char *text = kiln__term_text(f, i, &tl);
    size_t n = tl < len ? tl : len;
    int c = memcmp(text, t, n);
    if (c) return c;
    return (tl > len) - (tl < len);
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
