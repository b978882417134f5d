/* merge.c — `purbo-bench merge` (merge.h): the shards' rows staged in
 * temporary tables, checked against each other and against OUT's merged
 * run, then written in pair order into a copy of OUT in one transaction,
 * and the copy renamed over OUT.
 *
 * Column lists come from the tables themselves (pragma_table_info), so a
 * column a later migration adds is carried and compared without a change
 * here. Staging needs ATTACH, which SQLite allows only outside a
 * transaction: the temporary tables are filled first (they belong to this
 * connection alone), then the writes run in one BEGIN IMMEDIATE.
 */
#include "suites/merge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites/runner_db.h"

/* The copy being written, removed at exit unless renamed. */
static char *g_tmp;

static void unlink_tmp(void)
{
    if (!g_tmp) return;
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", g_tmp, sfx[i]);
        unlink(p);
    }
    free(g_tmp);
    g_tmp = NULL;
}

static void exec_sql(pb_db *db, const char *sql)
{
    sqlite3 *h = db_sqlite(db);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) pb_die_runtime(__FILE__, __LINE__, "merge: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
}

/* The columns of main.table but those in skip (NULL-ended), each written
 * as pattern with every '$' replaced by the column's name, joined by sep.
 * malloc'd. */
static char *cols(pb_db *db, const char *table, const char *const *skip, const char *pattern, const char *sep)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT name FROM pragma_table_info(?1, 'main') ORDER BY cid");
    db_bind_text(st, 1, table);
    size_t len = 0, cap = 256;
    char *out = pb_malloc(cap);
    out[0] = 0;
    while (db_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        int skipped = 0;
        for (int i = 0; skip[i]; i++) skipped |= !strcmp(skip[i], c);
        if (skipped) continue;
        size_t need = len + strlen(sep) + strlen(pattern) * (strlen(c) + 2) + 1;
        if (need > cap) out = pb_realloc(out, cap = 2 * need);
        if (len) len += (size_t)sprintf(out + len, "%s", sep);
        for (const char *p = pattern; *p; p++) {
            if (*p == '$') len += (size_t)sprintf(out + len, "\"%s\"", c);
            else out[len++] = *p, out[len] = 0;
        }
    }
    db_finalize(st);
    return out;
}

/* sprintf into a malloc'd string */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    PB_CHECK(vasprintf(&s, f, ap) >= 0, "out of memory");
    va_end(ap);
    return s;
}

static const char *const NO_IDS[] = {"id", "run_id", NULL};
static const char *const SB_IDS[] = {"bench_id", "run_id", NULL};
static const char *const KT_IDS[] = {"id", "run_id", "bench_id", NULL};
static const char *const RUN_IDS[] = {"id", NULL};
/* what two copies of a pair may differ in */
static const char *const CASE_FREE[] = {"id", "run_id", "created_at", "t_prefill", "t_decode", NULL};
static const char *const BENCH_FREE[] = {"id", "run_id", "created_at", NULL};

/* Stages table `table` (rows of run `run` by column `key`) of the attached
 * src as temp.`stage`, tagged with part k. */
static void stage(pb_db *db, const char *table, const char *stage_name, const char *key, int64_t run, int k)
{
    char *c = cols(db, table, (const char *const[]){NULL}, "$", ", ");
    char *sql = fmt("CREATE TEMP TABLE IF NOT EXISTS %s AS SELECT %s, 0 AS part FROM main.%s WHERE 0;"
                    "INSERT INTO temp.%s(%s, part) SELECT %s, %d FROM src.%s WHERE %s = %lld",
                    stage_name, c, table, stage_name, c, c, k, table, key, (long long)run);
    exec_sql(db, sql);
    free(sql);
    free(c);
}

/* Attaches every part in turn and stages its rows. */
static void stage_parts(pb_db *db, const merge_part *parts, int n)
{
    for (int k = 0; k < n; k++) {
        sqlite3_stmt *st = db_prepare(db, "ATTACH DATABASE ?1 AS src");
        db_bind_text(st, 1, parts[k].real);
        db_step_done(st);
        stage(db, "runs", "s_runs", "id", parts[k].run, k);
        stage(db, "suite_cases", "s_cases", "run_id", parts[k].run, k);
        stage(db, "suite_bench", "s_sbench", "run_id", parts[k].run, k);
        stage(db, "bench", "s_bench", "run_id", parts[k].run, k);
        stage(db, "kernel_timings", "s_kt", "run_id", parts[k].run, k);
        stage(db, "layer_bench", "s_lbench", "run_id", parts[k].run, k);
        exec_sql(db, "DETACH DATABASE src");
    }
}

