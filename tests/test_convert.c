/* test_convert.c — the converter's trainer and head split (engine/convert/convert.h):
 * the hand-written gradient against central finite differences of an
 * independent double-precision loss, the teacher against the dense policy's
 * rows on the real model, the schedule, a small training run whose KL must
 * fall, and the head/window selection on hand-made probe results.
 */
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "tests/fixture.h"
#include "run/forward.h"
#include "kernels/ops.h"
#include "base/rng.h"
#include "tests/test.h"

static float frand(pb_rng *r) { return (float)(2.0 * rng_unit(r) - 1.0); }

/* A random set: n_q queries spread over the windows at random positions
 * >= 1, sorted, with teacher rows. amp scales q and k (sharper teachers). */
static void random_set(kd_set *s, int d, int n_win, int n_ctx, int n_q, float amp, uint64_t seed)
{
    pb_rng r = {seed};
    kd_set_init(s, d, n_win, n_ctx, n_q);
    for (size_t i = 0; i < (size_t)n_win * n_ctx * d; i++) s->k[i] = amp * frand(&r);
    for (size_t i = 0; i < (size_t)n_q * d; i++) s->q[i] = amp * frand(&r);
    for (int i = 0; i < n_q; i++) {
        s->q_win[i] = (int)((long)i * n_win / n_q);
        s->q_pos[i] = 1 + (int)rng_below(&r, (uint64_t)(n_ctx - 1));
    }
    for (int i = 1; i < n_q; i++) /* insertion sort of positions within a window */
        for (int j = i; j > 0 && s->q_win[j] == s->q_win[j - 1] && s->q_pos[j] < s->q_pos[j - 1]; j--) {
            int t = s->q_pos[j];
            s->q_pos[j] = s->q_pos[j - 1];
            s->q_pos[j - 1] = t;
        }
    kd_set_teacher(s, 10000.0f, ROPE_ADJACENT);
}

/* Block u of a row at pos is always kept by the rtpurbo policy: it holds a
 * sink position or one of the last `local` positions (the anchor's blocks). */
static int anchored_block(const kd_set *s, int pos, int u)
{
    int lo = u * s->a_block, hi = lo + s->a_block - 1;
    return s->a_block && (lo < s->a_sink || (s->a_local > 0 && hi >= pos - s->a_local + 1));
}

/* The loss written out in double, loop by loop, from the definition; the
 * anchored positions take the exact logit q_rot . k_rot / sqrt(d), RoPE with
 * base 10000 as random_set's teacher. */
static double ref_loss(const kd_set *s, const int *idx, int n, int r, const double *wq, const double *wk, double lt)
{
    const int d = s->d;
    double total = 0;
    double *z = malloc((size_t)s->n_ctx * sizeof(double));
    float *qr = malloc((size_t)d * sizeof(float)), *kr = malloc((size_t)d * sizeof(float));
    for (int ii = 0; ii < n; ii++) {
        int q = idx[ii], len = s->q_pos[q] + 1;
        const float *qv = s->q + (size_t)q * d, *t = s->t + s->t_off[q];
        memcpy(qr, qv, (size_t)d * sizeof(float));
        cpu_rope(qr, 1, 1, d, s->q_pos[q], 10000.0f);
        double qx[64], zmax = -1e300;
        for (int a = 0; a < r; a++) {
            qx[a] = 0;
            for (int c = 0; c < d; c++) qx[a] += wq[a * d + c] * qv[c];
        }
        for (int j = 0; j < len; j++) {
            const float *kv = s->k + ((size_t)s->q_win[q] * s->n_ctx + j) * d;
            double u = 0;
            for (int a = 0; a < r; a++) {
                double kx = 0;
                for (int c = 0; c < d; c++) kx += wk[a * d + c] * kv[c];
                u += qx[a] * kx;
            }
            z[j] = u * exp(-lt);
            if (anchored_block(s, s->q_pos[q], j / (s->a_block ? s->a_block : 1))) {
                memcpy(kr, kv, (size_t)d * sizeof(float));
                cpu_rope(kr, 1, 1, d, j, 10000.0f);
                z[j] = 0;
                for (int c = 0; c < d; c++) z[j] += (double)qr[c] * kr[c];
                z[j] /= sqrt((double)d);
            }
            if (z[j] > zmax) zmax = z[j];
        }
        double se = 0;
        for (int j = 0; j < len; j++) se += exp(z[j] - zmax);
        double lse = zmax + log(se);
        for (int j = 0; j < len; j++)
            if (t[j] > 0) total += t[j] * (log((double)t[j]) - (z[j] - lse));
    }
    free(z);
    free(qr);
    free(kr);
    return total / n;
}

