/* layer_time.cu — the CUDA half of layer_time.h: one RTPurbo layer's
 * inputs on the device (planted block scores or index keys, q/k/v of both
 * kinds of heads), its four stages as launches, event-timed bursts of the
 * whole layer or of one stage, and the host copies the tests, the needle
 * count and the FlexAttention peer read.
 *
 * Failures to set up (no device, out of memory, a shape the kernels do not
 * take) are returned as a reason; failures after that are runtime errors
 * (CUDA_CHECK: exit 1, file:line).
 */
#include <cuda_bf16.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"
#include "kernels/attn_time.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/fill.cuh"
#include "kernels/layer_time.h"

struct layer_timer {
    layer_case c;
    layer_split s;
    uint64_t seed;                   /* layer_plant_seed */
    int nb, nqb, n_q, kv_loc;        /* key blocks, query blocks, queries, local KV rows */
    float boost;
    attn_select_params prm;
    __nv_bfloat16 *q_ret, *k_ret, *v_ret, *out_ret, *q_loc, *k_loc, *v_loc, *out_loc, *kx;
    float *lse_ret, *lse_loc, *qx, *blse;
    int64_t *off;
    int32_t *idx;
    int64_t items, cap;              /* retrieval items; cap: their visible blocks */
    void *swork, *work_ret, *work_loc;
    size_t swork_bytes, work_ret_bytes, work_loc_bytes;
    cudaEvent_t a, b;
};

namespace {

/* planted qx (n_q, H, R) and kx (H, n, R): layer_planted_qx, layer_planted_kx */
__global__ void fill_planted_index(float *qx, __nv_bfloat16 *kx, int n_q, int n, int H, int R, int d, uint64_t seed,
                                   float f, float boost, int needles, int nb)
{
    const size_t total = (size_t)n * H * R;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        kx[i] = __float2bfloat16(layer_planted_kx(seed, i, n, H, R, d, f, boost, needles, nb));
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)n_q * H * R;
         i += (size_t)gridDim.x * blockDim.x)
        qx[i] = layer_planted_qx(seed, i, H, R);
}

void stage(layer_timer *t, int st)
{
    const layer_case &c = t->c;
    const layer_split &s = t->s;
    const int n = c.n_ctx, d = c.d;
    const bool pre = c.phase == ATTN_TIME_PREFILL;
    switch (st) {
    case LAYER_INDEX:
        if (pre)
            CUDA_CHECK((cudaError_t)(c.index_mean ? attn_index_prefill_mean_cuda : attn_index_prefill_cuda)(
                t->qx, t->kx, t->q_ret, t->k_ret, t->blse, t->nb, n, n, 0, s.ret_heads, s.ret_kv, d, s.r, &t->prm,
                NULL));
        else
            CUDA_CHECK((cudaError_t)attn_index_decode_cuda(t->qx, t->kx, t->q_ret, t->k_ret, t->blse, t->nb, n,
                                                           s.ret_heads, s.ret_kv, d, s.r, &t->prm, NULL));
        break;
    case LAYER_SELECT:
        CUDA_CHECK((cudaError_t)attn_select_topp_cuda(t->blse, t->nb, t->n_q, pre ? 0 : n - 1, s.ret_heads, &t->prm,
                                                      t->off, t->idx, t->cap, t->swork, t->swork_bytes, NULL));
        break;
    case LAYER_ATTEND:
        if (pre)
            CUDA_CHECK((cudaError_t)attn_sparse_prefill_cuda(t->q_ret, t->k_ret, t->v_ret, t->off, t->idx, t->out_ret,
                                                             t->lse_ret, n, n, 0, s.ret_heads, s.ret_kv, d, NULL));
        else
            CUDA_CHECK((cudaError_t)attn_sparse_decode_cuda(t->q_ret, t->k_ret, t->v_ret, t->off, t->idx, t->nb,
                                                            t->out_ret, t->lse_ret, n, s.ret_heads, s.ret_kv, d,
                                                            t->work_ret, t->work_ret_bytes, NULL));
        break;
    case LAYER_LOCAL:
        if (!s.loc_heads) break;
        if (pre) /* the chunk is the whole context: nothing read from the ring (passed the chunk's keys) */
            CUDA_CHECK((cudaError_t)attn_local_prefill_cuda(t->q_loc, t->k_loc, t->v_loc, t->k_loc, t->v_loc,
                                                            t->out_loc, t->lse_loc, n, 0, c.sink, c.window,
                                                            s.loc_heads, s.loc_kv, d, NULL));
        else
            CUDA_CHECK((cudaError_t)attn_local_decode_cuda(t->q_loc, t->k_loc, t->v_loc, t->out_loc, t->lse_loc,
                                                           n - 1, c.sink, c.window, s.loc_heads, s.loc_kv, d,
                                                           t->work_loc, t->work_loc_bytes, NULL));
        break;
    }
}

