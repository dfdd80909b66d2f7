/* SPDX-License-Identifier: MIT */
#pragma once

/* A tiny test registry in the spirit of systemd's src/shared/tests.h:
 *
 *   TEST(parse_duration) { ASSERT_OK(parse_duration_s("2h", &v)); ASSERT_EQ(v, 7200u); }
 *   TEST_MAIN()
 *
 * Each TEST runs in order; a failed ASSERT prints file, line and expression and
 * exits 1. TEST_SKIP("reason") exits 77, which ctest reports as skipped. A test
 * name given on the command line runs only that test. */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct TestCase {
        const char *name;
        void (*func)(void);
        struct TestCase *next;
} TestCase;

extern TestCase *tests_head, **tests_tail;

#define TEST(n)                                                                                            \
        static void test_##n(void);                                                                        \
        static TestCase test_case_##n = { #n, test_##n, NULL };                                            \
        __attribute__((constructor)) static void test_register_##n(void)                                   \
        {                                                                                                  \
                *tests_tail = &test_case_##n;                                                              \
                tests_tail = &test_case_##n.next;                                                          \
        }                                                                                                  \
        static void test_##n(void)

#define TEST_MAIN()                                                                                        \
        TestCase *tests_head = NULL, **tests_tail = &tests_head;                                           \
        int main(int argc, char *argv[])                                                                   \
        {                                                                                                  \
                unsigned n = 0;                                                                            \
                for (TestCase *t = tests_head; t; t = t->next) {                                           \
                        if (argc > 1 && strcmp(argv[1], t->name) != 0)                                     \
                                continue;                                                                  \
                        fprintf(stderr, "/* %s */\n", t->name);                                            \
                        t->func();                                                                         \
                        n++;                                                                               \
                }                                                                                          \
                if (n == 0) {                                                                              \
                        fprintf(stderr, "No test ran.\n");                                                 \
                        return 1;                                                                          \
                }                                                                                          \
                return 0;                                                                                  \
        }

#define TEST_FAIL(fmt, ...)                                                                                \
        do {                                                                                               \
                fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__);                    \
                exit(1);                                                                                   \
        } while (0)

#define TEST_SKIP(fmt, ...)                                                                                \
        do {                                                                                               \
                fprintf(stderr, "SKIP: " fmt "\n", ##__VA_ARGS__);                                         \
                exit(77);                                                                                  \
        } while (0)

#define ASSERT_TRUE(expr)                                                                                  \
        do {                                                                                               \
                if (!(expr))                                                                               \
                        TEST_FAIL("Assertion failed: %s", #expr);                                          \
        } while (0)
#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

#define ASSERT_OK(expr)                                                                                    \
        do {                                                                                               \
                long long _r = (long long)(expr);                                                          \
                if (_r < 0)                                                                                \
                        TEST_FAIL("%s failed: %s (%lld)", #expr, strerror((int)-_r), _r);                  \
        } while (0)

#define ASSERT_ERROR(expr, err)                                                                            \
        do {                                                                                               \
                long long _r = (long long)(expr);                                                          \
                if (_r != -(long long)(err))                                                               \
                        TEST_FAIL("%s returned %lld, expected -%s", #expr, _r, #err);                      \
        } while (0)

#define ASSERT_EQ(a, b)                                                                                    \
        do {                                                                                               \
                long long _a = (long long)(a), _b = (long long)(b);                                        \
                if (_a != _b)                                                                              \
                        TEST_FAIL("Expected %s == %s, got %lld != %lld", #a, #b, _a, _b);                  \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                                 \
        do {                                                                                               \
                const char *_a = (a), *_b = (b);                                                           \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                                     \
                        TEST_FAIL("Expected %s == %s, got \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",   \
                                  _b ? _b : "(null)");                                                     \
        } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                             \
        do {                                                                                               \
                double _a = (double)(a), _b = (double)(b);                                                 \
                if (!(fabs(_a - _b) <= (tol)))                                                             \
                        TEST_FAIL("Expected %s ≈ %s within %g, got %g and %g", #a, #b, (double)(tol), _a,  \
                                  _b);                                                                     \
        } while (0)

/* A fresh directory under $TMPDIR (or /tmp), removed by the caller if wanted. */
static inline char *test_tmpdir(void)
{
        const char *base = getenv("TMPDIR");
        char *p;
        if (asprintf(&p, "%s/fluff-test-XXXXXX", base && *base ? base : "/tmp") < 0 || !mkdtemp(p))
                TEST_FAIL("Cannot create a temporary directory");
        return p;
}
