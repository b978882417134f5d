/* attn_select_ref.c — the CPU twins of the block selection kernels
 * (kernels/cuda/attn_select.cu, attn_index.cu, attn_index_prefill.cu): the rtpurbo policy's rule
 * (forced sink and recent blocks, top-p by decreasing block mass, the kmin
 * floor) over given block log-masses, written as block lists; and the
 * decode and prefill indexers' anchored block log-masses; the KV append
 * that writes the index keys. Contract: kernels/attn_sparse.h.
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

/* scale * (q_t . k_j over d, exact) when forced, else scale * (x . kx_j over r). */
static float index_score(const float *x, const uint16_t *kxj, const uint16_t *qt, const uint16_t *kj, int forced,
                         int d, int r, float scale)
{
    float dot = 0.0f;
    if (forced) {
        for (int c = 0; c < d; c++) dot += attn_bf16_to_f32(qt[c]) * attn_bf16_to_f32(kj[c]);
    } else {
        for (int c = 0; c < r; c++) dot += x[c] * attn_bf16_to_f32(kxj[c]);
    }
    return dot * scale;
}

/* log(sum exp) of n scores (-inf when all are -inf). */
static float block_lse(const float *s, int n)
{
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    if (mx == -INFINITY) return -INFINITY;
    double sum = 0.0;
    for (int j = 0; j < n; j++) sum += exp((double)s[j] - mx);
    return (float)(mx + log(sum));
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
            float s[ATTN_SBLOCK];
            for (int j = b * ATTN_SBLOCK; j < j1; j++)
                s[j - b * ATTN_SBLOCK] = index_score(qx + (size_t)h * r, kx + ((size_t)h * kv_len + j) * r,
                                                     q + (size_t)h * d, k + ((size_t)j * n_kv_head + h / G) * d,
                                                     forced, d, r, scale);
            blse[(size_t)h * ld + b] = block_lse(s, j1 - b * ATTN_SBLOCK);
        }
    }
}

