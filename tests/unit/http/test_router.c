/* Router, query parsing, reply bodies and ?pretty, driven through kiln__dispatch without a
 * socket. */
#include "http/http_int.h"
#include "../test.h"

#include <stdlib.h>

static int h_root(kiln_req *req, kiln_resp *resp)
{
    kiln_resp_json(resp, 200, "{\"route\":\"root\"}");
    return 0;
}

/* Echoes which route ran and its captures: {"route":"name","p":{"k":"v",...}}. */
static int echo(kiln_req *req, kiln_resp *resp, const char *name)
{
    kiln_buf *b = &resp->body;
    kiln_buf_reset(b);
    kiln_buf_printf(b, "{\"route\":\"%s\",\"p\":{", name);
    for (int i = 0; i < req->nparams; i++) {
        if (i) kiln_buf_putc(b, ',');
        kiln_buf_json_cstr(b, req->param_names[i]);
        kiln_buf_putc(b, ':');
        kiln_buf_json_cstr(b, req->param_values[i]);
    }
    kiln_buf_puts(b, "}}");
    resp->status = 200;
    return 0;
}

static int h_cat(kiln_req *req, kiln_resp *resp)
{
    return echo(req, resp, "cat");
}
static int h_index_type(kiln_req *req, kiln_resp *resp)
{
    return echo(req, resp, "index_type");
}
static int h_doc(kiln_req *req, kiln_resp *resp)
{
    return echo(req, resp, "doc");
}
static int h_doc_auto(kiln_req *req, kiln_resp *resp)
{
    return echo(req, resp, "doc_auto");
}
static int h_index(kiln_req *req, kiln_resp *resp)
{
    return echo(req, resp, "index");
}
static int h_refresh(kiln_req *req, kiln_resp *resp)
{
    return echo(req, resp, "refresh");
}
static int h_idx_mapping(kiln_req *req, kiln_resp *resp)
{
    return echo(req, resp, "mapping");
}
static int h_any_mapping(kiln_req *req, kiln_resp *resp)
{
    return echo(req, resp, "x_mapping");
}
static int h_fail(kiln_req *req, kiln_resp *resp)
{
    return -1;
}
static int h_text(kiln_req *req, kiln_resp *resp)
{
    kiln_resp_text(resp, 200, "health status index\n");
    return 0;
}
static int h_notfound(kiln_req *req, kiln_resp *resp)
{
    kiln_error err;
    kiln_error_clear(&err);
    kiln_fail(&err, KILN_E_INDEX_NOT_FOUND, "no such index [%s]", kiln_req_param(req, "index"));
    kiln_error_set_index(&err, kiln_req_param(req, "index"));
    kiln_resp_error(resp, &err);
    return 0;
}
static int h_query(kiln_req *req, kiln_resp *resp)
{
    kiln_buf *b = &resp->body;
    const char *q = kiln_req_query(req, "q");
    const char *empty = kiln_req_query(req, "flag");
    kiln_buf_printf(b, "{\"q\":");
    if (q)
        kiln_buf_json_cstr(b, q);
    else
        kiln_buf_puts(b, "null");
    kiln_buf_printf(b, ",\"flag\":%s,\"b\":%d,\"missing\":%d,\"bad\":%d,\"f\":%d}",
                    empty ? (*empty ? "\"value\"" : "\"\"") : "null",
                    kiln_req_query_bool(req, "flag", 0), kiln_req_query_bool(req, "nope", 7),
                    kiln_req_query_bool(req, "bad", 0), kiln_req_query_bool(req, "f", 1));
    resp->status = 201;
    return 0;
}

static const kiln_route routes[] = {
    {KILN_GET | KILN_HEAD, "/", h_root},
    {KILN_GET, "/{index}/{type}", h_index_type},
    {KILN_GET, "/_cat/indices", h_cat},
    {KILN_GET, "/_cat/text", h_text},
    {KILN_PUT | KILN_POST, "/{index}/_doc/{id}", h_doc},
    {KILN_GET | KILN_HEAD | KILN_DELETE, "/{index}/_doc/{id}", h_doc},
    {KILN_POST, "/{index}/_doc", h_doc_auto},
    {KILN_PUT | KILN_GET | KILN_DELETE | KILN_HEAD, "/{index}", h_index},
    {KILN_POST, "/_refresh", h_refresh},
    {KILN_PUT | KILN_POST, "/{index}/{type}/{id}", h_doc},
    {KILN_POST, "/{index}/_refresh", h_refresh},
    {KILN_GET, "/{index}/_mapping", h_idx_mapping},
    {KILN_GET, "/_all/{what}", h_any_mapping},
    {KILN_GET, "/_fail", h_fail},
    {KILN_GET, "/_missing/{index}", h_notfound},
    {KILN_GET | KILN_POST, "/_query", h_query},
};

