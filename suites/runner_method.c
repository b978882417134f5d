/* runner_method.c — suite methods as plans on sessions (runner_method.h). */
#include "suites/runner_method.h"

#include <string.h>

#include "policy/indexer.h"
#include "policy/planfile.h"
#include "policy/policy.h"
#include "base/rng.h"

static int uses_retrieval_heads(int policy)
{
    return policy == PLAN_DUO || policy == PLAN_RTPURBO || policy == PLAN_RTPURBO_TOPK;
}

/* err = "WHERE: method 'name': MSG", where MSG names the suite's keys in
 * place of the command-line options plan.c's messages start with. */
static int method_err(pb_err *err, const char *where, const suite_method *sm, const char *msg)
{
    const char *opt[] = {"--policy: ", "--retrieval-heads: "}, *key[] = {"", "params.plan: "};
    for (int i = 0; i < 2; i++)
        if (!strncmp(msg, opt[i], strlen(opt[i]))) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s%s", key[i], msg + strlen(opt[i]));
            return pb_errf(err, where, -1, "method '%s': %s", sm->name, m);
        }
    char m[sizeof err->msg];
    snprintf(m, sizeof m, "%s", msg);
    return pb_errf(err, where, -1, "method '%s': %s", sm->name, m);
}

/* 1 if path starts with the .purbo plan file's magic (planfile.h). */
static int is_plan_file(const char *path)
{
    char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == sizeof magic && !memcmp(magic, PLANFILE_MAGIC, sizeof magic);
}

int method_prepare(const suite *s, const suite_method *sm, const model *mdl, const tokenizer *tok,
                   method_engine *me, pb_err *err)
{
    memset(me, 0, sizeof *me);
    me->m = sm;
    char where[400], text[256];
    snprintf(where, sizeof where, "%s:%d:%d", s->file, sm->line, sm->col);
    /* the spec text plan_parse reads: POLICY[:key=val,...] with the params given */
    int n = snprintf(text, sizeof text, "%s", sm->policy), quest = !strcmp(sm->policy, "quest");
    char sep = ':';
#define ADD(...) (n += snprintf(text + n, sizeof text - (size_t)n, "%c", sep), sep = ',', \
                  n += snprintf(text + n, sizeof text - (size_t)n, __VA_ARGS__))
    if (sm->sinks >= 0) ADD("sink=%d", sm->sinks);
    if (sm->window >= 0) ADD("window=%d", sm->window);
    if (sm->block >= 0) ADD("%s=%d", quest ? "page" : "block", sm->block);
    if (sm->top_k >= 0) ADD("k=%d", sm->top_k);
    if (sm->p >= 0) ADD("p=%.15g", sm->p);
#undef ADD
    if (!plan_parse(text, &me->spec, err)) {
        if (strstr(err->msg, "unknown policy"))
            return pb_errf(err, where, -1, "policy '%s' is not available in this build", sm->policy);
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        return method_err(err, where, sm, msg);
    }
    snprintf(me->spec.text, sizeof me->spec.text, "%s", sm->name); /* reports name the method */
    const model_config *c = &mdl->cfg;
    if (sm->plan && is_plan_file(sm->plan)) { /* a converted model: heads, S, W, p, r and indexers */
        plan_file f;
        if (!plan_file_read(sm->plan, mdl, &f, err)) {
            char msg[sizeof err->msg];
            memcpy(msg, err->msg, sizeof msg);
            return pb_errf(err, where, -1, "method '%s': params.plan: %s", sm->name, msg);
        }
        int ok = plan_from_file(&me->pl, c, &f, &me->spec, sm->plan, err);
        plan_file_free(&f);
        if (!ok) {
            char msg[sizeof err->msg];
            memcpy(msg, err->msg, sizeof msg);
            return method_err(err, where, sm, msg);
        }
        me->spec.prm = me->pl.prm; /* the file's parameters, for other shapes too */
        return 1;
    }
    if (uses_retrieval_heads(me->spec.policy)) {
        if (!sm->plan)
            return pb_errf(err, where, -1, "method '%s': policy %s needs params.plan, a file of retrieval heads "
                           "(LAYER.HEAD items) or a converted .purbo plan%s", sm->name, sm->policy,
                           sm->rho >= 0 ? " (rho alone is not enough: `purbo-bench probe retrieval` prints the top 15%)"
                                        : "");
        me->retr = pb_malloc((size_t)c->n_layer * c->n_head);
        if (!plan_parse_heads(c, sm->plan, me->retr, err)) {
            char msg[sizeof err->msg];
            memcpy(msg, err->msg, sizeof msg);
            return method_err(err, where, sm, msg);
        }
    } else if (sm->plan || sm->rho >= 0) {
        return pb_errf(err, where, -1, "method '%s': '%s' does not apply to policy %s (duo, rtpurbo, rtpurbo-topk)",
                       sm->name, sm->plan ? "plan" : "rho", sm->policy);
    }
    if (!plan_make(&me->pl, c, &me->spec, me->retr, err)) {
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        return method_err(err, where, sm, msg);
    }
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
    if (uses_retrieval_heads(me->spec.policy)) { /* the rho share, evenly spaced */
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

session *method_session(method_engine *me, const model *mdl, backend *b, int is_model, int n_ctx, uint64_t seed)
{
    session *s = b ? session_new_on(b, n_ctx) : session_new(mdl, n_ctx);
    plan_apply(is_model ? &me->pl : shape_plan(me, mdl, seed), s, 1);
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
