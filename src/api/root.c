/* Node-level endpoints: GET /, cluster health, _cat. */
#include "api/api_int.h"
#include "core/buf.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KILN_CLUSTER_NAME "kiln"

static int kiln__root(kiln_req *req, kiln_resp *resp)
{
    char host[256] = "kiln";
    gethostname(host, sizeof host - 1);
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s},s:s}", "name", host,
        "cluster_name", KILN_CLUSTER_NAME, "cluster_uuid", kiln_node_uuid(kiln__node), "version",
        "distribution", "opensearch", "number", "2.11.0", "build_type", "tar", "build_hash",
        "kiln", "build_date", "2026-11-25T00:00:00Z", "build_snapshot", 0, "lucene_version",
        "9.7.0", "minimum_wire_compatibility_version", "7.10.0",
        "minimum_index_compatibility_version", "7.0.0", "tagline",
        "The OpenSearch Project: https://opensearch.org/");
    return kiln__reply_json(resp, 200, j);
}

typedef struct {
    long primaries, replicas_unassigned;
} kiln__shard_counts;

static kiln__shard_counts kiln__count_shards(kiln_index **list, size_t n)
{
    kiln__shard_counts c = {0, 0};
    for (size_t i = 0; i < n; i++) {
        c.primaries += list[i]->nshards;
        c.replicas_unassigned +=
            list[i]->nshards * kiln_index_replicas(list[i]);
    }
    return c;
}

static const char *kiln__health_of(const kiln_index *idx)
{
    return kiln_index_replicas(idx) > 0 ? "yellow"
                                                                               : "green";
}

static int kiln__health_rank(const char *s)
{
    return !strcmp(s, "green") ? 0 : !strcmp(s, "yellow") ? 1 : 2;
}

static int kiln__cluster_health(kiln_req *req, kiln_resp *resp)
{
    kiln_index **list;
    size_t n;
    kiln_error err;
    const char *target = kiln_req_param(req, "index");
    if (kiln_node_resolve(kiln__node, target ? target : "_all", 0, 1, &list, &n, &err))
        return kiln__reply(resp, &err);
    kiln__shard_counts c = kiln__count_shards(list, n);
    const char *status = c.replicas_unassigned ? "yellow" : "green";
    const char *want = kiln_req_query(req, "wait_for_status");
    if (want && strcmp(want, "green") && strcmp(want, "yellow") && strcmp(want, "red")) {
        kiln_node_release(list, n);
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "unknown cluster health status [%s]", want);
    }
    /* A single node never assigns replicas, so waiting cannot change the answer: report the
     * timeout at once instead of holding the request. */
    int timed_out = want && kiln__health_rank(status) > kiln__health_rank(want);
    long total = c.primaries + c.replicas_unassigned;
    json_t *j = json_pack(
        "{s:s,s:s,s:b,s:i,s:i,s:b,s:b,s:I,s:I,s:i,s:i,s:I,s:i,s:i,s:i,s:i,s:f}",
        "cluster_name", KILN_CLUSTER_NAME, "status", status, "timed_out", timed_out,
        "number_of_nodes", 1, "number_of_data_nodes", 1, "discovered_master", 1,
        "discovered_cluster_manager", 1, "active_primary_shards", (json_int_t)c.primaries,
        "active_shards", (json_int_t)c.primaries, "relocating_shards", 0, "initializing_shards",
        0, "unassigned_shards", (json_int_t)c.replicas_unassigned, "delayed_unassigned_shards", 0,
        "number_of_pending_tasks", 0, "number_of_in_flight_fetch", 0,
        "task_max_waiting_in_queue_millis", 0, "active_shards_percent_as_number",
        total ? 100.0 * (double)c.primaries / (double)total : 100.0);
    if (kiln_req_query(req, "level") && !strcmp(kiln_req_query(req, "level"), "indices")) {
        json_t *ix = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(ix, list[i]->name,
                                json_pack("{s:s,s:I,s:I}", "status", kiln__health_of(list[i]),
                                          "number_of_shards", (json_int_t)list[i]->nshards,
                                          "active_primary_shards",
                                          (json_int_t)list[i]->nshards));
        json_object_set_new(j, "indices", ix);
    }
    kiln_node_release(list, n);
    return kiln__reply_json(resp, timed_out ? 408 : 200, j);
}

