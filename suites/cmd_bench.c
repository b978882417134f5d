/* cmd_bench.c — `purbo-bench bench`: prefill and decode speed of the engine
 * on the chosen backend, on real text (the KJV, tokenized by the model's
 * tokenizer). `bench-cpu` is `bench --backend cpu`.
 *
 * Timing is the throughput suite's (suites/throughput.h, tp_time) on the
 * model's own shape, so bench and a suite's throughput task measure the
 * same way; only the input differs (text here, seeded random ids there).
 * Prefill: a fresh cache, N tokens in one session_eval with the last
 * position's logits (what generation needs), median of --repeats runs.
 * Decode: after an untimed prefill of --decode-ctx tokens, --decode-tokens
 * single-token steps make one run; median of --repeats runs. Wall clock
 * around calls that end by reading logits back (so the GPU has finished);
 * the machine should be otherwise idle.
 *
 * Each case is one bench row (bench "<backend>-forward", tokens/s). On
 * CUDA, CUPTI records the kernels of one more, untimed run of each case
 * (tp_trace_kernels, as the suite does); they go into kernel_timings in the
 * case's transaction, next to its bench row. Where CUPTI is unavailable one
 * line says so and the bench goes on without them. --counters adds the
 * hardware counters of one more run of each case (probes/counters_run.h).
 *
 * --peer llama.cpp (CPU): right after the engine's cases, llama.cpp times
 * the same cases on the same GGUF and token ids with as many threads as the
 * engine's pool (suites/bench_peer.h); its rows go into the same run with
 * impl 'llama.cpp', and a table gives both and their ratio. Where the peer
 * is missing one line says so and the engine's rows stand. Every CPU row's
 * notes carry the 1-minute load average (the engine's: as its case began;
 * the peer's: as its case ended); the engine's CPU rows also the product
 * mode ("load 0.12; products bf16", --cpu-products, backend.h).
 */
#include <string.h>

#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "results/db.h"
#include "run/forward.h"
#include "model/textsrc.h"
#include "suites/throughput.h"
#include "suites/bench_peer.h"
#include "kernels/pool.h"

#define BENCH_MAX_CASES 17     /* 16 prefill sizes + decode */

typedef struct {
    pb_db *db;
    int64_t run;
    const backend *b;
    tp_kernels kt;      /* kernel timing (CUDA with CUPTI) */
    session *s;
    const int *ids;     /* the text's token ids */
    double *t;          /* [repeats] */
    int repeats;
    int n_case;
    int case_ctx[BENCH_MAX_CASES], case_phase[BENCH_MAX_CASES];
    double ours[BENCH_MAX_CASES], theirs[BENCH_MAX_CASES]; /* tok/s; 0: none */
    const char *peer_info;
} bench_ctx;

/* "load 1.23" (the 1-minute load average) into buf, or "" where unknown. */
static const char *load_note(char *buf, size_t len)
{
    double l[1];
    buf[0] = 0;
    if (getloadavg(l, 1) == 1) snprintf(buf, len, "load %.2f", l[0]);
    return buf;
}

/* Times one case, stores it with its kernels in one transaction and prints
 * its line. */
