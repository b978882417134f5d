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

/* Text with n_fill filler sentences and the key line after k of them, then
 * the first `tail` bytes of the filler repeated (0: none). */
static char *compose(const tokenizer *t, int n_fill, int k, const char *key, size_t tail)
{
    char line[96];
    snprintf(line, sizeof line, "The pass key is %s. Remember it. %s is the pass key. ", key, key);
    size_t fl = strlen(FILLER);
    size_t cap = strlen(INTRO) + (size_t)n_fill * fl + tail + strlen(line) + strlen(QUESTION) + 1;
    char *user = pb_malloc(cap);
    char *p = user;
    p += sprintf(p, "%s", INTRO);
    for (int i = 0; i <= n_fill; i++) {
        if (i == k) p += sprintf(p, "%s", line);
        if (i < n_fill) p += sprintf(p, "%s", FILLER);
    }
    for (size_t i = 0; i < tail; i++) *p++ = FILLER[i % fl];
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
    char *base = compose(t, 0, 0, out->key, 0);
    int fixed = tok_encode(t, base, strlen(base), 1, &ids);
    free(ids);
    free(base);
    int n_fill = target_tokens > fixed ? (target_tokens - fixed) / (per > 0 ? per : 1) : 0;
    int k = (int)(out->depth * n_fill + 0.5);
    out->n_fill = n_fill;
    out->at = k;
    out->prompt = compose(t, n_fill, k, out->key, 0);
    out->n_ids = tok_encode(t, out->prompt, strlen(out->prompt), 1, &out->ids);
}

int passkey_build_fit(const tokenizer *t, int budget, double depth, uint64_t seed, passkey_case *out)
{
    passkey_case best = {0}, pc;
    /* targets: lo gave a prompt that fits, hi one that does not; bisect between */
    int target = budget, lo = -1, hi = -1, have = 0;
    for (int it = 0; it < 16; it++) {
        passkey_build(t, target, depth, seed, &pc);
        int n = pc.n_ids;
        if (n <= budget) {
            lo = target;
            if (!have || n > best.n_ids) {
                if (have) passkey_free(&best);
                best = pc;
                have = 1;
            } else {
                passkey_free(&pc);
            }
            if (n == budget) break;
        } else {
            hi = target;
            passkey_free(&pc);
        }
        if (lo >= 0 && hi >= 0) {
            if (hi - lo <= 1) break;
            target = lo + (hi - lo) / 2;
        } else {
            target += budget - n;
            if (target < 1) break;
        }
    }
    *out = best;
    return have;
}

int passkey_build_exact(const tokenizer *t, int n_tokens, double depth, uint64_t seed, passkey_case *out)
{
    if (!passkey_build_fit(t, n_tokens, depth, seed, out)) return 0;
    if (out->n_ids == n_tokens) return 1;
    int *ids;
    /* tails of up to two sentences: those ending at a word first, then any */
    size_t fl = strlen(FILLER);
    for (int pass = 0; pass < 2; pass++)
        for (size_t tail = 1; tail <= 2 * fl; tail++) {
            int at_word = FILLER[tail % fl] == ' ';
            if (at_word != !pass) continue;
            char *p = compose(t, out->n_fill, out->at, out->key, tail);
            int n = tok_encode(t, p, strlen(p), 1, &ids);
            if (n == n_tokens) {
                free(out->prompt);
                free(out->ids);
                out->prompt = p;
                out->ids = ids;
                out->n_ids = n;
                return 1;
            }
            free(p);
            free(ids);
            if (n > n_tokens) break;
        }
    return 1;
}

void passkey_free(passkey_case *c)
{
    free(c->prompt);
    free(c->ids);
    c->prompt = NULL;
    c->ids = NULL;
}

int passkey_score(const passkey_case *c, const char *answer) { return score_whole_word(answer, c->key); }
