/* WebAssembly spec conformance runner: converts one .wast with wast2json and runs
 * every command through Kiln's own pipeline (pre-checks, wasm2c, instrumentation,
 * Kiln's runtime) on the tier given on the command line.
 *
 *   spec_runner FILE.wast TIER [--verbose]
 *
 * Prints per-file counts; exits non-zero if any assertion failed. Text-format
 * assert_malformed/assert_invalid modules are counted as "n/a": they test a wat
 * parser, and Kiln only accepts binaries. */
#include "wasm_rt_int.h"
#include "wtest.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int verbose, tier;
static int t0_own, t0_wasm2c; /* modules whose tier 0 came from Kiln's translator / wasm2c */
/* Tier "swap": tier 0 by Kiln's translator, then tier 1 (wasm2c + cc) swapped in under the
 * live tier-0 instance before any command runs: proves the instance layouts agree. */
static int swap;
static int passed, failed, skipped;
static char workdir[256];

#define MAXI 512
typedef struct {
    char *name; /* $name or NULL */
    kiln_wasm_module *m;
    kiln_wasm_instance *in;
} inst_rec;
static inst_rec insts[MAXI];
static int ninsts, cur = -1;
static struct {
    char *as;
    int inst; /* -1 for spectest */
} regs[64];
static int nregs;

/* ---- spectest ---- */
static wasm_rt_memory_t st_mem;
static wasm_rt_funcref_table_t st_table;
static uint32_t st_g32 = 666;
static uint64_t st_g64 = 666;
static float st_f32 = 666.6f;
static double st_f64 = 666.6;

static void spectest_init(void)
{
    kiln__t.cur = NULL;
    kiln__rt_api_table.allocate_memory(&st_mem, 1, 2);
    st_mem.max_pages = 2;
    kiln__rt_api_table.allocate_funcref_table(&st_table, 10, 20);
}

/* ---- linking ---- */
enum { T_NONE, T_PRINT, T_FUNC, T_PTR };
typedef struct {
    int kind;
    kiln_wasm_instance *in;
    const kiln_wasm_export *ex;
    void *ptr;
} target;
typedef struct {
    kiln__resolver base;
    target t[256];
} linker;

static void link_call(const kiln__resolver *r, uint32_t idx, const kiln__val *a, kiln__val *res)
{
    const linker *l = (const linker *)r;
    const target *t = &l->t[idx];
    if (t->kind != T_FUNC) return; /* spectest.print* */
    t->in->tick.fuel = INT64_MAX / 2;
    t->in->tick.stack_limit = kiln__t.stack_limit;
    kiln__tramp fn = atomic_load(&t->ex->tramp);
    fn(kiln__instance_w2c(t->in), a, res);
}

static void *link_ptr(const kiln__resolver *r, uint32_t idx)
{
    const linker *l = (const linker *)r;
    return l->t[idx].ptr;
}

static bool sig_eq(const kiln_wasm_sig *a, const kiln_wasm_sig *b)
{
    return a->nparams == b->nparams && a->nresults == b->nresults &&
           !memcmp(a->params, b->params, a->nparams) &&
           !memcmp(a->results, b->results, a->nresults);
}

static bool limits_ok(uint32_t have_min, uint32_t have_max, uint32_t want_min, uint32_t want_max)
{
    if (have_min < want_min) return false;
    if (want_max != UINT32_MAX && (have_max == UINT32_MAX || have_max > want_max)) return false;
    return true;
}

