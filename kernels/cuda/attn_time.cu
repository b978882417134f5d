/* attn_time.cu — the CUDA half of attn_time.h: device inputs for one
 * attention case, rotated over copies larger than L2, and event-timed
 * bursts of our kernels (attn_prefill_cuda / attn_decode_cuda, the versions
 * the CUDA backend runs); for a sparse case the block-sparse pipeline of
 * attn_sparse.h on one set of inputs (attn_time.h says which stages).
 *
 * Failures to set up (no device, out of memory) are returned as a reason;
 * failures after that are runtime errors (CUDA_CHECK: exit 1, file:line).
 */
#include <cuda_bf16.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <vector>

#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"
#include "kernels/attn_time.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/fill.cuh"

namespace {

/* The sparse pipeline's buffers (NULL for a dense case). */
struct sparse_bufs {
    float *blse;              /* (n_items, nb) block scores */
    int64_t *off;             /* (n_items + 1) */
    int32_t *idx;             /* cap entries */
    int64_t n_items, cap;     /* cap: every visible block of every item */
    int nb, r;
    float *qx;                /* decode: (n_head, r) */
    __nv_bfloat16 *kx;        /* decode: (n_head, n_ctx, r) */
    void *swork;              /* selection scratch */
    size_t swork_bytes;
    attn_select_params prm;
};

struct timer {
    attn_time_case c;
    sparse_bufs sp;
    int sets, next;
    size_t q_el, kv_el, o_el;  /* elements of one copy */
    __nv_bfloat16 *q, *k, *v, *out;
    float *lse;
    void *work;
    size_t work_bytes;
    cudaEvent_t a, b;
};

/* blse = amp * u^8: most blocks near 0, a few far above (peaked scores) */
__global__ void fill_blse(float *x, size_t n, float amp, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float u = fill_hash_unit(seed, i), u2 = u * u, u4 = u2 * u2;
        x[i] = amp * u4 * u4;
    }
}

/* qx: (H, R) uniform [-1, 1); kx: (H, n, R) uniform [-1, 1), plus, in a
 * hashed 1/16 of the 64-key blocks of each head, boost * sqrt(d) / |qx|^2
 * along qx (those blocks score high under the indexer). */
__global__ void fill_index(float *qx, __nv_bfloat16 *kx, int n, int H, int R, int d, float boost, uint64_t seed)
{
    size_t total = (size_t)n * H * R;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % R), j = (int)((i / R) % n), h = (int)(i / ((size_t)R * n));
        float v = 2 * fill_hash_unit(seed, i) - 1;
        if (fill_hash_unit(seed ^ 0x5bd1e995ull, (size_t)(j / 64) * H + h) < 1.0f / 16) {
            float q2 = 0;
            for (int e = 0; e < R; e++) {
                float qe = 2 * fill_hash_unit(seed + 7, (size_t)h * R + e) - 1;
                q2 += qe * qe;
            }
            v += boost * sqrtf((float)d) / q2 * (2 * fill_hash_unit(seed + 7, (size_t)h * R + c) - 1);
        }
        kx[i] = __float2bfloat16(v);
    }
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)H * R; i += (size_t)gridDim.x * blockDim.x)
        qx[i] = 2 * fill_hash_unit(seed + 7, i) - 1;
}

void launch_sparse(timer *t)
{
    const attn_time_case &c = t->c;
    sparse_bufs &b = t->sp;
    if (c.phase == ATTN_TIME_PREFILL) {
        CUDA_CHECK((cudaError_t)attn_select_topp_cuda(b.blse, b.nb, c.n_ctx, 0, c.n_head, &b.prm, b.off, b.idx, b.cap,
                                                      b.swork, b.swork_bytes, NULL));
        CUDA_CHECK((cudaError_t)attn_sparse_prefill_cuda(t->q, t->k, t->v, b.off, b.idx, t->out, t->lse, c.n_ctx,
                                                         c.n_ctx, 0, c.n_head, c.n_kv_head, c.d, NULL));
    } else {
        CUDA_CHECK((cudaError_t)attn_index_decode_cuda(b.qx, b.kx, t->q, t->k, b.blse, b.nb, c.n_ctx, c.n_head,
                                                       c.n_kv_head, c.d, b.r, &b.prm, NULL));
        CUDA_CHECK((cudaError_t)attn_select_topp_cuda(b.blse, b.nb, 1, c.n_ctx - 1, c.n_head, &b.prm, b.off, b.idx,
                                                      b.cap, b.swork, b.swork_bytes, NULL));
        CUDA_CHECK((cudaError_t)attn_sparse_decode_cuda(t->q, t->k, t->v, b.off, b.idx, b.nb, t->out, t->lse, c.n_ctx,
                                                        c.n_head, c.n_kv_head, c.d, t->work, t->work_bytes, NULL));
    }
}

