/* Binding a UDF to a query's parameters and calling it per document. */
#include "core/buf.h"
#include "core/log.h"
#include "udf/udf_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KILN__SAMPLE_MASK 63u   /* time one call in 64; every call and error is counted */
#define KILN__FLUSH_CALLS 4096u /* a long query's counts reach _stats while it runs */
#define KILN__LOG_CAPTURE_MAX 100

kiln_udf_bound *kiln_udf_bind(kiln_udf *u, json_t *params, kiln_error *err)
{
    if (params && !json_is_object(params)) {
        kiln_fail(err, KILN_E_PARSE, "[params] of UDF [%s@%s] must be an object", u->name,
                  u->version);
        return NULL;
    }
    kiln_udf_bound *b = kiln_xcalloc(1, sizeof *b);
    b->u = kiln_udf_ref(u);
    b->values = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v)
    {
        size_t i = 0;
        while (i < u->nparams && strcmp(u->params[i].name, k)) i++;
        if (i == u->nparams) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                      "UDF [%s@%s] has no parameter [%s]", u->name, u->version, k);
            goto fail;
        }
    }
    for (size_t i = 0; i < u->nparams; i++) {
        const kiln_udf_param_def *d = &u->params[i];
        json_t *given = json_object_get(params, d->name);
        json_t *val = NULL;
        if (given && !json_is_null(given)) {
            json_t *conv = kiln__udf_convert(given, d->type);
            if (!conv) {
                char *text = json_dumps(given, JSON_ENCODE_ANY | JSON_COMPACT);
                kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                          "parameter [%s] of UDF [%s@%s] must be of type [%s], got %s", d->name,
                          u->name, u->version, kiln_udf_type_name(d->type), text);
                free(text);
                goto fail;
            }
            val = conv;
        } else if (d->def) {
            val = json_deep_copy(d->def); /* a copy: jansson refcounts are not safe to share across threads */
        } else if (d->required) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                      "UDF [%s@%s] requires parameter [%s] of type [%s]", u->name, u->version,
                      d->name, kiln_udf_type_name(d->type));
            goto fail;
        }
        if (val) json_object_set_new(b->values, d->name, val);
        if (d->type == KILN_UDF_T_STRING) continue;
        /* Numeric parameters are also the export's arguments (when it takes them). */
        kiln_wasm_val *a = &b->args[b->nargs++];
        a->bits = 0;
        switch (d->type) {
        case KILN_UDF_T_I64: a->i64 = val ? json_integer_value(val) : 0; break;
        case KILN_UDF_T_F32: a->f32 = val ? (float)json_number_value(val) : 0; break;
        case KILN_UDF_T_F64: a->f64 = val ? json_number_value(val) : 0; break;
        case KILN_UDF_T_BOOL: a->i32 = val && json_is_true(val); break;
        default: a->i32 = val ? (int32_t)json_integer_value(val) : 0; break;
        }
    }
    if (kiln_wasm_export_sig(u->ex)->nparams == 0) b->nargs = 0;
    return b;
fail:
    kiln_udf_bound_free(b);
    return NULL;
}

void kiln_udf_bound_free(kiln_udf_bound *b)
{
    if (!b) return;
    json_decref(b->values);
    kiln_udf_unref(b->u);
    free(b);
}

const kiln_udf *kiln_udf_bound_udf(const kiln_udf_bound *b)
{
    return b->u;
}

kiln_udf_session *kiln_udf_session_new(kiln_udf_bound *b, uint64_t deadline_ns, int capture_log,
                                       kiln_error *err)
{
    kiln_udf_session *s = kiln_xcalloc(1, sizeof *s);
    s->b = b;
    s->deadline_ns = deadline_ns;
    s->capture = capture_log;
    if (capture_log) s->logs = json_array();
    return s;
}

