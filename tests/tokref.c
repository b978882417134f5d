/* tokref.c — reads the tokenizer reference files (tokref.h). */
#include "tests/tokref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) { out[o++] = s[i]; continue; }
        char c = s[++i];
        if (c == 'n') out[o++] = '\n';
        else if (c == 't') out[o++] = '\t';
        else if (c == 'r') out[o++] = '\r';
        else if (c == 'x' && i + 2 < n) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else out[o++] = c;
    }
    return o;
}

int tokref_load(const char *path, ref_case **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int n = 0, cap = 0;
    ref_case *cs = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) > 0) {
        if (line[len - 1] == '\n') line[--len] = 0;
        if (len == 0 || line[0] == '#' || !strncmp(line, "kjv", 3)) continue;
        char *tab[3], *p = line;
        for (int k = 0; k < 3; k++) {
            p = strchr(p, '\t');
            if (!p) { n = 0; goto done; }
            tab[k] = p++;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            cs = realloc(cs, (size_t)cap * sizeof *cs);
        }
        ref_case *c = &cs[n++];
        size_t name_len = (size_t)(tab[0] - line);
        if (name_len >= sizeof c->name) name_len = sizeof c->name - 1;
        memcpy(c->name, line, name_len);
        c->name[name_len] = 0;
        c->special = tab[0][1] == 'S';
        c->text = malloc((size_t)(tab[2] - tab[1]));
        c->len = unescape(tab[1] + 1, (size_t)(tab[2] - tab[1] - 1), c->text);
        c->ids = malloc((strlen(tab[2]) / 2 + 1) * sizeof *c->ids);
        c->n_ids = 0;
        for (char *q = tab[2] + 1, *end; *q; q = end) {
            long v = strtol(q, &end, 10);
            if (end == q) break;
            c->ids[c->n_ids++] = (int)v;
        }
    }
done:
    free(line);
    fclose(f);
    *out = cs;
    return n;
}

void tokref_free(ref_case *cs, int n)
{
    for (int i = 0; i < n; i++) {
        free(cs[i].text);
        free(cs[i].ids);
    }
    free(cs);
}

const ref_case *tokref_find(const ref_case *cs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(cs[i].name, name)) return &cs[i];
    return NULL;
}

