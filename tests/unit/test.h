/* A tiny test harness in the spirit of libuv's task.h: each check prints both values when it
 * fails, and the process exits non-zero if any check failed. */
#ifndef KILN_TEST_H
#define KILN_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kiln_test_failures;
static int kiln_test_checks;

#define KT_FAIL(...)                                                                               \
    do {                                                                                           \
        kiln_test_failures++;                                                                      \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        kiln_test_checks++;                                                                        \
        if (!(cond)) KT_FAIL("check failed: %s", #cond);                                           \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long kt_a = (long long)(a), kt_b = (long long)(b);                                    \
        kiln_test_checks++;                                                                        \
        if (kt_a != kt_b) KT_FAIL("%s == %s: %lld != %lld", #a, #b, kt_a, kt_b);                   \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *kt_a = (a), *kt_b = (b);                                                       \
        kiln_test_checks++;                                                                        \
        if (!kt_a || !kt_b || strcmp(kt_a, kt_b))                                                  \
            KT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, kt_a ? kt_a : "(null)",                  \
                    kt_b ? kt_b : "(null)");                                                       \
    } while (0)

#define CHECK_MEM(a, alen, b)                                                                      \
    do {                                                                                           \
        size_t kt_l = (alen);                                                                      \
        kiln_test_checks++;                                                                        \
        if (kt_l != strlen(b) || memcmp((a), (b), kt_l))                                           \
            KT_FAIL("%s == %s: \"%.*s\" != \"%s\"", #a, #b, (int)kt_l, (const char *)(a), (b));    \
    } while (0)

/* Floats equal to the last bit (score parity with Lucene's float math). */
#define CHECK_FLOAT(a, b)                                                                          \
    do {                                                                                           \
        float kt_fa = (float)(a), kt_fb = (float)(b);                                              \
        kiln_test_checks++;                                                                        \
        if (kt_fa != kt_fb) KT_FAIL("%s == %s: %.9g != %.9g", #a, #b, (double)kt_fa, (double)kt_fb); \
    } while (0)

/* For test programs with their own main: print the counts, exit non-zero on any failure. */
#define TEST_DONE()                                                                                \
    do {                                                                                           \
        printf("%d checks, %d failures\n", kiln_test_checks, kiln_test_failures);                  \
        return kiln_test_failures ? 1 : 0;                                                         \
    } while (0)

typedef void (*kiln_test_fn)(void);
typedef struct {
    const char *name;
    kiln_test_fn fn;
} kiln_test_case;

static inline int kiln_test_run(const kiln_test_case *cases, size_t n)
{
    int failed_cases = 0;
    for (size_t i = 0; i < n; i++) {
        int before = kiln_test_failures;
        cases[i].fn();
        int ok = kiln_test_failures == before;
        failed_cases += !ok;
        printf("%s %s\n", ok ? "ok  " : "FAIL", cases[i].name);
    }
    printf("%zu passed, %d failed (%d checks)\n", n - (size_t)failed_cases, failed_cases,
           kiln_test_checks);
    return failed_cases ? 1 : 0;
}

#define KT_CASE(fn) {#fn, fn}
#define KT_MAIN(...)                                                                               \
    int main(void)                                                                                 \
    {                                                                                              \
        static const kiln_test_case cases[] = {__VA_ARGS__};                                       \
        return kiln_test_run(cases, sizeof cases / sizeof cases[0]);                               \
    }

/* A fresh temporary directory for a test (removed by the caller if it wants). */
static inline void kiln_test_tmpdir(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "/tmp/kiln-test-%s-XXXXXX", tag);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* xorshift64: a deterministic stream for mutation tests (seeded per test, same on every run). */
static inline uint64_t kiln_test_rand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#endif
