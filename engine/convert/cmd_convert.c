/* cmd_convert.c — `purbo-bench convert`: a dense model in, an RTPurbo plan
 * file out (METHOD.md §3, engine/convert/CONVERT.md).
 *
 *   1. retrieval heads: one dense pass over --probe-docs documents of --ctx
 *      tokens (a span placed twice) feeds the retrieval probe (repeated-span
 *      score) and the locality probe (mass within sinks + W recent tokens).
 *      The need rule (the default): every head that holds less than --keep
 *      of its mass within the local window W, or whose repeated-span score
 *      is at least --min-score, is a retrieval head; the rest are local.
 *      With --rho: the top --rho of query heads by score instead (and W from
 *      the locality of the calibration pass). Or --retrieval-heads as given;
 *   2. one dense pass over --windows + --eval-windows calibration windows
 *      with the capture of the retrieval heads' pre-RoPE q/k
 *      (convert_capture.c) and, under --rho without --window, the locality
 *      probe for W (convert_select.c's rule);
 *   3. per retrieval head: teacher rows, PCA/SVD initialisation, quality,
 *      --steps of AdamW on the KL, quality again; both into the database
 *      (convert_heads.c: the heads on --threads threads, the same plan for
 *      any count);
 *   4. the plan file (written whole, then renamed into place) and its row.
 * Input is checked before the model loads; the output path is tried before
 * any work, so a bad --out costs nothing. Progress on stderr: one redrawn
 * line on a terminal, a line per head otherwise. --backend picks where the
 * dense passes of 1 and 2 run (CUDA: the probes read the GPU's rows and
 * CUPTI times each pass, probe_run.h); the indexer training of 3 runs on the
 * CPU either way.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "convert/convert_run.h"
#include "policy/planfile.h"
#include "probes/probe_run.h"

/* the need rule's default W; steps per head: the rule makes most of SmolLM2's
 * heads retrieval heads (249 of 270), and 100 steps keep the conversion near
 * 4 minutes on two cores (300 would take about 9) */
enum { NEED_WINDOW = 256, DEFAULT_STEPS = 100 };

static const char *HELP =
    "usage: purbo-bench convert --model M [--out M.purbo] [options]\n"
    "  Turns a dense model into an RTPurbo plan: retrieval heads get a trained rank-r\n"
    "  indexer and top-p block selection; the others keep S sinks + a window of W tokens.\n"
    "  Which heads: by measured need (default): a head is local only when it holds\n"
    "  --keep of its attention mass within S sinks + W recent tokens and its repeated-span\n"
    "  score is below --min-score (locality and retrieval probes on the probe documents).\n"
    "  Quality and curves go to the database. A model's sliding-window layers (Gemma 3)\n"
    "  stay as they are: the heads decided about are those of its global layers.\n"
    "  --out F            plan file (default: the model path with .purbo for .gguf)\n"
    "  --keep F           need rule: mass a local head must hold within W (default 0.99)\n"
    "  --min-score F      need rule: a repeated-span score this high makes a retrieval head\n"
    "                     (default 0.02)\n"
    "  --rho F            instead of the need rule: the top share F of the global layers'\n"
    "                     query heads by repeated-span score (W from --window-cover)\n"
    "  --retrieval-heads SPEC  L.H,L.H,... | all | a file: use these instead of the probe\n"
    "  --sinks S          sink tokens (default 4)\n"
    "  --window W         local window in tokens (need rule: default 256, a multiple of 64\n"
    "                     up to --ctx; with --rho: default from the locality probe, the\n"
    "                     smallest W in 64,128,256,... at which --window-cover of the local\n"
    "                     heads hold 0.9 of their attention mass)\n"
    "  --window-cover F   (with --rho; default 0.9)\n"
    "  --r R              indexer rank (default head_dim / 8)\n"
    "  --rope-band N      the indexers read only the N lowest-frequency RoPE pairs (2N dims,\n"
    "                     R <= 2N): pairs that turn little over the context score pre-RoPE as\n"
    "                     attention scores them post-RoPE (default 0: every dim)\n"
    "  --p P              top-p mass of the retrieval heads' block selection (default 0.9)\n"
    "  --local N          retrieval heads always keep the blocks of the last N tokens (default 256:\n"
    "                     the indexer sees no positions, so the recent tokens RoPE favours are kept)\n"
    "  --by-length RULE   a length rule stored in the plan: 'FROM key=v ...; FROM ...' sets\n"
    "                     local, kmin, p for prompts of at least FROM tokens, e.g. '1536 kmin=1;\n"
    "                     3072 local=256 kmin=4 p=0.65' (default none: one setting)\n"
    "  --steps N          AdamW steps per retrieval head (default 100: the need rule makes\n"
    "                     most heads retrieval heads; 0: PCA indexers only)\n"
    "  --lr F             peak learning rate, cosine to 0.1x after 10% warm-up (default 3e-3)\n"
    "  --batch N          query positions per step (default 256)\n"
    "  --fixed-tau        keep the temperature at sqrt(head_dim) instead of learning it\n"
    "  --ctx N            tokens per calibration window, multiple of 64 (default 2048)\n"
    "  --windows N        training windows (default 4); --eval-windows N held out (default 2)\n"
    "  --queries N        query positions per window (default 256, at most ctx/2)\n"
    "  --probe-docs N     retrieval-probe documents, also training data (default 2)\n"
    "  --seed S           windows, documents, queries and minibatches (default 1)\n"
    "  --threads N        indexers trained at once, one head per thread (default: the CPUs\n"
    "                     online); the plan is the same bytes for any N\n"
    "  --backend B        where the dense passes run: cpu, cuda or auto (default auto: cuda when\n"
    "                     a GPU is usable); the indexers train on the CPU\n"
    CLI_CPU_PRODUCTS_HELP
    "  --db PATH          results database (default out/results.db)\n";

