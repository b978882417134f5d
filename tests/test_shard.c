/* test_shard.c — sharded runs and merging (suites/shard.h, suites/merge.h,
 * suites/run_gpus.h): shard specs, the balanced plan, merges of synthetic
 * shard databases (refusals leave OUT byte for byte as it was, merging
 * twice changes nothing, --partial marks the run incomplete), and the smoke
 * suite run as three shards (`run --gpus`: child processes on the CPU) and
 * merged, whose report, baseline, export and plot files equal the
 * unsharded run's.
 */
#include <stdlib.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fixture.h"
#include "tests/runner_fixture.h"
#include "tests/test.h"
#include "suites/shard.h"
#include "suites/suite.h"

/* ---- shard specs and the plan --------------------------------------------- */

TEST(shard_spec_parse)
{
    int i = -1, n = -1;
    char why[200];
    CHECK(shard_parse("1/3", &i, &n, why, sizeof why) && i == 1 && n == 3);
    CHECK(shard_parse("3/3", &i, &n, why, sizeof why) && i == 3 && n == 3);
    const char *bad[] = {"3/2", "0/0", "a/b", "0/3", "1/0", "1", "/3", "1/", "-1/3", "1/3/4", "1/99999", " 1/3", ""};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CHECK_MSG(!shard_parse(bad[k], &i, &n, why, sizeof why) && why[0], "'%s' was taken", bad[k]);
}

TEST(shard_spec_bad_exit_2)
{
    const char *bad[] = {"3/2", "0/0", "a/b"};
    for (int k = 0; k < 3; k++) {
        char args[600], *err;
        snprintf(args, sizeof args, "run suites/smoke.yaml --shard %s --db %s/bad.db", bad[k], rt_dir());
        CHECK_MSG(rt_run(args, NULL, &err) == 2, "--shard %s", bad[k]);
        int lines = 0;
        for (char *p = err; *p; p++) lines += *p == '\n';
        CHECK_MSG(lines == 1 && strstr(err, "--shard") && strstr(err, bad[k]), "%s", err);
        free(err);
        char db[600];
        snprintf(db, sizeof db, "%s/bad.db", rt_dir());
        CHECK(access(db, F_OK) != 0); /* nothing written */
    }
    char *err;
    CHECK(rt_run("run suites/smoke.yaml --gpus 0,0", NULL, &err) == 2 && strstr(err, "given twice"));
    free(err);
    CHECK(rt_run("run suites/smoke.yaml --gpus 0,1 --shard 1/2", NULL, &err) == 2 && strstr(err, "not both"));
    free(err);
}

static const char PLAN_SUITE[] =
    "name: plan\nmodel: m.gguf\nbackend: cpu\nseed: 1\n"
    "methods:\n  - {name: dense, policy: dense}\n  - {name: stream, policy: streaming}\n"
    "tasks:\n"
    "  - {type: passkey, contexts: [256, 1024, 4096, 16384], samples: 3, max_new: 12}\n"
    "  - {type: niah, contexts: [512, 8192], depths: [10, 50, 90], max_new: 16}\n";

