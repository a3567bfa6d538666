/* The UDF registry: validated metadata, compiled modules, persistence under the data directory
 * (udfs/<name>/<version>/{udf.json,module.wasm}), versions side by side, discovery. */
#include "core/buf.h"
#include "core/fs.h"
#include "core/log.h"
#include "udf/abi.h"
#include "udf/udf_int.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kiln_udf_registry {
    char dir[1024];
    char cache_dir[1100];
    pthread_rwlock_t lock;
    kiln_udf **udfs; /* sorted by name, then version ascending */
    size_t n, cap;
};

static const char *const kiln__type_names[] = {"string", "i32", "i64", "f32", "f64", "bool"};

const char *kiln_udf_type_name(kiln_udf_type t)
{
    return kiln__type_names[t];
}

static int kiln__type_parse(const char *s, kiln_udf_type *out)
{
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, kiln__type_names[i])) return (*out = (kiln_udf_type)i), 0;
    return -1;
}

/* ---- names and versions ------------------------------------------------------------------ */

static int kiln__check_name(const char *name, kiln_error *err)
{
    size_t n = strlen(name);
    int ok = n > 0 && n <= 128 && (isalnum((unsigned char)name[0]) || name[0] == '_');
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("_-.", name[i]);
    if (ok) return 0;
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                     "invalid UDF name [%s]: use 1-128 letters, digits, '_', '-' or '.', "
                     "starting with a letter, digit or '_'",
                     name);
}

/* Semantic version MAJOR.MINOR.PATCH[-pre][+build]. */
static int kiln__semver(const char *v, int out[3], char **pre, kiln_error *err)
{
    const char *p = v;
    for (int k = 0; k < 3; k++) {
        if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
            goto bad;
        long x = 0;
        while (isdigit((unsigned char)*p) && x < 1000000000) x = x * 10 + (*p++ - '0');
        out[k] = (int)x;
        if (k < 2 && *p++ != '.') goto bad;
    }
    const char *pre_start = NULL;
    size_t pre_len = 0;
    if (*p == '-') {
        pre_start = ++p;
        while (*p && *p != '+' && (isalnum((unsigned char)*p) || *p == '.' || *p == '-')) p++;
        pre_len = (size_t)(p - pre_start);
        if (!pre_len) goto bad;
    }
    if (*p == '+') {
        p++;
        if (!*p) goto bad;
        while (*p && (isalnum((unsigned char)*p) || *p == '.' || *p == '-')) p++;
    }
    if (*p) goto bad;
    if (pre) *pre = pre_start ? kiln_xstrndup(pre_start, pre_len) : kiln_xstrdup("");
    return 0;
bad:
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                     "invalid version [%s]: expected a semantic version such as 1.0.0", v);
}

/* Orders versions: numbers, then a release after its prereleases, then prerelease text. */
static int kiln__ver_cmp(const kiln_udf *a, const kiln_udf *b)
{
    for (int k = 0; k < 3; k++)
        if (a->ver[k] != b->ver[k]) return a->ver[k] < b->ver[k] ? -1 : 1;
    int ar = !*a->prerelease, br = !*b->prerelease;
    if (ar != br) return ar ? 1 : -1;
    return strcmp(a->prerelease, b->prerelease);
}

static int kiln__udf_cmp(const void *x, const void *y)
{
    const kiln_udf *a = *(kiln_udf *const *)x, *b = *(kiln_udf *const *)y;
    int c = strcmp(a->name, b->name);
    return c ? c : kiln__ver_cmp(a, b);
}

/* ---- metadata ----------------------------------------------------------------------------- */

/* Converts a JSON value to a parameter's type (ES-style coercion: numbers from numeric strings,
 * booleans from "true"/"false"). Returns a new value or NULL. */
