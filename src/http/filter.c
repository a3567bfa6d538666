/* ?filter_path: keeps the parts of a JSON reply whose dotted key path matches one of the
 * comma-separated patterns ("*" inside a key, "**" for any depth, a leading "-" excludes), as
 * Elasticsearch does. It works on the text, copying kept values byte for byte, so numbers and
 * _source are never re-encoded. Array elements share their array's path; objects left empty
 * by filtering disappear; if nothing matches the reply is "{}". */
#include "http/http_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KILN__FP_MAX 16  /* patterns */
#define KILN__FP_SEGS 30 /* segments per pattern; positions fit a uint32_t */

typedef struct kiln__fp {
    int n;
    int nseg[KILN__FP_MAX];
    int exclude[KILN__FP_MAX];
    char *seg[KILN__FP_MAX][KILN__FP_SEGS];
    char *store;
} kiln__fp;

/* Where each pattern stands: bit i set = segments [0, i) are matched. */
typedef struct kiln__fp_state {
    uint32_t pos[KILN__FP_MAX];
} kiln__fp_state;

typedef struct kiln__fp_in {
    const char *p, *end;
} kiln__fp_in;

static int kiln__glob(const char *pat, const char *s, size_t n)
{
    if (!*pat) return n == 0;
    if (*pat == '*') {
        for (size_t i = 0; i <= n; i++)
            if (kiln__glob(pat + 1, s + i, n - i)) return 1;
        return 0;
    }
    return n > 0 && *pat == *s && kiln__glob(pat + 1, s + 1, n - 1);
}

static int kiln__fp_parse(kiln__fp *fp, const char *spec)
{
    memset(fp, 0, sizeof *fp);
    fp->store = kiln_xstrdup(spec);
    for (char *save = NULL, *tok = strtok_r(fp->store, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok) continue;
        if (fp->n == KILN__FP_MAX) return -1;
        int f = fp->n++;
        if (*tok == '-') fp->exclude[f] = 1, tok++;
        for (char *s2 = NULL, *seg = strtok_r(tok, ".", &s2); seg; seg = strtok_r(NULL, ".", &s2)) {
            if (fp->nseg[f] == KILN__FP_SEGS) return -1;
            fp->seg[f][fp->nseg[f]++] = seg;
        }
        if (!fp->nseg[f]) fp->n--;
    }
    return fp->n ? 0 : -1;
}

/* Advances every pattern over key k. */
static kiln__fp_state kiln__fp_step(const kiln__fp *fp, const kiln__fp_state *st, const char *k,
                                    size_t kn)
{
    kiln__fp_state next;
    memset(&next, 0, sizeof next);
    for (int f = 0; f < fp->n; f++) {
        for (int i = 0; i < fp->nseg[f]; i++) {
            if (!(st->pos[f] & (1u << i))) continue;
            const char *seg = fp->seg[f][i];
            if (strcmp(seg, "**") == 0) {
                next.pos[f] |= 1u << i; /* "**" swallows k and stays */
                if (i + 1 == fp->nseg[f])
                    next.pos[f] |= 1u << (i + 1);
                else if (kiln__glob(fp->seg[f][i + 1], k, kn))
                    next.pos[f] |= 1u << (i + 2);
            } else if (kiln__glob(seg, k, kn)) {
                next.pos[f] |= 1u << (i + 1);
            }
        }
    }
    return next;
}

static int kiln__fp_any(const kiln__fp *fp, const kiln__fp_state *st, int exclude, int complete)
{
    for (int f = 0; f < fp->n; f++) {
        if (fp->exclude[f] != exclude) continue;
        uint32_t done = 1u << fp->nseg[f];
        if (complete ? (st->pos[f] & done) != 0 : (st->pos[f] & ~done) != 0) return 1;
    }
    return 0;
}

static void kiln__fp_ws(kiln__fp_in *in)
{
    while (in->p < in->end && (*in->p == ' ' || *in->p == '\n' || *in->p == '\r' || *in->p == '\t'))
        in->p++;
}

