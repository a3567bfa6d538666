/* Query DSL parser: JSON → kiln_query, with Elasticsearch's error types and messages and the JSON
 * path of the failing element. */
#include "dsl/query.h"

#include "core/buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kiln__dsl {
    kiln_dsl_error *e;
    char path[512];
    size_t plen;
    int depth;
} kiln__dsl;

#define KILN__MAX_DEPTH 64

static size_t kiln__path_push(kiln__dsl *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static size_t kiln__path_push(kiln__dsl *d, const char *fmt, ...)
{
    size_t old = d->plen;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->path + d->plen, sizeof d->path - d->plen, fmt, ap);
    va_end(ap);
    if (n > 0) d->plen += (size_t)n;
    if (d->plen >= sizeof d->path) d->plen = sizeof d->path - 1;
    return old;
}

static void kiln__path_pop(kiln__dsl *d, size_t old)
{
    d->plen = old;
    d->path[old] = 0;
}

static int kiln__perr(kiln__dsl *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int kiln__perr(kiln__dsl *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_failv(&d->e->err, KILN_E_PARSING, fmt, ap);
    va_end(ap);
    snprintf(d->e->path, sizeof d->e->path, "%s", d->path);
    return -1;
}

static kiln_query *kiln__q_new(kiln_query_kind kind)
{
    kiln_query *q = kiln_xcalloc(1, sizeof *q);
    q->kind = kind;
    q->boost = 1.0f;
    return q;
}

static void kiln__list_free(kiln_query_list *l)
{
    for (size_t i = 0; i < l->n; i++) kiln_query_free(l->v[i]);
    free(l->v);
}

static void kiln__udf_ref_free(kiln_query_udf *u)
{
    free(u->name);
    free(u->version);
    json_decref(u->params);
    if (u->bound && u->bound_free) u->bound_free(u->bound);
    memset(u, 0, sizeof *u);
}

void kiln_query_free(kiln_query *q)
{
    if (!q) return;
    free(q->name);
    free(q->field);
    switch (q->kind) {
    case KILN_Q_FUZZY:
        free(q->u.fuzzy.value);
        break;
    case KILN_Q_MATCH:
    case KILN_Q_MATCH_PHRASE:
    case KILN_Q_MATCH_BOOL_PREFIX:
        free(q->u.match.text);
        free(q->u.match.analyzer);
        break;
    case KILN_Q_MULTI_MATCH:
        free(q->u.multi.text);
        for (size_t i = 0; i < q->u.multi.nfields; i++) free(q->u.multi.fields[i]);
        free(q->u.multi.fields);
        free(q->u.multi.boosts);
        free(q->u.multi.analyzer);
        break;
    case KILN_Q_TERM:
        json_decref(q->u.term.value);
        break;
    case KILN_Q_TERMS:
        json_decref(q->u.terms.values);
        break;
    case KILN_Q_RANGE:
        json_decref(q->u.range.gt);
        json_decref(q->u.range.gte);
        json_decref(q->u.range.lt);
        json_decref(q->u.range.lte);
        free(q->u.range.format);
        free(q->u.range.time_zone);
        break;
    case KILN_Q_PREFIX:
    case KILN_Q_WILDCARD:
        free(q->u.pattern.value);
        break;
    case KILN_Q_IDS:
        for (size_t i = 0; i < q->u.ids.n; i++) free(q->u.ids.ids[i]);
        free(q->u.ids.ids);
        break;
    case KILN_Q_BOOL:
        kiln__list_free(&q->u.boolq.must);
        kiln__list_free(&q->u.boolq.filter);
        kiln__list_free(&q->u.boolq.should);
        kiln__list_free(&q->u.boolq.must_not);
        break;
    case KILN_Q_CONSTANT_SCORE:
        kiln_query_free(q->u.constant.filter);
        break;
    case KILN_Q_DIS_MAX:
        kiln__list_free(&q->u.dismax.queries);
        break;
    case KILN_Q_BOOSTING:
        kiln_query_free(q->u.boosting.positive);
        kiln_query_free(q->u.boosting.negative);
        break;
    case KILN_Q_WASM_UDF:
        kiln__udf_ref_free(&q->u.udf);
        break;
    case KILN_Q_SCRIPT_SCORE:
        kiln_query_free(q->u.script_score.query);
        kiln__udf_ref_free(&q->u.script_score.udf);
        break;
    default:
        break;
    }
    free(q);
}

static const char *const kiln__kind_names[] = {
    "match_all", "match_none", "match",  "match_phrase", "multi_match",    "term",
    "terms",     "range",      "exists", "prefix",       "wildcard",       "ids",
    "bool",      "constant_score", "dis_max", "boosting", "wasm_udf", "script_score",
    "match_bool_prefix", "fuzzy",
};

const char *kiln_query_kind_name(kiln_query_kind k)
{
    return (size_t)k < sizeof kiln__kind_names / sizeof *kiln__kind_names ? kiln__kind_names[k]
                                                                          : "?";
}

/* ---- value helpers ------------------------------------------------------------------------- */

static int kiln__get_float(kiln__dsl *d, const char *q, const char *key, json_t *v, float *out)
{
    if (json_is_number(v)) return *out = (float)json_number_value(v), 0;
    if (json_is_string(v)) {
        char *end;
        double x = strtod(json_string_value(v), &end);
        if (*json_string_value(v) && !*end) return *out = (float)x, 0;
    }
    return kiln__perr(d, "[%s] query does not support [%s] with a non-numeric value", q, key);
}

static int kiln__get_int(kiln__dsl *d, const char *q, const char *key, json_t *v, int *out)
{
    float f = 0;
    if (kiln__get_float(d, q, key, v, &f)) return -1;
    *out = (int)f;
    return 0;
}

static int kiln__get_bool(kiln__dsl *d, const char *q, const char *key, json_t *v, int *out)
{
    if (json_is_boolean(v)) return *out = json_is_true(v), 0;
    if (json_is_string(v) && !strcmp(json_string_value(v), "true")) return *out = 1, 0;
    if (json_is_string(v) && !strcmp(json_string_value(v), "false")) return *out = 0, 0;
    return kiln__perr(d, "[%s] failed to parse field [%s]: not a boolean", q, key);
}

/* Strings, numbers and booleans as query text. */
static char *kiln__text_of(json_t *v)
{
    char tmp[64];
    if (json_is_string(v)) return kiln_xstrdup(json_string_value(v));
    if (json_is_integer(v))
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return kiln_xstrdup(tmp);
}

static int kiln__get_str(kiln__dsl *d, const char *q, const char *key, json_t *v, char **out)
{
    char *s = kiln__text_of(v);
    if (!s) return kiln__perr(d, "[%s] query does not support [%s] of this type", q, key);
    free(*out);
    *out = s;
    return 0;
}

int kiln_fuzziness_edits(const kiln_fuzziness *f, size_t n)
{
    if (!f->set) return 0;
    if (f->edits >= 0) return f->edits;
    return (int)n < f->auto_lo ? 0 : (int)n < f->auto_hi ? 1 : 2;
}

static void kiln__fuzzy_defaults(kiln_fuzziness *f)
{
    *f = (kiln_fuzziness){0, 0, 3, 6, 0, 50, 1};
}

/* fuzziness: 0, 1, 2 (numbers or strings), "AUTO" or "AUTO:lo,hi", as ES reads it. */
static int kiln__parse_fuzziness(kiln__dsl *d, json_t *v, kiln_fuzziness *f)
{
    char buf[32];
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
    else
        return kiln__perr(d, "[fuzziness] must be a number or \"AUTO\"");
    if (!strncasecmp(buf, "AUTO", 4)) {
        f->set = 1;
        f->edits = -1;
        if (!buf[4]) return 0;
        if (buf[4] == ':' && sscanf(buf + 5, "%d,%d", &f->auto_lo, &f->auto_hi) == 2 &&
            f->auto_lo >= 0 && f->auto_hi >= f->auto_lo)
            return 0;
        return kiln__perr(d, "failed to find low and high distance values in [%s]", buf);
    }
    char *end;
    double x = strtod(buf, &end);
    if (end == buf || *end || x != (int)x || x < 0 || x > 2) {
        kiln__perr(d, "Valid edit distances are [0, 1, 2] but was [%s]", buf);
        d->e->err.code = KILN_E_ILLEGAL_ARGUMENT;
        return -1;
    }
    f->edits = (int)x;
    f->set = f->edits > 0;
    return 0;
}

/* The fuzzy companions of a query body key; 1 if key was one of them, -1 on a bad value. */
static int kiln__fuzzy_key(kiln__dsl *d, const char *qn, const char *key, json_t *v,
                           kiln_fuzziness *f)
{
    if (!strcmp(key, "fuzziness")) return kiln__parse_fuzziness(d, v, f) ? -1 : 1;
    if (!strcmp(key, "prefix_length")) return kiln__get_int(d, qn, key, v, &f->prefix_length) ? -1 : 1;
    if (!strcmp(key, "max_expansions")) {
        if (kiln__get_int(d, qn, key, v, &f->max_expansions)) return -1;
        if (f->max_expansions < 1) {
            kiln__perr(d, "[max_expansions] must be greater than 0");
            d->e->err.code = KILN_E_ILLEGAL_ARGUMENT;
            return -1;
        }
        return 1;
    }
    if (!strcmp(key, "transpositions") || !strcmp(key, "fuzzy_transpositions")) {
        if (!json_is_boolean(v)) return kiln__perr(d, "[%s] query does not support [%s] of this type", qn, key), -1;
        f->transpositions = json_is_true(v);
        return 1;
    }
    return 0;
}

static int kiln__parse_msm(kiln__dsl *d, const char *q, json_t *v, kiln_msm *m)
{
    m->set = 1;
    if (json_is_integer(v)) {
        m->value = (int)json_integer_value(v);
        m->percent = 0;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        const char *lt = strchr(s, '<'); /* "3<90%": only the conditional part is honoured */
        if (lt) s = lt + 1;
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s) goto bad;
        if (*end == '%') {
            m->percent = 1;
            end++;
        } else
            m->percent = 0;
        if (*end) goto bad;
        m->value = (int)x;
        return 0;
    }
bad:
    return kiln__perr(d, "[%s] failed to parse field [minimum_should_match]", q);
}

