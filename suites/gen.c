/* gen.c — the dispatcher of the task generators (gen.h): the case grid,
 * each case's seed, and the task-type table that hands a case to its
 * family (gen_niah.c, gen_vt.c, gen_cwe.c, gen_fwe.c, gen_passkey.c),
 * which build it with the toolkit (gen_impl.h).
 */
#include "suites/gen.h"

#include <limits.h>
#include <string.h>

#include "suites/gen_impl.h"

/* ---- the grid -------------------------------------------------------------- */

int gen_n_cases(const suite_task *t)
{
    if (t->type == TASK_THROUGHPUT) return 0;
    return t->n_contexts * (t->n_depths ? t->n_depths : 1) * t->samples;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    pb_rng r = {h ^ v};
    return rng_next(&r);
}

int gen_case(const suite *s, int ti, int index, const tokenizer *tok, suite_case *out, pb_err *err)
{
    const suite_task *t = &s->tasks[ti];
    memset(out, 0, sizeof *out);
    int nd = t->n_depths ? t->n_depths : 1;
    PB_CHECK(index >= 0 && index < gen_n_cases(t), "gen_case: case %d of task '%s' does not exist", index, t->name);
    int ci = index / (nd * t->samples), di = (index / t->samples) % nd;
    out->task = ti;
    out->index = index;
    out->context = t->contexts[ci];
    out->depth = t->n_depths ? t->depths[di] : -1;
    out->sample = index % t->samples;
    out->max_new = t->max_new;
    out->budget = out->context - t->max_new;
    uint64_t h = mix(t->seed, (uint64_t)t->type + 1);
    h = mix(h, (uint64_t)out->context);
    h = mix(h, (uint64_t)(out->depth < 0 ? 1000000 : (long long)(out->depth * 1000 + 0.5)));
    out->seed = mix(h, (uint64_t)out->sample);

    gen_job j = {.t = t, .tok = tok, .seed = out->seed, .context = out->context, .budget = out->budget,
                 .depth = out->depth, .system = t->system, .metric = METRIC_MATCH_ALL, .n_max = LONG_MAX / 4};
    int ok;
    switch (t->type) {
    case TASK_PASSKEY: ok = gen_passkey(&j, out, err); break;
    case TASK_NIAH: ok = gen_niah(&j, out, err); break;
    case TASK_VT: ok = gen_vt(&j, out, err); break;
    case TASK_CWE: ok = gen_cwe(&j, out, err); break;
    case TASK_FWE: ok = gen_fwe(&j, out, err); break;
    default: ok = gen_ruler_niah(&j, out, err); break;
    }
    out->metric = t->metric != METRIC_DEFAULT ? t->metric : j.metric;
    gen_job_free(&j);
    if (!ok) {
        char where[400];
        snprintf(where, sizeof where, "%s:%d:%d", s->file, t->line, t->col);
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        pb_errf(err, where, -1, "task '%s': %s", t->name, msg);
        gen_case_free(out);
        return 0;
    }
    return 1;
}

int gen_check(const suite *s, const tokenizer *tok, pb_err *err)
{
    for (int ti = 0; ti < s->n_tasks; ti++) {
        const suite_task *t = &s->tasks[ti];
        int per_ctx = gen_n_cases(t) / (t->n_contexts ? t->n_contexts : 1);
        for (int ci = 0; per_ctx && ci < t->n_contexts; ci++) {
            suite_case c;
            if (!gen_case(s, ti, ci * per_ctx, tok, &c, err)) return 0;
            gen_case_free(&c);
        }
    }
    return 1;
}
