/* counters_run.c — hardware counters over a run (counters_run.h): the
 * collector opened once, the ceilings measured in the same process, one
 * profiled repetition per case, the replay's cost and the roofline table.
 */
#include "probes/counters_run.h"

#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/args.h"
#include "probes/cupti.h"
#include "run/backend.h"

extern char **environ;

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
    /* the GEMM is one cuBLAS kernel: name its range (auto ranges are numbered) */
    static const char *const kernel[] = {"cuBLAS bf16 GEMM"};
    db_case_begin(r->db);
    int rows = hwr_case(r, 0, name, fn, arg, kernel, 1, 0);
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

/* The last line of text[0..n) that starts with prefix, copied without it
 * into out (""). */
static void last_line(const char *text, const char *prefix, char *out, size_t n)
{
    out[0] = 0;
    size_t lp = strlen(prefix);
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l >= lp && !strncmp(p, prefix, lp)) snprintf(out, n, "%.*s", (int)(l - lp), p + lp);
        p = e ? e + 1 : NULL;
    }
}

int hwr_check_process(const char *exe, int early, char *why, size_t why_len)
{
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(why, why_len, "check process: pipe failed");
        return 0;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    char *argv[] = {(char *)exe, "probe", "cupti", "--gemm", "2048", early ? "--early" : NULL, NULL};
    setenv("PURBO_COUNTERS_TRACE", "1", 1);
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
    unsetenv("PURBO_COUNTERS_TRACE");
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        snprintf(why, why_len, "check process: cannot start %s: %s", exe, strerror(rc));
        return 0;
    }
    size_t cap = 1 << 16, len = 0;
    char *out = pb_malloc(cap + 1);
    ssize_t k;
    while ((k = read(fd[0], out + len, cap - len)) > 0) len += (size_t)k; /* the rest, if any, is dropped */
    out[len] = 0;
    char buf[256];
    while (read(fd[0], buf, sizeof buf) > 0) {}
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) {
        char stepped[256], said[400];
        last_line(out, "counters: step ", stepped, sizeof stepped);
        last_line(out, "counters off: ", said, sizeof said);
        if (WIFSIGNALED(st))
            snprintf(why, why_len, "the profiler crashed a check process (signal %d, %s) in step '%s'", WTERMSIG(st),
                     strsignal(WTERMSIG(st)), stepped[0] ? stepped : "?");
        else if (said[0]) snprintf(why, why_len, "%s", said);
        else snprintf(why, why_len, "the check process exited with status %d after step '%s'", WEXITSTATUS(st),
                      stepped[0] ? stepped : "?");
    }
    free(out);
    return ok;
}

/* What hwr_precheck decided: -1 not run, 0 off (said), 1 the profiler is
 * initialised before CUDA (done), 2 after (hwc_open does it). */
static int g_mode = -1;

/* This program's path when it is purbo-bench (it has `probe cupti`), else 0. */
static int self_exe(char *exe, size_t n)
{
    ssize_t l = readlink("/proc/self/exe", exe, n - 1);
    exe[l > 0 ? l : 0] = 0;
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    return l > 0 && !strncmp(base, "purbo-bench", 11);
}

int hwr_precheck(void)
{
    char exe[4096], why_e[512] = "", why_l[512] = "";
    if (getenv("PURBO_COUNTERS_NO_CHECK") || !self_exe(exe, sizeof exe)) return (g_mode = 2);
    if (hwr_check_process(exe, 1, why_e, sizeof why_e)) {
        if (hwc_preinit(why_e, sizeof why_e)) {
            fprintf(stderr, "counters: check process passed; CUPTI's profiler initialised before CUDA\n");
            return (g_mode = 1);
        }
    }
    if (hwr_check_process(exe, 0, why_l, sizeof why_l)) {
        fprintf(stderr, "counters: check process passed with CUDA first (profiler before CUDA: %s)\n", why_e);
        return (g_mode = 2);
    }
    fprintf(stderr, "counters off: profiler before CUDA: %s; after: %s\n", why_e, why_l);
    return (g_mode = 0);
}

