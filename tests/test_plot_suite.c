/* test_plot_suite.c — the suite charts of plot_suite (plots/plot_suite.h) on
 * synthetic runs.
 *
 * Attention kernels: attention-level bench rows of two impls (purbo,
 * sdpa_cudnn) at two contexts and both phases come out as
 * suite_attention.png and suite_attention_ratio.png, with the values the
 * data files should hold (TFLOP/s, GB/s, the fastest of duplicate rows, the
 * ratio to cuDNN) and each impl's palette style; the model-level chart
 * ignores them; a run without cuDNN rows has no ratio chart.
 * Method styles: the score (bars with 95% intervals), density and throughput charts of three methods
 * (one outside the palette) give each method its palette colour and point
 * type (plots/plot_palette.c) in the scripts they write, in the order of
 * their data blocks; throughput series of one method share its colour and
 * differ in dash type by task.
 *
 * plot_suite runs in a child: gnuplot missing or failing is a runtime error
 * (exit 1) there, a failed test here. */
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/layer_time.h"
#include "suites/runner_db.h"
#include "tests/fixture.h"
#include "plots/plot_kit.h"
#include "plots/plot_suite.h"
#include "tests/test.h"

/* The first of want[0..n) that text does not hold after the previous one
 * (each found from where the previous match starts), or NULL. */
static const char *missing_in_order(const char *text, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(text, want[i]);
        if (!hit) return want[i];
        text = hit;
    }
    return NULL;
}

/* One attention row (bench + suite_bench) of run: t seconds, p10 0.9 t, p90
 * 1.2 t; with unit, the throughput the runner stores (work / t). */
static void att_row(pb_db *db, int64_t run, const char *task, const char *impl, const char *phase, int n, double t,
                    int with_unit, int case_index)
{
    const int h = 32, kvh = 8, d = 128;
    int prefill = !strcmp(phase, "prefill");
    double work = prefill ? 2.0 * n * n * d * h / 1e12 : 4.0 * n * kvh * d / 1e9;
    bench_row r = {.run_id = run, .bench = "attention", .impl = impl, .phase = phase, .n_layer = 1, .n_head = h,
                   .n_kv_head = kvh, .head_dim = d, .n_ctx = n, .n_tokens = prefill ? n : 1, .repeats = 10,
                   .t_median = t, .t_min = 0.8 * t, .t_max = 1.5 * t, .t_p10 = 0.9 * t, .t_p90 = 1.2 * t,
                   .t_mad = 0.1 * t, .throughput = work / t,
                   .throughput_unit = with_unit ? (prefill ? "TFLOP/s" : "GB/s") : NULL};
    int64_t id = db_bench_add(db, &r);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO suite_bench(bench_id, run_id, suite, task, method, policy, case_index, weights)"
             " VALUES (%lld, %lld, 'tp', '%s', '%s', 'dense', %d, 'random')",
             (long long)id, (long long)run, task, impl, case_index);
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL));
}

/* plot_suite(run) into out in a child, its stdout into out.txt beside out;
 * the number of PNGs it reports, or -1 when the child failed. */
static int plot_in_child(const char *dbpath, int64_t run, const char *out)
{
    char log[600];
    snprintf(log, sizeof log, "%s.txt", out);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stdout)) _exit(101);
        pb_err e;
        pb_db *db = db_open(dbpath, &e);
        if (!db) _exit(102);
        int n = plot_suite(db, run, out, &e);
        db_close(db);
        fflush(stdout);
        _exit(n < 0 ? 103 : 10 + n); /* 1 is a runtime error's status */
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) < 10 || WEXITSTATUS(st) > 100)
        return -1;
    return WEXITSTATUS(st) - 10;
}

/* How often needle occurs in text. */
static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* The SVG beside a PNG (NAME.svg for NAME.png): a whole SVG document, or NULL. */
static char *svg_beside(const char *png)
{
    char p[800];
    snprintf(p, sizeof p, "%.*s.svg", (int)(strlen(png) - 4), png);
    char *svg = fixture_read(p, NULL);
    if (svg && !(strstr(svg, "<svg") && strstr(svg, "</svg>"))) {
        free(svg);
        svg = NULL;
    }
    return svg;
}

