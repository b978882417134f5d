/* decode_ops.cu — the fused matrix-vector kernels of one decode step
 * (kernels/decode_kernels.h): a prologue (rmsnorm, or the LSE combine of
 * split-KV attention), a bf16 GEMV summed in f32, and an epilogue (RoPE +
 * KV-cache write, SwiGLU, residual add, or plain).
 *
 * One kernel template. Blocks of 256 threads (8 warps); each warp owns a
 * "unit" of R weight rows at a time (grid-stride over units): R = 2 for qkv
 * (the adjacent pair RoPE rotates) and swiglu (gate row i, up row i), 1
 * otherwise. Each lane streams 16-byte chunks of its rows (8 bf16) against
 * the matching chunk of the activation, the sums are reduced across the
 * warp, lane 0 applies the epilogue. With the norm prologue every block
 * first forms the normed bf16 row in shared memory exactly as
 * rmsnorm_kernel (ops.cu) does: same 256-thread reduction, same formula, so
 * the activation is the op-by-op path's bit for bit; with the combine
 * prologue every block forms the attention output as combine_kernel does
 * (bit for bit while at most 32 splits saw keys: its rows of threads then
 * hold one split each and are summed in split order).
 * Invariants: in % 8 == 0, rows and activation 16-byte aligned (checked by
 * the launchers); Q, KV even and d even (pairs never straddle a section).
 */
#include <cuda_bf16.h>

#include "kernels/decode_kernels.h"

