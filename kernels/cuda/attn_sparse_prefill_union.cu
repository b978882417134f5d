/* attn_sparse_prefill_union.cu — block-sparse causal prefill, one pass per
 * (query block, KV head) over the union of its query heads' block lists
 * (Hopper: TMA + wgmma), and the step that builds those unions.
 *
 * Union step (prefill_union_lists_kernel): one CTA per (query block qb, kv
 * head g): a bitmap of the key blocks in shared memory, bit r of block b set
 * (shared atomics) when query head g*G + r lists b; then an ordered
 * compaction (warp ballots) writes the union ascending with its masks into
 * the room of the group's own lists (entries off[qb*n_head + g*G] on: a
 * union is never longer than the sum of its lists), and its length.
 *
 * Attention (sparse_union_kernel): one CTA per (qb, g), 12 warps: warp 0
 * the producer (reads the union 32 entries a load, writes each stage's
 * block and mask into the stage's slot after the stage's empty barrier,
 * arms its full barrier and issues the TMA copies of K and V, 64 keys a
 * stage), warps 4-11 two consumer warpgroups; warpgroup w owns query heads
 * g*G + w*HPW + j (j < HPW, those < G), Q of all G heads loaded once. Per
 * stage, for each of its heads whose mask bit is set: S = Q_h K^T (wgmma
 * m64n64k16), the causal mask only where the block crosses the rows'
 * diagonal or the end of the keys, online softmax (log2 domain), O_h += P V
 * (wgmma, P from registers); with two heads, S of the second is in flight
 * with P V of the first. A head whose bit is clear skips the stage, so each
 * head attends exactly its own blocks: the output is the per-head
 * attention's (attn_sparse_prefill_ref), within rounding.
 * Invariants: G = n_head / n_kv_head <= 2 * HPW (<= 4); tiles 1024-byte
 * aligned (128-byte swizzle); phase u of a stage's barriers = its u-th use;
 * every consumer warp arrives once on the empty barrier of every stage; in
 * each consumer warp lane 0 alone reads a stage's slot (and shuffles it to
 * the warp): the lane that arrives, so its read precedes the slot's next
 * write in its own program order. d in {64, 128}; q_offset >= 0.
 * Contract: kernels/attn_sparse.h. Numbers: bench/sparse.md.
 */
#include <limits.h>
#include <type_traits>

#include "kernels/attn_sparse.h"
#include "kernels/cuda/attn_sm90.cuh"

typedef __nv_bfloat16 bf16;

enum { UL_T = 256, SU_BN = 64, SU_THREADS = 384 };

/* ---- the unions ---- */