static int png_ok(const char *path)
{
    size_t n = 0;
    char *png = fixture_read(path, &n);
    int ok = png && n > 2000 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8);
    free(png);
    return ok;
}

TEST(plot_suite_attention_charts)
{
    char *dir = fixture_tmpdir("plotatt"), dbpath[600], out[600], p[700];
    snprintf(dbpath, sizeof dbpath, "%s/r.db", dir);
    pb_err e;
    pb_db *db = db_open(dbpath, &e);
    CHECK_MSG(db, "%s", e.msg);
    run_meta meta = {.command = "purbo-test attention plot", .device = "NVIDIA H100 80GB HBM3"};
    int64_t run = db_run_begin(db, &meta);
    /* prefill 4096: purbo 1 ms (and a slower 3 ms row in another task), cuDNN 2 ms; 1M: 20 s, 30 s */
    att_row(db, run, "prefill", "purbo", "prefill", 4096, 1e-3, 1, 0);
    att_row(db, run, "prefill", "sdpa_cudnn", "prefill", 4096, 2e-3, 1, 0);
    att_row(db, run, "prefill", "purbo", "prefill", 1 << 20, 20.0, 1, 1);
    att_row(db, run, "prefill", "sdpa_cudnn", "prefill", 1 << 20, 30.0, 1, 1);
    att_row(db, run, "prefill_again", "purbo", "prefill", 4096, 3e-3, 1, 0);
    /* decode 4096: 20 us each; 1M: purbo 1 ms, cuDNN 2 ms stored without a throughput */
    att_row(db, run, "decode", "purbo", "decode", 4096, 20e-6, 1, 0);
    att_row(db, run, "decode", "sdpa_cudnn", "decode", 4096, 20e-6, 1, 0);
    att_row(db, run, "decode", "purbo", "decode", 1 << 20, 1e-3, 1, 1);
    att_row(db, run, "decode", "sdpa_cudnn", "decode", 1 << 20, 2e-3, 0, 1);
    int64_t run2 = db_run_begin(db, &meta); /* ours alone: no ratio chart */
    att_row(db, run2, "decode", "purbo", "decode", 4096, 20e-6, 1, 0);
    db_close(db);

    snprintf(out, sizeof out, "%s/png", dir);
    int n = plot_in_child(dbpath, run, out);
    CHECK_MSG(n == 2, "plot_suite drew %d PNGs (-1: failed; is gnuplot installed?)", n);
    snprintf(p, sizeof p, "%s/png.txt", dir);
    char *log = fixture_read(p, NULL);
    CHECK(log);
    const char *names[] = {"suite_attention", "suite_attention_ratio"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s.png", out, names[i]);
        CHECK_MSG(png_ok(p), "%s is not a PNG of some size", p);
        char want[800];
        snprintf(want, sizeof want, "plot: %s\n", p);
        CHECK_MSG(strstr(log, want), "'%s' not in: %s", p, log);
        snprintf(p, sizeof p, "%s/%s.gp", out, names[i]);
        struct stat sb;
        CHECK_MSG(stat(p, &sb) == 0 && sb.st_size > 200, "%s", p);
        /* each impl drawn with its palette style: linetype j is the j-th impl's */
        char *gp = fixture_read(p, NULL), l1[120], l2[120];
        CHECK(gp);
        plot_style a = plot_style_of("purbo"), b = plot_style_of("sdpa_cudnn");
        snprintf(l1, sizeof l1, "set linetype 1 lc rgb '%s' pt %d\n", a.rgb, a.pt);
        snprintf(l2, sizeof l2, "set linetype 2 lc rgb '%s' pt %d\n", b.rgb, b.pt);
        const char *want_gp[] = {l1, l2, "impls = ARG5", "lt j "};
        const char *miss_gp = missing_in_order(gp, want_gp, 4);
        free(gp);
        CHECK_MSG(!miss_gp, "'%s' not (in order) in %s", miss_gp, p);
    }
    free(log);
    snprintf(p, sizeof p, "%s/suite_throughput.png", out);
    struct stat sb;
    CHECK_MSG(stat(p, &sb) != 0, "%s drawn from attention rows", p);

    /* the values: 2 n^2 d heads / t, 4 n kv_heads d / t, bars over p90 / p10 */
    snprintf(p, sizeof p, "%s/suite_attention.dat", out);
    char *dat = fixture_read(p, NULL);
    CHECK(dat);
    const char *rows[] = {
        "# prefill:32/8/128 purbo", "4096 137.4 114.5 152.7\n", /* the 1 ms row, not the 3 ms one */
        "1048576 450.4 375.3 500.4\n",                          /* 2^40 * 8192 / 20 s */
        "# prefill:32/8/128 sdpa_cudnn", "4096 68.72 57.27 76.35\n",
        "# decode:32/8/128 purbo", "4096 838.9 ", "1048576 4295 ",
        "# decode:32/8/128 sdpa_cudnn", "1048576 2147 1790 2386\n", /* from the shape: no stored throughput */
    };
    const char *miss = missing_in_order(dat, rows, sizeof rows / sizeof rows[0]);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, dat);
    free(dat);
    snprintf(p, sizeof p, "%s/suite_attention_ratio.dat", out);
    dat = fixture_read(p, NULL);
    CHECK(dat);
    const char *ratios[] = {"# prefill:32/8/128 purbo", "4096 2.0000\n", "1048576 1.5000\n",
                            "# prefill:32/8/128 sdpa_cudnn", "4096 1.0000\n",
                            "# decode:32/8/128 purbo", "4096 1.0000\n", "1048576 2.0000\n"};
    miss = missing_in_order(dat, ratios, sizeof ratios / sizeof ratios[0]);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, dat);
    free(dat);

    snprintf(out, sizeof out, "%s/png2", dir);
    n = plot_in_child(dbpath, run2, out);
    CHECK_MSG(n == 1, "run 2 (no cuDNN rows): %d PNGs", n);
    snprintf(p, sizeof p, "%s/suite_attention.png", out);
    CHECK_MSG(png_ok(p), "%s", p);
    snprintf(p, sizeof p, "%s/suite_attention_ratio.png", out);
    CHECK_MSG(stat(p, &sb) != 0, "%s drawn without sdpa_cudnn rows", p);
    snprintf(p, sizeof p, "%s/suite_attention_ratio.dat", out);
    CHECK_MSG(stat(p, &sb) != 0, "%s left behind", p);
    fixture_rmtree(dir);
}

