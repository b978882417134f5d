/* test_cuda_index.c — the prefill indexer (attn_index_prefill_cuda) and the
 * KV append with index keys (attn_kv_append_index_cuda), and the mean-pooled
 * indexer (attn_index_prefill_mean_cuda) against their CPU
 * twins (kernels/cpu/attn_select_ref.c) on fresh random inputs, outputs
 * poisoned (NaN / 0xffff) before each call.
 *
 * Prefill indexer (the envelope, and the mean pool): several shapes (r 8, 16, 32; d 64, 128, 256; GQA; a
 * first chunk and chunks over a longer cache, n_q not a multiple of 64, a
 * 1-row block), each with the forcing of the layer (sink 4, recent 64),
 * none, and a wide recent window. Pass: every written entry finite where
 * the twin's is (-inf where it is -inf), max |blse - ref| < 1e-3 (f32 sums
 * in another order), entries past an item's V_i still NaN; then the CUDA
 * selection run on the GPU's blse gives the twin selection's lists on the
 * same blse, item by item (the two kernels chained as the layer runs them).
 * Append: K, V and the listed heads' index keys equal the twin bit for
 * bit; rows and heads not written keep their poison.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <string.h>

#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"
#include "tests/gpu/gpu.h"
#include "tests/gpu/gpu_mem.h"
#include "tests/test.h"

#define TOL_BLSE 1e-3

static int up(void *d, const void *h, size_t bytes)
{
    return cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice) == cudaSuccess;
}

static int down(void *h, const void *d, size_t bytes)
{
    return cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost) == cudaSuccess;
}

/* One prefill indexer call and the selection chained on it; 1 when all
 * checks pass. */
static int index_case(int n_q, int kv_len, int q_offset, int H, int HKV, int d, int r,
                      const attn_select_params *prm, int mean)
{
    const int n_qb = (n_q + 63) / 64, ld = (q_offset + n_q - 1) / 64 + 1, n_items = n_qb * H;
    const size_t nq = (size_t)n_q * H * d, nk = (size_t)kv_len * HKV * d, nkx = (size_t)H * kv_len * r;
    const size_t nqx = (size_t)n_q * H * r, nb = (size_t)n_items * ld;
    uint16_t *q = pb_malloc(nq * 2), *k = pb_malloc(nk * 2), *kx = pb_malloc(nkx * 2);
    float *qx = pb_malloc(nqx * 4), *blse = pb_malloc(nb * 4), *ref = pb_malloc(nb * 4);
    int64_t *off = pb_malloc((n_items + 1) * 8), *roff = pb_malloc((n_items + 1) * 8);
    int32_t *idx = pb_malloc(nb * 4), *ridx = pb_malloc(nb * 4);
    gpu_fill_bf16(q, nq, 2.0f);
    gpu_fill_bf16(k, nk, 2.0f);
    gpu_fill_bf16(kx, nkx, 2.0f);
    gpu_fill(qx, nqx, -2.0f, 2.0f);
    const size_t wb = attn_select_workspace(n_q, H);
    void *dq = gpu_dev(nq * 2), *dk = gpu_dev(nk * 2), *dkx = gpu_dev(nkx * 2), *dqx = gpu_dev(nqx * 4), *dblse = gpu_dev(nb * 4);
    void *doff = gpu_dev((n_items + 1) * 8), *didx = gpu_dev(nb * 4), *work = gpu_dev(wb);
    int ok = dq && dk && dkx && dqx && dblse && doff && didx && work;
    ok = ok && up(dq, q, nq * 2) && up(dk, k, nk * 2) && up(dkx, kx, nkx * 2) && up(dqx, qx, nqx * 4);
    if (ok) {
        cudaMemset(dblse, 0xff, nb * 4);
        int rc = (mean ? attn_index_prefill_mean_cuda
                       : attn_index_prefill_cuda)(dqx, dkx, dq, dk, dblse, ld, n_q, kv_len, q_offset, H, HKV, d, r, prm,
                                                  NULL);
        int rs = rc ? rc
                    : attn_select_topp_cuda(dblse, ld, n_q, q_offset, H, prm, doff, didx, (int64_t)nb, work, wb, NULL);
        cudaError_t e = cudaDeviceSynchronize();
        if (rc || rs || e != cudaSuccess) {
            printf("    launch: %s / %s / %s\n", cudaGetErrorString((cudaError_t)rc),
                   cudaGetErrorString((cudaError_t)rs), cudaGetErrorString(e));
            ok = 0;
        }
        ok = ok && down(blse, dblse, nb * 4) && down(off, doff, (n_items + 1) * 8);
        ok = ok && off[n_items] <= (int64_t)nb && down(idx, didx, (size_t)off[n_items] * 4);
    }
    if (ok) {
        (mean ? attn_index_prefill_mean_ref : attn_index_prefill_ref)(qx, kx, q, k, ref, ld, n_q, kv_len, q_offset, H,
                                                                      HKV, d, r, prm);
        double err = 0.0;
        long bad = 0, poison_lost = 0;
        for (int it = 0; it < n_items; it++) {
            const int qb = it / H, last = q_offset + (qb * 64 + 63 < n_q ? qb * 64 + 63 : n_q - 1);
            const int V = last / 64 + 1;
            for (int b = 0; b < ld; b++) {
                const float g = blse[(size_t)it * ld + b], w = ref[(size_t)it * ld + b];
                if (b >= V) {
                    poison_lost += !isnan(g);
                } else if (isinf(w) && w < 0) {
                    bad += !(isinf(g) && g < 0);
                } else if (!isfinite(g)) {
                    bad++;
                } else {
                    double e = fabs((double)g - w);
                    err = e > err ? e : err;
                }
            }
        }
        /* the chained selection: CUDA lists = twin lists on the GPU's blse */
        for (size_t i = 0; i < nb; i++)
            if (isnan(blse[i])) blse[i] = -INFINITY; /* past V_i: never read */
        attn_select_topp_ref(blse, ld, n_q, q_offset, H, prm, roff, ridx);
        long diff = 0;
        for (int it = 0; it < n_items; it++) {
            int same = off[it + 1] - off[it] == roff[it + 1] - roff[it];
            for (int64_t e = 0; same && e < off[it + 1] - off[it]; e++) same = idx[off[it] + e] == ridx[roff[it] + e];
            diff += !same;
        }
        printf("    %s d %3d r %2d  %5d q @%5d  kv %5d  H %d/%d  sink %d local %d  blse max|d| %.2e  bad %ld  "
               "poison lost %ld  lists differ %ld/%d  kept %.3f\n",
               mean ? "mean" : "envl", d, r, n_q, q_offset, kv_len, H, HKV, prm->sink, prm->local, err, bad,
               poison_lost, diff, n_items,
               (double)off[n_items] / ((double)n_items * ld));
        ok = bad == 0 && poison_lost == 0 && err < TOL_BLSE && diff == 0;
    }
    void *ps[] = {dq, dk, dkx, dqx, dblse, doff, didx, work};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i]) cudaFree(ps[i]);
    free(q), free(k), free(kx), free(qx), free(blse), free(ref), free(off), free(roff), free(idx), free(ridx);
    return ok;
}

