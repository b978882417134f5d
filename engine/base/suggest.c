/* suggest.c — "did you mean" for a mistyped name (suggest.h): the closest
 * of a list by case-insensitive edit distance, offered only within a few
 * edits (1 below 6 characters, 2 below 10, else 3), so a wild guess gets no
 * hint rather than a misleading one.
 */
#include "base/suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 40 || lb > 40) return 99;
    int d[41][41];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

void pb_suggest(const char *got, const char *const *names, int n, char *out, size_t cap)
{
    int best = -1, bd = 99;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(got, names[i]);
        if (d < bd) bd = d, best = i;
    }
    int len = (int)strlen(got);
    if (best >= 0 && bd <= (len < 6 ? 1 : len < 10 ? 2 : 3)) snprintf(out, cap, " (did you mean '%s'?)", names[best]);
    else out[0] = 0;
}
