/* cmd_bench.c — `purbo-bench bench`: prefill and decode speed of the engine
 * on the chosen backend, on real text (the KJV, tokenized by the model's
 * tokenizer). `bench-cpu` is `bench --backend cpu`.
 *
 * Prefill: a fresh cache, N tokens in one session_eval with the last
 * position's logits (what generation needs), median of --repeats runs.
 * Decode: after a prefill of --decode-ctx tokens, --decode-tokens single
 * token steps; the median step time gives tokens/s. Timing is wall clock
 * around calls that end by reading logits back (so the GPU has finished);
 * the machine should be otherwise idle.
 *
 * On CUDA, CUPTI records every kernel of each case's last prefill repeat
 * and of the decode steps; they go into kernel_timings in the case's
 * transaction, next to its bench row. Where CUPTI is unavailable one line
 * says so and the bench goes on without them.
 */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "probes/cupti.h"
#include "results/db.h"
#include "run/forward.h"
#include "model/textsrc.h"

typedef struct {
    pb_db *db;
    int64_t run;
    const backend *b;
    int cupti;          /* kernel timing on (CUDA with CUPTI) */
} bench_ctx;

/* Starts kernel recording for a case when it is on; turns it off for the
 * rest of the run, with one line, when CUPTI cannot start. */
static void kernels_begin(bench_ctx *bc)
{
    char why[256];
    if (bc->cupti && !cupti_begin(why, sizeof why)) {
        fprintf(stderr, "purbo-bench bench: no kernel timings: %s\n", why);
        bc->cupti = 0;
    }
}

/* Stores one measured case (n timed repeats) with its kernels, in one
 * transaction, and prints its line. */
static void record(bench_ctx *bc, const model_config *c, const char *phase, int n_ctx, int n_tokens,
                   const double *t, int n)
{
    char bench[32], case_name[64];
    snprintf(bench, sizeof bench, "%s-forward", bc->b->name);
    snprintf(case_name, sizeof case_name, "%s %d", phase, n_ctx);
    bench_row r = {.run_id = bc->run, .bench = bench, .impl = "purbo", .phase = phase,
                   .n_layer = c->n_layer, .n_head = c->n_head, .n_kv_head = c->n_head_kv,
                   .head_dim = c->head_dim, .n_ctx = n_ctx, .n_tokens = n_tokens, .throughput_unit = "tok/s"};
    bench_stats(t, n, &r);
    r.throughput = n_tokens / r.t_median;
    int nk = 0;
    cupti_kernel *k = bc->cupti ? cupti_end(&nk, NULL) : NULL;
    if (bc->db) {
        db_case_begin(bc->db);
        int64_t id = db_bench_add(bc->db, &r);
        if (k) cupti_store(bc->db, bc->run, id, case_name, k, nk);
        db_case_commit(bc->db);
    }
    printf("%-8s %7d %7d %8d %10.4f %10.1f  %.4f..%.4f", phase, n_ctx, n_tokens, n, r.t_median, r.throughput,
           r.t_min, r.t_max);
    if (bc->cupti) printf("  %d kernels", nk);
    printf("\n");
    fflush(stdout);
    if (k) cupti_kernels_free(k, nk);
}

static int bench_main(const char *cmd, const char *bk, int argc, char **argv)
{
    const char *model_path = NULL, *sizes_arg = "512,2048,8192", *db_path = "out/results.db";
    int repeats = 3, decode_ctx = 2048, decode_tokens = 32;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench %s --model M [options]\n"
                   "  Prefill and decode tokens/s of the engine on KJV text.\n"
                   "  --sizes A,B,..      prefill lengths (default 512,2048,8192)\n"
                   "  --repeats N         prefill runs per length, median reported (default 3)\n"
                   "  --decode-ctx N      context before the decode steps (default 2048)\n"
                   "  --decode-tokens N   decode steps timed (default 32)\n"
                   "  --backend B         cpu, cuda or auto (default %s); on cuda, CUPTI kernel\n"
                   "                      timings go into the kernel_timings table\n"
                   "  --db PATH           results database (default out/results.db; 'none' to skip)\n",
                   cmd, bk);
            return 0;
        } else if ((v = arg_val(cmd, argc, argv, &i, "--model"))) model_path = v;
        else if ((v = arg_val(cmd, argc, argv, &i, "--db"))) db_path = v;
        else if ((v = arg_val(cmd, argc, argv, &i, "--backend"))) bk = v;
        else if ((v = arg_val(cmd, argc, argv, &i, "--sizes"))) sizes_arg = v;
        else if ((v = arg_val(cmd, argc, argv, &i, "--repeats"))) repeats = (int)arg_long(cmd, "--repeats", v, 1, 1000);
        else if ((v = arg_val(cmd, argc, argv, &i, "--decode-ctx"))) decode_ctx = (int)arg_long(cmd, "--decode-ctx", v, 1, 1 << 24);
        else if ((v = arg_val(cmd, argc, argv, &i, "--decode-tokens"))) decode_tokens = (int)arg_long(cmd, "--decode-tokens", v, 1, 100000);
        else arg_bad(cmd, "unknown option %s", argv[i]);
    }
    if (!model_path) arg_bad(cmd, "--model is required");
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
        if (!strcmp(db_path, "out/results.db")) pb_mkdir_p("out");
        if (!(db = db_open(db_path, &e))) pb_die_input(&e);
    }
    tokenizer *tok;
    model *m = cli_load_model(model_path, &tok);
    backend *b = cli_open_backend(cmd, bk, m);
    bench_ctx bc = {.db = db, .b = b, .cupti = !strcmp(b->name, "cuda")};
    if (db) {
        char *line = db_command_line(argc, argv);
        char rt[32] = "", drv[32] = "";
        if (bc.cupti) backend_cuda_versions(rt, drv, sizeof rt);
        run_meta meta = {.command = line, .device = b->device, .model_path = model_path,
                         .cuda_runtime = rt[0] ? rt : NULL, .cuda_driver = drv[0] ? drv : NULL};
        bc.run = db_run_begin(db, &meta);
        free(line);
    }
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
    double *t = pb_malloc((size_t)(repeats > decode_tokens ? repeats : decode_tokens) * sizeof(double));
    printf("%-8s %7s %7s %8s %10s %10s  %s\n", "phase", "context", "tokens", "repeats", "median s", "tok/s",
           "min..max s");
    /* one untimed pass first: module loading, cuBLAS heuristics, first-touch pages */
    session_eval(s, ids, sizes[0] < 64 ? sizes[0] : 64, logits, 1);
    for (int k = 0; k < n_sizes; k++) {
        for (int r = 0; r < repeats; r++) {
            session_reset(s);
            if (r == repeats - 1) kernels_begin(&bc);
            double t0 = pb_now();
            session_eval(s, ids, sizes[k], logits, 1);
            t[r] = pb_now() - t0;
        }
        record(&bc, &m->cfg, "prefill", sizes[k], sizes[k], t, repeats);
    }
    session_reset(s);
    session_eval(s, ids, decode_ctx, logits, 1);
    kernels_begin(&bc);
    for (int i = 0; i < decode_tokens; i++) {
        double t0 = pb_now();
        session_eval(s, &ids[decode_ctx + i], 1, logits, 1);
        t[i] = pb_now() - t0;
    }
    record(&bc, &m->cfg, "decode", decode_ctx, 1, t, decode_tokens);
    if (db) {
        db_run_end(db, bc.run, RUN_DONE);
        db_close(db);
        printf("results in %s (run %lld)\n", db_path, (long long)bc.run);
    }
    free(t);
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