json_t *kiln__udf_convert(json_t *v, kiln_udf_type t)
{
    double d;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    switch (t) {
    case KILN_UDF_T_STRING:
        if (s) return json_incref(v);
        if (json_is_number(v) || json_is_boolean(v)) {
            char *text = json_dumps(v, JSON_ENCODE_ANY);
            json_t *r = json_string(text);
            free(text);
            return r;
        }
        return NULL;
    case KILN_UDF_T_BOOL:
        if (json_is_boolean(v)) return json_incref(v);
        if (s && !strcmp(s, "true")) return json_true();
        if (s && !strcmp(s, "false")) return json_false();
        return NULL;
    default:
        if (json_is_number(v))
            d = json_number_value(v);
        else if (s) {
            char *end;
            d = strtod(s, &end);
            if (!*s || *end) return NULL;
        } else
            return NULL;
        if (!isfinite(d)) return NULL;
        if (t == KILN_UDF_T_I32 || t == KILN_UDF_T_I64) {
            double lim = t == KILN_UDF_T_I32 ? 2147483647.0 : 9.2e18;
            if (d != floor(d) || d > lim || d < -lim - 1) return NULL;
            return json_integer((json_int_t)d);
        }
        return json_real(d);
    }
}

static int kiln__parse_params(kiln_udf *u, json_t *arr, kiln_error *err)
{
    if (!arr) return 0;
    if (!json_is_array(arr))
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[parameters] must be an array");
    u->nparams = json_array_size(arr);
    u->params = kiln_xcalloc(u->nparams ? u->nparams : 1, sizeof *u->params);
    for (size_t i = 0; i < u->nparams; i++) {
        json_t *p = json_array_get(arr, i);
        json_t *jn = json_object_get(p, "name"), *jt = json_object_get(p, "type");
        if (!json_is_object(p) || !json_is_string(jn) || !json_is_string(jt))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "parameters[%zu] needs a string [name] and [type]", i);
        kiln_udf_param_def *d = &u->params[i];
        d->name = kiln_xstrdup(json_string_value(jn));
        if (kiln__check_name(d->name, NULL) || strchr(d->name, '.'))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "invalid parameter name [%s]",
                             d->name);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(u->params[k].name, d->name))
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "parameter [%s] is declared twice",
                                 d->name);
        if (kiln__type_parse(json_string_value(jt), &d->type))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "parameter [%s] has unknown type [%s]; expected string, i32, i64, "
                             "f32, f64 or bool",
                             d->name, json_string_value(jt));
        json_t *def = json_object_get(p, "default");
        d->required = json_is_true(json_object_get(p, "required")) && !def;
        if (def && !json_is_null(def)) {
            d->def = kiln__udf_convert(def, d->type);
            if (!d->def)
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                 "default of parameter [%s] is not a valid %s", d->name,
                                 kiln__type_names[d->type]);
        }
    }
    return 0;
}

static int kiln__wasm_type_for(kiln_udf_type t)
{
    switch (t) {
    case KILN_UDF_T_I64: return KILN_WASM_I64;
    case KILN_UDF_T_F32: return KILN_WASM_F32;
    case KILN_UDF_T_F64: return KILN_WASM_F64;
    case KILN_UDF_T_STRING: return -1;
    default: return KILN_WASM_I32;
    }
}

/* The export must take the declared numeric parameters in order (or nothing) and return one
 * i32, i64, f32 or f64. */
static int kiln__check_export(kiln_udf *u, const char *fname, kiln_error *err)
{
    u->ex = kiln_wasm_export_find(u->module, fname);
    if (!u->ex)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "the module has no exported function [%s] (function_name)", fname);
    const kiln_wasm_sig *sig = kiln_wasm_export_sig(u->ex);
    if (sig->nresults != 1)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "[%s] must return exactly one value (i32 for a filter, f32/f64 for a "
                         "score); it returns %u",
                         fname, sig->nresults);
    u->result_type = (kiln_wasm_type)sig->results[0];
    size_t numeric = 0;
    for (size_t i = 0; i < u->nparams; i++) numeric += u->params[i].type != KILN_UDF_T_STRING;
    if (sig->nparams == 0) return 0;
    if (sig->nparams != numeric)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "[%s] takes %u arguments but the UDF declares %zu numeric parameters: "
                         "it must take them all, in order, or none",
                         fname, sig->nparams, numeric);
    for (size_t i = 0, k = 0; i < u->nparams; i++) {
        int wt = kiln__wasm_type_for(u->params[i].type);
        if (wt < 0) continue;
        if (sig->params[k++] != wt)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "argument %zu of [%s] does not match parameter [%s] of type [%s]",
                             k - 1, fname, u->params[i].name, kiln__type_names[u->params[i].type]);
    }
    return 0;
}

