/* probe_synth.h — what the probe and plot tests share: a results database
 * with a run, and the feeding of synthetic attention rows and q/k to a
 * probe through its observer (the path the forward pass uses). */
#ifndef PURBO_PROBE_SYNTH_H
#define PURBO_PROBE_SYNTH_H

#include "probes/probe_impl.h"
#include "probes/probe_run.h"

/* Opens DIR/name.db and begins a run; *run gets its id. */
pb_db *synth_db(const char *dir, const char *name, int64_t *run);

/* Row function: fills row (i+1 keys, zeroed first) for query i of
 * (layer, head) in window w. */
typedef void (*synth_row_fn)(int w, int layer, int head, int i, float *row, void *ctx);

/* Runs window w of probe p on synthetic rows: window_begin, then for each
 * layer (on_qk with q, k if given: (n_ctx, n_head, d), (n_ctx, n_head_kv, d))
 * and each head, on_rows in blocks of ATTN_QBLOCK queries, then window_end. */
void synth_window(probe *p, const probe_geom *g, int w, synth_row_fn fn, void *ctx, const float *q,
                  const float *k);
/* The same, but the blocks the probe's want_rows declines get NaN rows (a
 * probe that read them would show it); returns how many blocks it declined. */
int synth_window_want(probe *p, const probe_geom *g, int w, synth_row_fn fn, void *ctx, const float *q,
                      const float *k);
/* synth_window as the CUDA backend feeds a probe that takes heads in
 * parallel (attention.h, parallel_heads): per layer and block of queries,
 * on_rows of every head at once, one thread per head. */
void synth_window_parallel(probe *p, const probe_geom *g, int w, synth_row_fn fn, void *ctx, const float *q,
                           const float *k);

/* A synth_row_fn: a head-dependent mix of sink, recent window and a few far keys. */
void synth_mixed_row(int w, int layer, int head, int i, float *row, void *ctx);

/* Fills a store of every probe with small synthetic results in run of db
 * (the tiny run the plot test draws). */
void synth_all_probes(pb_db *db, int64_t run);

/* A single value from an SQL query (-1e300 when no row). */
double synth_query(pb_db *db, const char *sql);

#endif
