/* Building analyzers: the built-in ones, custom ones from an index's "analysis" settings, and
 * one-off ones from an _analyze request. Errors use Elasticsearch's wording. */
#include "analysis/analysis_int.h"

#include "core/buf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct kiln_analysis_registry {
    json_t *settings; /* the "analysis" object, referenced; NULL when none */
    kiln_analyzer **analyzers;
    size_t count;
    kiln_analyzer **normalizers;
    size_t nnormalizers;
    uint64_t serial; /* kiln_analysis_registry_serial */
};

/* ---- settings values: ES accepts "5" for 5 and "true" for true ---------------------------- */

static int get_uint(json_t *def, const char *key, uint32_t dflt, uint32_t *out, const char *what,
                    kiln_error *err)
{
    json_t *v = json_object_get(def, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_string(v)) {
        char *end;
        errno = 0;
        x = strtoll(json_string_value(v), &end, 10);
        if (errno || *end || end == json_string_value(v)) goto bad;
    } else {
        goto bad;
    }
    if (x < 0 || x > INT32_MAX) goto bad;
    *out = (uint32_t)x;
    return 0;
bad:
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                     "Failed to parse value [%s] for setting [%s] of [%s]",
                     json_is_string(v) ? json_string_value(v) : "?", key, what);
}

static int get_bool(json_t *def, const char *key, bool dflt, bool *out, const char *what,
                    kiln_error *err)
{
    json_t *v = json_object_get(def, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && !strcmp(json_string_value(v), "true")) {
        *out = true;
        return 0;
    }
    if (json_is_string(v) && !strcmp(json_string_value(v), "false")) {
        *out = false;
        return 0;
    }
    return kiln_fail(
        err, KILN_E_ILLEGAL_ARGUMENT,
        "Failed to parse value [%s] as only [true] or [false] are allowed for [%s] of [%s]",
        json_is_string(v) ? json_string_value(v) : "?", key, what);
}

static const char *get_str(json_t *def, const char *key)
{
    json_t *v = json_object_get(def, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Adds word to s, lowercased when `lower` (ignore_case sets). */
static void add_word(kiln__strset *s, const char *word, size_t len, bool lower)
{
    if (!lower) {
        kiln__strset_add(s, word, len);
        return;
    }
    kiln__run run;
    run.buf[0] = run.inl[0];
    run.buf[1] = run.inl[1];
    run.cap[0] = run.cap[1] = KILN__INLINE_SCRATCH;
    kiln__tok t = {.text = word, .len = len};
    kiln__filter lf = {.kind = KILN__TF_LOWERCASE};
    kiln__filter_apply(&lf, NULL, &run, &t);
    kiln__strset_add(s, t.text, t.len);
    for (int b = 0; b < 2; b++)
        if (run.buf[b] != run.inl[b]) free(run.buf[b]);
}

/* Fills a string set from a word list setting: an array of strings, a comma-separated string,
 * or a named list such as "_english_" (only when named lists are allowed). */
static int word_set(json_t *v, const char *const *dflt, bool named_ok, bool lower,
                    kiln__strset **out, const char *what, kiln_error *err)
{
    kiln__strset *s = kiln__strset_new();
    const char *const *list = dflt;
    if (json_is_string(v)) {
        const char *str = json_string_value(v);
        list = named_ok ? kiln__stopwords_named(str) : NULL;
        if (!list) {
            size_t n = strlen(str);
            if (n > 1 && str[0] == '_' && str[n - 1] == '_') {
                kiln__strset_free(s);
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                 "Unsupported stop word list [%s] for [%s]", str, what);
            }
            /* "a, b" is the list [a, b], as ES reads list settings given as strings */
            for (const char *p = str; *p;) {
                const char *e = strchr(p, ',');
                if (!e) e = p + strlen(p);
                const char *a = p, *b = e;
                while (a < b && *a == ' ')
                    a++;
                while (b > a && b[-1] == ' ')
                    b--;
                if (b > a) add_word(s, a, (size_t)(b - a), lower);
                p = *e ? e + 1 : e;
            }
        }
    } else if (json_is_array(v)) {
        list = NULL;
        if (json_array_size(v) == 1 && named_ok && json_is_string(json_array_get(v, 0)))
            list = kiln__stopwords_named(json_string_value(json_array_get(v, 0))); /* [_english_] */
        size_t i;
        json_t *w;
        json_array_foreach(v, i, w)
        {
            if (list) break;
            if (!json_is_string(w)) {
                kiln__strset_free(s);
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                 "word list of [%s] must contain only strings", what);
            }
            add_word(s, json_string_value(w), json_string_length(w), lower);
        }
    } else if (v && !json_is_null(v)) {
        kiln__strset_free(s);
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "word list of [%s] must be an array", what);
    }
    if (list)
        for (; *list; list++)
            kiln__strset_add(s, *list, strlen(*list));
    *out = s;
    return 0;
}

