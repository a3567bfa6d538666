/* Exact phrases against a brute-force reference: random documents of 12 tokens from a
 * 3-word vocabulary (so norms are equal and the score grows with the phrase frequency), phrases
 * with repeated terms; the matching docs, the frequency order of the scores, and the top hits
 * with pruning (a threshold handed down) against exhaustive counting. It fails if the
 * pruning asks one occurrence too many (checked by sabotage). Run twice: short docs (phrases
 * matched through a bitmap of positions), behind 58 filler tokens (the bitmap's words 0 and 1:
 * phrases across a word boundary) and behind 600 (the merge walk). */
#include "../test.h"
#include "test_mapping.h"
#include "test_query.h"

#include "dsl/query.h"
#include "search/search.h"

#include <stdlib.h>

enum { NDOCS = 3000, LEN = 12 };
static const char *W[] = {"a", "b", "c"};
static int toks[NDOCS][LEN];

static int ref_freq(int d, const int *ph, int n)
{
    int f = 0;
    for (int s = 0; s + n <= LEN; s++) {
        int k = 0;
        while (k < n && toks[d][s + k] == ph[k]) k++;
        f += k == n;
    }
    return f;
}

static void run_slop(kiln_sindex *si, kiln_mapping *m, const char *text, int slop,
                     kiln_search_opts *o, kiln_search_result *res)
{
    char q[160];
    snprintf(q, sizeof q, "{\"match_phrase\":{\"t\":{\"query\":\"%s\",\"slop\":%d}}}", text,
             slop);
    CHECK_INT(run_query(si, m, q, o, res), 0);
}

static void run(kiln_sindex *si, kiln_mapping *m, const char *text, kiln_search_opts *o,
                kiln_search_result *res)
{
    run_slop(si, m, text, 0, o, res);
}

/* pad: filler tokens ("f", in no phrase) before each doc's LEN tokens, the same number in
 * every doc so norms stay equal: 0 and 58 keep positions in the bitmap match (58: across its
 * first two words), 600 puts them past it (the merge walk). */
/* Adds doc d with field t = text (no quotes or backslashes in it). */
static void add_text(kiln_sindex *si, kiln_mapping *m, uint32_t d, const char *text)
{
    size_t n = strlen(text) + 16;
    char *doc = malloc(n);
    snprintf(doc, n, "{\"t\":\"%s\"}", text);
    json_t *j = json_loads(doc, 0, NULL);
    kiln_error err;
    CHECK_INT(kiln_sindex_add(si, d, j, m, NULL, &err), 0);
    json_decref(j);
    free(doc);
}

