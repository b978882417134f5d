/* hw_metrics.c — the counter list, hw_metrics / hw_ceilings rows and the
 * roofline computed from them (hw_metrics.h). No CUDA here: the collector
 * (counters.cu) fills hwm_ranges, these functions only store and read, so
 * the CPU tests drive them with made-up collections.
 */
#include "probes/hw_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const HWM_METRICS[HWM_N] = {
    [HWM_TIME_NS] = "gpu__time_duration.sum",
    [HWM_DRAM_READ] = "dram__bytes_read.sum",
    [HWM_DRAM_WRITE] = "dram__bytes_write.sum",
    [HWM_SM_PCT] = "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    [HWM_TENSOR_PCT] = "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_elapsed",
    [HWM_FMA_PCT] = "sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_elapsed",
    [HWM_OPS_BF16] = "sm__ops_path_tensor_src_bf16_dst_fp32.sum",
    [HWM_OPS_FP16] = "sm__ops_path_tensor_src_fp16_dst_fp32.sum",
    [HWM_FFMA] = "smsp__sass_thread_inst_executed_op_ffma_pred_on.sum",
    [HWM_FADD] = "smsp__sass_thread_inst_executed_op_fadd_pred_on.sum",
    [HWM_FMUL] = "smsp__sass_thread_inst_executed_op_fmul_pred_on.sum",
    [HWM_L2_HIT_PCT] = "lts__t_sector_hit_rate.pct",
    [HWM_OCCUPANCY] = "sm__warps_active.avg.pct_of_peak_sustained_active",
};

void hwm_ranges_free(hwm_ranges *r)
{
    for (int i = 0; r->range && i < r->n_range; i++) free(r->range[i]);
    free(r->range);
    free(r->value);
    memset(r, 0, sizeof *r);
}

int hwm_store(pb_db *db, int64_t run, int64_t bench_id, const char *case_name, const hwm_ranges *r,
              const char *const *names, int n_names)
{
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO hw_metrics (run_id, bench_id, case_name, seq, kernel, metric,"
                                      " value, passes) VALUES (?,?,?,?,?,?,?,?)");
    int rows = 0;
    for (int s = 0; s < r->n_range; s++) {
        const char *kernel = names && n_names == r->n_range ? names[s] : r->range[s];
        for (int m = 0; m < HWM_N; m++) {
            double v = r->value[(size_t)s * HWM_N + m];
            if (isnan(v)) continue;
            db_bind_int(st, 1, run);
            db_bind_int_if(st, 2, bench_id != 0, bench_id);
            db_bind_text(st, 3, case_name);
            db_bind_int(st, 4, s);
            db_bind_text(st, 5, kernel);
            db_bind_text(st, 6, HWM_METRICS[m]);
            db_bind_real(st, 7, v);
            db_bind_int(st, 8, r->passes);
            db_step_reset(st);
            rows++;
        }
    }
    db_finalize(st);
    return rows;
}

void hwm_store_ceilings(pb_db *db, int64_t run, const hwm_ceilings *c)
{
    char d_bw[96], d_mm[96];
    snprintf(d_bw, sizeof d_bw, "device-to-device copy of %.0f B (read + written)", c->copy_bytes);
    snprintf(d_mm, sizeof d_mm, "cuBLAS bf16 GEMM %d x %d x %d, f32 accumulate", c->gemm_n, c->gemm_n, c->gemm_n);
    db_case_begin(db);
    sqlite3_stmt *st = db_prepare(db, "INSERT OR REPLACE INTO hw_ceilings (run_id, name, value, detail)"
                                      " VALUES (?,?,?,?)");
    const char *name[2] = {"dram_bw", "bf16_gemm"}, *detail[2] = {d_bw, d_mm};
    double v[2] = {c->bw, c->flops};
    for (int i = 0; i < 2; i++) {
        db_bind_int(st, 1, run);
        db_bind_text(st, 2, name[i]);
        db_bind_real(st, 3, v[i]);
        db_bind_text(st, 4, detail[i]);
        db_step_reset(st);
    }
    db_finalize(st);
    db_case_commit(db);
}

int hwm_load_ceilings(pb_db *db, int64_t run, hwm_ceilings *c)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = db_prepare_id(db, "SELECT name, value, detail FROM hw_ceilings WHERE run_id = ?", run);
    int seen = 0;
    while (db_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *detail = (const char *)sqlite3_column_text(st, 2);
        double v = sqlite3_column_double(st, 1);
        if (!strcmp(name, "dram_bw")) {
            c->bw = v;
            sscanf(detail, "device-to-device copy of %lf", &c->copy_bytes);
            seen |= 1;
        } else if (!strcmp(name, "bf16_gemm")) {
            c->flops = v;
            sscanf(detail, "cuBLAS bf16 GEMM %d", &c->gemm_n);
            seen |= 2;
        }
    }
    db_finalize(st);
    return seen == 3;
}

static double or0(double v) { return isnan(v) ? 0 : v; }

void hwm_point_finish(hwm_point *p, const hwm_ceilings *c)
{
    p->intensity = p->flop / p->bytes;
    p->flop_s = p->flop / p->time_s;
    p->bw = p->bytes / p->time_s;
    double ridge = c->flops / c->bw;
    p->memory_bound = p->intensity < ridge;
    p->pct = 100 * (p->memory_bound ? p->bw / c->bw : p->flop_s / c->flops);
}

