#include "index/index.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"

#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* OpenSearch's index.translog.flush_threshold_size: each flush persists every segment sealed
 * since the last (their text compressed, written, fsync'd), work lost for those merged soon
 * after; fewer flushes mean less of it, for a longer log replay after a crash. */
#define KILN_DEFAULT_FLUSH_BYTES (512ull << 20)

void kiln_index_gen_id(char out[24])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static atomic_uint_fast32_t counter;
    uint8_t raw[15];
    uint64_t ms = (uint64_t)kiln_wall_ms();
    uint32_t c = (uint32_t)atomic_fetch_add(&counter, 1);
    for (int i = 0; i < 6; i++) raw[i] = (uint8_t)(ms >> (40 - 8 * i)); /* time first: sorted */
    raw[6] = (uint8_t)(c >> 16), raw[7] = (uint8_t)(c >> 8), raw[8] = (uint8_t)c;
    if (getrandom(raw + 9, 6, 0) != 6) memset(raw + 9, 0x5a, 6);
    for (int i = 0, o = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = b64[v >> 18], out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63], out[o++] = b64[v & 63];
    }
    out[20] = 0;
}

int kiln_index_name_check(const char *name, kiln_error *err)
{
    const char *why = NULL;
    size_t len = strlen(name);
    if (len == 0)
        why = "must not be empty";
    else if (len > 255)
        why = "index name is too long, (> 255)";
    else if (!strcmp(name, ".") || !strcmp(name, ".."))
        why = "must not be '.' or '..'";
    else if (name[0] == '_' || name[0] == '-' || name[0] == '+')
        why = "must not start with '_', '-', or '+'";
    else if (strpbrk(name, "\\/*?\"<>| ,#:"))
        why = "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?, #, :]";
    else
        for (const char *p = name; *p; p++)
            if (isupper((unsigned char)*p)) why = "must be lowercase";
    if (!why) return 0;
    kiln_error_set_index(err, name);
    return kiln_fail(err, KILN_E_INVALID_INDEX_NAME, "Invalid index name [%s], %s", name, why);
}

/* ---- settings ------------------------------------------------------------------------------ */

/* Settings in any spelling (nested, flat "a.b", with or without "index.") into flat
 * "index.a.b" keys with string values. A null removes the key, or with keep_null is kept as
 * null (an update's "reset to the default"). */
static void kiln__flatten(json_t *flat, const char *prefix, json_t *v, int keep_null)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *sub;
        json_object_foreach(v, k, sub)
        {
            char key[512];
            snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", k);
            kiln__flatten(flat, key, sub, keep_null);
        }
        return;
    }
    char key[512];
    snprintf(key, sizeof key, "%s%s", strncmp(prefix, "index.", 6) ? "index." : "", prefix);
    if (json_is_string(v) || json_is_array(v)) {
        json_object_set(flat, key, v);
    } else if (json_is_null(v)) {
        if (keep_null)
            json_object_set(flat, key, v);
        else
            json_object_del(flat, key);
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        json_object_set_new(flat, key, json_string(s));
        free(s);
    }
}

json_t *kiln_settings_nest(json_t *flat)
{
    json_t *root = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(flat, k, v)
    {
        char key[512];
        snprintf(key, sizeof key, "%s", k);
        json_t *cur = root;
        char *seg = key, *dot;
        while ((dot = strchr(seg, '.'))) {
            *dot = 0;
            json_t *next = json_object_get(cur, seg);
            if (!json_is_object(next)) json_object_set_new(cur, seg, next = json_object());
            cur = next;
            seg = dot + 1;
        }
        json_object_set(cur, seg, v);
    }
    return root;
}

/* The lock is not part of what const promises (readers of a const index take it too). */
static pthread_rwlock_t *kiln__settings_lock(const kiln_index *idx)
{
    return (pthread_rwlock_t *)&idx->settings_lock;
}

const char *kiln_index_setting(const kiln_index *idx, const char *key, char *buf, size_t cap)
{
    pthread_rwlock_rdlock(kiln__settings_lock(idx));
    json_t *v = json_object_get(idx->settings, key);
    const char *out = NULL;
    if (json_is_string(v) && cap) {
        snprintf(buf, cap, "%s", json_string_value(v));
        out = buf;
    }
    pthread_rwlock_unlock(kiln__settings_lock(idx));
    return out;
}

