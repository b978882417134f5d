/* runner_method.c — suite methods as plans on sessions (runner_method.h).
 *
 * A method's spec is built from its params (the spec keys of --policy)
 * through the policy layer's typed API (plan_spec_set_*), the same calls
 * the CLI's --policy text goes through; the policy layer's messages name the field, and this file adds
 * the suite's FILE:LINE:COL, the method and, for the heads, params.plan. */
#include "suites/runner_method.h"

#include <string.h>

#include "policy/indexer.h"
#include "policy/planfile.h"
#include "policy/policy.h"
#include "base/rng.h"

/* err = "WHERE: method 'name': [KEY: ]MSG", the policy layer's message
 * with the suite's place and, where it helps, the key it came from. */
static int method_err(pb_err *err, const char *where, const suite_method *sm, const char *key)
{
    char msg[sizeof err->msg];
    memcpy(msg, err->msg, sizeof msg);
    return pb_errf(err, where, -1, "method '%s': %s%s", sm->name, key, msg);
}

/* The method's spec from its params, the spec keys of --policy through the
 * same calls; those left out keep the defaults. */
static int method_spec(const suite_method *sm, plan_spec *sp, pb_err *err)
{
    for (int i = 0; i < sm->n_params; i++)
        if (!plan_spec_set_real(sp, sm->params[i].key, sm->params[i].v, err)) return 0;
    if (sm->by_length && !plan_spec_set(sp, "by_length", sm->by_length, err)) return 0;
    if (sm->dense_layers && !plan_spec_set(sp, "dense_layers", sm->dense_layers, err)) return 0;
    return plan_spec_check(sp, err);
}

/* 1 if path starts with the .purbo plan file's magic (planfile.h), or is
 * not a regular file (then plan_file_read says so; a FIFO must not hang). */
static int is_plan_file(const char *path)
{
    char magic[8] = {0};
    int not_reg;
    FILE *f = pb_fopen_read(path, 1, &not_reg);
    if (!f) return not_reg;
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == sizeof magic && !memcmp(magic, PLANFILE_MAGIC, sizeof magic);
}

int method_prepare(const suite *s, const suite_method *sm, const model *mdl, method_engine *me, pb_err *err)
{
    memset(me, 0, sizeof *me);
    me->m = sm;
    char where[400];
    snprintf(where, sizeof where, "%s:%d:%d", s->file, sm->line, sm->col);
    if (!plan_spec_init(&me->spec, sm->policy, err))
        return pb_errf(err, where, -1, "policy '%s' is not available in this build", sm->policy);
    if (!method_spec(sm, &me->spec, err)) return method_err(err, where, sm, "");
    snprintf(me->spec.text, sizeof me->spec.text, "%s", sm->name); /* reports name the method */
    const model_config *c = &mdl->cfg;
    if (sm->plan && is_plan_file(sm->plan)) { /* a converted model: heads, S, W, p, r and indexers */
        plan_file f;
        if (!plan_file_read(sm->plan, mdl, &f, err)) return method_err(err, where, sm, "params.plan: ");
        int r = (int)suite_method_param(sm, "r", 0);
        if (sm->rho >= 0 || (r > 0 && r != f.r)) {
            plan_file_free(&f);
            if (sm->rho >= 0)
                return pb_errf(err, where, -1, "method '%s': rho picks heads from a list of heads; the converted plan "
                               "%s brings its own", sm->name, sm->plan);
            return pb_errf(err, where, -1, "method '%s': r %d: the converted plan %s holds indexers of rank %d",
                           sm->name, r, sm->plan, f.r);
        }
        int ok = plan_from_file(&me->pl, c, &f, &me->spec, sm->plan, err);
        plan_file_free(&f);
        if (!ok) return method_err(err, where, sm, "");
        me->spec.prm = me->pl.prm; /* the file's parameters, for other shapes too */
        if (plan_policy_has_window_blocks(me->spec.policy) && me->pl.prm.window < me->pl.prm.block)
            return pb_errf(err, where, -1, "method '%s': window %d is below the plan's block size %d", sm->name,
                           me->pl.prm.window, me->pl.prm.block);
        return 1;
    }
    if (plan_policy_uses_heads(me->spec.policy)) {
        if (!sm->plan)
            return pb_errf(err, where, -1, "method '%s': policy %s needs params.plan, a file of retrieval heads "
                           "(LAYER.HEAD items) or a converted .purbo plan%s", sm->name, sm->policy,
                           sm->rho >= 0 ? " (rho alone is not enough: `purbo-bench probe retrieval` prints the top 15%)"
                                        : "");
        /* rho: the first rho * H heads of the list (written best first) */
        int nh = c->n_layer * c->n_head, keep = sm->rho >= 0 ? (int)(sm->rho * nh + 0.5) : -1, listed = 0;
        me->retr = pb_malloc((size_t)nh);
        if (!plan_parse_heads_first(c, sm->plan, keep, me->retr, &listed, err))
            return method_err(err, where, sm, "params.plan: ");
        if (listed < keep)
            return pb_errf(err, where, -1, "method '%s': rho %g asks for the first %d of %d query heads; %s lists %d",
                           sm->name, sm->rho, keep, nh, sm->plan, listed);
    } else if (sm->plan || sm->rho >= 0) {
        return pb_errf(err, where, -1, "method '%s': '%s' does not apply to policy %s (duo, rtpurbo, rtpurbo-topk)",
                       sm->name, sm->plan ? "plan" : "rho", sm->policy);
    }
    if (!plan_make(&me->pl, c, &me->spec, me->retr, err)) return method_err(err, where, sm, "");
    return 1;
}

