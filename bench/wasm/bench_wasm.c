/* Benchmarks of the wasm engine, each against a baseline measured in the same run.
 *
 *   bench_wasm LEV_WASM LEV_JS [--quick | --t0]
 *
 * Prints a markdown table (docs/benchmarks.md, section "WebAssembly engine"). */
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kiln_wasm.h"
#include "wasm_rt_int.h"
#include "wasm_xlate.h"
#include "wtest.h"

int lev_bench(int i); /* lev.c compiled natively */

static int quick;
static volatile int32_t sink;

static __attribute__((noinline)) int32_t native_id(int32_t x)
{
    return x;
}

static double per_call_ns(uint64_t t0, uint64_t t1, long n)
{
    return (double)(t1 - t0) / (double)n;
}

/* Call loops are timed in thread CPU time: the machine is shared, and time spent
 * descheduled is not the engine's. */
static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of this process plus its waited-for children (compilers), plus the tier-0
 * compile server's children and forks (children of the server, not of this process). */
static double proc_cpu_ms(void)
{
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) *
               1e3 +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
                    b.ru_stime.tv_usec) /
               1e3 +
           (double)atomic_load(&kiln__tccd_cpu_ns) / 1e6;
}

static kiln_wasm_module *load(const uint8_t *b, size_t n, int tier, int no_fuel,
                              int explicit_bounds, double *ms)
{
    kiln_wasm_error err = {0};
    kiln_wasm_limits lim = {
        .tier1 = tier == 1 ? 2 : 0, .no_fuel = no_fuel, .explicit_bounds = explicit_bounds};
    uint64_t t0 = wtest_now_ns();
    kiln_wasm_module *m = kiln_wasm_load(b, n, &lim, &err);
    if (ms) *ms = (double)(wtest_now_ns() - t0) / 1e6;
    if (!m) {
        fprintf(stderr, "load failed: %s\n", err.msg);
        exit(1);
    }
    return m;
}

/* Best of 5 runs of n calls of export `name` with one i32 argument. */
static double time_calls(kiln_wasm_module *m, const char *name, long n)
{
    kiln_wasm_error err;
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    const kiln_wasm_export *ex = kiln_wasm_export_find(m, name);
    kiln_wasm_val a[1], r[1];
    kiln_wasm_trap trap;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t t0 = cpu_now_ns();
        for (long i = 0; i < n; i++) {
            a[0].i32 = (int32_t)i;
            kiln_wasm_call(in, ex, a, r, &trap);
            sink = r[0].i32;
        }
        double ns = per_call_ns(t0, cpu_now_ns(), n);
        best = ns < best ? ns : best;
    }
    kiln_wasm_release(in);
    return best;
}

/* Same, through kiln_wasm_call_many in batches of 256 (one trap guard each). */
static double time_calls_many(kiln_wasm_module *m, const char *name, long n)
{
    kiln_wasm_error err;
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    const kiln_wasm_export *ex = kiln_wasm_export_find(m, name);
    enum { B = 256 };
    kiln_wasm_val a[B], r[B];
    kiln_wasm_trap trap;
    double best = 1e30;
    for (int k = 0; k < B; k++)
        a[k].i32 = k;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t t0 = cpu_now_ns();
        for (long i = 0; i < n; i += B) {
            kiln_wasm_call_many(in, ex, a, r, B, NULL, &trap);
            sink = r[0].i32;
        }
        double ns = per_call_ns(t0, cpu_now_ns(), n);
        best = ns < best ? ns : best;
    }
    kiln_wasm_release(in);
    return best;
}

static double time_native(int32_t (*volatile fn)(int32_t), long n)
{
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t t0 = cpu_now_ns();
        for (long i = 0; i < n; i++)
            sink = fn((int32_t)i);
        double ns = per_call_ns(t0, cpu_now_ns(), n);
        best = ns < best ? ns : best;
    }
    return best;
}

static int32_t lev_native(int32_t i)
{
    return lev_bench(i);
}

/* A module of about `kb` KiB: functions with a loop and some arithmetic each. */
static char *gen_wat(int kb)
{
    int nf = kb * 1024 / 60;
    size_t cap = (size_t)nf * 400 + 256;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "(module (memory 1)\n");
    for (int f = 0; f < nf; f++)
        n += (size_t)snprintf(
            s + n, cap - n,
            "(func $f%d (param i32) (result i32) (local i32)"
            " (block $b (loop $l (br_if $b (i32.ge_u (local.get 1) (local.get 0)))"
            " (i32.store (i32.const %d) (i32.add (i32.load (i32.const %d)) (local.get 1)))"
            " (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br $l)))"
            " (i32.xor (i32.load (i32.const %d)) (i32.const %d)))\n",
            f, (f * 4) % 60000, (f * 4) % 60000, (f * 4) % 60000, f);
    n += (size_t)snprintf(s + n, cap - n, "(export \"main\" (func $f0)))\n");
    return s;
}

