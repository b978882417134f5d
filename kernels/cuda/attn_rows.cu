/* attn_rows.cu — the policies' rules row by row on the GPU (kernels/attn_rows.h
 * has the rules; the CPU twins are engine/policy/attn_*.c).
 *
 * rows_kernel: one CTA of RT threads (RT_LONG for long rows) per (query
 * row, listed head). Shared memory holds the row: its scores (then
 * probabilities) over positions 0 .. p, the units' masses, a bitonic sort
 * of (mass, unit) pairs in the
 * CPU's order (mass descending, lower unit first on ties: a total order, so
 * any correct sort agrees with qsort), and the keep flags. The walks of
 * top-p (mass summed in double, in sorted order) and top-k run on one thread,
 * in the CPU's order, so the kept sets match the CPU's whenever the masses
 * do. Then exact softmax attention over the kept keys: scores recomputed
 * against the bf16 cache, P·V with NT/d groups of keys per output dimension.
 * Correctness first: this is a plain kernel, not a fast one; the block-sparse
 * kernels of attn_sparse.h are the fast path where their rule matches.
 * Invariants: d is 64, 128 or 256, r <= d; a row's position p < q_pos0 + n_q.
 *
 * Also here, sharing the row helpers: probs_kernel, the exact dense
 * probability rows an attention observer is shown (kernels/attn_probs.h;
 * d up to 256, sliding windows; CPU twin kernels/cpu/attn_probs_ref.c).
 */
#include <cuda_bf16.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/attn_probs.h"
#include "kernels/attn_rows.h"
#include "kernels/cuda/cuda_check.h"

enum { RT = 256, RT_LONG = 1024 };  /* threads a CTA: rows, long rows (rows_kernel) */

__device__ __forceinline__ float bf(uint16_t x)
{
    return __bfloat162float(__ushort_as_bfloat16(x));
}

/* q (D f32, shared) · k (D bf16, 16-byte aligned): the loads of 64 dims
 * issued before their products, so a key costs one memory latency per 64
 * dims, not one per 8; the products in order of c, as the CPU sums. */
template <int D>
__device__ __forceinline__ float dot_qk_d(const float *q, const uint16_t *k)
{
    float acc = 0.f;
#pragma unroll 1
    for (int c0 = 0; c0 < D; c0 += 64) {  /* not unrolled: q stays in shared memory, not in registers */
        uint4 u[8];
#pragma unroll
        for (int i = 0; i < 8; i++) u[i] = *(const uint4 *)(k + c0 + 8 * i);
#pragma unroll
        for (int i = 0; i < 8; i++) {
            const __nv_bfloat162 *p = (const __nv_bfloat162 *)&u[i];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float2 f = __bfloat1622float2(p[e]);
                acc = fmaf(f.x, q[c0 + 8 * i + 2 * e], acc);
                acc = fmaf(f.y, q[c0 + 8 * i + 2 * e + 1], acc);
            }
        }
    }
    return acc;
}

/* d is 64, 128 or 256 (the launchers check it). */
__device__ __forceinline__ float dot_qk(const float *q, const uint16_t *k, int d)
{
    return d == 64 ? dot_qk_d<64>(q, k) : d == 128 ? dot_qk_d<128>(q, k) : dot_qk_d<256>(q, k);
}

