/* backend_cpu.c — the CPU backend (backend.h): the reference path.
 *
 * Every operation is the kernels/cpu one (ops.h) on host f32 buffers, act
 * included, with the model's own f32 arrays as weight handles, so a forward
 * pass through this backend computes exactly what the plain loops did
 * (the golden tests stay bit-identical). Attention hands one attn_call per
 * (layer, query head) to that head's policy (attention.h).
 *
 * KV cache per (layer, KV head): a full cache (row = position; one
 * contiguous (n_ctx, d) block for the policies; without rings the layout is
 * (n_layer, n_head_kv, n_ctx, head_dim) as always) or a ring of S sink rows
 * + W window rows (row of position p ≥ S: S + (p−S) mod W). A chunk is
 * stored into full caches at kv_append and into rings after attention.
 *
 * Product mode bf16 (backend.h, opt-in): the layers' seven matrices are
 * packed as bf16 at open and products of several rows go to
 * kernels/gemm_bf16.h instead of BLAS; decode's one-row products and the
 * output matrix (logits of a few rows) are as in f32 mode, so the tied
 * 262,144 x 640 embedding is not packed.
 */
#include "run/backend.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "model/gguf.h"
#include "kernels/gemm_bf16.h"
#include "kernels/ops.h"
#include "kernels/pool.h"

struct bk_kv {
    int n_ctx;
    float *kc, *vc;     /* per (layer, KV head): rows of d floats from row kv_off[i] */
    size_t *kv_off;     /* [n_layer * n_head_kv] */
    kv_ring *ring;      /* [n_layer * n_head_kv] storage of each head */
    float *scores;      /* attn_scratch_floats(n_ctx) for each pool thread */
    const float *k, *v; /* the chunk being attended: (n, n_head_kv, d), until its rings are stored */
};

/* A matrix weight handle: the model's f32 copy (products of several rows go
 * to BLAS), in bf16 mode a packed bf16 copy (those products go to it
 * instead) and, where the file's type has a quantized product, the file's
 * own blocks (one-row products, i.e. decode, read those: 5 bits a weight
 * instead of 32). Vectors (norm weights) are plain f32 pointers. */
typedef struct {
    const float *f;     /* (out, in) */
    const void *q;      /* GGUF blocks of type qtype, or NULL */
    uint32_t qtype;
    bf16_matrix bf;     /* bf16 mode: (out, in) packed; else bf.p NULL */
} cpu_weight;

typedef struct {
    float *xn;          /* logits scratch: (cap, n_embd) */
    int cap;
    float *parts;       /* dense decode's parts (dense_decode), parts_cap floats */
    size_t parts_cap;
    cpu_weight *weights;    /* [7 * n_layer + 1] matrix handles, output last */
    void *bf_x;             /* bf16 mode: the products' inputs as bf16, bf_x_cap bytes */
    size_t bf_x_cap;
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
    const cpu_weight *cw = w;
    if (n == 1 && cw->q && cpu_gemv_quant(y, cw->q, cw->qtype, x, in, out)) return;
    if (n > 1 && cw->bf.p) {
        PB_CHECK(cw->bf.in == in && cw->bf.out == out, "product (%d, %d) on a packed (%d, %d) matrix", in, out,
                 cw->bf.in, cw->bf.out);
        cpu_state *st = b->impl;
        const size_t need = gemm_bf16_scratch_bytes(n, in);
        if (need > st->bf_x_cap) { /* grows with the chunk, kept across products */
            free(st->bf_x);
            st->bf_x = pb_malloc(need);
            st->bf_x_cap = need;
        }
        gemm_bf16_par(y, x, &cw->bf, n, st->bf_x);
        return;
    }
    cpu_matmul_par(y, x, cw->f, n, in, out);
}

/* The handle of a matrix: its f32 copy, and its file blocks when the
 * tensor's type has a quantized product. */
