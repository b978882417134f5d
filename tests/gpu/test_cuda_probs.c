/* test_cuda_probs.c — the attention observers on the CUDA backend.
 *
 *   cuda_probs_kernel        attn_probs_cuda against its CPU twin
 *                            (attn_probs_ref) on fresh random inputs, output
 *                            NaN-poisoned: global and sliding rows, GQA, d
 *                            64/128/256, first and later chunks. Tolerance:
 *                            |p_gpu - p_cpu| <= 1e-5 per entry (same bf16
 *                            keys; the f32 dot products of up to 256 terms
 *                            (fused on the GPU), the sums and expf round
 *                            differently, ~1e-6 on a score; a wrong key or
 *                            mask moves an entry by far more), entries
 *                            outside a row's keys exactly 0, padding past
 *                            kv_end left as it was.
 *   cuda_probs_probe_agree   locality, demand, rank and retrieval on the
 *   cuda_probs_probe_agree_gemma  model, CPU and CUDA sessions over the same
 *                            windows (SmolLM2 at 512 tokens, Gemma at 1024 so
 *                            its sliding layers' window of 512 masks), one
 *                            database, compared per head (tolerances below;
 *                            they allow for bf16 weights and KV cache, not
 *                            for a wrong row). The Gemma one says it skips,
 *                            and passes, when the Gemma file is absent.
 *   cuda_probs_convert       `convert` (--steps 0, small, the need rule) on
 *                            each backend: both plans valid for the model,
 *                            the same window, and the same retrieval heads
 *                            except heads at the rule's boundary: a head may
 *                            change class only where the CPU measured its
 *                            mass within W within 0.01 of --keep (0.99) or
 *                            its repeated-span score within 0.005 of
 *                            --min-score (0.02). bf16 moves the mass by up to
 *                            about 0.004 (cuda_probs_probe_agree); a head
 *                            far from both thresholds that changes class is
 *                            a wrong row.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kernels/attn_kernels.h"
#include "kernels/attn_probs.h"
#include "kernels/attn_rows.h"
#include "policy/planfile.h"
#include "probes/probe_run.h"
#include "results/db.h"
#include "tests/fixture.h"
#include "tests/gpu/gpu.h"
#include "tests/test.h"

/* ---- the kernel against its twin ---- */

typedef struct {
    int n_head, n_kv_head, d, pos0, n_q, window;
} probs_shape;

static int kernel_case(backend *G, const probs_shape *sh)
{
    const int H = sh->n_head, HKV = sh->n_kv_head, d = sh->d, kv_end = sh->pos0 + sh->n_q, ldp = kv_end + 5;
    const size_t nq = (size_t)sh->n_q * H * d, nk = (size_t)kv_end * HKV * d, np = (size_t)H * sh->n_q * ldp;
    float *q = pb_malloc(nq * sizeof(float)), *kf = pb_malloc(nk * sizeof(float));
    float *ref = pb_malloc(np * sizeof(float)), *got = pb_malloc(np * sizeof(float));
    uint16_t *kb = pb_malloc(nk * sizeof(uint16_t));
    gpu_fill(q, nq, -2.0f, 2.0f);
    gpu_fill(kf, nk, -2.0f, 2.0f);
    for (size_t i = 0; i < nk; i++) kb[i] = attn_f32_to_bf16(kf[i]);
    for (size_t i = 0; i < np; i++) ref[i] = NAN;
    attn_probs_ref(ref, ldp, q, kb, sh->n_q, sh->pos0, H, HKV, d, sh->window);
    void *dq = G->alloc(G, nq * sizeof(float)), *dk = G->alloc(G, nk * 2), *dp = G->alloc(G, np * sizeof(float));
    G->upload(G, dq, q, nq * sizeof(float));
    G->upload(G, dk, kb, nk * 2);
    gpu_poison(G, dp, np * sizeof(float));
    int ok = attn_rows_wait() == 0;
    int e = attn_probs_cuda(dp, ldp, dq, dk, sh->n_q, sh->pos0, H, HKV, d, sh->window, NULL);
    ok = ok && e == 0 && attn_rows_wait() == 0;
    if (ok) G->download(G, got, dp, np * sizeof(float));
    double worst = 0;
    long bad = 0;
    for (int h = 0; h < H && ok; h++)
        for (int i = 0; i < sh->n_q; i++) {
            const int p = sh->pos0 + i, lo = sh->window && p - sh->window + 1 > 0 ? p - sh->window + 1 : 0;
            const float *g = got + ((size_t)h * sh->n_q + i) * ldp, *r = ref + ((size_t)h * sh->n_q + i) * ldp;
            for (int j = 0; j < ldp; j++) {
                if (j >= kv_end) { /* padding: still the poison */
                    bad += !isnan(g[j]);
                    continue;
                }
                if (j < lo || j > p) {
                    bad += g[j] != 0.0f;
                    continue;
                }
                double dd = fabs((double)g[j] - r[j]);
                if (!(dd <= 1e-5)) bad++;
                if (dd > worst || isnan(dd)) worst = isnan(dd) ? INFINITY : dd;
            }
        }
    printf("    H %d/%d d %d pos0 %d n_q %d W %d: max |diff| %.3g, %ld bad entries%s\n", H, HKV, d, sh->pos0, sh->n_q,
           sh->window, worst, bad, ok ? "" : " (device error)");
    G->free(G, dq), G->free(G, dk), G->free(G, dp);
    free(q), free(kf), free(ref), free(got), free(kb);
    return ok && bad == 0;
}

