/* forward.c — the CPU forward pass (forward.h), llama architecture:
 *
 *   x = embed(tokens)
 *   per layer: h = x + Wo · attn(rope(Wq·rms(x)), rope(Wk·rms(x)), Wv·rms(x))
 *              x = h + Wdown · (silu(Wgate·rms(h)) ⊙ Wup·rms(h))
 *   logits = Wout · rms(x)
 *
 * Long inputs are processed in chunks of max_batch tokens so scratch stays
 * small; each chunk attends to everything cached before it.
 *
 * KV storage per (layer, KV head): a full cache (row = position) or a ring
 * of S sink rows + W window rows (row of position p ≥ S: S + (p−S) mod W).
 * A chunk is stored into full caches before attention and into rings after
 * it, so the chunk's early queries still read the window positions its later
 * tokens overwrite; the chunk's own rows are read from scratch meanwhile.
 */
#include "forward.h"

#include <math.h>
#include <string.h>

#include "ops.h"

/* Capacity in rows of a head's cache. */
static int kv_rows(const session *s, int i)
{
    return s->ring[i].window ? s->ring[i].n_sink + s->ring[i].window : s->n_ctx;
}

static void kv_alloc(session *s)
{
    const model_config *c = &s->m->cfg;
    size_t rows = 0;
    for (int i = 0; i < c->n_layer * c->n_head_kv; i++) {
        s->kv_off[i] = rows;
        rows += (size_t)kv_rows(s, i);
    }
    free(s->kc);
    free(s->vc);
    s->kc = pb_malloc(rows * c->head_dim * sizeof(float));
    s->vc = pb_malloc(rows * c->head_dim * sizeof(float));
}

session *session_new(const model *m, int n_ctx)
{
    const model_config *c = &m->cfg;
    session *s = pb_calloc(1, sizeof *s);
    s->m = m;
    s->n_ctx = n_ctx;
    s->max_batch = 256;
    const int n_kvh = c->n_layer * c->n_head_kv, n_h = c->n_layer * c->n_head;
    s->kv_off = pb_malloc((size_t)n_kvh * sizeof *s->kv_off);
    s->ring = pb_calloc((size_t)n_kvh, sizeof *s->ring);
    kv_alloc(s);
    s->policy = pb_malloc((size_t)n_h * sizeof *s->policy);
    for (int i = 0; i < n_h; i++) s->policy[i] = &attn_dense;
    s->count = pb_calloc((size_t)n_h, sizeof *s->count);
    size_t B = (size_t)s->max_batch;
    s->x = pb_malloc(B * c->n_embd * sizeof(float));
    s->xn = pb_malloc(B * c->n_embd * sizeof(float));
    s->q = pb_malloc(B * c->n_head * c->head_dim * sizeof(float));
    s->k = pb_malloc(B * c->n_head_kv * c->head_dim * sizeof(float));
    s->v = pb_malloc(B * c->n_head_kv * c->head_dim * sizeof(float));
    s->q_pre = pb_malloc(B * c->n_head * c->head_dim * sizeof(float));
    s->k_pre = pb_malloc(B * c->n_head_kv * c->head_dim * sizeof(float));
    s->att = pb_malloc(B * c->n_head * c->head_dim * sizeof(float));
    s->ff_g = pb_malloc(B * c->n_ff * sizeof(float));
    s->ff_u = pb_malloc(B * c->n_ff * sizeof(float));
    s->scores = pb_malloc(attn_scratch_floats(n_ctx) * sizeof(float));
    return s;
}

void session_free(session *s)
{
    if (!s) return;
    float *ps[] = {s->kc, s->vc, s->x, s->xn, s->q, s->k, s->v, s->q_pre, s->k_pre, s->att, s->ff_g, s->ff_u,
                   s->scores};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(ps[i]);
    for (int i = 0; i < s->n_owned; i++)
        if (s->owned[i]->destroy) s->owned[i]->destroy(s->owned[i]);
    free(s->owned);
    free(s->kv_off);
    free(s->ring);
    free(s->policy);
    free(s->count);
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
    const model_config *c = &s->m->cfg;
    for (int i = 0; i < c->n_layer * c->n_head_kv; i++) {
        kv_ring r = layout[i];
        PB_CHECK(r.n_sink >= 0 && r.window >= 0, "bad ring (%d, %d)", r.n_sink, r.window);
        if (r.window == 0 || r.n_sink + r.window >= s->n_ctx) r = (kv_ring){0, 0};
        s->ring[i] = r;
    }
    kv_alloc(s);
    session_reset(s);
}

size_t session_kv_bytes(const session *s)
{
    const model_config *c = &s->m->cfg;
    size_t rows = 0;
    for (int i = 0; i < c->n_layer * c->n_head_kv; i++) rows += (size_t)kv_rows(s, i);
    return 2 * rows * c->head_dim * sizeof(float);
}

size_t session_kv_bytes_full(const session *s)
{
    const model_config *c = &s->m->cfg;
    return 2 * (size_t)c->n_layer * c->n_head_kv * (size_t)s->n_ctx * c->head_dim * sizeof(float);
}

double session_density(const session *s, attn_count *per_head)
{
    const model_config *c = &s->m->cfg;
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
    memset(s->count, 0, (size_t)c->n_layer * c->n_head * sizeof *s->count);
}

