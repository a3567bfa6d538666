/* Document preparation (src/search/prep.c): the tokens' text in the prep buffer (slices of the
 * value share its copy, rewritten tokens are copied), their hashes and positions, the string
 * values of text and keyword multi-fields, and the per-mapping caches (each leaf's field guessed
 * from the last document, each field's analyzer per registry): a prep object reused across
 * documents of changing shapes and across registries must prepare what a fresh one does. */
#include "analysis/analysis.h"
#include "core/json.h"
#include "index/mapping.h"
#include "search/prep.h"
#include "search/sindex.h"
#include "../test.h"
#include "../search/test_mapping.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

static kiln_analysis_registry *registry(const char *js)
{
    json_t *j = json_loads(js, 0, NULL);
    kiln_error err;
    kiln_analysis_registry *r = kiln_analysis_registry_new(j, &err);
    json_decref(j);
    if (!r) KT_FAIL("bad analysis settings %s", js);
    return r;
}

/* Everything a prepared document hands the writer, as text: per item its field path, kind,
 * value and tokens (text read back from the prep buffer at off/len, hash checked, position). */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void addf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    add(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The tokens kiln_analyze gives for a value, to check the prepared ones against. */
typedef struct {
    sbuf text;
    uint32_t first, n;
} ref;

static int ref_token(const kiln_token *t, void *ctx)
{
    ref *r = ctx;
    if (!r->n++) r->first = t->position;
    add(&r->text, " [", 2);
    add(&r->text, t->text, t->len);
    addf(&r->text, "@%u]", t->position - r->first);
    return 0;
}

static void dump(const kiln_sindex_prep *p, const kiln_mapping *m,
                 const kiln_analysis_registry *ar, sbuf *b)
{
    const char *text = (const char *)p->text.p;
    for (uint32_t i = 0; i < p->nitems; i++) {
        const kiln__pitem *it = &p->items[i];
        addf(b, "%s:%u", m->fields[it->mfield].path, it->kind);
        if (it->kind == KILN_DV_STR || it->kind == KILN_DV_ORD) {
            add(b, "=", 1);
            add(b, text + it->v.s.off, it->v.s.len);
        }
        if (it->kind == KILN_DV_ORD) {
            CHECK(it->hash == XXH3_64bits(text + it->v.s.off, it->v.s.len));
            addf(b, "@%u", it->pos);
        }
        if (it->kind == KILN_DV_STR) {
            sbuf got = {0};
            for (uint32_t k = 0; k < it->ntok; k++) {
                const kiln__ptok *t = &p->toks[it->tok0 + k];
                add(b, " [", 2);
                add(b, text + t->off, t->len);
                addf(b, "@%u]", t->pos);
                CHECK(t->hash == XXH3_64bits(text + t->off, t->len));
                add(&got, " [", 2);
                add(&got, text + t->off, t->len);
                addf(&got, "@%u]", t->pos - p->toks[it->tok0].pos);
            }
            /* the same as analysing the value directly */
            const kiln_analyzer *a = kiln_analyzer_get(ar, m->fields[it->mfield].analyzer);
            if (!a) a = kiln_analyzer_get(ar, "standard");
            ref r = {{0}, 0, 0};
            kiln_analyze(a, text + it->v.s.off, it->v.s.len, 0, ref_token, &r);
            CHECK_STR(got.p ? got.p : "", r.text.p ? r.text.p : "");
            free(got.p);
            free(r.text.p);
        }
        if (it->kind == KILN_DV_I64) addf(b, "=%lld", (long long)it->v.i64);
        add(b, "\n", 1);
    }
}

static const char *const docs[] = {
    "{\"title\":\"Hello World\",\"body\":\"The Caf\\u00e9 is OPEN, the end\",\"n\":5,"
    "\"tags\":[\"A\",\"b\"],\"obj\":{\"a\":\"Inner TEXT\"}}",
    /* the same shape */
    "{\"title\":\"hello again\",\"body\":\"the quick brown fox\",\"n\":6,\"tags\":[\"c\"],"
    "\"obj\":{\"a\":\"x\"}}",
    /* another order, a missing field, a number and a boolean in text fields, nulls */
    "{\"obj\":{\"a\":null},\"tags\":\"solo\",\"title\":42,\"body\":true,\"n\":null}",
    /* arrays of text: positions continue after the gap; a value longer than ignore_above */
    "{\"title\":[\"One Two\",\"three\",\"A very long title over twenty\"],\"body\":[\"x Y\",\"\"],"
    "\"n\":1}",
    /* the same value in text and keyword, rewritten tokens (lowercase, folding), non-ASCII */
    "{\"title\":\"MIXED Case na\\u00efve \\u4e2d\\u6587 O'Reilly's 3.14\",\"extra\":\"unmapped\","
    "\"body\":\"STRA\\u00dfE caf\\u00e9 The\",\"n\":7}",
    "{\"n\":8,\"body\":\"Only body\",\"title\":\"\"}",
    "{\"title\":\"Hello World\",\"body\":\"The Caf\\u00e9 is OPEN, the end\",\"n\":5,"
    "\"tags\":[\"A\",\"b\"],\"obj\":{\"a\":\"Inner TEXT\"}}",
};
#define NDOCS (sizeof docs / sizeof docs[0])

/* in document order; kinds: 4 text (KILN_DV_STR), 3 keyword (ORD), 1 long (I64) */
static const char *const expect_doc0 =
    "title:4=Hello World [hello@0] [world@1]\n"
    "title.keyword:3=Hello World@0\n"
    "body:4=The Caf\xc3\xa9 is OPEN, the end [cafe@1] [open@3] [end@5]\n"
    "n:1=5\n"
    "tags:3=A@0\n"
    "tags:3=b@1\n"
    "obj.a:4=Inner TEXT [inner@0] [text@1]\n";

static void prepare_all(kiln_sindex_prep *shared, const kiln_mapping *m,
                        const kiln_analysis_registry *ar, const size_t *order, sbuf *out)
{
    for (size_t k = 0; k < NDOCS; k++) {
        size_t d = order[k];
        kiln_json j = KILN_JSON_INIT;
        CHECK_INT(kiln_json_parse(&j, docs[d], strlen(docs[d])), 0);
        kiln_sindex_prep *p = shared ? shared : kiln_sindex_prep_new();
        CHECK_INT(kiln_sindex_prepare(p, &j, m, ar), 0);
        addf(out, "doc %zu\n", d);
        dump(p, m, ar, out);
        if (!shared) kiln_sindex_prep_free(p);
        kiln_json_dispose(&j);
    }
}

int main(void)
{
    kiln_mapping *m = mapping(
        "{\"properties\":{\"title\":{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":"
        "\"keyword\",\"ignore_above\":20}}},\"body\":{\"type\":\"text\",\"analyzer\":\"my\"},"
        "\"n\":{\"type\":\"long\"},\"tags\":{\"type\":\"keyword\"},\"obj\":{\"properties\":"
        "{\"a\":{\"type\":\"text\"}}}}}");
    kiln_analysis_registry *r1 = registry(
        "{\"analyzer\":{\"my\":{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\","
        "\"asciifolding\",{\"type\":\"stop\",\"stopwords\":[\"the\",\"is\"]}]}}}");
    kiln_analysis_registry *r2 = registry(
        "{\"analyzer\":{\"my\":{\"tokenizer\":\"whitespace\",\"filter\":[\"uppercase\"]}}}");
    CHECK(kiln_analysis_registry_serial(r1) != kiln_analysis_registry_serial(r2));
    CHECK_INT(kiln_analysis_registry_serial(NULL), 0);

    /* one document, spelled out: stop words leave gaps, folding rewrites café */
    {
        sbuf one = {0};
        kiln_json j = KILN_JSON_INIT;
        kiln_json_parse(&j, docs[0], strlen(docs[0]));
        kiln_sindex_prep *p = kiln_sindex_prep_new();
        kiln_sindex_prepare(p, &j, m, r1);
        dump(p, m, r1, &one);
        CHECK_STR(one.p, expect_doc0);
        kiln_sindex_prep_free(p);
        kiln_json_dispose(&j);
        free(one.p);
    }

    /* a reused prep (caches warm, shapes changing) prepares what fresh ones do, in document
     * order and in reverse, and follows a registry change on the same mapping */
    size_t fwd[NDOCS], rev[NDOCS];
    for (size_t i = 0; i < NDOCS; i++)
        fwd[i] = i, rev[i] = NDOCS - 1 - i;
    const kiln_analysis_registry *regs[] = {r1, r2, NULL, r1};
    kiln_sindex_prep *shared = kiln_sindex_prep_new();
    for (size_t ri = 0; ri < sizeof regs / sizeof regs[0]; ri++) {
        for (int dir = 0; dir < 2; dir++) {
            sbuf fresh = {0}, reused = {0};
            prepare_all(NULL, m, regs[ri], dir ? rev : fwd, &fresh);
            prepare_all(shared, m, regs[ri], dir ? rev : fwd, &reused);
            CHECK(fresh.len > 0);
            if (!fresh.p || !reused.p || strcmp(fresh.p, reused.p))
                KT_FAIL("registry %zu, %s: reused prep differs\n--- fresh\n%s--- reused\n%s", ri,
                        dir ? "reverse" : "forward", fresh.p ? fresh.p : "",
                        reused.p ? reused.p : "");
            if (ri == 1) CHECK(strstr(fresh.p, "[QUICK@") != NULL); /* r2's analyzer ran */
            free(fresh.p);
            free(reused.p);
        }
    }
    kiln_sindex_prep_free(shared);
    kiln_analysis_registry_free(r1);
    kiln_analysis_registry_free(r2);
    kiln_mapping_unref(m);
    printf("prep: %d checks, %d failed\n", kiln_test_checks, kiln_test_failures);
    return kiln_test_failures ? 1 : 0;
}