static int link_spectest(const kiln__import *im, const kiln__modinfo *mi, target *t)
{
    static const struct {
        const char *name, *sig;
    } fns[] = {{"print", ":"},          {"print_i32", "i:"}, {"print_i64", "I:"},
               {"print_f32", "f:"},     {"print_f64", "F:"}, {"print_i32_f32", "if:"},
               {"print_f64_f64", "FF:"}};
    if (im->kind == KILN__EXT_FUNC) {
        for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
            if (!strcmp(im->field, fns[i].name)) {
                kiln_wasm_sig s;
                kiln__sig_parse(fns[i].sig, &s);
                if (!sig_eq(&s, &mi->types[im->type_index])) return -1;
                t->kind = T_PRINT;
                return 0;
            }
        return -1;
    }
    t->kind = T_PTR;
    if (im->kind == KILN__EXT_GLOBAL) {
        if (im->mut) return -1;
        if (!strcmp(im->field, "global_i32") && im->vtype == KILN_WASM_I32)
            t->ptr = &st_g32;
        else if (!strcmp(im->field, "global_i64") && im->vtype == KILN_WASM_I64)
            t->ptr = &st_g64;
        else if (!strcmp(im->field, "global_f32") && im->vtype == KILN_WASM_F32)
            t->ptr = &st_f32;
        else if (!strcmp(im->field, "global_f64") && im->vtype == KILN_WASM_F64)
            t->ptr = &st_f64;
        else
            return -1;
        return 0;
    }
    if (im->kind == KILN__EXT_TABLE && !strcmp(im->field, "table") && im->vtype == 4 &&
        limits_ok(st_table.size, st_table.max_size, im->min, im->max)) {
        t->ptr = &st_table;
        return 0;
    }
    if (im->kind == KILN__EXT_MEMORY && !strcmp(im->field, "memory") &&
        limits_ok(st_mem.pages, 2, im->min, im->max)) {
        t->ptr = &st_mem;
        return 0;
    }
    return -1;
}

static int link_wasm(const kiln__import *im, const kiln__modinfo *mi, inst_rec *src, target *t)
{
    const kiln__modinfo *si = kiln__module_info(src->m);
    for (uint32_t e = 0; e < si->nexports; e++) {
        const kiln__export_info *ex = &si->exports[e];
        if (strcmp(ex->name, im->field)) continue;
        if (ex->kind != im->kind) return -1;
        const kiln__module_desc *d = src->in->code->desc;
        switch (ex->kind) {
        case KILN__EXT_FUNC:
            if (!sig_eq(&si->types[si->func_types[ex->index]], &mi->types[im->type_index]))
                return -1;
            for (size_t k = 0; k < kiln_wasm_export_count(src->m); k++) {
                const kiln_wasm_export *kx = kiln_wasm_export_at(src->m, k);
                if (!strcmp(kiln_wasm_export_name(kx), ex->name)) {
                    t->kind = T_FUNC, t->in = src->in, t->ex = kx;
                    return 0;
                }
            }
            return -1;
        case KILN__EXT_GLOBAL:
            if (si->globals[ex->index].vtype != im->vtype || si->globals[ex->index].mut != im->mut)
                return -1;
            break;
        case KILN__EXT_TABLE: {
            if (si->tables[ex->index].vtype != im->vtype) return -1;
            wasm_rt_funcref_table_t *tb = d->export_ptr(kiln__instance_w2c(src->in), e);
            if (!tb || !limits_ok(tb->size, si->tables[ex->index].max, im->min, im->max)) return -1;
            break;
        }
        case KILN__EXT_MEMORY: {
            wasm_rt_memory_t *mm = d->export_ptr(kiln__instance_w2c(src->in), e);
            if (!mm || !limits_ok(mm->pages, si->mem_max, im->min, im->max)) return -1;
            break;
        }
        }
        t->kind = T_PTR;
        t->ptr = d->export_ptr(kiln__instance_w2c(src->in), e);
        return t->ptr ? 0 : -1;
    }
    return -1;
}

/* ---- modules ---- */

