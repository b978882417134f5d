/* runner.c — `purbo-bench run` (runner.h): validate a suite, then run every
 * selected (case, method) and commit each in its own transaction.
 *
 * Order: tasks in file order, each task's cases in grid order, and for each
 * case every selected method (the prompt is built once per case). A case
 * flows: gen_case (prompt + answers) -> method_session (a session of the
 * case's context with the method's plan, runner_method.h) -> generate_greedy
 * -> score_case -> one transaction.
 * Throughput cases time the engine instead (throughput.h) and land in bench
 * + suite_bench: the model level times the forward pass on the run's
 * backend; the attention level times one dense attention kernel alone,
 * ours (attn_time.h: the CUDA kernels, or their CPU twins on the CPU) and,
 * on the GPU, the peers' (peer.h) on the same cases.
 *
 * Backend: --backend, else the suite's. cuda runs every policy that
 * describes its rule (attention.h); a suite whose selected methods include
 * a plan cuda cannot run (plan_runs_on) on model tasks is refused on cuda,
 * and auto picks the CPU for it (one line says so); auto otherwise picks
 * cuda when a device is usable. On cuda,
 * CUPTI records the kernels of one extra, untimed repetition of every
 * throughput case (kernel_timings, linked to the case's bench row); with
 * --counters one more repetition runs under the Range Profiler (hw_metrics,
 * probes/counters_run.h) and the run ends with the roofline table.
 *
 * Interruption: SIGINT/SIGTERM set a flag; the case in progress is dropped
 * (never committed), the run is marked failed and runner_run returns 130.
 * The handler resets itself, so a second signal kills at once, which the
 * per-case transactions make as safe. A SIGKILL leaves the run 'running'
 * with every committed case intact; --resume continues either.
 */
#include "suites/runner.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "kernels/attn_time.h"
#include "suites/gen.h"
#include "run/generate.h"
#include "suites/peer.h"
#include "plots/plot_suite.h"
#include "suites/runner_db.h"
#include "suites/runner_layer.h"
#include "suites/runner_method.h"
#include "suites/runner_progress.h"
#include "policy/policy.h"
#include "suites/score.h"
#include "suites/runner_select.h"
#include "suites/shard.h"
#include "suites/throughput.h"

/* ---- interruption --------------------------------------------------------- */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = sig;
}

/* ---- the run -------------------------------------------------------------- */

typedef struct {
    const runner_opts *o;
    suite *s;
    model *mdl;
    tokenizer *tok;
    pb_db *db;
    int64_t run;
    unsigned char *task_on, *method_on; /* selected by --only / --methods */
    method_engine *me;                  /* [n_methods], prepared where selected */
    int stop_ids[2], n_stop;
    run_progress prog;
    int skipped, not_run;
    char *was_done;           /* a resumed run's finish time when it was done */
    int failed;               /* pairs that could not run (a peer, a shape): the run is marked failed */
    int on_cuda;                        /* the run's backend is cuda */
    backend *bk;                        /* cuda: the model's backend (NULL on the CPU: sessions own theirs) */
    tp_kernels kt;                      /* cuda: kernel timings (off after CUPTI refused once) */
    hwr hw;                             /* --counters: hardware counters (off: hw.h NULL) */
    peer *peer;                         /* the peers' process, from the first peer case */
    int peer_failed;                    /* it would not start: peer cases are not run */
    int claim_fd;                       /* holds the run's claim (rdb_run_claim); -1: none */
    int *plan;                          /* --shard: each pair's shard (shard_plan); NULL: all pairs */
    unsigned char *split_task, *split_method; /* a resumed shard's selection when it differs; else NULL */
} R;

static int is_peer(const suite_method *m) { return strcmp(m->impl, "purbo") != 0; }

static int is_attention(const suite_task *t) { return t->type == TASK_THROUGHPUT && t->level == TP_LEVEL_ATTENTION; }
static int is_layer(const suite_task *t) { return t->type == TASK_THROUGHPUT && t->level == TP_LEVEL_LAYER; }
/* A kernel level (attention, layer): no model, shapes of its own. */
static int is_kernels(const suite_task *t) { return is_attention(t) || is_layer(t); }

/* Whether method m runs on task t: model tasks take our methods; the
 * attention level takes dense attention, ours and (on the GPU) the peers',
 * and on the GPU our rtpurbo as the sparse pipeline (attn_time.h). */
static int applies(const R *r, const suite_task *t, const suite_method *m)
{
    if (is_layer(t)) return r->on_cuda && rl_method_ok(m);
    if (!is_attention(t)) return !is_peer(m);
    if (!strcmp(m->policy, "rtpurbo")) return !is_peer(m) && r->on_cuda;
    return !strcmp(m->policy, "dense") && (!is_peer(m) || r->on_cuda);
}

/* Whether pair (task ti, case ci, method mi) is this invocation's: selected,
 * applicable, and in this shard. */
