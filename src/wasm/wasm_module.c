/* Modules (load, tiers, exports), instances (instantiate, reset, per-thread pools)
 * and the call path. */
#include "wasm_rt_int.h"
#include "wasm_xlate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POOL_MAX_FREE 16
static _Atomic uint64_t live_instances;
bool kiln__keep_failed_instances;
int kiln__t0_translator;

const char *kiln__module_t0_translator(const kiln_wasm_module *m)
{
    return m->t0_by;
}

/* Where work dirs go: inside the cache when there is one, so what a killed process
 * leaves is swept at the next start (kiln_wasm_cache_sweep). */
static void work_base(const kiln_wasm_module *m, char *base, size_t cap)
{
    base[0] = 0;
    if (m->lim.cache_dir) {
        snprintf(base, cap, "%s/tmp", m->lim.cache_dir);
        if (mkdir(base, 0700) != 0 && errno != EEXIST) base[0] = 0;
    }
}

/* Tier 1 may replace tier 0's code under live instances only if both compiled the same
 * instance layout (Kiln's translator mirrors wasm2c's; this is the proof per module). */
static bool same_layout(const kiln__module_desc *a, const kiln__module_desc *b)
{
    return a->instance_size == b->instance_size && a->nlayout == b->nlayout &&
           (a->nlayout == 0 || memcmp(a->layout, b->layout, a->nlayout * sizeof *a->layout) == 0);
}

uint64_t kiln_wasm_stat_live_instances(void)
{
    return atomic_load(&live_instances);
}

static void module_unref(kiln_wasm_module *m);

/* ---- modules ---- */
static void limits_fill(kiln_wasm_limits *l, const kiln_wasm_limits *in)
{
    memset(l, 0, sizeof *l);
    if (in) *l = *in;
    if (!l->max_bytes) l->max_bytes = 16u << 20;
    if (!l->max_pages) l->max_pages = 256;
    if (l->max_pages > 65535) l->max_pages = 65535;
    if (!l->deadline_ns) l->deadline_ns = 100000000ull;
    if (!l->cache_dir) {
        const char *e = getenv("KILN_WASM_CACHE");
        l->cache_dir = e && *e ? e : NULL;
    }
}

static int build_exports(kiln_wasm_module *m, const kiln__code *c, kiln_wasm_error *err)
{
    const kiln__module_desc *d = c->desc;
    m->exports = calloc(d->nexports ? d->nexports : 1, sizeof *m->exports);
    if (!m->exports) {
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        return KILN_WASM_ENOMEM;
    }
    for (uint32_t k = 0; k < d->nexports; k++) {
        const kiln__export_info *ei = &m->info.exports[d->export_index[k]];
        kiln_wasm_export *ex = &m->exports[k];
        ex->m = m;
        ex->name = ei->name;
        ex->func_name = m->info.func_names ? m->info.func_names[ei->index] : NULL;
        ex->sig = m->info.types[m->info.func_types[ei->index]];
        ex->slot = k;
        atomic_init(&ex->tramp, d->tramps[k]);
    }
    m->nexports = d->nexports;
    return 0;
}

static kiln__gen_opts gen_opts(const kiln_wasm_module *m)
{
    kiln__gen_opts o = {.explicit_bounds = m->lim.explicit_bounds != 0,
                        .no_fuel = m->lim.no_fuel != 0};
    return o;
}

/* Work dirs of tier-1 builds in flight: removed at exit if the process ends
 * before a build does (the build's child then fails on its own). */
typedef struct wd_node {
    struct wd_node *next;
    char path[];
} wd_node;
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static wd_node *wd_list;
static pthread_once_t wd_once = PTHREAD_ONCE_INIT;

static void wd_atexit(void)
{
    pthread_mutex_lock(&wd_mu);
    for (wd_node *n = wd_list; n; n = n->next)
        kiln__rmtree(n->path);
    pthread_mutex_unlock(&wd_mu);
}
static void wd_init(void)
{
    atexit(wd_atexit);
}

static void wd_add(const char *path)
{
    pthread_once(&wd_once, wd_init);
    size_t l = strlen(path) + 1;
    wd_node *n = malloc(sizeof *n + l);
    if (!n) return;
    memcpy(n->path, path, l);
    pthread_mutex_lock(&wd_mu);
    n->next = wd_list;
    wd_list = n;
    pthread_mutex_unlock(&wd_mu);
}

