/* Kiln's own tier-0 translator: a validating single-pass WebAssembly → C compiler that
 * runs in process on the stripped module (wasm_check.c) and emits compact C for tcc,
 * with the same instance layout, traps, fuel and stack checks as the wasm2c tier. */
#ifndef KILN_WASM_XLATE_H
#define KILN_WASM_XLATE_H

#include "wasm_int.h"

#define KILN__XL_UNSUPPORTED 1 /* a feature this translator leaves to wasm2c */

typedef struct {
    bool explicit_bounds, no_fuel;
} kiln__xl_opts;

/* Validates mi->stripped and translates it. Returns 0 with the C text in *out (heap,
 * NUL-terminated, length *out_len), KILN__XL_UNSUPPORTED with *why naming the feature,
 * or a negative KILN_WASM_* code with err filled (invalid module: function index and
 * byte offset in the stripped module's code section). */
int kiln__xlate(const kiln__modinfo *mi, const kiln__xl_opts *o, char **out, size_t *out_len,
                char *why, size_t why_cap, kiln_wasm_error *err);

#endif
