/* Single-document endpoints: index, create, get, exists, _source, delete, update, _mget. */
#include "api/api_int.h"
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads ?if_seq_no/?if_primary_term/?op_type into w. Answers 400 and returns -1 when bad. */
static int kiln__write_params(kiln_req *req, kiln_resp *resp, kiln_write *w)
{
    int64_t v;
    if (kiln__query_i64(req, resp, "if_seq_no", -2, &v)) return -1;
    w->opts.if_seq_no = v;
    if (kiln__query_i64(req, resp, "if_primary_term", -2, &v)) return -1;
    w->opts.if_primary_term = v;
    if ((w->opts.if_seq_no == -2) != (w->opts.if_primary_term == -2)) {
        kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                       "Validation Failed: 1: ifSeqNo is set, but primary term is [0];");
        return -1;
    }
    if (kiln_req_query(req, "version") && strcmp(kiln_req_query(req, "version_type") ?: "", "")) {
        kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                       "external versioning is not supported; use if_seq_no and if_primary_term");
        return -1;
    }
    const char *op = kiln_req_query(req, "op_type");
    if (op) {
        if (!strcmp(op, "create"))
            w->op = KILN_OP_CREATE;
        else if (strcmp(op, "index")) {
            kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT, "opType must be 'create' or 'index', found: [%s]", op);
            return -1;
        }
    }
    w->routing = kiln_req_query(req, "routing");
    return 0;
}

/* Runs one write through to durability and answers it. */
static int kiln__doc_write(kiln_req *req, kiln_resp *resp, kiln_op_type op)
{
    kiln_write w = {.op = op, .opts = KILN_WRITE_OPTS_INIT};
    const char *name = kiln_req_param(req, "index");
    w.id = kiln_req_param(req, "id");
    w.idlen = w.id ? strlen(w.id) : 0;
    w.body = req->body;
    w.body_len = req->body_len;
    if (kiln__write_params(req, resp, &w) || kiln__refresh_check(req, resp)) return 0;
    if (op != KILN_OP_DELETE) {
        size_t i = 0;
        while (i < req->body_len && strchr(" \t\r\n", req->body[i])) i++;
        if (i == req->body_len)
            return kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                                  op == KILN_OP_UPDATE
                                      ? "Validation Failed: 1: script or doc is missing;"
                                      : "Validation Failed: 1: source is missing;");
    }
    kiln_error err;
    kiln_error_clear(&err);
    kiln_index *idx = op == KILN_OP_DELETE ? kiln_node_get(kiln__node, name, &err)
                                           : kiln_node_get_or_create(kiln__node, name, &err);
    if (!idx) return kiln__reply(resp, &err);
    int rc = kiln_index_write(idx, &w, &err);
    if (rc == 0) rc = kiln_index_sync(idx, w.shard, w.lsn, &err);
    if (rc) {
        kiln_error_set_index(&err, idx->name);
        kiln_index_unref(idx);
        json_decref(w.get_source);
        return kiln__reply(resp, &err);
    }
    int forced = kiln__refresh_param(req, resp, idx);
    if (forced < 0) {
        kiln_index_unref(idx);
        json_decref(w.get_source);
        return 0;
    }
    kiln_buf *b = &resp->body;
    kiln_buf_reset(b);
    kiln_buf_putc(b, '{');
    kiln__write_result(b, idx, &w);
    if (forced) kiln_buf_puts(b, ",\"forced_refresh\":true");
    if (op == KILN_OP_UPDATE && w.get_source && kiln_req_query_bool(req, "_source", 0) == 1) {
        char *src = json_dumps(w.get_source, JSON_COMPACT | JSON_PRESERVE_ORDER);
        kiln_buf_printf(b, ",\"get\":{\"found\":true,\"_source\":%s}", src);
        free(src);
    }
    kiln_buf_putc(b, '}');
    resp->status = w.status;
    json_decref(w.get_source);
    kiln_index_unref(idx);
    return 0;
}

static int kiln__put_doc(kiln_req *req, kiln_resp *resp)
{
    return kiln__doc_write(req, resp, KILN_OP_INDEX);
}

static int kiln__create_doc(kiln_req *req, kiln_resp *resp)
{
    return kiln__doc_write(req, resp, KILN_OP_CREATE);
}

static int kiln__delete_doc(kiln_req *req, kiln_resp *resp)
{
    return kiln__doc_write(req, resp, KILN_OP_DELETE);
}

static int kiln__update_doc(kiln_req *req, kiln_resp *resp)
{
    return kiln__doc_write(req, resp, KILN_OP_UPDATE);
}

/* Appends a get result for (idx, id) to b; returns 1 if found. */
static int kiln__get_into(kiln_buf *b, kiln_index *idx, const char *id, const char *routing,
                          int with_source)
{
    kiln_doc_meta meta;
    kiln_buf src = KILN_BUF_INIT;
    size_t idlen = strlen(id);
    unsigned shard = kiln_index_route(idx, id, idlen, routing);
    int found = kiln_shard_get(idx->shards[shard], id, idlen, &meta, with_source ? &src : NULL);
    kiln_buf_puts(b, "{\"_index\":");
    kiln_buf_json_cstr(b, idx->name);
    kiln_buf_puts(b, ",\"_id\":");
    kiln_buf_json_cstr(b, id);
    if (found) {
        kiln_buf_printf(b, ",\"_version\":%lld,\"_seq_no\":%lld,\"_primary_term\":%lld",
                        (long long)meta.version, (long long)meta.seq_no,
                        (long long)meta.primary_term);
        if (routing) {
            kiln_buf_puts(b, ",\"_routing\":");
            kiln_buf_json_cstr(b, routing);
        }
        kiln_buf_puts(b, ",\"found\":true");
        if (with_source) {
            kiln_buf_puts(b, ",\"_source\":");
            kiln_buf_append(b, src.data, src.len); /* byte-for-byte as indexed */
        }
    } else {
        kiln_buf_puts(b, ",\"found\":false");
    }
    kiln_buf_putc(b, '}');
    kiln_buf_free(&src);
    return found;
}

