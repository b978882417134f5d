/* test_probes.c — the probes against cases whose answers are known by hand:
 * synthetic attention rows and q/k fed through each probe's observer (the
 * path the forward pass uses), results read back from the database and,
 * for locality and retrieval, from the per-head table in memory; the
 * shared row helpers; the calibration windows; the
 * probe migration on an older database; the command's bad input (exit 2,
 * one line); and the four probes on the real model at a small context,
 * checked for invariants that hold whatever the model does.
 */
#include <math.h>
#include <string.h>

#include "tests/fixture.h"
#include "policy/plan.h"
#include "tests/probe_synth.h"
#include "base/rng.h"
#include "tests/test.h"

/* ---- helpers ------------------------------------------------------------ */

TEST(probes_topp_counts_and_selection)
{
    const float x[] = {0.125f, 0.5f, 0.125f, 0.25f};
    const double t[] = {0.5, 0.75, 0.875, 0.95};
    float work[8]; /* topp_counts needs n floats: 8 for the second call */
    int out[4];
    topp_counts(x, 4, t, 4, out, work);
    CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 4);
    const float unnorm[] = {2, 6, 0, 0, 0, 0, 0, 0}; /* targets are relative to the sum */
    const double half = 0.75;
    topp_counts(unnorm, 8, &half, 1, out, work);
    CHECK(out[0] == 1);
    pb_rng r = {3};
    for (int trial = 0; trial < 200; trial++) {
        float a[97], s[97];
        int n = 1 + (int)rng_below(&r, 97);
        for (int i = 0; i < n; i++) a[i] = (float)rng_below(&r, 20); /* many ties */
        memcpy(s, a, sizeof a);
        for (int i = 1; i < n; i++) /* insertion sort, descending */
            for (int j = i; j > 0 && s[j - 1] < s[j]; j--) {
                float tmp = s[j];
                s[j] = s[j - 1];
                s[j - 1] = tmp;
            }
        int k = 1 + (int)rng_below(&r, (uint64_t)n);
        CHECK_MSG(kth_largest(a, n, k) == s[k - 1], "trial %d: k %d of %d", trial, k, n);
    }
    float row[130], b[3];
    for (int j = 0; j < 130; j++) row[j] = (float)j;
    CHECK(block_sums(row, 130, b) == 3);
    CHECK_NEAR(b[0], 63 * 64 / 2, 0);
    CHECK_NEAR(b[1], (64 + 127) * 64 / 2, 0);
    CHECK_NEAR(b[2], 128 + 129, 0);
}

/* ---- locality ----------------------------------------------------------- */

/* head 0: half the mass on the sink token 0, half on key i-100 (so 0.5 for
 * W <= 100, 1 from W = 101); head 1: uniform over the i+1 keys. Queries
 * before n_ctx/2 get all their mass on key 5, which a probe measuring them
 * would see. */
static void loc_row(int w, int layer, int head, int i, float *row, void *ctx)
{
    (void)w; (void)layer; (void)ctx;
    if (i < 128) row[5] = 1;
    else if (head == 0) row[0] = row[i - 100] = 0.5f;
    else
        for (int j = 0; j <= i; j++) row[j] = 1.0f / (float)(i + 1);
}

