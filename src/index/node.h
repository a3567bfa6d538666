/* The node: every index in the data directory, by name. Thread-safe. */
#ifndef KILN_NODE_H
#define KILN_NODE_H

#include "core/error.h"
#include "core/workers.h"
#include "index/index.h"

typedef struct kiln_node kiln_node;

kiln_node *kiln_node_open(const char *data_dir, kiln_error *err);
void kiln_node_close(kiln_node *n);
const char *kiln_node_uuid(const kiln_node *n);
const char *kiln_node_data_dir(const kiln_node *n);

/* Referenced index, or NULL with index_not_found_exception in err. */
kiln_index *kiln_node_get(kiln_node *n, const char *name, kiln_error *err);
/* Get, or create with default settings and dynamic mapping (auto-creation on first write). */
kiln_index *kiln_node_get_or_create(kiln_node *n, const char *name, kiln_error *err);
kiln_index *kiln_node_create(kiln_node *n, const char *name, json_t *body, kiln_error *err);
int kiln_node_delete(kiln_node *n, const char *name, kiln_error *err);

/* Resolves "a,b*,-c" / "_all" / "*" to referenced indices, sorted by name (caller frees the array
 * and unrefs each). Missing concrete names fail with index_not_found_exception unless
 * ignore_unavailable; a wildcard matching nothing is fine unless !allow_no_indices. */
int kiln_node_resolve(kiln_node *n, const char *expr, int ignore_unavailable,
                      int allow_no_indices, kiln_index ***out, size_t *count, kiln_error *err);
void kiln_node_release(kiln_index **list, size_t count);

/* The node's worker pool (one thread per CPU), for searches over several shards. Borrowed. */
kiln_workers *kiln_node_workers(kiln_node *n);

/* index.refresh_interval: writes become searchable within it (a background refresh, as in ES).
 * In ms; -1 disables background refreshes. Default 1 s. */
#define KILN_REFRESH_INTERVAL_DEFAULT_MS 1000
int64_t kiln_node_refresh_interval(const kiln_index *idx);
/* Parses a time value ("1s", "500ms", "-1", ...) into *ms (may be NULL); 400 on bad input. */
int kiln_node_parse_interval(json_t *v, int64_t *ms, kiln_error *err);
/* index.search.idle.after (default 30 s, as ES): a shard no search has used for that long skips
 * its scheduled refreshes until the next search, unless index.refresh_interval was set
 * explicitly. -1 when the index never goes search idle. */
#define KILN_SEARCH_IDLE_AFTER_DEFAULT_MS 30000
/* index.max_result_window: from + size of a search at most this (ES's default). */
#define KILN_MAX_RESULT_WINDOW_DEFAULT 10000
int64_t kiln_node_search_idle_after(const kiln_index *idx);
/* PUT /{index}/_settings: the dynamic settings above, index.number_of_replicas and
 * index.max_result_window (null: back to the default); a static, private or unknown setting or
 * a bad value fails the whole update with ES's message. Takes effect at the next scheduled
 * refresh. */
int kiln_node_put_settings(kiln_index *idx, json_t *body, kiln_error *err);
/* A shard's search write buffer is sealed into a (not yet searchable) segment beyond this, so
 * memory stays bounded while no refresh runs (ES's indexing buffer). */
#define KILN_INDEX_BUFFER_BYTES ((size_t)256 << 20)

#endif
