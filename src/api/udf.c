/* /_udf: register, list, describe, unregister, statistics and dry runs of UDFs. */
#include "api/api_int.h"
#include "core/base64.h"
#include "core/buf.h"
#include "udf/udf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

kiln_udf_registry *kiln__udfs;
static char kiln__api_key[256];

void kiln_api_set_api_key(const char *key)
{
    snprintf(kiln__api_key, sizeof kiln__api_key, "%s", key ? key : "");
}

/* Writes need the configured key, as `Authorization: ApiKey KEY` or `X-Api-Key: KEY`. */
static int kiln__authorized(kiln_req *req, kiln_resp *resp)
{
    if (!kiln__api_key[0]) return 1;
    const char *auth = kiln_req_header(req, "Authorization");
    const char *x = kiln_req_header(req, "X-Api-Key");
    if ((auth && !strncmp(auth, "ApiKey ", 7) && !strcmp(auth + 7, kiln__api_key)) ||
        (x && !strcmp(x, kiln__api_key)))
        return 1;
    kiln_resp_fail(resp, KILN_E_SECURITY,
                   "writes to /_udf need the API key: send `Authorization: ApiKey <key>`");
    return 0;
}

/* Metadata from query parameters, for a raw application/wasm body. */
static json_t *kiln__meta_from_query(kiln_req *req, kiln_error *err)
{
    json_t *meta = json_object();
    static const char *const text[] = {"description", "function_name", "category", "author"};
    for (int i = 0; i < 4; i++) {
        const char *v = kiln_req_query(req, text[i]);
        if (v) json_object_set_new(meta, text[i], json_string(v));
    }
    const char *tags = kiln_req_query(req, "tags");
    if (tags) {
        json_t *arr = json_array();
        char *copy = kiln_xstrdup(tags);
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(arr, json_string(t));
        free(copy);
        json_object_set_new(meta, "tags", arr);
    }
    static const char *const jsons[] = {"parameters", "returns", "limits"};
    for (int i = 0; i < 3; i++) {
        const char *v = kiln_req_query(req, jsons[i]);
        if (!v) continue;
        json_error_t jerr;
        json_t *j = json_loads(v, 0, &jerr);
        if (!j) {
            kiln_fail(err, KILN_E_PARSE, "query parameter [%s] is not valid JSON: %s", jsons[i],
                      jerr.text);
            json_decref(meta);
            return NULL;
        }
        json_object_set_new(meta, jsons[i], j);
    }
    return meta;
}

static int kiln__udf_put(kiln_req *req, kiln_resp *resp)
{
    if (!kiln__authorized(req, resp)) return 0;
    const char *name = kiln_req_param(req, "name"), *version = kiln_req_param(req, "version");
    kiln_error err;
    json_t *meta = NULL;
    uint8_t *wasm = NULL;
    size_t wasm_len = 0;
    const char *ct = req->content_type ? req->content_type : "";
    int raw = !strncmp(ct, "application/wasm", 16) || !strncmp(ct, "application/octet-stream", 24) ||
              (req->body_len >= 4 && !memcmp(req->body, "\0asm", 4));
    if (raw) {
        if (!(meta = kiln__meta_from_query(req, &err))) return kiln__reply(resp, &err);
        wasm = kiln_xmalloc(req->body_len ? req->body_len : 1);
        memcpy(wasm, req->body, req->body_len);
        wasm_len = req->body_len;
    } else {
        int ok;
        meta = kiln__body_json(req, resp, &ok);
        if (!ok) return 0;
        json_t *b64 = json_object_get(meta, "wasm");
        if (!json_is_string(b64)) {
            json_decref(meta);
            return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                                  "the body needs [wasm]: the module as base64 (or send the raw "
                                  "module with Content-Type: application/wasm and the metadata "
                                  "in query parameters)");
        }
        if (kiln_base64_decode(json_string_value(b64), json_string_length(b64), &wasm, &wasm_len)) {
            json_decref(meta);
            return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT, "[wasm] is not valid base64");
        }
    }
    if (wasm_len < 8 || memcmp(wasm, "\0asm", 4)) {
        free(wasm);
        json_decref(meta);
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "the module is not a WebAssembly binary (no \\0asm header)");
    }
    json_t *jn = json_object_get(meta, "name"), *jv = json_object_get(meta, "version");
    if ((jn && (!json_is_string(jn) || strcmp(json_string_value(jn), name))) ||
        (jv && (!json_is_string(jv) || strcmp(json_string_value(jv), version)))) {
        free(wasm);
        json_decref(meta);
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "[name] and [version] in the body must match the path");
    }
    kiln_udf *u = kiln_udf_register(kiln__udfs, name, version, meta, wasm, wasm_len, &err);
    free(wasm);
    json_decref(meta);
    if (!u) return kiln__reply(resp, &err);
    json_t *d = kiln_udf_describe(u);
    json_object_set_new(d, "result", json_string("created"));
    kiln_udf_unref(u);
    return kiln__reply_json(resp, 201, d);
}