void layer(layer_timer *t)
{
    for (int st = 0; st < LAYER_N_STAGES; st++) stage(t, st);
}

/* warmup launches of fn, one timed launch sizing the burst, then repeats
 * event-timed bursts: t_s seconds per launch */
template <class F> void burst_time(layer_timer *t, F fn, int warmup, int repeats, double *t_s)
{
    for (int i = 0; i < warmup; i++) fn();
    float one = 0;
    CUDA_CHECK(cudaEventRecord(t->a));
    fn();
    CUDA_CHECK(cudaEventRecord(t->b));
    CUDA_CHECK(cudaEventSynchronize(t->b));
    CUDA_CHECK(cudaEventElapsedTime(&one, t->a, t->b));
    int burst = (int)std::min(50.0f, std::max(1.0f, ceilf(0.5f / std::max(one, 1e-4f))));
    for (int r = 0; r < repeats; r++) {
        float ms = 0;
        CUDA_CHECK(cudaEventRecord(t->a));
        for (int j = 0; j < burst; j++) fn();
        CUDA_CHECK(cudaEventRecord(t->b));
        CUDA_CHECK(cudaEventSynchronize(t->b));
        CUDA_CHECK(cudaEventElapsedTime(&ms, t->a, t->b));
        t_s[r] = 1e-3 * ms / burst;
    }
}

template <class T> void to_host(T **dst, const T *src, size_t n)
{
    *dst = NULL;
    if (!src || !n) return;
    *dst = (T *)pb_malloc(n * sizeof(T));
    CUDA_CHECK(cudaMemcpy(*dst, src, n * sizeof(T), cudaMemcpyDeviceToHost));
}

}  // namespace

extern "C" void layer_timer_free(layer_timer *t)
{
    if (!t) return;
    void *bufs[] = {t->q_ret, t->k_ret, t->v_ret, t->out_ret, t->q_loc, t->k_loc, t->v_loc, t->out_loc, t->kx,
                    t->lse_ret, t->lse_loc, t->qx, t->blse, t->off, t->idx, t->swork, t->work_ret, t->work_loc};
    for (void *p : bufs) cudaFree(p);
    if (t->a) cudaEventDestroy(t->a);
    if (t->b) cudaEventDestroy(t->b);
    free(t);
}