/* 3. Time to first call (tier 0) and tier-1 build time, best of `reps` per variant. */
static void first_calls(int reps)
{
    /* Tier 0 by Kiln's own translator
     * and by wasm2c (the path before session 3), interleaved so load drifts hit both. */
    int sizes[] = {2, 50, 500};
    for (int k = 0; k < 3; k++) {
        char *wat = gen_wat(sizes[k]);
        size_t n;
        uint8_t *b = wtest_wat(wat, &n, NULL);
        /* variants: 0 Kiln's translator + compile server, 1 wasm2c + exec tcc, 2 Kiln's
         * translator + exec tcc (session 4: the server's share) */
        double best[3] = {1e30, 1e30, 1e30}, best_cpu[3] = {1e30, 1e30, 1e30}, t1ms = 0;
        for (int rep = 0; rep < reps; rep++) {
            for (int tr = 0; tr < 3; tr++) {
                kiln__t0_translator = tr == 1;
                kiln__tccd_use = tr != 2;
                uint64_t t0 = wtest_now_ns();
                double cpu0 = proc_cpu_ms();
                kiln_wasm_module *m = load(b, n, 0, 0, 0, NULL);
                kiln_wasm_error err;
                kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
                kiln_wasm_val a[1] = {{.i32 = 3}}, r[1];
                kiln_wasm_trap trap;
                kiln_wasm_call(in, kiln_wasm_export_find(m, "main"), a, r, &trap);
                double ms = (double)(wtest_now_ns() - t0) / 1e6, cpu = proc_cpu_ms() - cpu0;
                best[tr] = ms < best[tr] ? ms : best[tr];
                best_cpu[tr] = cpu < best_cpu[tr] ? cpu : best_cpu[tr];
                kiln_wasm_release(in);
                kiln_wasm_module_free(m);
            }
        }
        kiln__t0_translator = 0;
        kiln__tccd_use = 1;
        /* size of the C each translator hands to tcc */
        size_t own_c = 0, w2c_c = 0;
        double xl_ms = 1e30;
        {
            kiln__check_limits cl;
            kiln__check_limits_default(&cl);
            kiln__modinfo mi;
            memset(&mi, 0, sizeof mi);
            kiln_wasm_error err;
            if (kiln__check(b, n, &cl, &mi, &err) == 0) {
                char *c = NULL, why[128];
                kiln__xl_opts o = {0};
                for (int rep = 0; rep < 10; rep++) { /* the in-process part alone */
                    uint64_t t0 = cpu_now_ns();
                    if (kiln__xlate(&mi, &o, &c, &own_c, why, sizeof why, &err) == 0) free(c);
                    double ms = (double)(cpu_now_ns() - t0) / 1e6;
                    xl_ms = ms < xl_ms ? ms : xl_ms;
                }
                kiln__gen_opts go = {0};
                char *dir = NULL;
                if (kiln__translate(&mi, &go, NULL, &dir, &err) == 0) {
                    char path[4200];
                    snprintf(path, sizeof path, "%s/k.c", dir);
                    FILE *f = fopen(path, "rb");
                    if (f) {
                        fseek(f, 0, SEEK_END);
                        w2c_c = (size_t)ftell(f);
                        fclose(f);
                    }
                    kiln__rmtree(dir);
                    free(dir);
                }
            }
            kiln__modinfo_dispose(&mi);
        }
        double cpu1 = proc_cpu_ms();
        kiln_wasm_module *m1 = load(b, n, 1, 0, 0, &t1ms);
        cpu1 = proc_cpu_ms() - cpu1;
        kiln_wasm_module_free(m1);
        printf("| time to first call, tier 0 by Kiln's translator, %zu B module (wall / CPU incl. "
               "children) | %.1f / %.1f ms | via wasm2c %.1f / %.1f ms; tier-1 build %.0f / %.0f "
               "ms | %.2fx (CPU) | %s |\n",
               n, best[0], best_cpu[0], best[1], best_cpu[1], t1ms, cpu1, best_cpu[0] / best_cpu[1],
               sizes[k] == 50 ? "<= 20 ms" : "");
        printf("| time to first call, tier 0 by Kiln's translator, %zu B module, tcc exec'd "
               "instead of the compile server%s | %.1f / %.1f ms | | | |\n",
               n, kiln__tccd_running() ? "" : " (no server running: both are exec)", best[2],
               best_cpu[2]);
        printf("| C handed to tcc, %zu B module | %zu B (%.1f B per wasm byte) | wasm2c + "
               "instrumentation %zu B (%.1f B per wasm byte) | %.2fx | |\n",
               n, own_c, (double)own_c / (double)n, w2c_c, (double)w2c_c / (double)n,
               (double)own_c / (double)(w2c_c ? w2c_c : 1));
        printf("| Kiln's translator alone (in process, thread CPU), %zu B module | %.2f ms | | | "
               "|\n",
               n, xl_ms);
        free(b);
        free(wat);
    }

}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LEV_WASM LEV_JS [--quick | --t0]\n", argv[0]);
        return 2;
    }
    quick = argc > 3 && !strcmp(argv[3], "--quick");
    if (argc > 3 && !strcmp(argv[3], "--t0")) { /* time to first call only, best of 15 */
        printf("| measurement | value | baseline (same run) | ratio | target |\n"
               "|---|---|---|---|---|\n");
        first_calls(15);
        return 0;
    }
    long N = quick ? 2000000 : 20000000, NL = quick ? 200000 : 2000000;
    size_t idn, levn;
    uint8_t *idb = wtest_wat(
        "(module (func (export \"id\") (param i32) (result i32) (local.get 0)))", &idn, NULL);
    uint8_t *levb = wtest_read(argv[1], &levn);
    if (!levb) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    printf(
        "| measurement | value | baseline (same run) | ratio | target |\n|---|---|---|---|---|\n");

    /* 1. Bare call overhead. */
    double nat = time_native(native_id, N);
    kiln_wasm_module *id0 = load(idb, idn, 0, 0, 0, NULL), *id1 = load(idb, idn, 1, 0, 0, NULL);
    kiln__t0_translator = 1;
    kiln_wasm_module *id0w = load(idb, idn, 0, 0, 0, NULL);
    kiln__t0_translator = 0;
    double c0 = time_calls(id0, "id", N), c1 = time_calls(id1, "id", N);
    double c0w = time_calls(id0w, "id", N);
    kiln_wasm_module_free(id0w);
    printf("| call overhead, tier 0 by wasm2c (before session 3) | %.2f ns | tier 0 by Kiln's "
           "translator %.2f ns | %.2fx | |\n",
           c0w, c0, c0 / c0w);
    printf("| call overhead, tier 0 (kiln_wasm_call, i32 -> i32) | %.2f ns | native fn ptr %.2f ns "
           "| %.1fx | |\n",
           c0, nat, c0 / nat);
    printf("| call overhead, tier 1 | %.2f ns | native fn ptr %.2f ns | %.1fx | <= 5 ns |\n", c1,
           nat, c1 / nat);
    double b0 = time_calls_many(id0, "id", N), b1 = time_calls_many(id1, "id", N);
    printf("| call overhead, tier 0, kiln_wasm_call_many (batches of 256) | %.2f ns | native fn "
           "ptr %.2f ns | %.1fx | |\n",
           b0, nat, b0 / nat);
    printf("| call overhead, tier 1, kiln_wasm_call_many (batches of 256) | %.2f ns | native fn "
           "ptr %.2f ns | %.1fx | <= 5 ns |\n",
           b1, nat, b1 / nat);

    /* 2. Pool acquire. */
    {
        kiln_wasm_error err;
        kiln_wasm_instance *in = kiln_wasm_acquire(id1, &err);
        kiln_wasm_release(in);
        long n = quick ? 1000000 : 10000000;
        uint64_t t0 = cpu_now_ns();
        for (long i = 0; i < n; i++) {
            in = kiln_wasm_acquire(id1, &err);
            kiln_wasm_release(in);
        }
        printf("| pool acquire + release (no call) | %.2f ns | | | acquire <= 50 ns |\n",
               per_call_ns(t0, cpu_now_ns(), n));
        kiln_wasm_instance *lv = NULL;
        kiln_wasm_module *lm = load(levb, levn, 1, 0, 0, NULL);
        const kiln_wasm_export *ex = kiln_wasm_export_find(lm, "lev_bench");
        kiln_wasm_val a[1] = {{.i32 = 1}}, r[1];
        kiln_wasm_trap trap;
        n /= 20;
        t0 = cpu_now_ns();
        for (long i = 0; i < n; i++) {
            lv = kiln_wasm_acquire(lm, &err);
            kiln_wasm_call(lv, ex, a, r, &trap);
            kiln_wasm_release(lv); /* resets 2 pages of memory + globals */
        }
        printf(
            "| acquire + 1 call + release with reset (2-page memory) | %.0f ns | | | per query |\n",
            per_call_ns(t0, cpu_now_ns(), n));
        kiln_wasm_module_free(lm);
    }
    kiln_wasm_module_free(id0);
    kiln_wasm_module_free(id1);

    first_calls(quick ? 1 : 7);

    /* 4. Levenshtein: tier 1 vs native vs V8; CPU-limit and bounds-check costs. */
    double lnat = time_native(lev_native, NL);
    kiln_wasm_module *l1 = load(levb, levn, 1, 0, 0, NULL), *l1nf = load(levb, levn, 1, 1, 0, NULL),
                     *l1eb = load(levb, levn, 1, 0, 1, NULL), *l0 = load(levb, levn, 0, 0, 0, NULL);
    double lt1 = 1e30, lt1nf = 1e30, lt1eb = 1e30, lt0 = 1e30;
    for (int round = 0; round < 3; round++) { /* interleaved so drifts hit all variants */
        double x;
        x = time_calls(l1, "lev_bench", NL), lt1 = x < lt1 ? x : lt1;
        x = time_calls(l1nf, "lev_bench", NL), lt1nf = x < lt1nf ? x : lt1nf;
        x = time_calls(l1eb, "lev_bench", NL), lt1eb = x < lt1eb ? x : lt1eb;
        x = time_native(lev_native, NL), lnat = x < lnat ? x : lnat;
    }
    lt0 = time_calls(l0, "lev_bench", NL / 4);
    kiln__t0_translator = 1;
    kiln_wasm_module *l0w = load(levb, levn, 0, 0, 0, NULL);
    kiln__t0_translator = 0;
    double lt0w = time_calls(l0w, "lev_bench", NL / 4);
    kiln_wasm_module_free(l0w);
    double v8 = -1, v8id = -1;
    {
        char path[256], cmd[1024];
        snprintf(path, sizeof path, "/tmp/kiln-bench-id-%d.wasm", (int)getpid());
        FILE *f = fopen(path, "wb");
        fwrite(idb, 1, idn, f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "node %s %s %ld %s 2>/dev/null", argv[2], argv[1], NL, path);
        FILE *p = popen(cmd, "r");
        char line[512];
        while (p && fgets(line, sizeof line, p)) {
            char *q = strstr(line, "\"ns_per_call\":");
            if (q) v8 = atof(q + 14);
            q = strstr(line, "\"id_ns_per_call\":");
            if (q) v8id = atof(q + 17);
        }
        if (p) pclose(p);
        unlink(path);
    }
    printf("| Levenshtein 9x9, tier 1 | %.1f ns | native C %.1f ns | %.2fx | <= 1.3x native |\n",
           lt1, lnat, lt1 / lnat);
    printf("| Levenshtein 9x9, Node %s / V8, same .wasm | %.1f ns | tier 1 %.1f ns | %.2fx "
           "(V8/tier 1) | tier 1 faster |\n",
           "20", v8, lt1, v8 / lt1);
    printf("| Levenshtein 9x9, tier 0 (Kiln's translator) | %.1f ns | native C %.1f ns | %.2fx | "
           "|\n",
           lt0, lnat, lt0 / lnat);
    printf("| Levenshtein 9x9, tier 0 by wasm2c (before session 3) | %.1f ns | Kiln's translator "
           "%.1f ns | %.2fx | |\n",
           lt0w, lt0, lt0 / lt0w);
    printf("| CPU limit (fuel + deadline) on/off, Levenshtein tier 1 | %.1f / %.1f ns | | %.3f | "
           "<= 1.15 |\n",
           lt1, lt1nf, lt1 / lt1nf);
    printf("| bounds checks explicit / guard pages, Levenshtein tier 1 | %.1f / %.1f ns | | %.3f | "
           "|\n",
           lt1eb, lt1, lt1eb / lt1);
    printf("| V8 bare call (id) | %.2f ns | tier 1 %.2f ns | | |\n", v8id, c1);
    kiln_wasm_module_free(l1);
    kiln_wasm_module_free(l1nf);
    kiln_wasm_module_free(l1eb);
    kiln_wasm_module_free(l0);

    /* 5. Infinite loop stopped by the default 100 ms deadline. */
    {
        size_t n;
        uint8_t *b = wtest_wat("(module (func (export \"spin\") (loop $l (br $l))))", &n, NULL);
        kiln_wasm_module *m = load(b, n, 1, 0, 0, NULL);
        kiln_wasm_error err;
        kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
        kiln_wasm_trap trap;
        uint64_t t0 = wtest_now_ns();
        kiln_wasm_call(in, kiln_wasm_export_find(m, "spin"), NULL, NULL, &trap);
        printf("| infinite loop stopped (tier 1, default deadline) | %.1f ms | deadline 100 ms | | "
               "within deadline |\n",
               (double)(wtest_now_ns() - t0) / 1e6);
        kiln_wasm_release(in);
        kiln_wasm_module_free(m);
        free(b);
    }
    kiln_wasm_thread_cleanup();
    free(idb);
    free(levb);
    return 0;
}