/* Takes an instance for this thread when needed (after a trap the old one is gone). */
static int kiln__instance(kiln_udf_session *s, kiln_error *err)
{
    if (s->in) return 0;
    kiln_wasm_error werr;
    s->in = kiln_wasm_acquire(s->b->u->module, &werr);
    if (!s->in)
        return kiln_fail(err, KILN_E_INTERNAL, "UDF [%s@%s]: cannot instantiate: %s",
                         s->b->u->name, s->b->u->version, werr.msg);
    kiln_wasm_set_user(s->in, s);
    s->nbinds = 0; /* a fresh instance: its memory has no bound buffers until it binds again */
    if (s->deadline_ns) kiln_wasm_set_budget(s->in, 0, s->deadline_ns);
    return 0;
}

/* Stable machine-readable names of trap kinds, for errors and statistics. */
static const char *kiln__trap_id(kiln_wasm_trap_kind k)
{
    switch (k) {
    case KILN_TRAP_UNREACHABLE: return "unreachable";
    case KILN_TRAP_OOB_MEMORY: return "out_of_bounds_memory_access";
    case KILN_TRAP_OOB_TABLE: return "out_of_bounds_table_access";
    case KILN_TRAP_DIV_BY_ZERO: return "integer_divide_by_zero";
    case KILN_TRAP_INT_OVERFLOW: return "integer_overflow";
    case KILN_TRAP_INVALID_CONVERSION: return "invalid_conversion_to_integer";
    case KILN_TRAP_INDIRECT_CALL_MISMATCH: return "indirect_call_type_mismatch";
    case KILN_TRAP_UNINITIALIZED_ELEMENT: return "uninitialized_element";
    case KILN_TRAP_STACK_EXHAUSTED: return "call_stack_exhausted";
    case KILN_TRAP_FUEL_EXHAUSTED: return "fuel_exhausted";
    case KILN_TRAP_DEADLINE: return "deadline_exceeded";
    case KILN_TRAP_MEMORY_LIMIT: return "memory_limit_reached";
    case KILN_TRAP_HOST: return "host_error";
    default: return "trap";
    }
}

static void kiln__record_error(kiln_udf_session *s, const char *kind, const char *msg)
{
    kiln_udf *u = s->b->u;
    size_t idlen = 0;
    const char *id = s->doc ? kiln_udf_doc_id(s->doc, &idlen) : "";
    json_t *e = json_pack("{s:s,s:s,s:s%,s:I}", "kind", kind, "message", msg, "doc_id", id, idlen,
                          "time", (json_int_t)kiln_wall_ms());
    pthread_mutex_lock(&u->err_lock);
    json_decref(u->last_error);
    u->last_error = e;
    pthread_mutex_unlock(&u->err_lock);
}

static void kiln__tail_text(const kiln_udf_session *s, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    unsigned n = s->ntail < KILN__UDF_LOG_TAIL ? s->ntail : KILN__UDF_LOG_TAIL;
    for (unsigned i = 0; i < n && o < cap; i++) {
        unsigned idx = (s->ntail - n + i) % KILN__UDF_LOG_TAIL;
        o += (size_t)snprintf(out + o, cap - o, "%s[%s]", i ? ", " : "", s->tail[idx]);
    }
}

/* The UDF's raw result as a filter match and a score; 0, or -1 for NaN or infinity. */
static int kiln__result(kiln_wasm_type t, const kiln_wasm_val *res, kiln_udf_result *out)
{
    switch (t) {
    case KILN_WASM_I32: out->raw_i = res->i32; out->score = res->i32; break;
    case KILN_WASM_I64: out->raw_i = res->i64; out->score = (double)res->i64; break;
    case KILN_WASM_F32: out->score = res->f32; out->raw_i = (int64_t)res->f32; break;
    default: out->score = res->f64; out->raw_i = (int64_t)res->f64; break;
    }
    out->matched = out->score != 0;
    return isfinite(out->score) ? 0 : -1;
}

/* A failed call (trap, or a non-finite result when trap is NULL) on the session's current
 * document: counted at once (errors are rare and read soon after), recorded as the UDF's last
 * error, and described in err. */
