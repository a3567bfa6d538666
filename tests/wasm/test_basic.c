/* End-to-end basics: load, both tiers, typed calls, host imports, traps. */
#include "kiln_wasm.h"
#include "wtest.h"

/* The user data of host_add: a fixed bias, or with a cursor (kiln_wasm_call_each) a bias of
 * 100 * cursor, -1 (a host failure) at fail_at. */
typedef struct {
    int32_t bias;
    size_t cursor, fail_at;
    int by_cursor;
} add_user;

static int32_t host_add(kiln_wasm_ctx *ctx, int32_t a, int32_t b)
{
    add_user *u = kiln_wasm_ctx_user(ctx);
    if (u && u->by_cursor) u->bias = u->cursor == u->fail_at ? -1 : (int32_t)(100 * u->cursor);
    if (u && u->bias == -1) kiln_wasm_ctx_fail(ctx, "bias -1");
    return a + b + (u ? u->bias : 0);
}

static void call_each(kiln_wasm_module *m, int tier)
{
    kiln_wasm_error err;
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    const kiln_wasm_export *hadd = kiln_wasm_export_find(m, "hadd");
    add_user e = {0, 99, (size_t)-1, 1};
    kiln_wasm_set_user(in, &e);
    kiln_wasm_val a[1] = {{.i32 = 5}}, r[8];
    kiln_wasm_trap trap;
    size_t done = 99;
    CHECK_EQ(kiln_wasm_call_each(in, hadd, a, r, 0, 8, &e.cursor, NULL, 0, &done, &trap), 0);
    CHECK_EQ(done, 8);
    CHECK_EQ(e.cursor, 7);
    for (int i = 0; i < 8; i++) CHECK_EQ(r[i].i32, 15 + 100 * i);
    /* A trap in call 3 stops the batch there: 3 calls done, the instance is discarded. */
    e.fail_at = 3;
    CHECK_EQ(kiln_wasm_call_each(in, hadd, a, r, 0, 8, &e.cursor, NULL, 0, &done, &trap), KILN_WASM_ETRAP);
    CHECK_EQ(done, 3);
    CHECK_EQ(e.cursor, 3);
    CHECK_EQ(trap.kind, KILN_TRAP_HOST);
    CHECK_STR_HAS(trap.msg, "bias -1");
    kiln_wasm_release(in);

    /* Inputs: call k finds ptr[k] (at most cap bytes) at dst and its length (-1: none) at
     * len_at; inp returns length * 1000 + the byte at dst + 3. */
    in = kiln_wasm_acquire(m, &err);
    const kiln_wasm_export *inp = kiln_wasm_export_find(m, "inp");
    const char *ptrs[3] = {"abcd", NULL, "wxyz-long"};
    size_t lens[3] = {4, 0, 9};
    kiln_wasm_input x = {100, 4, 200, ptrs, lens};
    size_t cur;
    CHECK_EQ(kiln_wasm_call_each(in, inp, a, r, 0, 3, &cur, &x, 1, &done, &trap), 0);
    CHECK_EQ(done, 3);
    CHECK_EQ(r[0].i32, 4000 + 'd');
    CHECK_EQ(r[1].i32, -1000 + 'd'); /* missing: the buffer keeps the last bytes */
    CHECK_EQ(r[2].i32, 9000 + 'z');  /* truncated to cap, full length reported */
    /* an input range outside memory fails the batch before any call */
    kiln_wasm_input bad = {65534, 4, 200, ptrs, lens};
    CHECK_EQ(kiln_wasm_call_each(in, inp, a, r, 0, 3, &cur, &bad, 1, &done, &trap), KILN_WASM_ETRAP);
    CHECK_EQ(done, 0);
    CHECK_EQ(trap.kind, KILN_TRAP_HOST);
    /* a single call's inputs, written before kiln_wasm_call */
    CHECK_EQ(kiln_wasm_put_inputs(in, &bad, 1), -1);
    CHECK_EQ(kiln_wasm_put_inputs(in, &x, 1), 0);
    CHECK_EQ(kiln_wasm_call(in, inp, a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 4000 + 'd');
    /* a host function ends the batch after its call: 1 call done, no trap */
    CHECK_EQ(kiln_wasm_call_each(in, kiln_wasm_export_find(m, "hend"), a, r, 0, 5, &cur, NULL, 0,
                                 &done, &trap),
             0);
    CHECK_EQ(done, 1);
    CHECK_EQ(r[0].i32, 1);
    kiln_wasm_release(in);
}

/* Copies "hello" into guest memory at out_ptr if it fits. */
static int32_t host_get_str(kiln_wasm_ctx *ctx, int32_t out_ptr, int32_t out_cap)
{
    char *dst = kiln_wasm_ctx_mem(ctx, (uint32_t)out_ptr, (uint32_t)out_cap);
    if (!dst) return -1;
    if (out_cap < 5) return -2;
    memcpy(dst, "hello", 5);
    return 5;
}

static void host_fail(kiln_wasm_ctx *ctx)
{
    kiln_wasm_ctx_fail(ctx, "boom from host");
}

static void host_end(kiln_wasm_ctx *ctx)
{
    kiln_wasm_ctx_end_batch(ctx);
}

static const char *wat =
    "(module\n"
    "  (import \"env\" \"add\" (func $add (param i32 i32) (result i32)))\n"
    "  (import \"env\" \"get_str\" (func $gs (param i32 i32) (result i32)))\n"
    "  (import \"kiln\" \"fail\" (func $fail))\n"
    "  (import \"env\" \"end\" (func $end))\n"
    "  (memory 1)\n"
    "  (global $g (mut i32) (i32.const 7))\n"
    "  (func $fac (export \"fac\") (param i64) (result i64)\n"
    "    (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))\n"
    "      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))\n"
    "  (func (export \"addf\") (param f32 f64) (result f64) (f64.add (f64.promote_f32 (local.get "
    "0)) (local.get 1)))\n"
    "  (func (export \"hadd\") (param i32) (result i32) (call $add (local.get 0) (i32.const 10)))\n"
    "  (func (export \"hstr\") (result i32) (local i32)\n"
    "    (local.set 0 (call $gs (i32.const 100) (i32.const 16)))\n"
    "    (i32.add (local.get 0) (i32.load8_u (i32.const 100))))\n"
    "  (func (export \"hfail\") (call $fail))\n"
    "  (func (export \"hend\") (result i32) (call $end) (i32.const 1))\n"
    "  (func (export \"inp\") (result i32)\n"
    "    (i32.add (i32.mul (i32.load (i32.const 200)) (i32.const 1000)) (i32.load8_u (i32.const 103))))\n"
    "  (func (export \"bump\") (result i32) (global.set $g (i32.add (global.get $g) (i32.const "
    "1)))\n"
    "    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))\n"
    "    (i32.add (global.get $g) (i32.mul (i32.load (i32.const 0)) (i32.const 1000))))\n"
    "  (func (export \"div\") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get "
    "1)))\n"
    "  (func (export \"oob\") (param i32) (result i32) (i32.load (local.get 0)))\n"
    "  (func (export \"unreach\") unreachable)\n"
    "  (func $rec (export \"rec\") (param i32) (result i32) (i32.add (call $rec (local.get 0)) "
    "(i32.const 1)))\n"
    "  (func (export \"spin\") (loop $l (br $l)))\n"
    "  (func (export \"count\") (param i32) (result i32) (local i32)\n"
    "    (block $b (loop $l (br_if $b (i32.ge_u (local.get 1) (local.get 0)))\n"
    "      (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br $l))) (local.get 1))\n"
    "  (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0)))\n"
    ")\n";

static void run_tier(const uint8_t *b, size_t n, int tier)
{
    kiln_wasm_error err = {0};
    kiln_wasm_limits lim = {.tier1 = tier == 1 ? 2 : 0, .fuel = 0, .max_pages = 4};
    kiln_wasm_module *m = kiln_wasm_load(b, n, &lim, &err);
    if (!m) {
        fprintf(stderr, "load failed: %s\n", err.msg);
        wtest_failures++;
        return;
    }
    CHECK_EQ(kiln_wasm_module_tier(m), tier);
    CHECK_EQ(strlen(kiln_wasm_module_hash(m)), 64);
    const kiln_wasm_export *fac = kiln_wasm_export_find(m, "fac");
    CHECK(fac && kiln_wasm_export_sig(fac)->nparams == 1 &&
          kiln_wasm_export_sig(fac)->params[0] == KILN_WASM_I64);
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    CHECK(in != NULL);
    if (!in) return;
    kiln_wasm_val a[4], r[4];
    kiln_wasm_trap trap;
    a[0].i64 = 20;
    CHECK_EQ(kiln_wasm_call(in, fac, a, r, &trap), 0);
    CHECK_EQ(r[0].i64, 2432902008176640000LL);

    a[0].f32 = 1.5f;
    a[1].f64 = 2.25;
    CHECK_EQ(kiln_wasm_call(in, kiln_wasm_export_find(m, "addf"), a, r, &trap), 0);
    CHECK(r[0].f64 == 3.75);

    call_each(m, tier);
    add_user bias = {100, 0, 0, 0};
    kiln_wasm_set_user(in, &bias);
    a[0].i32 = 5;
    CHECK_EQ(kiln_wasm_call(in, kiln_wasm_export_find(m, "hadd"), a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 115);
    CHECK_EQ(kiln_wasm_call(in, kiln_wasm_export_find(m, "hstr"), a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 5 + 'h');

    /* State persists within a query, is reset after release. */
    const kiln_wasm_export *bump = kiln_wasm_export_find(m, "bump");
    CHECK_EQ(kiln_wasm_call(in, bump, a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 1008);
    CHECK_EQ(kiln_wasm_call(in, bump, a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 2009);
    a[0].i32 = 2;
    CHECK_EQ(kiln_wasm_call(in, kiln_wasm_export_find(m, "grow"), a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 1);
    a[0].i32 = 10; /* past the 4-page cap */
    CHECK_EQ(kiln_wasm_call(in, kiln_wasm_export_find(m, "grow"), a, r, &trap), 0);
    CHECK_EQ(r[0].i32, -1);
    kiln_wasm_release(in);
    in = kiln_wasm_acquire(m, &err);
    CHECK_EQ(kiln_wasm_call(in, bump, a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 1008);
    a[0].i32 = 0;
    CHECK_EQ(kiln_wasm_call(in, kiln_wasm_export_find(m, "grow"), a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 1);

    struct {
        const char *name;
        int32_t a0, a1;
        kiln_wasm_trap_kind kind;
    } traps[] = {
        {"div", 1, 0, KILN_TRAP_DIV_BY_ZERO},        {"div", INT32_MIN, -1, KILN_TRAP_INT_OVERFLOW},
        {"oob", 65536 - 3, 0, KILN_TRAP_OOB_MEMORY}, {"oob", -1, 0, KILN_TRAP_OOB_MEMORY},
        {"unreach", 0, 0, KILN_TRAP_UNREACHABLE},    {"rec", 0, 0, KILN_TRAP_STACK_EXHAUSTED},
        {"spin", 0, 0, KILN_TRAP_DEADLINE},          {"hfail", 0, 0, KILN_TRAP_HOST},
    };
    for (size_t i = 0; i < sizeof traps / sizeof traps[0]; i++) {
        if (!in) in = kiln_wasm_acquire(m, &err);
        /* 20 ms for the spin; generous for the rest (the machine may be loaded). */
        kiln_wasm_set_budget(in, 0, traps[i].kind == KILN_TRAP_DEADLINE ? 20000000 : 5000000000ull);
        a[0].i32 = traps[i].a0;
        a[1].i32 = traps[i].a1;
        memset(&trap, 0, sizeof trap);
        uint64_t t0 = wtest_now_ns();
        int rc = kiln_wasm_call(in, kiln_wasm_export_find(m, traps[i].name), a, r, &trap);
        uint64_t dt = wtest_now_ns() - t0;
        CHECK_EQ(rc, KILN_WASM_ETRAP);
        if (trap.kind != traps[i].kind)
            fprintf(stderr, "tier %d %s: trap %s, want %s\n", tier, traps[i].name,
                    kiln_wasm_trap_kind_str(trap.kind), kiln_wasm_trap_kind_str(traps[i].kind));
        CHECK_EQ(trap.kind, traps[i].kind);
        CHECK(trap.export_name && strcmp(trap.export_name, traps[i].name) == 0);
        if (traps[i].kind == KILN_TRAP_DEADLINE) CHECK(dt < 60000000ull);
        if (traps[i].kind == KILN_TRAP_HOST) CHECK_STR_HAS(trap.msg, "boom from host");
        kiln_wasm_release(in); /* trapped: discarded */
        in = NULL;
    }
    CHECK_STR_HAS(kiln_wasm_trap_kind_str(KILN_TRAP_FUEL_EXHAUSTED), "fuel");

    kiln_wasm_module_free(m);
}

/* Fuel is exact: n loop iterations + 1 function entry. */
static void fuel_exact(const uint8_t *b, size_t n)
{
    kiln_wasm_error err = {0};
    kiln_wasm_limits lim = {.tier1 = 0, .fuel = 1000};
    kiln_wasm_module *m = kiln_wasm_load(b, n, &lim, &err);
    CHECK(m != NULL);
    if (!m) return;
    const kiln_wasm_export *count = kiln_wasm_export_find(m, "count");
    kiln_wasm_val a[1], r[1];
    kiln_wasm_trap trap;
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    /* count(k) does 1 entry + (k+1) loop-header ticks. */
    a[0].i32 = 998;
    CHECK_EQ(kiln_wasm_call(in, count, a, r, &trap), 0);
    CHECK_EQ(r[0].i32, 998);
    a[0].i32 = 999;
    CHECK_EQ(kiln_wasm_call(in, count, a, r, &trap), KILN_WASM_ETRAP);
    CHECK_EQ(trap.kind, KILN_TRAP_FUEL_EXHAUSTED);
    kiln_wasm_release(in);
    in = kiln_wasm_acquire(m, &err);
    a[0].i32 = 998; /* the budget is per call */
    CHECK_EQ(kiln_wasm_call(in, count, a, r, &trap), 0);
    /* also in a batch: 4 x 1000 ticks pass where one budget for all would not */
    kiln_wasm_val r4[4];
    size_t cursor = 0, done = 0;
    CHECK_EQ(kiln_wasm_call_each(in, count, a, r4, 10, 4, &cursor, NULL, 0, &done, &trap), 0);
    CHECK_EQ(done, 4);
    CHECK_EQ(r4[3].i32, 998);
    CHECK_EQ(cursor, 13); /* first + k: 10 .. 13 */
    kiln_wasm_release(in);
    kiln_wasm_module_free(m);
}

int main(void)
{
    kiln_wasm_host_fn host[] = {
        {"env", "add", "ii:i", (void (*)(void))host_add},
        {"env", "get_str", "ii:i", (void (*)(void))host_get_str},
        {"kiln", "fail", ":", (void (*)(void))host_fail},
        {"env", "end", ":", (void (*)(void))host_end},
    };
    kiln_wasm_error err;
    CHECK_EQ(kiln_wasm_host_register(host, sizeof host / sizeof *host, &err), 0);
    size_t n;
    uint8_t *b = wtest_wat(wat, &n, NULL);
    run_tier(b, n, 0);
    run_tier(b, n, 1);
    fuel_exact(b, n);
    kiln_wasm_thread_cleanup();
    CHECK_EQ(kiln_wasm_stat_live_instances(), 0);
    CHECK_EQ(kiln_wasm_stat_reserved_bytes(), 0);
    free(b);
    printf("test_basic: %s\n", wtest_failures ? "FAILED" : "ok");
    return wtest_failures ? 1 : 0;
}