TEST(shard_plan_balanced)
{
    pb_err e;
    suite *s = suite_parse("plan.yaml", PLAN_SUITE, sizeof PLAN_SUITE - 1, &e);
    CHECK_MSG(s, "%s", e.msg);
    int np = shard_n_pairs(s);
    CHECK(np == (4 * 3 + 2 * 3) * 2);
    CHECK(shard_pair(s, 1, 0, 1) == 4 * 3 * 2 + 1); /* task-major, then case, then method */
    unsigned char *on = calloc((size_t)np, 1);
    memset(on, 1, (size_t)np);
    on[5] = 0; /* a pair not selected goes nowhere */
    for (int n = 1; n <= 5; n++) {
        double load[5], max_cost = 0;
        int *a = shard_plan(s, on, n, load), *b = shard_plan(s, on, n, NULL);
        CHECK(!memcmp(a, b, (size_t)np * sizeof *a)); /* deterministic */
        for (int p = 0; p < np; p++) CHECK_MSG(on[p] ? a[p] >= 1 && a[p] <= n : a[p] == 0, "pair %d: %d", p, a[p]);
        for (int ti = 0; ti < s->n_tasks; ti++)
            for (int ci = 0; ci < shard_n_cases(&s->tasks[ti]); ci++)
                if (shard_cost(&s->tasks[ti], ci) > max_cost) max_cost = shard_cost(&s->tasks[ti], ci);
        double lo = load[0], hi = load[0];
        for (int k = 1; k < n; k++) lo = load[k] < lo ? load[k] : lo, hi = load[k] > hi ? load[k] : hi;
        CHECK_MSG(hi - lo <= max_cost, "n %d: loads %g..%g, one pair costs at most %g", n, lo, hi, max_cost);
        if (n == 4) { /* the 16384-token pairs (3 samples x 2 methods) spread over the shards */
            int seen[5] = {0};
            for (int ci = 9; ci < 12; ci++)
                for (int mi = 0; mi < 2; mi++) seen[a[shard_pair(s, 0, ci, mi)]]++;
            for (int k = 1; k <= 4; k++) CHECK_MSG(seen[k] <= 2, "shard %d holds %d of the longest pairs", k, seen[k]);
        }
        free(a);
        free(b);
    }
    CHECK(shard_cost(&s->tasks[0], 9) > 4 * shard_cost(&s->tasks[0], 3)); /* 16384 vs 1024: superlinear */
    free(on);
    suite_free(s);
}

/* ---- merges of synthetic shards -------------------------------------------- */

/* A shard database at dir/name: shard i/n of a run with config cfg (status
 * done unless running), holding accuracy pairs 0..5 with index % n == i - 1
 * (score 1, or `score` for pair odd_pair) and, in shard 2, a throughput pair
 * with one kernel timing and a layer row. */
static char *make_shard(const char *name, int i, int n, const char *cfg, int running, int odd_pair, double score)
{
    static char paths[16][600];
    static int k;
    char *path = paths[k++ % 16];
    snprintf(path, sizeof paths[0], "%s/%s", rt_dir(), name);
    unlink(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    PB_CHECK(db, "%s", e.msg);
    run_meta meta = {.command = "test shard", .device = "cpu", .config = cfg};
    int64_t run = db_run_begin(db, &meta);
    char sql[400];
    snprintf(sql, sizeof sql, "UPDATE runs SET shard_index = %d, shard_count = %d, shard_scope = 'only=all;methods=all'"
                              " WHERE id = %lld", i, n, (long long)run);
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL));
    for (int p = 5; p >= 0; p--) /* stored out of order: the merge sorts by pair */
        if (p % n == i - 1) {
            fixture_case_row(db, run, p < 3 ? "a" : "b", "dense", NULL, p, 256 * (p + 1), p == odd_pair ? score : 1, 1);
            snprintf(sql, sizeof sql, "UPDATE suite_cases SET pair = %d WHERE case_index = %d", p, p);
            DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL));
        }
    if (i == 2) {
        double t[3] = {0.1, 0.2, 0.3};
        fixture_bench_row(db, run, "tp", "dense", 0, 128, "prefill", t, 3);
        DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db),
            "UPDATE suite_bench SET pair = 6;"
            "INSERT INTO kernel_timings(run_id, bench_id, case_name, seq, name, mangled, grid_x, grid_y, grid_z,"
            " block_x, block_y, block_z, registers, static_smem, dynamic_smem, start_ns, end_ns)"
            " SELECT run_id, bench_id, 'tp', 0, 'k', 'k', 1, 1, 1, 32, 1, 1, 16, 0, 0, 10, 20 FROM suite_bench;"
            "INSERT INTO layer_bench(bench_id, run_id, density_target, density_source, density, rho, retrieval_heads,"
            " local_heads, sink, window, p, t_index, needles, needles_found, kv_bytes, kv_bytes_dense)"
            " SELECT bench_id, run_id, 0.03, 'sweep', 0.031, 0.15, 4, 28, 4, 8192, 0.9, 0.001, 16, 16, 7, 9"
            " FROM suite_bench",
            NULL, NULL, NULL));
    }
    if (!running) db_run_end(db, run, RUN_DONE);
    db_close(db);
    return path;
}

/* Whole-file contents equal (both missing counts as equal). */
static int same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = fixture_read(a, &la), *y = fixture_read(b, &lb);
    int same = (!x && !y) || (x && y && la == lb && !memcmp(x, y, la));
    free(x);
    free(y);
    return same;
}

