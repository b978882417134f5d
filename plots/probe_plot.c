/* probe_plot.c — the probe charts of `purbo-bench plot`: for each probe
 * present in the run (its latest case), the data files of its charts from
 * SQL queries, then each embedded script (locality*.gp, retrieval.gp,
 * rank.gp, demand_*.gp) behind a few variable lines (run, model, context,
 * ...), run by gnuplot in the output folder. The folder then holds
 * NAME.dat, NAME.gp and NAME.png side by side: `gnuplot NAME.gp` there
 * redraws a chart by hand. Reads only the database.
 *
 * Quantiles in the SQL are nearest-rank (the value at row 1 + floor(q (n-1))
 * in order), medians the lower middle.
 */
#include <string.h>

#include "plots/plot_kit.h"

typedef struct {
    int64_t id;
    int n_ctx, n_windows, n_layer, n_head, head_dim;
} pcase;

static int find_case(pb_db *db, int64_t run, const char *probe, pcase *c)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    DB_CHECK(h, sqlite3_prepare_v2(h, "SELECT id, n_ctx, n_windows, n_layer, n_head, head_dim FROM probe_case"
                                      " WHERE run_id = ? AND probe = ? ORDER BY id DESC LIMIT 1", -1, &st, NULL));
    DB_CHECK(h, sqlite3_bind_int64(st, 1, run));
    DB_CHECK(h, sqlite3_bind_text(st, 2, probe, -1, SQLITE_STATIC));
    int found = DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW;
    if (found) {
        c->id = sqlite3_column_int64(st, 0);
        c->n_ctx = sqlite3_column_int(st, 1);
        c->n_windows = sqlite3_column_int(st, 2);
        c->n_layer = sqlite3_column_int(st, 3);
        c->n_head = sqlite3_column_int(st, 4);
        c->head_dim = sqlite3_column_int(st, 5);
    }
    DB_CHECK(h, sqlite3_finalize(st));
    return found;
}

static const char *SQL_LOC_HEADS =
    "SELECT head, layer, w90, w95 FROM probe_locality_head WHERE case_id = ?1 ORDER BY layer, head";
static const char *SQL_LOC_CDF =
    "SELECT w.window AS W, avg(h.w90 <= w.window) AS frac90, avg(h.w95 <= w.window) AS frac95"
    " FROM (SELECT DISTINCT window FROM probe_locality WHERE case_id = ?1) AS w, probe_locality_head AS h"
    " WHERE h.case_id = ?1 GROUP BY w.window ORDER BY w.window";
static const char *SQL_LOC_MASS =
    "SELECT layer * 1000 + head AS head_id, window AS W, mass, layer FROM probe_locality WHERE case_id = ?1"
    " ORDER BY layer, head, window";
static const char *SQL_RETRIEVAL =
    "SELECT rank, score, score_next, layer, head FROM probe_retrieval WHERE case_id = ?1 ORDER BY rank";
#define QUANTILES(col, k)                                                                  \
    "max(CASE WHEN " k " = 1 + (n - 1) / 2 THEN " col " END) AS " col "_median,"           \
    " max(CASE WHEN " k " = 1 + CAST(0.1 * (n - 1) AS INT) THEN " col " END) AS " col "_p10," \
    " max(CASE WHEN " k " = 1 + CAST(0.9 * (n - 1) AS INT) THEN " col " END) AS " col "_p90"
/* per (method, r), quantiles over the heads of `src` */
#define RANK_QUANTILES(src)                                                                  \
    "WITH t AS (SELECT method, r, recall, mass_recall, ev,"                                  \
    " row_number() OVER (PARTITION BY method, r ORDER BY recall) AS kr,"                     \
    " row_number() OVER (PARTITION BY method, r ORDER BY mass_recall) AS km,"                \
    " row_number() OVER (PARTITION BY method, r ORDER BY ev) AS ke,"                         \
    " count(*) OVER (PARTITION BY method, r) AS n FROM " src ")"                             \
    " SELECT method, r, " QUANTILES("recall", "kr") ", " QUANTILES("mass_recall", "km") ", " \
    QUANTILES("ev", "ke") " FROM t GROUP BY method, r ORDER BY method, r"
