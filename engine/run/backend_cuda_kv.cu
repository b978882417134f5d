/* backend_cuda_kv.cu — the CUDA backend's KV cache: storage per layer (a
 * full part for the global KV heads, a ring part for the local ones), the
 * append, and the attention of a layer with a ring (backend_cuda_kv.h).
 *
 * A layer mixing both kinds hands each part's kernels compact rows: the
 * query heads of its ring heads gathered into (n, n_loc * group, d) bf16
 * for the local kernels, those of its global heads into (n, n_glob * group,
 * d) for the dense kernel, each output scattered back into the call's rows
 * (kernels/attn_heads.h); the global heads' policies read the full part
 * through a slot map (cuda_kv_view). An all-local layer skips the gathers.
 * Everything runs on the caller's stream in issue order.
 */
#include "run/backend_cuda_kv.h"

#include <string.h>

#include "kernels/attn_heads.h"
#include "kernels/attn_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

void cuda_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return;
    if (*p) CUDA_CHECK(cudaFree(*p));
    CUDA_CHECK(cudaMalloc(p, need * size));
    *cap = need;
}

void cuda_scratch_free(cuda_scratch *s)
{
    void *p[] = {s->qb, s->ob, s->lse, s->work};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        if (p[i]) CUDA_CHECK(cudaFree(p[i]));
    memset(s, 0, sizeof *s);
}

/* Elements of layer l's full part and ring part. */
static size_t full_elems(const model_config *c, const bk_kv *kv, int l)
{
    return (size_t)kv->n_ctx * (c->n_head_kv - kv->n_loc[l]) * c->head_dim;
}

static size_t ring_elems(const model_config *c, const bk_kv *kv, int l)
{
    const kv_ring r = kv->ring[l];
    return (size_t)(r.n_sink + r.window) * kv->n_loc[l] * c->head_dim;
}

uint16_t *cuda_kv_full_k(const model_config *c, const bk_kv *kv, int l)
{
    (void)c;
    return kv->kc + kv->off[l];
}

uint16_t *cuda_kv_full_v(const model_config *c, const bk_kv *kv, int l)
{
    (void)c;
    return kv->vc + kv->off[l];
}

/* (Re)allocates the storage for kv->ring, n_loc. */
static void kv_alloc(const model_config *c, bk_kv *kv)
{
    size_t n = 0;
    kv->n_ring = 0;
    for (int l = 0; l < c->n_layer; l++) {
        kv->off[l] = n;
        n += full_elems(c, kv, l) + ring_elems(c, kv, l);
        kv->n_ring += kv->n_loc[l] > 0;
    }
    if (kv->kc) CUDA_CHECK(cudaFree(kv->kc));
    if (kv->vc) CUDA_CHECK(cudaFree(kv->vc));
    CUDA_CHECK(cudaMalloc(&kv->kc, (n ? n : 1) * sizeof(uint16_t)));
    CUDA_CHECK(cudaMalloc(&kv->vc, (n ? n : 1) * sizeof(uint16_t)));
}

bk_kv *cuda_kv_new(const model_config *c, int n_ctx)
{
    bk_kv *kv = (bk_kv *)pb_calloc(1, sizeof *kv);
    kv->n_ctx = n_ctx;
    kv->off = (size_t *)pb_calloc((size_t)c->n_layer, sizeof *kv->off);
    kv->ring = (kv_ring *)pb_calloc((size_t)c->n_layer, sizeof *kv->ring);
    kv->local = (unsigned char *)pb_calloc((size_t)c->n_layer * c->n_head_kv, 1);
    kv->n_loc = (int *)pb_calloc((size_t)c->n_layer, sizeof *kv->n_loc);
    kv_alloc(c, kv);
    return kv;
}

void cuda_kv_free(bk_kv *kv)
{
    if (!kv) return;
    CUDA_CHECK(cudaFree(kv->kc));
    CUDA_CHECK(cudaFree(kv->vc));
    if (kv->ck) CUDA_CHECK(cudaFree(kv->ck));
    if (kv->cv) CUDA_CHECK(cudaFree(kv->cv));
    cuda_pol_free(kv->pol);
    free(kv->off);
    free(kv->ring);
    free(kv->local);
    free(kv->n_loc);
    free(kv);
}

