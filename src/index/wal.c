#include "index/wal.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#define KILN_WAL_HEADER 16
#define KILN_WAL_MAX_RECORD (1u << 30)

struct kiln_wal {
    char dir[1024];
    int fd;
    uint64_t gen;
    uint64_t gen_base;    /* LSN at which the current generation starts */
    uint64_t gen_bytes;   /* bytes in the current generation */
    pthread_mutex_t lock; /* guards everything below and the append position */
    pthread_cond_t synced_cv;
    uint64_t written_lsn; /* end of the last appended record */
    kiln_buf pending;     /* appended records not yet written to fd: the last pending.len
                             bytes before written_lsn (one write per many records) */
    kiln_buf spare;       /* an empty buffer with capacity, swapped in for pending by a drain */
    int draining;         /* a drain writes its records to fd, without the lock */
    pthread_cond_t drained_cv;
    uint64_t file_lsn;    /* everything below has been written to fd */
    uint64_t synced_lsn;  /* everything below is durable */
    int syncing;          /* one thread syncs (drains, then fdatasync) */
    int failed;           /* an I/O error happened: the log refuses writes from now on */
    char fail_reason[256];
};

static void kiln__wal_path(const kiln_wal *w, uint64_t gen, char *out, size_t cap)
{
    snprintf(out, cap, "%s/translog-%06" PRIu64 ".log", w->dir, gen);
}

static uint64_t kiln__record_sum(uint32_t type, const void *payload, size_t len)
{
    /* xxh3 over the type then the payload, without copying: seed with the type. */
    return kiln_checksum(payload, len) ^ ((uint64_t)type * 0x9E3779B97F4A7C15ull);
}

static void kiln__put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t kiln__get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Replays one generation; truncates a torn or corrupt tail. */
static int kiln__wal_replay_file(kiln_wal *w, const char *path, kiln_wal_replay_fn fn, void *ctx,
                                 uint64_t *valid_len, kiln_error *err)
{
    char *data;
    size_t len;
    if (kiln_fs_read_all(path, &data, &len, err)) return -1;
    size_t off = 0;
    int rc = 0;
    while (off + KILN_WAL_HEADER <= len) {
        const uint8_t *h = (const uint8_t *)data + off;
        uint32_t plen = kiln__get32(h), type = kiln__get32(h + 4);
        uint64_t sum;
        memcpy(&sum, h + 8, 8);
        if (plen > KILN_WAL_MAX_RECORD || off + KILN_WAL_HEADER + plen > len) break;
        if (kiln__record_sum(type, h + KILN_WAL_HEADER, plen) != sum) break;
        if (fn && (rc = fn(type, h + KILN_WAL_HEADER, plen, ctx, err)) != 0) goto done;
        off += KILN_WAL_HEADER + plen;
    }
    if (off != len) {
        KILN_WARN("wal", "%s: discarding %zu bytes of torn or corrupt tail at offset %zu", path,
                  len - off, off);
        if (truncate(path, (off_t)off) != 0) {
            rc = kiln_fail(err, KILN_E_IO, "truncate %s: %s", path, strerror(errno));
            goto done;
        }
    }
    *valid_len = off;
done:
    free(data);
    return rc;
}

static int kiln__gen_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Generations present in dir, sorted. */
static uint64_t *kiln__wal_list(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    uint64_t *gens = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t g;
        char tail[8];
        if (sscanf(e->d_name, "translog-%" SCNu64 ".%7s", &g, tail) == 2 &&
            strcmp(tail, "log") == 0) {
            if (*n == cap) gens = kiln_xrealloc(gens, (cap = cap ? cap * 2 : 8) * sizeof *gens);
            gens[(*n)++] = g;
        }
    }
    closedir(d);
    if (*n) qsort(gens, *n, sizeof *gens, kiln__gen_cmp);
    return gens;
}

