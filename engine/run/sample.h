/* sample.h — choosing the next token from the logits: greedy, or sampled
 * with a temperature, top-k and top-p (nucleus), from a seeded generator.
 *
 * Invariants: temperature 0 (the default) is cpu_argmax, the greedy choice,
 * bit for bit. Otherwise the candidates are ranked by logit (ties: the
 * lower id first, so the first candidate is always the greedy token),
 * top-k keeps the k first, top-p the shortest prefix of those whose
 * probability (softmax of logit / temperature, renormalised over the kept
 * ones) reaches p; one token always remains, so top-p near 0 or top-k 1 is
 * greedy. The same seed on the same logits gives the same tokens.
 */
#ifndef PURBO_SAMPLE_H
#define PURBO_SAMPLE_H

#include <stdint.h>

#include "base/rng.h"

typedef struct {
    double temperature; /* >= 0; 0: greedy */
    double top_p;       /* (0, 1]; 1: no nucleus cut */
    int top_k;          /* >= 0; 0: no top-k cut */
    uint64_t seed;      /* the generator's seed */
} sample_opts;

#define SAMPLE_GREEDY ((sample_opts){.temperature = 0, .top_p = 1, .top_k = 0, .seed = 1})

typedef struct {
    sample_opts o;
    pb_rng rng;
    int n_vocab;
    int *idx;    /* [n_vocab] candidate ids, scratch */
    double *w;   /* [n_vocab] their weights, scratch */
} sampler;

void sampler_init(sampler *s, const sample_opts *o, int n_vocab);
/* The next token from logits [n_vocab]. */
int sampler_pick(sampler *s, const float *logits);
void sampler_free(sampler *s);

#endif