template <int NT = RT>
__device__ float block_max(float x, float *red)
{
    for (int o = 16; o; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
    __syncthreads();
    float r = red[0];
    for (int w = 1; w < NT / 32; w++) r = fmaxf(r, red[w]);
    return r;
}

template <int NT = RT>
__device__ float block_sum(float x, float *red)
{
    for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
    __syncthreads();
    float r = red[0];
    for (int w = 1; w < NT / 32; w++) r += red[w];
    return r;
}

/* Unit a sorts before unit b: larger mass, or equal mass and lower index. */
__device__ __forceinline__ bool before(float ma, int ia, float mb, int ib)
{
    return ma > mb || (ma == mb && ia < ib);
}

/* Sorts (sm, si)[0 .. n2) in place, n2 a power of two. */
template <int NT>
__device__ void bitonic(float *sm, int *si, int n2)
{
    for (int k = 2; k <= n2; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int t = threadIdx.x; t < n2; t += NT) {
                int l = t ^ j;
                if (l <= t) continue;
                bool up = (t & k) == 0;
                bool sw = up ? before(sm[l], si[l], sm[t], si[t]) : before(sm[t], si[t], sm[l], si[l]);
                if (sw) {
                    float m = sm[t];
                    sm[t] = sm[l];
                    sm[l] = m;
                    int x = si[t];
                    si[t] = si[l];
                    si[l] = x;
                }
            }
            __syncthreads();
        }
}

struct rows_geom {
    int kv_end, nu_max, n2;     /* positions, units, sort size of the longest row */
};

