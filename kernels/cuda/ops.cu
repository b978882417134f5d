/* ops.cu — the small fused kernels of the CUDA forward pass (ops_cuda.h):
 * embedding gather, RMSNorm (f32 in, bf16 out; and f32 in place for
 * QK-norm and post-norms), RoPE (adjacent pairs and half-split), SwiGLU and
 * GeGLU (bf16 out), scaling, residual add, KV-cache append and the
 * f32 -> bf16 cast.
 *
 * Each is memory-bound and tiny next to the matrix products; they are
 * written to be plainly right, with 16-byte accesses only where it costs no
 * readability. Numerics follow the CPU twins (ops.c): RoPE angles formed in
 * f32 from the same inv_freq table, cos/sin in double, products rounded
 * separately (no FMA contraction) as the C code does; SwiGLU uses the
 * accurate expf.
 */
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

static __device__ __forceinline__ float bf16_to_f32(uint16_t h)
{
    return __uint_as_float((uint32_t)h << 16);
}

static __device__ __forceinline__ uint16_t f32_to_bf16(float f)
{
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

static unsigned blocks_for(long n, int threads)
{
    return (unsigned)((n + threads - 1) / threads);
}

/* grid (n), block 256: one row per block. */
static __global__ void embed_kernel(float *x, const uint16_t *emb, const int *ids, int dim)
{
    const uint16_t *row = emb + (size_t)ids[blockIdx.x] * dim;
    float *out = x + (size_t)blockIdx.x * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) out[i] = bf16_to_f32(row[i]);
}

void cuda_embed(float *x, const uint16_t *emb, const int *ids, int n, int dim, cudaStream_t st)
{
    embed_kernel<<<n, 256, 0, st>>>(x, emb, ids, dim);
    CUDA_CHECK_LAUNCH();
}

/* The RMS scale 1/sqrt(mean(x^2) + eps) of row xr (dim f32), reduced in f32
 * across the block (blockDim a multiple of 32, at most 1024), formed in
 * double as the CPU does; every thread gets it. */
static __device__ float row_rms_scale(const float *xr, int dim, float eps)
{
    __shared__ float part[32];
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
        ss = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
        if (threadIdx.x == 0) part[0] = ss;
    }
    __syncthreads();
    return (float)(1.0 / sqrt((double)part[0] / dim + eps));
}

/* grid (n), block 256: one row per block. */
static __global__ void rmsnorm_kernel(uint16_t *y, const float *x, const float *w, int dim, float eps)
{
    const float *xr = x + (size_t)blockIdx.x * dim;
    uint16_t *yr = y + (size_t)blockIdx.x * dim;
    float s = row_rms_scale(xr, dim, eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = f32_to_bf16(w[i] * (xr[i] * s));
}

void cuda_rmsnorm(uint16_t *y, const float *x, const float *w, int n, int dim, float eps, cudaStream_t st)
{
    rmsnorm_kernel<<<n, 256, 0, st>>>(y, x, w, dim, eps);
    CUDA_CHECK_LAUNCH();
}

/* One thread per rotated pair: (token, head, i) of n * n_heads * d/2; the
 * pair is (2i, 2i+1), or (i, i + d/2) when neox. */
static __global__ void rope_kernel(float *x, const float *inv_freq, long n_pairs, int n_heads, int d, int pos0,
                                   int neox)
{
    long p = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n_pairs) return;
    int half = d / 2;
    int i = (int)(p % half);
    long th = p / half;                  /* token * n_heads + head */
    int t = (int)(th / n_heads);
    float ang = __fmul_rn((float)(pos0 + t), inv_freq[i]);
    double sd, cd;
    sincos((double)ang, &sd, &cd);
    float c = (float)cd, s = (float)sd;
    float *v0 = x + th * d + (neox ? i : 2 * i), *v1 = v0 + (neox ? half : 1);
    float x0 = *v0, x1 = *v1;
    *v0 = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    *v1 = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
}

void cuda_rope(float *x, const float *inv_freq, int n, int n_heads, int d, int pos0, cudaStream_t st)
{
    long n_pairs = (long)n * n_heads * (d / 2);
    rope_kernel<<<blocks_for(n_pairs, 256), 256, 0, st>>>(x, inv_freq, n_pairs, n_heads, d, pos0, 0);
    CUDA_CHECK_LAUNCH();
}

