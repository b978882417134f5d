/* probe_run.c — the table of probes by name and the runner that feeds
 * them windows through the attention observer (probe_run.h). The probes
 * are called through their function pointers; the table is the only place
 * that names their constructors. On the CUDA backend each pass is one CUPTI
 * region (cupti.h): its kernels go to kernel_timings, case "probe pass
 * NAMES", in their own transaction; without CUPTI one line says why and the
 * pass runs untimed.
 */
#include "probes/probe_run.h"

#include <string.h>

#include "probes/cupti.h"

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

/* The pass's case name: "probe pass" and its probes' names. */
static void pass_name(const mux *m, char *out, size_t len)
{
    snprintf(out, len, "probe pass");
    for (int i = 0; i < m->n; i++) snprintf(out + strlen(out), len - strlen(out), " %s", m->ps[i]->name);
}

/* 1 when some probe of m reads a row of these queries (one without
 * want_rows reads them all). */
static int mux_want(void *user, int layer, int q_pos0, int n_q)
{
    mux *m = user;
    for (int i = 0; i < m->n; i++) {
        const attn_observer *o = &m->ps[i]->obs;
        if (o->on_rows && (!o->want_rows || o->want_rows(m->ps[i]->st, layer, q_pos0, n_q))) return 1;
    }
    return 0;
}

/* One pass: every window through the session with the probes in m attached.
 * On CUDA with a database, its kernels timed by CUPTI and stored. */
static double run_pass(session *s, const calib *c, uint64_t seed, mux *m, const probe_geom *g, pb_db *db,
                       int64_t run_id, FILE *log)
{
    int parallel = 1; /* heads at once when every probe reading rows takes them so */
    for (int i = 0; i < m->n; i++)
        if (m->ps[i]->obs.on_rows && !m->ps[i]->obs.parallel_heads) parallel = 0;
    attn_observer obs = {m, mux_qk, mux_rows, mux_want, parallel};
    const attn_observer *saved = s->obs;
    s->obs = &obs;
    char why[256];
    int timed = db && !strcmp(s->b->name, "cuda");
    if (timed && !cupti_begin(why, sizeof why)) {
        if (log) fprintf(log, "  kernel timings off: %s\n", why);
        timed = 0;
    }
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
    double secs = pb_now() - t0;
    if (timed) {
        int nk = 0;
        size_t dropped = 0;
        cupti_kernel *k = cupti_end(&nk, &dropped);
        char name[128];
        pass_name(m, name, sizeof name);
        db_case_begin(db);
        cupti_store(db, run_id, 0, name, k, nk);
        db_case_commit(db);
        if (log) fprintf(log, "  %d kernels timed (CUPTI%s)\n", nk, dropped ? ", some records lost" : "");
        cupti_kernels_free(k, nk);
    }
    return secs;
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
        double secs = run_pass(s, c, seed, &shared, g, db, run_id, log);
        store_pass(&shared, db, run_id, c, seed, secs);
    }
    for (int i = 0; i < n; i++) {
        if (!ps[i].doc) continue;
        mux own = {.ps = {&ps[i]}, .n = 1};
        if (log) fprintf(log, "%s pass (own documents)\n", ps[i].name);
        double secs = run_pass(s, c, seed, &own, g, db, run_id, log);
        store_pass(&own, db, run_id, c, seed, secs);
    }
}
