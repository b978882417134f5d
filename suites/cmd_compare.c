/* cmd_compare.c — `purbo-bench compare`: the regression gate.
 *
 * A baseline is small diffable text, one line per (method, task):
 *     method task score density cases [INDEX:SCORE,...]
 * (score x100 as report prints it, density or '-' when not recorded, the
 * number of cases, and optionally every case's score by case index, in
 * ascending index order: `--write-baseline FILE --per-case`); '#' starts a
 * comment. `--write-baseline FILE` writes one from a run; `--baseline
 * FILE` checks a run against one.
 * A pair is a regression when its density rises more than the density
 * tolerance, it ran fewer cases, the run lacks it, or its score fell:
 *   - without per-case scores: by more than the score tolerance (points of
 *     100), as before;
 *   - with them: the run's cases are paired with the baseline's by case
 *     index, and the mean paired difference must fall by more than the
 *     tolerance AND be significant at 95% (exact McNemar p < 0.05 for
 *     pass/fail scores, else the seeded paired-bootstrap interval excludes
 *     0; base/stats.h). A fall beyond the tolerance that is not significant
 *     is printed as noise and does not fail the gate.
 * Each regression is one line on stdout, saying which rule it broke;
 * exit 1 if any, 0 if none, 2 on bad input (the file, a line, the run).
 */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <string.h>

#include "base/stats.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "results/score_cells.h"
#include "results/text_out.h"
#include "suites/run_diff.h"
#include "suites/runner_db.h"
#include "suites/table.h"

/* The gate's findings, in the order found: printed at the end in the
 * chosen format. kind: REGRESSION, improved, noise, new or ok (ok lines
 * only appear in the md, json and junit formats). */
typedef struct {
    char kind[12], pair[300], msg[600];
} verdict;
static verdict *g_v;
static int g_nv, g_cv;

static void say(const char *kind, const char *pair, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(const char *kind, const char *pair, const char *fmt, ...)
{
    if (g_nv == g_cv) g_v = pb_realloc(g_v, (size_t)(g_cv = g_cv ? 2 * g_cv : 32) * sizeof *g_v);
    verdict *v = &g_v[g_nv++];
    snprintf(v->kind, sizeof v->kind, "%s", kind);
    snprintf(v->pair, sizeof v->pair, "%s", pair);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
}

static const char *pair_name(const char *method, const char *task)
{
    static char b[300];
    snprintf(b, sizeof b, "%s/%s", method, task);
    return b;
}

typedef struct {
    char method[128], task[128];
    double score, density;
    int has_density, cases, line;
    int n_per_case; /* 0: no per-case scores; else == cases */
    int *idx;
    double *x;
} base_row;

/* Parses "INDEX:SCORE,..." (ascending indices, scores in [0, 1]) into r;
 * 0 + *e on a malformed list. */
static int parse_per_case(const char *list, base_row *r, const char *where, pb_err *e)
{
    int cap = r->cases;
    r->idx = pb_malloc((size_t)cap * sizeof *r->idx);
    r->x = pb_malloc((size_t)cap * sizeof *r->x);
    const char *p = list;
    while (*p) {
        char *end;
        long i = strtol(p, &end, 10);
        if (end == p || *end != ':' || i < 0 || i > 1L << 30)
            return pb_errf(e, where, -1, "per-case scores: expected INDEX:SCORE at '%.40s'", p);
        if (r->n_per_case && i <= r->idx[r->n_per_case - 1])
            return pb_errf(e, where, -1, "per-case scores: case index %ld does not ascend", i);
        p = end + 1;
        double x = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !(x >= 0 && x <= 1))
            return pb_errf(e, where, -1, "per-case scores: case %ld: a score in [0, 1] expected at '%.40s'", i, p);
        if (r->n_per_case == cap) return pb_errf(e, where, -1, "per-case scores: more than the %d cases", cap);
        r->idx[r->n_per_case] = (int)i;
        r->x[r->n_per_case++] = x;
        p = *end ? end + 1 : end;
    }
    if (r->n_per_case != r->cases)
        return pb_errf(e, where, -1, "per-case scores: %d listed, %d cases", r->n_per_case, r->cases);
    double mean = 100 * stats_mean(r->x, r->n_per_case);
    if (fabs(mean - r->score) > 0.0051)
        return pb_errf(e, where, -1, "per-case scores average %.2f, not the line's score %.2f", mean, r->score);
    return 1;
}

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
        char m[128], t[128], dens[64], list[2];
        double score;
        int cases, pos = 0, k = sscanf(p, "%127s %127s %lf %63s %d%n", m, t, &score, dens, &cases, &pos);
        if (k <= 0) continue; /* blank or comment */
        pb_err e = {{0}};
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, line);
        if (k != 5 || sscanf(p + pos, " %*s %1s", list) == 1) { /* at most one word after cases */
            pb_errf(&e, where, -1,
                    "expected 'method task score density cases' (then optionally INDEX:SCORE,... per case), got '%s'", p);
            goto bad;
        }
        char *rest = p + pos; /* the per-case list, if any */
        rest += strspn(rest, " \t\r");
        rest[strcspn(rest, " \t\r")] = 0;
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
        if (*rest && !parse_per_case(rest, &r, where, &e)) {
            free(r.idx);
            free(r.x);
            goto bad;
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(rows[i].method, r.method) && !strcmp(rows[i].task, r.task)) {
                pb_errf(&e, where, -1, "(%s, %s) repeats line %d", r.method, r.task, rows[i].line);
                free(r.idx);
                free(r.x);
                goto bad;
            }
        if (n == cap) rows = pb_realloc(rows, (size_t)(cap *= 2) * sizeof *rows);
        rows[n++] = r;
        continue;
    bad:
        for (int i = 0; i < n; i++) free(rows[i].idx), free(rows[i].x);
        free(text);
        free(rows);
        pb_die_input(&e);
    }
    free(text);
    *n_out = n;
    return rows;
}

