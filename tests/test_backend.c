/* test_backend.c — backend selection and CUPTI on a machine without a GPU
 * (what CI has), and the kernel_timings table written through cupti_store.
 * The CPU backend's numerics are covered by test_forward.c (the golden
 * logits go through it); the CUDA backend by tests/gpu on a GPU machine.
 */
#include <string.h>
#include <unistd.h>

#include "run/backend.h"
#include "probes/cupti.h"
#include "tests/fixture.h"
#include "tests/test.h"

TEST(backend_open_by_name)
{
    const model *m = fixture_model();
    pb_err e;
    backend *b = backend_open("cpu", m, &e);
    CHECK(b && !strcmp(b->name, "cpu") && b->act_bytes == 4 && b->w.layers[3].attn_norm == m->layers[3].attn_norm);
    backend_close(b);
    CHECK(backend_open("tpu", m, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "'tpu'") && strstr(e.msg, "cpu, cuda, auto"), "%s", e.msg);
    int gpu = backend_cuda_available(NULL, 0);
    b = backend_open("auto", m, &e);
    CHECK(b != NULL);
    CHECK_MSG(!strcmp(b->name, gpu ? "cuda" : "cpu"), "auto gave %s", b->name);
    backend_close(b);
    if (gpu) return;
    CHECK(backend_open("cuda", m, &e) == NULL);
    CHECK_MSG(!strncmp(e.msg, "--backend cuda: no CUDA device", 30) && !strchr(e.msg, '\n'), "%s", e.msg);
}

TEST(backend_cupti_fails_soft_without_device)
{
    if (backend_cuda_available(NULL, 0)) return;
    char why[256] = "";
    CHECK(cupti_begin(why, sizeof why) == 0);
    CHECK_MSG(strstr(why, "CUPTI unavailable") && !strchr(why, '\n'), "%s", why);
    CHECK(cupti_begin(why, sizeof why) == 0);   /* and again: no region was left open */
}

TEST(backend_kernel_timings_table)
{
    char path[] = "/tmp/purbo-kt-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db != NULL, "%s", e.msg);
    run_meta meta = {.command = "test", .device = "cpu"};
    int64_t run = db_run_begin(db, &meta);
    char n0[] = "rmsnorm_kernel(unsigned short*, float const*, float const*, int, float)",
         m0[] = "_Z14rmsnorm_kernelPtPKfS1_if", n1[] = "sm90_xmma_gemm", m1[] = "sm90_xmma_gemm";
    cupti_kernel k[2] = {
        {.name = n0, .mangled = m0, .grid = {7, 1, 1}, .block = {256, 1, 1}, .registers = 27,
         .static_smem = 128, .start_ns = 1000, .end_ns = 3500},
        {.name = n1, .mangled = m1, .grid = {12, 3, 1}, .block = {384, 1, 1}, .registers = 168,
         .dynamic_smem = 65536, .start_ns = 4000, .end_ns = 9000},
    };
    bench_row r = {.run_id = run, .bench = "cuda-forward", .impl = "purbo", .phase = "prefill"};
    double t = 0.5;
    bench_stats(&t, 1, &r);
    db_case_begin(db);
    int64_t bid = db_bench_add(db, &r);
    cupti_store(db, run, bid, "prefill 512", k, 2);
    db_case_commit(db);
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    DB_CHECK(h, sqlite3_prepare_v2(h, "SELECT count(*), sum(end_ns - start_ns), max(registers), min(seq),"
                                      " max(seq), count(DISTINCT bench_id) FROM kernel_timings"
                                      " WHERE run_id = ? AND case_name = 'prefill 512'", -1, &st, NULL));
    DB_CHECK(h, sqlite3_bind_int64(st, 1, run));
    DB_CHECK(h, sqlite3_step(st));
    int rows = sqlite3_column_int(st, 0), busy = sqlite3_column_int(st, 1), regs = sqlite3_column_int(st, 2);
    int s0 = sqlite3_column_int(st, 3), s1 = sqlite3_column_int(st, 4), nb = sqlite3_column_int(st, 5);
    sqlite3_finalize(st);
    db_close(db);
    unlink(path);
    CHECK(rows == 2 && busy == 7500 && regs == 168 && s0 == 0 && s1 == 1 && nb == 1);
}
