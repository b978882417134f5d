/* attention.h — THE attention interface: one call per (layer, query head).
 *
 * The forward pass (forward.c) computes q, k, v, applies RoPE, stores k/v
 * and then, for every (layer, query head), hands one attn_call to that
 * head's attn_policy. Nothing else in the forward pass knows how attention
 * is computed: a sparse policy (local window, top-p over an indexer, ...)
 * replaces `run` and nothing around it changes. Policies that keep their own
 * per-token state (index keys, page bounds) get every new key through
 * on_append before the call that first sees it.
 *
 * Where keys live: a KV head either keeps every position (a full cache:
 * c->k/c->v non-NULL, row j = position j) or only S sinks + the last W
 * positions (a ring, chosen by the plan when every query head of the KV head
 * is local; c->k == NULL). Either way c->span lists the runs of positions the
 * call can read, in position order; the policies that may run on a ring
 * (the local one) read keys only through the spans.
 *
 * Observers see what probes need without touching the policies' code:
 * on_qk gets the pre-RoPE q and k of every layer; on_rows gets the
 * attention probabilities a policy computed as dense rows over positions
 * (entries the policy did not attend to, masked or causal, are exactly 0);
 * want_rows, when given, says which query rows on_rows reads at all.
 *
 * Density: run returns how many (query, key) pairs it attended; the session
 * adds that up per head next to the causally visible count (forward.h).
 *
 * Description: besides its code, a policy states its rule as plain data
 * (attn_desc), so a backend that cannot call host code per head (CUDA) can
 * run the same rule with its own kernels. ATTN_OPAQUE says "no description":
 * such a policy runs only where policies run as code (the CPU backend).
 */
#ifndef PURBO_ATTENTION_H
#define PURBO_ATTENTION_H

#include <stddef.h>

/* Positions pos .. pos+n-1 of one KV head: k, v rows of d floats, row stride ld. */
typedef struct {
    int pos, n;
    const float *k, *v;
    int ld;
} attn_span;

#define ATTN_MAX_SPANS 4

typedef struct {
    int layer, head, kv_head;
    int d;              /* head dim */
    int q_pos0;         /* absolute position of the first query */
    int n_q;            /* queries in this call; query i is at q_pos0 + i */
    int n_kv;           /* positions 0 .. n_kv-1 are causally visible (== q_pos0 + n_q) */
    int window;         /* 0: a global layer; W > 0: a sliding layer, the model's own mask: query
                         * p sees p-W+1 .. p only (attn_dense honours it; plans keep every head
                         * of a sliding layer dense, plan.h) */
    const float *q;     /* (n_q, d), row stride ldq, post-RoPE */
    int ldq;
    const float *q_pre; /* (n_q, d), row stride ldq_pre, pre-RoPE (indexers read these) */
    int ldq_pre;
    const float *k;     /* full cache: (n_kv, d) contiguous, post-RoPE; NULL on a ring */
    const float *v;     /* full cache: (n_kv, d) contiguous; NULL on a ring */
    int n_span;         /* runs of readable positions, ascending; a full cache is one */
    attn_span span[ATTN_MAX_SPANS];
    float *out;         /* (n_q, d), row stride ldo */
    int ldo;
    float scale;        /* 1/sqrt(d) */
} attn_call;

typedef struct {
    void *user;
    /* q: (n, n_head, d), k: (n, n_head_kv, d), pre-RoPE, positions pos0.. */
    void (*on_qk)(void *user, int layer, int pos0, int n, const float *q, const float *k);
    /* p: (c->n_q, c->n_kv) probabilities, row stride ldp; row i covers
     * keys 0 .. c->q_pos0 + i (later entries are 0). c->n_q may be a
     * sub-block of the call; c->k may be NULL (ring). */
    void (*on_rows)(void *user, const attn_call *c, const float *p, int ldp);
    /* May be NULL (every row is read). 0 when on_rows reads no row of the
     * queries q_pos0 .. q_pos0+n_q-1 of layer `layer`: a backend that
     * computes rows only for observers (CUDA) may then skip them; one that
     * has them anyway (the CPU) may still show them. */
    int (*want_rows)(void *user, int layer, int q_pos0, int n_q);
    /* 1: on_rows may run on several threads at once for different heads of
     * one layer (never twice at once for the same head, never alongside
     * on_qk), so a backend holding many heads' rows (CUDA) may hand them
     * over in parallel; 0: one call at a time. */
    int parallel_heads;
} attn_observer;