static int wanted(const R *r, int ti, int ci, int mi)
{
    const suite_task *t = &r->s->tasks[ti];
    return r->task_on[ti] && r->method_on[mi] && applies(r, t, &r->s->methods[mi]) &&
           (!is_layer(t) || rl_case_applies(t, ci, &r->s->methods[mi])) &&
           (!r->plan || r->plan[shard_pair(r->s, ti, ci, mi)] == r->o->shard_index);
}

/* --shard: the plan over the selected pairs that can run on some backend
 * (peers counted whether or not this machine has a GPU, so every shard
 * computes the same plan). A resumed shard keeps the selection it was split
 * over (split_*): a narrower --only / --methods then runs its part of this
 * shard's pairs, not a new split of the narrower selection, whose shard I
 * would overlap the other shards' pairs and leave some pairs to none. */
static void plan_shards(R *r)
{
    const suite *s = r->s;
    unsigned char *on = pb_calloc((size_t)shard_n_pairs(s) + 1, 1);
    for (int ti = 0, p = 0; ti < s->n_tasks; ti++)
        for (int ci = 0; ci < shard_n_cases(&s->tasks[ti]); ci++)
            for (int mi = 0; mi < s->n_methods; mi++, p++) {
                const suite_task *t = &s->tasks[ti];
                const suite_method *m = &s->methods[mi];
                on[p] = (r->split_task ? r->split_task : r->task_on)[ti] &&
                        (r->split_method ? r->split_method : r->method_on)[mi] &&
                        (is_layer(t)       ? rl_case_applies(t, ci, m)
                         : is_attention(t) ? !strcmp(m->policy, "dense")
                                           : !is_peer(m));
            }
    r->plan = shard_plan(s, on, r->o->shard_count, NULL);
    free(on);
}

/* The backend asked for: --backend, else the suite's (BACKEND_*). */
static int wanted_backend(const R *r)
{
    const char *o = r->o->backend;
    if (!o) return (int)r->s->backend;
    return !strcmp(o, "cpu") ? BACKEND_CPU : !strcmp(o, "cuda") ? BACKEND_CUDA : BACKEND_AUTO;
}

/* Before the model loads: cuda when asked for (0 + err without a device) or,
 * with auto, when a device is usable (r->on_cuda). settle_backend may still
 * take the CPU once the methods' plans are built. */
static int pick_device(R *r, pb_err *err)
{
    int want = wanted_backend(r);
    char why[256];
    if (want == BACKEND_CPU) return 1;
    if (!backend_cuda_available(why, sizeof why))
        return want == BACKEND_CUDA ? pb_errf(err, r->s->file, -1, "backend cuda: %s", why) : 1;
    r->on_cuda = 1;
    return 1;
}

/* With the methods' plans built: on cuda, every selected method of ours on
 * model tasks must run there (plan_runs_on, the check generate and passkey
 * use too). cuda asked for: 0 + err naming the first that cannot; auto: the
 * CPU for the run, one line saying why. */
static int settle_backend(R *r, int model_tasks, pb_err *err)
{
    const suite *s = r->s;
    for (int i = 0; r->on_cuda && model_tasks && i < s->n_methods; i++) {
        const suite_method *m = &s->methods[i];
        pb_err why;
        if (!r->method_on[i] || is_peer(m) || plan_runs_on(&r->me[i].pl, "cuda", &why)) continue;
        if (wanted_backend(r) == BACKEND_CUDA) {
            char where[400];
            snprintf(where, sizeof where, "%s:%d:%d", s->file, m->line, m->col);
            return pb_errf(err, where, -1, "method '%s': %s; run it with --backend cpu, or leave it out with --methods",
                           m->name, why.msg);
        }
        fprintf(stderr, "backend auto: cpu, since method '%s' (policy %s) has no CUDA implementation\n", m->name,
                m->policy);
        r->on_cuda = 0;
    }
    return 1;
}

/* The suite's `model:` path: as written when it exists (relative to the
 * working directory), else relative to the suite file's folder; neither:
 * 0 + *err naming both places. */
static int resolve_model(suite *s, pb_err *err)
{
    if (s->model[0] == '/' || access(s->model, F_OK) == 0) return 1;
    const char *slash = strrchr(s->file, '/');
    int dir_len = slash ? (int)(slash - s->file) : 1;
    const char *dir = slash ? s->file : ".";
    size_t n = (size_t)dir_len + strlen(s->model) + 2;
    char *alt = pb_malloc(n);
    snprintf(alt, n, "%.*s/%s", dir_len, dir, s->model);
    if (access(alt, F_OK) == 0) {
        free(s->model);
        s->model = alt;
        return 1;
    }
    pb_errf(err, s->file, -1, "model '%s' not found, neither from the working directory nor as %s", s->model, alt);
    free(alt);
    return 0;
}