TEST(cuda_probs_kernel)
{
    backend *G = gpu_cuda();
    CHECK_MSG(G, "no CUDA backend: %s", gpu_why());
    const probs_shape shapes[] = {
        {9, 3, 64, 0, 64, 0},       /* SmolLM2's shape, a first sub-block */
        {9, 3, 64, 700, 64, 0},     /* a later one: rows over the cached keys */
        {9, 3, 64, 193, 37, 0},     /* a ragged tail */
        {4, 1, 256, 0, 64, 512},    /* Gemma: a sliding layer before its window fills */
        {4, 1, 256, 900, 64, 512},  /* ... and after: zeros before p-511 */
        {4, 1, 256, 1000, 24, 0},   /* Gemma's global layer */
        {8, 8, 128, 300, 50, 100},  /* d 128, no GQA, a short window */
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) ok &= kernel_case(G, &shapes[i]);
    CHECK_MSG(ok, "attn_probs_cuda disagrees with attn_probs_ref (lines above)");
    CHECK(attn_probs_cuda(NULL, 10, NULL, NULL, 8, 4, 9, 3, 64, 0, NULL) != 0);   /* ldp < kv_end: refused */
    CHECK(attn_probs_cuda(NULL, 100, NULL, NULL, 8, 4, 9, 3, 96, 0, NULL) != 0);  /* d 96: refused */
}

/* ---- the probes, CPU against CUDA ---- */

/* Runs locality, demand, rank and retrieval on backend b over `windows`
 * windows of ctx tokens into db; returns the run id. */
static int64_t probe_on(backend *b, const model *m, const tokenizer *tok, int ctx, int windows, pb_db *db)
{
    pb_err err;
    calib *cal = calib_open(tok, &err);
    if (!cal) {
        test_fail(__FILE__, __LINE__, "calibration text: %s", err.msg);
        return 0;
    }
    run_meta meta = {.command = "test_cuda_probs", .device = b->device, .has_seed = 1, .seed = 1};
    int64_t run = db_run_begin(db, &meta);
    const model_config *c = &m->cfg;
    probe_geom g = {.cfg = c, .n_layer = c->n_layer, .n_head = c->n_head, .n_head_kv = c->n_head_kv,
                    .d = c->head_dim, .n_ctx = ctx, .n_windows = windows};
    probe ps[4];
    for (int k = 0; k < 4; k++) probe_make(probe_names[k], &g, &ps[k]);
    session *s = session_new_on(b, ctx);
    double t0 = pb_now();
    probe_run(s, cal, 1, ps, 4, &g, db, run, NULL);
    printf("    %s: %.1f s\n", b->name, pb_now() - t0);
    for (int k = 0; k < 4; k++) ps[k].free(ps[k].st);
    session_free(s);
    db_run_end(db, run, RUN_DONE);
    calib_free(cal);
    return run;
}

