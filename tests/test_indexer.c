/* test_indexer.c — the indexers' linear algebra: the symmetric eigensolver
 * (LAPACK against Jacobi, a rank-deficient 256 x 256 case), the low-rank
 * fit of W_Q, W_K against the exact product q.k, the fit restricted to a
 * subset of dims, and the RoPE band's dims in both pair layouts.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/indexer.h"
#include "base/rng.h"
#include "tests/test.h"

TEST(indexer_sym_eig)
{
    /* a = V diag(5, 2, -1) V^T with a known rotation */
    double c = cos(0.3), s = sin(0.3), v[9] = {c, -s, 0, s, c, 0, 0, 0, 1}, w0[3] = {2, 5, -1}, a[9], w[3], ev[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            a[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) a[i * 3 + j] += v[i * 3 + k] * w0[k] * v[j * 3 + k];
        }
    pb_sym_eig(a, 3, w, ev);
    CHECK_NEAR(w[0], 5, 1e-12);
    CHECK_NEAR(w[1], 2, 1e-12);
    CHECK_NEAR(w[2], -1, 1e-12);
    /* eigenvector of 5 is column 1 of v, up to sign */
    CHECK_NEAR(fabs(ev[0] * v[1] + ev[3] * v[4] + ev[6] * v[7]), 1.0, 1e-12);
}

/* A rank-deficient 256 x 256 covariance (a head of dimension 256): every
 * eigenpair holds (|A v - w v| small against |A|), V is orthonormal, the
 * eigenvalues are sorted, sum to the trace and equal the Jacobi solver's,
 * and each vector's largest component is positive. */
TEST(indexer_sym_eig_d256)
{
    enum { n = 256 };
    double *a0 = pb_malloc(n * n * sizeof(double)), *a = pb_malloc(n * n * sizeof(double));
    double *v = pb_malloc(n * n * sizeof(double)), w[n];
    pb_rng rg = {11};
    double tr = 0, norm = 0;
    /* a covariance of 96 samples, as the probes fit: rank 96 of 256, the
     * other 160 eigenvalues 0 up to rounding */
    enum { m = 96 };
    double *x = pb_malloc(m * n * sizeof(double));
    for (int i = 0; i < m * n; i++) x[i] = (rng_unit(&rg) - 0.5) * (1 + (i % n) % 7);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            double c = 0;
            for (int t = 0; t < m; t++) c += x[t * n + i] * x[t * n + j];
            a0[i * n + j] = a0[j * n + i] = c / m;
        }
    free(x);
    for (int i = 0; i < n; i++) tr += a0[i * n + i];
    for (int i = 0; i < n * n; i++) norm += a0[i] * a0[i];
    norm = sqrt(norm);
    memcpy(a, a0, n * n * sizeof(double));
    pb_sym_eig(a, n, w, v);
    double worst = 0, orth = 0, sum = 0;
    int sorted = 1;
    for (int c = 0; c < n; c++) {
        sum += w[c];
        if (c && w[c] > w[c - 1]) sorted = 0;
        for (int i = 0; i < n; i++) {
            double av = 0;
            for (int k = 0; k < n; k++) av += a0[i * n + k] * v[k * n + c];
            worst = fmax(worst, fabs(av - w[c] * v[i * n + c]));
        }
        for (int c2 = c; c2 < n; c2 += 17) {
            double dot = 0;
            for (int k = 0; k < n; k++) dot += v[k * n + c] * v[k * n + c2];
            orth = fmax(orth, fabs(dot - (c == c2)));
        }
    }
    CHECK_MSG(worst < 1e-10 * norm, "residual %.3g (|A| %.3g)", worst, norm);
    CHECK_MSG(orth < 1e-10, "orthonormality %.3g", orth);
    CHECK(sorted);
    CHECK_NEAR(sum, tr, 1e-9 * norm);
    int signs = 1;
    for (int c = 0; c < n; c++) {
        int big = 0;
        for (int k = 1; k < n; k++)
            if (fabs(v[k * n + c]) > fabs(v[big * n + c])) big = k;
        signs &= v[big * n + c] > 0;
    }
    CHECK(signs);
    double wj[n], dw = 0;
    memcpy(a, a0, n * n * sizeof(double));
    pb_sym_eig_jacobi(a, n, wj, v);
    for (int c = 0; c < n; c++) dw = fmax(dw, fabs(w[c] - wj[c]));
    CHECK_MSG(dw < 1e-10 * norm, "LAPACK against Jacobi: eigenvalues differ by %.3g", dw);
    free(a0);
    free(a);
    free(v);
}

/* Relative RMS error of the indexer score against q·k (keys centred), or
 * against the part of q·k on the dims marked in dims (NULL: every dim). */
static double index_error(const float *q, const float *k, int n, int d, int r, const float *wq, const float *wk,
                          const unsigned char *dims)
{
    double err = 0, tot = 0, kbar[64] = {0};
    for (int j = 0; j < n; j++)
        for (int i = 0; i < d; i++) kbar[i] += k[j * d + i] / n;
    for (int t = 0; t < n; t += 7)
        for (int j = 0; j < n; j += 3) {
            double ex = 0, ix = 0;
            for (int i = 0; i < d; i++)
                if (!dims || dims[i]) ex += q[t * d + i] * (k[j * d + i] - kbar[i]);
            for (int a = 0; a < r; a++) {
                double qa = 0, ka = 0;
                for (int i = 0; i < d; i++) {
                    qa += wq[a * d + i] * q[t * d + i];
                    ka += wk[a * d + i] * (k[j * d + i] - kbar[i]);
                }
                ix += qa * ka;
            }
            err += (ex - ix) * (ex - ix);
            tot += ex * ex;
        }
    return sqrt(err / tot);
}

