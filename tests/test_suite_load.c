/* test_suite_load.c — the suite loader: the shipped suites load, defaults
 * resolve as SCHEMA.md says, and every class of schema error is reported as
 * "FILE:LINE:COL: what" at the right place (snippets written to /tmp). */
#include <glob.h>
#include <unistd.h>

#include "policy/plan.h"
#include "policy/planfile.h"
#include "suites/suite.h"
#include "tests/fixture.h"
#include "tests/test.h"

static char path[256];

/* Writes text to a fresh file under /tmp and loads it. */
static suite *load(const char *text, pb_err *e)
{
    snprintf(path, sizeof path, "/tmp/purbo-test-suite-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    e->msg[0] = 0;
    suite *s = suite_load(path, e);
    unlink(path);
    return s;
}

/* 1 if msg starts with "PATH:line:col: " and contains `what`. */
static int at(const pb_err *e, int line, int col, const char *what)
{
    char want[320];
    snprintf(want, sizeof want, "%s:%d:%d: ", path, line, col);
    return !strncmp(e->msg, want, strlen(want)) && strstr(e->msg, what) != NULL;
}

#define HEAD "name: t\nmodel: m.gguf\nmethods: [{policy: dense}]\n"

#define EXPECT(text, line, col, what)                                                     \
    do {                                                                                  \
        pb_err e_;                                                                        \
        suite *s_ = load(text, &e_);                                                      \
        if (s_) suite_free(s_);                                                           \
        CHECK_MSG(!s_, "loaded, expected an error at %d:%d (%s)", line, col, what);        \
        CHECK_MSG(at(&e_, line, col, what), "got \"%s\", want %d:%d ... %s", e_.msg, line, col, what); \
    } while (0)

/* Every suite the repository ships loads (their params by --policy's names,
 * their sweeps expanded). */
TEST(suite_load_every_shipped)
{
    glob_t g;
    CHECK(glob("suites/*.yaml", 0, NULL, &g) == 0);
    CHECK_MSG(g.gl_pathc >= 7, "%zu suites", (size_t)g.gl_pathc);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        pb_err e;
        suite *s = suite_load(g.gl_pathv[i], &e);
        CHECK_MSG(s, "%s", e.msg);
        if (s) suite_free(s);
    }
    globfree(&g);
}

