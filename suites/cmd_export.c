/* cmd_export.c — `purbo-bench export`: a suite run out of the database as
 * JSON Lines, one JSON document or CSV, for tools that do not read SQLite.
 *
 * Records (suites/SCHEMA.md, "Exported results", names every field):
 *   case        one per suite_cases row: the prompt's regeneration key
 *               (suite, task, case_index, seed, case_seed, prompt_hash; the
 *               suite text is the run's config, so `run` of that text
 *               rebuilds the same prompt, its hash says so), the expected
 *               answers as a JSON array, the prediction, score, density,
 *               times and token counts;
 *   summary     one per (task, method): n, mean score and its 95% interval
 *               (results/score_cells.h), mean density;
 *   throughput  one per suite_bench row: shape, phase, median and p10/p90
 *               seconds, throughput and unit.
 * jsonl: one record a line, each with "record": "case" | "summary" |
 * "throughput", the run's header first ("record": "run"). json: one object
 * {"run": {...}, "cases": [...], "summary": [...], "throughput": [...]}.
 * csv: one table (--table cases | summary | throughput), a header line first.
 * Invariant: every value is written from the row as stored (no rounding
 * but the shortest exact decimal), NULL as null (JSON) or empty (CSV).
 */
#include <errno.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "results/score_cells.h"
#include "results/text_out.h"
#include "suites/runner_db.h"

enum { FMT_JSONL, FMT_JSON, FMT_CSV };
enum { COL_TEXT, COL_INT, COL_REAL, COL_JSON }; /* COL_JSON: stored JSON text, written as is */

typedef struct {
    const char *name;
    int kind;
} col;

static const col CASE_COLS[] = {
    {"suite", COL_TEXT},      {"task", COL_TEXT},        {"task_type", COL_TEXT},  {"method", COL_TEXT},
    {"policy", COL_TEXT},     {"case_index", COL_INT},   {"context", COL_INT},     {"depth", COL_REAL},
    {"sample", COL_INT},      {"seed", COL_INT},         {"case_seed", COL_TEXT},  {"prompt_hash", COL_TEXT},
    {"prompt_tokens", COL_INT}, {"max_new", COL_INT},    {"metric", COL_TEXT},     {"answers", COL_JSON},
    {"prediction", COL_TEXT}, {"score", COL_REAL},       {"density", COL_REAL},    {"density_prefill", COL_REAL},
    {"density_decode", COL_REAL}, {"t_prefill", COL_REAL},
    {"t_decode", COL_REAL},   {"n_gen", COL_INT},        {"n_decode", COL_INT},    {"kv_bytes", COL_INT},
};
#define N_CASE_COLS (int)(sizeof CASE_COLS / sizeof CASE_COLS[0])

static const col TP_COLS[] = {
    {"suite", COL_TEXT},   {"task", COL_TEXT},     {"method", COL_TEXT},     {"policy", COL_TEXT},
    {"case_index", COL_INT}, {"weights", COL_TEXT}, {"phase", COL_TEXT},     {"n_layer", COL_INT},
    {"n_head", COL_INT},   {"n_kv_head", COL_INT}, {"head_dim", COL_INT},    {"n_ctx", COL_INT},
    {"n_tokens", COL_INT}, {"repeats", COL_INT},   {"t_median", COL_REAL},   {"t_p10", COL_REAL},
    {"t_p90", COL_REAL},   {"t_min", COL_REAL},    {"t_max", COL_REAL},      {"throughput", COL_REAL},
    {"throughput_unit", COL_TEXT}, {"density", COL_REAL},
};
#define N_TP_COLS (int)(sizeof TP_COLS / sizeof TP_COLS[0])

static const col SUM_COLS[] = {
    {"task", COL_TEXT}, {"method", COL_TEXT}, {"n", COL_INT},         {"mean", COL_REAL},
    {"ci_low", COL_REAL}, {"ci_high", COL_REAL}, {"pass_fail", COL_INT}, {"density", COL_REAL},
};
#define N_SUM_COLS (int)(sizeof SUM_COLS / sizeof SUM_COLS[0])

static const col RUN_COLS[] = {
    {"run_id", COL_INT},   {"status", COL_TEXT},  {"started_at", COL_TEXT}, {"finished_at", COL_TEXT},
    {"git_sha", COL_TEXT}, {"git_dirty", COL_INT}, {"host", COL_TEXT},      {"device", COL_TEXT},
    {"model_path", COL_TEXT}, {"config_hash", COL_TEXT}, {"seed", COL_INT}, {"command", COL_TEXT},
};
#define N_RUN_COLS (int)(sizeof RUN_COLS / sizeof RUN_COLS[0])

