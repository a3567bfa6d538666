#include "core/fs.h"
#include "index/wal.h"
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct {
    int n;
    char last[64];
} replay_log;

static int collect(uint32_t type, const void *payload, size_t len, void *ctx, kiln_error *err)
{
    replay_log *r = ctx;
    r->n++;
    snprintf(r->last, sizeof r->last, "%u:%.*s", type, (int)len, (const char *)payload);
    return 0;
}

static void test_append_sync_replay(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "wal");
    kiln_error err;
    kiln_wal *w = kiln_wal_open(dir, 0, NULL, NULL, &err);
    CHECK(w != NULL);
    uint64_t lsn = 0;
    char rec[32];
    for (int i = 0; i < 100; i++) {
        snprintf(rec, sizeof rec, "record-%d", i);
        lsn = kiln_wal_append(w, 7, rec, strlen(rec), &err);
        CHECK(lsn > 0);
    }
    CHECK_INT(kiln_wal_sync(w, lsn, &err), 0);
    kiln_wal_close(w);
    replay_log r = {0};
    w = kiln_wal_open(dir, 0, collect, &r, &err);
    CHECK(w != NULL);
    CHECK_INT(r.n, 100);
    CHECK_STR(r.last, "7:record-99");
    kiln_wal_close(w);
    kiln_fs_remove_tree(dir, NULL);
}

/* Appends are gathered in memory: a sync writes everything appended before it to the file
 * (what is synced is in the file, checked before any close), more than the 1 MiB buffer is
 * written without a sync, and the file always ends on a whole record. */
static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void test_buffered_appends(void)
{
    char dir[256], path[400];
    kiln_test_tmpdir(dir, sizeof dir, "wal");
    snprintf(path, sizeof path, "%s/translog-000000.log", dir);
    kiln_error err;
    kiln_wal *w = kiln_wal_open(dir, 0, NULL, NULL, &err);
    CHECK(w != NULL);
    static char rec[1000];
    memset(rec, 'x', sizeof rec);
    uint64_t lsn = 0;
    for (int i = 0; i < 10; i++)
        lsn = kiln_wal_append(w, 1, rec, sizeof rec, &err);
    CHECK_INT(kiln_wal_sync(w, lsn, &err), 0);
    CHECK_INT(file_size(path), (int64_t)lsn); /* synced bytes are in the file */
    for (int i = 0; i < 34000; i++) /* 34.5 MB: past the 32 MB the log buffers before a sync */
        lsn = kiln_wal_append(w, 1, rec, sizeof rec, &err);
    int64_t mid = file_size(path);
    CHECK(mid > 10 * 1016 && mid < (int64_t)lsn);   /* written past the buffer, not all */
    CHECK_INT(mid % (int64_t)(16 + sizeof rec), 0); /* whole records */
    CHECK_INT(kiln_wal_sync(w, lsn, &err), 0);
    CHECK_INT(file_size(path), (int64_t)lsn);
    kiln_wal_close(w);
    replay_log r = {0};
    w = kiln_wal_open(dir, 0, collect, &r, &err);
    CHECK_INT(r.n, 34010);
    kiln_wal_close(w);
    kiln_fs_remove_tree(dir, NULL);
}

/* A crash mid-append leaves a partial record: replay keeps everything before it, truncates the
 * tail, and new appends continue after the last good record. */