/* The KILN_BLOCK_* bits of flat settings. */
static int kiln__blocks_of(json_t *flat)
{
    static const struct { const char *key; int bit; } b[] = {
        {"index.blocks.write", KILN_BLOCK_WRITE},
        {"index.blocks.read_only", KILN_BLOCK_READ_ONLY},
        {"index.blocks.read_only_allow_delete", KILN_BLOCK_ALLOW_DELETE},
        {"index.blocks.read", KILN_BLOCK_READ},
    };
    int bits = 0;
    for (size_t k = 0; k < sizeof b / sizeof *b; k++) {
        json_t *v = json_object_get(flat, b[k].key);
        if (json_is_string(v) && !strcmp(json_string_value(v), "true")) bits |= b[k].bit;
    }
    return bits;
}

/* Publishes what is derived from a new settings object (blocks, replicas). */
static void kiln__settings_derive(kiln_index *idx, json_t *flat)
{
    json_t *r = json_object_get(flat, "index.number_of_replicas");
    atomic_store(&idx->replicas, json_is_string(r) ? atoi(json_string_value(r)) : 0);
    atomic_store(&idx->blocks, kiln__blocks_of(flat));
}

int kiln_index_blocked(const kiln_index *idx, kiln_op_class op, kiln_error *err)
{
    int bits = atomic_load_explicit(&idx->blocks, memory_order_relaxed);
    if (!bits) return 0;
    const char *why = NULL;
    if (op == KILN_OP_CLASS_READ) {
        if (bits & KILN_BLOCK_READ) why = "FORBIDDEN/7/index read (api)";
    } else if (bits & KILN_BLOCK_READ_ONLY) {
        why = "FORBIDDEN/5/index read-only (api)";
    } else if ((bits & KILN_BLOCK_ALLOW_DELETE) && op != KILN_OP_CLASS_DELETE) {
        why = "FORBIDDEN/12/index read-only / allow delete (api)";
    } else if ((bits & KILN_BLOCK_WRITE) && op != KILN_OP_CLASS_METADATA) {
        why = "FORBIDDEN/8/index write (api)";
    }
    if (!why) return 0;
    kiln_fail(err, KILN_E_CLUSTER_BLOCK, "index [%s] blocked by: [%s];", idx->name, why);
    kiln_error_set_index(err, idx->name);
    return -1;
}

long kiln_index_setting_long(const kiln_index *idx, const char *key, long def)
{
    char buf[32];
    const char *v = kiln_index_setting(idx, key, buf, sizeof buf);
    return v ? atol(v) : def;
}

json_t *kiln_index_settings_flat(const kiln_index *idx)
{
    pthread_rwlock_rdlock(kiln__settings_lock(idx));
    json_t *flat = json_copy(idx->settings); /* values are immutable strings: shared */
    pthread_rwlock_unlock(kiln__settings_lock(idx));
    return flat;
}

json_t *kiln_index_settings_json(const kiln_index *idx)
{
    json_t *flat = kiln_index_settings_flat(idx);
    json_t *nested = kiln_settings_nest(flat);
    json_decref(flat);
    return nested;
}

int kiln_setting_long(json_t *v, const char *key, long min, long max, long *out,
                      kiln_error *err)
{
    char num[32];
    if (json_is_integer(v)) snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    const char *s = json_is_integer(v) ? num : json_is_string(v) ? json_string_value(v) : "";
    char *end;
    long n = strtol(s, &end, 10);
    if (!*s || *end)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "Failed to parse value [%s] for setting [%s]", s, key);
    if (n < min || n > max)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "Failed to parse value [%ld] for setting [%s] must be %s %ld", n, key,
                         n < min ? ">=" : "<=", n < min ? min : max);
    if (out) *out = n;
    return 0;
}

