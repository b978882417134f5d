/* dev_common.cuh — what the attention dev harnesses (attn_prefill.cu,
 * attn_decode.cu beside this file) share: error checks, device random
 * fill, comparison with the CPU twin, event timing (median), the ceilings
 * measured in the same run, and the RESULT line format.
 *
 * The harnesses follow llm.c's dev/cuda: each builds and runs alone (make
 * dev-attn), validates on fresh random inputs with NaN-poisoned outputs,
 * then times. Header-only on purpose: each harness is one translation unit.
 * cuBLAS is opened at run time (dlopen) for the matmul ceiling, so the
 * binary links only the static CUDA runtime and runs where no toolkit is.
 */
#ifndef PURBO_DEV_COMMON_CUH
#define PURBO_DEV_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vector>
#include <algorithm>

#include "kernels/attn_kernels.h"

#define CK(call)                                                                    \
    do {                                                                            \
        cudaError_t e_ = (cudaError_t)(call);                                       \
        if (e_ != cudaSuccess) {                                                    \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,           \
                    cudaGetErrorString(e_));                                        \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

static char dev_card[260] = "unknown";

/* Prints the device and remembers a short card name (H100, H200, ...). */
static void dev_init(void)
{
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    const char *s = strstr(p.name, "H100") ? "H100" : strstr(p.name, "H200") ? "H200" : NULL;
    snprintf(dev_card, sizeof dev_card, "%s", s ? s : p.name);
    for (char *c = dev_card; *c; c++)
        if (*c == ' ') *c = '_';
    printf("device: %s, %d SMs, L2 %d MB, %.0f GB\n", p.name, p.multiProcessorCount,
           p.l2CacheSize >> 20, p.totalGlobalMem / 1e9);
}

static uint32_t dev_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)(ts.tv_nsec ^ (ts.tv_sec * 2654435761u));
}

__device__ __host__ static inline float dev_hash_unit(uint32_t seed, uint64_t i)
{
    uint64_t x = i * 0x9E3779B97F4A7C15ull + seed;
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (float)(x >> 40) / 8388608.0f - 1.0f; /* [-1, 1) */
}

/* x[i] = amp * uniform(-1, 1), bf16, n elements. */
__global__ static void dev_fill_kernel(__nv_bfloat16 *x, size_t n, float amp, uint32_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16(amp * dev_hash_unit(seed, i));
}
static void dev_fill(void *x, size_t n, float amp, uint32_t seed)
{
    dev_fill_kernel<<<1024, 256>>>((__nv_bfloat16 *)x, n, amp, seed);
    CK(cudaGetLastError());
}