/* kd_loss and its gradient against ref_loss and central differences, on
 * two query subsets of s (7 queries). */
static void gradient_check(kd_set *s)
{
    const int d = 6, r = 3;
    pb_rng rr = {7};
    float wq[18], wk[18], gq[18], gk[18], gt = 0;
    double dq[18], dk[18];
    for (int i = 0; i < r * d; i++) dq[i] = wq[i] = 0.8f * frand(&rr), dk[i] = wk[i] = 0.8f * frand(&rr);
    const float lt = 0.3f;
    int subsets[2][7] = {{0, 1, 2, 3, 4, 5, 6}, {1, 2, 5}};
    int sizes[2] = {7, 3};
    kd_work *w = kd_work_new(s, r);
    for (int sub = 0; sub < 2; sub++) {
        const int *idx = subsets[sub], n = sizes[sub];
        double l = kd_loss(s, idx, n, r, wq, wk, lt, gq, gk, &gt, w);
        double l0 = ref_loss(s, idx, n, r, dq, dk, lt);
        CHECK_NEAR(l, l0, 1e-5 * (1 + fabs(l0)));
        CHECK(l0 > 1e-3); /* a non-trivial problem */
        /* central differences in double, h = 1e-5 */
        const double h = 1e-5;
        double worst = 0, gmax = 0;
        for (int which = 0; which < 3; which++) {
            int np = which < 2 ? r * d : 1;
            for (int i = 0; i < np; i++) {
                double fd, an;
                if (which == 2) {
                    fd = (ref_loss(s, idx, n, r, dq, dk, lt + h) - ref_loss(s, idx, n, r, dq, dk, lt - h)) / (2 * h);
                    an = gt;
                } else {
                    double *p = which == 0 ? dq : dk, keep = p[i];
                    p[i] = keep + h;
                    double lp = ref_loss(s, idx, n, r, dq, dk, lt);
                    p[i] = keep - h;
                    double lm = ref_loss(s, idx, n, r, dq, dk, lt);
                    p[i] = keep;
                    fd = (lp - lm) / (2 * h);
                    an = which == 0 ? gq[i] : gk[i];
                }
                if (fabs(an - fd) > worst) worst = fabs(an - fd);
                if (fabs(fd) > gmax) gmax = fabs(fd);
            }
        }
        CHECK(gmax > 1e-3);
        CHECK_MSG(worst <= 1e-4 * gmax + 1e-6, "subset %d: max |analytic - numeric| %.3g, max |grad| %.3g", sub, worst,
                  gmax);
    }
    /* the loss without gradients is the same number */
    CHECK_NEAR(kd_loss(s, subsets[0], 7, r, wq, wk, lt, NULL, NULL, NULL, w),
               kd_loss(s, subsets[0], 7, r, wq, wk, lt, gq, gk, &gt, w), 1e-9);
    kd_work_free(w);
}

TEST(convert_gradient_check)
{
    kd_set s;
    random_set(&s, 6, 2, 11, 7, 1.5f, 42);
    gradient_check(&s);
    kd_set_free(&s);
}

/* Anchored rows (blocks of 4, 2 sinks, 8 local): the exact logits outside
 * the middle carry no gradient, the middle's gradient still checks out. */
TEST(convert_gradient_check_anchored)
{
    kd_set s;
    random_set(&s, 6, 2, 40, 7, 1.5f, 43);
    kd_set_anchor(&s, 4, 2, 8);
    int mid = 0;
    for (int i = 0; i < s.n_q; i++) mid += s.q_pos[i] >= 16; /* a middle block exists */
    CHECK(mid >= 3);
    gradient_check(&s);
    kd_set_free(&s);
}

/* kd_student rows are probability rows; at r = d with W_Q = W_K = I and
 * tau = sqrt(d) at positions where RoPE is the identity (position 0 keys and
 * queries would be; here: base so large that every angle is ~0) they equal
 * the teacher. */
