/* test_runner.c — `purbo-bench run`, `report` and `plot` (suite plots) end to end
 * with the real model on tiny suites: what lands in the database for each
 * (case, method) and throughput case, --resume skipping committed cases, an
 * interrupted and a killed run losing only the case in progress, the report
 * table, the suite plots, and bad suites failing with FILE:LINE:COL and exit 2
 * before anything is written. Also the helpers of runner_fixture.h.
 */
#include "tests/runner_fixture.h"
#include "tests/test.h"

#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run/backend.h"
#include "tests/fixture.h"
#include "suites/gen.h"
#include "policy/planfile.h"

/* ---- helpers (runner_fixture.h) -------------------------------------------- */

static char *g_dir;
static pid_t g_owner; /* forked children of other tests exit() too: only the owner removes */

static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *f)
{
    (void)s; (void)flag; (void)f;
    return remove(p);
}

static void rm_dir(void)
{
    if (g_dir && getpid() == g_owner) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *rt_dir(void)
{
    if (!g_dir) {
        g_dir = strdup("/tmp/purbo-runner-XXXXXX");
        if (!g_dir || !mkdtemp(g_dir)) { perror("mkdtemp"); exit(1); }
        g_owner = getpid();
        atexit(rm_dir);
    }
    return g_dir;
}

char *rt_write(const char *name, const char *text)
{
    static char paths[16][512];
    static int n;
    char *p = paths[n++ % 16];
    snprintf(p, sizeof paths[0], "%s/%s", rt_dir(), name);
    FILE *f = fopen(p, "w");
    if (!f) { perror(p); exit(1); }
    fputs(text, f);
    fclose(f);
    return p;
}

/* Starts `exec BIN ARGS >out 2>err` in a child; returns its pid (the binary's). */
static pid_t spawn(const char *args, const char *out, const char *err)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s %s >%s 2>%s", test_bin_path, args, out, err);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1000;
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : -1000;
}

int rt_run(const char *args, char **out, char **err)
{
    char o[600], e[600];
    snprintf(o, sizeof o, "%s/stdout.txt", rt_dir());
    snprintf(e, sizeof e, "%s/stderr.txt", rt_dir());
    int st = wait_status(spawn(args, o, e));
    size_t n;
    if (out) { *out = fixture_read(o, &n); if (!*out) *out = strdup(""); }
    if (err) { *err = fixture_read(e, &n); if (!*err) *err = strdup(""); }
    return st;
}

long long rt_query(const char *db, const char *sql)
{
    sqlite3 *h;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
                v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(h);
    return v;
}

/* A suite file for the bundled model: header + tasks. */
static char *suite_file(const char *name, const char *methods, const char *tasks)
{
    char text[4096];
    snprintf(text, sizeof text,
             "name: %s\nmodel: %s\nbackend: cpu\nseed: 7\nlimits:\n  max_new: 10\nmethods:\n%stasks:\n%s", name,
             test_model_path, methods, tasks);
    char file[128];
    snprintf(file, sizeof file, "%s.yaml", name);
    return rt_write(file, text);
}

static const char *DENSE = "  - {name: dense, policy: dense}\n";
static const char *TINY_TASKS =
    "  - {type: passkey, contexts: [256], samples: 2}\n"
    "  - {type: niah, contexts: [256], depths: [0, 100]}\n"
    "  - type: throughput\n"
    "    contexts: [128]\n"
    "    repeats: 2\n"
    "    warmup: 0\n"
    "    decode_tokens: 2\n"
    "    shapes: [{layers: 1, heads: 2, kv_heads: 1, head_dim: 16}]\n";

const char *rt_tiny_db(void)
{
    static char db[600];
    static int state; /* 0 not run, 1 ok, -1 failed */
    if (state == 0) {
        char *suite = suite_file("tiny", DENSE, TINY_TASKS), args[1400], *err;
        snprintf(db, sizeof db, "%s/tiny.db", rt_dir());
        snprintf(args, sizeof args, "run %s --db %s --progress none", suite, db);
        int st = rt_run(args, NULL, &err);
        state = st == 0 ? 1 : -1;
        if (st) printf("    tiny run failed (status %d): %s\n", st, err);
        free(err);
    }
    return state == 1 ? db : NULL;
}

