/* Tier-0 compile server: libtcc in a child per module, forked from a small single-threaded
 * process that is itself forked before main() (so before the server has threads or a big
 * address space). Each compile costs a fork of that small process instead of an exec of
 * tcc (dynamic loading, relocation and page faults: ~10 ms on this machine class).
 *
 * Safety is the exec path's: tcc only ever runs in the per-module child, with the same
 * rlimits, in the module's private directory, killed after the wall-clock timeout; a
 * crash, a signal, a non-zero exit or a timeout rejects the module. The server process
 * runs no compiler code itself. If it is not running (sanitizer builds, no libtcc,
 * KILN_WASM_NO_TCCD set, or it died), kiln__tccd_compile() returns 1 and the caller
 * execs tcc as before. */
#include "wasm_rt_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int kiln__tccd_use = 1;

#if defined(KILN_HAVE_LIBTCC) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#include <libtcc.h>

typedef struct {
    uint32_t cpu_s, timeout_ms;
    uint64_t as_bytes, fsize_bytes;
    char dir[4096];
} tccd_req;

enum { R_EXIT, R_SIGNAL, R_TIMEOUT, R_NOFORK };
typedef struct {
    int32_t kind, value;
    int64_t cpu_ns; /* the child's CPU time plus the server's for the fork */
} tccd_reply;

/* CPU time of compile children, which are not children of this process (RUSAGE_CHILDREN
 * misses them): benchmarks add it to their "CPU incl. children" figures. */
_Atomic int64_t kiln__tccd_cpu_ns;

static atomic_int tccd_fd = -1; /* requests (SOCK_SEQPACKET); -1: no server */
static pid_t tccd_pid;

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* ---- the per-module child: the only place tcc runs ---- */
static void __attribute__((noreturn)) compile_child(const tccd_req *q)
{
    kiln__child_limits(q->cpu_s, q->as_bytes, q->fsize_bytes);
    if (chdir(q->dir) != 0) _exit(126);
    int err = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (err < 0) _exit(126);
    dup2(err, 2);
    TCCState *s = tcc_new();
    if (!s) _exit(125);
    /* options before the output type: it adds crt files and include paths unless told not to */
    tcc_set_options(s, "-nostdlib -nostdinc");
    tcc_set_output_type(s, TCC_OUTPUT_DLL);
    if (tcc_add_file(s, "k.c") < 0) _exit(1);
    tcc_add_library_path(s, "{B}");
    if (tcc_add_library(s, "tcc1") < 0 || tcc_output_file(s, "t0.so") < 0) _exit(1);
    _exit(0);
}

/* ---- the server loop ---- */
#define TCCD_MAX 64

typedef struct {
    pid_t pid;
    int pidfd, reply;
    long deadline;
    int64_t fork_ns;
} job;

static int64_t tv_ns(struct timeval t)
{
    return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_usec * 1000;
}

static void finish(job *j, int status, const struct rusage *ru, bool timed_out)
{
    tccd_reply r = {R_EXIT, 0, j->fork_ns + tv_ns(ru->ru_utime) + tv_ns(ru->ru_stime)};
    if (timed_out)
        r.kind = R_TIMEOUT;
    else if (WIFSIGNALED(status))
        r.kind = R_SIGNAL, r.value = WTERMSIG(status);
    else
        r.value = WEXITSTATUS(status);
    (void)!send(j->reply, &r, sizeof r, MSG_NOSIGNAL);
    close(j->reply);
    close(j->pidfd);
}

static void start_job(int sock, job *jobs, int *n)
{
    tccd_req q;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&q, sizeof q};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf};
    ssize_t got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (got <= 0) {
        if (got == 0 || (errno != EINTR && errno != EAGAIN)) _exit(0); /* Kiln is gone */
        return;
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (!c || c->cmsg_type != SCM_RIGHTS) return;
    int reply;
    memcpy(&reply, CMSG_DATA(c), sizeof reply);
    q.dir[sizeof q.dir - 1] = 0;
    tccd_reply busy = {R_NOFORK, EAGAIN, 0};
    if ((size_t)got != sizeof q || *n == TCCD_MAX) {
        (void)!send(reply, &busy, sizeof busy, MSG_NOSIGNAL);
        close(reply);
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        syscall(SYS_close_range, 3u, ~0u, 0u); /* nothing of the server's reaches tcc */
        compile_child(&q);
    }
    int pfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    if (pfd < 0) {
        if (pid > 0) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
        busy.value = errno;
        (void)!send(reply, &busy, sizeof busy, MSG_NOSIGNAL);
        close(reply);
        return;
    }
    int64_t fork_ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    jobs[(*n)++] = (job){pid, pfd, reply, now_ms() + (long)q.timeout_ms, fork_ns};
}

