/* Search unit tests: indexing, segments, iterators, BM25 parity with Lucene/ES, sorting,
 * search_after, live docs, doc values. Expected scores were computed with Lucene's float
 * formula (tests/unit/search/bm25_reference.py). */
#include "../test.h"

#include "dsl/query.h"
#include "search/search.h"
#include "search/searchInt.h"
#include "search/iter.h"
#include "core/fs.h"

#include <pthread.h>
#include <stdatomic.h>

static kiln_mapping *mapping(const char *js)
{
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    kiln_error err;
    kiln_mapping *m = kiln_mapping_new(j, &err);
    if (!m) fprintf(stderr, "mapping: %s\n", err.reason);
    json_decref(j);
    return m;
}

static void add(kiln_sindex *si, uint32_t docnum, const char *js, kiln_mapping *m)
{
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    if (!j) fprintf(stderr, "bad json %s: %s\n", js, je.text);
    kiln_error err;
    int rc = kiln_sindex_add(si, docnum, j, m, NULL, &err);
    if (rc) fprintf(stderr, "add: %s\n", err.reason);
    CHECK_INT(rc, 0);
    json_decref(j);
}

static int quiet; /* the fuzz test expects failures */

typedef struct run {
    kiln_search_result res;
    int rc;
    kiln_error err;
} run;

static run search_full(kiln_sindex *si, kiln_mapping *m, const char *qjs, const roaring_bitmap_t *live,
                       kiln_search_opts *o)
{
    run r = {0};
    json_error_t je;
    json_t *j = json_loads(qjs, 0, &je);
    if (!j) fprintf(stderr, "bad query json %s: %s\n", qjs, je.text);
    kiln_dsl_error de;
    kiln_query *q = kiln_dsl_parse(j, "query", &de);
    json_decref(j);
    if (!q) {
        if (!quiet) fprintf(stderr, "parse: %s at %s\n", de.err.reason, de.path);
        r.rc = -1;
        r.err = de.err;
        return r;
    }
    kiln_plan *p = kiln_plan_build(q, m, NULL, 1700000000000LL, &r.err);
    kiln_query_free(q);
    if (!p) {
        r.rc = -1;
        return r;
    }
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    kiln_search_stats *st = kiln_stats_new(p);
    kiln_stats_gather(p, rd, st);
    kiln_stats_finish(p, st);
    kiln_search_opts def = {.k = 10, .track_total_hits = -1};
    r.rc = kiln_search_execute(p, st, rd, live, o ? o : &def, &r.res, &r.err);
    kiln_stats_free(st);
    kiln_plan_free(p);
    kiln_sindex_reader_release(rd); /* string sort values are not used after this in tests */
    return r;
}

static run search(kiln_sindex *si, kiln_mapping *m, const char *qjs)
{
    return search_full(si, m, qjs, NULL, NULL);
}

/* Docnums of the hits as "a,b,c". */
static const char *docs_of(const run *r)
{
    static char buf[512];
    buf[0] = 0;
    for (size_t i = 0; i < r->res.nhits; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%u", i ? "," : "",
                 r->res.hits[i].docnum);
    return buf;
}

/* The per-width block unpackers of the term iterator agree with the generic kiln__unpack on
 * every width, values at their largest included. */
static void test_unpack_widths(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (unsigned w = 0; w <= 32; w++) {
        uint32_t v[KILN__BLOCK], a[KILN__BLOCK], b[KILN__BLOCK];
        uint8_t packed[16 * 32 + KILN__PACK_PAD];
        memset(packed, 0, sizeof packed);
        for (unsigned i = 0; i < KILN__BLOCK; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint32_t mask = w == 32 ? UINT32_MAX : (1u << w) - 1;
            v[i] = i % 7 == 3 ? mask : (uint32_t)x & mask;
        }
        kiln__pack(packed, v, w);
        kiln__unpack(packed, a, w);
        kiln__unpack_block(packed, b, w);
        CHECK(!memcmp(a, v, sizeof v));
        CHECK(!memcmp(b, v, sizeof v));
    }
}

static void test_norms(void)
{
    CHECK_INT(kiln__norm_encode(3), 3);
    CHECK_INT(kiln__norm_encode(100), 57);
    CHECK_INT(kiln__norm_decode(57), 96);
    CHECK_INT(kiln__norm_encode(1000), 87);
    CHECK_INT(kiln__norm_decode(87), 984);
    for (uint32_t i = 0; i < 100000; i += 7) CHECK(kiln__norm_decode(kiln__norm_encode(i)) <= i);
}

static void test_varint(void)
{
    uint8_t buf[16];
    uint32_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, 1u << 28, UINT32_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        uint8_t *e = kiln__put_vu32(buf, vals[i]);
        uint32_t v;
        const uint8_t *d = kiln__get_vu32(buf, &v);
        CHECK_INT(v, vals[i]);
        CHECK(d == e);
    }
}

static void test_single_doc_score(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"title\":{\"type\":\"text\"}}}");
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    add(si, 0, "{\"title\":\"quick brown fox\"}", m);
    kiln_sindex_refresh(si, NULL);
    run r = search(si, m, "{\"match\":{\"title\":\"fox\"}}");
    CHECK_INT(r.res.nhits, 1);
    /* Elasticsearch 7+/OpenSearch give 0.13076457 for this document and query */
    CHECK_FLOAT(r.res.hits[0].score, 0.130764574f);
    kiln_search_result_free(&r.res);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static kiln_sindex *corpus(kiln_mapping **mp)
{
    *mp = mapping("{\"properties\":{\"body\":{\"type\":\"text\",\"store\":true},\"tag\":{\"type\":\"keyword\"},"
                  "\"price\":{\"type\":\"double\"},\"qty\":{\"type\":\"long\"},"
                  "\"when\":{\"type\":\"date\"},\"ok\":{\"type\":\"boolean\"},"
                  "\"name\":{\"type\":\"text\",\"fields\":{\"raw\":{\"type\":\"keyword\"}}},"
                  "\"user\":{\"properties\":{\"city\":{\"type\":\"keyword\"}}}}}");
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    add(si, 0, "{\"body\":\"the quick brown fox\",\"tag\":[\"a\",\"b\"],\"price\":10.5,\"qty\":3,"
               "\"when\":\"2024-01-01T10:00:00Z\",\"ok\":true,\"name\":\"Alpha One\","
               "\"user\":{\"city\":\"Paris\"}}", *mp);
    add(si, 1, "{\"body\":\"the lazy dog\",\"tag\":\"b\",\"price\":5,\"qty\":[7,1],"
               "\"when\":\"2024-01-02\",\"ok\":false,\"name\":\"Beta\","
               "\"user\":[{\"city\":\"Oslo\"},{\"city\":\"Rome\"}]}", *mp);
    add(si, 2, "{\"body\":\"quick quick fox jumps over the dog\",\"tag\":\"c\",\"price\":20,"
               "\"when\":\"2024-02-01\",\"name\":\"Gamma\"}", *mp);
    return si;
}

