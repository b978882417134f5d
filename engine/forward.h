/* forward.h — the CPU forward pass of a llama-architecture model with a KV
 * cache (the reference path: short, plain, and what everything fast is
 * checked against).
 *
 * A session holds the cache and scratch for one sequence. session_eval runs
 * n tokens at the next positions (prefill when n > 1, decode when n == 1),
 * stores their k/v, and optionally returns logits of the last positions.
 * Attention goes through one attn_policy per (layer, query head)
 * (attention.h); all default to attn_dense. A plan (plan.h) sets other
 * policies and may give a KV head a ring (S sinks + the last W positions)
 * instead of a full cache; the forward pass only knows the storage.
 *
 * Density: for every (layer, query head) the session counts the (query,
 * key) pairs the policy attended and those causally visible, over all evals
 * since session_new or session_density_reset (session_reset keeps them, so a
 * run of many prompts reports one figure).
 */
#ifndef PURBO_FORWARD_H
#define PURBO_FORWARD_H

#include "attention.h"
#include "model.h"

/* The storage of one (layer, KV head): window 0 = full cache (n_ctx rows);
 * otherwise positions < n_sink and the last `window` positions only. */
typedef struct {
    int n_sink, window;
} kv_ring;

typedef struct {
    long long kept;     /* (query, key) pairs attended */
    long long visible;  /* (query, key) pairs causally visible */
} attn_count;

typedef struct {
    const model *m;
    int n_ctx;          /* cache capacity in positions */
    int n_past;         /* positions already evaluated */
    int max_batch;      /* tokens per internal chunk */
    float *kc, *vc;     /* per (layer, kv head): rows of head_dim floats at kv_off, post-RoPE k;
                         * without rings: (n_layer, n_head_kv, n_ctx, head_dim) as always */
    size_t *kv_off;     /* [n_layer * n_head_kv] first row of each head's cache */
    kv_ring *ring;      /* [n_layer * n_head_kv] storage of each head */
    const attn_policy **policy;  /* [n_layer * n_head], never NULL entries */
    const attn_observer *obs;    /* may be NULL */
    attn_policy **owned;         /* policies the session destroys when freed */
    int n_owned;
    attn_count *count;  /* [n_layer * n_head] density counts */
    /* scratch, sized for max_batch tokens */
    float *x;           /* (B, n_embd) residual stream */
    float *xn;          /* (B, n_embd) normed */
    float *q;           /* (B, n_head, d), post-RoPE */
    float *k, *v;       /* (B, n_head_kv, d), k post-RoPE */
    float *q_pre;       /* (B, n_head, d), pre-RoPE */
    float *k_pre;       /* (B, n_head_kv, d), pre-RoPE */
    float *att;         /* (B, n_head, d) */
    float *ff_g, *ff_u; /* (B, n_ff) */
    float *scores;      /* attn_scratch_floats(n_ctx) */
} session;

/* n_ctx: cache capacity (≤ the model's context is not enforced: callers decide).
 * Every KV head starts with a full cache, every head with attn_dense. */
session *session_new(const model *m, int n_ctx);
void session_free(session *s);
/* Forgets the sequence (n_past = 0); keeps policies, layout and counts. */
void session_reset(session *s);

/* Hands a policy to the session, which destroys it in session_free. */
void session_own_policy(session *s, attn_policy *p);

/* Sets the storage of every (layer, KV head) (layout: [n_layer * n_head_kv];
 * a ring no smaller than n_ctx becomes a full cache), reallocates the cache
 * and resets the session. */
void session_set_kv_layout(session *s, const kv_ring *layout);
/* Bytes of k + v cache held now, and what full caches would hold. */
size_t session_kv_bytes(const session *s);
size_t session_kv_bytes_full(const session *s);

/* Overall density (kept / visible; 1 when nothing ran). per_head: NULL, or
 * [n_layer * n_head] receiving the counts. */
double session_density(const session *s, attn_count *per_head);
void session_density_reset(session *s);

/* Runs tokens[0..n) at positions n_past .. n_past+n-1 (n_past + n ≤ n_ctx,
 * ids in range: checked, runtime failure otherwise). logits: NULL, or
 * (n_logits, n_vocab) receiving the next-token logits of the last n_logits
 * positions (n_logits ≤ n). */
void session_eval(session *s, const int *tokens, int n, float *logits, int n_logits);

#endif
