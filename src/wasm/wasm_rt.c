/* Kiln's implementation of the wasm-rt.h services used by wasm2c output (reached
 * through kiln__rt_api, see kiln_abi.h): thread-local trap state, per-thread
 * alternate signal stacks, guard-page memories with 64-bit size math and a page
 * cap, tables, function types, fuel slow path. Nothing here calls abort(). */
#include "wasm_rt_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE_WASM 65536ull
/* 4 GiB addressable + 4 GiB for the largest static offset + one page of slack for
 * an 8-byte access at the very end: every address the generated code can form
 * lands inside the reservation when bounds are checked by guard pages. */
#define GUARD_RESERVATION ((8ull << 30) + PAGE_SIZE_WASM)
#define HDR 4096ull /* one RW page in front of the data holds the mapping length */
#define TABLE_CAP 10000000u

__thread kiln__tls kiln__t;

static _Atomic uint64_t reserved_bytes;
static pthread_once_t sig_once = PTHREAD_ONCE_INIT;
static struct sigaction old_segv, old_bus;
static pthread_key_t tls_key;

uint64_t kiln_wasm_stat_reserved_bytes(void)
{
    return atomic_load(&reserved_bytes);
}

/* ---- traps ---- */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* rbx rbp r12 r13 r14 r15, then the caller's rsp and return address. */
__asm__(
    ".text\n"
    ".globl kiln__setjmp\n.type kiln__setjmp,@function\nkiln__setjmp:\n"
    "  movq %rbx, 0(%rdi)\n  movq %rbp, 8(%rdi)\n  movq %r12, 16(%rdi)\n  movq %r13, 24(%rdi)\n"
    "  movq %r14, 32(%rdi)\n  movq %r15, 40(%rdi)\n  leaq 8(%rsp), %rdx\n  movq %rdx, 48(%rdi)\n"
    "  movq (%rsp), %rdx\n  movq %rdx, 56(%rdi)\n  xorl %eax, %eax\n  ret\n"
    ".size kiln__setjmp, .-kiln__setjmp\n"
    ".globl kiln__longjmp\n.type kiln__longjmp,@function\nkiln__longjmp:\n"
    "  movq 0(%rdi), %rbx\n  movq 8(%rdi), %rbp\n  movq 16(%rdi), %r12\n  movq 24(%rdi), %r13\n"
    "  movq 32(%rdi), %r14\n  movq 40(%rdi), %r15\n  movq 48(%rdi), %rsp\n  movl %esi, %eax\n"
    "  testl %eax, %eax\n  jnz 1f\n  incl %eax\n1:\n  jmpq *56(%rdi)\n"
    ".size kiln__longjmp, .-kiln__longjmp\n"
    /* kiln__guarded_call(fn, w, args, results, jb): setjmp(jb) and fn(w, args, results) in one
     * frame, returning 0, or the value a kiln__longjmp(jb, v) from inside fn gives. As a plain
     * call (not returns_twice) it spares its caller the spills a setjmp point forces. */
    ".globl kiln__guarded_call\n.type kiln__guarded_call,@function\nkiln__guarded_call:\n"
    "  movq %rbx, 0(%r8)\n  movq %rbp, 8(%r8)\n  movq %r12, 16(%r8)\n  movq %r13, 24(%r8)\n"
    "  movq %r14, 32(%r8)\n  movq %r15, 40(%r8)\n  leaq 8(%rsp), %rax\n  movq %rax, 48(%r8)\n"
    "  movq (%rsp), %rax\n  movq %rax, 56(%r8)\n  movq %rdi, %rax\n  movq %rsi, %rdi\n"
    "  movq %rdx, %rsi\n  movq %rcx, %rdx\n  subq $8, %rsp\n  callq *%rax\n  addq $8, %rsp\n"
    "  xorl %eax, %eax\n  ret\n"
    ".size kiln__guarded_call, .-kiln__guarded_call\n");