static void test_bm25_corpus(void)
{
    kiln_mapping *m;
    kiln_sindex *si = corpus(&m);
    kiln_sindex_refresh(si, NULL);
    run r = search(si, m, "{\"match\":{\"body\":\"fox\"}}");
    CHECK_STR(docs_of(&r), "0,2");
    CHECK_FLOAT(r.res.hits[0].score, 0.226898298f);
    CHECK_FLOAT(r.res.hits[1].score, 0.177359849f);
    CHECK_INT(r.res.total, 2);
    kiln_search_result_free(&r.res);

    r = search(si, m, "{\"match\":{\"body\":\"quick fox\"}}");
    CHECK_STR(docs_of(&r), "0,2");
    CHECK_FLOAT(r.res.hits[0].score, (float)(0.226898298 + 0.226898298));
    CHECK_FLOAT(r.res.hits[1].score, (float)(0.257536232 + 0.177359849));
    kiln_search_result_free(&r.res);

    r = search(si, m, "{\"match\":{\"body\":{\"query\":\"lazy\",\"boost\":2}}}");
    CHECK_STR(docs_of(&r), "1");
    CHECK_FLOAT(r.res.hits[0].score, 1.04422879f);
    kiln_search_result_free(&r.res);

    r = search(si, m, "{\"match\":{\"body\":{\"query\":\"quick dog\",\"operator\":\"and\"}}}");
    CHECK_STR(docs_of(&r), "2");
    kiln_search_result_free(&r.res);

    r = search(si, m, "{\"match\":{\"body\":{\"query\":\"quick dog lazy\",\"minimum_should_match\":2}}}");
    CHECK_STR(docs_of(&r), "1,2");
    kiln_search_result_free(&r.res);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static void test_queries(void)
{
    kiln_mapping *m;
    kiln_sindex *si = corpus(&m);
    kiln_sindex_refresh(si, NULL);
    struct {
        const char *q, *docs;
    } cases[] = {
        {"{\"match_all\":{}}", "0,1,2"},
        {"{\"match_none\":{}}", ""},
        {"{\"term\":{\"tag\":\"b\"}}", "0,1"},
        {"{\"terms\":{\"tag\":[\"a\",\"c\"]}}", "0,2"},
        {"{\"match_phrase\":{\"body\":\"quick brown\"}}", "0"},
        {"{\"match_phrase\":{\"body\":\"quick fox\"}}", "2"},
        {"{\"match_phrase\":{\"body\":{\"query\":\"quick fox\",\"slop\":1}}}", "2,0"},
        {"{\"range\":{\"price\":{\"gte\":10}}}", "0,2"},
        {"{\"range\":{\"price\":{\"gt\":10.5}}}", "2"},
        {"{\"range\":{\"qty\":{\"lt\":2}}}", "1"},
        {"{\"range\":{\"when\":{\"gte\":\"2024-01-02\",\"lte\":\"2024-01-31\"}}}", "1"},
        {"{\"range\":{\"when\":{\"lte\":\"2024-01-01\"}}}", "0"},
        {"{\"range\":{\"when\":{\"gte\":\"2024-01-01||+1d/d\"}}}", "1,2"},
        {"{\"range\":{\"when\":{\"gte\":\"01/02/2024\",\"format\":\"dd/MM/yyyy\"}}}", "2"},
        {"{\"range\":{\"tag\":{\"gte\":\"b\"}}}", "0,1,2"},
        {"{\"range\":{\"tag\":{\"gt\":\"b\"}}}", "2"},
        {"{\"term\":{\"ok\":true}}", "0"},
        {"{\"term\":{\"qty\":7}}", "1"},
        {"{\"exists\":{\"field\":\"qty\"}}", "0,1"},
        {"{\"exists\":{\"field\":\"user\"}}", "0,1"},
        {"{\"term\":{\"user.city\":\"Rome\"}}", "1"},
        {"{\"term\":{\"name.raw\":\"Beta\"}}", "1"},
        {"{\"match\":{\"name\":\"alpha\"}}", "0"},
        {"{\"prefix\":{\"name.raw\":\"G\"}}", "2"},
        {"{\"prefix\":{\"body\":\"qu\"}}", "0,2"},
        {"{\"wildcard\":{\"name.raw\":\"*et?\"}}", "1"},
        {"{\"wildcard\":{\"name.raw\":{\"value\":\"*ETA\",\"case_insensitive\":true}}}", "1"},
        {"{\"term\":{\"tag\":{\"value\":\"B\",\"case_insensitive\":true}}}", "0,1"},
        {"{\"bool\":{\"must\":{\"match\":{\"body\":\"the\"}},\"must_not\":{\"term\":{\"tag\":\"c\"}}}}", "1,0"},
        {"{\"bool\":{\"filter\":[{\"term\":{\"tag\":\"b\"}},{\"range\":{\"price\":{\"lt\":6}}}]}}", "1"},
        {"{\"bool\":{\"should\":[{\"term\":{\"tag\":\"a\"}},{\"term\":{\"tag\":\"c\"}}]}}", "0,2"},
        {"{\"bool\":{\"must_not\":{\"term\":{\"tag\":\"b\"}}}}", "2"},
        {"{\"bool\":{}}", "0,1,2"},
        {"{\"bool\":{\"should\":[{\"term\":{\"tag\":\"a\"}},{\"term\":{\"tag\":\"b\"}},{\"term\":{\"tag\":\"c\"}}],\"minimum_should_match\":2}}", "0"},
        {"{\"bool\":{\"must\":{\"term\":{\"tag\":\"b\"}},\"should\":{\"term\":{\"tag\":\"zz\"}},\"minimum_should_match\":1}}", ""},
        {"{\"constant_score\":{\"filter\":{\"term\":{\"tag\":\"b\"}},\"boost\":3}}", "0,1"},
        {"{\"dis_max\":{\"queries\":[{\"match\":{\"body\":\"fox\"}},{\"match\":{\"name\":\"beta\"}}]}}", "1,0,2"},
        {"{\"multi_match\":{\"query\":\"beta fox\",\"fields\":[\"body\",\"name^2\"]}}", "1,0,2"},
        {"{\"boosting\":{\"positive\":{\"match\":{\"body\":\"fox\"}},\"negative\":{\"term\":{\"tag\":\"a\"}},\"negative_boost\":0.1}}", "2,0"},
        {"{\"match\":{\"nosuchfield\":\"x\"}}", ""},
        {"{\"match\":{\"tag\":\"b\"}}", "0,1"},
        {"{\"match\":{\"body\":\"\"}}", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run r = search(si, m, cases[i].q);
        if (r.rc) fprintf(stderr, "query %s: %s\n", cases[i].q, r.err.reason);
        CHECK_INT(r.rc, 0);
        if (strcmp(docs_of(&r), cases[i].docs))
            fprintf(stderr, "query %s: got [%s], expected [%s]\n", cases[i].q, docs_of(&r),
                    cases[i].docs);
        CHECK_STR(docs_of(&r), cases[i].docs);
        kiln_search_result_free(&r.res);
    }
    /* constant-score leaves give the boost; filters give 0 */
    run r = search(si, m, "{\"constant_score\":{\"filter\":{\"term\":{\"tag\":\"b\"}},\"boost\":3}}");
    CHECK_FLOAT(r.res.hits[0].score, 3.0f);
    kiln_search_result_free(&r.res);
    r = search(si, m, "{\"bool\":{\"filter\":{\"term\":{\"tag\":\"b\"}}}}");
    CHECK_FLOAT(r.res.hits[0].score, 0.0f);
    kiln_search_result_free(&r.res);
    r = search(si, m, "{\"range\":{\"price\":{\"gte\":10}}}");
    CHECK_FLOAT(r.res.hits[0].score, 1.0f);
    kiln_search_result_free(&r.res);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static void test_sort_and_live(void)
{
    kiln_mapping *m;
    kiln_sindex *si = corpus(&m);
    kiln_sindex_refresh(si, NULL);
    /* a second segment */
    add(si, 3, "{\"body\":\"fox\",\"tag\":\"d\",\"price\":1,\"qty\":100}", m);
    add(si, 5, "{\"body\":\"dog\",\"tag\":\"a\",\"price\":7}", m);
    CHECK_INT(kiln_sindex_pending(si), 2);
    kiln_sindex_refresh(si, NULL);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    CHECK_INT(kiln_reader_nsegments(rd), 2);
    kiln_sindex_reader_release(rd);

    kiln_sort_key price_asc = {.by = KILN_SORT_FIELD, .field = "price"};
    kiln_search_opts o = {.k = 10, .track_total_hits = -1, .sort = &price_asc, .nsort = 1};
    run r = search_full(si, m, "{\"match_all\":{}}", NULL, &o);
    CHECK_STR(docs_of(&r), "3,1,5,0,2");
    CHECK(r.res.hits[0].sort[0].type == KILN_SV_F64 && r.res.hits[0].sort[0].d == 1);
    kiln_search_result_free(&r.res);

    kiln_sort_key qty_desc = {.by = KILN_SORT_FIELD, .field = "qty", .desc = 1};
    o.sort = &qty_desc;
    r = search_full(si, m, "{\"match_all\":{}}", NULL, &o);
    CHECK_STR(docs_of(&r), "3,1,0,2,5"); /* missing last; multi-valued desc uses max (7) */
    kiln_search_result_free(&r.res);

    kiln_sort_key tag_keys[2] = {{.by = KILN_SORT_FIELD, .field = "tag", .desc = 1},
                                 {.by = KILN_SORT_DOC}};
    o.sort = tag_keys;
    o.nsort = 2;
    r = search_full(si, m, "{\"match_all\":{}}", NULL, &o);
    CHECK_STR(docs_of(&r), "3,2,0,1,5");
    kiln_search_result_free(&r.res);

    /* search_after on price asc */
    kiln_sort_value after = {.type = KILN_SV_F64, .d = 5};
    o.sort = &price_asc;
    o.nsort = 1;
    o.after = &after;
    r = search_full(si, m, "{\"match_all\":{}}", NULL, &o);
    CHECK_STR(docs_of(&r), "5,0,2");
    kiln_search_result_free(&r.res);

    /* live docs: 1 and 3 deleted */
    roaring_bitmap_t *live = roaring_bitmap_create();
    roaring_bitmap_add(live, 0);
    roaring_bitmap_add(live, 2);
    roaring_bitmap_add(live, 5);
    o.after = NULL;
    o.k = 2;
    r = search_full(si, m, "{\"match_all\":{}}", live, &o);
    CHECK_STR(docs_of(&r), "5,0");
    CHECK_INT(r.res.total, 3);
    kiln_search_result_free(&r.res);
    roaring_bitmap_free(live);

    /* track_total_hits lower bound */
    kiln_search_opts o2 = {.k = 1, .track_total_hits = 2};
    r = search_full(si, m, "{\"match_all\":{}}", NULL, &o2);
    CHECK_INT(r.res.total, 2);
    CHECK_INT(r.res.total_is_lower_bound, 1);
    kiln_search_result_free(&r.res);

    /* sorting by a text field is refused as in ES */
    kiln_sort_key body = {.by = KILN_SORT_FIELD, .field = "body"};
    kiln_search_opts o3 = {.k = 1, .sort = &body, .nsort = 1, .track_total_hits = -1};
    r = search_full(si, m, "{\"match_all\":{}}", NULL, &o3);
    CHECK_INT(r.rc, -KILN_E_ILLEGAL_ARGUMENT);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static int lookup_id(void *ctx, const char *id, uint32_t *docnum)
{
    if (!strcmp(id, "x")) return *docnum = 1, 0;
    if (!strcmp(id, "y")) return *docnum = 2, 0;
    return -1;
}

static void test_ids_and_merge(void)
{
    kiln_mapping *m;
    kiln_sindex *si = corpus(&m);
    kiln_sindex_refresh(si, NULL);
    kiln_search_opts o = {.k = 10, .track_total_hits = -1, .id_lookup = lookup_id};
    run r = search_full(si, m, "{\"ids\":{\"values\":[\"y\",\"x\",\"nope\"]}}", NULL, &o);
    CHECK_STR(docs_of(&r), "1,2");
    kiln_search_result_free(&r.res);

    /* merge of two "shards" (same index twice): hits interleave by score, then shard */
    run a = search(si, m, "{\"match\":{\"body\":\"fox\"}}");
    run b = search(si, m, "{\"match\":{\"body\":\"fox\"}}");
    for (size_t i = 0; i < b.res.nhits; i++) b.res.hits[i].shard = 1;
    kiln_search_result shards[2] = {a.res, b.res}, out;
    kiln_search_opts mo = {.k = 3, .track_total_hits = -1};
    kiln_search_merge(shards, 2, &mo, &out);
    CHECK_INT(out.nhits, 3);
    CHECK_INT(out.total, 4);
    CHECK(out.hits[0].docnum == 0 && out.hits[0].shard == 0);
    CHECK(out.hits[1].docnum == 0 && out.hits[1].shard == 1);
    CHECK(out.hits[2].docnum == 2 && out.hits[2].shard == 0);
    kiln_search_result_free(&shards[0]);
    kiln_search_result_free(&shards[1]);
    kiln_search_result_free(&out);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static void test_doc_values(void)
{
    kiln_mapping *m;
    kiln_sindex *si = corpus(&m);
    kiln_sindex_refresh(si, NULL);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    uint32_t local;
    const kiln_segment *s = kiln_reader_find(rd, 1, &local);
    CHECK(s != NULL);
    CHECK_INT(local, 1);
    kiln_dv dv;
    CHECK_INT(kiln_dv_get(s, "qty", &dv), 0);
    CHECK_INT(kiln_dv_count(&dv, 1), 2);
    CHECK_INT(kiln_dv_i64(&dv, 1, 0), 1); /* sorted per doc */
    CHECK_INT(kiln_dv_i64(&dv, 1, 1), 7);
    CHECK_INT(kiln_dv_count(&dv, 2), 0);
    size_t len;
    CHECK_INT(kiln_dv_get(s, "user.city", &dv), 0);
    CHECK_INT(kiln_dv_count(&dv, 1), 2);
    const char *v = kiln_dv_str(&dv, 1, 1, &len);
    CHECK(len == 4 && !memcmp(v, "Rome", 4));
    CHECK_INT(kiln_dv_get(s, "body", &dv), 0); /* text keeps its original string */
    v = kiln_dv_str(&dv, 2, 0, &len);
    CHECK(len == 34 && !memcmp(v, "quick quick fox jumps over the dog", 34));
    CHECK_INT(kiln_dv_get(s, "when", &dv), 0);
    CHECK_INT(kiln_dv_i64(&dv, 1, 0), 1704153600000LL);
    CHECK_INT(kiln_dv_get(s, "ok", &dv), 0);
    CHECK_INT(kiln_dv_i64(&dv, 0, 0), 1);
    CHECK_INT(kiln_dv_get(s, "price", &dv), 0);
    CHECK(kiln_dv_f64(&dv, 0, 0) == 10.5);
    CHECK_INT(kiln_dv_get(s, "nope", &dv), -1);
    CHECK(kiln_reader_find(rd, 99, &local) == NULL);
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* Many docs: block skipping, AND over long postings, phrase positions across blocks. */
static void test_large(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"},\"n\":{\"type\":\"long\"}}}");
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    char buf[256];
    for (uint32_t i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "{\"t\":\"%s %s %s w%u\",\"n\":%u}", i % 2 ? "odd" : "even",
                 i % 3 ? "x" : "three", i % 5 ? "y" : "five", i % 7, i);
        add(si, i, buf, m);
        if (i == 2999) kiln_sindex_refresh(si, NULL);
    }
    kiln_sindex_refresh(si, NULL);
    kiln_search_opts o = {.k = 5, .track_total_hits = -1};
    run r = search_full(si, m, "{\"bool\":{\"must\":[{\"match\":{\"t\":\"three\"}},{\"match\":{\"t\":\"five\"}},{\"match\":{\"t\":\"odd\"}}]}}", NULL, &o);
    CHECK_INT(r.res.total, 167); /* odd multiples of 15 below 5000 */
    kiln_search_result_free(&r.res);
    r = search_full(si, m, "{\"match_phrase\":{\"t\":\"three five\"}}", NULL, &o);
    CHECK_INT(r.res.total, 334);
    kiln_search_result_free(&r.res);
    r = search_full(si, m, "{\"bool\":{\"must\":{\"match\":{\"t\":\"w3\"}},\"filter\":{\"range\":{\"n\":{\"gte\":4000,\"lt\":4100}}}}}", NULL, &o);
    CHECK_INT(r.res.total, 15);
    kiln_search_result_free(&r.res);
    r = search_full(si, m, "{\"bool\":{\"must_not\":{\"match\":{\"t\":\"even\"}}}}", NULL, &o);
    CHECK_INT(r.res.total, 2500);
    kiln_search_result_free(&r.res);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* Block-max pruning must return exactly the top k an exhaustive run returns. */
static void test_pruning(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"},\"k\":{\"type\":\"keyword\"}}}");
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    char buf[1024];
    uint64_t x = 88172645463325252ULL;
    static const char *words[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    for (uint32_t i = 0; i < 20000; i++) {
        size_t n = 0;
        int len = 1 + (int)(i % 37);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"k\":\"k%u\",\"t\":\"", i % 3);
        /* "z" is in nearly every doc: dense postings blocks (consecutive docs), and a few with
         * a gap; repeated in some docs so its tfs vary */
        if (i % 997 != 5) n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", i % 5 ? "z " : "z z ");
        for (int w = 0; w < len; w++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* skewed: low words are common */
            unsigned r = (unsigned)(x % 100);
            const char *word = words[r < 40 ? 0 : r < 60 ? 1 : r < 75 ? 2 : r < 85 ? 3 : 4 + r % 6];
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s ", word);
        }
        snprintf(buf + n, sizeof buf - n, "\"}");
        add(si, i, buf, m);
        if (i == 12345) kiln_sindex_refresh(si, NULL);
    }
    kiln_sindex_refresh(si, NULL);
    const char *qs[] = {
        "{\"match\":{\"t\":\"a\"}}",
        "{\"match\":{\"t\":\"j\"}}",
        "{\"match\":{\"t\":\"a b\"}}",
        "{\"match\":{\"t\":\"a j f\"}}",
        "{\"match\":{\"t\":{\"query\":\"a b\",\"operator\":\"and\"}}}",
        "{\"match\":{\"t\":{\"query\":\"c h\",\"operator\":\"and\"}}}",
        "{\"bool\":{\"must\":{\"match\":{\"t\":\"a\"}},\"should\":{\"match\":{\"t\":\"g\"}}}}",
        "{\"bool\":{\"must\":{\"match\":{\"t\":\"b\"}},\"filter\":{\"term\":{\"k\":\"k1\"}}}}",
        "{\"dis_max\":{\"queries\":[{\"match\":{\"t\":\"a\"}},{\"match\":{\"t\":\"e\"}}],\"tie_breaker\":0.3}}",
        "{\"match_phrase\":{\"t\":\"a b\"}}",
        "{\"bool\":{\"must\":{\"match\":{\"t\":\"c\"}},\"must_not\":{\"match\":{\"t\":\"d\"}}}}",
        "{\"match\":{\"t\":\"z\"}}",
        "{\"match\":{\"t\":{\"query\":\"z h\",\"operator\":\"and\"}}}",
        "{\"match\":{\"t\":{\"query\":\"z a\",\"operator\":\"and\"}}}",
        "{\"match\":{\"t\":\"z h\"}}",
        "{\"match\":{\"t\":\"z a j\"}}",
        "{\"match_phrase\":{\"t\":\"z z\"}}",
        "{\"match_phrase\":{\"t\":\"z a\"}}",
    };
    /* k and track_total_hits: 0 prunes at once; the others count exactly first (a doc is
     * scored only when its range's bound can beat the worst kept hit), then prune */
    static const struct {
        size_t k;
        int64_t tth;
    } modes[] = {{10, 0}, {10, 1}, {10, 37}, {10, 1000}, {1, 3000}, {3, 100000}};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        kiln_search_opts exact = {.k = 10, .track_total_hits = -1};
        run a = search_full(si, m, qs[i], NULL, &exact);
        for (size_t md = 0; md < sizeof modes / sizeof *modes; md++) {
            kiln_search_opts pruned = {.k = modes[md].k, .track_total_hits = modes[md].tth};
            run b = search_full(si, m, qs[i], NULL, &pruned);
            char da[512] = "";
            for (size_t k = 0; k < a.res.nhits && k < modes[md].k; k++)
                snprintf(da + strlen(da), sizeof da - strlen(da), "%s%u", k ? "," : "",
                         a.res.hits[k].docnum);
            if (strcmp(da, docs_of(&b)))
                fprintf(stderr, "pruning differs for %s (k %zu, tth %lld)\n", qs[i],
                        modes[md].k, (long long)modes[md].tth);
            CHECK_STR(docs_of(&b), da);
            for (size_t k = 0; k < a.res.nhits && k < b.res.nhits; k++)
                CHECK_FLOAT(b.res.hits[k].score, a.res.hits[k].score);
            /* totals: exact below the tracking limit, the limit (a lower bound) above it */
            uint64_t lim = (uint64_t)modes[md].tth;
            if (a.res.total < lim) {
                CHECK_INT(b.res.total, a.res.total);
                CHECK_INT(b.res.total_is_lower_bound, 0);
            } else {
                CHECK_INT(b.res.total, lim);
                if (a.res.total > lim) CHECK_INT(b.res.total_is_lower_bound, 1);
            }
            if (b.res.nhits) CHECK_FLOAT(b.res.max_score, a.res.max_score);
            kiln_search_result_free(&b.res);
        }
        kiln_search_result_free(&a.res);
    }
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* Sorting by a numeric field with a full heap (most docs turned away on the first key alone)
 * against a reference order: multi-valued docs (min/max modes), missing values (last), ties
 * broken by doc number, long and double columns, two segments, asc and desc. */
static int64_t g_key[3000];
static int g_has[3000], g_desc;
static int cmp_ref(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (g_has[x] != g_has[y]) return g_has[x] ? -1 : 1;
    if (g_has[x] && g_key[x] != g_key[y]) {
        int c = g_key[x] < g_key[y] ? -1 : 1;
        return g_desc ? -c : c;
    }
    return (x > y) - (x < y);
}

static void test_sort_numeric_topk(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"n\":{\"type\":\"long\"},\"d\":{\"type\":\"double\"}}}");
    kiln_sindex *si = kiln_sindex_open(NULL, NULL);
    enum { N = 3000 };
    int64_t v[N][2];
    int nv[N];
    uint64_t x = 0x2545f4914f6cdd1dULL;
    char buf[256];
    for (uint32_t i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        nv[i] = (int)(x % 7 == 0 ? 0 : x % 5 == 0 ? 2 : 1); /* missing, two values, one */
        for (int k = 0; k < nv[i]; k++) v[i][k] = (int64_t)((x >> (8 + 16 * k)) % 50) - 10;
        if (nv[i] == 0)
            snprintf(buf, sizeof buf, "{}");
        else if (nv[i] == 1)
            snprintf(buf, sizeof buf, "{\"n\":%lld,\"d\":%lld.5}", (long long)v[i][0],
                     (long long)v[i][0]);
        else
            snprintf(buf, sizeof buf, "{\"n\":[%lld,%lld],\"d\":[%lld.5,%lld.5]}",
                     (long long)v[i][0], (long long)v[i][1], (long long)v[i][0],
                     (long long)v[i][1]);
        add(si, i, buf, m);
        if (i == 1234) kiln_sindex_refresh(si, NULL);
    }
    kiln_sindex_refresh(si, NULL);
    static const char *fields[] = {"n", "d"};
    static const kiln_sort_mode modes[] = {KILN_SMODE_DEFAULT, KILN_SMODE_MIN, KILN_SMODE_MAX};
    for (int f = 0; f < 2; f++)
        for (int desc = 0; desc < 2; desc++)
            for (int md = 0; md < 3; md++) {
                kiln_sort_mode mode = modes[md];
                if (mode == KILN_SMODE_DEFAULT) mode = desc ? KILN_SMODE_MAX : KILN_SMODE_MIN;
                uint32_t ref[N];
                for (uint32_t i = 0; i < N; i++) {
                    ref[i] = i;
                    g_has[i] = nv[i] > 0;
                    int64_t a = v[i][0], b = nv[i] == 2 ? v[i][1] : a;
                    g_key[i] = mode == KILN_SMODE_MAX ? (a > b ? a : b) : (a < b ? a : b);
                }
                g_desc = desc;
                qsort(ref, N, sizeof *ref, cmp_ref);
                kiln_sort_key key = {.by = KILN_SORT_FIELD, .field = fields[f], .desc = desc,
                                     .mode = modes[md]};
                kiln_search_opts o = {.k = 20, .track_total_hits = -1, .sort = &key, .nsort = 1};
                run r = search_full(si, m, "{\"match_all\":{}}", NULL, &o);
                CHECK_INT(r.res.total, N);
                CHECK_INT(r.res.nhits, 20);
                char want[512] = "";
                for (int k = 0; k < 20; k++)
                    snprintf(want + strlen(want), sizeof want - strlen(want), "%s%u", k ? "," : "",
                             ref[k]);
                CHECK_STR(docs_of(&r), want);
                kiln_search_result_free(&r.res);
            }
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* Commit, close, reopen: the segments come back memory-mapped and search the same. */
static void test_persist(void)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/kiln-test-sindex-XXXXXX");
    if (!mkdtemp(dir)) return;
    kiln_mapping *m;
    kiln_error err;
    kiln_sindex *si = corpus(&m);
    kiln_sindex_close(si);
    si = kiln_sindex_open(dir, &err);
    CHECK(si != NULL);
    add(si, 0, "{\"body\":\"the quick brown fox\",\"tag\":[\"a\",\"b\"],\"price\":10.5,\"qty\":3}", m);
    add(si, 1, "{\"body\":\"the lazy dog\",\"tag\":\"b\",\"price\":5,\"qty\":[7,1],\"name\":\"Beta\"}", m);
    kiln_sindex_refresh(si, &err);
    add(si, 3, "{\"body\":\"quick quick fox jumps over the dog\",\"tag\":\"c\",\"price\":20}", m);
    CHECK_INT(kiln_sindex_commit(si, &err), 0);
    CHECK_INT(kiln_sindex_committed_upto(si), 4);
    add(si, 4, "{\"body\":\"not committed fox\"}", m);
    kiln_sindex_refresh(si, &err);
    run before = search(si, m, "{\"match\":{\"body\":\"fox\"}}");
    CHECK_STR(docs_of(&before), "4,0,3");
    kiln_search_result_free(&before.res);
    kiln_sindex_close(si);

    si = kiln_sindex_open(dir, &err);
    CHECK(si != NULL);
    CHECK_INT(kiln_sindex_committed_upto(si), 4);
    add(si, 4, "{\"body\":\"not committed fox\"}", m); /* the shard re-adds from upto */
    kiln_sindex_refresh(si, &err);
    run after = search(si, m, "{\"match\":{\"body\":\"fox\"}}");
    CHECK_STR(docs_of(&after), "4,0,3");
    kiln_search_result_free(&after.res);
    after = search(si, m, "{\"match_all\":{}}");
    CHECK_STR(docs_of(&after), "0,1,3,4"); /* the gap (2) stays absent */
    kiln_search_result_free(&after.res);
    after = search(si, m, "{\"bool\":{\"filter\":[{\"term\":{\"tag\":\"b\"}},{\"range\":{\"qty\":{\"gte\":7}}}]}}");
    CHECK_STR(docs_of(&after), "1");
    kiln_search_result_free(&after.res);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    uint32_t local;
    const kiln_segment *s = kiln_reader_find(rd, 1, &local);
    kiln_dv dv;
    size_t len;
    CHECK(s && kiln_dv_get(s, "body", &dv) == 0);
    const char *v = s ? kiln_dv_str(&dv, local, 0, &len) : NULL;
    CHECK(v && len == 12 && !memcmp(v, "the lazy dog", 12));
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);

    /* a flipped byte is detected */
    char path[512];
    snprintf(path, sizeof path, "%s/seg-%010u.ksg", dir, 0u);
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, 100, SEEK_SET);
        int c = fgetc(f);
        fseek(f, 100, SEEK_SET);
        fputc(c ^ 0x40, f);
        fclose(f);
    }
    CHECK(kiln_sindex_open(dir, &err) == NULL);
    CHECK_INT(err.code, KILN_E_IO);
    kiln_fs_remove_tree(dir, NULL);
    kiln_mapping_unref(m);
}

