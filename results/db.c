/* db.c — opening and migrating the results database, the per-case
 * transactions, and the runs and bench tables (declared in db.h).
 *
 * Open order matters: the path is checked before sqlite touches it, the file
 * is read (a non-database fails here) and recognised as ours before WAL mode
 * is switched on (WAL is persistent: we must not change someone else's
 * database), then each missing migration runs in its own BEGIN IMMEDIATE
 * transaction that re-reads the version first, so two processes opening a
 * fresh file at once apply each step exactly once.
 * Until the migrations start, failures are the user's (pb_err); after that,
 * runtime (DB_CHECK).
 */
#include "results/db.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { BUSY_MS = 30000 }; /* how long to wait for another process's lock */

struct pb_db {
    sqlite3 *h;
    char *path;
    int version;
    int in_case;
};

int db_check_at(sqlite3 *h, int rc, const char *file, int line)
{
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
    const char *db = h ? sqlite3_db_filename(h, "main") : NULL;
    pb_die_runtime(file, line, "sqlite: %s: %s (%s)", db && *db ? db : "(database)",
                   h ? sqlite3_errmsg(h) : "no handle", sqlite3_errstr(rc));
}

static void exec(sqlite3 *h, const char *sql, const char *file, int line)
{
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
    {
        const char *db = sqlite3_db_filename(h, "main");
        pb_die_runtime(file, line, "sqlite: %s: %s: %s", db && *db ? db : "(database)", sql,
                       msg ? msg : sqlite3_errstr(rc));
    }
}
#define EXEC(h, sql) exec((h), (sql), __FILE__, __LINE__)

/* ---- migrations ------------------------------------------------------- */

typedef struct {
    int version;
    char *title;
    char *sql;
} migration;

/* Splits the schema text at lines "-- migration N: title". Numbering must
 * run 1, 2, 3, ... (a broken embedded schema is a build bug: runtime error). */
static int parse_migrations(const char *text, migration **out)
{
    static const char mark[] = "-- migration ";
    migration *m = NULL;
    int n = 0;
    const char *sql_start = NULL;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        if (!eol) eol = line + strlen(line);
        if (!strncmp(line, mark, sizeof mark - 1)) {
            char *end;
            long v = strtol(line + sizeof mark - 1, &end, 10);
            PB_CHECK(end > line + sizeof mark - 1 && *end == ':' && v == n + 1,
                     "schema: migration %d must follow migration %d: %.*s",
                     (int)v, n, (int)(eol - line), line);
            if (n) m[n - 1].sql = strndup(sql_start, (size_t)(line - sql_start));
            m = pb_realloc(m, (size_t)(n + 1) * sizeof *m);
            end++;
            while (*end == ' ') end++;
            m[n].version = (int)v;
            m[n].title = strndup(end, (size_t)(eol - end));
            m[n].sql = NULL;
            n++;
            sql_start = *eol ? eol + 1 : eol;
        }
        line = *eol ? eol + 1 : eol;
    }
    PB_CHECK(n > 0, "schema: no \"-- migration 1:\" line");
    m[n - 1].sql = strdup(sql_start);
    for (int i = 0; i < n; i++)
        PB_CHECK(m[i].title && m[i].sql, "out of memory");
    *out = m;
    return n;
}

static void free_migrations(migration *m, int n)
{
    for (int i = 0; i < n; i++) {
        free(m[i].title);
        free(m[i].sql);
    }
    free(m);
}

int db_schema_latest(const char *schema_sql)
{
    migration *m;
    int n = parse_migrations(schema_sql, &m);
    free_migrations(m, n);
    return n;
}

/* The applied version: 0 for an empty database, -1 for a database that has
 * tables but no schema_version (not ours), -2 on an sqlite error (rc set). */
