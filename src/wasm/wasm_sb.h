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
static inline void sb_u64(sb *s, uint64_t v)
{
    char b[24], *e = b + sizeof b, *p = e;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    sb_add(s, p, (size_t)(e - p));
}

/* The translators format most of their output with a handful of conversions; vsnprintf
 * was half of the translator's instructions. True if fmt uses only %s %.*s %d %u %c %x
 * %% (optionally l or ll), which sb_fmt then formats itself. */
static inline bool sb_fmt_simple(const char *f)
{
    for (; *f; f++) {
        if (*f != '%') continue;
        f++;
        if (f[0] == '.' && f[1] == '*' && f[2] == 's') {
            f += 2;
            continue;
        }
        while (*f == 'l')
            f++;
        if (!*f || !strchr("sducx%", *f)) return false;
    }
    return true;
}

static inline void sb_fmt(sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void sb_fmt(sb *s, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    if (sb_fmt_simple(fmt)) {
        for (const char *f = fmt; *f;) {
            const char *q = strchr(f, '%');
            if (!q) {
                sb_str(s, f);
                break;
            }
            sb_add(s, f, (size_t)(q - f));
            q++;
            if (*q == '.') { /* %.*s */
                int n = va_arg(ap, int);
                const char *a = va_arg(ap, const char *);
                size_t len = 0;
                while ((int)len < n && a[len])
                    len++;
                sb_add(s, a, len);
                f = q + 3;
                continue;
            }
            int l = 0;
            while (*q == 'l')
                q++, l++;
            switch (*q) {
            case 's':
                sb_str(s, va_arg(ap, const char *));
                break;
            case 'c':
                sb_add(s, &(char){(char)va_arg(ap, int)}, 1);
                break;
            case '%':
                sb_add(s, "%", 1);
                break;
            case 'd': {
                int64_t v = l == 0 ? va_arg(ap, int) : l == 1 ? va_arg(ap, long) : va_arg(ap, long long);
                if (v < 0) sb_add(s, "-", 1);
                sb_u64(s, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
                break;
            }
            case 'u':
                sb_u64(s, l == 0   ? va_arg(ap, unsigned)
                          : l == 1 ? va_arg(ap, unsigned long)
                                   : va_arg(ap, unsigned long long));
                break;
            default: { /* x */
                uint64_t v = l == 0   ? va_arg(ap, unsigned)
                             : l == 1 ? va_arg(ap, unsigned long)
                                      : va_arg(ap, unsigned long long);
                char b[16], *e = b + sizeof b, *p = e;
                do
                    *--p = "0123456789abcdef"[v & 15];
                while (v >>= 4);
                sb_add(s, p, (size_t)(e - p));
            }
            }
            f = q + 1;
        }
        va_end(ap);
        return;
    }
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
