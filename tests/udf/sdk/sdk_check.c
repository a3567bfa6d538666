/* Exercises the helpers of sdk/c/kiln_udf.h: compiled with -std=c99 -Wpedantic -Werror by the
 * build (the header must stay warning-free), then called from tests/udf/node/udf.test.mjs
 * under the JS mock host. Not a UDF. */
#include "kiln_udf.h"

KILN_UDF_ABI();

static char buf[64];

/* kiln_field_str("s", buf, cap): returns the length; logs buf (checks truncation and NUL). */
KILN_EXPORT(t_field_str) int32_t t_field_str(int32_t cap);
int32_t t_field_str(int32_t cap) {
  int32_t n = kiln_field_str("s", buf, cap);
  kiln_info(buf);
  return n;
}

/* kiln_param_str("p", buf, cap), same contract. */
KILN_EXPORT(t_param_str) int32_t t_param_str(int32_t cap);
int32_t t_param_str(int32_t cap) {
  int32_t n = kiln_param_str("p", buf, cap);
  kiln_info(buf);
  return n;
}

/* kiln_log_i64 (and so kiln_fmt_i64). */
KILN_EXPORT(t_log_i64) void t_log_i64(int64_t v);
void t_log_i64(int64_t v) { kiln_log_i64(KILN_LOG_WARN, "value", v); }

KILN_EXPORT(t_log1p) double t_log1p(double x);
double t_log1p(double x) { return kiln_log1p(x); }

KILN_EXPORT(t_log) double t_log(double x);
double t_log(double x) { return kiln_log_e(x); }

/* Defaults of the typed readers: "i"/"f"/"b" fields and params, or the given defaults. */
KILN_EXPORT(t_field_i64) int64_t t_field_i64(int64_t dflt);
int64_t t_field_i64(int64_t dflt) { return kiln_field_i64("i", dflt); }
KILN_EXPORT(t_field_f64) double t_field_f64(double dflt);
double t_field_f64(double dflt) { return kiln_field_f64("f", dflt); }
KILN_EXPORT(t_param_i64) int64_t t_param_i64(int64_t dflt);
int64_t t_param_i64(int64_t dflt) { return kiln_param_i64("i", dflt); }
KILN_EXPORT(t_param_f64) double t_param_f64(double dflt);
double t_param_f64(double dflt) { return kiln_param_f64("f", dflt); }
KILN_EXPORT(t_param_bool) int32_t t_param_bool(int32_t dflt);
int32_t t_param_bool(int32_t dflt) { return kiln_param_bool("b", dflt); }

/* Code points of field "s" (up to 63 bytes). */
KILN_EXPORT(t_utf8_count) int32_t t_utf8_count(void);
int32_t t_utf8_count(void) {
  int32_t n = kiln_field_str("s", buf, (int32_t)sizeof buf);
  return n < 0 ? -1 : kiln_utf8_count(buf, n < 63 ? n : 63);
}

/* String comparisons: field "s" against param "p". */
KILN_EXPORT(t_str_eq) int32_t t_str_eq(void);
int32_t t_str_eq(void) {
  static char p[64];
  int32_t n = kiln_field_str("s", buf, (int32_t)sizeof buf);
  kiln_param_str("p", p, (int32_t)sizeof p);
  return kiln_str_eq(buf, n, p) * 100 + (kiln_strcmp(buf, p) > 0) * 10 + kiln_memeq(buf, p, 2);
}

/* The cached fast path over a field that may be missing: NaN then, never a trap. */
KILN_EXPORT(t_cached) double t_cached(void);
double t_cached(void) { return kiln_f64_hv(KILN_CACHED_HANDLE("f")); }

/* A long log line is truncated to KILN_LOG_MAX bytes. */
KILN_EXPORT(t_long_log) void t_long_log(void);
void t_long_log(void) {
  static char line[1500];
  for (int i = 0; i < 1499; i++)
    line[i] = 'x';
  kiln_warn(line);
}
