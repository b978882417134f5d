/* cmd_report.c — `purbo-bench report`: a suite run as plain tables, with the
 * statistics of its scores, from the results database alone (the plots of
 * a run: `purbo-bench plot`); or two runs side by side (--run A,B or
 * --baseline-run A --run B: suites/run_diff.h); as text, Markdown (a pull
 * request comment) or JSON (CI systems). */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "results/eff_length.h"
#include "results/score_cells.h"
#include "results/text_out.h"
#include "suites/report_ref.h"
#include "suites/report_stats.h"
#include "suites/run_diff.h"
#include "suites/runner_db.h"
#include "suites/table.h"

typedef struct {
    const char *ref, *baseline; /* --ref M, --baseline-run A */
    const char *ref_db, *ref_run; /* --ref-db D, --ref-run R */
    report_ref rr;              /* with --ref-db: what was paired */
    int fmt;
} report_opts;

/* Parses the options; opens the database. *run is B, *base A (0: one run). */
static pb_db *open_run(const char *cmd, int argc, char **argv, const char *usage, int64_t *run, int64_t *base,
                       report_opts *o)
{
    arg_results ro = {.db = ARG_DB_DEFAULT, .run = "last", .takes_run = 1};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt(cmd, argc, argv, &i, &ro)) continue;
        if ((v = arg_val(cmd, argc, argv, &i, "--ref"))) {
            o->ref = v;
            continue;
        }
        if ((v = arg_val(cmd, argc, argv, &i, "--ref-db"))) {
            o->ref_db = v;
            continue;
        }
        if ((v = arg_val(cmd, argc, argv, &i, "--ref-run"))) {
            o->ref_run = v;
            continue;
        }
        if ((v = arg_val(cmd, argc, argv, &i, "--baseline-run"))) {
            o->baseline = v;
            continue;
        }
        if ((v = arg_val(cmd, argc, argv, &i, "--format"))) {
            if (!tbl_format(v, &o->fmt)) arg_bad(cmd, "--format '%s': text, md or json", v);
            continue;
        }
        if (arg_flag(argv, i, "--help")) {
            printf("%s", usage);
            exit(0);
        }
        arg_bad(cmd, "unknown option %s", argv[i]);
    }
    /* --run A,B: A is the baseline */
    char runs[64];
    const char *comma = strchr(ro.run, ',');
    if (comma) {
        if (o->baseline) arg_bad(cmd, "give --run A,B or --baseline-run A, not both");
        snprintf(runs, sizeof runs, "%s", ro.run);
        if ((size_t)(comma - ro.run) < sizeof runs) runs[comma - ro.run] = 0;
        o->baseline = runs;
        ro.run = comma + 1;
    }
    if (o->ref_run && !o->ref_db) arg_bad(cmd, "--ref-run names a run of --ref-db's database: give --ref-db");
    if (o->ref_db && o->baseline) arg_bad(cmd, "--ref-db pairs one run with another database's reference, not two runs");
    pb_err err;
    pb_db *db = suite_db_open_existing(ro.db, &err);
    if (!db || !(*run = suite_run_id(db, ro.run, &err))) pb_die_input(&err);
    if (o->baseline && !(*base = suite_run_id(db, o->baseline, &err))) pb_die_input(&err);
    if (o->ref_db && !report_ref_attach(db, *run, o->ref ? o->ref : REPORT_REF_DEFAULT, o->ref_db,
                                        o->ref_run ? o->ref_run : "last", &o->rr, &err))
        pb_die_input(&err);
    if (o->ref && !score_has_method(db, *run, o->ref)) {
        pb_errf(&err, "--ref", -1, "no method '%s' among the accuracy cases of run %lld", o->ref, (long long)*run);
        pb_die_input(&err);
    }
    return db;
}

/* One run as Markdown or JSON: the statistics per (task, length, method)
 * and the throughput cases. */