/* Column i of st, as the record's value. */
static void put_json_col(FILE *f, sqlite3_stmt *st, int i, int kind)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) fputs("null", f);
    else if (kind == COL_INT) fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i));
    else if (kind == COL_REAL) json_put_num(f, sqlite3_column_double(st, i));
    else if (kind == COL_JSON) fputs((const char *)sqlite3_column_text(st, i), f);
    else json_put_str(f, (const char *)sqlite3_column_text(st, i));
}

static void put_csv_col(FILE *f, sqlite3_stmt *st, int i, int kind)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return;
    if (kind == COL_INT) fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i));
    else if (kind == COL_REAL) json_put_num(f, sqlite3_column_double(st, i));
    else csv_put_field(f, (const char *)sqlite3_column_text(st, i));
}

/* One row as a JSON object ({"record": rec, ...} when rec is not NULL). */
static void put_object(FILE *f, sqlite3_stmt *st, const col *c, int n, const char *rec)
{
    fputc('{', f);
    if (rec) fprintf(f, "\"record\":\"%s\",", rec);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\"%s\":", i ? "," : "", c[i].name);
        put_json_col(f, st, i, c[i].kind);
    }
    fputc('}', f);
}

static void csv_header(FILE *f, const col *c, int n)
{
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? "," : "", c[i].name);
    fputc('\n', f);
}

/* Writes every row of sql (run bound to ?1) in format fmt; JSON array
 * elements are separated by commas. */
static void put_rows(FILE *f, pb_db *db, int64_t run, const char *sql, const col *c, int n, int fmt, const char *rec)
{
    sqlite3_stmt *st = db_prepare_id(db, sql, run);
    if (fmt == FMT_CSV) csv_header(f, c, n);
    for (int k = 0; db_step(st) == SQLITE_ROW; k++) {
        if (fmt == FMT_CSV) {
            for (int i = 0; i < n; i++) {
                if (i) fputc(',', f);
                put_csv_col(f, st, i, c[i].kind);
            }
            fputc('\n', f);
            continue;
        }
        if (fmt == FMT_JSON && k) fputc(',', f);
        put_object(f, st, c, n, fmt == FMT_JSONL ? rec : NULL);
        if (fmt == FMT_JSONL) fputc('\n', f);
    }
    db_finalize(st);
}

static const char *SQL_RUN =
    "SELECT id, status, started_at, finished_at, git_sha, git_dirty, host, device, model_path, config_hash, seed,"
    " command FROM runs WHERE id = ?";
static const char *SQL_CASES =
    "SELECT suite, task, task_type, method, policy, case_index, context, depth, sample, seed, case_seed,"
    " prompt_hash, prompt_tokens, max_new, metric, answers, prediction, score, density, density_prefill,"
    " density_decode, t_prefill, t_decode, n_gen,"
    " n_decode, kv_bytes FROM suite_cases WHERE run_id = ? ORDER BY id";
static const char *SQL_TP =
    "SELECT s.suite, s.task, s.method, s.policy, s.case_index, s.weights, b.phase, b.n_layer, b.n_head, b.n_kv_head,"
    " b.head_dim, b.n_ctx, b.n_tokens, b.repeats, b.t_median, b.t_p10, b.t_p90, b.t_min, b.t_max, b.throughput,"
    " b.throughput_unit, s.density FROM suite_bench s JOIN bench b ON b.id = s.bench_id WHERE s.run_id = ?"
    " ORDER BY s.bench_id";

/* The summary rows: score_cells per (task, method). */
static void put_summary(FILE *f, pb_db *db, int64_t run, int fmt)
{
    score_cell *c;
    int n = score_cells(db, run, NULL, SCORE_BY_TASK, &c);
    if (fmt == FMT_CSV) csv_header(f, SUM_COLS, N_SUM_COLS);
    for (int i = 0; i < n; i++) {
        const score_cell *x = &c[i];
        if (fmt == FMT_CSV) {
            csv_put_field(f, x->task);
            fputc(',', f);
            csv_put_field(f, x->method);
            fprintf(f, ",%d,", x->score.n);
            json_put_num(f, x->score.mean);
            fputc(',', f);
            json_put_num(f, x->score.lo);
            fputc(',', f);
            json_put_num(f, x->score.hi);
            fprintf(f, ",%d,", x->score.binary);
            if (x->has_density) json_put_num(f, x->density);
            fputc('\n', f);
            continue;
        }
        if (fmt == FMT_JSON && i) fputc(',', f);
        fputc('{', f);
        if (fmt == FMT_JSONL) fputs("\"record\":\"summary\",", f);
        fputs("\"task\":", f);
        json_put_str(f, x->task);
        fputs(",\"method\":", f);
        json_put_str(f, x->method);
        fprintf(f, ",\"n\":%d,\"mean\":", x->score.n);
        json_put_num(f, x->score.mean);
        fputs(",\"ci_low\":", f);
        json_put_num(f, x->score.lo);
        fputs(",\"ci_high\":", f);
        json_put_num(f, x->score.hi);
        fprintf(f, ",\"pass_fail\":%d,\"density\":", x->score.binary);
        if (x->has_density) json_put_num(f, x->density);
        else fputs("null", f);
        fputc('}', f);
        if (fmt == FMT_JSONL) fputc('\n', f);
    }
    score_cells_free(c, n);
}

