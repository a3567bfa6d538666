/* User-defined functions: the registry of WebAssembly UDFs, their metadata and statistics, and
 * calls into them with a document. Other modules reach src/udf only through this header.
 *
 * Lifetimes: a kiln_udf (one name@version) is reference-counted. The registry holds one
 * reference; a query or a dry run takes its own, so unregistering a version never disturbs a
 * query already running with it. */
#ifndef KILN_UDF_H
#define KILN_UDF_H

#include "core/buf.h"
#include "core/error.h"
#include "udf/doc.h"

#include <jansson.h>
#include <stdint.h>

typedef enum {
    KILN_UDF_T_STRING,
    KILN_UDF_T_I32,
    KILN_UDF_T_I64,
    KILN_UDF_T_F32,
    KILN_UDF_T_F64,
    KILN_UDF_T_BOOL,
} kiln_udf_type;

typedef struct kiln_udf_param_def {
    char *name;
    kiln_udf_type type;
    int required;
    json_t *def; /* default value (converted to type), NULL if none */
} kiln_udf_param_def;

typedef struct kiln_udf kiln_udf;
typedef struct kiln_udf_registry kiln_udf_registry;

/* Opens the registry persisted in dir (creating it), reloading every UDF (the engine's disk
 * cache avoids recompiling). */
kiln_udf_registry *kiln_udf_registry_open(const char *dir, kiln_error *err);
void kiln_udf_registry_close(kiln_udf_registry *r);

/* Registers name@version from metadata (the PUT /_udf body without "wasm") and module bytes.
 * Validates everything (names, semver, parameter types and defaults, the export and its
 * signature, the ABI version), compiles, persists. 409 if it exists. Returns a reference. */
kiln_udf *kiln_udf_register(kiln_udf_registry *r, const char *name, const char *version,
                            json_t *meta, const uint8_t *wasm, size_t wasm_len, kiln_error *err);
/* A referenced UDF; version NULL means the highest semver. NULL + 404 error if unknown. */
kiln_udf *kiln_udf_get(kiln_udf_registry *r, const char *name, const char *version,
                       kiln_error *err);
int kiln_udf_unregister(kiln_udf_registry *r, const char *name, const char *version,
                        kiln_error *err);
kiln_udf *kiln_udf_ref(kiln_udf *u);
void kiln_udf_unref(kiln_udf *u);

/* Metadata as the REST API returns it (caller owns): name, version, description, ... */
json_t *kiln_udf_describe(const kiln_udf *u);
/* Statistics of one version (caller owns). */
json_t *kiln_udf_stats_json(const kiln_udf *u);

/* Every registered version matching the filters (NULL: any); caller owns the array. */
json_t *kiln_udf_list(kiln_udf_registry *r, const char *name_prefix, const char *tag,
                      const char *category, const char *author, const char *exact_name,
                      int with_stats);

const char *kiln_udf_name(const kiln_udf *u);
const char *kiln_udf_version(const kiln_udf *u);
int kiln_udf_returns_score(const kiln_udf *u); /* f32/f64 result */
/* Blocks until the optimizing tier is in use (or failed to build); returns the tier. */
int kiln_udf_wait_optimized(kiln_udf *u);

/* ---- calling ------------------------------------------------------------------------------ */

/* A UDF bound to one query's parameters (validated and converted at parse time). */
typedef struct kiln_udf_bound kiln_udf_bound;

/* Checks params (a JSON object; NULL = none) against the declared parameters: unknown names,
 * missing required ones and wrong types are 400 errors naming the parameter. */
kiln_udf_bound *kiln_udf_bind(kiln_udf *u, json_t *params, kiln_error *err);
void kiln_udf_bound_free(kiln_udf_bound *b);
const kiln_udf *kiln_udf_bound_udf(const kiln_udf_bound *b);

/* Per-thread call state for one query (an instance from the pool, log capture). */
typedef struct kiln_udf_session kiln_udf_session;

typedef struct kiln_udf_result {
    int matched;   /* filter: result != 0 */
    double score;  /* score UDFs: the value (NaN/inf rejected as errors) */
    int64_t raw_i; /* the raw integer result */
} kiln_udf_result;

/* deadline_ns: wall-clock budget of each call (0: the UDF's default); capture_log: keep log
 * lines for the response. */
kiln_udf_session *kiln_udf_session_new(kiln_udf_bound *b, uint64_t deadline_ns, int capture_log,
                                       kiln_error *err);
/* Calls the UDF on doc. On a trap or a limit: negative, err says "name@version", the doc id,
 * the trap kind and the last log lines. Statistics are updated either way. */
int kiln_udf_call(kiln_udf_session *s, const kiln_udf_doc *doc, double score,
                  kiln_udf_result *out, kiln_error *err);
/* Calls a filter UDF on documents first .. n-1 under one trap guard per batch (a query's
 * scan): before call i, doc->at = i (the doc's implementation maps it to its i-th document);
 * matched[i] receives kiln_udf_result.matched (the score the UDF sees is 0). Returns n when
 * every call succeeded; otherwise the index of the call that failed as kiln_udf_call
 * describes (err filled, doc->at on it); no later result is valid. */
size_t kiln_udf_call_batch(kiln_udf_session *s, kiln_udf_doc *doc, size_t first, size_t n,
                           uint8_t *matched, kiln_error *err);
/* Captured log lines as a JSON array (caller owns); NULL when not capturing. */
json_t *kiln_udf_session_logs(const kiln_udf_session *s);
void kiln_udf_session_free(kiln_udf_session *s);

const char *kiln_udf_type_name(kiln_udf_type t);

/* Statistics are always on; benchmarks switch them off to measure what they cost. */
void kiln_udf_stats_enable(int on);

#endif
