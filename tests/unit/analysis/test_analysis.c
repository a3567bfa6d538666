/* Analysis unit tests. Expected token lists are Elasticsearch's own: the examples of its
 * reference documentation (cited per case) and, for edge cases, what Lucene's grammar yields. */
#include "analysis/analysis.h"
#include "../test.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct {
    char out[8192];
    size_t len;
    bool full; /* token/position/start-end/type */
    int limit; /* stop after this many tokens (0: no limit) */
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
    CHECK_STR(run(a,
                  "I \xe2\x9d\xa4\xef\xb8\x8f \xf0\x9f\x98\x80 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd "
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
    CHECK_STR(
        indexed("{\"analysis\":{\"analyzer\":{\"my_analyzer\":{\"tokenizer\":\"my_tokenizer\"}},"
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
    for (int i = 0; i < 300; i++)
        memcpy(u + 2 * i, "\xc3\xa9", 2);
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
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\"}", "a\xc2\xa0"
                                                      "b c\xe2\x80\x83"
                                                      "d\te\nf"),
              "a\xc2\xa0"
              "b|c|d|e|f");
    CHECK_STR(adhoc("{\"tokenizer\":\"letter\"}", "naïve façade, 中文"), "naïve|façade|中文");
    CHECK_STR(
        adhoc("{\"tokenizer\":{\"type\":\"whitespace\",\"max_token_length\":3}}", "abcdefg hi"),
        "abc|def|g|hi");
}

/* ---- token filters (ES reference examples) ----------------------------------------------- */

static void test_filters(void)
{
    CHECK_STR(
        adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\"]}", "THE Quick FoX JUMPs"),
        "the|quick|fox|jumps");
    CHECK_STR(
        adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"uppercase\"]}", "the Quick FoX JUMPs"),
        "THE|QUICK|FOX|JUMPS");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"stop\"]}",
                    "a quick fox jumps over the lazy dog"),
              "quick|fox|jumps|over|lazy|dog");
    CHECK_STR(
        adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"asciifolding\"]}", "açaí à la carte"),
        "acai|a|la|carte");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"asciifolding\"]}",
                    "Æsir straße Øresund Łódź ﬁnal Ⓐ ½ Москва “q”"),
              "AEsir|strasse|Oresund|Lodz|final|A|½|Москва|\"q\"");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"porter_stem\"]}",
                    "the foxes jumping quickly"),
              "the|fox|jump|quickli");
    CHECK_STR(
        adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"stemmer\"]}", "the foxes jumping quickly"),
        "the|fox|jump|quickli");
    /* kstem is approximated by Snowball English; the doc example still matches */
    CHECK_STR(
        adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"kstem\"]}", "the foxes jumping quickly"),
        "the|fox|jump|quick");
    CHECK_STR(adhoc("{\"tokenizer\":\"keyword\",\"filter\":[\"trim\"]}", " fox "), "fox");
    CHECK_STR(
        adhoc(
            "{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"length\",\"min\":0,\"max\":4}]}",
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
    CHECK_STR(
        adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"elision\"]}", "j’examine près du wharf"),
        "examine|près|du|wharf");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"elision\",\"articles\":"
                    "[\"l\"],\"articles_case\":true}]}",
                    "L'avion l'arbre d'eau"),
              "avion|arbre|d'eau");
    CHECK_STR(
        adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"decimal_digit\"]}", "१-one two-२ ३"),
        "1-one|two-2|3");
    CHECK_STR(
        adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"lowercase\",{\"type\":"
              "\"stemmer_override\",\"rules\":[\"running, runs => run\",\"stemmer => stemmer\"]},"
              "\"porter_stem\"]}",
              "Running runs stemmer stemming"),
        "run|run|stemmer|stem");
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
                    "\"and, The\",\"ignore_case\":true}]}",
                    "the fox and THE dog"),
              "fox|dog");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"stemmer\",\"language\":"
                    "\"English\"}]}",
                    "jumping"),
              "jump");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"stop\",\"stopwords\":"
                    "\"_none_\"}]}",
                    "the a"),
              "the|a");
    /* filters only: a normalizer over the keyword tokenizer */
    CHECK_STR(adhoc("{\"filter\":[\"lowercase\",\"asciifolding\"]}", "Crème Brûlée"),
              "creme brulee");
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
    CHECK_STR(
        adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[\"porter_stem\"]}", "naïveness cafés"),
        "naïv|café");
}

