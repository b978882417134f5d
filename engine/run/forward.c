/* forward.c — the forward pass (forward.h) over the backend interface, in
 * the form the model's description (model.h) gives:
 *
 *   x = embed(tokens) [· embd_scale]
 *   per layer l: q, k = Wq·rms(x), Wk·rms(x)   [qk_norm: rms of each head]
 *                h = x + [rms] Wo · attn_l(rope_l(q), rope_l(k), Wv·rms(x))
 *                x = h + [rms] Wdown · (act(Wgate·rms(h)) ⊙ Wup·rms(h))
 *   logits = Wout · rms(x)
 * with [rms] the post-norms when the description has them, act SiLU or
 * tanh-GELU, rope_l the layer's base and pairing, attn_l global or sliding
 * (the layer's window). The llama description takes none of the brackets.
 *
 * Long inputs are processed in chunks of max_batch tokens so scratch stays
 * small (of dense_batch where the backend asks for longer chunks and every
 * head is dense), never leaving a last chunk of one token (policies take a
 * one-query call for a decode step, attention.h); each chunk attends to
 * everything cached before it. Every buffer is the backend's; only logits
 * (and the observer's q/k copies) reach the host.
 */
#include "run/forward.h"

#include <string.h>

session *session_new_on(backend *b, int n_ctx)
{
    const model_config *c = &b->m->cfg;
    session *s = pb_calloc(1, sizeof *s);
    s->m = b->m;
    s->b = b;
    s->n_ctx = n_ctx;
    s->max_batch = 256;
    s->dense_batch = b->prefill_batch > s->max_batch ? b->prefill_batch : s->max_batch;
    s->kv = b->kv_new(b, n_ctx);
    s->policy = pb_malloc((size_t)c->n_layer * c->n_head * sizeof *s->policy);
    for (int i = 0; i < c->n_layer * c->n_head; i++) s->policy[i] = &attn_dense;
    s->count = pb_calloc((size_t)c->n_layer * c->n_head, sizeof *s->count);
    const size_t B = (size_t)s->dense_batch, F = sizeof(float), A = (size_t)b->act_bytes;
    const size_t E = (size_t)c->n_embd, Q = (size_t)c->n_head * c->head_dim;
    const size_t KV = (size_t)c->n_head_kv * c->head_dim, FF = (size_t)c->n_ff;
    s->x = b->alloc(b, B * E * F);
    s->xn = b->alloc(b, B * E * A);
    s->q = b->alloc(b, B * Q * F);
    s->k = b->alloc(b, B * KV * F);
    s->q_pre = b->alloc(b, B * Q * F);
    s->k_pre = b->alloc(b, B * KV * F);
    s->v = b->alloc(b, B * KV * F);
    s->att = b->alloc(b, B * Q * A);
    s->y = b->alloc(b, B * E * F);
    s->ff_g = b->alloc(b, B * FF * F);
    s->ff_u = b->alloc(b, B * FF * F);
    s->ff_h = b->alloc(b, B * FF * A);
    return s;
}

session *session_new(const model *m, int n_ctx)
{
    session *s = session_new_on(backend_cpu_new(m), n_ctx);
    s->own_backend = 1;
    return s;
}

void session_free(session *s)
{
    if (!s) return;
    backend *b = s->b;
    void *ps[] = {s->x, s->xn, s->q, s->k, s->q_pre, s->k_pre, s->v, s->att, s->y, s->ff_g, s->ff_u, s->ff_h};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) b->free(b, ps[i]);
    b->kv_free(b, s->kv);
    free(s->host_q);
    free(s->host_k);
    for (int i = 0; i < s->n_owned; i++)
        if (s->owned[i]->destroy) s->owned[i]->destroy(s->owned[i]);
    free(s->owned);
    free(s->policy);
    free(s->count);
    if (s->own_backend) backend_close(b);
    free(s);
}

void session_reset(session *s)
{
    s->n_past = 0;
}

void session_own_policy(session *s, attn_policy *p)
{
    s->owned = pb_realloc(s->owned, (size_t)(s->n_owned + 1) * sizeof *s->owned);
    s->owned[s->n_owned++] = p;
}

void session_set_kv_layout(session *s, const kv_ring *layout)
{
    PB_CHECK(s->b->kv_layout(s->b, s->kv, layout), "the %s backend refused the KV layout",
             s->b->name);
    session_reset(s);
}

