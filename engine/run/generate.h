/* generate.h — generation on a session, with timing: greedy, or sampled
 * (sample.h).
 *
 * Prefill runs the prompt in one session_eval (chunked inside) at the
 * session's current position, so a session can be continued (the turns of
 * a chat); decode runs one token at a time and stops at a stop id or after
 * max_new tokens. The last token returned is not evaluated (nothing needs
 * its logits): a caller that continues the session evaluates it first
 * unless gen_stats.stopped says a stop id ended the reply (the stop id is
 * not evaluated either).
 */
#ifndef PURBO_GENERATE_H
#define PURBO_GENERATE_H

#include "run/forward.h"
#include "run/sample.h"

typedef struct {
    int n_prompt, n_gen;
    double t_prefill;   /* seconds for the prompt */
    int n_decode;       /* single-token evaluations (decode steps) timed */
    double t_decode;    /* seconds for those steps */
    int stopped;        /* 1: a stop id ended it (the id is not in out) */
} gen_stats;

/* out receives up to max_new ids (the stop id is not included). on_token,
 * if set, is called for each generated id as it comes. Returns n_gen.
 * generate_greedy is generate_sampled with SAMPLE_GREEDY. */
int generate_greedy(session *s, const int *prompt, int n_prompt, int max_new, const int *stop, int n_stop,
                    int *out, gen_stats *st, void (*on_token)(void *user, int id), void *user);
/* The same with the next token chosen by sp (its generator advances). */
int generate_sampled(session *s, sampler *sp, const int *prompt, int n_prompt, int max_new, const int *stop,
                     int n_stop, int *out, gen_stats *st, void (*on_token)(void *user, int id), void *user);

#endif