#define SAME_PAIR(a, b) a ".task = " b ".task AND " a ".method = " b ".method AND " a ".case_index = " b ".case_index"

/* The first pair two copies of which differ: staged against staged, then
 * staged against the merged run's rows (run > 0). 0 + err naming the file. */
static int check_overlaps(pb_db *db, const merge_part *parts, const char *out, int64_t run, pb_err *err)
{
    char *ce = cols(db, "suite_cases", CASE_FREE, "a.$ IS b.$", " AND ");
    char *be = cols(db, "bench", BENCH_FREE, "ba.$ IS bb.$", " AND ");
    char *se = cols(db, "suite_bench", SB_IDS, "a.$ IS b.$", " AND ");
    char *q[4] = {
        fmt("SELECT a.part, b.part, a.task, a.method, a.case_index FROM temp.s_cases a JOIN temp.s_cases b"
            " ON " SAME_PAIR("a", "b") " AND a.part < b.part WHERE NOT (%s) LIMIT 1", ce),
        fmt("SELECT a.part, -1, a.task, a.method, a.case_index FROM temp.s_cases a JOIN main.suite_cases b"
            " ON " SAME_PAIR("a", "b") " AND b.run_id = ?1 WHERE NOT (%s) LIMIT 1", ce),
        fmt("SELECT a.part, b.part, a.task, a.method, a.case_index FROM temp.s_sbench a JOIN temp.s_sbench b"
            " ON " SAME_PAIR("a", "b") " AND a.part < b.part JOIN temp.s_bench ba ON ba.id = a.bench_id"
            " AND ba.part = a.part JOIN temp.s_bench bb ON bb.id = b.bench_id AND bb.part = b.part"
            " WHERE NOT (%s AND %s) LIMIT 1", se, be),
        fmt("SELECT a.part, -1, a.task, a.method, a.case_index FROM temp.s_sbench a JOIN main.suite_bench b"
            " ON " SAME_PAIR("a", "b") " AND b.run_id = ?1 JOIN temp.s_bench ba ON ba.id = a.bench_id"
            " AND ba.part = a.part JOIN main.bench bb ON bb.id = b.bench_id WHERE NOT (%s AND %s) LIMIT 1", se, be),
    };
    int ok = 1;
    for (int i = 0; i < 4 && ok; i++) {
        if ((i & 1) && !run) continue;
        sqlite3_stmt *st = db_prepare(db, q[i]);
        if (i & 1) db_bind_int(st, 1, run);
        if (db_step(st) == SQLITE_ROW) {
            int a = sqlite3_column_int(st, 0), b = sqlite3_column_int(st, 1);
            char other[4200];
            if (b >= 0) snprintf(other, sizeof other, "in %s", parts[a].path);
            else snprintf(other, sizeof other, "in run %lld of %s", (long long)run, out);
            ok = pb_errf(err, b >= 0 ? parts[b].path : parts[a].path, -1,
                         "pair (task %s, method %s, case %d) has other results than the same pair %s",
                         sqlite3_column_text(st, 2), sqlite3_column_text(st, 3), sqlite3_column_int(st, 4), other);
        }
        db_finalize(st);
    }
    for (int i = 0; i < 4; i++) free(q[i]);
    free(ce);
    free(be);
    free(se);
    return ok;
}

static int64_t scalar(pb_db *db, const char *sql, int64_t p1)
{
    sqlite3_stmt *st = db_prepare_id(db, sql, p1);
    int64_t v = db_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_finalize(st);
    return v;
}

/* The merged run of OUT for these parts, or a new one made from part 0's
 * runs row. */
