/* test_compare.c — the regression gate (`purbo-bench compare`) on the tiny
 * run of runner_fixture.h: a baseline written from a run passes on that
 * run; a deliberately worse method (StreamingLLM with a 16-token window in
 * place of dense) fails, naming each regression on its own line, and so do
 * edited copies of the run (answers wrong, a task missing, fewer cases) and
 * a raised density; bad baselines, tolerances and runs are bad input
 * (exit 2). A baseline with per-case scores (on synthetic runs) gates on the
 * paired difference: a fall beyond the tolerance fails only when significant
 * (McNemar for pass/fail, the paired bootstrap otherwise), and says which.
 * And report's reference taken from another database (--ref-db).
 */
#include "tests/runner_fixture.h"
#include "tests/test.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/fixture.h"

/* Copies the tiny database to rt_dir()/name and runs sql on the copy. */
static const char *worse_copy(const char *name, const char *sql)
{
    static char path[600];
    const char *src = rt_tiny_db();
    if (!src) return NULL;
    snprintf(path, sizeof path, "%s/%s", rt_dir(), name);
    remove(path);
    char vacuum[800];
    snprintf(vacuum, sizeof vacuum, "VACUUM INTO '%s'", path);
    sqlite3 *h;
    int rc = sqlite3_open(src, &h);
    if (rc == SQLITE_OK) rc = sqlite3_exec(h, vacuum, NULL, NULL, NULL);
    sqlite3_close(h);
    if (rc == SQLITE_OK) rc = sqlite3_open(path, &h);
    if (rc == SQLITE_OK) rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc == SQLITE_OK ? path : NULL;
}

static int count_lines(const char *s, const char *prefix)
{
    int n = 0;
    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += !strncmp(p, prefix, strlen(prefix));
    return n;
}

/* The baseline of the tiny run, written once. */
static const char *baseline(void)
{
    static char path[600];
    const char *db = rt_tiny_db();
    if (!db) return NULL;
    snprintf(path, sizeof path, "%s/tiny.baseline", rt_dir());
    char args[1400];
    snprintf(args, sizeof args, "compare --write-baseline %s --run 1 --db %s", path, db);
    return rt_run(args, NULL, NULL) == 0 ? path : NULL;
}

TEST(compare_baseline_of_a_run_passes_on_it)
{
    const char *db = rt_tiny_db(), *base = baseline();
    CHECK(db && base);
    size_t n;
    char *text = fixture_read(base, &n);
    CHECK(text);
    /* one line per (method, task) with the run's mean score, density and case count */
    long long pk = rt_query(db, "SELECT round(10000 * avg(score)) FROM suite_cases WHERE task = 'passkey'");
    char want[128];
    snprintf(want, sizeof want, "\ndense passkey %.2f 1.0000 2\n", pk / 100.0);
    CHECK_MSG(strstr(text, want), "no '%s' in:\n%s", want + 1, text);
    CHECK_MSG(count_lines(text, "dense ") == 2 && strstr(text, "\ndense niah "), "%s", text);
    free(text);
    char args[1400], *out;
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s", base, db);
    int st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && strstr(out, "0 regressions") && !count_lines(out, "REGRESSION"), "status %d: %s", st, out);
    free(out);
}