/* One line per selected peer method when the run is on the CPU. */
static void note_cpu_peers(const R *r)
{
    for (int i = 0; i < r->s->n_methods; i++)
        if (r->method_on[i] && is_peer(&r->s->methods[i]) && !r->on_cuda)
            fprintf(stderr, "method '%s' (%s) times on the GPU only: not run on the CPU\n", r->s->methods[i].name,
                    r->s->methods[i].impl);
}

/* Everything that can be wrong with the input, before anything runs. */
static int validate(R *r, pb_err *err)
{
    const runner_opts *o = r->o;
    suite *s = r->s = suite_load(o->suite_path, err);
    if (!s) return 0;
    if (o->model) {
        free(s->model);
        s->model = strdup(o->model);
        PB_CHECK(s->model, "out of memory");
    }
    run_select sel;
    int ok = run_select_lists(s, s->file, NULL, o->only, o->methods, &sel, err);
    r->task_on = sel.task;
    r->method_on = sel.method;
    if (!ok) return 0;
    /* model tasks need the model; so does an attention level without shapes (the model's) */
    int model_tasks = 0, need_model = 0;
    for (int i = 0; i < s->n_tasks; i++)
        if (r->task_on[i]) {
            model_tasks |= !is_kernels(&s->tasks[i]);
            need_model |= !is_kernels(&s->tasks[i]) || !s->tasks[i].n_shapes;
        }
    if (!pick_device(r, err)) return 0;
    r->me = pb_calloc((size_t)s->n_methods, sizeof *r->me);
    if (!need_model) {
        note_cpu_peers(r);
        return 1;
    }
    if (!r->o->model && !resolve_model(s, err)) return 0;
    if (!(r->mdl = model_load(s->model, err))) return 0;
    if (!(r->tok = tok_from_gguf(r->mdl->file, err))) return 0;
    for (int i = 0; i < s->n_methods; i++)
        if (r->method_on[i] && !is_peer(&s->methods[i]) && !method_prepare(s, &s->methods[i], r->mdl, &r->me[i], err))
            return 0;
    if (!settle_backend(r, model_tasks, err)) return 0;
    note_cpu_peers(r);
    for (int i = 0; i < s->n_methods; i++)
        if (r->method_on[i] && !is_peer(&s->methods[i]) && !method_indexers(&r->me[i], r->mdl, r->tok, err))
            return 0;
    for (int i = 0; i < s->n_tasks; i++) {
        const suite_task *t = &s->tasks[i];
        for (int c = 0; r->task_on[i] && t->type != TASK_THROUGHPUT && c < t->n_contexts; c++)
            if (t->contexts[c] > r->mdl->cfg.n_ctx_train) {
                char where[400];
                snprintf(where, sizeof where, "%s:%d:%d", s->file, t->line, t->col);
                return pb_errf(err, where, -1, "task '%s': context %d exceeds the model's context %d", t->name,
                               t->contexts[c], r->mdl->cfg.n_ctx_train);
            }
    }
    if (!gen_check(s, r->tok, err)) return 0;
    if (r->on_cuda && model_tasks) {
        char why[256];
        if (!(r->bk = backend_cuda_new(r->mdl, why, sizeof why)))
            return pb_errf(err, s->model, -1, "backend cuda: %s", why);
    }
    return 1;
}

/* The run's config: the suite file's text (as loaded) and the overrides
 * that change results. malloc'd canonical text. */
static char *run_config(const R *r)
{
    const char *kv[6] = {"suite_file", r->s->text};
    size_t np = 1;
    if (r->o->model) kv[2 * np] = "model", kv[2 * np + 1] = r->o->model, np++;
    if (r->o->backend) kv[2 * np] = "backend", kv[2 * np + 1] = r->o->backend, np++;
    return config_canonical(kv, np);
}

/* The run to write into (0 with *err filled when another process is running
 * it: two processes on one run would both write its pairs). */