size_t session_kv_bytes(const session *s)
{
    return s->b->kv_bytes(s->b, s->kv, 0);
}

size_t session_kv_bytes_full(const session *s)
{
    return s->b->kv_bytes(s->b, s->kv, 1);
}

double session_density(const session *s, attn_count *per_head)
{
    const model_config *c = &s->m->cfg;
    if (s->b->count_flush) s->b->count_flush(s->b, s->kv, s->count);
    long long kept = 0, vis = 0;
    for (int i = 0; i < c->n_layer * c->n_head; i++) {
        kept += s->count[i].kept;
        vis += s->count[i].visible;
        if (per_head) per_head[i] = s->count[i];
    }
    return vis ? (double)kept / (double)vis : 1.0;
}

void session_density_reset(session *s)
{
    const model_config *c = &s->m->cfg;
    if (s->b->count_flush) s->b->count_flush(s->b, s->kv, s->count);
    memset(s->count, 0, (size_t)c->n_layer * c->n_head * sizeof *s->count);
}

/* Hands the pre-RoPE q (n, n_head, d) and k (n, n_head_kv, d) of layer l to
 * the observer, as host copies (on the CPU the copy is cheap next to the
 * layer's matrix products). */
static void observe_qk(session *s, int l, int pos0, int n)
{
    const model_config *c = &s->m->cfg;
    const size_t q = (size_t)s->max_batch * c->n_head * c->head_dim;
    const size_t k = (size_t)s->max_batch * c->n_head_kv * c->head_dim;
    if (!s->host_q) {
        s->host_q = pb_malloc(q * sizeof(float));
        s->host_k = pb_malloc(k * sizeof(float));
    }
    s->b->download(s->b, s->host_q, s->q_pre, (size_t)n * c->n_head * c->head_dim * sizeof(float));
    s->b->download(s->b, s->host_k, s->k_pre, (size_t)n * c->n_head_kv * c->head_dim * sizeof(float));
    s->obs->on_qk(s->obs->user, l, pos0, n, s->host_q, s->host_k);
}

static void eval_chunk(session *s, const int *tokens, int n)
{
    backend *b = s->b;
    const model_config *c = &s->m->cfg;
    const int E = c->n_embd, d = c->head_dim, H = c->n_head, HKV = c->n_head_kv;
    const int pos0 = s->n_past;
    b->embed(b, s->x, tokens, n);
    if (c->embd_scale != 0.0f && c->embd_scale != 1.0f) b->scale(b, s->x, (long)n * E, c->embd_scale);

    for (int l = 0; l < c->n_layer; l++) {
        const bk_layer *w = &b->w.layers[l];
        const float base = model_layer_rope_base(c, l);
        b->rmsnorm(b, s->xn, s->x, w->attn_norm, n, E, c->rms_eps);
        b->matmul(b, s->q_pre, s->xn, w->wq, n, E, H * d);
        b->matmul(b, s->k_pre, s->xn, w->wk, n, E, HKV * d);
        b->matmul(b, s->v, s->xn, w->wv, n, E, HKV * d);
        if (c->qk_norm) {
            b->norm_rows(b, s->q_pre, w->q_norm, n * H, d, c->rms_eps);
            b->norm_rows(b, s->k_pre, w->k_norm, n * HKV, d, c->rms_eps);
        }
        if (s->obs && s->obs->on_qk) observe_qk(s, l, pos0, n);
        b->copy(b, s->q, s->q_pre, (size_t)n * H * d * sizeof(float));
        b->copy(b, s->k, s->k_pre, (size_t)n * HKV * d * sizeof(float));
        b->rope(b, s->q, n, H, d, pos0, base, c->rope_style);
        b->rope(b, s->k, n, HKV, d, pos0, base, c->rope_style);
        b->kv_append(b, s->kv, l, pos0, n, s->k, s->v);
        bk_attn a = {.layer = l, .pos0 = pos0, .n = n, .window = c->layer[l].window, .q = s->q,
                     .q_pre = s->q_pre, .k_pre = s->k_pre, .out = s->att, .policy = s->policy + (size_t)l * H,
                     .obs = s->obs, .count = s->count + (size_t)l * H};
        b->attention(b, s->kv, &a);
        /* x += [postnorm] Wo att */
        b->matmul(b, s->y, s->att, w->wo, n, H * d, E);
        if (c->post_norms) b->norm_rows(b, s->y, w->post_attn_norm, n, E, c->rms_eps);
        b->add(b, s->x, s->y, (long)n * E);

        b->rmsnorm(b, s->xn, s->x, w->ffn_norm, n, E, c->rms_eps);
        b->matmul(b, s->ff_g, s->xn, w->w_gate, n, E, c->n_ff);
        b->matmul(b, s->ff_u, s->xn, w->w_up, n, E, c->n_ff);
        if (c->ffn_act == FFN_GELU_TANH) b->geglu(b, s->ff_h, s->ff_g, s->ff_u, (long)n * c->n_ff);
        else b->swiglu(b, s->ff_h, s->ff_g, s->ff_u, (long)n * c->n_ff);
        b->matmul(b, s->y, s->ff_h, w->w_down, n, c->n_ff, E);
        if (c->post_norms) b->norm_rows(b, s->y, w->post_ffn_norm, n, E, c->rms_eps);
        b->add(b, s->x, s->y, (long)n * E);
    }
    s->n_past += n;
}