static int kiln__wal_open_gen(kiln_wal *w, uint64_t gen, kiln_error *err)
{
    char path[1200];
    kiln__wal_path(w, gen, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return kiln_fail(err, KILN_E_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return kiln_fail(err, KILN_E_IO, "stat %s: %s", path, strerror(errno));
    }
    if (w->fd >= 0) close(w->fd);
    w->fd = fd;
    w->gen = gen;
    w->gen_base = w->written_lsn;
    w->gen_bytes = (uint64_t)st.st_size;
    /* The new file's directory entry must be durable before records in it count. */
    return kiln_fs_fsync_dir(w->dir, err);
}

kiln_wal *kiln_wal_open(const char *dir, uint64_t min_gen, kiln_wal_replay_fn fn, void *ctx,
                        kiln_error *err)
{
    kiln_wal *w = kiln_xcalloc(1, sizeof *w);
    w->fd = -1;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->synced_cv, NULL);
    pthread_cond_init(&w->drained_cv, NULL);
    if (kiln_fs_mkdirs(dir, err)) goto fail;
    size_t n;
    uint64_t *gens = kiln__wal_list(dir, &n);
    uint64_t last = min_gen;
    for (size_t i = 0; i < n; i++) {
        char path[1200];
        kiln__wal_path(w, gens[i], path, sizeof path);
        if (gens[i] < min_gen) {
            unlink(path); /* already captured by a commit point */
            continue;
        }
        uint64_t valid = 0;
        if (kiln__wal_replay_file(w, path, fn, ctx, &valid, err)) {
            free(gens);
            goto fail;
        }
        w->written_lsn += valid;
        last = gens[i];
    }
    free(gens);
    w->synced_lsn = w->file_lsn = w->written_lsn;
    if (kiln__wal_open_gen(w, last, err)) goto fail;
    return w;
fail:
    kiln_wal_close(w);
    return NULL;
}

uint64_t kiln_wal_append(kiln_wal *w, uint32_t type, const void *payload, size_t len,
                         kiln_error *err)
{
    struct iovec part = {(void *)payload, len};
    return kiln_wal_appendv(w, type, &part, 1, err);
}

/* The record checksum over a payload given in parts: XXH3's streaming form gives the same
 * value as the one-shot hash of the concatenation, so no contiguous copy is needed. */
static uint64_t kiln__record_sum_v(uint32_t type, const struct iovec *parts, int nparts)
{
    if (nparts == 1) return kiln__record_sum(type, parts[0].iov_base, parts[0].iov_len);
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (int i = 0; i < nparts; i++)
        XXH3_64bits_update(&st, parts[i].iov_base, parts[i].iov_len);
    return XXH3_64bits_digest(&st) ^ ((uint64_t)type * 0x9E3779B97F4A7C15ull);
}

/* Records are gathered in memory and written by the next sync (which must write them anyway),
 * outside the shard's lock, or, past this much, by the appender: a _bulk request's records are
 * written by its own sync, not under the lock the other requests wait for. */
#define KILN__WAL_BUFFER (32u << 20)

static void kiln__wal_failed(kiln_wal *w, const char *what, int e)
{
    w->failed = 1;
    snprintf(w->fail_reason, sizeof w->fail_reason, "%s: %s", what,
             e ? strerror(e) : "short write");
    KILN_ERROR("wal", "%s: %s", w->dir, w->fail_reason);
}

/* Writes the pending records to the file; called and returns with the lock held, which it
 * drops during the write: appenders go on filling a fresh buffer meanwhile, and one drain at a
 * time keeps the file in LSN order. Afterwards file_lsn covers every record appended before
 * the call. -1 when the log failed. */
static int kiln__wal_drain(kiln_wal *w)
{
    while (w->draining)
        pthread_cond_wait(&w->drained_cv, &w->lock);
    if (w->failed) return -1;
    if (!w->pending.len) return 0;
    kiln_buf out = w->pending;
    uint64_t upto = w->written_lsn;
    w->pending = w->spare;
    w->spare = (kiln_buf)KILN_BUF_INIT;
    w->draining = 1;
    int fd = w->fd;
    pthread_mutex_unlock(&w->lock);
    size_t done = 0;
    int e = 0;
    while (done < out.len) {
        ssize_t r = write(fd, out.data + done, out.len - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            e = r < 0 ? errno : 0;
            break;
        }
        done += (size_t)r;
    }
    pthread_mutex_lock(&w->lock);
    if (done < out.len)
        kiln__wal_failed(w, "write", e);
    else
        w->file_lsn = upto;
    kiln_buf_reset(&out);
    if (!w->spare.cap && out.cap <= 4 * KILN__WAL_BUFFER)
        w->spare = out;
    else
        kiln_buf_free(&out);
    w->draining = 0;
    pthread_cond_broadcast(&w->drained_cv);
    return w->failed ? -1 : 0;
}

