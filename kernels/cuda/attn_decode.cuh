/* attn_decode.cuh — the warp body of split-KV decode attention (flash-
 * decoding), shared by the dense decode (attn_decode.cu, a contiguous chunk
 * of keys per split) and the sparse decode (attn_sparse_decode.cu, a chunk
 * of a block list per split); the key source is a template parameter.
 *
 * GQA: the G query heads of a group are the rows of one m16 tensor-core
 * tile (rows G..15 are zero), so each K/V byte is loaded once per group and
 * feeds all G heads through mma.sync. The warp streams its tiles of BN keys
 * through its own STAGES-deep cp.async ring (no block barriers at all),
 * online softmax, then a normalised partial output and its LSE.
 * Invariants: d in {64, 128, 256}; G <= 16; keys.key(t, r) is -1 or a key
 * < kv_len, and the same for every call with the same (t, r); a split that
 * sees no key writes o = 0, lse = -inf, which the combine ignores.
 * Per-head masks: key_heads(keys, t) is the set of the G heads (bit r:
 * head head0 + r) that see tile t; all by default, a key source that
 * feeds several heads from one union list overloads it (found by ADL).
 */
#ifndef PURBO_ATTN_DECODE_CUH
#define PURBO_ATTN_DECODE_CUH

#include "kernels/cuda/attn_common.cuh"

typedef __nv_bfloat16 bf16;

template <class Keys>
__device__ __forceinline__ unsigned key_heads(const Keys &, int)
{
    return 0xffffffffu;
}

/* One warp = one split: query heads head0 .. head0+G-1 (G <= 16, all of
 * kv head kvh) over the keys keys.key(t, r) (row r of tile t, -1: none)
 * of tiles 0 .. keys.n_tiles()-1; writes rows head0.. of split `split` of
 * part_o (n_split, n_head, D) and part_lse (n_split, n_head).
 * q: (n_head, D); k, v: (kv_len, n_kv_head, D). sK, sV: this warp's
 * STAGES tiles of BN x D each, in shared memory. */