static kiln__router *router;

typedef struct {
    int status;
    char body[4096];
    char allow[64];
    char ctype[64];
} result;

static result run(const char *method, const char *uri)
{
    result r;
    memset(&r, 0, sizeof r);
    kiln__req_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    kiln_resp resp = {0};
    kiln__dispatch(router, method, uri, "", 0, NULL, &ctx, &resp);
    r.status = resp.status;
    snprintf(r.body, sizeof r.body, "%s", resp.body.data ? resp.body.data : "");
    snprintf(r.ctype, sizeof r.ctype, "%s", resp.content_type ? resp.content_type : "json");
    for (int i = 0; i < ctx.nheaders; i++)
        if (!strcmp(ctx.hnames[i], "Allow"))
            snprintf(r.allow, sizeof r.allow, "%s", ctx.hvalues[i]);
    kiln_buf_free(&resp.body);
    kiln__req_ctx_dispose(&ctx);
    return r;
}

static void test_patterns(void)
{
    result r = run("GET", "/");
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"route\":\"root\"}");
    CHECK_STR(r.ctype, "json");

    r = run("PUT", "/books/_doc/1");
    CHECK_STR(r.body, "{\"route\":\"doc\",\"p\":{\"index\":\"books\",\"id\":\"1\"}}");
    r = run("GET", "/books/_doc/1");
    CHECK_STR(r.body, "{\"route\":\"doc\",\"p\":{\"index\":\"books\",\"id\":\"1\"}}");
    r = run("POST", "/books/_doc");
    CHECK_STR(r.body, "{\"route\":\"doc_auto\",\"p\":{\"index\":\"books\"}}");
    r = run("DELETE", "/books");
    CHECK_STR(r.body, "{\"route\":\"index\",\"p\":{\"index\":\"books\"}}");
    /* Empty segments and a trailing slash do not count. */
    r = run("GET", "//books//_doc/1/");
    CHECK_STR(r.body, "{\"route\":\"doc\",\"p\":{\"index\":\"books\",\"id\":\"1\"}}");
    /* A literal segment must match exactly: "_DOC" is not "_doc", so it is an {index}/{type}. */
    r = run("GET", "/books/_DOC");
    CHECK_STR(r.body, "{\"route\":\"index_type\",\"p\":{\"index\":\"books\",\"type\":\"_DOC\"}}");
}

static void test_precedence(void)
{
    result r = run("GET", "/_cat/indices");
    CHECK_STR(r.body, "{\"route\":\"cat\",\"p\":{}}");
    r = run("GET", "/_cat/other");
    CHECK_STR(r.body, "{\"route\":\"index_type\",\"p\":{\"index\":\"_cat\",\"type\":\"other\"}}");
    /* "/_all/_mapping" matches "/{index}/_mapping" and "/_all/{what}": the earlier literal wins. */
    r = run("GET", "/_all/_mapping");
    CHECK_STR(r.body, "{\"route\":\"x_mapping\",\"p\":{\"what\":\"_mapping\"}}");
    r = run("GET", "/books/_mapping");
    CHECK_STR(r.body, "{\"route\":\"mapping\",\"p\":{\"index\":\"books\"}}");
    /* The literal route exists but not for this method: the capture route serves it. */
    r = run("GET", "/_refresh");
    CHECK_STR(r.body, "{\"route\":\"index\",\"p\":{\"index\":\"_refresh\"}}");
}

static void test_percent_decoding(void)
{
    result r = run("GET", "/my%20index/_doc/a%2Fb%3F%25");
    CHECK_STR(r.body, "{\"route\":\"doc\",\"p\":{\"index\":\"my index\",\"id\":\"a/b?%\"}}");
    r = run("GET", "/books/_doc/a+b");
    CHECK_STR(r.body, "{\"route\":\"doc\",\"p\":{\"index\":\"books\",\"id\":\"a+b\"}}");
    r = run("GET", "/books/_doc/%C3%A9t%C3%A9");
    CHECK_STR(r.body, "{\"route\":\"doc\",\"p\":{\"index\":\"books\",\"id\":\"été\"}}");
    r = run("GET", "/books/_doc/bad%2");
    CHECK_INT(r.status, 400);
    CHECK(strstr(r.body, "\"type\":\"illegal_argument_exception\"") != NULL);
    r = run("GET", "/books/_doc/nul%00");
    CHECK_INT(r.status, 400);
    r = run("GET", "/books/_doc/x%zz");
    CHECK_INT(r.status, 400);

    char *d = kiln__pct_decode("a%41+%2b", 8, 1);
    CHECK_STR(d, "aA +");
    free(d);
    CHECK(kiln__pct_decode("%4", 2, 0) == NULL);
    CHECK(kiln__pct_decode("%", 1, 0) == NULL);
}

