/* probe_run.h — running probes: the table of the four by name (what
 * `purbo-bench probe NAME|all` picks from) and the runner that feeds them a
 * real model's attention (probe_run.c).
 *
 * The runner evaluates windows of geom.n_ctx tokens with every head dense:
 * one pass over the calibration windows (calib.h) shared by the probes that
 * read them, and one pass over its own documents for each probe that builds
 * them (retrieval). After each pass it asks the pass's probes to store their
 * cases. Their results stay in the probes (probe.h: heads) for the caller.
 * The session may be on any backend that shows observers its rows (CUDA
 * included, backend.h); on CUDA, with a database, every pass's kernels are
 * timed by CUPTI into kernel_timings (case "probe pass NAMES").
 */
#ifndef PURBO_PROBE_RUN_H
#define PURBO_PROBE_RUN_H

#include "probes/probe.h"

/* The four probes' names, in the order `all` runs them. */
extern const char *const probe_names[4];
/* By name ("locality", ...); 0 for an unknown name. */
int probe_make(const char *name, const probe_geom *g, probe *out);

/* Runs windows 0..g->n_windows-1 through s (every head dense, the probes'
 * observers attached; s->n_ctx >= g->n_ctx) and, after each pass, stores
 * the probes of that pass in db (NULL: not stored). Progress lines go to log
 * (NULL: silent). */
void probe_run(session *s, const calib *c, uint64_t seed, probe *ps, int n, const probe_geom *g,
               pb_db *db, int64_t run_id, FILE *log);

#endif
