/* Host functions of ABI v1 (abi.h): what a UDF can ask of Kiln. Each checks every guest
 * (ptr, len) through the engine (64-bit math) and turns a bad one into a trap of the call. */
#include "core/buf.h"
#include "core/hash.h"
#include "core/log.h"
#include "udf/abi.h"
#include "udf/udf_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KILN__MAX_PATH 1024

static kiln_udf_session *kiln__sess(kiln_wasm_ctx *ctx)
{
    return kiln_wasm_ctx_user(ctx);
}

/* Guest bytes [p, p+n) or NULL after failing the call. */
static const char *kiln__in(kiln_wasm_ctx *ctx, int32_t p, int32_t n, const char *fn)
{
    if (n < 0 || n > KILN__MAX_PATH) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: length %d out of range", fn, n);
        kiln_wasm_ctx_fail(ctx, msg);
        return NULL;
    }
    const char *s = kiln_wasm_ctx_mem(ctx, (uint32_t)p, (uint32_t)n);
    if (!s && n > 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: pointer %u (+%d) outside the module's memory", fn,
                 (uint32_t)p, n);
        kiln_wasm_ctx_fail(ctx, msg);
    }
    return s ? s : (n == 0 ? "" : NULL);
}

/* Copies up to cap bytes of s to guest memory at out; returns len (the full length). */
static int32_t kiln__out(kiln_wasm_ctx *ctx, int32_t out, int32_t cap, const char *s, size_t len,
                         const char *fn)
{
    if (cap < 0) {
        kiln_wasm_ctx_fail(ctx, "negative buffer capacity");
        return -1;
    }
    size_t n = len < (size_t)cap ? len : (size_t)cap;
    if (n) {
        char *dst = kiln_wasm_ctx_mem(ctx, (uint32_t)out, (uint32_t)n);
        if (!dst) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s: output buffer %u (+%zu) outside the module's memory",
                     fn, (uint32_t)out, n);
            kiln_wasm_ctx_fail(ctx, msg);
            return -1;
        }
        kiln_wasm_copy_small(dst, s, n);
    }
    return len > INT32_MAX ? INT32_MAX : (int32_t)len;
}

/* ---- paths ------------------------------------------------------------------------------- */

void kiln__udf_paths_clear(kiln_udf_session *s)
{
    for (size_t i = 0; i < s->npaths; i++) {
        if (s->ops && s->paths[i].handle) s->ops->release(s->paths[i].handle);
        free(s->paths[i].path);
    }
    s->npaths = 0;
}

kiln__udf_path *kiln__udf_path_get(kiln_udf_session *s, const char *p, size_t n)
{
    /* another kind of document or another segment: re-resolve, keeping the handles given out */
    kiln__udf_handles_current(s, s->doc);
    for (size_t i = 0; i < s->npaths; i++)
        if (s->paths[i].len == n && memcmp(s->paths[i].path, p, n) == 0) return &s->paths[i];
    if (s->npaths == s->cap)
        s->paths = kiln_xrealloc(s->paths, (s->cap = s->cap ? s->cap * 2 : 8) * sizeof *s->paths);
    kiln__udf_path *e = &s->paths[s->npaths++];
    e->path = kiln_xstrndup(p, n);
    e->len = n;
    e->handle = NULL;
    if (s->ops->resolve(s->doc, p, n, &e->handle)) e->handle = NULL;
    return e;
}

static int kiln__field(kiln_wasm_ctx *ctx, int32_t p, int32_t n, const char *fn,
                       kiln_udf_value *v)
{
    kiln_udf_session *s = kiln__sess(ctx);
    const char *path = kiln__in(ctx, p, n, fn);
    v->kind = KILN_UDF_V_MISSING;
    if (!path || !s->doc) return -1;
    kiln__udf_path *e = kiln__udf_path_get(s, path, (size_t)n);
    if (e->handle) s->doc->ops->value(s->doc, e->handle, v);
    return 0;
}

/* A new segment (or kind of document): re-resolves the handles already given out, keeping
 * their numbers. */
void kiln__udf_handles_current(kiln_udf_session *s, const kiln_udf_doc *doc)
{
    if (doc->ops == s->ops && doc->scope == s->scope) return;
    const kiln_udf_doc_ops *old = s->ops;
    for (size_t i = 0; i < s->npaths; i++) {
        if (old && s->paths[i].handle) old->release(s->paths[i].handle);
        s->paths[i].handle = NULL;
        if (doc->ops->resolve(doc, s->paths[i].path, s->paths[i].len, &s->paths[i].handle))
            s->paths[i].handle = NULL;
    }
    s->ops = doc->ops;
    s->scope = doc->scope;
}