/* An integer setting of flat settings, set to def when absent. */
static int kiln__setting_int(json_t *flat, const char *key, long min, long max, long def,
                             long *out, kiln_error *err)
{
    json_t *v = json_object_get(flat, key);
    if (v) return kiln_setting_long(v, key, min, max, out, err);
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", def);
    json_object_set_new(flat, key, json_string(buf));
    *out = def;
    return 0;
}

/* ---- persistence --------------------------------------------------------------------------- */

/* Writes index.json with these settings and mapping; callers hold mapping_lock (or own idx). */
static int kiln__save_meta(kiln_index *idx, json_t *settings, kiln_mapping *m, kiln_error *err)
{
    json_t *meta = json_pack("{s:s,s:s,s:I,s:O,s:O}", "name", idx->name, "uuid", idx->uuid,
                             "creation_date", (json_int_t)idx->creation_date, "settings",
                             settings, "mappings", m->json);
    char *text = json_dumps(meta, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(meta);
    char path[1200];
    snprintf(path, sizeof path, "%s/index.json", idx->dir);
    int rc = kiln_fs_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

static kiln_mapping *kiln__mapping_of(void *idx)
{
    return kiln_index_mapping(idx);
}

/* index.codec as Elasticsearch names them: LZ4 by default, zstd for best_compression (and
 * OpenSearch's zstd names). A static setting: fixed at creation. */
static int kiln__codec_of(json_t *flat, kiln_zcodec *out, kiln_error *err)
{
    json_t *v = json_object_get(flat, "index.codec");
    const char *c = json_is_string(v) ? json_string_value(v) : v ? "" : "default";
    if (!strcmp(c, "default") || !strcmp(c, "lucene_default"))
        *out = KILN_ZCODEC_LZ4;
    else if (!strcmp(c, "best_compression") || !strcmp(c, "zstd") || !strcmp(c, "zstd_no_dict"))
        *out = KILN_ZCODEC_ZSTD;
    else
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "unknown value for [index.codec] must be one of [default, "
                         "lucene_default, best_compression, zstd, zstd_no_dict] but was: %s",
                         c);
    return 0;
}

static int kiln__open_shards(kiln_index *idx, kiln_error *err)
{
    idx->shards = kiln_xcalloc(idx->nshards, sizeof *idx->shards);
    for (unsigned i = 0; i < idx->nshards; i++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/%u", idx->dir, i);
        idx->shards[i] = kiln_shard_open(dir, i, KILN_DEFAULT_FLUSH_BYTES, idx->codec, err);
        if (!idx->shards[i]) return -1;
        /* the registry (built-in + custom analyzers) is built before the shards open */
        if (kiln_shard_search_attach(idx->shards[i], kiln__mapping_of, idx, idx->analysis, err))
            return -1;
    }
    return 0;
}

/* Builds the analysis registry from the "index.analysis.*" settings. */
static int kiln__build_analysis(kiln_index *idx, kiln_error *err)
{
    json_t *nested = kiln_settings_nest(idx->settings);
    json_t *analysis = json_object_get(json_object_get(nested, "index"), "analysis");
    idx->analysis = kiln_analysis_registry_new(analysis, err);
    json_decref(nested);
    return idx->analysis ? 0 : -1;
}

/* Every analyzer a mapping names must exist, as ES checks when the mapping is parsed. */
static int kiln__check_analyzers(const kiln_index *idx, const kiln_mapping *m, kiln_error *err)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const kiln_field *f = &m->fields[i];
        if (f->type != KILN_FT_TEXT) continue;
        const char *names[2] = {f->analyzer, f->search_analyzer};
        for (int k = 0; k < 2; k++)
            if (!kiln_analyzer_get(idx->analysis, names[k]))
                return kiln_fail(err, KILN_E_MAPPER_PARSING,
                                 "Failed to parse mapping: analyzer [%s] has not been configured "
                                 "in mappings",
                                 names[k]);
    }
    return 0;
}

static kiln_index *kiln__alloc(void)
{
    kiln_index *idx = kiln_xcalloc(1, sizeof *idx);
    atomic_init(&idx->refs, 1);
    pthread_mutex_init(&idx->mapping_lock, NULL);
    pthread_rwlock_init(&idx->settings_lock, NULL);
    return idx;
}

