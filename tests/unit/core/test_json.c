/* The tape parser (core/json.h) must accept exactly what jansson accepts with
 * JSON_REJECT_DUPLICATES, and read the same values: checked on hand-picked edge cases and on
 * many random mutations of realistic documents. */
#include "core/json.h"
#include "test.h"

#include <jansson.h>

/* The tape's value at node i as a jansson value, for comparison with json_loadb's. */
static json_t *to_jansson(const kiln_json *j, const kiln_jnode *n)
{
    switch ((kiln_json_type)n->type) {
    case KILN_JSON_NULL: return json_null();
    case KILN_JSON_FALSE: return json_false();
    case KILN_JSON_TRUE: return json_true();
    case KILN_JSON_INT: return json_integer(n->v.i);
    case KILN_JSON_REAL: return json_real(n->v.d);
    case KILN_JSON_STRING: return json_stringn(kiln_json_string(j, n), n->v.s.len);
    case KILN_JSON_ARRAY: {
        json_t *a = json_array();
        const kiln_jnode *c = kiln_json_child(n);
        for (uint32_t k = 0; k < n->v.count; k++, c = kiln_json_next(j, c))
            json_array_append_new(a, to_jansson(j, c));
        return a;
    }
    case KILN_JSON_OBJECT: {
        json_t *o = json_object();
        const kiln_jnode *c = kiln_json_child(n);
        for (uint32_t k = 0; k < n->v.count; k++, c = kiln_json_next(j, c)) {
            CHECK_INT(strlen(kiln_json_key(j, c)), c->key_len); /* NUL-terminated, no NUL inside */
            json_object_setn_new(o, kiln_json_key(j, c), c->key_len, to_jansson(j, c));
        }
        return o;
    }
    }
    return NULL;
}

/* Returns 1 if the two parsers agree on text. */
static int agree(kiln_json *j, const char *text, size_t len)
{
    json_error_t err;
    json_t *ref = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    int rc = kiln_json_parse(j, text, len);
    /* jansson skips a NUL byte read ahead after a number or literal ("[1\0]" loads); the tape
     * refuses every NUL byte, and callers fall back to jansson when the tape refuses */
    int ok = (rc == 0) == (ref != NULL) || (rc != 0 && memchr(text, 0, len));
    if (ok && ref && rc == 0) {
        CHECK_INT(j->nodes[0].end, j->n);
        json_t *mine = to_jansson(j, kiln_json_root(j));
        ok = json_equal(mine, ref);
        json_decref(mine);
    }
    if (!ok)
        KT_FAIL("disagree on [%.*s]: jansson %s (%s), tape %d", (int)(len > 200 ? 200 : len), text,
                ref ? "accepts" : "refuses", ref ? "" : err.text, rc);
    json_decref(ref);
    return ok;
}

