/* Analysis unit tests. Expected token lists are Elasticsearch's own: the examples of its
 * reference documentation (cited per case) and, for edge cases, what Lucene's grammar yields. */
#include "analysis/analysis.h"
#include "test.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct {
    char out[8192];
    size_t len;
    bool full;  /* token/position/start-end/type */
    int limit;  /* stop after this many tokens (0: no limit) */
    int count;
} sink;

static int collect(const kiln_token *t, void *ctx)
{
    sink *s = ctx;
    if (s->len && s->len < sizeof s->out - 1) s->out[s->len++] = '|';
    int n;
    if (s->full)
        n = snprintf(s->out + s->len, sizeof s->out - s->len, "%.*s/%u/%u-%u/%s", (int)t->len,
                     t->text, t->position, t->start, t->end, t->type);
    else
        n = snprintf(s->out + s->len, sizeof s->out - s->len, "%.*s", (int)t->len, t->text);
    if (n > 0) s->len += (size_t)n;
    if (s->len >= sizeof s->out) s->len = sizeof s->out - 1;
    s->count++;
    return s->limit && s->count >= s->limit ? 7 : 0;
}

static const char *run(const kiln_analyzer *a, const char *text, bool full)
{
    static sink s;
    memset(&s, 0, sizeof s);
    s.full = full;
    if (!a) return "(no analyzer)";
    kiln_analyze(a, text, strlen(text), 0, collect, &s);
    s.out[s.len] = 0;
    return s.out;
}

static const char *builtin(const char *name, const char *text)
{
    return run(kiln_analyzer_get(NULL, name), text, false);
}

/* One-off analyzer from an _analyze-style JSON body, e.g. {"tokenizer":"standard"}. */
static const char *adhoc(const char *json, const char *text)
{
    static char out[8192];
    json_error_t je;
    json_t *def = json_loads(json, 0, &je);
    if (!def) return "(bad test json)";
    kiln_error err;
    kiln_error_clear(&err);
    kiln_analyzer *a = kiln_analyzer_new_custom(NULL, def, &err);
    json_decref(def);
    if (!a) {
        snprintf(out, sizeof out, "ERROR %s", err.reason);
        return out;
    }
    snprintf(out, sizeof out, "%s", run(a, text, false));
    kiln_analyzer_free(a);
    return out;
}

/* Registry from index settings; runs analyzer `name`, or returns the error reason. */
static const char *indexed(const char *settings, const char *name, const char *text, bool full)
{
    static char out[8192];
    json_error_t je;
    json_t *s = json_loads(settings, JSON_DECODE_ANY, &je);
    if (!s) return "(bad test json)";
    kiln_error err;
    kiln_error_clear(&err);
    kiln_analysis_registry *r = kiln_analysis_registry_new(s, &err);
    json_decref(s);
    if (!r) {
        snprintf(out, sizeof out, "ERROR %s %s", kiln_code_type(err.code), err.reason);
        return out;
    }
    const kiln_analyzer *a = kiln_analyzer_get(r, name);
    if (!a)
        snprintf(out, sizeof out, "ERROR failed to find analyzer [%s]", name);
    else
        snprintf(out, sizeof out, "%s", run(a, text, full));
    kiln_analysis_registry_free(r);
    return out;
}

static const char *FOX = "The 2 QUICK Brown-Foxes jumped over the lazy dog's bone.";

/* ---- built-in analyzers (ES reference, "Built-in analyzer reference") -------------------- */

static void test_builtin_analyzers(void)
{
    CHECK_STR(builtin("standard", FOX), "the|2|quick|brown|foxes|jumped|over|the|lazy|dog's|bone");
    CHECK_STR(builtin("simple", FOX), "the|quick|brown|foxes|jumped|over|the|lazy|dog|s|bone");
    CHECK_STR(builtin("whitespace", FOX),
              "The|2|QUICK|Brown-Foxes|jumped|over|the|lazy|dog's|bone.");
    CHECK_STR(builtin("stop", FOX), "quick|brown|foxes|jumped|over|lazy|dog|s|bone");
    CHECK_STR(builtin("keyword", FOX), FOX);
    CHECK_STR(builtin("english", FOX), "2|quick|brown|fox|jump|over|lazi|dog|bone");
    CHECK(kiln_analyzer_get(NULL, "nope") == NULL);
    CHECK(kiln_analyzer_get(NULL, "default") == kiln_analyzer_get(NULL, "standard"));
    CHECK_STR(kiln_analyzer_name(kiln_analyzer_get(NULL, "english")), "english");
    CHECK(kiln_analyzer_position_increment_gap(kiln_analyzer_get(NULL, "standard")) == 100);
}