#endif

__attribute__((noreturn)) void kiln__trap(int code)
{
    kiln__t.trap = code;
    if (kiln__t.jmp) KILN__LONGJMP(kiln__t.jmp, 1);
    /* A trap outside a guarded call is an engine bug; die loudly but without abort()
     * so no core of guest data is written by default. */
    static const char msg[] = "kiln-wasm: trap outside a guarded call\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(70);
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
    if (!kiln__t.jmp) {
        /* Not ours: restore the previous disposition and return, so the fault repeats
         * and is handled (or kills the process) as if we were not installed. */
        sigaction(SIGSEGV, &old_segv, NULL);
        sigaction(SIGBUS, &old_bus, NULL);
        return;
    }
    uintptr_t a = (uintptr_t)si->si_addr;
    int code = WASM_RT_TRAP_OOB;
    if (kiln__t.stack_lo && a < kiln__t.stack_lo + 65536 && a + (1u << 20) > kiln__t.stack_lo)
        code = WASM_RT_TRAP_EXHAUSTION;
    (void)sig, (void)uctx;
    kiln__trap(code);
}

static void tls_destroy(void *p)
{
    (void)p;
    kiln_wasm_thread_cleanup();
    if (kiln__t.altstack) {
        stack_t ss = {.ss_flags = SS_DISABLE};
        sigaltstack(&ss, NULL);
        munmap(kiln__t.altstack, KILN__ALTSTACK_SIZE);
        kiln__t.altstack = NULL;
    }
}

static void sig_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    /* SA_NODEFER: we leave the handler with siglongjmp from a plain _setjmp point
     * (no mask save, no syscall per call), so the signal must not stay blocked. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    pthread_key_create(&tls_key, tls_destroy);
}

/* Per-thread setup, once per thread: alternate signal stack (so a stack overflow
 * can still be handled), stack bounds for the instrumented stack check. */
int kiln__thread_init(void)
{
    pthread_once(&sig_once, sig_install);
    if (kiln__t.inited) return 0;
    pthread_attr_t attr;
    void *lo = NULL;
    size_t sz = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lo, &sz);
        pthread_attr_destroy(&attr);
    }
    if (!lo) {
        /* Unknown bounds: assume 256 KiB below the current frame. */
        lo = (char *)__builtin_frame_address(0) - (256 << 10);
    }
    kiln__t.stack_lo = (uintptr_t)lo;
    /* Host functions, libc and the signal handler need room below guest frames. */
    kiln__t.stack_limit = (uintptr_t)lo + (sz > (1u << 20) ? (256u << 10) : sz / 4);
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        void *st = mmap(NULL, KILN__ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (st == MAP_FAILED) return -1;
        stack_t ss = {.ss_sp = st, .ss_size = KILN__ALTSTACK_SIZE, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) != 0) {
            munmap(st, KILN__ALTSTACK_SIZE);
            return -1;
        }
        kiln__t.altstack = st;
    }
    pthread_setspecific(tls_key, (void *)1);
    kiln__t.inited = true;
    return 0;
}

/* ---- memories ---- */
static void rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial, uint32_t max)
{
    kiln__inst_rt *cur = kiln__t.cur;
    uint64_t cap = cur ? cur->max_pages : 256;
    bool explicit_bounds = cur ? cur->explicit_bounds : false;
    memset(m, 0, sizeof *m);
    if (cap > 65535) cap = 65535; /* keeps size (a uint32_t in wasm-rt.h) from wrapping at 4 GiB */
    if (initial > cap) kiln__trap(WASM_RT_TRAP_MEMORY_LIMIT);
    uint64_t eff_max = max < cap ? max : cap;
    uint64_t len = HDR + (explicit_bounds ? eff_max * PAGE_SIZE_WASM : GUARD_RESERVATION);
    void *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) kiln__trap(WASM_RT_TRAP_MEMORY_LIMIT);
    uint64_t bytes = (uint64_t)initial * PAGE_SIZE_WASM;
    if (mprotect(base, HDR + bytes, PROT_READ | PROT_WRITE) != 0) {
        munmap(base, len);
        kiln__trap(WASM_RT_TRAP_MEMORY_LIMIT);
    }
    *(uint64_t *)base = len;
    atomic_fetch_add(&reserved_bytes, len);
    m->data = (uint8_t *)base + HDR;
    m->pages = initial;
    m->max_pages = (uint32_t)eff_max;
    m->size = (uint32_t)bytes;
}

