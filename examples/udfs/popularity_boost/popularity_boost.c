/* popularity_boost 1.0.0: a scoring UDF for script_score.
 *
 *   score = _score * (1 + weight * log1p(rating * log1p(stock)))
 *
 * where rating (e.g. 0..5) and stock (units available) are numeric document fields; a missing,
 * negative or non-numeric value counts as 0, so such documents keep their query score.
 * Parameter: weight f64 (default 1.0), the export's only argument: popularity_boost(f64) -> f64.
 *
 * Reads fields through the fast path: KILN_CACHED_HANDLE resolves "rating" and "stock" once
 * per query, then every document costs two reads by handle. A field the current segment
 * does not have resolves to -1, which kiln_f64_hv() reads as missing (NaN), without trapping. */
#include "kiln_udf.h"

KILN_UDF_ABI();

static double nonneg(double v) { return v > 0 ? v : 0; } /* NaN -> 0 too */

KILN_EXPORT(popularity_boost) double popularity_boost(double weight) {
  double rating = nonneg(kiln_f64_hv(KILN_CACHED_HANDLE("rating")));
  double stock = nonneg(kiln_f64_hv(KILN_CACHED_HANDLE("stock")));
  double boost = 1 + nonneg(weight) * kiln_log1p(rating * kiln_log1p(stock));
  double s = kiln_get_score() * boost;
  return kiln_isfinite(s) ? s : 0;
}