void attn_index_prefill_ref(const float *qx, const uint16_t *kx, const uint16_t *q, const uint16_t *k,
                            float *blse, size_t ld, int n_q, int kv_len, int q_offset, int n_head,
                            int n_kv_head, int d, int r, const attn_select_params *prm)
{
    if (n_q <= 0 || kv_len <= 0 || q_offset < 0 || n_kv_head <= 0 || n_head % n_kv_head || d <= 0 || r <= 0)
        abort();
    const int G = n_head / n_kv_head, n_qb = (n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    const float scale = 1.0f / sqrtf((float)d);
    float *x = malloc(sizeof *x * (size_t)ATTN_SBLOCK * r); /* the block's qx rows, rounded to bf16 */
    if (!x) abort();
    for (int qb = 0; qb < n_qb; qb++) {
        const int row0 = qb * ATTN_SBLOCK, rows = n_q - row0 < ATTN_SBLOCK ? n_q - row0 : ATTN_SBLOCK;
        const int f = q_offset + row0, last = f + rows - 1, V = last / ATTN_SBLOCK + 1;
        const int sink_end = prm->sink < f + 1 ? prm->sink : f + 1;
        const int local_lo = prm->local > 0 ? (f - prm->local + 1 > 0 ? f - prm->local + 1 : 0) / ATTN_SBLOCK : V;
        for (int h = 0; h < n_head; h++) {
            for (int t = 0; t < rows; t++)
                for (int c = 0; c < r; c++)
                    x[t * r + c] = attn_bf16_to_f32(attn_f32_to_bf16(qx[((size_t)(row0 + t) * n_head + h) * r + c]));
            float *out = blse + ((size_t)qb * n_head + h) * ld;
            for (int b = 0; b < V; b++) {
                const int forced = b * ATTN_SBLOCK < sink_end || b >= local_lo;
                float e[ATTN_SBLOCK];
                for (int j = b * ATTN_SBLOCK; j < (b + 1) * ATTN_SBLOCK; j++) {
                    float best = -INFINITY;
                    for (int t = j - f > 0 ? j - f : 0; j < kv_len && t < rows; t++) { /* rows that see j */
                        float s = index_score(x + (size_t)t * r, kx + ((size_t)h * kv_len + j) * r,
                                              q + ((size_t)(row0 + t) * n_head + h) * d,
                                              k + ((size_t)j * n_kv_head + h / G) * d, forced, d, r, scale);
                        best = s > best ? s : best;
                    }
                    e[j - b * ATTN_SBLOCK] = best;
                }
                out[b] = block_lse(e, ATTN_SBLOCK);
            }
        }
    }
    free(x);
}

void attn_index_prefill_mean_ref(const float *qx, const uint16_t *kx, const uint16_t *q, const uint16_t *k,
                                 float *blse, size_t ld, int n_q, int kv_len, int q_offset, int n_head,
                                 int n_kv_head, int d, int r, const attn_select_params *prm)
{
    if (n_q <= 0 || kv_len <= 0 || q_offset < 0 || n_kv_head <= 0 || n_head % n_kv_head || d <= 0 || r <= 0)
        abort();
    const int G = n_head / n_kv_head, n_qb = (n_q + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    const float scale = 1.0f / sqrtf((float)d);
    float *x = malloc(sizeof *x * (size_t)(r + d)), *qm = x + r;
    if (!x) abort();
    for (int qb = 0; qb < n_qb; qb++) {
        const int row0 = qb * ATTN_SBLOCK, rows = n_q - row0 < ATTN_SBLOCK ? n_q - row0 : ATTN_SBLOCK;
        const int f = q_offset + row0, last = f + rows - 1, V = last / ATTN_SBLOCK + 1;
        const int sink_end = prm->sink < f + 1 ? prm->sink : f + 1;
        const int local_lo = prm->local > 0 ? (f - prm->local + 1 > 0 ? f - prm->local + 1 : 0) / ATTN_SBLOCK : V;
        for (int h = 0; h < n_head; h++) {
            for (int c = 0; c < r; c++) {
                float sum = 0.0f;
                for (int t = 0; t < rows; t++) sum += qx[((size_t)(row0 + t) * n_head + h) * r + c];
                x[c] = sum / (float)rows;
            }
            for (int c = 0; c < d; c++) {
                float sum = 0.0f;
                for (int t = 0; t < rows; t++) sum += attn_bf16_to_f32(q[((size_t)(row0 + t) * n_head + h) * d + c]);
                qm[c] = sum / (float)rows;
            }
            float *out = blse + ((size_t)qb * n_head + h) * ld;
            for (int b = 0; b < V; b++) {
                const int forced = b * ATTN_SBLOCK < sink_end || b >= local_lo;
                float e[ATTN_SBLOCK];
                for (int j = b * ATTN_SBLOCK; j < (b + 1) * ATTN_SBLOCK; j++) {
                    float dot = 0.0f;
                    if (j > last || j >= kv_len) {
                        e[j - b * ATTN_SBLOCK] = -INFINITY;
                        continue;
                    }
                    if (forced) {
                        const uint16_t *kj = k + ((size_t)j * n_kv_head + h / G) * d;
                        for (int c = 0; c < d; c++) dot += qm[c] * attn_bf16_to_f32(kj[c]);
                    } else {
                        const uint16_t *kxj = kx + ((size_t)h * kv_len + j) * r;
                        for (int c = 0; c < r; c++) dot += x[c] * attn_bf16_to_f32(kxj[c]);
                    }
                    e[j - b * ATTN_SBLOCK] = dot * scale;
                }
                out[b] = block_lse(e, ATTN_SBLOCK);
            }
        }
    }
    free(x);
}

void attn_kv_append_index_ref(uint16_t *kc, uint16_t *vc, uint16_t *kx, long kx_ld, const float *k,
                              const float *v, const float *k_pre, const float *wk, int pos0, int n,
                              int n_head, int n_kv_head, int d, int r, const int *heads, int n_sel)
{
    if (n <= 0 || pos0 < 0 || n_kv_head <= 0 || n_head % n_kv_head || pos0 + n > kx_ld) abort();
    const size_t row = (size_t)n_kv_head * d;
    for (size_t e = 0; e < (size_t)n * row; e++) {
        kc[(size_t)pos0 * row + e] = attn_f32_to_bf16(k[e]);
        vc[(size_t)pos0 * row + e] = attn_f32_to_bf16(v[e]);
    }
    const int G = n_head / n_kv_head;
    for (int t = 0; t < n; t++)
        for (int s = 0; s < n_sel; s++) {
            const int h = heads[s];
            const float *kp = k_pre + ((size_t)t * n_kv_head + h / G) * d;
            for (int c = 0; c < r; c++) {
                const float *w = wk + ((size_t)h * r + c) * d;
                float acc = 0.0f;
                for (int e = 0; e < d; e++) acc = fmaf(w[e], kp[e], acc);
                kx[((size_t)h * kx_ld + pos0 + t) * r + c] = attn_f32_to_bf16(acc);
            }
        }
}
