/* Preparing a document for the write buffer (see prep.h): walk the parsed document, convert
 * each leaf for its mapping field and multi-fields, run the analyzers and hash the tokens. Reads
 * only the document, the mapping and the analysis registry, so it runs outside the shard lock. */
#include "search/prep.h"

#include "core/buf.h"
#include "dsl/query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL /* hashed per token: inline XXH3 for short inputs */
#include <xxhash.h>

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

int kiln__utf8_longer(const char *s, size_t len, size_t limit)
{
    size_t n = 0, i = 0;
    if (len <= limit) return 0; /* characters <= bytes */
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        /* continuation bytes are 10xxxxxx: bit 7 set, bit 6 clear; summed by a multiply (the
           build has no popcnt instruction: __builtin_popcountll is a libgcc call) */
        uint64_t cont = (x & ~(x << 1) & 0x8080808080808080ull) >> 7;
        n += 8 - (size_t)((cont * 0x0101010101010101ull) >> 56);
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


/* ---- per-mapping tables ------------------------------------------------------------------ */

static kiln_dv_kind kiln__kind_of(const kiln_field *mf)
{
    switch (mf->type) { /* as the write buffer's fields are typed (writer.c) */
    case KILN_FT_OBJECT: return KILN_DV_NONE;
    case KILN_FT_TEXT: return KILN_DV_STR;
    case KILN_FT_KEYWORD: return KILN_DV_ORD;
    case KILN_FT_DOUBLE:
    case KILN_FT_FLOAT: return KILN_DV_F64;
    default: return KILN_DV_I64;
    }
}

static void kiln__prep_mapping(kiln_sindex_prep *p, const kiln_mapping *m)
{
    if (p->m == m) return;
    if (p->m) kiln_mapping_unref(p->m);
    p->m = kiln_mapping_ref((kiln_mapping *)m); /* a ref pins the pointer's identity */
    size_t n = m->nfields;
    p->kind = kiln_xrealloc(p->kind, n + 1);
    p->indexed = kiln_xrealloc(p->indexed, n + 1);
    p->multi = kiln_xrealloc(p->multi, (n + 1) * sizeof *p->multi);
    p->multi_at = kiln_xrealloc(p->multi_at, (n + 1) * 2 * sizeof *p->multi_at);
    p->next_pos = kiln_xrealloc(p->next_pos, (n + 1) * sizeof *p->next_pos);
    p->stamp = kiln_xrealloc(p->stamp, (n + 1) * sizeof *p->stamp);
    memset(p->stamp, 0, (n + 1) * sizeof *p->stamp);
    p->an = kiln_xrealloc(p->an, (n + 1) * sizeof *p->an);
    memset(p->an, 0, (n + 1) * sizeof *p->an);
    if (p->guess) memset(p->guess, 0xff, p->nguess * sizeof *p->guess);
    p->doc = 0;
    for (size_t i = 0; i < n; i++) {
        p->kind[i] = (uint8_t)kiln__kind_of(&m->fields[i]);
        p->indexed[i] = m->fields[i].type == KILN_FT_KEYWORD ||
                        (m->fields[i].type == KILN_FT_TEXT && m->fields[i].index);
    }
    kiln__multi_fields(m, p->multi, p->multi_at);
}

void kiln__multi_fields(const kiln_mapping *m, uint32_t *multi, uint32_t *multi_at)
{
    size_t k = 0, n = m->nfields;
    for (size_t i = 0; i < n; i++) {
        multi_at[2 * i] = (uint32_t)k;
        size_t plen = strlen(m->fields[i].path);
        for (size_t j = 0; j < n; j++) {
            const kiln_field *f = &m->fields[j];
            if (!f->is_multi_field || strncmp(f->path, m->fields[i].path, plen) ||
                f->path[plen] != '.' || strchr(f->path + plen + 1, '.'))
                continue;
            multi[k++] = (uint32_t)j;
        }
        multi_at[2 * i + 1] = (uint32_t)k;
    }
}

kiln_sindex_prep *kiln_sindex_prep_new(void)
{
    return kiln_xcalloc(1, sizeof(kiln_sindex_prep));
}

void kiln_sindex_prep_free(kiln_sindex_prep *p)
{
    if (!p) return;
    if (p->m) kiln_mapping_unref(p->m);
    free(p->kind);
    free(p->indexed);
    free(p->multi);
    free(p->multi_at);
    free(p->next_pos);
    free(p->stamp);
    free(p->an);
    free(p->guess);
    free(p->items);
    free(p->toks);
    free(p->text.p);
    free(p);
}

/* ---- one document ------------------------------------------------------------------------ */

static uint32_t kiln__prep_text(kiln_sindex_prep *p, const char *s, size_t len)
{
    if (p->text.len + len > p->text.cap) kiln__bytes_grow(&p->text, (uint32_t)len);
    uint32_t off = p->text.len;
    if (len) memcpy(p->text.p + off, s, len); /* the buffer is NULL until the first byte */
    p->text.len += (uint32_t)len;
    return off;
}

static uint32_t *kiln__prep_next_pos(kiln_sindex_prep *p, uint32_t j)
{
    if (p->stamp[j] != p->doc) { /* first value of the field in this document */
        p->stamp[j] = p->doc;
        p->next_pos[j] = 0;
    }
    return &p->next_pos[j];
}

/* A string value's copy in text; the same value again (its multi-fields) shares the copy. */
static uint32_t kiln__prep_value_text(kiln_sindex_prep *p, const kiln__scalar *v, const char *s,
                                      size_t len)
{
    if (v->type != KILN_JSON_STRING) return kiln__prep_text(p, s, len); /* s is a stack buffer */
    if (s == p->last_s && len == p->last_len) return p->last_off;
    p->last_s = s;
    p->last_len = len;
    return p->last_off = kiln__prep_text(p, s, len);
}

static int kiln__prep_on_token(const kiln_token *tok, void *ctx)
{
    kiln_sindex_prep *p = ctx;
    uint32_t pos = p->pos_base + tok->position;
    if (p->ntoks == p->toks_cap) KILN__GROW(p->toks, p->ntoks, p->toks_cap, p->ntoks + 1);
    kiln__ptok *t = &p->toks[p->ntoks++];
    t->hash = XXH3_64bits(tok->text, tok->len);
    /* a slice of the value (lowercase text the filters left alone): already in text */
    uintptr_t d = (uintptr_t)tok->text - (uintptr_t)p->src;
    if (d < p->src_len && tok->len <= p->src_len - d)
        t->off = p->src_off + (uint32_t)d;
    else
        t->off = kiln__prep_text(p, tok->text, tok->len);
    t->len = (uint32_t)tok->len;
    t->pos = pos; /* the count and the last position are read off toks afterwards */
    return 0;
}

/* The analyzer of text field j, looked up once per mapping and registry. */
static const kiln_analyzer *kiln__prep_analyzer(kiln_sindex_prep *p, uint32_t j,
                                                const kiln_analysis_registry *ar)
{
    uint64_t serial = kiln_analysis_registry_serial(ar);
    if (serial != p->an_serial) {
        memset(p->an, 0, (p->m->nfields + 1) * sizeof *p->an);
        p->an_serial = serial;
    }
    if (p->an[j]) return p->an[j];
    const kiln_field *mf = &p->m->fields[j];
    const kiln_analyzer *a = kiln_analyzer_get(ar, mf->analyzer);
    if (!a) a = kiln_analyzer_get(ar, "standard");
    return p->an[j] = a;
}

/* The item of one (mapping field j, leaf v), if the value converts; as writer.c indexed it. */
static int kiln__prep_leaf(kiln_sindex_prep *p, uint32_t j, const kiln_analysis_registry *ar,
                           const kiln__scalar *v)
{
    const kiln_field *mf = &p->m->fields[j];
    /* built in place: a copy from the stack after narrow stores stalls on store forwarding */
    KILN__GROW(p->items, p->nitems, p->items_cap, p->nitems + 1);
    kiln__pitem *it = &p->items[p->nitems];
    *it = (kiln__pitem){.mfield = j, .kind = p->kind[j]};
    char tmp[64];
    size_t len;
    const char *s;
    switch (it->kind) {
    case KILN_DV_STR: {
        s = kiln__leaf_string(v, tmp, sizeof tmp, &len);
        if (!s) return 0;
        it->v.s.off = kiln__prep_value_text(p, v, s, len);
        it->v.s.len = (uint32_t)len;
        it->tok0 = p->ntoks;
        if (p->indexed[j]) {
            const kiln_analyzer *a = kiln__prep_analyzer(p, j, ar);
            if (!a)
                return kiln_fail(&p->err, KILN_E_ILLEGAL_ARGUMENT, "analyzer [%s] not found",
                                 mf->analyzer);
            uint32_t *next = kiln__prep_next_pos(p, j);
            p->pos_base = *next;
            p->src = s;
            p->src_len = len;
            p->src_off = it->v.s.off;
            /* analyze s itself, not its copy: the text buffer moves as tokens are added */
            kiln_analyze(a, s, len, *next, kiln__prep_on_token, p);
            it->ntok = p->ntoks - it->tok0;
            if (it->ntok) *next = p->toks[p->ntoks - 1].pos + 1 + KILN__POS_GAP;
        }
        break;
    }
    case KILN_DV_ORD: {
        s = kiln__leaf_string(v, tmp, sizeof tmp, &len);
        if (!s) return 0;
        if (mf->ignore_above > 0 && kiln__utf8_longer(s, len, (size_t)mf->ignore_above)) return 0;
        it->v.s.off = kiln__prep_value_text(p, v, s, len);
        it->v.s.len = (uint32_t)len;
        it->hash = XXH3_64bits(s, len);
        it->pos = (*kiln__prep_next_pos(p, j))++;
        break;
    }
    case KILN_DV_I64: {
        int64_t x;
        if (mf->type == KILN_FT_DATE ? kiln__scalar_date(mf, v, &x)
                                     : kiln__scalar_i64(mf->type, v, &x))
            return 0; /* the shard's mapping check rejects what does not convert */
        it->v.i64 = x;
        break;
    }
    case KILN_DV_F64: {
        double x;
        if (kiln__scalar_f64(v, &x)) return 0;
        it->v.f64 = kiln_field_round(mf, x); /* float, half_float, scaled_float precision */
        break;
    }
    default:
        return 0;
    }
    p->nitems++;
    return 0;
}

static int kiln__prep_value(kiln_sindex_prep *p, const kiln_json *doc, const kiln_jnode *v,
                            size_t plen, const kiln_analysis_registry *ar);

/* Appends member's key to the dot path path[0..plen) (cap bytes); the new length, or 0 when it
 * does not fit (such a field cannot be mapped: it is skipped). */
static size_t kiln__path_join(char *path, size_t cap, size_t plen, const kiln_json *doc,
                              const kiln_jnode *member)
{
    size_t klen = member->key_len, n = plen;
    if (plen + klen + 2 > cap) return 0;
    if (n) path[n++] = '.';
    memcpy(path + n, kiln_json_key(doc, member), klen + 1);
    return n + klen;
}

static int kiln__prep_object(kiln_sindex_prep *p, const kiln_json *doc, const kiln_jnode *obj,
                             size_t plen, const kiln_analysis_registry *ar)
{
    const kiln_jnode *v = kiln_json_child(obj);
    for (uint32_t k = 0; k < obj->v.count; k++, v = kiln_json_next(doc, v)) {
        size_t n = kiln__path_join(p->path, sizeof p->path, plen, doc, v);
        if (!n) continue;
        if (kiln__prep_value(p, doc, v, n, ar)) return -1;
        p->path[plen] = 0;
    }
    return 0;
}

static int kiln__prep_value(kiln_sindex_prep *p, const kiln_json *doc, const kiln_jnode *v,
                            size_t plen, const kiln_analysis_registry *ar)
{
    if (v->type == KILN_JSON_OBJECT) return kiln__prep_object(p, doc, v, plen, ar);
    if (v->type == KILN_JSON_ARRAY) {
        const kiln_jnode *e = kiln_json_child(v);
        for (uint32_t k = 0; k < v->v.count; k++, e = kiln_json_next(doc, e))
            if (kiln__prep_value(p, doc, e, plen, ar)) return -1;
        return 0;
    }
    if (v->type == KILN_JSON_NULL) return 0;
    /* the field this leaf was in the last documents, else a search (paths are unique) */
    uint32_t nth = p->leaf++, idx;
    if (nth < p->nguess && p->guess[nth] < p->m->nfields &&
        !strcmp(p->m->fields[p->guess[nth]].path, p->path)) {
        idx = p->guess[nth];
    } else {
        const kiln_field *mf = kiln_mapping_field(p->m, p->path);
        if (!mf) return 0; /* unmapped (dynamic: false): kept in _source only */
        idx = (uint32_t)(mf - p->m->fields);
        if (nth >= p->nguess && nth < 1024) {
            uint32_t n = nth < 16 ? 32 : 2 * nth;
            p->guess = kiln_xrealloc(p->guess, n * sizeof *p->guess);
            memset(p->guess + p->nguess, 0xff, (n - p->nguess) * sizeof *p->guess);
            p->nguess = n;
        }
        if (nth < p->nguess) p->guess[nth] = idx;
    }
    kiln__scalar x = kiln__scalar_of_node(doc, v);
    if (kiln__prep_leaf(p, idx, ar, &x)) return -1;
    for (uint32_t k = p->multi_at[2 * idx]; k < p->multi_at[2 * idx + 1]; k++)
        if (kiln__prep_leaf(p, p->multi[k], ar, &x)) return -1;
    return 0;
}

/* ---- text values read back from _source ------------------------------------------------------ */

typedef struct {
    const char *target; /* the source path */
    size_t tlen;
    uint32_t want, seen;
    char *tmp;
    size_t tmpsz;
    const char *s;
    size_t len;
    char path[1024];
} kiln__srcwalk;

/* Visits v at path[0..plen) as kiln__prep_value does; 1 once the wanted leaf is found. */
static int kiln__src_walk(kiln__srcwalk *w, const kiln_json *doc, const kiln_jnode *v, size_t plen)
{
    if (v->type == KILN_JSON_OBJECT) {
        if (plen && (plen >= w->tlen || memcmp(w->path, w->target, plen) || w->target[plen] != '.'))
            return 0; /* the target is not under this object */
        const kiln_jnode *c = kiln_json_child(v);
        for (uint32_t k = 0; k < v->v.count; k++, c = kiln_json_next(doc, c)) {
            size_t n = kiln__path_join(w->path, sizeof w->path, plen, doc, c);
            if (n && kiln__src_walk(w, doc, c, n)) return 1;
            w->path[plen] = 0;
        }
        return 0;
    }
    if (v->type == KILN_JSON_ARRAY) {
        const kiln_jnode *e = kiln_json_child(v);
        for (uint32_t k = 0; k < v->v.count; k++, e = kiln_json_next(doc, e))
            if (kiln__src_walk(w, doc, e, plen)) return 1;
        return 0;
    }
    if (v->type == KILN_JSON_NULL || plen != w->tlen || memcmp(w->path, w->target, plen)) return 0;
    kiln__scalar x = kiln__scalar_of_node(doc, v);
    size_t len;
    const char *s = kiln__leaf_string(&x, w->tmp, w->tmpsz, &len);
    if (!s || w->seen++ != w->want) return 0;
    w->s = s;
    w->len = len;
    return 1;
}

const char *kiln__source_text(const kiln_json *doc, const kiln_field *mf, uint32_t i, char *tmp,
                              size_t tmpsz, size_t *len)
{
    const kiln_jnode *root = kiln_json_root(doc);
    const char *dot = mf->is_multi_field ? strrchr(mf->path, '.') : NULL;
    kiln__srcwalk w; /* fields set one by one: an initializer would zero the path per read */
    w.target = mf->path;
    w.tlen = dot ? (size_t)(dot - mf->path) : strlen(mf->path);
    w.want = i;
    w.seen = 0;
    w.tmp = tmp;
    w.tmpsz = tmpsz;
    w.path[0] = 0;
    *len = 0;
    if (!root || root->type != KILN_JSON_OBJECT || !kiln__src_walk(&w, doc, root, 0)) return NULL;
    *len = w.len;
    return w.s;
}

int kiln_sindex_prepare(kiln_sindex_prep *p, const kiln_json *doc, const kiln_mapping *m,
                        const kiln_analysis_registry *ar)
{
    kiln__prep_mapping(p, m);
    p->nitems = p->ntoks = 0;
    p->text.len = 0;
    p->leaf = 0;
    p->last_s = NULL; /* the document's strings may sit where the last one's did */
    if (!p->text.p) kiln__bytes_grow(&p->text, 256); /* strings of empty values point into it */
    p->failed = 0;
    if (++p->doc == 0) { /* stamps wrapped: forget them */
        memset(p->stamp, 0, (m->nfields + 1) * sizeof *p->stamp);
        p->doc = 1;
    }
    const kiln_jnode *root = kiln_json_root(doc);
    if (!root || root->type != KILN_JSON_OBJECT) {
        p->failed = KILN__PREP_REJECTED;
        return kiln_fail(&p->err, KILN_E_MAPPER_PARSING, "document must be an object");
    }
    p->path[0] = 0;
    if (kiln__prep_object(p, doc, root, 0, ar)) p->failed = KILN__PREP_FAILED;
    return p->failed ? -1 : 0;
}