static void test_unknown_and_wrong_method(void)
{
    result r = run("GET", "/x/y/z/w");
    CHECK_INT(r.status, 400);
    CHECK_STR(r.body, "{\"error\":\"no handler found for uri [/x/y/z/w] and method [GET]\","
                      "\"status\":400}");
    r = run("GET", "/_refresh/x/y/z/w?pretty=false");
    CHECK_STR(r.body, "{\"error\":\"no handler found for uri [/_refresh/x/y/z/w?pretty=false] and "
                      "method [GET]\",\"status\":400}");
    /* Allowed is the union over every pattern the path matches, as in ES. */
    r = run("DELETE", "/books/_refresh");
    CHECK_INT(r.status, 405);
    CHECK_STR(r.body, "{\"error\":\"Incorrect HTTP method for uri [/books/_refresh] and method "
                      "[DELETE], allowed: [GET, POST]\",\"status\":405}");
    CHECK_STR(r.allow, "GET,POST");
    r = run("GET", "/_cat/indices/x");
    CHECK_INT(r.status, 405);
    CHECK_STR(r.allow, "PUT,POST");
    r = run("PATCH", "/books/_doc/1");
    CHECK_INT(r.status, 405);
    CHECK_STR(r.body, "{\"error\":\"Incorrect HTTP method for uri [/books/_doc/1] and method "
                      "[PATCH], allowed: [GET, PUT, POST, DELETE, HEAD]\",\"status\":405}");
    CHECK_STR(r.allow, "GET,PUT,POST,DELETE,HEAD");
    r = run("POST", "/");
    CHECK_INT(r.status, 405);
    CHECK_STR(r.allow, "GET,HEAD");
    /* HEAD falls back to GET when no route lists HEAD. */
    r = run("HEAD", "/_cat/indices");
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"route\":\"cat\",\"p\":{}}");
    r = run("OPTIONS", "/nothing/here/at/all");
    CHECK_INT(r.status, 400);
}

static result run_body(const char *method, const char *uri, const char *ctype)
{
    result r;
    memset(&r, 0, sizeof r);
    kiln__req_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    kiln_resp resp = {0};
    kiln__dispatch(router, method, uri, "{}", 2, ctype, &ctx, &resp);
    r.status = resp.status;
    snprintf(r.body, sizeof r.body, "%s", resp.body.data ? resp.body.data : "");
    kiln_buf_free(&resp.body);
    kiln__req_ctx_dispose(&ctx);
    return r;
}

static void test_content_type(void)
{
    static const char *const ok[] = {NULL,
                                     "application/json",
                                     "application/json; charset=UTF-8",
                                     "Application/JSON;charset=utf-8",
                                     "application/x-ndjson",
                                     "application/vnd.opensearch+json;compatible-with=7",
                                     "application/vnd.elasticsearch+json"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        result r = run_body("PUT", "/books/_doc/1", ok[i]);
        CHECK_INT(r.status, 200);
    }
    result r = run_body("PUT", "/books/_doc/1", "application/x-www-form-urlencoded");
    CHECK_INT(r.status, 406);
    CHECK_STR(r.body, "{\"error\":\"Content-Type header [application/x-www-form-urlencoded] is "
                      "not supported\",\"status\":406}");
    r = run_body("PUT", "/books/_doc/1", "text/plain");
    CHECK_INT(r.status, 406);
    r = run_body("PUT", "/books/_doc/1", "application/jsonx");
    CHECK_INT(r.status, 406);
    /* Routing errors come first, as in ES. */
    r = run_body("PUT", "/a/b/c/d", "text/plain");
    CHECK_INT(r.status, 400);
}

