/* cmd_probe.c — `purbo-bench probe NAME`: runs one probe (or all four) of
 * probe.h on the model over calibration windows, stores every probe case in
 * the results database and prints the headline numbers.
 *
 * Input is checked before the model loads (a bad name, option or database
 * path costs nothing): one line, exit 2. The run row records the probe
 * settings and the calibration text's identity (calib_describe) as its
 * config, and the seed. --backend picks where the forward pass runs (as
 * generate's does); on CUDA the probes read the rows the GPU computes
 * (backend.h) and the kernels of each pass are timed by CUPTI (probe_run.h).
 */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "probes/counters_run.h"
#include "probes/probe_run.h"

int cmd_probe(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "cupti")) return cmd_probe_cupti(argc - 1, argv + 1);
    const char *model_path = NULL, *name = NULL, *backend_kind = "auto";
    arg_results ro = {.db = ARG_DB_DEFAULT};
    int ctx = 4096, windows = 4;
    long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt("probe", argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench probe NAME --model M [options]\n"
                   "  NAME: locality | retrieval | rank | demand | all (or --probe NAME)\n"
                   "  (purbo-bench probe cupti: the GPU's hardware counters checked; --help there)\n"
                   "  Measures RTPurbo's premises on the model's dense attention over calibration\n"
                   "  windows (KJV for even windows, C from the libc6-dev headers for odd ones).\n"
                   "  --ctx N       tokens per window: a multiple of 64 in [256, the model's context]\n"
                   "                (default 4096)\n"
                   "  --windows N   windows per pass (default 4); rank fits its projections on\n"
                   "                window 0 and evaluates on the others, so it needs 2 or more\n"
                   "  --seed S      seed of the windows and documents (default 1)\n"
                   "  --backend B   cpu, cuda or auto (default auto: cuda when a GPU is usable); on\n"
                   "                cuda each pass's kernels are timed (CUPTI, kernel_timings)\n"
                   CLI_CPU_PRODUCTS_HELP
                   "  --db PATH     results database (default out/results.db)\n");
            return 0;
        } else if ((v = arg_val("probe", argc, argv, &i, "--model"))) model_path = v;
        else if ((v = arg_val("probe", argc, argv, &i, "--probe"))) name = v;
        else if ((v = arg_val("probe", argc, argv, &i, "--backend"))) backend_kind = v;
        else if (cli_cpu_products_opt("probe", argc, argv, &i)) continue;
        else if ((v = arg_val("probe", argc, argv, &i, "--ctx"))) ctx = (int)arg_long("probe", "--ctx", v, 256, 1 << 20);
        else if ((v = arg_val("probe", argc, argv, &i, "--windows"))) windows = (int)arg_long("probe", "--windows", v, 1, 100000);
        else if ((v = arg_val("probe", argc, argv, &i, "--seed"))) seed = arg_long("probe", "--seed", v, 0, (1L << 62));
        else if (argv[i][0] != '-' && !name) name = argv[i];
        else arg_bad("probe", "unknown option %s", argv[i]);
    }
    if (!name) arg_bad("probe", "which probe? locality, retrieval, rank, demand or all");
    int all = !strcmp(name, "all"), known = all;
    for (int k = 0; k < 4; k++) known |= !strcmp(name, probe_names[k]);
    if (!known) arg_bad("probe", "unknown probe '%s' (locality, retrieval, rank, demand, all)", name);
    if (ctx % 64) arg_bad("probe", "--ctx %d is not a multiple of 64", ctx);
    if ((all || !strcmp(name, "rank")) && windows < 2)
        arg_bad("probe", "rank needs --windows 2 or more (window 0 fits, the others evaluate)");
    if (!model_path) arg_bad("probe", "--model is required");
    cli_check_backend("probe", backend_kind);
    const char *db_path = ro.db;

    pb_err err;
    if (!strcmp(db_path, "out/results.db")) pb_mkdir_p("out");
    pb_db *db = db_open(db_path, &err);
    if (!db) pb_die_input(&err);
    tokenizer *tok;
    model *m = cli_load_model(model_path, &tok);
    if (ctx > m->cfg.n_ctx_train) arg_bad("probe", "--ctx %d exceeds the model's context %d", ctx, m->cfg.n_ctx_train);
    calib *cal = calib_open(tok, &err);
    if (!cal) pb_die_input(&err);
    backend *b = cli_open_backend("probe", backend_kind, m);
    const int on_cuda = !strcmp(b->name, "cuda");
    char rt[32] = "", drv[32] = "";
    if (on_cuda) backend_cuda_versions(rt, drv, sizeof rt);

    char ctx_s[32], win_s[32], seed_s[32];
    snprintf(ctx_s, sizeof ctx_s, "%d", ctx);
    snprintf(win_s, sizeof win_s, "%d", windows);
    snprintf(seed_s, sizeof seed_s, "%lld", seed);
    const char *kv[] = {"probe", name, "ctx", ctx_s, "windows", win_s, "seed", seed_s, "calib", calib_describe(cal)};
    char *config = config_canonical(kv, sizeof kv / sizeof kv[0] / 2), *cmd = db_command_line(argc, argv);
    run_meta meta = {.command = cmd, .device = b->device, .model_path = model_path, .config = config,
                     .has_seed = 1, .seed = seed, .cuda_runtime = on_cuda ? rt : NULL,
                     .cuda_driver = on_cuda && drv[0] ? drv : NULL};
    int64_t run = db_run_begin(db, &meta);
    free(config);
    free(cmd);

    const model_config *c = &m->cfg;
    probe_geom g = {.cfg = c, .n_layer = c->n_layer, .n_head = c->n_head, .n_head_kv = c->n_head_kv, .d = c->head_dim,
                    .n_ctx = ctx, .n_windows = windows};
    probe ps[4];
    int n = 0;
    for (int k = 0; k < 4; k++)
        if (all || !strcmp(name, probe_names[k])) probe_make(probe_names[k], &g, &ps[n++]);
    printf("probe %s: %s, ctx %d, %d windows, seed %lld, backend %s (%s), run %lld in %s\n", name, model_path, ctx,
           windows, seed, b->name, b->device, (long long)run, db_path);
    fflush(stdout);
    session *s = session_new_on(b, ctx);
    double t0 = pb_now();
    probe_run(s, cal, (uint64_t)seed, ps, n, &g, db, run, stdout);
    printf("done in %.1f s\n\n", pb_now() - t0);
    for (int k = 0; k < n; k++) {
        ps[k].print(ps[k].st, stdout);
        ps[k].free(ps[k].st);
    }
    db_run_end(db, run, RUN_DONE);
    printf("\nresults in %s (run %lld); plots: purbo-bench plot --db %s --run %lld --out DIR\n", db_path,
           (long long)run, db_path, (long long)run);
    db_close(db);
    session_free(s);
    backend_close(b);
    calib_free(cal);
    tok_free(tok);
    model_free(m);
    return 0;
}
