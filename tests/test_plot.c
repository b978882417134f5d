/* test_plot.c — `purbo-bench plot` on a tiny synthetic run: every probe's
 * plots come out as non-empty PNG files, with their data files and scripts
 * beside them, from the database alone. */
#include <string.h>
#include <sys/stat.h>

#include "tests/fixture.h"
#include "tests/probe_synth.h"
#include "tests/test.h"

TEST(plot_synthetic_run)
{
    char *dir = fixture_tmpdir("plot"), args[1024], err[4096];
    int64_t run;
    pb_db *db = synth_db(dir, "r", &run);
    synth_all_probes(db, run);
    db_close(db);
    snprintf(args, sizeof args, "plot --db %s/r.db --run %lld --out %s/png", dir, (long long)run, dir);
    int lines, st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 0 && lines == 0, "status %d, stderr: %s", st, err);
    const char *names[] = {"locality", "locality_cdf", "locality_mass", "retrieval", "rank", "demand_cdf",
                           "demand_ctx"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/png/%s.png", dir, names[i]);
        size_t n;
        char *png = fixture_read(path, &n);
        CHECK_MSG(png && n > 2000 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8), "%s: %zu bytes", path, png ? n : 0);
        free(png);
        snprintf(path, sizeof path, "%s/png/%s.gp", dir, names[i]);
        struct stat sb;
        CHECK_MSG(stat(path, &sb) == 0 && sb.st_size > 100, "%s", path);
    }
    /* the default run is the latest with probe results */
    snprintf(args, sizeof args, "plot --db %s/r.db --out %s/png2", dir, dir);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    fixture_rmtree(dir);
}