/* Calls kiln_abi_version() once: the module must be built for an ABI this server speaks. */
static int kiln__check_abi(kiln_udf *u, kiln_error *err)
{
    const kiln_wasm_export *v = kiln_wasm_export_find(u->module, KILN_UDF_ABI_VERSION_EXPORT);
    if (!v)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "the module does not export [%s]: build it with the Kiln UDF SDK "
                         "(sdk/c/kiln_udf.h: KILN_UDF_ABI()) or export a function returning %d",
                         KILN_UDF_ABI_VERSION_EXPORT, KILN_UDF_ABI_VERSION);
    const kiln_wasm_sig *sig = kiln_wasm_export_sig(v);
    if (sig->nparams || sig->nresults != 1 || sig->results[0] != KILN_WASM_I32)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[%s] must be a function () -> i32",
                         KILN_UDF_ABI_VERSION_EXPORT);
    kiln_wasm_error werr;
    kiln_wasm_instance *in = kiln_wasm_acquire(u->module, &werr);
    if (!in)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "the module cannot be instantiated: %s",
                         werr.msg);
    kiln_wasm_val res;
    kiln_wasm_trap trap;
    kiln_wasm_set_user(in, NULL);
    int rc = kiln_wasm_call(in, v, NULL, &res, &trap);
    kiln_wasm_release(in);
    if (rc)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[%s] trapped: %s (%s)",
                         KILN_UDF_ABI_VERSION_EXPORT, kiln_wasm_trap_kind_str(trap.kind), trap.msg);
    if (res.i32 != KILN_UDF_ABI_VERSION)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "the module was built for UDF ABI version %d; this server supports "
                         "version %d",
                         res.i32, KILN_UDF_ABI_VERSION);
    return 0;
}

static void kiln__udf_free(kiln_udf *u)
{
    for (size_t i = 0; i < u->nparams; i++) {
        free(u->params[i].name);
        json_decref(u->params[i].def);
    }
    free(u->params);
    if (u->module) kiln_wasm_module_free(u->module);
    json_decref(u->meta);
    json_decref(u->last_error);
    pthread_mutex_destroy(&u->err_lock);
    free(u->name);
    free(u->version);
    free(u->prerelease);
    free(u);
}

kiln_udf *kiln_udf_ref(kiln_udf *u)
{
    atomic_fetch_add(&u->refs, 1);
    return u;
}

void kiln_udf_unref(kiln_udf *u)
{
    if (u && atomic_fetch_sub(&u->refs, 1) == 1) kiln__udf_free(u);
}

static int kiln__strings(json_t *v, const char *what, kiln_error *err)
{
    if (!v) return 0;
    if (!json_is_array(v))
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[%s] must be an array of strings", what);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_string(e)) return kiln_fail(
        err, KILN_E_ILLEGAL_ARGUMENT, "[%s] must be an array of strings", what);
    return 0;
}