/* ---- token filters ----------------------------------------------------------------------- */

/* Elasticsearch stemmer language -> implementation. */
static int stemmer_filter(const char *lang, kiln__filter *f, const char *what, kiln_error *err)
{
    static const struct {
        const char *es, *impl;
    } map[] = {
        {"english", "#porter"},
        {"porter", "#porter"},
        {"porter2", "english"},
        {"light_english", "english"},
        {"kstem", "english"},
        {"minimal_english", "#minimal"},
        {"possessive_english", "#possessive"},
        {"german2", "german"},
        {"light_german", "german"},
        {"minimal_german", "german"},
        {"dutch_kp", "dutch"},
        {"light_french", "french"},
        {"minimal_french", "french"},
        {"light_italian", "italian"},
        {"light_spanish", "spanish"},
        {"light_portuguese", "portuguese"},
        {"minimal_portuguese", "portuguese"},
        {"portuguese_rslp", "portuguese"},
        {"light_russian", "russian"},
        {"light_swedish", "swedish"},
        {"light_finnish", "finnish"},
        {"light_hungarian", "hungarian"},
        {"light_norwegian", "norwegian"},
        {"minimal_norwegian", "norwegian"},
        {"light_nynorsk", "norwegian"},
        {"minimal_nynorsk", "norwegian"},
    };
    const char *impl = lang;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].es, lang)) impl = map[i].impl;
    if (!strcmp(impl, "#porter")) {
        f->kind = KILN__TF_PORTER;
    } else if (!strcmp(impl, "#minimal")) {
        f->kind = KILN__TF_MINIMAL_ENGLISH;
    } else if (!strcmp(impl, "#possessive")) {
        f->kind = KILN__TF_POSSESSIVE;
    } else {
        f->kind = KILN__TF_SNOWBALL;
        f->pool = kiln__stemmer_pool_new(impl);
        if (!f->pool)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "Unsupported stemmer language [%s] for [%s]", lang, what);
    }
    return 0;
}

/* min_gram / max_gram of the n-gram tokenizers and filters (defaults 1 and 2). */
static int gram_sizes(json_t *def, uint32_t *min, uint32_t *max, const char *what, kiln_error *err)
{
    int rc = get_uint(def, "min_gram", 1, min, what, err);
    if (!rc) rc = get_uint(def, "max_gram", 2, max, what, err);
    if (rc) return rc;
    if (*min < 1)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "minGram must be greater than zero");
    if (*min > *max)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "minGram must not be greater than maxGram");
    return 0;
}

