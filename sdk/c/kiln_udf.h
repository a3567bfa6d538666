/* kiln_udf.h: the C guest SDK for Kiln user-defined functions (UDFs), host ABI version 1.
 *
 * Header-only and freestanding: no libc is needed or available. Build a UDF with
 *
 *   clang --target=wasm32 -O2 -nostdlib -ffreestanding -mcpu=mvp -I sdk/c \
 *         -Wl,--no-entry -Wl,--strip-all -Wl,--gc-sections -Wl,--stack-first \
 *         -o my_udf.wasm my_udf.c
 *
 * (or kiln_add_wasm_guest() from cmake/wasm_guest.cmake). No --allow-undefined is needed:
 * every host function below carries its import module and name, so a link error means a
 * missing function of yours, never a silent extra import the server would reject.
 *
 * This file mirrors src/udf/abi.h, the single source of truth for the host ABI; the
 * guest-visible contract is documented in docs/udf-abi.md and a tutorial is in
 * docs/udf-guide.md. A minimal filter UDF:
 *
 *   #include "kiln_udf.h"
 *   KILN_UDF_ABI();                               // exports kiln_abi_version() = 1
 *   KILN_EXPORT(in_stock) int32_t in_stock(int32_t min) {
 *     return kiln_field_i64("stock", 0) >= min;   // non-zero: the document matches
 *   }
 *
 * Conventions of the ABI (see docs/udf-abi.md for the full contract):
 *  - All host functions live in wasm import module "kiln".
 *  - Strings are UTF-8 and passed as (pointer, length) into the module's linear memory; they
 *    need no NUL terminator. The host bounds-checks every range; a bad one traps the call.
 *  - Field paths: dots for objects, [i] for array elements: "user.address.city", "tags[2]",
 *    "items[0].price". A path without an index reads the field's first value.
 *  - The exported UDF function takes the UDF's declared *numeric* parameters as arguments, in
 *    declaration order (i32, i64, f32, f64; bool as i32). String parameters are not passed as
 *    arguments: read them with kiln_get_param_string() / kiln_param_str().
 *  - A filter returns i32 (non-zero = match); a scorer returns f32 or f64.
 *  - Memory and globals are restored between queries: a static variable set during one query
 *    (e.g. a cached field handle) is back to its initial value at the next query. Within a
 *    query the parameters do not change, so they can be read once, on the first call.
 *
 * Export and import names must match [A-Za-z_][A-Za-z0-9_]*; the server rejects others.
 */
#ifndef KILN_UDF_H
#define KILN_UDF_H

#include <stddef.h> /* clang's freestanding headers: no libc involved */
#include <stdint.h>

#if !defined(__wasm32__)
#error "kiln_udf.h targets WebAssembly: compile with clang --target=wasm32"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions and constants ------------------------------------------------------------ */

/* The host ABI version this header implements (src/udf/abi.h: KILN_UDF_ABI_VERSION). */
#define KILN_UDF_ABI_VERSION 1

/* Log levels for kiln_log(). */
#define KILN_LOG_DEBUG 0
#define KILN_LOG_INFO 1
#define KILN_LOG_WARN 2
#define KILN_LOG_ERROR 3

/* ---- Export and import attributes ------------------------------------------------------ */

/* Exports the following function under `name` (an identifier, no quotes):
 *   KILN_EXPORT(my_filter) int32_t my_filter(int32_t x) { ... }
 * The exported name is what udf.json's "function_name" refers to. */
#define KILN_EXPORT(name) __attribute__((export_name(#name), used, visibility("default")))

/* Declares a host import from module "kiln" (internal; every ABI function is declared below). */
#define KILN_IMPORT(name) __attribute__((import_module("kiln"), import_name(#name)))

/* Defines the mandatory export `kiln_abi_version`, returning the ABI version this module was
 * built for. Use it exactly once per module, at file scope:  KILN_UDF_ABI();
 * Registration rejects a module without it, or with a version the server does not support. */
#define KILN_UDF_ABI()                                                                          \
  KILN_EXPORT(kiln_abi_version) int32_t kiln_abi_version(void);                                 \
  int32_t kiln_abi_version(void) { return KILN_UDF_ABI_VERSION; }                               \
  typedef int kiln__abi_version_defined_

/* ---- Host functions (ABI v1, module "kiln") --------------------------------------------
 * Raw imports, one per function of src/udf/abi.h, with the same order and signature.
 * Pointer arguments are wasm32 addresses (i32) into this module's memory; lengths are byte
 * counts. The C-string convenience wrappers further below are usually nicer to use. */