/* Builds a UDF from metadata and bytes: everything checked, module compiled. */
static kiln_udf *kiln__build(const kiln_udf_registry *r, const char *name, const char *version,
                             json_t *meta, const uint8_t *wasm, size_t len, int64_t created,
                             kiln_error *err)
{
    static const char *const known[] = {"name", "version", "description", "function_name",
                                        "parameters", "returns", "tags", "category", "author",
                                        "limits", "wasm", "created", "sha256", "size",
                                        "abi_version", NULL};
    if (kiln__check_name(name, err)) return NULL;
    if (!json_is_object(meta)) {
        kiln_fail(err, KILN_E_PARSE, "UDF metadata must be a JSON object");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strcmp(k, known[i]);
        if (!ok) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "unknown UDF metadata field [%s]", k);
            return NULL;
        }
    }
    kiln_udf *u = kiln_xcalloc(1, sizeof *u);
    atomic_init(&u->refs, 1);
    pthread_mutex_init(&u->err_lock, NULL);
    u->name = kiln_xstrdup(name);
    u->version = kiln_xstrdup(version);
    u->created_ms = created;
    if (kiln__semver(version, u->ver, &u->prerelease, err)) goto fail;
    json_t *fn = json_object_get(meta, "function_name");
    if (!json_is_string(fn)) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[function_name] (the exported function to call) is required");
        goto fail;
    }
    if (kiln__parse_params(u, json_object_get(meta, "parameters"), err)) goto fail;
    if (kiln__strings(json_object_get(meta, "tags"), "tags", err)) goto fail;
    static const char *const text_fields[] = {"description", "category", "author"};
    for (int i = 0; i < 3; i++) {
        json_t *t = json_object_get(meta, text_fields[i]);
        if (t && !json_is_string(t)) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[%s] must be a string", text_fields[i]);
            goto fail;
        }
    }
    json_t *limits = json_object_get(meta, "limits");
    json_t *tmo = json_object_get(limits, "timeout_ms"), *fuel = json_object_get(limits, "fuel");
    json_t *pages = json_object_get(limits, "max_memory_pages");
    kiln_wasm_limits lim = {0};
    lim.cache_dir = r->cache_dir;
    lim.tier1 = 1; /* callable at once on tier 0; the optimizing build swaps in when ready */
    if (json_is_integer(tmo) && json_integer_value(tmo) > 0)
        u->deadline_ns = (uint64_t)json_integer_value(tmo) * 1000000ull;
    if (json_is_integer(fuel) && json_integer_value(fuel) > 0)
        lim.fuel = u->fuel = (uint64_t)json_integer_value(fuel);
    if (json_is_integer(pages) && json_integer_value(pages) > 0 && json_integer_value(pages) <= 65536)
        lim.max_pages = (uint32_t)json_integer_value(pages);
    lim.deadline_ns = u->deadline_ns;
    kiln_wasm_error werr;
    u->module = kiln_wasm_load(wasm, len, &lim, &werr);
    if (!u->module) {
        /* the engine's message already names the section, function and offset */
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "module rejected: %s", werr.msg);
        goto fail;
    }
    u->wasm_len = len;
    if (kiln__check_abi(u, err) || kiln__check_export(u, json_string_value(fn), err)) goto fail;
    json_t *returns = json_object_get(meta, "returns");
    if (returns) {
        json_t *rt = json_object_get(json_array_get(returns, 0), "type");
        static const char *const wt[] = {"i32", "i64", "f32", "f64"};
        if (!json_is_array(returns) || !json_is_string(rt) ||
            (strcmp(json_string_value(rt), wt[u->result_type]) &&
             !(u->result_type == KILN_WASM_I32 && !strcmp(json_string_value(rt), "bool")))) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                      "[returns] says %s but [%s] returns %s", json_is_string(rt) ? json_string_value(rt) : "?",
                      json_string_value(fn), wt[u->result_type]);
            goto fail;
        }
    }
    /* Normalised metadata: what we persist and describe. */
    u->meta = json_deep_copy(meta);
    json_object_del(u->meta, "wasm");
    json_object_set_new(u->meta, "name", json_string(name));
    json_object_set_new(u->meta, "version", json_string(version));
    json_object_set_new(u->meta, "sha256", json_string(kiln_wasm_module_hash(u->module)));
    json_object_set_new(u->meta, "size", json_integer((json_int_t)len));
    json_object_set_new(u->meta, "abi_version", json_integer(KILN_UDF_ABI_VERSION));
    json_object_set_new(u->meta, "created", json_integer(created));
    if (!json_object_get(u->meta, "returns")) {
        static const char *const wt[] = {"i32", "i64", "f32", "f64"};
        json_object_set_new(u->meta, "returns",
                            json_pack("[{s:s}]", "type", wt[u->result_type]));
    }
    u->stats_id = kiln__udf_stats_new_id();
    return u;
