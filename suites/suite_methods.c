/* suite_methods.c — the `methods` list of a suite file (suites/SCHEMA.md,
 * "Methods" and "Sweeps"): each item one method, or with `sweep` the points
 * of a grid over its knobs, so one run gives score against density for a
 * method family.
 *
 * A method's params are --policy's spec keys (plan.h's plan_spec_keys: sink,
 * window, block, local, page, budget, k, p, kmin, r, calib, phase; phase's
 * value may be its name: all, prefill, decode), kept as numbers in a list
 * in file order and applied by the runner through plan_spec_set_real, plus
 * rho (kept apart: it picks heads, it is no spec field), plan, and
 * by_length and dense_layers (text, plan.h; no sweep keys). The former
 * names (sinks, top_k, rank) are refused naming the new key.
 *
 * A sweep maps the same numeric keys (and rho) to lists of values. Its
 * points are the method itself (named as written) and every combination of
 * the listed values (the cartesian product, keys in the order written)
 * other than the method's own params, each a method named
 * NAME@KEY=VALUE[+KEY=VALUE...] whose params are the method's with the
 * point's values in place. A method name cannot hold '@', so the part
 * before it always names the family.
 *
 * Every value is checked where it is written, before anything runs: the
 * key's range (plan_spec_value_ok; rho in [0, 1]), that the policy takes the
 * key (plan_spec, the same check the runner's plan makes), no value listed
 * twice, and for rtpurbo and rtpurbo-topk a window of at least the block
 * size at every point; at most SWEEP_MAX points a method, each named in at
 * most 127 characters (the longest name a baseline file reads back).
 */
#include <math.h>
#include <string.h>

#include "policy/plan.h"
#include "suites/peer.h"
#include "suites/suite_yaml.h"

#define SWEEP_MAX 64

static const char *const METHOD_KEYS[] = {"name", "policy", "impl", "params", "sweep"};
static const char *const IMPL_NAMES[] = {"purbo", PEER_IMPLS};
/* Keys of method params (and sweeps) that were renamed to the spec keys of --policy. */
static const char *const RENAMED[][2] = {{"sinks", "sink"}, {"top_k", "k"}, {"rank", "r"}};

/* The numeric keys (the spec keys, then rho), and with_plan: plan,
 * by_length and dense_layers (the text keys) too, into out[24]; returns how
 * many. */
static int knob_keys(const char **out, int with_plan)
{
    int n = 0;
    for (int i = 0; i < plan_spec_n_keys; i++) out[n++] = plan_spec_keys[i];
    out[n++] = "rho";
    if (with_plan) out[n++] = "plan", out[n++] = "by_length", out[n++] = "dense_layers";
    return n;
}

/* key as a static string (a suite_param's key outlives the document). */
static const char *static_key(const char *key)
{
    for (int i = 0; i < plan_spec_n_keys; i++)
        if (!strcmp(key, plan_spec_keys[i])) return plan_spec_keys[i];
    return "rho";
}

static int is_integer_key(const char *key) { return strcmp(key, "p") && strcmp(key, "rho"); }

double suite_method_param(const suite_method *m, const char *key, double def)
{
    if (!strcmp(key, "rho")) return m->rho >= 0 ? m->rho : def;
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].key, key)) return m->params[i].v;
    return def;
}

/* Sets key (a spec key or rho) to v: in place when the method has it, else
 * appended. */
static void param_put(suite_method *m, const char *key, double v)
{
    if (!strcmp(key, "rho")) {
        m->rho = v;
        return;
    }
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].key, key)) {
            m->params[i].v = v;
            return;
        }
    PB_CHECK(m->n_params < SUITE_MAX_PARAMS, "suite_methods: more params than spec keys");
    m->params[m->n_params++] = (suite_param){static_key(key), v};
}

/* 0 + err at the first key of map that has a new name. */
static int refuse_renamed(sy_ld *L, sy_node *map)
{
    sy_node *kn;
    for (int r = 0; r < COUNT(RENAMED); r++)
        if (sy_get(L, map, RENAMED[r][0], &kn))
            return FAIL(L, kn, "'%s' is now '%s' (the names of --policy)", RENAMED[r][0], RENAMED[r][1]);
    return 1;
}

