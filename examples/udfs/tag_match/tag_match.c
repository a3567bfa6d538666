/* tag_match 1.0.0: a filter on an array field of tags.
 *
 * Parameters:
 *   tags         string, required   wanted tags, comma-separated: "wireless,bluetooth"
 *   field        string, default "tags"   path of the document's array of tags
 *   min_matches  i32, default 1     how many of the wanted tags the document must carry
 * Export: tag_match(i32 min_matches) -> i32, 1 when at least min_matches of the wanted tags
 * occur among the field's values (each distinct wanted tag counts once).
 *
 * Tags compare byte for byte after trimming spaces around the wanted ones; ASCII letters
 * compare case-insensitively. Reads each element with the path "<field>[i]" for
 * i < get_field_count(field). At most 32 wanted tags of up to 128 bytes each. The parameters
 * are parsed on the first call of a query and kept (module memory is reset between queries). */
#include "kiln_udf.h"

KILN_UDF_ABI();

#define MAX_WANTED 32
#define TAG_CAP 128

static char wanted_buf[MAX_WANTED * (TAG_CAP + 1)];
static char field[256 + 16];
static char value[TAG_CAP];

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

static int same(const char *a, int32_t an, const char *b, int32_t bn) {
  if (an != bn)
    return 0;
  for (int32_t i = 0; i < an; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
      return 0;
  return 1;
}

static int32_t start[MAX_WANTED], len[MAX_WANTED], nw, fl;
static int32_t loaded; /* 1 once this query's parameters are parsed (memory resets per query) */

/* Parses the parameters once per query; 0 if unusable (an error is logged). */
static int load_params(void) {
  /* Split the wanted list into (start, len) pairs. */
  int32_t n = kiln_param_str("tags", wanted_buf, (int32_t)sizeof wanted_buf);
  if (n < 0 || KILN_TRUNCATED(n, (int32_t)sizeof wanted_buf)) {
    kiln_error(n < 0 ? "tag_match: parameter tags is missing" : "tag_match: tags list too long");
    return 0;
  }
  for (int32_t i = 0; i <= n;) {
    int32_t j = i;
    while (j < n && wanted_buf[j] != ',')
      j++;
    int32_t s = i, e = j;
    while (s < e && wanted_buf[s] == ' ')
      s++;
    while (e > s && wanted_buf[e - 1] == ' ')
      e--;
    int dup = 0; /* a tag listed twice is wanted once */
    for (int32_t w = 0; w < nw && !dup; w++)
      dup = same(wanted_buf + start[w], len[w], wanted_buf + s, e - s);
    if (e > s && !dup && nw < MAX_WANTED) {
      start[nw] = s;
      len[nw++] = e - s;
    }
    i = j + 1;
  }
  /* "<field>[" prefix; the index and "]" are appended per element. */
  fl = kiln_param_str("field", field, 256);
  if (fl < 0) {
    const char *d = "tags";
    for (fl = 0; d[fl]; fl++)
      field[fl] = d[fl];
  } else if (KILN_TRUNCATED(fl, 256)) {
    kiln_error("tag_match: field path too long");
    return 0;
  }
  loaded = 1;
  return 1;
}

KILN_EXPORT(tag_match) int32_t tag_match(int32_t min_matches) {
  if (min_matches <= 0)
    return 1;
  if (!loaded && !load_params())
    return 0;
  if (nw == 0)
    return 0;
  int32_t count = kiln_get_field_count(field, fl);
  uint32_t found = 0; /* bit i: wanted tag i seen */
  int32_t matches = 0;
  field[fl] = '[';
  for (int32_t i = 0; i < count && matches < min_matches; i++) {
    int32_t pl = fl + 1 + kiln_fmt_i64(field + fl + 1, i);
    field[pl++] = ']';
    int32_t vl = kiln_get_field_string(field, pl, value, TAG_CAP);
    if (vl < 0 || vl > TAG_CAP)
      continue; /* missing or longer than any wanted tag */
    for (int32_t w = 0; w < nw; w++)
      if (!(found & (1u << w)) && same(value, vl, wanted_buf + start[w], len[w])) {
        found |= 1u << w;
        matches++;
      }
  }
  field[fl] = 0;
  return matches >= min_matches;
}