namespace {

constexpr int THREADS = 256, WARPS = THREADS / 32, MAX_BLOCKS = 2048;

enum epi { EPI_QKV, EPI_SWIGLU, EPI_ADD, EPI_OUT };
/* where the activation comes from: given (bf16), rmsnorm of x, or the LSE
 * combine of split-KV attention partials */
enum pro { PRO_ACT, PRO_NORM, PRO_COMBINE };

struct args {
    const float *x, *nw;      /* norm prologue: x (in) f32, weight (in) f32 */
    float eps;
    const uint16_t *act;      /* else the activation (in) bf16 */
    int in;
    const uint16_t *w0, *w1, *w2;
    int n0, n1, d;            /* qkv: Q, KV, head dim; swiglu: F, -; add/out: out, - */
    float *y;                 /* add: x to add into; out: y */
    uint16_t *q, *kc, *vc, *h;
    const float *inv_freq;
    const int *step;
    int pdl;                  /* launched with programmatic dependent launch */
    /* combine prologue: part_o (n_split, n_head, dh) f32, part_lse (n_split, n_head) */
    const float *part_o, *part_lse;
    int n_split, n_head, dh, chunk;
    const int *kv_len;
};

__device__ __forceinline__ uint16_t to_bf16(float f)
{
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

__device__ __forceinline__ float lo_f(uint32_t w)
{
    return __uint_as_float(w << 16);
}

__device__ __forceinline__ float hi_f(uint32_t w)
{
    return __uint_as_float(w & 0xffff0000u);
}

__device__ __forceinline__ float dot8(uint4 w, uint4 a, float acc)
{
    acc = fmaf(lo_f(w.x), lo_f(a.x), acc);
    acc = fmaf(hi_f(w.x), hi_f(a.x), acc);
    acc = fmaf(lo_f(w.y), lo_f(a.y), acc);
    acc = fmaf(hi_f(w.y), hi_f(a.y), acc);
    acc = fmaf(lo_f(w.z), lo_f(a.z), acc);
    acc = fmaf(hi_f(w.z), hi_f(a.z), acc);
    acc = fmaf(lo_f(w.w), lo_f(a.w), acc);
    acc = fmaf(hi_f(w.w), hi_f(a.w), acc);
    return acc;
}

/* sa: (dim) bf16 = rmsnorm(x) * w, the whole block; as rmsnorm_kernel. */
__device__ void norm_row(uint16_t *sa, const float *x, const float *w, int dim, float eps)
{
    __shared__ float part[32];
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += x[i] * x[i];
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
        ss = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
        if (threadIdx.x == 0) part[0] = ss;
    }
    __syncthreads();
    float s = (float)(1.0 / sqrt((double)part[0] / dim + eps));
    for (int i = threadIdx.x; i < dim; i += blockDim.x) sa[i] = to_bf16(w[i] * (x[i] * s));
    __syncthreads();
}

/* sa: (n_head * dh) bf16 = the attention output from split partials, as
 * combine_kernel (attn_decode.cu) forms it: max of the LSEs, weights
 * exp(lse - max), products rounded before each add, splits summed in order,
 * times 1 / (sum of weights); only the splits that saw keys (the first
 * ceil(kv_len / chunk)) are read. One thread per (head, 4 dims). */
__device__ void combine_row(uint16_t *sa, const args &p)
{
    const int tpr = p.dh / 4, kv_len = *p.kv_len;
    const int n_act = min(p.n_split, (kv_len + p.chunk - 1) / p.chunk);
    for (int it = threadIdx.x; it < p.n_head * tpr; it += blockDim.x) {
        const int h = it / tpr, c4 = it % tpr;
        float mx = -INFINITY;
        for (int s = 0; s < n_act; s++) mx = fmaxf(mx, p.part_lse[(size_t)s * p.n_head + h]);
        float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
        float wsum = 0.f;
        for (int s = 0; s < n_act; s++) {
            float ls = p.part_lse[(size_t)s * p.n_head + h];
            float w = ls == -INFINITY ? 0.f : __expf(ls - mx);
            float4 x = *(const float4 *)(p.part_o + ((size_t)s * p.n_head + h) * p.dh + c4 * 4);
            acc.x = __fadd_rn(acc.x, __fmul_rn(w, x.x));
            acc.y = __fadd_rn(acc.y, __fmul_rn(w, x.y));
            acc.z = __fadd_rn(acc.z, __fmul_rn(w, x.z));
            acc.w = __fadd_rn(acc.w, __fmul_rn(w, x.w));
            wsum = __fadd_rn(wsum, w);
        }
        float inv = wsum > 0.f ? 1.f / wsum : 0.f;
        uint16_t *dst = sa + (size_t)h * p.dh + c4 * 4;
        dst[0] = to_bf16(acc.x * inv);
        dst[1] = to_bf16(acc.y * inv);
        dst[2] = to_bf16(acc.z * inv);
        dst[3] = to_bf16(acc.w * inv);
    }
    __syncthreads();
}

/* Sums of R rows against a, all lanes get them. */
template <int R>
__device__ __forceinline__ void warp_dots(float (&acc)[R], const uint16_t *const (&rows)[R], const uint16_t *a,
                                          int in8)
{
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = 0.0f;
#pragma unroll 4
    for (int c = lane; c < in8; c += 32) {
        uint4 av = ((const uint4 *)a)[c];
#pragma unroll
        for (int r = 0; r < R; r++) acc[r] = dot8(__ldg((const uint4 *)rows[r] + c), av, acc[r]);
    }
#pragma unroll
    for (int r = 0; r < R; r++)
        for (int o = 16; o > 0; o >>= 1) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], o);
}

/* RoPE of the pair (x0, x1) at pair index i of a head, position pos: as rope_kernel. */
__device__ __forceinline__ void rope_pair(float &x0, float &x1, int pos, float inv_freq)
{
    float ang = __fmul_rn((float)pos, inv_freq);
    double sd, cd;
    sincos((double)ang, &sd, &cd);
    float c = (float)cd, s = (float)sd;
    float y0 = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    float y1 = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
    x0 = y0;
    x1 = y1;
}

