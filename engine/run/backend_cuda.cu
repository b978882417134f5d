/* backend_cuda.cu — the CUDA backend (backend.h).
 *
 * Weights: the model's f32 arrays (dequantized at load) are rounded once to
 * bf16 on the host and uploaded; norm vectors stay f32. A tied output matrix
 * is uploaded once. Activations: the residual stream and every matrix
 * product's output are f32; "act" buffers (matrix-product inputs) are bf16;
 * the KV cache is bf16, token-major per layer (backend_cuda_kv.h): a layer
 * without rings is (n_ctx, n_kv_head, d), the layout the attention kernels
 * read; the local KV heads of a layer (those the layout makes rings, as the
 * plans give streaming, duo, rtpurbo and --plan runs) keep S + W rows in a
 * ring beside the layer's full part for its other KV heads, and run the
 * local kernels; the other heads of such a layer read the full part.
 *
 * Matrix products: cublasGemmEx, bf16 operands, f32 accumulation and f32
 * output. Row-major y (n, out) = x (n, in) W^T is, column-major, the
 * (out x n) product op(A) B with A = W seen as (in x out), op = transpose.
 * cuBLAS is loaded with dlopen when the backend opens, so the binary starts
 * and runs on the CPU on machines without it (one line says why cuda cannot).
 *
 * Attention: the flash kernels of kernels/cuda (attn_kernels.h): causal
 * prefill for chunks of several tokens (q_offset = the cached positions),
 * split-KV decode for one token, for the dense heads; every other head runs
 * its policy's description on the row kernels (backend_cuda_policy.cu). A
 * sliding layer passes its window, and the kernels read only the keys inside
 * it. RoPE: one device frequency table per distinct layer base (Gemma:
 * global and sliding), either pairing.
 *
 * Observers (attention.h): on_qk needs nothing here (the forward pass
 * downloads q and k); on_rows gets the dense heads' exact probability rows
 * computed on the device (backend_cuda_obs.h).
 *
 * Everything runs on one stream in issue order; download, download_act and
 * logits synchronise it. Every CUDA call goes through CUDA_CHECK, every
 * cuBLAS call through CUBLAS_CHECK: a failure exits 1 naming file and line.
 */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <dlfcn.h>
#include <string.h>

#include "kernels/attn_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"
#include "run/backend_cuda_kv.h"
#include "run/backend_cuda_obs.h"
#include "run/backend_cuda_policy.h"

extern "C" {
#include "run/backend.h"
#include "run/backend_cuda_graph.h"
#include "kernels/ops.h"
}

/* ---- cuBLAS, loaded at run time ---- */

#define PB_STR2(x) #x
#define PB_STR(x) PB_STR2(x)
#define CUBLAS_SONAME "libcublas.so." PB_STR(CUBLAS_VER_MAJOR)

static struct {
    void *lib;
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
                              const void *, cudaDataType, int, const void *, cudaDataType, int, const void *,
                              void *, cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
    decltype(&cublasGetStatusString) status_string;
} cublas;

#define CUBLAS_CHECK(call)                                                                          \
    do {                                                                                            \
        cublasStatus_t s_ = (call);                                                                 \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                            \
            pb_die_runtime(__FILE__, __LINE__, "%s: %s", #call, cublas.status_string(s_));          \
    } while (0)

/* 1 when cuBLAS is loaded; otherwise 0 and the reason in why. */
static int cublas_load(char *why, size_t why_len)
{
    if (cublas.lib) return 1;
    const char *names[] = {CUBLAS_SONAME, "/usr/local/cuda/lib64/" CUBLAS_SONAME};
    void *lib = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, why_len, "cuBLAS (%s) not found: %s", CUBLAS_SONAME, dlerror());
        return 0;
    }
    void *f[5];
    const char *sym[5] = {"cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasGemmEx",
                          "cublasGetStatusString"};
    for (int i = 0; i < 5; i++)
        if (!(f[i] = dlsym(lib, sym[i]))) {
            snprintf(why, why_len, "%s lacks %s", CUBLAS_SONAME, sym[i]);
            dlclose(lib);
            return 0;
        }
    cublas.create = (decltype(cublas.create))f[0];
    cublas.destroy = (decltype(cublas.destroy))f[1];
    cublas.set_stream = (decltype(cublas.set_stream))f[2];
    cublas.gemm_ex = (decltype(cublas.gemm_ex))f[3];
    cublas.status_string = (decltype(cublas.status_string))f[4];
    cublas.lib = lib;
    return 1;
}