TEST(convert_student_matches_teacher_without_rope)
{
    const int d = 8;
    kd_set s;
    pb_rng r = {3};
    kd_set_init(&s, d, 1, 40, 4);
    for (int i = 0; i < 40 * d; i++) s.k[i] = 2.0f * frand(&r);
    for (int i = 0; i < 4 * d; i++) s.q[i] = 2.0f * frand(&r);
    int pos[4] = {0, 5, 17, 39};
    for (int i = 0; i < 4; i++) s.q_win[i] = 0, s.q_pos[i] = pos[i];
    /* inv_freq = base^(-2i/d): angles ~0 except for the pair i = 0, which
     * rotates by pos radians: give only dims >= 2 a value */
    for (int j = 0; j < 40; j++) s.k[j * d] = s.k[j * d + 1] = 0;
    for (int i = 0; i < 4; i++) s.q[i * d] = s.q[i * d + 1] = 0;
    kd_set_teacher(&s, 1e30f, ROPE_ADJACENT);
    float eye[64] = {0};
    for (int i = 0; i < d; i++) eye[i * d + i] = 1;
    float out[4 * 40];
    int idx[4] = {0, 1, 2, 3};
    kd_work *w = kd_work_new(&s, d);
    kd_student(&s, idx, 4, d, eye, eye, logf(sqrtf((float)d)), out, 40, w);
    for (int i = 0; i < 4; i++) {
        double sum = 0;
        for (int j = 0; j <= pos[i]; j++) {
            CHECK_NEAR(out[i * 40 + j], s.t[s.t_off[i] + j], 1e-5);
            sum += out[i * 40 + j];
        }
        CHECK_NEAR(sum, 1.0, 1e-5);
    }
    CHECK_NEAR(kd_loss(&s, idx, 4, d, eye, eye, logf(sqrtf((float)d)), NULL, NULL, NULL, w), 0.0, 1e-5);
    kd_work_free(w);
    kd_set_free(&s);
}

/* The teacher rows equal the dense policy's probability rows on the model:
 * layer 3, every query head of KV head 1, a 150-token prompt. */
typedef struct {
    int layer, n, d, n_head, n_head_kv;
    float *q, *k;   /* (n, n_head, d), (n, n_head_kv, d) pre-RoPE */
    float *rows;    /* (n_head, n, n) */
} capture;

static void cap_qk(void *user, int layer, int pos0, int n, const float *q, const float *k)
{
    capture *c = user;
    if (layer != c->layer) return;
    memcpy(c->q + (size_t)pos0 * c->n_head * c->d, q, (size_t)n * c->n_head * c->d * sizeof(float));
    memcpy(c->k + (size_t)pos0 * c->n_head_kv * c->d, k, (size_t)n * c->n_head_kv * c->d * sizeof(float));
}

static void cap_rows(void *user, const attn_call *a, const float *p, int ldp)
{
    capture *c = user;
    if (a->layer != c->layer) return;
    for (int i = 0; i < a->n_q; i++)
        memcpy(c->rows + ((size_t)a->head * c->n + a->q_pos0 + i) * c->n, p + (size_t)i * ldp,
               (size_t)(a->q_pos0 + i + 1) * sizeof(float));
}

/* The teacher rows of layer `layer`'s heads of KV head kvh against the
 * dense policy's own rows on the model: the largest difference. */
static double teacher_vs_rows(const model *m, int layer, int kvh)
{
    const model_config *mc = &m->cfg;
    const int n = 150, d = mc->head_dim;
    capture c = {.layer = layer, .n = n, .d = d, .n_head = mc->n_head, .n_head_kv = mc->n_head_kv};
    c.q = calloc((size_t)n * mc->n_head * d, sizeof(float));
    c.k = calloc((size_t)n * mc->n_head_kv * d, sizeof(float));
    c.rows = calloc((size_t)mc->n_head * n * n, sizeof(float));
    int *ids = malloc(n * sizeof(int));
    pb_rng r = {11};
    for (int i = 0; i < n; i++) ids[i] = 100 + (int)rng_below(&r, 20000);
    session *ss = session_new(m, n);
    attn_observer obs = {&c, cap_qk, cap_rows, NULL, 0};
    ss->obs = &obs;
    session_eval(ss, ids, 100, NULL, 0); /* two evals: the second at pos0 = 100 */
    session_eval(ss, ids + 100, n - 100, NULL, 0);
    double worst = 0;
    const int group = mc->n_head / mc->n_head_kv;
    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        kd_set s;
        int pos[5] = {0, 1, 63, 99, 149};
        kd_set_init(&s, d, 1, n, 5);
        for (int j = 0; j < n; j++)
            memcpy(s.k + (size_t)j * d, c.k + ((size_t)j * mc->n_head_kv + kvh) * d, d * sizeof(float));
        for (int i = 0; i < 5; i++) {
            s.q_win[i] = 0;
            s.q_pos[i] = pos[i];
            memcpy(s.q + (size_t)i * d, c.q + ((size_t)pos[i] * mc->n_head + h) * d, d * sizeof(float));
        }
        kd_set_teacher(&s, model_layer_rope_base(mc, layer), mc->rope_style);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j <= pos[i]; j++) {
                double e = fabs(s.t[s.t_off[i] + j] - c.rows[((size_t)h * n + pos[i]) * n + j]);
                if (e > worst) worst = e;
            }
        kd_set_free(&s);
    }
    session_free(ss);
    free(ids);
    free(c.q);
    free(c.k);
    free(c.rows);
    return worst;
}