/* Row of position p in a ring of S sinks + W window slots. */
static int ring_slot(kv_ring r, int p)
{
    return p < r.n_sink ? p : r.n_sink + (p - r.n_sink) % r.window;
}

/* Stores k/v rows (n, n_head_kv, d) of layer l at positions pos0.. for the
 * KV heads whose storage is `ring_heads` (0: full caches, 1: rings). A ring
 * keeps the sinks and the last W of the positions. */
static void cache_store(session *s, int l, int pos0, int n, int ring_heads)
{
    const model_config *c = &s->m->cfg;
    const int d = c->head_dim;
    for (int h = 0; h < c->n_head_kv; h++) {
        kv_ring r = s->ring[l * c->n_head_kv + h];
        if ((r.window != 0) != ring_heads) continue;
        float *kh = s->kc + s->kv_off[l * c->n_head_kv + h] * d;
        float *vh = s->vc + s->kv_off[l * c->n_head_kv + h] * d;
        for (int t = 0; t < n; t++) {
            int p = pos0 + t;
            if (r.window && p >= r.n_sink && p < pos0 + n - r.window) continue;  /* overwritten anyway */
            size_t row = (size_t)(r.window ? ring_slot(r, p) : p) * d;
            memcpy(kh + row, s->k + ((size_t)t * c->n_head_kv + h) * d, d * sizeof(float));
            memcpy(vh + row, s->v + ((size_t)t * c->n_head_kv + h) * d, d * sizeof(float));
        }
    }
}

/* The readable positions of KV head (l, h) for a chunk of n tokens at pos0:
 * a full cache is one span; a ring gives its sinks, its window (at most two
 * runs of slots) and the chunk's own rows, still in scratch. */
static int kv_spans(const session *s, int l, int h, int pos0, int n, attn_span *sp)
{
    const model_config *c = &s->m->cfg;
    const int d = c->head_dim, HKV = c->n_head_kv;
    kv_ring r = s->ring[l * HKV + h];
    const float *kh = s->kc + s->kv_off[l * HKV + h] * d, *vh = s->vc + s->kv_off[l * HKV + h] * d;
    if (!r.window) {
        sp[0] = (attn_span){0, pos0 + n, kh, vh, d};
        return 1;
    }
    int ns = 0;
    int sink_end = pos0 < r.n_sink ? pos0 : r.n_sink;
    if (sink_end > 0) sp[ns++] = (attn_span){0, sink_end, kh, vh, d};
    int a = pos0 - r.window > r.n_sink ? pos0 - r.window : r.n_sink;  /* oldest window position held */
    while (a < pos0) {
        int slot = ring_slot(r, a);
        int run = r.n_sink + r.window - slot;
        if (run > pos0 - a) run = pos0 - a;
        sp[ns++] = (attn_span){a, run, kh + (size_t)slot * d, vh + (size_t)slot * d, d};
        a += run;
    }
    sp[ns++] = (attn_span){pos0, n, s->k + (size_t)h * d, s->v + (size_t)h * d, HKV * d};
    return ns;
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
        cpu_matmul(s->q_pre, s->xn, w->wq, n, E, H * d);
        cpu_matmul(s->k_pre, s->xn, w->wk, n, E, HKV * d);
        cpu_matmul(s->v, s->xn, w->wv, n, E, HKV * d);
        if (s->obs && s->obs->on_qk) s->obs->on_qk(s->obs->user, l, pos0, n, s->q_pre, s->k_pre);
        memcpy(s->q, s->q_pre, (size_t)n * H * d * sizeof(float));
        memcpy(s->k, s->k_pre, (size_t)n * HKV * d * sizeof(float));
        cpu_rope(s->q, n, H, d, pos0, c->rope_base);
        cpu_rope(s->k, n, HKV, d, pos0, c->rope_base);
        cache_store(s, l, pos0, n, 0);  /* full caches now; rings after attention */

        for (int h = 0; h < H; h++) {
            const attn_policy *p = s->policy[l * H + h];
            int kvh = h / (H / HKV);
            if (p->on_append)
                p->on_append(p, l, h, kvh, pos0, n, s->k_pre + (size_t)kvh * d, s->k + (size_t)kvh * d, HKV * d);
        }
        for (int h = 0; h < H; h++) {
            int kvh = h / (H / HKV);
            attn_call call = {
                .layer = l, .head = h, .kv_head = kvh, .d = d,
                .q_pos0 = pos0, .n_q = n, .n_kv = pos0 + n,
                .q = s->q + (size_t)h * d, .ldq = H * d,
                .q_pre = s->q_pre + (size_t)h * d, .ldq_pre = H * d,
                .out = s->att + (size_t)h * d, .ldo = H * d,
                .scale = 1.0f / sqrtf((float)d),
            };
            call.n_span = kv_spans(s, l, kvh, pos0, n, call.span);
            if (!s->ring[l * HKV + kvh].window) {
                call.k = call.span[0].k;
                call.v = call.span[0].v;
            }
            const attn_policy *p = s->policy[l * H + h];
            attn_count *cnt = &s->count[l * H + h];
            cnt->kept += p->run(p, &call, s->obs, s->scores);
            cnt->visible += (long long)n * pos0 + (long long)n * (n + 1) / 2;
        }
        cache_store(s, l, pos0, n, 1);
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
