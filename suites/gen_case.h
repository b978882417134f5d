/* gen_case.h — one built case of a suite task: the chat-templated prompt
 * the runner feeds, its token ids and hash, the expected answers and the
 * metric, and where the haystack and needles sit in the prompt. The
 * generators build it (gen.h, gen_impl.h); the runner feeds and scores it.
 * A case owns its strings and arrays: free it with gen_case_free.
 */
#ifndef PURBO_GEN_CASE_H
#define PURBO_GEN_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "suites/suite.h"

typedef struct {
    int task;             /* index in suite.tasks */
    int index;            /* case index within the task */
    int context;          /* requested length: prompt + max_new */
    double depth;         /* percent, or -1 (no depth: RULER tasks draw their own) */
    int sample;
    uint64_t seed;        /* the case's own seed */
    int max_new;
    int budget;           /* context - max_new: the most prompt tokens allowed */

    char *prompt;         /* chat-templated, answer prefix at the end */
    size_t prompt_len;
    int *ids;
    int n_ids;
    char hash[17];        /* FNV-1a 64 of the prompt, 16 lowercase hex digits */

    char **answers;       /* expected strings (references) */
    int n_answers;
    suite_metric metric;  /* resolved: never METRIC_DEFAULT */

    /* where things are, as byte offsets into prompt (for tests and probes) */
    size_t hay_begin, hay_end; /* the haystack (context) span */
    size_t *needles;      /* start of each inserted needle / chain line */
    int n_needles;
    long amount;          /* haystack amount used (words, sentences, ...) */
} suite_case;

/* Fills the case's hash from its prompt (FNV-1a 64 of prompt_len bytes). */
void gen_finish(suite_case *out);
void gen_case_free(suite_case *c);

#endif
