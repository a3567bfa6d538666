/* The worker pool: every task runs exactly once, batches complete while every worker is busy
 * (the caller runs its own tasks), nested batches and concurrent callers do not deadlock. Runs
 * under TSan too (label tsan). A deadlock shows as the test's timeout. */
#include "core/workers.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct {
    atomic_int *hits;
} counts;

static void count_task(void *ctx, size_t i)
{
    counts *c = ctx;
    atomic_fetch_add(&c->hits[i], 1);
}

static void test_each_task_once(void)
{
    kiln_workers *w = kiln_workers_new(3);
    CHECK_INT(kiln_workers_count(w), 3);
    enum { N = 1000 };
    static atomic_int hits[N];
    counts c = {hits};
    for (int round = 0; round < 20; round++) kiln_workers_run(w, count_task, &c, N);
    int bad = 0;
    for (int i = 0; i < N; i++) bad += atomic_load(&hits[i]) != 20;
    CHECK_INT(bad, 0);
    kiln_workers_run(w, count_task, &c, 0); /* empty batch */
    kiln_workers_free(w);
    kiln_workers_run(NULL, count_task, &c, 3); /* no pool: inline */
    CHECK_INT(atomic_load(&hits[2]), 21);
    CHECK_INT(atomic_load(&hits[3]), 20);
}

/* ---- a batch completes while every worker is blocked ------------------------------------ */

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int started, released;
    kiln_workers *w;
} blocker;

static void block_task(void *ctx, size_t i)
{
    blocker *b = ctx;
    (void)i;
    pthread_mutex_lock(&b->m);
    b->started++;
    pthread_cond_broadcast(&b->c);
    while (!b->released) pthread_cond_wait(&b->c, &b->m);
    pthread_mutex_unlock(&b->m);
}

static void *run_blockers(void *arg)
{
    blocker *b = arg;
    kiln_workers_run(b->w, block_task, b, 2);
    return NULL;
}

static void test_busy_workers(void)
{
    blocker b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL};
    b.w = kiln_workers_new(1);
    pthread_t t;
    pthread_create(&t, NULL, run_blockers, &b);
    pthread_mutex_lock(&b.m);
    while (b.started < 2) pthread_cond_wait(&b.c, &b.m); /* the worker and t are both stuck */
    pthread_mutex_unlock(&b.m);
    static atomic_int hits[8];
    counts c = {hits};
    kiln_workers_run(b.w, count_task, &c, 8); /* must finish on this thread alone */
    int done = 0;
    for (int i = 0; i < 8; i++) done += atomic_load(&hits[i]);
    CHECK_INT(done, 8);
    pthread_mutex_lock(&b.m);
    b.released = 1;
    pthread_cond_broadcast(&b.c);
    pthread_mutex_unlock(&b.m);
    pthread_join(t, NULL);
    kiln_workers_free(b.w);
}

/* ---- nested batches from concurrent callers ------------------------------------------------ */

typedef struct {
    kiln_workers *w;
    atomic_long sum;
} nested;

static void leaf_task(void *ctx, size_t i)
{
    nested *n = ctx;
    atomic_fetch_add(&n->sum, (long)i + 1);
}

static void outer_task(void *ctx, size_t i)
{
    nested *n = ctx;
    (void)i;
    kiln_workers_run(n->w, leaf_task, n, 10); /* 55 per outer task */
}

static void *caller(void *arg)
{
    nested *n = arg;
    for (int r = 0; r < 50; r++) kiln_workers_run(n->w, outer_task, n, 4);
    return NULL;
}

static void test_nested_concurrent(void)
{
    nested n = {kiln_workers_new(2), 0};
    pthread_t t[6];
    for (int i = 0; i < 6; i++) pthread_create(&t[i], NULL, caller, &n);
    for (int i = 0; i < 6; i++) pthread_join(t[i], NULL);
    CHECK_INT(atomic_load(&n.sum), 6L * 50 * 4 * 55);
    kiln_workers_free(n.w);
}

KT_MAIN(KT_CASE(test_each_task_once), KT_CASE(test_busy_workers), KT_CASE(test_nested_concurrent))