/* 0 ok, 1 rejected at load, 2 unlinkable, 3 instantiation trapped. */
static int load_module(const char *file, const char *name, int *out_idx, char *why, size_t cap)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", workdir, file ? file : "");
    uint8_t *b = wtest_read(path, &len);
    if (!b) {
        snprintf(why, cap, "cannot read %.400s", path);
        return 1;
    }
    kiln__check_limits cl;
    kiln__check_limits_default(&cl);
    cl.allow_non_func_imports = cl.allow_any_import_module = true;
    cl.max_pages = 65536;
    cl.max_data_bytes = 1u << 30;
    kiln_wasm_limits lim = {.max_pages = 65535,
                            .deadline_ns = 20000000000ull,
                            .tier1 = tier == 1 ? 2
                                     : swap    ? 1
                                               : 0};
    linker *lk = calloc(1, sizeof *lk);
    lk->base.call = link_call;
    lk->base.ptr = link_ptr;
    kiln_wasm_error err = {0};
    kiln_wasm_module *m = kiln__load_ex(b, len, &lim, &cl, &lk->base, &err);
    free(b);
    if (!m) {
        snprintf(why, cap, "%s", err.msg);
        free(lk);
        return 1;
    }
    if (tier == 0) {
        const char *by = kiln__module_t0_translator(m);
        if (by && !strcmp(by, "kiln")) {
            t0_own++;
        } else {
            t0_wasm2c++;
            if (verbose) printf("  tier 0 by wasm2c: %s\n", m->t0_why);
        }
    }
    const kiln__modinfo *mi = kiln__module_info(m);
    for (uint32_t i = 0; i < mi->nimports; i++) {
        const kiln__import *im = &mi->imports[i];
        int rc = -1;
        if (i >= 256) break;
        if (!strcmp(im->module, "spectest")) {
            rc = link_spectest(im, mi, &lk->t[i]);
        } else {
            for (int r = nregs - 1; r >= 0; r--)
                if (!strcmp(regs[r].as, im->module)) {
                    rc = link_wasm(im, mi, &insts[regs[r].inst], &lk->t[i]);
                    break;
                }
        }
        if (rc) {
            snprintf(why, cap, "unknown or incompatible import %s.%s", im->module, im->field);
            kiln_wasm_module_free(m);
            free(lk); /* never used: no instance was created */
            return 2;
        }
    }
    kiln_wasm_trap trap = {0};
    kiln_wasm_instance *in = kiln__instantiate(m, &trap, &err);
    if (!in) {
        snprintf(why, cap, "%s", err.msg);
        kiln_wasm_module_free(m);
        return 3; /* lk leaks on purpose: tables of other instances may point into this module's
                     code */
    }
    /* a refusal for the calling-convention reason is by design (see wasm_xlate.c) */
    if (swap && kiln_wasm_module_wait_tier1(m) != 1 && !strstr(m->t1_error, "staying on tier 0")) {
        snprintf(why, cap, "tier 1 not swapped in: %s", m->t1_error);
        kiln__instance_destroy(in);
        kiln_wasm_module_free(m);
        return 3;
    }
    if (ninsts == MAXI) {
        snprintf(why, cap, "too many modules");
        return 1;
    }
    insts[ninsts] = (inst_rec){name ? strdup(name) : NULL, m, in};
    *out_idx = ninsts++;
    return 0;
}

static int find_inst(json_t *action)
{
    const char *mod = json_string_value(json_object_get(action, "module"));
    if (!mod) return cur;
    for (int i = ninsts - 1; i >= 0; i--)
        if (insts[i].name && !strcmp(insts[i].name, mod)) return i;
    return -1;
}

static int vtype_of(const char *t)
{
    if (!strcmp(t, "i32")) return KILN_WASM_I32;
    if (!strcmp(t, "i64")) return KILN_WASM_I64;
    if (!strcmp(t, "f32")) return KILN_WASM_F32;
    if (!strcmp(t, "f64")) return KILN_WASM_F64;
    if (!strcmp(t, "funcref")) return 4;
    if (!strcmp(t, "externref")) return 5;
    return -1;
}

static kiln_wasm_val parse_val(json_t *v)
{
    kiln_wasm_val out = {.bits = 0};
    const char *t = json_string_value(json_object_get(v, "type"));
    const char *s = json_string_value(json_object_get(v, "value"));
    int vt = t ? vtype_of(t) : -1;
    uint64_t bits = s && strcmp(s, "null") ? strtoull(s, NULL, 10) : 0;
    switch (vt) {
    case KILN_WASM_I32:
        out.i32 = (int32_t)(uint32_t)bits;
        break;
    case KILN_WASM_I64:
        out.i64 = (int64_t)bits;
        break;
    case KILN_WASM_F32: {
        uint32_t b = (uint32_t)bits;
        memcpy(&out.f32, &b, 4);
        break;
    }
    case KILN_WASM_F64:
        memcpy(&out.f64, &bits, 8);
        break;
    case 5:
        out.bits = s && strcmp(s, "null") ? bits + 1 : 0;
        break; /* ref.extern N -> N+1, null -> 0 */
    default:
        out.bits = 0;
        break;
    }
    return out;
}

