/* attn_index.cu — the rtpurbo indexer for one decode query, pooled per
 * 64-key block and anchored (kernels/attn_sparse.h has the rule; the CPU
 * twin is attn_index_decode_ref in kernels/cpu/attn_select_ref.c).
 *
 * One warp per (query head, 64/r consecutive blocks): lane l scores keys
 * b*64 + l and b*64 + 32 + l of each; the index keys of all its blocks are
 * loaded (16-byte loads, 64 bytes a key pair) before any is used, so enough
 * bytes are in flight. A non-forced block scores the r-dim index keys
 * against qx in registers; a forced block (sink or recent) reads the real
 * keys of the head's kv head (D bf16) against q, so those blocks carry
 * their exact scores. Then the warp's max and sum of
 * exp: blse = log-sum-exp of the block. Bound by reading the index keys
 * (kv_len * n_head * r * 2 bytes; head-major, so a warp reads 64 * r * 2
 * contiguous bytes); nothing is staged in shared memory.
 * Invariants: r in {8, 16, 32}; d in {64, 128}; keys >= kv_len score -inf.
 * Also here: the KV append that writes the index keys (end of file).
 */
#include "kernels/attn_sparse.h"
#include "kernels/cuda/attn_common.cuh"

enum { IDX_WARPS = 8 };

/* dot of n bf16 (16-byte aligned) with f32 x */
template <int N>
__device__ __forceinline__ float dot_bf16(const __nv_bfloat16 *a, const float *x)
{
    float s = 0.f;
#pragma unroll
    for (int c = 0; c < N; c += 8) {
        uint4 u = *(const uint4 *)(a + c);
        const __nv_bfloat162 *p = (const __nv_bfloat162 *)&u;
#pragma unroll
        for (int e = 0; e < 4; e++) {
            float2 f = __bfloat1622float2(p[e]);
            s = fmaf(f.x, x[c + 2 * e], s);
            s = fmaf(f.y, x[c + 2 * e + 1], s);
        }
    }
    return s;
}

/* The softmax pool of one block from the two scores of each lane. */
__device__ __forceinline__ float block_lse(float s0, float s1)
{
    float mx = fmaxf(s0, s1);
    for (int o = 16; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = __expf(s0 - mx) + __expf(s1 - mx);
    for (int o = 16; o; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    return mx + __logf(sum);
}

/* A warp takes NB = 64 / R consecutive blocks; its index-key loads (NB * 2
 * keys a lane, R * 2 bytes each) are all issued before the first is used. */
template <int R, int D>
__global__ void __launch_bounds__(IDX_WARPS * 32)
index_decode_kernel(const float *__restrict__ qx, const __nv_bfloat16 *__restrict__ kx,
                    const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k, float *__restrict__ blse,
                    size_t ld, int kv_len, int n_head, int n_kv_head, attn_select_params prm, float scale)
{
    constexpr int NB = 64 / R, CH = R / 8; /* blocks a warp; 16-byte chunks a key */
    const int lane = threadIdx.x & 31, h = blockIdx.y;
    const int b_first = (blockIdx.x * IDX_WARPS + (threadIdx.x >> 5)) * NB;
    const int p = kv_len - 1, V = p / ATTN_SBLOCK + 1;
    if (b_first >= V) return;
    const int sink_end = min(prm.sink, p + 1);
    const int local_lo = prm.local > 0 ? max(0, p - prm.local + 1) / ATTN_SBLOCK : V;
    auto forced = [&](int b) { return b * ATTN_SBLOCK < sink_end || b >= local_lo; };
    const __nv_bfloat16 *kh = kx + (size_t)h * kv_len * R;
    uint4 buf[NB][2][CH];
#pragma unroll
    for (int i = 0; i < NB; i++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int b = b_first + i, j = b * ATTN_SBLOCK + e * 32 + lane;
            const bool ok = b < V && !forced(b) && j < kv_len;
#pragma unroll
            for (int c = 0; c < CH; c++)
                buf[i][e][c] = ok ? __ldg((const uint4 *)(kh + (size_t)j * R) + c) : make_uint4(0, 0, 0, 0);
        }
    float x[R];
#pragma unroll
    for (int c = 0; c < R; c++) x[c] = qx[(size_t)h * R + c];
#pragma unroll
    for (int i = 0; i < NB; i++) {
        const int b = b_first + i;
        if (b >= V) break;
        float s[2];
        if (!forced(b)) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int j = b * ATTN_SBLOCK + e * 32 + lane;
                s[e] = j < kv_len ? scale * dot_bf16<R>((const __nv_bfloat16 *)buf[i][e], x) : -INFINITY;
            }
        } else { /* exact scores: q against the real keys of the head's kv head */
            const int kvh = h / (n_head / n_kv_head);
            const __nv_bfloat16 *qh = q + (size_t)h * D;
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int j = b * ATTN_SBLOCK + e * 32 + lane;
                float acc = 0.f;
                if (j < kv_len) {
                    const __nv_bfloat16 *kj = k + ((size_t)j * n_kv_head + kvh) * D;
#pragma unroll 4
                    for (int c = 0; c < D; c += 8) {
                        uint4 ku = *(const uint4 *)(kj + c), qu = *(const uint4 *)(qh + c);
                        const __nv_bfloat162 *kp = (const __nv_bfloat162 *)&ku, *qp = (const __nv_bfloat162 *)&qu;
#pragma unroll
                        for (int t = 0; t < 4; t++) {
                            float2 kf = __bfloat1622float2(kp[t]), qf = __bfloat1622float2(qp[t]);
                            acc = fmaf(kf.x, qf.x, acc);
                            acc = fmaf(kf.y, qf.y, acc);
                        }
                    }
                }
                s[e] = j < kv_len ? scale * acc : -INFINITY;
            }
        }
        const float l = block_lse(s[0], s[1]);
        if (lane == 0) blse[(size_t)h * ld + b] = l;
    }
}

