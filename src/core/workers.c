/* Worker pool: one mutex, a FIFO of batches with unclaimed tasks, and a condition variable per
 * batch for its caller. Task indices are claimed under the mutex: tasks here are whole shard
 * searches (milliseconds), so a lock per claim costs nothing measurable and keeps the protocol
 * easy to check. A batch lives on its caller's stack: a worker touches it only between claiming
 * a task and reporting it done, and the caller returns only after every task reported. */
#include "core/workers.h"

#include "core/buf.h"
#include "core/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define KILN__WORKER_STACK (8u << 20) /* as a request thread: tasks may run WebAssembly UDFs */

typedef struct kiln__batch {
    kiln_task_fn fn;
    void *ctx;
    size_t n, next, done;
    pthread_cond_t finished; /* signalled when done reaches n */
    struct kiln__batch *link;
} kiln__batch;

struct kiln_workers {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a batch was queued, or stop */
    kiln__batch *head, *tail; /* batches with unclaimed tasks */
    int stop;
    unsigned nthreads;
    pthread_t *threads;
};

/* Claims the next task of the head batch (lock held); NULL when the queue is empty. */
static kiln__batch *kiln__claim(kiln_workers *w, size_t *i)
{
    kiln__batch *b = w->head;
    if (!b) return NULL;
    *i = b->next++;
    if (b->next == b->n) { /* fully claimed: off the queue */
        w->head = b->link;
        if (!w->head) w->tail = NULL;
    }
    return b;
}

static void kiln__finish(kiln__batch *b) /* lock held */
{
    if (++b->done == b->n) pthread_cond_signal(&b->finished);
}

static void *kiln__worker(void *arg)
{
    kiln_workers *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        size_t i;
        kiln__batch *b = kiln__claim(w, &i);
        if (!b) {
            if (w->stop) break;
            pthread_cond_wait(&w->work, &w->lock);
            continue;
        }
        pthread_mutex_unlock(&w->lock);
        b->fn(b->ctx, i);
        pthread_mutex_lock(&w->lock);
        kiln__finish(b); /* b may be gone once the lock is released */
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

kiln_workers *kiln_workers_new(unsigned nthreads)
{
    if (!nthreads) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = cpus > 0 ? (unsigned)cpus : 1;
    }
    kiln_workers *w = kiln_xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    w->threads = kiln_xcalloc(nthreads, sizeof *w->threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, KILN__WORKER_STACK);
    for (unsigned t = 0; t < nthreads; t++) {
        if (pthread_create(&w->threads[t], &attr, kiln__worker, w)) {
            KILN_WARN("workers", "could only start %u of %u worker threads", t, nthreads);
            break;
        }
        w->nthreads++;
    }
    pthread_attr_destroy(&attr);
    return w;
}

void kiln_workers_free(kiln_workers *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->lock);
    for (unsigned t = 0; t < w->nthreads; t++) pthread_join(w->threads[t], NULL);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->lock);
    free(w->threads);
    free(w);
}

unsigned kiln_workers_count(const kiln_workers *w)
{
    return w ? w->nthreads : 0;
}

void kiln_workers_run(kiln_workers *w, kiln_task_fn fn, void *ctx, size_t n)
{
    if (!w || !w->nthreads || n <= 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    kiln__batch b = {.fn = fn, .ctx = ctx, .n = n};
    pthread_cond_init(&b.finished, NULL);
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->link = &b;
    else
        w->head = &b;
    w->tail = &b;
    /* the caller takes one task itself: wake at most n - 1 workers */
    for (size_t k = 1; k < n && k <= w->nthreads; k++) pthread_cond_signal(&w->work);
    /* run our own batch's tasks until none is left unclaimed (never another batch's: the
     * caller must not be held up by other requests' work) */
    while (b.next < b.n) {
        size_t i = b.next++;
        if (b.next == b.n) { /* unlink: it may sit behind other batches */
            kiln__batch **p = &w->head, *prev = NULL;
            while (*p != &b) prev = *p, p = &(*p)->link;
            *p = b.link;
            if (w->tail == &b) w->tail = prev;
        }
        pthread_mutex_unlock(&w->lock);
        fn(ctx, i);
        pthread_mutex_lock(&w->lock);
        kiln__finish(&b);
    }
    while (b.done < b.n) pthread_cond_wait(&b.finished, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_cond_destroy(&b.finished);
}