void launch(timer *t)
{
    const attn_time_case &c = t->c;
    if (c.sparse) {
        launch_sparse(t);
        return;
    }
    int s = t->next;
    t->next = (t->next + 1) % t->sets;
    const __nv_bfloat16 *q = t->q + s * t->q_el, *k = t->k + s * t->kv_el, *v = t->v + s * t->kv_el;
    __nv_bfloat16 *o = t->out + s * t->o_el;
    if (c.phase == ATTN_TIME_PREFILL)
        CUDA_CHECK((cudaError_t)attn_prefill_cuda(q, k, v, o, t->lse, c.n_ctx, c.n_ctx, 0, c.n_head, c.n_kv_head,
                                                  c.d, NULL));
    else
        CUDA_CHECK((cudaError_t)attn_decode_cuda(q, k, v, o, t->lse, c.n_ctx, c.n_head, c.n_kv_head, c.d, t->work,
                                                 t->work_bytes, NULL));
}

void release(timer *t)
{
    cudaFree(t->q);
    cudaFree(t->k);
    cudaFree(t->v);
    cudaFree(t->out);
    cudaFree(t->lse);
    cudaFree(t->work);
    cudaFree(t->sp.blse);
    cudaFree(t->sp.off);
    cudaFree(t->sp.idx);
    cudaFree(t->sp.qx);
    cudaFree(t->sp.kx);
    cudaFree(t->sp.swork);
    if (t->a) cudaEventDestroy(t->a);
    if (t->b) cudaEventDestroy(t->b);
    delete t;
}

}  // namespace