static void report_tables(pb_db *db, int64_t run, const char *ref, const report_opts *o, FILE *f)
{
    const int fmt = o->fmt;
    score_cell *c;
    int n = score_cells(db, run, ref, SCORE_BY_CONTEXT, &c);
    char dname[80];
    snprintf(dname, sizeof dname, "diff to %s", ref);
    const char *cols[] = {"task", "context", "method", "n", "score", "95% low", "95% high", dname, "diff low",
                          "diff high", "p", "density"};
    tbl *t = tbl_new("scores (x100) per task, length and method", 12, cols);
    for (int i = 0; i < n; i++) {
        const score_cell *x = &c[i];
        tbl_str(t, x->task);
        tbl_int(t, x->context);
        tbl_str(t, x->method);
        tbl_int(t, x->score.n);
        tbl_real(t, 100 * x->score.mean, 2);
        tbl_real(t, 100 * x->score.lo, 2);
        tbl_real(t, 100 * x->score.hi, 2);
        if (x->has_diff) {
            tbl_signed(t, 100 * x->diff.diff, 2);
            tbl_signed(t, 100 * x->diff.lo, 2);
            tbl_signed(t, 100 * x->diff.hi, 2);
            if (x->diff.p >= 0) tbl_real(t, x->diff.p, 3); else tbl_null(t);
        } else tbl_null(t), tbl_null(t), tbl_null(t), tbl_null(t);
        if (x->has_density) tbl_real(t, x->density, 4); else tbl_null(t);
    }
    score_cells_free(c, n);
    rd_speed *sp;
    int ns = rd_speed_rows(db, run, run, 0, &sp);
    const char *scols[] = {"task", "method", "shape L/H/KV/d", "context", "phase", "throughput", "unit", "median ms",
                           "p10 ms", "p90 ms", "repeats"};
    tbl *t2 = tbl_new("throughput (median of repeats)", 11, scols);
    for (int i = 0; i < ns; i++) {
        const rd_speed *x = &sp[i];
        rd_speed_key_cells(t2, x);
        tbl_real(t2, x->tp_a, 1);
        tbl_str(t2, x->unit);
        tbl_real(t2, 1e3 * x->med_a, 3);
        tbl_real(t2, 1e3 * x->p10_a, 3);
        tbl_real(t2, 1e3 * x->p90_a, 3);
        tbl_int(t2, x->reps_a);
    }
    rd_speed_free(sp, ns);
    eff_length *el;
    int ne = eff_lengths(db, run, ref, EFF_MARGIN_DEFAULT, &el);
    char byname[2][64];
    snprintf(byname[0], sizeof byname[0], "by mean (within %.0f points)", 100 * EFF_MARGIN_DEFAULT);
    snprintf(byname[1], sizeof byname[1], "by 95%% interval (within %.0f points)", 100 * EFF_MARGIN_DEFAULT);
    const char *ecols[] = {"method", "lengths", "longest", byname[0], byname[1]};
    tbl *t3 = tbl_new("RULER effective length (RULER tasks pooled per length, paired to the reference)", 5, ecols);
    for (int i = 0; i < ne; i++) {
        tbl_str(t3, el[i].method);
        tbl_int(t3, el[i].n_lengths);
        tbl_int(t3, el[i].longest);
        tbl_int(t3, el[i].by_mean);
        tbl_int(t3, el[i].by_ci);
    }
    eff_lengths_free(el, ne);
    if (fmt == TBL_JSON) {
        fprintf(f, "{\"run\": %lld, \"ref\": ", (long long)run);
        json_put_str(f, ref);
        if (o->ref_db) {
            fputs(", \"ref_db\": ", f);
            json_put_str(f, o->ref_db);
            fprintf(f, ", \"ref_run\": %lld, \"ref_paired\": %d, \"ref_other_prompt\": %d", (long long)o->rr.run,
                    o->rr.paired, o->rr.other_prompt);
        }
        fputs(",\n", f);
        tbl_print(t, fmt, f);
        fputs(",\n", f);
        tbl_print(t2, fmt, f);
        fputs(",\n", f);
        tbl_print(t3, fmt, f);
        fputs("}\n", f);
    } else {
        fprintf(f, "### purbo-bench report: run %lld\n\n", (long long)run);
        if (tbl_rows(t)) tbl_print(t, fmt, f);
        if (tbl_rows(t3)) tbl_print(t3, fmt, f);
        if (tbl_rows(t2)) tbl_print(t2, fmt, f);
    }
    tbl_free(t);
    tbl_free(t2);
    tbl_free(t3);
}

int cmd_report(int argc, char **argv)
{
    int64_t run, base = 0;
    report_opts o = {.fmt = TBL_TEXT};
    pb_db *db = open_run("report", argc, argv,
                         "usage: purbo-bench report [--run R] [--db D] [--ref M] [--ref-db D2 [--ref-run R2]]\n"
                         "                          [--format text|md|json]\n"
                         "       purbo-bench report --run A,B [--db D] [--format text|md|json]\n"
                         "  Prints a suite run as plain tables: score (x100) and attention density per\n"
                         "  task (rows) and method (columns); per (task, length, method) the cases, the\n"
                         "  mean score with its 95% interval and the paired difference to the reference\n"
                         "  method on the same cases (interval; exact McNemar p for pass/fail tasks);\n"
                         "  RULER's effective length per method: the longest context up to which the\n"
                         "  RULER tasks' pooled paired difference to the reference stays above -5\n"
                         "  points, by the mean and by the 95% interval's lower end;\n"
                         "  then its throughput cases.\n"
                         "  With two runs (A the baseline, B the new one): per (task, method) both scores\n"
                         "  and B - A paired by case with its interval and p, per throughput case both\n"
                         "  median times, B / A and the measured noise, each with compare's verdict.\n"
                         "  --run R        run id, or 'last' (default): the newest run with suite results\n"
                         "  --run A,B      two runs side by side (same as --baseline-run A --run B)\n"
                         "  --db D         results database (default out/results.db)\n"
                         "  --ref M        the reference method of the differences (default dense)\n"
                         "  --ref-db D2    take the reference method's cases from a run of another\n"
                         "                 results database (one that ran it alone, or earlier), paired\n"
                         "                 with this run's by task, case index and prompt hash; a case\n"
                         "                 whose prompt differs is left out and counted\n"
                         "  --ref-run R2   that run (default: the newest one with the method)\n"
                         "  --format F     text (default), md (GitHub Markdown, for a pull request) or json\n",
                         &run, &base, &o);
    const char *ref = o.ref ? o.ref : REPORT_REF_DEFAULT;
    if (o.ref_db && o.fmt != TBL_JSON) {
        printf("%sreference: method '%s' of run %lld in %s: %d cases paired by prompt", o.fmt == TBL_MD ? "> " : "",
               ref, (long long)o.rr.run, o.ref_db, o.rr.paired);
        if (o.rr.other_prompt) printf(", %d at the same grid point with another prompt left out", o.rr.other_prompt);
        printf("\n\n");
    }
    if (base) run_diff_print(db, base, run, 5, 0.10, o.fmt, stdout);
    else if (o.fmt == TBL_TEXT) runner_report(db, run, o.ref, stdout);
    else report_tables(db, run, ref, &o, stdout);
    db_close(db);
    return 0;
}