extern "C" layer_timer *layer_timer_new(const layer_case *c, uint32_t seed, char *why, size_t why_len)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev < 1) {
        cudaGetLastError();
        snprintf(why, why_len, "no CUDA device");
        return NULL;
    }
    if (c->d != 64 && c->d != 128) {
        snprintf(why, why_len, "the sparse kernels take head_dim 64 or 128, not %d", c->d);
        return NULL;
    }
    if (c->n_head % c->n_kv_head || c->n_head / c->n_kv_head > 16) {
        snprintf(why, why_len, "shape %d/%d: the layer takes GQA groups of at most 16 heads", c->n_head, c->n_kv_head);
        return NULL;
    }
    if (!(c->density > 0 && c->density < 1)) {
        snprintf(why, why_len, "planted density %g is not in (0, 1)", c->density);
        return NULL;
    }
    layer_timer *t = (layer_timer *)pb_calloc(1, sizeof *t);
    t->c = *c;
    layer_split_heads(c, &t->s);
    const layer_split &s = t->s;
    const bool pre = c->phase == ATTN_TIME_PREFILL;
    const int n = c->n_ctx, d = c->d;
    t->seed = layer_plant_seed(seed);
    t->nb = (n + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    t->n_q = pre ? n : 1;
    t->nqb = pre ? t->nb : 1;
    t->kv_loc = pre ? n : c->sink + c->window; /* decode: the ring, S + W rows */
    t->boost = (float)layer_boost(c->density, c->p);
    t->prm = layer_select_params(c);
    t->items = (int64_t)t->nqb * s.ret_heads;
    t->cap = pre ? (int64_t)s.ret_heads * t->nb * (t->nb + 1) / 2 : (int64_t)s.ret_heads * t->nb;
    t->swork_bytes = attn_select_workspace(t->n_q, s.ret_heads);
    if (!pre) {
        t->work_ret_bytes = attn_sparse_decode_workspace(t->nb, n, s.ret_heads, s.ret_kv, d);
        if (s.loc_heads) t->work_loc_bytes = attn_local_decode_workspace(c->sink, c->window, s.loc_heads, s.loc_kv, d);
    }
    const size_t nq = (size_t)t->n_q, kvr = (size_t)n * s.ret_kv * d, kvl = (size_t)t->kv_loc * s.loc_kv * d;
    cudaError_t e = cudaSuccess;
    double bytes = 0;
    auto alloc = [&](void **p, size_t b) {
        if (e == cudaSuccess && b) e = cudaMalloc(p, b);
        bytes += (double)b;
    };
    alloc((void **)&t->q_ret, nq * s.ret_heads * d * 2);
    alloc((void **)&t->out_ret, nq * s.ret_heads * d * 2);
    alloc((void **)&t->lse_ret, nq * s.ret_heads * 4);
    alloc((void **)&t->k_ret, kvr * 2);
    alloc((void **)&t->v_ret, kvr * 2);
    alloc((void **)&t->q_loc, nq * s.loc_heads * d * 2);
    alloc((void **)&t->out_loc, nq * s.loc_heads * d * 2);
    alloc((void **)&t->lse_loc, nq * s.loc_heads * 4);
    alloc((void **)&t->k_loc, kvl * 2);
    alloc((void **)&t->v_loc, kvl * 2);
    alloc((void **)&t->blse, (size_t)t->items * t->nb * 4);
    alloc((void **)&t->off, (size_t)(t->items + 1) * 8);
    alloc((void **)&t->idx, (size_t)t->cap * 4);
    alloc(&t->swork, t->swork_bytes);
    alloc(&t->work_ret, t->work_ret_bytes);
    alloc(&t->work_loc, t->work_loc_bytes);
    alloc((void **)&t->qx, nq * s.ret_heads * s.r * 4);
    alloc((void **)&t->kx, (size_t)s.ret_heads * n * s.r * 2);
    if (e == cudaSuccess) e = cudaEventCreate(&t->a);
    if (e == cudaSuccess) e = cudaEventCreate(&t->b);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(why, why_len, "%.1f GB on the device: %s", bytes / 1e9, cudaGetErrorString(e));
        layer_timer_free(t);
        return NULL;
    }
    uint64_t sd = (uint64_t)seed * 8;
    fill_uniform<<<1024, 256>>>(t->q_ret, nq * s.ret_heads * d, 2.0f, sd + 0);
    fill_uniform<<<1024, 256>>>(t->k_ret, kvr, 2.0f, sd + 1);
    fill_uniform<<<1024, 256>>>(t->v_ret, kvr, 1.0f, sd + 2);
    if (s.loc_heads) {
        fill_uniform<<<1024, 256>>>(t->q_loc, nq * s.loc_heads * d, 2.0f, sd + 3);
        fill_uniform<<<1024, 256>>>(t->k_loc, kvl, 2.0f, sd + 4);
        fill_uniform<<<1024, 256>>>(t->v_loc, kvl, 1.0f, sd + 5);
    }
    CUDA_CHECK_LAUNCH();
    fill_planted_index<<<1024, 256>>>(t->qx, t->kx, t->n_q, n, s.ret_heads, s.r, d, t->seed, (float)c->density,
                                      t->boost, c->needles, t->nb);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaMemset(t->out_ret, 0, nq * s.ret_heads * d * 2));
    layer(t); /* lists and outputs exist from here on */
    CUDA_CHECK(cudaDeviceSynchronize());
    return t;
}

