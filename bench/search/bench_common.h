/* What the in-process search benches share: a clock, a sort order for latencies, and the
 * mappings of the product catalogue (bench/datasets/products.js) and of the Debian package
 * corpus (bench/datasets/debian.js). */
#ifndef KILN_BENCH_COMMON_H
#define KILN_BENCH_COMMON_H

#include "../bench_clock.h"

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

/* The Debian package corpus (bench/datasets/debian.js --format docs): names, versions and
 * people are exact keywords, the synopsis and long description are text, sizes are numbers. */
static const char *const kiln__debian_mapping_json =
    "{\"properties\":{\"package\":{\"type\":\"keyword\"},\"version\":{\"type\":\"keyword\"},"
    "\"source\":{\"type\":\"keyword\"},\"section\":{\"type\":\"keyword\"},"
    "\"priority\":{\"type\":\"keyword\"},\"architecture\":{\"type\":\"keyword\"},"
    "\"maintainer\":{\"type\":\"keyword\"},\"maintainer_email\":{\"type\":\"keyword\"},"
    "\"installed_size\":{\"type\":\"long\"},\"size\":{\"type\":\"long\"},"
    "\"description\":{\"type\":\"text\"},\"long_description\":{\"type\":\"text\"},"
    "\"homepage\":{\"type\":\"keyword\"},\"tags\":{\"type\":\"keyword\"},"
    "\"depends\":{\"type\":\"keyword\"},\"pre_depends\":{\"type\":\"keyword\"},"
    "\"recommends\":{\"type\":\"keyword\"},\"suggests\":{\"type\":\"keyword\"},"
    "\"filename\":{\"type\":\"keyword\"}}}";

#endif