TEST(probes_locality_hand_case)
{
    char *dir = fixture_tmpdir("probes");
    int64_t run;
    pb_db *db = synth_db(dir, "loc", &run);
    probe_geom g = {.n_layer = 1, .n_head = 2, .n_head_kv = 1, .d = 4, .n_ctx = 256, .n_windows = 2};
    probe p = probe_locality(&g);
    for (int w = 0; w < 2; w++) synth_window(&p, &g, w, loc_row, NULL, NULL, NULL);
    probe_case_info ci = {.run_id = run, .calib = "test", .seed = 1, .seconds = 0};
    p.store(p.st, db, &ci);
    /* the results in memory: the grid of W and the windows the rows below record */
    const probe_heads *ph = p.heads(p.st);
    CHECK(ph->n_layer == 1 && ph->n_head == 2 && !ph->score && !ph->rank);
    CHECK(ph->n_grid == 4 && ph->grid[0] == 64 && ph->grid[1] == 128 && ph->grid[3] == 256);
    CHECK(ph->w90[0] == 128 && ph->w95[0] == 128 && ph->w90[1] == 192);
    CHECK(ph->w95[1] == synth_query(db, "SELECT w95 FROM probe_locality_head WHERE head = 1"));
    p.free(p.st);
    CHECK_NEAR(synth_query(db, "SELECT mass FROM probe_locality WHERE head = 0 AND window = 64"), 0.5, 1e-6);
    CHECK_NEAR(synth_query(db, "SELECT mass FROM probe_locality WHERE head = 0 AND window = 128"), 1.0, 1e-6);
    CHECK_NEAR(synth_query(db, "SELECT w90 FROM probe_locality_head WHERE head = 0"), 128, 0);
    CHECK_NEAR(synth_query(db, "SELECT w95 FROM probe_locality_head WHERE head = 0"), 128, 0);
    CHECK_NEAR(synth_query(db, "SELECT n_queries FROM probe_locality_head WHERE head = 0"), 256, 0);
    /* head 1, uniform: mass(W) = mean over i in [128, 256) of min(1, (4 + W)/(i + 1)) */
    for (int W = 64; W <= 256; W += 64) {
        double e = 0;
        for (int i = 128; i < 256; i++) e += fmin(1.0, (4.0 + W) / (i + 1));
        e /= 128;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT mass FROM probe_locality WHERE head = 1 AND window = %d", W);
        CHECK_NEAR(synth_query(db, sql), e, 1e-5);
    }
    /* uniform over >= 129 keys: 64+4 of them never reach 0.9; W = 192 averages
     * 196/(i+1) clipped, about 0.98; W = 128 about 0.71 */
    CHECK_NEAR(synth_query(db, "SELECT w90 FROM probe_locality_head WHERE head = 1"), 192, 0);
    db_close(db);
    fixture_rmtree(dir);
}

/* ---- retrieval ---------------------------------------------------------- */

typedef struct {
    int a, b;
} span_pos;

/* layer 0: a quarter of the mass on the induction target a+t+1 (inside the
 * first copy for t < 63), the rest on key 0; at t = 63 all on key 0.
 * layer 1: everything on the query's own token. */
static void ret_row(int w, int layer, int head, int i, float *row, void *ctx)
{
    (void)w; (void)head;
    const span_pos *s = ctx;
    int t = i - s->b;
    if (layer == 1 || t < 0) row[i] = 1;
    else if (t < 63) row[s->a + t + 1] = 0.25f, row[0] = 0.75f;
    else row[0] = 1;
}

TEST(probes_retrieval_document_and_score)
{
    char *dir = fixture_tmpdir("probes");
    /* a small calibration text: numbered lines, different in each source */
    char *kjv = pb_malloc(200000), *code = pb_malloc(200000);
    size_t kl = 0, cl = 0;
    for (int i = 0; kl < 190000; i++) kl += (size_t)sprintf(kjv + kl, "verse %d: and the word %d was said.\n", i, i * 7);
    for (int i = 0; cl < 190000; i++) cl += (size_t)sprintf(code + cl, "int f%d(int x) { return x * %d; }\n", i, i);
    calib *cal = calib_from_texts(fixture_tok(), kjv, kl, code, cl);
    probe_geom g = {.n_layer = 2, .n_head = 1, .n_head_kv = 1, .d = 4, .n_ctx = 512, .n_windows = 1};
    probe p = probe_retrieval(&g);
    int ids[512], again[512];
    p.doc(p.st, cal, 9, 0, ids);
    p.doc(p.st, cal, 9, 0, again);
    CHECK(memcmp(ids, again, sizeof ids) == 0);
    /* the last 64 tokens appear once more, starting in [n/16, n/4) */
    span_pos s = {.a = -1, .b = 512 - 64};
    for (int a = 0; a + 64 <= s.b && s.a < 0; a++)
        if (!memcmp(ids + a, ids + s.b, 64 * sizeof *ids)) s.a = a;
    CHECK_MSG(s.a >= 32 && s.a < 128, "first copy at %d", s.a);
    synth_window(&p, &g, 0, ret_row, &s, NULL, NULL);
    int64_t run;
    pb_db *db = synth_db(dir, "ret", &run);
    probe_case_info ci = {.run_id = run, .calib = calib_describe(cal), .seed = 9, .seconds = 0};
    p.store(p.st, db, &ci);
    /* the results in memory, exactly the values the rows record */
    const probe_heads *ph = p.heads(p.st);
    CHECK(ph->n_layer == 2 && ph->n_head == 1 && !ph->w90 && !ph->grid);
    CHECK_NEAR(ph->score[0], 63 * 0.25 / 64, 1e-7);
    CHECK_NEAR(ph->score_next[0], 0.25, 1e-7);
    CHECK(ph->score[1] == 0 && ph->rank[0] == 1 && ph->rank[1] == 2);
    CHECK(ph->score[0] == synth_query(db, "SELECT score FROM probe_retrieval WHERE layer = 0"));
    CHECK(ph->score_next[0] == synth_query(db, "SELECT score_next FROM probe_retrieval WHERE layer = 0"));
    p.free(p.st);
    CHECK_NEAR(synth_query(db, "SELECT score FROM probe_retrieval WHERE layer = 0"), 63 * 0.25 / 64, 1e-7);
    CHECK_NEAR(synth_query(db, "SELECT score_next FROM probe_retrieval WHERE layer = 0"), 0.25, 1e-7);
    CHECK_NEAR(synth_query(db, "SELECT rank FROM probe_retrieval WHERE layer = 0"), 1, 0);
    CHECK_NEAR(synth_query(db, "SELECT score FROM probe_retrieval WHERE layer = 1"), 0, 0);
    CHECK_NEAR(synth_query(db, "SELECT n_queries FROM probe_retrieval WHERE layer = 1"), 64, 0);
    db_close(db);
    calib_free(cal);
    free(kjv);
    free(code);
    fixture_rmtree(dir);
}

