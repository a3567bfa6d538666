/* The clocks Kiln reads, in milliseconds: monotonic for intervals, timeouts and refresh/idle
 * schedules; wall (realtime) for what users see (creation dates, date math's "now"). */
#ifndef KILN_CLOCK_H
#define KILN_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t kiln__clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t kiln_mono_ms(void)
{
    return kiln__clock_ms(CLOCK_MONOTONIC);
}

static inline int64_t kiln_wall_ms(void)
{
    return kiln__clock_ms(CLOCK_REALTIME);
}

#endif