/* ---- tests ----------------------------------------------------------------- */

TEST(runner_tiny_suite_end_to_end)
{
    const char *db = rt_tiny_db();
    CHECK(db);
    CHECK(rt_query(db, "SELECT count(*) FROM runs") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE status = 'done' AND finished_at IS NOT NULL"
                       " AND length(config_hash) = 16 AND seed = 7 AND config LIKE 'suite_file=%'") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE run_id = 1") == 4);
    /* every row complete: grid point, prompt, answers, prediction, costs */
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE suite = 'tiny' AND method = 'dense'"
                       " AND policy = 'dense' AND length(prompt_hash) = 16 AND length(case_seed) = 16"
                       " AND prompt_tokens BETWEEN 200 AND 246 AND max_new = 10 AND json_array_length(answers) = 1"
                       " AND score IN (0, 1) AND density = 1 AND t_prefill > 0 AND t_decode >= 0"
                       " AND n_gen BETWEEN 1 AND 10 AND kv_bytes > 0 AND context = 256") == 4);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE task = 'niah' AND depth IN (0, 100)"
                       " AND metric = 'string_match_all'") == 2);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE task = 'passkey' AND metric = 'exact'"
                       " AND depth BETWEEN 0 AND 100 AND sample IN (0, 1)") == 2);
    /* a right answer is in the prediction; the 135M model finds these needles */
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE score = 1"
                       " AND instr(prediction, json_extract(answers, '$[0]')) > 0") >= 3);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE score = 0"
                       " AND instr(prediction, json_extract(answers, '$[0]')) > 0") == 0);
    /* KV bytes of dense: the case's context x layers x kv heads x d x (k, v) x 4 bytes */
    const model_config *c = &fixture_model()->cfg;
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM suite_cases WHERE kv_bytes = context * %d",
             c->n_layer * c->n_head_kv * c->head_dim * 2 * 4);
    CHECK(rt_query(db, sql) == 4);
    /* throughput: two bench rows (prefill, decode) with their suite links */
    CHECK(rt_query(db, "SELECT count(*) FROM suite_bench s JOIN bench b ON b.id = s.bench_id"
                       " WHERE s.run_id = 1 AND s.weights = 'random' AND b.n_layer = 1 AND b.n_head = 2"
                       " AND b.n_kv_head = 1 AND b.head_dim = 16 AND b.n_ctx = 128 AND b.repeats = 2"
                       " AND b.t_min <= b.t_median AND b.t_median <= b.t_max AND b.throughput > 0") == 2);
    CHECK(rt_query(db, "SELECT count(*) FROM bench WHERE phase = 'prefill' AND n_tokens = 128") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM bench WHERE phase = 'decode' AND n_tokens = 2") == 1);

    /* the stored prompt hash is the generator's for the same case */
    pb_err e;
    char path[600];
    snprintf(path, sizeof path, "%s/tiny.yaml", rt_dir());
    suite *s = suite_load(path, &e);
    CHECK_MSG(s, "%s", e.msg);
    suite_case k;
    int ok = gen_case(s, 1, 1, fixture_tok(), &k, &e);
    suite_free(s);
    CHECK_MSG(ok, "%s", e.msg);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM suite_cases WHERE task = 'niah' AND case_index = 1"
                              " AND prompt_hash = '%s' AND prompt_tokens = %d", k.hash, k.n_ids);
    gen_case_free(&k);
    CHECK(rt_query(db, sql) == 1);
}