/* ---- demand ------------------------------------------------------------- */

/* Even queries (A): 1/2 on key i, 1/4 on key i-1, 1/4 on key 0: tokens for
 * p = .5 .8 .9 .95: 1 3 3 3; blocks (i, i-1 share one): 1 2 2 2.
 * Odd queries (B): 1/8 on keys 1, 2, 65, 66, 129, 130, 193, 194: tokens 4 7 8
 * 8; blocks (1/4 each) 2 4 4 4. Queries 224..255 are the 32 measured. */
static void dem_row(int w, int layer, int head, int i, float *row, void *ctx)
{
    (void)w; (void)layer; (void)head; (void)ctx;
    if (i < 194) {
        row[i] = 1;
    } else if (i % 2 == 0) {
        row[i] = 0.5f;
        row[i - 1] = row[0] = 0.25f;
    } else {
        const int keys[8] = {1, 2, 65, 66, 129, 130, 193, 194};
        for (int k = 0; k < 8; k++) row[keys[k]] = 0.125f;
    }
}

TEST(probes_demand_hand_case)
{
    char *dir = fixture_tmpdir("probes");
    int64_t run;
    pb_db *db = synth_db(dir, "dem", &run);
    probe_geom g = {.n_layer = 1, .n_head = 1, .n_head_kv = 1, .d = 4, .n_ctx = 256, .n_windows = 1};
    probe p = probe_demand(&g);
    synth_window(&p, &g, 0, dem_row, NULL, NULL, NULL);
    probe_case_info ci = {.run_id = run, .calib = "test", .seed = 1, .seconds = 0};
    p.store(p.st, db, &ci);
    p.free(p.st);
    static const struct { double p; const char *unit; double lo, hi; } want[] = {
        {0.5, "token", 1, 4}, {0.8, "token", 3, 7}, {0.9, "token", 3, 8}, {0.95, "token", 3, 8},
        {0.5, "block", 1, 2}, {0.8, "block", 2, 4}, {0.9, "block", 2, 4}, {0.95, "block", 2, 4}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        char sql[300];
        const char *cols[] = {"v_min", "v_max", "v_median", "v_mean", "v_p10", "v_p90", "n_queries"};
        /* 16 of each: median interpolates halfway; p10 and p90 sit on lo and hi */
        double exp[] = {want[k].lo, want[k].hi, (want[k].lo + want[k].hi) / 2, (want[k].lo + want[k].hi) / 2,
                        want[k].lo, want[k].hi, 32};
        for (int c = 0; c < 7; c++) {
            snprintf(sql, sizeof sql, "SELECT %s FROM probe_demand WHERE layer = 0 AND ctx_len = 256 AND p = %g"
                     " AND unit = '%s'", cols[c], want[k].p, want[k].unit);
            CHECK_MSG(fabs(synth_query(db, sql) - exp[c]) < 1e-9, "%s p %g %s: %g, want %g", want[k].unit,
                      want[k].p, cols[c], synth_query(db, sql), exp[c]);
        }
        snprintf(sql, sizeof sql, "SELECT group_concat(needed || ':' || count) FROM probe_demand_hist"
                 " WHERE ctx_len = 256 AND p = %g AND unit = '%s' ORDER BY needed", want[k].p, want[k].unit);
        sqlite3_stmt *st;
        DB_CHECK(db_sqlite(db), sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL));
        DB_CHECK(db_sqlite(db), sqlite3_step(st));
        char expect[64];
        snprintf(expect, sizeof expect, "%g:16,%g:16", want[k].lo, want[k].hi);
        const char *got = (const char *)sqlite3_column_text(st, 0);
        int ok = got && !strcmp(got, expect);
        sqlite3_finalize(st);
        CHECK_MSG(ok, "histogram %s p %g", want[k].unit, want[k].p);
    }
    /* the pooled row (layer NULL) equals the single head's */
    CHECK_NEAR(synth_query(db, "SELECT v_mean FROM probe_demand WHERE layer IS NULL AND p = 0.9 AND unit = 'token'"),
               5.5, 1e-9);
    db_close(db);
    fixture_rmtree(dir);
}