void cuda_kv_set_layout(const model_config *c, bk_kv *kv, const kv_ring *layout, cudaStream_t st)
{
    const int HKV = c->n_head_kv;
    for (int l = 0; l < c->n_layer; l++) {
        kv_ring r = {0, 0};
        int same = 1, n_loc = 0;
        for (int g = 0; g < HKV; g++) {
            kv_ring x = layout[(size_t)l * HKV + g];
            PB_CHECK(x.n_sink >= 0 && x.window >= 0, "bad ring (%d, %d)", x.n_sink, x.window);
            int ring = x.window != 0 && x.n_sink + x.window < kv->n_ctx;  /* the CPU backend's rule per head */
            kv->local[(size_t)l * HKV + g] = (unsigned char)ring;
            if (!ring) continue;
            if (n_loc++ == 0) r = x;
            same &= x.n_sink == r.n_sink && x.window == r.window;
        }
        if (!same) {  /* rings of two shapes in one layer: the layer stays full */
            memset(kv->local + (size_t)l * HKV, 0, (size_t)HKV);
            n_loc = 0;
            r = kv_ring{0, 0};
        }
        kv->ring[l] = r;
        kv->n_loc[l] = n_loc;
    }
    CUDA_CHECK(cudaStreamSynchronize(st)); /* no kernel still reads the old storage */
    kv_alloc(c, kv);
}

size_t cuda_kv_bytes(const model_config *c, const bk_kv *kv, int full)
{
    size_t n = 0;
    for (int l = 0; l < c->n_layer; l++)
        n += full ? (size_t)kv->n_ctx * c->n_head_kv * c->head_dim : full_elems(c, kv, l) + ring_elems(c, kv, l);
    return 2 * n * sizeof(uint16_t);
}

/* The KV heads of layer l of one kind (local 1: the ring's) in order, and
 * their query heads (map_q, n_kv * group of them); returns n_kv. */
static int heads_of(const model_config *c, const bk_kv *kv, int l, int local, int *map_kv, int *map_q)
{
    const int HKV = c->n_head_kv, group = c->n_head / HKV;
    int n = 0;
    for (int g = 0; g < HKV; g++) {
        if (kv->local[(size_t)l * HKV + g] != local) continue;
        for (int i = 0; map_q && i < group; i++) map_q[n * group + i] = g * group + i;
        map_kv[n++] = g;
    }
    return n;
}

/* The ring part of layer l. */
static uint16_t *ring_k(const model_config *c, const bk_kv *kv, int l)
{
    return kv->kc + kv->off[l] + full_elems(c, kv, l);
}

static uint16_t *ring_v(const model_config *c, const bk_kv *kv, int l)
{
    return kv->vc + kv->off[l] + full_elems(c, kv, l);
}

void cuda_kv_append_layer(const model_config *c, bk_kv *kv, int l, int pos0, int n, const float *k, const float *v,
                          cudaStream_t st)
{
    PB_CHECK(pos0 + n <= kv->n_ctx, "KV append at %d + %d beyond %d", pos0, n, kv->n_ctx);
    const int HKV = c->n_head_kv, d = c->head_dim, nl = kv->n_loc[l], ng = HKV - nl;
    if (!nl) {
        const size_t at = kv->off[l] + (size_t)pos0 * HKV * d;
        cuda_kv_append(kv->kc + at, kv->vc + at, k, v, (long)n * HKV * d, st);
        return;
    }
    int map[ATTN_HEADS_MAX];
    PB_CHECK(HKV <= ATTN_HEADS_MAX, "%d KV heads: a layer with a ring takes at most %d", HKV, ATTN_HEADS_MAX);
    if (ng) {  /* the global heads into the full part at once */
        const size_t at = kv->off[l] + (size_t)pos0 * ng * d;
        heads_of(c, kv, l, 0, map, NULL);
        CUDA_CHECK((cudaError_t)attn_heads_gather_cuda(kv->kc + at, k, n, HKV, map, ng, d, st));
        CUDA_CHECK((cudaError_t)attn_heads_gather_cuda(kv->vc + at, v, n, HKV, map, ng, d, st));
    }
    const size_t elems = (size_t)n * nl * d;
    if (elems > kv->ck_cap) {
        if (kv->ck) CUDA_CHECK(cudaFree(kv->ck));
        if (kv->cv) CUDA_CHECK(cudaFree(kv->cv));
        CUDA_CHECK(cudaMalloc(&kv->ck, elems * sizeof(uint16_t)));
        CUDA_CHECK(cudaMalloc(&kv->cv, elems * sizeof(uint16_t)));
        kv->ck_cap = elems;
    }
    if (nl == HKV) {
        cuda_kv_append(kv->ck, kv->cv, k, v, (long)elems, st);
    } else {
        heads_of(c, kv, l, 1, map, NULL);
        CUDA_CHECK((cudaError_t)attn_heads_gather_cuda(kv->ck, k, n, HKV, map, nl, d, st));
        CUDA_CHECK((cudaError_t)attn_heads_gather_cuda(kv->cv, v, n, HKV, map, nl, d, st));
    }
    const kv_ring r = kv->ring[l];
    if (n == 1)  /* a decode token is stored at once: it overwrites only a position it does not see */
        CUDA_CHECK((cudaError_t)attn_local_store_cuda(ring_k(c, kv, l), ring_v(c, kv, l), kv->ck, kv->cv, pos0, 1,
                                                      r.n_sink, r.window, nl, d, st));
}

