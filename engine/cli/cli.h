/* cli.h — the purbo-bench subcommands. Each takes argv with argv[0] = the
 * command's name, handles --help itself, returns the process exit status
 * (0 ok, 1 runtime failure, 2 bad input; bad input prints one line). */
#ifndef PURBO_CLI_H
#define PURBO_CLI_H

int cmd_info(int argc, char **argv);      /* engine/cli/cmd_info.c */
int cmd_generate(int argc, char **argv);  /* engine/cli/cmd_generate.c */
int cmd_passkey(int argc, char **argv);   /* suites/cmd_passkey.c */
int cmd_bench(int argc, char **argv);     /* suites/cmd_bench.c */
int cmd_bench_cpu(int argc, char **argv); /* suites/cmd_bench.c: bench --backend cpu */
int cmd_run(int argc, char **argv);       /* suites/cmd_run.c */
int cmd_merge(int argc, char **argv);     /* suites/cmd_merge.c */
int cmd_recall(int argc, char **argv);    /* suites/cmd_recall.c */
int cmd_report(int argc, char **argv);    /* suites/cmd_report.c */
int cmd_compare(int argc, char **argv);   /* suites/cmd_compare.c */
int cmd_export(int argc, char **argv);    /* suites/cmd_export.c */
int cmd_probe(int argc, char **argv);     /* probes/cmd_probe.c */
int cmd_plot(int argc, char **argv);      /* plots/plot.c */
int cmd_convert(int argc, char **argv);   /* engine/convert/cmd_convert.c */
int cmd_plan(int argc, char **argv);      /* engine/cli/cmd_plan.c */

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
/* --cpu-products MODE (f32 | bf16) of the commands that take --backend: the
 * CPU backend's product mode (backend.h, backend_cpu_products_set). 1 when
 * argv[*i] is the option (set, also into $PURBO_CPU_PRODUCTS for the
 * processes the command starts, *i advanced; an unknown mode or bf16 on a
 * CPU without AVX-512 BF16: one line, exit 2), 0 otherwise. CLI_CPU_PRODUCTS_HELP
 * is its --help line. */
int cli_cpu_products_opt(const char *cmd, int argc, char **argv, int *i);
#define CLI_CPU_PRODUCTS_HELP \
    "  --cpu-products M          cpu: prefill's matrix products in f32 (default, the reference)\n" \
    "                            or bf16 (bf16 weights and inputs, f32 sums; needs AVX-512\n" \
    "                            BF16); default $PURBO_CPU_PRODUCTS, else f32\n"

/* --policy, --retrieval-heads and --plan (engine/cli/cli_plan.c).
 * cli_policy_arg parses the --policy value or exits 2 naming the problem
 * ("--policy: FIELD ..."). cli_plan_make builds the plan for m: from the
 * plan file at plan_path if given (its retrieval heads, S, W, p, r and
 * indexers under spec, NULL: rtpurbo; keys the spec set replace the file's),
 * else from spec (NULL: dense) and heads (NULL: none given). A bad head
 * list, combination or plan file: one line, exit 2. */
#include "policy/plan.h"
#define CLI_POLICY_HELP \
    "  --policy NAME[:k=v,...]   attention policy of every head (default dense):\n" \
    "      dense | streaming[:sink=4,window=1024] | duo[:sink,window]\n" \
    "      | quest[:page=16,budget=512|k=PAGES] | topk-oracle[:block=64,sink=4,local=64,budget=512|k=BLOCKS]\n" \
    "      | topp-oracle[:block,sink,local,p=0.9] | rtpurbo[:sink,window,block,local,p,r=d/8,calib=1024]\n" \
    "      | rtpurbo-topk[:sink,window,block,local,budget|k,r,calib]\n" \
    "      all but dense and quest take phase=all|prefill|decode; all but dense take\n" \
    "      first_layer=A,last_layer=B (the policy on layers A..B, the others dense); the oracles\n" \
    "      and rtpurbo kinds take by_length='FROM key=v ...;FROM ...' (local, kmin, p by the\n" \
    "      prompt's length)\n" \
    "  --retrieval-heads SPEC    duo/rtpurbo retrieval heads: L.H,L.H,... | all | none | a file of them\n"
#define CLI_PLANFILE_HELP \
    "  --plan F.purbo            a converted model's plan (purbo-bench convert): rtpurbo with\n" \
    "                            its trained indexers, or --policy duo|streaming|... with its heads,\n" \
    "                            sinks and window; keys --policy sets (sink, window, block, local,\n" \
    "                            p) replace the plan's, e.g. --policy rtpurbo:window=256\n"
void cli_policy_arg(const char *cmd, const char *value, plan_spec *spec);
void cli_plan_make(const char *cmd, const model *m, const plan_spec *spec, const char *heads, const char *plan_path,
                   plan *p);

/* The model-level sequence of generate and passkey (engine/cli/cli_session.c).
 * cli_session_load: checks --backend (before anything loads), loads the
 * model and tokenizer. cli_session_open: builds the plan (cli_plan_make),
 * settles the backend the plan can run on (plan_runs_on: --backend auto
 * takes the CPU, saying so in one line, when the CUDA backend cannot run the
 * plan; --backend cuda is then one line, exit 2), opens it, fits PCA
 * indexers on KJV text when the plan needs them, and makes a session of
 * n_ctx positions with the plan applied (rings on) for a prompt of
 * n_prompt tokens (the row of a length rule). cli_session_summary:
 * the plan's summary line on f (nothing for dense). cli_session_free: all
 * of it. */
typedef struct {
    const char *cmd;            /* the command, for messages */
    const char *model_path;     /* --model */
    const char *backend;        /* --backend: cpu, cuda or auto */
    const plan_spec *spec;      /* --policy, or NULL */
    const char *heads;          /* --retrieval-heads, or NULL */
    const char *plan_path;      /* --plan, or NULL */
} cli_session_opts;

typedef struct {
    model *m;
    tokenizer *tok;
    backend *b;
    session *s;
    plan pl;
} cli_session;

void cli_session_load(cli_session *cs, const cli_session_opts *o);
void cli_session_open(cli_session *cs, const cli_session_opts *o, int n_ctx, int n_prompt);
void cli_session_summary(const cli_session *cs, FILE *f);
void cli_session_free(cli_session *cs);

#endif
