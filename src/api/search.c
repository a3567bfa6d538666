/* Search endpoints: GET/POST /_search, /{index}/_search, /_count, /{index}/_count.
 *
 * Per request: resolve the indices (comma lists, wildcards), parse the query once, build a plan
 * per index (mappings differ), gather BM25 statistics over every shard of the index (dfs, so
 * scores do not depend on the shard count), run the query phase per shard over a point-in-time
 * searcher, merge the per-shard top-k, then fetch _id and _source of the page. */
#include "api/api_int.h"
#include "core/buf.h"
#include "dsl/query.h"
#include "search/search.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KILN__TRACK_TOTAL_HITS 10000 /* ES default: exact totals up to this many */

typedef struct kiln__target { /* one index of the request */
    kiln_index *idx;
    kiln_mapping *m;
    kiln_plan *plan;
    kiln_search_stats *st;
    kiln_shard_searcher **sr; /* per shard */
    uint32_t first_ord;       /* global ordinal of shard 0 */
} kiln__target;

typedef struct kiln__sreq {
    json_t *body;
    json_t *query_json; /* borrowed or owned (q=) */
    json_t *owned_query;
    int64_t from, size;
    int64_t track_total_hits; /* -1 exact, 0 off, n */
    int total_as_int;
    int track_scores;
    int version, seq_no;
    int has_min_score;
    float min_score;
    int64_t timeout_ms;
    json_t *source; /* _source spec (borrowed from body or owned) */
    json_t *owned_source;
    kiln_sort_key keys[16];
    int unmapped_ok[16]; /* "unmapped_type" given: an unmapped field sorts as missing */
    kiln_sort_value missing[16];
    size_t nkeys;
    const char *key_format[16]; /* a sort key's "format" (borrowed from the body) */
    kiln_sort_value after[16];
    int has_after;
    char *after_strs[16];
    int stored_fields_set, stored_source; /* stored_fields given; it names _source */
    json_t *dv_fields; /* docvalue_fields: [{"field", "format"}] (owned) */
    int udf_log;       /* "udf_log": true or "profile": true: UDF log lines in the response */
} kiln__sreq;

static int64_t kiln__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "10ms", "2s", "1m", "500" (ms). -1 when malformed. */
static int64_t kiln__parse_time(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    if (!*end || !strcmp(end, "ms")) return (int64_t)v;
    if (!strcmp(end, "s")) return (int64_t)(v * 1000);
    if (!strcmp(end, "m")) return (int64_t)(v * 60000);
    if (!strcmp(end, "h")) return (int64_t)(v * 3600000);
    if (!strcmp(end, "micros")) return (int64_t)(v / 1000);
    if (!strcmp(end, "nanos")) return (int64_t)(v / 1e6);
    return -1;
}

/* ---- sort ---------------------------------------------------------------------------------- */

static int kiln__sort_value_json(json_t *v, kiln_sort_value *out, char **own)
{
    memset(out, 0, sizeof *out);
    if (json_is_integer(v)) {
        out->type = KILN_SV_I64;
        out->i = json_integer_value(v);
    } else if (json_is_real(v)) {
        out->type = KILN_SV_F64;
        out->d = json_real_value(v);
    } else if (json_is_string(v)) {
        *own = kiln_xstrdup(json_string_value(v));
        out->type = KILN_SV_STR;
        out->s = *own;
        out->len = json_string_length(v);
    } else if (json_is_boolean(v)) {
        out->type = KILN_SV_I64;
        out->i = json_is_true(v);
    } else if (!json_is_null(v))
        return -1;
    return 0;
}

static int kiln__add_key(kiln__sreq *r, const char *field, json_t *opts, kiln_error *err)
{
    if (r->nkeys == sizeof r->keys / sizeof *r->keys)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "too many sort keys");
    kiln_sort_key *k = &r->keys[r->nkeys];
    memset(k, 0, sizeof *k);
    if (!strcmp(field, "_score")) {
        k->by = KILN_SORT_SCORE;
        k->desc = 1;
    } else if (!strcmp(field, "_doc")) {
        k->by = KILN_SORT_DOC;
    } else {
        k->by = KILN_SORT_FIELD;
        k->field = field;
    }
    if (json_is_string(opts)) {
        const char *o = json_string_value(opts);
        if (strcmp(o, "asc") && strcmp(o, "desc"))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Unknown SortOrder [%s]", o);
        k->desc = !strcmp(o, "desc");
    } else if (json_is_object(opts)) {
        const char *key;
        json_t *v;
        json_object_foreach(opts, key, v)
        {
            if (!strcmp(key, "order") && json_is_string(v)) {
                const char *o = json_string_value(v);
                if (strcmp(o, "asc") && strcmp(o, "desc"))
                    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Unknown SortOrder [%s]", o);
                k->desc = !strcmp(o, "desc");
            } else if (!strcmp(key, "missing")) {
                if (json_is_string(v) && !strcmp(json_string_value(v), "_first"))
                    k->missing_first = 1;
                else if (json_is_string(v) && !strcmp(json_string_value(v), "_last"))
                    k->missing_first = 0;
                else {
                    char *own = NULL;
                    if (kiln__sort_value_json(v, &r->missing[r->nkeys], &own))
                        return kiln_fail(err, KILN_E_PARSING, "[sort] bad value for [missing]");
                    free(own); /* strings as missing values: compared as missing */
                    if (r->missing[r->nkeys].type != KILN_SV_STR)
                        k->missing_value = &r->missing[r->nkeys];
                }
            } else if (!strcmp(key, "mode") && json_is_string(v)) {
                const char *m = json_string_value(v);
                k->mode = !strcmp(m, "min")      ? KILN_SMODE_MIN
                          : !strcmp(m, "max")    ? KILN_SMODE_MAX
                          : !strcmp(m, "sum")    ? KILN_SMODE_SUM
                          : !strcmp(m, "avg")    ? KILN_SMODE_AVG
                          : !strcmp(m, "median") ? KILN_SMODE_MEDIAN
                                                 : KILN_SMODE_DEFAULT;
            } else if (!strcmp(key, "unmapped_type")) {
                r->unmapped_ok[r->nkeys] = 1;
            } else if (!strcmp(key, "format") && json_is_string(v)) {
                r->key_format[r->nkeys] = json_string_value(v);
            } else if (!strcmp(key, "numeric_type") || !strcmp(key, "format")) {
            } else
                return kiln_fail(err, KILN_E_PARSING, "[field_sort] unknown field [%s]", key);
        }
    } else if (opts)
        return kiln_fail(err, KILN_E_PARSING, "[sort] malformed sort for [%s]", field);
    r->nkeys++;
    return 0;
}

