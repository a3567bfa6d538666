/* Tiny test harness (after libuv's test/task.h): checks print both values and continue. */
#ifndef KILN_TEST_H
#define KILN_TEST_H

#include <stdio.h>
#include <string.h>

static int kiln_test_failures;
static int kiln_test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        kiln_test_checks++;                                                                        \
        if (!(cond)) {                                                                             \
            kiln_test_failures++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        kiln_test_checks++;                                                                        \
        if (va_ != vb_) {                                                                          \
            kiln_test_failures++;                                                                  \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        kiln_test_checks++;                                                                        \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                               \
            kiln_test_failures++;                                                                  \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  got      [%s]\n  expected [%s]\n",         \
                    __FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");       \
        }                                                                                          \
    } while (0)

#define TEST_DONE()                                                                                \
    do {                                                                                           \
        printf("%d checks, %d failed\n", kiln_test_checks, kiln_test_failures);                    \
        return kiln_test_failures ? 1 : 0;                                                         \
    } while (0)

#endif
