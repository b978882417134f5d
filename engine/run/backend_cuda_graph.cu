/* backend_cuda_graph.cu — whole-step decode on CUDA (backend_cuda_graph.h).
 *
 * One step, five launches a layer instead of about twenty:
 *   dec_qkv      rmsnorm + [Wq;Wk;Wv] + RoPE + q to bf16 + k/v into the cache
 *   attention    split-KV decode with kv_len read from the step (partials)
 *   dec_attn_out the partials' LSE combine + x += Wo att
 *   dec_swiglu   rmsnorm + [Wgate;Wup] + silu(g) * u
 *   dec_add      x += Wdown h
 * then the logits (rmsnorm + Woutput, dec_out) and their copy to pinned host
 * memory. The first node copies the pinned step (token, pos, kv_len) to the
 * device; the embedding reads the token there. Nothing in the step's launch
 * arguments changes with the token, so the captured graph is replayed as is.
 *
 * Buffers are this module's own (the residual row, q, the SwiGLU product,
 * the logits, the split-KV partials), so a step never touches the session's scratch. Invariants: one
 * step at a time on the backend's stream; cu_decode_step returns after the
 * step finished, so the pinned step may be rewritten at the next call.
 */
#include <cuda_runtime.h>
#include <string.h>

#include "kernels/attn_kernels.h"
#include "kernels/decode_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

extern "C" {
#include "kernels/ops.h"
}

extern "C" {
#include "run/backend_cuda_graph.h"
}

struct cu_decode {
    const backend *b;
    cudaStream_t st;
    float *inv_freq;          /* (d/2) RoPE frequencies of the model's base */
    int *step_host;           /* pinned [DEC_STEP_INTS] */
    int *step;                /* device [DEC_STEP_INTS] */
    float *x;                 /* (n_embd) residual row */
    uint16_t *q, *h;          /* (n_head*d), (n_ff) bf16 */
    float *lg;                /* (n_vocab) device logits */
    float *lg_host;           /* (n_vocab) pinned */
    void *work;               /* split-KV partials (ATTN_DEV_SPLITS splits) */
    size_t work_bytes;
    /* the captured graph and what it was captured for */
    cudaGraphExec_t exec;
    uint16_t *g_kc, *g_vc;
    int g_n_ctx, g_pdl;
};

cu_decode *cu_decode_new(const backend *b, void *stream, char *why, size_t why_len)
{
    const model_config *c = &b->m->cfg;
    const char *no = NULL;
    if (c->qk_norm || c->post_norms) no = "QK or post norms";
    else if (c->embd_scale != 0.0f && c->embd_scale != 1.0f) no = "an embedding scale";
    else if (c->ffn_act != FFN_SILU) no = "an activation other than SiLU";
    else if (c->rope_style != ROPE_ADJACENT || c->n_sliding) no = "NeoX RoPE or sliding layers";
    else if (c->n_embd % 8 || c->n_ff % 8 || c->head_dim % 4 || c->n_embd > 2048 || c->n_head > 16 ||
             c->n_head % c->n_head_kv)
        no = "a shape the fused kernels lack";
    for (int l = 0; l < c->n_layer && !no; l++)
        if (model_layer_rope_base(c, l) != c->rope_base) no = "per-layer RoPE bases";
    if (no) {
        snprintf(why, why_len, "whole-step decode covers the llama block only (the model has %s)", no);
        return NULL;
    }
    cu_decode *g = (cu_decode *)pb_calloc(1, sizeof *g);
    g->b = b;
    g->st = (cudaStream_t)stream;
    float inv[512];
    rope_inv_freq(inv, c->head_dim, c->rope_base);
    CUDA_CHECK(cudaMalloc((void **)&g->inv_freq, (size_t)(c->head_dim / 2) * sizeof(float)));
    CUDA_CHECK(cudaMemcpy(g->inv_freq, inv, (size_t)(c->head_dim / 2) * sizeof(float), cudaMemcpyHostToDevice));
    const size_t QD = (size_t)c->n_head * c->head_dim;
    CUDA_CHECK(cudaMallocHost((void **)&g->step_host, DEC_STEP_INTS * sizeof(int)));
    CUDA_CHECK(cudaMallocHost((void **)&g->lg_host, (size_t)c->n_vocab * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&g->step, DEC_STEP_INTS * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&g->x, (size_t)c->n_embd * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&g->q, QD * sizeof(uint16_t)));
    CUDA_CHECK(cudaMalloc((void **)&g->h, (size_t)c->n_ff * sizeof(uint16_t)));
    CUDA_CHECK(cudaMalloc((void **)&g->lg, (size_t)c->n_vocab * sizeof(float)));
    return g;
}

static void drop_graph(cu_decode *g)
{
    if (g->exec) CUDA_CHECK(cudaGraphExecDestroy(g->exec));
    g->exec = NULL;
    g->g_kc = g->g_vc = NULL;
    g->g_n_ctx = 0;
}

void cu_decode_free(cu_decode *g)
{
    if (!g) return;
    CUDA_CHECK(cudaStreamSynchronize(g->st));
    drop_graph(g);
    CUDA_CHECK(cudaFreeHost(g->step_host));
    CUDA_CHECK(cudaFreeHost(g->lg_host));
    void *dev[] = {g->inv_freq, g->step, g->x, g->q, g->h, g->lg, g->work};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) CUDA_CHECK(cudaFree(dev[i]));
    free(g);
}

