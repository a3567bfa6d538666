/* Request side: percent-decoding, URI splitting, query-string and header accessors. */
#include "http/http_int.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

static int kiln__hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *kiln__pct_decode(const char *s, size_t n, int plus)
{
    char *out = kiln_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int a = i + 1 < n ? kiln__hex((unsigned char)s[i + 1]) : -1;
            int b = i + 2 < n ? kiln__hex((unsigned char)s[i + 2]) : -1;
            if (a < 0 || b < 0) goto fail;
            c = (char)(a * 16 + b);
            /* An encoded NUL would silently truncate every C string downstream. */
            if (c == 0) goto fail;
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = 0;
    return out;
fail:
    free(out);
    return NULL;
}

static int kiln__parse_query(kiln__req_ctx *ctx, const char *q, kiln_error *err)
{
    int cap = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > 0) {
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            char *k = kiln__pct_decode(q, klen, 1);
            char *v = eq ? kiln__pct_decode(eq + 1, len - klen - 1, 1) : kiln_xstrdup("");
            if (!k || !v) {
                free(k);
                free(v);
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                 "unterminated escape sequence in query string");
            }
            if (ctx->nquery == cap) {
                cap = cap ? cap * 2 : 8;
                ctx->qnames = kiln_xrealloc(ctx->qnames, (size_t)cap * sizeof *ctx->qnames);
                ctx->qvalues = kiln_xrealloc(ctx->qvalues, (size_t)cap * sizeof *ctx->qvalues);
            }
            ctx->qnames[ctx->nquery] = k;
            ctx->qvalues[ctx->nquery++] = v;
        }
        if (!amp) break;
        q = amp + 1;
    }
    return 0;
}

int kiln__parse_uri(kiln__req_ctx *ctx, const char *uri, kiln_error *err)
{
    const char *qm = strchr(uri, '?');
    size_t plen = qm ? (size_t)(qm - uri) : strlen(uri);
    ctx->path = kiln_xstrndup(uri, plen);
    /* Empty segments are skipped, as ES does: "/a//b/" routes like "/a/b". */
    const char *p = ctx->path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p) break;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (ctx->nsegs == KILN__MAX_SEGS)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "too many path segments in [%s]",
                             ctx->path);
        /* '+' is literal in a path; only the query string uses it for a space. */
        char *seg = kiln__pct_decode(p, n, 0);
        if (!seg)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "unterminated escape sequence in path [%s]", ctx->path);
        ctx->segs[ctx->nsegs++] = seg;
        p += n;
    }
    return qm ? kiln__parse_query(ctx, qm + 1, err) : 0;
}

void kiln__ctx_add_header(kiln__req_ctx *ctx, const char *name, const char *value)
{
    if (ctx->nheaders == KILN__MAX_HEADERS) return;
    ctx->hnames[ctx->nheaders] = kiln_xstrdup(name);
    ctx->hvalues[ctx->nheaders++] = kiln_xstrdup(value);
}

void kiln__req_ctx_dispose(kiln__req_ctx *ctx)
{
    free(ctx->path);
    for (int i = 0; i < ctx->nquery; i++) {
        free(ctx->qnames[i]);
        free(ctx->qvalues[i]);
    }
    free(ctx->qnames);
    free(ctx->qvalues);
    for (int i = 0; i < ctx->nsegs; i++)
        free(ctx->segs[i]);
    for (int i = 0; i < ctx->nheaders; i++) {
        free(ctx->hnames[i]);
        free(ctx->hvalues[i]);
    }
    memset(ctx, 0, sizeof *ctx);
}

typedef struct kiln__sub_req {
    kiln_req req;
    kiln__req_ctx ctx;
    char *index;
} kiln__sub_req;

kiln_req *kiln_req_sub_new(kiln_method method, const char *body, size_t body_len,
                           const char *index, const char *const *qnames,
                           const char *const *qvalues, int nquery)
{
    kiln__sub_req *s = kiln_xcalloc(1, sizeof *s);
    s->req.method = method;
    s->req.path = "";
    s->req.body = body;
    s->req.body_len = body_len;
    s->req.conn = &s->ctx;
    if (index) {
        s->index = kiln_xstrdup(index);
        s->req.param_names[0] = "index";
        s->req.param_values[0] = s->index;
        s->req.nparams = 1;
    }
    s->ctx.qnames = kiln_xcalloc((size_t)nquery + 1, sizeof *s->ctx.qnames);
    s->ctx.qvalues = kiln_xcalloc((size_t)nquery + 1, sizeof *s->ctx.qvalues);
    for (int i = 0; i < nquery; i++) {
        s->ctx.qnames[i] = kiln_xstrdup(qnames[i]);
        s->ctx.qvalues[i] = kiln_xstrdup(qvalues[i]);
    }
    s->ctx.nquery = nquery;
    return &s->req;
}

void kiln_req_sub_free(kiln_req *req)
{
    if (!req) return;
    kiln__sub_req *s = (kiln__sub_req *)req; /* req is its first member */
    kiln__req_ctx_dispose(&s->ctx);
    free(s->index);
    free(s);
}

const char *kiln_req_param(const kiln_req *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->param_names[i], name) == 0) return req->param_values[i];
    return NULL;
}

const char *kiln_req_query(const kiln_req *req, const char *name)
{
    const kiln__req_ctx *ctx = req->conn;
    if (!ctx) return NULL;
    /* The last occurrence wins, as in ES. */
    for (int i = ctx->nquery - 1; i >= 0; i--)
        if (strcmp(ctx->qnames[i], name) == 0) return ctx->qvalues[i];
    return NULL;
}

int kiln_req_query_bool(const kiln_req *req, const char *name, int def)
{
    const char *v = kiln_req_query(req, name);
    if (!v) return def;
    if (!*v || strcmp(v, "true") == 0) return 1;
    if (strcmp(v, "false") == 0) return 0;
    return -1;
}

const char *kiln_req_header(const kiln_req *req, const char *name)
{
    const kiln__req_ctx *ctx = req->conn;
    if (!ctx || !ctx->mhd) return NULL;
    return MHD_lookup_connection_value(ctx->mhd, MHD_HEADER_KIND, name);
}

void kiln_req_add_reply_header(kiln_req *req, const char *name, const char *value)
{
    if (req->conn) kiln__ctx_add_header(req->conn, name, value);
}
