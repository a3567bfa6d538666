#include "index/node.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KILN__TICK_MS 100 /* background refresh granularity (finer for shorter intervals) */

struct kiln_node {
    char data_dir[1024];
    char uuid[32];
    pthread_rwlock_t lock;
    kiln_index **indices; /* sorted by name; the node holds one reference each */
    size_t count, cap;
    kiln_workers *workers; /* searches run their shards here */
    /* background: a refresher (index.refresh_interval) and a merger (merges, segment commits),
     * apart so that a long merge never delays refreshes */
    pthread_mutex_t bg_lock;
    pthread_cond_t bg_wake;
    int bg_inited, bg_stop, merge_wanted, bg_started;
    pthread_t refresher, merger;
};

static void kiln__bg_start(kiln_node *n);
static json_t *kiln__setting_find(json_t *settings, const char *key);
static int kiln__parse_time(json_t *v, const char *name, int allow_disabled, int64_t *ms,
                            kiln_error *err);
static void kiln__bg_stop(kiln_node *n);

static int kiln__cmp_name(const void *a, const void *b)
{
    return strcmp((*(kiln_index *const *)a)->name, (*(kiln_index *const *)b)->name);
}

static void kiln__add(kiln_node *n, kiln_index *idx)
{
    int64_t idle_after = kiln_node_search_idle_after(idx);
    for (unsigned s = 0; s < idx->nshards; s++)
        kiln_shard_set_search_idle_after(idx->shards[s], idle_after);
    if (n->count == n->cap)
        n->indices =
            kiln_xrealloc(n->indices, (n->cap = n->cap ? n->cap * 2 : 16) * sizeof *n->indices);
    n->indices[n->count++] = idx;
    qsort(n->indices, n->count, sizeof *n->indices, kiln__cmp_name);
}

