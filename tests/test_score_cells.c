/* test_score_cells.c — a run's statistics cells (results/score_cells.h) and
 * the report's statistics table on a synthetic run: cells per (task,
 * length, method), per (task, method) and per method in run order, Wilson intervals for
 * a pass/fail task, the bootstrap for a fractional one, differences paired
 * by case index (a case one method lacks is left out) with McNemar's p, and
 * `report --ref` printing them (an unknown reference is bad input); RULER's
 * effective length per method (results/eff_length.h) on synthetic rows. */
#include <stdlib.h>

#include "results/eff_length.h"
#include "results/score_cells.h"
#include "tests/fixture.h"
#include "tests/runner_fixture.h"
#include "tests/test.h"

/* pk (pass/fail): at 256 dense passes cases 0-6 of 0-9, sparse only case 0;
 * at 512 dense scores 1 1 0 1 on cases 10-13, sparse 1 0 0 on 10-12.
 * cw (fractional) at 256: dense .5 .5 1 1, sparse .25 .5 .75 1. */
static const double CW_DENSE[4] = {0.5, 0.5, 1, 1}, CW_SPARSE[4] = {0.25, 0.5, 0.75, 1};

static char *synthetic_db(int64_t *run)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/cells.db", rt_dir());
    remove(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    if (!db) return NULL;
    run_meta meta = {.command = "purbo-test score cells", .device = "cpu"};
    *run = db_run_begin(db, &meta);
    for (int i = 0; i < 10; i++) {
        fixture_case_row(db, *run, "pk", "dense", NULL, i, 256, i < 7, 1.0);
        fixture_case_row(db, *run, "pk", "sparse", NULL, i, 256, i == 0, 0.25);
    }
    const double d512[4] = {1, 1, 0, 1}, s512[3] = {1, 0, 0};
    for (int i = 0; i < 4; i++) fixture_case_row(db, *run, "pk", "dense", NULL, 10 + i, 512, d512[i], 1.0);
    for (int i = 0; i < 3; i++) fixture_case_row(db, *run, "pk", "sparse", NULL, 10 + i, 512, s512[i], 0.5);
    for (int i = 0; i < 4; i++) {
        fixture_case_row(db, *run, "cw", "dense", NULL, i, 256, CW_DENSE[i], 1.0);
        fixture_case_row(db, *run, "cw", "sparse", NULL, i, 256, CW_SPARSE[i], 0.25);
    }
    db_run_end(db, *run, RUN_DONE);
    db_close(db);
    return path;
}

