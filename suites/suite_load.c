/* suite_load.c — reads a suite file with libyaml's document API and fills
 * the structs of suite.h, validating as it goes (schema: suites/SCHEMA.md).
 *
 * Every problem becomes one line "FILE:LINE:COL: what" (1-based, from the
 * node's start mark) and loading stops at the first. suite_guard.c checks
 * the size, the bytes and the nesting before the document is built. Keys of each mapping are
 * checked first (unknown -> the closest known key is suggested; duplicate ->
 * the first place is named), then each field is read by a typed getter that
 * knows its range and default (suite_yaml.h); the methods and their sweeps
 * are read by suite_methods.c. Every libyaml call's result is checked.
 */
#include "suites/suite.h"

#include "base/suggest.h"
#include "suites/suite_guard.h"
#include "suites/suite_yaml.h"

#include <string.h>

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
                                     "decode_tokens", "shapes", "max_repeats", "target_spread", "max_seconds",
                                     "densities", "demand", "demand_source", "needles", "max_context", "index_pool"};
static const char *const K_LAYER[] = {"densities", "demand", "demand_source", "needles", "max_context",
                                      "index_pool"};
static const char *const POOL_NAMES[] = {"envelope", "mean"};
static const char *const LEVEL_NAMES[] = {"model", "attention", "layer"};
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

static int load_contexts(sy_ld *L, sy_node *t, const char *what, suite_task *out, int min_room)
{
    sy_node *v;
    if (!sy_get_list(L, t, what, "contexts", 1, &v)) return 0;
    out->n_contexts = N_ITEMS(v);
    out->contexts = pb_calloc((size_t)out->n_contexts, sizeof(int));
    for (int i = 0; i < out->n_contexts; i++) {
        sy_node *it = ITEM(L, v, i);
        double x = 0;
        if (!sy_scalar_num(L, it, "contexts", 1, 128, MAX_CONTEXT, 0, &x)) return 0;
        out->contexts[i] = (int)x;
        for (int j = 0; j < i; j++)
            if (out->contexts[j] == out->contexts[i]) return FAIL(L, it, "context %d is listed twice", out->contexts[i]);
        if (out->contexts[i] <= min_room)
            return FAIL(L, it, "context %d leaves no room for a prompt: it must exceed max_new %d by more than 64",
                        out->contexts[i], out->max_new);
    }
    return 1;
}

static int load_depths(sy_ld *L, sy_node *t, suite_task *out)
{
    sy_node *v;
    if (!sy_get_list(L, t, "", "depths", 0, &v)) return 0;
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
        sy_node *it = ITEM(L, v, i);
        if (!sy_scalar_num(L, it, "depths", 0, 0, 100, 0, &out->depths[i])) return 0;
        for (int j = 0; j < i; j++)
            if (out->depths[j] == out->depths[i]) return FAIL(L, it, "depth %g is listed twice", out->depths[i]);
    }
    return 1;
}

static int load_niah(sy_ld *L, sy_node *t, suite_task *out)
{
    int vt = 0, hay = 0;
    if (!sy_get_str(L, t, "", "needle", 0, &out->needle) || !sy_get_str(L, t, "", "question", 0, &out->question) ||
        !sy_get_str(L, t, "", "answer_prefix", 0, &out->answer_prefix) ||
        !sy_get_enum(L, t, "value_type", VAL_NAMES, COUNT(VAL_NAMES), VAL_NUMBERS, &vt) ||
        !sy_get_enum(L, t, "haystack", HAY_NAMES, 2, HAY_ESSAY, &hay))
        return 0;
    out->value_type = (val_type)vt;
    out->haystack = (hay_type)hay;
    if (!out->needle) out->needle = sy_dup("The special magic number is {value}.");
    if (!out->question) out->question = sy_dup("What is the special magic number mentioned in the provided text?");
    if (!out->answer_prefix) out->answer_prefix = sy_dup("The special magic number is");
    sy_node *v;
    if (!sy_get_list(L, t, "", "answers", 0, &v)) return 0;
    if (v) {
        out->n_answers = N_ITEMS(v);
        out->answers = pb_calloc((size_t)out->n_answers, sizeof(char *));
        for (int i = 0; i < out->n_answers; i++) {
            sy_node *it = ITEM(L, v, i);
            if (it->type != YAML_SCALAR_NODE || !*sy_sval(it))
                return FAIL(L, it, "each of 'answers' must be a non-empty string");
            out->answers[i] = sy_dup(sy_sval(it));
        }
    } else if (!strstr(out->needle, "{value}")) {
        return FAIL(L, sy_get(L, t, "needle", NULL), "the needle has no {value}: give the expected 'answers'");
    }
    return 1;
}

