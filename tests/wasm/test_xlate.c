/* Kiln's tier-0 translator (src/wasm/wasm_xlate.c): tier 0 really comes from it, traps
 * and budgets behave as on the wasm2c tier, invalid and hostile modules are rejected with
 * the function and offset, features it leaves to wasm2c fall back, and a deterministic
 * mutation loop over the spec suite's modules and the examples never crashes it (run
 * under ASan/UBSan by `make asan`). */
#include <dirent.h>
#include <unistd.h>

#include "wasm_rt_int.h"
#include "wasm_xlate.h"
#include "wtest.h"

static kiln_wasm_module *load(const char *wat, uint64_t fuel, kiln_wasm_error *err)
{
    size_t n;
    uint8_t *b = wtest_wat(wat, &n, NULL);
    kiln_wasm_limits lim = {.tier1 = 0, .fuel = fuel, .deadline_ns = 1000000000ull};
    kiln_wasm_module *m = kiln_wasm_load(b, n, &lim, err);
    free(b);
    return m;
}

static kiln_wasm_trap_kind call1(kiln_wasm_module *m, const char *name, int32_t arg, int32_t *out)
{
    kiln_wasm_error err;
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    CHECK(in != NULL);
    if (!in) return KILN_TRAP_NONE;
    const kiln_wasm_export *ex = kiln_wasm_export_find(m, name);
    CHECK(ex != NULL);
    kiln_wasm_val a[2] = {{.i32 = arg}}, r[2] = {{0}};
    kiln_wasm_trap trap = {0};
    int rc = kiln_wasm_call(in, ex, a, r, &trap);
    if (out) *out = r[0].i32;
    kiln_wasm_release(in);
    return rc ? trap.kind : KILN_TRAP_NONE;
}

static void test_traps(void)
{
    kiln_wasm_error err = {0};
    kiln_wasm_module *m = load(
        "(module (memory 1 1) (table 2 funcref) (elem (i32.const 0) $id)"
        " (type $v (func)) (type $ii (func (param i32) (result i32)))"
        " (func $id (param i32) (result i32) (local.get 0))"
        " (func (export \"unreachable\") (param i32) (result i32) unreachable)"
        " (func (export \"div0\") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))"
        " (func (export \"ovf\") (param i32) (result i32) (i32.div_s (i32.const 0x80000000) "
        "(local.get 0)))"
        " (func (export \"conv\") (param i32) (result i32) (i32.trunc_f32_s (f32.div (f32.const 0) "
        "(f32.convert_i32_s (local.get 0)))))"
        " (func (export \"oob\") (param i32) (result i32) (i32.load offset=65532 (local.get 0)))"
        " (func (export \"uninit\") (param i32) (result i32) (call_indirect (type $ii) (i32.const "
        "7) (local.get 0)))"
        " (func (export \"null\") (param i32) (result i32) (call_indirect (type $ii) (i32.const 7) "
        "(i32.const 1)))"
        " (func (export \"sig\") (param i32) (result i32) (call_indirect (type $v) (local.get 0)) "
        "(i32.const 0))"
        " (func (export \"indirect\") (param i32) (result i32) (call_indirect (type $ii) "
        "(i32.const 41) (local.get 0)))"
        " (func $rec (export \"rec\") (param i32) (result i32) (i32.add (call $rec (local.get 0)) "
        "(i32.const 1)))"
        " (func (export \"spin\") (param i32) (result i32) (loop $l (br $l)) (i32.const 0))"
        " (func (export \"count\") (param i32) (result i32) (local i32)"
        "   (block $b (loop $l (br_if $b (i32.ge_u (local.get 1) (local.get 0)))"
        "     (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br $l))) (local.get 1))"
        " (func (export \"sat\") (param i32) (result i32) (i32.trunc_sat_f64_s (f64.const 1e30)))"
        " (func (export \"ext\") (param i32) (result i32) (i32.extend8_s (local.get 0)))"
        " (func (export \"nan\") (param i32) (result i32) (i32.reinterpret_f32 (f32.neg (f32.const "
        "nan))))"
        ")",
        0, &err);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "load: %s\n", err.msg);
        return;
    }
    CHECK(!strcmp(kiln__module_t0_translator(m), "kiln"));
    int32_t v = 0;
    CHECK_EQ(call1(m, "unreachable", 0, NULL), KILN_TRAP_UNREACHABLE);
    CHECK_EQ(call1(m, "div0", 0, NULL), KILN_TRAP_DIV_BY_ZERO);
    CHECK_EQ(call1(m, "ovf", -1, NULL), KILN_TRAP_INT_OVERFLOW);
    CHECK_EQ(call1(m, "conv", 0, NULL), KILN_TRAP_INVALID_CONVERSION);
    CHECK_EQ(call1(m, "oob", 0, &v), KILN_TRAP_NONE);
    CHECK_EQ(call1(m, "oob", 1, NULL), KILN_TRAP_OOB_MEMORY);
    CHECK_EQ(call1(m, "uninit", 2, NULL), KILN_TRAP_UNINITIALIZED_ELEMENT);
    CHECK_EQ(call1(m, "null", 0, NULL), KILN_TRAP_UNINITIALIZED_ELEMENT);
    CHECK_EQ(call1(m, "sig", 0, NULL), KILN_TRAP_INDIRECT_CALL_MISMATCH);
    CHECK_EQ(call1(m, "indirect", 0, &v), KILN_TRAP_NONE);
    CHECK_EQ(v, 41);
    CHECK_EQ(call1(m, "rec", 0, NULL), KILN_TRAP_STACK_EXHAUSTED);
    CHECK_EQ(call1(m, "spin", 0, NULL), KILN_TRAP_DEADLINE);
    CHECK_EQ(call1(m, "count", 1000, &v), KILN_TRAP_NONE);
    CHECK_EQ(v, 1000);
    CHECK_EQ(call1(m, "sat", 0, &v), KILN_TRAP_NONE);
    CHECK_EQ(v, INT32_MAX);
    CHECK_EQ(call1(m, "ext", 0x80, &v), KILN_TRAP_NONE);
    CHECK_EQ(v, -128);
    CHECK_EQ(call1(m, "nan", 0, &v), KILN_TRAP_NONE);
    CHECK_EQ((uint32_t)v, 0xffc00000u); /* neg flips the sign bit of a NaN */
    kiln_wasm_module_free(m);

    /* Fuel: entry + one tick per loop header, exactly as the wasm2c tier counts. */
    const char *cnt =
        "(module (func (export \"count\") (param i32) (result i32) (local i32)"
        " (block $b (loop $l (br_if $b (i32.ge_u (local.get 1) (local.get 0)))"
        " (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br $l))) (local.get 1)))";
    m = load(cnt, 12, &err); /* 1 entry + 11 loop headers: count(10) fits exactly */
    CHECK(m != NULL);
    if (m) {
        CHECK(!strcmp(kiln__module_t0_translator(m), "kiln"));
        CHECK_EQ(call1(m, "count", 10, &v), KILN_TRAP_NONE);
        CHECK_EQ(call1(m, "count", 11, NULL), KILN_TRAP_FUEL_EXHAUSTED);
        kiln_wasm_module_free(m);
    }
}

