/* attn_prefill_sm90.cu — causal prefill flash attention for Hopper (sm_90a):
 * TMA loads into 128-byte-swizzled tiles, wgmma (warpgroup MMA) for both
 * products, a producer warp and two consumer warpgroups on mbarriers.
 *
 * One CTA = 128 query rows of one head (BM), 384 threads:
 *   warpgroup 0: producer (one lane issues every TMA copy), its registers
 *   given to the consumers (setmaxnreg 24 / 240);
 *   warpgroups 1, 2: consumers, 64 query rows each.
 * Shared memory: Q (BM x D), STAGES x {K, V} (BN x D each), each stored as
 * D/64 column blocks of [rows][64] bf16 with the 128-byte swizzle (what TMA
 * writes with CU_TENSOR_MAP_SWIZZLE_128B and wgmma reads through a matrix
 * descriptor). Per KV tile (BN = 128 keys), a consumer warpgroup:
 *   S = Q K^T     wgmma m64n128k16, A = Q and B = K from shared (K-major),
 *   mask (diagonal / tail tiles), online softmax in registers (log2 domain),
 *   O += P V      wgmma m64nDk16 with P from registers (the accumulator
 *                 layout of S is the A-fragment layout) and V from shared
 *                 (N-major: the instruction transposes),
 * then releases the stage (empty barrier); the producer refills it.
 * Invariants: 1024-byte aligned tiles (the swizzle is a function of the
 * address); the full barrier of a stage expects the whole box bytes, also
 * for rows past the end (TMA zero-fills them); phases: the u-th use of a
 * stage completes phase u of its full barrier and, once released, phase u
 * of its empty barrier. d in {64, 128}; q_offset >= 0.
 * Sinks + sliding window (WIN, the local heads' rule: position p sees keys
 * j <= p with j < S or j > p - W): a CTA walks its sink tiles (key tiles
 * before its first row's window that hold a key < S), then the key tiles
 * from its first row's window on (sm90_walk); the two parts never share a
 * tile, and every tile that holds a hidden key of a row is masked by the
 * whole rule, so a sink tile keeps only its first S columns and the left
 * edge of the window is cut per row. Cost O(S + W) per query.
 * Shapes and contract: kernels/attn_kernels.h. Versions: bench/attention.md.
 * The Hopper primitives (wgmma, mbarriers, TMA): attn_sm90.cuh.
 */
#include <type_traits>

#include "kernels/attn_kernels.h"
#include "kernels/cuda/attn_sm90.cuh"

typedef __nv_bfloat16 bf16;

enum { SM90_BM = 128, SM90_BN = 128, SM90_THREADS = 384 };

/* The key tiles a CTA walks, in order (producer and consumers alike): tile
 * t of the walk is key tile kt(t): the n_st sink tiles 0 .. n_st-1, then
 * key tiles wt0 .. (its last) with n_st <= wt0. Without a window: n_st = 0,
 * wt0 = 0, the causal walk. */
struct sm90_walk {
    int n_st, wt0, n_tiles;
    __device__ int kt(int t) const { return t < n_st ? t : t - n_st + wt0; }
};

/* The walk of the CTA whose rows sit at positions p_first .. p_first+BM-1,
 * keys below kv_end; sink S and window W (W = 0: no window). */
__device__ __forceinline__ sm90_walk sm90_make_walk(int p_first, int kv_end, int S, int W)
{
    const int kv_tiles = (kv_end + SM90_BN - 1) / SM90_BN;
    if (!W) return sm90_walk{0, 0, kv_tiles};
    const int wt0 = min(max(p_first - W + 1, 0) / SM90_BN, kv_tiles);
    const int n_st = min((S + SM90_BN - 1) / SM90_BN, wt0);
    return sm90_walk{n_st, wt0, n_st + kv_tiles - wt0};
}

/* ---- the kernel ---- */

/* One consumer warpgroup (cwarp = its warp index among the consumer warps,
 * 0..7): 64 query rows, every KV tile they need, then their rows of out
 * and lse. OVERLAP (FA3's intra-warpgroup pipelining): S of tile t+1 and
 * O += P V of tile t are in flight together while the softmax of tile t+1
 * runs; P of tile t stays in its registers until that product completes. */
