/* The host ABI that UDF modules import: the single source of truth for guest-visible functions.
 * Guest side: sdk/c/kiln_udf.h mirrors this file; docs/udf-abi.md documents it.
 *
 * ABI version 1. A module declares the version it was built for by exporting a function
 *   (func (export "kiln_abi_version") (result i32))
 * returning 1; registration rejects a module without it or with an unsupported version.
 *
 * All imports live in module "kiln". Strings are UTF-8, passed as (ptr, len) into the guest's
 * linear memory; the host checks every (ptr, len) with 64-bit math and traps the call
 * (KILN_TRAP_HOST) on an out-of-bounds range. Paths use dots for objects and [i] for array
 * elements: "user.address.city", "tags[2]", "items[0].price".
 *
 *   name                  signature (wasm)          meaning
 *   get_field_string      (i32 p, i32 n, i32 out, i32 cap) -> i32
 *                         copies up to cap bytes of the field's first (or indexed) value as a
 *                         string into out; returns the full length in bytes, -1 if missing.
 *                         Numbers and booleans are rendered as text ("42", "true").
 *   get_field_int64       (i32 p, i32 n) -> i64     value, 0 if missing or not a number
 *   get_field_float64     (i32 p, i32 n) -> f64     value, NaN if missing or not a number
 *   get_field_bool        (i32 p, i32 n) -> i32     1/0, 0 if missing
 *   has_field             (i32 p, i32 n) -> i32     1 if present and not null
 *   get_field_count       (i32 p, i32 n) -> i32     number of values (arrays), 0 if missing
 *   get_document_id       (i32 out, i32 cap) -> i32 copies _id, returns its length
 *   get_score             () -> f64                 the enclosing query's _score (0 in filters)
 *   log                   (i32 level, i32 p, i32 n) level 0 debug .. 3 error
 *   get_param_string      (i32 p, i32 n, i32 out, i32 cap) -> i32   query parameter, like fields
 *   get_param_int64       (i32 p, i32 n) -> i64
 *   get_param_float64     (i32 p, i32 n) -> f64
 *   get_param_bool        (i32 p, i32 n) -> i32
 *   has_param             (i32 p, i32 n) -> i32
 *   field_handle          (i32 p, i32 n) -> i32     resolves a path once per query: handle >= 0
 *   get_field_string_h    (i32 h, i32 out, i32 cap) -> i32          by handle, as above
 *   get_field_int64_h     (i32 h) -> i64
 *   get_field_float64_h   (i32 h) -> f64
 *   has_field_h           (i32 h) -> i32
 *   bind_field_string     (i32 h, i32 buf, i32 cap, i32 len_at) -> i32
 *                         from now on for this query, before every call Kiln writes field h
 *                         (as get_field_string_h would) into buf (at most cap bytes) and its
 *                         length as an i32 at len_at (-1 if missing); also at once, for the
 *                         current call. 0, or -1 (call trapped) for a bad handle or range.
 *                         The per-document read of a string field with no host call at all.
 *
 * The UDF itself is an exported function named in its metadata ("function_name"). Its
 * parameters are the declared UDF parameters in order, for numeric types (i32, i64, f32, f64,
 * bool as i32); string parameters are not passed as arguments (read them with
 * get_param_string). It returns i32 or i64 (a filter: non-zero matches) or f32/f64 (a score;
 * NaN and infinities are errors). */
#ifndef KILN_UDF_ABI_H
#define KILN_UDF_ABI_H

#define KILN_UDF_ABI_VERSION 1
#define KILN_UDF_ABI_MODULE "kiln"
#define KILN_UDF_ABI_VERSION_EXPORT "kiln_abi_version"

#endif