uint64_t kiln_wal_appendv(kiln_wal *w, uint32_t type, const struct iovec *parts, int nparts,
                          kiln_error *err)
{
    size_t len = 0;
    for (int i = 0; i < nparts; i++)
        len += parts[i].iov_len;
    if (len > KILN_WAL_MAX_RECORD || nparts > KILN_WAL_MAX_PARTS) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "record of %zu bytes is too large", len);
        return 0;
    }
    uint8_t h[KILN_WAL_HEADER];
    kiln__put32(h, (uint32_t)len);
    kiln__put32(h + 4, type);
    uint64_t sum = kiln__record_sum_v(type, parts, nparts);
    memcpy(h + 8, &sum, 8);
    pthread_mutex_lock(&w->lock);
    if (w->failed) {
        kiln_fail(err, KILN_E_IO, "the write-ahead log failed earlier (%s); writes are refused",
                  w->fail_reason);
        pthread_mutex_unlock(&w->lock);
        return 0;
    }
    kiln_buf_append(&w->pending, h, sizeof h);
    for (int i = 0; i < nparts; i++)
        kiln_buf_append(&w->pending, parts[i].iov_base, parts[i].iov_len);
    size_t total = sizeof h + len;
    if (w->pending.len >= KILN__WAL_BUFFER && kiln__wal_drain(w)) {
        kiln_fail(err, KILN_E_IO, "write-ahead log %s", w->fail_reason);
        pthread_mutex_unlock(&w->lock);
        return 0;
    }
    w->written_lsn += total;
    w->gen_bytes += total;
    uint64_t lsn = w->written_lsn;
    pthread_mutex_unlock(&w->lock);
    return lsn;
}

int kiln_wal_sync(kiln_wal *w, uint64_t lsn, kiln_error *err)
{
    pthread_mutex_lock(&w->lock);
    for (;;) {
        if (w->failed) {
            pthread_mutex_unlock(&w->lock);
            return kiln_fail(err, KILN_E_IO, "the write-ahead log failed (%s); writes are refused",
                             w->fail_reason);
        }
        if (w->synced_lsn >= lsn) break;
        if (w->syncing) {
            pthread_cond_wait(&w->synced_cv, &w->lock);
            continue;
        }
        /* Become the syncer for everything appended so far: later writers join the next round.
         * The drain writes it (appenders are not held up meanwhile); fdatasync covers what the
         * file had when it starts. */
        w->syncing = 1;
        if (kiln__wal_drain(w)) {
            w->syncing = 0;
            pthread_cond_broadcast(&w->synced_cv);
            continue; /* failed: reported above */
        }
        uint64_t target = w->file_lsn;
        int fd = w->fd;
        pthread_mutex_unlock(&w->lock);
        int rc = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&w->lock);
        w->syncing = 0;
        if (rc != 0) {
            /* Never retry a failed fsync: the kernel may have dropped the dirty pages. */
            w->failed = 1;
            snprintf(w->fail_reason, sizeof w->fail_reason, "fdatasync: %s", strerror(e));
            KILN_ERROR("wal", "%s: %s", w->dir, w->fail_reason);
        } else if (target > w->synced_lsn) {
            w->synced_lsn = target;
        }
        pthread_cond_broadcast(&w->synced_cv);
    }
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int kiln_wal_roll(kiln_wal *w, uint64_t *new_gen, kiln_error *err)
{
    pthread_mutex_lock(&w->lock);
    /* Everything in the old generation must be durable before we stop syncing its file. */
    while (w->syncing)
        pthread_cond_wait(&w->synced_cv, &w->lock);
    int rc = 0;
    if (kiln__wal_drain(w)) {
        rc = kiln_fail(err, KILN_E_IO, "write-ahead log %s", w->fail_reason);
        goto out;
    }
    /* the caller holds the shard's write lock: nothing was appended during the drain */
    if (w->synced_lsn < w->written_lsn) {
        if (fdatasync(w->fd) != 0) {
            w->failed = 1;
            snprintf(w->fail_reason, sizeof w->fail_reason, "fdatasync: %s", strerror(errno));
            rc = kiln_fail(err, KILN_E_IO, "write-ahead log %s", w->fail_reason);
            goto out;
        }
        w->synced_lsn = w->written_lsn;
    }
    rc = kiln__wal_open_gen(w, w->gen + 1, err);
    if (rc == 0) {
        w->gen_bytes = 0;
        *new_gen = w->gen;
    }
out:
    pthread_mutex_unlock(&w->lock);
    return rc;
}

void kiln_wal_drop_before(kiln_wal *w, uint64_t gen)
{
    size_t n;
    uint64_t *gens = kiln__wal_list(w->dir, &n);
    for (size_t i = 0; i < n; i++) {
        if (gens[i] >= gen) continue;
        char path[1200];
        kiln__wal_path(w, gens[i], path, sizeof path);
        unlink(path);
    }
    free(gens);
}

uint64_t kiln_wal_generation(const kiln_wal *w)
{
    return w->gen;
}

uint64_t kiln_wal_size(const kiln_wal *w)
{
    return w->gen_bytes;
}

void kiln_wal_close(kiln_wal *w)
{
    if (!w) return;
    if (w->fd >= 0) {
        if (!w->failed && kiln__wal_drain(w) == 0) fdatasync(w->fd);
        close(w->fd);
    }
    kiln_buf_free(&w->pending);
    kiln_buf_free(&w->spare);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->synced_cv);
    pthread_cond_destroy(&w->drained_cv);
    free(w);
}