static void test_positions_offsets_types(void)
{
    const kiln_analyzer *std = kiln_analyzer_get(NULL, "standard");
    CHECK_STR(run(std, "Hello, World 42", true),
              "hello/0/0-5/<ALPHANUM>|world/1/7-12/<ALPHANUM>|42/2/13-15/<NUM>");
    /* stop words leave position gaps */
    CHECK_STR(run(kiln_analyzer_get(NULL, "english"), "the fox and the dog", true),
              "fox/1/4-7/<ALPHANUM>|dog/4/16-19/<ALPHANUM>");
    CHECK_STR(run(kiln_analyzer_get(NULL, "whitespace"), " a  b ", true),
              "a/0/1-2/word|b/1/4-5/word");
    /* position_base: multi-valued fields continue after a gap */
    sink s;
    memset(&s, 0, sizeof s);
    s.full = true;
    kiln_analyze(std, "x y", 3, 105, collect, &s);
    s.out[s.len] = 0;
    CHECK_STR(s.out, "x/105/0-1/<ALPHANUM>|y/106/2-3/<ALPHANUM>");
    /* the callback can stop early; its value comes back */
    memset(&s, 0, sizeof s);
    s.limit = 2;
    CHECK(kiln_analyze(std, "a b c d", 7, 0, collect, &s) == 7);
    CHECK(s.count == 2);
}

/* ---- standard tokenizer (UAX#29 as Lucene's StandardTokenizer) --------------------------- */

static void test_standard_tokenizer(void)
{
    const char *std = "{\"tokenizer\":\"standard\"}";
    CHECK_STR(adhoc(std, FOX), "The|2|QUICK|Brown|Foxes|jumped|over|the|lazy|dog's|bone");
    /* numbers keep their separators; letters join across . ' : */
    CHECK_STR(adhoc(std, "pi is 3.14, not 1,000 or $42.50."), "pi|is|3.14|not|1,000|or|42.50");
    CHECK_STR(adhoc(std, "O'Reilly's books, U.S.A., wi-fi, x:y"),
              "O'Reilly's|books|U.S.A|wi|fi|x:y");
    CHECK_STR(adhoc(std, "mail john.doe@example.com now"), "mail|john.doe|example.com|now");
    CHECK_STR(adhoc(std, "see http://www.example.com/path?q=1&r=two"),
              "see|http|www.example.com|path|q|1|r|two");
    CHECK_STR(adhoc(std, "3rd a1.5 abc.123 1.5.7 _foo_ __ a__b"),
              "3rd|a1.5|abc|123|1.5.7|_foo_|a__b");
    CHECK_STR(adhoc(std, "C++ & C# -- 'quoted' \"dq\""), "C|C|quoted|dq");
    CHECK_STR(adhoc(std, "dogs' trailing"), "dogs|trailing");
    /* accents, combining marks (WB4), soft hyphen (Format) stay inside words */
    CHECK_STR(adhoc(std, "Café naïve cafe\xcc\x81 co\xc2\xadoperate"),
              "Café|naïve|cafe\xcc\x81|co\xc2\xadoperate");
    /* CJK: one token per ideograph or hiragana, katakana and hangul runs */
    const kiln_analyzer *a = kiln_analyzer_get(NULL, "standard");
    CHECK_STR(run(a, "中文字", true),
              "中/0/0-3/<IDEOGRAPHIC>|文/1/3-6/<IDEOGRAPHIC>|字/2/6-9/<IDEOGRAPHIC>");
    CHECK_STR(run(a, "ひらカタカナ한국어", true),
              "ひ/0/0-3/<HIRAGANA>|ら/1/3-6/<HIRAGANA>|カタカナ/2/6-18/<KATAKANA>|"
              "한국어/3/18-27/<HANGUL>");
    CHECK_STR(run(a, "abc中def", false), "abc|中|def");
    CHECK_STR(run(a, "ภาษาไทย ok", true), "ภาษาไทย/0/0-21/<SOUTHEAST_ASIAN>|ok/1/22-24/<ALPHANUM>");
    /* emoji: presentation emoji, modifier sequences and flags are tokens; © alone is not */
    CHECK_STR(run(a, "I \xe2\x9d\xa4\xef\xb8\x8f \xf0\x9f\x98\x80 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd "
                     "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7 \xc2\xa9",
                  true),
              "i/0/0-1/<ALPHANUM>|\xe2\x9d\xa4\xef\xb8\x8f/1/2-8/<EMOJI>|"
              "\xf0\x9f\x98\x80/2/9-13/<EMOJI>|\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd/3/14-22/<EMOJI>|"
              "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7/4/23-31/<EMOJI>");
    /* Greek and Cyrillic lowercase through utf8proc */
    CHECK_STR(builtin("standard", "ΑΘΗΝΑ Москва"), "αθηνα|москва");
    CHECK_STR(builtin("standard", ""), "");
    CHECK_STR(builtin("standard", " .,;:!? -- "), "");
}

