/* throughput.c — cases, random-weight models, timing, bench rows and
 * kernel timings of the throughput task type (throughput.h); bench times
 * the engine through the same calls. */
#include "suites/throughput.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rng.h"
#include "probes/cupti.h"

static int n_phases(const suite_task *t)
{
    return (t->phases & 1) + ((t->phases >> 1) & 1);
}

int tp_n_densities(const suite_task *t)
{
    if (t->level != TP_LEVEL_LAYER) return 1;
    return t->n_densities + (t->demand > 0);
}

int tp_max_context(const suite_task *t, const char *method)
{
    for (int i = 0; i < t->n_max_ctx; i++)
        if (!strcmp(t->max_ctx[i].method, method)) return t->max_ctx[i].max;
    return 0;
}

int tp_n_cases(const suite_task *t)
{
    if (t->type != TASK_THROUGHPUT) return 0;
    return (t->n_shapes ? t->n_shapes : 1) * t->n_contexts * tp_n_densities(t) * n_phases(t);
}

void tp_case_get(const suite_task *t, const model_config *mc, int index, tp_case *out)
{
    int np = n_phases(t);
    PB_CHECK(index >= 0 && index < tp_n_cases(t), "throughput case %d of task '%s' does not exist", index, t->name);
    int nd = tp_n_densities(t);
    int ph = index % np, di = (index / np) % nd, ci = (index / (np * nd)) % t->n_contexts,
        si = index / (np * nd * t->n_contexts);
    out->density_index = t->level == TP_LEVEL_LAYER ? di : 0;
    out->density = t->level != TP_LEVEL_LAYER ? 0 : di < t->n_densities ? t->densities[di] : t->demand;
    if (t->n_shapes) out->shape = t->shapes[si];
    else out->shape = (struct suite_shape){mc->n_layer, mc->n_head, mc->n_head_kv, mc->head_dim};
    out->context = t->contexts[ci];
    /* the phases present, in the order prefill, decode */
    out->phase = np == 2 ? ph : ((t->phases & 1) ? TP_PREFILL : TP_DECODE);
    out->tokens = out->phase == TP_PREFILL ? out->context : t->decode_tokens;
}

int tp_shape_is_model(const struct suite_shape *sh, const model_config *mc)
{
    return sh->layers == mc->n_layer && sh->heads == mc->n_head && sh->kv_heads == mc->n_head_kv &&
           sh->head_dim == mc->head_dim && mc->n_embd == mc->n_head * mc->head_dim;
}

/* n floats uniform in [-scale, scale) */
static float *rand_mat(pb_rng *r, size_t n, float scale, size_t *n_params)
{
    float *w = pb_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) w[i] = scale * (float)(2.0 * rng_unit(r) - 1.0);
    *n_params += n;
    return w;
}

static float *ones(size_t n, size_t *n_params)
{
    float *w = pb_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) w[i] = 1.0f;
    *n_params += n;
    return w;
}

model *tp_random_model(const struct suite_shape *sh, int n_ctx, uint64_t seed)
{
    model *m = pb_calloc(1, sizeof *m);
    model_config *c = &m->cfg;
    snprintf(c->arch_name, sizeof c->arch_name, "llama");
    c->n_layer = sh->layers;
    c->n_head = sh->heads;
    c->n_head_kv = sh->kv_heads;
    c->head_dim = sh->head_dim;
    c->n_embd = sh->heads * sh->head_dim;
    c->n_ff = (c->n_embd * 8 / 3 + 63) / 64 * 64;
    c->n_vocab = TP_RANDOM_VOCAB;
    c->n_ctx_train = n_ctx;
    c->rope_dim = c->head_dim;
    c->rope_base = 10000.0f;
    c->rms_eps = 1e-5f;
    const size_t E = (size_t)c->n_embd, Q = (size_t)c->n_head * c->head_dim,
                 KV = (size_t)c->n_head_kv * c->head_dim, F = (size_t)c->n_ff;
    const float se = 1.0f / sqrtf((float)E), sq = 1.0f / sqrtf((float)Q), sf = 1.0f / sqrtf((float)F);
    pb_rng r = {seed};
    m->tok_embd = rand_mat(&r, (size_t)c->n_vocab * E, 1.0f, &m->n_params);
    m->out_norm = ones(E, &m->n_params);
    m->output = m->tok_embd;
    m->tied_output = 1;
    m->layers = pb_calloc((size_t)c->n_layer, sizeof *m->layers);
    for (int l = 0; l < c->n_layer; l++) {
        layer_weights *w = &m->layers[l];
        w->attn_norm = ones(E, &m->n_params);
        w->wq = rand_mat(&r, Q * E, se, &m->n_params);
        w->wk = rand_mat(&r, KV * E, se, &m->n_params);
        w->wv = rand_mat(&r, KV * E, se, &m->n_params);
        w->wo = rand_mat(&r, E * Q, sq, &m->n_params);
        w->ffn_norm = ones(E, &m->n_params);
        w->w_gate = rand_mat(&r, F * E, se, &m->n_params);
        w->w_up = rand_mat(&r, F * E, se, &m->n_params);
        w->w_down = rand_mat(&r, E * F, sf, &m->n_params);
    }
    return m;
}