static void kiln__free(kiln_index *idx)
{
    for (unsigned i = 0; idx->shards && i < idx->nshards; i++) kiln_shard_close(idx->shards[i]);
    free(idx->shards);
    kiln_mapping_unref(atomic_load(&idx->mapping));
    if (idx->analysis) kiln_analysis_registry_free(idx->analysis);
    json_decref(idx->settings);
    pthread_mutex_destroy(&idx->mapping_lock);
    pthread_rwlock_destroy(&idx->settings_lock);
    free(idx);
}

kiln_index *kiln_index_create(const char *data_dir, const char *name, json_t *body,
                              kiln_error *err)
{
    if (kiln_index_name_check(name, err)) return NULL;
    if (body && !json_is_object(body)) {
        kiln_fail(err, KILN_E_PARSE, "request body must be a JSON object");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "settings") && strcmp(key, "mappings") && strcmp(key, "aliases")) {
            kiln_fail(err, KILN_E_PARSE, "unknown key [%s] for create index", key);
            return NULL;
        }
    }
    kiln_index *idx = kiln__alloc();
    snprintf(idx->name, sizeof idx->name, "%s", name);
    char id[24];
    kiln_index_gen_id(id);
    snprintf(idx->uuid, sizeof idx->uuid, "%s", id);
    idx->creation_date = kiln_wall_ms();
    idx->settings = json_object();
    json_t *settings = json_object_get(body, "settings");
    if (settings && !json_is_object(settings)) {
        kiln_fail(err, KILN_E_PARSE, "[settings] must be an object");
        goto fail;
    }
    if (settings) kiln__flatten(idx->settings, "", settings, 0);
    long shards, replicas;
    if (kiln__setting_int(idx->settings, "index.number_of_shards", 1, 1024, 1, &shards, err) ||
        kiln__setting_int(idx->settings, "index.number_of_replicas", 0, 64, 1, &replicas, err))
        goto fail;
    idx->nshards = (unsigned)shards;
    if (kiln__codec_of(idx->settings, &idx->codec, err)) goto fail;
    json_object_set_new(idx->settings, "index.uuid", json_string(idx->uuid));
    json_object_set_new(idx->settings, "index.provided_name", json_string(name));
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, idx->creation_date);
    json_object_set_new(idx->settings, "index.creation_date", json_string(buf));
    json_object_set_new(idx->settings, "index.version.created", json_string("136327827"));
    kiln__settings_derive(idx, idx->settings);
    if (kiln__build_analysis(idx, err)) goto fail;
    kiln_mapping *m = kiln_mapping_new(json_object_get(body, "mappings"), err);
    if (!m) goto fail;
    atomic_store(&idx->mapping, m);
    if (kiln__check_analyzers(idx, m, err)) goto fail;
    snprintf(idx->dir, sizeof idx->dir, "%s/indices/%s", data_dir, idx->uuid);
    if (kiln_fs_mkdirs(idx->dir, err) || kiln__open_shards(idx, err) ||
        kiln__save_meta(idx, idx->settings, m, err))
        goto fail_dir;
    return idx;
fail_dir:
    kiln__free(idx);
    kiln_fs_remove_tree(idx->dir, NULL);
    return NULL;
fail:
    kiln_error_set_index(err, name);
    kiln__free(idx);
    return NULL;
}