static cpu_weight weight_of(const model *m, const float *f, const char *name)
{
    cpu_weight w = {f, NULL, 0, {0}};
    const gguf_tensor *t = m->file ? gguf_find_tensor(m->file, name) : NULL;  /* no file: made-up weights */
    if (t && cpu_gemv_supported(t->type)) {
        w.q = t->data;
        w.qtype = t->type;
    }
    return w;
}

static void cpu_rmsnorm_op(backend *b, void *y, const float *x, const void *w, int n, int dim, float eps)
{
    (void)b;
    cpu_rmsnorm_par(y, x, w, n, dim, eps);
}

static void cpu_rope_op(backend *b, float *x, int n, int n_heads, int d, int pos0, float base, int style)
{
    (void)b;
    cpu_rope_par(x, n, n_heads, d, pos0, base, style == ROPE_NEOX);
}

static void cpu_norm_rows(backend *b, float *x, const void *w, int n, int dim, float eps)
{
    (void)b;
    cpu_rmsnorm_par(x, x, w, n, dim, eps);
}

static void cpu_scale_op(backend *b, float *x, long n, float s)
{
    (void)b;
    cpu_scale(x, n, s);
}

static void cpu_geglu_op(backend *b, void *out, const float *g, const float *u, long n)
{
    (void)b;
    if (out != g) memcpy(out, g, (size_t)n * sizeof(float));
    cpu_gated_par(out, u, n, 1);
}

static void cpu_swiglu_op(backend *b, void *out, const float *g, const float *u, long n)
{
    (void)b;
    if (out != g) memcpy(out, g, (size_t)n * sizeof(float));
    cpu_gated_par(out, u, n, 0);
}

static void cpu_add(backend *b, float *x, const float *y, long n)
{
    (void)b;
    for (long i = 0; i < n; i++) x[i] += y[i];
}

/* Capacity in rows of cache i. */
static int kv_rows(const bk_kv *kv, int i)
{
    return kv->ring[i].window ? kv->ring[i].n_sink + kv->ring[i].window : kv->n_ctx;
}

static size_t kv_alloc(backend *b, bk_kv *kv)
{
    const model_config *c = &b->m->cfg;
    size_t rows = 0;
    for (int i = 0; i < c->n_layer * c->n_head_kv; i++) {
        kv->kv_off[i] = rows;
        rows += (size_t)kv_rows(kv, i);
    }
    free(kv->kc);
    free(kv->vc);
    kv->kc = pb_malloc(rows * c->head_dim * sizeof(float));
    kv->vc = pb_malloc(rows * c->head_dim * sizeof(float));
    return rows;
}

static bk_kv *cpu_kv_new(backend *b, int n_ctx)
{
    const model_config *c = &b->m->cfg;
    bk_kv *kv = pb_calloc(1, sizeof *kv);
    kv->n_ctx = n_ctx;
    kv->kv_off = pb_malloc((size_t)c->n_layer * c->n_head_kv * sizeof *kv->kv_off);
    kv->ring = pb_calloc((size_t)c->n_layer * c->n_head_kv, sizeof *kv->ring);
    kv_alloc(b, kv);
    kv->scores = pb_malloc(attn_scratch_floats(n_ctx) * cpu_pool_threads() * sizeof(float));
    return kv;
}

static void cpu_kv_free(backend *b, bk_kv *kv)
{
    (void)b;
    if (!kv) return;
    free(kv->kc);
    free(kv->vc);
    free(kv->kv_off);
    free(kv->ring);
    free(kv->scores);
    free(kv);
}

static int cpu_kv_layout(backend *b, bk_kv *kv, const kv_ring *layout)
{
    const model_config *c = &b->m->cfg;
    for (int i = 0; i < c->n_layer * c->n_head_kv; i++) {
        kv_ring r = layout[i];
        PB_CHECK(r.n_sink >= 0 && r.window >= 0, "bad ring (%d, %d)", r.n_sink, r.window);
        if (r.window == 0 || r.n_sink + r.window >= kv->n_ctx) r = (kv_ring){0, 0};
        kv->ring[i] = r;
    }
    kv_alloc(b, kv);
    return 1;
}

