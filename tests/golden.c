/* golden.c — reads the golden logits files (golden.h). */
#include "tests/golden.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixture.h"
#include "tests/test.h"

static int golden_load(const char *path, golden *g)
{
    char *txt = fixture_read(path, NULL);
    if (!txt) return 0;
    memset(g, 0, sizeof *g);
    char *line = txt, *next;
    int row = 0;
    for (; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (line[0] == '#') continue;
        if (!strncmp(line, "n_tokens ", 9)) {
            g->n = atoi(line + 9);
            g->n_rows = g->n;
        } else if (!strncmp(line, "ids ", 4)) {
            g->ids = pb_malloc((size_t)g->n * sizeof(int));
            char *p = line + 4;
            for (int i = 0; i < g->n; i++) g->ids[i] = (int)strtol(p, &p, 10);
        } else if (!strncmp(line, "topk ", 5)) {
            g->k = atoi(line + 5);
        } else if (!strncmp(line, "checked ", 8)) {
            g->n_rows = atoi(line + 8);
            if (g->n_rows < 1 || g->n_rows > g->n) break;
        } else if (g->k && row < g->n_rows) {
            if (!g->top_id) {
                g->pos = pb_malloc((size_t)g->n_rows * sizeof(int));
                g->top_id = pb_malloc((size_t)g->n_rows * g->k * sizeof(int));
                g->top_v = pb_malloc((size_t)g->n_rows * g->k * sizeof(double));
            }
            char *p = line;
            int t = (int)strtol(p, &p, 10);
            /* every position in order, or (checked) ascending positions */
            if (g->n_rows == g->n ? t != row : (t >= g->n || (row && t <= g->pos[row - 1]))) break;
            g->pos[row] = t;
            for (int j = 0; j < g->k; j++) {
                g->top_id[row * g->k + j] = (int)strtol(p, &p, 10);
                p++; /* ':' */
                g->top_v[row * g->k + j] = strtod(p, &p);
            }
            row++;
        }
    }
    free(txt);
    return g->n > 0 && g->k > 0 && row == g->n_rows;
}

void golden_free(golden *g)
{
    free(g->ids);
    free(g->pos);
    free(g->top_id);
    free(g->top_v);
}

int golden_open_in(const char *dir, const char *name, const tokenizer *tok, golden *g)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.golden", dir, name);
    if (!golden_load(path, g)) {
        test_fail(__FILE__, __LINE__, "cannot read %s", path);
        golden_free(g);
        return 0;
    }
    snprintf(path, sizeof path, "%s/prompt_%s.txt", dir, name);
    size_t len;
    char *text = fixture_read(path, &len);
    if (!text) {
        test_fail(__FILE__, __LINE__, "cannot read %s", path);
        golden_free(g);
        return 0;
    }
    int *ids;
    int n = tok_encode(tok, text, len, 1, &ids);
    free(text);
    int bos = tok_add_bos(tok) ? 1 : 0;
    int same = n + bos == g->n && (!bos || g->ids[0] == tok_bos(tok));
    for (int i = 0; same && i < n; i++) same = ids[i] == g->ids[i + bos];
    free(ids);
    if (!same) {
        test_fail(__FILE__, __LINE__, "%s/%s: tokenization differs from the reference", dir, name);
        golden_free(g);
        return 0;
    }
    return 1;
}

int golden_open(const char *name, golden *g)
{
    return golden_open_in("tests/data/golden", name, fixture_tok(), g);
}

void golden_row_diff(const golden *g, int r, const float *logits, double *worst)
{
    for (int j = 0; j < g->k; j++) {
        double d = fabs(logits[g->top_id[r * g->k + j]] - g->top_v[r * g->k + j]);
        if (d > *worst) *worst = d;
    }
}
