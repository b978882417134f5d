/* cli_load.c — the model, tokenizer and backend loading every command shares. */
#include "cli/cli.h"

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

backend *cli_open_backend(const char *cmd, const char *kind, const model *m)
{
    pb_err err;
    backend *b = backend_open(kind, m, &err);
    if (!b) arg_bad(cmd, "%s", err.msg);
    return b;
}
