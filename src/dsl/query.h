/* The query DSL: Elasticsearch query JSON → a typed query tree. The tree is mapping-free (as ES
 * query builders are): values keep their JSON form and are interpreted per field type when the
 * search module compiles the tree into a plan (src/search/search.h).
 *
 * Errors are Elasticsearch's: `parsing_exception` "unknown query [foo]", "[term] query doesn't
 * support multiple fields, found [a] and [b]", wrapped as "[bool] failed to parse field [must]"
 * with the JSON path of the failing element. */
#ifndef KILN_DSL_QUERY_H
#define KILN_DSL_QUERY_H

#include "core/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    KILN_Q_MATCH_ALL,
    KILN_Q_MATCH_NONE,
    KILN_Q_MATCH,
    KILN_Q_MATCH_PHRASE,
    KILN_Q_MULTI_MATCH,
    KILN_Q_TERM,
    KILN_Q_TERMS,
    KILN_Q_RANGE,
    KILN_Q_EXISTS,
    KILN_Q_PREFIX,
    KILN_Q_WILDCARD,
    KILN_Q_IDS,
    KILN_Q_BOOL,
    KILN_Q_CONSTANT_SCORE,
    KILN_Q_DIS_MAX,
    KILN_Q_BOOSTING,
    /* A WebAssembly UDF as a costly, non-scoring per-document filter (wasm_udf, or a script
     * query with lang "wasm"). The planner runs it last, on candidates that survived every
     * cheaper clause (see search/plan.c). */
    KILN_Q_WASM_UDF,
    /* script_score / function_score whose script is a UDF: the UDF computes the score. */
    KILN_Q_SCRIPT_SCORE,
    /* match_bool_prefix: the analyzed terms as a bool, the last one as a prefix (u.match) */
    KILN_Q_MATCH_BOOL_PREFIX,
    /* fuzzy: the dictionary terms within an edit distance of a value (u.fuzzy) */
    KILN_Q_FUZZY,
} kiln_query_kind;

typedef enum { KILN_SCORE_REPLACE, KILN_SCORE_MULTIPLY, KILN_SCORE_SUM } kiln_score_mode;

/* A UDF reference bound by the search module before planning (kiln_udf_query_bind). */
typedef struct kiln_query_udf {
    char *name;
    char *version;  /* NULL: the latest */
    json_t *params; /* NULL: none */
    int on_error_exclude;
    void *bound;    /* set by the binder; freed with bound_free */
    void (*bound_free)(void *);
} kiln_query_udf;

typedef enum { KILN_OP_OR, KILN_OP_AND } kiln_operator;
typedef enum { KILN_MM_BEST_FIELDS, KILN_MM_MOST_FIELDS, KILN_MM_PHRASE,
               KILN_MM_BOOL_PREFIX } kiln_mm_type;

/* minimum_should_match: "2", "-1", "75%", "-25%", or combinations "3<90%" (first form only). */
typedef struct kiln_msm {
    int set;
    int value;   /* absolute count, or percentage when percent */
    int percent;
} kiln_msm;
/* Resolves msm against the number of optional clauses. */
int kiln_msm_resolve(const kiln_msm *m, int nclauses);

/* fuzziness and its companions (fuzzy query; match, multi_match, match_bool_prefix). */
typedef struct kiln_fuzziness {
    int set;            /* fuzziness given (and not 0) */
    int edits;          /* 0..2, or -1 for AUTO */
    int auto_lo, auto_hi; /* AUTO:lo,hi (3, 6): < lo chars 0 edits, < hi 1, else 2 */
    int prefix_length;  /* leading code points that must match exactly (0) */
    int max_expansions; /* terms kept by the scoring rewrite (50) */
    int transpositions; /* a swap of adjacent characters is one edit (1) */
} kiln_fuzziness;
/* The edits allowed for a term of n code points. */
int kiln_fuzziness_edits(const kiln_fuzziness *f, size_t n);

typedef struct kiln_query kiln_query;

typedef struct kiln_query_list {
    kiln_query **v;
    size_t n;
} kiln_query_list;

struct kiln_query {
    kiln_query_kind kind;
    float boost; /* 1 unless given */
    char *name;  /* "_name" */
    char *field; /* single-field queries */
    union {
        struct {
            char *text;
            kiln_operator op;
            kiln_msm msm;
            char *analyzer;
            int slop;         /* match_phrase */
            int zero_terms_all; /* zero_terms_query: "all" */
            kiln_fuzziness fuzzy;
        } match;
        struct {
            char *text;
            char **fields;   /* without boost suffix */
            float *boosts;   /* field^2 */
            size_t nfields;
            kiln_mm_type type;
            kiln_operator op;
            kiln_msm msm;
            float tie_breaker;
            int slop;
            char *analyzer;
            kiln_fuzziness fuzzy;
        } multi;
        struct {
            json_t *value; /* term: owned reference */
            int case_insensitive;
        } term;
        struct {
            json_t *values; /* terms: array, owned reference */
        } terms;
        struct {
            json_t *gt, *gte, *lt, *lte; /* owned references or NULL */
            char *format;
            char *time_zone;
        } range;
        struct {
            char *value; /* prefix / wildcard pattern */
            int case_insensitive;
        } pattern;
        struct {
            char *value; /* not analyzed */
            kiln_fuzziness fz;
            int constant; /* rewrite constant_score*: every term within reach, score = boost */
        } fuzzy;
        struct {
            char **ids;
            size_t n;
        } ids;
        struct {
            kiln_query_list must, filter, should, must_not;
            kiln_msm msm;
        } boolq;
        struct {
            kiln_query *filter;
        } constant;
        struct {
            kiln_query_list queries;
            float tie_breaker;
        } dismax;
        struct {
            kiln_query *positive, *negative;
            float negative_boost;
        } boosting;
        kiln_query_udf udf;
        struct {
            kiln_query *query;
            kiln_query_udf udf;
            kiln_score_mode mode;
            float min_score;
            int has_min_score;
        } script_score;
    } u;
};

/* Parse-error details beyond kiln_error: ES nests the root cause ("unknown query [foo]") under
 * an x_content_parse_exception naming the enclosing element ("[bool] failed to parse field
 * [must]"). path is the JSON path of the failing element, e.g. "query.bool.must[1].foo". */
typedef struct kiln_dsl_error {
    kiln_error err;         /* root cause (type parsing_exception via KILN_E_PARSING) */
    char path[512];
    char wrapper[512];      /* "[bool] failed to parse field [must]" or "" */
} kiln_dsl_error;

/* Parses a query object (the value of "query"). path_prefix names it in errors ("query").
 * Returns the tree (caller frees) or NULL with derr filled. */
kiln_query *kiln_dsl_parse(json_t *q, const char *path_prefix, kiln_dsl_error *derr);
void kiln_query_free(kiln_query *q);
/* Calls fn on q and every query below it, depth first; stops at the first non-zero return. */
int kiln_query_walk(kiln_query *q, int (*fn)(kiln_query *q, void *ctx), void *ctx);
const char *kiln_query_kind_name(kiln_query_kind k);

/* Date math as ES range queries use it: "now-1d/d", "2024-01-01||+1M/M", epoch millis, and
 * formats ("yyyy-MM-dd", "epoch_second", alternatives with "||"). round_up rounds "/d" to the
 * last millisecond of the unit (gt and lte do, as in ES). */
int kiln_datemath_parse(const char *s, const char *format, int64_t now_ms, int round_up,
                        int64_t *out, kiln_error *err);

#endif