/* Files equal from their second line on. */
static int same_past_first_line(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = fixture_read(a, &la), *y = fixture_read(b, &lb);
    const char *nx = x ? strchr(x, '\n') : NULL, *ny = y ? strchr(y, '\n') : NULL;
    int same = nx && ny && !strcmp(nx, ny) && strstr(nx, "\ndense passkey ");
    free(x);
    free(y);
    return same;
}

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *x = fixture_read(from, &n);
    FILE *f = fopen(to, "wb");
    if (x && f) fwrite(x, 1, n, f);
    if (f) fclose(f);
    free(x);
}

/* Runs merge; 1 when it exits with want and (want 2) says one line naming `names`. */
static int merge_says(const char *args, int want, const char *names)
{
    char *err;
    int st = rt_run(args, NULL, &err), lines = 0;
    for (char *p = err; *p; p++) lines += *p == '\n';
    int ok = st == want && (want != 2 || (lines == 1 && strstr(err, names)));
    if (!ok) printf("    merge %s: status %d, stderr: %s\n", args, st, err);
    free(err);
    return ok;
}

TEST(merge_synthetic_shards)
{
    const char *cfg = "suite_file=x\n";
    char *s1 = make_shard("m1.db", 1, 3, cfg, 0, -1, 0), *s2 = make_shard("m2.db", 2, 3, cfg, 0, -1, 0),
         *s3 = make_shard("m3.db", 3, 3, cfg, 0, -1, 0);
    char out[600], copy[600], args[2400];
    snprintf(out, sizeof out, "%s/merged.db", rt_dir());
    snprintf(copy, sizeof copy, "%s/merged.copy", rt_dir());
    unlink(out);

    /* a shard missing: refused, naming OUT; OUT not created */
    snprintf(args, sizeof args, "merge --db %s %s %s", out, s1, s3);
    CHECK(merge_says(args, 2, "shard 2 of 3 missing"));
    CHECK(access(out, F_OK) != 0);

    /* all three: one run, its rows in pair order, the bench row and its kernel relinked */
    snprintf(args, sizeof args, "merge --db %s %s %s %s", out, s3, s1, s2);
    CHECK(merge_says(args, 0, NULL));
    CHECK(rt_query(out, "SELECT count(*) FROM runs") == 1);
    CHECK(rt_query(out, "SELECT count(*) FROM runs WHERE status = 'done' AND incomplete = 0 AND shard_count = 3"
                        " AND shard_index IS NULL AND config = 'suite_file=x\n'") == 1);
    CHECK(rt_query(out, "SELECT count(*) FROM suite_cases") == 6);
    CHECK(rt_query(out, "SELECT count(*) FROM suite_cases a JOIN suite_cases b ON b.id = a.id + 1"
                        " WHERE b.pair = a.pair + 1") == 5);
    CHECK(rt_query(out, "SELECT count(*) FROM suite_bench s JOIN bench b ON b.id = s.bench_id"
                        " JOIN kernel_timings k ON k.bench_id = b.id WHERE s.pair = 6 AND k.run_id = 1") == 1);
    CHECK(rt_query(out, "SELECT count(*) FROM suite_bench s JOIN layer_bench l ON l.bench_id = s.bench_id"
                        " WHERE s.pair = 6 AND l.run_id = 1 AND l.density = 0.031 AND l.needles_found = 16") == 1);
    CHECK(rt_query(out, "SELECT count(*) FROM run_parts WHERE run_id = 1 AND status = 'done'") == 3);
    CHECK(rt_query(out, "SELECT sum(pairs) FROM run_parts") == 7);

    /* merging again changes nothing, byte for byte */
    copy_file(out, copy);
    snprintf(args, sizeof args, "merge --db %s %s %s %s", out, s1, s2, s3);
    CHECK(merge_says(args, 0, NULL));
    CHECK(same_file(out, copy));

    /* refusals leave OUT as it was: another config, different results, a shard not done,
     * rows the merge cannot place */
    char *other = make_shard("o2.db", 2, 3, "suite_file=y\n", 0, -1, 0);
    snprintf(args, sizeof args, "merge --db %s %s %s %s", out, s1, other, s3);
    CHECK(merge_says(args, 2, other));
    CHECK(same_file(out, copy));
    char *odd = make_shard("d2.db", 2, 3, cfg, 0, 4, 0.5);
    snprintf(args, sizeof args, "merge --db %s %s %s %s", out, s1, odd, s3);
    CHECK(merge_says(args, 2, "other results"));
    CHECK(same_file(out, copy));
    char *twice = make_shard("t1.db", 1, 3, cfg, 0, 3, 0.5); /* the same pair in two inputs, different */
    snprintf(args, sizeof args, "merge --db %s %s %s %s %s", out, s1, s2, s3, twice);
    CHECK(merge_says(args, 2, twice));
    CHECK(same_file(out, copy));
    char *run2 = make_shard("r2.db", 2, 3, cfg, 1, -1, 0);
    snprintf(args, sizeof args, "merge --db %s %s %s %s", out, s1, run2, s3);
    CHECK(merge_says(args, 2, "not done"));
    char *probe = make_shard("p2.db", 2, 3, cfg, 0, -1, 0);
    CHECK(rt_query(probe, "SELECT count(*) FROM runs") == 1);
    {
        sqlite3 *h;
        CHECK(sqlite3_open(probe, &h) == SQLITE_OK);
        CHECK(sqlite3_exec(h, "INSERT INTO probe_case(run_id, probe, n_ctx, n_windows, n_layer, n_head, n_kv_head,"
                              " head_dim, queries, calib, seed, seconds) VALUES (1, 'rank', 64, 1, 1, 1, 1, 8, 'q', 'c',"
                              " 1, 0.1)", NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(h);
    }
    snprintf(args, sizeof args, "merge --db %s %s %s %s", out, s1, probe, s3);
    CHECK(merge_says(args, 2, "probe_case"));
    CHECK(same_file(out, copy));

    /* --partial: two of three, incomplete; the third later completes the same run */
    char part[600];
    snprintf(part, sizeof part, "%s/partial.db", rt_dir());
    unlink(part);
    snprintf(args, sizeof args, "merge --db %s --partial %s %s", part, s1, s3);
    CHECK(merge_says(args, 0, NULL));
    CHECK(rt_query(part, "SELECT count(*) FROM runs WHERE incomplete = 1 AND status = 'done'") == 1);
    char *rep;
    snprintf(args, sizeof args, "report --db %s", part);
    CHECK(rt_run(args, &rep, NULL) == 0);
    CHECK_MSG(strstr(rep, "incomplete: merged from 2 of 3 shards"), "%s", rep);
    free(rep);
    snprintf(args, sizeof args, "merge --db %s %s", part, s2);
    CHECK(merge_says(args, 0, NULL));
    CHECK(rt_query(part, "SELECT count(*) FROM runs WHERE incomplete = 0") == 1);
    CHECK(rt_query(part, "SELECT count(*) FROM (SELECT group_concat(pair) g FROM (SELECT pair FROM suite_cases"
                         " ORDER BY id)) WHERE g = '0,2,3,5,1,4'") == 1); /* each merge writes in pair order */
    CHECK(rt_query(part, "SELECT count(*) FROM suite_cases") == 6);
}

/* ---- the smoke suite, sharded and merged ----------------------------------- */

/* s without its first line (the run id and its times), and the first line
 * up to " started" (the suite and status). */
static int same_report(const char *a, const char *b)
{
    const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');
    const char *sa = strstr(a, " started"), *sb = strstr(b, " started");
    if (!na || !nb || !sa || !sb || sa - a != sb - b || strncmp(a, b, (size_t)(sa - a))) return 0;
    return !strcmp(na, nb);
}

/* Removes every "t_prefill":..,"t_decode":.., from JSON Lines text, in place. */
static void strip_times(char *s)
{
    char *p;
    while ((p = strstr(s, "\"t_prefill\":"))) {
        char *q = strstr(p, "\"n_gen\":");
        if (!q) break;
        memmove(p, q, strlen(q) + 1);
    }
}

static char *run_out(const char *fmt_args, const char *db)
{
    char args[1200], *out;
    snprintf(args, sizeof args, fmt_args, db);
    int st = rt_run(args, &out, NULL);
    if (st != 0 && st != 1) { free(out); return NULL; }
    return out;
}

/* merge of shards a, b, c into out reports as the run in ref does */
static int merges_to(const char *out, const char *a, const char *b, const char *c, const char *ref)
{
    char args[3000];
    snprintf(args, sizeof args, "merge --db %s %s %s %s", out, a, b, c);
    if (rt_run(args, NULL, NULL) != 0) return 0;
    char *x = run_out("report --db %s", out), *y = run_out("report --db %s", ref);
    int same = x && y && same_report(x, y);
    free(x);
    free(y);
    return same;
}

TEST(shard_smoke_equals_unsharded)
{
    char ref[600], merged[600], again[600], args[3000], *err;
    const char *env = getenv("PURBO_TEST_SMOKE_DB"); /* make test's own smoke run, when of the same config */
    snprintf(merged, sizeof merged, "%s/smoke.db", rt_dir());
    snprintf(args, sizeof args, "run suites/smoke.yaml --gpus 7,gpu-b,2 --db %s", merged);
    double t0 = pb_now();
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    CHECK(strstr(err, "shard 2/3 on device gpu-b"));
    free(err);
    printf("    three shards and the merge: %.0f s\n", pb_now() - t0);
    char shard[3][600];
    for (int i = 0; i < 3; i++) {
        snprintf(shard[i], sizeof shard[i], "%s/smoke.shard-%d-of-3.db", rt_dir(), i + 1);
        CHECK(rt_query(shard[i], "SELECT count(*) FROM runs WHERE shard_count = 3 AND status = 'done'") == 1);
        CHECK(rt_query(shard[i], "SELECT count(*) FROM suite_cases") >= 4); /* 16 pairs, balanced */
    }
    /* the reference: an unsharded run of the same config */
    if (env && rt_query(env, "SELECT count(*) FROM runs WHERE status = 'done'") >= 1) snprintf(ref, sizeof ref, "%s", env);
    else {
        snprintf(ref, sizeof ref, "%s/ref.db", rt_dir());
        snprintf(args, sizeof args, "run suites/smoke.yaml --db %s --progress none", ref);
        CHECK(rt_run(args, NULL, NULL) == 0);
    }
    /* report, byte for byte but the run's times */
    char *a = run_out("report --db %s", ref), *b = run_out("report --db %s", merged);
    CHECK(a && b);
    CHECK_MSG(same_report(a, b), "reports differ:\n%s\n---\n%s", a, b);
    free(a);
    free(b);
    /* compare against the committed baseline: the same verdict and output (both are run 1) */
    char ca[1200], cb[1200];
    snprintf(ca, sizeof ca, "compare --baseline results/baselines/smoke.txt --db %s", ref);
    snprintf(cb, sizeof cb, "compare --baseline results/baselines/smoke.txt --db %s", merged);
    char *oa, *ob;
    CHECK(rt_run(ca, &oa, NULL) == rt_run(cb, &ob, NULL));
    CHECK_MSG(!strcmp(oa, ob), "compare differs:\n%s\n---\n%s", oa, ob);
    free(oa);
    free(ob);
    /* the per-case baseline and the export without times, byte for byte */
    char fa[600], fb[600];
    snprintf(fa, sizeof fa, "%s/a.txt", rt_dir());
    snprintf(fb, sizeof fb, "%s/b.txt", rt_dir());
    snprintf(args, sizeof args, "compare --write-baseline %s --per-case --db %s", fa, ref);
    CHECK(rt_run(args, NULL, NULL) == 0);
    snprintf(args, sizeof args, "compare --write-baseline %s --per-case --db %s", fb, merged);
    CHECK(rt_run(args, NULL, NULL) == 0);
    CHECK(same_past_first_line(fa, fb)); /* the first names the run's start time */
    /* export (JSON Lines): every case and summary record the same but for the case's times */
    a = run_out("export --db %s --format jsonl", ref);
    b = run_out("export --db %s --format jsonl", merged);
    CHECK(a && b);
    strip_times(a);
    strip_times(b);
    const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n'); /* past the run record */
    CHECK(ea && eb && strstr(ea, "\"record\":\"case\"") && strstr(ea, "\"record\":\"summary\""));
    CHECK_MSG(!strcmp(ea, eb), "exports differ:\n%.2000s\n---\n%.2000s", ea, eb);
    free(a);
    free(b);
    /* plot: every file the same */
    char pa[300], pb[300];
    snprintf(pa, sizeof pa, "%s/plot-a", rt_dir());
    snprintf(pb, sizeof pb, "%s/plot-b", rt_dir());
    snprintf(args, sizeof args, "plot --db %s --out %s", ref, pa);
    CHECK(rt_run(args, NULL, NULL) == 0);
    snprintf(args, sizeof args, "plot --db %s --out %s", merged, pb);
    CHECK(rt_run(args, NULL, NULL) == 0);
    const char *files[] = {"suite_scores.dat", "suite_density.dat", "suite_frontier.dat", "suite_niah_niah.dat",
                           "suite_scores.png"};
    for (int i = 0; i < 5; i++) {
        snprintf(fa, sizeof fa, "%s/%s", pa, files[i]);
        snprintf(fb, sizeof fb, "%s/%s", pb, files[i]);
        CHECK_MSG(access(fa, F_OK) == 0 && same_file(fa, fb), "%s differs", files[i]);
    }
    /* the merge command on the same shards into another file: the same run; again: nothing changes */
    snprintf(again, sizeof again, "%s/again.db", rt_dir());
    CHECK(merges_to(again, shard[2], shard[0], shard[1], merged));
    snprintf(fa, sizeof fa, "%s/again.copy", rt_dir());
    copy_file(again, fa);
    CHECK(rt_run(args, NULL, NULL) == 0);
    CHECK(same_file(again, fa));
    /* --resume per shard: shard 1 has nothing left */
    snprintf(args, sizeof args, "run suites/smoke.yaml --shard 1/3 --resume --db %s --progress none", shard[0]);
    CHECK(rt_run(args, NULL, &err) == 0);
    CHECK_MSG(strstr(err, "resuming run 1") && strstr(err, " 0 (case, method) pairs to run"), "%s", err);
    free(err);
    /* shard 2 loses its passkey pairs (as if interrupted there) and is resumed for that task alone: it runs
     * those pairs, the ones of the whole selection's split, and keeps that selection, so the three shards
     * still merge into the unsharded run */
    long long lost = rt_query(shard[1], "SELECT count(*) FROM suite_cases WHERE task = 'passkey'");
    CHECK(lost >= 1);
    sqlite3 *h;
    CHECK(sqlite3_open(shard[1], &h) == SQLITE_OK);
    CHECK(sqlite3_exec(h, "DELETE FROM suite_cases WHERE task = 'passkey'", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);
    snprintf(args, sizeof args, "run suites/smoke.yaml --shard 2/3 --resume --only passkey --db %s --progress none",
             shard[1]);
    CHECK(rt_run(args, NULL, &err) == 0);
    char want[64];
    snprintf(want, sizeof want, " %lld (case, method) pairs to run", lost);
    CHECK_MSG(strstr(err, "resuming run 1") && strstr(err, want), "%s", err);
    free(err);
    CHECK(rt_query(shard[1], "SELECT count(*) FROM suite_cases WHERE task = 'passkey'") == lost);
    CHECK(rt_query(shard[1], "SELECT count(*) FROM runs WHERE shard_scope = 'only=all;methods=all'") == 1);
    snprintf(fa, sizeof fa, "%s/resumed.db", rt_dir());
    CHECK(merges_to(fa, shard[0], shard[1], shard[2], ref));
    /* a shard split over one task cannot be resumed for more: one line, exit 2, the run as it was */
    snprintf(fb, sizeof fb, "%s/narrow.db", rt_dir());
    snprintf(args, sizeof args, "run suites/smoke.yaml --shard 1/3 --only passkey --db %s --progress none", fb);
    CHECK(rt_run(args, NULL, NULL) == 0);
    long long had = rt_query(fb, "SELECT count(*) FROM suite_cases");
    snprintf(args, sizeof args, "run suites/smoke.yaml --shard 1/3 --resume --only passkey,vt --db %s --progress none",
             fb);
    CHECK(rt_run(args, NULL, &err) == 2);
    int lines = 0;
    for (const char *c = err; *c; c++) lines += *c == '\n';
    CHECK_MSG(strstr(err, "narrow.db") && strstr(err, "task 'vt' outside it") && lines == 1, "%s", err);
    free(err);
    CHECK(rt_query(fb, "SELECT count(*) FROM suite_cases") == had);
    CHECK(rt_query(fb, "SELECT count(*) FROM runs WHERE status = 'done' AND shard_scope = 'only=passkey;methods=all'") ==
          1);
}