static size_t cpu_kv_bytes(backend *b, const bk_kv *kv, int full)
{
    const model_config *c = &b->m->cfg;
    size_t rows = 0;
    for (int i = 0; i < c->n_layer * c->n_head_kv; i++) rows += full ? (size_t)kv->n_ctx : (size_t)kv_rows(kv, i);
    return 2 * rows * c->head_dim * sizeof(float);
}

/* Row of position p in a ring of S sinks + W window slots. */
static int ring_slot(kv_ring r, int p)
{
    return p < r.n_sink ? p : r.n_sink + (p - r.n_sink) % r.window;
}

/* Stores k/v rows (n, n_head_kv, d) of layer l at positions pos0.. for the
 * KV heads whose storage is `ring_heads` (0: full caches, 1: rings). A ring
 * keeps the sinks and the last W of the positions. */
static void cache_store(backend *b, bk_kv *kv, int l, int pos0, int n, int ring_heads)
{
    const model_config *c = &b->m->cfg;
    const int d = c->head_dim, HKV = c->n_head_kv;
    for (int h = 0; h < HKV; h++) {
        kv_ring r = kv->ring[l * HKV + h];
        if ((r.window != 0) != ring_heads) continue;
        float *kh = kv->kc + kv->kv_off[l * HKV + h] * d;
        float *vh = kv->vc + kv->kv_off[l * HKV + h] * d;
        for (int t = 0; t < n; t++) {
            int p = pos0 + t;
            if (r.window && p >= r.n_sink && p < pos0 + n - r.window) continue;  /* overwritten anyway */
            size_t row = (size_t)(r.window ? ring_slot(r, p) : p) * d;
            memcpy(kh + row, kv->k + ((size_t)t * HKV + h) * d, d * sizeof(float));
            memcpy(vh + row, kv->v + ((size_t)t * HKV + h) * d, d * sizeof(float));
        }
    }
}

/* Full caches take the chunk now; rings after attention (cpu_attention),
 * so the chunk's early queries still read the window positions its later
 * tokens overwrite: until then the chunk's rows are read from k, v. */
static void cpu_kv_append(backend *b, bk_kv *kv, int l, int pos0, int n, const float *k, const float *v)
{
    PB_CHECK(pos0 + n <= kv->n_ctx, "KV append at %d + %d beyond %d", pos0, n, kv->n_ctx);
    kv->k = k;
    kv->v = v;
    cache_store(b, kv, l, pos0, n, 0);
}

/* The readable positions of KV head (l, h) for a chunk of n tokens at pos0:
 * a full cache is one span; a ring gives its sinks, its window (at most two
 * runs of slots) and the chunk's own rows. */
static int kv_spans(backend *b, const bk_kv *kv, int l, int h, int pos0, int n, attn_span *sp)
{
    const model_config *c = &b->m->cfg;
    const int d = c->head_dim, HKV = c->n_head_kv;
    kv_ring r = kv->ring[l * HKV + h];
    const float *kh = kv->kc + kv->kv_off[l * HKV + h] * d, *vh = kv->vc + kv->kv_off[l * HKV + h] * d;
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
    sp[ns++] = (attn_span){pos0, n, kv->k + (size_t)h * d, kv->v + (size_t)h * d, HKV * d};
    return ns;
}

/* The attn_call of query head h for the chunk's queries q0 .. q0+nq-1. */
static attn_call head_call(backend *b, bk_kv *kv, const bk_attn *a, int h, int q0, int nq)
{
    const model_config *c = &b->m->cfg;
    const int d = c->head_dim, H = c->n_head, HKV = c->n_head_kv, l = a->layer, pos0 = a->pos0;
    int kvh = h / (H / HKV);
    attn_call call = {
        .layer = l, .head = h, .kv_head = kvh, .d = d,
        .q_pos0 = pos0 + q0, .n_q = nq, .n_kv = pos0 + q0 + nq, .window = a->window,
        .q = a->q + (size_t)q0 * H * d + (size_t)h * d, .ldq = H * d,
        .q_pre = a->q_pre + (size_t)q0 * H * d + (size_t)h * d, .ldq_pre = H * d,
        .out = (float *)a->out + (size_t)q0 * H * d + (size_t)h * d, .ldo = H * d,
        .scale = 1.0f / sqrtf((float)d),
    };
    call.n_span = kv_spans(b, kv, l, kvh, pos0, a->n, call.span);
    if (!kv->ring[l * HKV + kvh].window) {
        call.k = call.span[0].k;
        call.v = call.span[0].v;
        call.span[0].n = call.n_kv;
    }
    return call;
}