static int64_t start_run(R *r, pb_err *err)
{
    char *config = run_config(r);
    char hash[17];
    config_hash(config, hash);
    int64_t run = r->o->resume ? rdb_run_by_hash(r->db, hash, r->o->shard_index, r->o->shard_count) : 0;
    char scope[600];
    run_select_scope(r->o->only, r->o->methods, scope, sizeof scope);
    char *rec = run && r->o->shard_count ? rdb_run_scope(r->db, run) : NULL;
    if (rec && strcmp(rec, scope)) {
        run_select now = {r->task_on, r->method_on}, split = {NULL, NULL};
        if (!run_select_recorded(r->s, r->o->db_path, run, r->o->shard_index, r->o->shard_count, rec, &now,
                                 r->o->only, r->o->methods, &split, err)) {
            run_select_free(&split);
            free(rec);
            free(config);
            return 0;
        }
        r->split_task = split.task;
        r->split_method = split.method;
        snprintf(scope, sizeof scope, "%s", rec);
    }
    free(rec);
    if (run && (r->claim_fd = rdb_run_claim(r->o->db_path, run)) < 0) {
        pb_errf(err, r->o->db_path, -1, "run %lld is being run by another process now; --resume it once that one ends",
                (long long)run);
        free(config);
        return 0;
    }
    if (run) {
        r->was_done = rdb_run_reopen(r->db, run);
        fprintf(stderr, "resuming run %lld (same config %s)\n", (long long)run, hash);
    } else {
        double load;
        int cores, hot = tp_loaded(&load, &cores), timed = 0;
        for (int i = 0; i < r->s->n_tasks; i++) timed |= r->task_on[i] && r->s->tasks[i].type == TASK_THROUGHPUT;
        if (hot && timed)
            fprintf(stderr, "warning: load average %.2f above the %d CPUs at start: throughput timings will be noisy\n",
                    load, cores);
        char notes[600];
        char shard[48] = "";
        if (r->o->shard_count) snprintf(shard, sizeof shard, "shard %d/%d; ", r->o->shard_index, r->o->shard_count);
        snprintf(notes, sizeof notes, "suite %s; %sonly %s; methods %s; load %.2f on %d CPUs at start", r->s->name,
                 shard, r->o->only ? r->o->only : "all", r->o->methods ? r->o->methods : "all", load, cores);
        char dev[256] = "cpu", rt[32] = "", drv[32] = "";
        if (r->on_cuda) {
            backend_cuda_device_name(dev, sizeof dev);
            backend_cuda_versions(rt, drv, sizeof rt);
        }
        run_meta meta = {.command = r->o->command ? r->o->command : "purbo-bench run", .device = dev,
                         .model_path = r->mdl ? r->s->model : NULL, .config = config, .has_seed = 1,
                         .seed = (int64_t)r->s->seed, .cuda_runtime = r->on_cuda ? rt : NULL,
                         .cuda_driver = r->on_cuda ? drv : NULL, .notes = notes};
        run = db_run_begin(r->db, &meta);
        r->claim_fd = rdb_run_claim(r->o->db_path, run); /* a new id: a --resume elsewhere can only follow */
        if (r->claim_fd < 0) {
            pb_errf(err, r->o->db_path, -1, "run %lld was claimed by another process as it started", (long long)run);
            free(config);
            return 0;
        }
        if (r->o->resume) fprintf(stderr, "no earlier run with config %s: starting run %lld\n", hash, (long long)run);
    }
    free(config);
    rdb_run_tag(r->db, run, r->o->shard_index, r->o->shard_count, scope);
    return run;
}

static int n_cases_of(const suite_task *t)
{
    return t->type == TASK_THROUGHPUT ? tp_n_cases(t) : gen_n_cases(t);
}

/* Pairs to run in this invocation (committed ones skipped). */
static int count_todo(R *r)
{
    int todo = 0;
    for (int ti = 0; ti < r->s->n_tasks; ti++) {
        const suite_task *t = &r->s->tasks[ti];
        for (int c = 0; r->task_on[ti] && c < n_cases_of(t); c++)
            for (int mi = 0; mi < r->s->n_methods; mi++) {
                if (!wanted(r, ti, c, mi)) continue;
                if (rdb_committed(r->db, r->run, t->name, r->s->methods[mi].name, c, t->type == TASK_THROUGHPUT))
                    r->skipped++;
                else todo++;
            }
    }
    return todo;
}

static int budget_left(R *r)
{
    return !(r->s->time_budget_s > 0 && pb_now() - r->prog.t0 >= r->s->time_budget_s);
}

/* The session's density counts summed over heads into *kept, *visible. */
static void density_counts(const session *s, long long *kept, long long *visible)
{
    int n = s->m->cfg.n_layer * s->m->cfg.n_head;
    attn_count *c = pb_calloc((size_t)n, sizeof *c);
    session_density(s, c);
    *kept = *visible = 0;
    for (int i = 0; i < n; i++) *kept += c[i].kept, *visible += c[i].visible;
    free(c);
}

/* generate_greedy's token callback: at the first token the prompt alone has
 * run, so the counts so far are the prefill's. */
typedef struct {
    const session *s;
    int seen;
    long long kept, visible;
} prefill_mark;

static void mark_prefill(void *user, int id)
{
    (void)id;
    prefill_mark *p = user;
    if (!p->seen++) density_counts(p->s, &p->kept, &p->visible);
}

