/* Plan building: the mapping-free DSL tree becomes typed plan nodes. Query text is analyzed with
 * the field's search analyzer, values are converted per field type, date math is resolved
 * against now, boosts are multiplied down to the scoring leaves. */
#include "search/plan.h"

#include "core/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kiln__leaf_i64(kiln_field_type type, json_t *v, int64_t *out);
int kiln__leaf_f64(json_t *v, double *out);

typedef struct kiln__pctx {
    kiln_plan *p;
    const kiln_analysis_registry *ar;
    int64_t now_ms;
    kiln_error *err;
} kiln__pctx;

static kiln__pnode *kiln__pnode_new(kiln__pkind kind, float boost, int scoring)
{
    kiln__pnode *n = kiln_xcalloc(1, sizeof *n);
    n->kind = kind;
    n->boost = boost;
    n->scoring = scoring;
    return n;
}

static void kiln__plist_push(kiln__plist *l, kiln__pnode *n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = kiln_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = n;
}

static void kiln__pnode_free(kiln__pnode *n);
static void kiln__plist_free(kiln__plist *l)
{
    for (size_t i = 0; i < l->n; i++) kiln__pnode_free(l->v[i]);
    free(l->v);
}

static void kiln__pnode_free(kiln__pnode *n)
{
    if (!n) return;
    free(n->field);
    for (size_t i = 0; i < n->nterms; i++) free(n->terms[i]);
    free(n->terms);
    free(n->tlens);
    free(n->offsets);
    free(n->term_slot);
    free(n->klo);
    free(n->khi);
    free(n->nset);
    free(n->fset);
    for (size_t i = 0; i < n->nids; i++) free(n->ids[i]);
    free(n->ids);
    kiln__plist_free(&n->must);
    kiln__plist_free(&n->filter);
    kiln__plist_free(&n->should);
    kiln__plist_free(&n->must_not);
    free(n);
}

void kiln_plan_free(kiln_plan *p)
{
    if (!p) return;
    kiln__pnode_free(p->root);
    free(p->udfs);
    free(p->fuzzy);
    for (size_t i = 0; i < p->nterms; i++) free(p->terms[i].field);
    for (size_t i = 0; i < p->nfields; i++) free(p->fields[i].field);
    free(p->terms);
    free(p->fields);
    free(p);
}

static uint32_t kiln__field_slot(kiln_plan *p, const char *field)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (!strcmp(p->fields[i].field, field)) return (uint32_t)i;
    if (p->nfields == p->fields_cap) {
        p->fields_cap = p->fields_cap ? p->fields_cap * 2 : 4;
        p->fields = kiln_xrealloc(p->fields, p->fields_cap * sizeof *p->fields);
    }
    p->fields[p->nfields].field = kiln_xstrdup(field);
    p->fields[p->nfields].doc_count = p->fields[p->nfields].sum_ttf = 0;
    return (uint32_t)p->nfields++;
}

static uint32_t kiln__term_slot(kiln_plan *p, const char *field, const char *t, size_t len)
{
    if (p->nterms == p->terms_cap) {
        p->terms_cap = p->terms_cap ? p->terms_cap * 2 : 8;
        p->terms = kiln_xrealloc(p->terms, p->terms_cap * sizeof *p->terms);
    }
    kiln__termstat *ts = &p->terms[p->nterms];
    ts->field = kiln_xstrdup(field);
    ts->term = t; /* borrowed from the plan node, which lives as long as the plan */
    ts->len = len;
    ts->df = 0;
    return (uint32_t)p->nterms++;
}

static void kiln__add_term(kiln__pnode *n, const char *t, size_t len, uint32_t offset)
{
    n->terms = kiln_xrealloc(n->terms, (n->nterms + 1) * sizeof *n->terms);
    n->tlens = kiln_xrealloc(n->tlens, (n->nterms + 1) * sizeof *n->tlens);
    n->offsets = kiln_xrealloc(n->offsets, (n->nterms + 1) * sizeof *n->offsets);
    n->terms[n->nterms] = kiln_xstrndup(t, len);
    n->tlens[n->nterms] = len;
    n->offsets[n->nterms] = offset;
    n->nterms++;
}

/* A BM25 term (or phrase) node: its terms get stat slots. */
static kiln__pnode *kiln__scored_terms(kiln__pctx *c, kiln__pnode *n)
{
    n->field_slot = kiln__field_slot(c->p, n->field);
    n->term_slot = kiln_xmalloc((n->nterms + 1) * sizeof *n->term_slot);
    for (size_t i = 0; i < n->nterms; i++)
        n->term_slot[i] = kiln__term_slot(c->p, n->field, n->terms[i], n->tlens[i]);
    return n;
}