/* ---- state ---- */

typedef struct {
    cudaStream_t st;
    cublasHandle_t blas;
    float rope_base[4];     /* the distinct RoPE bases, [0] the model's (cfg.rope_base) ... */
    float *inv_freq[4];     /* ... and their (d/2) frequency tables */
    int n_rope;
    int *ids;               /* (ids_cap) token ids */
    size_t ids_cap;
    cuda_scratch sc;        /* attention's q, outputs, LSE rows and decode workspace */
    uint16_t *xn;           /* logits: (lg_cap, n_embd) bf16 */
    float *lg;              /* logits: (lg_cap, n_vocab) f32 */
    int lg_cap;
    void **owned;           /* weight allocations */
    int n_owned;
    cu_decode *dec;         /* whole-step decode (NULL: the model is not the llama block) */
    cuda_obs *obs;          /* the observers' row buffers, NULL until rows are shown */
} cuda_state;

static cuda_state *state(backend *b)
{
    return (cuda_state *)b->impl;
}

/* ---- buffers ---- */

static void *cu_alloc(backend *b, size_t bytes)
{
    (void)b;
    void *p;
    CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 1));
    return p;
}

static void cu_free(backend *b, void *p)
{
    (void)b;
    if (p) CUDA_CHECK(cudaFree(p));
}

static void cu_upload(backend *b, void *dst, const void *src, size_t bytes)
{
    /* from pageable memory: returns once src has been staged, so src may be reused */
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, state(b)->st));
}

static void cu_download(backend *b, void *dst, const void *src, size_t bytes)
{
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, state(b)->st));
    CUDA_CHECK(cudaStreamSynchronize(state(b)->st));
}

static void cu_copy(backend *b, void *dst, const void *src, size_t bytes)
{
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, state(b)->st));
}

static uint16_t *host_bf16(const float *src, size_t n)
{
    uint16_t *h = (uint16_t *)pb_malloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) h[i] = __bfloat16_as_ushort(__float2bfloat16_rn(src[i]));
    return h;
}

static void cu_upload_act(backend *b, void *dst, const float *src, size_t n)
{
    uint16_t *h = host_bf16(src, n);
    cu_upload(b, dst, h, n * sizeof(uint16_t));
    free(h);
}

static void cu_download_act(backend *b, float *dst, const void *src, size_t n)
{
    uint16_t *h = (uint16_t *)pb_malloc(n * sizeof(uint16_t));
    cu_download(b, h, src, n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) dst[i] = __bfloat162float(__ushort_as_bfloat16(h[i]));
    free(h);
}

/* ---- operations ---- */

static void cu_embed(backend *b, float *x, const int *ids, int n)
{
    cuda_state *s = state(b);
    cuda_grow((void **)&s->ids, &s->ids_cap, (size_t)n, sizeof(int));
    cu_upload(b, s->ids, ids, (size_t)n * sizeof(int));
    cuda_embed(x, (const uint16_t *)b->w.tok_embd, s->ids, n, b->m->cfg.n_embd, s->st);
}

static void cu_matmul(backend *b, float *y, const void *x, const void *w, int n, int in, int out)
{
    const float one = 1.0f, zero = 0.0f;
    CUBLAS_CHECK(cublas.gemm_ex(state(b)->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, CUDA_R_16BF, in,
                                x, CUDA_R_16BF, in, &zero, y, CUDA_R_32F, out, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT));
}

