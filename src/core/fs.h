/* File-system helpers with the durability rules Kiln relies on: every "atomic" write is
 * write-to-temp, fsync, rename, fsync of the directory. */
#ifndef KILN_FS_H
#define KILN_FS_H

#include "core/error.h"

#include <stddef.h>
#include <sys/uio.h>

int kiln_fs_mkdirs(const char *path, kiln_error *err);
int kiln_fs_fsync_dir(const char *path, kiln_error *err);
/* Replaces path with data durably (temp file + fsync + rename + directory fsync). */
int kiln_fs_write_atomic(const char *path, const void *data, size_t len, kiln_error *err);
/* Finishes the temp file tmp written through fd for path: rc (0, or -errno of a failed write),
 * then fsync, close, rename into place and fsync of the directory; the temp file is removed on
 * any failure. For writers that stream a file themselves. */
int kiln_fs_finish_tmp(int fd, int rc, const char *tmp, const char *path, kiln_error *err);
/* The same from pieces (no copy into one buffer first). */
int kiln_fs_write_atomic_v(const char *path, const struct iovec *iov, size_t n, kiln_error *err);
/* Reads a whole file; *out is malloc'd and NUL-terminated (caller frees). */
int kiln_fs_read_all(const char *path, char **out, size_t *len, kiln_error *err);
/* Removes a directory tree; missing is fine. */
int kiln_fs_remove_tree(const char *path, kiln_error *err);
int kiln_fs_exists(const char *path);
/* Writes all of len bytes, retrying short writes and EINTR. Returns 0 or -errno. */
int kiln_fs_write_full(int fd, const void *data, size_t len);

#endif
