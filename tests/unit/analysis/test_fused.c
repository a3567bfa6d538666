/* The fused standard-tokenizer + lowercase fast path (analyzer.c run_fused) against the
 * general path (kiln__analyze_general): every token's text, position, offsets and type, the
 * trailing position increment and the return code must be the same, over generated inputs that
 * mix ASCII words with everything the fast path must hand to the general path. */
#include "analysis/analysis_int.h"
#include "../test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Tokens serialized into one byte string, so two runs compare with memcmp. */
typedef struct {
    char *p;
    size_t len, cap;
    unsigned count, limit; /* limit: stop after this many tokens (0: never) */
} trace;

static void put(trace *t, const void *s, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2 + 256;
        t->p = realloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static int record(const kiln_token *tok, void *ctx)
{
    trace *t = ctx;
    char meta[96];
    int n = snprintf(meta, sizeof meta, "\x1f%u/%u-%u/%s\x1e", tok->position, tok->start, tok->end,
                     tok->type);
    put(t, tok->text, tok->len);
    put(t, meta, (size_t)n);
    t->count++;
    return t->limit && t->count >= t->limit ? 9 : 0;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull; /* kiln_test_rand's state: the same inputs each run */

/* The pieces inputs are made of: ASCII words and the characters around which UAX#29 rules
 * apply (Mid*, ExtendNumLet, quotes), letters and marks of other scripts, emoji sequences,
 * invalid and truncated UTF-8. */
static const char *const pieces[] = {
    "a", "Z", "q", "Hello", "WORLD", "x", "7", "42", "3", "0", "abc123", "Ab9", " ", " ", " ",
    "  ", "\t", "\n", ".", ",", ";", ":", "'", "\"", "_", "-", "/", "!", "?", "(", ")", "@", "#",
    "&", "+", "=", "*", "$", "%", "<", ">", "[", "]", "{", "}", "\\", "|", "~", "^", "`",
    "\x01", "\x7f", "\xc3\xa9",          /* é */
    "\xc3\x89",                          /* É */
    "\xc3\x9f",                          /* ß */
    "\xc4\xb0",                          /* İ: lowercases to two code points */
    "\xce\xa3\xce\xb1",                  /* Σα */
    "\xd0\x96\xd0\xb8",                  /* Жи */
    "\xcc\x81",                          /* combining acute */
    "\xe2\x80\x8d",                      /* ZWJ */
    "\xe2\x80\x8b",                      /* ZWSP */
    "\xc2\xad",                          /* soft hyphen (Format) */
    "\xd7\x90\xd7\x91",                  /* Hebrew */
    "\xd7\xb4", "\xd7\xb3",              /* gershayim, geresh */
    "\xe4\xb8\xad\xe6\x96\x87",          /* 中文 */
    "\xe3\x81\xb2\xe3\x82\x89",          /* ひら */
    "\xe3\x82\xab\xe3\x82\xbf",          /* カタ */
    "\xed\x95\x9c\xea\xb8\x80",          /* 한글 */
    "\xe0\xb8\x81\xe0\xb8\xb2",          /* Thai */
    "\xd9\xa3",                          /* Arabic-Indic digit 3 */
    "\xef\xbc\x91",                      /* fullwidth 1 */
    "\xef\xbc\xa1",                      /* fullwidth A */
    "\xe2\x80\x99",                      /* ’ (MidNumLet) */
    "\xe2\x80\xa4",                      /* one dot leader (MidNumLet) */
    "\xef\xbc\x8e",                      /* fullwidth full stop */
    "\xe2\x80\xaf",                      /* narrow no-break space (ExtendNumLet here) */
    "\xc2\xa0",                          /* no-break space */
    "\xf0\x9f\x98\x80",                  /* 😀 */
    "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",  /* 👍🏽 */
    "\xe2\x9d\xa4\xef\xb8\x8f",          /* ❤️ */
    "\xe2\x9d\xa4",                      /* ❤ without VS16 */
    "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7",  /* 🇫🇷 */
    "\xf0\x9f\x87\xab",                  /* a lone regional indicator */
    "1\xef\xb8\x8f\xe2\x83\xa3",         /* keycap 1 */
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", /* 👨‍👩 */
    "\xff", "\xc3", "\xe2\x80", "\xf0\x9f\x98", /* invalid, truncated */
    "\xf0\x90\x90\x80",                  /* 𐐀 (Deseret capital, outside the BMP) */
};

static size_t gen(char *out, size_t cap)
{
    size_t np = sizeof pieces / sizeof pieces[0];
    size_t n = 0, want = kiln_test_rand(&rng) % 40;
    for (size_t k = 0; k < want; k++) {
        uint64_t r = kiln_test_rand(&rng);
        const char *p;
        char word[1200];
        if (r % 23 == 0) {
            /* a long run: around the default max_token_length (255), the small test limits,
             * and the fast path's own buffer (1032 bytes) */
            static const size_t lens[] = {4, 5, 6, 254, 255, 256, 300, 1031, 1032, 1033, 1100};
            size_t l = lens[(r >> 8) % (sizeof lens / sizeof lens[0])];
            for (size_t i = 0; i < l; i++)
                word[i] = "aB1"[(r >> 16) % 3 == 2 ? i % 3 : (r >> 16) % 3];
            word[l] = 0;
            p = word;
        } else if (r % 3 == 0) {
            /* a random ASCII word: letters of both cases and digits */
            size_t l = 1 + (r >> 8) % 12;
            for (size_t i = 0; i < l; i++) {
                uint64_t c = (r >> (12 + i * 4)) % 16;
                word[i] = c < 6    ? (char)('a' + c)
                          : c < 12 ? (char)('A' + c - 6)
                                   : (char)('0' + c - 12);
            }
            word[l] = 0;
            p = word;
        } else {
            p = pieces[(r >> 8) % np];
        }
        size_t l = strlen(p);
        if (n + l >= cap) break;
        memcpy(out + n, p, l);
        n += l;
    }
    return n;
}

static int compared, mismatched;

/* Runs both paths over text and reports the first difference. */
static void compare(const char *name, const kiln_analyzer *a, const char *text, size_t len,
                    uint32_t base, unsigned limit)
{
    trace f = {NULL, 0, 0, 0, limit}, g = {NULL, 0, 0, 0, limit};
    uint32_t tf = 77, tg = 77;
    int rf = kiln__analyze_ex(a, text, len, base, record, &f, &tf);
    int rg = kiln__analyze_general(a, text, len, base, record, &g, &tg);
    compared++;
    if (rf != rg || tf != tg || f.len != g.len || (f.len && memcmp(f.p, g.p, f.len))) {
        if (mismatched++ < 5) {
            KT_FAIL("%s: fast and general paths differ on \"%.*s\" (rc %d/%d, trailing %u/%u)",
                    name, (int)len, text, rf, rg, tf, tg);
            fprintf(stderr, "  fast:    %.*s\n  general: %.*s\n", (int)f.len, f.p ? f.p : "",
                    (int)g.len, g.p ? g.p : "");
        }
    }
    kiln_test_checks++;
    free(f.p);
    free(g.p);
}

static kiln_analyzer *custom(const char *json)
{
    json_error_t je;
    json_t *def = json_loads(json, 0, &je);
    kiln_error err;
    kiln_analyzer *a = def ? kiln_analyzer_new_custom(NULL, def, &err) : NULL;
    json_decref(def);
    if (!a) KT_FAIL("cannot build %s", json);
    return a;
}

static const char *const fixed[] = {
    "", "a", "A", " ", ".", "A.b", "a.B", "3.14", "1,000", "1;2", "1:2", "a:b", "a;b", "a,b",
    "O'Reilly's", "men's", "'quoted'", "x'", "'x", "foo_bar", "_", "_a", "a_", "__init__",
    "U.S.A.", "wi-fi", "Wi-Fi 5", "a.", "a. b", "a.\xcc\x81" "b", "a'\xcc\x81" "b", "1.a",
    "a.1", "1'2", "\"a\"", "ab\"cd", "caf\xc3\xa9", "CAF\xc3\x89", "na\xc3\xafve",
    "e\xcc\x81t\xc3\xa9",
    "Stra\xc3\x9f" "e", "ab\xe2\x80\x99" "cd", "ab\xe2\x80\x99", "12\xef\xbc\x8e" "34",
    "x\xe4\xb8\xad" "y", "A\xf0\x9f\x98\x80" "b", "abc\xff" "def", "1\xe2\x83\xa3",
    "THE QUICK BROWN FOX, JUMPED. over 3 lazy dogs; 4.5 stars: ok", "500ml 4K HDR IP67",
};

int main(void)
{
    kiln_analyzer *owned[] = {
        custom("{\"tokenizer\":{\"type\":\"standard\",\"max_token_length\":5},"
               "\"filter\":[\"lowercase\"]}"),
        custom("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",\"stop\",\"porter_stem\"]}"),
        custom("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",\"asciifolding\","
               "{\"type\":\"edge_ngram\",\"min_gram\":2,\"max_gram\":3},\"unique\"]}"),
        custom("{\"tokenizer\":\"standard\",\"char_filter\":[\"html_strip\"],"
               "\"filter\":[\"lowercase\"]}"),
        custom("{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"stop\",\"stopwords\":"
               "[\"a\",\"the\",\"42\"]},\"lowercase\"]}"), /* not fused: stop comes first */
    };
    const char *owned_names[] = {"max_token_length 5", "lowercase+stop+porter",
                                 "lowercase+fold+edge_ngram+unique", "html_strip+lowercase",
                                 "stop+lowercase"};
    const char *builtins[] = {"standard", "english", "snowball", "simple"};
    size_t nown = sizeof owned / sizeof owned[0], nb = sizeof builtins / sizeof builtins[0];
    char *buf = malloc(64 * 1024);
    for (size_t a = 0; a < nb + nown; a++) {
        const kiln_analyzer *an = a < nb ? kiln_analyzer_get(NULL, builtins[a]) : owned[a - nb];
        const char *name = a < nb ? builtins[a] : owned_names[a - nb];
        if (!an) continue;
        for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
            compare(name, an, fixed[k], strlen(fixed[k]), 0, 0);
        compare(name, an, NULL, 0, 0, 0);
        /* every byte value inside, before and after ASCII words, in the byte loop's reach
         * (short texts) and the 16-byte scan's (long ones) */
        for (int b = 0; b < 256; b++) {
            static const char *const frames[] = {
                "a@b", "@", "Ab@", "@Z9", "1@2", "x @ 7",
                "abcdefghijklmnopqrstuvw@XYZ0123456789abcdef", "0123456789ABCDEFGHIJ@",
                "@ABCDEFGHIJKLMNOPQRSTUVWXYZ"};
            for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++) {
                char t[128];
                size_t l = strlen(frames[f]);
                memcpy(t, frames[f], l + 1);
                *strchr(t, '@') = (char)b; /* the byte itself, NUL included */
                compare(name, an, t, l, 0, 0);
            }
        }
        for (int iter = 0; iter < 20000; iter++) {
            size_t len = gen(buf, 64 * 1024);
            uint32_t base = (uint32_t)(kiln_test_rand(&rng) % 3) * 101;
            unsigned limit =
                kiln_test_rand(&rng) % 8 == 0 ? 1 + (unsigned)(kiln_test_rand(&rng) % 5) : 0;
            compare(name, an, buf, len, base, limit);
        }
    }
    /* the stop filter makes positions leave gaps, and trailing stop words a trailing increment */
    kiln_analyzer *stop = custom("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\","
                                 "{\"type\":\"stop\",\"stopwords\":[\"a\",\"the\",\"42\"]}]}");
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = gen(buf, 64 * 1024);
        compare("lowercase+stop", stop, buf, len, 0, 0);
    }
    compare("lowercase+stop", stop, "the fox a THE", 13, 0, 0);
    kiln_analyzer_free(stop);
    for (size_t a = 0; a < nown; a++)
        kiln_analyzer_free(owned[a]);
    free(buf);
    printf("fused: %d inputs compared, %d differed; %d checks, %d failed\n", compared, mismatched,
           kiln_test_checks, kiln_test_failures);
    return kiln_test_failures ? 1 : 0;
}
