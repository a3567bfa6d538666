/* Tiny test helpers for the wasm engine tests (style of libuv's test/task.h). */
#ifndef KILN_WTEST_H
#define KILN_WTEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int wtest_failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                  \
            wtest_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    a_, b_);                                                                       \
            wtest_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_STR_HAS(s, sub)                                                                      \
    do {                                                                                           \
        const char *s_ = (s);                                                                      \
        if (!s_ || !strstr(s_, (sub))) {                                                           \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,         \
                    s_ ? s_ : "(null)", (sub));                                                    \
            wtest_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* wat text -> wasm bytes via wat2wasm in a temp dir; exits on failure. */
uint8_t *wtest_wat(const char *wat, size_t *len, const char *extra_flags);
uint8_t *wtest_read(const char *path, size_t *len);
/* Peak RSS and current virtual size in KiB from /proc/self/status. */
long wtest_rss_kib(void);
long wtest_vm_kib(void);
uint64_t wtest_now_ns(void);

#endif