/* The value v of numeric key (a spec key or rho) into *x: a number in the
 * key's range, an integer where the key takes one. */
static int knob_value(sy_ld *L, const char *key, sy_node *v, double *x)
{
    pb_err e;
    if (sy_is_null(v)) return FAIL(L, v, "'%s' has no value", key);
    if (!strcmp(key, "rho")) return sy_scalar_num(L, v, key, 0, 0, 1, 0, x);
    int nv = v->type == YAML_SCALAR_NODE ? plan_spec_named_value(key, sy_sval(v), x, &e) : 0;
    if (nv) return nv > 0 || FAIL(L, v, "%s", e.msg);
    if (!sy_scalar_num(L, v, key, 0, -HUGE_VAL, HUGE_VAL, 0, x)) return 0;
    return plan_spec_value_ok(key, *x, &e) || FAIL(L, v, "%s", e.msg);
}

/* For the block-sparse policies with a local window: the window holds at
 * least one block. The block is the given one, else the policy's default
 * when no plan file can bring its own (a plan's is checked when the runner
 * reads it, runner_method.c). at: where to point (the window's value). */
static int check_window(sy_ld *L, const suite_method *m, sy_node *at)
{
    plan_spec sp;
    pb_err ignored;
    if (!plan_spec_init(&sp, m->policy, &ignored)) return 1;
    for (int i = 0; i < m->n_params; i++)
        if (!plan_spec_set_real(&sp, m->params[i].key, m->params[i].v, &ignored)) return 1; /* named where written */
    if (!(sp.given & PLAN_GIVEN_WINDOW) || !plan_policy_has_window_blocks(sp.policy) ||
        (!(sp.given & PLAN_GIVEN_BLOCK) && m->plan) || sp.prm.window >= sp.prm.block)
        return 1;
    return FAIL(L, at, "'window' is %d, below the block size %d%s", sp.prm.window, sp.prm.block,
                sp.given & PLAN_GIVEN_BLOCK ? "" : " (the policy's default block)");
}

/* A method's params: the spec keys in their ranges, and taken by the policy
 * when this build knows it (else the runner refuses the policy), plus rho
 * and plan; a rtpurbo window holds a block. */
static int load_params(sy_ld *L, sy_node *pm, suite_method *out)
{
    if (!sy_want_kind(L, pm, "params", YAML_MAPPING_NODE)) return 0;
    const char *known[24];
    int nk = knob_keys(known, 1);
    if (!refuse_renamed(L, pm) || !sy_check_keys(L, pm, "method params", known, nk, NULL, 0, NULL)) return 0;
    if (!sy_get_str(L, pm, "", "plan", 0, &out->plan)) return 0;
    plan_spec sp;
    pb_err e;
    int policy_known = plan_spec_init(&sp, out->policy, &e);
    for (yaml_node_pair_t *q = pm->data.mapping.pairs.start; q < pm->data.mapping.pairs.top; q++) {
        sy_node *k = sy_nd(L, q->key), *v = sy_nd(L, q->value);
        const char *key = sy_sval(k);
        double x;
        if (!strcmp(key, "plan")) continue;
        if (!strcmp(key, "by_length") || !strcmp(key, "dense_layers")) { /* text, checked as --policy's is */
            char **to = !strcmp(key, "by_length") ? &out->by_length : &out->dense_layers;
            if (!sy_get_str(L, pm, "", key, 0, to)) return 0;
            plan_params rows;
            if (policy_known ? !plan_spec_set(&sp, key, *to, &e)
                             : to == &out->by_length ? !plan_by_length_parse(*to, &rows, &e)
                                                     : !plan_dense_layers_parse(*to, &rows, &e))
                return FAIL(L, v, "%s", e.msg);
            continue;
        }
        if (!knob_value(L, key, v, &x)) return 0;
        if (strcmp(key, "rho") && policy_known && !plan_spec_set_real(&sp, key, x, &e)) return FAIL(L, k, "%s", e.msg);
        param_put(out, key, x);
    }
    sy_node *w = sy_get(L, pm, "window", NULL);
    return check_window(L, out, w ? w : pm);
}

