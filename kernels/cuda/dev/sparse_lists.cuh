/* sparse_lists.cuh (dev) — block lists and row comparison shared by the
 * sparse harnesses (attn_sparse.cu, attn_sparse_union.cu): lists made on
 * the device from a hash (each causal block kept with probability rho, the
 * sink and the two newest always; with corr, a head's draw is its kv
 * group's with probability corr) or on the host (small, irregular), and
 * the comparison of sampled rows with the CPU twin's.
 */
#ifndef PURBO_DEV_SPARSE_LISTS_CUH
#define PURBO_DEV_SPARSE_LISTS_CUH

#include "kernels/attn_sparse.h"
#include "kernels/cuda/dev/dev_common.cuh"

/* ---- block lists ---- */

struct lists {
    std::vector<int64_t> off;
    std::vector<int32_t> idx;
    int64_t *d_off = nullptr;
    int32_t *d_idx = nullptr;
    int max_len = 0;
    double causal_blocks = 0, flop_blocks = 0; /* causal blocks of all items; listed, diagonal halved */
};

static void lists_free(lists &L)
{
    if (L.d_off) CK(cudaFree(L.d_off));
    if (L.d_idx) CK(cudaFree(L.d_idx));
    L.d_off = nullptr;
    L.d_idx = nullptr;
}

/* Last causal block of item (qb): the block of the position of its last row. */
__host__ __device__ static inline int last_block(int qb, int n_q, int q_offset)
{
    int last_row = min(qb * 64 + 63, n_q - 1);
    return (q_offset + last_row) / 64;
}

/* count (write == false) or write the kept blocks of each item */
__global__ static void gen_lists_kernel(int n_items, int n_head, int n_q, int q_offset, float rho, uint32_t seed,
                                        int group, float corr, const int64_t *off, int32_t *idx, int64_t *count)
{
    int it = blockIdx.x * blockDim.x + threadIdx.x;
    if (it >= n_items) return;
    const int qb = it / n_head, lb = last_block(qb, n_q, q_offset);
    const uint64_t git = (uint64_t)qb * n_head + (it % n_head) / group; /* the item's group */
    int64_t n = 0, o = off ? off[it] : 0;
    for (int b = 0; b <= lb; b++) {
        /* with probability corr the draw of the group (shared by its heads), else the head's own */
        const bool shared = corr > 0.f && 0.5f * (dev_hash_unit(seed ^ 0x9e3779b9u, (uint64_t)it * 1048576u + b) + 1.f) < corr;
        const float u = shared ? dev_hash_unit(seed ^ 0x85ebca6bu, git * 1048576u + b)
                               : dev_hash_unit(seed, (uint64_t)it * 1048576u + b);
        bool keep = b == 0 || b >= lb - 1 || 0.5f * (u + 1.f) < rho;
        if (!keep) continue;
        if (off) idx[o + n] = b;
        n++;
    }
    if (!off) count[it] = n;
}

/* Lists on the device (and their offsets on the host), generated there. */
static lists make_lists(int n_q, int q_offset, int n_head, float rho, uint32_t seed, int group = 1, float corr = 0.f)
{
    lists L;
    const int n_qb = (n_q + 63) / 64, n_items = n_qb * n_head;
    int64_t *d_cnt;
    CK(cudaMalloc(&d_cnt, sizeof(int64_t) * n_items));
    gen_lists_kernel<<<(n_items + 255) / 256, 256>>>(n_items, n_head, n_q, q_offset, rho, seed, group, corr, NULL, NULL,
                                                     d_cnt);
    CK(cudaGetLastError());
    std::vector<int64_t> cnt(n_items);
    CK(cudaMemcpy(cnt.data(), d_cnt, sizeof(int64_t) * n_items, cudaMemcpyDeviceToHost));
    L.off.assign(n_items + 1, 0);
    for (int i = 0; i < n_items; i++) {
        L.off[i + 1] = L.off[i] + cnt[i];
        L.max_len = std::max(L.max_len, (int)cnt[i]);
        const int qb = i / n_head, lb = last_block(qb, n_q, q_offset);
        L.causal_blocks += lb + 1;
        L.flop_blocks += cnt[i] - 0.5; /* every list here holds its diagonal block */
    }
    CK(cudaMalloc(&L.d_off, sizeof(int64_t) * (n_items + 1)));
    CK(cudaMalloc(&L.d_idx, sizeof(int32_t) * std::max<int64_t>(1, L.off[n_items])));
    CK(cudaMemcpy(L.d_off, L.off.data(), sizeof(int64_t) * (n_items + 1), cudaMemcpyHostToDevice));
    gen_lists_kernel<<<(n_items + 255) / 256, 256>>>(n_items, n_head, n_q, q_offset, rho, seed, group, corr, L.d_off,
                                                     L.d_idx, NULL);
    CK(cudaGetLastError());
    CK(cudaFree(d_cnt));
    return L;
}

