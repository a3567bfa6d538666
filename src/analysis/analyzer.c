/* Running an analyzer: tokenizer, then each token through the filter chain, positions as
 * Lucene computes them (dropped tokens leave gaps), then the caller's callback. */
#include "analysis/analysis_int.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

char *kiln__scratch(kiln__run *run, const kiln__tok *tok, size_t need)
{
    /* tok->text may point anywhere inside a buffer (trim moves its start) */
    uintptr_t t = (uintptr_t)tok->text, b0 = (uintptr_t)run->buf[0];
    int b = t >= b0 && t < b0 + run->cap[0] ? 1 : 0;
    if (need > run->cap[b]) {
        size_t cap = run->cap[b] * 2;
        if (cap < need) cap = need;
        if (run->buf[b] == run->inl[b]) {
            run->buf[b] = kiln_xmalloc(cap);
        } else {
            run->buf[b] = kiln_xrealloc(run->buf[b], cap);
        }
        run->cap[b] = cap;
    }
    return run->buf[b];
}

static void run_init(kiln__run *run)
{
    for (int b = 0; b < 2; b++) {
        run->buf[b] = run->inl[b];
        run->cap[b] = KILN__INLINE_SCRATCH;
    }
    run->fstate = NULL;
}

static void run_dispose(kiln__run *run)
{
    for (int b = 0; b < 2; b++)
        if (run->buf[b] != run->inl[b]) free(run->buf[b]);
}

int kiln_analyze(const kiln_analyzer *a, const char *text, size_t len, uint32_t position_base,
                 kiln_token_fn fn, void *ctx)
{
    if (!text) len = 0;
    kiln__tokenizer_state st;
    st.text = text ? text : "";
    st.len = len;
    st.pos = 0;
    kiln__run run;
    run_init(&run);
    kiln__filter_state fs[KILN__MAX_FILTERS];
    if (a->needs_state) {
        for (size_t f = 0; f < a->nfilters; f++) kiln__filter_begin(&a->filters[f], &fs[f]);
    }
    /* position as a signed 64-bit value: the first token's increment of 1 lands on the base */
    int64_t pos = (int64_t)position_base - 1;
    uint32_t pending = 0; /* increments of dropped tokens, added to the next kept one */
    int rc = 0;
    kiln__tok t;
    while (kiln__tokenizer_next(&a->tokenizer, &st, &t)) {
        int verdict = KILN__KEEP;
        for (size_t f = 0; f < a->nfilters && verdict == KILN__KEEP; f++)
            verdict = kiln__filter_apply(&a->filters[f], &fs[f], &run, &t);
        if (verdict == KILN__DROP) {
            pending += t.posinc;
            continue;
        }
        if (verdict == KILN__DROP_NOGAP) continue;
        pos += t.posinc + pending;
        pending = 0;
        kiln_token out = {
            .text = t.text,
            .len = t.len,
            .position = (uint32_t)pos,
            .start = t.start,
            .end = t.end,
            .type = t.type,
        };
        rc = fn(&out, ctx);
        if (rc) break;
    }
    if (a->needs_state) {
        for (size_t f = 0; f < a->nfilters; f++) kiln__filter_end(&a->filters[f], &fs[f]);
    }
    run_dispose(&run);
    return rc;
}

void kiln__analyzer_dispose(kiln_analyzer *a)
{
    for (size_t f = 0; f < a->nfilters; f++) kiln__filter_dispose(&a->filters[f]);
    a->nfilters = 0;
    free(a->name);
    a->name = NULL;
}

void kiln_analyzer_free(kiln_analyzer *a)
{
    if (!a) return;
    kiln__analyzer_dispose(a);
    free(a);
}

uint32_t kiln_analysis_utf16_offset(const char *text, size_t len, uint32_t byte_offset)
{
    if (byte_offset > len) byte_offset = (uint32_t)len;
    uint32_t units = 0;
    for (size_t i = 0; i < byte_offset;) {
        size_t l;
        int32_t cp = kiln__utf8_decode((const unsigned char *)text + i, len - i, &l);
        units += cp >= 0x10000 ? 2 : 1;
        i += l;
    }
    return units;
}
