/* attn_decode.cu — split-KV decode attention (flash-decoding) and the LSE
 * combine of partial results.
 *
 * Decode is bound by reading K and V once. GQA: the G = n_head/n_kv_head
 * query heads of a group are the rows of one m16 tensor-core tile (rows
 * G..15 are zero), so each K/V byte is loaded once per group and feeds all
 * G heads through mma.sync. Each warp is one split: a contiguous chunk of
 * keys of one kv head, streamed through its own STAGES-deep cp.async ring
 * of BN-key tiles (no block barriers at all), online softmax, then a
 * normalised partial output and its LSE. The combine kernel weighs the
 * splits by exp(lse_s - lse).
 * A sliding window W reads the last W keys only: the same kernel over the
 * cache from position kv_len - W. d = 256 runs 2 stages instead of 3 (the
 * shared memory of 4 warps stays at 128 KB).
 * Invariants: d in {64, 128, 256}; G <= 16; a split that sees no key writes
 * o = 0, lse = -inf, which the combine ignores. Shapes: attn_kernels.h.
 * The warp body (shared with the sparse decode): attn_decode.cuh.
 */
#include "kernels/attn_kernels.h"
#include "kernels/cuda/attn_decode.cuh"

enum { DEC_BN = 16, DEC_STAGES = 3, DEC_NW = 4, DEC_MIN_CHUNK = 128 };

/* Pipeline depth for head dim D. */
template <int D>
struct dec_cfg {
    enum { STAGES = D == 256 ? 2 : DEC_STAGES };
};

/* Keys j0 .. j1-1 in tiles of BN. */
template <int BN>
struct dense_keys {
    int j0, j1;
    __device__ int n_tiles() const { return j1 > j0 ? (j1 - j0 + BN - 1) / BN : 0; }
    __device__ int key(int t, int r) const { return j0 + t * BN + r < j1 ? j0 + t * BN + r : -1; }
};

/* q: (n_head, D); k, v: (kv_len, n_kv_head, D); part_o: (n_split, n_head, D);
 * part_lse: (n_split, n_head). Grid: (ceil(n_split / NW), n_kv_head). */
template <int D, int BN, int STAGES, int NW>
__global__ void __launch_bounds__(NW * 32)
decode_split_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                    const bf16 *__restrict__ v, float *__restrict__ part_o,
                    float *__restrict__ part_lse, int kv_len, int n_head, int n_kv_head,
                    int chunk, int n_split, float scale_log2)
{
    constexpr int TILE = BN * D; /* elements of one K (or V) tile */
    extern __shared__ __align__(128) unsigned char smem[];
    const int warp = threadIdx.x >> 5;
    const int split = blockIdx.x * NW + warp, kvh = blockIdx.y;
    if (split >= n_split) return; /* whole warp; no block barriers below */
    bf16 *sK = (bf16 *)smem + (size_t)warp * STAGES * 2 * TILE;
    bf16 *sV = sK + STAGES * TILE;
    const int G = n_head / n_kv_head;
    const dense_keys<BN> keys{split * chunk, min(kv_len, split * chunk + chunk)};
    decode_split_warp<D, BN, STAGES>(q, k, v, part_o, part_lse, n_head, n_kv_head, kvh, kvh * G, G, split, keys, sK,
                                     sV, scale_log2);
}

/* The same with kv_len read from device memory when the kernel runs (a
 * CUDA graph replays it at every length): n_split splits of
 * attn_dev_chunk(kv_len) keys; splits past kv_len see no key. */
template <int D, int BN, int STAGES, int NW>
__global__ void __launch_bounds__(NW * 32)
decode_split_dev_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                        const bf16 *__restrict__ v, float *__restrict__ part_o,
                        float *__restrict__ part_lse, const int *__restrict__ kv_len_dev, int n_head,
                        int n_kv_head, int n_split, float scale_log2)
{
    constexpr int TILE = BN * D;
    extern __shared__ __align__(128) unsigned char smem[];
    const int warp = threadIdx.x >> 5;
    const int split = blockIdx.x * NW + warp, kvh = blockIdx.y;
    /* programmatic dependent launch (no-ops without it): every thread waits
     * for the previous kernel (q, the cache row) before anything else */
    asm volatile("griddepcontrol.launch_dependents;");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    if (split >= n_split) return;
    const int kv_len = *kv_len_dev, chunk = attn_dev_chunk(kv_len);
    bf16 *sK = (bf16 *)smem + (size_t)warp * STAGES * 2 * TILE;
    bf16 *sV = sK + STAGES * TILE;
    const int G = n_head / n_kv_head;
    const dense_keys<BN> keys{split * chunk, min(kv_len, split * chunk + chunk)};
    decode_split_warp<D, BN, STAGES>(q, k, v, part_o, part_lse, n_head, n_kv_head, kvh, kvh * G, G, split, keys, sK,
                                     sV, scale_log2);
}