static int load_method(sy_ld *L, sy_node *m, suite_method *out)
{
    memset(out, 0, sizeof *out);
    out->line = (int)m->start_mark.line + 1;
    out->col = (int)m->start_mark.column + 1;
    out->rho = -1;
    if (!sy_want_kind(L, m, "methods item", YAML_MAPPING_NODE)) return 0;
    if (!sy_check_keys(L, m, "a method", METHOD_KEYS, COUNT(METHOD_KEYS), NULL, 0, NULL)) return 0;
    if (!sy_get_name(L, m, "a method", "policy", 1, NULL, &out->policy)) return 0;
    if (!sy_get_name(L, m, "a method", "name", 0, out->policy, &out->name)) return 0;
    int impl = 0;
    if (!sy_get_enum(L, m, "impl", IMPL_NAMES, COUNT(IMPL_NAMES), 0, &impl)) return 0;
    out->impl = sy_dup(IMPL_NAMES[impl]);
    /* flex also takes rtpurbo: FlexAttention on the layer's own block lists (level layer) */
    if (impl && strcmp(out->policy, "dense") && !(!strcmp(out->impl, "flex") && !strcmp(out->policy, "rtpurbo")))
        return FAIL(L, sy_get(L, m, "impl", NULL),
                    "impl '%s' is a peer's dense attention: the policy must be dense, not '%s'%s", out->impl,
                    out->policy, strcmp(out->impl, "flex") ? "" : " (or rtpurbo: flex on the layer's lists)");
    sy_node *pm;
    if (!sy_field(L, m, "", "params", 0, &pm)) return 0;
    return !pm || load_params(L, pm, out);
}

/* 1 if the policy takes key (a spec key or rho); else 0 + err at `at`. */
static int knob_applies(sy_ld *L, const suite_method *m, const char *key, sy_node *at)
{
    plan_spec sp;
    pb_err e;
    if (!plan_spec_init(&sp, m->policy, &e)) return 1; /* the runner names an unknown policy at the method */
    if (!strcmp(key, "rho")) {
        if (plan_policy_uses_heads(sp.policy)) return 1;
        return FAIL(L, at, "'rho' does not apply to policy %s (duo, rtpurbo, rtpurbo-topk)", m->policy);
    }
    /* a value in every key's range: only whether the policy has the key is asked */
    return plan_spec_set_real(&sp, key, strcmp(key, "p") ? 64 : 0.5, &e) ||
           FAIL(L, at, "cannot sweep '%s': %s", key, e.msg);
}

/* A sweep over base's knobs (mapping sw): the points other than base
 * appended to *out (count *n, room *cap). */
