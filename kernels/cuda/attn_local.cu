/* attn_local.cu — local heads on the GPU: sink + sliding-window attention
 * over the bounded ring cache (S + W rows), a prefill chunk, a split-KV
 * decode, and the store of a chunk into the ring. Contract, the ring's row
 * mapping and the order of calls: kernels/attn_kernels.h (attn_local_*).
 *
 * Prefill, version 2 (the default where it applies: sm_90, d 64 or 128,
 * q_offset 0, 16-byte aligned tensors): the whole context is the chunk, so
 * the keys are the chunk's plain k, v and the Hopper kernel of
 * attn_prefill_sm90.cu runs with the rule (its sink + window walk).
 * Prefill, version 1 (every other call): the scheme of attn_prefill.cu's
 * sm_80-style kernel (mma.sync, ldmatrix, cp.async double buffering, online
 * softmax in the log2 domain) over a key walk of two parts per CTA of BM query rows (positions
 * p_first .. p_last): the sink tiles, positions 0 .. min(S, p_last+1)-1,
 * then the tiles of positions max(p_first - W + 1, S) .. p_last, aligned to
 * BN in position space. A key is loaded from the ring (position < q_offset)
 * or from the chunk (>= q_offset); keys outside the part load zeros, and
 * every score is masked by the rule with sink tiles keeping j < S and window
 * tiles j >= S, so no key counts twice. Cost O(S + W) per query, whatever
 * the position.
 * Decode, version 2 (the default): after the query's own key is stored, the
 * keys it sees are exactly the ring's rows 0 .. min(pos, S+W-1) (every row
 * once the window is full: the sinks and W window positions, in rotated
 * order), and softmax attention does not depend on the order of its keys:
 * the dense split-KV decode (attn_decode_cuda) over that prefix of the ring.
 * Decode, version 1: decode_split_warp (attn_decode.cuh) over the visible
 * keys in position order (logical key i -> ring row), splits of >= 128 keys,
 * about one wave of warps over the kv heads, then attn_combine_cuda.
 * Invariants: every query row sees its own key (l > 0 for rows < n_q); rows
 * past n_q run on zero queries and are never stored; d in {64, 128, 256};
 * the ring and chunk rows are read only inside the rule, so a ring row of a
 * position the query does not see may hold anything.
 */
#include "kernels/attn_kernels.h"
#include "kernels/cuda/attn_decode.cuh"

/* q: (n_q, n_head, D); kr, vr: (S + W, n_kv_head, D) ring; kc, vc: (n_q,
 * n_kv_head, D) chunk; out: (n_q, n_head, D); lse: (n_q, n_head) or NULL.
 * Grid: (ceil(n_q / BM), n_head). */
