/* Stored documents in zstd blocks: round trips through the open block, sealed tail blocks and
 * files, block boundaries, reopening, corruption and old-format rejection. */
#include "core/fs.h"
#include "index/docstore.h"
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* Document i: id "doc-i", a source whose length varies from 0 to ~3 block sizes. */
static size_t doc_src(uint32_t i, char *buf, size_t cap)
{
    size_t n = i % 97 == 0 ? 0 : i % 50 == 1 ? 3 * KILN_DOC_BLOCK + 17 : (i * 37) % 900 + 2;
    if (n >= cap) n = cap - 1;
    for (size_t k = 0; k < n; k++)
        buf[k] = (char)('a' + (i * 7 + k * 13 + k / 5) % 26);
    if (n) buf[0] = '{', buf[n - 1] = '}';
    return n;
}

static void add_docs(kiln_docstore *ds, uint32_t from, uint32_t to)
{
    static char src[4 * KILN_DOC_BLOCK];
    char id[32];
    for (uint32_t i = from; i < to; i++) {
        snprintf(id, sizeof id, "doc-%u", i);
        size_t n = doc_src(i, src, sizeof src);
        kiln_stored_doc d = {id, strlen(id), src, n, (int64_t)i * 3, i + 1, 7};
        kiln_docstore_add(ds, &d);
    }
}

/* Checks every doc of [from, to); returns the number of mismatches. */
static int check_docs(const kiln_docstore *ds, uint32_t from, uint32_t to)
{
    static char src[4 * KILN_DOC_BLOCK];
    char id[32];
    int bad = 0;
    for (uint32_t i = from; i < to; i++) {
        kiln_stored_doc d;
        snprintf(id, sizeof id, "doc-%u", i);
        size_t n = doc_src(i, src, sizeof src);
        if (kiln_docstore_get(ds, i, &d) || d.idlen != strlen(id) || memcmp(d.id, id, d.idlen) ||
            d.srclen != n || memcmp(d.src, src, n) || d.seq_no != (int64_t)i * 3 ||
            d.version != i + 1 || d.primary_term != 7) {
            if (bad++ < 3) fprintf(stderr, "doc %u differs\n", i);
        }
    }
    return bad;
}

/* Reads [from, to) in a scrambled order: blocks are decompressed only up to the record read,
 * resumed by later reads further in, and evicted from the 2-entry cache in between. */
static int check_docs_scrambled(const kiln_docstore *ds, uint32_t from, uint32_t to)
{
    int bad = 0;
    uint32_t n = to - from;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = from + (uint32_t)(((uint64_t)k * 7919u + 13u) % n); /* a permutation: n < 7919 */
        bad += check_docs(ds, i, i + 1);
        if (k % 3 == 0) bad += check_docs(ds, to - 1 - i + from, to - i + from);
    }
    return bad;
}

static void test_round_trip_tail_and_files(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "docstore");
    kiln_error err;
    kiln_docstore *ds = kiln_docstore_open(dir, NULL, 0, KILN_ZCODEC_LZ4, &err);
    CHECK(ds != NULL);
    CHECK_INT(kiln_docstore_flush(ds, &err), 0); /* empty: no file */
    size_t nf;
    kiln_docstore_files(ds, &nf);
    CHECK_INT(nf, 0);
    add_docs(ds, 0, 3000);
    CHECK_INT(kiln_docstore_next(ds), 3000);
    CHECK(kiln_docstore_tail_bytes(ds) > 0);
    CHECK_INT(check_docs(ds, 0, 3000), 0); /* sealed tail blocks and the open block */
    kiln_stored_doc d;
    CHECK_INT(kiln_docstore_get(ds, 3000, &d), -1);
    CHECK_INT(check_docs_scrambled(ds, 0, 3000), 0);
    CHECK_INT(kiln_docstore_flush(ds, &err), 0);
    CHECK_INT(kiln_docstore_tail_bytes(ds), 0);
    CHECK_INT(check_docs(ds, 0, 3000), 0);
    CHECK_INT(check_docs_scrambled(ds, 0, 3000), 0);
    add_docs(ds, 3000, 3500);
    CHECK_INT(check_docs(ds, 2990, 3500), 0); /* across the file / tail boundary */
    CHECK_INT(kiln_docstore_flush(ds, &err), 0);
    const kiln_docstore_file *files = kiln_docstore_files(ds, &nf);
    CHECK_INT(nf, 2);
    kiln_docstore_file copy[2] = {files[0], files[1]};
    CHECK(kiln_docstore_disk_bytes(ds) > 0);
    kiln_docstore_close(ds);

    ds = kiln_docstore_open(dir, copy, 2, KILN_ZCODEC_LZ4, &err);
    CHECK(ds != NULL);
    CHECK_INT(kiln_docstore_next(ds), 3500);
    CHECK_INT(check_docs(ds, 0, 3500), 0);
    /* random order: every get misses the block cache */
    int bad = 0;
    for (uint32_t k = 0; k < 2000; k++)
        bad += check_docs(ds, (k * 7919) % 3500, (k * 7919) % 3500 + 1);
    CHECK_INT(bad, 0);
    kiln_docstore_close(ds);
    kiln_fs_remove_tree(dir, NULL);
}

