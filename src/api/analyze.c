/* _analyze and /{index}/_analyze: the analysis module handles the request body
 * (kiln_analyze_request); this endpoint supplies the index's analyzers and, for "field", the
 * analyzer the mapping gives it. */
#include "api/api_int.h"

#include <string.h>

/* The analyzer "field" is analyzed with: a text field's own, "keyword" for other mapped fields,
 * NULL (the index default) when unmapped. Borrowed from the mapping m. */
static const char *kiln__field_analyzer(const kiln_mapping *m, json_t *field)
{
    if (!m || !json_is_string(field)) return NULL;
    const kiln_field *f = kiln_mapping_field(m, json_string_value(field));
    if (!f) return NULL;
    return f->type == KILN_FT_TEXT ? f->analyzer : "keyword";
}

static int kiln__analyze(kiln_req *req, kiln_resp *resp)
{
    int ok;
    json_t *body = kiln__body_json(req, resp, &ok);
    if (!ok) return 0;
    if (!json_is_object(body)) {
        json_decref(body);
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "an _analyze request needs a body with [text]");
    }
    kiln_error err;
    kiln_index *idx = NULL;
    kiln_mapping *m = NULL;
    const char *name = kiln_req_param(req, "index");
    if (name && !(idx = kiln_node_get(kiln__node, name, &err))) {
        json_decref(body);
        return kiln__reply(resp, &err);
    }
    if (idx) m = kiln_index_mapping(idx);
    json_t *out = kiln_analyze_request(idx ? idx->analysis : NULL, body,
                                       kiln__field_analyzer(m, json_object_get(body, "field")),
                                       &err);
    kiln_mapping_unref(m);
    kiln_index_unref(idx);
    json_decref(body);
    return out ? kiln__reply_json(resp, 200, out) : kiln__reply(resp, &err);
}

static const kiln_route kiln__routes[] = {
    {KILN_GET | KILN_POST, "/_analyze", kiln__analyze},
    {KILN_GET | KILN_POST, "/{index}/_analyze", kiln__analyze},
};

const kiln_route *kiln__routes_analyze(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
