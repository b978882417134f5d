/* score_cells.c — a run's per-case scores grouped into cells with their
 * intervals and paired differences (score_cells.h). One query reads the
 * run's rows in cell order; the cells are then filled in memory. */
#include "results/score_cells.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int *idx;
    double *x;
    int n, cap;
} cases;

static void cases_add(cases *c, int idx, double x)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->idx = pb_realloc(c->idx, (size_t)c->cap * sizeof *c->idx);
        c->x = pb_realloc(c->x, (size_t)c->cap * sizeof *c->x);
    }
    c->idx[c->n] = idx;
    c->x[c->n++] = x;
}

typedef struct {
    int idx;
    double x;
} keyed;

static int by_key(const void *a, const void *b)
{
    int x = ((const keyed *)a)->idx, y = ((const keyed *)b)->idx;
    return (x > y) - (x < y);
}

/* Sorts a cell's cases by key: pooled cells meet their tasks in another order than their keys'. */
static void cases_sort(cases *c)
{
    keyed *k = pb_malloc((size_t)(c->n + 1) * sizeof *k);
    for (int i = 0; i < c->n; i++) k[i] = (keyed){c->idx[i], c->x[i]};
    qsort(k, (size_t)c->n, sizeof *k, by_key);
    for (int i = 0; i < c->n; i++) c->idx[i] = k[i].idx, c->x[i] = k[i].x;
    free(k);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    char *d = strdup(s ? s : "");
    PB_CHECK(d, "out of memory");
    return d;
}

int score_pair(const int *ia, const double *a, int na, const int *ib, const double *b, int nb, double *pa,
               double *pb)
{
    int i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (ia[i] < ib[j]) i++;
        else if (ia[i] > ib[j]) j++;
        else pa[k] = a[i++], pb[k++] = b[j++];
    }
    return k;
}