/* The weight rows of unit u into L2 (they never depend on earlier kernels). */
template <int EPI>
__device__ __forceinline__ void prefetch_unit(const args &p, int u)
{
    const uint16_t *rows[2];
    int n = 1;
    if (EPI == EPI_QKV) {
        const int r0 = 2 * u, Q = p.n0, KV = p.n1;
        const int sec = r0 < Q ? 0 : r0 < Q + KV ? 1 : 2;
        const int rr = r0 - (sec == 0 ? 0 : sec == 1 ? Q : Q + KV);
        rows[0] = (sec == 0 ? p.w0 : sec == 1 ? p.w1 : p.w2) + (size_t)rr * p.in;
        rows[1] = rows[0] + p.in;
        n = 2;
    } else if (EPI == EPI_SWIGLU) {
        rows[0] = p.w0 + (size_t)u * p.in;
        rows[1] = p.w1 + (size_t)u * p.in;
        n = 2;
    } else {
        rows[0] = p.w0 + (size_t)u * p.in;
    }
    /* one 128-byte line per lane and step */
    for (int r = 0; r < n; r++)
        for (int off = (threadIdx.x & 31) * 64; off < p.in; off += 32 * 64)
            asm volatile("prefetch.global.L2 [%0];" ::"l"(rows[r] + off));
}

template <int EPI, int PRO>
__global__ void __launch_bounds__(THREADS) gemv_kernel(const args p, int n_units)
{
    extern __shared__ __align__(16) uint16_t sa[];
    /* programmatic dependent launch (a no-op without it): let the next
     * kernel start, fetch this warp's first weights, then wait for the
     * previous kernel's writes before reading anything it produced */
    asm volatile("griddepcontrol.launch_dependents;");
    const int u0 = blockIdx.x * WARPS + (threadIdx.x >> 5);
    if (p.pdl && u0 < n_units) prefetch_unit<EPI>(p, u0);
    asm volatile("griddepcontrol.wait;" ::: "memory");
    const uint16_t *a = p.act;
    if (PRO == PRO_NORM) {
        norm_row(sa, p.x, p.nw, p.in, p.eps);
        a = sa;
    } else if (PRO == PRO_COMBINE) {
        combine_row(sa, p);
        a = sa;
    }
    const int lane = threadIdx.x & 31, in8 = p.in / 8;
    for (int u = blockIdx.x * WARPS + (threadIdx.x >> 5); u < n_units; u += gridDim.x * WARPS) {
        if (EPI == EPI_QKV) {
            const int r0 = 2 * u, Q = p.n0, KV = p.n1;
            const int sec = r0 < Q ? 0 : r0 < Q + KV ? 1 : 2;
            const int rr = r0 - (sec == 0 ? 0 : sec == 1 ? Q : Q + KV);
            const uint16_t *base = sec == 0 ? p.w0 : sec == 1 ? p.w1 : p.w2;
            const uint16_t *const rows[2] = {base + (size_t)rr * p.in, base + (size_t)(rr + 1) * p.in};
            float acc[2];
            warp_dots<2>(acc, rows, a, in8);
            if (lane == 0) {
                const int pos = p.step[DEC_STEP_POS];
                if (sec < 2) rope_pair(acc[0], acc[1], pos, p.inv_freq[(rr % p.d) / 2]);
                uint16_t *dst = sec == 0 ? p.q + rr : (sec == 1 ? p.kc : p.vc) + (size_t)pos * KV + rr;
                dst[0] = to_bf16(acc[0]);
                dst[1] = to_bf16(acc[1]);
            }
        } else if (EPI == EPI_SWIGLU) {
            const uint16_t *const rows[2] = {p.w0 + (size_t)u * p.in, p.w1 + (size_t)u * p.in};
            float acc[2];
            warp_dots<2>(acc, rows, a, in8);
            if (lane == 0) {
                float g = acc[0];
                p.h[u] = to_bf16(__fmul_rn(__fdiv_rn(g, 1.0f + expf(-g)), acc[1]));
            }
        } else {
            const uint16_t *const rows[1] = {p.w0 + (size_t)u * p.in};
            float acc[1];
            warp_dots<1>(acc, rows, a, in8);
            if (lane == 0) {
                if (EPI == EPI_ADD) p.y[u] += acc[0];
                else p.y[u] = acc[0];
            }
        }
    }
}

bool aligned16(const void *p)
{
    return ((uintptr_t)p & 15) == 0;
}