/* Checks that path can be created (then removes the probe file). */
static void check_writable(const char *path)
{
    char tmp[4200];
    if (strlen(path) > 4000) arg_bad("convert", "--out path too long");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) arg_bad("convert", "%s: cannot write: %s", path, strerror(errno));
    fclose(f);
    unlink(tmp);
}

int cmd_convert(int argc, char **argv)
{
    convert_cfg cfg = {.db_path = "out/results.db", .keep = 0.99, .min_score = 0.02, .sink = 4, .cover = 0.9, .block = 64, .local = 256,
                       .p = 0.9, .opt = kd_defaults, .ctx = 2048, .n_train = 4, .n_eval = 2, .queries = 256, .seed = 1};
    int probe_docs = 2, warmup_set = 0, queries_set = 0;
    plan_params rule = {0}; /* --by-length: its rows only */
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = n_cpu > 0 ? (int)(n_cpu < 256 ? n_cpu : 256) : 1;
    const char *backend_kind = "auto";
    cfg.opt.steps = DEFAULT_STEPS;
    for (int i = 1; i < argc; i++) {
        const char *v;
        const char *C = "convert";
        if (arg_flag(argv, i, "--help")) {
            fputs(HELP, stdout);
            return 0;
        } else if ((v = arg_val(C, argc, argv, &i, "--model"))) cfg.model_path = v;
        else if ((v = arg_val(C, argc, argv, &i, "--out"))) cfg.out_path = v;
        else if ((v = arg_val(C, argc, argv, &i, "--backend"))) backend_kind = v;
        else if (cli_cpu_products_opt(C, argc, argv, &i)) continue;
        else if ((v = arg_val(C, argc, argv, &i, "--db"))) cfg.db_path = v;
        else if ((v = arg_val(C, argc, argv, &i, "--rho"))) cfg.rho = arg_double(C, "--rho", v, 1e-6, 1.0);
        else if ((v = arg_val(C, argc, argv, &i, "--keep"))) cfg.keep = arg_double(C, "--keep", v, 0.0, 1.0);
        else if ((v = arg_val(C, argc, argv, &i, "--min-score"))) cfg.min_score = arg_double(C, "--min-score", v, 0.0, 1.0);
        else if ((v = arg_val(C, argc, argv, &i, "--retrieval-heads"))) cfg.heads = v;
        else if ((v = arg_val(C, argc, argv, &i, "--sinks"))) cfg.sink = (int)arg_long(C, "--sinks", v, 0, 1 << 20);
        else if ((v = arg_val(C, argc, argv, &i, "--window"))) cfg.window = (int)arg_long(C, "--window", v, 1, 1 << 24);
        else if ((v = arg_val(C, argc, argv, &i, "--window-cover"))) cfg.cover = arg_double(C, "--window-cover", v, 0.0, 1.0);
        else if ((v = arg_val(C, argc, argv, &i, "--r"))) cfg.r = (int)arg_long(C, "--r", v, 1, 4096);
        else if ((v = arg_val(C, argc, argv, &i, "--rope-band"))) cfg.rope_band = (int)arg_long(C, "--rope-band", v, 1, 4096);
        else if ((v = arg_val(C, argc, argv, &i, "--p"))) cfg.p = arg_double(C, "--p", v, 1e-6, 1.0);
        else if ((v = arg_val(C, argc, argv, &i, "--local"))) cfg.local = (int)arg_long(C, "--local", v, 0, 1 << 24);
        else if ((v = arg_val(C, argc, argv, &i, "--by-length"))) {
            pb_err e;
            if (!plan_by_length_parse(v, &rule, &e)) arg_bad("convert", "--by-length: %s", e.msg);
        }
        else if ((v = arg_val(C, argc, argv, &i, "--steps"))) cfg.opt.steps = (int)arg_long(C, "--steps", v, 0, 1000000);
        else if ((v = arg_val(C, argc, argv, &i, "--warmup"))) cfg.opt.warmup = (int)arg_long(C, "--warmup", v, 0, 1000000), warmup_set = 1;
        else if ((v = arg_val(C, argc, argv, &i, "--lr"))) cfg.opt.lr = arg_double(C, "--lr", v, 1e-9, 10.0);
        else if ((v = arg_val(C, argc, argv, &i, "--batch"))) cfg.opt.batch = (int)arg_long(C, "--batch", v, 1, 1 << 20);
        else if (arg_flag(argv, i, "--fixed-tau")) cfg.opt.learn_tau = 0;
        else if ((v = arg_val(C, argc, argv, &i, "--ctx"))) cfg.ctx = (int)arg_long(C, "--ctx", v, 256, 1 << 20);
        else if ((v = arg_val(C, argc, argv, &i, "--windows"))) cfg.n_train = (int)arg_long(C, "--windows", v, 1, 10000);
        else if ((v = arg_val(C, argc, argv, &i, "--eval-windows"))) cfg.n_eval = (int)arg_long(C, "--eval-windows", v, 1, 10000);
        else if ((v = arg_val(C, argc, argv, &i, "--queries"))) cfg.queries = (int)arg_long(C, "--queries", v, 1, 1 << 20), queries_set = 1;
        else if ((v = arg_val(C, argc, argv, &i, "--probe-docs"))) probe_docs = (int)arg_long(C, "--probe-docs", v, 1, 10000);
        else if ((v = arg_val(C, argc, argv, &i, "--seed"))) cfg.seed = (uint64_t)arg_long(C, "--seed", v, 0, (1L << 62));
        else if ((v = arg_val(C, argc, argv, &i, "--threads"))) n_threads = (int)arg_long(C, "--threads", v, 1, 256);
        else arg_bad(C, "unknown option %s", argv[i]);
    }
    if (!cfg.model_path) arg_bad("convert", "--model is required");
    cli_check_backend("convert", backend_kind);
    if (cfg.ctx % 64) arg_bad("convert", "--ctx %d is not a multiple of 64", cfg.ctx);
    if (!queries_set && cfg.queries > cfg.ctx / 2) cfg.queries = cfg.ctx / 2;
    if (cfg.queries > cfg.ctx / 2) arg_bad("convert", "--queries %d exceeds --ctx / 2 = %d", cfg.queries, cfg.ctx / 2);
    if (!warmup_set) cfg.opt.warmup = cfg.opt.steps / 10;
    const int need = !cfg.heads && !(cfg.rho > 0); /* the need rule decides the heads */
    if (need && !cfg.window) cfg.window = NEED_WINDOW;
    if (need && (cfg.window % 64 || cfg.window > cfg.ctx))
        arg_bad("convert", "--window %d: the need rule measures windows that are multiples of 64 up to --ctx %d",
                cfg.window, cfg.ctx);
    char out_buf[4096];
    if (!cfg.out_path) {
        size_t n = strlen(cfg.model_path);
        int gg = n > 5 && !strcmp(cfg.model_path + n - 5, ".gguf");
        snprintf(out_buf, sizeof out_buf, "%.*s.purbo", (int)(gg ? n - 5 : n), cfg.model_path);
        cfg.out_path = out_buf;
    }
    check_writable(cfg.out_path);
    pb_err err;
    if (!strcmp(cfg.db_path, "out/results.db")) pb_mkdir_p("out");
    pb_db *db = db_open(cfg.db_path, &err);
    if (!db) pb_die_input(&err);
    double t_start = pb_now();
    tokenizer *tok;
    model *m = cli_load_model(cfg.model_path, &tok);
    const model_config *c = &m->cfg;
    const int nh = c->n_layer * c->n_head;
    if (cfg.ctx > c->n_ctx_train) arg_bad("convert", "--ctx %d exceeds the model's context %d", cfg.ctx, c->n_ctx_train);
    int r = cfg.r ? cfg.r : (c->head_dim / 8 > 0 ? c->head_dim / 8 : 1);
    if (r > c->head_dim) arg_bad("convert", "--r %d exceeds the head dim %d", r, c->head_dim);
    if (cfg.rope_band > c->rope_dim / 2)
        arg_bad("convert", "--rope-band %d exceeds the %d RoPE pairs of a head", cfg.rope_band, c->rope_dim / 2);
    if (cfg.rope_band && r > 2 * cfg.rope_band)
        arg_bad("convert", "--r %d exceeds the %d dims of --rope-band %d", r, 2 * cfg.rope_band, cfg.rope_band);
    unsigned char *retr = pb_calloc((size_t)nh, 1), *elig = pb_malloc((size_t)nh);
    const int n_elig = select_eligible(c, elig);
    if (cfg.heads && !plan_parse_heads(c, cfg.heads, retr, &err)) arg_bad("convert", "%s", err.msg);
    for (int x = 0; x < nh; x++)
        if (retr[x] && !elig[x])
            arg_bad("convert", "--retrieval-heads: %d.%d is in a sliding layer (local already)", x / c->n_head,
                    x % c->n_head);
    calib *cal = calib_open(tok, &err);
    if (!cal) pb_die_input(&err);
    backend *b = cli_open_backend("convert", backend_kind, m);
    const int on_cuda = !strcmp(b->name, "cuda");
    char rt[32] = "", drv[32] = "";
    if (on_cuda) backend_cuda_versions(rt, drv, sizeof rt);

    /* the run row: every setting, the calibration text's identity */
    char sv[19][48];
    snprintf(sv[0], 48, "%g", cfg.rho);
    snprintf(sv[16], 48, "%g", cfg.keep);
    snprintf(sv[17], 48, "%g", cfg.min_score);
    snprintf(sv[1], 48, "%d", cfg.sink);
    snprintf(sv[2], 48, "%d", cfg.window);
    snprintf(sv[3], 48, "%g", cfg.cover);
    snprintf(sv[4], 48, "%d", r);
    snprintf(sv[5], 48, "%g", cfg.p);
    snprintf(sv[6], 48, "%d", cfg.opt.steps);
    snprintf(sv[7], 48, "%g", cfg.opt.lr);
    snprintf(sv[8], 48, "%d", cfg.opt.batch);
    snprintf(sv[9], 48, "%d", cfg.ctx);
    snprintf(sv[10], 48, "%d+%d", cfg.n_train, cfg.n_eval);
    snprintf(sv[11], 48, "%d", cfg.queries);
    snprintf(sv[12], 48, "%d", probe_docs);
    snprintf(sv[13], 48, "%d", cfg.opt.learn_tau);
    snprintf(sv[14], 48, "%d", cfg.opt.warmup);
    snprintf(sv[15], 48, "%d", cfg.local);
    snprintf(sv[18], 48, "%d", cfg.rope_band);
    const char *kv[] = {"rho", sv[0], "sinks", sv[1], "window", sv[2], "window_cover", sv[3], "r", sv[4], "p", sv[5],
                        "steps", sv[6], "lr", sv[7], "batch", sv[8], "ctx", sv[9], "windows", sv[10], "queries", sv[11],
                        "probe_docs", sv[12], "learn_tau", sv[13], "warmup", sv[14], "local", sv[15],
                        "retrieval_heads", cfg.heads ? cfg.heads : need ? "need" : "rho", "keep", sv[16],
                        "min_score", sv[17], "calib", calib_describe(cal), "rope_band", sv[18]};
    /* rope_band only when asked: a default conversion's config reads as before */
    const size_t n_kv = sizeof kv / sizeof kv[0] / 2 - (cfg.rope_band ? 0 : 1);
    char *config = config_canonical(kv, n_kv), *cmdline = db_command_line(argc, argv);
    run_meta meta = {.command = cmdline, .device = b->device, .model_path = cfg.model_path, .config = config,
                     .has_seed = 1, .seed = (int64_t)cfg.seed, .cuda_runtime = on_cuda ? rt : NULL,
                     .cuda_driver = on_cuda && drv[0] ? drv : NULL};
    int64_t run = db_run_begin(db, &meta);
    free(config);
    free(cmdline);
    fprintf(stderr, "convert: %s -> %s (run %lld in %s), dense passes on %s (%s)\n", cfg.model_path, cfg.out_path,
            (long long)run, cfg.db_path, b->name, b->device);

    session *s = session_new_on(b, cfg.ctx);
    probe_geom g = {.cfg = c, .n_layer = c->n_layer, .n_head = c->n_head, .n_head_kv = c->n_head_kv, .d = c->head_dim,
                    .n_ctx = cfg.ctx, .n_windows = probe_docs};
    /* 1. retrieval heads; the probe's documents join the training set */
    convert_capture *cc = convert_capture_new(c, cfg.ctx, cfg.n_train, cfg.n_eval, cfg.queries, cfg.seed);
    double *score = NULL, t = pb_now();
    int *w90 = NULL;
    if (!cfg.heads) {
        probe pr = probe_retrieval(&g), pl = need ? probe_locality(&g) : (probe){0};
        probe tee = convert_capture_docs(cc, &pr, need ? &pl : NULL, probe_docs, 2 * 64);
        probe_run(s, cal, cfg.seed, &tee, 1, &g, db, run, stderr);
        const probe_heads *ph = pr.heads(pr.st);
        PB_CHECK(ph->n_layer * ph->n_head == nh && ph->score, "retrieval probe: no scores for %d heads", nh);
        score = pb_malloc((size_t)nh * sizeof(double));
        memcpy(score, ph->score, (size_t)nh * sizeof(double));
        pr.free(pr.st);
        if (need) {
            const probe_heads *lh = pl.heads(pl.st);
            int k = cfg.window / 64 - 1; /* the grid is 64, 128, ..., ctx */
            PB_CHECK(lh->mass && lh->n_grid == cfg.ctx / 64 && lh->grid[k] == cfg.window,
                     "locality probe: no mass at W = %d", cfg.window);
            double *mass_w = pb_malloc((size_t)nh * sizeof(double));
            for (int x = 0; x < nh; x++) mass_w[x] = lh->mass[(size_t)x * lh->n_grid + k];
            w90 = pb_malloc((size_t)nh * sizeof(int));
            memcpy(w90, lh->w90, (size_t)nh * sizeof(int));
            select_need(mass_w, score, elig, nh, cfg.keep, cfg.min_score, retr);
            int by_mass = 0;
            for (int x = 0; x < nh; x++) by_mass += retr[x] && mass_w[x] < cfg.keep;
            int n_r = 0;
            for (int x = 0; x < nh; x++) n_r += retr[x];
            snprintf(cfg.window_rule, sizeof cfg.window_rule,
                     "need rule at W %d: %d heads below %g mass within it, %d more with score >= %g", cfg.window,
                     by_mass, cfg.keep, n_r - by_mass, cfg.min_score);
            free(mass_w);
            pl.free(pl.st);
        } else {
            select_heads(score, elig, nh, cfg.rho, retr);
        }
    }
    cfg.s_probe = pb_now() - t;
    int n_ret = 0;
    for (int x = 0; x < nh; x++) n_ret += retr[x];
    if (!n_ret) arg_bad("convert", "no retrieval heads (--retrieval-heads)");

    /* 2. calibration pass: locality and capture */
    t = pb_now();
    g.n_windows = cfg.n_train + cfg.n_eval;
    probe ps[2];
    int n_ps = 0;
    if (!cfg.window) ps[n_ps++] = probe_locality(&g);
    ps[n_ps++] = convert_capture_windows(cc, retr);
    probe_run(s, cal, cfg.seed, ps, n_ps, &g, db, run, stderr);
    session_free(s);
    backend_close(b);
    if (!cfg.window) {
        const probe_heads *ph = ps[0].heads(ps[0].st);
        PB_CHECK(ph->n_layer * ph->n_head == nh && ph->w90 && ph->n_grid > 0, "locality probe: no windows for %d heads",
                 nh);
        w90 = pb_malloc((size_t)nh * sizeof(int));
        memcpy(w90, ph->w90, (size_t)nh * sizeof(int));
        int *pow2 = pb_malloc((size_t)ph->n_grid * sizeof(int)), n_pow2 = 0;
        const int *grid = ph->grid;
        for (int k = 0; k < ph->n_grid; k++) /* 64, 128, 256, ... of the measured grid, and its largest */
            if ((grid[k] & (grid[k] - 1)) == 0 || k == ph->n_grid - 1) pow2[n_pow2++] = grid[k];
        cfg.window = select_window(w90, retr, elig, nh, pow2, n_pow2, cfg.cover);
        free(pow2);
        int ok = 0;
        for (int x = 0; x < nh; x++) ok += !retr[x] && elig[x] && w90[x] <= cfg.window;
        snprintf(cfg.window_rule, sizeof cfg.window_rule,
                 "locality at ctx %d: smallest W in 64,128,... with >= %.0f%% of local heads at 0.9 mass (%d of %d)",
                 cfg.ctx, 100 * cfg.cover, ok, n_elig - n_ret);
    } else if (!need) {
        snprintf(cfg.window_rule, sizeof cfg.window_rule, "given (--window)");
    }
    for (int k = 0; k < n_ps; k++) ps[k].free(ps[k].st);
    cfg.s_capture = pb_now() - t;
    report_heads(db, run, c, retr, score, w90);
    if (n_elig < nh)
        fprintf(stderr, "convert: the %d heads of sliding layers stay as they are (local already)\n", nh - n_elig);
    fprintf(stderr, "convert: %d of %d heads retrieval, local heads: %d sinks + window %d (%s)\n", n_ret, n_elig,
            cfg.sink, cfg.window, cfg.window_rule);
    /* a window that covers the context makes every local head dense there */
    if (cfg.window >= c->n_ctx_train)
        fprintf(stderr, "convert: warning: window %d >= the model's context %d: the local heads are dense at every"
                        " length the model takes (the plan saves nothing)\n", cfg.window, c->n_ctx_train);
    else if (cfg.window >= cfg.ctx)
        fprintf(stderr, "convert: warning: window %d >= the calibration context %d: the local heads are dense at"
                        " that length and the window was not tested on it\n", cfg.window, cfg.ctx);

    /* 3. indexers */
    t = pb_now();
    plan_file pf;
    plan_file_init(&pf, m, r);
    pf.sink = cfg.sink;
    pf.window = cfg.window;
    pf.block = cfg.block;
    pf.local = cfg.local;
    pf.p = (float)cfg.p;
    pf.n_by_length = rule.n_by_length;
    memcpy(pf.by_length, rule.by_length, sizeof pf.by_length);
    /* the training's products are skinny (r columns): one BLAS thread per
     * call, and the heads in parallel instead */
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    convert_train_heads(cc, retr, &m->cfg, &cfg, r, n_threads, db, run, &pf);
    openblas_set_num_threads(blas_threads);
    convert_capture_free(cc);
    cfg.s_train = pb_now() - t;

    /* 4. the plan */
    if (!plan_file_write(cfg.out_path, &pf, &err)) pb_die_input(&err);
    cfg.s_total = pb_now() - t_start;
    report_plan(db, run, &cfg, c, pf.model_fp, n_ret, r);
    db_run_end(db, run, RUN_DONE);
    char band[48] = "";
    if (cfg.rope_band) snprintf(band, sizeof band, ", the %d lowest-frequency RoPE pairs", cfg.rope_band);
    printf("plan %s: %d of %d heads retrieval (r = %d%s, p = %g), local heads %d sinks + window %d;"
           " %.0f s (probe %.0f, calibration %.0f, indexers %.0f); run %lld in %s\n",
           cfg.out_path, n_ret, nh, r, band, cfg.p, cfg.sink, cfg.window, cfg.s_total, cfg.s_probe, cfg.s_capture,
           cfg.s_train, (long long)run, cfg.db_path);
    plan_file_free(&pf);
    free(score);
    free(w90);
    free(retr);
    free(elig);
    db_close(db);
    calib_free(cal);
    tok_free(tok);
    model_free(m);
    return 0;
}