kiln_index *kiln_index_open(const char *dir, kiln_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/index.json", dir);
    json_error_t jerr;
    json_t *meta = json_load_file(path, 0, &jerr);
    if (!meta) {
        kiln_fail(err, KILN_E_IO, "%s: %s", path, jerr.text);
        return NULL;
    }
    kiln_index *idx = kiln__alloc();
    snprintf(idx->dir, sizeof idx->dir, "%s", dir);
    const char *name = NULL, *uuid = NULL;
    json_int_t created = 0;
    json_t *settings = NULL, *mappings = NULL;
    if (json_unpack_ex(meta, &jerr, 0, "{s:s,s:s,s:I,s:o,s:o}", "name", &name, "uuid", &uuid,
                       "creation_date", &created, "settings", &settings, "mappings",
                       &mappings)) {
        kiln_fail(err, KILN_E_IO, "%s: %s", path, jerr.text);
        goto fail;
    }
    snprintf(idx->name, sizeof idx->name, "%s", name);
    snprintf(idx->uuid, sizeof idx->uuid, "%s", uuid);
    idx->creation_date = created;
    idx->settings = json_incref(settings);
    kiln__settings_derive(idx, idx->settings);
    idx->nshards = (unsigned)kiln_index_setting_long(idx, "index.number_of_shards", 1);
    kiln_error cerr;
    if (kiln__codec_of(idx->settings, &idx->codec, &cerr)) { /* accepted unchecked before */
        KILN_WARN("index", "[%s] %s; using LZ4", idx->name, cerr.reason);
        idx->codec = KILN_ZCODEC_LZ4;
    }
    if (kiln__build_analysis(idx, err)) goto fail;
    kiln_mapping *m = kiln_mapping_new(mappings, err);
    if (!m) goto fail;
    atomic_store(&idx->mapping, m);
    if (kiln__open_shards(idx, err)) goto fail;
    json_decref(meta);
    return idx;
fail:
    json_decref(meta);
    kiln__free(idx);
    return NULL;
}

kiln_index *kiln_index_ref(kiln_index *idx)
{
    atomic_fetch_add(&idx->refs, 1);
    return idx;
}

void kiln_index_unref(kiln_index *idx)
{
    if (!idx || atomic_fetch_sub(&idx->refs, 1) != 1) return;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", idx->dir);
    int deleted = atomic_load(&idx->deleted);
    kiln__free(idx);
    if (deleted) kiln_fs_remove_tree(dir, NULL);
}

kiln_mapping *kiln_index_mapping(kiln_index *idx)
{
    pthread_mutex_lock(&idx->mapping_lock);
    kiln_mapping *m = kiln_mapping_ref(atomic_load(&idx->mapping));
    pthread_mutex_unlock(&idx->mapping_lock);
    return m;
}

/* Publishes a new mapping after persisting it. Called with mapping_lock held. */
static int kiln__publish_mapping(kiln_index *idx, kiln_mapping *m, kiln_error *err)
{
    if (kiln__save_meta(idx, idx->settings, m, err)) {
        kiln_mapping_unref(m);
        return -1;
    }
    kiln_mapping *old = atomic_exchange(&idx->mapping, m);
    kiln_mapping_unref(old);
    return 0;
}

int kiln_index_update_settings(kiln_index *idx, json_t *changes, kiln_setting_check check,
                               void *ctx, kiln_error *err)
{
    json_t *flat = json_object();
    kiln__flatten(flat, "", changes, 1);
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(flat, key, v)
    {
        if ((rc = check(ctx, idx, key, v, err))) goto out;
    }
    pthread_mutex_lock(&idx->mapping_lock); /* one writer of index.json at a time */
    json_t *cur = idx->settings, *next = json_deep_copy(cur);
    json_object_foreach(flat, key, v)
    {
        if (json_is_null(v))
            json_object_del(next, key); /* back to the default */
        else
            json_object_set(next, key, v);
    }
    rc = kiln__save_meta(idx, next, atomic_load(&idx->mapping), err); /* durable first */
    if (rc) {
        json_decref(next);
    } else {
        pthread_rwlock_wrlock(&idx->settings_lock);
        idx->settings = next;
        pthread_rwlock_unlock(&idx->settings_lock);
        kiln__settings_derive(idx, next);
        json_decref(cur);
    }
    pthread_mutex_unlock(&idx->mapping_lock);
out:
    json_decref(flat);
    return rc;
}

int kiln_index_put_mapping(kiln_index *idx, json_t *body, kiln_error *err)
{
    if (kiln_index_blocked(idx, KILN_OP_CLASS_METADATA, err)) return -1;
    pthread_mutex_lock(&idx->mapping_lock);
    kiln_mapping *m = kiln_mapping_merge(atomic_load(&idx->mapping), body, err);
    if (m && kiln__check_analyzers(idx, m, err)) {
        kiln_mapping_unref(m);
        m = NULL;
    }
    int rc = m ? kiln__publish_mapping(idx, m, err) : -1;
    pthread_mutex_unlock(&idx->mapping_lock);
    return rc;
}