int kiln_msm_resolve(const kiln_msm *m, int n)
{
    if (!m->set) return 0;
    int r;
    if (m->percent) {
        r = (int)((double)n * m->value / 100.0); /* truncates toward zero, as ES */
        if (m->value < 0) r = n + r;
    } else
        r = m->value < 0 ? n + m->value : m->value;
    if (r < 0) r = 0;
    return r;
}

/* ---- leaf queries ----------------------------------------------------------------------- */

static int kiln__common(kiln__dsl *d, kiln_query *q, const char *key, json_t *v, int *handled)
{
    *handled = 1;
    if (!strcmp(key, "boost")) return kiln__get_float(d, kiln_query_kind_name(q->kind), key, v, &q->boost);
    if (!strcmp(key, "_name")) return kiln__get_str(d, kiln_query_kind_name(q->kind), key, v, &q->name);
    *handled = 0;
    return 0;
}

/* {"field": value} or {"field": {...params}}; exactly one field. */
static int kiln__single_field(kiln__dsl *d, const char *qn, json_t *body, const char **field,
                              json_t **val, kiln_query *q)
{
    const char *key;
    json_t *v;
    *field = NULL;
    json_object_foreach(body, key, v)
    {
        int handled;
        if (json_is_object(v) || !(!strcmp(key, "boost") || !strcmp(key, "_name"))) {
            if (*field)
                return kiln__perr(d, "[%s] query doesn't support multiple fields, found [%s] and [%s]",
                                  qn, *field, key);
            *field = key;
            *val = v;
            continue;
        }
        if (kiln__common(d, q, key, v, &handled)) return -1;
    }
    if (!*field) return kiln__perr(d, "[%s] query malformed, no field specified", qn);
    return 0;
}

