/* runner_layer.h — the cases of a throughput task of level layer
 * (suites/SCHEMA.md): one RTPurbo attention layer (kernels/layer_time.h)
 * and its dense peers, timed and stored by the suite runner.
 *
 * Methods on the layer level (all on CUDA):
 *   policy rtpurbo, impl purbo: the layer, whole and by stage, its
 *       selection's density and needles (layer_bench);
 *   policy rtpurbo, impl flex: FlexAttention over the layer's own block
 *       lists (every head: the retrieval heads' selection, the local heads'
 *       sink and window blocks), through the peers' process;
 *   policy dense, impl purbo: our dense kernel over every head;
 *   policy dense, impl sdpa_cudnn / sdpa_fa2: torch SDPA dense.
 * Dense methods do not depend on the density: they run on the first
 * density point only. A method named in the task's max_context runs at
 * contexts up to its entry only.
 */
#ifndef PURBO_RUNNER_LAYER_H
#define PURBO_RUNNER_LAYER_H

#include <stddef.h>

#include "results/db.h"
#include "suites/peer.h"
#include "suites/suite.h"
#include "suites/throughput.h"

/* Whether method m has a layer implementation at all. */
int rl_method_ok(const suite_method *m);
/* Whether m runs on case ci of layer task t (density, peer contexts). */
int rl_case_applies(const suite_task *t, int ci, const suite_method *m);

typedef struct {
    pb_db *db;
    int64_t run;
    const suite *su;
    const suite_task *t;
    const suite_method *m;
    int ci, pair;
    const tp_case *tc;
    peer *peer;      /* the peers' process, or NULL when it is not running */
    tp_kernels *kt;  /* kernel timings (CUPTI) of one repetition */
} rl_ctx;

/* Times one (case, method) and stores its rows in one case transaction.
 * 1 and a one-line result in res, or 0 and why (nothing stored). */
int rl_run(const rl_ctx *x, char *res, size_t res_len, char *why, size_t why_len);

#endif
