/* Character filters: html_strip (as Lucene's HTMLStripCharFilter: tags removed, block-level
 * tags become "\n", entities decoded, script/style/comments dropped) and mapping ("a => b"
 * rules, longest match). They rewrite the whole input before tokenizing and keep, for every
 * output byte, the span of input bytes it came from, so token offsets still point into the
 * caller's text. */
#include "analysis/analysis_int.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *text;
    uint32_t *ms, *me; /* input span [ms, me) of each output byte */
    size_t len, cap;
} outbuf;

static void out_reserve(outbuf *o, size_t extra)
{
    if (o->len + extra <= o->cap) return;
    size_t cap = o->cap ? o->cap * 2 : 256;
    while (cap < o->len + extra)
        cap *= 2;
    o->text = kiln_xrealloc(o->text, cap);
    o->ms = kiln_xrealloc(o->ms, cap * sizeof *o->ms);
    o->me = kiln_xrealloc(o->me, cap * sizeof *o->me);
    o->cap = cap;
}

/* Appends bytes that stand for source bytes [a, b) of the previous stage. */
static void out_put(outbuf *o, const kiln__cf_text *src, const char *p, size_t n, size_t a,
                    size_t b)
{
    out_reserve(o, n);
    uint32_t s = src->ms ? src->ms[a] : (uint32_t)a;
    uint32_t e = src->me ? src->me[b - 1] : (uint32_t)b;
    for (size_t i = 0; i < n; i++) {
        o->text[o->len] = p[i];
        o->ms[o->len] = s;
        o->me[o->len] = e;
        o->len++;
    }
}

/* Copies source bytes [a, b) unchanged. */
static void out_copy(outbuf *o, const kiln__cf_text *src, size_t a, size_t b)
{
    out_reserve(o, b - a);
    for (size_t i = a; i < b; i++) {
        o->text[o->len] = src->text[i];
        o->ms[o->len] = src->ms ? src->ms[i] : (uint32_t)i;
        o->me[o->len] = src->me ? src->me[i] : (uint32_t)i + 1;
        o->len++;
    }
}

/* ---- html_strip -------------------------------------------------------------------------- */

static const char *const block_tags[] = {
    "address",    "article", "aside",  "audio",   "blockquote", "body",     "br",       "canvas",
    "caption",    "center",  "dd",     "dir",     "div",        "dl",       "dt",       "fieldset",
    "figcaption", "figure",  "footer", "form",    "frameset",   "h1",       "h2",       "h3",
    "h4",         "h5",      "h6",     "head",    "header",     "hgroup",   "hr",       "html",
    "isindex",    "li",      "main",   "menu",    "nav",        "noframes", "noscript", "ol",
    "output",     "p",       "pre",    "section", "table",      "tbody",    "td",       "tfoot",
    "th",         "thead",   "title",  "tr",      "ul",         "video",    NULL,
};

static bool is_block(const char *name)
{
    for (const char *const *b = block_tags; *b; b++)
        if (!strcmp(*b, name)) return true;
    return false;
}

