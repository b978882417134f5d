/* forward.c — the CPU forward pass (forward.h), llama architecture:
 *
 *   x = embed(tokens)
 *   per layer: h = x + Wo · attn(rope(Wq·rms(x)), rope(Wk·rms(x)), Wv·rms(x))
 *              x = h + Wdown · (silu(Wgate·rms(h)) ⊙ Wup·rms(h))
 *   logits = Wout · rms(x)
 *
 * Long inputs are processed in chunks of max_batch tokens so scratch stays
 * small; each chunk attends to everything cached before it.
 */
#include "forward.h"

#include <math.h>
#include <string.h>

#include "ops.h"

session *session_new(const model *m, int n_ctx)
{
    const model_config *c = &m->cfg;
    session *s = pb_calloc(1, sizeof *s);
    s->m = m;
    s->n_ctx = n_ctx;
    s->max_batch = 256;
    size_t cache = (size_t)c->n_layer * c->n_head_kv * (size_t)n_ctx * c->head_dim;
    s->kc = pb_malloc(cache * sizeof(float));
    s->vc = pb_malloc(cache * sizeof(float));
    s->policy = pb_malloc((size_t)c->n_layer * c->n_head * sizeof *s->policy);
    for (int i = 0; i < c->n_layer * c->n_head; i++) s->policy[i] = &attn_dense;
    size_t B = (size_t)s->max_batch;
    s->x = pb_malloc(B * c->n_embd * sizeof(float));
    s->xn = pb_malloc(B * c->n_embd * sizeof(float));
    s->q = pb_malloc(B * c->n_head * c->head_dim * sizeof(float));
    s->k = pb_malloc(B * c->n_head_kv * c->head_dim * sizeof(float));
    s->v = pb_malloc(B * c->n_head_kv * c->head_dim * sizeof(float));
    s->att = pb_malloc(B * c->n_head * c->head_dim * sizeof(float));
    s->ff_g = pb_malloc(B * c->n_ff * sizeof(float));
    s->ff_u = pb_malloc(B * c->n_ff * sizeof(float));
    s->scores = pb_malloc(attn_scratch_floats(n_ctx) * sizeof(float));
    return s;
}

void session_free(session *s)
{
    if (!s) return;
    float *ps[] = {s->kc, s->vc, s->x, s->xn, s->q, s->k, s->v, s->att, s->ff_g, s->ff_u, s->scores};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(ps[i]);
    free(s->policy);
    free(s);
}

void session_reset(session *s)
{
    s->n_past = 0;
}

/* Appends k/v rows (n, n_head_kv, d) of layer l at positions pos0.. */
static void cache_append(session *s, int l, int pos0, int n)
{
    const model_config *c = &s->m->cfg;
    const int d = c->head_dim;
    for (int h = 0; h < c->n_head_kv; h++) {
        size_t base = (((size_t)l * c->n_head_kv + h) * s->n_ctx + pos0) * d;
        for (int t = 0; t < n; t++) {
            memcpy(s->kc + base + (size_t)t * d, s->k + ((size_t)t * c->n_head_kv + h) * d, d * sizeof(float));
            memcpy(s->vc + base + (size_t)t * d, s->v + ((size_t)t * c->n_head_kv + h) * d, d * sizeof(float));
        }
    }
}

static void eval_chunk(session *s, const int *tokens, int n)
{
    const model *m = s->m;
    const model_config *c = &m->cfg;
    const int E = c->n_embd, d = c->head_dim, H = c->n_head, HKV = c->n_head_kv;
    const int pos0 = s->n_past;
    for (int t = 0; t < n; t++)
        memcpy(s->x + (size_t)t * E, m->tok_embd + (size_t)tokens[t] * E, E * sizeof(float));

    for (int l = 0; l < c->n_layer; l++) {
        const layer_weights *w = &m->layers[l];
        cpu_rmsnorm(s->xn, s->x, w->attn_norm, n, E, c->rms_eps);
        cpu_matmul(s->q, s->xn, w->wq, n, E, H * d);
        cpu_matmul(s->k, s->xn, w->wk, n, E, HKV * d);
        cpu_matmul(s->v, s->xn, w->wv, n, E, HKV * d);
        if (s->obs && s->obs->on_qk) s->obs->on_qk(s->obs->user, l, pos0, n, s->q, s->k);
        cpu_rope(s->q, n, H, d, pos0, c->rope_base);
        cpu_rope(s->k, n, HKV, d, pos0, c->rope_base);
        cache_append(s, l, pos0, n);

        for (int h = 0; h < H; h++) {
            int kvh = h / (H / HKV);
            size_t base = ((size_t)l * HKV + kvh) * s->n_ctx * d;
            attn_call call = {
                .layer = l, .head = h, .kv_head = kvh, .d = d,
                .q_pos0 = pos0, .n_q = n, .n_kv = pos0 + n,
                .q = s->q + (size_t)h * d, .ldq = H * d,
                .k = s->kc + base, .v = s->vc + base,
                .out = s->att + (size_t)h * d, .ldo = H * d,
                .scale = 1.0f / sqrtf((float)d),
            };
            const attn_policy *p = s->policy[l * H + h];
            p->run(p, &call, s->obs, s->scores);
        }
        /* x += Wo att */
        cpu_matmul(s->xn, s->att, w->wo, n, H * d, E);
        for (long i = 0; i < (long)n * E; i++) s->x[i] += s->xn[i];

        cpu_rmsnorm(s->xn, s->x, w->ffn_norm, n, E, c->rms_eps);
        cpu_matmul(s->ff_g, s->xn, w->w_gate, n, E, c->n_ff);
        cpu_matmul(s->ff_u, s->xn, w->w_up, n, E, c->n_ff);
        cpu_swiglu(s->ff_g, s->ff_u, (long)n * c->n_ff);
        cpu_matmul(s->xn, s->ff_g, w->w_down, n, c->n_ff, E);
        for (long i = 0; i < (long)n * E; i++) s->x[i] += s->xn[i];
    }
    s->n_past += n;
}

void session_eval(session *s, const int *tokens, int n, float *logits, int n_logits)
{
    const model_config *c = &s->m->cfg;
    PB_CHECK(n >= 1 && s->n_past + n <= s->n_ctx, "eval of %d tokens at %d overflows the cache of %d",
             n, s->n_past, s->n_ctx);
    PB_CHECK(n_logits >= 0 && n_logits <= n, "n_logits %d > n %d", n_logits, n);
    for (int i = 0; i < n; i++)
        PB_CHECK(tokens[i] >= 0 && tokens[i] < c->n_vocab, "token id %d out of range", tokens[i]);
    const int E = c->n_embd;
    int first_logit = n - n_logits;  /* index of the first token whose logits are wanted */
    for (int t0 = 0; t0 < n; t0 += s->max_batch) {
        int b = n - t0 < s->max_batch ? n - t0 : s->max_batch;
        eval_chunk(s, tokens + t0, b);
        /* logits for the wanted positions inside this chunk */
        int lo = first_logit > t0 ? first_logit : t0;
        if (!logits || lo >= t0 + b) continue;
        int nl = t0 + b - lo;
        float *xs = s->x + (size_t)(lo - t0) * E;
        cpu_rmsnorm(s->xn, xs, s->m->out_norm, nl, E, c->rms_eps);
        cpu_matmul(logits + (size_t)(lo - first_logit) * c->n_vocab, s->xn, s->m->output, nl, E, c->n_vocab);
    }
}
