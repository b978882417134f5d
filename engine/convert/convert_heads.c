/* convert_heads.c — step 3 of the conversion: every retrieval head's
 * indexer (teacher rows, PCA/SVD initialisation, quality, AdamW on the KL,
 * quality again), the heads spread over a pool of threads, one head per
 * thread at a time.
 *
 * Heads are independent: each has its own captured sets, its own seed
 * (seed * 1000003 + head) and its own buffers, and BLAS runs single-threaded
 * inside each call, so a head's numbers do not depend on the thread count
 * or on the order in which heads finish. The database rows and the plan's
 * matrices are written after the pool, in head order, so the plan file and
 * the rows are the same bytes whatever the number of threads.
 * Progress on stderr: a line per head as it finishes (completion order),
 * or one redrawn line on a terminal.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "convert/convert_run.h"

/* One head's job and what it produced. */
typedef struct {
    int x;                       /* query head, layer * n_head + h */
    kd_quality q0, q1;           /* before / after training */
    float lt;                    /* learned log temperature */
    double *loss, *lr, *tau;     /* [steps] curve */
    float *wq, *wk;              /* [r * d] indexer */
} head_job;

typedef struct {
    convert_capture *cc;
    const model_config *c;
    const convert_cfg *cfg;
    plan_params prm;
    int r, steps, n_jobs;
    unsigned char *dims;         /* (d) the dims the indexers read (--rope-band), or NULL */
    head_job *jobs;
    pthread_mutex_t mu;          /* guards the fields below */
    int next, finished;
    long done, total;            /* steps over all heads */
    double t0, last;
    int tty;
} pool;

typedef struct {
    pool *P;
    head_job *j;
} step_ctx;

static void on_step(void *user, int step, double loss, double lr, float log_tau)
{
    step_ctx *s = user;
    head_job *j = s->j;
    pool *P = s->P;
    j->loss[step] = loss;
    j->lr[step] = lr;
    j->tau[step] = exp(log_tau);
    pthread_mutex_lock(&P->mu);
    P->done++;
    double now = pb_now();
    if (P->tty && now - P->last >= 0.25) {
        P->last = now;
        char el[32], eta[32];
        pb_fmt_secs(el, sizeof el, now - P->t0);
        pb_fmt_secs(eta, sizeof eta, (now - P->t0) / P->done * (P->total - P->done));
        fprintf(stderr, "\r\033[Kconvert: %d/%d heads done, step %ld of %ld | %s elapsed, ETA %s", P->finished,
                P->n_jobs, P->done, P->total, el, eta);
    }
    pthread_mutex_unlock(&P->mu);
}

static void train_one(pool *P, head_job *j)
{
    const int d = P->c->head_dim, r = P->r, x = j->x;
    kd_set *tr = convert_capture_set(P->cc, x, 0), *ev = convert_capture_set(P->cc, x, 1);
    const float base = model_layer_rope_base(P->c, x / P->c->n_head); /* the head's own layer's RoPE */
    kd_set_teacher(tr, base, P->c->rope_style);
    kd_set_teacher(ev, base, P->c->rope_style);
    kd_set_anchor(tr, P->prm.block, P->prm.sink, P->prm.local); /* the rtpurbo policy's top-p row */
    kd_set_anchor(ev, P->prm.block, P->prm.sink, P->prm.local);
    convert_capture_pca(P->cc, x, r, P->dims, j->wq, j->wk);
    j->lt = logf(sqrtf((float)d));
    kd_evaluate(ev, r, j->wq, j->wk, j->lt, &P->prm, &j->q0);
    kd_opts o = P->cfg->opt;
    o.dims = P->dims;
    o.seed = P->cfg->seed * 1000003u + (uint64_t)x;
    if (P->steps > 0) {
        step_ctx s = {P, j};
        kd_train(tr, r, j->wq, j->wk, &j->lt, &o, on_step, &s);
        kd_evaluate(ev, r, j->wq, j->wk, j->lt, &P->prm, &j->q1);
    } else {
        j->q1 = j->q0;
    }
    kd_set_free(tr);
    kd_set_free(ev);
}

