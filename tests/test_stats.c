/* test_stats.c — base/stats.h against values computed by hand: Wilson
 * intervals, McNemar's exact p for known discordant counts, the bootstrap's
 * determinism and its agreement with the normal interval on a larger
 * sample, and the paired difference's verdicts. */
#include "base/stats.h"
#include "tests/test.h"

TEST(stats_wilson_hand_values)
{
    double lo, hi;
    /* 7/10: p = 0.7, z^2 = 3.8415; centre (0.7 + 0.19207) / 1.38415, half 1.41602 * sqrt(0.0306036) */
    stats_wilson(7, 10, STATS_Z95, &lo, &hi);
    CHECK_NEAR(lo, 0.396778147, 1e-8);
    CHECK_NEAR(hi, 0.892208733, 1e-8);
    /* 0/10: [0, z^2 / (n + z^2)] */
    stats_wilson(0, 10, STATS_Z95, &lo, &hi);
    CHECK_NEAR(lo, 0.0, 1e-12);
    CHECK_NEAR(hi, 0.277532800, 1e-8);
    stats_wilson(10, 10, STATS_Z95, &lo, &hi);
    CHECK_NEAR(lo, 0.722467200, 1e-8);
    CHECK_NEAR(hi, 1.0, 1e-12);
    stats_wilson(1, 2, STATS_Z95, &lo, &hi);
    CHECK_NEAR(lo, 0.094531206, 1e-8);
    CHECK_NEAR(hi, 0.905468794, 1e-8);
    stats_wilson(0, 0, STATS_Z95, &lo, &hi);
    CHECK(lo == 0 && hi == 1);
}

TEST(stats_mcnemar_exact_hand_values)
{
    CHECK_NEAR(stats_mcnemar_exact(0, 5), 2.0 / 32, 1e-12);            /* 0.0625: 5 of 5 one way, not < 0.05 */
    CHECK_NEAR(stats_mcnemar_exact(0, 6), 2.0 / 64, 1e-12);            /* 0.03125 */
    CHECK_NEAR(stats_mcnemar_exact(1, 9), 2.0 * 11 / 1024, 1e-12);     /* 0.021484375 */
    CHECK_NEAR(stats_mcnemar_exact(8, 2), 2.0 * 56 / 1024, 1e-12);     /* 0.109375, symmetric in b, c */
    CHECK_NEAR(stats_mcnemar_exact(5, 15), 0.041389465, 1e-9);         /* 2 * sum_{i<=5} C(20, i) / 2^20 */
    CHECK_NEAR(stats_mcnemar_exact(3, 3), 1.0, 1e-12);
    CHECK_NEAR(stats_mcnemar_exact(0, 0), 1.0, 1e-12);
    /* large n must not underflow: 500 vs 600 discordant pairs is significant, 550 vs 550 not */
    double p = stats_mcnemar_exact(500, 600);
    CHECK_MSG(p > 1e-4 && p < 0.01, "p = %g", p);
    CHECK_NEAR(stats_mcnemar_exact(550, 550), 1.0, 1e-9);
}