TEST(gpu_index_prefill)
{
    const attn_select_params layer = {4, 64, 4, 0.9}, none = {0, 0, 4, 0.9}, wide = {4, 1000, 8, 0.8};
    int ok = 1;
    ok &= index_case(300, 300, 0, 4, 2, 64, 8, &layer, 0);       /* a first chunk, tail of 44 rows */
    ok &= index_case(300, 300, 0, 4, 2, 64, 8, &none, 0);
    ok &= index_case(200, 777, 577, 8, 2, 128, 16, &layer, 0);   /* a chunk over a longer cache, mid-block offset */
    ok &= index_case(200, 777, 577, 8, 2, 128, 16, &wide, 0);
    ok &= index_case(1000, 1000, 0, 4, 1, 128, 32, &layer, 0);
    ok &= index_case(130, 2130, 2000, 2, 2, 256, 16, &layer, 0); /* d 256 */
    ok &= index_case(1, 500, 499, 4, 2, 64, 16, &layer, 0);      /* one row: the decode case */
    ok &= index_case(64, 4160, 4096, 8, 8, 64, 32, &none, 0);    /* one whole block, far from the start */
    ok &= index_case(777, 3000, 2223, 4, 2, 128, 8, &layer, 0);  /* many query blocks, folded grid */
    CHECK(ok);
}

/* The same cases through the mean-pooled indexer. */
TEST(gpu_index_prefill_mean)
{
    const attn_select_params layer = {4, 64, 4, 0.9}, none = {0, 0, 4, 0.9}, wide = {4, 1000, 8, 0.8};
    int ok = 1;
    ok &= index_case(300, 300, 0, 4, 2, 64, 8, &layer, 1);       /* a first chunk, tail of 44 rows */
    ok &= index_case(300, 300, 0, 4, 2, 64, 8, &none, 1);
    ok &= index_case(200, 777, 577, 8, 2, 128, 16, &layer, 1);   /* a chunk over a longer cache, mid-block offset */
    ok &= index_case(200, 777, 577, 8, 2, 128, 16, &wide, 1);
    ok &= index_case(1000, 1000, 0, 4, 1, 128, 32, &layer, 1);
    ok &= index_case(130, 2130, 2000, 2, 2, 256, 16, &layer, 1); /* d 256 */
    ok &= index_case(1, 500, 499, 4, 2, 64, 16, &layer, 1);      /* one row: the decode case */
    ok &= index_case(64, 4160, 4096, 8, 8, 64, 32, &none, 1);    /* one whole block, far from the start */
    ok &= index_case(777, 3000, 2223, 4, 2, 128, 8, &layer, 1);  /* many query blocks, folded grid */
    CHECK(ok);
}

