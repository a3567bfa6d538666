/* Running an analyzer: tokenizer, then each token through the filter chain, positions as
 * Lucene computes them (dropped tokens leave gaps), then the caller's callback. */
#include "analysis/analysis_int.h"

#include "core/buf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

char *kiln__scratch(kiln__run *run, const kiln__tok *tok, size_t need)
{
    /* tok->text may point anywhere inside a buffer (trim moves its start) */
    uintptr_t t = (uintptr_t)tok->text, b0 = (uintptr_t)run->buf[0];
    int b = t >= b0 && t < b0 + run->cap[0] ? 1 : 0;
    if (need > run->cap[b]) {
        size_t cap = run->cap[b] * 2;
        if (cap < need) cap = need;
        if (run->buf[b] == run->inl[b]) {
            run->buf[b] = kiln_xmalloc(cap);
        } else {
            run->buf[b] = kiln_xrealloc(run->buf[b], cap);
        }
        run->cap[b] = cap;
    }
    return run->buf[b];
}

static void run_init(kiln__run *run)
{
    for (int b = 0; b < 2; b++) {
        run->buf[b] = run->inl[b];
        run->cap[b] = KILN__INLINE_SCRATCH;
    }
    run->fstate = NULL;
}

static void run_dispose(kiln__run *run)
{
    for (int b = 0; b < 2; b++)
        if (run->buf[b] != run->inl[b]) free(run->buf[b]);
}

/* One analysis call: where tokens go and the position bookkeeping. */
typedef struct {
    const kiln_analyzer *a;
    kiln__filter_state *fs;
    kiln__run *run;
    int64_t pos;      /* signed: the first token's increment of 1 lands on the base */
    uint32_t pending; /* increments of dropped tokens, added to the next kept one */
    kiln_token_fn fn;
    void *ctx;
    const kiln__cf_text *cf; /* char-filtered text, for mapping offsets back; NULL if none */
    size_t orig_len;         /* length of the caller's text */
} pipe_t;

static int emit(pipe_t *p, const kiln__tok *t)
{
    p->pos += t->posinc + p->pending;
    p->pending = 0;
    kiln_token out = {
        .text = t->text,
        .len = t->len,
        .position = (uint32_t)p->pos,
        .start = t->start,
        .end = t->end,
        .type = t->type,
    };
    const kiln__cf_text *cf = p->cf;
    if (cf && cf->ms) {
        /* offsets into the caller's text, corrected as Lucene's BaseCharFilter does: an
         * offset maps to where the input of the filtered byte at that offset begins, so an end
         * offset moves past text removed right after the token ("<b>x</b>" -> 3..8), and the
         * end of the filtered text maps to the end of the input */
        uint32_t s = t->start, e = t->end;
        out.start = s < cf->len ? cf->ms[s] : (uint32_t)p->orig_len;
        out.end = e < cf->len ? cf->ms[e] : (uint32_t)p->orig_len;
        if (out.end < out.start) out.end = out.start;
    }
    return p->fn(&out, p->ctx);
}

static int push(pipe_t *p, size_t f, kiln__tok *t);

/* Byte length of the first `chars` characters of s[0..n) (all of it if shorter). */
static size_t prefix_bytes(const char *s, size_t n, size_t chars)
{
    size_t i = 0;
    while (i < n && chars) {
        size_t l;
        kiln__utf8_decode((const unsigned char *)s + i, n - i, &l);
        i += l;
        chars--;
    }
    return i;
}

/* Filters that turn one token into several. The source text is copied into this frame first:
 * the outputs go through later filters, whose scratch writes would otherwise clobber it. */