/* ---- rank --------------------------------------------------------------- */

/* d = 4. Fit window: q = (±1, ±1, ±10, ±10) over all 16 sign patterns, so
 * E[q q^T] = diag(1, 1, 100, 100) exactly; k random in dims 0, 1 and zero in
 * dims 2, 3. Eval window: every q = (1, 0.5, 10, -10); keys 0..4 zero, keys
 * 10..50 step 10 = (20, 20, 0, 0), the rest random in dims 0, 1; each row
 * puts 0.2 on those five keys, so the top-0.9 set is them (m = 5).
 * Expected: joint and kpca rank by the exact q.k at r = 2 and 4 (recall 1);
 * qpca at r = 2 keeps dims 2, 3, where every key is 0: all scores tie and
 * keys 0..4 (position order) are taken: recall 0; at r = 4 = d, recall 1.
 * ev(2): joint 1, kpca 1, qpca 200/202. */
static void rank_row(int w, int layer, int head, int i, float *row, void *ctx)
{
    (void)layer; (void)head; (void)ctx;
    if (w == 0 || i < 50) row[i] = 1;
    else
        for (int j = 10; j <= 50; j += 10) row[j] = 0.2f;
}

TEST(probes_rank_hand_case)
{
    char *dir = fixture_tmpdir("probes");
    enum { N = 256, D = 4 };
    probe_geom g = {.n_layer = 1, .n_head = 1, .n_head_kv = 1, .d = D, .n_ctx = N, .n_windows = 2};
    static float q[N * D], k[N * D];
    pb_rng r = {5};
    for (int t = 0; t < N; t++) {
        for (int i = 0; i < D; i++) q[t * D + i] = (float)(((t >> i) & 1) ? 1 : -1) * (i < 2 ? 1 : 10);
        k[t * D] = (float)(rng_unit(&r) * 2 - 1);
        k[t * D + 1] = (float)(rng_unit(&r) * 2 - 1);
        k[t * D + 2] = k[t * D + 3] = 0;
    }
    probe p = probe_rank(&g);
    synth_window(&p, &g, 0, rank_row, NULL, q, k);
    for (int t = 0; t < N; t++) {
        const float qe[D] = {1, 0.5f, 10, -10};
        memcpy(q + t * D, qe, sizeof qe);
        if (t < 5) k[t * D] = k[t * D + 1] = 0;
        if (t >= 10 && t <= 50 && t % 10 == 0) k[t * D] = k[t * D + 1] = 20;
    }
    synth_window(&p, &g, 1, rank_row, NULL, q, k);
    int64_t run;
    pb_db *db = synth_db(dir, "rank", &run);
    probe_case_info ci = {.run_id = run, .calib = "test", .seed = 1, .seconds = 0};
    p.store(p.st, db, &ci);
    p.free(p.st);
    static const struct { const char *m; int r; double recall, ev; } want[] = {
        {"joint", 2, 1, 1}, {"joint", 4, 1, 1}, {"kpca", 2, 1, 1}, {"kpca", 4, 1, 1},
        {"qpca", 2, 0, 200.0 / 202}, {"qpca", 4, 1, 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT recall FROM probe_rank WHERE method = '%s' AND r = %d", want[i].m, want[i].r);
        CHECK_MSG(fabs(synth_query(db, sql) - want[i].recall) < 1e-9, "%s r=%d recall %g", want[i].m, want[i].r,
                  synth_query(db, sql));
        snprintf(sql, sizeof sql, "SELECT mass_recall FROM probe_rank WHERE method = '%s' AND r = %d", want[i].m, want[i].r);
        CHECK_MSG(fabs(synth_query(db, sql) - want[i].recall) < 1e-6, "%s r=%d mass recall %g", want[i].m, want[i].r,
                  synth_query(db, sql));
        snprintf(sql, sizeof sql, "SELECT ev FROM probe_rank WHERE method = '%s' AND r = %d", want[i].m, want[i].r);
        CHECK_MSG(fabs(synth_query(db, sql) - want[i].ev) < 1e-6, "%s r=%d ev %.12g", want[i].m, want[i].r,
                  synth_query(db, sql));
    }
    CHECK_NEAR(synth_query(db, "SELECT n_queries FROM probe_rank WHERE method = 'joint' AND r = 2"), 32, 0);
    db_close(db);
    fixture_rmtree(dir);
}

/* ---- calibration text --------------------------------------------------- */

TEST(probes_calibration_windows)
{
    char *kjv = pb_malloc(100000), *code = pb_malloc(100000);
    size_t kl = 0, cl = 0;
    for (int i = 0; kl < 90000; i++) kl += (size_t)sprintf(kjv + kl, "verse %d: in the beginning %d.\n", i, i);
    for (int i = 0; cl < 90000; i++) cl += (size_t)sprintf(code + cl, "static int g%d = %d;\n", i, i);
    calib *c = calib_from_texts(fixture_tok(), kjv, kl, code, cl);
    int a[300], b[300];
    size_t off;
    for (int w = 0; w < 6; w++) {
        enum calib_source src = calib_window(c, 7, w, 300, a, &off);
        CHECK(src == (w % 2 ? CALIB_CODE : CALIB_KJV));
        const char *text = src == CALIB_KJV ? kjv : code;
        CHECK_MSG(off == 0 || text[off - 1] == '\n', "window %d starts mid-line at %zu", w, off);
        CHECK(calib_window(c, 7, w, 300, b, NULL) == src && !memcmp(a, b, sizeof a)); /* deterministic */
        char *dec = NULL;
        size_t len = 0, cap = 0;
        for (int t = 0; t < 300; t++) len = tok_decode_append(fixture_tok(), a[t], &dec, len, &cap);
        CHECK_MSG(!strncmp(dec, src == CALIB_KJV ? "verse " : "static int g", src == CALIB_KJV ? 6 : 12) &&
                  !strncmp(dec, text + off, len), "window %d decodes to %.40s", w, dec);
        free(dec);
    }
    calib_window(c, 7, 0, 300, a, NULL); /* another seed, another window */
    calib_window(c, 8, 0, 300, b, NULL);
    CHECK(memcmp(a, b, sizeof a) != 0);
    calib_free(c);
    free(kjv);
    free(code);

    /* the libc6-dev headers: the same text whatever this tree holds */
    pb_err e;
    int nf;
    char *src = calib_read_code(&cl, &nf, &e);
    CHECK_MSG(src && nf > 100 && cl > 1000000 && strstr(src, "extern int printf (") && strlen(src) == cl,
              "%d files, %zu bytes", nf, cl);
    free(src);
}

/* ---- schema ------------------------------------------------------------- */

TEST(probes_migration_on_older_database)
{
    char *dir = fixture_tmpdir("probes"), path[256];
    snprintf(path, sizeof path, "%s/old.db", dir);
    /* the schema up to the migration before the probe tables */
    const char *cut = strstr(results_schema_sql, ": probe results: locality");
    CHECK(cut != NULL);
    while (cut > results_schema_sql && cut[-1] != '\n') cut--;
    char *v1 = strndup(results_schema_sql, (size_t)(cut - results_schema_sql));
    int v_old = db_schema_latest(v1);
    pb_err e;
    pb_db *db = db_open_schema(path, v1, &e);
    CHECK_MSG(db, "%s", e.msg);
    CHECK(db_schema_version(db) == v_old && v_old >= 1);
    run_meta meta = {.command = "old run", .device = "cpu"};
    int64_t run = db_run_begin(db, &meta);
    CHECK_NEAR(synth_query(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'probe%'"), 0, 0);
    db_close(db);
    free(v1);
    db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    CHECK(db_schema_version(db) == db_schema_latest(results_schema_sql) && db_schema_version(db) > v_old);
    const char *tables[] = {"probe_case", "probe_locality", "probe_locality_head", "probe_retrieval",
                            "probe_rank", "probe_demand", "probe_demand_hist"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", tables[i]);
        CHECK_MSG(synth_query(db, sql) == 1, "table %s missing", tables[i]);
    }
    CHECK_NEAR(synth_query(db, "SELECT count(*) FROM runs WHERE command = 'old run'"), 1, 0);
    /* the new tables take rows of the old run */
    synth_all_probes(db, run);
    CHECK(synth_query(db, "SELECT count(*) FROM probe_case WHERE run_id = 1") == 4);
    db_close(db);
    fixture_rmtree(dir);
}

/* ---- command line ------------------------------------------------------- */

TEST(probes_cli_bad_input)
{
    char err[1024], args[1024], *dir = fixture_tmpdir("probes");
    int lines, st;
    struct { const char *args, *needle; } bad[] = {
        {"probe frob --model M", "frob"},
        {"probe --probe frob --model M", "frob"},
        {"probe", "which probe"},
        {"probe all --ctx 300 --model M", "--ctx"},
        {"probe all --ctx 64 --model M", "--ctx"},
        {"probe rank --windows 1 --model M", "--windows"},
        {"probe all --windows 1 --model M", "--windows"},
        {"probe demand --ctx 512", "--model"},
        {"probe locality --model /nonexistent/m.gguf --db /nonexistent/dir/r.db", "/nonexistent/dir/r.db"},
        {"plot --db /nonexistent/r.db --out /tmp/x", "/nonexistent/r.db"},
        {"plot --db /tmp/x.db", "--out"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = fixture_run_bin(bad[i].args, err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, bad[i].needle), "'%s': status %d, %d lines: %s", bad[i].args,
                  st, lines, err);
    }
    /* a database that is not one, a database without probe results, a run that does not exist */
    snprintf(args, sizeof args, "%s/notadb.db", dir);
    FILE *f = fopen(args, "w");
    fputs("this is not sqlite, it is plain text long enough to be read as a header.....", f);
    fclose(f);
    snprintf(args, sizeof args, "probe locality --model %s --db %s/notadb.db", test_model_path, dir);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "notadb.db"), "status %d: %s", st, err);
    snprintf(args, sizeof args, "plot --db %s/notadb.db --out %s/p", dir, dir);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "notadb.db"), "status %d: %s", st, err);
    int64_t run;
    pb_db *db = synth_db(dir, "empty", &run);
    db_close(db);
    snprintf(args, sizeof args, "plot --db %s/empty.db --out %s/p", dir, dir);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "no run has probe, conversion or suite results"), "status %d: %s", st, err);
    snprintf(args, sizeof args, "plot --db %s/empty.db --out %s/p --run 999", dir, dir);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "run 999"), "status %d: %s", st, err);
    snprintf(args, sizeof args, "probe all --model %s --ctx 16384 --db %s/r.db", test_model_path, dir);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "context"), "status %d: %s", st, err);
    const char *help[] = {"probe --help", "plot --help"};
    for (int i = 0; i < 2; i++) {
        st = fixture_run_bin(help[i], err, sizeof err, &lines);
        CHECK_MSG(st == 0 && lines == 0, "'%s': status %d: %s", help[i], st, err);
    }
    fixture_rmtree(dir);
}

