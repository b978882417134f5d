/* counters_run.h — hardware counters over a whole run: what `run
 * --counters` and `bench --counters` switch on.
 *
 * hwr_open, once at the start of a run (outside any case transaction):
 * opens the collector (counters.h), says on stderr in one line which chip
 * it is, how many replay passes a kernel takes and which metrics the chip
 * lacks (they are not stored), then measures the card's ceilings
 * (backend_cuda_ceilings: a large device copy, a large cuBLAS bf16 GEMM)
 * into hw_ceilings and profiles that GEMM once as the case "ceiling bf16
 * gemm N" (its tensor op count against 2 N^3 is printed: a check of the FLOP
 * counting). Any failure there -> one line "counters off: why" and the run
 * goes on without counters (hwr_open returns 0).
 *
 * hwr_case, per case inside the case's transaction: runs fn(arg) once more
 * under the profiler, stores its hw_metrics rows (kernel names from the
 * kernel timings of the same function, when the launch counts agree) and
 * prints one line with the replay's cost: wall time profiled vs plain_s,
 * the same function's time without counters. A collection that fails turns
 * counters off for the rest of the run (one line).
 */
#ifndef PURBO_COUNTERS_RUN_H
#define PURBO_COUNTERS_RUN_H

#include <stdint.h>

#include "probes/counters.h"
#include "results/db.h"

typedef struct {
    hwc *h;            /* NULL: off */
    pb_db *db;
    int64_t run;
    hwm_ceilings ceil;
    double plain_s, replay_s; /* summed over the cases, for the closing line */
    int cases;
} hwr;

/* Runs `EXE probe cupti --gemm 2048 [--early]` (EXE: purbo-bench) as a
 * child with PURBO_COUNTERS_TRACE set: 1 when it exits 0; else 0 and why:
 * its "counters off:" line, or the signal that ended it and the last CUPTI
 * step it named. */
int hwr_check_process(const char *exe, int early, char *why, size_t why_len);
/* Before anything touches CUDA (run and bench call it first when asked for
 * counters): the check process with the profiler initialised before CUDA;
 * when it passes, the same is done here (hwc_preinit); else the check with
 * CUDA first. Both failing turns counters off for the process (one line
 * with both reasons). Without it, hwr_open runs the CUDA-first check
 * itself. A crash inside CUPTI so costs the counters, never the run.
 * PURBO_COUNTERS_NO_CHECK skips the checks (in-process only). Returns the
 * mode (0: off). */
int hwr_precheck(void);
/* `purbo-bench probe cupti [--gemm N]`: the counters checked here, nothing
 * stored (probes/cmd_probe.c dispatches to it). Exit status. */
int cmd_probe_cupti(int argc, char **argv);

/* 1 when counters are on for run (ceilings stored); 0: off, one line said why. */
int hwr_open(hwr *r, pb_db *db, int64_t run);
/* Profiles one case (see above); names / n_names: the case's kernel names in
 * launch order (may be NULL). Returns the rows stored, -1 when off. */
int hwr_case(hwr *r, int64_t bench_id, const char *case_name, void (*fn)(void *), void *arg,
             const char *const *names, int n_names, double plain_s);
/* Prints the replay slowdown over all cases and, with table, the run's
 * roofline table (% of ceiling per kernel) to stdout, then closes the
 * collector. */
void hwr_close(hwr *r, int table);

#endif
