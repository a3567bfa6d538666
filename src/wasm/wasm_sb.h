/* Growable string buffer used by the C generators (wasm_compile.c, wasm_xlate.c). */
#ifndef KILN_WASM_SB_H
#define KILN_WASM_SB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} sb;

static inline void sb_add(sb *s, const char *d, size_t n)
{
    if (n > SIZE_MAX / 4) s->oom = true; /* a negative length cast: never from valid input */
    if (s->oom) return;
    if (s->len + n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4096;
        while (nc < s->len + n + 1)
            nc *= 2;
        char *np = realloc(s->p, nc);
        if (!np) {
            s->oom = true;
            return;
        }
        s->p = np, s->cap = nc;
    }
    memcpy(s->p + s->len, d, n);
    s->len += n;
    s->p[s->len] = 0;
}
static inline void sb_str(sb *s, const char *d)
{
    sb_add(s, d, strlen(d));
}
static inline void sb_fmt(sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void sb_fmt(sb *s, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    if ((size_t)n < sizeof tmp) {
        sb_add(s, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1); /* never truncate: generated code must stay whole */
    if (!big) {
        s->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(s, big, (size_t)n);
    free(big);
}

#endif
