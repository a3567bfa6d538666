/* The write buffer: kiln_sindex_add flattens a document into (field, value) leaves, analyzes
 * text, and appends to per-term postings and per-field doc values. No sorting per document:
 * a token's term id is found in one hash probe and postings are grouped with counting passes,
 * so a ~1 KB product document costs a few microseconds. */
#include "search/searchInt.h"

#include "core/buf.h"
#include "dsl/query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL /* term hashing is per token: inline XXH3 for short inputs */
#include <xxhash.h>

void kiln__bytes_grow(kiln__bytes *b, uint32_t extra)
{
    uint32_t cap = b->cap ? b->cap : 16;
    while (cap < b->len + extra) cap *= 2;
    b->p = kiln_xrealloc(b->p, cap);
    b->cap = cap;
}

/* ---- byte-slice pool ---------------------------------------------------------------------- */

static const uint32_t kiln__slice_size[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
#define KILN__SLICE_LEVELS (sizeof kiln__slice_size / sizeof *kiln__slice_size)

void kiln__pool_init(kiln__pool *p)
{
    memset(p, 0, sizeof *p);
}

void kiln__pool_reset(kiln__pool *p)
{
    p->cur = 0;
    p->off = 8; /* address 0 means "no slice" */
}

void kiln__pool_free(kiln__pool *p)
{
    for (uint32_t i = 0; i < p->nblocks; i++) free(p->blocks[i]);
    free(p->blocks);
    memset(p, 0, sizeof *p);
}

static uint32_t kiln__pool_alloc(kiln__pool *p, uint32_t size)
{
    if (!p->nblocks || p->off + size > KILN__POOL_BLOCK) {
        if (p->nblocks) {
            p->cur++;
            p->off = 0;
        } else
            p->off = 8;
        if (p->cur >= p->nblocks) {
            if (p->nblocks == p->cap_blocks) {
                p->cap_blocks = p->cap_blocks ? p->cap_blocks * 2 : 16;
                p->blocks = kiln_xrealloc(p->blocks, p->cap_blocks * sizeof *p->blocks);
            }
            p->blocks[p->nblocks++] = kiln_xmalloc(KILN__POOL_BLOCK);
        }
    }
    uint32_t addr = p->cur << KILN__POOL_SHIFT | p->off;
    p->off += size;
    return addr;
}

void kiln__slice_byte_slow(kiln__pool *p, kiln__slice *s, uint8_t b)
{
    if (!s->head) {
        s->level = 0;
        s->head = s->wr = kiln__pool_alloc(p, kiln__slice_size[0]);
        s->wend = s->wr + kiln__slice_size[0] - 4;
    } else {
        if (s->level + 1u < KILN__SLICE_LEVELS) s->level++;
        uint32_t size = kiln__slice_size[s->level];
        uint32_t next = kiln__pool_alloc(p, size);
        memcpy(kiln__pool_at(p, s->wend), &next, 4); /* link from the full slice */
        s->wr = next;
        s->wend = next + size - 4;
    }
    *kiln__pool_at(p, s->wr++) = b;
}

void kiln__slice_rd_init(kiln__slice_rd *r, const kiln__pool *p, const kiln__slice *s)
{
    r->p = p;
    r->level = 0;
    r->at = s->head;
    r->end = s->head ? s->head + kiln__slice_size[0] - 4 : 0;
}

uint8_t kiln__slice_rd_next_slice(kiln__slice_rd *r)
{
    uint32_t next;
    memcpy(&next, kiln__pool_at(r->p, r->end), 4);
    if (r->level + 1u < KILN__SLICE_LEVELS) r->level++;
    r->at = next;
    r->end = next + kiln__slice_size[r->level] - 4;
    return *kiln__pool_at(r->p, r->at++);
}

#define KILN__GROW(ptr, n, cap, need)                                                             \
    do {                                                                                           \
        if ((need) > (cap)) {                                                                      \
            uint32_t c_ = (cap) ? (cap) : 16;                                                      \
            while (c_ < (need)) c_ *= 2;                                                           \
            (ptr) = kiln_xrealloc((ptr), (size_t)c_ * sizeof *(ptr));                              \
            (cap) = c_;                                                                            \
        }                                                                                          \
    } while (0)

void kiln__writer_init(kiln__writer *w)
{
    memset(w, 0, sizeof *w);
    w->table_mask = 1023;
    w->table = kiln_xcalloc(w->table_mask + 1, sizeof *w->table);
    kiln__pool_init(&w->pool);
    kiln__pool_reset(&w->pool);
}

static void kiln__wfield_clear(kiln__wfield *f, int release)
{
    if (release) {
        free(f->norms);
        free(f->dv_doc);
        free(f->dv_val.i64);
        free(f->str_blob.p);
        free(f->str_off);
        f->norms = NULL;
        f->dv_doc = NULL;
        f->dv_val.i64 = NULL;
        f->str_off = NULL;
        memset(&f->str_blob, 0, sizeof f->str_blob);
        f->norms_cap = f->dv_cap = f->str_cap = 0;
    }
    if (f->norms) memset(f->norms, 0, f->norms_cap);
    f->dv_n = f->str_n = 0;
    f->str_blob.len = 0;
    f->doc_count = 0;
    f->sum_ttf = 0;
    f->cur_doc1 = f->cur_len = f->next_pos = 0;
}

void kiln__writer_reset(kiln__writer *w, kiln__fields *fs, uint32_t base)
{
    w->nterms = 0;
    kiln__pool_reset(&w->pool);
    memset(w->table, 0, (size_t)(w->table_mask + 1) * sizeof *w->table);
    w->text.len = 0;
    w->base = base;
    if (w->present) memset(w->present, 0, (size_t)w->present_words * 8);
    w->ndocs = 0;
    __atomic_store_n(&w->count, 0, __ATOMIC_RELAXED); /* read by searchers (pending) */
    for (uint32_t i = 0; i < fs->n; i++) kiln__wfield_clear(&fs->v[i], 0);
}

void kiln__writer_free(kiln__writer *w)
{
    kiln__pool_free(&w->pool);
    free(w->terms);
    free(w->table);
    free(w->text.p);
    free(w->toks);
    free(w->touched);
    free(w->slots);
    free(w->tfields);
    free(w->present);
    free(w->pend);
    free(w->pend_text.p);
    memset(w, 0, sizeof *w);
}

static void kiln__table_grow(kiln__writer *w)
{
    uint32_t mask = w->table_mask * 2 + 1;
    uint64_t *t = kiln_xcalloc((size_t)mask + 1, sizeof *t);
    for (uint32_t i = 0; i < w->nterms; i++) {
        uint32_t j = w->terms[i].hash & mask;
        while (t[j]) j = (j + 1) & mask;
        t[j] = (uint64_t)w->terms[i].hash << 32 | (i + 1);
    }
    free(w->table);
    w->table = t;
    w->table_mask = mask;
}

static uint32_t kiln__term_id_h(kiln__writer *w, uint32_t field, const char *s, size_t len,
                                uint32_t h);
static inline uint32_t kiln__hash(uint32_t field, const char *s, size_t len)
{
    return (uint32_t)XXH3_64bits_withSeed(s, len, field);
}

static uint32_t kiln__term_id(kiln__writer *w, uint32_t field, const char *s, size_t len)
{
    return kiln__term_id_h(w, field, s, len, kiln__hash(field, s, len));
}

uint32_t kiln__writer_term(kiln__writer *w, uint32_t field, const char *s, size_t len)
{
    return kiln__term_id(w, field, s, len);
}

static uint32_t kiln__term_id_h(kiln__writer *w, uint32_t field, const char *s, size_t len,
                                uint32_t h)
{
    uint32_t j = h & w->table_mask;
    for (;;) {
        uint64_t e = w->table[j];
        if (!e) break;
        if ((uint32_t)(e >> 32) == h) {
            uint32_t id = (uint32_t)e - 1;
            kiln__wterm *t = &w->terms[id];
            if (t->field == field && t->text_len == len &&
                !memcmp(w->text.p + t->text_off, s, len))
                return id;
        }
        j = (j + 1) & w->table_mask;
    }
    KILN__GROW(w->terms, w->nterms, w->terms_cap, w->nterms + 1);
    uint32_t id = w->nterms++;
    kiln__wterm *t = &w->terms[id];
    memset(t, 0, sizeof *t);
    t->field = field;
    t->hash = h;
    if (w->text.len + len > w->text.cap) kiln__bytes_grow(&w->text, (uint32_t)len);
    t->text_off = w->text.len;
    t->text_len = (uint32_t)len;
    memcpy(w->text.p + w->text.len, s, len);
    w->text.len += (uint32_t)len;
    w->table[j] = (uint64_t)h << 32 | (id + 1);
    if (w->nterms * 2 > w->table_mask) kiln__table_grow(w);
    return id;
}

/* ---- per-document state ---------------------------------------------------------------- */

typedef struct kiln__addctx {
    kiln_sindex *si;
    kiln__writer *w;
    const kiln_mapping *m;
    const kiln_analysis_registry *ar;
    const kiln_json *doc;
    uint32_t local;
    uint32_t ntfields; /* fields touched by this doc: w->tfields */
    /* token callback state */
    uint32_t fid;
    uint32_t pos_base, last_pos, ntok;
    kiln_error *err;
} kiln__addctx;

static kiln__wfield *kiln__touch_field(kiln__addctx *c, uint32_t fid)
{
    kiln__wfield *f = &c->si->fields.v[fid];
    if (f->cur_doc1 != c->local + 1) {
        f->cur_doc1 = c->local + 1;
        f->cur_len = 0;
        f->next_pos = 0;
        KILN__GROW(c->w->tfields, c->ntfields, c->w->tfields_cap, c->ntfields + 1);
        c->w->tfields[c->ntfields++] = fid;
    }
    return f;
}

static int kiln__on_token(const kiln_token *tok, void *ctx)
{
    kiln__addctx *c = ctx;
    kiln__writer *w = c->w;
    uint32_t pos = c->pos_base + tok->position;
    /* queue it: hash now and prefetch its table slot; kiln__resolve looks it up */
    KILN__GROW(w->pend, w->npend, w->pend_cap, w->npend + 1);
    kiln__pend *p = &w->pend[w->npend++];
    p->hash = kiln__hash(c->fid, tok->text, tok->len);
    p->off = w->pend_text.len;
    p->len = (uint32_t)tok->len;
    p->pos = pos;
    __builtin_prefetch(&w->table[p->hash & w->table_mask]);
    if (w->pend_text.len + tok->len > w->pend_text.cap) kiln__bytes_grow(&w->pend_text, (uint32_t)tok->len);
    memcpy(w->pend_text.p + w->pend_text.len, tok->text, tok->len);
    w->pend_text.len += (uint32_t)tok->len;
    c->last_pos = pos;
    c->ntok++;
    return 0;
}

/* Looks the queued tokens up in three passes: table slots (prefetched when queued), candidate
 * term records (prefetched here), then verification, falling back to the full lookup (which
 * also inserts) when a candidate is missing or differs. */
static void kiln__resolve(kiln__addctx *c)
{
    kiln__writer *w = c->w;
    uint32_t fid = c->fid;
    for (uint32_t i = 0; i < w->npend; i++) {
        kiln__pend *p = &w->pend[i];
        uint32_t j = p->hash & w->table_mask;
        p->cand = 0;
        for (uint64_t e; (e = w->table[j]); j = (j + 1) & w->table_mask)
            if ((uint32_t)(e >> 32) == p->hash) {
                p->cand = (uint32_t)e;
                __builtin_prefetch(&w->terms[p->cand - 1]);
                break;
            }
    }
    for (uint32_t i = 0; i < w->npend; i++) {
        kiln__pend *p = &w->pend[i];
        const char *s = (const char *)w->pend_text.p + p->off;
        uint32_t id;
        const kiln__wterm *t = p->cand ? &w->terms[p->cand - 1] : NULL;
        if (t && t->field == fid && t->text_len == p->len &&
            !memcmp(w->text.p + t->text_off, s, p->len))
            id = p->cand - 1;
        else
            id = kiln__term_id_h(w, fid, s, p->len, p->hash);
        KILN__GROW(w->toks, w->ntoks, w->toks_cap, w->ntoks + 1);
        w->toks[w->ntoks].term = id;
        w->toks[w->ntoks].pos = p->pos;
        w->ntoks++;
    }
    w->npend = 0;
    w->pend_text.len = 0;
}

static void kiln__dv_push(kiln__wfield *f, uint32_t doc)
{
    if (f->dv_n + 1 > f->dv_cap) {
        uint32_t cap = f->dv_cap ? f->dv_cap * 2 : 16;
        f->dv_doc = kiln_xrealloc(f->dv_doc, (size_t)cap * sizeof *f->dv_doc);
        f->dv_val.i64 = kiln_xrealloc(f->dv_val.i64, (size_t)cap * sizeof(int64_t));
        f->dv_cap = cap;
    }
    f->dv_doc[f->dv_n] = doc;
}

/* A leaf value, from the tape (kiln_json) or from a jansson value (the query planner's
 * conversions share these functions). Strings are NUL-terminated. */
typedef struct kiln__scalar {
    kiln_json_type type;
    int64_t i;
    double d;
    const char *s;
    size_t len;
} kiln__scalar;

static kiln__scalar kiln__scalar_of_node(const kiln_json *doc, const kiln_jnode *v)
{
    kiln__scalar x = {(kiln_json_type)v->type, 0, 0, NULL, 0};
    if (v->type == KILN_JSON_INT)
        x.i = v->v.i;
    else if (v->type == KILN_JSON_REAL)
        x.d = v->v.d;
    else if (v->type == KILN_JSON_STRING)
        x.s = kiln_json_string(doc, v), x.len = v->v.s.len;
    return x;
}

static kiln__scalar kiln__scalar_of_json(json_t *v)
{
    kiln__scalar x = {KILN_JSON_NULL, 0, 0, NULL, 0};
    if (json_is_string(v))
        x.type = KILN_JSON_STRING, x.s = json_string_value(v), x.len = json_string_length(v);
    else if (json_is_integer(v))
        x.type = KILN_JSON_INT, x.i = json_integer_value(v);
    else if (json_is_real(v))
        x.type = KILN_JSON_REAL, x.d = json_real_value(v);
    else if (json_is_true(v))
        x.type = KILN_JSON_TRUE;
    else if (json_is_false(v))
        x.type = KILN_JSON_FALSE;
    else if (json_is_object(v))
        x.type = KILN_JSON_OBJECT;
    else if (json_is_array(v))
        x.type = KILN_JSON_ARRAY;
    return x;
}

/* Value of a leaf as a string (keyword/text accept numbers and booleans as ES does). */
static const char *kiln__leaf_string(const kiln__scalar *v, char *tmp, size_t tmpsz, size_t *len)
{
    switch (v->type) {
    case KILN_JSON_STRING: *len = v->len; return v->s;
    case KILN_JSON_INT: snprintf(tmp, tmpsz, "%" PRId64, v->i); break;
    case KILN_JSON_REAL:
        snprintf(tmp, tmpsz, "%.15g", v->d);
        if (strtod(tmp, NULL) != v->d) snprintf(tmp, tmpsz, "%.17g", v->d);
        if (!strpbrk(tmp, ".eEn")) strcat(tmp, ".0"); /* Java prints 1.0 */
        break;
    case KILN_JSON_TRUE: snprintf(tmp, tmpsz, "true"); break;
    case KILN_JSON_FALSE: snprintf(tmp, tmpsz, "false"); break;
    default: return NULL;
    }
    *len = strlen(tmp);
    return tmp;
}

/* Whether s has more than limit UTF-8 characters (ignore_above); counts 8 bytes at a time and
 * stops as soon as it knows. */
static int kiln__utf8_longer(const char *s, size_t len, size_t limit)
{
    size_t n = 0, i = 0;
    if (len <= limit) return 0; /* characters <= bytes */
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        /* continuation bytes are 10xxxxxx: bit 7 set, bit 6 clear */
        n += 8 - (size_t)__builtin_popcountll(x & ~(x << 1) & 0x8080808080808080ull);
        if (n > limit) return 1;
    }
    for (; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n > limit;
}

static int kiln__scalar_i64(kiln_field_type type, const kiln__scalar *v, int64_t *out)
{
    if (type == KILN_FT_BOOLEAN) {
        if (v->type == KILN_JSON_TRUE || v->type == KILN_JSON_FALSE)
            return *out = v->type == KILN_JSON_TRUE, 0;
        if (v->type == KILN_JSON_STRING) {
            if (!strcmp(v->s, "true")) return *out = 1, 0;
            if (!strcmp(v->s, "false") || !*v->s) return *out = 0, 0;
        }
        return -1;
    }
    if (type == KILN_FT_DATE) {
        if (v->type == KILN_JSON_INT) return *out = v->i, 0;
        if (v->type == KILN_JSON_REAL) return *out = (int64_t)v->d, 0;
        if (v->type == KILN_JSON_STRING) return kiln_date_parse(v->s, v->len, out) ? -1 : 0;
        return -1;
    }
    if (v->type == KILN_JSON_INT) return *out = v->i, 0;
    if (v->type == KILN_JSON_REAL) return *out = (int64_t)v->d, 0;
    if (v->type == KILN_JSON_STRING) {
        char *end;
        double d = strtod(v->s, &end);
        if (end == v->s || *end) return -1;
        *out = (int64_t)d;
        if (d > -9e15 && d < 9e15) return 0;
        *out = strtoll(v->s, &end, 10);
        return 0;
    }
    return -1;
}

/* A date in the field's mapping "format" (e.g. "yyyy-MM-dd HH:mm:ss.SSS"), else ISO/epoch. */
static int kiln__scalar_date(const kiln_field *mf, const kiln__scalar *v, int64_t *out)
{
    json_t *fmt = mf->def ? json_object_get(mf->def, "format") : NULL;
    if (json_is_string(fmt) && v->type == KILN_JSON_STRING) {
        kiln_error err;
        return kiln_datemath_parse(v->s, json_string_value(fmt), 0, 0, out, &err) ? -1 : 0;
    }
    return kiln__scalar_i64(KILN_FT_DATE, v, out);
}

static int kiln__scalar_f64(const kiln__scalar *v, double *out)
{
    if (v->type == KILN_JSON_INT) return *out = (double)v->i, 0;
    if (v->type == KILN_JSON_REAL) return *out = v->d, 0;
    if (v->type == KILN_JSON_STRING) {
        char *end;
        *out = strtod(v->s, &end);
        return end == v->s || *end ? -1 : 0;
    }
    return -1;
}

/* The planner's conversions of query values (plan.c). */
int kiln__leaf_i64(kiln_field_type type, json_t *v, int64_t *out);
int kiln__leaf_i64(kiln_field_type type, json_t *v, int64_t *out)
{
    kiln__scalar x = kiln__scalar_of_json(v);
    return kiln__scalar_i64(type, &x, out);
}

int kiln__leaf_f64(json_t *v, double *out);
int kiln__leaf_f64(json_t *v, double *out)
{
    kiln__scalar x = kiln__scalar_of_json(v);
    return kiln__scalar_f64(&x, out);
}

static int kiln__index_leaf(kiln__addctx *c, uint32_t fid, const kiln_field *mf,
                            const kiln__scalar *v)
{
    kiln__wfield *f = &c->si->fields.v[fid];
    char tmp[64];
    size_t len;
    const char *s;
    switch (f->dv_kind) {
    case KILN_DV_STR: {
        s = kiln__leaf_string(v, tmp, sizeof tmp, &len);
        if (!s) return 0;
        kiln__touch_field(c, fid);
        /* original string for doc values */
        kiln__dv_push(f, c->local);
        KILN__GROW(f->str_off, f->str_n, f->str_cap, f->str_n + 2);
        if (f->str_n == 0) f->str_off[0] = 0;
        if (f->str_blob.len + len > f->str_blob.cap) kiln__bytes_grow(&f->str_blob, (uint32_t)len);
        memcpy(f->str_blob.p + f->str_blob.len, s, len);
        f->str_blob.len += (uint32_t)len;
        f->dv_val.u32[f->dv_n++] = f->str_n;
        f->str_off[++f->str_n] = f->str_blob.len;
        if (!f->indexed) return 0;
        const kiln_analyzer *a = kiln_analyzer_get(c->ar, mf->analyzer);
        if (!a) a = kiln_analyzer_get(c->ar, "standard");
        if (!a)
            return kiln_fail(c->err, KILN_E_ILLEGAL_ARGUMENT, "analyzer [%s] not found",
                             mf->analyzer);
        c->fid = fid;
        c->pos_base = f->next_pos;
        c->ntok = 0;
        c->last_pos = f->next_pos;
        kiln_analyze(a, s, len, f->next_pos, kiln__on_token, c);
        kiln__resolve(c);
        f->cur_len += c->ntok;
        if (c->ntok) f->next_pos = c->last_pos + 1 + KILN__POS_GAP;
        return 0;
    }
    case KILN_DV_ORD: {
        s = kiln__leaf_string(v, tmp, sizeof tmp, &len);
        if (!s) return 0;
        if (mf->ignore_above > 0 && kiln__utf8_longer(s, len, (size_t)mf->ignore_above)) return 0;
        kiln__touch_field(c, fid);
        uint32_t id = kiln__term_id(c->w, fid, s, len);
        KILN__GROW(c->w->toks, c->w->ntoks, c->w->toks_cap, c->w->ntoks + 1);
        c->w->toks[c->w->ntoks].term = id;
        c->w->toks[c->w->ntoks].pos = f->next_pos++;
        c->w->ntoks++;
        f->cur_len++;
        kiln__dv_push(f, c->local);
        f->dv_val.u32[f->dv_n++] = id;
        return 0;
    }
    case KILN_DV_I64: {
        int64_t x;
        if (f->type == KILN_FT_DATE ? kiln__scalar_date(mf, v, &x) : kiln__scalar_i64(f->type, v, &x))
            return 0; /* the shard's mapping check rejects what does not convert */
        kiln__touch_field(c, fid);
        kiln__dv_push(f, c->local);
        f->dv_val.i64[f->dv_n++] = x;
        return 0;
    }
    case KILN_DV_F64: {
        double x;
        if (kiln__scalar_f64(v, &x)) return 0;
        if (f->type == KILN_FT_FLOAT) x = (float)x;
        kiln__touch_field(c, fid);
        kiln__dv_push(f, c->local);
        f->dv_val.f64[f->dv_n++] = x;
        return 0;
    }
    default:
        return 0;
    }
}

/* ---- mapping cache ------------------------------------------------------------------------- */

static uint32_t kiln__field_id(kiln_sindex *si, const kiln_field *mf)
{
    for (uint32_t i = 0; i < si->fields.n; i++)
        if (!strcmp(si->fields.v[i].path, mf->path)) return i;
    KILN__GROW(si->fields.v, si->fields.n, si->fields.cap, si->fields.n + 1);
    kiln__wfield *f = &si->fields.v[si->fields.n];
    memset(f, 0, sizeof *f);
    f->path = kiln_xstrdup(mf->path);
    f->type = mf->type;
    switch (mf->type) {
    case KILN_FT_TEXT:
        f->dv_kind = KILN_DV_STR;
        f->indexed = mf->index;
        f->has_pos = f->has_norms = 1;
        break;
    case KILN_FT_KEYWORD:
        f->dv_kind = KILN_DV_ORD;
        f->indexed = 1;
        break;
    case KILN_FT_DOUBLE:
    case KILN_FT_FLOAT:
        f->dv_kind = KILN_DV_F64;
        break;
    default:
        f->dv_kind = KILN_DV_I64;
        break;
    }
    return si->fields.n++;
}

static void kiln__cache_mapping(kiln_sindex *si, const kiln_mapping *m)
{
    if (si->cached_m == m) return;
    if (si->cached_m) kiln_mapping_unref(si->cached_m);
    si->cached_m = kiln_mapping_ref((kiln_mapping *)m); /* a ref pins the pointer's identity */
    size_t n = m->nfields;
    si->m_fid = kiln_xrealloc(si->m_fid, (n + 1) * sizeof *si->m_fid);
    si->m_multi = kiln_xrealloc(si->m_multi, (n + 1) * sizeof *si->m_multi);
    si->m_multi_at = kiln_xrealloc(si->m_multi_at, (n + 1) * 2 * sizeof *si->m_multi_at);
    for (size_t i = 0; i < n; i++)
        si->m_fid[i] = m->fields[i].type == KILN_FT_OBJECT ? UINT32_MAX
                                                           : kiln__field_id(si, &m->fields[i]);
    /* multi-fields of field i: fields j whose parent path is i's path */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        si->m_multi_at[2 * i] = (uint32_t)k;
        size_t plen = strlen(m->fields[i].path);
        for (size_t j = 0; j < n; j++) {
            const kiln_field *f = &m->fields[j];
            if (!f->is_multi_field || strncmp(f->path, m->fields[i].path, plen) ||
                f->path[plen] != '.' || strchr(f->path + plen + 1, '.'))
                continue;
            si->m_multi[k++] = (uint32_t)j;
        }
        si->m_multi_at[2 * i + 1] = (uint32_t)k;
    }
}

