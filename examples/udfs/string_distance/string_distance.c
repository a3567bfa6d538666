/* string_distance 1.0.0: Levenshtein distance between a document field and a target.
 *
 * Parameters (udf.json):
 *   field        string, required  path of the document field to compare ("name", "brand.title")
 *   target       string, required  the string to compare it with
 *   max_distance i32, default 3    a document matches when distance <= max_distance
 *
 * Export: calculate_distance(i32 max_distance) -> i32 (also exported as string_distance):
 * the only numeric parameter, max_distance, is the argument; field and target are read with
 * get_param_string. Returns 1 on a match, 0 otherwise (also when the field is missing).
 *
 * Distances count Unicode code points (see levenshtein.h). Limits: target up to 1024 bytes
 * (an error is logged and nothing matches beyond that), document values up to 16 KiB; a
 * longer value matches only when its length alone proves it cannot (it never does), and a
 * warning is logged when the answer could not be decided.
 *
 * The target is compiled into bit masks once and reused while it does not change, so a
 * query pays for it once, not per document. */
#include "kiln_udf.h"
#include "levenshtein.h"

KILN_UDF_ABI();

#define FIELD_CAP 16384
#define TARGET_CAP 1024
#define PATH_CAP 512

static unsigned char value[FIELD_CAP];
static char path[PATH_CAP];
static unsigned char target[TARGET_CAP];
static unsigned char compiled_target[TARGET_CAP];
static int32_t compiled_len = -1; /* -1: nothing compiled yet */
static lev_pattern pattern;

static int32_t match(int32_t max_distance) {
  if (max_distance < 0)
    return 0;
  int32_t tn = kiln_get_param_string("target", 6, (char *)target, TARGET_CAP);
  if (tn < 0 || tn > TARGET_CAP) {
    kiln_error(tn < 0 ? "string_distance: parameter target is missing"
                      : "string_distance: target is longer than 1024 bytes");
    return 0;
  }
  if (tn != compiled_len || !kiln_memeq(target, compiled_target, tn)) {
    if (lev_compile(&pattern, target, tn) < 0)
      return 0; /* unreachable: 1024 bytes hold at most 1024 code points */
    for (int32_t i = 0; i < tn; i++)
      compiled_target[i] = target[i];
    compiled_len = tn;
  }
  int32_t pn = kiln_get_param_string("field", 5, path, PATH_CAP);
  if (pn < 0 || pn > PATH_CAP) {
    kiln_error(pn < 0 ? "string_distance: parameter field is missing"
                      : "string_distance: field path is longer than 512 bytes");
    return 0;
  }
  int32_t n = kiln_get_field_string(path, pn, (char *)value, FIELD_CAP);
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
