/* convert_report.c — the converter's own tables in the results database
 * (results/schema.sql, migration 5), each head in its own transaction. The
 * database only records: a conversion decides from the probes' results in
 * memory (probe.h, probe_heads), never from rows read back.
 */
#include "convert/convert_run.h"

#include <string.h>


void report_heads(pb_db *db, int64_t run, const model_config *c, const unsigned char *retr, const double *score,
                  const int *w90)
{
    sqlite3 *h = db_sqlite(db);
    db_case_begin(db);
    sqlite3_stmt *st =
        db_prepare(db, "INSERT INTO convert_head(run_id, layer, head, class, score, w90) VALUES (?,?,?,?,?,?)");
    for (int i = 0; i < c->n_layer * c->n_head; i++) {
        DB_CHECK(h, sqlite3_bind_int64(st, 1, run));
        DB_CHECK(h, sqlite3_bind_int(st, 2, i / c->n_head));
        DB_CHECK(h, sqlite3_bind_int(st, 3, i % c->n_head));
        DB_CHECK(h, sqlite3_bind_text(st, 4, retr[i] ? "retrieval" : "local", -1, SQLITE_STATIC));
        DB_CHECK(h, score ? sqlite3_bind_double(st, 5, score[i]) : sqlite3_bind_null(st, 5));
        DB_CHECK(h, w90 ? sqlite3_bind_int(st, 6, w90[i]) : sqlite3_bind_null(st, 6));
        db_step_reset(st);
    }
    DB_CHECK(h, sqlite3_finalize(st));
    db_case_commit(db);
}

static void bind_quality(sqlite3 *h, sqlite3_stmt *st, int64_t run, int layer, int head, const char *stage,
                         const kd_quality *q, int r, double p)
{
    int i = 1;
    DB_CHECK(h, sqlite3_bind_int64(st, i++, run));
    DB_CHECK(h, sqlite3_bind_int(st, i++, layer));
    DB_CHECK(h, sqlite3_bind_int(st, i++, head));
    DB_CHECK(h, sqlite3_bind_text(st, i++, stage, -1, SQLITE_STATIC));
    DB_CHECK(h, sqlite3_bind_int(st, i++, r));
    DB_CHECK(h, sqlite3_bind_double(st, i++, p));
    const double v[] = {q->recall, q->mass, q->blocks_sel, q->blocks_teacher, q->kl};
    for (int k = 0; k < 5; k++) DB_CHECK(h, sqlite3_bind_double(st, i++, v[k]));
    DB_CHECK(h, sqlite3_bind_int(st, i++, q->n_queries));
}

void report_head(pb_db *db, int64_t run, int layer, int head, int steps, const double *loss, const double *lr,
                 const double *tau, const kd_quality *init, const kd_quality *trained, int r, double p)
{
    sqlite3 *h = db_sqlite(db);
    db_case_begin(db);
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO convert_loss(run_id, layer, head, step, loss, lr, tau)"
                                      " VALUES (?,?,?,?,?,?,?)");
    for (int t = 0; t < steps; t++) {
        DB_CHECK(h, sqlite3_bind_int64(st, 1, run));
        DB_CHECK(h, sqlite3_bind_int(st, 2, layer));
        DB_CHECK(h, sqlite3_bind_int(st, 3, head));
        DB_CHECK(h, sqlite3_bind_int(st, 4, t));
        DB_CHECK(h, sqlite3_bind_double(st, 5, loss[t]));
        DB_CHECK(h, sqlite3_bind_double(st, 6, lr[t]));
        DB_CHECK(h, sqlite3_bind_double(st, 7, tau[t]));
        db_step_reset(st);
    }
    DB_CHECK(h, sqlite3_finalize(st));
    st = db_prepare(db, "INSERT INTO convert_quality(run_id, layer, head, stage, r, p, recall, mass, blocks_sel,"
                        " blocks_teacher, kl, n_queries) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    bind_quality(h, st, run, layer, head, "init", init, r, p);
    db_step_reset(st);
    bind_quality(h, st, run, layer, head, "trained", trained, r, p);
    db_step_reset(st);
    DB_CHECK(h, sqlite3_finalize(st));
    db_case_commit(db);
}

void report_plan(pb_db *db, int64_t run, const convert_cfg *cfg, const model_config *c, uint64_t fp, int n_retrieval,
                 int r)
{
    sqlite3 *h = db_sqlite(db);
    db_case_begin(db);
    sqlite3_stmt *st = db_prepare(
        db, "INSERT INTO convert_plan(run_id, plan_path, model_fp, n_heads, n_retrieval, rho, sink, window,"
            " window_rule, block, local, p, r, steps, lr, batch, ctx, train_windows, eval_windows, queries, s_probe,"
            " s_capture, s_train, s_total) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    char fps[17];
    snprintf(fps, sizeof fps, "%016llx", (unsigned long long)fp);
    int i = 1;
    DB_CHECK(h, sqlite3_bind_int64(st, i++, run));
    DB_CHECK(h, sqlite3_bind_text(st, i++, cfg->out_path, -1, SQLITE_TRANSIENT));
    DB_CHECK(h, sqlite3_bind_text(st, i++, fps, -1, SQLITE_TRANSIENT));
    DB_CHECK(h, sqlite3_bind_int(st, i++, c->n_layer * c->n_head));
    DB_CHECK(h, sqlite3_bind_int(st, i++, n_retrieval));
    /* the need rule asks for no share: the row holds the share it chose */
    DB_CHECK(h, sqlite3_bind_double(st, i++, cfg->rho > 0 ? cfg->rho : (double)n_retrieval / (c->n_layer * c->n_head)));
    DB_CHECK(h, sqlite3_bind_int(st, i++, cfg->sink));
    DB_CHECK(h, sqlite3_bind_int(st, i++, cfg->window));
    DB_CHECK(h, sqlite3_bind_text(st, i++, cfg->window_rule, -1, SQLITE_TRANSIENT));
    DB_CHECK(h, sqlite3_bind_int(st, i++, cfg->block));
    DB_CHECK(h, sqlite3_bind_int(st, i++, cfg->local));
    DB_CHECK(h, sqlite3_bind_double(st, i++, cfg->p));
    DB_CHECK(h, sqlite3_bind_int(st, i++, r));
    DB_CHECK(h, sqlite3_bind_int(st, i++, cfg->opt.steps));
    DB_CHECK(h, sqlite3_bind_double(st, i++, cfg->opt.lr));
    DB_CHECK(h, sqlite3_bind_int(st, i++, cfg->opt.batch));
    const int ints[] = {cfg->ctx, cfg->n_train, cfg->n_eval, cfg->queries};
    for (int k = 0; k < 4; k++) DB_CHECK(h, sqlite3_bind_int(st, i++, ints[k]));
    const double secs[] = {cfg->s_probe, cfg->s_capture, cfg->s_train, cfg->s_total};
    for (int k = 0; k < 4; k++) DB_CHECK(h, sqlite3_bind_double(st, i++, secs[k]));
    db_step_reset(st);
    DB_CHECK(h, sqlite3_finalize(st));
    db_case_commit(db);
}