template <int D, int STAGES, bool PV_SPLIT, bool OVERLAP, bool WIN>
__device__ __forceinline__ void consumer(uint32_t sQ, uint32_t sK, uint32_t sV, uint32_t bars, int cwarp, int lane,
                                         int q0, int h, bf16 *__restrict__ out, float *__restrict__ lse, int n_q,
                                         int kv_len, int q_offset, int n_head, sm90_walk w, int S, int W,
                                         float scale_log2)
{
    constexpr int BM = SM90_BM, BN = SM90_BN, KV_BYTES = BN * D * 2, NO = D / 2, KK = BN / 16;
    auto full = [&](int s) { return bars + 8 + 8 * s; };
    auto empty = [&](int s) { return bars + 8 + 8 * STAGES + 8 * s; };
    const uint32_t qbar = bars;
    const int wg = cwarp >> 2, wl = cwarp & 3, g = lane >> 2, tq4 = lane & 3;
    const int row_lo = wg * 64 + wl * 16 + g; /* in the tile; row_hi = row_lo + 8 */
    const int wg_first = q_offset + q0 + wg * 64, wg_last = wg_first + 63;
    const int n_tiles = w.n_tiles;
    /* tiles of the walk this warpgroup needs (the rest lie in its rows' future) */
    const int n_wg = min(n_tiles, w.n_st + wg_last / BN - w.wt0 + 1);
    float o[NO], sc[64];
#pragma unroll
    for (int i = 0; i < NO; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    auto issue_s = [&](int t) { /* sc = Q K_t^T (async) */
        const int s = t % STAGES;
        mbar_wait(full(s), (t / STAGES) & 1);
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < D / 16; ks++) {
            uint64_t da = gmma_desc(sQ + (ks >> 2) * BM * 128 + wg * 64 * 128 + (ks & 3) * 32, 16, 1024);
            uint64_t db = gmma_desc(sK + s * KV_BYTES + (ks >> 2) * BN * 128 + (ks & 3) * 32, 16, 1024);
            if (ks == 0) wgmma_ss_n128_first(sc, da, db);
            else wgmma_ss_n128(sc, da, db, 1);
        }
        wgmma_commit();
    };
    auto issue_pv = [&](int t, const uint32_t(&p)[KK][4]) { /* o += P V_t (async) */
        const int s = t % STAGES;
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            const uint32_t vb = sV + s * KV_BYTES + kk * 16 * 128;
            if constexpr (D == 64) {
                wgmma_rs_n64_tb(o, p[kk], gmma_desc(vb, 16, 1024));
            } else if constexpr (PV_SPLIT) {
                wgmma_rs_n64_tb(o, p[kk], gmma_desc(vb, 16, 1024));
                wgmma_rs_n64_tb(o + 32, p[kk], gmma_desc(vb + BN * 128, 16, 1024));
            } else {
                wgmma_rs_n128_tb(o, p[kk], gmma_desc(vb, BN * 128, 1024));
            }
        }
        wgmma_commit();
    };
    auto release = [&](int t) {
        __syncwarp();
        if (lane == 0) mbar_arrive(empty(t % STAGES));
    };
    /* mask, online softmax of sc (tile t), P left in sc as f32; alpha: the
     * factor the running output must be scaled by. mask_tag (a
     * std::integral_constant): 0 no mask, 1 mask where the tile needs it
     * (a run-time test), 2 mask without a test (no branch may run while a
     * wgmma is in flight: ptxas would serialise them, C7520). */
    auto softmax = [&](int t, float alpha[2], auto mask_tag) {
        const int n0 = w.kt(t) * BN;
        constexpr int MODE = decltype(mask_tag)::value;
        if (MODE == 2 || (MODE == 1 && ((WIN && (t < w.n_st || n0 + W <= wg_last)) || n0 + BN - 1 > wg_first ||
                                        n0 + BN > kv_len))) {
#pragma unroll
            for (int i = 0; i < 16; i++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int pos = q_offset + q0 + row_lo + (e >> 1) * 8;
                    int col = n0 + i * 8 + tq4 * 2 + (e & 1);
                    if (col > pos || col >= kv_len || (WIN && col >= S && col <= pos - W)) sc[4 * i + e] = -INFINITY;
                }
        }
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float mx = -INFINITY;
#pragma unroll
            for (int i = 0; i < 16; i++) mx = fmaxf(mx, fmaxf(sc[4 * i + 2 * hr], sc[4 * i + 2 * hr + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            float mnew = fmaxf(m[hr], mx * scale_log2);
            float msafe = mnew == -INFINITY ? 0.f : mnew;
            alpha[hr] = fast_exp2(m[hr] - msafe);
            m[hr] = mnew;
            float rs = 0.f;
#pragma unroll
            for (int i = 0; i < 16; i++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    float pe = fast_exp2(fmaf(sc[4 * i + 2 * hr + e], scale_log2, -msafe));
                    sc[4 * i + 2 * hr + e] = pe;
                    rs += pe;
                }
            l[hr] = l[hr] * alpha[hr] + rs;
        }
    };
    auto pack = [&](uint32_t(&p)[KK][4]) { /* P (in sc) as bf16 A fragments */
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            p[kk][0] = pack_bf16(sc[8 * kk + 0], sc[8 * kk + 1]);
            p[kk][1] = pack_bf16(sc[8 * kk + 2], sc[8 * kk + 3]);
            p[kk][2] = pack_bf16(sc[8 * kk + 4], sc[8 * kk + 5]);
            p[kk][3] = pack_bf16(sc[8 * kk + 6], sc[8 * kk + 7]);
        }
    };
    auto rescale = [&](const float alpha[2]) {
#pragma unroll
        for (int i = 0; i < NO / 4; i++) {
            o[4 * i + 0] *= alpha[0];
            o[4 * i + 1] *= alpha[0];
            o[4 * i + 2] *= alpha[1];
            o[4 * i + 3] *= alpha[1];
        }
    };

    mbar_wait(qbar, 0);
    uint32_t pa[KK][4];
    float alpha[2];
    const std::integral_constant<int, 0> no_mask{};
    const std::integral_constant<int, 1> test_mask{};
    const std::integral_constant<int, 2> always_mask{};
    if constexpr (!OVERLAP) {
        for (int t = 0; t < n_wg; t++) {
            issue_s(t);
            wgmma_wait<0>();
            fence_regs(sc);
            softmax(t, alpha, test_mask);
            pack(pa);
            rescale(alpha);
            fence_regs(o);
            wgmma_fence();
            issue_pv(t, pa);
            wgmma_wait<0>();
            fence_regs(o);
            release(t);
        }
    } else {
        /* walk tiles [t_lo, t_hi) need no mask; those before (sinks, the
         * window's left edge) and after (diagonal, tail) do */
        int t_lo = 0;
        if constexpr (WIN) {
            const int kt_plain = wg_last - W >= 0 ? (wg_last - W) / BN + 1 : 0; /* first key tile whole in every window */
            t_lo = min(n_wg, w.n_st + max(0, kt_plain - w.wt0));
        }
        const int t_hi = max(t_lo, min(n_wg, w.n_st + min((wg_first + 1) / BN, kv_len / BN) - w.wt0));
        issue_s(0);
        wgmma_wait<0>();
        fence_regs(sc);
        softmax(0, alpha, test_mask);
        pack(pa);
        auto step = [&](int t, auto mask_tag) {
            issue_s(t); /* its wgmma.fence also covers the rescaled o */
            issue_pv(t - 1, pa);
            wgmma_wait<1>(); /* S of tile t done; P V of tile t-1 may run on */
            fence_regs(sc);
            softmax(t, alpha, mask_tag);
            wgmma_wait<0>();
            fence_regs(o);
            keep_regs(pa); /* P of tile t-1 was read by the product until here */
            release(t - 1);
            rescale(alpha);
            pack(pa); /* after the wait: A registers defined while a wgmma is in
                       * flight make ptxas serialise every wgmma (C7513) */
        };
        int t = 1;
        if constexpr (WIN)
            for (; t < t_lo; t++) step(t, always_mask);
        for (; t < t_hi; t++) step(t, no_mask);
        for (; t < n_wg; t++) step(t, always_mask);
        fence_regs(o);
        wgmma_fence();
        issue_pv(n_wg - 1, pa);
        wgmma_wait<0>();
        fence_regs(o);
        keep_regs(pa);
        release(n_wg - 1);
    }
    for (int t = n_wg; t < n_tiles; t++) { /* stages loaded for the other warpgroup only */
        mbar_wait(full(t % STAGES), (t / STAGES) & 1);
        release(t);
    }

    const size_t qs = (size_t)n_head * D;
#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        float lt = l[hr];
        lt += __shfl_xor_sync(0xffffffffu, lt, 1);
        lt += __shfl_xor_sync(0xffffffffu, lt, 2);
        float inv = lt > 0.f ? 1.f / lt : 0.f;
        int row = q0 + row_lo + hr * 8;
        if (row >= n_q) continue;
        bf16 *orow = out + (size_t)row * qs + (size_t)h * D + tq4 * 2;
#pragma unroll
        for (int i = 0; i < NO / 4; i++)
            *(uint32_t *)(orow + i * 8) = pack_bf16(o[4 * i + 2 * hr] * inv, o[4 * i + 2 * hr + 1] * inv);
        if (tq4 == 0 && lse) lse[(size_t)row * n_head + h] = (m[hr] + __log2f(lt)) * ATTN_LN2;
    }
}