static void __attribute__((noreturn)) serve(int sock)
{
    job jobs[TCCD_MAX];
    int n = 0;
    struct pollfd pf[TCCD_MAX + 1];
    for (;;) {
        long now = now_ms(), wait = -1;
        pf[0] = (struct pollfd){.fd = sock, .events = POLLIN};
        for (int i = 0; i < n; i++) {
            pf[i + 1] = (struct pollfd){.fd = jobs[i].pidfd, .events = POLLIN};
            long left = jobs[i].deadline - now;
            if (wait < 0 || left < wait) wait = left < 0 ? 0 : left;
        }
        if (poll(pf, (nfds_t)n + 1, (int)wait) < 0 && errno != EINTR) break;
        now = now_ms();
        for (int i = n - 1; i >= 0; i--) {
            int status = 0;
            struct rusage ru;
            memset(&ru, 0, sizeof ru);
            pid_t w = wait4(jobs[i].pid, &status, WNOHANG, &ru);
            if (w == jobs[i].pid) {
                finish(&jobs[i], status, &ru, false);
            } else if (w < 0 || now >= jobs[i].deadline) {
                kill(jobs[i].pid, SIGKILL);
                wait4(jobs[i].pid, &status, 0, &ru);
                finish(&jobs[i], status, &ru, true);
            } else {
                continue;
            }
            jobs[i] = jobs[--n];
        }
        if (pf[0].revents & POLLIN)
            start_job(sock, jobs, &n);
        else if (pf[0].revents & (POLLHUP | POLLERR))
            break;
    }
    for (int i = 0; i < n; i++)
        kill(jobs[i].pid, SIGKILL);
    _exit(0);
}

__attribute__((constructor)) static void tccd_start(void)
{
    const char *off = getenv("KILN_WASM_NO_TCCD");
    if (off && *off && strcmp(off, "0") != 0) return;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return;
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        close(sv[0]), close(sv[1]);
        return;
    }
    if (pid == 0) {
        close(sv[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_NAME, "kiln-tccd"); /* what ps shows */
        if (getppid() != parent) _exit(0);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
        signal(SIGPIPE, SIG_IGN);
        serve(sv[1]);
    }
    close(sv[1]);
    tccd_pid = pid;
    atomic_store(&tccd_fd, sv[0]);
}

static void server_gone(int fd)
{
    int expect = fd;
    if (atomic_compare_exchange_strong(&tccd_fd, &expect, -1)) {
        close(fd);
        waitpid(tccd_pid, NULL, WNOHANG);
    }
}

int kiln__tccd_compile(const char *dir, uint32_t cpu_s, uint64_t as_bytes, uint64_t fsize_bytes,
                       uint32_t timeout_ms, char *why, size_t cap)
{
    int fd = atomic_load(&tccd_fd);
    if (fd < 0 || !kiln__tccd_use) return 1;
    tccd_req q = {cpu_s, timeout_ms, as_bytes, fsize_bytes, {0}};
    if (strlen(dir) >= sizeof q.dir) return 1;
    strcpy(q.dir, dir);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return 1;
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {&q, sizeof q};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
    ssize_t sent;
    do
        sent = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    close(sv[1]);
    if (sent != (ssize_t)sizeof q) {
        close(sv[0]);
        server_gone(fd);
        return 1;
    }
    /* the server enforces timeout_ms; the margin only covers a wedged server */
    tccd_reply r;
    ssize_t got = -1;
    long until = now_ms() + (long)timeout_ms + 10000;
    for (;;) {
        struct pollfd pf = {.fd = sv[0], .events = POLLIN};
        long left = until - now_ms();
        if (left <= 0 || (poll(&pf, 1, (int)left) < 0 && errno != EINTR)) break;
        if (!pf.revents) continue;
        got = recv(sv[0], &r, sizeof r, 0);
        if (got < 0 && errno == EINTR) continue;
        break;
    }
    close(sv[0]);
    if (got != (ssize_t)sizeof r) {
        server_gone(fd);
        return 1;
    }
    atomic_fetch_add(&kiln__tccd_cpu_ns, r.cpu_ns);
    switch (r.kind) {
    case R_EXIT:
        if (r.value == 0) return 0;
        {
            char path[4200];
            snprintf(path, sizeof path, "%s/stderr.txt", dir);
            char line[200] = "";
            FILE *f = fopen(path, "re");
            if (f) {
                if (!fgets(line, sizeof line, f)) line[0] = 0;
                fclose(f);
            }
            line[strcspn(line, "\n")] = 0;
            snprintf(why, cap, "tcc failed (exit %d): %s", r.value, line);
        }
        return -1;
    case R_SIGNAL:
        snprintf(why, cap, "tcc killed by signal %d%s", r.value,
                 r.value == SIGXCPU ? " (CPU limit)" : "");
        return -1;
    case R_TIMEOUT:
        snprintf(why, cap, "tcc timed out after %u ms", timeout_ms);
        return -1;
    default: /* could not fork: let the caller exec tcc */
        return 1;
    }
}

bool kiln__tccd_running(void)
{
    return atomic_load(&tccd_fd) >= 0;
}

int kiln__tccd_pid(void)
{
    return atomic_load(&tccd_fd) >= 0 ? (int)tccd_pid : -1;
}

#else /* no libtcc, or a sanitizer build: always the exec path */

_Atomic int64_t kiln__tccd_cpu_ns;

int kiln__tccd_compile(const char *dir, uint32_t cpu_s, uint64_t as_bytes, uint64_t fsize_bytes,
                       uint32_t timeout_ms, char *why, size_t cap)
{
    (void)dir, (void)cpu_s, (void)as_bytes, (void)fsize_bytes, (void)timeout_ms, (void)why,
        (void)cap;
    return 1;
}

bool kiln__tccd_running(void)
{
    return false;
}

int kiln__tccd_pid(void)
{
    return -1;
}

#endif