template <int EPI, int PRO>
int launch(const args &p, int n_units, void *stream)
{
    if (p.in <= 0 || p.in % 8 || n_units <= 0 || !aligned16(p.w0) || (p.w1 && !aligned16(p.w1)) ||
        (p.w2 && !aligned16(p.w2)) || (PRO == PRO_ACT && !aligned16(p.act)) || p.in > 16384)
        return (int)cudaErrorInvalidValue;
    int blocks = (n_units + WARPS - 1) / WARPS;
    if (blocks > MAX_BLOCKS) blocks = MAX_BLOCKS;
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = p.pdl ? 1 : 0;
    cfg.gridDim = dim3(blocks);
    cfg.blockDim = dim3(THREADS);
    cfg.dynamicSmemBytes = PRO != PRO_ACT ? (size_t)p.in * sizeof(uint16_t) : 0;
    cfg.stream = (cudaStream_t)stream;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    cudaError_t e = cudaLaunchKernelEx(&cfg, gemv_kernel<EPI, PRO>, p, n_units);
    return (int)(e != cudaSuccess ? e : cudaGetLastError());
}

} // namespace

extern "C" int dec_qkv_cuda(const float *x, const float *nw, float eps, int in, const void *wq, const void *wk,
                            const void *wv, int Q, int KV, int d, const float *inv_freq, const int *step, void *q,
                            void *kc, void *vc, int pdl, void *stream)
{
    if (Q % 2 || KV % 2 || d % 2 || Q % d || KV % d) return (int)cudaErrorInvalidValue;
    args p = {};
    p.pdl = pdl;
    p.x = x, p.nw = nw, p.eps = eps, p.in = in;
    p.w0 = (const uint16_t *)wq, p.w1 = (const uint16_t *)wk, p.w2 = (const uint16_t *)wv;
    p.n0 = Q, p.n1 = KV, p.d = d, p.inv_freq = inv_freq, p.step = step;
    p.q = (uint16_t *)q, p.kc = (uint16_t *)kc, p.vc = (uint16_t *)vc;
    return launch<EPI_QKV, PRO_NORM>(p, (Q + 2 * KV) / 2, stream);
}

extern "C" int dec_swiglu_cuda(const float *x, const float *nw, float eps, int in, const void *wg, const void *wu,
                               int F, void *h, int pdl, void *stream)
{
    args p = {};
    p.pdl = pdl;
    p.x = x, p.nw = nw, p.eps = eps, p.in = in;
    p.w0 = (const uint16_t *)wg, p.w1 = (const uint16_t *)wu, p.n0 = F, p.h = (uint16_t *)h;
    return launch<EPI_SWIGLU, PRO_NORM>(p, F, stream);
}

extern "C" int dec_add_cuda(float *x, const void *w, const void *a, int in, int out, int pdl, void *stream)
{
    args p = {};
    p.pdl = pdl;
    p.act = (const uint16_t *)a, p.in = in, p.w0 = (const uint16_t *)w, p.n0 = out, p.y = x;
    return launch<EPI_ADD, PRO_ACT>(p, out, stream);
}

extern "C" int dec_attn_out_cuda(float *x, const void *wo, const float *part_o, const float *part_lse, int n_split,
                                 int chunk, const int *kv_len, int n_head, int d, int out, int pdl, void *stream)
{
    if (n_split <= 0 || chunk <= 0 || d % 4 || !aligned16(part_o)) return (int)cudaErrorInvalidValue;
    args p = {};
    p.pdl = pdl;
    p.in = n_head * d, p.w0 = (const uint16_t *)wo, p.n0 = out, p.y = x;
    p.part_o = part_o, p.part_lse = part_lse, p.n_split = n_split, p.n_head = n_head, p.dh = d, p.chunk = chunk;
    p.kv_len = kv_len;
    return launch<EPI_ADD, PRO_COMBINE>(p, out, stream);
}

extern "C" int dec_out_cuda(float *y, const float *x, const float *nw, float eps, const void *w, int in, int out,
                            int pdl, void *stream)
{
    args p = {};
    p.pdl = pdl;
    p.x = x, p.nw = nw, p.eps = eps, p.in = in, p.w0 = (const uint16_t *)w, p.n0 = out, p.y = y;
    return launch<EPI_OUT, PRO_NORM>(p, out, stream);
}

extern "C" int dec_device_sync(void)
{
    return (int)cudaDeviceSynchronize();
}