/* Copies up to `cap` bytes of the field's first (or indexed) value, as a string, into `out`.
 * Returns the value's full length in bytes (which may exceed `cap`: the copy was truncated),
 * or -1 if the field is missing. Numbers and booleans are rendered as text ("42", "true").
 * Does not write a NUL terminator. */
KILN_IMPORT(get_field_string)
int32_t kiln_get_field_string(const char *path, int32_t path_len, char *out, int32_t cap);

/* The field's value as a 64-bit integer; 0 if missing or not a number. */
KILN_IMPORT(get_field_int64) int64_t kiln_get_field_int64(const char *path, int32_t path_len);

/* The field's value as a double; NaN if missing or not a number. */
KILN_IMPORT(get_field_float64) double kiln_get_field_float64(const char *path, int32_t path_len);

/* The field's value as a boolean: 1 or 0; 0 if missing. */
KILN_IMPORT(get_field_bool) int32_t kiln_get_field_bool(const char *path, int32_t path_len);

/* 1 if the field is present and not null, else 0. */
KILN_IMPORT(has_field) int32_t kiln_has_field(const char *path, int32_t path_len);

/* Number of values of the field (the length of an array, 1 for a single value); 0 if missing. */
KILN_IMPORT(get_field_count) int32_t kiln_get_field_count(const char *path, int32_t path_len);

/* Copies up to `cap` bytes of the document's _id into `out`; returns the id's full length. */
KILN_IMPORT(get_document_id) int32_t kiln_get_document_id(char *out, int32_t cap);

/* The enclosing query's _score (the inner query's score in script_score); 0 in filters. */
KILN_IMPORT(get_score) double kiln_get_score(void);

/* Writes a log line at `level` (KILN_LOG_DEBUG .. KILN_LOG_ERROR). Lines go to the server
 * log (rate-limited) and, when the request asks for them, into the response. Keep lines at
 * most KILN_LOG_MAX (1024) bytes: the helpers below truncate to that. */
KILN_IMPORT(log) void kiln_log(int32_t level, const char *msg, int32_t msg_len);

/* Query parameter `name` (as given in the query's "params", converted to its declared type,
 * or its declared default) as a string: same contract as kiln_get_field_string(); -1 if the
 * parameter is absent. */
KILN_IMPORT(get_param_string)
int32_t kiln_get_param_string(const char *name, int32_t name_len, char *out, int32_t cap);

/* Query parameter as a 64-bit integer; 0 if absent or not a number. */
KILN_IMPORT(get_param_int64) int64_t kiln_get_param_int64(const char *name, int32_t name_len);

/* Query parameter as a double; NaN if absent or not a number. */
KILN_IMPORT(get_param_float64) double kiln_get_param_float64(const char *name, int32_t name_len);

/* Query parameter as a boolean, 1 or 0; 0 if absent. */
KILN_IMPORT(get_param_bool) int32_t kiln_get_param_bool(const char *name, int32_t name_len);

/* 1 if the query parameter is present (given or defaulted), else 0. */
KILN_IMPORT(has_param) int32_t kiln_has_param(const char *name, int32_t name_len);

/* Fast path: resolves a field path and returns a handle >= 0 for the *_h functions below
 * (reads by handle skip path parsing and lookup). A handle is valid for the rest of the current
 * query only. Returns -1 when the path is invalid or names no field of the current document's
 * segment: resolve again later (KILN_CACHED_HANDLE does). Passing a handle that field_handle did
 * not return in this query, -1 included, traps the call: the kiln_*_hv() helpers below accept
 * -1 and read it as a missing field. */
KILN_IMPORT(field_handle) int32_t kiln_field_handle(const char *path, int32_t path_len);

/* As kiln_get_field_string(), by handle. */
KILN_IMPORT(get_field_string_h) int32_t kiln_get_field_string_h(int32_t h, char *out, int32_t cap);

/* As kiln_get_field_int64(), by handle. */
KILN_IMPORT(get_field_int64_h) int64_t kiln_get_field_int64_h(int32_t h);

/* As kiln_get_field_float64(), by handle. */
KILN_IMPORT(get_field_float64_h) double kiln_get_field_float64_h(int32_t h);

/* As kiln_has_field(), by handle. */
KILN_IMPORT(has_field_h) int32_t kiln_has_field_h(int32_t h);

