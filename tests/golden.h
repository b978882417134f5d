/* golden.h — the golden logits of tests/data/golden (HF transformers,
 * float64, same GGUF; tests/data/golden/make_golden.py): for each prompt the
 * token ids and, per position, the reference's top-k ids and logits. Shared
 * by the CPU forward tests and the GPU tests. */
#ifndef PURBO_GOLDEN_H
#define PURBO_GOLDEN_H

typedef struct {
    int n, k;
    int *ids;       /* (n) prompt token ids */
    int *top_id;    /* (n, k) */
    double *top_v;  /* (n, k) */
} golden;

/* Loads prompt NAME ("a", "b", "c") and checks that our tokenizer gives the
 * reference's ids. 1 ok; 0 after recording a test failure. */
int golden_open(const char *name, golden *g);
void golden_free(golden *g);

#endif