/* The split workspace (outside any capture: its first query sets the
 * attention kernels' attributes). */
static void ensure_work(cu_decode *g)
{
    const model_config *c = &g->b->m->cfg;
    if (g->work) return;
    g->work_bytes = attn_decode_dev_workspace(c->n_head, c->head_dim);
    CUDA_CHECK(cudaMalloc(&g->work, g->work_bytes));
}

/* Enqueues the whole step on g->st (launched, or recorded during a capture). */
static void enqueue(cu_decode *g, uint16_t *kc, uint16_t *vc, int n_ctx, int pdl)
{
    const backend *b = g->b;
    const model_config *c = &b->m->cfg;
    const int E = c->n_embd, H = c->n_head, HKV = c->n_head_kv, d = c->head_dim, F = c->n_ff;
    const int Q = H * d, KV = HKV * d;
    const float eps = c->rms_eps;
    cudaStream_t st = g->st;
    const int n_split = ATTN_DEV_SPLITS;
    const float *part_o = (const float *)g->work, *part_lse = part_o + (size_t)n_split * H * d;
    CUDA_CHECK(cudaMemcpyAsync(g->step, g->step_host, DEC_STEP_INTS * sizeof(int), cudaMemcpyHostToDevice, st));
    cuda_embed(g->x, (const uint16_t *)b->w.tok_embd, g->step + DEC_STEP_TOKEN, 1, E, st);
    for (int l = 0; l < c->n_layer; l++) {
        const bk_layer *w = &b->w.layers[l];
        const size_t at = (size_t)l * n_ctx * KV;
        CUDA_CHECK((cudaError_t)dec_qkv_cuda(g->x, (const float *)w->attn_norm, eps, E, w->wq, w->wk, w->wv, Q, KV, d,
                                             g->inv_freq, g->step, g->q, kc + at, vc + at, pdl, st));
        CUDA_CHECK((cudaError_t)attn_decode_dev_cuda(g->q, kc + at, vc + at, NULL, g->step + DEC_STEP_KV_LEN, H, HKV,
                                                     d, g->work, g->work_bytes, pdl, st));
        CUDA_CHECK((cudaError_t)dec_attn_out_cuda(g->x, w->wo, part_o, part_lse, n_split, g->step + DEC_STEP_KV_LEN,
                                                  H, d, E, pdl, st));
        CUDA_CHECK((cudaError_t)dec_swiglu_cuda(g->x, (const float *)w->ffn_norm, eps, E, w->w_gate, w->w_up, F, g->h,
                                                pdl, st));
        CUDA_CHECK((cudaError_t)dec_add_cuda(g->x, w->w_down, g->h, F, E, pdl, st));
    }
    CUDA_CHECK((cudaError_t)dec_out_cuda(g->lg, g->x, (const float *)b->w.out_norm, eps, b->w.output, E, c->n_vocab,
                                         pdl, st));
    CUDA_CHECK(cudaMemcpyAsync(g->lg_host, g->lg, (size_t)c->n_vocab * sizeof(float), cudaMemcpyDeviceToHost, st));
}

static void capture(cu_decode *g, uint16_t *kc, uint16_t *vc, int n_ctx, int pdl)
{
    drop_graph(g);
    cudaGraph_t graph;
    CUDA_CHECK(cudaStreamBeginCapture(g->st, cudaStreamCaptureModeThreadLocal));
    enqueue(g, kc, vc, n_ctx, pdl);
    CUDA_CHECK(cudaStreamEndCapture(g->st, &graph));
    CUDA_CHECK(cudaGraphInstantiate(&g->exec, graph, 0));
    CUDA_CHECK(cudaGraphDestroy(graph));
    g->g_kc = kc;
    g->g_vc = vc;
    g->g_n_ctx = n_ctx;
    g->g_pdl = pdl;
}

void cu_decode_step(cu_decode *g, int mode, uint16_t *kc, uint16_t *vc, int n_ctx, int token, int pos,
                    float *out_host)
{
    const model_config *c = &g->b->m->cfg;
    PB_CHECK(pos >= 0 && pos < n_ctx && token >= 0 && token < c->n_vocab, "decode step: token %d at %d of %d",
             token, pos, n_ctx);
    ensure_work(g);
    g->step_host[DEC_STEP_TOKEN] = token;
    g->step_host[DEC_STEP_POS] = pos;
    g->step_host[DEC_STEP_KV_LEN] = pos + 1;
    const int pdl = (mode & DECODE_PDL) != 0;
    if ((mode & 3) == DECODE_GRAPH) {
        if (!g->exec || g->g_kc != kc || g->g_vc != vc || g->g_n_ctx != n_ctx || g->g_pdl != pdl)
            capture(g, kc, vc, n_ctx, pdl);
        CUDA_CHECK(cudaGraphLaunch(g->exec, g->st));
    } else {
        enqueue(g, kc, vc, n_ctx, pdl);
    }
    CUDA_CHECK(cudaStreamSynchronize(g->st));
    if (out_host) memcpy(out_host, g->lg_host, (size_t)c->n_vocab * sizeof(float));
}
