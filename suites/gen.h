/* gen.h — turns a suite task into cases: prompt, expected answers, metric.
 *
 * A task's cases are the grid contexts x depths x samples (depths only for
 * passkey and niah), numbered context-major: case i has context index
 * i / (D * S), depth index (i / S) % D, sample i % S, where D = max(1,
 * n_depths) and S = samples. Each case is a pure function of (task seed,
 * type, context, depth, sample) and the task's parameters: the same inputs
 * give the same prompt on every machine (its hash says so).
 *
 * The prompt is what the runner feeds, already chat-templated:
 *     tok_chat_prompt(system, USER) + answer_prefix
 * (RULER's rule: the model's chat template around the task text, the answer
 * prefix appended after the assistant header, so generation continues it).
 * `ids` = tok_encode(prompt, allow_special = 1): feed them as they are (no BOS
 * is added; a runner that adds one must keep max_new + 1 free). The prompt
 * fits: n_ids <= context - max_new, and the haystack amount is the largest
 * that fits, found by a secant/bisection search on the token count.
 * throughput tasks have no generator (the runner times the engine).
 * The KJV text and the word pools are built on first use and kept for the
 * process: call gen_check (or a first gen_case) before any threads.
 */
#ifndef PURBO_GEN_H
#define PURBO_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "suites/gen_case.h"
#include "suites/suite.h"
#include "model/tokenizer.h"

/* Number of cases of task t (0 for throughput). */
int gen_n_cases(const suite_task *t);
/* Builds case `index` of task `ti`. 0 + *err ("FILE:L:C: task 'x': ...")
 * when the prompt cannot fit (or the essay text is missing). */
int gen_case(const suite *s, int ti, int index, const tokenizer *tok, suite_case *out, pb_err *err);
/* Builds the first case of every (task, context) and frees it: a suite that
 * passes suite_load and gen_check can be run. 0 + *err at the first problem. */
int gen_check(const suite *s, const tokenizer *tok, pb_err *err);

#endif
