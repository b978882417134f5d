/* generate.h — greedy generation on a session, with timing.
 *
 * Prefill runs the prompt in one session_eval (chunked inside); decode runs
 * one token at a time and stops at a stop id or after max_new tokens.
 */
#ifndef PURBO_GENERATE_H
#define PURBO_GENERATE_H

#include "run/forward.h"

typedef struct {
    int n_prompt, n_gen;
    double t_prefill;   /* seconds for the prompt */
    int n_decode;       /* single-token evaluations (decode steps) timed */
    double t_decode;    /* seconds for those steps */
} gen_stats;

/* out receives up to max_new ids (the stop id is not included). on_token,
 * if set, is called for each generated id as it comes. Returns n_gen. */
int generate_greedy(session *s, const int *prompt, int n_prompt, int max_new, const int *stop, int n_stop,
                    int *out, gen_stats *st, void (*on_token)(void *user, int id), void *user);

#endif
