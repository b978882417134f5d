/* runner_db.c — the runner's rows in the results database (runner_db.h):
 * writing a case and reading a run back for report and compare
 * (suite_aggs, suite_run_id, runner_report).
 *
 * Reads take everything from the database, nothing from suite files: a run
 * can be reported on a machine that never saw its YAML.
 */
#include "suites/runner_db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probes/hw_metrics.h"
#include "results/text_out.h"
#include "suites/report_stats.h"
#include "suites/score.h"
#include "suites/table.h"

void rdb_case_add(pb_db *db, const rdb_case *c)
{
    size_t len = 1, cap = 64;
    char *ans = pb_malloc(cap);
    strcpy(ans, "[");
    for (int i = 0; i < c->n_answers; i++) {
        if (i) ans[len++] = ','; /* over the NUL json_str wrote: inside the buffer */
        json_buf_str(&ans, &len, &cap, c->answers[i]);
    }
    if (len + 2 > cap) ans = pb_realloc(ans, cap = len + 2);
    strcpy(ans + len, "]");
    char seed_hex[17];
    snprintf(seed_hex, sizeof seed_hex, "%016llx", (unsigned long long)c->case_seed);
    sqlite3_stmt *st = db_prepare(db,
        "INSERT INTO suite_cases(run_id, suite, task, task_type, method, policy, case_index, context, depth,"
        " sample, seed, case_seed, prompt_hash, prompt_tokens, max_new, metric, answers, prediction, score,"
        " density, t_prefill, t_decode, n_gen, n_decode, kv_bytes, density_prefill, density_decode,"
        " pair) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    int i = 1;
    db_bind_int(st, i++, c->run_id);
    const char *texts[] = {c->suite, c->task, c->task_type, c->method, c->policy};
    for (int k = 0; k < 5; k++) db_bind_text(st, i++, texts[k]);
    db_bind_int(st, i++, c->case_index);
    db_bind_int(st, i++, c->context);
    db_bind_real_if(st, i++, c->depth >= 0, c->depth);
    db_bind_int(st, i++, c->sample);
    db_bind_int(st, i++, (int64_t)c->seed);
    db_bind_text(st, i++, seed_hex);
    db_bind_text(st, i++, c->prompt_hash);
    db_bind_int_if(st, i++, c->has_tokens, c->prompt_tokens);
    db_bind_int(st, i++, c->max_new);
    db_bind_text(st, i++, c->metric);
    db_bind_text(st, i++, ans);
    db_bind_text(st, i++, c->prediction);
    db_bind_real(st, i++, c->score);
    db_bind_real_if(st, i++, c->has_density, c->density);
    db_bind_real_if(st, i++, c->has_time, c->t_prefill);
    db_bind_real_if(st, i++, c->has_time, c->t_decode);
    db_bind_int_if(st, i++, c->has_tokens, c->n_gen);
    db_bind_int_if(st, i++, c->has_tokens, c->n_decode);
    db_bind_int_if(st, i++, c->kv_bytes >= 0, c->kv_bytes);
    db_bind_real_if(st, i++, c->has_density && c->density_prefill >= 0, c->density_prefill);
    db_bind_real_if(st, i++, c->has_density && c->density_decode >= 0, c->density_decode);
    db_bind_int_if(st, i++, c->pair >= 0, c->pair);
    db_step_done(st);
    free(ans);
}

void rdb_bench_link(pb_db *db, int64_t bench_id, int64_t run, const char *suite, const char *task, const char *method,
                    const char *policy, int case_index, const char *weights, int has_density, double density,
                    int64_t kv_bytes, int pair)
{
    sqlite3_stmt *st = db_prepare(db,
        "INSERT INTO suite_bench(bench_id, run_id, suite, task, method, policy, case_index, weights, density,"
        " kv_bytes, pair) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    db_bind_int(st, 1, bench_id);
    db_bind_int(st, 2, run);
    db_bind_text(st, 3, suite);
    db_bind_text(st, 4, task);
    db_bind_text(st, 5, method);
    db_bind_text(st, 6, policy);
    db_bind_int(st, 7, case_index);
    db_bind_text(st, 8, weights);
    db_bind_real_if(st, 9, has_density, density);
    db_bind_int_if(st, 10, kv_bytes >= 0, kv_bytes);
    db_bind_int_if(st, 11, pair >= 0, pair);
    db_step_done(st);
}

void rdb_layer_add(pb_db *db, const rdb_layer *l)
{
    sqlite3_stmt *st = db_prepare(db,
        "INSERT INTO layer_bench(bench_id, run_id, density_target, density_source, density, rho, retrieval_heads,"
        " local_heads, sink, window, p, index_kind, local_kind, t_index, t_select, t_attend, t_local, needles,"
        " needles_found, kv_bytes, kv_bytes_dense) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    db_bind_int(st, 1, l->bench_id);
    db_bind_int(st, 2, l->run);
    db_bind_real(st, 3, l->density_target);
    db_bind_text(st, 4, l->density_source);
    db_bind_real_if(st, 5, l->density >= 0, l->density);
    db_bind_real(st, 6, l->rho);
    db_bind_int(st, 7, l->ret_heads);
    db_bind_int(st, 8, l->loc_heads);
    db_bind_int(st, 9, l->sink);
    db_bind_int(st, 10, l->window);
    db_bind_real(st, 11, l->p);
    db_bind_text(st, 12, l->index_kind);
    db_bind_text(st, 13, l->local_kind);
    for (int i = 0; i < 4; i++) db_bind_real_if(st, 14 + i, l->has_stages, l->t_stage[i]);
    db_bind_int_if(st, 18, l->needles >= 0, l->needles);
    db_bind_int_if(st, 19, l->needles >= 0, l->needles_found);
    db_bind_int(st, 20, l->kv_bytes);
    db_bind_int(st, 21, l->kv_bytes_dense);
    db_step_done(st);
}

int rdb_committed(pb_db *db, int64_t run, const char *task, const char *method, int case_index, int bench)
{
    sqlite3_stmt *st = db_prepare(db, bench ? "SELECT 1 FROM suite_bench WHERE run_id = ? AND task = ? AND method = ?"
                                              " AND case_index = ?"
                                            : "SELECT 1 FROM suite_cases WHERE run_id = ? AND task = ? AND method = ?"
                                              " AND case_index = ?");
    db_bind_int(st, 1, run);
    db_bind_text(st, 2, task);
    db_bind_text(st, 3, method);
    db_bind_int(st, 4, case_index);
    int found = db_step(st) == SQLITE_ROW;
    db_finalize(st);
    return found;
}

/* The first column of the first row of sql (one optional int64 / text
 * parameter) as an integer, or dflt when there is no row or it is NULL. */
static int64_t query_i64(pb_db *db, const char *sql, int64_t p1, const char *ptext, int64_t dflt)
{
    sqlite3_stmt *st = db_prepare(db, sql);
    if (ptext) db_bind_text(st, 1, ptext);
    else if (sqlite3_bind_parameter_count(st)) db_bind_int(st, 1, p1);
    int64_t v = dflt;
    if (db_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    db_finalize(st);
    return v;
}

int64_t rdb_run_by_hash(pb_db *db, const char *hash, int shard_index, int shard_count)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT max(id) FROM runs WHERE config_hash = ?1"
                                      " AND coalesce(shard_index, 0) = ?2 AND coalesce(shard_count, 0) = ?3");
    db_bind_text(st, 1, hash);
    db_bind_int(st, 2, shard_index);
    db_bind_int(st, 3, shard_count);
    int64_t id = db_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_finalize(st);
    return id;
}

void rdb_run_tag(pb_db *db, int64_t run, int shard_index, int shard_count, const char *scope)
{
    sqlite3_stmt *st = db_prepare_id(db,
        "UPDATE runs SET shard_index = coalesce(?2, shard_index), shard_count = coalesce(?3, shard_count),"
        " shard_scope = coalesce(?4, shard_scope), slurm_job_id = coalesce(?5, slurm_job_id),"
        " slurm_array_job_id = coalesce(?6, slurm_array_job_id),"
        " slurm_array_task_id = coalesce(?7, slurm_array_task_id) WHERE id = ?1", run);
    db_bind_int_if(st, 2, shard_count > 0, shard_index);
    db_bind_int_if(st, 3, shard_count > 0, shard_count);
    db_bind_text(st, 4, shard_count > 0 ? scope : NULL);
    const char *env[] = {"SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(env[i]);
        db_bind_text(st, 5 + i, v && *v ? v : NULL);
    }
    db_step_done(st);
}

/* The first column of sql's first row (one id parameter) as malloc'd text, or NULL. */
static char *query_text(pb_db *db, const char *sql, int64_t id)
{
    char *text = NULL;
    sqlite3_stmt *st = db_prepare_id(db, sql, id);
    if (db_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        text = strdup((const char *)sqlite3_column_text(st, 0));
        PB_CHECK(text, "out of memory");
    }
    db_finalize(st);
    return text;
}

char *rdb_run_scope(pb_db *db, int64_t run)
{
    return query_text(db, "SELECT shard_scope FROM runs WHERE id = ?", run);
}

char *rdb_run_reopen(pb_db *db, int64_t run)
{
    char *was = query_text(db, "SELECT finished_at FROM runs WHERE id = ? AND status = 'done'", run);
    sqlite3_stmt *st = db_prepare_id(db, "UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", run);
    db_step_done(st);
    return was;
}

void rdb_run_done_at(pb_db *db, int64_t run, const char *finished_at)
{
    sqlite3_stmt *st = db_prepare_id(db, "UPDATE runs SET status = 'done', finished_at = ?2 WHERE id = ?1", run);
    db_bind_text(st, 2, finished_at);
    db_step_done(st);
}

int rdb_run_claim(const char *path, int64_t run)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    PB_CHECK(fd >= 0, "%s: cannot open to claim run %lld: %s", path, (long long)run, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = ((off_t)1 << 62) + (off_t)run, .l_len = 1};
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return fd;
    int e = errno;
    PB_CHECK(e == EAGAIN || e == EACCES, "%s: cannot claim run %lld: %s", path, (long long)run, strerror(e));
    /* not closed: the database is open in this process (see the header) */
    return -1;
}

/* ---- reading -------------------------------------------------------------- */

pb_db *suite_db_open_existing(const char *path, pb_err *err)
{
    if (access(path, F_OK) != 0) {
        pb_errf(err, path, -1, "no such results database");
        return NULL;
    }
    return db_open_ro(path, err);
}

int64_t suite_run_id(pb_db *db, const char *text, pb_err *err)
{
    if (!strcmp(text, "last")) {
        int64_t id = query_i64(db, "SELECT max(run_id) FROM (SELECT run_id FROM suite_cases"
                                  " UNION SELECT run_id FROM suite_bench)", 0, NULL, 0);
        if (!id) pb_errf(err, "--run last", -1, "the database holds no suite results");
        return id;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || v <= 0 || errno == ERANGE) {
        pb_errf(err, "--run", -1, "'%s' is not a run id (a positive integer or 'last')", text);
        return 0;
    }
    if (!query_i64(db, "SELECT count(*) FROM runs WHERE id = ?", v, NULL, 0)) {
        pb_errf(err, "--run", -1, "no run %lld in the database", v);
        return 0;
    }
    return v;
}

int suite_aggs(pb_db *db, int64_t run, suite_agg **out)
{
    /* tasks and methods in the order the run first stored them */
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT method, task, task_type, count(*), avg(score), avg(density), count(density),"
        " (SELECT min(id) FROM suite_cases t WHERE t.run_id = c.run_id AND t.task = c.task) AS tord,"
        " (SELECT min(id) FROM suite_cases m WHERE m.run_id = c.run_id AND m.method = c.method) AS mord"
        " FROM suite_cases c WHERE run_id = ? GROUP BY method, task ORDER BY tord, mord", run);
    int n = 0, cap = 16;
    suite_agg *a = pb_malloc((size_t)cap * sizeof *a);
    while (db_step(st) == SQLITE_ROW) {
        if (n == cap) a = pb_realloc(a, (size_t)(cap *= 2) * sizeof *a);
        suite_agg *g = &a[n++];
        g->method = strdup((const char *)sqlite3_column_text(st, 0));
        g->task = strdup((const char *)sqlite3_column_text(st, 1));
        g->task_type = strdup((const char *)sqlite3_column_text(st, 2));
        PB_CHECK(g->method && g->task && g->task_type, "out of memory");
        g->n = sqlite3_column_int(st, 3);
        double mean = sqlite3_column_double(st, 4);
        g->score = score_aggregate(&mean, 1); /* the mean x 100, rounded as a task score */
        g->density = sqlite3_column_double(st, 5);
        g->has_density = sqlite3_column_int(st, 6) > 0;
    }
    db_finalize(st);
    *out = a;
    return n;
}

