/* report_stats.c — the statistics table of `report` (and of the end of
 * `run`): per (task, length, method) the number of cases, the mean score
 * x100 with its 95% interval, and the paired difference to a reference
 * method with its interval and, for pass/fail tasks, McNemar's exact p
 * (results/score_cells.h computes them; base/stats.h says how). A '*' marks
 * a difference significant at 95%. Then RULER's effective length per method
 * (results/eff_length.h) with the pooled per-length cells it is read from.
 * Output only: reads nothing but the cells.
 */
#include "suites/report_stats.h"

#include <string.h>

#include "results/eff_length.h"
#include "results/score_cells.h"

void report_stats(pb_db *db, int64_t run, const char *ref, FILE *f)
{
    score_cell *c;
    int n = score_cells(db, run, ref, SCORE_BY_CONTEXT, &c);
    if (n == 0) {
        free(c);
        return;
    }
    int has_ref = 0, wt = 18, wm = 16; /* columns as wide as the longest task and method name */
    for (int i = 0; i < n; i++) {
        has_ref |= !strcmp(c[i].method, ref);
        if ((int)strlen(c[i].task) > wt) wt = (int)strlen(c[i].task);
        if ((int)strlen(c[i].method) > wm) wm = (int)strlen(c[i].method);
    }
    fprintf(f, "\nstatistics per (task, length, method): score x100 and its 95%% interval (Wilson for pass/fail tasks,\n"
               "else a bootstrap of %d resamples, fixed seed); ", STATS_BOOT_N);
    if (has_ref)
        fprintf(f, "diff: the method - %s on the same cases, paired bootstrap\n"
                   "95%% interval; p: exact McNemar test (pass/fail tasks); * significant at 95%%\n", ref);
    else fprintf(f, "no method '%s' in the run: no paired differences\n", ref);
    fprintf(f, "%-*s %7s %-*s %4s %7s %-16s", wt, "task", "context", wm, "method", "n", "mean", " 95% interval");
    if (has_ref) fprintf(f, " %8s %-18s %7s", "diff", " 95% interval", "p");
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        const score_cell *x = &c[i];
        fprintf(f, "%-*s %7d %-*s %4d %7.2f [%6.2f, %6.2f]", wt, x->task, x->context, wm, x->method, x->score.n,
                100 * x->score.mean, 100 * x->score.lo, 100 * x->score.hi);
        if (x->has_diff) {
            const stats_diff *d = &x->diff;
            fprintf(f, " %+8.2f [%+7.2f, %+7.2f]", 100 * d->diff, 100 * d->lo, 100 * d->hi);
            if (d->p >= 0.001) fprintf(f, " %7.3f", d->p);
            else if (d->p >= 0) fprintf(f, " %7s", "<0.001");
            else fprintf(f, " %7s", "-");
            if (d->significant) fprintf(f, " *");
            if (d->n < x->score.n) fprintf(f, " (%d paired)", d->n);
        }
        fputc('\n', f);
    }
    score_cells_free(c, n);
}

void report_eff_length(pb_db *db, int64_t run, const char *ref, FILE *f)
{
    eff_length *e;
    int ne = eff_lengths(db, run, ref, EFF_MARGIN_DEFAULT, &e);
    if (ne == 0) {
        eff_lengths_free(e, ne);
        return;
    }
    score_cell *c;
    int n = score_cells(db, run, ref, SCORE_RULER_BY_LENGTH, &c), wm = 16;
    for (int i = 0; i < n; i++)
        if ((int)strlen(c[i].method) > wm) wm = (int)strlen(c[i].method);
    fprintf(f, "\nRULER per length (its tasks' cases pooled): score x100 [95%% interval], diff to %s [95%% interval]\n",
            ref);
    fprintf(f, "%7s %-*s %4s %7s %-16s %8s  %s\n", "context", wm, "method", "n", "mean", " 95% interval", "diff",
            "95% interval");
    for (int i = 0; i < n; i++) {
        const score_cell *x = &c[i];
        fprintf(f, "%7d %-*s %4d %7.2f [%6.2f, %6.2f]", x->context, wm, x->method, x->score.n, 100 * x->score.mean,
                100 * x->score.lo, 100 * x->score.hi);
        if (x->has_diff)
            fprintf(f, " %+8.2f [%+7.2f, %+7.2f]%s", 100 * x->diff.diff, 100 * x->diff.lo, 100 * x->diff.hi,
                    x->diff.significant ? " *" : "");
        fputc('\n', f);
    }
    score_cells_free(c, n);
    fprintf(f, "\nRULER effective length: the longest context up to which, at every length run, the method's\n"
               "paired difference to %s stays above -%.0f points; by the mean, and by the 95%% interval's lower\n"
               "end (shown within the margin); 0: not even at the shortest\n", ref, 100 * EFF_MARGIN_DEFAULT);
    fprintf(f, "%-*s %7s %7s %8s %8s\n", wm, "method", "lengths", "longest", "by mean", "by 95%");
    for (int i = 0; i < ne; i++)
        fprintf(f, "%-*s %7d %7d %8d %8d\n", wm, e[i].method, e[i].n_lengths, e[i].longest, e[i].by_mean,
                e[i].by_ci);
    eff_lengths_free(e, ne);
}