int attn_index_decode_cuda(const float *qx, const void *kx, const void *q, const void *k, float *blse, size_t ld,
                           int kv_len, int n_head, int n_kv_head, int d, int r, const attn_select_params *prm,
                           void *stream)
{
    if (kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || !prm) return (int)cudaErrorInvalidValue;
    const int V = (kv_len - 1) / ATTN_SBLOCK + 1;
    if ((size_t)V > ld) return (int)cudaErrorInvalidValue;
    const int nb = 64 / r; /* blocks a warp (index_decode_kernel's NB) */
    dim3 grid((V + IDX_WARPS * nb - 1) / (IDX_WARPS * nb), n_head);
    cudaStream_t st = (cudaStream_t)stream;
    const float scale = 1.0f / sqrtf((float)d);
    typedef const __nv_bfloat16 *cb;
#define IDX_CASE(RR, DD)                                                                                        \
    if (r == RR && d == DD) {                                                                                   \
        index_decode_kernel<RR, DD><<<grid, IDX_WARPS * 32, 0, st>>>(qx, (cb)kx, (cb)q, (cb)k, blse, ld, kv_len, \
                                                                   n_head, n_kv_head, *prm, scale);             \
        return (int)cudaGetLastError();                                                                         \
    }
    IDX_CASE(8, 64) IDX_CASE(16, 64) IDX_CASE(32, 64) IDX_CASE(8, 128) IDX_CASE(16, 128) IDX_CASE(32, 128)
#undef IDX_CASE
    return (int)cudaErrorInvalidValue;
}

/* ---- KV append with index keys (attn_kv_append_index_cuda) ----
 * One CTA per token: the threads convert the token's K and V rows into the
 * cache, then each takes (listed head, index dim) outputs: a d-long dot of
 * W_K's row with the pre-RoPE key of the head's KV head, fused
 * multiply-adds in order of e as the twin does, so kx matches it bit for
 * bit. */
struct append_heads {
    int h[ATTN_APPEND_MAX_HEADS];
};

__global__ void kv_append_index_kernel(uint16_t *__restrict__ kc, uint16_t *__restrict__ vc,
                                       uint16_t *__restrict__ kx, long kx_ld, const float *__restrict__ k,
                                       const float *__restrict__ v, const float *__restrict__ k_pre,
                                       const float *__restrict__ wk, int pos0, int n_head, int n_kv_head, int d,
                                       int r, append_heads hl, int n_sel)
{
    const int t = blockIdx.x;
    const size_t row = (size_t)n_kv_head * d;
    for (size_t e = threadIdx.x; e < row; e += blockDim.x) {
        __nv_bfloat16 kb = __float2bfloat16_rn(k[t * row + e]), vb = __float2bfloat16_rn(v[t * row + e]);
        kc[(pos0 + t) * row + e] = *(uint16_t *)&kb;
        vc[(pos0 + t) * row + e] = *(uint16_t *)&vb;
    }
    const int G = n_head / n_kv_head;
    for (int o = threadIdx.x; o < n_sel * r; o += blockDim.x) {
        const int h = hl.h[o / r], c = o % r;
        const float *kp = k_pre + ((size_t)t * n_kv_head + h / G) * d, *w = wk + ((size_t)h * r + c) * d;
        float acc = 0.f;
        for (int e = 0; e < d; e++) acc = fmaf(__ldg(w + e), __ldg(kp + e), acc);
        __nv_bfloat16 xb = __float2bfloat16_rn(acc);
        kx[((size_t)h * kx_ld + pos0 + t) * r + c] = *(uint16_t *)&xb;
    }
}

int attn_kv_append_index_cuda(uint16_t *kc, uint16_t *vc, uint16_t *kx, long kx_ld, const float *k,
                              const float *v, const float *k_pre, const float *wk, int pos0, int n,
                              int n_head, int n_kv_head, int d, int r, const int *heads, int n_sel,
                              void *stream)
{
    if (n <= 0 || pos0 < 0 || n_kv_head <= 0 || n_head % n_kv_head || d <= 0 || r <= 0 || n_sel < 0 ||
        n_sel > ATTN_APPEND_MAX_HEADS || (n_sel && pos0 + n > kx_ld))
        return (int)cudaErrorInvalidValue;
    append_heads hl;
    for (int s = 0; s < n_sel; s++) {
        if (heads[s] < 0 || heads[s] >= n_head) return (int)cudaErrorInvalidValue;
        hl.h[s] = heads[s];
    }
    kv_append_index_kernel<<<n, 256, 0, (cudaStream_t)stream>>>(kc, vc, kx, kx_ld, k, v, k_pre, wk, pos0, n_head,
                                                                n_kv_head, d, r, hl, n_sel);
    return (int)cudaGetLastError();
}
