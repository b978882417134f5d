/* test_hw_metrics.c — the CPU side of the hardware counters: hw_metrics and
 * hw_ceilings storage from made-up collections (metrics the chip lacks as
 * NaN), the roofline's numbers (intensity = FLOP / DRAM bytes, achieved
 * rates, bound, % of the ceiling, launches of one kernel summed), the
 * roofline chart's data, and the collector failing soft without a device.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "plots/plot_kit.h"
#include "probes/counters_run.h"
#include "probes/hw_metrics.h"
#include "results/db.h"
#include "run/backend.h"
#include "tests/test.h"

static pb_db *fresh_db(char *path, int64_t *run)
{
    strcpy(path, "/tmp/purbo-hwm-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    close(fd);
    unlink(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    if (!db) return NULL;
    run_meta meta = {.command = "test", .device = "cpu"};
    *run = db_run_begin(db, &meta);
    return db;
}

/* A collection of n ranges, every metric NaN (not on the chip). */
static hwm_ranges ranges(int n, int passes)
{
    hwm_ranges r = {.n_range = n, .passes = passes};
    r.range = pb_calloc((size_t)n, sizeof *r.range);
    r.value = pb_malloc((size_t)n * HWM_N * sizeof *r.value);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        r.range[i] = strdup(name);
    }
    for (int i = 0; i < n * HWM_N; i++) r.value[i] = NAN;
    return r;
}

static void set(hwm_ranges *r, int range, int metric, double v) { r->value[(size_t)range * HWM_N + metric] = v; }

static int count_rows(pb_db *db, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM hw_metrics WHERE %s", where);
    sqlite3_stmt *st = db_prepare(db, sql);
    db_step(st);
    int n = sqlite3_column_int(st, 0);
    db_finalize(st);
    return n;
}

TEST(hw_metrics_store_skips_missing)
{
    char path[64];
    int64_t run;
    pb_db *db = fresh_db(path, &run);
    CHECK(db != NULL);
    /* two launches; the chip "lacks" everything but time, DRAM read and the L2 hit rate */
    hwm_ranges r = ranges(2, 7);
    for (int i = 0; i < 2; i++) {
        set(&r, i, HWM_TIME_NS, 1000.0 * (i + 1));
        set(&r, i, HWM_DRAM_READ, 4096.0 * (i + 1));
        set(&r, i, HWM_L2_HIT_PCT, 50.0);
    }
    const char *names[2] = {"rmsnorm_kernel(float*, int)", "void attn_decode<64>(bf16 const*)"};
    db_case_begin(db);
    int rows = hwm_store(db, run, 0, "decode 512", &r, names, 2);
    /* a launch count that does not match the names: the range names are kept */
    int rows2 = hwm_store(db, run, 0, "prefill 512", &r, names, 1);
    db_case_commit(db);
    CHECK(rows == 6 && rows2 == 6);
    CHECK(count_rows(db, "case_name = 'decode 512' AND kernel = 'rmsnorm_kernel(float*, int)' AND seq = 0") == 3);
    CHECK(count_rows(db, "case_name = 'prefill 512' AND kernel = '1' AND seq = 1") == 3);
    CHECK(count_rows(db, "metric = 'dram__bytes_write.sum'") == 0);
    CHECK(count_rows(db, "passes = 7 AND bench_id IS NULL") == 12);
    CHECK(count_rows(db, "metric = 'dram__bytes_read.sum' AND value = 8192") == 2);
    hwm_ranges_free(&r);
    CHECK(r.n_range == 0 && r.value == NULL);
    db_close(db);
    unlink(path);
}

