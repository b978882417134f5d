/* attention.h — THE attention interface: one call per (layer, query head).
 *
 * The forward pass (forward.c) computes q, k, v, applies RoPE, appends k/v
 * to the KV cache and then, for every (layer, query head), hands one
 * attn_call to that head's attn_policy. Nothing else in the forward pass
 * knows how attention is computed: a sparse policy (local window, top-p
 * over an indexer, ...) replaces `run` and nothing around it changes.
 *
 * Observers see what probes need without touching the policies' code:
 * on_qk gets the pre-RoPE q and k of every layer; on_rows gets the
 * attention probabilities a policy computed (dense rows, masked entries 0).
 */
#ifndef PURBO_ATTENTION_H
#define PURBO_ATTENTION_H

#include <stddef.h>

typedef struct {
    int layer, head, kv_head;
    int d;              /* head dim */
    int q_pos0;         /* absolute position of the first query */
    int n_q;            /* queries in this call; query i is at q_pos0 + i */
    int n_kv;           /* cached positions 0 .. n_kv-1 (== q_pos0 + n_q) */
    const float *q;     /* (n_q, d), row stride ldq, post-RoPE */
    int ldq;
    const float *k;     /* (n_kv, d) contiguous, post-RoPE */
    const float *v;     /* (n_kv, d) contiguous */
    float *out;         /* (n_q, d), row stride ldo */
    int ldo;
    float scale;        /* 1/sqrt(d) */
} attn_call;

typedef struct {
    void *user;
    /* q: (n, n_head, d), k: (n, n_head_kv, d), pre-RoPE, positions pos0.. */
    void (*on_qk)(void *user, int layer, int pos0, int n, const float *q, const float *k);
    /* p: (c->n_q, c->n_kv) probabilities, row stride ldp; row i covers
     * keys 0 .. c->q_pos0 + i (later entries are 0). */
    void (*on_rows)(void *user, const attn_call *c, const float *p, int ldp);
} attn_observer;

typedef struct attn_policy attn_policy;
struct attn_policy {
    const char *name;
    /* Fills c->out. scratch holds attn_scratch_floats(n_kv) floats. obs may be NULL. */
    void (*run)(const attn_policy *self, const attn_call *c, const attn_observer *obs, float *scratch);
    void *state;
};

/* Exact causal softmax attention over every cached key. */
extern const attn_policy attn_dense;

/* Query rows the dense policy processes at once. */
#define ATTN_QBLOCK 64
size_t attn_scratch_floats(int n_ctx);

#endif