/* Dense heads split over the CPU pool: one task per (head, run of
 * ATTN_QBLOCK-aligned query blocks). The dense policy forms each block of
 * queries alone (its own products, softmax and mask), and BLAS runs on one
 * thread inside a task, so a block computes the same values in whichever
 * task it lands, whatever the thread count (with one thread too). */
typedef struct {
    backend *b;
    bk_kv *kv;
    const bk_attn *a;
    int rows;           /* queries per task, a multiple of ATTN_QBLOCK */
    int per_head;       /* tasks per head */
    long long *kept;    /* [n_head * per_head] */
} attn_job;

static void attn_task(void *arg, int i, int thread)
{
    attn_job *j = arg;
    int h = i / j->per_head, q0 = (i % j->per_head) * j->rows;
    int nq = j->a->n - q0 < j->rows ? j->a->n - q0 : j->rows;
    attn_call call = head_call(j->b, j->kv, j->a, h, q0, nq);
    float *scratch = j->kv->scores + (size_t)thread * attn_scratch_floats(j->kv->n_ctx);
    j->kept[i] = attn_dense.run(&attn_dense, &call, NULL, scratch);
}

/* One decode query per head on a dense layer: one task per (KV head, key
 * chunk) with every query head of that KV head (attn_decode_group.c), then
 * each head's parts joined. The chunks follow the key count, not the
 * thread count. */
typedef struct {
    bk_kv *kv;
    const bk_attn *a;
    int d, G, HKV;
    int lo, nk, chunks;  /* the visible keys [lo, lo + nk) and their chunks */
    float scale;
    float *parts;        /* [HKV][chunks][G][d + 2] */
} decode_job;

static void decode_task(void *arg, int i, int thread)
{
    decode_job *j = arg;
    const int d = j->d, G = j->G, kvh = i / j->chunks, ch = i % j->chunks;
    const int k0 = j->lo + ch * ATTN_DECODE_CHUNK, left = j->lo + j->nk - k0;
    const int n = left < ATTN_DECODE_CHUNK ? left : ATTN_DECODE_CHUNK;
    const size_t off = (j->kv->kv_off[j->a->layer * j->HKV + kvh] + (size_t)k0) * d;
    float *scratch = j->kv->scores + (size_t)thread * attn_scratch_floats(j->kv->n_ctx);
    attn_decode_chunk(G, d, j->scale, j->a->q + (size_t)kvh * G * d, d, j->kv->kc + off, j->kv->vc + off, n,
                      scratch, j->parts + (size_t)i * G * (d + 2));
}

static void dense_decode(backend *b, bk_kv *kv, const bk_attn *a)
{
    const model_config *c = &b->m->cfg;
    const int d = c->head_dim, H = c->n_head, HKV = c->n_head_kv, G = H / HKV;
    attn_call call = head_call(b, kv, a, 0, 0, 1);  /* every head sees the same keys */
    int lo = call.window && call.q_pos0 - call.window + 1 > 0 ? call.q_pos0 - call.window + 1 : 0;
    decode_job j = {kv, a, d, G, HKV, lo, call.n_kv - lo, attn_decode_chunks(call.n_kv - lo), call.scale, NULL};
    cpu_state *st = b->impl;
    const size_t need = (size_t)HKV * j.chunks * G * (d + 2);
    if (need > st->parts_cap) { /* grows with the context, kept across layers and steps */
        free(st->parts);
        st->parts = pb_malloc(need * sizeof(float));
        st->parts_cap = need;
    }
    j.parts = st->parts;
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    cpu_pool_for(HKV * j.chunks, decode_task, &j);
    openblas_set_num_threads(blas);
    for (int h = 0; h < H; h++) {
        const float *first = j.parts + ((size_t)(h / G) * j.chunks * G + h % G) * (d + 2);
        attn_decode_join(j.chunks, d, first, (long)G * (d + 2), (float *)a->out + (size_t)h * d);
        if (a->count) {
            a->count[h].kept += j.nk;
            a->count[h].visible += attn_visible_pairs(a->pos0, 1, a->window);
        }
    }
}