TEST(runner_resume_of_a_finished_run_runs_nothing)
{
    const char *db = rt_tiny_db();
    CHECK(db);
    long long rows = rt_query(db, "SELECT count(*) FROM suite_cases"), last = rt_query(db, "SELECT max(id) FROM bench");
    /* a known finish time, which a resume that runs nothing keeps */
    sqlite3 *h;
    CHECK(sqlite3_open(db, &h) == SQLITE_OK);
    int rc = sqlite3_exec(h, "UPDATE runs SET finished_at = '2020-01-02T03:04:05.678Z' WHERE id = 1", NULL, NULL, NULL);
    sqlite3_close(h);
    CHECK(rc == SQLITE_OK);
    char args[1400], *err;
    snprintf(args, sizeof args, "run %s/tiny.yaml --db %s --resume --progress lines", rt_dir(), db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    CHECK_MSG(strstr(err, "resuming run 1") && strstr(err, "0 (case, method) pairs to run, 6 already committed"),
              "stderr: %s", err);
    free(err);
    CHECK(rt_query(db, "SELECT count(*) FROM runs") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE finished_at = '2020-01-02T03:04:05.678Z'") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases") == rows);
    CHECK(rt_query(db, "SELECT max(id) FROM bench") == last);
}

/* Waits until db holds at least n suite cases (up to 300 s). */
static int wait_rows(const char *db, long long n)
{
    for (int i = 0; i < 3000; i++) {
        if (rt_query(db, "SELECT count(*) FROM suite_cases") >= n) return 1;
        usleep(100000);
    }
    return 0;
}

