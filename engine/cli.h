/* cli.h — the purbo-bench subcommands. Each takes argv with argv[0] = the
 * command's name, handles --help itself, returns the process exit status
 * (0 ok, 1 runtime failure, 2 bad input; bad input prints one line). */
#ifndef PURBO_CLI_H
#define PURBO_CLI_H

int cmd_info(int argc, char **argv);      /* engine/cmd_info.c */
int cmd_generate(int argc, char **argv);  /* engine/cmd_generate.c */
int cmd_passkey(int argc, char **argv);   /* engine/cmd_passkey.c */
int cmd_bench_cpu(int argc, char **argv); /* engine/cmd_bench.c */
int cmd_probe(int argc, char **argv);     /* probes/cmd_probe.c */
int cmd_plot(int argc, char **argv);      /* plots/plot.c */

/* Shared by the commands: loads the model and its tokenizer, or prints one
 * line and exits 2 (bad file) — engine/cli_load.c. */
#include "model.h"
#include "tokenizer.h"
model *cli_load_model(const char *path, tokenizer **tok);

#endif
