/* suite_load.c — reads a suite file with libyaml's document API and fills
 * the structs of suite.h, validating as it goes (schema: suites/SCHEMA.md).
 *
 * Every problem becomes one line "FILE:LINE:COL: what" (1-based, from the
 * node's start mark) and loading stops at the first. suite_guard.c checks
 * the size, the bytes and the nesting before the document is built. Keys of each mapping are
 * checked first (unknown -> the closest known key is suggested; duplicate ->
 * the first place is named), then each field is read by a typed getter that
 * knows its range and default. Every libyaml call's result is checked.
 */
#include "suites/suite.h"
#include "base/suggest.h"

#include "suites/peer.h"
#include "suites/suite_guard.h"

#include "policy/plan.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    const char *file;
    yaml_document_t *doc;
    pb_err *err;
} ld;

typedef yaml_node_t node;

static const char *const TYPE_NAMES[TASK_N_TYPES] = {
    "passkey",         "niah",         "niah_single_1",   "niah_single_2",   "niah_single_3",
    "niah_multikey_1", "niah_multikey_2", "niah_multikey_3", "niah_multivalue", "niah_multiquery",
    "vt",              "cwe",          "fwe",             "throughput"};
static const char *const METRIC_NAMES[] = {"string_match_all", "string_match_part", "exact"};
static const char *const BACKEND_NAMES[] = {"auto", "cpu", "cuda"};
static const char *const HAY_NAMES[] = {"noise", "essay", "needle"};
static const char *const VAL_NAMES[] = {"numbers", "words", "uuids"};
static const char *const METRICS_NAMES[] = {"density", "time", "tokens", "kv_bytes", "score"};
static const char *const PHASE_NAMES[] = {"prefill", "decode"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define MAX_CONTEXT (1 << 24)

const char *task_type_name(task_type t) { return t >= 0 && t < TASK_N_TYPES ? TYPE_NAMES[t] : "?"; }
const char *metric_name(suite_metric m) { return m >= 0 && m <= METRIC_EXACT ? METRIC_NAMES[m] : "default"; }

int task_default_max_new(task_type t)
{
    switch (t) {
    case TASK_PASSKEY: return 12;     /* the passkey command's default */
    case TASK_NIAH: return 32;
    case TASK_VT: return 30;          /* RULER scripts/data/synthetic/constants.py */
    case TASK_CWE: return 120;
    case TASK_FWE: return 50;
    case TASK_THROUGHPUT: return 0;
    default: return 128;              /* RULER's niah */
    }
}

/* ---- errors ---------------------------------------------------------------- */

static int fail_at(ld *L, yaml_mark_t m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(ld *L, yaml_mark_t m, const char *fmt, ...)
{
    char where[400], msg[400];
    snprintf(where, sizeof where, "%s:%zu:%zu", L->file, m.line + 1, m.column + 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pb_errf(L->err, where, -1, "%s", msg);
}
#define FAIL(L, n, ...) fail_at((L), (n)->start_mark, __VA_ARGS__)

/* ---- nodes ----------------------------------------------------------------- */

static node *nd(ld *L, int id)
{
    node *n = yaml_document_get_node(L->doc, id);
    PB_CHECK(n, "libyaml: node %d of a loaded document is missing", id);
    return n;
}

static const char *kind_name(node *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE: return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "a plain scalar" : "a quoted string";
    default: return "nothing";
    }
}

static int is_null(node *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *sval(node *n) { return (const char *)n->data.scalar.value; }

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(pb_malloc(n), s, n);
}

/* Checks the keys of mapping `map` (what: "a method", ...): each a scalar,
 * known, not repeated. keys valid for other task types get their own line. */
static int check_keys(ld *L, node *map, const char *what, const char *const *known, int n_known,
                      const char *const *other, int n_other, const char *type_name)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        node *k = nd(L, p->key);
        if (k->type != YAML_SCALAR_NODE) return FAIL(L, k, "a key of %s must be a plain name, not %s", what, kind_name(k));
        const char *name = sval(k);
        int ok = 0;
        for (int i = 0; i < n_known && !ok; i++) ok = !strcmp(name, known[i]);
        if (!ok) {
            for (int i = 0; i < n_other; i++)
                if (!strcmp(name, other[i])) return FAIL(L, k, "'%s' does not apply to task type %s", name, type_name);
            char hint[96];
            pb_suggest(name, known, n_known, hint, sizeof hint);
            return FAIL(L, k, "unknown key '%s' in %s%s", name, what, hint);
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            node *k2 = nd(L, q->key);
            if (k2->type == YAML_SCALAR_NODE && !strcmp(sval(k2), name))
                return FAIL(L, k, "duplicate key '%s' (first at line %zu, column %zu)", name, k2->start_mark.line + 1,
                            k2->start_mark.column + 1);
        }
    }
    return 1;
}

