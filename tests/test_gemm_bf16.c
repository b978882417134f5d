/* test_gemm_bf16.c — the bf16 products (kernels/gemm_bf16.h) against
 * double-precision sums on fresh random inputs, and the product mode's
 * choice and refusal (backend.h, --cpu-products).
 *
 * Shapes are odd on purpose: n, in and out not multiples of the tile's rows,
 * panels or k block, in odd (the last k pair padded), out not a multiple of
 * 16 (the last panel masked), one product spanning two k blocks. Outputs
 * and the rounded-input scratch are poisoned with NaN first, so an output
 * left unwritten or a pad read from garbage shows.
 *
 * Two bounds per output, u = 2^-8 the unit roundoff of bf16 (8 significant
 * bits, rounding to nearest even), m the f32 additions of one output
 * (in + 1 pad + one per k block) and γ = m·2^-24 / (1 − m·2^-24):
 *   against the sum of the bf16-rounded inputs (the products of two bf16
 *   values are exact in f32): |y − Σ x̂ŵ| ≤ γ Σ|x̂||ŵ|. This one fails on any
 *   wrong pairing, a truncating rounding or a lost term (each is ~2^-8
 *   relative, γ ~1e-4 at most);
 *   against the exact sum of the f32 inputs: |y − Σ xw| ≤ (2u + u²) Σ|x||w| +
 *   γ Σ|x̂||ŵ| (each input off by at most u relative).
 * On a CPU without AVX-512 BF16 the product tests print one line and pass
 * (nothing to test: the mode is refused there, which the last tests check by
 * forcing the feature off).
 */
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "kernels/gemm_bf16.h"
#include "kernels/quant.h"
#include "run/backend.h"
#include "tests/fixture.h"
#include "tests/test.h"

/* value in ±[2^-4, 2^4) spread over exponents, never near the denormals */
static float rand_val(pb_rng *r)
{
    double v = (0.5 + 0.5 * rng_unit(r)) * ldexp(1.0, (int)rng_below(r, 9) - 4);
    return (float)(rng_below(r, 2) ? v : -v);
}

/* One product of shape (n, in, out); returns 0 after a recorded failure. */
static int check_shape(pb_rng *r, int n, int in, int out)
{
    float *x = pb_malloc((size_t)n * in * sizeof(float)), *w = pb_malloc((size_t)out * in * sizeof(float));
    float *y = pb_malloc((size_t)n * out * sizeof(float));
    for (long i = 0; i < (long)n * in; i++) x[i] = rand_val(r);
    for (long i = 0; i < (long)out * in; i++) w[i] = rand_val(r);
    for (long i = 0; i < (long)n * out; i++) y[i] = NAN;
    size_t sb = gemm_bf16_scratch_bytes(n, in);
    void *scratch = pb_malloc(sb);
    memset(scratch, 0xFF, sb); /* bf16 NaN words */
    bf16_matrix m;
    gemm_bf16_pack(&m, w, out, in);
    gemm_bf16_par(y, x, &m, n, scratch);

    const double u = 0x1p-8;
    const double mk = in + 2 + (in + 1) / 1024 + 1, gam = mk * 0x1p-24 / (1 - mk * 0x1p-24);
    int ok = 1;
    double worst_b = 0, worst_a = 0; /* the largest error as a fraction of its bound */
    for (int i = 0; i < n && ok; i++)
        for (int o = 0; o < out && ok; o++) {
            double exact = 0, abs = 0, exact_b = 0, abs_b = 0;
            for (int k = 0; k < in; k++) {
                double xv = x[(size_t)i * in + k], wv = w[(size_t)o * in + k];
                double xb = bf16_to_f32(f32_to_bf16((float)xv)), wb = bf16_to_f32(f32_to_bf16((float)wv));
                exact += xv * wv;
                abs += fabs(xv * wv);
                exact_b += xb * wb;
                abs_b += fabs(xb * wb);
            }
            double got = y[(size_t)i * out + o];
            double bound_b = gam * abs_b, bound_a = (2 * u + u * u) * abs + gam * abs_b;
            if (!(fabs(got - exact_b) <= bound_b)) {
                test_fail(__FILE__, __LINE__, "(%d, %d, %d) y[%d][%d] = %.9g, bf16-input sum %.9g, |diff| > %.3g", n,
                          in, out, i, o, got, exact_b, bound_b);
                ok = 0;
            } else if (!(fabs(got - exact) <= bound_a)) {
                test_fail(__FILE__, __LINE__, "(%d, %d, %d) y[%d][%d] = %.9g, exact %.9g, |diff| > %.3g", n, in, out,
                          i, o, got, exact, bound_a);
                ok = 0;
            }
            if (ok && fabs(got - exact_b) / bound_b > worst_b) worst_b = fabs(got - exact_b) / bound_b;
            if (ok && fabs(got - exact) / bound_a > worst_a) worst_a = fabs(got - exact) / bound_a;
        }
    if (ok)
        printf("    (%d, %d, %d): worst error / bound %.3f (bf16 inputs), %.3f (f32 inputs)\n", n, in, out, worst_b,
               worst_a);
    gemm_bf16_free(&m);
    free(scratch);
    free(x);
    free(w);
    free(y);
    return ok;
}