int method_indexers(method_engine *me, const model *mdl, const tokenizer *tok, pb_err *err)
{
    return !plan_needs_indexers(&me->pl) || indexer_calibrate_kjv(&me->pl, mdl, tok, err);
}

/* The plan for a random-weight model of another shape (cached per shape). */
static const plan *shape_plan(method_engine *me, const model *m, uint64_t seed)
{
    const model_config *c = &m->cfg;
    plan *p = &me->shape_pl;
    if (me->has_shape_pl && p->n_layer == c->n_layer && p->n_head == c->n_head && p->n_head_kv == c->n_head_kv &&
        p->head_dim == c->head_dim)
        return p;
    if (me->has_shape_pl) plan_free(p);
    int nh = c->n_layer * c->n_head;
    unsigned char *retr = NULL;
    if (plan_policy_uses_heads(me->spec.policy)) { /* the rho share, evenly spaced */
        double rho = me->m->rho >= 0 ? me->m->rho : 0.15;
        int k = (int)(rho * nh + 0.5);
        if (k < 1) k = 1;
        retr = pb_calloc((size_t)nh, 1);
        for (int i = 0; i < k; i++) retr[(int)((i + 0.5) * nh / k)] = 1;
    }
    pb_err err;
    PB_CHECK(plan_make(p, c, &me->spec, retr, &err), "%s", err.msg); /* the spec was checked on the model */
    free(retr);
    me->has_shape_pl = 1;
    if (plan_needs_indexers(p)) {
        int n = p->prm.calib, *ids = pb_malloc((size_t)n * sizeof *ids);
        pb_rng r = {seed};
        for (int i = 0; i < n; i++) ids[i] = (int)rng_below(&r, (uint64_t)c->n_vocab);
        indexer_calibrate(p, m, ids, n);
        free(ids);
    }
    return p;
}

session *method_session(method_engine *me, const model *mdl, backend *b, int is_model, int n_ctx, int n_prompt,
                        uint64_t seed)
{
    session *s = b ? session_new_on(b, n_ctx) : session_new(mdl, n_ctx);
    plan_apply(is_model ? &me->pl : shape_plan(me, mdl, seed), s, 1, n_prompt);
    return s;
}

void method_cost(const session *s, double *density, int64_t *kv_bytes)
{
    *density = session_density(s, NULL);
    *kv_bytes = (int64_t)session_kv_bytes(s);
}

void method_release(method_engine *me)
{
    plan_free(&me->pl);
    if (me->has_shape_pl) plan_free(&me->shape_pl);
    free(me->retr);
    memset(me, 0, sizeof *me);
}