/* x in the fewest digits that read back as the same double. */
static void put_score(FILE *f, double x)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    fputs(buf, f);
}

static void write_baseline(const char *path, pb_db *db, int64_t run, const suite_agg *a, int n, int per_case)
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
               "# method task score(x100) density cases%s\n", per_case ? " index:score,... (per case)" : "");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s %s %.2f ", a[i].method, a[i].task, a[i].score);
        if (a[i].has_density) fprintf(f, "%.4f", a[i].density);
        else fprintf(f, "-");
        fprintf(f, " %d", a[i].n);
        int *idx;
        double *x;
        int k = per_case ? score_cases(db, run, a[i].method, a[i].task, &idx, &x) : 0;
        for (int j = 0; j < k; j++) {
            fprintf(f, "%c%d:", j ? ',' : ' ', idx[j]);
            put_score(f, x[j]);
        }
        if (per_case) free(idx), free(x);
        fputc('\n', f);
    }
    if (fclose(f) != 0) arg_bad("compare", "%s: %s", path, strerror(errno));
    printf("baseline of run %lld (%d method-task pairs) written to %s\n", (long long)run, n, path);
}

/* The score rule for a baseline row with per-case scores: the run's cases
 * of (method, task) paired with the baseline's by case index. Prints the
 * verdict when there is one; returns 1 for a regression. */
static int paired_check(pb_db *db, int64_t run, const base_row *b, double tol)
{
    int *idx;
    double *x;
    int k = score_cases(db, run, b->method, b->task, &idx, &x), bad = 0;
    double *pr = pb_malloc((size_t)(b->cases + 1) * sizeof *pr), *pbase = pb_malloc((size_t)(b->cases + 1) * sizeof *pbase);
    int np = score_pair(idx, x, k, b->idx, b->x, b->n_per_case, pr, pbase);
    if (np == 0) {
        say("REGRESSION", pair_name(b->method, b->task),
            "none of the baseline's %d case indices is in run %lld (another suite?)", b->cases, (long long)run);
        bad = 1;
    } else {
        stats_diff d;
        stats_paired(pr, pbase, np, stats_is_binary(pr, np) && stats_is_binary(pbase, np), &d);
        char why[96];
        if (d.binary) snprintf(why, sizeof why, "exact McNemar p = %.4g, %d vs %d discordant", d.p, d.b, d.c);
        else snprintf(why, sizeof why, "paired bootstrap interval %s 0", d.significant ? "excludes" : "includes");
        const char *what = NULL;
        if (100 * d.diff < -tol) what = d.significant ? "REGRESSION" : "noise";
        else if (100 * d.diff > tol && d.significant) what = "improved";
        if (what)
            say(what, pair_name(b->method, b->task),
                "paired score difference %+.2f [%+.2f, %+.2f] over %d cases, beyond %s%g and %s (%s)", 100 * d.diff,
                100 * d.lo, 100 * d.hi, np, d.diff < 0 ? "-" : "+", tol, d.significant ? "significant" : "not significant",
                why);
        else say("ok", pair_name(b->method, b->task), "paired score difference %+.2f over %d cases", 100 * d.diff, np);
        bad = what && what[0] == 'R';
    }
    free(idx);
    free(x);
    free(pr);
    free(pbase);
    return bad;
}