/* Builds filter `name` from its definition object `def` (type plus parameters). */
static int filter_from_def(json_t *def, const char *name, const kiln_analyzer *chain,
                           kiln__filter *f, kiln_error *err)
{
    memset(f, 0, sizeof *f);
    const char *type = get_str(def, "type");
    if (!type)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "filter [%s] must specify either an analyzer type, or a tokenizer", name);
    int rc = 0;
    if (!strcmp(type, "lowercase")) {
        f->kind = KILN__TF_LOWERCASE;
    } else if (!strcmp(type, "uppercase")) {
        f->kind = KILN__TF_UPPERCASE;
    } else if (!strcmp(type, "stop")) {
        f->kind = KILN__TF_STOP;
        if (json_object_get(def, "stopwords_path"))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "stopwords_path is not supported for [%s]", name);
        if ((rc = get_bool(def, "ignore_case", false, &f->ignore_case, name, err))) return rc;
        rc = word_set(json_object_get(def, "stopwords"), kiln__stopwords_named("_english_"), true,
                      f->ignore_case, &f->set, name, err);
    } else if (!strcmp(type, "stemmer")) {
        const char *lang = get_str(def, "language");
        if (!lang) lang = get_str(def, "name");
        char low[64]; /* ES compares language names ignoring case */
        snprintf(low, sizeof low, "%s", lang ? lang : "english");
        for (char *p = low; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        rc = stemmer_filter(low, f, name, err);
    } else if (!strcmp(type, "porter_stem")) {
        f->kind = KILN__TF_PORTER;
    } else if (!strcmp(type, "kstem")) {
        rc = stemmer_filter("kstem", f, name, err);
    } else if (!strcmp(type, "snowball")) {
        const char *lang = get_str(def, "language");
        char low[64];
        snprintf(low, sizeof low, "%s", lang ? lang : "English");
        for (char *p = low; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        const char *impl = !strcmp(low, "kp") ? "dutch" : !strcmp(low, "german2") ? "german" : low;
        f->kind = KILN__TF_SNOWBALL;
        f->pool = kiln__stemmer_pool_new(impl);
        if (!f->pool)
            rc = kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                           "Unsupported snowball language [%s] for [%s]", low, name);
    } else if (!strcmp(type, "asciifolding")) {
        f->kind = KILN__TF_ASCIIFOLDING;
        rc = get_bool(def, "preserve_original", false, &f->preserve_original, name, err);
    } else if (!strcmp(type, "trim")) {
        f->kind = KILN__TF_TRIM;
    } else if (!strcmp(type, "length")) {
        f->kind = KILN__TF_LENGTH;
        if ((rc = get_uint(def, "min", 0, &f->min, name, err))) return rc;
        rc = get_uint(def, "max", INT32_MAX, &f->max, name, err);
    } else if (!strcmp(type, "unique")) {
        f->kind = KILN__TF_UNIQUE;
    } else if (!strcmp(type, "keyword_marker")) {
        f->kind = KILN__TF_KEYWORD_MARKER;
        if ((rc = get_bool(def, "ignore_case", false, &f->ignore_case, name, err))) return rc;
        rc = word_set(json_object_get(def, "keywords"), NULL, false, f->ignore_case, &f->set, name,
                      err);
    } else if (!strcmp(type, "reverse")) {
        f->kind = KILN__TF_REVERSE;
    } else if (!strcmp(type, "truncate")) {
        f->kind = KILN__TF_TRUNCATE;
        rc = get_uint(def, "length", 10, &f->max, name, err);
    } else if (!strcmp(type, "apostrophe")) {
        f->kind = KILN__TF_APOSTROPHE;
    } else if (!strcmp(type, "elision")) {
        static const char *const french[] = {"l", "m", "t",     "qu",     "n",      "s",      "j",
                                             "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu", NULL};
        f->kind = KILN__TF_ELISION;
        if ((rc = get_bool(def, "articles_case", false, &f->ignore_case, name, err))) return rc;
        rc = word_set(json_object_get(def, "articles"), french, false, f->ignore_case, &f->set,
                      name, err);
    } else if (!strcmp(type, "decimal_digit")) {
        f->kind = KILN__TF_DECIMAL_DIGIT;
    } else if (!strcmp(type, "stemmer_override")) {
        f->kind = KILN__TF_STEMMER_OVERRIDE;
        json_t *rules = json_object_get(def, "rules");
        if (!json_is_array(rules))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "stemmer override filter requires either `rules` or `rules_path` "
                             "to be configured");
        size_t i;
        json_t *r;
        json_array_foreach(rules, i, r)
        {
            if (!json_is_string(r) || !strstr(json_string_value(r), "=>"))
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Invalid Keyword override Rule:%s",
                                 json_is_string(r) ? json_string_value(r) : "");
        }
        rc = kiln__synonyms_build(rules, NULL, false, false, &f->syn, name, err);
    } else if (!strcmp(type, "synonym") || !strcmp(type, "synonym_graph")) {
        f->kind = KILN__TF_SYNONYM;
        bool expand, lenient;
        if ((rc = get_bool(def, "expand", true, &expand, name, err))) return rc;
        if ((rc = get_bool(def, "lenient", false, &lenient, name, err))) return rc;
        const char *format = get_str(def, "format");
        if (json_object_get(def, "synonyms_path") || json_object_get(def, "synonyms_set"))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "synonyms_path and synonyms_set are not supported for [%s]", name);
        if (format && strcmp(format, "solr"))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "synonym format [%s] is not supported for [%s]", format, name);
        json_t *rules = json_object_get(def, "synonyms");
        if (!json_is_array(rules))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "synonym requires either `synonyms`, `synonyms_set` or "
                             "`synonyms_path` to be configured");
        rc = kiln__synonyms_build(rules, chain, expand, lenient, &f->syn, name, err);
    } else if (!strcmp(type, "edge_ngram") || !strcmp(type, "edgeNGram") ||
               !strcmp(type, "ngram") || !strcmp(type, "nGram")) {
        f->kind = type[0] == 'e' ? KILN__TF_EDGE_NGRAM : KILN__TF_NGRAM;
        if ((rc = gram_sizes(def, &f->min, &f->max, name, err))) return rc;
        rc = get_bool(def, "preserve_original", false, &f->preserve_original, name, err);
    } else {
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Unknown filter type [%s] for [%s]", type,
                         name);
    }
    if (rc) kiln__filter_dispose(f);
    return rc;
}

/* Resolves a filter reference in an analyzer: a name (index settings first, then built-ins)
 * or an inline definition object. */
