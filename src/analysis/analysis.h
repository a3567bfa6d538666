/* Text analysis: turns a field value or query string into tokens, as Elasticsearch analyzers do.
 *
 * Interface contract (owned by the analysis module; the search module depends only on this):
 *  - Built-in analyzers: standard, simple, whitespace, keyword, stop, english.
 *  - Custom analyzers come from index settings ("analysis": {"analyzer": {...}, "filter": {...}}),
 *    built once per index into a kiln_analysis_registry.
 *  - An analyzer is immutable and thread-safe; per-call scratch state lives on the stack of
 *    kiln_analyze, so analysis allocates nothing per token in the steady state.
 *
 * Supported (types as in Elasticsearch's settings; see registry.c for parameters):
 *  - analyzer types: custom, standard, simple, whitespace, keyword, stop, english, snowball;
 *    index analyzers "default" and "default_search" are honoured by kiln_analyzer_get.
 *  - tokenizers: standard (UAX#29 as Lucene), whitespace, letter, lowercase, keyword, ngram,
 *    edge_ngram.
 *  - token filters: lowercase, uppercase, stop, stemmer (english = Lucene Porter, porter2,
 *    minimal_english, possessive_english, and every Snowball language of libstemmer),
 *    porter_stem, kstem (approximated), snowball, asciifolding (preserve_original), trim,
 *    length, unique, keyword_marker, reverse, truncate, apostrophe, elision, decimal_digit,
 *    stemmer_override, edge_ngram, ngram, synonym / synonym_graph (single-token rules).
 *  - char filters: html_strip, mapping. Normalizers: custom, built-in lowercase.
 *  - Offsets are bytes into the caller's text (kiln_analysis_utf16_offset or
 *    kiln_analyze_to_json give ES's UTF-16 offsets). */
#ifndef KILN_ANALYSIS_H
#define KILN_ANALYSIS_H

#include "core/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kiln_analyzer kiln_analyzer;
typedef struct kiln_analysis_registry kiln_analysis_registry;

typedef struct kiln_token {
    const char *text;    /* borrowed until the next token is produced; not NUL-terminated */
    size_t len;
    uint32_t position;   /* token position (stop words leave gaps, as in ES) */
    uint32_t start, end; /* byte offsets into the input */
    const char *type;    /* "<ALPHANUM>", "<NUM>", "word", ... as _analyze reports */
} kiln_token;

/* Called once per token; return non-zero to stop early. */
typedef int (*kiln_token_fn)(const kiln_token *tok, void *ctx);

/* Builds the analyzers of an index from its settings' "analysis" object (NULL: built-ins only).
 * Returns NULL and fills err when a definition is invalid (unknown tokenizer/filter, ...). */
kiln_analysis_registry *kiln_analysis_registry_new(json_t *analysis_settings, kiln_error *err);
void kiln_analysis_registry_free(kiln_analysis_registry *r);

/* The analyzer named `name` (custom or built-in), borrowed for the registry's lifetime; NULL if
 * unknown. A NULL registry means built-ins only. */
const kiln_analyzer *kiln_analyzer_get(const kiln_analysis_registry *r, const char *name);

/* Runs the analyzer over text (UTF-8, any bytes tolerated), calling fn per token.
 * position_base offsets positions (multi-valued fields use a gap of 100 between values).
 * Returns 0, or the non-zero value fn returned. */
int kiln_analyze(const kiln_analyzer *a, const char *text, size_t len, uint32_t position_base,
                 kiln_token_fn fn, void *ctx);

/* Builds a one-off analyzer from an _analyze request body's "tokenizer", "filter",
 * "char_filter" definitions. Caller frees with kiln_analyzer_free. */
kiln_analyzer *kiln_analyzer_new_custom(const kiln_analysis_registry *r, json_t *def,
                                        kiln_error *err);
void kiln_analyzer_free(kiln_analyzer *a);

/* ---- additions (keep the functions above stable: the search module codes against them) --- */

/* The analyzer's name ("standard", a custom name, or "_anonymous_"); borrowed. */
const char *kiln_analyzer_name(const kiln_analyzer *a);

/* Position gap between the values of a multi-valued field (ES position_increment_gap,
 * default 100): pass base = last position + gap + 1 for the next value. */
uint32_t kiln_analyzer_position_increment_gap(const kiln_analyzer *a);

/* Converts a byte offset into text to the UTF-16 code-unit offset Elasticsearch reports in
 * _analyze's start_offset/end_offset (invalid bytes count as one unit each). O(offset). */
uint32_t kiln_analysis_utf16_offset(const char *text, size_t len, uint32_t byte_offset);

/* The normalizer `name` for keyword fields (index settings "analysis.normalizer", or the
 * built-in "lowercase"): keyword tokenizer + character-level filters, so exactly one token per
 * value. Run it with kiln_analyze. Borrowed for the registry's lifetime; NULL if unknown. */
const kiln_analyzer *kiln_normalizer_get(const kiln_analysis_registry *r, const char *name);

/* Elasticsearch's _analyze response body for `text` (a JSON string or an array of strings):
 * {"tokens": [{"token", "start_offset", "end_offset", "type", "position"}, ...]} with offsets
 * in UTF-16 code units and, across array values, positions continued after the analyzer's
 * position_increment_gap and offsets after a gap of 1, exactly as ES computes them.
 * Returns a new reference, or NULL with err set when text has the wrong shape. */
json_t *kiln_analyze_to_json(const kiln_analyzer *a, json_t *text, kiln_error *err);

/* A whole _analyze request, as ES handles it: body {"text", and one of "analyzer" |
 * "tokenizer"/"filter"/"char_filter" | "normalizer" | "field"}; r is the index's registry, or
 * NULL for /_analyze; field_analyzer is the analyzer the mapping gives body's "field" (NULL if
 * none: the index's "default" analyzer, else standard). Returns the response body, or NULL
 * with err: action_request_validation_exception ("Validation Failed: 1: text is missing;"),
 * illegal_argument_exception ("failed to find analyzer [x]", "failed to find global analyzer
 * [x]", unknown filters...). "explain": true is rejected for now. */
json_t *kiln_analyze_request(const kiln_analysis_registry *r, json_t *body,
                             const char *field_analyzer, kiln_error *err);

/* A number no other registry of this process has had (0 for NULL, built-ins only): lets a
 * caller cache analyzers per registry without being fooled by a new one at a freed address. */
uint64_t kiln_analysis_registry_serial(const kiln_analysis_registry *r);

/* The names of the built-in analyzers, NULL-terminated (for listings and validation). */
const char *const *kiln_analysis_builtin_names(void);

#endif
