/* passkey.h — the passkey-retrieval prompt (Landmark attention / LongLoRA).
 *
 * Filler sentences repeated to a target length in the model's own tokens, a
 * line stating a random 5-digit key at a chosen depth, then the question;
 * wrapped in the chat template with the answer prefix "The pass key is".
 * Deterministic from the seed.
 */
#ifndef PURBO_PASSKEY_H
#define PURBO_PASSKEY_H

#include <stdint.h>

#include "model/tokenizer.h"

typedef struct {
    char *prompt;       /* full prompt text (chat template + answer prefix), malloc'ed */
    int *ids;           /* its tokens, malloc'ed */
    int n_ids;
    char key[16];       /* the expected answer */
    double depth;       /* where the key line sits, 0 = start, 1 = end of the filler */
    int n_fill, at;     /* whole filler sentences, and how many precede the key line */
} passkey_case;

/* Builds a case of about target_tokens tokens (within one filler sentence).
 * depth < 0 draws it from the seed. */
void passkey_build(const tokenizer *t, int target_tokens, double depth, uint64_t seed, passkey_case *out);
/* The largest case of whole filler sentences with at most budget tokens
 * (passkey_build's target searched: corrected by the measured miss, then
 * bisected). 0 when even the shortest does not fit (out zeroed). */
int passkey_build_fit(const tokenizer *t, int budget, double depth, uint64_t seed, passkey_case *out);
/* A case of exactly n_tokens tokens: passkey_build_fit's, then the filler
 * continued by part of a sentence (cut at a word where one fits, else at a
 * byte) before the question. 0 as passkey_build_fit; 1 with out->n_ids the
 * nearest below n_tokens when no cut gives n_tokens exactly. */
int passkey_build_exact(const tokenizer *t, int n_tokens, double depth, uint64_t seed, passkey_case *out);
void passkey_free(passkey_case *c);
/* 1 if the generated text contains the key as a whole word (no letter or
 * digit next to it): score.h's exact rule. */
int passkey_score(const passkey_case *c, const char *answer);

#endif
