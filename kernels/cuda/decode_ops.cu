/* decode_ops.cu — the fused matrix-vector kernels of one decode step
 * (kernels/decode_kernels.h): a prologue (rmsnorm, or the LSE combine of
 * split-KV attention), a bf16 GEMV summed in f32, and an epilogue (RoPE +
 * KV-cache write, SwiGLU, residual add, or plain).
 *
 * One kernel template. Blocks of 256 threads (8 warps); each warp owns a
 * "unit" of R weight rows at a time (grid-stride over units): R = 2 for qkv
 * (the adjacent pair RoPE rotates) and swiglu (gate row i, up row i), 1
 * otherwise. Each lane loads 16-byte chunks of its rows (8 bf16), those of
 * its first unit before the prologue (and before waiting for the previous
 * kernel under PDL), multiplies them with the matching chunks of the
 * activation, the sums are reduced across the warp, lane 0 applies the
 * epilogue. With the norm prologue every block
 * first forms the normed bf16 row in shared memory exactly as
 * rmsnorm_kernel (ops.cu) does: same 256-thread reduction, same formula, so
 * the activation is the op-by-op path's bit for bit; with the combine
 * prologue every block forms the attention output from the split-KV
 * partials as combine_kernel does, its sums in split order. Every load a
 * prologue or a unit needs is issued before the first is used (latency,
 * not bandwidth, bounds these small kernels).
 * Invariants: in % 8 == 0, rows and activation 16-byte aligned (checked by
 * the launchers); Q, KV even and d even (pairs never straddle a section).
 */
#include <cuda_bf16.h>

#include "kernels/attn_kernels.h"
#include "kernels/decode_kernels.h"

namespace {

constexpr int THREADS = 256, WARPS = THREADS / 32, MAX_BLOCKS = 4096;

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
    int n_split, n_head, dh;
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

/* Values of a normed row a thread holds: rows up to THREADS * NORM_K = 2048. */
constexpr int NORM_K = 8;

/* This thread's values i = tid + THREADS * k of a row (0 past dim). */
__device__ __forceinline__ void load_row(float (&v)[NORM_K], const float *x, int dim)
{
#pragma unroll
    for (int k = 0; k < NORM_K; k++) {
        const int i = threadIdx.x + THREADS * k;
        v[k] = i < dim ? x[i] : 0.0f;
    }
}

/* sa: (dim) bf16 = rmsnorm(x) * w over the whole block, as rmsnorm_kernel
 * (ops.cu) forms it (same per-thread sums, same reduction, same formula),
 * with every load issued at once; wv: this thread's norm weights (load_row). */
__device__ void norm_row(uint16_t *sa, const float *x, const float (&wv)[NORM_K], int dim, float eps)
{
    __shared__ float part[32];
    float xv[NORM_K];
    load_row(xv, x, dim);
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < NORM_K; k++) ss += xv[k] * xv[k];  /* zeros past dim add nothing */
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
#pragma unroll
    for (int k = 0; k < NORM_K; k++) {
        const int i = threadIdx.x + THREADS * k;
        if (i < dim) sa[i] = to_bf16(wv[k] * (xv[k] * s));
    }
    __syncthreads();
}

/* sa: (n_head * dh) bf16 = the attention output from split partials, formed
 * as combine_kernel (attn_decode.cu) forms it: max of the LSEs, weights
 * exp(lse - max), products rounded before each add, splits added in order,
 * times 1 / (sum of weights); only the splits that saw keys (the first
 * ceil(kv_len / attn_dev_chunk(kv_len))) are read. First one warp per head
 * puts the weights in shared memory, then one thread per (head, 4 dims)
 * sums, its loads issued 16 splits at a time. n_head <= 16, n_split <= 64. */
