/* cmd_compare.c — `purbo-bench compare`: the regression gate.
 *
 * A baseline is small diffable text, one line per (method, task):
 *     method task score density cases
 * (score x100 as report prints it, density or '-' when not recorded, the
 * number of cases); '#' starts a comment. `--write-baseline FILE` writes
 * one from a run; `--baseline FILE` checks a run against one. A pair is a
 * regression when its score falls more than the score tolerance (points of
 * 100), its density rises more than the density tolerance, it ran fewer
 * cases, or the run lacks it. Each regression is one line on stdout;
 * exit 1 if any, 0 if none, 2 on bad input (the file, a line, the run).
 */
#include <errno.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "suites/runner_db.h"

typedef struct {
    char method[128], task[128];
    double score, density;
    int has_density, cases, line;
} base_row;

/* Reads a baseline; exits 2 with "FILE:LINE: what" on a malformed line
 * (the text and the rows freed first, so nothing is left allocated). */
static base_row *read_baseline(const char *path, int *n_out)
{
    size_t len;
    char *text = arg_read_file("compare", path, &len);
    int n = 0, cap = 16, line = 0;
    base_row *rows = pb_malloc((size_t)cap * sizeof *rows);
    for (char *p = text, *next; p && *p; p = next) {
        next = strchr(p, '\n');
        if (next) *next++ = 0;
        line++;
        char *hash = strchr(p, '#');
        if (hash) *hash = 0;
        char m[128], t[128], dens[64], extra[8];
        double score;
        int cases, k = sscanf(p, "%127s %127s %lf %63s %d %7s", m, t, &score, dens, &cases, extra);
        if (k <= 0) continue; /* blank or comment */
        pb_err e = {{0}};
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, line);
        if (k != 5) {
            pb_errf(&e, where, -1, "expected 'method task score density cases', got '%s'", p);
            goto bad;
        }
        base_row r = {.score = score, .cases = cases, .line = line};
        snprintf(r.method, sizeof r.method, "%s", m);
        snprintf(r.task, sizeof r.task, "%s", t);
        char *end;
        r.has_density = strcmp(dens, "-") != 0;
        if (r.has_density) r.density = strtod(dens, &end);
        if (!(score >= 0 && score <= 100) || cases < 1 ||
            (r.has_density && (*end || !(r.density >= 0 && r.density <= 1)))) {
            pb_errf(&e, where, -1, "score must be in [0, 100], density in [0, 1] or '-', cases >= 1");
            goto bad;
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(rows[i].method, r.method) && !strcmp(rows[i].task, r.task)) {
                pb_errf(&e, where, -1, "(%s, %s) repeats line %d", r.method, r.task, rows[i].line);
                goto bad;
            }
        if (n == cap) rows = pb_realloc(rows, (size_t)(cap *= 2) * sizeof *rows);
        rows[n++] = r;
        continue;
    bad:
        free(text);
        free(rows);
        pb_die_input(&e);
    }
    free(text);
    *n_out = n;
    return rows;
}

static void write_baseline(const char *path, pb_db *db, int64_t run, const suite_agg *a, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) arg_bad("compare", "%s: %s", path, strerror(errno));
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT (SELECT suite FROM suite_cases WHERE run_id = r.id LIMIT 1), r.git_sha, r.started_at, r.host"
        " FROM runs r WHERE r.id = ?", run);
    if (db_step(st) == SQLITE_ROW)
        fprintf(f, "# purbo-bench baseline: suite %s, run %lld (git %.12s, %s, host %s)\n",
                sqlite3_column_text(st, 0), (long long)run, sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
                sqlite3_column_text(st, 3));
    db_finalize(st);
    fprintf(f, "# written by `purbo-bench compare --write-baseline`; checked by `purbo-bench compare --baseline`\n"
               "# method task score(x100) density cases\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s %s %.2f ", a[i].method, a[i].task, a[i].score);
        if (a[i].has_density) fprintf(f, "%.4f", a[i].density);
        else fprintf(f, "-");
        fprintf(f, " %d\n", a[i].n);
    }
    if (fclose(f) != 0) arg_bad("compare", "%s: %s", path, strerror(errno));
    printf("baseline of run %lld (%d method-task pairs) written to %s\n", (long long)run, n, path);
}

