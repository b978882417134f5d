/* test_run_diff.c — one run against another: the speed rule on hand-made
 * (median, p10, p90) triples; on a synthetic pair of runs, `compare
 * --baseline-run` flags the accuracy fall (paired, McNemar) and the
 * throughput case that slowed beyond its tolerance and both runs' spreads,
 * calls the slowdown within the spreads noise, warns of a run that started
 * on a loaded machine (its notes), passes a run against itself,
 * defaults to the last run, and writes parseable JUnit XML, JSON and
 * Markdown; `report --run A,B` shows both runs side by side in text,
 * Markdown and JSON. */
#include <stdlib.h>

#include "results/text_out.h"
#include "suites/run_diff.h"
#include "tests/fixture.h"
#include "tests/runner_fixture.h"
#include "tests/test.h"

TEST(run_diff_speed_rule)
{
    /* 20% slower, spreads apart: a regression; the same with A's p90 above B's p10: noise */
    CHECK(rd_speed_verdict(10, 9.9, 10.1, 12, 11.9, 12.1, 0.10) == RD_REGRESSION);
    CHECK(rd_speed_verdict(10, 9.0, 12.5, 12, 11.9, 12.1, 0.10) == RD_NOISE);
    /* 5% slower with spreads apart: within the tolerance */
    CHECK(rd_speed_verdict(10, 9.99, 10.01, 10.5, 10.49, 10.51, 0.10) == RD_SAME);
    CHECK(rd_speed_verdict(10, 9.99, 10.01, 10.5, 10.49, 10.51, 0.02) == RD_REGRESSION);
    /* faster the same way round */
    CHECK(rd_speed_verdict(12, 11.9, 12.1, 10, 9.9, 10.1, 0.10) == RD_IMPROVED);
    CHECK(rd_speed_verdict(12, 9.5, 12.1, 10, 9.9, 10.1, 0.10) == RD_NOISE);
    /* one repeat: p10 = p90 = the time, the tolerance decides */
    CHECK(rd_speed_verdict(10, 10, 10, 11.5, 11.5, 11.5, 0.10) == RD_REGRESSION);
    /* too noisy to judge: B's spread (4.2 of 12.6, 33%) is beyond 1.5 x 10% */
    CHECK(rd_speed_verdict_noise(10, 9.9, 10.1, 12.6, 12.2, 16.4, 0.10) == RD_NOISY);
    CHECK(rd_speed_verdict(10, 9.9, 10.1, 12.6, 12.2, 16.4, 0.10) == RD_REGRESSION);
    /* a spread of 14% (under 15%) still judges; so does a noisy case within the tolerance */
    CHECK(rd_speed_verdict_noise(10, 9.3, 10.7, 12, 11.9, 12.1, 0.10) == RD_REGRESSION);
    CHECK(rd_speed_verdict_noise(10, 9.95, 10.05, 12, 11.5, 13.2, 0.10) == RD_REGRESSION);
    CHECK(rd_speed_verdict_noise(10, 5, 15, 10.2, 5, 15, 0.10) == RD_SAME);
    CHECK(rd_speed_verdict_noise(12, 11.9, 12.1, 10, 9.9, 10.1, 0.10) == RD_IMPROVED);
    CHECK(!strcmp(rd_verdict_name(RD_NOISY), "noisy"));
    stats_diff d = {.diff = -0.5, .significant = 1};
    CHECK(rd_score_verdict(&d, 5) == RD_REGRESSION);
    d.significant = 0;
    CHECK(rd_score_verdict(&d, 5) == RD_NOISE);
    d.diff = -0.04;
    CHECK(rd_score_verdict(&d, 5) == RD_SAME);
}

/* Run 1: pk 12 passes; tp cases 0 (steady, 10 ms), 1 (steady, 20 ms), 2
 * (noisy, 10 ms). Run 2: 6 of pk's cases fail; case 0 takes 12 ms (apart
 * from run 1's spread), case 1 unchanged, case 2 12 ms but as noisy. */
static const char *two_runs(void)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/two.db", rt_dir());
    remove(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    if (!db) return NULL;
    static const double t[2][3][5] = {
        {{.0100, .0101, .0102, .0099, .0100}, {.020, .0205, .021, .0195, .020}, {.010, .014, .009, .012, .010}},
        {{.0120, .0121, .0122, .0119, .0120}, {.020, .0205, .021, .0195, .020}, {.012, .016, .010, .014, .012}},
    };
    for (int r = 0; r < 2; r++) {
        run_meta meta = {.command = "purbo-test run diff", .device = "cpu"};
        int64_t run = db_run_begin(db, &meta);
        for (int i = 0; i < 12; i++) fixture_case_row(db, run, "pk", "dense", NULL, i, 256, r == 0 || i >= 6, 1.0);
        for (int c = 0; c < 3; c++) fixture_bench_row(db, run, "tp", "dense", c, 256 << c, "prefill", t[r][c], 5);
        char sql[200]; /* run 2 started on a loaded machine, run 1 did not */
        snprintf(sql, sizeof sql, "UPDATE runs SET notes = 'suite pal; load %s on 2 CPUs at start' WHERE id = %lld",
                 r ? "9.00" : "0.50", (long long)run);
        DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL));
        db_run_end(db, run, RUN_DONE);
    }
    db_close(db);
    return path;
}