TEST(indexer_fit_full_rank_and_low_rank)
{
    enum { n = 600, d = 16 };
    float *q = pb_malloc(n * d * sizeof(float)), *k = pb_malloc(n * d * sizeof(float));
    float wq[d * d], wk[d * d];
    pb_rng rg = {5};
    /* q, k: a shared 3-dim subspace with large variance, plus small noise; k has an offset */
    double basis[3][d];
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < d; i++) basis[a][i] = rng_unit(&rg) - 0.5;
    for (int t = 0; t < n; t++) {
        double cq[3], ck[3];
        for (int a = 0; a < 3; a++) {
            cq[a] = 4 * (rng_unit(&rg) - 0.5);
            ck[a] = 4 * (rng_unit(&rg) - 0.5);
        }
        for (int i = 0; i < d; i++) {
            double sq = 0.02 * (rng_unit(&rg) - 0.5), sk = 0.02 * (rng_unit(&rg) - 0.5) + 0.7;
            for (int a = 0; a < 3; a++) {
                sq += basis[a][i] * cq[a];
                sk += basis[a][i] * ck[a];
            }
            q[t * d + i] = (float)sq;
            k[t * d + i] = (float)sk;
        }
    }
    indexer_moments m;
    indexer_moments_init(&m, d);
    indexer_moments_add_q(&m, q, n, d);
    indexer_moments_add_k(&m, k, n, d);
    indexer_fit(&m, &m, d, wq, wk);
    double e_full = index_error(q, k, n, d, d, wq, wk, NULL);
    indexer_fit(&m, &m, 3, wq, wk);
    double e3 = index_error(q, k, n, d, 3, wq, wk, NULL);
    indexer_fit(&m, &m, 1, wq, wk);
    double e1 = index_error(q, k, n, d, 1, wq, wk, NULL);
    printf("    relative score error: r=d %.2e, r=3 %.2e, r=1 %.2e\n", e_full, e3, e1);
    indexer_moments_free(&m);
    free(q);
    free(k);
    CHECK_MSG(e_full < 1e-4, "full rank error %.3g", e_full);
    CHECK_MSG(e3 < 1e-3, "rank-3 error %.3g on rank-3 data", e3);
    CHECK_MSG(e1 > 0.3, "rank 1 cannot be exact here: %.3g", e1);
}

/* The fit on a subset of dims: the other columns are exactly 0, all dims
 * give indexer_fit's matrices, and at the kept dims' full rank the score is
 * the kept dims' part of q.(k - mean k), whatever the other dims hold. */
TEST(indexer_fit_dims_restricts_and_matches)
{
    enum { n = 500, d = 12 };
    float *q = pb_malloc(n * d * sizeof(float)), *k = pb_malloc(n * d * sizeof(float));
    float wq[d * d], wk[d * d], wq2[d * d], wk2[d * d];
    pb_rng rg = {11};
    for (int i = 0; i < n * d; i++) {
        q[i] = (float)(3 * (rng_unit(&rg) - 0.5));
        k[i] = (float)(3 * (rng_unit(&rg) - 0.5) + 0.4);
    }
    indexer_moments m;
    indexer_moments_init(&m, d);
    indexer_moments_add_q(&m, q, n, d);
    indexer_moments_add_k(&m, k, n, d);
    unsigned char all[d], some[d];
    for (int j = 0; j < d; j++) all[j] = 1, some[j] = j % 3 == 1 || j >= 9; /* 1, 4, 7, 9, 10, 11 */
    indexer_fit(&m, &m, 5, wq, wk);
    indexer_fit_dims(&m, &m, 5, all, wq2, wk2);
    CHECK(!memcmp(wq, wq2, sizeof(float) * 5 * d) && !memcmp(wk, wk2, sizeof(float) * 5 * d));
    indexer_fit_dims(&m, &m, 6, some, wq, wk);
    int zero_ok = 1;
    for (int a = 0; a < 6; a++)
        for (int j = 0; j < d; j++)
            if (!some[j] && (wq[a * d + j] != 0.0f || wk[a * d + j] != 0.0f)) zero_ok = 0;
    CHECK_MSG(zero_ok, "a column outside the kept dims is not 0");
    /* the kept dims' part of the exact score against the fitted one */
    double e = index_error(q, k, n, d, 6, wq, wk, some);
    CHECK_MSG(e < 1e-4, "kept-dims score error %.3g", e);
    indexer_moments_free(&m);
    free(q);
    free(k);
}

/* The band's dims in both pair layouts: the last pairs turn least. */
TEST(indexer_band_dims_layouts)
{
    model_config c = {.head_dim = 8, .rope_dim = 8, .rope_style = ROPE_ADJACENT};
    unsigned char dims[8];
    indexer_band_dims(&c, 1, dims);
    CHECK(!memcmp(dims, (unsigned char[8]){0, 0, 0, 0, 0, 0, 1, 1}, 8));
    indexer_band_dims(&c, 2, dims);
    CHECK(!memcmp(dims, (unsigned char[8]){0, 0, 0, 0, 1, 1, 1, 1}, 8));
    c.rope_style = ROPE_NEOX;
    indexer_band_dims(&c, 1, dims);
    CHECK(!memcmp(dims, (unsigned char[8]){0, 0, 0, 1, 0, 0, 0, 1}, 8));
    indexer_band_dims(&c, 4, dims);
    CHECK(!memcmp(dims, (unsigned char[8]){1, 1, 1, 1, 1, 1, 1, 1}, 8));
}