/* The single value of a query over runs a (?1) and b (?2); NaN when NULL or no row. */
static double q1(pb_db *db, const char *sql, int64_t a, int64_t b)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st = db_prepare(db, sql);
    DB_CHECK(h, sqlite3_bind_int64(st, 1, a));
    DB_CHECK(h, sqlite3_bind_int64(st, 2, b));
    double v = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_double(st, 0)
                                                                                            : NAN;
    DB_CHECK(h, sqlite3_finalize(st));
    return v;
}

/* Locality mass per (head, W): max |diff| <= 0.05, mean <= 0.01; w90 the
 * same for >= 85% of heads; demand (tokens for 0.9 of the mass, the
 * per-head median at the longest length) within 20% + 2 tokens for >= 90%
 * of heads; rank recall (joint, r = d/8) mean |diff| <= 0.05; retrieval
 * score max |diff| <= 0.05. 1 when all hold. */
static int probes_agree(backend *cpu, backend *cuda, const model *m, const tokenizer *tok, int ctx, int windows)
{
    char *dir = fixture_tmpdir("probes"), path[512];
    snprintf(path, sizeof path, "%s/r.db", dir);
    pb_err err;
    pb_db *db = db_open(path, &err);
    if (!db) {
        test_fail(__FILE__, __LINE__, "%s", err.msg);
        fixture_rmtree(dir);
        return 0;
    }
    int64_t a = probe_on(cpu, m, tok, ctx, windows, db), b = probe_on(cuda, m, tok, ctx, windows, db);
    double loc_max = q1(db, "SELECT MAX(ABS(x.mass - y.mass)) FROM probe_locality x JOIN probe_locality y ON"
                            " x.layer = y.layer AND x.head = y.head AND x.window = y.window"
                            " WHERE x.run_id = ?1 AND y.run_id = ?2", a, b);
    double loc_mean = q1(db, "SELECT AVG(ABS(x.mass - y.mass)) FROM probe_locality x JOIN probe_locality y ON"
                             " x.layer = y.layer AND x.head = y.head AND x.window = y.window"
                             " WHERE x.run_id = ?1 AND y.run_id = ?2", a, b);
    double w90 = q1(db, "SELECT AVG(x.w90 = y.w90) FROM probe_locality_head x JOIN probe_locality_head y ON"
                        " x.layer = y.layer AND x.head = y.head WHERE x.run_id = ?1 AND y.run_id = ?2", a, b);
    double w90_steps = q1(db, "SELECT MAX(ABS(x.w90 - y.w90)) / 64.0 FROM probe_locality_head x JOIN"
                              " probe_locality_head y ON x.layer = y.layer AND x.head = y.head"
                              " WHERE x.run_id = ?1 AND y.run_id = ?2", a, b);
    char dq[400];
    snprintf(dq, sizeof dq, "SELECT AVG(ABS(x.v_median - y.v_median) <= 0.2 * x.v_median + 2) FROM probe_demand x"
             " JOIN probe_demand y ON x.layer = y.layer AND x.head = y.head AND x.ctx_len = y.ctx_len AND x.p = y.p"
             " AND x.unit = y.unit WHERE x.run_id = ?1 AND y.run_id = ?2 AND x.ctx_len = %d AND x.p = 0.9"
             " AND x.unit = 'token'", ctx);
    double dem = q1(db, dq, a, b);
    snprintf(dq, sizeof dq, "SELECT AVG(ABS(x.v_mean - y.v_mean) / x.v_mean) FROM probe_demand x"
             " JOIN probe_demand y ON x.layer = y.layer AND x.head = y.head AND x.ctx_len = y.ctx_len AND x.p = y.p"
             " AND x.unit = y.unit WHERE x.run_id = ?1 AND y.run_id = ?2 AND x.ctx_len = %d AND x.p = 0.9"
             " AND x.unit = 'token'", ctx);
    double dem_rel = q1(db, dq, a, b);
    snprintf(dq, sizeof dq, "SELECT AVG(ABS(x.recall - y.recall)) FROM probe_rank x JOIN probe_rank y ON"
             " x.layer = y.layer AND x.head = y.head AND x.method = y.method AND x.r = y.r"
             " WHERE x.run_id = ?1 AND y.run_id = ?2 AND x.method = 'joint' AND x.r = %d", m->cfg.head_dim / 8);
    double rank = q1(db, dq, a, b);
    double ret = q1(db, "SELECT MAX(ABS(x.score - y.score)) FROM probe_retrieval x JOIN probe_retrieval y ON"
                        " x.layer = y.layer AND x.head = y.head WHERE x.run_id = ?1 AND y.run_id = ?2", a, b);
    double kern = q1(db, "SELECT COUNT(*) + 0 * ?1 FROM kernel_timings WHERE run_id = ?2", a, b);
    /* every probe stored rows on both runs (an empty join would compare nothing) */
    int stored = 1;
    const char *tables[] = {"probe_locality", "probe_demand", "probe_rank", "probe_retrieval"};
    for (int t = 0; t < 4; t++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM %s WHERE run_id = ?1 UNION ALL"
                 " SELECT COUNT(*) FROM %s WHERE run_id = ?2)", tables[t], tables[t]);
        if (!(q1(db, sql, a, b) > 0)) {
            printf("    %s: no rows on one of the runs\n", tables[t]);
            stored = 0;
        }
    }
    printf("    locality mass |diff| max %.4f mean %.5f; w90 equal %.1f%% of heads (max %.0f steps of 64)\n", loc_max,
           loc_mean, 100 * w90, w90_steps);
    printf("    demand p=0.9 L=%d: median within 20%%+2 for %.1f%% of heads, mean rel |diff| %.4f\n", ctx, 100 * dem,
           dem_rel);
    printf("    rank recall (joint, r=%d) mean |diff| %.4f; retrieval score max |diff| %.4f; %.0f CUDA kernels timed\n",
           m->cfg.head_dim / 8, rank, ret, kern);
    int ok = stored && loc_max <= 0.05 && loc_mean <= 0.01 && w90 >= 0.85 && dem >= 0.90 && rank <= 0.05 && ret <= 0.05;
    db_close(db);
    fixture_rmtree(dir);
    return ok;
}

