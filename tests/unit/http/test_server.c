/* The real server in-process on a loopback port: keep-alive, HEAD, body limit (413 from
 * Content-Length and from a chunked body), percent-encoded captures, headers, concurrent
 * clients, and a stop that lets an in-flight request finish. */
#include "http/http.h"
#include "../test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int h_root(kiln_req *req, kiln_resp *resp)
{
    kiln_resp_json(resp, 200, "{\"ok\":true}");
    return 0;
}

static int h_echo(kiln_req *req, kiln_resp *resp)
{
    kiln_buf_printf(&resp->body, "{\"len\":%zu,\"nul\":%d,\"ctype\":", req->body_len,
                    req->body[req->body_len] == 0);
    if (req->content_type)
        kiln_buf_json_cstr(&resp->body, req->content_type);
    else
        kiln_buf_puts(&resp->body, "null");
    kiln_buf_putc(&resp->body, '}');
    resp->status = 200;
    return 0;
}

static int h_doc(kiln_req *req, kiln_resp *resp)
{
    const char *h = kiln_req_header(req, "x-test");
    kiln_buf_puts(&resp->body, "{\"id\":");
    kiln_buf_json_cstr(&resp->body, kiln_req_param(req, "id"));
    kiln_buf_puts(&resp->body, ",\"h\":");
    kiln_buf_json_cstr(&resp->body, h ? h : "");
    kiln_buf_putc(&resp->body, '}');
    kiln_req_add_reply_header(req, "Location", "/idx/_doc/1");
    resp->status = 201;
    return 0;
}

static int h_sleep(kiln_req *req, kiln_resp *resp)
{
    const char *ms = kiln_req_query(req, "ms");
    usleep((useconds_t)(ms ? atoi(ms) : 100) * 1000);
    kiln_resp_json(resp, 200, "{\"slept\":true}");
    return 0;
}

static const kiln_route routes[] = {
    {KILN_GET | KILN_HEAD, "/", h_root},
    {KILN_POST | KILN_PUT | KILN_GET | KILN_DELETE, "/_echo", h_echo},
    {KILN_PUT | KILN_GET, "/{index}/_doc/{id}", h_doc},
    {KILN_GET, "/_sleep", h_sleep},
};

static int port;

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct {
    int status;
    char head[2048];
    char body[4096];
    long clen;
} reply;

/* Reads one response: headers, then Content-Length bytes unless it answers a HEAD. */
static int read_reply(int fd, reply *r, int head_only)
{
    memset(r, 0, sizeof *r);
    size_t n = 0;
    while (n < sizeof r->head - 1) {
        if (recv(fd, r->head + n, 1, 0) != 1) return -1;
        n++;
        if (n >= 4 && memcmp(r->head + n - 4, "\r\n\r\n", 4) == 0) break;
    }
    r->head[n] = 0;
    if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1) return -1;
    const char *cl = strcasestr(r->head, "\r\nContent-Length:");
    r->clen = cl ? strtol(cl + 17, NULL, 10) : -1;
    if (head_only || r->clen <= 0) return 0;
    if (r->clen >= (long)sizeof r->body) return -1;
    for (long got = 0; got < r->clen;) {
        ssize_t k = recv(fd, r->body + got, (size_t)(r->clen - got), 0);
        if (k <= 0) return -1;
        got += k;
    }
    return 0;
}

static int roundtrip(int fd, const char *req, reply *r)
{
    if (send_all(fd, req, strlen(req)) < 0) return -1;
    return read_reply(fd, r, strncmp(req, "HEAD ", 5) == 0);
}