static void bench_case(bench_ctx *bc, const model_config *c, int phase, int n_ctx, int n_tokens)
{
    tp_case tc = {.shape = {c->n_layer, c->n_head, c->n_head_kv, c->head_dim}, .context = n_ctx, .phase = phase,
                  .tokens = n_tokens};
    char load[32], notes[64];
    load_note(load, sizeof load);
    tp_time(bc->s, &tc, bc->ids, 0, bc->repeats, bc->t);
    char bench[32], case_name[64];
    snprintf(bench, sizeof bench, "%s-forward", bc->b->name);
    bench_row r;
    tp_bench_row(&tc, bc->t, bc->repeats, bc->run, bench, &r);
    if (!strcmp(bc->b->name, "cpu")) {
        snprintf(notes, sizeof notes, "%s%sproducts %s", load, load[0] ? "; " : "", bc->b->products);
        r.notes = notes;
    }
    if (bc->n_case < BENCH_MAX_CASES) {
        bc->case_ctx[bc->n_case] = n_ctx;
        bc->case_phase[bc->n_case] = phase;
        bc->ours[bc->n_case++] = r.throughput;
    }
    snprintf(case_name, sizeof case_name, "%s %d", r.phase, n_ctx);
    tp_once once = {bc->s, &tc, bc->ids};
    int64_t id = 0;
    if (bc->db) {
        db_case_begin(bc->db);
        id = db_bench_add(bc->db, &r);
    }
    int nk = tp_trace_kernels(&bc->kt, id, case_name, tp_once_fn, &once);
    if (bc->db) db_case_commit(bc->db);
    printf("%-8s %7d %7d %8d %10.4f %10.1f  %.4f..%.4f", r.phase, n_ctx, n_tokens, bc->repeats, r.t_median,
           r.throughput, r.t_min, r.t_max);
    if (nk >= 0) printf("  %d kernels", nk);
    printf("\n");
    fflush(stdout);
}

/* A case timed by the peer: its bench row (impl llama.cpp) and its tok/s. */
static void peer_case(void *arg, const char *phase, int n_ctx, int n_tokens, const double *t, int n,
                      const char *setting)
{
    bench_ctx *bc = arg;
    const model_config *c = &bc->b->m->cfg;
    int ph = !strcmp(phase, "decode") ? TP_DECODE : TP_PREFILL;
    tp_case tc = {.shape = {c->n_layer, c->n_head, c->n_head_kv, c->head_dim}, .context = n_ctx, .phase = ph,
                  .tokens = n_tokens};
    char bench[32], notes[1200], load[32];
    snprintf(bench, sizeof bench, "%s-forward", bc->b->name);
    snprintf(notes, sizeof notes, "%s; %s; %s", load_note(load, sizeof load), setting, bc->peer_info);
    bench_row r;
    tp_bench_row(&tc, t, n, bc->run, bench, &r);
    r.impl = "llama.cpp";
    r.notes = notes;
    if (bc->db) db_bench_add(bc->db, &r);
    for (int k = 0; k < bc->n_case; k++)
        if (bc->case_ctx[k] == n_ctx && bc->case_phase[k] == ph) bc->theirs[k] = r.throughput;
    printf("%-8s %7d %7d %8d %10.4f %10.1f  %.4f..%.4f  llama.cpp %s\n", r.phase, n_ctx, n_tokens, n,
           r.t_median, r.throughput, r.t_min, r.t_max, setting);
    fflush(stdout);
}

/* The peer's cases after the engine's, and the table of both. */
static void run_peer(bench_ctx *bc, const char *model_path, const int *sizes, int n_sizes, int decode_ctx,
                     int decode_tokens, int n_ids)
{
    static char info[1024];
    char why[1024];
    bench_peer_args pa = {model_path, bc->ids, n_ids, sizes, n_sizes, decode_ctx, decode_tokens, bc->repeats,
                          cpu_pool_threads()};
    bc->peer_info = info;
    if (!bench_peer_llama(&pa, peer_case, bc, info, sizeof info, why, sizeof why)) {
        printf("peer llama.cpp: MISSING or failed: %s (the purbo rows stand; install the binding with "
               "`pip install llama-cpp-python` and set PURBO_PYTHON to its interpreter)\n", why);
        fprintf(stderr, "bench: peer llama.cpp missing or failed: %s\n", why);
    }
    printf("\npurbo with cpu products %s, llama.cpp as it comes:\n", bc->b->products);
    printf("\n%-8s %7s  %11s  %15s  %7s\n", "phase", "context", "purbo tok/s", "llama.cpp tok/s", "ratio");
    for (int k = 0; k < bc->n_case; k++) {
        printf("%-8s %7d  %11.1f  ", bc->case_phase[k] == TP_DECODE ? "decode" : "prefill", bc->case_ctx[k],
               bc->ours[k]);
        if (bc->theirs[k] > 0) printf("%15.1f  %6.2fx\n", bc->theirs[k], bc->ours[k] / bc->theirs[k]);
        else printf("%15s  %7s\n", "-", "-");
    }
    printf("peer: %s\n", info[0] ? info : "none");
}