TEST(runner_interrupted_and_killed_runs_resume)
{
    char *suite = suite_file("kill", DENSE, "  - {type: passkey, contexts: [256], samples: 4}\n");
    char db[600], out[600], err[600], args[1400];
    snprintf(db, sizeof db, "%s/kill.db", rt_dir());
    snprintf(out, sizeof out, "%s/kill.out", rt_dir());
    snprintf(err, sizeof err, "%s/kill.err", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress lines", suite, db);

    /* SIGINT after the first commit: the case in progress is dropped, the run is 'failed', status 130 */
    pid_t pid = spawn(args, out, err);
    CHECK(wait_rows(db, 1));
    kill(pid, SIGINT);
    int st = wait_status(pid);
    CHECK_MSG(st == 130, "status %d", st);
    long long k = rt_query(db, "SELECT count(*) FROM suite_cases");
    CHECK_MSG(k >= 1 && k < 4, "%lld cases", k);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE status = 'failed' AND finished_at IS NOT NULL") == 1);
    size_t n;
    char *e = fixture_read(err, &n);
    CHECK_MSG(e && strstr(e, "interrupted"), "stderr: %s", e ? e : "");
    free(e);

    /* resumed, then SIGKILLed after one more commit: the run stays 'running' */
    snprintf(args, sizeof args, "run %s --db %s --progress lines --resume", suite, db);
    pid = spawn(args, out, err);
    CHECK(wait_rows(db, k + 1));
    kill(pid, SIGKILL);
    CHECK(wait_status(pid) == -SIGKILL);
    long long k2 = rt_query(db, "SELECT count(*) FROM suite_cases");
    CHECK(k2 > k && k2 <= 4);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE status = 'running' AND finished_at IS NULL") == 1);

    /* resumed to the end: one run, every case once, the early rows untouched */
    long long first = rt_query(db, "SELECT min(id) FROM suite_cases");
    st = wait_status(spawn(args, out, err));
    CHECK_MSG(st == 0, "status %d", st);
    CHECK(rt_query(db, "SELECT count(*) FROM runs") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases") == 4);
    CHECK(rt_query(db, "SELECT count(DISTINCT case_index) FROM suite_cases") == 4);
    CHECK(rt_query(db, "SELECT min(id) FROM suite_cases") == first);
    e = fixture_read(err, &n);
    char want[64];
    snprintf(want, sizeof want, "%lld already committed", k2);
    CHECK_MSG(e && strstr(e, want), "stderr: %s", e ? e : "");
    free(e);
}

/* Two `run --resume` of one run at once: the second is refused at its start
 * with one line (exit 2, nothing written by it); the first finishes every
 * case once, and a later --resume finds nothing left. The first has TWICE_N
 * cases so that it is still running when the second starts, also under the
 * sanitizer build on a loaded machine (with 3 it once finished first). */
enum { TWICE_N = 10 };
TEST(runner_concurrent_resume_refused)
{
    char tasks[120];
    snprintf(tasks, sizeof tasks, "  - {type: passkey, contexts: [256], samples: %d}\n", TWICE_N);
    char *suite = suite_file("twice", DENSE, tasks);
    char db[600], out[600], err[600], args[1400];
    snprintf(db, sizeof db, "%s/twice.db", rt_dir());
    snprintf(out, sizeof out, "%s/twice.out", rt_dir());
    snprintf(err, sizeof err, "%s/twice.err", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none --resume", suite, db);
    pid_t pid = spawn(args, out, err);
    CHECK(wait_rows(db, 1)); /* the first holds the run and has committed a case */
    char *e2;
    int st2 = rt_run(args, NULL, &e2);
    long long rows_after = rt_query(db, "SELECT count(*) FROM suite_cases");
    int st = wait_status(pid);
    CHECK_MSG(st2 == 2 && strstr(e2, "twice.db: run 1 is being run by another process now") &&
              strchr(e2, '\n') == strrchr(e2, '\n'), "second: status %d: %s", st2, e2);
    free(e2);
    CHECK_MSG(st == 0, "first: status %d", st);
    CHECK(rows_after >= 1);
    CHECK(rt_query(db, "SELECT count(*) FROM runs") == 1);
    CHECK(rows_after < TWICE_N); /* the second ran while the first still had cases to do */
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases") == TWICE_N);
    CHECK(rt_query(db, "SELECT count(DISTINCT case_index) FROM suite_cases") == TWICE_N);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 1);
    /* the claim ended with the first process: a resume now runs, and has nothing to do */
    char *o3, *e3;
    int st3 = rt_run(args, &o3, &e3);
    CHECK_MSG(st3 == 0 && strstr(e3, "0 (case, method) pairs to run"), "third: status %d: %s", st3, e3);
    free(o3);
    free(e3);
}

TEST(runner_selection_and_new_runs)
{
    /* --only and --methods pick cases of the same config; without --resume a run is new */
    char *suite = suite_file("sel", DENSE, "  - {type: passkey, contexts: [256]}\n"
                                           "  - {type: niah, name: n1, contexts: [256], depths: [50]}\n");
    char db[600], args[1400], *err;
    snprintf(db, sizeof db, "%s/sel.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --only n1 --methods dense --progress none", suite, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    free(err);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE run_id = 1 AND task = 'n1'") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases") == 1);
    snprintf(args, sizeof args, "run %s --db %s --resume --progress none", suite, db);
    CHECK(rt_run(args, NULL, NULL) == 0);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE run_id = 1") == 2);
    snprintf(args, sizeof args, "run %s --db %s --only passkey --progress none", suite, db);
    CHECK(rt_run(args, NULL, NULL) == 0);
    CHECK(rt_query(db, "SELECT count(*) FROM runs") == 2);
    /* the same config: equal hashes; the same prompt in both runs */
    CHECK(rt_query(db, "SELECT count(DISTINCT config_hash) FROM runs") == 1);
    CHECK(rt_query(db, "SELECT count(DISTINCT prompt_hash) FROM suite_cases WHERE task = 'passkey'") == 1);
}

/* Runs a bad input; checks exit 2, one stderr line starting with `prefix` and holding `what`. */
static int bad_input(const char *args, const char *prefix, const char *what, char *msg, size_t len)
{
    char *err;
    int st = rt_run(args, NULL, &err), lines = 0;
    for (char *p = err; *p; p++) lines += *p == '\n';
    int ok = st == 2 && lines == 1 && !strncmp(err, prefix, strlen(prefix)) && strstr(err, what);
    snprintf(msg, len, "status %d, %d lines: %s", st, lines, err);
    free(err);
    return ok;
}

TEST(runner_bad_input_exits_2_before_writing)
{
    char db[600], args[1400], msg[1200], want[700];
    snprintf(db, sizeof db, "%s/never.db", rt_dir());
    /* a schema error: FILE:LINE:COL from the loader */
    char *bad = suite_file("bad1", DENSE, "  - {type: passkey, contexts: [256], sampels: 2}\n");
    snprintf(args, sizeof args, "run %s --db %s", bad, db);
    snprintf(want, sizeof want, "%s:10:", bad);
    CHECK_MSG(bad_input(args, want, "unknown key 'sampels'", msg, sizeof msg), "%s", msg);
    /* a knob out of range: a window below the (default) block size, at the value's place */
    char wmethods[300];
    snprintf(wmethods, sizeof wmethods, "%s  - {name: r, policy: rtpurbo, params: {window: 32}}\n", DENSE);
    bad = suite_file("badw", wmethods, "  - {type: passkey, contexts: [256]}\n");
    snprintf(args, sizeof args, "run %s --db %s", bad, db);
    snprintf(want, sizeof want, "%s:9:49: ", bad);
    CHECK_MSG(bad_input(args, want, "'window' is 32, below the block size 64", msg, sizeof msg), "%s", msg);
    /* a param the policy does not take: the loader, at the key's place */
    snprintf(wmethods, sizeof wmethods, "%s  - {name: q, policy: quest, params: {p: 0.5}}\n", DENSE);
    bad = suite_file("badq", wmethods, "  - {type: passkey, contexts: [256]}\n");
    snprintf(args, sizeof args, "run %s --db %s", bad, db);
    snprintf(want, sizeof want, "%s:9:39: ", bad);
    CHECK_MSG(bad_input(args, want, "quest has no parameter 'p' (page,budget,k,first_layer,last_layer,dense_layers)",
                        msg, sizeof msg),
              "%s", msg);
    /* a policy this build lacks, duo without its retrieval heads: the
     * method's line and column */
    const struct { const char *method, *what; } bad_methods[] = {
        {"  - {name: w16, policy: sliding, params: {window: 16}}\n", "policy 'sliding' is not available"},
        {"  - {name: d, policy: duo, params: {rho: 0.15}}\n", "method 'd': policy duo needs params.plan"},
        {"  - {name: s, policy: streaming, params: {rho: 0.15}}\n", "method 's': 'rho' does not apply"},
        {"  - {name: r, policy: rtpurbo, params: {plan: '99.0'}}\n", "method 'r': params.plan: head 99.0 out of range"},
        /* rho keeps the first rho * H heads listed: a list shorter than that is refused */
        {"  - {name: h, policy: duo, params: {rho: 0.5, plan: '1.0,2.0'}}\n",
         "method 'h': rho 0.5 asks for the first 135 of 270 query heads; 1.0,2.0 lists 2"},
    };
    for (size_t i = 0; i < sizeof bad_methods / sizeof bad_methods[0]; i++) {
        char methods[300];
        snprintf(methods, sizeof methods, "%s%s", DENSE, bad_methods[i].method);
        bad = suite_file("bad2", methods, "  - {type: passkey, contexts: [256]}\n");
        snprintf(args, sizeof args, "run %s --db %s", bad, db);
        snprintf(want, sizeof want, "%s:9:5: ", bad);
        CHECK_MSG(bad_input(args, want, bad_methods[i].what, msg, sizeof msg), "%s", msg);
    }
    /* a context the prompt cannot fit (gen_check) */
    bad = suite_file("bad3", DENSE, "  - {type: niah_single_2, contexts: [130], max_new: 64}\n");
    snprintf(args, sizeof args, "run %s --db %s", bad, db);
    snprintf(want, sizeof want, "%s:10:5: task 'niah_single_2'", bad);
    CHECK_MSG(bad_input(args, want, "", msg, sizeof msg), "%s", msg);
    /* unknown task and method names, a missing file */
    char *good = suite_file("good", DENSE, "  - {type: passkey, contexts: [256]}\n");
    snprintf(args, sizeof args, "run %s --db %s --only nope", good, db);
    CHECK_MSG(bad_input(args, rt_dir(), "no task 'nope'", msg, sizeof msg), "%s", msg);
    snprintf(args, sizeof args, "run %s --db %s --methods dense,sparse", good, db);
    CHECK_MSG(bad_input(args, rt_dir(), "no method 'sparse'", msg, sizeof msg), "%s", msg);
    snprintf(args, sizeof args, "run %s/none.yaml --db %s", rt_dir(), db);
    CHECK_MSG(bad_input(args, rt_dir(), "none.yaml", msg, sizeof msg), "%s", msg);
    CHECK(access(db, F_OK) != 0); /* nothing written */
}

TEST(runner_report_table)
{
    const char *db = rt_tiny_db();
    CHECK(db);
    char args[700], *out;
    snprintf(args, sizeof args, "report --db %s --run 1", db);
    int st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0, "status %d", st);
    /* the passkey row: its case count and mean score as the database has them */
    long long sc = rt_query(db, "SELECT round(10000 * avg(score)) FROM suite_cases WHERE task = 'passkey'");
    char want[200];
    snprintf(want, sizeof want, "\n%-18s %5d %11.2f", "passkey", 2, sc / 100.0);
    CHECK_MSG(strstr(out, want), "no '%s' in:\n%s", want + 1, out);
    CHECK_MSG(strstr(out, "run 1  suite tiny  done") && strstr(out, "score (x100)") && strstr(out, "dense") &&
              strstr(out, "\nniah ") && strstr(out, "\ndensity") && strstr(out, "1.0000") &&
              strstr(out, "1/2/1/16") && strstr(out, "prefill") && strstr(out, "decode") && strstr(out, "random"),
              "%s", out);
    free(out);
    snprintf(args, sizeof args, "report --db %s --run 2", db);
    char msg[1200];
    CHECK_MSG(bad_input(args, "--run", "no run 2", msg, sizeof msg), "%s", msg);
}