static int read_version(sqlite3 *h, int *rc_out)
{
    sqlite3_stmt *st = NULL;
    int n_obj = 0, ours = 0, v = 0;
    int rc = sqlite3_prepare_v2(h,
        "SELECT count(*), sum(name = 'schema_version') FROM sqlite_master", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        n_obj = sqlite3_column_int(st, 0);
        ours = sqlite3_column_int(st, 1);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && ours) {
        rc = sqlite3_prepare_v2(h, "SELECT coalesce(max(version), 0) FROM schema_version",
                                -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            v = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
    }
    *rc_out = rc;
    if (rc != SQLITE_OK) return -2;
    return ours ? v : n_obj == 0 ? 0 : -1;
}

/* Brings the database to the last migration. Returns the version, or -1 with
 * e filled when the database is newer than the text. */
static int migrate(sqlite3 *h, const char *path, const char *schema_sql, pb_err *e)
{
    migration *m;
    int n = parse_migrations(schema_sql, &m);
    int v;
    for (;;) {
        EXEC(h, "BEGIN IMMEDIATE");
        int rc;
        v = read_version(h, &rc);
        if (v == -2) DB_CHECK(h, rc);
        PB_CHECK(v >= 0, "%s: schema_version vanished during migration", path);
        if (v > n) {
            EXEC(h, "ROLLBACK");
            pb_errf(e, path, -1, "results schema version %d is newer than this build "
                    "knows (%d); use a newer purbo-bench", v, n);
            v = -1;
            break;
        }
        if (v == n) {
            EXEC(h, "COMMIT");
            break;
        }
        const migration *s = &m[v];
        char *msg = NULL;
        if (sqlite3_exec(h, s->sql, NULL, NULL, &msg) != SQLITE_OK)
            pb_die_runtime(__FILE__, __LINE__, "%s: migration %d (%s) failed: %s",
                           path, s->version, s->title, msg ? msg : "?");
        sqlite3_stmt *st;
        DB_CHECK(h, sqlite3_prepare_v2(h,
            "INSERT INTO schema_version(version, title) VALUES (?, ?)", -1, &st, NULL));
        db_bind_int(st, 1, s->version);
        db_bind_text(st, 2, s->title);
        db_step_done(st);
        EXEC(h, "COMMIT");
    }
    free_migrations(m, n);
    return v;
}

/* ---- open ------------------------------------------------------------- */

/* The checks sqlite would fail with a vague message: returns 0 and fills e. */
static int check_path(const char *path, pb_err *e)
{
    struct stat st;
    char *copy = strdup(path);
    PB_CHECK(copy, "out of memory");
    const char *dir = dirname(copy);
    int ok = 0;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) pb_errf(e, path, -1, "is a folder, not a database file");
        else if (!S_ISREG(st.st_mode)) pb_errf(e, path, -1, "is not a regular file");
        else if (access(path, R_OK | W_OK) != 0)
            pb_errf(e, path, -1, "cannot open for reading and writing: %s", strerror(errno));
        else ok = 1;
    } else if (errno != ENOENT) {
        pb_errf(e, path, -1, "%s", strerror(errno));
    } else if (stat(dir, &st) != 0) {
        if (errno == ENOENT) pb_errf(e, path, -1, "folder %s does not exist", dir);
        else pb_errf(e, path, -1, "folder %s: %s", dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        pb_errf(e, path, -1, "%s is not a folder", dir);
    } else {
        ok = 1;
    }
    /* WAL keeps PATH-wal and PATH-shm beside the database */
    if (ok && access(dir, W_OK | X_OK) != 0) {
        pb_errf(e, path, -1, "folder %s is not writable: %s", dir, strerror(errno));
        ok = 0;
    }
    free(copy);
    return ok;
}