/* One append against the twin: the whole cache and kx compared bit for bit. */
static int append_case(int n_ctx, int pos0, int n, int H, int HKV, int d, int r, const int *heads, int n_sel)
{
    const size_t row = (size_t)HKV * d, ncache = (size_t)n_ctx * row, nin = (size_t)n * row;
    const size_t nkx = (size_t)H * n_ctx * r, nw = (size_t)H * r * d;
    float *k = pb_malloc(nin * 4), *v = pb_malloc(nin * 4), *kp = pb_malloc(nin * 4), *wk = pb_malloc(nw * 4);
    uint16_t *kc = pb_malloc(ncache * 2), *vc = pb_malloc(ncache * 2), *kx = pb_malloc(nkx * 2);
    uint16_t *gkc = pb_malloc(ncache * 2), *gvc = pb_malloc(ncache * 2), *gkx = pb_malloc(nkx * 2);
    gpu_fill(k, nin, -3.0f, 3.0f);
    gpu_fill(v, nin, -3.0f, 3.0f);
    gpu_fill(kp, nin, -3.0f, 3.0f);
    gpu_fill(wk, nw, -1.0f, 1.0f);
    memset(kc, 0xff, ncache * 2);
    memset(vc, 0xff, ncache * 2);
    memset(kx, 0xff, nkx * 2);
    void *dk = gpu_dev(nin * 4), *dv = gpu_dev(nin * 4), *dkp = gpu_dev(nin * 4), *dwk = gpu_dev(nw * 4);
    void *dkc = gpu_dev(ncache * 2), *dvc = gpu_dev(ncache * 2), *dkx = gpu_dev(nkx * 2);
    int ok = dk && dv && dkp && dwk && dkc && dvc && dkx;
    ok = ok && up(dk, k, nin * 4) && up(dv, v, nin * 4) && up(dkp, kp, nin * 4) && up(dwk, wk, nw * 4);
    if (ok) {
        cudaMemset(dkc, 0xff, ncache * 2);
        cudaMemset(dvc, 0xff, ncache * 2);
        cudaMemset(dkx, 0xff, nkx * 2);
        int rc = attn_kv_append_index_cuda(dkc, dvc, dkx, n_ctx, dk, dv, dkp, dwk, pos0, n, H, HKV, d, r, heads,
                                           n_sel, NULL);
        cudaError_t e = cudaDeviceSynchronize();
        if (rc || e != cudaSuccess) {
            printf("    launch: %s / %s\n", cudaGetErrorString((cudaError_t)rc), cudaGetErrorString(e));
            ok = 0;
        }
        ok = ok && down(gkc, dkc, ncache * 2) && down(gvc, dvc, ncache * 2) && down(gkx, dkx, nkx * 2);
    }
    if (ok) {
        attn_kv_append_index_ref(kc, vc, kx, n_ctx, k, v, kp, wk, pos0, n, H, HKV, d, r, heads, n_sel);
        size_t dkv = 0, dx = 0;
        for (size_t i = 0; i < ncache; i++) dkv += (kc[i] != gkc[i]) + (vc[i] != gvc[i]);
        for (size_t i = 0; i < nkx; i++) dx += kx[i] != gkx[i];
        printf("    append  %4d tokens @%4d  H %d/%d  d %3d r %2d  %d heads  kv differ %zu  kx differ %zu\n", n, pos0, H,
               HKV, d, r, n_sel, dkv, dx);
        ok = dkv == 0 && dx == 0;
    }
    void *ps[] = {dk, dv, dkp, dwk, dkc, dvc, dkx};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i]) cudaFree(ps[i]);
    free(k), free(v), free(kp), free(wk), free(kc), free(vc), free(kx), free(gkc), free(gvc), free(gkx);
    return ok;
}

TEST(gpu_kv_append_index)
{
    const int h3[] = {1, 4, 6}, h1[] = {0}, all9[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    int ok = 1;
    ok &= append_case(512, 37, 100, 8, 2, 128, 16, h3, 3); /* a prefill chunk mid-cache */
    ok &= append_case(512, 300, 1, 8, 2, 64, 8, h1, 1);    /* one decode token */
    ok &= append_case(300, 0, 300, 9, 3, 64, 32, all9, 9); /* every head, the whole cache */
    ok &= append_case(256, 10, 20, 4, 1, 256, 16, h1, 0);  /* no retrieval head: K and V only */
    CHECK(ok);
}