TEST(runner_plot_draws_suite_pngs)
{
    const char *db = rt_tiny_db();
    CHECK(db);
    char args[1400], *out, *err;
    snprintf(args, sizeof args, "plot --db %s --run 1 --out %s/plots", db, rt_dir());
    int st = rt_run(args, &out, &err);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    const char *names[] = {"suite_niah_niah", "suite_scores", "suite_density", "suite_throughput"};
    for (int i = 0; i < 4; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/plots/%s.png", rt_dir(), names[i]);
        size_t n = 0;
        char *png = fixture_read(p, &n);
        CHECK_MSG(png && n > 1000 && !memcmp(png, "\x89PNG", 4), "%s: %zu bytes", p, n);
        free(png);
        CHECK_MSG(strstr(out, p), "%s not listed in: %s", p, out);
    }
    free(out);
    free(err);
}

TEST(runner_time_budget_starts_no_new_case)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: budget\nmodel: %s\nlimits: {max_new: 10, time_budget_s: 0.000001}\nmethods:\n%s"
             "tasks:\n  - {type: passkey, contexts: [256], samples: 3}\n", test_model_path, DENSE);
    char *suite = rt_write("budget.yaml", text), db[600], args[1400], *err;
    snprintf(db, sizeof db, "%s/budget.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none", suite, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0 && strstr(err, "time budget of 1e-06 s reached: 3 pairs not run"), "status %d: %s", st, err);
    free(err);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases") == 0);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 1);
}

