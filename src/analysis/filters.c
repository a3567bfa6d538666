/* Token filters that rewrite or drop one token at a time: case, stop words, possessives,
 * ASCII folding, trim, length, unique, keyword marker, reverse, truncate, apostrophe.
 * Stemmers live in stem.c. A filter writes new text into a run scratch buffer, never in place:
 * the token may still point into the caller's input. */
#include "analysis/analysis_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static bool needs_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || (c >= 'A' && c <= 'Z')) return true;
    }
    return false;
}

/* Maps each code point of tok through fn (tolower/toupper) into scratch. Invalid bytes are
 * copied unchanged. */
static void map_case(kiln__run *run, kiln__tok *tok, utf8proc_int32_t (*fn)(utf8proc_int32_t))
{
    char *out = kiln__scratch(run, tok, tok->len * 2 + 4);
    const unsigned char *s = (const unsigned char *)tok->text;
    size_t o = 0;
    for (size_t i = 0; i < tok->len;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            out[o++] = (char)(fn == utf8proc_tolower ? (c >= 'A' && c <= 'Z' ? c + 32 : c)
                                                     : (c >= 'a' && c <= 'z' ? c - 32 : c));
            i++;
            continue;
        }
        size_t l;
        int32_t cp = kiln__utf8_decode(s + i, tok->len - i, &l);
        if (l == 1) {
            out[o++] = (char)c; /* not valid UTF-8: keep the byte */
        } else {
            o += kiln__utf8_encode(fn(cp), out + o);
        }
        i += l;
    }
    tok->text = out;
    tok->len = o;
}