/* PV_SPLIT: O += P V as D/64 wgmma of N = 64 (one swizzle column block each)
 * instead of one of N = D (which strides column blocks by the descriptor's
 * leading byte offset). */
template <int D, int STAGES, bool PV_SPLIT, bool OVERLAP, bool WIN>
__global__ void __launch_bounds__(SM90_THREADS, 1)
prefill_sm90_kernel(const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk,
                    const __grid_constant__ CUtensorMap tv, bf16 *__restrict__ out, float *__restrict__ lse,
                    int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int S, int W, float scale_log2)
{
    constexpr int BM = SM90_BM, BN = SM90_BN, CB = D / 64;
    constexpr int Q_BYTES = BM * D * 2, KV_BYTES = BN * D * 2;
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    const uint32_t raw = smem_u32(smem_raw);
    const uint32_t base = (raw + 1023) & ~1023u;
    const uint32_t sQ = base;
    const uint32_t sK = sQ + Q_BYTES;                 /* stage s at sK + s * KV_BYTES */
    const uint32_t sV = sK + STAGES * KV_BYTES;
    const uint32_t bars = sV + STAGES * KV_BYTES;     /* q, full[STAGES], empty[STAGES] */
    const uint32_t qbar = bars;
    auto full = [&](int s) { return bars + 8 + 8 * s; };
    auto empty = [&](int s) { return bars + 8 + 8 * STAGES + 8 * s; };

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int qb = gridDim.x - 1 - blockIdx.x; /* heaviest first */
    const int h = blockIdx.y, kvh = h / (n_head / n_kv_head);
    const int q0 = qb * BM;
    const int q_last = min(q0 + BM, n_q) - 1;
    const int kv_end = min(kv_len, q_offset + q_last + 1);
    const sm90_walk w = sm90_make_walk(q_offset + q0, kv_end, S, WIN ? W : 0);

    if (tid == 0) {
        mbar_init(qbar, 1);
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full(s), 1);
            mbar_init(empty(s), 8); /* one arrival per consumer warp */
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warp < 4) { /* producer warpgroup */
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
        if (warp == 0 && lane == 0) {
            mbar_expect_tx(qbar, Q_BYTES);
            for (int cb = 0; cb < CB; cb++) tma_load3(sQ + cb * BM * 128, &tq, cb * 64, h, q0, qbar);
            for (int t = 0; t < w.n_tiles; t++) {
                const int s = t % STAGES, n0 = w.kt(t) * BN;
                if (t >= STAGES) mbar_wait(empty(s), ((t / STAGES) - 1) & 1);
                mbar_expect_tx(full(s), 2 * KV_BYTES);
                for (int cb = 0; cb < CB; cb++) {
                    tma_load3(sK + s * KV_BYTES + cb * BN * 128, &tk, cb * 64, kvh, n0, full(s));
                    tma_load3(sV + s * KV_BYTES + cb * BN * 128, &tv, cb * 64, kvh, n0, full(s));
                }
            }
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n");
        consumer<D, STAGES, PV_SPLIT, OVERLAP, WIN>(sQ, sK, sV, bars, warp - 4, lane, q0, h, out, lse, n_q, kv_len,
                                                    q_offset, n_head, w, S, W, scale_log2);
    }
}

