/* run_diff.c — a run against a baseline run (run_diff.h): the rows, their
 * verdicts and the two-run report. Reads the database only. */
#include "suites/run_diff.h"

#include <math.h>
#include <string.h>

#include "results/score_cells.h"
#include "results/text_out.h"
#include "suites/table.h"

rd_verdict rd_speed_verdict(double med_a, double p10_a, double p90_a, double med_b, double p10_b, double p90_b,
                            double tol)
{
    if (!(med_a > 0) || !(med_b > 0)) return RD_SAME;
    double r = med_b / med_a;
    if (r > 1 + tol) return p10_b > p90_a ? RD_REGRESSION : RD_NOISE;
    if (r < 1 - tol) return p90_b < p10_a ? RD_IMPROVED : RD_NOISE;
    return RD_SAME;
}

static double rel_spread(double med, double p10, double p90) { return med > 0 ? (p90 - p10) / med : 0; }

rd_verdict rd_speed_verdict_noise(double med_a, double p10_a, double p90_a, double med_b, double p10_b,
                                  double p90_b, double tol)
{
    rd_verdict v = rd_speed_verdict(med_a, p10_a, p90_a, med_b, p10_b, p90_b, tol);
    double sa = rel_spread(med_a, p10_a, p90_a), sb = rel_spread(med_b, p10_b, p90_b);
    if ((v == RD_REGRESSION || v == RD_IMPROVED) && (sa > sb ? sa : sb) > RD_MAX_NOISE * tol) return RD_NOISY;
    return v;
}

rd_verdict rd_score_verdict(const stats_diff *d, double tol)
{
    if (100 * d->diff < -tol) return d->significant ? RD_REGRESSION : RD_NOISE;
    if (100 * d->diff > tol) return d->significant ? RD_IMPROVED : RD_NOISE;
    return RD_SAME;
}

const char *rd_verdict_name(rd_verdict v)
{
    static const char *const names[] = {"same", "REGRESSION", "improved", "noise", "missing", "new", "noisy"};
    return names[v];
}

static char *dup(const char *s)
{
    char *d = strdup(s ? s : "");
    PB_CHECK(d, "out of memory");
    return d;
}

int rd_accuracy(pb_db *db, int64_t a, int64_t b, double tol_score, rd_acc **out)
{
    score_cell *ca, *cb;
    int na = score_cells(db, a, NULL, SCORE_BY_TASK, &ca), nb = score_cells(db, b, NULL, SCORE_BY_TASK, &cb);
    rd_acc *r = pb_calloc((size_t)(na + nb + 1), sizeof *r);
    int n = 0;
    char *used = pb_calloc((size_t)nb + 1, 1);
    for (int i = 0; i < na; i++) {
        rd_acc *x = &r[n++];
        x->task = dup(ca[i].task);
        x->method = dup(ca[i].method);
        x->in_a = 1;
        x->a = ca[i].score;
        x->has_dens_a = ca[i].has_density;
        x->dens_a = ca[i].density;
        x->v = RD_MISSING;
        for (int j = 0; j < nb; j++) {
            if (used[j] || strcmp(cb[j].task, x->task) || strcmp(cb[j].method, x->method)) continue;
            used[j] = 1;
            x->in_b = 1;
            x->b = cb[j].score;
            x->has_dens_b = cb[j].has_density;
            x->dens_b = cb[j].density;
            int *ia, *ib;
            double *sa, *sb;
            int ka = score_cases(db, a, x->method, x->task, &ia, &sa);
            int kb = score_cases(db, b, x->method, x->task, &ib, &sb);
            int m = ka < kb ? ka : kb;
            double *pa = pb_malloc((size_t)(m + 1) * sizeof *pa), *pbb = pb_malloc((size_t)(m + 1) * sizeof *pbb);
            int np = score_pair(ib, sb, kb, ia, sa, ka, pbb, pa);
            x->v = RD_SAME;
            if (np) {
                x->has_diff = 1;
                stats_paired(pbb, pa, np, x->a.binary && x->b.binary, &x->d);
                x->v = rd_score_verdict(&x->d, tol_score);
            }
            free(ia), free(ib), free(sa), free(sb), free(pa), free(pbb);
            break;
        }
    }
    for (int j = 0; j < nb; j++) {
        if (used[j]) continue;
        rd_acc *x = &r[n++];
        x->task = dup(cb[j].task);
        x->method = dup(cb[j].method);
        x->in_b = 1;
        x->b = cb[j].score;
        x->has_dens_b = cb[j].has_density;
        x->dens_b = cb[j].density;
        x->v = RD_NEW;
    }
    free(used);
    score_cells_free(ca, na);
    score_cells_free(cb, nb);
    *out = r;
    return n;
}

void rd_accuracy_free(rd_acc *r, int n)
{
    for (int i = 0; i < n; i++) free(r[i].task), free(r[i].method);
    free(r);
}

