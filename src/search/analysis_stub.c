/* Stand-in for the analysis module, built only while src/analysis has no library yet (see
 * CMakeLists.txt). "standard"/"simple"/"english"/"stop": split on non-alphanumerics (bytes >= 0x80
 * count as letters) and lowercase ASCII; "whitespace": split on spaces; "keyword": one token.
 * The real module (utf8proc, stop words, stemming) replaces it when it lands. */
#include "analysis/analysis.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct kiln_analyzer {
    int kind; /* 0 standard, 1 whitespace, 2 keyword */
};

struct kiln_analysis_registry {
    int unused;
};

static const struct kiln_analyzer kiln__stub_analyzers[3] = {{0}, {1}, {2}};

kiln_analysis_registry *kiln_analysis_registry_new(json_t *analysis_settings, kiln_error *err)
{
    return calloc(1, sizeof(kiln_analysis_registry));
}

void kiln_analysis_registry_free(kiln_analysis_registry *r)
{
    free(r);
}

const kiln_analyzer *kiln_analyzer_get(const kiln_analysis_registry *r, const char *name)
{
    if (!strcmp(name, "standard") || !strcmp(name, "simple") || !strcmp(name, "english") ||
        !strcmp(name, "stop"))
        return &kiln__stub_analyzers[0];
    if (!strcmp(name, "whitespace")) return &kiln__stub_analyzers[1];
    if (!strcmp(name, "keyword")) return &kiln__stub_analyzers[2];
    return NULL;
}

int kiln_analyze(const kiln_analyzer *a, const char *text, size_t len, uint32_t position_base,
                 kiln_token_fn fn, void *ctx)
{
    char buf[256];
    kiln_token tok = {.type = "<ALPHANUM>"};
    if (a->kind == 2) {
        tok.text = text;
        tok.len = len;
        tok.position = position_base;
        tok.end = (uint32_t)len;
        return fn(&tok, ctx);
    }
    uint32_t pos = position_base;
    size_t i = 0;
    while (i < len) {
        unsigned char ch = (unsigned char)text[i];
        int word = a->kind == 1 ? !isspace(ch) : (isalnum(ch) || ch >= 0x80);
        if (!word) {
            i++;
            continue;
        }
        size_t start = i, n = 0;
        while (i < len) {
            ch = (unsigned char)text[i];
            if (a->kind == 1 ? isspace(ch) : !(isalnum(ch) || ch >= 0x80)) break;
            if (n < sizeof buf) buf[n++] = a->kind == 1 ? (char)ch : (char)tolower(ch);
            i++;
        }
        tok.text = buf;
        tok.len = n;
        tok.position = pos++;
        tok.start = (uint32_t)start;
        tok.end = (uint32_t)i;
        int rc = fn(&tok, ctx);
        if (rc) return rc;
    }
    return 0;
}

kiln_analyzer *kiln_analyzer_new_custom(const kiln_analysis_registry *r, json_t *def,
                                        kiln_error *err)
{
    kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "custom analyzers need the analysis module");
    return NULL;
}

void kiln_analyzer_free(kiln_analyzer *a)
{
}