void suite_aggs_free(suite_agg *a, int n)
{
    for (int i = 0; i < n; i++) {
        free(a[i].method);
        free(a[i].task);
        free(a[i].task_type);
    }
    free(a);
}

/* ---- the report ----------------------------------------------------------- */

/* index of s in names[0..n), appending it when absent */
static int intern(const char **names, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], s)) return i;
    names[*n] = s;
    return (*n)++;
}

static void report_header(pb_db *db, int64_t run, FILE *f)
{
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT r.status, r.started_at, coalesce(r.finished_at, '-'), r.git_sha, r.git_dirty, r.device,"
        " coalesce(r.model_path, '-'), coalesce((SELECT suite FROM suite_cases WHERE run_id = r.id LIMIT 1),"
        " (SELECT suite FROM suite_bench WHERE run_id = r.id LIMIT 1)), r.shard_index, r.shard_count, r.incomplete,"
        " (SELECT count(DISTINCT shard_index) FROM run_parts WHERE run_id = r.id AND status = 'done')"
        " FROM runs r WHERE r.id = ?", run);
    if (db_step(st) == SQLITE_ROW) {
        const char *suite = (const char *)sqlite3_column_text(st, 7);
        fprintf(f, "run %lld  suite %s  %s  started %s  finished %s\n", (long long)run, suite ? suite : "-",
                sqlite3_column_text(st, 0), sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
        fprintf(f, "model %s  device %s  git %.12s%s\n", sqlite3_column_text(st, 6), sqlite3_column_text(st, 5),
                sqlite3_column_text(st, 3), sqlite3_column_int(st, 4) == 1 ? " (dirty)" : "");
        /* a shard, or a merge lacking shards, says so; a complete merge reads as the unsharded run */
        if (sqlite3_column_type(st, 8) != SQLITE_NULL)
            fprintf(f, "shard %d/%d of a run: `purbo-bench merge` joins the shards\n", sqlite3_column_int(st, 8),
                    sqlite3_column_int(st, 9));
        else if (sqlite3_column_int(st, 10) == 1)
            fprintf(f, "incomplete: merged from %d of %d shards (merge --partial)\n", sqlite3_column_int(st, 11),
                    sqlite3_column_int(st, 9));
    }
    db_finalize(st);
}