/* Relative L2 error of bf16 out against f32 ref, n values; counts NaNs. */
struct dev_cmp { double rel; long nan; };
static dev_cmp dev_compare(const uint16_t *out, const float *ref, size_t n)
{
    double num = 0, den = 0;
    long nan = 0;
    for (size_t i = 0; i < n; i++) {
        float o = attn_bf16_to_f32(out[i]);
        if (!isfinite(o)) { nan++; continue; }
        num += (o - (double)ref[i]) * (o - (double)ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return dev_cmp{den > 0 ? sqrt(num / den) : sqrt(num), nan};
}

/* Median time of one launch, us: fn(i) launches run i. After the warm-up,
 * each sample is a burst of back-to-back launches between two events (a
 * burst long enough, ~0.5 ms, that host launch overhead stays hidden);
 * reps samples, median, divided by the burst. */
template <typename F>
static float dev_time_us(F fn, int warmup, int reps)
{
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    int i = 0;
    for (; i < warmup; i++) fn(i);
    CK(cudaEventRecord(a));
    fn(i++);
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float one;
    CK(cudaEventElapsedTime(&one, a, b));
    int burst = (int)std::min(50.f, std::max(1.f, ceilf(0.5f / std::max(one, 1e-4f))));
    std::vector<float> t(reps);
    for (int r = 0; r < reps; r++) {
        CK(cudaEventRecord(a));
        for (int j = 0; j < burst; j++) fn(i++);
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        CK(cudaEventElapsedTime(&t[r], a, b));
        t[r] /= burst;
    }
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    std::sort(t.begin(), t.end());
    return 1000.f * t[reps / 2];
}

/* Ceiling: bf16 GEMM 8192^3 through cuBLAS (opened at run time), TFLOP/s;
 * 0 when no libcublas is found. */
typedef cublasStatus_t (*dev_create_fn)(cublasHandle_t *);
typedef cublasStatus_t (*dev_gemm_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                      int, const void *, const void *, cudaDataType, int, const void *,
                                      cudaDataType, int, const void *, void *, cudaDataType, int,
                                      cublasComputeType_t, cublasGemmAlgo_t);
static double dev_ceiling_gemm_tflops(void)
{
    const char *names[] = {"libcublas.so.13", "libcublas.so", "/usr/local/cuda/lib64/libcublas.so.13"};
    void *lib = NULL;
    for (int i = 0; i < 3 && !lib; i++) lib = dlopen(names[i], RTLD_NOW);
    if (!lib) { printf("ceiling: no libcublas found (%s)\n", dlerror()); return 0; }
    dev_create_fn create = (dev_create_fn)dlsym(lib, "cublasCreate_v2");
    dev_gemm_fn gemm = (dev_gemm_fn)dlsym(lib, "cublasGemmEx");
    if (!create || !gemm) return 0;
    cublasHandle_t h;
    if (create(&h) != CUBLAS_STATUS_SUCCESS) return 0;
    const int n = 8192;
    void *A, *B, *C;
    CK(cudaMalloc(&A, (size_t)n * n * 2));
    CK(cudaMalloc(&B, (size_t)n * n * 2));
    CK(cudaMalloc(&C, (size_t)n * n * 2));
    dev_fill(A, (size_t)n * n, 1.f, dev_seed());
    dev_fill(B, (size_t)n * n, 1.f, dev_seed() + 1);
    float one = 1.f, zero = 0.f;
    int bad = 0;
    float us = dev_time_us([&](int) {
        bad |= gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, A, CUDA_R_16BF, n, B, CUDA_R_16BF, n,
                    &zero, C, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS;
    }, 3, 10);
    CK(cudaFree(A));
    CK(cudaFree(B));
    CK(cudaFree(C));
    if (bad) return 0;
    return 2.0 * n * n * (double)n / (us * 1e-6) / 1e12;
}

/* Ceilings: device-to-device copy (bytes read + written) and a read-only
 * stream (16-byte loads, all summed), GB/s, over 2 GB. */
__global__ static void dev_read_kernel(const int4 *x, size_t n, int *sink)
{
    int acc = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int4 v = __ldcs(x + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x12345678) *sink = acc; /* keeps the loads alive */
}
static void dev_ceiling_bw(double *copy_gbs, double *read_gbs)
{
    const size_t bytes = (size_t)1 << 31;
    void *a, *b;
    int *sink;
    CK(cudaMalloc(&a, bytes));
    CK(cudaMalloc(&b, bytes));
    CK(cudaMalloc(&sink, 4));
    CK(cudaMemset(a, 1, bytes));
    float us = dev_time_us([&](int) { CK(cudaMemcpyAsync(b, a, bytes / 2, cudaMemcpyDeviceToDevice)); }, 2, 10);
    *copy_gbs = (double)bytes / (us * 1e-6) / 1e9; /* bytes/2 read + bytes/2 written */
    int sms = 0;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    us = dev_time_us([&](int) { dev_read_kernel<<<sms * 8, 512>>>((const int4 *)a, bytes / 16, sink); }, 2, 10);
    CK(cudaGetLastError());
    *read_gbs = (double)bytes / (us * 1e-6) / 1e9;
    CK(cudaFree(a));
    CK(cudaFree(b));
    CK(cudaFree(sink));
}

/* Shapes: name, query heads, kv heads, head dim. */
struct dev_shape { const char *name; int n_head, n_kv_head, d; };
static const dev_shape dev_shapes[] = {
    {"llama3-8b", 32, 8, 128},
    {"smollm2", 9, 3, 64},
};

#endif