int hwm_point_eval(const double *v, const hwm_ceilings *c, hwm_point *p)
{
    double t = v[HWM_TIME_NS], rd = v[HWM_DRAM_READ], wr = v[HWM_DRAM_WRITE];
    if (isnan(t) || t <= 0 || (isnan(rd) && isnan(wr))) return 0;
    p->time_s = t * 1e-9;
    p->bytes = or0(rd) + or0(wr);
    if (p->bytes <= 0) return 0;
    p->flop = or0(v[HWM_OPS_BF16]) + or0(v[HWM_OPS_FP16]) + 2 * or0(v[HWM_FFMA]) + or0(v[HWM_FADD]) +
              or0(v[HWM_FMUL]);
    p->launches = 1;
    hwm_point_finish(p, c);
    return 1;
}

/* Adds the launch gathered in cur / v (if it has a point) to its (case,
 * kernel) point of *pts, or appends one; clears v. */
static void flush(hwm_point **pts, int *n, int *cap, hwm_point *cur, double *v, const hwm_ceilings *c)
{
    if (cur->case_name[0] && hwm_point_eval(v, c, cur)) {
        int i = *n - 1;
        while (i >= 0 && !strcmp((*pts)[i].case_name, cur->case_name) && strcmp((*pts)[i].kernel, cur->kernel)) i--;
        if (i >= 0 && !strcmp((*pts)[i].case_name, cur->case_name)) {
            hwm_point *q = &(*pts)[i];
            q->time_s += cur->time_s;
            q->flop += cur->flop;
            q->bytes += cur->bytes;
            q->launches++;
            hwm_point_finish(q, c);
        } else {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *pts = pb_realloc(*pts, (size_t)*cap * sizeof **pts);
            }
            (*pts)[(*n)++] = *cur;
        }
    }
    for (int i = 0; i < HWM_N; i++) v[i] = NAN;
}

hwm_point *hwm_roofline(pb_db *db, int64_t run, int *n)
{
    hwm_ceilings c;
    *n = -1;
    if (!hwm_load_ceilings(db, run, &c)) return NULL;
    *n = 0;
    int cap = 0;
    hwm_point *pts = NULL, cur = {0};
    double v[HWM_N];
    for (int i = 0; i < HWM_N; i++) v[i] = NAN;
    sqlite3_stmt *st = db_prepare_id(db, "SELECT case_name, seq, kernel, metric, value FROM hw_metrics"
                                         " WHERE run_id = ? ORDER BY rowid", run);
    while (db_step(st) == SQLITE_ROW) {
        const char *cs = (const char *)sqlite3_column_text(st, 0);
        int seq = sqlite3_column_int(st, 1);
        if (seq != cur.seq || strncmp(cs, cur.case_name, sizeof cur.case_name - 1)) {
            flush(&pts, n, &cap, &cur, v, &c);
            memset(&cur, 0, sizeof cur);
            snprintf(cur.case_name, sizeof cur.case_name, "%s", cs);
            hwm_kernel_short(cur.kernel, sizeof cur.kernel, (const char *)sqlite3_column_text(st, 2));
            cur.seq = seq;
        }
        const char *m = (const char *)sqlite3_column_text(st, 3);
        for (int i = 0; i < HWM_N; i++)
            if (!strcmp(m, HWM_METRICS[i])) v[i] = sqlite3_column_double(st, 4);
    }
    db_finalize(st);
    flush(&pts, n, &cap, &cur, v, &c);
    return pts;
}

void hwm_kernel_short(char *out, size_t n, const char *name)
{
    if (!strncmp(name, "void ", 5)) name += 5;
    static const char anon[] = "(anonymous namespace)::";
    while (!strncmp(name, anon, sizeof anon - 1)) name += sizeof anon - 1;
    size_t l = strcspn(name, "(<");
    if (l == 0) l = strlen(name);
    if (l >= n) l = n - 1;
    for (size_t i = 0; i < l; i++) out[i] = name[i] == ' ' || name[i] == '\'' || name[i] == '"' ? '_' : name[i];
    out[l] = 0;
}

void hwm_print(FILE *f, const hwm_point *p, int n, const hwm_ceilings *c)
{
    fprintf(f, "roofline: ceilings %.0f GB/s (copy), %.1f TFLOP/s (bf16 GEMM n=%d); ridge %.1f FLOP/B\n",
            c->bw / 1e9, c->flops / 1e12, c->gemm_n, c->flops / c->bw);
    fprintf(f, "%-52s %-40s %6s %11s %9s %9s %8s %8s %6s\n", "case", "kernel", "calls", "time_us", "FLOP/B",
            "TFLOP/s", "GB/s", "bound", "%ceil");
    for (int i = 0; i < n; i++) {
        const hwm_point *q = &p[i];
        fprintf(f, "%-52.52s %-40.40s %6d %11.2f %9.3g %9.3f %8.1f %8s %6.1f\n", q->case_name, q->kernel,
                q->launches, q->time_s * 1e6, q->intensity, q->flop_s / 1e12, q->bw / 1e9,
                q->memory_bound ? "memory" : "compute", q->pct);
    }
}