static void wd_remove(const char *path)
{
    pthread_mutex_lock(&wd_mu);
    for (wd_node **pp = &wd_list; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->path, path)) {
            wd_node *n = *pp;
            *pp = n->next;
            free(n);
            break;
        }
    pthread_mutex_unlock(&wd_mu);
}

/* Background tier-1 build: compile, dlopen, swap every export's trampoline. */
static void *tier1_main(void *arg)
{
    kiln_wasm_module *m = arg;
    kiln_wasm_error err = {0};
    kiln__gen_opts o = gen_opts(m);
    kiln__code *c = NULL;
    char so[4200], base[4200];
    if (!m->workdir) { /* tier 0 came from Kiln's translator: wasm2c runs only now */
        work_base(m, base, sizeof base);
        if (kiln__translate(&m->info, &o, base, &m->workdir, &err) == 0) wd_add(m->workdir);
    }
    snprintf(so, sizeof so, "%s/t1.so", m->workdir ? m->workdir : "");
    if (m->workdir && kiln__compile(m->workdir, 1, &o, &err) == 0 &&
        kiln__code_open(so, &m->info, 1, &c, &err) == 0) {
        if (c->desc->nexports != m->nexports) {
            kiln__code_close(c);
            c = NULL;
            snprintf(err.msg, sizeof err.msg, "tier 1 exports differ from tier 0");
        } else if (m->code[0] && !same_layout(m->code[0]->desc, c->desc)) {
            const kiln__module_desc *d0 = m->code[0]->desc;
            bool abi = d0->nlayout && d0->layout[d0->nlayout - 1] == UINT32_MAX;
            kiln__code_close(c);
            c = NULL;
            snprintf(err.msg, sizeof err.msg, "%s",
                     abi ? "staying on tier 0: tcc returns this module's multi-value results "
                           "differently from cc"
                         : "tier 1 instance layout differs from tier 0");
        }
    }
    pthread_mutex_lock(&m->mu);
    if (c) {
        m->code[1] = c;
        for (size_t k = 0; k < m->nexports; k++)
            atomic_store_explicit(&m->exports[k].tramp, c->desc->tramps[k], memory_order_release);
        atomic_store_explicit(&m->tier, 1, memory_order_release);
    } else {
        snprintf(m->t1_error, sizeof m->t1_error, "%s", err.msg);
    }
    pthread_mutex_unlock(&m->mu);
    if (c && m->lim.cache_dir) {
        char path[4200];
        if (kiln__cache_path(m->lim.cache_dir, m->hash, &o, path, sizeof path) == 0)
            kiln__cache_store(so, path);
    }
    if (m->workdir) {
        kiln__rmtree(m->workdir);
        wd_remove(m->workdir);
    }
    pthread_mutex_lock(&m->mu);
    m->t1_done = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    module_unref(m);
    return NULL;
}

static void module_destroy(kiln_wasm_module *m)
{
    kiln__code_close(m->code[0]);
    kiln__code_close(m->code[1]);
    if (m->workdir && !m->t1_started) kiln__rmtree(m->workdir);
    free(m->workdir);
    free(m->cache_dir);
    free(m->exports);
    kiln__modinfo_dispose(&m->info);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

static void module_unref(kiln_wasm_module *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) module_destroy(m);
}

