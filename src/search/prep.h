/* Private to src/search: a document prepared for the write buffer (prep.c) and applied to it
 * under the shard's write lock (writer.c). Preparing does everything that needs no shared state
 * (walking the document, converting values, running analyzers, hashing tokens), so concurrent
 * writers of one shard do it in parallel; applying only finds term ids and appends. */
#ifndef KILN_SEARCH_PREP_H
#define KILN_SEARCH_PREP_H

#include "search/searchInt.h"

enum { KILN__PREP_FAILED = 1, KILN__PREP_REJECTED = 2 };

/* One (mapping field, value) of the document, in document order. */
typedef struct kiln__pitem {
    uint32_t mfield;  /* index into the mapping's fields */
    uint8_t kind;     /* kiln_dv_kind of the field */
    uint32_t tok0, ntok; /* KILN_DV_STR: its tokens in prep->toks */
    uint32_t pos;     /* KILN_DV_ORD: the value's position */
    uint64_t hash;    /* KILN_DV_ORD: XXH3 of the string */
    union {
        int64_t i64;
        double f64;
        struct {
            uint32_t off, len; /* STR, ORD: the string in prep->text */
        } s;
    } v;
} kiln__pitem;

typedef struct kiln__ptok {
    uint64_t hash; /* XXH3 of the text; the field id is mixed in when applied */
    uint32_t off, len, pos;
} kiln__ptok;

struct kiln_sindex_prep {
    /* per mapping (rebuilt when the mapping changes): kind and multi-fields of each field */
    kiln_mapping *m; /* a reference */
    uint8_t *kind;   /* kiln_dv_kind, KILN_DV_NONE for objects */
    uint8_t *indexed;
    uint32_t *multi, *multi_at;
    /* per document */
    uint32_t *next_pos, *stamp; /* per mapping field; stamp != doc: next_pos is 0 */
    uint32_t doc;
    kiln__pitem *items;
    uint32_t nitems, items_cap;
    kiln__ptok *toks;
    uint32_t ntoks, toks_cap;
    kiln__bytes text;
    char path[1024];
    int failed; /* err holds why: KILN__PREP_FAILED (the items before the failure are still
                   applied, as the walk did before), KILN__PREP_REJECTED (nothing to apply) */
    kiln_error err;
    /* analysis callback state */
    uint32_t pos_base;
    /* the value being analyzed and its copy in text: a token that is a slice of the value (no
       filter rewrote it) points into the copy instead of being copied again */
    const char *src;
    size_t src_len;
    uint32_t src_off;
    /* the last string value copied into text: a multi-field of the same value reuses it */
    const char *last_s;
    size_t last_len;
    uint32_t last_off;
    /* per mapping: each field's analyzer (NULL until first needed), for the registry whose
       kiln_analysis_registry_serial is an_serial */
    const kiln_analyzer **an;
    uint64_t an_serial;
    /* per mapping: the field of the k-th leaf of the last documents (they share a shape), so a
       leaf's field is one strcmp, not a binary search; UINT32_MAX: none yet */
    uint32_t *guess;
    uint32_t nguess, leaf;
};

/* The multi-fields of each mapping field i ("name" -> "name.keyword"): fields
 * multi[multi_at[2i] .. multi_at[2i+1]). multi has m->nfields entries, multi_at 2 * nfields. */
void kiln__multi_fields(const kiln_mapping *m, uint32_t *multi, uint32_t *multi_at);

/* Whether s has more than limit UTF-8 characters (ignore_above); counts 8 bytes at a time and
 * stops as soon as it knows. */
int kiln__utf8_longer(const char *s, size_t len, size_t limit);

/* The i-th value of text field mf in its document's parsed _source, as preparing counted it
 * (kiln_dv_count of a KILN_DV_COUNT column): the leaves at the field's source path (a
 * multi-field's is its parent's) in document order, arrays flattened, numbers and booleans
 * as text (written to tmp). NULL when there is no such value. */
const char *kiln__source_text(const kiln_json *doc, const kiln_field *mf, uint32_t i, char *tmp,
                              size_t tmpsz, size_t *len);

/* The write buffer's term hash: the token's XXH3 mixed with the field id. */
static inline uint32_t kiln__hash_mix(uint64_t h, uint32_t field)
{
    return (uint32_t)h ^ (field * 0x9E3779B1u);
}

#endif