TEST(score_cells_intervals_and_paired_differences)
{
    int64_t run;
    const char *path = synthetic_db(&run);
    CHECK(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK(db);
    score_cell *c;
    int n = score_cells(db, run, "dense", SCORE_BY_CONTEXT, &c);
    const char *want[6][2] = {{"pk", "dense"}, {"pk", "sparse"}, {"pk", "dense"},
                              {"pk", "sparse"}, {"cw", "dense"}, {"cw", "sparse"}};
    const int ctx[6] = {256, 256, 512, 512, 256, 256};
    CHECK_MSG(n == 6, "%d cells", n);
    for (int i = 0; i < 6; i++)
        CHECK_MSG(!strcmp(c[i].task, want[i][0]) && !strcmp(c[i].method, want[i][1]) && c[i].context == ctx[i],
                  "cell %d: %s %d %s", i, c[i].task, c[i].context, c[i].method);
    /* pk at 256: dense 7/10 (Wilson [0.3968, 0.8922]), sparse 1/10; 6 discordant pairs all one way */
    CHECK(c[0].score.binary && c[0].score.n == 10 && !c[0].has_diff);
    CHECK_NEAR(c[0].score.mean, 0.7, 1e-12);
    CHECK_NEAR(c[0].score.lo, 0.396778147, 1e-8);
    CHECK_NEAR(c[0].score.hi, 0.892208733, 1e-8);
    CHECK_NEAR(c[1].score.lo, 0.017876213, 1e-8);
    CHECK_NEAR(c[1].score.hi, 0.404150027, 1e-8);
    CHECK(c[1].has_diff && c[1].diff.n == 10 && c[1].diff.b == 0 && c[1].diff.c == 6 && c[1].diff.significant);
    CHECK_NEAR(c[1].diff.diff, -0.6, 1e-12);
    CHECK_NEAR(c[1].diff.p, 0.03125, 1e-12);
    CHECK_NEAR(c[1].density, 0.25, 1e-12);
    /* pk at 512: case 13 has no sparse score, so 3 pairs, one discordant */
    CHECK(c[3].score.n == 3 && c[3].diff.n == 3 && c[3].diff.c == 1 && !c[3].diff.significant);
    CHECK_NEAR(c[3].diff.diff, -1.0 / 3, 1e-12);
    CHECK_NEAR(c[3].diff.p, 1.0, 1e-12);
    /* cw is fractional: the seeded bootstrap of its scores, and the paired one of .5 .5 1 1 - (.25 .5 .75 1) */
    CHECK(!c[4].score.binary && !c[5].score.binary);
    double lo, hi;
    stats_bootstrap_mean(CW_DENSE, 4, STATS_BOOT_N, STATS_BOOT_SEED, STATS_ALPHA, &lo, &hi);
    CHECK(c[4].score.lo == lo && c[4].score.hi == hi);
    CHECK_NEAR(c[4].score.mean, 0.75, 1e-12);
    CHECK(c[5].has_diff && c[5].diff.p == -1 && !c[5].diff.significant);
    CHECK_NEAR(c[5].diff.diff, -0.125, 1e-12);
    double d[4] = {-0.25, 0, -0.25, 0};
    stats_bootstrap_mean(d, 4, STATS_BOOT_N, STATS_BOOT_SEED, STATS_ALPHA, &lo, &hi);
    CHECK(c[5].diff.lo == lo && c[5].diff.hi == hi && hi == 0);
    score_cells_free(c, n);

    /* pooled over lengths: dense 10/14, sparse 2/13; 13 pairs, 7 discordant one way (p = 2/128) */
    n = score_cells(db, run, "dense", SCORE_BY_TASK, &c);
    CHECK_MSG(n == 4 && c[0].context == 0 && !strcmp(c[1].method, "sparse"), "%d cells", n);
    CHECK(c[0].score.n == 14 && c[1].score.n == 13 && c[1].diff.n == 13 && c[1].diff.c == 7);
    CHECK_NEAR(c[1].diff.p, 0.015625, 1e-12);
    CHECK_NEAR(c[0].score.lo, 0.453509157, 1e-8); /* Wilson 10/14 */
    score_cells_free(c, n);
    /* pooled per method: cases pair by (task, index), so cw's 0-3 do not meet pk's 0-3; cw makes it fractional */
    n = score_cells(db, run, "dense", SCORE_BY_METHOD, &c);
    CHECK_MSG(n == 2 && !strcmp(c[0].method, "dense") && !strcmp(c[1].task, SCORE_ALL_TASKS), "%d cells", n);
    CHECK(c[0].score.n == 18 && c[1].score.n == 17 && !c[1].score.binary && c[1].diff.n == 17 && c[1].diff.significant);
    CHECK_NEAR(c[0].score.mean, 13.0 / 18, 1e-12);
    CHECK_NEAR(c[1].diff.diff, -7.5 / 17, 1e-12); /* pk: 7 cases 1 -> 0; cw: -0.25 twice */
    CHECK_NEAR(c[1].density, (10 * 0.25 + 3 * 0.5 + 4 * 0.25) / 17, 1e-12);
    score_cells_free(c, n);
    /* no reference: no differences */
    n = score_cells(db, run, NULL, SCORE_BY_CONTEXT, &c);
    for (int i = 0; i < n; i++) CHECK(!c[i].has_diff);
    score_cells_free(c, n);
    int *idx;
    double *x;
    CHECK(score_cases(db, run, "sparse", "pk", &idx, &x) == 13 && idx[12] == 12 && x[0] == 1 && x[12] == 0);
    free(idx);
    free(x);
    CHECK(score_has_method(db, run, "sparse") && !score_has_method(db, run, "nope"));
    db_close(db);
}

TEST(report_prints_statistics_against_a_reference)
{
    int64_t run;
    const char *path = synthetic_db(&run);
    CHECK(path);
    char args[800], *out, *err;
    snprintf(args, sizeof args, "report --db %s --run %lld", path, (long long)run);
    int st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0, "status %d", st);
    /* n, mean, Wilson interval; the difference to dense, its interval, McNemar's p, significant */
    const char *rows[] = {
        "\npk                     256 dense              10   70.00 [ 39.68,  89.22]\n",
        "\npk                     256 sparse             10   10.00 [  1.79,  40.42]   -60.00 [",
        "   0.031 *\n",
        "\npk                     512 sparse              3   33.33 [  6.15,  79.23]   -33.33 [",
        "   1.000\ncw ",
        "diff: the method - dense on the same cases",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) CHECK_MSG(strstr(out, rows[i]), "no '%s' in:\n%s", rows[i], out);
    free(out);
    snprintf(args, sizeof args, "report --db %s --run %lld --ref sparse", path, (long long)run);
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && strstr(out, "\npk                     256 dense              10   70.00 [ 39.68,  89.22]   +60.00 [") &&
                  strstr(out, "diff: the method - sparse"), "status %d:\n%s", st, out);
    free(out);
    snprintf(args, sizeof args, "report --db %s --run %lld --ref nope", path, (long long)run);
    st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "--ref: no method 'nope'") && strchr(err, '\n') == strrchr(err, '\n'),
              "status %d: %s", st, err);
    free(err);
}

