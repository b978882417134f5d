/* test_convert_run.c — the converter on the model side: the quality
 * numbers on a hand-computable case, the command line's refusals (one line,
 * exit 2: convert's options, and plan files generate and passkey refuse), a
 * warning when the window covers the context,
 * and a small conversion run end to end whose plan passkey then runs.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert_run.h"
#include "tests/fixture.h"
#include "policy/planfile.h"
#include "tests/test.h"

/* Keys 0..255 are zero except key 200 = (10, 0); the query (10, 0) at
 * position 255; W_Q = W_K = I, tau = 1: the student puts ~all its mass on
 * key 200 (block 3, a forced local block). The teacher rows are written by
 * hand: query 0 all on key 100 (block 1), query 1 all on key 200. */
TEST(convert_eval_hand_case)
{
    kd_set s;
    kd_set_init(&s, 2, 1, 256, 2);
    memset(s.k, 0, 256 * 2 * sizeof(float));
    s.k[200 * 2] = 10;
    for (int i = 0; i < 2; i++) {
        s.q_win[i] = 0;
        s.q_pos[i] = 255;
        s.q[i * 2] = 10;
        s.q[i * 2 + 1] = 0;
    }
    s.t_off = malloc(3 * sizeof(size_t));
    s.t_off[0] = 0, s.t_off[1] = 256, s.t_off[2] = 512;
    s.t = calloc(512, sizeof(float));
    s.t[100] = 1;
    s.t[256 + 200] = 1;
    s.t_negent = calloc(2, sizeof(double));
    float eye[4] = {1, 0, 0, 1};
    plan_params prm = plan_defaults; /* sink 4, block 64, local 64, p 0.9 */
    prm.kmin = 0;
    kd_quality q;
    kd_evaluate(&s, 2, eye, eye, 0.0f, &prm, &q);
    CHECK(q.n_queries == 2);
    /* query 0: selected {0, 3} of 4 blocks, teacher {0, 1, 3}; recall 0, mass 0, KL 100 + log(1 + 255 e^-100)
     * query 1: selected = teacher = {0, 3}; recall 1, mass 1, KL ~0 */
    CHECK_NEAR(q.blocks_sel, 0.5, 1e-9);
    CHECK_NEAR(q.blocks_teacher, (0.75 + 0.5) / 2, 1e-9);
    CHECK_NEAR(q.recall, 0.5, 1e-9);
    CHECK_NEAR(q.mass, 0.5, 1e-6);
    CHECK_NEAR(q.kl, 50.0, 1e-3);
    CHECK(q.focus == 0 && q.focus_kept == 0); /* no focus span */
    /* a focus span over keys 90..210: both queries put all their mass there; query 0's key 100 is
     * outside the selection, query 1's key 200 inside */
    s.f_lo = 90, s.f_hi = 210;
    kd_evaluate(&s, 2, eye, eye, 0.0f, &prm, &q);
    CHECK_NEAR(q.focus, 1.0, 1e-6);
    CHECK_NEAR(q.focus_kept, 0.5, 1e-6);
    s.f_lo = 150; /* only key 200 inside the span now */
    kd_evaluate(&s, 2, eye, eye, 0.0f, &prm, &q);
    CHECK_NEAR(q.focus, 0.5, 1e-6);
    CHECK_NEAR(q.focus_kept, 0.5, 1e-6);
    s.f_lo = s.f_hi = 0;
    /* with the floor of 2 blocks both queries keep blocks 1 and 2 as well */
    prm.kmin = 2;
    kd_evaluate(&s, 2, eye, eye, 0.0f, &prm, &q);
    CHECK_NEAR(q.blocks_sel, 1.0, 1e-9);
    CHECK_NEAR(q.recall, 1.0, 1e-9);
    CHECK_NEAR(q.mass, 1.0, 1e-6);
    kd_set_free(&s);
}