static int kiln__call_failed(kiln_udf_session *s, int rc, const kiln_wasm_trap *trap,
                             kiln_error *err)
{
    kiln_udf *u = s->b->u;
    kiln__udf_stats_add(u->stats_id, s->pend_calls + 1, s->pend_errors + 1);
    s->pend_calls = s->pend_errors = 0;
    char logs[600], msg[512];
    kiln__tail_text(s, logs, sizeof logs);
    const char *kind = rc ? kiln__trap_id(trap->kind) : "non_finite_result";
    snprintf(msg, sizeof msg, "%s%s%s", rc ? trap->msg : "the UDF returned a NaN or infinite value",
             rc && trap->func_name ? " in function " : "", rc && trap->func_name ? trap->func_name : "");
    kiln__record_error(s, kind, msg);
    size_t idlen;
    const char *id = kiln_udf_doc_id(s->doc, &idlen);
    kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "UDF [%s@%s] failed on document [%.*s]: %s: %s%s%s",
              u->name, u->version, (int)idlen, id, kind, msg, logs[0] ? "; last log lines: " : "",
              logs);
    if (rc) { /* the engine discards a trapped instance */
        kiln_wasm_release(s->in);
        s->in = NULL;
    }
    return -1;
}

static void kiln__count_calls(kiln_udf_session *s, uint64_t n)
{
    s->pend_calls += n;
    if (s->pend_calls >= KILN__FLUSH_CALLS) {
        kiln__udf_stats_add(s->b->u->stats_id, s->pend_calls, s->pend_errors);
        s->pend_calls = s->pend_errors = 0;
    }
}

int kiln_udf_call(kiln_udf_session *s, const kiln_udf_doc *doc, double score,
                  kiln_udf_result *out, kiln_error *err)
{
    kiln_udf *u = s->b->u;
    if (kiln__instance(s, err)) return -1;
    s->doc = doc;
    s->score = score;
    int sampled = kiln__stats_on && (s->call_no++ & KILN__SAMPLE_MASK) == 0;
    uint64_t t0 = sampled ? kiln__udf_now_ns() : 0;
    kiln_wasm_val res;
    kiln_wasm_trap trap;
    int rc;
    if (s->nbinds) { /* bound fields: this document's values into guest memory first */
        const kiln_wasm_input *in;
        kiln_udf_doc one = *doc;
        size_t nin = kiln__udf_stage_inputs(s, &one, one.at, 1, &in);
        if (kiln_wasm_put_inputs(s->in, in, nin)) { /* bind checked them: an engine bug */
            kiln_fail(err, KILN_E_INTERNAL, "UDF [%s@%s]: bound field outside memory",
                      u->name, u->version);
            return -1;
        }
    }
    rc = kiln_wasm_call(s->in, u->ex, s->b->args, &res, &trap);
    if (sampled) kiln__udf_stats_sample(u->stats_id, kiln__udf_now_ns() - t0);
    if (rc != 0 || kiln__result(u->result_type, &res, out)) return kiln__call_failed(s, rc, &trap, err);
    kiln__count_calls(s, 1);
    return 0;
}

/* Batches: the engine stores each call's index in doc->at (no callback per document) and
 * writes bound fields before each call. Statistics time one call in KILN__BATCH: the first
 * of each engine batch runs alone between two clock reads. */

/* Runs calls [first, first + m) of a batch; returns how many succeeded (m, or the index of the
 * failed call relative to first, with err filled). */