/* Binds a string field to a buffer for the rest of the query: before every call Kiln writes
 * the field's value (as kiln_get_field_string_h() would: at most cap bytes) into buf and its
 * full length into *len (-1 when missing), and does so at once for the current call. The
 * per-document read then costs no host call. Returns 0; a handle field_handle did not
 * return, or a buffer outside memory, traps. At most 8 bound fields; binding the same len
 * again replaces that binding. Bind from the first call of a query (memory is restored
 * between queries, bindings end with the query). */
KILN_IMPORT(bind_field_string) int32_t kiln_bind_field_string(int32_t h, char *buf, int32_t cap,
                                                               int32_t *len);

/* ---- Freestanding string helpers ------------------------------------------------------- */

/* Length of a NUL-terminated string (constant-folded for literals). */
static inline int32_t kiln_strlen(const char *s) {
  int32_t n = 0;
  while (s[n])
    n++;
  return n;
}

/* 1 if the n bytes at a and b are equal, else 0. */
static inline int kiln_memeq(const void *a, const void *b, int32_t n) {
  const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
  for (int32_t i = 0; i < n; i++)
    if (x[i] != y[i])
      return 0;
  return 1;
}

/* Byte-wise comparison of NUL-terminated strings: <0, 0, >0 like strcmp(). */
static inline int kiln_strcmp(const char *a, const char *b) {
  while (*a && *a == *b)
    a++, b++;
  return (int)(unsigned char)*a - (int)(unsigned char)*b;
}

/* 1 if the (pointer, length) string a equals the NUL-terminated string b, else 0. */
static inline int kiln_str_eq(const char *a, int32_t a_len, const char *b) {
  int32_t i = 0;
  for (; i < a_len; i++)
    if (b[i] != a[i] || !b[i])
      return 0;
  return b[i] == 0;
}