/* ---- n-grams and character filters (ES reference examples) ------------------------------ */

static const char *adhoc_full(const char *json, const char *text)
{
    static char out[8192];
    json_t *def = json_loads(json, 0, NULL);
    kiln_error err;
    kiln_analyzer *a = kiln_analyzer_new_custom(NULL, def, &err);
    json_decref(def);
    if (!a) return "(error)";
    snprintf(out, sizeof out, "%s", run(a, text, true));
    kiln_analyzer_free(a);
    return out;
}

static void test_ngrams_and_char_filters(void)
{
    CHECK_STR(adhoc("{\"tokenizer\":\"ngram\"}", "Quick Fox"),
              "Q|Qu|u|ui|i|ic|c|ck|k|k | | F|F|Fo|o|ox|x");
    CHECK_STR(adhoc("{\"tokenizer\":\"edge_ngram\"}", "Quick Fox"), "Q|Qu");
    CHECK_STR(adhoc("{\"tokenizer\":{\"type\":\"edge_ngram\",\"min_gram\":2,\"max_gram\":10,"
                    "\"token_chars\":[\"letter\",\"digit\"]}}",
                    "2 Quick Foxes."),
              "Qu|Qui|Quic|Quick|Fo|Fox|Foxe|Foxes");
    CHECK_STR(adhoc_full("{\"tokenizer\":{\"type\":\"ngram\",\"min_gram\":3,\"max_gram\":3,"
                         "\"token_chars\":[\"letter\"]}}",
                         "quick fox"),
              "qui/0/0-3/word|uic/1/1-4/word|ick/2/2-5/word|fox/3/6-9/word");
    CHECK_STR(
        adhoc("{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"edge_ngram\",\"min_gram\":1,"
              "\"max_gram\":3}]}",
              "the quick brown fox jumps"),
        "t|th|the|q|qu|qui|b|br|bro|f|fo|fox|j|ju|jum");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"ngram\"]}", "Quick fox"),
              "Q|Qu|u|ui|i|ic|c|ck|k|f|fo|o|ox|x");
    /* grams share the token's position and offsets; too-short tokens leave a gap */
    CHECK_STR(adhoc_full("{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"edge_ngram\","
                         "\"min_gram\":2,\"max_gram\":3}]}",
                         "a bc"),
              "bc/1/2-4/<ALPHANUM>");
    CHECK_STR(adhoc_full("{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"asciifolding\","
                         "\"preserve_original\":true}]}",
                         "açaí la"),
              "acai/0/0-6/<ALPHANUM>|açaí/0/0-6/<ALPHANUM>|la/1/7-9/<ALPHANUM>");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"asciifolding\","
                    "\"preserve_original\":true},\"uppercase\",\"unique\"]}",
                    "açaí à la carte"),
              "ACAI|AÇAÍ|A|À|LA|CARTE");
    /* html_strip: block tags become newlines, entities decoded, offsets into the original */
    CHECK_STR(adhoc("{\"tokenizer\":\"keyword\",\"char_filter\":[\"html_strip\"]}",
                    "<p>I&apos;m so <b>happy</b>!</p>"),
              "\nI'm so happy!\n");
    CHECK_STR(adhoc_full("{\"tokenizer\":\"standard\",\"char_filter\":[\"html_strip\"]}",
                         "<p>I&apos;m <b>happy</b></p><script>x=1</script>caf&eacute; a<br>b"
                         "<!-- c --> &#x41;&#66;"),
              "I'm/0/3-11/<ALPHANUM>|happy/1/15-24/<ALPHANUM>|café/2/48-59/<ALPHANUM>|"
              "a/3/60-61/<ALPHANUM>|b/4/65-76/<ALPHANUM>|AB/5/77-88/<ALPHANUM>");
    /* OpenSearch API spec story _core/analyze/filter/lowercase.yaml */
    CHECK_STR(adhoc_full("{\"tokenizer\":\"keyword\",\"filter\":[\"lowercase\"],\"char_filter\":"
                         "[\"html_strip\"]}",
                         "<b>Moneyball</b>"),
              "moneyball/0/3-16/word");
    CHECK_STR(adhoc("{\"tokenizer\":\"keyword\",\"char_filter\":[{\"type\":\"html_strip\","
                    "\"escaped_tags\":[\"b\"]}]}",
                    "<p>I&apos;m so <b>happy</b>!</p>"),
              "\nI'm so <b>happy</b>!\n");
    CHECK_STR(adhoc("{\"tokenizer\":\"keyword\",\"char_filter\":[\"html_strip\"]}",
                    "a < b && c <unclosed &bogus; &#0; &#xZZ;"),
              "a < b && c <unclosed &bogus; &#0; &#xZZ;");
    CHECK_STR(
        adhoc("{\"tokenizer\":\"keyword\",\"char_filter\":[{\"type\":\"mapping\",\"mappings\":"
              "[\"٠ => 0\",\"١ => 1\",\"٢ => 2\",\"٣ => 3\",\"٤ => 4\",\"٥ => 5\",\"٦ => 6\","
              "\"٧ => 7\",\"٨ => 8\",\"٩ => 9\"]}]}",
              "My license plate is ٢٥٠١٥"),
        "My license plate is 25015");
    CHECK_STR(adhoc_full("{\"tokenizer\":\"standard\",\"char_filter\":[{\"type\":\"mapping\","
                         "\"mappings\":[\":) => _happy_\",\":( => _sad_\"]}]}",
                         "I'm delighted about it :("),
              "I'm/0/0-3/<ALPHANUM>|delighted/1/4-13/<ALPHANUM>|about/2/14-19/<ALPHANUM>|"
              "it/3/20-22/<ALPHANUM>|_sad_/4/23-25/<ALPHANUM>");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"char_filter\":[{\"type\":\"mapping\","
                    "\"mappings\":[\"\\\\u00e9 => e\",\"ph=>f\",\"x => \"]}]}",
                    "caf\u00e9 phone xox"),
              "cafe|fone|o");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"char_filter\":[{\"type\":\"mapping\","
                    "\"mappings\":[\"=> x\"]}]}",
                    "a"),
              "ERROR Invalid Mapping Rule : [=> x]");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"char_filter\":[\"nope\"]}", "a"),
              "ERROR Custom Analyzer [_anonymous_] failed to find char_filter under name [nope]");
    CHECK_STR(adhoc("{\"tokenizer\":{\"type\":\"ngram\",\"min_gram\":3,\"max_gram\":2}}", "a"),
              "ERROR minGram must not be greater than maxGram");
    CHECK_STR(adhoc("{\"tokenizer\":{\"type\":\"ngram\",\"token_chars\":[\"vowels\"]}}", "a")[0] ==
                      'E'
                  ? "E"
                  : "x",
              "E");
}