template <int D, int BM, int BN, int NW, int MINB, int KU>
__global__ void __launch_bounds__(NW * 32, MINB)
local_prefill_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ kr, const bf16 *__restrict__ vr,
                     const bf16 *__restrict__ kc, const bf16 *__restrict__ vc, bf16 *__restrict__ out,
                     float *__restrict__ lse, int n_q, int q_offset, int S, int W, int n_head, int n_kv_head,
                     float scale_log2)
{
    constexpr int MT = BM / (NW * 16); /* m16 tiles per warp */
    constexpr int NT = BN / 8;         /* n8 tiles of S */
    constexpr int DT = D / 8;          /* n8 tiles of O */
    constexpr int CH = D / 8;          /* 16-byte chunks per row */
    constexpr int NTH = NW * 32;
    static_assert(MT >= 1 && BM % (NW * 16) == 0 && BN % 16 == 0, "tile shape");

    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *sQ = (bf16 *)smem;    /* (BM, D) swizzled */
    bf16 *sK = sQ + BM * D;     /* 2 x (BN, D) */
    bf16 *sV = sK + 2 * BN * D; /* 2 x (BN, D) */

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int q0 = blockIdx.x * BM;
    const int h = blockIdx.y, kvh = h / (n_head / n_kv_head);
    const size_t qs = (size_t)n_head * D, kvs = (size_t)n_kv_head * D;
    const bf16 *qg = q + (size_t)h * D;

    const int p_first = q_offset + q0, p_last = q_offset + min(q0 + BM, n_q) - 1;
    const int s_end = min(S, p_last + 1);          /* sink keys: positions 0 .. s_end-1 */
    const int w_lo = max(p_first - W + 1, S);      /* window keys: positions w_lo .. p_last */
    const int n_sink_tiles = (s_end + BN - 1) / BN;
    const int wt0 = w_lo / BN;
    const int n_tiles = n_sink_tiles + (w_lo <= p_last ? p_last / BN - wt0 + 1 : 0);

    for (int c = tid; c < BM * CH; c += NTH) {
        int r = c / CH, ch = c % CH, qi = q0 + r;
        bool ok = qi < n_q;
        cp_async16(smem_u32(sQ + swz<D>(r, ch)), qg + (size_t)(ok ? qi : 0) * qs + ch * 8, ok);
    }
    auto tile_pos = [&](int t) { return t < n_sink_tiles ? t * BN : (wt0 + t - n_sink_tiles) * BN; };
    auto load_kv = [&](int t, int buf) {
        const bool sink = t < n_sink_tiles;
        const int n0 = tile_pos(t);
        for (int c = tid; c < BN * CH; c += NTH) {
            int r = c / CH, ch = c % CH, j = n0 + r;
            bool ok = sink ? j < s_end : j >= w_lo && j <= p_last;
            const bf16 *ks = kc, *vs = vc; /* a valid address even when nothing is read */
            size_t row = 0;
            if (ok && j < q_offset) {
                ks = kr;
                vs = vr;
                row = (size_t)attn_local_row(j, S, W);
            } else if (ok) {
                row = (size_t)(j - q_offset);
            }
            size_t off = row * kvs + (size_t)kvh * D + ch * 8;
            cp_async16(smem_u32(sK + buf * BN * D + swz<D>(r, ch)), ks + off, ok);
            cp_async16(smem_u32(sV + buf * BN * D + swz<D>(r, ch)), vs + off, ok);
        }
    };
    if (n_tiles > 0) load_kv(0, 0);
    cp_async_commit();

    const int wrow0 = warp * MT * 16;
    const int wq_first = p_first + wrow0; /* positions of this warp's rows */
    const int wq_last = wq_first + MT * 16 - 1;

    float o[MT][DT][4];
    float m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int dt = 0; dt < DT; dt++) o[mt][dt][0] = o[mt][dt][1] = o[mt][dt][2] = o[mt][dt][3] = 0.f;
        m[mt][0] = m[mt][1] = -INFINITY;
        l[mt][0] = l[mt][1] = 0.f;
    }

    for (int t = 0; t < n_tiles; t++) {
        cp_async_wait<0>();
        __syncthreads(); /* tile t landed; everyone is done with tile t-1's buffer */
        if (t + 1 < n_tiles) load_kv(t + 1, (t + 1) & 1);
        cp_async_commit();

        const bool sink = t < n_sink_tiles;
        const int n0 = tile_pos(t);
        if (n0 > wq_last) continue;                            /* all in this warp's future */
        if (!sink && n0 + BN - 1 <= wq_first - W) continue;    /* older than every row's window */
        const bf16 *cK = sK + (t & 1) * BN * D;
        const bf16 *cV = sV + (t & 1) * BN * D;

        float s[MT][NT][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int nt = 0; nt < NT; nt++) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.f;

#pragma unroll KU
        for (int ks = 0; ks < D / 16; ks++) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
                ldsm_x4(a[mt], smem_u32(sQ + swz<D>(wrow0 + mt * 16 + (lane & 15), ks * 2 + (lane >> 4))));
#pragma unroll
            for (int np = 0; np < BN / 16; np++) {
                uint32_t b[4];
                ldsm_x4(b, smem_u32(cK + swz<D>(np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                                ks * 2 + ((lane >> 3) & 1))));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma16816(s[mt][2 * np], a[mt], b[0], b[1]);
                    mma16816(s[mt][2 * np + 1], a[mt], b[2], b[3]);
                }
            }
        }

        /* the rule, on the tiles where some key of the warp's rows is hidden
         * (a tile every row sees whole needs no mask) */
        const bool whole = sink ? n0 + BN <= s_end && n0 + BN - 1 <= wq_first
                                : n0 >= w_lo && n0 + BN - 1 <= p_last && n0 + BN - 1 <= wq_first && n0 > wq_last - W;
        if (!whole) {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < NT; nt++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int pos = wq_first + mt * 16 + (lane >> 2) + (e >> 1) * 8;
                        int col = n0 + nt * 8 + (lane & 3) * 2 + (e & 1);
                        bool vis = col <= pos && col <= p_last && (sink ? col < S : col >= S && col > pos - W);
                        if (!vis) s[mt][nt][e] = -INFINITY;
                    }
        }