TEST(suite_load_shipped)
{
    pb_err e;
    suite *s = suite_load("suites/smoke.yaml", &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(!strcmp(s->name, "smoke") && s->backend == BACKEND_CPU && s->n_methods == 1 && s->n_tasks == 7);
    CHECK(s->max_new == 32 && s->time_budget_s == 0); /* no budget: the gate must see every case */
    CHECK(s->tasks[0].type == TASK_PASSKEY && s->tasks[0].n_contexts == 2 && s->tasks[0].samples == 2);
    CHECK(s->tasks[0].n_depths == 0); /* passkey: a depth per sample */
    CHECK(s->tasks[0].max_new == 12 && s->tasks[4].max_new == 24); /* a task's own max_new */
    CHECK(s->tasks[6].type == TASK_FWE && s->tasks[6].max_new == 24);
    suite_free(s);

    s = suite_load("suites/default.yaml", &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(s->n_methods == 9 && !strcmp(s->methods[0].name, "dense") && !strcmp(s->methods[0].impl, "purbo"));
    CHECK(!strcmp(s->methods[7].name, "rtpurbo-trained") && strstr(s->methods[7].plan, ".purbo"));
    const suite_method *rt = &s->methods[6];
    CHECK(!strcmp(rt->policy, "rtpurbo") && rt->rho == 0.15 && rt->n_params == 4);
    const char *keys[4] = {"p", "sink", "window", "block"};
    const double vals[4] = {0.9, 4, 256, 64};
    for (int i = 0; i < 4; i++) CHECK(!strcmp(rt->params[i].key, keys[i]) && rt->params[i].v == vals[i]);
    CHECK(rt->plan && !strcmp(rt->plan, "suites/heads/smollm2-135m.txt"));
    int seen[TASK_N_TYPES] = {0};
    for (int i = 0; i < s->n_tasks; i++) seen[s->tasks[i].type]++;
    for (int t = 0; t < TASK_THROUGHPUT; t++) CHECK_MSG(seen[t] == 1, "default.yaml lacks %s", task_type_name(t));
    suite_free(s);
}

TEST(suite_load_gpu_throughput_suite)
{
    pb_err e;
    suite *s = suite_load("suites/throughput.yaml", &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(s->backend == BACKEND_CUDA && s->n_methods == 4 && s->n_tasks == 3);
    CHECK(!strcmp(s->methods[0].impl, "purbo") && !strcmp(s->methods[1].impl, "sdpa_cudnn") &&
          !strcmp(s->methods[2].impl, "sdpa_fa2") && !strcmp(s->methods[3].impl, "flex"));
    for (int i = 0; i < s->n_tasks; i++) {
        const suite_task *t = &s->tasks[i];
        CHECK(t->type == TASK_THROUGHPUT && t->level == TP_LEVEL_ATTENTION && t->shapes[0].heads == 32);
        CHECK(t->shapes[0].layers == 1); /* no layers at the attention level: 1 */
    }
    CHECK(s->tasks[0].phases == 1 && s->tasks[1].phases == 2 && s->tasks[1].contexts[6] == 1 << 20);
    suite_free(s);

    s = suite_load("suites/passkey.yaml", &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(s->n_methods == 5 && s->tasks[0].n_contexts == 4 && s->tasks[0].n_depths == 5);
    suite_free(s);

    /* impl and level: names, the peer's policy, layers at the model level */
    EXPECT("name: t\nmodel: m\nmethods:\n  - {policy: dense, impl: sdpa_cudn}\ntasks: [{type: passkey, contexts: [512]}]\n",
           4, 27, "unknown impl 'sdpa_cudn' (did you mean 'sdpa_cudnn'?)");
    EXPECT("name: t\nmodel: m\nmethods:\n  - {policy: streaming, impl: flex}\ntasks: [{type: passkey, contexts: [512]}]\n",
           4, 31, "the policy must be dense, not 'streaming'");
    EXPECT(HEAD "tasks: [{type: throughput, level: kernel, contexts: [512]}]\n", 4, 35, "unknown level 'kernel'");
    EXPECT(HEAD "tasks: [{type: throughput, contexts: [512], shapes: [{heads: 8, kv_heads: 2, head_dim: 64}]}]\n", 4, 54,
           "missing required field 'layers'");
    EXPECT(HEAD "tasks: [{type: passkey, level: attention, contexts: [512]}]\n", 4, 25, "'level' does not apply to task type passkey");
}

/* level layer: the shipped suite, its keys' defaults, and each bad value
 * at its place. */
TEST(suite_load_layer_level)
{
    pb_err e;
    suite *s = suite_load("suites/layer.yaml", &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(s->backend == BACKEND_CUDA && s->n_tasks == 4 && !strcmp(s->methods[3].impl, "flex") &&
          !strcmp(s->methods[3].policy, "rtpurbo"));
    CHECK(s->tasks[0].n_contexts == 6 && s->tasks[0].contexts[5] == 1 << 20 && s->tasks[1].contexts[1] == 1 << 20);
    /* the last task: the mean-pooled prefill indexer, rtpurbo alone */
    CHECK(s->tasks[3].index_mean == 1 && s->tasks[3].n_densities == 1 && s->tasks[3].n_max_ctx == 3);
    for (int i = 0; s && i < 3; i++) {
        CHECK(s->tasks[i].index_mean == 0);
        const suite_task *t = &s->tasks[i];
        CHECK(t->level == TP_LEVEL_LAYER && t->n_shapes == (i == 1 ? 1 : 2) && t->n_max_ctx >= 1);
        CHECK(t->n_densities == (i == 1 ? 2 : 4) && t->densities[i == 1 ? 1 : 2] == 0.1 && t->demand > 0 &&
              t->demand < 1 && t->demand_source);
    }
    suite_free(s);
    const char *shape = ", shapes: [{heads: 8, kv_heads: 2, head_dim: 64}]";
    char text[600];
    snprintf(text, sizeof text, HEAD "tasks: [{type: throughput, level: layer, contexts: [4096]%s}]\n", shape);
    s = load(text, &e);
    CHECK_MSG(s, "%s", e.msg);
    if (s) {
        const suite_task *t = &s->tasks[0];
        CHECK(t->n_densities == 4 && t->densities[0] == 0.01 && t->densities[3] == 0.3 && t->demand < 0 &&
              !t->demand_source && t->needles == 4 && t->n_max_ctx == 0);
        suite_free(s);
    }
    snprintf(text, sizeof text, HEAD "tasks: [{type: throughput, level: layer, contexts: [4096], densities: [0.2],"
             " demand: 0.07, demand_source: \"probe\", needles: 0, max_context: {dense: 65536}, index_pool: mean%s}]\n",
             shape);
    s = load(text, &e);
    CHECK_MSG(s, "%s", e.msg);
    if (s) {
        const suite_task *t = &s->tasks[0];
        CHECK(t->n_densities == 1 && t->densities[0] == 0.2 && t->demand == 0.07 &&
              !strcmp(t->demand_source, "probe") && t->needles == 0 && t->n_max_ctx == 1 &&
              !strcmp(t->max_ctx[0].method, "dense") && t->max_ctx[0].max == 65536 && t->index_mean == 1);
        suite_free(s);
    }
#define LAYER_T HEAD "tasks: [{type: throughput, level: layer, contexts: [4096], shapes: [{heads: 8, kv_heads: 2, head_dim: 64}], "
    EXPECT(LAYER_T "densities: [0.1, 1]}]\n", 4, 126, "a density must be below 1");
    EXPECT(LAYER_T "densities: [0]}]\n", 4, 121, "densities");
    EXPECT(LAYER_T "densities: [0.1, 0.1]}]\n", 4, 126, "density 0.1 is listed twice");
    EXPECT(LAYER_T "demand: 0.05}]\n", 4, 9, "demand_source");
    EXPECT(LAYER_T "demand_source: x}]\n", 4, 109, "'demand_source' without 'demand'");
    EXPECT(LAYER_T "demand: 1, demand_source: x}]\n", 4, 117, "'demand' must be below 1");
    EXPECT(LAYER_T "needles: 65}]\n", 4, 118, "needles");
    EXPECT(LAYER_T "max_context: {dens: 4096}}]\n", 4, 123, "max_context: no method 'dens' in the suite (did you mean 'dense'?)");
    EXPECT(LAYER_T "max_context: {dense: 0}}]\n", 4, 130, "max_context");
    EXPECT(LAYER_T "max_context: [dense]}]\n", 4, 122, "max_context");
    EXPECT(LAYER_T "index_pool: max}]\n", 4, 121, "unknown index_pool 'max'");
    EXPECT(HEAD "tasks: [{type: throughput, level: layer, contexts: [4096]}]\n", 4, 9, "needs 'shapes'");
    EXPECT(HEAD "tasks: [{type: throughput, level: attention, contexts: [512], densities: [0.1]}]\n", 4, 63,
           "'densities' belongs to level: layer, not level: attention");
#undef LAYER_T
}

TEST(suite_load_defaults)
{
    pb_err e;
    suite *s = load(HEAD "tasks:\n"
                         "  - {type: niah, contexts: [512]}\n"
                         "  - {type: niah_multiquery, contexts: [1024], seed: 7}\n"
                         "  - {type: niah_multikey_3, contexts: [1024], num_keys: 3}\n"
                         "  - {type: vt, contexts: [2048]}\n"
                         "  - {type: cwe, contexts: [4096]}\n"
                         "  - {type: fwe, contexts: [4096], max_new: 10}\n"
                         "  - {type: throughput, contexts: [256], phases: [decode],\n"
                         "     shapes: [{layers: 2, heads: 8, kv_heads: 2, head_dim: 64}]}\n",
                    &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(s->seed == 42 && s->backend == BACKEND_AUTO && s->metrics == SM_ALL && s->max_new == -1);
    const suite_task *t = s->tasks;
    CHECK(t[0].n_depths == 5 && t[0].depths[4] == 100 && t[0].max_new == 32 && t[0].samples == 1);
    CHECK(strstr(t[0].needle, "{value}") && t[0].haystack == HAY_ESSAY && t[0].n_answers == 0);
    CHECK(t[0].seed == 42 && t[1].seed == 7);
    /* RULER: num_needle_k = max(num_needle_k, num_needle_q) */
    CHECK(t[1].num_keys == 4 && t[1].num_queries == 4 && t[1].num_values == 1 && t[1].max_new == 128);
    CHECK(t[2].haystack == HAY_NEEDLE && t[2].key_type == VAL_UUIDS && t[2].value_type == VAL_UUIDS && t[2].num_keys == 3);
    CHECK(t[3].num_chains == 1 && t[3].num_hops == 4 && t[3].haystack == HAY_NOISE && t[3].fewshot_tokens < 0);
    CHECK(t[3].max_new == 30 && t[4].max_new == 120 && t[5].max_new == 10);
    CHECK(t[4].num_cw == 10 && t[4].freq_cw < 0 && t[4].num_fewshot == 1);
    CHECK(t[5].alpha == 2.0 && t[5].coded_wordlen == 6 && t[5].vocab_size < 0);
    CHECK(t[6].phases == 2 && t[6].repeats == 5 && t[6].n_shapes == 1 && t[6].shapes[0].kv_heads == 2);
    CHECK(!strcmp(t[1].name, "niah_multiquery") && t[1].metric == METRIC_DEFAULT);
    suite_free(s);
}

TEST(suite_load_syntax_and_structure)
{
    EXPECT("name: t\nmodel: [unclosed\n", 3, 1, "YAML syntax error");
    EXPECT("", 1, 1, "the file is empty");
    EXPECT("- a\n- b\n", 1, 1, "'the suite' must be a mapping, not a list");
    EXPECT(HEAD "tasks: [{type: passkey, contexts: [512]}]\n---\nname: u\n", 6, 1, "a second");
    EXPECT("name: t\nmethods: [{policy: dense}]\ntasks: [{type: passkey, contexts: [512]}]\n", 1, 1,
           "missing required field 'model'");
    EXPECT(HEAD "tasks: []\n", 4, 8, "'tasks' is an empty list");
    EXPECT("name: t\nmodel: m\nmethods:\n  - {name: a}\ntasks: [{type: passkey, contexts: [512]}]\n", 4, 5,
           "a method is missing required field 'policy'");
    EXPECT(HEAD "tasks:\n  - type: niah\n    depths: [10]\n", 5, 5, "a niah task is missing required field 'contexts'");
    EXPECT(HEAD "description:\ntasks: [{type: passkey, contexts: [512]}]\n", 4, 13, "'description' has no value");
    pb_err e;
    CHECK(!suite_load("/nonexistent/suite.yaml", &e) && strstr(e.msg, "/nonexistent/suite.yaml: cannot open"));
}

TEST(suite_load_unknown_and_duplicate_keys)
{
    EXPECT(HEAD "taks: []\n", 4, 1, "unknown key 'taks' in the suite (did you mean 'tasks'?)");
    EXPECT(HEAD "tasks:\n  - type: niah\n    contxts: [512]\n", 6, 5,
           "unknown key 'contxts' in a niah task (did you mean 'contexts'?)");
    EXPECT(HEAD "tasks:\n  - type: niah\n    contexts: [512]\n    zzzz: 1\n", 7, 5, "unknown key 'zzzz'");
    EXPECT(HEAD "tasks:\n  - type: niah\n    contexts: [512]\n    num_hops: 3\n", 7, 5,
           "'num_hops' does not apply to task type niah");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: duo, params: {rhoo: 0.2}}]\ntasks: []\n", 3, 34,
           "unknown key 'rhoo' in method params (did you mean 'rho'?)");
    EXPECT(HEAD "tasks:\n  - type: niah\n    samples: 2\n    contexts: [512]\n    samples: 3\n", 8, 5,
           "duplicate key 'samples' (first at line 6, column 5)");
    EXPECT(HEAD "name: again\ntasks: []\n", 4, 1, "duplicate key 'name' (first at line 1, column 1)");
}

TEST(suite_load_types_and_ranges)
{
    EXPECT(HEAD "tasks: [{type: niah, contexts: [\"512\"]}]\n", 4, 33, "'contexts' must be an integer, not a quoted string");
    EXPECT(HEAD "tasks: [{type: niah, contexts: 512}]\n", 4, 32, "'contexts' must be a list, not a plain scalar");
    EXPECT(HEAD "tasks: [{type: niah, contexts: [5x2]}]\n", 4, 33, "'contexts' must be an integer, not '5x2'");
    EXPECT(HEAD "tasks: [{type: niah, contexts: [512], samples: 1.5}]\n", 4, 48, "'samples' must be an integer");
    EXPECT(HEAD "tasks: [{type: niah, contexts: [64]}]\n", 4, 33, "'contexts' is 64, out of range [128, 16777216]");
    EXPECT(HEAD "tasks: [{type: niah, contexts: [512], depths: [0, 101]}]\n", 4, 51, "'depths' is 101, out of range [0, 100]");
    EXPECT(HEAD "tasks: [{type: niah, contexts: [512], samples: 0}]\n", 4, 48, "'samples' is 0, out of range");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: x, params: {p: 0}}]\ntasks: []\n", 3, 35, "p 0 is out of range (0, 1]");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: x, params: {window: 0}}]\ntasks: []\n", 3, 40, "window 0 is out of range [1, ");
    /* the knobs of a sweep: p in (0, 1], rho in [0, 1], a window of at least one block */
    EXPECT("name: t\nmodel: m\nmethods: [{policy: x, params: {p: 1.5}}]\ntasks: []\n", 3, 35, "p 1.5 is out of range (0, 1]");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: x, params: {p: -0.2}}]\ntasks: []\n", 3, 35, "p -0.2 is out of range (0, 1]");
    /* one set of names with --policy: the spec keys, each where its policy takes it */
    EXPECT("name: t\nmodel: m\nmethods: [{policy: x, params: {window: 2.5}}]\ntasks: []\n", 3, 40,
           "window 2.5 is not an integer");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: x, params: {window: 1e300}}]\ntasks: []\n", 3, 40,
           "window 1e+300 is out of range [1, ");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: quest, params: {block: 16}}]\ntasks: []\n", 3, 36,
           "quest has no parameter 'block' (page,budget,k,first_layer,last_layer,dense_layers)");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: streaming, params: {sinks: 4}}]\ntasks: []\n", 3, 40,
           "'sinks' is now 'sink' (the names of --policy)");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: quest, params: {top_k: 4}}]\ntasks: []\n", 3, 36,
           "'top_k' is now 'k'");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: quest, params: {page: 16, kk: 4}}]\ntasks: []\n", 3, 46,
           "unknown key 'kk' in method params (did you mean 'k'?)");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: duo, params: {rho: 1.2}}]\ntasks: []\n", 3, 39,
           "'rho' is 1.2, out of range [0, 1]");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: duo, params: {rho: -0.1}}]\ntasks: []\n", 3, 39,
           "'rho' is -0.1, out of range [0, 1]");
    EXPECT("name: t\nmodel: m\nmethods:\n  - {policy: rtpurbo, params: {block: 64, window: 32}}\ntasks: []\n", 4, 51,
           "'window' is 32, below the block size 64");
    EXPECT("name: t\nmodel: m\nmethods:\n  - {policy: rtpurbo-topk, params: {window: 48}}\ntasks: []\n", 4, 45,
           "'window' is 48, below the block size 64 (the policy's default block)");
    EXPECT("name: t\nmodel: m\nmethods:\n  - {policy: rtpurbo, params: {window: 16, block: 32, plan: h.txt}}\n"
           "tasks: []\n", 4, 40, "'window' is 16, below the block size 32");
    pb_err e;
    /* a window of one block, a small window with a small block, and streaming (no blocks) load */
    suite *s = load("name: t\nmodel: m\nmethods:\n  - {policy: rtpurbo, params: {window: 64}}\n"
                    "  - {name: b, policy: rtpurbo, params: {window: 16, block: 16}}\n"
                    "  - {name: c, policy: streaming, params: {window: 16}}\n"
                    "  - {name: d, policy: rtpurbo, params: {window: 16, plan: x.purbo}}\n"
                    "tasks: [{type: niah, contexts: [512]}]\n", &e);
    CHECK_MSG(s && s->n_methods == 4, "%s", e.msg);
    suite_free(s);
    EXPECT(HEAD "tasks: [{type: niah_single_1, contexts: [512, 1024, 512]}]\n", 4, 53, "context 512 is listed twice");
    /* the prompt needs room: context > max_new + 64 (RULER niah: max_new 128) */
    EXPECT(HEAD "tasks: [{type: niah_single_1, contexts: [160]}]\n", 4, 42, "leaves no room");
    EXPECT(HEAD "tasks:\n  - {type: niah_multivalue, contexts: [512], num_keys: 11}\n", 5, 5, "44 needles");
    EXPECT(HEAD "tasks:\n  - {type: vt, contexts: [512], haystack: essay, num_chains: 9}\n", 5, 5, "45 chain lines");
    EXPECT(HEAD "tasks: [{type: fwe, contexts: [512], alpha: 1}]\n", 4, 45, "'alpha' is 1, out of range (1, 10]");
    EXPECT(HEAD "tasks: [{type: throughput, contexts: [512], shapes: [{layers: 1, heads: 9, kv_heads: 2, head_dim: 64}]}]\n",
           4, 54, "heads (9) must be a multiple of kv_heads (2)");
    EXPECT(HEAD "seed: -1\ntasks: []\n", 4, 7, "'seed' must be an integer in [0, 2^64)");
}