/* search_after values given as strings for numeric and date fields ("2019-10-21 08:30:04.828"
 * in the sort's or the field's date format, "42") become the numbers the field sorts by. */
static int kiln__after_convert(kiln__sreq *r, const kiln_mapping *m, kiln_error *err)
{
    for (size_t k = 0; k < r->nkeys && k + 1 < (size_t)r->has_after; k++) {
        kiln_sort_value *a = &r->after[k];
        const kiln_field *f =
            r->keys[k].by == KILN_SORT_FIELD ? kiln_mapping_field(m, r->keys[k].field) : NULL;
        if (a->type != KILN_SV_STR || !f) continue;
        if (f->type == KILN_FT_DATE) {
            const char *fmt = r->key_format[k];
            json_t *ff = f->def ? json_object_get(f->def, "format") : NULL;
            if (!fmt && json_is_string(ff)) fmt = json_string_value(ff);
            int64_t ms;
            if (fmt ? kiln_datemath_parse(a->s, fmt, 0, 0, &ms, err)
                    : kiln_date_parse(a->s, a->len, &ms))
                return kiln_fail(err, KILN_E_PARSE,
                                 "failed to parse date field [%s] with format [%s]", a->s,
                                 fmt ? fmt : "strict_date_optional_time||epoch_millis");
            a->type = KILN_SV_I64;
            a->i = ms;
        } else if (kiln_field_type_is_numeric(f->type)) {
            char *end;
            double d = strtod(a->s, &end);
            if (end == a->s || *end)
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                 "failed to parse search_after value [%s] for field [%s]", a->s,
                                 r->keys[k].field);
            if (f->type == KILN_FT_DOUBLE || f->type == KILN_FT_FLOAT) {
                a->type = KILN_SV_F64;
                a->d = d;
            } else {
                a->type = KILN_SV_I64;
                a->i = strtoll(a->s, NULL, 10);
            }
        }
    }
    return 0;
}

static int kiln__parse_sort(kiln__sreq *r, json_t *s, kiln_error *err)
{
    if (json_is_string(s)) return kiln__add_key(r, json_string_value(s), NULL, err);
    if (json_is_object(s)) {
        const char *key;
        json_t *v;
        json_object_foreach(s, key, v)
        {
            if (kiln__add_key(r, key, v, err)) return -1;
        }
        return 0;
    }
    if (json_is_array(s)) {
        size_t i;
        json_t *e;
        json_array_foreach(s, i, e)
        {
            if (kiln__parse_sort(r, e, err)) return -1;
        }
        return 0;
    }
    return kiln_fail(err, KILN_E_PARSING, "[sort] malformed sort");
}

/* "price:desc,name" from the query string; the strings live in the request. */
static int kiln__parse_sort_param(kiln__sreq *r, json_t *holder, const char *s, kiln_error *err)
{
    json_t *arr = json_array();
    json_object_set_new(holder, "sort", arr);
    char *copy = kiln_xstrdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (colon) {
            *colon = 0;
            json_array_append_new(arr, json_pack("{s:s}", tok, colon + 1));
        } else
            json_array_append_new(arr, json_string(tok));
    }
    free(copy);
    return kiln__parse_sort(r, arr, err);
}

/* ---- _source filtering -------------------------------------------------------------------- */

static int kiln__wild(const char *p, const char *s)
{
    if (!*p) return !*s;
    if (*p == '*') return kiln__wild(p + 1, s) || (*s && kiln__wild(p, s + 1));
    return *s == *p && kiln__wild(p + 1, s + 1);
}

/* Does pattern list l name path (or an ancestor of it)? With descend, also "a pattern lies
 * below path" (the object must be kept to reach it). */
static int kiln__path_match(json_t *l, const char *path, int descend)
{
    size_t i;
    json_t *e;
    size_t plen = strlen(path);
    json_array_foreach(l, i, e)
    {
        const char *p = json_string_value(e);
        if (!p) continue;
        if (kiln__wild(p, path)) return 1;
        /* an ancestor pattern: "user" includes "user.name" */
        size_t n = strlen(p);
        if (n < plen && path[n] == '.' && !strncmp(p, path, n)) return 1;
        char pre[512];
        if (n < plen && n + 2 < sizeof pre) {
            snprintf(pre, sizeof pre, "%s.*", p);
            if (kiln__wild(pre, path)) return 1;
        }
        if (descend && n > plen && p[plen] == '.' && !strncmp(p, path, plen)) return 1;
        if (descend && strchr(p, '*')) return 1;
    }
    return 0;
}

