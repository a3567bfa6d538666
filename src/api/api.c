/* The REST API: opens the node and assembles the route table from each endpoint family. */
#include "api/api_int.h"
#include "core/buf.h"
#include "core/log.h"
#include "dsl/query.h"
#include "udf/udf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

kiln_node *kiln__node;

static kiln_route *kiln__table;
static size_t kiln__table_len;

static const kiln__routes_fn kiln__families[] = {
    kiln__routes_root,
    kiln__routes_indices,
    kiln__routes_doc,
    kiln__routes_bulk,
    kiln__routes_analyze,
    kiln__routes_udf,
    kiln__routes_search,
    kiln__routes_by_query,
    kiln__routes_msearch,
    kiln__routes_validate,
};

int kiln_api_start(const char *data_dir, kiln_error *err)
{
    kiln__node = kiln_node_open(data_dir, err);
    if (!kiln__node) return -1;
    char udf_dir[4200];
    snprintf(udf_dir, sizeof udf_dir, "%s/udfs", data_dir);
    kiln__udfs = kiln_udf_registry_open(udf_dir, err);
    if (!kiln__udfs) {
        kiln_node_close(kiln__node);
        kiln__node = NULL;
        return -1;
    }
    kiln__table_len = 0;
    for (size_t f = 0; f < sizeof kiln__families / sizeof *kiln__families; f++) {
        size_t n;
        const kiln_route *r = kiln__families[f](&n);
        kiln__table = kiln_xrealloc(kiln__table, (kiln__table_len + n) * sizeof *kiln__table);
        memcpy(kiln__table + kiln__table_len, r, n * sizeof *r);
        kiln__table_len += n;
    }
    return 0;
}

const kiln_route *kiln_api_routes(size_t *n)
{
    *n = kiln__table_len;
    return kiln__table;
}

void kiln_api_stop(void)
{
    kiln_udf_registry_close(kiln__udfs);
    kiln__udfs = NULL;
    kiln_node_close(kiln__node);
    kiln__node = NULL;
    free(kiln__table);
    kiln__table = NULL;
}

/* ---- helpers shared by the endpoint files ---------------------------------------------- */

json_t *kiln__body_json(kiln_req *req, kiln_resp *resp, int *ok)
{
    *ok = 1;
    size_t i = 0;
    while (i < req->body_len && strchr(" \t\r\n", req->body[i])) i++;
    if (i == req->body_len) return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(req->body, req->body_len, 0, &jerr);
    if (!j) {
        *ok = 0;
        kiln_resp_fail(resp, KILN_E_PARSE,
                       "request body is not valid JSON: %s at line %d, column %d", jerr.text,
                       jerr.line, jerr.column);
        return NULL;
    }
    return j;
}

int kiln__reply(kiln_resp *resp, const kiln_error *err)
{
    kiln_resp_error(resp, err);
    return 0;
}

int kiln__reply_json(kiln_resp *resp, int status, json_t *json)
{
    char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    kiln_resp_json(resp, status, text ? text : "{}");
    free(text);
    json_decref(json);
    return 0;
}

int kiln__refresh_check(kiln_req *req, kiln_resp *resp)
{
    const char *v = kiln_req_query(req, "refresh");
    if (!v || !*v || !strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "wait_for"))
        return 0;
    kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT, "Unknown value for refresh: [%s].", v);
    return -1;
}

int kiln__refresh_param(kiln_req *req, kiln_resp *resp, kiln_index *idx)
{
    if (kiln__refresh_check(req, resp)) return -1;
    const char *v = kiln_req_query(req, "refresh");
    if (!v || !strcmp(v, "false")) return 0;
    kiln_error err;
    if (kiln_index_refresh(idx, &err)) {
        kiln__reply(resp, &err);
        return -1;
    }
    return strcmp(v, "wait_for") != 0;
}

const char *kiln__result_name(kiln_result r)
{
    static const char *const names[] = {"created", "updated", "deleted", "not_found", "noop"};
    return names[r];
}