static void test_max_token_length(void)
{
    /* ES reference, standard tokenizer, max_token_length 5 */
    CHECK_STR(indexed("{\"analysis\":{\"analyzer\":{\"my_analyzer\":{\"tokenizer\":\"my_tokenizer\"}},"
                      "\"tokenizer\":{\"my_tokenizer\":{\"type\":\"standard\",\"max_token_length\":5}}}}",
                      "my_analyzer", FOX, false),
              "The|2|QUICK|Brown|Foxes|jumpe|d|over|the|lazy|dog's|bone");
    /* default 255: a 300-letter word splits into 255 + 45, positions consecutive */
    char word[301];
    memset(word, 'a', 300);
    word[300] = 0;
    sink s;
    memset(&s, 0, sizeof s);
    s.full = true;
    kiln_analyze(kiln_analyzer_get(NULL, "standard"), word, 300, 0, collect, &s);
    s.out[s.len] = 0;
    CHECK(s.count == 2);
    CHECK(strstr(s.out, "/0/0-255/<ALPHANUM>|") != NULL);
    CHECK(strstr(s.out, "/1/255-300/<ALPHANUM>") != NULL);
    memset(&s, 0, sizeof s);
    kiln_analyze(kiln_analyzer_get(NULL, "whitespace"), word, 300, 0, collect, &s);
    CHECK(s.count == 2);
    memset(&s, 0, sizeof s);
    kiln_analyze(kiln_analyzer_get(NULL, "simple"), word, 300, 0, collect, &s);
    CHECK(s.count == 2);
    /* keyword keeps everything, however long */
    memset(&s, 0, sizeof s);
    kiln_analyze(kiln_analyzer_get(NULL, "keyword"), word, 300, 0, collect, &s);
    CHECK(s.count == 1 && s.len == 300);
    /* multi-byte characters count as characters, not bytes */
    char u[2 * 300 + 1];
    for (int i = 0; i < 300; i++) memcpy(u + 2 * i, "\xc3\xa9", 2);
    u[600] = 0;
    memset(&s, 0, sizeof s);
    s.full = true;
    kiln_analyze(kiln_analyzer_get(NULL, "standard"), u, 600, 0, collect, &s);
    CHECK(s.count == 2);
    CHECK(strstr(s.out, "/0/0-510/") != NULL);
}

/* ---- other tokenizers (ES reference examples) -------------------------------------------- */

