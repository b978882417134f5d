/* cli_load.c — the model + tokenizer loading every command shares. */
#include "cli.h"

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