TEST(compare_streaming_window_16_fails_the_gate)
{
    const char *base = baseline();
    CHECK(base);
    /* the tiny suite's accuracy tasks, its method "dense" now streaming with a 16-token window */
    char text[1024], args[1400], db[600], *out, *err;
    snprintf(text, sizeof text,
             "name: tiny\nmodel: %s\nbackend: cpu\nseed: 7\nlimits:\n  max_new: 10\nmethods:\n"
             "  - {name: dense, policy: streaming, params: {sink: 4, window: 16}}\ntasks:\n"
             "  - {type: passkey, contexts: [256], samples: 2}\n"
             "  - {type: niah, contexts: [256], depths: [0, 100]}\n", test_model_path);
    const char *suite = rt_write("w16.yaml", text);
    snprintf(db, sizeof db, "%s/w16.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none", suite, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    free(err);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE policy = 'streaming' AND density < 0.5") == 4);
    snprintf(args, sizeof args, "compare --baseline %s --run last --db %s", base, db);
    st = rt_run(args, &out, NULL);
    /* every task whose score fell by more than 5 points is named, and nothing else */
    int want = 0;
    const char *tasks[] = {"passkey", "niah"};
    for (int i = 0; i < 2; i++) {
        char sql[200], line[160];
        snprintf(sql, sizeof sql, "SELECT round(10000 * avg(score)) FROM suite_cases WHERE task = '%s'", tasks[i]);
        long long b = rt_query(rt_tiny_db(), sql), w = rt_query(db, sql);
        if (w >= b - 500) continue;
        want++;
        snprintf(line, sizeof line, "REGRESSION dense/%s: score %.2f < baseline %.2f - 5\n", tasks[i], w / 100.0,
                 b / 100.0);
        CHECK_MSG(strstr(out, line), "no '%s' in:\n%s", line, out);
    }
    CHECK_MSG(want >= 1 && st == 1 && count_lines(out, "REGRESSION") == want, "status %d, %d expected: %s", st,
              want, out);
    free(out);
}

TEST(compare_worse_method_fails_naming_each_regression)
{
    const char *base = baseline();
    CHECK(base);
    /* every answer wrong: each task the run scored (>= 5 of 100) regresses */
    const char *db = worse_copy("worse.db", "UPDATE suite_cases SET score = 0, prediction = 'no idea'");
    CHECK(db);
    char args[1400], *out;
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s", base, db);
    int st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 1, "status %d: %s", st, out);
    int scored = 0;
    const char *tasks[] = {"passkey", "niah"};
    for (int i = 0; i < 2; i++) {
        char sql[200], want[128];
        snprintf(sql, sizeof sql, "SELECT round(10000 * avg(score)) FROM suite_cases WHERE task = '%s'", tasks[i]);
        long long sc = rt_query(rt_tiny_db(), sql);
        if (sc < 500) continue;
        scored++;
        snprintf(want, sizeof want, "REGRESSION dense/%s: score 0.00 < baseline %.2f - 5\n", tasks[i], sc / 100.0);
        CHECK_MSG(strstr(out, want), "no '%s' in:\n%s", want, out);
    }
    CHECK_MSG(scored >= 1 && count_lines(out, "REGRESSION") == scored && strstr(out, "regression"), "%s", out);
    free(out);

    /* density up where the baseline had less; a tolerance that covers it passes */
    char *lowered = fixture_read(base, &(size_t){0});
    CHECK(lowered);
    char *p = strstr(lowered, "\ndense niah ");
    CHECK(p);
    p = strstr(p, " 1.0000 ");
    CHECK(p);
    memcpy(p, " 0.4000 ", 8);
    const char *b2 = rt_write("lowered.baseline", lowered);
    free(lowered);
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s", b2, rt_tiny_db());
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 1 && strstr(out, "REGRESSION dense/niah: density 1.0000 > baseline 0.4000 + 0.02\n") &&
              count_lines(out, "REGRESSION") == 1, "status %d: %s", st, out);
    free(out);
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s --tolerance density=0.7,score=0", b2,
             rt_tiny_db());
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0, "status %d: %s", st, out);
    free(out);

    /* a task missing and fewer cases: each named */
    db = worse_copy("partial.db", "DELETE FROM suite_cases WHERE task = 'niah';"
                                  "DELETE FROM suite_cases WHERE task = 'passkey' AND case_index = 1;");
    CHECK(db);
    snprintf(args, sizeof args, "compare --baseline %s --run last --db %s", base, db);
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 1 && strstr(out, "REGRESSION dense/niah: missing from run 1") &&
              strstr(out, "REGRESSION dense/passkey: 1 cases, baseline 2"), "status %d: %s", st, out);
    free(out);
}