TEST(convert_teacher_is_dense_attention)
{
    const model *m = fixture_model();
    CHECK(m);
    double worst = teacher_vs_rows(m, 3, 1);
    CHECK_MSG(worst < 2e-6, "teacher vs dense rows: max |diff| %.3g", worst);
}

/* Gemma: the neox pair layout and a global layer's own RoPE base (1e6; the
 * sliding layers turn at 1e4). The retrieval heads are global-layer heads. */
TEST(convert_teacher_is_dense_attention_gemma)
{
    const model *m = fixture_gemma();
    CHECK(m);
    int layer = -1;
    for (int l = 0; l < m->cfg.n_layer && layer < 0; l++)
        if (m->cfg.layer[l].kind == ATTN_GLOBAL) layer = l;
    CHECK(layer >= 0 && m->cfg.rope_style == ROPE_NEOX);
    double worst = teacher_vs_rows(m, layer, 0);
    CHECK_MSG(worst < 2e-6, "teacher vs dense rows, layer %d: max |diff| %.3g", layer, worst);
}

TEST(convert_lr_schedule)
{
    kd_opts o = kd_defaults;
    o.steps = 100;
    o.warmup = 10;
    o.lr = 1e-3;
    o.lr_min = 0.1;
    CHECK_NEAR(kd_lr_at(&o, 0), 1e-4, 1e-12);
    CHECK_NEAR(kd_lr_at(&o, 4), 5e-4, 1e-12);
    CHECK_NEAR(kd_lr_at(&o, 9), 1e-3, 1e-12);
    CHECK_NEAR(kd_lr_at(&o, 10), 1e-3, 1e-12);                      /* cosine starts at the peak */
    CHECK_NEAR(kd_lr_at(&o, 10 + 89 / 2), 1e-3 * (0.1 + 0.9 * 0.5 * (1 + cos(M_PI * 44.0 / 89))), 1e-12);
    CHECK_NEAR(kd_lr_at(&o, 99), 1e-4, 1e-12);                      /* ends at lr * lr_min */
    for (int t = 11; t < 100; t++) CHECK(kd_lr_at(&o, t) <= kd_lr_at(&o, t - 1));
}

/* A teacher that a rank-2 indexer can express: keys and queries live in a
 * 2-dim subspace of R^12, plus small noise, and RoPE's base is huge (angles
 * ~0 beyond the first pair, which is zero). From a random start, 150 steps
 * must cut the KL on held-out queries to under a third. */
static double mean_loss(const kd_set *s, int r, const float *wq, const float *wk, float lt)
{
    int *idx = malloc((size_t)s->n_q * sizeof(int));
    for (int i = 0; i < s->n_q; i++) idx[i] = i;
    kd_work *w = kd_work_new(s, r);
    double l = kd_loss(s, idx, s->n_q, r, wq, wk, lt, NULL, NULL, NULL, w);
    kd_work_free(w);
    free(idx);
    return l;
}

static void lowrank_set(kd_set *s, int n_q, uint64_t seed)
{
    const int d = 12, n_win = 3, n_ctx = 96;
    pb_rng r = {seed}, rb = {99}; /* the subspace is the same for every set */
    float basis[2][12];
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < d; c++) basis[a][c] = c < 2 ? 0 : frand(&rb);
    kd_set_init(s, d, n_win, n_ctx, n_q);
    for (int j = 0; j < n_win * n_ctx; j++) {
        float a0 = 3 * frand(&r), a1 = 3 * frand(&r);
        for (int c = 0; c < d; c++) s->k[j * d + c] = a0 * basis[0][c] + a1 * basis[1][c] + (c < 2 ? 0 : 0.05f * frand(&r));
    }
    for (int i = 0; i < n_q; i++) {
        float a0 = 3 * frand(&r), a1 = 3 * frand(&r);
        for (int c = 0; c < d; c++) s->q[i * d + c] = a0 * basis[0][c] + a1 * basis[1][c];
        s->q_win[i] = i * n_win / n_q;
        s->q_pos[i] = 8 + (i * 7919) % (n_ctx - 8);
    }
    for (int i = 1; i < n_q; i++)
        for (int j = i; j > 0 && s->q_win[j] == s->q_win[j - 1] && s->q_pos[j] < s->q_pos[j - 1]; j--) {
            int t = s->q_pos[j];
            s->q_pos[j] = s->q_pos[j - 1];
            s->q_pos[j - 1] = t;
        }
    kd_set_teacher(s, 1e30f, ROPE_ADJACENT);
}