extern "C" void *attn_timer_cuda_new(const attn_time_case *c, uint32_t seed, char *why, size_t why_len)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev < 1) {
        cudaGetLastError();
        snprintf(why, why_len, "no CUDA device");
        return NULL;
    }
    if (c->d != 64 && c->d != 128) {
        snprintf(why, why_len, "the CUDA attention kernels take head_dim 64 or 128, not %d", c->d);
        return NULL;
    }
    if (c->phase == ATTN_TIME_DECODE && c->n_head / c->n_kv_head > 16) {
        snprintf(why, why_len, "decode takes at most 16 query heads per KV head, not %d", c->n_head / c->n_kv_head);
        return NULL;
    }
    timer *t = new timer();
    t->c = *c;
    const size_t n_q = c->phase == ATTN_TIME_PREFILL ? (size_t)c->n_ctx : 1;
    t->q_el = n_q * c->n_head * c->d;
    t->o_el = t->q_el;
    t->kv_el = (size_t)c->n_ctx * c->n_kv_head * c->d;
    const size_t bytes = (t->q_el + 2 * t->kv_el + t->o_el) * 2;
    t->sets = c->sparse ? 1 : (int)std::min<size_t>(64, (size_t)(150u << 20) / bytes + 1);
    t->work_bytes = c->phase == ATTN_TIME_DECODE ? attn_decode_workspace(c->n_ctx, c->n_head, c->n_kv_head, c->d) : 0;
    cudaError_t e = cudaSuccess;
    const size_t S = (size_t)t->sets;
    sparse_bufs &b = t->sp;
    if (c->sparse) {
        b.nb = (c->n_ctx + 63) / 64;
        b.r = 16;
        b.prm = attn_select_params{c->sink, c->local, 4, c->p};
        if (c->phase == ATTN_TIME_PREFILL) {
            b.n_items = (int64_t)b.nb * c->n_head;
            b.cap = (int64_t)c->n_head * b.nb * (b.nb + 1) / 2;  /* item (qb, h) sees qb + 1 blocks */
            b.swork_bytes = attn_select_workspace(c->n_ctx, c->n_head);
        } else {
            b.n_items = c->n_head;
            b.cap = (int64_t)c->n_head * b.nb;
            b.swork_bytes = attn_select_workspace(1, c->n_head);
            t->work_bytes = attn_sparse_decode_workspace(b.nb, c->n_ctx, c->n_head, c->n_kv_head, c->d);
            e = cudaMalloc(&b.qx, (size_t)c->n_head * b.r * sizeof(float));
            if (e == cudaSuccess) e = cudaMalloc(&b.kx, (size_t)c->n_head * c->n_ctx * b.r * 2);
        }
        if (e == cudaSuccess) e = cudaMalloc(&b.blse, (size_t)b.n_items * b.nb * sizeof(float));
        if (e == cudaSuccess) e = cudaMalloc(&b.off, (size_t)(b.n_items + 1) * sizeof(int64_t));
        if (e == cudaSuccess) e = cudaMalloc(&b.idx, (size_t)b.cap * sizeof(int32_t));
        if (e == cudaSuccess) e = cudaMalloc(&b.swork, b.swork_bytes);
    }
    if (e == cudaSuccess) e = cudaMalloc(&t->q, S * t->q_el * 2);
    if (e == cudaSuccess) e = cudaMalloc(&t->k, S * t->kv_el * 2);
    if (e == cudaSuccess) e = cudaMalloc(&t->v, S * t->kv_el * 2);
    if (e == cudaSuccess) e = cudaMalloc(&t->out, S * t->o_el * 2);
    if (e == cudaSuccess) e = cudaMalloc(&t->lse, n_q * c->n_head * sizeof(float));
    if (e == cudaSuccess && t->work_bytes) e = cudaMalloc(&t->work, t->work_bytes);
    if (e == cudaSuccess) e = cudaEventCreate(&t->a);
    if (e == cudaSuccess) e = cudaEventCreate(&t->b);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(why, why_len, "%.1f GB of inputs on the device: %s", S * (double)bytes / 1e9, cudaGetErrorString(e));
        release(t);
        return NULL;
    }
    fill_uniform<<<1024, 256>>>(t->q, S * t->q_el, 2.0f, seed * 3ull + 0);
    CUDA_CHECK_LAUNCH();
    fill_uniform<<<1024, 256>>>(t->k, S * t->kv_el, 2.0f, seed * 3ull + 1);
    CUDA_CHECK_LAUNCH();
    fill_uniform<<<1024, 256>>>(t->v, S * t->kv_el, 1.0f, seed * 3ull + 2);
    CUDA_CHECK_LAUNCH();
    if (c->sparse && c->phase == ATTN_TIME_PREFILL) {
        fill_blse<<<1024, 256>>>(b.blse, (size_t)b.n_items * b.nb, 16.0f, seed * 3ull + 3);
        CUDA_CHECK_LAUNCH();
    } else if (c->sparse) {
        fill_index<<<1024, 256>>>(b.qx, b.kx, c->n_ctx, c->n_head, b.r, c->d, 8.0f, seed * 3ull + 3);
        CUDA_CHECK_LAUNCH();
    }
    CUDA_CHECK(cudaDeviceSynchronize());
    return t;
}

extern "C" void attn_timer_cuda_run(void *tv, int warmup, int repeats, double *t_s)
{
    timer *t = (timer *)tv;
    for (int i = 0; i < warmup; i++) launch(t);
    float one = 0;
    CUDA_CHECK(cudaEventRecord(t->a));
    launch(t);
    CUDA_CHECK(cudaEventRecord(t->b));
    CUDA_CHECK(cudaEventSynchronize(t->b));
    CUDA_CHECK(cudaEventElapsedTime(&one, t->a, t->b));
    int burst = (int)std::min(50.0f, std::max(1.0f, ceilf(0.5f / std::max(one, 1e-4f))));
    for (int r = 0; r < repeats; r++) {
        float ms = 0;
        CUDA_CHECK(cudaEventRecord(t->a));
        for (int j = 0; j < burst; j++) launch(t);
        CUDA_CHECK(cudaEventRecord(t->b));
        CUDA_CHECK(cudaEventSynchronize(t->b));
        CUDA_CHECK(cudaEventElapsedTime(&ms, t->a, t->b));
        t_s[r] = 1e-3 * ms / burst;
    }
}

extern "C" void attn_timer_cuda_once(void *tv)
{
    launch((timer *)tv);
    CUDA_CHECK(cudaDeviceSynchronize());
}

extern "C" double attn_timer_cuda_density(void *tv)
{
    timer *t = (timer *)tv;
    if (!t->c.sparse) return 1.0;
    int64_t n = 0;
    CUDA_CHECK(cudaMemcpy(&n, t->sp.off + t->sp.n_items, sizeof n, cudaMemcpyDeviceToHost));
    return (double)n / (double)t->sp.cap;
}

extern "C" void attn_timer_cuda_free(void *tv)
{
    if (tv) release((timer *)tv);
}