/* "score=5,density=0.02,speed=0.1" (any part) into the tolerances. */
static void parse_tolerance(const char *v, double *tol_score, double *tol_density, double *tol_speed)
{
    for (const char *p = v; *p;) {
        size_t l = strcspn(p, ",");
        char item[64];
        if (l >= sizeof item) arg_bad("compare", "bad --tolerance '%s'", v);
        memcpy(item, p, l);
        item[l] = 0;
        char *eq = strchr(item, '=');
        if (!eq) arg_bad("compare", "--tolerance '%s': expected score=X,density=Y,speed=Z", v);
        *eq = 0;
        if (!strcmp(item, "score")) *tol_score = arg_double("compare", "--tolerance score", eq + 1, 0, 100);
        else if (!strcmp(item, "density")) *tol_density = arg_double("compare", "--tolerance density", eq + 1, 0, 1);
        else if (!strcmp(item, "speed")) *tol_speed = arg_double("compare", "--tolerance speed", eq + 1, 0, 10);
        else arg_bad("compare", "--tolerance: unknown key '%s' (score, density, speed)", item);
        p += l + (p[l] == ',');
    }
}

/* The baseline rows of run `base`: its aggregates with every case's score
 * (so the accuracy rule is the paired one). */
static base_row *baseline_of_run(pb_db *db, int64_t base, int *n_out)
{
    suite_agg *a;
    int n = suite_aggs(db, base, &a);
    base_row *rows = pb_calloc((size_t)n + 1, sizeof *rows);
    for (int i = 0; i < n; i++) {
        base_row *r = &rows[i];
        snprintf(r->method, sizeof r->method, "%s", a[i].method);
        snprintf(r->task, sizeof r->task, "%s", a[i].task);
        r->score = a[i].score;
        r->density = a[i].density;
        r->has_density = a[i].has_density;
        r->cases = a[i].n;
        r->line = i + 1;
        r->n_per_case = score_cases(db, base, a[i].method, a[i].task, &r->idx, &r->x);
    }
    suite_aggs_free(a, n);
    *n_out = n;
    return rows;
}

/* The speed gate of run against run base (run_diff.h's rule). Returns the
 * number of regressions. */
