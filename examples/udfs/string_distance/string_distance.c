/* string_distance 1.0.0: Levenshtein distance between a document field and a target.
 *
 * Parameters (udf.json):
 *   field        string, required  path of the document field to compare ("name", "brand.title")
 *   target       string, required  the string to compare it with
 *   max_distance i32, default 3    a document matches when distance <= max_distance
 *
 * Export: calculate_distance(i32 max_distance) -> i32 (also exported as string_distance):
 * the only numeric parameter, max_distance, is the argument; field and target are read with
 * get_param_string. Returns 1 on a match, 0 otherwise (also when the field is missing). A
 * multi-valued field is compared by its first value (use a path like "names[1]" for another).
 *
 * Distances count Unicode code points (see levenshtein.h). Limits: target up to 1024 bytes
 * (an error is logged and nothing matches beyond that), document values up to 16 KiB: a
 * longer value never matches, with a warning logged unless its length alone rules it out.
 *
 * Parameters are constant during a query and module memory is restored between queries
 * (docs/udf-abi.md, "Instance state"), so the first call of a query reads field and target and
 * compiles the target into bit masks, and binds the field to `value`: Kiln then writes each
 * document's value there before the call, so a call makes no host call at all. */
#include "kiln_udf.h"
#include "levenshtein.h"

KILN_UDF_ABI();

#define FIELD_CAP 16384
#define TARGET_CAP 1024
#define PATH_CAP 512

static unsigned char value[FIELD_CAP];
static char path[PATH_CAP];
static int32_t path_len;
static int32_t field; /* the field's handle: resolved once per query (the fast path) */
static int32_t value_len; /* the bound field's length, written by Kiln before each call */
static int32_t bound;     /* 1 when field is bound to value/value_len */
static unsigned char target[TARGET_CAP];
static lev_pattern pattern;
static int32_t loaded; /* 1 once this query's parameters are read: back to 0 at the next query */

/* Reads and compiles the parameters; 0 (and an error logged) if they are unusable. */
static int load_params(void) {
  int32_t tn = kiln_get_param_string("target", 6, (char *)target, TARGET_CAP);
  if (tn < 0 || tn > TARGET_CAP) {
    kiln_error(tn < 0 ? "string_distance: parameter target is missing"
                      : "string_distance: target is longer than 1024 bytes");
    return 0;
  }
  if (lev_compile(&pattern, target, tn) < 0)
    return 0; /* unreachable: 1024 bytes hold at most 1024 code points */
  path_len = kiln_get_param_string("field", 5, path, PATH_CAP);
  if (path_len < 0 || path_len > PATH_CAP) {
    kiln_error(path_len < 0 ? "string_distance: parameter field is missing"
                            : "string_distance: field path is longer than 512 bytes");
    return 0;
  }
  field = kiln_field_handle(path, path_len); /* -1: a malformed path, read as missing */
  bound = field >= 0 && kiln_bind_field_string(field, (char *)value, FIELD_CAP, &value_len) == 0;
  loaded = 1;
  return 1;
}

static int32_t match(int32_t max_distance) {
  if (max_distance < 0)
    return 0;
  if (!loaded && !load_params())
    return 0;
  int32_t n = bound ? value_len : kiln_str_hv(field, (char *)value, FIELD_CAP);
  if (n < 0)
    return 0; /* missing field: no match */
  if (n > FIELD_CAP) {
    /* At least n/4 code points: decide by length when possible. */
    if ((n + 3) / 4 - pattern.m > max_distance)
      return 0;
    kiln_warn("string_distance: field value longer than 16 KiB, treated as not matching");
    return 0;
  }
  return lev_distance(&pattern, value, n, max_distance) <= max_distance;
}

KILN_EXPORT(calculate_distance) int32_t calculate_distance(int32_t max_distance) {
  return match(max_distance);
}

KILN_EXPORT(string_distance) int32_t string_distance(int32_t max_distance) {
  return match(max_distance);
}