static int bench_main(const char *cmd, const char *bk, int argc, char **argv)
{
    const char *model_path = NULL, *sizes_arg = "512,2048,8192";
    arg_results ro = {.db = ARG_DB_DEFAULT};
    int repeats = 3, decode_ctx = 2048, decode_tokens = 32, counters = 0;
    const char *peer = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt(cmd, argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench %s --model M [options]\n"
                   "  Prefill and decode tokens/s of the engine on KJV text.\n"
                   "  --sizes A,B,..      prefill lengths (default 512,2048,8192)\n"
                   "  --repeats N         timed runs per case, median reported (default 3)\n"
                   "  --decode-ctx N      context before the decode steps (default 2048)\n"
                   "  --decode-tokens N   decode steps in one timed run (default 32)\n"
                   "  --backend B         cpu, cuda or auto (default %s); on cuda, CUPTI kernel\n"
                   "                      timings go into the kernel_timings table\n"
                   "  --cpu-products M    cpu: prefill's matrix products in f32 (default, the\n"
                   "                      reference) or bf16 (bf16 weights and inputs, f32 sums;\n"
                   "                      needs AVX-512 BF16); default $PURBO_CPU_PRODUCTS, else\n"
                   "                      f32; the rows' notes say which ran\n"
                   "  --db PATH           results database (default out/results.db; 'none' to skip)\n"
                   "  --counters          cuda: hardware counters per kernel of each case (CUPTI\n"
                   "                      Range Profiler, kernel replay: slow), the card's ceilings\n"
                   "                      and a roofline table; off by default\n"
                   "  --peer llama.cpp    cpu: then time llama.cpp on the same GGUF, ids, cases and\n"
                   "                      thread count (Python binding llama_cpp, interpreter\n"
                   "                      $PURBO_PYTHON); rows with impl llama.cpp and a ratio table\n",
                   cmd, bk);
            return 0;
        } else if ((v = arg_val(cmd, argc, argv, &i, "--model"))) model_path = v;
        else if ((v = arg_val(cmd, argc, argv, &i, "--backend"))) bk = v;
        else if (cli_cpu_products_opt(cmd, argc, argv, &i)) continue;
        else if ((v = arg_val(cmd, argc, argv, &i, "--sizes"))) sizes_arg = v;
        else if ((v = arg_val(cmd, argc, argv, &i, "--repeats"))) repeats = (int)arg_long(cmd, "--repeats", v, 1, 1000);
        else if ((v = arg_val(cmd, argc, argv, &i, "--decode-ctx"))) decode_ctx = (int)arg_long(cmd, "--decode-ctx", v, 1, 1 << 24);
        else if ((v = arg_val(cmd, argc, argv, &i, "--decode-tokens"))) decode_tokens = (int)arg_long(cmd, "--decode-tokens", v, 1, 100000);
        else if (arg_flag(argv, i, "--counters")) counters = 1;
        else if ((v = arg_val(cmd, argc, argv, &i, "--peer"))) peer = v;
        else arg_bad(cmd, "unknown option %s", argv[i]);
    }
    if (!model_path) arg_bad(cmd, "--model is required");
    if (peer && strcmp(peer, "llama.cpp")) arg_bad(cmd, "--peer '%s': the one peer is llama.cpp", peer);
    if (counters && !hwr_precheck()) counters = 0; /* before anything starts CUDA; 0: said why */
    const char *db_path = ro.db;
    int sizes[16], n_sizes = 0, max_n = decode_ctx + decode_tokens;
    for (const char *p = sizes_arg; *p && n_sizes < 16;) {
        char num[32];
        size_t l = strcspn(p, ",");
        if (l == 0 || l >= sizeof num) arg_bad(cmd, "bad --sizes '%s'", sizes_arg);
        memcpy(num, p, l);
        num[l] = 0;
        sizes[n_sizes] = (int)arg_long(cmd, "--sizes", num, 1, 1 << 24);
        if (sizes[n_sizes] > max_n) max_n = sizes[n_sizes];
        n_sizes++;
        p += l + (p[l] == ',');
    }
    cli_check_backend(cmd, bk);
    pb_db *db = NULL;
    if (strcmp(db_path, "none") != 0) {
        pb_err e;
        if (!strcmp(db_path, ARG_DB_DEFAULT)) pb_mkdir_p("out");
        if (!(db = db_open(db_path, &e))) pb_die_input(&e);
    }
    tokenizer *tok;
    model *m = cli_load_model(model_path, &tok);
    backend *b = cli_open_backend(cmd, bk, m);
    bench_ctx bc = {.db = db, .b = b, .kt = {.db = db, .on = !strcmp(b->name, "cuda")}, .repeats = repeats};
    if (db) {
        char *line = db_command_line(argc, argv);
        char rt[32] = "", drv[32] = "";
        if (bc.kt.on) backend_cuda_versions(rt, drv, sizeof rt);
        run_meta meta = {.command = line, .device = b->device, .model_path = model_path,
                         .cuda_runtime = rt[0] ? rt : NULL, .cuda_driver = drv[0] ? drv : NULL};
        bc.run = bc.kt.run = db_run_begin(db, &meta);
        free(line);
    }
    hwr hw = {0};
    if (counters && !(db && bc.kt.on))
        fprintf(stderr, "counters off: %s\n", db ? "the backend is not cuda" : "--db none");
    else if (counters && hwr_open(&hw, db, bc.run)) bc.kt.hw = &hw;
    if (max_n > m->cfg.n_ctx_train)
        arg_bad(cmd, "%d tokens exceed the model's context %d", max_n, m->cfg.n_ctx_train);
    pb_err err;
    size_t tl;
    const char *text = text_kjv(&tl, &err);
    if (!text) pb_die_input(&err);
    int *ids;
    /* enough text for max_n tokens: ~4 bytes a token, with margin */
    size_t want = (size_t)max_n * 8 < tl ? (size_t)max_n * 8 : tl;
    int n_ids = tok_encode(tok, text, want, 0, &ids);
    PB_CHECK(n_ids >= max_n, "KJV text gave only %d tokens", n_ids);

    session *s = session_new_on(b, max_n);
    float *logits = pb_malloc((size_t)m->cfg.n_vocab * sizeof(float));
    bc.s = s;
    bc.ids = ids;
    bc.t = pb_malloc((size_t)repeats * sizeof(double));
    if (!strcmp(b->name, "cpu")) printf("cpu products: %s\n", b->products);
    printf("%-8s %7s %7s %8s %10s %10s  %s\n", "phase", "context", "tokens", "repeats", "median s", "tok/s",
           "min..max s");
    /* one untimed pass first: module loading, cuBLAS heuristics, first-touch pages */
    session_eval(s, ids, sizes[0] < 64 ? sizes[0] : 64, logits, 1);
    for (int k = 0; k < n_sizes; k++) bench_case(&bc, &m->cfg, TP_PREFILL, sizes[k], sizes[k]);
    bench_case(&bc, &m->cfg, TP_DECODE, decode_ctx, decode_tokens);
    if (peer && strcmp(b->name, "cpu"))
        fprintf(stderr, "bench: --peer llama.cpp times the CPU only; no peer for the %s backend\n", b->name);
    else if (peer)
        run_peer(&bc, model_path, sizes, n_sizes, decode_ctx, decode_tokens, max_n);
    if (bc.kt.hw) hwr_close(&hw, 1);
    if (db) {
        db_run_end(db, bc.run, RUN_DONE);
        db_close(db);
        printf("results in %s (run %lld)\n", db_path, (long long)bc.run);
    }
    free(bc.t);
    free(logits);
    free(ids);
    session_free(s);
    backend_close(b);
    tok_free(tok);
    model_free(m);
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    return bench_main("bench", "auto", argc, argv);
}

int cmd_bench_cpu(int argc, char **argv)
{
    return bench_main("bench-cpu", "cpu", argc, argv);
}
