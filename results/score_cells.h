/* score_cells.h — the statistics of a suite run's accuracy results, read
 * from its suite_cases rows: per (task, length, method) or per (task,
 * method), the mean score with its 95% interval and the paired difference
 * to a reference method on the same cases (base/stats.h says how each is
 * computed). report, compare and the score charts all read them from here.
 *
 * Invariants: cases pair by (task, case_index), which fixes the prompt (the
 * task's grid point and its seed); a task is pass/fail when every score of
 * every method on it is 0 or 1, so all methods of a task get the same kind
 * of interval and test. Scores stay in [0, 1] here; printing x100 is the
 * caller's.
 */
#ifndef PURBO_SCORE_CELLS_H
#define PURBO_SCORE_CELLS_H

#include <stdint.h>

#include "base/stats.h"
#include "results/db.h"

/* How cases group into cells. */
typedef enum {
    SCORE_BY_TASK = 0,    /* (task, method), every length pooled */
    SCORE_BY_CONTEXT = 1, /* (task, length, method) */
    SCORE_BY_METHOD = 2,  /* (method): every case of every task pooled, task SCORE_ALL_TASKS */
    SCORE_RULER_BY_LENGTH = 3, /* (length, method): the cases of RULER's task types (niah_*, vt, cwe,
                                * fwe) at that length pooled, task SCORE_RULER_TASKS */
} score_group;
#define SCORE_ALL_TASKS "*"
#define SCORE_RULER_TASKS "ruler"

typedef struct {
    char *task, *method;
    int context;         /* requested tokens; 0 when the cell pools every length of the task */
    stats_ci score;      /* mean in [0, 1], its interval, n cases, pass/fail or not */
    int has_diff;        /* 1: the reference ran cases of this cell (and this is not the reference) */
    stats_diff diff;     /* this method - the reference on the cases both ran */
    int has_density;
    double density;      /* mean over the cases that recorded one */
} score_cell;

/* The cells of run, in run order (task as first stored, then length
 * ascending, then method as first stored; SCORE_BY_METHOD: methods in that
 * order; SCORE_RULER_BY_LENGTH: length ascending, then methods in that
 * order). Pooled over tasks, cases pair by (task, case index) and the
 * scores are pass/fail only when every task's are; the mean weighs every
 * case alike (not every task, as the report's mean row does). ref: the
 * reference method's name, or NULL for no differences. Returns the count
 * (0: no accuracy cases); *out is malloc'd. */
int score_cells(pb_db *db, int64_t run, const char *ref, score_group group, score_cell **out);
void score_cells_free(score_cell *c, int n);

/* The scores of (method, task) in run by ascending case_index: *idx and
 * *score malloc'd (NULL when 0 cases). Returns the count. */
int score_cases(pb_db *db, int64_t run, const char *method, const char *task, int **idx, double **score);

/* Pairs two case lists sorted by ascending index: the scores of the indices
 * both hold go to pa and pb (room for min(na, nb)) in index order. Returns
 * the number of pairs. */
int score_pair(const int *ia, const double *a, int na, const int *ib, const double *b, int nb, double *pa,
               double *pb);

/* 1 if run holds an accuracy case of method. */
int score_has_method(pb_db *db, int64_t run, const char *method);

#endif