static int64_t merged_run(pb_db *db, const merge_opts *o, const merge_part *p0, int *is_new)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT max(id) FROM runs WHERE config_hash = ?1 AND shard_index IS NULL"
                                      " AND shard_count = ?2 AND coalesce(shard_scope, '') = ?3 AND incomplete IS NOT NULL");
    db_bind_text(st, 1, p0->config_hash);
    db_bind_int(st, 2, p0->shard_count);
    db_bind_text(st, 3, p0->scope);
    int64_t run = db_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_finalize(st);
    *is_new = !run;
    if (run) return run;
    char *c = cols(db, "runs", RUN_IDS, "$", ", ");
    char *sql = fmt("INSERT INTO main.runs(%s) SELECT %s FROM temp.s_runs WHERE part = 0", c, c);
    exec_sql(db, sql);
    free(sql);
    free(c);
    run = sqlite3_last_insert_rowid(db_sqlite(db));
    char *notes = fmt("%s; merged from %d shards", p0->notes, p0->shard_count);
    st = db_prepare_id(db, "UPDATE runs SET command = ?2, notes = ?3, shard_index = NULL, slurm_job_id = ?4,"
                           " slurm_array_task_id = NULL, slurm_array_job_id = (SELECT CASE WHEN"
                           " count(DISTINCT coalesce(slurm_array_job_id, '')) = 1 THEN max(slurm_array_job_id) END"
                           " FROM temp.s_runs) WHERE id = ?1", run);
    db_bind_text(st, 2, o->command ? o->command : "purbo-bench merge");
    db_bind_text(st, 3, notes);
    const char *job = getenv("SLURM_JOB_ID");
    db_bind_text(st, 4, job && *job ? job : NULL);
    db_step_done(st);
    free(notes);
    return run;
}

/* Writes the staged pairs OUT's run lacks, in pair order; returns how many. */
static int write_pairs(pb_db *db, int64_t run)
{
    int added = 0;
    sqlite3 *h = db_sqlite(db);
    /* one copy per pair: the first part's, and none OUT's run holds */
    char *c = cols(db, "suite_cases", NO_IDS, "$", ", ");
    char *sql = fmt("INSERT INTO main.suite_cases(run_id, %s) SELECT ?1, %s FROM temp.s_cases a"
                    " WHERE a.part = (SELECT min(b.part) FROM temp.s_cases b WHERE " SAME_PAIR("a", "b") ")"
                    " AND NOT EXISTS (SELECT 1 FROM main.suite_cases m WHERE m.run_id = ?1 AND " SAME_PAIR("a", "m") ")"
                    " ORDER BY a.pair, a.task, a.method, a.case_index", c, c);
    sqlite3_stmt *st = db_prepare_id(db, sql, run);
    db_step_done(st);
    added += sqlite3_changes(h);
    free(sql);
    free(c);

    char *bc = cols(db, "bench", NO_IDS, "$", ", "), *sc = cols(db, "suite_bench", SB_IDS, "$", ", "),
         *kc = cols(db, "kernel_timings", KT_IDS, "$", ", "), *lc = cols(db, "layer_bench", SB_IDS, "$", ", ");
    char *ins_b = fmt("INSERT INTO main.bench(run_id, %s) SELECT ?1, %s FROM temp.s_bench WHERE part = ?2 AND id = ?3",
                      bc, bc);
    char *ins_s = fmt("INSERT INTO main.suite_bench(bench_id, run_id, %s) SELECT ?4, ?1, %s FROM temp.s_sbench"
                      " WHERE part = ?2 AND bench_id = ?3", sc, sc);
    char *ins_k = fmt("INSERT INTO main.kernel_timings(run_id, bench_id, %s) SELECT ?1, ?4, %s FROM temp.s_kt"
                      " WHERE part = ?2 AND bench_id = ?3 ORDER BY id", kc, kc);
    char *ins_l = fmt("INSERT INTO main.layer_bench(bench_id, run_id, %s) SELECT ?4, ?1, %s FROM temp.s_lbench"
                      " WHERE part = ?2 AND bench_id = ?3", lc, lc);
    sqlite3_stmt *sel = db_prepare_id(db,
        "SELECT a.part, a.bench_id FROM temp.s_sbench a"
        " WHERE a.part = (SELECT min(b.part) FROM temp.s_sbench b WHERE " SAME_PAIR("a", "b") ")"
        " AND NOT EXISTS (SELECT 1 FROM main.suite_bench m WHERE m.run_id = ?1 AND " SAME_PAIR("a", "m") ")"
        " ORDER BY a.pair, a.task, a.method, a.case_index", run);
    sqlite3_stmt *sb = db_prepare(db, ins_b), *ss = db_prepare(db, ins_s), *sk = db_prepare(db, ins_k),
                 *sl = db_prepare(db, ins_l);
    while (db_step(sel) == SQLITE_ROW) {
        int part = sqlite3_column_int(sel, 0);
        int64_t old = sqlite3_column_int64(sel, 1);
        db_bind_int(sb, 1, run);
        db_bind_int(sb, 2, part);
        db_bind_int(sb, 3, old);
        db_step_reset(sb);
        int64_t id = sqlite3_last_insert_rowid(h);
        sqlite3_stmt *linked[] = {ss, sk, sl}; /* the case link, its kernel timings, its layer row */
        for (int i = 0; i < 3; i++) {
            db_bind_int(linked[i], 1, run);
            db_bind_int(linked[i], 2, part);
            db_bind_int(linked[i], 3, old);
            db_bind_int(linked[i], 4, id);
            db_step_reset(linked[i]);
        }
        added++;
    }
    db_finalize(sel);
    db_finalize(sb);
    db_finalize(ss);
    db_finalize(sk);
    db_finalize(sl);
    free(ins_b);
    free(ins_s);
    free(ins_k);
    free(ins_l);
    free(bc);
    free(sc);
    free(kc);
    free(lc);
    return added;
}