/* The optimiser settings of the training tests: short, at a high rate. */
static kd_opts short_training(void)
{
    kd_opts o = kd_defaults;
    o.steps = 150;
    o.warmup = 10;
    o.batch = 48;
    o.lr = 3e-2;
    return o;
}

TEST(convert_training_reduces_kl)
{
    const int r = 2, d = 12;
    kd_set tr, ev;
    lowrank_set(&tr, 120, 5);
    lowrank_set(&ev, 60, 6);
    pb_rng rr = {17};
    float wq[24], wk[24], lt = logf(sqrtf((float)d));
    for (int i = 0; i < r * d; i++) wq[i] = 0.3f * frand(&rr), wk[i] = 0.3f * frand(&rr);
    double before = mean_loss(&ev, r, wq, wk, lt);
    kd_opts o = short_training();
    kd_train(&tr, r, wq, wk, &lt, &o, NULL, NULL);
    double after = mean_loss(&ev, r, wq, wk, lt);
    CHECK_MSG(before > 0.2, "KL before %.4f: the problem is too easy", before);
    CHECK_MSG(after < before / 3, "held-out KL %.4f -> %.4f", before, after);
    kd_set_free(&tr);
    kd_set_free(&ev);
}

/* Training that may read only some dims (--rope-band): the other columns of
 * W_Q, W_K stay exactly where they started (0), the kept ones learn, and
 * the KL still falls when the teacher lives in the kept dims. */
TEST(convert_training_keeps_to_its_dims)
{
    const int r = 2, d = 12;
    kd_set tr, ev;
    lowrank_set(&tr, 120, 5);
    lowrank_set(&ev, 60, 6);
    unsigned char dims[12];
    for (int c = 0; c < d; c++) dims[c] = c >= 2; /* lowrank_set's subspace avoids dims 0 and 1 */
    pb_rng rr = {17};
    float wq[24], wk[24], lt = logf(sqrtf((float)d));
    for (int i = 0; i < r * d; i++) {
        int keep = dims[i % d];
        wq[i] = keep ? 0.3f * frand(&rr) : 0.0f;
        wk[i] = keep ? 0.3f * frand(&rr) : 0.0f;
    }
    double before = mean_loss(&ev, r, wq, wk, lt);
    kd_opts o = short_training();
    o.dims = dims;
    float start = wq[2];
    kd_train(&tr, r, wq, wk, &lt, &o, NULL, NULL);
    double after = mean_loss(&ev, r, wq, wk, lt);
    int zero = 1;
    for (int i = 0; i < r * d; i++)
        if (!dims[i % d] && (wq[i] != 0.0f || wk[i] != 0.0f)) zero = 0;
    CHECK_MSG(zero, "a column outside the dims moved");
    CHECK(wq[2] != start);
    CHECK_MSG(after < before / 3, "held-out KL %.4f -> %.4f", before, after);
    kd_set_free(&tr);
    kd_set_free(&ev);
}