static bool val_match(json_t *e, kiln_wasm_val got)
{
    const char *t = json_string_value(json_object_get(e, "type"));
    const char *s = json_string_value(json_object_get(e, "value"));
    int vt = t ? vtype_of(t) : -1;
    if (vt == KILN_WASM_F32 || vt == KILN_WASM_F64) {
        uint64_t b = 0;
        if (vt == KILN_WASM_F32) {
            uint32_t b32;
            memcpy(&b32, &got.f32, 4);
            b = b32;
        } else {
            memcpy(&b, &got.f64, 8);
        }
        if (s && !strcmp(s, "nan:canonical"))
            return vt == KILN_WASM_F32 ? (b & 0x7fffffffu) == 0x7fc00000u
                                       : (b & ~(1ull << 63)) == 0x7ff8000000000000ull;
        if (s && !strcmp(s, "nan:arithmetic"))
            return vt == KILN_WASM_F32 ? (b & 0x7fc00000u) == 0x7fc00000u
                                       : (b & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
        kiln_wasm_val want = parse_val(e);
        return vt == KILN_WASM_F32 ? (uint32_t)b == (uint32_t)want.bits : b == want.bits;
    }
    if (vt == 4) /* funcref: only null vs non-null is observable here */
        return s && !strcmp(s, "null") ? got.bits == 0 : got.bits != 0;
    kiln_wasm_val want = parse_val(e);
    if (vt == KILN_WASM_I32) return (uint32_t)got.i32 == (uint32_t)want.i32;
    return got.bits == want.bits;
}

/* Runs an action; returns 0 with results, 1 on trap (kind in *trap), -1 on error. */
static int run_action(json_t *action, kiln_wasm_val *res, size_t *nres, kiln_wasm_trap *trap,
                      char *why, size_t cap)
{
    int ii = find_inst(action);
    const char *type = json_string_value(json_object_get(action, "type"));
    const char *field = json_string_value(json_object_get(action, "field"));
    if (ii < 0 || !type || !field) {
        snprintf(why, cap, "no module for action");
        return -1;
    }
    inst_rec *r = &insts[ii];
    const kiln__modinfo *mi = kiln__module_info(r->m);
    if (!strcmp(type, "get")) {
        for (uint32_t e = 0; e < mi->nexports; e++)
            if (mi->exports[e].kind == KILN__EXT_GLOBAL && !strcmp(mi->exports[e].name, field)) {
                void *p = r->in->code->desc->export_ptr(kiln__instance_w2c(r->in), e);
                int vt = mi->globals[mi->exports[e].index].vtype;
                res[0].bits = 0;
                if (vt == KILN_WASM_I32 || vt == KILN_WASM_F32)
                    memcpy(&res[0], p, 4);
                else if (vt == 4)
                    res[0].bits = (uintptr_t)((wasm_rt_funcref_t *)p)->func;
                else
                    memcpy(&res[0], p, 8);
                *nres = 1;
                return 0;
            }
        snprintf(why, cap, "no global export %s", field);
        return -1;
    }
    const kiln_wasm_export *ex = NULL;
    size_t flen = json_string_length(json_object_get(action, "field"));
    for (size_t k = 0; k < kiln_wasm_export_count(r->m); k++) {
        const kiln_wasm_export *kx = kiln_wasm_export_at(r->m, k);
        for (uint32_t e = 0; e < mi->nexports; e++)
            if (mi->exports[e].name == kiln_wasm_export_name(kx) &&
                mi->exports[e].name_len == flen && !memcmp(mi->exports[e].name, field, flen))
                ex = kx;
    }
    if (!ex) {
        snprintf(why, cap, "no function export %s", field);
        return -1;
    }
    kiln_wasm_val args[KILN_WASM_MAX_PARAMS];
    json_t *ja = json_object_get(action, "args");
    size_t na = json_array_size(ja);
    for (size_t i = 0; i < na && i < KILN_WASM_MAX_PARAMS; i++)
        args[i] = parse_val(json_array_get(ja, i));
    *nres = kiln_wasm_export_sig(ex)->nresults;
    int rc = kiln_wasm_call(r->in, ex, args, res, trap);
    if (rc == KILN_WASM_ETRAP) return 1;
    return rc ? -1 : 0;
}

static bool trap_text_match(const char *text, kiln_wasm_trap_kind k)
{
    if (!text) return true;
    if (strstr(text, "undefined element"))
        return k == KILN_TRAP_UNINITIALIZED_ELEMENT || k == KILN_TRAP_OOB_TABLE;
    if (strstr(text, "uninitialized element")) return k == KILN_TRAP_UNINITIALIZED_ELEMENT;
    if (strstr(text, "out of bounds memory access")) return k == KILN_TRAP_OOB_MEMORY;
    if (strstr(text, "out of bounds table access")) return k == KILN_TRAP_OOB_TABLE;
    if (strstr(text, "indirect call type mismatch")) return k == KILN_TRAP_INDIRECT_CALL_MISMATCH;
    if (strstr(text, "integer divide by zero")) return k == KILN_TRAP_DIV_BY_ZERO;
    if (strstr(text, "integer overflow")) return k == KILN_TRAP_INT_OVERFLOW;
    if (strstr(text, "invalid conversion")) return k == KILN_TRAP_INVALID_CONVERSION;
    if (strstr(text, "unreachable")) return k == KILN_TRAP_UNREACHABLE;
    if (strstr(text, "call stack exhausted")) return k == KILN_TRAP_STACK_EXHAUSTED;
    return true;
}

static void result(bool ok, int line, const char *type, const char *why)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    if (verbose || failed <= 25) printf("  FAIL line %d %s: %s\n", line, type, why);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE.wast TIER [--verbose]\n", argv[0]);
        return 2;
    }
    swap = !strcmp(argv[2], "swap");
    tier = swap ? 0 : atoi(argv[2]);
    verbose = argc > 3 && !strcmp(argv[3], "--verbose");
    const char *base = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
    snprintf(workdir, sizeof workdir, "/tmp/kiln-spec-XXXXXX");
    if (!mkdtemp(workdir)) {
        perror("mkdtemp");
        return 2;
    }
    char cmd[2048], json_path[600];
    snprintf(json_path, sizeof json_path, "%s/t.json", workdir);
    snprintf(cmd, sizeof cmd, "wast2json '%s' -o '%s'", argv[1], json_path);
    if (system(cmd) != 0) {
        fprintf(stderr, "wast2json failed for %s\n", argv[1]);
        return 2;
    }
    json_error_t jerr;
    json_t *root = json_load_file(json_path, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        fprintf(stderr, "json: %s\n", jerr.text);
        return 2;
    }
    spectest_init();
    kiln__keep_failed_instances = true;
    json_t *cmds = json_object_get(root, "commands");
    char why[512];
    for (size_t i = 0; i < json_array_size(cmds); i++) {
        json_t *c = json_array_get(cmds, i);
        const char *type = json_string_value(json_object_get(c, "type"));
        int line = (int)json_integer_value(json_object_get(c, "line"));
        const char *file = json_string_value(json_object_get(c, "filename"));
        const char *mtype = json_string_value(json_object_get(c, "module_type"));
        const char *text = json_string_value(json_object_get(c, "text"));
        why[0] = 0;
        if (!type) continue;
        if (!strcmp(type, "module")) {
            int idx;
            int rc = load_module(file, json_string_value(json_object_get(c, "name")), &idx, why,
                                 sizeof why);
            if (rc == 0)
                cur = idx;
            else
                cur = -1;
            result(rc == 0, line, type, why);
        } else if (!strcmp(type, "register")) {
            const char *name = json_string_value(json_object_get(c, "name"));
            int idx = cur;
            if (name)
                for (int k = ninsts - 1; k >= 0; k--)
                    if (insts[k].name && !strcmp(insts[k].name, name)) {
                        idx = k;
                        break;
                    }
            if (idx >= 0 && nregs < 64) {
                regs[nregs].as = strdup(json_string_value(json_object_get(c, "as")));
                regs[nregs++].inst = idx;
            }
        } else if (!strcmp(type, "assert_malformed") || !strcmp(type, "assert_invalid")) {
            if (mtype && strcmp(mtype, "binary")) {
                skipped++;
                continue;
            }
            int idx, rc = load_module(file, NULL, &idx, why, sizeof why);
            result(rc == 1, line, type, rc == 1 ? "" : "module was accepted");
            if (verbose && rc == 1)
                printf("  ok line %d %s (%s): %s\n", line, type, text ? text : "", why);
        } else if (!strcmp(type, "assert_unlinkable") || !strcmp(type, "assert_uninstantiable")) {
            int idx, rc = load_module(file, NULL, &idx, why, sizeof why);
            bool want_unlink = !strcmp(type, "assert_unlinkable");
            bool ok = want_unlink ? (rc == 2 || rc == 3) : rc == 3;
            if (!ok && !why[0])
                snprintf(why, sizeof why, "module was %s", rc == 0 ? "instantiated" : "rejected");
            result(ok, line, type, why);
        } else if (!strcmp(type, "assert_return") || !strcmp(type, "action") ||
                   !strcmp(type, "assert_trap") || !strcmp(type, "assert_exhaustion")) {
            kiln_wasm_val res[KILN_WASM_MAX_RESULTS + 1];
            size_t nres = 0;
            kiln_wasm_trap trap = {0};
            json_t *action = json_object_get(c, "action");
            if (!action &&
                !strcmp(type, "assert_trap")) { /* module form: trap during instantiation */
                int idx, rc = load_module(file, NULL, &idx, why, sizeof why);
                result(rc == 3, line, type, why);
                continue;
            }
            int rc = run_action(action, res, &nres, &trap, why, sizeof why);
            if (!strcmp(type, "action")) {
                result(rc >= 0, line, type, why);
            } else if (!strcmp(type, "assert_return")) {
                json_t *exp = json_object_get(c, "expected");
                bool ok = rc == 0 && json_array_size(exp) == nres;
                for (size_t k = 0; ok && k < nres; k++)
                    ok = val_match(json_array_get(exp, k), res[k]);
                if (!ok && !why[0])
                    snprintf(why, sizeof why, "%s", rc == 1 ? trap.msg : "wrong result");
                result(ok, line, type, why);
            } else {
                kiln_wasm_trap_kind want =
                    !strcmp(type, "assert_exhaustion") ? KILN_TRAP_STACK_EXHAUSTED : KILN_TRAP_NONE;
                bool ok = rc == 1 && (want ? trap.kind == want : trap_text_match(text, trap.kind));
                if (!ok && !why[0])
                    snprintf(why, sizeof why, "want trap \"%s\", got %s", text ? text : "",
                             rc == 1 ? trap.msg : "no trap");
                result(ok, line, type, why);
            }
        }
    }
    for (int i = ninsts - 1; i >= 0; i--) {
        kiln__instance_destroy(insts[i].in);
        kiln_wasm_module_free(insts[i].m);
        free(insts[i].name);
    }
    json_decref(root);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    if (system(cmd) != 0) {
    }
    printf("%s tier %d: %d passed, %d failed, %d n/a (text-format modules)\n", base, tier, passed,
           failed, skipped);
    if (tier == 0) {
        printf("%s tier 0 translator: %d modules by kiln, %d by wasm2c\n", base, t0_own, t0_wasm2c);
        /* Kiln's translator handles every module of the suite: a fallback is a regression */
        if (t0_wasm2c) failed++;
    }
    return failed ? 1 : 0;
}
