/* attn_index_prefill.cu — the rtpurbo indexer for prefill: every query
 * block against all its causal keys, pooled per 64-key block into the
 * envelope of its rows (kernels/attn_sparse.h has the rule; the CPU twin is
 * attn_index_prefill_ref in kernels/cpu/attn_select_ref.c).
 *
 * A CTA is four warps, four consecutive query blocks (one item a warp) and
 * a chunk of IXP_CB key blocks: the warps read the same index keys at about
 * the same time, so L1 serves three of the four reads; each warp loads a
 * block's index keys one block ahead of its products. The score tile of a
 * key block (64 keys x 64 rows) is a small GEMM on tensor cores, keys as
 * the M side so that the max over rows is a max over the accumulator's
 * columns: per 16-key m-tile, eight n-tiles of 8 rows, the running max in
 * registers, then two shuffles across the quad. A non-forced block takes
 * qx (rounded to bf16, held in registers for the warp's whole chunk)
 * against kx; a forced block takes q against the real keys of the head's
 * KV head (d dims), both streamed through L1.
 * Fragment layout: a thread's k-slots of a 16-dim step s (2t, 2t+1, 2t+8,
 * 2t+9) hold its own contiguous dims (t * N/4 + 4s + 0..3 of an N-dim row),
 * the same permutation in A and B (a dot product does not care), so a row
 * is one vector load a thread (an 8-byte load a step on the exact path).
 * The triangle of (query-block group, key chunk) pairs is folded: CTA row y
 * runs group y's chunks, then group n_g-1-y's, so every row of the grid
 * carries about the same work and few CTAs exit empty.
 * Masking (-inf before the max) only where a block crosses the item's
 * first row position or the end of the keys. Rows past n_q repeat the
 * last row (the max is unchanged). scale > 0 is applied after the max.
 * Invariants: r in {8, 16, 32}; d in {64, 128, 256}; 16-byte aligned
 * rows (kx, q, k as cudaMalloc gives them).
 * Also here (end of file): the mean-pooled variant, one pooled query a
 * block scored like a decode query, 64 times fewer scores.
 */
#include "kernels/attn_sparse.h"
#include "kernels/cuda/attn_common.cuh"

enum { IXP_WARPS = 4, IXP_CB = 32 }; /* query blocks a CTA; key blocks a chunk */