TEST(compare_bad_input_exits_2)
{
    const char *db = rt_tiny_db(), *base = baseline();
    CHECK(db && base);
    struct { const char *baseline_text, *opts, *want; } cases[] = {
        {"# fine\ndense passkey 100\n", "", "bad.baseline:2: expected 'method task score density cases'"},
        {"dense passkey 120.00 1.0 2\n", "", "bad.baseline:1: score must be in [0, 100]"},
        {"dense passkey 100.00 x 2\n", "", "bad.baseline:1:"},
        {"dense passkey 100.00 - 2\ndense passkey 90.00 - 2\n", "", "bad.baseline:2: (dense, passkey) repeats line 1"},
        {"dense passkey 100.00 - 2\n", "--tolerance score=abc", "--tolerance score 'abc' is not a number"},
        {"dense passkey 100.00 - 2\n", "--tolerance latency=1", "unknown key 'latency'"},
        {"dense passkey 100.00 - 2\n", "--run 99", "no run 99"},
        {"dense passkey 100.00 - 2 0:1,0:1\n", "", "bad.baseline:1: per-case scores: case index 0 does not ascend"},
        {"dense passkey 100.00 - 2 0:1\n", "", "bad.baseline:1: per-case scores: 1 listed, 2 cases"},
        {"dense passkey 100.00 - 2 0:1,1:0\n", "", "bad.baseline:1: per-case scores average 50.00, not the line's score 100.00"},
        {"dense passkey 100.00 - 2 0:1,1:2\n", "", "bad.baseline:1: per-case scores: case 1: a score in [0, 1]"},
        {"dense passkey 100.00 - 2 0:1,1:1 more\n", "", "bad.baseline:1: expected 'method task score density cases'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *b = rt_write("bad.baseline", cases[i].baseline_text);
        char args[1400], *err;
        snprintf(args, sizeof args, "compare --baseline %s --db %s %s%s", b, db, cases[i].opts,
                 strstr(cases[i].opts, "--run") ? "" : " --run 1");
        int st = rt_run(args, NULL, &err);
        CHECK_MSG(st == 2 && strstr(err, cases[i].want) && strchr(err, '\n') == strrchr(err, '\n'),
                  "case %zu: status %d: %s", i, st, err);
        free(err);
    }
    char args[1400], *err;
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s/missing.db", base, rt_dir());
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "missing.db: no such results database"), "status %d: %s", st, err);
    free(err);
}

/* A synthetic run (results/score_cells.h reads it like any run): task pk,
 * pass/fail, 12 cases whose first `fail` fail, and task cw, fractional, 6
 * cases scoring 0.75 - drop each. Returns the database's path. */
static const char *synthetic_run(const char *name, int fail, double drop)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", rt_dir(), name);
    remove(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    if (!db) return NULL;
    run_meta meta = {.command = "purbo-test compare per case", .device = "cpu"};
    int64_t run = db_run_begin(db, &meta);
    for (int i = 0; i < 12; i++) fixture_case_row(db, run, "pk", "dense", NULL, i, 256, i >= fail, 1.0);
    for (int i = 0; i < 6; i++) fixture_case_row(db, run, "cw", "dense", NULL, i, 256, 0.75 - drop + 0.05 * (i % 3), 1.0);
    db_run_end(db, run, RUN_DONE);
    db_close(db);
    return path;
}

