/* The tier-0 compile server (wasm_tccd.c): tcc crashing, running past its timeout or
 * failing on its input rejects that one compile with the reason, the server keeps
 * serving, and a module loads through it; once the server is killed, loads exec tcc.
 * Not under sanitizers (no server there). */
#include "kiln_wasm.h"
#include "wasm_rt_int.h"
#include "wtest.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>


static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) exit(2);
    fputs(text, f);
    fclose(f);
}

static char *fresh_dir(void)
{
    char tmpl[] = "/tmp/kiln-test-tccd-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d) exit(2);
    return strdup(d);
}

static int compile(const char *dir, uint32_t timeout_ms, char *why, size_t cap)
{
    why[0] = 0;
    return kiln__tccd_compile(dir, 20, 4ull << 30, 512ull << 20, timeout_ms, why, cap);
}

static bool built(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/t0.so", dir);
    return access(path, F_OK) == 0;
}

int main(void)
{
    if (!kiln__tccd_running()) {
        fprintf(stderr, "no compile server running (built without libtcc?)\n");
        return 1;
    }
    char why[256];

    /* valid C: built */
    char *ok = fresh_dir();
    put(ok, "k.c", "int kiln__entry(void){return 42;}\n");
    CHECK_EQ(compile(ok, 30000, why, sizeof why), 0);
    CHECK(built(ok));

    /* a compile error: rejected with tcc's first line */
    char *bad = fresh_dir();
    put(bad, "k.c", "int f(void){return }\n");
    CHECK_EQ(compile(bad, 30000, why, sizeof why), -1);
    CHECK_STR_HAS(why, "tcc failed (exit 1): k.c:2: error: identifier expected");

    /* tcc 0.9.27 overflows its stack on 200,000 nested parentheses: a crash, not ours */
    char *crash = fresh_dir();
    size_t depth = 200000, cap = 2 * depth + 64;
    char *deep = malloc(cap), *p = deep;
    p += sprintf(p, "int f(void){return ");
    for (size_t i = 0; i < depth; i++)
        *p++ = '(';
    *p++ = '1';
    for (size_t i = 0; i < depth; i++)
        *p++ = ')';
    strcpy(p, ";}\n");
    put(crash, "k.c", deep);
    free(deep);
    CHECK_EQ(compile(crash, 30000, why, sizeof why), -1);
    CHECK_STR_HAS(why, "tcc killed by signal 11");
    CHECK(!built(crash));

    /* 2^25 unguarded includes: tcc would run for minutes in constant memory */
    char *slow = fresh_dir();
    for (int i = 0; i < 25; i++) {
        char name[16], text[64];
        snprintf(name, sizeof name, "h%d.h", i);
        snprintf(text, sizeof text, "#include \"h%d.h\"\n#include \"h%d.h\"\n", i + 1, i + 1);
        put(slow, name, text);
    }
    put(slow, "h25.h", "\n");
    put(slow, "k.c", "#include \"h0.h\"\nint x;\n");
    uint64_t t0 = wtest_now_ns();
    CHECK_EQ(compile(slow, 300, why, sizeof why), -1);
    CHECK_STR_HAS(why, "tcc timed out after 300 ms");
    CHECK((wtest_now_ns() - t0) / 1000000 < 20000); /* killed, not waited for */

    /* the server survived all of it: a module still loads and runs through it */
    CHECK(kiln__tccd_running());
    char *again = fresh_dir();
    put(again, "k.c", "int g(void){return 1;}\n");
    CHECK_EQ(compile(again, 30000, why, sizeof why), 0);
    size_t n;
    uint8_t *b = wtest_wat("(module (func (export \"f\") (param i32) (result i32)"
                           " (i32.mul (local.get 0) (i32.const 3))))",
                           &n, NULL);
    kiln_wasm_error err;
    kiln_wasm_limits lim = {.tier1 = 0};
    int64_t cpu0 = kiln__tccd_cpu_ns;
    kiln_wasm_module *m = kiln_wasm_load(b, n, &lim, &err);
    CHECK(m != NULL);
    CHECK(kiln__tccd_cpu_ns > cpu0); /* it went through the server */
    if (m) {
        kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
        kiln_wasm_val a[1] = {{.i32 = 14}}, r[1];
        kiln_wasm_trap trap;
        CHECK_EQ(kiln_wasm_call(in, kiln_wasm_export_find(m, "f"), a, r, &trap), 0);
        CHECK_EQ(r[0].i32, 42);
        kiln_wasm_release(in);
        kiln_wasm_module_free(m);
    }

    /* the server killed: noticed at the next compile, which execs tcc instead */
    int pid = kiln__tccd_pid();
    CHECK(pid > 0);
    if (pid > 0) kill(pid, SIGKILL);
    usleep(100000);
    cpu0 = kiln__tccd_cpu_ns;
    m = kiln_wasm_load(b, n, &lim, &err);
    CHECK(m != NULL);
    CHECK(!kiln__tccd_running());
    CHECK_EQ(kiln__tccd_cpu_ns, cpu0); /* not through a server */
    if (m) {
        kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
        kiln_wasm_val a[1] = {{.i32 = 5}}, r[1];
        kiln_wasm_trap trap;
        CHECK_EQ(kiln_wasm_call(in, kiln_wasm_export_find(m, "f"), a, r, &trap), 0);
        CHECK_EQ(r[0].i32, 15);
        kiln_wasm_release(in);
        kiln_wasm_module_free(m);
    }
    free(b);
    const char *dirs[] = {ok, bad, crash, slow, again};
    for (int i = 0; i < 5; i++) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dirs[i]);
        if (system(cmd) != 0) wtest_failures++;
        free((void *)dirs[i]);
    }
    if (wtest_failures) fprintf(stderr, "%d failure(s)\n", wtest_failures);
    return wtest_failures != 0;
}