/* The head of a single-field query, {"field": value} or {"field": {...}}: sets q->field, then
 * either the short form's value as text in *text (1) or the parameters object in *params (0);
 * -1 on a malformed body. */
static int kiln__field_head(kiln__dsl *d, const char *qn, json_t *body, kiln_query *q,
                            char **text, json_t **params)
{
    const char *field;
    json_t *v;
    if (!json_is_object(body))
        return kiln__perr(d, "[%s] query malformed, no start_object after query name", qn);
    if (kiln__single_field(d, qn, body, &field, &v, q)) return -1;
    q->field = kiln_xstrdup(field);
    if (json_is_object(v)) return *params = v, 0;
    if (!(*text = kiln__text_of(v)))
        return kiln__perr(d, "[%s] unknown token [%s] after [%s]", qn,
                          json_is_array(v) ? "START_ARRAY" : "VALUE_NULL", field);
    return 1;
}

static kiln_query *kiln__parse_match(kiln__dsl *d, json_t *body, kiln_query_kind kind)
{
    const char *qn = kiln_query_kind_name(kind);
    kiln_query *q = kiln__q_new(kind);
    kiln__fuzzy_defaults(&q->u.match.fuzzy);
    json_t *v = NULL;
    int head = kiln__field_head(d, qn, body, q, &q->u.match.text, &v);
    if (head < 0) goto fail;
    if (head) return q;
    const char *key;
    json_t *p;
    json_object_foreach(v, key, p)
    {
        int handled;
        if (kiln__common(d, q, key, p, &handled)) goto fail;
        if (handled) continue;
        int fk = kind == KILN_Q_MATCH_PHRASE ? 0 : kiln__fuzzy_key(d, qn, key, p, &q->u.match.fuzzy);
        if (fk < 0) goto fail;
        if (fk) continue;
        if (!strcmp(key, "query")) {
            if (!(q->u.match.text = kiln__text_of(p))) {
                kiln__perr(d, "[%s] unknown token [%s] after [query]", qn,
                           json_is_array(p) ? "START_ARRAY" : "VALUE_NULL");
                goto fail;
            }
        } else if (!strcmp(key, "operator") && json_is_string(p)) {
            const char *s = json_string_value(p);
            if (!strcasecmp(s, "and"))
                q->u.match.op = KILN_OP_AND;
            else if (!strcasecmp(s, "or"))
                q->u.match.op = KILN_OP_OR;
            else {
                kiln__perr(d, "Unknown operator [%s]", s);
                d->e->err.code = KILN_E_ILLEGAL_ARGUMENT;
                goto fail;
            }
        } else if (!strcmp(key, "minimum_should_match")) {
            if (kiln__parse_msm(d, qn, p, &q->u.match.msm)) goto fail;
        } else if (!strcmp(key, "analyzer")) {
            if (kiln__get_str(d, qn, key, p, &q->u.match.analyzer)) goto fail;
        } else if (!strcmp(key, "slop") && kind == KILN_Q_MATCH_PHRASE) {
            if (kiln__get_int(d, qn, key, p, &q->u.match.slop)) goto fail;
        } else if (!strcmp(key, "zero_terms_query") && json_is_string(p)) {
            q->u.match.zero_terms_all = !strcasecmp(json_string_value(p), "all");
        } else if (!strcmp(key, "lenient") || !strcmp(key, "fuzzy_rewrite") ||
                   !strcmp(key, "auto_generate_synonyms_phrase_query") ||
                   !strcmp(key, "cutoff_frequency")) {
            /* accepted, not honoured (cutoff_frequency is deprecated in ES) */
        } else {
            kiln__perr(d, "[%s] query does not support [%s]", qn, key);
            goto fail;
        }
    }
    if (!q->u.match.text) {
        kiln__perr(d, "No text specified for text query");
        d->e->err.code = KILN_E_ILLEGAL_ARGUMENT;
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static int kiln__add_mm_field(kiln_query *q, const char *spec)
{
    const char *caret = strrchr(spec, '^');
    size_t n = caret ? (size_t)(caret - spec) : strlen(spec);
    float boost = caret ? strtof(caret + 1, NULL) : 1.0f;
    q->u.multi.fields = kiln_xrealloc(q->u.multi.fields, (q->u.multi.nfields + 1) * sizeof(char *));
    q->u.multi.boosts = kiln_xrealloc(q->u.multi.boosts, (q->u.multi.nfields + 1) * sizeof(float));
    q->u.multi.fields[q->u.multi.nfields] = kiln_xstrndup(spec, n);
    q->u.multi.boosts[q->u.multi.nfields] = boost;
    q->u.multi.nfields++;
    return 0;
}

static kiln_query *kiln__parse_multi(kiln__dsl *d, json_t *body)
{
    const char *qn = "multi_match";
    kiln_query *q = kiln__q_new(KILN_Q_MULTI_MATCH);
    kiln__fuzzy_defaults(&q->u.multi.fuzzy);
    int has_slop = 0, has_cutoff = 0;
    if (!json_is_object(body)) {
        kiln__perr(d, "[%s] query malformed, no start_object after query name", qn);
        goto fail;
    }
    const char *key;
    json_t *p;
    json_object_foreach(body, key, p)
    {
        int handled;
        if (kiln__common(d, q, key, p, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "query")) {
            if (kiln__get_str(d, qn, key, p, &q->u.multi.text)) goto fail;
        } else if (!strcmp(key, "fields")) {
            if (json_is_string(p))
                kiln__add_mm_field(q, json_string_value(p));
            else if (json_is_array(p)) {
                size_t i;
                json_t *e;
                json_array_foreach(p, i, e)
                {
                    if (!json_is_string(e)) {
                        kiln__perr(d, "[%s] query does not support [fields] of this type", qn);
                        goto fail;
                    }
                    kiln__add_mm_field(q, json_string_value(e));
                }
            } else {
                kiln__perr(d, "[%s] query does not support [fields] of this type", qn);
                goto fail;
            }
        } else if (!strcmp(key, "type") && json_is_string(p)) {
            const char *t = json_string_value(p);
            if (!strcmp(t, "best_fields"))
                q->u.multi.type = KILN_MM_BEST_FIELDS;
            else if (!strcmp(t, "most_fields"))
                q->u.multi.type = KILN_MM_MOST_FIELDS;
            else if (!strcmp(t, "phrase"))
                q->u.multi.type = KILN_MM_PHRASE;
            else if (!strcmp(t, "bool_prefix"))
                q->u.multi.type = KILN_MM_BOOL_PREFIX;
            else {
                kiln__perr(d, "[%s] query does not allow type [%s]", qn, t);
                goto fail;
            }
        } else if (!strcmp(key, "operator") && json_is_string(p)) {
            q->u.multi.op = !strcasecmp(json_string_value(p), "and") ? KILN_OP_AND : KILN_OP_OR;
        } else if (!strcmp(key, "minimum_should_match")) {
            if (kiln__parse_msm(d, qn, p, &q->u.multi.msm)) goto fail;
        } else if (!strcmp(key, "tie_breaker")) {
            if (kiln__get_float(d, qn, key, p, &q->u.multi.tie_breaker)) goto fail;
        } else if (!strcmp(key, "slop")) {
            if (kiln__get_int(d, qn, key, p, &q->u.multi.slop)) goto fail;
            has_slop = 1;
        } else if (!strcmp(key, "analyzer")) {
            if (kiln__get_str(d, qn, key, p, &q->u.multi.analyzer)) goto fail;
        } else if (!strcmp(key, "cutoff_frequency")) {
            has_cutoff = 1;
        } else if (kiln__fuzzy_key(d, qn, key, p, &q->u.multi.fuzzy)) {
            if (d->e->err.reason[0]) goto fail; /* a bad fuzziness value */
        } else if (!strcmp(key, "lenient") || !strcmp(key, "zero_terms_query") ||
                   !strcmp(key, "fuzzy_rewrite")) {
        } else {
            kiln__perr(d, "[%s] query does not support [%s]", qn, key);
            goto fail;
        }
    }
    if (!q->u.multi.text) {
        kiln__perr(d, "No text specified for multi_match query");
        d->e->err.code = KILN_E_ILLEGAL_ARGUMENT;
        goto fail;
    }
    if (q->u.multi.type == KILN_MM_BOOL_PREFIX && (has_slop || has_cutoff)) {
        kiln__perr(d, "[%s] not allowed for type [bool_prefix]", has_slop ? "slop" : "cutoff_frequency");
        d->e->err.code = KILN_E_ILLEGAL_ARGUMENT;
        goto fail;
    }
    if (!q->u.multi.nfields) kiln__add_mm_field(q, "*"); /* index.query.default_field */
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

/* fuzzy: {"field": "value"} or {"field": {"value", "fuzziness" (AUTO), "prefix_length",
 * "max_expansions", "transpositions", "rewrite", "boost", "_name"}}. */
static kiln_query *kiln__parse_fuzzy(kiln__dsl *d, json_t *body)
{
    const char *qn = "fuzzy";
    kiln_query *q = kiln__q_new(KILN_Q_FUZZY);
    kiln__fuzzy_defaults(&q->u.fuzzy.fz);
    q->u.fuzzy.fz.set = 1;
    q->u.fuzzy.fz.edits = -1; /* the fuzzy query's default is AUTO */
    json_t *v = NULL;
    int head = kiln__field_head(d, qn, body, q, &q->u.fuzzy.value, &v);
    if (head < 0) goto fail;
    if (head) return q;
    const char *key;
    json_t *p;
    json_object_foreach(v, key, p)
    {
        int handled;
        if (kiln__common(d, q, key, p, &handled)) goto fail;
        if (handled) continue;
        int fk = kiln__fuzzy_key(d, qn, key, p, &q->u.fuzzy.fz);
        if (fk < 0) goto fail;
        if (fk) {
            if (!strcmp(key, "fuzziness") && !q->u.fuzzy.fz.set) q->u.fuzzy.fz.set = 1; /* 0 */
            continue;
        }
        if (!strcmp(key, "value")) {
            free(q->u.fuzzy.value);
            if (!(q->u.fuzzy.value = kiln__text_of(p))) {
                kiln__perr(d, "[%s] unknown token [%s] after [value]", qn,
                           json_is_array(p) ? "START_ARRAY" : "VALUE_NULL");
                goto fail;
            }
        } else if (!strcmp(key, "rewrite") && json_is_string(p)) {
            const char *r = json_string_value(p);
            if (!strncmp(r, "constant_score", 14))
                q->u.fuzzy.constant = 1;
            else if (strncmp(r, "top_terms", 9) && strcmp(r, "scoring_boolean")) {
                kiln__perr(d, "[%s] rewrite [%s] is not supported: use constant_score or a "
                              "top_terms_* method", qn, r);
                d->e->err.code = KILN_E_ILLEGAL_ARGUMENT;
                goto fail;
            }
        } else {
            kiln__perr(d, "[%s] query does not support [%s]", qn, key);
            goto fail;
        }
    }
    if (!q->u.fuzzy.value) {
        kiln__perr(d, "[%s] query malformed, no value specified", qn);
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_term(kiln__dsl *d, json_t *body, kiln_query_kind kind)
{
    const char *qn = kiln_query_kind_name(kind);
    kiln_query *q = kiln__q_new(kind);
    const char *field;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[%s] query malformed, no start_object after query name", qn);
        goto fail;
    }
    if (kiln__single_field(d, qn, body, &field, &v, q)) goto fail;
    q->field = kiln_xstrdup(field);
    json_t *value = v;
    if (json_is_object(v)) {
        value = NULL;
        const char *key;
        json_t *p;
        json_object_foreach(v, key, p)
        {
            int handled;
            if (kiln__common(d, q, key, p, &handled)) goto fail;
            if (handled) continue;
            if (!strcmp(key, "value") || (kind == KILN_Q_WILDCARD && !strcmp(key, "wildcard")))
                value = p;
            else if (!strcmp(key, "case_insensitive")) {
                int ci;
                if (kiln__get_bool(d, qn, key, p, &ci)) goto fail;
                if (kind == KILN_Q_TERM)
                    q->u.term.case_insensitive = ci;
                else
                    q->u.pattern.case_insensitive = ci;
            } else if (!strcmp(key, "rewrite")) {
            } else {
                kiln__perr(d, "[%s] query does not support [%s]", qn, key);
                goto fail;
            }
        }
    }
    if (!value || json_is_null(value) || json_is_array(value) || json_is_object(value)) {
        kiln__perr(d, "[%s] %s", qn,
                   value && json_is_array(value) ? "query does not support array of values"
                                                 : "value cannot be null");
        goto fail;
    }
    if (kind == KILN_Q_TERM) {
        q->u.term.value = json_incref(value);
    } else {
        q->u.pattern.value = kiln__text_of(value);
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_terms(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_TERMS);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[terms] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (json_is_array(v)) {
            if (q->field) {
                kiln__perr(d, "[terms] query does not support multiple fields");
                goto fail;
            }
            q->field = kiln_xstrdup(key);
            q->u.terms.values = json_incref(v);
        } else if (json_is_object(v)) {
            kiln__perr(d, "[terms] query does not support terms lookup yet ([%s])", key);
            goto fail;
        } else {
            kiln__perr(d, "[terms] query does not support [%s]", key);
            goto fail;
        }
    }
    if (!q->field) {
        kiln__perr(d, "[terms] query requires a field with an array of values");
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_range(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_RANGE);
    const char *field;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[range] query malformed, no start_object after query name");
        goto fail;
    }
    if (kiln__single_field(d, "range", body, &field, &v, q)) goto fail;
    q->field = kiln_xstrdup(field);
    if (!json_is_object(v)) {
        kiln__perr(d, "[range] query malformed, no start_object after field name");
        goto fail;
    }
    json_t *from = NULL, *to = NULL;
    int inc_lo = 1, inc_hi = 1;
    const char *key;
    json_t *p;
    json_object_foreach(v, key, p)
    {
        int handled;
        if (kiln__common(d, q, key, p, &handled)) goto fail;
        if (handled) continue;
        json_t *val = json_is_null(p) ? NULL : p;
        if (!strcmp(key, "gt"))
            q->u.range.gt = json_incref(val);
        else if (!strcmp(key, "gte"))
            q->u.range.gte = json_incref(val);
        else if (!strcmp(key, "lt"))
            q->u.range.lt = json_incref(val);
        else if (!strcmp(key, "lte"))
            q->u.range.lte = json_incref(val);
        else if (!strcmp(key, "from"))
            from = val;
        else if (!strcmp(key, "to"))
            to = val;
        else if (!strcmp(key, "include_lower")) {
            if (kiln__get_bool(d, "range", key, p, &inc_lo)) goto fail;
        } else if (!strcmp(key, "include_upper")) {
            if (kiln__get_bool(d, "range", key, p, &inc_hi)) goto fail;
        } else if (!strcmp(key, "format")) {
            if (kiln__get_str(d, "range", key, p, &q->u.range.format)) goto fail;
        } else if (!strcmp(key, "time_zone")) {
            if (kiln__get_str(d, "range", key, p, &q->u.range.time_zone)) goto fail;
        } else if (!strcmp(key, "relation")) {
        } else {
            kiln__perr(d, "[range] query does not support [%s]", key);
            goto fail;
        }
    }
    if (from && !q->u.range.gt && !q->u.range.gte) {
        if (inc_lo)
            q->u.range.gte = json_incref(from);
        else
            q->u.range.gt = json_incref(from);
    }
    if (to && !q->u.range.lt && !q->u.range.lte) {
        if (inc_hi)
            q->u.range.lte = json_incref(to);
        else
            q->u.range.lt = json_incref(to);
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_exists(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_EXISTS);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[exists] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "field") && json_is_string(v))
            q->field = kiln_xstrdup(json_string_value(v));
        else {
            kiln__perr(d, "[exists] query does not support [%s]", key);
            goto fail;
        }
    }
    if (!q->field) {
        kiln__perr(d, "[exists] must be provided with a [field]");
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_ids(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_IDS);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[ids] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "values") && json_is_array(v)) {
            size_t i;
            json_t *e;
            q->u.ids.ids = kiln_xmalloc((json_array_size(v) + 1) * sizeof(char *));
            json_array_foreach(v, i, e)
            {
                char *s = kiln__text_of(e);
                if (!s) {
                    kiln__perr(d, "[ids] failed to parse field [values]");
                    goto fail;
                }
                q->u.ids.ids[q->u.ids.n++] = s;
            }
        } else if (!strcmp(key, "type") || !strcmp(key, "types")) {
        } else {
            kiln__perr(d, "[ids] query does not support [%s]", key);
            goto fail;
        }
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

/* ---- compound queries -------------------------------------------------------------------- */

static kiln_query *kiln__parse(kiln__dsl *d, json_t *v);

static void kiln__wrap(kiln__dsl *d, const char *qn, const char *field)
{
    /* the outermost enclosing element wins, as ES's top-level x_content_parse_exception */
    snprintf(d->e->wrapper, sizeof d->e->wrapper, "[%s] failed to parse field [%s]", qn, field);
}

static int kiln__parse_clauses(kiln__dsl *d, const char *qn, const char *field, json_t *v,
                               kiln_query_list *l)
{
    size_t old = kiln__path_push(d, ".%s", field);
    if (json_is_object(v)) {
        kiln_query *q = kiln__parse(d, v);
        if (!q) goto fail;
        l->v = kiln_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = q;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            size_t o2 = kiln__path_push(d, "[%zu]", i);
            if (!json_is_object(e)) {
                kiln__perr(d, "[%s] query malformed, no start_object after query name", qn);
                goto fail;
            }
            kiln_query *q = kiln__parse(d, e);
            if (!q) goto fail;
            l->v = kiln_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
            l->v[l->n++] = q;
            kiln__path_pop(d, o2);
        }
    } else {
        kiln__perr(d, "[%s] query malformed, no start_object after query name", qn);
        goto fail;
    }
    kiln__path_pop(d, old);
    return 0;
fail:
    kiln__wrap(d, qn, field);
    return -1;
}

static kiln_query *kiln__parse_bool(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_BOOL);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[bool] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        kiln_query_list *l = !strcmp(key, "must")       ? &q->u.boolq.must
                             : !strcmp(key, "filter")   ? &q->u.boolq.filter
                             : !strcmp(key, "should")   ? &q->u.boolq.should
                             : !strcmp(key, "must_not") ? &q->u.boolq.must_not
                             : !strcmp(key, "mustNot")  ? &q->u.boolq.must_not
                                                        : NULL;
        if (l) {
            if (kiln__parse_clauses(d, "bool", key, v, l)) goto fail;
        } else if (!strcmp(key, "minimum_should_match")) {
            if (kiln__parse_msm(d, "bool", v, &q->u.boolq.msm)) goto fail;
        } else if (!strcmp(key, "adjust_pure_negative") || !strcmp(key, "disable_coord")) {
        } else {
            kiln__perr(d, "[bool] query does not support [%s]", key);
            goto fail;
        }
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_one_child(kiln__dsl *d, const char *qn, const char *field,
                                         json_t *v)
{
    kiln_query_list l = {0};
    if (kiln__parse_clauses(d, qn, field, v, &l)) {
        kiln__list_free(&l);
        return NULL;
    }
    if (l.n != 1) {
        kiln__list_free(&l);
        kiln__perr(d, "[%s] %s must be a single query", qn, field);
        return NULL;
    }
    kiln_query *q = l.v[0];
    free(l.v);
    return q;
}

/* ---- UDF queries ---------------------------------------------------------------------------
 * wasm_udf: {"name", "version"?, "params"|"parameters"?, "on_error"?: "fail"|"exclude", "boost"?}
 * script:   {"script": {"lang": "wasm", "id": "name" | "name@1.2.0", "params"?}}  (a filter)
 * script_score: {"query", "script", "min_score"?}; function_score: {"query", "script_score":
 * {"script"}} or one function in "functions", with boost_mode multiply (default), replace, sum. */

static int kiln__udf_on_error(kiln__dsl *d, const char *qn, json_t *v, kiln_query_udf *u)
{
    if (json_is_string(v) && !strcmp(json_string_value(v), "exclude"))
        u->on_error_exclude = 1;
    else if (!json_is_string(v) || strcmp(json_string_value(v), "fail"))
        return kiln__perr(d, "[%s] [on_error] must be \"fail\" or \"exclude\"", qn);
    return 0;
}

static int kiln__udf_params(kiln__dsl *d, const char *qn, json_t *v, kiln_query_udf *u)
{
    if (!json_is_object(v)) return kiln__perr(d, "[%s] [params] must be an object", qn);
    json_decref(u->params);
    u->params = json_incref(v);
    return 0;
}

static kiln_query *kiln__parse_wasm_udf(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_WASM_UDF);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[wasm_udf] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "name") || !strcmp(key, "version")) {
            if (!json_is_string(v)) {
                kiln__perr(d, "[wasm_udf] [%s] must be a string", key);
                goto fail;
            }
            char **dst = key[0] == 'n' ? &q->u.udf.name : &q->u.udf.version;
            free(*dst);
            *dst = kiln_xstrdup(json_string_value(v));
        } else if (!strcmp(key, "params") || !strcmp(key, "parameters")) {
            if (kiln__udf_params(d, "wasm_udf", v, &q->u.udf)) goto fail;
        } else if (!strcmp(key, "on_error")) {
            if (kiln__udf_on_error(d, "wasm_udf", v, &q->u.udf)) goto fail;
        } else {
            kiln__perr(d, "[wasm_udf] query does not support [%s]", key);
            goto fail;
        }
    }
    if (!q->u.udf.name) {
        kiln__perr(d, "[wasm_udf] requires [name]: the registered UDF to call");
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

/* A script object naming a UDF: {"lang": "wasm", "id": "name[@version]", "params": {...}}. */
static int kiln__parse_udf_script(kiln__dsl *d, const char *qn, json_t *script, kiln_query_udf *u)
{
    if (!json_is_object(script))
        return kiln__perr(d, "[%s] [script] must be an object naming a UDF: {\"lang\": \"wasm\", "
                             "\"id\": \"name\"}", qn);
    json_t *lang = json_object_get(script, "lang"), *id = json_object_get(script, "id");
    if (json_object_get(script, "source") || (lang && (!json_is_string(lang) ||
                                                        strcmp(json_string_value(lang), "wasm"))))
        return kiln__perr(d, "[%s] only scripts with \"lang\": \"wasm\" are supported: register "
                             "the logic as a UDF (PUT /_udf/{name}/{version}) and refer to it by "
                             "\"id\"", qn);
    if (!json_is_string(id))
        return kiln__perr(d, "[%s] [script] requires [id]: the name of a registered UDF", qn);
    const char *full = json_string_value(id), *at = strchr(full, '@');
    u->name = at ? kiln_xstrndup(full, (size_t)(at - full)) : kiln_xstrdup(full);
    json_t *ver = json_object_get(script, "version");
    if (at)
        u->version = kiln_xstrdup(at + 1);
    else if (json_is_string(ver))
        u->version = kiln_xstrdup(json_string_value(ver));
    json_t *params = json_object_get(script, "params");
    if (params && kiln__udf_params(d, qn, params, u)) return -1;
    json_t *oe = json_object_get(script, "on_error");
    if (oe && kiln__udf_on_error(d, qn, oe, u)) return -1;
    return 0;
}

static kiln_query *kiln__parse_script_query(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_WASM_UDF);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[script] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "script")) {
            if (kiln__parse_udf_script(d, "script", v, &q->u.udf)) goto fail;
        } else {
            kiln__perr(d, "[script] query does not support [%s]", key);
            goto fail;
        }
    }
    if (!q->u.udf.name) {
        kiln__perr(d, "[script] query requires [script]");
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_script_score(kiln__dsl *d, json_t *body, const char *qn)
{
    kiln_query *q = kiln__q_new(KILN_Q_SCRIPT_SCORE);
    int fs = !strcmp(qn, "function_score");
    q->u.script_score.mode = fs ? KILN_SCORE_MULTIPLY : KILN_SCORE_REPLACE;
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[%s] query malformed, no start_object after query name", qn);
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "query")) {
            if (!(q->u.script_score.query = kiln__parse_one_child(d, qn, key, v))) goto fail;
        } else if (!fs && !strcmp(key, "script")) {
            if (kiln__parse_udf_script(d, qn, v, &q->u.script_score.udf)) goto fail;
        } else if (!strcmp(key, "min_score")) {
            if (kiln__get_float(d, qn, key, v, &q->u.script_score.min_score)) goto fail;
            q->u.script_score.has_min_score = 1;
        } else if (fs && (!strcmp(key, "script_score") || !strcmp(key, "functions"))) {
            json_t *ss = v;
            if (!strcmp(key, "functions")) {
                if (!json_is_array(v) || json_array_size(v) != 1 ||
                    !json_object_get(json_array_get(v, 0), "script_score")) {
                    kiln__perr(d, "[function_score] supports one function, a [script_score] naming "
                                  "a UDF");
                    goto fail;
                }
                ss = json_object_get(json_array_get(v, 0), "script_score");
            }
            if (kiln__parse_udf_script(d, qn, json_object_get(ss, "script"),
                                       &q->u.script_score.udf))
                goto fail;
        } else if (fs && !strcmp(key, "boost_mode")) {
            const char *m = json_is_string(v) ? json_string_value(v) : "";
            if (!strcmp(m, "multiply"))
                q->u.script_score.mode = KILN_SCORE_MULTIPLY;
            else if (!strcmp(m, "replace"))
                q->u.script_score.mode = KILN_SCORE_REPLACE;
            else if (!strcmp(m, "sum"))
                q->u.script_score.mode = KILN_SCORE_SUM;
            else {
                kiln__perr(d, "[function_score] illegal boost_mode [%s]", m);
                goto fail;
            }
        } else {
            kiln__perr(d, "[%s] query does not support [%s]", qn, key);
            goto fail;
        }
    }
    if (!q->u.script_score.udf.name) {
        kiln__perr(d, "[%s] requires a [script] naming a UDF", qn);
        goto fail;
    }
    if (!q->u.script_score.query) q->u.script_score.query = kiln__q_new(KILN_Q_MATCH_ALL);
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