/* Skips one value; returns its start, or NULL on malformed input. */
static const char *kiln__fp_skip(kiln__fp_in *in)
{
    kiln__fp_ws(in);
    const char *start = in->p;
    int depth = 0;
    while (in->p < in->end) {
        char c = *in->p;
        if (c == '"') {
            for (in->p++; in->p < in->end && *in->p != '"'; in->p++)
                if (*in->p == '\\') in->p++;
            if (in->p >= in->end) return NULL;
            in->p++;
        } else if (c == '{' || c == '[') {
            depth++;
            in->p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) break;
            depth--;
            in->p++;
        } else if (c == ',' && depth == 0) {
            break;
        } else {
            in->p++;
        }
        if (depth == 0 && (c == '"' || c == '}' || c == ']')) break;
    }
    /* Trim trailing whitespace of a bare scalar. */
    while (in->p > start &&
           (in->p[-1] == ' ' || in->p[-1] == '\n' || in->p[-1] == '\r' || in->p[-1] == '\t'))
        in->p--;
    return in->p > start ? start : NULL;
}

/* Filters one value at the current path. all: an include already matched above (only
 * excludes still apply). Returns 1 if it wrote something, 0 if nothing, -1 on bad input. */
static int kiln__fp_value(const kiln__fp *fp, kiln__fp_in *in, const kiln__fp_state *st, int all,
                          kiln_buf *out)
{
    kiln__fp_ws(in);
    if (in->p >= in->end) return -1;
    int excl_active = kiln__fp_any(fp, st, 1, 0);
    if (all && !excl_active) {
        const char *v = kiln__fp_skip(in);
        if (!v) return -1;
        kiln_buf_append(out, v, (size_t)(in->p - v));
        return 1;
    }
    char open = *in->p;
    if (open != '{' && open != '[') {
        const char *v = kiln__fp_skip(in);
        if (!v) return -1;
        if (!all) return 0; /* a scalar where a pattern wanted to go deeper */
        kiln_buf_append(out, v, (size_t)(in->p - v));
        return 1;
    }
    char close = open == '{' ? '}' : ']';
    size_t mark = out->len;
    int wrote = 0;
    kiln_buf_putc(out, open);
    in->p++;
    for (;;) {
        kiln__fp_ws(in);
        if (in->p < in->end && *in->p == close) break;
        size_t before = out->len;
        if (wrote) kiln_buf_putc(out, ',');
        int r;
        if (open == '[') {
            r = kiln__fp_value(fp, in, st, all, out);
        } else {
            if (in->p >= in->end || *in->p != '"') return -1;
            const char *k = in->p + 1;
            if (!kiln__fp_skip(in)) return -1;
            size_t kn = (size_t)(in->p - 1 - k);
            kiln__fp_ws(in);
            if (in->p >= in->end || *in->p != ':') return -1;
            in->p++;
            kiln__fp_state next = kiln__fp_step(fp, st, k, kn);
            int inc = all || kiln__fp_any(fp, &next, 0, 1);
            if (kiln__fp_any(fp, &next, 1, 1) || (!inc && !kiln__fp_any(fp, &next, 0, 0))) {
                r = kiln__fp_skip(in) ? 0 : -1;
            } else {
                kiln_buf_append(out, k - 1, kn + 2);
                kiln_buf_putc(out, ':');
                r = kiln__fp_value(fp, in, &next, inc, out);
            }
        }
        if (r < 0) return -1;
        if (r == 0) {
            out->len = before;
            out->data[before] = 0;
        }
        wrote |= r;
        kiln__fp_ws(in);
        if (in->p < in->end && *in->p == ',') {
            in->p++;
            continue;
        }
        if (in->p < in->end && *in->p == close) break;
        return -1;
    }
    in->p++;
    if (!wrote && !all) {
        out->len = mark;
        out->data[mark] = 0;
        return 0;
    }
    kiln_buf_putc(out, close);
    return 1;
}

int kiln__filter_path(kiln_buf *out, const char *json, size_t len, const char *spec)
{
    kiln__fp fp;
    int rc = -1;
    if (kiln__fp_parse(&fp, spec) < 0) goto done;
    kiln__fp_state st;
    memset(&st, 0, sizeof st);
    int any_include = 0;
    for (int f = 0; f < fp.n; f++) {
        st.pos[f] = 1;
        any_include |= !fp.exclude[f];
    }
    kiln__fp_in in = {json, json + len};
    kiln_buf_reserve(out, len + 2);
    int r = kiln__fp_value(&fp, &in, &st, !any_include, out);
    if (r < 0) goto done;
    if (r == 0) kiln_buf_puts(out, "{}");
    rc = 0;
done:
    free(fp.store);
    return rc;
}