/* c += a * b, m16n8k8, bf16 in, f32 accumulate. */
__device__ __forceinline__ void mma1688(float c[4], uint32_t a0, uint32_t a1, uint32_t b0)
{
    asm("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(b0));
}

/* Thread t's N/4 dims of an N-dim bf16 row (t * N/4 ...) as N/8 words;
 * zeros when !ok. */
template <int N>
__device__ __forceinline__ void load_row(uint32_t w[N / 8], const __nv_bfloat16 *row, int t, bool ok)
{
    const __nv_bfloat16 *p = row + t * (N / 4);
    if constexpr (N == 8) {
        w[0] = ok ? __ldg((const unsigned int *)p) : 0u;
    } else if constexpr (N == 16) {
        uint2 u = ok ? __ldg((const uint2 *)p) : make_uint2(0, 0);
        w[0] = u.x, w[1] = u.y;
    } else {
#pragma unroll
        for (int i = 0; i < N / 32; i++) {
            uint4 u = ok ? __ldg((const uint4 *)p + i) : make_uint4(0, 0, 0, 0);
            w[4 * i] = u.x, w[4 * i + 1] = u.y, w[4 * i + 2] = u.z, w[4 * i + 3] = u.w;
        }
    }
}

/* c += A (16 keys: rows g in wa, g+8 in wb) . B (8 rows: wq), N dims. */
template <int N>
__device__ __forceinline__ void tile_dot(float c[4], const uint32_t *wa, const uint32_t *wb, const uint32_t *wq)
{
    if constexpr (N == 8) {
        mma1688(c, wa[0], wb[0], wq[0]);
    } else {
#pragma unroll
        for (int s = 0; s < N / 16; s++) {
            const uint32_t a[4] = {wa[2 * s], wb[2 * s], wa[2 * s + 1], wb[2 * s + 1]};
            mma16816(c, a, wq[2 * s], wq[2 * s + 1]);
        }
    }
}

/* Key blocks of query-block group g (four items): those of its last row. */
__host__ __device__ __forceinline__ int group_chunks(int g, int n_q, int q_offset)
{
    const int last_row = min(g * 4 * ATTN_SBLOCK + 4 * ATTN_SBLOCK - 1, n_q - 1);
    const int V = (q_offset + last_row) / ATTN_SBLOCK + 1;
    return (V + IXP_CB - 1) / IXP_CB;
}

template <int R, int D>
__global__ void __launch_bounds__(IXP_WARPS * 32)
index_prefill_kernel(const float *__restrict__ qx, const __nv_bfloat16 *__restrict__ kx,
                     const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k, float *__restrict__ blse,
                     size_t ld, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, attn_select_params prm,
                     float scale)
{
    constexpr int WR = R / 8; /* words a thread holds of an index key */
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int h = blockIdx.z, n_qb = (n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK, n_g = (n_qb + IXP_WARPS - 1) / IXP_WARPS;
    int grp = blockIdx.y, chunk = blockIdx.x;
    const int c0 = group_chunks(grp, n_q, q_offset);
    if (chunk >= c0) { /* the folded half: group n_g-1-y */
        chunk -= c0;
        grp = n_g - 1 - grp;
        if (grp == (int)blockIdx.y || chunk >= group_chunks(grp, n_q, q_offset)) return;
    }
    const int qb = grp * IXP_WARPS + warp;
    if (qb >= n_qb) return;
    const int row0 = qb * ATTN_SBLOCK, rows = min(ATTN_SBLOCK, n_q - row0);
    const int f = q_offset + row0, V = (f + rows - 1) / ATTN_SBLOCK + 1;
    const int b_lo = chunk * IXP_CB, b_hi = min(b_lo + IXP_CB, V);
    if (b_lo >= b_hi) return;
    const int sink_end = min(prm.sink, f + 1);
    const int local_lo = prm.local > 0 ? max(0, f - prm.local + 1) / ATTN_SBLOCK : V;
    const int kvh = h / (n_head / n_kv_head);

    /* qx rows as B fragments: n-tile nt, row nt*8 + g (clamped to the last row) */
    uint32_t bq[8][WR];
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
        const int n = min(nt * 8 + g, rows - 1);
        const float *xr = qx + ((size_t)(row0 + n) * n_head + h) * R + t * (R / 4);
#pragma unroll
        for (int i = 0; i < WR; i++) bq[nt][i] = pack_bf16(__ldg(xr + 2 * i), __ldg(xr + 2 * i + 1));
    }
    const __nv_bfloat16 *kh = kx + (size_t)h * kv_len * R;
    float *out = blse + ((size_t)qb * n_head + h) * ld;

    auto is_forced = [&](int b) { return b * ATTN_SBLOCK < sink_end || b >= local_lo; };
    /* index keys of block b (rows g and g+8 of each m-tile), loaded one block ahead */
    uint32_t wn[4][2][WR];
    auto load_kx = [&](int b) {
#pragma unroll
        for (int mt = 0; mt < 4; mt++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int j = b * ATTN_SBLOCK + mt * 16 + e * 8 + g;
                load_row<R>(wn[mt][e], kh + (size_t)j * R, t, j < kv_len);
            }
    };
    if (!is_forced(b_lo)) load_kx(b_lo);

    for (int b = b_lo; b < b_hi; b++) {
        const bool forced = is_forced(b);
        uint32_t wa[4][2][WR];
#pragma unroll
        for (int mt = 0; mt < 4; mt++)
#pragma unroll
            for (int e = 0; e < 2; e++)
#pragma unroll
                for (int i = 0; i < WR; i++) wa[mt][e][i] = wn[mt][e][i];
        if (b + 1 < b_hi && !is_forced(b + 1)) load_kx(b + 1);
        const bool mask = b * ATTN_SBLOCK + ATTN_SBLOCK - 1 > f || (b + 1) * ATTN_SBLOCK > kv_len;
        float km[4][2];
#pragma unroll
        for (int mt = 0; mt < 4; mt++) km[mt][0] = km[mt][1] = -INFINITY;
        auto fold = [&](float c[4], int mt, int nt) {
            if (mask) {
                const int j0 = b * ATTN_SBLOCK + mt * 16 + g, n0 = nt * 8 + 2 * t;
                const int p0 = f + min(n0, rows - 1), p1 = f + min(n0 + 1, rows - 1);
                if (j0 > p0 || j0 >= kv_len) c[0] = -INFINITY;
                if (j0 > p1 || j0 >= kv_len) c[1] = -INFINITY;
                if (j0 + 8 > p0 || j0 + 8 >= kv_len) c[2] = -INFINITY;
                if (j0 + 8 > p1 || j0 + 8 >= kv_len) c[3] = -INFINITY;
            }
            km[mt][0] = fmaxf(km[mt][0], fmaxf(c[0], c[1]));
            km[mt][1] = fmaxf(km[mt][1], fmaxf(c[2], c[3]));
        };
        if (!forced) {
#pragma unroll
            for (int mt = 0; mt < 4; mt++)
#pragma unroll
                for (int nt = 0; nt < 8; nt++) {
                    float c[4] = {0.f, 0.f, 0.f, 0.f};
                    tile_dot<R>(c, wa[mt][0], wa[mt][1], bq[nt]);
                    fold(c, mt, nt);
                }
        } else { /* exact: q rows against the real keys, d dims, one 16-dim step at a time (few registers) */
            const uint2 zero = make_uint2(0, 0);
#pragma unroll 1
            for (int nt = 0; nt < 8; nt++) {
                const int n = min(nt * 8 + g, rows - 1);
                const __nv_bfloat16 *qr = q + ((size_t)(row0 + n) * n_head + h) * D + t * (D / 4);
#pragma unroll
                for (int mt = 0; mt < 4; mt++) {
                    const int j = b * ATTN_SBLOCK + mt * 16 + g;
                    const __nv_bfloat16 *k0 = k + ((size_t)j * n_kv_head + kvh) * D + t * (D / 4);
                    const __nv_bfloat16 *k1 = k0 + (size_t)8 * n_kv_head * D;
                    float c[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll 4
                    for (int s = 0; s < D / 16; s++) {
                        const uint2 b2 = __ldg((const uint2 *)(qr + 4 * s));
                        const uint2 a0 = j < kv_len ? __ldg((const uint2 *)(k0 + 4 * s)) : zero;
                        const uint2 a1 = j + 8 < kv_len ? __ldg((const uint2 *)(k1 + 4 * s)) : zero;
                        const uint32_t a[4] = {a0.x, a1.x, a0.y, a1.y};
                        mma16816(c, a, b2.x, b2.y);
                    }
                    fold(c, mt, nt);
                }
            }
        }
        /* max over the quad (the other columns), then the block's log-sum-exp */
        float M = -INFINITY;
#pragma unroll
        for (int mt = 0; mt < 4; mt++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                float v = km[mt][e];
                v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
                v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
                km[mt][e] = v;
                M = fmaxf(M, v);
            }
        for (int o = 4; o < 32; o <<= 1) M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, o));
        /* thread t sums m-tile t's two keys: each key once */
        const float v0 = t == 0 ? km[0][0] : t == 1 ? km[1][0] : t == 2 ? km[2][0] : km[3][0];
        const float v1 = t == 0 ? km[0][1] : t == 1 ? km[1][1] : t == 2 ? km[2][1] : km[3][1];
        float sum = M == -INFINITY ? 0.f : expf(scale * v0 - scale * M) + expf(scale * v1 - scale * M);
        for (int o = 1; o < 32; o <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        if (lane == 0) out[b] = M == -INFINITY ? -INFINITY : scale * M + logf(sum);
    }
}

int attn_index_prefill_cuda(const float *qx, const void *kx, const void *q, const void *k, float *blse,
                            size_t ld, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                            int d, int r, const attn_select_params *prm, void *stream)
{
    if (n_q <= 0 || kv_len <= 0 || q_offset < 0 || n_kv_head <= 0 || n_head <= 0 || n_head % n_kv_head || !prm ||
        n_head > 65535)
        return (int)cudaErrorInvalidValue;
    if ((size_t)((q_offset + n_q - 1) / ATTN_SBLOCK + 1) > ld) return (int)cudaErrorInvalidValue;
    const int n_qb = (n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK, n_g = (n_qb + IXP_WARPS - 1) / IXP_WARPS;
    const int gy = (n_g + 1) / 2;
    int gx = 1;
    for (int y = 0; y < gy; y++) {
        int c = group_chunks(y, n_q, q_offset);
        if (n_g - 1 - y != y) c += group_chunks(n_g - 1 - y, n_q, q_offset);
        gx = c > gx ? c : gx;
    }
    dim3 grid(gx, gy, n_head);
    cudaStream_t st = (cudaStream_t)stream;
    const float scale = 1.0f / sqrtf((float)d);
    typedef const __nv_bfloat16 *cb;
#define IXP_CASE(RR, DD)                                                                                             \
    if (r == RR && d == DD) {                                                                                        \
        index_prefill_kernel<RR, DD><<<grid, IXP_WARPS * 32, 0, st>>>(qx, (cb)kx, (cb)q, (cb)k, blse, ld, n_q, kv_len, \
                                                                      q_offset, n_head, n_kv_head, *prm, scale);     \
        return (int)cudaGetLastError();                                                                              \
    }
    IXP_CASE(8, 64) IXP_CASE(16, 64) IXP_CASE(32, 64)
    IXP_CASE(8, 128) IXP_CASE(16, 128) IXP_CASE(32, 128)
    IXP_CASE(8, 256) IXP_CASE(16, 256) IXP_CASE(32, 256)
#undef IXP_CASE
    return (int)cudaErrorInvalidValue;
}

/* ---- the mean-pooled variant (attn_index_prefill_mean_cuda) ----
 * One CTA per (item, IXM_WARPS * 64/R key blocks): its warps pool the
 * item's qx rows (and, when a forced block is in range, its q rows) into
 * shared memory (a warp sum a dim, so the means differ from the twin's
 * ordered sums by rounding; a 1-row block's are exact); then each warp
 * scores 64/R blocks as the
 * decode indexer does: two keys a lane, the index keys loaded (16-byte
 * loads) before any is used, forced blocks exact against the real keys. */
enum { IXM_WARPS = 8 };

template <int R, int D>
__global__ void __launch_bounds__(IXM_WARPS * 32)
index_prefill_mean_kernel(const float *__restrict__ qx, const __nv_bfloat16 *__restrict__ kx,
                          const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                          float *__restrict__ blse, size_t ld, int n_q, int kv_len, int q_offset, int n_head,
                          int n_kv_head, attn_select_params prm, float scale)
{
    constexpr int NB = 64 / R, CH = R / 8;
    __shared__ float xs[R];
    __shared__ float qs[D];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, h = blockIdx.z, qb = blockIdx.y;
    const int row0 = qb * ATTN_SBLOCK, rows = min(ATTN_SBLOCK, n_q - row0);
    const int f = q_offset + row0, last = f + rows - 1, V = last / ATTN_SBLOCK + 1;
    const int b_cta = blockIdx.x * IXM_WARPS * NB;
    if (b_cta >= V) return; /* the whole CTA: before any barrier */
    const int sink_end = min(prm.sink, f + 1);
    const int local_lo = prm.local > 0 ? max(0, f - prm.local + 1) / ATTN_SBLOCK : V;
    auto forced = [&](int b) { return b * ATTN_SBLOCK < sink_end || b >= local_lo; };
    const int b_end = min(b_cta + IXM_WARPS * NB, V);
    /* a warp per dim, a lane per two rows, then a warp sum: two loads of latency, not 64 */
    for (int c = warp; c < R; c += IXM_WARPS) {
        float sum = 0.f;
        for (int t = lane; t < rows; t += 32) sum += qx[((size_t)(row0 + t) * n_head + h) * R + c];
        for (int o = 16; o; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        if (lane == 0) xs[c] = sum / (float)rows;
    }
    if (b_cta * ATTN_SBLOCK < sink_end || b_end - 1 >= local_lo)
        for (int c = warp; c < D; c += IXM_WARPS) {
            float sum = 0.f;
            for (int t = lane; t < rows; t += 32) sum += __bfloat162float(q[((size_t)(row0 + t) * n_head + h) * D + c]);
            for (int o = 16; o; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
            if (lane == 0) qs[c] = sum / (float)rows;
        }
    __syncthreads();
    const int b_first = b_cta + warp * NB;
    if (b_first >= V) return;
    const __nv_bfloat16 *kh = kx + (size_t)h * kv_len * R;
    const int j_end = min(last + 1, kv_len); /* keys the pooled query sees */
    uint4 buf[NB][2][CH];
#pragma unroll
    for (int i = 0; i < NB; i++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int b = b_first + i, j = b * ATTN_SBLOCK + e * 32 + lane;
            const bool ok = b < V && !forced(b) && j < j_end;
#pragma unroll
            for (int c = 0; c < CH; c++)
                buf[i][e][c] = ok ? __ldg((const uint4 *)(kh + (size_t)j * R) + c) : make_uint4(0, 0, 0, 0);
        }
    float x[R];
#pragma unroll
    for (int c = 0; c < R; c++) x[c] = xs[c];
    const int kvh = h / (n_head / n_kv_head);
    float *out = blse + ((size_t)qb * n_head + h) * ld;
#pragma unroll
    for (int i = 0; i < NB; i++) {
        const int b = b_first + i;
        if (b >= V) break;
        float s[2];
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int j = b * ATTN_SBLOCK + e * 32 + lane;
            float acc = 0.f;
            if (j < j_end) {
                if (!forced(b)) {
                    const __nv_bfloat162 *p = (const __nv_bfloat162 *)buf[i][e];
#pragma unroll
                    for (int c = 0; c < R / 2; c++) {
                        float2 kf = __bfloat1622float2(p[c]);
                        acc = fmaf(kf.x, x[2 * c], acc);
                        acc = fmaf(kf.y, x[2 * c + 1], acc);
                    }
                } else {
                    const __nv_bfloat162 *kj = (const __nv_bfloat162 *)(k + ((size_t)j * n_kv_head + kvh) * D);
#pragma unroll 8
                    for (int c = 0; c < D / 2; c++) {
                        float2 kf = __bfloat1622float2(kj[c]);
                        acc = fmaf(kf.x, qs[2 * c], acc);
                        acc = fmaf(kf.y, qs[2 * c + 1], acc);
                    }
                }
            }
            s[e] = j < j_end ? scale * acc : -INFINITY;
        }
        float mx = fmaxf(s[0], s[1]);
        for (int o = 16; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        float sum = mx == -INFINITY ? 0.f : expf(s[0] - mx) + expf(s[1] - mx);
        for (int o = 16; o; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        if (lane == 0) out[b] = mx == -INFINITY ? -INFINITY : mx + logf(sum);
    }
}

int attn_index_prefill_mean_cuda(const float *qx, const void *kx, const void *q, const void *k, float *blse,
                                 size_t ld, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                                 int d, int r, const attn_select_params *prm, void *stream)
{
    if (n_q <= 0 || kv_len <= 0 || q_offset < 0 || n_kv_head <= 0 || n_head <= 0 || n_head % n_kv_head || !prm ||
        n_head > 65535)
        return (int)cudaErrorInvalidValue;
    const int V_max = (q_offset + n_q - 1) / ATTN_SBLOCK + 1, n_qb = (n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    if ((size_t)V_max > ld || n_qb > 65535 || r < 8 || 64 % r) return (int)cudaErrorInvalidValue;
    const int per_cta = IXM_WARPS * (64 / r);
    dim3 grid((V_max + per_cta - 1) / per_cta, n_qb, n_head);
    cudaStream_t st = (cudaStream_t)stream;
    const float scale = 1.0f / sqrtf((float)d);
    typedef const __nv_bfloat16 *cb;
#define IXM_CASE(RR, DD)                                                                                   \
    if (r == RR && d == DD) {                                                                              \
        index_prefill_mean_kernel<RR, DD><<<grid, IXM_WARPS * 32, 0, st>>>(qx, (cb)kx, (cb)q, (cb)k, blse, ld, \
                                                                          n_q, kv_len, q_offset, n_head,   \
                                                                          n_kv_head, *prm, scale);         \
        return (int)cudaGetLastError();                                                                    \
    }
    IXM_CASE(8, 64) IXM_CASE(16, 64) IXM_CASE(32, 64)
    IXM_CASE(8, 128) IXM_CASE(16, 128) IXM_CASE(32, 128)
    IXM_CASE(8, 256) IXM_CASE(16, 256) IXM_CASE(32, 256)
#undef IXM_CASE
    return (int)cudaErrorInvalidValue;
}