kiln_wasm_module *kiln__load_ex(const uint8_t *bytes, size_t len, const kiln_wasm_limits *limits,
                                const kiln__check_limits *cl, const kiln__resolver *res,
                                kiln_wasm_error *err)
{
    kiln_wasm_module *m = calloc(1, sizeof *m);
    kiln__check_limits chk;
    char path[4200];
    if (!m) {
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        return NULL;
    }
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    limits_fill(&m->lim, limits);
    /* our own copy: the background tier-1 build may outlive the caller's string */
    if (m->lim.cache_dir && !(m->lim.cache_dir = m->cache_dir = strdup(m->lim.cache_dir))) {
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        goto fail;
    }
    m->resolver = res;
    if (!bytes || len > m->lim.max_bytes) {
        kiln__werr(err, KILN_WASM_EREJECT, NULL, -1, -1,
                   "module of %zu bytes exceeds the limit of %zu bytes", len, m->lim.max_bytes);
        goto fail;
    }
    if (cl) {
        chk = *cl;
    } else {
        kiln__check_limits_default(&chk);
        chk.max_pages = m->lim.max_pages;
    }
    if (kiln__check(bytes, len, &chk, &m->info, err)) goto fail;
    kiln__sha256_hex(bytes, len, m->hash);
    kiln__gen_opts o = gen_opts(m);
    /* A cached tier-1 artifact makes a restart free of compilation. */
    if (m->lim.cache_dir &&
        kiln__cache_path(m->lim.cache_dir, m->hash, &o, path, sizeof path) == 0 &&
        kiln__cache_check(path) == 0) {
        kiln_wasm_error e2;
        if (kiln__code_open(path, &m->info, 1, &m->code[1], &e2) == 0) {
            atomic_init(&m->tier, 1);
            m->t1_done = true;
            if (build_exports(m, m->code[1], err)) goto fail;
            return m;
        }
        unlink(path);
    }
    char base[4200];
    work_base(m, base, sizeof base);
    int first_tier = m->lim.tier1 == 2 ? 1 : 0;
    bool own = false;
    if (first_tier == 0 && kiln__t0_translator == 0) {
        int rc =
            kiln__translate_own(&m->info, &o, base, &m->workdir, m->t0_why, sizeof m->t0_why, err);
        if (rc != 0 && rc != KILN__XL_UNSUPPORTED) goto fail; /* invalid module */
        own = rc == 0;
    }
    if (own && kiln__compile_own(m->workdir, &o, err)) {
        /* tcc refused Kiln's C (a translator bug or a resource limit): wasm2c's C next */
        snprintf(m->t0_why, sizeof m->t0_why, "tcc on Kiln's C: %.100s", err ? err->msg : "");
        kiln__rmtree(m->workdir);
        free(m->workdir);
        m->workdir = NULL;
        own = false;
    } else if (own) {
        goto compiled;
    }
    if (!own && kiln__translate(&m->info, &o, base, &m->workdir, err)) goto fail;
    if (kiln__compile(m->workdir, first_tier, &o, err)) goto fail;
compiled:
    snprintf(path, sizeof path, "%s/t%d.so", m->workdir, first_tier);
    if (kiln__code_open(path, &m->info, first_tier, &m->code[first_tier], err)) goto fail;
    if (first_tier == 0) m->t0_by = own ? "kiln" : "wasm2c";
    if (own) { /* the tier-1 thread runs wasm2c in a dir of its own */
        kiln__rmtree(m->workdir);
        free(m->workdir);
        m->workdir = NULL;
    }
    atomic_init(&m->tier, first_tier);
    if (build_exports(m, m->code[first_tier], err)) goto fail;
    if (first_tier == 1) {
        if (m->lim.cache_dir) {
            char cpath[4200];
            if (kiln__cache_path(m->lim.cache_dir, m->hash, &o, cpath, sizeof cpath) == 0)
                kiln__cache_store(path, cpath);
        }
        m->t1_done = true;
    } else if (m->lim.tier1 != 0) {
        atomic_fetch_add(&m->refs, 1);
        m->t1_started = true;
        if (m->workdir) wd_add(m->workdir);
        if (pthread_create(&m->t1_thread, NULL, tier1_main, m) != 0) {
            m->t1_started = false;
            m->t1_done = true;
            if (m->workdir) wd_remove(m->workdir);
            atomic_fetch_sub(&m->refs, 1);
        } else {
            pthread_detach(m->t1_thread);
        }
    } else {
        m->t1_done = true;
    }
    if (!m->t1_started && m->workdir) {
        kiln__rmtree(m->workdir);
        free(m->workdir);
        m->workdir = NULL;
    }
    return m;
fail:
    module_destroy(m);
    return NULL;
}

kiln_wasm_module *kiln_wasm_load(const uint8_t *bytes, size_t len, const kiln_wasm_limits *limits,
                                 kiln_wasm_error *err)
{
    return kiln__load_ex(bytes, len, limits, NULL, NULL, err);
}

void kiln_wasm_module_free(kiln_wasm_module *m)
{
    if (!m) return;
    atomic_store(&m->dead, true);
    module_unref(m);
}