static kiln__pnode *kiln__term_node(kiln__pctx *c, const char *field, const char *t, size_t len,
                                    float boost, int scoring)
{
    kiln__pnode *n = kiln__pnode_new(KILN__P_TERM, boost, scoring);
    n->field = kiln_xstrdup(field);
    kiln__add_term(n, t, len, 0);
    return kiln__scored_terms(c, n);
}

/* The terms within edits of t (a term node when edits is 0), given a stats slot for its
 * candidates. */
static kiln__pnode *kiln__fuzzy_node(kiln__pctx *c, const char *field, const char *t, size_t len,
                                     const kiln_fuzziness *fz, int constant, float boost,
                                     int scoring)
{
    size_t cps = 0;
    for (size_t i = 0; i < len; i++) cps += ((unsigned char)t[i] & 0xc0) != 0x80;
    int edits = kiln_fuzziness_edits(fz, cps);
    if (edits == 0 && !constant) return kiln__term_node(c, field, t, len, boost, scoring);
    kiln__pnode *n = kiln__pnode_new(KILN__P_FUZZY, boost, scoring);
    n->field = kiln_xstrdup(field);
    kiln__add_term(n, t, len, 0);
    n->max_edits = edits;
    n->prefix_len = fz->prefix_length > 0 ? fz->prefix_length : 0;
    n->max_exp = fz->max_expansions > 0 ? fz->max_expansions : 50;
    n->transpositions = fz->transpositions;
    n->fuzzy_const = constant;
    n->field_slot = kiln__field_slot(c->p, field);
    kiln_plan *p = c->p;
    p->fuzzy = kiln_xrealloc(p->fuzzy, (p->nfuzzy + 1) * sizeof *p->fuzzy);
    n->fuzzy_slot = (uint32_t)p->nfuzzy;
    p->fuzzy[p->nfuzzy++] = n;
    return n;
}

/* ---- analysis of query text ------------------------------------------------------------- */

typedef struct kiln__toks {
    char **t;
    size_t *len;
    uint32_t *pos;
    size_t n;
} kiln__toks;

static int kiln__collect(const kiln_token *tok, void *ctx)
{
    kiln__toks *k = ctx;
    k->t = kiln_xrealloc(k->t, (k->n + 1) * sizeof *k->t);
    k->len = kiln_xrealloc(k->len, (k->n + 1) * sizeof *k->len);
    k->pos = kiln_xrealloc(k->pos, (k->n + 1) * sizeof *k->pos);
    k->t[k->n] = kiln_xstrndup(tok->text, tok->len);
    k->len[k->n] = tok->len;
    k->pos[k->n] = tok->position;
    k->n++;
    return 0;
}

static void kiln__toks_free(kiln__toks *k)
{
    for (size_t i = 0; i < k->n; i++) free(k->t[i]);
    free(k->t);
    free(k->len);
    free(k->pos);
}

static int kiln__analyze(kiln__pctx *c, const kiln_field *f, const char *analyzer,
                         const char *text, kiln__toks *out)
{
    memset(out, 0, sizeof *out);
    const char *name = analyzer ? analyzer : f->search_analyzer ? f->search_analyzer : "standard";
    const kiln_analyzer *a = kiln_analyzer_get(c->ar, name);
    if (!a)
        return kiln_fail(c->err, KILN_E_QUERY_SHARD, "[match] analyzer [%s] not found", name);
    kiln_analyze(a, text, strlen(text), 0, kiln__collect, out);
    return 0;
}

/* ---- value conversion per field type ------------------------------------------------------- */

static int kiln__is_int_type(kiln_field_type t)
{
    return t == KILN_FT_LONG || t == KILN_FT_INTEGER || t == KILN_FT_SHORT || t == KILN_FT_BYTE ||
           t == KILN_FT_DATE || t == KILN_FT_BOOLEAN;
}

static const char *kiln__json_text(json_t *v, char *tmp, size_t n)
{
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(tmp, n, "%lld", (long long)json_integer_value(v));
        return tmp;
    }
    if (json_is_real(v)) {
        snprintf(tmp, n, "%.17g", json_real_value(v));
        return tmp;
    }
    if (json_is_boolean(v)) return json_is_true(v) ? "true" : "false";
    return NULL;
}