static int kiln__get_doc(kiln_req *req, kiln_resp *resp)
{
    kiln_error err;
    kiln_index *idx = kiln_node_get(kiln__node, kiln_req_param(req, "index"), &err);
    if (!idx) return kiln__reply(resp, &err);
    if (kiln_index_blocked(idx, KILN_OP_CLASS_READ, &err)) {
        kiln_index_unref(idx);
        return kiln__reply(resp, &err);
    }
    int with_source = kiln_req_query_bool(req, "_source", 1) != 0;
    kiln_buf_reset(&resp->body);
    int found = kiln__get_into(&resp->body, idx, kiln_req_param(req, "id"),
                               kiln_req_query(req, "routing"), with_source);
    resp->status = found ? 200 : 404;
    kiln_index_unref(idx);
    return 0;
}

static int kiln__get_source(kiln_req *req, kiln_resp *resp)
{
    kiln_error err;
    const char *name = kiln_req_param(req, "index"), *id = kiln_req_param(req, "id");
    kiln_index *idx = kiln_node_get(kiln__node, name, &err);
    if (!idx) return kiln__reply(resp, &err);
    if (kiln_index_blocked(idx, KILN_OP_CLASS_READ, &err)) {
        kiln_index_unref(idx);
        return kiln__reply(resp, &err);
    }
    kiln_doc_meta meta;
    unsigned shard = kiln_index_route(idx, id, strlen(id), kiln_req_query(req, "routing"));
    kiln_buf_reset(&resp->body);
    int found = kiln_shard_get(idx->shards[shard], id, strlen(id), &meta, &resp->body);
    kiln_index_unref(idx);
    if (!found)
        return kiln_resp_fail(resp, KILN_E_NOT_FOUND, "Document not found [%s]/[%s]", name, id);
    resp->status = 200;
    return 0;
}

static int kiln__mget(kiln_req *req, kiln_resp *resp)
{
    int ok;
    json_t *body = kiln__body_json(req, resp, &ok);
    if (!ok) return 0;
    json_t *docs = json_object_get(body, "docs"), *ids = json_object_get(body, "ids");
    const char *def_index = kiln_req_param(req, "index");
    if (!json_is_array(docs) && !json_is_array(ids)) {
        json_decref(body);
        return kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                              "Validation Failed: 1: no documents to get;");
    }
    int with_source = kiln_req_query_bool(req, "_source", 1) != 0;
    kiln_buf *b = &resp->body;
    kiln_buf_reset(b);
    kiln_buf_puts(b, "{\"docs\":[");
    size_t n = json_is_array(docs) ? json_array_size(docs) : json_array_size(ids);
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_is_array(docs) ? json_array_get(docs, i) : NULL;
        json_t *jid = d ? json_object_get(d, "_id") : json_array_get(ids, i);
        json_t *jix = d ? json_object_get(d, "_index") : NULL;
        json_t *jrt = d ? json_object_get(d, "routing") : NULL;
        const char *name = json_is_string(jix) ? json_string_value(jix) : def_index;
        if (i) kiln_buf_putc(b, ',');
        if (!json_is_string(jid) || !name) {
            kiln_buf_puts(b, "{\"_index\":");
            kiln_buf_json_cstr(b, name ? name : "");
            kiln_buf_puts(b, ",\"_id\":null,\"error\":{\"type\":\"action_request_validation_"
                             "exception\",\"reason\":\"Validation Failed: 1: id is missing;\"}}");
            continue;
        }
        kiln_error err;
        kiln_index *idx = kiln_node_get(kiln__node, name, &err);
        if (!idx || kiln_index_blocked(idx, KILN_OP_CLASS_READ, &err)) { /* this doc's error */
            if (idx) kiln_index_unref(idx);
            kiln_buf_puts(b, "{\"_index\":");
            kiln_buf_json_cstr(b, name);
            kiln_buf_puts(b, ",\"_id\":");
            kiln_buf_json_cstr(b, json_string_value(jid));
            kiln_buf_printf(b, ",\"error\":{\"type\":\"%s\",\"reason\":", kiln_code_type(err.code));
            kiln_buf_json_cstr(b, err.reason);
            kiln_buf_puts(b, "}}");
            continue;
        }
        kiln__get_into(b, idx, json_string_value(jid),
                       json_is_string(jrt) ? json_string_value(jrt) : NULL, with_source);
        kiln_index_unref(idx);
    }
    kiln_buf_puts(b, "]}");
    resp->status = 200;
    json_decref(body);
    return 0;
}

static const kiln_route kiln__routes[] = {
    {KILN_PUT | KILN_POST, "/{index}/_doc/{id}", kiln__put_doc},
    {KILN_POST, "/{index}/_doc", kiln__put_doc},
    {KILN_GET | KILN_HEAD, "/{index}/_doc/{id}", kiln__get_doc},
    {KILN_DELETE, "/{index}/_doc/{id}", kiln__delete_doc},
    {KILN_PUT | KILN_POST, "/{index}/_create/{id}", kiln__create_doc},
    {KILN_GET | KILN_HEAD, "/{index}/_source/{id}", kiln__get_source},
    {KILN_POST, "/{index}/_update/{id}", kiln__update_doc},
    {KILN_GET | KILN_POST, "/_mget", kiln__mget},
    {KILN_GET | KILN_POST, "/{index}/_mget", kiln__mget},
};

const kiln_route *kiln__routes_doc(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