/* part_o: (n_split, n_head, d); part_lse: (n_split, n_head); out: (n_head, d);
 * lse: (n_head). One block per head; d/4 threads cover a row (float4 each),
 * the block's rows of threads stride over the splits. */
enum { COMB_THREADS = 512 };
__global__ void __launch_bounds__(COMB_THREADS)
combine_kernel(const float *__restrict__ part_o, const float *__restrict__ part_lse,
               int n_split, int n_head, int d, bf16 *__restrict__ out, float *__restrict__ lse)
{
    __shared__ float red[COMB_THREADS / 32];
    __shared__ float4 acc_s[COMB_THREADS];
    __shared__ float wsum_s[COMB_THREADS];
    const int h = blockIdx.x, tid = threadIdx.x;
    const int tpr = d / 4, rows = COMB_THREADS / tpr;
    /* no-ops unless launched with programmatic dependent launch (attn_decode_dev_cuda) */
    asm volatile("griddepcontrol.launch_dependents;");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    const int c4 = tid % tpr, row = tid / tpr;

    float mx = -INFINITY;
    for (int s = tid; s < n_split; s += COMB_THREADS) mx = fmaxf(mx, part_lse[(size_t)s * n_head + h]);
    for (int o = 16; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if ((tid & 31) == 0) red[tid >> 5] = mx;
    __syncthreads();
    mx = red[0];
    for (int w = 1; w < COMB_THREADS / 32; w++) mx = fmaxf(mx, red[w]);

    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    float wsum = 0.f;
    if (row < rows)
        for (int s = row; s < n_split; s += rows) {
            float ls = part_lse[(size_t)s * n_head + h];
            float w = ls == -INFINITY ? 0.f : __expf(ls - mx);
            float4 x = *(const float4 *)(part_o + ((size_t)s * n_head + h) * d + c4 * 4);
            acc.x += w * x.x; acc.y += w * x.y; acc.z += w * x.z; acc.w += w * x.w;
            wsum += w;
        }
    acc_s[tid] = acc;
    wsum_s[tid] = wsum;
    __syncthreads();
    if (row == 0) {
        for (int r = 1; r < rows; r++) {
            float4 x = acc_s[r * tpr + c4];
            acc.x += x.x; acc.y += x.y; acc.z += x.z; acc.w += x.w;
            wsum += wsum_s[r * tpr + c4];
        }
        float inv = wsum > 0.f ? 1.f / wsum : 0.f; /* no split saw a key: zeros, lse -inf */
        __nv_bfloat162 *dst = (__nv_bfloat162 *)(out + (size_t)h * d + c4 * 4);
        dst[0] = __floats2bfloat162_rn(acc.x * inv, acc.y * inv);
        dst[1] = __floats2bfloat162_rn(acc.z * inv, acc.w * inv);
        if (c4 == 0 && lse) lse[h] = mx + __logf(wsum);
    }
}

int attn_combine_cuda(const float *part_o, const float *part_lse, int n_split, int n_head,
                      int d, void *out, float *lse, void *stream)
{
    if (n_split <= 0 || n_head <= 0 || (d != 64 && d != 128 && d != 256)) return (int)cudaErrorInvalidValue;
    combine_kernel<<<n_head, COMB_THREADS, 0, (cudaStream_t)stream>>>(part_o, part_lse, n_split,
                                                                     n_head, d, (bf16 *)out, lse);
    return (int)cudaGetLastError();
}

/* Splits worth launching per kv head: about one full wave of warps over all
 * kv heads (resident warps from the occupancy calculator). */
template <int D>
static long long decode_want(int n_kv_head)
{
    static int resident_warps;
    if (!resident_warps) {
        int dev = 0, n_sm = 0, blocks = 0;
        auto kern = decode_split_kernel<D, DEC_BN, dec_cfg<D>::STAGES, DEC_NW>;
        const int smem = DEC_NW * dec_cfg<D>::STAGES * 2 * DEC_BN * D * (int)sizeof(bf16);
        cudaGetDevice(&dev);
        cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev);
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        /* the device-length twin too: its launches may be captured, where no attribute is set */
        cudaFuncSetAttribute(decode_split_dev_kernel<D, DEC_BN, DEC_STAGES, DEC_NW>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kern, DEC_NW * 32, smem);
        resident_warps = n_sm > 0 && blocks > 0 ? n_sm * blocks * DEC_NW : 132 * 8;
    }
    return ((long long)resident_warps + n_kv_head - 1) / n_kv_head;
}