/* Invalid modules are rejected by the translator itself, naming function and offset. */
static void test_invalid(void)
{
    static const char *bad[] = {
        "(func (result i32) (i64.const 1))",
        "(func (result i32) (i32.add (i32.const 1) (i64.const 2)))",
        "(func (i32.const 1))",
        "(func (result i32) (block (result i32) (i32.const 1) (i32.const 2)))",
        "(func (result i32) (if (result i32) (i32.const 1) (then (i32.const 1))))",
        "(func (result i32) (select (i32.const 1) (i64.const 2) (i32.const 0)))",
        "(func (param i32) (result f32) (local.get 0))",
        "(global i32 (i32.const 0)) (func (global.set 0 (i32.const 1)))",
        "(func (result i32) (br_table 0 1 (i32.const 1) (block (result i64) (i64.const 0) "
        "(i32.const 0) (br_table 0 1))))",
        "(func (result i32) (unreachable) (i64.const 1))",
        "(func (drop (i32.load (i32.const 0))))",
        "(memory 1) (func (drop (i32.load align=8 (i32.const 0))))",
        "(func (drop (ref.func 0)))",
        "(global i32 (i64.const 0))",
        "(table 1 funcref) (func (call_indirect (i32.const 0) (i32.const 0)))",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char wat[512];
        snprintf(wat, sizeof wat, "(module %s)", bad[i]);
        size_t n;
        /* wat2wasm validates: --no-check lets the invalid bodies through */
        uint8_t *b = wtest_wat(wat, &n, "--no-check");
        kiln_wasm_error err = {0};
        kiln_wasm_limits lim = {.tier1 = 0};
        kiln_wasm_module *m = kiln_wasm_load(b, n, &lim, &err);
        if (m) fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(m == NULL);
        CHECK(err.code == KILN_WASM_EREJECT);
        if (i < 12) CHECK_STR_HAS(err.msg, "invalid module");
        kiln_wasm_module_free(m);
        free(b);
    }
    /* valid: polymorphic stack after unreachable, multi-value blocks with params */
    static const char *good[] = {
        "(func (result i32) (unreachable) (i32.add) (drop) (i32.const 1))",
        "(func (result i32) (br 0 (i32.const 1)) (i64.const 2) (drop))",
        "(func (param i32) (result i32 i64) (local.get 0) (block (param i32) (result i32 i64) "
        "(i64.const 7)))",
        "(func (result i32) (block (result i32) (i32.const 3) (br_table 0 0 (i32.const 0))))",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char wat[512];
        snprintf(wat, sizeof wat, "(module %s)", good[i]);
        kiln_wasm_error err = {0};
        kiln_wasm_module *m = load(wat, 0, &err);
        if (!m) fprintf(stderr, "rejected: %s: %s\n", good[i], err.msg);
        CHECK(m != NULL);
        if (m) CHECK(!strcmp(kiln__module_t0_translator(m), "kiln"));
        kiln_wasm_module_free(m);
    }
}

