/* convert_train.c — the optimiser of the indexer distillation: AdamW with a
 * linear warm-up and a cosine decay, over kd_loss (convert_kd.c).
 *
 * Each step draws `batch` distinct queries of the set (without replacement
 * within the step, a fresh draw every step, seeded), evaluates the mean KL
 * and its gradient, and updates W_Q, W_K (decoupled weight decay) and, when
 * learned, log_tau (no decay; its own learning rate, lr * tau_lr_mult: the
 * temperature is one scalar that every score depends on, and a few steps at
 * a larger rate set the overall sharpness before W moves).
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   p -= lr_t (m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd p)
 */
#include "convert/convert.h"

#include <math.h>
#include <string.h>

#include "base/common.h"
#include "base/rng.h"

const kd_opts kd_defaults = {
    .steps = 300, .warmup = 30, .batch = 256, .lr = 3e-3, .lr_min = 0.1, .wd = 1e-4,
    .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .learn_tau = 1, .tau_lr_mult = 10.0, .seed = 1,
};

double kd_lr_at(const kd_opts *o, int t)
{
    if (t < o->warmup) return o->lr * (double)(t + 1) / (double)o->warmup;
    int span = o->steps - 1 - o->warmup;
    double x = span > 0 ? (double)(t - o->warmup) / (double)span : 1.0;
    if (x > 1.0) x = 1.0;
    return o->lr * (o->lr_min + (1.0 - o->lr_min) * 0.5 * (1.0 + cos(M_PI * x)));
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* One AdamW update of n parameters p with gradient g at step t (1-based). */
static void adamw(float *p, const float *g, float *m, float *v, int n, int t, double lr, double wd, const kd_opts *o)
{
    double c1 = 1.0 - pow(o->beta1, t), c2 = 1.0 - pow(o->beta2, t);
    for (int i = 0; i < n; i++) {
        m[i] = (float)(o->beta1 * m[i] + (1.0 - o->beta1) * g[i]);
        v[i] = (float)(o->beta2 * v[i] + (1.0 - o->beta2) * (double)g[i] * g[i]);
        double step = (m[i] / c1) / (sqrt(v[i] / c2) + o->eps) + wd * p[i];
        p[i] = (float)(p[i] - lr * step);
    }
}

double kd_train(const kd_set *s, int r, float *wq, float *wk, float *log_tau, const kd_opts *o, kd_step_fn on_step,
                void *user)
{
    PB_CHECK(o->steps >= 1 && o->batch >= 1 && o->lr > 0, "kd_train: steps %d, batch %d, lr %g", o->steps, o->batch,
             o->lr);
    const int nw = r * s->d, b = o->batch < s->n_q ? o->batch : s->n_q;
    kd_work *w = kd_work_new(s, r);
    float *g = pb_malloc((size_t)2 * nw * sizeof(float));   /* [gwq | gwk] */
    float *m = pb_calloc((size_t)2 * nw + 1, sizeof(float)); /* [wq | wk | log_tau] */
    float *v = pb_calloc((size_t)2 * nw + 1, sizeof(float));
    int *perm = pb_malloc((size_t)s->n_q * sizeof(int)), *idx = pb_malloc((size_t)b * sizeof(int));
    for (int i = 0; i < s->n_q; i++) perm[i] = i;
    pb_rng rng = {o->seed * 0x9e3779b97f4a7c15ull + 0x7ea1};
    double loss = 0;
    for (int t = 0; t < o->steps; t++) {
        /* partial Fisher-Yates: perm[0..b) is a uniform draw of b queries */
        for (int i = 0; i < b && b < s->n_q; i++) {
            int j = i + (int)rng_below(&rng, (uint64_t)(s->n_q - i)), x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        memcpy(idx, perm, (size_t)b * sizeof(int));
        qsort(idx, (size_t)b, sizeof(int), cmp_int);
        float gt = 0;
        loss = kd_loss(s, idx, b, r, wq, wk, *log_tau, g, g + nw, &gt, w);
        if (o->dims) /* a column of a dim not read gets no gradient: from 0 it stays 0 (decay included) */
            for (int e = 0; e < 2 * nw; e++)
                if (!o->dims[e % s->d]) g[e] = 0.0f;
        double lr = kd_lr_at(o, t);
        if (on_step) on_step(user, t, loss, lr, *log_tau);
        adamw(wq, g, m, v, nw, t + 1, lr, o->wd, o);
        adamw(wk, g + nw, m + nw, v + nw, nw, t + 1, lr, o->wd, o);
        if (o->learn_tau) adamw(log_tau, &gt, m + 2 * nw, v + 2 * nw, 1, t + 1, lr * o->tau_lr_mult, 0.0, o);
    }
    kd_work_free(w);
    free(g);
    free(m);
    free(v);
    free(perm);
    free(idx);
    return loss;
}
