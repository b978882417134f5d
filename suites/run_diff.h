/* run_diff.h — one suite run against another (a baseline run): accuracy
 * per (task, method) with the paired difference on the cases both ran, and
 * speed per throughput case with a verdict that respects the measured
 * noise. `report --run A,B` prints them side by side (run_diff_print);
 * `compare --baseline-run A` gates on their verdicts.
 *
 * Accuracy: cases pair by (task, method, case_index), which fixes the
 * prompt when both runs ran the same suite text (their prompt hashes say
 * so); the difference is B - A with base/stats.h's paired interval (exact
 * McNemar for pass/fail). Verdict: beyond the score tolerance (points of
 * 100) and significant at 95%: regression or improved; beyond it but not
 * significant: noise; otherwise same.
 * Speed: throughput cases pair by (task, method, case_index). Each run's
 * spread is its p10..p90 of the timed repeats (bench table). B is a
 * regression only when its median time exceeds A's by more than the speed
 * tolerance (a fraction) AND its p10 lies above A's p90 (the spreads do
 * not overlap: the change is beyond the noise measured in both runs);
 * faster the same way round is improved; beyond the tolerance with
 * overlapping spreads is noise. With one repeat p10 = p90 = the time: the
 * tolerance alone decides.
 * Too noisy to judge: when the larger of the two relative spreads
 * ((p90 - p10) / median) exceeds RD_MAX_NOISE times the tolerance, a change
 * beyond the tolerance is `noisy`, not a regression: a spread that wide
 * cannot resolve a change of the tolerance's size (nvbench's rule of an
 * unknown verdict under too much noise). Rerun with more repeats or a
 * spread target.
 */
#ifndef PURBO_RUN_DIFF_H
#define PURBO_RUN_DIFF_H

#include <stdint.h>
#include <stdio.h>

#include "base/stats.h"
#include "results/db.h"

typedef enum { RD_SAME, RD_REGRESSION, RD_IMPROVED, RD_NOISE, RD_MISSING, RD_NEW, RD_NOISY } rd_verdict;

/* The largest relative spread that can judge a speed change, as a multiple
 * of the speed tolerance. */
#define RD_MAX_NOISE 1.5

typedef struct {
    char *task, *method;
    int in_a, in_b;
    stats_ci a, b;            /* mean score in [0, 1] and its interval per run */
    int has_diff;
    stats_diff d;             /* B - A on the paired cases */
    int has_dens_a, has_dens_b;
    double dens_a, dens_b;
    rd_verdict v;
} rd_acc;

typedef struct {
    char *task, *method, *phase, *unit;
    int case_index, ctx, layers, heads, kv_heads, head_dim;
    int in_a, in_b, reps_a, reps_b;
    double med_a, p10_a, p90_a, tp_a; /* seconds per repeat; throughput in unit */
    double med_b, p10_b, p90_b, tp_b;
    double ratio;             /* med_b / med_a: above 1 is slower */
    double noise;             /* the larger relative spread (p90 - p10) / median of the two */
    rd_verdict v;
} rd_speed;

/* The speed rule above on two (median, p10, p90) triples. */
rd_verdict rd_speed_verdict(double med_a, double p10_a, double p90_a, double med_b, double p10_b, double p90_b,
                            double tol);
/* The same, with a spread beyond RD_MAX_NOISE * tol (either run) making a
 * change beyond tol `noisy`. */
rd_verdict rd_speed_verdict_noise(double med_a, double p10_a, double p90_a, double med_b, double p10_b,
                                  double p90_b, double tol);
/* The accuracy rule above on a paired difference (tol in points of 100). */
rd_verdict rd_score_verdict(const stats_diff *d, double tol);
const char *rd_verdict_name(rd_verdict v);

/* Rows of A's order, then B's new ones. Return the count; *out malloc'd. */
int rd_accuracy(pb_db *db, int64_t a, int64_t b, double tol_score, rd_acc **out);
int rd_speed_rows(pb_db *db, int64_t a, int64_t b, double tol_speed, rd_speed **out);
void rd_accuracy_free(rd_acc *r, int n);
void rd_speed_free(rd_speed *r, int n);

/* The five cells that name a speed row in a table (suites/table.h): task,
 * method, shape L/H/KV/d, context, phase. */
struct tbl;
void rd_speed_key_cells(struct tbl *t, const rd_speed *x);

/* The two-run report: a header naming both runs, the accuracy table
 * (n, score A, score B, diff and interval, p, verdict, densities) and the
 * speed table (shape, context, phase, medians, ratio, noise, verdict), in
 * fmt (table.h: TBL_TEXT, TBL_MD, TBL_JSON). */
void run_diff_print(pb_db *db, int64_t a, int64_t b, double tol_score, double tol_speed, int fmt, FILE *f);

#endif