/* ---- _cat ------------------------------------------------------------------------------ */

#define KILN_CAT_MAX_COLS 16

typedef struct {
    const char *name;
    const char *alias;
    int numeric; /* right-aligned, and sorted numerically */
    int shown_by_default;
} kiln__cat_col;

/* Renders rows (arrays of strings) as _cat does: ?v headers, ?h column choice, ?format=json,
 * ?s sorting; text columns padded to their widest value. */
static int kiln__cat_render(kiln_req *req, kiln_resp *resp, const kiln__cat_col *cols,
                            size_t ncols, char ***rows, size_t nrows)
{
    int sel[KILN_CAT_MAX_COLS];
    size_t nsel = 0;
    const char *h = kiln_req_query(req, "h");
    if (h && *h) {
        char *copy = kiln_xstrdup(h);
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && nsel < KILN_CAT_MAX_COLS;
             t = strtok_r(NULL, ",", &save)) {
            int matched = 0;
            for (size_t c = 0; c < ncols && nsel < KILN_CAT_MAX_COLS; c++) {
                if (fnmatch(t, cols[c].name, 0) && strcmp(cols[c].alias, t)) continue;
                sel[nsel++] = (int)c;
                matched = 1;
            }
            if (!matched) {
                kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                               "header [%s] is not a column of this _cat API", t);
                free(copy);
                return 0;
            }
        }
        free(copy);
    } else {
        for (size_t c = 0; c < ncols; c++)
            if (cols[c].shown_by_default) sel[nsel++] = (int)c;
    }
    const char *fmt = kiln_req_query(req, "format");
    if (fmt && !strcmp(fmt, "json")) {
        json_t *arr = json_array();
        for (size_t r = 0; r < nrows; r++) {
            json_t *o = json_object();
            for (size_t k = 0; k < nsel; k++)
                json_object_set_new(o, cols[sel[k]].name, json_string(rows[r][sel[k]]));
            json_array_append_new(arr, o);
        }
        return kiln__reply_json(resp, 200, arr);
    }
    if (fmt && !strcmp(fmt, "yaml")) {
        kiln_buf y = KILN_BUF_INIT;
        kiln_buf_puts(&y, nrows ? "---\n" : "--- []\n");
        for (size_t r = 0; r < nrows; r++)
            for (size_t k = 0; k < nsel; k++) {
                kiln_buf_printf(&y, "%s\"%s\": ", k ? "  " : "- ", cols[sel[k]].name);
                kiln_buf_json_cstr(&y, rows[r][sel[k]]); /* a JSON string is a YAML string */
                kiln_buf_putc(&y, '\n');
            }
        kiln_resp_text(resp, 200, y.data);
        resp->content_type = "application/yaml";
        kiln_buf_free(&y);
        return 0;
    }
    if (fmt && strcmp(fmt, "json") && strcmp(fmt, "txt") && strcmp(fmt, "text"))
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "Unsupported format [%s]: use txt, json or yaml", fmt);
    int verbose = kiln_req_query_bool(req, "v", 0) == 1;
    size_t width[KILN_CAT_MAX_COLS] = {0};
    for (size_t k = 0; k < nsel; k++) {
        width[k] = verbose ? strlen(cols[sel[k]].name) : 0;
        for (size_t r = 0; r < nrows; r++)
            if (strlen(rows[r][sel[k]]) > width[k]) width[k] = strlen(rows[r][sel[k]]);
    }
    kiln_buf b = KILN_BUF_INIT;
    for (size_t r = verbose ? 0 : 1; r <= nrows; r++) {
        for (size_t k = 0; k < nsel; k++) {
            const char *v = r == 0 ? cols[sel[k]].name : rows[r - 1][sel[k]];
            int last = k + 1 == nsel;
            if (cols[sel[k]].numeric && r > 0)
                kiln_buf_printf(&b, "%*s", (int)width[k], v);
            else if (last)
                kiln_buf_puts(&b, v);
            else
                kiln_buf_printf(&b, "%-*s", (int)width[k], v);
            if (!last) kiln_buf_putc(&b, ' ');
        }
        kiln_buf_putc(&b, '\n');
    }
    kiln_resp_text(resp, 200, b.data ? b.data : "");
    kiln_buf_free(&b);
    return 0;
}