static int count_prefix(const char *s, const char *prefix)
{
    int n = 0;
    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += !strncmp(p, prefix, strlen(prefix));
    return n;
}

static int shell_ok(const char *cmd) { return system(cmd) == 0; }

TEST(compare_baseline_run_gates_accuracy_and_speed)
{
    const char *db = two_runs();
    CHECK(db);
    char args[1200], *out;
    snprintf(args, sizeof args, "compare --baseline-run 1 --run 2 --db %s", db);
    int st = rt_run(args, &out, NULL);
    const char *want[] = {
        "REGRESSION dense/pk: paired score difference -50.00 [",
        "REGRESSION dense/tp 2/4/2/16 ctx 256 prefill: median 12.000 ms, 1.200x the baseline's 10.000 ms: beyond 10% "
        "and beyond the measured spreads (p10..p90 11.940..12.160 ms vs 9.940..10.160 ms)\n",
        "noise      dense/tp 2/4/2/16 ctx 1024 prefill: median 12.000 ms, 1.200x the baseline's 10.000 ms: beyond 10% and "
        "within the measured spreads",
        "compare: run 2 vs run 1: 1 pairs, 2 regressions (tolerance score 5, density 0.02; 1 pair tested case by case "
        "at 95%; 3 throughput cases, speed 10% beyond the measured spread)\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_MSG(st == 1 && strstr(out, want[i]), "status %d: no '%s' in:\n%s", st, want[i], out);
    CHECK_MSG(count_prefix(out, "REGRESSION") == 2 && !strstr(out, "ctx 512"), "%s", out);
    CHECK_MSG(strstr(out, "\nwarning    run 2: started with load 9.00 on 2 CPUs: its timings are noisy") &&
                  !strstr(out, "run 1: started"), "%s", out);
    free(out);
    /* a run against itself passes; --run defaults to the last run (2) */
    snprintf(args, sizeof args, "compare --baseline-run 1 --run 1 --db %s", db);
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && strstr(out, "0 regressions") && !count_prefix(out, "noise"), "status %d: %s", st, out);
    free(out);
    snprintf(args, sizeof args, "compare --baseline-run 1 --db %s --tolerance speed=0.5", db);
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 1 && strstr(out, "compare: run 2 vs run 1: 1 pairs, 1 regression ") && !strstr(out, "dense/tp"),
              "status %d: %s", st, out);
    free(out);
    /* machine formats parse */
    char cmd[2000];
    snprintf(cmd, sizeof cmd,
             "%s compare --baseline-run 1 --db %s --format junit | python3 -c 'import sys, xml.etree.ElementTree as E;"
             " s = E.parse(sys.stdin).getroot().find(\"testsuite\"); f = [c.get(\"name\") for c in s if c.find(\"failure\") is not None];"
             " sys.exit(0 if s.get(\"failures\") == \"2\" and s.get(\"tests\") == \"5\" and f[0] == \"dense/pk\" else 1)'",
             test_bin_path, db);
    CHECK_MSG(shell_ok(cmd), "junit: %s", cmd);
    snprintf(cmd, sizeof cmd,
             "%s compare --baseline-run 1 --db %s --format json | python3 -c 'import sys, json; d = json.load(sys.stdin);"
             " sys.exit(0 if d[\"regressions\"] == 2 and d[\"findings\"][0][\"verdict\"] == \"REGRESSION\" else 1)'",
             test_bin_path, db);
    CHECK_MSG(shell_ok(cmd), "json: %s", cmd);
    snprintf(args, sizeof args, "compare --baseline-run 1 --db %s --format md", db);
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 1 && strstr(out, "### purbo-bench compare: :x: regressions\n") &&
                  strstr(out, "| verdict | pair | detail |\n|:---|:---|:---|\n| REGRESSION | dense/pk | paired"),
              "status %d: %s", st, out);
    free(out);
}