int kiln_wasm_module_tier(const kiln_wasm_module *m)
{
    return atomic_load_explicit(&m->tier, memory_order_acquire);
}

int kiln_wasm_module_wait_tier1(kiln_wasm_module *m)
{
    pthread_mutex_lock(&m->mu);
    while (!m->t1_done)
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    return kiln_wasm_module_tier(m);
}

const char *kiln_wasm_module_hash(const kiln_wasm_module *m)
{
    return m->hash;
}
size_t kiln_wasm_export_count(const kiln_wasm_module *m)
{
    return m->nexports;
}
const kiln_wasm_export *kiln_wasm_export_at(const kiln_wasm_module *m, size_t i)
{
    return i < m->nexports ? &m->exports[i] : NULL;
}
const kiln_wasm_export *kiln_wasm_export_find(const kiln_wasm_module *m, const char *name)
{
    for (size_t i = 0; i < m->nexports; i++)
        if (strcmp(m->exports[i].name, name) == 0) return &m->exports[i];
    return NULL;
}
const char *kiln_wasm_export_name(const kiln_wasm_export *ex)
{
    return ex->name;
}
const kiln_wasm_sig *kiln_wasm_export_sig(const kiln_wasm_export *ex)
{
    return &ex->sig;
}
const kiln__modinfo *kiln__module_info(const kiln_wasm_module *m)
{
    return &m->info;
}

/* ---- host context ---- */
/* kiln_wasm.h reads the start of the context inline: keep both layouts in step. */
_Static_assert(offsetof(struct kiln_wasm_ctx, head.self) == offsetof(kiln_wasm_ctx_view, self),
               "ctx view");
_Static_assert(offsetof(struct kiln_wasm_ctx, head.failed) == offsetof(kiln_wasm_ctx_view, failed),
               "ctx view");
_Static_assert(offsetof(struct kiln_wasm_ctx, user) == offsetof(kiln_wasm_ctx_view, user),
               "ctx view");
_Static_assert(offsetof(struct kiln_wasm_ctx, mem) == offsetof(kiln_wasm_ctx_view, mem),
               "ctx view");
_Static_assert(offsetof(wasm_rt_memory_t, data) == offsetof(kiln_wasm_memory_view, data) &&
                   offsetof(wasm_rt_memory_t, size) == offsetof(kiln_wasm_memory_view, size) &&
                   sizeof(((wasm_rt_memory_t *)0)->size) == sizeof(uint32_t),
               "memory view");

void kiln_wasm_ctx_fail(kiln_wasm_ctx *ctx, const char *msg)
{
    ctx->head.failed = 1;
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg ? msg : "host function failed");
}

void kiln_wasm_ctx_end_batch(kiln_wasm_ctx *ctx)
{
    ctx->end_batch = 1;
}

/* ---- instances ---- */
/* Splits the per-call fuel into the first slice and the rest, once per budget
 * change rather than per call. */
static void budget_set(kiln_wasm_instance *in, uint64_t fuel, uint64_t deadline_ns)
{
    in->fuel = fuel;
    in->deadline_ns = deadline_ns;
    uint64_t f = fuel ? fuel : UINT64_MAX;
    in->slice0 = f < KILN__FUEL_SLICE ? f : KILN__FUEL_SLICE;
    in->left0 = f - in->slice0;
}

/* The per-call part of a budget: fuel, deadline, host failure flag. */
static inline void budget_reset(kiln_wasm_instance *in)
{
    in->tick.fuel = (int64_t)in->slice0;
    in->fuel_left = in->left0;
    in->deadline_at = 0;
    in->ctx.head.failed = 0;
}

/* A new budget for calls made from the frame at sp: guest frames may use at most
 * KILN__GUEST_STACK below it (and never the thread's last 256 KiB), so deep recursion traps
 * quickly. */
static inline void budget_start_at(kiln_wasm_instance *in, uintptr_t sp)
{
    budget_reset(in);
    uintptr_t lim = sp > KILN__GUEST_STACK ? sp - KILN__GUEST_STACK : 0;
    in->tick.stack_limit = lim > kiln__t.stack_limit ? lim : kiln__t.stack_limit;
}

static inline void budget_start(kiln_wasm_instance *in)
{
    budget_start_at(in, (uintptr_t)__builtin_frame_address(0));
}