static void test_synonyms(void)
{
    /* rules are analyzed by the chain before the filter (here: lowercase) */
    CHECK_STR(
        adhoc_full("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",{\"type\":"
                   "\"synonym\",\"synonyms\":[\"Universe, cosmos\",\"tv, television => tv\"]}]}",
                   "The Universe on television"),
        "the/0/0-3/<ALPHANUM>|universe/1/4-12/SYNONYM|cosmos/1/4-12/SYNONYM|"
        "on/2/13-15/<ALPHANUM>|tv/3/16-26/SYNONYM");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"synonym_graph\","
                    "\"expand\":false,\"synonyms\":[\"laptop, notebook, \\\\,comma\"]}]}",
                    "notebook ,comma x"),
              "laptop|laptop|x");
    /* the ES reference example has a multi-word rule: unsupported, skipped when lenient */
    CHECK_STR(
        adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"synonym\",\"lenient\":true,"
              "\"synonyms\":[\"i-pod, i pod => ipod\",\"universe, cosmos\",\"# comment\"]}]}",
              "i-pod cosmos"),
        "i-pod|universe|cosmos");
    CHECK_STR(adhoc("{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"synonym\","
                    "\"synonyms\":[\"i-pod, i pod => ipod\"]}]}",
                    "x"),
              "ERROR failed to build synonyms for [_anonymous_filter]: multi-word synonyms are "
              "not supported: [i pod]");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"stop\",{\"type\":\"synonym\","
                    "\"synonyms\":[\"the, a => x\"]}]}",
                    "x"),
              "ERROR failed to build synonyms for [_anonymous_filter]: term: the was completely "
              "eliminated by analyzer");
    CHECK_STR(indexed("{\"analyzer\":{\"s\":{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\","
                      "\"syn\"]}},\"filter\":{\"syn\":{\"type\":\"synonym\",\"synonyms\":"
                      "[\"TV => television\"]}}}",
                      "s", "Big TV", false),
              "big|television");
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
    CHECK_STR(
        indexed("{\"index\":{\"analysis\":{\"analyzer\":{\"default\":{\"type\":\"simple\"}}}}}",
                "default", "A-B", false),
        "a|b");
    CHECK_STR(indexed("null", "standard", "X", false), "x");
    CHECK_STR(indexed("{\"analyzer\":{\"default\":{\"type\":\"whitespace\"}}}", "default_search",
                      "A-B", false),
              "A-B");
    CHECK_STR(indexed("{}", "default_search", "A-B", false), "a|b");

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
    CHECK_STR(
        indexed("{\"filter\":{\"l\":{\"type\":\"length\",\"min\":\"x\"}}}", "a", "", false),
        "ERROR illegal_argument_exception Failed to parse value [x] for setting [min] of [l]");
    CHECK_STR(adhoc("{\"tokenizer\":\"standard\",\"filter\":[\"nope\"]}", "x"),
              "ERROR Custom Analyzer [_anonymous_] failed to find filter under name [nope]");

    /* normalizers for keyword fields */
    json_t *ns = json_loads("{\"normalizer\":{\"my_norm\":{\"type\":\"custom\",\"char_filter\":[],"
                            "\"filter\":[\"lowercase\",\"asciifolding\"]}}}",
                            0, NULL);
    kiln_analysis_registry *nr = kiln_analysis_registry_new(ns, NULL);
    json_decref(ns);
    CHECK(nr != NULL);
    CHECK_STR(run(kiln_normalizer_get(nr, "my_norm"), "Crème BRÛLÉE", false), "creme brulee");
    CHECK_STR(run(kiln_normalizer_get(nr, "lowercase"), "ÀB C", false), "àb c");
    CHECK(kiln_normalizer_get(nr, "nope") == NULL);
    CHECK(kiln_normalizer_get(NULL, "lowercase") != NULL);
    kiln_analysis_registry_free(nr);
    CHECK_STR(indexed("{\"normalizer\":{\"n\":{\"filter\":[\"porter_stem\"]}}}", "x", "", false),
              "ERROR illegal_argument_exception Custom normalizer [n] may not use filter "
              "[porter_stem]");

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

