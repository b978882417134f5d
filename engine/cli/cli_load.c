/* cli_load.c — the model, tokenizer and backend loading every command shares. */
#include "cli/cli.h"

#include <stdlib.h>

#include "cli/args.h"

model *cli_load_model(const char *path, tokenizer **tok)
{
    pb_err err;
    model *m = model_load(path, &err);
    if (!m) pb_die_input(&err);
    if (tok) {
        *tok = tok_from_gguf(m->file, &err);
        if (!*tok) pb_die_input(&err);
    }
    return m;
}

void cli_check_backend(const char *cmd, const char *kind)
{
    pb_err err;
    if (!backend_check(kind, &err)) arg_bad(cmd, "%s", err.msg);
}

int cli_cpu_products_opt(const char *cmd, int argc, char **argv, int *i)
{
    const char *v = arg_val(cmd, argc, argv, i, "--cpu-products");
    if (!v) return 0;
    pb_err err;
    if (!backend_cpu_products_set(v, &err)) arg_bad(cmd, "%s", err.msg);
    setenv("PURBO_CPU_PRODUCTS", v, 1); /* for the commands this one starts (run --gpus, shards) */
    return 1;
}

backend *cli_open_backend(const char *cmd, const char *kind, const model *m)
{
    pb_err err;
    backend *b = backend_open(kind, m, &err);
    if (!b) arg_bad(cmd, "%s", err.msg);
    return b;
}
