/* The tape parser of json.h: one recursive-descent pass, jansson's acceptance rules. */
#include "core/json.h"
#include "core/buf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define KILN__JSON_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct {
    const unsigned char *p, *end;
    kiln_json *j;
} kiln__jp;

static inline void kiln__skip_ws(kiln__jp *st)
{
    while (st->p < st->end &&
           (*st->p == ' ' || *st->p == '\n' || *st->p == '\t' || *st->p == '\r'))
        st->p++;
}

static uint32_t kiln__node_new(kiln_json *j, kiln_json_type type)
{
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 64;
        j->nodes = kiln_xrealloc(j->nodes, (size_t)j->cap * sizeof *j->nodes);
    }
    kiln_jnode *n = &j->nodes[j->n];
    n->type = (uint8_t)type;
    n->key = n->key_len = 0;
    n->end = j->n + 1;
    return j->n++;
}

static inline int kiln__hex(unsigned c)
{
    if (c - '0' < 10) return (int)(c - '0');
    c |= 0x20;
    if (c - 'a' < 6) return (int)(c - 'a' + 10);
    return -1;
}

static int kiln__u4(kiln__jp *st, uint32_t *out)
{
    if (st->end - st->p < 4) return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = kiln__hex(st->p[i]);
        if (h < 0) return -1;
        v = v << 4 | (uint32_t)h;
    }
    st->p += 4;
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), 0 if invalid (jansson's
 * utf8_check_full: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t kiln__utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static char *kiln__put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* The end of the run of bytes from p that a string copies as they are: printable ASCII other than
 * '"' and '\\'. Sixteen bytes at a time where SSE2 is there (a document's text is mostly such
 * runs, and a byte at a time cost ~12 instructions a byte of JSON). */
static inline const unsigned char *kiln__plain_run(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        /* signed: bytes of 0x80 and more are negative, so "< 0x20" catches them too */
        __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash));
        __m128i stop = _mm_or_si128(special, _mm_cmplt_epi8(v, space));
        unsigned m = (unsigned)_mm_movemask_epi8(stop);
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    return p;
}

/* A string after its opening quote, unescaped into the string buffer (room for it was reserved
 * up front: unescaped text plus its NUL never exceeds the quoted source). */
static int kiln__string(kiln__jp *st, uint32_t *off, uint32_t *len)
{
    kiln_json *j = st->j;
    char *o0 = j->str + j->str_len, *o = o0;
    const unsigned char *p = st->p, *end = st->end;
    for (;;) {
        const unsigned char *run = p;
        p = kiln__plain_run(p, end);
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p >= end) return -1;
        unsigned c = *p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20) return -1; /* control character */
        if (c >= 0x80) {
            size_t n = kiln__utf8_seq(p, end);
            if (!n) return -1;
            memcpy(o, p, n);
            o += n;
            p += n;
            continue;
        }
        /* an escape */
        if (++p >= end) return -1;
        c = *p++;
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            st->p = p;
            if (kiln__u4(st, &cp)) return -1;
            p = st->p;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return -1;
                st->p = p + 2;
                if (kiln__u4(st, &lo)) return -1;
                p = st->p;
                if (lo < 0xdc00 || lo > 0xdfff) return -1;
                cp = ((cp - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }
            if (cp == 0) return -1; /* \u0000: refused without JSON_ALLOW_NUL */
            o = kiln__put_utf8(o, cp);
            break;
        }
        default: return -1;
        }
    }
    st->p = p;
    *o = 0;
    *off = (uint32_t)(o0 - j->str);
    *len = (uint32_t)(o - o0);
    j->str_len += (size_t)(o - o0) + 1;
    return 0;
}

