/* The ngram and edge_ngram tokenizers (Lucene's NGramTokenizer): words are runs of token_chars
 * (every character when none are given); ngram emits every gram of min..max characters by
 * start then length, edge_ngram only those at the start of each word. */
#include "analysis/analysis_int.h"

#include <utf8proc.h>

static bool is_token_char(unsigned mask, int32_t cp)
{
    if (!mask) return true;
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    int cat = p->category;
    if ((mask & KILN__TC_LETTER) && cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO)
        return true;
    if ((mask & KILN__TC_DIGIT) && cat == UTF8PROC_CATEGORY_ND) return true;
    if ((mask & KILN__TC_WHITESPACE) && (kiln__uclass(cp) & KILN__UC_SPACE)) return true;
    if ((mask & KILN__TC_PUNCTUATION) && cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO)
        return true;
    if ((mask & KILN__TC_SYMBOL) && cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO)
        return true;
    return false;
}

static int32_t decode(const kiln__tokenizer_state *st, size_t i, size_t *l)
{
    return kiln__utf8_decode((const unsigned char *)st->text + i, st->len - i, l);
}

/* Byte end of `chars` characters from i, or (size_t)-1 if the word is shorter. */
static size_t advance(const kiln__tokenizer_state *st, size_t i, uint32_t chars)
{
    while (chars) {
        if (i >= st->word_end) return (size_t)-1;
        size_t l;
        decode(st, i, &l);
        i += l;
        chars--;
    }
    return i;
}

bool kiln__ngram_next(const kiln__tokenizer *t, kiln__tokenizer_state *st, kiln__tok *tok)
{
    bool edge = t->kind == KILN__TK_EDGE_NGRAM;
    for (;;) {
        if (!st->in_word) {
            /* next word: skip non-token characters, then take the run of token characters */
            size_t i = st->pos, l;
            while (i < st->len && !is_token_char(t->token_chars, decode(st, i, &l)))
                i += l;
            if (i >= st->len) {
                st->pos = st->len;
                return false;
            }
            size_t e = i;
            while (e < st->len && is_token_char(t->token_chars, decode(st, e, &l)))
                e += l;
            st->gram_start = i;
            st->word_end = e;
            st->glen = t->min_gram;
            st->in_word = true;
            st->pos = e;
        }
        size_t end = st->glen <= t->max_gram ? advance(st, st->gram_start, st->glen) : (size_t)-1;
        if (end == (size_t)-1) {
            /* this start is exhausted: the next start (ngram) or the next word (edge) */
            size_t l;
            if (edge || st->gram_start >= st->word_end) {
                st->in_word = false;
                continue;
            }
            decode(st, st->gram_start, &l);
            st->gram_start += l;
            st->glen = t->min_gram;
            if (advance(st, st->gram_start, t->min_gram) == (size_t)-1) st->in_word = false;
            continue;
        }
        tok->text = st->text + st->gram_start;
        tok->len = end - st->gram_start;
        tok->start = (uint32_t)st->gram_start;
        tok->end = (uint32_t)end;
        tok->type = "word";
        st->glen++;
        return true;
    }
}