template <int NT>
__global__ void __launch_bounds__(NT) rows_kernel(attn_rows_rule R, attn_rows_args A, rows_geom G)
{
    extern __shared__ float dyn[];
    __shared__ float qs[256], qx[256], red[32], acc[NT];   /* q, its index projection (r <= d <= 256) */
    __shared__ int nkeep_s;
    float *sc = dyn;                                /* [kv_end] scores, then probabilities */
    float *mass = sc + G.kv_end;                    /* [nu_max] */
    float *sm = mass + G.nu_max;                    /* [n2] sort keys */
    int *si = (int *)(sm + G.n2);                   /* [n2] sort units */
    unsigned char *keep = (unsigned char *)(si + G.n2);  /* [nu_max] */

    const int tid = threadIdx.x, i = blockIdx.x, sel = blockIdx.y, h = A.heads[sel], d = A.d;
    const int p = A.q_pos0 + i, n = p + 1, HKV = A.kv_ld ? A.kv_ld : A.n_kv_head;
    const int g_kv = A.kv_ld ? A.kv_slot[h / (A.n_head / A.n_kv_head)] : h / (A.n_head / HKV);
    const float scale = 1.0f / sqrtf((float)d);
    const uint16_t *kb = A.k + (size_t)g_kv * d, *vb = A.v + (size_t)g_kv * d;
    const size_t ks = (size_t)HKV * d;
    for (int e = tid; e < d; e += NT) qs[e] = A.q[((size_t)i * A.n_head + h) * d + e];
    const int index = R.rule == ROWS_RTPURBO || R.rule == ROWS_RTPURBO_TOPK;
    if (index) {
        __syncthreads();
        for (int e = tid; e < d; e += NT) acc[e] = A.q_pre[((size_t)i * A.n_head + h) * d + e];
        __syncthreads();
        for (int c = tid; c < R.r; c += NT) {
            const float *w = A.wq + ((size_t)h * R.r + c) * d;
            float s = 0.f;
            for (int e = 0; e < d; e++) s = fmaf(w[e], acc[e], s);
            qx[c] = s;
        }
    }
    __syncthreads();

    const int u_sz = R.rule == ROWS_QUEST ? R.page : R.block;
    const int nu = R.rule == ROWS_LOCAL ? 0 : p / u_sz + 1;
    if (R.rule == ROWS_QUEST) {
        const int cur = p / R.page;
        const float *lo = A.page_lo + (size_t)g_kv * A.n_pages * d, *hi = A.page_hi + (size_t)g_kv * A.n_pages * d;
        for (int u = tid; u < cur; u += NT) {
            float ub = 0.f;
            for (int e = 0; e < d; e++) {  /* the CPU's operations in its order, never fused: equal bits */
                float a = __fmul_rn(qs[e], lo[(size_t)u * d + e]), b = __fmul_rn(qs[e], hi[(size_t)u * d + e]);
                ub = __fadd_rn(ub, a > b ? a : b);
            }
            mass[u] = ub;
        }
        for (int u = tid; u <= cur; u += NT) keep[u] = u == cur;
    } else if (R.rule != ROWS_LOCAL) {
        /* the scores the rule ranks by */
        const int sink_end = min(R.sink, n), g = R.block;
        int mlo = (sink_end + g - 1) / g * g, mhi = n;       /* forced_middle */
        if (R.local > 0) mhi = max(p - R.local + 1, 0) / g * g;
        if (mlo > n) mlo = n;
        if (mhi < mlo) mhi = mlo;
        for (int j = tid; j < n; j += NT) {
            bool exact = !index || (R.rule == ROWS_RTPURBO && (j < mlo || j >= mhi));
            float s;
            if (exact) {
                s = scale * dot_qk(qs, kb + (size_t)j * ks, d);
            } else {
                const float *x = A.kx + ((size_t)(A.kx_rows ? A.kx_row[h] : h) * A.kx_ld + j) * R.r;
                float t = 0.f;
                for (int c = 0; c < R.r; c++) t = fmaf(qx[c], x[c], t);
                s = scale * t;
            }
            sc[j] = s;
        }
        /* softmax over 0 .. p, pooled into units */
        float mx = -INFINITY;
        for (int j = tid; j < n; j += NT) mx = fmaxf(mx, sc[j]);
        mx = block_max<NT>(mx, red);
        float sum = 0.f;
        for (int j = tid; j < n; j += NT) {
            float e = expf(sc[j] - mx);
            sc[j] = e;
            sum += e;
        }
        sum = block_sum<NT>(sum, red);
        const float inv = 1.0f / sum;
        __syncthreads();
        for (int u = tid; u < nu; u += NT) {
            int j1 = min((u + 1) * g, n);
            float m = 0.f;
            for (int j = u * g; j < j1; j++) m = __fadd_rn(m, __fmul_rn(sc[j], inv));  /* as pool_softmax */
            mass[u] = m;
        }
        /* forced units */
        const int llo = R.local > 0 ? max(p - R.local + 1, 0) / g : nu;
        for (int u = tid; u < nu; u += NT) keep[u] = u * g < sink_end || u >= llo;
    }
    __syncthreads();

    if (R.rule != ROWS_LOCAL) {
        const int ns = R.rule == ROWS_QUEST ? p / R.page : nu;   /* units ranked */
        const bool all = (R.rule == ROWS_TOPP || R.rule == ROWS_RTPURBO) && R.p >= 1.0;
        if (all) {
            for (int u = tid; u < nu; u += NT) keep[u] = 1;
        } else if (ns > 0) {
            int n2 = 1;
            while (n2 < ns) n2 <<= 1;
            for (int t = tid; t < n2; t += NT) {
                sm[t] = t < ns ? mass[t] : -INFINITY;
                si[t] = t < ns ? t : INT_MAX;
            }
            __syncthreads();
            bitonic<NT>(sm, si, n2);
            if (tid == 0) {
                int before_n = 0, k = R.k_units;
                if (R.rule == ROWS_TOPP || R.rule == ROWS_RTPURBO) {
                    for (int u = 0; u < ns; u++) before_n += keep[u];
                    double cum = 0.0;
                    for (int t = 0; t < ns; t++) {
                        keep[si[t]] = 1;
                        cum += sm[t];
                        if (cum >= R.p) break;
                    }
                    int after = 0;
                    for (int u = 0; u < ns; u++) after += keep[u];
                    k = R.rule == ROWS_RTPURBO && after - before_n < R.kmin ? R.kmin - (after - before_n) : 0;
                }
                for (int t = 0; t < ns && k > 0; t++)
                    if (!keep[si[t]]) {
                        keep[si[t]] = 1;
                        k--;
                    }
            }
        }
    }
    __syncthreads();

    /* exact softmax attention over the kept keys */
    const int s_end = min(R.sink, n), w_lo = max(p - R.window + 1, R.sink);
    int nk = 0;
    float mx = -INFINITY;
    for (int j = tid; j < n; j += NT) {
        bool k = R.rule == ROWS_LOCAL ? (j < s_end || j >= w_lo) : keep[j / u_sz] != 0;
        float s = -INFINITY;
        if (k) {
            s = scale * dot_qk(qs, kb + (size_t)j * ks, d);
            nk++;
        }
        sc[j] = s;
        mx = fmaxf(mx, s);
    }
    mx = block_max<NT>(mx, red);
    float sum = 0.f;
    for (int j = tid; j < n; j += NT) {
        float e = sc[j] == -INFINITY ? 0.f : expf(sc[j] - mx);
        sc[j] = e;
        sum += e;
    }
    sum = block_sum<NT>(sum, red);
    float nkf = block_sum<NT>((float)nk, red);
    if (tid == 0) nkeep_s = (int)nkf;
    const float inv = 1.0f / sum;
    __syncthreads();
    for (int j = tid; j < n; j += NT) sc[j] *= inv;
    __syncthreads();
    const int ng = NT / d, dim = tid % d, grp = tid / d;
    float o = 0.f;
    /* A thread sums its keys j = grp, grp + ng, ... in increasing order,
     * those with p_j != 0 only; eight keys at a time, their loads issued
     * before the products. Where the kept keys are whole units of a size
     * ng divides, units not kept are skipped whole: the same keys in the
     * same order, without visiting every position of a long row. */
    auto span = [&](int j, int j1) {
        for (; j + 7 * ng < j1; j += 8 * ng) {
            float pj[8], vj[8];
#pragma unroll
            for (int e = 0; e < 8; e++) pj[e] = sc[j + e * ng];
#pragma unroll
            for (int e = 0; e < 8; e++) vj[e] = pj[e] != 0.f ? bf(vb[(size_t)(j + e * ng) * ks + dim]) : 0.f;
#pragma unroll
            for (int e = 0; e < 8; e++)
                if (pj[e] != 0.f) o = fmaf(pj[e], vj[e], o);
        }
        for (; j < j1; j += ng) {
            float pj = sc[j];
            if (pj != 0.f) o = fmaf(pj, bf(vb[(size_t)j * ks + dim]), o);
        }
    };
    if (grp < ng) {
        if (R.rule != ROWS_LOCAL && u_sz % ng == 0) {
            for (int u = 0; u * u_sz < n; u++)
                if (keep[u]) span(u * u_sz + grp, min((u + 1) * u_sz, n));
        } else {
            span(grp, n);
        }
    }
    acc[tid] = o;
    __syncthreads();
    if (tid < d) {
        float t = 0.f;
        for (int gq = 0; gq < ng; gq++) t += acc[gq * d + tid];
        A.out[((size_t)i * A.n_head + h) * d + tid] = __bfloat16_as_ushort(__float2bfloat16_rn(t));
    }
    if (A.rows) {
        float *row = A.rows + ((size_t)sel * A.n_q + i) * A.rows_ld;
        for (int j = tid; j < G.kv_end; j += NT) row[j] = j < n ? sc[j] : 0.f;
    }
    if (tid == 0 && A.kept) atomicAdd(&A.kept[h], (unsigned long long)nkeep_s);
}