/* One model-level throughput row (bench 'forward' + suite_bench) of run. */
static void forward_row(pb_db *db, int64_t run, const char *task, const char *method, int n, double t)
{
    bench_row r = {.run_id = run, .bench = "forward", .impl = "purbo", .phase = "prefill", .n_layer = 2,
                   .n_head = 4, .n_kv_head = 2, .head_dim = 64, .n_ctx = n, .n_tokens = n, .repeats = 3,
                   .t_median = t, .t_min = t, .t_max = t, .t_p10 = t, .t_p90 = t, .throughput = n / t,
                   .throughput_unit = "tok/s"};
    int64_t id = db_bench_add(db, &r);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO suite_bench(bench_id, run_id, suite, task, method, policy, case_index, weights)"
             " VALUES (%lld, %lld, 'pal', '%s', '%s', '%s', 0, 'model')",
             (long long)id, (long long)run, task, method, method);
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL));
}

/* "set linetype K lc rgb '#rrggbb' pt P[ dt D]\n" for method, as the table has it. */
static void style_line(char *out, size_t n, int k, const char *method, int dt)
{
    plot_style s = plot_style_of(method);
    if (dt) snprintf(out, n, "set linetype %d lc rgb '%s' pt %d dt %d\n", k, s.rgb, s.pt, dt);
    else snprintf(out, n, "set linetype %d lc rgb '%s' pt %d\n", k, s.rgb, s.pt);
}