/* `recall` on the default suite's first passkey case (about 480 tokens: every
 * block is a forced one or within the floor, so everything is kept), with the
 * prompt pass dense and under the plan, and its refusals: one line, exit 2. */
TEST(recall_cli_runs_and_refuses)
{
    char out[8192], args[1024];
    int lines, st;
    snprintf(args, sizeof args,
             "%s recall suites/default.yaml --task passkey --cases 1 --plan suites/plans/smollm2-135m-need.purbo "
             "--model %s 2>/dev/null",
             test_bin_path, test_model_path);
    st = fixture_shell(args, out, sizeof out);
    CHECK_MSG(st == 0 && strstr(out, "case 0 (") && strstr(out, "249 heads, recall 1.000, mass 1.000") &&
                  strstr(out, "needle tokens") && strstr(out, "kept 1.000 of its mass"),
              "status %d: %s", st, out);
    /* the prompt pass under the plan itself: at this length it keeps every block, so the same line */
    snprintf(args, sizeof args,
             "%s recall suites/default.yaml --task passkey --cases 1 --plan suites/plans/smollm2-135m-need.purbo "
             "--pass plan --model %s 2>/dev/null",
             test_bin_path, test_model_path);
    st = fixture_shell(args, out, sizeof out);
    CHECK_MSG(st == 0 && strstr(out, "prompt pass under suites/plans/smollm2-135m-need.purbo") &&
                  strstr(out, "249 heads, recall 1.000, mass 1.000") && strstr(out, "kept 1.000 of its mass"),
              "--pass plan: status %d: %s", st, out);
    const char *bad[][2] = {
        {"recall suites/default.yaml --task passkey --plan x.purbo --pass sparse", "--pass 'sparse': dense or plan"},
        {"recall suites/default.yaml --plan x.purbo", "--task"},
        {"recall suites/default.yaml --task passkey", "--plan"},
        {"recall --task passkey --plan x.purbo", "suite file"},
        {"recall suites/default.yaml --task nosuch --plan x.purbo --model %s", "no task 'nosuch'"},
        {"recall suites/default.yaml --task passkey --plan /nonexistent.purbo --model %s", "/nonexistent.purbo"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, bad[i][0], test_model_path);
        st = fixture_run_bin(args, out, sizeof out, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(out, bad[i][1]), "'%s': status %d: %s", args, st, out);
    }
}

