/* backend_cpu.c — the CPU backend (backend.h): the reference path.
 *
 * Every operation is the kernels/cpu one (ops.h) on host f32 buffers, act
 * included, with the model's own f32 arrays as weight handles, so a forward
 * pass through this backend computes exactly what the plain loops did
 * (the golden tests stay bit-identical). Attention hands one attn_call per
 * (layer, query head) to that head's policy (attention.h).
 *
 * KV cache: kc, vc (n_layer, n_head_kv, n_ctx, head_dim) f32, post-RoPE k,
 * so each (layer, KV head) is one contiguous (n_ctx, d) block for the policies.
 */
#include "backend.h"

#include <math.h>
#include <string.h>

#include "ops.h"

struct bk_kv {
    int n_ctx;
    float *kc, *vc;     /* (n_layer, n_head_kv, n_ctx, d) */
    float *scores;      /* attn_scratch_floats(n_ctx) */
};

typedef struct {
    float *xn;          /* logits scratch: (cap, n_embd) */
    int cap;
} cpu_state;

static void *cpu_alloc(backend *b, size_t bytes)
{
    (void)b;
    return pb_malloc(bytes ? bytes : 1);
}

static void cpu_free(backend *b, void *p)
{
    (void)b;
    free(p);
}

static void cpu_copy(backend *b, void *dst, const void *src, size_t bytes)
{
    (void)b;
    memcpy(dst, src, bytes);
}

static void cpu_upload_act(backend *b, void *dst, const float *src, size_t n)
{
    cpu_copy(b, dst, src, n * sizeof(float));
}

static void cpu_download_act(backend *b, float *dst, const void *src, size_t n)
{
    cpu_copy(b, dst, src, n * sizeof(float));
}

static void cpu_embed(backend *b, float *x, const int *ids, int n)
{
    const int E = b->m->cfg.n_embd;
    const float *emb = b->w.tok_embd;
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * E, emb + (size_t)ids[t] * E, E * sizeof(float));
}

static void cpu_matmul_op(backend *b, float *y, const void *x, const void *w, int n, int in, int out)
{
    (void)b;
    cpu_matmul(y, x, w, n, in, out);
}

static void cpu_rmsnorm_op(backend *b, void *y, const float *x, const void *w, int n, int dim, float eps)
{
    (void)b;
    cpu_rmsnorm(y, x, w, n, dim, eps);
}

static void cpu_rope_op(backend *b, float *x, int n, int n_heads, int d, int pos0, float base)
{
    (void)b;
    cpu_rope(x, n, n_heads, d, pos0, base);
}

static void cpu_swiglu_op(backend *b, void *out, const float *g, const float *u, long n)
{
    (void)b;
    if (out != g) memcpy(out, g, (size_t)n * sizeof(float));
    cpu_swiglu(out, u, n);
}

static void cpu_add(backend *b, float *x, const float *y, long n)
{
    (void)b;
    for (long i = 0; i < n; i++) x[i] += y[i];
}

static bk_kv *cpu_kv_new(backend *b, int n_ctx)
{
    const model_config *c = &b->m->cfg;
    bk_kv *kv = pb_calloc(1, sizeof *kv);
    size_t cache = (size_t)c->n_layer * c->n_head_kv * (size_t)n_ctx * c->head_dim;
    kv->n_ctx = n_ctx;
    kv->kc = pb_malloc(cache * sizeof(float));
    kv->vc = pb_malloc(cache * sizeof(float));
    kv->scores = pb_malloc(attn_scratch_floats(n_ctx) * sizeof(float));
    return kv;
}

static void cpu_kv_free(backend *b, bk_kv *kv)
{
    (void)b;
    if (!kv) return;
    free(kv->kc);
    free(kv->vc);
    free(kv->scores);
    free(kv);
}