/* One accuracy case with one method. 0 when interrupted (nothing stored). */
static int run_accuracy(R *r, int ti, const suite_case *c, int mi)
{
    const suite *s = r->s;
    const suite_task *t = &s->tasks[ti];
    const suite_method *m = &s->methods[mi];
    char what[200];
    if (c->depth >= 0)
        snprintf(what, sizeof what, "%s/%s ctx %d depth %g sample %d", t->name, m->name, c->context, c->depth,
                 c->sample);
    else snprintf(what, sizeof what, "%s/%s ctx %d sample %d", t->name, m->name, c->context, c->sample);
    prog_show(&r->prog, what, NULL);
    session *ses = method_session(&r->me[mi], r->mdl, r->bk, 1, c->context, c->n_ids, c->seed);
    int *out = pb_malloc((size_t)c->max_new * sizeof(int));
    gen_stats st;
    prefill_mark pm = {.s = ses};
    int n = generate_greedy(ses, c->ids, c->n_ids, c->max_new, r->stop_ids, r->n_stop, out, &st, mark_prefill, &pm);
    /* density by phase: the counts at the first token are the prefill's, the rest the decode's */
    long long kept, visible;
    density_counts(ses, &kept, &visible);
    if (!pm.seen) pm.kept = kept, pm.visible = visible; /* stopped at once: all of it was the prefill */
    double d_pre = pm.visible ? (double)pm.kept / (double)pm.visible : -1,
           d_dec = visible > pm.visible ? (double)(kept - pm.kept) / (double)(visible - pm.visible) : -1;
    char *pred = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < n; i++) len = tok_decode_append(r->tok, out[i], &pred, len, &cap);
    pred = pb_realloc(pred, len + 1);
    pred[len] = 0;
    free(out);
    double score = score_case(c->metric, pred, (const char *const *)c->answers, c->n_answers), density;
    int64_t kv;
    method_cost(ses, &density, &kv);
    session_free(ses);
    if (g_stop) {
        free(pred);
        return 0;
    }
    rdb_case row = {
        .run_id = r->run, .suite = s->name, .task = t->name, .task_type = task_type_name(t->type),
        .method = m->name, .policy = m->policy, .case_index = c->index, .context = c->context,
        .sample = c->sample, .max_new = c->max_new, .depth = c->depth, .seed = t->seed, .case_seed = c->seed,
        .prompt_hash = c->hash, .metric = metric_name(c->metric), .prediction = pred,
        .answers = (const char *const *)c->answers, .n_answers = c->n_answers, .score = score,
        .has_density = !!(s->metrics & SM_DENSITY), .density = density, .density_prefill = d_pre,
        .density_decode = d_dec,
        .has_time = !!(s->metrics & SM_TIME), .t_prefill = st.t_prefill, .t_decode = st.t_decode,
        .has_tokens = !!(s->metrics & SM_TOKENS), .prompt_tokens = c->n_ids, .n_gen = st.n_gen,
        .n_decode = st.n_decode, .kv_bytes = (s->metrics & SM_KV_BYTES) ? kv : -1,
        .pair = shard_pair(s, ti, c->index, mi),
    };
    db_case_begin(r->db);
    rdb_case_add(r->db, &row);
    db_case_commit(r->db);
    r->prog.done++;
    char res[160];
    snprintf(res, sizeof res, "score %.2f  prefill %d tok %.2f s  decode %d tok %.2f s", score, c->n_ids,
             st.t_prefill, st.n_gen, st.t_decode);
    prog_show(&r->prog, what, res);
    free(pred);
    return 1;
}

static int run_accuracy_task(R *r, int ti)
{
    const suite_task *t = &r->s->tasks[ti];
    for (int ci = 0; ci < gen_n_cases(t); ci++) {
        int todo = 0;
        for (int mi = 0; mi < r->s->n_methods; mi++)
            todo += wanted(r, ti, ci, mi) &&
                    !rdb_committed(r->db, r->run, t->name, r->s->methods[mi].name, ci, 0);
        if (todo && (g_stop || !budget_left(r))) r->not_run += todo; /* not even built */
        if (!todo || g_stop || !budget_left(r)) continue;
        suite_case c;
        pb_err err;
        /* gen_check built the first case of each context; a later one failing is a runtime error */
        if (!gen_case(r->s, ti, ci, r->tok, &c, &err)) pb_die_runtime(__FILE__, __LINE__, "%s", err.msg);
        for (int mi = 0; mi < r->s->n_methods; mi++) {
            if (!wanted(r, ti, ci, mi) || rdb_committed(r->db, r->run, t->name, r->s->methods[mi].name, ci, 0))
                continue;
            if (g_stop || !budget_left(r)) { r->not_run++; continue; }
            if (!run_accuracy(r, ti, &c, mi)) r->not_run++;
        }
        gen_case_free(&c);
    }
    return !g_stop;
}

/* One model-level throughput case with one method on model mdl (on backend
 * b, or the CPU when NULL). */