static int filter_ref(json_t *settings, json_t *ref, const kiln_analyzer *chain,
                      const char *analyzer, kiln__filter *f, kiln_error *err)
{
    if (json_is_object(ref)) return filter_from_def(ref, "_anonymous_filter", chain, f, err);
    if (!json_is_string(ref))
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "Custom Analyzer [%s] filter names must be strings", analyzer);
    const char *name = json_string_value(ref);
    json_t *def = json_object_get(json_object_get(settings, "filter"), name);
    if (json_is_object(def)) return filter_from_def(def, name, chain, f, err);
    static const char *const builtin[] = {
        "lowercase", "uppercase", "stop",          "stemmer",    "porter_stem",
        "kstem",     "snowball",  "asciifolding",  "trim",       "length",
        "unique",    "reverse",   "truncate",      "apostrophe", "edge_ngram",
        "ngram",     "elision",   "decimal_digit", NULL};
    for (const char *const *b = builtin; *b; b++) {
        if (!strcmp(*b, name)) {
            json_t *d = json_pack("{ss}", "type", name);
            int rc = filter_from_def(d, name, chain, f, err);
            json_decref(d);
            return rc;
        }
    }
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                     "Custom Analyzer [%s] failed to find filter under name [%s]", analyzer, name);
}

/* ---- tokenizers -------------------------------------------------------------------------- */

static int tokenizer_from_def(json_t *def, const char *name, kiln__tokenizer *t, kiln_error *err)
{
    const char *type = get_str(def, "type");
    if (!type)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "tokenizer [%s] must specify either an analyzer type, or a tokenizer",
                         name);
    t->max_token_length = 255;
    if (!strcmp(type, "standard")) {
        t->kind = KILN__TK_STANDARD;
    } else if (!strcmp(type, "whitespace")) {
        t->kind = KILN__TK_WHITESPACE;
    } else if (!strcmp(type, "letter")) {
        t->kind = KILN__TK_LETTER;
        return 0;
    } else if (!strcmp(type, "lowercase")) {
        t->kind = KILN__TK_LOWERCASE;
        return 0;
    } else if (!strcmp(type, "keyword")) {
        t->kind = KILN__TK_KEYWORD;
        return 0;
    } else if (!strcmp(type, "ngram") || !strcmp(type, "nGram") || !strcmp(type, "edge_ngram") ||
               !strcmp(type, "edgeNGram")) {
        t->kind = type[0] == 'e' ? KILN__TK_EDGE_NGRAM : KILN__TK_NGRAM;
        int rc = gram_sizes(def, &t->min_gram, &t->max_gram, name, err);
        if (rc) return rc;
        t->token_chars = 0;
        json_t *tc = json_object_get(def, "token_chars");
        size_t i;
        json_t *v;
        json_array_foreach(tc, i, v)
        {
            const char *c = json_string_value(v);
            static const char *const names[] = {"letter", "digit", "whitespace", "punctuation",
                                                "symbol"};
            size_t k = 0;
            while (k < 5 && (!c || strcmp(c, names[k])))
                k++;
            if (k == 5)
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                                 "Unknown token type: '%s', must be one of [symbol, private_use, "
                                 "paragraph_separator, start_punctuation, unassigned, "
                                 "enclosing_mark, connector_punctuation, letter_number, "
                                 "other_number, math_symbol, lowercase_letter, space_separator, "
                                 "surrogate, initial_quote_punctuation, decimal_digit_number, "
                                 "digit, other_punctuation, dash_punctuation, currency_symbol, "
                                 "final_quote_punctuation, format, other_letter, "
                                 "modifier_symbol, control, uppercase_letter, other_symbol, "
                                 "line_separator, non_spacing_mark, titlecase_letter, letter, "
                                 "punctuation, combining_spacing_mark, modifier_letter, "
                                 "custom, whitespace, open_punctuation, close_punctuation]",
                                 c ? c : "");
            t->token_chars |= 1u << k;
        }
        return 0;
    } else {
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Unknown tokenizer type [%s] for [%s]", type,
                         name);
    }
    int rc = get_uint(def, "max_token_length", 255, &t->max_token_length, name, err);
    if (rc) return rc;
    if (t->max_token_length == 0 || t->max_token_length > 1024 * 1024)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "maxTokenLength must be greater than 0 and less than 1048576 passed: %u",
                         t->max_token_length);
    return 0;
}

static int tokenizer_ref(json_t *settings, json_t *ref, const char *analyzer, kiln__tokenizer *t,
                         kiln_error *err)
{
    if (json_is_object(ref)) return tokenizer_from_def(ref, "_anonymous_tokenizer", t, err);
    const char *name = json_is_string(ref) ? json_string_value(ref) : "";
    json_t *def = json_object_get(json_object_get(settings, "tokenizer"), name);
    if (json_is_object(def)) return tokenizer_from_def(def, name, t, err);
    static const char *const builtin[] = {"standard", "whitespace", "letter",     "lowercase",
                                          "keyword",  "ngram",      "edge_ngram", NULL};
    for (const char *const *b = builtin; *b; b++) {
        if (!strcmp(*b, name)) {
            json_t *d = json_pack("{ss}", "type", name);
            int rc = tokenizer_from_def(d, name, t, err);
            json_decref(d);
            return rc;
        }
    }
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                     "Custom Analyzer [%s] failed to find tokenizer under name [%s]", analyzer,
                     name);
}

/* ---- character filters ------------------------------------------------------------------- */

