/* convert_plot.c — the conversion plots of `purbo-bench plot`: a convert
 * run's indexer training curves (convert_loss.gp) and the per-head indexer
 * quality before and after training (convert_quality.gp), from the tables
 * of results/schema.sql migration 5, when the run has them. Reads only the
 * database; the charts drawn are named in the job (plot_kit.h).
 */
#include <string.h>

#include "plots/plot_kit.h"

static const char *SQL_LOSS =
    "SELECT step, loss, layer, head, layer * 1000 + head AS g FROM convert_loss WHERE run_id = ?1"
    " ORDER BY layer, head, step";
static const char *SQL_LOSS_MEAN =
    "SELECT step, avg(loss), min(loss), max(loss), avg(lr) FROM convert_loss WHERE run_id = ?1"
    " GROUP BY step ORDER BY step";
static const char *SQL_QUALITY =
    "SELECT row_number() OVER (ORDER BY i.layer, i.head) - 1 AS idx, 'L' || i.layer || '.H' || i.head AS label,"
    " i.recall, t.recall, i.blocks_sel, t.blocks_sel, t.blocks_teacher, i.kl, t.kl"
    " FROM convert_quality i JOIN convert_quality t ON t.run_id = i.run_id AND t.layer = i.layer"
    " AND t.head = i.head AND t.stage = 'trained' WHERE i.run_id = ?1 AND i.stage = 'init'"
    " ORDER BY i.layer, i.head";

int plot_convert(plot_job *j)
{
    pb_db *db = j->db;
    int64_t run = j->run;
    const char *dir = j->dir;
    int n0 = j->n_drawn;
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    DB_CHECK(h, sqlite3_prepare_v2(h, "SELECT count(*), max(r), max(p), (SELECT ctx FROM convert_plan WHERE"
                                      " run_id = ?1) FROM convert_quality WHERE run_id = ?1 AND stage = 'init'",
                                   -1, &st, NULL));
    DB_CHECK(h, sqlite3_bind_int64(st, 1, run));
    DB_CHECK(h, sqlite3_step(st));
    int n = sqlite3_column_int(st, 0), r = sqlite3_column_int(st, 1), ctx = sqlite3_column_int(st, 3);
    double p = sqlite3_column_double(st, 2);
    DB_CHECK(h, sqlite3_finalize(st));
    if (n == 0) return 0;
    char vars[512];
    snprintf(vars, sizeof vars, "run = %lld\nmodel = '%s'\nctx = %d\nnret = %d\nr = %d\np = %g\n", (long long)run,
             j->model, ctx, n, r, p);
    if (plot_dump(db, dir, "convert_loss.dat", SQL_LOSS, run, 0, 4, 1) > 0) {
        plot_dump(db, dir, "convert_loss_mean.dat", SQL_LOSS_MEAN, run, 0, -1, 0);
        if (plot_gnuplot(dir, "convert_loss", vars, NULL, NULL)) j->drawn[j->n_drawn++] = "convert_loss";
    }
    plot_dump(db, dir, "convert_quality.dat", SQL_QUALITY, run, 0, -1, 0);
    if (plot_gnuplot(dir, "convert_quality", vars, NULL, NULL)) j->drawn[j->n_drawn++] = "convert_quality";
    return j->n_drawn - n0;
}