/* Grid (n_qb, n_kv_head), UL_T threads, dynamic smem n_kb words. */
__global__ void __launch_bounds__(UL_T)
prefill_union_lists_kernel(const int64_t *__restrict__ off, const int32_t *__restrict__ idx, int n_kb, int n_head,
                           int n_kv_head, int32_t *__restrict__ uidx, uint32_t *__restrict__ umask,
                           int32_t *__restrict__ ucnt)
{
    extern __shared__ uint32_t bits[];
    __shared__ int s_max;
    __shared__ int wcount[UL_T / 32];
    const int qb = blockIdx.x, g = blockIdx.y, G = n_head / n_kv_head, tid = threadIdx.x, lane = tid & 31,
              warp = tid >> 5;
    const int64_t i0 = (int64_t)qb * n_head + (int64_t)g * G, e0 = off[i0], e1 = off[i0 + G];
    if (tid == 0) s_max = -1;
    int mx = -1;
    for (int64_t e = e0 + tid; e < e1; e += UL_T) mx = max(mx, __ldg(idx + e));
    for (int o = 16; o; o >>= 1) mx = max(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    __syncthreads();
    if (lane == 0) atomicMax(&s_max, mx);
    __syncthreads();
    const int nb = min(s_max + 1, n_kb); /* the bitmap covers the blocks listed */
    for (int b = tid; b < nb; b += UL_T) bits[b] = 0u;
    __syncthreads();
    for (int r = 0; r < G; r++)
        for (int64_t e = off[i0 + r] + tid; e < off[i0 + r + 1]; e += UL_T) {
            const int b = __ldg(idx + e);
            if (b >= 0 && b < nb) atomicOr(bits + b, 1u << r);
        }
    __syncthreads();
    int64_t base = e0;
    for (int bb = 0; bb < nb; bb += UL_T) {
        const int b = bb + tid;
        const uint32_t w = b < nb ? bits[b] : 0u;
        const unsigned bal = __ballot_sync(0xffffffffu, w != 0u);
        if (lane == 0) wcount[warp] = __popc(bal);
        __syncthreads();
        int before = 0, total = 0;
        for (int x = 0; x < UL_T / 32; x++) {
            before += x < warp ? wcount[x] : 0;
            total += wcount[x];
        }
        if (w) {
            const int64_t pos = base + before + __popc(bal & ((1u << lane) - 1u));
            uidx[pos] = b;
            umask[pos] = w;
        }
        base += total;
        __syncthreads(); /* wcount free for the next round */
    }
    if (tid == 0) ucnt[(int64_t)qb * n_kv_head + g] = (int32_t)(base - e0);
}

int attn_sparse_prefill_union_lists_cuda(const int64_t *off, const int32_t *idx, int n_q, int kv_len, int n_head,
                                         int n_kv_head, int32_t *uidx, uint32_t *umask, int32_t *ucnt, void *stream)
{
    if (n_q <= 0 || kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || n_head / n_kv_head > 32)
        return (int)cudaErrorInvalidValue;
    const int n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK, n_qb = (n_q + 63) / 64;
    const int smem = n_kb * (int)sizeof(uint32_t);
    static int smem_set;
    if (smem > 48 * 1024 && smem > smem_set) {
        cudaError_t e = cudaFuncSetAttribute(prefill_union_lists_kernel,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return (int)e;
        smem_set = smem;
    }
    prefill_union_lists_kernel<<<dim3(n_qb, n_kv_head), UL_T, smem, (cudaStream_t)stream>>>(
        off, idx, n_kb, n_head, n_kv_head, uidx, umask, ucnt);
    return (int)cudaGetLastError();
}

/* ---- attention over the unions ---- */

template <int D, int STAGES, int HPW>
__global__ void __launch_bounds__(SU_THREADS, 1)
sparse_union_kernel(const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk,
                    const __grid_constant__ CUtensorMap tv, const int64_t *__restrict__ off,
                    const int32_t *__restrict__ uidx, const uint32_t *__restrict__ umask,
                    const int32_t *__restrict__ ucnt, bf16 *__restrict__ out, float *__restrict__ lse, int n_q,
                    int kv_len, int q_offset, int n_head, int n_kv_head, float scale_log2)
{
    constexpr int BN = SU_BN, CB = D / 64, NO = D / 2, KK = BN / 16;
    constexpr int QH_BYTES = 64 * D * 2, KV_BYTES = BN * D * 2;
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    const uint32_t raw = smem_u32(smem_raw);
    const uint32_t base = (raw + 1023) & ~1023u;
    const uint32_t sQ = base;                               /* 2 * HPW heads of 64 x D */
    const uint32_t sK = sQ + 2 * HPW * QH_BYTES;
    const uint32_t sV = sK + STAGES * KV_BYTES;
    const uint32_t sS = sV + STAGES * KV_BYTES;             /* slots: STAGES blocks, STAGES masks */
    const uint32_t bars = sS + 16 * ((2 * STAGES * 4 + 15) / 16); /* q, full[STAGES], empty[STAGES] */
    volatile int *slot = (volatile int *)(smem_raw + (sS - raw));
    auto full = [&](int s) { return bars + 8 + 8 * s; };
    auto empty = [&](int s) { return bars + 8 + 8 * STAGES + 8 * s; };

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int G = n_head / n_kv_head;
    const int qb = (int)gridDim.x - 1 - (int)blockIdx.x, g = blockIdx.y; /* heaviest (last query blocks) first */
    const int64_t lo = off[(int64_t)qb * n_head + (int64_t)g * G];
    const int n = ucnt[(int64_t)qb * n_kv_head + g];

    if (tid == 0) {
        mbar_init(bars, 1);
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full(s), 1);
            mbar_init(empty(s), 8); /* one arrival per consumer warp */
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warp < 4) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
        if (warp != 0) return;
        if (lane == 0) {
            mbar_expect_tx(bars, G * QH_BYTES);
            for (int r = 0; r < G; r++)
                for (int cb = 0; cb < CB; cb++)
                    tma_load3(sQ + r * QH_BYTES + cb * 64 * 128, &tq, cb * 64, g * G + r, qb * 64, bars);
        }
        auto ldb = [&](int t) { return t < n ? __ldg(uidx + lo + t) : 0; };
        auto ldm = [&](int t) { return t < n ? __ldg(umask + lo + t) : 0u; };
        int cur = ldb(lane), nxt = ldb(32 + lane);
        uint32_t curm = ldm(lane), nxtm = ldm(32 + lane);
        for (int t = 0; t < n; t++) {
            if (t > 0 && (t & 31) == 0) {
                cur = nxt;
                curm = nxtm;
                nxt = ldb(t + 32 + lane);
                nxtm = ldm(t + 32 + lane);
            }
            const int b = __shfl_sync(0xffffffffu, cur, t & 31);
            const uint32_t mk = __shfl_sync(0xffffffffu, curm, t & 31);
            const int s = t % STAGES;
            if (t >= STAGES) mbar_wait(empty(s), ((t / STAGES) - 1) & 1);
            if (lane == 0) {
                slot[s] = b;
                slot[STAGES + s] = (int)mk;
                mbar_expect_tx(full(s), 2 * KV_BYTES);
#pragma unroll
                for (int cb = 0; cb < CB; cb++) {
                    tma_load3(sK + s * KV_BYTES + cb * BN * 128, &tk, cb * 64, g, b * BN, full(s));
                    tma_load3(sV + s * KV_BYTES + cb * BN * 128, &tv, cb * 64, g, b * BN, full(s));
                }
            }
        }
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n");

    /* consumers: warpgroup wg, warp wl of it, 16 rows each */
    const int cw = warp - 4, wg = cw >> 2, wl = cw & 3, gq = lane >> 2, tq4 = lane & 3;
    const int r_lo = wl * 16 + gq;
    const int pos_lo = q_offset + qb * 64 + r_lo, pos_hi = pos_lo + 8;
    const int first_pos = q_offset + qb * 64;
    float o[HPW][NO], sc[32], m[HPW][2], l[HPW][2];
#pragma unroll
    for (int j = 0; j < HPW; j++) {
#pragma unroll
        for (int i = 0; i < NO; i++) o[j][i] = 0.f;
        m[j][0] = m[j][1] = -INFINITY;
        l[j][0] = l[j][1] = 0.f;
    }
    uint32_t pa[HPW][KK][4];
    int kbase = 0;

    auto issue_s = [&](auto J, int s) { /* sc = Q_J K_s^T (async) */
        constexpr int j = decltype(J)::value;
        const uint32_t q0 = sQ + (wg * HPW + j) * QH_BYTES;
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < D / 16; ks++) {
            uint64_t da = gmma_desc(q0 + (ks >> 2) * 64 * 128 + (ks & 3) * 32, 16, 1024);
            uint64_t db = gmma_desc(sK + s * KV_BYTES + (ks >> 2) * BN * 128 + (ks & 3) * 32, 16, 1024);
            if (ks == 0) wgmma_ss_n64_first(sc, da, db);
            else wgmma_ss_n64(sc, da, db, 1);
        }
        wgmma_commit();
    };
    auto issue_pv = [&](auto J, int s) { /* o_J += P_J V_s (async) */
        constexpr int j = decltype(J)::value;
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            const uint32_t vb = sV + s * KV_BYTES + kk * 16 * 128;
            if constexpr (D == 64) wgmma_rs_n64_tb(o[j], pa[j][kk], gmma_desc(vb, 16, 1024));
            else wgmma_rs_n128_tb(o[j], pa[j][kk], gmma_desc(vb, BN * 128, 1024));
        }
        wgmma_commit();
    };
    /* mask (MODE 2), online softmax of sc for head J, rescale o_J, P_J */
    auto soft = [&](auto J, auto mask_tag) {
        constexpr int j = decltype(J)::value;
        if constexpr (decltype(mask_tag)::value == 2) {
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int key = kbase + i * 8 + tq4 * 2 + (e & 1);
                    if (key > ((e >> 1) ? pos_hi : pos_lo) || key >= kv_len) sc[4 * i + e] = -INFINITY;
                }
        }
        float alpha[2];
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float mx = -INFINITY;
#pragma unroll
            for (int i = 0; i < 8; i++) mx = fmaxf(mx, fmaxf(sc[4 * i + 2 * hr], sc[4 * i + 2 * hr + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mnew = fmaxf(m[j][hr], mx * scale_log2);
            const float msafe = mnew == -INFINITY ? 0.f : mnew;
            alpha[hr] = fast_exp2(m[j][hr] - msafe);
            m[j][hr] = mnew;
            float rs = 0.f;
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const float pe = fast_exp2(fmaf(sc[4 * i + 2 * hr + e], scale_log2, -msafe));
                    sc[4 * i + 2 * hr + e] = pe;
                    rs += pe;
                }
            l[j][hr] = l[j][hr] * alpha[hr] + rs;
        }
#pragma unroll
        for (int i = 0; i < NO / 4; i++) {
            o[j][4 * i + 0] *= alpha[0];
            o[j][4 * i + 1] *= alpha[0];
            o[j][4 * i + 2] *= alpha[1];
            o[j][4 * i + 3] *= alpha[1];
        }
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            pa[j][kk][0] = pack_bf16(sc[8 * kk + 0], sc[8 * kk + 1]);
            pa[j][kk][1] = pack_bf16(sc[8 * kk + 2], sc[8 * kk + 3]);
            pa[j][kk][2] = pack_bf16(sc[8 * kk + 4], sc[8 * kk + 5]);
            pa[j][kk][3] = pack_bf16(sc[8 * kk + 6], sc[8 * kk + 7]);
        }
    };
    /* one head alone on stage s */
    auto one = [&](auto J, int s, auto mask_tag) {
        constexpr int j = decltype(J)::value;
        issue_s(J, s);
        wgmma_wait<0>();
        fence_regs(sc);
        soft(J, mask_tag);
        fence_regs(o[j]);
        wgmma_fence();
        issue_pv(J, s);
        wgmma_wait<0>();
        fence_regs(o[j]);
        keep_regs(pa[j]);
    };
    /* heads 0 and 1: S of 1 in flight with P V of 0 */
    auto two = [&](int s, auto mask_tag) {
        const std::integral_constant<int, 0> J0{};
        const std::integral_constant<int, HPW - 1> J1{};
        issue_s(J0, s);
        wgmma_wait<0>();
        fence_regs(sc);
        soft(J0, mask_tag);
        fence_regs(o[0]);
        issue_s(J1, s); /* its fence covers o_0 and P_0 */
        issue_pv(J0, s);
        wgmma_wait<1>(); /* S of 1 done, P V of 0 may run */
        fence_regs(sc);
        soft(J1, mask_tag);
        fence_regs(o[HPW - 1]);
        wgmma_fence();
        issue_pv(J1, s);
        wgmma_wait<0>();
        fence_regs(o[0]);
        fence_regs(o[HPW - 1]);
        keep_regs(pa[0]);
        keep_regs(pa[HPW - 1]);
    };
    auto release = [&](int s) {
        __syncwarp();
        if (lane == 0) mbar_arrive(empty(s));
    };

    const std::integral_constant<int, 0> no_mask{}, h0{};
    const std::integral_constant<int, 2> always_mask{};
    const std::integral_constant<int, HPW - 1> hl{};
    const uint32_t my_bits = ((1u << HPW) - 1u) << (wg * HPW);
    mbar_wait(bars, 0); /* Q */
    for (int t = 0; t < n; t++) {
        const int s = t % STAGES;
        mbar_wait(full(s), (t / STAGES) & 1);
        int b = 0, mk = 0;
        if (lane == 0) { /* the lane that releases the stage reads its slot */
            b = slot[s];
            mk = slot[STAGES + s];
        }
        b = __shfl_sync(0xffffffffu, b, 0);
        const uint32_t mine = ((uint32_t)__shfl_sync(0xffffffffu, mk, 0) & my_bits) >> (wg * HPW);
        if (mine) {
            kbase = b * BN;
            const bool masked = kbase + BN - 1 > first_pos || kbase + BN > kv_len;
            if (HPW == 2 && mine == 3u) {
                if (masked) two(s, always_mask);
                else two(s, no_mask);
            } else if (mine & 1u) {
                if (masked) one(h0, s, always_mask);
                else one(h0, s, no_mask);
            } else {
                if (masked) one(hl, s, always_mask);
                else one(hl, s, no_mask);
            }
        }
        release(s);
    }

    const size_t qs = (size_t)n_head * D;