/* Number of Unicode code points in n bytes of UTF-8 (each invalid byte counts as one). */
static inline int32_t kiln_utf8_count(const char *s, int32_t n) {
  int32_t c = 0;
  for (int32_t i = 0; i < n; i++)
    c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

/* ---- Field helpers (C-string paths) ----------------------------------------------------
 * `path` is a NUL-terminated path ("price", "user.address.city", "tags[2]"). */

/* Reads a field as a string into buf (capacity cap >= 1) and NUL-terminates it.
 * Returns the value's full length in bytes, or -1 if missing (buf is then ""). If the
 * result is >= cap the value was truncated to cap - 1 bytes: see KILN_TRUNCATED(). */
static inline int32_t kiln_field_str(const char *path, char *buf, int32_t cap) {
  if (cap <= 0)
    return kiln_get_field_string(path, kiln_strlen(path), buf, 0);
  int32_t n = kiln_get_field_string(path, kiln_strlen(path), buf, cap - 1);
  buf[n < 0 ? 0 : (n < cap - 1 ? n : cap - 1)] = 0;
  return n;
}

/* 1 if a length returned by kiln_field_str()/kiln_param_str() means the copy was truncated. */
#define KILN_TRUNCATED(len, cap) ((len) >= (cap))

/* The field as an integer, or `dflt` if the field is missing. */
static inline int64_t kiln_field_i64(const char *path, int64_t dflt) {
  int32_t n = kiln_strlen(path);
  return kiln_has_field(path, n) ? kiln_get_field_int64(path, n) : dflt;
}

/* The field as a double, or `dflt` if the field is missing or not a number. */
static inline double kiln_field_f64(const char *path, double dflt) {
  double v = kiln_get_field_float64(path, kiln_strlen(path));
  return v == v ? v : dflt;
}

/* The field as a boolean (1/0), 0 if missing. */
static inline int32_t kiln_field_bool(const char *path) {
  return kiln_get_field_bool(path, kiln_strlen(path));
}

/* 1 if the field exists and is not null. */
static inline int32_t kiln_field_exists(const char *path) {
  return kiln_has_field(path, kiln_strlen(path));
}

/* Number of values of the field (array length), 0 if missing. */
static inline int32_t kiln_field_count(const char *path) {
  return kiln_get_field_count(path, kiln_strlen(path));
}

/* Resolves a field handle for the fast path (see kiln_field_handle()); -1 if unresolved. */
static inline int32_t kiln_handle(const char *path) {
  return kiln_field_handle(path, kiln_strlen(path));
}

/* Reads by a handle that may be -1 (unresolved: the field is missing), never trapping on it. */
static inline double kiln_f64_hv(int32_t h) { return h >= 0 ? kiln_get_field_float64_h(h) : __builtin_nan(""); }
static inline int64_t kiln_i64_hv(int32_t h) { return h >= 0 ? kiln_get_field_int64_h(h) : 0; }
static inline int32_t kiln_has_hv(int32_t h) { return h >= 0 ? kiln_has_field_h(h) : 0; }
static inline int32_t kiln_str_hv(int32_t h, char *out, int32_t cap) {
  return h >= 0 ? kiln_get_field_string_h(h, out, cap) : -1;
}

/* Resolves `path` once per query and caches the handle in a static variable; evaluates to
 * the handle, or -1 while the field cannot be resolved (tried again on the next call):
 *   double r = kiln_f64_hv(KILN_CACHED_HANDLE("rating"));   // NaN when missing
 * Correct because the host restores module memory and globals between queries (the cache
 * starts at -1 again); within a query, later calls skip the lookup. */
#define KILN_CACHED_HANDLE(path)                                                                \
  __extension__({                                                                               \
    static int32_t kiln__h_ = -1;                                                               \
    if (kiln__h_ < 0)                                                                           \
      kiln__h_ = kiln_handle(path);                                                             \
    kiln__h_;                                                                                   \
  })

/* ---- Parameter helpers ------------------------------------------------------------------ */

/* Reads a string parameter into buf and NUL-terminates it; same contract as kiln_field_str(). */
static inline int32_t kiln_param_str(const char *name, char *buf, int32_t cap) {
  if (cap <= 0)
    return kiln_get_param_string(name, kiln_strlen(name), buf, 0);
  int32_t n = kiln_get_param_string(name, kiln_strlen(name), buf, cap - 1);
  buf[n < 0 ? 0 : (n < cap - 1 ? n : cap - 1)] = 0;
  return n;
}

/* A parameter as an integer, or `dflt` if absent. */
static inline int64_t kiln_param_i64(const char *name, int64_t dflt) {
  int32_t n = kiln_strlen(name);
  return kiln_has_param(name, n) ? kiln_get_param_int64(name, n) : dflt;
}

/* A parameter as a double, or `dflt` if absent or not a number. */
static inline double kiln_param_f64(const char *name, double dflt) {
  double v = kiln_get_param_float64(name, kiln_strlen(name));
  return v == v ? v : dflt;
}

/* A parameter as a boolean (1/0), or `dflt` if absent. */
static inline int32_t kiln_param_bool(const char *name, int32_t dflt) {
  int32_t n = kiln_strlen(name);
  return kiln_has_param(name, n) ? kiln_get_param_bool(name, n) : dflt;
}

/* 1 if the parameter is present. */
static inline int32_t kiln_param_exists(const char *name) {
  return kiln_has_param(name, kiln_strlen(name));
}

/* ---- Logging helpers -------------------------------------------------------------------- */

/* Longest message the logging helpers pass to kiln_log(); longer ones are truncated. */
#define KILN_LOG_MAX 1024

/* Logs a NUL-terminated message (truncated to KILN_LOG_MAX bytes). */
static inline void kiln_log_str(int32_t level, const char *msg) {
  int32_t n = 0;
  while (n < KILN_LOG_MAX && msg[n])
    n++;
  kiln_log(level, msg, n);
}
static inline void kiln_debug(const char *msg) { kiln_log_str(KILN_LOG_DEBUG, msg); }
static inline void kiln_info(const char *msg) { kiln_log_str(KILN_LOG_INFO, msg); }
static inline void kiln_warn(const char *msg) { kiln_log_str(KILN_LOG_WARN, msg); }
static inline void kiln_error(const char *msg) { kiln_log_str(KILN_LOG_ERROR, msg); }

/* Formats v in decimal into buf (at least 21 bytes), NUL-terminated; returns the length. */
static inline int32_t kiln_fmt_i64(char *buf, int64_t v) {
  char tmp[20];
  int32_t n = 0, k = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do
    tmp[n++] = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0)
    buf[k++] = '-';
  while (n)
    buf[k++] = tmp[--n];
  buf[k] = 0;
  return k;
}

/* Logs `msg` followed by a space and the decimal value v, e.g. "distance 3". */
static inline void kiln_log_i64(int32_t level, const char *msg, int64_t v) {
  char line[160];
  int32_t n = 0;
  while (msg[n] && n < 130) {
    line[n] = msg[n];
    n++;
  }
  line[n++] = ' ';
  n += kiln_fmt_i64(line + n, v);
  kiln_log(level, line, n);
}

/* ---- Math helpers (no libm) ------------------------------------------------------------- */