static void exact_phrases(int pad)
{
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    srand(7);
    for (int d = 0; d < NDOCS; d++) {
        char text[128 + 2 * 600] = "";
        for (int k = 0; k < pad; k++) strcat(text, "f ");
        for (int k = 0; k < LEN; k++) {
            /* skewed: "a" common, so some docs hold a phrase many times */
            int r = rand() % 10;
            toks[d][k] = r < 6 ? 0 : r < 9 ? 1 : 2;
            snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", k ? " " : "",
                     W[toks[d][k]]);
        }
        add_text(si, m, (uint32_t)d, text);
        if (d == 1700) kiln_sindex_refresh(si, &err); /* two segments */
    }
    kiln_sindex_refresh(si, &err);
    static const struct { const char *text; int n, ph[4]; } cases[] = {
        {"a b", 2, {0, 1}},    {"b a", 2, {1, 0}},       {"a a", 2, {0, 0}},
        {"a a a", 3, {0, 0, 0}}, {"a b a", 3, {0, 1, 0}}, {"c b a c", 4, {2, 1, 0, 2}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        kiln_search_opts all = {.k = NDOCS, .track_total_hits = -1};
        kiln_search_result res;
        run(si, m, cases[c].text, &all, &res);
        int expect = 0, bad = 0;
        for (int d = 0; d < NDOCS; d++) expect += ref_freq(d, cases[c].ph, cases[c].n) > 0;
        CHECK_INT(res.total, expect);
        for (size_t h = 0; h < res.nhits; h++)
            bad += ref_freq((int)res.hits[h].docnum, cases[c].ph, cases[c].n) == 0;
        CHECK_INT(bad, 0);
        /* equal norms: scores order as the reference frequencies do */
        for (size_t h = 1; h < res.nhits; h++) {
            int fa = ref_freq((int)res.hits[h - 1].docnum, cases[c].ph, cases[c].n);
            int fb = ref_freq((int)res.hits[h].docnum, cases[c].ph, cases[c].n);
            if (fa < fb || (fa == fb) != (res.hits[h - 1].score == res.hits[h].score)) bad++;
        }
        if (bad) fprintf(stderr, "phrase [%s] pad %d: %d disagreements\n", cases[c].text, pad, bad);
        CHECK_INT(bad, 0);
        /* pruned (exact counting stops at 10) keeps the exhaustive top 300, whose threshold
         * sits among docs of every frequency */
        kiln_search_opts top = {.k = 300, .track_total_hits = 10};
        kiln_search_result pr;
        run(si, m, cases[c].text, &top, &pr);
        CHECK_INT(pr.nhits, res.nhits < 300 ? res.nhits : 300);
        for (size_t h = 0; h < pr.nhits && h < res.nhits; h++) {
            CHECK_INT(pr.hits[h].docnum, res.hits[h].docnum);
            CHECK_FLOAT(pr.hits[h].score, res.hits[h].score);
        }
        kiln_search_result_free(&pr);
        kiln_search_result_free(&res);
    }
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static void test_exact_phrases(void)
{
    exact_phrases(0);
}

static void test_exact_phrases_across_words(void)
{
    exact_phrases(58);
}

static void test_exact_phrases_long_docs(void)
{
    exact_phrases(600);
}

/* Docs of varied length (so the occurrences a doc needs to compete depend on its norm: the
 * phrase iterator passes over docs whose lead term is too rare in them, then checks the other
 * terms' tfs, then walks positions only until too few candidates are left) and several
 * segments; the top k with pruning (totals tracked to 10, then a threshold) must be the
 * exhaustive top k, hit for hit and score for score, and the total 10 as a lower bound. The
 * same with slop 1 and 2 (bounded by term 0's tf). */
static void test_pruned_phrases_varied_norms(void)
{
    enum { N = 6000 };
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    srand(11);
    static const char *V[] = {"a", "b", "c", "d", "e"};
    for (int d = 0; d < N; d++) {
        char text[64 * 2 + 1] = "";
        int len = 4 + rand() % 60;
        for (int k = 0; k < len; k++) {
            int r = rand() % 20; /* a 40%, b 25%, c 20%, d 10%, e 5% */
            int w = r < 8 ? 0 : r < 13 ? 1 : r < 17 ? 2 : r < 19 ? 3 : 4;
            snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", k ? " " : "", V[w]);
        }
        add_text(si, m, (uint32_t)d, text);
        if (d == 2500 || d == 2600) kiln_sindex_refresh(si, &err); /* a small middle segment */
    }
    kiln_sindex_refresh(si, &err);
    static const char *phrases[] = {"a b", "b a", "a a", "c a", "a b a", "b c d", "a a a a"};
    static const size_t ks[] = {1, 10, 100};
    int compared = 0;
    for (size_t c = 0; c < 3 * (sizeof phrases / sizeof *phrases); c++) {
        const char *phrase = phrases[c / 3];
        int slop = (int)(c % 3); /* exact, then sloppy (the conjunction is the same) */
        kiln_search_opts all = {.k = N, .track_total_hits = -1};
        kiln_search_result res;
        run_slop(si, m, phrase, slop, &all, &res);
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
            kiln_search_opts top = {.k = ks[ki], .track_total_hits = 10};
            kiln_search_result pr;
            run_slop(si, m, phrase, slop, &top, &pr);
            int bad = check_pruned_top(&pr, &res, ks[ki]);
            if (bad)
                fprintf(stderr, "phrase [%s] slop %d k %zu: %d hits differ\n", phrase, slop, ks[ki],
                        bad);
            compared += (int)(res.nhits < ks[ki] ? res.nhits : ks[ki]);
            kiln_search_result_free(&pr);
        }
        kiln_search_result_free(&res);
    }
    CHECK(compared > 1500); /* the phrases do match: the comparison is not vacuous */
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

KT_MAIN(KT_CASE(test_exact_phrases), KT_CASE(test_exact_phrases_across_words),
        KT_CASE(test_exact_phrases_long_docs), KT_CASE(test_pruned_phrases_varied_norms))
