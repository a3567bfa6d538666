/* Index endpoints: create, get, exists, delete, mappings, settings, refresh, flush. */
#include "api/api_int.h"
#include "core/buf.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kiln__create_index(kiln_req *req, kiln_resp *resp)
{
    int ok;
    json_t *body = kiln__body_json(req, resp, &ok);
    if (!ok) return 0;
    kiln_error err;
    const char *name = kiln_req_param(req, "index");
    kiln_index *idx = kiln_node_create(kiln__node, name, body, &err);
    json_decref(body);
    if (!idx) return kiln__reply(resp, &err);
    char soft_buf[16];
    const char *soft =
        kiln_index_setting(idx, "index.soft_deletes.enabled", soft_buf, sizeof soft_buf);
    if (soft && !strcmp(soft, "false")) {
        char warn[512];
        snprintf(warn, sizeof warn,
                 "299 Kiln \"Creating indices with soft-deletes disabled is deprecated and will be "
                 "removed in future OpenSearch versions. Please do not specify value for setting "
                 "[index.soft_deletes.enabled] of index [%s].\"",
                 name);
        kiln_req_add_reply_header(req, "Warning", warn);
    }
    kiln_index_unref(idx);
    return kiln__reply_json(resp, 200,
                            json_pack("{s:b,s:b,s:s}", "acknowledged", 1, "shards_acknowledged",
                                      1, "index", name));
}

static int kiln__index_exists(kiln_req *req, kiln_resp *resp)
{
    kiln_index **list;
    size_t n;
    kiln_error err;
    int rc = kiln_node_resolve(kiln__node, kiln_req_param(req, "index"), 0, 0, &list, &n, &err);
    if (rc == 0) kiln_node_release(list, n);
    resp->status = rc == 0 && n > 0 ? 200 : 404;
    return 0;
}

/* Answers {"<index>": section(index), ...} over the indices {index} names. */
static int kiln__per_index(kiln_req *req, kiln_resp *resp, json_t *(*section)(kiln_index *))
{
    kiln_index **list;
    size_t n;
    if (kiln__resolve_indices(req, resp, &list, &n)) return 0;
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++) json_object_set_new(out, list[i]->name, section(list[i]));
    kiln_node_release(list, n);
    return kiln__reply_json(resp, 200, out);
}

static json_t *kiln__index_section(kiln_index *idx)
{
    kiln_mapping *m = kiln_index_mapping(idx);
    json_t *j = json_pack("{s:{},s:O,s:o}", "aliases", "mappings", m->json, "settings",
                          kiln_index_settings_json(idx));
    kiln_mapping_unref(m);
    return j;
}

static json_t *kiln__mapping_section(kiln_index *idx)
{
    kiln_mapping *m = kiln_index_mapping(idx);
    json_t *j = json_pack("{s:O}", "mappings", m->json);
    kiln_mapping_unref(m);
    return j;
}

static int kiln__get_index(kiln_req *req, kiln_resp *resp)
{
    return kiln__per_index(req, resp, kiln__index_section);
}

static int kiln__get_mapping(kiln_req *req, kiln_resp *resp)
{
    return kiln__per_index(req, resp, kiln__mapping_section);
}

/* Whether key matches one of the comma-separated wildcard patterns of names (NULL or "_all":
 * every key). */
static int kiln__named(const char *names, const char *key)
{
    if (!names || !strcmp(names, "_all")) return 1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *save, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (!fnmatch(p, key, 0)) return 1;
    return 0;
}

/* A setting's name may leave out the "index." prefix. */
static int kiln__setting_named(const char *names, const char *key)
{
    return kiln__named(names, key) || kiln__named(names, key + strlen("index."));
}

/* The settings of flat that names selects, flat or nested. */
static json_t *kiln__settings_view(json_t *flat, const char *names, int as_flat)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(flat, k, v)
    {
        if (kiln__setting_named(names, k)) json_object_set(out, k, v);
    }
    if (as_flat) return out;
    json_t *nested = kiln_settings_nest(out);
    json_decref(out);
    return nested;
}

/* What an index uses for the dynamic settings it has not set (include_defaults). */
static json_t *kiln__settings_defaults(json_t *set)
{
    char buf[3][32]; /* whole seconds, as ES prints them */
    snprintf(buf[0], sizeof buf[0], "%ds", KILN_REFRESH_INTERVAL_DEFAULT_MS / 1000);
    snprintf(buf[1], sizeof buf[1], "%ds", KILN_SEARCH_IDLE_AFTER_DEFAULT_MS / 1000);
    snprintf(buf[2], sizeof buf[2], "%d", KILN_MAX_RESULT_WINDOW_DEFAULT);
    _Static_assert(KILN_REFRESH_INTERVAL_DEFAULT_MS % 1000 == 0 &&
                       KILN_SEARCH_IDLE_AFTER_DEFAULT_MS % 1000 == 0,
                   "defaults shown in whole seconds");
    json_t *d = json_pack("{s:s,s:s,s:s}", "index.refresh_interval", buf[0],
                          "index.search.idle.after", buf[1], "index.max_result_window", buf[2]);
    const char *k;
    json_t *v;
    json_object_foreach(set, k, v) json_object_del(d, k);
    return d;
}