int kiln_query_walk(kiln_query *q, int (*fn)(kiln_query *q, void *ctx), void *ctx)
{
    if (!q) return 0;
    int rc = fn(q, ctx);
    if (rc) return rc;
    kiln_query_list lists[4] = {{0}};
    kiln_query *kids[2] = {NULL, NULL};
    switch (q->kind) {
    case KILN_Q_BOOL:
        lists[0] = q->u.boolq.must, lists[1] = q->u.boolq.filter;
        lists[2] = q->u.boolq.should, lists[3] = q->u.boolq.must_not;
        break;
    case KILN_Q_DIS_MAX: lists[0] = q->u.dismax.queries; break;
    case KILN_Q_CONSTANT_SCORE: kids[0] = q->u.constant.filter; break;
    case KILN_Q_BOOSTING:
        kids[0] = q->u.boosting.positive, kids[1] = q->u.boosting.negative;
        break;
    case KILN_Q_SCRIPT_SCORE: kids[0] = q->u.script_score.query; break;
    default: break;
    }
    for (int l = 0; l < 4; l++)
        for (size_t i = 0; i < lists[l].n; i++)
            if ((rc = kiln_query_walk(lists[l].v[i], fn, ctx))) return rc;
    for (int k = 0; k < 2; k++)
        if ((rc = kiln_query_walk(kids[k], fn, ctx))) return rc;
    return 0;
}

