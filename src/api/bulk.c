/* _bulk: NDJSON of action lines (index, create, update, delete) each followed by a source line
 * (except delete). Items are applied in order; each gets its own result, one bad item never
 * sinks the others; then one log sync per touched shard makes the whole request durable. */
#include "api/api_int.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Next line of the body: [*line, *line + *len); returns 0 at the end. */
static int kiln__next_line(const char *body, size_t body_len, size_t *pos, const char **line,
                           size_t *len)
{
    while (*pos < body_len) {
        const char *start = body + *pos;
        const char *nl = memchr(start, '\n', body_len - *pos);
        size_t l = nl ? (size_t)(nl - start) : body_len - *pos;
        *pos += l + (nl != NULL);
        size_t t = l;
        while (t && (start[t - 1] == '\r' || start[t - 1] == ' ' || start[t - 1] == '\t')) t--;
        size_t s = 0;
        while (s < t && (start[s] == ' ' || start[s] == '\t')) s++;
        if (s == t) continue; /* blank lines are allowed between items */
        *line = start + s;
        *len = t - s;
        return 1;
    }
    return 0;
}

typedef struct {
    kiln_index *idx;
    unsigned shard;
    uint64_t lsn;
} kiln__touched;

typedef struct {
    kiln__touched *v;
    size_t n, cap;
} kiln__touched_set;

static void kiln__touch(kiln__touched_set *t, kiln_index *idx, unsigned shard, uint64_t lsn)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].idx == idx && t->v[i].shard == shard) {
            if (lsn > t->v[i].lsn) t->v[i].lsn = lsn;
            return;
        }
    if (t->n == t->cap) t->v = kiln_xrealloc(t->v, (t->cap = t->cap ? t->cap * 2 : 8) * sizeof *t->v);
    t->v[t->n++] = (kiln__touched){kiln_index_ref(idx), shard, lsn};
}

static int kiln__op_parse(const char *op, kiln_op_type *out)
{
    static const struct {
        const char *name;
        kiln_op_type op;
    } ops[] = {{"index", KILN_OP_INDEX}, {"create", KILN_OP_CREATE}, {"update", KILN_OP_UPDATE},
               {"delete", KILN_OP_DELETE}};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(op, ops[i].name)) return (*out = ops[i].op), 0;
    return -1;
}

/* Reads a well-formed action line from its tape into w (strings borrowed from the tape) with
 * the same rules as the jansson path below; 0 when the line needs that path (an error to word,
 * or a shape it handles). */
static int kiln__action_fast(const kiln_json *a, kiln_write *w, const char **op,
                             const char **index, char idbuf[64])
{
    const kiln_jnode *root = kiln_json_root(a);
    if (root->type != KILN_JSON_OBJECT || root->v.count != 1) return 0;
    const kiln_jnode *meta = kiln_json_child(root);
    *op = kiln_json_key(a, meta);
    if (meta->type != KILN_JSON_OBJECT || kiln__op_parse(*op, &w->op) < 0) return 0;
    const char *op_type = NULL;
    const kiln_jnode *v = kiln_json_child(meta);
    for (uint32_t k = 0; k < meta->v.count; k++, v = kiln_json_next(a, v)) {
        const char *key = kiln_json_key(a, v);
        int str = v->type == KILN_JSON_STRING, integer = v->type == KILN_JSON_INT;
        if (!strcmp(key, "_index")) {
            if (str) *index = kiln_json_string(a, v);
        } else if (!strcmp(key, "_id")) {
            if (str) {
                w->id = kiln_json_string(a, v);
                w->idlen = v->v.s.len;
            } else if (integer) {
                snprintf(idbuf, 64, "%lld", (long long)v->v.i);
                w->id = idbuf;
                w->idlen = strlen(idbuf);
            }
        } else if (!strcmp(key, "routing")) {
            if (str) w->routing = kiln_json_string(a, v);
        } else if (!strcmp(key, "if_seq_no")) {
            if (integer) w->opts.if_seq_no = v->v.i;
        } else if (!strcmp(key, "if_primary_term")) {
            if (integer) w->opts.if_primary_term = v->v.i;
        } else if (!strcmp(key, "op_type")) {
            if (str) op_type = kiln_json_string(a, v);
        }
    }
    if (w->op == KILN_OP_INDEX && op_type && !strcmp(op_type, "create")) {
        w->op = KILN_OP_CREATE; /* {"index": {"op_type": "create"}} is a create, as ES reports */
        *op = "create";
    }
    return 1;
}

