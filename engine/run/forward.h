/* forward.h — the forward pass of a decoder model (as its description in
 * model.h says: llama, gemma3) with a KV cache, written once over the backend interface (backend.h): the same code
 * runs on the CPU (the reference: short, plain, and what everything fast is
 * checked against) and on CUDA, and does not know which.
 *
 * A session holds the cache and scratch for one sequence. session_eval runs
 * n tokens at the next positions (prefill when n > 1, decode when n == 1),
 * appends their k/v, and optionally returns logits of the last positions.
 * Attention goes through one attn_policy per (layer, query head)
 * (attention.h); all default to attn_dense. A plan (plan.h) sets other
 * policies and may give a KV head a ring (S sinks + the last W positions)
 * instead of a full cache; the forward pass only asks the backend for that
 * storage. The CUDA backend runs every policy that describes itself
 * (attention.h) and keeps full caches where a ring was asked; it shows row
 * observers the rows of dense heads (the probes' sessions are all dense).
 * A decode step (n = 1) goes to the backend's whole-step hook (backend.h,
 * decode) when it has one and every head is dense with no observer.
 *
 * Density: for every (layer, query head) the session counts the (query,
 * key) pairs the policy attended and those causally visible, over all evals
 * since session_new or session_density_reset (session_reset keeps them, so a
 * run of many prompts reports one figure).
 */
#ifndef PURBO_FORWARD_H
#define PURBO_FORWARD_H

#include "run/attention.h"
#include "run/backend.h"
#include "model/model.h"

typedef struct {
    const model *m;
    backend *b;         /* where the pass runs */
    int own_backend;    /* session_free closes b */
    int n_ctx;          /* cache capacity in positions */
    int n_past;         /* positions already in the cache */
    int max_batch;      /* tokens per internal chunk */
    int dense_batch;    /* tokens per chunk where every head is dense, no layer slides (unless the
                           backend's prefill_sliding) and nothing observes, on a backend with
                           prefill_batch (≥ max_batch; scratch is sized for it) */
    bk_kv *kv;          /* the backend's KV cache */
    const attn_policy **policy;  /* [n_layer * n_head], never NULL entries */
    const attn_observer *obs;    /* may be NULL */
    attn_policy **owned;         /* policies the session destroys when freed */
    int n_owned;
    attn_count *count;           /* [n_layer * n_head] density counts */
    /* scratch on the backend, sized for dense_batch tokens (B); act: see backend.h */
    float *x;           /* (B, n_embd) residual stream */
    void *xn;           /* (B, n_embd) act, normed */
    float *q;           /* (B, n_head, d), post-RoPE */
    float *k, *v;       /* (B, n_head_kv, d), k post-RoPE */
    float *q_pre;       /* (B, n_head, d), pre-RoPE (after QK-norm when the model has it) */
    float *k_pre;       /* (B, n_head_kv, d), pre-RoPE (likewise) */
    void *att;          /* (B, n_head, d) act, attention output */
    float *y;           /* (B, n_embd) a product added to x */
    float *ff_g, *ff_u; /* (B, n_ff) */
    void *ff_h;         /* (B, n_ff) act, silu(g) * u */
    float *host_q, *host_k;  /* host copies for obs->on_qk, allocated when needed */
} session;

/* n_ctx: cache capacity (≤ the model's context is not enforced: callers decide).
 * session_new runs on a CPU backend of its own; session_new_on runs on b,
 * which must outlive the session. */
session *session_new(const model *m, int n_ctx);
session *session_new_on(backend *b, int n_ctx);
void session_free(session *s);
/* Forgets the sequence (n_past = 0); keeps policies, layout and counts. */
void session_reset(session *s);

/* Hands a policy to the session, which destroys it in session_free. */
void session_own_policy(session *s, attn_policy *p);

/* Sets the storage of every (layer, KV head) (layout: [n_layer * n_head_kv];
 * a ring no smaller than n_ctx becomes a full cache) and resets the session.
 * A backend without rings (CUDA) keeps full caches instead (kv_bytes says
 * what it holds). */
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
