/* attn_select.cu — sort-free top-p block selection: per item (query block
 * and head, or one decode head) the rtpurbo policy's rule over given block
 * log-masses, written as ascending block lists (kernels/attn_sparse.h has
 * the rule and the layouts; kernels/cpu/attn_select_ref.c is the twin).
 *
 * Three launches:
 *   1. select_kernel, one CTA per item: the item's LSE over its V blocks,
 *      the masses m_b = exp(blse_b - LSE) staged in shared memory, then a
 *      radix select over the masses' float bits (positive floats order as
 *      their bits): four passes of 8 bits, each a 256-bin histogram of
 *      (count, non-forced count, mass in 2^-40 fixed point: exact sums
 *      in any order) over the masses that share the bits fixed so far
 *      (per-warp histograms; the lanes of one digit found by a warp match
 *      and summed by a warp reduction, so no atomics fight over the few
 *      crowded bins), scanned from the top bin down with the mass
 *      and non-forced count of everything above; the first bin where both
 *      criteria (mass >= p, non-forced >= min(kmin, all non-forced)) hold
 *      fixes the next 8 bits. After 32 bits the boundary mass v is exact;
 *      blocks of mass v are taken lowest block first until the criteria
 *      hold (tie_cut: the last one taken). Keeps: forced, m > v, and m == v
 *      with b <= tie_cut. Stores per item (LSE, v, tie_cut, count).
 *   2. an exclusive scan of the counts (CUB) into off.
 *   3. write_kernel, one CTA per item: the same predicate (the same float
 *      arithmetic, so the same answers), an ordered compaction (warp ballots
 *      and a scan of the warps' counts) into idx[off[i] ..].
 * Few items (n_items <= SEL_MULTI_ITEMS: decode, a short chunk at long
 * context) take the cluster path instead, C CTAs an item (the power of two
 * of at least V / SEL_MCHUNK, 1 .. 8), two launches:
 *   1. select_multi_kernel, one cluster of C <= 8 CTAs per item, CTA r
 *      owning blocks r*chunk .. (r+1)*chunk-1: the max, the sum of exps and
 *      the non-forced count each summed over the cluster through
 *      distributed shared memory (every CTA adds the C partials in rank
 *      order, so all hold the same LSE); the same four digit passes, each
 *      CTA's histogram exported (double-buffered) and every CTA summing the
 *      C histograms (integers: the same totals in every CTA) and scanning
 *      them with one warp (suffix sums by shuffles); ties at v walked in
 *      block order across the cluster: a CTA starts from the counts of the
 *      ties in the CTAs before it, so the cut is the single-CTA cut. Each
 *      CTA stores its state (a local tie cut: -1 none, INT_MAX all) and
 *      count.
 *   2. write_multi_kernel, one CTA per (item, chunk): its offset is the sum
 *      of the counts before it (so no scan launch), the same compaction.
 * Invariants: V <= SEL_MAXV; an item with p >= 1 or whose criteria no
 * prefix meets keeps every block (as the policy does).
 */
#include <limits.h>
#include <algorithm>

#include <cooperative_groups.h>
#include <cub/device/device_scan.cuh>

#include "kernels/attn_sparse.h"
#include "kernels/cuda/attn_common.cuh"

enum { SEL_THREADS = 256, SEL_MAXV = 32768 };
/* cluster path: at most 8 CTAs an item, each at least SEL_MCHUNK blocks
 * (so at most SEL_MAXV / 8 = 4096) */
enum { SEL_MCHUNK = 512, SEL_MAXC = 8, SEL_MULTI_ITEMS = 256, SEL_MAXCHUNK = SEL_MAXV / SEL_MAXC };

struct sel_state {
    float lse;        /* item's log-sum-exp over its blocks */
    uint32_t v;       /* boundary mass, float bits; 0 with keep_all */
    int tie_cut;      /* blocks of mass v with b <= tie_cut are kept */
    int keep_all;
};

struct sel_geom {
    int V, sink_end, local_lo;
};

