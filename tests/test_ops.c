/* test_ops.c — the CPU operations of the forward pass against direct
 * double-precision computations on small inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixture.h"
#include "model/gguf.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "base/rng.h"
#include "tests/test.h"

TEST(ops_exp_nonpos_accuracy)
{
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f * (float)i / 200000.0f;
        double ref = exp((double)x);
        double rel = fabs(cpu_exp_nonpos(x) - ref) / ref;
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(worst < 2e-7, "max relative error %.3g", worst);
    CHECK(cpu_exp_nonpos(-1000.0f) < 1e-37f);
    CHECK(cpu_exp_nonpos(0.0f) == 1.0f);
}

/* GeGLU: within 1e-6 of the double-precision tanh form (absolute, relative
 * to max(1, |gelu|)) over [-12, 12], and the 8-lane path gives what the
 * scalar one gives (a value run alone, as the tail of a vector, equals it
 * inside a vector). */
TEST(ops_geglu_fast)
{
    enum { N = 24001 };
    float *g = malloc(N * sizeof(float)), *u = malloc(N * sizeof(float));
    double worst = 0;
    for (int i = 0; i < N; i++) {
        g[i] = -12.0f + 24.0f * (float)i / (N - 1);
        u[i] = 1.0f;
    }
    cpu_geglu(g, u, N);
    int same = 1;
    for (int i = 0; i < N; i++) {
        double x = (double)(-12.0f + 24.0f * (float)i / (N - 1));
        double ref = 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        double e = fabs(g[i] - ref) / fmax(1.0, fabs(ref));
        if (!(e <= worst)) worst = e;
        float one = (float)x, uo = 1.0f;
        cpu_geglu(&one, &uo, 1);    /* the scalar path */
        same &= memcmp(&one, &g[i], sizeof one) == 0;
    }
    free(g);
    free(u);
    CHECK_MSG(worst < 1e-6, "max error %.3g", worst);
    CHECK(same);
}

TEST(ops_softmax_rows)
{
    pb_rng r = {7};
    float x[3 * 50];
    for (int i = 0; i < 150; i++) x[i] = (float)(rng_unit(&r) * 40.0 - 20.0);
    float ref[150];
    for (int row = 0; row < 3; row++) {
        double mx = -1e30, sum = 0;
        for (int i = 0; i < 50; i++) mx = fmax(mx, x[row * 50 + i]);
        for (int i = 0; i < 50; i++) sum += exp(x[row * 50 + i] - mx);
        for (int i = 0; i < 50; i++) ref[row * 50 + i] = (float)(exp(x[row * 50 + i] - mx) / sum);
    }
    cpu_softmax_rows(x, 3, 50);
    for (int i = 0; i < 150; i++) CHECK_NEAR(x[i], ref[i], 1e-6 * fmax(1.0, ref[i]));
}

TEST(ops_rope_adjacent_pairs)
{
    /* one head, d = 4, position 3, base 100: pairs (0,1) and (2,3) rotate by
     * 3 rad and 3/10 rad */
    float x[4] = {1, 2, 3, 4};
    cpu_rope(x, 1, 1, 4, 3, 100.0f);
    double a0 = 3.0, a1 = 3.0 / 10.0;
    CHECK_NEAR(x[0], 1 * cos(a0) - 2 * sin(a0), 1e-5);
    CHECK_NEAR(x[1], 1 * sin(a0) + 2 * cos(a0), 1e-5);
    CHECK_NEAR(x[2], 3 * cos(a1) - 4 * sin(a1), 1e-5);
    CHECK_NEAR(x[3], 3 * sin(a1) + 4 * cos(a1), 1e-5);
}

TEST(ops_rmsnorm_matmul_swiglu)
{
    float x[2 * 3] = {1, 2, 3, -1, 0, 1}, w[3] = {1, 2, 0.5f}, y[6];
    cpu_rmsnorm(y, x, w, 2, 3, 0.0f);
    double s0 = 1 / sqrt((1 + 4 + 9) / 3.0), s1 = 1 / sqrt(2 / 3.0);
    CHECK_NEAR(y[1], 2 * 2 * s0, 1e-6);
    CHECK_NEAR(y[5], 0.5 * 1 * s1, 1e-6);
    /* y (2,2) = x (2,3) W^T, W (2,3) */
    float W[6] = {1, 0, -1, 2, 1, 0}, out[4];
    cpu_matmul(out, x, W, 2, 3, 2);
    CHECK_NEAR(out[0], 1 - 3, 1e-6);
    CHECK_NEAR(out[1], 2 + 2, 1e-6);
    CHECK_NEAR(out[2], -1 - 1, 1e-6);
    CHECK_NEAR(out[3], -2, 1e-6);
    cpu_matmul(out, x + 3, W, 1, 3, 2); /* the gemv path */
    CHECK_NEAR(out[0], -2, 1e-6);
    CHECK_NEAR(out[1], -2, 1e-6);
    float g[2] = {1.5f, -2.0f}, u[2] = {2.0f, 3.0f};
    cpu_swiglu(g, u, 2);
    CHECK_NEAR(g[0], 1.5 / (1 + exp(-1.5)) * 2, 1e-6);
    CHECK_NEAR(g[1], -2.0 / (1 + exp(2.0)) * 3, 1e-6);
    CHECK(cpu_argmax((float[]){1, 5, 5, 2}, 4) == 1);
}