static void test_tokenizers(void)
{
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\"}", FOX),
              "The|2|QUICK|Brown-Foxes|jumped|over|the|lazy|dog's|bone.");
    CHECK_STR(adhoc("{\"tokenizer\":\"letter\"}", FOX),
              "The|QUICK|Brown|Foxes|jumped|over|the|lazy|dog|s|bone");
    CHECK_STR(adhoc("{\"tokenizer\":\"lowercase\"}", FOX),
              "the|quick|brown|foxes|jumped|over|the|lazy|dog|s|bone");
    CHECK_STR(adhoc("{\"tokenizer\":\"keyword\"}", "New York"), "New York");
    /* Java isWhitespace: NBSP is not whitespace, U+2003 EM SPACE is */
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\"}", "a\xc2\xa0" "b c\xe2\x80\x83" "d\te\nf"),
              "a\xc2\xa0" "b|c|d|e|f");
    CHECK_STR(adhoc("{\"tokenizer\":\"letter\"}", "naïve façade, 中文"), "naïve|façade|中文");
    CHECK_STR(adhoc("{\"tokenizer\":{\"type\":\"whitespace\",\"max_token_length\":3}}", "abcdefg hi"),
              "abc|def|g|hi");
}

/* ---- token filters (ES reference examples) ----------------------------------------------- */

static void test_filters(void)
{
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\"]}", "THE Quick FoX JUMPs"),
              "the|quick|fox|jumps");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"uppercase\"]}", "the Quick FoX JUMPs"),
              "THE|QUICK|FOX|JUMPS");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"stop\"]}",
                    "a quick fox jumps over the lazy dog"),
              "quick|fox|jumps|over|lazy|dog");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"asciifolding\"]}", "açaí à la carte"),
              "acai|a|la|carte");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"asciifolding\"]}",
                    "Æsir straße Øresund Łódź ﬁnal Ⓐ ½ Москва “q”"),
              "AEsir|strasse|Oresund|Lodz|final|A|½|Москва|\"q\"");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"porter_stem\"]}",
                    "the foxes jumping quickly"),
              "the|fox|jump|quickli");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"stemmer\"]}", "the foxes jumping quickly"),
              "the|fox|jump|quickli");
    /* kstem is approximated by Snowball English; the doc example still matches */
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"kstem\"]}", "the foxes jumping quickly"),
              "the|fox|jump|quick");
    CHECK_STR(adhoc("{\"tokenizer\":\"keyword\",\"filter\":[\"trim\"]}", " fox "), "fox");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"length\",\"min\":0,\"max\":4}]}",
                    "the quick brown fox jumps over the lazy dog"),
              "the|fox|over|the|lazy|dog");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"unique\"]}",
                    "the quick fox jumps the lazy fox"),
              "the|quick|fox|jumps|lazy");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"reverse\"]}", "quick fox jumps"),
              "kciuq|xof|spmuj");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"truncate\"]}",
                    "the quinquennial extravaganza carried on"),
              "the|quinquenni|extravagan|carried|on");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"apostrophe\"]}",
                    "Istanbul'a veya Istanbul'dan"),
              "Istanbul|veya|Istanbul");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"stemmer\",\"language\":"
                    "\"possessive_english\"}]}",
                    "O'Neil's dog’s CAT'S it's"),
              "O'Neil|dog|CAT|it");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"keyword_marker\","
                    "\"keywords\":[\"jumping\"]},\"stemmer\"]}",
                    "fox running and jumping"),
              "fox|run|and|jumping");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",{\"type\":\"stemmer\","
                    "\"language\":\"minimal_english\"}]}",
                    "dogs berries toys boxes glass"),
              "dog|berry|toy|boxe|glass");
    /* snowball stemmers from libstemmer */
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",{\"type\":\"snowball\","
                    "\"language\":\"English\"}]}",
                    "generously dying hopefully"),
              "generous|die|hope");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",{\"type\":\"stemmer\","
                    "\"language\":\"french\"}]}",
                    "continuellement chevaux"),
              "continuel|cheval");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",{\"type\":\"stemmer\","
                    "\"language\":\"german\"}]}",
                    "Häuser katzen"),
              "haus|katz");
    /* stop: custom list, ignore_case, _none_ */
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"stop\",\"stopwords\":"
                    "[\"and\",\"IS\"],\"ignore_case\":true}]}",
                    "Fox AND dog is IS Is"),
              "Fox|dog");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"stop\",\"stopwords\":"
                    "\"_none_\"}]}",
                    "the a"),
              "the|a");
    /* filters only: a normalizer over the keyword tokenizer */
    CHECK_STR(adhoc("{\"filter\":[\"lowercase\",\"asciifolding\"]}", "Crème Brûlée"), "creme brulee");
    /* no tokenizer and no filter: standard analyzer */
    CHECK_STR(adhoc("{}", "Hello World"), "hello|world");
}

