/* The term dictionary of segment format 4 (tdict.c): metadata blocks round trip at extreme
 * values; a real field's terms, dfs, postings and positions read back in memory, from a file
 * and after a merge; lookups of the first, last and missing terms; prefix, wildcard, range
 * and terms queries whose terms span several dictionary blocks; pulsed (df 1) terms; damaged
 * dictionaries with a valid checksum refused. */
#include "../test.h"
#include "test_mapping.h"

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "dsl/query.h"
#include "search/iter.h"
#include "search/search.h"
#include "search/searchInt.h"

#include <fcntl.h>
#include <unistd.h>

#define NDOCS 1000u
#define NW 40u        /* "w000".."w039": w_j in docs d % (j + 1) == 0 */
#define BIG_DOC 500u  /* its "u00500" has tf 70000: over the 65535 cap, so not pulsed; */
#define BIG_TF 70000u /* "u00501" 65535, at the cap: not pulsed; "u00502" 65534: pulsed */

static uint32_t w_tf(uint32_t d, uint32_t j)
{
    return d % (j + 1) ? 0 : 1 + (d + j) % 3;
}

static uint32_t u_tf(uint32_t d)
{
    return d == BIG_DOC       ? BIG_TF
           : d == BIG_DOC + 1 ? 65535
           : d == BIG_DOC + 2 ? 65534
           : d % 7 == 3       ? 2 + d % 5
                              : 1;
}

/* Doc d: t = its "u%05u" (u_tf times, first), then the w terms; k = ["u%05u", "k3"?, "kk"?]. */
static void add_doc(kiln_sindex *si, kiln_mapping *m, uint32_t d)
{
    static char body[BIG_TF * 7 + 4096];
    size_t n = 0;
    for (uint32_t i = 0; i < u_tf(d); i++)
        n += (size_t)sprintf(body + n, "u%05u ", d);
    for (uint32_t j = 0; j < NW; j++)
        for (uint32_t i = 0; i < w_tf(d, j); i++)
            n += (size_t)sprintf(body + n, "w%03u ", j);
    json_t *doc = json_object(), *k = json_array();
    char u[16];
    snprintf(u, sizeof u, "u%05u", d);
    json_array_append_new(k, json_string(u));
    if (d % 3 == 0) json_array_append_new(k, json_string("k3"));
    if (d % 250 == 0) json_array_append_new(k, json_string("kk"));
    json_object_set_new(doc, "t", json_string(body));
    json_object_set_new(doc, "k", k);
    kiln_error err;
    CHECK_INT(kiln_sindex_add(si, d, doc, m, NULL, &err), 0);
    json_decref(doc);
}

static const char *MAPPING =
    "{\"properties\":{\"t\":{\"type\":\"text\"},\"k\":{\"type\":\"keyword\"}}}";

/* Term i of field t: "u00000".."u00999" then "w000".."w039". */
static void t_term(uint32_t i, char *out)
{
    if (i < NDOCS)
        sprintf(out, "u%05u", i);
    else
        sprintf(out, "w%03u", i - NDOCS);
}

static uint32_t t_tf(uint32_t i, uint32_t d)
{
    return i < NDOCS ? (d == i ? u_tf(d) : 0) : w_tf(d, i - NDOCS);
}

/* Every term of t and k read back from the segments of rd (docnum order), by ordinal and by
 * text: texts, dfs, postings, term frequencies, the first position of each doc. */