/* ---- document walk ------------------------------------------------------------------------ */

static int kiln__walk_value(kiln__addctx *c, const kiln_jnode *v, size_t plen);

static int kiln__walk_object(kiln__addctx *c, const kiln_jnode *obj, size_t plen)
{
    char *path = c->si->path;
    const kiln_jnode *v = kiln_json_child(obj);
    for (uint32_t k = 0; k < obj->v.count; k++, v = kiln_json_next(c->doc, v)) {
        size_t klen = v->key_len;
        if (plen + klen + 2 > sizeof c->si->path) continue;
        size_t n = plen;
        if (n) path[n++] = '.';
        memcpy(path + n, kiln_json_key(c->doc, v), klen + 1);
        if (kiln__walk_value(c, v, n + klen)) return -1;
        path[plen] = 0;
    }
    return 0;
}

static int kiln__walk_value(kiln__addctx *c, const kiln_jnode *v, size_t plen)
{
    if (v->type == KILN_JSON_OBJECT) return kiln__walk_object(c, v, plen);
    if (v->type == KILN_JSON_ARRAY) {
        const kiln_jnode *e = kiln_json_child(v);
        for (uint32_t k = 0; k < v->v.count; k++, e = kiln_json_next(c->doc, e))
            if (kiln__walk_value(c, e, plen)) return -1;
        return 0;
    }
    if (v->type == KILN_JSON_NULL) return 0;
    const kiln_field *mf = kiln_mapping_field(c->m, c->si->path);
    if (!mf) return 0; /* unmapped (dynamic: false): kept in _source only */
    kiln__scalar x = kiln__scalar_of_node(c->doc, v);
    size_t idx = (size_t)(mf - c->m->fields);
    uint32_t fid = c->si->m_fid[idx];
    if (fid != UINT32_MAX && kiln__index_leaf(c, fid, mf, &x)) return -1;
    for (uint32_t k = c->si->m_multi_at[2 * idx]; k < c->si->m_multi_at[2 * idx + 1]; k++) {
        uint32_t j = c->si->m_multi[k];
        if (c->si->m_fid[j] != UINT32_MAX &&
            kiln__index_leaf(c, c->si->m_fid[j], &c->m->fields[j], &x))
            return -1;
    }
    return 0;
}