/* sqrt, abs, min/max: single wasm instructions. */
static inline double kiln_sqrt(double x) { return __builtin_sqrt(x); }
static inline double kiln_fabs(double x) { return __builtin_fabs(x); }
static inline double kiln_fmin(double a, double b) { return __builtin_fmin(a, b); }
static inline double kiln_fmax(double a, double b) { return __builtin_fmax(a, b); }
static inline double kiln_floor(double x) { return __builtin_floor(x); }
static inline int kiln_isnan(double x) { return x != x; }
static inline int kiln_isfinite(double x) { return x == x && __builtin_fabs(x) <= 1.7976931348623157e308; }

/* Natural logarithm of x > 0 (NaN for x < 0 or NaN, -inf for 0, +inf for +inf). Relative error
 * around 1e-15: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then log(m) = 2 atanh(s) with
 * s = (m - 1) / (m + 1) as an odd series in s (|s| < 0.172). */
static inline double kiln_log_e(double x) {
  if (x != x || x < 0)
    return __builtin_nan("");
  if (x == 0)
    return -__builtin_inf();
  if (x > 1.7976931348623157e308)
    return x;
  union {
    double d;
    uint64_t u;
  } v = {x};
  int e = (int)((v.u >> 52) & 0x7ff);
  if (e == 0) { /* subnormal: scale up by 2^54 */
    v.d = x * 18014398509481984.0;
    e = (int)((v.u >> 52) & 0x7ff) - 54;
  }
  e -= 1023;
  v.u = (v.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL; /* m in [1, 2) */
  double m = v.d;
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e++;
  }
  double s = (m - 1) / (m + 1), s2 = s * s;
  /* 2 (s + s^3/3 + s^5/5 + ... + s^21/21): the truncation error is below 2e-17 for |s| < 0.172 */
  double p = 1.0 / 21;
  p = p * s2 + 1.0 / 19;
  p = p * s2 + 1.0 / 17;
  p = p * s2 + 1.0 / 15;
  p = p * s2 + 1.0 / 13;
  p = p * s2 + 1.0 / 11;
  p = p * s2 + 1.0 / 9;
  p = p * s2 + 1.0 / 7;
  p = p * s2 + 1.0 / 5;
  p = p * s2 + 1.0 / 3;
  p = p * s2 + 1.0;
  return 2 * s * p + e * 0.6931471805599453;
}

/* log(1 + x), accurate for small x too (x >= -1). */
static inline double kiln_log1p(double x) {
  if (x != x || x < -1)
    return __builtin_nan("");
  double u = 1 + x;
  if (u == 1)
    return x; /* |x| below half an ulp of 1 */
  /* log(u) * x / (u - 1) cancels the rounding error of 1 + x (Goldberg's trick). */
  return kiln_log_e(u) * (x / (u - 1));
}

/* ---- Compiler support --------------------------------------------------------------------
 * With -nostdlib, clang may still emit calls to memset/memcpy/memmove/memcmp/strlen (struct
 * copies, zeroed arrays). These weak definitions satisfy them inside the module instead of
 * turning into imports the server would reject. Define KILN_NO_LIBC_SHIMS to supply your own. */
#ifndef KILN_NO_LIBC_SHIMS
void *memset(void *d, int c, size_t n);
void *memcpy(void *__restrict d, const void *__restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
__attribute__((weak)) void *memset(void *d, int c, size_t n) {
  volatile unsigned char *p = (volatile unsigned char *)d; /* volatile: not turned into memset */
  while (n--)
    *p++ = (unsigned char)c;
  return d;
}
__attribute__((weak)) void *memcpy(void *__restrict d, const void *__restrict s, size_t n) {
  volatile unsigned char *p = (volatile unsigned char *)d;
  const unsigned char *q = (const unsigned char *)s;
  while (n--)
    *p++ = *q++;
  return d;
}
__attribute__((weak)) void *memmove(void *d, const void *s, size_t n) {
  volatile unsigned char *p = (volatile unsigned char *)d;
  const unsigned char *q = (const unsigned char *)s;
  if (p < q)
    while (n--)
      *p++ = *q++;
  else
    while (n--)
      p[n] = q[n];
  return d;
}
__attribute__((weak)) int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
  for (; n; n--, x++, y++)
    if (*x != *y)
      return (int)*x - (int)*y;
  return 0;
}
__attribute__((weak)) size_t strlen(const char *s) {
  const volatile char *p = s;
  while (*p)
    p++;
  return (size_t)(p - s);
}
#endif

#ifdef __cplusplus
}
#endif
#endif /* KILN_UDF_H */
