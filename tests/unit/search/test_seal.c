/* Sealing: term dictionaries sorted by bytes
 * (ties on the first 8 bytes, prefixes, bytes above 0x7f), block impacts dominating every doc
 * of their block. */
#include "../test.h"
#include "test_mapping.h"

#include "search/iter.h"
#include "search/searchInt.h"

static int term_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static void test_term_order(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"k\":{\"type\":\"keyword\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    static const char *fixed[] = {"", "a", "ab", "abcdefgh", "abcdefg", "abcdefghi",
                                  "abcdefgha", "abcdefgh\x7f", "abcdefgh\xc3\xa9", "\xc3\xa9t\xc3\xa9",
                                  "z", "zz", "https://example.com/a", "https://example.com/",
                                  "https://example.com/b/c", "https://example.org"};
    size_t nfixed = sizeof fixed / sizeof *fixed;
    uint32_t d = 0;
    for (; d < nfixed; d++) {
        json_t *doc = json_object();
        json_object_set_new(doc, "k", json_string(fixed[d]));
        CHECK_INT(kiln_sindex_add(si, d, doc, m, NULL, &err), 0);
        json_decref(doc);
    }
    for (uint32_t i = 0; i < 3000; i++, d++) { /* many terms: shared prefixes and random */
        char t[64];
        uint32_t x = i * 2654435761u;
        if (i % 3 == 0)
            snprintf(t, sizeof t, "prefix-%u", x % 100000);
        else if (i % 3 == 1)
            snprintf(t, sizeof t, "%c%u", 'a' + x % 26, x >> 8);
        else
            snprintf(t, sizeof t, "\xe2\x82\xac%u", x % 977);
        json_t *doc = json_object();
        json_object_set_new(doc, "k", json_string(t));
        CHECK_INT(kiln_sindex_add(si, d, doc, m, NULL, &err), 0);
        json_decref(doc);
    }
    kiln_sindex_refresh(si, &err);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    const kiln__sfield *f = kiln__segment_field(kiln_reader_segment(rd, 0), "k");
    CHECK(f != NULL);
    int bad = 0;
    for (uint32_t i = 1; f && i < f->nterms; i++) {
        size_t al, bl;
        const char *a = kiln__term_text(f, i - 1, &al), *b = kiln__term_text(f, i, &bl);
        if (term_cmp(a, al, b, bl) >= 0 && bad++ < 3)
            fprintf(stderr, "terms %u and %u out of order\n", i - 1, i);
    }
    for (size_t i = 0; f && i < nfixed; i++)
        bad += kiln__term_find(f, fixed[i], strlen(fixed[i])) < 0;
    CHECK_INT(bad, 0);
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* A term in blocks of docs with varied tf and length: every doc of a block has a (tf, norm)
 * that one of the block's impacts dominates (tf at least, norm at most), and the impacts are
 * at most KILN__IMPACTS pairs of increasing tf. */
static void test_block_impacts(void)
{
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    static char body[4096];
    const uint32_t ndocs = 1000;
    for (uint32_t d = 0; d < ndocs; d++) {
        uint32_t x = d * 2654435761u, tf = 1 + (x >> 7) % 9, other = (x >> 13) % 60;
        size_t n = 0;
        for (uint32_t k = 0; k < tf; k++) n += (size_t)snprintf(body + n, sizeof body - n, "a ");
        for (uint32_t k = 0; k < other; k++)
            n += (size_t)snprintf(body + n, sizeof body - n, "w%u ", k);
        json_t *doc = json_object();
        json_object_set_new(doc, "t", json_string(body));
        CHECK_INT(kiln_sindex_add(si, d, doc, m, NULL, &err), 0);
        json_decref(doc);
    }
    kiln_sindex_refresh(si, &err);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    const kiln_segment *s = kiln_reader_segment(rd, 0);
    const kiln__sfield *f = kiln__segment_field(s, "t");
    int64_t term = kiln__term_find(f, "a", 1);
    CHECK(term >= 0);
    kiln__sterm st;
    kiln__term_meta(f, (uint32_t)term, &st);
    CHECK_INT(st.df, ndocs);
    kiln__it *it = kiln__it_term(s, f, (uint32_t)term, (kiln__bm25){0, NULL});
    int bad = 0;
    uint32_t k = 0;
    for (uint32_t doc = kiln__it_next(it); doc != KILN__END; doc = kiln__it_next(it), k++) {
        const kiln__skip *sk = &s->skips[st.skip_idx + k / KILN__BLOCK];
        uint32_t tf = kiln__it_term_freq(it);
        int dominated = 0;
        for (unsigned i = 0; i < sk->nimp; i++)
            dominated |= sk->imp_tf[i] >= tf && sk->imp_norm[i] <= f->norms[doc];
        for (unsigned i = 1; i < sk->nimp; i++) bad += sk->imp_tf[i] <= sk->imp_tf[i - 1];
        bad += !dominated || sk->nimp == 0 || sk->nimp > KILN__IMPACTS || sk->max_tf < tf ||
               sk->min_norm > f->norms[doc];
    }
    CHECK_INT(k, ndocs);
    CHECK_INT(bad, 0);
    kiln__it_free(it);
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

KT_MAIN(KT_CASE(test_term_order), KT_CASE(test_block_impacts))
