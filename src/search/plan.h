/* Private: the compiled plan. Field types are resolved, query text analyzed, values converted,
 * boosts multiplied down to the leaves (as Lucene's BoostQuery does), terms given stat slots. */
#ifndef KILN_PLAN_H
#define KILN_PLAN_H

#include "search/iter.h"
#include "search/search.h"

typedef enum {
    KILN__P_ALL,
    KILN__P_NONE,
    KILN__P_TERM,     /* BM25 term */
    KILN__P_PHRASE,   /* BM25 phrase */
    KILN__P_TERMSET,  /* constant-score union of exact terms */
    KILN__P_PREFIX,   /* constant-score expansion */
    KILN__P_WILDCARD,
    KILN__P_KWRANGE,  /* keyword/text term range, constant score */
    KILN__P_NRANGE,   /* i64 doc values range, inclusive */
    KILN__P_FRANGE,   /* f64 doc values range, inclusive */
    KILN__P_NSET,     /* i64 doc values in a sorted set */
    KILN__P_FSET,
    KILN__P_EXISTS,
    KILN__P_IDS,
    KILN__P_BOOL,
    KILN__P_DISMAX,
    KILN__P_CONST,
    KILN__P_BOOSTING,
    KILN__P_UDF,    /* WebAssembly UDF filter: costly per-doc check, cost class 4, run last */
    KILN__P_SCRIPT, /* score computed by a UDF over must.v[0] (script_score/function_score) */
    KILN__P_FUZZY,  /* terms within an edit distance of terms[0] (fuzzy.c) */
} kiln__pkind;

typedef struct kiln__pnode kiln__pnode;
typedef struct kiln__plist {
    kiln__pnode **v;
    size_t n, cap;
} kiln__plist;

struct kiln__pnode {
    kiln__pkind kind;
    float boost;  /* product of boosts from the root (scoring leaves) */
    int scoring;  /* 0 in filter context */
    char *field;
    uint32_t field_slot;
    /* terms (TERM: 1; PHRASE: n with offsets; TERMSET: n) */
    char **terms;
    size_t *tlens;
    uint32_t *offsets;
    uint32_t *term_slot;
    size_t nterms;
    int slop;
    int case_insensitive;
    /* ranges */
    int64_t lo, hi;
    double flo, fhi;
    char *klo, *khi;
    size_t klo_len, khi_len;
    int klo_inc, khi_inc;
    int64_t *nset;
    double *fset;
    size_t nset_n;
    /* ids */
    char **ids;
    size_t nids;
    /* compounds */
    kiln__plist must, filter, should, must_not;
    int msm;
    float tie;
    float negative_boost;
    /* P_FUZZY: the terms within max_edits of terms[0] (code points; the first prefix_len
     * exact); scored as Lucene's top_terms_blended_freqs rewrite over max_exp terms, or
     * constant (rewrite constant_score). Its candidates are gathered in stats slot fuzzy_slot */
    int max_edits, prefix_len, max_exp, transpositions, fuzzy_const;
    uint32_t fuzzy_slot;
    /* UDF (P_UDF, P_SCRIPT): slot in the plan's UDF list, error policy, score combination */
    size_t udf_slot;
    int udf_exclude;
    int score_mode; /* kiln_score_mode */
    float min_score;
    int has_min_score;
};

typedef struct kiln__termstat {
    char *field;
    const char *term;
    size_t len;
    uint64_t df;
} kiln__termstat;

typedef struct kiln__fieldstat {
    char *field;
    uint64_t doc_count, sum_ttf;
} kiln__fieldstat;

struct kiln_plan {
    kiln__pnode *root;
    const kiln_mapping *m;
    kiln__termstat *terms;
    size_t nterms, terms_cap;
    kiln__fieldstat *fields;
    size_t nfields, fields_cap;
    int needs_scores;
    void **udfs; /* kiln_udf_bound * by slot (borrowed from the query tree) */
    size_t nudfs;
    const kiln__pnode **fuzzy; /* P_FUZZY nodes by slot (borrowed from the tree) */
    size_t nfuzzy;
};

/* A fuzzy node's candidate terms, gathered from every segment of every shard, then chosen
 * (fuzzy.c). */
typedef struct kiln__fuzzcand {
    char *term;
    size_t len;
    int edits;
    float boost; /* 1 - edits / min(code points of the term and of the query term) */
    uint64_t df;
} kiln__fuzzcand;

typedef struct kiln__fuzzset {
    kiln__fuzzcand *v; /* after kiln__fuzzy_finish: the chosen terms only */
    size_t n, cap;
    uint32_t *index; /* open addressing on the term bytes: candidate + 1, 0 empty */
    size_t nindex;
    float idf; /* of the blended (largest) df of the chosen terms */
} kiln__fuzzset;

/* Adds the terms of field f (one segment) within reach of fuzzy node n to fs, summing df. */
void kiln__fuzzy_gather(const kiln__pnode *n, const kiln__sfield *f, kiln__fuzzset *fs);
/* Chooses the node's terms: the max_exp best (boost, then term bytes) when scored, all when
 * constant; one idf from their largest df and the field's doc count (Lucene's blending). */
void kiln__fuzzy_finish(const kiln__pnode *n, kiln__fuzzset *fs, uint64_t doc_count);
void kiln__fuzzset_free(kiln__fuzzset *fs);
/* Edit distance of two UTF-8 strings in code points when it is at most max, else max + 1;
 * with transpositions a swap of adjacent characters counts one (optimal string alignment). */
int kiln__edit_distance(const char *a, size_t alen, const char *b, size_t blen, int max,
                        int transpositions);

struct kiln_search_stats {
    uint64_t *df;
    uint64_t *doc_count, *sum_ttf;
    float *idf;    /* per term slot */
    float *cache;  /* per field slot: 256 floats */
    size_t nterms, nfields;
    kiln__fuzzset *fuzzy; /* per fuzzy slot */
    size_t nfuzzy;
};

/* Builds the iterator of node n over segment s (NULL: matches nothing). */
kiln__it *kiln__plan_iter(const kiln_plan *p, const kiln__pnode *n, const kiln_search_stats *st,
                          const kiln_segment *s, const kiln_search_opts *o);

/* Wildcard match (ES: * and ?), bytes; used for term dictionary expansion. */
int kiln__wildcard_match(const char *pat, size_t plen, const char *s, size_t slen);

#endif
