/* test.h — the tiny unit-test harness used by every test file under tests/.
 *
 * TEST(name) { ... } defines a test and registers it at load time. CHECK*
 * macros record a failure with file and line and return from the test. The
 * runner (tests/runner.c) runs every test (or those whose name contains an
 * argument) and ends with the line "N passed, N failed".
 */
#ifndef PURBO_TEST_H
#define PURBO_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Path of the bundled model (set by the runner; tests needing it use it). */
extern const char *test_model_path;
/* Path of the Gemma-3-270M GGUF (scripts/model.sh gemma3-270m; the tests
 * named *gemma* need it). */
extern const char *test_gemma_path;
/* Path of the purbo-bench binary, for tests of the command line. */
extern const char *test_bin_path;

#define TEST(name)                                                        \
    static void name(void);                                               \
    __attribute__((constructor)) static void reg_##name(void)             \
    {                                                                     \
        test_register(#name, name);                                       \
    }                                                                     \
    static void name(void)

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) { test_fail(__FILE__, __LINE__, "%s", #cond); return; } \
    } while (0)

#define CHECK_MSG(cond, ...)                                              \
    do {                                                                  \
        if (!(cond)) { test_fail(__FILE__, __LINE__, __VA_ARGS__); return; } \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                             \
    do {                                                                  \
        double a_ = (a), b_ = (b);                                        \
        if (!(fabs(a_ - b_) <= (tol))) {                                  \
            test_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, |diff| > %g", \
                      #a, a_, #b, b_, (double)(tol));                     \
            return;                                                       \
        }                                                                 \
    } while (0)

#endif
