/* Index mappings: field types as Elasticsearch defines them, dynamic mapping of new fields, and
 * the checks a document must pass before it is stored.
 *
 * A kiln_mapping is immutable once built; an update (PUT _mapping, a document with new fields)
 * produces a new mapping, so readers holding a reference never see it change. */
#ifndef KILN_MAPPING_H
#define KILN_MAPPING_H

#include "core/error.h"
#include "core/json.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    KILN_FT_OBJECT,
    KILN_FT_TEXT,
    KILN_FT_KEYWORD,
    KILN_FT_LONG,
    KILN_FT_INTEGER,
    KILN_FT_SHORT,
    KILN_FT_BYTE,
    KILN_FT_DOUBLE,
    KILN_FT_FLOAT,
    KILN_FT_BOOLEAN,
    KILN_FT_DATE,
} kiln_field_type;

typedef enum { KILN_DYNAMIC_TRUE, KILN_DYNAMIC_FALSE, KILN_DYNAMIC_STRICT } kiln_dynamic;

typedef struct kiln_field {
    const char *path; /* full dot path: "attributes.color", "name.keyword" for a multi-field */
    kiln_field_type type;
    int is_multi_field;  /* a sub-field under "fields" of its parent */
    json_t *def;         /* the field's mapping JSON (borrowed from the mapping's tree) */
    const char *analyzer;        /* text: index analyzer ("standard" by default) */
    const char *search_analyzer; /* text: query analyzer (defaults to analyzer) */
    int64_t ignore_above;        /* keyword: longer values are not indexed (0: no limit) */
    int index;                   /* "index": false disables searching the field */
    /* ES's reduced-precision numbers, kept as their base type with the value rounded as ES
     * stores it (kiln_field_round): half_float is a float field, scaled_float a double one */
    int half_float;
    double scaling_factor; /* scaled_float: values stored as round(v * factor) / factor */
    int doc_values;
    /* "store": true on a text field keeps its original strings as a column in every segment
     * (fast UDF reads); by default they are read from _source, as Elasticsearch keeps none */
    int store;
    kiln_dynamic dynamic; /* objects: inherited unless set */
} kiln_field;

typedef struct kiln_mapping {
    atomic_int refs;
    json_t *json;        /* {"properties": {...}, "dynamic": ...}: what GET _mapping returns */
    kiln_dynamic dynamic;
    kiln_field *fields;  /* every field, objects included, sorted by path */
    size_t nfields;
} kiln_mapping;

/* Builds a mapping from the "mappings" object of a create-index request (NULL: empty).
 * Returns NULL and fills err on an unknown type or a malformed definition. */
kiln_mapping *kiln_mapping_new(json_t *mappings, kiln_error *err);
kiln_mapping *kiln_mapping_ref(kiln_mapping *m);
void kiln_mapping_unref(kiln_mapping *m);

/* Borrowed field by full path, NULL if unmapped. */
const kiln_field *kiln_mapping_field(const kiln_mapping *m, const char *path);

/* PUT _mapping: a new mapping with the update's fields added. Changing the type of an existing
 * field is an illegal_argument_exception, as in Elasticsearch. */
kiln_mapping *kiln_mapping_merge(const kiln_mapping *m, json_t *update, kiln_error *err);

/* Checks doc against the mapping. When the document has unmapped fields and dynamic mapping
 * allows them, *updated receives a new mapping (caller owns it); otherwise *updated is NULL.
 * Values that cannot be converted to their field's type fail with mapper_parsing_exception. */
int kiln_mapping_check_doc(const kiln_mapping *m, json_t *doc, const char *doc_id,
                           kiln_mapping **updated, kiln_error *err);

/* The write path's fast check of a parsed document (core/json.h): 1 when doc certainly passes
 * kiln_mapping_check_doc with no mapping update, 0 when that function has to decide (the
 * document adds fields, or fails and the error must be described). Allocates nothing. */
int kiln_mapping_doc_conforms(const kiln_mapping *m, const kiln_json *doc);

const char *kiln_field_type_name(kiln_field_type t);
int kiln_field_type_parse(const char *name, kiln_field_type *out);
int kiln_field_type_is_numeric(kiln_field_type t);

/* Dates: strict_date_optional_time (and epoch_millis for numbers) → milliseconds since epoch. */
int kiln_date_parse(const char *s, size_t len, int64_t *millis);

/* The value a float, double, half_float or scaled_float field stores (and queries compare
 * with) for x: float precision, half precision (round to nearest even), or the nearest
 * multiple of 1/scaling_factor (Java's Math.round, as ES). Other types: x. */
double kiln_field_round_reduced(const kiln_field *f, double x); /* half_float, scaled_float */
static inline double kiln_field_round(const kiln_field *f, double x)
{
    /* inline: it runs on every numeric value at indexing and in the mapping check */
    if (f->scaling_factor > 0 || f->half_float) return kiln_field_round_reduced(f, x);
    return f->type == KILN_FT_FLOAT ? (float)x : x;
}

#endif