TEST(runner_converted_plan_file)
{
    /* a .purbo plan for the bundled model: 27 retrieval heads, S 4, W 64 (untrained, zero indexers) */
    plan_file f;
    plan_file_init(&f, fixture_model(), 8);
    f.sink = 4, f.window = 64, f.block = 32, f.local = 32, f.p = 0.9f;
    for (int i = 0; i < f.n_layer * f.n_head; i += 10) f.cls[i] = PLAN_CLASS_RETRIEVAL;
    char path[600], other[600];
    snprintf(path, sizeof path, "%s/conv.purbo", rt_dir());
    snprintf(other, sizeof other, "%s/other.purbo", rt_dir());
    pb_err e;
    int ok = plan_file_write(path, &f, &e);
    f.model_fp ^= 1; /* made for another model */
    ok = ok && plan_file_write(other, &f, &e);
    plan_file_free(&f);
    CHECK_MSG(ok, "%s", e.msg);
    char methods[1400], args[2000], db[600], *err;
    snprintf(methods, sizeof methods,
             "  - {name: conv, policy: rtpurbo, params: {plan: %s}}\n"
             "  - {name: conv-w999, policy: rtpurbo, params: {window: 999, plan: %s}}\n", path, path);
    char *suite = suite_file("conv", methods, "  - {type: niah, contexts: [256], depths: [50]}\n");
    snprintf(db, sizeof db, "%s/conv.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none", suite, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0 && !strstr(err, "PCA"), "status %d: %s", st, err); /* the file's indexers, no fit */
    free(err);
    /* the file's window (64): well under dense at 256 tokens; a window the
     * params set (999) replaces it: local heads dense (the zero indexers'
     * uniform scores make the retrieval heads' top-p take nearly all blocks) */
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE method = 'conv' AND policy = 'rtpurbo'"
                       " AND density > 0.2 AND density < 0.9") == 1);
    long long d999 = rt_query(db, "SELECT CAST(density * 1e4 AS INTEGER) FROM suite_cases WHERE method = 'conv-w999'");
    CHECK_MSG(d999 > 9000 && d999 <= 10000, "density x 1e4 = %lld", d999);
    snprintf(methods, sizeof methods, "  - {name: conv, policy: rtpurbo, params: {plan: %s}}\n", other);
    suite = suite_file("conv2", methods, "  - {type: niah, contexts: [256], depths: [50]}\n");
    snprintf(args, sizeof args, "run %s --db %s", suite, db);
    char want[700], msg[1200];
    snprintf(want, sizeof want, "%s:8:5: method 'conv': params.plan: %s", suite, other);
    CHECK_MSG(bad_input(args, want, "", msg, sizeof msg), "%s", msg);
    /* a window below the plan's own block (32): refused before anything runs, exit 2 */
    snprintf(methods, sizeof methods, "  - {name: conv, policy: rtpurbo, params: {window: 16, plan: %s}}\n", path);
    suite = suite_file("conv3", methods, "  - {type: niah, contexts: [256], depths: [50]}\n");
    snprintf(args, sizeof args, "run %s --db %s", suite, db);
    snprintf(want, sizeof want, "%s:8:5: method 'conv': window 16 is below the plan's block size 32", suite);
    CHECK_MSG(bad_input(args, want, "", msg, sizeof msg), "%s", msg);
    /* the plan's heads and indexers are its own: rho, and an r other than its own (8), are refused */
    const char *own[][2] = {{"rho: 0.1", "rho picks heads from a list of heads"},
                            {"r: 4", "r 4: the converted plan"}};
    for (int i = 0; i < 2; i++) {
        snprintf(methods, sizeof methods, "  - {name: conv, policy: rtpurbo, params: {%s, plan: %s}}\n", own[i][0], path);
        suite = suite_file("conv4", methods, "  - {type: niah, contexts: [256], depths: [50]}\n");
        snprintf(args, sizeof args, "run %s --db %s", suite, db);
        snprintf(want, sizeof want, "%s:8:5: method 'conv': %s", suite, own[i][1]);
        CHECK_MSG(bad_input(args, want, "", msg, sizeof msg), "%s", msg);
    }
}