/* ---- the real model ----------------------------------------------------- */

/* All four probes on the bundled model over 2 windows of 256 tokens, through
 * the forward pass; checks what must hold whatever the model does. */
TEST(probes_real_model_invariants)
{
    const model *m = fixture_model();
    pb_err e;
    calib *cal = calib_open(fixture_tok(), &e);
    CHECK_MSG(cal, "%s", e.msg);
    char *dir = fixture_tmpdir("probes");
    int64_t run;
    pb_db *db = synth_db(dir, "real", &run);
    probe_geom g = {.n_layer = m->cfg.n_layer, .n_head = m->cfg.n_head, .n_head_kv = m->cfg.n_head_kv,
                    .d = m->cfg.head_dim, .n_ctx = 256, .n_windows = 2};
    probe ps[4];
    for (int k = 0; k < 4; k++) probe_make(probe_names[k], &g, &ps[k]);
    session *s = session_new(m, 256);
    probe_run(s, cal, 1, ps, 4, &g, db, run, NULL);
    session_free(s);
    /* the printed summaries; retrieval's plan line is a valid --retrieval-heads list of the top 15% */
    char *text = NULL;
    size_t text_len = 0;
    FILE *mf = open_memstream(&text, &text_len);
    for (int k = 0; k < 4; k++) {
        ps[k].print(ps[k].st, mf);
        ps[k].free(ps[k].st);
    }
    fclose(mf);
    const int nh = g.n_layer * g.n_head;
    const char *plan_line = strstr(text, "--retrieval-heads):");
    CHECK_MSG(plan_line && strstr(text, "locality:") && strstr(text, "rank:") && strstr(text, "demand at p"), "%s", text);
    char list[4096];
    snprintf(list, sizeof list, "%.*s", (int)strcspn(plan_line + 20, "\n"), plan_line + 20);
    free(text);
    unsigned char *retr = pb_malloc((size_t)nh);
    CHECK_MSG(plan_parse_heads(&m->cfg, list, retr, &e), "%s", e.msg);
    int n_retr = 0;
    for (int i = 0; i < nh; i++) n_retr += retr[i];
    free(retr);
    CHECK_MSG(n_retr == (int)(0.15 * nh + 0.5), "%d retrieval heads in '%s'", n_retr, list);
    CHECK_NEAR(synth_query(db, "SELECT count(*) FROM probe_case"), 4, 0);
    CHECK_NEAR(synth_query(db, "SELECT count(*) FROM probe_locality_head"), nh, 0);
    CHECK(synth_query(db, "SELECT min(mass) FROM probe_locality WHERE window = 256") > 0.9999);
    CHECK_NEAR(synth_query(db, "SELECT count(*) FROM probe_locality a JOIN probe_locality b ON a.layer = b.layer"
                               " AND a.head = b.head AND b.window = a.window + 64 WHERE b.mass < a.mass - 1e-6"), 0, 0);
    CHECK_NEAR(synth_query(db, "SELECT count(DISTINCT rank) FROM probe_retrieval WHERE score BETWEEN 0 AND 1"), nh, 0);
    CHECK(synth_query(db, "SELECT max(score) FROM probe_retrieval") > 0.2); /* some head copies */
    double ev_dev = synth_query(db, "SELECT max(abs(ev - 1)) FROM probe_rank WHERE r = 64");
    CHECK_MSG(ev_dev < 1e-4, "ev at r = d is off 1 by %g", ev_dev);
    CHECK_NEAR(synth_query(db, "SELECT count(*) FROM probe_rank a JOIN probe_rank b ON a.layer = b.layer"
                               " AND a.head = b.head AND a.method = b.method AND b.r = 2 * a.r"
                               " WHERE b.ev < a.ev - 1e-9"), 0, 0);
    CHECK(synth_query(db, "SELECT min(recall) FROM probe_rank") >= 0);
    CHECK(synth_query(db, "SELECT max(recall) FROM probe_rank") <= 1);
    /* at r = d every method is the full pre-RoPE product */
    CHECK(synth_query(db, "SELECT max(abs(a.recall - b.recall)) FROM probe_rank a JOIN probe_rank b ON"
                          " a.layer = b.layer AND a.head = b.head AND a.r = b.r WHERE a.r = 64") < 0.05);
    CHECK(synth_query(db, "SELECT min(v_min) FROM probe_demand") >= 1);
    CHECK(synth_query(db, "SELECT max(v_max) FROM probe_demand WHERE unit = 'token'") <= 256);
    CHECK(synth_query(db, "SELECT max(v_max) FROM probe_demand WHERE unit = 'block'") <= 4);
    CHECK_NEAR(synth_query(db, "SELECT count(*) FROM probe_demand a JOIN probe_demand b ON a.layer = b.layer AND"
                               " a.head = b.head AND a.unit = b.unit AND a.ctx_len = b.ctx_len AND a.p < b.p"
                               " WHERE b.v_median < a.v_median"), 0, 0);
    CHECK_NEAR(synth_query(db, "SELECT sum(count) FROM probe_demand_hist WHERE p = 0.9 AND unit = 'token'"
                               " AND ctx_len = 256"), nh * 2 * 32, 0);
    db_close(db);
    calib_free(cal);
    fixture_rmtree(dir);
}

