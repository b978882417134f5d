/* cmd_plan.c — `purbo-bench plan`: read a .purbo plan file, or write a copy
 * with other run settings, without converting again.
 *
 *   plan show F.purbo [--model M]   the header, the length rule and the
 *                                   heads per layer by class (with --model,
 *                                   also that the plan is for that model)
 *   plan set F.purbo --out G.purbo [--by-length RULE|none]
 *                                  [--dense-layers "L A-B ..."]
 *
 * --by-length stores a length rule (plan.h: local, kmin, p by the prompt's
 * length) or removes it; --dense-layers makes every head of those layers a
 * dense head (class 2: it attends to every key under every policy). A
 * retrieval head made dense loses its indexer, so this only adds dense
 * heads: set them from the original plan to change them. A plan with
 * neither is written as version 1, byte for byte what convert wrote.
 * Bad input (a file, a rule, a layer) is one line and exit 2, and G is
 * written whole or not at all.
 */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "policy/planfile.h"

static const char *HELP =
    "usage: purbo-bench plan show F.purbo [--model M]\n"
    "       purbo-bench plan set F.purbo --out G.purbo [--by-length RULE|none] [--dense-layers LAYERS]\n"
    "  show: a plan file's header, length rule and heads per layer (local, retrieval, dense);\n"
    "        with --model also that it was made for that model.\n"
    "  set:  a copy with other run settings, no conversion:\n"
    "  --by-length RULE     'FROM key=v ...; FROM ...': local, kmin, p for prompts of at\n"
    "                       least FROM tokens (e.g. '1536 kmin=1; 3072 local=256 p=0.65');\n"
    "                       none removes the plan's rule\n"
    "  --dense-layers L     layers ('5' or '5-9 12') whose heads become dense heads: they\n"
    "                       attend to every key under every policy (a retrieval head's\n"
    "                       indexer is dropped, so set from the original plan to undo)\n";

static int plan_show(const char *path, const char *model_path)
{
    pb_err err;
    tokenizer *tok = NULL;
    model *m = model_path ? cli_load_model(model_path, &tok) : NULL;
    plan_file f;
    if (!plan_file_read(path, m, &f, &err)) pb_die_input(&err);
    const int nh = f.n_layer * f.n_head;
    int n_dense = 0;
    for (int i = 0; i < nh; i++) n_dense += f.cls[i] == PLAN_CLASS_DENSE;
    char rule[512];
    plan_params prm = plan_defaults;
    prm.n_by_length = f.n_by_length;
    memcpy(prm.by_length, f.by_length, sizeof f.by_length);
    plan_by_length_text(&prm, rule, sizeof rule);
    printf("plan         %s (version %d)%s\n", path, f.n_by_length || n_dense ? 2 : 1,
           m ? ", made for this model" : "");
    printf("model        fingerprint %016llx; %d layers x %d heads (%d kv) x %d\n", (unsigned long long)f.model_fp,
           f.n_layer, f.n_head, f.n_head_kv, f.head_dim);
    printf("settings     sink %d, window %d, block %d, local %d, p %g, indexer rank %d\n", f.sink, f.window, f.block,
           f.local, (double)f.p, f.r);
    printf("length rule  %s\n", *rule ? rule : "none");
    printf("heads        %d retrieval, %d local, %d dense of %d\n", plan_file_n_retrieval(&f),
           nh - plan_file_n_retrieval(&f) - n_dense, n_dense, nh);
    printf("layer  retrieval  local  dense\n");
    for (int l = 0; l < f.n_layer; l++) {
        int k[3] = {0};
        for (int h = 0; h < f.n_head; h++) k[f.cls[l * f.n_head + h]]++;
        printf("%5d  %9d  %5d  %5d\n", l, k[PLAN_CLASS_RETRIEVAL], k[PLAN_CLASS_LOCAL], k[PLAN_CLASS_DENSE]);
    }
    plan_file_free(&f);
    if (m) {
        model_free(m);
        tok_free(tok);
    }
    return 0;
}

static int plan_set(const char *path, const char *out, const char *by_length, const char *dense)
{
    const char *C = "plan";
    if (!out) arg_bad(C, "set needs --out G.purbo");
    if (!by_length && !dense) arg_bad(C, "set needs --by-length or --dense-layers");
    pb_err err;
    plan_file f;
    if (!plan_file_read(path, NULL, &f, &err)) pb_die_input(&err);
    plan_params prm = plan_defaults;
    if (by_length && strcmp(by_length, "none")) {
        if (!plan_by_length_parse(by_length, &prm, &err)) arg_bad(C, "--by-length: %s", err.msg);
        f.n_by_length = prm.n_by_length;
        memcpy(f.by_length, prm.by_length, sizeof f.by_length);
    } else if (by_length) f.n_by_length = 0;
    if (dense) {
        if (!plan_dense_layers_parse(dense, &prm, &err)) arg_bad(C, "--dense-layers: %s", err.msg);
        for (int l = f.n_layer; l < MODEL_MAX_LAYERS; l++)
            if (prm.dense_layer[l]) arg_bad(C, "--dense-layers: layer %d: %s has %d layers", l, path, f.n_layer);
        const size_t rd = (size_t)f.r * f.head_dim;
        for (int i = 0; i < f.n_layer * f.n_head; i++)
            if (prm.dense_layer[i / f.n_head]) {
                f.cls[i] = PLAN_CLASS_DENSE;
                memset(f.idx_q + i * rd, 0, rd * sizeof(float));
                memset(f.idx_k + i * rd, 0, rd * sizeof(float));
            }
    }
    if (!plan_file_write(out, &f, &err)) pb_die_input(&err);
    printf("%s: written from %s\n", out, path);
    plan_file_free(&f);
    return 0;
}

int cmd_plan(int argc, char **argv)
{
    const char *C = "plan", *sub = NULL, *path = NULL, *model_path = NULL, *out = NULL, *by_length = NULL,
               *dense = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            fputs(HELP, stdout);
            return 0;
        } else if ((v = arg_val(C, argc, argv, &i, "--model"))) model_path = v;
        else if ((v = arg_val(C, argc, argv, &i, "--out"))) out = v;
        else if ((v = arg_val(C, argc, argv, &i, "--by-length"))) by_length = v;
        else if ((v = arg_val(C, argc, argv, &i, "--dense-layers"))) dense = v;
        else if (argv[i][0] == '-') arg_bad(C, "unknown option %s", argv[i]);
        else if (!sub) sub = argv[i];
        else if (!path) path = argv[i];
        else arg_bad(C, "more than one plan file given");
    }
    if (!sub || !path) arg_bad(C, "usage: purbo-bench plan show|set F.purbo ... (purbo-bench plan --help)");
    if (!strcmp(sub, "show")) {
        if (out || by_length || dense) arg_bad(C, "show takes no --out, --by-length or --dense-layers");
        return plan_show(path, model_path);
    }
    if (!strcmp(sub, "set")) {
        if (model_path) arg_bad(C, "set takes no --model");
        return plan_set(path, out, by_length, dense);
    }
    arg_bad(C, "unknown subcommand '%s' (show, set)", sub);
}
