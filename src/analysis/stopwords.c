/* Stop word lists as Lucene ships them, and the small string set used for stop words, keyword
 * markers and the unique filter. */
#include "analysis/analysis_int.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

/* Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (ES `_english_`). */
static const char *const english[] = {
    "a",    "an",    "and",   "are",  "as",   "at", "be",  "but",  "by",   "for",  "if",  "in",
    "into", "is",    "it",    "no",   "not",  "of", "on",  "or",   "such", "that", "the", "their",
    "then", "there", "these", "they", "this", "to", "was", "will", "with", NULL,
};

static const char *const none[] = {NULL};

const char *const *kiln__stopwords_named(const char *name)
{
    if (!strcmp(name, "_english_")) return english;
    if (!strcmp(name, "_none_")) return none;
    return NULL;
}

/* ---- string set: open addressing, FNV-1a, power-of-two table ---------------------------- */

typedef struct {
    char *s;
    size_t n;
    uint32_t h;
} slot;

struct kiln__strset {
    slot *slots;
    size_t cap; /* power of two */
    size_t count;
    size_t maxlen; /* longest member: longer probes miss without hashing */
};

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h | 1; /* 0 marks an empty slot */
}

kiln__strset *kiln__strset_new(void)
{
    kiln__strset *s = kiln_xcalloc(1, sizeof *s);
    s->cap = 16;
    s->slots = kiln_xcalloc(s->cap, sizeof *s->slots);
    return s;
}

void kiln__strset_clear(kiln__strset *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->slots[i].s);
        s->slots[i] = (slot){0};
    }
    s->count = 0;
    s->maxlen = 0;
}

void kiln__strset_free(kiln__strset *s)
{
    if (!s) return;
    kiln__strset_clear(s);
    free(s->slots);
    free(s);
}

static slot *find(const kiln__strset *s, const char *str, size_t n, uint32_t h)
{
    size_t mask = s->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot *sl = &s->slots[i];
        if (!sl->h) return sl;
        if (sl->h == h && sl->n == n && !memcmp(sl->s, str, n)) return sl;
    }
}

bool kiln__strset_add(kiln__strset *s, const char *str, size_t n)
{
    uint32_t h = fnv(str, n);
    slot *sl = find(s, str, n, h);
    if (sl->h) return false;
    if ((s->count + 1) * 2 > s->cap) {
        slot *old = s->slots;
        size_t oldcap = s->cap;
        s->cap *= 2;
        s->slots = kiln_xcalloc(s->cap, sizeof *s->slots);
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].h) *find(s, old[i].s, old[i].n, old[i].h) = old[i];
        free(old);
        sl = find(s, str, n, h);
    }
    sl->s = kiln_xmalloc(n + 1); /* tokens may hold NUL bytes: no strndup */
    memcpy(sl->s, str, n);
    sl->s[n] = 0;
    sl->n = n;
    sl->h = h;
    s->count++;
    if (n > s->maxlen) s->maxlen = n;
    return true;
}

bool kiln__strset_has(const kiln__strset *s, const char *str, size_t n)
{
    if (n > s->maxlen || !s->count) return false;
    return find(s, str, n, fnv(str, n))->h != 0;
}

size_t kiln__strset_count(const kiln__strset *s)
{
    return s->count;
}