/* Many refreshes: merges keep the segment count bounded and change no result or score. */
static void test_merge(void)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/kiln-test-merge-XXXXXX");
    if (!mkdtemp(dir)) return;
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"},\"k\":{\"type\":\"keyword\"},"
                              "\"n\":{\"type\":\"long\"},\"d\":{\"type\":\"double\"}}}");
    kiln_error err;
    kiln_sindex *one = kiln_sindex_open(NULL, &err), *many = kiln_sindex_open(dir, &err);
    char buf[512];
    static const char *w[] = {"alpha", "beta", "gamma", "delta", "eps"};
    uint32_t docnum = 0;
    for (int seg = 0; seg < 30; seg++) {
        for (int i = 0; i < 40; i++, docnum++) {
            if (docnum % 17 == 5) docnum++; /* gaps in the doc numbers */
            snprintf(buf, sizeof buf,
                     "{\"t\":\"%s %s %s\",\"k\":[\"k%u\",\"z\"],\"n\":%u,\"d\":%u.5}",
                     w[docnum % 5], w[(docnum / 5) % 5], w[(docnum * 7) % 5], docnum % 9, docnum,
                     docnum % 4);
            add(one, docnum, buf, m);
            add(many, docnum, buf, m);
        }
        kiln_sindex_refresh(many, &err);
        if (seg % 7 == 3) CHECK_INT(kiln_sindex_commit(many, &err), 0);
    }
    kiln_sindex_refresh(one, &err);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(many);
    CHECK(kiln_reader_nsegments(rd) <= 8);
    kiln_sindex_reader_release(rd);
    const char *qs[] = {
        "{\"match\":{\"t\":\"alpha\"}}",
        "{\"match\":{\"t\":\"beta gamma\"}}",
        "{\"match_phrase\":{\"t\":\"alpha beta\"}}",
        "{\"term\":{\"k\":\"k3\"}}",
        "{\"bool\":{\"must\":{\"match\":{\"t\":\"delta\"}},\"filter\":{\"range\":{\"n\":{\"gte\":600}}}}}",
        "{\"prefix\":{\"k\":\"k1\"}}",
        "{\"match_all\":{}}",
    };
    kiln_sort_key keys[2] = {{.by = KILN_SORT_FIELD, .field = "d", .desc = 1},
                             {.by = KILN_SORT_FIELD, .field = "k"}};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        for (int sorted = 0; sorted < 2; sorted++) {
            kiln_search_opts o = {.k = 25, .track_total_hits = -1, .sort = sorted ? keys : NULL,
                                  .nsort = sorted ? 2 : 0};
            run a = search_full(one, m, qs[i], NULL, &o);
            run b = search_full(many, m, qs[i], NULL, &o);
            char da[512];
            snprintf(da, sizeof da, "%s", docs_of(&a));
            if (strcmp(da, docs_of(&b))) fprintf(stderr, "merge differs for %s\n", qs[i]);
            CHECK_STR(docs_of(&b), da);
            CHECK_INT(b.res.total, a.res.total);
            for (size_t k = 0; !sorted && k < a.res.nhits && k < b.res.nhits; k++)
                CHECK_FLOAT(b.res.hits[k].score, a.res.hits[k].score);
            kiln_search_result_free(&a.res);
            kiln_search_result_free(&b.res);
        }
    }
    CHECK_INT(kiln_sindex_commit(many, &err), 0);
    kiln_sindex_close(many);
    many = kiln_sindex_open(dir, &err);
    CHECK(many != NULL);
    run a = search(one, m, "{\"match\":{\"t\":\"eps alpha\"}}");
    run b = search(many, m, "{\"match\":{\"t\":\"eps alpha\"}}");
    char da[512];
    snprintf(da, sizeof da, "%s", docs_of(&a));
    CHECK_STR(docs_of(&b), da);
    kiln_search_result_free(&a.res);
    kiln_search_result_free(&b.res);
    /* only the committed segments' files remain */
    rd = kiln_sindex_reader_acquire(many);
    size_t nfiles = 0, nsegs = kiln_reader_nsegments(rd);
    kiln_sindex_reader_release(rd);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c ksg", dir);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fscanf(p, "%zu", &nfiles) != 1) nfiles = 0;
        pclose(p);
    }
    CHECK_INT(nfiles, nsegs);
    kiln_sindex_close(many);
    kiln_sindex_close(one);
    kiln_fs_remove_tree(dir, NULL);
    kiln_mapping_unref(m);
}