/* GET [/{index}]/_settings[/{name}]: flat_settings and include_defaults as in ES; with names,
 * indices none of whose settings match are left out. */
static int kiln__get_settings(kiln_req *req, kiln_resp *resp)
{
    kiln_index **list;
    size_t n;
    if (kiln__resolve_indices(req, resp, &list, &n)) return 0;
    const char *names = kiln_req_param(req, "name");
    int as_flat = kiln_req_query_bool(req, "flat_settings", 0) == 1;
    int defaults = kiln_req_query_bool(req, "include_defaults", 0) == 1;
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *flat = kiln_index_settings_flat(list[i]);
        json_t *sec = json_pack("{s:o}", "settings", kiln__settings_view(flat, names, as_flat));
        if (defaults) {
            json_t *d = kiln__settings_defaults(flat);
            json_object_set_new(sec, "defaults", kiln__settings_view(d, names, as_flat));
            json_decref(d);
        }
        if (!names || json_object_size(json_object_get(sec, "settings")) ||
            json_object_size(json_object_get(sec, "defaults")))
            json_object_set(out, list[i]->name, sec);
        json_decref(sec);
        json_decref(flat);
    }
    kiln_node_release(list, n);
    return kiln__reply_json(resp, 200, out);
}

/* Applies the request body to every index named ({index}, or all): the first failure answers;
 * an empty body fails with if_empty (NULL: passed on as NULL). */
static int kiln__update_each(kiln_req *req, kiln_resp *resp, const char *if_empty,
                             int (*update)(kiln_index *, json_t *, kiln_error *))
{
    int ok;
    json_t *body = kiln__body_json(req, resp, &ok);
    if (!ok) return 0;
    if (!body && if_empty) return kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION, "%s", if_empty);
    kiln_index **list;
    size_t n;
    if (kiln__resolve_indices(req, resp, &list, &n)) {
        json_decref(body);
        return 0;
    }
    kiln_error err;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = update(list[i], body, &err);
    kiln_node_release(list, n);
    json_decref(body);
    if (rc) return kiln__reply(resp, &err);
    return kiln__reply_json(resp, 200, json_pack("{s:b}", "acknowledged", 1));
}

/* PUT [/{index}]/_settings: dynamic settings of every index named (all of them without one). */
static int kiln__put_settings(kiln_req *req, kiln_resp *resp)
{
    return kiln__update_each(req, resp, NULL, kiln_node_put_settings);
}

/* GET [/{index}]/_mapping/field/{fields}: every field whose full path matches one of the
 * patterns, as {"full_name", "mapping": {its last name: its definition}}. */
static int kiln__get_field_mapping(kiln_req *req, kiln_resp *resp)
{
    kiln_index **list;
    size_t n;
    if (kiln__resolve_indices(req, resp, &list, &n)) return 0;
    const char *fields = kiln_req_param(req, "fields");
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++) {
        kiln_mapping *m = kiln_index_mapping(list[i]);
        json_t *found = json_object();
        for (size_t f = 0; f < m->nfields; f++) {
            const kiln_field *fd = &m->fields[f];
            if (!kiln__named(fields, fd->path)) continue;
            const char *dot = strrchr(fd->path, '.');
            json_object_set_new(found, fd->path,
                                json_pack("{s:s,s:{s:O}}", "full_name", fd->path, "mapping",
                                          dot ? dot + 1 : fd->path, fd->def));
        }
        kiln_mapping_unref(m);
        json_object_set_new(out, list[i]->name, json_pack("{s:o}", "mappings", found));
    }
    kiln_node_release(list, n);
    return kiln__reply_json(resp, 200, out);
}

static int kiln__delete_index(kiln_req *req, kiln_resp *resp)
{
    kiln_index **list;
    size_t n;
    if (kiln__resolve_indices(req, resp, &list, &n)) return 0;
    for (size_t i = 0; i < n; i++) {
        kiln_error err;
        /* Already gone (a concurrent delete) is fine: the outcome is the same. */
        kiln_node_delete(kiln__node, list[i]->name, &err);
    }
    kiln_node_release(list, n);
    return kiln__reply_json(resp, 200, json_pack("{s:b}", "acknowledged", 1));
}