static void lowercase(kiln__run *run, kiln__tok *tok)
{
    const unsigned char *s = (const unsigned char *)tok->text;
    size_t n = tok->len, i = 0;
    while (i < n && s[i] < 0x80 && !(s[i] >= 'A' && s[i] <= 'Z'))
        i++;
    if (i == n) return; /* already lowercase ASCII: the common case, no copy */
    size_t j = i;
    while (j < n && s[j] < 0x80)
        j++;
    if (j < n) {
        map_case(run, tok, utf8proc_tolower);
        return;
    }
    char *out = kiln__scratch(run, tok, n);
    memcpy(out, s, i);
    for (; i < n; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    tok->text = out;
}

/* The lowercased form of tok for case-insensitive lookups, without changing tok. */
static const char *lower_view(kiln__run *run, const kiln__tok *tok, size_t *len)
{
    if (!needs_lower(tok->text, tok->len)) {
        *len = tok->len;
        return tok->text;
    }
    kiln__tok tmp = *tok;
    map_case(run, &tmp, utf8proc_tolower);
    *len = tmp.len;
    return tmp.text;
}

static bool in_set(const kiln__filter *f, kiln__run *run, const kiln__tok *tok)
{
    if (!f->ignore_case) return kiln__strset_has(f->set, tok->text, tok->len);
    size_t n;
    const char *s = lower_view(run, tok, &n);
    return kiln__strset_has(f->set, s, n);
}

/* Lucene's EnglishPossessiveFilter: drops a trailing 's, ’s or ＇s. */
static void possessive(kiln__tok *tok)
{
    const char *s = tok->text;
    size_t n = tok->len;
    if (n < 2 || (s[n - 1] != 's' && s[n - 1] != 'S')) return;
    if (s[n - 2] == '\'') {
        tok->len = n - 2;
    } else if (n >= 4 && !memcmp(s + n - 4, "\xe2\x80\x99", 3)) { /* U+2019 */
        tok->len = n - 4;
    } else if (n >= 4 && !memcmp(s + n - 4, "\xef\xbc\x87", 3)) { /* U+FF07 */
        tok->len = n - 4;
    }
}

/* Latin letters and punctuation that have no decomposition to ASCII; from Lucene's
 * ASCIIFoldingFilter. Everything else is folded by compatibility decomposition + mark
 * stripping when the result is plain ASCII. */
static const struct {
    int32_t cp;
    const char *to;
} fold_table[] = {
    {0xc6, "AE"},   {0xd0, "D"},   {0xd8, "O"},    {0xde, "TH"},   {0xdf, "ss"},   {0xe6, "ae"},
    {0xf0, "d"},    {0xf8, "o"},   {0xfe, "th"},   {0x110, "D"},   {0x111, "d"},   {0x126, "H"},
    {0x127, "h"},   {0x131, "i"},  {0x138, "q"},   {0x141, "L"},   {0x142, "l"},   {0x149, "'n"},
    {0x14a, "N"},   {0x14b, "n"},  {0x152, "OE"},  {0x153, "oe"},  {0x166, "T"},   {0x167, "t"},
    {0x17f, "s"},   {0x180, "b"},  {0x181, "B"},   {0x186, "O"},   {0x189, "D"},   {0x18a, "D"},
    {0x18e, "E"},   {0x18f, "A"},  {0x190, "E"},   {0x191, "F"},   {0x192, "f"},   {0x193, "G"},
    {0x195, "hv"},  {0x197, "I"},  {0x19a, "l"},   {0x19d, "N"},   {0x19e, "n"},   {0x19f, "O"},
    {0x1a4, "P"},   {0x1a5, "p"},  {0x1ab, "t"},   {0x1ac, "T"},   {0x1ad, "t"},   {0x1ae, "T"},
    {0x1b2, "V"},   {0x1b3, "Y"},  {0x1b4, "y"},   {0x1b5, "Z"},   {0x1b6, "z"},   {0x1dd, "e"},
    {0x1e4, "G"},   {0x1e5, "g"},  {0x221, "d"},   {0x224, "Z"},   {0x225, "z"},   {0x234, "l"},
    {0x235, "n"},   {0x236, "t"},  {0x237, "j"},   {0x238, "db"},  {0x239, "qp"},  {0x23a, "A"},
    {0x23b, "C"},   {0x23c, "c"},  {0x23d, "L"},   {0x23e, "T"},   {0x23f, "s"},   {0x240, "z"},
    {0x243, "B"},   {0x244, "U"},  {0x246, "E"},   {0x247, "e"},   {0x248, "J"},   {0x249, "j"},
    {0x24c, "R"},   {0x24d, "r"},  {0x24e, "Y"},   {0x24f, "y"},   {0x250, "a"},   {0x253, "b"},
    {0x254, "o"},   {0x255, "c"},  {0x256, "d"},   {0x257, "d"},   {0x258, "e"},   {0x259, "e"},
    {0x25b, "e"},   {0x25f, "j"},  {0x260, "g"},   {0x261, "g"},   {0x262, "G"},   {0x265, "h"},
    {0x266, "h"},   {0x268, "i"},  {0x26a, "I"},   {0x26b, "l"},   {0x26c, "l"},   {0x26d, "l"},
    {0x26f, "m"},   {0x270, "m"},  {0x271, "m"},   {0x272, "n"},   {0x273, "n"},   {0x274, "N"},
    {0x275, "o"},   {0x276, "OE"}, {0x27c, "r"},   {0x27d, "r"},   {0x27e, "r"},   {0x280, "R"},
    {0x282, "s"},   {0x287, "t"},  {0x288, "t"},   {0x289, "u"},   {0x28b, "v"},   {0x28c, "v"},
    {0x28d, "w"},   {0x28e, "y"},  {0x28f, "Y"},   {0x290, "z"},   {0x291, "z"},   {0x299, "B"},
    {0x29b, "G"},   {0x29c, "H"},  {0x29d, "j"},   {0x29f, "L"},   {0x2a0, "q"},   {0x2a3, "dz"},
    {0x2a5, "dz"},  {0x2a6, "ts"}, {0x2aa, "ls"},  {0x2ab, "lz"},  {0x1d6b, "ue"}, {0x2010, "-"},
    {0x2011, "-"},  {0x2012, "-"}, {0x2013, "-"},  {0x2014, "-"},  {0x2015, "-"},  {0x2018, "'"},
    {0x2019, "'"},  {0x201a, "'"}, {0x201b, "'"},  {0x201c, "\""}, {0x201d, "\""}, {0x201e, "\""},
    {0x201f, "\""}, {0x2032, "'"}, {0x2033, "\""}, {0x2039, "'"},  {0x203a, "'"},  {0xab, "\""},
    {0xbb, "\""},   {0x2044, "/"}, {0x2212, "-"},  {0xa727, "h"},
};

static int fold_cmp(const void *k, const void *e)
{
    int32_t a = *(const int32_t *)k, b = *(const int32_t *)e;
    return a < b ? -1 : a > b;
}

static int32_t fold_keys[sizeof fold_table / sizeof fold_table[0]];
static size_t fold_idx[sizeof fold_table / sizeof fold_table[0]];
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_init(void)
{
    size_t n = sizeof fold_table / sizeof fold_table[0];
    /* insertion sort of the table's keys: it is written in reading order, not sorted */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && fold_keys[j - 1] > fold_table[i].cp) {
            fold_keys[j] = fold_keys[j - 1];
            fold_idx[j] = fold_idx[j - 1];
            j--;
        }
        fold_keys[j] = fold_table[i].cp;
        fold_idx[j] = i;
    }
}

/* Writes the ASCII folding of cp into out (room for 18 bytes); returns its length, or 0 when
 * cp has no ASCII form. */
