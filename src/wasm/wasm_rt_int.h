/* Private runtime structures shared by the runtime, the compiler driver and the
 * module/instance code. */
#ifndef KILN_WASM_RT_INT_H
#define KILN_WASM_RT_INT_H

#include "wasm_int.h"

#include <setjmp.h>
#include <sys/resource.h>
#include <wasm-rt.h>

#include "kiln_abi.h"

#define KILN__ALTSTACK_SIZE (64u << 10)
#define KILN__GUEST_STACK (1u << 20) /* stack bytes guest code may use per call */
#define KILN__FUEL_SLICE 10000       /* ticks between deadline checks */

typedef struct kiln__resolver kiln__resolver;
/* Embedder hook for imports without a host-table entry (the spec runner links
 * modules to each other and to "spectest" through it). */
struct kiln__resolver {
    void (*call)(const kiln__resolver *r, uint32_t import_index, const kiln__val *args,
                 kiln__val *results);
    void *(*ptr)(const kiln__resolver *r, uint32_t import_index);
    void *user;
};

/* The Z_env_instance_t every module sees: what host functions get as ctx. */
struct kiln_wasm_ctx {
    kiln__ctx_head head; /* first: read by the generated host-function thunks */
    void *user;          /* head, user and mem: kiln_wasm_ctx_view (kiln_wasm.h) */
    const wasm_rt_memory_t *mem;
    struct kiln_wasm_instance *in;
    const kiln__resolver *resolver;
    int end_batch; /* kiln_wasm_ctx_end_batch(): kiln_wasm_call_each returns after this call */
    char msg[128];
};

typedef struct kiln__code {
    void *dl;
    const kiln__module_desc *desc;
    int tier;
} kiln__code;

struct kiln_wasm_export {
    struct kiln_wasm_module *m;
    const char *name;
    const char *func_name;
    kiln_wasm_sig sig;
    uint32_t slot; /* index in the module descriptor's trampolines */
    _Atomic(kiln__tramp) tramp;
};

struct kiln_wasm_module {
    atomic_int refs;
    atomic_bool dead; /* the owner freed it: pooled instances are dropped */
    kiln__modinfo info;
    kiln_wasm_limits lim; /* lim.cache_dir points at cache_dir (the caller's may not outlive us) */
    char *cache_dir;
    char hash[65];
    char *workdir; /* temp dir with the generated C, kept for the tier-1 build */
    kiln__code *code[2];
    _Atomic int tier;
    struct kiln_wasm_export *exports;
    size_t nexports;
    const kiln__resolver *resolver;
    pthread_t t1_thread;
    bool t1_started, t1_done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char t1_error[256];
    const char *t0_by;   /* "kiln" or "wasm2c" */
    char t0_why[128];    /* why Kiln's translator handed the module to wasm2c */
};

typedef struct kiln_wasm_instance kiln__inst_rt;
struct kiln_wasm_instance {
    struct kiln_wasm_module *m;
    const kiln__code *code;
    struct kiln_wasm_ctx ctx;
    wasm_rt_memory_t *mem;
    void *snap_struct;
    uint8_t *snap_mem;
    uint32_t snap_pages;
    uint32_t max_pages;
    bool explicit_bounds, trapped, dirty;
    uint64_t fuel, deadline_ns; /* per-call budget (fuel 0 = unlimited) */
    uint64_t slice0, left0;     /* fuel split into the first slice and the rest */
    uint64_t fuel_left, deadline_at;
    struct kiln_wasm_instance *next; /* pool free list */
    _Alignas(16) kiln__tick tick;    /* last: the wasm2c instance follows it */
};

#define KILN__W2C(in) ((void *)((char *)&(in)->tick + sizeof(kiln__tick)))
static inline kiln__inst_rt *kiln__inst_rt_of(void *w2c)
{
    return (kiln__inst_rt *)((char *)KILN__TICK(w2c) - __builtin_offsetof(kiln__inst_rt, tick));
}

/* Trap targets. On x86-64 (non-sanitizer builds) a minimal setjmp/longjmp pair
 * saving only the callee-saved registers (wasm_rt.c): it keeps the per-call cost
 * of a guarded call a few ns below glibc's sigsetjmp. Sanitizers must see every
 * longjmp, so they get the libc pair. */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
typedef struct {
    uint64_t regs[8];
} kiln__jmpbuf;
int kiln__setjmp(kiln__jmpbuf *b) __attribute__((returns_twice));
__attribute__((noreturn)) void kiln__longjmp(kiln__jmpbuf *b, int v);
#define KILN__SETJMP(b) kiln__setjmp(&(b))
#define KILN__LONGJMP(b, v) kiln__longjmp((b), (v))
#define KILN__HAVE_GUARDED_CALL 1
int kiln__guarded_call(kiln__tramp fn, void *w, const void *args, void *results, kiln__jmpbuf *jb);
#else
typedef sigjmp_buf kiln__jmpbuf;
#define KILN__SETJMP(b) sigsetjmp((b), 0)
#define KILN__LONGJMP(b, v) siglongjmp(*(b), (v))
#endif

typedef struct {
    kiln__jmpbuf *jmp;  /* current trap target, NULL outside guest code */
    int trap;           /* code of the last trap */
    kiln__inst_rt *cur; /* instance being instantiated (for memory caps) */
    uintptr_t stack_lo; /* lowest address of this thread's stack */
    uintptr_t stack_limit;
    void *altstack;
    bool inited;
    void *pools; /* wasm_module.c: this thread's instance pools */
} kiln__tls;