TEST(convert_cli_refusals)
{
    char err[1024], args[1024];
    int lines, st;
    char *dir = fixture_tmpdir("planrefuse");
    st = fixture_run_bin("convert --help", err, sizeof err, &lines);
    CHECK_MSG(st == 0, "--help: %d", st);
    const char *bad[][2] = {
        {"convert", "--model"},
        {"convert --model x --ctx 1000", "multiple of 64"},
        {"convert --model x --queries 5000", "--queries"},
        {"convert --model x --rho 2", "--rho"},
        {"convert --model x --keep 1.5", "--keep"},
        {"convert --model x --window 100", "multiples of 64 up to --ctx 2048"},
        {"convert --model x --window 4096", "multiples of 64 up to --ctx 2048"},
        {"convert --model x --out /nonexistent/dir/a.purbo", "/nonexistent/dir/a.purbo: cannot write"},
        {"convert --model /nonexistent.gguf --out %s/a.purbo --db %s/r.db", "/nonexistent.gguf"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, bad[i][0], dir, dir);
        st = fixture_run_bin(args, err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, bad[i][1]), "'%s': status %d: %s", args, st, err);
    }
    /* --rope-band against the model's RoPE pairs (32 a head here) and the rank */
    const char *band[][2] = {{"--rope-band 33", "--rope-band 33 exceeds the 32 RoPE pairs"},
                             {"--rope-band 2 --r 8", "--r 8 exceeds the 4 dims of --rope-band 2"},
                             {"--rope-band 0", "--rope-band"}};
    for (size_t i = 0; i < sizeof band / sizeof band[0]; i++) {
        snprintf(args, sizeof args, "convert --model %s %s --out %s/a.purbo --db %s/r.db", test_model_path,
                 band[i][0], dir, dir);
        st = fixture_run_bin(args, err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, band[i][1]), "'%s': status %d: %s", args, st, err);
    }
    CHECK(access(dir, F_OK) == 0);
    /* plan files that generate and passkey refuse */
    const model *m = fixture_model();
    CHECK(m);
    plan_file f;
    plan_file_init(&f, m, 8);
    f.sink = 4, f.window = 512, f.block = 64, f.local = 64, f.p = 0.9f;
    f.cls[0] = PLAN_CLASS_RETRIEVAL;
    char good[512], foreign[512], trunc[512], badsum[512];
    snprintf(good, sizeof good, "%s/good.purbo", dir);
    snprintf(foreign, sizeof foreign, "%s/foreign.purbo", dir);
    snprintf(trunc, sizeof trunc, "%s/trunc.purbo", dir);
    snprintf(badsum, sizeof badsum, "%s/badsum.purbo", dir);
    pb_err e;
    CHECK(plan_file_write(good, &f, &e));
    f.model_fp ^= 1;
    CHECK(plan_file_write(foreign, &f, &e));
    size_t n;
    unsigned char *b = (unsigned char *)fixture_read(good, &n);
    FILE *o = fopen(trunc, "wb");
    fwrite(b, 1, n - 9, o);
    fclose(o);
    b[n - 20] ^= 4;
    o = fopen(badsum, "wb");
    fwrite(b, 1, n, o);
    fclose(o);
    free(b);
    struct { const char *path, *want; } cases[] = {
        {foreign, "made for another model"}, {trunc, "truncated"}, {badsum, "bad checksum"}, {dir, "Is a directory"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "passkey --model %s --tokens 200 --plan %s", test_model_path, cases[i].path);
        st = fixture_run_bin(args, err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, cases[i].path) && strstr(err, cases[i].want),
                  "'%s': status %d: %s", args, st, err);
    }
    snprintf(args, sizeof args, "generate --model %s --prompt hi --plan %s --retrieval-heads 1.1", test_model_path, good);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--retrieval-heads"), "status %d: %s", st, err);
    plan_file_free(&f);
    fixture_rmtree(dir);
}

/* `convert` at a tiny size (256 tokens, one window each, one probe
 * document, batch 16) into dir/m.purbo and dir/r.db, with the extra
 * options; returns its exit status, stderr in err. */
static int convert_small(const char *dir, const char *extra, char plan_path[512], char db_path[512], char *err,
                         size_t err_len)
{
    char args[2048];
    snprintf(plan_path, 512, "%s/m.purbo", dir);
    snprintf(db_path, 512, "%s/r.db", dir);
    snprintf(args, sizeof args,
             "convert --model %s --out %s --db %s --ctx 256 --windows 1 --eval-windows 1 --queries 32"
             " --probe-docs 1 --batch 16 %s",
             test_model_path, plan_path, db_path, extra);
    int lines;
    return fixture_run_bin(args, err, err_len, &lines);
}

/* The whole command on the model at a tiny size: the plan loads, the
 * database holds a curve per head and two quality rows, and passkey runs
 * the plan (the answer is not checked: 5 steps on 256 tokens). */