/* The policy head h runs for the call: its own, or dense in a phase it does
 * not act in (attention.h). */
static const attn_policy *acting(const bk_attn *a, int h)
{
    const attn_policy *p = a->policy[h];
    return attn_phase_acts(p->desc.phase, a->n) ? p : &attn_dense;
}

/* 1 when every head of the layer is dense on a full cache and nothing
 * observes rows: the heads may then run in parallel. */
static int dense_layer(backend *b, const bk_kv *kv, const bk_attn *a)
{
    const model_config *c = &b->m->cfg;
    if (a->obs && a->obs->on_rows) return 0;
    for (int h = 0; h < c->n_head; h++)
        if (acting(a, h) != &attn_dense) return 0;
    for (int h = 0; h < c->n_head_kv; h++)
        if (kv->ring[a->layer * c->n_head_kv + h].window) return 0;
    return 1;
}

static void cpu_attention(backend *b, bk_kv *kv, const bk_attn *a)
{
    const model_config *c = &b->m->cfg;
    const int d = c->head_dim, H = c->n_head, HKV = c->n_head_kv, l = a->layer, n = a->n, pos0 = a->pos0;
    for (int h = 0; h < H; h++) {
        const attn_policy *p = a->policy[h];
        int kvh = h / (H / HKV);
        if (p->on_append)
            p->on_append(p, l, h, kvh, pos0, n, a->k_pre + (size_t)kvh * d, kv->k + (size_t)kvh * d, HKV * d);
    }
    const int dense = dense_layer(b, kv, a);
    if (dense && n == 1) {
        dense_decode(b, kv, a);
        cache_store(b, kv, l, pos0, n, 1);
        return;
    }
    if (dense) {
        const int T = cpu_pool_threads(), blocks = (n + ATTN_QBLOCK - 1) / ATTN_QBLOCK;
        /* about 4 tasks a thread, whole query blocks each */
        int per_head = (4 * T + H - 1) / H;
        if (per_head > blocks) per_head = blocks;
        int rows = (blocks + per_head - 1) / per_head * ATTN_QBLOCK;
        per_head = (n + rows - 1) / rows;
        long long kept_buf[256];
        long long *kept = H * per_head <= 256 ? kept_buf : pb_malloc((size_t)H * per_head * sizeof *kept);
        attn_job j = {b, kv, a, rows, per_head, kept};
        int blas = openblas_get_num_threads();
        openblas_set_num_threads(1);
        cpu_pool_for(H * per_head, attn_task, &j);
        openblas_set_num_threads(blas);
        for (int h = 0; h < H && a->count; h++) {
            for (int t = 0; t < per_head; t++) a->count[h].kept += kept[h * per_head + t];
            a->count[h].visible += attn_visible_pairs(pos0, n, a->window);
        }
        if (kept != kept_buf) free(kept);
        cache_store(b, kv, l, pos0, n, 1);
        return;
    }
    for (int h = 0; h < H; h++) {
        attn_call call = head_call(b, kv, a, h, 0, n);
        const attn_policy *p = acting(a, h);
        long long kept = p->run(p, &call, a->obs, kv->scores);
        if (a->count) {
            a->count[h].kept += kept;
            a->count[h].visible += attn_visible_pairs(pos0, n, a->window);
        }
    }
    cache_store(b, kv, l, pos0, n, 1);
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
    cpu_matmul_op(b, out, st->xn, b->w.output, n, c->n_embd, c->n_vocab);
}