TEST(cuda_probs_probe_agree)
{
    backend *G = gpu_cuda();
    CHECK_MSG(G, "no CUDA backend: %s", gpu_why());
    CHECK_MSG(probes_agree(gpu_cpu(), G, fixture_model(), fixture_tok(), 512, 2),
              "SmolLM2: the probes on CUDA disagree with the CPU beyond the tolerances (line above)");
}

TEST(cuda_probs_probe_agree_gemma)
{
    if (access(test_gemma_path, R_OK) != 0) { /* a GPU machine the Gemma file did not reach: say so, go on */
        printf("    skipped: no Gemma GGUF at %s (--gemma PATH)\n", test_gemma_path);
        return;
    }
    backend *G = gpu_gemma_cuda();
    if (!G) return;
    CHECK_MSG(probes_agree(gpu_gemma_cpu(), G, fixture_gemma(), fixture_gemma_tok(), 1024, 2),
              "Gemma: the probes on CUDA disagree with the CPU beyond the tolerances (line above)");
}

/* ---- convert on both backends ---- */

/* purbo-bench convert in this process on backend `be`, into dir/be.purbo
 * (its database dir/be.db). */
static int convert_on(const char *be, const char *dir, plan_file *pf)
{
    char out[512], db[512];
    snprintf(out, sizeof out, "%s/%s.purbo", dir, be);
    snprintf(db, sizeof db, "%s/%s.db", dir, be);
    char *argv[] = {"convert", "--model", (char *)test_model_path, "--backend", (char *)be, "--out", out, "--db", db,
                    "--ctx", "512", "--windows", "2", "--eval-windows", "1", "--probe-docs", "2", "--queries", "64",
                    "--steps", "0", NULL};
    double t0 = pb_now();
    int rc = cmd_convert((int)(sizeof argv / sizeof argv[0]) - 1, argv);
    printf("    convert on %s: exit %d, %.1f s\n", be, rc, pb_now() - t0);
    pb_err err;
    if (rc != 0) return 0;
    if (!plan_file_read(out, fixture_model(), pf, &err)) {
        test_fail(__FILE__, __LINE__, "%s: %s", out, err.msg);
        return 0;
    }
    return 1;
}