TEST(report_two_runs_side_by_side)
{
    const char *db = two_runs();
    CHECK(db);
    char args[1200], *out;
    snprintf(args, sizeof args, "report --run 1,2 --db %s --format md", db);
    int st = rt_run(args, &out, NULL);
    const char *want[] = {
        "### purbo-bench: run 2 against run 1\n",
        "| pk | dense | 12 | 12 | 100.00 | 50.00 | -50.00 | [-",
        " | 0.031 | REGRESSION | 1.0000 | 1.0000 |\n",
        "| tp | dense | 2/4/2/16 | 256 | prefill | 10.000 | 12.000 | 1.200 | 2.2 | REGRESSION | 25600.0 | 21333.3 | tok/s |\n",
        "| tp | dense | 2/4/2/16 | 512 | prefill | 20.000 | 20.000 | 1.000 | ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_MSG(st == 0 && strstr(out, want[i]), "status %d: no '%s' in:\n%s", st, want[i], out);
    free(out);
    /* text: aligned columns, the method name whole */
    snprintf(args, sizeof args, "report --baseline-run 1 --run 2 --db %s", db);
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && strstr(out, "\ntask  method  n A  n B  score A (run 1)  score B (run 2)   B - A") &&
                  strstr(out, "\npk    dense    12   12           100.00            50.00  -50.00"),
              "status %d:\n%s", st, out);
    free(out);
    char cmd[1600];
    snprintf(cmd, sizeof cmd,
             "%s report --run 1,2 --db %s --format json | python3 -c 'import sys, json; d = json.load(sys.stdin);"
             " a = d[\"accuracy (score x100; B - A paired by case)\"][0]; s = [r[\"verdict\"] for r in d[list(d)[-1]]];"
             " sys.exit(0 if d[\"regressions\"] == 2 and a[\"B - A\"] == -50 and s == [\"REGRESSION\", \"same\", \"noise\"] else 1)'",
             test_bin_path, db);
    CHECK_MSG(shell_ok(cmd), "json: %s", cmd);
    /* one run in Markdown and JSON */
    snprintf(args, sizeof args, "report --run 2 --db %s --format md", db);
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && strstr(out, "| pk | 256 | dense | 12 | 50.00 | ") && strstr(out, "| tp | dense | 2/4/2/16 | 256 |"),
              "status %d:\n%s", st, out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s report --db %s --format json | python3 -c 'import sys, json; json.load(sys.stdin)'",
             test_bin_path, db);
    CHECK_MSG(shell_ok(cmd), "json: %s", cmd);
    snprintf(args, sizeof args, "report --run 1,9 --db %s", db);
    char *err;
    st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "no run 9"), "status %d: %s", st, err);
    free(err);
}

/* Units that fit the magnitude; report's tables as wide as their names. */
TEST(report_units_and_whole_method_names)
{
    char b[64];
    fmt_rate(0.0123, "TFLOP/s", b, sizeof b);
    CHECK_MSG(!strcmp(b, "12.3 GFLOP/s"), "%s", b);
    fmt_rate(0.5, "GB/s", b, sizeof b);
    CHECK_MSG(!strcmp(b, "500 MB/s"), "%s", b);
    fmt_rate(2.5, "TFLOP/s", b, sizeof b);
    CHECK_MSG(!strcmp(b, "2.5 TFLOP/s"), "%s", b);
    fmt_rate(0.00004, "TFLOP/s", b, sizeof b);
    CHECK_MSG(!strcmp(b, "40 MFLOP/s"), "%s", b);
    fmt_rate(190.84, "tok/s", b, sizeof b);
    CHECK_MSG(!strcmp(b, "190.8 tok/s"), "%s", b);
    char path[600];
    snprintf(path, sizeof path, "%s/names.db", rt_dir());
    remove(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK(db);
    run_meta meta = {.command = "purbo-test names", .device = "cpu"};
    int64_t run = db_run_begin(db, &meta);
    const char *longm = "rtpurbo-topk-window-1024-rho-0.15";
    for (int i = 0; i < 2; i++) {
        fixture_case_row(db, run, "niah_multikey_3_long", "dense", NULL, i, 256, 1, 1.0);
        fixture_case_row(db, run, "niah_multikey_3_long", longm, "rtpurbo", i, 256, i, 0.2);
    }
    db_run_end(db, run, RUN_DONE);
    db_close(db);
    char args[800], *out;
    snprintf(args, sizeof args, "report --db %s", path);
    int st = rt_run(args, &out, NULL);
    /* the score table's header and the statistics row name the method whole, aligned under it */
    char want[300];
    snprintf(want, sizeof want, "%-18s %5s %33s %33s\n", "score (x100)", "cases", "dense", longm);
    CHECK_MSG(st == 0 && strstr(out, want), "no '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "\nniah_multikey_3_long %7d %-33s %4d", 256, longm, 2);
    CHECK_MSG(strstr(out, want), "no '%s' in:\n%s", want, out);
    free(out);
}
