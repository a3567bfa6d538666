/* Text analysis: turns a field value or query string into tokens, as Elasticsearch analyzers do.
 *
 * Interface contract (owned by the analysis module; the search module depends only on this):
 *  - Built-in analyzers: standard, simple, whitespace, keyword, stop, english.
 *  - Custom analyzers come from index settings ("analysis": {"analyzer": {...}, "filter": {...}}),
 *    built once per index into a kiln_analysis_registry.
 *  - An analyzer is immutable and thread-safe; per-call scratch state lives in the caller's
 *    kiln_token_stream, so analysis allocates nothing per token in the steady state. */
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

/* The names of the built-in analyzers, NULL-terminated (for listings and validation). */
const char *const *kiln_analysis_builtin_names(void);

#endif
