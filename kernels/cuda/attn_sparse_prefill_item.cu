/* attn_sparse_prefill_item.cu — block-sparse causal prefill for Hopper with
 * one work item per CTA: one query block (64 rows) of one query head walks
 * its own block list, 64 keys a stage, with no other list in its way.
 *
 * Why: the two-warpgroup kernel (attn_sparse_prefill.cu) shares one KV
 * stream between two items; when their lists differ, each warpgroup idles
 * on the other's stages, and one item's prologue (Q load, list reads) and
 * epilogue hold a whole SM. Here a CTA is 5 warps: warps 0-3 one consumer
 * warpgroup, warp 4 the producer (it reads the list 32 entries a load and
 * issues the TMA copies); small enough (registers <= 200, shared memory
 * Q + STAGES x {K, V} of 64 x D) that two CTAs share an SM, so one's
 * prologue and epilogue hide under the other's products.
 * Per stage (one 64-key block b): S = Q K_b^T (wgmma m64n64k16, both from
 * shared memory), mask only when the block crosses the rows' diagonal or
 * the end of the keys (decided before the step's wgmma are issued), online
 * softmax in registers (log2 domain), O += P V_b (wgmma m64nDk16, P from
 * registers); FA3's overlap: S of stage t and P V of stage t-1 in flight
 * together. The block of each stage is written by the producer into shared
 * memory before it arms the stage's full barrier (the consumers' wait
 * acquires it); in each consumer warp lane 0 alone reads it and shuffles
 * it to the warp, the lane that arrives on the stage's empty barrier.
 * Invariants: tiles 1024-byte aligned (128-byte swizzle); phase u of a
 * stage's barriers = its u-th use; every consumer warp arrives once on the
 * empty barrier of every stage; d in {64, 128}; q_offset >= 0; lists need
 * not be sorted, but a block crossing the diagonal should come last (it
 * does in ascending lists) for the mask to cost one stage.
 * Contract: kernels/attn_sparse.h. Versions: bench/sparse.md.
 */
#include <limits.h>
#include <type_traits>

#include "kernels/attn_sparse.h"
#include "kernels/cuda/attn_sm90.cuh"

typedef __nv_bfloat16 bf16;

enum { SI_BN = 64, SI_THREADS = 160 };

/* d 128 with 3 stages fits two CTAs an SM only without the 1024 bytes of
 * alignment slack: the dynamic shared memory of a kernel without static
 * shared memory starts at the CTA's window, 1024-byte aligned (checked). */
__host__ __device__ constexpr bool si_nopad(int d, int stages) { return d == 128 && stages == 3; }

template <int D, int STAGES, bool QREG>
__global__ void __launch_bounds__(SI_THREADS, 2)
sparse_item_kernel(const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk,
                   const __grid_constant__ CUtensorMap tv, const int64_t *__restrict__ off,
                   const int32_t *__restrict__ idx, bf16 *__restrict__ out, float *__restrict__ lse, int n_q,
                   int kv_len, int q_offset, int n_head, int n_kv_head, float scale_log2)
{
    constexpr int BN = SI_BN, CB = D / 64, NO = D / 2, KK = BN / 16;
    constexpr int Q_BYTES = 64 * D * 2, KV_BYTES = BN * D * 2;
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    const uint32_t raw = smem_u32(smem_raw);
    if constexpr (si_nopad(D, STAGES)) /* no room was asked for aligning: it must be aligned */
        if (raw & 1023u) __trap();
    const uint32_t base = (raw + 1023) & ~1023u;
    const uint32_t sQ = base;
    const uint32_t sK = sQ + Q_BYTES;
    const uint32_t sV = sK + STAGES * KV_BYTES;
    const uint32_t sB = sV + STAGES * KV_BYTES; /* STAGES block numbers (int) */
    const uint32_t bars = sB + 16 * ((STAGES * 4 + 15) / 16); /* q, full[STAGES], empty[STAGES] */
    volatile int *blk = (volatile int *)(smem_raw + (sB - raw));
    auto full = [&](int s) { return bars + 8 + 8 * s; };
    auto empty = [&](int s) { return bars + 8 + 8 * STAGES + 8 * s; };

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int64_t item = (int64_t)gridDim.x - 1 - blockIdx.x; /* heaviest (last query blocks) first */
    const int qb = (int)(item / n_head), h = (int)(item % n_head), kvh = h / (n_head / n_kv_head);
    const int64_t lo = off[item];
    const int n = (int)(off[item + 1] - lo);

    if (tid == 0) {
        mbar_init(bars, 1);
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full(s), 1);
            mbar_init(empty(s), 4); /* one arrival per consumer warp */
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warp == 4) { /* producer */
        auto ld = [&](int t) { return t < n ? __ldg(idx + lo + t) : 0; };
        if (lane == 0) {
            mbar_expect_tx(bars, Q_BYTES);
#pragma unroll
            for (int cb = 0; cb < CB; cb++) tma_load3(sQ + cb * 64 * 128, &tq, cb * 64, h, qb * 64, bars);
        }
        int cur = ld(lane), nxt = ld(32 + lane);
        for (int t = 0; t < n; t++) {
            if (t > 0 && (t & 31) == 0) {
                cur = nxt;
                nxt = ld(t + 32 + lane);
            }
            const int b = __shfl_sync(0xffffffffu, cur, t & 31);
            const int s = t % STAGES;
            if (t >= STAGES) mbar_wait(empty(s), ((t / STAGES) - 1) & 1);
            if (lane == 0) {
                blk[s] = b;
                mbar_expect_tx(full(s), 2 * KV_BYTES);
#pragma unroll
                for (int cb = 0; cb < CB; cb++) {
                    tma_load3(sK + s * KV_BYTES + cb * BN * 128, &tk, cb * 64, kvh, b * BN, full(s));
                    tma_load3(sV + s * KV_BYTES + cb * BN * 128, &tv, cb * 64, kvh, b * BN, full(s));
                }
            }
        }
        return;
    }

    /* consumer warpgroup: warps 0-3, 16 rows each */
    const int g = lane >> 2, tq4 = lane & 3;
    const int r_lo = warp * 16 + g;
    const int pos_lo = q_offset + qb * 64 + r_lo, pos_hi = pos_lo + 8;
    const int first_pos = q_offset + qb * 64;
    float o[NO], sc[32];
