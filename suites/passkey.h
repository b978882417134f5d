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
} passkey_case;

/* Builds a case of about target_tokens tokens (within one filler sentence).
 * depth < 0 draws it from the seed. */
void passkey_build(const tokenizer *t, int target_tokens, double depth, uint64_t seed, passkey_case *out);
void passkey_free(passkey_case *c);
/* 1 if the generated text contains the key as a whole word (no letter or
 * digit next to it): score.h's exact rule. */
int passkey_score(const passkey_case *c, const char *answer);

#endif
