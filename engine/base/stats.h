/* stats.h — the statistics of accuracy results: a mean score with its 95%
 * interval, and the paired difference of two methods on the same cases.
 *
 * Scores are per case in [0, 1]. A set of scores is pass/fail ("binary")
 * when every score is 0 or 1; the caller decides (per task, so every method
 * of a task gets the same kind of interval).
 *   - mean interval: Wilson score interval for binary scores, a percentile
 *     bootstrap of the mean otherwise.
 *   - paired difference (a - ref, case by case): a percentile bootstrap of
 *     the mean difference (cases resampled as pairs); for binary scores also
 *     McNemar's exact test (two-sided binomial test on the discordant pairs).
 *     Significant: binary p < 0.05, otherwise the interval excludes 0 (by
 *     more than 1e-9, rounding noise).
 * Invariant: every bootstrap draws from splitmix64 seeded with
 * STATS_BOOT_SEED and takes STATS_BOOT_N resamples, so the same scores give
 * the same interval on every machine and every run of a report. The
 * percentile interval of B sorted resample means m[0..B) is
 * [m[floor(0.025 B)], m[B - 1 - floor(0.025 B)]] (m[50], m[1949] for B = 2000).
 */
#ifndef PURBO_STATS_H
#define PURBO_STATS_H

#include <stdint.h>

#define STATS_Z95 1.959963984540054 /* the normal quantile of 0.975 */
#define STATS_BOOT_N 2000
#define STATS_BOOT_SEED 0x5eed2000ULL
#define STATS_ALPHA 0.05

/* A mean with its 95% interval; n = 0: all fields 0. */
typedef struct {
    int n, binary;
    double mean, lo, hi;
} stats_ci;

/* A paired difference a - ref over n pairs. b: pairs where a passes and ref
 * fails, c: the reverse (binary only). p: McNemar's exact p (binary), -1
 * otherwise. */
typedef struct {
    int n, binary, b, c, significant;
    double diff, lo, hi, p;
} stats_diff;

/* 1 if every x[i] is exactly 0 or 1 (1 for n = 0). */
int stats_is_binary(const double *x, int n);
double stats_mean(const double *x, int n);
/* Wilson score interval of k passes in n trials at normal quantile z;
 * n = 0 gives [0, 1]. */
void stats_wilson(int k, int n, double z, double *lo, double *hi);
/* Two-sided exact McNemar p for b and c discordant pairs:
 * min(1, 2 P[X <= min(b, c)]), X ~ Binomial(b + c, 1/2); 1 when b + c = 0. */
double stats_mcnemar_exact(int b, int c);
/* Percentile bootstrap interval (level 1 - alpha) of the mean of x[0..n),
 * n >= 1, with `resamples` resamples from a generator seeded with seed. */
void stats_bootstrap_mean(const double *x, int n, int resamples, uint64_t seed, double alpha, double *lo, double *hi);

/* The mean of x[0..n) and its 95% interval (Wilson when binary, else the
 * seeded bootstrap). */
void stats_mean_interval(const double *x, int n, int binary, stats_ci *out);
/* The paired difference a[i] - ref[i], i < n: its mean, seeded paired
 * bootstrap interval, McNemar's p when binary, and whether it is
 * significant at 95%. */
void stats_paired(const double *a, const double *ref, int n, int binary, stats_diff *out);

#endif