#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hr = 0; hr < 2; hr++) {
                float mx = -INFINITY;
#pragma unroll
                for (int nt = 0; nt < NT; nt++) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * hr], s[mt][nt][2 * hr + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                float mnew = fmaxf(m[mt][hr], mx * scale_log2);
                float msafe = mnew == -INFINITY ? 0.f : mnew;
                float alpha = fast_exp2(m[mt][hr] - msafe);
                m[mt][hr] = mnew;
                float rs = 0.f;
#pragma unroll
                for (int nt = 0; nt < NT; nt++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        float p = fast_exp2(fmaf(s[mt][nt][2 * hr + e], scale_log2, -msafe));
                        s[mt][nt][2 * hr + e] = p;
                        rs += p;
                    }
                l[mt][hr] = l[mt][hr] * alpha + rs;
#pragma unroll
                for (int dt = 0; dt < DT; dt++) {
                    o[mt][dt][2 * hr] *= alpha;
                    o[mt][dt][2 * hr + 1] *= alpha;
                }
            }

#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t pa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                pa[mt][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t b[4];
                ldsm_x4_t(b, smem_u32(cV + swz<D>(kk * 16 + (lane & 15), dp * 2 + (lane >> 4))));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma16816(o[mt][2 * dp], pa[mt], b[0], b[1]);
                    mma16816(o[mt][2 * dp + 1], pa[mt], b[2], b[3]);
                }
            }
        }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float lt = l[mt][hr];
            lt += __shfl_xor_sync(0xffffffffu, lt, 1);
            lt += __shfl_xor_sync(0xffffffffu, lt, 2);
            float inv = lt > 0.f ? 1.f / lt : 0.f;
            int row = q0 + wrow0 + mt * 16 + (lane >> 2) + hr * 8;
            if (row >= n_q) continue;
            bf16 *orow = out + (size_t)row * qs + (size_t)h * D + (lane & 3) * 2;
#pragma unroll
            for (int dt = 0; dt < DT; dt++)
                *(uint32_t *)(orow + dt * 8) = pack_bf16(o[mt][dt][2 * hr] * inv, o[mt][dt][2 * hr + 1] * inv);
            if ((lane & 3) == 0 && lse) lse[(size_t)row * n_head + h] = (m[mt][hr] + __log2f(lt)) * ATTN_LN2;
        }
}