#pragma unroll
    for (int j = 0; j < HPW; j++) {
        const int r = wg * HPW + j;
        if (r >= G) continue;
        const int h = g * G + r;
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float lt = l[j][hr];
            lt += __shfl_xor_sync(0xffffffffu, lt, 1);
            lt += __shfl_xor_sync(0xffffffffu, lt, 2);
            const float inv = lt > 0.f ? 1.f / lt : 0.f;
            const int row = qb * 64 + r_lo + hr * 8;
            if (row >= n_q) continue;
            bf16 *orow = out + (size_t)row * qs + (size_t)h * D + tq4 * 2;
#pragma unroll
            for (int i = 0; i < NO / 4; i++)
                *(uint32_t *)(orow + i * 8) = pack_bf16(o[j][4 * i + 2 * hr] * inv, o[j][4 * i + 2 * hr + 1] * inv);
            if (tq4 == 0) lse[(size_t)row * n_head + h] = lt > 0.f ? (m[j][hr] + __log2f(lt)) * ATTN_LN2 : -INFINITY;
        }
    }
}

template <int D, int STAGES, int HPW>
static int launch_union(const void *q, const void *k, const void *v, const int64_t *off, const int32_t *uidx,
                        const uint32_t *umask, const int32_t *ucnt, void *out, float *lse, int n_q, int kv_len,
                        int q_offset, int n_head, int n_kv_head, cudaStream_t st)
{
    CUtensorMap tq, tk, tv;
    int e;
    if ((e = sm90_make_map(&tq, q, n_q, n_head, D, 64)) || (e = sm90_make_map(&tk, k, kv_len, n_kv_head, D, 64)) ||
        (e = sm90_make_map(&tv, v, kv_len, n_kv_head, D, 64)))
        return e;
    auto kern = sparse_union_kernel<D, STAGES, HPW>;
    const int smem = 1024 + 2 * HPW * 64 * D * 2 + STAGES * 2 * SU_BN * D * 2 + 16 * ((2 * STAGES * 4 + 15) / 16) +
                     8 * (1 + 2 * STAGES);
    static bool attr_set;
    if (!attr_set) {
        cudaError_t ce = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (ce != cudaSuccess) return (int)ce;
        attr_set = true;
    }
    const int n_qb = (n_q + 63) / 64;
    kern<<<dim3(n_qb, n_kv_head), SU_THREADS, smem, st>>>(tq, tk, tv, off, uidx, umask, ucnt, (bf16 *)out, lse, n_q,
                                                          kv_len, q_offset, n_head, n_kv_head,
                                                          ATTN_LOG2E / sqrtf((float)D));
    return (int)cudaGetLastError();
}