static void trap_fill(kiln_wasm_trap *trap, int code, const kiln_wasm_export *ex,
                      kiln_wasm_instance *in)
{
    if (!trap) return;
    trap->kind = kiln__trap_kind(code);
    trap->export_name = ex ? ex->name : NULL;
    trap->func_name = ex ? ex->func_name : NULL;
    if (trap->kind == KILN_TRAP_HOST)
        snprintf(trap->msg, sizeof trap->msg, "%s", in->ctx.msg);
    else
        snprintf(trap->msg, sizeof trap->msg, "%s%s%s%s%s%s", kiln_wasm_trap_kind_str(trap->kind),
                 ex ? " in export \"" : "", ex ? ex->name : "", ex ? "\"" : "",
                 trap->func_name ? " function " : "", trap->func_name ? trap->func_name : "");
}

void *kiln__instance_w2c(kiln_wasm_instance *in)
{
    return KILN__W2C(in);
}
wasm_rt_memory_t *kiln__instance_memory(kiln_wasm_instance *in)
{
    return in->mem;
}

kiln_wasm_instance *kiln__instantiate(kiln_wasm_module *m, kiln_wasm_trap *trap,
                                      kiln_wasm_error *err)
{
    if (kiln__thread_init()) {
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "cannot set up the thread's signal stack");
        return NULL;
    }
    int tier = kiln_wasm_module_tier(m);
    const kiln__code *code = m->code[tier];
    size_t head = offsetof(kiln_wasm_instance, tick) + sizeof(kiln__tick);
    size_t total = (head + code->desc->instance_size + 63) & ~(size_t)63;
    kiln_wasm_instance *in = aligned_alloc(64, total);
    if (!in) {
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        return NULL;
    }
    memset(in, 0, total);
    in->m = m;
    in->code = code;
    in->ctx.in = in;
    in->ctx.head.self = &in->ctx;
    in->ctx.resolver = m->resolver;
    in->max_pages = m->lim.max_pages;
    in->explicit_bounds = m->lim.explicit_bounds != 0;
    budget_set(in, m->lim.fuel, m->lim.deadline_ns);
    atomic_fetch_add(&m->refs, 1);
    void *w = KILN__W2C(in);
    kiln__jmpbuf jb;
    kiln__jmpbuf *prev = kiln__t.jmp;
    kiln__inst_rt *prev_cur = kiln__t.cur;
    budget_start(in);
    if (KILN__SETJMP(jb)) {
        kiln__t.jmp = prev;
        kiln__t.cur = prev_cur;
        trap_fill(trap, kiln__t.trap, NULL, in);
        kiln__werr(err, KILN_WASM_ETRAP, NULL, -1, -1, "instantiation trapped: %s",
                   kiln_wasm_trap_kind_str(kiln__trap_kind(kiln__t.trap)));
        if (kiln__keep_failed_instances) return NULL; /* leaked on purpose, see wasm_rt_int.h */
        code->desc->free(w);
        free(in);
        module_unref(m);
        return NULL;
    }
    kiln__t.jmp = &jb;
    kiln__t.cur = in;
    code->desc->instantiate(w, &in->ctx);
    kiln__t.jmp = prev;
    kiln__t.cur = prev_cur;
    in->mem = code->desc->memory(w);
    in->ctx.mem = in->mem;
    atomic_fetch_add(&live_instances, 1);
    return in;
}

void kiln__instance_destroy(kiln_wasm_instance *in)
{
    if (!in) return;
    in->code->desc->free(KILN__W2C(in));
    free(in->snap_struct);
    free(in->snap_mem);
    kiln_wasm_module *m = in->m;
    free(in);
    atomic_fetch_sub(&live_instances, 1);
    module_unref(m);
}

void kiln_wasm_set_user(kiln_wasm_instance *in, void *user)
{
    in->ctx.user = user;
}

void kiln_wasm_set_budget(kiln_wasm_instance *in, uint64_t fuel, uint64_t deadline_ns)
{
    budget_set(in, fuel ? fuel : in->m->lim.fuel,
               deadline_ns ? deadline_ns : in->m->lim.deadline_ns);
}

#ifdef KILN__HAVE_GUARDED_CALL
/* What a single call needs after its guarded call, kept in its frame rather than in
 * callee-saved registers: the fast path then saves and restores none. */
