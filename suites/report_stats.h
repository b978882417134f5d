/* report_stats.h — the statistics table of a suite run's report: n, mean
 * score and 95% interval per (task, length, method), and the paired
 * difference to the reference method, and RULER's effective length per
 * method (report_stats.c). */
#ifndef PURBO_REPORT_STATS_H
#define PURBO_REPORT_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "results/db.h"

/* Default reference of the paired differences. */
#define REPORT_REF_DEFAULT "dense"

/* Prints the table on f (nothing when the run has no accuracy cases). ref:
 * the reference method; when the run lacks it, the table has no
 * differences and says so. */
void report_stats(pb_db *db, int64_t run, const char *ref, FILE *f);

/* Prints RULER's effective length per method (results/eff_length.h: the
 * RULER tasks pooled per length, the margin EFF_MARGIN_DEFAULT, by the mean
 * and by the 95% interval) and, per length, the pooled score and paired
 * difference it is read from. Nothing when the run has no RULER cases of
 * ref. */
void report_eff_length(pb_db *db, int64_t run, const char *ref, FILE *f);

#endif
