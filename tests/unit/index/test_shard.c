#include "core/fs.h"
#include "index/shard.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static kiln_shard *open_shard(const char *dir, uint64_t flush_bytes)
{
    kiln_error err;
    kiln_shard *s = kiln_shard_open(dir, 0, flush_bytes, KILN_ZCODEC_LZ4, &err);
    if (!s) fprintf(stderr, "open: %s\n", err.reason);
    return s;
}

static int put(kiln_shard *s, const char *id, const char *src, kiln_doc_meta *meta,
               kiln_result *res)
{
    kiln_error err;
    kiln_write_opts o = KILN_WRITE_OPTS_INIT;
    uint64_t lsn;
    int rc = kiln_shard_index(s, id, strlen(id), src, strlen(src), NULL, &o, meta, res, &lsn, &err);
    if (rc == 0) rc = kiln_shard_sync(s, lsn, &err);
    return rc;
}

static void expect_source(kiln_shard *s, const char *id, const char *src)
{
    kiln_doc_meta meta;
    kiln_buf b = KILN_BUF_INIT;
    int found = kiln_shard_get(s, id, strlen(id), &meta, &b);
    CHECK_INT(found, src != NULL);
    if (found && src) CHECK_MEM(b.data, b.len, src);
    kiln_buf_free(&b);
}

static void test_versions_and_results(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "shard");
    kiln_shard *s = open_shard(dir, 1 << 30);
    kiln_doc_meta m;
    kiln_result r;
    CHECK_INT(put(s, "1", "{\"a\": 1}", &m, &r), 0);
    CHECK_INT(r, KILN_RESULT_CREATED);
    CHECK_INT(m.version, 1);
    CHECK_INT(m.seq_no, 0);
    CHECK_INT(put(s, "1", "{\"a\": 2}", &m, &r), 0);
    CHECK_INT(r, KILN_RESULT_UPDATED);
    CHECK_INT(m.version, 2);
    CHECK_INT(m.seq_no, 1);
    expect_source(s, "1", "{\"a\": 2}");

    kiln_error err;
    kiln_write_opts o = KILN_WRITE_OPTS_INIT;
    uint64_t lsn;
    o.op_create = 1;
    CHECK(kiln_shard_index(s, "1", 1, "{}", 2, NULL, &o, &m, &r, &lsn, &err) < 0);
    CHECK_INT(err.code, KILN_E_VERSION_CONFLICT);
    o = (kiln_write_opts)KILN_WRITE_OPTS_INIT;
    o.if_seq_no = 0;
    o.if_primary_term = 1;
    CHECK(kiln_shard_index(s, "1", 1, "{}", 2, NULL, &o, &m, &r, &lsn, &err) < 0);
    CHECK_INT(err.code, KILN_E_VERSION_CONFLICT);
    o.if_seq_no = 1;
    CHECK_INT(kiln_shard_index(s, "1", 1, "{}", 2, NULL, &o, &m, &r, &lsn, &err), 0);
    CHECK_INT(m.version, 3);

    o = (kiln_write_opts)KILN_WRITE_OPTS_INIT;
    CHECK_INT(kiln_shard_delete(s, "1", 1, &o, &m, &r, &lsn, &err), 0);
    CHECK_INT(r, KILN_RESULT_DELETED);
    CHECK_INT(m.version, 4);
    expect_source(s, "1", NULL);
    CHECK_INT(kiln_shard_delete(s, "1", 1, &o, &m, &r, &lsn, &err), 0);
    CHECK_INT(r, KILN_RESULT_NOT_FOUND);
    /* Re-creating after a delete continues the version, as Elasticsearch does. */
    CHECK_INT(put(s, "1", "{}", &m, &r), 0);
    CHECK_INT(r, KILN_RESULT_CREATED);
    CHECK_INT(m.version, 6);
    kiln_shard_stats st;
    kiln_shard_stats_get(s, &st);
    CHECK_INT(st.docs, 1);
    kiln_shard_close(s);
    kiln_fs_remove_tree(dir, NULL);
}

