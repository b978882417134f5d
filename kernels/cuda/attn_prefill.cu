/* attn_prefill.cu — causal prefill flash attention, FA2 style (sm_80 warp
 * instructions: mma.sync m16n8k16, ldmatrix, cp.async double buffering).
 *
 * One CTA = BM query rows of one head; NW warps, each owning BM/NW rows
 * (MT m16 tiles), walks the KV tiles of BN keys up to the causal limit:
 *   S = Q K^T (Q from shared memory, K by ldmatrix), mask on diagonal and
 *   tail tiles only, online softmax in the log2 domain (scale folded in),
 *   P kept in registers as the A operand of O += P V (V by ldmatrix.trans).
 * K/V tiles are double-buffered: the copy of tile t+1 runs under the maths
 * of tile t. Blocks are launched heaviest first (causal load balance).
 * Sliding window W > 0: query position p sees keys p-W+1 .. p only; the CTA
 * starts at the tile of its first row's first key and a warp skips the
 * tiles wholly older than its rows' windows, so a sliding layer costs
 * O(W) per query, not O(position).
 * Invariants: d in {64, 128, 256}; q_offset >= 0; every row sees at least
 * its own key (a row whose keys of a tile are all masked keeps m = -inf,
 * l = 0 and its output untouched through the rescale); rows past n_q and
 * keys past kv_len are zero-filled and never stored / masked.
 * attn_prefill_cuda runs the best version (PREFILL_BEST below, a Hopper one)
 * for d 64 and 128 without a window; d = 256 and every windowed call run
 * this file's kernel (the Hopper kernels keep 64 and 128; their one windowed
 * form, sinks + window, serves the local heads: attn_local.cu).
 * Shapes and contract: kernels/attn_kernels.h. Versions: bench/attention.md.
 */
#include "kernels/attn_kernels.h"
#include "kernels/cuda/attn_common.cuh"

typedef __nv_bfloat16 bf16;

/* KU: unroll of the d loop of S = Q K^T (register pressure vs. ILP). */
template <int D, int BM, int BN, int NW, int MINB, int KU>
__global__ void __launch_bounds__(NW * 32, MINB)
prefill_v1_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                  const bf16 *__restrict__ v, bf16 *__restrict__ out, float *__restrict__ lse,
                  int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int window, float scale_log2)
{
    constexpr int MT = BM / (NW * 16); /* m16 tiles per warp */
    constexpr int NT = BN / 8;         /* n8 tiles of S */
    constexpr int DT = D / 8;          /* n8 tiles of O */
    constexpr int CH = D / 8;          /* 16-byte chunks per row */
    constexpr int NTH = NW * 32;
    static_assert(MT >= 1 && BM % (NW * 16) == 0 && BN % 16 == 0, "tile shape");

    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *sQ = (bf16 *)smem;        /* (BM, D) swizzled */
    bf16 *sK = sQ + BM * D;         /* 2 x (BN, D) */
    bf16 *sV = sK + 2 * BN * D;     /* 2 x (BN, D) */

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int qb = gridDim.x - 1 - blockIdx.x; /* heaviest first */
    const int h = blockIdx.y, kvh = h / (n_head / n_kv_head);
    const int q0 = qb * BM;
    const size_t qs = (size_t)n_head * D, kvs = (size_t)n_kv_head * D;
    const bf16 *qg = q + (size_t)h * D;
    const bf16 *kg = k + (size_t)kvh * D;
    const bf16 *vg = v + (size_t)kvh * D;

    const int q_last = min(q0 + BM, n_q) - 1;
    const int kv_end = min(kv_len, q_offset + q_last + 1);
    const int n_tiles = (kv_end + BN - 1) / BN;
    /* first tile with a key the first row's window holds */
    const int t_begin = window && q_offset + q0 - window + 1 > 0 ? (q_offset + q0 - window + 1) / BN : 0;

    for (int c = tid; c < BM * CH; c += NTH) {
        int r = c / CH, ch = c % CH, qi = q0 + r;
        bool ok = qi < n_q;
        cp_async16(smem_u32(sQ + swz<D>(r, ch)), qg + (size_t)(ok ? qi : 0) * qs + ch * 8, ok);
    }
    auto load_kv = [&](int t, int buf) {
        for (int c = tid; c < BN * CH; c += NTH) {
            int r = c / CH, ch = c % CH, j = t * BN + r;
            bool ok = j < kv_len;
            size_t off = (size_t)(ok ? j : 0) * kvs + ch * 8;
            cp_async16(smem_u32(sK + buf * BN * D + swz<D>(r, ch)), kg + off, ok);
            cp_async16(smem_u32(sV + buf * BN * D + swz<D>(r, ch)), vg + off, ok);
        }
    };
    load_kv(t_begin, t_begin & 1);
    cp_async_commit();

    const int wrow0 = warp * MT * 16;             /* first row of this warp in the tile */
    const int wq_first = q_offset + q0 + wrow0;   /* positions this warp's rows see up to */
    const int wq_last = q_offset + q0 + wrow0 + MT * 16 - 1;

    float o[MT][DT][4];
    float m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int dt = 0; dt < DT; dt++) o[mt][dt][0] = o[mt][dt][1] = o[mt][dt][2] = o[mt][dt][3] = 0.f;
        m[mt][0] = m[mt][1] = -INFINITY;
        l[mt][0] = l[mt][1] = 0.f;
    }

    for (int t = t_begin; t < n_tiles; t++) {
        cp_async_wait<0>();
        __syncthreads(); /* tile t landed; everyone is done with tile t-1's buffer */
        if (t + 1 < n_tiles) load_kv(t + 1, (t + 1) & 1);
        cp_async_commit();

        const int n0 = t * BN;
        if (n0 > wq_last) continue; /* every key of this tile is in this warp's future */
        if (window && n0 + BN - 1 < wq_first - window + 1) continue; /* older than every row's window */
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

        if (n0 + BN - 1 > wq_first || n0 + BN > kv_len || (window && n0 < wq_last - window + 1)) {
            /* diagonal, tail or window-edge tile */
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < NT; nt++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int pos = wq_first + mt * 16 + (lane >> 2) + (e >> 1) * 8;
                        int col = n0 + nt * 8 + (lane & 3) * 2 + (e & 1);
                        if (col > pos || col >= kv_len || (window && col <= pos - window))
                            s[mt][nt][e] = -INFINITY;
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
            if ((lane & 3) == 0) lse[(size_t)row * n_head + h] = (m[mt][hr] + __log2f(lt)) * ATTN_LN2;
        }
}

