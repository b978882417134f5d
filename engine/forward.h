/* forward.h — the CPU forward pass of a llama-architecture model with a KV
 * cache (the reference path: short, plain, and what everything fast is
 * checked against).
 *
 * A session holds the cache and scratch for one sequence. session_eval runs
 * n tokens at the next positions (prefill when n > 1, decode when n == 1),
 * appends their k/v, and optionally returns logits of the last positions.
 * Attention goes through one attn_policy per (layer, query head)
 * (attention.h); all default to attn_dense.
 */
#ifndef PURBO_FORWARD_H
#define PURBO_FORWARD_H

#include "attention.h"
#include "model.h"

typedef struct {
    const model *m;
    int n_ctx;          /* cache capacity in positions */
    int n_past;         /* positions already in the cache */
    int max_batch;      /* tokens per internal chunk */
    float *kc, *vc;     /* (n_layer, n_head_kv, n_ctx, head_dim), post-RoPE k */
    const attn_policy **policy;  /* [n_layer * n_head], never NULL entries */
    const attn_observer *obs;    /* may be NULL */
    /* scratch, sized for max_batch tokens */
    float *x;           /* (B, n_embd) residual stream */
    float *xn;          /* (B, n_embd) normed */
    float *q;           /* (B, n_head, d) */
    float *k, *v;       /* (B, n_head_kv, d) */
    float *att;         /* (B, n_head, d) */
    float *ff_g, *ff_u; /* (B, n_ff) */
    float *scores;      /* attn_scratch_floats(n_ctx) */
} session;

/* n_ctx: cache capacity (≤ the model's context is not enforced: callers decide). */
session *session_new(const model *m, int n_ctx);
void session_free(session *s);
void session_reset(session *s);

/* Runs tokens[0..n) at positions n_past .. n_past+n-1 (n_past + n ≤ n_ctx,
 * ids in range: checked, runtime failure otherwise). logits: NULL, or
 * (n_logits, n_vocab) receiving the next-token logits of the last n_logits
 * positions (n_logits ≤ n). */
void session_eval(session *s, const int *tokens, int n, float *logits, int n_logits);

#endif