static void check_dict(kiln_sindex_reader *rd)
{
    int bad = 0;
    uint32_t df_sum[NDOCS + NW] = {0};
    for (size_t si = 0; si < kiln_reader_nsegments(rd); si++) {
        const kiln_segment *s = kiln_reader_segment(rd, si);
        const kiln__sfield *f = kiln__segment_field(s, "t");
        CHECK(f != NULL);
        if (!f) return;
        uint32_t base = kiln_segment_base(s);
        for (uint32_t i = 0, ord = 0; i < NDOCS + NW; i++) {
            char want[16];
            t_term(i, want);
            int64_t k = kiln__term_find(f, want, strlen(want));
            uint32_t expect_df = 0;
            for (uint32_t d = base; d < base + kiln_segment_ndocs(s); d++)
                expect_df += t_tf(i, d) > 0;
            if (!expect_df) {
                bad += k != -1;
                continue;
            }
            if (k != (int64_t)ord) { /* terms are dense in the segment: ordinals in order */
                if (bad++ < 5)
                    fprintf(stderr, "%s: ordinal %lld, want %u\n", want, (long long)k, ord);
                ord++;
                continue;
            }
            size_t len;
            const char *text = kiln__term_text(f, ord, &len);
            bad += len != strlen(want) || memcmp(text, want, len);
            kiln__sterm st;
            kiln__term_meta(f, ord, &st);
            bad += st.df != expect_df;
            bad += kiln__sterm_pulsed(&st) != (expect_df == 1 && i != BIG_DOC && i != BIG_DOC + 1);
            df_sum[i] += st.df;
            if (kiln__sterm_pulsed(&st) && ord + 1 < f->nterms) { /* no postings bytes */
                kiln__sterm next;
                kiln__term_meta(f, ord + 1, &next);
                bad += next.post_off != st.post_off;
            }
            kiln__it *it = kiln__it_term(s, f, ord, (kiln__bm25){0, NULL});
            uint32_t d = base, seen = 0;
            for (uint32_t got = kiln__it_next(it); got != KILN__END; got = kiln__it_next(it), d++) {
                while (d < base + kiln_segment_ndocs(s) && !t_tf(i, d))
                    d++;
                uint32_t tf = kiln__it_term_freq(it), pos[4];
                uint32_t np = kiln__it_term_positions(it, pos, 4);
                uint32_t first = 0; /* the u term comes first, then the w terms in order */
                if (i >= NDOCS) {
                    first = u_tf(d);
                    for (uint32_t j = 0; j < i - NDOCS; j++)
                        first += w_tf(d, j);
                }
                if (got + base != d || tf != t_tf(i, d) || np == 0 || pos[0] != first) {
                    if (bad++ < 5)
                        fprintf(stderr, "%s: doc %u tf %u pos %u, want %u tf %u pos %u\n", want,
                                got + base, tf, np ? pos[0] : 0, d, t_tf(i, d), first);
                }
                seen++;
            }
            bad += seen != expect_df;
            kiln__it_free(it);
            ord++;
        }
        CHECK_INT(kiln__term_lower_bound(f, "", 0), 0);
        CHECK_INT(kiln__term_lower_bound(f, "zzz", 3), f->nterms);
        const char *missing[] = {"",       "a", "u", "u0050", "u00500a",
                                 "u01000", "v", "w", "w040",  "zzz"};
        for (size_t i = 0; i < sizeof missing / sizeof *missing; i++)
            CHECK_INT(kiln__term_find(f, missing[i], strlen(missing[i])), -1);

        /* the keyword field: ordinals back to their text (doc values) and by lookup */
        kiln_dv dv;
        CHECK_INT(kiln_dv_get(s, "k", &dv), 0);
        const kiln__sfield *kf = kiln__segment_field(s, "k");
        for (uint32_t d = 0; d < kiln_segment_ndocs(s); d++) {
            char u[16];
            snprintf(u, sizeof u, "u%05u", base + d);
            int found = 0;
            for (uint32_t v = 0; v < kiln_dv_count(&dv, d); v++) {
                size_t len;
                const char *x = kiln_dv_str(&dv, d, v, &len);
                found += len == strlen(u) && !memcmp(x, u, len);
                int64_t ord = kiln__term_find(kf, x, len);
                bad += ord < 0 || (uint32_t)ord != dv.ord[dv.off[d] + v];
            }
            bad += found != 1;
        }
        int64_t k3 = kiln__term_find(kf, "k3", 2), kk = kiln__term_find(kf, "kk", 2);
        uint32_t want_k3 = 0, want_kk = 0;
        for (uint32_t d = base; d < base + kiln_segment_ndocs(s); d++) {
            want_k3 += d % 3 == 0;
            want_kk += d % 250 == 0;
        }
        CHECK_INT(k3, 0);
        CHECK_INT(kk, 1);
        if (k3 == 0) CHECK_INT(kiln__term_df(kf, 0), want_k3);
        if (kk == 1) CHECK_INT(kiln__term_df(kf, 1), want_kk);
    }
    for (uint32_t i = 0; i < NDOCS + NW; i++) {
        uint32_t want = 0;
        for (uint32_t d = 0; d < NDOCS; d++)
            want += t_tf(i, d) > 0;
        bad += df_sum[i] != want;
    }
    CHECK_INT(bad, 0);
}