template <int D, int BM, int BN, int NW, int MINB, int KU>
static int launch_v1(const void *q, const void *k, const void *v, void *out, float *lse,
                     int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int window, cudaStream_t st)
{
    auto kern = prefill_v1_kernel<D, BM, BN, NW, MINB, KU>;
    const int smem = (BM + 4 * BN) * D * (int)sizeof(bf16);
    static bool attr_set; /* once per instantiation (host overhead in every call otherwise) */
    cudaError_t e;
    if (!attr_set) {
        e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    dim3 grid((n_q + BM - 1) / BM, n_head);
    kern<<<grid, NW * 32, smem, st>>>((const bf16 *)q, (const bf16 *)k, (const bf16 *)v, (bf16 *)out,
                                      lse, n_q, kv_len, q_offset, n_head, n_kv_head, window,
                                      ATTN_LOG2E / sqrtf((float)D));
    return (int)cudaGetLastError();
}

/* v1 FA2-style (this file); v2 v1 with 32-key tiles; v3-v7 Hopper TMA +
 * wgmma (attn_prefill_sm90.cu): v3 2 stages, v4 v3 with P V as two N = 64
 * products, v5 3 stages, v6 3 stages + softmax overlapped with the products,
 * v7 v6 with 2 stages. Measurements: bench/attention.md. */
enum { PREFILL_VERSIONS = 7, PREFILL_BEST = 6 };

int attn_prefill_versions(void) { return PREFILL_VERSIONS; }

/* This file's kernel (versions 1 and 2) with a window (0: none). d = 256:
 * 64-row tiles (one m16 tile per warp: the 128 f32 of O per thread fit the
 * registers) and 32-key tiles, in both versions. */
static int prefill_generic(int version, const void *q, const void *k, const void *v, void *out, float *lse,
                           int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d, int window,
                           cudaStream_t st)
{
#define V1_ARGS q, k, v, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, window, st
    if (d == 256) return launch_v1<256, 64, 32, 4, 1, 1>(V1_ARGS);
    if (version == 1) {
        if (d == 128) return launch_v1<128, 128, 64, 4, 2, 2>(V1_ARGS);
        if (d == 64) return launch_v1<64, 128, 64, 4, 2, 2>(V1_ARGS);
    }
    if (version == 2) { /* v1 with 32-key tiles: S in 32 registers instead of 64, no spills */
        if (d == 128) return launch_v1<128, 128, 32, 4, 2, 2>(V1_ARGS);
        if (d == 64) return launch_v1<64, 128, 32, 4, 2, 2>(V1_ARGS);
    }
#undef V1_ARGS
    return (int)cudaErrorInvalidValue;
}

static int bad_shape(int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int window)
{
    return n_q <= 0 || kv_len <= 0 || q_offset < 0 || n_kv_head <= 0 || n_head % n_kv_head || window < 0;
}

int attn_prefill_cuda_version(int version, const void *q, const void *k, const void *v,
                              void *out, float *lse, int n_q, int kv_len, int q_offset,
                              int n_head, int n_kv_head, int d, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    if (bad_shape(n_q, kv_len, q_offset, n_head, n_kv_head, 0)) return (int)cudaErrorInvalidValue;
    if (version == 1 || version == 2)
        return prefill_generic(version, q, k, v, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, d, 0, st);
    if (version >= 3 && version <= 7) /* Hopper: TMA + wgmma (attn_prefill_sm90.cu) */
        return attn_prefill_sm90(version - 2, q, k, v, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, d, st);
    return (int)cudaErrorInvalidValue;
}

int attn_prefill_window_cuda(const void *q, const void *k, const void *v, void *out, float *lse,
                             int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d, int window,
                             void *stream)
{
    if (bad_shape(n_q, kv_len, q_offset, n_head, n_kv_head, window)) return (int)cudaErrorInvalidValue;
    if (window || d == 256) /* the generic kernel, with v2's 32-key tiles */
        return prefill_generic(2, q, k, v, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, d, window,
                               (cudaStream_t)stream);
    return attn_prefill_cuda_version(PREFILL_BEST, q, k, v, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head,
                                     d, stream);
}

int attn_prefill_cuda(const void *q, const void *k, const void *v, void *out, float *lse,
                      int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d,
                      void *stream)
{
    return attn_prefill_window_cuda(q, k, v, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, d, 0, stream);
}
