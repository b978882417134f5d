/* fuzz_suite.c — libFuzzer target for the suite YAML loader (make fuzz).
 *
 * Each input goes through suite_parse as the text of "fuzz.yaml". Beyond
 * ASan/UBSan it traps when the contract breaks: a refused input must leave
 * one line that starts with "fuzz.yaml:" and holds no raw control byte but tab (the
 * escaping of error lines); an accepted one must have a name, a model, a
 * method and a task, each task at least one context. Inputs over the size
 * cap are cut to it (the guard refuses them before libyaml anyway).
 *   build/fuzz/fuzz_suite -max_total_time=600 -artifact_prefix=fuzz/ fuzz/corpus_suite suites
 * Crashers go to fuzz/regress/suite/ (tests/test_fuzz_regress.c replays them).
 */
#include "suites/suite.h"
#include "suites/suite_guard.h"

#include <string.h>

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SUITE_MAX_BYTES + 16) size = SUITE_MAX_BYTES + 16;
    pb_err e;
    e.msg[0] = 0;
    suite *s = suite_parse("fuzz.yaml", (const char *)data, size, &e);
    if (!s) {
        check(!strncmp(e.msg, "fuzz.yaml:", 10));
        for (const unsigned char *p = (const unsigned char *)e.msg; *p; p++) check((*p >= 0x20 || *p == 0x09) && *p != 0x7f);
        return 0;
    }
    check(s->name && s->model && s->n_methods >= 1 && s->n_tasks >= 1);
    for (int i = 0; i < s->n_tasks; i++) check(s->tasks[i].n_contexts >= 1 && s->tasks[i].name);
    suite_free(s);
    return 0;
}