static size_t fold_char(int32_t cp, char *out)
{
    pthread_once(&fold_once, fold_init);
    const int32_t *k = bsearch(&cp, fold_keys, sizeof fold_keys / sizeof fold_keys[0],
                               sizeof fold_keys[0], fold_cmp);
    if (k) {
        const char *to = fold_table[fold_idx[k - fold_keys]].to;
        size_t n = strlen(to);
        memcpy(out, to, n);
        return n;
    }
    utf8proc_int32_t d[18];
    int last = 0;
    utf8proc_ssize_t nd = utf8proc_decompose_char(
        cp, d, 18, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_STRIPMARK, &last);
    if (nd <= 0 || nd > 18) return 0;
    for (utf8proc_ssize_t i = 0; i < nd; i++) {
        if (d[i] < 0x21 || d[i] > 0x7e) return 0; /* no plain ASCII form */
        out[i] = (char)d[i];
    }
    return (size_t)nd;
}

void kiln__asciifold(kiln__run *run, kiln__tok *tok)
{
    size_t i = 0;
    while (i < tok->len && (unsigned char)tok->text[i] < 0x80)
        i++;
    if (i == tok->len) return;
    char *out = kiln__scratch(run, tok, tok->len * 5 + 18);
    memcpy(out, tok->text, i);
    size_t o = i;
    const unsigned char *s = (const unsigned char *)tok->text;
    while (i < tok->len) {
        if (s[i] < 0x80) {
            out[o++] = (char)s[i++];
            continue;
        }
        size_t l;
        int32_t cp = kiln__utf8_decode(s + i, tok->len - i, &l);
        size_t f = cp == 0xfffd ? 0 : fold_char(cp, out + o);
        if (f) {
            o += f;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
        }
        i += l;
    }
    tok->text = out;
    tok->len = o;
}

static bool is_jspace(const char *s, size_t n, size_t i, size_t *l)
{
    int32_t cp = kiln__utf8_decode((const unsigned char *)s + i, n - i, l);
    return (kiln__uclass(cp) & KILN__UC_SPACE) != 0;
}

static void trim(kiln__tok *tok)
{
    size_t l, i = 0, e = tok->len;
    while (i < e && is_jspace(tok->text, tok->len, i, &l))
        i += l;
    /* trailing: walk back to the start of each UTF-8 character */
    while (e > i) {
        size_t b = e - 1;
        while (b > i && ((unsigned char)tok->text[b] & 0xc0) == 0x80)
            b--;
        if (!is_jspace(tok->text, e, b, &l) || b + l != e) break;
        e = b;
    }
    tok->text += i;
    tok->len = e - i;
}

static size_t nchars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static void truncate_tok(kiln__tok *tok, uint32_t max)
{
    size_t c = 0;
    for (size_t i = 0; i < tok->len; i++) {
        if (((unsigned char)tok->text[i] & 0xc0) != 0x80 && c++ == max) {
            tok->len = i;
            return;
        }
    }
}

static void reverse(kiln__run *run, kiln__tok *tok)
{
    char *out = kiln__scratch(run, tok, tok->len + 1);
    size_t o = tok->len;
    for (size_t i = 0; i < tok->len;) {
        size_t l;
        kiln__utf8_decode((const unsigned char *)tok->text + i, tok->len - i, &l);
        o -= l;
        memcpy(out + o, tok->text + i, l);
        i += l;
    }
    tok->text = out;
}

/* Lucene's ApostropheFilter: cut at the first ' or ’ (Turkish suffixes). */
static void apostrophe(kiln__tok *tok)
{
    for (size_t i = 0; i < tok->len; i++) {
        if (tok->text[i] == '\'' ||
            (i + 3 <= tok->len && !memcmp(tok->text + i, "\xe2\x80\x99", 3))) {
            tok->len = i;
            return;
        }
    }
}

/* Lucene's ElisionFilter: drops an article and its apostrophe ("l'avion" -> "avion"). */
static void elision(const kiln__filter *f, kiln__run *run, kiln__tok *tok)
{
    for (size_t i = 0; i < tok->len; i++) {
        size_t al = tok->text[i] == '\''                                             ? 1
                    : i + 3 <= tok->len && !memcmp(tok->text + i, "\xe2\x80\x99", 3) ? 3
                                                                                     : 0;
        if (!al) continue;
        kiln__tok prefix = *tok;
        prefix.len = i;
        if (in_set(f, run, &prefix)) {
            tok->text += i + al;
            tok->len -= i + al;
        }
        return;
    }
}

/* Lucene's DecimalDigitFilter: any Unicode decimal digit becomes its ASCII digit. Digits come
 * in runs of ten starting at zero, so the value is the distance from the run's start mod 10. */
