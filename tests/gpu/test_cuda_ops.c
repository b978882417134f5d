/* test_cuda_ops.c — each CUDA backend operation against its CPU twin (the
 * CPU backend), on fresh random inputs, with both outputs poisoned (NaN)
 * before the call so an unwritten element fails.
 *
 * Tolerances (‖out − ref‖ / ‖ref‖ unless said):
 *   - f32 in, f32 out, same arithmetic (add, RoPE): add exact; RoPE 1e-6
 *     (the angle and its double cos/sin are the CPU's; only libm ulps differ);
 *   - one bf16 rounding of the output (embed, RMSNorm, SwiGLU): 4e-3, twice
 *     the worst relative rounding 2^-9 = 1.95e-3;
 *   - bf16 operands (matmul with bf16 weights, attention with bf16 q/k/v and
 *     bf16 P before P·V, logits): 1e-2, METHOD.md's bound for bf16 kernels;
 *     random-sign roundings of 2^-9 at most give ~1e-3 expected.
 * Inputs to matmul are bf16-exact, so only the weights' rounding counts.
 */
#include <math.h>
#include <string.h>

#include "tests/fixture.h"
#include "tests/gpu/gpu.h"
#include "tests/test.h"

#define TOL_ROUND 4e-3
#define TOL_BF16 1e-2

#define OPEN_BACKENDS(G, C)                                   \
    backend *G = gpu_cuda(), *C = gpu_cpu();                  \
    CHECK_MSG(G != NULL, "no CUDA backend: %s", gpu_why())

/* A buffer on each backend holding the same host values (f32). */
typedef struct { void *g, *c; } pair;

static pair pair_up(backend *G, backend *C, const float *h, size_t n)
{
    pair p = {G->alloc(G, n * sizeof(float)), C->alloc(C, n * sizeof(float))};
    if (h) {
        G->upload(G, p.g, h, n * sizeof(float));
        C->upload(C, p.c, h, n * sizeof(float));
    }
    return p;
}

static void pair_free(backend *G, backend *C, pair p)
{
    G->free(G, p.g);
    C->free(C, p.c);
}

/* Output pair for n values of act (act = 1) or f32, both poisoned. */
static pair pair_out(backend *G, backend *C, size_t n, int act)
{
    pair p = {G->alloc(G, n * (act ? (size_t)G->act_bytes : 4)), C->alloc(C, n * (act ? (size_t)C->act_bytes : 4))};
    gpu_poison(G, p.g, n * (act ? (size_t)G->act_bytes : 4));
    gpu_poison(C, p.c, n * (act ? (size_t)C->act_bytes : 4));
    return p;
}

/* Reads both outputs back as f32 and compares the CUDA one with the CPU one. */
static gpu_err pair_compare(backend *G, backend *C, pair p, size_t n, int act, const char *what)
{
    float *g = pb_malloc(n * sizeof(float)), *c = pb_malloc(n * sizeof(float));
    if (act) {
        G->download_act(G, g, p.g, n);
        C->download_act(C, c, p.c, n);
    } else {
        G->download(G, g, p.g, n * sizeof(float));
        C->download(C, c, p.c, n * sizeof(float));
    }
    gpu_err e = gpu_compare(g, c, n);
    gpu_err ec = gpu_compare(c, c, n);  /* the CPU output must be complete too */
    e.n_bad += ec.n_bad;
    printf("    %-22s n %8zu  rel %.3e  max|d| %.3e  bad %zu\n", what, n, e.rel_l2, e.max_abs, e.n_bad);
    free(g);
    free(c);
    return e;
}

TEST(gpu_op_embed)
{
    OPEN_BACKENDS(G, C);
    const model_config *c = &fixture_model()->cfg;
    int ids[97];
    for (int i = 0; i < 97; i++) ids[i] = (int)rng_below(gpu_rng(), (uint64_t)c->n_vocab);
    size_t n = (size_t)97 * c->n_embd;
    pair y = pair_out(G, C, n, 0);
    G->embed(G, y.g, ids, 97);
    C->embed(C, y.c, ids, 97);
    gpu_err e = pair_compare(G, C, y, n, 0, "embed");
    pair_free(G, C, y);
    CHECK(e.n_bad == 0 && e.rel_l2 < TOL_ROUND);
}