TEST(convert_select_heads)
{
    /* 20 heads; rho 0.15 -> 3; scores with a tie at the cut (index 4 and 9) */
    double score[20] = {0.1, 0.5, 0.02, 0.3, 0.4, 0.0, 0.9, 0.05, 0.2, 0.4, 0.01, 0, 0, 0, 0, 0, 0, 0, 0, 0.35};
    unsigned char retr[20];
    CHECK(select_count(0.15, 20) == 3);
    CHECK(select_count(0.15, 270) == 41); /* 40.5 rounds up */
    CHECK(select_count(0.001, 20) == 1);
    CHECK(select_count(0.0, 20) == 0);
    CHECK(select_count(2.0, 20) == 20);
    CHECK(select_heads(score, NULL, 20, 0.15, retr) == 3);
    for (int i = 0; i < 20; i++) CHECK_MSG(retr[i] == (i == 6 || i == 1 || i == 4), "head %d: %d", i, retr[i]);
    CHECK(select_heads(score, NULL, 20, 0.2, retr) == 4);
    CHECK(retr[9] && !retr[19]);
    /* window: local heads' w90 over the grid 64..1024; 0.9 of them within W */
    int grid[5] = {64, 128, 256, 512, 1024};
    int w90[10] = {64, 64, 128, 128, 128, 256, 256, 512, 2048, 64};
    unsigned char r10[10] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0}; /* the 2048 head is a retrieval head */
    CHECK(select_window(w90, r10, NULL, 10, grid, 5, 0.9) == 512);  /* 9 local: 8 within 256, 9 within 512 */
    CHECK(select_window(w90, r10, NULL, 10, grid, 5, 0.8) == 256);  /* 8 of 9 = 0.89 */
    CHECK(select_window(w90, r10, NULL, 10, grid, 5, 0.3) == 64);   /* 3 of 9 */
    r10[8] = 0;                                               /* now local: 10 heads, 9 within 512 */
    CHECK(select_window(w90, r10, NULL, 10, grid, 5, 0.9) == 512);
    CHECK(select_window(w90, r10, NULL, 10, grid, 5, 1.0) == 1024); /* never all: the largest */
    /* heads of sliding layers are out of both: rho counts the eligible ones */
    unsigned char elig[20];
    for (int i = 0; i < 20; i++) elig[i] = i >= 10;    /* heads 0..9 in sliding layers */
    CHECK(select_heads(score, elig, 20, 0.15, retr) == 2); /* 0.15 * 10 = 1.5 -> 2 */
    for (int i = 0; i < 20; i++) CHECK_MSG(retr[i] == (i == 19 || i == 10), "head %d: %d", i, retr[i]);
    unsigned char e10[10] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 1};   /* the 512 and 2048 heads are sliding */
    CHECK(select_window(w90, r10, e10, 10, grid, 5, 0.9) == 256); /* 8 local: all within 256 */
}

/* The need rule on synthetic probe results: a head is a retrieval head when
 * the locality probe's mass within W is below `keep` (it needs far keys) or
 * its repeated-span score reaches min_score; no fixed share, ties at the
 * threshold stay local, sliding heads never count. */
TEST(convert_select_need)
{
    /* 8 heads: mass within W (locality) and repeated-span score (retrieval) */
    const double mass[8] = {0.999, 0.35, 0.98, 0.99, 0.995, 0.60, 1.0, 0.991};
    const double score[8] = {0.001, 0.0, 0.30, 0.0, 0.02, 0.5, 0.019, 0.0};
    unsigned char retr[8];
    /* keep 0.99: heads 1, 2, 5 below it (3 at exactly 0.99 stays local); score >= 0.02 adds 4 */
    CHECK(select_need(mass, score, NULL, 8, 0.99, 0.02, retr) == 4);
    for (int i = 0; i < 8; i++) CHECK_MSG(retr[i] == (i == 1 || i == 2 || i == 4 || i == 5), "head %d: %d", i, retr[i]);
    /* no score: the locality alone */
    CHECK(select_need(mass, NULL, NULL, 8, 0.99, 0.02, retr) == 3);
    CHECK(!retr[4] && retr[1] && retr[2] && retr[5]);
    /* a looser keep lets the broad-tailed heads stay local; the copy heads stay retrieval */
    CHECK(select_need(mass, score, NULL, 8, 0.5, 0.02, retr) == 4);
    for (int i = 0; i < 8; i++) CHECK_MSG(retr[i] == (i == 1 || i == 2 || i == 4 || i == 5), "head %d: %d", i, retr[i]);
    CHECK(select_need(mass, score, NULL, 8, 0.5, 0.4, retr) == 2); /* head 1 (0.35 mass) and 5 (score 0.5) */
    CHECK(retr[1] && retr[5]);
    /* the count follows the measurements: keep 1.0 makes every head short of all its mass a retrieval head */
    CHECK(select_need(mass, NULL, NULL, 8, 1.0, 1.0, retr) == 7 && !retr[6]);
    /* sliding heads (ineligible) are never chosen, whatever they measure */
    const unsigned char elig[8] = {1, 0, 1, 1, 1, 0, 1, 1};
    CHECK(select_need(mass, score, elig, 8, 0.99, 0.02, retr) == 2);
    CHECK(retr[2] && retr[4] && !retr[1] && !retr[5]);
}