static ssize_t kiln__find(const kiln_node *n, const char *name)
{
    size_t lo = 0, hi = n->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(n->indices[mid]->name, name);
        if (c == 0) return (ssize_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

kiln_node *kiln_node_open(const char *data_dir, kiln_error *err)
{
    kiln_node *n = kiln_xcalloc(1, sizeof *n);
    snprintf(n->data_dir, sizeof n->data_dir, "%s", data_dir);
    pthread_rwlock_init(&n->lock, NULL);
    char path[1200];
    snprintf(path, sizeof path, "%s/indices", data_dir);
    if (kiln_fs_mkdirs(path, err)) goto fail;
    /* The node's identity survives restarts. */
    char idpath[1200], *text;
    size_t len;
    snprintf(idpath, sizeof idpath, "%s/node_uuid", data_dir);
    if (kiln_fs_read_all(idpath, &text, &len, NULL) == 0) {
        snprintf(n->uuid, sizeof n->uuid, "%.*s", (int)(len < 31 ? len : 31), text);
        free(text);
    } else {
        kiln_index_gen_id(n->uuid);
        if (kiln_fs_write_atomic(idpath, n->uuid, strlen(n->uuid), err)) goto fail;
    }
    DIR *d = opendir(path);
    if (!d) {
        kiln_fail(err, KILN_E_IO, "cannot open %s", path);
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char dir[1200], meta[1300];
        snprintf(dir, sizeof dir, "%s/%s", path, e->d_name);
        snprintf(meta, sizeof meta, "%s/index.json", dir);
        if (!kiln_fs_exists(meta)) {
            /* A create that crashed before its metadata was written: nothing was acknowledged. */
            KILN_WARN("node", "removing incomplete index directory %s", dir);
            kiln_fs_remove_tree(dir, NULL);
            continue;
        }
        kiln_index *idx = kiln_index_open(dir, err);
        if (!idx) {
            closedir(d);
            goto fail;
        }
        kiln__add(n, idx);
        kiln_shard_stats st;
        kiln_index_stats(idx, &st);
        KILN_INFO("node", "opened index [%s] (%u shards, %llu docs)", idx->name, idx->nshards,
                  (unsigned long long)st.docs);
    }
    closedir(d);
    n->workers = kiln_workers_new(0);
    kiln__bg_start(n);
    return n;
fail:
    kiln_node_close(n);
    return NULL;
}

void kiln_node_close(kiln_node *n)
{
    if (!n) return;
    kiln__bg_stop(n);
    kiln_workers_free(n->workers);
    for (size_t i = 0; i < n->count; i++)
        kiln_index_unref(n->indices[i]);
    free(n->indices);
    pthread_rwlock_destroy(&n->lock);
    free(n);
}

const char *kiln_node_uuid(const kiln_node *n)
{
    return n->uuid;
}

const char *kiln_node_data_dir(const kiln_node *n)
{
    return n->data_dir;
}

static void kiln__not_found(const char *name, kiln_error *err)
{
    kiln_fail(err, KILN_E_INDEX_NOT_FOUND, "no such index [%s]", name);
    kiln_error_set_index(err, name);
}

kiln_index *kiln_node_get(kiln_node *n, const char *name, kiln_error *err)
{
    pthread_rwlock_rdlock(&n->lock);
    ssize_t i = kiln__find(n, name);
    kiln_index *idx = i >= 0 ? kiln_index_ref(n->indices[i]) : NULL;
    pthread_rwlock_unlock(&n->lock);
    if (!idx) kiln__not_found(name, err);
    return idx;
}

static kiln_index *kiln__create_locked(kiln_node *n, const char *name, json_t *body,
                                       kiln_error *err)
{
    if (kiln__find(n, name) >= 0) {
        kiln_fail(err, KILN_E_INDEX_EXISTS, "index [%s/%s] already exists", name,
                  n->indices[kiln__find(n, name)]->uuid);
        kiln_error_set_index(err, name);
        return NULL;
    }
    json_t *settings = json_object_get(body, "settings");
    json_t *ri = kiln__setting_find(settings, "index.refresh_interval");
    if (ri && !json_is_null(ri) && kiln_node_parse_interval(ri, NULL, err)) return NULL;
    json_t *idle = kiln__setting_find(settings, "index.search.idle.after");
    if (idle && !json_is_null(idle) &&
        kiln__parse_time(idle, "index.search.idle.after", 0, NULL, err))
        return NULL;
    json_t *window = kiln__setting_find(settings, "index.max_result_window");
    if (window && !json_is_null(window) &&
        kiln_setting_long(window, "index.max_result_window", 1, INT32_MAX, NULL, err))
        return NULL;
    kiln_index *idx = kiln_index_create(n->data_dir, name, body, err);
    if (!idx) return NULL;
    kiln__add(n, idx);
    KILN_INFO("node", "created index [%s] with %u shards", name, idx->nshards);
    return kiln_index_ref(idx);
}

kiln_index *kiln_node_create(kiln_node *n, const char *name, json_t *body, kiln_error *err)
{
    pthread_rwlock_wrlock(&n->lock);
    kiln_index *idx = kiln__create_locked(n, name, body, err);
    pthread_rwlock_unlock(&n->lock);
    return idx;
}

kiln_index *kiln_node_get_or_create(kiln_node *n, const char *name, kiln_error *err)
{
    kiln_index *idx = kiln_node_get(n, name, NULL);
    if (idx) return idx;
    pthread_rwlock_wrlock(&n->lock);
    ssize_t i = kiln__find(n, name);
    idx = i >= 0 ? kiln_index_ref(n->indices[i]) : kiln__create_locked(n, name, NULL, err);
    pthread_rwlock_unlock(&n->lock);
    return idx;
}

int kiln_node_delete(kiln_node *n, const char *name, kiln_error *err)
{
    pthread_rwlock_wrlock(&n->lock);
    ssize_t i = kiln__find(n, name);
    if (i < 0) {
        pthread_rwlock_unlock(&n->lock);
        kiln__not_found(name, err);
        return -1;
    }
    kiln_index *idx = n->indices[i];
    memmove(&n->indices[i], &n->indices[i + 1], (n->count - (size_t)i - 1) * sizeof *n->indices);
    n->count--;
    /* Mark deleted durably first: a restart must not bring the index back. */
    char meta[1200];
    snprintf(meta, sizeof meta, "%s/index.json", idx->dir);
    unlink(meta);
    kiln_fs_fsync_dir(idx->dir, NULL);
    atomic_store(&idx->deleted, 1);
    pthread_rwlock_unlock(&n->lock);
    KILN_INFO("node", "deleted index [%s]", name);
    kiln_index_unref(idx); /* files go when the last in-flight user lets go */
    return 0;
}

int kiln_node_resolve(kiln_node *n, const char *expr, int ignore_unavailable, int allow_no_indices,
                      kiln_index ***out, size_t *count, kiln_error *err)
{
    *out = NULL;
    *count = 0;
    pthread_rwlock_rdlock(&n->lock);
    char *want = kiln_xcalloc(n->count ? n->count : 1, 1);
    char *copy = kiln_xstrdup(expr && *expr ? expr : "_all");
    int rc = 0, wildcard_seen = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int exclude = tok[0] == '-' && tok[1];
        if (exclude) tok++;
        if (!strcmp(tok, "_all") || strpbrk(tok, "*?")) {
            const char *pat = strcmp(tok, "_all") ? tok : "*";
            wildcard_seen = 1;
            for (size_t i = 0; i < n->count; i++)
                if (fnmatch(pat, n->indices[i]->name, 0) == 0) want[i] = !exclude;
            continue;
        }
        ssize_t i = kiln__find(n, tok);
        if (i >= 0) {
            want[i] = !exclude;
        } else if (!ignore_unavailable && !exclude) {
            kiln__not_found(tok, err);
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        size_t k = 0;
        for (size_t i = 0; i < n->count; i++)
            k += want[i] != 0;
        *out = kiln_xcalloc(k ? k : 1, sizeof **out);
        for (size_t i = 0; i < n->count; i++)
            if (want[i]) (*out)[(*count)++] = kiln_index_ref(n->indices[i]);
        if (k == 0 && !allow_no_indices && wildcard_seen) {
            kiln__not_found(expr, err);
            rc = -1;
        }
    }
    pthread_rwlock_unlock(&n->lock);
    free(want);
    free(copy);
    return rc;
}

void kiln_node_release(kiln_index **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        kiln_index_unref(list[i]);
    free(list);
}

kiln_workers *kiln_node_workers(kiln_node *n)
{
    return n->workers;
}

/* ---- index.refresh_interval, index.search.idle.after ----------------------------------------- */

/* A setting in a create-index "settings" object, whichever way it is spelt: flat
 * ("index.a.b"), nested ({"index": {"a": {"b": ...}}}), mixed, or without "index.". */
static json_t *kiln__setting_find_in(json_t *obj, const char *key)
{
    if (!json_is_object(obj)) return NULL;
    json_t *v = json_object_get(obj, key);
    if (v) return v;
    for (const char *dot = strchr(key, '.'); dot; dot = strchr(dot + 1, '.')) {
        char head[256];
        if ((size_t)(dot - key) >= sizeof head) break;
        memcpy(head, key, (size_t)(dot - key));
        head[dot - key] = 0;
        if ((v = kiln__setting_find_in(json_object_get(obj, head), dot + 1))) return v;
    }
    return NULL;
}

static json_t *kiln__setting_find(json_t *settings, const char *key)
{
    json_t *v = kiln__setting_find_in(settings, key);
    return v ? v : kiln__setting_find_in(settings, key + strlen("index."));
}

static int kiln__parse_time(json_t *v, const char *name, int allow_disabled, int64_t *ms,
                            kiln_error *err)
{
    int64_t out;
    if (kiln_node_parse_interval(v, &out, NULL))
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "failed to parse setting [%s] with value [%s] as a time value: unit is "
                         "missing or unrecognized",
                         name, json_is_string(v) ? json_string_value(v) : "");
    if (out < 0 && !allow_disabled)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "failed to parse value [%s] for setting [%s], must be >= [0ms]",
                         json_is_string(v) ? json_string_value(v) : "-1", name);
    if (ms) *ms = out;
    return 0;
}

