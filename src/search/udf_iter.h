/* Private to src/search: UDF filter and scoring iterators (udf_iter.c). */
#ifndef KILN_SEARCH_UDF_ITER_H
#define KILN_SEARCH_UDF_ITER_H

#include "search/iter.h"
#include "search/plan.h"

#include <roaring/roaring.h>

typedef struct kiln__udf_rt kiln__udf_rt;

/* Sessions for the UDFs of plan p during one execution over one shard (NULL when the plan has
 * none). shard (a kiln_shard *) gives _id for get_document_id and error messages. */
kiln__udf_rt *kiln__udf_rt_new(const kiln_plan *p, const roaring_bitmap_t *live, void *shard,
                               int64_t deadline_ns, int capture_logs);
/* Frees rt; returns -1 with err when a UDF failed (and the query did not exclude errors), sets
 * *timed_out when the search timeout stopped UDF evaluation, and appends captured log lines
 * (each with its UDF's name and version) to *logs, creating the array. */
int kiln__udf_rt_finish(kiln__udf_rt *rt, int *timed_out, kiln_error *err, json_t **logs);

kiln__it *kiln__it_udf(const kiln_segment *s, kiln__udf_rt *rt, size_t slot, int exclude,
                       float score);
/* Takes ownership of kid. */
kiln__it *kiln__it_script(kiln__it *kid, const kiln_segment *s, kiln__udf_rt *rt, size_t slot,
                          int exclude, int mode, float boost, int has_min, float min_score);

#endif
