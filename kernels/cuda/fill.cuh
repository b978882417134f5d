/* fill.cuh — seeded random inputs on the device for the timers
 * (attn_time.cu, layer_time.cu): splitmix64 of (seed, index), so a buffer
 * is the same on every run and card. static: each file has its own copy
 * of the kernel symbol, one source. */
#ifndef PURBO_CUDA_FILL_CUH
#define PURBO_CUDA_FILL_CUH

#include <cuda_bf16.h>
#include <stdint.h>

/* uniform in [0, 1) from (seed, i), 24 bits */
static __device__ __forceinline__ float fill_hash_unit(uint64_t seed, size_t i)
{
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

/* x[0 .. n) uniform in [-amp, amp) */
static __global__ void fill_uniform(__nv_bfloat16 *x, size_t n, float amp, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16(amp * (2.0f * fill_hash_unit(seed, i) - 1.0f));
}

#endif