/* Robustness: seed queries with values swapped for random JSON of every type, keys dropped or
 * renamed, must parse-or-fail and plan-or-fail and run without crashing (ASan build). */
static uint64_t fz_state = 0x9E3779B97F4A7C15ULL;
static uint32_t fz_rand(void)
{
    fz_state ^= fz_state << 13, fz_state ^= fz_state >> 7, fz_state ^= fz_state << 17;
    return (uint32_t)fz_state;
}

static json_t *fz_value(int depth)
{
    switch (fz_rand() % 9) {
    case 0: return json_null();
    case 1: return json_true();
    case 2: return json_integer((json_int_t)(fz_rand() % 5) - 2);
    case 3: return json_real(-1.5);
    case 4: return json_string(fz_rand() % 2 ? "now-1d/d" : "*b?");
    case 5: return json_string("");
    case 6: return depth > 2 ? json_array() : json_pack("[o]", fz_value(depth + 1));
    case 7: return depth > 2 ? json_object() : json_pack("{s:o}", "match_all", json_object());
    default: return json_string("fox");
    }
}

static void fz_mutate(json_t *j, int depth)
{
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(j, tmp, key, v)
        {
            uint32_t r = fz_rand() % 10;
            if (r == 0)
                json_object_del(j, key);
            else if (r == 1)
                json_object_set_new(j, key, fz_value(depth));
            else
                fz_mutate(v, depth + 1);
        }
        if (fz_rand() % 12 == 0) json_object_set_new(j, "boost", fz_value(depth));
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (fz_rand() % 8 == 0)
                json_array_set_new(j, i, fz_value(depth));
            else
                fz_mutate(json_array_get(j, i), depth + 1);
        }
    }
}

