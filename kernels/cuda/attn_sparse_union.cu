/* attn_sparse_union.cu — per KV head, the union of its query heads' decode
 * block lists, with each block's set of heads (the CPU twin:
 * attn_sparse_union_ref in kernels/cpu/attn_ref.c; contract in
 * kernels/attn_sparse.h).
 *
 * One launch where n_kv_head <= 8 and n_kb <= UN_SMEM_KB (every decode the
 * selection serves): union_cluster_kernel, one cluster of CTAs (n_kv_head
 * rounded up to a power of two),
 * CTA g building kv head g's bitmap in shared memory (shared atomics),
 * counting its non-zero words, taking its offset from the counts of the
 * CTAs before it (distributed shared memory) and compacting in order.
 * Otherwise three launches after a memset:
 *   1. scatter: every list entry of query head h sets bit h % G of its
 *      block's word in a (n_kv_head, n_kb) bitmap (atomicOr: any order of
 *      the lists, the same bitmap);
 *   2. count: per (kv head, chunk of UN_CHUNK blocks), the non-zero words;
 *   3. write: the same chunks, each at the offset of the counts before it
 *      (kv heads in order, chunks in order), an ordered compaction (warp
 *      ballots) of the non-zero words into uidx (block) and umask (word),
 *      so each union comes out ascending whatever the lists' order.
 * Invariants: G = n_head / n_kv_head <= 32; every listed block < n_kb.
 */
#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"
#include "kernels/cuda/attn_common.cuh"

#include <cooperative_groups.h>

enum { UN_T = 256, UN_CHUNK = 2048, UN_CT = 1024, UN_SMEM_KB = 32768, UN_MAXCL = 8 };

static inline int64_t un_align(int64_t x)
{
    return (x + 255) & ~(int64_t)255;
}

size_t attn_sparse_union_workspace(int kv_len, int n_kv_head)
{
    const int64_t n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK, n_ch = (n_kb + UN_CHUNK - 1) / UN_CHUNK;
    return (size_t)(un_align(n_kv_head * n_kb * 4) + un_align(n_kv_head * n_ch * 4));
}

__global__ void __launch_bounds__(UN_T)
union_scatter_kernel(const int64_t *__restrict__ off, const int32_t *__restrict__ idx, int n_kb, int G,
                     uint32_t *__restrict__ bits)
{
    const int h = blockIdx.y;
    const int64_t e1 = off[h + 1];
    uint32_t *row = bits + (size_t)(h / G) * n_kb;
    const uint32_t bit = 1u << (h % G);
    for (int64_t e = off[h] + (int64_t)blockIdx.x * UN_T + threadIdx.x; e < e1; e += (int64_t)gridDim.x * UN_T)
        atomicOr(row + __ldg(idx + e), bit);
}

__global__ void __launch_bounds__(UN_T)
union_count_kernel(const uint32_t *__restrict__ bits, int n_kb, int *__restrict__ cnt)
{
    __shared__ int wsum[UN_T / 32];
    const int c = blockIdx.x, kvh = blockIdx.y, b0 = c * UN_CHUNK, b1 = min(n_kb, b0 + UN_CHUNK);
    const uint32_t *row = bits + (size_t)kvh * n_kb;
    int n = 0;
    for (int b = b0 + threadIdx.x; b < b1; b += UN_T) n += row[b] != 0;
    for (int o = 16; o; o >>= 1) n += __shfl_xor_sync(0xffffffffu, n, o);
    if ((threadIdx.x & 31) == 0) wsum[threadIdx.x >> 5] = n;
    __syncthreads();
    if (threadIdx.x == 0) {
        int t = 0;
        for (int w = 0; w < UN_T / 32; w++) t += wsum[w];
        cnt[(size_t)kvh * gridDim.x + c] = t;
    }
}

__global__ void __launch_bounds__(UN_T)
union_write_kernel(const uint32_t *__restrict__ bits, int n_kb, const int *__restrict__ cnt, int64_t *__restrict__ uoff,
                   int32_t *__restrict__ uidx, uint32_t *__restrict__ umask)
{
    __shared__ long long wsum[UN_T / 32];
    __shared__ int wcount[UN_T / 32];
    const int c = blockIdx.x, kvh = blockIdx.y, n_ch = gridDim.x, tid = threadIdx.x, lane = tid & 31,
              warp = tid >> 5;
    const int me = kvh * n_ch + c;
    long long s = 0;
    for (int i = tid; i < me; i += UN_T) s += cnt[i];
    for (int o = 16; o; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) wsum[warp] = s;
    __syncthreads();
    long long base = 0;
    for (int w = 0; w < UN_T / 32; w++) base += wsum[w];
    if (tid == 0 && c == 0) uoff[kvh] = base;
    if (tid == 0 && me == (int)gridDim.y * n_ch - 1) uoff[gridDim.y] = base + cnt[me];
    const int b0 = c * UN_CHUNK, b1 = min(n_kb, b0 + UN_CHUNK);
    const uint32_t *row = bits + (size_t)kvh * n_kb;
    for (int bb = b0; bb < b1; bb += UN_T) {
        const int b = bb + tid;
        const uint32_t w = b < b1 ? row[b] : 0u;
        const unsigned bal = __ballot_sync(0xffffffffu, w != 0);
        if (lane == 0) wcount[warp] = __popc(bal);
        __syncthreads();
        int before = 0, total = 0;
        for (int x = 0; x < UN_T / 32; x++) {
            before += x < warp ? wcount[x] : 0;
            total += wcount[x];
        }
        if (w) {
            const long long pos = base + before + __popc(bal & ((1u << lane) - 1));
            uidx[pos] = b;
            umask[pos] = w;
        }
        base += total;
        __syncthreads();
    }
}