static void test_keepalive_and_head(void)
{
    int fd = dial();
    CHECK(fd >= 0);
    reply r;
    for (int i = 0; i < 5; i++) {
        CHECK_INT(roundtrip(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
        CHECK_INT(r.status, 200);
        CHECK_STR(r.body, "{\"ok\":true}");
        CHECK(strcasestr(r.head, "content-type: application/json; charset=UTF-8") != NULL);
    }
    /* HEAD: headers with the GET body's length, and no body bytes on the wire: the next
     * response on the same connection parses from its first byte. */
    CHECK_INT(roundtrip(fd, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.clen, 11);
    CHECK_INT(roundtrip(fd, "GET /nope/x/y HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 400);
    CHECK_STR(r.body, "{\"error\":\"no handler found for uri [/nope/x/y] and method [GET]\","
                      "\"status\":400}");
    CHECK_INT(roundtrip(fd, "POST /x/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r),
              0);
    CHECK_INT(r.status, 405);
    CHECK(strstr(r.head, "\r\nAllow: GET,PUT\r\n") != NULL);
    CHECK_INT(roundtrip(fd,
                        "PUT /my%2Findex/_doc/a%2Fb%20c HTTP/1.1\r\nHost: x\r\n"
                        "X-Test: hello\r\nContent-Length: 2\r\n\r\n{}",
                        &r),
              0);
    CHECK_INT(r.status, 201);
    CHECK_STR(r.body, "{\"id\":\"a/b c\",\"h\":\"hello\"}");
    CHECK(strstr(r.head, "\r\nLocation: /idx/_doc/1\r\n") != NULL);
    close(fd);
}

static void test_body(void)
{
    int fd = dial();
    reply r;
    char body[1024];
    memset(body, 'a', sizeof body);
    /* Exactly at the limit: accepted, NUL-terminated, on a kept-alive connection. */
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST /_echo HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/x-ndjson\r\nContent-Length: 1024\r\n\r\n");
    memcpy(req + n, body, sizeof body);
    req[n + 1024] = 0;
    CHECK_INT(roundtrip(fd, req, &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"len\":1024,\"nul\":1,\"ctype\":\"application/x-ndjson\"}");
    /* GET and DELETE carry bodies too (search requests do). */
    CHECK_INT(roundtrip(fd,
                        "GET /_echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                        "\r\nContent-Length: 2\r\n\r\n{}",
                        &r),
              0);
    CHECK_STR(r.body, "{\"len\":2,\"nul\":1,\"ctype\":\"application/json\"}");
    CHECK_INT(
        roundtrip(fd, "DELETE /_echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", &r), 0);
    CHECK_STR(r.body, "{\"len\":3,\"nul\":1,\"ctype\":null}");
    /* A chunked body is assembled. */
    CHECK_INT(roundtrip(fd,
                        "POST /_echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                        "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                        &r),
              0);
    CHECK_STR(r.body, "{\"len\":11,\"nul\":1,\"ctype\":null}");
    /* Content-Length over the limit with Expect: 100-continue: 413 at once, no body sent. */
    CHECK_INT(roundtrip(fd,
                        "POST /_echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n"
                        "Expect: 100-continue\r\n\r\n",
                        &r),
              0);
    CHECK_INT(r.status, 413);
    CHECK_STR(r.body, "{\"error\":{\"root_cause\":[{\"type\":\"content_too_long_exception\","
                      "\"reason\":\"request body is larger than the maximum allowed [1024] "
                      "bytes\"}],\"type\":\"content_too_long_exception\",\"reason\":\"request "
                      "body is larger than the maximum allowed [1024] bytes\"},\"status\":413}");
    close(fd);
    /* Far past the limit: 413 at once too. */
    fd = dial();
    CHECK_INT(roundtrip(fd, "POST /_echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", &r),
              0);
    CHECK_INT(r.status, 413);
    close(fd);
    /* A little past it, body sent at once: read and dropped, then 413 on a connection that
     * stays usable (the client sees the answer, not a reset while writing). */
    fd = dial();
    {
        char big[1200 + 100];
        int hn = snprintf(big, sizeof big, "POST /_echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1200\r\n\r\n");
        memset(big + hn, 'x', 1200);
        send_all(fd, big, (size_t)hn + 1200);
        CHECK_INT(read_reply(fd, &r, 0), 0);
        CHECK_INT(r.status, 413);
        CHECK_INT(roundtrip(fd, "POST /_echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", &r), 0);
        CHECK_INT(r.status, 200);
    }
    close(fd);

    /* A chunked body that grows past the limit: the rest is dropped, then 413. */
    fd = dial();
    char chunk[700];
    memset(chunk, 'b', sizeof chunk);
    const char *start = "POST /_echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(fd, start, strlen(start));
    for (int i = 0; i < 4; i++) {
        char h[16];
        int hn = snprintf(h, sizeof h, "%zx\r\n", sizeof chunk);
        send_all(fd, h, (size_t)hn);
        send_all(fd, chunk, sizeof chunk);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
    CHECK_INT(read_reply(fd, &r, 0), 0);
    CHECK_INT(r.status, 413);
    CHECK(strstr(r.body, "content_too_long_exception") != NULL);
    close(fd);
}

static void *client(void *arg)
{
    int *ok = arg;
    int fd = dial();
    if (fd < 0) return NULL;
    reply r;
    for (int i = 0; i < 50; i++) {
        const char *q = i % 10 == 0 ? "GET /_sleep?ms=5 HTTP/1.1\r\nHost: x\r\n\r\n"
                                    : "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        if (roundtrip(fd, q, &r) == 0 && r.status == 200) (*ok)++;
    }
    close(fd);
    return NULL;
}

static void test_concurrent(void)
{
    enum { N = 8 };
    pthread_t t[N];
    int ok[N] = {0};
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, client, &ok[i]);
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        total += ok[i];
    }
    CHECK_INT(total, N * 50);
}

static void *slow_client(void *arg)
{
    reply *r = arg;
    int fd = dial();
    if (fd < 0) return NULL;
    roundtrip(fd, "GET /_sleep?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n", r);
    close(fd);
    return NULL;
}

static void test_bind_conflict(void)
{
    kiln_http_config cfg = {.bind = "127.0.0.1", .port = port, .threads = 1};
    kiln_error err;
    kiln_error_clear(&err);
    kiln_http_server *s = kiln_http_start(&cfg, routes, 1, &err);
    CHECK(s == NULL);
    CHECK_INT(err.code, KILN_E_IO);
    kiln_http_stop(s);
    kiln_http_config bad = {.bind = "not an address", .port = 0};
    CHECK(kiln_http_start(&bad, routes, 1, &err) == NULL);
}

int main(void)
{
    kiln_http_config cfg = {.bind = "127.0.0.1", .port = 0, .threads = 4, .max_body_bytes = 1024};
    kiln_error err;
    kiln_error_clear(&err);
    kiln_http_server *s = kiln_http_start(&cfg, routes, sizeof routes / sizeof routes[0], &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "start: %s\n", err.reason);
        TEST_DONE();
    }
    port = kiln_http_port(s);
    CHECK(port > 0);
    test_keepalive_and_head();
    test_body();
    test_concurrent();
    test_bind_conflict();

    /* Stop while a request sleeps in its handler: the client still gets its whole reply. */
    reply r;
    memset(&r, 0, sizeof r);
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &r);
    usleep(150 * 1000);
    kiln_http_stop(s);
    pthread_join(t, NULL);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"slept\":true}");
    /* And the port is closed. */
    CHECK_INT(dial(), -1);
    TEST_DONE();
}