/* What the translator leaves to wasm2c still loads (deep value stacks), and the wasm2c
 * tier-0 path can be forced for comparisons. */
static void test_fallback(void)
{
    size_t cap = 700000, len = 0;
    char *wat = malloc(cap);
    len += (size_t)snprintf(wat + len, cap - len, "(module (func (export \"deep\") (result i32)");
    for (int i = 0; i < 20001; i++)
        len += (size_t)snprintf(wat + len, cap - len, " i32.const 1");
    for (int i = 0; i < 20000; i++)
        len += (size_t)snprintf(wat + len, cap - len, " i32.add");
    snprintf(wat + len, cap - len, "))");
    kiln_wasm_error err = {0};
    kiln_wasm_module *m = load(wat, 0, &err);
    CHECK(m != NULL);
    if (m) {
        int32_t v = 0;
        CHECK(!strcmp(kiln__module_t0_translator(m), "wasm2c"));
        CHECK_STR_HAS(m->t0_why, "value stack");
        CHECK_EQ(call1(m, "deep", 0, &v), KILN_TRAP_NONE);
        CHECK_EQ(v, 20001);
        kiln_wasm_module_free(m);
    }
    free(wat);
    kiln__t0_translator = 1;
    m = load("(module (func (export \"f\") (param i32) (result i32) (local.get 0)))", 0, &err);
    CHECK(m != NULL);
    if (m) CHECK(!strcmp(kiln__module_t0_translator(m), "wasm2c"));
    kiln_wasm_module_free(m);
    kiln__t0_translator = 0;
}

/* ---- mutation fuzzing of the in-process part (pre-check + translator; no tcc) ---- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static size_t fuzz_runs, fuzz_translated;

static void fuzz_one(const uint8_t *b, size_t n)
{
    kiln__check_limits cl;
    kiln__check_limits_default(&cl);
    cl.allow_non_func_imports = cl.allow_any_import_module = true;
    kiln__modinfo mi;
    memset(&mi, 0, sizeof mi);
    kiln_wasm_error err = {0};
    fuzz_runs++;
    if (kiln__check(b, n, &cl, &mi, &err) == 0) {
        char *c = NULL, why[128];
        size_t clen = 0;
        kiln__xl_opts o = {.explicit_bounds = (fuzz_runs & 1) != 0,
                           .no_fuel = (fuzz_runs & 2) != 0};
        if (kiln__xlate(&mi, &o, &c, &clen, why, sizeof why, &err) == 0) {
            fuzz_translated++;
            CHECK(c && strlen(c) == clen);
        }
        free(c);
    }
    kiln__modinfo_dispose(&mi);
}

static void mutate_and_run(const uint8_t *b, size_t n, int rounds)
{
    uint8_t *m = malloc(n + 64);
    for (int r = 0; r < rounds; r++) {
        size_t len = n;
        memcpy(m, b, n);
        int k = 1 + (int)(rnd() % 4);
        for (int j = 0; j < k && len > 8; j++) {
            size_t at = 8 + rnd() % (len - 8);
            switch (rnd() % 6) {
            case 0:
                m[at] ^= (uint8_t)(1u << (rnd() % 8));
                break;
            case 1:
                m[at] = (uint8_t)rnd();
                break;
            case 2: /* interesting bytes: end, block, LEB continuation, type codes */
                m[at] =
                    (const uint8_t[]){0x0b, 0x02, 0x80, 0xff, 0x7f, 0x40, 0x00, 0x70}[rnd() % 8];
                break;
            case 3:
                memmove(m + at, m + at + 1, len - at - 1), len--;
                break;
            case 4:
                if (len < n + 64)
                    memmove(m + at + 1, m + at, len - at), m[at] = (uint8_t)rnd(), len++;
                break;
            default:
                len = at;
                break;
            }
        }
        fuzz_one(m, len);
    }
    free(m);
}

