/* test_layer.c — the host side of the RTPurbo layer benchmark
 * (kernels/layer_time.h, suites/runner_layer.h): the head split, the
 * planting rule (the fraction top-p keeps lands near the target), the
 * needle count, KV bytes, the case grid with densities and which methods
 * run which layer cases. The suite keys are in test_suite_load.c, the plot
 * data in test_plot_suite.c. */
#include <math.h>
#include <string.h>

#include "base/rng.h"
#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"
#include "kernels/attn_time.h"
#include "kernels/layer_time.h"
#include "suites/runner_layer.h"
#include "suites/throughput.h"
#include "tests/test.h"

TEST(layer_split_rounds_to_groups)
{
    layer_split s;
    layer_case c = {.n_head = 32, .n_kv_head = 8, .d = 128, .rho = 0.15};
    layer_split_heads(&c, &s);
    CHECK(s.ret_kv == 1 && s.ret_heads == 4 && s.loc_kv == 7 && s.loc_heads == 28 && s.r == 16);
    c = (layer_case){.n_head = 9, .n_kv_head = 3, .d = 64, .rho = 0.15}; /* 0.45 groups: at least one */
    layer_split_heads(&c, &s);
    CHECK(s.ret_kv == 1 && s.ret_heads == 3 && s.loc_heads == 6 && s.r == 8);
    c.rho = 1;
    layer_split_heads(&c, &s);
    CHECK(s.ret_heads == 9 && s.loc_heads == 0 && s.loc_kv == 0);
    c = (layer_case){.n_head = 32, .n_kv_head = 8, .d = 128, .rho = 0.3}; /* 2.4 groups -> 2 */
    layer_split_heads(&c, &s);
    CHECK(s.ret_kv == 2 && s.ret_heads == 8);
}

TEST(layer_kv_bytes_counts)
{
    layer_case c = {.n_ctx = 1 << 20, .n_head = 32, .n_kv_head = 8, .d = 128, .rho = 0.15, .sink = 4, .window = 8192};
    int64_t dense, kv = layer_kv_bytes(&c, &dense);
    const int64_t n = 1 << 20;
    CHECK(dense == n * 8 * 128 * 4);
    /* one KV head's K and V, 4 heads' 16-dim index keys, 7 KV heads of S + W rows */
    CHECK(kv == n * 128 * 4 + n * 4 * 16 * 2 + (int64_t)8196 * 7 * 128 * 4);
    CHECK(dense / (double)kv > 6.0 && dense / (double)kv < 6.3); /* 4096 n over 640 n + 29 MB */
    c.n_ctx = 1000; /* shorter than S + W: every row */
    kv = layer_kv_bytes(&c, &dense);
    CHECK(kv == 1000LL * 128 * 4 + 1000LL * 4 * 16 * 2 + 1000LL * 7 * 128 * 4);
}

TEST(layer_boost_rule)
{
    /* e^B = q (1 - f) / (f (1 - q)), q = p + (1 - p) / 10 */
    CHECK_NEAR(layer_boost(0.1, 0.9), log(0.91 * 0.9 / (0.1 * 0.09)), 1e-12);
    CHECK(layer_boost(0.01, 0.9) > layer_boost(0.3, 0.9));
    CHECK(layer_boost(0.1, 1.0) == 0 && layer_boost(0.95, 0.9) == 0);
}

/* The selected fraction of a decode row (one list per head) at nb blocks
 * under the planted scores of fraction f, p 0.9. */
static double decode_fraction(int nb, int heads, double f, int needles, int *found, int *total)
{
    float *blse = pb_malloc((size_t)heads * nb * sizeof *blse);
    int64_t *off = pb_malloc(((size_t)heads + 1) * sizeof *off);
    int32_t *idx = pb_malloc((size_t)heads * nb * sizeof *idx);
    const int n = nb * ATTN_SBLOCK;
    layer_planted_blse_host(blse, (size_t)nb, 1, n - 1, heads, layer_plant_seed(7), (float)f,
                            (float)layer_boost(f, 0.9), needles, nb);
    attn_select_params prm = {.sink = 4, .local = 64, .kmin = 4, .p = 0.9};
    attn_select_topp_ref(blse, (size_t)nb, 1, n - 1, heads, &prm, off, idx);
    *found = layer_needles_found(off, idx, heads, needles, nb, total);
    double frac = (double)off[heads] / ((double)heads * nb);
    free(blse), free(off), free(idx);
    return frac;
}

