/* Stemming filters: Lucene's Porter stemmer (porter.c), Snowball stemmers from libstemmer, and
 * Lucene's EnglishMinimalStemmer. A libstemmer object is not thread-safe, so each filter keeps
 * a small pool; a run borrows one stemmer for its whole length (one lock per call, not per
 * token). */
#include "analysis/analysis_int.h"

#include "core/buf.h"

#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 16

struct kiln__stemmer_pool {
    char *algorithm;
    pthread_mutex_t lock;
    struct sb_stemmer *free[POOL_MAX];
    int nfree;
};

kiln__stemmer_pool *kiln__stemmer_pool_new(const char *algorithm)
{
    struct sb_stemmer *s = sb_stemmer_new(algorithm, NULL);
    if (!s) return NULL;
    kiln__stemmer_pool *p = kiln_xcalloc(1, sizeof *p);
    p->algorithm = kiln_xstrdup(algorithm);
    pthread_mutex_init(&p->lock, NULL);
    p->free[p->nfree++] = s;
    return p;
}

void kiln__stemmer_pool_free(kiln__stemmer_pool *p)
{
    if (!p) return;
    for (int i = 0; i < p->nfree; i++)
        sb_stemmer_delete(p->free[i]);
    pthread_mutex_destroy(&p->lock);
    free(p->algorithm);
    free(p);
}

struct sb_stemmer *kiln__stemmer_acquire(kiln__stemmer_pool *p)
{
    struct sb_stemmer *s = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->nfree) s = p->free[--p->nfree];
    pthread_mutex_unlock(&p->lock);
    if (!s) s = sb_stemmer_new(p->algorithm, NULL); /* NULL only when out of memory */
    return s;
}

void kiln__stemmer_release(kiln__stemmer_pool *p, struct sb_stemmer *s)
{
    pthread_mutex_lock(&p->lock);
    if (p->nfree < POOL_MAX) {
        p->free[p->nfree++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (s) sb_stemmer_delete(s);
}

void kiln__stem_snowball(struct sb_stemmer *s, kiln__run *run, kiln__tok *tok)
{
    if (tok->len == 0 || tok->len > INT32_MAX) return;
    const sb_symbol *out = sb_stemmer_stem(s, (const sb_symbol *)tok->text, (int)tok->len);
    if (!out) return;
    size_t n = (size_t)sb_stemmer_length(s);
    char *buf = kiln__scratch(run, tok, n + 1);
    memcpy(buf, out, n);
    tok->text = buf;
    tok->len = n;
}

/* Decodes tok into code points (one per Java char for the BMP), runs fn, re-encodes. */
static void stem_cp(kiln__run *run, kiln__tok *tok, size_t (*fn)(int32_t *, size_t))
{
    int32_t stack[256], *cp = stack;
    if (tok->len + 8 > 256) cp = kiln_xmalloc((tok->len + 8) * sizeof *cp);
    size_t n = 0;
    bool ascii = true;
    for (size_t i = 0; i < tok->len;) {
        size_t l;
        cp[n++] = kiln__utf8_decode((const unsigned char *)tok->text + i, tok->len - i, &l);
        if (l > 1 || cp[n - 1] >= 0x80) ascii = false;
        i += l;
    }
    size_t m = fn(cp, n);
    if (ascii) {
        /* the stem is a prefix of the word plus a few ASCII letters: rewrite only the tail */
        size_t same = 0;
        while (same < m && same < tok->len && (int32_t)(unsigned char)tok->text[same] == cp[same])
            same++;
        if (same < m) {
            char *out = kiln__scratch(run, tok, m + 1);
            memcpy(out, tok->text, same);
            for (size_t i = same; i < m; i++)
                out[i] = (char)cp[i];
            tok->text = out;
        }
        tok->len = m;
    } else {
        char *out = kiln__scratch(run, tok, m * 4 + 1);
        size_t o = 0;
        for (size_t i = 0; i < m; i++)
            o += kiln__utf8_encode(cp[i], out + o);
        tok->text = out;
        tok->len = o;
    }
    if (cp != stack) free(cp);
}

void kiln__stem_porter(kiln__run *run, kiln__tok *tok)
{
    if (tok->len < 3) return; /* Lucene leaves words of one or two chars alone */
    /* Porter's cons() recurses along runs of 'y' and m() rescans the word: a keyword-tokenized
     * megabyte would overflow the stack or take minutes. No real word is this long. */
    if (tok->len > 1024) return;
    stem_cp(run, tok, kiln__porter_stem);
}

/* Lucene's EnglishMinimalStemmer: plural -s only (ies -> y, es -> e, s -> ""). */
static size_t minimal_english(int32_t *s, size_t len)
{
    if (len < 3 || s[len - 1] != 's') return len;
    switch (s[len - 2]) {
    case 'u':
    case 's':
        return len;
    case 'e':
        if (len > 3 && s[len - 3] == 'i' && s[len - 4] != 'a' && s[len - 4] != 'e') {
            s[len - 3] = 'y';
            return len - 2;
        }
        if (s[len - 3] == 'i' || s[len - 3] == 'a' || s[len - 3] == 'o' || s[len - 3] == 'e')
            return len; /* "-ies" after a vowel, "-aes", "-oes", "-ees" */
        return len - 1;
    default:
        return len - 1;
    }
}

void kiln__stem_minimal_english(kiln__run *run, kiln__tok *tok)
{
    stem_cp(run, tok, minimal_english);
}
