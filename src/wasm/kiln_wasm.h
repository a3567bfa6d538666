/* Kiln WebAssembly engine: untrusted .wasm -> native code, run sandboxed.
 *
 * Pipeline of kiln_wasm_load(): own pre-checks of the binary (kiln_wasm_check) ->
 * wasm2c in a child process (rlimits, timeout, private temp dir) -> fuel/stack
 * instrumentation of the generated C -> tier 0 (tcc, child process) -> dlopen.
 * Tier 1 (cc -O2) is built in the background and swapped in atomically.
 *
 * Calling convention for the layer above (see docs/wasm-engine.md):
 *
 *   kiln_wasm_host_register(table, n, &err);           // once, before any load
 *   kiln_wasm_module *m = kiln_wasm_load(bytes, len, &limits, &err);
 *   const kiln_wasm_export *ex = kiln_wasm_export_find(m, "score");   // once
 *   // per worker thread, per query:
 *   kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);  // pool, nanoseconds
 *   kiln_wasm_set_user(in, doc_ctx);
 *   rc = kiln_wasm_call(in, ex, args, results, &trap);    // no alloc, no lock
 *   kiln_wasm_release(in);      // trapped instances are discarded, others reset
 *   kiln_wasm_module_free(m);   // refcounted: live instances keep it alive
 *
 * All functions return 0 (or a pointer) on success and a negative status (or NULL)
 * with details in the kiln_wasm_error passed last. Nothing here calls abort().
 */
#ifndef KILN_WASM_H
#define KILN_WASM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Value types, as in the binary format's order of appearance in our tables. */
typedef enum {
    KILN_WASM_I32 = 0,
    KILN_WASM_I64 = 1,
    KILN_WASM_F32 = 2,
    KILN_WASM_F64 = 3
} kiln_wasm_type;

typedef union {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    uint64_t bits; /* raw storage; f32/f64 bit patterns are preserved exactly */
} kiln_wasm_val;

#define KILN_WASM_MAX_PARAMS 128
#define KILN_WASM_MAX_RESULTS 64

typedef struct {
    uint8_t nparams, nresults;
    uint8_t params[KILN_WASM_MAX_PARAMS];   /* kiln_wasm_type */
    uint8_t results[KILN_WASM_MAX_RESULTS]; /* kiln_wasm_type */
} kiln_wasm_sig;

/* Status codes (negative). */
enum {
    KILN_WASM_OK = 0,
    KILN_WASM_EINVAL = -1,   /* bad argument from the caller */
    KILN_WASM_EREJECT = -2,  /* module rejected by Kiln's checks */
    KILN_WASM_ECOMPILE = -3, /* translation or compilation failed (child crashed, timeout...) */
    KILN_WASM_ENOMEM = -4,
    KILN_WASM_ETRAP = -5, /* the guest trapped; see kiln_wasm_trap */
    KILN_WASM_ELINK = -6, /* import not provided / signature mismatch */
    KILN_WASM_EIO = -7,
};

typedef struct {
    int code;           /* one of the negative codes above */
    char section[24];   /* binary section involved ("code", "import"...), or "" */
    int64_t func_index; /* function index involved, or -1 */
    int64_t offset;     /* byte offset in the module, or -1 */
    char msg[256];
} kiln_wasm_error;

/* Trap kinds reported by calls. */
typedef enum {
    KILN_TRAP_NONE = 0,
    KILN_TRAP_UNREACHABLE,
    KILN_TRAP_OOB_MEMORY,
    KILN_TRAP_OOB_TABLE,
    KILN_TRAP_DIV_BY_ZERO,
    KILN_TRAP_INT_OVERFLOW,
    KILN_TRAP_INVALID_CONVERSION,
    KILN_TRAP_INDIRECT_CALL_MISMATCH,
    KILN_TRAP_UNINITIALIZED_ELEMENT,
    KILN_TRAP_STACK_EXHAUSTED,
    KILN_TRAP_FUEL_EXHAUSTED,
    KILN_TRAP_DEADLINE,
    KILN_TRAP_MEMORY_LIMIT,
    KILN_TRAP_HOST, /* a host function asked to abort the call */
} kiln_wasm_trap_kind;

typedef struct {
    kiln_wasm_trap_kind kind;
    const char *export_name; /* borrowed from the module, valid while it lives */
    const char *func_name;   /* name-section name of the export's function, or NULL */
    char msg[160];
} kiln_wasm_trap;

const char *kiln_wasm_trap_kind_str(kiln_wasm_trap_kind kind);

/* ---- Host imports --------------------------------------------------------------
 * A host function's C signature is  R fn(kiln_wasm_ctx *ctx, P1, P2, ...)  with
 * int32_t/int64_t/float/double for i32/i64/f32/f64 and void for no result.
 * ctx gives the per-call user pointer and checked access to guest memory. */