/* The value of key in map, or NULL. *keyn (if given) gets the key node. */
static node *get(ld *L, node *map, const char *key, node **keyn)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        node *k = nd(L, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(sval(k), key)) {
            if (keyn) *keyn = k;
            return nd(L, p->value);
        }
    }
    return NULL;
}

/* Finds key; 0 on error (missing and required, or null). *v = NULL if absent. */
static int field(ld *L, node *map, const char *what, const char *key, int required, node **v)
{
    *v = get(L, map, key, NULL);
    if (!*v) return required ? FAIL(L, map, "%s is missing required field '%s'", what, key) : 1;
    if (is_null(*v)) return FAIL(L, *v, "'%s' has no value", key);
    return 1;
}

static int want_kind(ld *L, node *v, const char *key, yaml_node_type_t t)
{
    if (v->type == t) return 1;
    const char *w = t == YAML_MAPPING_NODE ? "a mapping" : t == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
    return FAIL(L, v, "'%s' must be %s, not %s", key, w, kind_name(v));
}

/* A number from a plain scalar, in [lo, hi] (lo excluded when lo_open). */
static int scalar_num(ld *L, node *v, const char *key, int integer, double lo, double hi, int lo_open, double *out)
{
    if (v->type != YAML_SCALAR_NODE || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return FAIL(L, v, "'%s' must be %s, not %s", key, integer ? "an integer" : "a number", kind_name(v));
    const char *s = sval(v);
    char *end;
    errno = 0;
    double x;
    if (integer) {
        long long i = strtoll(s, &end, 10);
        x = (double)i;
    } else {
        x = strtod(s, &end);
    }
    if (end == s || *end || errno || !isfinite(x) || isspace((unsigned char)*s))
        return FAIL(L, v, "'%s' must be %s, not '%s'", key, integer ? "an integer" : "a number", s);
    if (x < lo || x > hi || (lo_open && x == lo)) {
        if (integer) return FAIL(L, v, "'%s' is %s, out of range [%.0f, %.0f]", key, s, lo, hi);
        return FAIL(L, v, "'%s' is %s, out of range %s%g, %g]", key, s, lo_open ? "(" : "[", lo, hi);
    }
    *out = x;
    return 1;
}

static int get_int(ld *L, node *map, const char *what, const char *key, int required, long lo, long hi, int def, int *out)
{
    node *v;
    double x = 0;
    *out = def;
    if (!field(L, map, what, key, required, &v)) return 0;
    if (!v) return 1;
    if (!scalar_num(L, v, key, 1, (double)lo, (double)hi, 0, &x)) return 0;
    *out = (int)x;
    return 1;
}

static int get_num(ld *L, node *map, const char *key, double lo, double hi, int lo_open, double def, double *out)
{
    node *v;
    *out = def;
    if (!field(L, map, "", key, 0, &v)) return 0;
    return !v || scalar_num(L, v, key, 0, lo, hi, lo_open, out);
}

static int get_seed(ld *L, node *map, uint64_t def, uint64_t *out)
{
    node *v;
    *out = def;
    if (!field(L, map, "", "seed", 0, &v)) return 0;
    if (!v) return 1;
    const char *s = v->type == YAML_SCALAR_NODE ? sval(v) : "";
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (v->type != YAML_SCALAR_NODE || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !isdigit((unsigned char)*s) ||
        *end || errno)
        return FAIL(L, v, "'seed' must be an integer in [0, 2^64), not %s", v->type == YAML_SCALAR_NODE ? s : kind_name(v));
    *out = x;
    return 1;
}

static int get_str(ld *L, node *map, const char *what, const char *key, int required, char **out)
{
    node *v;
    *out = NULL;
    if (!field(L, map, what, key, required, &v)) return 0;
    if (!v) return 1;
    if (v->type != YAML_SCALAR_NODE) return FAIL(L, v, "'%s' must be a string, not %s", key, kind_name(v));
    if (strlen(sval(v)) != v->data.scalar.length) return FAIL(L, v, "'%s' contains a NUL byte", key);
    *out = dup(sval(v));
    return 1;
}

/* A name: 1-64 characters, letters, digits and _ . + - only. */
static int get_name(ld *L, node *map, const char *what, const char *key, int required, const char *def, char **out)
{
    if (!get_str(L, map, what, key, required, out)) return 0;
    if (!*out) {
        *out = def ? dup(def) : NULL;
        return 1;
    }
    size_t n = strlen(*out);
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; i < n && ok; i++) ok = isalnum((unsigned char)(*out)[i]) || strchr("_.+-", (*out)[i]);
    if (!ok) return FAIL(L, get(L, map, key, NULL), "'%s' must be 1-64 characters of letters, digits, _ . + -", key);
    return 1;
}

