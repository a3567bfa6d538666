/* An index: name, settings, mapping and its shards, persisted under data/indices/<uuid>/.
 * The node (node.h) owns the set of indices; callers hold a reference while they use one. */
#ifndef KILN_INDEX_H
#define KILN_INDEX_H

#include "analysis/analysis.h"
#include "core/buf.h"
#include "core/error.h"
#include "index/mapping.h"
#include "index/shard.h"
#include "index/zblock.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct kiln_index {
    atomic_int refs;
    char name[256];
    char uuid[32];
    char dir[1024];
    int64_t creation_date;
    json_t *settings;            /* flat: {"index.number_of_shards": "1", ...}; replaced whole
                                    by kiln_index_update_settings, read under settings_lock */
    pthread_rwlock_t settings_lock;
    unsigned nshards;
    kiln_zcodec codec; /* index.codec: how stored documents are compressed */
    kiln_shard **shards;
    pthread_mutex_t mapping_lock; /* serialises mapping and settings updates and their
                                     persistence (index.json) */
    kiln_mapping *_Atomic mapping;
    kiln_analysis_registry *analysis; /* built-in + custom analyzers from the settings */
    atomic_int deleted;          /* files removed when the last reference goes */
    /* read on every write (its result, its block check): derived from the settings whenever
     * they change instead of looked up under settings_lock per document */
    atomic_int blocks;           /* KILN_BLOCK_* of the index.blocks.* settings */
    atomic_int replicas;         /* index.number_of_replicas */
} kiln_index;

/* index.blocks.*: what an index refuses (ES's cluster_block_exception, 403). */
enum {
    KILN_BLOCK_WRITE = 1,         /* index.blocks.write: document writes */
    KILN_BLOCK_READ_ONLY = 2,     /* index.blocks.read_only: writes, deletes, mapping changes */
    KILN_BLOCK_ALLOW_DELETE = 4,  /* index.blocks.read_only_allow_delete: as read_only, deletes
                                     still allowed */
    KILN_BLOCK_READ = 8,          /* index.blocks.read: searches and gets */
};
typedef enum { KILN_OP_CLASS_WRITE, KILN_OP_CLASS_DELETE, KILN_OP_CLASS_METADATA,
               KILN_OP_CLASS_READ } kiln_op_class;
/* 0, or -1 with the ES error naming the block when idx refuses that kind of operation. */
int kiln_index_blocked(const kiln_index *idx, kiln_op_class op, kiln_error *err);

typedef enum { KILN_OP_INDEX, KILN_OP_CREATE, KILN_OP_UPDATE, KILN_OP_DELETE } kiln_op_type;

/* One write and its outcome; filled by kiln_index_write. */
typedef struct kiln_write {
    kiln_op_type op;
    const char *id;       /* NULL for index with a generated id (filled in gen_id) */
    size_t idlen;
    const char *routing;  /* NULL: route by _id */
    const char *body;     /* source (index/create) or the update request body (update) */
    size_t body_len;
    kiln_write_opts opts;
    kiln_json *scratch;   /* optional: reused for parsing sources (a _bulk request's items) */
    /* results */
    char gen_id[24];
    kiln_doc_meta meta;
    kiln_result result;
    unsigned shard;
    uint64_t lsn;
    int status;           /* HTTP status of the item: 200, 201, 404, or the error's */
    json_t *get_source;   /* update with _source requested: the new source (owned) */
} kiln_write;

/* Creates the index directory and its shards from a create-index body (may be NULL). */
kiln_index *kiln_index_create(const char *data_dir, const char *name, json_t *body,
                              kiln_error *err);
/* Opens an existing index directory. */
kiln_index *kiln_index_open(const char *dir, kiln_error *err);
kiln_index *kiln_index_ref(kiln_index *idx);
void kiln_index_unref(kiln_index *idx);

/* Current mapping, with a reference the caller drops with kiln_mapping_unref. */
kiln_mapping *kiln_index_mapping(kiln_index *idx);
/* PUT _mapping. */
int kiln_index_put_mapping(kiln_index *idx, json_t *body, kiln_error *err);