static void cu_rmsnorm(backend *b, void *y, const float *x, const void *w, int n, int dim, float eps)
{
    cuda_rmsnorm((uint16_t *)y, x, (const float *)w, n, dim, eps, state(b)->st);
}

static void cu_rope(backend *b, float *x, int n, int n_heads, int d, int pos0, float base, int style)
{
    cuda_state *s = state(b);
    int t = 0;
    while (t < s->n_rope && s->rope_base[t] != base) t++;
    PB_CHECK(d == b->m->cfg.head_dim && t < s->n_rope, "CUDA RoPE holds the model's tables only (d %d, base %g)",
             d, base);
    if (style == ROPE_NEOX) cuda_rope_neox(x, s->inv_freq[t], n, n_heads, d, pos0, s->st);
    else cuda_rope(x, s->inv_freq[t], n, n_heads, d, pos0, s->st);
}

static void cu_swiglu(backend *b, void *out, const float *g, const float *u, long n)
{
    cuda_swiglu((uint16_t *)out, g, u, n, state(b)->st);
}

static void cu_norm_rows(backend *b, float *x, const void *w, int n, int dim, float eps)
{
    cuda_norm_rows(x, (const float *)w, n, dim, eps, state(b)->st);
}

static void cu_scale(backend *b, float *x, long n, float s)
{
    cuda_scale(x, n, s, state(b)->st);
}

static void cu_geglu(backend *b, void *out, const float *g, const float *u, long n)
{
    cuda_geglu((uint16_t *)out, g, u, n, state(b)->st);
}

static void cu_add(backend *b, float *x, const float *y, long n)
{
    cuda_add(x, y, n, state(b)->st);
}
/* ---- the KV cache (backend_cuda_kv.h) and attention ---- */

static bk_kv *cu_kv_new(backend *b, int n_ctx)
{
    return cuda_kv_new(&b->m->cfg, n_ctx);
}

static void cu_kv_free(backend *b, bk_kv *kv)
{
    (void)b;
    cuda_kv_free(kv);
}

static int cu_kv_layout(backend *b, bk_kv *kv, const kv_ring *layout)
{
    cuda_kv_set_layout(&b->m->cfg, kv, layout, state(b)->st);
    return 1;
}

static size_t cu_kv_bytes(backend *b, const bk_kv *kv, int full)
{
    return cuda_kv_bytes(&b->m->cfg, kv, full);
}

static void cu_kv_append(backend *b, bk_kv *kv, int layer, int pos0, int n, const float *k, const float *v)
{
    cuda_kv_append_layer(&b->m->cfg, kv, layer, pos0, n, k, v, state(b)->st);
}

static void cu_attention(backend *b, bk_kv *kv, const bk_attn *a)
{
    const model_config *c = &b->m->cfg;
    cuda_state *s = state(b);
    if (kv->n_loc[a->layer]) {
        cuda_kv_attend_ring(c, kv, &s->sc, a, s->st);
        return;
    }
    const uint16_t *kf = cuda_kv_full_k(c, kv, a->layer), *vf = cuda_kv_full_v(c, kv, a->layer);
    int dense = 0;
    for (int h = 0; h < c->n_head; h++) dense += cuda_pol_is_dense(a->policy[h], a->n, a->layer, h);
    if (dense) {  /* every head (the policy heads' rows are rewritten after) */
        size_t nq = (size_t)a->n * c->n_head * c->head_dim;
        cuda_grow((void **)&s->sc.qb, &s->sc.qb_cap, nq, sizeof(uint16_t));
        cuda_to_bf16(s->sc.qb, a->q, (long)nq, s->st);
        cuda_attend_dense(&s->sc, s->sc.qb, kf, vf, a->out, a->n, a->pos0, c->n_head, c->n_head_kv, c->head_dim,
                          a->window, s->st);
    }
    if (a->obs && a->obs->on_rows) cuda_obs_rows(&s->obs, c, a, kf, kv->n_ctx, s->st);
    cuda_kv_view view;
    memset(&view, 0, sizeof view);
    view.kc = kf;
    view.vc = vf;
    view.n_ctx = kv->n_ctx;
    cuda_pol_attend(&kv->pol, c, a, &view, s->st);
    if (a->count)  /* dense heads: every visible pair */
        for (int h = 0; h < c->n_head; h++)
            if (cuda_pol_is_dense(a->policy[h], a->n, a->layer, h)) {
                long long vis = attn_visible_pairs(a->pos0, a->n, a->window);
                a->count[h].kept += vis;
                a->count[h].visible += vis;
            }
}

