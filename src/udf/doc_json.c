/* A UDF document backed by parsed JSON: paths are walked over the object tree, arrays flatten
 * as they do in Elasticsearch ("items.price" visits every item's price). */
#include "core/buf.h"
#include "udf/doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KILN__MAX_SEGS 32

typedef struct {
    int nsegs;
    struct {
        char *key;    /* NULL for a pure index segment */
        long index;   /* -1: none */
    } segs[KILN__MAX_SEGS];
} kiln__path;

static void kiln__path_free(void *h)
{
    kiln__path *p = h;
    if (!p) return;
    for (int i = 0; i < p->nsegs; i++) free(p->segs[i].key);
    free(p);
}

/* Parses "a.b[2].c" into segments; -1 when malformed. */
static int kiln__resolve(const kiln_udf_doc *doc, const char *s, size_t len, void **handle)
{
    kiln__path *p = kiln_xcalloc(1, sizeof *p);
    size_t i = 0;
    while (i < len) {
        if (p->nsegs == KILN__MAX_SEGS) goto bad;
        size_t start = i;
        while (i < len && s[i] != '.' && s[i] != '[') i++;
        if (i == start) goto bad;
        p->segs[p->nsegs].key = kiln_xstrndup(s + start, i - start);
        p->segs[p->nsegs].index = -1;
        p->nsegs++;
        while (i < len && s[i] == '[') {
            size_t j = ++i;
            long v = 0;
            while (i < len && s[i] >= '0' && s[i] <= '9' && v < 100000000) v = v * 10 + (s[i++] - '0');
            if (i == j || i >= len || s[i] != ']') goto bad;
            i++;
            if (p->segs[p->nsegs - 1].index >= 0) { /* a[1][2]: nested arrays */
                if (p->nsegs == KILN__MAX_SEGS) goto bad;
                p->segs[p->nsegs].key = NULL;
                p->segs[p->nsegs].index = v;
                p->nsegs++;
            } else {
                p->segs[p->nsegs - 1].index = v;
            }
        }
        if (i < len) {
            if (s[i] != '.' || i + 1 == len) goto bad;
            i++;
        }
    }
    if (p->nsegs == 0) goto bad;
    *handle = p;
    return 0;
bad:
    kiln__path_free(p);
    return -1;
}

typedef struct {
    json_t *first;
    int count;
} kiln__leaves;

static void kiln__visit(json_t *node, const kiln__path *p, int seg, kiln__leaves *out);

/* Visits node as the value of segment `seg` (its index applied), flattening arrays. */
static void kiln__apply_index(json_t *v, const kiln__path *p, int seg, kiln__leaves *out)
{
    if (!v || json_is_null(v)) return;
    long idx = p->segs[seg].index;
    if (idx >= 0) {
        if (!json_is_array(v)) {
            if (idx == 0) kiln__visit(v, p, seg + 1, out); /* a scalar is a one-value array */
            return;
        }
        kiln__visit(json_array_get(v, (size_t)idx), p, seg + 1, out);
        return;
    }
    kiln__visit(v, p, seg + 1, out);
}

static void kiln__visit(json_t *node, const kiln__path *p, int seg, kiln__leaves *out)
{
    if (!node || json_is_null(node)) return;
    if (json_is_array(node) && (seg == p->nsegs || p->segs[seg].key)) {
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e) kiln__visit(e, p, seg, out);
        return;
    }
    if (seg == p->nsegs) {
        if (json_is_object(node)) return; /* an object is not a value */
        if (!out->first) out->first = node;
        out->count++;
        return;
    }
    if (!p->segs[seg].key) { /* pure index segment */
        if (json_is_array(node)) kiln__visit(json_array_get(node, (size_t)p->segs[seg].index), p, seg + 1, out);
        return;
    }
    if (!json_is_object(node)) return;
    kiln__apply_index(json_object_get(node, p->segs[seg].key), p, seg, out);
}

static kiln__leaves kiln__find(const kiln_udf_doc *doc, void *handle)
{
    kiln__leaves l = {NULL, 0};
    if (handle) kiln__visit(doc->impl, handle, 0, &l);
    return l;
}

static void kiln__value(const kiln_udf_doc *doc, void *handle, kiln_udf_value *out)
{
    json_t *v = kiln__find(doc, handle).first;
    memset(out, 0, sizeof *out);
    if (json_is_string(v)) {
        out->kind = KILN_UDF_V_STRING;
        out->str = json_string_value(v);
        out->len = json_string_length(v);
    } else if (json_is_integer(v)) {
        out->kind = KILN_UDF_V_INT;
        out->i = json_integer_value(v);
        out->f = (double)out->i;
    } else if (json_is_real(v)) {
        out->kind = KILN_UDF_V_FLOAT;
        out->f = json_real_value(v);
        out->i = (int64_t)out->f;
    } else if (json_is_boolean(v)) {
        out->kind = KILN_UDF_V_BOOL;
        out->i = json_is_true(v);
        out->f = (double)out->i;
    } else {
        out->kind = KILN_UDF_V_MISSING;
    }
}

static int kiln__count(const kiln_udf_doc *doc, void *handle)
{
    return kiln__find(doc, handle).count;
}

static const kiln_udf_doc_ops kiln__json_ops = {kiln__resolve, kiln__value, kiln__count,
                                                kiln__path_free, NULL, NULL, NULL};

void kiln_udf_doc_json_init(kiln_udf_doc *doc, json_t *json, const char *id)
{
    doc->ops = &kiln__json_ops;
    doc->scope = NULL; /* parsed paths do not depend on the document */
    doc->id = id ? id : "";
    doc->idlen = strlen(doc->id);
    doc->impl = json;
    doc->at = 0;
}