template <int D, int BN, int STAGES, class Keys>
__device__ __forceinline__ void decode_split_warp(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                                                  const bf16 *__restrict__ v, float *__restrict__ part_o,
                                                  float *__restrict__ part_lse, int n_head, int n_kv_head, int kvh,
                                                  int head0, int G, int split, const Keys &keys, bf16 *sK, bf16 *sV,
                                                  float scale_log2)
{
    constexpr int CH = D / 8, DT = D / 8, NT = BN / 8;
    constexpr int TILE = BN * D; /* elements of one K (or V) tile */
    const int lane = threadIdx.x & 31;
    const int n_tiles = keys.n_tiles();
    const size_t kvs = (size_t)n_kv_head * D;
    const bf16 *kg = k + (size_t)kvh * D, *vg = v + (size_t)kvh * D;

    auto load = [&](int t) {
        bf16 *dk = sK + (t % STAGES) * TILE, *dv = sV + (t % STAGES) * TILE;
#pragma unroll
        for (int c = lane; c < BN * CH; c += 32) {
            int r = c / CH, ch = c % CH, j = keys.key(t, r);
            bool ok = j >= 0;
            size_t off = (size_t)(ok ? j : 0) * kvs + ch * 8;
            cp_async16(smem_u32(dk + swz<D>(r, ch)), kg + off, ok);
            cp_async16(smem_u32(dv + swz<D>(r, ch)), vg + off, ok);
        }
    };
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < n_tiles) load(s);
        cp_async_commit();
    }

    /* Q as the A operand: row r = head head0 + r (r < G), else zero. */
    const int g = lane >> 2, tq = lane & 3;
    const bf16 *q_lo = q + ((size_t)head0 + (g < G ? g : 0)) * D;
    const bf16 *q_hi = q + ((size_t)head0 + (g + 8 < G ? g + 8 : 0)) * D;
    uint32_t qa[D / 16][4];
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
        int c = ks * 16 + tq * 2;
        qa[ks][0] = g < G ? *(const uint32_t *)(q_lo + c) : 0u;
        qa[ks][1] = g + 8 < G ? *(const uint32_t *)(q_hi + c) : 0u;
        qa[ks][2] = g < G ? *(const uint32_t *)(q_lo + c + 8) : 0u;
        qa[ks][3] = g + 8 < G ? *(const uint32_t *)(q_hi + c + 8) : 0u;
    }

    float o[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    for (int t = 0; t < n_tiles; t++) {
        cp_async_wait<STAGES - 2>();
        __syncwarp(); /* tile t visible to all lanes; tile t-1's buffer free */
        if (t + STAGES - 1 < n_tiles) load(t + STAGES - 1);
        cp_async_commit();
        const bf16 *cK = sK + (t % STAGES) * TILE, *cV = sV + (t % STAGES) * TILE;

        /* S = Q K^T, two accumulator sets (even / odd d steps) for ILP */
        float s[NT][4], s2[NT][4];
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[nt][e] = s2[nt][e] = 0.f;
#pragma unroll
        for (int ks = 0; ks < D / 16; ks++)
#pragma unroll
            for (int np = 0; np < BN / 16; np++) {
                uint32_t b[4];
                ldsm_x4(b, smem_u32(cK + swz<D>(np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                                ks * 2 + ((lane >> 3) & 1))));
                float(*acc)[4] = (ks & 1) && D < 256 ? s2 : s; /* d 256: no registers to spare */
                mma16816(acc[2 * np], qa[ks], b[0], b[1]);
                mma16816(acc[2 * np + 1], qa[ks], b[2], b[3]);
            }
        const unsigned hm = key_heads(keys, t);
        const bool see_lo = (hm >> g) & 1u, see_hi = (hm >> (g + 8)) & 1u;
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                s[nt][e] += s2[nt][e];
                if (keys.key(t, nt * 8 + tq * 2 + (e & 1)) < 0 || !(e < 2 ? see_lo : see_hi)) s[nt][e] = -INFINITY;
            }

#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float mx = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < NT; nt++) mx = fmaxf(mx, fmaxf(s[nt][2 * hr], s[nt][2 * hr + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            float mnew = fmaxf(m[hr], mx * scale_log2);
            float msafe = mnew == -INFINITY ? 0.f : mnew;
            float alpha = fast_exp2(m[hr] - msafe);
            m[hr] = mnew;
            float rs = 0.f;
#pragma unroll
            for (int nt = 0; nt < NT; nt++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    float p = fast_exp2(fmaf(s[nt][2 * hr + e], scale_log2, -msafe));
                    s[nt][2 * hr + e] = p;
                    rs += p;
                }
            l[hr] = l[hr] * alpha + rs;
#pragma unroll
            for (int dt = 0; dt < DT; dt++) {
                o[dt][2 * hr] *= alpha;
                o[dt][2 * hr + 1] *= alpha;
            }
        }

#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                              pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t b[4];
                ldsm_x4_t(b, smem_u32(cV + swz<D>(kk * 16 + (lane & 15), dp * 2 + (lane >> 4))));
                mma16816(o[2 * dp], pa, b[0], b[1]);
                mma16816(o[2 * dp + 1], pa, b[2], b[3]);
            }
        }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        float lt = l[hr];
        lt += __shfl_xor_sync(0xffffffffu, lt, 1);
        lt += __shfl_xor_sync(0xffffffffu, lt, 2);
        int r = g + hr * 8;
        if (r >= G) continue;
        int head = head0 + r;
        float inv = lt > 0.f ? 1.f / lt : 0.f;
        float *po = part_o + ((size_t)split * n_head + head) * D + tq * 2;
#pragma unroll
        for (int dt = 0; dt < DT; dt++)
            *(float2 *)(po + dt * 8) = make_float2(o[dt][2 * hr] * inv, o[dt][2 * hr + 1] * inv);
        if (tq == 0)
            part_lse[(size_t)split * n_head + head] = lt > 0.f ? (m[hr] + __log2f(lt)) * ATTN_LN2 : -INFINITY;
    }
}

#endif