static uint32_t rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta)
{
    uint64_t old = m->pages, want = old + (uint64_t)delta;
    if (want > m->max_pages || !m->data) return UINT32_MAX;
    if (delta) {
        uint64_t from = old * PAGE_SIZE_WASM, to = want * PAGE_SIZE_WASM;
        if (mprotect(m->data + from, to - from, PROT_READ | PROT_WRITE) != 0) return UINT32_MAX;
    }
    m->pages = (uint32_t)want;
    m->size = (uint32_t)(want * PAGE_SIZE_WASM);
    return (uint32_t)old;
}

static void rt_free_memory(wasm_rt_memory_t *m)
{
    if (!m->data) return;
    uint8_t *base = m->data - HDR;
    uint64_t len = *(uint64_t *)base;
    munmap(base, len);
    atomic_fetch_sub(&reserved_bytes, len);
    m->data = NULL;
    m->pages = 0;
    m->size = 0;
}

/* Shrinks m back to `pages` (instance reset): the dropped range is made
 * inaccessible again and its memory returned to the kernel. */
void kiln__memory_shrink(wasm_rt_memory_t *m, uint32_t pages)
{
    if (!m->data || m->pages <= pages) return;
    uint64_t from = (uint64_t)pages * PAGE_SIZE_WASM, to = (uint64_t)m->pages * PAGE_SIZE_WASM;
    madvise(m->data + from, to - from, MADV_DONTNEED);
    mprotect(m->data + from, to - from, PROT_NONE);
}

/* ---- tables ---- */
#define DEFINE_TABLE(kind, elem_t, null)                                                           \
    static void rt_allocate_##kind##_table(wasm_rt_##kind##_table_t *t, uint32_t n, uint32_t max)  \
    {                                                                                              \
        memset(t, 0, sizeof *t);                                                                   \
        if (n > TABLE_CAP) kiln__trap(WASM_RT_TRAP_MEMORY_LIMIT);                                  \
        t->data = calloc(n ? n : 1, sizeof(elem_t));                                               \
        if (!t->data) kiln__trap(WASM_RT_TRAP_MEMORY_LIMIT);                                       \
        t->size = n;                                                                               \
        t->max_size = max;                                                                         \
    }                                                                                              \
    static void rt_free_##kind##_table(wasm_rt_##kind##_table_t *t)                                \
    {                                                                                              \
        free(t->data);                                                                             \
        t->data = NULL;                                                                            \
        t->size = 0;                                                                               \
    }                                                                                              \
    static uint32_t rt_grow_##kind##_table(wasm_rt_##kind##_table_t *t, uint32_t delta,            \
                                           elem_t init)                                            \
    {                                                                                              \
        uint64_t old = t->size, want = old + (uint64_t)delta;                                      \
        if (want > t->max_size || want > TABLE_CAP) return UINT32_MAX;                             \
        if (delta) {                                                                               \
            elem_t *p = realloc(t->data, (size_t)want * sizeof(elem_t));                           \
            if (!p) return UINT32_MAX;                                                             \
            for (uint64_t i = old; i < want; i++)                                                  \
                p[i] = init;                                                                       \
            t->data = p;                                                                           \
        }                                                                                          \
        t->size = (uint32_t)want;                                                                  \
        return (uint32_t)old;                                                                      \
    }
