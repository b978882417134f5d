/* layer_ref.c — the host half of layer_time.h: the head split, the planting
 * rule's boost, KV bytes, the needle count, planted block scores on the
 * host, and the CPU twin of one layer launch composed of the attention
 * twins (attn_ref.c, attn_select_ref.c). Plain loops; the twin is the
 * oracle of tests/gpu/test_cuda_layer.c, not a timed path. */
#include "kernels/layer_time.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/attn_kernels.h"
#include "kernels/attn_time.h"
#include "base/common.h"

void layer_split_heads(const layer_case *c, layer_split *s)
{
    int g = c->n_head / c->n_kv_head, kv = (int)lround(c->rho * c->n_kv_head);
    if (kv < 1) kv = 1;
    if (kv > c->n_kv_head) kv = c->n_kv_head;
    s->ret_kv = kv;
    s->ret_heads = kv * g;
    s->loc_kv = c->n_kv_head - kv;
    s->loc_heads = s->loc_kv * g;
    s->r = c->d / 8;
}

double layer_boost(double f, double p)
{
    if (p >= 1) return 0;
    double q = p + (1 - p) / 10;
    if (!(f > 0) || f >= q) return 0;
    return log(q * (1 - f) / (f * (1 - q)));
}

int64_t layer_kv_bytes(const layer_case *c, int64_t *dense)
{
    layer_split s;
    layer_split_heads(c, &s);
    int64_t n = c->n_ctx, loc_rows = n < (int64_t)c->sink + c->window ? n : (int64_t)c->sink + c->window;
    *dense = n * c->n_kv_head * c->d * 4;
    return n * s.ret_kv * c->d * 4 + n * s.ret_heads * s.r * 2 + loc_rows * s.loc_kv * c->d * 4;
}

attn_select_params layer_select_params(const layer_case *c)
{
    return (attn_select_params){.sink = c->sink, .local = c->local, .kmin = c->kmin, .p = c->p};
}

int layer_needles_found(const int64_t *off, const int32_t *idx, int n_items, int needles, int nb, int *total)
{
    int found = 0;
    *total = 0;
    for (int k = 0; k < needles; k++) {
        int b = layer_needle_block(k, needles, nb);
        if (b < 0) continue;
        for (int i = 0; i < n_items; i++) {
            ++*total;
            for (int64_t e = off[i]; e < off[i + 1]; e++)
                if (idx[e - off[0]] == b) {
                    found++;
                    break;
                }
        }
    }
    return found;
}

void layer_planted_index_host(float *qx, uint16_t *kx, int n_q, int n, int H, int R, int d, uint64_t seed, float f,
                              float boost, int needles, int nb)
{
    for (size_t i = 0; i < (size_t)n_q * H * R; i++) qx[i] = layer_planted_qx(seed, i, H, R);
    for (size_t i = 0; i < (size_t)n * H * R; i++)
        kx[i] = attn_f32_to_bf16(layer_planted_kx(seed, i, n, H, R, d, f, boost, needles, nb));
}

void layer_planted_blse_host(float *blse, size_t ld, int n_q, int q_offset, int heads, uint64_t seed, float f,
                             float boost, int needles, int nb)
{
    int nqb = (n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    for (int qb = 0; qb < nqb; qb++) {
        int last = q_offset + (qb * ATTN_SBLOCK + ATTN_SBLOCK - 1 < n_q ? qb * ATTN_SBLOCK + ATTN_SBLOCK - 1 : n_q - 1);
        for (int h = 0; h < heads; h++)
            for (int b = 0; b <= last / ATTN_SBLOCK; b++)
                blse[((size_t)qb * heads + h) * ld + b] = layer_planted_blse(seed, b, h, f, boost, needles, nb);
    }
}

void layer_ref(const layer_case *c, const layer_host *h, uint32_t seed, int index, float *blse, int64_t *off,
               int32_t *idx, float *out_ret, float *out_loc, int row0, int n_rows)
{
    layer_split s;
    layer_split_heads(c, &s);
    const attn_select_params prm = layer_select_params(c);
    const int n = c->n_ctx, d = c->d, nb = (n + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    if (c->phase == ATTN_TIME_DECODE) {
        if (index)
            attn_index_decode_ref(h->qx, h->kx, h->q_ret, h->k_ret, blse, (size_t)nb, n, s.ret_heads, s.ret_kv, d,
                                  s.r, &prm);
        attn_select_topp_ref(blse, (size_t)nb, 1, n - 1, s.ret_heads, &prm, off, idx);
        attn_sparse_decode_ref(h->q_ret, h->k_ret, h->v_ret, off, idx, out_ret, NULL, n, s.ret_heads, s.ret_kv, d);
        if (s.loc_heads)
            attn_local_decode_ref(h->q_loc, h->k_loc, h->v_loc, out_loc, NULL, n - 1, c->sink, c->window, s.loc_heads,
                                  s.loc_kv, d);
        return;
    }
    (void)seed;
    if (index)
        (c->index_mean ? attn_index_prefill_mean_ref : attn_index_prefill_ref)(
            h->qx, h->kx, h->q_ret, h->k_ret, blse, (size_t)nb, n, n, 0, s.ret_heads, s.ret_kv, d, s.r, &prm);
    attn_select_topp_ref(blse, (size_t)nb, n, 0, s.ret_heads, &prm, off, idx);
    attn_sparse_prefill_ref(h->q_ret, h->k_ret, h->v_ret, off, idx, out_ret, NULL, n, n, 0, s.ret_heads, s.ret_kv, d,
                            row0, n_rows);
    if (!s.loc_heads) return;
    /* the ring of the positions before row0, then rows row0 .. as a chunk */
    const size_t ring = (size_t)(c->sink + c->window) * s.loc_kv * d;
    uint16_t *kr = pb_calloc(ring, sizeof *kr), *vr = pb_calloc(ring, sizeof *vr);
    if (row0) attn_local_store_ref(kr, vr, h->k_loc, h->v_loc, 0, row0, c->sink, c->window, s.loc_kv, d);
    const size_t at = (size_t)row0 * s.loc_kv * d;
    attn_local_prefill_ref(h->q_loc + (size_t)row0 * s.loc_heads * d, kr, vr, h->k_loc + at, h->v_loc + at,
                           out_loc + (size_t)row0 * s.loc_heads * d, NULL, n_rows, row0, c->sink, c->window,
                           s.loc_heads, s.loc_kv, d);
    free(kr);
    free(vr);
}