/* Every probe takes heads in parallel (parallel_heads, as the CUDA backend
 * hands them over): fed every head of a block at once, one thread each, it
 * prints exactly what it prints fed head by head. */
TEST(probes_parallel_heads_same_results)
{
    probe_geom g = {.n_layer = 2, .n_head = 6, .n_head_kv = 2, .d = 16, .n_ctx = 512, .n_windows = 2};
    size_t nq = (size_t)g.n_ctx * g.n_head * g.d, nk = (size_t)g.n_ctx * g.n_head_kv * g.d;
    float *q = pb_malloc(nq * sizeof *q), *k = pb_malloc(nk * sizeof *k);
    pb_rng r = {11};
    for (size_t i = 0; i < nq; i++) q[i] = (float)(rng_unit(&r) - 0.5);
    for (size_t i = 0; i < nk; i++) k[i] = (float)(rng_unit(&r) - 0.5) * (float)(1 + i % g.d);
    for (int n = 0; n < 4; n++) {
        char *text[2];
        size_t len[2];
        for (int pass = 0; pass < 2; pass++) {
            probe p;
            probe_make(probe_names[n], &g, &p);
            CHECK_MSG(p.obs.parallel_heads, "%s does not take heads in parallel", probe_names[n]);
            for (int w = 0; w < g.n_windows; w++) {
                if (pass) synth_window_parallel(&p, &g, w, synth_mixed_row, NULL, q, k);
                else synth_window(&p, &g, w, synth_mixed_row, NULL, q, k);
            }
            FILE *f = open_memstream(&text[pass], &len[pass]);
            p.print(p.st, f);
            fclose(f);
            p.free(p.st);
        }
        int same = len[0] == len[1] && !memcmp(text[0], text[1], len[0]);
        if (!same) printf("%s, head by head:\n%s\nin parallel:\n%s\n", probe_names[n], text[0], text[1]);
        free(text[0]);
        free(text[1]);
        CHECK_MSG(same, "%s: parallel heads change its results", probe_names[n]);
    }
    free(q);
    free(k);
}