static void cpu_kv_append(backend *b, bk_kv *kv, int l, int pos0, int n, const float *k, const float *v)
{
    const model_config *c = &b->m->cfg;
    const int d = c->head_dim;
    for (int h = 0; h < c->n_head_kv; h++) {
        size_t base = (((size_t)l * c->n_head_kv + h) * kv->n_ctx + pos0) * d;
        for (int t = 0; t < n; t++) {
            memcpy(kv->kc + base + (size_t)t * d, k + ((size_t)t * c->n_head_kv + h) * d, d * sizeof(float));
            memcpy(kv->vc + base + (size_t)t * d, v + ((size_t)t * c->n_head_kv + h) * d, d * sizeof(float));
        }
    }
}

static void cpu_attention(backend *b, bk_kv *kv, const bk_attn *a)
{
    const model_config *c = &b->m->cfg;
    const int d = c->head_dim, H = c->n_head, HKV = c->n_head_kv;
    for (int h = 0; h < H; h++) {
        int kvh = h / (H / HKV);
        size_t base = ((size_t)a->layer * HKV + kvh) * kv->n_ctx * d;
        attn_call call = {
            .layer = a->layer, .head = h, .kv_head = kvh, .d = d,
            .q_pos0 = a->pos0, .n_q = a->n, .n_kv = a->pos0 + a->n,
            .q = a->q + (size_t)h * d, .ldq = H * d,
            .k = kv->kc + base, .v = kv->vc + base,
            .out = (float *)a->out + (size_t)h * d, .ldo = H * d,
            .scale = 1.0f / sqrtf((float)d),
        };
        const attn_policy *p = a->policy[h];
        p->run(p, &call, a->obs, kv->scores);
    }
}

static void cpu_logits(backend *b, float *out, const float *x, int n)
{
    const model_config *c = &b->m->cfg;
    cpu_state *st = b->impl;
    if (n > st->cap) {
        free(st->xn);
        st->xn = pb_malloc((size_t)n * c->n_embd * sizeof(float));
        st->cap = n;
    }
    cpu_rmsnorm(st->xn, x, b->w.out_norm, n, c->n_embd, c->rms_eps);
    cpu_matmul(out, st->xn, b->w.output, n, c->n_embd, c->n_vocab);
}

static void cpu_close(backend *b)
{
    cpu_state *st = b->impl;
    free(st->xn);
    free(st);
    free(b->w.layers);
    free(b);
}

backend *backend_cpu_new(const model *m)
{
    backend *b = pb_calloc(1, sizeof *b);
    b->name = "cpu";
    snprintf(b->device, sizeof b->device, "cpu");
    b->act_bytes = (int)sizeof(float);
    b->m = m;
    b->impl = pb_calloc(1, sizeof(cpu_state));
    b->w.tok_embd = m->tok_embd;
    b->w.out_norm = m->out_norm;
    b->w.output = m->output;
    b->w.layers = pb_malloc((size_t)m->cfg.n_layer * sizeof *b->w.layers);
    for (int l = 0; l < m->cfg.n_layer; l++) {
        const layer_weights *w = &m->layers[l];
        b->w.layers[l] = (bk_layer){w->attn_norm, w->wq, w->wk, w->wv, w->wo,
                                    w->ffn_norm, w->w_gate, w->w_up, w->w_down};
    }
    b->alloc = cpu_alloc;
    b->free = cpu_free;
    b->upload = cpu_copy;
    b->download = cpu_copy;
    b->upload_act = cpu_upload_act;
    b->download_act = cpu_download_act;
    b->embed = cpu_embed;
    b->matmul = cpu_matmul_op;
    b->rmsnorm = cpu_rmsnorm_op;
    b->rope = cpu_rope_op;
    b->swiglu = cpu_swiglu_op;
    b->add = cpu_add;
    b->kv_new = cpu_kv_new;
    b->kv_free = cpu_kv_free;
    b->kv_append = cpu_kv_append;
    b->attention = cpu_attention;
    b->logits = cpu_logits;
    b->close = cpu_close;
    return b;
}