void cuda_attend_dense(cuda_scratch *s, const uint16_t *q, const uint16_t *k, const uint16_t *v, void *out, int n,
                       int pos0, int H, int HKV, int d, int W, cudaStream_t st)
{
    const int kv_len = pos0 + n;
    if (n == 1) {
        size_t need = attn_decode_workspace(W && W < kv_len ? W : kv_len, H, HKV, d);
        cuda_grow(&s->work, &s->work_cap, need, 1);
        CUDA_CHECK((cudaError_t)attn_decode_window_cuda(q, k, v, out, NULL, kv_len, H, HKV, d, W, s->work,
                                                        s->work_cap, st));
    } else {
        cuda_grow((void **)&s->lse, &s->lse_cap, (size_t)n * H, sizeof(float));
        CUDA_CHECK((cudaError_t)attn_prefill_window_cuda(q, k, v, out, s->lse, n, kv_len, pos0, H, HKV, d, W, st));
    }
}

/* q of the query heads map_q (n_q of them; all: n_q == n_head) in bf16 into s->qb. */
static void q_heads(const model_config *c, cuda_scratch *s, const bk_attn *a, const int *map_q, int n_q,
                    cudaStream_t st)
{
    const size_t nq = (size_t)a->n * n_q * c->head_dim;
    cuda_grow((void **)&s->qb, &s->qb_cap, nq, sizeof(uint16_t));
    if (n_q == c->n_head) cuda_to_bf16(s->qb, a->q, (long)nq, st);
    else CUDA_CHECK((cudaError_t)attn_heads_gather_cuda(s->qb, a->q, a->n, c->n_head, map_q, n_q, c->head_dim, st));
}

/* Where the n_q query heads' outputs go: a->out directly when they are all heads, else s->ob. */
static void *out_heads(const model_config *c, cuda_scratch *s, const bk_attn *a, int n_q)
{
    if (n_q == c->n_head) return a->out;
    cuda_grow((void **)&s->ob, &s->ob_cap, (size_t)a->n * n_q * c->head_dim, sizeof(uint16_t));
    return s->ob;
}

static void out_back(const model_config *c, cuda_scratch *s, const bk_attn *a, const int *map_q, int n_q,
                     cudaStream_t st)
{
    if (n_q == c->n_head) return;
    CUDA_CHECK((cudaError_t)attn_heads_scatter_cuda((uint16_t *)a->out, c->n_head, s->ob, a->n, map_q, n_q,
                                                    c->head_dim, st));
}

/* The ring heads of call a: local prefill over ring + chunk, then the chunk
 * stored; or (one token, already stored) the local decode over the ring. */