static void test_fuzz(void)
{
    kiln_mapping *m;
    kiln_sindex *si = corpus(&m);
    kiln_sindex_refresh(si, NULL);
    static const char *seeds[] = {
        "{\"bool\":{\"must\":[{\"match\":{\"body\":{\"query\":\"quick fox\",\"operator\":\"and\",\"minimum_should_match\":\"50%\"}}}],\"filter\":[{\"range\":{\"when\":{\"gte\":\"2024-01-01\",\"lt\":\"now\",\"format\":\"yyyy-MM-dd\"}}},{\"terms\":{\"tag\":[\"a\",1,true]}}],\"should\":[{\"prefix\":{\"name.raw\":\"A\"}},{\"wildcard\":{\"tag\":{\"value\":\"*b\"}}}],\"must_not\":{\"exists\":{\"field\":\"ok\"}},\"minimum_should_match\":1}}",
        "{\"dis_max\":{\"queries\":[{\"match_phrase\":{\"body\":{\"query\":\"quick fox\",\"slop\":2}}},{\"multi_match\":{\"query\":\"beta\",\"fields\":[\"name^2\",\"body\",\"*\"],\"type\":\"most_fields\"}}],\"tie_breaker\":0.5}}",
        "{\"boosting\":{\"positive\":{\"term\":{\"price\":10.5}},\"negative\":{\"range\":{\"qty\":{\"gt\":1,\"lte\":\"9\"}}},\"negative_boost\":0.2}}",
        "{\"constant_score\":{\"filter\":{\"ids\":{\"values\":[\"x\",2]}},\"boost\":2}}",
        "{\"range\":{\"tag\":{\"gt\":\"a\",\"lt\":\"c\"}}}",
    };
    kiln_sort_key keys[2] = {{.by = KILN_SORT_FIELD, .field = "qty", .mode = KILN_SMODE_AVG},
                             {.by = KILN_SORT_SCORE}};
    int ran = 0;
    quiet = 1;
    for (int i = 0; i < 3000; i++) {
        json_t *q = json_loads(seeds[i % 5], 0, NULL);
        fz_mutate(q, 0);
        char *text = json_dumps(q, JSON_COMPACT);
        kiln_search_opts o = {.k = (size_t)(fz_rand() % 4), .track_total_hits = (int64_t)(fz_rand() % 3) - 1,
                              .sort = fz_rand() % 2 ? keys : NULL, .id_lookup = lookup_id};
        o.nsort = o.sort ? 2 : 0;
        run r = search_full(si, m, text, NULL, &o);
        if (r.rc == 0) ran++;
        kiln_search_result_free(&r.res);
        free(text);
        json_decref(q);
    }
    quiet = 0;
    CHECK(ran > 100); /* many mutants stay valid and run */
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* Searches on point-in-time readers while one writer adds, refreshes (and so merges): every
 * search sees a consistent prefix of the docs, counts never go down. */
typedef struct conc {
    kiln_sindex *si;
    kiln_mapping *m;
    atomic_int done;
    int bad;
} conc;

static void *conc_writer(void *arg)
{
    conc *c = arg;
    char buf[128];
    for (uint32_t i = 0; i < 3000; i++) {
        snprintf(buf, sizeof buf, "{\"t\":\"w%u common\",\"n\":%u}", i % 10, i);
        json_t *j = json_loads(buf, 0, NULL);
        kiln_error err;
        kiln_sindex_add(c->si, i, j, c->m, NULL, &err);
        json_decref(j);
        if (i % 97 == 0) kiln_sindex_refresh(c->si, &err);
    }
    kiln_error err;
    kiln_sindex_refresh(c->si, &err);
    atomic_store(&c->done, 1);
    return NULL;
}

static void *conc_reader(void *arg)
{
    conc *c = arg;
    uint64_t last = 0;
    while (!atomic_load(&c->done)) {
        kiln_search_opts o = {.k = 5, .track_total_hits = -1};
        run r = search_full(c->si, c->m, "{\"match\":{\"t\":\"common\"}}", NULL, &o);
        if (r.rc || r.res.total < last) c->bad = 1;
        last = r.res.total;
        kiln_search_result_free(&r.res);
    }
    return NULL;
}

static void test_concurrency(void)
{
    conc c = {.si = kiln_sindex_open(NULL, NULL),
              .m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"},\"n\":{\"type\":\"long\"}}}")};
    atomic_init(&c.done, 0);
    pthread_t w, r1, r2;
    pthread_create(&w, NULL, conc_writer, &c);
    pthread_create(&r1, NULL, conc_reader, &c);
    pthread_create(&r2, NULL, conc_reader, &c);
    pthread_join(w, NULL);
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    CHECK(!c.bad);
    run r = search(c.si, c.m, "{\"match\":{\"t\":\"common\"}}");
    CHECK_INT(r.res.total, 3000);
    kiln_search_result_free(&r.res);
    kiln_sindex_close(c.si);
    kiln_mapping_unref(c.m);
}

int main(void)
{
    test_unpack_widths();
    test_norms();
    test_varint();
    test_single_doc_score();
    test_bm25_corpus();
    test_queries();
    test_sort_and_live();
    test_ids_and_merge();
    test_doc_values();
    test_large();
    test_pruning();
    test_sort_numeric_topk();
    test_persist();
    test_merge();
    test_fuzz();
    test_concurrency();
    TEST_DONE();
}
