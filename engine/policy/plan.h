/* plan.h — which attention policy each (layer, query head) runs, with what
 * parameters: the plain data struct that the CLI (--policy NAME[:k=v,...]
 * and --retrieval-heads), the suites and the .purbo plan file all fill;
 * plan_apply (policy.h) turns it into policies on a session. A spec (the
 * policy and its parameters) is built field by field through one typed API,
 * from the --policy text or from a suite method's fields alike.
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

/* A length rule (spec key by_length): the settings of the selectors'
 * forced part and mass by the length of the prompt a session starts with.
 * Row i applies to prompts of at least by_length[i].from tokens (rows in
 * ascending from) and replaces the fields its `set` bits name (PLAN_GIVEN_
 * LOCAL, _KMIN, _P); shorter prompts run the spec's own values. Text form:
 * "FROM key=value ...; FROM ...", e.g. "1536 kmin=1; 3072 local=256 p=0.65". */
enum { PLAN_MAX_BY_LENGTH = 8 };
typedef struct {
    int from;           /* prompt tokens, >= 1 */
    int local, kmin;
    unsigned set;       /* PLAN_GIVEN_LOCAL | PLAN_GIVEN_KMIN | PLAN_GIVEN_P */
    double p;
} plan_length_row;

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
    int phase;      /* enum attn_phase: the policy acts in prefill and decode (all), in
                     * prefill only (decode steps dense) or in decode only (prefill dense);
                     * spec key phase=all|prefill|decode [all] */
    int first_layer, last_layer; /* the policy acts on layers first_layer .. last_layer; the
                         * other layers' heads run dense (to find which layers a policy's
                         * loss comes from) [0, 4095] */
    unsigned char dense_layer[MODEL_MAX_LAYERS]; /* 1: every head of the layer runs dense
                         * (spec key dense_layers="L A-B ..."; default none) */
    int n_by_length;    /* rows of the length rule, 0 = none [0]; plan_params_for_prompt
                         * resolves them (a resolved set has none) */
    plan_length_row by_length[PLAN_MAX_BY_LENGTH];
} plan_params;

/* Bits of plan_spec.given: the fields set (the rest are defaults). */
enum {
    PLAN_GIVEN_SINK = 1, PLAN_GIVEN_WINDOW = 2, PLAN_GIVEN_BLOCK = 4, PLAN_GIVEN_LOCAL = 8, PLAN_GIVEN_P = 16,
    PLAN_GIVEN_KMIN = 32, PLAN_GIVEN_BY_LENGTH = 64, PLAN_GIVEN_DENSE_LAYERS = 128
};

/* A policy and its parameters (no model needed), built field by field
 * (plan_spec.c). The fields are plan_params' spec keys: sink, window, block,
 * local, page, budget, k (the top-k budget in pages for quest, blocks for
 * the others), p, kmin, r, calib, phase (a number 0-2 or its name), and
 * by_length (text, above) and dense_layers (text: layers and ranges
 * "7" or "5-9 12"), the two set through plan_spec_set only. */
typedef struct {
    int policy;         /* enum plan_policy */
    plan_params prm;
    unsigned given;     /* PLAN_GIVEN_* bits */
    int k;              /* k as set (0: not set); plan_spec_check turns it into prm.budget */
    char text[128];     /* what the spec was made from, for reports */
} plan_spec;