TEST(convert_end_to_end_small)
{
    char *dir = fixture_tmpdir("convert");
    char args[2048], err[4096], plan_path[512], db_path[512];
    int lines, st = convert_small(dir, "--rho 0.01 --steps 5", plan_path, db_path, err, sizeof err);
    CHECK_MSG(st == 0, "convert: status %d: %s", st, err);
    const model *m = fixture_model();
    plan_file f;
    pb_err e;
    CHECK_MSG(plan_file_read(plan_path, m, &f, &e), "%s", e.msg);
    CHECK(plan_file_n_retrieval(&f) == 3 && f.r == 8 && f.window >= 64 && f.window <= 256 && f.sink == 4);
    plan_file_free(&f);
    pb_db *db = db_open(db_path, &e);
    CHECK_MSG(db, "%s", e.msg);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db_sqlite(db),
                       "SELECT (SELECT count(*) FROM convert_loss), (SELECT count(*) FROM convert_quality),"
                       " (SELECT count(*) FROM convert_head WHERE class = 'retrieval'),"
                       " (SELECT n_retrieval FROM convert_plan), (SELECT status FROM runs)",
                       -1, &q, NULL);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    int n_loss = sqlite3_column_int(q, 0), n_q = sqlite3_column_int(q, 1), n_h = sqlite3_column_int(q, 2),
        n_p = sqlite3_column_int(q, 3);
    char status[16];
    snprintf(status, sizeof status, "%s", (const char *)sqlite3_column_text(q, 4));
    sqlite3_finalize(q);
    db_close(db);
    CHECK_MSG(n_loss == 15 && n_q == 6 && n_h == 3 && n_p == 3 && !strcmp(status, "done"), "%d %d %d %d %s", n_loss,
              n_q, n_h, n_p, status);
    snprintf(args, sizeof args, "passkey --model %s --tokens 100 --max-new 1 --plan %s", test_model_path, plan_path);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    /* accepted and run: one token cannot hold the key, so the answer is wrong (exit 1), with nothing on stderr */
    CHECK_MSG(st == 1 && lines == 0, "passkey --plan: status %d: %s", st, err);
    fixture_rmtree(dir);
}

/* The indexers train on a pool of threads: one thread and three give the
 * same plan file, byte for byte, and the same loss curves in the database
 * (each head has its own seed and buffers; rows are written in head order). */
TEST(convert_threads_same_plan)
{
    char *dir1 = fixture_tmpdir("convert-t1"), *dir3 = fixture_tmpdir("convert-t3");
    char err[4096], plan1[512], db1[512], plan3[512], db3[512];
    int st = convert_small(dir1, "--rho 0.03 --steps 3 --threads 1", plan1, db1, err, sizeof err);
    CHECK_MSG(st == 0, "convert --threads 1: status %d: %s", st, err);
    st = convert_small(dir3, "--rho 0.03 --steps 3 --threads 3", plan3, db3, err, sizeof err);
    CHECK_MSG(st == 0, "convert --threads 3: status %d: %s", st, err);
    size_t n1 = 0, n3 = 0;
    char *a = fixture_read(plan1, &n1), *b = fixture_read(plan3, &n3);
    CHECK(a && b && n1 > 0 && n1 == n3 && !memcmp(a, b, n1));
    free(a);
    free(b);
    double sum[2] = {0, 0};
    int rows[2] = {0, 0};
    const char *dbs[2] = {db1, db3};
    for (int k = 0; k < 2; k++) {
        pb_err e;
        pb_db *db = db_open(dbs[k], &e);
        CHECK_MSG(db, "%s", e.msg);
        sqlite3_stmt *q;
        sqlite3_prepare_v2(db_sqlite(db), "SELECT count(*), total(loss * (step + 1) + layer * 1000 + head) FROM convert_loss", -1, &q, NULL);
        CHECK(sqlite3_step(q) == SQLITE_ROW);
        rows[k] = sqlite3_column_int(q, 0);
        sum[k] = sqlite3_column_double(q, 1);
        sqlite3_finalize(q);
        db_close(db);
    }
    CHECK_MSG(rows[0] == rows[1] && rows[0] >= 3 * 8 && sum[0] == sum[1], "rows %d %d, sums %.17g %.17g", rows[0],
              rows[1], sum[0], sum[1]);
    fixture_rmtree(dir1);
    fixture_rmtree(dir3);
}

