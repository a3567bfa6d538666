/* Many threads calling the same and different modules while tier 1 is built in
 * the background and swapped in; modules freed while other threads still hold
 * instances. Runs under TSan (label tsan). */
#include <pthread.h>
#include <stdatomic.h>

#include "kiln_wasm.h"
#include "wtest.h"

static const char *wat_a = "(module (memory 1) (global $g (mut i32) (i32.const 0))"
                           " (func (export \"sum\") (param i32) (result i32) (local i32 i32)"
                           "  (block $b (loop $l (br_if $b (i32.ge_u (local.get 1) (local.get 0)))"
                           "   (local.set 2 (i32.add (local.get 2) (local.get 1)))"
                           "   (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br $l)))"
                           "  (global.set $g (i32.add (global.get $g) (i32.const 1)))"
                           "  (i32.store (i32.const 0) (global.get $g))"
                           "  (local.get 2)))";
static const char *wat_b = "(module (func (export \"mul\") (param i64 i64) (result i64) (i64.mul "
                           "(local.get 0) (local.get 1))))";

static kiln_wasm_module *ma, *mb;
static atomic_int stop;
static atomic_long calls, bad;

static void *worker(void *arg)
{
    kiln_wasm_error err;
    kiln_wasm_val a[2], r[1];
    kiln_wasm_trap trap;
    const kiln_wasm_export *sum = kiln_wasm_export_find(ma, "sum"),
                           *mul = kiln_wasm_export_find(mb, "mul");
    long n = 0;
    (void)arg;
    while (!atomic_load(&stop) || n < 200) {
        kiln_wasm_instance *ia = kiln_wasm_acquire(ma, &err), *ib = kiln_wasm_acquire(mb, &err);
        if (!ia || !ib) {
            atomic_fetch_add(&bad, 1);
            break;
        }
        for (int k = 0; k < 50; k++, n++) {
            a[0].i32 = 100;
            if (kiln_wasm_call(ia, sum, a, r, &trap) || r[0].i32 != 4950) atomic_fetch_add(&bad, 1);
            a[0].i64 = k;
            a[1].i64 = 3;
            if (kiln_wasm_call(ib, mul, a, r, &trap) || r[0].i64 != 3 * k)
                atomic_fetch_add(&bad, 1);
        }
        kiln_wasm_release(ia);
        kiln_wasm_release(ib);
    }
    atomic_fetch_add(&calls, n);
    kiln_wasm_thread_cleanup();
    return NULL;
}

/* Holds an instance across the module's free: the instance must stay valid. */
static void *holder(void *arg)
{
    kiln_wasm_module *m = arg;
    kiln_wasm_error err;
    kiln_wasm_val a[2] = {{.i64 = 6}, {.i64 = 7}}, r[1];
    kiln_wasm_trap trap;
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    const kiln_wasm_export *mul = kiln_wasm_export_find(m, "mul");
    kiln_wasm_module_free(m); /* our reference; the instance keeps the module alive */
    for (int i = 0; i < 1000; i++)
        if (kiln_wasm_call(in, mul, a, r, &trap) || r[0].i64 != 42) atomic_fetch_add(&bad, 1);
    kiln_wasm_release(in); /* module dead: the instance is freed, then the module */
    kiln_wasm_thread_cleanup();
    return NULL;
}

int main(void)
{
    kiln_wasm_error err;
    size_t na, nb;
    uint8_t *ba = wtest_wat(wat_a, &na, NULL), *bb = wtest_wat(wat_b, &nb, NULL);
    kiln_wasm_limits lim = {.tier1 = 1};
    ma = kiln_wasm_load(ba, na, &lim, &err);
    mb = kiln_wasm_load(bb, nb, &lim, &err);
    CHECK(ma && mb);
    if (!ma || !mb) return 1;
    int t_before = kiln_wasm_module_tier(ma);
    enum { N = 4 };
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    int ta = kiln_wasm_module_wait_tier1(ma), tb = kiln_wasm_module_wait_tier1(mb);
    atomic_store(&stop, 1);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(ta, 1);
    CHECK_EQ(tb, 1);
    CHECK_EQ(atomic_load(&bad), 0);
    printf("threads: %ld calls, tier %d -> %d while running\n", atomic_load(&calls), t_before, ta);

    /* Free modules while other threads hold instances. */
    kiln_wasm_module *mc = kiln_wasm_load(bb, nb, &lim, &err);
    pthread_t h;
    pthread_create(&h, NULL, holder, mc);
    pthread_join(h, NULL);
    CHECK_EQ(atomic_load(&bad), 0);

    kiln_wasm_module_free(ma);
    kiln_wasm_module_free(mb);
    kiln_wasm_thread_cleanup();
    CHECK_EQ(kiln_wasm_stat_live_instances(), 0);
    free(ba);
    free(bb);
    printf("test_threads: %s\n", wtest_failures ? "FAILED" : "ok");
    return wtest_failures ? 1 : 0;
}
