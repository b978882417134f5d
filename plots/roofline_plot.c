/* roofline_plot.c — the roofline chart of `purbo-bench plot` (roofline.gp):
 * a run's kernels with hardware counters (hw_metrics, probes/hw_metrics.h:
 * one point per kernel per case, launches summed) against its measured
 * ceilings (hw_ceilings), when the run has both. Kernels without FLOP
 * counts (intensity 0) cannot sit on a log axis and are left out of the
 * chart; the table (`run --counters`) still lists them. Data file:
 * roofline.dat, one block per kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "plots/plot_kit.h"
#include "probes/hw_metrics.h"

#define ROOF_MAX_SERIES 32

/* A point's label: the case's context length ("ctx N", else its last
 * number; "4K" from 4096), or "" when it has none. */
static void ctx_label(char *out, size_t n, const char *case_name)
{
    const char *p = strstr(case_name, "ctx "), *num = NULL;
    if (p) num = p + 4;
    else
        for (const char *q = case_name; *q; q++)
            if (*q >= '0' && *q <= '9' && (q == case_name || q[-1] == ' ')) num = q;
    long v = num ? strtol(num, NULL, 10) : 0;
    if (v <= 0) snprintf(out, n, "-");
    else if (v % (1L << 20) == 0) snprintf(out, n, "%ldM", v >> 20);
    else if (v % 1024 == 0) snprintf(out, n, "%ldK", v / 1024);
    else snprintf(out, n, "%ld", v);
}

int plot_roofline(plot_job *j)
{
    int n;
    hwm_point *p = hwm_roofline(j->db, j->run, &n);
    if (n <= 0) {
        free(p);
        return 0;
    }
    hwm_ceilings c;
    hwm_load_ceilings(j->db, j->run, &c);
    /* the kernels with FLOPs, in first-seen order */
    const char *names[ROOF_MAX_SERIES];
    int n_names = 0;
    double xmin = c.flops / c.bw / 10, xmax = c.flops / c.bw * 10;
    for (int i = 0; i < n; i++) {
        if (p[i].flop <= 0) continue;
        if (p[i].intensity / 3 < xmin) xmin = p[i].intensity / 3;
        if (p[i].intensity * 3 > xmax) xmax = p[i].intensity * 3;
        int k = 0;
        while (k < n_names && strcmp(names[k], p[i].kernel)) k++;
        if (k == n_names && n_names < ROOF_MAX_SERIES) names[n_names++] = p[i].kernel;
    }
    if (!n_names) {
        free(p);
        return 0;
    }
    char path[4096], series[ROOF_MAX_SERIES * 100] = "", vars[256];
    FILE *f = plot_open(j->dir, "roofline.dat", path, sizeof path);
    fprintf(f, "# intensity_flop_per_byte\tflop_per_s\tcase\tlabel\n");
    for (int k = 0; k < n_names; k++) {
        fprintf(f, "%s# %s\n", k ? "\n\n" : "", names[k]);
        for (int i = 0; i < n; i++)
            if (p[i].flop > 0 && !strcmp(p[i].kernel, names[k])) {
                char lab[32];
                ctx_label(lab, sizeof lab, p[i].case_name);
                fprintf(f, "%.6g\t%.6g\t\"%s\"\t%s\n", p[i].intensity, p[i].flop_s, p[i].case_name, lab);
            }
        size_t l = strlen(series); /* the key: names cut to 40 bytes (cuBLAS names run to 120) */
        snprintf(series + l, sizeof series - l, "%s%.40s", k ? " " : "", names[k]);
    }
    PB_CHECK(fclose(f) == 0, "%s: write failed", path);
    char ttl[512];
    plot_fmt(ttl, sizeof ttl, j->model[0] == '(' ? "roofline: run %lld %s, every kernel per case"
                                                : "roofline: run %lld (%s), every kernel per case",
             (long long)j->run, j->model);
    plot_fmt(vars, sizeof vars, "bw = %.6g\npeak = %.6g\nxmin = %.3g\nxmax = %.3g\n", c.bw, c.flops, xmin, xmax);
    const char *args[] = {"roofline.dat", "roofline.png", ttl, series, NULL};
    free(p);
    if (!plot_gnuplot(j->dir, "roofline", vars, args, NULL)) return 0;
    j->drawn[j->n_drawn++] = "roofline";
    return 1;
}
