/* backend_cuda_policy.cu — the CUDA backend's sparse attention
 * (backend_cuda_policy.h): per call, the layer's non-dense heads grouped by
 * policy object, each group's description mapped onto one rule of
 * kernels/attn_rows.h and run over the call's rows.
 *
 * State per KV cache and layer, allocated when a rule first needs it:
 *   index keys kx (n_rows, n_ctx, r) f32 of the layer's rtpurbo heads only
 *   (row kx_row[h] of head h, as the CPU keeps them for those heads), written
 *   for the call's positions before its rows are scored (the CPU policy's
 *   on_append); the layer's W_Q, W_K (n_head, r, d), uploaded again whenever
 *   the host matrices differ from the copy last uploaded (a converter may
 *   train them in place); quest page bounds (n_head_kv, n_pages, d) of the
 *   layer, recomputed for the pages a call's keys touch, prefill included
 *   (the CPU policy's on_append), from the bf16 cache the kernels attend.
 * Kept counts: one u64 per (layer, head) on the device, atomically added by
 * the kernels, downloaded by cuda_pol_flush.
 */
#include "run/backend_cuda_policy.h"

#include <string.h>

#include "kernels/cuda/cuda_check.h"

extern "C" {
#include "run/attn_desc_rows.h"
}

struct cuda_pol {
    int n_layer, n_head, n_head_kv, d, n_ctx;
    unsigned long long *kept;   /* device [n_layer * n_head] */
    float **kx;                 /* [n_layer] device (kx_rows[l], n_ctx, kx_r[l]) or NULL */
    int *kx_r;
    int *kx_rows;               /* [n_layer] heads keeping index keys */
    int *kx_row;                /* [n_layer * n_head] their rows in kx, -1 for other heads */
    float **wq, **wk;           /* [n_layer] device (n_head, r, d) */
    float **wq_h, **wk_h;       /* [n_layer] host copies of what was uploaded */
    float **plo, **phi;         /* [n_layer] device (n_head_kv, n_pages, d) */
    int *page, *n_pages;        /* [n_layer] */
};

int cuda_pol_is_dense(const attn_policy *pol, int n, int layer, int head)
{
    int k = pol->desc.kind;
    PB_CHECK(k > ATTN_OPAQUE && k < ATTN_KINDS,
             "layer %d head %d: policy '%s' describes no rule the CUDA backend runs (use --backend cpu)", layer, head,
             pol->name);
    return k == ATTN_DENSE || (k == ATTN_QUEST && n > 1) || !attn_phase_acts(pol->desc.phase, n);
}

static cuda_pol *pol_new(const model_config *c, int n_ctx)
{
    cuda_pol *s = (cuda_pol *)pb_calloc(1, sizeof *s);
    s->n_layer = c->n_layer;
    s->n_head = c->n_head;
    s->n_head_kv = c->n_head_kv;
    s->d = c->head_dim;
    s->n_ctx = n_ctx;
    size_t L = (size_t)c->n_layer;
    CUDA_CHECK(cudaMalloc(&s->kept, L * c->n_head * sizeof *s->kept));
    CUDA_CHECK(cudaMemset(s->kept, 0, L * c->n_head * sizeof *s->kept));
    s->kx = (float **)pb_calloc(L, sizeof *s->kx);
    s->kx_r = (int *)pb_calloc(L, sizeof *s->kx_r);
    s->kx_rows = (int *)pb_calloc(L, sizeof *s->kx_rows);
    s->kx_row = (int *)pb_calloc(L * c->n_head, sizeof *s->kx_row);
    s->wq = (float **)pb_calloc(L, sizeof *s->wq);
    s->wk = (float **)pb_calloc(L, sizeof *s->wk);
    s->wq_h = (float **)pb_calloc(L, sizeof *s->wq_h);
    s->wk_h = (float **)pb_calloc(L, sizeof *s->wk_h);
    s->plo = (float **)pb_calloc(L, sizeof *s->plo);
    s->phi = (float **)pb_calloc(L, sizeof *s->phi);
    s->page = (int *)pb_calloc(L, sizeof *s->page);
    s->n_pages = (int *)pb_calloc(L, sizeof *s->n_pages);
    return s;
}

void cuda_pol_free(cuda_pol *s)
{
    if (!s) return;
    for (int l = 0; l < s->n_layer; l++) {
        void *dev[] = {s->kx[l], s->wq[l], s->wk[l], s->plo[l], s->phi[l]};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
            if (dev[i]) CUDA_CHECK(cudaFree(dev[i]));
        free(s->wq_h[l]);
        free(s->wk_h[l]);
    }
    CUDA_CHECK(cudaFree(s->kept));
    free(s->kx);
    free(s->kx_r);
    free(s->kx_rows);
    free(s->kx_row);
    free(s->wq);
    free(s->wk);
    free(s->wq_h);
    free(s->wk_h);
    free(s->plo);
    free(s->phi);
    free(s->page);
    free(s->n_pages);
    free(s);
}