/* A failure while opening is about the user's file: one line for the CLI. */
static pb_db *open_failed(sqlite3 *h, const char *path, int rc, pb_err *e)
{
    switch (rc & 0xff) {
    case SQLITE_NOTADB:   pb_errf(e, path, -1, "not an SQLite database"); break;
    case SQLITE_CORRUPT:  pb_errf(e, path, -1, "corrupt SQLite database"); break;
    case SQLITE_READONLY: pb_errf(e, path, -1, "read-only (results need write access)"); break;
    default:
        pb_errf(e, path, -1, "cannot open: %s", h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
    }
    sqlite3_close(h);
    return NULL;
}

pb_db *db_open(const char *path, pb_err *e)
{
    return db_open_schema(path, results_schema_sql, e);
}

pb_db *db_open_schema(const char *path, const char *schema_sql, pb_err *e)
{
    if (!path || !*path) {
        pb_errf(e, "(database)", -1, "empty database path");
        return NULL;
    }
    if (!check_path(path, e)) return NULL;
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) return open_failed(h, path, rc, e);
    if (sqlite3_db_readonly(h, "main") == 1) return open_failed(h, path, SQLITE_READONLY, e);
    DB_CHECK(h, sqlite3_busy_timeout(h, BUSY_MS));

    /* the first read: a non-database or foreign database stops here */
    int v = read_version(h, &rc);
    if (v == -2) return open_failed(h, path, rc, e);
    if (v == -1) {
        pb_errf(e, path, -1, "an SQLite database but not a purbo results database "
                "(no schema_version table)");
        sqlite3_close(h);
        return NULL;
    }

    /* Switching to WAL needs the file alone for a moment, and sqlite fails
     * with SQLITE_BUSY at once rather than calling the busy handler when
     * another process holds it (seen with concurrent first opens): retry
     * for up to the busy timeout. */
    sqlite3_stmt *st;
    for (int tries = 0;; tries++) {
        rc = sqlite3_prepare_v2(h, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) break;
        sqlite3_finalize(st);
        if ((rc & 0xff) != SQLITE_BUSY || tries == BUSY_MS / 10)
            return open_failed(h, path, rc, e);
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        pb_errf(e, path, -1, "cannot use WAL journal mode (got %s); a network filesystem?",
                (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(h);
        return NULL;
    }
    DB_CHECK(h, sqlite3_finalize(st));

    v = migrate(h, path, schema_sql, e);
    if (v < 0) {
        sqlite3_close(h);
        return NULL;
    }
    EXEC(h, "PRAGMA foreign_keys=ON");
    pb_db *db = pb_calloc(1, sizeof *db);
    db->h = h;
    db->path = strdup(path);
    PB_CHECK(db->path, "out of memory");
    db->version = v;
    return db;
}

pb_db *db_open_ro(const char *path, pb_err *e)
{
    struct stat st;
    if (!path || !*path) {
        pb_errf(e, "(database)", -1, "empty database path");
        return NULL;
    }
    int ok = 0;
    if (stat(path, &st) != 0) pb_errf(e, path, -1, "%s", strerror(errno));
    else if (S_ISDIR(st.st_mode)) pb_errf(e, path, -1, "is a folder, not a database file");
    else if (!S_ISREG(st.st_mode)) pb_errf(e, path, -1, "is not a regular file");
    else if (access(path, R_OK) != 0) pb_errf(e, path, -1, "cannot open for reading: %s", strerror(errno));
    else ok = 1;
    if (!ok) return NULL;
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) return open_failed(h, path, rc, e);
    DB_CHECK(h, sqlite3_busy_timeout(h, BUSY_MS));
    int v = read_version(h, &rc), n = db_schema_latest(results_schema_sql);
    if (v == -2) return open_failed(h, path, rc, e);
    if (v <= 0)
        pb_errf(e, path, -1, v == 0 ? "empty: no results database here (nothing was written to it)"
                                    : "an SQLite database but not a purbo results database (no schema_version table)");
    else if (v > n)
        pb_errf(e, path, -1, "results schema version %d is newer than this build knows (%d); use a newer purbo-bench",
                v, n);
    else if (v < n)
        pb_errf(e, path, -1, "results schema version %d is older than this build's %d; a command that writes "
                "results (run, probe) migrates it", v, n);
    if (v <= 0 || v != n) {
        sqlite3_close(h);
        return NULL;
    }
    pb_db *db = pb_calloc(1, sizeof *db);
    db->h = h;
    db->path = strdup(path);
    PB_CHECK(db->path, "out of memory");
    db->version = v;
    return db;
}

void db_close(pb_db *db)
{
    if (!db) return;
    /* an open case is rolled back by sqlite3_close: nothing half-written */
    DB_CHECK(db->h, sqlite3_close(db->h));
    free(db->path);
    free(db);
}

int db_schema_version(const pb_db *db) { return db->version; }
sqlite3 *db_sqlite(pb_db *db) { return db->h; }

/* ---- cases ------------------------------------------------------------ */

void db_case_begin(pb_db *db)
{
    PB_CHECK(!db->in_case, "%s: db_case_begin inside a case", db->path);
    EXEC(db->h, "BEGIN IMMEDIATE");
    db->in_case = 1;
}

void db_case_commit(pb_db *db)
{
    PB_CHECK(db->in_case, "%s: db_case_commit outside a case", db->path);
    EXEC(db->h, "COMMIT");
    db->in_case = 0;
}

void db_case_rollback(pb_db *db)
{
    PB_CHECK(db->in_case, "%s: db_case_rollback outside a case", db->path);
    EXEC(db->h, "ROLLBACK");
    db->in_case = 0;
}

/* ---- statements ------------------------------------------------------- */

sqlite3_stmt *db_prepare_at(pb_db *db, const char *sql, const char *file, int line)
{
    sqlite3_stmt *st;
    db_check_at(db->h, sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), file, line);
    return st;
}