/* ---- PUT _settings ------------------------------------------------------------------------- */

/* Settings an open index can change (ES's dynamic ones that Kiln has), and those it cannot. */
static const char *const kiln__dynamic_settings[] = {
    "index.refresh_interval", "index.search.idle.after", "index.number_of_replicas",
    "index.max_result_window", "index.blocks.write", "index.blocks.read_only",
    "index.blocks.read_only_allow_delete", "index.blocks.read"};
static const char *const kiln__static_settings[] = {
    "index.number_of_shards", "index.soft_deletes.enabled", "index.codec"};
static const char *const kiln__private_settings[] = {
    "index.uuid", "index.creation_date", "index.provided_name", "index.version.created"};

static int kiln__listed(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(key, list[i])) return 1;
    return 0;
}

#define KILN__LISTED(key, list) kiln__listed(key, list, sizeof list / sizeof *list)

static int kiln__check_update(void *ctx, kiln_index *idx, const char *key, json_t *v,
                              kiln_error *err)
{
    (void)ctx;
    if (!KILN__LISTED(key, kiln__dynamic_settings)) {
        if (KILN__LISTED(key, kiln__private_settings))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "can not update private setting [%s]; this setting is managed by "
                             "OpenSearch",
                             key);
        if (KILN__LISTED(key, kiln__static_settings) || !strncmp(key, "index.analysis.", 15))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "Can't update non dynamic settings [[%s]] for open indices [[%s/%s]]",
                             key, idx->name, idx->uuid);
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "unknown setting [%s] please check that any required plugins are "
                         "installed, or check the breaking changes documentation for removed "
                         "settings",
                         key);
    }
    int block = !strncmp(key, "index.blocks.", 13);
    /* a read-only index still takes changes of its blocks, as in ES */
    if (!block && kiln_index_blocked(idx, KILN_OP_CLASS_METADATA, err)) return -1;
    if (json_is_null(v)) return 0; /* back to the default */
    if (!json_is_string(v))
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "setting [%s] must be a single value", key);
    if (block && strcmp(json_string_value(v), "true") && strcmp(json_string_value(v), "false"))
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "Failed to parse value [%s] as only [true] or [false] are allowed.",
                         json_string_value(v));
    if (block) return 0;
    if (!strcmp(key, "index.refresh_interval")) return kiln_node_parse_interval(v, NULL, err);
    if (!strcmp(key, "index.search.idle.after")) return kiln__parse_time(v, key, 0, NULL, err);
    if (!strcmp(key, "index.number_of_replicas")) return kiln_setting_long(v, key, 0, 64, NULL, err);
    return kiln_setting_long(v, key, 1, INT32_MAX, NULL, err); /* index.max_result_window */
}

