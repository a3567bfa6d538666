/* The windowed disjunction (kiln__it_or_window, fuzzy terms' expansions) against the plain OR
 * it replaces: over random documents of a skewed vocabulary in three segments, the same docs
 * with bit-identical scores walking with next() and with advance() jumps, a score bound (in and
 * past the loaded window) that no score of its range exceeds; then fuzzy queries through the
 * whole search path, the top k with pruning (totals tracked to 10, then a threshold: bounds
 * skip windows, docs that cannot compete are passed over) against the exhaustive top k. */
#include "../test.h"
#include "test_mapping.h"
#include "test_query.h"

#include "dsl/query.h"
#include "search/plan.h"

#include <stdlib.h>

enum { NDOCS = 9000, NWORDS = 60 };
static char words[NWORDS][8];

/* Short words over a 4-letter alphabet, many within one edit of each other. */
static void make_words(void)
{
    uint64_t rs = 5;
    for (int i = 0; i < NWORDS; i++) {
        int len = 2 + (int)(kiln_test_rand(&rs) % 3);
        for (int k = 0; k < len; k++) words[i][k] = "abcd"[kiln_test_rand(&rs) % 4];
        words[i][len] = 0;
    }
}

static kiln_sindex *build(kiln_mapping *m)
{
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    uint64_t rs = 9;
    for (int d = 0; d < NDOCS; d++) {
        char text[40 * 9 + 1] = "";
        int len = 1 + (int)(kiln_test_rand(&rs) % 40);
        for (int k = 0; k < len; k++) {
            /* skewed: word i with weight ~ 1/(i+1), by rejection */
            int w;
            do w = (int)(kiln_test_rand(&rs) % NWORDS);
            while (kiln_test_rand(&rs) % (uint64_t)(w + 1));
            snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", k ? " " : "",
                     words[w]);
        }
        json_t *doc = json_object();
        json_object_set_new(doc, "t", json_string(text));
        CHECK_INT(kiln_sindex_add(si, (uint32_t)d, doc, m, NULL, &err), 0);
        json_decref(doc);
        if (d == 4000 || d == 4100) kiln_sindex_refresh(si, &err); /* a small middle segment */
    }
    kiln_sindex_refresh(si, &err);
    return si;
}

/* Term iterators over every word of the segment, weights varying by word. */
static size_t term_iters(const kiln_segment *s, const float *cache, kiln__it **out)
{
    const kiln__sfield *f = kiln__segment_field(s, "t");
    size_t n = 0;
    for (int i = 0; i < NWORDS; i++) {
        int64_t t = kiln__term_find(f, words[i], strlen(words[i]));
        if (t < 0) continue;
        kiln__bm25 bm = {0.3f + 0.05f * (float)(i % 13), cache};
        out[n++] = kiln__it_term(s, f, (uint32_t)t, bm);
    }
    return n;
}

static void test_same_docs_and_scores(void)
{
    make_words();
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"}}}");
    kiln_sindex *si = build(m);
    float cache[256];
    for (int i = 0; i < 256; i++) cache[i] = 1.0f / (1.2f * (0.25f + 0.75f * (float)i / 20.0f));
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    CHECK_INT(kiln_reader_nsegments(rd), 3);
    int bad = 0;
    size_t walked = 0, bounds = 0;
    for (size_t si_ = 0; si_ < kiln_reader_nsegments(rd); si_++) {
        const kiln_segment *s = kiln_reader_segment(rd, si_);
        kiln__it *a[NWORDS], *b[NWORDS];
        size_t na = term_iters(s, cache, a), nb = term_iters(s, cache, b);
        CHECK(na > 20 && na == nb);
        kiln__it *ref = kiln__it_or(a, na, 1, 0, 0), *win = kiln__it_or_window(b, nb);
        CHECK(ref->max_score == win->max_score);
        /* the reference's docs and scores, for the walk and the bounds */
        uint32_t *docs = malloc(NDOCS * sizeof *docs);
        float *scores = malloc(NDOCS * sizeof *scores);
        size_t nd = 0;
        for (uint32_t d = kiln__it_next(ref); d != KILN__END; d = kiln__it_next(ref)) {
            docs[nd] = d;
            scores[nd++] = ref->score(ref);
        }
        CHECK(nd > 50);
        size_t k = 0;
        for (uint32_t d = kiln__it_next(win); d != KILN__END; d = kiln__it_next(win), k++)
            bad += k >= nd || d != docs[k] || win->score(win) != scores[k];
        bad += k != nd;
        walked += k;
        kiln__it_free(win);
        kiln__it_free(ref);
        /* advance() in jumps, bound() at each target (in the loaded window or past it) */
        nb = term_iters(s, cache, b);
        win = kiln__it_or_window(b, nb);
        uint64_t rs = 77 + si_;
        size_t at = 0;
        for (uint32_t target = 0;;) {
            uint32_t end;
            float bnd = kiln__it_bound(win, target, &end);
            while (at < nd && docs[at] < target) at++;
            for (size_t j = at; j < nd && docs[j] <= end; j++) bad += scores[j] > bnd;
            if (end == KILN__END) bad += at != nd; /* nothing left, really */
            bounds++;
            uint32_t d = kiln__it_advance(win, target);
            if (d == KILN__END) {
                bad += at != nd;
                break;
            }
            bad += at >= nd || d != docs[at] || win->score(win) != scores[at];
            target = d + 1 + (uint32_t)(kiln_test_rand(&rs) % 300);
        }
        kiln__it_free(win);
        free(docs);
        free(scores);
    }
    if (bad) fprintf(stderr, "windowed OR: %d disagreements\n", bad);
    CHECK_INT(bad, 0);
    CHECK(walked > NDOCS / 2 && bounds > 50);
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static void run(kiln_sindex *si, kiln_mapping *m, const char *q, kiln_search_opts *o,
                kiln_search_result *res)
{
    CHECK_INT(run_query(si, m, q, o, res), 0);
}

static void test_pruned_fuzzy_top_k(void)
{
    make_words();
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"}}}");
    kiln_sindex *si = build(m);
    int compared = 0;
    for (int w = 0; w < 12; w++) {
        char q[160];
        snprintf(q, sizeof q,
                 "{\"match\":{\"t\":{\"query\":\"%s\",\"fuzziness\":\"%s\"}}}", words[w],
                 w % 2 ? "2" : "AUTO");
        kiln_search_opts all = {.k = NDOCS, .track_total_hits = -1};
        kiln_search_result res;
        run(si, m, q, &all, &res);
        static const size_t ks[] = {1, 10, 100};
        for (size_t ki = 0; ki < 3; ki++) {
            kiln_search_opts top = {.k = ks[ki], .track_total_hits = 10};
            kiln_search_result pr;
            run(si, m, q, &top, &pr);
            int bad = check_pruned_top(&pr, &res, ks[ki]);
            if (bad) fprintf(stderr, "fuzzy [%s] k %zu: %d hits differ\n", words[w], ks[ki], bad);
            compared += (int)(res.nhits < ks[ki] ? res.nhits : ks[ki]);
            kiln_search_result_free(&pr);
        }
        kiln_search_result_free(&res);
    }
    CHECK(compared > 1000);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

KT_MAIN(KT_CASE(test_same_docs_and_scores), KT_CASE(test_pruned_fuzzy_top_k))
