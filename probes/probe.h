/* probe.h — the four probes of RTPurbo's premises, and the runner that feeds
 * them a real model's attention.
 *
 *   locality   how much attention mass sink (4) + a window of W recent tokens
 *              holds, per (layer, head); the smallest W holding 90% / 95%
 *   retrieval  the repeated-span score: mass the second copy of a 64-token
 *              span puts on its first copy, per query head, ranked
 *   rank       recall of the exact top-p (0.9) token set when keys are ranked
 *              by an r-dim projection of pre-RoPE q and k, and the explained
 *              variance, for r in {2,4,8,16,32,d}
 *   demand     tokens and 64-token blocks a query needs to reach p of its
 *              attention mass, p in {0.5,0.8,0.9,0.95}, at several context
 *              lengths
 *
 * A probe sees the model only through the attention observer (attention.h):
 * pre-RoPE q/k per layer (on_qk) and the dense policy's probability rows
 * (on_rows). Whatever backend produces those (the CPU forward pass today, a
 * CUDA one later) can run the probes unchanged. Each probe file documents
 * exactly which queries it measures.
 *
 * The runner (probe_run) evaluates windows of geom.n_ctx tokens with every
 * head dense: one pass over the calibration windows (calib.h) shared by the
 * probes that read them, and one pass over its own documents for each probe
 * that builds them (retrieval). Results go to SQLite (results/schema.sql,
 * migration 2): each probe case in its own transaction.
 */
#ifndef PURBO_PROBE_H
#define PURBO_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "run/attention.h"
#include "probes/calib.h"
#include "results/db.h"
#include "run/forward.h"

typedef struct {
    int n_layer, n_head, n_head_kv, d; /* the model's attention shape */
    int n_ctx;                          /* tokens per window (multiple of 64, >= 256) */
    int n_windows;                      /* windows (documents) per pass */
    const model_config *cfg;            /* the model's description (layer kinds), or NULL: all global */
} probe_geom;

/* What a probe case row records besides the probe's own numbers. */
typedef struct {
    int64_t run_id;
    const char *calib;  /* calib_describe() of the text the windows came from */
    uint64_t seed;
    double seconds;     /* wall time of the pass(es) that fed the probe */
} probe_case_info;

typedef struct probe probe;
struct probe {
    const char *name;
    void *st;
    attn_observer obs;  /* obs.user == st; on_qk / on_rows may be NULL */
    /* Fills ids (n_ctx) with window w; NULL: calibration window w. */
    void (*doc)(void *st, const calib *c, uint64_t seed, int w, int *ids);
    void (*window_begin)(void *st, int w);  /* NULL ok */
    void (*window_end)(void *st, int w);    /* NULL ok */
    /* Writes the probe's case(s), each in its own transaction. */
    void (*store)(void *st, pb_db *db, const probe_case_info *ci);
    /* The headline numbers, a few lines. */
    void (*print)(void *st, FILE *f);
    void (*free)(void *st);
};

probe probe_locality(const probe_geom *g);
probe probe_retrieval(const probe_geom *g);
probe probe_rank(const probe_geom *g);
probe probe_demand(const probe_geom *g);
/* By name ("locality", ...); 0 for an unknown name. */
int probe_make(const char *name, const probe_geom *g, probe *out);
extern const char *const probe_names[4];

/* Runs windows 0..g->n_windows-1 through s (every head dense, the probes'
 * observers attached; s->n_ctx >= g->n_ctx) and, after each pass, stores
 * the probes of that pass in db (NULL: not stored). Progress lines go to log
 * (NULL: silent). */
void probe_run(session *s, const calib *c, uint64_t seed, probe *ps, int n, const probe_geom *g,
               pb_db *db, int64_t run_id, FILE *log);

/* ---- shared by the probe files (probes/probe_util.c) ---- */

/* Number of the largest entries of x (n >= 1, entries >= 0) whose sum first
 * reaches target[t] * sum(x), for each of the n_t ascending targets (in
 * (0, 1]); out[t] in 1..n. work holds n floats. Ties are counted once each. */
void topp_counts(const float *x, int n, const double *target, int n_t, int *out, float *work);
/* The k-th largest value of x (1 <= k <= n); reorders x. */
float kth_largest(float *x, int n, int k);
/* Masses of the 64-token blocks [64b, 64b+64) of x[0..n): out[ceil(n/64)]. */
int block_sums(const float *x, int n, float *out);

/* Inserts the probe_case row (inside the caller's case) and returns its id. */
int64_t probe_case_insert(pb_db *db, const probe_case_info *ci, const char *probe, const probe_geom *g,
                          const char *queries);
/* A prepared statement on db's handle (DB_CHECK'ed). */
sqlite3_stmt *probe_prepare(pb_db *db, const char *sql);
/* Steps an insert to completion and resets it for the next row. */
void probe_step_reset(pb_db *db, sqlite3_stmt *st);

#endif
