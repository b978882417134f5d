/* test_cuda_counters.c — the hardware counters on the GPU: the collector
 * opens, first in a check process (purbo-bench probe cupti, --bin) then
 * here (needs the privilege to read counters: run as root), profiles a
 * cuBLAS bf16 GEMM of n = 8192 whose tensor op count must be 2 n^3 within
 * 5% (ncu read 1.12e12 = 1.02 x 2 n^3 for it) and whose DRAM reads must
 * cover at least half its two inputs (256 MB, beyond any L2: a replay pass
 * cannot find them cached); and the sparse attention
 * pipeline's timer (kernels/attn_time.h) runs and selects a share of the
 * blocks strictly between 0 and 1.
 */
#include <math.h>
#include <string.h>

#include "kernels/attn_time.h"
#include "probes/counters.h"
#include "probes/counters_run.h"
#include "run/backend.h"
#include "tests/test.h"

typedef struct {
    hwc *h;
    hwm_ranges r;
    int ok;
    char why[512];
} gemm_ctx;

static void collect(void (*fn)(void *), void *arg, void *ctx)
{
    gemm_ctx *g = ctx;
    g->ok = hwc_collect(g->h, 64, fn, arg, &g->r, g->why, sizeof g->why);
}

TEST(gpu_counters_gemm_flops)
{
    char why[512];
    /* first as purbo-bench would: in a check process (--bin names purbo-bench) */
    CHECK_MSG(hwr_check_process(test_bin_path, 0, why, sizeof why), "check process %s: %s", test_bin_path, why);
    gemm_ctx g = {0};
    g.h = hwc_open(why, sizeof why);
    CHECK_MSG(g.h != NULL, "counters: %s", why);
    printf("    chip %s, %d passes; missing: %s\n", hwc_chip(g.h), hwc_passes(g.h), hwc_missing(g.h));
    const int n = 8192;
    double bw, flops;
    int ok = backend_cuda_ceilings((size_t)256 << 20, n, &bw, &flops, collect, &g, why, sizeof why);
    hwc_close(g.h);
    CHECK_MSG(ok, "ceilings: %s", why);
    CHECK_MSG(g.ok, "collect: %s", g.why);
    printf("    ceilings at this size: %.0f GB/s, %.1f TFLOP/s; %d ranges\n", bw / 1e9, flops / 1e12, g.r.n_range);
    double ops = 0, bytes = 0; /* bytes: DRAM reads */
    for (int i = 0; i < g.r.n_range; i++) {
        const double *v = g.r.value + (size_t)i * HWM_N;
        printf("    range %d %s: time %.0f ns, bf16 ops %.4g, dram %.4g + %.4g B\n", i, g.r.range[i],
               v[HWM_TIME_NS], v[HWM_OPS_BF16], v[HWM_DRAM_READ], v[HWM_DRAM_WRITE]);
        if (!isnan(v[HWM_OPS_BF16])) ops += v[HWM_OPS_BF16];
        if (!isnan(v[HWM_DRAM_READ])) bytes += v[HWM_DRAM_READ];
    }
    hwm_ranges_free(&g.r);
    double want = 2.0 * n * (double)n * n, min_bytes = 2.0 * n * n * 2 / 2;
    CHECK_MSG(fabs(ops / want - 1) < 0.05, "tensor ops %.4g vs 2 n^3 = %.4g", ops, want);
    CHECK_MSG(bytes > min_bytes, "DRAM bytes read %.4g, below %.4g", bytes, min_bytes);
}

TEST(gpu_sparse_timer_selects)
{
    for (int phase = 0; phase < 2; phase++) {
        attn_time_case c = {.phase = phase ? ATTN_TIME_DECODE : ATTN_TIME_PREFILL, .n_ctx = 4096, .n_head = 8,
                            .n_kv_head = 2, .d = 128, .sparse = 1, .p = 0.9, .sink = 4, .local = 64};
        char why[256];
        attn_timer *t = attn_timer_new(&c, 1, 7, why, sizeof why);
        CHECK_MSG(t != NULL, "%s", why);
        double ts[3];
        attn_timer_run(t, 1, 3, ts);
        double dens = attn_timer_density(t);
        printf("    sparse %s 4096: %.1f us, density %.3f\n", phase ? "decode" : "prefill", ts[1] * 1e6, dens);
        attn_timer_free(t);
        CHECK_MSG(dens > 0 && dens < 1 && ts[1] > 0, "density %g, time %g", dens, ts[1]);
    }
}
