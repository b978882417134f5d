/* throughput.h — the `throughput` task type: engine speed per (shape,
 * context length, phase), no prompt and no answer.
 *
 * A task's cases are shapes x contexts x densities x phases, numbered
 * shape-major (index = ((shape * n_contexts + context) * n_dens + density)
 * * n_phases + phase; n_dens is 1 except on level layer, where it is the
 * densities plus the demand when given, tp_n_densities); a task
 * without shapes has one, the model's. A shape that equals the model's
 * (layers, heads, kv heads, head dim) runs on the model itself; any other
 * on a llama model of that shape with seeded random weights (throughput does
 * not depend on the values). Inputs are seeded random token ids.
 *
 * Timing (wall clock, the caller applies the method to the session first):
 *   prefill: a fresh cache, `ctx` tokens in one session_eval with the last
 *            position's logits; one repeat = one prefill.
 *   decode:  a prefill of `ctx` tokens (not timed), then decode_tokens
 *            single-token steps; one repeat = those steps, so every repeat
 *            decodes from the same context length.
 * `warmup` untimed repeats come first; the caller stores the median and
 * spread of the timed ones (bench_stats, tp_bench_row). The session's
 * density counts cover the timed phase (decode: the steps only). The suite
 * feeds seeded random ids (tp_ids); `purbo-bench bench` feeds real text
 * through the same loop, so both time the engine the same way.
 *
 * Kernel timings (CUDA): tp_trace_kernels runs one more, untimed repetition
 * under CUPTI and stores its kernels next to the case's bench row, for the
 * suite and bench alike.
 */
#ifndef PURBO_THROUGHPUT_H
#define PURBO_THROUGHPUT_H

#include <stdint.h>

#include "probes/counters_run.h"
#include "results/db.h"
#include "run/forward.h"
#include "suites/suite.h"

enum { TP_PREFILL, TP_DECODE };

typedef struct {
    struct suite_shape shape; /* resolved: the model's when the task has none */
    int context;
    int phase;                /* TP_PREFILL or TP_DECODE */
    int tokens;               /* tokens timed per repeat: context or decode_tokens */
    int density_index;        /* level layer: index into the task's densities (n_densities: the demand); else 0 */
    double density;           /* level layer: the planted selected fraction; else 0 */
} tp_case;

/* The density points of a task: level layer, its densities plus the demand
 * when given; any other level 1 (no density dimension). */
int tp_n_densities(const suite_task *t);
/* The longest context method (by name) runs at in task t (its max_context
 * entry), or 0: no limit. */
int tp_max_context(const suite_task *t, const char *method);

int tp_n_cases(const suite_task *t);
/* Case `index` of task t; mc is the model's configuration (the default shape). */
void tp_case_get(const suite_task *t, const model_config *mc, int index, tp_case *out);
/* 1 if the shape is the model's own. */
int tp_shape_is_model(const struct suite_shape *sh, const model_config *mc);

/* Vocabulary of the random-weight models (only the logits matmul sees it). */
#define TP_RANDOM_VOCAB 8192
/* A llama model of shape sh (n_embd = heads * head_dim, n_ff = 8/3 n_embd
 * rounded up to a multiple of 64, tied output) with uniform random weights
 * of scale 1/sqrt(fan-in) from seed; norms are 1. Free with model_free. */
model *tp_random_model(const struct suite_shape *sh, int n_ctx, uint64_t seed);

/* The case's input: context + (decode: tokens) seeded random ids below
 * n_vocab, malloc'd. */
int *tp_ids(const tp_case *c, int n_vocab, uint64_t seed);

/* Times the case on s (which holds at least context + decode tokens) fed
 * ids (context + (decode: tokens) of them): warmup untimed and `repeats`
 * timed repetitions into t[0..repeats). The method's policies must already
 * be on s; the session is reset before each. */
void tp_time(session *s, const tp_case *c, const int *ids, int warmup, int repeats, double *t);

/* The machine's load at the start of a timed run: *load = the 1-minute
 * load average (first number of loadavg, the text of /proc/loadavg; 0
 * when unreadable). 1 when it is above cores (timings will be noisy). */
int tp_load_above(const char *loadavg, int cores, double *load);
/* The same read from /proc/loadavg, *cores the online CPUs. */
int tp_loaded(double *load, int *cores);

/* The relative spread of n >= 1 times: (p10..p90 width) / median, the
 * quantiles of bench_stats; 0 when the median is 0. */
double tp_spread(const double *t, int n);

/* The repeat rule of a task: `repeats` timed repeats after `warmup`; then,
 * while target_spread > 0 and the spread of the times so far is above it,
 * one more repeat at a time, until max_repeats or until max_seconds (> 0)
 * have passed since the first warm-up. */
typedef struct {
    int warmup, repeats, max_repeats;
    double target_spread, max_seconds;
} tp_stop;
/* tp_time under the rule; t holds max_repeats. Returns the number timed. */
int tp_time_until(session *s, const tp_case *c, const int *ids, const tp_stop *stop, double *t);

/* The bench row of a timed model-level case: impl purbo, phase, shape,
 * context, tokens per repeat, the statistics of t[0..n) and tokens/s at the
 * median. bench names the kind of row ("forward" from a suite,
 * "cpu-forward" / "cuda-forward" from `purbo-bench bench`). */
void tp_bench_row(const tp_case *c, const double *t, int n, int64_t run, const char *bench, bench_row *r);

/* Kernel timings of a run. on: record (the run is on CUDA); cleared for the
 * rest of the run, with one line on stderr saying why, when CUPTI refuses. */
typedef struct {
    pb_db *db;     /* where the kernels go; NULL: counted only */
    int64_t run;
    int on;
    hwr *hw;       /* hardware counters (run --counters), or NULL: none */
} tp_kernels;

/* Runs fn(arg) once, untimed, under CUPTI and stores its kernels as
 * kernel_timings rows of run k->run, linked to bench row bench_id and named
 * case_name, inside the caller's transaction. With counters on (k->hw
 * open) fn runs once more under the Range Profiler (hwr_case: hw_metrics
 * rows, the kernel names of this trace, the replay's cost against the
 * traced run's wall time). Returns how many kernels it recorded, or -1 when
 * kernel timing is off. */
int tp_trace_kernels(tp_kernels *k, int64_t bench_id, const char *case_name, void (*fn)(void *), void *arg);

/* One untimed repetition of a model-level case (tp_time with one repeat),
 * as fn for tp_trace_kernels: arg is a tp_once. */
typedef struct {
    session *s;
    const tp_case *c;
    const int *ids;
} tp_once;
void tp_once_fn(void *arg);

#endif
