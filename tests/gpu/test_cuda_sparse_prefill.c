/* test_cuda_sparse_prefill.c — block-sparse prefill on the GPU against its
 * CPU twins, fresh random inputs each run, outputs poisoned (0xff: NaN, and
 * -1 in the lists) before each call:
 *   - attn_sparse_prefill_union_lists_cuda against
 *     attn_sparse_prefill_union_lists_ref: identical union lengths, blocks
 *     and masks per (query block, kv head);
 *   - attn_sparse_prefill_union_attend_cuda (one pass per kv head over the
 *     union), attn_sparse_prefill_cuda (per query head, the default
 *     version) and attn_sparse_prefill_union_cuda (the unions built and
 *     attended in one call, in its workspace) against
 *     attn_sparse_prefill_ref on the original lists, and
 *     attn_sparse_prefill_union_ref on the unions against the same:
 *     out ||d||/||ref|| < 1e-2, lse max |d| < 2e-3 (-inf where the twin
 *     has -inf), no NaN.
 * Lists: every query block and head draws each visible block with
 * probability rho, or takes its group's draw with probability corr (heads
 * of a group alike); one item in seven is empty.
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

/* Prefill lists (ascending) for n_qb * H items; returns the entry count. */
static int64_t make_lists(int n_q, int q_offset, int H, int G, double rho, double corr, int64_t *off, int32_t *idx)
{
    pb_rng *r = gpu_rng();
    const int n_qb = (n_q + 63) / 64, n_kb = (q_offset + n_q - 1) / 64 + 1;
    unsigned char *grp = pb_malloc((size_t)n_kb);
    off[0] = 0;
    for (int qb = 0; qb < n_qb; qb++) {
        const int last = qb * 64 + 63 < n_q ? qb * 64 + 63 : n_q - 1, V = (q_offset + last) / 64 + 1;
        for (int h = 0; h < H; h++) {
            const int64_t it = (int64_t)qb * H + h;
            if (h % G == 0)
                for (int b = 0; b < V; b++) grp[b] = rng_unit(r) < rho;
            int64_t n = off[it];
            if (rng_below(r, 7) != 0)
                for (int b = 0; b < V; b++)
                    if (rng_unit(r) < corr ? grp[b] : rng_unit(r) < rho) idx[n++] = b;
            off[it + 1] = n;
        }
    }
    free(grp);
    return off[(int64_t)n_qb * H];
}

/* out (bf16 on the device, copied back) and lse against the twin's. */
static int compare(const char *name, const uint16_t *og, const float *lg, const float *ref, const float *rlse,
                   size_t nq, size_t nr, int d)
{
    float *out = pb_malloc(nq * 4);
    for (size_t i = 0; i < nq; i++) out[i] = attn_bf16_to_f32(og[i]);
    gpu_err e = gpu_compare(out, ref, nq);
    double lerr = 0;
    size_t lbad = 0;
    for (size_t i = 0; i < nr; i++) {
        if (isnan(lg[i])) lbad++;
        else if (isinf(rlse[i]) || isinf(lg[i])) lbad += lg[i] != rlse[i];
        else lerr = fabs((double)lg[i] - rlse[i]) > lerr ? fabs((double)lg[i] - rlse[i]) : lerr;
    }
    printf("    %-7s d %3d  rel %.3e  lse max|d| %.3e  bad %zu\n", name, d, e.rel_l2, lerr, e.n_bad + lbad);
    free(out);
    return e.n_bad == 0 && lbad == 0 && e.rel_l2 < TOL_OUT && lerr < TOL_LSE;
}