static int load_ruler(sy_ld *L, sy_node *t, suite_task *out)
{
    const int *pr = RULER_PRESET[out->type - TASK_NIAH_SINGLE_1];
    int hay = 0, kt = 0, vt = 0;
    if (!sy_get_enum(L, t, "haystack", HAY_NAMES, COUNT(HAY_NAMES), pr[0], &hay) ||
        !sy_get_enum(L, t, "key_type", VAL_NAMES, COUNT(VAL_NAMES), pr[1], &kt) ||
        !sy_get_enum(L, t, "value_type", VAL_NAMES, COUNT(VAL_NAMES), pr[2], &vt) ||
        !sy_get_int(L, t, "", "num_keys", 0, 1, 100, pr[3], &out->num_keys) ||
        !sy_get_int(L, t, "", "num_values", 0, 1, 100, pr[4], &out->num_values) ||
        !sy_get_int(L, t, "", "num_queries", 0, 1, 100, pr[5], &out->num_queries))
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

/* max_context: a mapping of the suite's method names to contexts. */
static int load_max_context(sy_ld *L, sy_node *t, const suite *s, suite_task *out)
{
    sy_node *v = sy_get(L, t, "max_context", NULL);
    if (!v) return 1;
    if (!sy_want_kind(L, v, "max_context", YAML_MAPPING_NODE)) return 0;
    int n = (int)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    out->max_ctx = pb_calloc((size_t)(n ? n : 1), sizeof *out->max_ctx);
    const char **names = pb_malloc((size_t)(s->n_methods ? s->n_methods : 1) * sizeof *names);
    for (int i = 0; i < s->n_methods; i++) names[i] = s->methods[i].name;
    int ok = 1;
    for (int i = 0; ok && i < n; i++) {
        sy_node *k = sy_nd(L, v->data.mapping.pairs.start[i].key), *x = sy_nd(L, v->data.mapping.pairs.start[i].value);
        const char *name = k->type == YAML_SCALAR_NODE ? sy_sval(k) : "";
        int known = 0;
        for (int m = 0; m < s->n_methods; m++) known |= !strcmp(names[m], name);
        double c = 0;
        if (!known) {
            char hint[96];
            pb_suggest(name, names, s->n_methods, hint, sizeof hint);
            ok = FAIL(L, k, "max_context: no method '%s' in the suite%s", name, hint);
        } else if ((ok = sy_scalar_num(L, x, "max_context", 1, 1, MAX_CONTEXT, 0, &c))) {
            for (int j = 0; j < out->n_max_ctx; j++)
                if (!strcmp(out->max_ctx[j].method, name)) ok = FAIL(L, k, "max_context names '%s' twice", name);
            out->max_ctx[out->n_max_ctx++] = (struct suite_cap){sy_dup(name), (int)c};
        }
    }
    free(names);
    return ok;
}

/* The level-layer keys (suites/SCHEMA.md): densities, demand and its
 * source, needles, max_context; on any other level they are errors. */
static int load_layer(sy_ld *L, sy_node *t, const suite *s, suite_task *out)
{
    static const double def_dens[] = {0.01, 0.03, 0.1, 0.3};
    out->demand = -1;
    if (out->level != TP_LEVEL_LAYER) {
        for (size_t i = 0; i < COUNT(K_LAYER); i++) {
            sy_node *k = NULL;
            if (sy_get(L, t, K_LAYER[i], &k))
                return FAIL(L, k, "'%s' belongs to level: layer, not level: %s", K_LAYER[i], LEVEL_NAMES[out->level]);
        }
        return 1;
    }
    sy_node *v;
    if (!sy_get_list(L, t, "", "densities", 0, &v)) return 0;
    out->n_densities = v ? N_ITEMS(v) : (int)COUNT(def_dens);
    out->densities = pb_calloc((size_t)out->n_densities, sizeof(double));
    for (int i = 0; i < out->n_densities; i++) {
        if (!v) {
            out->densities[i] = def_dens[i];
            continue;
        }
        sy_node *it = ITEM(L, v, i);
        if (!sy_scalar_num(L, it, "densities", 0, 0, 1, 1, &out->densities[i])) return 0;
        if (out->densities[i] >= 1) return FAIL(L, it, "a density must be below 1 (1 is the dense layer), not %g", out->densities[i]);
        for (int j = 0; j < i; j++)
            if (out->densities[j] == out->densities[i]) return FAIL(L, it, "density %g is listed twice", out->densities[i]);
    }
    sy_node *dv = sy_get(L, t, "demand", NULL);
    int has_demand = dv != NULL;
    if (!sy_get_num(L, t, "demand", 0, 1, 1, -1, &out->demand) ||
        !sy_get_str(L, t, "a layer task", "demand_source", has_demand, &out->demand_source) ||
        !sy_get_int(L, t, "", "needles", 0, 0, 64, 4, &out->needles) || !load_max_context(L, t, s, out) ||
        !sy_get_enum(L, t, "index_pool", POOL_NAMES, COUNT(POOL_NAMES), 0, &out->index_mean))
        return 0;
    if (has_demand && out->demand >= 1) return FAIL(L, dv, "'demand' must be below 1, not %g", out->demand);
    if (!has_demand && out->demand_source) {
        sy_node *k = NULL;
        sy_get(L, t, "demand_source", &k);
        return FAIL(L, k, "'demand_source' without 'demand'");
    }
    return 1;
}

static int load_throughput(sy_ld *L, sy_node *t, const suite *s, suite_task *out)
{
    sy_node *v;
    out->phases = 3;
    if (!sy_get_enum(L, t, "level", LEVEL_NAMES, COUNT(LEVEL_NAMES), TP_LEVEL_MODEL, &out->level)) return 0;
    if (!sy_get_list(L, t, "", "phases", 0, &v)) return 0;
    if (v) {
        out->phases = 0;
        for (int i = 0; i < N_ITEMS(v); i++) {
            int ph = 0;
            if (!sy_scalar_enum(L, ITEM(L, v, i), "phase", PHASE_NAMES, 2, &ph)) return 0;
            out->phases |= 1 << ph;
        }
    }
    if (!sy_get_int(L, t, "", "repeats", 0, 1, 1000, 5, &out->repeats) ||
        !sy_get_int(L, t, "", "warmup", 0, 0, 100, 1, &out->warmup) ||
        !sy_get_int(L, t, "", "decode_tokens", 0, 1, 1 << 16, 32, &out->decode_tokens) ||
        !sy_get_int(L, t, "", "max_repeats", 0, out->repeats, 10000, out->repeats, &out->max_repeats) ||
        !sy_get_num(L, t, "target_spread", 0, 10, 0, 0, &out->target_spread) ||
        !sy_get_num(L, t, "max_seconds", 0, 86400, 0, 0, &out->max_seconds) ||
        !sy_get_list(L, t, "", "shapes", 0, &v))
        return 0;
    if (!load_layer(L, t, s, out)) return 0;
    if (!v) return out->level != TP_LEVEL_LAYER ? 1 : FAIL(L, t, "a throughput task of level layer needs 'shapes'");
    out->n_shapes = N_ITEMS(v);
    out->shapes = pb_calloc((size_t)out->n_shapes, sizeof *out->shapes);
    for (int i = 0; i < out->n_shapes; i++) {
        sy_node *s = ITEM(L, v, i);
        struct suite_shape *sh = &out->shapes[i];
        if (!sy_want_kind(L, s, "shapes item", YAML_MAPPING_NODE) ||
            !sy_check_keys(L, s, "a shape", SHAPE_KEYS, COUNT(SHAPE_KEYS), NULL, 0, NULL) ||
            !sy_get_int(L, s, "a shape", "layers", out->level == TP_LEVEL_MODEL, 1, 1024, 1, &sh->layers) ||
            !sy_get_int(L, s, "a shape", "heads", 1, 1, 1024, 0, &sh->heads) ||
            !sy_get_int(L, s, "a shape", "kv_heads", 1, 1, 1024, 0, &sh->kv_heads) ||
            !sy_get_int(L, s, "a shape", "head_dim", 1, 1, 1024, 0, &sh->head_dim))
            return 0;
        if (sh->heads % sh->kv_heads)
            return FAIL(L, s, "heads (%d) must be a multiple of kv_heads (%d)", sh->heads, sh->kv_heads);
    }
    return 1;
}

static int load_task(sy_ld *L, sy_node *t, const suite *s, suite_task *out)
{
    memset(out, 0, sizeof *out);
    out->line = (int)t->start_mark.line + 1;
    out->col = (int)t->start_mark.column + 1;
    out->metric = METRIC_DEFAULT;
    out->fewshot_tokens = out->freq_cw = out->freq_ucw = out->vocab_size = -1;
    if (!sy_want_kind(L, t, "tasks item", YAML_MAPPING_NODE)) return 0;
    sy_node *tv, *tk;
    if (!sy_field(L, t, "a task", "type", 1, &tv)) return 0;
    sy_get(L, t, "type", &tk);
    if (tv->type != YAML_SCALAR_NODE) return FAIL(L, tv, "'type' must be a name, not %s", sy_kind_name(tv));
    int ty = -1;
    for (int i = 0; i < TASK_N_TYPES; i++)
        if (!strcmp(sy_sval(tv), TYPE_NAMES[i])) ty = i;
    if (ty < 0) {
        char hint[96];
        pb_suggest(sy_sval(tv), TYPE_NAMES, TASK_N_TYPES, hint, sizeof hint);
        return FAIL(L, tv, "unknown task type '%s'%s", sy_sval(tv), hint);
    }
    out->type = (task_type)ty;
    const char *ok[64], *other[64];
    int n_ok, n_other;
    task_keys(out->type, ok, &n_ok, other, &n_other);
    char what[64];
    snprintf(what, sizeof what, "a %s task", TYPE_NAMES[ty]);
    if (!sy_check_keys(L, t, what, ok, n_ok, other, n_other, TYPE_NAMES[ty])) return 0;
    if (!sy_get_name(L, t, what, "name", 0, TYPE_NAMES[ty], &out->name) || !sy_get_seed(L, t, s->seed, &out->seed))
        return 0;
    if (out->type == TASK_THROUGHPUT) return load_contexts(L, t, what, out, 0) && load_throughput(L, t, s, out);

    int def_new = s->max_new > 0 ? s->max_new : task_default_max_new(out->type), m = 0;
    if (!sy_get_int(L, t, what, "max_new", 0, 1, 1 << 16, def_new, &out->max_new) ||
        !sy_get_int(L, t, what, "samples", 0, 1, 1000000, 1, &out->samples) ||
        !sy_get_enum(L, t, "metric", METRIC_NAMES, COUNT(METRIC_NAMES), METRIC_DEFAULT, &m) ||
        !sy_get_str(L, t, what, "system", 0, &out->system) || !load_contexts(L, t, what, out, out->max_new + 64))
        return 0;
    out->metric = (suite_metric)m;
    if ((out->type == TASK_PASSKEY || out->type == TASK_NIAH) && !load_depths(L, t, out)) return 0;
    if (out->type == TASK_NIAH) return load_niah(L, t, out);
    if (is_ruler_niah(out->type)) return load_ruler(L, t, out);
    int hay = 0;
    switch (out->type) {
    case TASK_VT:
        if (!sy_get_enum(L, t, "haystack", HAY_NAMES, 2, HAY_NOISE, &hay)) return 0;
        out->haystack = (hay_type)hay;
        if (!sy_get_int(L, t, what, "num_chains", 0, 1, 100, 1, &out->num_chains) ||
            !sy_get_int(L, t, what, "num_hops", 0, 1, 100, 4, &out->num_hops) ||
            !sy_get_int(L, t, what, "fewshot_tokens", 0, 0, MAX_CONTEXT, -1, &out->fewshot_tokens))
            return 0;
        if (out->haystack == HAY_ESSAY && out->num_chains * (out->num_hops + 1) > 40)
            return FAIL(L, t, "%d chain lines in an essay haystack: at most 40, RULER's depths",
                        out->num_chains * (out->num_hops + 1));
        return 1;
    case TASK_CWE:
        return sy_get_int(L, t, what, "freq_cw", 0, 1, 10000, -1, &out->freq_cw) &&
               sy_get_int(L, t, what, "freq_ucw", 0, 1, 10000, -1, &out->freq_ucw) &&
               sy_get_int(L, t, what, "num_cw", 0, 1, 1000, 10, &out->num_cw) &&
               sy_get_int(L, t, what, "num_fewshot", 0, 0, 10, 1, &out->num_fewshot);
    case TASK_FWE:
        return sy_get_num(L, t, "alpha", 1, 10, 1, 2.0, &out->alpha) &&
               sy_get_int(L, t, what, "coded_wordlen", 0, 2, 32, 6, &out->coded_wordlen) &&
               sy_get_int(L, t, what, "vocab_size", 0, 5, 20000, -1, &out->vocab_size);
    default: return 1;
    }
}

/* ---- the suite ------------------------------------------------------------- */

static const char *const TOP_KEYS[] = {"name", "description", "model", "backend", "seed",
                                       "methods", "tasks", "metrics", "limits"};
static const char *const LIMIT_KEYS[] = {"max_new", "time_budget_s"};

static int load_suite(sy_ld *L, sy_node *root, suite *s)
{
    if (!sy_want_kind(L, root, "the suite", YAML_MAPPING_NODE)) return 0;
    if (!sy_check_keys(L, root, "the suite", TOP_KEYS, COUNT(TOP_KEYS), NULL, 0, NULL)) return 0;
    int b = 0;
    if (!sy_get_name(L, root, "the suite", "name", 1, NULL, &s->name) ||
        !sy_get_str(L, root, "the suite", "description", 0, &s->description) ||
        !sy_get_str(L, root, "the suite", "model", 1, &s->model) ||
        !sy_get_enum(L, root, "backend", BACKEND_NAMES, COUNT(BACKEND_NAMES), BACKEND_AUTO, &b) ||
        !sy_get_seed(L, root, 42, &s->seed))
        return 0;
    s->backend = (suite_backend)b;

    sy_node *v;
    s->max_new = -1;
    if (!sy_field(L, root, "", "limits", 0, &v)) return 0;
    if (v && (!sy_want_kind(L, v, "limits", YAML_MAPPING_NODE) ||
              !sy_check_keys(L, v, "limits", LIMIT_KEYS, COUNT(LIMIT_KEYS), NULL, 0, NULL) ||
              !sy_get_int(L, v, "", "max_new", 0, 1, 1 << 16, -1, &s->max_new) ||
              !sy_get_num(L, v, "time_budget_s", 0, 1e9, 0, 0, &s->time_budget_s)))
        return 0;

    s->metrics = SM_ALL;
    if (!sy_get_list(L, root, "", "metrics", 0, &v)) return 0;
    if (v) {
        s->metrics = 0;
        for (int i = 0; i < N_ITEMS(v); i++) {
            int k = 0;
            if (!sy_scalar_enum(L, ITEM(L, v, i), "metric", METRICS_NAMES, COUNT(METRICS_NAMES), &k)) return 0;
            if (k < 4) s->metrics |= 1 << k; /* "score" is always recorded */
        }
    }

    if (!sy_get_list(L, root, "the suite", "methods", 1, &v) || !sy_load_methods(L, v, s)) return 0;

    if (!sy_get_list(L, root, "the suite", "tasks", 1, &v)) return 0;
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

static int parser_fail(sy_ld *L, yaml_parser_t *p)
{
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_MEMORY_ERROR) return sy_fail_at(L, m, "out of memory while parsing YAML");
    if (p->context)
        return sy_fail_at(L, m, "YAML syntax error: %s %s (line %zu)", p->problem ? p->problem : "?", p->context,
                       p->context_mark.line + 1);
    return sy_fail_at(L, m, "YAML syntax error: %s", p->problem ? p->problem : "?");
}

suite *suite_parse(const char *name, const char *text, size_t len, pb_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc, next;
    yaml_mark_t origin = {0, 0, 0};
    sy_ld L = {name, &doc, err};
    if (!suite_guard(name, text, len, err)) return NULL; /* size, bytes, depth, count: before libyaml's loader */
    if (!yaml_parser_initialize(&parser)) {
        sy_fail_at(&L, origin, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        parser_fail(&L, &parser);
        yaml_parser_delete(&parser);
        return NULL;
    }
    suite *s = pb_calloc(1, sizeof *s);
    s->file = sy_dup(name);
    int ok = 1;
    sy_node *root = yaml_document_get_root_node(&doc);
    if (!root) ok = sy_fail_at(&L, origin, "the file is empty: a suite needs name, model, methods and tasks");
    if (ok) ok = load_suite(&L, root, s);
    if (ok) { /* one document only */
        if (!yaml_parser_load(&parser, &next)) {
            ok = parser_fail(&L, &parser);
        } else {
            sy_node *r2 = yaml_document_get_root_node(&next);
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
        free(s->methods[i].by_length);
        free(s->methods[i].dense_layers);
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
        free(t->densities);
        for (int j = 0; j < t->n_max_ctx; j++) free(t->max_ctx[j].method);
        free(t->max_ctx);
        free(t->demand_source);
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
