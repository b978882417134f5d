/* golden.h — golden logits (HF transformers, float64, same GGUF): for
 * each prompt the token ids and, per checked position, the reference's top-k
 * ids and logits. tests/data/golden (SmolLM2; every position checked,
 * tests/data/golden/make_golden.py) and tests/data/golden_gemma (Gemma-3-270M,
 * BOS first; the long prompt at listed positions: a "checked N" line, then
 * one row per position). Shared by the CPU forward tests and the GPU tests. */
#ifndef PURBO_GOLDEN_H
#define PURBO_GOLDEN_H

#include "model/tokenizer.h"

typedef struct {
    int n, k;
    int *ids;       /* (n) prompt token ids */
    int n_rows;     /* checked positions (n when every one is) */
    int *pos;       /* (n_rows) ascending positions */
    int *top_id;    /* (n_rows, k) */
    double *top_v;  /* (n_rows, k) */
} golden;

/* Loads prompt NAME ("a", "b", "c") and checks that our tokenizer gives the
 * reference's ids. 1 ok; 0 after recording a test failure. */
int golden_open(const char *name, golden *g);
/* The same for prompt NAME of folder dir, tokenized by tok (BOS first when
 * tok_add_bos; special tokens recognised). */
int golden_open_in(const char *dir, const char *name, const tokenizer *tok, golden *g);
void golden_free(golden *g);
/* Row r of g against the logits of that position: the
 * largest |logit - reference| over the reference's top k, raised into
 * *worst. */
void golden_row_diff(const golden *g, int r, const float *logits, double *worst);

#endif