int cmd_export(int argc, char **argv)
{
    arg_results ro = {.db = ARG_DB_DEFAULT, .run = "last", .takes_run = 1};
    const char *out = NULL, *table = "cases";
    int fmt = FMT_JSONL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt("export", argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench export [--run R] [--db D] [--format jsonl|json|csv] [--table T] [--out F]\n"
                   "  Writes a suite run's results for other tools: every case (the prompt's\n"
                   "  regeneration key, expected answers, prediction, score, density, times), a\n"
                   "  summary per (task, method) (n, mean score, 95%% interval) and the throughput\n"
                   "  cases. suites/SCHEMA.md (\"Exported results\") lists every field.\n"
                   "  --format jsonl  one JSON record a line, field \"record\" = run|case|summary|throughput (default)\n"
                   "  --format json   one object {\"run\", \"cases\", \"summary\", \"throughput\"}\n"
                   "  --format csv    one table with a header line: --table cases (default) | summary | throughput\n"
                   "  --run R         run id, or 'last' (default): the newest run with suite results\n"
                   "  --db D          results database (default out/results.db)\n"
                   "  --out F         write to F (default standard output)\n");
            return 0;
        }
        if ((v = arg_val("export", argc, argv, &i, "--format"))) {
            if (!strcmp(v, "jsonl")) fmt = FMT_JSONL;
            else if (!strcmp(v, "json")) fmt = FMT_JSON;
            else if (!strcmp(v, "csv")) fmt = FMT_CSV;
            else arg_bad("export", "--format '%s': jsonl, json or csv", v);
        } else if ((v = arg_val("export", argc, argv, &i, "--table"))) {
            if (strcmp(v, "cases") && strcmp(v, "summary") && strcmp(v, "throughput"))
                arg_bad("export", "--table '%s': cases, summary or throughput", v);
            table = v;
        } else if ((v = arg_val("export", argc, argv, &i, "--out"))) out = v;
        else arg_bad("export", "unknown option %s", argv[i]);
    }
    pb_err err;
    pb_db *db = suite_db_open_existing(ro.db, &err);
    int64_t run = db ? suite_run_id(db, ro.run, &err) : 0;
    if (!run) pb_die_input(&err);
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) arg_bad("export", "%s: %s", out, strerror(errno));
    if (fmt == FMT_CSV) {
        if (!strcmp(table, "cases")) put_rows(f, db, run, SQL_CASES, CASE_COLS, N_CASE_COLS, fmt, NULL);
        else if (!strcmp(table, "summary")) put_summary(f, db, run, fmt);
        else put_rows(f, db, run, SQL_TP, TP_COLS, N_TP_COLS, fmt, NULL);
    } else {
        if (fmt == FMT_JSON) fputs("{\"run\":", f);
        put_rows(f, db, run, SQL_RUN, RUN_COLS, N_RUN_COLS, fmt, "run");
        if (fmt == FMT_JSON) fputs(",\n\"cases\":[", f);
        put_rows(f, db, run, SQL_CASES, CASE_COLS, N_CASE_COLS, fmt, "case");
        if (fmt == FMT_JSON) fputs("],\n\"summary\":[", f);
        put_summary(f, db, run, fmt);
        if (fmt == FMT_JSON) fputs("],\n\"throughput\":[", f);
        put_rows(f, db, run, SQL_TP, TP_COLS, N_TP_COLS, fmt, "throughput");
        if (fmt == FMT_JSON) fputs("]}\n", f);
    }
    int bad = ferror(f);
    if (out && fclose(f) != 0) bad = 1;
    if (bad) {
        fprintf(stderr, "purbo-bench export: writing %s failed\n", out ? out : "standard output");
        return 1;
    }
    db_close(db);
    return 0;
}
