/* Character classes for the tokenizers: UAX#29 word-break classes approximated from utf8proc's
 * general categories and grapheme-break data plus the short explicit lists of UAX#29, and Java's
 * isLetter / isWhitespace. The BMP is tabulated once (64 KiB) so the hot path is one load. */
#include "analysis/analysis_int.h"

#include <utf8proc.h>

uint8_t kiln__uc_bmp[0x10000];
static pthread_once_t kiln__bmp_once = PTHREAD_ONCE_INIT;

static bool in(int32_t cp, int32_t lo, int32_t hi)
{
    return cp >= lo && cp <= hi;
}

static bool is_han(int32_t cp)
{
    return in(cp, 0x2e80, 0x2e99) || in(cp, 0x2e9b, 0x2ef3) || in(cp, 0x2f00, 0x2fd5) ||
           cp == 0x3005 || cp == 0x3007 || in(cp, 0x3021, 0x3029) || in(cp, 0x3038, 0x303b) ||
           in(cp, 0x3400, 0x4dbf) || in(cp, 0x4e00, 0x9fff) || in(cp, 0xf900, 0xfa6d) ||
           in(cp, 0xfa70, 0xfad9) || in(cp, 0x20000, 0x2a6df) || in(cp, 0x2a700, 0x2ebe0) ||
           in(cp, 0x2f800, 0x2fa1d) || in(cp, 0x30000, 0x323af);
}

static bool is_hiragana(int32_t cp)
{
    return in(cp, 0x3041, 0x3096) || in(cp, 0x309d, 0x309f) || in(cp, 0x1b001, 0x1b11f) ||
           cp == 0x1f200;
}

static bool is_katakana(int32_t cp)
{
    return in(cp, 0x3031, 0x3035) || cp == 0x309b || cp == 0x309c || in(cp, 0x30a0, 0x30fa) ||
           in(cp, 0x30fc, 0x30ff) || in(cp, 0x31f0, 0x31ff) || in(cp, 0x32d0, 0x32fe) ||
           in(cp, 0x3300, 0x3357) || in(cp, 0xff66, 0xff9d) || cp == 0x1b000 ||
           in(cp, 0x1aff0, 0x1affe) || in(cp, 0x1b120, 0x1b122) || in(cp, 0x1b164, 0x1b167);
}

static bool is_hangul(int32_t cp)
{
    return in(cp, 0x1100, 0x11ff) || in(cp, 0x3131, 0x318e) || in(cp, 0xa960, 0xa97f) ||
           in(cp, 0xac00, 0xd7a3) || in(cp, 0xd7b0, 0xd7ff) || in(cp, 0xffa0, 0xffdc);
}

/* Line_Break=Complex_Context scripts (letters and marks only; their digits are Numeric). */
static bool is_sa_block(int32_t cp)
{
    return in(cp, 0x0e00, 0x0eff) || in(cp, 0x1000, 0x109f) || in(cp, 0x1780, 0x17ff) ||
           in(cp, 0x1950, 0x19df) || in(cp, 0x19e0, 0x19ff) || in(cp, 0x1a20, 0x1aaf) ||
           in(cp, 0xa9e0, 0xa9ff) || in(cp, 0xaa60, 0xaadf) || in(cp, 0x11700, 0x1174f);
}

static bool is_hebrew_letter(int32_t cp)
{
    return in(cp, 0x05d0, 0x05ea) || in(cp, 0x05ef, 0x05f2) || cp == 0xfb1d ||
           in(cp, 0xfb1f, 0xfb28) || in(cp, 0xfb2a, 0xfb4f);
}