void cuda_pol_flush(cuda_pol *s, attn_count *count, cudaStream_t stream)
{
    if (!s) return;
    size_t n = (size_t)s->n_layer * s->n_head;
    unsigned long long *h = (unsigned long long *)pb_malloc(n * sizeof *h);
    CUDA_CHECK(cudaMemcpyAsync(h, s->kept, n * sizeof *h, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    CUDA_CHECK(cudaMemsetAsync(s->kept, 0, n * sizeof *h, stream));
    for (size_t i = 0; i < n; i++) count[i].kept += (long long)h[i];
    free(h);
}

/* Uploads W (n_head, r, d) of layer l when it differs from the copy last uploaded. */
static void sync_matrix(float **dev, float **host, const float *w, size_t n, cudaStream_t stream)
{
    if (*host && !memcmp(*host, w, n * sizeof(float))) return;
    if (!*host) {
        *host = (float *)pb_malloc(n * sizeof(float));
        CUDA_CHECK(cudaMalloc(dev, n * sizeof(float)));
    }
    memcpy(*host, w, n * sizeof(float));
    /* from pageable memory: staged before the call returns; *host stays as it is until the next change */
    CUDA_CHECK(cudaMemcpyAsync(*dev, *host, n * sizeof(float), cudaMemcpyHostToDevice, stream));
}

/* The layer's indexer matrices and index keys for desc (rank r), the latter
 * for positions pos0 .. pos0+n-1 of the heads listed. */
static void index_keys(cuda_pol *s, int l, const attn_desc *desc, const bk_attn *a, const int *heads, int n_sel,
                       cudaStream_t stream)
{
    const int r = desc->rank, H = s->n_head, d = s->d;
    PB_CHECK(desc->idx_q && desc->idx_k && r >= 1 && r <= d, "layer %d: rtpurbo without indexers (rank %d)", l, r);
    int row[ATTN_ROWS_MAX_HEADS], n_rows = 0;  /* the layer's heads of the rtpurbo kinds */
    for (int h = 0; h < H; h++) {
        int k = a->policy[h]->desc.kind;
        row[h] = k == ATTN_RTPURBO || k == ATTN_RTPURBO_TOPK ? n_rows++ : -1;
    }
    int *rows_l = s->kx_row + (size_t)l * H;
    if (s->kx_r[l] != r || s->kx_rows[l] != n_rows || memcmp(rows_l, row, (size_t)H * sizeof *row)) {
        PB_CHECK(a->pos0 == 0, "layer %d: index keys begin at position %d, not 0", l, a->pos0);
        if (s->kx[l]) CUDA_CHECK(cudaFree(s->kx[l]));
        CUDA_CHECK(cudaMalloc(&s->kx[l], (size_t)n_rows * s->n_ctx * r * sizeof(float)));
        memcpy(rows_l, row, (size_t)H * sizeof *row);
        s->kx_rows[l] = n_rows;
    }
    if (s->kx_r[l] != r) {
        s->kx_r[l] = r;
        if (s->wq_h[l]) {  /* another rank: the matrices change size */
            free(s->wq_h[l]);
            free(s->wk_h[l]);
            CUDA_CHECK(cudaFree(s->wq[l]));
            CUDA_CHECK(cudaFree(s->wk[l]));
            s->wq_h[l] = s->wk_h[l] = NULL;
        }
    }
    size_t nw = (size_t)H * r * d, off = (size_t)l * nw;
    sync_matrix(&s->wq[l], &s->wq_h[l], desc->idx_q + off, nw, stream);
    sync_matrix(&s->wk[l], &s->wk_h[l], desc->idx_k + off, nw, stream);
    CUDA_CHECK((cudaError_t)attn_rows_index_keys_cuda(s->kx[l], s->n_ctx, a->k_pre, s->wk[l], a->pos0, a->n, H,
                                                      s->n_head_kv, d, r, heads, n_sel, rows_l, stream));
}

/* Quest page bounds of layer l for the call's keys (page size `page`), of
 * the n_kv KV heads a row of kc holds. */
static void quest_bounds(cuda_pol *s, int l, int page, const bk_attn *a, const uint16_t *kc, int n_kv,
                         cudaStream_t stream)
{
    if (s->page[l] != page) {
        if (s->plo[l]) {
            CUDA_CHECK(cudaFree(s->plo[l]));
            CUDA_CHECK(cudaFree(s->phi[l]));
        }
        s->n_pages[l] = (s->n_ctx + page - 1) / page;
        size_t bytes = (size_t)s->n_head_kv * s->n_pages[l] * s->d * sizeof(float);
        CUDA_CHECK(cudaMalloc(&s->plo[l], bytes));
        CUDA_CHECK(cudaMalloc(&s->phi[l], bytes));
        s->page[l] = page;
        PB_CHECK(a->pos0 == 0, "layer %d: quest page bounds begin at position %d, not 0", l, a->pos0);
    }
    CUDA_CHECK((cudaError_t)attn_rows_quest_bounds_cuda(s->plo[l], s->phi[l], s->n_pages[l], kc, a->pos0, a->n,
                                                        n_kv, s->d, page, stream));
}

void cuda_pol_attend(cuda_pol **st, const model_config *c, const bk_attn *a, const cuda_kv_view *kv,
                     cudaStream_t stream)
{
    const int H = c->n_head, l = a->layer, n = a->n, pos0 = a->pos0, group = H / c->n_head_kv;
    PB_CHECK(H <= ATTN_ROWS_MAX_HEADS, "%d query heads: the CUDA policies take at most %d", H, ATTN_ROWS_MAX_HEADS);
    int done[ATTN_ROWS_MAX_HEADS] = {0}, any = 0;
    for (int h = 0; h < H; h++) {
        done[h] = kv->kv_ld && kv->kv_slot[h / group] < 0;  /* kept elsewhere: the caller's */
        any |= !done[h] && a->policy[h]->desc.kind != ATTN_DENSE;
    }
    if (!any) return;
    if (!*st) *st = pol_new(c, kv->n_ctx);
    cuda_pol *s = *st;
    /* quest bounds follow every call's keys, prefill included */
    for (int h = 0; h < H; h++)
        if (!done[h] && a->policy[h]->desc.kind == ATTN_QUEST) {
            quest_bounds(s, l, a->policy[h]->desc.page, a, kv->kc, kv->kv_ld ? kv->kv_ld : c->n_head_kv, stream);
            break;
        }
    for (int h0 = 0; h0 < H; h0++) {
        const attn_policy *pol = a->policy[h0];
        if (done[h0] || pol->desc.kind == ATTN_DENSE) continue;
        attn_rows_args g;
        memset(&g, 0, sizeof g);
        for (int h = h0; h < H; h++)
            if (!done[h] && a->policy[h] == pol) {
                g.heads[g.n_sel++] = h;
                done[h] = 1;
            }
        const attn_desc *ds = &pol->desc;
        const int idx = ds->kind == ATTN_RTPURBO || ds->kind == ATTN_RTPURBO_TOPK;
        if (cuda_pol_is_dense(pol, n, l, h0)) {
            /* dense in this phase: the index keys still follow every key */
            if (idx) index_keys(s, l, ds, a, g.heads, g.n_sel, stream);
            continue;
        }
        attn_rows_rule rule;
        PB_CHECK(attn_desc_rows(ds, &rule), "layer %d head %d: no row rule for kind %d", l, h0, ds->kind);
        if (rule.rule == ROWS_RTPURBO || rule.rule == ROWS_RTPURBO_TOPK) {
            index_keys(s, l, ds, a, g.heads, g.n_sel, stream);
            g.wq = s->wq[l];
            g.kx = s->kx[l];
            g.kx_ld = s->n_ctx;
            g.kx_rows = s->kx_rows[l];
            memcpy(g.kx_row, s->kx_row + (size_t)l * H, (size_t)H * sizeof *g.kx_row);
        }
        if (rule.rule == ROWS_QUEST) {
            PB_CHECK(s->page[l] == ds->page, "layer %d: quest heads with pages of %d and %d", l, s->page[l], ds->page);
            g.page_lo = s->plo[l];
            g.page_hi = s->phi[l];
            g.n_pages = s->n_pages[l];
        }
        g.q = a->q;
        g.q_pre = a->q_pre;
        g.k = kv->kc;
        g.v = kv->vc;
        g.kv_ld = kv->kv_ld;
        memcpy(g.kv_slot, kv->kv_slot, sizeof g.kv_slot);
        g.out = (uint16_t *)a->out;
        g.kept = s->kept + (size_t)l * H;
        g.n_q = n;
        g.q_pos0 = pos0;
        g.n_head = H;
        g.n_kv_head = c->n_head_kv;
        g.d = c->head_dim;
        CUDA_CHECK((cudaError_t)attn_rows_cuda(&rule, &g, stream));
        if (a->count)
            for (int i = 0; i < g.n_sel; i++)
                a->count[g.heads[i]].visible += (long long)n * pos0 + (long long)n * (n + 1) / 2;
    }
}