int kiln_node_put_settings(kiln_index *idx, json_t *body, kiln_error *err)
{
    json_t *s = json_object_get(body, "settings");
    if (!s || json_object_size(body) != 1) s = body; /* {"settings": {...}} or the settings */
    if (!json_is_object(s) || !json_object_size(s)) {
        kiln_fail(err, KILN_E_ACTION_VALIDATION, "Validation Failed: 1: no settings to update;");
        return -1;
    }
    if (kiln_index_update_settings(idx, s, kiln__check_update, NULL, err)) {
        kiln_error_set_index(err, idx->name);
        return -1;
    }
    KILN_INFO("node", "updated settings of index [%s]", idx->name);
    return 0;
}

int64_t kiln_node_search_idle_after(const kiln_index *idx)
{
    char buf[64];
    if (kiln_index_setting(idx, "index.refresh_interval", buf, sizeof buf))
        return -1; /* explicit: never idle */
    const char *v = kiln_index_setting(idx, "index.search.idle.after", buf, sizeof buf);
    int64_t ms = KILN_SEARCH_IDLE_AFTER_DEFAULT_MS;
    if (v) {
        json_t *j = json_string(v);
        if (kiln__parse_time(j, "index.search.idle.after", 0, &ms, NULL))
            ms = KILN_SEARCH_IDLE_AFTER_DEFAULT_MS;
        json_decref(j);
    }
    return ms;
}

int kiln_node_parse_interval(json_t *v, int64_t *ms, kiln_error *err)
{
    char text[64];
    if (json_is_integer(v))
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(text, sizeof text, "%s", json_string_value(v));
    else
        text[0] = 0;
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    int64_t out = -2;
    if (end != text && !errno) {
        if (!strcmp(text, "-1") || !strcmp(text, "0"))
            out = (int64_t)x; /* -1: disabled; 0: as ES, no unit needed */
        else if (x >= 0) {
            static const struct {
                const char *unit;
                double ms;
            } units[] = {{"nanos", 1e-6}, {"micros", 1e-3}, {"ms", 1},    {"s", 1e3},
                         {"m", 6e4},      {"h", 3.6e6},     {"d", 8.64e7}};
            for (size_t i = 0; i < sizeof units / sizeof *units; i++)
                if (!strcmp(end, units[i].unit)) out = (int64_t)(x * units[i].ms);
        }
    }
    if (out == -2)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "failed to parse setting [index.refresh_interval] with value [%s] as a "
                         "time value: unit is missing or unrecognized",
                         text);
    if (ms) *ms = out;
    return 0;
}

int64_t kiln_node_refresh_interval(const kiln_index *idx)
{
    char buf[64];
    const char *v = kiln_index_setting(idx, "index.refresh_interval", buf, sizeof buf);
    int64_t ms = KILN_REFRESH_INTERVAL_DEFAULT_MS;
    if (v) {
        json_t *j = json_string(v);
        if (kiln_node_parse_interval(j, &ms, NULL)) ms = KILN_REFRESH_INTERVAL_DEFAULT_MS;
        json_decref(j);
    }
    return ms;
}

/* ---- background work ----------------------------------------------------------------------- */