static void test_porter_lucene(void)
{
    /* Lucene's PorterStemmer departs from Snowball's porter on -bli and -logi */
    const char *in = "sensibly apology generalization happiness running agreed cries "
                     "conditional electricity hopefully was a by";
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"porter_stem\"]}", in),
              "sensibl|apolog|gener|happi|run|agre|cri|condit|electr|hopefulli|wa|a|by");
    /* non-ASCII letters are consonants; words still stem */
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"porter_stem\"]}", "naïveness cafés"),
              "naïv|café");
}

/* ---- registry and errors ----------------------------------------------------------------- */

static void test_registry(void)
{
    const char *settings =
        "{\"analysis\":{\"analyzer\":{\"my\":{\"type\":\"custom\",\"tokenizer\":\"standard\","
        "\"filter\":[\"lowercase\",\"my_stop\"]},"
        "\"std5\":{\"type\":\"standard\",\"max_token_length\":\"5\",\"stopwords\":\"_english_\"},"
        "\"en\":{\"type\":\"english\",\"stem_exclusion\":[\"running\"]},"
        "\"notype\":{\"tokenizer\":\"whitespace\",\"filter\":\"uppercase\"}},"
        "\"filter\":{\"my_stop\":{\"type\":\"stop\",\"stopwords\":[\"a\"]}}}}";
    CHECK_STR(indexed(settings, "my", "A fox and a dog", true),
              "fox/1/2-5/<ALPHANUM>|and/2/6-9/<ALPHANUM>|dog/4/12-15/<ALPHANUM>");
    CHECK_STR(indexed(settings, "std5", "The jumping fox", false), "jumpi|ng|fox");
    CHECK_STR(indexed(settings, "en", "running jumping", false), "running|jump");
    CHECK_STR(indexed(settings, "notype", "a b", false), "A|B");
    CHECK_STR(indexed(settings, "english", "foxes", false), "fox"); /* built-ins still there */
    CHECK_STR(indexed(settings, "x", "a", false), "ERROR failed to find analyzer [x]");
    /* the whole settings object works as well as its "analysis" member */
    CHECK_STR(indexed("{\"index\":{\"analysis\":{\"analyzer\":{\"default\":{\"type\":\"simple\"}}}}}",
                      "default", "A-B", false),
              "a|b");
    CHECK_STR(indexed("null", "standard", "X", false), "x");

    /* ES error wording */
    CHECK_STR(indexed("{\"analyzer\":{\"my\":{\"tokenizer\":\"standard\",\"filter\":[\"nope\"]}}}",
                      "my", "", false),
              "ERROR illegal_argument_exception Custom Analyzer [my] failed to find filter under "
              "name [nope]");
    CHECK_STR(indexed("{\"analyzer\":{\"my\":{\"tokenizer\":\"nope\"}}}", "my", "", false),
              "ERROR illegal_argument_exception Custom Analyzer [my] failed to find tokenizer "
              "under name [nope]");
    CHECK_STR(indexed("{\"filter\":{\"f\":{\"type\":\"bogus\"}}}", "standard", "", false),
              "ERROR illegal_argument_exception Unknown filter type [bogus] for [f]");
    CHECK_STR(indexed("{\"filter\":{\"f\":{\"stopwords\":[]}}}", "standard", "", false),
              "ERROR illegal_argument_exception filter [f] must specify either an analyzer type, "
              "or a tokenizer");
    CHECK_STR(indexed("{\"analyzer\":{\"a\":{\"type\":\"fancy\"}}}", "a", "", false),
              "ERROR illegal_argument_exception Unknown analyzer type [fancy] for [a]");
    CHECK_STR(indexed("{\"analyzer\":{\"a\":{\"filter\":[\"lowercase\"]}}}", "a", "", false),
              "ERROR illegal_argument_exception analyzer [a] must specify either an analyzer "
              "type, or a tokenizer");
    CHECK_STR(indexed("{\"analyzer\":{\"a\":{\"type\":\"custom\"}}}", "a", "", false),
              "ERROR illegal_argument_exception Custom Analyzer [a] must be configured with a "
              "tokenizer");
    CHECK_STR(indexed("{\"tokenizer\":{\"t\":{\"type\":\"ngramz\"}}}", "a", "", false),
              "ERROR illegal_argument_exception Unknown tokenizer type [ngramz] for [t]");
    CHECK_STR(indexed("{\"filter\":{\"s\":{\"type\":\"stemmer\",\"language\":\"klingon\"}}}", "a",
                      "", false),
              "ERROR illegal_argument_exception Unsupported stemmer language [klingon] for [s]");
    CHECK_STR(indexed("{\"filter\":{\"l\":{\"type\":\"length\",\"min\":\"x\"}}}", "a", "", false),
              "ERROR illegal_argument_exception Failed to parse value [x] for setting [min] of [l]");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"nope\"]}", "x"),
              "ERROR Custom Analyzer [_anonymous_] failed to find filter under name [nope]");

    /* _analyze with an index: its filters are visible to one-off analyzers */
    json_t *s = json_loads(settings, 0, NULL);
    kiln_analysis_registry *r = kiln_analysis_registry_new(s, NULL);
    json_decref(s);
    json_t *def = json_loads("{\"tokenizer\":\"whitespace\",\"filter\":[\"my_stop\"]}", 0, NULL);
    kiln_analyzer *a = kiln_analyzer_new_custom(r, def, NULL);
    json_decref(def);
    CHECK_STR(run(a, "a b a c", false), "b|c");
    kiln_analyzer_free(a);
    kiln_analysis_registry_free(r);
}

