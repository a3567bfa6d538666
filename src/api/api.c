/* PLACEHOLDER on the http branch only (the lead owns src/api/): serves GET / so the binary
 * runs and can be tested before the real API lands. Drop this file in the merge. */
#include "api/api.h"

#include <unistd.h>

static int kiln__root(kiln_req *req, kiln_resp *resp)
{
    char host[256] = "kiln";
    gethostname(host, sizeof host - 1);
    kiln_buf *b = &resp->body;
    kiln_buf_reset(b);
    kiln_buf_puts(b, "{\"name\":");
    kiln_buf_json_cstr(b, host);
    kiln_buf_puts(b, ",\"cluster_name\":\"kiln\",\"cluster_uuid\":\"kiln-placeholder-uuid\","
                     "\"version\":{\"distribution\":\"kiln\",\"number\":\"2.11.0\","
                     "\"build_type\":\"tar\",\"build_hash\":\"unknown\","
                     "\"build_date\":\"2026-11-25T00:00:00Z\",\"build_snapshot\":false,"
                     "\"lucene_version\":\"9.7.0\","
                     "\"minimum_wire_compatibility_version\":\"7.10.0\","
                     "\"minimum_index_compatibility_version\":\"7.0.0\"},"
                     "\"tagline\":\"The OpenSearch Project: https://opensearch.org/\"}");
    resp->status = 200;
    return 0;
}

static const kiln_route kiln__routes[] = {
    {KILN_GET | KILN_HEAD, "/", kiln__root},
};

int kiln_api_start(const char *data_dir, kiln_error *err)
{
    return 0;
}

const kiln_route *kiln_api_routes(size_t *n)
{
    *n = sizeof kiln__routes / sizeof kiln__routes[0];
    return kiln__routes;
}

void kiln_api_stop(void)
{
}