/* The CPU run's locality mass within W and repeated-span score of query
 * head (layer, head), from its database; 0 when a row is missing. */
static int cpu_need(const char *db_path, int W, int layer, int head, double *mass, double *score)
{
    pb_err e;
    pb_db *db = db_open(db_path, &e);
    if (!db) return 0;
    sqlite3_stmt *q;
    int ok = 0;
    if (sqlite3_prepare_v2(db_sqlite(db),
                           "SELECT l.mass, r.score FROM probe_locality l JOIN probe_retrieval r"
                           " USING (run_id, layer, head) WHERE l.window = ?1 AND l.layer = ?2 AND l.head = ?3",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int(q, 1, W);
        sqlite3_bind_int(q, 2, layer);
        sqlite3_bind_int(q, 3, head);
        if (sqlite3_step(q) == SQLITE_ROW) {
            *mass = sqlite3_column_double(q, 0);
            *score = sqlite3_column_double(q, 1);
            ok = 1;
        }
        sqlite3_finalize(q);
    }
    db_close(db);
    return ok;
}

TEST(cuda_probs_convert)
{
    CHECK_MSG(gpu_cuda(), "no CUDA backend: %s", gpu_why());
    char *dir = fixture_tmpdir("convert");
    plan_file a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int ok = convert_on("cpu", dir, &a) && convert_on("cuda", dir, &b);
    if (!ok) fixture_rmtree(dir);
    CHECK_MSG(ok, "convert failed (lines above)");
    char cpu_db[512];
    snprintf(cpu_db, sizeof cpu_db, "%s/cpu.db", dir);
    const int nh = a.n_layer * a.n_head;
    int only_a = 0, only_b = 0, far = 0;
    for (int x = 0; x < nh; x++) {
        int ra = a.cls[x] == PLAN_CLASS_RETRIEVAL, rb = b.cls[x] == PLAN_CLASS_RETRIEVAL;
        if (ra == rb) continue;
        only_a += ra;
        only_b += rb;
        double mass = 0, score = 0;
        int have = cpu_need(cpu_db, a.window, x / a.n_head, x % a.n_head, &mass, &score);
        int edge = have && (fabs(mass - 0.99) <= 0.01 || fabs(score - 0.02) <= 0.005);
        far += !edge;
        printf("    head %d.%d: retrieval on %s only; cpu mass within W %.4f, score %.4f%s\n", x / a.n_head,
               x % a.n_head, ra ? "cpu" : "cuda", mass, score, edge ? "" : have ? "  FAR FROM THE RULE" : "  NO ROW");
    }
    fixture_rmtree(dir);
    printf("    plans: %d / %d retrieval heads, windows %d / %d\n", plan_file_n_retrieval(&a), plan_file_n_retrieval(&b),
           a.window, b.window);
    int same_window = a.window == b.window;
    plan_file_free(&a);
    plan_file_free(&b);
    CHECK_MSG(same_window, "the CPU and CUDA plans chose different windows");
    CHECK_MSG(far == 0, "%d heads changed class away from the need rule's thresholds (%d cpu-only, %d cuda-only)",
              far, only_a, only_b);
}