/* Products from quantized blocks equal the f32 products of the dequantized
 * weights up to summation order: on real Q4_1 and Q8_0 tensors of the model
 * and a random x, relative to the scale of the terms. */
/* The quantized gemv of tensor `name` of m (its first 2,048 rows) against
 * the dequantized rows in double; 1 within 1e-6 of Σ|w·x| per row. */
static int check_gemv(const model *m, const char *name, pb_rng *r)
{
    const gguf_tensor *g = gguf_find_tensor(m->file, name);
    if (!g || !cpu_gemv_supported(g->type)) {
        test_fail(__FILE__, __LINE__, "%s: missing or without a quantized gemv", name);
        return 0;
    }
    int in = (int)g->ne[0], out = (int)g->ne[1] < 2048 ? (int)g->ne[1] : 2048;
    float *wf = pb_malloc((size_t)in * out * sizeof(float)), *x = pb_malloc((size_t)in * sizeof(float));
    float *y = pb_malloc((size_t)out * sizeof(float));
    size_t be, bb;
    ggml_type_info(g->type, &be, &bb);
    for (int o = 0; o < out; o++)
        dequant_row(g->type, (const uint8_t *)g->data + (size_t)o * (in / be) * bb, wf + (size_t)o * in, (size_t)in);
    for (int i = 0; i < in; i++) x[i] = (float)(rng_unit(r) * 2 - 1);
    for (int o = 0; o < out; o++) y[o] = NAN;
    int ok = cpu_gemv_quant(y, g->data, g->type, x, in, out);
    double worst = 0;
    for (int o = 0; o < out; o++) {
        double s = 0, mag = 0;
        for (int i = 0; i < in; i++) {
            s += (double)wf[(size_t)o * in + i] * x[i];
            mag += fabs((double)wf[(size_t)o * in + i] * x[i]);
        }
        double e = fabs(y[o] - s) / (mag + 1e-30);
        if (!(e <= worst)) worst = e;  /* NaN-safe: a NaN makes worst NaN */
    }
    printf("    %-26s %-5s %5d x %5d  worst relative error %.3g\n", name, ggml_type_name(g->type), out, in, worst);
    if (!ok || !(worst < 1e-6)) test_fail(__FILE__, __LINE__, "%s: worst relative error %.3g", name, worst);
    free(wf);
    free(x);
    free(y);
    return ok && worst < 1e-6;
}

TEST(ops_gemv_quant_matches_dequantized)
{
    const model *m = fixture_model();
    const char *names[] = {"blk.7.ffn_down.weight", "blk.0.attn_q.weight", "token_embd.weight"};
    pb_rng r = {11};
    for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) CHECK(check_gemv(m, names[t], &r));
    CHECK(!cpu_gemv_supported(GGML_F32) && !cpu_gemv_quant(NULL, NULL, GGML_Q4_0, NULL, 256, 1));
}

/* Gemma-3-270M's types: Q5_0 (q, k, v, gate, up), Q4_K (attention output,
 * half the down projections), Q6_K (the other half), Q8_0 (half the v). */
TEST(ops_gemv_quant_gemma_types)
{
    const model *m = fixture_gemma();
    const char *names[] = {"blk.0.attn_q.weight", "blk.3.ffn_up.weight", "blk.0.attn_output.weight"};
    pb_rng r = {12};
    for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) CHECK(check_gemv(m, names[t], &r));
    int seen_q6 = 0, seen_q4 = 0;
    for (int l = 0; l < m->cfg.n_layer && !(seen_q6 && seen_q4); l++) {  /* one down projection of each type */
        char name[64];
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        const gguf_tensor *g = gguf_find_tensor(m->file, name);
        if (g && g->type == GGML_Q6_K && !seen_q6++) CHECK(check_gemv(m, name, &r));
        if (g && g->type == GGML_Q4_K && !seen_q4++) CHECK(check_gemv(m, name, &r));
    }
    CHECK(seen_q6 && seen_q4);
}