template <int D, int BM, int BN, int NW, int MINB, int KU>
static int launch_prefill(const void *q, const void *kr, const void *vr, const void *kc, const void *vc, void *out,
                          float *lse, int n_q, int q_offset, int S, int W, int n_head, int n_kv_head, cudaStream_t st)
{
    auto kern = local_prefill_kernel<D, BM, BN, NW, MINB, KU>;
    const int smem = (BM + 4 * BN) * D * (int)sizeof(bf16);
    static bool attr_set; /* once per instantiation */
    cudaError_t e;
    if (!attr_set) {
        e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    dim3 grid((n_q + BM - 1) / BM, n_head);
    kern<<<grid, NW * 32, smem, st>>>((const bf16 *)q, (const bf16 *)kr, (const bf16 *)vr, (const bf16 *)kc,
                                      (const bf16 *)vc, (bf16 *)out, lse, n_q, q_offset, S, W, n_head, n_kv_head,
                                      ATTN_LOG2E / sqrtf((float)D));
    return (int)cudaGetLastError();
}

static int bad_local(int S, int W, int n_head, int n_kv_head)
{
    return S < 0 || W < 1 || n_kv_head <= 0 || n_head <= 0 || n_head % n_kv_head;
}

/* Version 2 applies: the chunk is the whole context, d 64 or 128, TMA's
 * 16-byte alignment, a compute capability 9 device (checked once). */
static bool sm90_local_fits(const void *q, const void *kc, const void *vc, int q_offset, int d)
{
    static int major = -1;
    if (major < 0) {
        int dev = 0;
        if (cudaGetDevice(&dev) != cudaSuccess ||
            cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
            major = 0;
    }
    const uintptr_t mis = ((uintptr_t)q | (uintptr_t)kc | (uintptr_t)vc) & 15;
    return major == 9 && q_offset == 0 && (d == 64 || d == 128) && !mis;
}

int attn_local_prefill_cuda_version(int version, const void *q, const void *kr, const void *vr, const void *kc,
                                    const void *vc, void *out, float *lse, int n_q, int q_offset, int S, int W,
                                    int n_head, int n_kv_head, int d, void *stream)
{
    if (n_q <= 0 || q_offset < 0 || bad_local(S, W, n_head, n_kv_head)) return (int)cudaErrorInvalidValue;
    if (q_offset > 0 && (!kr || !vr)) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    if (version == 2) {
        if (q_offset || (d != 64 && d != 128)) return (int)cudaErrorInvalidValue;
        return attn_prefill_sm90_local(q, kc, vc, out, lse, n_q, n_q, 0, S, W, n_head, n_kv_head, d, st);
    }
    if (version != 1) return (int)cudaErrorInvalidValue;
#define LP_ARGS q, kr, vr, kc, vc, out, lse, n_q, q_offset, S, W, n_head, n_kv_head, st
    /* the tiles of attn_prefill.cu's version 2 (32-key tiles; d 256: 64-row tiles) */
    if (d == 64) return launch_prefill<64, 128, 32, 4, 2, 2>(LP_ARGS);
    if (d == 128) return launch_prefill<128, 128, 32, 4, 2, 2>(LP_ARGS);
    if (d == 256) return launch_prefill<256, 64, 32, 4, 1, 1>(LP_ARGS);
#undef LP_ARGS
    return (int)cudaErrorInvalidValue;
}

int attn_local_prefill_cuda(const void *q, const void *kr, const void *vr, const void *kc, const void *vc,
                            void *out, float *lse, int n_q, int q_offset, int S, int W, int n_head, int n_kv_head,
                            int d, void *stream)
{
    const int version = sm90_local_fits(q, kc, vc, q_offset, d) ? 2 : 1;
    return attn_local_prefill_cuda_version(version, q, kr, vr, kc, vc, out, lse, n_q, q_offset, S, W, n_head,
                                           n_kv_head, d, stream);
}

/* ---- decode ---- */

enum { LD_BN = 16, LD_NW = 4, LD_MIN_CHUNK = 128 };
template <int D>
struct ld_cfg {
    enum { STAGES = D == 256 ? 2 : 3, SMEM = LD_NW * STAGES * 2 * LD_BN * D * 2 };
};

/* The visible keys of the query at pos in position order: key i < n_sink is
 * position i (ring row i), key i >= n_sink position lo + i - n_sink, whose
 * ring row is r0 + i - n_sink (r0 = the row of position lo) wrapped once
 * past S + W (the window holds at most W positions: no modulo per key);
 * this split reads keys i0 .. i1-1, as ring rows. */
template <int BN>
struct local_keys {
    int i0, i1, n_sink, r0, S, W;
    __device__ int n_tiles() const { return i1 > i0 ? (i1 - i0 + BN - 1) / BN : 0; }
    __device__ int key(int t, int r) const
    {
        int i = i0 + t * BN + r;
        if (i >= i1) return -1;
        if (i < n_sink) return i;
        int row = r0 + i - n_sink;
        return row >= S + W ? row - W : row;
    }
};

/* Keys the query at pos sees. */
__host__ __device__ static inline int local_n_keys(int pos, int S, int W, int *n_sink, int *lo)
{
    *n_sink = S < pos + 1 ? S : pos + 1;
    *lo = pos - W + 1 > S ? pos - W + 1 : S;
    return *n_sink + (pos + 1 > *lo ? pos + 1 - *lo : 0);
}

/* q: (n_head, D); kr, vr: the ring; part_o: (n_split, n_head, D); part_lse:
 * (n_split, n_head). Grid: (ceil(n_split / NW), n_kv_head). */
template <int D, int BN, int STAGES, int NW>
__global__ void __launch_bounds__(NW * 32)
local_decode_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ kr, const bf16 *__restrict__ vr,
                    float *__restrict__ part_o, float *__restrict__ part_lse, int pos, int S, int W, int n_head,
                    int n_kv_head, int chunk, int n_split, float scale_log2)
{
    constexpr int TILE = BN * D;
    extern __shared__ __align__(128) unsigned char smem[];
    const int warp = threadIdx.x >> 5;
    const int split = blockIdx.x * NW + warp, kvh = blockIdx.y;
    if (split >= n_split) return; /* whole warp; no block barriers below */
    bf16 *sK = (bf16 *)smem + (size_t)warp * STAGES * 2 * TILE;
    bf16 *sV = sK + STAGES * TILE;
    const int G = n_head / n_kv_head;
    int n_sink, lo;
    const int n_keys = local_n_keys(pos, S, W, &n_sink, &lo);
    const local_keys<BN> keys{split * chunk, min(n_keys, split * chunk + chunk), n_sink, attn_local_row(lo, S, W), S, W};
    decode_split_warp<D, BN, STAGES>(q, kr, vr, part_o, part_lse, n_head, n_kv_head, kvh, kvh * G, G, split, keys, sK,
                                     sV, scale_log2);
}

/* Splits per kv head worth launching: about one wave of resident warps
 * over the kv heads (the kernel's shared-memory attribute is set here). */
template <int D>
static int local_want(int n_kv_head)
{
    static int resident_warps;
    if (!resident_warps) {
        auto kern = local_decode_kernel<D, LD_BN, ld_cfg<D>::STAGES, LD_NW>;
        int dev = 0, n_sm = 0, blocks = 0;
        cudaGetDevice(&dev);
        cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev);
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)ld_cfg<D>::SMEM);
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kern, LD_NW * 32, (int)ld_cfg<D>::SMEM);
        resident_warps = n_sm > 0 && blocks > 0 ? n_sm * blocks * LD_NW : 132 * 8;
    }
    return (resident_warps + n_kv_head - 1) / n_kv_head;
}