/* Performs one write on its shard (not yet durable: sync with kiln_index_sync). */
int kiln_index_write(kiln_index *idx, kiln_write *w, kiln_error *err);
/* kiln_index_write of an index/create in two halves, for callers that prepare documents on
 * several threads and apply them in order (_bulk): kiln_index_prepare fills in the id (a
 * generated one if missing) and the shard, parses the source into scratch and prepares it for
 * the search index, on any thread (no shard state is touched). It returns 1 when w can go to
 * kiln_index_write_prepared with *prep (NULL is fine), 0 when w needs kiln_index_write (another
 * operation, a bad id, or a source that is not valid JSON or adds fields to the mapping). */
struct kiln_sindex_prep;
int kiln_index_prepare(kiln_index *idx, kiln_write *w, kiln_json *scratch,
                       struct kiln_sindex_prep **prep);
/* Applies a prepared write and gives prep back to its shard; the caller holds the shard's
 * write lock (kiln_shard_write_hold: a run of prepared writes takes it once). */
int kiln_index_write_prepared(kiln_index *idx, kiln_write *w, struct kiln_sindex_prep *prep,
                              kiln_error *err);
int kiln_index_sync(kiln_index *idx, unsigned shard, uint64_t lsn, kiln_error *err);
/* kiln_shard_assist on one shard: work an idle _bulk helper can take off the writer's path. */
int kiln_index_assist(kiln_index *idx, unsigned shard);
unsigned kiln_index_route(const kiln_index *idx, const char *id, size_t idlen,
                          const char *routing);

/* Settings as GET /{index}/_settings shows them (nested, string values). Caller owns. */
json_t *kiln_index_settings_json(const kiln_index *idx);
/* A copy of the settings, flat ({"index.a.b": "v"}). Caller owns. */
json_t *kiln_index_settings_flat(const kiln_index *idx);
/* Flat settings nested as ES shows them ({"index": {"a": {"b": "v"}}}). Caller owns. */
json_t *kiln_settings_nest(json_t *flat);
/* Setting key ("index.x") copied into buf (settings can change under a reader: PUT
 * _settings); NULL when unset. */
const char *kiln_index_setting(const kiln_index *idx, const char *key, char *buf, size_t cap);
/* A numeric setting, def when unset. */
long kiln_index_setting_long(const kiln_index *idx, const char *key, long def);
/* An integer setting value (a number, or a string as settings keep them) within [min, max];
 * ES's messages otherwise. out may be NULL. */
int kiln_setting_long(json_t *v, const char *key, long min, long max, long *out,
                      kiln_error *err);
/* index.number_of_replicas (an atomic read). */
static inline int kiln_index_replicas(const kiln_index *idx)
{
    return atomic_load_explicit(&idx->replicas, memory_order_relaxed);
}
/* Checks one flat setting of an update ("index.x", a string or null = back to the default);
 * 0, or fills err. */
typedef int (*kiln_setting_check)(void *ctx, kiln_index *idx, const char *key, json_t *value,
                                  kiln_error *err);
/* PUT _settings: changes (any spelling, as in create) each pass check, then are merged into the
 * settings, persisted, and only then visible; on an error nothing changes. */
int kiln_index_update_settings(kiln_index *idx, json_t *changes, kiln_setting_check check,
                               void *ctx, kiln_error *err);
int kiln_index_refresh(kiln_index *idx, kiln_error *err);
int kiln_index_flush(kiln_index *idx, kiln_error *err);
/* _forcemerge: every shard's search segments merged down to at most max_segments. */
int kiln_index_force_merge(kiln_index *idx, size_t max_segments, kiln_error *err);
void kiln_index_stats(kiln_index *idx, kiln_shard_stats *total);

/* ES index-name rules. Returns 0 or fills err with invalid_index_name_exception. */
int kiln_index_name_check(const char *name, kiln_error *err);
/* ES-style 20-character URL-safe id, time-ordered. */
void kiln_index_gen_id(char out[24]);

#endif
