/* The search writer fed from the write path's parsed documents (kiln_sindex_add_json): values
 * reach doc values as they did from jansson trees, ignore_above counts characters. */
#include "core/json.h"
#include "search/sindex.h"
#include "test.h"

static kiln_mapping *mapping(const char *text)
{
    kiln_error err;
    json_t *j = json_loads(text, 0, NULL);
    kiln_mapping *m = kiln_mapping_new(j, &err);
    json_decref(j);
    return m;
}

static void add(kiln_sindex *si, uint32_t docnum, const char *text, const kiln_mapping *m)
{
    kiln_json j = KILN_JSON_INIT;
    kiln_error err;
    CHECK_INT(kiln_json_parse(&j, text, strlen(text)), 0);
    CHECK_INT(kiln_sindex_add_json(si, docnum, &j, m, NULL, &err), 0);
    kiln_json_dispose(&j);
}

static void test_ignore_above_counts_characters(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"k\":{\"type\":\"keyword\",\"ignore_above\":3},"
                              "\"w\":{\"type\":\"keyword\",\"ignore_above\":9}}}");
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    add(si, 0, "{\"k\":\"abc\"}", m);                      /* 3 characters: kept */
    add(si, 1, "{\"k\":\"abcd\"}", m);                     /* 4: ignored */
    add(si, 2, "{\"k\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", m); /* 3 characters in 6 bytes: kept */
    add(si, 3, "{\"k\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", m); /* 4: ignored */
    /* 9 characters in 17 bytes (past the 8-byte blocks), then 10 */
    add(si, 4, "{\"w\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\"}", m);
    add(si, 5, "{\"w\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9xy\"}", m);
    add(si, 6, "{\"w\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80" "abcdef\"}", m); /* 9 */
    add(si, 7, "{\"k\":[12,true],\"w\":1.5}", m); /* numbers, booleans as strings ("true": 4) */
    kiln_sindex_refresh(si, NULL);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    const kiln_segment *s = kiln_reader_segment(rd, 0);
    kiln_dv k, w;
    CHECK_INT(kiln_dv_get(s, "k", &k), 0);
    CHECK_INT(kiln_dv_get(s, "w", &w), 0);
    CHECK_INT(kiln_dv_count(&k, 0), 1);
    CHECK_INT(kiln_dv_count(&k, 1), 0);
    CHECK_INT(kiln_dv_count(&k, 2), 1);
    CHECK_INT(kiln_dv_count(&k, 3), 0);
    CHECK_INT(kiln_dv_count(&w, 4), 1);
    CHECK_INT(kiln_dv_count(&w, 5), 0);
    CHECK_INT(kiln_dv_count(&w, 6), 1);
    CHECK_INT(kiln_dv_count(&k, 7), 1);
    size_t len;
    const char *v = kiln_dv_str(&k, 7, 0, &len);
    CHECK_MEM(v, len, "12");
    v = kiln_dv_str(&w, 7, 0, &len);
    CHECK_MEM(v, len, "1.5");
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* The jansson entry point (tests, benches) gives the same values as the tape one. */
static void test_jansson_entry_point(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"n\":{\"type\":\"long\"},\"d\":{\"type\":"
                              "\"double\"},\"t\":{\"type\":\"text\",\"store\":true}}}");
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    kiln_error err;
    json_t *doc = json_loads("{\"n\":[3,-9007199254740993],\"d\":0.1,\"t\":\"\\u00e9t\\u00e9\"}",
                             0, NULL);
    CHECK_INT(kiln_sindex_add(si, 0, doc, m, NULL, &err), 0);
    json_decref(doc);
    kiln_sindex_refresh(si, NULL);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    const kiln_segment *s = kiln_reader_segment(rd, 0);
    kiln_dv dv;
    CHECK_INT(kiln_dv_get(s, "n", &dv), 0);
    CHECK_INT(kiln_dv_count(&dv, 0), 2);
    CHECK_INT(kiln_dv_i64(&dv, 0, 0), -9007199254740993LL); /* sorted per doc */
    CHECK_INT(kiln_dv_get(s, "d", &dv), 0);
    CHECK(kiln_dv_f64(&dv, 0, 0) == 0.1);
    CHECK_INT(kiln_dv_get(s, "t", &dv), 0);
    size_t len;
    const char *t = kiln_dv_str(&dv, 0, 0, &len);
    CHECK_MEM(t, len, "\xc3\xa9t\xc3\xa9");
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* Empty strings first (nothing in the buffers yet): indexed as empty values, and no NULL
 * buffer reaches memcpy/memcmp (the sanitizer build aborts on that). */