static json_t *kiln__filter_obj(json_t *obj, const char *prefix, json_t *inc, json_t *exc)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (exc && json_array_size(exc) && kiln__path_match(exc, path, 0)) continue;
        int full = !inc || !json_array_size(inc) || kiln__path_match(inc, path, 0);
        if (json_is_object(v)) {
            if (!full && !kiln__path_match(inc, path, 1)) continue;
            json_t *sub = kiln__filter_obj(v, path, full ? NULL : inc, exc);
            if (json_object_size(sub) || full)
                json_object_set_new(out, key, sub);
            else
                json_decref(sub);
        } else if (json_is_array(v) && (full || kiln__path_match(inc, path, 1))) {
            json_t *arr = json_array();
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (json_is_object(e)) {
                    json_t *sub = kiln__filter_obj(e, path, full ? NULL : inc, exc);
                    if (json_object_size(sub) || full)
                        json_array_append_new(arr, sub);
                    else
                        json_decref(sub);
                } else if (full)
                    json_array_append(arr, e);
            }
            if (full || json_array_size(arr))
                json_object_set_new(out, key, arr);
            else
                json_decref(arr);
        } else if (full)
            json_object_set(out, key, v);
    }
    return out;
}

/* 1: whole source, 0: none, 2: filtered (inc/exc filled, borrowed). -1 malformed. */
static int kiln__source_mode(json_t *spec, json_t **inc, json_t **exc, json_t **owned)
{
    *inc = *exc = *owned = NULL;
    if (!spec || json_is_true(spec)) return 1;
    if (json_is_false(spec)) return 0;
    if (json_is_string(spec)) {
        *owned = json_pack("[s]", json_string_value(spec));
        *inc = *owned;
        return 2;
    }
    if (json_is_array(spec)) {
        *inc = spec;
        return 2;
    }
    if (json_is_object(spec)) {
        json_t *i = json_object_get(spec, "includes");
        if (!i) i = json_object_get(spec, "include");
        json_t *e = json_object_get(spec, "excludes");
        if (!e) e = json_object_get(spec, "exclude");
        /* owned: {"i": [...], "e": [...]} holding string forms turned into arrays */
        *owned = json_object();
        if (json_is_string(i)) {
            json_object_set_new(*owned, "i", json_pack("[s]", json_string_value(i)));
            i = json_object_get(*owned, "i");
        }
        if (json_is_string(e)) {
            json_object_set_new(*owned, "e", json_pack("[s]", json_string_value(e)));
            e = json_object_get(*owned, "e");
        }
        *inc = json_is_array(i) ? i : NULL;
        *exc = json_is_array(e) ? e : NULL;
        return 2;
    }
    return -1;
}

/* ---- request parsing ----------------------------------------------------------------------- */

static int kiln__int_of(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) return *out = json_integer_value(v), 0;
    if (json_is_string(v)) {
        char *end;
        long long x = strtoll(json_string_value(v), &end, 10);
        if (*json_string_value(v) && !*end) return *out = x, 0;
    }
    return -1;
}

static int kiln__parse_body(kiln__sreq *r, int count, kiln_error *err)
{
    json_t *b = r->body;
    if (!b) return 0;
    if (!json_is_object(b)) return kiln_fail(err, KILN_E_PARSING, "request body must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        if (!strcmp(key, "query")) {
            r->query_json = v;
        } else if (count) {
            if (strcmp(key, "min_score") && strcmp(key, "terminate_after"))
                return kiln_fail(err, KILN_E_PARSING, "request does not support [%s]", key);
        } else if (!strcmp(key, "from") || !strcmp(key, "size")) {
            int64_t x;
            if (kiln__int_of(v, &x))
                return kiln_fail(err, KILN_E_PARSING, "[%s] failed to parse field [%s]", "search", key);
            if (!strcmp(key, "from"))
                r->from = x;
            else
                r->size = x;
        } else if (!strcmp(key, "sort")) {
            if (kiln__parse_sort(r, v, err)) return -1;
        } else if (!strcmp(key, "_source")) {
            r->source = v;
        } else if (!strcmp(key, "track_total_hits")) {
            if (json_is_boolean(v))
                r->track_total_hits = json_is_true(v) ? -1 : 0;
            else if (json_is_integer(v)) {
                r->track_total_hits = json_integer_value(v);
                if (r->track_total_hits < -1)
                    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                     "[track_total_hits] parameter must be positive or equals to -1, got %" PRId64,
                                     r->track_total_hits);
                if (r->track_total_hits == -1) r->track_total_hits = -1;
            } else
                return kiln_fail(err, KILN_E_PARSING, "[search] failed to parse field [track_total_hits]");
        } else if (!strcmp(key, "search_after")) {
            if (!json_is_array(v))
                return kiln_fail(err, KILN_E_PARSING, "[search_after] must be an array");
            size_t i;
            json_t *e;
            if (json_array_size(v) > 16)
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "too many search_after values");
            json_array_foreach(v, i, e)
            {
                if (kiln__sort_value_json(e, &r->after[i], &r->after_strs[i]))
                    return kiln_fail(err, KILN_E_PARSING, "[search_after] values must be scalars");
            }
            r->has_after = (int)json_array_size(v) + 1;
        } else if (!strcmp(key, "timeout")) {
            if (!json_is_string(v) || (r->timeout_ms = kiln__parse_time(json_string_value(v))) < 0)
                return kiln_fail(err, KILN_E_PARSE, "failed to parse setting [timeout]");
        } else if (!strcmp(key, "track_scores")) {
            r->track_scores = json_is_true(v);
        } else if (!strcmp(key, "version")) {
            r->version = json_is_true(v);
        } else if (!strcmp(key, "seq_no_primary_term")) {
            r->seq_no = json_is_true(v);
        } else if (!strcmp(key, "min_score")) {
            if (!json_is_number(v))
                return kiln_fail(err, KILN_E_PARSING, "[search] failed to parse field [min_score]");
            r->has_min_score = 1;
            r->min_score = (float)json_number_value(v);
        } else if (!strcmp(key, "aggs") || !strcmp(key, "aggregations")) {
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "aggregations are not supported yet");
        } else if (!strcmp(key, "stored_fields")) {
            r->stored_fields_set = 1;
            size_t i;
            json_t *e;
            if (json_is_string(v)) r->stored_source = !strcmp(json_string_value(v), "_source");
            json_array_foreach(v, i, e)
            {
                if (json_is_string(e) && !strcmp(json_string_value(e), "_source"))
                    r->stored_source = 1;
            }
        } else if (!strcmp(key, "docvalue_fields")) {
            if (!json_is_array(v))
                return kiln_fail(err, KILN_E_PARSING, "[docvalue_fields] must be an array");
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (json_is_string(e))
                    json_array_append_new(r->dv_fields, json_pack("{s:O}", "field", e));
                else if (json_is_object(e) && json_is_string(json_object_get(e, "field")))
                    json_array_append(r->dv_fields, e);
                else
                    return kiln_fail(err, KILN_E_PARSING, "[docvalue_fields] bad entry");
            }
        } else if (!strcmp(key, "udf_log") || !strcmp(key, "profile")) {
            if (!json_is_boolean(v))
                return kiln_fail(err, KILN_E_PARSING, "[%s] must be true or false", key);
            r->udf_log |= json_is_true(v);
        } else if (!strcmp(key, "explain") || !strcmp(key, "highlight") ||
                   !strcmp(key, "fields") ||
                   !strcmp(key, "terminate_after") || !strcmp(key, "indices_boost") ||
                   !strcmp(key, "stats") || !strcmp(key, "ext")) {
            /* accepted, not honoured yet */
        } else {
            const char *t = json_is_object(v)   ? "START_OBJECT"
                            : json_is_array(v)  ? "START_ARRAY"
                            : json_is_string(v) ? "VALUE_STRING"
                            : json_is_boolean(v) ? "VALUE_BOOLEAN"
                            : json_is_null(v)   ? "VALUE_NULL"
                                                : "VALUE_NUMBER";
            return kiln_fail(err, KILN_E_PARSING, "Unknown key for a %s in [%s].", t, key);
        }
    }
    return 0;
}

