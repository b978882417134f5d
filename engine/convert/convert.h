/* convert.h — the converter behind `purbo-bench convert` (METHOD.md §3,
 * issue 4): which query heads become retrieval heads, and the low-rank
 * indexer each of them gets, distilled from the head's own attention.
 *
 * The pieces, one file each, talk through plain arrays:
 *   convert_kd.c      the distillation set of one retrieval query head
 *                     (pre-RoPE q/k, exact teacher rows) and the loss:
 *                     forward KL(teacher || student) with its gradient
 *   convert_train.c   AdamW + cosine schedule over that loss
 *   convert_select.c  the head split (top rho by retrieval score) and the
 *                     local window W (from the locality probe)
 *   convert_eval.c    indexer quality: recall of the exact top-p set, block
 *                     fractions, KL
 * The plan file is planfile.h; the command (probes, capture, report) is
 * cmd_convert.c.
 *
 * The student. For query q (pre-RoPE, d) at position i and keys k_j
 * (pre-RoPE, j <= i) of the same window:
 *     u_j = (W_Q q) . (W_K k_j),   z_j = u_j / tau,   s = softmax_j(z)
 * W_Q, W_K: (r, d); tau = exp(log_tau) is learned (one scalar per head,
 * initialised to sqrt(d) so that a PCA indexer starts on the teacher's own
 * 1/sqrt(d) scale). tau only re-scales W_Q W_K^T, so it is redundant in
 * principle; as one log-parametrised scalar (with its own, larger learning
 * rate) it sets the overall sharpness faster than the r x d entries can. On
 * SmolLM2 it matters only at low learning rates (engine/convert/CONVERT.md). The
 * plan file stores W_Q * sqrt(d) / tau, so the rtpurbo policy's
 * s_j = (1/sqrt(d)) (W_Q q).(W_K k) is exactly the trained student.
 *
 * The teacher: t = softmax_j(q_rot . k_rot_j / sqrt(d)) with RoPE applied
 * at the true positions (cpu_rope, the forward pass's own), i.e. the dense
 * policy's probability row. Loss per query: KL(t || s) =
 * sum_j t_j (log t_j - log s_j); the batch loss is the mean over queries.
 *
 * Anchoring (kd_set_anchor, the rtpurbo policy's top-p row): positions in
 * the sink and local blocks the policy always keeps take the teacher's own
 * logit, z_j = a_j = q_rot . k_rot_j / sqrt(d) (= log t_j + lse_i), and only
 * the middle positions between them (forced_middle) take u_j / tau. The
 * indexer then learns the middle's mass against the head's exact sink and
 * recent-token mass, in the teacher's absolute scale. Anchored positions
 * carry no gradient. Without an anchor every position is the student's.
 */
#ifndef PURBO_CONVERT_H
#define PURBO_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* ---- distillation set of one retrieval query head (convert_kd.c) ---- */

typedef struct {
    int d;              /* head dim */
    int n_win, n_ctx;   /* windows, tokens per window */
    float *k;           /* (n_win, n_ctx, d) pre-RoPE keys of the head's KV head */
    int n_q;            /* sampled queries */
    int *q_win, *q_pos; /* [n_q] window and position, sorted by (window, position) */
    float *q;           /* (n_q, d) pre-RoPE queries */
    float *t;           /* teacher rows, packed: row i has q_pos[i] + 1 floats at t + t_off[i] */
    size_t *t_off;      /* [n_q + 1] */
    double *t_negent;   /* [n_q] sum_j t_j log t_j (the KL's constant part) */
    float *t_lse;       /* [n_q] log-sum-exp of the teacher's logits: a_j = log t_j + t_lse */
    int a_block, a_sink, a_local; /* anchor (kd_set_anchor); a_block 0: none */
    int f_lo, f_hi;     /* a focus span of positions [f_lo, f_hi) that kd_evaluate follows
                         * (a needle, say); f_hi 0: none (kd_set_init) */
    int *a_mid;         /* [2 n_q] each row's middle [lo, hi) under the anchor; NULL: none */
    float *a_logit;     /* the teacher's logits a_j, packed as t (-inf where t_j = 0); NULL: none */
} kd_set;

/* Allocates k, q, q_win, q_pos for the caller to fill (t stays NULL). */
void kd_set_init(kd_set *s, int d, int n_win, int n_ctx, int n_q);
void kd_set_free(kd_set *s);
/* Computes the teacher rows from the pre-RoPE q and k (RoPE with base
 * rope_base in the pair layout rope_style (model/family.h: adjacent or
 * neox), as the head's layer applies it, at the true positions; scale
 * 1/sqrt(d)). q_win/q_pos must be sorted by (window, position), positions
 * < n_ctx (runtime error otherwise). Removes any anchor. */
void kd_set_teacher(kd_set *s, float rope_base, int rope_style);

/* Anchors the rows at the exact logits outside the middle that a policy
 * with blocks of g, sink and local tokens decides about (forced_middle).
 * g = 0 removes the anchor. Needs the teacher (kd_set_teacher): the rows'
 * middles and logits are computed here, once, for every later loss. */