/* ---- robustness -------------------------------------------------------------------------- */

static int count_tokens(const kiln_token *t, void *ctx)
{
    /* touch every byte so ASan sees any out-of-bounds token */
    unsigned sum = 0;
    for (size_t i = 0; i < t->len; i++) sum += (unsigned char)t->text[i];
    *(unsigned *)ctx += 1 + (sum & 0);
    if (t->start > t->end) CHECK(!"start <= end");
    return 0;
}

#define ALL_FILTERS                                                                                \
    "{\"tokenizer\":\"%s\",\"filter\":[\"asciifolding\",\"uppercase\",\"lowercase\"," \
    "{\"type\":\"stemmer\",\"language\":\"possessive_english\"},\"stop\",\"porter_stem\"," \
    "{\"type\":\"snowball\",\"language\":\"Russian\"},\"trim\",\"reverse\",\"unique\"," \
    "\"truncate\",\"apostrophe\",{\"type\":\"stemmer\",\"language\":\"minimal_english\"},"    \
    "{\"type\":\"length\",\"min\":1}]}"

static void test_invalid_utf8_and_fuzz(void)
{
    static const char *const tokenizers[] = {"standard", "whitespace", "letter", "lowercase",
                                             "keyword"};
    kiln_analyzer *as[5];
    for (int i = 0; i < 5; i++) {
        char def[1024];
        snprintf(def, sizeof def, ALL_FILTERS, tokenizers[i]);
        json_t *j = json_loads(def, 0, NULL);
        kiln_error err;
        as[i] = kiln_analyzer_new_custom(NULL, j, &err);
        json_decref(j);
        CHECK(as[i] != NULL);
        if (!as[i]) return;
    }
    /* hand-made invalid sequences: lone continuation, truncated, overlong, surrogate, > U+10FFFF */
    const char bad[] = "ab\x80 c\xc3 d\xe2\x82 e\xc0\xaf f\xed\xa0\x80 g\xf4\x90\x80\x80 h\xff"
                       "caf\xc3\xa9\xcc";
    unsigned n = 0;
    kiln_analyze(kiln_analyzer_get(NULL, "standard"), bad, sizeof bad - 1, 0, count_tokens, &n);
    CHECK(n == 8); /* ab c d e f g h café: the dangling \xcc is dropped */
    const char *got = builtin("standard", bad);
    CHECK_STR(got, "ab|c|d|e|f|g|h|caf\xc3\xa9");
    got = builtin("whitespace", "x\xff\xfey z");
    CHECK_STR(got, "x\xff\xfey|z");
    got = adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"uppercase\",\"lowercase\"]}",
                "\xc3\x28 \xe2\x28\xa1");
    CHECK_STR(got, "\xc3\x28|\xe2\x28\xa1");
    /* random bytes and random mixes of interesting characters through every tokenizer and every
     * filter: nothing may crash or read out of bounds (ASan build) */
    static const char *const pieces[] = {"a",   "Z",    "7",  ".",  ",",   "'",    "\"", "_",
                                         " ",   "\xc3\xa9", "\xe4\xb8\xad", "\xe3\x81\x82",
                                         "\xe3\x82\xab", "\xea\xb0\x80", "\xe0\xb8\x81",
                                         "\xf0\x9f\x98\x80", "\xe2\x80\x8d", "\xef\xb8\x8f",
                                         "\xcc\x81", "\xd7\x90", "\xff", "\x80", "\xe2\x80\x99s",
                                         "\xc3\x9f", "\xef\xac\x81", "\xe2\x93\x90"};
    uint32_t seed = 12345;
    char buf[600];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0;
        int mode = iter % 2;
        while (len < sizeof buf - 8) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 97 == 0) break;
            if (mode) {
                buf[len++] = (char)(seed >> 13);
            } else {
                const char *p = pieces[(seed >> 16) % (sizeof pieces / sizeof pieces[0])];
                size_t pl = strlen(p);
                memcpy(buf + len, p, pl);
                len += pl;
            }
        }
        for (int i = 0; i < 5; i++) {
            n = 0;
            kiln_analyze(as[i], buf, len, 0, count_tokens, &n);
        }
        n = 0;
        kiln_analyze(kiln_analyzer_get(NULL, "english"), buf, len, 0, count_tokens, &n);
    }
    for (int i = 0; i < 5; i++) kiln_analyzer_free(as[i]);
    /* NULL text is an empty input */
    n = 0;
    kiln_analyze(kiln_analyzer_get(NULL, "standard"), NULL, 0, 0, count_tokens, &n);
    CHECK(n == 0);
}