/* A store written with zstd (best_compression, or every file before LZ4 existed), reopened
 * with LZ4: each file is read with its own codec, the new tail and file with LZ4. */
static void test_files_of_both_codecs(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "docstore");
    kiln_error err;
    kiln_docstore *ds = kiln_docstore_open(dir, NULL, 0, KILN_ZCODEC_ZSTD, &err);
    CHECK(ds != NULL);
    add_docs(ds, 0, 2000);
    CHECK_INT(kiln_docstore_flush(ds, &err), 0);
    uint64_t zstd_bytes = kiln_docstore_disk_bytes(ds);
    size_t nf;
    kiln_docstore_file f0 = kiln_docstore_files(ds, &nf)[0];
    kiln_docstore_close(ds);
    ds = kiln_docstore_open(dir, &f0, 1, KILN_ZCODEC_LZ4, &err);
    CHECK(ds != NULL);
    add_docs(ds, 2000, 4000);
    CHECK_INT(check_docs(ds, 0, 4000), 0); /* zstd file, LZ4 tail */
    CHECK_INT(kiln_docstore_flush(ds, &err), 0);
    const kiln_docstore_file *files = kiln_docstore_files(ds, &nf);
    CHECK_INT(nf, 2);
    kiln_docstore_file copy[2] = {files[0], files[1]};
    /* the same kind of documents take more room under LZ4 (the trade for ~3x the speed) */
    CHECK(kiln_docstore_disk_bytes(ds) - zstd_bytes > zstd_bytes);
    kiln_docstore_close(ds);
    ds = kiln_docstore_open(dir, copy, 2, KILN_ZCODEC_ZSTD, &err);
    CHECK(ds != NULL);
    CHECK_INT(check_docs_scrambled(ds, 0, 4000), 0);
    kiln_docstore_close(ds);
    kiln_fs_remove_tree(dir, NULL);
}

/* Two stores alternating: the per-thread cache must never serve one store's block to the other. */
static void test_two_stores_share_the_cache(void)
{
    char d1[256], d2[256];
    kiln_test_tmpdir(d1, sizeof d1, "docstore");
    kiln_test_tmpdir(d2, sizeof d2, "docstore");
    kiln_error err;
    kiln_docstore *a = kiln_docstore_open(d1, NULL, 0, KILN_ZCODEC_LZ4, &err),
                  *b = kiln_docstore_open(d2, NULL, 0, KILN_ZCODEC_LZ4, &err);
    add_docs(a, 0, 200);
    char id[16], src[8];
    for (uint32_t i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "b-%u", i);
        snprintf(src, sizeof src, "[%u]", i % 1000);
        kiln_stored_doc d = {id, strlen(id), src, strlen(src), i, 1, 1};
        kiln_docstore_add(b, &d);
    }
    CHECK_INT(kiln_docstore_flush(a, &err), 0);
    CHECK_INT(kiln_docstore_flush(b, &err), 0);
    int bad = 0;
    for (uint32_t i = 0; i < 200; i++) {
        kiln_stored_doc d;
        bad += check_docs(a, i, i + 1);
        snprintf(id, sizeof id, "b-%u", i);
        if (kiln_docstore_get(b, i, &d) || d.idlen != strlen(id) || memcmp(d.id, id, d.idlen))
            bad++;
    }
    CHECK_INT(bad, 0);
    kiln_docstore_close(a);
    kiln_docstore_close(b);
    kiln_fs_remove_tree(d1, NULL);
    kiln_fs_remove_tree(d2, NULL);
}