static int kiln__value_i64(kiln__pctx *c, const kiln_field *f, json_t *v, const char *format,
                           int round_up, int64_t *out)
{
    if (f->type == KILN_FT_DATE && json_is_string(v)) {
        json_t *mfmt = !format && f->def ? json_object_get(f->def, "format") : NULL;
        if (json_is_string(mfmt)) format = json_string_value(mfmt);
        return kiln_datemath_parse(json_string_value(v), format, c->now_ms, round_up, out, c->err);
    }
    if (kiln__leaf_i64(f->type, v, out)) {
        char tmp[64];
        const char *s = kiln__json_text(v, tmp, sizeof tmp);
        return kiln_fail(c->err, KILN_E_QUERY_SHARD, "failed to create query: For input string: \"%s\"",
                         s ? s : "?");
    }
    return 0;
}

static int kiln__value_f64(kiln__pctx *c, json_t *v, double *out)
{
    if (kiln__leaf_f64(v, out)) {
        char tmp[64];
        const char *s = kiln__json_text(v, tmp, sizeof tmp);
        return kiln_fail(c->err, KILN_E_QUERY_SHARD, "failed to create query: For input string: \"%s\"",
                         s ? s : "?");
    }
    return 0;
}

/* Exact-value node for term/match on non-text fields. */
static kiln__pnode *kiln__exact(kiln__pctx *c, const kiln_field *f, json_t *v, float boost,
                                int scoring)
{
    if (f->type == KILN_FT_KEYWORD || f->type == KILN_FT_TEXT) {
        char tmp[64];
        const char *s = kiln__json_text(v, tmp, sizeof tmp);
        if (!s) {
            kiln_fail(c->err, KILN_E_QUERY_SHARD, "failed to create query: bad value for [%s]",
                      f->path);
            return NULL;
        }
        return kiln__term_node(c, f->path, s, strlen(s), boost, scoring);
    }
    kiln__pnode *n;
    if (kiln__is_int_type(f->type)) {
        int64_t x;
        if (kiln__value_i64(c, f, v, NULL, 0, &x)) return NULL;
        n = kiln__pnode_new(KILN__P_NRANGE, boost, scoring);
        n->lo = n->hi = x;
        if (f->type == KILN_FT_DATE && json_is_string(v)) { /* a date term spans its rounding */
            int64_t up;
            if (kiln__value_i64(c, f, v, NULL, 1, &up)) {
                free(n);
                return NULL;
            }
            n->hi = up;
        }
    } else {
        double x;
        if (kiln__value_f64(c, v, &x)) return NULL;
        n = kiln__pnode_new(KILN__P_FRANGE, boost, scoring);
        n->flo = n->fhi = x = kiln_field_round(f, x); /* compared with the stored value */
    }
    n->field = kiln_xstrdup(f->path);
    return n;
}

static kiln__pnode *kiln__none(void)
{
    return kiln__pnode_new(KILN__P_NONE, 0, 0);
}

/* ---- per query kind -------------------------------------------------------------------------- */

static kiln__pnode *kiln__compile(kiln__pctx *c, const kiln_query *q, float boost, int scoring);

/* How match-family queries combine a field's analyzed terms. */
typedef enum { KILN__MF_BOOL, KILN__MF_PHRASE, KILN__MF_BOOL_PREFIX } kiln__mf_mode;

/* A constant-score prefix of a field's terms (prefix queries, match_bool_prefix's last term). */
static kiln__pnode *kiln__prefix_node(const kiln_field *f, const char *text, size_t len,
                                      float boost, int scoring)
{
    kiln__pnode *n = kiln__pnode_new(KILN__P_PREFIX, boost, scoring);
    kiln__add_term(n, text, len, 0);
    n->field = kiln_xstrdup(f->path);
    return n;
}

