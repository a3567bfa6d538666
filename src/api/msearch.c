/* GET/POST [/{index}]/_msearch: NDJSON pairs of a header ({"index": ..., "ignore_unavailable":
 * ...} or {}) and a search body, each run as its own _search, answered together as
 * {"took", "responses": [...]} in order: a search's response with "status": 200, or its error
 * body ({"error", "status"}) without failing the others, as Elasticsearch does. A malformed
 * line or an unknown header key fails the whole request. Searches run one after another, each
 * over its shards in parallel. */
#include "api/api_int.h"
#include "core/buf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Header keys ES accepts; only those that change a search here are applied. */
static const char *const kiln__header_keys[] = {
    "index", "indices", "search_type", "ccs_minimize_roundtrips", "request_cache", "routing",
    "preference", "allow_no_indices", "ignore_unavailable", "expand_wildcards",
    "ignore_throttled", "allow_partial_search_results", "cancel_after_time_interval"};

/* Next line of the body from *p (without its '\n'); NULL at the end. */
static const char *kiln__line(const char **p, const char *end, size_t *len)
{
    if (*p >= end) return NULL;
    const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    *len = (size_t)((nl ? nl : end) - s);
    *p = nl ? nl + 1 : end;
    if (*len && s[*len - 1] == '\r') (*len)--;
    return s;
}

static int kiln__blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r", s[i])) return 0;
    return 1;
}

/* Query parameters of one search from its header: index and the two that change index
 * resolution; the outer request's rest_total_hits_as_int applies to every search. */
static int kiln__header(kiln_req *req, json_t *h, const char *url_index, char *index, size_t cap,
                        const char **qn, const char **qv, int *nq, kiln_error *err)
{
    const char *key;
    json_t *v;
    snprintf(index, cap, "%s", url_index ? url_index : "");
    json_object_foreach(h, key, v)
    {
        size_t k = 0, n = sizeof kiln__header_keys / sizeof *kiln__header_keys;
        while (k < n && strcmp(key, kiln__header_keys[k])) k++;
        if (k == n)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "key [%s] is not supported in the metadata section", key);
        if (!strcmp(key, "index") || !strcmp(key, "indices")) {
            kiln_buf b = KILN_BUF_INIT;
            for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
                kiln_buf_printf(&b, "%s%s", i ? "," : "", json_string_value(json_array_get(v, i)) ?: "");
            const char *s = json_is_string(v) ? json_string_value(v) : b.data;
            snprintf(index, cap, "%s", s ? s : "");
            kiln_buf_free(&b);
        } else if (!strcmp(key, "ignore_unavailable") || !strcmp(key, "allow_no_indices")) {
            qn[*nq] = key;
            qv[(*nq)++] = json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"))
                              ? "true"
                              : "false";
        }
    }
    const char *ti = kiln_req_query(req, "rest_total_hits_as_int");
    if (ti) {
        qn[*nq] = "rest_total_hits_as_int";
        qv[(*nq)++] = ti;
    }
    return 0;
}

static int kiln__msearch(kiln_req *req, kiln_resp *resp)
{
    int64_t t0 = kiln_mono_ms();
    const char *p = req->body, *end = req->body + req->body_len;
    const char *url_index = kiln_req_param(req, "index");
    kiln_buf out = KILN_BUF_INIT;
    kiln_buf_puts(&out, "\"responses\":[");
    kiln_error err;
    kiln_error_clear(&err);
    size_t n = 0, lineno = 0, hl;
    const char *hs;
    int rc = 0;
    while (rc == 0 && (hs = kiln__line(&p, end, &hl))) {
        lineno++;
        if (kiln__blank(hs, hl) && p >= end) break; /* the final newline */
        json_error_t je;
        json_t *h = kiln__blank(hs, hl) ? json_object() : json_loadb(hs, hl, 0, &je);
        size_t bl;
        const char *bs = kiln__line(&p, end, &bl);
        if (!h)
            rc = kiln_fail(&err, KILN_E_PARSE, "msearch header on line %zu is not valid JSON: %s",
                           lineno, je.text);
        else if (!json_is_object(h))
            rc = kiln_fail(&err, KILN_E_PARSE, "msearch header on line %zu must be an object",
                           lineno);
        else if (!bs)
            rc = kiln_fail(&err, KILN_E_PARSE,
                           "msearch header on line %zu has no search body line after it", lineno);
        if (rc) {
            json_decref(h);
            break;
        }
        lineno++;
        char index[1024];
        const char *qn[4], *qv[4];
        int nq = 0;
        rc = kiln__header(req, h, url_index, index, sizeof index, qn, qv, &nq, &err);
        json_decref(h);
        if (rc) break;
        char *body = kiln_xstrndup(bs, bl); /* handlers get NUL-terminated bodies */
        kiln_req *sub = kiln_req_sub_new(KILN_POST, body, bl, *index ? index : NULL, qn, qv, nq);
        kiln_resp r = {0};
        kiln__search_run(sub, &r, 0);
        kiln_req_sub_free(sub);
        free(body);
        if (n++) kiln_buf_putc(&out, ',');
        if (r.status == 200 && r.body.len && r.body.data[r.body.len - 1] == '}') {
            kiln_buf_append(&out, r.body.data, r.body.len - 1);
            kiln_buf_puts(&out, ",\"status\":200}");
        } else { /* an error body already carries its status */
            kiln_buf_append(&out, r.body.data ? r.body.data : "{}", r.body.data ? r.body.len : 2);
        }
        kiln_buf_free(&r.body);
    }
    if (rc == 0 && n == 0)
        rc = kiln_fail(&err, KILN_E_ACTION_VALIDATION, "Validation Failed: 1: no requests added;");
    if (rc) {
        kiln_buf_free(&out);
        return kiln__reply(resp, &err);
    }
    kiln_buf_putc(&out, ']');
    kiln_buf b = KILN_BUF_INIT;
    kiln_buf_printf(&b, "{\"took\":%" PRId64 ",", kiln_mono_ms() - t0);
    kiln_buf_append(&b, out.data, out.len);
    kiln_buf_putc(&b, '}');
    kiln_resp_json(resp, 200, b.data);
    kiln_buf_free(&b);
    kiln_buf_free(&out);
    return 0;
}

static const kiln_route kiln__routes[] = {
    {KILN_GET | KILN_POST, "/_msearch", kiln__msearch},
    {KILN_GET | KILN_POST, "/{index}/_msearch", kiln__msearch},
};

const kiln_route *kiln__routes_msearch(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