/* Malformed settings: every case must give an analyzer or an error, never a crash or a leak. */
static void test_malformed_settings(void)
{
    static const char *const bad[] = {
        "[]",
        "{\"analysis\":5}",
        "{\"analyzer\":5}",
        "{\"analyzer\":{\"a\":5}}",
        "{\"analyzer\":{\"a\":{\"type\":5}}}",
        "{\"analyzer\":{\"a\":{\"tokenizer\":5}}}",
        "{\"analyzer\":{\"a\":{\"tokenizer\":\"standard\",\"filter\":5}}}",
        "{\"analyzer\":{\"a\":{\"tokenizer\":\"standard\",\"filter\":[5,null,{}]}}}",
        "{\"analyzer\":{\"a\":{\"tokenizer\":\"standard\",\"char_filter\":[5]}}}",
        "{\"analyzer\":{\"a\":{\"tokenizer\":\"standard\",\"char_filter\":{}}}}",
        "{\"analyzer\":{\"a\":{\"type\":\"standard\",\"max_token_length\":-1}}}",
        "{\"analyzer\":{\"a\":{\"type\":\"standard\",\"stopwords\":5}}}",
        "{\"analyzer\":{\"a\":{\"type\":\"standard\",\"stopwords\":[\"a\",5]}}}",
        "{\"analyzer\":{\"a\":{\"type\":\"english\",\"stem_exclusion\":\"x\"}}}",
        "{\"analyzer\":{\"a\":{\"type\":\"snowball\",\"language\":\"Klingon\"}}}",
        "{\"analyzer\":{\"a\":{\"type\":\"custom\",\"tokenizer\":\"standard\",\"position_increment_"
        "gap\":"
        "\"x\"}}}",
        "{\"filter\":{\"f\":5}}",
        "{\"filter\":{\"f\":{\"type\":\"stop\",\"stopwords\":\"_klingon_\"}}}",
        "{\"filter\":{\"f\":{\"type\":\"stop\",\"ignore_case\":\"maybe\"}}}",
        "{\"filter\":{\"f\":{\"type\":\"length\",\"max\":1e99}}}",
        "{\"filter\":{\"f\":{\"type\":\"truncate\",\"length\":[]}}}",
        "{\"filter\":{\"f\":{\"type\":\"synonym\",\"synonyms\":[1]}}}",
        "{\"filter\":{\"f\":{\"type\":\"synonym\",\"synonyms\":\"a,b\"}}}",
        "{\"filter\":{\"f\":{\"type\":\"synonym\",\"synonyms\":[\"=>\",\",,,\",\"a=>\",\"=>b\"]}}}",
        "{\"filter\":{\"f\":{\"type\":\"stemmer_override\",\"rules\":[\"x\"]}}}",
        "{\"filter\":{\"f\":{\"type\":\"edge_ngram\",\"min_gram\":0}}}",
        "{\"filter\":{\"f\":{\"type\":\"keyword_marker\",\"keywords\":{}}}}",
        "{\"filter\":{\"f\":{\"type\":\"elision\",\"articles\":\"_french_\"}}}",
        "{\"tokenizer\":{\"t\":{\"type\":\"standard\",\"max_token_length\":0}}}",
        "{\"tokenizer\":{\"t\":{\"type\":\"ngram\",\"token_chars\":[5]}}}",
        "{\"tokenizer\":{\"t\":{\"type\":\"whitespace\",\"max_token_length\":99999999}}}",
        "{\"char_filter\":{\"c\":{\"type\":\"mapping\",\"mappings\":[5]}}}",
        "{\"char_filter\":{\"c\":{\"type\":\"mapping\"}}}",
        "{\"char_filter\":{\"c\":{\"type\":\"html_strip\",\"escaped_tags\":5}}}",
        "{\"char_filter\":{\"c\":{\"type\":\"pattern_replace\"}}}",
        "{\"normalizer\":{\"n\":{\"type\":\"fancy\"}}}",
        "{\"normalizer\":{\"n\":{\"tokenizer\":\"standard\"}}}",
        "{\"normalizer\":{\"n\":5}}",
    };
    int errors = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *s = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        if (!s) {
            fprintf(stderr, "bad test json: %s\n", bad[i]);
            kiln_test_failures++;
            continue;
        }
        kiln_error err;
        kiln_error_clear(&err);
        kiln_analysis_registry *r = kiln_analysis_registry_new(s, &err);
        if (!r) {
            errors++;
            if (err.code != KILN_E_ILLEGAL_ARGUMENT || !err.reason[0]) {
                fprintf(stderr, "case %zu: error without reason\n", i);
                kiln_test_failures++;
            }
        } else {
            run(kiln_analyzer_get(r, "a"), "some text to analyze", false);
            if (getenv("KILN_TEST_VERBOSE")) fprintf(stderr, "accepted: %s\n", bad[i]);
            kiln_analysis_registry_free(r);
        }
        /* the same definitions through _analyze */
        json_t *an = json_object_get(json_object_get(s, "analyzer"), "a");
        if (json_is_object(an)) {
            kiln_analyzer *a = kiln_analyzer_new_custom(NULL, an, &err);
            if (a) run(a, "more text", false);
            kiln_analyzer_free(a);
        }
        json_decref(s);
    }
    CHECK(errors >= 30); /* nearly all are rejected; the rest must simply work */
}