TEST(compare_per_case_baseline_flags_only_significant_falls)
{
    const char *db = synthetic_run("pc-base.db", 0, 0);
    CHECK(db);
    char base[600], args[1600], *out;
    snprintf(base, sizeof base, "%s/pc.baseline", rt_dir());
    snprintf(args, sizeof args, "compare --write-baseline %s --per-case --run 1 --db %s", base, db);
    CHECK(rt_run(args, NULL, NULL) == 0);
    char *text = fixture_read(base, NULL);
    CHECK(text);
    CHECK_MSG(strstr(text, "\ndense pk 100.00 1.0000 12 0:1,1:1,2:1,") && strstr(text, ",11:1\n") &&
                  strstr(text, "\ndense cw 80.00 1.0000 6 0:0.75,1:0.8,2:0.85,3:0.75,4:0.8,5:0.85\n"),
              "%s", text);
    free(text);
    /* the same run passes */
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s", base, db);
    int st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && strstr(out, "0 regressions") && strstr(out, "2 pairs tested case by case at 95%"),
              "status %d: %s", st, out);
    free(out);
    /* 6 of 12 pass/fail cases fall: -50 points, McNemar p = 2/64: a regression, saying why */
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s", base, synthetic_run("pc6.db", 6, 0));
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 1 && strstr(out, "REGRESSION dense/pk: paired score difference -50.00 [") &&
                  strstr(out, "over 12 cases, beyond -5 and significant (exact McNemar p = 0.03125, 0 vs 6 discordant)\n") &&
                  count_lines(out, "REGRESSION") == 1,
              "status %d: %s", st, out);
    free(out);
    /* 5 fall: -41.67 points, far beyond the tolerance, but p = 0.0625: noise, the gate passes */
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s", base, synthetic_run("pc5.db", 5, 0));
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && strstr(out, "noise      dense/pk: paired score difference -41.67 [") &&
                  strstr(out, "not significant (exact McNemar p = 0.0625, 0 vs 5 discordant)\n") &&
                  !count_lines(out, "REGRESSION"),
              "status %d: %s", st, out);
    free(out);
    /* fractional: every case 0.1 lower, the bootstrap interval is [-10, -10]: a regression; 0.04 lower is
     * significant too but within the tolerance of 5 points: nothing */
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s", base, synthetic_run("pcf.db", 0, 0.1));
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 1 && strstr(out, "REGRESSION dense/cw: paired score difference -10.00 [-10.00, -10.00] over 6 "
                                     "cases, beyond -5 and significant (paired bootstrap interval excludes 0)\n"),
              "status %d: %s", st, out);
    free(out);
    snprintf(args, sizeof args, "compare --baseline %s --run 1 --db %s", base, synthetic_run("pcs.db", 0, 0.04));
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && !strstr(out, "dense/cw"), "status %d: %s", st, out);
    free(out);
}

/* Bytes from a hostile baseline reach stderr escaped: no terminal escape,
 * no stray byte, still one line. */
TEST(compare_escapes_raw_bytes_in_errors)
{
    const char *db = rt_tiny_db();
    CHECK(db);
    const char *b = rt_write("esc.baseline", "dense\x1b]0;owned\x07 passkey \xff\n");
    char args[1400], *err;
    snprintf(args, sizeof args, "compare --baseline %s --db %s --run 1", b, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "got 'dense\\x1b]0;owned\\x07 passkey \\xff'"), "status %d: %s", st, err);
    int raw = 0;
    for (const unsigned char *p = (const unsigned char *)err; *p; p++) raw += (*p < 0x20 && *p != '\n') || *p >= 0x7f;
    CHECK_MSG(!raw && strchr(err, '\n') == strrchr(err, '\n'), "%d raw bytes: %s", raw, err);
    free(err);
}

/* report and compare only read: an empty file stays empty (no schema is
 * created in it), a run id past int64 is named as written, and a database
 * of another schema version is refused rather than migrated. */