void cuda_rope_neox(float *x, const float *inv_freq, int n, int n_heads, int d, int pos0, cudaStream_t st)
{
    long n_pairs = (long)n * n_heads * (d / 2);
    rope_kernel<<<blocks_for(n_pairs, 256), 256, 0, st>>>(x, inv_freq, n_pairs, n_heads, d, pos0, 1);
    CUDA_CHECK_LAUNCH();
}

static __global__ void swiglu_kernel(uint16_t *out, const float *g, const float *u, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i];
    out[i] = f32_to_bf16(__fmul_rn(__fdiv_rn(gi, 1.0f + expf(-gi)), u[i]));
}

void cuda_swiglu(uint16_t *out, const float *g, const float *u, long n, cudaStream_t st)
{
    swiglu_kernel<<<blocks_for(n, 256), 256, 0, st>>>(out, g, u, n);
    CUDA_CHECK_LAUNCH();
}

/* Four values per thread, through float4 when both rows are 16-byte aligned. */
static __global__ void add_kernel(float *x, const float *y, long n, int vec)
{
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 4;
    if (vec && i + 4 <= n) {
        float4 a = *(float4 *)(x + i), b = *(const float4 *)(y + i);
        a.x += b.x; a.y += b.y; a.z += b.z; a.w += b.w;
        *(float4 *)(x + i) = a;
    } else {
        for (long e = i + 4 < n ? i + 4 : n; i < e; i++) x[i] += y[i];
    }
}

void cuda_add(float *x, const float *y, long n, cudaStream_t st)
{
    int vec = (((uintptr_t)x | (uintptr_t)y) & 15) == 0;
    add_kernel<<<blocks_for((n + 3) / 4, 256), 256, 0, st>>>(x, y, n, vec);
    CUDA_CHECK_LAUNCH();
}

static __global__ void kv_append_kernel(uint16_t *kc, uint16_t *vc, const float *k, const float *v, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    kc[i] = f32_to_bf16(k[i]);
    vc[i] = f32_to_bf16(v[i]);
}

void cuda_kv_append(uint16_t *kc, uint16_t *vc, const float *k, const float *v, long n_elems, cudaStream_t st)
{
    kv_append_kernel<<<blocks_for(n_elems, 256), 256, 0, st>>>(kc, vc, k, v, n_elems);
    CUDA_CHECK_LAUNCH();
}

static __global__ void to_bf16_kernel(uint16_t *y, const float *x, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = f32_to_bf16(x[i]);
}

void cuda_to_bf16(uint16_t *y, const float *x, long n, cudaStream_t st)
{
    to_bf16_kernel<<<blocks_for(n, 256), 256, 0, st>>>(y, x, n);
    CUDA_CHECK_LAUNCH();
}

/* grid (n), block 128: one row per block, normalised in place. */
static __global__ void norm_rows_kernel(float *x, const float *w, int dim, float eps)
{
    float *xr = x + (size_t)blockIdx.x * dim;
    float s = row_rms_scale(xr, dim, eps); /* its barriers: the row is read before it is written */
    for (int i = threadIdx.x; i < dim; i += blockDim.x) xr[i] = w[i] * (xr[i] * s);
}

void cuda_norm_rows(float *x, const float *w, int n, int dim, float eps, cudaStream_t st)
{
    norm_rows_kernel<<<n, 128, 0, st>>>(x, w, dim, eps);
    CUDA_CHECK_LAUNCH();
}

static __global__ void scale_kernel(float *x, long n, float s)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = __fmul_rn(x[i], s);
}

void cuda_scale(float *x, long n, float s, cudaStream_t st)
{
    scale_kernel<<<blocks_for(n, 256), 256, 0, st>>>(x, n, s);
    CUDA_CHECK_LAUNCH();
}

/* GELU with the tanh approximation (the accurate tanhf); cpu_geglu forms the
 * tanh from its exp polynomial, within 1e-6 of this. */
static __global__ void geglu_kernel(uint16_t *out, const float *g, const float *u, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    float x = g[i];
    float t = tanhf(k * (x + 0.044715f * x * x * x));
    out[i] = f32_to_bf16(0.5f * x * (1.0f + t) * u[i]);
}

void cuda_geglu(uint16_t *out, const float *g, const float *u, long n, cudaStream_t st)
{
    geglu_kernel<<<blocks_for(n, 256), 256, 0, st>>>(out, g, u, n);
    CUDA_CHECK_LAUNCH();
}
