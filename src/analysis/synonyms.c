/* The synonym / synonym_graph filters for single-token rules in Solr format:
 *   "universe, cosmos"        equivalent terms (expand: each maps to all; else to the first)
 *   "i-pod, ipod => ipod"     explicit mapping
 * Rule terms are analyzed by the analyzer's chain up to the filter, as Elasticsearch does, so
 * "Universe" matches after a lowercase filter. Rules whose sides analyze to several tokens
 * (multi-word synonyms) are rejected, or skipped when lenient. */
#include "analysis/analysis_int.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;
    size_t klen;
    uint32_t h;
    char **outs;
    size_t *olen;
    size_t nout;
} entry;

struct kiln__synonyms {
    entry *slots;
    size_t cap, count;
};

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h | 1;
}

static entry *find(const kiln__synonyms *m, const char *k, size_t n, uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        entry *e = &m->slots[i];
        if (!e->h || (e->h == h && e->klen == n && !memcmp(e->key, k, n))) return e;
    }
}

static char *dup(const char *s, size_t n)
{
    char *d = kiln_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void add(kiln__synonyms *m, const char *k, size_t kl, const char *v, size_t vl)
{
    if ((m->count + 1) * 2 > m->cap) {
        entry *old = m->slots;
        size_t oldcap = m->cap;
        m->cap = m->cap ? m->cap * 2 : 16;
        m->slots = kiln_xcalloc(m->cap, sizeof *m->slots);
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].h) *find(m, old[i].key, old[i].klen, old[i].h) = old[i];
        free(old);
    }
    uint32_t h = fnv(k, kl);
    entry *e = find(m, k, kl, h);
    if (!e->h) {
        e->h = h;
        e->key = dup(k, kl);
        e->klen = kl;
        m->count++;
    }
    for (size_t i = 0; i < e->nout; i++)
        if (e->olen[i] == vl && !memcmp(e->outs[i], v, vl)) return; /* merged rules */
    e->outs = kiln_xrealloc(e->outs, (e->nout + 1) * sizeof *e->outs);
    e->olen = kiln_xrealloc(e->olen, (e->nout + 1) * sizeof *e->olen);
    e->outs[e->nout] = dup(v, vl);
    e->olen[e->nout] = vl;
    e->nout++;
}

void kiln__synonyms_free(kiln__synonyms *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) {
        entry *e = &m->slots[i];
        if (!e->h) continue;
        free(e->key);
        for (size_t j = 0; j < e->nout; j++)
            free(e->outs[j]);
        free(e->outs);
        free(e->olen);
    }
    free(m->slots);
    free(m);
}

size_t kiln__synonyms_lookup(const kiln__synonyms *m, const char *k, size_t n, const char ***outs,
                             const size_t **olen)
{
    if (!m->count) return 0;
    entry *e = find(m, k, n, fnv(k, n));
    if (!e->h) return 0;
    *outs = (const char **)e->outs;
    *olen = e->olen;
    return e->nout;
}

/* ---- building ---------------------------------------------------------------------------- */

typedef struct {
    char buf[512];
    size_t len;
    int count;
} one_token;

static int grab(const kiln_token *t, void *ctx)
{
    one_token *o = ctx;
    if (++o->count == 1 && t->len < sizeof o->buf) {
        memcpy(o->buf, t->text, t->len);
        o->len = t->len;
    }
    return 0;
}

/* Analyzes one rule term with the chain so far (NULL: verbatim). 1 = one token, 0 = none,
 * 2 = several. */
static int analyze_term(const kiln_analyzer *chain, const char *s, size_t n, one_token *o)
{
    memset(o, 0, sizeof *o);
    if (!chain) {
        if (n >= sizeof o->buf) n = sizeof o->buf - 1;
        memcpy(o->buf, s, n);
        o->len = n;
        return n ? 1 : 0;
    }
    kiln_analyze(chain, s, n, 0, grab, o);
    return o->count > 1 ? 2 : o->count;
}

/* Splits s[0..n) on unescaped commas into trimmed, unescaped terms. */
static size_t split(const char *s, size_t n, char terms[][256], size_t max)
{
    size_t count = 0, k = 0;
    char cur[256];
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ',') {
            while (k && cur[k - 1] == ' ')
                k--;
            size_t a = 0;
            while (a < k && cur[a] == ' ')
                a++;
            if (k > a && count < max) {
                memcpy(terms[count], cur + a, k - a);
                terms[count][k - a] = 0;
                count++;
            }
            k = 0;
            continue;
        }
        char c = s[i];
        if (c == '\\' && i + 1 < n) c = s[++i];
        if (k < sizeof cur - 1) cur[k++] = c;
    }
    return count;
}

int kiln__synonyms_build(json_t *rules, const kiln_analyzer *chain, bool expand, bool lenient,
                         kiln__synonyms **out, const char *what, kiln_error *err)
{
    kiln__synonyms *m = kiln_xcalloc(1, sizeof *m);
    struct {
        char lhs[64][256], rhs[64][256]; /* raw terms of one rule */
        char lt[64][512], rt[64][512];   /* analyzed */
        size_t ll[64], rl[64];
    } *w = kiln_xcalloc(1, sizeof *w); /* 96 KiB: not on the stack */
    char(*lhs)[256] = w->lhs, (*rhs)[256] = w->rhs, (*lt)[512] = w->lt, (*rt)[512] = w->rt;
    size_t *ll = w->ll, *rl = w->rl;
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        const char *rule = json_string_value(r);
        if (!rule) {
            kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "failed to build synonyms for [%s]", what);
            goto fail;
        }
        if (rule[0] == '#' || !rule[strspn(rule, " \t")]) continue;
        const char *arrow = strstr(rule, "=>");
        size_t nl, nr = 0;
        if (arrow) {
            nl = split(rule, (size_t)(arrow - rule), lhs, 64);
            nr = split(arrow + 2, strlen(arrow + 2), rhs, 64);
        } else {
            nl = split(rule, strlen(rule), lhs, 64);
        }
        /* analyze every term; a rule with a multi-word or vanished term is skipped or fails */
        bool bad = false;
        size_t nlt = 0, nrt = 0;
        for (size_t k = 0; k < nl + nr && !bad; k++) {
            const char *term = k < nl ? lhs[k] : rhs[k - nl];
            one_token o;
            int got = analyze_term(chain, term, strlen(term), &o);
            if (got != 1) {
                if (lenient) {
                    bad = true;
                    break;
                }
                kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                          got == 0 ? "failed to build synonyms for [%s]: term: %s was completely "
                                     "eliminated by analyzer"
                                   : "failed to build synonyms for [%s]: multi-word synonyms are "
                                     "not supported: [%s]",
                          what, term);
                goto fail;
            }
            if (k < nl) {
                memcpy(lt[nlt], o.buf, o.len);
                ll[nlt++] = o.len;
            } else {
                memcpy(rt[nrt], o.buf, o.len);
                rl[nrt++] = o.len;
            }
        }
        if (bad) continue;
        if (arrow) {
            for (size_t a = 0; a < nlt; a++)
                for (size_t b = 0; b < nrt; b++)
                    add(m, lt[a], ll[a], rt[b], rl[b]);
        } else {
            for (size_t a = 0; a < nlt; a++)
                for (size_t b = 0; b < (expand ? nlt : 1); b++)
                    add(m, lt[a], ll[a], lt[b], ll[b]);
        }
    }
    free(w);
    *out = m;
    return 0;
fail:
    free(w);
    kiln__synonyms_free(m);
    return -KILN_E_ILLEGAL_ARGUMENT;
}