/* q=... (a small subset of the Lucene syntax): terms "f:v" match field f, bare terms match
 * every field; clauses are OR'ed (default_operator OR), AND'ed with default_operator=AND. */
json_t *kiln__q_param(const char *q, const char *df, int and_op)
{
    json_t *clauses = json_array();
    char *copy = kiln_xstrdup(q), *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (!strcmp(tok, "AND") || !strcmp(tok, "OR")) continue;
        char *colon = strchr(tok, ':');
        if (!strcmp(tok, "*") || !strcmp(tok, "*:*")) {
            json_array_append_new(clauses, json_pack("{s:{}}", "match_all"));
        } else if (colon && colon != tok) {
            *colon = 0;
            const char *val = colon + 1;
            size_t vl = strlen(val);
            if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"')
                json_array_append_new(clauses, json_pack("{s:{s:s#}}", "match_phrase", tok, val + 1,
                                                         (int)(vl - 2)));
            else if (vl && val[vl - 1] == '*')
                json_array_append_new(clauses, json_pack("{s:{s:s#}}", "prefix", tok, val, (int)(vl - 1)));
            else
                json_array_append_new(clauses, json_pack("{s:{s:s}}", "match", tok, val));
        } else if (df) {
            json_array_append_new(clauses, json_pack("{s:{s:s}}", "match", df, tok));
        } else {
            json_array_append_new(clauses,
                                  json_pack("{s:{s:s,s:[s]}}", "multi_match", "query", tok, "fields", "*"));
        }
    }
    free(copy);
    return json_pack("{s:{s:o}}", "bool", and_op ? "must" : "should", clauses);
}

/* ---- shards in parallel -------------------------------------------------------------------
 * Every shard of every target index is one task on the node's worker pool (the request thread
 * runs tasks too): first the searchers are acquired (which may refresh), then, once the BM25
 * statistics of each index are summed, the query phase. Each task writes only its own slots;
 * a UDF session belongs to the execution, hence to the thread that runs the task. */

typedef struct kiln__shard_task {
    kiln__target *t;
    unsigned shard;   /* within t */
    uint32_t ord;     /* global ordinal: result slot, hit.shard */
    int64_t refresh_ms; /* search-driven refresh when the background one is late; -1 never */
    int rc;
    kiln_error err;
} kiln__shard_task;

typedef struct kiln__phase {
    kiln__shard_task *tasks;
    const kiln_search_opts *o;
    kiln_search_result *per; /* by ord */
} kiln__phase;

static void kiln__acquire_task(void *ctx, size_t i)
{
    kiln__phase *ph = ctx;
    kiln__shard_task *k = &ph->tasks[i];
    k->t->sr[k->shard] = kiln_shard_searcher_acquire(k->t->idx->shards[k->shard], k->refresh_ms);
}

static void kiln__execute_task(void *ctx, size_t i)
{
    kiln__phase *ph = ctx;
    kiln__shard_task *k = &ph->tasks[i];
    kiln_shard_searcher *sr = k->t->sr[k->shard];
    if (!sr) return;
    kiln_search_opts o = *ph->o;
    o.shard = k->ord;
    o.id_ctx = k->t->idx->shards[k->shard];
    k->rc = kiln_search_execute(k->t->plan, k->t->st, sr->reader, sr->live, &o, &ph->per[k->ord],
                                &k->err);
}