/* ---- robustness -------------------------------------------------------------------------- */

static int count_tokens(const kiln_token *t, void *ctx)
{
    /* touch every byte so ASan sees any out-of-bounds token */
    unsigned sum = 0;
    for (size_t i = 0; i < t->len; i++)
        sum += (unsigned char)t->text[i];
    *(unsigned *)ctx += 1 + (sum & 0);
    if (t->start > t->end) CHECK(!"start <= end");
    return 0;
}

#define ALL_FILTERS                                                                                \
    "{\"tokenizer\":\"%s\",\"char_filter\":[\"html_strip\",{\"type\":\"mapping\",\"mappings\":"    \
    "[\"a => bb\",\"\u00e9 => \",\"<=>&amp;\"]}],"                                                 \
    "\"filter\":[{\"type\":\"synonym\",\"lenient\":true,\"synonyms\":[\"a, bb, \u00e9\",\"7=>x "   \
    "y\"]},"                                                                                       \
    "\"elision\",\"decimal_digit\",{\"type\":\"asciifolding\",\"preserve_original\":true},"        \
    "\"uppercase\","                                                                               \
    "\"lowercase\","                                                                               \
    "{\"type\":\"edge_ngram\",\"min_gram\":2,\"max_gram\":300,\"preserve_original\":true},"        \
    "{\"type\":\"stemmer\",\"language\":\"possessive_english\"},\"stop\",\"porter_stem\","         \
    "{\"type\":\"snowball\",\"language\":\"Russian\"},\"trim\",\"reverse\",\"unique\","            \
    "\"truncate\",\"apostrophe\",{\"type\":\"stemmer\",\"language\":\"minimal_english\"},"         \
    "{\"type\":\"length\",\"min\":1}]}"

