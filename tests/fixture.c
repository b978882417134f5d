/* fixture.c — shared model/tokenizer for tests (fixture.h). */
#include "fixture.h"

#include "test.h"

static model *m;
static tokenizer *tok;

const model *fixture_model(void)
{
    if (!m) {
        pb_err err;
        m = model_load(test_model_path, &err);
        if (!m) pb_die_input(&err);
    }
    return m;
}

const tokenizer *fixture_tok(void)
{
    if (!tok) {
        pb_err err;
        tok = tok_from_gguf(fixture_model()->file, &err);
        if (!tok) pb_die_input(&err);
    }
    return tok;
}

char *fixture_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = pb_malloc((size_t)n + 1);
    size_t r = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[r] = 0;
    if (len) *len = r;
    return buf;
}
