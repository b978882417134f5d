/* indexer.c — indexer fit from second moments, the symmetric eigensolver
 * (LAPACK's dsyevd, with a cyclic Jacobi fallback), and the calibration run
 * that feeds them (indexer.h). All linear algebra in double. d is 64 for
 * SmolLM2 and 256 for Gemma 3, where the Jacobi sweeps cost about 0.7 s a
 * matrix (the rank probe decomposes several per head) and dsyevd about
 * 0.01 s. The KJV variant is what a plan without trained indexers runs with. */
#include "policy/indexer.h"

#include <math.h>
#include <string.h>

#include "model/textsrc.h"
#include "run/forward.h"

void indexer_moments_init(indexer_moments *m, int d)
{
    memset(m, 0, sizeof *m);
    m->d = d;
    m->qq = pb_calloc((size_t)d * d, sizeof(double));
    m->ks = pb_calloc((size_t)d, sizeof(double));
    m->kk = pb_calloc((size_t)d * d, sizeof(double));
}

void indexer_moments_free(indexer_moments *m)
{
    free(m->qq);
    free(m->ks);
    free(m->kk);
    memset(m, 0, sizeof *m);
}

/* s (d, d) += sum over rows x x^T (upper triangle, mirrored at the end of fit) */
static void add_outer(double *s, const float *x, int n, int ld, int d)
{
    for (int t = 0; t < n; t++) {
        const float *r = x + (size_t)t * ld;
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) s[i * d + j] += (double)r[i] * r[j];
    }
}

void indexer_moments_add_q(indexer_moments *m, const float *q, int n, int ld)
{
    add_outer(m->qq, q, n, ld, m->d);
    m->nq += n;
}

void indexer_moments_add_k(indexer_moments *m, const float *k, int n, int ld)
{
    add_outer(m->kk, k, n, ld, m->d);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < m->d; i++) m->ks[i] += k[(size_t)t * ld + i];
    m->nk += n;
}

void pb_sym_eig_jacobi(double *a, int n, double *w, double *v)
{
    for (int i = 0; i < n * n; i++) v[i] = i / n == i % n;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0, tot = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) *(i == j ? &tot : &off) += a[i * n + j] * a[i * n + j];
        if (off <= 1e-30 * (tot + off) || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q], g = 100 * fabs(apq);
                /* after a few sweeps an entry too small to change either
                 * diagonal in double is set to zero instead of rotated: the
                 * off-diagonal mass then reaches exactly 0 and the loop ends,
                 * where rounding alone would keep it above the relative
                 * bound for every sweep (n 256: 60 sweeps, seconds each) */
                if (sweep > 3 && fabs(a[p * n + p]) + g == fabs(a[p * n + p]) &&
                    fabs(a[q * n + q]) + g == fabs(a[q * n + q])) {
                    a[p * n + q] = a[q * n + p] = 0;
                    continue;
                }
                if (fabs(apq) < 1e-300) continue;
                /* rotation zeroing a[p][q] (Golub & Van Loan 8.4) */
                double tau = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (tau >= 0 ? 1 : -1) / (fabs(tau) + sqrt(1 + tau * tau));
                double c = 1 / sqrt(1 + t * t), s = t * c;
                for (int k = 0; k < n; k++) {
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vkp = v[k * n + p], vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    /* sort descending (selection sort on columns) */
    for (int i = 0; i < n; i++) w[i] = a[i * n + i];
    for (int i = 0; i < n; i++) {
        int b = i;
        for (int j = i + 1; j < n; j++)
            if (w[j] > w[b]) b = j;
        if (b == i) continue;
        double t = w[i];
        w[i] = w[b];
        w[b] = t;
        for (int k = 0; k < n; k++) {
            t = v[k * n + i];
            v[k * n + i] = v[k * n + b];
            v[k * n + b] = t;
        }
    }
}

/* LAPACK's divide-and-conquer solver (OpenBLAS carries it). */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