/* The crash tests' document i: id "doc<i>" (id[32]) and a padded source (src[128]). */
static void crash_doc(char *id, char *src, int i)
{
    snprintf(id, 32, "doc%d", i);
    snprintf(src, 128, "{\"n\": %d, \"pad\": \"%0*d\"}", i, 40, i);
}

/* Writes the test's documents and deletes, then dies without closing (no final flush). */
static void crash_writer(const char *dir)
{
    kiln_shard *s = open_shard(dir, 4096); /* a tiny threshold forces many commit points */
    kiln_doc_meta m;
    kiln_result r;
    char id[32], src[128];
    for (int i = 0; i < 500; i++) {
        crash_doc(id, src, i);
        if (put(s, id, src, &m, &r)) _exit(3);
    }
    kiln_error err;
    kiln_write_opts o = KILN_WRITE_OPTS_INIT;
    uint64_t lsn = 0;
    for (int i = 0; i < 500; i += 7) {
        snprintf(id, sizeof id, "doc%d", i);
        if (kiln_shard_delete(s, id, strlen(id), &o, &m, &r, &lsn, &err)) _exit(4);
    }
    if (kiln_shard_sync(s, lsn, &err)) _exit(5);
    _exit(0); /* like kill -9 after the acknowledgements: nothing is flushed or closed */
}

/* Runs writer (which ends with _exit, as a kill -9 would) in a child on a fresh temporary dir;
 * the child's wait status. */
static int run_and_die(char *dir, size_t cap, void (*writer)(const char *dir))
{
    kiln_test_tmpdir(dir, cap, "shard");
    pid_t pid = fork();
    if (pid == 0) writer(dir);
    int status;
    waitpid(pid, &status, 0);
    return status;
}

/* Acknowledged writes survive a process death (log replay over several commit points). */
static void test_recovery(void)
{
    char dir[256];
    int status = run_and_die(dir, sizeof dir, crash_writer);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    kiln_shard *s2 = open_shard(dir, 4096);
    CHECK(s2 != NULL);
    if (!s2) return;
    char id[32], src[128];
    for (int i = 0; i < 500; i++) {
        crash_doc(id, src, i);
        expect_source(s2, id, i % 7 == 0 ? NULL : src);
    }
    kiln_shard_stats st;
    kiln_shard_stats_get(s2, &st);
    CHECK_INT(st.docs, 500 - 72);
    CHECK_INT(st.max_seq_no, 500 + 72 - 1);
    kiln_shard_close(s2);
    /* And after a clean close, everything is in the files and the log is empty. */
    kiln_shard *s3 = open_shard(dir, 4096);
    kiln_shard_stats_get(s3, &st);
    CHECK_INT(st.docs, 500 - 72);
    expect_source(s3, "doc1", "{\"n\": 1, \"pad\": \"0000000000000000000000000000000000000001\"}");
    kiln_shard_close(s3);
    kiln_fs_remove_tree(dir, NULL);
}

/* The node's background flush, looping beside the writer until told to stop. */
typedef struct {
    kiln_shard *s;
    atomic_int stop;
    int flushes, failures;
} flusher_ctx;

static void *flusher(void *arg)
{
    flusher_ctx *f = arg;
    while (!atomic_load(&f->stop)) {
        kiln_error err;
        int rc = kiln_shard_flush_if_due(f->s, &err);
        if (rc > 0) f->flushes++;
        if (rc < 0) f->failures++;
        /* reads during a flush see every acknowledged document */
        kiln_doc_meta m;
        kiln_buf b = KILN_BUF_INIT;
        if (kiln_shard_get(f->s, "doc1", 4, &m, &b) != 1) f->failures++;
        kiln_buf_free(&b);
    }
    return NULL;
}

/* crash_writer's writes with flushes running beside them (kiln_shard_flush_if_due: the docs
 * file written and fsync'd outside the write lock), then death without closing. */
