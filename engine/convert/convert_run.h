/* convert_run.h — the converter's parts that run on the model itself:
 * the calibration capture (convert_capture.c) and the indexer quality on a
 * held-out set, as the rtpurbo policy would select (convert_eval.c defines
 * each number). convert.h has the parts on plain arrays. */
#ifndef PURBO_CONVERT_RUN_H
#define PURBO_CONVERT_RUN_H

#include "convert/convert.h"
#include "policy/indexer.h"
#include "policy/plan.h"
#include "policy/planfile.h"
#include "probes/probe.h"

/* What a conversion was asked to do (cmd_convert.c fills it; 0 = default
 * where noted) and what it took. */
typedef struct {
    const char *model_path, *out_path, *db_path;
    const char *heads;      /* --retrieval-heads, or NULL: the retrieval probe chooses */
    double rho;             /* retrieval fraction; 0: the need rule [0] */
    double keep;            /* need rule: a head stays local when it holds this mass within W [0.99] */
    double min_score;       /* need rule: and its repeated-span score is below this [0.02] */
    int sink;               /* S [4] */
    int window;             /* W; 0: the need rule's 256, or from the locality probe under --rho */
    double cover;           /* the window rule's share of local heads [0.9] */
    int block, local;       /* selection granularity and always-kept recent tokens [64, 256] */
    double p;               /* top-p [0.9] */
    int r;                  /* indexer rank; 0: head_dim / 8 */
    int rope_band;          /* the indexers read only this many lowest-frequency RoPE pairs; 0: every dim [0] */
    kd_opts opt;            /* steps, lr, batch, ... (kd_defaults) */
    int ctx;                /* tokens per calibration window [2048] */
    int n_train, n_eval;    /* calibration windows [4, 2] */
    int queries;            /* query positions per window [256] */
    uint64_t seed;          /* windows, documents, queries, minibatches [1] */
    /* filled while running */
    char window_rule[160];
    double s_probe, s_capture, s_train, s_total;
} convert_cfg;

/* ---- capture (convert_capture.c) ---- */

typedef struct convert_capture convert_capture;

/* A capture for calibration windows of n_ctx tokens: n_train training and
 * n_eval held-out windows, `queries` query positions per window
 * (<= n_ctx / 2). */
convert_capture *convert_capture_new(const model_config *c, int n_ctx, int n_train, int n_eval, int queries,
                                     uint64_t seed);
void convert_capture_free(convert_capture *cc);
/* Phase 1 (optional): a probe that runs `retrieval` (the retrieval probe,
 * for n_docs documents; the caller still owns and frees it) and keeps its
 * documents for training: doc_queries query positions per document, the
 * last 64 of them the second copy of the span. `also` (NULL: none; a probe
 * without documents of its own, e.g. the locality probe; the caller owns
 * it) is fed the same documents' rows and stored with it. */
probe convert_capture_docs(convert_capture *cc, const probe *retrieval, const probe *also, int n_docs,
                           int doc_queries);
/* Phase 2: the probe for the calibration pass (n_train + n_eval windows)
 * capturing the heads marked in retr [n_layer * n_head] (must outlive cc).
 * Its free does nothing: call convert_capture_free. */
probe convert_capture_windows(convert_capture *cc, const unsigned char *retr);
/* The training (eval 0) or evaluation (eval 1) set of query head `head`
 * (layer * n_head + h), teacher not yet computed. */
kd_set *convert_capture_set(convert_capture *cc, int head, int eval);
/* The PCA/SVD initialisation of head's indexer from the training moments:
 * wq, wk (r, d). */
void convert_capture_pca(const convert_capture *cc, int head, int r, const unsigned char *dims, float *wq, float *wk);

/* ---- quality (convert_eval.c) ---- */

typedef struct {
    double recall;          /* share of the exact top-p token set inside the selected blocks */
    double mass;            /* teacher mass inside the selected blocks */
    double blocks_sel;      /* selected / visible blocks (forced blocks included) */
    double blocks_teacher;  /* the exact top-p oracle's blocks / visible blocks */
    double kl;              /* mean KL(teacher || student) */
    double focus;           /* teacher mass on the set's focus span (0 without one) */
    double focus_kept;      /* of it, the mass inside the selected blocks */
    int n_queries;
} kd_quality;

/* Uses prm->block, ->sink, ->local and ->p. */
void kd_evaluate(const kd_set *s, int r, const float *wq, const float *wk, float log_tau, const plan_params *prm,
                 kd_quality *out);

/* ---- indexer training (convert_heads.c) ---- */

/* Step 3 for every head marked in retr [n_layer * n_head]: teacher rows,
 * PCA/SVD initialisation, quality, cfg->opt.steps of AdamW, quality again,
 * on up to n_threads threads (BLAS must be single-threaded per call). Then,
 * in head order: each head's report_head rows into db (run), its folded
 * matrices into pf->idx_q / idx_k and its class into pf->cls. */
void convert_train_heads(convert_capture *cc, const unsigned char *retr, const model_config *c,
                         const convert_cfg *cfg, int r, int n_threads, pb_db *db, int64_t run, plan_file *pf);

/* ---- results database (convert_report.c) ---- */

/* convert_head rows of every query head (score, w90 may be NULL), one case. */
void report_heads(pb_db *db, int64_t run, const model_config *c, const unsigned char *retr, const double *score,
                  const int *w90);
/* One retrieval head's curve (steps entries of loss, lr, tau) and its
 * quality before and after training, one case. */
void report_head(pb_db *db, int64_t run, int layer, int head, int steps, const double *loss, const double *lr,
                 const double *tau, const kd_quality *init, const kd_quality *trained, int r, double p);
/* The convert_plan row, once the plan file is written. */
void report_plan(pb_db *db, int64_t run, const convert_cfg *cfg, const model_config *c, uint64_t fp, int n_retrieval,
                 int r);

#endif
