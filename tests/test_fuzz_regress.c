/* test_fuzz_regress.c — replays what the fuzzers found (fuzz/regress/KIND/,
 * one file per input that once crashed or trapped a target) through the
 * same reader and the same contract as the target: a refused input leaves
 * one line that starts with the name it was given; an accepted one is freed
 * cleanly (the sanitizer run of make test checks the memory). Kinds: suite
 * (suite_parse), plan (plan_file_parse without a model), gguf
 * (gguf_open_mem). A kind without a folder has nothing to replay.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "policy/planfile.h"
#include "suites/suite.h"
#include "tests/fixture.h"
#include "tests/test.h"

/* 1 when msg is one line starting with "NAME" and a ':' and holds no raw
 * control byte but tab. */
static int one_line(const char *msg, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(msg, name, n) != 0 || msg[n] != ':') return 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return 0;
    return 1;
}

/* Runs each file of fuzz/regress/kind through the reader; returns the
 * count, or -1 after a test_fail naming the file. */
static int replay(const char *kind)
{
    char dir[128];
    snprintf(dir, sizeof dir, "fuzz/regress/%s", kind);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, bad = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len;
        char *b = fixture_read(path, &len);
        if (!b) continue;
        pb_err e = {{0}};
        int ok;
        if (!strcmp(kind, "suite")) {
            suite *s = suite_parse("fuzz.yaml", b, len, &e);
            ok = s ? s->n_tasks >= 1 && s->n_methods >= 1 : one_line(e.msg, "fuzz.yaml");
            suite_free(s);
        } else if (!strcmp(kind, "plan")) {
            plan_file p;
            int got = plan_file_parse((const unsigned char *)b, len, "fuzz.purbo", NULL, &p, &e);
            ok = got ? p.window >= 1 && p.block >= 1 : one_line(e.msg, "fuzz.purbo");
            if (got) plan_file_free(&p);
        } else {
            gguf *g = gguf_open_mem(b, len, "fuzz.gguf", &e);
            ok = g ? gguf_file_size(g) == len : one_line(e.msg, "fuzz.gguf");
            gguf_close(g);
        }
        if (!ok) {
            test_fail(__FILE__, __LINE__, "%s: broke the contract: %s", path, e.msg);
            bad = 1;
        }
        free(b);
        n++;
    }
    closedir(d);
    return bad ? -1 : n;
}

TEST(fuzz_regressions_replay)
{
    int total = 0;
    const char *kinds[] = {"suite", "plan", "gguf"};
    for (int i = 0; i < 3; i++) {
        int n = replay(kinds[i]);
        CHECK(n >= 0);
        total += n;
    }
    printf("    %d fuzz regression inputs replayed\n", total);
    CHECK_MSG(total >= 1, "fuzz/regress holds no input (run from the repository root)");
}
