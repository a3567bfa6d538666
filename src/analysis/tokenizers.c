/* Tokenizers: standard (UAX#29 words as Lucene's StandardTokenizer), whitespace, letter,
 * lowercase, keyword. Each call produces one token; text is borrowed from the input except for
 * the lowercase tokenizer, which writes into the tokenizer state. */
#include "analysis/analysis_int.h"

#include <utf8proc.h>

const char kiln__t_alphanum[] = "<ALPHANUM>";
const char kiln__t_num[] = "<NUM>";
#define T_ALPHANUM kiln__t_alphanum
#define T_NUM kiln__t_num
static const char T_SEA[] = "<SOUTHEAST_ASIAN>";
static const char T_IDEO[] = "<IDEOGRAPHIC>";
static const char T_HIRA[] = "<HIRAGANA>";
static const char T_KATA[] = "<KATAKANA>";
static const char T_HANGUL[] = "<HANGUL>";
static const char T_EMOJI[] = "<EMOJI>";
static const char T_WORD[] = "word";

/* Class of the character at s[i]; sets *clen. ASCII is the common case. */
static inline uint8_t cls_at(const char *s, size_t n, size_t i, size_t *clen, int32_t *cpo)
{
    const unsigned char *u = (const unsigned char *)s + i;
    int32_t cp;
    if (*u < 0x80) {
        *clen = 1;
        cp = *u;
    } else {
        cp = kiln__utf8_decode(u, n - i, clen);
    }
    if (cpo) *cpo = cp;
    return kiln__uclass_fast(cp);
}

#define WB(c) ((c)&KILN__UC_WB_MASK)

static inline bool is_ah(int c)
{
    return c == KILN__WB_ALETTER || c == KILN__WB_HANGUL || c == KILN__WB_HEBREW;
}

static inline bool is_extend(int c)
{
    return c == KILN__WB_EXTEND || c == KILN__WB_ZWJ;
}

/* Skips Extend/Format/ZWJ characters from i (WB4); counts them into *nchars. */
static size_t skip_extend(const char *s, size_t n, size_t i, uint32_t *nchars, uint32_t max)
{
    while (i < n && *nchars < max) {
        size_t l;
        if (!is_extend(WB(cls_at(s, n, i, &l, NULL)))) break;
        i += l;
        (*nchars)++;
    }
    return i;
}

/* One UAX#29 word starting at pos (whose class is c0). Returns its end; fills the type, or NULL
 * when the word holds no letter or digit (only connector punctuation), which is not a token. */
