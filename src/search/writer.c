/* The write buffer: kiln_sindex_add flattens a document into (field, value) leaves, analyzes
 * text, and appends to per-term postings and per-field doc values. No sorting per document:
 * a token's term id is found in one hash probe and postings are grouped with counting passes,
 * so a ~1 KB product document costs a few microseconds. */
#include "search/prep.h"

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
    while (cap < b->len + extra)
        cap *= 2;
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
    for (uint32_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i]);
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
    f->twin_broken = 0;
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
    for (uint32_t i = 0; i < fs->n; i++)
        kiln__wfield_clear(&fs->v[i], 0);
}

void kiln__writer_free(kiln__writer *w)
{
    kiln__pool_free(&w->pool);
    free(w->terms);
    free(w->table);
    free(w->text.p);
    free(w->toks);
    free(w->thash);
    free(w->touched);
    free(w->tf);
    free(w->slot);
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
        uint32_t j = w->thash[i] & mask;
        while (t[j])
            j = (j + 1) & mask;
        t[j] = (uint64_t)w->thash[i] << 32 | (i + 1);
    }
    free(w->table);
    w->table = t;
    w->table_mask = mask;
}

/* Term records stay 64-byte aligned, one cache line each (realloc would not keep that). */
static void kiln__terms_grow(kiln__writer *w)
{
    uint32_t cap = w->terms_cap ? w->terms_cap * 2 : 1024;
    kiln__wterm *t = kiln_xaligned(64, (size_t)cap * sizeof *t);
    if (w->nterms) memcpy(t, w->terms, (size_t)w->nterms * sizeof *t);
    free(w->terms);
    w->terms = t;
    w->thash = kiln_xrealloc(w->thash, (size_t)cap * sizeof *w->thash);
    w->terms_cap = cap;
}

static uint32_t kiln__term_id_h(kiln__writer *w, uint32_t field, const char *s, size_t len,
                                uint32_t h);
static inline uint32_t kiln__hash(uint32_t field, const char *s, size_t len)
{
    return kiln__hash_mix(XXH3_64bits(s, len), field); /* as prepared tokens are (prep.c) */
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
            if (t->field == field && t->text_len == len && !memcmp(w->text.p + t->text_off, s, len))
                return id;
        }
        j = (j + 1) & w->table_mask;
    }
    if (w->nterms == w->terms_cap) kiln__terms_grow(w);
    uint32_t id = w->nterms++;
    kiln__wterm *t = &w->terms[id];
    memset(t, 0, sizeof *t);
    t->field = field;
    w->thash[id] = h;
    /* allocated even for an empty first term: memcmp/memcpy never see a NULL buffer */
    if (w->text.len + len > w->text.cap || !w->text.p) kiln__bytes_grow(&w->text, (uint32_t)len);
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
    uint32_t local;
    uint32_t ntfields; /* fields touched by this doc: w->tfields */
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

/* Looks the queued tokens up in passes: table slots (prefetched when queued), candidate term
 * records, then their texts (both prefetched here), then verification, falling back to the full
 * lookup (which also inserts) when a candidate is missing or differs. */
