/* table.c — text, Markdown and JSON printing of a table (table.h). Cells
 * are kept as their printed text plus, for numbers, the exact value for
 * JSON. */
#include "suites/table.h"

#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "results/text_out.h"

enum { CELL_NULL, CELL_STR, CELL_INT, CELL_REAL };

typedef struct {
    int kind;
    char *text; /* as printed in text and Markdown */
    double v;
} cell;

struct tbl {
    char *name;
    char **cols;
    int ncols, n, cap; /* n cells filled */
    cell *c;
};

tbl *tbl_new(const char *name, int ncols, const char *const *cols)
{
    tbl *t = pb_calloc(1, sizeof *t);
    t->name = strdup(name);
    t->ncols = ncols;
    t->cols = pb_malloc((size_t)ncols * sizeof *t->cols);
    for (int i = 0; i < ncols; i++) t->cols[i] = strdup(cols[i]);
    return t;
}

static void add(tbl *t, int kind, const char *text, double v)
{
    if (t->n == t->cap) t->c = pb_realloc(t->c, (size_t)(t->cap = t->cap ? 2 * t->cap : 64) * sizeof *t->c);
    t->c[t->n].kind = kind;
    t->c[t->n].text = strdup(text);
    PB_CHECK(t->c[t->n].text, "out of memory");
    t->c[t->n++].v = v;
}

void tbl_str(tbl *t, const char *s) { add(t, s ? CELL_STR : CELL_NULL, s ? s : "-", 0); }
void tbl_null(tbl *t) { add(t, CELL_NULL, "-", 0); }

void tbl_int(tbl *t, long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    add(t, CELL_INT, b, (double)v);
}

void tbl_real(tbl *t, double v, int decimals)
{
    char b[64];
    snprintf(b, sizeof b, "%.*f", decimals, v);
    add(t, CELL_REAL, b, v);
}

void tbl_signed(tbl *t, double v, int decimals)
{
    char b[64];
    snprintf(b, sizeof b, "%+.*f", decimals, v);
    add(t, CELL_REAL, b, v);
}

int tbl_rows(const tbl *t) { return t->n / t->ncols; }

static void print_text(const tbl *t, FILE *f)
{
    int *w = pb_calloc((size_t)t->ncols, sizeof *w);
    for (int j = 0; j < t->ncols; j++) w[j] = (int)strlen(t->cols[j]);
    for (int i = 0; i < t->n; i++) {
        int l = (int)strlen(t->c[i].text);
        if (l > w[i % t->ncols]) w[i % t->ncols] = l;
    }
    /* a column is numeric (right-aligned) when none of its cells is text */
    int *num = pb_malloc((size_t)t->ncols * sizeof *num);
    for (int j = 0; j < t->ncols; j++) num[j] = 1;
    for (int i = 0; i < t->n; i++) num[i % t->ncols] &= t->c[i].kind != CELL_STR;
    fprintf(f, "%s\n", t->name);
    for (int j = 0; j < t->ncols; j++)
        fprintf(f, "%s%*s", j ? "  " : "", num[j] ? w[j] : -w[j], t->cols[j]);
    fputc('\n', f);
    for (int i = 0; i < t->n; i++) {
        int j = i % t->ncols;
        if (j == t->ncols - 1 && !num[j]) fprintf(f, "%s%s", j ? "  " : "", t->c[i].text); /* no trailing blanks */
        else fprintf(f, "%s%*s", j ? "  " : "", num[j] ? w[j] : -w[j], t->c[i].text);
        if (j == t->ncols - 1) fputc('\n', f);
    }
    free(w);
    free(num);
}

static void md_cell(FILE *f, const char *s)
{
    fputs("| ", f);
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc(' ', f);
}

static void print_md(const tbl *t, FILE *f)
{
    fprintf(f, "#### %s\n\n", t->name);
    for (int j = 0; j < t->ncols; j++) md_cell(f, t->cols[j]);
    fputs("|\n", f);
    for (int j = 0; j < t->ncols; j++) {
        int num = 1;
        for (int i = j; i < t->n; i += t->ncols) num &= t->c[i].kind != CELL_STR;
        fputs(num ? "|---:" : "|:---", f);
    }
    fputs("|\n", f);
    for (int i = 0; i < t->n; i++) {
        md_cell(f, t->c[i].text);
        if (i % t->ncols == t->ncols - 1) fputs("|\n", f);
    }
    fputc('\n', f);
}

static void print_json(const tbl *t, FILE *f)
{
    json_put_str(f, t->name);
    fputs(": [", f);
    for (int i = 0; i < t->n; i++) {
        int j = i % t->ncols;
        if (j == 0) fprintf(f, "%s\n  {", i ? "," : "");
        else fputc(',', f);
        json_put_str(f, t->cols[j]);
        fputc(':', f);
        const cell *c = &t->c[i];
        if (c->kind == CELL_NULL) fputs("null", f);
        else if (c->kind == CELL_STR) json_put_str(f, c->text);
        else if (c->kind == CELL_INT) fputs(c->text, f);
        else json_put_num(f, c->v);
        if (j == t->ncols - 1) fputc('}', f);
    }
    fputs("]", f);
}

void tbl_print(const tbl *t, int fmt, FILE *f)
{
    if (fmt == TBL_TEXT) print_text(t, f);
    else if (fmt == TBL_MD) print_md(t, f);
    else print_json(t, f);
}

void tbl_free(tbl *t)
{
    if (!t) return;
    for (int i = 0; i < t->n; i++) free(t->c[i].text);
    for (int j = 0; j < t->ncols; j++) free(t->cols[j]);
    free(t->c);
    free(t->cols);
    free(t->name);
    free(t);
}

int tbl_format(const char *s, int *fmt)
{
    if (!strcmp(s, "text")) *fmt = TBL_TEXT;
    else if (!strcmp(s, "md")) *fmt = TBL_MD;
    else if (!strcmp(s, "json")) *fmt = TBL_JSON;
    else return 0;
    return 1;
}