static size_t scan_word(const char *s, size_t n, size_t pos, int c0, size_t l0, uint32_t max,
                        const char **type)
{
    uint32_t nchars = 1;
    size_t i = pos + l0;
    int prev = c0;
    bool letters = is_ah(c0) || c0 == KILN__WB_KATAKANA, digits = c0 == KILN__WB_NUMERIC;
    bool all_hangul = c0 == KILN__WB_HANGUL, all_kata = c0 == KILN__WB_KATAKANA;
    bool other = !all_hangul && !all_kata; /* anything that makes the type <ALPHANUM> */
    while (i < n && nchars < max) {
        size_t l;
        int c;
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) {
            c = WB(kiln__uc_bmp[b]);
            l = 1;
            /* hot path: a run of ASCII letters and digits after a letter or digit (WB5, 8-10) */
            if ((c == KILN__WB_ALETTER || c == KILN__WB_NUMERIC) &&
                (is_ah(prev) || prev == KILN__WB_NUMERIC)) {
                other = true;
                all_hangul = all_kata = false;
                do {
                    if (c == KILN__WB_ALETTER)
                        letters = true;
                    else
                        digits = true;
                    prev = c;
                    i++;
                    nchars++;
                    if (i >= n || nchars >= max || (unsigned char)s[i] >= 0x80) break;
                    c = WB(kiln__uc_bmp[(unsigned char)s[i]]);
                } while (c == KILN__WB_ALETTER || c == KILN__WB_NUMERIC);
                continue;
            }
        } else {
            c = WB(cls_at(s, n, i, &l, NULL));
        }
        if (is_extend(c)) { /* WB4: marks and format characters belong to what precedes */
            i += l;
            nchars++;
            continue;
        }
        bool join = false;
        if ((is_ah(prev) && (is_ah(c) || c == KILN__WB_NUMERIC)) ||
            (prev == KILN__WB_NUMERIC && (is_ah(c) || c == KILN__WB_NUMERIC)) ||
            (prev == KILN__WB_KATAKANA && c == KILN__WB_KATAKANA) ||
            (c == KILN__WB_ENL && (is_ah(prev) || prev == KILN__WB_NUMERIC ||
                                   prev == KILN__WB_KATAKANA || prev == KILN__WB_ENL)) ||
            (prev == KILN__WB_ENL && (is_ah(c) || c == KILN__WB_NUMERIC || c == KILN__WB_KATAKANA)))
            join = true; /* WB5, WB8-10, WB13, WB13a, WB13b */
        if (join) {
            i += l;
            nchars++;
            if (c == KILN__WB_HANGUL) {
                if (!all_hangul) other = true;
            } else if (c == KILN__WB_KATAKANA) {
                if (!all_kata) other = true;
            } else {
                other = true;
            }
            if (c != KILN__WB_HANGUL) all_hangul = false;
            if (c != KILN__WB_KATAKANA) all_kata = false;
            if (is_ah(c) || c == KILN__WB_KATAKANA) letters = true;
            if (c == KILN__WB_NUMERIC) digits = true;
            prev = c;
            continue;
        }
        /* WB6/7 (letters around MidLetter), WB11/12 (digits around MidNum), WB7b/c (Hebrew
         * around "): look past the middle character and its extenders. */
        bool mid_l =
            is_ah(prev) && (c == KILN__WB_MIDLETTER || c == KILN__WB_MIDNUMLET || c == KILN__WB_SQ);
        bool mid_n = prev == KILN__WB_NUMERIC &&
                     (c == KILN__WB_MIDNUM || c == KILN__WB_MIDNUMLET || c == KILN__WB_SQ);
        bool mid_h = prev == KILN__WB_HEBREW && c == KILN__WB_DQ;
        if (mid_l || mid_n || mid_h) {
            uint32_t k = nchars + 1;
            size_t j = skip_extend(s, n, i + l, &k, UINT32_MAX);
            if (j < n && k < max) {
                size_t l2;
                int c2 = WB(cls_at(s, n, j, &l2, NULL));
                if ((mid_l && is_ah(c2)) || (mid_n && c2 == KILN__WB_NUMERIC) ||
                    (mid_h && c2 == KILN__WB_HEBREW)) {
                    i = j + l2;
                    nchars = k + 1;
                    other = true;
                    all_hangul = all_kata = false;
                    prev = c2;
                    continue;
                }
            }
        }
        if (prev == KILN__WB_HEBREW && c == KILN__WB_SQ) { /* WB7a: Hebrew_Letter × ' */
            i += l;
            nchars++;
            other = true;
            all_hangul = all_kata = false;
            prev = KILN__WB_OTHER;
        }
        break;
    }
    if (!letters && !digits)
        *type = NULL;
    else if (!letters)
        *type = T_NUM;
    else if (!other && all_hangul)
        *type = T_HANGUL;
    else if (!other && all_kata)
        *type = T_KATA;
    else
        *type = T_ALPHANUM;
    return i;
}

/* An emoji sequence from pos: base (Extend | FE0F)* (ZWJ pictograph (Extend)*)*. */
static size_t scan_emoji(const char *s, size_t n, size_t pos, size_t l0)
{
    size_t i = pos + l0;
    for (;;) {
        uint32_t k = 0;
        i = skip_extend(s, n, i, &k, UINT32_MAX);
        /* skip_extend already consumed ZWJ: continue if a pictograph follows it */
        if (i >= n) break;
        size_t l;
        const unsigned char *prevb = (const unsigned char *)s + i - 3;
        bool after_zwj = i >= 3 && prevb[0] == 0xe2 && prevb[1] == 0x80 && prevb[2] == 0x8d;
        int c = WB(cls_at(s, n, i, &l, NULL));
        if (after_zwj && (c == KILN__WB_EMOJI || c == KILN__WB_EPICT)) {
            i += l;
            continue;
        }
        break;
    }
    return i;
}

/* Whether a text-presentation pictograph at pos is followed by U+FE0F (emoji presentation). */
static bool has_vs16(const char *s, size_t n, size_t i)
{
    while (i < n) {
        size_t l;
        int32_t cp;
        int c = WB(cls_at(s, n, i, &l, &cp));
        if (cp == 0xfe0f) return true;
        if (!is_extend(c)) return false;
        i += l;
    }
    return false;
}

