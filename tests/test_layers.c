/* test_layers.c — scripts/layers.py, the check make test runs on the
 * include order: on small fixture trees it must pass a clean one and fail,
 * naming the file, line and include, an upward include, an include that
 * does not name its wing, and two modules that include each other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/common.h"
#include "tests/fixture.h"
#include "tests/test.h"

/* Writes root/rel (creating folders) with text. */
static void put(const char *root, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    pb_mkdir_p(path);
    *slash = '/';
    FILE *f = fopen(path, "w");
    PB_CHECK(f != NULL, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* Runs the check on root; its stdout in out, returns the exit status. */
static int check(const char *root, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 scripts/layers.py --root %s 2>&1", root);
    return fixture_shell(cmd, out, cap);
}

TEST(layers_clean_tree_passes)
{
    char *d = fixture_tmpdir("layers");
    put(d, "engine/base/a.h", "/* a */\n");
    put(d, "engine/model/m.c", "#include \"base/a.h\"\n#include \"kernels/k.h\"\n");
    put(d, "kernels/k.h", "#include \"base/a.h\"\n");
    put(d, "suites/s.c", "#include \"model/m.h\"\n");
    put(d, "engine/model/m.h", "#include \"base/a.h\"\n");
    char out[4096];
    int st = check(d, out, sizeof out);
    CHECK_MSG(st == 0 && strstr(out, "includes downward, no circles"), "status %d: %s", st, out);
    free(d);
}

TEST(layers_upward_include_fails_naming_it)
{
    char *d = fixture_tmpdir("layers");
    put(d, "engine/base/a.h", "/* a */\n");
    put(d, "suites/s.h", "/* s */\n");
    put(d, "kernels/k.c", "/* k */\n#include \"base/a.h\"\n#include \"suites/s.h\"\n");
    char out[4096];
    int st = check(d, out, sizeof out);
    CHECK_MSG(st == 1 && strstr(out, "kernels/k.c:3: #include \"suites/s.h\" runs upward (kernels may not include suites)"),
              "status %d: %s", st, out);
    free(d);
}

TEST(layers_flat_include_and_circle_fail)
{
    char *d = fixture_tmpdir("layers");
    put(d, "engine/run/f.c", "#include \"f.h\"\n");
    put(d, "engine/run/f.h", "/* f */\n");
    put(d, "plots/p.c", "#include \"plots/q.h\"\n");
    put(d, "plots/p.h", "/* p */\n");
    put(d, "plots/q.c", "#include \"plots/p.h\"\n");
    put(d, "plots/q.h", "/* q */\n");
    char out[4096];
    int st = check(d, out, sizeof out);
    CHECK_MSG(st == 1 && strstr(out, "engine/run/f.c:1: #include \"f.h\" does not name its wing"), "status %d: %s", st,
              out);
    CHECK_MSG(strstr(out, "modules form a circle: plots/p -> plots/q -> plots/p"), "%s", out);
    free(d);
}