static int push_multi(pipe_t *p, size_t f, kiln__tok *t)
{
    const kiln__filter *flt = &p->a->filters[f];
    char local[256];
    char *copy = t->len <= sizeof local ? local : kiln_xmalloc(t->len);
    memcpy(copy, t->text, t->len);
    kiln__tok src = *t;
    src.text = copy;
    int rc = 0;
    if (flt->kind == KILN__TF_SYNONYM) {
        /* the rule's outputs replace the token at its position; the first keeps its
         * increment, the others stack on it */
        const char **outs;
        const size_t *olen;
        size_t n = kiln__synonyms_lookup(flt->syn, src.text, src.len, &outs, &olen);
        if (!n) {
            rc = push(p, f + 1, &src);
        } else {
            for (size_t i = 0; i < n && !rc; i++) {
                kiln__tok o = src;
                o.text = outs[i];
                o.len = olen[i];
                o.type = "SYNONYM";
                o.posinc = i ? 0 : src.posinc;
                rc = push(p, f + 1, &o);
            }
        }
    } else if (flt->kind == KILN__TF_ASCIIFOLDING) {
        /* preserve_original: the folded token, then the original at the same position */
        kiln__tok folded = src;
        kiln__asciifold(p->run, &folded);
        bool same = folded.len == src.len && !memcmp(folded.text, src.text, src.len);
        rc = push(p, f + 1, same ? &src : &folded);
        if (!rc && !same) {
            kiln__tok o = src;
            o.posinc = 0;
            rc = push(p, f + 1, &o);
        }
    } else {
        /* edge_ngram: prefixes; ngram: every substring, by start then length. All grams keep
         * the token's offsets and position, as Lucene's n-gram token filters do. */
        size_t chars = 0;
        for (size_t i = 0; i < src.len; i++)
            chars += ((unsigned char)src.text[i] & 0xc0) != 0x80;
        bool any = false;
        size_t startb = 0;
        size_t last_start = flt->kind == KILN__TF_EDGE_NGRAM ? 0 : chars;
        for (size_t sc = 0; sc <= last_start && sc < chars && !rc; sc++) {
            size_t left = chars - sc;
            for (size_t g = flt->min; g <= flt->max && g <= left && !rc; g++) {
                kiln__tok gram = src;
                gram.text = src.text + startb;
                gram.len = prefix_bytes(gram.text, src.len - startb, g);
                gram.posinc = any ? 0 : src.posinc;
                any = true;
                rc = push(p, f + 1, &gram);
            }
            startb += prefix_bytes(src.text + startb, src.len - startb, 1);
        }
        if (!any && !rc) {
            if (flt->preserve_original)
                rc = push(p, f + 1, &src);
            else
                p->pending += src.posinc; /* too short: dropped, leaving a gap */
        } else if (!rc && flt->preserve_original && (chars < flt->min || chars > flt->max)) {
            kiln__tok o = src;
            o.posinc = 0;
            rc = push(p, f + 1, &o);
        }
    }
    if (copy != local) free(copy);
    return rc;
}

/* Runs t through filters [f, n) and hands it to the callback. */
static int push(pipe_t *p, size_t f, kiln__tok *t)
{
    for (; f < p->a->nfilters; f++) {
        const kiln__filter *flt = &p->a->filters[f];
        if (kiln__filter_multi(flt)) return push_multi(p, f, t);
        int v = kiln__filter_apply(flt, &p->fs[f], p->run, t);
        if (v == KILN__DROP) {
            p->pending += t->posinc;
            return 0;
        }
        if (v == KILN__DROP_NOGAP) return 0;
    }
    return emit(p, t);
}

#ifdef __SSE2__
#include <emmintrin.h>

/* Bit k set when s[k] is an ASCII letter or digit (k < 16); *up: A-Z, *let: letters. The
 * same classes as kiln__ascii_std (UAX#29 ALetter and Numeric are exactly these in ASCII;
 * bytes >= 0x80 are negative as signed and match no range). */
static inline unsigned ascii_alnum16(const unsigned char *s, unsigned *up, unsigned *let)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i l = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
                              _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
    __m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                              _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i u = _mm_and_si128(l, _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
    *up = (unsigned)_mm_movemask_epi8(u);
    *let = (unsigned)_mm_movemask_epi8(l);
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(l, d));
}

/* out[0..16) = s[0..16) with A-Z lowercased. */
static inline void ascii_lower16(const unsigned char *s, char *out)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i u = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
                              _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
    _mm_storeu_si128((__m128i *)(void *)out,
                     _mm_add_epi8(v, _mm_and_si128(u, _mm_set1_epi8(0x20))));
}
#endif

/* The filter after which the fast path below hands tokens on, or 0 when it does not apply:
 * the standard tokenizer followed by lowercase, with only filters before it that leave a run
 * of ASCII letters and digits alone (possessive: it needs an apostrophe). */
static size_t fused_after(const kiln_analyzer *a)
{
    if (a->tokenizer.kind != KILN__TK_STANDARD) return 0;
    for (size_t f = 0; f < a->nfilters; f++) {
        if (a->filters[f].kind == KILN__TF_LOWERCASE) return f + 1;
        if (a->filters[f].kind != KILN__TF_POSSESSIVE) return 0;
    }
    return 0;
}