/* A number by JSON's grammar, converted as jansson converts it. */
static inline int kiln__digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int kiln__number(kiln__jp *st, uint32_t node)
{
    const unsigned char *s = st->p, *p = s, *end = st->end;
    if (p < end && *p == '-') p++;
    if (p >= end) return -1;
    if (*p == '0') {
        p++;
        if (p < end && kiln__digit(*p)) return -1; /* leading zero */
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && kiln__digit(*p)) p++;
    } else {
        return -1;
    }
    int real = 0;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !kiln__digit(*p)) return -1;
        while (p < end && kiln__digit(*p)) p++;
        real = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !kiln__digit(*p)) return -1;
        while (p < end && kiln__digit(*p)) p++;
        real = 1;
    }
    size_t n = (size_t)(p - s);
    kiln_jnode *nd = &st->j->nodes[node];
    st->p = p;
    if (!real && n <= 18) { /* fits: no overflow possible */
        int64_t v = 0;
        const unsigned char *q = s + (*s == '-');
        while (q < p) v = v * 10 + (*q++ - '0');
        nd->type = KILN_JSON_INT;
        nd->v.i = *s == '-' ? -v : v;
        return 0;
    }
    char local[64], *text = n < sizeof local ? local : kiln_xmalloc(n + 1);
    memcpy(text, s, n);
    text[n] = 0;
    int rc = 0;
    errno = 0;
    if (!real) {
        long long v = strtoll(text, NULL, 10);
        if (errno == ERANGE) rc = -1; /* jansson: "too big integer" */
        nd->type = KILN_JSON_INT;
        nd->v.i = v;
    } else {
        double d = strtod(text, NULL);
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) rc = -1; /* overflow */
        nd->type = KILN_JSON_REAL;
        nd->v.d = d;
    }
    if (text != local) free(text);
    return rc;
}

static int kiln__value(kiln__jp *st, unsigned depth);

typedef struct {
    uint64_t h;
    uint32_t off, len;
} kiln__keyref;

static int kiln__keyref_cmp(const void *a, const void *b)
{
    const kiln__keyref *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h;
}

/* Whether two members of the object at node share a key (JSON_REJECT_DUPLICATES). */
static int kiln__has_duplicate(const kiln_json *j, uint32_t node)
{
    uint32_t count = j->nodes[node].v.count;
    if (count < 2) return 0;
    const char *str = j->str;
    if (count <= 16) {
        uint32_t idx[16], k = 0;
        for (uint32_t c = node + 1; k < count; c = j->nodes[c].end) idx[k++] = c;
        for (uint32_t a = 1; a < count; a++)
            for (uint32_t b = 0; b < a; b++) {
                const kiln_jnode *x = &j->nodes[idx[a]], *y = &j->nodes[idx[b]];
                if (x->key_len == y->key_len && !memcmp(str + x->key, str + y->key, x->key_len))
                    return 1;
            }
        return 0;
    }
    kiln__keyref *v = kiln_xmalloc((size_t)count * sizeof *v);
    uint32_t k = 0;
    for (uint32_t c = node + 1; k < count; c = j->nodes[c].end) {
        const kiln_jnode *x = &j->nodes[c];
        v[k++] = (kiln__keyref){XXH3_64bits(str + x->key, x->key_len), x->key, x->key_len};
    }
    qsort(v, count, sizeof *v, kiln__keyref_cmp);
    int dup = 0;
    for (uint32_t a = 0; a < count && !dup; a++)
        for (uint32_t b = a + 1; b < count && v[b].h == v[a].h && !dup; b++)
            dup = v[a].len == v[b].len && !memcmp(str + v[a].off, str + v[b].off, v[a].len);
    free(v);
    return dup;
}

/* After a member or element: 1 after a ',' (whitespace skipped), 0 after the closing
 * bracket, -1 on anything else. */
static inline int kiln__list_next(kiln__jp *st, char close)
{
    kiln__skip_ws(st);
    if (st->p >= st->end) return -1;
    if (*st->p == ',') {
        st->p++;
        kiln__skip_ws(st);
        return 1;
    }
    if (*st->p != close) return -1;
    st->p++;
    return 0;
}

