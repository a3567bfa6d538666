/* Loopback HTTP load: N keep-alive connections, one thread each, sending GET requests back to
 * back for a fixed time. Prints requests/s and latency percentiles.
 * usage: bench_http PORT CONNECTIONS SECONDS [PATH] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static const char *path = "/";
static atomic_int stop;

typedef struct {
    long done, errors;
    double *lat; /* microseconds */
    long cap;
} worker;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Reads one response with a small buffered reader; returns 0 on a 200. */
static int read_response(int fd, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        char *end = memmem(buf, *have, "\r\n\r\n", 4);
        if (end) {
            size_t hlen = (size_t)(end - buf) + 4;
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t blen = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
            while (*have < hlen + blen) {
                ssize_t k = recv(fd, buf + *have, cap - *have, 0);
                if (k <= 0) return -1;
                *have += (size_t)k;
            }
            int ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
            memmove(buf, buf + hlen + blen, *have - hlen - blen);
            *have -= hlen + blen;
            return ok ? 0 : -1;
        }
        if (*have == cap) return -1;
        ssize_t k = recv(fd, buf + *have, cap - *have, 0);
        if (k <= 0) return -1;
        *have += (size_t)k;
    }
}

static void *run(void *arg)
{
    worker *w = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    static __thread char buf[1 << 16];
    size_t have = 0;
    while (!atomic_load(&stop)) {
        double t0 = now_us();
        if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n || read_response(fd, buf, sizeof buf, &have)) {
            w->errors++;
            break;
        }
        if (w->done == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 1 << 16;
            w->lat = realloc(w->lat, (size_t)w->cap * sizeof *w->lat);
        }
        w->lat[w->done++] = now_us() - t0;
    }
    close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT CONNECTIONS SECONDS [PATH]\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    int conns = atoi(argv[2]);
    double secs = atof(argv[3]);
    if (argc > 4) path = argv[4];
    worker *w = calloc((size_t)conns, sizeof *w);
    pthread_t *t = calloc((size_t)conns, sizeof *t);
    double t0 = now_us();
    for (int i = 0; i < conns; i++) pthread_create(&t[i], NULL, run, &w[i]);
    usleep((useconds_t)(secs * 1e6));
    atomic_store(&stop, 1);
    long done = 0, errors = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(t[i], NULL);
        done += w[i].done;
        errors += w[i].errors;
    }
    double elapsed = (now_us() - t0) / 1e6;
    double *all = malloc((size_t)(done ? done : 1) * sizeof *all);
    long k = 0;
    for (int i = 0; i < conns; i++)
        for (long j = 0; j < w[i].done; j++) all[k++] = w[i].lat[j];
    qsort(all, (size_t)done, sizeof *all, cmp);
    printf("connections=%d requests=%ld errors=%ld seconds=%.2f req/s=%.0f p50=%.0fus "
           "p99=%.0fus\n",
           conns, done, errors, elapsed, done / elapsed, done ? all[done / 2] : 0.0,
           done ? all[done * 99 / 100] : 0.0);
    return errors ? 1 : 0;
}