TEST(hw_metrics_point_eval)
{
    hwm_ceilings c = {.bw = 4e12, .flops = 800e12};  /* ridge 200 FLOP/B */
    double v[HWM_N];
    for (int i = 0; i < HWM_N; i++) v[i] = NAN;
    hwm_point p = {0};
    CHECK(!hwm_point_eval(v, &c, &p));               /* no time, no bytes */
    v[HWM_TIME_NS] = 1e6;                            /* 1 ms */
    CHECK(!hwm_point_eval(v, &c, &p));               /* still no bytes */
    v[HWM_DRAM_READ] = 3e9;
    v[HWM_DRAM_WRITE] = 1e9;
    /* FP32 only (no tensor counters on the chip): 2 ffma + fadd + fmul */
    v[HWM_FFMA] = 1e9;
    v[HWM_FADD] = 0.5e9;
    v[HWM_FMUL] = 0.5e9;
    CHECK(hwm_point_eval(v, &c, &p));
    CHECK_NEAR(p.flop, 3e9, 1);
    CHECK_NEAR(p.bytes, 4e9, 1);
    CHECK_NEAR(p.intensity, 0.75, 1e-12);
    CHECK_NEAR(p.flop_s, 3e12, 1);
    CHECK_NEAR(p.bw, 4e12, 1);
    CHECK(p.memory_bound);
    CHECK_NEAR(p.pct, 100, 1e-9);                    /* 4 TB/s of a 4 TB/s ceiling */
    /* tensor ops make it compute-bound: 1e15 + the FP32 3e9 over 4e9 bytes */
    v[HWM_OPS_BF16] = 4e14;
    v[HWM_OPS_FP16] = 6e14;
    CHECK(hwm_point_eval(v, &c, &p));
    CHECK(!p.memory_bound);
    CHECK_NEAR(p.intensity, (1e15 + 3e9) / 4e9, 1e-6);
    CHECK_NEAR(p.pct, 100 * (1e15 + 3e9) / 1e-3 / 800e12, 1e-6);
    char k[100];
    hwm_kernel_short(k, sizeof k, "void attn_prefill_v5<128, 64>(bf16 const*, int)");
    CHECK(!strcmp(k, "attn_prefill_v5"));
    hwm_kernel_short(k, sizeof k, "rmsnorm_kernel(unsigned short*, float const*)");
    CHECK(!strcmp(k, "rmsnorm_kernel"));
    hwm_kernel_short(k, 8, "sm90_xmma_gemm_bf16");
    CHECK(!strcmp(k, "sm90_xm"));
    hwm_kernel_short(k, sizeof k, "void (anonymous namespace)::gemv_kernel<2, 2>((anonymous namespace)::args, int)");
    CHECK(!strcmp(k, "gemv_kernel"));
}

/* Two cases: a GEMM-like kernel launched twice and a copy-like one, with
 * the ceilings stored as a run with counters would. */
static void roofline_fixture(pb_db *db, int64_t run)
{
    hwm_ceilings c = {.bw = 4e12, .flops = 800e12, .copy_bytes = 1 << 30, .gemm_n = 8192};
    hwm_store_ceilings(db, run, &c);
    hwm_ranges r = ranges(3, 4);
    /* launch 0 and 2: gemm (200 us each, 1e11 tensor ops, 1e8 bytes) */
    for (int i = 0; i < 3; i += 2) {
        set(&r, i, HWM_TIME_NS, 200e3);
        set(&r, i, HWM_OPS_BF16, 1e11);
        set(&r, i, HWM_DRAM_READ, 0.75e8);
        set(&r, i, HWM_DRAM_WRITE, 0.25e8);
    }
    /* launch 1: rope (10 us, 1e5 ffma, 2e7 bytes) */
    set(&r, 1, HWM_TIME_NS, 10e3);
    set(&r, 1, HWM_FFMA, 1e5);
    set(&r, 1, HWM_DRAM_READ, 1e7);
    set(&r, 1, HWM_DRAM_WRITE, 1e7);
    const char *names[3] = {"sm90_gemm_bf16(int)", "void rope_kernel<64>(float*)", "sm90_gemm_bf16(int)"};
    db_case_begin(db);
    hwm_store(db, run, 0, "prefill 1024", &r, names, 3);
    hwm_store(db, run, 0, "prefill 4096", &r, names, 3);
    db_case_commit(db);
    hwm_ranges_free(&r);
}

TEST(hw_metrics_roofline_from_db)
{
    char path[64];
    int64_t run;
    pb_db *db = fresh_db(path, &run);
    CHECK(db != NULL);
    int n;
    hwm_point *p = hwm_roofline(db, run, &n);
    CHECK(p == NULL && n == -1);                      /* no ceilings: no roofline */
    roofline_fixture(db, run);
    hwm_ceilings c;
    CHECK(hwm_load_ceilings(db, run, &c));
    CHECK(c.bw == 4e12 && c.flops == 800e12 && c.gemm_n == 8192 && c.copy_bytes == (double)(1 << 30));
    p = hwm_roofline(db, run, &n);
    CHECK_MSG(n == 4, "%d points", n);                /* 2 kernels x 2 cases */
    CHECK(!strcmp(p[0].case_name, "prefill 1024") && !strcmp(p[0].kernel, "sm90_gemm_bf16"));
    CHECK(!strcmp(p[1].kernel, "rope_kernel") && !strcmp(p[3].case_name, "prefill 4096"));
    CHECK(p[0].launches == 2 && p[1].launches == 1 && p[0].seq == 0 && p[1].seq == 1);
    CHECK_NEAR(p[0].time_s, 400e-6, 1e-12);
    CHECK_NEAR(p[0].intensity, 1000, 1e-9);           /* 2e11 FLOP / 2e8 B */
    CHECK_NEAR(p[0].flop_s, 5e14, 1);
    CHECK(!p[0].memory_bound);
    CHECK_NEAR(p[0].pct, 62.5, 1e-9);                 /* 500 of 800 TFLOP/s */
    CHECK_NEAR(p[1].intensity, 2e5 / 2e7, 1e-12);
    CHECK(p[1].memory_bound);
    CHECK_NEAR(p[1].pct, 50, 1e-9);                   /* 2e7 B in 10 us = 2 TB/s of 4 */
    /* the table names both ceilings and every point */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hwm_print(f, p, n, &c);
    fclose(f);
    CHECK(strstr(buf, "4000 GB/s") && strstr(buf, "800.0 TFLOP/s") && strstr(buf, "rope_kernel"));
    CHECK(strstr(buf, " memory ") && strstr(buf, " compute ") && strstr(buf, "62.5"));
    free(buf);
    free(p);
    db_close(db);
    unlink(path);
}