static int have_bf16(void)
{
    if (gemm_bf16_usable()) return 1;
    printf("    skipped: this CPU lacks AVX-512 BF16 (the bf16 products are refused here)\n");
    return 0;
}

TEST(gemm_bf16_odd_shapes)
{
    if (!have_bf16()) return;
    pb_rng r = {20261205};
    static const int shapes[][3] = {
        {1, 1, 1}, {2, 3, 17}, {7, 33, 31}, {13, 65, 50}, {37, 641, 129}, {50, 1027, 33}, {5, 2049, 47}, {97, 255, 300},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        CHECK(check_shape(&r, shapes[s][0], shapes[s][1], shapes[s][2]));
}

/* The same inputs give the same bytes whatever the rows around them: the
 * first 5 rows alone equal the first 5 rows of a product of 29. */
TEST(gemm_bf16_rows_independent)
{
    if (!have_bf16()) return;
    pb_rng r = {7};
    const int n = 29, in = 131, out = 70;
    float *x = pb_malloc((size_t)n * in * sizeof(float)), *w = pb_malloc((size_t)out * in * sizeof(float));
    float *y = pb_malloc((size_t)n * out * sizeof(float)), *y5 = pb_malloc((size_t)5 * out * sizeof(float));
    for (long i = 0; i < (long)n * in; i++) x[i] = rand_val(&r);
    for (long i = 0; i < (long)out * in; i++) w[i] = rand_val(&r);
    void *scratch = pb_malloc(gemm_bf16_scratch_bytes(n, in));
    bf16_matrix m;
    gemm_bf16_pack(&m, w, out, in);
    gemm_bf16_par(y, x, &m, n, scratch);
    gemm_bf16_par(y5, x, &m, 5, scratch);
    int same = !memcmp(y, y5, (size_t)5 * out * sizeof(float));
    gemm_bf16_free(&m);
    free(scratch);
    free(x);
    free(w);
    free(y);
    free(y5);
    CHECK(same);
}

/* The mode's names, and bf16 refused where the CPU lacks it (forced off
 * here): --cpu-products and $PURBO_CPU_PRODUCTS each give one line naming
 * themselves, and backend_check refuses the cpu backend. */
TEST(cpu_products_choice)
{
    pb_err err;
    const char *env = getenv("PURBO_CPU_PRODUCTS");
    char *saved = env ? strdup(env) : NULL;
    unsetenv("PURBO_CPU_PRODUCTS");
    CHECK(backend_cpu_products(&err) == CPU_PRODUCTS_F32);
    CHECK(!backend_cpu_products_set("f16", &err) && strstr(err.msg, "not one of f32, bf16"));
    CHECK(backend_cpu_products_set("f32", &err) && backend_cpu_products(&err) == CPU_PRODUCTS_F32);
    int was = gemm_bf16_allow(0);
    int refused = !backend_cpu_products_set("bf16", &err) && strstr(err.msg, "--cpu-products bf16") &&
                  strstr(err.msg, "lacks AVX-512 BF16");
    backend_cpu_products_set(NULL, &err);
    setenv("PURBO_CPU_PRODUCTS", "bf16", 1);
    int env_refused = backend_cpu_products(&err) < 0 && strstr(err.msg, "PURBO_CPU_PRODUCTS bf16") &&
                      !backend_check("cpu", &err) && !backend_check("auto", &err);
    gemm_bf16_allow(was);
    int env_taken = backend_cpu_products(&err) == (gemm_bf16_usable() ? CPU_PRODUCTS_BF16 : -1);
    if (saved) setenv("PURBO_CPU_PRODUCTS", saved, 1);
    else unsetenv("PURBO_CPU_PRODUCTS");
    free(saved);
    CHECK(refused);
    CHECK(env_refused);
    CHECK(env_taken);
}

/* The command line: a bad mode is one line and exit 2. */
TEST(cpu_products_cli_bad_mode)
{
    char err[1024];
    int lines = 0;
    int rc = fixture_run_bin("bench-cpu --model x.gguf --cpu-products f16", err, sizeof err, &lines);
    CHECK_MSG(rc == 2 && lines == 1 && strstr(err, "--cpu-products 'f16' is not one of f32, bf16"),
              "rc %d, %d lines: %s", rc, lines, err);
}