/* Groups the doc's tokens by term (counting passes, no sort) and appends postings. */
static void kiln__finish_doc(kiln__addctx *c)
{
    kiln__writer *w = c->w;
    uint32_t doc1 = c->local + 1;
    w->ntouched = 0;
    for (uint32_t i = 0; i < w->ntoks; i++) {
        kiln__wterm *t = &w->terms[w->toks[i].term];
        if (t->cur_doc1 != doc1) {
            t->cur_doc1 = doc1;
            t->cur_tf = 0;
            KILN__GROW(w->touched, w->ntouched, w->touched_cap, w->ntouched + 1);
            w->touched[w->ntouched++] = w->toks[i].term;
        }
        t->cur_tf++;
    }
    uint32_t acc = 0;
    for (uint32_t i = 0; i < w->ntouched; i++) {
        kiln__wterm *t = &w->terms[w->touched[i]];
        t->cur_slot = acc;
        acc += t->cur_tf;
        /* each term's postings tail is somewhere in the pool: start those loads now so the
         * appends below do not wait for them one term at a time */
        if (t->post.head) __builtin_prefetch(kiln__pool_at(&w->pool, t->post.wr), 1);
        if (t->pos.head) __builtin_prefetch(kiln__pool_at(&w->pool, t->pos.wr), 1);
    }
    KILN__GROW(w->slots, acc, w->slots_cap, acc + 1);
    for (uint32_t i = 0; i < w->ntoks; i++) {
        kiln__wterm *t = &w->terms[w->toks[i].term];
        w->slots[t->cur_slot++] = w->toks[i].pos;
    }
    for (uint32_t i = 0; i < w->ntouched; i++) {
        kiln__wterm *t = &w->terms[w->touched[i]];
        kiln__slice_vu32(&w->pool, &t->post, c->local - t->last_doc);
        kiln__slice_vu32(&w->pool, &t->post, t->cur_tf);
        t->last_doc = c->local;
        t->df++;
        t->ttf += t->cur_tf;
        if (c->si->fields.v[t->field].has_pos) {
            uint32_t start = t->cur_slot - t->cur_tf, prev = 0;
            for (uint32_t k = start; k < t->cur_slot; k++) {
                kiln__slice_vu32(&w->pool, &t->pos, w->slots[k] - prev);
                prev = w->slots[k];
            }
        }
    }
    w->ntoks = 0;
    for (uint32_t i = 0; i < c->ntfields; i++) {
        kiln__wfield *f = &c->si->fields.v[c->w->tfields[i]];
        if (c->local >= f->norms_cap) {
            uint32_t cap = f->norms_cap ? f->norms_cap : 1024;
            while (cap <= c->local) cap *= 2;
            f->norms = kiln_xrealloc(f->norms, cap);
            memset(f->norms + f->norms_cap, 0, cap - f->norms_cap);
            f->norms_cap = cap;
        }
        /* a value with no tokens still counts as a doc with the field (length 0) */
        f->norms[c->local] = f->cur_len ? kiln__norm_encode(f->cur_len) : 0;
        if (f->indexed && f->cur_len) {
            f->doc_count++;
            f->sum_ttf += f->cur_len;
        }
    }
}