static void cu_count_flush(backend *b, bk_kv *kv, attn_count *count)
{
    cuda_pol_flush(kv->pol, count, state(b)->st);
}


static void cu_logits(backend *b, float *out, const float *x, int n)
{
    const model_config *c = &b->m->cfg;
    cuda_state *s = state(b);
    if (n > s->lg_cap) {
        if (s->xn) CUDA_CHECK(cudaFree(s->xn));
        if (s->lg) CUDA_CHECK(cudaFree(s->lg));
        CUDA_CHECK(cudaMalloc(&s->xn, (size_t)n * c->n_embd * sizeof(uint16_t)));
        CUDA_CHECK(cudaMalloc(&s->lg, (size_t)n * c->n_vocab * sizeof(float)));
        s->lg_cap = n;
    }
    cuda_rmsnorm(s->xn, x, (const float *)b->w.out_norm, n, c->n_embd, c->rms_eps, s->st);
    cu_matmul(b, s->lg, s->xn, b->w.output, n, c->n_embd, c->n_vocab);
    cu_download(b, out, s->lg, (size_t)n * c->n_vocab * sizeof(float));
}

/* decode_graph from $PURBO_CUDA_GRAPH: 0, graph, direct, pdl, direct-pdl
 * (unset or anything else: pdl, the graph with programmatic dependent
 * launch, the fastest). */
static int decode_mode_env(const char *v)
{
    if (v && !strcmp(v, "0")) return 0;
    if (v && !strcmp(v, "graph")) return DECODE_GRAPH;
    if (v && !strcmp(v, "direct")) return DECODE_DIRECT;
    if (v && !strcmp(v, "direct-pdl")) return DECODE_DIRECT | DECODE_PDL;
    return DECODE_GRAPH | DECODE_PDL;
}

/* The whole-step decode (backend.h, decode; backend_cuda_graph.h). */
static int cu_decode_hook(backend *b, bk_kv *kv, int token, int pos, float *out_host)
{
    cuda_state *s = state(b);
    if (!s->dec || !b->decode_graph || kv->n_ring) return 0; /* the step reads (n_layer, n_ctx, ...) caches */
    cu_decode_step(s->dec, b->decode_graph, kv->kc, kv->vc, kv->n_ctx, token, pos, out_host);
    return 1;
}

static void cu_close(backend *b)
{
    cuda_state *s = state(b);
    CUDA_CHECK(cudaStreamSynchronize(s->st));
    cu_decode_free(s->dec);
    for (int i = 0; i < s->n_owned; i++) CUDA_CHECK(cudaFree(s->owned[i]));
    for (int t = 0; t < s->n_rope; t++) CUDA_CHECK(cudaFree(s->inv_freq[t]));
    cuda_scratch_free(&s->sc);
    void *scratch[] = {s->ids, s->xn, s->lg};
    for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; i++)
        if (scratch[i]) CUDA_CHECK(cudaFree(scratch[i]));
    cuda_obs_free(s->obs);
    CUBLAS_CHECK(cublas.destroy(s->blas));
    CUDA_CHECK(cudaStreamDestroy(s->st));
    free(s->owned);
    free(s);
    free(b->w.layers);
    free(b);
}