static int run_throughput(R *r, int ti, int ci, const tp_case *tc, int mi, const model *m_used, backend *b,
                          int weights_random)
{
    const suite *su = r->s;
    const suite_task *t = &su->tasks[ti];
    const suite_method *m = &su->methods[mi];
    char what[200];
    snprintf(what, sizeof what, "%s/%s %d/%d/%d/%d ctx %d %s", t->name, m->name, tc->shape.layers, tc->shape.heads,
             tc->shape.kv_heads, tc->shape.head_dim, tc->context, tc->phase == TP_PREFILL ? "prefill" : "decode");
    prog_show(&r->prog, what, NULL);
    double *tm = pb_malloc((size_t)t->max_repeats * sizeof *tm);
    int n_ctx = tc->context + (tc->phase == TP_DECODE ? tc->tokens : 0);
    session *s = method_session(&r->me[mi], m_used, b, !weights_random, n_ctx, tc->context, t->seed);
    int *ids = tp_ids(tc, m_used->cfg.n_vocab, t->seed ^ (uint64_t)ci);
    tp_stop stop = {.warmup = t->warmup, .repeats = t->repeats, .max_repeats = t->max_repeats,
                    .target_spread = t->target_spread, .max_seconds = t->max_seconds};
    int n_rep = tp_time_until(s, tc, ids, &stop, tm);
    double density;
    int64_t kv;
    method_cost(s, &density, &kv);
    if (g_stop) {
        session_free(s);
        free(ids);
        free(tm);
        return 0;
    }
    char notes[300];
    snprintf(notes, sizeof notes, "suite %s task %s method %s weights %s", su->name, t->name, m->name,
             weights_random ? "random" : "model");
    bench_row row;
    tp_bench_row(tc, tm, n_rep, r->run, "forward", &row);
    row.notes = notes;
    db_case_begin(r->db);
    int64_t id = db_bench_add(r->db, &row);
    rdb_bench_link(r->db, id, r->run, su->name, t->name, m->name, m->policy, ci, weights_random ? "random" : "model",
                   !!(su->metrics & SM_DENSITY), density, (su->metrics & SM_KV_BYTES) ? kv : -1,
                   shard_pair(su, ti, ci, mi));
    tp_once once = {s, tc, ids};
    if (b) tp_trace_kernels(&r->kt, id, what, tp_once_fn, &once);
    db_case_commit(r->db);
    session_free(s);
    free(ids);
    r->prog.done++;
    char res[160];
    snprintf(res, sizeof res, "%.1f tok/s (median %.2f ms, p10..p90 %.2f..%.2f)", row.throughput, 1e3 * row.t_median,
             1e3 * row.t_p10, 1e3 * row.t_p90);
    prog_show(&r->prog, what, res);
    free(tm);
    return 1;
}

static void attn_once_fn(void *a) { attn_timer_once(a); }

/* One attention-level case with one method: ours (the CUDA kernel, or the
 * CPU twin) or a peer's. A case that cannot run (out of memory, a shape the
 * kernel does not take, a peer refusing) stores nothing and says why. */
static int run_attention(R *r, int ti, int ci, const tp_case *tc, int mi)
{
    const suite *su = r->s;
    const suite_task *t = &su->tasks[ti];
    const suite_method *m = &su->methods[mi];
    attn_time_case ac = {.phase = tc->phase == TP_PREFILL ? ATTN_TIME_PREFILL : ATTN_TIME_DECODE,
                         .n_ctx = tc->context, .n_head = tc->shape.heads, .n_kv_head = tc->shape.kv_heads,
                         .d = tc->shape.head_dim, .sparse = !strcmp(m->policy, "rtpurbo"),
                         .p = suite_method_param(m, "p", 0.9), .sink = (int)suite_method_param(m, "sink", 4),
                         .local = (int)suite_method_param(m, "window", 64)};
    char what[200], why[300] = "", gqa[16] = "native";
    snprintf(what, sizeof what, "%s/%s %d/%d/%d ctx %d %s", t->name, m->name, ac.n_head, ac.n_kv_head, ac.d, ac.n_ctx,
             tc->phase == TP_PREFILL ? "prefill" : "decode");
    prog_show(&r->prog, what, NULL);
    double *tm = pb_malloc((size_t)t->repeats * sizeof *tm);
    uint32_t seed = (uint32_t)(t->seed ^ (uint64_t)ci * 0x9e3779b97f4a7c15ull);
    attn_timer *timer = NULL;
    int ok;
    if (is_peer(m)) {
        ok = peer_get(&r->peer, &r->peer_failed) && peer_time(r->peer, m->impl, &ac, t->warmup, t->repeats, tm, gqa, sizeof gqa, why, sizeof why);
        if (!r->peer) snprintf(why, sizeof why, "the peers' process did not start");
    } else {
        ok = (timer = attn_timer_new(&ac, r->on_cuda, seed, why, sizeof why)) != NULL;
        if (ok) attn_timer_run(timer, t->warmup, t->repeats, tm);
    }
    if (g_stop || !ok) {
        if (!ok && !g_stop) {
            r->prog.done++;
            prog_show(&r->prog, what, why);
        }
        attn_timer_free(timer);
        free(tm);
        return 0;
    }
    char notes[400];
    snprintf(notes, sizeof notes, "suite %s task %s method %s; %s%s", su->name, t->name, m->name,
             is_peer(m) ? "gqa=" : ac.sparse ? "our sparse pipeline (attn_time.h; throughput: dense-equivalent work)" : r->on_cuda ? "our CUDA kernel" : "CPU twin (attn_ref.c)", is_peer(m) ? gqa : "");
    bench_row row = {.run_id = r->run, .bench = "attention", .impl = m->impl,
                     .phase = tc->phase == TP_PREFILL ? "prefill" : "decode", .n_layer = 1, .n_head = ac.n_head,
                     .n_kv_head = ac.n_kv_head, .head_dim = ac.d, .n_ctx = ac.n_ctx,
                     .n_tokens = ac.phase == ATTN_TIME_PREFILL ? ac.n_ctx : 1,
                     .throughput_unit = ac.phase == ATTN_TIME_PREFILL ? "TFLOP/s" : "GB/s", .notes = notes};
    bench_stats(tm, t->repeats, &row);
    row.throughput = attn_time_work(&ac) / row.t_median / (ac.phase == ATTN_TIME_PREFILL ? 1e12 : 1e9);
    db_case_begin(r->db);
    int64_t id = db_bench_add(r->db, &row);
    rdb_bench_link(r->db, id, r->run, su->name, t->name, m->name, m->policy, ci, "random",
                   !!(su->metrics & SM_DENSITY), timer ? attn_timer_density(timer) : 1.0, -1,
                   shard_pair(su, ti, ci, mi));
    if (timer && r->on_cuda) tp_trace_kernels(&r->kt, id, what, attn_once_fn, timer);
    db_case_commit(r->db);
    attn_timer_free(timer);
    r->prog.done++;
    char res[160];
    snprintf(res, sizeof res, "%.1f %s (median %.1f us, p10..p90 %.1f..%.1f)", row.throughput, row.throughput_unit,
             1e6 * row.t_median, 1e6 * row.t_p10, 1e6 * row.t_p90);
    prog_show(&r->prog, what, res);
    free(tm);
    return 1;
}