/* Small host-made lists for validation: random blocks, some lists empty,
 * some without their diagonal, optionally descending. */
static lists host_lists(int n_items, int n_head, int n_q, int q_offset, float rho, bool descending, uint32_t seed)
{
    lists L;
    srand(seed);
    L.off.push_back(0);
    for (int it = 0; it < n_items; it++) {
        const int lb = last_block(it / n_head, n_q, q_offset);
        std::vector<int32_t> row;
        int kind = rand() % 8; /* 0: empty, 1: no diagonal, else random with diagonal */
        for (int b = 0; b <= lb && kind != 0; b++)
            if ((b == lb && kind != 1) || rand() < rho * RAND_MAX) row.push_back(b);
        if (descending) std::reverse(row.begin(), row.end());
        L.idx.insert(L.idx.end(), row.begin(), row.end());
        L.off.push_back((int64_t)L.idx.size());
        L.max_len = std::max(L.max_len, (int)row.size());
    }
    CK(cudaMalloc(&L.d_off, sizeof(int64_t) * L.off.size()));
    CK(cudaMalloc(&L.d_idx, sizeof(int32_t) * std::max<size_t>(1, L.idx.size())));
    CK(cudaMemcpy(L.d_off, L.off.data(), sizeof(int64_t) * L.off.size(), cudaMemcpyHostToDevice));
    if (!L.idx.empty())
        CK(cudaMemcpy(L.d_idx, L.idx.data(), sizeof(int32_t) * L.idx.size(), cudaMemcpyHostToDevice));
    return L;
}

static void host_copy_idx(lists &L)
{
    L.idx.resize(L.off.back());
    if (!L.idx.empty()) CK(cudaMemcpy(L.idx.data(), L.d_idx, sizeof(int32_t) * L.idx.size(), cudaMemcpyDeviceToHost));
}

/* ---- comparison ---- */

struct cmp_out { dev_cmp c; double lse_err; long nan; };

/* rows: which rows (of n_head x d each) of out/lse to compare with ref/rlse
 * (ref holds exactly those rows, in order). */
static cmp_out compare_rows(const std::vector<uint16_t> &out, const std::vector<float> &lse,
                            const std::vector<float> &ref, const std::vector<float> &rlse, const std::vector<int> &rows,
                            int H, int D)
{
    cmp_out r{};
    std::vector<uint16_t> got;
    for (int i : rows) got.insert(got.end(), &out[(size_t)i * H * D], &out[(size_t)(i + 1) * H * D]);
    r.c = dev_compare(got.data(), ref.data(), got.size());
    for (size_t x = 0; x < out.size(); x++) r.nan += isnan(attn_bf16_to_f32(out[x]));
    for (size_t x = 0; x < lse.size(); x++) r.nan += isnan(lse[x]);
    for (size_t n = 0; n < rows.size(); n++)
        for (int h = 0; h < H; h++) {
            float a = lse[(size_t)rows[n] * H + h], b = rlse[n * H + h];
            double e = (isinf(a) && isinf(b) && a == b) ? 0.0 : fabs((double)a - b);
            if (!(e <= r.lse_err)) r.lse_err = isnan(e) ? INFINITY : e;
        }
    return r;
}

/* ---- one prefill's buffers, for validation ---- */