/* How the keys are cut: about decode_want splits, chunks a multiple of BN
 * and at least DEC_MIN_CHUNK keys. */
template <int D>
static void decode_plan(int kv_len, int n_kv_head, int *chunk, int *n_split)
{
    const long long want = decode_want<D>(n_kv_head);
    long long c = ((long long)kv_len + want - 1) / want;
    c = (c + DEC_BN - 1) / DEC_BN * DEC_BN;
    if (c < DEC_MIN_CHUNK) c = DEC_MIN_CHUNK;
    *chunk = (int)c;
    *n_split = (int)(((long long)kv_len + c - 1) / c);
}

size_t attn_decode_workspace(int kv_len, int n_head, int n_kv_head, int d)
{
    int chunk, n_split;
    if (d == 256) decode_plan<256>(kv_len, n_kv_head, &chunk, &n_split);
    else if (d == 128) decode_plan<128>(kv_len, n_kv_head, &chunk, &n_split);
    else decode_plan<64>(kv_len, n_kv_head, &chunk, &n_split);
    return (size_t)n_split * n_head * (d + 1) * sizeof(float);
}

/* n_split <= ceil(kv_len / DEC_MIN_CHUNK) (chunks of at least that many
 * keys) and <= want (chunks of at least kv_len / want keys): both grow with
 * kv_len, so their minimum at max_kv_len bounds every shorter call. */
size_t attn_decode_workspace_upto(int max_kv_len, int n_head, int n_kv_head, int d)
{
    long long want = d == 256 ? decode_want<256>(n_kv_head) : d == 128 ? decode_want<128>(n_kv_head)
                                                                       : decode_want<64>(n_kv_head);
    long long by_len = ((long long)max_kv_len + DEC_MIN_CHUNK - 1) / DEC_MIN_CHUNK;
    return (size_t)(want < by_len ? want : by_len) * n_head * (d + 1) * sizeof(float);
}

