/* probe_impl.c — what the probe files share (probe_impl.h): top-p
 * counting and selection on rows, and the probe_case row with the
 * statement helpers the probes' stores use. Calls no probe.
 */
#include "probes/probe_impl.h"

#include <string.h>

/* ---- rows -------------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

void topp_counts(const float *x, int n, const double *target, int n_t, int *out, float *work)
{
    double total = 0;
    for (int j = 0; j < n; j++) total += x[j];
    memcpy(work, x, (size_t)n * sizeof *work);
    qsort(work, (size_t)n, sizeof *work, cmp_desc);
    double acc = 0;
    int t = 0, j = 0;
    while (t < n_t) {
        while (j < n && acc < target[t] * total) acc += work[j++];
        out[t++] = j > 0 ? j : 1;
    }
}

float kth_largest(float *x, int n, int k)
{
    PB_CHECK(k >= 1 && k <= n, "kth_largest: k %d of %d", k, n);
    int lo = 0, hi = n - 1, want = k - 1; /* index in descending order */
    while (lo < hi) {
        float a = x[lo], b = x[(lo + hi) / 2], c = x[hi];
        float piv; /* median of three */
        if ((a >= b) == (b >= c)) piv = b;
        else if ((b >= a) == (a >= c)) piv = a;
        else piv = c;
        int i = lo, j = hi;
        while (i <= j) { /* Hoare partition, descending */
            while (x[i] > piv) i++;
            while (x[j] < piv) j--;
            if (i <= j) {
                float t = x[i];
                x[i++] = x[j];
                x[j--] = t;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else return x[want];
    }
    return x[want];
}

int block_sums(const float *x, int n, float *out)
{
    int nb = (n + 63) / 64;
    for (int b = 0; b < nb; b++) {
        int e = (b + 1) * 64 < n ? (b + 1) * 64 : n;
        float s = 0;
        for (int j = b * 64; j < e; j++) s += x[j];
        out[b] = s;
    }
    return nb;
}

/* ---- database ---------------------------------------------------------- */

int64_t probe_case_insert(pb_db *db, const probe_case_info *ci, const char *probe, const probe_geom *g,
                          const char *queries)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st = db_prepare(db,
        "INSERT INTO probe_case(run_id, probe, n_ctx, n_windows, n_layer, n_head, n_kv_head, head_dim,"
        " queries, calib, seed, seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    int i = 1;
    DB_CHECK(h, sqlite3_bind_int64(st, i++, ci->run_id));
    DB_CHECK(h, sqlite3_bind_text(st, i++, probe, -1, SQLITE_TRANSIENT));
    const int ints[] = {g->n_ctx, g->n_windows, g->n_layer, g->n_head, g->n_head_kv, g->d};
    for (int k = 0; k < 6; k++) DB_CHECK(h, sqlite3_bind_int(st, i++, ints[k]));
    DB_CHECK(h, sqlite3_bind_text(st, i++, queries, -1, SQLITE_TRANSIENT));
    DB_CHECK(h, sqlite3_bind_text(st, i++, ci->calib ? ci->calib : "", -1, SQLITE_TRANSIENT));
    DB_CHECK(h, sqlite3_bind_int64(st, i++, (int64_t)ci->seed));
    DB_CHECK(h, sqlite3_bind_double(st, i++, ci->seconds));
    DB_CHECK(h, sqlite3_step(st));
    DB_CHECK(h, sqlite3_finalize(st));
    return sqlite3_last_insert_rowid(h);
}