static void report_throughput(pb_db *db, int64_t run, FILE *f)
{
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT s.task, s.method, b.n_layer, b.n_head, b.n_kv_head, b.head_dim, b.n_ctx, b.phase,"
        " b.throughput, b.t_median, b.t_p10, b.t_p90, b.repeats, s.weights, coalesce(b.throughput_unit, '')"
        " FROM suite_bench s JOIN bench b ON b.id = s.bench_id WHERE s.run_id = ?"
        " ORDER BY s.task, b.n_layer, b.n_head, b.n_kv_head, b.head_dim, b.phase DESC, b.n_ctx, s.bench_id", run);
    const char *cols[] = {"task", "method", "shape L/H/KV/d", "context", "phase", "throughput", "median ms",
                          "p10..p90 ms", "reps", "weights"};
    tbl *t = tbl_new("\nthroughput (median of repeats)", 10, cols);
    while (db_step(st) == SQLITE_ROW) {
        char shape[48], spread[48], rate[48];
        snprintf(shape, sizeof shape, "%d/%d/%d/%d", sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
                 sqlite3_column_int(st, 4), sqlite3_column_int(st, 5));
        snprintf(spread, sizeof spread, "%.2f..%.2f", 1e3 * sqlite3_column_double(st, 10),
                 1e3 * sqlite3_column_double(st, 11));
        fmt_rate(sqlite3_column_double(st, 8), (const char *)sqlite3_column_text(st, 14), rate, sizeof rate);
        tbl_str(t, (const char *)sqlite3_column_text(st, 0));
        tbl_str(t, (const char *)sqlite3_column_text(st, 1));
        tbl_str(t, shape);
        tbl_int(t, sqlite3_column_int(st, 6));
        tbl_str(t, (const char *)sqlite3_column_text(st, 7));
        tbl_str(t, rate);
        tbl_real(t, 1e3 * sqlite3_column_double(st, 9), 2);
        tbl_str(t, spread);
        tbl_int(t, sqlite3_column_int(st, 12));
        tbl_str(t, (const char *)sqlite3_column_text(st, 13));
    }
    db_finalize(st);
    if (tbl_rows(t)) tbl_print(t, TBL_TEXT, f);
    tbl_free(t);
}

