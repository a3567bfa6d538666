#include "core/fs.h"
#include "core/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int kiln_fs_mkdirs(const char *path, kiln_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return kiln_fail(err, KILN_E_IO, "path too long: %s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return kiln_fail(err, KILN_E_IO, "mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return kiln_fail(err, KILN_E_IO, "mkdir %s: %s", tmp, strerror(errno));
    return 0;
}

int kiln_fs_fsync_dir(const char *path, kiln_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return kiln_fail(err, KILN_E_IO, "open dir %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) return kiln_fail(err, KILN_E_IO, "fsync dir %s: %s", path, strerror(e));
    return 0;
}

int kiln_fs_write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes every byte of iov[0..n), IOV_MAX pieces at a time; 0 or -errno. */
static int kiln__writev_full(int fd, const struct iovec *iov, size_t n)
{
    struct iovec v[IOV_MAX];
    size_t at = 0, skip = 0; /* iov[at] is written up to skip bytes */
    while (at < n) {
        int k = 0;
        for (size_t i = at; i < n && k < IOV_MAX; i++, k++)
            v[k] = i == at ? (struct iovec){(char *)iov[i].iov_base + skip, iov[i].iov_len - skip}
                           : iov[i];
        ssize_t w = writev(fd, v, k);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        size_t left = (size_t)w;
        while (at < n && left >= iov[at].iov_len - skip) {
            left -= iov[at].iov_len - skip;
            at++;
            skip = 0;
        }
        skip += left;
    }
    return 0;
}

int kiln_fs_finish_tmp(int fd, int rc, const char *tmp, const char *path, kiln_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    close(fd);
    if (rc != 0) {
        unlink(tmp);
        return kiln_fail(err, KILN_E_IO, "write %s: %s", tmp, strerror(-rc));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return kiln_fail(err, KILN_E_IO, "rename %s: %s", path, strerror(e));
    }
    return kiln_fs_fsync_dir(dirname(dir), err);
}

int kiln_fs_write_atomic_v(const char *path, const struct iovec *iov, size_t n, kiln_error *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return kiln_fail(err, KILN_E_IO, "create %s: %s", tmp, strerror(errno));
    return kiln_fs_finish_tmp(fd, kiln__writev_full(fd, iov, n), tmp, path, err);
}

int kiln_fs_write_atomic(const char *path, const void *data, size_t len, kiln_error *err)
{
    struct iovec v = {(void *)data, len};
    return kiln_fs_write_atomic_v(path, &v, 1, err);
}

int kiln_fs_read_all(const char *path, char **out, size_t *len, kiln_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kiln_fail(err, KILN_E_IO, "open %s: %s", path, strerror(errno));
    kiln_buf b = KILN_BUF_INIT;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            kiln_buf_free(&b);
            return kiln_fail(err, KILN_E_IO, "read %s: %s", path, strerror(e));
        }
        if (n == 0) break;
        kiln_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    *out = kiln_buf_steal(&b, len);
    return 0;
}

static int kiln__rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int kiln_fs_remove_tree(const char *path, kiln_error *err)
{
    if (!kiln_fs_exists(path)) return 0;
    if (nftw(path, kiln__rm_entry, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return kiln_fail(err, KILN_E_IO, "remove %s: %s", path, strerror(errno));
    return 0;
}

int kiln_fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
