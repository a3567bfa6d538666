/* What the in-process search benches share: a clock, a sort order for latencies, and the
 * mapping of the product catalogue (bench/datasets/products.js). */
#ifndef KILN_BENCH_COMMON_H
#define KILN_BENCH_COMMON_H

#include <time.h>

static inline double kiln__clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int kiln__cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *const kiln__mapping_json =
    "{\"properties\":{\"name\":{\"type\":\"text\"},\"description\":{\"type\":\"text\"},"
    "\"category\":{\"type\":\"keyword\"},\"brand\":{\"type\":\"keyword\"},"
    "\"price\":{\"type\":\"double\"},\"rating\":{\"type\":\"double\"},"
    "\"stock\":{\"type\":\"long\"},\"tags\":{\"type\":\"keyword\"},"
    "\"created_at\":{\"type\":\"date\"},\"attributes\":{\"properties\":{"
    "\"color\":{\"type\":\"keyword\"},\"size\":{\"type\":\"keyword\"}}}}}";

#endif