static void test_empty_strings_first(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"},\"k\":{\"type\":"
                              "\"keyword\"}}}");
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    add(si, 0, "{\"t\":\"\",\"k\":\"\"}", m);
    add(si, 1, "{\"k\":\"\",\"t\":\"\"}", m);
    kiln_sindex_refresh(si, NULL);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    const kiln_segment *s = kiln_reader_segment(rd, 0);
    kiln_dv k, t;
    CHECK_INT(kiln_dv_get(s, "k", &k), 0);
    CHECK_INT(kiln_dv_get(s, "t", &t), 0);
    CHECK_INT(kiln_dv_count(&k, 1), 1);
    CHECK_INT(kiln_dv_count(&t, 0), 1);
    size_t len = 1;
    kiln_dv_str(&k, 1, 0, &len);
    CHECK_INT(len, 0);
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    return kiln_test_rand(&rng_state);
}

/* Random mutations of a document through the whole fast path: whatever parses is either
 * accepted by the fast mapping check (and then the full check agrees and it indexes without
 * error) or left to the full check; nothing crashes (run under ASan). */
static void test_mutated_documents(void)
{
    kiln_mapping *m = mapping(
        "{\"properties\":{\"name\":{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":"
        "\"keyword\",\"ignore_above\":8}}},\"price\":{\"type\":\"float\"},\"stock\":{\"type\":"
        "\"integer\"},\"ok\":{\"type\":\"boolean\"},\"at\":{\"type\":\"date\"},\"tags\":"
        "{\"type\":\"keyword\"},\"attr\":{\"properties\":{\"c\":{\"type\":\"keyword\"},"
        "\"n\":{\"type\":\"long\"}}}}}");
    static const char seed[] =
        "{\"name\":\"Laiweax Ul P\\u00e9har\",\"price\":190.75,\"stock\":875,\"ok\":true,"
        "\"at\":\"2024-03-14T06:43:23Z\",\"tags\":[\"cizi\",\"cu\",null],\"attr\":{\"c\":"
        "\"white\",\"n\":-3}}";
    static const char alphabet[] = "{}[]:,\"\\ 0123456789-.eEtrufalsn\xc3\xa9x";
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    kiln_json j = KILN_JSON_INIT;
    kiln_error err;
    char buf[512];
    uint32_t docnum = 0;
    int conforming = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = sizeof seed - 1;
        memcpy(buf, seed, n);
        for (int e = 1 + (int)(rnd() % 3); e > 0; e--) {
            size_t at = rnd() % n;
            char c = alphabet[rnd() % (sizeof alphabet - 1)];
            if (rnd() % 2)
                buf[at] = c;
            else if (n + 1 < sizeof buf) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = c;
                n++;
            }
        }
        if (kiln_json_parse(&j, buf, n)) continue;
        if (!kiln_mapping_doc_conforms(m, &j)) continue;
        conforming++;
        json_t *doc = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
        kiln_mapping *upd = NULL;
        CHECK(doc != NULL);
        if (doc) CHECK(kiln_mapping_check_doc(m, doc, "1", &upd, &err) == 0 && upd == NULL);
        kiln_mapping_unref(upd);
        json_decref(doc);
        CHECK_INT(kiln_sindex_add_json(si, docnum++, &j, m, NULL, &err), 0);
    }
    CHECK(conforming > 1000); /* the mutations do reach the indexing path */
    CHECK_INT(kiln_sindex_refresh(si, &err), 0);
    kiln_json_dispose(&j);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

KT_MAIN(KT_CASE(test_ignore_above_counts_characters), KT_CASE(test_jansson_entry_point),
        KT_CASE(test_empty_strings_first), KT_CASE(test_mutated_documents))
