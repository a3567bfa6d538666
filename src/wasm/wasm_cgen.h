/* C snippets both generators emit (wasm_compile.c for wasm2c's output, wasm_xlate.c for
 * Kiln's translator): the C type of a wasm value and its moves in and out of a kiln__val,
 * as import thunks and export trampolines use them. Value types: 0 i32, 1 i64, 2 f32, 3 f64,
 * 4 funcref, 5 externref (kiln_wasm_type's order, then the two references). */
#ifndef KILN_WASM_CGEN_H
#define KILN_WASM_CGEN_H

#include "kiln_wasm.h"
#include "wasm_sb.h"

static inline const char *cgen_ctype(int t)
{
    static const char *n[] = {
        "u32", "u64", "f32", "f64", "wasm_rt_funcref_t", "wasm_rt_externref_t"};
    return t >= 0 && t < 6 ? n[t] : "u32";
}

/* The value of type t in arr[k], as an expression. A funcref cannot cross: it reads null. */
static inline void cgen_val_in(sb *s, int t, const char *arr, int k)
{
    static const char *cast[] = {"(u32)", "(u64)", "", ""}, *fld[] = {"i32", "i64", "f32", "f64"};
    if (t == 4)
        sb_str(s, "wasm_rt_funcref_null_value");
    else if (t == 5)
        sb_fmt(s, "(wasm_rt_externref_t)(uintptr_t)%s[%d].bits", arr, k);
    else
        sb_fmt(s, "%s%s[%d].%s", cast[t & 3], arr, k, fld[t & 3]);
}

/* Stores expr (of type t) into arr[k]; an f32 clears the upper bits first, so the whole
 * kiln__val is defined. */
static inline void cgen_val_out(sb *s, int t, const char *arr, int k, const char *expr)
{
    static const char *cast[] = {"(int32_t)", "(int64_t)", "", ""},
                      *fld[] = {"i32", "i64", "f32", "f64"};
    if (t == 4)
        sb_fmt(s, "%s[%d].bits=(uintptr_t)(%s).func;", arr, k, expr);
    else if (t == 5)
        sb_fmt(s, "%s[%d].bits=(uintptr_t)%s;", arr, k, expr);
    else if (t == 2)
        sb_fmt(s, "%s[%d].bits=0;%s[%d].f32=%s;", arr, k, arr, k, expr);
    else
        sb_fmt(s, "%s[%d].%s=%s%s;", arr, k, fld[t & 3], cast[t & 3], expr);
}

/* The generic path of an import thunk: its C arguments a0.. packed into a[] for
 * kiln__rt->generic_import. */
static inline void cgen_pack_args(sb *s, const kiln_wasm_sig *sig)
{
    for (int k = 0; k < sig->nparams; k++) {
        char e[16];
        snprintf(e, sizeof e, "a%d", k);
        cgen_val_out(s, sig->params[k], "a", k, e);
    }
}

#endif
