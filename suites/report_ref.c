/* report_ref.c — pairs a run with another database's reference run for
 * `report --ref-db` (report_ref.h). The other file is checked as a results
 * database of this schema (db_open_ro), then attached to the read-only
 * connection; the run's cases and the reference's that pair with them by
 * (task, case_index, prompt_hash) go into TEMP suite_cases, which SQLite
 * reads before main's for every unqualified name; the reference's rows are
 * numbered after every row of main, so it is the run's last method. */
#include "suites/report_ref.h"

#include <string.h>

#include "suites/runner_db.h"

/* The first column of sql's first row (0 without one); ?1 the run when run > 0, then text. */
static int64_t one_i64(pb_db *db, const char *sql, int64_t run, const char *text)
{
    sqlite3_stmt *st = db_prepare(db, sql);
    int i = 1;
    if (run > 0) db_bind_int(st, i++, run);
    if (text) db_bind_text(st, i, text);
    int64_t v = db_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_finalize(st);
    return v;
}

int report_ref_attach(pb_db *db, int64_t run, const char *method, const char *ref_path, const char *ref_run,
                      report_ref *out, pb_err *err)
{
    memset(out, 0, sizeof *out);
    pb_db *rdb = suite_db_open_existing(ref_path, err);
    if (!rdb) return 0;
    int64_t rr;
    if (!strcmp(ref_run, "last")) {
        rr = one_i64(rdb, "SELECT coalesce(max(run_id), 0) FROM suite_cases WHERE method = ?1", 0, method);
        if (!rr) pb_errf(err, ref_path, -1, "--ref-db: no run with method '%s' in it", method);
    } else {
        rr = suite_run_id(rdb, ref_run, err);
        if (rr && !one_i64(rdb, "SELECT count(*) FROM suite_cases WHERE run_id = ?1 AND method = ?2", rr, method)) {
            pb_errf(err, ref_path, -1, "--ref-run %lld: no cases of method '%s'", (long long)rr, method);
            rr = 0;
        }
    }
    db_close(rdb);
    if (!rr) return 0;
    if (one_i64(db, "SELECT count(*) FROM suite_cases WHERE run_id = ?1 AND method = ?2", run, method))
        return pb_errf(err, ref_path, -1,
                       "--ref-db: run %lld has a method '%s' of its own; name another with --ref", (long long)run,
                       method);
    sqlite3_stmt *st = db_prepare(db, "ATTACH DATABASE ?1 AS purbo_ref");
    db_bind_text(st, 1, ref_path);
    db_step_done(st);
    st = db_prepare(db, "CREATE TEMP TABLE suite_cases AS SELECT * FROM main.suite_cases WHERE run_id = ?1");
    db_bind_int(st, 1, run);
    db_step_done(st);
    /* the reference's rows that pair, under the reported run's id */
    st = db_prepare(db, "INSERT INTO temp.suite_cases SELECT * FROM purbo_ref.suite_cases r WHERE r.run_id = ?2"
                        " AND r.method = ?3 AND EXISTS (SELECT 1 FROM main.suite_cases m WHERE m.run_id = ?1"
                        " AND m.task = r.task AND m.case_index = r.case_index AND m.prompt_hash = r.prompt_hash)");
    db_bind_int(st, 1, run);
    db_bind_int(st, 2, rr);
    db_bind_text(st, 3, method);
    db_step_done(st);
    /* under the run's id, after its own rows (readers order tasks and methods by their first row) */
    st = db_prepare(db, "UPDATE temp.suite_cases SET run_id = ?1,"
                        " id = id + (SELECT coalesce(max(id), 0) FROM main.suite_cases) WHERE method = ?2");
    db_bind_int(st, 1, run);
    db_bind_text(st, 2, method);
    db_step_done(st);
    out->run = rr;
    out->paired = (int)one_i64(db, "SELECT count(*) FROM temp.suite_cases WHERE run_id = ?1 AND method = ?2", run,
                               method);
    st = db_prepare(db, "SELECT count(*) FROM purbo_ref.suite_cases r WHERE r.run_id = ?2 AND r.method = ?3"
                        " AND EXISTS (SELECT 1 FROM main.suite_cases m WHERE m.run_id = ?1 AND m.task = r.task"
                        " AND m.case_index = r.case_index) AND NOT EXISTS (SELECT 1 FROM main.suite_cases m"
                        " WHERE m.run_id = ?1 AND m.task = r.task AND m.case_index = r.case_index"
                        " AND m.prompt_hash = r.prompt_hash)");
    db_bind_int(st, 1, run);
    db_bind_int(st, 2, rr);
    db_bind_text(st, 3, method);
    out->other_prompt = db_step(st) == SQLITE_ROW ? (int)sqlite3_column_int64(st, 0) : 0;
    db_finalize(st);
    return 1;
}