#pragma unroll
    for (int i = 0; i < NO; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    int kbase = 0; /* first key of the current stage's block */

    /* QREG: Q as A fragments in registers (ldmatrix from the swizzled
     * tile once), so S reads only K from shared memory */
    uint32_t qa[QREG ? D / 16 : 1][4];
    auto load_q = [&]() {
        if constexpr (QREG) {
            const int row = warp * 16 + (lane & 15);
#pragma unroll
            for (int ks = 0; ks < D / 16; ks++) {
                const int chunk = 2 * (ks & 3) + (lane >> 4);
                ldsm_x4(qa[ks], sQ + (ks >> 2) * 64 * 128 + row * 128 + ((chunk ^ (row & 7)) << 4));
            }
        }
    };
    auto issue_s = [&](int t) {
        const int s = t % STAGES;
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < D / 16; ks++) {
            uint64_t db = gmma_desc(sK + s * KV_BYTES + (ks >> 2) * BN * 128 + (ks & 3) * 32, 16, 1024);
            if constexpr (QREG) {
                if (ks == 0) wgmma_rs_n64_first(sc, qa[ks], db);
                else wgmma_rs_n64(sc, qa[ks], db, 1);
            } else {
                uint64_t da = gmma_desc(sQ + (ks >> 2) * 64 * 128 + (ks & 3) * 32, 16, 1024);
                if (ks == 0) wgmma_ss_n64_first(sc, da, db);
                else wgmma_ss_n64(sc, da, db, 1);
            }
        }
        wgmma_commit();
    };
    auto issue_pv = [&](int t, const uint32_t(&p)[KK][4]) {
        const int s = t % STAGES;
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            const uint32_t vb = sV + s * KV_BYTES + kk * 16 * 128;
            if constexpr (D == 64) wgmma_rs_n64_tb(o, p[kk], gmma_desc(vb, 16, 1024));
            else wgmma_rs_n128_tb(o, p[kk], gmma_desc(vb, BN * 128, 1024));
        }
        wgmma_commit();
    };
    auto release = [&](int t) {
        __syncwarp();
        if (lane == 0) mbar_arrive(empty(t % STAGES));
    };
    auto softmax = [&](float alpha[2], auto mask_tag) {
        if constexpr (decltype(mask_tag)::value == 2) {
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int key = kbase + i * 8 + tq4 * 2 + (e & 1);
                    if (key > ((e >> 1) ? pos_hi : pos_lo) || key >= kv_len) sc[4 * i + e] = -INFINITY;
                }
        }
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float mx = -INFINITY;
#pragma unroll
            for (int i = 0; i < 8; i++) mx = fmaxf(mx, fmaxf(sc[4 * i + 2 * hr], sc[4 * i + 2 * hr + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            float mnew = fmaxf(m[hr], mx * scale_log2);
            float msafe = mnew == -INFINITY ? 0.f : mnew;
            alpha[hr] = fast_exp2(m[hr] - msafe);
            m[hr] = mnew;
            float rs = 0.f;
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    float pe = fast_exp2(fmaf(sc[4 * i + 2 * hr + e], scale_log2, -msafe));
                    sc[4 * i + 2 * hr + e] = pe;
                    rs += pe;
                }
            l[hr] = l[hr] * alpha[hr] + rs;
        }
    };
    auto pack = [&](uint32_t(&p)[KK][4]) {
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

    const std::integral_constant<int, 0> no_mask{};
    const std::integral_constant<int, 2> always_mask{};
    uint32_t pa[KK][4];
    float alpha[2];
    auto first = [&](auto mask_tag) {
        issue_s(0);
        wgmma_wait<0>();
        fence_regs(sc);
        softmax(alpha, mask_tag);
        pack(pa);
    };
    auto step = [&](int t, auto mask_tag) { /* S of t with P V of t-1 in flight */
        issue_s(t);
        issue_pv(t - 1, pa);
        wgmma_wait<1>();
        fence_regs(sc);
        softmax(alpha, mask_tag);
        wgmma_wait<0>();
        fence_regs(o);
        keep_regs(pa);
        release(t - 1);
        rescale(alpha);
        pack(pa);
    };

    mbar_wait(bars, 0); /* Q */
    load_q();
    for (int t = 0; t < n; t++) {
        const int s = t % STAGES;
        mbar_wait(full(s), (t / STAGES) & 1);
        /* lane 0, the lane that releases the stage, reads its block number */
        kbase = __shfl_sync(0xffffffffu, lane == 0 ? blk[s] : 0, 0) * BN;
        const bool masked = kbase + BN - 1 > first_pos || kbase + BN > kv_len;
        if (t == 0) {
            if (masked) first(always_mask);
            else first(no_mask);
        } else {
            if (masked) step(t, always_mask);
            else step(t, no_mask);
        }
    }
    if (n > 0) {
        fence_regs(o);
        wgmma_fence();
        issue_pv(n - 1, pa);
        wgmma_wait<0>();
        fence_regs(o);
        keep_regs(pa);
        release(n - 1);
    }

    const size_t qs = (size_t)n_head * D;
#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        float lt = l[hr];
        lt += __shfl_xor_sync(0xffffffffu, lt, 1);
        lt += __shfl_xor_sync(0xffffffffu, lt, 2);
        float inv = lt > 0.f ? 1.f / lt : 0.f;
        int row = qb * 64 + r_lo + hr * 8;
        if (row >= n_q) continue;
        bf16 *orow = out + (size_t)row * qs + (size_t)h * D + tq4 * 2;
#pragma unroll
        for (int i = 0; i < NO / 4; i++)
            *(uint32_t *)(orow + i * 8) = pack_bf16(o[4 * i + 2 * hr] * inv, o[4 * i + 2 * hr + 1] * inv);
        if (tq4 == 0) lse[(size_t)row * n_head + h] = lt > 0.f ? (m[hr] + __log2f(lt)) * ATTN_LN2 : -INFINITY;
    }
}