/* q (n_q, H, D), k and v (kv_len, KVH, D) bf16 filled from seed+1..3 on
 * the device, out and lse NaN-poisoned; fetch copies all five back. */
struct prefill_io {
    size_t nq_el, nkv_el, nl;
    void *dq, *dk, *dv, *dout;
    float *dlse;
    std::vector<uint16_t> q, k, v, out;
    std::vector<float> lse;
};

static prefill_io prefill_io_new(int n_q, int kv_len, int H, int KVH, int D, uint32_t seed)
{
    prefill_io b;
    b.nq_el = (size_t)n_q * H * D;
    b.nkv_el = (size_t)kv_len * KVH * D;
    b.nl = (size_t)n_q * H;
    CK(cudaMalloc(&b.dq, b.nq_el * 2));
    CK(cudaMalloc(&b.dk, b.nkv_el * 2));
    CK(cudaMalloc(&b.dv, b.nkv_el * 2));
    CK(cudaMalloc(&b.dout, b.nq_el * 2));
    CK(cudaMalloc(&b.dlse, b.nl * 4));
    dev_fill(b.dq, b.nq_el, 2.f, seed + 1);
    dev_fill(b.dk, b.nkv_el, 2.f, seed + 2);
    dev_fill(b.dv, b.nkv_el, 1.f, seed + 3);
    CK(cudaMemset(b.dout, 0xff, b.nq_el * 2));
    CK(cudaMemset(b.dlse, 0xff, b.nl * 4));
    return b;
}

static void prefill_io_fetch(prefill_io &b)
{
    b.q.resize(b.nq_el);
    b.k.resize(b.nkv_el);
    b.v.resize(b.nkv_el);
    b.out.resize(b.nq_el);
    b.lse.resize(b.nl);
    CK(cudaMemcpy(b.q.data(), b.dq, b.nq_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b.k.data(), b.dk, b.nkv_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b.v.data(), b.dv, b.nkv_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b.out.data(), b.dout, b.nq_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b.lse.data(), b.dlse, b.nl * 4, cudaMemcpyDeviceToHost));
}

static void prefill_io_free(prefill_io &b)
{
    CK(cudaFree(b.dq)); CK(cudaFree(b.dk)); CK(cudaFree(b.dv)); CK(cudaFree(b.dout)); CK(cudaFree(b.dlse));
}

/* Rows to check: all n_q, or the first and last 8 and random ones (seeded)
 * up to n_sample. */
static std::vector<int> sample_rows(int n_q, int n_sample, uint32_t seed)
{
    std::vector<int> rows;
    if (n_sample <= 0 || n_sample >= n_q) {
        for (int i = 0; i < n_q; i++) rows.push_back(i);
    } else {
        for (int i = 0; i < 8; i++) { rows.push_back(i); rows.push_back(n_q - 1 - i); }
        srand(seed);
        while ((int)rows.size() < n_sample) rows.push_back(rand() % n_q);
    }
    return rows;
}

/* A block-sparse prefill's out/lse over the lists (off, idx) against
 * attn_sparse_prefill_ref on `rows`. q, k, v: the bf16 inputs as the
 * kernel read them. */
static cmp_out check_sparse_rows(const std::vector<uint16_t> &q, const std::vector<uint16_t> &k,
                                 const std::vector<uint16_t> &v, const int64_t *off, const int32_t *idx,
                                 const std::vector<uint16_t> &out, const std::vector<float> &lse,
                                 const std::vector<int> &rows, int n_q, int kv_len, int q_offset, int H, int KVH, int D)
{
    std::vector<float> ref, rlse, r1((size_t)n_q * H * D), l1((size_t)n_q * H);
    for (int i : rows) {
        attn_sparse_prefill_ref(q.data(), k.data(), v.data(), off, idx, r1.data(), l1.data(), n_q, kv_len, q_offset, H,
                                KVH, D, i, 1);
        ref.insert(ref.end(), &r1[(size_t)i * H * D], &r1[(size_t)(i + 1) * H * D]);
        rlse.insert(rlse.end(), &l1[(size_t)i * H], &l1[(size_t)(i + 1) * H]);
    }
    return compare_rows(out, lse, ref, rlse, rows, H, D);
}

#endif