int score_cells(pb_db *db, int64_t run, const char *ref, score_group group, score_cell **out)
{
    /* rows in cell order; per method, the tasks' cases one task after another */
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT task, context, method, case_index, score, density,"
        " (SELECT min(id) FROM suite_cases t WHERE t.run_id = c.run_id AND t.task = c.task) AS tord,"
        " (SELECT min(id) FROM suite_cases m WHERE m.run_id = c.run_id AND m.method = c.method) AS mord"
        " FROM suite_cases c WHERE run_id = ?"
        " AND (?2 <> 3 OR task_type GLOB 'niah_*' OR task_type IN ('vt', 'cwe', 'fwe'))"
        " ORDER BY CASE WHEN ?2 = 2 THEN mord ELSE 0 END, CASE WHEN ?2 = 3 THEN context ELSE 0 END,"
        " CASE WHEN ?2 = 3 THEN mord ELSE 0 END, tord, CASE WHEN ?2 = 1 THEN context ELSE 0 END, mord,"
        " case_index", run);
    db_bind_int(st, 2, (int)group);
    int n = 0, cap = 16, *bin = NULL; /* bin[k]: cell k's task is pass/fail so far */
    score_cell *cell = pb_malloc((size_t)cap * sizeof *cell);
    cases *cs = pb_malloc((size_t)cap * sizeof *cs);
    double *dsum = pb_malloc((size_t)cap * sizeof *dsum);
    bin = pb_malloc((size_t)cap * sizeof *bin);
    /* pooled over tasks, a case is (task, index): the key is the task's rank, then the index */
    int nt = 0, tcap = 16;
    char **tasks = pb_malloc((size_t)tcap * sizeof *tasks);
    while (db_step(st) == SQLITE_ROW) {
        const char *task = (const char *)sqlite3_column_text(st, 0), *method = (const char *)sqlite3_column_text(st, 2);
        int ctx = group == SCORE_BY_CONTEXT || group == SCORE_RULER_BY_LENGTH ? sqlite3_column_int(st, 1) : 0;
        int key = sqlite3_column_int(st, 3);
        if (group == SCORE_BY_METHOD || group == SCORE_RULER_BY_LENGTH) {
            int t = 0;
            while (t < nt && strcmp(tasks[t], task)) t++;
            if (t == nt) {
                if (nt == tcap) tasks = pb_realloc(tasks, (size_t)(tcap *= 2) * sizeof *tasks);
                tasks[nt++] = dup_col(st, 0);
            }
            PB_CHECK(key >= 0 && key < 1 << 20 && t < 1 << 10, "case index %d of task %d: too many to pool", key, t);
            key += t << 20;
            task = group == SCORE_BY_METHOD ? SCORE_ALL_TASKS : SCORE_RULER_TASKS;
        }
        if (!n || strcmp(cell[n - 1].task, task) || cell[n - 1].context != ctx || strcmp(cell[n - 1].method, method)) {
            if (n == cap) {
                cap *= 2;
                cell = pb_realloc(cell, (size_t)cap * sizeof *cell);
                cs = pb_realloc(cs, (size_t)cap * sizeof *cs);
                dsum = pb_realloc(dsum, (size_t)cap * sizeof *dsum);
                bin = pb_realloc(bin, (size_t)cap * sizeof *bin);
            }
            cell[n] = (score_cell){.task = strdup(task), .method = dup_col(st, 2), .context = ctx};
            PB_CHECK(cell[n].task, "out of memory");
            cs[n] = (cases){0};
            dsum[n] = 0;
            bin[n] = 1;
            n++;
        }
        double x = sqlite3_column_double(st, 4);
        cases_add(&cs[n - 1], key, x);
        bin[n - 1] &= x == 0.0 || x == 1.0;
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            dsum[n - 1] += sqlite3_column_double(st, 5);
            cell[n - 1].has_density++;
        }
    }
    db_finalize(st);
    for (int t = 0; t < nt; t++) free(tasks[t]);
    free(tasks);
    /* a task is pass/fail when all its cells are */
    for (int k = 0; k < n; k++)
        for (int j = 0; j < n; j++)
            if (!strcmp(cell[j].task, cell[k].task)) bin[k] &= bin[j];
    for (int k = 0; k < n; k++) {
        score_cell *c = &cell[k];
        if (group == SCORE_RULER_BY_LENGTH) cases_sort(&cs[k]); /* the tasks' ranks follow the first length's order */
        stats_mean_interval(cs[k].x, cs[k].n, bin[k], &c->score);
        if (c->has_density) c->density = dsum[k] / c->has_density, c->has_density = 1;
    }
    for (int k = 0; ref && k < n; k++) {
        score_cell *c = &cell[k];
        if (!strcmp(c->method, ref)) continue;
        for (int j = 0; j < n; j++) {
            if (strcmp(cell[j].method, ref) || strcmp(cell[j].task, c->task) || cell[j].context != c->context) continue;
            int m = cs[k].n < cs[j].n ? cs[k].n : cs[j].n;
            double *pa = pb_malloc((size_t)(m + 1) * sizeof *pa), *pb = pb_malloc((size_t)(m + 1) * sizeof *pb);
            int np = score_pair(cs[k].idx, cs[k].x, cs[k].n, cs[j].idx, cs[j].x, cs[j].n, pa, pb);
            if (np) {
                c->has_diff = 1;
                stats_paired(pa, pb, np, bin[k], &c->diff);
            }
            free(pa);
            free(pb);
        }
    }
    for (int k = 0; k < n; k++) free(cs[k].idx), free(cs[k].x);
    free(cs);
    free(dsum);
    free(bin);
    *out = cell;
    return n;
}

void score_cells_free(score_cell *c, int n)
{
    for (int i = 0; i < n; i++) free(c[i].task), free(c[i].method);
    free(c);
}

int score_cases(pb_db *db, int64_t run, const char *method, const char *task, int **idx, double **score)
{
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT case_index, score FROM suite_cases WHERE run_id = ? AND method = ?2 AND task = ?3"
        " ORDER BY case_index", run);
    db_bind_text(st, 2, method);
    db_bind_text(st, 3, task);
    cases c = {0};
    while (db_step(st) == SQLITE_ROW) cases_add(&c, sqlite3_column_int(st, 0), sqlite3_column_double(st, 1));
    db_finalize(st);
    *idx = c.idx;
    *score = c.x;
    return c.n;
}

int score_has_method(pb_db *db, int64_t run, const char *method)
{
    sqlite3_stmt *st = db_prepare_id(db, "SELECT 1 FROM suite_cases WHERE run_id = ? AND method = ?2 LIMIT 1", run);
    db_bind_text(st, 2, method);
    int found = db_step(st) == SQLITE_ROW;
    db_finalize(st);
    return found;
}