/* chunk (a multiple of LD_BN, >= LD_MIN_CHUNK) and splits for n_keys keys;
 * n_split <= min(want, ceil(n_keys / LD_MIN_CHUNK)). */
static void local_plan(int n_keys, int want, int *chunk, int *n_split)
{
    int c = (n_keys + want - 1) / want;
    c = (c + LD_BN - 1) / LD_BN * LD_BN;
    if (c < LD_MIN_CHUNK) c = LD_MIN_CHUNK;
    *chunk = c;
    *n_split = (n_keys + c - 1) / c;
}

static int want_for(int d, int n_kv_head)
{
    if (d == 64) return local_want<64>(n_kv_head);
    if (d == 128) return local_want<128>(n_kv_head);
    return local_want<256>(n_kv_head);
}

size_t attn_local_decode_workspace(int S, int W, int n_head, int n_kv_head, int d)
{
    if (bad_local(S, W, n_head, n_kv_head) || (d != 64 && d != 128 && d != 256)) return 0;
    long long cap = ((long long)S + W + LD_MIN_CHUNK - 1) / LD_MIN_CHUNK, want = want_for(d, n_kv_head);
    if (want < cap) cap = want;
    const size_t v1 = (size_t)cap * n_head * (d + 1) * sizeof(float);
    const size_t v2 = attn_decode_workspace_upto(S + W, n_head, n_kv_head, d);
    return v1 > v2 ? v1 : v2;
}