static int kiln__udf_list(kiln_req *req, kiln_resp *resp)
{
    json_t *list = kiln_udf_list(kiln__udfs, kiln_req_query(req, "name"), kiln_req_query(req, "tag"),
                                 kiln_req_query(req, "category"), kiln_req_query(req, "author"),
                                 NULL, 0);
    return kiln__reply_json(resp, 200, json_pack("{s:I,s:o}", "total",
                                                 (json_int_t)json_array_size(list), "udfs", list));
}

static int kiln__udf_versions(kiln_req *req, kiln_resp *resp)
{
    const char *name = kiln_req_param(req, "name");
    json_t *list = kiln_udf_list(kiln__udfs, NULL, NULL, NULL, NULL, name, 0);
    if (!json_array_size(list)) {
        json_decref(list);
        return kiln_resp_fail(resp, KILN_E_NOT_FOUND, "UDF [%s] is not registered", name);
    }
    kiln_error err;
    kiln_udf *latest = kiln_udf_get(kiln__udfs, name, NULL, &err);
    json_t *out = json_pack("{s:s,s:s,s:o}", "name", name, "latest",
                            latest ? kiln_udf_version(latest) : "", "versions", list);
    kiln_udf_unref(latest);
    return kiln__reply_json(resp, 200, out);
}

/* Answers with view(the UDF named by the path's {name} and {version}). */
static int kiln__udf_show(kiln_req *req, kiln_resp *resp, json_t *(*view)(const kiln_udf *))
{
    kiln_error err;
    kiln_udf *u = kiln_udf_get(kiln__udfs, kiln_req_param(req, "name"),
                               kiln_req_param(req, "version"), &err);
    if (!u) return kiln__reply(resp, &err);
    json_t *out = view(u);
    kiln_udf_unref(u);
    return kiln__reply_json(resp, 200, out);
}

static int kiln__udf_get(kiln_req *req, kiln_resp *resp)
{
    return kiln__udf_show(req, resp, kiln_udf_describe);
}

static int kiln__udf_delete(kiln_req *req, kiln_resp *resp)
{
    if (!kiln__authorized(req, resp)) return 0;
    kiln_error err;
    if (kiln_udf_unregister(kiln__udfs, kiln_req_param(req, "name"), kiln_req_param(req, "version"),
                            &err))
        return kiln__reply(resp, &err);
    return kiln__reply_json(resp, 200, json_pack("{s:b}", "acknowledged", 1));
}

static int kiln__udf_stats(kiln_req *req, kiln_resp *resp)
{
    return kiln__udf_show(req, resp, kiln_udf_stats_json);
}

static int kiln__udf_all_stats(kiln_req *req, kiln_resp *resp)
{
    json_t *list = kiln_udf_list(kiln__udfs, NULL, NULL, NULL, NULL, NULL, 1);
    json_t *out = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) json_array_append(out, json_object_get(d, "stats"));
    json_decref(list);
    return kiln__reply_json(resp, 200, json_pack("{s:o}", "udfs", out));
}