static int kiln__bad_action(kiln_resp *resp, size_t lineno, const char *why)
{
    return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                          "Malformed action/metadata line [%zu], %s", lineno, why);
}

static void kiln__item_error(kiln_buf *b, const char *op, const char *index, const char *id,
                             size_t idlen, const kiln_error *err)
{
    kiln_buf_printf(b, "{\"%s\":{\"_index\":", op);
    kiln_buf_json_cstr(b, index ? index : "");
    kiln_buf_puts(b, ",\"_id\":");
    if (id)
        kiln_buf_json_str(b, id, idlen);
    else
        kiln_buf_puts(b, "null");
    kiln_buf_printf(b, ",\"status\":%d,\"error\":{\"type\":\"%s\",\"reason\":",
                    kiln_code_status(err->code), kiln_code_type(err->code));
    kiln_buf_json_cstr(b, err->reason);
    if (index) {
        kiln_buf_puts(b, ",\"index\":");
        kiln_buf_json_cstr(b, index);
    }
    kiln_buf_puts(b, "}}}");
}

static int kiln__bulk(kiln_req *req, kiln_resp *resp)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (kiln__refresh_check(req, resp)) return 0;
    const char *def_index = kiln_req_param(req, "index");
    const char *def_routing = kiln_req_query(req, "routing");
    kiln_buf items = KILN_BUF_INIT;
    kiln__touched_set touched = {0};
    int errors = 0, nitems = 0, rc = 0;
    size_t pos = 0, lineno = 0;
    const char *line;
    size_t len;
    json_t *action = NULL;
    kiln_json source = KILN_JSON_INIT; /* one parse buffer for every item's source */
    kiln_json action_tape = KILN_JSON_INIT;
    while (kiln__next_line(req->body, req->body_len, &pos, &line, &len)) {
        lineno++;
        kiln_write w = {.opts = KILN_WRITE_OPTS_INIT, .scratch = &source};
        const char *op = NULL, *index = def_index;
        char idbuf[64];
        /* the common, well-formed action line goes through the tape; anything else (errors to
         * word, duplicate keys jansson tolerates) through jansson as before */
        if (kiln_json_parse(&action_tape, line, len) == 0 &&
            kiln__action_fast(&action_tape, &w, &op, &index, idbuf)) {
            if (!w.routing) w.routing = def_routing;
        } else {
            json_error_t jerr;
            action = json_loadb(line, len, 0, &jerr);
            if (json_is_object(action) && json_object_size(action) == 0) {
                rc = kiln__bad_action(resp, lineno, "expected FIELD_NAME but found [END_OBJECT]");
                goto done;
            }
            if (!json_is_object(action) || json_object_size(action) != 1) {
                char why[256];
                snprintf(why, sizeof why, "expected a JSON object with one key (index, create, "
                         "update or delete)%s%s", action ? "" : ": ", action ? "" : jerr.text);
                rc = kiln__bad_action(resp, lineno, why);
                goto done;
            }
            op = json_object_iter_key(json_object_iter(action));
            json_t *meta = json_object_iter_value(json_object_iter(action));
            if (kiln__op_parse(op, &w.op) < 0) {
                char why[300];
                snprintf(why, sizeof why, "expected one of [create, delete, index, update] but found [%s]", op);
                rc = kiln__bad_action(resp, lineno, why);
                goto done;
            }
            if (!json_is_object(meta)) {
                rc = kiln__bad_action(resp, lineno, "expected START_OBJECT after the action name");
                goto done;
            }
            json_t *ji = json_object_get(meta, "_index"), *jid = json_object_get(meta, "_id");
            json_t *jr = json_object_get(meta, "routing");
            json_t *js = json_object_get(meta, "if_seq_no"), *jt = json_object_get(meta, "if_primary_term");
            if (json_is_string(ji)) index = json_string_value(ji);
            if (json_is_string(jid)) {
                w.id = json_string_value(jid);
                w.idlen = json_string_length(jid);
            } else if (json_is_integer(jid)) {
                snprintf(idbuf, 64, "%lld", (long long)json_integer_value(jid));
                w.id = idbuf;
                w.idlen = strlen(idbuf);
            }
            w.routing = json_is_string(jr) ? json_string_value(jr) : def_routing;
            if (json_is_integer(js)) w.opts.if_seq_no = json_integer_value(js);
            if (json_is_integer(jt)) w.opts.if_primary_term = json_integer_value(jt);
            json_t *jop = json_object_get(meta, "op_type");
            if (w.op == KILN_OP_INDEX && json_is_string(jop) && !strcmp(json_string_value(jop), "create"))
            {
                w.op = KILN_OP_CREATE; /* {"index": {"op_type": "create"}} is a create, as ES reports */
                op = "create";
            }
        }
        if (w.op != KILN_OP_DELETE) {
            if (!kiln__next_line(req->body, req->body_len, &pos, &line, &len)) {
                rc = kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                                    "The bulk request must be terminated by a newline [\\n]; "
                                    "the [%s] action on line [%zu] has no source line",
                                    op, lineno);
                goto done;
            }
            lineno++;
            w.body = line;
            w.body_len = len;
        }
        if (!index) {
            rc = kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                                "Validation Failed: 1: index is missing;");
            goto done;
        }
        if (nitems++) kiln_buf_putc(&items, ',');
        kiln_error err;
        kiln_error_clear(&err);
        kiln_index *idx = w.op == KILN_OP_DELETE ? kiln_node_get(kiln__node, index, &err)
                                                 : kiln_node_get_or_create(kiln__node, index, &err);
        if (!idx || kiln_index_write(idx, &w, &err)) {
            if (!w.id) w.idlen = 0;
            kiln__item_error(&items, op, index, w.id, w.idlen, &err);
            errors = 1;
        } else {
            if (w.lsn) kiln__touch(&touched, idx, w.shard, w.lsn);
            kiln_buf_printf(&items, "{\"%s\":{", op);
            kiln__write_result(&items, idx, &w);
            kiln_buf_printf(&items, ",\"status\":%d}}", w.status);
        }
        json_decref(w.get_source);
        kiln_index_unref(idx);
        json_decref(action);
        action = NULL;
    }
    if (nitems == 0) {
        rc = kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                            "Validation Failed: 1: no requests added;");
        goto done;
    }
    /* Nothing is acknowledged until every touched shard's log is on disk. */
    for (size_t i = 0; i < touched.n; i++) {
        kiln_error err;
        if (kiln_index_sync(touched.v[i].idx, touched.v[i].shard, touched.v[i].lsn, &err)) {
            rc = kiln__reply(resp, &err);
            goto done;
        }
    }
    int forced = 0;
    for (size_t i = 0; i < touched.n; i++) {
        int f = kiln__refresh_param(req, resp, touched.v[i].idx);
        if (f < 0) goto done;
        forced |= f;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long took = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    kiln_buf *b = &resp->body;
    kiln_buf_reset(b);
    kiln_buf_reserve(b, items.len + 64);
    kiln_buf_printf(b, "{\"took\":%ld,\"errors\":%s,\"items\":[", took, errors ? "true" : "false");
    kiln_buf_append(b, items.data, items.len);
    kiln_buf_puts(b, "]}");
    resp->status = 200;
done:
    json_decref(action);
    kiln_json_dispose(&source);
    kiln_json_dispose(&action_tape);
    for (size_t i = 0; i < touched.n; i++) kiln_index_unref(touched.v[i].idx);
    free(touched.v);
    kiln_buf_free(&items);
    return rc;
}

static const kiln_route kiln__routes[] = {
    {KILN_POST | KILN_PUT, "/_bulk", kiln__bulk},
    {KILN_POST | KILN_PUT, "/{index}/_bulk", kiln__bulk},
};

const kiln_route *kiln__routes_bulk(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
