#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void kiln__oom(size_t n)
{
    fprintf(stderr, "kiln: out of memory allocating %zu bytes\n", n);
    abort();
}

void *kiln_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) kiln__oom(n);
    return p;
}

void *kiln_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) kiln__oom(n * size);
    return p;
}

void *kiln_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) kiln__oom(n);
    return q;
}

void *kiln_xaligned(size_t align, size_t n)
{
    n = (n + align - 1) / align * align; /* aligned_alloc wants a multiple of align */
    void *p = aligned_alloc(align, n ? n : align);
    if (!p) kiln__oom(n);
    return p;
}

char *kiln_xstrndup(const char *s, size_t n)
{
    char *p = kiln_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *kiln_xstrdup(const char *s)
{
    return kiln_xstrndup(s, strlen(s));
}

void kiln_buf_reserve(kiln_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = kiln_xrealloc(b->data, cap);
    b->cap = cap;
}

void kiln_buf_append(kiln_buf *b, const void *p, size_t n)
{
    kiln_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void kiln_buf_puts(kiln_buf *b, const char *s)
{
    kiln_buf_append(b, s, strlen(s));
}

void kiln_buf_putc(kiln_buf *b, char c)
{
    kiln_buf_append(b, &c, 1);
}

void kiln_buf_printf(kiln_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    kiln_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void kiln_buf_json_str(kiln_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    kiln_buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            kiln_buf_reserve(b, 2);
            b->data[b->len++] = (char)c;
            continue;
        }
        char esc[7] = {'\\', 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        kiln_buf_append(b, esc, elen);
    }
    kiln_buf_putc(b, '"');
}

void kiln_buf_json_cstr(kiln_buf *b, const char *s)
{
    kiln_buf_json_str(b, s, strlen(s));
}

void kiln_buf_reset(kiln_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

char *kiln_buf_steal(kiln_buf *b, size_t *len)
{
    if (!b->data) kiln_buf_reserve(b, 0), b->data[0] = 0;
    char *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void kiln_buf_free(kiln_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