/* Grid: one cluster of P CTAs (P: a power of two >= n_kv; CTAs g >= n_kv
 * only take part in the barriers), UN_CT threads; dynamic smem: n_kb
 * words. */
__global__ void __launch_bounds__(UN_CT)
union_cluster_kernel(const int64_t *__restrict__ off, const int32_t *__restrict__ idx, int n_kb, int G, int n_kv,
                     int64_t *__restrict__ uoff, int32_t *__restrict__ uidx, uint32_t *__restrict__ umask)
{
    namespace cg = cooperative_groups;
    cg::cluster_group cl = cg::this_cluster();
    extern __shared__ uint32_t bits[];
    __shared__ int wsum[UN_CT / 32];
    __shared__ int x_count;
    const int g = (int)cl.block_rank(), tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int nb = g < n_kv ? n_kb : 0; /* an idle CTA: no blocks */
    for (int b = tid; b < nb; b += UN_CT) bits[b] = 0u;
    __syncthreads();
    for (int r = 0; r < G && g < n_kv; r++) {
        const int h = g * G + r;
        const int64_t e1 = off[h + 1];
        for (int64_t e = off[h] + tid; e < e1; e += UN_CT) atomicOr(bits + __ldg(idx + e), 1u << r);
    }
    __syncthreads();
    int n = 0;
    for (int b = tid; b < nb; b += UN_CT) n += bits[b] != 0u;
    for (int o = 16; o; o >>= 1) n += __shfl_xor_sync(0xffffffffu, n, o);
    if (lane == 0) wsum[warp] = n;
    __syncthreads();
    if (tid == 0) {
        int t = 0;
        for (int w = 0; w < UN_CT / 32; w++) t += wsum[w];
        x_count = t;
    }
    cl.sync(); /* every kv head's count written */
    long long base = 0;
    for (int r = 0; r < g; r++) base += *cl.map_shared_rank(&x_count, r);
    if (tid == 0 && g < n_kv) uoff[g] = base;
    if (tid == 0 && g == n_kv - 1) uoff[n_kv] = base + x_count;
    for (int bb = 0; bb < nb; bb += UN_CT) {
        const int b = bb + tid;
        const uint32_t w = b < nb ? bits[b] : 0u;
        const unsigned bal = __ballot_sync(0xffffffffu, w != 0);
        __syncthreads(); /* wsum free (its last readers above or in the previous round) */
        if (lane == 0) wsum[warp] = __popc(bal);
        __syncthreads();
        int before = 0, total = 0;
        for (int x = 0; x < UN_CT / 32; x++) {
            before += x < warp ? wsum[x] : 0;
            total += wsum[x];
        }
        if (w) {
            const long long pos = base + before + __popc(bal & ((1u << lane) - 1));
            uidx[pos] = b;
            umask[pos] = w;
        }
        base += total;
    }
    cl.sync(); /* no CTA leaves while another may read its count */
}

int attn_sparse_union_cuda(const int64_t *off, const int32_t *idx, int max_blocks, int kv_len, int n_head,
                           int n_kv_head, int64_t *uoff, int32_t *uidx, uint32_t *umask, void *work, size_t work_bytes,
                           void *stream)
{
    if (kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || n_head / n_kv_head > 32 || max_blocks < 0)
        return (int)cudaErrorInvalidValue;
    if (work_bytes < attn_sparse_union_workspace(kv_len, n_kv_head)) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    const int n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK, n_ch = (n_kb + UN_CHUNK - 1) / UN_CHUNK;
    if (n_kv_head <= UN_MAXCL && n_kb <= UN_SMEM_KB) {
        static int smem_set;
        cudaError_t e;
        if (!smem_set) {
            e = cudaFuncSetAttribute(union_cluster_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     UN_SMEM_KB * (int)sizeof(uint32_t));
            if (e != cudaSuccess) return (int)e;
            smem_set = 1;
        }
        unsigned P = 1;
        while (P < (unsigned)n_kv_head) P *= 2;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(P, 1, 1);
        cfg.blockDim = dim3(UN_CT, 1, 1);
        cfg.dynamicSmemBytes = (size_t)n_kb * sizeof(uint32_t);
        cfg.stream = st;
        cudaLaunchAttribute at[1];
        at[0].id = cudaLaunchAttributeClusterDimension;
        at[0].val.clusterDim.x = P;
        at[0].val.clusterDim.y = 1;
        at[0].val.clusterDim.z = 1;
        cfg.attrs = at;
        cfg.numAttrs = 1;
        e = cudaLaunchKernelEx(&cfg, union_cluster_kernel, off, idx, n_kb, n_head / n_kv_head, n_kv_head, uoff, uidx,
                               umask);
        return (int)e;
    }
    uint32_t *bits = (uint32_t *)work;
    int *cnt = (int *)((char *)work + un_align((int64_t)n_kv_head * n_kb * 4));
    cudaError_t e = cudaMemsetAsync(bits, 0, (size_t)n_kv_head * n_kb * 4, st);
    if (e != cudaSuccess) return (int)e;
    const int gx = max(1, min(16, (max_blocks + UN_T - 1) / UN_T));
    union_scatter_kernel<<<dim3(gx, n_head), UN_T, 0, st>>>(off, idx, n_kb, n_head / n_kv_head, bits);
    union_count_kernel<<<dim3(n_ch, n_kv_head), UN_T, 0, st>>>(bits, n_kb, cnt);
    union_write_kernel<<<dim3(n_ch, n_kv_head), UN_T, 0, st>>>(bits, n_kb, cnt, uoff, uidx, umask);
    return (int)cudaGetLastError();
}
