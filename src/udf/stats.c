/* Always-on per-UDF statistics at the cost of one increment per call: a session counts its
 * calls and errors and adds them to its thread's counters when it ends (and every 4096 calls);
 * each thread owns its counters (no atomic read-modify-write, no shared cache lines) and a
 * reader sums every thread's. Durations are sampled (one call in 64 is timed), so a trivial
 * UDF does not pay two clock reads per call. */
#include "udf/udf_int.h"
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    _Atomic uint64_t calls, errors, sampled, total_ns, min_ns, max_ns, last_called_ms;
    _Atomic uint64_t hist[64];
} kiln__slot;

typedef struct kiln__thread_stats {
    kiln__slot **slots; /* by stats id; grown by the owner under the global lock */
    _Atomic size_t nslots;
    struct kiln__thread_stats *next;
} kiln__thread_stats;

static pthread_mutex_t kiln__stats_lock = PTHREAD_MUTEX_INITIALIZER;
static kiln__thread_stats *kiln__threads; /* never freed: threads' counters outlive them */
static atomic_uint kiln__next_id;
static __thread kiln__thread_stats *kiln__mine;

uint64_t kiln__udf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned kiln__udf_stats_new_id(void)
{
    return atomic_fetch_add(&kiln__next_id, 1);
}

static kiln__slot *kiln__slot_for(unsigned id)
{
    kiln__thread_stats *t = kiln__mine;
    if (t && id < atomic_load_explicit(&t->nslots, memory_order_relaxed) && t->slots[id])
        return t->slots[id];
    pthread_mutex_lock(&kiln__stats_lock);
    if (!t) {
        t = kiln_xcalloc(1, sizeof *t);
        t->next = kiln__threads;
        kiln__threads = t;
        kiln__mine = t;
    }
    size_t n = atomic_load(&t->nslots);
    if (id >= n) {
        size_t cap = n ? n : 16;
        while (cap <= id) cap *= 2;
        kiln__slot **grown = kiln_xcalloc(cap, sizeof *grown);
        if (n) memcpy(grown, t->slots, n * sizeof *grown);
        /* Readers hold the lock, so swapping the array under it is safe. */
        free(t->slots);
        t->slots = grown;
        atomic_store(&t->nslots, cap);
    }
    if (!t->slots[id]) {
        kiln__slot *s = kiln_xcalloc(1, sizeof *s);
        atomic_store(&s->min_ns, UINT64_MAX);
        t->slots[id] = s;
    }
    kiln__slot *s = t->slots[id];
    pthread_mutex_unlock(&kiln__stats_lock);
    return s;
}

#define KILN__LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define KILN__STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

int kiln__stats_on = 1;

void kiln_udf_stats_enable(int on)
{
    kiln__stats_on = on;
}

void kiln__udf_stats_add(unsigned id, uint64_t calls, uint64_t errors)
{
    if (!kiln__stats_on || (!calls && !errors)) return;
    kiln__slot *s = kiln__slot_for(id);
    KILN__STORE(s->calls, KILN__LOAD(s->calls) + calls);
    KILN__STORE(s->errors, KILN__LOAD(s->errors) + errors);
    KILN__STORE(s->last_called_ms, (uint64_t)kiln_wall_ms());
}

void kiln__udf_stats_sample(unsigned id, uint64_t ns)
{
    if (!kiln__stats_on) return;
    kiln__slot *s = kiln__slot_for(id);
    KILN__STORE(s->sampled, KILN__LOAD(s->sampled) + 1);
    KILN__STORE(s->total_ns, KILN__LOAD(s->total_ns) + ns);
    if (ns < KILN__LOAD(s->min_ns)) KILN__STORE(s->min_ns, ns);
    if (ns > KILN__LOAD(s->max_ns)) KILN__STORE(s->max_ns, ns);
    unsigned b = ns ? 64 - (unsigned)__builtin_clzll(ns) : 0;
    if (b > 63) b = 63;
    KILN__STORE(s->hist[b], KILN__LOAD(s->hist[b]) + 1);
}

void kiln__udf_stats_read(unsigned id, kiln__udf_stats_snapshot *out)
{
    memset(out, 0, sizeof *out);
    out->min_ns = UINT64_MAX;
    pthread_mutex_lock(&kiln__stats_lock);
    for (kiln__thread_stats *t = kiln__threads; t; t = t->next) {
        if (id >= atomic_load(&t->nslots) || !t->slots[id]) continue;
        kiln__slot *s = t->slots[id];
        out->calls += KILN__LOAD(s->calls);
        out->errors += KILN__LOAD(s->errors);
        out->sampled += KILN__LOAD(s->sampled);
        out->total_ns += KILN__LOAD(s->total_ns);
        uint64_t mn = KILN__LOAD(s->min_ns), mx = KILN__LOAD(s->max_ns);
        if (mn < out->min_ns) out->min_ns = mn;
        if (mx > out->max_ns) out->max_ns = mx;
        uint64_t lc = KILN__LOAD(s->last_called_ms);
        if (lc > out->last_called_ms) out->last_called_ms = lc;
        for (int b = 0; b < 64; b++) out->hist[b] += KILN__LOAD(s->hist[b]);
    }
    pthread_mutex_unlock(&kiln__stats_lock);
    if (out->min_ns == UINT64_MAX) out->min_ns = 0;
}