/* Appends v in decimal (a _bulk response writes several numbers per item: no printf). */
static void kiln__put_i64(kiln_buf *b, int64_t v)
{
    char t[24], *end = t + sizeof t, *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    kiln_buf_append(b, p, (size_t)(end - p));
}

void kiln__write_result(kiln_buf *b, const kiln_index *idx, const kiln_write *w)
{
    long replicas = kiln_index_replicas(idx);
    int noop = w->result == KILN_RESULT_NOOP;
    kiln_buf_puts(b, "\"_index\":");
    kiln_buf_json_cstr(b, idx->name);
    kiln_buf_puts(b, ",\"_id\":");
    kiln_buf_json_str(b, w->id, w->idlen);
    kiln_buf_puts(b, ",\"_version\":");
    kiln__put_i64(b, w->meta.version);
    kiln_buf_puts(b, ",\"result\":\"");
    kiln_buf_puts(b, kiln__result_name(w->result));
    kiln_buf_puts(b, "\",\"_shards\":{\"total\":");
    kiln__put_i64(b, noop ? 0 : replicas + 1);
    kiln_buf_puts(b, noop ? ",\"successful\":0" : ",\"successful\":1");
    kiln_buf_puts(b, ",\"failed\":0},\"_seq_no\":");
    kiln__put_i64(b, w->meta.seq_no);
    kiln_buf_puts(b, ",\"_primary_term\":");
    kiln__put_i64(b, w->meta.primary_term);
}

int kiln__query_i64(kiln_req *req, kiln_resp *resp, const char *name, int64_t def, int64_t *out)
{
    const char *v = kiln_req_query(req, name);
    *out = def;
    if (!v) return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end) {
        kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT, "Failed to parse long parameter [%s] with value [%s]",
                       name, v);
        return -1;
    }
    *out = n;
    return 0;
}

void kiln__human_bytes(char *out, size_t cap, uint64_t bytes)
{
    static const char *const units[] = {"b", "kb", "mb", "gb", "tb", "pb"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) v /= 1024, u++;
    if (u == 0)
        snprintf(out, cap, "%" PRIu64 "b", bytes);
    else
        snprintf(out, cap, "%.1f%s", v, units[u]);
}

/* A DSL error as ES shapes it: the root cause, wrapped when it happened inside a compound. */
int kiln__dsl_fail(kiln_resp *resp, const kiln_dsl_error *de)
{
    json_t *root = json_pack("{s:s,s:s}", "type", kiln_code_type(de->err.code), "reason",
                             de->err.reason);
    json_t *err;
    if (de->wrapper[0]) {
        err = json_pack("{s:[O],s:s,s:s,s:O}", "root_cause", root, "type",
                        "x_content_parse_exception", "reason", de->wrapper, "caused_by", root);
    } else {
        err = json_deep_copy(root);
        json_object_set_new(err, "root_cause", json_pack("[O]", root));
    }
    if (de->path[0]) json_object_set_new(err, "path", json_string(de->path));
    json_decref(root);
    return kiln__reply_json(resp, kiln_code_status(de->err.code),
                            json_pack("{s:o,s:i}", "error", err, "status",
                                      kiln_code_status(de->err.code)));
}

/* Resolves {index} (comma lists, wildcards) honouring ignore_unavailable/allow_no_indices. */
int kiln__resolve_indices(kiln_req *req, kiln_resp *resp, kiln_index ***list, size_t *n)
{
    kiln_error err;
    const char *target = kiln_req_param(req, "index");
    int ignore = kiln_req_query_bool(req, "ignore_unavailable", 0) == 1;
    int allow_none = kiln_req_query_bool(req, "allow_no_indices", 1) != 0;
    if (kiln_node_resolve(kiln__node, target ? target : "_all", ignore, allow_none, list, n,
                          &err)) {
        kiln__reply(resp, &err);
        return -1;
    }
    return 0;
}