TEST(suite_load_names_and_values)
{
    EXPECT(HEAD "tasks: [{type: niah_singel_1, contexts: [512]}]\n", 4, 16,
           "unknown task type 'niah_singel_1' (did you mean 'niah_single_1'?)");
    EXPECT(HEAD "tasks: [{type: ruler, contexts: [512]}]\n", 4, 16, "unknown task type 'ruler'");
    EXPECT(HEAD "backend: gpu\ntasks: []\n", 4, 10, "unknown backend 'gpu' (did you mean 'cpu'?); one of: auto, cpu, cuda");
    EXPECT(HEAD "tasks: [{type: niah_single_1, contexts: [512], haystack: paper}]\n", 4, 58, "unknown haystack 'paper'");
    EXPECT(HEAD "tasks: [{type: vt, contexts: [512], haystack: needle}]\n", 4, 47, "unknown haystack 'needle'");
    EXPECT(HEAD "tasks: [{type: cwe, contexts: [512], metric: string_match_any}]\n", 4, 46,
           "unknown metric 'string_match_any' (did you mean 'string_match_all'?)");
    EXPECT(HEAD "metrics: [density, speed]\ntasks: []\n", 4, 20, "unknown metric 'speed'");
    EXPECT(HEAD "tasks:\n  - {type: niah, contexts: [512]}\n  - {type: niah, contexts: [1024]}\n", 6, 5,
           "task name 'niah' is used twice (first at line 5)");
    EXPECT("name: t\nmodel: m\nmethods: [{policy: dense}, {policy: dense}]\ntasks: []\n", 3, 28,
           "method name 'dense' is used twice");
    EXPECT("name: my suite\nmodel: m\n", 1, 7, "'name' must be 1-64 characters");
    EXPECT(HEAD "tasks: [{type: niah, contexts: [512], needle: A fixed needle.}]\n", 4, 47,
           "the needle has no {value}: give the expected 'answers'");
    pb_err e;
    suite *s = load(HEAD "tasks: [{type: niah, contexts: [512], needle: A fixed needle., answers: [fixed]}]\n", &e);
    CHECK_MSG(s && s->tasks[0].n_answers == 1 && !strcmp(s->tasks[0].answers[0], "fixed"), "%s", e.msg);
    suite_free(s);
}