int attn_rows_cuda(const attn_rows_rule *rule, const attn_rows_args *a, void *stream)
{
    if (!rule || !a || a->n_q <= 0 || a->n_sel <= 0 || a->n_sel > ATTN_ROWS_MAX_HEADS ||
        (a->d != 64 && a->d != 128 && a->d != 256) || a->n_kv_head <= 0 || a->n_head % a->n_kv_head || a->kv_ld < 0)
        return (int)cudaErrorInvalidValue;
    for (int i = 0; i < a->n_sel; i++) {
        const int h = a->heads[i];
        if (h < 0 || h >= a->n_head) return (int)cudaErrorInvalidValue;
        const int g = h / (a->n_head / a->n_kv_head);
        if (a->kv_ld && (a->kv_slot[g] < 0 || a->kv_slot[g] >= a->kv_ld)) return (int)cudaErrorInvalidValue;
        if (a->kx_rows && (a->kx_row[h] < 0 || a->kx_row[h] >= a->kx_rows)) return (int)cudaErrorInvalidValue;
    }
    rows_geom g;
    g.kv_end = a->q_pos0 + a->n_q;
    int u_sz = rule->rule == ROWS_QUEST ? rule->page : rule->block;
    if (rule->rule != ROWS_LOCAL && u_sz < 1) return (int)cudaErrorInvalidValue;
    if ((rule->rule == ROWS_RTPURBO || rule->rule == ROWS_RTPURBO_TOPK) && (rule->r < 1 || rule->r > a->d))
        return (int)cudaErrorInvalidValue;
    g.nu_max = rule->rule == ROWS_LOCAL ? 0 : (g.kv_end - 1) / u_sz + 1;
    g.n2 = 1;
    while (g.n2 < g.nu_max) g.n2 <<= 1;
    if (rule->rule == ROWS_LOCAL) g.n2 = 0;
    size_t bytes = (size_t)g.kv_end * 4 + (size_t)g.nu_max * 4 + (size_t)g.n2 * 8 + (size_t)g.nu_max + 16;
    /* the device's limits, and each kernel's static shared memory as the
     * compiler laid it out (not restated here by hand) */
    static int optin, per_sm;
    static size_t stat_rt, stat_long;
    cudaError_t e = cudaSuccess;
    if (!optin) {
        int dev = 0;
        cudaFuncAttributes fr, fl;
        e = cudaGetDevice(&dev);
        if (e == cudaSuccess) e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
        if (e == cudaSuccess) e = cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev);
        if (e == cudaSuccess) e = cudaFuncGetAttributes(&fr, (const void *)rows_kernel<RT>);
        if (e == cudaSuccess) e = cudaFuncGetAttributes(&fl, (const void *)rows_kernel<RT_LONG>);
        if (e != cudaSuccess) {
            optin = 0;
            return (int)e;
        }
        stat_rt = fr.sharedSizeBytes, stat_long = fl.sharedSizeBytes;
    }
    /* A long row (about 13K positions and more) leaves room for fewer than
     * four CTAs of RT threads on an SM (1 KB an SM reserved per CTA); one
     * CTA of RT_LONG threads then keeps more warps resident to hide the
     * loads' latency. */
    const int lng = 4 * (bytes + stat_rt + 1024) > (size_t)per_sm;
    const size_t stat = lng ? stat_long : stat_rt;
    if (bytes + stat > (size_t)optin) return (int)cudaErrorInvalidValue;
    /* the dynamic limit, set before every launch whose static and dynamic
     * shared memory pass the default 48 KB (the default caps their sum) */
    if (bytes + stat > 48 * 1024) {
        e = lng ? cudaFuncSetAttribute(rows_kernel<RT_LONG>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes)
                : cudaFuncSetAttribute(rows_kernel<RT>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
        if (e != cudaSuccess) return (int)e;
    }
    dim3 grid(a->n_q, a->n_sel);
    if (lng)
        rows_kernel<RT_LONG><<<grid, RT_LONG, bytes, (cudaStream_t)stream>>>(*rule, *a, g);
    else
        rows_kernel<RT><<<grid, RT, bytes, (cudaStream_t)stream>>>(*rule, *a, g);
    e = cudaGetLastError();
    if (e != cudaSuccess) { /* what the launch asked for, once, for the error's reader */
        static int told;
        cudaFuncAttributes fa;
        memset(&fa, 0, sizeof fa);
        cudaFuncGetAttributes(&fa, lng ? (const void *)rows_kernel<RT_LONG> : (const void *)rows_kernel<RT>);
        cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
        cudaStreamIsCapturing((cudaStream_t)stream, &cs);
        cudaGetLastError();
        if (!told++)
            fprintf(stderr, "attn_rows_cuda: launch of %d x %d CTAs of %d threads, %zu B dynamic shared memory "
                            "(kernel: %d B static, %d B dynamic allowed, %d registers; device: %d B a block, %d B an SM; "
                            "stream capturing %d): %s\n",
                    grid.x, grid.y, lng ? RT_LONG : RT, bytes, (int)stat,
                    fa.maxDynamicSharedSizeBytes, fa.numRegs, optin, per_sm, (int)cs, cudaGetErrorString(e));
    }
    return (int)e;
}

