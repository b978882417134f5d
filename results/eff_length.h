/* eff_length.h — RULER's effective length per method, derived from a suite
 * run's rows (nothing stored): the longest context at which the method
 * stays within a margin of the reference method (default dense).
 *
 * Per (length, method) the cases of RULER's task types at that length are
 * pooled (score_cells.h, SCORE_RULER_BY_LENGTH) and paired with the
 * reference's same cases. A length passes when the paired difference
 * (method - reference) is above -margin; two readings:
 *   - by the mean: the mean difference >= -margin;
 *   - by the interval: the lower end of its 95% interval >= -margin, i.e.
 *     the method is shown to lose no more than the margin (a one-sided
 *     non-inferiority test at 97.5%); with few cases this is the strict one.
 * The effective length is the longest tested length L such that every
 * tested length up to L passes (RULER reads its table the same way), 0 when
 * the shortest fails. A length the reference did not run ends the walk.
 */
#ifndef PURBO_EFF_LENGTH_H
#define PURBO_EFF_LENGTH_H

#include <stdint.h>

#include "results/db.h"

#define EFF_MARGIN_DEFAULT 0.05 /* 5 points, compare's default score tolerance */

typedef struct {
    char *method;
    int n_lengths;  /* RULER lengths the method ran */
    int longest;    /* the longest of them */
    int by_mean;    /* effective length by the mean difference; 0: none */
    int by_ci;      /* by the 95% interval's lower end; 0: none */
} eff_length;

/* The effective lengths of every method of run other than ref, in run
 * order; margin in score units (0.05 = 5 points). Returns the count (0: no
 * RULER cases, or no ref among them); *out malloc'd. */
int eff_lengths(pb_db *db, int64_t run, const char *ref, double margin, eff_length **out);
void eff_lengths_free(eff_length *e, int n);

#endif