static void test_edge_cases(void)
{
    static const char *const cases[] = {
        "{}", "[]", " { } ", "\t[\r\n]\n", "", " ", "1", "\"s\"", "true", "null",
        "{\"a\":1}", "{\"a\":1,}", "{,}", "[1,]", "[,1]", "[1 2]", "{\"a\" 1}", "{\"a\":}",
        "{\"a\":1}x", "{\"a\":1} {}", "{\"a\":1}}", "[[[]]]", "[[[]]", "{\"a\":[1,{\"b\":null}]}",
        "[true,false,null]", "[tru]", "[truex]", "[nul]", "[nulll]", "[True]", "[falsey]",
        "[0]", "[-0]", "[01]", "[-01]", "[-]", "[1.]", "[.5]", "[1.5]", "[-1.5e3]", "[1e]",
        "[1e+]", "[1E-2]", "[1e400]", "[-1e400]", "[1e-400]", "[0.0000000000000000000001]",
        "[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]",
        "[-9223372036854775809]", "[123456789012345678]", "[1234567890123456789]",
        "[99999999999999999999999999999]", "[1.7976931348623157e308]", "[2e308]",
        "[+1]", "[0x10]", "[1_0]", "[Infinity]", "[NaN]", "[-Infinity]",
        "[\"\\u0041\"]", "[\"\\u00e9\\u20ac\"]", "[\"\\ud83d\\ude00\"]", "[\"\\ud83d\"]",
        "[\"\\ude00\"]", "[\"\\ud83dx\"]", "[\"\\ud83d\\u0041\"]", "[\"\\u0000\"]",
        "{\"\\u0000\":1}", "[\"\\u00\"]", "[\"\\u00zz\"]", "[\"\\x\"]", "[\"\\'\"]",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"a\tb\"]", "[\"a\nb\"]", "[\"a\x01\"]",
        "[\"a\x7f\"]", "[\"unterminated]", "[\"\\\"]", "{\"\":1}", "{\"\":1,\"\":2}",
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"a\":2}}", "{\"a\":{\"b\":1,\"b\":2}}",
        "[\"\xc3\xa9\"]", "[\"\xc3\"]", "[\"\xc3x\"]", "[\"\xc0\x80\"]", "[\"\xc1\xbf\"]",
        "[\"\xe0\x80\x80\"]", "[\"\xe2\x82\xac\"]", "[\"\xed\xa0\x80\"]", "[\"\xef\xbf\xbf\"]",
        "[\"\xf0\x9f\x98\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xf5\x80\x80\x80\"]",
        "[\"\x80\"]", "[\"\xff\"]", "[\xc3\xa9]", "\xef\xbb\xbf{}", "{\"a\":1 , \"b\" : 2 }",
        "{\"a\":\"x\\u00e9\\ud83d\\ude00y\",\"a\\u00e9\":[1,2.5,-3,true,false,null,{}]}",
    };
    kiln_json j = KILN_JSON_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) agree(&j, cases[i], strlen(cases[i]));
    /* embedded NUL bytes in the buffer */
    agree(&j, "[\"a\0b\"]", 7);
    agree(&j, "{}\0", 3);
    agree(&j, "[1\0]", 4);
    CHECK_INT(kiln_json_parse(&j, "[1\0]", 4), -1);
    agree(&j, "[true\0]", 7);
    kiln_json_dispose(&j);
}

static void test_depth_limit(void)
{
    kiln_json j = KILN_JSON_INIT;
    for (size_t depth = 2046; depth <= 2050; depth++) {
        char *t = malloc(2 * depth + 8);
        size_t n = 0;
        for (size_t i = 0; i < depth; i++) t[n++] = '[';
        size_t open = n;
        for (size_t i = 0; i < depth; i++) t[n++] = ']';
        agree(&j, t, n); /* empty innermost array */
        /* a scalar inside: one level deeper */
        memmove(t + open + 1, t + open, depth);
        t[open] = '1';
        agree(&j, t, n + 1);
        free(t);
    }
    kiln_json_dispose(&j);
}

static void test_many_keys(void)
{
    /* objects past the small-object path: duplicates found by hash, distinct keys accepted */
    kiln_json j = KILN_JSON_INIT;
    char buf[16384];
    for (int dup = 0; dup < 2; dup++) {
        size_t n = 0;
        buf[n++] = '{';
        for (int k = 0; k < 500; k++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"k%d\":%d", k ? "," : "", k, k);
        if (dup) n += (size_t)snprintf(buf + n, sizeof buf - n, ",\"k250\":1");
        buf[n++] = '}';
        CHECK(agree(&j, buf, n));
        CHECK_INT(kiln_json_parse(&j, buf, n), dup ? -1 : 0);
    }
    kiln_json_dispose(&j);
}

