/* test_runner_edges.c — what a run says about itself: a pair that cannot
 * run (an attention shape the CPU twin refuses) is named as failed, not as a
 * time budget, the run is marked failed and exits 1; the repeat rule of a
 * throughput task times more repeats while the spread is above its target
 * (and stops at max_repeats), none when the target is met; the load check
 * reads /proc/loadavg's first number against the CPUs; a suite's model is
 * found beside the suite file; density is stored per phase too. */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suites/throughput.h"
#include "tests/runner_fixture.h"
#include "tests/test.h"

TEST(runner_failed_pairs_mark_the_run_failed)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: failing\nmodel: %s\nbackend: cpu\nseed: 7\nmethods:\n  - {name: ours, policy: dense}\ntasks:\n"
             "  - type: throughput\n    level: attention\n    contexts: [128]\n    phases: [prefill]\n"
             "    repeats: 1\n    warmup: 0\n"
             "    shapes: [{heads: 4, kv_heads: 2, head_dim: 512}, {heads: 4, kv_heads: 2, head_dim: 16}]\n",
             test_model_path);
    char *suite = rt_write("failing.yaml", text);
    char args[1400], db[600], *err;
    snprintf(db, sizeof db, "%s/failing.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress lines", suite, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 1 && strstr(err, "the CPU twin takes head_dim <= 256, not 512") &&
                  strstr(err, "1 pair failed (each said why above): run 1 is marked failed") &&
                  !strstr(err, "time budget"),
              "status %d: %s", st, err);
    free(err);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE status = 'failed' AND finished_at IS NOT NULL") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM bench") == 1); /* the shape that could run */
}

TEST(runner_repeat_rule_times_until_the_spread_is_met)
{
    /* the spread of hand-made times: p10..p90 over the median */
    const double t[5] = {1, 1, 1, 1, 2};
    CHECK_NEAR(tp_spread(t, 5), (1.6 - 1.0) / 1.0, 1e-12);
    CHECK(tp_spread(t, 4) == 0);
    double load;
    CHECK(tp_load_above("4.59 4.89 5.11 5/113 24773\n", 2, &load) == 1);
    CHECK_NEAR(load, 4.59, 1e-12);
    CHECK(tp_load_above("0.50 0.40 0.30 1/100 1\n", 2, &load) == 0 && load == 0.5);
    CHECK(tp_load_above("", 2, &load) == 0 && load == 0);
    /* an impossible target: max_repeats repeats; a target of 10 (1000%): the 3 asked. The
     * case takes tens of milliseconds, so that a loaded machine's preemptions (a few
     * milliseconds each) cannot push three samples' spread past 10. */
    for (int k = 0; k < 2; k++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "name: rule%d\nmodel: %s\nbackend: cpu\nseed: 7\nmethods:\n  - {name: dense, policy: dense}\ntasks:\n"
                 "  - type: throughput\n    contexts: [1024]\n    phases: [prefill]\n    repeats: 3\n    warmup: 0\n"
                 "    max_repeats: 7\n    target_spread: %s\n"
                 "    shapes: [{layers: 1, heads: 4, kv_heads: 1, head_dim: 64}]\n",
                 k, test_model_path, k ? "10" : "0.0000000001");
        char name[32];
        snprintf(name, sizeof name, "rule%d.yaml", k);
        char *suite = rt_write(name, text);
        char args[1400], db[600], *err;
        snprintf(db, sizeof db, "%s/rule%d.db", rt_dir(), k);
        snprintf(args, sizeof args, "run %s --db %s --progress none", suite, db);
        int st = rt_run(args, NULL, &err);
        CHECK_MSG(st == 0, "status %d: %s", st, err);
        free(err);
        long long reps = rt_query(db, "SELECT repeats FROM bench");
        /* target 10: the 3 asked, or a few more when a loaded machine
         * stretched one of those microsecond timings tenfold (seen on 2
         * shared cores), never the 7 of a target not met */
        CHECK_MSG(k ? reps >= 3 && reps < 7 : reps == 7, "target %d: %lld repeats", k, reps);
    }
}

/* A suite's `model:` that is not there from the working directory is
 * looked up beside the suite file; missing in both, the error names both. */
TEST(runner_model_path_relative_to_the_suite_file)
{
    char sub[700], link[800], text[600], args[1600], db[700], *err;
    snprintf(sub, sizeof sub, "%s/elsewhere", rt_dir());
    CHECK(mkdir(sub, 0755) == 0 || access(sub, F_OK) == 0);
    snprintf(link, sizeof link, "%s/beside.gguf", sub);
    char abs_model[4096];
    CHECK(realpath(test_model_path, abs_model));
    unlink(link);
    CHECK(symlink(abs_model, link) == 0);
    snprintf(text, sizeof text,
             "name: beside\nmodel: beside.gguf\nbackend: cpu\nseed: 7\nmethods:\n  - {name: dense, policy: dense}\n"
             "tasks:\n  - type: throughput\n    contexts: [128]\n    phases: [prefill]\n    repeats: 1\n"
             "    warmup: 0\n    shapes: [{layers: 1, heads: 2, kv_heads: 1, head_dim: 16}]\n");
    char path[800];
    snprintf(path, sizeof path, "%s/beside.yaml", sub);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
    snprintf(db, sizeof db, "%s/beside.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none", path, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    free(err);
    CHECK(rt_query(db, "SELECT count(*) FROM runs WHERE model_path LIKE '%/elsewhere/beside.gguf'") == 1);
    unlink(link);
    snprintf(args, sizeof args, "run %s --db %s --progress none", path, db);
    st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 2 && strstr(err, "model 'beside.gguf' not found, neither from the working directory nor as ") &&
                  strstr(err, "/elsewhere/beside.gguf"), "status %d: %s", st, err);
    free(err);
}

/* Density by phase: dense is 1 in both; a 64-token streaming window over a
 * 256-token prompt skips keys in both phases, and the case's density lies
 * between its prefill's and its decode's. */
TEST(runner_density_split_by_phase)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: phases\nmodel: %s\nbackend: cpu\nseed: 7\nmethods:\n  - {name: dense, policy: dense}\n"
             "  - {name: win, policy: streaming, params: {sink: 4, window: 64}}\n"
             "tasks:\n  - {type: passkey, contexts: [256], samples: 1, max_new: 6}\n",
             test_model_path);
    char *suite = rt_write("phases.yaml", text);
    char args[1400], db[600], *err;
    snprintf(db, sizeof db, "%s/phases.db", rt_dir());
    snprintf(args, sizeof args, "run %s --db %s --progress none", suite, db);
    int st = rt_run(args, NULL, &err);
    CHECK_MSG(st == 0, "status %d: %s", st, err);
    free(err);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE method = 'dense' AND density_prefill = 1"
                       " AND density_decode = 1 AND n_decode > 0") == 1);
    CHECK(rt_query(db, "SELECT count(*) FROM suite_cases WHERE method = 'win' AND density_prefill < 0.9"
                       " AND density_decode < 0.5 AND density BETWEEN min(density_prefill, density_decode) - 1e-12"
                       " AND max(density_prefill, density_decode) + 1e-12") == 1);
    char *out;
    snprintf(args, sizeof args, "report --db %s", db);
    st = rt_run(args, &out, NULL);
    CHECK_MSG(st == 0 && strstr(out, "\ndensity by phase (mean over the cases)\ntask     method  prefill  decode\n"
                                     "passkey  dense    1.0000  1.0000\npasskey  win      0.") ,
              "status %d: %s", st, out);
    free(out);
}
