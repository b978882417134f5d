/* main.c — purbo-bench: dispatches to the subcommands (cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "results/db.h"

#ifndef PB_GIT_SHA
#define PB_GIT_SHA "unknown"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"info", cmd_info, "print a GGUF model's configuration, tensor types and sizes"},
    {"generate", cmd_generate, "run a prompt through the model and print the continuation"},
    {"passkey", cmd_passkey, "passkey retrieval: hide a key in filler text and ask for it"},
    {"bench", cmd_bench, "prefill and decode tokens/s (--backend cpu|cuda|auto), into SQLite"},
    {"bench-cpu", cmd_bench_cpu, "the same as bench --backend cpu"},
    {"run", cmd_run, "run a suite file (YAML) into the results database"},
    {"merge", cmd_merge, "join the shards of a suite run (run --shard I/N) into one run"},
    {"recall", cmd_recall, "what plans' indexers keep of the exact attention at a task's questions (CPU)"},
    {"report", cmd_report, "print a suite run as tables: scores and density per task and method"},
    {"compare", cmd_compare, "regression gate: a suite run against a baseline file"},
    {"export", cmd_export, "write a suite run as JSON Lines, JSON or CSV (cases, summary, throughput)"},
    {"probe", cmd_probe, "measure locality, retrieval score, rank, token demand per head"},
    {"convert", cmd_convert, "make an RTPurbo plan (.purbo): retrieval heads, trained indexers, window"},
    {"plan", cmd_plan, "show a plan file (.purbo), or copy it with a length rule or dense layers"},
    {"plot", cmd_plot, "draw a run's probe and conversion results as PNGs (gnuplot)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: purbo-bench COMMAND [options]   (purbo-bench COMMAND --help; purbo-bench --version)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("purbo-bench, built at commit %s, results schema %d\n", PB_GIT_SHA, db_schema_latest(results_schema_sql));
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "purbo-bench: unknown command '%s' (purbo-bench --help lists them)\n", argv[1]);
    return 2;
}