TEST(gpu_op_rmsnorm)
{
    OPEN_BACKENDS(G, C);
    const model_config *c = &fixture_model()->cfg;
    const int n = 61, E = c->n_embd;
    float *x = pb_malloc((size_t)n * E * sizeof(float));
    gpu_fill(x, (size_t)n * E, -3.0f, 3.0f);
    pair px = pair_up(G, C, x, (size_t)n * E), y = pair_out(G, C, (size_t)n * E, 1);
    G->rmsnorm(G, y.g, px.g, G->w.layers[5].attn_norm, n, E, c->rms_eps);
    C->rmsnorm(C, y.c, px.c, C->w.layers[5].attn_norm, n, E, c->rms_eps);
    gpu_err e = pair_compare(G, C, y, (size_t)n * E, 1, "rmsnorm");
    pair_free(G, C, px);
    pair_free(G, C, y);
    free(x);
    CHECK(e.n_bad == 0 && e.rel_l2 < TOL_ROUND);
}

TEST(gpu_op_rope)
{
    OPEN_BACKENDS(G, C);
    const model_config *c = &fixture_model()->cfg;
    const int n = 45, H = c->n_head, d = c->head_dim, pos0 = 7000;  /* large angles */
    size_t N = (size_t)n * H * d;
    float *x = pb_malloc(N * sizeof(float));
    gpu_fill(x, N, -2.0f, 2.0f);
    pair p = pair_up(G, C, x, N);
    G->rope(G, p.g, n, H, d, pos0, c->rope_base, c->rope_style);
    C->rope(C, p.c, n, H, d, pos0, c->rope_base, c->rope_style);
    gpu_err e = pair_compare(G, C, p, N, 0, "rope");
    pair_free(G, C, p);
    free(x);
    CHECK(e.n_bad == 0 && e.rel_l2 < 1e-6);
}

/* One gated activation (swiglu, or geglu when geglu != 0) on both backends:
 * out (n) act = act(g) * u, gates drawn from [-glim, glim], u from [-2, 2]. */
static void gated_case(int geglu, float glim)
{
    OPEN_BACKENDS(G, C);
    const long n = 100003;
    float *g = pb_malloc((size_t)n * sizeof(float)), *u = pb_malloc((size_t)n * sizeof(float));
    gpu_fill(g, (size_t)n, -glim, glim);
    gpu_fill(u, (size_t)n, -2.0f, 2.0f);
    pair pg = pair_up(G, C, g, (size_t)n), pu = pair_up(G, C, u, (size_t)n), y = pair_out(G, C, (size_t)n, 1);
    (geglu ? G->geglu : G->swiglu)(G, y.g, pg.g, pu.g, n);
    (geglu ? C->geglu : C->swiglu)(C, y.c, pg.c, pu.c, n);
    gpu_err e = pair_compare(G, C, y, (size_t)n, 1, geglu ? "geglu" : "swiglu");
    pair_free(G, C, pg);
    pair_free(G, C, pu);
    pair_free(G, C, y);
    free(g);
    free(u);
    CHECK(e.n_bad == 0 && e.rel_l2 < TOL_ROUND);
}

TEST(gpu_op_swiglu) { gated_case(0, 8.0f); }

TEST(gpu_op_add)
{
    OPEN_BACKENDS(G, C);
    const long n = 576 * 37 + 3;   /* a tail past the float4 groups */
    float *x = pb_malloc((size_t)n * sizeof(float)), *y = pb_malloc((size_t)n * sizeof(float));
    gpu_fill(x, (size_t)n, -5.0f, 5.0f);
    gpu_fill(y, (size_t)n, -5.0f, 5.0f);
    pair px = pair_up(G, C, x, (size_t)n), py = pair_up(G, C, y, (size_t)n);
    G->add(G, px.g, py.g, n);
    C->add(C, px.c, py.c, n);
    gpu_err e = pair_compare(G, C, px, (size_t)n, 0, "add");
    pair_free(G, C, px);
    pair_free(G, C, py);
    free(x);
    free(y);
    CHECK(e.n_bad == 0 && e.max_abs == 0.0);
}

