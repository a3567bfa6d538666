/* Private to src/http: the router, query parsing and the transport-independent dispatch, so
 * unit tests can drive a request through the router without a socket. */
#ifndef KILN_HTTP_INT_H
#define KILN_HTTP_INT_H

#include "http/http.h"

#include <stddef.h>

#define KILN__MAX_SEGS 16
#define KILN__MAX_HEADERS 8

/* Per-request transport state behind kiln_req.conn. Owns every string it points to. */
typedef struct kiln__req_ctx {
    void *mhd;  /* struct MHD_Connection *, NULL when driven from a test */
    char *path; /* raw path (no query string) */
    int nquery;
    char **qnames;  /* percent-decoded */
    char **qvalues; /* "" when the parameter has no '=' */
    int nsegs;
    char *segs[KILN__MAX_SEGS]; /* percent-decoded path segments */
    int nheaders;               /* extra response headers set by the handler or the router */
    char *hnames[KILN__MAX_HEADERS];
    char *hvalues[KILN__MAX_HEADERS];
} kiln__req_ctx;

void kiln__req_ctx_dispose(kiln__req_ctx *ctx);

/* Decodes %XX (and '+' as a space when plus is set) from s[0..n) into a new string.
 * Returns NULL on a bad escape or an encoded NUL. */
char *kiln__pct_decode(const char *s, size_t n, int plus);

/* Splits "/a/b?x=1&y" into ctx->path, segments and query parameters.
 * Returns 0, or a negative status (bad escape, too many segments) with err filled. */
int kiln__parse_uri(kiln__req_ctx *ctx, const char *uri, kiln_error *err);

void kiln__ctx_add_header(kiln__req_ctx *ctx, const char *name, const char *value);

typedef struct kiln__router kiln__router;

/* Compiles a route table (borrowed; must outlive the router). NULL + err on a bad pattern. */
kiln__router *kiln__router_new(const kiln_route *routes, size_t n, kiln_error *err);
void kiln__router_free(kiln__router *r);

/* Finds the handler for method and the segments in ctx. Returns the route, filling the
 * captures in req; or NULL with *allowed set to the methods any matching pattern accepts
 * (0 when no pattern matches the path at all). */
const kiln_route *kiln__router_match(const kiln__router *r, kiln_method method, kiln__req_ctx *ctx,
                                     kiln_req *req, unsigned *allowed);

/* Parses an HTTP method name; 0 for a method no route can have (OPTIONS, PATCH, ...). */
kiln_method kiln__method_parse(const char *name);

/* Runs one complete request: parse the URI, route, call the handler, write 400/405/500
 * bodies as Elasticsearch does, apply ?pretty. resp must be zeroed by the caller; ctx is
 * filled (the caller disposes it). body must be NUL-terminated. */
void kiln__dispatch(const kiln__router *r, const char *method_name, const char *uri,
                    const char *body, size_t body_len, const char *content_type, kiln__req_ctx *ctx,
                    kiln_resp *resp);

/* Applies an ES filter_path spec to JSON text, appending the result to out. Returns 0, or -1
 * (out unspecified) when the spec or the JSON cannot be handled: send the body unfiltered. */
int kiln__filter_path(kiln_buf *out, const char *json, size_t len, const char *spec);

/* Re-indents JSON text (2 spaces, ES style) without reparsing numbers, so values stay
 * byte-for-byte. Appends to out. */
void kiln__json_pretty(kiln_buf *out, const char *json, size_t len);

#endif