void pb_sym_eig(double *a, int n, double *w, double *v)
{
    /* a is symmetric, so row- and column-major agree; on return its column
     * j (row j here) holds the eigenvector of the j-th smallest eigenvalue */
    int lwork = -1, liwork = -1, info = 0, iq = 0;
    double wq = 0;
    dsyevd_("V", "U", &n, a, &n, w, &wq, &lwork, &iq, &liwork, &info);
    if (info == 0) {
        lwork = (int)wq + 1;
        liwork = iq + 1;
        double *work = pb_malloc((size_t)lwork * sizeof(double));
        int *iwork = pb_malloc((size_t)liwork * sizeof(int));
        double *a0 = pb_malloc((size_t)n * n * sizeof(double));
        memcpy(a0, a, (size_t)n * n * sizeof(double));
        dsyevd_("V", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, &info);
        free(work);
        free(iwork);
        if (info != 0) memcpy(a, a0, (size_t)n * n * sizeof(double));
        free(a0);
    }
    if (info != 0) { /* not expected; the Jacobi solver is slower, not worse */
        pb_sym_eig_jacobi(a, n, w, v);
        return;
    }
    /* descending, each vector's largest component positive (a fixed sign,
     * whatever the library's) */
    for (int i = 0; i < n / 2; i++) {
        double t = w[i];
        w[i] = w[n - 1 - i];
        w[n - 1 - i] = t;
    }
    for (int c = 0; c < n; c++) {
        const double *e = a + (size_t)(n - 1 - c) * n;
        int big = 0;
        for (int k = 1; k < n; k++)
            if (fabs(e[k]) > fabs(e[big])) big = k;
        double sg = e[big] < 0 ? -1 : 1;
        for (int k = 0; k < n; k++) v[(size_t)k * n + c] = sg * e[k];
    }
}

/* c (d, d) symmetric PSD → c^½ and c^-½, eigenvalues floored at 1e-8 of the largest. */
static void sym_sqrt(const double *c, int d, double *half, double *inv_half)
{
    double *a = pb_malloc((size_t)d * d * sizeof(double)), *v = pb_malloc((size_t)d * d * sizeof(double));
    double *w = pb_malloc((size_t)d * sizeof(double));
    memcpy(a, c, (size_t)d * d * sizeof(double));
    pb_sym_eig(a, d, w, v);
    double floor = (w[0] > 0 ? w[0] : 1.0) * 1e-8;
    for (int i = 0; i < d; i++) w[i] = w[i] > floor ? w[i] : floor;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double h = 0, ih = 0;
            for (int k = 0; k < d; k++) {
                double vv = v[i * d + k] * v[j * d + k];
                h += vv * sqrt(w[k]);
                ih += vv / sqrt(w[k]);
            }
            half[i * d + j] = h;
            inv_half[i * d + j] = ih;
        }
    free(a);
    free(v);
    free(w);
}

