/* UDF benchmarks (issue 5), in one process, each against its baseline in the same run:
 *  1. Levenshtein filter over N product names: the string_distance UDF through the real search
 *     path (wasm_udf query → plan → two-phase filter → doc values) vs the same Levenshtein code
 *     compiled natively, scanning the same doc values.
 *  2. Field reads from a UDF: a module reading a numeric field K times per document, by name and
 *     through a resolved handle, minus the same module reading nothing.
 *  3. Always-on statistics: a trivial UDF per call with statistics on vs off.
 * Usage: bench_udf UDF_DIR [N] [REPEATS]   (UDF_DIR: build/udfs) */
#include "analysis/analysis.h"
#include "core/buf.h"
#include "core/fs.h"
#include "dsl/query.h"
#include "index/mapping.h"
#include "search/search.h"
#include "search/sindex.h"
#include "udf/udf.h"

#include "../../examples/udfs/string_distance/levenshtein.h"

#include <math.h>
#include "../bench_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what, const kiln_error *err)
{
    fprintf(stderr, "bench_udf: %s: %s\n", what, err ? err->reason : "");
    exit(1);
}

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j) {
        fprintf(stderr, "bad JSON: %s\n", e.text);
        exit(1);
    }
    return j;
}

/* Deterministic product-like names: "<brand> <model> <n>". */
static void make_name(unsigned i, char *out, size_t cap)
{
    static const char *const brands[] = {"iPhone", "Galaxy", "Pixel", "Xperia", "Moto", "Nokia",
                                         "OnePlus", "Redmi"};
    static const char *const models[] = {"Pro", "Max", "Ultra", "Lite", "Plus", "Mini", "Neo", ""};
    unsigned x = i * 2654435761u;
    snprintf(out, cap, "%s %u %s", brands[x % 8], 5 + (x >> 8) % 15, models[(x >> 16) % 8]);
}

static kiln_udf *register_file(kiln_udf_registry *r, const char *dir, const char *name)
{
    char path[1024], *meta_text, *wasm;
    size_t mlen, wlen;
    kiln_error err;
    snprintf(path, sizeof path, "%s/%s/udf.json", dir, name);
    if (kiln_fs_read_all(path, &meta_text, &mlen, &err)) die(path, &err);
    json_t *meta = J(meta_text);
    snprintf(path, sizeof path, "%s/%s/%s", dir, name, json_string_value(json_object_get(meta, "wasm")));
    if (kiln_fs_read_all(path, &wasm, &wlen, &err)) die(path, &err);
    kiln_udf *u = kiln_udf_register(r, name, json_string_value(json_object_get(meta, "version")),
                                    meta, (const uint8_t *)wasm, wlen, &err);
    if (!u) die("register", &err);
    free(meta_text);
    free(wasm);
    json_decref(meta);
    return u;
}

static kiln_udf *register_wat(kiln_udf_registry *r, const char *name, const char *wat,
                              const char *meta_json)
{
    char src[256], out[256], cmd[700];
    snprintf(src, sizeof src, "/tmp/kiln-bench-%s.wat", name);
    snprintf(out, sizeof out, "/tmp/kiln-bench-%s.wasm", name);
    FILE *f = fopen(src, "w");
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s -o %s", src, out);
    if (system(cmd) != 0) die("wat2wasm", NULL);
    char *wasm;
    size_t wlen;
    kiln_error err;
    if (kiln_fs_read_all(out, &wasm, &wlen, &err)) die(out, &err);
    json_t *meta = J(meta_json);
    kiln_udf *u = kiln_udf_register(r, name, "1.0.0", meta, (const uint8_t *)wasm, wlen, &err);
    if (!u) die(name, &err);
    json_decref(meta);
    free(wasm);
    return u;
}

typedef struct {
    kiln_sindex *si;
    kiln_sindex_reader *rd;
    kiln_mapping *m;
    kiln_analysis_registry *ar;
    kiln_udf_registry *reg;
} bench_env;

/* Runs query (JSON) once over the reader; returns seconds, *hits the total. */
static double run_query(bench_env *e, const char *query, uint64_t *hits)
{
    kiln_dsl_error de;
    kiln_error err;
    json_t *qj = J(query);
    kiln_query *q = kiln_dsl_parse(qj, "query", &de);
    if (!q) die("parse", &de.err);
    if (kiln_search_bind_udfs(q, e->reg, &err)) die("bind", &err);
    double t0 = kiln__cpu_s();
    kiln_plan *p = kiln_plan_build(q, e->m, e->ar, 0, &err);
    if (!p) die("plan", &err);
    kiln_search_stats *st = kiln_stats_new(p);
    kiln_stats_gather(p, e->rd, st);
    kiln_stats_finish(p, st);
    kiln_search_opts o = {.k = 10, .track_total_hits = -1};
    kiln_search_result res;
    if (kiln_search_execute(p, st, e->rd, NULL, &o, &res, &err)) die("execute", &err);
    double t = kiln__cpu_s() - t0;
    *hits = res.total;
    kiln_search_result_free(&res);
    kiln_stats_free(st);
    kiln_plan_free(p);
    kiln_query_free(q);
    json_decref(qj);
    return t;
}