/* ---- host ---- */


template <int D, int STAGES, bool PV_SPLIT, bool OVERLAP, bool WIN = false>
static int launch_sm90(const void *q, const void *k, const void *v, void *out, float *lse, int n_q, int kv_len,
                       int q_offset, int n_head, int n_kv_head, cudaStream_t st, int S = 0, int W = 0)
{
    CUtensorMap tq, tk, tv;
    int e;
    if ((e = sm90_make_map(&tq, q, n_q, n_head, D, SM90_BM)) || (e = sm90_make_map(&tk, k, kv_len, n_kv_head, D, SM90_BN)) ||
        (e = sm90_make_map(&tv, v, kv_len, n_kv_head, D, SM90_BN)))
        return e;
    auto kern = prefill_sm90_kernel<D, STAGES, PV_SPLIT, OVERLAP, WIN>;
    const int smem = 1024 + SM90_BM * D * 2 + STAGES * 2 * SM90_BN * D * 2 + 8 * (1 + 2 * STAGES);
    static bool attr_set;
    if (!attr_set) {
        cudaError_t ce = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (ce != cudaSuccess) return (int)ce;
        attr_set = true;
    }
    dim3 grid((n_q + SM90_BM - 1) / SM90_BM, n_head);
    kern<<<grid, SM90_THREADS, smem, st>>>(tq, tk, tv, (bf16 *)out, lse, n_q, kv_len, q_offset, n_head,
                                           n_kv_head, S, W, ATTN_LOG2E / sqrtf((float)D));
    return (int)cudaGetLastError();
}