struct head_list {
    int h[ATTN_ROWS_MAX_HEADS];
    int row[ATTN_ROWS_MAX_HEADS];   /* the index-key row of h[i] */
};

__global__ void index_keys_kernel(float *kx, long kx_ld, const float *k_pre, const float *wk, int pos0, int n_head,
                                  int n_kv_head, int d, int r, head_list hl)
{
    const int t = blockIdx.x, h = hl.h[blockIdx.y], row = hl.row[blockIdx.y], g = h / (n_head / n_kv_head);
    const float *kr = k_pre + ((size_t)t * n_kv_head + g) * d;
    for (int c = threadIdx.x; c < r; c += blockDim.x) {
        const float *w = wk + ((size_t)h * r + c) * d;
        float s = 0.f;
        for (int e = 0; e < d; e++) s = fmaf(w[e], kr[e], s);
        kx[((size_t)row * kx_ld + pos0 + t) * r + c] = s;
    }
}

int attn_rows_index_keys_cuda(float *kx, long kx_ld, const float *k_pre, const float *wk, int pos0, int n,
                              int n_head, int n_kv_head, int d, int r, const int *heads, int n_sel,
                              const int *kx_row, void *stream)
{
    if (n <= 0 || n_sel <= 0 || n_sel > ATTN_ROWS_MAX_HEADS || r < 1 || r > d || pos0 + n > kx_ld)
        return (int)cudaErrorInvalidValue;
    head_list hl;
    for (int s = 0; s < n_sel; s++) {
        if (heads[s] < 0 || heads[s] >= n_head || (kx_row && kx_row[heads[s]] < 0)) return (int)cudaErrorInvalidValue;
        hl.h[s] = heads[s];
        hl.row[s] = kx_row ? kx_row[heads[s]] : heads[s];
    }
    index_keys_kernel<<<dim3(n, n_sel), 32, 0, (cudaStream_t)stream>>>(kx, kx_ld, k_pre, wk, pos0, n_head, n_kv_head,
                                                                        d, r, hl);
    return (int)cudaGetLastError();
}