static double best_of(int repeats, double (*fn)(void *), void *arg)
{
    double best = INFINITY;
    for (int i = 0; i < repeats; i++) {
        double t = fn(arg);
        if (t < best) best = t;
    }
    return best;
}

typedef struct {
    bench_env *e;
    const char *query;
    uint64_t hits;
} query_arg;

__attribute__((noinline)) static double query_once(void *a)
{
    query_arg *q = a;
    return run_query(q->e, q->query, &q->hits);
}

typedef struct {
    bench_env *e;
    const char *target;
    int max;
    uint64_t hits;
} native_arg;

/* The native baseline: the same Levenshtein over the same doc values, every live document. */
__attribute__((noinline)) static double native_once(void *a)
{
    native_arg *n = a;
    double t0 = kiln__cpu_s();
    lev_pattern pat;
    lev_compile(&pat, (const unsigned char *)n->target, (int32_t)strlen(n->target));
    n->hits = 0;
    for (size_t s = 0; s < kiln_reader_nsegments(n->e->rd); s++) {
        const kiln_segment *seg = kiln_reader_segment(n->e->rd, s);
        kiln_dv dv;
        if (kiln_dv_get(seg, "name", &dv)) continue;
        uint32_t nd = kiln_segment_ndocs(seg);
        for (uint32_t d = 0; d < nd; d++) {
            if (!kiln_dv_count(&dv, d)) continue;
            size_t len;
            const char *v = kiln_dv_str(&dv, d, 0, &len);
            n->hits += lev_distance(&pat, (const unsigned char *)v, (int32_t)len, n->max) <= n->max;
        }
    }
    return kiln__cpu_s() - t0;
}

static const char *bench_dir;

/* Waits for the optimizing tier and says which tier the UDF runs on (a module whose tier-1
 * build fails, or whose layouts differ, stays on tier 0: its figures would not be tier 1's). */
