/* Fuzzy matching: the bounded edit distance against a plain full-matrix reference (random
 * strings over a small alphabet with multi-byte characters, with and without transpositions),
 * then fuzzy queries on an index against a brute-force scan of its documents: which documents
 * match, that the exact term outranks its misspellings (similarity boosts, blended df), and
 * prefix_length and max_expansions. */
#include "../test.h"
#include "test_mapping.h"
#include "test_query.h"

#include "dsl/query.h"
#include "search/plan.h"

/* Optimal string alignment distance over code points, full matrix (no bound). */
static int ref_distance(const uint32_t *a, int n, const uint32_t *b, int m, int transpositions)
{
    int d[16][16];
    for (int i = 0; i <= n; i++) d[i][0] = i;
    for (int j = 0; j <= m; j++) d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            if (transpositions && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < c)
                c = d[i - 2][j - 2] + 1;
            d[i][j] = c;
        }
    return d[n][m];
}

/* Alphabet: a, b, c and two-byte é, three-byte € (code points and their UTF-8). */
static const uint32_t CP[5] = {'a', 'b', 'c', 0xe9, 0x20ac};
static const char *const U8[5] = {"a", "b", "c", "\xc3\xa9", "\xe2\x82\xac"};

static int random_word(uint64_t *rs, uint32_t *cp, char *u8)
{
    int n = (int)(kiln_test_rand(rs) % 9);
    u8[0] = 0;
    for (int i = 0; i < n; i++) {
        int k = (int)(kiln_test_rand(rs) % 5);
        cp[i] = CP[k];
        strcat(u8, U8[k]);
    }
    return n;
}

static void test_edit_distance(void)
{
    uint64_t rs = 42;
    int disagreements = 0;
    for (int round = 0; round < 20000; round++) {
        uint32_t a[16], b[16];
        char ua[64], ub[64];
        int n = random_word(&rs, a, ua), m = random_word(&rs, b, ub);
        int tr = round & 1, max = (int)(kiln_test_rand(&rs) % 3);
        int want = ref_distance(a, n, b, m, tr);
        int got = kiln__edit_distance(ua, strlen(ua), ub, strlen(ub), max, tr);
        if (got != (want > max ? max + 1 : want)) {
            if (disagreements++ < 5)
                fprintf(stderr, "[%s] [%s] max %d transpositions %d: %d, want %d\n", ua, ub, max,
                        tr, got, want);
        }
    }
    CHECK_INT(disagreements, 0);
    CHECK_INT(kiln__edit_distance("abcd", 4, "abdc", 4, 2, 1), 1); /* one swap */
    CHECK_INT(kiln__edit_distance("abcd", 4, "abdc", 4, 2, 0), 2);
    CHECK_INT(kiln__edit_distance("caf\xc3\xa9", 5, "cafe", 4, 1, 1), 1); /* é is one character */
}

static void search(kiln_sindex *si, kiln_mapping *m, const char *query, kiln_search_result *res)
{
    kiln_search_opts o = {.k = 100, .track_total_hits = -1};
    CHECK_INT(run_query(si, m, query, &o, res), 0);
}

/* Documents of one word; "phone" common, its misspellings rare. */
static const char *const WORDS[] = {"phone", "phone", "phone", "phone", "phones", "fone",
                                    "phnoe", "phono", "iphone", "photo",  "telephone", "xylophone",
                                    "phane", "hone"};
enum { NWORDS = sizeof WORDS / sizeof *WORDS };

static int ids_match(const kiln_search_result *r, const char *query_word, int max, int prefix)
{
    int want = 0, bad = 0;
    for (int d = 0; d < NWORDS; d++) {
        int ok = kiln__edit_distance(WORDS[d], strlen(WORDS[d]), query_word, strlen(query_word),
                                     max, 1) <= max &&
                 !strncmp(WORDS[d], query_word, (size_t)prefix);
        want += ok;
        int found = 0;
        for (size_t h = 0; h < r->nhits; h++) found |= r->hits[h].docnum == (uint32_t)d;
        bad += found != ok;
    }
    CHECK_INT((int)r->total, want);
    return bad;
}

static void test_fuzzy_queries(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"},\"k\":{\"type\":\"keyword\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    for (int d = 0; d < NWORDS; d++) {
        char doc[96];
        snprintf(doc, sizeof doc, "{\"t\":\"%s\",\"k\":\"%s\"}", WORDS[d], WORDS[d]);
        json_t *j = json_loads(doc, 0, NULL);
        CHECK_INT(kiln_sindex_add(si, (uint32_t)d, j, m, NULL, &err), 0);
        json_decref(j);
        if (d == 6) kiln_sindex_refresh(si, &err); /* two segments: candidates merge */
    }
    kiln_sindex_refresh(si, &err);
    kiln_search_result r;
    search(si, m, "{\"fuzzy\":{\"t\":{\"value\":\"phone\",\"fuzziness\":2}}}", &r);
    CHECK_INT(ids_match(&r, "phone", 2, 0), 0);
    CHECK(r.nhits > 4 && r.hits[0].docnum < 4); /* the exact term first: similarity 1 */
    for (size_t h = 4; h < r.nhits; h++) CHECK(r.hits[h].score < r.hits[0].score);
    kiln_search_result_free(&r);
    search(si, m, "{\"fuzzy\":{\"t\":{\"value\":\"phone\",\"fuzziness\":1}}}", &r);
    CHECK_INT(ids_match(&r, "phone", 1, 0), 0);
    kiln_search_result_free(&r);
    search(si, m, "{\"fuzzy\":{\"t\":{\"value\":\"phone\",\"fuzziness\":2,\"prefix_length\":2}}}", &r);
    CHECK_INT(ids_match(&r, "phone", 2, 2), 0);
    kiln_search_result_free(&r);
    /* AUTO: 5 characters allow 1 edit; keyword fields too */
    search(si, m, "{\"fuzzy\":{\"k\":\"phnoe\"}}", &r);
    CHECK_INT(ids_match(&r, "phnoe", 1, 0), 0);
    kiln_search_result_free(&r);
    /* max_expansions 1 keeps the best candidate term only: phone (distance 0) */
    search(si, m, "{\"fuzzy\":{\"t\":{\"value\":\"phone\",\"fuzziness\":1,\"max_expansions\":1}}}", &r);
    CHECK_INT((int)r.total, 4);
    kiln_search_result_free(&r);
    /* constant_score rewrite: every match scores the boost */
    search(si, m, "{\"fuzzy\":{\"t\":{\"value\":\"phone\",\"fuzziness\":1,\"rewrite\":\"constant_score\",\"boost\":2}}}", &r);
    CHECK_INT(ids_match(&r, "phone", 1, 0), 0);
    for (size_t h = 0; h < r.nhits; h++) CHECK_FLOAT(r.hits[h].score, 2.0f);
    kiln_search_result_free(&r);
    /* match with fuzziness: each analyzed term fuzzily */
    search(si, m, "{\"match\":{\"t\":{\"query\":\"fonee xylophne\",\"fuzziness\":\"AUTO\"}}}", &r);
    int fone = 0, xylo = 0;
    for (size_t h = 0; h < r.nhits; h++) {
        fone |= r.hits[h].docnum == 5;
        xylo |= r.hits[h].docnum == 11;
    }
    CHECK(fone && xylo);
    kiln_search_result_free(&r);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

KT_MAIN(KT_CASE(test_edit_distance), KT_CASE(test_fuzzy_queries))
