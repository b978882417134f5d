/* test_plot_history.c — `plot --history`: three runs of one suite at three
 * commits (the third with uncommitted changes) give one line per method
 * against the commits, in run order: the mean score of each run (a run
 * without a method a gap), the geometric mean throughput; another suite's
 * run is left out; an unknown suite is bad input. `plot --all` draws every
 * run, oldest first (what `make run` does for its probe, convert and suite
 * runs). */
#include <stdlib.h>

#include "tests/fixture.h"
#include "tests/runner_fixture.h"
#include "tests/test.h"

TEST(plot_history_draws_a_metric_against_commits)
{
    char path[600], out[700];
    snprintf(path, sizeof path, "%s/history.db", rt_dir());
    snprintf(out, sizeof out, "%s/history", rt_dir());
    remove(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK(db);
    const char *sha[3] = {"aaaaaaaa11", "bbbbbbbb22", "cccccccc33"};
    for (int r = 0; r < 3; r++) {
        run_meta meta = {.command = "purbo-test history", .device = "cpu"};
        int64_t run = db_run_begin(db, &meta);
        for (int i = 0; i < 4; i++) fixture_case_row(db, run, "pk", "dense", NULL, i, 256, i < 4 - r, 1.0);
        if (r != 1) fixture_case_row(db, run, "pk", "sparse", NULL, 0, 256, 0.5, 0.2);
        const double t1[1] = {0.01 * (r + 1)}, t2[1] = {0.04};
        fixture_bench_row(db, run, "tp", "dense", 0, 256, "prefill", t1, 1);
        fixture_bench_row(db, run, "tp", "dense", 1, 256, "prefill", t2, 1);
        char sql[200];
        snprintf(sql, sizeof sql, "UPDATE runs SET git_sha = '%s', git_dirty = %d WHERE id = %lld", sha[r], r == 2,
                 (long long)run);
        DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL));
        db_run_end(db, run, RUN_DONE);
    }
    /* a run of another suite, newer: --suite pal picks pal's */
    run_meta meta = {.command = "purbo-test history other", .device = "cpu"};
    int64_t other = db_run_begin(db, &meta);
    fixture_case_row(db, other, "pk", "dense", NULL, 0, 256, 0, 1.0);
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), "UPDATE suite_cases SET suite = 'other' WHERE run_id = 4",
                                         NULL, NULL, NULL));
    db_run_end(db, other, RUN_DONE);
    db_close(db);
    char args[1600], *o;
    snprintf(args, sizeof args, "plot --history --suite pal --db %s --out %s", path, out);
    int st = rt_run(args, &o, NULL);
    CHECK_MSG(st == 0 && strstr(o, "history_score.png") && strstr(o, "history_throughput.png") &&
                  strstr(o, "suite pal: 2 history plots"), "status %d: %s", st, o);
    free(o);
    char f[800];
    snprintf(f, sizeof f, "%s/history_score.dat", out);
    char *dat = fixture_read(f, NULL);
    CHECK(dat);
    /* dense 4/4, 3/4, 2/4; sparse 0.5, gap, 0.5 */
    CHECK_MSG(strstr(dat, "# dense\n1 aaaaaaaa 100\n2 bbbbbbbb 75\n3 cccccccc* 50\n\n\n# sparse\n1 aaaaaaaa 50\n"
                          "2 bbbbbbbb nan\n3 cccccccc* 50\n"),
              "%s", dat);
    free(dat);
    snprintf(f, sizeof f, "%s/history_throughput.dat", out);
    dat = fixture_read(f, NULL);
    /* geometric means of 256/0.01 and 256/0.04 = 12800; then 256/sqrt(0.02 * 0.04), 256/sqrt(0.03 * 0.04) */
    CHECK_MSG(dat && strstr(dat, "1 aaaaaaaa 12800\n2 bbbbbbbb 9050.97\n3 cccccccc* 7390.08\n"), "%s", dat);
    free(dat);
    snprintf(f, sizeof f, "%s/history_score.png", out);
    size_t n = 0;
    char *png = fixture_read(f, &n);
    CHECK(png && n > 1000 && !memcmp(png, "\x89PNG", 4));
    free(png);
    /* plot --all: every run's charts, oldest first */
    snprintf(args, sizeof args, "plot --all --db %s --out %s/all", path, out);
    st = rt_run(args, &o, NULL);
    CHECK_MSG(st == 0 && strstr(o, "\nrun 1 (") && strstr(o, "\nrun 3 (") && strstr(o, "\nrun 4 (") &&
                  strstr(o, "\nrun 1 (") < strstr(o, "\nrun 4 ("), "status %d: %s", st, o);
    free(o);
    snprintf(args, sizeof args, "plot --history --suite nope --db %s --out %s", path, out);
    char *err;
    st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "no run of suite 'nope'"), "status %d: %s", st, err);
    free(err);
}