static inline int kiln__field_h(kiln_wasm_ctx *ctx, int32_t h, kiln_udf_value *v)
{
    kiln_udf_session *s = kiln__sess(ctx);
    const kiln_udf_doc *doc = s->doc;
    v->kind = KILN_UDF_V_MISSING;
    if (__builtin_expect(!doc || (uint32_t)h >= s->npaths, 0)) {
        kiln_wasm_ctx_fail(ctx, "invalid field handle (resolve it with field_handle in this call "
                                "or query)");
        return -1;
    }
    if (__builtin_expect(doc->ops != s->ops || doc->scope != s->scope, 0))
        kiln__udf_handles_current(s, doc);
    if (s->paths[h].handle) doc->ops->value(doc, s->paths[h].handle, v);
    return 0;
}

/* Renders a value as text for get_field_string. */
static const char *kiln__as_text(const kiln_udf_value *v, char *buf, size_t cap, size_t *len)
{
    switch (v->kind) {
    case KILN_UDF_V_STRING: *len = v->len; return v->str;
    case KILN_UDF_V_INT: *len = (size_t)snprintf(buf, cap, "%lld", (long long)v->i); return buf;
    case KILN_UDF_V_FLOAT: *len = (size_t)snprintf(buf, cap, "%.17g", v->f); return buf;
    case KILN_UDF_V_BOOL: *len = v->i ? 4 : 5; return v->i ? "true" : "false";
    default: *len = 0; return NULL;
    }
}

const char *kiln__udf_field_text(kiln_udf_session *s, int32_t h, char *buf, size_t *len)
{
    const kiln_udf_doc *doc = s->doc;
    if (!doc || (uint32_t)h >= s->npaths) return NULL;
    kiln__udf_handles_current(s, doc);
    void *handle = s->paths[h].handle;
    if (!handle) return NULL;
    const char *str = doc->ops->str ? doc->ops->str(doc, handle, len) : NULL;
    if (str) return str;
    kiln_udf_value v;
    doc->ops->value(doc, handle, &v);
    return kiln__as_text(&v, buf, 40, len);
}

/* A NUL-terminated copy of a string value (numbers in strings are short). */
static void kiln__cstr(const kiln_udf_value *v, char *buf, size_t cap)
{
    size_t n = v->len < cap - 1 ? v->len : cap - 1;
    memcpy(buf, v->str, n);
    buf[n] = 0;
}

static int64_t kiln__as_i64(const kiln_udf_value *v)
{
    if (v->kind == KILN_UDF_V_STRING) {
        char buf[32];
        kiln__cstr(v, buf, sizeof buf);
        return strtoll(buf, NULL, 10);
    }
    return v->kind == KILN_UDF_V_MISSING ? 0 : v->i;
}

static double kiln__as_f64(const kiln_udf_value *v)
{
    if (v->kind == KILN_UDF_V_STRING) {
        char buf[64];
        kiln__cstr(v, buf, sizeof buf);
        char *end;
        double d = strtod(buf, &end);
        return end == buf ? NAN : d;
    }
    return v->kind == KILN_UDF_V_MISSING ? NAN : v->f;
}

/* Copies a field value as text to the guest (get_field_string and its handle variant). */
static int32_t kiln__text_out(kiln_wasm_ctx *ctx, const kiln_udf_value *v, int32_t out,
                              int32_t cap, const char *fn)
{
    char buf[40];
    size_t len;
    const char *t = kiln__as_text(v, buf, sizeof buf, &len);
    return t ? kiln__out(ctx, out, cap, t, len, fn) : -1;
}

static int32_t kiln__get_field_string(kiln_wasm_ctx *ctx, int32_t p, int32_t n, int32_t out,
                                      int32_t cap)
{
    kiln_udf_value v;
    if (kiln__field(ctx, p, n, "get_field_string", &v)) return -1;
    return kiln__text_out(ctx, &v, out, cap, "get_field_string");
}

static int64_t kiln__get_field_int64(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    kiln_udf_value v;
    return kiln__field(ctx, p, n, "get_field_int64", &v) ? 0 : kiln__as_i64(&v);
}

