/* probe.h — the four probes of RTPurbo's premises: what a probe is, what
 * it measures, and the per-head results it hands back.
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
 * (on_rows). Whatever backend produces those (the CPU forward pass, or the
 * CUDA one's rows computed on the device) runs the probes unchanged. Each probe file documents
 * exactly which queries it measures.
 *
 * The runner and the table of probes by name are probe_run.h; what the
 * probe files share is probe_impl.h. A probe's results reach its caller in
 * memory (probe_heads); the database (results/schema.sql, migration 2)
 * records them, each probe case in its own transaction, and nothing reads
 * them back to decide.
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

/* A probe's results per query head, in memory: what its store records and
 * what a caller (the converter) decides from. Every array has n_layer *
 * n_head entries, index layer * n_head + head, and belongs to the probe
 * (valid until its free); what a probe does not measure is NULL. */
typedef struct {
    int n_layer, n_head;
    /* retrieval */
    const double *score;        /* repeated-span score */
    const double *score_next;   /* mass on the token after the current one in the first copy */
    const int *rank;            /* 1 = highest score (ties by index) */
    /* locality */
    const int *w90, *w95;       /* smallest W of the grid holding 0.9 / 0.95 of the mass */
    const int *grid;            /* the windows W measured, ascending: n_grid entries */
    int n_grid;
    const double *mass;         /* (n_layer * n_head, n_grid) mean mass within the sinks + grid[k] recent tokens */
} probe_heads;

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
    /* The per-head results once every window ran (owned by the probe); NULL
     * for a probe without them (rank, demand). */
    const probe_heads *(*heads)(void *st);
    void (*free)(void *st);
};

probe probe_locality(const probe_geom *g);
probe probe_retrieval(const probe_geom *g);
probe probe_rank(const probe_geom *g);
probe probe_demand(const probe_geom *g);

#endif