TEST(plot_suite_method_styles)
{
    char *dir = fixture_tmpdir("plotpal"), dbpath[600], out[600], p[700];
    snprintf(dbpath, sizeof dbpath, "%s/r.db", dir);
    pb_err e;
    pb_db *db = db_open(dbpath, &e);
    CHECK_MSG(db, "%s", e.msg);
    run_meta meta = {.command = "purbo-test palette plot", .device = "cpu"};
    int64_t run = db_run_begin(db, &meta);
    /* run order rtpurbo-topk, an unknown method, dense: not the palette's order */
    const char *methods[] = {"rtpurbo-topk", "zz-new-method", "dense"};
    for (int m = 0; m < 3; m++) {
        fixture_case_row(db, run, "passkey", methods[m], NULL, 0, 256, 0.25 * (m + 1), 0.3 * (m + 1));
        fixture_case_row(db, run, "vt", methods[m], NULL, 0, 256, 0.2 * m, 0.3 * (m + 1));
    }
    forward_row(db, run, "tp_a", "dense", 256, 0.010);
    forward_row(db, run, "tp_a", "rtpurbo", 256, 0.008);
    forward_row(db, run, "tp_b", "dense", 512, 0.030);
    forward_row(db, run, "tp_b", "rtpurbo", 512, 0.020);
    db_close(db);

    snprintf(out, sizeof out, "%s/png", dir);
    int n = plot_in_child(dbpath, run, out);
    /* four since the frontier chart came: scores, density, frontier, throughput */
    CHECK_MSG(n == 4, "plot_suite drew %d PNGs, want scores, density, frontier, throughput (-1: failed)", n);
    char l[3][120];
    for (int m = 0; m < 3; m++) style_line(l[m], sizeof l[m], m + 1, methods[m], 0);
    CHECK_MSG(strcmp(strchr(l[0], '#'), strchr(l[2], '#')) && strcmp(strchr(l[1], '#'), strchr(l[2], '#')) &&
                  strcmp(strchr(l[0], '#'), strchr(l[1], '#')),
              "two methods share a colour:\n%s%s%s", l[0], l[1], l[2]);
    const char *charts[] = {"suite_scores", "suite_density", "suite_frontier"};
    /* the score bars take 3 columns per method (score, interval low, high): titles from the method list;
     * the frontier's series are the method families (here each method its own) */
    const char *uses[] = {"with boxerrorbars lt i title purbo_label[i]", "with points lt i ",
                          "with yerrorlines lt i ps 1.4 title purbo_label[i]"};
    for (int c = 0; c < 3; c++) {
        snprintf(p, sizeof p, "%s/%s.png", out, charts[c]);
        CHECK_MSG(png_ok(p), "%s is not a PNG of some size", p);
        snprintf(p, sizeof p, "%s/%s.gp", out, charts[c]);
        char *gp = fixture_read(p, NULL);
        CHECK(gp);
        const char *want[] = {l[0], l[1], l[2], "set linetype 3 lc rgb '#000000' pt 7\n",
                              c == 2 ? "families = ARG4" : "methods = ARG4", uses[c]};
        const char *miss = missing_in_order(gp, want, 6);
        CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, gp);
        free(gp);
    }
    /* the blocks (columns) come in the same order as the linetypes */
    snprintf(p, sizeof p, "%s/suite_scores.dat", out);
    char *dat = fixture_read(p, NULL);
    CHECK(dat);
    CHECK_MSG(strstr(dat, "\ntask rtpurbo-topk zz-new-method dense\n"), "%s:\n%s", p, dat);
    /* the frontier: a block per method family, both tasks' cases pooled: scores (0.25, 0), (0.5, 0.2),
     * (0.75, 0.4), a bootstrap of two values spans both */
    snprintf(p, sizeof p, "%s/suite_frontier.dat", out);
    char *fr = fixture_read(p, NULL);
    CHECK(fr);
    const char *blocks[] = {"# family rtpurbo-topk (rtpurbo-topk):", "\n0.3000 12.50 0.00 25.00 rtpurbo-topk\n",
                            "# family zz-new-method (zz-new-method):", "\n0.6000 35.00 20.00 50.00 zz-new-method\n",
                            "# family dense (dense):", "\n0.9000 57.50 40.00 75.00 dense\n"};
    const char *fmiss = missing_in_order(fr, blocks, 6);
    CHECK_MSG(!fmiss, "'%s' not (in order) in %s:\n%s", fmiss, p, fr);
    free(fr);
    /* one case each: the interval is the score itself */
    CHECK_MSG(strstr(dat, "\npasskey 25.00 25.00 25.00 50.00 50.00 50.00 75.00 75.00 75.00\n"), "%s:\n%s", p, dat);
    free(dat);

    /* throughput: a series per (task, method); colour and points the method's, dash type the task's */
    snprintf(p, sizeof p, "%s/suite_throughput.dat", out);
    dat = fixture_read(p, NULL);
    CHECK(dat);
    const char *series[] = {"# tp_a:prefill:2/4/2/64:dense ", "# tp_a:prefill:2/4/2/64:rtpurbo ",
                            "# tp_b:prefill:2/4/2/64:dense ", "# tp_b:prefill:2/4/2/64:rtpurbo "};
    const char *miss = missing_in_order(dat, series, 4);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, dat);
    free(dat);
    char t[4][120];
    style_line(t[0], sizeof t[0], 1, "dense", 1);
    style_line(t[1], sizeof t[1], 2, "rtpurbo", 1);
    style_line(t[2], sizeof t[2], 3, "dense", 2);
    style_line(t[3], sizeof t[3], 4, "rtpurbo", 2);
    snprintf(p, sizeof p, "%s/suite_throughput.gp", out);
    char *gp = fixture_read(p, NULL);
    CHECK(gp);
    const char *want[] = {t[0], t[1], t[2], t[3],
                          "array purbo_label[4] = [\"tp_a prefill 2/4/2/64: dense: full attention\", "
                          "\"tp_a prefill 2/4/2/64: rtpurbo: RTPurbo, top-p blocks by an indexer "
                          "(PCA, or trained ones from a plan)\", ",
                          "with yerrorlines lt i ", "with linespoints lt i "};
    miss = missing_in_order(gp, want, 7);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, gp);
    free(gp);
    fixture_rmtree(dir);
}