static void crash_writer_background_flush(const char *dir)
{
    kiln_shard *s = open_shard(dir, 8192);
    flusher_ctx f = {.s = s};
    pthread_t t;
    kiln_doc_meta m;
    kiln_result r;
    char id[32], src[128];
    crash_doc(id, src, 1);
    if (put(s, id, src, &m, &r)) _exit(3);
    pthread_create(&t, NULL, flusher, &f);
    uint64_t lsn = 0;
    kiln_error err;
    kiln_write_opts o = KILN_WRITE_OPTS_INIT;
    for (int i = 0; i < 3000; i++) { /* acknowledged in batches, as _bulk does */
        crash_doc(id, src, i);
        if (kiln_shard_index(s, id, strlen(id), src, strlen(src), NULL, &o, &m, &r, &lsn, &err))
            _exit(3);
        if (i % 7 == 0 && i > 1 && kiln_shard_delete(s, id, strlen(id), &o, &m, &r, &lsn, &err))
            _exit(4);
        if (i % 100 == 99 && kiln_shard_sync(s, lsn, &err)) _exit(4);
    }
    atomic_store(&f.stop, 1);
    pthread_join(t, NULL);
    if (f.failures) _exit(5);
    if (f.flushes < 3) _exit(6); /* the test must have flushed while writing */
    _exit(0);
}

static void test_recovery_background_flush(void)
{
    char dir[256];
    int status = run_and_die(dir, sizeof dir, crash_writer_background_flush);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
    kiln_shard *s = open_shard(dir, 8192);
    CHECK(s != NULL);
    if (!s) return;
    char id[32], src[128];
    for (int i = 0; i < 3000; i++) {
        crash_doc(id, src, i);
        expect_source(s, id, i % 7 == 0 && i > 1 ? NULL : src);
    }
    kiln_shard_stats st;
    kiln_shard_stats_get(s, &st);
    CHECK_INT(st.docs, 3000 - 428);
    kiln_shard_close(s);
    kiln_fs_remove_tree(dir, NULL);
}

typedef struct {
    int calls;
} upd_ctx;

static int append_field(const char *old, size_t len, kiln_buf *out, void *ctx,
                        kiln_error *err)
{
    upd_ctx *c = ctx;
    c->calls++;
    if (!old) return kiln_fail(err, KILN_E_DOC_MISSING, "missing");
    if (len == 2) return 1; /* "{}" stays: no-op */
    kiln_buf_puts(out, "{\"updated\":true}");
    return 0;
}

static void test_update(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "shard");
    kiln_shard *s = open_shard(dir, 1 << 30);
    kiln_doc_meta m;
    kiln_result r;
    kiln_error err;
    uint64_t lsn;
    kiln_write_opts o = KILN_WRITE_OPTS_INIT;
    upd_ctx c = {0};
    CHECK(kiln_shard_update(s, "x", 1, &o, append_field, &c, &m, &r, &lsn, &err) < 0);
    CHECK_INT(err.code, KILN_E_DOC_MISSING);
    put(s, "x", "{\"a\":1}", &m, &r);
    CHECK_INT(kiln_shard_update(s, "x", 1, &o, append_field, &c, &m, &r, &lsn, &err), 0);
    CHECK_INT(r, KILN_RESULT_UPDATED);
    CHECK_INT(m.version, 2);
    expect_source(s, "x", "{\"updated\":true}");
    put(s, "y", "{}", &m, &r);
    CHECK_INT(kiln_shard_update(s, "y", 1, &o, append_field, &c, &m, &r, &lsn, &err), 0);
    CHECK_INT(r, KILN_RESULT_NOOP);
    CHECK_INT(m.version, 1);
    kiln_shard_close(s);
    kiln_fs_remove_tree(dir, NULL);
}

KT_MAIN(KT_CASE(test_versions_and_results), KT_CASE(test_recovery),
        KT_CASE(test_recovery_background_flush), KT_CASE(test_update))