/* The rules a policy can describe (attn_desc.kind). For a query at position p:
 *   ATTN_DENSE        every key 0 .. p (on a sliding layer the model's window);
 *   ATTN_LOCAL        keys 0 .. sink-1 and max(p-window+1, sink) .. p;
 *   ATTN_QUEST        decode: the page of p plus the k_units other pages of largest
 *                     bound sum_d max(q_d min_d, q_d max_d) over the page's post-RoPE
 *                     keys; a call of several queries runs dense;
 *   ATTN_TOPK/_TOPP   exact scores, softmax pooled into blocks, the forced blocks
 *                     (sinks, last `local` tokens) plus top-k blocks / top-p mass;
 *   ATTN_RTPURBO      indexer scores (W_Q q_pre · W_K k_pre), the forced positions
 *                     anchored with their exact scores, top-p with a kmin floor;
 *   ATTN_RTPURBO_TOPK indexer scores, unanchored, top-k blocks.
 * Every rule but DENSE and LOCAL is the one engine/policy/attn_sparse.h writes
 * out (select_attend); attention over the kept keys is exact softmax. */
enum attn_desc_kind {
    ATTN_OPAQUE, ATTN_DENSE, ATTN_LOCAL, ATTN_QUEST, ATTN_TOPK, ATTN_TOPP, ATTN_RTPURBO, ATTN_RTPURBO_TOPK,
    ATTN_KINDS
};

/* When a rule acts (attn_desc.phase). A call of one query is a decode step,
 * a call of several is prefill (session_eval never hands a longer input over
 * as a one-query chunk). A call the rule does not act on runs dense, on a
 * full cache; the policy still sees every key (on_append, index keys), so it
 * acts on the whole context when its phase comes. */
enum attn_phase { ATTN_PHASE_ALL, ATTN_PHASE_PREFILL, ATTN_PHASE_DECODE, ATTN_PHASES };

static inline int attn_phase_acts(int phase, int n_q)
{
    return phase == ATTN_PHASE_ALL || (phase == ATTN_PHASE_PREFILL) == (n_q > 1);
}

typedef struct {
    int kind;               /* enum attn_desc_kind */
    int sink, window;       /* LOCAL: sinks and window; selectors: sink tokens whose blocks are kept */
    int block, local;       /* selectors: unit of selection, always-kept recent tokens */
    int page;               /* QUEST: page size */
    int k_units;            /* TOPK, RTPURBO_TOPK: blocks; QUEST: pages (besides the forced ones) */
    double p;               /* TOPP, RTPURBO: mass to reach */
    int kmin;               /* RTPURBO: at least kmin non-forced blocks */
    int rank;               /* RTPURBO kinds: indexer rank r */
    int phase;              /* enum attn_phase: the calls the rule acts on (ALL) */
    const float *idx_q, *idx_k;  /* RTPURBO kinds: (n_layer * n_head, r, d) W_Q, W_K on the host,
                                  * owned by the policy's plan; a backend rereads them when they change */
} attn_desc;

typedef struct attn_policy attn_policy;
struct attn_policy {
    const char *name;
    /* Fills c->out; returns the (query, key) pairs attended. scratch holds
     * attn_scratch_floats(n_ctx) floats. obs may be NULL. */
    long long (*run)(const attn_policy *self, const attn_call *c, const attn_observer *obs, float *scratch);
    /* May be NULL. Keys of positions pos0 .. pos0+n-1 of (layer, kv_head)
     * arrived, seen from query head `head`: called once per query head using
     * this policy, after RoPE, before that head's run of the same tokens.
     * k_pre, k: (n, d) pre- and post-RoPE, row stride ld. Positions may
     * restart at 0 (session reset): state indexed by position is rewritten. */
    void (*on_append)(const attn_policy *self, int layer, int head, int kv_head, int pos0, int n,
                      const float *k_pre, const float *k, int ld);
    /* May be NULL (static policies). Frees the policy and its state. */
    void (*destroy)(attn_policy *self);
    void *state;
    attn_desc desc;     /* the rule as data; kind ATTN_OPAQUE when the policy gives none */
};

/* Exact causal softmax attention over every cached key (full cache only). */
extern const attn_policy attn_dense;

/* Query rows the dense policy processes at once. */
#define ATTN_QBLOCK 64
size_t attn_scratch_floats(int n_ctx);

/* (query, key) pairs visible to queries pos0 .. pos0+n-1: causal, and on a
 * sliding layer (window W > 0) at most W keys per query (the density
 * denominator both backends count). */
long long attn_visible_pairs(int pos0, int n, int window);

/* Dense decode in key chunks shared by a KV head's G query heads
 * (attn_decode_group.c): keys per chunk, and the chunks of n_keys keys. */
#define ATTN_DECODE_CHUNK 256
int attn_decode_chunks(int n_keys);
/* One chunk of n keys for G heads: q (G, d) at row stride ldq; k, v (n, d);
 * s: G * n floats of scratch. Writes G parts of d + 2 floats: o (d, the
 * weights exp(s - m) applied to v, not normalised), m, l (their sum). */
void attn_decode_chunk(int G, int d, float scale, const float *q, int ldq, const float *k, const float *v, int n,
                       float *s, float *part);
/* Joins one head's n_chunks parts (at stride floats) into its output (d). */
void attn_decode_join(int n_chunks, int d, const float *parts, long stride, float *out);

#endif
