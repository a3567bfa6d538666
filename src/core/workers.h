/* A small fixed pool of worker threads for data-parallel work (the shards of one search).
 *
 *   kiln_workers *w = kiln_workers_new(0);               // one thread per CPU
 *   kiln_workers_run(w, search_shard, ctx, nshards);     // search_shard(ctx, i) for every i
 *   kiln_workers_free(w);
 *
 * kiln_workers_run returns when every task has finished. The calling thread runs tasks of its
 * own batch too, so a batch always completes even when every worker is busy (other requests'
 * batches, or a task that itself calls kiln_workers_run): it never waits for a task nobody is
 * running. Batches are served in arrival order. Tasks must not block on each other. */
#ifndef KILN_CORE_WORKERS_H
#define KILN_CORE_WORKERS_H

#include <stddef.h>

typedef struct kiln_workers kiln_workers;
typedef void (*kiln_task_fn)(void *ctx, size_t i);

/* Starts nthreads workers (0: the number of online CPUs). Never NULL (aborts on failure). */
kiln_workers *kiln_workers_new(unsigned nthreads);
/* Waits for running batches' callers to return first: call when no kiln_workers_run is in
 * progress. Joins the threads. NULL is fine. */
void kiln_workers_free(kiln_workers *w);
unsigned kiln_workers_count(const kiln_workers *w);

/* Runs fn(ctx, i) for i in [0, n), on the workers and the calling thread; returns when all are
 * done. w NULL or n <= 1: runs them here, in order. */
void kiln_workers_run(kiln_workers *w, kiln_task_fn fn, void *ctx, size_t n);

#endif
