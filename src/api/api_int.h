/* Private to src/api: the node every endpoint works on, and helpers shared by endpoint files.
 * Each endpoint family (root.c, indices.c, doc.c, bulk.c, ...) exports its routes through a
 * kiln__routes_<family> function that api.c concatenates into the server's table. */
#ifndef KILN_API_INT_H
#define KILN_API_INT_H

#include "api/api.h"
#include "core/clock.h"
#include "index/index.h"
#include "index/node.h"

#include <jansson.h>

extern kiln_node *kiln__node;
struct kiln_udf_registry;
extern struct kiln_udf_registry *kiln__udfs;

/* Parses the request body as JSON. Empty body: NULL with *ok = 1 (callers that need a body
 * check). Malformed: answers 400 with line and column, returns NULL with *ok = 0. */
json_t *kiln__body_json(kiln_req *req, kiln_resp *resp, int *ok);

/* Answers with the error in err (ES body and status). Returns 0 for handler convenience. */
int kiln__reply(kiln_resp *resp, const kiln_error *err);

/* Resolves {index} (absent: _all; comma lists, wildcards) honouring ignore_unavailable and
 * allow_no_indices; -1 after answering the error. Release the list with kiln_node_release. */
int kiln__resolve_indices(kiln_req *req, kiln_resp *resp, kiln_index ***list, size_t *n);

/* Answers a query DSL error as ES shapes it (the root cause, wrapped inside a compound, with
 * the JSON path). Returns 0. */
struct kiln_dsl_error;
int kiln__dsl_fail(kiln_resp *resp, const struct kiln_dsl_error *de);

/* Serialises json as the response body. Takes ownership of json. */
int kiln__reply_json(kiln_resp *resp, int status, json_t *json);

/* Handles ?refresh= (true|wait_for|false|""): refreshes the index when asked.
 * Returns 1 when a refresh was forced, 0 when none, negative (answered 400) on a bad value. */
int kiln__refresh_param(kiln_req *req, kiln_resp *resp, kiln_index *idx);
/* Validates ?refresh= without acting. 0 ok, negative (answered 400) otherwise. */
int kiln__refresh_check(kiln_req *req, kiln_resp *resp);

/* Appends a write's result fields (after "{"): _index, _id, _version, result, _shards, ... */
void kiln__write_result(kiln_buf *b, const kiln_index *idx, const kiln_write *w);

/* Parses an integer query parameter; def when absent; -1 and a 400 answer when malformed. */
int kiln__query_i64(kiln_req *req, kiln_resp *resp, const char *name, int64_t def,
                    int64_t *out);

/* "208b", "4.5kb" as Elasticsearch prints byte sizes. */
void kiln__human_bytes(char *out, size_t cap, uint64_t bytes);

const char *kiln__result_name(kiln_result r);

/* One _search (count 0) or _count (count 1) request (search.c): body, {index} and
 * query-string parameters as those endpoints read them; _msearch and _cat/count run theirs
 * through it. */
int kiln__search_run(kiln_req *req, kiln_resp *resp, int count);
/* The query of a q= parameter (search.c: a small subset of the Lucene syntax; df the default
 * field, and_op for default_operator=AND). Caller owns. */
json_t *kiln__q_param(const char *q, const char *df, int and_op);

typedef const kiln_route *(*kiln__routes_fn)(size_t *n);
const kiln_route *kiln__routes_root(size_t *n);
const kiln_route *kiln__routes_indices(size_t *n);
const kiln_route *kiln__routes_doc(size_t *n);
const kiln_route *kiln__routes_bulk(size_t *n);
const kiln_route *kiln__routes_analyze(size_t *n);
const kiln_route *kiln__routes_udf(size_t *n);
const kiln_route *kiln__routes_search(size_t *n);
const kiln_route *kiln__routes_by_query(size_t *n);
const kiln_route *kiln__routes_msearch(size_t *n);
const kiln_route *kiln__routes_validate(size_t *n);

#endif