/* suite_parse on bytes (NULs included) must fail with "t.yaml:LINE:COL: " and
 * `what`, and at once: the caps exist so a small file cannot run for minutes. */
static int refused_at(const char *text, size_t len, const char *place, const char *what, char *msg)
{
    pb_err e = {{0}};
    double t0 = pb_now();
    suite *s = suite_parse("t.yaml", text, len, &e);
    double dt = pb_now() - t0;
    if (s) suite_free(s);
    snprintf(msg, 512, "%.400s (%.2f s)", s ? "loaded" : e.msg, dt);
    return !s && !strncmp(e.msg, place, strlen(place)) && strstr(e.msg, what) && dt < 5;
}

TEST(suite_load_caps_depth_count_size)
{
    char msg[512];
    const int deep = 200000; /* 400 KB: libyaml's loader alone would take minutes */
    char *t = malloc(2 * (size_t)deep + 1);
    memset(t, '[', deep);
    memset(t + deep, ']', deep);
    t[2 * deep] = 0;
    CHECK_MSG(refused_at(t, 2 * (size_t)deep, "t.yaml:1:33: ", "nested more than 32 levels deep", msg), "%s", msg);
    free(t);
    /* block style: mapping k starts at line k, column k */
    char block[4096], *p = block;
    for (int k = 0; k < 40; k++) p += sprintf(p, "%*sk%d:\n", k, "", k);
    CHECK_MSG(refused_at(block, strlen(block), "t.yaml:33:33: ", "nested more than 32 levels", msg), "%s", msg);
    /* a 100,000-item flow list: item k (1-based) is at column 2k */
    const int items = 100000;
    t = malloc(2 * (size_t)items + 2);
    p = t;
    *p++ = '[';
    for (int k = 0; k < items; k++) *p++ = '1', *p++ = k + 1 < items ? ',' : ']';
    *p = 0;
    CHECK_MSG(refused_at(t, strlen(t), "t.yaml:1:40000: ", "more than 20000 values", msg), "%s", msg);
    free(t);
    /* 2 MB of comment lines of 64 bytes: byte 1 MiB starts line 16385 */
    size_t big = 2u << 20;
    t = malloc(big + 1);
    for (size_t i = 0; i < big; i += 64) memset(t + i, '#', 63), t[i + 63] = '\n';
    t[big] = 0;
    CHECK_MSG(refused_at(t, big, "t.yaml:16385:1: ", "past 1048576 bytes", msg), "%s", msg);
    free(t);
}