static uint8_t wb_class(int32_t cp, const utf8proc_property_t *p)
{
    switch (cp) {
    case 0x27:
        return KILN__WB_SQ;
    case 0x22:
        return KILN__WB_DQ;
    case 0x3a:
    case 0xb7:
    case 0x387:
    case 0x55f:
    case 0x5f4:
    case 0x2027:
    case 0xfe13:
    case 0xfe55:
    case 0xff1a:
        return KILN__WB_MIDLETTER;
    case 0x2c:
    case 0x3b:
    case 0x37e:
    case 0x589:
    case 0x60c:
    case 0x60d:
    case 0x66c:
    case 0x7f8:
    case 0x2044:
    case 0xfe10:
    case 0xfe14:
    case 0xfe50:
    case 0xfe54:
    case 0xff0c:
    case 0xff1b:
        return KILN__WB_MIDNUM;
    case 0x2e:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0xfe52:
    case 0xff07:
    case 0xff0e:
        return KILN__WB_MIDNUMLET;
    case 0x200d:
        return KILN__WB_ZWJ;
    case 0x200b: /* ZWSP is Other, not Format */
        return KILN__WB_OTHER;
    case 0x202f:
        return KILN__WB_ENL;
    case 0x5f3: /* Hebrew geresh */
        return KILN__WB_ALETTER;
    case 0xff9e:
    case 0xff9f:
        return KILN__WB_EXTEND;
    default:
        break;
    }
    int cat = p->category;
    if (p->boundclass == UTF8PROC_BOUNDCLASS_REGIONAL_INDICATOR) return KILN__WB_RI;
    if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_MC ||
        cat == UTF8PROC_CATEGORY_CF || p->boundclass == UTF8PROC_BOUNDCLASS_EXTEND ||
        p->boundclass == UTF8PROC_BOUNDCLASS_E_MODIFIER) {
        /* marks of the complex-context scripts stay inside their runs */
        if (is_sa_block(cp) && cat != UTF8PROC_CATEGORY_CF) return KILN__WB_SA;
        return KILN__WB_EXTEND;
    }
    if (cat == UTF8PROC_CATEGORY_ND) return KILN__WB_NUMERIC;
    if (cat == UTF8PROC_CATEGORY_PC) return KILN__WB_ENL;
    bool letterish = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                     cat == UTF8PROC_CATEGORY_NL || in(cp, 0x24b6, 0x24e9);
    if (letterish) {
        if (is_han(cp)) return KILN__WB_HAN;
        if (is_hiragana(cp)) return KILN__WB_HIRAGANA;
        if (is_katakana(cp)) return KILN__WB_KATAKANA;
        if (is_sa_block(cp)) return KILN__WB_SA;
        if (is_hangul(cp)) return KILN__WB_HANGUL;
        if (is_hebrew_letter(cp)) return KILN__WB_HEBREW;
        return KILN__WB_ALETTER;
    }
    if (is_katakana(cp)) return KILN__WB_KATAKANA; /* 309B, 309C, 30A0 ... are not letters */
    if (p->boundclass == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC ||
        p->boundclass == UTF8PROC_BOUNDCLASS_E_ZWG)
        return p->charwidth == 2 ? KILN__WB_EMOJI : KILN__WB_EPICT;
    return KILN__WB_OTHER;
}

/* Java's Character.isWhitespace: space separators except no-break spaces, and the C0 controls
 * \t \n \v \f \r and 0x1C-0x1F. */
static bool java_whitespace(int32_t cp, int cat)
{
    if (cp == 0xa0 || cp == 0x2007 || cp == 0x202f) return false;
    if (in(cp, 0x09, 0x0d) || in(cp, 0x1c, 0x1f)) return true;
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

static uint8_t compute(int32_t cp)
{
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    uint8_t c = wb_class(cp, p);
    if (p->category >= UTF8PROC_CATEGORY_LU && p->category <= UTF8PROC_CATEGORY_LO)
        c |= KILN__UC_LETTER;
    if (java_whitespace(cp, p->category)) c |= KILN__UC_SPACE;
    return c;
}

uint8_t kiln__ascii_std[256];

static void build_ascii_std(void)
{
    for (int b = 0; b < 0x80; b++) {
        int32_t cp = b;
        int wb = kiln__uc_bmp[b] & KILN__UC_WB_MASK;
        uint8_t r = 0;
        if (wb == KILN__WB_ALETTER || wb == KILN__WB_NUMERIC) {
            r = KILN__A_ALNUM;
            if (wb == KILN__WB_ALETTER) r |= KILN__A_LETTER;
            /* what the lowercase filter does to ASCII (filters.c): A-Z only */
            if (cp >= 'A' && cp <= 'Z') r |= KILN__A_UPPER;
        } else if (wb == KILN__WB_OTHER || wb == KILN__WB_DQ) {
            r = KILN__A_BREAK;
        } else if (wb == KILN__WB_MIDLETTER || wb == KILN__WB_MIDNUM ||
                   wb == KILN__WB_MIDNUMLET || wb == KILN__WB_SQ) {
            r = KILN__A_MID;
        }
        kiln__ascii_std[b] = r; /* ENL, Extend...: 0, the general path */
    }
}

static void build_bmp(void)
{
    for (int32_t cp = 0; cp < 0x10000; cp++)
        kiln__uc_bmp[cp] = compute(cp);
    build_ascii_std();
}

void kiln__unicode_init(void)
{
    pthread_once(&kiln__bmp_once, build_bmp);
}

uint8_t kiln__uclass(int32_t cp)
{
    if (cp < 0x10000) {
        pthread_once(&kiln__bmp_once, build_bmp);
        return kiln__uc_bmp[cp];
    }
    if (cp > 0x10ffff) return KILN__WB_OTHER;
    return compute(cp);
}
