/* Private to src/analysis: the pieces an analyzer is built from (tokenizer, token filters,
 * character classes) and the per-call run state. Nothing outside src/analysis includes this. */
#ifndef KILN_ANALYSIS_INT_H
#define KILN_ANALYSIS_INT_H

#include "analysis/analysis.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Unicode character classes (unicode.c) ---------------------------------------------- */

/* UAX#29 word-break classes as Lucene's StandardTokenizer grammar uses them, plus the extra
 * classes it types tokens by (Han, Hiragana, South-East Asian, Hangul, emoji). */
enum {
    KILN__WB_OTHER = 0,
    KILN__WB_ALETTER,
    KILN__WB_HANGUL, /* ALetter of the Hangul script: tokens typed <HANGUL> */
    KILN__WB_HEBREW,
    KILN__WB_NUMERIC,
    KILN__WB_KATAKANA,
    KILN__WB_ENL, /* ExtendNumLet: '_' and other connector punctuation */
    KILN__WB_MIDLETTER,
    KILN__WB_MIDNUM,
    KILN__WB_MIDNUMLET,
    KILN__WB_SQ,     /* ' */
    KILN__WB_DQ,     /* " */
    KILN__WB_EXTEND, /* Extend and Format: absorbed by the preceding character (WB4) */
    KILN__WB_ZWJ,
    KILN__WB_HAN,
    KILN__WB_HIRAGANA,
    KILN__WB_SA,    /* Line_Break=Complex_Context: Thai, Lao, Khmer, Myanmar... */
    KILN__WB_EMOJI, /* Extended_Pictographic with emoji presentation */
    KILN__WB_EPICT, /* Extended_Pictographic, text presentation: emoji only with U+FE0F */
    KILN__WB_RI,    /* regional indicator (flags) */
};
#define KILN__UC_WB_MASK 0x1f
#define KILN__UC_LETTER 0x20 /* Java Character.isLetter */
#define KILN__UC_SPACE 0x40  /* Java Character.isWhitespace */

/* Class byte of a code point (WB class | flags). Thread-safe; tables built on first use. */
uint8_t kiln__uclass(int32_t cp);

/* The BMP table behind kiln__uclass, for the tokenizers' hot loops. Valid once
 * kiln__unicode_init() has run; every way of obtaining an analyzer runs it first. */
extern uint8_t kiln__uc_bmp[0x10000];
void kiln__unicode_init(void);

/* The standard tokenizer's fast path (analyzer.c): each byte's role, derived from kiln__uc_bmp
 * when it is built. Bytes >= 0x80 and ASCII that can start or join a word in a way the fast path
 * does not follow ('_' = ExtendNumLet) are 0: the general UAX#29 path decides for them. */
enum {
    KILN__A_ALNUM = 1,  /* ALetter or Numeric: a word character */
    KILN__A_UPPER = 2,  /* A-Z: the lowercase filter changes it */
    KILN__A_LETTER = 4, /* ALetter: the token is <ALPHANUM>, not <NUM> */
    KILN__A_BREAK = 8,  /* Other or '"': never inside a word that starts with ASCII */
    KILN__A_MID = 16,   /* MidLetter, MidNum, MidNumLet, "'": inside a word only before a word
                           character (WB6/7, WB11/12) */
};
extern uint8_t kiln__ascii_std[256];

/* Token types of the standard tokenizer (tokenizers.c). */
extern const char kiln__t_alphanum[];
extern const char kiln__t_num[];

static inline uint8_t kiln__uclass_fast(int32_t cp)
{
    return cp < 0x10000 ? kiln__uc_bmp[cp] : kiln__uclass(cp);
}

/* Decodes one UTF-8 character at s[0..n) (n >= 1). Invalid or truncated sequences decode as
 * U+FFFD with length 1, so any byte string can be walked without crashing. */
static inline int32_t kiln__utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *len = 1;
        return (int32_t)c;
    }
    int32_t cp;
    size_t need;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07;
    } else {
        goto bad;
    }
    if (n < need) goto bad;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) goto bad;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong, surrogate and out-of-range forms */
    if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        goto bad;
    *len = need;
    return cp;
bad:
    *len = 1;
    return 0xfffd;
}