/* Standard tokenizer + lowercase in one pass. A run of ASCII letters and digits is a whole
 * UAX#29 word when what follows can not extend it: the end, a byte that breaks (space, most
 * punctuation), or a Mid* character (. , ; : ') not followed by a word character or a
 * non-ASCII byte (WB6/7, WB11/12 need one after it). Such a run is typed, lowercased into the
 * tokenizer state and handed to filter `next` directly. Anything else (non-ASCII, '_', a Mid*
 * character inside a word, a run as long as max_token_length) goes to the general tokenizer
 * from the same position, which makes the one token it finds; both are stateless between
 * tokens, so the result is the general path's, token for token. */
static int run_fused(pipe_t *p, const kiln__tokenizer *tk, kiln__tokenizer_state *st, size_t next)
{
    const unsigned char *s = (const unsigned char *)st->text;
    const uint8_t *tab = kiln__ascii_std;
    size_t n = st->len, i = st->pos, max = tk->max_token_length;
    /* nothing after lowercase and no char filter (the standard analyzer): straight to the
     * caller, as emit would hand it on */
    bool direct = next == p->a->nfilters && !p->cf;
    char *low = st->lower; /* unused by the standard tokenizer; longer runs take the slow path */
    if (max > sizeof st->lower) max = sizeof st->lower;
    int rc = 0;
    while (!rc && i < n) {
        uint8_t c = tab[s[i]];
        if (c & (KILN__A_BREAK | KILN__A_MID)) { /* not a word start: skipped, as next_standard */
            i++;
            continue;
        }
        if (c & KILN__A_ALNUM) {
            size_t j = i;
            uint8_t acc = 0;
            bool ended = false; /* the run's end is found, c is the class of s[j] */
#ifdef __SSE2__
            /* 16 bytes at a time while they are in the text: the run's length without a
             * branch per byte (the byte loop mispredicts its exit once per token) */
            while (j + 16 <= n) {
                unsigned up, let, m = ascii_alnum16(s + j, &up, &let);
                unsigned run = (unsigned)__builtin_ctz(~m); /* m < 1 << 16: ~m has a zero */
                unsigned keep = (1u << run) - 1;
                acc |= (uint8_t)((up & keep ? KILN__A_UPPER : 0) |
                                 (let & keep ? KILN__A_LETTER : 0));
                j += run;
                if (run < 16) { /* j < n: the chunk held s[j] */
                    c = tab[s[j]];
                    ended = true;
                    break;
                }
            }
#endif
            if (!ended) {
                while (j < n && ((c = tab[s[j]]) & KILN__A_ALNUM)) {
                    acc |= c;
                    j++;
                }
            }
            bool whole = j == n || (c & KILN__A_BREAK) ||
                         ((c & KILN__A_MID) &&
                          (j + 1 == n || (s[j + 1] < 0x80 && !(tab[s[j + 1]] & KILN__A_ALNUM))));
            if (whole && j - i < max) {
                const char *text = (const char *)s + i;
                if (acc & KILN__A_UPPER) {
                    size_t k = 0;
#ifdef __SSE2__
                    /* 16 at a time while the input and low have them (bytes past the token are
                     * written but not part of it) */
                    for (; k < j - i && i + k + 16 <= n && k + 16 <= sizeof st->lower; k += 16)
                        ascii_lower16(s + i + k, low + k);
#endif
                    for (; k < j - i; k++) /* 'A' | 0x20 == 'a' */
                        low[k] = (char)(s[i + k] | ((tab[s[i + k]] & KILN__A_UPPER) << 4));
                    text = low;
                }
                const char *type = (acc & KILN__A_LETTER) ? kiln__t_alphanum : kiln__t_num;
                if (direct) {
                    p->pos += 1 + p->pending;
                    p->pending = 0;
                    kiln_token out = {text, j - i, (uint32_t)p->pos, (uint32_t)i, (uint32_t)j,
                                      type};
                    rc = p->fn(&out, p->ctx);
                    i = j + (j < n); /* s[j] broke the word: it starts none either */
                    continue;
                }
                kiln__tok t;
                t.text = text;
                t.len = j - i;
                t.posinc = 1;
                t.start = (uint32_t)i;
                t.end = (uint32_t)j;
                t.type = type;
                t.keyword = false;
                rc = push(p, next, &t);
                i = j + (j < n);
                continue;
            }
        }
        /* the general path, for one token from i */
        st->pos = i;
        kiln__tok t;
        if (!kiln__tokenizer_next(tk, st, &t)) break;
        rc = push(p, 0, &t);
        i = st->pos;
    }
    return rc;
}