TEST(layer_planted_density_near_target)
{
    static const double fs[] = {0.01, 0.03, 0.1, 0.3};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        int found, total;
        double got = decode_fraction(8192, 4, fs[i], 4, &found, &total); /* 512K tokens */
        CHECK_MSG(got > 0.9 * fs[i] && got < 1.1 * fs[i] + 8.0 / 8192, "f %g: selected %g", fs[i], got);
        CHECK_MSG(found == total && total == 16, "f %g: needles %d/%d", fs[i], found, total);
    }
    /* prefill: every query block's list, over the visible blocks */
    const int nb = 512, H = 2, n = nb * ATTN_SBLOCK;
    const double f = 0.1;
    float *blse = pb_malloc((size_t)nb * H * nb * sizeof *blse);
    int64_t *off = pb_malloc(((size_t)nb * H + 1) * sizeof *off);
    int32_t *idx = pb_malloc((size_t)H * nb * (nb + 1) / 2 * sizeof *idx);
    layer_planted_blse_host(blse, (size_t)nb, n, 0, H, layer_plant_seed(3), (float)f, (float)layer_boost(f, 0.9), 4, nb);
    attn_select_params prm = {.sink = 4, .local = 64, .kmin = 4, .p = 0.9};
    attn_select_topp_ref(blse, (size_t)nb, n, 0, H, &prm, off, idx);
    double frac = (double)off[nb * H] / ((double)H * nb * (nb + 1) / 2);
    CHECK_MSG(frac > 0.9 * f && frac < 1.5 * f, "prefill selected %g", frac);
    int total, found = layer_needles_found(off + (nb - 1) * H, idx + off[(nb - 1) * H], H, 4, nb, &total);
    CHECK(found == total && total == 8);
    free(blse), free(off), free(idx);
}

TEST(layer_needle_count)
{
    const int nb = 100, needles = 4;
    int b[4];
    for (int k = 0; k < needles; k++) b[k] = layer_needle_block(k, needles, nb);
    CHECK(b[0] >= 1 && b[3] <= nb - 3 && b[0] < b[1] && b[1] < b[2] && b[2] < b[3]);
    CHECK(layer_is_needle(b[2], needles, nb) && !layer_is_needle(0, needles, nb));
    CHECK(layer_needle_block(0, 4, 7) == -1);
    /* two items: the first keeps needles 0 and 2, the second all four; offsets start at 10 */
    int32_t idx[] = {0, b[0], 50, b[2], 99, b[0], b[1], b[2], b[3]};
    int64_t off[] = {10, 15, 19};
    int total, found = layer_needles_found(off, idx, 2, needles, nb, &total);
    CHECK(total == 8 && found == 6);
    found = layer_needles_found(off, idx, 2, 0, nb, &total);
    CHECK(found == 0 && total == 0);
    /* planted blocks are never needle blocks */
    for (int bb = 0; bb < nb; bb++)
        if (layer_is_needle(bb, needles, nb)) CHECK(!layer_planted(9, bb, 0, 1.0f, needles, nb));
}