static void test_invalid_utf8_and_fuzz(void)
{
    static const char *const tokenizers[] = {"standard", "whitespace", "letter",    "lowercase",
                                             "keyword",  "ngram",      "edge_ngram"};
#define NTOK 7
    kiln_analyzer *as[NTOK];
    for (int i = 0; i < NTOK; i++) {
        char def[2048];
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
    static const char *const pieces[] = {"<p>",
                                         "&amp;",
                                         "&#x41;",
                                         "<b x='>'>",
                                         "<!--",
                                         "a",
                                         "Z",
                                         "7",
                                         ".",
                                         ",",
                                         "'",
                                         "\"",
                                         "_",
                                         " ",
                                         "\xc3\xa9",
                                         "\xe4\xb8\xad",
                                         "\xe3\x81\x82",
                                         "\xe3\x82\xab",
                                         "\xea\xb0\x80",
                                         "\xe0\xb8\x81",
                                         "\xf0\x9f\x98\x80",
                                         "\xe2\x80\x8d",
                                         "\xef\xb8\x8f",
                                         "\xcc\x81",
                                         "\xd7\x90",
                                         "\xff",
                                         "\x80",
                                         "\xe2\x80\x99s",
                                         "\xc3\x9f",
                                         "\xef\xac\x81",
                                         "\xe2\x93\x90"};
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
        for (int i = 0; i < NTOK; i++) {
            n = 0;
            kiln_analyze(as[i], buf, len, 0, count_tokens, &n);
        }
        n = 0;
        kiln_analyze(kiln_analyzer_get(NULL, "english"), buf, len, 0, count_tokens, &n);
    }
    for (int i = 0; i < NTOK; i++)
        kiln_analyzer_free(as[i]);
    /* NULL text is an empty input */
    n = 0;
    kiln_analyze(kiln_analyzer_get(NULL, "standard"), NULL, 0, 0, count_tokens, &n);
    CHECK(n == 0);
}

/* Inputs built to make naive scanners quadratic must stay fast (the test has a timeout). */
static void test_adversarial_speed(void)
{
    size_t n = 2 * 1000 * 1000;
    char *buf = malloc(n + 1);
    static const char *const pats[] = {"<", "<a '", "&#", "<!--", "a'", "1.", "_", "y", "ys"};
    json_t *def = json_loads("{\"tokenizer\":\"standard\",\"char_filter\":[\"html_strip\"],"
                             "\"filter\":[\"lowercase\",\"porter_stem\",\"unique\"]}",
                             0, NULL);
    kiln_analyzer *a = kiln_analyzer_new_custom(NULL, def, NULL);
    json_decref(def);
    /* one huge token through every stemmer */
    def = json_loads("{\"tokenizer\":\"keyword\",\"filter\":[\"porter_stem\",\"kstem\",{\"type\":"
                     "\"stemmer\",\"language\":\"minimal_english\"},\"asciifolding\",\"reverse\","
                     "{\"type\":\"edge_ngram\",\"min_gram\":1,\"max_gram\":50}]}",
                     0, NULL);
    kiln_analyzer *kw = kiln_analyzer_new_custom(NULL, def, NULL);
    json_decref(def);
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        size_t pl = strlen(pats[p]);
        for (size_t i = 0; i < n; i++)
            buf[i] = pats[p][i % pl];
        buf[n] = 0;
        buf[n - 1] = '>';
        unsigned cnt = 0;
        kiln_analyze(a, buf, n, 0, count_tokens, &cnt);
        kiln_analyze(kiln_analyzer_get(NULL, "standard"), buf, n, 0, count_tokens, &cnt);
        kiln_analyze(kw, buf, n, 0, count_tokens, &cnt);
    }
    kiln_analyzer_free(kw);
    kiln_analyzer_free(a);
    free(buf);
    CHECK(1);
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

/* ---- the _analyze response body --------------------------------------------------------- */