/* ---- errors -------------------------------------------------------------------------------- */

/* ---- the request --------------------------------------------------------------------------- */

static int kiln__id_lookup(void *ctx, const char *id, uint32_t *docnum)
{
    return kiln_shard_docnum(ctx, id, strlen(id), docnum);
}

static void kiln__float_json(kiln_buf *b, float s);

static void kiln__sv_json(kiln_buf *b, const kiln_sort_key *k, const kiln_sort_value *v,
                          const kiln_mapping *m)
{
    switch (v->type) {
    case KILN_SV_I64:
        kiln_buf_printf(b, "%" PRId64, v->i);
        return;
    case KILN_SV_F64:
        if (k->by == KILN_SORT_SCORE)
            kiln__float_json(b, (float)v->d);
        else if (isfinite(v->d))
            kiln_buf_printf(b, "%.17g", v->d);
        else
            kiln_buf_puts(b, "null");
        return;
    case KILN_SV_STR:
        kiln_buf_json_str(b, v->s, v->len);
        return;
    default: {
        /* missing numeric values sort as Long.MAX_VALUE / MIN_VALUE in ES responses, keyword
         * ones as null */
        const kiln_field *f = k->field ? kiln_mapping_field(m, k->field) : NULL;
        if (!f || f->type == KILN_FT_KEYWORD || f->type == KILN_FT_TEXT) {
            kiln_buf_puts(b, "null");
            return;
        }
        int high = k->missing_first ? k->desc : !k->desc;
        kiln_buf_printf(b, "%s", high ? "9223372036854775807" : "-9223372036854775808");
        return;
    }
    }
}

/* The shortest decimal that reads back as the same float, as Java's Float.toString. */
static void kiln__float_json(kiln_buf *b, float s)
{
    char tmp[32];
    for (int p = 6; p <= 9; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, (double)s);
        if (strtof(tmp, NULL) == s) break;
    }
    kiln_buf_puts(b, tmp);
    if (!strpbrk(tmp, ".en")) kiln_buf_puts(b, ".0");
}

static void kiln__score_json(kiln_buf *b, float s)
{
    if (isnan(s))
        kiln_buf_puts(b, "null");
    else
        kiln__float_json(b, s);
}

/* ",\"fields\":{...}" from doc values (docvalue_fields), as ES formats them. */
static void kiln__docvalue_fields(kiln_buf *b, kiln_shard_searcher *sr, const kiln_mapping *m,
                                  uint32_t docnum, json_t *specs)
{
    uint32_t local;
    const kiln_segment *seg = sr ? kiln_reader_find(sr->reader, docnum, &local) : NULL;
    if (!seg) return;
    int first = 1;
    size_t i;
    json_t *spec;
    json_array_foreach(specs, i, spec)
    {
        const char *field = json_string_value(json_object_get(spec, "field"));
        const char *fmt = json_string_value(json_object_get(spec, "format"));
        const kiln_field *mf = kiln_mapping_field(m, field);
        kiln_dv dv;
        if (!mf || mf->type == KILN_FT_TEXT || kiln_dv_get(seg, field, &dv)) continue;
        uint32_t n = kiln_dv_count(&dv, local);
        if (!n) continue;
        kiln_buf_puts(b, first ? ",\"fields\":{" : ",");
        first = 0;
        kiln_buf_json_cstr(b, field);
        kiln_buf_puts(b, ":[");
        int decimals = -1; /* "#.00": fixed decimals, as text */
        if (fmt && fmt[0] == '#' && fmt[1] == '.') decimals = (int)strspn(fmt + 2, "0");
        for (uint32_t k = 0; k < n; k++) {
            if (k) kiln_buf_putc(b, ',');
            if (dv.kind == KILN_DV_ORD) {
                size_t len;
                const char *s = kiln_dv_str(&dv, local, k, &len);
                kiln_buf_json_str(b, s ? s : "", len);
            } else if (mf->type == KILN_FT_BOOLEAN) {
                kiln_buf_puts(b, kiln_dv_i64(&dv, local, k) ? "true" : "false");
            } else if (mf->type == KILN_FT_DATE) {
                int64_t ms = kiln_dv_i64(&dv, local, k);
                time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
                struct tm tm;
                gmtime_r(&secs, &tm);
                kiln_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                (int)(ms - (int64_t)secs * 1000));
            } else {
                double d = dv.kind == KILN_DV_F64 ? kiln_dv_f64(&dv, local, k)
                                                  : (double)kiln_dv_i64(&dv, local, k);
                if (decimals >= 0)
                    kiln_buf_printf(b, "\"%.*f\"", decimals, d);
                else if (dv.kind == KILN_DV_I64)
                    kiln_buf_printf(b, "%" PRId64, kiln_dv_i64(&dv, local, k));
                else if (mf->type == KILN_FT_FLOAT)
                    kiln__float_json(b, (float)d);
                else
                    kiln_buf_printf(b, "%.17g", d);
            }
        }
        kiln_buf_putc(b, ']');
    }
    if (!first) kiln_buf_putc(b, '}');
}