/* The epoch and timestamp columns of _cat/health and _cat/count (64-byte cells). */
static void kiln__cat_clock(char *epoch, char *timestamp)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(epoch, 64, "%lld", (long long)now);
    strftime(timestamp, 64, "%H:%M:%S", &tm);
}

static int kiln__cat_indices(kiln_req *req, kiln_resp *resp)
{
    static const kiln__cat_col cols[] = {
        {"health", "h", 0, 1},         {"status", "s", 0, 1},
        {"index", "i", 0, 1},          {"uuid", "id", 0, 1},
        {"pri", "p", 1, 1},            {"rep", "r", 1, 1},
        {"docs.count", "dc", 1, 1},    {"docs.deleted", "dd", 1, 1},
        {"store.size", "ss", 1, 1},    {"pri.store.size", "pss", 1, 1},
        {"creation.date", "cd", 1, 0}, {"creation.date.string", "cds", 0, 0},
    };
    enum { NCOLS = sizeof cols / sizeof *cols };
    kiln_index **list;
    size_t n;
    kiln_error err;
    const char *target = kiln_req_param(req, "index");
    if (kiln_node_resolve(kiln__node, target ? target : "_all", 0, 1, &list, &n, &err))
        return kiln__reply(resp, &err);
    const char *bytes = kiln_req_query(req, "bytes");
    char ***rows = kiln_xcalloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        kiln_index *idx = list[i];
        kiln_shard_stats st;
        kiln_index_stats(idx, &st);
        char buf[NCOLS][64];
        snprintf(buf[0], 64, "%s", kiln__health_of(idx));
        snprintf(buf[1], 64, "open");
        snprintf(buf[3], 64, "%s", idx->uuid);
        snprintf(buf[4], 64, "%u", idx->nshards);
        snprintf(buf[5], 64, "%d", kiln_index_replicas(idx));
        snprintf(buf[6], 64, "%llu", (unsigned long long)st.docs);
        snprintf(buf[7], 64, "%llu", (unsigned long long)st.deleted);
        if (bytes && !strcmp(bytes, "b"))
            snprintf(buf[8], 64, "%llu", (unsigned long long)st.store_bytes);
        else
            kiln__human_bytes(buf[8], 64, st.store_bytes);
        snprintf(buf[9], 64, "%s", buf[8]);
        snprintf(buf[10], 64, "%lld", (long long)idx->creation_date);
        time_t secs = (time_t)(idx->creation_date / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(buf[11], 64, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        rows[i] = kiln_xcalloc(NCOLS, sizeof **rows);
        for (size_t c = 0; c < NCOLS; c++)
            rows[i][c] = c == 2 ? kiln_xstrdup(idx->name) : kiln_xstrdup(buf[c]);
    }
    kiln__cat_render(req, resp, cols, NCOLS, rows, n);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < NCOLS; c++) free(rows[i][c]);
        free(rows[i]);
    }
    free(rows);
    kiln_node_release(list, n);
    return 0;
}