static const char *analyze_json(const char *analyzer, const char *text_json)
{
    static char out[8192];
    json_t *text = json_loads(text_json, JSON_DECODE_ANY, NULL);
    kiln_error err;
    json_t *r = kiln_analyze_to_json(kiln_analyzer_get(NULL, analyzer), text, &err);
    json_decref(text);
    if (!r) {
        snprintf(out, sizeof out, "ERROR %s", err.reason);
        return out;
    }
    char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    snprintf(out, sizeof out, "%s", s);
    free(s);
    json_decref(r);
    return out;
}

static void test_analyze_json(void)
{
    CHECK_STR(analyze_json("standard", "\"Hi there\""),
              "{\"tokens\":[{\"token\":\"hi\",\"start_offset\":0,\"end_offset\":2,\"type\":"
              "\"<ALPHANUM>\",\"position\":0},{\"token\":\"there\",\"start_offset\":3,"
              "\"end_offset\":8,\"type\":\"<ALPHANUM>\",\"position\":1}]}");
    /* arrays: positions continue after the gap of 100, offsets after a gap of 1; offsets are
     * UTF-16 units (é is one, the emoji two) */
    CHECK_STR(
        analyze_json("whitespace", "[\"a b\", \"é \\ud83d\\ude00 c\"]"),
        "{\"tokens\":[{\"token\":\"a\",\"start_offset\":0,\"end_offset\":1,\"type\":"
        "\"word\",\"position\":0},{\"token\":\"b\",\"start_offset\":2,\"end_offset\":3,"
        "\"type\":\"word\",\"position\":1},{\"token\":\"é\",\"start_offset\":4,"
        "\"end_offset\":5,\"type\":\"word\",\"position\":102},{\"token\":\"\xf0\x9f\x98\x80\","
        "\"start_offset\":6,\"end_offset\":8,\"type\":\"word\",\"position\":103},"
        "{\"token\":\"c\",\"start_offset\":9,\"end_offset\":10,\"type\":\"word\","
        "\"position\":104}]}");
    /* trailing stop words count before the gap, as Lucene's end() reports them */
    CHECK_STR(analyze_json("stop", "[\"fox the\", \"dog\"]"),
              "{\"tokens\":[{\"token\":\"fox\",\"start_offset\":0,\"end_offset\":3,\"type\":"
              "\"word\",\"position\":0},{\"token\":\"dog\",\"start_offset\":8,\"end_offset\":11,"
              "\"type\":\"word\",\"position\":102}]}");
    CHECK_STR(analyze_json("standard", "[]"), "{\"tokens\":[]}");
    CHECK_STR(analyze_json("standard", "42"),
              "ERROR [text] must be a string or an array of strings");
    CHECK_STR(analyze_json("standard", "[\"a\", 1]"),
              "ERROR [text] must be a string or an array of strings");
}

/* A whole _analyze request; returns the first token as "token/start-end/type/position", the
 * token count, or the error. */
static const char *analyze_req(const char *settings, const char *body_json)
{
    static char out[2048];
    kiln_analysis_registry *r = NULL;
    if (settings) {
        json_t *s = json_loads(settings, 0, NULL);
        r = kiln_analysis_registry_new(s, NULL);
        json_decref(s);
    }
    json_t *body = json_loads(body_json, 0, NULL);
    kiln_error err;
    kiln_error_clear(&err);
    json_t *resp = kiln_analyze_request(r, body, NULL, &err);
    json_decref(body);
    if (!resp) {
        snprintf(out, sizeof out, "ERROR %s %s", kiln_code_type(err.code), err.reason);
    } else {
        json_t *toks = json_object_get(resp, "tokens");
        json_t *t0 = json_array_get(toks, 0);
        snprintf(out, sizeof out, "%s/%lld-%lld/%s/%lld n=%zu",
                 json_string_value(json_object_get(t0, "token")),
                 (long long)json_integer_value(json_object_get(t0, "start_offset")),
                 (long long)json_integer_value(json_object_get(t0, "end_offset")),
                 json_string_value(json_object_get(t0, "type")),
                 (long long)json_integer_value(json_object_get(t0, "position")),
                 json_array_size(toks));
        json_decref(resp);
    }
    kiln_analysis_registry_free(r);
    return out;
}

/* The OpenSearch API specification's test stories for _analyze (../shared/opensearch-api-spec,
 * tests/default/_core/analyze*, tests/default/indices/analyze.yaml), first token each. */