void indexer_fit(const indexer_moments *mq, const indexer_moments *mk, int r, float *wq, float *wk)
{
    const int d = mq->d;
    PB_CHECK(mk->d == d && r >= 1 && r <= d && mq->nq > 0 && mk->nk > 0, "indexer_fit: r %d, %g q and %g k samples",
             r, mq->nq, mk->nk);
    size_t dd = (size_t)d * d;
    double *buf = pb_malloc(9 * dd * sizeof(double));
    double *cq = buf, *ck = buf + dd, *qh = buf + 2 * dd, *qih = buf + 3 * dd, *kh = buf + 4 * dd,
           *kih = buf + 5 * dd, *mm = buf + 6 * dd, *mtm = buf + 7 * dd, *vv = buf + 8 * dd;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            int a = i < j ? i : j, b = i < j ? j : i;  /* upper triangle holds the sums */
            cq[i * d + j] = mq->qq[a * d + b] / mq->nq;
            ck[i * d + j] = mk->kk[a * d + b] / mk->nk - (mk->ks[i] / mk->nk) * (mk->ks[j] / mk->nk);
        }
    sym_sqrt(cq, d, qh, qih);
    sym_sqrt(ck, d, kh, kih);
    for (int i = 0; i < d; i++)        /* M = Cq^½ Ck^½ */
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += qh[i * d + k] * kh[k * d + j];
            mm[i * d + j] = s;
        }
    for (int i = 0; i < d; i++)        /* MᵀM = V Σ² Vᵀ */
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += mm[k * d + i] * mm[k * d + j];
            mtm[i * d + j] = s;
        }
    double *sig2 = pb_malloc((size_t)d * sizeof(double)), *u = pb_malloc((size_t)d * sizeof(double));
    pb_sym_eig(mtm, d, sig2, vv);
    for (int i = 0; i < r; i++) {
        double sig = sqrt(sig2[i] > 0 ? sig2[i] : 0);
        /* u_i = M v_i / σ_i */
        for (int a = 0; a < d; a++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += mm[a * d + k] * vv[k * d + i];
            u[a] = sig > 0 ? s / sig : 0;
        }
        double g = sqrt(sig);
        for (int j = 0; j < d; j++) {   /* W_Q[i] = √σ (Cq^-½ u)ᵀ, W_K[i] = √σ (Ck^-½ v)ᵀ */
            double sq = 0, sk = 0;
            for (int k = 0; k < d; k++) {
                sq += qih[j * d + k] * u[k];
                sk += kih[j * d + k] * vv[k * d + i];
            }
            wq[(size_t)i * d + j] = (float)(g * sq);
            wk[(size_t)i * d + j] = (float)(g * sk);
        }
    }
    free(sig2);
    free(u);
    free(buf);
}

void indexer_fit_dims(const indexer_moments *mq, const indexer_moments *mk, int r, const unsigned char *dims,
                      float *wq, float *wk)
{
    const int d = mq->d;
    if (!dims) {
        indexer_fit(mq, mk, r, wq, wk);
        return;
    }
    int *keep = pb_malloc((size_t)d * sizeof(int)), n = 0;
    for (int j = 0; j < d; j++)
        if (dims[j]) keep[n++] = j;
    PB_CHECK(r >= 1 && r <= n, "indexer_fit_dims: rank %d over %d kept dims", r, n);
    indexer_moments sq, sk;   /* the kept dims' moments: (n, n) sub-blocks, upper triangle as in the full ones */
    indexer_moments_init(&sq, n);
    indexer_moments_init(&sk, n);
    sq.nq = mq->nq;
    sk.nk = mk->nk;
    for (int a = 0; a < n; a++) {
        sk.ks[a] = mk->ks[keep[a]];
        for (int b = a; b < n; b++) {
            int i = keep[a], j = keep[b];   /* keep is ascending, so i <= j */
            sq.qq[a * n + b] = mq->qq[i * d + j];
            sk.kk[a * n + b] = mk->kk[i * d + j];
        }
    }
    float *rq = pb_malloc((size_t)r * n * sizeof(float)), *rk = pb_malloc((size_t)r * n * sizeof(float));
    indexer_fit(&sq, &sk, r, rq, rk);
    memset(wq, 0, (size_t)r * d * sizeof(float));
    memset(wk, 0, (size_t)r * d * sizeof(float));
    for (int i = 0; i < r; i++)
        for (int a = 0; a < n; a++) {
            wq[(size_t)i * d + keep[a]] = rq[(size_t)i * n + a];
            wk[(size_t)i * d + keep[a]] = rk[(size_t)i * n + a];
        }
    free(rq);
    free(rk);
    free(keep);
    indexer_moments_free(&sq);
    indexer_moments_free(&sk);
}