/* The rows a probe declines (want_rows, what the CUDA backend skips) are
 * rows it never reads: every probe fed NaN rows where it declines prints
 * the same results as fed every row, and declines some. */
TEST(probes_want_rows_are_the_rows_read)
{
    probe_geom g = {.n_layer = 2, .n_head = 3, .n_head_kv = 1, .d = 16, .n_ctx = 1024, .n_windows = 2};
    size_t nq = (size_t)g.n_ctx * g.n_head * g.d, nk = (size_t)g.n_ctx * g.n_head_kv * g.d;
    float *q = pb_malloc(nq * sizeof *q), *k = pb_malloc(nk * sizeof *k);
    pb_rng r = {7};
    for (size_t i = 0; i < nq; i++) q[i] = (float)(rng_unit(&r) - 0.5);
    for (size_t i = 0; i < nk; i++) k[i] = (float)(rng_unit(&r) - 0.5) * (float)(1 + i % g.d);
    for (int n = 0; n < 4; n++) {
        char *text[2];
        size_t len[2];
        int declined = 0;
        for (int pass = 0; pass < 2; pass++) {
            probe p;
            probe_make(probe_names[n], &g, &p);
            CHECK_MSG(p.obs.want_rows, "%s has no want_rows", probe_names[n]);
            for (int w = 0; w < g.n_windows; w++) {
                if (pass) declined += synth_window_want(&p, &g, w, synth_mixed_row, NULL, q, k);
                else synth_window(&p, &g, w, synth_mixed_row, NULL, q, k);
            }
            FILE *f = open_memstream(&text[pass], &len[pass]);
            p.print(p.st, f);
            fclose(f);
            p.free(p.st);
        }
        int same = len[0] == len[1] && !memcmp(text[0], text[1], len[0]) && !strstr(text[1], "nan");
        if (!same) printf("%s, every row:\n%s\nwanted rows only:\n%s\n", probe_names[n], text[0], text[1]);
        free(text[0]);
        free(text[1]);
        CHECK_MSG(same, "%s reads rows its want_rows declines", probe_names[n]);
        CHECK_MSG(declined > 0, "%s declines no row", probe_names[n]);
    }
    free(q);
    free(k);
}