static void test_query(void)
{
    result r = run("GET", "/_query?q=a%20b+c&flag&bad=yes&f=false");
    CHECK_INT(r.status, 201);
    CHECK_STR(r.body, "{\"q\":\"a b c\",\"flag\":\"\",\"b\":1,\"missing\":7,\"bad\":-1,\"f\":0}");
    r = run("GET", "/_query?q=first&q=last&flag=true&&f=true");
    CHECK_STR(r.body,
              "{\"q\":\"last\",\"flag\":\"value\",\"b\":1,\"missing\":7,\"bad\":0,\"f\":1}");
    r = run("GET", "/_query");
    CHECK_STR(r.body, "{\"q\":null,\"flag\":null,\"b\":0,\"missing\":7,\"bad\":0,\"f\":1}");
    r = run("GET", "/_query?q=%ZZ");
    CHECK_INT(r.status, 400);
    r = run("GET", "/_query?q=%26%3D");
    CHECK_STR(r.body, "{\"q\":\"&=\",\"flag\":null,\"b\":0,\"missing\":7,\"bad\":0,\"f\":1}");
}

static void test_replies(void)
{
    result r = run("GET", "/_missing/books");
    CHECK_INT(r.status, 404);
    CHECK_STR(
        r.body,
        "{\"error\":{\"root_cause\":[{\"type\":\"index_not_found_exception\",\"reason\":\"no "
        "such index [books]\",\"resource.type\":\"index_or_alias\",\"resource.id\":\"books\","
        "\"index_uuid\":\"_na_\",\"index\":\"books\"}],\"type\":\"index_not_found_exception\","
        "\"reason\":\"no such index [books]\",\"resource.type\":\"index_or_alias\","
        "\"resource.id\":\"books\",\"index_uuid\":\"_na_\",\"index\":\"books\"},"
        "\"status\":404}");
    r = run("GET", "/_fail");
    CHECK_INT(r.status, 500);
    CHECK(strstr(r.body, "\"type\":\"internal_server_error\"") != NULL);
    r = run("GET", "/_cat/text?pretty");
    CHECK_STR(r.ctype, "text/plain; charset=UTF-8");
    CHECK_STR(r.body, "health status index\n");

    kiln_resp resp = {0};
    CHECK_INT(kiln_resp_fail(&resp, KILN_E_VERSION_CONFLICT, "[%s]: version conflict", "1"), 0);
    CHECK_INT(resp.status, 409);
    CHECK_STR(
        resp.body.data,
        "{\"error\":{\"root_cause\":[{\"type\":\"version_conflict_engine_exception\","
        "\"reason\":\"[1]: version conflict\"}],\"type\":\"version_conflict_engine_exception\","
        "\"reason\":\"[1]: version conflict\"},\"status\":409}");
    /* Reasons are escaped as JSON strings. */
    kiln_resp_fail(&resp, KILN_E_PARSE, "bad \"quote\"\n");
    CHECK(strstr(resp.body.data, "\"reason\":\"bad \\\"quote\\\"\\n\"") != NULL);
    kiln_buf_free(&resp.body);
}

static void test_pretty(void)
{
    result r = run("GET", "/books/_doc/1?pretty");
    CHECK_STR(r.body, "{\n  \"route\" : \"doc\",\n  \"p\" : {\n    \"index\" : \"books\",\n"
                      "    \"id\" : \"1\"\n  }\n}\n");
    r = run("GET", "/_cat/indices?pretty=true");
    CHECK_STR(r.body, "{\n  \"route\" : \"cat\",\n  \"p\" : { }\n}\n");
    r = run("GET", "/_cat/indices?pretty=false");
    CHECK_STR(r.body, "{\"route\":\"cat\",\"p\":{}}");
    r = run("GET", "/x/y/z/w?pretty");
    CHECK_STR(r.body, "{\n  \"error\" : \"no handler found for uri [/x/y/z/w?pretty] and method "
                      "[GET]\",\n  \"status\" : 400\n}\n");

    /* Numbers and strings (escapes, brackets inside) are copied byte for byte. */
    const char *in = "{\"a\":[1,0.1000,-2e10],\"s\":\"x\\\"{[,:\",\"e\":[],\"n\":null}";
    kiln_buf out = KILN_BUF_INIT;
    kiln__json_pretty(&out, in, strlen(in));
    CHECK_STR(out.data, "{\n  \"a\" : [\n    1,\n    0.1000,\n    -2e10\n  ],\n"
                        "  \"s\" : \"x\\\"{[,:\",\n  \"e\" : [ ],\n  \"n\" : null\n}\n");
    kiln_buf_free(&out);
}