typedef struct {
    kiln__jmpbuf jb;
    kiln__jmpbuf *prev;
    kiln_wasm_instance *in;
    const kiln_wasm_export *ex;
    kiln_wasm_trap *trap;
} call_frame;

static __attribute__((noinline, cold)) int call_trapped(const call_frame *f)
{
    f->in->trapped = true;
    trap_fill(f->trap, kiln__t.trap, f->ex, f->in);
    return KILN_WASM_ETRAP;
}
#endif

int kiln_wasm_call(kiln_wasm_instance *in, const kiln_wasm_export *ex, const kiln_wasm_val *args,
                   kiln_wasm_val *results, kiln_wasm_trap *trap)
{
    if (__builtin_expect(!kiln__t.inited, 0) && kiln__thread_init()) {
        trap_fill(trap, WASM_RT_TRAP_EXHAUSTION, ex, in);
        return KILN_WASM_ETRAP;
    }
    kiln__tramp fn = atomic_load_explicit(&ex->tramp, memory_order_acquire);
#ifdef KILN__HAVE_GUARDED_CALL
    call_frame f; /* jb is filled by kiln__guarded_call: no initializer to zero it */
    f.prev = kiln__t.jmp;
    f.in = in;
    f.ex = ex;
    f.trap = trap;
    budget_start_at(in, (uintptr_t)&f); /* the frame's address stands for the stack pointer */
    in->dirty = true;
    kiln__t.jmp = &f.jb; /* filled by kiln__guarded_call before any guest code runs */
    int trapped = kiln__guarded_call(fn, KILN__W2C(in), args, results, &f.jb);
    kiln__t.jmp = f.prev;
    if (__builtin_expect(trapped, 0)) return call_trapped(&f);
#else
    kiln__jmpbuf jb;
    kiln__jmpbuf *prev = kiln__t.jmp;
    budget_start(in);
    in->dirty = true;
    if (__builtin_expect(KILN__SETJMP(jb) != 0, 0)) {
        kiln__t.jmp = prev;
        in->trapped = true;
        trap_fill(trap, kiln__t.trap, ex, in);
        return KILN_WASM_ETRAP;
    }
    kiln__t.jmp = &jb;
    fn(KILN__W2C(in), (const kiln__val *)args, (kiln__val *)results);
    kiln__t.jmp = prev;
#endif
    return 0;
}

/* Writes call k's inputs into guest memory (ranges checked by inputs_fit). */
static inline void inputs_write(kiln_wasm_instance *in, const kiln_wasm_input *inputs,
                                size_t ninputs, size_t k)
{
    uint8_t *mem = in->mem->data;
    for (size_t j = 0; j < ninputs; j++) {
        const kiln_wasm_input *x = &inputs[j];
        const char *p = x->ptr[k];
        int32_t l32 = -1;
        if (p) {
            size_t l = x->len[k];
            kiln_wasm_copy_small(mem + x->dst, p, l < x->cap ? l : x->cap);
            l32 = l > INT32_MAX ? INT32_MAX : (int32_t)l;
        }
        memcpy(mem + x->len_at, &l32, 4); /* wasm memory is little-endian, as the host */
    }
}

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "guest memory written natively");

/* The calls of a kiln_wasm_call_each batch, out of the setjmp frame so that nothing in the
 * per-call loop lives across the jump; *i counts completed calls (read after a trap). */
static __attribute__((noinline)) size_t each_loop(kiln_wasm_instance *in, kiln__tramp fn,
                                                   const kiln__val *a, kiln__val *r, size_t nr,
                                                   size_t first, size_t n, size_t *cursor,
                                                   const kiln_wasm_input *inputs, size_t ninputs,
                                                   volatile size_t *i)
{
    void *w = KILN__W2C(in);
    size_t k = 0;
    while (k < n) {
        *cursor = first + k;
        budget_reset(in);
        if (ninputs) inputs_write(in, inputs, ninputs, k);
        fn(w, a, r + k * nr);
        *i = ++k;
        if (__builtin_expect(in->ctx.end_batch, 0)) break;
    }
    return k;
}

