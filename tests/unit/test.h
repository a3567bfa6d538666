/* Tiny assert helpers for unit tests (in the spirit of libuv's test/task.h): print both values. */
#ifndef KILN_TEST_H
#define KILN_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kiln_test_failures;
static int kiln_test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        kiln_test_checks++;                                                                        \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
            kiln_test_failures++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        kiln_test_checks++;                                                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,    \
                    a_, #b, b_);                                                                   \
            kiln_test_failures++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        kiln_test_checks++;                                                                        \
        if (!a_ || !b_ || strcmp(a_, b_)) {                                                        \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                       \
            kiln_test_failures++;                                                                  \
        }                                                                                          \
    } while (0)

/* Floats equal to the last bit (score parity with Lucene's float math). */
#define CHECK_FLOAT(a, b)                                                                          \
    do {                                                                                           \
        float a_ = (float)(a), b_ = (float)(b);                                                    \
        kiln_test_checks++;                                                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %.9g, expected %.9g\n", __FILE__, __LINE__, #a,          \
                    (double)a_, (double)b_);                                                       \
            kiln_test_failures++;                                                                  \
        }                                                                                          \
    } while (0)

#define TEST_DONE()                                                                                \
    do {                                                                                           \
        printf("%d checks, %d failures\n", kiln_test_checks, kiln_test_failures);                  \
        return kiln_test_failures ? 1 : 0;                                                         \
    } while (0)

#endif