TEST(suite_load_bad_bytes_located)
{
    char msg[512];
    /* HEAD is 3 lines; line 4 holds the bad byte after "description: a" */
    static const char nul[] = HEAD "description: a\0b\n";
    CHECK_MSG(refused_at(nul, sizeof nul - 1, "t.yaml:4:15: ", "a NUL byte", msg), "%s", msg);
    static const char bad[] = HEAD "description: \xff\n";
    CHECK_MSG(refused_at(bad, sizeof bad - 1, "t.yaml:4:14: ", "byte 0xff is not valid UTF-8", msg), "%s", msg);
    /* the column counts characters: the escape follows a 2-byte e-acute */
    static const char esc[] = HEAD "description: \xc3\xa9\x1b[31m\n";
    CHECK_MSG(refused_at(esc, sizeof esc - 1, "t.yaml:4:15: ", "control character U+001B", msg), "%s", msg);
    static const char c1[] = HEAD "tasks: []\ndescription: x\xc2\x9b\n";
    CHECK_MSG(refused_at(c1, sizeof c1 - 1, "t.yaml:5:15: ", "control character U+009B", msg), "%s", msg);
    /* CRLF line ends count as one */
    static const char crlf[] = "name: t\r\nmodel: m\r\n\x01";
    CHECK_MSG(refused_at(crlf, sizeof crlf - 1, "t.yaml:3:1: ", "U+0001", msg), "%s", msg);
}