static int speed_gate(pb_db *db, int64_t base, int64_t run, double tol, int *n_checked)
{
    rd_speed *sp;
    int n = rd_speed_rows(db, base, run, tol, &sp), bad = 0;
    for (int k = 0; k < 2 && n; k++) { /* a run that started on a loaded machine (its notes say so) */
        int64_t id = k ? run : base;
        sqlite3_stmt *st = db_prepare_id(db, "SELECT coalesce(notes, '') FROM runs WHERE id = ?", id);
        const char *notes = db_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : "";
        const char *at = strstr(notes, "; load ");
        double load;
        int cores;
        if (at && sscanf(at, "; load %lf on %d CPUs", &load, &cores) == 2 && load > cores) {
            char pair[64];
            snprintf(pair, sizeof pair, "run %lld", (long long)id);
            say("warning", pair, "started with load %.2f on %d CPUs: its timings are noisy and the speed verdicts"
                " against it less reliable", load, cores);
        }
        db_finalize(st);
    }
    for (int i = 0; i < n; i++) {
        const rd_speed *x = &sp[i];
        char pair[300];
        snprintf(pair, sizeof pair, "%s/%s %d/%d/%d/%d ctx %d %s", x->method, x->task, x->layers, x->heads, x->kv_heads,
                 x->head_dim, x->ctx, x->phase);
        if (x->v == RD_MISSING) {
            say("REGRESSION", pair, "throughput case missing from run %lld", (long long)run);
            bad++;
            continue;
        }
        if (x->v == RD_NEW) {
            say("new", pair, "throughput case not in run %lld", (long long)base);
            continue;
        }
        char spread[160];
        snprintf(spread, sizeof spread, "p10..p90 %.3f..%.3f ms vs %.3f..%.3f ms", 1e3 * x->p10_b, 1e3 * x->p90_b,
                 1e3 * x->p10_a, 1e3 * x->p90_a);
        const char *what = x->v == RD_REGRESSION ? "REGRESSION" : x->v == RD_IMPROVED ? "improved"
                         : x->v == RD_NOISE      ? "noise"      : x->v == RD_NOISY ? "noisy" : "ok";
        if (x->v == RD_NOISY)
            say(what, pair, "median %.3f ms, %.3fx the baseline's %.3f ms: too noisy to judge (spread %.1f%% > %g x the"
                " %g%% tolerance; %s): rerun with more repeats",
                1e3 * x->med_b, x->ratio, 1e3 * x->med_a, 100 * x->noise, RD_MAX_NOISE, 100 * tol, spread);
        else if (x->v == RD_SAME)
            say(what, pair, "median %.3f ms, %.3fx the baseline's (within %g%%; noise %.1f%%)", 1e3 * x->med_b, x->ratio,
                100 * tol, 100 * x->noise);
        else
            say(what, pair, "median %.3f ms, %.3fx the baseline's %.3f ms: beyond %g%% and %s the measured spreads (%s)",
                1e3 * x->med_b, x->ratio, 1e3 * x->med_a, 100 * tol, x->v == RD_NOISE ? "within" : "beyond", spread);
        bad += x->v == RD_REGRESSION;
    }
    *n_checked = n;
    rd_speed_free(sp, n);
    return bad;
}

static void xml_put(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc(' ', f);
        else fputc(*s, f);
    }
}

enum { OUT_TEXT = TBL_TEXT, OUT_MD = TBL_MD, OUT_JSON = TBL_JSON, OUT_JUNIT };

/* Prints the findings and the summary line in fmt. */
static void print_verdicts(int fmt, const char *summary, int bad, int64_t run, const char *against)
{
    if (fmt == OUT_TEXT) {
        for (int i = 0; i < g_nv; i++)
            if (strcmp(g_v[i].kind, "ok")) printf("%-10s %s: %s\n", g_v[i].kind, g_v[i].pair, g_v[i].msg);
        printf("%s\n", summary);
        return;
    }
    if (fmt == OUT_JUNIT) {
        printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"purbo-bench compare\""
               " tests=\"%d\" failures=\"%d\">\n", g_nv, bad);
        for (int i = 0; i < g_nv; i++) {
            printf("  <testcase classname=\"purbo.compare\" name=\"");
            xml_put(stdout, g_v[i].pair);
            printf("\">");
            if (!strcmp(g_v[i].kind, "REGRESSION")) {
                printf("<failure message=\"");
                xml_put(stdout, g_v[i].msg);
                printf("\"/>");
            } else {
                printf("<system-out>%s: ", g_v[i].kind);
                xml_put(stdout, g_v[i].msg);
                printf("</system-out>");
            }
            printf("</testcase>\n");
        }
        printf("</testsuite>\n</testsuites>\n");
        return;
    }
    const char *cols[] = {"verdict", "pair", "detail"};
    tbl *t = tbl_new("findings", 3, cols);
    for (int pass = 0; pass < 2; pass++) /* regressions first */
        for (int i = 0; i < g_nv; i++) {
            if ((pass == 0) != !strcmp(g_v[i].kind, "REGRESSION")) continue;
            tbl_str(t, g_v[i].kind);
            tbl_str(t, g_v[i].pair);
            tbl_str(t, g_v[i].msg);
        }
    if (fmt == OUT_JSON) {
        printf("{\"run\": %lld, \"baseline\": ", (long long)run);
        json_put_str(stdout, against);
        printf(", \"regressions\": %d, \"summary\": ", bad);
        json_put_str(stdout, summary);
        printf(",\n");
        tbl_print(t, fmt, stdout);
        printf("}\n");
    } else {
        printf("### purbo-bench compare: %s\n\n%s\n\n", bad ? ":x: regressions" : ":white_check_mark: no regressions",
               summary);
        tbl_print(t, fmt, stdout);
    }
    tbl_free(t);
}

