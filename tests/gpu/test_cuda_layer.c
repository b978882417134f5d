/* test_cuda_layer.c — the RTPurbo layer of the throughput suite's level
 * layer (kernels/layer_time.h) against its CPU twin (layer_ref: the
 * attention twins composed), on fresh planted inputs (the seed of the run),
 * every stage's outputs poisoned (NaN) before the launch checked:
 *   - block scores: the indexers against attn_index_prefill_ref and
 *     attn_index_decode_ref (max |d| < 2e-2: f32 sums in another order);
 *   - lists: the CPU selection on the GPU's scores gives the same lists
 *     (the sort-free top-p against the twin; no ties in planted scores,
 *     which carry a hashed jitter);
 *   - outputs: the sparse attention of sampled rows (prefill: the first 64
 *     and the last 128; decode: the query) on the GPU's lists, and the
 *     local heads' window attention, ‖Δ‖/‖ref‖ < 1e-2, no NaN anywhere;
 *   - needles: the GPU count equals the count on the lists, and every
 *     needle is kept (a needle block outweighs every planted block).
 * Shapes: 8/2/128 and 9/3/64 (one retrieval group), 4K prefill and 8K
 * decode, window 512 (prefill) and 1024 (decode), S 4, p 0.9, density 0.1;
 * the local heads with their sinks (attn_local_*).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attn_kernels.h"
#include "kernels/attn_time.h"
#include "kernels/layer_time.h"
#include "tests/gpu/gpu.h"
#include "tests/test.h"

#define TOL_OUT 1e-2

/* bf16 rows row0 .. row0+n_rows-1 of (n_q, heads, d) against f32 ref rows */
static gpu_err cmp_rows(const uint16_t *out, const float *ref, int row0, int n_rows, int heads, int d)
{
    size_t n = (size_t)n_rows * heads * d, at = (size_t)row0 * heads * d;
    float *f = pb_malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = attn_bf16_to_f32(out[at + i]);
    gpu_err e = gpu_compare(f, ref + at, n);
    free(f);
    return e;
}

static size_t non_finite_bf16(const uint16_t *x, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !isfinite(attn_bf16_to_f32(x[i]));
    return bad;
}