typedef struct kiln_wasm_ctx kiln_wasm_ctx;

typedef struct {
    const char *module; /* "env" or "kiln" */
    const char *field;  /* [A-Za-z_][A-Za-z0-9_]* */
    const char *sig;    /* e.g. "ii:i", "iI:", "fd:F": i=i32 I=i64 f=f32 F=f64 */
    void (*fn)(void);   /* cast from the typed function */
} kiln_wasm_host_fn;

/* Registers the host-import table (copied). Call once before any load; a second call
 * replaces the table for modules loaded afterwards. */
int kiln_wasm_host_register(const kiln_wasm_host_fn *table, size_t n, kiln_wasm_error *err);

/* The start of every kiln_wasm_ctx, public so that host functions called per document
 * read it inline: the user pointer and the guest memory (wasm2c's wasm_rt_memory_t).
 * wasm_module.c checks at compile time that the engine's structures match. */
typedef struct {
    uint8_t *data;
    uint32_t pages, max_pages, size;
} kiln_wasm_memory_view;

typedef struct {
    void *self;
    int failed;
    void *user;
    const kiln_wasm_memory_view *mem; /* NULL before instantiation or without a memory */
} kiln_wasm_ctx_view;

/* The user pointer given to kiln_wasm_set_user() for the current instance. */
static inline void *kiln_wasm_ctx_user(kiln_wasm_ctx *ctx)
{
    return ((const kiln_wasm_ctx_view *)(const void *)ctx)->user;
}
/* Guest memory [ptr, ptr+len) as a host pointer, or NULL if out of bounds (64-bit math)
 * or the module has no memory. Valid until the guest runs again (memory.grow moves
 * nothing in Kiln, but stay conservative). */
static inline void *kiln_wasm_ctx_mem(kiln_wasm_ctx *ctx, uint32_t ptr, uint32_t len)
{
    const kiln_wasm_memory_view *m = ((const kiln_wasm_ctx_view *)(const void *)ctx)->mem;
    if (!m || (uint64_t)ptr + (uint64_t)len > (uint64_t)m->size) return NULL;
    return m->data + ptr;
}
/* Makes the current call trap with KILN_TRAP_HOST after the host function returns
 * (checked on return to the engine). msg is copied. */
void kiln_wasm_ctx_fail(kiln_wasm_ctx *ctx, const char *msg);
/* Ends the kiln_wasm_call_each batch in progress after the current call returns (e.g. its
 * inputs changed): the caller sees *done < n and continues with a new batch. */
void kiln_wasm_ctx_end_batch(kiln_wasm_ctx *ctx);

/* memcpy for the short strings most field values are (up to 32 bytes) without a libc call:
 * two overlapping loads and stores of 8 or 16 bytes. */