/* Checks doc against the mapping, adding dynamic fields durably when needed. */
static int kiln__map_doc(kiln_index *idx, json_t *doc, const char *id, kiln_error *err)
{
    kiln_mapping *m = kiln_index_mapping(idx), *upd = NULL;
    int rc = kiln_mapping_check_doc(m, doc, id, &upd, err);
    kiln_mapping_unref(m);
    if (rc || !upd) return rc;
    kiln_mapping_unref(upd);
    /* Re-check against the newest mapping under the lock: another writer may have added the same
     * fields (or conflicting ones) meanwhile. */
    pthread_mutex_lock(&idx->mapping_lock);
    rc = kiln_mapping_check_doc(atomic_load(&idx->mapping), doc, id, &upd, err);
    if (rc == 0 && upd) rc = kiln__publish_mapping(idx, upd, err);
    pthread_mutex_unlock(&idx->mapping_lock);
    return rc;
}

unsigned kiln_index_route(const kiln_index *idx, const char *id, size_t idlen,
                          const char *routing)
{
    if (idx->nshards == 1) return 0;
    if (routing) return kiln_routing_shard(routing, strlen(routing), idx->nshards);
    return kiln_routing_shard(id, idlen, idx->nshards);
}

static json_t *kiln__parse_json(const char *text, size_t len, const char *what, kiln_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        kiln_fail(err, KILN_E_MAPPER_PARSING,
                  "failed to parse %s: %s at line %d, column %d", what, jerr.text, jerr.line,
                  jerr.column);
    return doc;
}

/* Deep-merges src into dst (objects recursively, everything else replaced), as ES's partial
 * update does. Returns 1 if dst changed. */
static int kiln__merge_doc(json_t *dst, json_t *src)
{
    int changed = 0;
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v)
    {
        json_t *old = json_object_get(dst, k);
        if (json_is_object(old) && json_is_object(v)) {
            changed |= kiln__merge_doc(old, v);
        } else if (!old || !json_equal(old, v)) {
            json_object_set(dst, k, v);
            changed = 1;
        }
    }
    return changed;
}

typedef struct {
    kiln_index *idx;
    kiln_write *w;
    json_t *req;
} kiln__update_ctx;

static int kiln__update_fn(const char *old_src, size_t old_len, kiln_buf *new_src, void *ctx,
                           kiln_error *err)
{
    kiln__update_ctx *c = ctx;
    json_t *doc = json_object_get(c->req, "doc");
    json_t *upsert = json_object_get(c->req, "upsert");
    int as_upsert = json_is_true(json_object_get(c->req, "doc_as_upsert"));
    int detect_noop = !json_is_false(json_object_get(c->req, "detect_noop"));
    json_t *result;
    if (!old_src) {
        json_t *base = as_upsert ? doc : upsert;
        if (!base)
            return kiln_fail(err, KILN_E_DOC_MISSING, "[%.*s]: document missing",
                             (int)c->w->idlen, c->w->id);
        result = json_deep_copy(base);
    } else {
        result = kiln__parse_json(old_src, old_len, "stored source", err);
        if (!result) return -1;
        int changed = doc ? kiln__merge_doc(result, doc) : 0;
        if (!changed && detect_noop) {
            if (c->w->get_source == NULL) c->w->get_source = result;
            else json_decref(result);
            return 1;
        }
    }
    char id[520];
    snprintf(id, sizeof id, "%.*s", (int)c->w->idlen, c->w->id);
    if (kiln__map_doc(c->idx, result, id, err)) {
        json_decref(result);
        return -1;
    }
    char *text = json_dumps(result, JSON_COMPACT | JSON_PRESERVE_ORDER);
    kiln_buf_puts(new_src, text);
    free(text);
    c->w->get_source = result;
    return 0;
}

static int kiln__check_id(const kiln_write *w, kiln_error *err)
{
    if (w->idlen == 0)
        return w->id ? kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                 "if _id is specified it must not be empty")
                     : kiln_fail(err, KILN_E_ACTION_VALIDATION,
                                 "Validation Failed: 1: id is missing;");
    if (w->idlen > 512)
        return kiln_fail(err, KILN_E_ACTION_VALIDATION,
                         "Validation Failed: 1: id [%.*s...] is too long, must be no longer than "
                         "512 bytes but was: %zu;",
                         32, w->id, w->idlen);
    return 0;
}