static int kiln__run(kiln_req *req, kiln_resp *resp, int count)
{
    int64_t t0 = kiln__mono_ns();
    kiln__sreq r;
    memset(&r, 0, sizeof r);
    r.size = 10;
    r.track_total_hits = KILN__TRACK_TOTAL_HITS;
    r.timeout_ms = -1;
    r.dv_fields = json_array();
    kiln_error err;
    kiln_error_clear(&err);
    kiln__target *ts = NULL;
    kiln__shard_task *tasks = NULL;
    size_t nt = 0, nshards = 0;
    kiln_index **list = NULL;
    kiln_query *q = NULL;
    kiln_search_result *per = NULL, merged = {0};
    json_t *holder = json_object();
    size_t n = 0;
    int ok, rc = 0;

    r.body = kiln__body_json(req, resp, &ok);
    if (!ok) goto out;
    if (kiln__parse_body(&r, count, &err)) goto fail;
    /* query-string parameters */
    const char *v;
    if ((v = kiln_req_query(req, "q"))) {
        const char *op = kiln_req_query(req, "default_operator");
        r.owned_query = kiln__q_param(v, kiln_req_query(req, "df"), op && !strcasecmp(op, "and"));
        r.query_json = r.owned_query;
    }
    if (kiln__query_i64(req, resp, "size", r.size, &r.size) ||
        kiln__query_i64(req, resp, "from", r.from, &r.from))
        goto out;
    if ((v = kiln_req_query(req, "sort")) && kiln__parse_sort_param(&r, holder, v, &err)) goto fail;
    if ((v = kiln_req_query(req, "_source"))) {
        if (!strcmp(v, "true") || !strcmp(v, "false"))
            r.owned_source = json_boolean(!strcmp(v, "true"));
        else {
            r.owned_source = json_array();
            char *copy = kiln_xstrdup(v), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(r.owned_source, json_string(t));
            free(copy);
        }
        r.source = r.owned_source;
    }
    if ((v = kiln_req_query(req, "_source_includes")) || (v = kiln_req_query(req, "_source_excludes"))) {
        json_t *spec = json_object();
        const char *names[2] = {"_source_includes", "_source_excludes"};
        for (int i = 0; i < 2; i++) {
            const char *s = kiln_req_query(req, names[i]);
            if (!s) continue;
            json_t *arr = json_array();
            char *copy = kiln_xstrdup(s), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(arr, json_string(t));
            free(copy);
            json_object_set_new(spec, i ? "excludes" : "includes", arr);
        }
        json_decref(r.owned_source);
        r.owned_source = spec;
        r.source = spec;
    }
    if ((v = kiln_req_query(req, "track_total_hits"))) {
        if (!strcmp(v, "true"))
            r.track_total_hits = -1;
        else if (!strcmp(v, "false"))
            r.track_total_hits = 0;
        else {
            char *end;
            r.track_total_hits = strtoll(v, &end, 10);
            if (*end || !*v) {
                kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT, "Failed to parse value [%s] for [track_total_hits]", v);
                goto fail;
            }
        }
        if (r.track_total_hits < -1) {
            kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT,
                      "[track_total_hits] parameter must be positive or equals to -1, got %" PRId64,
                      r.track_total_hits);
            goto fail;
        }
    }
    r.total_as_int = kiln_req_query_bool(req, "rest_total_hits_as_int", 0);
    if (r.total_as_int) {
        int given = (r.body && json_object_get(r.body, "track_total_hits")) ||
                    kiln_req_query(req, "track_total_hits");
        if (given && r.track_total_hits > 0) {
            kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT,
                      "[rest_total_hits_as_int] cannot be used if the tracking of total hits is "
                      "not accurate, got %" PRId64, r.track_total_hits);
            goto fail;
        }
        if (!given || r.track_total_hits != 0) r.track_total_hits = -1;
    }
    if ((v = kiln_req_query(req, "docvalue_fields"))) {
        char *copy = kiln_xstrdup(v), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(r.dv_fields, json_pack("{s:s}", "field", t));
        free(copy);
    }
    if ((v = kiln_req_query(req, "stored_fields"))) {
        r.stored_fields_set = 1;
        r.stored_source = strstr(v, "_source") != NULL;
    }
    if ((v = kiln_req_query(req, "timeout")) && (r.timeout_ms = kiln__parse_time(v)) < 0) {
        kiln_fail(&err, KILN_E_PARSE, "failed to parse setting [timeout] with value [%s]", v);
        goto fail;
    }
    if (kiln_req_query_bool(req, "track_scores", 0)) r.track_scores = 1;
    if (kiln_req_query_bool(req, "version", 0)) r.version = 1;
    if (kiln_req_query_bool(req, "seq_no_primary_term", 0)) r.seq_no = 1;
    if (count) r.size = 0, r.from = 0, r.track_total_hits = -1;
    if (r.from < 0) {
        kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT, "[from] parameter cannot be negative, found [%" PRId64 "]", r.from);
        goto fail;
    }
    if (r.size < 0) {
        kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT, "[size] parameter cannot be negative, found [%" PRId64 "]", r.size);
        goto fail;
    }
    if (r.has_after && (size_t)(r.has_after - 1) != (r.nkeys ? r.nkeys : 1)) {
        kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT,
                  "search_after has %d value(s) but sort has %zu.", r.has_after - 1, r.nkeys);
        goto fail;
    }

    /* the query */
    json_t *qj = r.query_json;
    json_t *all = NULL;
    if (!qj) qj = all = json_pack("{s:{}}", "match_all");
    kiln_dsl_error de;
    q = kiln_dsl_parse(qj, "query", &de);
    json_decref(all);
    if (!q) {
        kiln__dsl_fail(resp, &de);
        goto out;
    }
    if (kiln_search_bind_udfs(q, kiln__udfs, &err)) goto fail;

    /* indices */
    const char *expr = kiln_req_param(req, "index");
    if (kiln_node_resolve(kiln__node, expr ? expr : "_all",
                          kiln_req_query_bool(req, "ignore_unavailable", 0),
                          kiln_req_query_bool(req, "allow_no_indices", 1), &list, &n, &err))
        goto fail;
    ts = kiln_xcalloc(n + 1, sizeof *ts);
    int64_t now = kiln_wall_ms();
    for (size_t i = 0; i < n; i++) {
        kiln__target *t = &ts[nt++];
        t->idx = list[i];
        if (kiln_index_blocked(t->idx, KILN_OP_CLASS_READ, &err)) goto fail;
        long window = kiln_index_setting_long(t->idx, "index.max_result_window",
                                              KILN_MAX_RESULT_WINDOW_DEFAULT);
        if (r.from + r.size > window) {
            kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT,
                      "Result window is too large, from + size must be less than or equal to: "
                      "[%ld] but was [%" PRId64 "]. See the scroll api for a more efficient way "
                      "to request large data sets. This limit can be set by changing the "
                      "[index.max_result_window] index level setting.",
                      window, r.from + r.size);
            kiln_error_set_index(&err, t->idx->name);
            goto fail;
        }
        t->m = kiln_index_mapping(t->idx);
        t->first_ord = (uint32_t)nshards;
        nshards += t->idx->nshards;
        for (size_t k = 0; k < r.nkeys; k++)
            if (r.keys[k].by == KILN_SORT_FIELD && !kiln_mapping_field(t->m, r.keys[k].field) &&
                !r.unmapped_ok[k]) {
                kiln_fail(&err, KILN_E_QUERY_SHARD, "No mapping found for [%s] in order to sort on",
                          r.keys[k].field);
                kiln_error_set_index(&err, t->idx->name);
                goto fail;
            }
        if (r.has_after && kiln__after_convert(&r, t->m, &err)) goto fail;
        t->plan = kiln_plan_build(q, t->m, t->idx->analysis, now, &err);
        if (!t->plan) {
            kiln_error_set_index(&err, t->idx->name);
            goto fail;
        }
        t->st = kiln_stats_new(t->plan);
        t->sr = kiln_xcalloc(t->idx->nshards, sizeof *t->sr);
    }
    tasks = kiln_xcalloc(nshards + 1, sizeof *tasks);
    for (size_t i = 0; i < nt; i++) {
        int64_t every = kiln_node_refresh_interval(ts[i].idx);
        for (unsigned s = 0; s < ts[i].idx->nshards; s++)
            tasks[ts[i].first_ord + s] = (kiln__shard_task){.t = &ts[i], .shard = s,
                                                            .ord = ts[i].first_ord + s,
                                                            .refresh_ms = every};
    }
    kiln__phase ph = {.tasks = tasks};
    kiln_workers_run(kiln_node_workers(kiln__node), kiln__acquire_task, &ph, nshards);
    for (size_t i = 0; i < nt; i++) { /* dfs: statistics of the whole index, once per query */
        kiln__target *t = &ts[i];
        for (unsigned s = 0; s < t->idx->nshards; s++)
            if (t->sr[s]) kiln_stats_gather(t->plan, t->sr[s]->reader, t->st);
        kiln_stats_finish(t->plan, t->st);
    }

    /* query phase per shard, then merge */
    kiln_search_opts o = {
        .k = (size_t)(r.from + r.size),
        .sort = r.nkeys ? r.keys : NULL,
        .nsort = r.nkeys,
        .after = r.has_after ? r.after : NULL,
        .track_total_hits = r.track_total_hits,
        .track_scores = r.track_scores,
        .has_min_score = r.has_min_score,
        .min_score = r.min_score,
        .id_lookup = kiln__id_lookup,
        .deadline_ns = r.timeout_ms >= 0 ? t0 + r.timeout_ms * 1000000LL : 0,
        .capture_udf_logs = r.udf_log,
    };
    per = kiln_xcalloc(nshards + 1, sizeof *per);
    ph.o = &o;
    ph.per = per;
    kiln_workers_run(kiln_node_workers(kiln__node), kiln__execute_task, &ph, nshards);
    for (size_t i = 0; i < nshards; i++)
        if (tasks[i].rc) { /* the first failing shard in order answers, as before */
            err = tasks[i].err;
            kiln_error_set_index(&err, tasks[i].t->idx->name);
            goto fail;
        }
    kiln_search_merge(per, nshards, &o, &merged);

    /* the response */
    kiln_buf b = KILN_BUF_INIT;
    if (count) {
        kiln_buf_printf(&b, "{\"count\":%" PRIu64 ",\"_shards\":{\"total\":%zu,\"successful\":%zu,"
                            "\"skipped\":0,\"failed\":0}}",
                        merged.total, nshards, nshards);
        kiln_resp_json(resp, 200, b.data);
        kiln_buf_free(&b);
        goto out;
    }
    kiln_buf_printf(&b, "{\"took\":%" PRId64 ",\"timed_out\":%s,\"_shards\":{\"total\":%zu,"
                        "\"successful\":%zu,\"skipped\":0,\"failed\":0},\"hits\":{",
                    (kiln__mono_ns() - t0) / 1000000, merged.timed_out ? "true" : "false",
                    nshards, nshards);
    if (r.total_as_int && r.track_total_hits == 0)
        kiln_buf_puts(&b, "\"total\":-1,");
    else if (r.total_as_int)
        kiln_buf_printf(&b, "\"total\":%" PRIu64 ",", merged.total);
    else if (r.track_total_hits != 0)
        kiln_buf_printf(&b, "\"total\":{\"value\":%" PRIu64 ",\"relation\":\"%s\"},",
                        merged.total, merged.total_is_lower_bound ? "gte" : "eq");
    kiln_buf_puts(&b, "\"max_score\":");
    int scored = !r.nkeys || r.track_scores;
    for (size_t k = 0; k < r.nkeys; k++)
        if (r.keys[k].by == KILN_SORT_SCORE) scored = 1;
    /* ES keeps no top hits for size 0, hence no max score */
    kiln__score_json(&b, scored && r.size > 0 ? merged.max_score : NAN);
    kiln_buf_puts(&b, ",\"hits\":[");
    json_t *inc, *exc, *owned;
    int smode = kiln__source_mode(r.source, &inc, &exc, &owned);
    if (r.stored_fields_set && !r.source && !r.stored_source) smode = 0;
    kiln_buf idb = KILN_BUF_INIT, src = KILN_BUF_INIT;
    for (size_t h = (size_t)r.from; h < merged.nhits; h++) {
        const kiln_hit *hit = &merged.hits[h];
        kiln__target *t = ts;
        for (size_t i = 0; i < nt; i++)
            if (hit->shard >= ts[i].first_ord) t = &ts[i];
        kiln_shard *sh = t->idx->shards[hit->shard - t->first_ord];
        kiln_doc_meta meta;
        kiln_buf_reset(&idb);
        kiln_buf_reset(&src);
        if (kiln_shard_doc_at(sh, hit->docnum, &meta, &idb, smode ? &src : NULL)) continue;
        if (h > (size_t)r.from) kiln_buf_putc(&b, ',');
        kiln_buf_puts(&b, "{\"_index\":");
        kiln_buf_json_cstr(&b, t->idx->name);
        kiln_buf_puts(&b, ",\"_id\":");
        kiln_buf_json_str(&b, idb.data ? idb.data : "", idb.len);
        if (r.version) kiln_buf_printf(&b, ",\"_version\":%" PRId64, meta.version);
        if (r.seq_no)
            kiln_buf_printf(&b, ",\"_seq_no\":%" PRId64 ",\"_primary_term\":%" PRId64, meta.seq_no,
                            meta.primary_term);
        kiln_buf_puts(&b, ",\"_score\":");
        kiln__score_json(&b, scored ? hit->score : NAN);
        if (smode == 1) {
            kiln_buf_puts(&b, ",\"_source\":");
            kiln_buf_append(&b, src.data ? src.data : "{}", src.data ? src.len : 2);
        } else if (smode == 2) {
            json_t *doc = json_loadb(src.data ? src.data : "{}", src.len, 0, NULL);
            json_t *f = doc ? kiln__filter_obj(doc, "", inc, exc) : json_object();
            char *text = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER);
            kiln_buf_puts(&b, ",\"_source\":");
            kiln_buf_puts(&b, text ? text : "{}");
            free(text);
            json_decref(f);
            json_decref(doc);
        }
        if (json_array_size(r.dv_fields))
            kiln__docvalue_fields(&b, t->sr[hit->shard - t->first_ord], t->m, hit->docnum,
                                  r.dv_fields);
        if (r.nkeys) {
            kiln_buf_puts(&b, ",\"sort\":[");
            for (size_t k = 0; k < r.nkeys; k++) {
                if (k) kiln_buf_putc(&b, ',');
                kiln__sv_json(&b, &r.keys[k], &hit->sort[k], t->m);
            }
            kiln_buf_putc(&b, ']');
        }
        kiln_buf_putc(&b, '}');
    }
    json_decref(owned);
    kiln_buf_free(&idb);
    kiln_buf_free(&src);
    kiln_buf_puts(&b, "]}");
    if (r.udf_log) { /* capped per UDF session; the server log has them too (rate-limited) */
        char *logs = merged.udf_logs ? json_dumps(merged.udf_logs, JSON_COMPACT) : NULL;
        kiln_buf_printf(&b, ",\"udf_logs\":%s", logs ? logs : "[]");
        free(logs);
    }
    kiln_buf_putc(&b, '}');
    kiln_resp_json(resp, 200, b.data);
    kiln_buf_free(&b);
    goto out;