/* One layer-level case with one method (runner_layer.h). */
static int run_layer(R *r, int ti, int ci, const tp_case *tc, int mi)
{
    const suite_method *m = &r->s->methods[mi];
    char what[200], res[300] = "", why[300] = "";
    snprintf(what, sizeof what, "%s/%s %d/%d/%d ctx %d %s density %g", r->s->tasks[ti].name, m->name, tc->shape.heads,
             tc->shape.kv_heads, tc->shape.head_dim, tc->context, tc->phase == TP_PREFILL ? "prefill" : "decode",
             tc->density);
    prog_show(&r->prog, what, NULL);
    rl_ctx x = {.db = r->db, .run = r->run, .su = r->s, .t = &r->s->tasks[ti], .m = m, .ci = ci, .tc = tc,
                .pair = shard_pair(r->s, ti, ci, mi), .kt = &r->kt,
                .peer = is_peer(m) ? peer_get(&r->peer, &r->peer_failed) : NULL};
    int ok = rl_run(&x, res, sizeof res, why, sizeof why);
    if (g_stop) return 0;
    r->prog.done++;
    prog_show(&r->prog, what, ok ? res : why);
    return ok;
}

static int run_throughput_task(R *r, int ti)
{
    const suite_task *t = &r->s->tasks[ti];
    int max_ctx = 0;
    for (int i = 0; i < t->n_contexts; i++)
        if (t->contexts[i] > max_ctx) max_ctx = t->contexts[i];
    static const model_config none;
    model *rnd = NULL;   /* the random-weight model of the current shape */
    backend *rbk = NULL; /* its CUDA backend */
    struct suite_shape cur = {0, 0, 0, 0};
    for (int ci = 0; ci < tp_n_cases(t) && !g_stop; ci++) {
        tp_case tc;
        tp_case_get(t, r->mdl ? &r->mdl->cfg : &none, ci, &tc);
        int is_model = r->mdl && tp_shape_is_model(&tc.shape, &r->mdl->cfg);
        for (int mi = 0; mi < r->s->n_methods; mi++) {
            if (!wanted(r, ti, ci, mi) || rdb_committed(r->db, r->run, t->name, r->s->methods[mi].name, ci, 1))
                continue;
            if (g_stop || !budget_left(r)) { r->not_run++; continue; }
            if (is_kernels(t)) {
                if (!(is_layer(t) ? run_layer : run_attention)(r, ti, ci, &tc, mi)) {
                    if (g_stop) r->not_run++;
                    else r->failed++;
                }
                continue;
            }
            if (!is_model && (!rnd || memcmp(&cur, &tc.shape, sizeof cur))) {
                if (rbk) backend_close(rbk);
                model_free(rnd);
                rbk = NULL;
                cur = tc.shape;
                rnd = tp_random_model(&cur, max_ctx + t->decode_tokens, t->seed);
                if (r->on_cuda) {
                    char why[256];
                    rbk = backend_cuda_new(rnd, why, sizeof why);
                    PB_CHECK(rbk, "backend cuda on shape %d/%d/%d/%d: %s", cur.layers, cur.heads, cur.kv_heads,
                             cur.head_dim, why);
                }
            }
            if (!run_throughput(r, ti, ci, &tc, mi, is_model ? r->mdl : rnd, is_model ? r->bk : rbk, !is_model))
                r->not_run++;
        }
    }
    if (rbk) backend_close(rbk);
    model_free(rnd);
    return !g_stop;
}

