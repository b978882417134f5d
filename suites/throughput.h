/* throughput.h — the `throughput` task type: engine speed per (shape,
 * context length, phase), no prompt and no answer.
 *
 * A task's cases are shapes x contexts x phases, numbered shape-major
 * (index = (shape * n_contexts + context) * n_phases + phase); a task
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
 * spread of the timed ones (bench_stats). The session's density counts
 * cover the timed phase (decode: the steps only).
 */
#ifndef PURBO_THROUGHPUT_H
#define PURBO_THROUGHPUT_H

#include <stdint.h>

#include "run/forward.h"
#include "suites/suite.h"

enum { TP_PREFILL, TP_DECODE };

typedef struct {
    struct suite_shape shape; /* resolved: the model's when the task has none */
    int context;
    int phase;                /* TP_PREFILL or TP_DECODE */
    int tokens;               /* tokens timed per repeat: context or decode_tokens */
} tp_case;

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

/* Times the case on s (which holds at least context + decode tokens):
 * warmup untimed and `repeats` timed repetitions into t[0..repeats). The
 * method's policies must already be on s; the session is reset before each. */
void tp_time(session *s, const tp_case *c, int warmup, int repeats, uint64_t seed, double *t);

#endif