static int kiln__object(kiln__jp *st, uint32_t node, unsigned depth)
{
    uint32_t count = 0;
    kiln__skip_ws(st);
    if (st->p < st->end && *st->p == '}') {
        st->p++;
        goto done;
    }
    for (;;) {
        if (st->p >= st->end || *st->p != '"') return -1;
        st->p++;
        uint32_t koff, klen;
        if (kiln__string(st, &koff, &klen)) return -1;
        kiln__skip_ws(st);
        if (st->p >= st->end || *st->p != ':') return -1;
        st->p++;
        kiln__skip_ws(st);
        uint32_t child = st->j->n;
        if (kiln__value(st, depth + 1)) return -1;
        st->j->nodes[child].key = koff;
        st->j->nodes[child].key_len = klen;
        count++;
        int more = kiln__list_next(st, '}');
        if (more < 0) return -1;
        if (!more) break;
    }
done:
    st->j->nodes[node].v.count = count;
    st->j->nodes[node].end = st->j->n;
    return kiln__has_duplicate(st->j, node) ? -1 : 0;
}

static int kiln__array(kiln__jp *st, uint32_t node, unsigned depth)
{
    uint32_t count = 0;
    kiln__skip_ws(st);
    if (st->p < st->end && *st->p == ']') {
        st->p++;
        goto done;
    }
    for (;;) {
        if (kiln__value(st, depth + 1)) return -1;
        count++;
        int more = kiln__list_next(st, ']');
        if (more < 0) return -1;
        if (!more) break;
    }
done:
    st->j->nodes[node].v.count = count;
    st->j->nodes[node].end = st->j->n;
    return 0;
}

static int kiln__literal(kiln__jp *st, const char *word, size_t n)
{
    if ((size_t)(st->end - st->p) < n || memcmp(st->p, word, n)) return -1;
    st->p += n;
    return 0;
}

/* One value at st->p (whitespace already skipped). depth counts it, as jansson does. */
static int kiln__value(kiln__jp *st, unsigned depth)
{
    if (depth > KILN__JSON_MAX_DEPTH || st->p >= st->end) return -1;
    kiln_json *j = st->j;
    switch (*st->p) {
    case '{': {
        st->p++;
        return kiln__object(st, kiln__node_new(j, KILN_JSON_OBJECT), depth);
    }
    case '[': {
        st->p++;
        return kiln__array(st, kiln__node_new(j, KILN_JSON_ARRAY), depth);
    }
    case '"': {
        st->p++;
        uint32_t node = kiln__node_new(j, KILN_JSON_STRING), off, len;
        if (kiln__string(st, &off, &len)) return -1;
        j->nodes[node].v.s.off = off;
        j->nodes[node].v.s.len = len;
        return 0;
    }
    case 't':
        kiln__node_new(j, KILN_JSON_TRUE);
        return kiln__literal(st, "true", 4);
    case 'f':
        kiln__node_new(j, KILN_JSON_FALSE);
        return kiln__literal(st, "false", 5);
    case 'n':
        kiln__node_new(j, KILN_JSON_NULL);
        return kiln__literal(st, "null", 4);
    default:
        return kiln__number(st, kiln__node_new(j, KILN_JSON_INT));
    }
}

int kiln_json_parse(kiln_json *j, const char *text, size_t len)
{
    j->n = 0;
    j->str_len = 0;
    if (j->str_cap < len + 1) {
        free(j->str);
        j->str_cap = len + 1 > 256 ? len + 1 : 256;
        j->str = kiln_xmalloc(j->str_cap);
    }
    kiln__jp st = {(const unsigned char *)text, (const unsigned char *)text + len, j};
    kiln__skip_ws(&st);
    if (st.p >= st.end || (*st.p != '{' && *st.p != '[')) return -1; /* no JSON_DECODE_ANY */
    if (kiln__value(&st, 1)) return -1;
    kiln__skip_ws(&st);
    return st.p == st.end ? 0 : -1;
}

void kiln_json_dispose(kiln_json *j)
{
    free(j->nodes);
    free(j->str);
    memset(j, 0, sizeof *j);
}
