/* runner.c — runs the registered unit tests and prints "N passed, N failed".
 *
 * Usage: purbo-test [--model PATH] [--gemma PATH] [--bin PATH] [--skip NAME]... [NAME-SUBSTRING...]
 * --skip drops the test of exactly that name (the sanitizer run leaves out
 * a few slow ones). Exit status 0 only when no test failed and at least one ran.
 */
#include "tests/test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#define MAX_TESTS 1024

static struct { const char *name; test_fn fn; } tests[MAX_TESTS];
static int n_tests;
static int cur_failed;

const char *test_model_path = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
const char *test_bin_path = "build/purbo-bench";
const char *test_gemma_path = "models/gemma-3-270m-q4_k_m.gguf";

void test_register(const char *name, test_fn fn)
{
    if (n_tests == MAX_TESTS) { fprintf(stderr, "too many tests\n"); exit(1); }
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    n_tests++;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    cur_failed = 1;
    printf("    %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    const char *filters[64], *skips[64];
    int n_filters = 0, n_skips = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) test_model_path = argv[++i];
        else if (!strcmp(argv[i], "--bin") && i + 1 < argc) test_bin_path = argv[++i];
        else if (!strcmp(argv[i], "--gemma") && i + 1 < argc) test_gemma_path = argv[++i];
        else if (!strcmp(argv[i], "--skip") && i + 1 < argc) { if (n_skips < 64) skips[n_skips++] = argv[++i]; }
        else if (n_filters < 64) filters[n_filters++] = argv[i];
    }
    /* stable order: by name (the struct's first member is the name) */
    qsort(tests, (size_t)n_tests, sizeof tests[0], cmp_name);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int passed = 0, failed = 0;
    for (int i = 0; i < n_tests; i++) {
        int want = n_filters == 0;
        for (int f = 0; f < n_filters; f++)
            if (strstr(tests[i].name, filters[f])) want = 1;
        for (int k = 0; k < n_skips; k++)
            if (!strcmp(tests[i].name, skips[k])) want = 0;
        if (!want) continue;
        cur_failed = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        printf("%s %s (%.2fs)\n", cur_failed ? "FAIL" : "ok  ", tests[i].name, s);
        if (cur_failed) failed++; else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return (failed == 0 && passed > 0) ? 0 : 1;
}