enum { SWEEP_KEYS = 24 };
static int load_sweep(sy_ld *L, sy_node *sw, const suite_method *base, suite_method **out, int *n, int *cap)
{
    const char *known[SWEEP_KEYS];
    int n_known = knob_keys(known, 0);
    if (!sy_want_kind(L, sw, "sweep", YAML_MAPPING_NODE)) return 0;
    if (!refuse_renamed(L, sw) || !sy_check_keys(L, sw, "a sweep", known, n_known, NULL, 0, NULL)) return 0;
    int nk = 0, nv[SWEEP_KEYS];
    const char *knob[SWEEP_KEYS];
    sy_node *list[SWEEP_KEYS];
    double *val[SWEEP_KEYS] = {0};
    long total = 1;
    int ok = 1;
    for (yaml_node_pair_t *p = sw->data.mapping.pairs.start; ok && p < sw->data.mapping.pairs.top; p++) {
        sy_node *key = sy_nd(L, p->key), *v = sy_nd(L, p->value);
        const char *k = static_key(sy_sval(key));
        ok = knob_applies(L, base, k, key) && sy_want_kind(L, v, k, YAML_SEQUENCE_NODE);
        if (ok && !N_ITEMS(v)) ok = FAIL(L, v, "'%s' is an empty list", k);
        if (!ok) break;
        knob[nk] = k, list[nk] = v, nv[nk] = N_ITEMS(v);
        val[nk] = pb_malloc((size_t)nv[nk] * sizeof(double));
        for (int i = 0; ok && i < nv[nk]; i++) {
            sy_node *item = ITEM(L, v, i);
            ok = knob_value(L, k, item, &val[nk][i]);
            for (int j = 0; ok && j < i; j++)
                if (val[nk][j] == val[nk][i])
                    ok = FAIL(L, item, "'%s' lists %g twice (first at column %zu)", k, val[nk][i],
                              ITEM(L, v, j)->start_mark.column + 1);
        }
        total *= nv[nk++];
        if (ok && total > SWEEP_MAX)
            ok = FAIL(L, sw, "the sweep has more than %d points; split it into several methods", SWEEP_MAX);
    }
    for (long pt = 0; ok && pt < total; pt++) {
        suite_method m = *base;
        char name[256];
        int at = snprintf(name, sizeof name, "%s@", base->name), same = 1;
        sy_node *where[SWEEP_KEYS];
        long rest = pt;
        for (int i = nk - 1; i >= 0; i--) { /* the last knob varies fastest */
            int j = (int)(rest % nv[i]);
            rest /= nv[i];
            param_put(&m, knob[i], val[i][j]);
            where[i] = ITEM(L, list[i], j);
            same &= suite_method_param(base, knob[i], -1) == val[i][j]; /* -1: not set, never a value */
        }
        if (same) continue; /* the method's own params: the method itself */
        for (int i = 0; i < nk; i++) { /* integers in full (window=1000000, not %g's 1e+06) */
            double x = suite_method_param(&m, knob[i], 0);
            at += is_integer_key(knob[i])
                      ? snprintf(name + at, sizeof name - (size_t)at, "%s%s=%d", i ? "+" : "", knob[i], (int)x)
                      : snprintf(name + at, sizeof name - (size_t)at, "%s%s=%g", i ? "+" : "", knob[i], x);
        }
        if (at > 127) { /* a results key: baselines read names of up to 127 characters */
            ok = FAIL(L, sw, "the sweep's point '%.40s...' would be named with %d characters, more than 127", name, at);
            break;
        }
        int wi = 0; /* point a window below the block at the value that made it so */
        for (int i = 0; i < nk; i++)
            if (!strcmp(knob[i], "window") || (!strcmp(knob[i], "block") && wi == 0)) wi = i + 1;
        if (!(ok = check_window(L, &m, wi ? where[wi - 1] : sw))) break;
        m.name = sy_dup(name);
        m.policy = sy_dup(base->policy);
        m.impl = sy_dup(base->impl);
        m.plan = base->plan ? sy_dup(base->plan) : NULL;
        m.by_length = base->by_length ? sy_dup(base->by_length) : NULL;
        m.dense_layers = base->dense_layers ? sy_dup(base->dense_layers) : NULL;
        if (*n == *cap) *out = pb_realloc(*out, (size_t)(*cap *= 2) * sizeof **out);
        (*out)[(*n)++] = m;
    }
    for (int i = 0; i < nk; i++) free(val[i]);
    return ok;
}

int sy_load_methods(sy_ld *L, sy_node *list, suite *s)
{
    int cap = N_ITEMS(list) + 8;
    s->methods = pb_calloc((size_t)cap, sizeof *s->methods);
    s->n_methods = 0;
    for (int i = 0; i < N_ITEMS(list); i++) {
        sy_node *item = ITEM(L, list, i), *sw;
        int first = s->n_methods;
        if (s->n_methods == cap) s->methods = pb_realloc(s->methods, (size_t)(cap *= 2) * sizeof *s->methods);
        int ok = load_method(L, item, &s->methods[s->n_methods]);
        s->n_methods++; /* counted even when half read: suite_free frees what it holds */
        if (!ok || !sy_field(L, item, "", "sweep", 0, &sw)) return 0;
        suite_method base = s->methods[first]; /* the list may move as the points come */
        if (sw && !load_sweep(L, sw, &base, &s->methods, &s->n_methods, &cap)) return 0;
        for (int k = first; k < s->n_methods; k++)
            for (int j = 0; j < k; j++)
                if (!strcmp(s->methods[j].name, s->methods[k].name))
                    return FAIL(L, item, "method name '%s' is used twice (first at line %d); give each its own name",
                                s->methods[k].name, s->methods[j].line);
    }
    return 1;
}
