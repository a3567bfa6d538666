/* Private to src/udf: the structures behind udf.h, shared by registry, binding, calls, host
 * functions and statistics. */
#ifndef KILN_UDF_INT_H
#define KILN_UDF_INT_H

#include "udf/udf.h"
#include "core/clock.h"
#include "wasm/kiln_wasm.h"

#include <stdatomic.h>
#include <pthread.h>

#define KILN__UDF_LOG_TAIL 5

/* Per-version statistics, merged from per-thread slots on read (see stats.c). */
typedef struct kiln__udf_stats_snapshot {
    uint64_t calls, errors, sampled, total_ns, min_ns, max_ns, last_called_ms;
    uint64_t hist[64]; /* log2 buckets of sampled call durations in ns */
} kiln__udf_stats_snapshot;

struct kiln_udf {
    atomic_int refs;
    char *name, *version;
    int ver[3];          /* major, minor, patch for ordering */
    char *prerelease;    /* "" when none: sorts after any prerelease */
    json_t *meta;        /* normalised metadata (what describe returns, without live fields) */
    kiln_udf_param_def *params;
    size_t nparams;
    kiln_wasm_module *module;
    const kiln_wasm_export *ex;
    kiln_wasm_type result_type;
    size_t wasm_len;
    uint64_t deadline_ns, fuel;
    int64_t created_ms;
    unsigned stats_id;
    pthread_mutex_t err_lock; /* guards last_error */
    json_t *last_error;
};

struct kiln_udf_bound {
    kiln_udf *u;
    json_t *values;              /* name → converted value, defaults filled in */
    kiln_wasm_val args[KILN_WASM_MAX_PARAMS];
    int nargs;
};

typedef struct {
    char *path;
    size_t len;
    void *handle;
} kiln__udf_path;

#define KILN__UDF_MAX_BINDS 8 /* bound fields per query (bind_field_string) */
#define KILN__BATCH 64        /* calls under one trap guard; statistics time the first */

typedef struct {
    int32_t h;
    uint32_t dst, cap, len_at;
} kiln__udf_bind;

typedef struct kiln__udf_stage kiln__udf_stage;

struct kiln_udf_session {
    kiln_udf_bound *b;
    kiln_wasm_instance *in;
    uint64_t deadline_ns;
    /* the call in progress */
    const kiln_udf_doc *doc;
    double score;
    /* resolved paths, valid while doc->ops stays the same */
    const kiln_udf_doc_ops *ops;
    const void *scope;
    kiln__udf_path *paths;
    size_t npaths, cap;
    /* logs */
    int capture;
    json_t *logs;
    char tail[KILN__UDF_LOG_TAIL][200];
    unsigned ntail;
    unsigned call_no;
    uint64_t pend_calls, pend_errors; /* not yet added to the thread's counters */
    /* bound fields of the current instance (its memory holds the buffers) */
    kiln__udf_bind binds[KILN__UDF_MAX_BINDS];
    unsigned nbinds;
    kiln__udf_stage *stage; /* the values staged for a batch, allocated on first use */
};

/* Host functions (host.c). */
int kiln__udf_host_register(kiln_error *err);
/* The resolved handle of a path for the session's current document kind; NULL if malformed. */
kiln__udf_path *kiln__udf_path_get(kiln_udf_session *s, const char *p, size_t n);
void kiln__udf_paths_clear(kiln_udf_session *s);
void kiln__udf_log(kiln_udf_session *s, int level, const char *msg, size_t len);
/* Re-resolves the session's handles for doc's kind and segment when they changed. */
void kiln__udf_handles_current(kiln_udf_session *s, const kiln_udf_doc *doc);
/* Field h of the session's current document as text (numbers rendered into buf, >= 40
 * bytes); NULL when missing or h is not a resolved handle. */
const char *kiln__udf_field_text(kiln_udf_session *s, int32_t h, char *buf, size_t *len);

/* Bound fields (bind.c): the host function, and the engine inputs for calls first .. first+n-1
 * of a batch on doc (at most KILN__BATCH); returns how many inputs (s->nbinds). */
int32_t kiln__udf_bind_field_string(kiln_wasm_ctx *ctx, int32_t h, int32_t buf, int32_t cap,
                                    int32_t len_at);
size_t kiln__udf_stage_inputs(kiln_udf_session *s, kiln_udf_doc *doc, size_t first, size_t n,
                              const kiln_wasm_input **inputs);
void kiln__udf_stage_free(kiln__udf_stage *st);

/* Statistics (stats.c); off only while benchmarking their cost. */
extern int kiln__stats_on;
unsigned kiln__udf_stats_new_id(void);
/* Adds a session's pending call and error counts to this thread's counters. */
void kiln__udf_stats_add(unsigned id, uint64_t calls, uint64_t errors);
/* Records one timed call. */
void kiln__udf_stats_sample(unsigned id, uint64_t ns);
void kiln__udf_stats_read(unsigned id, kiln__udf_stats_snapshot *out);

/* Coerces a JSON value to a parameter type (numeric strings, "true"); NULL if impossible. */
json_t *kiln__udf_convert(json_t *v, kiln_udf_type t);

uint64_t kiln__udf_now_ns(void);

#endif