static size_t kiln__batch_run(kiln_udf_session *s, kiln_udf_doc *doc, size_t first, size_t m,
                              uint8_t *matched, kiln_error *err)
{
    kiln_udf *u = s->b->u;
    kiln_wasm_val res[KILN__BATCH];
    kiln_wasm_trap trap;
    size_t done = 0, at = first, end = first + m;
    int rc = 0;
    if (kiln__instance(s, err)) return 0;
    while (at < end && rc == 0) { /* a guest binding a field ends the batch: restage */
        const kiln_wasm_input *in = NULL;
        size_t nin = kiln__udf_stage_inputs(s, doc, at, end - at, &in);
        rc = kiln_wasm_call_each(s->in, u->ex, s->b->args, res + (at - first), at, end - at,
                                 &doc->at, in, nin, &done, &trap);
        at += done;
    }
    done = at - first;
    size_t bad = done;
    if (u->result_type == KILN_WASM_I32) { /* the usual filter: no float to check */
        for (size_t i = 0; i < done; i++) matched[first + i] = res[i].i32 != 0;
    } else {
        kiln_udf_result r;
        for (size_t i = 0; i < done && bad == done; i++) {
            if (kiln__result(u->result_type, &res[i], &r)) bad = i;
            matched[first + i] = (uint8_t)r.matched;
        }
    }
    if (bad < done) { /* a NaN or infinite result */
        kiln__count_calls(s, bad);
        doc->at = first + bad;
        kiln__call_failed(s, 0, NULL, err);
        return bad;
    }
    kiln__count_calls(s, done);
    if (rc != 0) {
        doc->at = first + done;
        kiln__call_failed(s, rc, &trap, err);
        return done;
    }
    return m;
}

size_t kiln_udf_call_batch(kiln_udf_session *s, kiln_udf_doc *doc, size_t first, size_t n,
                           uint8_t *matched, kiln_error *err)
{
    s->doc = doc;
    s->score = 0;
    while (first < n) {
        size_t m = n - first < KILN__BATCH ? n - first : KILN__BATCH, ok;
        if (kiln__stats_on) { /* the timed call */
            uint64_t t0 = kiln__udf_now_ns();
            ok = kiln__batch_run(s, doc, first, 1, matched, err);
            kiln__udf_stats_sample(s->b->u->stats_id, kiln__udf_now_ns() - t0);
            if (ok < 1) return first;
            ok += m > 1 ? kiln__batch_run(s, doc, first + 1, m - 1, matched, err) : 0;
        } else {
            ok = kiln__batch_run(s, doc, first, m, matched, err);
        }
        if (ok < m) return first + ok;
        first += m;
    }
    return n;
}

void kiln__udf_log(kiln_udf_session *s, int level, const char *msg, size_t len)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (level < 0) level = 0;
    if (level > 3) level = 3;
    snprintf(s->tail[s->ntail++ % KILN__UDF_LOG_TAIL], sizeof s->tail[0], "%.*s", (int)len, msg);
    if (s->capture && json_array_size(s->logs) < KILN__LOG_CAPTURE_MAX)
    {
        size_t idlen = 0;
        const char *id = s->doc ? kiln_udf_doc_id(s->doc, &idlen) : "";
        json_array_append_new(s->logs, json_pack("{s:s,s:s%,s:s%}", "level", names[level],
                                                 "message", msg, len, "doc_id", id, idlen));
    }
    /* The server log is rate-limited per process: a chatty UDF cannot flood it. */
    static _Atomic int64_t window_start;
    static atomic_int in_window;
    int64_t now = kiln_wall_ms() / 1000;
    if (atomic_exchange(&window_start, now) != now) atomic_store(&in_window, 0);
    if (atomic_fetch_add(&in_window, 1) < 20)
    {
        size_t idlen = 0;
        const char *id = s->doc ? kiln_udf_doc_id(s->doc, &idlen) : "";
        kiln_log(level == 3 ? KILN_LOG_ERROR : level == 2 ? KILN_LOG_WARN : KILN_LOG_INFO, "udf",
                 "%s@%s [%.*s]: %.*s", s->b->u->name, s->b->u->version, (int)idlen, id, (int)len,
                 msg);
    }
}

json_t *kiln_udf_session_logs(const kiln_udf_session *s)
{
    return s->logs ? json_incref(s->logs) : NULL;
}

void kiln_udf_session_free(kiln_udf_session *s)
{
    if (!s) return;
    kiln__udf_stats_add(s->b->u->stats_id, s->pend_calls, s->pend_errors);
    if (s->in) kiln_wasm_release(s->in);
    kiln__udf_paths_clear(s);
    free(s->paths);
    kiln__udf_stage_free(s->stage);
    json_decref(s->logs);
    free(s);
}