static uint64_t count(kiln_sindex *si, kiln_mapping *m, const char *qjs)
{
    json_t *j = json_loads(qjs, 0, NULL);
    kiln_dsl_error de;
    kiln_query *q = kiln_dsl_parse(j, "query", &de);
    json_decref(j);
    CHECK(q != NULL);
    if (!q) return UINT64_MAX;
    kiln_error err;
    kiln_plan *p = kiln_plan_build(q, m, NULL, 1700000000000LL, &err);
    kiln_query_free(q);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    kiln_search_stats *st = kiln_stats_new(p);
    kiln_stats_gather(p, rd, st);
    kiln_stats_finish(p, st);
    kiln_search_opts o = {.k = 10, .track_total_hits = -1};
    kiln_search_result res = {0};
    uint64_t n = kiln_search_execute(p, st, rd, NULL, &o, &res, &err) ? UINT64_MAX : res.total;
    kiln_search_result_free(&res);
    kiln_stats_free(st);
    kiln_plan_free(p);
    kiln_sindex_reader_release(rd);
    return n;
}

/* Docs holding one of w030..w039. */
static uint32_t w3x_docs(void)
{
    uint32_t n = 0;
    for (uint32_t d = 0; d < NDOCS; d++) {
        int any = 0;
        for (uint32_t j = 30; j < 40; j++)
            any |= w_tf(d, j) > 0;
        n += any;
    }
    return n;
}

/* Expansions whose terms lie in several blocks of 32 (and a term-level query for scale). */
static void check_queries(kiln_sindex *si, kiln_mapping *m)
{
    CHECK_INT(count(si, m, "{\"prefix\":{\"t\":\"u003\"}}"), 100); /* ordinals 300..399 */
    CHECK_INT(count(si, m, "{\"prefix\":{\"t\":\"u0099\"}}"), 10); /* the last u terms */
    CHECK_INT(count(si, m, "{\"prefix\":{\"t\":\"u0\"}}"), NDOCS); /* from the first term */
    CHECK_INT(count(si, m, "{\"prefix\":{\"t\":\"w03\"}}"), w3x_docs());
    CHECK_INT(count(si, m, "{\"prefix\":{\"t\":\"x\"}}"), 0);
    CHECK_INT(count(si, m, "{\"wildcard\":{\"t\":\"u0*9?\"}}"), 100);
    CHECK_INT(
        count(si, m, "{\"wildcard\":{\"t\":{\"value\":\"U00*5\",\"case_insensitive\":true}}}"),
        100);
    CHECK_INT(count(si, m, "{\"wildcard\":{\"t\":\"w03?\"}}"), w3x_docs());
    CHECK_INT(count(si, m, "{\"range\":{\"k\":{\"gte\":\"u00100\",\"lt\":\"u00200\"}}}"), 100);
    CHECK_INT(count(si, m, "{\"range\":{\"k\":{\"gt\":\"u00990\"}}}"), 9);
    CHECK_INT(count(si, m, "{\"terms\":{\"k\":[\"kk\",\"u00001\",\"u00999\",\"nope\"]}}"), 6);
    CHECK_INT(count(si, m, "{\"term\":{\"t\":\"u00500\"}}"), 1);
    CHECK_INT(count(si, m, "{\"term\":{\"t\":\"w000\"}}"), NDOCS);
    CHECK_INT(count(si, m, "{\"match_phrase\":{\"t\":\"u00042 w000\"}}"), 1);
}

/* One index checked in memory, after a commit and reopen (the mapped file), and merged from
 * two segments. */
static void test_dictionary(void)
{
    kiln_mapping *m = mapping(MAPPING);
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "tdict");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(dir, &err);
    for (uint32_t d = 0; d < NDOCS; d++) {
        add_doc(si, m, d);
        if (d == 377) CHECK_INT(kiln_sindex_refresh(si, &err), 0); /* two segments */
    }
    CHECK_INT(kiln_sindex_refresh(si, &err), 0);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    CHECK_INT(kiln_reader_nsegments(rd), 2);
    check_dict(rd);
    kiln_sindex_reader_release(rd);
    check_queries(si, m);
    CHECK_INT(kiln_sindex_commit(si, &err), 0);
    kiln_sindex_close(si);

    si = kiln_sindex_open(dir, &err); /* from the files */
    CHECK(si != NULL);
    if (si) {
        rd = kiln_sindex_reader_acquire(si);
        CHECK_INT(kiln_reader_nsegments(rd), 2);
        check_dict(rd);
        kiln_sindex_reader_release(rd);
        check_queries(si, m);
        kiln_sindex_force_merge(si, 1);
        rd = kiln_sindex_reader_acquire(si);
        CHECK_INT(kiln_reader_nsegments(rd), 1);
        const kiln__sfield *f = kiln__segment_field(kiln_reader_segment(rd, 0), "t");
        CHECK_INT(f ? f->nterms : 0, NDOCS + NW);
        check_dict(rd);
        kiln_sindex_reader_release(rd);
        check_queries(si, m);
        kiln_sindex_close(si);
    }
    kiln_fs_remove_tree(dir, NULL);
    kiln_mapping_unref(m);
}