int cmd_compare(int argc, char **argv)
{
    const char *baseline = NULL, *write = NULL, *base_run_arg = NULL;
    int per_case = 0, fmt = OUT_TEXT;
    arg_results ro = {.db = ARG_DB_DEFAULT, .run = "last", .takes_run = 1};
    double tol_score = 5, tol_density = 0.02, tol_speed = 0.10;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt("compare", argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench compare --baseline FILE [--run R] [--db D] [--tolerance score=5,density=0.02]\n"
                   "       purbo-bench compare --baseline-run A [--run R] [--db D] [--tolerance ...,speed=0.1]\n"
                   "       purbo-bench compare --write-baseline FILE [--per-case] [--run R] [--db D]\n"
                   "  The regression gate: exit 1 when any (method, task) of the baseline scores more\n"
                   "  than `score` points (of 100) lower in run R, has a density more than `density`\n"
                   "  higher, ran fewer cases or is missing; each such pair is one line. 0 otherwise.\n"
                   "  Where the baseline holds per-case scores, a score is a regression only when the\n"
                   "  paired difference (same case indices) falls more than `score` points and is\n"
                   "  significant at 95%% (exact McNemar test for pass/fail, else paired bootstrap).\n"
                   "  --baseline-run A  run A of the same database is the baseline: every case's\n"
                   "              score (the paired rule), and its throughput cases: a case is slower\n"
                   "              only when its median time rises more than `speed` (a fraction) AND\n"
                   "              its p10..p90 spread lies wholly above the baseline's (beyond the\n"
                   "              noise both runs measured); a case whose spread exceeds 1.5x `speed`\n"
                   "              in either run cannot resolve such a change: `noisy`, not failed\n"
                   "  --per-case  write every case's score too (index:score,...)\n"
                   "  --run R     run id, or 'last' (default): the newest run with suite results\n"
                   "  --db D      results database (default out/results.db)\n"
                   "  --format F  text (default), md (a pull-request comment), json or junit (XML)\n");
            return 0;
        } else if (arg_flag(argv, i, "--per-case")) per_case = 1;
        else if ((v = arg_val("compare", argc, argv, &i, "--baseline"))) baseline = v;
        else if ((v = arg_val("compare", argc, argv, &i, "--baseline-run"))) base_run_arg = v;
        else if ((v = arg_val("compare", argc, argv, &i, "--write-baseline"))) write = v;
        else if ((v = arg_val("compare", argc, argv, &i, "--tolerance")))
            parse_tolerance(v, &tol_score, &tol_density, &tol_speed);
        else if ((v = arg_val("compare", argc, argv, &i, "--format"))) {
            if (!strcmp(v, "junit")) fmt = OUT_JUNIT;
            else if (!tbl_format(v, &fmt)) arg_bad("compare", "--format '%s': text, md, json or junit", v);
        } else arg_bad("compare", "unknown option %s", argv[i]);
    }
    const char *db_path = ro.db, *run_arg = ro.run;
    if ((baseline != NULL) + (write != NULL) + (base_run_arg != NULL) != 1)
        arg_bad("compare", "give one of --baseline FILE, --baseline-run A and --write-baseline FILE");
    if (per_case && !write) arg_bad("compare", "--per-case goes with --write-baseline");
    int nb = 0;
    base_row *base = baseline ? read_baseline(baseline, &nb) : NULL;
    pb_err err;
    pb_db *db = suite_db_open_existing(db_path, &err);
    int64_t run = db ? suite_run_id(db, run_arg, &err) : 0;
    if (!run) pb_die_input(&err);
    int64_t base_run = 0;
    if (base_run_arg && !(base_run = suite_run_id(db, base_run_arg, &err))) pb_die_input(&err);
    if (base_run) base = baseline_of_run(db, base_run, &nb);
    suite_agg *a;
    int n = suite_aggs(db, run, &a);
    if (n == 0 && !base_run) {
        pb_errf(&err, db_path, -1, "run %lld has no suite cases to compare", (long long)run);
        pb_die_input(&err);
    }
    if (write) {
        write_baseline(write, db, run, a, n, per_case);
        suite_aggs_free(a, n);
        db_close(db);
        return 0;
    }
    char against[64];
    if (base_run) snprintf(against, sizeof against, "run %lld", (long long)base_run);
    int bad = 0;
    for (int i = 0; i < nb; i++) {
        const base_row *b = &base[i];
        const suite_agg *g = NULL;
        const char *pair = pair_name(b->method, b->task);
        for (int j = 0; j < n && !g; j++)
            if (!strcmp(a[j].method, b->method) && !strcmp(a[j].task, b->task)) g = &a[j];
        if (!g) {
            if (base_run) say("REGRESSION", pair, "missing from run %lld (in run %lld)", (long long)run, (long long)base_run);
            else say("REGRESSION", pair, "missing from run %lld (baseline line %d)", (long long)run, b->line);
            bad++;
            continue;
        }
        int before = bad;
        if (b->n_per_case) bad += paired_check(db, run, b, tol_score);
        else if (g->score < b->score - tol_score) {
            say("REGRESSION", pair, "score %.2f < baseline %.2f - %g", g->score, b->score, tol_score);
            bad++;
        } else if (g->score > b->score + tol_score)
            say("improved", pair, "score %.2f > baseline %.2f + %g", g->score, b->score, tol_score);
        if (b->has_density && g->has_density && g->density > b->density + tol_density) {
            say("REGRESSION", pair, "density %.4f > baseline %.4f + %g", g->density, b->density, tol_density);
            bad++;
        }
        if (g->n < b->cases) {
            say("REGRESSION", pair, "%d cases, baseline %d", g->n, b->cases);
            bad++;
        }
        if (bad == before && !b->n_per_case && g->score >= b->score - tol_score && g->score <= b->score + tol_score)
            say("ok", pair, "score %.2f, baseline %.2f", g->score, b->score);
    }
    for (int j = 0; j < n; j++) {
        int known = 0;
        for (int i = 0; i < nb && !known; i++) known = !strcmp(a[j].method, base[i].method) && !strcmp(a[j].task, base[i].task);
        if (!known) say("new", pair_name(a[j].method, a[j].task), "score %.2f (not in the baseline)", a[j].score);
    }
    int n_speed = 0, bad_speed = base_run ? speed_gate(db, base_run, run, tol_speed, &n_speed) : 0;
    bad += bad_speed;
    int paired = 0;
    for (int i = 0; i < nb; i++) paired += base[i].n_per_case > 0;
    char summary[600];
    int l = snprintf(summary, sizeof summary, "compare: run %lld vs %s: %d pairs, %d regression%s (tolerance score %g, density %g",
                     (long long)run, base_run ? against : baseline, nb, bad, bad == 1 ? "" : "s", tol_score, tol_density);
    if (paired) l += snprintf(summary + l, sizeof summary - (size_t)l, "; %d pair%s tested case by case at 95%%", paired,
                              paired == 1 ? "" : "s");
    if (base_run)
        l += snprintf(summary + l, sizeof summary - (size_t)l, "; %d throughput case%s, speed %g%% beyond the measured spread",
                      n_speed, n_speed == 1 ? "" : "s", 100 * tol_speed);
    snprintf(summary + l, sizeof summary - (size_t)l, ")");
    print_verdicts(fmt, summary, bad, run, base_run ? against : baseline);
    suite_aggs_free(a, n);
    for (int i = 0; i < nb; i++) free(base[i].idx), free(base[i].x);
    free(base);
    free(g_v);
    db_close(db);
    return bad ? 1 : 0;
}
