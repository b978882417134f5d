/* attn_sparse_decode.cu — sparse split-KV decode: one query token per head
 * over the KV blocks of its head's list, then the LSE combine. Two
 * versions, the same output (each head attends exactly its own blocks):
 *
 * v1, per head: each query head's list is cut into n_split chunks of whole
 * 64-key blocks (chunk = ceil(len / n_split) blocks, the same n_split for
 * every head so the combine sees one layout); one warp per (head, chunk)
 * runs the decode warp body of attn_decode.cuh over the chunk's blocks,
 * 16-key tiles, four a block, keys >= kv_len masked. Each head reads its
 * own blocks (bytes = sum of the list lengths).
 * v2, per group: attn_sparse_union_cuda builds, per KV head, the ascending
 * union of its G query heads' lists with a head mask per block; one warp
 * per (KV head, chunk of the union) loads each K/V tile once for the G
 * heads (the rows of one m16 tile, as the dense decode does) and masks, per
 * head, the scores of blocks that head did not list (bytes = the unions).
 * G <= 16.
 * n_split: about one wave of resident warps over all heads (v1) or KV
 * heads (v2), at most half the longest list (chunks of >= 2 blocks). The
 * plain entry takes v2 when 2 <= G <= 16, the longest list holds at least
 * a fifth of the blocks (max_blocks * 5 >= n_kb) and the lists' K + V by
 * that bound (n_head * max_blocks blocks) reach SD_UNION_BYTES; else v1.
 * Why (H200, bench/sparse.md run 5): the union step and v2's finer split
 * cost about 10-25 us, which the saved re-reads repay only at high density
 * on large lists (llama 32/8/128 at 30%: v2 1.4x faster at 128K, 1.9x at
 * 1M; at 3% v1 is 1.1-1.4x faster; smollm2 9/3/64 at 128K: v1 faster even
 * at 30%). A caller passing only a bound as max_blocks (say every block)
 * gets v2 on large caches. Contract: kernels/attn_sparse.h. Versions:
 * bench/sparse.md.
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

/* The union of a KV head's lists, blocks uidx[e0 .. e1) with their head
 * masks umask[e0 .. e1) (bit r: query head head0 + r listed the block). */
struct union_keys {
    const int32_t *idx;
    const uint32_t *mask;
    int64_t e0, e1;
    int kv_len;
    __device__ int n_tiles() const { return (int)(e1 - e0) * SD_TPB; }
    __device__ int key(int t, int r) const
    {
        int j = __ldg(idx + e0 + t / SD_TPB) * ATTN_SBLOCK + (t % SD_TPB) * SD_BN + r;
        return j < kv_len ? j : -1;
    }
};
__device__ __forceinline__ unsigned key_heads(const union_keys &u, int t)
{
    return __ldg(u.mask + u.e0 + t / SD_TPB);
}

/* Grid: (ceil(n_split / NW), n_kv_head); warp = split of kv head blockIdx.y. */
template <int D>
__global__ void __launch_bounds__(SD_NW * 32)
union_decode_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k, const bf16 *__restrict__ v,
                    const int64_t *__restrict__ uoff, const int32_t *__restrict__ uidx,
                    const uint32_t *__restrict__ umask, float *__restrict__ part_o, float *__restrict__ part_lse,
                    int kv_len, int n_head, int n_kv_head, int n_split, float scale_log2)
{
    constexpr int TILE = SD_BN * D;
    extern __shared__ __align__(128) unsigned char smem[];
    const int warp = threadIdx.x >> 5;
    const int split = blockIdx.x * SD_NW + warp, kvh = blockIdx.y, G = n_head / n_kv_head;
    if (split >= n_split) return; /* whole warp; no block barriers below */
    bf16 *sK = (bf16 *)smem + (size_t)warp * SD_STAGES * 2 * TILE;
    bf16 *sV = sK + SD_STAGES * TILE;
    const int64_t lo = uoff[kvh], len = uoff[kvh + 1] - lo;
    const int64_t chunk = (len + n_split - 1) / n_split;
    const int64_t e0 = min(len, split * chunk), e1 = min(len, e0 + chunk);
    const union_keys keys{uidx, umask, lo + e0, lo + e1, kv_len};
    decode_split_warp<D, SD_BN, SD_STAGES>(q, k, v, part_o, part_lse, n_head, n_kv_head, kvh, kvh * G, G, split,
                                           keys, sK, sV, scale_log2);
}