/* Metadata at the edges of every column's range, blocks full and partial, encoded and decoded
 * without a segment. */
static void test_blocks_round_trip(void)
{
    enum { N = 2 * KILN__TBLOCK + 13 };
    static kiln__sterm in[N];
    uint64_t seed = 42, post = 0, pos = 0;
    uint32_t skip = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint64_t r = kiln_test_rand(&seed);
        kiln__sterm *t = &in[i];
        static const uint32_t dfs[] = {1, 2, 127, 128, 129, 100000, UINT32_MAX - 127};
        t->df = i < KILN__TBLOCK ? 1 : dfs[r % 7]; /* the first block: all pulsed-sized */
        t->post_off = post;
        t->pos_off = pos;
        post += i == 40 ? (1ull << 50) : r % 5000; /* one block spans 2^50 bytes */
        pos += i % 7 ? r % 300 : 0;
        t->max_tf = i == 3 ? 65535 : (uint16_t)(1 + (r >> 20) % (i % 2 ? 65535 : 3));
        t->min_norm = (uint8_t)(r >> 40);
        if (kiln__sterm_nblocks(t) > 1) {
            t->skip_idx = skip;
            skip += kiln__sterm_nblocks(t);
        } else {
            t->skip_idx = i == 5 ? UINT32_MAX - 1 : (uint32_t)(r >> 8) % 0x7fffffff;
        }
    }
    kiln__sfield f = {.nterms = N};
    kiln__tdict_encode(&f, in);
    int bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        kiln__sterm out;
        kiln__term_meta(&f, i, &out);
        if (out.df != in[i].df || out.post_off != in[i].post_off || out.pos_off != in[i].pos_off ||
            out.max_tf != in[i].max_tf || out.min_norm != in[i].min_norm ||
            out.skip_idx != in[i].skip_idx) {
            if (bad++ < 3) fprintf(stderr, "term %u differs\n", i);
        }
    }
    CHECK_INT(bad, 0);

    /* the validator against a segment those offsets do not fit */
    uint32_t *off = kiln_xcalloc(N + 1, 4);
    f.term_off = off;
    /* offsets only grow: the last term's are the largest */
    kiln_segment seg = {.post_len = in[N - 1].post_off,
                        .pos_len = in[N - 1].pos_off,
                        .nskips = skip,
                        .ndocs = UINT32_MAX};
    CHECK_INT(kiln__tdict_valid(&f, 0, &seg), 0);
    seg.post_len--;
    CHECK_INT(kiln__tdict_valid(&f, 0, &seg), -1);
    seg.post_len++;
    seg.pos_len--;
    CHECK_INT(kiln__tdict_valid(&f, 0, &seg), -1);
    seg.pos_len++;
    seg.nskips = skip - 1;
    CHECK_INT(kiln__tdict_valid(&f, 0, &seg), -1);
    seg.nskips = skip;
    seg.ndocs = UINT32_MAX - 1; /* term 5's last doc is UINT32_MAX - 1... */
    CHECK_INT(kiln__tdict_valid(&f, 0, &seg), -1);
    seg.ndocs = UINT32_MAX;
    off[N] = 1; /* text of 0 bytes, offsets say 1 */
    CHECK_INT(kiln__tdict_valid(&f, 0, &seg), -1);
    CHECK_INT(kiln__tdict_valid(&f, 1, &seg), 0);
    off[3] = 2; /* not in order */
    CHECK_INT(kiln__tdict_valid(&f, 1, &seg), -1);
    off[3] = off[N] = 0;
    CHECK_INT(kiln__tdict_valid(&f, 0, &seg), 0);
    free(off);
    free(f.tblock_off);
    free(f.tmeta);
}

/* ---- damaged files: each patch keeps the checksum valid, so only the dictionary's own checks
 * can refuse it ------------------------------------------------------------------------------ */