int attn_sparse_prefill_union_attend_cuda(const void *q, const void *k, const void *v, const int64_t *off,
                                          const int32_t *uidx, const uint32_t *umask, const int32_t *ucnt, void *out,
                                          float *lse, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                                          int d, void *stream)
{
    if (n_q <= 0 || kv_len <= 0 || q_offset < 0 || n_kv_head <= 0 || n_head % n_kv_head)
        return (int)cudaErrorInvalidValue;
    const int G = n_head / n_kv_head;
    cudaStream_t st = (cudaStream_t)stream;
    if (G > 4) return (int)cudaErrorInvalidValue;
#define SU_ARGS q, k, v, off, uidx, umask, ucnt, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, st
    if (d == 128) return G <= 2 ? launch_union<128, 3, 1>(SU_ARGS) : launch_union<128, 3, 2>(SU_ARGS);
    if (d == 64) return G <= 2 ? launch_union<64, 4, 1>(SU_ARGS) : launch_union<64, 4, 2>(SU_ARGS);
#undef SU_ARGS
    return (int)cudaErrorInvalidValue;
}

size_t attn_sparse_prefill_union_workspace(int64_t n_entries, int n_q, int n_kv_head)
{
    const int64_t n_g = (int64_t)((n_q + 63) / 64) * n_kv_head;
    return (size_t)(((n_entries * 4 + 255) & ~(int64_t)255) * 2 + ((n_g * 4 + 255) & ~(int64_t)255));
}

int attn_sparse_prefill_union_cuda(const void *q, const void *k, const void *v, const int64_t *off,
                                   const int32_t *idx, int64_t n_entries, void *out, float *lse, int n_q, int kv_len,
                                   int q_offset, int n_head, int n_kv_head, int d, void *work, size_t work_bytes,
                                   void *stream)
{
    if (n_entries < 0 || work_bytes < attn_sparse_prefill_union_workspace(n_entries, n_q, n_kv_head))
        return (int)cudaErrorInvalidValue;
    const int64_t ent = (n_entries * 4 + 255) & ~(int64_t)255;
    int32_t *uidx = (int32_t *)work;
    uint32_t *umask = (uint32_t *)((char *)work + ent);
    int32_t *ucnt = (int32_t *)((char *)work + 2 * ent);
    int e = attn_sparse_prefill_union_lists_cuda(off, idx, n_q, kv_len, n_head, n_kv_head, uidx, umask, ucnt, stream);
    if (e) return e;
    return attn_sparse_prefill_union_attend_cuda(q, k, v, off, uidx, umask, ucnt, out, lse, n_q, kv_len, q_offset,
                                                 n_head, n_kv_head, d, stream);
}