template <int D, int STAGES, bool QREG>
static int launch_item(const void *q, const void *k, const void *v, const int64_t *off, const int32_t *idx, void *out,
                       float *lse, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, cudaStream_t st)
{
    CUtensorMap tq, tk, tv;
    int e;
    if ((e = sm90_make_map(&tq, q, n_q, n_head, D, 64)) || (e = sm90_make_map(&tk, k, kv_len, n_kv_head, D, 64)) ||
        (e = sm90_make_map(&tv, v, kv_len, n_kv_head, D, 64)))
        return e;
    auto kern = sparse_item_kernel<D, STAGES, QREG>;
    const int smem = (si_nopad(D, STAGES) ? 0 : 1024) + 64 * D * 2 + STAGES * 2 * SI_BN * D * 2 +
                     16 * ((STAGES * 4 + 15) / 16) + 8 * (1 + 2 * STAGES);
    static bool attr_set;
    if (!attr_set) {
        cudaError_t ce = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (ce != cudaSuccess) return (int)ce;
        attr_set = true;
    }
    const long long n_items = (long long)((n_q + 63) / 64) * n_head;
    if (n_items > INT_MAX) return (int)cudaErrorInvalidValue;
    kern<<<(unsigned)n_items, SI_THREADS, smem, st>>>(tq, tk, tv, off, idx, (bf16 *)out, lse, n_q, kv_len, q_offset,
                                                      n_head, n_kv_head, ATTN_LOG2E / sqrtf((float)D));
    return (int)cudaGetLastError();
}

int attn_sparse_prefill_item_sm90(int stages, int qreg, const void *q, const void *k, const void *v, const int64_t *off,
                                  const int32_t *idx, void *out, float *lse, int n_q, int kv_len, int q_offset,
                                  int n_head, int n_kv_head, int d, cudaStream_t st)
{
#define SI_CASE(ST, DD, QR)                                                                                        \
    if (stages == ST && d == DD && !qreg == !QR)                                                                   \
        return launch_item<DD, ST, QR>(q, k, v, off, idx, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, st);
    SI_CASE(2, 128, false) SI_CASE(2, 64, false) SI_CASE(3, 128, false) SI_CASE(3, 64, false) SI_CASE(4, 64, false)
    SI_CASE(2, 128, true) SI_CASE(4, 64, true)
#undef SI_CASE
    return (int)cudaErrorInvalidValue;
}
