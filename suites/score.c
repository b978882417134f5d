/* score.c — RULER's string matching and the passkey's exact match (score.h). */
#include "suites/score.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

/* RULER postprocess_pred: strip, control bytes -> '\n', strip; lower-cased
 * here too since every comparison is case-insensitive. malloc'ed. */
static char *clean_lower(const char *p)
{
    size_t n = strlen(p), b = 0, e = n;
    while (b < e && (isspace((unsigned char)p[b]) || (unsigned char)p[b] < 0x20)) b++;
    while (e > b && (isspace((unsigned char)p[e - 1]) || (unsigned char)p[e - 1] < 0x20)) e--;
    char *s = pb_malloc(e - b + 1);
    for (size_t i = b; i < e; i++) {
        unsigned char c = (unsigned char)p[i];
        s[i - b] = c < 0x20 ? '\n' : (char)tolower(c);
    }
    s[e - b] = 0;
    return s;
}

static int contains_ci(const char *lower_pred, const char *ref)
{
    size_t n = strlen(ref);
    char *r = pb_malloc(n + 1);
    for (size_t i = 0; i <= n; i++) r[i] = (char)tolower((unsigned char)ref[i]);
    int found = strstr(lower_pred, r) != NULL;
    free(r);
    return found;
}

int score_whole_word(const char *s, const char *ref)
{
    size_t k = strlen(ref);
    if (!k) return 0;
    for (const char *p = strstr(s, ref); p; p = strstr(p + 1, ref)) {
        int before = p > s && isalnum((unsigned char)p[-1]);
        int after = isalnum((unsigned char)p[k]);
        if (!before && !after) return 1;
    }
    return 0;
}

double score_case(suite_metric m, const char *pred, const char *const *refs, int n_refs)
{
    PB_CHECK(m != METRIC_DEFAULT, "score_case: metric not resolved");
    if (n_refs <= 0) return 0;
    int found = 0;
    if (m == METRIC_EXACT) {
        for (int i = 0; i < n_refs; i++) found += score_whole_word(pred, refs[i]);
    } else {
        char *p = clean_lower(pred);
        for (int i = 0; i < n_refs; i++) found += contains_ci(p, refs[i]);
        free(p);
        if (m == METRIC_MATCH_PART) return found > 0;
    }
    return (double)found / n_refs;
}

double score_aggregate(const double *scores, int n)
{
    if (n <= 0) return 0;
    double s = 0;
    for (int i = 0; i < n; i++) s += scores[i];
    return round(s / n * 100 * 100) / 100;
}
