/* _analyze: runs an analyzer (built-in, an index's custom one, a field's, or one assembled from
 * tokenizer/filter/char_filter in the request) over text and lists the tokens. */
#include "api/api_int.h"
#include "core/buf.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    json_t *tokens;
    const char *text;
    size_t len;
    uint32_t offset_base; /* UTF-16 units before this value (multi-valued text) */
    uint32_t last_pos, last_end;
} kiln__collect;

static int kiln__add_token(const kiln_token *tok, void *ctx)
{
    kiln__collect *c = ctx;
    uint32_t start = c->offset_base + kiln_analysis_utf16_offset(c->text, c->len, tok->start);
    uint32_t end = c->offset_base + kiln_analysis_utf16_offset(c->text, c->len, tok->end);
    json_array_append_new(c->tokens,
                          json_pack("{s:s%,s:i,s:i,s:s,s:i}", "token", tok->text, tok->len,
                                    "start_offset", (int)start, "end_offset", (int)end, "type",
                                    tok->type ? tok->type : "word", "position",
                                    (int)tok->position));
    c->last_pos = tok->position;
    c->last_end = end;
    return 0;
}

static int kiln__analyze(kiln_req *req, kiln_resp *resp)
{
    int ok;
    json_t *body = kiln__body_json(req, resp, &ok);
    if (!ok) return 0;
    if (!json_is_object(body)) {
        json_decref(body);
        return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                              "an _analyze request needs a body with [text]");
    }
    kiln_error err;
    kiln_index *idx = NULL;
    kiln_analyzer *own = NULL;
    const kiln_analyzer *a = NULL;
    const char *name = kiln_req_param(req, "index");
    if (name && !(idx = kiln_node_get(kiln__node, name, &err))) goto fail;
    const kiln_analysis_registry *reg = idx ? idx->analysis : NULL;
    json_t *text = json_object_get(body, "text");
    json_t *jan = json_object_get(body, "analyzer"), *jfield = json_object_get(body, "field");
    json_t *jnorm = json_object_get(body, "normalizer");
    if (!json_is_string(text) && !json_is_array(text)) {
        kiln_fail(&err, KILN_E_ACTION_VALIDATION, "Validation Failed: 1: text is missing;");
        goto fail;
    }
    if (json_is_string(jan)) {
        a = kiln_analyzer_get(reg, json_string_value(jan));
        if (!a) {
            kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT, "failed to find %sanalyzer [%s]",
                      idx ? "" : "global ", json_string_value(jan));
            goto fail;
        }
    } else if (json_is_string(jnorm)) {
        a = kiln_normalizer_get(reg, json_string_value(jnorm));
        if (!a) {
            kiln_fail(&err, KILN_E_ILLEGAL_ARGUMENT, "failed to find normalizer under [%s]",
                      json_string_value(jnorm));
            goto fail;
        }
    } else if (json_object_get(body, "tokenizer") || json_object_get(body, "filter") ||
               json_object_get(body, "char_filter")) {
        if (!(own = kiln_analyzer_new_custom(reg, body, &err))) goto fail;
        a = own;
    } else if (json_is_string(jfield) && idx) {
        kiln_mapping *m = kiln_index_mapping(idx);
        const kiln_field *f = kiln_mapping_field(m, json_string_value(jfield));
        const char *an = f && f->type == KILN_FT_TEXT ? f->analyzer
                         : f                        ? "keyword"
                                                    : "standard";
        a = kiln_analyzer_get(reg, an);
        kiln_mapping_unref(m);
    } else {
        /* An index may define its own "default" analyzer, as in ES. */
        a = kiln_analyzer_get(reg, "default");
        if (!a) a = kiln_analyzer_get(reg, "standard");
    }
    kiln__collect c = {.tokens = json_array()};
    size_t n = json_is_array(text) ? json_array_size(text) : 1;
    uint32_t pos_base = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_is_array(text) ? json_array_get(text, i) : text;
        if (!json_is_string(t)) continue;
        c.text = json_string_value(t);
        c.len = json_string_length(t);
        size_t before = json_array_size(c.tokens);
        kiln_analyze(a, c.text, c.len, pos_base, kiln__add_token, &c);
        /* Multi-valued text: positions continue after a gap, offsets after the value (+1). */
        if (json_array_size(c.tokens) > before)
            pos_base = c.last_pos + kiln_analyzer_position_increment_gap(a) + 1;
        c.offset_base += kiln_analysis_utf16_offset(c.text, c.len, (uint32_t)c.len) + 1;
    }
    kiln_analyzer_free(own);
    kiln_index_unref(idx);
    json_decref(body);
    return kiln__reply_json(resp, 200, json_pack("{s:o}", "tokens", c.tokens));
fail:
    kiln_analyzer_free(own);
    kiln_index_unref(idx);
    json_decref(body);
    return kiln__reply(resp, &err);
}

static const kiln_route kiln__routes[] = {
    {KILN_GET | KILN_POST, "/_analyze", kiln__analyze},
    {KILN_GET | KILN_POST, "/{index}/_analyze", kiln__analyze},
};

const kiln_route *kiln__routes_analyze(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