static void check_filter(const char *json, const char *spec, const char *want)
{
    kiln_buf out = KILN_BUF_INIT;
    int rc = kiln__filter_path(&out, json, strlen(json), spec);
    if (!want) {
        CHECK_INT(rc, -1);
    } else {
        CHECK_INT(rc, 0);
        CHECK_STR(out.data, want);
        if (rc != 0 || !out.data || strcmp(out.data, want) != 0)
            fprintf(stderr, "  filter_path=%s\n", spec);
    }
    kiln_buf_free(&out);
}

static void test_filter_path(void)
{
    const char *bulk = "{\"took\":5,\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\","
                       "\"status\":201,\"result\":\"created\"}},{\"index\":{\"_id\":\"2\","
                       "\"status\":400,\"error\":{\"type\":\"x\",\"reason\":\"y\"}}}]}";
    /* What Logstash and Beats send with every _bulk. */
    check_filter(bulk, "errors,items.*.error,items.*.status",
                 "{\"errors\":true,\"items\":[{\"index\":{\"status\":201}},{\"index\":{"
                 "\"status\":400,\"error\":{\"type\":\"x\",\"reason\":\"y\"}}}]}");
    check_filter(bulk, "**.status",
                 "{\"items\":[{\"index\":{\"status\":201}},{\"index\":{"
                 "\"status\":400}}]}");
    check_filter(bulk, "took", "{\"took\":5}");
    check_filter(bulk, "-items", "{\"took\":5,\"errors\":true}");
    check_filter(bulk, "items.**.type", "{\"items\":[{\"index\":{\"error\":{\"type\":\"x\"}}}]}");
    check_filter(bulk, "nothing.here", "{}");
    check_filter(bulk, "err*", "{\"errors\":true}");
    check_filter("{\"hits\":{\"total\":{\"value\":2},\"hits\":[{\"_id\":\"a\",\"_source\":"
                 "{\"x\":1}},{\"_id\":\"b\"}]}}",
                 "hits.hits._id", "{\"hits\":{\"hits\":[{\"_id\":\"a\"},{\"_id\":\"b\"}]}}");
    check_filter("{\"hits\":{\"total\":3,\"max\":1.50}}", "hits,-hits.total",
                 "{\"hits\":{\"max\":1.50}}");
    /* Values are copied verbatim: number spelling, escapes, whitespace inside kept values. */
    check_filter("{ \"a\" : 0.10 , \"b\" : \"q\\\"}\", \"c\": [1, 2e5] }", "a,b,c",
                 "{\"a\":0.10,\"b\":\"q\\\"}\",\"c\":[1, 2e5]}");
    /* Emptied objects vanish, explicitly kept empty ones stay. */
    check_filter("{\"a\":{\"b\":1},\"c\":{}}", "a.x,c", "{\"c\":{}}");
    check_filter("{\"a\":[1,2]}", "a.b", "{}");
    check_filter("{\"a\":1", "a", NULL);
    check_filter("{\"a\":1}", " , ", NULL);

    result r = run("GET", "/books/_doc/1?filter_path=p.id&pretty");
    CHECK_STR(r.body, "{\n  \"p\" : {\n    \"id\" : \"1\"\n  }\n}\n");
    r = run("GET", "/_cat/text?filter_path=x");
    CHECK_STR(r.body, "health status index\n");
}

static void test_bad_patterns(void)
{
    kiln_error err;
    kiln_error_clear(&err);
    static const kiln_route bad1[] = {{KILN_GET, "nope", h_root}};
    CHECK(kiln__router_new(bad1, 1, &err) == NULL);
    CHECK(strstr(err.reason, "[nope]") != NULL);
    static const kiln_route bad2[] = {{KILN_GET, "/{}", h_root}};
    CHECK(kiln__router_new(bad2, 1, &err) == NULL);
    static const kiln_route bad3[] = {{KILN_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", h_root}};
    CHECK(kiln__router_new(bad3, 1, &err) == NULL);
    kiln__router *empty = kiln__router_new(NULL, 0, &err);
    CHECK(empty != NULL);
    kiln__router_free(empty);
}

int main(void)
{
    kiln_error err;
    router = kiln__router_new(routes, sizeof routes / sizeof routes[0], &err);
    CHECK(router != NULL);
    if (!router) TEST_DONE();
    test_patterns();
    test_precedence();
    test_percent_decoding();
    test_unknown_and_wrong_method();
    test_query();
    test_content_type();
    test_replies();
    test_pretty();
    test_filter_path();
    test_bad_patterns();
    kiln__router_free(router);
    TEST_DONE();
}
