/* LD_PRELOAD shim for the power-loss test: after every successful fsync/fdatasync it appends
 * "<path> <size>\n" to $KILN_SYNC_LOG, so the test knows how many bytes of each file the kernel
 * had made durable. After a SIGKILL the test cuts every file back to that size — what a power
 * cut would leave of data that was written but never synced — and checks that every
 * acknowledged write is still there. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void record(int fd)
{
    const char *log = getenv("KILN_SYNC_LOG");
    if (!log) return;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char line[4200];
    int len = snprintf(line, sizeof line, "%s %lld\n", path, (long long)st.st_size);
    int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (out < 0) return;
    if (write(out, line, (size_t)len) < 0) { /* best effort: the test then sees less synced */ }
    close(out);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int rc = real(fd);
    if (rc == 0) record(fd);
    return rc;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int rc = real(fd);
    if (rc == 0) record(fd);
    return rc;
}