/* n_split for `units` parallel lists (heads or kv heads) of at most
 * max_len blocks. */
template <int D>
static int sparse_decode_split(int max_len, int units)
{
    static int resident_warps;
    if (!resident_warps) {
        int dev = 0, n_sm = 0, blocks = 0;
        const int smem = SD_NW * SD_STAGES * 2 * SD_BN * D * (int)sizeof(bf16);
        cudaGetDevice(&dev);
        cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev);
        cudaFuncSetAttribute(sparse_decode_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        cudaFuncSetAttribute(union_decode_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, sparse_decode_kernel<D>, SD_NW * 32, smem);
        resident_warps = n_sm > 0 && blocks > 0 ? n_sm * blocks * SD_NW : 132 * 8;
    }
    int want = (resident_warps + units - 1) / units, most = (max_len + 1) / 2;
    int n = want < most ? want : most;
    return n > 0 ? n : 1;
}

enum { SD_UNION_BYTES = 256 << 20 };

/* The longest union of a group: G lists, at most n_kb blocks. */
static int union_max_len(int max_blocks, int kv_len, int n_head, int n_kv_head)
{
    const int64_t n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK, g = (int64_t)(n_head / n_kv_head) * max_blocks;
    return (int)(g < n_kb ? g : n_kb);
}

static size_t sd_align(size_t x)
{
    return (x + 255) & ~(size_t)255;
}

/* v2 workspace: partials, then uoff (n_kv_head + 1), uidx and umask
 * (n_kv_head * n_kb each), then the union builder's scratch. */
template <int D>
static size_t union_parts_bytes(int max_blocks, int kv_len, int n_head, int n_kv_head)
{
    const int n_split = sparse_decode_split<D>(union_max_len(max_blocks, kv_len, n_head, n_kv_head), n_kv_head);
    return sd_align((size_t)n_split * n_head * (D + 1) * sizeof(float));
}