fail:
    kiln__udf_free(u);
    return NULL;
}

/* ---- persistence --------------------------------------------------------------------------- */

static int kiln__persist(const kiln_udf_registry *r, const kiln_udf *u, const uint8_t *wasm,
                         size_t len, kiln_error *err)
{
    char dir[1400], path[1500];
    snprintf(dir, sizeof dir, "%s/%s/%s", r->dir, u->name, u->version);
    if (kiln_fs_mkdirs(dir, err)) return -1;
    snprintf(path, sizeof path, "%s/module.wasm", dir);
    if (kiln_fs_write_atomic(path, wasm, len, err)) return -1;
    char *text = json_dumps(u->meta, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    snprintf(path, sizeof path, "%s/udf.json", dir);
    int rc = kiln_fs_write_atomic(path, text, strlen(text), err); /* written last: the commit */
    free(text);
    return rc;
}

static ssize_t kiln__find(const kiln_udf_registry *r, const char *name, const char *version)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->udfs[i]->name, name) && !strcmp(r->udfs[i]->version, version))
            return (ssize_t)i;
    return -1;
}

static void kiln__insert(kiln_udf_registry *r, kiln_udf *u)
{
    if (r->n == r->cap)
        r->udfs = kiln_xrealloc(r->udfs, (r->cap = r->cap ? r->cap * 2 : 16) * sizeof *r->udfs);
    r->udfs[r->n++] = u;
    qsort(r->udfs, r->n, sizeof *r->udfs, kiln__udf_cmp);
}

static void kiln__load_all(kiln_udf_registry *r)
{
    DIR *d = opendir(r->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "_cache")) continue;
        char ndir[1400];
        snprintf(ndir, sizeof ndir, "%s/%s", r->dir, e->d_name);
        DIR *vd = opendir(ndir);
        if (!vd) continue;
        struct dirent *ve;
        while ((ve = readdir(vd))) {
            if (ve->d_name[0] == '.') continue;
            char mpath[1700], wpath[1700];
            snprintf(mpath, sizeof mpath, "%s/%s/udf.json", ndir, ve->d_name);
            snprintf(wpath, sizeof wpath, "%s/%s/module.wasm", ndir, ve->d_name);
            json_error_t jerr;
            json_t *meta = json_load_file(mpath, 0, &jerr);
            char *bytes = NULL;
            size_t len = 0;
            kiln_error err;
            if (!meta || kiln_fs_read_all(wpath, &bytes, &len, &err)) {
                KILN_WARN("udf", "skipping %s/%s: incomplete registration", e->d_name, ve->d_name);
                json_decref(meta);
                continue;
            }
            json_t *created = json_object_get(meta, "created");
            kiln_udf *u = kiln__build(r, e->d_name, ve->d_name, meta, (const uint8_t *)bytes, len,
                                      json_is_integer(created) ? json_integer_value(created)
                                                               : kiln_wall_ms(),
                                      &err);
            if (u)
                kiln__insert(r, u);
            else
                KILN_ERROR("udf", "cannot load %s@%s: %s", e->d_name, ve->d_name, err.reason);
            json_decref(meta);
            free(bytes);
        }
        closedir(vd);
    }
    closedir(d);
}

