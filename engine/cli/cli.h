/* cli.h — the purbo-bench subcommands. Each takes argv with argv[0] = the
 * command's name, handles --help itself, returns the process exit status
 * (0 ok, 1 runtime failure, 2 bad input; bad input prints one line). */
#ifndef PURBO_CLI_H
#define PURBO_CLI_H

int cmd_info(int argc, char **argv);      /* engine/cli/cmd_info.c */
int cmd_generate(int argc, char **argv);  /* engine/cli/cmd_generate.c */
int cmd_passkey(int argc, char **argv);   /* engine/cmd_passkey.c */
int cmd_bench(int argc, char **argv);     /* engine/cmd_bench.c */
int cmd_bench_cpu(int argc, char **argv); /* engine/cmd_bench.c: bench --backend cpu */
int cmd_run(int argc, char **argv);       /* engine/cmd_run.c */
int cmd_report(int argc, char **argv);    /* engine/cmd_report.c */
int cmd_compare(int argc, char **argv);   /* engine/cmd_compare.c */
int cmd_probe(int argc, char **argv);     /* probes/cmd_probe.c */
int cmd_plot(int argc, char **argv);      /* plots/plot.c */
int cmd_convert(int argc, char **argv);   /* engine/convert/cmd_convert.c */

/* Shared by the commands: loads the model and its tokenizer, or prints one
 * line and exits 2 (bad file) — engine/cli/cli_load.c. */
#include "model/model.h"
#include "model/tokenizer.h"
model *cli_load_model(const char *path, tokenizer **tok);
/* --backend KIND (cpu | cuda | auto) for command cmd. cli_check_backend
 * refuses a bad kind, or cuda without a device, before anything is loaded;
 * cli_open_backend opens it on the model. Both: one line
 * "purbo-bench CMD: --backend cuda: no CUDA device (...)" and exit 2. */
#include "run/backend.h"
void cli_check_backend(const char *cmd, const char *kind);
backend *cli_open_backend(const char *cmd, const char *kind, const model *m);

/* --policy and --retrieval-heads (engine/cli/cli_plan.c). cli_policy_arg parses
 * the value or exits 2 naming the problem. cli_plan_apply builds the plan
 * (spec NULL: dense; heads NULL: none given), fits PCA indexers on KJV text
 * if an rtpurbo plan has none, and applies it to s (rings on); exits 2 on a
 * bad head list or combination. */
#include "policy/plan.h"
#define CLI_POLICY_HELP \
    "  --policy NAME[:k=v,...]   attention policy of every head (default dense):\n" \
    "      dense | streaming[:sink=4,window=1024] | duo[:sink,window]\n" \
    "      | quest[:page=16,budget=512|k=PAGES] | topk-oracle[:block=64,sink=4,local=64,budget=512|k=BLOCKS]\n" \
    "      | topp-oracle[:block,sink,local,p=0.9] | rtpurbo[:sink,window,block,local,p,r=d/8,calib=1024]\n" \
    "      | rtpurbo-topk[:sink,window,block,local,budget|k,r,calib]\n" \
    "  --retrieval-heads SPEC    duo/rtpurbo retrieval heads: L.H,L.H,... | all | none | a file of them\n"
void cli_policy_arg(const char *cmd, const char *value, plan_spec *spec);
void cli_plan_apply(const char *cmd, const model *m, const tokenizer *tok, const plan_spec *spec, const char *heads,
                    plan *p, session *s);
/* --plan F (engine/cli/cli_planfile.c): the plan file's retrieval heads, S, W,
 * p, r and indexers under policy spec (NULL: rtpurbo), applied to s (rings
 * on). A missing, damaged or foreign plan file, or --retrieval-heads with
 * it: one line, exit 2. */
#define CLI_PLANFILE_HELP \
    "  --plan F.purbo            a converted model's plan (purbo-bench convert): rtpurbo with\n" \
    "                            its trained indexers, or --policy duo|streaming|... with its heads,\n" \
    "                            sinks and window; keys --policy sets (sink, window, block, local,\n" \
    "                            p) replace the plan's, e.g. --policy rtpurbo:window=256\n"
void cli_planfile_apply(const char *cmd, const model *m, const char *path, const plan_spec *spec, const char *heads,
                        plan *p, session *s);

#endif