int hwr_open(hwr *r, pb_db *db, int64_t run)
{
    char why[512];
    *r = (hwr){.db = db, .run = run};
    if (g_mode == 0) return 0; /* hwr_precheck said why */
    if (!backend_cuda_available(why, sizeof why)) {
        fprintf(stderr, "counters off: %s\n", why);
        return 0;
    }
    /* not prechecked: a process of its own first, so that a crash inside
     * CUPTI costs the counters, not the run */
    char exe[4096];
    if (g_mode < 0 && !getenv("PURBO_COUNTERS_NO_CHECK") && self_exe(exe, sizeof exe) &&
        !hwr_check_process(exe, 0, why, sizeof why)) {
        fprintf(stderr, "counters off: %s\n", why);
        return 0;
    }
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
    /* room for the launches the kernel trace counted, with a margin */
    int max_ranges = names && n_names > 0 ? 2 * n_names + 16 : 0;
    if (!hwc_collect(r->h, max_ranges, fn, arg, &hr, why, sizeof why)) {
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
            rows, t, slow, hr.dropped ? " (ranges dropped)" : "");
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

/* probe cupti's GEMM check: one collection, its ranges printed. */
typedef struct {
    hwc *h;
    int n, ok;
    char why[512];
} probe_ctx;

static void probe_gemm(void (*fn)(void *), void *arg, void *ctx)
{
    probe_ctx *p = ctx;
    hwm_ranges r;
    /* as a run does it: an Activity API region first (kernel timings), then the profiler */
    char w[256];
    if (getenv("PURBO_COUNTERS_TRACE")) fprintf(stderr, "counters: step an Activity API region around the GEMM\n");
    if (cupti_begin(w, sizeof w)) {
        fn(arg);
        int nk = 0;
        cupti_kernels_free(cupti_end(&nk, NULL), nk);
    }
    if (!(p->ok = hwc_collect(p->h, 64, fn, arg, &r, p->why, sizeof p->why))) return;
    double ops = 0;
    for (int i = 0; i < r.n_range; i++) {
        printf("range %d %s:\n", i, r.range[i]);
        for (int m = 0; m < HWM_N; m++)
            if (!isnan(r.value[(size_t)i * HWM_N + m]))
                printf("  %-76s %.6g\n", HWM_METRICS[m], r.value[(size_t)i * HWM_N + m]);
        double v = r.value[(size_t)i * HWM_N + HWM_OPS_BF16];
        if (!isnan(v)) ops += v;
    }
    double want = 2.0 * p->n * (double)p->n * p->n;
    printf("counters check: bf16 GEMM %d^3: %s = %.4g, %.3f x 2 n^3\n", p->n, HWM_METRICS[HWM_OPS_BF16], ops,
           ops / want);
    hwm_ranges_free(&r);
}

int cmd_probe_cupti(int argc, char **argv)
{
    int n = 8192, early = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench probe cupti [--gemm N] [--early]\n"
                   "  Checks the hardware counters here: opens CUPTI's Range Profiler, says which\n"
                   "  metrics the chip has and how many replay passes they take, measures the two\n"
                   "  roofline ceilings (device copy, cuBLAS bf16 GEMM of N^3, default 8192) and\n"
                   "  prints the GEMM's counters with its tensor op count against 2 N^3. Nothing is\n"
                   "  stored. Exit 1 with one line when counters cannot be read here.\n"
                   "  --early: initialise the profiler before CUDA starts (else after).\n"
                   "  PURBO_COUNTERS_TRACE=1 names each CUPTI step on stderr before it runs.\n");
            return 0;
        } else if (arg_flag(argv, i, "--early")) early = 1;
        else if ((v = arg_val("probe cupti", argc, argv, &i, "--gemm")))
            n = (int)arg_long("probe cupti", "--gemm", v, 64, 32768);
        else arg_bad("probe cupti", "unknown option %s", argv[i]);
    }
    char why[512];
    probe_ctx p = {.n = n};
    if (early && !hwc_preinit(why, sizeof why)) {
        fprintf(stderr, "counters off: %s\n", why);
        return 1;
    }
    if (!(p.h = hwc_open(why, sizeof why))) {
        fprintf(stderr, "counters off: %s\n", why);
        return 1;
    }
    const char *miss = hwc_missing(p.h);
    printf("counters: chip %s, %d replay passes per kernel; %s%s\n", hwc_chip(p.h), hwc_passes(p.h),
           miss[0] ? "not on this chip: " : "every metric available", miss);
    double bw, flops;
    int ok = backend_cuda_ceilings((size_t)256 << 20, n, &bw, &flops, probe_gemm, &p, why, sizeof why);
    hwc_close(p.h);
    if (!ok || !p.ok) {
        fprintf(stderr, "counters off: %s\n", ok ? p.why : why);
        return 1;
    }
    printf("ceilings at these sizes: %.0f GB/s (256 MiB copy), %.1f TFLOP/s (GEMM %d^3)\n", bw / 1e9, flops / 1e12, n);
    return 0;
}
