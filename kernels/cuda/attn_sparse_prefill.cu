/* attn_sparse_prefill.cu — block-sparse causal prefill flash attention for
 * Hopper (sm_90a) over per-(query block, head) KV block lists of 64 keys:
 * the dense sm90 kernel's structure (TMA, wgmma, a producer warpgroup and
 * two consumer warpgroups on mbarriers, FA3's intra-warpgroup overlap of
 * softmax with the products) with the KV stream taken from the lists.
 *
 * One CTA = two work items, one per consumer warpgroup; an item is one
 * query block (64 rows) of one query head with its own block list. The
 * items of a CTA share one KV stream, the union of their two lists:
 *   version 1 (per query head): the two items are consecutive query blocks
 *     of one head (the dense kernel's 128 rows);
 *   version 2 (GQA): the two items share a kv head: item k of kv head g's
 *     flattened (query block, query head of the group) order, pairs (2x,
 *     2x+1); with G = n_head / n_kv_head even they are two heads of one
 *     query block.
 * The producer warp merges the two ascending lists on the fly (32 entries
 * a lane-wide load, shuffled to the lane that decides) and packs the union
 * into stages of two 64-key blocks (128 keys, the dense tile): blocks
 * both items need are paired together, blocks only one needs are paired
 * with another of that item's, so few stages carry a half a warpgroup must
 * mask. Each stage carries a descriptor in shared memory (its two blocks,
 * which warpgroup needs which half, an end mark) in the stage's own slot,
 * written by the producer lane after the stage's empty barrier and before
 * its full barrier is armed. In each consumer warp only lane 0 reads it
 * (after the full wait, which acquires the write) and shuffles it to the
 * warp; the same lane 0 later arrives on the stage's empty barrier, so the
 * read precedes the slot's next write in that thread's own program order,
 * with no other lane's read to order. A warpgroup waits for each stage, computes the ones it
 * needs and releases the others at once; a stage half it does not need (or
 * padding) is masked to -inf. Masks are applied only to stages that need
 * them (the diagonal block, the tail, a foreign half), decided before any
 * wgmma of the step is issued.
 * Invariants: as the dense kernel (1024-byte aligned tiles, full barriers
 * expect whole boxes, phase u of a stage's barriers = its u-th use); every
 * consumer warp arrives once on the empty barrier of every stage but the
 * end mark; a warpgroup never waits on a stage STAGES or more past one it
 * still holds (it flushes its product first: no deadlock with the
 * producer). Padding halves load the stage's first block again (finite
 * data under a zero P). d in {64, 128}; q_offset >= 0.
 * Contract: kernels/attn_sparse.h. Versions: bench/sparse.md.
 */
#include <limits.h>
#include <type_traits>

#include "kernels/attn_sparse.h"
#include "kernels/cuda/attn_sm90.cuh"

typedef __nv_bfloat16 bf16;

enum { SP_BM = 128, SP_BN = 128, SP_THREADS = 384, SP_BIG = 1 << 30 };

/* Stage descriptor: blocks b0 (keys of half 0) and b1 (half 1); need bit
 * 2*half + wg set when warpgroup wg attends that half; end: no more stages. */
struct sp_desc { int b0, b1, need, end; };

/* Work item of consumer warpgroup wg (0, 1) of CTA x: query block and head;
 * qb < 0 when the CTA has no second item. */
__device__ __forceinline__ void sp_item(int mode, int x, int y, int wg, int n_qb, int n_head, int n_kv_head,
                                        int *qb, int *h)
{
    if (mode == 1) {
        const int G = n_head / n_kv_head, k = 2 * x + wg;
        *qb = k < n_qb * G ? k / G : -1;
        *h = y * G + k % G;
    } else {
        *qb = 2 * x + wg < n_qb ? 2 * x + wg : -1;
        *h = y;
    }
}

/* ---- producer: merge the two lists, pack stages, issue the TMA copies ---- */

