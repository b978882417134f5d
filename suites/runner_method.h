/* runner_method.h — the one place that maps a suite method (policy +
 * params, suites/SCHEMA.md) onto the engine: a plan (engine/policy/plan.h) built
 * once per method, and a fresh session per (case, method) with it applied.
 *
 * Params are the spec's fields by the names --policy uses (sink, window,
 * block, local, page, budget, k, p, kmin, r, calib), set through the same
 * typed API (plan_spec_set_*). The retrieval heads of
 * duo, rtpurbo and rtpurbo-topk come from params.plan, a file of LAYER.HEAD
 * items (plan_parse_heads; `purbo-bench probe retrieval` prints the top 15%
 * as one, best first); with rho, only the first rho * H heads listed (H the
 * model's query heads; a list shorter than that is refused), so a sweep over
 * rho reads one ranked list; rho alone is refused (the runner does not run
 * the probe).
 * rtpurbo indexers are fitted by PCA on KJV text (indexer_calibrate_kjv).
 * params.plan may instead be a converted model's .purbo plan file
 * (planfile.h, `purbo-bench convert`): its retrieval heads, r and trained
 * indexers, and its S, W, block and p where the params do not set them
 * (rho, and a rank other than the plan's, are refused). A throughput shape other than the
 * model's (random weights) gets its own plan: the rho share of heads
 * (default 0.15), evenly spaced, as retrieval heads, and indexers fitted on
 * random tokens: what the timing needs, not what a trained plan would pick.
 */
#ifndef PURBO_RUNNER_METHOD_H
#define PURBO_RUNNER_METHOD_H

#include <stdint.h>

#include "run/forward.h"
#include "policy/plan.h"
#include "suites/suite.h"
#include "model/tokenizer.h"

typedef struct {
    const suite_method *m;
    plan_spec spec;
    unsigned char *retr;   /* the model's retrieval heads, or NULL */
    plan pl;               /* for the model */
    plan shape_pl;         /* for the random-weight shape last asked for */
    int has_shape_pl;
} method_engine;

/* Builds the method's plan for model mdl (the spec from the method's typed
 * fields, plan.h), indexers not yet fitted. 0 + err "FILE:LINE:COL: method
 * 'NAME': ..." when the build lacks the policy or the params do not fit it. */
int method_prepare(const suite *s, const suite_method *sm, const model *mdl, method_engine *me, pb_err *err);
/* Fits PCA indexers on KJV text (tok) when the plan needs them and has none
 * (indexer_calibrate_kjv): once the backend is settled. 1, or 0 + err. */
int method_indexers(method_engine *me, const model *mdl, const tokenizer *tok, pb_err *err);
/* A session of n_ctx positions on mdl (the model, or a random-weight one of
 * another shape) with the method's policies applied for a prompt of
 * n_prompt tokens (the row of a length rule) and density counts at 0; on
 * backend b (opened on mdl; the caller keeps it open longer than the
 * session), or NULL: a CPU backend of the session's own. */
session *method_session(method_engine *me, const model *mdl, backend *b, int is_model, int n_ctx, int n_prompt,
                        uint64_t seed);
/* What the sequences on s cost: density (pairs attended / causally visible
 * since the session was made or its counts reset) and the KV bytes held. */
void method_cost(const session *s, double *density, int64_t *kv_bytes);
void method_release(method_engine *me);

#endif