static int check_layer(int phase, int n, int H, int HKV, int d, int window, double rho, int mean)
{
    layer_case c = {.phase = phase, .n_ctx = n, .n_head = H, .n_kv_head = HKV, .d = d, .rho = rho, .p = 0.9,
                    .sink = 4, .window = window, .local = 64, .kmin = 4, .density = 0.1, .needles = 4,
                    .index_mean = mean};
    uint32_t seed = (uint32_t)rng_next(gpu_rng());
    char why[300];
    layer_timer *t = layer_timer_new(&c, seed, why, sizeof why);
    if (!t) {
        printf("    layer: %s\n", why);
        return 0;
    }
    layer_timer_poison(t);
    layer_timer_once(t);
    layer_host h;
    layer_timer_host(t, &h);
    layer_split s;
    layer_split_heads(&c, &s);
    const int pre = phase == ATTN_TIME_PREFILL, nb = h.nb;
    int64_t cap = pre ? (int64_t)s.ret_heads * nb * (nb + 1) / 2 : (int64_t)s.ret_heads * nb;
    float *blse = pb_calloc((size_t)h.items * nb, sizeof *blse);
    int64_t *off = pb_malloc(((size_t)h.items + 1) * sizeof *off);
    int32_t *idx = pb_malloc((size_t)cap * sizeof *idx);
    size_t nr = (size_t)h.n_q * s.ret_heads * d, nl = (size_t)h.n_q * s.loc_heads * d;
    float *ref_ret = pb_calloc(nr, sizeof(float)), *ref_loc = pb_calloc(nl ? nl : 1, sizeof(float));

    /* block scores: the twin's against the GPU's, over the visible entries */
    layer_ref(&c, &h, seed, 1, blse, off, idx, ref_ret, ref_loc, pre ? n - 1 : 0, 1);
    double dmax = 0;
    for (int i = 0; i < h.items; i++) {
        int vis = pre ? i / s.ret_heads + 1 : nb;
        for (int b = 0; b < vis; b++) {
            double dd = fabs((double)blse[(size_t)i * nb + b] - h.blse[(size_t)i * nb + b]);
            if (!(dd <= dmax)) dmax = isnan(dd) ? INFINITY : dd;
        }
    }
    /* lists, outputs: the twin on the GPU's scores */
    const int rows[2][2] = {{0, pre ? 64 : 1}, {pre ? n - 128 : 0, pre ? 128 : 0}};
    for (int k = 0; k < 2; k++)
        if (rows[k][1]) layer_ref(&c, &h, seed, 0, h.blse, off, idx, ref_ret, ref_loc, rows[k][0], rows[k][1]);
    int64_t diff_lists = 0;
    for (int i = 0; i <= h.items && !diff_lists; i++) diff_lists += off[i] != h.off[i];
    for (int64_t e = 0; !diff_lists && e < off[h.items]; e++) diff_lists += idx[e] != h.idx[e];
    gpu_err er = {0}, el = {0};
    for (int k = 0; k < 2; k++) {
        if (!rows[k][1]) continue;
        gpu_err a = cmp_rows(h.out_ret, ref_ret, rows[k][0], rows[k][1], s.ret_heads, d);
        er.rel_l2 = fmax(er.rel_l2, a.rel_l2);
        er.n_bad += a.n_bad;
        if (s.loc_heads) {
            gpu_err b = cmp_rows(h.out_loc, ref_loc, rows[k][0], rows[k][1], s.loc_heads, d);
            el.rel_l2 = fmax(el.rel_l2, b.rel_l2);
            el.n_bad += b.n_bad;
        }
    }
    size_t bad = non_finite_bf16(h.out_ret, nr) + non_finite_bf16(h.out_loc, nl);
    int total = 0, gpu_total = 0;
    int found = layer_needles_found(h.off + (h.items - s.ret_heads), h.idx + h.off[h.items - s.ret_heads],
                                    s.ret_heads, c.needles, nb, &total);
    int gpu_found = layer_timer_needles(t, &gpu_total);
    double dens = layer_timer_density(t);
    const double tol_blse = 2e-2;
    printf("    %-7s %2d/%d/%3d n %5d W %4d ret %d loc %d: blse max|d| %.2e, lists %s, ret rel %.2e, loc rel %.2e, "
           "NaN %zu, needles %d/%d (gpu %d/%d), density %.3f\n",
           pre ? "prefill" : "decode", H, HKV, d, n, window, s.ret_heads, s.loc_heads, dmax,
           diff_lists ? "DIFFER" : "equal", er.rel_l2, el.rel_l2, bad, found, total, gpu_found, gpu_total, dens);
    int ok = dmax < tol_blse && !diff_lists && er.rel_l2 < TOL_OUT && el.rel_l2 < TOL_OUT && !bad && !er.n_bad &&
             !el.n_bad && found == gpu_found && total == gpu_total && total == s.ret_heads * c.needles &&
             found == total && dens > 0.05 && dens < 0.4;
    layer_host_free(&h);
    layer_timer_free(t);
    free(blse), free(off), free(idx), free(ref_ret), free(ref_loc);
    return ok;
}

TEST(gpu_layer_prefill)
{
    int ok = 1;
    ok &= check_layer(ATTN_TIME_PREFILL, 4096, 8, 2, 128, 512, 0.15, 0);
    ok &= check_layer(ATTN_TIME_PREFILL, 4096, 9, 3, 64, 512, 0.15, 0);
    ok &= check_layer(ATTN_TIME_PREFILL, 4096, 8, 2, 128, 512, 0.15, 1); /* the mean-pooled indexer */
    CHECK(ok);
}

TEST(gpu_layer_decode)
{
    int ok = 1;
    ok &= check_layer(ATTN_TIME_DECODE, 8192, 8, 2, 128, 1024, 0.15, 0);
    ok &= check_layer(ATTN_TIME_DECODE, 8192, 9, 3, 64, 1024, 0.15, 0);
    CHECK(ok);
}