/* Records the parts in run_parts; returns how many rows are new or changed. */
static int write_parts(pb_db *db, int64_t run, const merge_part *parts, int n)
{
    int changed = 0;
    sqlite3_stmt *st = db_prepare(db,
        "INSERT INTO run_parts(run_id, source, part_run_id, shard_index, shard_count, status, started_at, finished_at,"
        " host, device, git_sha, command, slurm_job_id, slurm_array_job_id, slurm_array_task_id, pairs)"
        " SELECT ?1, ?2, ?3, shard_index, shard_count, status, started_at, finished_at, host, device, git_sha, command,"
        " slurm_job_id, slurm_array_job_id, slurm_array_task_id, ?5 FROM temp.s_runs WHERE part = ?4"
        " ON CONFLICT (run_id, source, part_run_id) DO UPDATE SET status = excluded.status,"
        " finished_at = excluded.finished_at, pairs = excluded.pairs, slurm_job_id = excluded.slurm_job_id"
        " WHERE status IS NOT excluded.status OR finished_at IS NOT excluded.finished_at"
        " OR pairs IS NOT excluded.pairs OR slurm_job_id IS NOT excluded.slurm_job_id");
    for (int k = 0; k < n; k++) {
        db_bind_int(st, 1, run);
        db_bind_text(st, 2, parts[k].real);
        db_bind_int(st, 3, parts[k].run);
        db_bind_int(st, 4, k);
        db_bind_int(st, 5, parts[k].pairs);
        db_step_reset(st);
        changed += sqlite3_changes(db_sqlite(db));
    }
    db_finalize(st);
    return changed;
}

/* The merged run's times, status and completeness from all its parts. */
static void settle_run(pb_db *db, int64_t run)
{
    sqlite3_stmt *st = db_prepare_id(db,
        "UPDATE runs SET started_at = (SELECT min(started_at) FROM run_parts WHERE run_id = ?1),"
        " finished_at = (SELECT max(finished_at) FROM run_parts WHERE run_id = ?1),"
        " status = CASE WHEN (SELECT count(*) FROM run_parts WHERE run_id = ?1 AND status <> 'done') = 0"
        "   THEN 'done' ELSE 'failed' END,"
        " incomplete = (SELECT count(DISTINCT shard_index) FROM run_parts WHERE run_id = ?1 AND status = 'done')"
        "   < shard_count WHERE id = ?1", run);
    db_step_done(st);
}

/* The shards done among the parts and the merged run's earlier parts: 0 +
 * err when some are missing (merge_missing). */
static int complete_enough(pb_db *db, const merge_opts *o, const merge_part *parts, int64_t run, pb_err *err)
{
    int n = parts[0].shard_count;
    unsigned char *done = pb_calloc((size_t)n + 1, 1);
    for (int k = 0; k < o->n_in; k++)
        if (!strcmp(parts[k].status, "done")) done[parts[k].shard_index] = 1;
    sqlite3_stmt *st = db_prepare_id(db, "SELECT shard_index FROM run_parts WHERE run_id = ? AND status = 'done'", run);
    while (db_step(st) == SQLITE_ROW) {
        int i = sqlite3_column_int(st, 0);
        if (i >= 1 && i <= n) done[i] = 1;
    }
    db_finalize(st);
    int ok = merge_missing(o, n, done, err);
    free(done);
    return ok;
}

/* Copies the database at src (when it exists) to dst, page by page. */
static void copy_db(const char *src, const char *dst)
{
    if (access(src, F_OK) != 0) return;
    sqlite3 *from = NULL, *to = NULL;
    int rc = sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL);
    PB_CHECK(rc == SQLITE_OK, "%s: cannot open to copy: %s", src, sqlite3_errstr(rc));
    rc = sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    PB_CHECK(rc == SQLITE_OK, "%s: cannot create: %s", dst, sqlite3_errstr(rc));
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    PB_CHECK(b, "%s: cannot copy: %s", src, sqlite3_errmsg(to));
    rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    PB_CHECK(rc == SQLITE_DONE, "%s: copy failed: %s", src, sqlite3_errstr(rc));
    sqlite3_close(from);
    sqlite3_close(to);
}