/* The attention level on the CPU: our dense kernel's CPU twin per (shape,
 * context, phase), FLOP/s and GB/s from the median; the peers and the
 * sparse methods do not apply there; no model is loaded when every task
 * names its shapes. cuda without a device is refused before anything runs. */
TEST(runner_attention_level_on_the_cpu)
{
    char *suite = suite_file("attn",
                             "  - {name: ours, policy: dense}\n"
                             "  - {name: cudnn, policy: dense, impl: sdpa_cudnn}\n"
                             "  - {name: win, policy: streaming, params: {window: 64}}\n",
                             "  - type: throughput\n"
                             "    level: attention\n"
                             "    contexts: [128, 256]\n"
                             "    repeats: 3\n"
                             "    warmup: 0\n"
                             "    shapes: [{heads: 4, kv_heads: 2, head_dim: 32}]\n");
    char args[1400], db[600], *err = NULL;
    snprintf(db, sizeof db, "%s/attn.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none --backend cpu", suite, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    CHECK_MSG(strstr(err, "method 'cudnn' (sdpa_cudnn) times on the GPU only"), "%s", err);
    free(err);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE device = 'cpu' AND model_path IS NULL") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM bench") == 4);
    CHECK(rt_query(db, "SELECT count(*) FROM bench b JOIN suite_bench s ON s.bench_id = b.id"
                       " WHERE b.bench = 'attention' AND b.impl = 'purbo' AND s.method = 'ours'"
                       " AND b.n_head = 4 AND b.n_kv_head = 2 AND b.head_dim = 32 AND b.repeats = 3"
                       " AND b.t_min <= b.t_median AND b.t_median <= b.t_max AND b.t_min > 0") == 4);
    /* prefill: 2 n^2 d heads FLOPs; decode: K and V of n tokens, bf16 */
    CHECK(rt_query(db, "SELECT count(*) FROM bench WHERE phase = 'prefill' AND throughput_unit = 'TFLOP/s'"
                       " AND n_tokens = n_ctx AND abs(throughput * t_median * 1e12 / (2.0 * n_ctx * n_ctx * 32 * 4)"
                       " - 1) < 1e-9") == 2);
    CHECK(rt_query(db, "SELECT count(*) FROM bench WHERE phase = 'decode' AND throughput_unit = 'GB/s'"
                       " AND n_tokens = 1 AND abs(throughput * t_median * 1e9 / (4.0 * n_ctx * 2 * 32) - 1) < 1e-9") ==
          2);
    /* a second run on cuda: refused here with one line, nothing written */
    char why[256];
    if (!backend_cuda_available(why, sizeof why)) {
        snprintf(args, sizeof args, "run %s --db %s --progress none --backend cuda", suite, db);
        st = rt_run(args, NULL, &err);
        CHECK_MSG(st == 2 && strstr(err, "backend cuda: no CUDA device"), "status %d: %s", st, err);
        free(err);
        CHECK(rt_query(db, "SELECT count(*) FROM runs") == 1);
    }
}

