/* runner_progress.h — the suite runner's progress on stderr: a redrawn bar
 * on a terminal, a line per finished (case, method) pair, or nothing, with
 * the pairs done, the total and an ETA from the mean time per pair. */
#ifndef PURBO_SUITES_RUNNER_PROGRESS_H
#define PURBO_SUITES_RUNNER_PROGRESS_H

enum { RUNNER_PROGRESS_AUTO, RUNNER_PROGRESS_BAR, RUNNER_PROGRESS_LINES, RUNNER_PROGRESS_NONE };

typedef struct {
    int mode;            /* RUNNER_PROGRESS_BAR / _LINES / _NONE */
    int total, done;     /* (case, method) pairs to run in this invocation */
    double t0;           /* when the first pair started (pb_now) */
} run_progress;

/* Called before a pair (result NULL: the bar shows "what ...") and after it. */
void prog_show(run_progress *p, const char *what, const char *result);
/* Ends the bar's line. */
void prog_end(run_progress *p);

#endif