/* y = x W^T for the model's W of each shape, n rows (1: the decode shape). */
static int check_matmul(backend *G, backend *C, int n)
{
    const model_config *c = &fixture_model()->cfg;
    const int E = c->n_embd, F = c->n_ff, Q = c->n_head * c->head_dim;
    struct { const char *name; int in, out; const void *wg, *wc; } w[] = {
        {"matmul wq", E, Q, G->w.layers[2].wq, C->w.layers[2].wq},
        {"matmul w_gate", E, F, G->w.layers[11].w_gate, C->w.layers[11].w_gate},
        {"matmul w_down", F, E, G->w.layers[29].w_down, C->w.layers[29].w_down},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        size_t nx = (size_t)n * w[i].in, ny = (size_t)n * w[i].out;
        float *x = pb_malloc(nx * sizeof(float));
        gpu_fill(x, nx, -1.0f, 1.0f);
        gpu_round_bf16(x, nx);
        pair px = {G->alloc(G, nx * G->act_bytes), C->alloc(C, nx * C->act_bytes)};
        G->upload_act(G, px.g, x, nx);
        C->upload_act(C, px.c, x, nx);
        pair y = pair_out(G, C, ny, 0);
        G->matmul(G, y.g, px.g, w[i].wg, n, w[i].in, w[i].out);
        C->matmul(C, y.c, px.c, w[i].wc, n, w[i].in, w[i].out);
        char what[64];
        snprintf(what, sizeof what, "%s n=%d", w[i].name, n);
        gpu_err e = pair_compare(G, C, y, ny, 0, what);
        ok &= e.n_bad == 0 && e.rel_l2 < TOL_BF16;
        pair_free(G, C, px);
        pair_free(G, C, y);
        free(x);
    }
    return ok;
}

TEST(gpu_op_matmul)
{
    OPEN_BACKENDS(G, C);
    CHECK(check_matmul(G, C, 1));
    CHECK(check_matmul(G, C, 133));
}

/* Appends positions [p0, p1) of random k/v to both caches, in chunks of at most 256. */
static void append_random(backend *G, backend *C, bk_kv *kg, bk_kv *kc, int layer, int p0, int p1)
{
    const model_config *c = &fixture_model()->cfg;
    const size_t row = (size_t)c->n_head_kv * c->head_dim;
    for (int p = p0; p < p1; p += 256) {
        int n = p1 - p < 256 ? p1 - p : 256;
        float *k = pb_malloc((size_t)n * row * sizeof(float)), *v = pb_malloc((size_t)n * row * sizeof(float));
        gpu_fill(k, (size_t)n * row, -2.0f, 2.0f);
        gpu_fill(v, (size_t)n * row, -1.0f, 1.0f);
        pair pk = pair_up(G, C, k, (size_t)n * row), pv = pair_up(G, C, v, (size_t)n * row);
        G->kv_append(G, kg, layer, p, n, pk.g, pv.g);
        C->kv_append(C, kc, layer, p, n, pk.c, pv.c);
        pair_free(G, C, pk);
        pair_free(G, C, pv);
        free(k);
        free(v);
    }
}

/* Attention of n queries at pos0 (their k/v appended first) on both
 * backends, sliding with window W > 0; the density counts must agree too. */