int attn_prefill_sm90(int variant, const void *q, const void *k, const void *v, void *out, float *lse, int n_q,
                      int kv_len, int q_offset, int n_head, int n_kv_head, int d, cudaStream_t st)
{
#define SM90_CASE(V, DD, ST, SPLIT, OVL)                                                                        \
    if (variant == V && d == DD)                                                                                \
        return launch_sm90<DD, ST, SPLIT, OVL>(q, k, v, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, st);
    SM90_CASE(1, 128, 2, false, false) SM90_CASE(1, 64, 2, false, false)
    SM90_CASE(2, 128, 2, true, false)  SM90_CASE(2, 64, 2, false, false)
    SM90_CASE(3, 128, 3, false, false) SM90_CASE(3, 64, 3, false, false)
    SM90_CASE(4, 128, 3, false, true)  SM90_CASE(4, 64, 3, false, true)
    SM90_CASE(5, 128, 2, false, true)  SM90_CASE(5, 64, 2, false, true)
#undef SM90_CASE
    return (int)cudaErrorInvalidValue;
}

int attn_prefill_sm90_local(const void *q, const void *k, const void *v, void *out, float *lse, int n_q, int kv_len,
                            int q_offset, int S, int W, int n_head, int n_kv_head, int d, cudaStream_t st)
{
    if (S < 0 || W < 1) return (int)cudaErrorInvalidValue;
    /* variant 4's configuration (the best causal one) */
    if (d == 128) return launch_sm90<128, 3, false, true, true>(q, k, v, out, lse, n_q, kv_len, q_offset, n_head,
                                                                n_kv_head, st, S, W);
    if (d == 64) return launch_sm90<64, 3, false, true, true>(q, k, v, out, lse, n_q, kv_len, q_offset, n_head,
                                                              n_kv_head, st, S, W);
    return (int)cudaErrorInvalidValue;
}