/* ---- opening: device, cuBLAS, weights ---- */

int backend_cuda_available(char *why, size_t why_len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        if (why) snprintf(why, why_len, "no CUDA device (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
        cudaGetLastError(); /* clear the sticky-free error of a failed probe */
        return 0;
    }
    return 1;
}

/* What this backend offers beyond the llama block (backend.h), set on b;
 * backend_cuda_new asks backend_supports with it before any upload. */
static void set_family_ops(backend *b)
{
    b->name = "cuda";
    b->neox_rope = 1;
    b->sliding = 1;
    b->norm_rows = cu_norm_rows;
    b->scale = cu_scale;
    b->geglu = cu_geglu;
}

/* One device RoPE table per distinct base: the model's first, then the
 * layers' own. */
static void upload_rope_tables(cuda_state *s, const model_config *c)
{
    for (int l = -1; l < c->n_layer; l++) {
        float base = l < 0 ? c->rope_base : model_layer_rope_base(c, l);
        int t = 0;
        while (t < s->n_rope && s->rope_base[t] != base) t++;
        if (t < s->n_rope) continue;
        PB_CHECK(t < 4, "more than 4 RoPE bases");
        float inv[256];
        rope_inv_freq(inv, c->head_dim, base);
        CUDA_CHECK(cudaMalloc(&s->inv_freq[t], (size_t)(c->head_dim / 2) * sizeof(float)));
        CUDA_CHECK(cudaMemcpy(s->inv_freq[t], inv, (size_t)(c->head_dim / 2) * sizeof(float),
                              cudaMemcpyHostToDevice));
        s->rope_base[t] = base;
        s->n_rope++;
    }
}

/* Uploads n f32 values, as bf16 (matrices) or f32 (vectors); records the allocation. */
static const void *upload_weight(backend *b, const float *w, size_t n, int as_bf16)
{
    cuda_state *s = state(b);
    void *d;
    size_t bytes = n * (as_bf16 ? sizeof(uint16_t) : sizeof(float));
    CUDA_CHECK(cudaMalloc(&d, bytes));
    if (as_bf16) {
        uint16_t *h = host_bf16(w, n);
        CUDA_CHECK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
        free(h);
    } else {
        CUDA_CHECK(cudaMemcpy(d, w, bytes, cudaMemcpyHostToDevice));
    }
    s->owned = (void **)pb_realloc(s->owned, (size_t)(s->n_owned + 1) * sizeof *s->owned);
    s->owned[s->n_owned++] = d;
    return d;
}