static kiln__pnode *kiln__match_field(kiln__pctx *c, const kiln_field *f, const char *text,
                                      kiln_operator op, const kiln_msm *msm, const char *analyzer,
                                      kiln__mf_mode mode, int slop, int zero_all,
                                      const kiln_fuzziness *fz, float boost, int scoring)
{
    int phrase = mode == KILN__MF_PHRASE, bool_prefix = mode == KILN__MF_BOOL_PREFIX;
    int fuzzy = fz && fz->set && !phrase;
    if (f->type == KILN_FT_KEYWORD && bool_prefix) /* one token: the value as a prefix */
        return kiln__prefix_node(f, text, strlen(text), boost, scoring);
    if (f->type == KILN_FT_KEYWORD && fuzzy) /* one token: the value, fuzzily */
        return kiln__fuzzy_node(c, f->path, text, strlen(text), fz, 0, boost, scoring);
    if (f->type != KILN_FT_TEXT) {
        json_t *v = json_string(text);
        kiln__pnode *n = kiln__exact(c, f, v, boost, scoring);
        json_decref(v);
        if (!n && f->type != KILN_FT_KEYWORD) {
            /* ES: a number field and non-numeric text is an error only when lenient is off */
            return NULL;
        }
        return n;
    }
    kiln__toks tk;
    if (kiln__analyze(c, f, analyzer, text, &tk)) return NULL;
    kiln__pnode *n;
    if (tk.n == 0) {
        n = zero_all ? kiln__pnode_new(KILN__P_ALL, boost, scoring) : kiln__none();
    } else if (tk.n == 1 && bool_prefix) {
        n = kiln__prefix_node(f, tk.t[0], tk.len[0], boost, scoring);
    } else if (tk.n == 1 && fuzzy) {
        n = kiln__fuzzy_node(c, f->path, tk.t[0], tk.len[0], fz, 0, boost, scoring);
    } else if (tk.n == 1) {
        n = kiln__term_node(c, f->path, tk.t[0], tk.len[0], boost, scoring);
    } else if (phrase) {
        n = kiln__pnode_new(KILN__P_PHRASE, boost, scoring);
        n->field = kiln_xstrdup(f->path);
        n->slop = slop;
        for (size_t i = 0; i < tk.n; i++) kiln__add_term(n, tk.t[i], tk.len[i], tk.pos[i] - tk.pos[0]);
        kiln__scored_terms(c, n);
    } else {
        n = kiln__pnode_new(KILN__P_BOOL, boost, scoring);
        for (size_t i = 0; i < tk.n; i++) { /* bool_prefix: the last term is a prefix */
            kiln__pnode *t =
                bool_prefix && i + 1 == tk.n ? kiln__prefix_node(f, tk.t[i], tk.len[i], boost, scoring)
                : fuzzy ? kiln__fuzzy_node(c, f->path, tk.t[i], tk.len[i], fz, 0, boost, scoring)
                        : kiln__term_node(c, f->path, tk.t[i], tk.len[i], boost, scoring);
            kiln__plist_push(op == KILN_OP_AND ? &n->must : &n->should, t);
        }
        n->msm = op == KILN_OP_AND ? 0 : msm && msm->set ? kiln_msm_resolve(msm, (int)tk.n) : 1;
        if (n->msm < 1 && op != KILN_OP_AND) n->msm = 1;
    }
    kiln__toks_free(&tk);
    return n;
}

static const kiln_field *kiln__field(kiln__pctx *c, const char *path)
{
    return path ? kiln_mapping_field(c->p->m, path) : NULL;
}