sqlite3_stmt *db_prepare_id_at(pb_db *db, const char *sql, int64_t id, const char *file, int line)
{
    sqlite3_stmt *st = db_prepare_at(db, sql, file, line);
    db_bind_int_at(st, 1, 1, id, file, line);
    return st;
}

void db_bind_text_at(sqlite3_stmt *st, int i, const char *s, const char *file, int line)
{
    db_check_at(sqlite3_db_handle(st), s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT)
                                         : sqlite3_bind_null(st, i), file, line);
}

void db_bind_int_at(sqlite3_stmt *st, int i, int has, int64_t v, const char *file, int line)
{
    db_check_at(sqlite3_db_handle(st), has ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i), file, line);
}

void db_bind_real_at(sqlite3_stmt *st, int i, int has, double v, const char *file, int line)
{
    db_check_at(sqlite3_db_handle(st), has ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i), file, line);
}

int db_step_at(sqlite3_stmt *st, const char *file, int line)
{
    return db_check_at(sqlite3_db_handle(st), sqlite3_step(st), file, line);
}

void db_finalize_at(sqlite3_stmt *st, const char *file, int line)
{
    sqlite3 *h = st ? sqlite3_db_handle(st) : NULL; /* the handle outlives the statement */
    db_check_at(h, sqlite3_finalize(st), file, line);
}

void db_step_done_at(sqlite3_stmt *st, const char *file, int line)
{
    db_step_at(st, file, line);
    db_finalize_at(st, file, line);
}

