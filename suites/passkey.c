/* passkey.c — passkey prompt generator and scorer (passkey.h). */
#include "suites/passkey.h"

#include <stdio.h>
#include <string.h>

#include "base/rng.h"
#include "suites/score.h"

static const char *INTRO =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
    "I will quiz you about the important information there.\n\n";
static const char *FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";
static const char *QUESTION = "\n\nWhat is the pass key?";
static const char *ANSWER_PREFIX = "The pass key is";

/* Text with n_fill filler sentences and the key line after k of them. */
static char *compose(const tokenizer *t, int n_fill, int k, const char *key)
{
    char line[96];
    snprintf(line, sizeof line, "The pass key is %s. Remember it. %s is the pass key. ", key, key);
    size_t cap = strlen(INTRO) + (size_t)n_fill * strlen(FILLER) + strlen(line) + strlen(QUESTION) + 1;
    char *user = pb_malloc(cap);
    char *p = user;
    p += sprintf(p, "%s", INTRO);
    for (int i = 0; i <= n_fill; i++) {
        if (i == k) p += sprintf(p, "%s", line);
        if (i < n_fill) p += sprintf(p, "%s", FILLER);
    }
    sprintf(p, "%s", QUESTION);
    char *chat = tok_chat_prompt(t, NULL, user);
    free(user);
    char *full = pb_malloc(strlen(chat) + strlen(ANSWER_PREFIX) + 1);
    sprintf(full, "%s%s", chat, ANSWER_PREFIX);
    free(chat);
    return full;
}

void passkey_build(const tokenizer *t, int target_tokens, double depth, uint64_t seed, passkey_case *out)
{
    pb_rng r = {seed};
    memset(out, 0, sizeof *out);
    snprintf(out->key, sizeof out->key, "%05d", (int)(10000 + rng_below(&r, 90000)));
    out->depth = depth < 0 ? rng_unit(&r) : depth;
    /* the filler's token cost per sentence, measured once */
    int *ids;
    int per = tok_encode(t, FILLER, strlen(FILLER), 0, &ids);
    free(ids);
    char *base = compose(t, 0, 0, out->key);
    int fixed = tok_encode(t, base, strlen(base), 1, &ids);
    free(ids);
    free(base);
    int n_fill = target_tokens > fixed ? (target_tokens - fixed) / (per > 0 ? per : 1) : 0;
    int k = (int)(out->depth * n_fill + 0.5);
    out->prompt = compose(t, n_fill, k, out->key);
    out->n_ids = tok_encode(t, out->prompt, strlen(out->prompt), 1, &out->ids);
}

void passkey_free(passkey_case *c)
{
    free(c->prompt);
    free(c->ids);
    c->prompt = NULL;
    c->ids = NULL;
}

int passkey_score(const passkey_case *c, const char *answer) { return score_whole_word(answer, c->key); }