DEFINE_TABLE(funcref, wasm_rt_funcref_t, wasm_rt_funcref_null_value)
DEFINE_TABLE(externref, wasm_rt_externref_t, NULL)

/* ---- function types: one process-wide registry, equal signatures equal ids ---- */
typedef struct {
    uint32_t np, nr;
    int types[KILN_WASM_MAX_PARAMS + KILN_WASM_MAX_RESULTS];
} ftype;
static pthread_mutex_t ft_mu = PTHREAD_MUTEX_INITIALIZER;
static ftype *ft_tab;
static uint32_t ft_n, ft_cap;

static uint32_t rt_register_func_type(uint32_t np, uint32_t nr, const int *types)
{
    uint32_t id = UINT32_MAX;
    if (np > KILN_WASM_MAX_PARAMS || nr > KILN_WASM_MAX_RESULTS) return UINT32_MAX;
    pthread_mutex_lock(&ft_mu);
    for (uint32_t i = 0; i < ft_n; i++)
        if (ft_tab[i].np == np && ft_tab[i].nr == nr &&
            memcmp(ft_tab[i].types, types, (np + nr) * sizeof(int)) == 0) {
            id = i + 1;
            goto out;
        }
    if (ft_n == ft_cap) {
        uint32_t nc = ft_cap ? ft_cap * 2 : 64;
        ftype *p = realloc(ft_tab, nc * sizeof *p);
        if (!p) goto out; /* UINT32_MAX never equals a real id: call_indirect traps */
        ft_tab = p, ft_cap = nc;
    }
    ft_tab[ft_n].np = np, ft_tab[ft_n].nr = nr;
    memcpy(ft_tab[ft_n].types, types, (np + nr) * sizeof(int));
    id = ++ft_n;
out:
    pthread_mutex_unlock(&ft_mu);
    return id;
}

/* ---- fuel and deadline: the slow path of the instrumented counter ---- */
uint64_t kiln__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void rt_fuel_slow(void *instance)
{
    kiln__tick *tk = KILN__TICK(instance);
    kiln__inst_rt *rt = kiln__inst_rt_of(instance);
    /* The tick that went negative consumed one unit of the new slice. */
    if (rt->fuel_left == 0) kiln__trap(WASM_RT_TRAP_FUEL);
    uint64_t slice = rt->fuel_left < KILN__FUEL_SLICE ? rt->fuel_left : KILN__FUEL_SLICE;
    rt->fuel_left -= slice;
    tk->fuel = (int64_t)slice - 1;
    /* The deadline clock starts at the first slice boundary, so a call that ends
     * within one slice never reads the clock (per-call cost stays a few ns). */
    uint64_t now = kiln__now_ns();
    if (rt->deadline_at == 0)
        rt->deadline_at = now + rt->deadline_ns;
    else if (now >= rt->deadline_at)
        kiln__trap(WASM_RT_TRAP_DEADLINE);
}

static void rt_host_check(void *env)
{
    struct kiln_wasm_ctx *c = env;
    if (c->head.failed) kiln__trap(WASM_RT_TRAP_HOST);
}

static void rt_generic_import(void *env, uint32_t idx, const kiln__val *args, kiln__val *results)
{
    struct kiln_wasm_ctx *c = env;
    if (!c->resolver || !c->resolver->call) kiln__trap(WASM_RT_TRAP_UNREACHABLE);
    c->resolver->call(c->resolver, idx, args, results);
}

static void *rt_import_ptr(void *env, uint32_t idx)
{
    struct kiln_wasm_ctx *c = env;
    void *p = c->resolver && c->resolver->ptr ? c->resolver->ptr(c->resolver, idx) : NULL;
    if (!p) kiln__trap(WASM_RT_TRAP_UNREACHABLE);
    return p;
}