template <int D>
static int launch_decode(const void *q, const void *kr, const void *vr, void *out, float *lse, int pos, int S, int W,
                         int n_head, int n_kv_head, void *work, size_t work_bytes, cudaStream_t st)
{
    int n_sink, lo, chunk, n_split;
    const int n_keys = local_n_keys(pos, S, W, &n_sink, &lo);
    local_plan(n_keys, local_want<D>(n_kv_head), &chunk, &n_split);
    if (work_bytes < (size_t)n_split * n_head * (D + 1) * sizeof(float)) return (int)cudaErrorInvalidValue;
    float *part_o = (float *)work;
    float *part_lse = part_o + (size_t)n_split * n_head * D;
    dim3 grid((n_split + LD_NW - 1) / LD_NW, n_kv_head);
    local_decode_kernel<D, LD_BN, ld_cfg<D>::STAGES, LD_NW><<<grid, LD_NW * 32, ld_cfg<D>::SMEM, st>>>(
        (const bf16 *)q, (const bf16 *)kr, (const bf16 *)vr, part_o, part_lse, pos, S, W, n_head, n_kv_head, chunk,
        n_split, ATTN_LOG2E / sqrtf((float)D));
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return (int)e;
    return attn_combine_cuda(part_o, part_lse, n_split, n_head, D, out, lse, st);
}

int attn_local_decode_cuda_version(int version, const void *q, const void *kr, const void *vr, void *out, float *lse,
                                   int pos, int S, int W, int n_head, int n_kv_head, int d, void *work,
                                   size_t work_bytes, void *stream)
{
    if (pos < 0 || bad_local(S, W, n_head, n_kv_head) || n_head / n_kv_head > 16) return (int)cudaErrorInvalidValue;
    if (version == 2) /* the visible keys are exactly ring rows 0 .. min(pos, S+W-1) */
        return attn_decode_cuda(q, kr, vr, out, lse, pos + 1 < S + W ? pos + 1 : S + W, n_head, n_kv_head, d, work,
                                work_bytes, stream);
    if (version != 1) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
#define LD_ARGS q, kr, vr, out, lse, pos, S, W, n_head, n_kv_head, work, work_bytes, st
    if (d == 64) return launch_decode<64>(LD_ARGS);
    if (d == 128) return launch_decode<128>(LD_ARGS);
    if (d == 256) return launch_decode<256>(LD_ARGS);
#undef LD_ARGS
    return (int)cudaErrorInvalidValue;
}

int attn_local_decode_cuda(const void *q, const void *kr, const void *vr, void *out, float *lse, int pos, int S,
                           int W, int n_head, int n_kv_head, int d, void *work, size_t work_bytes, void *stream)
{
    return attn_local_decode_cuda_version(2, q, kr, vr, out, lse, pos, S, W, n_head, n_kv_head, d, work, work_bytes,
                                          stream);
}

/* ---- store ---- */

/* One block per chunk row t (position pos0 + t): copied into its ring row
 * when the ring keeps it; row: n_kv_head * d bf16, 16-byte chunks. */
__global__ void local_store_kernel(bf16 *__restrict__ kr, bf16 *__restrict__ vr, const bf16 *__restrict__ kc,
                                   const bf16 *__restrict__ vc, int pos0, int n, int S, int W, int row)
{
    const int t = blockIdx.x, p = pos0 + t;
    if (p >= S && p < pos0 + n - W) return; /* overwritten later in the chunk */
    const size_t dst = (size_t)attn_local_row(p, S, W) * row, src = (size_t)t * row;
    for (int i = threadIdx.x; i < row / 8; i += blockDim.x) {
        ((uint4 *)(kr + dst))[i] = ((const uint4 *)(kc + src))[i];
        ((uint4 *)(vr + dst))[i] = ((const uint4 *)(vc + src))[i];
    }
}

int attn_local_store_cuda(void *kr, void *vr, const void *kc, const void *vc, int pos0, int n, int S, int W,
                          int n_kv_head, int d, void *stream)
{
    if (pos0 < 0 || n < 0 || S < 0 || W < 1 || n_kv_head <= 0 || d % 8) return (int)cudaErrorInvalidValue;
    if (n == 0) return 0;
    local_store_kernel<<<n, 128, 0, (cudaStream_t)stream>>>((bf16 *)kr, (bf16 *)vr, (const bf16 *)kc,
                                                           (const bf16 *)vc, pos0, n, S, W, n_kv_head * d);
    return (int)cudaGetLastError();
}