/* A sweep: the method itself, then every other combination of the listed
 * values, keys in the order written, the last varying fastest; each point
 * named METHOD@KEY=VALUE[+...] by --policy's key names, its params the
 * method's with the point's values in place. */
static double param_of(const suite_method *m, const char *key) { return suite_method_param(m, key, -1); }

TEST(suite_load_sweep_points)
{
    pb_err e;
    suite *s = load("name: t\nmodel: m\nmethods:\n  - {policy: dense}\n"
                    "  - name: rt\n    policy: rtpurbo\n"
                    "    params: {window: 256, p: 0.9, sink: 4, plan: x.purbo}\n"
                    "    sweep: {window: [128, 256], p: [0.8, 0.9]}\n"
                    "  - {name: top, policy: topp-oracle, params: {block: 64}, sweep: {p: [0.5, 0.95]}}\n"
                    "  - {name: h, policy: duo, params: {plan: h.txt}, sweep: {rho: [0.05, 0.1], sink: [0]}}\n"
                    "  - {name: k, policy: rtpurbo, params: {plan: h.txt}, sweep: {kmin: [0, 8], r: [4]}}\n"
                    "  - {name: q, policy: quest, params: {page: 16, k: 16}, sweep: {page: [8, 16], k: [4, 16]}}\n"
                    "tasks: [{type: niah, contexts: [512]}]\n", &e);
    CHECK_MSG(s, "%s", e.msg);
    const char *want[] = {"dense", "rt", "rt@window=128+p=0.8", "rt@window=128+p=0.9", "rt@window=256+p=0.8",
                          "top", "top@p=0.5", "top@p=0.95", "h", "h@rho=0.05+sink=0", "h@rho=0.1+sink=0",
                          "k", "k@kmin=0+r=4", "k@kmin=8+r=4", "q", "q@page=8+k=4", "q@page=8+k=16", "q@page=16+k=4"};
    int nw = (int)(sizeof want / sizeof want[0]);
    CHECK_MSG(s->n_methods == nw, "%d methods, want %d", s->n_methods, nw);
    for (int i = 0; i < nw && i < s->n_methods; i++)
        CHECK_MSG(!strcmp(s->methods[i].name, want[i]), "method %d is '%s', want '%s'", i, s->methods[i].name, want[i]);
    if (s->n_methods == nw) {
        const suite_method *m = &s->methods[3]; /* rt@window=128+p=0.9: the swept values, the rest the method's */
        CHECK(param_of(m, "window") == 128 && param_of(m, "p") == 0.9 && param_of(m, "sink") == 4 &&
              !strcmp(m->policy, "rtpurbo"));
        /* the params list keeps the method's order, its values replaced in place */
        CHECK(m->n_params == 3 && !strcmp(m->params[0].key, "window") && !strcmp(m->params[1].key, "p") &&
              !strcmp(m->params[2].key, "sink"));
        CHECK(m->plan && !strcmp(m->plan, "x.purbo") && !strcmp(m->impl, "purbo") && m->plan != s->methods[1].plan);
        CHECK(param_of(&s->methods[1], "window") == 256 && param_of(&s->methods[1], "p") == 0.9); /* untouched */
        CHECK(param_of(&s->methods[6], "p") == 0.5 && param_of(&s->methods[6], "block") == 64 &&
              param_of(&s->methods[5], "p") == -1);
        /* a key the method does not set comes after its own */
        CHECK(s->methods[6].n_params == 2 && !strcmp(s->methods[6].params[1].key, "p"));
        CHECK(s->methods[9].rho == 0.05 && param_of(&s->methods[9], "sink") == 0 && s->methods[8].rho == -1);
        CHECK(s->methods[9].n_params == 1); /* rho is no spec key: kept apart */
        CHECK(param_of(&s->methods[13], "kmin") == 8 && param_of(&s->methods[13], "r") == 4 &&
              param_of(&s->methods[11], "kmin") == -1);
        CHECK(param_of(&s->methods[15], "page") == 8 && param_of(&s->methods[15], "k") == 4);
        /* every point's params build the policy's spec, as the runner does it */
        for (int i = 0; i < s->n_methods; i++) {
            plan_spec sp;
            CHECK(plan_spec_init(&sp, s->methods[i].policy, &e));
            for (int j = 0; j < s->methods[i].n_params; j++)
                CHECK_MSG(plan_spec_set_real(&sp, s->methods[i].params[j].key, s->methods[i].params[j].v, &e),
                          "%s: %s", s->methods[i].name, e.msg);
            CHECK_MSG(plan_spec_check(&sp, &e), "%s: %s", s->methods[i].name, e.msg);
        }
    }
    suite_free(s);
}

