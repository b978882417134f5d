/* cmd_merge.c — `purbo-bench merge --db OUT.db IN.db...`: joins the shards
 * of one suite run into one run of OUT (suites/merge.h has the rules), then
 * prints its report as `run` does. */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "suites/merge.h"
#include "suites/runner_db.h"

int cmd_merge(int argc, char **argv)
{
    merge_opts o = {0};
    arg_results ro = {.db = NULL};
    const char **in = pb_calloc((size_t)argc + 1, sizeof *in);
    for (int i = 1; i < argc; i++) {
        if (arg_results_opt("merge", argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench merge --db OUT.db [--partial] IN.db...\n"
                   "  Joins the shards of one suite run (`run SUITE --shard I/N`, each into its own\n"
                   "  database: the newest shard run of each IN) into one run of OUT, written in the\n"
                   "  order an unsharded run writes its pairs: report, compare, export and plot read\n"
                   "  it as the unsharded run. Refused (one line, exit 2, OUT as it was): shards of\n"
                   "  different runs (config, model, selection, commit), a pair given twice with\n"
                   "  different results, a shard missing or not done. Merging what OUT holds\n"
                   "  already changes nothing; a later merge with more shards completes the run.\n"
                   "  --db OUT.db  the merged database (created when missing)\n"
                   "  --partial    merge without the missing or unfinished shards; the run is\n"
                   "               recorded as incomplete\n");
            exit(0);
        }
        if (arg_flag(argv, i, "--partial")) o.partial = 1;
        else if (argv[i][0] == '-' && argv[i][1]) arg_bad("merge", "unknown option %s", argv[i]);
        else in[o.n_in++] = argv[i];
    }
    if (!ro.db) arg_bad("merge", "--db OUT.db is required (the merged database)");
    if (!o.n_in) arg_bad("merge", "no shard databases given (purbo-bench merge --db OUT.db IN.db...)");
    o.out = ro.db;
    o.in = in;
    char *cmd = db_command_line(argc, argv), *full = pb_malloc(strlen(cmd) + 16);
    sprintf(full, "purbo-bench %s", cmd);
    o.command = full;
    merge_result r;
    pb_err err;
    int st = merge_run(&o, &r, &err);
    free(cmd);
    free(full);
    free(in);
    if (st) pb_die_input(&err);
    merge_print(&o, &r, stdout);
    return 0;
}