TEST(report_reads_only)
{
    char path[600], args[1400], *err;
    snprintf(path, sizeof path, "%s/empty.db", rt_dir());
    FILE *f = fopen(path, "w");
    CHECK(f);
    fclose(f);
    snprintf(args, sizeof args, "report --db %s", path);
    int st = rt_run(args, NULL, &err);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_MSG(st == 2 && strstr(err, "empty.db: empty: no results database here") && sb.st_size == 0,
              "status %d, %lld bytes: %s", st, (long long)sb.st_size, err);
    free(err);
    const char *db = rt_tiny_db();
    CHECK(db);
    snprintf(args, sizeof args, "report --db %s --run 99999999999999999999", db);
    st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "'99999999999999999999' is not a run id") && !strstr(err, "9223372036854775807"),
              "status %d: %s", st, err);
    free(err);
    const char *old = worse_copy("old.db", "DELETE FROM schema_version WHERE version = (SELECT max(version) FROM schema_version)");
    CHECK(old);
    long long before = rt_query(old, "SELECT max(version) FROM schema_version");
    snprintf(args, sizeof args, "report --db %s --run 1", old);
    st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "is older than this build's"), "status %d: %s", st, err);
    CHECK(rt_query(old, "SELECT max(version) FROM schema_version") == before);
    free(err);
    /* and the tiny run reports from a copy whose permissions forbid writing */
    const char *ro = worse_copy("ro.db", "SELECT 1");
    CHECK(ro && chmod(ro, 0444) == 0);
    snprintf(args, sizeof args, "report --db %s --run 1", ro);
    char *out;
    st = rt_run(args, &out, &err);
    CHECK_MSG(st == 0 && strstr(out, "passkey"), "status %d: %s", st, err);
    free(out);
    free(err);
}

/* report --ref-db: a run whose method ran without dense (the tiny run's cases renamed 'sparse', every
 * answer wrong, one niah prompt changed) takes dense from the tiny database itself, paired by prompt; the
 * changed prompt is left out and counted; a run with a dense of its own, a missing run or file, and
 * --ref-run alone are bad input */
TEST(report_ref_db_pairs_by_prompt)
{
    const char *tiny = rt_tiny_db();
    CHECK(tiny);
    const char *alone = worse_copy("alone.db", "UPDATE suite_cases SET method = 'sparse', score = 0;"
                                               "UPDATE suite_cases SET prompt_hash = 'ffffffffffffffff'"
                                               " WHERE task = 'niah' AND case_index = 1");
    CHECK(alone);
    long long passed = rt_query(tiny, "SELECT count(*) FROM suite_cases WHERE method = 'dense' AND score = 1"
                                      " AND NOT (task = 'niah' AND case_index = 1)");
    CHECK(passed >= 1); /* so the paired differences are not all 0 */
    char args[1600], *out, *err, want[200];
    snprintf(args, sizeof args, "report --db %s --ref-db %s", alone, tiny);
    CHECK(rt_run(args, &out, NULL) == 0);
    snprintf(want, sizeof want, "reference: method 'dense' of run 1 in %s: 3 cases paired by prompt, 1 at the same"
                                " grid point with another prompt left out\n", tiny);
    CHECK_MSG(!strncmp(out, want, strlen(want)), "%s", out);
    CHECK_MSG(strstr(out, "diff: the method - dense on the same cases") && strstr(out, "(1 paired)"), "%s", out);
    snprintf(args, sizeof args, "report --db %s --ref-db %s --format json", alone, tiny);
    char *js;
    CHECK(rt_run(args, &js, NULL) == 0);
    CHECK_MSG(strstr(js, "\"ref_paired\": 3, \"ref_other_prompt\": 1") && strstr(js, "\"sparse\""), "%s", js);
    free(js);
    free(out);
    /* the file is read, not written: the copy still has no dense */
    CHECK(rt_query(alone, "SELECT count(*) FROM suite_cases WHERE method = 'dense'") == 0);
    const char *bad[][2] = {
        {"report --db %s --ref-db %s", "has a method 'dense' of its own"},
        {"report --db %s --ref-db %s --ref-run 7", "no run 7"},
        {"report --db %s --ref-run 1 --ref %s", "give --ref-db"},
    };
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, bad[i][0], tiny, i == 2 ? "dense" : tiny);
        CHECK_MSG(rt_run(args, NULL, &err) == 2 && strstr(err, bad[i][1]), "%s: %s", args, err);
        free(err);
    }
    snprintf(args, sizeof args, "report --db %s --ref-db %s/none.db", alone, rt_dir());
    CHECK(rt_run(args, NULL, &err) == 2 && strstr(err, "no such results database"));
    free(err);
}