static size_t union_lists_bytes(int kv_len, int n_kv_head)
{
    const size_t n_kb = (size_t)(kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    return sd_align((size_t)(n_kv_head + 1) * 8) + 2 * sd_align((size_t)n_kv_head * n_kb * 4) +
           attn_sparse_union_workspace(kv_len, n_kv_head);
}

size_t attn_sparse_decode_workspace(int max_blocks, int kv_len, int n_head, int n_kv_head, int d)
{
    if (max_blocks < 0 || kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || (d != 64 && d != 128)) return 0;
    const size_t v1 = d == 128 ? sd_align((size_t)sparse_decode_split<128>(max_blocks, n_head) * n_head * 129 * 4)
                               : sd_align((size_t)sparse_decode_split<64>(max_blocks, n_head) * n_head * 65 * 4);
    const int G = n_head / n_kv_head;
    if (G > 16) return v1;
    const size_t v2 = (d == 128 ? union_parts_bytes<128>(max_blocks, kv_len, n_head, n_kv_head)
                                : union_parts_bytes<64>(max_blocks, kv_len, n_head, n_kv_head)) +
                      union_lists_bytes(kv_len, n_kv_head);
    return v1 > v2 ? v1 : v2;
}

template <int D>
static int launch_sparse_decode(const void *q, const void *k, const void *v, const int64_t *off, const int32_t *idx,
                                int max_blocks, void *out, float *lse, int kv_len, int n_head, int n_kv_head,
                                void *work, size_t work_bytes, cudaStream_t st)
{
    const int n_split = sparse_decode_split<D>(max_blocks, n_head);
    if (work_bytes < sd_align((size_t)n_split * n_head * (D + 1) * sizeof(float))) return (int)cudaErrorInvalidValue;
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

template <int D>
static int launch_union_decode(const void *q, const void *k, const void *v, const int64_t *off, const int32_t *idx,
                               int max_blocks, void *out, float *lse, int kv_len, int n_head, int n_kv_head,
                               void *work, size_t work_bytes, cudaStream_t st)
{
    const int n_split = sparse_decode_split<D>(union_max_len(max_blocks, kv_len, n_head, n_kv_head), n_kv_head);
    const size_t parts = union_parts_bytes<D>(max_blocks, kv_len, n_head, n_kv_head);
    if (work_bytes < parts + union_lists_bytes(kv_len, n_kv_head)) return (int)cudaErrorInvalidValue;
    const size_t n_kb = (size_t)(kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    float *part_o = (float *)work;
    float *part_lse = part_o + (size_t)n_split * n_head * D;
    char *p = (char *)work + parts;
    int64_t *uoff = (int64_t *)p;
    int32_t *uidx = (int32_t *)(p += sd_align((size_t)(n_kv_head + 1) * 8));
    uint32_t *umask = (uint32_t *)(p += sd_align((size_t)n_kv_head * n_kb * 4));
    void *scratch = p += sd_align((size_t)n_kv_head * n_kb * 4);
    int e = attn_sparse_union_cuda(off, idx, max_blocks, kv_len, n_head, n_kv_head, uoff, uidx, umask, scratch,
                                   attn_sparse_union_workspace(kv_len, n_kv_head), st);
    if (e) return e;
    const int smem = SD_NW * SD_STAGES * 2 * SD_BN * D * (int)sizeof(bf16);
    dim3 grid((n_split + SD_NW - 1) / SD_NW, n_kv_head);
    union_decode_kernel<D><<<grid, SD_NW * 32, smem, st>>>((const bf16 *)q, (const bf16 *)k, (const bf16 *)v, uoff,
                                                            uidx, umask, part_o, part_lse, kv_len, n_head, n_kv_head,
                                                            n_split, ATTN_LOG2E / sqrtf((float)D));
    cudaError_t ce = cudaGetLastError();
    if (ce != cudaSuccess) return (int)ce;
    return attn_combine_cuda(part_o, part_lse, n_split, n_head, D, out, lse, st);
}

int attn_sparse_decode_versions(void)
{
    return 2;
}

int attn_sparse_decode_cuda_version(int version, const void *q, const void *k, const void *v, const int64_t *off,
                                    const int32_t *idx, int max_blocks, void *out, float *lse, int kv_len, int n_head,
                                    int n_kv_head, int d, void *work, size_t work_bytes, void *stream)
{
    if (kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || max_blocks < 0) return (int)cudaErrorInvalidValue;
    if (version == 2 && n_head / n_kv_head > 16) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    if (version == 1 && d == 128)
        return launch_sparse_decode<128>(q, k, v, off, idx, max_blocks, out, lse, kv_len, n_head, n_kv_head, work,
                                         work_bytes, st);
    if (version == 1 && d == 64)
        return launch_sparse_decode<64>(q, k, v, off, idx, max_blocks, out, lse, kv_len, n_head, n_kv_head, work,
                                        work_bytes, st);
    if (version == 2 && d == 128)
        return launch_union_decode<128>(q, k, v, off, idx, max_blocks, out, lse, kv_len, n_head, n_kv_head, work,
                                        work_bytes, st);
    if (version == 2 && d == 64)
        return launch_union_decode<64>(q, k, v, off, idx, max_blocks, out, lse, kv_len, n_head, n_kv_head, work,
                                       work_bytes, st);
    return (int)cudaErrorInvalidValue;
}

int attn_sparse_decode_cuda(const void *q, const void *k, const void *v, const int64_t *off, const int32_t *idx,
                            int max_blocks, void *out, float *lse, int kv_len, int n_head, int n_kv_head, int d,
                            void *work, size_t work_bytes, void *stream)
{
    if (n_kv_head <= 0) return (int)cudaErrorInvalidValue;
    const int G = n_head / n_kv_head;
    const int64_t n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    const double listed_bytes = (double)n_head * max_blocks * ATTN_SBLOCK * d * 2 * 2;
    const int version =
        G >= 2 && G <= 16 && (int64_t)max_blocks * 5 >= n_kb && listed_bytes >= (double)SD_UNION_BYTES ? 2 : 1;
    return attn_sparse_decode_cuda_version(version, q, k, v, off, idx, max_blocks, out, lse, kv_len, n_head, n_kv_head,
                                           d, work, work_bytes, stream);
}