template <int D, int STAGES>
__device__ __forceinline__ void sp_producer(const CUtensorMap *tk, const CUtensorMap *tv, uint32_t sK, uint32_t sV,
                                            sp_desc *desc, uint32_t bars, int lane, int kvh,
                                            const int32_t *__restrict__ idx, int64_t a_lo, int64_t a_hi,
                                            int64_t b_lo, int64_t b_hi)
{
    constexpr int KV_BYTES = SP_BN * D * 2, CB = D / 64;
    auto full = [&](int s) { return bars + 8 + 8 * s; };
    auto empty = [&](int s) { return bars + 8 + 8 * STAGES + 8 * s; };
    auto ld = [&](int64_t i, int64_t hi) { return i < hi ? __ldg(idx + i) : INT_MAX; };
    int a_cur = ld(a_lo + lane, a_hi), a_nxt = ld(a_lo + 32 + lane, a_hi), a_pos = 0;
    int b_cur = ld(b_lo + lane, b_hi), b_nxt = ld(b_lo + 32 + lane, b_hi), b_pos = 0;
    int t = 0;
    auto emit = [&](int b0, int m0, int b1, int m1) { /* m: warpgroup mask of a half */
        const int s = t % STAGES;
        if (t >= STAGES) mbar_wait(empty(s), ((t / STAGES) - 1) & 1);
        if (b1 < 0) b1 = b0; /* padding: finite data, never attended */
        if (lane == 0) {
            desc[s] = sp_desc{b0, b1, m0 | (m1 << 2), 0};
            mbar_expect_tx(full(s), 2 * KV_BYTES);
#pragma unroll
            for (int cb = 0; cb < CB; cb++) {
                const uint32_t o = s * KV_BYTES + cb * SP_BN * 128;
                tma_load3(sK + o, tk, cb * 64, kvh, b0 * 64, full(s));
                tma_load3(sK + o + 64 * 128, tk, cb * 64, kvh, b1 * 64, full(s));
                tma_load3(sV + o, tv, cb * 64, kvh, b0 * 64, full(s));
                tma_load3(sV + o + 64 * 128, tv, cb * 64, kvh, b1 * 64, full(s));
            }
        }
        t++;
    };
    int p1 = -1, p2 = -1, p3 = -1; /* a block waiting for a partner, by warpgroup mask 1, 2, 3 */
    for (;;) {
        const int ea = __shfl_sync(0xffffffffu, a_cur, a_pos), eb = __shfl_sync(0xffffffffu, b_cur, b_pos);
        if (ea == INT_MAX && eb == INT_MAX) break;
        const int tag = ea < eb ? 1 : eb < ea ? 2 : 3, e = min(ea, eb);
        if (tag & 1) {
            if (++a_pos == 32) {
                a_pos = 0;
                a_lo += 32;
                a_cur = a_nxt;
                a_nxt = ld(a_lo + 32 + lane, a_hi);
            }
        }
        if (tag & 2) {
            if (++b_pos == 32) {
                b_pos = 0;
                b_lo += 32;
                b_cur = b_nxt;
                b_nxt = ld(b_lo + 32 + lane, b_hi);
            }
        }
        const int p = tag == 1 ? p1 : tag == 2 ? p2 : p3;
        const int np = p >= 0 ? -1 : e;
        if (p >= 0) emit(p, tag, e, tag);
        if (tag == 1) p1 = np;
        else if (tag == 2) p2 = np;
        else p3 = np;
    }
    int lb = -1, lm = 0; /* leftovers (at most one per mask), paired in turn */
    auto left = [&](int b, int m) {
        if (b < 0) return;
        if (lb < 0) {
            lb = b;
            lm = m;
        } else {
            emit(lb, lm, b, m);
            lb = -1;
        }
    };
    left(p1, 1);
    left(p2, 2);
    left(p3, 3);
    if (lb >= 0) emit(lb, lm, -1, 0);
    const int s = t % STAGES; /* the end mark: a phase of full with no bytes */
    if (t >= STAGES) mbar_wait(empty(s), ((t / STAGES) - 1) & 1);
    if (lane == 0) {
        desc[s] = sp_desc{0, 0, 0, 1};
        mbar_arrive(full(s));
    }
}

/* ---- consumer: one warpgroup, one item (64 query rows) ---- */