void indexer_band_dims(const model_config *c, int band, unsigned char *dims)
{
    const int d = c->head_dim, rd = c->rope_dim, half = rd / 2;
    PB_CHECK(band >= 1 && band <= half && rd <= d, "indexer_band_dims: band %d of %d RoPE pairs", band, half);
    memset(dims, 0, (size_t)d);
    for (int i = half - band; i < half; i++) {
        if (c->rope_style == ROPE_NEOX) {
            dims[i] = dims[i + half] = 1;
        } else {
            dims[2 * i] = dims[2 * i + 1] = 1;
        }
    }
}

typedef struct {
    const plan *p;
    indexer_moments *mq;    /* [n_layer * n_head], used for rtpurbo heads */
    indexer_moments *mk;    /* [n_layer * n_head_kv], used for their KV heads */
} calib_ctx;

static int is_indexed(const plan *p, int i)
{
    return p->kind[i] == HEAD_RTPURBO || p->kind[i] == HEAD_RTPURBO_TOPK;
}

static void calib_qk(void *user, int layer, int pos0, int n, const float *q, const float *k)
{
    (void)pos0;
    calib_ctx *cx = user;
    const plan *p = cx->p;
    const int d = p->head_dim, H = p->n_head, HKV = p->n_head_kv;
    for (int h = 0; h < H; h++)
        if (is_indexed(p, layer * H + h)) indexer_moments_add_q(&cx->mq[layer * H + h], q + (size_t)h * d, n, H * d);
    for (int g = 0; g < HKV; g++)
        if (cx->mk[layer * HKV + g].d) indexer_moments_add_k(&cx->mk[layer * HKV + g], k + (size_t)g * d, n, HKV * d);
}

void indexer_calibrate(plan *p, const model *m, const int *tokens, int n)
{
    const int H = p->n_head, HKV = p->n_head_kv, d = p->head_dim, nh = p->n_layer * H;
    plan_alloc_indexers(p);
    calib_ctx cx = {p, pb_calloc((size_t)nh, sizeof(indexer_moments)),
                    pb_calloc((size_t)p->n_layer * HKV, sizeof(indexer_moments))};
    for (int i = 0; i < nh; i++) {
        if (!is_indexed(p, i)) continue;
        int kv = (i / H) * HKV + (i % H) / (H / HKV);
        indexer_moments_init(&cx.mq[i], d);
        if (!cx.mk[kv].d) indexer_moments_init(&cx.mk[kv], d);
    }
    attn_observer obs = {.user = &cx, .on_qk = calib_qk};
    session *s = session_new(m, n);
    s->obs = &obs;
    session_eval(s, tokens, n, NULL, 0);
    session_free(s);
    for (int i = 0; i < nh; i++) {
        if (!is_indexed(p, i)) continue;
        int kv = (i / H) * HKV + (i % H) / (H / HKV);
        size_t off = (size_t)i * p->rank * d;
        indexer_fit(&cx.mq[i], &cx.mk[kv], p->rank, p->idx_q + off, p->idx_k + off);
    }
    for (int i = 0; i < nh; i++) indexer_moments_free(&cx.mq[i]);
    for (int i = 0; i < p->n_layer * HKV; i++) indexer_moments_free(&cx.mk[i]);
    free(cx.mq);
    free(cx.mk);
}

int indexer_calibrate_kjv(plan *p, const model *m, const tokenizer *tok, pb_err *err)
{
    size_t len;
    const char *text = text_kjv(&len, err);
    if (!text) return 0;
    int *ids;
    int n = tok_encode(tok, text, len < (size_t)p->prm.calib * 8 ? len : (size_t)p->prm.calib * 8, 0, &ids);
    if (n > p->prm.calib) n = p->prm.calib;
    double t0 = pb_now();
    indexer_calibrate(p, m, ids, n);
    fprintf(stderr, "%s: PCA indexers (r = %d) for %d heads from %d KJV tokens in %.1f s\n", p->name, p->rank,
            plan_count(p, HEAD_RTPURBO) + plan_count(p, HEAD_RTPURBO_TOPK), n, pb_now() - t0);
    free(ids);
    return 1;
}
