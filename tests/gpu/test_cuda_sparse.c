/* test_cuda_sparse.c — the sparse decode pipeline's selection and per-group
 * decode on the GPU against their CPU twins, fresh random inputs each run,
 * outputs poisoned (0xff: NaN, and -1 in the lists) before each call:
 *   - attn_select_topp_cuda (both paths: the cluster one for few items,
 *     the one-CTA one for many) against attn_select_topp_ref: the lists
 *     must be identical item by item, exact ties in the block LSEs
 *     included;
 *   - attn_sparse_union_cuda against attn_sparse_union_ref: identical
 *     offsets, blocks and masks;
 *   - attn_sparse_decode_cuda_version 1 (per head) and 2 (per group,
 *     over the union) against attn_sparse_decode_ref on the same lists:
 *     out ||d||/||ref|| < 1e-2 (bf16 P and output, as test_cuda_attn.c),
 *     lse max |d| < 2e-3 (-inf where the twin has -inf), no NaN.
 * Kernels are called directly on the default stream with device memory
 * from the CUDA runtime.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <string.h>

#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"
#include "tests/gpu/gpu.h"
#include "tests/gpu/gpu_mem.h"
#include "tests/test.h"

#define TOL_OUT 1e-2
#define TOL_LSE 2e-3

/* Selection of n_q rows at q_offset, H heads: block LSEs amp * u^8 (peaked;
 * quant > 0 rounds them to multiples of 1/quant: many exact ties). */