template <int D>
static int launch_decode(const void *q, const void *k, const void *v, void *out, float *lse,
                         int kv_len, int n_head, int n_kv_head, void *work, size_t work_bytes,
                         cudaStream_t st)
{
    int chunk, n_split;
    decode_plan<D>(kv_len, n_kv_head, &chunk, &n_split);
    if (work_bytes < (size_t)n_split * n_head * (D + 1) * sizeof(float)) return (int)cudaErrorInvalidValue;
    float *part_o = (float *)work;
    float *part_lse = part_o + (size_t)n_split * n_head * D;
    auto kern = decode_split_kernel<D, DEC_BN, dec_cfg<D>::STAGES, DEC_NW>;
    const int smem = DEC_NW * dec_cfg<D>::STAGES * 2 * DEC_BN * D * (int)sizeof(bf16);
    static bool attr_set; /* once per instantiation (host overhead in every call otherwise) */
    cudaError_t e;
    if (!attr_set) {
        e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    dim3 grid((n_split + DEC_NW - 1) / DEC_NW, n_kv_head);
    kern<<<grid, DEC_NW * 32, smem, st>>>((const bf16 *)q, (const bf16 *)k, (const bf16 *)v, part_o,
                                          part_lse, kv_len, n_head, n_kv_head, chunk, n_split,
                                          ATTN_LOG2E / sqrtf((float)D));
    if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
    return attn_combine_cuda(part_o, part_lse, n_split, n_head, D, out, lse, st);
}

int attn_decode_window_cuda(const void *q, const void *k, const void *v, void *out, float *lse,
                            int kv_len, int n_head, int n_kv_head, int d, int window, void *work, size_t work_bytes,
                            void *stream)
{
    if (kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || n_head / n_kv_head > 16 || window < 0)
        return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    const int first = window && kv_len > window ? kv_len - window : 0; /* the oldest key the query sees */
    const size_t skip = (size_t)first * n_kv_head * d;                 /* elements before it */
    const bf16 *k0 = (const bf16 *)k + skip, *v0 = (const bf16 *)v + skip;
    const int n = kv_len - first;
    if (d == 256) return launch_decode<256>(q, k0, v0, out, lse, n, n_head, n_kv_head, work, work_bytes, st);
    if (d == 128) return launch_decode<128>(q, k0, v0, out, lse, n, n_head, n_kv_head, work, work_bytes, st);
    if (d == 64) return launch_decode<64>(q, k0, v0, out, lse, n, n_head, n_kv_head, work, work_bytes, st);
    return (int)cudaErrorInvalidValue;
}

int attn_decode_cuda(const void *q, const void *k, const void *v, void *out, float *lse,
                     int kv_len, int n_head, int n_kv_head, int d, void *work, size_t work_bytes,
                     void *stream)
{
    return attn_decode_window_cuda(q, k, v, out, lse, kv_len, n_head, n_kv_head, d, 0, work, work_bytes, stream);
}

/* Launch configuration with or without programmatic dependent launch. */
struct pdl_cfg {
    cudaLaunchConfig_t c;
    cudaLaunchAttribute at[1];
    pdl_cfg(dim3 grid, dim3 block, size_t smem, cudaStream_t st, int pdl) : c(), at()
    {
        at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[0].val.programmaticStreamSerializationAllowed = pdl ? 1 : 0;
        c.gridDim = grid;
        c.blockDim = block;
        c.dynamicSmemBytes = smem;
        c.stream = st;
        c.attrs = at;
        c.numAttrs = 1;
    }
};

/* kv_len from the device: ATTN_DEV_SPLITS splits whatever the length. The
 * kernel's shared-memory attribute is set by the plan's first call
 * (decode_plan, via attn_decode_workspace or attn_decode_dev_workspace),
 * not here, so the launch may be captured. */
template <int D>
static int launch_decode_dev(const void *q, const void *k, const void *v, void *out, const int *kv_len_dev,
                             int n_head, int n_kv_head, void *work, size_t work_bytes, int pdl, cudaStream_t st)
{
    const int n_split = ATTN_DEV_SPLITS;
    if (work_bytes < (size_t)n_split * n_head * (D + 1) * sizeof(float)) return (int)cudaErrorInvalidValue;
    float *part_o = (float *)work;
    float *part_lse = part_o + (size_t)n_split * n_head * D;
    constexpr int smem = DEC_NW * DEC_STAGES * 2 * DEC_BN * D * (int)sizeof(bf16);
    pdl_cfg split(dim3((n_split + DEC_NW - 1) / DEC_NW, n_kv_head), dim3(DEC_NW * 32), smem, st, pdl);
    cudaError_t e = cudaLaunchKernelEx(&split.c, decode_split_dev_kernel<D, DEC_BN, DEC_STAGES, DEC_NW>,
                                       (const bf16 *)q, (const bf16 *)k, (const bf16 *)v, part_o, part_lse,
                                       kv_len_dev, n_head, n_kv_head, n_split, ATTN_LOG2E / sqrtf((float)D));
    if (e != cudaSuccess || (e = cudaGetLastError()) != cudaSuccess) return (int)e;
    if (!out) return 0; /* the caller combines the partials */
    pdl_cfg comb(dim3(n_head), dim3(COMB_THREADS), 0, st, pdl);
    e = cudaLaunchKernelEx(&comb.c, combine_kernel, (const float *)part_o, (const float *)part_lse, n_split, n_head,
                           D, (bf16 *)out, (float *)NULL);
    return (int)(e != cudaSuccess ? e : cudaGetLastError());
}

int attn_decode_dev_cuda(const void *q, const void *k, const void *v, void *out, const int *kv_len_dev,
                         int n_head, int n_kv_head, int d, void *work, size_t work_bytes, int pdl, void *stream)
{
    if (n_kv_head <= 0 || n_head % n_kv_head || n_head / n_kv_head > 16) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    if (d == 128) return launch_decode_dev<128>(q, k, v, out, kv_len_dev, n_head, n_kv_head, work, work_bytes, pdl, st);
    if (d == 64) return launch_decode_dev<64>(q, k, v, out, kv_len_dev, n_head, n_kv_head, work, work_bytes, pdl, st);
    return (int)cudaErrorInvalidValue;
}

size_t attn_decode_dev_workspace(int n_head, int d)
{
    int chunk, n_split;  /* the plan's first call sets the kernels' attributes */
    if (d == 128) decode_plan<128>(1, 1, &chunk, &n_split);
    else decode_plan<64>(1, 1, &chunk, &n_split);
    return (size_t)ATTN_DEV_SPLITS * n_head * (d + 1) * sizeof(float);
}
