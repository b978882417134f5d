/* plan.h — which attention policy each (layer, query head) runs, with what
 * parameters: the plain data struct that the CLI (--policy NAME[:k=v,...]
 * and --retrieval-heads), the suites and the .purbo plan file all fill, and
 * plan_apply, which turns it into policies on a session.
 *
 * A plan names one kind per head (enum head_kind) and one parameter set for
 * all of them. The user-level policies map onto kinds:
 *   dense         every head HEAD_DENSE
 *   streaming     every head HEAD_LOCAL (S sinks + window W)
 *   duo           retrieval heads HEAD_DENSE, the others HEAD_LOCAL
 *   quest         every head HEAD_QUEST (page bounds, top-k pages; decode)
 *   topk-oracle   every head HEAD_TOPK_ORACLE (exact scores, top-k blocks)
 *   topp-oracle   every head HEAD_TOPP_ORACLE (exact scores, top-p blocks)
 *   rtpurbo       retrieval heads HEAD_RTPURBO (indexer, top-p), others HEAD_LOCAL
 *   rtpurbo-topk  retrieval heads HEAD_RTPURBO_TOPK (indexer, top-k), others HEAD_LOCAL
 * A KV head whose query heads are all HEAD_LOCAL keeps only S + W entries
 * (a ring, forward.h) when plan_apply is asked for rings. The heads of a
 * model's sliding layers (model.h) stay HEAD_DENSE under every policy: they
 * see only their window already, and the policies act on the global layers.
 *
 * Indexers (rtpurbo kinds): per query head W_Q, W_K of (r, d), applied to
 * pre-RoPE q and k. A plan file brings trained ones; otherwise
 * indexer_calibrate (indexer.h) fits them by PCA/SVD on calibration text.
 */
#ifndef PURBO_PLAN_H
#define PURBO_PLAN_H

#include "base/common.h"
#include "run/forward.h"

enum head_kind {
    HEAD_DENSE, HEAD_LOCAL, HEAD_QUEST, HEAD_TOPK_ORACLE, HEAD_TOPP_ORACLE, HEAD_RTPURBO, HEAD_RTPURBO_TOPK,
    HEAD_KINDS
};

enum plan_policy {
    PLAN_DENSE, PLAN_STREAMING, PLAN_DUO, PLAN_QUEST, PLAN_TOPK_ORACLE, PLAN_TOPP_ORACLE, PLAN_RTPURBO,
    PLAN_RTPURBO_TOPK, PLAN_POLICIES
};

/* Defaults in brackets; the spec key is the field name. */
typedef struct {
    int sink;       /* S: sink tokens; local heads keep them, selectors keep their blocks [4] */
    int window;     /* W: local heads' window in tokens, the query included [1024] */
    int block;      /* selection granularity of the oracles and rtpurbo, tokens [64] */
    int local;      /* selectors always keep the blocks of the last `local` tokens [64] */
    int page;       /* quest page, tokens [16] */
    int budget;     /* top-k budget in tokens (quest pages, top-k blocks), besides the
                     * always-kept pages/blocks; spec key k= gives it in pages/blocks [512] */
    double p;       /* top-p mass [0.9] */
    int kmin;       /* rtpurbo top-p adds at least kmin blocks besides the always-kept ones,
                     * by indexer rank, however little mass the indexer gives them [4] */
    int rank;       /* indexer rank r; 0 = head_dim / 8 [0] */
    int calib;      /* tokens of calibration text for the PCA indexer [1024] */
} plan_params;

/* Bits of plan_spec.given: the keys the text set (the rest are defaults). */
enum { PLAN_GIVEN_SINK = 1, PLAN_GIVEN_WINDOW = 2, PLAN_GIVEN_BLOCK = 4, PLAN_GIVEN_LOCAL = 8, PLAN_GIVEN_P = 16 };

/* A parsed --policy argument (no model needed). */
typedef struct {
    int policy;         /* enum plan_policy */
    plan_params prm;
    unsigned given;     /* PLAN_GIVEN_* bits */
    char text[128];     /* the argument as given, for reports */
} plan_spec;

typedef struct {
    char name[128];             /* what ran, for reports (the spec text) */
    int policy;                 /* enum plan_policy the plan came from */
    int n_layer, n_head, n_head_kv, head_dim;
    plan_params prm;
    unsigned char *kind;        /* [n_layer * n_head] enum head_kind */
    int rank;                   /* r of the indexers (prm.rank resolved) */
    float *idx_q, *idx_k;       /* (n_layer * n_head, r, d) W_Q, W_K; NULL until set */
} plan;

extern const plan_params plan_defaults;
const char *plan_policy_name(int policy);
const char *plan_kind_name(int kind);

/* "NAME[:key=val,...]" → *out. 1, or 0 with err naming the bad part. */
int plan_parse(const char *text, plan_spec *out, pb_err *err);

/* Retrieval heads: "L.H,L.H,...", "all", "none", or the path of a file
 * holding such a list (commas or white space between items, '#' comments).
 * retr: [n_layer * n_head] set to 0/1. 1, or 0 with err. */
int plan_parse_heads(const model_config *c, const char *text, unsigned char *retr, pb_err *err);

/* Builds the plan of spec for the model: heads (retrieval heads, NULL = none)
 * decide the kinds of duo and rtpurbo, which need at least one. 1 or 0 + err. */
int plan_make(plan *p, const model_config *c, const plan_spec *spec, const unsigned char *retr, pb_err *err);
/* Every head dense, default parameters. */
void plan_init_dense(plan *p, const model_config *c);
void plan_free(plan *p);

/* 1 when some head needs an indexer the plan does not have yet. */
int plan_needs_indexers(const plan *p);
/* Allocates zeroed idx_q, idx_k for the resolved rank (if not yet). */
void plan_alloc_indexers(plan *p);
/* Number of heads of a kind. */
int plan_count(const plan *p, int kind);

/* Creates the policy of one kind for a session of n_ctx positions (the plan
 * must outlive it: rtpurbo reads its indexers). attn_dense for HEAD_DENSE. */
attn_policy *plan_policy_new(const plan *p, int kind, int n_ctx);

/* Sets s's policies from the plan (the session owns and frees them) and,
 * with rings, gives every KV head whose query heads are all local a ring of
 * S + W entries. Resets the session and its density counts. */
void plan_apply(const plan *p, session *s, int rings);

/* One line for reports: policy, density, KV bytes held vs full. */
void plan_summary(const plan *p, const session *s, char *buf, size_t len);

#endif
