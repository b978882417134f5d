/* suite.h — a suite file (suites/SCHEMA.md) as plain C structs, and the
 * loader that validates one.
 *
 * suite_load reads the YAML with libyaml and checks everything it can check
 * without the model: every key known, every value of the right type and in
 * range, required fields present, names unique. Any problem is one line
 * "FILE:LINE:COL: what is wrong" in a pb_err (the CLI prints it and exits 2).
 * What needs the tokenizer (does the fixed part of each prompt fit its
 * context?) is checked by gen_check (gen.h) before a run starts; whether a
 * method's policy exists is checked by the runner. Every struct remembers
 * where it was defined (line, col) so those later checks can name the place.
 *
 * Invariants after a successful load: n_methods >= 1, n_tasks >= 1, names
 * unique within methods and within tasks, every task has >= 1 context and
 * every context > the task's max_new + 64; unset optional numbers are
 * resolved to their documented defaults except the few marked "auto"
 * (negative), which depend on the context and are resolved by the generator.
 */
#ifndef PURBO_SUITE_H
#define PURBO_SUITE_H

#include <stdint.h>

#include "base/common.h"

typedef enum { BACKEND_AUTO, BACKEND_CPU, BACKEND_CUDA } suite_backend;

enum { TP_LEVEL_MODEL, TP_LEVEL_ATTENTION, TP_LEVEL_LAYER };

typedef enum {
    TASK_PASSKEY,
    TASK_NIAH, /* needle in a haystack on a depth x length grid (gkamradt) */
    TASK_NIAH_SINGLE_1,
    TASK_NIAH_SINGLE_2,
    TASK_NIAH_SINGLE_3,
    TASK_NIAH_MULTIKEY_1,
    TASK_NIAH_MULTIKEY_2,
    TASK_NIAH_MULTIKEY_3,
    TASK_NIAH_MULTIVALUE,
    TASK_NIAH_MULTIQUERY,
    TASK_VT,
    TASK_CWE,
    TASK_FWE,
    TASK_THROUGHPUT,
    TASK_N_TYPES
} task_type;

/* How a prediction is scored (score.h). */
typedef enum { METRIC_DEFAULT = -1, METRIC_MATCH_ALL, METRIC_MATCH_PART, METRIC_EXACT } suite_metric;

/* Haystacks (RULER's type_haystack). */
typedef enum { HAY_NOISE, HAY_ESSAY, HAY_NEEDLE } hay_type;
/* Needle keys and values (RULER's type_needle_k / type_needle_v). */
typedef enum { VAL_NUMBERS, VAL_WORDS, VAL_UUIDS } val_type;

/* Bits of suite.metrics: what the runner records for each case besides the
 * score, which is always recorded. */
enum {
    SM_DENSITY = 1 << 0,  /* fraction of attention entries computed */
    SM_TIME = 1 << 1,     /* prefill and decode wall time */
    SM_TOKENS = 1 << 2,   /* prompt and generated token counts */
    SM_KV_BYTES = 1 << 3, /* KV-cache bytes kept */
    SM_ALL = 15
};

/* One policy parameter of a method: key is one of plan_spec_keys (a static string). */
#define SUITE_MAX_PARAMS 16
typedef struct {
    const char *key;
    double v;
} suite_param;

typedef struct {
    char *name;   /* unique label (a results-table key) */
    char *policy; /* policy name: dense, streaming, duo, quest, topk-oracle, ... */
    /* policy parameters by the spec keys of --policy (plan.h: sink, window,
     * block, local, page, budget, k, p, kmin, r, calib), in file order, each
     * in its range and taken by the policy; those left out keep the
     * policy's defaults */
    suite_param params[SUITE_MAX_PARAMS];
    int n_params;
    double rho;   /* share of retrieval heads, [0, 1]; negative: not given */
    char *plan;   /* head plan / indexer file (path as written), or NULL */
    char *by_length; /* the length rule's text (plan.h), checked, or NULL */
    char *dense_layers; /* the layers run dense (plan.h's dense_layers text), checked, or NULL */
    char *impl;   /* whose attention: "purbo" (ours, default) or a peer of
                   * peer.h ("sdpa_cudnn", "sdpa_fa2", "flex"; dense only,
                   * attention-level throughput tasks only) */
    int line, col;
} suite_method;

