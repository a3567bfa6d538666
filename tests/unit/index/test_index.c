#include "core/fs.h"
#include "index/index.h"
#include "index/node.h"
#include "test.h"

static void test_index_names(void)
{
    const char *bad[] = {"", ".", "..", "_x", "-x", "+x", "Upper", "a b", "a,b", "a*b", "a?b",
                         "a\"b", "a<b", "a>b", "a|b", "a/b", "a\\b", "a#b", "a:b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kiln_error err;
        CHECK(kiln_index_name_check(bad[i], &err) < 0);
        CHECK_INT(err.code, KILN_E_INVALID_INDEX_NAME);
    }
    char longname[300];
    memset(longname, 'x', 256);
    longname[256] = 0;
    CHECK(kiln_index_name_check(longname, NULL) < 0);
    longname[255] = 0;
    CHECK_INT(kiln_index_name_check(longname, NULL), 0);
    CHECK_INT(kiln_index_name_check("logs-2024.01.01", NULL), 0);
    CHECK_INT(kiln_index_name_check("caf\xc3\xa9", NULL), 0);
}

static void test_generated_ids(void)
{
    char a[24], b[24];
    kiln_index_gen_id(a);
    kiln_index_gen_id(b);
    CHECK_INT(strlen(a), 20);
    CHECK(strcmp(a, b) != 0);
    for (const char *p = a; *p; p++) CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
}

/* Indices, their settings and mappings survive a restart; a deleted index does not come back. */
static void test_node_persistence(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "node");
    kiln_error err;
    kiln_node *n = kiln_node_open(dir, &err);
    CHECK(n != NULL);
    json_error_t je;
    json_t *body = json_loads("{\"settings\": {\"number_of_shards\": 3}, \"mappings\": "
                              "{\"properties\": {\"k\": {\"type\": \"keyword\"}}}}", 0, &je);
    kiln_index *idx = kiln_node_create(n, "keep", body, &err);
    json_decref(body);
    CHECK(idx != NULL);
    kiln_write w = {.op = KILN_OP_INDEX, .id = "1", .idlen = 1, .body = "{\"k\":\"v\",\"n\":5}",
                    .body_len = 15, .opts = KILN_WRITE_OPTS_INIT};
    CHECK_INT(kiln_index_write(idx, &w, &err), 0);
    CHECK_INT(kiln_index_sync(idx, w.shard, w.lsn, &err), 0);
    kiln_index_unref(idx);
    kiln_index *gone = kiln_node_create(n, "gone", NULL, &err);
    kiln_index_unref(gone);
    CHECK(kiln_node_create(n, "keep", NULL, &err) == NULL);
    CHECK_INT(err.code, KILN_E_INDEX_EXISTS);
    CHECK_INT(kiln_node_delete(n, "gone", &err), 0);
    kiln_node_close(n);

    n = kiln_node_open(dir, &err);
    CHECK(n != NULL);
    CHECK(kiln_node_get(n, "gone", &err) == NULL);
    CHECK_INT(err.code, KILN_E_INDEX_NOT_FOUND);
    idx = kiln_node_get(n, "keep", &err);
    CHECK(idx != NULL);
    CHECK_INT(idx->nshards, 3);
    kiln_mapping *m = kiln_index_mapping(idx);
    CHECK(kiln_mapping_field(m, "n") != NULL); /* the dynamic field was persisted */
    kiln_mapping_unref(m);
    kiln_shard_stats st;
    kiln_index_stats(idx, &st);
    CHECK_INT(st.docs, 1);
    kiln_index_unref(idx);
    kiln_index **list;
    size_t count;
    CHECK_INT(kiln_node_resolve(n, "k*,-x", 0, 1, &list, &count, &err), 0);
    CHECK_INT(count, 1);
    kiln_node_release(list, count);
    CHECK(kiln_node_resolve(n, "missing", 0, 1, &list, &count, &err) < 0);
    CHECK_INT(kiln_node_resolve(n, "missing", 1, 1, &list, &count, &err), 0);
    CHECK_INT(count, 0);
    kiln_node_release(list, count);
    kiln_node_close(n);
    kiln_fs_remove_tree(dir, NULL);
}

KT_MAIN(KT_CASE(test_index_names), KT_CASE(test_generated_ids), KT_CASE(test_node_persistence))