extern __thread kiln__tls kiln__t;
extern const kiln__rt_api kiln__rt_api_table;

int kiln__thread_init(void);
__attribute__((noreturn)) void kiln__trap(int code);
kiln_wasm_trap_kind kiln__trap_kind(int code);
void kiln__memory_shrink(wasm_rt_memory_t *m, uint32_t pages);
uint64_t kiln__now_ns(void);

/* wasm_compile.c */
typedef struct {
    bool explicit_bounds, no_fuel;
} kiln__gen_opts;
/* Creates a private temp dir, translates mi->stripped with wasm2c in a child, and
 * writes the instrumented k.c there. *dir_out is heap-allocated. */
int kiln__translate(const kiln__modinfo *mi, const kiln__gen_opts *o, const char *base,
                    char **dir_out,
                    kiln_wasm_error *err);
/* Tier 0 through Kiln's own translator into a new private temp dir: 0, KILN__XL_UNSUPPORTED
 * (why says what; use kiln__translate instead) or an error (invalid module). */
int kiln__translate_own(const kiln__modinfo *mi, const kiln__gen_opts *o, const char *base,
                        char **dir_out, char *why, size_t why_cap, kiln_wasm_error *err);
/* Tier-0 translator choice (tests, benchmarks): 0 Kiln's own with fallback to wasm2c,
 * 1 wasm2c only. */
extern int kiln__t0_translator;
/* Which translator produced the module's tier 0: "kiln", "wasm2c", or NULL (none). */
const char *kiln__module_t0_translator(const kiln_wasm_module *m);
/* Compiles dir/k.c for tier 0 (tcc) or 1 (cc -O2) in a child into dir/t<tier>.so. */
int kiln__compile(const char *dir, int tier, const kiln__gen_opts *o, kiln_wasm_error *err);
/* Tier 0 of Kiln's own C (kiln__translate_own): dir/k.c -> dir/t0.so with tcc, in a child. */
int kiln__compile_own(const char *dir, const kiln__gen_opts *o, kiln_wasm_error *err);
/* The limits a compiler child runs under (CPU seconds, address space, file size, no core
 * dump). Inline: it runs in a vforked child, which may only make system calls. */
static inline void kiln__child_limits(uint32_t cpu_s, uint64_t as_bytes, uint64_t fsize_bytes)
{
    struct rlimit r;
    r.rlim_cur = r.rlim_max = cpu_s;
    setrlimit(RLIMIT_CPU, &r);
    r.rlim_cur = r.rlim_max = as_bytes;
    setrlimit(RLIMIT_AS, &r);
    r.rlim_cur = r.rlim_max = fsize_bytes;
    setrlimit(RLIMIT_FSIZE, &r);
    r.rlim_cur = r.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &r);
}

/* wasm_tccd.c: the tier-0 compile server (libtcc in a child per module, see there).
 * 0: dir/t0.so built; -1: rejected (why says: tcc error, signal, CPU limit, timeout);
 * 1: no server (not built in, disabled, or gone): exec tcc instead. */
int kiln__tccd_compile(const char *dir, uint32_t cpu_s, uint64_t as_bytes, uint64_t fsize_bytes,
                       uint32_t timeout_ms, char *why, size_t cap);
bool kiln__tccd_running(void);
int kiln__tccd_pid(void); /* tests: the server's pid, -1 if none */
extern int kiln__tccd_use; /* benchmarks: 0 execs tcc even with a server */
extern _Atomic int64_t kiln__tccd_cpu_ns; /* CPU of compile children and their forks */
int kiln__code_open(const char *so_path, const kiln__modinfo *mi, int tier, kiln__code **out,
                    kiln_wasm_error *err);
void kiln__code_close(kiln__code *c);
void kiln__rmtree(const char *dir);
/* Cache: path of the tier-1 artifact for a module hash, and validation. */
int kiln__cache_path(const char *cache_dir, const char *hash, const kiln__gen_opts *o, char *out,
                     size_t cap);
int kiln__cache_check(const char *path); /* 0 if present and intact */
int kiln__cache_store(const char *src_so, const char *path);

/* wasm_module.c (private, for the spec runner and tests) */
kiln_wasm_module *kiln__load_ex(const uint8_t *bytes, size_t len, const kiln_wasm_limits *limits,
                                const kiln__check_limits *cl, const kiln__resolver *res,
                                kiln_wasm_error *err);
/* Spec runner only: an instance whose instantiation trapped is leaked instead of
 * freed, because tables shared with other modules may already point into it
 * (linking.wast checks exactly that). Kiln's UDFs share no tables. */
extern bool kiln__keep_failed_instances;
kiln_wasm_instance *kiln__instantiate(kiln_wasm_module *m, kiln_wasm_trap *trap,
                                      kiln_wasm_error *err);
void kiln__instance_destroy(kiln_wasm_instance *in);
const kiln__modinfo *kiln__module_info(const kiln_wasm_module *m);
void *kiln__instance_w2c(kiln_wasm_instance *in);
wasm_rt_memory_t *kiln__instance_memory(kiln_wasm_instance *in);

#endif