static kiln_index **kiln__snapshot(kiln_node *n, size_t *count)
{
    pthread_rwlock_rdlock(&n->lock);
    kiln_index **list = kiln_xcalloc(n->count + 1, sizeof *list);
    for (size_t i = 0; i < n->count; i++)
        list[i] = kiln_index_ref(n->indices[i]);
    *count = n->count;
    pthread_rwlock_unlock(&n->lock);
    return list;
}

/* Waits up to ms (or until woken); 1 when the node stops. bg_lock held. */
static int kiln__bg_wait(kiln_node *n, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    if (!n->bg_stop) pthread_cond_timedwait(&n->bg_wake, &n->bg_lock, &ts);
    return n->bg_stop;
}

/* Every tick: each shard with writes not yet searchable and a refresh at least its index's
 * refresh_interval old is refreshed (the searcher acquire does exactly that check). */
static void *kiln__refresher(void *arg)
{
    kiln_node *n = arg;
    pthread_mutex_lock(&n->bg_lock);
    while (!n->bg_stop) {
        pthread_mutex_unlock(&n->bg_lock);
        size_t count;
        kiln_index **list = kiln__snapshot(n, &count);
        int64_t tick = KILN__TICK_MS;
        for (size_t i = 0; i < count; i++) {
            if (atomic_load(&list[i]->deleted)) continue;
            for (unsigned s = 0; s < list[i]->nshards; s++) {
                kiln_shard_seal_if_over(list[i]->shards[s], KILN_INDEX_BUFFER_BYTES);
                kiln_error err;
                if (kiln_shard_flush_if_due(list[i]->shards[s], &err) < 0)
                    KILN_WARN("node", "[%s][%u]: flush failed: %s (the log keeps the writes)",
                              list[i]->name, s, err.reason);
            }
            int64_t every = kiln_node_refresh_interval(list[i]);
            if (every < 0) continue;
            if (every / 2 < tick) tick = every / 2 > 10 ? every / 2 : 10;
            int64_t idle_after = kiln_node_search_idle_after(list[i]);
            for (unsigned s = 0; s < list[i]->nshards; s++)
                kiln_shard_scheduled_refresh(list[i]->shards[s], every, idle_after);
        }
        kiln_node_release(list, count);
        pthread_mutex_lock(&n->bg_lock);
        n->merge_wanted = 1;
        pthread_cond_broadcast(&n->bg_wake);
        kiln__bg_wait(n, tick);
    }
    pthread_mutex_unlock(&n->bg_lock);
    return NULL;
}

/* After refreshes: merges while the policy asks, and segment commits after flushes. */
static void *kiln__merger(void *arg)
{
    kiln_node *n = arg;
    pthread_mutex_lock(&n->bg_lock);
    while (!n->bg_stop) {
        if (!n->merge_wanted) {
            kiln__bg_wait(n, 1000);
            continue;
        }
        n->merge_wanted = 0;
        pthread_mutex_unlock(&n->bg_lock);
        size_t count;
        kiln_index **list = kiln__snapshot(n, &count);
        for (size_t i = 0; i < count; i++) {
            for (unsigned s = 0; s < list[i]->nshards && !atomic_load(&list[i]->deleted); s++) {
                kiln_error err;
                if (kiln_shard_maintain(list[i]->shards[s], 1, &err) < 0)
                    KILN_WARN("node", "[%s][%u]: search index upkeep failed: %s", list[i]->name, s,
                              err.reason);
            }
        }
        kiln_node_release(list, count);
        pthread_mutex_lock(&n->bg_lock);
    }
    pthread_mutex_unlock(&n->bg_lock);
    return NULL;
}

static void kiln__bg_start(kiln_node *n)
{
    n->bg_inited = 1;
    pthread_mutex_init(&n->bg_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->bg_wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&n->refresher, NULL, kiln__refresher, n) == 0) {
        if (pthread_create(&n->merger, NULL, kiln__merger, n) == 0)
            n->bg_started = 2;
        else
            n->bg_started = 1;
    }
    if (n->bg_started < 2) KILN_WARN("node", "cannot start the background refresh/merge threads");
}

static void kiln__bg_stop(kiln_node *n)
{
    if (!n->bg_inited) return; /* open failed before starting them */
    pthread_mutex_lock(&n->bg_lock);
    n->bg_stop = 1;
    pthread_cond_broadcast(&n->bg_wake);
    pthread_mutex_unlock(&n->bg_lock);
    if (n->bg_started >= 1) pthread_join(n->refresher, NULL);
    if (n->bg_started >= 2) pthread_join(n->merger, NULL);
    pthread_cond_destroy(&n->bg_wake);
    pthread_mutex_destroy(&n->bg_lock);
}