static const struct {
    const char *name;
    int32_t cp;
} entities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
    {"apos", '\''},     {"nbsp", 0xa0},     {"iexcl", 0xa1},    {"cent", 0xa2},
    {"pound", 0xa3},    {"curren", 0xa4},   {"yen", 0xa5},      {"brvbar", 0xa6},
    {"sect", 0xa7},     {"uml", 0xa8},      {"copy", 0xa9},     {"ordf", 0xaa},
    {"laquo", 0xab},    {"not", 0xac},      {"shy", 0xad},      {"reg", 0xae},
    {"macr", 0xaf},     {"deg", 0xb0},      {"plusmn", 0xb1},   {"sup2", 0xb2},
    {"sup3", 0xb3},     {"acute", 0xb4},    {"micro", 0xb5},    {"para", 0xb6},
    {"middot", 0xb7},   {"cedil", 0xb8},    {"sup1", 0xb9},     {"ordm", 0xba},
    {"raquo", 0xbb},    {"frac14", 0xbc},   {"frac12", 0xbd},   {"frac34", 0xbe},
    {"iquest", 0xbf},   {"Agrave", 0xc0},   {"Aacute", 0xc1},   {"Acirc", 0xc2},
    {"Atilde", 0xc3},   {"Auml", 0xc4},     {"Aring", 0xc5},    {"AElig", 0xc6},
    {"Ccedil", 0xc7},   {"Egrave", 0xc8},   {"Eacute", 0xc9},   {"Ecirc", 0xca},
    {"Euml", 0xcb},     {"Igrave", 0xcc},   {"Iacute", 0xcd},   {"Icirc", 0xce},
    {"Iuml", 0xcf},     {"ETH", 0xd0},      {"Ntilde", 0xd1},   {"Ograve", 0xd2},
    {"Oacute", 0xd3},   {"Ocirc", 0xd4},    {"Otilde", 0xd5},   {"Ouml", 0xd6},
    {"times", 0xd7},    {"Oslash", 0xd8},   {"Ugrave", 0xd9},   {"Uacute", 0xda},
    {"Ucirc", 0xdb},    {"Uuml", 0xdc},     {"Yacute", 0xdd},   {"THORN", 0xde},
    {"szlig", 0xdf},    {"agrave", 0xe0},   {"aacute", 0xe1},   {"acirc", 0xe2},
    {"atilde", 0xe3},   {"auml", 0xe4},     {"aring", 0xe5},    {"aelig", 0xe6},
    {"ccedil", 0xe7},   {"egrave", 0xe8},   {"eacute", 0xe9},   {"ecirc", 0xea},
    {"euml", 0xeb},     {"igrave", 0xec},   {"iacute", 0xed},   {"icirc", 0xee},
    {"iuml", 0xef},     {"eth", 0xf0},      {"ntilde", 0xf1},   {"ograve", 0xf2},
    {"oacute", 0xf3},   {"ocirc", 0xf4},    {"otilde", 0xf5},   {"ouml", 0xf6},
    {"divide", 0xf7},   {"oslash", 0xf8},   {"ugrave", 0xf9},   {"uacute", 0xfa},
    {"ucirc", 0xfb},    {"uuml", 0xfc},     {"yacute", 0xfd},   {"thorn", 0xfe},
    {"yuml", 0xff},     {"OElig", 0x152},   {"oelig", 0x153},   {"Scaron", 0x160},
    {"scaron", 0x161},  {"Yuml", 0x178},    {"fnof", 0x192},    {"circ", 0x2c6},
    {"tilde", 0x2dc},   {"ensp", 0x2002},   {"emsp", 0x2003},   {"thinsp", 0x2009},
    {"zwnj", 0x200c},   {"zwj", 0x200d},    {"ndash", 0x2013},  {"mdash", 0x2014},
    {"lsquo", 0x2018},  {"rsquo", 0x2019},  {"sbquo", 0x201a},  {"ldquo", 0x201c},
    {"rdquo", 0x201d},  {"bdquo", 0x201e},  {"dagger", 0x2020}, {"Dagger", 0x2021},
    {"bull", 0x2022},   {"hellip", 0x2026}, {"permil", 0x2030}, {"prime", 0x2032},
    {"lsaquo", 0x2039}, {"rsaquo", 0x203a}, {"euro", 0x20ac},   {"trade", 0x2122},
    {"larr", 0x2190},   {"rarr", 0x2192},   {"minus", 0x2212},  {"infin", 0x221e},
    {NULL, 0},
};

/* Parses an entity at s[i] == '&'; returns its end (past ';') and the code point, or 0. */
static size_t entity(const char *s, size_t n, size_t i, int32_t *cp)
{
    size_t j = i + 1;
    if (j < n && s[j] == '#') {
        j++;
        int base = 10;
        if (j < n && (s[j] == 'x' || s[j] == 'X')) {
            base = 16;
            j++;
        }
        int32_t v = 0;
        size_t digits = 0;
        while (j < n && digits < 8) {
            char c = s[j];
            int d = c >= '0' && c <= '9'                 ? c - '0'
                    : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                         : -1;
            if (d < 0) break;
            v = v * base + d;
            j++;
            digits++;
        }
        if (!digits || v <= 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
        if (j < n && s[j] == ';') j++;
        *cp = v;
        return j;
    }
    size_t k = j;
    while (k < n && k - j < 10 &&
           ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
            (s[k] >= '0' && s[k] <= '9')))
        k++;
    if (k == j || k >= n || s[k] != ';') return 0;
    for (size_t e = 0; entities[e].name; e++) {
        if (strlen(entities[e].name) == k - j && !memcmp(entities[e].name, s + j, k - j)) {
            *cp = entities[e].cp;
            return k + 1;
        }
    }
    return 0;
}

/* Finds the '>' closing a tag that starts at s[i] == '<', honouring quoted attribute values. */
#define MAX_TAG 1024 /* longer "tags" are text: keeps adversarial input linear */

static size_t tag_end(const char *s, size_t n, size_t i)
{
    char q = 0;
    size_t lim = n - i > MAX_TAG ? i + MAX_TAG : n;
    for (size_t j = i + 1; j < lim; j++) {
        if (q) {
            if (s[j] == q) q = 0;
        } else if (s[j] == '"' || s[j] == '\'') {
            q = s[j];
        } else if (s[j] == '>') {
            return j + 1;
        }
    }
    return 0;
}