__device__ __forceinline__ sel_geom item_geom(int64_t it, int n_q, int q_offset, int n_head,
                                              const attn_select_params &prm)
{
    const int qb = (int)(it / n_head);
    const int last = q_offset + min(qb * ATTN_SBLOCK + ATTN_SBLOCK - 1, n_q - 1);
    const int first = q_offset + qb * ATTN_SBLOCK;
    sel_geom g;
    g.V = last / ATTN_SBLOCK + 1;
    g.sink_end = min(prm.sink, first + 1);
    g.local_lo = prm.local > 0 ? max(0, first - prm.local + 1) / ATTN_SBLOCK : g.V;
    return g;
}

__device__ __forceinline__ bool is_forced(int b, const sel_geom &g)
{
    return b * ATTN_SBLOCK < g.sink_end || b >= g.local_lo;
}

/* Block-wide reductions over SEL_THREADS threads (red: 32 floats of smem). */
__device__ __forceinline__ float block_max(float x, float *red)
{
    for (int o = 16; o; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
    __syncthreads();
    float r = red[0];
    for (int w = 1; w < SEL_THREADS / 32; w++) r = fmaxf(r, red[w]);
    return r;
}
__device__ __forceinline__ float block_sum(float x, float *red)
{
    for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
    __syncthreads();
    float r = 0.f;
    for (int w = 0; w < SEL_THREADS / 32; w++) r += red[w];
    return r;
}

/* masses of item it into sm (V floats); returns the item's LSE */
__device__ __forceinline__ float item_masses(const float *row, int V, float *sm, float *red)
{
    float mx = -INFINITY;
    for (int b = threadIdx.x; b < V; b += SEL_THREADS) mx = fmaxf(mx, row[b]);
    mx = block_max(mx, red);
    const float msafe = mx == -INFINITY ? 0.f : mx;
    float s = 0.f;
    for (int b = threadIdx.x; b < V; b += SEL_THREADS) s += expf(row[b] - msafe);
    s = block_sum(s, red);
    const float lse = msafe + __logf(s);
    for (int b = threadIdx.x; b < V; b += SEL_THREADS) sm[b] = expf(row[b] - lse); /* as write_kernel */
    __syncthreads();
    return lse;
}

/* A mass (0 .. 1) in fixed point, 2^-40: sums of them are exact and do
 * not depend on the order of the additions. */
__device__ __forceinline__ unsigned long long fixed_mass(double m)
{
    return __double2ull_rn(m * 1099511627776.0);
}

__device__ __forceinline__ bool keeps(int b, float m, const sel_state &st, const sel_geom &g)
{
    const uint32_t k = __float_as_uint(m);
    return st.keep_all || is_forced(b, g) || k > st.v || (k == st.v && b <= st.tie_cut);
}

__global__ void __launch_bounds__(SEL_THREADS)
select_kernel(const float *__restrict__ blse, size_t ld, int n_q, int q_offset, int n_head, attn_select_params prm,
              sel_state *__restrict__ state, int64_t *__restrict__ count)
{
    extern __shared__ float sm[]; /* V masses */
    constexpr int NW = SEL_THREADS / 32;
    __shared__ float red[32];
    __shared__ unsigned h_cnt[NW][256], h_nf[NW][256]; /* per-warp histograms, summed into row 0 */
    __shared__ unsigned long long h_mass[NW][256];    /* mass in fixed point, 2^-40 */
    __shared__ uint32_t s_prefix;
    __shared__ int s_done, s_found, s_need_nf, s_tie_cut, s_nf, s_bincnt;
    __shared__ unsigned long long s_cum;
    const int64_t it = blockIdx.x;
    const sel_geom g = item_geom(it, n_q, q_offset, n_head, prm);
    const float lse = item_masses(blse + (size_t)it * ld, g.V, sm, red);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const unsigned long long p_fx = fixed_mass(prm.p >= 1.0 ? 1.0 : prm.p);

    int nfree = 0;
    for (int b = tid; b < g.V; b += SEL_THREADS) nfree += !is_forced(b, g);
    nfree = (int)block_sum((float)nfree, red); /* exact below 2^24 */
    if (tid == 0) {
        s_prefix = 0;
        s_cum = 0;
        s_nf = 0;
        s_need_nf = min(prm.kmin, nfree);
        s_done = prm.p >= 1.0;
        s_found = 1;
        s_tie_cut = INT_MAX;
    }
    __syncthreads();
    uint32_t mask = 0;
    for (int shift = 24; shift >= 0 && !s_done; shift -= 8) {
        for (int i = lane; i < 256; i += 32) {
            h_cnt[warp][i] = 0;
            h_nf[warp][i] = 0;
            h_mass[warp][i] = 0;
        }
        __syncwarp();
        const uint32_t prefix = s_prefix;
        /* each warp takes 32 blocks at a time; the lowest lane of each digit
         * adds its group's sums (no atomics, no contention) */
        for (int b0 = warp * 32; b0 < g.V; b0 += SEL_THREADS) {
            const int b = b0 + lane;
            const float m = b < g.V ? sm[b] : 0.f;
            const uint32_t k = __float_as_uint(m);
            const bool in = b < g.V && (k & mask) == prefix;
            const int d = in ? (int)((k >> shift) & 255) : 256;
            const unsigned grp = __match_any_sync(0xffffffffu, d);
            const unsigned nfb = __ballot_sync(0xffffffffu, in && !is_forced(b, g));
            /* the group's mass: fixed point (<= 2^40) in two 20-bit halves,
             * each summed over the group by one warp reduction */
            const unsigned long long fx = in ? fixed_mass(m) : 0;
            const unsigned lo = __reduce_add_sync(grp, (unsigned)(fx & 0xfffffu));
            const unsigned hi = __reduce_add_sync(grp, (unsigned)(fx >> 20));
            if (in && lane == __ffs(grp) - 1) {
                h_cnt[warp][d] += __popc(grp);
                h_nf[warp][d] += __popc(grp & nfb);
                h_mass[warp][d] += ((unsigned long long)hi << 20) + lo;
            }
            __syncwarp();
        }
        __syncthreads();
        for (int i = tid; i < 256; i += SEL_THREADS)
            for (int w = 1; w < NW; w++) {
                h_cnt[0][i] += h_cnt[w][i];
                h_nf[0][i] += h_nf[w][i];
                h_mass[0][i] += h_mass[w][i];
            }
        __syncthreads();
        if (tid == 0) {
            unsigned long long cum = s_cum;
            int nf = s_nf, d = 255;
            for (; d >= 0; d--) {
                if (h_cnt[0][d] && cum + h_mass[0][d] >= p_fx && nf + (int)h_nf[0][d] >= s_need_nf) break;
                cum += h_mass[0][d];
                nf += h_nf[0][d];
            }
            if (d < 0) {
                s_done = 1; /* no prefix meets the criteria: keep all */
                s_found = 0;
            } else {
                s_prefix = prefix | ((uint32_t)d << shift);
                s_cum = cum;
                s_nf = nf;
                s_bincnt = (int)h_cnt[0][d];
            }
        }
        mask |= 255u << shift;
        __syncthreads();
    }
    /* ties at the boundary mass v: lowest blocks first until the criteria
     * hold (a single block of mass v is taken whole: nothing to walk) */
    if (!s_done && s_found && s_bincnt > 1 && tid < 32) {
        const uint32_t v = s_prefix;
        const unsigned long long vfx = fixed_mass(__uint_as_float(v));
        unsigned long long cum = s_cum;
        int nf = s_nf, cut = -1;
        bool met = false;
        for (int b0 = 0; b0 < g.V && !met; b0 += 32) {
            const int b = b0 + tid;
            const bool tie = b < g.V && __float_as_uint(sm[b]) == v;
            unsigned bal = __ballot_sync(0xffffffffu, tie);
            while (bal && !met) {
                const int l = __ffs(bal) - 1;
                bal &= bal - 1;
                cum += vfx;
                nf += !is_forced(b0 + l, g);
                cut = b0 + l;
                met = cum >= p_fx && nf >= s_need_nf;
            }
        }
        if (tid == 0) s_tie_cut = met ? cut : INT_MAX;
    }
    __syncthreads();
    sel_state st;
    st.lse = lse;
    st.keep_all = prm.p >= 1.0 || !s_found;
    st.v = st.keep_all ? 0u : s_prefix;
    st.tie_cut = s_tie_cut;
    int n = 0;
    for (int b = tid; b < g.V; b += SEL_THREADS) n += keeps(b, sm[b], st, g);
    n = (int)block_sum((float)n, red);
    if (tid == 0) {
        state[it] = st;
        count[it] = n;
    }
}

/* Ordered compaction of the kept blocks b_lo .. b_hi-1 of one item into
 * idx[o ..] (entries past idx_cap dropped); the whole CTA. */
__device__ __forceinline__ void compact_range(const float *row, int b_lo, int b_hi, const sel_state &st,
                                              const sel_geom &g, int64_t o, int32_t *idx, int64_t idx_cap,
                                              int *wcount)
{
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    for (int b0 = b_lo; b0 < b_hi; b0 += SEL_THREADS) {
        const int b = b0 + tid;
        const bool k = b < b_hi && keeps(b, expf(row[b] - st.lse), st, g);
        const unsigned bal = __ballot_sync(0xffffffffu, k);
        if (lane == 0) wcount[warp] = __popc(bal);
        __syncthreads();
        int before = 0, total = 0;
        for (int w = 0; w < SEL_THREADS / 32; w++) {
            before += w < warp ? wcount[w] : 0;
            total += wcount[w];
        }
        const int64_t pos = o + before + __popc(bal & ((1u << lane) - 1));
        if (k && pos < idx_cap) idx[pos] = b;
        o += total;
        __syncthreads();
    }
}

__global__ void __launch_bounds__(SEL_THREADS)
write_kernel(const float *__restrict__ blse, size_t ld, int n_q, int q_offset, int n_head, attn_select_params prm,
             const sel_state *__restrict__ state, const int64_t *__restrict__ off, int32_t *__restrict__ idx,
             int64_t idx_cap)
{
    __shared__ int wcount[SEL_THREADS / 32];
    const int64_t it = blockIdx.x;
    const sel_geom g = item_geom(it, n_q, q_offset, n_head, prm);
    compact_range(blse + (size_t)it * ld, 0, g.V, state[it], g, off[it], idx, idx_cap, wcount);
}

/* ---- the cluster path ---- */

namespace cg = cooperative_groups;

struct sel_hist {
    unsigned cnt, nf;
    unsigned long long mass;
};

/* Block-wide int64 sum over SEL_THREADS threads (red8: 32 of smem). */
__device__ __forceinline__ long long block_sum_ll(long long x, long long *red8)
{
    for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red8[threadIdx.x >> 5] = x;
    __syncthreads();
    long long r = 0;
    for (int w = 0; w < SEL_THREADS / 32; w++) r += red8[w];
    return r;
}

/* One whole warp: select_kernel's scan from the top bin down, in parallel
 * (lane l holds bins 255-8l .. 248-8l; suffix sums by shuffles): the
 * highest bin d with cnt[d] > 0 where cum0 + the mass from d up reaches
 * p_fx and nf0 + the non-forced count from d up reaches need; -1 if none.
 * *cum, *nf: cum0, nf0 plus the sums of the bins above d. */
__device__ __forceinline__ int scan_bins_warp(const unsigned *cnt, const unsigned *nfc, const unsigned long long *mass,
                                              unsigned long long cum0, int nf0, unsigned long long p_fx, int need,
                                              unsigned long long *cum_out, int *nf_out)
{
    const unsigned FULL = 0xffffffffu;
    const int lane = threadIdx.x & 31;
    unsigned long long lm = 0;
    int ln = 0;
    for (int j = 0; j < 8; j++) {
        const int d = 255 - 8 * lane - j;
        lm += mass[d];
        ln += (int)nfc[d];
    }
    unsigned long long em = lm;
    int en = ln;
    for (int o = 1; o < 32; o <<= 1) {
        const unsigned long long t = __shfl_up_sync(FULL, em, o);
        const int tn = __shfl_up_sync(FULL, en, o);
        if (lane >= o) {
            em += t;
            en += tn;
        }
    }
    unsigned long long cum = cum0 + (em - lm);
    int n = nf0 + (en - ln), hit = -1, hn = 0;
    unsigned long long hc = 0;
    for (int j = 0; j < 8; j++) {
        const int d = 255 - 8 * lane - j;
        if (hit < 0 && cnt[d] && cum + mass[d] >= p_fx && n + (int)nfc[d] >= need) {
            hit = d;
            hc = cum;
            hn = n;
        }
        cum += mass[d];
        n += (int)nfc[d];
    }
    const unsigned bal = __ballot_sync(FULL, hit >= 0);
    if (!bal) return -1;
    const int src = __ffs(bal) - 1;
    *cum_out = __shfl_sync(FULL, hc, src);
    *nf_out = __shfl_sync(FULL, hn, src);
    return __shfl_sync(FULL, hit, src);
}

/* Grid (C, n_items), clusters of (C, 1, 1): CTA r of item blockIdx.y owns
 * blocks r*chunk .. r*chunk+chunk-1 (dynamic smem: chunk floats). Writes
 * state and count at [item * C + r]. */
__global__ void __launch_bounds__(SEL_THREADS)
select_multi_kernel(const float *__restrict__ blse, size_t ld, int n_q, int q_offset, int n_head,
                    attn_select_params prm, int chunk, sel_state *__restrict__ state, int *__restrict__ count)
{
    cg::cluster_group cl = cg::this_cluster();
    extern __shared__ float sm[]; /* this CTA's masses */
    constexpr int NW = SEL_THREADS / 32;
    __shared__ float red[32];
    __shared__ unsigned h_cnt[NW][256], h_nf[NW][256]; /* per warp; row 0 then holds the cluster's sums */
    __shared__ unsigned long long h_mass[NW][256];
    __shared__ sel_hist xh[2][256]; /* this CTA's histogram for the cluster, by pass parity */
    __shared__ float x_max, x_sum;
    __shared__ int x_nfree, x_tcnt, x_tnf;
    __shared__ uint32_t s_prefix;
    __shared__ int s_done, s_found, s_need_nf, s_tie_cut, s_nf, s_bincnt;
    __shared__ unsigned long long s_cum;
    const int C = (int)cl.num_blocks(), rank = (int)cl.block_rank();
    const int64_t it = blockIdx.y;
    const sel_geom g = item_geom(it, n_q, q_offset, n_head, prm);
    const int b_lo = min(g.V, rank * chunk), b_hi = min(g.V, b_lo + chunk);
    const float *row = blse + (size_t)it * ld;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const unsigned long long p_fx = fixed_mass(prm.p >= 1.0 ? 1.0 : prm.p);

    /* the item's LSE and non-forced count over the cluster */
    float mx = -INFINITY;
    int nfl = 0;
    for (int b = b_lo + tid; b < b_hi; b += SEL_THREADS) {
        mx = fmaxf(mx, row[b]);
        nfl += !is_forced(b, g);
    }
    mx = block_max(mx, red);
    nfl = (int)block_sum((float)nfl, red); /* exact below 2^24 */
    if (tid == 0) {
        x_max = mx;
        x_nfree = nfl;
    }
    cl.sync();
    float gmx = -INFINITY;
    int nfree = 0;
    for (int r = 0; r < C; r++) {
        gmx = fmaxf(gmx, *cl.map_shared_rank(&x_max, r));
        nfree += *cl.map_shared_rank(&x_nfree, r);
    }
    const float msafe = gmx == -INFINITY ? 0.f : gmx;
    float sl = 0.f;
    for (int b = b_lo + tid; b < b_hi; b += SEL_THREADS) sl += expf(row[b] - msafe);
    sl = block_sum(sl, red);
    if (tid == 0) x_sum = sl;
    cl.sync();
    float tot = 0.f;
    for (int r = 0; r < C; r++) tot += *cl.map_shared_rank(&x_sum, r); /* rank order: the same in every CTA */
    const float lse = msafe + __logf(tot);
    for (int b = b_lo + tid; b < b_hi; b += SEL_THREADS) sm[b - b_lo] = expf(row[b] - lse); /* as write_kernel */
    if (tid == 0) {
        s_prefix = 0;
        s_cum = 0;
        s_nf = 0;
        s_need_nf = min(prm.kmin, nfree);
        s_done = prm.p >= 1.0;
        s_found = 1;
        s_tie_cut = INT_MAX;
    }
    __syncthreads();

    uint32_t mask = 0;
    int pass = 0;
    for (int shift = 24; shift >= 0 && !s_done; shift -= 8, pass++) { /* s_done: the same in every CTA */
        for (int i = lane; i < 256; i += 32) {
            h_cnt[warp][i] = 0;
            h_nf[warp][i] = 0;
            h_mass[warp][i] = 0;
        }
        __syncwarp();
        const uint32_t prefix = s_prefix;
        for (int b0 = b_lo + warp * 32; b0 < b_hi; b0 += SEL_THREADS) {
            const int b = b0 + lane;
            const float m = b < b_hi ? sm[b - b_lo] : 0.f;
            const uint32_t k = __float_as_uint(m);
            const bool in = b < b_hi && (k & mask) == prefix;
            const int d = in ? (int)((k >> shift) & 255) : 256;
            const unsigned grp = __match_any_sync(0xffffffffu, d);
            const unsigned nfb = __ballot_sync(0xffffffffu, in && !is_forced(b, g));
            const unsigned long long fx = in ? fixed_mass(m) : 0;
            const unsigned lo = __reduce_add_sync(grp, (unsigned)(fx & 0xfffffu));
            const unsigned hi = __reduce_add_sync(grp, (unsigned)(fx >> 20));
            if (in && lane == __ffs(grp) - 1) {
                h_cnt[warp][d] += __popc(grp);
                h_nf[warp][d] += __popc(grp & nfb);
                h_mass[warp][d] += ((unsigned long long)hi << 20) + lo;
            }
            __syncwarp();
        }
        __syncthreads();
        sel_hist *xo = xh[pass & 1];
        for (int i = tid; i < 256; i += SEL_THREADS) {
            sel_hist x = {0u, 0u, 0ull};
            for (int w = 0; w < NW; w++) {
                x.cnt += h_cnt[w][i];
                x.nf += h_nf[w][i];
                x.mass += h_mass[w][i];
            }
            xo[i] = x;
        }
        cl.sync(); /* every CTA's histogram of this pass written */
        for (int i = tid; i < 256; i += SEL_THREADS) {
            unsigned c = 0, f = 0;
            unsigned long long ms = 0;
            for (int r = 0; r < C; r++) {
                const sel_hist x = cl.map_shared_rank(xo, r)[i];
                c += x.cnt;
                f += x.nf;
                ms += x.mass;
            }
            h_cnt[0][i] = c;
            h_nf[0][i] = f;
            h_mass[0][i] = ms;
        }
        __syncthreads();
        if (warp == 0) {
            const unsigned long long cum0 = s_cum;
            const int nf0 = s_nf, need = s_need_nf;
            __syncwarp();
            unsigned long long cum = 0;
            int nf = 0;
            const int d = scan_bins_warp(h_cnt[0], h_nf[0], h_mass[0], cum0, nf0, p_fx, need, &cum, &nf);
            if (lane == 0) {
                if (d < 0) {
                    s_done = 1; /* no prefix meets the criteria: keep all */
                    s_found = 0;
                } else {
                    s_prefix = prefix | ((uint32_t)d << shift);
                    s_cum = cum;
                    s_nf = nf;
                    s_bincnt = (int)h_cnt[0][d];
                }
            }
        }
        mask |= 255u << shift;
        __syncthreads();
    }
    /* ties at v across the cluster: this CTA starts after the ties of the
     * CTAs before it; -1: the cut fell before this chunk (none of its ties),
     * INT_MAX: after it (all of them) */
    if (!s_done && s_found && s_bincnt > 1) { /* the same in every CTA */
        const uint32_t v = s_prefix;
        int tc = 0, tn = 0;
        for (int b = b_lo + tid; b < b_hi; b += SEL_THREADS) {
            const bool t = __float_as_uint(sm[b - b_lo]) == v;
            tc += t;
            tn += t && !is_forced(b, g);
        }
        tc = (int)block_sum((float)tc, red);
        tn = (int)block_sum((float)tn, red);
        if (tid == 0) {
            x_tcnt = tc;
            x_tnf = tn;
        }
        cl.sync();
        if (tid < 32) {
            long long tb = 0;
            int nb = 0;
            for (int r = 0; r < rank; r++) {
                tb += *cl.map_shared_rank(&x_tcnt, r);
                nb += *cl.map_shared_rank(&x_tnf, r);
            }
            const unsigned long long vfx = fixed_mass(__uint_as_float(v));
            unsigned long long cum = s_cum + vfx * (unsigned long long)tb;
            int nf = s_nf + nb, cut = -1;
            bool met = tb > 0 && cum >= p_fx && nf >= s_need_nf;
            for (int b0 = b_lo; b0 < b_hi && !met; b0 += 32) {
                const int b = b0 + tid;
                const bool tie = b < b_hi && __float_as_uint(sm[b - b_lo]) == v;
                unsigned bal = __ballot_sync(0xffffffffu, tie);
                while (bal && !met) {
                    const int l = __ffs(bal) - 1;
                    bal &= bal - 1;
                    cum += vfx;
                    nf += !is_forced(b0 + l, g);
                    cut = b0 + l;
                    met = cum >= p_fx && nf >= s_need_nf;
                }
            }
            if (tid == 0) s_tie_cut = met ? cut : INT_MAX;
        }
    }
    __syncthreads();
    sel_state st;
    st.lse = lse;
    st.keep_all = prm.p >= 1.0 || !s_found;
    st.v = st.keep_all ? 0u : s_prefix;
    st.tie_cut = s_tie_cut;
    int n = 0;
    for (int b = b_lo + tid; b < b_hi; b += SEL_THREADS) n += keeps(b, sm[b - b_lo], st, g);
    n = (int)block_sum((float)n, red);
    if (tid == 0) {
        state[it * C + rank] = st;
        count[it * C + rank] = n;
    }
    cl.sync(); /* no CTA leaves while the others may read its shared memory */
}

/* Grid (C, n_items): chunk r of item blockIdx.y at the offset of the counts
 * before it; off[item] by chunk 0, off[n_items] by the last CTA. */
__global__ void __launch_bounds__(SEL_THREADS)
write_multi_kernel(const float *__restrict__ blse, size_t ld, int n_q, int q_offset, int n_head,
                   attn_select_params prm, int chunk, const sel_state *__restrict__ state,
                   const int *__restrict__ count, int64_t *__restrict__ off, int32_t *__restrict__ idx,
                   int64_t idx_cap)
{
    __shared__ int wcount[SEL_THREADS / 32];
    __shared__ long long red8[32];
    const int C = (int)gridDim.x, r = (int)blockIdx.x;
    const int64_t it = blockIdx.y, me = it * C + r;
    long long s = 0;
    for (int64_t i = threadIdx.x; i < me; i += SEL_THREADS) s += count[i];
    const int64_t o = block_sum_ll(s, red8);
    if (threadIdx.x == 0 && r == 0) off[it] = o;
    if (threadIdx.x == 0 && me == (int64_t)gridDim.y * C - 1) off[gridDim.y] = o + count[me];
    const sel_geom g = item_geom(it, n_q, q_offset, n_head, prm);
    const int b_lo = min(g.V, r * chunk), b_hi = min(g.V, b_lo + chunk);
    compact_range(blse + (size_t)it * ld, b_lo, b_hi, state[me], g, o, idx, idx_cap, wcount);
}

/* workspace: states (n_items), counts (n_items + 1), CUB temp */
static size_t cub_bytes(int64_t n)
{
    size_t t = 0;
    cub::DeviceScan::ExclusiveSum(NULL, t, (int64_t *)NULL, (int64_t *)NULL, (int)n);
    return t;
}

size_t attn_select_workspace(int n_q, int n_head)
{
    const int64_t n_items = (int64_t)((n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK) * n_head;
    const size_t one = (size_t)n_items * sizeof(sel_state) + (size_t)(n_items + 1) * sizeof(int64_t) + 256 +
                       cub_bytes(n_items + 1);
    const size_t multi = (size_t)n_items * SEL_MAXC * (sizeof(sel_state) + sizeof(int));
    return n_items <= SEL_MULTI_ITEMS && multi > one ? multi : one;
}

/* The cluster path (see the head of the file). */
static int select_multi(const float *blse, size_t ld, int n_q, int q_offset, int n_head, const attn_select_params *prm,
                        int64_t *off, int32_t *idx, int64_t idx_cap, void *work, int n_items, int v_max,
                        cudaStream_t st)
{
    int C = 1; /* a power of two, 1 .. SEL_MAXC */
    while (C < SEL_MAXC && C * SEL_MCHUNK < v_max) C *= 2;
    const int chunk = (v_max + C - 1) / C; /* <= SEL_MAXCHUNK */
    sel_state *state = (sel_state *)work;
    int *count = (int *)(state + (size_t)n_items * C);
    static int smem_set;
    cudaError_t e;
    if (!smem_set) {
        e = cudaFuncSetAttribute(select_multi_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 SEL_MAXCHUNK * (int)sizeof(float));
        if (e != cudaSuccess) return (int)e;
        smem_set = 1;
    }
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)C, (unsigned)n_items, 1);
    cfg.blockDim = dim3(SEL_THREADS, 1, 1);
    cfg.dynamicSmemBytes = (size_t)chunk * sizeof(float);
    cfg.stream = st;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = (unsigned)C;
    at[0].val.clusterDim.y = 1;
    at[0].val.clusterDim.z = 1;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    if ((e = cudaLaunchKernelEx(&cfg, select_multi_kernel, blse, ld, n_q, q_offset, n_head, *prm, chunk, state,
                                count)) != cudaSuccess)
        return (int)e;
    write_multi_kernel<<<dim3((unsigned)C, (unsigned)n_items), SEL_THREADS, 0, st>>>(
        blse, ld, n_q, q_offset, n_head, *prm, chunk, state, count, off, idx, idx_cap);
    return (int)cudaGetLastError();
}