/* Memory only grows, so ranges inside it at the start of a batch stay inside. */
static bool inputs_fit(const kiln_wasm_instance *in, const kiln_wasm_input *inputs,
                       size_t ninputs)
{
    uint64_t size = in->mem ? in->mem->size : 0;
    for (size_t j = 0; j < ninputs; j++)
        if ((uint64_t)inputs[j].dst + inputs[j].cap > size ||
            (uint64_t)inputs[j].len_at + 4 > size)
            return false;
    return true;
}

int kiln_wasm_put_inputs(kiln_wasm_instance *in, const kiln_wasm_input *inputs, size_t ninputs)
{
    if (!inputs_fit(in, inputs, ninputs)) return -1;
    inputs_write(in, inputs, ninputs, 0);
    return 0;
}

/* The batch loops under one trap guard: call k reads args + k * stride; with a cursor,
 * first + k is stored there and call k's inputs written before call k, and every call gets
 * a fresh budget (else one for the batch). The stack limit is the same for every call of
 * the loop: set once. */
static int call_loop(kiln_wasm_instance *in, const kiln_wasm_export *ex, const kiln_wasm_val *args,
                     size_t stride, kiln_wasm_val *results, size_t first, size_t n,
                     size_t *cursor, const kiln_wasm_input *inputs, size_t ninputs, size_t *done,
                     kiln_wasm_trap *trap)
{
    kiln__tls *t = &kiln__t;
    if (__builtin_expect(!t->inited, 0) && kiln__thread_init()) {
        trap_fill(trap, WASM_RT_TRAP_EXHAUSTION, ex, in);
        return KILN_WASM_ETRAP;
    }
    if (ninputs && !inputs_fit(in, inputs, ninputs)) {
        if (done) *done = 0;
        kiln_wasm_ctx_fail(&in->ctx, "bound input outside the module's memory");
        trap_fill(trap, WASM_RT_TRAP_HOST, ex, in);
        return KILN_WASM_ETRAP;
    }
    kiln__jmpbuf jb;
    kiln__jmpbuf *prev = t->jmp;
    kiln__tramp fn = atomic_load_explicit(&ex->tramp, memory_order_acquire);
    size_t nr = ex->sig.nresults;
    volatile size_t i = 0; /* read after a trap's longjmp */
    budget_start(in);
    in->dirty = true;
    in->ctx.end_batch = 0;
    if (__builtin_expect(KILN__SETJMP(jb) != 0, 0)) {
        t->jmp = prev;
        in->trapped = true;
        if (done) *done = i;
        trap_fill(trap, t->trap, ex, in);
        return KILN_WASM_ETRAP;
    }
    t->jmp = &jb;
    void *w = KILN__W2C(in);
    const kiln__val *a = (const kiln__val *)args;
    kiln__val *r = (kiln__val *)results;
    size_t k = 0;
    if (cursor)
        k = each_loop(in, fn, a, r, nr, first, n, cursor, inputs, ninputs, &i);
    else
        for (; k < n; i = ++k) fn(w, a + k * stride, r + k * nr);
    t->jmp = prev;
    if (done) *done = k;
    return 0;
}

int kiln_wasm_call_many(kiln_wasm_instance *in, const kiln_wasm_export *ex,
                        const kiln_wasm_val *args, kiln_wasm_val *results, size_t n, size_t *done,
                        kiln_wasm_trap *trap)
{
    return call_loop(in, ex, args, ex->sig.nparams, results, 0, n, NULL, NULL, 0, done, trap);
}

int kiln_wasm_call_each(kiln_wasm_instance *in, const kiln_wasm_export *ex,
                        const kiln_wasm_val *args, kiln_wasm_val *results, size_t first, size_t n,
                        size_t *cursor, const kiln_wasm_input *inputs, size_t ninputs,
                        size_t *done, kiln_wasm_trap *trap)
{
    return call_loop(in, ex, args, 0, results, first, n, cursor, inputs, ninputs, done, trap);
}

/* ---- per-thread pools ---- */
typedef struct {
    kiln_wasm_module *m;
    kiln_wasm_instance *free;
    uint32_t nfree;
} pool;

typedef struct {
    pool *v;
    size_t n, cap;
} pool_set;