static int kiln__cat_health(kiln_req *req, kiln_resp *resp)
{
    static const kiln__cat_col cols[] = {
        {"epoch", "t", 1, 1},       {"timestamp", "ts", 0, 1}, {"cluster", "cl", 0, 1},
        {"status", "st", 0, 1},     {"node.total", "nt", 1, 1}, {"node.data", "nd", 1, 1},
        {"shards", "t", 1, 1},      {"pri", "p", 1, 1},        {"unassign", "u", 1, 1},
    };
    enum { NCOLS = sizeof cols / sizeof *cols };
    kiln_index **list;
    size_t n;
    kiln_error err;
    if (kiln_node_resolve(kiln__node, "_all", 0, 1, &list, &n, &err))
        return kiln__reply(resp, &err);
    kiln__shard_counts c = kiln__count_shards(list, n);
    kiln_node_release(list, n);
    char buf[NCOLS][64];
    kiln__cat_clock(buf[0], buf[1]);
    snprintf(buf[2], 64, KILN_CLUSTER_NAME);
    snprintf(buf[3], 64, "%s", c.replicas_unassigned ? "yellow" : "green");
    snprintf(buf[4], 64, "1");
    snprintf(buf[5], 64, "1");
    snprintf(buf[6], 64, "%ld", c.primaries);
    snprintf(buf[7], 64, "%ld", c.primaries);
    snprintf(buf[8], 64, "%ld", c.replicas_unassigned);
    char *row[NCOLS];
    for (size_t k = 0; k < NCOLS; k++) row[k] = buf[k];
    char **rows[1] = {row};
    return kiln__cat_render(req, resp, cols, NCOLS, rows, 1);
}

/* _cat/count[/{index}]: the searchable documents (a _count of match_all, as ES). */
static int kiln__cat_count(kiln_req *req, kiln_resp *resp)
{
    static const kiln__cat_col cols[] = {
        {"epoch", "t", 1, 1}, {"timestamp", "ts", 0, 1}, {"count", "dc", 1, 1}};
    enum { NCOLS = sizeof cols / sizeof *cols };
    const char *index = kiln_req_param(req, "index");
    kiln_req *sub = kiln_req_sub_new(KILN_GET, "", 0, index ? index : "_all", NULL, NULL, 0);
    kiln_resp r = {0};
    kiln__search_run(sub, &r, 1);
    kiln_req_sub_free(sub);
    json_t *j = r.status == 200 ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
    if (!j) { /* the count's error (e.g. no such index) is the answer */
        resp->status = r.status;
        resp->body = r.body;
        return 0;
    }
    kiln_buf_free(&r.body);
    char buf[NCOLS][64];
    kiln__cat_clock(buf[0], buf[1]);
    snprintf(buf[2], 64, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(j, "count")));
    json_decref(j);
    char *row[NCOLS] = {buf[0], buf[1], buf[2]};
    char **rows[1] = {row};
    return kiln__cat_render(req, resp, cols, NCOLS, rows, 1);
}

/* GET /_cat: the _cat APIs there are, as ES lists them. */
static int kiln__cat_list(kiln_req *req, kiln_resp *resp)
{
    (void)req;
    kiln_resp_text(resp, 200, "=^.^=\n/_cat/count\n/_cat/count/{index}\n/_cat/health\n"
                              "/_cat/indices\n/_cat/indices/{index}\n");
    return 0;
}

static const kiln_route kiln__routes[] = {
    {KILN_GET | KILN_HEAD, "/", kiln__root},
    {KILN_GET, "/_cat", kiln__cat_list},
    {KILN_GET, "/_cat/count", kiln__cat_count},
    {KILN_GET, "/_cat/count/{index}", kiln__cat_count},
    {KILN_GET, "/_cluster/health", kiln__cluster_health},
    {KILN_GET, "/_cluster/health/{index}", kiln__cluster_health},
    {KILN_GET, "/_cat/indices", kiln__cat_indices},
    {KILN_GET, "/_cat/indices/{index}", kiln__cat_indices},
    {KILN_GET, "/_cat/health", kiln__cat_health},
};

const kiln_route *kiln__routes_root(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
