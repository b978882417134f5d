/* db.h — the results database: a versioned SQLite schema and the calls that
 * write runs and measured cases into it and read them back.
 *
 * The schema lives in results/schema.sql as numbered migrations, embedded in
 * the binary. db_open applies the missing ones in order, one transaction
 * each, and refuses a database newer than this build (README.md in this
 * folder). Results are written case by case: everything between
 * db_case_begin and db_case_commit is one transaction, so a run that is
 * killed loses only the case in progress, never a committed one.
 *
 * Errors: a bad path or a file that is not a usable results database gives a
 * pb_err "PATH: what is wrong" (exit 2 at the CLI). Once open, every sqlite
 * call is checked with DB_CHECK: a failure is a runtime error (exit 1) naming
 * the source line and sqlite's message. Misuse (a case inside a case) is a
 * runtime error too.
 *
 * Later tables (probes, suite cases, kernel timings) come as new migrations;
 * their writers use the statement helpers below (db_prepare, db_bind_*,
 * db_step*) inside the case helpers, and key their rows by the run id from
 * db_run_begin.
 */
#ifndef PURBO_DB_H
#define PURBO_DB_H

#include "base/common.h"
#include "base/hash.h"

#include <sqlite3.h>

typedef struct pb_db pb_db;

/* results/schema.sql as one NUL-terminated string (generated at build). */
extern const char results_schema_sql[];

/* Opens (creating the file, not its folder) the results database at path,
 * in WAL mode with a busy timeout, and migrates it to the latest schema.
 * Returns NULL and fills e when the path or file is unusable, the file is not
 * an SQLite database, is some other program's database, or has a schema
 * newer than this build knows. */
pb_db *db_open(const char *path, pb_err *e);
/* db_open with another migration text (tests: older or newer schemas). */
pb_db *db_open_schema(const char *path, const char *schema_sql, pb_err *e);
/* Opens an existing results database read-only, for commands that only
 * read (report, compare, plot): nothing is created, migrated or written, and
 * a file without write permission works. NULL and e filled when the file is
 * missing or unreadable, empty, not a results database, or its schema is not
 * this build's. */
pb_db *db_open_ro(const char *path, pb_err *e);
void db_close(pb_db *db);

int db_schema_version(const pb_db *db);          /* as applied to this file */
int db_schema_latest(const char *schema_sql);    /* highest step in the text */
sqlite3 *db_sqlite(pb_db *db);                   /* for the writers of later tables */

/* Checks an sqlite return code: SQLITE_OK, _ROW and _DONE pass through,
 * anything else exits 1 with file:line and sqlite's message for handle h. */
int db_check_at(sqlite3 *h, int rc, const char *file, int line);
#define DB_CHECK(h, rc) db_check_at((h), (rc), __FILE__, __LINE__)

/* Prepared statements, for every writer and reader of the tables. Each
 * macro checks its sqlite call with DB_CHECK at the caller's file and line.
 * Binds, steps and finalize take the statement alone (its handle is
 * sqlite3_db_handle(st)). Parameters count from 1.
 *   db_prepare_id     prepare, and bind id (a run, a case) to parameter 1
 *   db_bind_text      s NULL binds NULL
 *   db_bind_int/real  the value; the _if forms bind NULL when has is 0
 *   db_step           SQLITE_ROW or SQLITE_DONE
 *   db_step_done      one step (an insert or update), then finalize
 *   db_step_reset     one step, then reset and clear the binds for the next row */
sqlite3_stmt *db_prepare_at(pb_db *db, const char *sql, const char *file, int line);
sqlite3_stmt *db_prepare_id_at(pb_db *db, const char *sql, int64_t id, const char *file, int line);
void db_bind_text_at(sqlite3_stmt *st, int i, const char *s, const char *file, int line);
void db_bind_int_at(sqlite3_stmt *st, int i, int has, int64_t v, const char *file, int line);
void db_bind_real_at(sqlite3_stmt *st, int i, int has, double v, const char *file, int line);
int db_step_at(sqlite3_stmt *st, const char *file, int line);
void db_finalize_at(sqlite3_stmt *st, const char *file, int line);
void db_step_done_at(sqlite3_stmt *st, const char *file, int line);
void db_step_reset_at(sqlite3_stmt *st, const char *file, int line);
#define db_prepare(db, sql) db_prepare_at((db), (sql), __FILE__, __LINE__)
#define db_prepare_id(db, sql, id) db_prepare_id_at((db), (sql), (id), __FILE__, __LINE__)
#define db_bind_text(st, i, s) db_bind_text_at((st), (i), (s), __FILE__, __LINE__)
#define db_bind_int(st, i, v) db_bind_int_at((st), (i), 1, (v), __FILE__, __LINE__)
#define db_bind_int_if(st, i, has, v) db_bind_int_at((st), (i), (has), (v), __FILE__, __LINE__)
#define db_bind_real(st, i, v) db_bind_real_at((st), (i), 1, (v), __FILE__, __LINE__)
#define db_bind_real_if(st, i, has, v) db_bind_real_at((st), (i), (has), (v), __FILE__, __LINE__)
#define db_step(st) db_step_at((st), __FILE__, __LINE__)
#define db_finalize(st) db_finalize_at((st), __FILE__, __LINE__)
#define db_step_done(st) db_step_done_at((st), __FILE__, __LINE__)
#define db_step_reset(st) db_step_reset_at((st), __FILE__, __LINE__)