typedef struct {
    char name[256];             /* what ran, for reports (the spec text) */
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
/* 1 for the policies that take a list of retrieval heads: duo, rtpurbo, rtpurbo-topk. */
int plan_policy_uses_heads(int policy);
/* 1 when the policy takes spec key `key` (plan_spec_set would accept it). */
int plan_policy_takes(int policy, const char *key);
/* 1 for the block-sparse policies with a local window (rtpurbo,
 * rtpurbo-topk): their window must hold at least one block. */
int plan_policy_has_window_blocks(int policy);

/* The typed spec API. Every call returns 1, or 0 with err naming the field
 * or the policy only ("window 0 is out of range [1, 16777216]", "quest has
 * no parameter 'p' (page,budget,k)"): callers add where the value came from.
 * plan_spec_init: the policy by name, every field at its default;
 * plan_spec_set_int / _real: one field (a policy accepts only its own; each
 * field has its range; an integral real sets an integer field);
 * plan_spec_set: the same from text ("12", "0.9");
 * plan_spec_check: after the last field (resolves k into budget). */
int plan_spec_init(plan_spec *sp, const char *policy, pb_err *err);
int plan_spec_set_int(plan_spec *sp, const char *field, long v, pb_err *err);
int plan_spec_set_real(plan_spec *sp, const char *field, double v, pb_err *err);
int plan_spec_set(plan_spec *sp, const char *field, const char *text, pb_err *err);
int plan_spec_check(plan_spec *sp, pb_err *err);
/* The spec keys of every policy (one set of names: --policy, suite files),
 * and whether v is in key's range whatever the policy (1, or 0 with err as
 * above; an unknown key too): for readers that check values before they
 * know the policy. */
extern const char *const plan_spec_keys[];
extern const int plan_spec_n_keys;
int plan_spec_value_ok(const char *key, double v, pb_err *err);
/* A key's value given by name (phase: all, prefill, decode) into *v: 1; 0
 * when key has no named values or text is a number (the caller reads it);
 * -1 and err ("phase 'x' is none of all, prefill, decode") otherwise. */
int plan_spec_named_value(const char *key, const char *text, double *v, pb_err *err);

/* The rule's text into prm's rows (replacing any): rows in ascending from,
 * keys among local, kmin, p in their ranges, each once a row. 1, or 0 with
 * err naming the bad part ("by_length row 2: ..."). Which keys the policy
 * takes is the caller's check (plan_spec_set does it). */
int plan_by_length_parse(const char *text, plan_params *prm, pb_err *err);
/* The dense_layers text ("L", "A-B", separated by spaces) into prm's
 * dense_layer (replacing it). 1, or 0 + err naming the bad item. */
int plan_dense_layers_parse(const char *text, plan_params *prm, pb_err *err);
/* prm's rule as text (the form above; "" when none) into buf. */
void plan_by_length_text(const plan_params *prm, char *buf, size_t len);
/* prm with its rule resolved for a prompt of n_prompt tokens: the last row
 * with from <= n_prompt applied, and no rows left. */
plan_params plan_params_for_prompt(const plan_params *prm, int n_prompt);

/* "NAME[:field=val,...]" (the --policy text) through the calls above;
 * out->text keeps the whole text. 1, or 0 with err naming the bad part. */
int plan_parse(const char *text, plan_spec *out, pb_err *err);

/* Retrieval heads: "L.H,L.H,...", "all", "none", or the path of a file
 * holding such a list (commas or white space between items, '#' comments).
 * retr: [n_layer * n_head] set to 0/1. 1, or 0 with err (naming the file
 * and line for a file, nothing else: the caller says which option or key). */
int plan_parse_heads(const model_config *c, const char *text, unsigned char *retr, pb_err *err);
/* The same, keeping only the first `keep` distinct heads in the order listed
 * (keep < 0: all), so a list written best first yields its top share;
 * *listed (if given) gets how many distinct heads the list holds. */
int plan_parse_heads_first(const model_config *c, const char *text, int keep, unsigned char *retr, int *listed,
                           pb_err *err);

/* Builds the plan of spec for the model: heads (retrieval heads, NULL = none)
 * decide the kinds of duo and rtpurbo, which need them; other policies take
 * none. 1 or 0 + err (no location: "r 9 exceeds the head dim 8"). */
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

/* One line for reports: policy, density, KV bytes held vs full. */
void plan_summary(const plan *p, const session *s, char *buf, size_t len);

#endif
