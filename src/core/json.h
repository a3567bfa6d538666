/* A fast, fully validating JSON reader for document bodies on the write path.
 *
 * kiln_json_parse turns a text into a flat array of nodes in document order (a "tape"): no
 * allocation per value and no hash table per object, so a ~700-byte product document parses in
 * a few microseconds instead of the ~100k instructions jansson's DOM costs. Every string (keys
 * included) is unescaped into one side buffer, NUL-terminated.
 *
 * It accepts exactly what json_loadb(text, len, JSON_REJECT_DUPLICATES, ...) accepts (jansson
 * 2.14): top level object or array, UTF-8 checked, no \u0000, no lone surrogates, integers in
 * int64 range (else an error, as jansson's "too big integer"), reals that do not overflow,
 * nesting depth <= 2048, no duplicate key in an object; the one difference is that it refuses
 * every NUL byte, where jansson skips one read ahead after a number or literal ("[1\0]").
 * Numbers convert as jansson converts
 * them (strtoll for integers, strtod for reals). It has no error messages: on failure callers
 * ask jansson for its message, so the errors users see stay exactly what they were.
 * tests/unit/core/test_json.c checks the agreement on hand-picked and mutated inputs. */
#ifndef KILN_JSON_H
#define KILN_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    KILN_JSON_NULL,
    KILN_JSON_FALSE,
    KILN_JSON_TRUE,
    KILN_JSON_INT,
    KILN_JSON_REAL,
    KILN_JSON_STRING,
    KILN_JSON_ARRAY,
    KILN_JSON_OBJECT,
} kiln_json_type;

/* One value. Children of a container follow it; `end` is the index just past the node's last
 * descendant, so the next sibling of node i is nodes[i].end. */
typedef struct kiln_jnode {
    uint8_t type;      /* kiln_json_type */
    uint32_t end;
    uint32_t key;      /* object members: offset of the key in the string buffer */
    uint32_t key_len;
    union {
        int64_t i;     /* KILN_JSON_INT */
        double d;      /* KILN_JSON_REAL */
        struct {
            uint32_t off, len; /* KILN_JSON_STRING: in the string buffer */
        } s;
        uint32_t count; /* containers: number of children */
    } v;
} kiln_jnode;

/* A parsed document; reusable (kiln_json_parse keeps the capacity). Zero-initialise, or
 * KILN_JSON_INIT; kiln_json_dispose frees. */
typedef struct kiln_json {
    kiln_jnode *nodes;
    uint32_t n, cap;
    char *str;         /* unescaped strings, each NUL-terminated */
    size_t str_len, str_cap;
} kiln_json;

#define KILN_JSON_INIT {NULL, 0, 0, NULL, 0, 0}

/* Parses text[0..len). Returns 0, or -1 when jansson would refuse the text (see above). */
int kiln_json_parse(kiln_json *j, const char *text, size_t len);
void kiln_json_dispose(kiln_json *j);

static inline const kiln_jnode *kiln_json_root(const kiln_json *j)
{
    return j->n ? &j->nodes[0] : NULL;
}
static inline const char *kiln_json_key(const kiln_json *j, const kiln_jnode *n)
{
    return j->str + n->key;
}
static inline const char *kiln_json_string(const kiln_json *j, const kiln_jnode *n)
{
    return j->str + n->v.s.off;
}
/* First child of a container (only when its count is non-zero) and the next sibling. */
static inline const kiln_jnode *kiln_json_child(const kiln_jnode *n)
{
    return n + 1;
}
static inline const kiln_jnode *kiln_json_next(const kiln_json *j, const kiln_jnode *n)
{
    return &j->nodes[n->end];
}

#endif
