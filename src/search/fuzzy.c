/* Fuzzy terms: the dictionary terms within an edit distance of a query term, chosen and
 * weighted as Elasticsearch's default for fuzzy queries and match's fuzziness does (Lucene's
 * top_terms_blended_freqs rewrite): candidates from every segment of every shard, the
 * max_expansions best by similarity (1 - edits / shorter length) then by term, each scored as a
 * BM25 term query boosted by its similarity, all with the idf of their largest df so that a
 * rare misspelling does not outrank the word it misspells. */
#include "search/plan.h"

#include "core/buf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KILN__FUZZY_MAX_CP 256 /* longer terms (code points) are compared by bytes alone */

/* Decodes UTF-8 into code points (a malformed byte counts as one); returns how many, at most
 * cap. */
static size_t kiln__cps(const char *s, size_t len, uint32_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < cap;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (i + k > len) k = 1;
        uint32_t cp = k == 1 ? c : c & (0x7f >> k);
        for (size_t j = 1; j < k; j++) cp = cp << 6 | ((unsigned char)s[i + j] & 0x3f);
        out[n++] = cp;
        i += k;
    }
    return n;
}

static size_t kiln__cp_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/* Bytes of the first n code points of s. */
static size_t kiln__cp_bytes(const char *s, size_t len, size_t n)
{
    size_t i = 0;
    for (; i < len && n; n--)
        for (i++; i < len && ((unsigned char)s[i] & 0xc0) == 0x80; i++) {
        }
    return i;
}

static int kiln__min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

static int kiln__distance_cp(const uint32_t *a, size_t n, const uint32_t *b, size_t m, int max,
                             int transpositions)
{
    if ((n > m ? n - m : m - n) > (size_t)max) return max + 1;
    int rows[3][KILN__FUZZY_MAX_CP + 1], *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        int best = cur[0];
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int d = kiln__min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (transpositions && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            cur[j] = d;
            if (d < best) best = d;
        }
        if (best > max) return max + 1; /* every later row is at least this */
        int *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[m] > max ? max + 1 : prev[m];
}

int kiln__edit_distance(const char *a, size_t alen, const char *b, size_t blen, int max,
                        int transpositions)
{
    uint32_t ca[KILN__FUZZY_MAX_CP], cb[KILN__FUZZY_MAX_CP];
    size_t n = kiln__cps(a, alen, ca, KILN__FUZZY_MAX_CP);
    size_t m = kiln__cps(b, blen, cb, KILN__FUZZY_MAX_CP);
    if (n == KILN__FUZZY_MAX_CP || m == KILN__FUZZY_MAX_CP) /* too long: only equal matches */
        return alen == blen && !memcmp(a, b, alen) ? 0 : max + 1;
    return kiln__distance_cp(ca, n, cb, m, max, transpositions);
}

static uint64_t kiln__hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* The candidate for term (added with df 0 when new). */
static kiln__fuzzcand *kiln__cand(kiln__fuzzset *fs, const char *t, size_t len)
{
    if (2 * (fs->n + 1) > fs->nindex) { /* keep the table at most half full */
        size_t cap = fs->nindex ? fs->nindex * 2 : 64;
        uint32_t *idx = kiln_xcalloc(cap, sizeof *idx);
        for (size_t i = 0; i < fs->n; i++) {
            size_t k = kiln__hash(fs->v[i].term, fs->v[i].len) & (cap - 1);
            while (idx[k]) k = (k + 1) & (cap - 1);
            idx[k] = (uint32_t)i + 1;
        }
        free(fs->index);
        fs->index = idx;
        fs->nindex = cap;
    }
    size_t k = kiln__hash(t, len) & (fs->nindex - 1);
    for (; fs->index[k]; k = (k + 1) & (fs->nindex - 1)) {
        kiln__fuzzcand *c = &fs->v[fs->index[k] - 1];
        if (c->len == len && !memcmp(c->term, t, len)) return c;
    }
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 16;
        fs->v = kiln_xrealloc(fs->v, fs->cap * sizeof *fs->v);
    }
    fs->index[k] = (uint32_t)fs->n + 1;
    kiln__fuzzcand *c = &fs->v[fs->n++];
    *c = (kiln__fuzzcand){kiln_xstrndup(t, len), len, 0, 0, 0};
    return c;
}

void kiln__fuzzy_gather(const kiln__pnode *n, const kiln__sfield *f, kiln__fuzzset *fs)
{
    if (!f || !f->indexed || !f->nterms) return;
    const char *q = n->terms[0];
    size_t qlen = n->tlens[0];
    uint32_t qc[KILN__FUZZY_MAX_CP], tc[KILN__FUZZY_MAX_CP];
    size_t qn = kiln__cps(q, qlen, qc, KILN__FUZZY_MAX_CP);
    size_t pre = kiln__cp_bytes(q, qlen, (size_t)n->prefix_len); /* must match exactly */
    uint32_t i = pre ? kiln__term_lower_bound(f, q, pre) : 0;
    for (; i < f->nterms; i++) {
        size_t len;
        const char *t = kiln__term_text(f, i, &len);
        if (pre && (len < pre || memcmp(t, q, pre))) break; /* past the prefix's range */
        size_t tn = kiln__cp_count(t, len);
        if ((tn > qn ? tn - qn : qn - tn) > (size_t)n->max_edits) continue;
        int ed;
        if (qn >= KILN__FUZZY_MAX_CP || tn >= KILN__FUZZY_MAX_CP)
            ed = len == qlen && !memcmp(t, q, len) ? 0 : n->max_edits + 1;
        else
            ed = kiln__distance_cp(qc, qn, tc, kiln__cps(t, len, tc, KILN__FUZZY_MAX_CP),
                                   n->max_edits, n->transpositions);
        if (ed > n->max_edits) continue;
        kiln__fuzzcand *c = kiln__cand(fs, t, len);
        size_t shorter = tn < qn ? tn : qn;
        c->edits = ed;
        c->boost = shorter ? 1.0f - (float)ed / (float)shorter : 0;
        c->df += kiln__term_df(f, i);
    }
}

static int kiln__cand_cmp(const void *a, const void *b)
{
    const kiln__fuzzcand *x = a, *y = b;
    if (x->boost != y->boost) return x->boost > y->boost ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->term, y->term, m);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

void kiln__fuzzy_finish(const kiln__pnode *n, kiln__fuzzset *fs, uint64_t doc_count)
{
    free(fs->index); /* no more lookups by text */
    fs->index = NULL;
    fs->nindex = 0;
    if (!n->fuzzy_const && fs->n > (size_t)n->max_exp) {
        qsort(fs->v, fs->n, sizeof *fs->v, kiln__cand_cmp);
        for (size_t i = (size_t)n->max_exp; i < fs->n; i++) free(fs->v[i].term);
        fs->n = (size_t)n->max_exp;
    }
    uint64_t df = 0;
    for (size_t i = 0; i < fs->n; i++)
        if (fs->v[i].df > df) df = fs->v[i].df;
    uint64_t docs = doc_count > df ? doc_count : df;
    fs->idf = (float)log(1.0 + ((double)docs - (double)df + 0.5) / ((double)df + 0.5));
}

void kiln__fuzzset_free(kiln__fuzzset *fs)
{
    for (size_t i = 0; i < fs->n; i++) free(fs->v[i].term);
    free(fs->v);
    free(fs->index);
}