void kd_set_anchor(kd_set *s, int g, int sink, int local);

/* Scratch for kd_loss / kd_student on one set (sized for its n_ctx). */
typedef struct kd_work kd_work;
kd_work *kd_work_new(const kd_set *s, int r);
void kd_work_free(kd_work *w);

/* Mean KL(t || s) over the queries idx[0..n) of s (ascending indices).
 * wq, wk: (r, d). With gwq, gwk: (r, d) and glog_tau non-NULL, also the
 * gradient of that mean (overwritten, not accumulated). */
double kd_loss(const kd_set *s, const int *idx, int n, int r, const float *wq, const float *wk, float log_tau,
               float *gwq, float *gwk, float *glog_tau, kd_work *w);

/* Student probabilities of the queries idx[0..n) (ascending): row i of out
 * (row stride ld >= n_ctx) gets q_pos[idx[i]] + 1 probabilities (the
 * anchored row when s has an anchor), the rest of the row is left as is. */
void kd_student(const kd_set *s, const int *idx, int n, int r, const float *wq, const float *wk, float log_tau,
                float *out, size_t ld, kd_work *w);

/* ---- training (convert_train.c) ---- */

typedef struct {
    int steps;          /* optimiser steps [300] */
    int warmup;         /* linear warm-up steps [steps / 10] */
    int batch;          /* queries per step, drawn without replacement [256] */
    double lr;          /* peak learning rate [3e-3]; cosine decay to lr * lr_min */
    double lr_min;      /* [0.1] */
    double wd;          /* decoupled weight decay on W_Q, W_K [1e-4]; none on log_tau */
    double beta1, beta2, eps; /* [0.9, 0.999, 1e-8] */
    int learn_tau;      /* 1: log_tau is a parameter [1] */
    double tau_lr_mult; /* log_tau's learning rate is lr * this [10] */
    uint64_t seed;      /* minibatch draw */
    const unsigned char *dims; /* (d) the dims W_Q, W_K may read: the other columns get no gradient,
                                * so from 0 (indexer_fit_dims) they stay 0; NULL: every dim [NULL] */
} kd_opts;

extern const kd_opts kd_defaults;

/* Learning rate at step t (0-based) of o: linear warm-up to o->lr over
 * o->warmup steps, then cosine to o->lr * o->lr_min at the last step. */
double kd_lr_at(const kd_opts *o, int t);

/* Called after every step with the batch loss before the update. */
typedef void (*kd_step_fn)(void *user, int step, double loss, double lr, float log_tau);

/* Trains wq, wk (r, d) and *log_tau in place on s. Returns the last step's
 * loss. on_step may be NULL. */
double kd_train(const kd_set *s, int r, float *wq, float *wk, float *log_tau, const kd_opts *o, kd_step_fn on_step,
                void *user);

/* ---- head split and window (convert_select.c) ---- */

/* Number of retrieval heads for n_heads query heads at fraction rho:
 * round-half-up of rho * n_heads, at least 1 when rho > 0, at most n_heads. */
int select_count(double rho, int n_heads);

/* The heads a conversion decides about: elig[i] = 1 for the query heads of
 * global layers, 0 for those of sliding layers (model.h: local already, so
 * neither retrieval heads nor local heads of the plan). Returns how many. */
int select_eligible(const model_config *c, unsigned char *elig);

/* retr[i] = 1 for the select_count(rho, n_eligible) eligible heads of highest
 * score (ties to the lower index), 0 for the others; elig NULL: all n are.
 * rho is thus a share of the global layers' heads. Returns that count. */
int select_heads(const double *score, const unsigned char *elig, int n, double rho, unsigned char *retr);

/* The need rule: retr[i] = 1 for every eligible head that needs keys beyond a
 * local window W: its mean attention mass within the sinks + W recent tokens,
 * mass_w[i] (the locality probe at W), is below `keep`, or its repeated-span
 * score (the retrieval probe: mass on a copy 3/4 of the context back) is at
 * least min_score (score NULL: not used). Heads with elig[i] == 0 are never
 * chosen (elig NULL: all are eligible). Returns the count. */
int select_need(const double *mass_w, const double *score, const unsigned char *elig, int n, double keep,
                double min_score, unsigned char *retr);

/* The local window: the smallest W of grid[0..n_grid) (ascending) such that
 * at least `cover` (a fraction) of the local heads (retr[i] == 0) have
 * w90[i] <= W; w90[i] is the smallest window holding 0.9 of head i's mass
 * (the locality probe), or a value above every grid entry when none does.
 * Returns grid[n_grid - 1] when no entry reaches cover, and when there is no
 * local head. Heads with elig[i] == 0 are left out (elig NULL: none). */
int select_window(const int *w90, const unsigned char *retr, const unsigned char *elig, int n, const int *grid,
                  int n_grid, double cover);

#endif