static void test_values_and_layout(void)
{
    kiln_json j = KILN_JSON_INIT;
    const char *t = "{\"name\":\"a\\\"b\",\"n\":[1,[2,3],{\"x\":null}],\"p\":1.25,\"b\":true}";
    CHECK_INT(kiln_json_parse(&j, t, strlen(t)), 0);
    const kiln_jnode *root = kiln_json_root(&j);
    CHECK_INT(root->type, KILN_JSON_OBJECT);
    CHECK_INT(root->v.count, 4);
    const kiln_jnode *c = kiln_json_child(root);
    CHECK_STR(kiln_json_key(&j, c), "name");
    CHECK_STR(kiln_json_string(&j, c), "a\"b");
    c = kiln_json_next(&j, c);
    CHECK_STR(kiln_json_key(&j, c), "n");
    CHECK_INT(c->type, KILN_JSON_ARRAY);
    CHECK_INT(c->v.count, 3);
    c = kiln_json_next(&j, c); /* skips the array's descendants */
    CHECK_STR(kiln_json_key(&j, c), "p");
    CHECK_INT(c->type, KILN_JSON_REAL);
    CHECK(c->v.d == 1.25);
    c = kiln_json_next(&j, c);
    CHECK_INT(c->type, KILN_JSON_TRUE);
    CHECK_INT(c->end, j.n);
    /* reuse keeps working and does not see the previous document */
    CHECK_INT(kiln_json_parse(&j, "[]", 2), 0);
    CHECK_INT(j.n, 1);
    kiln_json_dispose(&j);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    return kiln_test_rand(&rng_state);
}

static void test_mutations_agree(void)
{
    static const char *const seeds[] = {
        "{\"name\":\"Laiweax Ul Pehar\",\"description\":\"Didriond merthix. Dy ki ne\",\"category\":"
        "\"books\",\"price\":190.75,\"rating\":4.8,\"stock\":875,\"tags\":[\"cizi\",\"cu\"],"
        "\"created_at\":\"2024-03-14T06:43:23Z\",\"attributes\":{\"color\":\"white\",\"size\":"
        "\"one size\"}}",
        "{\"a\":[1,-2,3.5e-7,true,false,null,[],{}],\"b\\u00e9\":\"\\ud83d\\ude00\\n\",\"c\":{\"d\":"
        "{\"e\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}},\"f\":-0,\"g\":12345678901234567890}",
        "[{\"index\":{\"_id\":\"1\"}},{\"k\":\"v\"},[0.1,1e10,-1E-5]]",
    };
    static const char alphabet[] = "{}[]:,\"\\/ \t\n0123456789-+.eEtrufalsn\x01\x80\xc3\xa9\xed\xff"
                                   "u0dD8";
    kiln_json j = KILN_JSON_INIT;
    char buf[1024];
    int disagreements = 0;
    for (int iter = 0; iter < 60000 && disagreements < 5; iter++) {
        const char *s = seeds[iter % 3];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = n ? rnd() % n : 0;
            char c = alphabet[rnd() % (sizeof alphabet - 1)];
            switch (rnd() % 4) {
            case 0: buf[at] = c; break; /* replace */
            case 1:                     /* insert */
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                }
                break;
            case 2: /* delete */
                if (n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            case 3: n = at; break; /* truncate */
            }
        }
        if (!agree(&j, buf, n)) disagreements++;
    }
    CHECK_INT(disagreements, 0);
    kiln_json_dispose(&j);
}

/* Strings are scanned 16 bytes at a time: an escape, a quote, a UTF-8 sequence, a control
 * character or a bad byte at every offset of a long string, and strings ending at every offset
 * of a 16-byte block, parse as jansson parses them. */
static void test_string_scan_offsets(void)
{
    static const char *const specials[] = {"\\\"", "\\n", "\\u00e9", "\xc3\xa9", "\x01", "\xff",
                                           "\\\\", "\x7f", " "};
    kiln_json j = KILN_JSON_INIT;
    char buf[128];
    int disagreements = 0, parsed = 0;
    for (size_t k = 0; k < sizeof specials / sizeof *specials; k++)
        for (int at = 0; at <= 40; at++)
            for (int tail = 0; tail <= 17; tail += 17) {
                int n = snprintf(buf, sizeof buf, "[\"%.*s%s%.*s\"]", at,
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP", specials[k], tail,
                                 "0123456789abcdefgh");
                if (!agree(&j, buf, (size_t)n)) disagreements++;
                parsed += kiln_json_parse(&j, buf, (size_t)n) == 0;
            }
    CHECK_INT(disagreements, 0);
    CHECK(parsed > 0);
    kiln_json_dispose(&j);
}

KT_MAIN(KT_CASE(test_edge_cases), KT_CASE(test_depth_limit), KT_CASE(test_many_keys),
        KT_CASE(test_values_and_layout), KT_CASE(test_mutations_agree),
        KT_CASE(test_string_scan_offsets))