/* A sweep: the points of one method family (METHOD@KNOB=VALUE) make one
 * line, by rising density whatever the run order, apart from another family
 * of the same policy; the pooled score's interval is Wilson's when every
 * case is pass/fail. The upper frontier is the envelope of the exact
 * oracles' points (a point no better than one at lower density drops out),
 * the lower one streaming's. */
TEST(plot_suite_frontier_joins_a_sweep)
{
    char *dir = fixture_tmpdir("plotfront"), dbpath[600], out[600], p[700];
    snprintf(dbpath, sizeof dbpath, "%s/r.db", dir);
    pb_err e;
    pb_db *db = db_open(dbpath, &e);
    CHECK_MSG(db, "%s", e.msg);
    run_meta meta = {.command = "purbo-test frontier plot", .device = "cpu"};
    int64_t run = db_run_begin(db, &meta);
    for (int i = 0; i < 10; i++) {
        fixture_case_row(db, run, "pk", "dense", NULL, i, 256, 1, 1.0);
        fixture_case_row(db, run, "pk", "topp", "topp-oracle", i, 256, i < 9, 0.6);
        fixture_case_row(db, run, "pk", "topp@p=0.5", "topp-oracle", i, 256, i < 7, 0.2);
        fixture_case_row(db, run, "pk", "topk", "topk-oracle", i, 256, i < 8, 0.7);     /* below topp at 0.6 */
        fixture_case_row(db, run, "pk", "topk@top_k=2", "topk-oracle", i, 256, i < 5, 0.15);
        fixture_case_row(db, run, "pk", "stream", "streaming", i, 256, i < 2, 0.3);
        fixture_case_row(db, run, "pk", "stream@window=64", "streaming", i, 256, i < 1, 0.1);
        fixture_case_row(db, run, "pk", "rt", "rtpurbo", i, 256, i < 6, 0.4);
        fixture_case_row(db, run, "pk", "rt-b", "rtpurbo", i, 256, i < 3, 0.4);
    }
    db_close(db);
    snprintf(out, sizeof out, "%s/png", dir);
    int n = plot_in_child(dbpath, run, out);
    CHECK_MSG(n == 3, "plot_suite drew %d PNGs, want scores, density, frontier (-1: failed)", n);
    snprintf(p, sizeof p, "%s/suite_frontier.png", out);
    CHECK_MSG(png_ok(p), "%s", p);
    snprintf(p, sizeof p, "%s/suite_frontier.dat", out);
    char *dat = fixture_read(p, NULL);
    CHECK(dat);
    /* Wilson 10/10 = [72.25, 100], 7/10 = [39.68, 89.22], 9/10 = [59.58, 98.21], 2/10 = [5.67, 50.98] */
    const char *rows[] = {"# family dense (dense):", "\n1.0000 100.00 72.25 100.00 dense\n",
                          "# family topp (topp-oracle):",
                          "\n0.2000 70.00 39.68 89.22 topp@p=0.5\n0.6000 90.00 59.58 98.21 topp\n\n\n",
                          "# family topk (topk-oracle):", "\n0.1500 50.00 ", " topk@top_k=2\n0.7000 80.00 ",
                          "# family stream (streaming):", "\n0.1000 10.00 ", " stream@window=64\n0.3000 20.00 5.67 50.98 stream\n",
                          "# family rt (rtpurbo):", "\n0.4000 60.00 ", "# family rt-b (rtpurbo):", "\n0.4000 30.00 ",
                          "# upper frontier: the exact oracles",
                          "\n0.1500 50.00 topk@top_k=2\n0.2000 70.00 topp@p=0.5\n0.6000 90.00 topp\n\n\n",
                          "# lower frontier: streaming", "\n0.1000 10.00 stream@window=64\n0.3000 20.00 stream\n"};
    int nr = (int)(sizeof rows / sizeof rows[0]);
    const char *miss = missing_in_order(dat, rows, nr);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, dat);
    CHECK_MSG(!strstr(dat, "0.7000 80.00 topk\n"), "topk (80 at 0.7) is below topp (90 at 0.6): not on the upper frontier:\n%s",
              dat);
    free(dat);
    snprintf(p, sizeof p, "%s/suite_frontier.gp", out);
    char *gp = fixture_read(p, NULL);
    CHECK(gp);
    char l[3][120];
    style_line(l[0], sizeof l[0], 1, "dense", 0);
    style_line(l[1], sizeof l[1], 2, "topp", 0);
    style_line(l[2], sizeof l[2], 3, "topk", 0);
    const char *want[] = {l[0], l[1], l[2], "with yerrorlines lt i ", "index n using 1:2 with steps",
                          "index (n + 1) using 1:2 with steps"};
    miss = missing_in_order(gp, want, 6);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, gp);
    free(gp);
    fixture_rmtree(dir);
}