/* The density of each phase per (task, method), where recorded: a policy
 * may sparsify one phase only. */
static void report_phase_density(pb_db *db, int64_t run, FILE *f)
{
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT task, method, avg(density_prefill), avg(density_decode), count(density_decode),"
        " (SELECT min(id) FROM suite_cases t WHERE t.run_id = c.run_id AND t.task = c.task) AS tord,"
        " (SELECT min(id) FROM suite_cases m WHERE m.run_id = c.run_id AND m.method = c.method) AS mord"
        " FROM suite_cases c WHERE run_id = ? AND density_prefill IS NOT NULL GROUP BY task, method"
        " ORDER BY tord, mord", run);
    const char *cols[] = {"task", "method", "prefill", "decode"};
    tbl *t = tbl_new("\ndensity by phase (mean over the cases)", 4, cols);
    while (db_step(st) == SQLITE_ROW) {
        tbl_str(t, (const char *)sqlite3_column_text(st, 0));
        tbl_str(t, (const char *)sqlite3_column_text(st, 1));
        tbl_real(t, sqlite3_column_double(st, 2), 4);
        if (sqlite3_column_int(st, 4)) tbl_real(t, sqlite3_column_double(st, 3), 4);
        else tbl_null(t);
    }
    db_finalize(st);
    if (tbl_rows(t)) tbl_print(t, TBL_TEXT, f);
    tbl_free(t);
}

