/* suite_methods.c — the `methods` list of a suite file (suites/SCHEMA.md,
 * "Methods" and "Sweeps"): each item one method, or with `sweep` the points
 * of a grid over its knobs, so one run gives score against density for a
 * method family.
 *
 * A sweep maps knobs (the params p, rho, window, sinks, top_k, block, kmin,
 * rank) to lists of values. Its points are the method itself (named as
 * written) and every combination of the listed values (the cartesian
 * product, knobs in the order written) other than the method's own params,
 * each a method named NAME@KNOB=VALUE[+KNOB=VALUE...] with the other params
 * the method's. A method name cannot hold '@', so the part before it always
 * names the family.
 *
 * Every value is checked where it is written, before anything runs: the
 * knob's range (p in (0, 1], rho in [0, 1], ...), that the policy takes the
 * knob (plan_spec, the same check the runner's plan makes), no value listed
 * twice, and for rtpurbo and rtpurbo-topk a window of at least the block
 * size at every point; at most SWEEP_MAX points a method, each named in at
 * most 127 characters (the longest name a baseline file reads back).
 */
#include <string.h>

#include "policy/plan.h"
#include "suites/peer.h"
#include "suites/suite_yaml.h"

#define SWEEP_MAX 64

static const char *const METHOD_KEYS[] = {"name", "policy", "impl", "params", "sweep"};
static const char *const IMPL_NAMES[] = {"purbo", PEER_IMPLS};
static const char *const PARAM_KEYS[] = {"p", "window", "sinks", "rho", "top_k", "block", "kmin", "rank", "plan"};

/* The numeric params: YAML key, integer or not, range, and the plan_spec
 * field it sets (NULL: rho, which picks heads, not a spec field). */
static const struct {
    const char *key;
    int integer;
    double lo, hi;
    int lo_open;
    const char *spec;
} KNOBS[] = {
    {"p", 0, 0, 1, 1, "p"},
    {"rho", 0, 0, 1, 0, NULL},
    {"window", 1, 1, MAX_CONTEXT, 0, "window"},
    {"sinks", 1, 0, 1 << 20, 0, "sink"},
    {"top_k", 1, 1, MAX_CONTEXT, 0, "k"},
    {"block", 1, 1, 1 << 16, 0, "block"},
    {"kmin", 1, 0, 1 << 20, 0, "kmin"},
    {"rank", 1, 1, 4096, 0, "r"},
};
enum { N_KNOBS = COUNT(KNOBS), K_WINDOW = 2, K_BLOCK = 5 }; /* KNOBS' order */
static const char *const KNOB_NAMES[N_KNOBS] = {"p", "rho", "window", "sinks", "top_k", "block", "kmin", "rank"};

static double knob_get(const suite_method *m, int k)
{
    const int *ints[] = {NULL, NULL, &m->window, &m->sinks, &m->top_k, &m->block, &m->kmin, &m->rank};
    return k == 0 ? m->p : k == 1 ? m->rho : *ints[k];
}

static void knob_set(suite_method *m, int k, double v)
{
    int *ints[] = {NULL, NULL, &m->window, &m->sinks, &m->top_k, &m->block, &m->kmin, &m->rank};
    if (k == 0) m->p = v;
    else if (k == 1) m->rho = v;
    else *ints[k] = (int)v;
}

/* For the block-sparse policies with a local window: the window holds at
 * least one block. The block is the given one, else the policy's default
 * when no plan file can bring its own (a plan's is checked when the runner
 * reads it, runner_method.c). at: where to point (the window's value). */
static int check_window(sy_ld *L, const suite_method *m, sy_node *at)
{
    plan_spec sp;
    pb_err ignored;
    if (m->window < 0 || !plan_spec_init(&sp, m->policy, &ignored) || !plan_policy_has_window_blocks(sp.policy) ||
        (m->block < 0 && m->plan))
        return 1;
    int block = m->block >= 0 ? m->block : plan_defaults.block;
    if (m->window >= block) return 1;
    return FAIL(L, at, "'window' is %d, below the block size %d%s", m->window, block,
                m->block >= 0 ? "" : " (the policy's default block)");
}

static int load_method(sy_ld *L, sy_node *m, suite_method *out)
{
    memset(out, 0, sizeof *out);
    out->line = (int)m->start_mark.line + 1;
    out->col = (int)m->start_mark.column + 1;
    for (int k = 0; k < N_KNOBS; k++) knob_set(out, k, -1);
    if (!sy_want_kind(L, m, "methods item", YAML_MAPPING_NODE)) return 0;
    if (!sy_check_keys(L, m, "a method", METHOD_KEYS, COUNT(METHOD_KEYS), NULL, 0, NULL)) return 0;
    if (!sy_get_name(L, m, "a method", "policy", 1, NULL, &out->policy)) return 0;
    if (!sy_get_name(L, m, "a method", "name", 0, out->policy, &out->name)) return 0;
    int impl = 0;
    if (!sy_get_enum(L, m, "impl", IMPL_NAMES, COUNT(IMPL_NAMES), 0, &impl)) return 0;
    out->impl = sy_dup(IMPL_NAMES[impl]);
    if (impl && strcmp(out->policy, "dense"))
        return FAIL(L, sy_get(L, m, "impl", NULL),
                    "impl '%s' is a peer's dense attention: the policy must be dense, not '%s'", out->impl, out->policy);
    sy_node *pm;
    if (!sy_field(L, m, "", "params", 0, &pm)) return 0;
    if (!pm) return 1;
    if (!sy_want_kind(L, pm, "params", YAML_MAPPING_NODE)) return 0;
    if (!sy_check_keys(L, pm, "method params", PARAM_KEYS, COUNT(PARAM_KEYS), NULL, 0, NULL)) return 0;
    for (int k = 0; k < N_KNOBS; k++) {
        sy_node *v;
        double x;
        if (!sy_field(L, pm, "", KNOBS[k].key, 0, &v)) return 0;
        if (!v) continue;
        if (!sy_scalar_num(L, v, KNOBS[k].key, KNOBS[k].integer, KNOBS[k].lo, KNOBS[k].hi, KNOBS[k].lo_open, &x))
            return 0;
        knob_set(out, k, x);
    }
    if (!sy_get_str(L, pm, "", "plan", 0, &out->plan)) return 0;
    return check_window(L, out, sy_get(L, pm, "window", NULL));
}