void db_step_reset_at(sqlite3_stmt *st, const char *file, int line)
{
    sqlite3 *h = sqlite3_db_handle(st);
    db_check_at(h, sqlite3_step(st), file, line);
    db_check_at(h, sqlite3_reset(st), file, line);
    db_check_at(h, sqlite3_clear_bindings(st), file, line);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* ---- runs ------------------------------------------------------------- */

int64_t db_run_begin(pb_db *db, const run_meta *meta)
{
    PB_CHECK(!db->in_case, "%s: db_run_begin inside a case", db->path);
    PB_CHECK(meta->command && meta->device, "db_run_begin: command and device are required");
    run_env env;
    run_env_get(&env);
    char fp[64], hash[17];
    const char *fingerprint = meta->model_fingerprint;
    if (!fingerprint && meta->model_path) {
        pb_err ignored;
        if (db_file_fingerprint(meta->model_path, fp, &ignored)) fingerprint = fp;
    }
    if (meta->config) config_hash(meta->config, hash);

    sqlite3_stmt *st = db_prepare(db,
        "INSERT INTO runs(command, git_sha, git_dirty, build_cc, build_cflags, build_nvcc,"
        " host, cpu_model, cpu_cores, device, sqlite_version, libyaml_version,"
        " cuda_runtime, cuda_driver, model_path, model_fingerprint, config, config_hash,"
        " seed, notes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    int i = 1;
    db_bind_text(st, i++, meta->command);
    db_bind_text(st, i++, env.git_sha);
    db_bind_int_if(st, i++, env.git_dirty >= 0, env.git_dirty);
    db_bind_text(st, i++, env.build_cc);
    db_bind_text(st, i++, env.build_cflags);
    db_bind_text(st, i++, env.build_nvcc);
    db_bind_text(st, i++, env.host);
    db_bind_text(st, i++, env.cpu_model);
    db_bind_int(st, i++, env.cpu_cores);
    db_bind_text(st, i++, meta->device);
    db_bind_text(st, i++, env.sqlite_version);
    db_bind_text(st, i++, env.libyaml_version);
    db_bind_text(st, i++, meta->cuda_runtime);
    db_bind_text(st, i++, meta->cuda_driver);
    db_bind_text(st, i++, meta->model_path);
    db_bind_text(st, i++, fingerprint);
    db_bind_text(st, i++, meta->config);
    db_bind_text(st, i++, meta->config ? hash : NULL);
    db_bind_int_if(st, i++, meta->has_seed, meta->seed);
    db_bind_text(st, i++, meta->notes);
    db_step_done(st);
    return sqlite3_last_insert_rowid(db->h);
}

void db_run_end(pb_db *db, int64_t id, run_status status)
{
    sqlite3_stmt *st = db_prepare(db,
        "UPDATE runs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        " WHERE id = ?");
    db_bind_text(st, 1, status == RUN_DONE ? "done" : "failed");
    db_bind_int(st, 2, id);
    db_step_done(st);
    PB_CHECK(sqlite3_changes(db->h) == 1, "%s: db_run_end: no run %lld", db->path,
             (long long)id);
}

int db_runs_each(pb_db *db, int (*cb)(const run_row *r, void *ctx), void *ctx)
{
    sqlite3_stmt *st = db_prepare(db,
        "SELECT id, started_at, finished_at, status, command, git_sha, git_dirty,"
        " build_cc, build_cflags, build_nvcc, host, cpu_model, cpu_cores, device,"
        " sqlite_version, libyaml_version, cuda_runtime, cuda_driver, model_path,"
        " model_fingerprint, config, config_hash, seed, notes FROM runs ORDER BY id");
    int n = 0;
    while (db_step(st) == SQLITE_ROW) {
        run_row r = {0};
        int i = 0;
        r.id = sqlite3_column_int64(st, i++);
        r.started_at = col_text(st, i++);
        r.finished_at = col_text(st, i++);
        r.status = col_text(st, i++);
        r.meta.command = col_text(st, i++);
        snprintf(r.env.git_sha, sizeof r.env.git_sha, "%s", col_text(st, i++));
        r.env.git_dirty = sqlite3_column_type(st, i) == SQLITE_NULL ? -1
                        : sqlite3_column_int(st, i);
        i++;
        r.env.build_cc = col_text(st, i++);
        r.env.build_cflags = col_text(st, i++);
        r.env.build_nvcc = col_text(st, i++);
        snprintf(r.env.host, sizeof r.env.host, "%s", col_text(st, i++));
        snprintf(r.env.cpu_model, sizeof r.env.cpu_model, "%s", col_text(st, i++));
        r.env.cpu_cores = sqlite3_column_int(st, i++);
        r.meta.device = col_text(st, i++);
        r.env.sqlite_version = col_text(st, i++);
        r.env.libyaml_version = col_text(st, i++);
        r.meta.cuda_runtime = col_text(st, i++);
        r.meta.cuda_driver = col_text(st, i++);
        r.meta.model_path = col_text(st, i++);
        r.meta.model_fingerprint = col_text(st, i++);
        r.meta.config = col_text(st, i++);
        r.config_hash = col_text(st, i++);
        r.meta.has_seed = sqlite3_column_type(st, i) != SQLITE_NULL;
        r.meta.seed = sqlite3_column_int64(st, i++);
        r.meta.notes = col_text(st, i++);
        n++;
        if (cb(&r, ctx)) break;
    }
    db_finalize(st);
    return n;
}

/* ---- bench ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* q-quantile of sorted s[0..n): linear between order statistics */
static double quantile(const double *s, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)pos;
    if (lo >= n - 1) return s[n - 1];
    return s[lo] + (pos - lo) * (s[lo + 1] - s[lo]);
}

void bench_stats(const double *t, int n, bench_row *r)
{
    PB_CHECK(n >= 1, "bench_stats: no samples");
    double *s = pb_malloc((size_t)n * sizeof *s);
    memcpy(s, t, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    r->repeats = n;
    r->t_min = s[0];
    r->t_max = s[n - 1];
    r->t_median = quantile(s, n, 0.5);
    r->t_p10 = quantile(s, n, 0.1);
    r->t_p90 = quantile(s, n, 0.9);
    for (int i = 0; i < n; i++) s[i] = fabs(s[i] - r->t_median);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    r->t_mad = quantile(s, n, 0.5);
    free(s);
}

int64_t db_bench_add(pb_db *db, const bench_row *r)
{
    int own = !db->in_case;
    if (own) db_case_begin(db);
    sqlite3_stmt *st = db_prepare(db,
        "INSERT INTO bench(run_id, bench, impl, phase, n_layer, n_head, n_kv_head,"
        " head_dim, n_ctx, n_tokens, repeats, t_median, t_min, t_max, t_p10, t_p90,"
        " t_mad, throughput, throughput_unit, notes)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    int i = 1;
    db_bind_int(st, i++, r->run_id);
    db_bind_text(st, i++, r->bench);
    db_bind_text(st, i++, r->impl);
    db_bind_text(st, i++, r->phase);
    db_bind_int_if(st, i++, r->n_layer != 0, r->n_layer);
    db_bind_int_if(st, i++, r->n_head != 0, r->n_head);
    db_bind_int_if(st, i++, r->n_kv_head != 0, r->n_kv_head);
    db_bind_int_if(st, i++, r->head_dim != 0, r->head_dim);
    db_bind_int_if(st, i++, r->n_ctx != 0, r->n_ctx);
    db_bind_int_if(st, i++, r->n_tokens != 0, r->n_tokens);
    db_bind_int(st, i++, r->repeats);
    const double t[] = {r->t_median, r->t_min, r->t_max, r->t_p10, r->t_p90, r->t_mad};
    for (int k = 0; k < 6; k++) db_bind_real(st, i++, t[k]);
    db_bind_real_if(st, i++, r->throughput_unit != NULL, r->throughput);
    db_bind_text(st, i++, r->throughput_unit);
    db_bind_text(st, i++, r->notes);
    db_step_done(st);
    int64_t id = sqlite3_last_insert_rowid(db->h);
    if (own) db_case_commit(db);
    return id;
}

int db_bench_each(pb_db *db, int64_t run_id,
                  int (*cb)(const bench_row *r, void *ctx), void *ctx)
{
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT id, run_id, bench, impl, phase, n_layer, n_head, n_kv_head, head_dim,"
        " n_ctx, n_tokens, repeats, t_median, t_min, t_max, t_p10, t_p90, t_mad,"
        " throughput, throughput_unit, notes, created_at FROM bench WHERE run_id = ?"
        " ORDER BY id", run_id);
    int n = 0;
    while (db_step(st) == SQLITE_ROW) {
        bench_row r = {0};
        int i = 0;
        r.id = sqlite3_column_int64(st, i++);
        r.run_id = sqlite3_column_int64(st, i++);
        r.bench = col_text(st, i++);
        r.impl = col_text(st, i++);
        r.phase = col_text(st, i++);
        r.n_layer = sqlite3_column_int(st, i++);
        r.n_head = sqlite3_column_int(st, i++);
        r.n_kv_head = sqlite3_column_int(st, i++);
        r.head_dim = sqlite3_column_int(st, i++);
        r.n_ctx = sqlite3_column_int64(st, i++);
        r.n_tokens = sqlite3_column_int64(st, i++);
        r.repeats = sqlite3_column_int(st, i++);
        r.t_median = sqlite3_column_double(st, i++);
        r.t_min = sqlite3_column_double(st, i++);
        r.t_max = sqlite3_column_double(st, i++);
        r.t_p10 = sqlite3_column_double(st, i++);
        r.t_p90 = sqlite3_column_double(st, i++);
        r.t_mad = sqlite3_column_double(st, i++);
        r.throughput = sqlite3_column_double(st, i++);
        r.throughput_unit = col_text(st, i++);
        r.notes = col_text(st, i++);
        r.created_at = col_text(st, i++);
        n++;
        if (cb(&r, ctx)) break;
    }
    db_finalize(st);
    return n;
}
