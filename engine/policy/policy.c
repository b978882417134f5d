/* policy.c — the policy factory (policy.h): the table from head kind to
 * constructor, and plan_apply, which puts one policy object per kind on a
 * session and gives the all-local KV heads their rings (unless the policies
 * act in one phase only: they then run dense in the other, on every key).
 * A plan's length rule (plan.h) is resolved there, for the prompt the
 * session starts with.
 *
 * Invariant: one object per kind per session, shared by every head of that
 * kind (the objects keep per-head state indexed by layer and head).
 * plan_runs_on: a plan runs on a backend when the backend runs the
 * described kind (attention.h) of every head.
 */
#include "policy/policy.h"

#include <string.h>

#include "policy/attn_sparse.h"

static attn_policy *policy_of_kind(const plan *p, int kind, int n_ctx)
{
    switch (kind) {
    case HEAD_LOCAL: return attn_local_new(p, n_ctx);
    case HEAD_QUEST: return attn_quest_new(p, n_ctx);
    case HEAD_TOPK_ORACLE:
    case HEAD_TOPP_ORACLE: return attn_oracle_new(p, kind, n_ctx);
    case HEAD_RTPURBO:
    case HEAD_RTPURBO_TOPK: return attn_rtpurbo_new(p, kind, n_ctx);
    }
    pb_die_runtime(__FILE__, __LINE__, "unknown head kind %d", kind);
}

attn_policy *plan_policy_new(const plan *p, int kind, int n_ctx)
{
    if (kind == HEAD_DENSE) return (attn_policy *)&attn_dense;
    attn_policy *pol = policy_of_kind(p, kind, n_ctx);
    pol->desc.phase = p->prm.phase;
    return pol;
}

void plan_apply(const plan *p0, session *s, int rings, int n_prompt)
{
    /* the length rule resolved for this prompt: the policies copy their settings */
    plan resolved = *p0;
    resolved.prm = plan_params_for_prompt(&p0->prm, n_prompt);
    const plan *p = &resolved;
    const model_config *c = &s->m->cfg;
    PB_CHECK(p->n_layer == c->n_layer && p->n_head == c->n_head && p->n_head_kv == c->n_head_kv &&
             p->head_dim == c->head_dim, "plan for another model shape");
    const attn_policy *made[HEAD_KINDS] = {0};
    for (int i = 0; i < c->n_layer * c->n_head; i++) {
        int k = p->kind[i];
        if (!made[k]) {
            attn_policy *pol = plan_policy_new(p, k, s->n_ctx);
            if (pol->destroy) session_own_policy(s, pol);
            made[k] = pol;
        }
        s->policy[i] = made[k];
    }
    const int group = c->n_head / c->n_head_kv;
    kv_ring *layout = pb_calloc((size_t)c->n_layer * c->n_head_kv, sizeof *layout);
    /* a policy that acts in one phase only runs dense in the other: every key kept */
    rings &= p->prm.phase == ATTN_PHASE_ALL;
    for (int i = 0; rings && i < c->n_layer * c->n_head_kv; i++) {
        int l = i / c->n_head_kv, g = i % c->n_head_kv, local = 1;
        for (int h = g * group; h < (g + 1) * group; h++) local &= p->kind[l * c->n_head + h] == HEAD_LOCAL;
        if (local) layout[i] = (kv_ring){p->prm.sink, p->prm.window};
    }
    session_set_kv_layout(s, layout);
    free(layout);
    session_density_reset(s);
}

int head_attn_kind(int kind)
{
    static const int map[HEAD_KINDS] = {
        [HEAD_DENSE] = ATTN_DENSE, [HEAD_LOCAL] = ATTN_LOCAL, [HEAD_QUEST] = ATTN_QUEST,
        [HEAD_TOPK_ORACLE] = ATTN_TOPK, [HEAD_TOPP_ORACLE] = ATTN_TOPP, [HEAD_RTPURBO] = ATTN_RTPURBO,
        [HEAD_RTPURBO_TOPK] = ATTN_RTPURBO_TOPK,
    };
    return kind >= 0 && kind < HEAD_KINDS ? map[kind] : ATTN_OPAQUE;
}

int plan_runs_on(const plan *p, const char *name, pb_err *err)
{
    for (int i = 0; i < p->n_layer * p->n_head; i++)
        if (!backend_runs_kind(name, head_attn_kind(p->kind[i])))
            return pb_errf(err, NULL, -1, "policy %s has no %s implementation (head kind %s)",
                           plan_policy_name(p->policy), strcmp(name, "cuda") ? name : "CUDA",
                           plan_kind_name(p->kind[i]));
    return 1;
}
