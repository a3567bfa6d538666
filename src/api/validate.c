/* GET/POST [/{index}]/_validate/query: whether a query would run, without running it: parsed
 * by the DSL, its UDFs bound and planned against each index's mapping (field types, formats,
 * analyzers). As Elasticsearch, a bad query is "valid": false with 200, not an error; with
 * ?explain=true each index says why. */
#include "api/api_int.h"
#include "dsl/query.h"
#include "search/search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Explanation of one index, or NULL without explain. */
static json_t *kiln__explanation(const char *index, const char *error)
{
    json_t *e = json_pack("{s:s,s:b}", "index", index, "valid", error == NULL);
    if (error) json_object_set_new(e, "error", json_string(error));
    return e;
}

static int kiln__validate_query(kiln_req *req, kiln_resp *resp)
{
    int ok;
    json_t *body = kiln__body_json(req, resp, &ok);
    if (!ok) return 0;
    const char *q = kiln_req_query(req, "q");
    json_t *qj = json_object_get(body, "query");
    json_t *owned = NULL;
    if (q && !qj) {
        const char *op = kiln_req_query(req, "default_operator");
        qj = owned = kiln__q_param(q, kiln_req_query(req, "df"), op && !strcasecmp(op, "and"));
    }
    if (!qj) qj = owned = json_pack("{s:{}}", "match_all");
    int explain = kiln_req_query_bool(req, "explain", 0) == 1;
    kiln_index **list = NULL;
    size_t n = 0;
    kiln_error err;
    kiln_error_clear(&err);
    if (kiln__resolve_indices(req, resp, &list, &n)) {
        json_decref(owned);
        json_decref(body);
        return 0;
    }
    kiln_dsl_error de;
    kiln_query *query = kiln_dsl_parse(qj, "query", &de);
    char why[600] = "";
    if (!query)
        snprintf(why, sizeof why, "%s", de.err.reason);
    else if (kiln_search_bind_udfs(query, kiln__udfs, &err))
        snprintf(why, sizeof why, "%s", err.reason);
    json_t *explanations = json_array();
    int valid = !*why;
    unsigned shards = 0;
    for (size_t i = 0; i < n; i++) {
        shards += list[i]->nshards;
        char idx_why[600] = "";
        if (query && !*why) { /* planning checks the query against this index's mapping */
            kiln_mapping *m = kiln_index_mapping(list[i]);
            kiln_plan *p = kiln_plan_build(query, m, list[i]->analysis, kiln_wall_ms(), &err);
            kiln_mapping_unref(m);
            if (p)
                kiln_plan_free(p);
            else
                snprintf(idx_why, sizeof idx_why, "%s", err.reason);
        }
        const char *e = *why ? why : *idx_why ? idx_why : NULL;
        if (e) valid = 0;
        json_array_append_new(explanations, kiln__explanation(list[i]->name, e));
    }
    kiln_node_release(list, n);
    kiln_query_free(query);
    json_decref(owned);
    json_decref(body);
    json_t *out = json_pack("{s:{s:I,s:I,s:i},s:b}", "_shards", "total", (json_int_t)shards,
                            "successful", (json_int_t)shards, "failed", 0, "valid", valid);
    if (explain)
        json_object_set_new(out, "explanations", explanations);
    else
        json_decref(explanations);
    return kiln__reply_json(resp, 200, out);
}

static const kiln_route kiln__routes[] = {
    {KILN_GET | KILN_POST, "/_validate/query", kiln__validate_query},
    {KILN_GET | KILN_POST, "/{index}/_validate/query", kiln__validate_query},
};

const kiln_route *kiln__routes_validate(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
