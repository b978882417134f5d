/* convert_select.c — the head split of a conversion: which query heads are
 * retrieval heads (the top rho by the retrieval probe's repeated-span
 * score), and the window W of the local ones (from the locality probe).
 *
 * The window rule: the smallest W of the locality grid (64, 128, ...,
 * the probe's context) at which at least `cover` (default 0.9) of the local
 * heads hold 0.9 of their attention mass within 4 sinks + W recent tokens.
 * Retrieval heads are left out of the count: they keep every position.
 * Heads of sliding layers are neither: the model keeps them local (its own
 * window), so rho is a share of the global layers' heads and the window rule
 * counts the global layers' local heads only. For a model without sliding
 * layers (SmolLM2) that is every head, as before.
 */
#include "convert/convert.h"

#include <math.h>

#include "base/common.h"

int select_count(double rho, int n_heads)
{
    if (!(rho > 0) || n_heads <= 0) return 0;
    int k = (int)floor(rho * n_heads + 0.5);
    if (k < 1) k = 1;
    return k > n_heads ? n_heads : k;
}

int select_eligible(const model_config *c, unsigned char *elig)
{
    int n = 0;
    for (int i = 0; i < c->n_layer * c->n_head; i++) n += elig[i] = c->layer[i / c->n_head].kind == ATTN_GLOBAL;
    return n;
}

int select_heads(const double *score, const unsigned char *elig, int n, double rho, unsigned char *retr)
{
    int n_elig = 0;
    for (int i = 0; i < n; i++) n_elig += !elig || elig[i];
    int k = select_count(rho, n_elig);
    for (int i = 0; i < n; i++) retr[i] = 0;
    /* k passes of "highest unchosen, lowest index on ties": n is a few hundred */
    for (int c = 0; c < k; c++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if ((!elig || elig[i]) && !retr[i] && (best < 0 || score[i] > score[best])) best = i;
        retr[best] = 1;
    }
    return k;
}

int select_need(const double *mass_w, const double *score, const unsigned char *elig, int n, double keep,
                double min_score, unsigned char *retr)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        retr[i] = (!elig || elig[i]) && (mass_w[i] < keep || (score && score[i] >= min_score));
        k += retr[i];
    }
    return k;
}

int select_window(const int *w90, const unsigned char *retr, const unsigned char *elig, int n, const int *grid,
                  int n_grid, double cover)
{
    PB_CHECK(n_grid >= 1, "select_window: empty grid");
    int n_local = 0;
    for (int i = 0; i < n; i++) n_local += !retr[i] && (!elig || elig[i]);
    if (n_local == 0) return grid[n_grid - 1];
    for (int g = 0; g < n_grid; g++) {
        int ok = 0;
        for (int i = 0; i < n; i++) ok += !retr[i] && (!elig || elig[i]) && w90[i] <= grid[g];
        if (ok >= cover * n_local - 1e-9) return grid[g];
    }
    return grid[n_grid - 1];
}