/* Charts for a paper: every PNG has its SVG beside it; the legends name the
 * methods in words; a score of 0 is drawn apart from a case that did not
 * run (the bars: a "0" in the method's colour against a grey x; the NIAH
 * heatmap: a "0" cell against a hatched "n/r" one). */
TEST(plot_suite_zero_apart_from_not_run)
{
    char *dir = fixture_tmpdir("plotzero"), dbpath[600], out[600], p[700];
    snprintf(dbpath, sizeof dbpath, "%s/r.db", dir);
    pb_err e;
    pb_db *db = db_open(dbpath, &e);
    CHECK_MSG(db, "%s", e.msg);
    run_meta meta = {.command = "purbo-test zero plot", .device = "cpu"};
    int64_t run = db_run_begin(db, &meta);
    fixture_case_row(db, run, "passkey", "dense", NULL, 0, 256, 1, 1.0);
    fixture_case_row(db, run, "passkey", "quest", NULL, 0, 256, 0, 0.4); /* zero */
    fixture_case_row(db, run, "vt", "dense", NULL, 0, 256, 0.5, 1.0);   /* quest: not run */
    /* NIAH at 2 contexts x 2 depths (case_index = 2 context + depth): dense's
     * (512, 50%) scored 0; quest has no (512, 50%) case */
    for (int k = 0; k < 4; k++) {
        fixture_case_row(db, run, "niah", "dense", NULL, k, 256 << (k / 2), k != 3, 1.0);
        if (k < 3) fixture_case_row(db, run, "niah", "quest", NULL, k, 256 << (k / 2), 1, 0.4);
    }
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), "UPDATE suite_cases SET depth = 50.0 * (case_index % 2)",
                                         NULL, NULL, NULL));
    db_close(db);
    snprintf(out, sizeof out, "%s/png", dir);
    int n = plot_in_child(dbpath, run, out);
    CHECK_MSG(n >= 4, "plot_suite drew %d PNGs (-1: failed)", n);
    snprintf(p, sizeof p, "%s/suite_scores.dat", out);
    char *dat = fixture_read(p, NULL);
    CHECK_MSG(dat && strstr(dat, "\npasskey 100.00 20.65 100.00 0.00 0.00 79.35\n") &&
                  strstr(dat, "\nvt 50.00 50.00 50.00 NaN NaN NaN\n"), "%s", dat ? dat : "(none)");
    free(dat);
    const char *charts[] = {"suite_scores", "suite_density", "suite_frontier", "suite_niah_niah"};
    for (int c = 0; c < 4; c++) {
        snprintf(p, sizeof p, "%s/%s.png", out, charts[c]);
        char *svg = svg_beside(p);
        CHECK_MSG(png_ok(p) && svg, "%s: no PNG or no SVG beside it", p);
        CHECK_MSG(strstr(svg, "dense: full attention") && strstr(svg, "quest: Quest, top-k pages in decode"),
                  "%s: the methods are not named in words", p);
        if (c == 0) {
            /* one grey x for quest's vt and one in the legend; a "0" in quest's colour (#009e73) */
            CHECK_MSG(count_of(svg, "color='rgb(119, 119, 119)'") == 2 && strstr(svg, "x: not run"), "%s", p);
            const char *z = strstr(svg, "fill=\"rgb(0,158,115)\" font-family=\"sans\" font-size=\"9.00\"");
            CHECK_MSG(z && !strncmp(strchr(z, '>'), ">\n\t\t<text>0</text>", 18), "%s: no zero label", p);
        }
        snprintf(p, sizeof p, "%s/%s.gp", out, c == 3 ? "suite_niah" : charts[c]);
        char *gp = fixture_read(p, NULL); /* gnuplot's own colours, where a script leaves them: Okabe-Ito's */
        CHECK_MSG(gp && strstr(gp, "set colorsequence podo\n"), "%s", p);
        free(gp);
        if (c == 3) /* quest's depth 50 did not run; dense's scored 0 */
            CHECK_MSG(count_of(svg, "<text>n/r</text>") == 1 && count_of(svg, "<text>0</text>") >= 1, "%s", p);
        free(svg);
    }
    fixture_rmtree(dir);
}