/* The throughput rows of run, in report order. */
static sqlite3_stmt *speed_query(pb_db *db, int64_t run)
{
    return db_prepare_id(db,
        "SELECT s.task, s.method, s.case_index, b.n_layer, b.n_head, b.n_kv_head, b.head_dim, b.n_ctx, b.phase,"
        " b.t_median, b.t_p10, b.t_p90, b.repeats, b.throughput, coalesce(b.throughput_unit, '')"
        " FROM suite_bench s JOIN bench b ON b.id = s.bench_id WHERE s.run_id = ?"
        " ORDER BY s.task, b.n_layer, b.n_head, b.n_kv_head, b.head_dim, b.phase DESC, b.n_ctx, s.bench_id", run);
}

int rd_speed_rows(pb_db *db, int64_t a, int64_t b, double tol_speed, rd_speed **out)
{
    int n = 0, cap = 16;
    rd_speed *r = pb_malloc((size_t)cap * sizeof *r);
    for (int pass = 0; pass < 2; pass++) {
        sqlite3_stmt *st = speed_query(db, pass ? b : a);
        while (db_step(st) == SQLITE_ROW) {
            const char *task = (const char *)sqlite3_column_text(st, 0), *method = (const char *)sqlite3_column_text(st, 1);
            int ci = sqlite3_column_int(st, 2);
            rd_speed *x = NULL;
            for (int i = 0; pass && i < n && !x; i++)
                if (!r[i].in_b && r[i].case_index == ci && !strcmp(r[i].task, task) && !strcmp(r[i].method, method))
                    x = &r[i];
            if (!x) {
                if (n == cap) r = pb_realloc(r, (size_t)(cap *= 2) * sizeof *r);
                x = &r[n++];
                *x = (rd_speed){.task = dup(task), .method = dup(method), .case_index = ci,
                                .layers = sqlite3_column_int(st, 3), .heads = sqlite3_column_int(st, 4),
                                .kv_heads = sqlite3_column_int(st, 5), .head_dim = sqlite3_column_int(st, 6),
                                .ctx = sqlite3_column_int(st, 7), .phase = dup((const char *)sqlite3_column_text(st, 8)),
                                .unit = dup((const char *)sqlite3_column_text(st, 14))};
            }
            double med = sqlite3_column_double(st, 9), p10 = sqlite3_column_double(st, 10),
                   p90 = sqlite3_column_double(st, 11), tp = sqlite3_column_double(st, 13);
            int reps = sqlite3_column_int(st, 12);
            if (pass) x->in_b = 1, x->med_b = med, x->p10_b = p10, x->p90_b = p90, x->tp_b = tp, x->reps_b = reps;
            else x->in_a = 1, x->med_a = med, x->p10_a = p10, x->p90_a = p90, x->tp_a = tp, x->reps_a = reps;
        }
        db_finalize(st);
    }
    for (int i = 0; i < n; i++) {
        rd_speed *x = &r[i];
        if (!x->in_b) x->v = RD_MISSING;
        else if (!x->in_a) x->v = RD_NEW;
        else {
            x->ratio = x->med_b / x->med_a;
            double sa = rel_spread(x->med_a, x->p10_a, x->p90_a), sb = rel_spread(x->med_b, x->p10_b, x->p90_b);
            x->noise = sa > sb ? sa : sb;
            x->v = rd_speed_verdict_noise(x->med_a, x->p10_a, x->p90_a, x->med_b, x->p10_b, x->p90_b, tol_speed);
        }
    }
    *out = r;
    return n;
}

void rd_speed_free(rd_speed *r, int n)
{
    for (int i = 0; i < n; i++) free(r[i].task), free(r[i].method), free(r[i].phase), free(r[i].unit);
    free(r);
}

/* "run 3 (git 1234abcd5678, 2026-...)" */
static void run_line(pb_db *db, int64_t run, char *buf, size_t len)
{
    sqlite3_stmt *st = db_prepare_id(db,
        "SELECT substr(git_sha, 1, 12), git_dirty, started_at, status, device FROM runs WHERE id = ?", run);
    if (db_step(st) == SQLITE_ROW)
        snprintf(buf, len, "run %lld (git %s%s, %s, %s, %s)", (long long)run, sqlite3_column_text(st, 0),
                 sqlite3_column_int(st, 1) == 1 ? " dirty" : "", sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
                 sqlite3_column_text(st, 4));
    else snprintf(buf, len, "run %lld", (long long)run);
    db_finalize(st);
}

void rd_speed_key_cells(tbl *t, const rd_speed *x)
{
    char shape[64];
    snprintf(shape, sizeof shape, "%d/%d/%d/%d", x->layers, x->heads, x->kv_heads, x->head_dim);
    tbl_str(t, x->task);
    tbl_str(t, x->method);
    tbl_str(t, shape);
    tbl_int(t, x->ctx);
    tbl_str(t, x->phase);
}