static inline void kiln_wasm_copy_small(void *dst, const void *src, size_t n)
{
    char *d = (char *)dst;
    const char *s = (const char *)src;
    if (n >= 16 && n <= 32) {
        char a[16], b[16];
        memcpy(a, s, 16);
        memcpy(b, s + n - 16, 16);
        memcpy(d, a, 16);
        memcpy(d + n - 16, b, 16);
    } else if (n >= 8 && n < 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n < 8) {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
}

/* ---- Modules -------------------------------------------------------------------- */
typedef struct {
    size_t max_bytes;   /* module size cap; 0 = 16 MiB */
    uint32_t max_pages; /* linear memory cap in 64 KiB pages; 0 = 256 (16 MiB) */
    uint64_t fuel; /* fuel units per call (function entries + loop iterations); 0 = unlimited */
    uint64_t deadline_ns; /* wall-clock limit per call; 0 = 100 ms */
    int tier1;           /* 1: build tier 1 in the background (default), 0: never, 2: wait for it */
    int explicit_bounds; /* 1: bounds checks in code instead of guard pages (benchmarking) */
    int no_fuel;         /* 1: no fuel/deadline instrumentation at all (benchmarking) */
    const char *cache_dir; /* compiled-artifact cache; NULL = $KILN_WASM_CACHE or no cache */
} kiln_wasm_limits;

typedef struct kiln_wasm_module kiln_wasm_module;
typedef struct kiln_wasm_export kiln_wasm_export;
typedef struct kiln_wasm_instance kiln_wasm_instance;

/* Checks, translates and compiles. Returns a module (refcount 1) or NULL. bytes are
 * copied. limits may be NULL for defaults. */
kiln_wasm_module *kiln_wasm_load(const uint8_t *bytes, size_t len, const kiln_wasm_limits *limits,
                                 kiln_wasm_error *err);
/* Drops the caller's reference; the module dies with its last instance. */
void kiln_wasm_module_free(kiln_wasm_module *m);
/* 0 or 1: the tier currently used by new calls. */
int kiln_wasm_module_tier(const kiln_wasm_module *m);
/* Blocks until the background tier-1 build finished (or failed); returns the tier. */
int kiln_wasm_module_wait_tier1(kiln_wasm_module *m);
/* SHA-256 of the module bytes as 64 hex chars + NUL. */
const char *kiln_wasm_module_hash(const kiln_wasm_module *m);

size_t kiln_wasm_export_count(const kiln_wasm_module *m);
/* Function exports only. Borrowed, valid while the module lives. */
const kiln_wasm_export *kiln_wasm_export_at(const kiln_wasm_module *m, size_t i);
const kiln_wasm_export *kiln_wasm_export_find(const kiln_wasm_module *m, const char *name);
const char *kiln_wasm_export_name(const kiln_wasm_export *ex);
const kiln_wasm_sig *kiln_wasm_export_sig(const kiln_wasm_export *ex);

/* ---- Instances ------------------------------------------------------------------
 * acquire takes an instance from the calling thread's pool for m (or instantiates
 * one, running the start function). release returns it: a trapped instance is
 * discarded; otherwise memory and globals are restored before the next acquire. */
kiln_wasm_instance *kiln_wasm_acquire(kiln_wasm_module *m, kiln_wasm_error *err);
void kiln_wasm_release(kiln_wasm_instance *in);
void kiln_wasm_set_user(kiln_wasm_instance *in, void *user);
/* Overrides the module's per-call fuel/deadline for this instance (0 keeps the default). */
void kiln_wasm_set_budget(kiln_wasm_instance *in, uint64_t fuel, uint64_t deadline_ns);

/* Calls ex (which must belong to the instance's module) with args (nparams values),
 * writing nresults values. Returns 0 or KILN_WASM_ETRAP with *trap filled. */
int kiln_wasm_call(kiln_wasm_instance *in, const kiln_wasm_export *ex, const kiln_wasm_val *args,
                   kiln_wasm_val *results, kiln_wasm_trap *trap);

/* Calls ex n times under one trap guard (the per-document loop of a query):
 * call i reads args[i * nparams ...] and writes results[i * nresults ...]. The
 * fuel/deadline budget covers the whole batch. Stops at the first trap; *done (if
 * not NULL) is the number of calls that completed. Returns 0 or KILN_WASM_ETRAP. */
int kiln_wasm_call_many(kiln_wasm_instance *in, const kiln_wasm_export *ex,
                        const kiln_wasm_val *args, kiln_wasm_val *results, size_t n, size_t *done,
                        kiln_wasm_trap *trap);

/* Bytes the engine writes into guest memory before each call of a batch (a UDF's bound
 * field): call k gets ptr[k] (at most cap bytes at dst) and its full length as an i32 at
 * len_at, or -1 there when ptr[k] is NULL. Ranges are checked once per batch. */
typedef struct {
    uint32_t dst, cap, len_at;
    const char *const *ptr; /* [n], indexed by the call's position in the batch */
    const size_t *len;      /* [n] */
} kiln_wasm_input;

/* Writes inputs[j].ptr[0] (each input's first value) into the instance's memory now, for a
 * single kiln_wasm_call. Returns 0, or -1 (nothing written) if a range is outside memory. */
int kiln_wasm_put_inputs(kiln_wasm_instance *in, const kiln_wasm_input *inputs, size_t ninputs);

/* Calls ex n times under one trap guard with the same args, for a query's per-document
 * loop: before call k the engine stores first + k in *cursor (the host functions read it to
 * find that call's document; a store, not a callback, so the loop costs nothing per call)
 * and writes the ninputs inputs of call k. Every call gets the full per-call fuel/deadline
 * budget. results[k * nresults ...] receives call k's results. Stops at the first trap:
 * *done (if not NULL) is the number of calls that completed (the trapped call is *done);
 * returns KILN_WASM_ETRAP. Returns 0 when no call trapped, with *done < n when a host
 * function ended the batch early (kiln_wasm_ctx_end_batch). */
int kiln_wasm_call_each(kiln_wasm_instance *in, const kiln_wasm_export *ex,
                        const kiln_wasm_val *args, kiln_wasm_val *results, size_t first, size_t n,
                        size_t *cursor, const kiln_wasm_input *inputs, size_t ninputs,
                        size_t *done, kiln_wasm_trap *trap);

/* Removes the work dirs that processes which died mid-build (SIGKILL, power loss) left in
 * <cache_dir>/tmp; dirs of live processes are kept. Call when opening a cache dir. */
void kiln_wasm_cache_sweep(const char *cache_dir);

/* Frees every pooled instance of the calling thread (worker shutdown). Instances
 * pools of exited threads are also freed by a thread-exit destructor. */
void kiln_wasm_thread_cleanup(void);

/* Statistics for tests: live reserved linear-memory bytes and live instances. */
uint64_t kiln_wasm_stat_reserved_bytes(void);
uint64_t kiln_wasm_stat_live_instances(void);

#ifdef __cplusplus
}
#endif
#endif