kiln_udf_registry *kiln_udf_registry_open(const char *dir, kiln_error *err)
{
    if (kiln__udf_host_register(err)) return NULL;
    kiln_udf_registry *r = kiln_xcalloc(1, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    snprintf(r->cache_dir, sizeof r->cache_dir, "%s/_cache", dir);
    pthread_rwlock_init(&r->lock, NULL);
    if (kiln_fs_mkdirs(r->cache_dir, err)) {
        kiln_udf_registry_close(r);
        return NULL;
    }
    kiln_wasm_cache_sweep(r->cache_dir); /* compiler work dirs of a process killed mid-build */
    kiln__load_all(r);
    if (r->n) KILN_INFO("udf", "loaded %zu UDF versions", r->n);
    return r;
}

void kiln_udf_registry_close(kiln_udf_registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) kiln_udf_unref(r->udfs[i]);
    free(r->udfs);
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

kiln_udf *kiln_udf_register(kiln_udf_registry *r, const char *name, const char *version,
                            json_t *meta, const uint8_t *wasm, size_t wasm_len, kiln_error *err)
{
    pthread_rwlock_rdlock(&r->lock);
    int exists = kiln__find(r, name, version) >= 0;
    pthread_rwlock_unlock(&r->lock);
    if (exists) {
        kiln_fail(err, KILN_E_VERSION_CONFLICT, "UDF [%s@%s] already exists; register a new version",
                  name, version);
        return NULL;
    }
    /* Compile outside the lock: it can take a while and must not block queries. */
    kiln_udf *u = kiln__build(r, name, version, meta, wasm, wasm_len, kiln_wall_ms(), err);
    if (!u) return NULL;
    pthread_rwlock_wrlock(&r->lock);
    if (kiln__find(r, name, version) >= 0) {
        pthread_rwlock_unlock(&r->lock);
        kiln_udf_unref(u);
        kiln_fail(err, KILN_E_VERSION_CONFLICT, "UDF [%s@%s] already exists; register a new version",
                  name, version);
        return NULL;
    }
    if (kiln__persist(r, u, wasm, wasm_len, err)) {
        pthread_rwlock_unlock(&r->lock);
        kiln_udf_unref(u);
        return NULL;
    }
    kiln__insert(r, u);
    kiln_udf_ref(u);
    pthread_rwlock_unlock(&r->lock);
    KILN_INFO("udf", "registered %s@%s (%zu bytes, tier %d)", name, version, wasm_len,
              kiln_wasm_module_tier(u->module));
    return u;
}

kiln_udf *kiln_udf_get(kiln_udf_registry *r, const char *name, const char *version,
                       kiln_error *err)
{
    kiln_udf *u = NULL;
    pthread_rwlock_rdlock(&r->lock);
    if (version && strcmp(version, "latest") && strcmp(version, "_latest")) {
        ssize_t i = kiln__find(r, name, version);
        if (i >= 0) u = kiln_udf_ref(r->udfs[i]);
    } else {
        /* Sorted ascending: the last release of the name is the latest; prereleases count only
         * when a name has nothing else. */
        kiln_udf *pre = NULL;
        for (size_t i = 0; i < r->n; i++) {
            if (strcmp(r->udfs[i]->name, name)) continue;
            if (*r->udfs[i]->prerelease)
                pre = r->udfs[i];
            else
                u = r->udfs[i];
        }
        if (!u) u = pre;
        if (u) kiln_udf_ref(u);
    }
    pthread_rwlock_unlock(&r->lock);
    if (!u) {
        if (version)
            kiln_fail(err, KILN_E_NOT_FOUND, "UDF [%s@%s] is not registered", name, version);
        else
            kiln_fail(err, KILN_E_NOT_FOUND, "UDF [%s] is not registered", name);
    }
    return u;
}

int kiln_udf_unregister(kiln_udf_registry *r, const char *name, const char *version,
                        kiln_error *err)
{
    pthread_rwlock_wrlock(&r->lock);
    ssize_t i = kiln__find(r, name, version);
    if (i < 0) {
        pthread_rwlock_unlock(&r->lock);
        return kiln_fail(err, KILN_E_NOT_FOUND, "UDF [%s@%s] is not registered", name, version);
    }
    kiln_udf *u = r->udfs[i];
    memmove(&r->udfs[i], &r->udfs[i + 1], (r->n - (size_t)i - 1) * sizeof *r->udfs);
    r->n--;
    char dir[1400], path[1500];
    snprintf(dir, sizeof dir, "%s/%s/%s", r->dir, name, version);
    snprintf(path, sizeof path, "%s/udf.json", dir);
    unlink(path); /* the metadata is the commit: without it the version is gone */
    kiln_fs_fsync_dir(dir, NULL);
    kiln_fs_remove_tree(dir, NULL);
    pthread_rwlock_unlock(&r->lock);
    kiln_udf_unref(u); /* running queries keep their own reference */
    return 0;
}

const char *kiln_udf_name(const kiln_udf *u)
{
    return u->name;
}

const char *kiln_udf_version(const kiln_udf *u)
{
    return u->version;
}

int kiln_udf_returns_score(const kiln_udf *u)
{
    return u->result_type == KILN_WASM_F32 || u->result_type == KILN_WASM_F64;
}

int kiln_udf_wait_optimized(kiln_udf *u)
{
    return kiln_wasm_module_wait_tier1(u->module);
}

json_t *kiln_udf_describe(const kiln_udf *u)
{
    json_t *d = json_deep_copy(u->meta);
    json_object_set_new(d, "tier", json_integer(kiln_wasm_module_tier(u->module)));
    json_object_set_new(d, "status", json_string("ready"));
    return d;
}

/* Percentile from log2 buckets: the upper bound of the bucket holding it. */
static uint64_t kiln__percentile(const kiln__udf_stats_snapshot *s, double q)
{
    if (!s->sampled) return 0;
    uint64_t want = (uint64_t)ceil(q * (double)s->sampled), seen = 0;
    for (int b = 0; b < 64; b++) {
        seen += s->hist[b];
        if (seen >= want) return b ? (1ull << b) - 1 : 0;
    }
    return s->max_ns;
}

json_t *kiln_udf_stats_json(const kiln_udf *u)
{
    kiln__udf_stats_snapshot s;
    kiln__udf_stats_read(u->stats_id, &s);
    double avg = s.sampled ? (double)s.total_ns / (double)s.sampled : 0;
    json_t *j = json_pack(
        "{s:s,s:s,s:I,s:I,s:f,s:{s:I,s:f,s:I,s:I,s:I,s:{s:I,s:I,s:I}}}", "name", u->name, "version",
        u->version, "calls", (json_int_t)s.calls, "errors", (json_int_t)s.errors, "error_rate",
        s.calls ? (double)s.errors / (double)s.calls : 0.0, "duration_ns", "min",
        (json_int_t)s.min_ns, "avg", avg, "max", (json_int_t)s.max_ns, "total_estimated",
        (json_int_t)(avg * (double)s.calls), "sampled_calls", (json_int_t)s.sampled,
        "percentiles", "p50", (json_int_t)kiln__percentile(&s, 0.5), "p90",
        (json_int_t)kiln__percentile(&s, 0.9), "p99", (json_int_t)kiln__percentile(&s, 0.99));
    json_object_set_new(j, "last_called",
                        s.last_called_ms ? json_integer((json_int_t)s.last_called_ms) : json_null());
    pthread_mutex_lock((pthread_mutex_t *)&u->err_lock);
    json_object_set(j, "last_error", u->last_error ? u->last_error : json_null());
    pthread_mutex_unlock((pthread_mutex_t *)&u->err_lock);
    return j;
}

static int kiln__has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_is_string(e) && !strcmp(json_string_value(e), s)) return 1;
    return 0;
}

json_t *kiln_udf_list(kiln_udf_registry *r, const char *name_prefix, const char *tag,
                      const char *category, const char *author, const char *exact_name,
                      int with_stats)
{
    json_t *out = json_array();
    pthread_rwlock_rdlock(&r->lock);
    for (size_t i = 0; i < r->n; i++) {
        kiln_udf *u = r->udfs[i];
        json_t *cat = json_object_get(u->meta, "category"), *au = json_object_get(u->meta, "author");
        if (name_prefix && strncmp(u->name, name_prefix, strlen(name_prefix))) continue;
        if (exact_name && strcmp(u->name, exact_name)) continue;
        if (tag && !kiln__has_string(json_object_get(u->meta, "tags"), tag)) continue;
        if (category && (!json_is_string(cat) || strcmp(json_string_value(cat), category))) continue;
        if (author && (!json_is_string(au) || strcmp(json_string_value(au), author))) continue;
        json_t *d = kiln_udf_describe(u);
        if (with_stats) json_object_set_new(d, "stats", kiln_udf_stats_json(u));
        json_array_append_new(out, d);
    }
    pthread_rwlock_unlock(&r->lock);
    return out;
}
