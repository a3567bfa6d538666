/* A growable byte buffer, used to build responses and file images. Owns its memory. */
#ifndef KILN_BUF_H
#define KILN_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct kiln_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} kiln_buf;

#define KILN_BUF_INIT {NULL, 0, 0}

void kiln_buf_reserve(kiln_buf *b, size_t extra);
void kiln_buf_append(kiln_buf *b, const void *p, size_t n);
void kiln_buf_puts(kiln_buf *b, const char *s);
void kiln_buf_putc(kiln_buf *b, char c);
void kiln_buf_printf(kiln_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259 requires. */
void kiln_buf_json_str(kiln_buf *b, const char *s, size_t n);
void kiln_buf_json_cstr(kiln_buf *b, const char *s);
void kiln_buf_reset(kiln_buf *b);
/* Hands the data to the caller (who frees it) and leaves b empty. */
char *kiln_buf_steal(kiln_buf *b, size_t *len);
void kiln_buf_free(kiln_buf *b);

/* Allocation that never returns NULL: running out of memory is not recoverable here. */
void *kiln_xmalloc(size_t n);
void *kiln_xcalloc(size_t n, size_t size);
void *kiln_xrealloc(void *p, size_t n);
void *kiln_xaligned(size_t align, size_t n); /* free() it */
char *kiln_xstrndup(const char *s, size_t n);
char *kiln_xstrdup(const char *s);

#endif