static void test_fuzz(void)
{
    const char *dir = getenv("KILN_SPEC_CORE") ? getenv("KILN_SPEC_CORE") : KILN_SPEC_CORE_DIR;
    static const char *files[] = {"block",
                                  "br_table",
                                  "call_indirect",
                                  "conversions",
                                  "elem",
                                  "data",
                                  "bulk",
                                  "global",
                                  "imports",
                                  "if",
                                  "loop",
                                  "memory_grow",
                                  "ref_func",
                                  "select",
                                  "table_copy",
                                  "table_init",
                                  "unreached-invalid",
                                  "unreachable",
                                  "func",
                                  "linking",
                                  "float_exprs",
                                  "left-to-right",
                                  "stack",
                                  "fac"};
    char tmp[] = "/tmp/kiln-xlate-fuzz-XXXXXX";
    if (!mkdtemp(tmp)) return;
    int nmods = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char cmd[1024], path[600];
        snprintf(path, sizeof path, "%s/%s.wast", dir, files[f]);
        if (access(path, R_OK) != 0) continue;
        snprintf(cmd, sizeof cmd, "cd '%s' && wast2json '%s' -o %s.json >/dev/null 2>&1", tmp, path,
                 files[f]);
        if (system(cmd) != 0) continue;
    }
    DIR *d = opendir(tmp);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".wasm") != 0) continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
        size_t n;
        uint8_t *b = wtest_read(path, &n);
        if (!b) continue;
        nmods++;
        fuzz_one(b, n);
        mutate_and_run(b, n, 12);
        free(b);
    }
    if (d) closedir(d);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) {
    }
    /* the examples and the benchmark's module shape */
    static const char *wats[] = {
        KILN_ROOT_DIR "/examples/udfs/wat_min_rating/wat_min_rating.wat",
        KILN_ROOT_DIR "/bench/wasm/fuzz_seed.wat",
    };
    for (size_t i = 0; i < sizeof wats / sizeof *wats; i++) {
        size_t n, wn;
        uint8_t *raw = wtest_read(wats[i], &wn);
        if (!raw) continue;
        char *w = malloc(wn + 1);
        memcpy(w, raw, wn);
        w[wn] = 0;
        free(raw);
        uint8_t *b = wtest_wat(w, &n, NULL);
        nmods++;
        fuzz_one(b, n);
        mutate_and_run(b, n, 2000);
        free(b);
        free(w);
    }
    printf("fuzz: %d seed modules, %zu runs, %zu translated\n", nmods, fuzz_runs, fuzz_translated);
    CHECK(nmods > 100);
    CHECK(fuzz_translated > 500);
}

/* Shapes of the compact C: a load as the right operand of a division (`x/ *(f32*)...`, not
 * a comment), narrow signed loads widening by conversion, an address plus an offset that
 * passes 4 GiB (must trap, not wrap), a function using no memory next to ones that do. */
static void test_emitted_c(void)
{
    kiln_wasm_error err;
    kiln_wasm_module *m = load(
        "(module (memory 1) (data (i32.const 0) \"\\00\\00\\00\\40\\ff\\80\")"
        " (func (export \"div\") (param i32) (result i32)"
        "   (i32.trunc_f32_s (f32.div (f32.convert_i32_s (local.get 0)) (f32.load (i32.const 0)))))"
        " (func (export \"s8\") (param i32) (result i32) (i32.load8_s offset=4 (local.get 0)))"
        " (func (export \"s16\") (param i32) (result i32)"
        "   (i32.wrap_i64 (i64.shr_s (i64.load16_s offset=4 (local.get 0)) (i64.const 32))))"
        " (func (export \"far\") (param i32) (result i32) (i32.load offset=4294967295 (local.get 0)))"
        " (func (export \"pure\") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))",
        0, &err);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(kiln__module_t0_translator(m) && !strcmp(kiln__module_t0_translator(m), "kiln"));
    int32_t r = 0;
    CHECK_EQ(call1(m, "div", 6, &r), KILN_TRAP_NONE); /* 6 / 2.0f */
    CHECK_EQ(r, 3);
    CHECK_EQ(call1(m, "s8", 0, &r), KILN_TRAP_NONE);
    CHECK_EQ(r, -1);
    CHECK_EQ(call1(m, "s16", 0, &r), KILN_TRAP_NONE); /* 0x80ff sign-extended, >> 32 */
    CHECK_EQ(r, -1);
    CHECK_EQ(call1(m, "far", 2, &r), KILN_TRAP_OOB_MEMORY);
    CHECK_EQ(call1(m, "pure", 7, &r), KILN_TRAP_NONE);
    CHECK_EQ(r, 49);
    kiln_wasm_module_free(m);
}

int main(void)
{
    test_emitted_c();
    test_traps();
    test_invalid();
    test_fallback();
    test_fuzz();
    if (wtest_failures) {
        fprintf(stderr, "test_xlate: %d failures\n", wtest_failures);
        return 1;
    }
    printf("test_xlate: ok\n");
    return 0;
}