static int check_select(int n_q, int q_offset, int H, float amp, float quant)
{
    const attn_select_params prm = {4, 64, 4, 0.9};
    const int n_qb = (n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK, V = (q_offset + n_q - 1) / ATTN_SBLOCK + 1;
    const int64_t n_items = (int64_t)n_qb * H;
    int64_t cap = 0;
    for (int64_t it = 0; it < n_items; it++) {
        const int qb = (int)(it / H), last = qb * ATTN_SBLOCK + ATTN_SBLOCK - 1 < n_q ? qb * ATTN_SBLOCK + 63 : n_q - 1;
        cap += (q_offset + last) / ATTN_SBLOCK + 1;
    }
    const size_t n_el = (size_t)n_items * V, wb = attn_select_workspace(n_q, H);
    float *blse = pb_malloc(n_el * sizeof(float));
    int64_t *off = pb_malloc((size_t)(n_items + 1) * 8), *roff = pb_malloc((size_t)(n_items + 1) * 8);
    int32_t *idx = pb_malloc((size_t)cap * 4), *ridx = pb_malloc((size_t)cap * 4);
    gpu_fill(blse, n_el, 0.0f, 1.0f);
    for (size_t i = 0; i < n_el; i++) {
        float u2 = blse[i] * blse[i], u4 = u2 * u2, x = amp * u4 * u4;
        blse[i] = quant > 0 ? rintf(x * quant) / quant : x;
    }
    float *dblse = gpu_dev(n_el * sizeof(float));
    int64_t *doff = gpu_dev((size_t)(n_items + 1) * 8);
    int32_t *didx = gpu_dev((size_t)cap * 4);
    void *work = gpu_dev(wb);
    int ok = dblse && doff && didx && work;
    if (ok) {
        cudaMemcpy(dblse, blse, n_el * sizeof(float), cudaMemcpyHostToDevice);
        cudaMemset(doff, 0xff, (size_t)(n_items + 1) * 8);
        cudaMemset(didx, 0xff, (size_t)cap * 4);
        cudaMemset(work, 0xff, wb);
        ok = gpu_launched(attn_select_topp_cuda(dblse, (size_t)V, n_q, q_offset, H, &prm, doff, didx, cap, work, wb, NULL),
                      "select");
    }
    long diff = 0;
    if (ok) {
        cudaMemcpy(off, doff, (size_t)(n_items + 1) * 8, cudaMemcpyDeviceToHost);
        ok = off[0] == 0 && off[n_items] >= 0 && off[n_items] <= cap;
        if (!ok) printf("    select %d q @%d: offsets off[0] %lld, off[n] %lld (cap %lld)\n", n_q, q_offset,
                        (long long)off[0], (long long)off[n_items], (long long)cap);
        if (ok) cudaMemcpy(idx, didx, (size_t)off[n_items] * 4, cudaMemcpyDeviceToHost);
    }
    if (ok) {
        attn_select_topp_ref(blse, (size_t)V, n_q, q_offset, H, &prm, roff, ridx);
        for (int64_t it = 0; it < n_items; it++) {
            int same = off[it + 1] - off[it] == roff[it + 1] - roff[it];
            for (int64_t e = 0; same && e < roff[it + 1] - roff[it]; e++) same = idx[off[it] + e] == ridx[roff[it] + e];
            diff += !same;
        }
        printf("    select %5d q @%7d  %2d heads  %5lld items  quant %g  blocks %lld  differing items %ld\n", n_q,
               q_offset, H, (long long)n_items, quant, (long long)roff[n_items], diff);
        ok = diff == 0;
    }
    cudaFree(dblse), cudaFree(doff), cudaFree(didx), cudaFree(work);
    free(blse), free(off), free(roff), free(idx), free(ridx);
    return ok;
}

/* small cases (the sanitizers run these) */
TEST(gpu_select_topp_small)
{
    int ok = 1;
    ok &= check_select(1, 999, 32, 20.f, 0.f);        /* decode, one CTA a cluster */
    ok &= check_select(1, 999, 32, 20.f, 4.f);        /* ties */
    ok &= check_select(1, 99999, 32, 20.f, 0.f);      /* 1563 blocks: 4 CTAs, a short last one */
    ok &= check_select(1, 99999, 9, 3.f, 1.f);        /* ties in every chunk, the cut inside the cluster */
    ok &= check_select(300, 577, 9, 8.f, 2.f);        /* few prefill items */
    ok &= check_select(1024, 0, 32, 20.f, 4.f);       /* 512 items: one CTA each */
    CHECK(ok);
}

TEST(gpu_select_topp_large)
{
    int ok = 1;
    ok &= check_select(1, 1048575, 32, 20.f, 4.f);    /* 1M: 8 CTAs */
    ok &= check_select(1, 1048575, 32, 20.f, 0.f);
    ok &= check_select(64, 262080, 32, 20.f, 0.f);    /* a 64-row chunk at 256K */
    ok &= check_select(4096, 0, 32, 20.f, 4.f);       /* many items: one CTA each */
    CHECK(ok);
}

/* Random decode lists (host): head h keeps each block with probability
 * rho, or shares its group's draw with probability corr; some heads empty;
 * descending when desc. Returns the longest list. */
static int make_lists(int H, int G, int n_kb, double rho, double corr, int desc, int64_t *off, int32_t *idx)
{
    pb_rng *r = gpu_rng();
    unsigned char *grp = pb_malloc((size_t)n_kb);
    int most = 0;
    off[0] = 0;
    for (int h = 0; h < H; h++) {
        if (h % G == 0)
            for (int b = 0; b < n_kb; b++) grp[b] = rng_unit(r) < rho;
        int64_t n = off[h];
        if (rng_below(r, 7) != 0)
            for (int i = 0; i < n_kb; i++) {
                const int b = desc ? n_kb - 1 - i : i;
                if (rng_unit(r) < corr ? grp[b] : rng_unit(r) < rho) idx[n++] = b;
            }
        off[h + 1] = n;
        most = (int)(n - off[h]) > most ? (int)(n - off[h]) : most;
    }
    free(grp);
    return most;
}

/* The union and both decode versions on one set of lists. */
static int check_group(int H, int KVH, int d, int kv_len, double rho, double corr, int desc)
{
    const int n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK, G = H / KVH;
    const size_t nkv = (size_t)kv_len * KVH * d, nq = (size_t)H * d, ucap = (size_t)KVH * n_kb;
    int64_t *off = pb_malloc((size_t)(H + 1) * 8), *uoff = pb_malloc((size_t)(KVH + 1) * 8),
            *ruoff = pb_malloc((size_t)(KVH + 1) * 8);
    int32_t *idx = pb_malloc((size_t)H * n_kb * 4 + 4), *uidx = pb_malloc(ucap * 4), *ruidx = pb_malloc(ucap * 4);
    uint32_t *umask = pb_malloc(ucap * 4), *rumask = pb_malloc(ucap * 4);
    uint16_t *q = pb_malloc(nq * 2), *k = pb_malloc(nkv * 2), *v = pb_malloc(nkv * 2), *og = pb_malloc(nq * 2);
    float *ref = pb_malloc(nq * 4), *rlse = pb_malloc((size_t)H * 4), *out = pb_malloc(nq * 4),
          *lg = pb_malloc((size_t)H * 4);
    const int most = make_lists(H, G, n_kb, rho, corr, desc, off, idx);
    gpu_fill_bf16(q, nq, 2.0f);
    gpu_fill_bf16(k, nkv, 2.0f);
    gpu_fill_bf16(v, nkv, 1.0f);
    const size_t uwb = attn_sparse_union_workspace(kv_len, KVH),
                 wb = attn_sparse_decode_workspace(most, kv_len, H, KVH, d);
    int64_t *doff = gpu_dev((size_t)(H + 1) * 8), *duoff = gpu_dev((size_t)(KVH + 1) * 8);
    int32_t *didx = gpu_dev((size_t)off[H] * 4), *duidx = gpu_dev(ucap * 4);
    uint32_t *dumask = gpu_dev(ucap * 4);
    void *dq = gpu_dev(nq * 2), *dk = gpu_dev(nkv * 2), *dv = gpu_dev(nkv * 2), *dout = gpu_dev(nq * 2), *uwork = gpu_dev(uwb),
         *work = gpu_dev(wb);
    float *dlse = gpu_dev((size_t)H * 4);
    int ok = doff && duoff && didx && duidx && dumask && dq && dk && dv && dout && uwork && work && dlse;
    if (ok) {
        cudaMemcpy(doff, off, (size_t)(H + 1) * 8, cudaMemcpyHostToDevice);
        if (off[H]) cudaMemcpy(didx, idx, (size_t)off[H] * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dq, q, nq * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dk, k, nkv * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dv, v, nkv * 2, cudaMemcpyHostToDevice);
        cudaMemset(duoff, 0xff, (size_t)(KVH + 1) * 8);
        cudaMemset(duidx, 0xff, ucap * 4);
        cudaMemset(dumask, 0xff, ucap * 4);
        cudaMemset(uwork, 0xff, uwb);
        ok = gpu_launched(attn_sparse_union_cuda(doff, didx, most, kv_len, H, KVH, duoff, duidx, dumask, uwork, uwb, NULL),
                      "union");
    }
    if (ok) {
        attn_sparse_union_ref(off, idx, kv_len, H, KVH, ruoff, ruidx, rumask);
        cudaMemcpy(uoff, duoff, (size_t)(KVH + 1) * 8, cudaMemcpyDeviceToHost);
        cudaMemcpy(uidx, duidx, ucap * 4, cudaMemcpyDeviceToHost);
        cudaMemcpy(umask, dumask, ucap * 4, cudaMemcpyDeviceToHost);
        long bad = 0;
        for (int g = 0; g <= KVH; g++) bad += uoff[g] != ruoff[g];
        for (int64_t e = 0; !bad && e < ruoff[KVH]; e++) bad += uidx[e] != ruidx[e] || umask[e] != rumask[e];
        printf("    union  %2d/%d  kv %7d  rho %.2f corr %.1f%s  listed %lld  union %lld  differing %ld\n", H, KVH,
               kv_len, rho, corr, desc ? " desc" : "", (long long)off[H], (long long)ruoff[KVH], bad);
        ok = bad == 0;
        attn_sparse_decode_ref(q, k, v, off, idx, ref, rlse, kv_len, H, KVH, d);
    }
    for (int ver = 1; ok && ver <= attn_sparse_decode_versions(); ver++) {
        cudaMemset(dout, 0xff, nq * 2);
        cudaMemset(dlse, 0xff, (size_t)H * 4);
        cudaMemset(work, 0xff, wb);
        ok = gpu_launched(attn_sparse_decode_cuda_version(ver, dq, dk, dv, doff, didx, most, dout, dlse, kv_len, H, KVH, d,
                                                      work, wb, NULL),
                      "decode");
        if (!ok) break;
        cudaMemcpy(og, dout, nq * 2, cudaMemcpyDeviceToHost);
        cudaMemcpy(lg, dlse, (size_t)H * 4, cudaMemcpyDeviceToHost);
        for (size_t i = 0; i < nq; i++) out[i] = attn_bf16_to_f32(og[i]);
        gpu_err e = gpu_compare(out, ref, nq);
        double lerr = 0;
        size_t lbad = 0;
        for (int h = 0; h < H; h++) {
            if (isnan(lg[h])) lbad++;
            else if (isinf(rlse[h]) || isinf(lg[h])) lbad += lg[h] != rlse[h];
            else lerr = fabs((double)lg[h] - rlse[h]) > lerr ? fabs((double)lg[h] - rlse[h]) : lerr;
        }
        printf("    decode v%d d %3d  rel %.3e  lse max|d| %.3e  bad %zu\n", ver, d, e.rel_l2, lerr, e.n_bad + lbad);
        ok = e.n_bad == 0 && lbad == 0 && e.rel_l2 < TOL_OUT && lerr < TOL_LSE;
    }
    void *ps[] = {doff, duoff, didx, duidx, dumask, dq, dk, dv, dout, uwork, work, dlse};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i]) cudaFree(ps[i]);
    free(off), free(uoff), free(ruoff), free(idx), free(uidx), free(ruidx), free(umask), free(rumask);
    free(q), free(k), free(v), free(og), free(ref), free(rlse), free(out), free(lg);
    return ok;
}

TEST(gpu_sparse_decode_union_small)
{
    int ok = 1;
    ok &= check_group(32, 8, 128, 1000, 0.5, 0.0, 1);    /* descending lists, a tail block */
    ok &= check_group(9, 3, 64, 5000, 0.3, 0.0, 1);
    ok &= check_group(16, 1, 64, 3000, 0.2, 0.0, 0);     /* G 16: the whole m16 tile */
    ok &= check_group(32, 16, 64, 5000, 0.3, 0.0, 1);    /* 16 kv heads: the union's multi-launch path */
    CHECK(ok);
}

TEST(gpu_sparse_decode_union_large)
{
    int ok = 1;
    ok &= check_group(32, 8, 128, 70000, 0.1, 0.0, 0);   /* independent heads */
    ok &= check_group(32, 8, 128, 70001, 0.1, 0.8, 0);   /* heads of a group alike */
    ok &= check_group(9, 3, 64, 200000, 0.03, 0.5, 0);
    CHECK(ok);
}