static void wait_tier1(kiln_udf *u, const char *name)
{
    kiln_udf_wait_optimized(u);
    json_t *d = kiln_udf_describe(u);
    fprintf(stderr, "%s runs on tier %lld\n", name, (long long)json_integer_value(json_object_get(d, "tier")));
    json_decref(d);
}
static void remove_bench_dir(void)
{
    kiln_fs_remove_tree(bench_dir, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_udf UDF_DIR [N] [REPEATS]\n");
        return 2;
    }
    const char *udfs = argv[1];
    unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 200000;
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    static char dir[] = "/tmp/kiln-bench-udf-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    bench_dir = dir;
    atexit(remove_bench_dir); /* also on the early returns of the partial runs */
    kiln_error err;
    bench_env e = {0};
    char regdir[300];
    snprintf(regdir, sizeof regdir, "%s/udfs", dir);
    if (!(e.reg = kiln_udf_registry_open(regdir, &err))) die("registry", &err);
    json_t *mj = J("{\"properties\": {\"name\": {\"type\": \"keyword\"}, \"price\": {\"type\": \"long\"}}}");
    if (!(e.m = kiln_mapping_new(mj, &err))) die("mapping", &err);
    if (!(e.ar = kiln_analysis_registry_new(NULL, &err))) die("analysis", &err);
    if (!(e.si = kiln_sindex_open(NULL, &err))) die("sindex", &err);
    double t0 = kiln__cpu_s();
    for (unsigned i = 0; i < n; i++) {
        char name[64];
        make_name(i, name, sizeof name);
        json_t *doc = json_pack("{s:s,s:I}", "name", name, "price", (json_int_t)(i % 1000));
        if (kiln_sindex_add(e.si, i, doc, e.m, e.ar, &err)) die("add", &err);
        json_decref(doc);
    }
    if (kiln_sindex_refresh(e.si, &err)) die("refresh", &err);
    e.rd = kiln_sindex_reader_acquire(e.si);
    printf("indexed %u documents in %.2f s\n\n", n, kiln__cpu_s() - t0);

    /* Deterministic cost of statistics: BENCH_UDF_STATS=on|off runs only the trivial-UDF query,
     * to be compared under `valgrind --tool=callgrind` (instruction counts, immune to load). */
    const char *only = getenv("BENCH_UDF_STATS");
    if (only) {
        kiln_udf *t = register_wat(e.reg, "trivial",
                                   "(module (func (export \"kiln_abi_version\") (result i32) (i32.const 1))"
                                   " (func (export \"f\") (result i32) (i32.const 1)))",
                                   "{\"function_name\": \"f\"}");
        wait_tier1(t, "trivial");
        kiln_udf_stats_enable(strcmp(only, "off") != 0);
        query_arg qt = {&e, "{\"wasm_udf\": {\"name\": \"trivial\"}}", 0};
        double tt = best_of(repeats, query_once, &qt);
        printf("statistics %s: %.2f ns per call, %llu matches\n", only, tt * 1e9 / n,
               (unsigned long long)qt.hits);
        kiln_udf_unref(t);
        return 0;
    }

    /* 1. Levenshtein filter: UDF end to end vs native over the same doc values. */
    kiln_udf *sd = register_file(e.reg, udfs, "string_distance");
    wait_tier1(sd, "string_distance"); /* the optimizing tier, as queries get it shortly */
    query_arg qa = {&e, "{\"wasm_udf\": {\"name\": \"string_distance\", \"params\": {\"field\": "
                        "\"name\", \"target\": \"iPhone 15 Pro\", \"max_distance\": 3}}}",
                    0};
    native_arg na = {&e, "iPhone 15 Pro", 3, 0};
    double t_native = INFINITY, t_udf = INFINITY;
    int lev_runs = getenv("BENCH_UDF_SELECTIVE_ONLY") ? 1 : repeats; /* profiling 1b alone */
    for (int i = 0; i < lev_runs; i++) { /* interleaved: a drift in load hits both */
        double t = native_once(&na);
        t_native = t < t_native ? t : t_native;
        t = query_once(&qa);
        t_udf = t < t_udf ? t : t_udf;
    }
    printf("## Levenshtein filter over %u names (target \"iPhone 15 Pro\", max 3), best of %d\n", n,
           repeats);
    printf("| path | total ms | ns per doc | matches |\n|---|---:|---:|---:|\n");
    printf("| native C over doc values (baseline) | %.1f | %.1f | %llu |\n", t_native * 1e3,
           t_native * 1e9 / n, (unsigned long long)na.hits);
    printf("| wasm_udf query, end to end | %.1f | %.1f | %llu |\n", t_udf * 1e3, t_udf * 1e9 / n,
           (unsigned long long)qa.hits);
    printf("ratio UDF / native: %.2fx%s\n\n", t_udf / t_native,
           na.hits == qa.hits ? "" : "  (MISMATCH in match counts!)");
    if (getenv("BENCH_UDF_LEV_ONLY")) return 0; /* for profiling the Levenshtein query alone */

    /* 1b. What a UDF clause adds to a selective query: term (200 of N docs) alone, and with the
     * Levenshtein filter as its second phase (called on those 200 only). */
    {
        query_arg qt = {&e, "{\"bool\": {\"filter\": [{\"term\": {\"price\": 7}}]}}", 0};
        query_arg qu = {&e, "{\"bool\": {\"filter\": [{\"term\": {\"price\": 7}}, {\"wasm_udf\": "
                            "{\"name\": \"string_distance\", \"params\": {\"field\": \"name\", "
                            "\"target\": \"iPhone 15 Pro\", \"max_distance\": 3}}}]}}",
                        0};
        double tt = INFINITY, tu = INFINITY;
        for (int i = 0; i < repeats * 20; i++) {
            double x = query_once(&qt);
            tt = x < tt ? x : tt;
            x = query_once(&qu);
            tu = x < tu ? x : tu;
        }
        unsigned cand = (n + 999) / 1000;
        printf("## A UDF clause in a selective query (term matches %u docs; UDF on each)\n", cand);
        printf("| query | us per query |\n|---|---:|\n| term | %.1f |\n| term + wasm_udf | %.1f "
               "|\nadded per query: %.1f us (%.0f ns per candidate, fixed costs included)\n\n",
               tt * 1e6, tu * 1e6, (tu - tt) * 1e6, (tu - tt) * 1e9 / cand);
        if (getenv("BENCH_UDF_SELECTIVE_ONLY")) return 0;
    }
    kiln_udf_unref(sd);

    /* 2. Field reads: K reads of "price" per document, by name and by handle. */
    static const char *const reads_wat =
        "(module\n"
        " (import \"kiln\" \"get_field_int64\" (func $gi (param i32 i32) (result i64)))\n"
        " (import \"kiln\" \"field_handle\" (func $fh (param i32 i32) (result i32)))\n"
        " (import \"kiln\" \"get_field_int64_h\" (func $gih (param i32) (result i64)))\n"
        " (memory (export \"memory\") 1)\n"
        " (data (i32.const 0) \"price\")\n"
        " (global $h (mut i32) (i32.const -1))\n"
        " (func (export \"kiln_abi_version\") (result i32) (i32.const 1))\n"
        " (func (export \"by_name\") (param $k i32) (result i32) (local $s i64)\n"
        "  (block $done (loop $l (br_if $done (i32.eqz (local.get $k)))\n"
        "   (local.set $s (i64.add (local.get $s) (call $gi (i32.const 0) (i32.const 5))))\n"
        "   (local.set $k (i32.sub (local.get $k) (i32.const 1))) (br $l)))\n"
        "  (i64.ne (local.get $s) (i64.const -1)))\n"
        " (func (export \"by_handle\") (param $k i32) (result i32) (local $s i64)\n"
        "  (if (i32.lt_s (global.get $h) (i32.const 0))\n"
        "   (then (global.set $h (call $fh (i32.const 0) (i32.const 5)))))\n"
        "  (block $done (loop $l (br_if $done (i32.eqz (local.get $k)))\n"
        "   (local.set $s (i64.add (local.get $s) (call $gih (global.get $h))))\n"
        "   (local.set $k (i32.sub (local.get $k) (i32.const 1))) (br $l)))\n"
        "  (i64.ne (local.get $s) (i64.const -1))))\n";
    kiln_udf *rn = register_wat(e.reg, "reads_by_name", reads_wat,
                                "{\"function_name\": \"by_name\", \"parameters\": [{\"name\": \"k\", "
                                "\"type\": \"i32\", \"default\": 0}]}");
    kiln_udf *rh = register_wat(e.reg, "reads_by_handle", reads_wat,
                                "{\"function_name\": \"by_handle\", \"parameters\": [{\"name\": \"k\", "
                                "\"type\": \"i32\", \"default\": 0}]}");
    wait_tier1(rn, "reads_by_name");
    wait_tier1(rh, "reads_by_handle");
    const int K = 16;
    char q0[200], qn[200], qh[200];
    snprintf(q0, sizeof q0, "{\"wasm_udf\": {\"name\": \"reads_by_name\", \"params\": {\"k\": 0}}}");
    snprintf(qn, sizeof qn, "{\"wasm_udf\": {\"name\": \"reads_by_name\", \"params\": {\"k\": %d}}}", K);
    snprintf(qh, sizeof qh, "{\"wasm_udf\": {\"name\": \"reads_by_handle\", \"params\": {\"k\": %d}}}", K);
    query_arg a0 = {&e, q0, 0}, an = {&e, qn, 0}, ah = {&e, qh, 0};
    double t0q = best_of(repeats, query_once, &a0);
    double tn = best_of(repeats, query_once, &an);
    double th = best_of(repeats, query_once, &ah);
    printf("## Field reads from a UDF (%d reads of a long field per document, %u documents)\n", K, n);
    printf("| variant | total ms | ns per document | ns per read |\n|---|---:|---:|---:|\n");
    printf("| no reads (call overhead, baseline) | %.1f | %.1f | - |\n", t0q * 1e3, t0q * 1e9 / n);
    printf("| by name (get_field_int64) | %.1f | %.1f | %.1f |\n", tn * 1e3, tn * 1e9 / n,
           (tn - t0q) * 1e9 / n / K);
    printf("| by handle (field_handle once, get_field_int64_h) | %.1f | %.1f | %.1f |\n\n",
           th * 1e3, th * 1e9 / n, (th - t0q) * 1e9 / n / K);

    /* 3. Statistics on vs off, trivial UDF (the k = 0 call above), per call. */
    double toff = INFINITY, ton = INFINITY; /* interleaved, best of each */
    for (int i = 0; i < repeats * 2; i++) {
        kiln_udf_stats_enable(i & 1);
        double t = query_once(&a0);
        double *best = i & 1 ? &ton : &toff;
        if (t < *best) *best = t;
    }
    kiln_udf_stats_enable(1);
    printf("## Always-on statistics, trivial UDF, %u calls\n", n);
    printf("| statistics | ns per call (end to end) |\n|---|---:|\n| off | %.2f |\n| on | %.2f |\n",
           toff * 1e9 / n, ton * 1e9 / n);
    printf("cost of statistics: %+.1f%% of a trivial call\n", (ton / toff - 1) * 100);
    kiln_udf_unref(rn);
    kiln_udf_unref(rh);
    kiln_sindex_reader_release(e.rd);
    kiln_sindex_close(e.si);
    kiln_udf_registry_close(e.reg);
    kiln_mapping_unref(e.m);
    kiln_analysis_registry_free(e.ar);
    json_decref(mj);
    return 0;
}
