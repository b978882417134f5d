/* probe_util.c — what the probe files share: the runner that feeds them
 * windows through the attention observer, top-p counting and selection on
 * rows, and the probe_case row (probe.h). */
#include "probes/probe.h"

#include <string.h>

const char *const probe_names[4] = {"locality", "retrieval", "rank", "demand"};

int probe_make(const char *name, const probe_geom *g, probe *out)
{
    if (!strcmp(name, "locality")) *out = probe_locality(g);
    else if (!strcmp(name, "retrieval")) *out = probe_retrieval(g);
    else if (!strcmp(name, "rank")) *out = probe_rank(g);
    else if (!strcmp(name, "demand")) *out = probe_demand(g);
    else return 0;
    return 1;
}

/* ---- runner ----------------------------------------------------------- */

typedef struct {
    probe *ps[8];
    int n;
} mux;

static void mux_qk(void *user, int layer, int pos0, int n, const float *q, const float *k)
{
    mux *m = user;
    for (int i = 0; i < m->n; i++)
        if (m->ps[i]->obs.on_qk) m->ps[i]->obs.on_qk(m->ps[i]->st, layer, pos0, n, q, k);
}

static void mux_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    mux *m = user;
    for (int i = 0; i < m->n; i++)
        if (m->ps[i]->obs.on_rows) m->ps[i]->obs.on_rows(m->ps[i]->st, c, p, ldp);
}

/* One pass: every window through the session with the probes in m attached. */
static double run_pass(session *s, const calib *c, uint64_t seed, mux *m, const probe_geom *g, FILE *log)
{
    attn_observer obs = {m, mux_qk, mux_rows};
    const attn_observer *saved = s->obs;
    s->obs = &obs;
    int *ids = pb_malloc((size_t)g->n_ctx * sizeof *ids);
    double t0 = pb_now();
    for (int w = 0; w < g->n_windows; w++) {
        double tw = pb_now();
        const char *what;
        if (m->ps[0]->doc) {
            m->ps[0]->doc(m->ps[0]->st, c, seed, w, ids);
            what = m->ps[0]->name;
        } else {
            what = calib_window(c, seed, w, g->n_ctx, ids, NULL) == CALIB_KJV ? "kjv" : "code";
        }
        for (int i = 0; i < m->n; i++)
            if (m->ps[i]->window_begin) m->ps[i]->window_begin(m->ps[i]->st, w);
        session_reset(s);
        session_eval(s, ids, g->n_ctx, NULL, 0);
        for (int i = 0; i < m->n; i++)
            if (m->ps[i]->window_end) m->ps[i]->window_end(m->ps[i]->st, w);
        if (log) {
            fprintf(log, "  window %d/%d (%s, %d tokens): %.1f s\n", w + 1, g->n_windows, what, g->n_ctx,
                    pb_now() - tw);
            fflush(log);
        }
    }
    free(ids);
    s->obs = saved;
    return pb_now() - t0;
}

static void store_pass(mux *m, pb_db *db, int64_t run_id, const calib *c, uint64_t seed, double secs)
{
    if (!db) return;
    probe_case_info ci = {.run_id = run_id, .calib = calib_describe(c), .seed = seed, .seconds = secs};
    for (int i = 0; i < m->n; i++) m->ps[i]->store(m->ps[i]->st, db, &ci);
}

void probe_run(session *s, const calib *c, uint64_t seed, probe *ps, int n, const probe_geom *g,
               pb_db *db, int64_t run_id, FILE *log)
{
    PB_CHECK(s->n_ctx >= g->n_ctx, "session of %d positions for windows of %d", s->n_ctx, g->n_ctx);
    mux shared = {.n = 0};
    for (int i = 0; i < n; i++)
        if (!ps[i].doc) {
            PB_CHECK(shared.n < 8, "too many probes");
            shared.ps[shared.n++] = &ps[i];
        }
    if (shared.n) {
        if (log) {
            fprintf(log, "calibration pass:");
            for (int i = 0; i < shared.n; i++) fprintf(log, " %s", shared.ps[i]->name);
            fprintf(log, "\n");
        }
        double secs = run_pass(s, c, seed, &shared, g, log);
        store_pass(&shared, db, run_id, c, seed, secs);
    }
    for (int i = 0; i < n; i++) {
        if (!ps[i].doc) continue;
        mux own = {.ps = {&ps[i]}, .n = 1};
        if (log) fprintf(log, "%s pass (own documents)\n", ps[i].name);
        double secs = run_pass(s, c, seed, &own, g, log);
        store_pass(&own, db, run_id, c, seed, secs);
    }
}

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
