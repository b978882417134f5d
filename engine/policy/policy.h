/* policy.h — the policy factory: from a plan's head kinds to the attn_policy
 * objects a session runs (policy.c).
 *
 * The dispatcher of the policy family. The policies themselves (attn_*.c)
 * know only their shared toolkit (attn_sparse.h) and the plan's data
 * (plan.h); this file is the one place that names them all, so the
 * dependencies run one way: policy.c -> attn_*.c -> attn_sparse.c, plan.c.
 * It also decides where a plan can run (plan_runs_on), the check every
 * command that opens a backend for a plan goes through.
 */
#ifndef PURBO_POLICY_H
#define PURBO_POLICY_H

#include "policy/plan.h"

/* Creates the policy of one kind for a session of n_ctx positions (the plan
 * must outlive it: rtpurbo reads its indexers). attn_dense for HEAD_DENSE. */
attn_policy *plan_policy_new(const plan *p, int kind, int n_ctx);

/* Sets s's policies from the plan (the session owns and frees them) and,
 * with rings, gives every KV head whose query heads are all local a ring of
 * S + W entries. Resets the session and its density counts. n_prompt: the
 * length of the prompt the session will start with, which picks the row of
 * the plan's length rule (plan_params_for_prompt) for the whole session,
 * decode steps included; a session whose context grows turn by turn passes
 * its context size. The plan must outlive the session (indexers). */
void plan_apply(const plan *p, session *s, int rings, int n_prompt);

/* The attn_desc kind (attention.h, enum attn_desc_kind) that the policy of a head kind describes
 * itself with (ATTN_OPAQUE for an unknown kind). */
int head_attn_kind(int kind);

/* The one capability check: whether backend `name` ("cpu", "cuda") can run
 * every head of plan p: each head kind's description kind must be one the backend
 * runs (backend_runs_kind). 1, or 0 + err "policy NAME has no CUDA
 * implementation (head kind KIND)" (no location: the caller says which
 * option or method). */
int plan_runs_on(const plan *p, const char *name, pb_err *err);

#endif