/* Unescapes a mapping rule side as ES does (\\n \\t \\r \\b \\f \\uXXXX, \\ + any char). */
static char *unescape(const char *s, size_t n, size_t *outlen)
{
    char *o = kiln_xmalloc(n * 4 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            o[k++] = s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'n':
            o[k++] = '\n';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'u':
            if (i + 4 < n) {
                char hex[5] = {s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0};
                char *end;
                long cp = strtol(hex, &end, 16);
                if (!*end) {
                    k += kiln__utf8_encode((int32_t)cp, o + k);
                    i += 4;
                    break;
                }
            }
            o[k++] = c;
            break;
        default:
            o[k++] = c;
            break;
        }
    }
    o[k] = 0;
    *outlen = k;
    return o;
}

static int char_filter_from_def(json_t *def, const char *name, kiln__char_filter *cf,
                                kiln_error *err)
{
    memset(cf, 0, sizeof *cf);
    const char *type = get_str(def, "type");
    if (!type)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "char_filter [%s] must specify either an analyzer type, or a tokenizer",
                         name);
    if (!strcmp(type, "html_strip")) {
        cf->kind = KILN__CF_HTML_STRIP;
        json_t *esc = json_object_get(def, "escaped_tags");
        if (esc) return word_set(esc, NULL, false, true, &cf->set, name, err);
        return 0;
    }
    if (!strcmp(type, "mapping")) {
        cf->kind = KILN__CF_MAPPING;
        json_t *rules = json_object_get(def, "mappings");
        if (json_object_get(def, "mappings_path"))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "mappings_path is not supported for [%s]", name);
        if (!json_is_array(rules))
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "mapping requires either `mappings` or `mappings_path` to be "
                             "configured");
        size_t n = json_array_size(rules);
        cf->from = kiln_xcalloc(n + 1, sizeof *cf->from);
        cf->to = kiln_xcalloc(n + 1, sizeof *cf->to);
        cf->from_len = kiln_xcalloc(n + 1, sizeof *cf->from_len);
        cf->to_len = kiln_xcalloc(n + 1, sizeof *cf->to_len);
        size_t i;
        json_t *r;
        json_array_foreach(rules, i, r)
        {
            const char *rule = json_string_value(r);
            const char *arrow = rule ? strstr(rule, "=>") : NULL;
            const char *a = rule, *ae = arrow, *b = arrow ? arrow + 2 : NULL;
            while (arrow && ae > a && (ae[-1] == ' ' || ae[-1] == '\t'))
                ae--;
            while (arrow && (*b == ' ' || *b == '\t'))
                b++;
            const char *be = b ? b + strlen(b) : NULL;
            while (b && be > b && (be[-1] == ' ' || be[-1] == '\t'))
                be--;
            if (!arrow || ae == a) {
                kiln__char_filter_dispose(cf);
                return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Invalid Mapping Rule : [%s]",
                                 rule ? rule : "");
            }
            cf->from[cf->nrules] = unescape(a, (size_t)(ae - a), &cf->from_len[cf->nrules]);
            cf->to[cf->nrules] = unescape(b, (size_t)(be - b), &cf->to_len[cf->nrules]);
            cf->nrules++;
        }
        return 0;
    }
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Unknown char_filter type [%s] for [%s]", type,
                     name);
}

static int char_filter_ref(json_t *settings, json_t *ref, const char *analyzer,
                           kiln__char_filter *cf, kiln_error *err)
{
    if (json_is_object(ref)) return char_filter_from_def(ref, "_anonymous_charfilter", cf, err);
    const char *name = json_is_string(ref) ? json_string_value(ref) : "";
    json_t *def = json_object_get(json_object_get(settings, "char_filter"), name);
    if (json_is_object(def)) return char_filter_from_def(def, name, cf, err);
    if (!strcmp(name, "html_strip")) {
        memset(cf, 0, sizeof *cf);
        cf->kind = KILN__CF_HTML_STRIP;
        return 0;
    }
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                     "Custom Analyzer [%s] failed to find char_filter under name [%s]", analyzer,
                     name);
}

/* ---- analyzers --------------------------------------------------------------------------- */

static kiln_analyzer *analyzer_alloc(const char *name)
{
    kiln_analyzer *a = kiln_xcalloc(1, sizeof *a);
    a->name = kiln_xstrdup(name);
    a->position_increment_gap = 100;
    a->tokenizer.kind = KILN__TK_STANDARD;
    a->tokenizer.max_token_length = 255;
    return a;
}

static void finish(kiln_analyzer *a)
{
    a->needs_state = false;
    for (size_t i = 0; i < a->nfilters; i++)
        if (a->filters[i].kind == KILN__TF_UNIQUE || a->filters[i].kind == KILN__TF_SNOWBALL)
            a->needs_state = true;
}