/* Makes the copy durable and puts it in OUT's place. */
static void put_in_place(const char *tmp, const char *out)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    PB_CHECK(fd >= 0 && fsync(fd) == 0, "%s: %s", tmp, strerror(errno));
    close(fd);
    char p[4200];
    const char *sfx[] = {"-wal", "-shm"}; /* OUT's own: its content is in the copy */
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s%s", out, sfx[i]);
        unlink(p);
    }
    PB_CHECK(rename(tmp, out) == 0, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
    free(g_tmp);
    g_tmp = NULL;
}

int merge_run(const merge_opts *o, merge_result *res, pb_err *err)
{
    memset(res, 0, sizeof *res);
    merge_part *parts = pb_calloc((size_t)o->n_in + 1, sizeof *parts);
    int incomplete, st = 2;
    if (!merge_parts_read(o, parts, &incomplete, err)) goto done;
    static int registered;
    if (!registered++) atexit(unlink_tmp);
    g_tmp = fmt("%s.merge-%ld", o->out, (long)getpid());
    unlink_tmp(); /* a leftover of a killed merge with the same pid */
    g_tmp = fmt("%s.merge-%ld", o->out, (long)getpid());
    copy_db(o->out, g_tmp);
    pb_db *db = db_open(g_tmp, err);
    if (!db) {
        /* the copy's path in the message stands for OUT */
        char msg[sizeof err->msg];
        size_t l = strlen(g_tmp);
        snprintf(msg, sizeof msg, "%s%s", o->out, strncmp(err->msg, g_tmp, l) ? ": " : err->msg + l);
        if (strncmp(err->msg, g_tmp, l)) snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s", err->msg);
        snprintf(err->msg, sizeof err->msg, "%s", msg);
        unlink_tmp();
        goto done;
    }
    stage_parts(db, parts, o->n_in);
    exec_sql(db, "BEGIN IMMEDIATE");
    int is_new;
    res->run = merged_run(db, o, &parts[0], &is_new);
    if (!complete_enough(db, o, parts, res->run, err) || !check_overlaps(db, parts, o->out, is_new ? 0 : res->run, err)) {
        exec_sql(db, "ROLLBACK");
        db_close(db);
        unlink_tmp();
        goto done;
    }
    res->added = write_pairs(db, res->run);
    int parts_changed = write_parts(db, res->run, parts, o->n_in);
    settle_run(db, res->run);
    res->changed = is_new || res->added || parts_changed;
    res->present = (int)scalar(db, "SELECT (SELECT count(*) FROM suite_cases WHERE run_id = ?1)"
                                   " + (SELECT count(*) FROM suite_bench WHERE run_id = ?1)", res->run) - res->added;
    res->shard_count = parts[0].shard_count;
    res->shards_done = (int)scalar(db, "SELECT count(DISTINCT shard_index) FROM run_parts WHERE run_id = ?1"
                                       " AND status = 'done'", res->run);
    (void)incomplete; /* settle_run derives it from every part the run has had */
    exec_sql(db, res->changed ? "COMMIT" : "ROLLBACK");
    if (res->changed) exec_sql(db, "PRAGMA journal_mode = DELETE"); /* all of it in the one file that is renamed */
    db_close(db);
    if (res->changed) put_in_place(g_tmp, o->out);
    else unlink_tmp();
    st = 0;
done:
    merge_parts_free(parts, o->n_in);
    free(parts);
    return st;
}

void merge_print(const merge_opts *o, const merge_result *r, FILE *f)
{
    fprintf(stderr, "merge: run %lld of %s: %d pair%s added, %d already there; %d of %d shards done%s\n",
            (long long)r->run, o->out, r->added, r->added == 1 ? "" : "s", r->present, r->shards_done,
            r->shard_count, r->changed ? (r->shards_done < r->shard_count ? " (incomplete)" : "")
                                       : " (nothing new: the database is as it was)");
    pb_err err;
    pb_db *db = db_open_ro(o->out, &err);
    if (!db) pb_die_input(&err);
    runner_report(db, r->run, NULL, f);
    db_close(db);
    fflush(f);
}