static void *worker(void *arg)
{
    pool *P = arg;
    for (;;) {
        pthread_mutex_lock(&P->mu);
        int i = P->next < P->n_jobs ? P->next++ : -1;
        pthread_mutex_unlock(&P->mu);
        if (i < 0) return NULL;
        head_job *j = &P->jobs[i];
        train_one(P, j);
        pthread_mutex_lock(&P->mu);
        P->finished++;
        if (P->steps <= 0) P->done++;
        double now = pb_now();
        char el[32], eta[32];
        pb_fmt_secs(el, sizeof el, now - P->t0);
        pb_fmt_secs(eta, sizeof eta, (now - P->t0) / P->done * (P->total - P->done));
        fprintf(stderr, "%sconvert: head %d/%d L%d.H%d: KL %.3f -> %.3f, recall %.3f -> %.3f, blocks %.3f -> %.3f"
                        " (teacher %.3f), tau %.2f | %s elapsed, ETA %s\n",
                P->tty ? "\r\033[K" : "", P->finished, P->n_jobs, j->x / P->c->n_head, j->x % P->c->n_head, j->q0.kl,
                j->q1.kl, j->q0.recall, j->q1.recall, j->q0.blocks_sel, j->q1.blocks_sel, j->q1.blocks_teacher,
                exp(j->lt), el, eta);
        pthread_mutex_unlock(&P->mu);
    }
}

void convert_train_heads(convert_capture *cc, const unsigned char *retr, const model_config *c,
                         const convert_cfg *cfg, int r, int n_threads, pb_db *db, int64_t run, plan_file *pf)
{
    const int nh = c->n_layer * c->n_head, d = c->head_dim, steps = cfg->opt.steps;
    pool P = {.cc = cc, .c = c, .cfg = cfg, .prm = plan_defaults, .r = r, .steps = steps, .tty = isatty(2)};
    P.prm.sink = cfg->sink;
    P.prm.block = cfg->block;
    P.prm.local = cfg->local;
    P.prm.p = cfg->p;
    if (cfg->rope_band > 0) {
        P.dims = pb_malloc((size_t)d);
        indexer_band_dims(c, cfg->rope_band, P.dims);
    }
    for (int x = 0; x < nh; x++) P.n_jobs += retr[x] != 0;
    P.jobs = pb_calloc((size_t)(P.n_jobs ? P.n_jobs : 1), sizeof(head_job));
    const int alloc = steps > 0 ? steps : 1;
    for (int x = 0, i = 0; x < nh; x++) {
        if (!retr[x]) continue;
        head_job *j = &P.jobs[i++];
        j->x = x;
        j->loss = pb_calloc((size_t)alloc, sizeof(double));
        j->lr = pb_calloc((size_t)alloc, sizeof(double));
        j->tau = pb_calloc((size_t)alloc, sizeof(double));
        j->wq = pb_malloc((size_t)r * d * sizeof(float));
        j->wk = pb_malloc((size_t)r * d * sizeof(float));
    }
    P.total = (long)P.n_jobs * alloc;
    P.t0 = pb_now();
    pthread_mutex_init(&P.mu, NULL);
    if (n_threads > P.n_jobs) n_threads = P.n_jobs;
    if (n_threads < 1) n_threads = 1;
    pthread_t *th = pb_malloc((size_t)n_threads * sizeof(pthread_t));
    int *started = pb_calloc((size_t)n_threads, sizeof(int));
    for (int i = 1; i < n_threads; i++) started[i] = pthread_create(&th[i], NULL, worker, &P) == 0;
    worker(&P); /* the calling thread works too; a thread that failed to start leaves its share to the others */
    for (int i = 1; i < n_threads; i++)
        if (started[i]) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&P.mu);
    free(th);
    free(started);

    /* in head order: the rows, and the matrices into the plan */
    for (int i = 0; i < P.n_jobs; i++) {
        head_job *j = &P.jobs[i];
        report_head(db, run, j->x / c->n_head, j->x % c->n_head, steps, j->loss, j->lr, j->tau, &j->q0, &j->q1, r,
                    cfg->p);
        /* the plan holds W_Q sqrt(d) / tau: the policy's 1/sqrt(d) scale then gives z = u / tau */
        float fold = sqrtf((float)d) * expf(-j->lt);
        for (int e = 0; e < r * d; e++) {
            pf->idx_q[(size_t)j->x * r * d + e] = j->wq[e] * fold;
            pf->idx_k[(size_t)j->x * r * d + e] = j->wk[e];
        }
        pf->cls[j->x] = PLAN_CLASS_RETRIEVAL;
        free(j->loss);
        free(j->lr);
        free(j->tau);
        free(j->wq);
        free(j->wk);
    }
    free(P.jobs);
    free(P.dims);
}