static kiln__filter *add_filter(kiln_analyzer *a, kiln__filter_kind kind)
{
    kiln__filter *f = &a->filters[a->nfilters++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    return f;
}

/* A stop filter from an analyzer's "stopwords" setting (default list dflt). */
static int add_stop(kiln_analyzer *a, json_t *def, const char *dflt, kiln_error *err)
{
    kiln__strset *set;
    int rc = word_set(json_object_get(def, "stopwords"), kiln__stopwords_named(dflt), true, false,
                      &set, a->name, err);
    if (rc) return rc;
    if (!kiln__strset_count(set)) {
        kiln__strset_free(set); /* _none_: no filter at all */
        return 0;
    }
    add_filter(a, KILN__TF_STOP)->set = set;
    return 0;
}

/* The built-in analyzer types, configurable by def (may be NULL). */
static int typed_analyzer(kiln_analyzer *a, const char *type, json_t *def, kiln_error *err)
{
    int rc = 0;
    if (!strcmp(type, "standard")) {
        a->tokenizer.kind = KILN__TK_STANDARD;
        rc = get_uint(def, "max_token_length", 255, &a->tokenizer.max_token_length, a->name, err);
        if (rc) return rc;
        if (a->tokenizer.max_token_length == 0) a->tokenizer.max_token_length = 255;
        add_filter(a, KILN__TF_LOWERCASE);
        return add_stop(a, def, "_none_", err);
    }
    if (!strcmp(type, "simple")) {
        a->tokenizer.kind = KILN__TK_LOWERCASE;
        return 0;
    }
    if (!strcmp(type, "whitespace")) {
        a->tokenizer.kind = KILN__TK_WHITESPACE;
        return get_uint(def, "max_token_length", 255, &a->tokenizer.max_token_length, a->name, err);
    }
    if (!strcmp(type, "keyword")) {
        a->tokenizer.kind = KILN__TK_KEYWORD;
        return 0;
    }
    if (!strcmp(type, "stop")) {
        a->tokenizer.kind = KILN__TK_LOWERCASE;
        return add_stop(a, def, "_english_", err);
    }
    if (!strcmp(type, "english")) {
        a->tokenizer.kind = KILN__TK_STANDARD;
        add_filter(a, KILN__TF_POSSESSIVE);
        add_filter(a, KILN__TF_LOWERCASE);
        if ((rc = add_stop(a, def, "_english_", err))) return rc;
        json_t *ex = json_object_get(def, "stem_exclusion");
        if (ex && json_array_size(ex)) {
            kiln__strset *set;
            if ((rc = word_set(ex, NULL, false, true, &set, a->name, err))) return rc;
            add_filter(a, KILN__TF_KEYWORD_MARKER)->set = set;
        }
        add_filter(a, KILN__TF_PORTER);
        return 0;
    }
    if (!strcmp(type, "snowball")) {
        a->tokenizer.kind = KILN__TK_STANDARD;
        add_filter(a, KILN__TF_LOWERCASE);
        if ((rc = add_stop(a, def, "_english_", err))) return rc;
        kiln__filter f;
        json_t *d = json_pack("{ss ss}", "type", "snowball", "language",
                              get_str(def, "language") ? get_str(def, "language") : "English");
        rc = filter_from_def(d, a->name, NULL, &f, err);
        json_decref(d);
        if (rc) return rc;
        a->filters[a->nfilters++] = f;
        return 0;
    }
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Unknown analyzer type [%s] for [%s]", type,
                     a->name);
}

/* tokenizer + filters (+ char_filter) from a custom definition or an _analyze body */
static int custom_analyzer(kiln_analyzer *a, json_t *settings, json_t *def, bool need_tokenizer,
                           kiln_error *err)
{
    int rc = 0;
    json_t *tok = json_object_get(def, "tokenizer");
    if (!tok && need_tokenizer)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "Custom Analyzer [%s] must be configured with a tokenizer", a->name);
    if (tok) {
        if ((rc = tokenizer_ref(settings, tok, a->name, &a->tokenizer, err))) return rc;
    } else {
        a->tokenizer.kind = KILN__TK_KEYWORD; /* filters only: a normalizer, as ES does */
    }
    size_t i;
    json_t *ref;
    json_t *cfs = json_object_get(def, "char_filter");
    json_t *wrapped = NULL;
    if (json_is_string(cfs)) cfs = wrapped = json_pack("[O]", cfs);
    if (cfs && !json_is_array(cfs))
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "Custom Analyzer [%s] char_filter must be an array", a->name);
    json_array_foreach(cfs, i, ref)
    {
        if (a->ncf == KILN__MAX_CHAR_FILTERS) {
            rc = kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                           "Custom Analyzer [%s] has more than %d char filters", a->name,
                           KILN__MAX_CHAR_FILTERS);
            break;
        }
        if ((rc = char_filter_ref(settings, ref, a->name, &a->cfilters[a->ncf], err))) break;
        a->ncf++;
    }
    json_decref(wrapped);
    if (rc) return rc;
    json_t *filters = json_object_get(def, "filter");
    wrapped = NULL;
    if (json_is_string(filters)) filters = wrapped = json_pack("[O]", filters); /* one name */
    if (filters && !json_is_array(filters))
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                         "Custom Analyzer [%s] filter must be an array", a->name);
    json_array_foreach(filters, i, ref)
    {
        if (a->nfilters == KILN__MAX_FILTERS) {
            rc = kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                           "Custom Analyzer [%s] has more than %d filters", a->name,
                           KILN__MAX_FILTERS);
            break;
        }
        finish(a); /* synonym rules are analyzed by the chain built so far */
        if ((rc = filter_ref(settings, ref, a, a->name, &a->filters[a->nfilters], err))) break;
        a->nfilters++;
    }
    json_decref(wrapped);
    if (rc) return rc;
    return get_uint(def, "position_increment_gap", 100, &a->position_increment_gap, a->name, err);
}

