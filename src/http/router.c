/* The router: one table of (methods, pattern, handler), compiled into segments once.
 * A request matches a pattern with the same number of segments whose literals all match;
 * among several, the one with a literal earliest where they differ wins, so "/_cat/indices"
 * beats "/{index}/{type}". Unknown paths and wrong methods get Elasticsearch's answers. */
#include "http/http_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct kiln__cseg {
    const char *text; /* literal text, or the capture name */
    int capture;
} kiln__cseg;

typedef struct kiln__croute {
    const kiln_route *route;
    int nsegs;
    kiln__cseg segs[KILN__MAX_SEGS];
} kiln__croute;

struct kiln__router {
    size_t n;
    char *strings; /* all segment texts, NUL-separated */
    kiln__croute *routes;
};

kiln__router *kiln__router_new(const kiln_route *routes, size_t n, kiln_error *err)
{
    kiln__router *r = kiln_xcalloc(1, sizeof *r);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(routes[i].pattern) + 1;
    r->strings = kiln_xmalloc(total);
    r->routes = kiln_xcalloc(n ? n : 1, sizeof *r->routes);
    r->n = n;
    char *w = r->strings;
    size_t i;
    for (i = 0; i < n; i++) {
        kiln__croute *cr = &r->routes[i];
        cr->route = &routes[i];
        const char *p = routes[i].pattern;
        int ncap = 0;
        if (p[0] != '/') goto bad;
        while (*p) {
            while (*p == '/')
                p++;
            if (!*p) break;
            const char *end = strchr(p, '/');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (cr->nsegs == KILN__MAX_SEGS) goto bad;
            kiln__cseg *s = &cr->segs[cr->nsegs++];
            if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
                if (++ncap > KILN_MAX_PARAMS || len == 2) goto bad;
                s->capture = 1;
                memcpy(w, p + 1, len - 2);
                w[len - 2] = 0;
            } else {
                memcpy(w, p, len);
                w[len] = 0;
            }
            s->text = w;
            w += strlen(w) + 1;
            p += len;
        }
    }
    return r;
bad:
    kiln_fail(err, KILN_E_INTERNAL, "bad route pattern [%s]", routes[i].pattern);
    kiln__router_free(r);
    return NULL;
}

void kiln__router_free(kiln__router *r)
{
    if (!r) return;
    free(r->strings);
    free(r->routes);
    free(r);
}

/* Captures as a bit string, first segment most significant: the smaller, the more literal. */
static unsigned long kiln__shape(const kiln__croute *cr)
{
    unsigned long v = 0;
    for (int i = 0; i < cr->nsegs; i++)
        v = (v << 1) | (unsigned long)cr->segs[i].capture;
    return v;
}

static int kiln__matches(const kiln__croute *cr, const kiln__req_ctx *ctx)
{
    if (cr->nsegs != ctx->nsegs) return 0;
    for (int i = 0; i < cr->nsegs; i++)
        if (!cr->segs[i].capture && strcmp(cr->segs[i].text, ctx->segs[i]) != 0) return 0;
    return 1;
}

const kiln_route *kiln__router_match(const kiln__router *r, kiln_method method, kiln__req_ctx *ctx,
                                     kiln_req *req, unsigned *allowed)
{
    const kiln__croute *best = NULL;
    unsigned long best_shape = 0;
    *allowed = 0;
    for (size_t i = 0; i < r->n; i++) {
        const kiln__croute *cr = &r->routes[i];
        if (!kiln__matches(cr, ctx)) continue;
        *allowed |= cr->route->methods;
        if (!(cr->route->methods & (unsigned)method)) continue;
        unsigned long shape = kiln__shape(cr);
        if (!best || shape < best_shape) {
            best = cr;
            best_shape = shape;
        }
    }
    if (!best) return NULL;
    req->nparams = 0;
    for (int i = 0; i < best->nsegs; i++) {
        if (!best->segs[i].capture) continue;
        req->param_names[req->nparams] = best->segs[i].text;
        req->param_values[req->nparams++] = ctx->segs[i];
    }
    return best->route;
}

kiln_method kiln__method_parse(const char *name)
{
    static const struct {
        const char *name;
        kiln_method m;
    } tab[] = {{"GET", KILN_GET},
               {"PUT", KILN_PUT},
               {"POST", KILN_POST},
               {"DELETE", KILN_DELETE},
               {"HEAD", KILN_HEAD}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(name, tab[i].name) == 0) return tab[i].m;
    return 0;
}

static void kiln__methods_list(kiln_buf *b, unsigned mask, const char *sep)
{
    static const char *const names[] = {"GET", "PUT", "POST", "DELETE", "HEAD"};
    int first = 1;
    for (int i = 0; i < 5; i++) {
        if (!(mask & (1u << i))) continue;
        if (!first) kiln_buf_puts(b, sep);
        kiln_buf_puts(b, names[i]);
        first = 0;
    }
}

