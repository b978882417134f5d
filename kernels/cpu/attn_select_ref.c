/* attn_select_ref.c — the CPU twins of the block selection kernels
 * (kernels/cuda/attn_select.cu, attn_index.cu): the rtpurbo policy's rule
 * (forced sink and recent blocks, top-p by decreasing block mass, the kmin
 * floor) over given block log-masses, written as block lists; and the
 * decode indexer's anchored block log-masses. Contract: kernels/attn_sparse.h.
 *
 * Plain on purpose: masses in float as the kernel computes them (exp of the
 * block LSE minus the item's LSE), a full sort (qsort, ties by lower block),
 * cumulative mass in double, then the prefix rule.
 */
#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"

#include <math.h>
#include <stdlib.h>

typedef struct { float m; int b; } ranked;

static int by_mass(const void *x, const void *y)
{
    const ranked *a = x, *b = y;
    if (a->m != b->m) return a->m > b->m ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

void attn_select_topp_ref(const float *blse, size_t ld, int n_q, int q_offset, int n_head,
                          const attn_select_params *prm, int64_t *off, int32_t *idx)
{
    if (n_q <= 0 || n_head <= 0 || q_offset < 0) abort(); /* a caller bug */
    const int n_qb = (n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    const int v_max = (q_offset + n_q - 1) / ATTN_SBLOCK + 1;
    ranked *r = malloc(sizeof *r * (size_t)v_max);
    unsigned char *keep = malloc((size_t)v_max), *forced = malloc((size_t)v_max);
    if (!r || !keep || !forced) abort();
    int64_t n_out = 0;
    off[0] = 0;
    for (int64_t it = 0; it < (int64_t)n_qb * n_head; it++) {
        const int qb = (int)(it / n_head);
        const int row_last = qb * ATTN_SBLOCK + ATTN_SBLOCK - 1 < n_q ? qb * ATTN_SBLOCK + ATTN_SBLOCK - 1 : n_q - 1;
        const int last = q_offset + row_last;
        const int first = q_offset + qb * ATTN_SBLOCK, V = last / ATTN_SBLOCK + 1;
        const float *row = blse + (size_t)it * ld;
        const int sink_end = prm->sink < first + 1 ? prm->sink : first + 1;
        const int local_first = first - prm->local + 1 > 0 ? first - prm->local + 1 : 0;
        const int local_lo = prm->local > 0 ? local_first / ATTN_SBLOCK : V;
        int n_free = 0;
        for (int b = 0; b < V; b++) {
            forced[b] = b * ATTN_SBLOCK < sink_end || b >= local_lo;
            keep[b] = forced[b];
            n_free += !forced[b];
        }
        if (prm->p >= 1.0) {
            for (int b = 0; b < V; b++) keep[b] = 1;
        } else {
            float mx = -INFINITY;
            for (int b = 0; b < V; b++) mx = row[b] > mx ? row[b] : mx;
            double sum = 0.0;
            for (int b = 0; b < V; b++) sum += exp((double)row[b] - mx);
            const float lse = (float)(mx + log(sum));
            for (int b = 0; b < V; b++) r[b] = (ranked){expf(row[b] - lse), b};
            qsort(r, (size_t)V, sizeof *r, by_mass);
            const int kmin = prm->kmin < n_free ? prm->kmin : n_free;
            double cum = 0.0;
            int added = 0;
            for (int k = 0; k < V && (cum < prm->p || added < kmin); k++) {
                cum += r[k].m;
                if (!forced[r[k].b]) added++;
                keep[r[k].b] = 1;
            }
        }
        for (int b = 0; b < V; b++)
            if (keep[b]) idx[n_out++] = b;
        off[it + 1] = n_out;
    }
    free(r);
    free(keep);
    free(forced);
}

void attn_index_decode_ref(const float *qx, const uint16_t *kx, const uint16_t *q, const uint16_t *k,
                           float *blse, size_t ld, int kv_len, int n_head, int n_kv_head, int d, int r,
                           const attn_select_params *prm)
{
    if (kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || d <= 0 || r <= 0) abort();
    const int G = n_head / n_kv_head, p = kv_len - 1, V = p / ATTN_SBLOCK + 1;
    const float scale = 1.0f / sqrtf((float)d);
    const int sink_end = prm->sink < p + 1 ? prm->sink : p + 1;
    const int local_lo = prm->local > 0 ? (p - prm->local + 1 > 0 ? p - prm->local + 1 : 0) / ATTN_SBLOCK : V;
    for (int h = 0; h < n_head; h++) {
        for (int b = 0; b < V; b++) {
            const int forced = b * ATTN_SBLOCK < sink_end || b >= local_lo;
            const int j1 = (b + 1) * ATTN_SBLOCK < kv_len ? (b + 1) * ATTN_SBLOCK : kv_len;
            float s[ATTN_SBLOCK], mx = -INFINITY;
            for (int j = b * ATTN_SBLOCK; j < j1; j++) {
                float dot = 0.0f;
                if (forced) {
                    for (int c = 0; c < d; c++)
                        dot += attn_bf16_to_f32(q[(size_t)h * d + c]) *
                               attn_bf16_to_f32(k[((size_t)j * n_kv_head + h / G) * d + c]);
                } else {
                    for (int c = 0; c < r; c++)
                        dot += qx[(size_t)h * r + c] * attn_bf16_to_f32(kx[((size_t)h * kv_len + j) * r + c]);
                }
                s[j - b * ATTN_SBLOCK] = dot * scale;
                mx = s[j - b * ATTN_SBLOCK] > mx ? s[j - b * ATTN_SBLOCK] : mx;
            }
            double sum = 0.0;
            for (int j = 0; j < j1 - b * ATTN_SBLOCK; j++) sum += exp((double)s[j] - mx);
            blse[(size_t)h * ld + b] = (float)(mx + log(sum));
        }
    }
}