static void kiln__resolve(kiln__addctx *c, uint32_t fid, const uint8_t *text)
{
    kiln__writer *w = c->w;
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
    /* the candidates' texts live apart from their records: start those loads too */
    for (uint32_t i = 0; i < w->npend; i++)
        if (w->pend[i].cand) __builtin_prefetch(w->text.p + w->terms[w->pend[i].cand - 1].text_off);
    for (uint32_t i = 0; i < w->npend; i++) {
        kiln__pend *p = &w->pend[i];
        const char *s = (const char *)text + p->off;
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

/* Appends one prepared value: doc values, and the terms of its tokens (looked up in a batch). */
static void kiln__apply_item(kiln__addctx *c, const kiln_sindex_prep *p, const kiln__pitem *it)
{
    uint32_t fid = c->si->m_fid[it->mfield];
    if (fid == UINT32_MAX) return;
    kiln__wfield *f = &c->si->fields.v[fid];
    /* both follow the field's type: never differ, but for text without a column of originals */
    if (f->dv_kind != it->kind && !(f->dv_kind == KILN_DV_COUNT && it->kind == KILN_DV_STR)) return;
    kiln__writer *w = c->w;
    const char *s = (const char *)p->text.p + it->v.s.off;
    uint32_t len = it->v.s.len;
    switch (it->kind) {
    case KILN_DV_STR: {
        kiln__touch_field(c, fid);
        kiln__dv_push(f, c->local);
        uint32_t v = 0;
        if (f->twin_limit > 0 && !f->twin_broken &&
            kiln__utf8_longer(s, len, (size_t)f->twin_limit)) {
            f->twin_broken = 1; /* the seal will keep counts only: stop copying */
            f->str_n = 0;
            f->str_blob.len = 0;
        }
        if (f->dv_kind == KILN_DV_STR && !f->twin_broken) { /* an original the seal may keep */
            KILN__GROW(f->str_off, f->str_n, f->str_cap, f->str_n + 2);
            if (f->str_n == 0) f->str_off[0] = 0;
            if (f->str_blob.len + len > f->str_blob.cap) kiln__bytes_grow(&f->str_blob, len);
            if (len) memcpy(f->str_blob.p + f->str_blob.len, s, len); /* NULL until a byte */
            f->str_blob.len += len;
            v = f->str_n;
            f->str_off[++f->str_n] = f->str_blob.len;
        }
        f->dv_val.u32[f->dv_n++] = v;
        if (!f->indexed || !it->ntok) return;
        /* queue the tokens, prefetching their table slots; kiln__resolve looks them up */
        KILN__GROW(w->pend, w->npend, w->pend_cap, it->ntok);
        for (uint32_t k = 0; k < it->ntok; k++) {
            const kiln__ptok *t = &p->toks[it->tok0 + k];
            kiln__pend *q = &w->pend[w->npend++];
            q->hash = kiln__hash_mix(t->hash, fid);
            q->off = t->off;
            q->len = t->len;
            q->pos = t->pos;
            __builtin_prefetch(&w->table[q->hash & w->table_mask]);
        }
        kiln__resolve(c, fid, p->text.p);
        f->cur_len += it->ntok;
        return;
    }
    case KILN_DV_ORD: {
        kiln__touch_field(c, fid);
        uint32_t id = kiln__term_id_h(w, fid, s, len, kiln__hash_mix(it->hash, fid));
        KILN__GROW(w->toks, w->ntoks, w->toks_cap, w->ntoks + 1);
        w->toks[w->ntoks].term = id;
        w->toks[w->ntoks].pos = it->pos;
        w->ntoks++;
        f->cur_len++;
        kiln__dv_push(f, c->local);
        f->dv_val.u32[f->dv_n++] = id;
        return;
    }
    case KILN_DV_I64:
        kiln__touch_field(c, fid);
        kiln__dv_push(f, c->local);
        f->dv_val.i64[f->dv_n++] = it->v.i64;
        return;
    case KILN_DV_F64:
        kiln__touch_field(c, fid);
        kiln__dv_push(f, c->local);
        f->dv_val.f64[f->dv_n++] = it->v.f64;
        return;
    default:
        return;
    }
}

/* ---- mapping cache ------------------------------------------------------------------------- */

/* Text field mf's keyword multi-fields, whose ordinals may spell its originals: -1 if none,
 * else the largest ignore_above among them (0: one without a limit). */
static int64_t kiln__keyword_twin(const kiln_mapping *m, const kiln_field *mf)
{
    size_t plen = strlen(mf->path);
    int64_t limit = -1;
    for (size_t i = 0; i < m->nfields; i++) {
        const kiln_field *k = &m->fields[i];
        if (!k->is_multi_field || k->type != KILN_FT_KEYWORD || strncmp(k->path, mf->path, plen) ||
            k->path[plen] != '.' || strchr(k->path + plen + 1, '.'))
            continue;
        if (k->ignore_above <= 0) return 0;
        if (k->ignore_above > limit) limit = k->ignore_above;
    }
    return limit;
}

static uint32_t kiln__field_id(kiln_sindex *si, const kiln_mapping *m, const kiln_field *mf)
{
    for (uint32_t i = 0; i < si->fields.n; i++)
        if (!strcmp(si->fields.v[i].path, mf->path)) return i;
    KILN__GROW(si->fields.v, si->fields.n, si->fields.cap, si->fields.n + 1);
    kiln__wfield *f = &si->fields.v[si->fields.n];
    memset(f, 0, sizeof *f);
    f->path = kiln_xstrdup(mf->path);
    f->type = mf->type;
    switch (mf->type) {
    case KILN_FT_TEXT: {
        int64_t twin = kiln__keyword_twin(m, mf);
        f->store = mf->store;
        f->dv_kind = mf->store || twin >= 0 ? KILN_DV_STR : KILN_DV_COUNT;
        f->twin_limit = mf->store || twin < 0 ? 0 : twin;
        f->indexed = mf->index;
        f->has_pos = f->has_norms = 1;
        break;
    }
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
        si->m_fid[i] =
            m->fields[i].type == KILN_FT_OBJECT ? UINT32_MAX : kiln__field_id(si, m, &m->fields[i]);
    kiln__multi_fields(m, si->m_multi, si->m_multi_at);
}

/* Groups the doc's tokens by term (counting passes, no sort) and appends postings. */
static void kiln__finish_doc(kiln__addctx *c)
{
    kiln__writer *w = c->w;
    /* distinct terms of the doc and their frequencies; each token's term becomes its index
     * in that list, so the passes below touch no term record */
    uint32_t nt = 0;
    KILN__GROW(w->touched, w->ntoks, w->touched_cap, w->ntoks + 1);
    if (!w->tf || w->touched_cap > w->tf_cap) {
        w->tf = kiln_xrealloc(w->tf, (size_t)w->touched_cap * sizeof *w->tf);
        w->slot = kiln_xrealloc(w->slot, (size_t)w->touched_cap * sizeof *w->slot);
        w->tf_cap = w->touched_cap;
    }
    for (uint32_t i = 0; i < w->ntoks; i++) {
        uint32_t id = w->toks[i].term;
        kiln__wterm *t = &w->terms[id];
        uint32_t k = t->cur - 1;
        if (k >= nt || w->touched[k] != id) {
            k = nt++;
            w->touched[k] = id;
            w->tf[k] = 0;
            t->cur = k + 1;
            /* the term's postings tail is somewhere in the pool: start that load now so the
             * appends below do not wait for them one term at a time */
            if (t->post.head) __builtin_prefetch(kiln__pool_at(&w->pool, t->post.wr), 1);
            if (t->pos.head) __builtin_prefetch(kiln__pool_at(&w->pool, t->pos.wr), 1);
        }
        w->tf[k]++;
        w->toks[i].term = k;
    }
    uint32_t acc = 0;
    for (uint32_t k = 0; k < nt; k++) {
        w->slot[k] = acc;
        acc += w->tf[k];
    }
    KILN__GROW(w->slots, acc, w->slots_cap, acc + 1);
    for (uint32_t i = 0; i < w->ntoks; i++)
        w->slots[w->slot[w->toks[i].term]++] = w->toks[i].pos;
    for (uint32_t k = 0; k < nt; k++) {
        kiln__wterm *t = &w->terms[w->touched[k]];
        uint32_t tf = w->tf[k];
        kiln__slice_vu32(&w->pool, &t->post, c->local - t->last_doc);
        kiln__slice_vu32(&w->pool, &t->post, tf);
        t->last_doc = c->local;
        t->df++;
        t->ttf += tf;
        if (c->si->fields.v[t->field].has_pos) {
            uint32_t end = w->slot[k], prev = 0;
            for (uint32_t j = end - tf; j < end; j++) {
                kiln__slice_vu32(&w->pool, &t->pos, w->slots[j] - prev);
                prev = w->slots[j];
            }
        }
    }
    w->ntoks = 0;
    for (uint32_t i = 0; i < c->ntfields; i++) {
        kiln__wfield *f = &c->si->fields.v[c->w->tfields[i]];
        if (c->local >= f->norms_cap) {
            uint32_t cap = f->norms_cap ? f->norms_cap : 1024;
            while (cap <= c->local)
                cap *= 2;
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

/* What the buffer holds, from its used sizes (the writer's thread: arrays move as they grow). */
static size_t kiln__buffer_bytes(const kiln_sindex *si)
{
    const kiln__writer *w = &si->w;
    size_t n = (size_t)(w->pool.cur + 1) * KILN__POOL_BLOCK + (size_t)w->nterms * sizeof *w->terms +
               ((size_t)w->table_mask + 1) * 8 + w->text.len + (size_t)w->present_words * 8;
    for (uint32_t i = 0; i < si->fields.n; i++) {
        const kiln__wfield *f = &si->fields.v[i];
        n += (size_t)f->dv_n * 12 + f->str_blob.len + (size_t)f->str_n * 4 + f->norms_cap;
    }
    return n;
}

size_t kiln_sindex_buffer_bytes(const kiln_sindex *si)
{
    return atomic_load(&((kiln_sindex *)si)->buf_bytes);
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
    kiln_sindex_prep *p = kiln_sindex_prep_new();
    kiln_sindex_prepare(p, doc, m, ar);
    int rc = kiln_sindex_add_prepared(si, docnum, p, err);
    kiln_sindex_prep_free(p);
    return rc;
}

int kiln_sindex_add_prepared(kiln_sindex *si, uint32_t docnum, const kiln_sindex_prep *p,
                             kiln_error *err)
{
    kiln__writer *w = &si->w;
    if (si->next_docnum && docnum < si->next_docnum)
        return kiln_fail(err, KILN_E_INTERNAL, "search index: doc %u added after %u", docnum,
                         si->next_docnum - 1);
    if (p->failed == KILN__PREP_REJECTED) {
        *err = p->err; /* not an object: nothing added */
        return -1;
    }
    if (w->count == 0) w->base = docnum;
    kiln__cache_mapping(si, p->m);
    kiln__addctx c = {.si = si, .w = w, .local = docnum - w->base};
    w->ntoks = 0;
    for (uint32_t i = 0; i < p->nitems; i++)
        kiln__apply_item(&c, p, &p->items[i]);
    int rc = 0;
    if (p->failed) {
        *err = p->err;
        rc = -1;
    }
    kiln__finish_doc(&c); /* also on failure: keeps the per-term state consistent */
    w->ndocs = c.local + 1;
    __atomic_store_n(&w->count, w->count + 1, __ATOMIC_RELAXED); /* single writer */
    if ((c.local >> 6) >= w->present_words) {
        uint32_t nw = w->present_words ? w->present_words : 64;
        while (nw <= (c.local >> 6))
            nw *= 2;
        w->present = kiln_xrealloc(w->present, (size_t)nw * 8);
        memset(w->present + w->present_words, 0, (size_t)(nw - w->present_words) * 8);
        w->present_words = nw;
    }
    w->present[c.local >> 6] |= 1ULL << (c.local & 63);
    si->next_docnum = docnum + 1;
    if ((w->count & 63) == 0) atomic_store(&si->buf_bytes, kiln__buffer_bytes(si));
    return rc;
}