static double kiln__get_field_float64(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    kiln_udf_value v;
    return kiln__field(ctx, p, n, "get_field_float64", &v) ? NAN : kiln__as_f64(&v);
}

static int32_t kiln__get_field_bool(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    kiln_udf_value v;
    if (kiln__field(ctx, p, n, "get_field_bool", &v)) return 0;
    if (v.kind == KILN_UDF_V_STRING) return v.len == 4 && memcmp(v.str, "true", 4) == 0;
    return v.kind != KILN_UDF_V_MISSING && v.i != 0;
}

static int32_t kiln__has_field(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    kiln_udf_value v;
    return kiln__field(ctx, p, n, "has_field", &v) == 0 && v.kind != KILN_UDF_V_MISSING;
}

static int32_t kiln__get_field_count(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    kiln_udf_session *s = kiln__sess(ctx);
    const char *path = kiln__in(ctx, p, n, "get_field_count");
    if (!path || !s->doc) return 0;
    kiln__udf_path *e = kiln__udf_path_get(s, path, (size_t)n);
    return e->handle ? s->doc->ops->count(s->doc, e->handle) : 0;
}

static int32_t kiln__get_document_id(kiln_wasm_ctx *ctx, int32_t out, int32_t cap)
{
    kiln_udf_session *s = kiln__sess(ctx);
    if (!s->doc) return 0;
    size_t len;
    const char *id = kiln_udf_doc_id(s->doc, &len);
    return kiln__out(ctx, out, cap, id, len, "get_document_id");
}

static double kiln__get_score(kiln_wasm_ctx *ctx)
{
    return kiln__sess(ctx)->score;
}

static void kiln__log(kiln_wasm_ctx *ctx, int32_t level, int32_t p, int32_t n)
{
    if (n > KILN__MAX_PATH) n = KILN__MAX_PATH; /* a long log line is cut, not an error */
    const char *msg = kiln__in(ctx, p, n < 0 ? -1 : n, "log");
    if (msg) kiln__udf_log(kiln__sess(ctx), level, msg, (size_t)n);
}

/* ---- parameters -------------------------------------------------------------------------- */

static json_t *kiln__param(kiln_wasm_ctx *ctx, int32_t p, int32_t n, const char *fn)
{
    const char *name = kiln__in(ctx, p, n, fn);
    if (!name) return NULL;
    char key[256];
    if ((size_t)n >= sizeof key) return NULL;
    memcpy(key, name, (size_t)n);
    key[n] = 0;
    return json_object_get(kiln__sess(ctx)->b->values, key);
}

static int32_t kiln__get_param_string(kiln_wasm_ctx *ctx, int32_t p, int32_t n, int32_t out,
                                      int32_t cap)
{
    json_t *v = kiln__param(ctx, p, n, "get_param_string");
    if (!v) return -1;
    if (json_is_string(v))
        return kiln__out(ctx, out, cap, json_string_value(v), json_string_length(v),
                         "get_param_string");
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    int32_t r = kiln__out(ctx, out, cap, text, strlen(text), "get_param_string");
    free(text);
    return r;
}

static int64_t kiln__get_param_int64(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    json_t *v = kiln__param(ctx, p, n, "get_param_int64");
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_real(v)) return (int64_t)json_real_value(v);
    if (json_is_boolean(v)) return json_is_true(v);
    return 0;
}

static double kiln__get_param_float64(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    json_t *v = kiln__param(ctx, p, n, "get_param_float64");
    return json_is_number(v) ? json_number_value(v) : json_is_boolean(v) ? json_is_true(v) : NAN;
}

static int32_t kiln__get_param_bool(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    json_t *v = kiln__param(ctx, p, n, "get_param_bool");
    return json_is_true(v) || (json_is_number(v) && json_number_value(v) != 0);
}

static int32_t kiln__has_param(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    json_t *v = kiln__param(ctx, p, n, "has_param");
    return v && !json_is_null(v);
}

/* ---- the fast path ------------------------------------------------------------------------ */

static int32_t kiln__field_handle(kiln_wasm_ctx *ctx, int32_t p, int32_t n)
{
    kiln_udf_session *s = kiln__sess(ctx);
    const char *path = kiln__in(ctx, p, n, "field_handle");
    if (!path || !s->doc) return -1;
    kiln__udf_path *e = kiln__udf_path_get(s, path, (size_t)n);
    return e->handle ? (int32_t)(e - s->paths) : -1;
}