void run_diff_print(pb_db *db, int64_t a, int64_t b, double tol_score, double tol_speed, int fmt, FILE *f)
{
    rd_acc *ac;
    rd_speed *sp;
    int na = rd_accuracy(db, a, b, tol_score, &ac), ns = rd_speed_rows(db, a, b, tol_speed, &sp);
    char la[300], lb[300];
    run_line(db, a, la, sizeof la);
    run_line(db, b, lb, sizeof lb);
    char ha[48], hb[48];
    snprintf(ha, sizeof ha, "score A (run %lld)", (long long)a);
    snprintf(hb, sizeof hb, "score B (run %lld)", (long long)b);
    const char *acols[] = {"task", "method", "n A", "n B", ha, hb, "B - A", "95% interval", "p", "verdict",
                           "density A", "density B"};
    tbl *t1 = tbl_new("accuracy (score x100; B - A paired by case)", 12, acols);
    int bad = 0;
    for (int i = 0; i < na; i++) {
        const rd_acc *x = &ac[i];
        tbl_str(t1, x->task);
        tbl_str(t1, x->method);
        if (x->in_a) tbl_int(t1, x->a.n); else tbl_null(t1);
        if (x->in_b) tbl_int(t1, x->b.n); else tbl_null(t1);
        if (x->in_a) tbl_real(t1, 100 * x->a.mean, 2); else tbl_null(t1);
        if (x->in_b) tbl_real(t1, 100 * x->b.mean, 2); else tbl_null(t1);
        if (x->has_diff) {
            char iv[64];
            snprintf(iv, sizeof iv, "[%+.2f, %+.2f]", 100 * x->d.lo, 100 * x->d.hi);
            tbl_signed(t1, 100 * x->d.diff, 2);
            tbl_str(t1, iv);
            if (x->d.p >= 0) tbl_real(t1, x->d.p, 3); else tbl_null(t1);
        } else tbl_null(t1), tbl_null(t1), tbl_null(t1);
        tbl_str(t1, rd_verdict_name(x->v));
        if (x->has_dens_a) tbl_real(t1, x->dens_a, 4); else tbl_null(t1);
        if (x->has_dens_b) tbl_real(t1, x->dens_b, 4); else tbl_null(t1);
        bad += x->v == RD_REGRESSION || x->v == RD_MISSING;
    }
    const char *scols[] = {"task", "method", "shape L/H/KV/d", "context", "phase", "ms A", "ms B", "B / A",
                           "noise %", "verdict", "throughput A", "throughput B", "unit"};
    tbl *t2 = tbl_new("speed (median ms per repeat; noise: the larger p10..p90 spread / median)", 13, scols);
    for (int i = 0; i < ns; i++) {
        const rd_speed *x = &sp[i];
        rd_speed_key_cells(t2, x);
        if (x->in_a) tbl_real(t2, 1e3 * x->med_a, 3); else tbl_null(t2);
        if (x->in_b) tbl_real(t2, 1e3 * x->med_b, 3); else tbl_null(t2);
        if (x->in_a && x->in_b) tbl_real(t2, x->ratio, 3), tbl_real(t2, 100 * x->noise, 1);
        else tbl_null(t2), tbl_null(t2);
        tbl_str(t2, rd_verdict_name(x->v));
        if (x->in_a) tbl_real(t2, x->tp_a, 1); else tbl_null(t2);
        if (x->in_b) tbl_real(t2, x->tp_b, 1); else tbl_null(t2);
        tbl_str(t2, x->unit);
        bad += x->v == RD_REGRESSION || x->v == RD_MISSING;
    }
    char tol[160];
    snprintf(tol, sizeof tol, "score tolerance %g points and significant at 95%%; speed tolerance %g%% beyond the spreads",
             tol_score, 100 * tol_speed);
    if (fmt == TBL_JSON) {
        fprintf(f, "{\"baseline_run\": %lld, \"run\": %lld, \"baseline\": ", (long long)a, (long long)b);
        json_put_str(f, la);
        fputs(", \"this\": ", f);
        json_put_str(f, lb);
        fprintf(f, ", \"tolerance_score\": %g, \"tolerance_speed\": %g, \"regressions\": %d,\n", tol_score, tol_speed, bad);
        tbl_print(t1, fmt, f);
        fputs(",\n", f);
        tbl_print(t2, fmt, f);
        fputs("}\n", f);
    } else {
        if (fmt == TBL_MD) fprintf(f, "### purbo-bench: run %lld against run %lld\n\n- A: %s\n- B: %s\n- %s\n- %d regression%s or missing\n\n",
                                   (long long)b, (long long)a, la, lb, tol, bad, bad == 1 ? "" : "s");
        else fprintf(f, "A: %s\nB: %s\n%s; %d regression%s or missing\n\n", la, lb, tol, bad, bad == 1 ? "" : "s");
        if (tbl_rows(t1)) tbl_print(t1, fmt, f);
        if (tbl_rows(t1) && tbl_rows(t2) && fmt == TBL_TEXT) fputc('\n', f);
        if (tbl_rows(t2)) tbl_print(t2, fmt, f);
    }
    tbl_free(t1);
    tbl_free(t2);
    rd_accuracy_free(ac, na);
    rd_speed_free(sp, ns);
}
