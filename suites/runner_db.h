/* runner_db.h — the runner's rows in the results database (tables
 * suite_cases and suite_bench, results/schema.sql migration 2): writing a
 * case, finding what a resumed run has committed and reopening a run (for
 * runner.c), and reading a run back (for runner.c, report and compare).
 * It knows nothing of the runner: the dependency runs runner -> runner_db.
 * Every sqlite call is checked with DB_CHECK (a failure is a runtime
 * error, exit 1).
 */
#ifndef PURBO_RUNNER_DB_H
#define PURBO_RUNNER_DB_H

#include <stdint.h>
#include <stdio.h>

#include "results/db.h"

/* One suite_cases row. NULL strings are not allowed except where noted;
 * the has_* flags store NULL when 0. */
typedef struct {
    int64_t run_id;
    const char *suite, *task, *task_type, *method, *policy;
    int case_index, context, sample, max_new;
    double depth;               /* < 0: NULL */
    uint64_t seed, case_seed;
    const char *prompt_hash, *metric, *prediction;
    const char *const *answers;
    int n_answers;
    double score;
    int has_density;
    double density;
    double density_prefill, density_decode; /* < 0: NULL */
    int has_time;
    double t_prefill, t_decode;
    int has_tokens;
    int prompt_tokens, n_gen, n_decode;
    int64_t kv_bytes;           /* < 0: NULL */
    int pair;                   /* the pair's number in the suite (shard.h); < 0: NULL */
} rdb_case;

/* Inserts the row; must be inside db_case_begin/commit. */
void rdb_case_add(pb_db *db, const rdb_case *c);
/* Links bench row bench_id to its task and method (inside the same case);
 * pair: its number in the suite (shard.h), < 0: NULL. */
void rdb_bench_link(pb_db *db, int64_t bench_id, int64_t run, const char *suite, const char *task, const char *method,
                    const char *policy, int case_index, const char *weights, int has_density, double density,
                    int64_t kv_bytes, int pair);
/* A layer_bench row (migration 9); t_stage NULL when has_stages is 0,
 * density and needles NULL when negative. */
typedef struct {
    int64_t bench_id, run;
    double density_target;
    const char *density_source;
    double density, rho, p;
    int ret_heads, loc_heads, sink, window;
    const char *index_kind, *local_kind; /* NULL: NULL */
    int has_stages;
    double t_stage[4];                   /* index, select, attend, local */
    int needles, needles_found;
    int64_t kv_bytes, kv_bytes_dense;
} rdb_layer;
/* Inserts the row; inside the case's transaction. */
void rdb_layer_add(pb_db *db, const rdb_layer *l);
/* 1 if run holds (task, method, case_index) in suite_cases (bench = 0) or
 * suite_bench (bench = 1). */
int rdb_committed(pb_db *db, int64_t run, const char *task, const char *method, int case_index, int bench);
/* The newest run whose config_hash is hash and that is shard
 * shard_index/shard_count (0/0: a run that is no shard), or 0. */
int64_t rdb_run_by_hash(pb_db *db, const char *hash, int shard_index, int shard_count);
/* Records on run what the runs columns of migration 8 say of it: the shard
 * (shard_count 0: none) and the selection it was split over (scope), and
 * Slurm's job ids from this process's environment (SLURM_JOB_ID,
 * SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID; ids already recorded stay where
 * the variable is unset). */
void rdb_run_tag(pb_db *db, int64_t run, int shard_index, int shard_count, const char *scope);
/* The selection run was split over (its shard_scope, malloc'd), or NULL
 * when it records none. */
char *rdb_run_scope(pb_db *db, int64_t run);
/* Sets a run back to running (status 'running', finished_at NULL); returns
 * its finish time (malloc'd) when it was done, else NULL. */
char *rdb_run_reopen(pb_db *db, int64_t run);
/* Marks run done again at its former finish time (a resume that ran nothing). */
void rdb_run_done_at(pb_db *db, int64_t run, const char *finished_at);
/* Claims run `run` of the database file at path for this process: an open
 * file description lock (F_OFD_SETLK) on one byte at 2^62 + run, far past the
 * bytes SQLite locks, so nothing besides the database is created and the claim
 * ends with the process however it ends (SIGKILL included). Returns the
 * descriptor that holds it, or -1 when another process holds it. Close it
 * only after the database is closed: closing any descriptor of the file
 * drops the process's POSIX locks, SQLite's among them. */
int rdb_run_claim(const char *path, int64_t run);

/* ---- reading a run back --------------------------------------------------- */

/* Per (method, task) of a run's accuracy cases, in the order the run first
 * stored them. score: mean x 100 rounded to 2 decimals (score_aggregate);
 * density: mean over the cases that recorded one (has_density 0: none). */
typedef struct {
    char *method, *task, *task_type;
    int n;
    double score, density;
    int has_density;
} suite_agg;

int suite_aggs(pb_db *db, int64_t run, suite_agg **out);
void suite_aggs_free(suite_agg *a, int n);

/* Opens an existing results database read-only (db_open would create a
 * missing one): NULL + *err "PATH: ..." when it does not exist or is
 * unusable. For the commands that only read (report, compare). */
pb_db *suite_db_open_existing(const char *path, pb_err *err);

/* The run id a user means by text: a positive integer, or "last" = the
 * newest run holding suite results. 0 + *err ("--run X: ...") when there is
 * no such run. */
int64_t suite_run_id(pb_db *db, const char *text, pb_err *err);

/* The plain table of a run (tasks x methods: scores x100, then density,
 * then the statistics per (task, length, method) with the paired
 * differences to method ref (NULL: dense), then throughput cases, then,
 * when the run has hardware counters, the roofline table) on f. */
void runner_report(pb_db *db, int64_t run, const char *ref, FILE *f);

#endif
