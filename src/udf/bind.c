/* Bound fields (bind_field_string): a UDF names a string field and a buffer once per query,
 * and Kiln writes the field's value there before every call. The values of a batch are
 * looked up together and the engine copies each one in just before its call, so the
 * per-document read of a text-matching UDF costs no host call at all. */
#include "core/buf.h"
#include "udf/udf_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A batch's staged values: pointers into doc values, or text rendered into num. */
struct kiln__udf_stage {
    const char *ptr[KILN__UDF_MAX_BINDS][KILN__BATCH];
    size_t len[KILN__UDF_MAX_BINDS][KILN__BATCH];
    char num[KILN__UDF_MAX_BINDS][KILN__BATCH][40];
    kiln_wasm_input in[KILN__UDF_MAX_BINDS];
    kiln_buf copies; /* transient values (see kiln_udf_doc_ops.str_transient), cap bytes each */
    size_t at[KILN__UDF_MAX_BINDS][KILN__BATCH]; /* their offsets in copies */
};

int32_t kiln__udf_bind_field_string(kiln_wasm_ctx *ctx, int32_t h, int32_t buf, int32_t cap,
                                    int32_t len_at)
{
    kiln_udf_session *s = kiln_wasm_ctx_user(ctx);
    char msg[128];
    if (!s->doc || (uint32_t)h >= s->npaths || !s->paths[h].handle) {
        kiln_wasm_ctx_fail(ctx, "bind_field_string: invalid field handle (resolve it with "
                                "field_handle first)");
        return -1;
    }
    if (cap < 0 || !kiln_wasm_ctx_mem(ctx, (uint32_t)buf, (uint32_t)cap) ||
        !kiln_wasm_ctx_mem(ctx, (uint32_t)len_at, 4)) {
        snprintf(msg, sizeof msg, "bind_field_string: buffer %u (+%d) or length at %u outside "
                 "the module's memory", (uint32_t)buf, cap, (uint32_t)len_at);
        kiln_wasm_ctx_fail(ctx, msg);
        return -1;
    }
    unsigned i = 0;
    while (i < s->nbinds && s->binds[i].len_at != (uint32_t)len_at) i++; /* rebinding replaces */
    if (i == KILN__UDF_MAX_BINDS) {
        kiln_wasm_ctx_fail(ctx, "bind_field_string: at most 8 bound fields per query");
        return -1;
    }
    s->binds[i] = (kiln__udf_bind){h, (uint32_t)buf, (uint32_t)cap, (uint32_t)len_at};
    if (i == s->nbinds) s->nbinds++;
    /* this call's value now; later calls get theirs from the batch staging */
    char num[40];
    size_t len = 0;
    const char *v = kiln__udf_field_text(s, h, num, &len);
    int32_t l32 = -1;
    if (v) {
        kiln_wasm_copy_small(kiln_wasm_ctx_mem(ctx, (uint32_t)buf, (uint32_t)cap), v,
                             len < (size_t)cap ? len : (size_t)cap);
        l32 = len > INT32_MAX ? INT32_MAX : (int32_t)len;
    }
    memcpy(kiln_wasm_ctx_mem(ctx, (uint32_t)len_at, 4), &l32, 4);
    kiln_wasm_ctx_end_batch(ctx); /* the batch in progress was staged without this field */
    return 0;
}

size_t kiln__udf_stage_inputs(kiln_udf_session *s, kiln_udf_doc *doc, size_t first, size_t n,
                              const kiln_wasm_input **inputs)
{
    if (!s->nbinds) return 0;
    if (!s->stage) { /* ~30 KiB, every slot written before it is read: no zeroing */
        s->stage = kiln_xmalloc(sizeof *s->stage);
        s->stage->copies = (kiln_buf)KILN_BUF_INIT;
    }
    kiln__udf_stage *st = s->stage;
    const kiln_udf_doc *saved = s->doc;
    s->doc = doc;
    kiln__udf_handles_current(s, doc); /* once per batch: one segment */
    const char *(*str)(const kiln_udf_doc *, void *, size_t *) = doc->ops->str;
    kiln_buf_reset(&st->copies);
    for (unsigned j = 0; j < s->nbinds; j++) {
        const kiln__udf_bind *b = &s->binds[j];
        void *handle = (uint32_t)b->h < s->npaths ? s->paths[b->h].handle : NULL;
        int transient = handle && doc->ops->str_transient && doc->ops->str_transient(doc, handle);
        for (size_t k = 0; k < n; k++) {
            doc->at = first + k;
            const char *v = str && handle ? str(doc, handle, &st->len[j][k]) : NULL;
            /* not a string (or no fast path): the general read, numbers as text */
            if (!v) v = kiln__udf_field_text(s, b->h, st->num[j][k], &st->len[j][k]);
            st->ptr[j][k] = v;
            st->at[j][k] = SIZE_MAX;
            if (v && transient && v != st->num[j][k]) { /* the next read may overwrite it */
                st->at[j][k] = st->copies.len;
                kiln_buf_append(&st->copies, v, st->len[j][k] < b->cap ? st->len[j][k] : b->cap);
            }
        }
        st->in[j] = (kiln_wasm_input){b->dst, b->cap, b->len_at, st->ptr[j], st->len[j]};
    }
    if (st->copies.len) /* pointers into copies once it has stopped growing */
        for (unsigned j = 0; j < s->nbinds; j++)
            for (size_t k = 0; k < n; k++)
                if (st->at[j][k] != SIZE_MAX) st->ptr[j][k] = st->copies.data + st->at[j][k];
    s->doc = saved;
    *inputs = st->in;
    return s->nbinds;
}

void kiln__udf_stage_free(kiln__udf_stage *st)
{
    if (!st) return;
    kiln_buf_free(&st->copies);
    free(st);
}