static int check_prefill(int H, int KVH, int d, int n_q, int q_offset, double rho, double corr)
{
    const int G = H / KVH, kv_len = q_offset + n_q, n_qb = (n_q + 63) / 64, n_kb = (kv_len + 63) / 64;
    const int64_t n_items = (int64_t)n_qb * H, cap = n_items * n_kb, n_g = (int64_t)n_qb * KVH;
    const size_t nq = (size_t)n_q * H * d, nkv = (size_t)kv_len * KVH * d, nr = (size_t)n_q * H;
    int64_t *off = pb_malloc((size_t)(n_items + 1) * 8);
    int32_t *idx = pb_malloc((size_t)cap * 4 + 4), *uidx = pb_malloc((size_t)cap * 4 + 4),
            *ruidx = pb_malloc((size_t)cap * 4 + 4), *ucnt = pb_malloc((size_t)n_g * 4),
            *rucnt = pb_malloc((size_t)n_g * 4);
    uint32_t *umask = pb_malloc((size_t)cap * 4 + 4), *rumask = pb_malloc((size_t)cap * 4 + 4);
    uint16_t *q = pb_malloc(nq * 2), *k = pb_malloc(nkv * 2), *v = pb_malloc(nkv * 2), *og = pb_malloc(nq * 2);
    float *ref = pb_malloc(nq * 4), *rlse = pb_malloc(nr * 4), *twin = pb_malloc(nq * 4),
          *tlse = pb_malloc(nr * 4), *lg = pb_malloc(nr * 4);
    const int64_t ne = make_lists(n_q, q_offset, H, G, rho, corr, off, idx);
    gpu_fill_bf16(q, nq, 2.0f);
    gpu_fill_bf16(k, nkv, 2.0f);
    gpu_fill_bf16(v, nkv, 1.0f);
    int64_t *doff = gpu_dev((size_t)(n_items + 1) * 8);
    int32_t *didx = gpu_dev((size_t)ne * 4), *duidx = gpu_dev((size_t)ne * 4), *ducnt = gpu_dev((size_t)n_g * 4);
    uint32_t *dumask = gpu_dev((size_t)ne * 4);
    void *dq = gpu_dev(nq * 2), *dk = gpu_dev(nkv * 2), *dv = gpu_dev(nkv * 2), *dout = gpu_dev(nq * 2);
    float *dlse = gpu_dev(nr * 4);
    int ok = doff && didx && duidx && ducnt && dumask && dq && dk && dv && dout && dlse;
    if (ok) {
        cudaMemcpy(doff, off, (size_t)(n_items + 1) * 8, cudaMemcpyHostToDevice);
        if (ne) cudaMemcpy(didx, idx, (size_t)ne * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dq, q, nq * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dk, k, nkv * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dv, v, nkv * 2, cudaMemcpyHostToDevice);
        cudaMemset(duidx, 0xff, (size_t)ne * 4);
        cudaMemset(dumask, 0xff, (size_t)ne * 4);
        cudaMemset(ducnt, 0xff, (size_t)n_g * 4);
        ok = gpu_launched(attn_sparse_prefill_union_lists_cuda(doff, didx, n_q, kv_len, H, KVH, duidx, dumask, ducnt, NULL),
                      "union lists");
    }
    if (ok) {
        attn_sparse_prefill_union_lists_ref(off, idx, n_q, kv_len, H, KVH, ruidx, rumask, rucnt);
        cudaMemcpy(ucnt, ducnt, (size_t)n_g * 4, cudaMemcpyDeviceToHost);
        if (ne) cudaMemcpy(uidx, duidx, (size_t)ne * 4, cudaMemcpyDeviceToHost);
        if (ne) cudaMemcpy(umask, dumask, (size_t)ne * 4, cudaMemcpyDeviceToHost);
        long bad = 0, total = 0;
        for (int64_t u = 0; u < n_g; u++) {
            const int64_t at = off[(u / KVH) * H + (u % KVH) * G];
            int same = ucnt[u] == rucnt[u];
            for (int32_t e = 0; same && e < rucnt[u]; e++)
                same = uidx[at + e] == ruidx[at + e] && umask[at + e] == rumask[at + e];
            bad += !same;
            total += rucnt[u];
        }
        printf("    prefill %2d/%d d %3d  %4d q @ %5d  rho %.2f corr %.1f  listed %lld  union %ld  differing groups %ld\n",
               H, KVH, d, n_q, q_offset, rho, corr, (long long)ne, total, bad);
        ok = bad == 0;
    }
    if (ok) {
        attn_sparse_prefill_ref(q, k, v, off, idx, ref, rlse, n_q, kv_len, q_offset, H, KVH, d, 0, n_q);
        attn_sparse_prefill_union_ref(q, k, v, off, ruidx, rumask, rucnt, twin, tlse, n_q, kv_len, q_offset, H, KVH,
                                      d, 0, n_q);
        int same = 1; /* the union twin is the per-head twin on the same blocks */
        for (size_t i = 0; i < nq && same; i++) same = twin[i] == ref[i] || (isnan(twin[i]) && isnan(ref[i]));
        for (size_t i = 0; i < nr && same; i++) same = tlse[i] == rlse[i];
        if (!same) printf("    union twin differs from the per-head twin\n");
        ok = same;
    }
    /* the one-call union with idx's room as its capacity (cap >= ne) */
    const size_t awb = attn_sparse_prefill_union_workspace(cap, n_q, KVH);
    void *awork = gpu_dev(awb);
    if (!awork) ok = 0;
    static const char *names[3] = {"union", "perhead", "union1"};
    for (int pass = 0; ok && pass < 3; pass++) {
        cudaMemset(dout, 0xff, nq * 2);
        cudaMemset(dlse, 0xff, nr * 4);
        if (awork) cudaMemset(awork, 0xff, awb);
        const int rc = pass == 0   ? attn_sparse_prefill_union_attend_cuda(dq, dk, dv, doff, duidx, dumask, ducnt, dout,
                                                                           dlse, n_q, kv_len, q_offset, H, KVH, d, NULL)
                       : pass == 1 ? attn_sparse_prefill_cuda(dq, dk, dv, doff, didx, dout, dlse, n_q, kv_len,
                                                              q_offset, H, KVH, d, NULL)
                                   : attn_sparse_prefill_union_cuda(dq, dk, dv, doff, didx, cap, dout, dlse, n_q, kv_len,
                                                                    q_offset, H, KVH, d, awork, awb, NULL);
        ok = gpu_launched(rc, names[pass]);
        if (!ok) break;
        cudaMemcpy(og, dout, nq * 2, cudaMemcpyDeviceToHost);
        cudaMemcpy(lg, dlse, nr * 4, cudaMemcpyDeviceToHost);
        ok = compare(names[pass], og, lg, ref, rlse, nq, nr, d);
    }
    if (awork) cudaFree(awork);
    void *ps[] = {doff, didx, duidx, ducnt, dumask, dq, dk, dv, dout, dlse};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i]) cudaFree(ps[i]);
    free(off), free(idx), free(uidx), free(ruidx), free(ucnt), free(rucnt), free(umask), free(rumask);
    free(q), free(k), free(v), free(og), free(ref), free(rlse), free(twin), free(tlse), free(lg);
    return ok;
}

/* small cases (the sanitizers run these) */
TEST(gpu_sparse_prefill_union_small)
{
    int ok = 1;
    ok &= check_prefill(32, 8, 128, 200, 300, 0.4, 0.7); /* a short last query block, keys past the rows */
    ok &= check_prefill(9, 3, 64, 150, 0, 0.5, 0.5);     /* G 3: one warpgroup with a single head */
    ok &= check_prefill(4, 2, 128, 130, 64, 0.6, 0.0);   /* G 2: a head per warpgroup */
    ok &= check_prefill(4, 1, 64, 100, 1000, 0.3, 0.9);  /* G 4, d 64 */
    CHECK(ok);
}

TEST(gpu_sparse_prefill_union_large)
{
    int ok = 1;
    ok &= check_prefill(32, 8, 128, 512, 4000, 0.1, 0.8);
    ok &= check_prefill(9, 3, 64, 2000, 3000, 0.3, 0.3);
    CHECK(ok);
}