TEST(stats_bootstrap_is_seeded_and_sane)
{
    double x[30];
    for (int i = 0; i < 30; i++) x[i] = (i * 7 % 30) / 29.0;
    double lo1, hi1, lo2, hi2, lo3, hi3;
    stats_bootstrap_mean(x, 30, STATS_BOOT_N, STATS_BOOT_SEED, STATS_ALPHA, &lo1, &hi1);
    stats_bootstrap_mean(x, 30, STATS_BOOT_N, STATS_BOOT_SEED, STATS_ALPHA, &lo2, &hi2);
    CHECK(lo1 == lo2 && hi1 == hi2); /* reproducible to the bit */
    stats_bootstrap_mean(x, 30, STATS_BOOT_N, STATS_BOOT_SEED + 1, STATS_ALPHA, &lo3, &hi3);
    CHECK(lo3 != lo1 || hi3 != hi1); /* and the seed is what fixes it */
    /* mean 0.5, population sd sqrt((30^2 - 1) / 12) / 29 = 0.2987; normal interval 0.5 -+ 1.96 * 0.2987 / sqrt(30) */
    double half = 1.959964 * 0.298731 / sqrt(30.0);
    CHECK_NEAR(lo1, 0.5 - half, 0.02);
    CHECK_NEAR(hi1, 0.5 + half, 0.02);
    /* two values 0 and 1: resample means 0, 1/2, 1 with odds 1:2:1, so the 2.5% and 97.5% points are 0 and 1 */
    double two[2] = {0, 1};
    stats_bootstrap_mean(two, 2, STATS_BOOT_N, STATS_BOOT_SEED, STATS_ALPHA, &lo1, &hi1);
    CHECK(lo1 == 0 && hi1 == 1);
    double same[5] = {0.4, 0.4, 0.4, 0.4, 0.4};
    stats_bootstrap_mean(same, 5, STATS_BOOT_N, STATS_BOOT_SEED, STATS_ALPHA, &lo1, &hi1);
    CHECK_NEAR(lo1, 0.4, 1e-12);
    CHECK_NEAR(hi1, 0.4, 1e-12);
}

TEST(stats_mean_interval_and_paired)
{
    double pass[10] = {1, 1, 1, 0, 1, 1, 0, 1, 0, 1}, frac[4] = {0.5, 0.25, 1, 0.75};
    CHECK(stats_is_binary(pass, 10) && !stats_is_binary(frac, 4));
    stats_ci ci;
    stats_mean_interval(pass, 10, 1, &ci);
    CHECK(ci.n == 10 && ci.binary);
    CHECK_NEAR(ci.mean, 0.7, 1e-12);
    CHECK_NEAR(ci.lo, 0.396778147, 1e-8); /* Wilson 7/10 */
    stats_mean_interval(frac, 4, 0, &ci);
    CHECK_NEAR(ci.mean, 0.625, 1e-12);
    CHECK(ci.lo >= 0.25 && ci.lo < 0.625 && ci.hi > 0.625 && ci.hi <= 1);

    /* method fails 6 cases dense passes, and no case the other way: McNemar p = 2/64, significant */
    double dense[12] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0}, sparse[12] = {0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0};
    stats_diff d;
    stats_paired(sparse, dense, 12, 1, &d);
    CHECK(d.n == 12 && d.b == 0 && d.c == 6 && d.significant);
    CHECK_NEAR(d.diff, -0.5, 1e-12);
    CHECK_NEAR(d.p, 0.03125, 1e-12);
    CHECK(d.lo < -0.5 && d.hi < 0 && d.hi > -0.5);
    /* five such cases: p = 0.0625, not significant although the mean fell 5/12 */
    sparse[5] = 1;
    stats_paired(sparse, dense, 12, 1, &d);
    CHECK(d.c == 5 && !d.significant);
    CHECK_NEAR(d.p, 0.0625, 1e-12);
    /* fractional: significance is the bootstrap interval excluding 0 */
    double a[6] = {0.2, 0.3, 0.1, 0.2, 0.3, 0.2}, r[6] = {0.6, 0.7, 0.5, 0.6, 0.8, 0.6};
    stats_paired(a, r, 6, 0, &d);
    CHECK(d.significant && d.p == -1 && d.hi < 0);
    CHECK_NEAR(d.diff, -0.4166666667, 1e-9);
    stats_paired(r, r, 6, 0, &d);
    CHECK(!d.significant && d.diff == 0 && d.lo == 0 && d.hi == 0);
    /* equal scores summed in another order differ by rounding only: not a difference */
    double x3[3] = {0.3, 0.3, 0.3}, y3[3] = {0.1 + 0.2, 0.1 + 0.2, 0.1 + 0.2};
    stats_paired(x3, y3, 3, 0, &d);
    CHECK(d.hi < 0 && d.hi > -1e-15 && !d.significant);
}