backend *backend_cuda_new(const model *m, char *why, size_t why_len)
{
    if (!backend_cuda_available(why, why_len) || !cublas_load(why, why_len)) return NULL;
    const model_config *c = &m->cfg;
    if (c->head_dim != 64 && c->head_dim != 128 && c->head_dim != 256) {
        snprintf(why, why_len, "head dim %d: the CUDA attention takes 64, 128 or 256", c->head_dim);
        return NULL;
    }
    backend form = {};  /* what this backend offers, asked before any upload */
    set_family_ops(&form);
    if (!backend_supports(&form, m, why, why_len)) return NULL;
    backend *b = (backend *)pb_calloc(1, sizeof *b);
    cuda_state *s = (cuda_state *)pb_calloc(1, sizeof *s);
    set_family_ops(b);
    b->act_bytes = 2;
    b->m = m;
    b->impl = s;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    snprintf(b->device, sizeof b->device, "%.127s", prop.name);
    CUDA_CHECK(cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublas.create(&s->blas));
    CUBLAS_CHECK(cublas.set_stream(s->blas, s->st));

    upload_rope_tables(s, c);

    const size_t E = (size_t)c->n_embd, Q = (size_t)c->n_head * c->head_dim;
    const size_t KV = (size_t)c->n_head_kv * c->head_dim, F = (size_t)c->n_ff;
    b->w.tok_embd = upload_weight(b, m->tok_embd, (size_t)c->n_vocab * E, 1);
    b->w.out_norm = upload_weight(b, m->out_norm, E, 0);
    b->w.output = m->output == m->tok_embd ? b->w.tok_embd : upload_weight(b, m->output, (size_t)c->n_vocab * E, 1);
    b->w.layers = (bk_layer *)pb_malloc((size_t)c->n_layer * sizeof *b->w.layers);
    for (int l = 0; l < c->n_layer; l++) {
        const layer_weights *w = &m->layers[l];
        bk_layer *o = &b->w.layers[l];
        o->attn_norm = upload_weight(b, w->attn_norm, E, 0);
        o->wq = upload_weight(b, w->wq, Q * E, 1);
        o->wk = upload_weight(b, w->wk, KV * E, 1);
        o->wv = upload_weight(b, w->wv, KV * E, 1);
        o->wo = upload_weight(b, w->wo, E * Q, 1);
        o->ffn_norm = upload_weight(b, w->ffn_norm, E, 0);
        o->w_gate = upload_weight(b, w->w_gate, F * E, 1);
        o->w_up = upload_weight(b, w->w_up, F * E, 1);
        o->w_down = upload_weight(b, w->w_down, E * F, 1);
        const size_t d = (size_t)c->head_dim;  /* the optional norms (NULL stays NULL) */
        o->q_norm = w->q_norm ? upload_weight(b, w->q_norm, d, 0) : NULL;
        o->k_norm = w->k_norm ? upload_weight(b, w->k_norm, d, 0) : NULL;
        o->post_attn_norm = w->post_attn_norm ? upload_weight(b, w->post_attn_norm, E, 0) : NULL;
        o->post_ffn_norm = w->post_ffn_norm ? upload_weight(b, w->post_ffn_norm, E, 0) : NULL;
    }

    /* cudaMemcpy from pageable memory may return before its DMA lands, and
     * the backend's stream does not wait for the legacy stream: finish here */
    CUDA_CHECK(cudaDeviceSynchronize());

    b->alloc = cu_alloc;
    b->free = cu_free;
    b->upload = cu_upload;
    b->download = cu_download;
    b->copy = cu_copy;
    b->upload_act = cu_upload_act;
    b->download_act = cu_download_act;
    b->embed = cu_embed;
    b->matmul = cu_matmul;
    b->rmsnorm = cu_rmsnorm;
    b->rope = cu_rope;
    b->swiglu = cu_swiglu;
    b->add = cu_add;
    b->kv_new = cu_kv_new;
    b->kv_free = cu_kv_free;
    b->kv_layout = cu_kv_layout;
    b->kv_bytes = cu_kv_bytes;
    b->kv_append = cu_kv_append;
    b->attention = cu_attention;
    b->count_flush = cu_count_flush;
    b->logits = cu_logits;
    b->close = cu_close;

    /* whole-step decode ($PURBO_CUDA_GRAPH, backend.h); a model it does not
     * cover runs op by op (not an error) */
    char no[160];
    s->dec = cu_decode_new(b, s->st, no, sizeof no);
    b->decode_graph = s->dec ? decode_mode_env(getenv("PURBO_CUDA_GRAPH")) : 0;
    b->decode = cu_decode_hook;
    b->prefill_batch = 2048;
    return b;
}

void backend_cuda_versions(char *runtime, char *driver, size_t len)
{
    int rt = 0, drv = 0;
    runtime[0] = driver[0] = 0;
    if (cudaRuntimeGetVersion(&rt) == cudaSuccess) snprintf(runtime, len, "%d.%d", rt / 1000, rt % 1000 / 10);
    if (cudaDriverGetVersion(&drv) == cudaSuccess && drv) snprintf(driver, len, "%d.%d", drv / 1000, drv % 1000 / 10);
    cudaGetLastError();
}