/* The value of a method's param key (a spec key, or "rho"), or def when the
 * method does not set it. */
double suite_method_param(const suite_method *m, const char *key, double def);

typedef struct {
    task_type type;
    char *name;         /* unique label; defaults to the type's name */
    int *contexts;      /* lengths in model tokens (prompt + max_new) */
    int n_contexts;
    double *depths;     /* percent, [0, 100]; passkey and niah only */
    int n_depths;       /* 0: passkey draws a depth per sample; niah never 0 */
    int samples;        /* per (context, depth) cell, >= 1 */
    uint64_t seed;      /* the task's seed (defaults to the suite's) */
    int max_new;        /* tokens generated at most */
    suite_metric metric;
    char *system;       /* system prompt, or NULL: the model's default */

    /* niah (gkamradt) */
    char *needle;       /* may contain {value}: replaced by a random value */
    char *question;
    char *answer_prefix;
    char **answers;     /* expected strings; NULL: the value (needle needs {value}) */
    int n_answers;

    /* RULER niah_* (defaults: the preset of the type, scripts/synthetic.yaml) */
    hay_type haystack;  /* also niah (noise|essay) and vt (noise|essay) */
    val_type key_type, value_type;
    int num_keys, num_values, num_queries;

    /* vt */
    int num_chains, num_hops;
    int fewshot_tokens; /* size of the in-context example; < 0: auto = context/4 in [300, 500] */

    /* cwe */
    int freq_cw, freq_ucw; /* < 0: auto (RULER: 6 and 1 below 4096 tokens, 30 and 3 from it) */
    int num_cw, num_fewshot;

    /* fwe */
    double alpha;
    int coded_wordlen;
    int vocab_size;     /* < 0: auto = (context - max_new) / 50 */

    /* throughput (run by the runner; no generator) */
    int level;          /* TP_LEVEL_MODEL: the whole forward pass; TP_LEVEL_ATTENTION: one attention kernel;
                         * TP_LEVEL_LAYER: one RTPurbo attention layer (kernels/layer_time.h) */
    int phases;         /* bit 0: prefill, bit 1: decode */
    int repeats, warmup, decode_tokens;
    int max_repeats;        /* the repeat rule (throughput.h, tp_stop): repeats when not given */
    double target_spread, max_seconds; /* 0: off */
    struct suite_shape { int layers, heads, kv_heads, head_dim; } *shapes; /* NULL: the model's */
    int n_shapes;
    /* level layer only: the planted selected fractions, in (0, 1), each a
     * case dimension; then demand (> 0: one more density, the real model's,
     * with demand_source saying where it was measured; < 0: none); needles
     * planted per retrieval head (0: none); max_ctx: per method (by name)
     * the longest context it runs at (methods not listed: no limit) */
    double *densities;
    int n_densities;
    double demand;
    char *demand_source;
    int needles;
    int index_mean;     /* index_pool: 0 envelope, 1 mean (the prefill indexer) */
    struct suite_cap { char *method; int max; } *max_ctx;
    int n_max_ctx;

    int line, col;
} suite_task;

typedef struct {
    char *file;         /* the path it was loaded from */
    char *text;         /* suite_load: the file's text as read (the run's config); suite_parse: NULL */
    char *name;
    char *description;  /* or NULL */
    char *model;        /* path as written (relative to the working directory) */
    suite_backend backend;
    uint64_t seed;
    suite_method *methods;
    int n_methods;
    suite_task *tasks;
    int n_tasks;
    int metrics;        /* SM_* bits */
    int max_new;        /* limits.max_new, or -1: each task type's default */
    double time_budget_s; /* limits.time_budget_s; 0 = none */
} suite;

/* Loads and validates a suite file. NULL + *err ("FILE:LINE:COL: ...") on
 * any problem, including an unreadable file. */
suite *suite_load(const char *path, pb_err *err);
/* The same from text in memory; `name` stands for the file in messages. */
suite *suite_parse(const char *name, const char *text, size_t len, pb_err *err);
void suite_free(suite *s);

/* Names as written in suite files. */
const char *task_type_name(task_type t);
const char *metric_name(suite_metric m);
/* The type's default max_new (RULER's tokens_to_generate for its tasks). */
int task_default_max_new(task_type t);

#endif
