/* table.h — a table of cells printed as aligned text, GitHub Markdown or
 * JSON: the one printer of the tables that report and compare write in
 * their --format md and json (and of the two-run report in all formats).
 *
 * A table has a name (its JSON key and Markdown heading), fixed columns,
 * and rows filled left to right, one cell per call; a row ends when its
 * last column is filled. Cells are text, integers, reals (printed with the
 * given decimals in text and Markdown, exactly in JSON) or empty ("-" in
 * text and Markdown, null in JSON).
 * Invariants: text columns are as wide as their widest cell (nothing is
 * truncated), text cells left-aligned, numbers right-aligned; Markdown
 * escapes '|' inside cells; JSON rows are objects keyed by column name.
 */
#ifndef PURBO_TABLE_H
#define PURBO_TABLE_H

#include <stdio.h>

enum { TBL_TEXT, TBL_MD, TBL_JSON };

typedef struct tbl tbl;

/* cols: the column names (copied). */
tbl *tbl_new(const char *name, int ncols, const char *const *cols);
void tbl_str(tbl *t, const char *s);      /* NULL: empty */
void tbl_int(tbl *t, long long v);
void tbl_real(tbl *t, double v, int decimals);
/* A real printed with an explicit sign (+1.50) in text and Markdown. */
void tbl_signed(tbl *t, double v, int decimals);
void tbl_null(tbl *t);
int tbl_rows(const tbl *t);
/* Text: the name on its own line, a header line, the rows. Markdown: "#### name",
 * a header and separator line, the rows. JSON: "NAME": [{...}, ...] (a
 * member of the caller's object; the caller writes the braces and commas). */
void tbl_print(const tbl *t, int fmt, FILE *f);
void tbl_free(tbl *t);
/* "text", "md" or "json" into *fmt; 0 when s is none of them. */
int tbl_format(const char *s, int *fmt);

#endif