/* Encodes cp as UTF-8 into out (room for 4 bytes); returns the byte count. */
static inline size_t kiln__utf8_encode(int32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- Tokens in flight and the per-call run state (analyzer.c) --------------------------- */

typedef struct kiln__tok {
    const char *text; /* input, or one of the run's scratch buffers */
    size_t len;
    uint32_t posinc;
    uint32_t start, end;
    const char *type;
    bool keyword; /* set by keyword_marker: stemmers leave it alone */
} kiln__tok;

#define KILN__INLINE_SCRATCH 512
typedef struct kiln__run {
    char *buf[2]; /* ping-pong scratch so a filter can read tok->text while writing */
    size_t cap[2];
    char inl[2][KILN__INLINE_SCRATCH];
    struct kiln__filter_state *fstate; /* per-filter call state, NULL when none needed */
} kiln__run;

/* A scratch buffer of at least `need` bytes that does not hold tok->text. Valid until the
 * next call for the same token or the end of the run. */
char *kiln__scratch(kiln__run *run, const kiln__tok *tok, size_t need);

/* ---- Tokenizers (tokenizers.c) ---------------------------------------------------------- */

typedef enum {
    KILN__TK_STANDARD,
    KILN__TK_WHITESPACE,
    KILN__TK_LETTER,
    KILN__TK_LOWERCASE,
    KILN__TK_KEYWORD,
    KILN__TK_NGRAM,
    KILN__TK_EDGE_NGRAM,
} kiln__tokenizer_kind;

/* token_chars classes of the n-gram tokenizers */
enum {
    KILN__TC_LETTER = 1,
    KILN__TC_DIGIT = 2,
    KILN__TC_WHITESPACE = 4,
    KILN__TC_PUNCTUATION = 8,
    KILN__TC_SYMBOL = 16,
};

typedef struct kiln__tokenizer {
    kiln__tokenizer_kind kind;
    uint32_t max_token_length; /* in characters */
    uint32_t min_gram, max_gram;
    unsigned token_chars; /* KILN__TC_* mask; 0: every character */
} kiln__tokenizer;

typedef struct kiln__tokenizer_state {
    const char *text;
    size_t len;
    size_t pos;
    /* n-gram tokenizers: the current word [pos .. word_end), gram start, gram length */
    size_t word_end, gram_start;
    uint32_t glen;
    bool in_word;
    char lower[4 * 256 + 8]; /* lowercase tokenizer output */
} kiln__tokenizer_state;

/* ngram.c */
bool kiln__ngram_next(const kiln__tokenizer *t, kiln__tokenizer_state *st, kiln__tok *tok);

/* Produces the next token into tok (text borrowed from the input or from st). Returns false at
 * the end of input. */
bool kiln__tokenizer_next(const kiln__tokenizer *t, kiln__tokenizer_state *st, kiln__tok *tok);

/* ---- Token filters (filters.c, stem.c, stopwords.c) ------------------------------------- */

typedef struct kiln__strset kiln__strset;
kiln__strset *kiln__strset_new(void);
void kiln__strset_free(kiln__strset *s);
/* Adds a copy of s[0..n); returns true if it was new. */
bool kiln__strset_add(kiln__strset *s, const char *str, size_t n);
bool kiln__strset_has(const kiln__strset *s, const char *str, size_t n);
size_t kiln__strset_count(const kiln__strset *s);
void kiln__strset_clear(kiln__strset *s);

/* The predefined stop word list `_name_` (e.g. "_english_"), NULL-terminated; NULL if none. */
const char *const *kiln__stopwords_named(const char *name);

typedef enum {
    KILN__TF_LOWERCASE,
    KILN__TF_UPPERCASE,
    KILN__TF_STOP,
    KILN__TF_PORTER,   /* Lucene's PorterStemmer: stemmer "english", porter_stem */
    KILN__TF_SNOWBALL, /* libstemmer */
    KILN__TF_MINIMAL_ENGLISH,
    KILN__TF_POSSESSIVE,
    KILN__TF_ASCIIFOLDING,
    KILN__TF_TRIM,
    KILN__TF_LENGTH,
    KILN__TF_UNIQUE,
    KILN__TF_KEYWORD_MARKER,
    KILN__TF_REVERSE,
    KILN__TF_TRUNCATE,
    KILN__TF_APOSTROPHE,
    KILN__TF_ELISION,
    KILN__TF_DECIMAL_DIGIT,
    KILN__TF_STEMMER_OVERRIDE,
    KILN__TF_EDGE_NGRAM, /* one token in, several out: run by the pipeline (analyzer.c) */
    KILN__TF_NGRAM,
    KILN__TF_SYNONYM,
} kiln__filter_kind;

typedef struct kiln__stemmer_pool kiln__stemmer_pool;

/* synonyms.c: single-token synonym rules, term -> outputs */
typedef struct kiln__synonyms kiln__synonyms;
int kiln__synonyms_build(json_t *rules, const kiln_analyzer *chain, bool expand, bool lenient,
                         kiln__synonyms **out, const char *what, kiln_error *err);
size_t kiln__synonyms_lookup(const kiln__synonyms *m, const char *k, size_t n, const char ***outs,
                             const size_t **olen);
void kiln__synonyms_free(kiln__synonyms *m);

typedef struct kiln__filter {
    kiln__filter_kind kind;
    kiln__strset *set; /* stop words / keywords; owned */
    bool ignore_case;
    bool preserve_original;   /* asciifolding */
    uint32_t min, max;        /* length; truncate uses max */
    kiln__stemmer_pool *pool; /* snowball; owned */
    kiln__synonyms *syn;      /* synonym; owned */
} kiln__filter;

/* Filter results: keep the token, drop it leaving a position gap (stop), or drop it and let
 * the next token close up (unique). */
enum { KILN__KEEP = 0, KILN__DROP = 1, KILN__DROP_NOGAP = 2 };

typedef struct kiln__filter_state {
    kiln__strset *seen; /* unique */
    struct sb_stemmer *stemmer;
} kiln__filter_state;

int kiln__filter_apply(const kiln__filter *f, kiln__filter_state *fs, kiln__run *run,
                       kiln__tok *tok);
void kiln__filter_dispose(kiln__filter *f);
void kiln__asciifold(kiln__run *run, kiln__tok *tok);
/* Whether f turns one token into several (the pipeline runs it, not kiln__filter_apply). */
static inline bool kiln__filter_multi(const kiln__filter *f)
{
    return f->kind == KILN__TF_EDGE_NGRAM || f->kind == KILN__TF_NGRAM ||
           f->kind == KILN__TF_SYNONYM ||
           (f->kind == KILN__TF_ASCIIFOLDING && f->preserve_original);
}
/* Per-call state: begin before the first token, end after the last (returns pooled items). */
void kiln__filter_begin(const kiln__filter *f, kiln__filter_state *fs);
void kiln__filter_end(const kiln__filter *f, kiln__filter_state *fs);

/* stem.c */
kiln__stemmer_pool *kiln__stemmer_pool_new(const char *algorithm); /* NULL if unknown */
void kiln__stemmer_pool_free(kiln__stemmer_pool *p);
struct sb_stemmer *kiln__stemmer_acquire(kiln__stemmer_pool *p);
void kiln__stemmer_release(kiln__stemmer_pool *p, struct sb_stemmer *s);
/* Stems tok in place or into scratch. */
void kiln__stem_snowball(struct sb_stemmer *s, kiln__run *run, kiln__tok *tok);
void kiln__stem_porter(kiln__run *run, kiln__tok *tok);
void kiln__stem_minimal_english(kiln__run *run, kiln__tok *tok);

/* porter.c: Lucene's PorterStemmer (Porter's reference implementation with its departures)
 * over code points; returns the new length (<= n). */
size_t kiln__porter_stem(int32_t *b, size_t n);

/* ---- Character filters (charfilters.c) -------------------------------------------------- */

typedef enum { KILN__CF_HTML_STRIP, KILN__CF_MAPPING } kiln__char_filter_kind;

typedef struct kiln__char_filter {
    kiln__char_filter_kind kind;
    kiln__strset *set; /* html_strip escaped_tags (lowercase); owned */
    char **from, **to; /* mapping rules; owned */
    size_t *from_len, *to_len;
    size_t nrules;
} kiln__char_filter;

/* Filtered text; ms/me give each byte's source span in the original (NULL: identity). */
typedef struct kiln__cf_text {
    char *text;
    size_t len;
    uint32_t *ms, *me;
} kiln__cf_text;

/* Runs the chain over text; out->text is text itself when ncf == 0, else owned by out. */
void kiln__char_filters_run(const kiln__char_filter *cfs, size_t ncf, const char *text, size_t len,
                            kiln__cf_text *out);
void kiln__cf_text_dispose(kiln__cf_text *t);
void kiln__char_filter_dispose(kiln__char_filter *cf);

/* ---- Analyzers (analyzer.c, registry.c) ------------------------------------------------- */

#define KILN__MAX_FILTERS 32
#define KILN__MAX_CHAR_FILTERS 8

struct kiln_analyzer {
    char *name;
    kiln__tokenizer tokenizer;
    kiln__filter filters[KILN__MAX_FILTERS];
    size_t nfilters;
    kiln__char_filter cfilters[KILN__MAX_CHAR_FILTERS];
    size_t ncf;
    bool needs_state; /* some filter keeps per-call state */
    uint32_t position_increment_gap;
};

void kiln__analyzer_dispose(kiln_analyzer *a);

/* kiln_analyze, also reporting the position increments of dropped tokens after the last one
 * (what Lucene's TokenStream.end() reports; _analyze adds it between values). */
/* kiln__analyze_ex without the fused standard + lowercase fast path (analyzer.c): the
 * reference the fast path is tested against. */
int kiln__analyze_general(const kiln_analyzer *a, const char *text, size_t len,
                          uint32_t position_base, kiln_token_fn fn, void *ctx, uint32_t *trailing);

int kiln__analyze_ex(const kiln_analyzer *a, const char *text, size_t len,
                     uint32_t position_base, kiln_token_fn fn, void *ctx, uint32_t *trailing);

#endif