int kiln_analyze(const kiln_analyzer *a, const char *text, size_t len, uint32_t position_base,
                 kiln_token_fn fn, void *ctx)
{
    return kiln__analyze_ex(a, text, len, position_base, fn, ctx, NULL);
}

static int analyze(const kiln_analyzer *a, const char *text, size_t len, uint32_t position_base,
                   kiln_token_fn fn, void *ctx, uint32_t *trailing, bool fast);

int kiln__analyze_ex(const kiln_analyzer *a, const char *text, size_t len, uint32_t position_base,
                     kiln_token_fn fn, void *ctx, uint32_t *trailing)
{
    return analyze(a, text, len, position_base, fn, ctx, trailing, true);
}

int kiln__analyze_general(const kiln_analyzer *a, const char *text, size_t len,
                          uint32_t position_base, kiln_token_fn fn, void *ctx, uint32_t *trailing)
{
    return analyze(a, text, len, position_base, fn, ctx, trailing, false);
}

static int analyze(const kiln_analyzer *a, const char *text, size_t len, uint32_t position_base,
                   kiln_token_fn fn, void *ctx, uint32_t *trailing, bool fast)
{
    if (!text) {
        text = "";
        len = 0;
    }
    if (len > UINT32_MAX - 1) len = UINT32_MAX - 1; /* offsets are 32-bit */
    kiln__cf_text cf = {(char *)text, len, NULL, NULL};
    if (a->ncf) kiln__char_filters_run(a->cfilters, a->ncf, text, len, &cf);
    kiln__tokenizer_state st;
    memset(&st, 0, offsetof(kiln__tokenizer_state, lower));
    st.text = cf.text ? cf.text : "";
    st.len = cf.len;
    st.pos = 0;
    kiln__run run;
    run_init(&run);
    kiln__filter_state fs[KILN__MAX_FILTERS];
    if (a->needs_state) {
        for (size_t f = 0; f < a->nfilters; f++)
            kiln__filter_begin(&a->filters[f], &fs[f]);
    }
    pipe_t p = {a, fs, &run, (int64_t)position_base - 1, 0, fn, ctx, a->ncf ? &cf : NULL, len};
    int rc = 0;
    size_t fused = fast ? fused_after(a) : 0;
    if (fused) {
        rc = run_fused(&p, &a->tokenizer, &st, fused);
    } else {
        kiln__tok t;
        while (!rc && kiln__tokenizer_next(&a->tokenizer, &st, &t))
            rc = push(&p, 0, &t);
    }
    if (a->needs_state) {
        for (size_t f = 0; f < a->nfilters; f++)
            kiln__filter_end(&a->filters[f], &fs[f]);
    }
    if (trailing) *trailing = p.pending; /* Lucene's end() increment: trailing stop words */
    run_dispose(&run);
    if (a->ncf) kiln__cf_text_dispose(&cf);
    return rc;
}

void kiln__analyzer_dispose(kiln_analyzer *a)
{
    for (size_t f = 0; f < a->nfilters; f++)
        kiln__filter_dispose(&a->filters[f]);
    a->nfilters = 0;
    for (size_t f = 0; f < a->ncf; f++)
        kiln__char_filter_dispose(&a->cfilters[f]);
    a->ncf = 0;
    free(a->name);
    a->name = NULL;
}

void kiln_analyzer_free(kiln_analyzer *a)
{
    if (!a) return;
    kiln__analyzer_dispose(a);
    free(a);
}

uint32_t kiln_analysis_utf16_offset(const char *text, size_t len, uint32_t byte_offset)
{
    if (byte_offset > len) byte_offset = (uint32_t)len;
    uint32_t units = 0;
    for (size_t i = 0; i < byte_offset;) {
        size_t l;
        int32_t cp = kiln__utf8_decode((const unsigned char *)text + i, len - i, &l);
        units += cp >= 0x10000 ? 2 : 1;
        i += l;
    }
    return units;
}