static void attend_ring_heads(const model_config *c, bk_kv *kv, cuda_scratch *s, const bk_attn *a, cudaStream_t st)
{
    const int l = a->layer, d = c->head_dim, n = a->n, pos0 = a->pos0, group = c->n_head / c->n_head_kv;
    const int nl = kv->n_loc[l], S = kv->ring[l].n_sink, W = kv->ring[l].window;
    int map_kv[ATTN_HEADS_MAX], map_q[ATTN_ROWS_MAX_HEADS];
    heads_of(c, kv, l, 1, map_kv, map_q);
    const int nq = nl * group;
    for (int i = 0; i < nq; i++) {
        const int h = map_q[i];
        const attn_desc *ds = &a->policy[h]->desc;
        PB_CHECK(ds->kind == ATTN_LOCAL && ds->sink == S && ds->window == W,
                 "layer %d head %d: policy '%s' on a ring of %d + %d rows (only local heads of the same sink and "
                 "window run there)", l, h, a->policy[h]->name, S, W);
    }
    q_heads(c, s, a, map_q, nq, st);
    void *out = out_heads(c, s, a, nq);
    uint16_t *kr = ring_k(c, kv, l), *vr = ring_v(c, kv, l);
    if (n == 1) {
        cuda_grow(&s->work, &s->work_cap, attn_local_decode_workspace(S, W, nq, nl, d), 1);
        CUDA_CHECK((cudaError_t)attn_local_decode_cuda(s->qb, kr, vr, out, NULL, pos0, S, W, nq, nl, d, s->work,
                                                       s->work_cap, st));
    } else {
        CUDA_CHECK((cudaError_t)attn_local_prefill_cuda(s->qb, kr, vr, kv->ck, kv->cv, out, NULL, n, pos0, S, W, nq,
                                                        nl, d, st));
        CUDA_CHECK((cudaError_t)attn_local_store_cuda(kr, vr, kv->ck, kv->cv, pos0, n, S, W, nl, d, st));
    }
    out_back(c, s, a, map_q, nq, st);
    if (!a->count) return;
    long long kept = 0; /* per query p: min(S, p+1) sinks + the window positions >= S */
    for (int p = pos0; p < pos0 + n; p++) {
        int lo = p - W + 1 > S ? p - W + 1 : S;
        kept += (S < p + 1 ? S : p + 1) + (p + 1 > lo ? p + 1 - lo : 0);
    }
    const long long vis = attn_visible_pairs(pos0, n, a->window);
    for (int i = 0; i < nq; i++) {
        a->count[map_q[i]].kept += kept;
        a->count[map_q[i]].visible += vis;
    }
}

void cuda_kv_attend_ring(const model_config *c, bk_kv *kv, cuda_scratch *s, const bk_attn *a, cudaStream_t st)
{
    const int l = a->layer, HKV = c->n_head_kv, group = c->n_head / HKV, ng = HKV - kv->n_loc[l];
    PB_CHECK(c->n_head <= ATTN_ROWS_MAX_HEADS, "%d query heads: the CUDA backend takes at most %d", c->n_head,
             ATTN_ROWS_MAX_HEADS);
    PB_CHECK(!a->obs || !a->obs->on_rows, "attention rows (the probes' observers) of layers with rings run on the "
             "CPU backend only");
    attend_ring_heads(c, kv, s, a, st);
    if (!ng) return;
    /* the global heads: dense kernel over the full part for the dense ones, then their policies */
    int map_kv[ATTN_HEADS_MAX], map_q[ATTN_ROWS_MAX_HEADS], dense = 0;
    heads_of(c, kv, l, 0, map_kv, map_q);
    const int nq = ng * group;
    for (int i = 0; i < nq; i++) dense += cuda_pol_is_dense(a->policy[map_q[i]], a->n, l, map_q[i]);
    const uint16_t *kf = cuda_kv_full_k(c, kv, l), *vf = cuda_kv_full_v(c, kv, l);
    if (dense) {
        q_heads(c, s, a, map_q, nq, st);
        cuda_attend_dense(s, s->qb, kf, vf, out_heads(c, s, a, nq), a->n, a->pos0, nq, ng, c->head_dim, a->window, st);
        out_back(c, s, a, map_q, nq, st);
    }
    cuda_kv_view view;
    memset(&view, 0, sizeof view);
    view.kc = kf;
    view.vc = vf;
    view.n_ctx = kv->n_ctx;
    view.kv_ld = ng;
    for (int g = 0; g < HKV; g++) view.kv_slot[g] = -1;
    for (int i = 0; i < ng; i++) view.kv_slot[map_kv[i]] = i;
    cuda_pol_attend(&kv->pol, c, a, &view, st);
    if (a->count)  /* dense heads: every visible pair */
        for (int i = 0; i < nq; i++)
            if (cuda_pol_is_dense(a->policy[map_q[i]], a->n, l, map_q[i])) {
                long long vis = attn_visible_pairs(a->pos0, a->n, a->window);
                a->count[map_q[i]].kept += vis;
                a->count[map_q[i]].visible += vis;
            }
}