__global__ void quest_bounds_kernel(float *lo, float *hi, int n_pages, const uint16_t *k, int pos0, int n,
                                    int n_kv_head, int d, int page)
{
    const int u = pos0 / page + blockIdx.x, g = blockIdx.y, e = threadIdx.x;
    if (u >= n_pages || e >= d) return;
    const int j1 = min((u + 1) * page, pos0 + n);
    float mn = INFINITY, mx = -INFINITY;
    for (int j = u * page; j < j1; j++) {
        float x = bf(k[((size_t)j * n_kv_head + g) * d + e]);
        mn = fminf(mn, x);
        mx = fmaxf(mx, x);
    }
    lo[((size_t)g * n_pages + u) * d + e] = mn;
    hi[((size_t)g * n_pages + u) * d + e] = mx;
}

int attn_rows_quest_bounds_cuda(float *lo, float *hi, int n_pages, const uint16_t *k, int pos0, int n,
                                int n_kv_head, int d, int page, void *stream)
{
    if (n <= 0 || page < 1 || d > 1024 || (pos0 + n - 1) / page >= n_pages) return (int)cudaErrorInvalidValue;
    int pages = (pos0 + n - 1) / page - pos0 / page + 1;
    quest_bounds_kernel<<<dim3(pages, n_kv_head), d, 0, (cudaStream_t)stream>>>(lo, hi, n_pages, k, pos0, n,
                                                                                 n_kv_head, d, page);
    return (int)cudaGetLastError();
}