/* The AVX-512 rows give, bit for bit, what the AVX2 rows give, on a tensor
 * of every type both models use (where the CPU lacks AVX-512 both runs take
 * the AVX2 rows and the comparison says nothing; the line says which). */
static int gemv_isa_same(const model *m, const char *name, pb_rng *r)
{
    const gguf_tensor *g = gguf_find_tensor(m->file, name);
    if (!g || !cpu_gemv_supported(g->type)) return 0;
    const int in = (int)g->ne[0], out = (int)g->ne[1] < 4096 ? (int)g->ne[1] : 4096;
    float *x = pb_malloc((size_t)in * sizeof(float));
    float *y0 = pb_malloc((size_t)out * sizeof(float)), *y1 = pb_malloc((size_t)out * sizeof(float));
    for (int i = 0; i < in; i++) x[i] = (float)(rng_unit(r) * 2 - 1);
    for (int o = 0; o < out; o++) y0[o] = y1[o] = NAN;
    int was = cpu_gemv_avx512(0);
    int ok = cpu_gemv_quant(y0, g->data, g->type, x, in, out);
    cpu_gemv_avx512(1);
    int wide = cpu_gemv_avx512(-1);
    ok &= cpu_gemv_quant(y1, g->data, g->type, x, in, out);
    cpu_gemv_avx512(was);
    ok &= memcmp(y0, y1, (size_t)out * sizeof(float)) == 0;
    printf("    %-26s %-5s %s\n", name, ggml_type_name(g->type), wide ? "AVX-512 == AVX2" : "no AVX-512 here");
    free(x);
    free(y0);
    free(y1);
    return ok;
}

TEST(ops_gemv_quant_avx512_bitwise)
{
    pb_rng r = {14};
    const model *m = fixture_model();
    CHECK(gemv_isa_same(m, "blk.0.attn_q.weight", &r));
    CHECK(gemv_isa_same(m, "token_embd.weight", &r));
    const model *g = fixture_gemma();
    const char *names[] = {"blk.0.attn_q.weight", "blk.0.attn_output.weight", "token_embd.weight"};
    for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) CHECK(gemv_isa_same(g, names[t], &r));
    int seen_q6 = 0;
    for (int l = 0; l < g->cfg.n_layer && !seen_q6; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        const gguf_tensor *t = gguf_find_tensor(g->file, name);
        if (t && t->type == GGML_Q6_K && !seen_q6++) CHECK(gemv_isa_same(g, name, &r));
    }
    CHECK(seen_q6);
}

/* The output matrix (262,144 x 640, its rows split over the pool's threads)
 * gives, row for row, bit for bit, what products of slices of 2,048 rows
 * (split differently) give: the split does not change a sum. */
TEST(ops_gemv_quant_split_rows_exact)
{
    const model *m = fixture_gemma();
    const gguf_tensor *g = gguf_find_tensor(m->file, "token_embd.weight");
    CHECK(g && cpu_gemv_supported(g->type));
    const int in = (int)g->ne[0], out = (int)g->ne[1], part = 2048;
    size_t be, bb;
    ggml_type_info(g->type, &be, &bb);
    const size_t row_bytes = (size_t)in / be * bb;
    float *x = pb_malloc((size_t)in * sizeof(float)), *y = pb_malloc((size_t)out * sizeof(float));
    float *yp = pb_malloc((size_t)part * sizeof(float));
    pb_rng r = {13};
    for (int i = 0; i < in; i++) x[i] = (float)(rng_unit(&r) * 2 - 1);
    for (int o = 0; o < out; o++) y[o] = NAN;
    CHECK(cpu_gemv_quant(y, g->data, g->type, x, in, out));
    int same = 1;
    for (int o0 = 0; o0 < out; o0 += out / 4 - part / 3) {  /* slices across the thread boundaries */
        int n = out - o0 < part ? out - o0 : part;
        CHECK(cpu_gemv_quant(yp, (const uint8_t *)g->data + (size_t)o0 * row_bytes, g->type, x, in, n));
        for (int o = 0; o < n; o++) same &= memcmp(&yp[o], &y[o0 + o], sizeof(float)) == 0;
    }
    CHECK(same);
    free(x);
    free(y);
    free(yp);
}
