/* runner_layer.c — runner_layer.h: a layer-level case with one method, its
 * bench, suite_bench and layer_bench rows and the CUPTI kernels of one
 * repetition (our methods). */
#include "suites/runner_layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/attn_time.h"
#include "kernels/layer_time.h"
#include "suites/runner_db.h"
#include "suites/shard.h"

static int is_peer(const suite_method *m) { return strcmp(m->impl, "purbo") != 0; }
static int is_rtpurbo(const suite_method *m) { return !strcmp(m->policy, "rtpurbo"); }

int rl_method_ok(const suite_method *m)
{
    if (is_rtpurbo(m)) return !strcmp(m->impl, "purbo") || !strcmp(m->impl, "flex");
    return !strcmp(m->policy, "dense") && strcmp(m->impl, "flex") != 0;
}

int rl_case_applies(const suite_task *t, int ci, const suite_method *m)
{
    static const model_config none;
    tp_case c;
    tp_case_get(t, &none, ci, &c);
    if (!rl_method_ok(m)) return 0;
    if (!is_rtpurbo(m) && c.density_index != 0) return 0;
    int max = tp_max_context(t, m->name);
    return !max || c.context <= max;
}

static layer_case case_of(const rl_ctx *x)
{
    const suite_method *m = x->m;
    const tp_case *tc = x->tc;
    return (layer_case){.phase = tc->phase == TP_PREFILL ? ATTN_TIME_PREFILL : ATTN_TIME_DECODE,
                        .n_ctx = tc->context, .n_head = tc->shape.heads, .n_kv_head = tc->shape.kv_heads,
                        .d = tc->shape.head_dim, .rho = suite_method_param(m, "rho", 0.15),
                        .p = suite_method_param(m, "p", 0.9), .sink = (int)suite_method_param(m, "sink", 4),
                        .window = (int)suite_method_param(m, "window", 8192),
                        .local = (int)suite_method_param(m, "local", 64), .kmin = (int)suite_method_param(m, "kmin", 4),
                        .density = tc->density, .needles = x->t->needles, .index_mean = x->t->index_mean};
}

static void layer_once_fn(void *a) { layer_timer_once(a); }
static void attn_once_fn(void *a) { attn_timer_once(a); }

static double median(double *t, int n)
{
    bench_row r = {0};
    bench_stats(t, n, &r);
    return r.t_median;
}