static const char *SQL_RANK = RANK_QUANTILES("probe_rank WHERE case_id = ?1");
/* the joint method on the retrieval heads: the top 15% by score of case ?2 */
static const char *SQL_RANK_RET = RANK_QUANTILES(
    "(SELECT p.* FROM probe_rank p JOIN probe_retrieval q ON q.layer = p.layer AND q.head = p.head"
    " WHERE p.case_id = ?1 AND p.method = 'joint' AND q.case_id = ?2 AND q.rank <="
    " (SELECT CAST(0.15 * count(*) + 0.5 AS INT) FROM probe_retrieval WHERE case_id = ?2))");
static const char *SQL_DEMAND_CDF =
    "SELECT p, needed, CAST(sum(count) OVER (PARTITION BY p ORDER BY needed) AS REAL)"
    " / sum(count) OVER (PARTITION BY p) AS cumulative FROM probe_demand_hist"
    " WHERE case_id = ?1 AND unit = '%s' AND ctx_len = (SELECT max(ctx_len) FROM probe_demand_hist"
    " WHERE case_id = ?1) ORDER BY p, needed";
static const char *SQL_DEMAND_CTX =
    "SELECT p, ctx_len, v_median, v_p10, v_p90 FROM probe_demand WHERE case_id = ?1 AND layer IS NULL"
    " AND unit = 'token' ORDER BY p, ctx_len";

/* The gnuplot variable lines of a case. */
static void vars_of(char *out, size_t cap, int64_t run, const char *model, const pcase *c)
{
    snprintf(out, cap, "run = %lld\nmodel = '%s'\nctx = %d\nwindows = %d\nnlayer = %d\nnhead = %d\nhead_dim = %d\n",
             (long long)run, model, c->n_ctx, c->n_windows, c->n_layer, c->n_head, c->head_dim);
}

/* Draws chart name (its script's name) and lists it in job->drawn. */
static void draw(plot_job *j, const char *name, const char *vars)
{
    if (plot_gnuplot(j->dir, name, vars, NULL, NULL)) j->drawn[j->n_drawn++] = name;
}

int plot_probes(plot_job *j)
{
    char vars[1024], sql[1024];
    int n0 = j->n_drawn;
    const char *out = j->dir;
    pb_db *db = j->db;
    pcase c;
    if (find_case(db, j->run, "locality", &c)) {
        vars_of(vars, sizeof vars, j->run, j->model, &c);
        plot_dump(db, out, "locality_heads.dat", SQL_LOC_HEADS, c.id, 0, 1, 1);
        plot_dump(db, out, "locality_cdf.dat", SQL_LOC_CDF, c.id, 0, -1, 0);
        plot_dump(db, out, "locality_mass.dat", SQL_LOC_MASS, c.id, 0, 0, 1);
        draw(j, "locality", vars);
        draw(j, "locality_cdf", vars);
        draw(j, "locality_mass", vars);
    }
    if (find_case(db, j->run, "retrieval", &c)) {
        vars_of(vars, sizeof vars, j->run, j->model, &c);
        plot_dump(db, out, "retrieval.dat", SQL_RETRIEVAL, c.id, 0, -1, 0);
        draw(j, "retrieval", vars);
    }
    pcase rc;
    if (find_case(db, j->run, "rank", &c)) {
        vars_of(vars, sizeof vars, j->run, j->model, &c);
        plot_dump(db, out, "rank.dat", SQL_RANK, c.id, 0, 0, 2);
        int has_ret = find_case(db, j->run, "retrieval", &rc) &&
                      plot_dump(db, out, "rank_retrieval.dat", SQL_RANK_RET, c.id, rc.id, 0, 2) > 0;
        snprintf(vars + strlen(vars), sizeof vars - strlen(vars), "has_ret = %d\n", has_ret);
        draw(j, "rank", vars);
    }
    if (find_case(db, j->run, "demand", &c)) {
        vars_of(vars, sizeof vars, j->run, j->model, &c);
        snprintf(vars + strlen(vars), sizeof vars - strlen(vars), "dlen = %d\nnheads = %d\n", c.n_ctx,
                 c.n_layer * c.n_head);
        snprintf(sql, sizeof sql, SQL_DEMAND_CDF, "token");
        plot_dump(db, out, "demand_cdf_token.dat", sql, c.id, 0, 0, 2);
        snprintf(sql, sizeof sql, SQL_DEMAND_CDF, "block");
        plot_dump(db, out, "demand_cdf_block.dat", sql, c.id, 0, 0, 2);
        plot_dump(db, out, "demand_ctx.dat", SQL_DEMAND_CTX, c.id, 0, 0, 2);
        draw(j, "demand_cdf", vars);
        draw(j, "demand_ctx", vars);
    }
    return j->n_drawn - n0;
}