/* Parses an index/create source into jd and checks it against the mapping: the tape and the
 * fast check when the document conforms (the common case), else jansson and the full check,
 * which adds new fields durably or words the error exactly as before. */
static int kiln__prepare_source(kiln_index *idx, const kiln_write *w, kiln_json *jd,
                                kiln_error *err)
{
    int parsed = kiln_json_parse(jd, w->body, w->body_len) == 0;
    if (parsed) {
        kiln_mapping *m = kiln_index_mapping(idx);
        int ok = kiln_mapping_doc_conforms(m, jd);
        kiln_mapping_unref(m);
        if (ok) return 0;
    }
    json_t *doc = kiln__parse_json(w->body, w->body_len, "source", err);
    if (!doc) return -1;
    char id[520];
    snprintf(id, sizeof id, "%.*s", (int)w->idlen, w->id);
    int rc = kiln__map_doc(idx, doc, id, err);
    if (rc == 0 && !parsed) {
        /* jansson took what the tape refuses (a NUL byte it skips): index jansson's reading */
        char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text || kiln_json_parse(jd, text, strlen(text)))
            rc = kiln_fail(err, KILN_E_MAPPER_PARSING, "failed to parse source");
        free(text);
    }
    json_decref(doc);
    return rc;
}

int kiln_index_write(kiln_index *idx, kiln_write *w, kiln_error *err)
{
    int rc = -1;
    kiln_json local = KILN_JSON_INIT;
    if (!w->id && (w->op == KILN_OP_INDEX || w->op == KILN_OP_CREATE)) {
        kiln_index_gen_id(w->gen_id);
        w->id = w->gen_id;
        w->idlen = strlen(w->gen_id);
    }
    if (kiln__check_id(w, err)) goto out;
    if (kiln_index_blocked(idx, w->op == KILN_OP_DELETE ? KILN_OP_CLASS_DELETE : KILN_OP_CLASS_WRITE,
                           err))
        goto out;
    w->shard = kiln_index_route(idx, w->id, w->idlen, w->routing);
    kiln_shard *s = idx->shards[w->shard];
    switch (w->op) {
    case KILN_OP_INDEX:
    case KILN_OP_CREATE: {
        kiln_json *jd = w->scratch ? w->scratch : &local;
        if (kiln__prepare_source(idx, w, jd, err)) goto out;
        kiln_write_opts o = w->opts;
        o.op_create = w->op == KILN_OP_CREATE;
        rc = kiln_shard_index(s, w->id, w->idlen, w->body, w->body_len, jd, &o, &w->meta,
                              &w->result, &w->lsn, err);
        break;
    }
    case KILN_OP_DELETE:
        rc = kiln_shard_delete(s, w->id, w->idlen, &w->opts, &w->meta, &w->result, &w->lsn, err);
        break;
    case KILN_OP_UPDATE: {
        json_t *req = kiln__parse_json(w->body, w->body_len, "update request", err);
        if (!req) {
            err->code = KILN_E_PARSE;
            goto out;
        }
        if (!json_is_object(req) || json_object_get(req, "script")) {
            rc = kiln_fail(err, json_is_object(req) ? KILN_E_ILLEGAL_ARGUMENT : KILN_E_PARSE,
                           json_is_object(req)
                               ? "script updates are not supported; send a partial [doc]"
                               : "update request body must be an object");
            json_decref(req);
            goto out;
        }
        json_t *d = json_object_get(req, "doc"), *u = json_object_get(req, "upsert");
        if ((d && !json_is_object(d)) || (u && !json_is_object(u)) || (!d && !u)) {
            rc = kiln_fail(err, KILN_E_ACTION_VALIDATION,
                           "Validation Failed: 1: script or doc is missing;");
            json_decref(req);
            goto out;
        }
        kiln__update_ctx c = {idx, w, req};
        rc = kiln_shard_update(s, w->id, w->idlen, &w->opts, kiln__update_fn, &c, &w->meta,
                               &w->result, &w->lsn, err);
        json_decref(req);
        break;
    }
    }
out:
    kiln_json_dispose(&local);
    if (rc == 0)
        w->status = w->result == KILN_RESULT_CREATED     ? 201
                    : w->result == KILN_RESULT_NOT_FOUND ? 404
                                                         : 200;
    else
        w->status = kiln_code_status(err->code);
    return rc;
}

