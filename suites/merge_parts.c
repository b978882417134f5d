/* merge_parts.c — reads and checks the inputs of a merge (merge.h): each
 * file's newest shard run, that nothing of it lies where the merge cannot
 * place it, and that the shards are of one run and (unless partial) all
 * there and done. Read-only: nothing here writes.
 */
#include "suites/merge.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites/runner_db.h"

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    char *d = strdup(s ? s : "");
    PB_CHECK(d, "out of memory");
    return d;
}

static int64_t count_of(pb_db *db, const char *sql, int64_t run)
{
    sqlite3_stmt *st = db_prepare_id(db, sql, run);
    int64_t n = db_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_finalize(st);
    return n;
}

/* Tables the merge places rows of; any other with a run_id column must hold
 * none of the shard run's. */
static int placed(const char *table)
{
    static const char *const known[] = {"runs", "suite_cases", "suite_bench", "bench", "kernel_timings", "layer_bench",
                                        "run_parts"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(table, known[i])) return 1;
    return 0;
}

/* 0 + err when the run has rows the merge would leave behind. */
static int check_placeable(pb_db *db, const merge_part *p, pb_err *err)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c"
                                      " WHERE m.type = 'table' AND c.name = 'run_id' ORDER BY m.name");
    int ok = 1;
    while (ok && db_step(st) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(st, 0);
        if (placed(table)) continue;
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" WHERE run_id = ?", table);
        if (count_of(db, sql, p->run))
            ok = pb_errf(err, p->path, -1, "run %lld has rows in table %s, which a merge of suite runs cannot place",
                         (long long)p->run, table);
    }
    db_finalize(st);
    if (ok && count_of(db, "SELECT count(*) FROM bench b WHERE b.run_id = ?1 AND NOT EXISTS"
                           " (SELECT 1 FROM suite_bench s WHERE s.bench_id = b.id)", p->run))
        ok = pb_errf(err, p->path, -1, "run %lld has bench rows of no suite case, which a merge cannot place",
                     (long long)p->run);
    if (ok && count_of(db, "SELECT count(*) FROM kernel_timings k WHERE k.run_id = ?1 AND NOT EXISTS"
                           " (SELECT 1 FROM suite_bench s WHERE s.bench_id = k.bench_id AND s.run_id = ?1)", p->run))
        ok = pb_errf(err, p->path, -1, "run %lld has kernel timings of no suite case, which a merge cannot place",
                     (long long)p->run);
    return ok;
}

/* Reads file p->path's newest shard run into p. */
static int read_part(merge_part *p, pb_err *err)
{
    pb_db *db = suite_db_open_existing(p->path, err);
    if (!db) return 0;
    sqlite3_stmt *st = db_prepare(db,
        "SELECT id, shard_index, shard_count, coalesce(config_hash, ''), coalesce(model_fingerprint, ''),"
        " coalesce(shard_scope, ''), git_sha, status, coalesce(notes, '') FROM runs"
        " WHERE shard_index IS NOT NULL ORDER BY id DESC LIMIT 1");
    int ok = db_step(st) == SQLITE_ROW;
    if (ok) {
        p->run = sqlite3_column_int64(st, 0);
        p->shard_index = sqlite3_column_int(st, 1);
        p->shard_count = sqlite3_column_int(st, 2);
        p->config_hash = dup_col(st, 3);
        p->model_fp = dup_col(st, 4);
        p->scope = dup_col(st, 5);
        p->git_sha = dup_col(st, 6);
        p->status = dup_col(st, 7);
        p->notes = dup_col(st, 8);
    } else {
        pb_errf(err, p->path, -1, "no shard run in it (a run made with `run SUITE --shard I/N`)");
    }
    db_finalize(st);
    if (ok) {
        p->pairs = (int)(count_of(db, "SELECT count(*) FROM suite_cases WHERE run_id = ?", p->run) +
                         count_of(db, "SELECT count(*) FROM suite_bench WHERE run_id = ?", p->run));
        ok = check_placeable(db, p, err);
    }
    db_close(db);
    return ok;
}

/* 0 + err naming file b when it is not of the same run as file a. */
static int same_run(const merge_part *a, const merge_part *b, pb_err *err)
{
    const char *what = NULL, *va = NULL, *vb = NULL;
    if (strcmp(a->config_hash, b->config_hash)) what = "config (suite text, model, backend)", va = a->config_hash,
                                                vb = b->config_hash;
    else if (strcmp(a->model_fp, b->model_fp)) what = "model fingerprint", va = a->model_fp, vb = b->model_fp;
    else if (strcmp(a->scope, b->scope)) what = "selection (--only, --methods)", va = a->scope, vb = b->scope;
    else if (strcmp(a->git_sha, b->git_sha)) what = "commit", va = a->git_sha, vb = b->git_sha;
    if (what)
        return pb_errf(err, b->path, -1, "shard %d/%d (run %lld) is not of the same run as %s: %s %s, not %s",
                       b->shard_index, b->shard_count, (long long)b->run, a->path, what, vb, va);
    if (a->shard_count != b->shard_count)
        return pb_errf(err, b->path, -1, "shard %d/%d (run %lld) splits the run into %d shards, %s into %d",
                       b->shard_index, b->shard_count, (long long)b->run, b->shard_count, a->path, a->shard_count);
    return 1;
}

int merge_parts_read(const merge_opts *o, merge_part *parts, int *incomplete, pb_err *err)
{
    memset(parts, 0, (size_t)o->n_in * sizeof *parts);
    for (int k = 0; k < o->n_in; k++) {
        merge_part *p = &parts[k];
        p->path = o->in[k];
        if (!read_part(p, err)) return 0;
        if (!(p->real = realpath(p->path, NULL))) PB_CHECK(p->real = strdup(p->path), "out of memory");
        if (k && !same_run(&parts[0], p, err)) return 0;
    }
    *incomplete = 0;
    for (int k = 0; k < o->n_in; k++) {
        const merge_part *p = &parts[k];
        if (!strcmp(p->status, "done")) continue;
        if (!o->partial)
            return pb_errf(err, p->path, -1, "shard %d/%d (run %lld) is %s, not done: finish it with `run --resume`, "
                           "or merge with --partial", p->shard_index, p->shard_count, (long long)p->run, p->status);
        *incomplete = 1;
    }
    return 1;
}

int merge_missing(const merge_opts *o, int count, const unsigned char *done, pb_err *err)
{
    char missing[200] = "";
    int n_missing = 0;
    for (int i = 1; i <= count; i++)
        if (!done[i] && n_missing++ < 8)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%d", n_missing > 1 ? ", " : "", i);
    if (!n_missing || o->partial) return 1;
    return pb_errf(err, o->out, -1, "shard%s %s%s of %d missing (given %d file%s%s): merge with --partial to "
                   "record the run as incomplete", n_missing > 1 ? "s" : "", missing, n_missing > 8 ? ", ..." : "",
                   count, o->n_in, o->n_in == 1 ? "" : "s", access(o->out, F_OK) ? "" : ", and what the database holds");
}

void merge_parts_free(merge_part *parts, int n)
{
    for (int k = 0; parts && k < n; k++) {
        merge_part *p = &parts[k];
        free(p->real);
        free(p->config_hash);
        free(p->model_fp);
        free(p->scope);
        free(p->git_sha);
        free(p->status);
        free(p->notes);
    }
}