/* {"error":"<msg>","status":N}: the bare-string form ES uses for routing failures. */
static void kiln__simple_error(kiln_resp *resp, int status, const char *msg)
{
    kiln_buf_reset(&resp->body);
    kiln_buf_puts(&resp->body, "{\"error\":");
    kiln_buf_json_cstr(&resp->body, msg);
    kiln_buf_printf(&resp->body, ",\"status\":%d}", status);
    resp->status = status;
    resp->content_type = NULL;
}

static void kiln__no_route(kiln_resp *resp, kiln__req_ctx *ctx, const char *method_name,
                           const char *uri, unsigned allowed)
{
    kiln_buf msg = KILN_BUF_INIT;
    if (!allowed) {
        kiln_buf_printf(&msg, "no handler found for uri [%s] and method [%s]", uri, method_name);
        kiln__simple_error(resp, 400, msg.data);
    } else {
        kiln_buf_printf(&msg, "Incorrect HTTP method for uri [%s] and method [%s], allowed: [", uri,
                        method_name);
        kiln__methods_list(&msg, allowed, ", ");
        kiln_buf_putc(&msg, ']');
        kiln__simple_error(resp, 405, msg.data);
        kiln_buf allow = KILN_BUF_INIT;
        kiln__methods_list(&allow, allowed, ",");
        kiln__ctx_add_header(ctx, "Allow", allow.data);
        kiln_buf_free(&allow);
    }
    kiln_buf_free(&msg);
}

/* The body types handlers can read: JSON, NDJSON and vendor "+json" types, as ES accepts
 * them (it answers 406 otherwise), plus application/wasm (and octet-stream) for raw UDF
 * modules. A missing Content-Type is tolerated, unlike ES, so raw clients that omit it still
 * work. */
static int kiln__media_type_ok(const char *ct)
{
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; ");
    if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
        (n == 20 && strncasecmp(ct, "application/x-ndjson", 20) == 0) ||
        (n == 16 && strncasecmp(ct, "application/wasm", 16) == 0) ||
        (n == 24 && strncasecmp(ct, "application/octet-stream", 24) == 0))
        return 1;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static int kiln__is_json(const kiln_resp *resp)
{
    return !resp->content_type || strncmp(resp->content_type, "application/json", 16) == 0;
}

void kiln__dispatch(const kiln__router *r, const char *method_name, const char *uri,
                    const char *body, size_t body_len, const char *content_type, kiln__req_ctx *ctx,
                    kiln_resp *resp)
{
    kiln_error err;
    kiln_error_clear(&err);
    kiln_req req;
    memset(&req, 0, sizeof req);
    req.body = body ? body : "";
    req.body_len = body ? body_len : 0;
    req.content_type = content_type;
    req.conn = ctx;
    if (kiln__parse_uri(ctx, uri, &err) < 0) {
        kiln_resp_error(resp, &err);
        goto out;
    }
    req.path = ctx->path;
    req.method = kiln__method_parse(method_name);
    unsigned allowed = 0;
    const kiln_route *rt = kiln__router_match(r, req.method, ctx, &req, &allowed);
    /* HEAD falls back to GET: the transport drops the body and keeps the headers. */
    if (!rt && req.method == KILN_HEAD) rt = kiln__router_match(r, KILN_GET, ctx, &req, &allowed);
    if (!rt) {
        kiln__no_route(resp, ctx, method_name, uri, allowed);
        goto out;
    }
    if (body_len && content_type && !kiln__media_type_ok(content_type)) {
        kiln_buf msg = KILN_BUF_INIT;
        kiln_buf_printf(&msg, "Content-Type header [%s] is not supported", content_type);
        kiln__simple_error(resp, 406, msg.data);
        kiln_buf_free(&msg);
        goto out;
    }
    resp->status = 0;
    int rc = rt->handler(&req, resp);
    if (rc < 0 && resp->status == 0)
        kiln_resp_fail(resp, KILN_E_INTERNAL, "handler for [%s %s] failed", method_name, ctx->path);
    if (resp->status == 0) resp->status = 200;
out:;
    const char *fpath = kiln_req_query(&req, "filter_path");
    if (fpath && *fpath && resp->body.len && kiln__is_json(resp)) {
        kiln_buf filtered = KILN_BUF_INIT;
        if (kiln__filter_path(&filtered, resp->body.data, resp->body.len, fpath) == 0) {
            kiln_buf_free(&resp->body);
            resp->body = filtered;
        } else {
            kiln_buf_free(&filtered);
        }
    }
    if (resp->body.len && kiln__is_json(resp) && kiln_req_query_bool(&req, "pretty", 0) == 1) {
        kiln_buf pretty = KILN_BUF_INIT;
        kiln__json_pretty(&pretty, resp->body.data, resp->body.len);
        kiln_buf_free(&resp->body);
        resp->body = pretty;
    }
}