static int kiln__put_mapping(kiln_req *req, kiln_resp *resp)
{
    return kiln__update_each(req, resp, "Validation Failed: 1: mapping source is empty;",
                             kiln_index_put_mapping);
}


typedef int (*kiln__shards_fn)(kiln_index *idx, const void *arg, kiln_error *err);

/* {"_shards": {...}} for refresh, flush and force merge. */
static int kiln__shards_op(kiln_req *req, kiln_resp *resp, kiln__shards_fn op, const void *arg)
{
    kiln_index **list;
    size_t n;
    if (kiln__resolve_indices(req, resp, &list, &n)) return 0;
    long total = 0, ok = 0;
    kiln_error err;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        long rep = kiln_index_replicas(list[i]);
        total += (long)list[i]->nshards * (1 + rep);
        if (op(list[i], arg, &err) == 0)
            ok += list[i]->nshards;
        else
            rc = -1;
    }
    kiln_node_release(list, n);
    if (rc) return kiln__reply(resp, &err);
    return kiln__reply_json(resp, 200,
                            json_pack("{s:{s:I,s:I,s:i}}", "_shards", "total", (json_int_t)total,
                                      "successful", (json_int_t)ok, "failed", 0));
}

static int kiln__refresh_op(kiln_index *idx, const void *arg, kiln_error *err)
{
    (void)arg;
    return kiln_index_refresh(idx, err);
}

static int kiln__flush_op(kiln_index *idx, const void *arg, kiln_error *err)
{
    (void)arg;
    return kiln_index_flush(idx, err);
}

static int kiln__force_merge_op(kiln_index *idx, const void *arg, kiln_error *err)
{
    return kiln_index_force_merge(idx, *(const size_t *)arg, err);
}

static int kiln__refresh(kiln_req *req, kiln_resp *resp)
{
    return kiln__shards_op(req, resp, kiln__refresh_op, NULL);
}

static int kiln__flush(kiln_req *req, kiln_resp *resp)
{
    return kiln__shards_op(req, resp, kiln__flush_op, NULL);
}

/* POST /{index}/_forcemerge?max_num_segments=N: without N, merges what the merge policy
 * would; the result is flushed (committed, replaced files deleted) before the reply. */
static int kiln__force_merge(kiln_req *req, kiln_resp *resp)
{
    int64_t max = 0;
    if (kiln__query_i64(req, resp, "max_num_segments", 0, &max)) return 0;
    if (kiln_req_query(req, "max_num_segments") && max < 1)
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "[max_num_segments] must be at least 1, got [%lld]", (long long)max);
    const char *expunge = kiln_req_query(req, "only_expunge_deletes");
    if (expunge && strcmp(expunge, "false") != 0)
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "[only_expunge_deletes] is not supported: Kiln's merges keep the "
                              "space of deleted documents; use max_num_segments");
    size_t segs = (size_t)max;
    return kiln__shards_op(req, resp, kiln__force_merge_op, &segs);
}

static const kiln_route kiln__routes[] = {
    {KILN_PUT, "/{index}", kiln__create_index},
    {KILN_GET, "/{index}", kiln__get_index},
    {KILN_HEAD, "/{index}", kiln__index_exists},
    {KILN_DELETE, "/{index}", kiln__delete_index},
    {KILN_GET, "/_mapping", kiln__get_mapping},
    {KILN_GET, "/{index}/_mapping", kiln__get_mapping},
    {KILN_PUT | KILN_POST, "/{index}/_mapping", kiln__put_mapping},
    {KILN_GET, "/_mapping/field/{fields}", kiln__get_field_mapping},
    {KILN_GET, "/{index}/_mapping/field/{fields}", kiln__get_field_mapping},
    {KILN_GET, "/_settings", kiln__get_settings},
    {KILN_GET, "/{index}/_settings", kiln__get_settings},
    {KILN_GET, "/_settings/{name}", kiln__get_settings},
    {KILN_GET, "/{index}/_settings/{name}", kiln__get_settings},
    {KILN_PUT, "/_settings", kiln__put_settings},
    {KILN_PUT, "/{index}/_settings", kiln__put_settings},
    {KILN_GET | KILN_POST, "/_refresh", kiln__refresh},
    {KILN_GET | KILN_POST, "/{index}/_refresh", kiln__refresh},
    {KILN_GET | KILN_POST, "/_flush", kiln__flush},
    {KILN_GET | KILN_POST, "/{index}/_flush", kiln__flush},
    {KILN_POST, "/_forcemerge", kiln__force_merge},
    {KILN_POST, "/{index}/_forcemerge", kiln__force_merge},
};

const kiln_route *kiln__routes_indices(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