template <int D, int STAGES>
__device__ __forceinline__ void sp_consumer(uint32_t sQ, uint32_t sK, uint32_t sV, const sp_desc *desc, uint32_t bars,
                                            int cwarp, int lane, int qb, int h, bf16 *__restrict__ out,
                                            float *__restrict__ lse, int n_q, int kv_len, int q_offset, int n_head,
                                            float scale_log2)
{
    constexpr int BM = SP_BM, BN = SP_BN, KV_BYTES = BN * D * 2, NO = D / 2, KK = BN / 16;
    auto full = [&](int s) { return bars + 8 + 8 * s; };
    auto empty = [&](int s) { return bars + 8 + 8 * STAGES + 8 * s; };
    const int wg = cwarp >> 2, wl = cwarp & 3, g = lane >> 2, tq4 = lane & 3;
    const int r_lo = wl * 16 + g; /* row in the item's 64; r_hi = r_lo + 8 */
    const int pos_lo = q_offset + qb * 64 + r_lo, pos_hi = pos_lo + 8;
    const int wg_first = q_offset + qb * 64;
    float o[NO], sc[64];
#pragma unroll
    for (int i = 0; i < NO; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    int base0 = 0, base1 = 0; /* first key of each half of the current stage (SP_BIG: not attended) */

    auto issue_s = [&](int t) { /* sc = Q K_t^T (async) */
        const int s = t % STAGES;
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
            if constexpr (D == 64) wgmma_rs_n64_tb(o, p[kk], gmma_desc(vb, 16, 1024));
            else wgmma_rs_n128_tb(o, p[kk], gmma_desc(vb, BN * 128, 1024));
        }
        wgmma_commit();
    };
    auto release = [&](int t) {
        __syncwarp();
        if (lane == 0) mbar_arrive(empty(t % STAGES));
    };
    /* mask (MODE 2) and online softmax of sc; alpha: the factor for o */
    auto softmax = [&](float alpha[2], auto mask_tag) {
        constexpr int MODE = decltype(mask_tag)::value;
        if constexpr (MODE == 2) {
#pragma unroll
            for (int i = 0; i < 16; i++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int key = (i < 8 ? base0 : base1) + (i & 7) * 8 + tq4 * 2 + (e & 1);
                    const int pos = (e >> 1) ? pos_hi : pos_lo;
                    if (key > pos || key >= kv_len) sc[4 * i + e] = -INFINITY;
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
    int prev = -1; /* the stage whose P V is still to be issued (its P in pa) */
    auto flush = [&]() {
        fence_regs(o);
        wgmma_fence();
        issue_pv(prev, pa);
        wgmma_wait<0>();
        fence_regs(o);
        keep_regs(pa);
        release(prev);
        prev = -1;
    };
    auto first = [&](int t, auto mask_tag) { /* no product in flight */
        issue_s(t);
        wgmma_wait<0>();
        fence_regs(sc);
        softmax(alpha, mask_tag);
        rescale(alpha);
        pack(pa);
        prev = t;
    };
    auto step = [&](int t, auto mask_tag) { /* S of t with P V of prev in flight */
        issue_s(t);
        issue_pv(prev, pa);
        wgmma_wait<1>();
        fence_regs(sc);
        softmax(alpha, mask_tag);
        wgmma_wait<0>();
        fence_regs(o);
        keep_regs(pa);
        release(prev);
        rescale(alpha);
        pack(pa);
        prev = t;
    };

    mbar_wait(bars, 0); /* Q */
    for (int t = 0;; t++) {
        if (prev >= 0 && t - prev >= STAGES) flush(); /* the producer needs prev's slot for t */
        const int s = t % STAGES;
        mbar_wait(full(s), (t / STAGES) & 1);
        /* lane 0 alone reads the descriptor (the lane that later arrives on
         * this stage's empty barrier) and hands it to its warp by shuffle */
        const volatile int *dv = (const volatile int *)&desc[s];
        int w0 = 0, w1 = 0, w2 = 0, w3 = 0;
        if (lane == 0) {
            w0 = dv[0];
            w1 = dv[1];
            w2 = dv[2];
            w3 = dv[3];
        }
        const sp_desc dd = {__shfl_sync(0xffffffffu, w0, 0), __shfl_sync(0xffffffffu, w1, 0),
                            __shfl_sync(0xffffffffu, w2, 0), __shfl_sync(0xffffffffu, w3, 0)};
        if (dd.end) break;
        const bool m0 = (dd.need >> wg) & 1, m1 = (dd.need >> (2 + wg)) & 1;
        if (!m0 && !m1) {
            release(t);
            continue;
        }
        base0 = m0 ? dd.b0 * 64 : SP_BIG;
        base1 = m1 ? dd.b1 * 64 : SP_BIG;
        const int last = max(m0 ? base0 : 0, m1 ? base1 : 0) + 63;
        const bool masked = !m0 || !m1 || last > wg_first || last >= kv_len;
        if (prev < 0) {
            if (masked) first(t, always_mask);
            else first(t, no_mask);
        } else {
            if (masked) step(t, always_mask);
            else step(t, no_mask);
        }
    }
    if (prev >= 0) flush();
    if (qb < 0) return;

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

template <int D, int STAGES>
__global__ void __launch_bounds__(SP_THREADS, 1)
sparse_prefill_kernel(const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk,
                      const __grid_constant__ CUtensorMap tv, const int64_t *__restrict__ off,
                      const int32_t *__restrict__ idx, bf16 *__restrict__ out, float *__restrict__ lse, int n_q,
                      int kv_len, int q_offset, int n_head, int n_kv_head, int mode, float scale_log2)
{
    constexpr int BM = SP_BM, CB = D / 64;
    constexpr int Q_BYTES = BM * D * 2, KV_BYTES = SP_BN * D * 2;
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    const uint32_t raw = smem_u32(smem_raw);
    const uint32_t base = (raw + 1023) & ~1023u;
    const uint32_t sQ = base;
    const uint32_t sK = sQ + Q_BYTES;
    const uint32_t sV = sK + STAGES * KV_BYTES;
    const uint32_t sD = sV + STAGES * KV_BYTES;    /* STAGES descriptors, one a stage */
    const uint32_t bars = sD + STAGES * sizeof(sp_desc); /* q, full[STAGES], empty[STAGES] */
    sp_desc *desc = (sp_desc *)(smem_raw + (sD - raw));

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int n_qb = (n_q + 63) / 64;
    const int x = gridDim.x - 1 - blockIdx.x; /* heaviest first */
    int qb[2], hh[2];
    sp_item(mode, x, blockIdx.y, 0, n_qb, n_head, n_kv_head, &qb[0], &hh[0]);
    sp_item(mode, x, blockIdx.y, 1, n_qb, n_head, n_kv_head, &qb[1], &hh[1]);
    const int kvh = hh[0] / (n_head / n_kv_head);

    if (tid == 0) {
        mbar_init(bars, 1);
        for (int s = 0; s < STAGES; s++) {
            mbar_init(bars + 8 + 8 * s, 1);
            mbar_init(bars + 8 + 8 * STAGES + 8 * s, 8); /* one arrival per consumer warp */
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warp < 4) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
        if (warp == 0) {
            int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
            int qbytes = 0;
            for (int w = 0; w < 2; w++)
                if (qb[w] >= 0) {
                    lo[w] = off[(int64_t)qb[w] * n_head + hh[w]];
                    hi[w] = off[(int64_t)qb[w] * n_head + hh[w] + 1];
                    qbytes += Q_BYTES / 2;
                }
            if (lane == 0) {
                mbar_expect_tx(bars, qbytes);
                for (int w = 0; w < 2; w++)
                    if (qb[w] >= 0)
                        for (int cb = 0; cb < CB; cb++)
                            tma_load3(sQ + cb * BM * 128 + w * 64 * 128, &tq, cb * 64, hh[w], qb[w] * 64, bars);
            }
            sp_producer<D, STAGES>(&tk, &tv, sK, sV, desc, bars, lane, kvh, idx, lo[0], hi[0], lo[1], hi[1]);
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n");
        const int cw = warp - 4, wg = cw >> 2;
        const int my_qb = wg ? qb[1] : qb[0], my_h = wg ? hh[1] : hh[0];
        sp_consumer<D, STAGES>(sQ, sK, sV, desc, bars, cw, lane, my_qb, my_h, out, lse, n_q, kv_len, q_offset, n_head,
                               scale_log2);
    }
}

/* ---- host ---- */

template <int D, int STAGES>
static int launch_sparse(int mode, const void *q, const void *k, const void *v, const int64_t *off,
                         const int32_t *idx, void *out, float *lse, int n_q, int kv_len, int q_offset, int n_head,
                         int n_kv_head, cudaStream_t st)
{
    CUtensorMap tq, tk, tv;
    int e;
    if ((e = sm90_make_map(&tq, q, n_q, n_head, D, 64)) || (e = sm90_make_map(&tk, k, kv_len, n_kv_head, D, 64)) ||
        (e = sm90_make_map(&tv, v, kv_len, n_kv_head, D, 64)))
        return e;
    auto kern = sparse_prefill_kernel<D, STAGES>;
    const int smem = 1024 + SP_BM * D * 2 + STAGES * 2 * SP_BN * D * 2 + STAGES * (int)sizeof(sp_desc) +
                     8 * (1 + 2 * STAGES);
    static bool attr_set;
    if (!attr_set) {
        cudaError_t ce = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (ce != cudaSuccess) return (int)ce;
        attr_set = true;
    }
    const int n_qb = (n_q + 63) / 64, G = n_head / n_kv_head;
    dim3 grid = mode == 1 ? dim3((n_qb * G + 1) / 2, n_kv_head) : dim3((n_qb + 1) / 2, n_head);
    kern<<<grid, SP_THREADS, smem, st>>>(tq, tk, tv, off, idx, (bf16 *)out, lse, n_q, kv_len, q_offset, n_head,
                                         n_kv_head, mode, ATTN_LOG2E / sqrtf((float)D));
    return (int)cudaGetLastError();
}

/* Versions (bench/sparse.md): 1, 2 this file's two-item kernel (1: two
 * query blocks of one head, 2: two query heads of one kv head); 3, 4 one
 * item per CTA (attn_sparse_prefill_item.cu), 3: 2 stages (d 128) or 4
 * (d 64), two CTAs an SM; 4: 3 stages (d 128: still two CTAs, no alignment
 * slack); 5: v3 with Q in registers for S. */
enum { SPARSE_PREFILL_VERSIONS = 5 };

int attn_sparse_prefill_versions(void) { return SPARSE_PREFILL_VERSIONS; }

int attn_sparse_prefill_cuda_version(int version, const void *q, const void *k, const void *v, const int64_t *off,
                                     const int32_t *idx, void *out, float *lse, int n_q, int kv_len, int q_offset,
                                     int n_head, int n_kv_head, int d, void *stream)
{
    if (n_q <= 0 || kv_len <= 0 || q_offset < 0 || n_kv_head <= 0 || n_head % n_kv_head)
        return (int)cudaErrorInvalidValue;
    if (version < 1 || version > SPARSE_PREFILL_VERSIONS) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    if (version >= 3)
        return attn_sparse_prefill_item_sm90(version == 4 ? 3 : d == 128 ? 2 : 4, version == 5, q, k, v, off, idx, out,
                                             lse, n_q, kv_len, q_offset, n_head, n_kv_head, d, st);
    const int mode = version - 1;
    if (d == 128)
        return launch_sparse<128, 3>(mode, q, k, v, off, idx, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, st);
    if (d == 64)
        return launch_sparse<64, 3>(mode, q, k, v, off, idx, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, st);
    return (int)cudaErrorInvalidValue;
}

int attn_sparse_prefill_cuda(const void *q, const void *k, const void *v, const int64_t *off, const int32_t *idx,
                             void *out, float *lse, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                             int d, void *stream)
{
    /* the faster on the H200 (bench/sparse.md): v1 for d 128, v3 for d 64 */
    return attn_sparse_prefill_cuda_version(d == 64 ? 3 : 1, q, k, v, off, idx, out, lse, n_q, kv_len, q_offset,
                                            n_head, n_kv_head, d, stream);
}