/* The need rule, the default, end to end: the plan's retrieval heads are
 * exactly the heads whose locality mass within W (probe_locality of the same
 * run, measured on the probe documents) is below --keep or whose
 * repeated-span score (probe_retrieval) reaches --min-score, and the plan's
 * window is W. */
TEST(convert_need_rule_plan)
{
    char *dir = fixture_tmpdir("convert-need");
    char err[4096], plan_path[512], db_path[512];
    int st = convert_small(dir, "--window 128 --keep 0.8 --min-score 0.05 --steps 2", plan_path, db_path, err,
                           sizeof err);
    CHECK_MSG(st == 0, "convert: status %d: %s", st, err);
    const model *m = fixture_model();
    plan_file f;
    pb_err e;
    CHECK_MSG(plan_file_read(plan_path, m, &f, &e), "%s", e.msg);
    CHECK(f.window == 128 && f.sink == 4);
    pb_db *db = db_open(db_path, &e);
    CHECK_MSG(db, "%s", e.msg);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db_sqlite(db),
                       "SELECT l.layer, l.head, l.mass, r.score, h.class FROM probe_locality l"
                       " JOIN probe_retrieval r USING (run_id, layer, head)"
                       " JOIN convert_head h USING (run_id, layer, head) WHERE l.window = 128"
                       " ORDER BY l.layer, l.head",
                       -1, &q, NULL);
    int n = 0, n_retr = 0, n_mass = 0, n_score = 0, bad = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        int x = sqlite3_column_int(q, 0) * m->cfg.n_head + sqlite3_column_int(q, 1);
        double mass = sqlite3_column_double(q, 2), score = sqlite3_column_double(q, 3);
        int want = mass < 0.8 || score >= 0.05;
        int in_db = !strcmp((const char *)sqlite3_column_text(q, 4), "retrieval");
        bad += (f.cls[x] == PLAN_CLASS_RETRIEVAL) != want || in_db != want;
        n++;
        n_retr += want;
        n_mass += mass < 0.8;
        n_score += score >= 0.05 && mass >= 0.8;
    }
    sqlite3_finalize(q);
    CHECK_MSG(n == m->cfg.n_layer * m->cfg.n_head && bad == 0, "%d heads, %d disagree", n, bad);
    /* both measurements decide some heads, and neither all of them: the rule is not a fixed share */
    CHECK_MSG(n_mass > 0 && n_retr < n && plan_file_n_retrieval(&f) == n_retr, "%d retrieval (%d by mass, %d by score)",
              n_retr, n_mass, n_score);
    sqlite3_prepare_v2(db_sqlite(db), "SELECT n_retrieval FROM convert_plan", -1, &q, NULL);
    CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == n_retr);
    sqlite3_finalize(q);
    db_close(db);
    plan_file_free(&f);
    fixture_rmtree(dir);
}

/* A window that covers the context makes the plan dense there: convert says
 * so (at the calibration length, and at the model's whole context). */
TEST(convert_warns_when_the_window_covers_the_context)
{
    char *dir = fixture_tmpdir("convert-w");
    const int win[2] = {512, 8192};
    const char *want[2] = {"convert: warning: window 512 >= the calibration context 256:",
                           "convert: warning: window 8192 >= the model's context 8192:"};
    for (int k = 0; k < 2; k++) {
        char args[2048], err[8192];
        snprintf(args, sizeof args,
                 "convert --model %s --out %s/m%d.purbo --db %s/r%d.db --ctx 256 --windows 1 --eval-windows 1"
                 " --queries 32 --probe-docs 1 --rho 0.01 --steps 2 --batch 16 --window %d",
                 test_model_path, dir, k, dir, k, win[k]);
        int lines, st = fixture_run_bin(args, err, sizeof err, &lines);
        CHECK_MSG(st == 0 && strstr(err, want[k]), "status %d: %s", st, err);
    }
    fixture_rmtree(dir);
}
