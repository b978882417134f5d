/* cmd_run.c — `purbo-bench run SUITE.yaml`: runs a suite into the results
 * database (suites/runner.h has the rules: validation first, a transaction
 * per (case, method), --resume, interruption). */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "probes/counters_run.h"
#include "suites/run_gpus.h"
#include "suites/runner.h"
#include "suites/shard.h"
#include "suites/suite.h"

int cmd_run(int argc, char **argv)
{
    runner_opts o = {0};
    arg_results ro = {.db = ARG_DB_DEFAULT};
    const char *gpus = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt("run", argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench run SUITE.yaml [options]\n"
                   "  Runs every case of the suite with every method; each (case, method) is one\n"
                   "  transaction in the results database. Bad input: FILE:LINE:COL: what, exit 2,\n"
                   "  before anything runs. SIGINT drops the case in progress and exits 130.\n"
                   "  --db PATH        results database (default out/results.db)\n"
                   "  --resume         continue the newest run with the same config (the suite\n"
                   "                   file's text and --model), skipping its committed cases\n"
                   "  --only T[,T]     run only these tasks (same config: --resume can fill in the rest)\n"
                   "  --methods M[,M]  run only these methods (likewise)\n"
                   "  --model PATH     the model instead of the suite's\n"
                   "  --backend B      cpu, cuda or auto instead of the suite's `backend`\n"
                   CLI_CPU_PRODUCTS_HELP
                   "  --plots DIR      draw the suite plots into DIR afterwards (as plot)\n"
                   "  --progress MODE  bar | lines | none (default: bar on a terminal, else lines)\n"
                   "  --counters       cuda: hardware counters (CUPTI Range Profiler, kernel replay)\n"
                   "                   for every kernel of each throughput case, the card's ceilings,\n"
                   "                   and a roofline table at the end; off by default (replay is slow)\n"

                   "  --shard I/N      run only shard I of N (1 <= I <= N): a balanced part of the\n"
                   "                   (case, method) pairs, the same on every machine; `merge` joins\n"
                   "                   the shards' databases into one run; a shard resumed with a\n"
                   "                   narrower --only/--methods runs its own pairs of those (the\n"
                   "                   split stays the one it started with), a wider one is refused\n"
                   "  --gpus A,B,...   one shard per device, each a child process with\n"
                   "                   CUDA_VISIBLE_DEVICES set, into DB's BASE.shard-I-of-N.db (log:\n"
                   "                   .log), then merged into --db\n");
            return 0;
        } else if ((v = arg_val("run", argc, argv, &i, "--only"))) o.only = v;
        else if ((v = arg_val("run", argc, argv, &i, "--methods"))) o.methods = v;
        else if ((v = arg_val("run", argc, argv, &i, "--model"))) o.model = v;
        else if ((v = arg_val("run", argc, argv, &i, "--plots"))) o.plots = v;
        else if ((v = arg_val("run", argc, argv, &i, "--shard"))) {
            char why[200];
            if (!shard_parse(v, &o.shard_index, &o.shard_count, why, sizeof why)) arg_bad("run", "--shard %s", why);
        } else if ((v = arg_val("run", argc, argv, &i, "--gpus"))) {
            char why[300];
            if (!gpus_parse(v, why, sizeof why)) arg_bad("run", "%s", why);
            gpus = v;
        }
        else if ((v = arg_val("run", argc, argv, &i, "--backend"))) {
            if (strcmp(v, "cpu") && strcmp(v, "cuda") && strcmp(v, "auto"))
                arg_bad("run", "--backend '%s' is not one of cpu, cuda, auto", v);
            o.backend = v;
        }
        else if (cli_cpu_products_opt("run", argc, argv, &i)) continue;
        else if ((v = arg_val("run", argc, argv, &i, "--progress"))) {
            if (!strcmp(v, "bar")) o.progress = RUNNER_PROGRESS_BAR;
            else if (!strcmp(v, "lines")) o.progress = RUNNER_PROGRESS_LINES;
            else if (!strcmp(v, "none")) o.progress = RUNNER_PROGRESS_NONE;
            else arg_bad("run", "--progress '%s' is not one of bar, lines, none", v);
        } else if (arg_flag(argv, i, "--resume")) o.resume = 1;
        else if (arg_flag(argv, i, "--counters")) o.counters = 1;
        else if (argv[i][0] == '-' && argv[i][1]) arg_bad("run", "unknown option %s", argv[i]);
        else if (o.suite_path) arg_bad("run", "one suite file at a time (%s and %s)", o.suite_path, argv[i]);
        else o.suite_path = argv[i];
    }
    if (!o.suite_path) arg_bad("run", "a suite file is required (purbo-bench run SUITE.yaml)");
    if (o.counters && !hwr_precheck()) o.counters = 0; /* before anything starts CUDA; 0: said why */
    if (gpus && o.shard_count) arg_bad("run", "--gpus runs every shard itself: give --gpus or --shard, not both");
    o.db_path = ro.db;
    if (!strcmp(o.db_path, ARG_DB_DEFAULT)) pb_mkdir_p("out");
    if (gpus) {
        pb_err err = {{0}};
        suite *s = suite_load(o.suite_path, &err); /* bad input once here, not in every shard */
        if (!s) pb_die_input(&err);
        suite_free(s);
        int st = run_gpus(gpus, o.db_path, o.plots, argc, argv, &err);
        if (st == 2 && err.msg[0]) pb_die_input(&err);
        return st;
    }
    char *cmd = db_command_line(argc, argv);
    size_t l = strlen(cmd) + 16;
    char *full = pb_malloc(l);
    snprintf(full, l, "purbo-bench %s", cmd); /* argv[0] is the command's name */
    o.command = full;
    pb_err err;
    int64_t run;
    int st = runner_run(&o, &run, &err);
    free(cmd);
    free(full);
    if (st == 2) pb_die_input(&err);
    return st;
}
