/* attn_time.c — attn_time.h: the dispatch between the CUDA timer
 * (kernels/cuda/attn_time.cu) and the CPU twins' timer, here. The twins are
 * the oracle, plain f32 loops: their times say what the reference costs,
 * not what a tuned CPU kernel would. */
#include "kernels/attn_time.h"

#include <stdio.h>
#include <stdlib.h>

#include "kernels/attn_kernels.h"
#include "base/common.h"
#include "base/rng.h"

struct attn_timer {
    attn_time_case c;
    void *cuda;           /* the CUDA timer, or NULL: the CPU twin */
    uint16_t *q, *k, *v;  /* q: (n_q, n_head, d); k, v: (n_ctx, n_kv_head, d) */
    float *out;           /* (n_q, n_head, d) */
};

static int n_queries(const attn_time_case *c) { return c->phase == ATTN_TIME_PREFILL ? c->n_ctx : 1; }

double attn_time_work(const attn_time_case *c)
{
    double n = c->n_ctx;
    if (c->phase == ATTN_TIME_PREFILL) return 2.0 * n * n * c->d * c->n_head;
    return 2.0 * n * c->n_kv_head * c->d * 2.0;
}

static uint16_t *rand_bf16(pb_rng *r, size_t n, float amp)
{
    uint16_t *x = pb_malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = attn_f32_to_bf16(amp * (float)(2.0 * rng_unit(r) - 1.0));
    return x;
}

attn_timer *attn_timer_new(const attn_time_case *c, int cuda, uint32_t seed, char *why, size_t why_len)
{
    if (c->n_ctx < 1 || c->n_head < 1 || c->n_kv_head < 1 || c->d < 1 || c->n_head % c->n_kv_head) {
        snprintf(why, why_len, "attention shape %d/%d/%d at %d tokens is not a GQA shape", c->n_head, c->n_kv_head,
                 c->d, c->n_ctx);
        return NULL;
    }
    if (c->sparse && !cuda) {
        snprintf(why, why_len, "the sparse attention pipeline is timed on CUDA only");
        return NULL;
    }
    attn_timer *t = pb_calloc(1, sizeof *t);
    t->c = *c;
    if (cuda) {
        if (!(t->cuda = attn_timer_cuda_new(c, seed, why, why_len))) {
            free(t);
            return NULL;
        }
        return t;
    }
    if (c->d > 256) {
        snprintf(why, why_len, "the CPU twin takes head_dim <= 256, not %d", c->d);
        free(t);
        return NULL;
    }
    pb_rng r = {seed};
    size_t nq = (size_t)n_queries(c) * c->n_head * c->d, nkv = (size_t)c->n_ctx * c->n_kv_head * c->d;
    t->q = rand_bf16(&r, nq, 2.0f);
    t->k = rand_bf16(&r, nkv, 2.0f);
    t->v = rand_bf16(&r, nkv, 1.0f);
    t->out = pb_malloc(nq * sizeof *t->out);
    return t;
}

void attn_timer_once(attn_timer *t)
{
    const attn_time_case *c = &t->c;
    if (t->cuda) {
        attn_timer_cuda_once(t->cuda);
    } else if (c->phase == ATTN_TIME_PREFILL) {
        attn_prefill_ref(t->q, t->k, t->v, t->out, NULL, c->n_ctx, c->n_ctx, 0, c->n_head, c->n_kv_head, c->d);
    } else {
        attn_decode_ref(t->q, t->k, t->v, t->out, NULL, c->n_ctx, c->n_head, c->n_kv_head, c->d);
    }
}

double attn_timer_density(attn_timer *t) { return t->cuda ? attn_timer_cuda_density(t->cuda) : 1.0; }

void attn_timer_run(attn_timer *t, int warmup, int repeats, double *t_s)
{
    if (t->cuda) {
        attn_timer_cuda_run(t->cuda, warmup, repeats, t_s);
        return;
    }
    for (int i = 0; i < warmup; i++) attn_timer_once(t);
    for (int i = 0; i < repeats; i++) {
        double t0 = pb_now();
        attn_timer_once(t);
        t_s[i] = pb_now() - t0;
    }
}

void attn_timer_free(attn_timer *t)
{
    if (!t) return;
    if (t->cuda) attn_timer_cuda_free(t->cuda);
    free(t->q);
    free(t->k);
    free(t->v);
    free(t->out);
    free(t);
}