int attn_select_topp_cuda(const float *blse, size_t ld, int n_q, int q_offset, int n_head,
                          const attn_select_params *prm, int64_t *off, int32_t *idx, int64_t idx_cap, void *work,
                          size_t work_bytes, void *stream)
{
    return attn_select_topp_cuda_version(0, blse, ld, n_q, q_offset, n_head, prm, off, idx, idx_cap, work, work_bytes,
                                         stream);
}

int attn_select_topp_cuda_version(int version, const float *blse, size_t ld, int n_q, int q_offset, int n_head,
                                  const attn_select_params *prm, int64_t *off, int32_t *idx, int64_t idx_cap,
                                  void *work, size_t work_bytes, void *stream)
{
    if (n_q <= 0 || n_head <= 0 || q_offset < 0 || !prm) return (int)cudaErrorInvalidValue;
    const int64_t n_items = (int64_t)((n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK) * n_head;
    const int v_max = (q_offset + n_q - 1) / ATTN_SBLOCK + 1;
    if (v_max > SEL_MAXV || (size_t)v_max > ld || n_items > INT_MAX - 1) return (int)cudaErrorInvalidValue;
    if (work_bytes < attn_select_workspace(n_q, n_head)) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    if (version < 0 || version > 2 || (version == 2 && n_items > SEL_MULTI_ITEMS)) return (int)cudaErrorInvalidValue;
    if (version == 2 || (version == 0 && n_items <= SEL_MULTI_ITEMS))
        return select_multi(blse, ld, n_q, q_offset, n_head, prm, off, idx, idx_cap, work, (int)n_items, v_max, st);
    sel_state *state = (sel_state *)work;
    int64_t *count = (int64_t *)(state + n_items);
    void *tmp = (void *)(((uintptr_t)(count + n_items + 1) + 255) & ~(uintptr_t)255);
    size_t tmp_bytes = cub_bytes(n_items + 1);
    const int smem = v_max * (int)sizeof(float);
    static int smem_set;
    cudaError_t e;
    if (smem > smem_set) {
        if ((e = cudaFuncSetAttribute(select_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem)) != cudaSuccess)
            return (int)e;
        smem_set = smem;
    }
    if ((e = cudaMemsetAsync(count + n_items, 0, sizeof(int64_t), st)) != cudaSuccess) return (int)e;
    select_kernel<<<(unsigned)n_items, SEL_THREADS, smem, st>>>(blse, ld, n_q, q_offset, n_head, *prm, state, count);
    if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
    if ((e = cub::DeviceScan::ExclusiveSum(tmp, tmp_bytes, count, off, (int)(n_items + 1), st)) != cudaSuccess)
        return (int)e;
    write_kernel<<<(unsigned)n_items, SEL_THREADS, 0, st>>>(blse, ld, n_q, q_offset, n_head, *prm, state, off, idx,
                                                            idx_cap);
    return (int)cudaGetLastError();
}