static int check_attention_w(backend *G, backend *C, bk_kv *kg, bk_kv *kc, int layer, int pos0, int n, int W)
{
    const model_config *c = &fixture_model()->cfg;
    const size_t nq = (size_t)n * c->n_head * c->head_dim;
    append_random(G, C, kg, kc, layer, pos0, pos0 + n);
    float *q = pb_malloc(nq * sizeof(float));
    gpu_fill(q, nq, -2.0f, 2.0f);
    pair pq = pair_up(G, C, q, nq), out = pair_out(G, C, nq, 1);
    const attn_policy *pol[64];
    for (int h = 0; h < c->n_head; h++) pol[h] = &attn_dense;
    attn_count cg[64] = {{0}}, cc[64] = {{0}};
    bk_attn a = {.layer = layer, .pos0 = pos0, .n = n, .window = W, .q = pq.g, .out = out.g, .policy = pol,
                 .count = cg};
    G->attention(G, kg, &a);
    a.q = pq.c;
    a.out = out.c;
    a.count = cc;
    C->attention(C, kc, &a);
    char what[64];
    snprintf(what, sizeof what, W ? "attention %d@%d W%d" : "attention %d@%d", n, pos0, W);
    gpu_err e = pair_compare(G, C, out, nq, 1, what);
    int counts = 1;
    for (int h = 0; h < c->n_head; h++)
        counts &= cg[h].kept == cc[h].kept && cg[h].visible == cc[h].visible && cg[h].kept > 0;
    pair_free(G, C, pq);
    pair_free(G, C, out);
    free(q);
    return e.n_bad == 0 && e.rel_l2 < TOL_BF16 && counts;
}

static int check_attention(backend *G, backend *C, bk_kv *kg, bk_kv *kc, int layer, int pos0, int n)
{
    return check_attention_w(G, C, kg, kc, layer, pos0, n, 0);
}

/* KV append + attention: a prefill chunk over a longer cache (q_offset > 0,
 * rows not a multiple of the 128-row tile), a first chunk, and decode steps
 * (split-KV) at short and long contexts, in a layer other than 0. */
TEST(gpu_op_kv_append_attention)
{
    OPEN_BACKENDS(G, C);
    const int n_ctx = 2200, layer = 17;
    bk_kv *kg = G->kv_new(G, n_ctx), *kc = C->kv_new(C, n_ctx);
    int ok = check_attention(G, C, kg, kc, layer, 0, 200);      /* a first chunk */
    ok &= check_attention(G, C, kg, kc, layer, 200, 1);         /* decode at 201 keys */
    append_random(G, C, kg, kc, layer, 201, 1900);
    ok &= check_attention(G, C, kg, kc, layer, 1900, 173);      /* chunk over 1900 cached */
    ok &= check_attention(G, C, kg, kc, layer, 2073, 1);        /* decode at 2074 keys */
    G->kv_free(G, kg);
    C->kv_free(C, kc);
    CHECK(ok);
}

/* The same through a sliding window (the model's mask, as Gemma's sliding
 * layers pass it): a chunk whose window starts mid-cache, decode steps. */
TEST(gpu_op_attention_window)
{
    OPEN_BACKENDS(G, C);
    const int n_ctx = 1400, layer = 4, W = 300;
    bk_kv *kg = G->kv_new(G, n_ctx), *kc = C->kv_new(C, n_ctx);
    int ok = check_attention_w(G, C, kg, kc, layer, 0, 256, W);     /* a first chunk, wider than W */
    append_random(G, C, kg, kc, layer, 256, 1000);
    ok &= check_attention_w(G, C, kg, kc, layer, 1000, 201, W);     /* a chunk over a longer cache */
    ok &= check_attention_w(G, C, kg, kc, layer, 1201, 1, W);       /* decode: the last W keys */
    ok &= check_attention_w(G, C, kg, kc, layer, 1202, 1, 2000);    /* a window wider than the cache */
    G->kv_free(G, kg);
    C->kv_free(C, kc);
    CHECK(ok);
}