int kiln_sindex_add(kiln_sindex *si, uint32_t docnum, json_t *doc, const kiln_mapping *m,
                    const kiln_analysis_registry *ar, kiln_error *err)
{
    if (!json_is_object(doc))
        return kiln_fail(err, KILN_E_MAPPER_PARSING, "document must be an object");
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    kiln_json j = KILN_JSON_INIT;
    int rc = text && kiln_json_parse(&j, text, strlen(text)) == 0
                 ? kiln_sindex_add_json(si, docnum, &j, m, ar, err)
                 : kiln_fail(err, KILN_E_INTERNAL, "search index: document does not serialize");
    kiln_json_dispose(&j);
    free(text);
    return rc;
}

int kiln_sindex_add_json(kiln_sindex *si, uint32_t docnum, const kiln_json *doc,
                         const kiln_mapping *m, const kiln_analysis_registry *ar, kiln_error *err)
{
    kiln__writer *w = &si->w;
    if (si->next_docnum && docnum < si->next_docnum)
        return kiln_fail(err, KILN_E_INTERNAL, "search index: doc %u added after %u", docnum,
                         si->next_docnum - 1);
    const kiln_jnode *root = kiln_json_root(doc);
    if (!root || root->type != KILN_JSON_OBJECT)
        return kiln_fail(err, KILN_E_MAPPER_PARSING, "document must be an object");
    if (w->count == 0) w->base = docnum;
    kiln__cache_mapping(si, m);
    kiln__addctx c = {.si = si, .w = w, .m = m, .ar = ar, .doc = doc, .local = docnum - w->base,
                      .err = err};
    si->path[0] = 0;
    w->ntoks = 0;
    int rc = kiln__walk_object(&c, root, 0);
    kiln__finish_doc(&c); /* also on failure: keeps the per-term state consistent */
    w->ndocs = c.local + 1;
    __atomic_store_n(&w->count, w->count + 1, __ATOMIC_RELAXED); /* single writer */
    if ((c.local >> 6) >= w->present_words) {
        uint32_t nw = w->present_words ? w->present_words : 64;
        while (nw <= (c.local >> 6)) nw *= 2;
        w->present = kiln_xrealloc(w->present, (size_t)nw * 8);
        memset(w->present + w->present_words, 0, (size_t)(nw - w->present_words) * 8);
        w->present_words = nw;
    }
    w->present[c.local >> 6] |= 1ULL << (c.local & 63);
    si->next_docnum = docnum + 1;
    return rc;
}