void runner_report(pb_db *db, int64_t run, const char *ref, FILE *f)
{
    report_header(db, run, f);
    suite_agg *a;
    int n = suite_aggs(db, run, &a);
    const char **tasks = pb_malloc((size_t)(n + 1) * sizeof *tasks);
    const char **methods = pb_malloc((size_t)(n + 1) * sizeof *methods);
    int nt = 0, nm = 0;
    for (int i = 0; i < n; i++) {
        intern(tasks, &nt, a[i].task);
        intern(methods, &nm, a[i].method);
    }
    /* cell[t * nm + m] = index into a, or -1 */
    int *cell = pb_malloc((size_t)(nt * nm + 1) * sizeof *cell), *most = pb_calloc((size_t)nt + 1, sizeof *most);
    for (int i = 0; i < nt * nm; i++) cell[i] = -1;
    for (int i = 0; i < n; i++) {
        int t = intern(tasks, &nt, a[i].task), m = intern(methods, &nm, a[i].method);
        cell[t * nm + m] = i;
        if (a[i].n > most[t]) most[t] = a[i].n;
    }
    int partial = 0, w = 12; /* a column as wide as the longest method name: none truncated */
    for (int m = 0; m < nm; m++)
        if ((int)strlen(methods[m]) > w) w = (int)strlen(methods[m]);
    for (int blk = 0; blk < 2 && n > 0; blk++) {
        fprintf(f, "\n%-18s %5s", blk ? "density" : "score (x100)", blk ? "" : "cases");
        for (int m = 0; m < nm; m++) fprintf(f, " %*s", w, methods[m]);
        fputc('\n', f);
        for (int t = 0; t < nt; t++) {
            if (blk) fprintf(f, "%-18.18s %5s", tasks[t], "");
            else fprintf(f, "%-18.18s %5d", tasks[t], most[t]);
            for (int m = 0; m < nm; m++) {
                int i = cell[t * nm + m];
                if (i < 0) fprintf(f, " %*s", w, "-");
                else if (blk == 0) {
                    partial |= a[i].n < most[t];
                    fprintf(f, " %*.2f%c", w - 1, a[i].score, a[i].n < most[t] ? '*' : ' ');
                } else if (a[i].has_density) fprintf(f, " %*.4f ", w - 1, a[i].density);
                else fprintf(f, " %*s", w, "n/a");
            }
            fputc('\n', f);
        }
        if (blk == 0) { /* the unweighted mean over tasks, as RULER averages */
            fprintf(f, "%-18s %5s", "mean", "");
            for (int m = 0; m < nm; m++) {
                double s = 0;
                int k = 0;
                for (int t = 0; t < nt; t++)
                    if (cell[t * nm + m] >= 0) s += a[cell[t * nm + m]].score, k++;
                if (k) fprintf(f, " %*.2f ", w - 1, s / k);
                else fprintf(f, " %*s", w, "-");
            }
            fputc('\n', f);
        }
    }
    if (partial) fprintf(f, "* fewer cases than the task's other methods (an incomplete run)\n");
    report_phase_density(db, run, f);
    report_stats(db, run, ref ? ref : REPORT_REF_DEFAULT, f);
    report_eff_length(db, run, ref ? ref : REPORT_REF_DEFAULT, f);
    report_throughput(db, run, f);
    int n_roof;
    hwm_point *roof = hwm_roofline(db, run, &n_roof);
    if (n_roof > 0) {
        hwm_ceilings c;
        hwm_load_ceilings(db, run, &c);
        fputc('\n', f);
        hwm_print(f, roof, n_roof, &c);
    }
    free(roof);
    free(cell);
    free(most);
    free(tasks);
    free(methods);
    suite_aggs_free(a, n);
}