int rl_run(const rl_ctx *x, char *res, size_t res_len, char *why, size_t why_len)
{
    const double t0 = pb_now();
    const suite_task *t = x->t;
    const suite_method *m = x->m;
    const layer_case lc = case_of(x);
    const attn_time_case ac = {.phase = lc.phase, .n_ctx = lc.n_ctx, .n_head = lc.n_head, .n_kv_head = lc.n_kv_head,
                               .d = lc.d};
    uint32_t seed = (uint32_t)(t->seed ^ (uint64_t)x->ci * 0x9e3779b97f4a7c15ull);
    double *tm = pb_malloc((size_t)t->repeats * sizeof *tm);
    layer_timer *lt = NULL;
    attn_timer *at = NULL;
    char gqa[16] = "native";
    int ok = 1, needles = -1, found = 0;
    double stages[LAYER_N_STAGES] = {0}, density = -1;
    const char *index_kind = NULL, *local_kind = NULL;
    if (is_rtpurbo(m)) {
        ok = (lt = layer_timer_new(&lc, seed, why, why_len)) != NULL;
        if (ok) {
            density = layer_timer_density(lt);
            found = layer_timer_needles(lt, &needles);
            layer_timer_kinds(lt, &index_kind, &local_kind);
        }
    }
    if (ok && is_rtpurbo(m) && !is_peer(m)) {
        layer_timer_run(lt, t->warmup, t->repeats, tm);
        double *ts = pb_malloc((size_t)t->repeats * sizeof *ts);
        for (int s = 0; s < LAYER_N_STAGES; s++) {
            layer_timer_stage(lt, s, t->repeats, ts);
            stages[s] = median(ts, t->repeats);
        }
        free(ts);
    } else if (ok && is_rtpurbo(m)) {
        char path[256];
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/purbo-layer-lists-%d.bin", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        ok = x->peer && layer_timer_write_lists(lt, path, why, why_len) &&
             peer_time_lists(x->peer, m->impl, &ac, path, t->warmup, t->repeats, tm, gqa, sizeof gqa, why, why_len);
        if (!x->peer) snprintf(why, why_len, "the peers' process did not start");
        unlink(path);
    } else if (is_peer(m)) {
        ok = x->peer && peer_time(x->peer, m->impl, &ac, t->warmup, t->repeats, tm, gqa, sizeof gqa, why, why_len);
        if (!x->peer) snprintf(why, why_len, "the peers' process did not start");
    } else {
        ok = (at = attn_timer_new(&ac, 1, seed, why, why_len)) != NULL;
        if (ok) attn_timer_run(at, t->warmup, t->repeats, tm);
    }
    if (!ok) {
        layer_timer_free(lt);
        attn_timer_free(at);
        free(tm);
        return 0;
    }
    const suite *su = x->su;
    const int prefill = lc.phase == ATTN_TIME_PREFILL;
    char notes[400];
    snprintf(notes, sizeof notes, "suite %s task %s method %s; %s%s", su->name, t->name, m->name,
             !is_rtpurbo(m) ? (is_peer(m) ? "dense peer, gqa=" : "our dense kernel, every head")
             : is_peer(m)   ? "flex on the layer's block lists, gqa="
                            : "the RTPurbo layer (layer_time.h)",
             is_peer(m) ? gqa : "");
    bench_row row = {.run_id = x->run, .bench = "layer", .impl = m->impl, .phase = prefill ? "prefill" : "decode",
                     .n_layer = 1, .n_head = lc.n_head, .n_kv_head = lc.n_kv_head, .head_dim = lc.d,
                     .n_ctx = lc.n_ctx, .n_tokens = prefill ? lc.n_ctx : 1, .throughput_unit = "tok/s",
                     .notes = notes};
    bench_stats(tm, t->repeats, &row);
    row.throughput = row.n_tokens / row.t_median;
    layer_split sp;
    layer_split_heads(&lc, &sp);
    int64_t dense_kv, kv = layer_kv_bytes(&lc, &dense_kv);
    db_case_begin(x->db);
    int64_t id = db_bench_add(x->db, &row);
    rdb_bench_link(x->db, id, x->run, su->name, t->name, m->name, m->policy, x->ci, "random", density >= 0, density,
                   is_rtpurbo(m) ? kv : dense_kv, x->pair);
    const int dd = x->tc->density_index;
    rdb_layer l = {.bench_id = id, .run = x->run, .density_target = lc.density,
                   .density_source = dd < t->n_densities ? "sweep" : t->demand_source, .density = density,
                   .rho = lc.rho, .p = lc.p, .ret_heads = sp.ret_heads, .loc_heads = sp.loc_heads, .sink = lc.sink,
                   .window = lc.window, .index_kind = index_kind, .local_kind = local_kind,
                   .has_stages = is_rtpurbo(m) && !is_peer(m), .needles = is_rtpurbo(m) ? needles : -1,
                   .needles_found = found, .kv_bytes = kv, .kv_bytes_dense = dense_kv};
    memcpy(l.t_stage, stages, sizeof stages);
    rdb_layer_add(x->db, &l);
    char what[200];
    snprintf(what, sizeof what, "%s/%s %d/%d/%d ctx %d %s density %g", t->name, m->name, lc.n_head, lc.n_kv_head, lc.d,
             lc.n_ctx, row.phase, lc.density);
    if (lt && !is_peer(m)) tp_trace_kernels(x->kt, id, what, layer_once_fn, lt);
    if (at) tp_trace_kernels(x->kt, id, what, attn_once_fn, at);
    db_case_commit(x->db);
    snprintf(res, res_len, "median %.1f us; case %.1f s", 1e6 * row.t_median, pb_now() - t0);
    if (lt && !is_peer(m))
        snprintf(res, res_len, "median %.1f us (index %.1f, select %.1f, attend %.1f, local %.1f); density %.4f; "
                 "needles %d/%d; case %.1f s", 1e6 * row.t_median, 1e6 * stages[0], 1e6 * stages[1],
                 1e6 * stages[2], 1e6 * stages[3], density, found, needles, pb_now() - t0);
    layer_timer_free(lt);
    attn_timer_free(at);
    free(tm);
    return 1;
}