/* RULER tasks at 1K-8K, 20 cases each of niah_single_1 (pass/fail) and cwe
 * (0.8 for every method), so each (length, method) pools 40 cases. dense
 * passes every niah case; good loses 1 of 20 at 4K (-2.5 points pooled) and
 * 10 at 8K (-25); gap loses 10 at 2K only; bad loses all from 1K. A passkey
 * task (not RULER) where bad passes is left out. */
static char *ruler_db(int64_t *run)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/ruler.db", rt_dir());
    remove(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    if (!db) return NULL;
    run_meta meta = {.command = "purbo-test effective length", .device = "cpu"};
    *run = db_run_begin(db, &meta);
    const int L[4] = {1024, 2048, 4096, 8192};
    const char *m[4] = {"dense", "good", "gap", "bad"};
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), "BEGIN", NULL, NULL, NULL));
    for (int l = 0; l < 4; l++)
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 20; i++) {
                int lost = k == 1 ? (l == 2 ? 1 : l == 3 ? 10 : 0) : k == 2 ? (l == 1 ? 10 : 0) : k == 3 ? 20 : 0;
                fixture_case_row(db, *run, "niah_single_1", m[k], NULL, 20 * l + i, L[l], i >= lost, 0.5);
                fixture_case_row(db, *run, "cwe", m[k], NULL, 20 * l + i, L[l], 0.8, 0.5);
                fixture_case_row(db, *run, "passkey", m[k], NULL, 20 * l + i, L[l], 1, 0.5);
            }
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), "COMMIT", NULL, NULL, NULL));
    db_run_end(db, *run, RUN_DONE);
    db_close(db);
    return path;
}

TEST(eff_length_from_synthetic_rows)
{
    int64_t run;
    const char *path = ruler_db(&run);
    CHECK(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    score_cell *c;
    int n = score_cells(db, run, "dense", SCORE_RULER_BY_LENGTH, &c);
    CHECK_MSG(n == 16, "%d cells, want 4 lengths x 4 methods", n);
    /* length-major, methods in run order; the passkey rows are not RULER's */
    CHECK(!strcmp(c[0].method, "dense") && c[0].context == 1024 && !strcmp(c[0].task, SCORE_RULER_TASKS));
    CHECK(c[0].score.n == 40 && fabs(c[0].score.mean - 0.9) < 1e-12 && !c[0].score.binary);
    CHECK(!strcmp(c[13].method, "good") && c[13].context == 8192 && c[13].has_diff && c[13].diff.n == 40);
    CHECK_MSG(fabs(c[13].diff.diff + 0.25) < 1e-12, "good at 8K: diff %g", c[13].diff.diff);
    CHECK(fabs(c[9].diff.diff + 0.025) < 1e-12 && c[9].diff.lo < -0.05); /* good at 4K: 1 of 40, too few to show */
    score_cells_free(c, n);
    eff_length *x;
    int ne = eff_lengths(db, run, "dense", EFF_MARGIN_DEFAULT, &x);
    CHECK_MSG(ne == 3, "%d methods", ne);
    const char *name[3] = {"good", "gap", "bad"};
    const int mean[3] = {4096, 1024, 0}, ci[3] = {2048, 1024, 0};
    for (int i = 0; i < ne && i < 3; i++) {
        CHECK_MSG(!strcmp(x[i].method, name[i]) && x[i].n_lengths == 4 && x[i].longest == 8192, "%s", x[i].method);
        CHECK_MSG(x[i].by_mean == mean[i] && x[i].by_ci == ci[i], "%s: by mean %d (want %d), by interval %d (want %d)",
                  x[i].method, x[i].by_mean, mean[i], x[i].by_ci, ci[i]);
    }
    eff_lengths_free(x, ne);
    /* a margin of 30 points: good passes at every length by the mean; without the reference: nothing */
    ne = eff_lengths(db, run, "dense", 0.30, &x);
    CHECK(ne == 3 && x[0].by_mean == 8192 && x[2].by_mean == 0);
    eff_lengths_free(x, ne);
    ne = eff_lengths(db, run, "nope", EFF_MARGIN_DEFAULT, &x);
    CHECK(ne == 0);
    eff_lengths_free(x, ne);
    db_close(db);

    char args[800], *out;
    snprintf(args, sizeof args, "report --db %s --run %lld", path, (long long)run);
    int st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0, "status %d", st);
    const char *rows[] = {"RULER effective length", "stays above -5 points",
                          "\ngood                   4    8192     4096     2048\n",
                          "\ngap                    4    8192     1024     1024\n",
                          "\nbad                    4    8192        0        0\n"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) CHECK_MSG(strstr(out, rows[i]), "no '%s' in:\n%s", rows[i], out);
    free(out);
}