static kiln_analyzer *analyzer_from_def(json_t *settings, const char *name, json_t *def,
                                        kiln_error *err)
{
    kiln_analyzer *a = analyzer_alloc(name);
    int rc;
    const char *type = get_str(def, "type");
    if (!json_is_object(def)) {
        rc = kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "analyzer [%s] must be an object", name);
    } else if (!type && !json_object_get(def, "tokenizer")) {
        rc = kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                       "analyzer [%s] must specify either an analyzer type, or a tokenizer", name);
    } else if (!type || !strcmp(type, "custom")) {
        rc = custom_analyzer(a, settings, def, true, err);
    } else {
        rc = typed_analyzer(a, type, def, err);
    }
    if (rc) goto fail;
    finish(a);
    return a;
fail:
    kiln_analyzer_free(a);
    return NULL;
}

/* A normalizer: keyword tokenizer plus character-level filters only, as ES allows. */
static kiln_analyzer *normalizer_from_def(json_t *settings, const char *name, json_t *def,
                                          kiln_error *err)
{
    kiln_analyzer *a = analyzer_alloc(name);
    const char *type = get_str(def, "type");
    if (!json_is_object(def) || (type && strcmp(type, "custom"))) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "Unknown normalizer type [%s] for [%s]",
                  type ? type : "", name);
        goto fail;
    }
    if (json_object_get(def, "tokenizer")) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                  "Custom normalizer [%s] cannot configure a tokenizer", name);
        goto fail;
    }
    if (custom_analyzer(a, settings, def, false, err)) goto fail;
    for (size_t i = 0; i < a->nfilters; i++) {
        kiln__filter_kind k = a->filters[i].kind;
        if (k != KILN__TF_LOWERCASE && k != KILN__TF_UPPERCASE && k != KILN__TF_ASCIIFOLDING &&
            k != KILN__TF_TRIM) {
            json_t *ref = json_array_get(json_object_get(def, "filter"), i);
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                      "Custom normalizer [%s] may not use filter [%s]", name,
                      json_is_string(ref) ? json_string_value(ref) : "_anonymous_filter");
            goto fail;
        }
        a->filters[i].preserve_original = false; /* one token in, one out */
    }
    finish(a);
    return a;
fail:
    kiln_analyzer_free(a);
    return NULL;
}

/* ---- built-ins --------------------------------------------------------------------------- */

static const char *const builtin_names[] = {"standard", "simple",  "whitespace", "keyword",
                                            "stop",     "english", NULL};
#define NBUILTIN 6
static kiln_analyzer *builtins[NBUILTIN];
static kiln_analyzer *lowercase_normalizer;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static void builtins_init(void)
{
    for (int i = 0; i < NBUILTIN; i++) {
        builtins[i] = analyzer_alloc(builtin_names[i]);
        typed_analyzer(builtins[i], builtin_names[i], NULL, NULL); /* cannot fail */
        finish(builtins[i]);
    }
    lowercase_normalizer = analyzer_alloc("lowercase");
    lowercase_normalizer->tokenizer.kind = KILN__TK_KEYWORD;
    add_filter(lowercase_normalizer, KILN__TF_LOWERCASE);
    kiln__unicode_init(); /* build the character tables now, not on the first token */
}

static const kiln_analyzer *builtin_get(const char *name)
{
    pthread_once(&builtins_once, builtins_init);
    for (int i = 0; i < NBUILTIN; i++)
        if (!strcmp(builtin_names[i], name)) return builtins[i];
    return NULL;
}

/* ---- public ------------------------------------------------------------------------------ */

