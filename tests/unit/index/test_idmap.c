/* The shard's version map: ids in, ids out, through growth, tombstones and ids that share a
 * hash tag's probe run. */
#include "index/idmap.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

static void test_many_ids_survive_growth(void)
{
    kiln_idmap m;
    kiln_idmap_init(&m);
    char id[32];
    enum { N = 200000 };
    for (int i = 0; i < N; i++) {
        int n = snprintf(id, sizeof id, "doc-%d", i);
        kiln_idmap_put(&m, id, (size_t)n, (uint32_t)i, i * 2, 1);
    }
    CHECK_INT(m.count, N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        int n = snprintf(id, sizeof id, "doc-%d", i);
        kiln_idmap_entry *e = kiln_idmap_get(&m, id, (size_t)n);
        if (!e || e->docnum != (uint32_t)i || e->seq_no != i * 2 || e->idlen != (uint32_t)n ||
            memcmp(kiln_idmap_id(&m, e), id, (size_t)n))
            bad++;
    }
    CHECK_INT(bad, 0);
    CHECK(kiln_idmap_get(&m, "doc-200000", 10) == NULL);
    CHECK(kiln_idmap_get(&m, "doc-1", 4) == NULL); /* a prefix of a stored id */
    CHECK(kiln_idmap_get(&m, "", 0) == NULL);
    kiln_idmap_dispose(&m);
}

static void test_upsert_updates_and_tombstones(void)
{
    kiln_idmap m;
    kiln_idmap_init(&m);
    int added = -1;
    kiln_idmap_entry *e = kiln_idmap_upsert(&m, "a", 1, &added);
    CHECK_INT(added, 1);
    CHECK_INT(e->docnum, KILN_DOCNUM_NONE);
    CHECK_INT(e->version, 0);
    e->docnum = 7;
    e->version = 1;
    e = kiln_idmap_upsert(&m, "a", 1, &added);
    CHECK_INT(added, 0);
    CHECK_INT(e->docnum, 7);
    kiln_idmap_put(&m, "a", 1, KILN_DOCNUM_NONE, 9, 2); /* deleted: the tombstone keeps both */
    e = kiln_idmap_get(&m, "a", 1);
    CHECK(e != NULL);
    CHECK_INT(e->docnum, KILN_DOCNUM_NONE);
    CHECK_INT(e->seq_no, 9);
    CHECK_INT(e->version, 2);
    CHECK_INT(m.count, 1);
    /* an empty id is an id like any other (the API refuses it earlier; the map need not) */
    kiln_idmap_put(&m, "", 0, 3, 1, 1);
    CHECK(kiln_idmap_get(&m, "", 0) != NULL);
    CHECK_INT(kiln_idmap_get(&m, "", 0)->docnum, 3);
    CHECK_INT(kiln_idmap_get(&m, "a", 1)->seq_no, 9);
    kiln_idmap_dispose(&m);
}

/* 'x' then i in two bytes: ids whose 2-byte prefixes are shared by 256 of them. */
static void three_byte_id(char *id, int i)
{
    id[0] = 'x';
    id[1] = (char)(i >> 8);
    id[2] = (char)(i & 255);
}

/* Ids of one length differing only in their last bytes, and ids that are byte-wise prefixes of
 * each other: found exactly, never each other. */
static void test_similar_ids_stay_apart(void)
{
    kiln_idmap m;
    kiln_idmap_init(&m);
    char id[8];
    for (int i = 0; i < 65536; i++) {
        three_byte_id(id, i);
        kiln_idmap_put(&m, id, 3, (uint32_t)i, 0, 1);
        kiln_idmap_put(&m, id, 2, (uint32_t)i + 100000, 0, 1); /* its 2-byte prefix */
    }
    int bad = 0;
    for (int i = 0; i < 65536; i++) {
        three_byte_id(id, i);
        kiln_idmap_entry *e = kiln_idmap_get(&m, id, 3);
        if (!e || e->docnum != (uint32_t)i) bad++;
        e = kiln_idmap_get(&m, id, 2);
        if (!e || e->docnum != (uint32_t)(i | 255) + 100000) bad++; /* last write per prefix */
    }
    CHECK_INT(bad, 0);
    CHECK_INT(m.count, 65536 + 256);
    kiln_idmap_dispose(&m);
}

int main(void)
{
    test_many_ids_survive_growth();
    test_upsert_updates_and_tombstones();
    test_similar_ids_stay_apart();
    TEST_DONE();
}