static void cpu_close(backend *b)
{
    cpu_state *st = b->impl;
    for (int i = 0; i < 7 * b->m->cfg.n_layer; i++) gemm_bf16_free(&st->weights[i].bf);
    free(st->xn);
    free(st->parts);
    free(st->bf_x);
    free(st->weights);
    free(st);
    free(b->w.layers);
    free(b);
}

backend *backend_cpu_new(const model *m)
{
    pb_err err;
    int products = backend_cpu_products(&err);
    if (products < 0) pb_die_input(&err);
    return backend_cpu_new_mode(m, products);
}

backend *backend_cpu_new_mode(const model *m, int products)
{
    PB_CHECK(products == CPU_PRODUCTS_F32 || gemm_bf16_usable(), "bf16 products on a CPU without AVX-512 BF16");
    backend *b = pb_calloc(1, sizeof *b);
    b->name = "cpu";
    b->products = backend_cpu_products_name(products);
    snprintf(b->device, sizeof b->device, "cpu");
    b->act_bytes = (int)sizeof(float);
    b->neox_rope = 1;
    b->sliding = 1;
    b->prefill_batch = 1024;  /* dense prefill: the f32 weights are read (BLAS packs them) once per 1K tokens */
    b->prefill_sliding = 1;
    b->m = m;
    cpu_state *st = pb_calloc(1, sizeof(cpu_state));
    b->impl = st;
    const int L = m->cfg.n_layer;
    st->weights = pb_malloc(((size_t)7 * L + 1) * sizeof *st->weights);
    st->weights[7 * L] = weight_of(m, m->output, m->tied_output ? "token_embd.weight" : "output.weight");
    b->w.tok_embd = m->tok_embd;
    b->w.out_norm = m->out_norm;
    b->w.output = &st->weights[7 * L];
    b->w.layers = pb_malloc((size_t)L * sizeof *b->w.layers);
    static const char *names[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    for (int l = 0; l < L; l++) {
        const layer_weights *w = &m->layers[l];
        const float *f[7] = {w->wq, w->wk, w->wv, w->wo, w->w_gate, w->w_up, w->w_down};
        const int E = m->cfg.n_embd, QD = m->cfg.n_head * m->cfg.head_dim, KD = m->cfg.n_head_kv * m->cfg.head_dim;
        const int shape[7][2] = {{QD, E}, {KD, E}, {KD, E}, {E, QD}, {m->cfg.n_ff, E}, {m->cfg.n_ff, E},
                                 {E, m->cfg.n_ff}}; /* (out, in) */
        cpu_weight *h = &st->weights[7 * l];
        for (int i = 0; i < 7; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, names[i]);
            h[i] = weight_of(m, f[i], name);
            if (products == CPU_PRODUCTS_BF16) gemm_bf16_pack(&h[i].bf, f[i], shape[i][0], shape[i][1]);
        }
        b->w.layers[l] = (bk_layer){w->attn_norm, &h[0], &h[1], &h[2], &h[3], w->ffn_norm, &h[4], &h[5], &h[6],
                                    w->q_norm, w->k_norm, w->post_attn_norm, w->post_ffn_norm};
    }
    b->alloc = cpu_alloc;
    b->free = cpu_free;
    b->upload = cpu_copy;
    b->download = cpu_copy;
    b->copy = cpu_copy;
    b->upload_act = cpu_upload_act;
    b->download_act = cpu_download_act;
    b->embed = cpu_embed;
    b->matmul = cpu_matmul_op;
    b->rmsnorm = cpu_rmsnorm_op;
    b->rope = cpu_rope_op;
    b->swiglu = cpu_swiglu_op;
    b->norm_rows = cpu_norm_rows;
    b->scale = cpu_scale_op;
    b->geglu = cpu_geglu_op;
    b->add = cpu_add;
    b->kv_new = cpu_kv_new;
    b->kv_free = cpu_kv_free;
    b->kv_layout = cpu_kv_layout;
    b->kv_bytes = cpu_kv_bytes;
    b->kv_append = cpu_kv_append;
    b->attention = cpu_attention;
    b->logits = cpu_logits;
    b->close = cpu_close;
    return b;
}