const kiln__rt_api kiln__rt_api_table = {
    .abi_version = KILN__ABI_VERSION,
    .trap = kiln__trap,
    .register_func_type = rt_register_func_type,
    .allocate_memory = rt_allocate_memory,
    .grow_memory = rt_grow_memory,
    .free_memory = rt_free_memory,
    .allocate_funcref_table = rt_allocate_funcref_table,
    .free_funcref_table = rt_free_funcref_table,
    .grow_funcref_table = rt_grow_funcref_table,
    .allocate_externref_table = rt_allocate_externref_table,
    .free_externref_table = rt_free_externref_table,
    .grow_externref_table = rt_grow_externref_table,
    .fuel_slow = rt_fuel_slow,
    .generic_import = rt_generic_import,
    .import_ptr = rt_import_ptr,
    .host_check = rt_host_check,
};

kiln_wasm_trap_kind kiln__trap_kind(int code)
{
    switch (code) {
    case WASM_RT_TRAP_OOB:
        return KILN_TRAP_OOB_MEMORY;
    case WASM_RT_TRAP_INT_OVERFLOW:
        return KILN_TRAP_INT_OVERFLOW;
    case WASM_RT_TRAP_DIV_BY_ZERO:
        return KILN_TRAP_DIV_BY_ZERO;
    case WASM_RT_TRAP_INVALID_CONVERSION:
        return KILN_TRAP_INVALID_CONVERSION;
    case WASM_RT_TRAP_UNREACHABLE:
        return KILN_TRAP_UNREACHABLE;
    case WASM_RT_TRAP_CALL_INDIRECT:
        return KILN_TRAP_INDIRECT_CALL_MISMATCH;
    case WASM_RT_TRAP_EXHAUSTION:
        return KILN_TRAP_STACK_EXHAUSTED;
    case WASM_RT_TRAP_OOB_TABLE:
        return KILN_TRAP_OOB_TABLE;
    case WASM_RT_TRAP_UNINIT_ELEM:
        return KILN_TRAP_UNINITIALIZED_ELEMENT;
    case WASM_RT_TRAP_TYPE_MISMATCH:
        return KILN_TRAP_INDIRECT_CALL_MISMATCH;
    case WASM_RT_TRAP_FUEL:
        return KILN_TRAP_FUEL_EXHAUSTED;
    case WASM_RT_TRAP_DEADLINE:
        return KILN_TRAP_DEADLINE;
    case WASM_RT_TRAP_MEMORY_LIMIT:
        return KILN_TRAP_MEMORY_LIMIT;
    case WASM_RT_TRAP_HOST:
        return KILN_TRAP_HOST;
    default:
        return KILN_TRAP_UNREACHABLE;
    }
}

const char *kiln_wasm_trap_kind_str(kiln_wasm_trap_kind kind)
{
    switch (kind) {
    case KILN_TRAP_NONE:
        return "none";
    case KILN_TRAP_UNREACHABLE:
        return "unreachable executed";
    case KILN_TRAP_OOB_MEMORY:
        return "out of bounds memory access";
    case KILN_TRAP_OOB_TABLE:
        return "out of bounds table access";
    case KILN_TRAP_DIV_BY_ZERO:
        return "integer divide by zero";
    case KILN_TRAP_INT_OVERFLOW:
        return "integer overflow";
    case KILN_TRAP_INVALID_CONVERSION:
        return "invalid conversion to integer";
    case KILN_TRAP_INDIRECT_CALL_MISMATCH:
        return "indirect call type mismatch";
    case KILN_TRAP_UNINITIALIZED_ELEMENT:
        return "uninitialized element";
    case KILN_TRAP_STACK_EXHAUSTED:
        return "call stack exhausted";
    case KILN_TRAP_FUEL_EXHAUSTED:
        return "fuel exhausted";
    case KILN_TRAP_DEADLINE:
        return "deadline exceeded";
    case KILN_TRAP_MEMORY_LIMIT:
        return "memory limit reached";
    case KILN_TRAP_HOST:
        return "host function failed";
    }
    return "unknown trap";
}