static pool *pool_find(kiln_wasm_module *m, bool create)
{
    pool_set *ps = kiln__t.pools;
    if (!ps) {
        if (!create || !(ps = calloc(1, sizeof *ps))) return NULL;
        kiln__t.pools = ps;
    }
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].m == m) {
            if (i) { /* move to front: a query touches few modules, the hot one first */
                pool tmp = ps->v[i];
                ps->v[i] = ps->v[0];
                ps->v[0] = tmp;
            }
            return &ps->v[0];
        }
    if (!create) return NULL;
    /* Drop pools of modules their owner freed before adding a new one. */
    for (size_t i = 0; i < ps->n;) {
        if (atomic_load(&ps->v[i].m->dead)) {
            for (kiln_wasm_instance *in = ps->v[i].free, *nx; in; in = nx) {
                nx = in->next;
                kiln__instance_destroy(in);
            }
            module_unref(ps->v[i].m);
            ps->v[i] = ps->v[--ps->n];
        } else {
            i++;
        }
    }
    if (ps->n == ps->cap) {
        size_t nc = ps->cap ? ps->cap * 2 : 8;
        pool *nv = realloc(ps->v, nc * sizeof *nv);
        if (!nv) return NULL;
        ps->v = nv, ps->cap = nc;
    }
    /* The pool holds a reference so its module pointer never dangles. */
    atomic_fetch_add(&m->refs, 1);
    ps->v[ps->n] = (pool){.m = m};
    return &ps->v[ps->n++];
}

static int snapshot(kiln_wasm_instance *in)
{
    size_t sz = in->code->desc->instance_size;
    in->snap_struct = malloc(sz ? sz : 1);
    if (!in->snap_struct) return -1;
    memcpy(in->snap_struct, KILN__W2C(in), sz);
    if (in->mem && !in->m->info.memory_imported) {
        in->snap_pages = in->mem->pages;
        if (in->mem->size) {
            in->snap_mem = malloc(in->mem->size);
            if (!in->snap_mem) return -1;
            memcpy(in->snap_mem, in->mem->data, in->mem->size);
        }
    }
    return 0;
}

kiln_wasm_instance *kiln_wasm_acquire(kiln_wasm_module *m, kiln_wasm_error *err)
{
    pool *p = pool_find(m, false);
    if (__builtin_expect(p && p->free != NULL, 1)) {
        kiln_wasm_instance *in = p->free;
        p->free = in->next;
        p->nfree--;
        in->next = NULL;
        return in;
    }
    kiln_wasm_trap trap;
    kiln_wasm_instance *in = kiln__instantiate(m, &trap, err);
    if (!in) return NULL;
    if (snapshot(in)) {
        kiln__instance_destroy(in);
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        return NULL;
    }
    return in;
}

/* Restores memory and globals to the post-instantiation state. */
static bool reset(kiln_wasm_instance *in)
{
    if (in->m->info.mutates_tables || in->m->info.memory_imported) return false;
    if (in->mem) {
        kiln__memory_shrink(in->mem, in->snap_pages);
        if (in->snap_mem) memcpy(in->mem->data, in->snap_mem, (size_t)in->snap_pages * 65536u);
    }
    memcpy(KILN__W2C(in), in->snap_struct, in->code->desc->instance_size);
    in->dirty = false;
    in->ctx.user = NULL;
    if (in->fuel != in->m->lim.fuel || in->deadline_ns != in->m->lim.deadline_ns)
        budget_set(in, in->m->lim.fuel, in->m->lim.deadline_ns);
    return true;
}

void kiln_wasm_release(kiln_wasm_instance *in)
{
    if (!in) return;
    kiln_wasm_module *m = in->m;
    if (in->trapped || atomic_load(&m->dead) || (in->dirty && !reset(in))) {
        kiln__instance_destroy(in);
        return;
    }
    pool *p = pool_find(m, true);
    if (!p || p->nfree >= POOL_MAX_FREE) {
        kiln__instance_destroy(in);
        return;
    }
    in->next = p->free;
    p->free = in;
    p->nfree++;
}

void kiln_wasm_thread_cleanup(void)
{
    pool_set *ps = kiln__t.pools;
    if (!ps) return;
    kiln__t.pools = NULL;
    for (size_t i = 0; i < ps->n; i++) {
        for (kiln_wasm_instance *in = ps->v[i].free, *nx; in; in = nx) {
            nx = in->next;
            kiln__instance_destroy(in);
        }
        module_unref(ps->v[i].m);
    }
    free(ps->v);
    free(ps);
}