static void test_torn_tail_is_truncated(void)
{
    char dir[256], path[400];
    kiln_test_tmpdir(dir, sizeof dir, "wal");
    kiln_error err;
    kiln_wal *w = kiln_wal_open(dir, 0, NULL, NULL, &err);
    kiln_wal_sync(w, kiln_wal_append(w, 1, "alpha", 5, &err), &err);
    kiln_wal_sync(w, kiln_wal_append(w, 1, "beta", 4, &err), &err);
    kiln_wal_close(w);
    snprintf(path, sizeof path, "%s/translog-000000.log", dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    /* header claiming 100 bytes, then only 3 */
    unsigned char torn[19] = {100, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 'x', 'y', 'z'};
    CHECK_INT(write(fd, torn, sizeof torn), (long)sizeof torn);
    close(fd);
    replay_log r = {0};
    w = kiln_wal_open(dir, 0, collect, &r, &err);
    CHECK(w != NULL);
    CHECK_INT(r.n, 2);
    CHECK_STR(r.last, "1:beta");
    kiln_wal_sync(w, kiln_wal_append(w, 1, "gamma", 5, &err), &err);
    kiln_wal_close(w);
    memset(&r, 0, sizeof r);
    w = kiln_wal_open(dir, 0, collect, &r, &err);
    CHECK_INT(r.n, 3);
    CHECK_STR(r.last, "1:gamma");
    kiln_wal_close(w);
    kiln_fs_remove_tree(dir, NULL);
}

/* A flipped bit in a record's payload ends the log at that record. */
static void test_corrupt_record_ends_log(void)
{
    char dir[256], path[400];
    kiln_test_tmpdir(dir, sizeof dir, "wal");
    kiln_error err;
    kiln_wal *w = kiln_wal_open(dir, 0, NULL, NULL, &err);
    for (int i = 0; i < 3; i++)
        kiln_wal_sync(w, kiln_wal_append(w, 2, "0123456789", 10, &err), &err);
    kiln_wal_close(w);
    snprintf(path, sizeof path, "%s/translog-000000.log", dir);
    int fd = open(path, O_RDWR);
    CHECK(pwrite(fd, "X", 1, 26 + 16 + 3) == 1); /* inside the second record's payload */
    close(fd);
    replay_log r = {0};
    w = kiln_wal_open(dir, 0, collect, &r, &err);
    CHECK_INT(r.n, 1);
    kiln_wal_close(w);
    kiln_fs_remove_tree(dir, NULL);
}

static void test_roll_and_drop(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "wal");
    kiln_error err;
    kiln_wal *w = kiln_wal_open(dir, 0, NULL, NULL, &err);
    kiln_wal_append(w, 1, "old", 3, &err);
    uint64_t gen;
    CHECK_INT(kiln_wal_roll(w, &gen, &err), 0);
    CHECK_INT(gen, 1);
    kiln_wal_sync(w, kiln_wal_append(w, 1, "new", 3, &err), &err);
    kiln_wal_drop_before(w, gen);
    kiln_wal_close(w);
    replay_log r = {0};
    w = kiln_wal_open(dir, gen, collect, &r, &err);
    CHECK_INT(r.n, 1);
    CHECK_STR(r.last, "1:new");
    kiln_wal_close(w);
    kiln_fs_remove_tree(dir, NULL);
}

typedef struct {
    kiln_wal *w;
    const char *path;
    int failures;
} writer_arg;

/* Appends and syncs; a sync must leave the record in the file even while other threads append
 * during its drain (the drain writes without the lock). */
static void *writer(void *p)
{
    writer_arg *a = p;
    kiln_error err;
    for (int i = 0; i < 500; i++) {
        uint64_t lsn = kiln_wal_append(a->w, 3, "concurrent", 10, &err);
        if (!lsn || kiln_wal_sync(a->w, lsn, &err) || file_size(a->path) < (int64_t)lsn)
            a->failures++;
    }
    return NULL;
}

/* Group commit: many writers syncing at once all succeed and nothing is lost. */
static void test_concurrent_group_commit(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "wal");
    kiln_error err;
    kiln_wal *w = kiln_wal_open(dir, 0, NULL, NULL, &err);
    char path[400];
    snprintf(path, sizeof path, "%s/translog-000000.log", dir);
    pthread_t t[4];
    writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (writer_arg){w, path, 0};
        pthread_create(&t[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(args[i].failures, 0);
    }
    kiln_wal_close(w);
    replay_log r = {0};
    w = kiln_wal_open(dir, 0, collect, &r, &err);
    CHECK_INT(r.n, 2000);
    kiln_wal_close(w);
    kiln_fs_remove_tree(dir, NULL);
}

/* A record appended in parts replays as their concatenation, with a valid checksum. */
static void test_appendv_parts(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "walv");
    kiln_error err;
    kiln_wal *w = kiln_wal_open(dir, 0, NULL, NULL, &err);
    CHECK(w != NULL);
    struct iovec parts[3] = {{(void *)"head-", 5}, {(void *)"", 0}, {(void *)"tail", 4}};
    uint64_t lsn = kiln_wal_appendv(w, 3, parts, 3, &err);
    CHECK(lsn > 0);
    lsn = kiln_wal_append(w, 4, "whole", 5, &err);
    CHECK_INT(kiln_wal_sync(w, lsn, &err), 0);
    kiln_wal_close(w);
    replay_log r = {0};
    w = kiln_wal_open(dir, 0, collect, &r, &err);
    CHECK(w != NULL);
    CHECK_INT(r.n, 2); /* a bad checksum would have ended the log at the first record */
    CHECK_STR(r.last, "4:whole");
    kiln_wal_close(w);
    r = (replay_log){0};
    /* only the first record: cut the file after it and replay */
    char path[400];
    snprintf(path, sizeof path, "%s/translog-000000.log", dir);
    if (truncate(path, 16 + 9) == 0) {
        w = kiln_wal_open(dir, 0, collect, &r, &err);
        CHECK(w != NULL);
        CHECK_STR(r.last, "3:head-tail");
        kiln_wal_close(w);
    }
    kiln_fs_remove_tree(dir, NULL);
}

KT_MAIN(KT_CASE(test_appendv_parts), KT_CASE(test_buffered_appends),
        KT_CASE(test_append_sync_replay), KT_CASE(test_torn_tail_is_truncated),
        KT_CASE(test_corrupt_record_ends_log), KT_CASE(test_roll_and_drop),
        KT_CASE(test_concurrent_group_commit))