kiln_analysis_registry *kiln_analysis_registry_new(json_t *analysis_settings, kiln_error *err)
{
    static _Atomic uint64_t serials;
    kiln_analysis_registry *r = kiln_xcalloc(1, sizeof *r);
    r->serial = ++serials;
    json_t *s = analysis_settings;
    /* accept the whole settings object too ({"analysis": {...}} or {"index": {"analysis": ...}}) */
    if (json_is_object(json_object_get(s, "index"))) s = json_object_get(s, "index");
    if (json_object_get(s, "analysis")) s = json_object_get(s, "analysis");
    if (s && !json_is_null(s) && !json_is_object(s)) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[analysis] settings must be an object");
        goto fail;
    }
    if (json_is_object(s)) r->settings = json_incref(s);
    pthread_once(&builtins_once, builtins_init);
    json_t *defs = json_object_get(s, "analyzer");
    if (defs && !json_is_object(defs)) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[analysis.analyzer] must be an object");
        goto fail;
    }
    /* every filter and tokenizer definition is checked, used or not, as ES does */
    const char *name;
    json_t *def;
    json_object_foreach(json_object_get(s, "filter"), name, def)
    {
        kiln__filter f;
        if (filter_from_def(def, name, NULL, &f, err)) goto fail;
        kiln__filter_dispose(&f);
    }
    json_object_foreach(json_object_get(s, "tokenizer"), name, def)
    {
        kiln__tokenizer t;
        if (tokenizer_from_def(def, name, &t, err)) goto fail;
    }
    json_object_foreach(json_object_get(s, "char_filter"), name, def)
    {
        kiln__char_filter cf;
        if (char_filter_from_def(def, name, &cf, err)) goto fail;
        kiln__char_filter_dispose(&cf);
    }
    r->analyzers = kiln_xcalloc(json_object_size(defs) + 1, sizeof *r->analyzers);
    json_object_foreach(defs, name, def)
    {
        kiln_analyzer *a = analyzer_from_def(s, name, def, err);
        if (!a) goto fail;
        r->analyzers[r->count++] = a;
    }
    json_t *norms = json_object_get(s, "normalizer");
    r->normalizers = kiln_xcalloc(json_object_size(norms) + 1, sizeof *r->normalizers);
    json_object_foreach(norms, name, def)
    {
        kiln_analyzer *a = normalizer_from_def(s, name, def, err);
        if (!a) goto fail;
        r->normalizers[r->nnormalizers++] = a;
    }
    return r;
fail:
    kiln_analysis_registry_free(r);
    return NULL;
}

void kiln_analysis_registry_free(kiln_analysis_registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->count; i++)
        kiln_analyzer_free(r->analyzers[i]);
    free(r->analyzers);
    for (size_t i = 0; i < r->nnormalizers; i++)
        kiln_analyzer_free(r->normalizers[i]);
    free(r->normalizers);
    json_decref(r->settings);
    free(r);
}

uint64_t kiln_analysis_registry_serial(const kiln_analysis_registry *r)
{
    return r ? r->serial : 0;
}

const kiln_analyzer *kiln_analyzer_get(const kiln_analysis_registry *r, const char *name)
{
    if (!name) return NULL;
    if (r) {
        for (size_t i = 0; i < r->count; i++)
            if (!strcmp(r->analyzers[i]->name, name)) return r->analyzers[i];
    }
    /* ES: default_search falls back to the index's default, which falls back to standard */
    if (!strcmp(name, "default_search")) return kiln_analyzer_get(r, "default");
    if (!strcmp(name, "default")) return builtin_get("standard");
    return builtin_get(name);
}

kiln_analyzer *kiln_analyzer_new_custom(const kiln_analysis_registry *r, json_t *def,
                                        kiln_error *err)
{
    pthread_once(&builtins_once, builtins_init);
    kiln_analyzer *a = analyzer_alloc("_anonymous_");
    if (!json_is_object(def)) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "analyzer definition must be an object");
        goto fail;
    }
    if (!json_object_get(def, "tokenizer") && !json_object_get(def, "filter") &&
        !json_object_get(def, "char_filter")) {
        if (typed_analyzer(a, "standard", NULL, err)) goto fail;
    } else if (custom_analyzer(a, r ? r->settings : NULL, def, false, err)) {
        goto fail;
    }
    finish(a);
    return a;
fail:
    kiln_analyzer_free(a);
    return NULL;
}

const char *kiln_analyzer_name(const kiln_analyzer *a)
{
    return a->name;
}

uint32_t kiln_analyzer_position_increment_gap(const kiln_analyzer *a)
{
    return a->position_increment_gap;
}

const kiln_analyzer *kiln_normalizer_get(const kiln_analysis_registry *r, const char *name)
{
    if (!name) return NULL;
    if (r) {
        for (size_t i = 0; i < r->nnormalizers; i++)
            if (!strcmp(r->normalizers[i]->name, name)) return r->normalizers[i];
    }
    if (!strcmp(name, "lowercase")) {
        pthread_once(&builtins_once, builtins_init);
        return lowercase_normalizer;
    }
    return NULL;
}

const char *const *kiln_analysis_builtin_names(void)
{
    return builtin_names;
}
