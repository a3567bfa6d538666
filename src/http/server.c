/* The HTTP server on libmicrohttpd: a pool of threads, each polling its own connections with
 * epoll and running handlers inline (a handler may block on a WAL fsync, hence a pool larger
 * than the core count). Bodies are accumulated per request up to max_body_bytes; beyond that
 * the server drops the rest without buffering it and answers 413 itself. */
#include "core/log.h"
#include "http/http_int.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define KILN__JSON_TYPE "application/json; charset=UTF-8"

struct kiln_http_server {
    struct MHD_Daemon *d;
    kiln__router *router;
    size_t max_body;
    int port;
    atomic_int inflight; /* requests between the first header line and their completion */
    atomic_int stopping;
};

/* One request's transport state, created when MHD has read the request line. */
typedef struct kiln__mreq {
    char *uri; /* raw, still percent-encoded: "%2F" inside an id must not split the path */
    kiln_buf body;
    int started;
    int too_large;
    int replied;
} kiln__mreq;

static void *kiln__on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    kiln_http_server *s = cls;
    kiln__mreq *r = kiln_xcalloc(1, sizeof *r);
    r->uri = kiln_xstrdup(uri ? uri : "/");
    atomic_fetch_add(&s->inflight, 1);
    return r;
}

static void kiln__on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    kiln_http_server *s = cls;
    kiln__mreq *r = *con_cls;
    if (!r) return;
    free(r->uri);
    kiln_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static enum MHD_Result kiln__send(kiln_http_server *s, struct MHD_Connection *c,
                                  const kiln__req_ctx *ctx, kiln_resp *resp)
{
    size_t len;
    char *data = kiln_buf_steal(&resp->body, &len);
    struct MHD_Response *mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(mr, "content-type",
                            resp->content_type ? resp->content_type : KILN__JSON_TYPE);
    for (int i = 0; ctx && i < ctx->nheaders; i++)
        MHD_add_response_header(mr, ctx->hnames[i], ctx->hvalues[i]);
    /* While stopping, tell keep-alive clients to go elsewhere rather than reuse the socket. */
    if (atomic_load(&s->stopping)) MHD_add_response_header(mr, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result kiln__too_large(kiln_http_server *s, struct MHD_Connection *c, kiln__mreq *r)
{
    kiln_resp resp = {0};
    kiln_resp_fail(&resp, KILN_E_TOO_LARGE,
                   "request body is larger than the maximum allowed [%zu] bytes", s->max_body);
    r->replied = 1;
    return kiln__send(s, c, NULL, &resp);
}

static enum MHD_Result kiln__on_request(void *cls, struct MHD_Connection *c, const char *url,
                                        const char *method, const char *version, const char *upload,
                                        size_t *upload_size, void **con_cls)
{
    kiln_http_server *s = cls;
    kiln__mreq *r = *con_cls;
    if (!r) return MHD_NO;
    if (r->replied) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->started) {
        r->started = 1;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
        if (clen > s->max_body) {
            r->too_large = 1;
            /* A client that waits for "100 Continue", or a body far past the limit, gets the
             * 413 at once (MHD then closes instead of reading it). Otherwise the body is read
             * and dropped first: a client still writing it would see EPIPE, not the 413. */
            const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
            if ((expect && strcasecmp(expect, "100-continue") == 0) || clen / 4 > s->max_body)
                return kiln__too_large(s, c, r);
            return MHD_YES;
        }
        /* Size the buffer once for the common case (_bulk bodies of a few MiB); a liar only
         * costs address space up to 16 MiB (pages are touched as bytes arrive). */
        if (clen) kiln_buf_reserve(&r->body, clen < (16u << 20) ? (size_t)clen : (size_t)16 << 20);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_large && r->body.len + *upload_size > s->max_body) {
            r->too_large = 1; /* chunked upload past the limit: drop what we hold and the rest */
            kiln_buf_free(&r->body);
        }
        if (!r->too_large) kiln_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_large) return kiln__too_large(s, c, r);

    kiln__req_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.mhd = c;
    kiln_resp resp = {0};
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    kiln__dispatch(s->router, method, r->uri, r->body.data ? r->body.data : "", r->body.len, ctype,
                   &ctx, &resp);
    KILN_DEBUG("http", "%s %s -> %d", method, r->uri, resp.status);
    enum MHD_Result ret = kiln__send(s, c, &ctx, &resp);
    r->replied = 1;
    kiln__req_ctx_dispose(&ctx);
    return ret;
}

static void kiln__mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    KILN_WARN("http", "%s", msg);
}

kiln_http_server *kiln_http_start(const kiln_http_config *cfg, const kiln_route *routes,
                                  size_t nroutes, kiln_error *err)
{
    struct addrinfo *ai = NULL;
    kiln_http_server *s = kiln_xcalloc(1, sizeof *s);
    const char *bind = cfg->bind && *cfg->bind ? cfg->bind : "127.0.0.1";
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    s->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : (size_t)100 << 20;
    s->router = kiln__router_new(routes, nroutes, err);
    if (!s->router) goto fail;

    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    int gai = getaddrinfo(bind, port, &hints, &ai);
    if (gai != 0) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "cannot resolve bind address [%s]: %s", bind,
                  gai_strerror(gai));
        goto fail;
    }
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: it means SO_REUSEPORT, which would let a second
     * kiln share the port silently. MHD sets SO_REUSEADDR itself, so restarts bind at once. */
    /* A thread per connection by default: a request runs on its connection's thread (a _bulk
     * for hundreds of milliseconds), and in a pool of epoll threads the kernel may give two
     * busy clients' connections to the same thread, which then serves them one at a time.
     * --threads N > 1 asks for a pool of N instead. */
    int threads = cfg->threads > 1 ? cfg->threads : 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     (threads ? MHD_USE_EPOLL : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL);
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, kiln__on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
        kiln__mhd_log, NULL, /* first, so it sees every message */
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)threads, MHD_OPTION_URI_LOG_CALLBACK, kiln__on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, kiln__on_done, s, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_END);
    if (!s->d) {
        kiln_fail(err, KILN_E_IO, "cannot listen on [%s:%d]", bind, cfg->port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    freeaddrinfo(ai);
    KILN_INFO("http", "listening on %s:%d (%d threads, max body %zu bytes)", bind, s->port, threads,
              s->max_body);
    return s;
fail:
    if (ai) freeaddrinfo(ai);
    kiln__router_free(s->router);
    free(s);
    return NULL;
}

int kiln_http_port(const kiln_http_server *s)
{
    return s->port;
}

void kiln_http_stop(kiln_http_server *s)
{
    if (!s) return;
    atomic_store(&s->stopping, 1);
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    /* MHD_stop_daemon closes connections whose reply is not yet written: wait (bounded) until
     * every request that has started is answered. Idle keep-alive connections do not count. */
    for (int i = 0; i < 3000 && atomic_load(&s->inflight) > 0; i++)
        usleep(10 * 1000);
    if (atomic_load(&s->inflight) > 0)
        KILN_WARN("http", "stopping with %d requests still in flight", atomic_load(&s->inflight));
    MHD_stop_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    kiln__router_free(s->router);
    free(s);
    KILN_INFO("http", "stopped");
}
