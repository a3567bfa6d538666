/* The document a UDF reads, seen through a small table of callbacks so the same host functions
 * serve a dry run on a JSON document and a query over columnar doc values. */
#ifndef KILN_UDF_DOC_H
#define KILN_UDF_DOC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One value of a field, borrowed until the next call on the same document. */
typedef enum { KILN_UDF_V_MISSING, KILN_UDF_V_STRING, KILN_UDF_V_INT, KILN_UDF_V_FLOAT,
               KILN_UDF_V_BOOL } kiln_udf_vkind;

typedef struct kiln_udf_value {
    kiln_udf_vkind kind;
    const char *str; /* KILN_UDF_V_STRING: not NUL-terminated */
    size_t len;
    int64_t i;
    double f;
} kiln_udf_value;

typedef struct kiln_udf_doc kiln_udf_doc;

typedef struct kiln_udf_doc_ops {
    /* Resolves a path ("a.b", "tags[2]") to an opaque handle, once per query; -1 if malformed. */
    int (*resolve)(const kiln_udf_doc *doc, const char *path, size_t len, void **handle);
    /* The value at handle (the path's index, or its first value). */
    void (*value)(const kiln_udf_doc *doc, void *handle, kiln_udf_value *out);
    /* Number of values at handle: 0 missing, 1 scalar, n for an array. */
    int (*count)(const kiln_udf_doc *doc, void *handle);
    void (*release)(void *handle);
    /* The document's _id when it is not in doc->id (looked up lazily); NULL op: use doc->id. */
    const char *(*doc_id)(const kiln_udf_doc *doc, size_t *len);
    /* Optional fast path of value() for string fields, the read a text-matching UDF does per
     * document: the string (borrowed) or NULL when the value is missing or not a string. */
    const char *(*str)(const kiln_udf_doc *doc, void *handle, size_t *len);
    /* Optional: 1 when strings read at handle (str or value) stay valid only until the next
     * read on this thread (decoded into a per-thread buffer); bound-field staging, which
     * reads a batch ahead, copies those. NULL: strings live as long as the document. */
    int (*str_transient)(const kiln_udf_doc *doc, void *handle);
} kiln_udf_doc_ops;

struct kiln_udf_doc {
    const kiln_udf_doc_ops *ops;
    const void *scope; /* resolved handles stay valid while ops and scope stay the same */
    const char *id;
    size_t idlen;
    void *impl;
    /* In a batch (kiln_udf_call_batch), the index of the document being called: the engine
     * stores it before each call and implementations serving batches map it to their row. */
    size_t at;
};

/* The document's _id (borrowed). */
static inline const char *kiln_udf_doc_id(const kiln_udf_doc *doc, size_t *len)
{
    if (doc->ops->doc_id) return doc->ops->doc_id(doc, len);
    *len = doc->idlen;
    return doc->id;
}

/* A document backed by parsed JSON (dry runs, tests). json is borrowed. */
void kiln_udf_doc_json_init(kiln_udf_doc *doc, json_t *json, const char *id);

#endif