static void test_analyze_request(void)
{
    CHECK_STR(analyze_req(NULL, "{\"analyzer\":\"standard\",\"text\":\"Moneyball, directed by "
                                "Bennett Miller\"}"),
              "moneyball/0-9/<ALPHANUM>/0 n=5");
    CHECK_STR(analyze_req(NULL, "{\"analyzer\":\"standard\",\"text\":[\"Drive, directed by Nicolas "
                                "Winding Refn\",\"Moneyball, directed by Bennett Miller\"]}"),
              "drive/0-5/<ALPHANUM>/0 n=11");
    const char *movies = "{\"analysis\":{\"analyzer\":{\"default\":{\"type\":\"stop\"}}}}";
    CHECK_STR(analyze_req(movies, "{\"text\":\"a movie directed by Bennett Miller\"}"),
              "movie/2-7/word/1 n=4");
    CHECK_STR(analyze_req(movies,
                          "{\"analyzer\":\"standard\",\"text\":\"a movie directed by Bennett "
                          "Miller\"}"),
              "a/0-1/<ALPHANUM>/0 n=6");
    CHECK_STR(analyze_req(NULL, "{\"tokenizer\":\"keyword\",\"filter\":[\"asciifolding\"],"
                                "\"text\":\"Léon\"}"),
              "Leon/0-4/word/0 n=1");
    CHECK_STR(analyze_req(NULL, "{\"tokenizer\":\"keyword\",\"filter\":[\"lowercase\"],"
                                "\"char_filter\":[\"html_strip\"],\"text\":\"<b>Moneyball</b>\"}"),
              "moneyball/3-16/word/0 n=1");
    CHECK_STR(analyze_req(NULL, "{\"tokenizer\":\"keyword\",\"filter\":[\"porter_stem\"],"
                                "\"text\":\"Directed by Bennett Miller\"}"),
              "Directed by Bennett Mil/0-26/word/0 n=1");
    CHECK_STR(analyze_req(NULL, "{\"tokenizer\":\"whitespace\",\"filter\":[\"lowercase\",{\"type\":"
                                "\"stop\",\"stopwords\":[\"in\",\"to\"]}],\"text\":\"Moneyball "
                                "directed by Bennett Miller\"}"),
              "moneyball/0-9/word/0 n=5");
    CHECK_STR(analyze_req(NULL, "{\"tokenizer\":\"keyword\",\"filter\":[\"uppercase\"],"
                                "\"text\":\"Moneyball\"}"),
              "MONEYBALL/0-9/word/0 n=1");
    /* validation and lookup errors, worded as ES words them */
    CHECK_STR(analyze_req(NULL, "{\"analyzer\":\"standard\"}"),
              "ERROR action_request_validation_exception Validation Failed: 1: text is missing;");
    CHECK_STR(
        analyze_req(NULL, "{\"analyzer\":\"standard\",\"tokenizer\":\"keyword\",\"text\":[]}"),
        "ERROR action_request_validation_exception Validation Failed: 1: text is missing; 2: "
        "custom tokenizer or filters cannot be specified if a named analyzer is used;");
    CHECK_STR(analyze_req(NULL, "{\"analyzer\":\"nope\",\"text\":\"x\"}"),
              "ERROR illegal_argument_exception failed to find global analyzer [nope]");
    CHECK_STR(analyze_req(movies, "{\"analyzer\":\"nope\",\"text\":\"x\"}"),
              "ERROR illegal_argument_exception failed to find analyzer [nope]");
    CHECK_STR(analyze_req(NULL, "{\"normalizer\":\"lowercase\",\"text\":\"x\"}"),
              "ERROR action_request_validation_exception Validation Failed: 1: index is required "
              "if normalizer is specified;");
    CHECK_STR(analyze_req(movies, "{\"normalizer\":\"lowercase\",\"text\":\"AbC\"}"),
              "abc/0-3/word/0 n=1");
    CHECK_STR(analyze_req(movies, "{\"normalizer\":\"nope\",\"text\":\"AbC\"}"),
              "ERROR illegal_argument_exception failed to find normalizer under [nope]");
    CHECK_STR(analyze_req(NULL, "{\"text\":\"Hello\"}"), "hello/0-5/<ALPHANUM>/0 n=1");
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
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, NULL);
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
    test_ngrams_and_char_filters();
    test_synonyms();
    test_registry();
    test_malformed_settings();
    test_invalid_utf8_and_fuzz();
    test_utf16_offsets();
    test_adversarial_speed();
    test_analyze_json();
    test_analyze_request();
    test_threads();
    printf("analysis: %d checks, %d failed\n", kiln_test_checks, kiln_test_failures);
    return kiln_test_failures ? 1 : 0;
}