/* A transaction per case. Nested cases are a runtime error. */
void db_case_begin(pb_db *db);
void db_case_commit(pb_db *db);
void db_case_rollback(pb_db *db);

/* What the caller knows about a run; db_run_begin adds the rest (run_env). */
typedef struct {
    const char *command;           /* required: db_command_line(argc, argv) */
    const char *device;            /* required: "cpu" or the GPU's name */
    const char *model_path;        /* NULL when the run has no model */
    const char *model_fingerprint; /* NULL: db_file_fingerprint(model_path) */
    const char *config;            /* canonical config (config_canonical) or NULL */
    int has_seed;
    int64_t seed;
    const char *cuda_runtime;      /* versions, NULL when CUDA is not used */
    const char *cuda_driver;
    const char *notes;             /* free text or NULL */
} run_meta;

/* Where and how this binary runs; filled by run_env_get. git_* come from
 * `git rev-parse HEAD` and `git status --porcelain --untracked-files=no` in
 * the current directory ("unknown" / -1 outside a git work tree); build_*
 * from macros the Makefile passes when compiling results/meta.c. */
typedef struct {
    char git_sha[48];       /* 40 lowercase hex digits or "unknown" */
    int git_dirty;          /* 1 modified tracked files, 0 clean, -1 unknown */
    char host[256];
    char cpu_model[256];    /* "unknown" where /proc/cpuinfo has no model */
    int cpu_cores;          /* online logical CPUs */
    const char *build_cc;
    const char *build_cflags;
    const char *build_nvcc; /* NULL for a build without CUDA */
    const char *sqlite_version;
    const char *libyaml_version;
} run_env;
void run_env_get(run_env *env);

typedef enum { RUN_DONE, RUN_FAILED } run_status;

/* Inserts a runs row with status 'running' and returns its id; committed at
 * once (not inside a case). */
int64_t db_run_begin(pb_db *db, const run_meta *meta);
/* Sets the status and finished_at of run id (which must exist). */
void db_run_end(pb_db *db, int64_t id, run_status status);

/* One measured case. On insert, id and created_at are ignored; integer
 * columns given as 0 and strings given as NULL are stored as NULL (except
 * repeats). throughput_unit is "tok/s", "TFLOP/s", "GB/s" or NULL (then
 * throughput is ignored). */
typedef struct {
    int64_t id, run_id;
    const char *bench;     /* e.g. "attn-prefill", "forward" */
    const char *impl;      /* purbo | llama.cpp | torch-sdpa-cudnn | ... */
    const char *phase;     /* "prefill" or "decode" */
    int n_layer, n_head, n_kv_head, head_dim;
    int64_t n_ctx, n_tokens;
    int repeats;
    double t_median, t_min, t_max, t_p10, t_p90, t_mad; /* seconds */
    double throughput;
    const char *throughput_unit;
    const char *notes;
    const char *created_at;
} bench_row;

/* Fills repeats and the t_* fields from n >= 1 timed repeats (seconds).
 * Quantiles interpolate linearly between order statistics; t_mad is the
 * median of |t - t_median|. */
void bench_stats(const double *t, int n, bench_row *r);
/* Inserts r and returns its id. Outside a case it commits at once in its
 * own transaction; inside one it joins the case. */
int64_t db_bench_add(pb_db *db, const bench_row *r);

/* A stored run as read back. Strings are valid only during the callback. */
typedef struct {
    int64_t id;
    const char *started_at, *finished_at; /* finished_at NULL until run end */
    const char *status;                   /* running | done | failed */
    run_env env;                          /* git, host, build as recorded */
    run_meta meta;                        /* as passed, fingerprint filled */
    const char *config_hash;
} run_row;

/* Call cb for each run (ascending id) or each bench row of run_id (ascending
 * id); stop early when cb returns nonzero. Return the number of rows given
 * to cb. */
int db_runs_each(pb_db *db, int (*cb)(const run_row *r, void *ctx), void *ctx);
int db_bench_each(pb_db *db, int64_t run_id,
                  int (*cb)(const bench_row *r, void *ctx), void *ctx);

/* argv joined by spaces, each argument shell-quoted where needed; malloc'd. */
char *db_command_line(int argc, char *const *argv);

/* Canonical config text: one "key=value\n" line per pair, sorted by key in
 * byte order; in keys and values '\\', '=' and newline are written as "\\\\",
 * "\\=" and "\\n". kv holds n_pairs (key, value) pairs flat: kv[2i], kv[2i+1].
 * A key given twice is a runtime error. malloc'd. */
char *config_canonical(const char *const *kv, size_t n_pairs);
/* FNV-1a 64 of the canonical text as 16 lowercase hex digits. */
void config_hash(const char *canonical, char out[17]);


/* A cheap identity for a large file: "fnv1a64s:<16 hex>:<size>", the FNV-1a
 * 64 of the size, the first and last MiB and 16 evenly spaced 64 KiB blocks.
 * Not cryptographic: it tells versions of a model apart, it does not prove
 * integrity. Returns 0 and fills e when the file cannot be read. */
int db_file_fingerprint(const char *path, char out[64], pb_err *e);

#endif