TEST(layer_case_grid)
{
    double dens[] = {0.01, 0.1};
    int ctx[] = {32768, 65536};
    struct suite_shape sh[] = {{1, 32, 8, 128}};
    struct suite_cap caps[] = {{"c", 32768}, {"d", 32768}, {"f", 32768}};
    suite_task t = {.type = TASK_THROUGHPUT, .name = "l", .level = TP_LEVEL_LAYER, .phases = 3, .contexts = ctx,
                    .n_contexts = 2, .shapes = sh, .n_shapes = 1, .densities = dens, .n_densities = 2,
                    .demand = 0.04, .max_ctx = caps, .n_max_ctx = 3};
    static const model_config none;
    CHECK(tp_n_densities(&t) == 3 && tp_n_cases(&t) == 2 * 3 * 2);
    tp_case c;
    tp_case_get(&t, &none, 0, &c);
    CHECK(c.context == 32768 && c.density_index == 0 && c.density == 0.01 && c.phase == TP_PREFILL);
    tp_case_get(&t, &none, 5, &c); /* context 0, density 2 (the demand), decode */
    CHECK(c.context == 32768 && c.density_index == 2 && c.density == 0.04 && c.phase == TP_DECODE);
    tp_case_get(&t, &none, 6, &c);
    CHECK(c.context == 65536 && c.density_index == 0);
    suite_method rt = {.name = "r", .policy = "rtpurbo", .impl = "purbo"}, fl = {.name = "f", .policy = "rtpurbo",
                      .impl = "flex"}, dn = {.name = "d", .policy = "dense", .impl = "purbo"},
                 cu = {.name = "c", .policy = "dense", .impl = "sdpa_cudnn"}, st = {.name = "s",
                      .policy = "streaming", .impl = "purbo"};
    CHECK(rl_method_ok(&rt) && rl_method_ok(&fl) && rl_method_ok(&dn) && rl_method_ok(&cu) && !rl_method_ok(&st));
    CHECK(rl_case_applies(&t, 2, &rt) && rl_case_applies(&t, 2, &fl)); /* density 1 */
    CHECK(!rl_case_applies(&t, 2, &dn) && rl_case_applies(&t, 0, &dn) && rl_case_applies(&t, 1, &cu));
    CHECK(rl_case_applies(&t, 6, &rt) && rl_case_applies(&t, 8, &rt)); /* 64K: our layer */
    CHECK(!rl_case_applies(&t, 6, &cu) && !rl_case_applies(&t, 6, &dn) && !rl_case_applies(&t, 8, &fl)); /* past max_context */
    CHECK(tp_max_context(&t, "d") == 32768 && tp_max_context(&t, "r") == 0);
    /* other levels have no density dimension */
    t.level = TP_LEVEL_ATTENTION;
    CHECK(tp_n_densities(&t) == 1 && tp_n_cases(&t) == 4);
    tp_case_get(&t, &none, 3, &c);
    CHECK(c.density == 0 && c.density_index == 0 && c.context == 65536 && c.phase == TP_DECODE);
}

/* The planted index keys through the decode indexer's twin and the
 * selection: the fraction kept lands near the target and every needle is
 * kept (the device fills the same keys: layer_planted_kx). 64K tokens, 4
 * retrieval heads on one KV head, d 128 (r 16); q, k uniform [-2, 2) as the
 * timer's (the forced blocks' exact scores). */
TEST(layer_planted_index_density)
{
    const int n = 65536, H = 4, R = 16, d = 128, nb = n / ATTN_SBLOCK, needles = 4;
    float *qx = pb_malloc((size_t)H * R * sizeof *qx), *blse = pb_malloc((size_t)H * nb * sizeof *blse);
    uint16_t *kx = pb_malloc((size_t)H * n * R * sizeof *kx), *q = pb_malloc((size_t)H * d * sizeof *q);
    uint16_t *k = pb_malloc((size_t)n * d * sizeof *k);
    pb_rng rng = {11};
    for (int i = 0; i < H * d; i++) q[i] = attn_f32_to_bf16((float)(4 * rng_unit(&rng) - 2));
    for (size_t i = 0; i < (size_t)n * d; i++) k[i] = attn_f32_to_bf16((float)(4 * rng_unit(&rng) - 2));
    int64_t *off = pb_malloc(((size_t)H + 1) * sizeof *off);
    int32_t *idx = pb_malloc((size_t)H * nb * sizeof *idx);
    attn_select_params prm = {.sink = 4, .local = 64, .kmin = 4, .p = 0.9};
    static const double fs[] = {0.01, 0.03, 0.1, 0.3};
    for (size_t t = 0; t < sizeof fs / sizeof fs[0]; t++) {
        float boost = (float)layer_boost(fs[t], prm.p);
        layer_planted_index_host(qx, kx, 1, n, H, R, d, layer_plant_seed(5), (float)fs[t], boost, needles, nb);
        attn_index_decode_ref(qx, kx, q, k, blse, (size_t)nb, n, H, 1, d, R, &prm);
        attn_select_topp_ref(blse, (size_t)nb, 1, n - 1, H, &prm, off, idx);
        double got = (double)off[H] / ((double)H * nb);
        int total, found = layer_needles_found(off, idx, H, needles, nb, &total);
        CHECK_MSG(got > 0.85 * fs[t] && got < 1.15 * fs[t] + 8.0 / nb, "f %g: selected %g", fs[t], got);
        CHECK_MSG(found == total && total == H * needles, "f %g: needles %d/%d", fs[t], found, total);
    }
    free(qx), free(blse), free(kx), free(q), free(k), free(off), free(idx);
}
