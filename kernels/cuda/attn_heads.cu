/* attn_heads.cu — the head gather and scatter of kernels/attn_heads.h on the
 * device: one thread per (token, slot, element), the map carried by value in
 * the kernel's arguments. Rounding: __float2bfloat16_rn, nearest even, as
 * the CPU twin's attn_f32_to_bf16 for finite values.
 */
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/attn_heads.h"

struct heads_map {
    int h[ATTN_HEADS_MAX];
};

static __global__ void gather_kernel(uint16_t *dst, const float *src, long n_elems, int src_heads, heads_map m,
                                     int n_map, int d)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_elems) return;
    long t = i / ((long)n_map * d);
    int s = (int)(i / d % n_map), e = (int)(i % d);
    dst[i] = __bfloat16_as_ushort(__float2bfloat16_rn(src[((size_t)t * src_heads + m.h[s]) * d + e]));
}

static __global__ void scatter_kernel(uint16_t *dst, int dst_heads, const uint16_t *src, long n_elems, heads_map m,
                                      int n_map, int d)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_elems) return;
    long t = i / ((long)n_map * d);
    int s = (int)(i / d % n_map), e = (int)(i % d);
    dst[((size_t)t * dst_heads + m.h[s]) * d + e] = src[i];
}

/* The map by value; 0 when it is not a valid map for `heads`. */
static int heads_map_of(heads_map *m, const int *map, int n_map, int heads)
{
    if (n_map < 1 || n_map > ATTN_HEADS_MAX) return 0;
    for (int i = 0; i < n_map; i++) {
        if (map[i] < 0 || map[i] >= heads) return 0;
        m->h[i] = map[i];
    }
    return 1;
}

int attn_heads_gather_cuda(uint16_t *dst, const float *src, int n, int src_heads, const int *map, int n_map, int d,
                           void *stream)
{
    heads_map m;
    if (n < 0 || d < 1 || !heads_map_of(&m, map, n_map, src_heads)) return (int)cudaErrorInvalidValue;
    long n_elems = (long)n * n_map * d;
    if (!n_elems) return 0;
    gather_kernel<<<(unsigned)((n_elems + 255) / 256), 256, 0, (cudaStream_t)stream>>>(dst, src, n_elems, src_heads,
                                                                                      m, n_map, d);
    return (int)cudaGetLastError();
}

int attn_heads_scatter_cuda(uint16_t *dst, int dst_heads, const uint16_t *src, int n, const int *map, int n_map,
                            int d, void *stream)
{
    heads_map m;
    if (n < 0 || d < 1 || !heads_map_of(&m, map, n_map, dst_heads)) return (int)cudaErrorInvalidValue;
    long n_elems = (long)n * n_map * d;
    if (!n_elems) return 0;
    scatter_kernel<<<(unsigned)((n_elems + 255) / 256), 256, 0, (cudaStream_t)stream>>>(dst, dst_heads, src, n_elems,
                                                                                       m, n_map, d);
    return (int)cudaGetLastError();
}