extern "C" void layer_timer_run(layer_timer *t, int warmup, int repeats, double *t_s)
{
    burst_time(t, [t] { layer(t); }, warmup, repeats, t_s);
}

extern "C" void layer_timer_stage(layer_timer *t, int st, int repeats, double *t_s)
{
    if (st == LAYER_LOCAL && !t->s.loc_heads) {
        for (int i = 0; i < repeats; i++) t_s[i] = 0;
        return;
    }
    burst_time(t, [t, st] { stage(t, st); }, 0, repeats, t_s); /* warm: the layer ran just before */
}

extern "C" void layer_timer_poison(layer_timer *t)
{
    const size_t nq = (size_t)t->n_q, d = (size_t)t->c.d;
    CUDA_CHECK(cudaMemset(t->blse, 0xff, (size_t)t->items * t->nb * 4));
    CUDA_CHECK(cudaMemset(t->off, 0xff, (size_t)(t->items + 1) * 8));
    CUDA_CHECK(cudaMemset(t->idx, 0xff, (size_t)t->cap * 4));
    CUDA_CHECK(cudaMemset(t->out_ret, 0xff, nq * t->s.ret_heads * d * 2));
    CUDA_CHECK(cudaMemset(t->lse_ret, 0xff, nq * t->s.ret_heads * 4));
    if (t->s.loc_heads) {
        CUDA_CHECK(cudaMemset(t->out_loc, 0xff, nq * t->s.loc_heads * d * 2));
        CUDA_CHECK(cudaMemset(t->lse_loc, 0xff, nq * t->s.loc_heads * 4));
    }
}

extern "C" void layer_timer_once(layer_timer *t)
{
    layer(t);
    CUDA_CHECK(cudaDeviceSynchronize());
}

extern "C" double layer_timer_density(layer_timer *t)
{
    int64_t n = 0;
    CUDA_CHECK(cudaMemcpy(&n, t->off + t->items, sizeof n, cudaMemcpyDeviceToHost));
    return (double)n / (double)t->cap;
}

extern "C" int layer_timer_needles(layer_timer *t, int *total)
{
    const int H = t->s.ret_heads;
    const int64_t first = t->items - H; /* the last query block's (decode: the query's) items */
    std::vector<int64_t> off(H + 1);
    CUDA_CHECK(cudaMemcpy(off.data(), t->off + first, (H + 1) * sizeof(int64_t), cudaMemcpyDeviceToHost));
    std::vector<int32_t> idx((size_t)(off[H] - off[0]) + 1);
    CUDA_CHECK(cudaMemcpy(idx.data(), t->idx + off[0], (size_t)(off[H] - off[0]) * 4, cudaMemcpyDeviceToHost));
    return layer_needles_found(off.data(), idx.data(), H, t->c.needles, t->nb, total);
}

extern "C" void layer_timer_kinds(const layer_timer *t, const char **index_kind, const char **local_kind)
{
    *index_kind = t->c.phase != ATTN_TIME_PREFILL ? "indexer" : t->c.index_mean ? "mean" : "envelope";
    *local_kind = "sink+window";
}