/* cuda with a sparse method on model tasks: every policy has a CUDA rule,
 * so with a device the suite runs; without one, one line and exit 2 before
 * the database is made. */
TEST(runner_cuda_sparse_methods)
{
    char why[256];
    char *suite = suite_file("sparse-cuda",
                             "  - {name: dense, policy: dense}\n"
                             "  - {name: win, policy: streaming, params: {window: 64}}\n",
                             "  - {type: passkey, contexts: [256]}\n");
    char args[1400], db[600], *err = NULL;
    snprintf(db, sizeof db, "%s/sparse-cuda.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none --backend cuda", suite, db);
    int st = rt_run(args, NULL, &err);
    if (backend_cuda_available(why, sizeof why)) { /* every policy has a CUDA rule: the suite runs */
        CHECK_MSG(st == 0, "status %d: %s", st, err);
        free(err);
        return;
    }
    CHECK_MSG(st == 2 && strstr(err, "backend cuda: no CUDA device"), "status %d: %s", st, err);
    free(err);
    CHECK(access(db, F_OK) != 0); /* refused before the database was made */
}

/* A suite file that asks for cuda runs on it (nothing else is refused
 * before the device check); here without a device, one line and exit 2. */
TEST(runner_suite_file_backend_cuda)
{
    char why[256], text[1024];
    if (backend_cuda_available(why, sizeof why)) return; /* the GPU tests run suites on a device */
    snprintf(text, sizeof text,
             "name: on-cuda\nmodel: %s\nbackend: cuda\nmethods: [{policy: dense}]\n"
             "tasks: [{type: throughput, level: attention, contexts: [128], shapes: [{heads: 2, kv_heads: 1, head_dim: 64}]}]\n",
             test_model_path);
    char *suite = rt_write("on-cuda.yaml", text), args[1400], db[600], *err = NULL;
    snprintf(db, sizeof db, "%s/on-cuda.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none", suite, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "on-cuda.yaml: backend cuda: no CUDA device"), "status %d: %s", st, err);
    free(err);
    CHECK(access(db, F_OK) != 0);
}