/* Every swept value is checked where it is written: range, the policy
 * takes the key, no repeats, a window of at least one block, the size;
 * the former names are refused naming the new one. */
TEST(suite_load_sweep_errors)
{
#define M "name: t\nmodel: m\nmethods:\n  - "
#define T "\ntasks: [{type: niah, contexts: [512]}]\n"
    EXPECT(M "{policy: topp-oracle, sweep: {p: [0.5, 0]}}" T, 4, 44, "p 0 is out of range (0, 1]");
    EXPECT(M "{policy: duo, params: {plan: h}, sweep: {rho: [1.5]}}" T, 4, 52, "'rho' is 1.5, out of range [0, 1]");
    EXPECT(M "{policy: streaming, sweep: {window: [64, 2.5]}}" T, 4, 46, "window 2.5 is not an integer");
    EXPECT(M "{policy: streaming, sweep: {sink: [1e300]}}" T, 4, 40, "sink 1e+300 is out of range [0, ");
    EXPECT(M "{policy: streaming, sweep: {rho: [0.1]}}" T, 4, 33, "'rho' does not apply to policy streaming");
    EXPECT(M "{policy: streaming, sweep: {p: [0.5]}}" T, 4, 33, "cannot sweep 'p': streaming has no parameter 'p'");
    EXPECT(M "{policy: quest, sweep: {block: [8]}}" T, 4, 29, "cannot sweep 'block': quest has no parameter 'block'");
    EXPECT(M "{policy: streaming, sweep: {sinks: [0]}}" T, 4, 33, "'sinks' is now 'sink' (the names of --policy)");
    EXPECT(M "{policy: quest, sweep: {top_k: [4]}}" T, 4, 29, "'top_k' is now 'k'");
    EXPECT(M "{policy: rtpurbo, params: {plan: h}, sweep: {rank: [4]}}" T, 4, 50, "'rank' is now 'r'");
    EXPECT(M "{policy: rtpurbo, params: {block: 64}, sweep: {window: [256, 48]}}" T, 4, 66,
           "'window' is 48, below the block size 64");
    EXPECT(M "{policy: rtpurbo, params: {window: 128}, sweep: {block: [64, 256]}}" T, 4, 66,
           "'window' is 128, below the block size 256");
    EXPECT(M "{policy: topp-oracle, sweep: {p: [0.5, 0.5]}}" T, 4, 44, "'p' lists 0.5 twice (first at column 39)");
    EXPECT(M "{policy: topp-oracle, sweep: {p: []}}" T, 4, 38, "'p' is an empty list");
    EXPECT(M "{policy: topp-oracle, sweep: {p: 0.5}}" T, 4, 38, "'p' must be a list");
    EXPECT(M "{policy: topp-oracle, sweep: {pp: [0.5]}}" T, 4, 35, "unknown key 'pp' in a sweep (did you mean 'p'?)");
    EXPECT(M "{policy: topp-oracle, sweep: {plan: [a]}}" T, 4, 35, "unknown key 'plan' in a sweep");
    EXPECT(M "{policy: rtpurbo, params: {plan: h}, sweep: {p: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],"
             " kmin: [1, 2, 3, 4, 5, 6, 7, 8, 9]}}" T, 4, 49, "more than 64 points");
    EXPECT(M "{name: a1234567890123456789012345678901234567890123456789012345678901, policy: rtpurbo,"
             " params: {plan: h}, sweep: {window: [1000000, 2000000], sink: [1000000], kmin: [1000000],"
             " calib: [1000000], r: [4000], p: [0.123456], block: [65536]}}" T, 4, 119, "more than 127");
    EXPECT(M "{name: a, policy: topp-oracle, sweep: {p: [0.5]}}\n  - {name: a@p=0.5, policy: dense}" T, 5, 12,
           "'name' must be 1-64 characters");
#undef M
#undef T
}

