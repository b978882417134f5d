/* runner_db.h — the runner's rows in the results database (tables
 * suite_cases and suite_bench, results/schema.sql migration 2): writing a
 * case, finding what a resumed run has committed, and reopening a run.
 * Used by runner.c only; readers are declared in runner.h. Every sqlite
 * call is checked with DB_CHECK (a failure is a runtime error, exit 1).
 */
#ifndef PURBO_RUNNER_DB_H
#define PURBO_RUNNER_DB_H

#include <stdint.h>

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
    int has_time;
    double t_prefill, t_decode;
    int has_tokens;
    int prompt_tokens, n_gen, n_decode;
    int64_t kv_bytes;           /* < 0: NULL */
} rdb_case;

/* Inserts the row; must be inside db_case_begin/commit. */
void rdb_case_add(pb_db *db, const rdb_case *c);
/* Links bench row bench_id to its task and method (inside the same case). */
void rdb_bench_link(pb_db *db, int64_t bench_id, int64_t run, const char *suite, const char *task, const char *method,
                    const char *policy, int case_index, const char *weights, int has_density, double density,
                    int64_t kv_bytes);
/* 1 if run holds (task, method, case_index) in suite_cases (bench = 0) or
 * suite_bench (bench = 1). */
int rdb_committed(pb_db *db, int64_t run, const char *task, const char *method, int case_index, int bench);
/* The newest run whose config_hash is hash, or 0. */
int64_t rdb_run_by_hash(pb_db *db, const char *hash);
/* Sets a run back to running (status 'running', finished_at NULL). */
void rdb_run_reopen(pb_db *db, int64_t run);

#endif
