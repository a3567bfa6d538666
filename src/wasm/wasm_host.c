/* The host-import table (one per process) and signature strings. */
#include "wasm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char module[16], field[129];
    kiln_wasm_sig sig;
    void (*fn)(void);
} host_entry;

static pthread_mutex_t host_mu = PTHREAD_MUTEX_INITIALIZER;
static host_entry *host_tab;
static size_t host_n;

void kiln__werr(kiln_wasm_error *err, int code, const char *section, int64_t func, int64_t off,
                const char *fmt, ...)
{
    if (!err) return;
    err->code = code;
    snprintf(err->section, sizeof err->section, "%s", section ? section : "");
    err->func_index = func;
    err->offset = off;
    va_list ap;
    va_start(ap, fmt);
    char tmp[sizeof err->msg - 100];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* Prefix the location so a log line alone says where the problem is. */
    char loc[96] = "";
    size_t n = 0;
    if (section && *section) n += (size_t)snprintf(loc + n, sizeof loc - n, "section %s", section);
    if (func >= 0)
        n += (size_t)snprintf(loc + n, sizeof loc - n, "%sfunction %lld", n ? ", " : "",
                              (long long)func);
    if (off >= 0)
        n += (size_t)snprintf(loc + n, sizeof loc - n, "%soffset %lld", n ? ", " : "",
                              (long long)off);
    if (n)
        snprintf(err->msg, sizeof err->msg, "%s (%s)", tmp, loc);
    else
        snprintf(err->msg, sizeof err->msg, "%s", tmp);
}

static int type_of(char c)
{
    switch (c) {
    case 'i':
        return KILN_WASM_I32;
    case 'I':
        return KILN_WASM_I64;
    case 'f':
        return KILN_WASM_F32;
    case 'F':
        return KILN_WASM_F64;
    default:
        return -1;
    }
}

int kiln__sig_parse(const char *s, kiln_wasm_sig *sig)
{
    memset(sig, 0, sizeof *sig);
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon) return -1;
    for (const char *p = s; p < colon; p++) {
        int t = type_of(*p);
        if (t < 0 || sig->nparams >= KILN_WASM_MAX_PARAMS) return -1;
        sig->params[sig->nparams++] = (uint8_t)t;
    }
    for (const char *p = colon + 1; *p; p++) {
        int t = type_of(*p);
        if (t < 0 || sig->nresults >= 1) return -1;
        sig->results[sig->nresults++] = (uint8_t)t;
    }
    return 0;
}

void kiln__sig_format(const kiln_wasm_sig *sig, char *out, size_t cap)
{
    static const char *names[] = {"i32", "i64", "f32", "f64", "funcref", "externref"};
    size_t n = (size_t)snprintf(out, cap, "(");
    for (int i = 0; i < sig->nparams && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "", names[sig->params[i] % 6]);
    if (n < cap) n += (size_t)snprintf(out + n, cap - n, ") -> (");
    for (int i = 0; i < sig->nresults && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "", names[sig->results[i] % 6]);
    if (n < cap) snprintf(out + n, cap - n, ")");
}

int kiln_wasm_host_register(const kiln_wasm_host_fn *table, size_t n, kiln_wasm_error *err)
{
    host_entry *t = calloc(n ? n : 1, sizeof *t);
    if (!t) {
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        return KILN_WASM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const kiln_wasm_host_fn *h = &table[i];
        if (!h->module || (strcmp(h->module, "env") && strcmp(h->module, "kiln")) ||
            !kiln__name_ok(h->field) || !h->fn || kiln__sig_parse(h->sig, &t[i].sig)) {
            kiln__werr(err, KILN_WASM_EINVAL, NULL, -1, -1,
                       "host table entry %zu (%s.%s) is invalid", i, h->module ? h->module : "?",
                       h->field ? h->field : "?");
            free(t);
            return KILN_WASM_EINVAL;
        }
        snprintf(t[i].module, sizeof t[i].module, "%s", h->module);
        snprintf(t[i].field, sizeof t[i].field, "%s", h->field);
        t[i].fn = h->fn;
    }
    pthread_mutex_lock(&host_mu);
    /* The old table is leaked on purpose: loaded modules may still point into it
     * (it is registered once per process in practice). */
    host_tab = t;
    host_n = n;
    pthread_mutex_unlock(&host_mu);
    return 0;
}

int kiln__host_lookup(const char *module, const char *field, const kiln_wasm_sig *sig, bool *sig_ok)
{
    int found = -1;
    pthread_mutex_lock(&host_mu);
    for (size_t i = 0; i < host_n; i++) {
        if (strcmp(host_tab[i].module, module) == 0 && strcmp(host_tab[i].field, field) == 0) {
            const kiln_wasm_sig *h = &host_tab[i].sig;
            *sig_ok = h->nparams == sig->nparams && h->nresults == sig->nresults &&
                      memcmp(h->params, sig->params, h->nparams) == 0 &&
                      memcmp(h->results, sig->results, h->nresults) == 0;
            found = (int)i;
            break;
        }
    }
    pthread_mutex_unlock(&host_mu);
    return found;
}

/* The function pointer of host entry i (the table only ever grows by replacement). */
void (*kiln__host_fn(int i))(void);
void (*kiln__host_fn(int i))(void)
{
    void (*fn)(void) = NULL;
    pthread_mutex_lock(&host_mu);
    if (i >= 0 && (size_t)i < host_n) fn = host_tab[i].fn;
    pthread_mutex_unlock(&host_mu);
    return fn;
}
