/* attn_standin.cu — a plain, obviously correct dense causal attention for
 * the CUDA backend, standing in until the flash kernels (kernels/cuda/
 * attn_prefill.cu, attn_decode.cu, branch `cuda`) are merged; same
 * argument conventions as theirs (ops_cuda.h), so swapping is one call.
 *
 * One warp per (query row, head). Each lane owns D/32 consecutive dims of q,
 * the running output and each key/value row; keys are visited in order, the
 * score reduced across the warp with shuffles, then the online softmax
 * update (running max m, normaliser l) rescales the lane's output slice.
 * f32 throughout, bf16 only at the loads and the final store. It reads each
 * K/V row once per query and head: fine for the tests and the small model,
 * far from the flash kernels' speed; it is not a benchmark subject.
 */
#include <cuda_bf16.h>
#include <math.h>

#include "cuda/cuda_check.h"
#include "cuda/ops_cuda.h"

#define STANDIN_WARPS 4   /* warps (query rows x heads) per block */

template <int D>
static __global__ void attn_standin_kernel(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                           uint16_t *out, int n_q, int q_offset, int n_head,
                                           int n_kv_head, float scale)
{
    constexpr int P = D / 32;     /* dims per lane */
    const int lane = threadIdx.x & 31;
    const long task = (long)blockIdx.x * STANDIN_WARPS + (threadIdx.x >> 5);
    if (task >= (long)n_q * n_head) return;
    const int i = (int)(task / n_head), h = (int)(task % n_head);
    const int kvh = h / (n_head / n_kv_head);
    const int last = q_offset + i;            /* last visible key */
    const size_t kv_stride = (size_t)n_kv_head * D;

    float qr[P], o[P];
    const uint16_t *qp = q + ((size_t)i * n_head + h) * D + lane * P;
#pragma unroll
    for (int e = 0; e < P; e++) {
        qr[e] = __uint_as_float((uint32_t)qp[e] << 16) * scale;
        o[e] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const uint16_t *kp = k + (size_t)kvh * D + lane * P;
    const uint16_t *vp = v + (size_t)kvh * D + lane * P;
    for (int j = 0; j <= last; j++) {
        float s = 0.0f;
#pragma unroll
        for (int e = 0; e < P; e++) s += qr[e] * __uint_as_float((uint32_t)kp[(size_t)j * kv_stride + e] << 16);
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        float m_new = fmaxf(m, s);
        float corr = expf(m - m_new);     /* 0 on the first key (m = -inf) */
        float p = expf(s - m_new);
        l = l * corr + p;
#pragma unroll
        for (int e = 0; e < P; e++)
            o[e] = o[e] * corr + p * __uint_as_float((uint32_t)vp[(size_t)j * kv_stride + e] << 16);
        m = m_new;
    }
    uint16_t *op = out + ((size_t)i * n_head + h) * D + lane * P;
    float inv = 1.0f / l;
#pragma unroll
    for (int e = 0; e < P; e++) op[e] = __bfloat16_as_ushort(__float2bfloat16_rn(o[e] * inv));
}

void attn_standin_cuda(const uint16_t *q, const uint16_t *k, const uint16_t *v, uint16_t *out, int n_q,
                       int kv_len, int q_offset, int n_head, int n_kv_head, int d, cudaStream_t st)
{
    PB_CHECK(d == 64 || d == 128, "attention: head dim %d (64 or 128 only)", d);
    PB_CHECK(n_kv_head > 0 && n_head % n_kv_head == 0, "attention: %d heads over %d KV heads", n_head, n_kv_head);
    PB_CHECK(q_offset >= 0 && q_offset + n_q <= kv_len, "attention: queries %d..%d beyond %d keys", q_offset,
             q_offset + n_q, kv_len);
    long tasks = (long)n_q * n_head;
    unsigned grid = (unsigned)((tasks + STANDIN_WARPS - 1) / STANDIN_WARPS);
    float scale = 1.0f / sqrtf((float)d);
    if (d == 64)
        attn_standin_kernel<64><<<grid, 32 * STANDIN_WARPS, 0, st>>>(q, k, v, out, n_q, q_offset, n_head,
                                                                     n_kv_head, scale);
    else
        attn_standin_kernel<128><<<grid, 32 * STANDIN_WARPS, 0, st>>>(q, k, v, out, n_q, q_offset, n_head,
                                                                      n_kv_head, scale);
    CUDA_CHECK_LAUNCH();
}
