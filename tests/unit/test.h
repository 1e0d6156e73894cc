/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test.h -- the unit-test harness: TEST(name) defines a case, main() runs the one named on the
 * command line (ctest starts each case in its own process, with a timeout) or, with no
 * argument, every case in turn. Assertions print the expression and both values, then abort.
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_test_case {
    const char *name;
    void (*fn)(void);
};

#define SL_TEST_MAX_CASES 256
extern struct sl_test_case sl_test_cases[SL_TEST_MAX_CASES];
extern int sl_test_count;

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        if (sl_test_count < SL_TEST_MAX_CASES)                                                     \
            sl_test_cases[sl_test_count++] = (struct sl_test_case){#name, test_##name};            \
    }                                                                                              \
    static void test_##name(void)

#define SL_TEST_FAIL(...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

#define ASSERT_TRUE(expr)                                                                          \
    do {                                                                                           \
        if (!(expr))                                                                               \
            SL_TEST_FAIL("ASSERT_TRUE(%s) failed", #expr);                                         \
    } while (0)

#define ASSERT_EQ(expected, actual)                                                                \
    do {                                                                                           \
        long long e_ = (long long)(expected), a_ = (long long)(actual);                            \
        if (e_ != a_)                                                                              \
            SL_TEST_FAIL("ASSERT_EQ(%s, %s): expected %lld, got %lld", #expected, #actual, e_,     \
                         a_);                                                                      \
    } while (0)

#define ASSERT_OK(expr) ASSERT_EQ(0, (expr))

#define ASSERT_DBL_EQ(expected, actual)                                                            \
    do {                                                                                           \
        double e_ = (expected), a_ = (actual);                                                     \
        if (e_ != a_)                                                                              \
            SL_TEST_FAIL("ASSERT_DBL_EQ(%s, %s): expected %.17g, got %.17g", #expected, #actual,   \
                         e_, a_);                                                                  \
    } while (0)

#define ASSERT_STR_EQ(expected, actual)                                                            \
    do {                                                                                           \
        const char *e_ = (expected), *a_ = (actual);                                               \
        if (e_ == NULL || a_ == NULL || strcmp(e_, a_) != 0)                                       \
            SL_TEST_FAIL("ASSERT_STR_EQ(%s, %s): expected \"%s\", got \"%s\"", #expected, #actual, \
                         e_ ? e_ : "(null)", a_ ? a_ : "(null)");                                  \
    } while (0)

#define ASSERT_MEM_EQ(expected, expected_len, actual, actual_len)                                  \
    do {                                                                                           \
        size_t el_ = (expected_len), al_ = (actual_len);                                           \
        if (el_ != al_ || memcmp((expected), (actual), el_) != 0)                                  \
            SL_TEST_FAIL("ASSERT_MEM_EQ(%s, %s): expected %zu bytes \"%.*s\", got %zu bytes "      \
                         "\"%.*s\"",                                                               \
                         #expected, #actual, el_, (int)el_, (const char *)(expected), al_,         \
                         (int)al_, (const char *)(actual));                                        \
    } while (0)

#define ASSERT_CONTAINS(haystack, needle)                                                          \
    do {                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                               \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                                  \
            SL_TEST_FAIL("ASSERT_CONTAINS(%s, %s): \"%s\" not found in \"%s\"", #haystack,         \
                         #needle, n_, h_ ? h_ : "(null)");                                         \
    } while (0)

#endif /* SL_TEST_H */
