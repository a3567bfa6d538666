/* Disk cache of tier-1 artifacts: a second load skips compilation, a corrupted or
 * truncated entry is detected and rebuilt, another toolchain gets another entry. */
#include <dirent.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln_wasm.h"
#include "wtest.h"

static char dir[64] = "/tmp/kiln-cache-test-XXXXXX";

static int count_entries(char *so_path, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 3 && !strcmp(e->d_name + l - 3, ".so")) {
            n++;
            snprintf(so_path, cap, "%s/%s", dir, e->d_name);
        }
    }
    if (d) closedir(d);
    return n;
}

static int call_fac(kiln_wasm_module *m)
{
    kiln_wasm_error err;
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    kiln_wasm_val a[1] = {{.i64 = 10}}, r[1];
    kiln_wasm_trap trap;
    int rc = in ? kiln_wasm_call(in, kiln_wasm_export_find(m, "fac"), a, r, &trap) : -1;
    kiln_wasm_release(in);
    return rc == 0 && r[0].i64 == 3628800 ? 0 : -1;
}

/* The sweep removes work dirs of dead processes only. */
static void sweep(const char *cache)
{
    char tmp[600], dead[700], live[700];
    snprintf(tmp, sizeof tmp, "%s/tmp", cache);
    mkdir(tmp, 0700);
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0); /* its pid now names no process */
    snprintf(dead, sizeof dead, "%s/kiln-wasm-%d-abcdef", tmp, (int)child);
    snprintf(live, sizeof live, "%s/kiln-wasm-%d-ghijkl", tmp, (int)getpid());
    CHECK_EQ(mkdir(dead, 0700), 0);
    CHECK_EQ(mkdir(live, 0700), 0);
    char f[800];
    snprintf(f, sizeof f, "%s/k.c", dead);
    FILE *fp = fopen(f, "w");
    if (fp) fclose(fp);
    kiln_wasm_cache_sweep(cache);
    struct stat st;
    CHECK(stat(dead, &st) != 0);
    CHECK_EQ(stat(live, &st), 0);
    rmdir(live);
}

int main(void)
{
    if (!mkdtemp(dir)) return 2;
    sweep(dir);
    size_t n;
    uint8_t *b = wtest_wat(
        "(module (func $f (export \"fac\") (param i64) (result i64)"
        " (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))"
        " (else (i64.mul (local.get 0) (call $f (i64.sub (local.get 0) (i64.const 1))))))))",
        &n, NULL);
    kiln_wasm_error err = {0};
    kiln_wasm_limits lim = {.tier1 = 1, .cache_dir = dir};
    char so[512];

    /* 1. Cold: tier 0 first, tier 1 in the background, then stored. */
    kiln_wasm_module *m = kiln_wasm_load(b, n, &lim, &err);
    CHECK(m && kiln_wasm_module_tier(m) == 0);
    CHECK_EQ(kiln_wasm_module_wait_tier1(m), 1);
    CHECK_EQ(call_fac(m), 0);
    kiln_wasm_module_free(m);
    CHECK_EQ(count_entries(so, sizeof so), 1);

    /* 2. Warm: tier 1 at once, from the cache. */
    uint64_t t0 = wtest_now_ns();
    m = kiln_wasm_load(b, n, &lim, &err);
    double warm_ms = (double)(wtest_now_ns() - t0) / 1e6;
    CHECK(m && kiln_wasm_module_tier(m) == 1);
    CHECK_EQ(call_fac(m), 0);
    kiln_wasm_module_free(m);
    printf("warm load from cache: %.2f ms\n", warm_ms);

    /* 3. Corrupted entry: detected by its checksum, rebuilt. */
    FILE *f = fopen(so, "r+b");
    fseek(f, 200, SEEK_SET);
    fputc(0x5a, f);
    fputc(0xa5, f);
    fclose(f);
    m = kiln_wasm_load(b, n, &lim, &err);
    CHECK(m && kiln_wasm_module_tier(m) == 0); /* not trusted: rebuilt */
    CHECK_EQ(kiln_wasm_module_wait_tier1(m), 1);
    CHECK_EQ(call_fac(m), 0);
    kiln_wasm_module_free(m);
    m = kiln_wasm_load(b, n, &lim, &err);
    CHECK(m && kiln_wasm_module_tier(m) == 1);
    kiln_wasm_module_free(m);

    /* 4. Truncated entry. */
    CHECK_EQ(truncate(so, 100), 0);
    m = kiln_wasm_load(b, n, &lim, &err);
    CHECK(m && kiln_wasm_module_tier(m) == 0);
    kiln_wasm_module_wait_tier1(m);
    CHECK_EQ(call_fac(m), 0);
    kiln_wasm_module_free(m);

    /* 5. Another toolchain (compiler identity is part of the key): a new entry. */
    setenv("KILN_CC", "clang", 1);
    m = kiln_wasm_load(b, n, &lim, &err);
    CHECK(m && kiln_wasm_module_tier(m) == 0);
    CHECK_EQ(kiln_wasm_module_wait_tier1(m), 1);
    CHECK_EQ(call_fac(m), 0);
    kiln_wasm_module_free(m);
    CHECK_EQ(count_entries(so, sizeof so), 2);
    unsetenv("KILN_CC");

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
    free(b);
    kiln_wasm_thread_cleanup();
    printf("test_cache: %s\n", wtest_failures ? "FAILED" : "ok");
    return wtest_failures ? 1 : 0;
}