extern "C" int layer_timer_write_lists(layer_timer *t, const char *path, char *why, size_t why_len)
{
    const layer_case &c = t->c;
    const int H = c.n_head, R = t->s.ret_heads, B = ATTN_SBLOCK;
    std::vector<int64_t> roff((size_t)t->items + 1);
    CUDA_CHECK(cudaMemcpy(roff.data(), t->off, roff.size() * 8, cudaMemcpyDeviceToHost));
    std::vector<int32_t> ridx((size_t)roff.back());
    CUDA_CHECK(cudaMemcpy(ridx.data(), t->idx, ridx.size() * 4, cudaMemcpyDeviceToHost));
    const int64_t n_items = (int64_t)t->nqb * H;
    std::vector<int64_t> off((size_t)n_items + 1);
    std::vector<int32_t> idx;
    idx.reserve(ridx.size() + (size_t)(n_items - (int64_t)t->nqb * R) * (size_t)(c.window / B + 3));
    for (int qb = 0; qb < t->nqb; qb++)
        for (int h = 0; h < H; h++) {
            const int64_t i = (int64_t)qb * H + h;
            off[i] = (int64_t)idx.size();
            if (h < R) {
                const int64_t ri = (int64_t)qb * R + h;
                idx.insert(idx.end(), ridx.begin() + roff[ri], ridx.begin() + roff[ri + 1]);
                continue;
            }
            /* sink blocks, then the window's blocks, of rows first .. last */
            const int first = c.phase == ATTN_TIME_PREFILL ? qb * B : c.n_ctx - 1;
            const int last = c.phase == ATTN_TIME_PREFILL ? std::min(c.n_ctx - 1, qb * B + B - 1) : c.n_ctx - 1;
            const int w0 = std::max(0, first - c.window + 1) / B;
            for (int b = 0; b < w0 && b * B < c.sink; b++) idx.push_back(b);
            for (int b = w0; b <= last / B; b++) idx.push_back(b);
        }
    off[n_items] = (int64_t)idx.size();
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(why, why_len, "%s: cannot write", path);
        return 0;
    }
    int32_t hdr[6] = {c.n_ctx, H, c.n_kv_head, c.d, (int32_t)n_items, 0};
    bool ok = fwrite(hdr, sizeof hdr, 1, f) == 1 && fwrite(off.data(), 8, off.size(), f) == off.size() &&
              fwrite(idx.data(), 4, idx.size(), f) == idx.size();
    ok = (fclose(f) == 0) && ok;
    if (!ok) snprintf(why, why_len, "%s: short write", path);
    return ok;
}

extern "C" void layer_timer_host(layer_timer *t, layer_host *h)
{
    const layer_split &s = t->s;
    const size_t nq = (size_t)t->n_q, n = (size_t)t->c.n_ctx, d = (size_t)t->c.d;
    memset(h, 0, sizeof *h);
    h->n_q = t->n_q;
    h->kv_loc = t->kv_loc;
    h->nb = t->nb;
    h->items = (int)t->items;
    to_host(&h->q_ret, (const uint16_t *)t->q_ret, nq * s.ret_heads * d);
    to_host(&h->k_ret, (const uint16_t *)t->k_ret, n * s.ret_kv * d);
    to_host(&h->v_ret, (const uint16_t *)t->v_ret, n * s.ret_kv * d);
    to_host(&h->out_ret, (const uint16_t *)t->out_ret, nq * s.ret_heads * d);
    to_host(&h->q_loc, (const uint16_t *)t->q_loc, nq * s.loc_heads * d);
    to_host(&h->k_loc, (const uint16_t *)t->k_loc, (size_t)t->kv_loc * s.loc_kv * d);
    to_host(&h->v_loc, (const uint16_t *)t->v_loc, (size_t)t->kv_loc * s.loc_kv * d);
    to_host(&h->out_loc, (const uint16_t *)t->out_loc, nq * s.loc_heads * d);
    to_host(&h->kx, (const uint16_t *)t->kx, (size_t)s.ret_heads * n * s.r);
    to_host(&h->qx, (const float *)t->qx, nq * s.ret_heads * s.r);
    to_host(&h->blse, (const float *)t->blse, (size_t)t->items * t->nb);
    to_host(&h->off, (const int64_t *)t->off, (size_t)t->items + 1);
    int64_t used = h->off[t->items];
    to_host(&h->idx, (const int32_t *)t->idx, (size_t)(used ? used : 1));
}

extern "C" void layer_host_free(layer_host *h)
{
    void *p[] = {h->q_ret, h->k_ret, h->v_ret, h->q_loc, h->k_loc, h->v_loc, h->kx, h->out_ret, h->out_loc,
                 h->qx, h->blse, h->off, h->idx};
    for (void *x : p) free(x);
    memset(h, 0, sizeof *h);
}
