/* counters_run.c — hardware counters over a run (counters_run.h): the
 * collector opened once, the ceilings measured in the same process, one
 * profiled repetition per case, the replay's cost and the roofline table.
 */
#include "probes/counters_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "run/backend.h"

#define HWR_COPY_BYTES ((size_t)1 << 31) /* 2 GiB: far beyond any L2 */
#define HWR_GEMM_N 8192

static void off(hwr *r, const char *why)
{
    fprintf(stderr, "counters off: %s\n", why);
    hwc_close(r->h);
    r->h = NULL;
}

/* backend_cuda_ceilings' probe: the GEMM profiled and stored as a case. */
static void gemm_probe(void (*fn)(void *), void *arg, void *ctx)
{
    hwr *r = ctx;
    char name[64];
    snprintf(name, sizeof name, "ceiling bf16 gemm %d", HWR_GEMM_N);
    db_case_begin(r->db);
    int rows = hwr_case(r, 0, name, fn, arg, NULL, 0, 0);
    db_case_commit(r->db);
    if (rows <= 0) return;
    /* the check: tensor ops of the GEMM's kernels against 2 n^3 */
    sqlite3_stmt *st = db_prepare_id(r->db, "SELECT sum(value) FROM hw_metrics WHERE run_id = ? AND case_name = ?2"
                                            " AND metric = ?3", r->run);
    db_bind_text(st, 2, name);
    db_bind_text(st, 3, HWM_METRICS[HWM_OPS_BF16]);
    double ops = db_step(st) == SQLITE_ROW ? sqlite3_column_double(st, 0) : NAN;
    db_finalize(st);
    double want = 2.0 * HWR_GEMM_N * (double)HWR_GEMM_N * HWR_GEMM_N;
    fprintf(stderr, "counters check: %s: %s = %.4g, %.3f x 2 n^3\n", name, HWM_METRICS[HWM_OPS_BF16], ops,
            ops / want);
}

int hwr_open(hwr *r, pb_db *db, int64_t run)
{
    char why[512];
    *r = (hwr){.db = db, .run = run};
    if (!(r->h = hwc_open(why, sizeof why))) {
        fprintf(stderr, "counters off: %s\n", why);
        return 0;
    }
    const char *miss = hwc_missing(r->h);
    fprintf(stderr, "counters: chip %s, %d replay passes per kernel; %s%s\n", hwc_chip(r->h), hwc_passes(r->h),
            miss[0] ? "not on this chip (not stored): " : "every metric available", miss);
    hwm_ceilings *c = &r->ceil;
    c->copy_bytes = (double)HWR_COPY_BYTES;
    c->gemm_n = HWR_GEMM_N;
    if (!backend_cuda_ceilings(HWR_COPY_BYTES, HWR_GEMM_N, &c->bw, &c->flops, gemm_probe, r, why, sizeof why)) {
        off(r, why);
        return 0;
    }
    hwm_store_ceilings(db, run, c);
    fprintf(stderr, "counters: ceilings %.0f GB/s (copy), %.1f TFLOP/s (bf16 GEMM %d^3)\n", c->bw / 1e9,
            c->flops / 1e12, HWR_GEMM_N);
    return r->h != NULL;
}

int hwr_case(hwr *r, int64_t bench_id, const char *case_name, void (*fn)(void *), void *arg,
             const char *const *names, int n_names, double plain_s)
{
    if (!r->h) return -1;
    char why[512];
    hwm_ranges hr;
    double t0 = pb_now();
    if (!hwc_collect(r->h, fn, arg, &hr, why, sizeof why)) {
        off(r, why);
        return -1;
    }
    double t = pb_now() - t0;
    int rows = hwm_store(r->db, r->run, bench_id, case_name, &hr, names, n_names);
    if (plain_s > 0) {
        r->plain_s += plain_s;
        r->replay_s += t;
        r->cases++;
    }
    char slow[64] = "";
    if (plain_s > 0) snprintf(slow, sizeof slow, " vs %.3f s plain (x%.0f)", plain_s, t / plain_s);
    fprintf(stderr, "counters: %s: %d kernels%s, %d rows, replay %.3f s%s%s\n", case_name, hr.n_range,
            names && n_names != hr.n_range ? " (launch count differs from the kernel timings: range names kept)"
                                           : "",
            rows, t, slow, hr.dropped ? " (ranges dropped: raise HWC_MAX_RANGES)" : "");
    hwm_ranges_free(&hr);
    return rows;
}

void hwr_close(hwr *r, int table)
{
    if (r->cases)
        printf("counters: replay %.2f s over %d cases vs %.2f s plain: x%.1f slower\n", r->replay_s, r->cases,
               r->plain_s, r->replay_s / r->plain_s);
    if (table && (r->h || r->cases)) {
        int n;
        hwm_point *p = hwm_roofline(r->db, r->run, &n);
        if (n > 0) hwm_print(stdout, p, n, &r->ceil);
        free(p);
    }
    hwc_close(r->h);
    r->h = NULL;
}