static void decimal_digit(kiln__run *run, kiln__tok *tok)
{
    size_t i = 0;
    while (i < tok->len && (unsigned char)tok->text[i] < 0x80)
        i++;
    if (i == tok->len) return;
    char *out = kiln__scratch(run, tok, tok->len + 1);
    memcpy(out, tok->text, i);
    size_t o = i;
    const unsigned char *s = (const unsigned char *)tok->text;
    while (i < tok->len) {
        size_t l;
        int32_t cp = kiln__utf8_decode(s + i, tok->len - i, &l);
        if (l > 1 && utf8proc_category(cp) == UTF8PROC_CATEGORY_ND) {
            int32_t start = cp;
            while (start > 0 && utf8proc_category(start - 1) == UTF8PROC_CATEGORY_ND)
                start--;
            out[o++] = (char)('0' + (cp - start) % 10);
        } else {
            memcpy(out + o, s + i, l);
            o += l;
        }
        i += l;
    }
    tok->text = out;
    tok->len = o;
}

int kiln__filter_apply(const kiln__filter *f, kiln__filter_state *fs, kiln__run *run,
                       kiln__tok *tok)
{
    switch (f->kind) {
    case KILN__TF_LOWERCASE:
        lowercase(run, tok);
        break;
    case KILN__TF_UPPERCASE:
        map_case(run, tok, utf8proc_toupper);
        break;
    case KILN__TF_STOP:
        if (in_set(f, run, tok)) return KILN__DROP;
        break;
    case KILN__TF_KEYWORD_MARKER:
        if (in_set(f, run, tok)) tok->keyword = true;
        break;
    case KILN__TF_PORTER:
        if (!tok->keyword) kiln__stem_porter(run, tok);
        break;
    case KILN__TF_SNOWBALL:
        if (!tok->keyword && fs->stemmer) kiln__stem_snowball(fs->stemmer, run, tok);
        break;
    case KILN__TF_MINIMAL_ENGLISH:
        if (!tok->keyword) kiln__stem_minimal_english(run, tok);
        break;
    case KILN__TF_POSSESSIVE:
        possessive(tok);
        break;
    case KILN__TF_ASCIIFOLDING:
        kiln__asciifold(run, tok);
        break;
    case KILN__TF_TRIM:
        trim(tok);
        break;
    case KILN__TF_LENGTH: {
        size_t c = nchars(tok->text, tok->len);
        if (c < f->min || c > f->max) return KILN__DROP;
        break;
    }
    case KILN__TF_UNIQUE:
        if (!kiln__strset_add(fs->seen, tok->text, tok->len)) return KILN__DROP_NOGAP;
        break;
    case KILN__TF_REVERSE:
        reverse(run, tok);
        break;
    case KILN__TF_TRUNCATE:
        truncate_tok(tok, f->max);
        break;
    case KILN__TF_APOSTROPHE:
        apostrophe(tok);
        break;
    case KILN__TF_ELISION:
        elision(f, run, tok);
        break;
    case KILN__TF_DECIMAL_DIGIT:
        decimal_digit(run, tok);
        break;
    case KILN__TF_STEMMER_OVERRIDE: {
        const char **outs;
        const size_t *olen;
        if (!tok->keyword && kiln__synonyms_lookup(f->syn, tok->text, tok->len, &outs, &olen)) {
            tok->text = outs[0]; /* owned by the filter: stable for the analyzer's life */
            tok->len = olen[0];
            tok->keyword = true; /* later stemmers leave it alone */
        }
        break;
    }
    case KILN__TF_EDGE_NGRAM:
    case KILN__TF_NGRAM:
    case KILN__TF_SYNONYM:
        break; /* multi-output: see kiln__filter_multi */
    }
    return KILN__KEEP;
}

void kiln__filter_begin(const kiln__filter *f, kiln__filter_state *fs)
{
    fs->seen = NULL;
    fs->stemmer = NULL;
    if (f->kind == KILN__TF_UNIQUE) fs->seen = kiln__strset_new();
    if (f->kind == KILN__TF_SNOWBALL) fs->stemmer = kiln__stemmer_acquire(f->pool);
}

void kiln__filter_end(const kiln__filter *f, kiln__filter_state *fs)
{
    kiln__strset_free(fs->seen);
    if (fs->stemmer) kiln__stemmer_release(f->pool, fs->stemmer);
    fs->seen = NULL;
    fs->stemmer = NULL;
}

void kiln__filter_dispose(kiln__filter *f)
{
    kiln__strset_free(f->set);
    kiln__stemmer_pool_free(f->pool);
    kiln__synonyms_free(f->syn);
    f->set = NULL;
    f->pool = NULL;
    f->syn = NULL;
}
