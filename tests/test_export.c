/* test_export.c — `purbo-bench export` on a synthetic run: every JSON Lines
 * record parses (python3's json module reads each line), the answers are a
 * JSON array and not a string, a prediction with a quote, a comma, a newline
 * and an invalid UTF-8 byte survives as text, the summary holds n, mean and
 * the Wilson interval, the throughput rows their median; the CSV has a
 * header and reads back with python3's csv module; --format json is one
 * document; a bad format is bad input (exit 2). */
#include <stdlib.h>
#include <sys/wait.h>

#include "tests/fixture.h"
#include "tests/runner_fixture.h"
#include "tests/test.h"

/* pk: dense passes cases 0-2 of 0-3; one throughput case of 3 repeats. The
 * prediction of case 1 is awkward text. */
static const char *export_db(void)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/export.db", rt_dir());
    remove(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    if (!db) return NULL;
    run_meta meta = {.command = "purbo-test export", .device = "cpu"};
    int64_t run = db_run_begin(db, &meta);
    for (int i = 0; i < 4; i++) fixture_case_row(db, run, "pk", "dense", NULL, i, 256, i < 3, 1.0);
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db),
             "UPDATE suite_cases SET prediction = 'a, \"b\"' || char(10) || 'c' || CAST(x'ff' AS TEXT),"
             " answers = '[\"12345\",\"x,y\"]', t_prefill = 0.25, t_decode = 0.5 WHERE case_index = 1",
             NULL, NULL, NULL));
    const double t[3] = {0.010, 0.011, 0.012};
    fixture_bench_row(db, run, "tp", "dense", 0, 256, "prefill", t, 3);
    db_run_end(db, run, RUN_DONE);
    db_close(db);
    return path;
}

/* Runs a shell line; returns its exit status and its stdout in *out. */
static int shell(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    for (size_t k; (k = fread(buf + n, 1, cap - n - 1, p)) > 0;)
        if ((n += k) + 1 == cap) buf = realloc(buf, cap *= 2);
    buf[n] = 0;
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(export_jsonl_csv_json_parse)
{
    const char *db = export_db();
    CHECK(db);
    char cmd[2000], *out;
    /* every line parses; the checks print the values the test then reads */
    snprintf(cmd, sizeof cmd,
             "%s export --run 1 --db %s --format jsonl | python3 -c '\n"
             "import json, sys\n"
             "recs = [json.loads(l) for l in sys.stdin]\n"
             "kinds = [r[\"record\"] for r in recs]\n"
             "c = [r for r in recs if r[\"record\"] == \"case\"]\n"
             "s = [r for r in recs if r[\"record\"] == \"summary\"][0]\n"
             "t = [r for r in recs if r[\"record\"] == \"throughput\"][0]\n"
             "print(kinds.count(\"run\"), len(c), kinds.count(\"summary\"), kinds.count(\"throughput\"))\n"
             "print(type(c[1][\"answers\"]).__name__, c[1][\"answers\"][1], ascii(c[1][\"prediction\"]))\n"
             "print(c[1][\"t_prefill\"], c[1][\"score\"], c[3][\"score\"], c[0][\"case_seed\"], c[0][\"prompt_hash\"])\n"
             "print(s[\"n\"], s[\"mean\"], round(s[\"ci_low\"], 6), round(s[\"ci_high\"], 6), s[\"pass_fail\"])\n"
             "print(t[\"t_median\"], t[\"t_p10\"], t[\"repeats\"], t[\"n_ctx\"])'",
             test_bin_path, db);
    int st = shell(cmd, &out);
    const char *want[] = {
        "1 4 1 1\n",
        "list x,y 'a, \"b\"\\nc\\ufffd'\n",
        "0.25 1 0 0000000000000001 0000000000000002\n",
        "4 0.75 0.300642 0.954413 1\n", /* Wilson 3/4 */
        "0.011 0.0102 3 256\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_MSG(st == 0 && strstr(out, want[i]), "status %d: no '%s' in:\n%s", st, want[i], out);
    free(out);

    snprintf(cmd, sizeof cmd,
             "%s export --run last --db %s --format csv | python3 -c '\n"
             "import csv, sys, json\n"
             "rows = list(csv.DictReader(sys.stdin))\n"
             "print(len(rows), json.loads(rows[1][\"answers\"]), ascii(rows[1][\"prediction\"]), rows[0][\"depth\"] == \"\")'",
             test_bin_path, db);
    st = shell(cmd, &out);
    CHECK_MSG(st == 0 && strstr(out, "4 ['12345', 'x,y'] 'a, \"b\"\\nc\\ufffd' True\n"), "status %d:\n%s", st, out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s export --db %s --format csv --table summary", test_bin_path, db);
    st = shell(cmd, &out);
    CHECK_MSG(st == 0 && !strncmp(out, "task,method,n,mean,ci_low,ci_high,pass_fail,density\npk,dense,4,0.75,", 68),
              "status %d:\n%s", st, out);
    free(out);
    snprintf(cmd, sizeof cmd,
             "%s export --db %s --format json --out %s/e.json && python3 -c 'import json; d = json.load(open(\"%s/e.json\"));"
             " print(d[\"run\"][\"run_id\"], len(d[\"cases\"]), d[\"summary\"][0][\"method\"], d[\"throughput\"][0][\"phase\"])'",
             test_bin_path, db, rt_dir(), rt_dir());
    st = shell(cmd, &out);
    CHECK_MSG(st == 0 && !strcmp(out, "1 4 dense prefill\n"), "status %d:\n%s", st, out);
    free(out);
    char args[800], *err;
    snprintf(args, sizeof args, "export --db %s --format xml", db);
    st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "--format 'xml': jsonl, json or csv"), "status %d: %s", st, err);
    free(err);
}
