#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "test.h"

static void test_routing_hash_matches_elasticsearch(void)
{
    /* Known values from Elasticsearch's Murmur3HashFunctionTests. */
    static const struct {
        uint32_t h;
        const char *s;
    } known[] = {
        {0x5a0cb7c3, "hell"},
        {0xd7c31989, "hello"},
        {0x22ab2984, "hello w"},
        {0xdf0ca123, "hello wo"},
        {0xe7744d61, "hello wor"},
        {0xe07db09c, "The quick brown fox jumps over the lazy dog"},
        {0x4e63d2ad, "The quick brown fox jumps over the lazy cog"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        CHECK_INT((uint32_t)kiln_routing_hash(known[i].s, strlen(known[i].s)), known[i].h);
}

static void test_routing_spreads_over_shards(void)
{
    unsigned counts[5] = {0};
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "doc-%d", i);
        unsigned s = kiln_routing_shard(id, strlen(id), 5);
        CHECK(s < 5);
        counts[s]++;
    }
    for (int s = 0; s < 5; s++) CHECK(counts[s] > 800 && counts[s] < 1200);
    /* Non-ASCII routing values are hashed as UTF-16, never crash on invalid UTF-8. */
    kiln_routing_hash("\xff\xfe\xc3", 3);
    CHECK(kiln_routing_shard("h\xc3\xa9llo", 6, 3) < 3);
}

static void test_json_escaping(void)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_buf_json_str(&b, "a\"b\\c\n\x01", 7);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    kiln_buf_free(&b);
}

static void test_error_table(void)
{
    kiln_error err;
    int rc = kiln_fail(&err, KILN_E_INDEX_NOT_FOUND, "no such index [%s]", "x");
    CHECK(rc < 0);
    CHECK_STR(kiln_code_type(err.code), "index_not_found_exception");
    CHECK_INT(kiln_code_status(err.code), 404);
    CHECK_STR(err.reason, "no such index [x]");
    CHECK_INT(kiln_code_status(KILN_E_VERSION_CONFLICT), 409);
    CHECK_INT(kiln_code_status(KILN_E_TOO_LARGE), 413);
}

static void test_atomic_write(void)
{
    char dir[256], path[300];
    kiln_test_tmpdir(dir, sizeof dir, "core");
    snprintf(path, sizeof path, "%s/a/b", dir);
    CHECK_INT(kiln_fs_mkdirs(path, NULL), 0);
    snprintf(path, sizeof path, "%s/a/b/file", dir);
    CHECK_INT(kiln_fs_write_atomic(path, "one", 3, NULL), 0);
    CHECK_INT(kiln_fs_write_atomic(path, "second", 6, NULL), 0);
    char *data;
    size_t len;
    CHECK_INT(kiln_fs_read_all(path, &data, &len, NULL), 0);
    CHECK_MEM(data, len, "second");
    free(data);
    CHECK_INT(kiln_fs_remove_tree(dir, NULL), 0);
    CHECK(!kiln_fs_exists(dir));
}

KT_MAIN(KT_CASE(test_routing_hash_matches_elasticsearch), KT_CASE(test_routing_spreads_over_shards),
        KT_CASE(test_json_escaping), KT_CASE(test_error_table), KT_CASE(test_atomic_write))
