/* probe_impl.h — what the probe files (locality, retrieval, rank, demand)
 * share, implemented in probe_impl.c: top-p counting and selection on
 * attention rows, and the database rows every probe case writes. The
 * converter's quality measure counts top-p sets with the same helpers.
 *
 * A probe file includes this header and nothing of the runner or the table
 * of probes by name (probe_run.h): those call the probes, never the other
 * way round.
 */
#ifndef PURBO_PROBE_IMPL_H
#define PURBO_PROBE_IMPL_H

#include "probes/probe.h"

/* ---- rows ---- */

/* Number of the largest entries of x (n >= 1, entries >= 0) whose sum first
 * reaches target[t] * sum(x), for each of the n_t ascending targets (in
 * (0, 1]); out[t] in 1..n. work holds n floats. Ties are counted once each. */
void topp_counts(const float *x, int n, const double *target, int n_t, int *out, float *work);
/* The k-th largest value of x (1 <= k <= n); reorders x. */
float kth_largest(float *x, int n, int k);
/* Masses of the 64-token blocks [64b, 64b+64) of x[0..n): out[ceil(n/64)]. */
int block_sums(const float *x, int n, float *out);

/* ---- database ---- */

/* Inserts the probe_case row (inside the caller's case) and returns its id. */
int64_t probe_case_insert(pb_db *db, const probe_case_info *ci, const char *probe, const probe_geom *g,
                          const char *queries);

#endif