static void free_r(R *r)
{
    for (int i = 0; r->me && i < r->s->n_methods; i++) method_release(&r->me[i]);
    free(r->me);
    peer_close(r->peer);
    hwc_close(r->hw.h); /* an interrupted run's counters */
    if (r->bk) backend_close(r->bk);
    tok_free(r->tok);
    model_free(r->mdl);
    if (r->db) db_close(r->db);
    if (r->claim_fd >= 0) close(r->claim_fd); /* after the database: see rdb_run_claim */
    free(r->task_on);
    free(r->method_on);
    free(r->split_task);
    free(r->split_method);
    free(r->plan);
    suite_free(r->s);
}

int runner_run(const runner_opts *o, int64_t *run_out, pb_err *err)
{
    R r = {.o = o, .claim_fd = -1};
    *run_out = 0;
    if (!validate(&r, err) || !(r.db = db_open(o->db_path, err)) || !(r.run = start_run(&r, err))) {
        free_r(&r);
        return 2;
    }
    *run_out = r.run;
    const suite *s = r.s;
    if (o->shard_count) plan_shards(&r);
    if (r.tok) {
        r.stop_ids[r.n_stop++] = tok_eos(r.tok);
        int im_end = tok_chat_stop(r.tok);
        if (im_end >= 0 && im_end != r.stop_ids[0]) r.stop_ids[r.n_stop++] = im_end;
    }
    r.kt = (tp_kernels){.db = r.db, .run = r.run, .on = r.on_cuda};
    if (o->counters && !r.on_cuda) fprintf(stderr, "counters off: the run is not on cuda\n");
    else if (o->counters && hwr_open(&r.hw, r.db, r.run)) r.kt.hw = &r.hw;
    int mode = o->progress;
    if (mode == RUNNER_PROGRESS_AUTO) mode = isatty(2) ? RUNNER_PROGRESS_BAR : RUNNER_PROGRESS_LINES;
    r.prog = (run_progress){.mode = mode, .total = count_todo(&r), .t0 = pb_now()};
    fprintf(stderr, "run %lld: suite %s, %d (case, method) pairs to run%s", (long long)r.run, s->name, r.prog.total,
            r.skipped ? "" : "\n");
    if (r.skipped) fprintf(stderr, ", %d already committed\n", r.skipped);

    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    for (int ti = 0; ti < s->n_tasks && !g_stop; ti++) {
        if (!r.task_on[ti]) continue;
        if (s->tasks[ti].type == TASK_THROUGHPUT) run_throughput_task(&r, ti);
        else run_accuracy_task(&r, ti);
    }
    int stopped = g_stop != 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    prog_end(&r.prog);

    if (r.was_done && !stopped && !r.failed && r.prog.done == 0)
        rdb_run_done_at(r.db, r.run, r.was_done); /* nothing ran: it finished when it finished */
    else db_run_end(r.db, r.run, stopped || r.failed ? RUN_FAILED : RUN_DONE);
    free(r.was_done);
    char el[32];
    pb_fmt_secs(el, sizeof el, pb_now() - r.prog.t0);
    if (stopped) {
        fprintf(stderr, "interrupted: run %lld keeps its %d committed pairs; `--resume` continues it\n",
                (long long)r.run, r.prog.done + r.skipped);
    } else {
        if (r.not_run && s->time_budget_s > 0)
            fprintf(stderr, "time budget of %g s reached: %d pairs not run\n", s->time_budget_s, r.not_run);
        if (r.failed)
            fprintf(stderr, "%d pair%s failed (each said why above): run %lld is marked failed\n", r.failed,
                    r.failed == 1 ? "" : "s", (long long)r.run);
        fprintf(stderr, "run %lld: %d pairs in %s; results in %s\n", (long long)r.run, r.prog.done, el, o->db_path);
        if (r.kt.hw) hwr_close(&r.hw, 0); /* the slowdown; runner_report prints the roofline table */
        runner_report(r.db, r.run, NULL, stdout);
        fflush(stdout);
        if (o->plots && plot_suite(r.db, r.run, o->plots, err) < 0) {
            free_r(&r);
            return 2;
        }
    }
    free_r(&r);
    return stopped ? RUNNER_INTERRUPTED : r.failed ? 1 : 0;
}