/* Other types, a new segment, errors: out of line, so the fast path saves no registers. */
__attribute__((noinline)) static int32_t kiln__get_field_string_h_slow(kiln_wasm_ctx *ctx, int32_t h,
                                                                      int32_t out, int32_t cap)
{
    kiln_udf_value v;
    if (kiln__field_h(ctx, h, &v)) return -1;
    return kiln__text_out(ctx, &v, out, cap, "get_field_string_h");
}

static int32_t kiln__get_field_string_h(kiln_wasm_ctx *ctx, int32_t h, int32_t out, int32_t cap)
{
    kiln_udf_session *s = kiln__sess(ctx);
    const kiln_udf_doc *doc = s->doc;
    /* The per-document read of a text-matching UDF: a string value straight into the guest. */
    if (__builtin_expect(doc && doc->ops->str && (uint32_t)h < s->npaths && doc->ops == s->ops &&
                             doc->scope == s->scope && s->paths[h].handle && cap >= 0,
                         1)) {
        size_t len;
        const char *str = doc->ops->str(doc, s->paths[h].handle, &len);
        size_t n = len < (size_t)cap ? len : (size_t)cap;
        char *dst = str ? kiln_wasm_ctx_mem(ctx, (uint32_t)out, (uint32_t)n) : NULL;
        if (dst) {
            kiln_wasm_copy_small(dst, str, n);
            return len > INT32_MAX ? INT32_MAX : (int32_t)len;
        }
    }
    return kiln__get_field_string_h_slow(ctx, h, out, cap);
}

static int64_t kiln__get_field_int64_h(kiln_wasm_ctx *ctx, int32_t h)
{
    kiln_udf_value v;
    return kiln__field_h(ctx, h, &v) ? 0 : kiln__as_i64(&v);
}

static double kiln__get_field_float64_h(kiln_wasm_ctx *ctx, int32_t h)
{
    kiln_udf_value v;
    return kiln__field_h(ctx, h, &v) ? NAN : kiln__as_f64(&v);
}

static int32_t kiln__has_field_h(kiln_wasm_ctx *ctx, int32_t h)
{
    kiln_udf_value v;
    return kiln__field_h(ctx, h, &v) == 0 && v.kind != KILN_UDF_V_MISSING;
}

#define KILN__HOST(name, sig) {KILN_UDF_ABI_MODULE, #name, sig, (void (*)(void))kiln__##name}

static const kiln_wasm_host_fn kiln__host_table[] = {
    KILN__HOST(get_field_string, "iiii:i"),
    KILN__HOST(get_field_int64, "ii:I"),
    KILN__HOST(get_field_float64, "ii:F"),
    KILN__HOST(get_field_bool, "ii:i"),
    KILN__HOST(has_field, "ii:i"),
    KILN__HOST(get_field_count, "ii:i"),
    KILN__HOST(get_document_id, "ii:i"),
    KILN__HOST(get_score, ":F"),
    KILN__HOST(log, "iii:"),
    KILN__HOST(get_param_string, "iiii:i"),
    KILN__HOST(get_param_int64, "ii:I"),
    KILN__HOST(get_param_float64, "ii:F"),
    KILN__HOST(get_param_bool, "ii:i"),
    KILN__HOST(has_param, "ii:i"),
    KILN__HOST(field_handle, "ii:i"),
    KILN__HOST(get_field_string_h, "iii:i"),
    KILN__HOST(get_field_int64_h, "i:I"),
    KILN__HOST(get_field_float64_h, "i:F"),
    KILN__HOST(has_field_h, "i:i"),
    {KILN_UDF_ABI_MODULE, "bind_field_string", "iiii:i", (void (*)(void))kiln__udf_bind_field_string},
};

static pthread_once_t kiln__host_once = PTHREAD_ONCE_INIT;
static kiln_wasm_error kiln__host_err;
static int kiln__host_rc;

static void kiln__host_register_once(void)
{
    kiln__host_rc = kiln_wasm_host_register(
        kiln__host_table, sizeof kiln__host_table / sizeof *kiln__host_table, &kiln__host_err);
}

int kiln__udf_host_register(kiln_error *err)
{
    /* Once per process: the engine keeps the table for every module loaded with it. */
    pthread_once(&kiln__host_once, kiln__host_register_once);
    if (kiln__host_rc)
        return kiln_fail(err, KILN_E_INTERNAL, "cannot register UDF host functions: %s",
                         kiln__host_err.msg);
    return 0;
}