/* "score=5,density=0.02" (either part) into the tolerances. */
static void parse_tolerance(const char *v, double *tol_score, double *tol_density)
{
    for (const char *p = v; *p;) {
        size_t l = strcspn(p, ",");
        char item[64];
        if (l >= sizeof item) arg_bad("compare", "bad --tolerance '%s'", v);
        memcpy(item, p, l);
        item[l] = 0;
        char *eq = strchr(item, '=');
        if (!eq) arg_bad("compare", "--tolerance '%s': expected score=X,density=Y", v);
        *eq = 0;
        if (!strcmp(item, "score")) *tol_score = arg_double("compare", "--tolerance score", eq + 1, 0, 100);
        else if (!strcmp(item, "density")) *tol_density = arg_double("compare", "--tolerance density", eq + 1, 0, 1);
        else arg_bad("compare", "--tolerance: unknown key '%s' (score, density)", item);
        p += l + (p[l] == ',');
    }
}

int cmd_compare(int argc, char **argv)
{
    const char *baseline = NULL, *write = NULL;
    arg_results ro = {.db = ARG_DB_DEFAULT, .takes_run = 1};
    double tol_score = 5, tol_density = 0.02;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt("compare", argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench compare --baseline FILE --run R [--db D] [--tolerance score=5,density=0.02]\n"
                   "       purbo-bench compare --write-baseline FILE --run R [--db D]\n"
                   "  The regression gate: exit 1 when any (method, task) of the baseline scores more\n"
                   "  than `score` points (of 100) lower in run R, has a density more than `density`\n"
                   "  higher, ran fewer cases or is missing; each such pair is one line. 0 otherwise.\n"
                   "  --run R     run id, or 'last': the newest run with suite results\n"
                   "  --db D      results database (default out/results.db)\n");
            return 0;
        } else if ((v = arg_val("compare", argc, argv, &i, "--baseline"))) baseline = v;
        else if ((v = arg_val("compare", argc, argv, &i, "--write-baseline"))) write = v;
        else if ((v = arg_val("compare", argc, argv, &i, "--tolerance"))) parse_tolerance(v, &tol_score, &tol_density);
        else arg_bad("compare", "unknown option %s", argv[i]);
    }
    const char *db_path = ro.db, *run_arg = ro.run;
    if (!run_arg) arg_bad("compare", "--run is required");
    if (!baseline == !write) arg_bad("compare", "give one of --baseline FILE and --write-baseline FILE");
    int nb = 0;
    base_row *base = baseline ? read_baseline(baseline, &nb) : NULL;
    pb_err err;
    pb_db *db = suite_db_open_existing(db_path, &err);
    int64_t run = db ? suite_run_id(db, run_arg, &err) : 0;
    if (!run) pb_die_input(&err);
    suite_agg *a;
    int n = suite_aggs(db, run, &a);
    if (n == 0) {
        pb_errf(&err, db_path, -1, "run %lld has no suite cases to compare", (long long)run);
        pb_die_input(&err);
    }
    if (write) {
        write_baseline(write, db, run, a, n);
        suite_aggs_free(a, n);
        db_close(db);
        return 0;
    }
    int bad = 0;
    for (int i = 0; i < nb; i++) {
        const base_row *b = &base[i];
        const suite_agg *g = NULL;
        for (int j = 0; j < n && !g; j++)
            if (!strcmp(a[j].method, b->method) && !strcmp(a[j].task, b->task)) g = &a[j];
        if (!g) {
            printf("REGRESSION %s/%s: missing from run %lld (baseline line %d)\n", b->method, b->task,
                   (long long)run, b->line);
            bad++;
            continue;
        }
        if (g->score < b->score - tol_score) {
            printf("REGRESSION %s/%s: score %.2f < baseline %.2f - %g\n", b->method, b->task, g->score, b->score,
                   tol_score);
            bad++;
        } else if (g->score > b->score + tol_score)
            printf("improved   %s/%s: score %.2f > baseline %.2f + %g\n", b->method, b->task, g->score, b->score,
                   tol_score);
        if (b->has_density && g->has_density && g->density > b->density + tol_density) {
            printf("REGRESSION %s/%s: density %.4f > baseline %.4f + %g\n", b->method, b->task, g->density,
                   b->density, tol_density);
            bad++;
        }
        if (g->n < b->cases) {
            printf("REGRESSION %s/%s: %d cases, baseline %d\n", b->method, b->task, g->n, b->cases);
            bad++;
        }
    }
    for (int j = 0; j < n; j++) {
        int known = 0;
        for (int i = 0; i < nb && !known; i++) known = !strcmp(a[j].method, base[i].method) && !strcmp(a[j].task, base[i].task);
        if (!known) printf("new        %s/%s: score %.2f (not in the baseline)\n", a[j].method, a[j].task, a[j].score);
    }
    printf("compare: run %lld vs %s: %d pairs, %d regression%s (tolerance score %g, density %g)\n", (long long)run,
           baseline, nb, bad, bad == 1 ? "" : "s", tol_score, tol_density);
    suite_aggs_free(a, n);
    free(base);
    db_close(db);
    return bad ? 1 : 0;
}