fail:
    rc = 0;
    kiln__reply(resp, &err);
out:
    for (size_t i = 0; i < nshards && per; i++) kiln_search_result_free(&per[i]);
    free(per);
    kiln_search_result_free(&merged);
    for (size_t i = 0; i < nt; i++) {
        kiln__target *t = &ts[i];
        for (unsigned s = 0; t->sr && s < t->idx->nshards; s++) kiln_shard_searcher_release(t->sr[s]);
        free(t->sr);
        kiln_stats_free(t->st);
        kiln_plan_free(t->plan);
        kiln_mapping_unref(t->m);
    }
    free(ts);
    free(tasks);
    if (list) kiln_node_release(list, n);
    kiln_query_free(q);
    for (size_t i = 0; i < 16; i++) free(r.after_strs[i]);
    json_decref(r.owned_query);
    json_decref(r.owned_source);
    json_decref(r.dv_fields);
    json_decref(r.body);
    json_decref(holder);
    return rc;
}

int kiln__search_run(kiln_req *req, kiln_resp *resp, int count)
{
    return kiln__run(req, resp, count);
}

static int kiln__search(kiln_req *req, kiln_resp *resp)
{
    return kiln__run(req, resp, 0);
}

static int kiln__count(kiln_req *req, kiln_resp *resp)
{
    return kiln__run(req, resp, 1);
}

static const kiln_route kiln__routes[] = {
    {KILN_GET | KILN_POST, "/_search", kiln__search},
    {KILN_GET | KILN_POST, "/{index}/_search", kiln__search},
    {KILN_GET | KILN_POST, "/_count", kiln__count},
    {KILN_GET | KILN_POST, "/{index}/_count", kiln__count},
};

const kiln_route *kiln__routes_search(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