/* 1 if the policy takes knob k; else 0 + err at `at`. */
static int knob_applies(sy_ld *L, const suite_method *m, int k, sy_node *at)
{
    plan_spec sp;
    pb_err e;
    if (!plan_spec_init(&sp, m->policy, &e)) return 1; /* the runner names an unknown policy at the method */
    if (!KNOBS[k].spec) {
        if (plan_policy_uses_heads(sp.policy)) return 1;
        return FAIL(L, at, "'rho' does not apply to policy %s (duo, rtpurbo, rtpurbo-topk)", m->policy);
    }
    const char *key = sp.policy == PLAN_QUEST && !strcmp(KNOBS[k].spec, "block") ? "page" : KNOBS[k].spec;
    /* a value in the spec's range: only whether the policy has the key is asked */
    int ok = !strcmp(key, "p") ? plan_spec_set_real(&sp, key, 0.5, &e) : plan_spec_set_int(&sp, key, 64, &e);
    return ok || FAIL(L, at, "cannot sweep '%s': %s", KNOBS[k].key, e.msg);
}

/* A sweep over base's knobs (mapping sw): the points other than base
 * appended to *out (count *n, room *cap). */
static int load_sweep(sy_ld *L, sy_node *sw, const suite_method *base, suite_method **out, int *n, int *cap)
{
    if (!sy_want_kind(L, sw, "sweep", YAML_MAPPING_NODE)) return 0;
    if (!sy_check_keys(L, sw, "a sweep", KNOB_NAMES, N_KNOBS, NULL, 0, NULL)) return 0;
    int nk = 0, knob[N_KNOBS], nv[N_KNOBS];
    sy_node *list[N_KNOBS];
    double *val[N_KNOBS] = {0};
    long total = 1;
    int ok = 1;
    for (yaml_node_pair_t *p = sw->data.mapping.pairs.start; ok && p < sw->data.mapping.pairs.top; p++) {
        sy_node *key = sy_nd(L, p->key), *v = sy_nd(L, p->value);
        int k = 0;
        while (strcmp(KNOB_NAMES[k], sy_sval(key))) k++;
        ok = knob_applies(L, base, k, key) && sy_want_kind(L, v, sy_sval(key), YAML_SEQUENCE_NODE);
        if (ok && !N_ITEMS(v)) ok = FAIL(L, v, "'%s' is an empty list", sy_sval(key));
        if (!ok) break;
        knob[nk] = k, list[nk] = v, nv[nk] = N_ITEMS(v);
        val[nk] = pb_malloc((size_t)nv[nk] * sizeof(double));
        for (int i = 0; ok && i < nv[nk]; i++) {
            sy_node *item = ITEM(L, v, i);
            ok = sy_scalar_num(L, item, KNOBS[k].key, KNOBS[k].integer, KNOBS[k].lo, KNOBS[k].hi, KNOBS[k].lo_open,
                               &val[nk][i]);
            for (int j = 0; ok && j < i; j++)
                if (val[nk][j] == val[nk][i])
                    ok = FAIL(L, item, "'%s' lists %g twice (first at column %zu)", KNOBS[k].key, val[nk][i],
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
        sy_node *where[N_KNOBS];
        long rest = pt;
        for (int i = nk - 1; i >= 0; i--) { /* the last knob varies fastest */
            int j = (int)(rest % nv[i]);
            rest /= nv[i];
            knob_set(&m, knob[i], val[i][j]);
            where[i] = ITEM(L, list[i], j);
            same &= knob_get(base, knob[i]) == val[i][j];
        }
        if (same) continue; /* the method's own params: the method itself */
        for (int i = 0; i < nk; i++) /* integers in full (window=1000000, not %g's 1e+06) */
            at += KNOBS[knob[i]].integer
                      ? snprintf(name + at, sizeof name - (size_t)at, "%s%s=%d", i ? "+" : "", KNOBS[knob[i]].key,
                                 (int)knob_get(&m, knob[i]))
                      : snprintf(name + at, sizeof name - (size_t)at, "%s%s=%g", i ? "+" : "", KNOBS[knob[i]].key,
                                 knob_get(&m, knob[i]));
        if (at > 127) { /* a results key: baselines read names of up to 127 characters */
            ok = FAIL(L, sw, "the sweep's point '%.40s...' would be named with %d characters, more than 127", name, at);
            break;
        }
        int wi = 0; /* point a window below the block at the value that made it so */
        for (int i = 0; i < nk; i++)
            if (knob[i] == K_WINDOW || (knob[i] == K_BLOCK && wi == 0)) wi = i + 1;
        if (!(ok = check_window(L, &m, wi ? where[wi - 1] : sw))) break;
        m.name = sy_dup(name);
        m.policy = sy_dup(base->policy);
        m.impl = sy_dup(base->impl);
        m.plan = base->plan ? sy_dup(base->plan) : NULL;
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