__device__ void combine_row(uint16_t *sa, const args &p)
{
    __shared__ float ws[16 * 64];
    const int tpr = p.dh / 4, kv_len = *p.kv_len, chunk = attn_dev_chunk(kv_len);
    const int n_act = min(p.n_split, (kv_len + chunk - 1) / chunk);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int h = warp; h < p.n_head; h += WARPS) {
        float l0 = lane < n_act ? p.part_lse[(size_t)lane * p.n_head + h] : -INFINITY;
        float l1 = lane + 32 < n_act ? p.part_lse[(size_t)(lane + 32) * p.n_head + h] : -INFINITY;
        float mx = fmaxf(l0, l1);
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        ws[h * 64 + lane] = l0 == -INFINITY ? 0.f : __expf(l0 - mx);
        ws[h * 64 + lane + 32] = l1 == -INFINITY ? 0.f : __expf(l1 - mx);
    }
    __syncthreads();
    for (int it = threadIdx.x; it < p.n_head * tpr; it += blockDim.x) {
        const int h = it / tpr, c4 = it % tpr;
        const float *po = p.part_o + (size_t)h * p.dh + c4 * 4;
        const size_t stride = (size_t)p.n_head * p.dh;
        float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
        float wsum = 0.f;
        for (int s0 = 0; s0 < n_act; s0 += 16) {
            float4 xs[16];
#pragma unroll
            for (int j = 0; j < 16; j++)
                xs[j] = s0 + j < n_act ? *(const float4 *)(po + (size_t)(s0 + j) * stride) : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
            for (int j = 0; j < 16; j++)
                if (s0 + j < n_act) {
                    const float w = ws[h * 64 + s0 + j];
                    acc.x = __fadd_rn(acc.x, __fmul_rn(w, xs[j].x));
                    acc.y = __fadd_rn(acc.y, __fmul_rn(w, xs[j].y));
                    acc.z = __fadd_rn(acc.z, __fmul_rn(w, xs[j].z));
                    acc.w = __fadd_rn(acc.w, __fmul_rn(w, xs[j].w));
                    wsum = __fadd_rn(wsum, w);
                }
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

/* 16-byte chunks of each row of its first unit that a lane loads before
 * the prologue (and, with PDL, before waiting for the previous kernel):
 * rows of up to 32 * PRE * 8 = 1536 values arrive whole. */
constexpr int PRE = 6;

template <int EPI>
struct unit_of {
    static constexpr int R = EPI == EPI_ADD ? 1 : 2;  /* rows per unit */
};

/* The weight rows of unit u. */
template <int EPI>
__device__ __forceinline__ void unit_rows(const args &p, int u, const uint16_t *(&rows)[unit_of<EPI>::R])
{
    if constexpr (EPI == EPI_QKV) {
        const int r0 = 2 * u, Q = p.n0, KV = p.n1;
        const int sec = r0 < Q ? 0 : r0 < Q + KV ? 1 : 2;
        const int rr = r0 - (sec == 0 ? 0 : sec == 1 ? Q : Q + KV);
        rows[0] = (sec == 0 ? p.w0 : sec == 1 ? p.w1 : p.w2) + (size_t)rr * p.in;
        rows[1] = rows[0] + p.in;
    } else if constexpr (EPI == EPI_SWIGLU) {
        rows[0] = p.w0 + (size_t)u * p.in;
        rows[1] = p.w1 + (size_t)u * p.in;
    } else if constexpr (EPI == EPI_OUT) {  /* rows 2u, 2u + 1 (the last alone when out is odd) */
        rows[0] = p.w0 + (size_t)(2 * u) * p.in;
        rows[1] = 2 * u + 1 < p.n0 ? rows[0] + p.in : rows[0];
    } else {
        rows[0] = p.w0 + (size_t)u * p.in;
    }
}

/* Chunks lane, lane + 32, ... (the first PRE) of each row into w. */
template <int R>
__device__ __forceinline__ void preload(uint4 (&w)[R][PRE], const uint16_t *const (&rows)[R], int in8)
{
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int k = 0; k < PRE; k++)
#pragma unroll
        for (int r = 0; r < R; r++)
            w[r][k] = lane + 32 * k < in8 ? __ldg((const uint4 *)rows[r] + lane + 32 * k) : make_uint4(0, 0, 0, 0);
}

/* Sums of R rows against a, all lanes get them; w: the rows' first chunks
 * (preload), the rest read here. Chunks are summed in the same order
 * whatever PRE is. */
template <int R>
__device__ __forceinline__ void warp_dots(float (&acc)[R], const uint4 (&w)[R][PRE], const uint16_t *const (&rows)[R],
                                          const uint16_t *a, int in8)
{
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = 0.0f;
#pragma unroll
    for (int k = 0; k < PRE; k++)
        if (lane + 32 * k < in8) {
            uint4 av = ((const uint4 *)a)[lane + 32 * k];
#pragma unroll
            for (int r = 0; r < R; r++) acc[r] = dot8(w[r][k], av, acc[r]);
        }
#pragma unroll 4
    for (int c = lane + 32 * PRE; c < in8; c += 32) {
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

/* Lane 0's epilogue of unit u with its sums. */
template <int EPI>
__device__ __forceinline__ void epilogue(const args &p, int u, float (&acc)[unit_of<EPI>::R])
{
    if constexpr (EPI == EPI_QKV) {
        const int r0 = 2 * u, Q = p.n0, KV = p.n1;
        const int sec = r0 < Q ? 0 : r0 < Q + KV ? 1 : 2;
        const int rr = r0 - (sec == 0 ? 0 : sec == 1 ? Q : Q + KV);
        const int pos = p.step[DEC_STEP_POS];
        if (sec < 2) rope_pair(acc[0], acc[1], pos, p.inv_freq[(rr % p.d) / 2]);
        uint16_t *dst = sec == 0 ? p.q + rr : (sec == 1 ? p.kc : p.vc) + (size_t)pos * KV + rr;
        dst[0] = to_bf16(acc[0]);
        dst[1] = to_bf16(acc[1]);
    } else if constexpr (EPI == EPI_SWIGLU) {
        float g = acc[0];
        p.h[u] = to_bf16(__fmul_rn(__fdiv_rn(g, 1.0f + expf(-g)), acc[1]));
    } else if constexpr (EPI == EPI_ADD) {
        p.y[u] += acc[0];
    } else {
        p.y[2 * u] = acc[0];
        if (2 * u + 1 < p.n0) p.y[2 * u + 1] = acc[1];
    }
}

template <int EPI, int PRO>
__global__ void __launch_bounds__(THREADS) gemv_kernel(const args p, int n_units)
{
    constexpr int R = unit_of<EPI>::R;
    extern __shared__ __align__(16) uint16_t sa[];
    const int lane = threadIdx.x & 31, in8 = p.in / 8;
    /* programmatic dependent launch (no-ops without it): let the next
     * kernel start, load this warp's first weights (they never depend on
     * an earlier kernel), then wait for the previous kernel's writes before
     * reading anything else */
    asm volatile("griddepcontrol.launch_dependents;");
    const int u0 = blockIdx.x * WARPS + (threadIdx.x >> 5);
    const uint16_t *rows[R];
    uint4 w[R][PRE];
    float nwv[NORM_K];
    if (u0 < n_units) {
        unit_rows<EPI>(p, u0, rows);
        preload<R>(w, rows, in8);
    }
    if (PRO == PRO_NORM) load_row(nwv, p.nw, p.in);
    asm volatile("griddepcontrol.wait;" ::: "memory");
    const uint16_t *a = p.act;
    if (PRO == PRO_NORM) {
        norm_row(sa, p.x, nwv, p.in, p.eps);
        a = sa;
    } else if (PRO == PRO_COMBINE) {
        combine_row(sa, p);
        a = sa;
    }
    for (int u = u0; u < n_units; u += gridDim.x * WARPS) {
        if (u != u0) {
            unit_rows<EPI>(p, u, rows);
            preload<R>(w, rows, in8);
        }
        float acc[R];
        warp_dots<R>(acc, w, rows, a, in8);
        if (lane == 0) epilogue<EPI>(p, u, acc);
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
        (p.w2 && !aligned16(p.w2)) || (PRO == PRO_ACT && !aligned16(p.act)) ||
        (PRO == PRO_NORM && p.in > THREADS * NORM_K) || p.in > 16384)
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
                                 const int *kv_len, int n_head, int d, int out, int pdl, void *stream)
{
    if (n_split <= 0 || n_split > 64 || n_head > 16 || d % 4 || !aligned16(part_o)) return (int)cudaErrorInvalidValue;
    args p = {};
    p.pdl = pdl;
    p.in = n_head * d, p.w0 = (const uint16_t *)wo, p.n0 = out, p.y = x;
    p.part_o = part_o, p.part_lse = part_lse, p.n_split = n_split, p.n_head = n_head, p.dh = d;
    p.kv_len = kv_len;
    return launch<EPI_ADD, PRO_COMBINE>(p, out, stream);
}

extern "C" int dec_out_cuda(float *y, const float *x, const float *nw, float eps, const void *w, int in, int out,
                            int pdl, void *stream)
{
    args p = {};
    p.pdl = pdl;
    p.x = x, p.nw = nw, p.eps = eps, p.in = in, p.w0 = (const uint16_t *)w, p.n0 = out, p.y = y;
    return launch<EPI_OUT, PRO_NORM>(p, (out + 1) / 2, stream);
}

extern "C" int dec_device_sync(void)
{
    return (int)cudaDeviceSynchronize();
}