/* Dry run: {"params": {...}, "doc": {...} | "index": "x", "id": "1", "score": 1.5}. */
static int kiln__udf_execute(kiln_req *req, kiln_resp *resp)
{
    int ok;
    json_t *body = kiln__body_json(req, resp, &ok);
    if (!ok) return 0;
    kiln_error err;
    kiln_udf *u = NULL;
    kiln_udf_bound *b = NULL;
    kiln_udf_session *s = NULL;
    json_t *doc = NULL;
    char *id = NULL;
    if (body && !json_is_object(body)) {
        kiln_fail(&err, KILN_E_PARSE, "the _execute body must be an object");
        goto fail;
    }
    u = kiln_udf_get(kiln__udfs, kiln_req_param(req, "name"), kiln_req_param(req, "version"), &err);
    if (!u) goto fail;
    json_t *jdoc = json_object_get(body, "doc"), *jidx = json_object_get(body, "index");
    json_t *jid = json_object_get(body, "id");
    if (json_is_object(jdoc)) {
        doc = json_incref(jdoc);
        id = kiln_xstrdup(json_is_string(jid) ? json_string_value(jid) : "_execute");
    } else if (json_is_string(jidx) && json_is_string(jid)) {
        kiln_index *idx = kiln_node_get(kiln__node, json_string_value(jidx), &err);
        if (!idx) goto fail;
        const char *docid = json_string_value(jid);
        kiln_buf src = KILN_BUF_INIT;
        kiln_doc_meta meta;
        unsigned shard = kiln_index_route(idx, docid, strlen(docid), NULL);
        int found = kiln_shard_get(idx->shards[shard], docid, strlen(docid), &meta, &src);
        kiln_index_unref(idx);
        if (!found) {
            kiln_buf_free(&src);
            kiln_fail(&err, KILN_E_NOT_FOUND, "document [%s]/[%s] not found",
                      json_string_value(jidx), docid);
            goto fail;
        }
        json_error_t jerr;
        doc = json_loadb(src.data, src.len, 0, &jerr);
        kiln_buf_free(&src);
        id = kiln_xstrdup(docid);
    } else {
        kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT,
                  "_execute needs [doc] (a document) or [index] and [id] (a stored one)");
        goto fail;
    }
    json_t *params = json_object_get(body, "params");
    if (!params) params = json_object_get(body, "parameters");
    if (!(b = kiln_udf_bind(u, params, &err))) goto fail;
    if (!(s = kiln_udf_session_new(b, 0, 1, &err))) goto fail;
    kiln_udf_doc d;
    kiln_udf_doc_json_init(&d, doc, id);
    json_t *jscore = json_object_get(body, "score");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kiln_udf_result r;
    kiln_error cerr;
    int rc = kiln_udf_call(s, &d, json_is_number(jscore) ? json_number_value(jscore) : 0.0, &r, &cerr);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    json_t *out = json_pack("{s:s,s:s,s:I,s:o}", "name", kiln_udf_name(u), "version",
                            kiln_udf_version(u), "duration_ns",
                            (json_int_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec)),
                            "logs", kiln_udf_session_logs(s));
    if (rc == 0) {
        json_object_set_new(out, "result", kiln_udf_returns_score(u) ? json_real(r.score)
                                                                     : json_integer(r.raw_i));
        json_object_set_new(out, "matched", json_boolean(r.matched));
    } else {
        json_object_set_new(out, "error", json_pack("{s:s,s:s}", "type", kiln_code_type(cerr.code),
                                                    "reason", cerr.reason));
    }
    kiln_udf_session_free(s);
    kiln_udf_bound_free(b);
    kiln_udf_unref(u);
    json_decref(doc);
    json_decref(body);
    free(id);
    return kiln__reply_json(resp, 200, out);
fail:
    kiln_udf_session_free(s);
    kiln_udf_bound_free(b);
    kiln_udf_unref(u);
    json_decref(doc);
    json_decref(body);
    free(id);
    return kiln__reply(resp, &err);
}

static const kiln_route kiln__routes[] = {
    {KILN_GET, "/_udf", kiln__udf_list},
    {KILN_GET, "/_udf/_stats", kiln__udf_all_stats},
    {KILN_GET, "/_udf/{name}", kiln__udf_versions},
    {KILN_PUT | KILN_POST, "/_udf/{name}/{version}", kiln__udf_put},
    {KILN_GET, "/_udf/{name}/{version}", kiln__udf_get},
    {KILN_DELETE, "/_udf/{name}/{version}", kiln__udf_delete},
    {KILN_GET, "/_udf/{name}/{version}/_stats", kiln__udf_stats},
    {KILN_POST | KILN_GET, "/_udf/{name}/{version}/_execute", kiln__udf_execute},
};

const kiln_route *kiln__routes_udf(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