static void test_utf16_offsets(void)
{
    const char *t = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80z";
    size_t len = strlen(t);
    CHECK(kiln_analysis_utf16_offset(t, len, 0) == 0);
    CHECK(kiln_analysis_utf16_offset(t, len, 1) == 1);
    CHECK(kiln_analysis_utf16_offset(t, len, 3) == 2);
    CHECK(kiln_analysis_utf16_offset(t, len, 6) == 3);
    CHECK(kiln_analysis_utf16_offset(t, len, 10) == 5); /* the emoji is a surrogate pair */
    CHECK(kiln_analysis_utf16_offset(t, len, 11) == 6);
    CHECK(kiln_analysis_utf16_offset(t, len, 99) == 6);
}

/* ---- threads: analyzers are shared, stemmers pooled -------------------------------------- */

static const kiln_analyzer *shared;

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        unsigned n = 0;
        const char *t = "the running foxes were generously jumping";
        kiln_analyze(shared, t, strlen(t), 0, count_tokens, &n);
        if (n != 5) return (void *)1;
    }
    return NULL;
}

static void test_threads(void)
{
    json_t *def = json_loads("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",\"stop\","
                             "{\"type\":\"snowball\",\"language\":\"English\"},\"unique\"]}",
                             0, NULL);
    kiln_analyzer *a = kiln_analyzer_new_custom(NULL, def, NULL);
    json_decref(def);
    shared = a;
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        CHECK(rv == NULL);
    }
    kiln_analyzer_free(a);
}

int main(void)
{
    test_builtin_analyzers();
    test_positions_offsets_types();
    test_standard_tokenizer();
    test_max_token_length();
    test_tokenizers();
    test_filters();
    test_porter_lucene();
    test_registry();
    test_invalid_utf8_and_fuzz();
    test_utf16_offsets();
    test_threads();
    printf("analysis: %d checks, %d failed\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}
