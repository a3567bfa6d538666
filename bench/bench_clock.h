/* The clock every in-process bench reads, and the calling thread's page faults. Thread CPU time
 * by default: the machine is shared, and time spent descheduled is not the code's. */
#ifndef KILN_BENCH_CLOCK_H
#define KILN_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

static inline double kiln__clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double kiln__cpu_s(void)
{
    return kiln__clock(CLOCK_THREAD_CPUTIME_ID);
}

/* Minor page faults of the calling thread so far (first touches of fresh memory). */
static inline long kiln__thread_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt;
}

#endif