/* One layer-level row (bench + suite_bench + layer_bench) of run, prefill
 * 32/8/128: t seconds; stages (ours: 1, 1, 6, 2 parts of t / 10; the
 * baselines: none). */
static void layer_row(pb_db *db, int64_t run, const char *impl, const char *policy, int n, double dens, double t)
{
    bench_row r = {.run_id = run, .bench = "layer", .impl = impl, .phase = "prefill", .n_layer = 1, .n_head = 32,
                   .n_kv_head = 8, .head_dim = 128, .n_ctx = n, .n_tokens = n, .repeats = 2, .t_median = t,
                   .t_min = t, .t_max = t, .t_p10 = t, .t_p90 = t, .throughput = n / t, .throughput_unit = "tok/s"};
    int64_t id = db_bench_add(db, &r);
    int ours = !strcmp(policy, "rtpurbo") && !strcmp(impl, "purbo");
    static int ci; /* a case index per row (method names repeat) */
    rdb_bench_link(db, id, run, "layer", "layer_prefill", impl, policy, ci++, "random", 1, dens, 1, -1);
    layer_case lc = {.n_ctx = n, .n_head = 32, .n_kv_head = 8, .d = 128, .rho = 0.15, .sink = 4, .window = 8192};
    int64_t dense, kv = layer_kv_bytes(&lc, &dense);
    rdb_layer l = {.bench_id = id, .run = run, .density_target = dens, .density_source = "sweep", .density = dens,
                   .rho = 0.15, .p = 0.9, .ret_heads = 4, .loc_heads = 28, .sink = 4, .window = 8192,
                   .has_stages = ours, .t_stage = {0.1 * t, 0.1 * t, 0.6 * t, 0.2 * t}, .needles = -1,
                   .kv_bytes = kv, .kv_bytes_dense = dense};
    rdb_layer_add(db, &l);
}