int attn_rows_wait(void)
{
    return (int)cudaDeviceSynchronize();
}

/* ---- the observers' probability rows (kernels/attn_probs.h) ----
 * probs_kernel: one CTA of RT threads per (query row, head). Thread t owns
 * keys t, t+RT, ...: it writes their scores (0 outside the row's keys),
 * then after the CTA's max their exponentials, then after the sum the
 * probabilities, always re-reading only what it wrote itself, so a row of
 * any length needs no shared memory beyond q. */
template <int D>
__global__ void __launch_bounds__(RT) probs_kernel(float *p, long ldp, const float *q, const uint16_t *k, int n_q,
                                                   int q_pos0, int n_head, int n_kv_head, int window)
{
    const int d = D;
    __shared__ float qs[256], red[32];
    const int tid = threadIdx.x, i = blockIdx.x, h = blockIdx.y;
    const int pos = q_pos0 + i, kv_end = q_pos0 + n_q, lo = window && pos - window + 1 > 0 ? pos - window + 1 : 0;
    const int g = h / (n_head / n_kv_head);
    const float scale = 1.0f / sqrtf((float)d);
    const uint16_t *kb = k + (size_t)g * d;
    const size_t ks = (size_t)n_kv_head * d;
    float *row = p + ((size_t)h * n_q + i) * ldp;
    for (int e = tid; e < d; e += RT) qs[e] = q[((size_t)i * n_head + h) * d + e];
    __syncthreads();
    float m = -INFINITY;
#pragma unroll 1
    for (int j = tid; j < kv_end; j += RT) {
        float s = 0.f;
        if (j >= lo && j <= pos) {
            s = dot_qk_d<D>(qs, kb + (size_t)j * ks) * scale;
            m = fmaxf(m, s);
        }
        row[j] = s;
    }
    m = block_max(m, red);
    float sum = 0.f;
    for (int j = tid; j < kv_end; j += RT)
        if (j >= lo && j <= pos) {
            float e = expf(row[j] - m);
            row[j] = e;
            sum += e;
        }
    const float inv = 1.0f / block_sum(sum, red);
    for (int j = tid; j < kv_end; j += RT)
        if (j >= lo && j <= pos) row[j] *= inv;
}

int attn_probs_cuda(float *p, long ldp, const float *q, const uint16_t *k, int n_q, int q_pos0, int n_head,
                    int n_kv_head, int d, int window, void *stream)
{
    if (n_q <= 0 || q_pos0 < 0 || n_head <= 0 || n_kv_head <= 0 || n_head % n_kv_head || (d != 64 && d != 128 &&
        d != 256) || window < 0 || ldp < q_pos0 + n_q || n_q > 65535 || n_head > 65535)
        return (int)cudaErrorInvalidValue;
    const dim3 grid(n_q, n_head);
    cudaStream_t st = (cudaStream_t)stream;
    if (d == 64) probs_kernel<64><<<grid, RT, 0, st>>>(p, ldp, q, k, n_q, q_pos0, n_head, n_kv_head, window);
    else if (d == 128) probs_kernel<128><<<grid, RT, 0, st>>>(p, ldp, q, k, n_q, q_pos0, n_head, n_kv_head, window);
    else probs_kernel<256><<<grid, RT, 0, st>>>(p, ldp, q, k, n_q, q_pos0, n_head, n_kv_head, window);
    return (int)cudaGetLastError();
}