int kiln_index_prepare(kiln_index *idx, kiln_write *w, kiln_json *scratch,
                       struct kiln_sindex_prep **prep)
{
    *prep = NULL;
    if (w->op != KILN_OP_INDEX && w->op != KILN_OP_CREATE) return 0;
    if (!w->id) {
        kiln_index_gen_id(w->gen_id);
        w->id = w->gen_id;
        w->idlen = strlen(w->gen_id);
    }
    if (kiln__check_id(w, NULL)) return 0;
    w->shard = kiln_index_route(idx, w->id, w->idlen, w->routing);
    if (kiln_json_parse(scratch, w->body, w->body_len)) return 0;
    kiln_mapping *m = kiln_index_mapping(idx);
    int ok = kiln_mapping_doc_conforms(m, scratch);
    kiln_mapping_unref(m);
    if (!ok) return 0;
    /* fields never change type once mapped, so a document that conforms to this mapping is
     * prepared the same under any later one */
    *prep = kiln_shard_prepare(idx->shards[w->shard], scratch);
    return 1;
}

int kiln_index_write_prepared(kiln_index *idx, kiln_write *w, struct kiln_sindex_prep *prep,
                              kiln_error *err)
{
    kiln_shard *s = idx->shards[w->shard];
    if (kiln_index_blocked(idx, KILN_OP_CLASS_WRITE, err)) { /* set after the item was prepared */
        kiln_shard_prep_release(s, prep);
        w->status = kiln_code_status(err->code);
        return -1;
    }
    kiln_write_opts o = w->opts;
    o.op_create = w->op == KILN_OP_CREATE;
    int rc = kiln_shard_index_prepared_held(s, w->id, w->idlen, w->body, w->body_len, prep, &o,
                                            &w->meta, &w->result, &w->lsn, err);
    kiln_shard_prep_release(s, prep);
    if (rc == 0)
        w->status = w->result == KILN_RESULT_CREATED ? 201 : 200;
    else
        w->status = kiln_code_status(err->code);
    return rc;
}

int kiln_index_sync(kiln_index *idx, unsigned shard, uint64_t lsn, kiln_error *err)
{
    return kiln_shard_sync(idx->shards[shard], lsn, err);
}

int kiln_index_assist(kiln_index *idx, unsigned shard)
{
    return shard < idx->nshards ? kiln_shard_assist(idx->shards[shard]) : 0;
}

int kiln_index_refresh(kiln_index *idx, kiln_error *err)
{
    for (unsigned i = 0; i < idx->nshards; i++)
        if (kiln_shard_refresh(idx->shards[i], err)) return -1;
    return 0;
}

int kiln_index_flush(kiln_index *idx, kiln_error *err)
{
    for (unsigned i = 0; i < idx->nshards; i++)
        if (kiln_shard_flush(idx->shards[i], err)) return -1;
    return 0;
}

int kiln_index_force_merge(kiln_index *idx, size_t max_segments, kiln_error *err)
{
    for (unsigned i = 0; i < idx->nshards; i++)
        if (kiln_shard_force_merge(idx->shards[i], max_segments, err)) return -1;
    return 0;
}

void kiln_index_stats(kiln_index *idx, kiln_shard_stats *total)
{
    memset(total, 0, sizeof *total);
    for (unsigned i = 0; i < idx->nshards; i++) {
        kiln_shard_stats s;
        kiln_shard_stats_get(idx->shards[i], &s);
        total->docs += s.docs;
        total->deleted += s.deleted;
        total->store_bytes += s.store_bytes;
        if (s.max_seq_no > total->max_seq_no) total->max_seq_no = s.max_seq_no;
    }
}
