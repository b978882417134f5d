/* golden.c — reads the golden logits files (golden.h). */
#include "tests/golden.h"

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
    int pos = 0;
    for (; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (line[0] == '#') continue;
        if (!strncmp(line, "n_tokens ", 9)) {
            g->n = atoi(line + 9);
        } else if (!strncmp(line, "ids ", 4)) {
            g->ids = pb_malloc((size_t)g->n * sizeof(int));
            char *p = line + 4;
            for (int i = 0; i < g->n; i++) g->ids[i] = (int)strtol(p, &p, 10);
        } else if (!strncmp(line, "topk ", 5)) {
            g->k = atoi(line + 5);
            g->top_id = pb_malloc((size_t)g->n * g->k * sizeof(int));
            g->top_v = pb_malloc((size_t)g->n * g->k * sizeof(double));
        } else if (g->k && pos < g->n) {
            char *p = line;
            int t = (int)strtol(p, &p, 10);
            if (t != pos) break;
            for (int j = 0; j < g->k; j++) {
                g->top_id[pos * g->k + j] = (int)strtol(p, &p, 10);
                p++; /* ':' */
                g->top_v[pos * g->k + j] = strtod(p, &p);
            }
            pos++;
        }
    }
    free(txt);
    return g->n > 0 && pos == g->n;
}

void golden_free(golden *g)
{
    free(g->ids);
    free(g->top_id);
    free(g->top_v);
}

int golden_open(const char *name, golden *g)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/golden/%s.golden", name);
    if (!golden_load(path, g)) {
        test_fail(__FILE__, __LINE__, "cannot read %s", path);
        return 0;
    }
    snprintf(path, sizeof path, "tests/data/golden/prompt_%s.txt", name);
    size_t len;
    char *text = fixture_read(path, &len);
    if (!text) {
        test_fail(__FILE__, __LINE__, "cannot read %s", path);
        golden_free(g);
        return 0;
    }
    int *ids;
    int n = tok_encode(fixture_tok(), text, len, 1, &ids);
    free(text);
    int same = n == g->n;
    for (int i = 0; same && i < n; i++) same = ids[i] == g->ids[i];
    free(ids);
    if (!same) {
        test_fail(__FILE__, __LINE__, "%s: tokenization differs from the reference", name);
        golden_free(g);
        return 0;
    }
    return 1;
}