/* Writes a one-file store of n docs and returns its file path in path. */
static kiln_docstore_file make_file(const char *dir, uint32_t n, char *path, size_t cap)
{
    kiln_error err;
    kiln_docstore *ds = kiln_docstore_open(dir, NULL, 0, KILN_ZCODEC_LZ4, &err);
    add_docs(ds, 0, n);
    kiln_docstore_flush(ds, &err);
    size_t nf;
    kiln_docstore_file f = kiln_docstore_files(ds, &nf)[0];
    kiln_docstore_close(ds);
    snprintf(path, cap, "%s/docs-%010u.kdoc", dir, f.first);
    return f;
}

static void patch(const char *path, long at, const void *bytes, size_t n)
{
    int fd = open(path, O_RDWR);
    if (at < 0) at += lseek(fd, 0, SEEK_END);
    CHECK_INT(pwrite(fd, bytes, n, at), (long)n);
    close(fd);
}

static void test_corruption_is_detected(void)
{
    char dir[256], path[512];
    kiln_test_tmpdir(dir, sizeof dir, "docstore");
    kiln_docstore_file f = make_file(dir, 500, path, sizeof path);
    kiln_error err;
    /* one flipped byte inside a compressed frame */
    patch(path, 4000, "\xff", 1);
    kiln_docstore *ds = kiln_docstore_open(dir, &f, 1, KILN_ZCODEC_LZ4, &err);
    CHECK(ds == NULL);
    CHECK(ds == NULL && strstr(err.reason, "checksum mismatch") != NULL);
    /* truncated */
    make_file(dir, 500, path, sizeof path);
    CHECK_INT(truncate(path, 20), 0);
    ds = kiln_docstore_open(dir, &f, 1, KILN_ZCODEC_LZ4, &err);
    CHECK(ds == NULL && strstr(err.reason, "truncated") != NULL);
    /* the commit point disagrees with the file */
    make_file(dir, 500, path, sizeof path);
    kiln_docstore_file wrong = {0, 499};
    ds = kiln_docstore_open(dir, &wrong, 1, KILN_ZCODEC_LZ4, &err);
    CHECK(ds == NULL && strstr(err.reason, "does not match") != NULL);
    kiln_fs_remove_tree(dir, NULL);
}

static void test_format_1_is_refused(void)
{
    char dir[256], path[512];
    kiln_test_tmpdir(dir, sizeof dir, "docstore");
    kiln_docstore_file f = make_file(dir, 10, path, sizeof path);
    patch(path, 0, "KILNDOC1", 8);
    kiln_error err;
    kiln_docstore *ds = kiln_docstore_open(dir, &f, 1, KILN_ZCODEC_LZ4, &err);
    CHECK(ds == NULL && strstr(err.reason, "format 1") != NULL);
    kiln_fs_remove_tree(dir, NULL);
}

/* Many small documents: blocks seal at KILN_DOC_BLOCK raw bytes, so the tail and the file hold
 * far fewer bytes than the documents when they repeat. */
