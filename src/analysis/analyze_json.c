/* The _analyze response body, built the way Elasticsearch's TransportAnalyzeAction does it:
 * positions and offsets run on across the values of a text array. */
#include "analysis/analysis_int.h"

#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Converts byte offsets to UTF-16 offsets incrementally: tokens arrive in (nearly) increasing
 * offset order, so the walk is linear; going backwards restarts from the beginning. */
typedef struct {
    const char *text;
    size_t len;
    size_t byte;
    uint32_t units;
} u16cursor;

static uint32_t u16_at(u16cursor *c, size_t byte)
{
    if (byte > c->len) byte = c->len;
    if (byte < c->byte) {
        c->byte = 0;
        c->units = 0;
    }
    while (c->byte < byte) {
        size_t l;
        int32_t cp =
            kiln__utf8_decode((const unsigned char *)c->text + c->byte, c->len - c->byte, &l);
        c->units += cp >= 0x10000 ? 2 : 1;
        c->byte += l;
    }
    return c->units;
}

typedef struct {
    json_t *tokens;
    u16cursor cur;
    int64_t last_position; /* ES's lastPosition: -1 before the first token */
    int64_t last_offset;   /* UTF-16 units of the previous values plus gaps */
} collector;

static int add_token(const kiln_token *t, void *ctx)
{
    collector *c = ctx;
    json_t *o = json_object();
    json_t *tok = json_stringn(t->text, t->len);
    if (!tok) { /* invalid UTF-8 (whitespace/keyword tokenizers keep bytes): show U+FFFD */
        char *fixed = kiln_xmalloc(t->len * 3 + 1);
        size_t k = 0;
        for (size_t i = 0; i < t->len;) {
            size_t l;
            int32_t cp = kiln__utf8_decode((const unsigned char *)t->text + i, t->len - i, &l);
            k += kiln__utf8_encode(cp, fixed + k); /* invalid bytes decode as U+FFFD */
            i += l;
        }
        tok = json_stringn(fixed, k);
        free(fixed);
    }
    json_object_set_new(o, "token", tok ? tok : json_string(""));
    json_object_set_new(o, "start_offset",
                        json_integer(c->last_offset + u16_at(&c->cur, t->start)));
    json_object_set_new(o, "end_offset", json_integer(c->last_offset + u16_at(&c->cur, t->end)));
    json_object_set_new(o, "type", json_string(t->type));
    json_object_set_new(o, "position", json_integer(t->position));
    json_array_append_new(c->tokens, o);
    c->last_position = t->position;
    return 0;
}

json_t *kiln_analyze_to_json(const kiln_analyzer *a, json_t *text, kiln_error *err)
{
    size_t n = json_is_array(text) ? json_array_size(text) : 1;
    if (!json_is_string(text) && !json_is_array(text)) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[text] must be a string or an array of strings");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(text) ? json_array_get(text, i) : text;
        if (!json_is_string(v)) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                      "[text] must be a string or an array of strings");
            return NULL;
        }
    }
    collector c = {json_array(), {0}, -1, 0};
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(text) ? json_array_get(text, i) : text;
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        c.cur = (u16cursor){s, len, 0, 0};
        uint32_t trailing = 0;
        /* the next token's increment of 1 must land on last_position + 1 (+ gaps) */
        uint32_t base = (uint32_t)(c.last_position + 1);
        kiln__analyze_ex(a, s, len, base, add_token, &c, &trailing);
        /* after each value: lastOffset += final offset + offset gap (1); lastPosition += the
         * end() increment + position_increment_gap */
        c.last_offset += u16_at(&c.cur, len) + 1;
        c.last_position += trailing + kiln_analyzer_position_increment_gap(a);
    }
    json_t *out = json_object();
    json_object_set_new(out, "tokens", c.tokens);
    return out;
}

/* Appends "N: msg;" to an ES validation message. */
static void add_validation(char *buf, size_t cap, int *n, const char *msg)
{
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%d: %s;", *n ? " " : "Validation Failed: ", *n + 1, msg);
    (*n)++;
}

static bool nonempty(json_t *v)
{
    return v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0);
}

json_t *kiln_analyze_request(const kiln_analysis_registry *r, json_t *body,
                             const char *field_analyzer, kiln_error *err)
{
    if (!json_is_object(body)) {
        kiln_fail(err, KILN_E_PARSE, "request body is required");
        return NULL;
    }
    json_t *text = json_object_get(body, "text");
    const char *analyzer = json_string_value(json_object_get(body, "analyzer"));
    const char *normalizer = json_string_value(json_object_get(body, "normalizer"));
    json_t *tokenizer = json_object_get(body, "tokenizer");
    bool custom = nonempty(tokenizer) || nonempty(json_object_get(body, "filter")) ||
                  nonempty(json_object_get(body, "char_filter"));
    /* AnalyzeAction.Request.validate() */
    char msg[512] = "";
    int n = 0;
    if (!nonempty(text)) add_validation(msg, sizeof msg, &n, "text is missing");
    if (normalizer && !r)
        add_validation(msg, sizeof msg, &n, "index is required if normalizer is specified");
    if (normalizer && (nonempty(tokenizer) || analyzer))
        add_validation(msg, sizeof msg, &n,
                       "tokenizer/analyze should be null if normalizer is specified");
    if (analyzer && custom)
        add_validation(msg, sizeof msg, &n,
                       "custom tokenizer or filters cannot be specified if a named analyzer is "
                       "used");
    if (n) {
        kiln_fail(err, KILN_E_ACTION_VALIDATION, "%s", msg);
        return NULL;
    }
    if (json_is_true(json_object_get(body, "explain"))) {
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "[explain] is not supported by Kiln yet");
        return NULL;
    }
    const kiln_analyzer *a = NULL;
    kiln_analyzer *owned = NULL;
    if (analyzer) {
        a = kiln_analyzer_get(r, analyzer);
        if (!a) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                      r ? "failed to find analyzer [%s]" : "failed to find global analyzer [%s]",
                      analyzer);
            return NULL;
        }
    } else if (normalizer) {
        a = kiln_normalizer_get(r, normalizer);
        if (!a) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "failed to find normalizer under [%s]",
                      normalizer);
            return NULL;
        }
    } else if (custom) {
        a = owned = kiln_analyzer_new_custom(r, body, err);
        if (!a) return NULL;
    } else if (field_analyzer) {
        a = kiln_analyzer_get(r, field_analyzer);
        if (!a) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "failed to find analyzer [%s]", field_analyzer);
            return NULL;
        }
    } else {
        a = kiln_analyzer_get(r, "default"); /* the index's default, else standard */
    }
    json_t *out = kiln_analyze_to_json(a, text, err);
    kiln_analyzer_free(owned);
    return out;
}
