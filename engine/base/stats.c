/* stats.c — means, intervals and paired tests of per-case scores (stats.h).
 * Pure arithmetic on the caller's arrays; the only state is the bootstrap's
 * generator, seeded per call, so results never depend on call order. */
#include "base/stats.h"

#include <math.h>
#include <stdlib.h>

#include "base/common.h"
#include "base/rng.h"

int stats_is_binary(const double *x, int n)
{
    for (int i = 0; i < n; i++)
        if (x[i] != 0.0 && x[i] != 1.0) return 0;
    return 1;
}

double stats_mean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return n ? s / n : 0;
}

void stats_wilson(int k, int n, double z, double *lo, double *hi)
{
    if (n <= 0) {
        *lo = 0, *hi = 1;
        return;
    }
    double p = (double)k / n, z2 = z * z, den = 1 + z2 / n;
    double center = (p + z2 / (2.0 * n)) / den;
    double half = z / den * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
    *lo = fmax(0, center - half);
    *hi = fmin(1, center + half);
}

double stats_mcnemar_exact(int b, int c)
{
    int n = b + c, k = b < c ? b : c;
    if (n == 0) return 1;
    /* P[X <= k] for X ~ Bin(n, 1/2), term by term in logs (no underflow for large n) */
    double tail = 0;
    for (int i = 0; i <= k; i++)
        tail += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0));
    return fmin(1, 2 * tail);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_bootstrap_mean(const double *x, int n, int resamples, uint64_t seed, double alpha, double *lo, double *hi)
{
    PB_CHECK(n >= 1 && resamples >= 1, "bootstrap of %d values, %d resamples", n, resamples);
    double *m = pb_malloc((size_t)resamples * sizeof *m);
    pb_rng r = {seed};
    for (int b = 0; b < resamples; b++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += x[rng_below(&r, (uint64_t)n)];
        m[b] = s / n;
    }
    qsort(m, (size_t)resamples, sizeof *m, cmp_double);
    int cut = (int)floor(alpha / 2 * resamples);
    *lo = m[cut];
    *hi = m[resamples - 1 - cut];
    free(m);
}

void stats_mean_interval(const double *x, int n, int binary, stats_ci *out)
{
    *out = (stats_ci){.n = n, .binary = binary};
    if (n == 0) return;
    out->mean = stats_mean(x, n);
    if (binary) {
        int k = 0;
        for (int i = 0; i < n; i++) k += x[i] == 1.0;
        stats_wilson(k, n, STATS_Z95, &out->lo, &out->hi);
    } else {
        stats_bootstrap_mean(x, n, STATS_BOOT_N, STATS_BOOT_SEED, STATS_ALPHA, &out->lo, &out->hi);
    }
}

void stats_paired(const double *a, const double *ref, int n, int binary, stats_diff *out)
{
    *out = (stats_diff){.n = n, .binary = binary, .p = -1};
    if (n == 0) return;
    double *d = pb_malloc((size_t)n * sizeof *d);
    for (int i = 0; i < n; i++) {
        d[i] = a[i] - ref[i];
        out->b += a[i] > ref[i];
        out->c += a[i] < ref[i];
    }
    out->diff = stats_mean(d, n);
    stats_bootstrap_mean(d, n, STATS_BOOT_N, STATS_BOOT_SEED, STATS_ALPHA, &out->lo, &out->hi);
    if (binary) {
        out->p = stats_mcnemar_exact(out->b, out->c);
        out->significant = out->p < STATS_ALPHA;
    } else {
        out->b = out->c = 0;
        /* a margin below any score's resolution: a difference of equal sums
         * computed in another order (0.3 - (0.1 + 0.2)) is no difference */
        out->significant = out->lo > 1e-9 || out->hi < -1e-9;
    }
    free(d);
}