typedef struct {
    size_t term_off, tblock_off, tmeta, tmeta_len;
    uint32_t nterms;
} where;

static where locate(const char *dir)
{
    kiln_error err;
    where w = {0};
    kiln_segment *s = kiln__segment_open(dir, 0, &err);
    CHECK(s != NULL);
    if (!s) return w;
    const kiln__sfield *f = kiln__segment_field(s, "t");
    const uint8_t *map = s->map;
    w.term_off = (size_t)((const uint8_t *)f->term_off - map);
    w.tblock_off = (size_t)((const uint8_t *)f->tblock_off - map);
    w.tmeta = (size_t)(f->tmeta - map);
    w.tmeta_len = f->tmeta_len;
    w.nterms = f->nterms;
    kiln__segment_unref(s);
    return w;
}

static void patch_resum(const char *path, const uint8_t *orig, size_t len, size_t at,
                        const void *bytes, size_t n)
{
    uint8_t *b = kiln_xmalloc(len);
    memcpy(b, orig, len);
    memcpy(b + at, bytes, n);
    uint64_t sum = kiln_checksum(b, len - 16);
    memcpy(b + len - 16, &sum, 8);
    kiln_error err;
    CHECK_INT(kiln_fs_write_atomic(path, b, len, &err), 0);
    free(b);
}

static void test_damaged_refused(void)
{
    kiln_mapping *m = mapping(MAPPING);
    char dir[256], path[512];
    kiln_test_tmpdir(dir, sizeof dir, "tdict-bad");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(dir, &err);
    for (uint32_t d = 0; d < 300; d++)
        add_doc(si, m, d * 3); /* not the big doc */
    CHECK_INT(kiln_sindex_commit(si, &err), 0);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
    snprintf(path, sizeof path, "%s/seg-%010u.ksg", dir, 0u);
    char *orig;
    size_t len;
    if (kiln_fs_read_all(path, &orig, &len, &err)) {
        KT_FAIL("%s: %s", path, err.reason);
        return;
    }
    where w = locate(dir);
    CHECK(w.nterms > 4 * KILN__TBLOCK);
    if (w.nterms <= 4 * KILN__TBLOCK) return;
    uint32_t nb = (w.nterms + KILN__TBLOCK - 1) / KILN__TBLOCK;
    uint64_t last_blk;
    memcpy(&last_blk, orig + w.tblock_off + (nb - 1) * 8, 8);
    uint32_t text_len;
    memcpy(&text_len, orig + w.term_off + (size_t)w.nterms * 4, 4);
    struct {
        const char *what;
        size_t at;
        uint8_t bytes[8];
        size_t n;
    } cases[] = {
        {"unchanged", 0, {'K'}, 1},
        {"postings offsets wider than 57 bits", w.tmeta + 1, {58}, 1},
        {"df column wider than 32 bits", w.tmeta, {33}, 1},
        {"last block's columns past its end", w.tmeta + last_blk, {32}, 1},
        {"second block past the metadata",
         w.tblock_off + 8,
         {0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0},
         8},
        {"third block before the second", w.tblock_off + 16, {1, 0, 0, 0, 0, 0, 0, 0}, 8},
        {"last block past the metadata",
         w.tblock_off + (nb - 1) * 8,
         {(uint8_t)w.tmeta_len, (uint8_t)(w.tmeta_len >> 8), (uint8_t)(w.tmeta_len >> 16), 0, 0, 0,
          0, 0},
         8},
        {"term offsets out of order", w.term_off + 4 * 7, {0xff, 0xff, 0, 0}, 4},
        {"term offsets past the text",
         w.term_off + (size_t)w.nterms * 4,
         {(uint8_t)(text_len + 1), (uint8_t)((text_len + 1) >> 8), (uint8_t)((text_len + 1) >> 16),
          0},
         4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        patch_resum(path, (const uint8_t *)orig, len, cases[c].at, cases[c].bytes, cases[c].n);
        kiln_segment *s = kiln__segment_open(dir, 0, &err);
        int want_ok = c == 0;
        if ((s != NULL) != want_ok) KT_FAIL("%s: %s", cases[c].what, s ? "opened" : "refused");
        if (!s) CHECK(strstr(err.reason, "corrupt segment file") != NULL);
        kiln__segment_unref(s);
    }
    free(orig);
    kiln_fs_remove_tree(dir, NULL);
}

KT_MAIN(KT_CASE(test_blocks_round_trip), KT_CASE(test_dictionary), KT_CASE(test_damaged_refused))