static int scalar_enum(ld *L, node *v, const char *key, const char *const *names, int n, int *out)
{
    if (v->type != YAML_SCALAR_NODE) return FAIL(L, v, "'%s' must be a name, not %s", key, kind_name(v));
    for (int i = 0; i < n; i++)
        if (!strcmp(sval(v), names[i])) return *out = i, 1;
    char list[256] = "", hint[96];
    for (int i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    pb_suggest(sval(v), names, n, hint, sizeof hint);
    return FAIL(L, v, "unknown %s '%s'%s; one of: %s", key, sval(v), hint, list);
}

static int get_enum(ld *L, node *map, const char *key, const char *const *names, int n, int def, int *out)
{
    node *v;
    *out = def;
    if (!field(L, map, "", key, 0, &v)) return 0;
    return !v || scalar_enum(L, v, key, names, n, out);
}

/* A list field: the sequence node (NULL if absent); at least one item. */
static int get_list(ld *L, node *map, const char *what, const char *key, int required, node **v)
{
    if (!field(L, map, what, key, required, v)) return 0;
    if (!*v) return 1;
    if (!want_kind(L, *v, key, YAML_SEQUENCE_NODE)) return 0;
    if ((*v)->data.sequence.items.top == (*v)->data.sequence.items.start) return FAIL(L, *v, "'%s' is an empty list", key);
    return 1;
}

#define N_ITEMS(v) ((int)((v)->data.sequence.items.top - (v)->data.sequence.items.start))
#define ITEM(L, v, i) nd((L), (v)->data.sequence.items.start[i])

/* ---- methods --------------------------------------------------------------- */

static const char *const METHOD_KEYS[] = {"name", "policy", "impl", "params"};
static const char *const IMPL_NAMES[] = {"purbo", PEER_IMPLS};
/* Keys of method params that were renamed to the spec keys of --policy. */
static const char *const RENAMED[][2] = {{"sinks", "sink"}, {"top_k", "k"}};

/* A method's params: the spec keys (plan.h) in their ranges, and taken by
 * the policy when this build knows it (else the runner refuses the policy),
 * plus rho and plan; a rtpurbo window holds a block. */
static int load_params(ld *L, node *pm, suite_method *out)
{
    if (!want_kind(L, pm, "params", YAML_MAPPING_NODE)) return 0;
    const char *known[24];
    int nk = 0;
    for (int i = 0; i < plan_spec_n_keys; i++) known[nk++] = plan_spec_keys[i];
    known[nk++] = "rho";
    known[nk++] = "plan";
    node *kn;
    for (int r = 0; r < (int)COUNT(RENAMED); r++)
        if (get(L, pm, RENAMED[r][0], &kn))
            return FAIL(L, kn, "'%s' is now '%s' (the names of --policy)", RENAMED[r][0], RENAMED[r][1]);
    if (!check_keys(L, pm, "method params", known, nk, NULL, 0, NULL)) return 0;
    if (!(get_num(L, pm, "rho", 0, 1, 0, -1, &out->rho) && get_str(L, pm, "", "plan", 0, &out->plan))) return 0;
    plan_spec sp;
    pb_err e;
    int policy_known = plan_spec_init(&sp, out->policy, &e);
    for (yaml_node_pair_t *q = pm->data.mapping.pairs.start; q < pm->data.mapping.pairs.top; q++) {
        node *k = nd(L, q->key), *v = nd(L, q->value);
        int i = 0;
        while (i < plan_spec_n_keys && strcmp(sval(k), plan_spec_keys[i])) i++;
        if (i == plan_spec_n_keys) continue; /* rho, plan */
        double x;
        if (is_null(v)) return FAIL(L, v, "'%s' has no value", sval(k));
        if (!scalar_num(L, v, sval(k), 0, -HUGE_VAL, HUGE_VAL, 0, &x)) return 0;
        if (!plan_spec_value_ok(sval(k), x, &e)) return FAIL(L, v, "%s", e.msg);
        if (policy_known && !plan_spec_set_real(&sp, sval(k), x, &e)) return FAIL(L, k, "%s", e.msg);
        PB_CHECK(out->n_params < SUITE_MAX_PARAMS, "suite_load: more params than spec keys");
        out->params[out->n_params++] = (suite_param){plan_spec_keys[i], x};
    }
    /* the block-sparse policies with a local window: the window holds at
     * least one block. The block is the given one, else the policy's
     * default when no plan file can bring its own (a plan's is checked when
     * the runner reads it, runner_method.c). */
    if (policy_known && (sp.given & PLAN_GIVEN_WINDOW) && plan_policy_has_window_blocks(sp.policy) &&
        ((sp.given & PLAN_GIVEN_BLOCK) || !out->plan) && sp.prm.window < sp.prm.block)
        return FAIL(L, get(L, pm, "window", NULL), "'window' is %d, below the block size %d%s", sp.prm.window,
                    sp.prm.block, sp.given & PLAN_GIVEN_BLOCK ? "" : " (the policy's default block)");
    return 1;
}

static int load_method(ld *L, node *m, suite_method *out)
{
    memset(out, 0, sizeof *out);
    out->line = (int)m->start_mark.line + 1;
    out->col = (int)m->start_mark.column + 1;
    out->rho = -1;
    if (!want_kind(L, m, "methods item", YAML_MAPPING_NODE)) return 0;
    if (!check_keys(L, m, "a method", METHOD_KEYS, COUNT(METHOD_KEYS), NULL, 0, NULL)) return 0;
    if (!get_name(L, m, "a method", "policy", 1, NULL, &out->policy)) return 0;
    if (!get_name(L, m, "a method", "name", 0, out->policy, &out->name)) return 0;
    int impl = 0;
    if (!get_enum(L, m, "impl", IMPL_NAMES, COUNT(IMPL_NAMES), 0, &impl)) return 0;
    out->impl = dup(IMPL_NAMES[impl]);
    if (impl && strcmp(out->policy, "dense"))
        return FAIL(L, get(L, m, "impl", NULL), "impl '%s' is a peer's dense attention: the policy must be dense, not '%s'",
                    out->impl, out->policy);
    node *pm;
    if (!field(L, m, "", "params", 0, &pm)) return 0;
    return !pm || load_params(L, pm, out);
}

/* ---- tasks ----------------------------------------------------------------- */

/* Keys by group; a type allows the union of its groups. */
static const char *const K_COMMON[] = {"type", "name", "contexts", "samples", "seed", "max_new", "metric", "system"};
static const char *const K_DEPTHS[] = {"depths"};
static const char *const K_NIAH[] = {"needle", "question", "answer_prefix", "answers", "value_type", "haystack"};
static const char *const K_RULER[] = {"haystack", "key_type", "value_type", "num_keys", "num_values", "num_queries"};
static const char *const K_VT[] = {"haystack", "num_chains", "num_hops", "fewshot_tokens"};
static const char *const K_CWE[] = {"freq_cw", "freq_ucw", "num_cw", "num_fewshot"};
static const char *const K_FWE[] = {"alpha", "coded_wordlen", "vocab_size"};
static const char *const K_TPUT[] = {"type", "name", "contexts", "seed", "level", "phases", "repeats", "warmup",
                                     "decode_tokens", "shapes", "max_repeats", "target_spread", "max_seconds"};
static const char *const LEVEL_NAMES[] = {"model", "attention"};
static const char *const SHAPE_KEYS[] = {"layers", "heads", "kv_heads", "head_dim"};

static int is_ruler_niah(task_type t) { return t >= TASK_NIAH_SINGLE_1 && t <= TASK_NIAH_MULTIQUERY; }

/* RULER scripts/synthetic.yaml: haystack, key, value, #keys, #values, #queries. */
static const int RULER_PRESET[8][6] = {
    {HAY_NOISE, VAL_WORDS, VAL_NUMBERS, 1, 1, 1},  {HAY_ESSAY, VAL_WORDS, VAL_NUMBERS, 1, 1, 1},
    {HAY_ESSAY, VAL_WORDS, VAL_UUIDS, 1, 1, 1},    {HAY_ESSAY, VAL_WORDS, VAL_NUMBERS, 4, 1, 1},
    {HAY_NEEDLE, VAL_WORDS, VAL_NUMBERS, 1, 1, 1}, {HAY_NEEDLE, VAL_UUIDS, VAL_UUIDS, 1, 1, 1},
    {HAY_ESSAY, VAL_WORDS, VAL_NUMBERS, 1, 4, 1},  {HAY_ESSAY, VAL_WORDS, VAL_NUMBERS, 1, 1, 4},
};

static int add_keys(const char **dst, int n, const char *const *src, int k)
{
    for (int i = 0; i < k; i++) {
        int seen = 0;
        for (int j = 0; j < n; j++) seen |= !strcmp(dst[j], src[i]);
        if (!seen) dst[n++] = src[i];
    }
    return n;
}

/* The keys type t allows, and (other) those only other types allow. */
static void task_keys(task_type t, const char **ok, int *n_ok, const char **other, int *n_other)
{
    int n = 0;
    if (t == TASK_THROUGHPUT) n = add_keys(ok, n, K_TPUT, COUNT(K_TPUT));
    else n = add_keys(ok, n, K_COMMON, COUNT(K_COMMON));
    if (t == TASK_PASSKEY || t == TASK_NIAH) n = add_keys(ok, n, K_DEPTHS, COUNT(K_DEPTHS));
    if (t == TASK_NIAH) n = add_keys(ok, n, K_NIAH, COUNT(K_NIAH));
    if (is_ruler_niah(t)) n = add_keys(ok, n, K_RULER, COUNT(K_RULER));
    if (t == TASK_VT) n = add_keys(ok, n, K_VT, COUNT(K_VT));
    if (t == TASK_CWE) n = add_keys(ok, n, K_CWE, COUNT(K_CWE));
    if (t == TASK_FWE) n = add_keys(ok, n, K_FWE, COUNT(K_FWE));
    *n_ok = n;
    const char *all[64];
    int na = 0;
    na = add_keys(all, na, K_COMMON, COUNT(K_COMMON));
    na = add_keys(all, na, K_DEPTHS, COUNT(K_DEPTHS));
    na = add_keys(all, na, K_NIAH, COUNT(K_NIAH));
    na = add_keys(all, na, K_RULER, COUNT(K_RULER));
    na = add_keys(all, na, K_VT, COUNT(K_VT));
    na = add_keys(all, na, K_CWE, COUNT(K_CWE));
    na = add_keys(all, na, K_FWE, COUNT(K_FWE));
    na = add_keys(all, na, K_TPUT, COUNT(K_TPUT));
    int m = 0;
    for (int i = 0; i < na; i++) {
        int in = 0;
        for (int j = 0; j < n; j++) in |= !strcmp(all[i], ok[j]);
        if (!in) other[m++] = all[i];
    }
    *n_other = m;
}

static int load_contexts(ld *L, node *t, const char *what, suite_task *out, int min_room)
{
    node *v;
    if (!get_list(L, t, what, "contexts", 1, &v)) return 0;
    out->n_contexts = N_ITEMS(v);
    out->contexts = pb_calloc((size_t)out->n_contexts, sizeof(int));
    for (int i = 0; i < out->n_contexts; i++) {
        node *it = ITEM(L, v, i);
        double x = 0;
        if (!scalar_num(L, it, "contexts", 1, 128, MAX_CONTEXT, 0, &x)) return 0;
        out->contexts[i] = (int)x;
        for (int j = 0; j < i; j++)
            if (out->contexts[j] == out->contexts[i]) return FAIL(L, it, "context %d is listed twice", out->contexts[i]);
        if (out->contexts[i] <= min_room)
            return FAIL(L, it, "context %d leaves no room for a prompt: it must exceed max_new %d by more than 64",
                        out->contexts[i], out->max_new);
    }
    return 1;
}

static int load_depths(ld *L, node *t, suite_task *out)
{
    node *v;
    if (!get_list(L, t, "", "depths", 0, &v)) return 0;
    if (!v) {
        if (out->type != TASK_NIAH) return 1; /* passkey: a depth per sample from the seed */
        static const double def[] = {0, 25, 50, 75, 100};
        out->n_depths = COUNT(def);
        out->depths = pb_malloc(sizeof def);
        memcpy(out->depths, def, sizeof def);
        return 1;
    }
    out->n_depths = N_ITEMS(v);
    out->depths = pb_calloc((size_t)out->n_depths, sizeof(double));
    for (int i = 0; i < out->n_depths; i++) {
        node *it = ITEM(L, v, i);
        if (!scalar_num(L, it, "depths", 0, 0, 100, 0, &out->depths[i])) return 0;
        for (int j = 0; j < i; j++)
            if (out->depths[j] == out->depths[i]) return FAIL(L, it, "depth %g is listed twice", out->depths[i]);
    }
    return 1;
}

static int load_niah(ld *L, node *t, suite_task *out)
{
    int vt = 0, hay = 0;
    if (!get_str(L, t, "", "needle", 0, &out->needle) || !get_str(L, t, "", "question", 0, &out->question) ||
        !get_str(L, t, "", "answer_prefix", 0, &out->answer_prefix) ||
        !get_enum(L, t, "value_type", VAL_NAMES, COUNT(VAL_NAMES), VAL_NUMBERS, &vt) ||
        !get_enum(L, t, "haystack", HAY_NAMES, 2, HAY_ESSAY, &hay))
        return 0;
    out->value_type = (val_type)vt;
    out->haystack = (hay_type)hay;
    if (!out->needle) out->needle = dup("The special magic number is {value}.");
    if (!out->question) out->question = dup("What is the special magic number mentioned in the provided text?");
    if (!out->answer_prefix) out->answer_prefix = dup("The special magic number is");
    node *v;
    if (!get_list(L, t, "", "answers", 0, &v)) return 0;
    if (v) {
        out->n_answers = N_ITEMS(v);
        out->answers = pb_calloc((size_t)out->n_answers, sizeof(char *));
        for (int i = 0; i < out->n_answers; i++) {
            node *it = ITEM(L, v, i);
            if (it->type != YAML_SCALAR_NODE || !*sval(it))
                return FAIL(L, it, "each of 'answers' must be a non-empty string");
            out->answers[i] = dup(sval(it));
        }
    } else if (!strstr(out->needle, "{value}")) {
        return FAIL(L, get(L, t, "needle", NULL), "the needle has no {value}: give the expected 'answers'");
    }
    return 1;
}

static int load_ruler(ld *L, node *t, suite_task *out)
{
    const int *pr = RULER_PRESET[out->type - TASK_NIAH_SINGLE_1];
    int hay = 0, kt = 0, vt = 0;
    if (!get_enum(L, t, "haystack", HAY_NAMES, COUNT(HAY_NAMES), pr[0], &hay) ||
        !get_enum(L, t, "key_type", VAL_NAMES, COUNT(VAL_NAMES), pr[1], &kt) ||
        !get_enum(L, t, "value_type", VAL_NAMES, COUNT(VAL_NAMES), pr[2], &vt) ||
        !get_int(L, t, "", "num_keys", 0, 1, 100, pr[3], &out->num_keys) ||
        !get_int(L, t, "", "num_values", 0, 1, 100, pr[4], &out->num_values) ||
        !get_int(L, t, "", "num_queries", 0, 1, 100, pr[5], &out->num_queries))
        return 0;
    out->haystack = (hay_type)hay;
    out->key_type = (val_type)kt;
    out->value_type = (val_type)vt;
    /* RULER (niah.py): num_needle_k = max(num_needle_k, num_needle_q) */
    if (out->num_keys < out->num_queries) out->num_keys = out->num_queries;
    if (out->haystack == HAY_ESSAY && out->num_keys * out->num_values > 40)
        return FAIL(L, t, "%d needles (num_keys x num_values) in an essay haystack: at most 40, RULER's depths",
                    out->num_keys * out->num_values);
    return 1;
}

static int load_throughput(ld *L, node *t, suite_task *out)
{
    node *v;
    out->phases = 3;
    if (!get_enum(L, t, "level", LEVEL_NAMES, COUNT(LEVEL_NAMES), TP_LEVEL_MODEL, &out->level)) return 0;
    if (!get_list(L, t, "", "phases", 0, &v)) return 0;
    if (v) {
        out->phases = 0;
        for (int i = 0; i < N_ITEMS(v); i++) {
            int ph = 0;
            if (!scalar_enum(L, ITEM(L, v, i), "phase", PHASE_NAMES, 2, &ph)) return 0;
            out->phases |= 1 << ph;
        }
    }
    if (!get_int(L, t, "", "repeats", 0, 1, 1000, 5, &out->repeats) ||
        !get_int(L, t, "", "warmup", 0, 0, 100, 1, &out->warmup) ||
        !get_int(L, t, "", "decode_tokens", 0, 1, 1 << 16, 32, &out->decode_tokens) ||
        !get_int(L, t, "", "max_repeats", 0, out->repeats, 10000, out->repeats, &out->max_repeats) ||
        !get_num(L, t, "target_spread", 0, 10, 0, 0, &out->target_spread) ||
        !get_num(L, t, "max_seconds", 0, 86400, 0, 0, &out->max_seconds) ||
        !get_list(L, t, "", "shapes", 0, &v))
        return 0;
    if (!v) return 1;
    out->n_shapes = N_ITEMS(v);
    out->shapes = pb_calloc((size_t)out->n_shapes, sizeof *out->shapes);
    for (int i = 0; i < out->n_shapes; i++) {
        node *s = ITEM(L, v, i);
        struct suite_shape *sh = &out->shapes[i];
        if (!want_kind(L, s, "shapes item", YAML_MAPPING_NODE) ||
            !check_keys(L, s, "a shape", SHAPE_KEYS, COUNT(SHAPE_KEYS), NULL, 0, NULL) ||
            !get_int(L, s, "a shape", "layers", out->level == TP_LEVEL_MODEL, 1, 1024, 1, &sh->layers) ||
            !get_int(L, s, "a shape", "heads", 1, 1, 1024, 0, &sh->heads) ||
            !get_int(L, s, "a shape", "kv_heads", 1, 1, 1024, 0, &sh->kv_heads) ||
            !get_int(L, s, "a shape", "head_dim", 1, 1, 1024, 0, &sh->head_dim))
            return 0;
        if (sh->heads % sh->kv_heads)
            return FAIL(L, s, "heads (%d) must be a multiple of kv_heads (%d)", sh->heads, sh->kv_heads);
    }
    return 1;
}

static int load_task(ld *L, node *t, const suite *s, suite_task *out)
{
    memset(out, 0, sizeof *out);
    out->line = (int)t->start_mark.line + 1;
    out->col = (int)t->start_mark.column + 1;
    out->metric = METRIC_DEFAULT;
    out->fewshot_tokens = out->freq_cw = out->freq_ucw = out->vocab_size = -1;
    if (!want_kind(L, t, "tasks item", YAML_MAPPING_NODE)) return 0;
    node *tv, *tk;
    if (!field(L, t, "a task", "type", 1, &tv)) return 0;
    get(L, t, "type", &tk);
    if (tv->type != YAML_SCALAR_NODE) return FAIL(L, tv, "'type' must be a name, not %s", kind_name(tv));
    int ty = -1;
    for (int i = 0; i < TASK_N_TYPES; i++)
        if (!strcmp(sval(tv), TYPE_NAMES[i])) ty = i;
    if (ty < 0) {
        char hint[96];
        pb_suggest(sval(tv), TYPE_NAMES, TASK_N_TYPES, hint, sizeof hint);
        return FAIL(L, tv, "unknown task type '%s'%s", sval(tv), hint);
    }
    out->type = (task_type)ty;
    const char *ok[64], *other[64];
    int n_ok, n_other;
    task_keys(out->type, ok, &n_ok, other, &n_other);
    char what[64];
    snprintf(what, sizeof what, "a %s task", TYPE_NAMES[ty]);
    if (!check_keys(L, t, what, ok, n_ok, other, n_other, TYPE_NAMES[ty])) return 0;
    if (!get_name(L, t, what, "name", 0, TYPE_NAMES[ty], &out->name) || !get_seed(L, t, s->seed, &out->seed))
        return 0;
    if (out->type == TASK_THROUGHPUT) return load_contexts(L, t, what, out, 0) && load_throughput(L, t, out);

    int def_new = s->max_new > 0 ? s->max_new : task_default_max_new(out->type), m = 0;
    if (!get_int(L, t, what, "max_new", 0, 1, 1 << 16, def_new, &out->max_new) ||
        !get_int(L, t, what, "samples", 0, 1, 1000000, 1, &out->samples) ||
        !get_enum(L, t, "metric", METRIC_NAMES, COUNT(METRIC_NAMES), METRIC_DEFAULT, &m) ||
        !get_str(L, t, what, "system", 0, &out->system) || !load_contexts(L, t, what, out, out->max_new + 64))
        return 0;
    out->metric = (suite_metric)m;
    if ((out->type == TASK_PASSKEY || out->type == TASK_NIAH) && !load_depths(L, t, out)) return 0;
    if (out->type == TASK_NIAH) return load_niah(L, t, out);
    if (is_ruler_niah(out->type)) return load_ruler(L, t, out);
    int hay = 0;
    switch (out->type) {
    case TASK_VT:
        if (!get_enum(L, t, "haystack", HAY_NAMES, 2, HAY_NOISE, &hay)) return 0;
        out->haystack = (hay_type)hay;
        if (!get_int(L, t, what, "num_chains", 0, 1, 100, 1, &out->num_chains) ||
            !get_int(L, t, what, "num_hops", 0, 1, 100, 4, &out->num_hops) ||
            !get_int(L, t, what, "fewshot_tokens", 0, 0, MAX_CONTEXT, -1, &out->fewshot_tokens))
            return 0;
        if (out->haystack == HAY_ESSAY && out->num_chains * (out->num_hops + 1) > 40)
            return FAIL(L, t, "%d chain lines in an essay haystack: at most 40, RULER's depths",
                        out->num_chains * (out->num_hops + 1));
        return 1;
    case TASK_CWE:
        return get_int(L, t, what, "freq_cw", 0, 1, 10000, -1, &out->freq_cw) &&
               get_int(L, t, what, "freq_ucw", 0, 1, 10000, -1, &out->freq_ucw) &&
               get_int(L, t, what, "num_cw", 0, 1, 1000, 10, &out->num_cw) &&
               get_int(L, t, what, "num_fewshot", 0, 0, 10, 1, &out->num_fewshot);
    case TASK_FWE:
        return get_num(L, t, "alpha", 1, 10, 1, 2.0, &out->alpha) &&
               get_int(L, t, what, "coded_wordlen", 0, 2, 32, 6, &out->coded_wordlen) &&
               get_int(L, t, what, "vocab_size", 0, 5, 20000, -1, &out->vocab_size);
    default: return 1;
    }
}

/* ---- the suite ------------------------------------------------------------- */

static const char *const TOP_KEYS[] = {"name", "description", "model", "backend", "seed",
                                       "methods", "tasks", "metrics", "limits"};
static const char *const LIMIT_KEYS[] = {"max_new", "time_budget_s"};

static int load_suite(ld *L, node *root, suite *s)
{
    if (!want_kind(L, root, "the suite", YAML_MAPPING_NODE)) return 0;
    if (!check_keys(L, root, "the suite", TOP_KEYS, COUNT(TOP_KEYS), NULL, 0, NULL)) return 0;
    int b = 0;
    if (!get_name(L, root, "the suite", "name", 1, NULL, &s->name) ||
        !get_str(L, root, "the suite", "description", 0, &s->description) ||
        !get_str(L, root, "the suite", "model", 1, &s->model) ||
        !get_enum(L, root, "backend", BACKEND_NAMES, COUNT(BACKEND_NAMES), BACKEND_AUTO, &b) ||
        !get_seed(L, root, 42, &s->seed))
        return 0;
    s->backend = (suite_backend)b;

    node *v;
    s->max_new = -1;
    if (!field(L, root, "", "limits", 0, &v)) return 0;
    if (v && (!want_kind(L, v, "limits", YAML_MAPPING_NODE) ||
              !check_keys(L, v, "limits", LIMIT_KEYS, COUNT(LIMIT_KEYS), NULL, 0, NULL) ||
              !get_int(L, v, "", "max_new", 0, 1, 1 << 16, -1, &s->max_new) ||
              !get_num(L, v, "time_budget_s", 0, 1e9, 0, 0, &s->time_budget_s)))
        return 0;

    s->metrics = SM_ALL;
    if (!get_list(L, root, "", "metrics", 0, &v)) return 0;
    if (v) {
        s->metrics = 0;
        for (int i = 0; i < N_ITEMS(v); i++) {
            int k = 0;
            if (!scalar_enum(L, ITEM(L, v, i), "metric", METRICS_NAMES, COUNT(METRICS_NAMES), &k)) return 0;
            if (k < 4) s->metrics |= 1 << k; /* "score" is always recorded */
        }
    }

    if (!get_list(L, root, "the suite", "methods", 1, &v)) return 0;
    s->n_methods = N_ITEMS(v);
    s->methods = pb_calloc((size_t)s->n_methods, sizeof *s->methods);
    for (int i = 0; i < s->n_methods; i++) {
        if (!load_method(L, ITEM(L, v, i), &s->methods[i])) return 0;
        for (int j = 0; j < i; j++)
            if (!strcmp(s->methods[j].name, s->methods[i].name))
                return FAIL(L, ITEM(L, v, i), "method name '%s' is used twice (first at line %d); give each its own name",
                            s->methods[i].name, s->methods[j].line);
    }

    if (!get_list(L, root, "the suite", "tasks", 1, &v)) return 0;
    s->n_tasks = N_ITEMS(v);
    s->tasks = pb_calloc((size_t)s->n_tasks, sizeof *s->tasks);
    for (int i = 0; i < s->n_tasks; i++) {
        if (!load_task(L, ITEM(L, v, i), s, &s->tasks[i])) return 0;
        for (int j = 0; j < i; j++)
            if (!strcmp(s->tasks[j].name, s->tasks[i].name))
                return FAIL(L, ITEM(L, v, i), "task name '%s' is used twice (first at line %d); give each its own name",
                            s->tasks[i].name, s->tasks[j].line);
    }
    return 1;
}

static int parser_fail(ld *L, yaml_parser_t *p)
{
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_MEMORY_ERROR) return fail_at(L, m, "out of memory while parsing YAML");
    if (p->context)
        return fail_at(L, m, "YAML syntax error: %s %s (line %zu)", p->problem ? p->problem : "?", p->context,
                       p->context_mark.line + 1);
    return fail_at(L, m, "YAML syntax error: %s", p->problem ? p->problem : "?");
}