static kiln_query *kiln__parse_constant(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_CONSTANT_SCORE);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[constant_score] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "filter")) {
            if (!(q->u.constant.filter = kiln__parse_one_child(d, "constant_score", key, v)))
                goto fail;
        } else {
            kiln__perr(d, "[constant_score] query does not support [%s]", key);
            goto fail;
        }
    }
    if (!q->u.constant.filter) {
        kiln__perr(d, "[constant_score] requires a 'filter' element");
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_dismax(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_DIS_MAX);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[dis_max] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "queries")) {
            if (kiln__parse_clauses(d, "dis_max", key, v, &q->u.dismax.queries)) goto fail;
        } else if (!strcmp(key, "tie_breaker")) {
            if (kiln__get_float(d, "dis_max", key, v, &q->u.dismax.tie_breaker)) goto fail;
        } else {
            kiln__perr(d, "[dis_max] query does not support [%s]", key);
            goto fail;
        }
    }
    if (!q->u.dismax.queries.n) {
        kiln__perr(d, "[dis_max] requires 'queries' field with at least one clause");
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_boosting(kiln__dsl *d, json_t *body)
{
    kiln_query *q = kiln__q_new(KILN_Q_BOOSTING);
    int has_nb = 0;
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[boosting] query malformed, no start_object after query name");
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (handled) continue;
        if (!strcmp(key, "positive")) {
            if (!(q->u.boosting.positive = kiln__parse_one_child(d, "boosting", key, v)))
                goto fail;
        } else if (!strcmp(key, "negative")) {
            if (!(q->u.boosting.negative = kiln__parse_one_child(d, "boosting", key, v)))
                goto fail;
        } else if (!strcmp(key, "negative_boost")) {
            if (kiln__get_float(d, "boosting", key, v, &q->u.boosting.negative_boost)) goto fail;
            has_nb = 1;
        } else {
            kiln__perr(d, "[boosting] query does not support [%s]", key);
            goto fail;
        }
    }
    if (!q->u.boosting.positive) {
        kiln__perr(d, "[boosting] query requires 'positive' query to be set'");
        goto fail;
    }
    if (!q->u.boosting.negative) {
        kiln__perr(d, "[boosting] query requires 'negative' query to be set'");
        goto fail;
    }
    if (!has_nb || q->u.boosting.negative_boost < 0) {
        kiln__perr(d, "[boosting] query requires 'negative_boost' to be set to be a positive value'");
        goto fail;
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse_simple(kiln__dsl *d, json_t *body, kiln_query_kind kind)
{
    kiln_query *q = kiln__q_new(kind);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        kiln__perr(d, "[%s] query malformed, no start_object after query name",
                   kiln_query_kind_name(kind));
        goto fail;
    }
    json_object_foreach(body, key, v)
    {
        int handled;
        if (kiln__common(d, q, key, v, &handled)) goto fail;
        if (!handled) {
            kiln__perr(d, "[%s] query does not support [%s]", kiln_query_kind_name(kind), key);
            goto fail;
        }
    }
    return q;
fail:
    kiln_query_free(q);
    return NULL;
}

static kiln_query *kiln__parse(kiln__dsl *d, json_t *v)
{
    if (!json_is_object(v)) {
        kiln__perr(d, "query malformed, must start with start_object");
        return NULL;
    }
    size_t n = json_object_size(v);
    if (n == 0) {
        kiln__perr(d, "query malformed, empty clause found");
        return NULL;
    }
    json_t *body;
    const char *name;
    void *it = json_object_iter(v);
    name = json_object_iter_key(it);
    body = json_object_iter_value(it);
    if (n > 1) {
        const char *second = json_object_iter_key(json_object_iter_next(v, it));
        kiln__perr(d, "[%s] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ([%s])",
                   name, second);
        return NULL;
    }
    if (++d->depth > KILN__MAX_DEPTH) {
        kiln__perr(d, "query nested too deeply (more than %d levels)", KILN__MAX_DEPTH);
        d->depth--;
        return NULL;
    }
    size_t old = kiln__path_push(d, ".%s", name);
    kiln_query *q = NULL;
    if (!strcmp(name, "match_all"))
        q = kiln__parse_simple(d, body, KILN_Q_MATCH_ALL);
    else if (!strcmp(name, "match_none"))
        q = kiln__parse_simple(d, body, KILN_Q_MATCH_NONE);
    else if (!strcmp(name, "match"))
        q = kiln__parse_match(d, body, KILN_Q_MATCH);
    else if (!strcmp(name, "match_phrase"))
        q = kiln__parse_match(d, body, KILN_Q_MATCH_PHRASE);
    else if (!strcmp(name, "match_bool_prefix"))
        q = kiln__parse_match(d, body, KILN_Q_MATCH_BOOL_PREFIX);
    else if (!strcmp(name, "fuzzy"))
        q = kiln__parse_fuzzy(d, body);
    else if (!strcmp(name, "multi_match"))
        q = kiln__parse_multi(d, body);
    else if (!strcmp(name, "term"))
        q = kiln__parse_term(d, body, KILN_Q_TERM);
    else if (!strcmp(name, "terms"))
        q = kiln__parse_terms(d, body);
    else if (!strcmp(name, "range"))
        q = kiln__parse_range(d, body);
    else if (!strcmp(name, "exists"))
        q = kiln__parse_exists(d, body);
    else if (!strcmp(name, "prefix"))
        q = kiln__parse_term(d, body, KILN_Q_PREFIX);
    else if (!strcmp(name, "wildcard"))
        q = kiln__parse_term(d, body, KILN_Q_WILDCARD);
    else if (!strcmp(name, "ids"))
        q = kiln__parse_ids(d, body);
    else if (!strcmp(name, "bool"))
        q = kiln__parse_bool(d, body);
    else if (!strcmp(name, "constant_score"))
        q = kiln__parse_constant(d, body);
    else if (!strcmp(name, "dis_max"))
        q = kiln__parse_dismax(d, body);
    else if (!strcmp(name, "boosting"))
        q = kiln__parse_boosting(d, body);
    else if (!strcmp(name, "wasm_udf"))
        q = kiln__parse_wasm_udf(d, body);
    else if (!strcmp(name, "script"))
        q = kiln__parse_script_query(d, body);
    else if (!strcmp(name, "script_score"))
        q = kiln__parse_script_score(d, body, "script_score");
    else if (!strcmp(name, "function_score"))
        q = kiln__parse_script_score(d, body, "function_score");
    else
        kiln__perr(d, "unknown query [%s]", name);
    d->depth--;
    if (q) kiln__path_pop(d, old);
    return q;
}

kiln_query *kiln_dsl_parse(json_t *q, const char *path_prefix, kiln_dsl_error *derr)
{
    kiln__dsl d = {.e = derr};
    memset(derr, 0, sizeof *derr);
    snprintf(d.path, sizeof d.path, "%s", path_prefix ? path_prefix : "");
    d.plen = strlen(d.path);
    return kiln__parse(&d, q);
}