/* 1 when every head is dense and nothing observes rows. */
static int dense_heads(const session *s)
{
    const model_config *c = &s->m->cfg;
    if (s->obs) return 0;
    for (int i = 0; i < c->n_layer * c->n_head; i++)
        if (s->policy[i] != &attn_dense) return 0;
    return 1;
}

/* 1 when no layer slides. */
static int no_sliding(const session *s)
{
    const model_config *c = &s->m->cfg;
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer[l].window) return 0;
    return 1;
}

/* 1 when every head is dense, no layer slides and nothing observes rows:
 * where the backend's whole-step decode applies, and its prefill chunk
 * (that one on sliding layers too where the backend says so). */
static int dense_only(const session *s)
{
    return dense_heads(s) && no_sliding(s);
}

/* One decode step through the backend's whole-step hook, where it applies
 * (dense_only). Counts what dense attention attends. 0 when the step must
 * run op by op. */
static int whole_step(session *s, int token, float *logits)
{
    const model_config *c = &s->m->cfg;
    backend *b = s->b;
    if (!b->decode || !b->decode_graph || !dense_only(s)) return 0;
    if (!b->decode(b, s->kv, token, s->n_past, logits)) return 0;
    for (int i = 0; i < c->n_layer * c->n_head; i++) {
        s->count[i].kept += s->n_past + 1;
        s->count[i].visible += s->n_past + 1;
    }
    s->n_past++;
    return 1;
}

void session_eval(session *s, const int *tokens, int n, float *logits, int n_logits)
{
    const model_config *c = &s->m->cfg;
    PB_CHECK(n >= 1 && s->n_past + n <= s->n_ctx, "eval of %d tokens at %d overflows the cache of %d",
             n, s->n_past, s->n_ctx);
    PB_CHECK(n_logits >= 0 && n_logits <= n, "n_logits %d > n %d", n_logits, n);
    for (int i = 0; i < n; i++)
        PB_CHECK(tokens[i] >= 0 && tokens[i] < c->n_vocab, "token id %d out of range", tokens[i]);
    if (n == 1 && whole_step(s, tokens[0], n_logits ? logits : NULL)) return;
    const int E = c->n_embd;
    int first_logit = n - n_logits;  /* index of the first token whose logits are wanted */
    const int long_chunk = dense_heads(s) && (s->b->prefill_sliding || no_sliding(s));
    const int chunk = s->b->prefill_batch && long_chunk ? s->dense_batch : s->max_batch;
    for (int t0 = 0, b; t0 < n; t0 += b) {
        b = n - t0 < chunk ? n - t0 : chunk;
        if (n - t0 - b == 1 && b > 1) b--;  /* no one-query chunk: that is a decode step (attention.h) */
        eval_chunk(s, tokens + t0, b);
        /* logits for the wanted positions inside this chunk */
        int lo = first_logit > t0 ? first_logit : t0;
        if (!logits || lo >= t0 + b) continue;
        int nl = t0 + b - lo;
        s->b->logits(s->b, logits + (size_t)(lo - first_logit) * c->n_vocab, s->x + (size_t)(lo - t0) * E, nl);
    }
}