static size_t find_ci(const char *s, size_t n, size_t from, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t j = from; j + m <= n; j++)
        if (!strncasecmp(s + j, needle, m)) return j;
    return n;
}

static void html_strip(const kiln__char_filter *cf, const kiln__cf_text *src, outbuf *o)
{
    const char *s = src->text;
    size_t n = src->len;
    size_t i = 0;
    /* past the last '>' nothing is a tag: don't look (text full of '<' stays linear) */
    size_t last_gt = 0;
    for (size_t k = n; k > 0; k--)
        if (s[k - 1] == '>') {
            last_gt = k;
            break;
        }
    while (i < n) {
        char c = s[i];
        if (c == '<' && i >= last_gt) c = 0;
        if (c == '&') {
            int32_t cp;
            size_t e = entity(s, n, i, &cp);
            if (e) {
                char u[4];
                out_put(o, src, u, kiln__utf8_encode(cp, u), i, e);
                i = e;
                continue;
            }
        } else if (c == '<' && i + 1 < n) {
            if (n - i >= 4 && !memcmp(s + i, "<!--", 4)) {
                size_t e = find_ci(s, n, i + 4, "-->");
                i = e < n ? e + 3 : n;
                continue;
            }
            if (s[i + 1] == '!' || s[i + 1] == '?') { /* doctype, CDATA, processing instr. */
                size_t e = tag_end(s, n, i);
                if (e) {
                    i = e;
                    continue;
                }
            }
            size_t j = i + 1;
            bool closing = j < n && s[j] == '/';
            if (closing) j++;
            char name[16];
            size_t nl = 0;
            while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                             (nl && s[j] >= '0' && s[j] <= '9'))) {
                if (nl < sizeof name - 1) name[nl++] = (char)(s[j] | 0x20);
                j++;
            }
            name[nl] = 0;
            size_t e = nl ? tag_end(s, n, i) : 0;
            if (e) {
                if (cf->set && kiln__strset_has(cf->set, name, nl)) {
                    out_copy(o, src, i, e); /* escaped_tags stay */
                } else if (!closing && (!strcmp(name, "script") || !strcmp(name, "style"))) {
                    /* the element's content goes too */
                    size_t close =
                        find_ci(s, n, e, !strcmp(name, "script") ? "</script" : "</style");
                    size_t ce = close < n ? tag_end(s, n, close) : 0;
                    e = ce ? ce : n;
                    out_put(o, src, "\n", 1, i, e);
                } else if (is_block(name)) {
                    out_put(o, src, "\n", 1, i, e);
                }
                i = e;
                continue;
            }
        }
        out_copy(o, src, i, i + 1);
        i++;
    }
}

/* ---- mapping ----------------------------------------------------------------------------- */

static void mapping(const kiln__char_filter *cf, const kiln__cf_text *src, outbuf *o)
{
    size_t i = 0;
    while (i < src->len) {
        size_t best = 0, bl = 0;
        for (size_t r = 0; r < cf->nrules; r++) {
            size_t fl = cf->from_len[r];
            if (fl > bl && fl <= src->len - i && !memcmp(src->text + i, cf->from[r], fl)) {
                best = r;
                bl = fl;
            }
        }
        if (bl) {
            if (cf->to_len[best]) out_put(o, src, cf->to[best], cf->to_len[best], i, i + bl);
            i += bl;
        } else {
            out_copy(o, src, i, i + 1);
            i++;
        }
    }
}

/* ---- chain ------------------------------------------------------------------------------- */

void kiln__char_filters_run(const kiln__char_filter *cfs, size_t ncf, const char *text, size_t len,
                            kiln__cf_text *out)
{
    kiln__cf_text cur = {(char *)text, len, NULL, NULL};
    for (size_t f = 0; f < ncf; f++) {
        outbuf o = {0};
        out_reserve(&o, len + 16);
        if (cfs[f].kind == KILN__CF_HTML_STRIP)
            html_strip(&cfs[f], &cur, &o);
        else
            mapping(&cfs[f], &cur, &o);
        if (cur.text != text) kiln__cf_text_dispose(&cur);
        cur = (kiln__cf_text){o.text, o.len, o.ms, o.me};
    }
    *out = cur;
}

void kiln__cf_text_dispose(kiln__cf_text *t)
{
    free(t->text);
    free(t->ms);
    free(t->me);
    t->text = NULL;
    t->ms = t->me = NULL;
}

void kiln__char_filter_dispose(kiln__char_filter *cf)
{
    kiln__strset_free(cf->set);
    for (size_t r = 0; r < cf->nrules; r++) {
        free(cf->from[r]);
        free(cf->to[r]);
    }
    free(cf->from);
    free(cf->to);
    free(cf->from_len);
    free(cf->to_len);
    memset(cf, 0, sizeof *cf);
}
