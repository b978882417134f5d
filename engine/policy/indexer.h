/* indexer.h — the low-rank indexers of the rtpurbo policy: fitting W_Q and
 * W_K (r, d) for a query head from calibration q/k, before any training.
 *
 * The indexer score of query q and key k is (W_Q q)·(W_K k) on pre-RoPE
 * vectors. The fit (indexer_fit) is the best rank-r approximation of the
 * exact bilinear form q·k under the calibration second moments: with
 * Cq = E[q qᵀ] and Ck = Cov[k] (keys centred: a constant shift of every key
 * only adds a per-query constant, which the softmax ignores),
 *     M = Cq^½ Ck^½ = U Σ Vᵀ,   W_Q = Σ_r^½ U_rᵀ Cq^-½,   W_K = Σ_r^½ V_rᵀ Ck^-½,
 * so W_Qᵀ W_K = Cq^-½ M_r Ck^-½, which minimises E[(qᵀk − qᵀAk)²] over
 * rank-r A for whitened, independent q and k; at r = d it is the identity.
 * This is the PCA/SVD initialisation the converter (issue 4) trains from.
 */
#ifndef PURBO_INDEXER_H
#define PURBO_INDEXER_H

#include "model/model.h"
#include "model/tokenizer.h"
#include "policy/plan.h"

/* Sums over the calibration samples of one query head and its KV head. */
typedef struct {
    int d;
    double nq, nk;
    double *qq;     /* (d, d) sum of q qᵀ */
    double *ks;     /* (d) sum of k */
    double *kk;     /* (d, d) sum of k kᵀ */
} indexer_moments;

void indexer_moments_init(indexer_moments *m, int d);
void indexer_moments_free(indexer_moments *m);
/* q, k: (n, d) rows, row stride ld. */
void indexer_moments_add_q(indexer_moments *m, const float *q, int n, int ld);
void indexer_moments_add_k(indexer_moments *m, const float *k, int n, int ld);

/* Query sums from mq, key sums from mk (the same struct or one per KV head);
 * wq, wk: (r, d) receive the fit (r ≤ d). */
void indexer_fit(const indexer_moments *mq, const indexer_moments *mk, int r, float *wq, float *wk);

/* The same fit restricted to the dims with dims[j] != 0 (NULL: every dim):
 * it runs on those dims' moments alone, and the other columns of W_Q, W_K
 * (r, d) are 0, so the indexer never reads them. r <= the kept dims. */
void indexer_fit_dims(const indexer_moments *mq, const indexer_moments *mk, int r, const unsigned char *dims,
                      float *wq, float *wk);

/* The dims of the `band` lowest-frequency RoPE pairs of a head of c (pair i
 * turns by position * base^(-2i / rope_dim), so the last pairs turn least):
 * dims (d) gets 1 on their 2 * band dims, 0 elsewhere, in c's pair layout
 * (adjacent: 2i, 2i+1; neox: i, i + rope_dim / 2). Over a context of n
 * tokens pair i turns at most n * base^(-2i / rope_dim) radians: where that
 * is small, the pre-RoPE product q_i . k_i is the post-RoPE one, so an
 * indexer that reads only these pairs scores as attention does, at any
 * distance. 0 < band <= rope_dim / 2. */
void indexer_band_dims(const model_config *c, int band, unsigned char *dims);

/* Symmetric eigen-decomposition (LAPACK dsyevd). a: (n, n), destroyed;
 * w: [n] eigenvalues, descending; v: (n, n), column j the eigenvector of
 * w[j], signed so that its largest component is positive. */
void pb_sym_eig(double *a, int n, double *w, double *v);
/* The same by cyclic Jacobi, without the sign rule: the fallback, and an
 * independent solver for the tests (n 256: about 0.7 s against 0.01). */
void pb_sym_eig_jacobi(double *a, int n, double *w, double *v);

/* Runs the model densely over tokens[0..n), collects the pre-RoPE q and k of
 * every rtpurbo head of the plan and fits its indexer (plan_alloc_indexers
 * first). */
void indexer_calibrate(plan *p, const model *m, const int *tokens, int n);

/* indexer_calibrate on the first p->prm.calib tokens of the KJV text
 * (textsrc.h) encoded with tok: the PCA indexers of a plan that brings
 * none. One line on stderr ("NAME: PCA indexers (r = R) for N heads from T
 * KJV tokens in S s"). 1, or 0 + err when the text cannot be read. */
int indexer_calibrate_kjv(plan *p, const model *m, const tokenizer *tok, pb_err *err);

#endif