TEST(plot_layer_charts)
{
    char *dir = fixture_tmpdir("plotlayer"), dbpath[600], out[600], p[700];
    snprintf(dbpath, sizeof dbpath, "%s/r.db", dir);
    pb_err e;
    pb_db *db = db_open(dbpath, &e);
    CHECK_MSG(db, "%s", e.msg);
    run_meta meta = {.command = "purbo-test layer plot", .device = "NVIDIA H200"};
    int64_t run = db_run_begin(db, &meta);
    /* 32K: cuDNN 100 ms, ours 10 ms at 1%, 20 ms at 10%; 1M: ours alone (no cuDNN: NaN) */
    layer_row(db, run, "sdpa_cudnn", "dense", 32768, 0.01, 0.1);
    layer_row(db, run, "purbo", "dense", 32768, 0.01, 0.095);
    layer_row(db, run, "purbo", "rtpurbo", 32768, 0.01, 0.01);
    layer_row(db, run, "purbo", "rtpurbo", 32768, 0.1, 0.02);
    layer_row(db, run, "purbo", "rtpurbo", 1 << 20, 0.01, 0.5);
    layer_row(db, run, "purbo", "rtpurbo", 1 << 20, 0.1, 1.0);
    db_close(db);
    snprintf(out, sizeof out, "%s/png", dir);
    int n = plot_in_child(dbpath, run, out);
    CHECK_MSG(n == 3, "plot_suite drew %d PNGs (want the three layer charts)", n);
    const char *names[] = {"layer_speedup", "layer_stages", "layer_kv"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s.png", out, names[i]);
        CHECK_MSG(png_ok(p), "%s is not a PNG of some size", p);
    }
    snprintf(p, sizeof p, "%s/layer_speedup.dat", out);
    char *dat = fixture_read(p, NULL);
    CHECK(dat);
    const char *sp[] = {"# prefill:32/8/128 density 0.01", "32768 10.0000 0.01000\n", "1048576 NaN 0.01000\n",
                        "# prefill:32/8/128 density 0.1", "32768 5.0000 0.10000\n", "1048576 NaN"};
    const char *miss = missing_in_order(dat, sp, sizeof sp / sizeof sp[0]);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, dat);
    free(dat);
    /* stages at the sweep's nearest to 0.1: shares 0.1 0.1 0.6 0.2 */
    snprintf(p, sizeof p, "%s/layer_stages.dat", out);
    dat = fixture_read(p, NULL);
    CHECK(dat);
    const char *st[] = {"density 0.1;", "32K 0.1000 0.1000 0.6000 0.2000 20.0000\n",
                        "1M 0.1000 0.1000 0.6000 0.2000 1000.0000\n"};
    miss = missing_in_order(dat, st, sizeof st / sizeof st[0]);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, dat);
    free(dat);
    /* KV MiB: dense 8 heads x n x 128 x 4 B; RTPurbo 640 n B + 8196 x 7 x 512 B */
    snprintf(p, sizeof p, "%s/layer_kv.dat", out);
    dat = fixture_read(p, NULL);
    CHECK(dat);
    const char *kv[] = {"32/8/128\t32768\t", "\t128.0\n", "32/8/128\t1048576\t668.0", "\t4096.0\n"};
    miss = missing_in_order(dat, kv, sizeof kv / sizeof kv[0]);
    CHECK_MSG(!miss, "'%s' not (in order) in %s:\n%s", miss, p, dat);
    free(dat);
    fixture_rmtree(dir);
}