/* The GPU long suite: every task at 2K, 4K and 8K with at least 20 cases
 * per (task, length); dense, duo, streaming, topp-oracle and rtpurbo on the
 * converted plan at a window below every length (local heads sparse), and
 * sweeps whose points are methods of their own. (Its prompts fit: the
 * generator's check, tests/test_suite_gen.c.) */
TEST(suite_load_long_suite)
{
    pb_err e;
    suite *s = suite_load("suites/long.yaml", &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(s->backend == BACKEND_CUDA);
    int seen[TASK_N_TYPES] = {0};
    for (int i = 0; i < s->n_tasks; i++) {
        const suite_task *t = &s->tasks[i];
        seen[t->type]++;
        int per = t->samples * (t->n_depths ? t->n_depths : 1);
        CHECK_MSG(per >= 20, "task %s: %d cases per length", t->name, per);
        CHECK_MSG(t->n_contexts == 3 && t->contexts[0] == 2048 && t->contexts[1] == 4096 && t->contexts[2] == 8192,
                  "task %s: contexts", t->name);
    }
    for (int t = 0; t < TASK_THROUGHPUT; t++) CHECK_MSG(seen[t] == 1, "long.yaml lacks %s", task_type_name(t));
    const char *policies[] = {"dense", "duo", "streaming", "topp-oracle", "rtpurbo"};
    for (int k = 0; k < 5; k++) {
        int found = 0;
        for (int i = 0; i < s->n_methods; i++) found |= !strcmp(s->methods[i].policy, policies[k]);
        CHECK_MSG(found, "long.yaml has no %s method", policies[k]);
    }
    int trained = 0, points = 0;
    for (int i = 0; i < s->n_methods; i++) {
        const suite_method *m = &s->methods[i];
        points += strchr(m->name, '@') != NULL;
        if (!strcmp(m->policy, "rtpurbo") && m->plan && strstr(m->plan, ".purbo")) {
            trained++;
            int w = (int)suite_method_param(m, "window", -1);
            CHECK_MSG(w > 0 && w < 2048, "%s: window %d leaves 2K prompts' local heads dense", m->name, w);
        }
    }
    CHECK(trained >= 2 && points >= 3);
    suite_free(s);
}

/* The GPU target run of the converter (suites/long-conv.yaml): 2K/4K/8K with
 * 20 cases per task and length, dense, the top-p oracle, rtpurbo with the
 * committed plan, which reads for the bundled model, is the need rule's
 * (most heads retrieval, the rest local at a window below 2K) and runs at its
 * own window, then duo and streaming from the same plan. */
TEST(suite_load_long_conv_suite)
{
    pb_err e;
    suite *s = suite_load("suites/long-conv.yaml", &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(s->backend == BACKEND_CUDA);
    for (int i = 0; i < s->n_tasks; i++) {
        const suite_task *t = &s->tasks[i];
        int per = t->samples * (t->n_depths ? t->n_depths : 1);
        CHECK_MSG(per >= 20, "task %s: %d cases per length", t->name, per);
        CHECK_MSG(t->n_contexts == 3 && t->contexts[0] == 2048 && t->contexts[2] == 8192, "task %s", t->name);
    }
    CHECK(s->n_methods == 6 && !strcmp(s->methods[0].policy, "dense") &&
          !strcmp(s->methods[1].policy, "topp-oracle") && !strcmp(s->methods[2].policy, "rtpurbo") &&
          !strcmp(s->methods[3].policy, "rtpurbo") && !strcmp(s->methods[4].policy, "duo") &&
          !strcmp(s->methods[5].policy, "streaming"));
    for (int k = 4; k < 6; k++) CHECK(s->methods[k].plan && !strcmp(s->methods[k].plan, s->methods[2].plan));
    const suite_method *m = &s->methods[2];
    CHECK(m->plan && suite_method_param(m, "window", -1) < 0 && suite_method_param(m, "local", -1) < 0);
    CHECK(s->methods[3].plan && !strcmp(s->methods[3].plan, m->plan) &&
          suite_method_param(&s->methods[3], "local", -1) == 64);
    const model *mod = fixture_model();
    CHECK(mod);
    plan_file f;
    CHECK_MSG(plan_file_read(m->plan, mod, &f, &e), "%s", e.msg);
    int n = f.n_layer * f.n_head, n_retr = plan_file_n_retrieval(&f);
    CHECK_MSG(n_retr > n / 2 && n_retr < n && f.window >= 64 && f.window < 2048, "%d of %d retrieval, W %d", n_retr, n,
              f.window);
    plan_file_free(&f);
    suite_free(s);
}