static kiln__pnode *kiln__compile_range(kiln__pctx *c, const kiln_query *q, const kiln_field *f,
                                        float boost, int scoring)
{
    kiln__pnode *n = NULL;
    const char *fmt = q->u.range.format;
    if (f->type == KILN_FT_KEYWORD || f->type == KILN_FT_TEXT) {
        n = kiln__pnode_new(KILN__P_KWRANGE, boost, scoring);
        char tmp[64];
        json_t *lo = q->u.range.gte ? q->u.range.gte : q->u.range.gt;
        json_t *hi = q->u.range.lte ? q->u.range.lte : q->u.range.lt;
        const char *s;
        if (lo && (s = kiln__json_text(lo, tmp, sizeof tmp))) {
            n->klo = kiln_xstrdup(s);
            n->klo_len = strlen(s);
            n->klo_inc = q->u.range.gte != NULL;
        }
        if (hi && (s = kiln__json_text(hi, tmp, sizeof tmp))) {
            n->khi = kiln_xstrdup(s);
            n->khi_len = strlen(s);
            n->khi_inc = q->u.range.lte != NULL;
        }
    } else if (kiln__is_int_type(f->type)) {
        n = kiln__pnode_new(KILN__P_NRANGE, boost, scoring);
        n->lo = INT64_MIN;
        n->hi = INT64_MAX;
        int64_t x;
        /* ES date rounding: gt and lte round up, gte and lt round down */
        if (q->u.range.gte) {
            if (kiln__value_i64(c, f, q->u.range.gte, fmt, 0, &x)) goto fail;
            n->lo = x;
        }
        if (q->u.range.gt) {
            if (kiln__value_i64(c, f, q->u.range.gt, fmt, 1, &x)) goto fail;
            if (x == INT64_MAX) goto none;
            if (x + 1 > n->lo) n->lo = x + 1;
        }
        if (q->u.range.lte) {
            if (kiln__value_i64(c, f, q->u.range.lte, fmt, 1, &x)) goto fail;
            if (x < n->hi) n->hi = x;
        }
        if (q->u.range.lt) {
            if (kiln__value_i64(c, f, q->u.range.lt, fmt, 0, &x)) goto fail;
            if (x == INT64_MIN) goto none;
            if (x - 1 < n->hi) n->hi = x - 1;
        }
        if (n->lo > n->hi) goto none;
    } else {
        n = kiln__pnode_new(KILN__P_FRANGE, boost, scoring);
        n->flo = -INFINITY;
        n->fhi = INFINITY;
        double x;
        if (q->u.range.gte) {
            if (kiln__value_f64(c, q->u.range.gte, &x)) goto fail;
            n->flo = x;
        }
        if (q->u.range.gt) {
            if (kiln__value_f64(c, q->u.range.gt, &x)) goto fail;
            x = nextafter(x, INFINITY);
            if (x > n->flo) n->flo = x;
        }
        if (q->u.range.lte) {
            if (kiln__value_f64(c, q->u.range.lte, &x)) goto fail;
            if (x < n->fhi) n->fhi = x;
        }
        if (q->u.range.lt) {
            if (kiln__value_f64(c, q->u.range.lt, &x)) goto fail;
            x = nextafter(x, -INFINITY);
            if (x < n->fhi) n->fhi = x;
        }
    }
    n->field = kiln_xstrdup(f->path);
    return n;
none:
    kiln__pnode_free(n);
    return kiln__none();
fail:
    kiln__pnode_free(n);
    return NULL;
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

static kiln__pnode *kiln__compile_terms(kiln__pctx *c, const kiln_query *q, const kiln_field *f,
                                        float boost, int scoring)
{
    json_t *vals = q->u.terms.values;
    size_t i, n = json_array_size(vals);
    json_t *v;
    kiln__pnode *p;
    if (f->type == KILN_FT_KEYWORD || f->type == KILN_FT_TEXT) {
        p = kiln__pnode_new(KILN__P_TERMSET, boost, scoring);
        json_array_foreach(vals, i, v)
        {
            char tmp[64];
            const char *s = kiln__json_text(v, tmp, sizeof tmp);
            if (s) kiln__add_term(p, s, strlen(s), 0);
        }
    } else if (kiln__is_int_type(f->type)) {
        p = kiln__pnode_new(KILN__P_NSET, boost, scoring);
        p->nset = kiln_xmalloc((n + 1) * sizeof *p->nset);
        json_array_foreach(vals, i, v)
        {
            if (kiln__value_i64(c, f, v, NULL, 0, &p->nset[p->nset_n])) {
                kiln__pnode_free(p);
                return NULL;
            }
            p->nset_n++;
        }
        qsort(p->nset, p->nset_n, sizeof *p->nset, kiln__cmp_i64);
    } else {
        p = kiln__pnode_new(KILN__P_FSET, boost, scoring);
        p->fset = kiln_xmalloc((n + 1) * sizeof *p->fset);
        json_array_foreach(vals, i, v)
        {
            if (kiln__value_f64(c, v, &p->fset[p->nset_n])) {
                kiln__pnode_free(p);
                return NULL;
            }
            p->fset[p->nset_n] = kiln_field_round(f, p->fset[p->nset_n]);
            p->nset_n++;
        }
        qsort(p->fset, p->nset_n, sizeof *p->fset, kiln__cmp_f64);
    }
    p->field = kiln_xstrdup(f->path);
    return p;
}

/* exists on an object field: any leaf under it. */
static kiln__pnode *kiln__compile_exists(kiln__pctx *c, const char *path, const kiln_field *f,
                                         float boost, int scoring)
{
    if (f && f->type != KILN_FT_OBJECT) {
        kiln__pnode *n = kiln__pnode_new(KILN__P_EXISTS, boost, scoring);
        n->field = kiln_xstrdup(path);
        return n;
    }
    kiln__pnode *b = kiln__pnode_new(KILN__P_BOOL, boost, scoring);
    size_t plen = strlen(path);
    const kiln_mapping *m = c->p->m;
    for (size_t i = 0; i < m->nfields; i++) {
        const kiln_field *g = &m->fields[i];
        if (g->type == KILN_FT_OBJECT || g->is_multi_field) continue;
        if (strncmp(g->path, path, plen) || g->path[plen] != '.') continue;
        kiln__pnode *n = kiln__pnode_new(KILN__P_EXISTS, boost, 0);
        n->field = kiln_xstrdup(g->path);
        kiln__plist_push(&b->should, n);
    }
    if (!b->should.n) {
        kiln__pnode_free(b);
        return kiln__none();
    }
    b->msm = 1;
    if (!scoring) return b;
    kiln__pnode *k = kiln__pnode_new(KILN__P_CONST, boost, scoring);
    kiln__plist_push(&k->filter, b);
    return k;
}

static int kiln__compile_list(kiln__pctx *c, const kiln_query_list *l, kiln__plist *out,
                              float boost, int scoring)
{
    for (size_t i = 0; i < l->n; i++) {
        kiln__pnode *n = kiln__compile(c, l->v[i], boost, scoring);
        if (!n) return -1;
        kiln__plist_push(out, n);
    }
    return 0;
}

/* Fields named by multi_match: exact names and simple wildcards ("name*", "*"). */
static size_t kiln__expand_fields(kiln__pctx *c, const char *pat, const kiln_field **out,
                                  size_t cap)
{
    size_t n = 0;
    if (!strchr(pat, '*')) {
        const kiln_field *f = kiln__field(c, pat);
        if (f && cap) out[n++] = f;
        return n;
    }
    const kiln_mapping *m = c->p->m;
    for (size_t i = 0; i < m->nfields && n < cap; i++) {
        const kiln_field *f = &m->fields[i];
        if (f->type != KILN_FT_TEXT && f->type != KILN_FT_KEYWORD) continue;
        if (kiln__wildcard_match(pat, strlen(pat), f->path, strlen(f->path))) out[n++] = f;
    }
    return n;
}

static kiln__pnode *kiln__compile_multi(kiln__pctx *c, const kiln_query *q, float boost,
                                        int scoring)
{
    int most = q->u.multi.type == KILN_MM_MOST_FIELDS;
    kiln__pnode *n = kiln__pnode_new(most ? KILN__P_BOOL : KILN__P_DISMAX, boost, scoring);
    n->tie = q->u.multi.tie_breaker;
    n->msm = 1;
    for (size_t i = 0; i < q->u.multi.nfields; i++) {
        const kiln_field *fs[64];
        size_t nf = kiln__expand_fields(c, q->u.multi.fields[i], fs, 64);
        for (size_t j = 0; j < nf; j++) {
            kiln__pnode *k = kiln__match_field(
                c, fs[j], q->u.multi.text, q->u.multi.op, &q->u.multi.msm, q->u.multi.analyzer,
                q->u.multi.type == KILN_MM_PHRASE        ? KILN__MF_PHRASE
                : q->u.multi.type == KILN_MM_BOOL_PREFIX ? KILN__MF_BOOL_PREFIX
                                                         : KILN__MF_BOOL,
                q->u.multi.slop, 0, &q->u.multi.fuzzy, boost * q->u.multi.boosts[i], scoring);
            if (!k) {
                if (fs[j]->type != KILN_FT_TEXT && fs[j]->type != KILN_FT_KEYWORD) {
                    continue; /* lenient across numeric fields, as ES does with "*" */
                }
                kiln__pnode_free(n);
                return NULL;
            }
            kiln__plist_push(most ? &n->should : &n->should, k);
        }
    }
    if (!n->should.n) {
        kiln__pnode_free(n);
        return kiln__none();
    }
    return n;
}

static kiln__pnode *kiln__compile(kiln__pctx *c, const kiln_query *q, float boost, int scoring)
{
    boost *= q->boost;
    const kiln_field *f = q->field ? kiln__field(c, q->field) : NULL;
    kiln__pnode *n;
    switch (q->kind) {
    case KILN_Q_MATCH_ALL:
        return kiln__pnode_new(KILN__P_ALL, boost, scoring);
    case KILN_Q_MATCH_NONE:
        return kiln__none();
    case KILN_Q_MATCH:
    case KILN_Q_MATCH_PHRASE:
    case KILN_Q_MATCH_BOOL_PREFIX:
        if (!f || f->type == KILN_FT_OBJECT) return kiln__none();
        return kiln__match_field(c, f, q->u.match.text, q->u.match.op, &q->u.match.msm,
                                 q->u.match.analyzer,
                                 q->kind == KILN_Q_MATCH_PHRASE        ? KILN__MF_PHRASE
                                 : q->kind == KILN_Q_MATCH_BOOL_PREFIX ? KILN__MF_BOOL_PREFIX
                                                                       : KILN__MF_BOOL,
                                 q->u.match.slop, q->u.match.zero_terms_all, &q->u.match.fuzzy,
                                 boost, scoring);
    case KILN_Q_MULTI_MATCH:
        return kiln__compile_multi(c, q, boost, scoring);
    case KILN_Q_TERM:
        if (!f || f->type == KILN_FT_OBJECT) return kiln__none();
        if (q->u.term.case_insensitive && json_is_string(q->u.term.value) &&
            (f->type == KILN_FT_KEYWORD || f->type == KILN_FT_TEXT)) {
            n = kiln__pnode_new(KILN__P_WILDCARD, boost, scoring);
            n->case_insensitive = 1;
            const char *s = json_string_value(q->u.term.value);
            /* escape wildcard characters: a literal pattern */
            kiln_buf b = KILN_BUF_INIT;
            for (; *s; s++) {
                if (*s == '*' || *s == '?' || *s == '\\') kiln_buf_putc(&b, '\\');
                kiln_buf_putc(&b, *s);
            }
            kiln__add_term(n, b.data ? b.data : "", b.len, 0);
            kiln_buf_free(&b);
            n->field = kiln_xstrdup(f->path);
            return n;
        }
        return kiln__exact(c, f, q->u.term.value, boost, scoring);
    case KILN_Q_TERMS:
        if (!f || f->type == KILN_FT_OBJECT) return kiln__none();
        return kiln__compile_terms(c, q, f, boost, scoring);
    case KILN_Q_RANGE:
        if (!f || f->type == KILN_FT_OBJECT) return kiln__none();
        return kiln__compile_range(c, q, f, boost, scoring);
    case KILN_Q_EXISTS:
        if (!f && !q->field) return kiln__none();
        return kiln__compile_exists(c, q->field, f, boost, scoring);
    case KILN_Q_FUZZY: /* a term-level query: the value is not analyzed */
        if (!f || f->type == KILN_FT_OBJECT) return kiln__none();
        if (f->type != KILN_FT_TEXT && f->type != KILN_FT_KEYWORD) {
            kiln_fail(c->err, KILN_E_QUERY_SHARD,
                      "Can only use fuzzy queries on keyword and text fields - not on [%s] which "
                      "is of type [%s]",
                      f->path, kiln_field_type_name(f->type));
            return NULL;
        }
        return kiln__fuzzy_node(c, f->path, q->u.fuzzy.value, strlen(q->u.fuzzy.value),
                                &q->u.fuzzy.fz, q->u.fuzzy.constant, boost, scoring);
    case KILN_Q_PREFIX:
    case KILN_Q_WILDCARD:
        if (!f || (f->type != KILN_FT_KEYWORD && f->type != KILN_FT_TEXT)) return kiln__none();
        n = kiln__pnode_new(q->kind == KILN_Q_PREFIX ? KILN__P_PREFIX : KILN__P_WILDCARD, boost,
                            scoring);
        n->case_insensitive = q->u.pattern.case_insensitive;
        kiln__add_term(n, q->u.pattern.value, strlen(q->u.pattern.value), 0);
        n->field = kiln_xstrdup(f->path);
        return n;
    case KILN_Q_IDS:
        n = kiln__pnode_new(KILN__P_IDS, boost, scoring);
        n->ids = kiln_xmalloc((q->u.ids.n + 1) * sizeof *n->ids);
        for (size_t i = 0; i < q->u.ids.n; i++) n->ids[i] = kiln_xstrdup(q->u.ids.ids[i]);
        n->nids = q->u.ids.n;
        return n;
    case KILN_Q_BOOL:
        n = kiln__pnode_new(KILN__P_BOOL, boost, scoring);
        if (kiln__compile_list(c, &q->u.boolq.must, &n->must, boost, scoring) ||
            kiln__compile_list(c, &q->u.boolq.filter, &n->filter, boost, 0) ||
            kiln__compile_list(c, &q->u.boolq.should, &n->should, boost, scoring) ||
            kiln__compile_list(c, &q->u.boolq.must_not, &n->must_not, boost, 0)) {
            kiln__pnode_free(n);
            return NULL;
        }
        if (q->u.boolq.msm.set)
            n->msm = kiln_msm_resolve(&q->u.boolq.msm, (int)n->should.n);
        else
            n->msm = n->must.n + n->filter.n ? 0 : (n->should.n ? 1 : 0);
        if (n->msm < 0) n->msm = 0;
        return n;
    case KILN_Q_CONSTANT_SCORE:
        n = kiln__pnode_new(KILN__P_CONST, boost, scoring);
        if (kiln__compile_list(c, &(kiln_query_list){&((kiln_query *)q)->u.constant.filter, 1},
                               &n->filter, boost, 0)) {
            kiln__pnode_free(n);
            return NULL;
        }
        return n;
    case KILN_Q_DIS_MAX:
        n = kiln__pnode_new(KILN__P_DISMAX, boost, scoring);
        n->tie = q->u.dismax.tie_breaker;
        if (kiln__compile_list(c, &q->u.dismax.queries, &n->should, boost, scoring)) {
            kiln__pnode_free(n);
            return NULL;
        }
        return n;
    case KILN_Q_BOOSTING:
        n = kiln__pnode_new(KILN__P_BOOSTING, boost, scoring);
        n->negative_boost = q->u.boosting.negative_boost;
        if (kiln__compile_list(c, &(kiln_query_list){&((kiln_query *)q)->u.boosting.positive, 1},
                               &n->must, boost, scoring) ||
            kiln__compile_list(c, &(kiln_query_list){&((kiln_query *)q)->u.boosting.negative, 1},
                               &n->must_not, boost, 0)) {
            kiln__pnode_free(n);
            return NULL;
        }
        return n;
    case KILN_Q_WASM_UDF:
    case KILN_Q_SCRIPT_SCORE: {
        const kiln_query_udf *u = q->kind == KILN_Q_WASM_UDF ? &q->u.udf : &q->u.script_score.udf;
        if (!u->bound) {
            kiln_fail(c->err, KILN_E_INTERNAL, "UDF [%s] was not resolved before planning",
                      u->name);
            return NULL;
        }
        n = kiln__pnode_new(q->kind == KILN_Q_WASM_UDF ? KILN__P_UDF : KILN__P_SCRIPT, boost,
                            scoring);
        n->udf_slot = c->p->nudfs;
        n->udf_exclude = u->on_error_exclude;
        c->p->udfs = kiln_xrealloc(c->p->udfs, (c->p->nudfs + 1) * sizeof *c->p->udfs);
        c->p->udfs[c->p->nudfs++] = u->bound;
        if (q->kind == KILN_Q_SCRIPT_SCORE) {
            n->score_mode = (int)q->u.script_score.mode;
            n->min_score = q->u.script_score.min_score;
            n->has_min_score = q->u.script_score.has_min_score;
            if (kiln__compile_list(c, &(kiln_query_list){&((kiln_query *)q)->u.script_score.query, 1},
                                   &n->must, 1.0f, 1)) {
                kiln__pnode_free(n);
                return NULL;
            }
            if (scoring) c->p->needs_scores = 1;
        }
        return n;
    }
    }
    kiln_fail(c->err, KILN_E_QUERY_SHARD, "unsupported query");
    return NULL;
}

kiln_plan *kiln_plan_build(const kiln_query *q, const kiln_mapping *m,
                           const kiln_analysis_registry *ar, int64_t now_ms, kiln_error *err)
{
    kiln_plan *p = kiln_xcalloc(1, sizeof *p);
    p->m = m;
    kiln__pctx c = {.p = p, .ar = ar, .now_ms = now_ms, .err = err};
    p->root = kiln__compile(&c, q, 1.0f, 1);
    if (!p->root) {
        kiln_plan_free(p);
        return NULL;
    }
    return p;
}

/* ---- wildcard ---------------------------------------------------------------------------- */

int kiln__wildcard_match(const char *pat, size_t plen, const char *s, size_t slen)
{
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '\\' && pi + 1 < plen) {
            if (pat[pi + 1] == s[si]) {
                pi += 2;
                si++;
                continue;
            }
        } else if (pi < plen && pat[pi] == '?') {
            pi++;
            si++;
            while (si < slen && ((unsigned char)s[si] & 0xC0) == 0x80) si++; /* one char */
            continue;
        } else if (pi < plen && pat[pi] == '*') {
            star_p = pi++;
            star_s = si;
            continue;
        } else if (pi < plen && pat[pi] == s[si]) {
            pi++;
            si++;
            continue;
        }
        if (star_p == (size_t)-1) return 0;
        pi = star_p + 1;
        si = ++star_s;
    }
    while (pi < plen && pat[pi] == '*') pi++;
    return pi == plen;
}