static bool next_standard(const kiln__tokenizer *t, kiln__tokenizer_state *st, kiln__tok *tok)
{
    const char *s = st->text;
    size_t n = st->len;
    size_t i = st->pos;
    while (i < n) {
        size_t l;
        int c = WB(cls_at(s, n, i, &l, NULL));
        size_t end;
        const char *type = NULL;
        switch (c) {
        case KILN__WB_ALETTER:
        case KILN__WB_HANGUL:
        case KILN__WB_HEBREW:
        case KILN__WB_NUMERIC:
        case KILN__WB_KATAKANA:
        case KILN__WB_ENL:
            end = scan_word(s, n, i, c, l, t->max_token_length, &type);
            break;
        case KILN__WB_HAN:
        case KILN__WB_HIRAGANA: {
            uint32_t k = 1;
            end = skip_extend(s, n, i + l, &k, t->max_token_length);
            type = c == KILN__WB_HAN ? T_IDEO : T_HIRA;
            break;
        }
        case KILN__WB_SA: {
            uint32_t k = 1;
            end = i + l;
            while (end < n && k < t->max_token_length) {
                size_t l2;
                int c2 = WB(cls_at(s, n, end, &l2, NULL));
                if (c2 != KILN__WB_SA && !is_extend(c2)) break;
                end += l2;
                k++;
            }
            type = T_SEA;
            break;
        }
        case KILN__WB_EMOJI:
            end = scan_emoji(s, n, i, l);
            type = T_EMOJI;
            break;
        case KILN__WB_EPICT:
            if (has_vs16(s, n, i + l)) {
                end = scan_emoji(s, n, i, l);
                type = T_EMOJI;
            } else {
                end = i + l;
            }
            break;
        case KILN__WB_RI: {
            size_t l2;
            if (i + l < n && WB(cls_at(s, n, i + l, &l2, NULL)) == KILN__WB_RI) {
                end = i + l + l2;
                type = T_EMOJI;
            } else {
                end = i + l;
            }
            break;
        }
        default:
            end = i + l;
            break;
        }
        if (type) {
            st->pos = end;
            tok->text = s + i;
            tok->len = end - i;
            tok->start = (uint32_t)i;
            tok->end = (uint32_t)end;
            tok->type = type;
            return true;
        }
        i = end;
    }
    st->pos = n;
    return false;
}

/* Lucene's CharTokenizer: maximal runs of token characters, cut every max_token_length. */
static bool next_chars(const kiln__tokenizer *t, kiln__tokenizer_state *st, kiln__tok *tok)
{
    const char *s = st->text;
    size_t n = st->len;
    size_t i = st->pos;
    bool lower = t->kind == KILN__TK_LOWERCASE;
    bool ws = t->kind == KILN__TK_WHITESPACE;
    size_t start = 0, out = 0;
    uint32_t k = 0;
    bool in_tok = false;
    while (i < n) {
        size_t l;
        int32_t cp;
        uint8_t c;
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) { /* ASCII: one table load */
            l = 1;
            cp = b;
            c = kiln__uc_bmp[b];
        } else {
            c = cls_at(s, n, i, &l, &cp);
        }
        bool tc = ws ? !(c & KILN__UC_SPACE) : (c & KILN__UC_LETTER) != 0;
        if (!tc) {
            if (in_tok) break;
            i += l;
            continue;
        }
        if (!in_tok) {
            in_tok = true;
            start = i;
        }
        if (lower) {
            if (b < 0x80)
                st->lower[out++] = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
            else
                out += kiln__utf8_encode(utf8proc_tolower(cp), st->lower + out);
        }
        i += l;
        if (++k >= t->max_token_length || (lower && k >= 256)) break;
    }
    st->pos = i;
    if (!in_tok) return false;
    tok->text = lower ? st->lower : s + start;
    tok->len = lower ? out : i - start;
    tok->start = (uint32_t)start;
    tok->end = (uint32_t)i;
    tok->type = T_WORD;
    return true;
}

bool kiln__tokenizer_next(const kiln__tokenizer *t, kiln__tokenizer_state *st, kiln__tok *tok)
{
    tok->posinc = 1;
    tok->keyword = false;
    switch (t->kind) {
    case KILN__TK_STANDARD:
        return next_standard(t, st, tok);
    case KILN__TK_WHITESPACE:
    case KILN__TK_LETTER:
    case KILN__TK_LOWERCASE:
        return next_chars(t, st, tok);
    case KILN__TK_NGRAM:
    case KILN__TK_EDGE_NGRAM:
        return kiln__ngram_next(t, st, tok);
    case KILN__TK_KEYWORD:
        /* Lucene's KeywordTokenizer emits the whole input once, even when it is empty. */
        if (st->pos > st->len || st->pos == SIZE_MAX) return false;
        tok->text = st->text;
        tok->len = st->len;
        tok->start = 0;
        tok->end = (uint32_t)st->len;
        tok->type = T_WORD;
        st->pos = SIZE_MAX;
        return true;
    }
    return false;
}