TEST(hw_metrics_roofline_plot_data)
{
    char path[64], dir[] = "/tmp/purbo-roof-XXXXXX";
    int64_t run;
    pb_db *db = fresh_db(path, &run);
    CHECK(db != NULL && mkdtemp(dir));
    roofline_fixture(db, run);
    plot_job job = {.db = db, .run = run, .dir = dir, .model = "test"};
    int drawn = plot_roofline(&job);
    char file[128];
    snprintf(file, sizeof file, "%s/roofline.dat", dir);
    FILE *f = fopen(file, "r");
    CHECK(f != NULL);
    char line[256];
    int points = 0, blocks = 0;
    double x = 0, y = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' && line[1] == ' ' && !strstr(line, "intensity")) blocks++;
        else if (line[0] != '#' && line[0] != '\n' && sscanf(line, "%lf %lf", &x, &y) == 2) points++;
        if (points == 1 && blocks == 1 && x > 0) {
            CHECK_NEAR(x, 1000, 1e-3);   /* the GEMM at 1024: 1000 FLOP/B, 5e14 FLOP/s */
            CHECK_NEAR(y, 5e14, 1e9);
            x = -1;
        }
    }
    fclose(f);
    CHECK_MSG(points == 4 && blocks == 2, "%d points, %d blocks", points, blocks);
    if (access("/usr/bin/gnuplot", X_OK) == 0) {
        snprintf(file, sizeof file, "%s/roofline.png", dir);
        CHECK(drawn == 1 && access(file, R_OK) == 0);
        snprintf(file, sizeof file, "%s/roofline.svg", dir); /* the scalable copy beside it */
        CHECK(access(file, R_OK) == 0);
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    db_close(db);
    unlink(path);
}

TEST(hw_counters_off_without_device)
{
    if (backend_cuda_available(NULL, 0)) return;
    char why[512] = "";
    CHECK(hwc_open(why, sizeof why) == NULL);
    CHECK_MSG(why[0] && !strchr(why, '\n'), "%s", why);
    char path[64];
    int64_t run;
    pb_db *db = fresh_db(path, &run);
    CHECK(db != NULL);
    hwr r;
    CHECK(hwr_open(&r, db, run) == 0 && r.h == NULL);
    /* off: a case is a no-op that says so by -1, and nothing is stored */
    CHECK(hwr_case(&r, 0, "x", NULL, NULL, NULL, 0, 1.0) == -1);
    CHECK(count_rows(db, "1") == 0);
    hwr_close(&r, 1);
    db_close(db);
    unlink(path);
}

/* The check process's verdicts, with scripts standing in for purbo-bench:
 * a crash inside CUPTI, a soft refusal, and success. */
TEST(hw_counters_check_process_verdicts)
{
    char dir[] = "/tmp/purbo-hwc-XXXXXX", path[64], why[512];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/fake", dir);
    const char *bodies[3] = {
        "echo 'counters: step CUDA context' >&2\necho 'counters: step P.p_cuptiProfilerInitialize(&ip)' >&2\n"
        "kill -SEGV $$\n",
        "echo 'counters: step P.p_cuptiProfilerGetCounterAvailability(&ap)' >&2\n"
        "echo 'counters off: no permission to read GPU counters (x)' >&2\nexit 1\n",
        "test \"$1 $2 $3 $4 $5\" = 'probe cupti --gemm 2048 --early' && test -n \"$PURBO_COUNTERS_TRACE\"\n"};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        fprintf(f, "#!/bin/sh\n%s", bodies[k]);
        fclose(f);
        CHECK(chmod(path, 0755) == 0);
        why[0] = 0;
        int ok = hwr_check_process(path, k == 2, why, sizeof why);
        if (k == 0)
            CHECK_MSG(!ok && strstr(why, "signal 11") && strstr(why, "'P.p_cuptiProfilerInitialize(&ip)'"), "%s",
                      why);
        if (k == 1) CHECK_MSG(!ok && !strcmp(why, "no permission to read GPU counters (x)"), "%s", why);
        if (k == 2) CHECK_MSG(ok, "%s", why);
        CHECK(!strchr(why, '\n'));
    }
    CHECK(getenv("PURBO_COUNTERS_TRACE") == NULL); /* set for the child only */
    unlink(path);
    rmdir(dir);
}