TEST(gpu_op_logits)
{
    OPEN_BACKENDS(G, C);
    const model_config *c = &fixture_model()->cfg;
    const int n = 5;
    size_t nx = (size_t)n * c->n_embd, nl = (size_t)n * c->n_vocab;
    float *x = pb_malloc(nx * sizeof(float));
    gpu_fill(x, nx, -3.0f, 3.0f);
    pair px = pair_up(G, C, x, nx);
    float *lg = pb_malloc(nl * sizeof(float)), *lc = pb_malloc(nl * sizeof(float));
    memset(lg, 0xff, nl * sizeof(float));
    memset(lc, 0xff, nl * sizeof(float));
    G->logits(G, lg, px.g, n);
    C->logits(C, lc, px.c, n);
    gpu_err e = gpu_compare(lg, lc, nl);
    e.n_bad += gpu_compare(lc, lc, nl).n_bad;
    printf("    %-22s n %8zu  rel %.3e  max|d| %.3e  bad %zu\n", "logits", nl, e.rel_l2, e.max_abs, e.n_bad);
    pair_free(G, C, px);
    free(x);
    free(lg);
    free(lc);
    CHECK(e.n_bad == 0 && e.rel_l2 < TOL_BF16);
}

/* The operations Gemma adds (QK-norm / post-norms, embedding scale, GeGLU,
 * half-split RoPE), through the fixture model's backends: both offer them
 * whatever model they were opened on. Tolerances as above. */

/* norm_rows in place over token rows (dim n_embd) and head rows (dim d). */
TEST(gpu_op_norm_rows)
{
    OPEN_BACKENDS(G, C);
    const model_config *c = &fixture_model()->cfg;
    const int dims[2] = {c->n_embd, c->head_dim}, rows[2] = {37, 37 * c->n_head};
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        size_t N = (size_t)rows[i] * dims[i];
        float *x = pb_malloc(N * sizeof(float));
        gpu_fill(x, N, -3.0f, 3.0f);
        pair p = pair_out(G, C, N, 0);  /* poisoned, then overwritten with x: a short write shows */
        G->upload(G, p.g, x, N * sizeof(float));
        C->upload(C, p.c, x, N * sizeof(float));
        G->norm_rows(G, p.g, G->w.layers[3].ffn_norm, rows[i], dims[i], c->rms_eps);
        C->norm_rows(C, p.c, C->w.layers[3].ffn_norm, rows[i], dims[i], c->rms_eps);
        gpu_err e = pair_compare(G, C, p, N, 0, i ? "norm_rows (heads)" : "norm_rows (tokens)");
        ok &= e.n_bad == 0 && e.rel_l2 < 2e-6;  /* f32 out; f32 sum of squares vs the CPU double: ~1e-7 */
        pair_free(G, C, p);
        free(x);
    }
    CHECK(ok);
}

TEST(gpu_op_scale)
{
    OPEN_BACKENDS(G, C);
    const long n = 640 * 31 + 5;
    float *x = pb_malloc((size_t)n * sizeof(float));
    gpu_fill(x, (size_t)n, -4.0f, 4.0f);
    pair p = pair_up(G, C, x, (size_t)n);
    G->scale(G, p.g, n, 25.298221f);
    C->scale(C, p.c, n, 25.298221f);
    gpu_err e = pair_compare(G, C, p, (size_t)n, 0, "scale");
    pair_free(G, C, p);
    free(x);
    CHECK(e.n_bad == 0 && e.max_abs == 0.0);  /* one rounded product each */
}

TEST(gpu_op_geglu) { gated_case(1, 6.0f); }

TEST(gpu_op_rope_neox)
{
    OPEN_BACKENDS(G, C);
    const model_config *c = &fixture_model()->cfg;
    const int n = 45, H = c->n_head, d = c->head_dim, pos0 = 31000;  /* Gemma-sized positions */
    size_t N = (size_t)n * H * d;
    float *x = pb_malloc(N * sizeof(float));
    gpu_fill(x, N, -2.0f, 2.0f);
    pair p = pair_up(G, C, x, N);
    G->rope(G, p.g, n, H, d, pos0, c->rope_base, ROPE_NEOX);
    C->rope(C, p.c, n, H, d, pos0, c->rope_base, ROPE_NEOX);
    gpu_err e = pair_compare(G, C, p, N, 0, "rope neox");
    pair_free(G, C, p);
    free(x);
    CHECK(e.n_bad == 0 && e.rel_l2 < 1e-6);
}