suite *suite_parse(const char *name, const char *text, size_t len, pb_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc, next;
    yaml_mark_t origin = {0, 0, 0};
    ld L = {name, &doc, err};
    if (!suite_guard(name, text, len, err)) return NULL; /* size, bytes, depth, count: before libyaml's loader */
    if (!yaml_parser_initialize(&parser)) {
        fail_at(&L, origin, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        parser_fail(&L, &parser);
        yaml_parser_delete(&parser);
        return NULL;
    }
    suite *s = pb_calloc(1, sizeof *s);
    s->file = dup(name);
    int ok = 1;
    node *root = yaml_document_get_root_node(&doc);
    if (!root) ok = fail_at(&L, origin, "the file is empty: a suite needs name, model, methods and tasks");
    if (ok) ok = load_suite(&L, root, s);
    if (ok) { /* one document only */
        if (!yaml_parser_load(&parser, &next)) {
            ok = parser_fail(&L, &parser);
        } else {
            node *r2 = yaml_document_get_root_node(&next);
            if (r2) ok = FAIL(&L, r2, "a suite file holds one YAML document; this is a second");
            yaml_document_delete(&next);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!ok) {
        suite_free(s);
        return NULL;
    }
    return s;
}

suite *suite_load(const char *path, pb_err *err)
{
    FILE *f = pb_fopen_read(path, 0, NULL); /* a FIFO without a writer reads empty */
    if (!f) {
        pb_errf(err, path, -1, "cannot open the suite file");
        return NULL;
    }
    size_t n = 0;
    char *buf = pb_read_stream(f, &n);
    fclose(f);
    suite *s = NULL;
    if (!buf) pb_errf(err, path, -1, "cannot read the suite file");
    else s = suite_parse(path, buf, n, err);
    if (s) s->text = buf;
    else free(buf);
    return s;
}

void suite_free(suite *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_methods; i++) {
        free(s->methods[i].name);
        free(s->methods[i].policy);
        free(s->methods[i].plan);
        free(s->methods[i].impl);
    }
    for (int i = 0; i < s->n_tasks; i++) {
        suite_task *t = &s->tasks[i];
        free(t->name);
        free(t->contexts);
        free(t->depths);
        free(t->system);
        free(t->needle);
        free(t->question);
        free(t->answer_prefix);
        for (int j = 0; j < t->n_answers; j++) free(t->answers[j]);
        free(t->answers);
        free(t->shapes);
    }
    free(s->methods);
    free(s->tasks);
    free(s->file);
    free(s->text);
    free(s->name);
    free(s->description);
    free(s->model);
    free(s);
}
