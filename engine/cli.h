/* cli.h — the purbo-bench subcommands. Each takes argv with argv[0] = the
 * command's name, handles --help itself, returns the process exit status
 * (0 ok, 1 runtime failure, 2 bad input; bad input prints one line). */
#ifndef PURBO_CLI_H
#define PURBO_CLI_H

int cmd_info(int argc, char **argv);      /* engine/cmd_info.c */
int cmd_generate(int argc, char **argv);  /* engine/cmd_generate.c */
int cmd_passkey(int argc, char **argv);   /* engine/cmd_passkey.c */
int cmd_bench(int argc, char **argv);     /* engine/cmd_bench.c */
int cmd_bench_cpu(int argc, char **argv); /* engine/cmd_bench.c: bench --backend cpu */

/* Shared by the commands: loads the model and its tokenizer, or prints one
 * line and exits 2 (bad file) — engine/cli_load.c. */
#include "model.h"
#include "tokenizer.h"
model *cli_load_model(const char *path, tokenizer **tok);
/* --backend KIND (cpu | cuda | auto) for command cmd. cli_check_backend
 * refuses a bad kind, or cuda without a device, before anything is loaded;
 * cli_open_backend opens it on the model. Both: one line
 * "purbo-bench CMD: --backend cuda: no CUDA device (...)" and exit 2. */
#include "backend.h"
void cli_check_backend(const char *cmd, const char *kind);
backend *cli_open_backend(const char *cmd, const char *kind, const model *m);

#endif
