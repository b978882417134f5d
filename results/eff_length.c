/* eff_length.c — RULER's effective length per method (eff_length.h): a walk
 * up the lengths of the pooled RULER cells of score_cells. */
#include "results/eff_length.h"

#include <string.h>

#include "results/score_cells.h"

int eff_lengths(pb_db *db, int64_t run, const char *ref, double margin, eff_length **out)
{
    score_cell *c;
    int n = score_cells(db, run, ref, SCORE_RULER_BY_LENGTH, &c), ne = 0, has_ref = 0;
    eff_length *e = pb_calloc((size_t)n + 1, sizeof *e);
    for (int i = 0; i < n; i++) has_ref |= !strcmp(c[i].method, ref);
    /* cells come length by length: each method's lengths ascending */
    for (int i = 0; has_ref && i < n; i++) {
        if (!strcmp(c[i].method, ref)) continue;
        int k = 0;
        while (k < ne && strcmp(e[k].method, c[i].method)) k++;
        if (k == ne) {
            e[ne] = (eff_length){.method = strdup(c[i].method)};
            PB_CHECK(e[ne].method, "out of memory");
            ne++;
        }
        eff_length *x = &e[k];
        /* still walking when every shorter length passed: by_* is the previous length or 0 */
        int walking_mean = x->n_lengths == 0 || x->by_mean == x->longest;
        int walking_ci = x->n_lengths == 0 || x->by_ci == x->longest;
        x->n_lengths++;
        x->longest = c[i].context;
        const double eps = 1e-9; /* a difference of exactly -margin passes */
        if (walking_mean && c[i].has_diff && c[i].diff.diff >= -margin - eps) x->by_mean = c[i].context;
        if (walking_ci && c[i].has_diff && c[i].diff.lo >= -margin - eps) x->by_ci = c[i].context;
    }
    score_cells_free(c, n);
    *out = e;
    return ne;
}

void eff_lengths_free(eff_length *e, int n)
{
    for (int i = 0; i < n; i++) free(e[i].method);
    free(e);
}