static void test_blocks_compress(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "docstore");
    kiln_error err;
    kiln_docstore *ds = kiln_docstore_open(dir, NULL, 0, KILN_ZCODEC_LZ4, &err);
    const char *src =
        "{\"name\":\"Widget\",\"category\":\"tools\",\"price\":10.5,\"tags\":[\"a\",\"b\"]}";
    size_t raw = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        char id[16];
        snprintf(id, sizeof id, "%u", i);
        kiln_stored_doc d = {id, strlen(id), src, strlen(src), i, 1, 1};
        kiln_docstore_add(ds, &d);
        raw += 32 + strlen(id) + strlen(src);
    }
    while (kiln_docstore_compress(ds)) /* the full blocks wait for a compressor */
        ;
    CHECK(kiln_docstore_tail_bytes(ds) * 5 < raw);
    CHECK_INT(kiln_docstore_flush(ds, &err), 0);
    CHECK(kiln_docstore_disk_bytes(ds) * 5 < raw);
    kiln_stored_doc d;
    CHECK_INT(kiln_docstore_get(ds, 9999, &d), 0);
    CHECK_MEM(d.id, d.idlen, "9999");
    CHECK_MEM(d.src, d.srclen, src);
    kiln_docstore_close(ds);
    kiln_fs_remove_tree(dir, NULL);
}

typedef struct {
    kiln_docstore *ds;
    atomic_int stop;
    int compressed;
} compressor;

static void *compress_loop(void *arg)
{
    compressor *c = arg;
    while (!atomic_load(&c->stop))
        c->compressed += kiln_docstore_compress(c->ds);
    return NULL;
}

/* Full blocks are compressed off the writer's path: until then they are read raw, meanwhile by
 * readers while another thread compresses them, and a flush compresses what is left. Past a
 * bound the writer compresses them itself. */
static void test_deferred_compression(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "docstore");
    kiln_error err;
    kiln_docstore *ds = kiln_docstore_open(dir, NULL, 0, KILN_ZCODEC_LZ4, &err);
    add_docs(ds, 0, 300); /* a few dozen full blocks, none compressed yet */
    size_t before = kiln_docstore_tail_bytes(ds);
    CHECK_INT(check_docs(ds, 0, 300), 0);
    CHECK_INT(check_docs_scrambled(ds, 0, 300), 0);
    compressor c = {.ds = ds};
    pthread_t th;
    pthread_create(&th, NULL, compress_loop, &c);
    for (int round = 0; round < 20; round++)
        CHECK_INT(check_docs_scrambled(ds, 0, 300), 0);
    atomic_store(&c.stop, 1);
    pthread_join(th, NULL);
    while (kiln_docstore_compress(ds))
        c.compressed++;
    CHECK(c.compressed > 10);
    CHECK(kiln_docstore_tail_bytes(ds) < before);
    CHECK_INT(check_docs(ds, 0, 300), 0);
    /* nobody compresses: the writer does past its bound, and the raw backlog stays bounded */
    size_t before2 = kiln_docstore_tail_bytes(ds), raw = 0;
    static char src[4 * KILN_DOC_BLOCK];
    for (uint32_t i = 300; i < 6000; i++)
        raw += 32 + 8 + doc_src(i, src, sizeof src);
    add_docs(ds, 300, 6000);
    CHECK(kiln_docstore_tail_bytes(ds) - before2 < raw / 2);
    CHECK_INT(check_docs_scrambled(ds, 0, 6000), 0);
    /* a flush with blocks still raw writes them compressed */
    CHECK_INT(kiln_docstore_flush(ds, &err), 0);
    CHECK_INT(kiln_docstore_compress(ds), 0);
    CHECK_INT(check_docs(ds, 0, 6000), 0);
    add_docs(ds, 6000, 6100); /* the tail after a flush */
    CHECK_INT(check_docs(ds, 0, 6100), 0);
    kiln_docstore_close(ds);
    kiln_docstore_file f[] = {{0, 6000}};
    ds = kiln_docstore_open(dir, f, 1, KILN_ZCODEC_LZ4, &err);
    CHECK(ds != NULL);
    if (ds) CHECK_INT(check_docs_scrambled(ds, 0, 6000), 0);
    kiln_docstore_close(ds);
    kiln_fs_remove_tree(dir, NULL);
}

KT_MAIN(KT_CASE(test_round_trip_tail_and_files), KT_CASE(test_deferred_compression), KT_CASE(test_two_stores_share_the_cache),
        KT_CASE(test_corruption_is_detected), KT_CASE(test_format_1_is_refused),
        KT_CASE(test_blocks_compress), KT_CASE(test_files_of_both_codecs))