int *tp_ids(const tp_case *c, int n_vocab, uint64_t seed)
{
    int n_ids = c->context + (c->phase == TP_DECODE ? c->tokens : 0);
    int *ids = pb_malloc((size_t)n_ids * sizeof(int));
    pb_rng r = {seed};
    for (int i = 0; i < n_ids; i++) ids[i] = (int)rng_below(&r, (uint64_t)n_vocab);
    return ids;
}

void tp_time(session *s, const tp_case *c, const int *ids, int warmup, int repeats, double *t)
{
    int n_ids = c->context + (c->phase == TP_DECODE ? c->tokens : 0);
    PB_CHECK(n_ids <= s->n_ctx, "throughput case needs %d positions, the session holds %d", n_ids, s->n_ctx);
    float *logits = pb_malloc((size_t)s->m->cfg.n_vocab * sizeof(float));
    for (int k = 0; k < warmup + repeats; k++) {
        session_reset(s);
        double t0 = pb_now();
        session_eval(s, ids, c->context, logits, 1);
        if (c->phase == TP_DECODE) {
            session_density_reset(s); /* the decode steps' density, not the prefill's */
            t0 = pb_now();
            for (int i = 0; i < c->tokens; i++) session_eval(s, &ids[c->context + i], 1, logits, 1);
        }
        double dt = pb_now() - t0;
        if (k >= warmup) t[k - warmup] = dt;
    }
    free(logits);
}

int tp_load_above(const char *loadavg, int cores, double *load)
{
    char *end;
    *load = loadavg ? strtod(loadavg, &end) : 0;
    if (!loadavg || end == loadavg) return *load = 0, 0;
    return *load > cores;
}

int tp_loaded(double *load, int *cores)
{
    char buf[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        fclose(f);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    *cores = n > 0 ? (int)n : 1;
    return tp_load_above(buf, *cores, load);
}

double tp_spread(const double *t, int n)
{
    bench_row r = {0};
    bench_stats(t, n, &r);
    return r.t_median > 0 ? (r.t_p90 - r.t_p10) / r.t_median : 0;
}

int tp_time_until(session *s, const tp_case *c, const int *ids, const tp_stop *stop, double *t)
{
    double t0 = pb_now();
    tp_time(s, c, ids, stop->warmup, stop->repeats, t);
    int n = stop->repeats;
    while (stop->target_spread > 0 && n < stop->max_repeats && tp_spread(t, n) > stop->target_spread &&
           !(stop->max_seconds > 0 && pb_now() - t0 >= stop->max_seconds)) {
        tp_time(s, c, ids, 0, 1, &t[n]);
        n++;
    }
    return n;
}

void tp_bench_row(const tp_case *c, const double *t, int n, int64_t run, const char *bench, bench_row *r)
{
    *r = (bench_row){.run_id = run, .bench = bench, .impl = "purbo",
                     .phase = c->phase == TP_PREFILL ? "prefill" : "decode", .n_layer = c->shape.layers,
                     .n_head = c->shape.heads, .n_kv_head = c->shape.kv_heads, .head_dim = c->shape.head_dim,
                     .n_ctx = c->context, .n_tokens = c->tokens, .throughput_unit = "tok/s"};
    bench_stats(t, n, r);
    r->throughput = c->tokens / r->t_median;
}

int tp_trace_kernels(tp_kernels *k, int64_t bench_id, const char *case_name, void (*fn)(void *), void *arg)
{
    char why[256];
    if (!k->on) return -1;
    if (!cupti_begin(why, sizeof why)) {
        fprintf(stderr, "kernel timings off: %s\n", why);
        k->on = 0;
        return -1;
    }
    double t0 = pb_now();
    fn(arg);
    int nk = 0;
    cupti_kernel *kern = cupti_end(&nk, NULL);
    double plain = pb_now() - t0;
    if (kern && k->db) cupti_store(k->db, k->run, bench_id, case_name, kern, nk);
    if (k->hw && k->hw->h) {
        const char **names = pb_malloc((size_t)(nk ? nk : 1) * sizeof *names);
        for (int i = 0; i < nk; i++) names[i] = kern[i].name;
        hwr_case(k->hw, bench_id, case_name, fn, arg, names, nk, plain);
        free(names);
    }
    cupti_kernels_free(kern, nk);
    return nk;
}

void tp_once_fn(void *arg)
{
    tp_once *o = arg;
    double t;
    tp_time(o->s, o->c, o->ids, 0, 1, &t);
}