void backend_cuda_device_name(char *name, size_t len)
{
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) snprintf(name, len, "%.255s", prop.name);
    else snprintf(name, len, "cuda");
    cudaGetLastError();
}

/* ---- the roofline's ceilings (backend_cuda_ceilings) ---- */

typedef struct {
    cublasHandle_t blas;
    int n;
    void *a, *b, *c;
} ceiling_gemm;

static void ceiling_gemm_once(void *arg)
{
    ceiling_gemm *g = (ceiling_gemm *)arg;
    const float one = 1, zero = 0;
    CUBLAS_CHECK(cublas.gemm_ex(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, g->n, g->n, g->n, &one, g->a, CUDA_R_16BF, g->n,
                                g->b, CUDA_R_16BF, g->n, &zero, g->c, CUDA_R_32F, g->n, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT));
}

/* Seconds of the fastest of reps runs of fn(arg) on the legacy stream (after one untimed). */
static double best_time(void (*fn)(void *), void *arg, int reps)
{
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    fn(arg);
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        CUDA_CHECK(cudaEventRecord(e0, 0));
        fn(arg);
        CUDA_CHECK(cudaEventRecord(e1, 0));
        CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0;
        CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        if (ms * 1e-3 < best) best = ms * 1e-3;
    }
    CUDA_CHECK(cudaEventDestroy(e0));
    CUDA_CHECK(cudaEventDestroy(e1));
    return best;
}

typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
} ceiling_copy;

static void ceiling_copy_once(void *arg)
{
    ceiling_copy *c = (ceiling_copy *)arg;
    CUDA_CHECK(cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, 0));
}

int backend_cuda_ceilings(size_t copy_bytes, int gemm_n, double *bw, double *flops,
                          void (*probe)(void (*fn)(void *), void *arg, void *ctx), void *ctx, char *why,
                          size_t why_len)
{
    if (!backend_cuda_available(why, why_len) || !cublas_load(why, why_len)) return 0;
    CUDA_CHECK(cudaSetDevice(0));
    size_t nn = (size_t)gemm_n * gemm_n;
    void *src = NULL, *dst = NULL;
    ceiling_gemm g = {NULL, gemm_n, NULL, NULL, NULL};
    if (cudaMalloc(&src, copy_bytes) != cudaSuccess || cudaMalloc(&dst, copy_bytes) != cudaSuccess ||
        cudaMalloc(&g.a, nn * 2) != cudaSuccess || cudaMalloc(&g.b, nn * 2) != cudaSuccess ||
        cudaMalloc(&g.c, nn * 4) != cudaSuccess) {
        cudaGetLastError();
        snprintf(why, why_len, "ceilings: out of device memory (%zu B copy, GEMM n %d)", copy_bytes, gemm_n);
        cudaFree(src), cudaFree(dst), cudaFree(g.a), cudaFree(g.b), cudaFree(g.c);
        return 0;
    }
    CUDA_CHECK(cudaMemset(src, 0x3c, copy_bytes));
    CUDA_CHECK(cudaMemset(g.a, 0x3c, nn * 2));   /* bf16 0x3c3c: 0.0115, finite */
    CUDA_CHECK(cudaMemset(g.b, 0x3c, nn * 2));
    CUBLAS_CHECK(cublas.create(&g.blas));
    ceiling_copy c = {dst, src, copy_bytes};
    *bw = 2.0 * (double)copy_bytes / best_time(ceiling_copy_once, &c, 10);
    *flops = 2.0 * (double)nn * gemm_n / best_time(ceiling_gemm_once, &g, 10);
    if (probe) probe(ceiling_gemm_once, &g, ctx);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUBLAS_CHECK(cublas.destroy(g.blas));
    CUDA_CHECK(cudaFree(src));
    CUDA_CHECK(cudaFree(dst));
    CUDA_CHECK(cudaFree(g.a));
    CUDA_CHECK(cudaFree(g.b));
    CUDA_CHECK(cudaFree(g.c));
    return 1;
}
