/* attn_sparse_decode.cu — sparse split-KV decode: one query token per head
 * over the KV blocks of its head's list, then the LSE combine.
 *
 * Each query head's list is cut into n_split chunks of whole 64-key blocks
 * (chunk = ceil(len / n_split) blocks, the same n_split for every head so
 * the combine sees one layout); one warp per (head, chunk) runs the decode
 * warp body of attn_decode.cuh over the chunk's blocks, 16-key tiles, four
 * a block, keys >= kv_len masked. One query head per warp: GQA heads of a
 * group have their own lists, so each head reads its own blocks (bytes =
 * sum of the list lengths, not their union). n_split: about one wave of
 * resident warps over all heads, at most half the longest list (chunks of
 * >= 2 blocks). Contract: kernels/attn_sparse.h. Versions: bench/sparse.md.
 */
#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"
#include "kernels/cuda/attn_decode.cuh"

enum { SD_BN = 16, SD_STAGES = 3, SD_NW = 4, SD_TPB = ATTN_SBLOCK / SD_BN };

/* Blocks idx[e0 .. e1) as tiles of SD_BN keys, keys >= kv_len dropped. */
struct list_keys {
    const int32_t *idx;
    int64_t e0, e1;
    int kv_len;
    __device__ int n_tiles() const { return (int)(e1 - e0) * SD_TPB; }
    __device__ int key(int t, int r) const
    {
        int j = __ldg(idx + e0 + t / SD_TPB) * ATTN_SBLOCK + (t % SD_TPB) * SD_BN + r;
        return j < kv_len ? j : -1;
    }
};

/* Grid: (ceil(n_split / NW), n_head); warp = split of head blockIdx.y. */
template <int D>
__global__ void __launch_bounds__(SD_NW * 32)
sparse_decode_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k, const bf16 *__restrict__ v,
                     const int64_t *__restrict__ off, const int32_t *__restrict__ idx, float *__restrict__ part_o,
                     float *__restrict__ part_lse, int kv_len, int n_head, int n_kv_head, int n_split,
                     float scale_log2)
{
    constexpr int TILE = SD_BN * D;
    extern __shared__ __align__(128) unsigned char smem[];
    const int warp = threadIdx.x >> 5;
    const int split = blockIdx.x * SD_NW + warp, h = blockIdx.y;
    if (split >= n_split) return; /* whole warp; no block barriers below */
    bf16 *sK = (bf16 *)smem + (size_t)warp * SD_STAGES * 2 * TILE;
    bf16 *sV = sK + SD_STAGES * TILE;
    const int64_t lo = off[h], len = off[h + 1] - lo;
    const int64_t chunk = (len + n_split - 1) / n_split;
    const int64_t e0 = min(len, split * chunk), e1 = min(len, e0 + chunk);
    const list_keys keys{idx, lo + e0, lo + e1, kv_len};
    decode_split_warp<D, SD_BN, SD_STAGES>(q, k, v, part_o, part_lse, n_head, n_kv_head, h / (n_head / n_kv_head), h,
                                           1, split, keys, sK, sV, scale_log2);
}

template <int D>
static int sparse_decode_split(int max_blocks, int n_head)
{
    static int resident_warps;
    if (!resident_warps) {
        int dev = 0, n_sm = 0, blocks = 0;
        const int smem = SD_NW * SD_STAGES * 2 * SD_BN * D * (int)sizeof(bf16);
        cudaGetDevice(&dev);
        cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev);
        cudaFuncSetAttribute(sparse_decode_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, sparse_decode_kernel<D>, SD_NW * 32, smem);
        resident_warps = n_sm > 0 && blocks > 0 ? n_sm * blocks * SD_NW : 132 * 8;
    }
    int want = (resident_warps + n_head - 1) / n_head, most = (max_blocks + 1) / 2;
    int n = want < most ? want : most;
    return n > 0 ? n : 1;
}

size_t attn_sparse_decode_workspace(int max_blocks, int n_head, int d)
{
    int n_split = d == 128 ? sparse_decode_split<128>(max_blocks, n_head) : sparse_decode_split<64>(max_blocks, n_head);
    return (size_t)n_split * n_head * (d + 1) * sizeof(float);
}

template <int D>
static int launch_sparse_decode(const void *q, const void *k, const void *v, const int64_t *off, const int32_t *idx,
                                int max_blocks, void *out, float *lse, int kv_len, int n_head, int n_kv_head,
                                void *work, size_t work_bytes, cudaStream_t st)
{
    const int n_split = sparse_decode_split<D>(max_blocks, n_head);
    if (work_bytes < (size_t)n_split * n_head * (D + 1) * sizeof(float)) return (int)cudaErrorInvalidValue;
    float *part_o = (float *)work;
    float *part_lse = part_o + (size_t)n_split * n_head * D;
    const int smem = SD_NW * SD_STAGES * 2 * SD_BN * D * (int)sizeof(bf16);
    dim3 grid((n_split + SD_NW - 1) / SD_NW, n_head);
    sparse_decode_kernel<D><<<grid, SD_NW * 32, smem, st>>>((const bf16 *)q, (const bf16 *)k, (const bf16 *)v, off,
                                                             idx, part_o, part_lse, kv_len, n_head, n_kv_head, n_split,
                                                             ATTN_LOG2E / sqrtf((float)D));
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return (int)e;
    return attn_combine_cuda(part_o, part_lse, n_split, n_head, D, out, lse, st);
}

int attn_sparse_decode_cuda(const void *q, const void *k, const void *v, const int64_t *off, const int32_t *idx,
                            int max_blocks, void *out, float *lse, int kv_len, int n_head, int n_kv_head, int d,
                            void *work, size_t work_bytes, void *stream)
{
    if (kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || max_blocks < 0) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    if (d == 128)
        return launch_sparse_decode<128>(q, k, v, off, idx, max_blocks, out, lse, kv_len, n_head, n_kv_head, work,
                                         work_bytes, st);
    if (d == 64)
        return launch_sparse_decode<64>(q, k, v, off, idx, max_blocks, out, lse, kv_len, n_head, n_kv_head, work,
                                        work_bytes, st);
    return (int)cudaErrorInvalidValue;
}
