/* attn_ref.c — the CPU twins of the attention kernels: the oracle every fast
 * attention path is checked against (kernels/attn_kernels.h has the dense
 * contract and the local heads' ring, kernels/attn_sparse.h the block-sparse
 * one).
 *
 * Straightforward on purpose: for each query row and head, all scores, their
 * max, exp, sum, then the weighted sum of v. Scores in f32, sums in double,
 * so the reference is far more exact than the bf16 kernels it judges.
 * No threads, no blocking: read it, don't tune it.
 */
#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One query vector (d values, f32) against kv head kvh of the cache:
 * attends positions pos[0 .. n_keys-1] (pos NULL: j0 .. j0+n_keys-1; n_keys >= 1).
 * out: (d) f32. Returns the LSE. */
static float attend_one(const float *qf, const uint16_t *k, const uint16_t *v, float *out,
                        const int *pos, int j0, int n_keys, int kvh, int n_kv_head, int d, float *s)
{
    const float scale = 1.0f / sqrtf((float)d);
    float m = -INFINITY;
    for (int j = 0; j < n_keys; j++) {
        const uint16_t *kj = k + ((size_t)(pos ? pos[j] : j0 + j) * n_kv_head + kvh) * d;
        float dot = 0.0f;
        for (int c = 0; c < d; c++) dot += qf[c] * attn_bf16_to_f32(kj[c]);
        s[j] = dot * scale;
        if (s[j] > m) m = s[j];
    }
    double l = 0.0;
    double acc[256] = {0};
    for (int j = 0; j < n_keys; j++) {
        double p = exp((double)s[j] - m);
        l += p;
        const uint16_t *vj = v + ((size_t)(pos ? pos[j] : j0 + j) * n_kv_head + kvh) * d;
        for (int c = 0; c < d; c++) acc[c] += p * attn_bf16_to_f32(vj[c]);
    }
    for (int c = 0; c < d; c++) out[c] = (float)(acc[c] / l);
    return (float)(m + log(l));
}

void attn_prefill_window_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                             float *out, float *lse, int n_q, int kv_len, int q_offset,
                             int n_head, int n_kv_head, int d, int window)
{
    if (n_q <= 0 || kv_len <= 0 || d <= 0 || d > 256 || n_kv_head <= 0 || n_head % n_kv_head || window < 0)
        abort(); /* a caller bug, not user input */
    const int group = n_head / n_kv_head;
    float *s = malloc(sizeof(float) * (size_t)kv_len);
    float qf[256];
    if (!s) abort();
    for (int i = 0; i < n_q; i++) {
        long long last = (long long)q_offset + i; /* last position this row sees */
        int end = last + 1 < kv_len ? (int)(last + 1) : kv_len;
        int j0 = window && last - window + 1 > 0 ? (int)(last - window + 1) : 0; /* first key it sees */
        int n_keys = end - j0;
        for (int h = 0; h < n_head; h++) {
            const uint16_t *qi = q + ((size_t)i * n_head + h) * d;
            for (int c = 0; c < d; c++) qf[c] = attn_bf16_to_f32(qi[c]);
            float *o = out + ((size_t)i * n_head + h) * d;
            if (n_keys <= 0) { /* sees nothing: defined as zeros, lse -inf */
                for (int c = 0; c < d; c++) o[c] = 0.0f;
                if (lse) lse[(size_t)i * n_head + h] = -INFINITY;
                continue;
            }
            float l = attend_one(qf, k, v, o, NULL, j0, n_keys, h / group, n_kv_head, d, s);
            if (lse) lse[(size_t)i * n_head + h] = l;
        }
    }
    free(s);
}

void attn_prefill_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                      float *out, float *lse, int n_q, int kv_len, int q_offset,
                      int n_head, int n_kv_head, int d)
{
    attn_prefill_window_ref(q, k, v, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, d, 0);
}

void attn_decode_window_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                            float *out, float *lse, int kv_len, int n_head, int n_kv_head, int d, int window)
{
    attn_prefill_window_ref(q, k, v, out, lse, 1, kv_len, kv_len - 1, n_head, n_kv_head, d, window);
}

void attn_decode_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                     float *out, float *lse, int kv_len, int n_head, int n_kv_head, int d)
{
    attn_decode_window_ref(q, k, v, out, lse, kv_len, n_head, n_kv_head, d, 0);
}

/* Query row i (head h) over the blocks idx[lo .. hi): the keys j of those
 * blocks with j <= last and j < kv_len. pos, s: scratch of (hi-lo)*64. */
static void sparse_row(const uint16_t *qi, const uint16_t *k, const uint16_t *v, const int32_t *idx,
                       int64_t lo, int64_t hi, long long last, int kv_len, int kvh, int n_kv_head, int d,
                       float *o, float *lse, int *pos, float *s)
{
    float qf[256];
    int n = 0;
    for (int64_t e = lo; e < hi; e++)
        for (int j = idx[e] * ATTN_SBLOCK; j < (idx[e] + 1) * ATTN_SBLOCK; j++)
            if (j <= last && j < kv_len) pos[n++] = j;
    if (n == 0) { /* sees nothing: zeros, lse -inf */
        for (int c = 0; c < d; c++) o[c] = 0.0f;
        if (lse) *lse = -INFINITY;
        return;
    }
    for (int c = 0; c < d; c++) qf[c] = attn_bf16_to_f32(qi[c]);
    float l = attend_one(qf, k, v, o, pos, 0, n, kvh, n_kv_head, d, s);
    if (lse) *lse = l;
}

void attn_sparse_prefill_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                             const int64_t *off, const int32_t *idx, float *out, float *lse,
                             int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d,
                             int row0, int n_rows)
{
    if (n_q <= 0 || kv_len <= 0 || d <= 0 || d > 256 || n_kv_head <= 0 || n_head % n_kv_head || row0 < 0 ||
        row0 + n_rows > n_q)
        abort(); /* a caller bug, not user input */
    const int group = n_head / n_kv_head;
    const int n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    int *pos = malloc(sizeof(int) * (size_t)n_kb * ATTN_SBLOCK);
    float *s = malloc(sizeof(float) * (size_t)n_kb * ATTN_SBLOCK);
    if (!pos || !s) abort();
    for (int i = row0; i < row0 + n_rows; i++) {
        const int qb = i / ATTN_SBLOCK;
        for (int h = 0; h < n_head; h++) {
            const int64_t it = (int64_t)qb * n_head + h;
            if (off[it + 1] - off[it] > n_kb) abort(); /* a block twice */
            sparse_row(q + ((size_t)i * n_head + h) * d, k, v, idx, off[it], off[it + 1], (long long)q_offset + i,
                       kv_len, h / group, n_kv_head, d, out + ((size_t)i * n_head + h) * d,
                       lse ? lse + (size_t)i * n_head + h : NULL, pos, s);
        }
    }
    free(pos);
    free(s);
}

void attn_sparse_decode_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                            const int64_t *off, const int32_t *idx, float *out, float *lse,
                            int kv_len, int n_head, int n_kv_head, int d)
{
    if (kv_len <= 0 || d <= 0 || d > 256 || n_kv_head <= 0 || n_head % n_kv_head) abort();
    const int group = n_head / n_kv_head;
    const int n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    int *pos = malloc(sizeof(int) * (size_t)n_kb * ATTN_SBLOCK);
    float *s = malloc(sizeof(float) * (size_t)n_kb * ATTN_SBLOCK);
    if (!pos || !s) abort();
    for (int h = 0; h < n_head; h++) {
        if (off[h + 1] - off[h] > n_kb) abort();
        sparse_row(q + (size_t)h * d, k, v, idx, off[h], off[h + 1], (long long)kv_len - 1, kv_len, h / group,
                   n_kv_head, d, out + (size_t)h * d, lse ? lse + h : NULL, pos, s);
    }
    free(pos);
    free(s);
}

void attn_sparse_union_ref(const int64_t *off, const int32_t *idx, int kv_len, int n_head, int n_kv_head,
                           int64_t *uoff, int32_t *uidx, uint32_t *umask)
{
    if (kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head || n_head / n_kv_head > 32) abort();
    const int group = n_head / n_kv_head;
    const int n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    uint32_t *bits = calloc((size_t)n_kb, sizeof *bits);
    if (!bits) abort();
    uoff[0] = 0;
    for (int g = 0; g < n_kv_head; g++) {
        for (int r = 0; r < group; r++) {
            const int h = g * group + r;
            for (int64_t e = off[h]; e < off[h + 1]; e++) {
                if (idx[e] < 0 || idx[e] >= n_kb) abort(); /* a caller bug */
                bits[idx[e]] |= 1u << r;
            }
        }
        int64_t n = uoff[g];
        for (int b = 0; b < n_kb; b++) {
            if (!bits[b]) continue;
            uidx[n] = b;
            umask[n++] = bits[b];
            bits[b] = 0;
        }
        uoff[g + 1] = n;
    }
    free(bits);
}

/* Prefill unions: the decode union of each query block's n_head lists (off
 * shifted to the block's items: entries stay absolute), copied into the
 * room of each group's own lists. */
void attn_sparse_prefill_union_lists_ref(const int64_t *off, const int32_t *idx, int n_q, int kv_len, int n_head,
                                         int n_kv_head, int32_t *uidx, uint32_t *umask, int32_t *ucnt)
{
    if (n_q <= 0 || kv_len <= 0 || n_kv_head <= 0 || n_head % n_kv_head) abort(); /* a caller bug */
    const int group = n_head / n_kv_head, n_qb = (n_q + 63) / 64;
    const int n_kb = (kv_len + ATTN_SBLOCK - 1) / ATTN_SBLOCK;
    int64_t *uo = malloc(sizeof(int64_t) * (size_t)(n_kv_head + 1));
    int32_t *ui = malloc(sizeof(int32_t) * (size_t)n_kv_head * n_kb);
    uint32_t *um = malloc(sizeof(uint32_t) * (size_t)n_kv_head * n_kb);
    if (!uo || !ui || !um) abort();
    for (int qb = 0; qb < n_qb; qb++) {
        const int64_t *o = off + (size_t)qb * n_head;
        attn_sparse_union_ref(o, idx, kv_len, n_head, n_kv_head, uo, ui, um);
        for (int g = 0; g < n_kv_head; g++) {
            const int64_t at = o[g * group], n = uo[g + 1] - uo[g];
            memcpy(uidx + at, ui + uo[g], sizeof(int32_t) * (size_t)n);
            memcpy(umask + at, um + uo[g], sizeof(uint32_t) * (size_t)n);
            ucnt[(size_t)qb * n_kv_head + g] = (int32_t)n;
        }
    }
    free(uo);
    free(ui);
    free(um);
}

/* Each head's own list back from its group's union (the blocks with its
 * bit), then the per-head twin. */
void attn_sparse_prefill_union_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v, const int64_t *off,
                                   const int32_t *uidx, const uint32_t *umask, const int32_t *ucnt, float *out,
                                   float *lse, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d,
                                   int row0, int n_rows)
{
    if (n_q <= 0 || n_kv_head <= 0 || n_head % n_kv_head) abort(); /* a caller bug */
    const int group = n_head / n_kv_head, n_qb = (n_q + 63) / 64;
    const size_t n_items = (size_t)n_qb * n_head;
    int64_t *off2 = malloc(sizeof(int64_t) * (n_items + 1));
    int32_t *idx2 = malloc(sizeof(int32_t) * (size_t)(off[n_items] > 0 ? off[n_items] : 1));
    if (!off2 || !idx2) abort();
    int64_t n = 0;
    for (size_t i = 0; i < n_items; i++) {
        const int qb = (int)(i / n_head), h = (int)(i % n_head), g = h / group, r = h % group;
        const int64_t at = off[(size_t)qb * n_head + (size_t)g * group];
        const int32_t c = ucnt[(size_t)qb * n_kv_head + g];
        off2[i] = n;
        for (int32_t e = 0; e < c; e++)
            if (umask[at + e] >> r & 1u) {
                if (n >= off[n_items]) abort(); /* more blocks than the lists had */
                idx2[n++] = uidx[at + e];
            }
    }
    off2[n_items] = n;
    attn_sparse_prefill_ref(q, k, v, off2, idx2, out, lse, n_q, kv_len, q_offset, n_head, n_kv_head, d, row0,
                            n_rows);
    free(off2);
    free(idx2);
}

/* ---- local heads over the ring (attn_kernels.h, attn_local_*) ---- */

/* Rows i of a chunk at q_offset: keys of position j >= chunk0 come from the
 * chunk kc, vc (row j - chunk0), the others from the ring. Each (row, kv
 * head) gathers its keys in position order into kg, vg, then attend_one. */
static void local_rows(const uint16_t *q, const uint16_t *kr, const uint16_t *vr, const uint16_t *kc,
                       const uint16_t *vc, float *out, float *lse, int n_q, int q_offset, int chunk0, int S, int W,
                       int n_head, int n_kv_head, int d)
{
    if (n_q <= 0 || q_offset < 0 || S < 0 || W < 1 || d <= 0 || d > 256 || n_kv_head <= 0 || n_head % n_kv_head)
        abort(); /* a caller bug, not user input */
    const int group = n_head / n_kv_head, cap = S + W;
    uint16_t *kg = malloc(sizeof(uint16_t) * (size_t)cap * d), *vg = malloc(sizeof(uint16_t) * (size_t)cap * d);
    float *s = malloc(sizeof(float) * (size_t)cap);
    float qf[256];
    if (!kg || !vg || !s) abort();
    for (int i = 0; i < n_q; i++) {
        const int p = q_offset + i, n_sink = S < p + 1 ? S : p + 1, lo = p - W + 1 > S ? p - W + 1 : S;
        for (int g = 0; g < n_kv_head; g++) {
            int n = 0;
            for (int j = 0; j <= p; j++) {
                if (j == n_sink && j < lo) j = lo; /* skip the gap between the sinks and the window */
                const size_t at = j >= chunk0 ? ((size_t)(j - chunk0) * n_kv_head + g) * d
                                              : ((size_t)attn_local_row(j, S, W) * n_kv_head + g) * d;
                const uint16_t *ks = j >= chunk0 ? kc : kr, *vs = j >= chunk0 ? vc : vr;
                memcpy(kg + (size_t)n * d, ks + at, sizeof(uint16_t) * d);
                memcpy(vg + (size_t)n * d, vs + at, sizeof(uint16_t) * d);
                n++;
            }
            for (int h = g * group; h < (g + 1) * group; h++) {
                const uint16_t *qi = q + ((size_t)i * n_head + h) * d;
                for (int c = 0; c < d; c++) qf[c] = attn_bf16_to_f32(qi[c]);
                float l = attend_one(qf, kg, vg, out + ((size_t)i * n_head + h) * d, NULL, 0, n, 0, 1, d, s);
                if (lse) lse[(size_t)i * n_head + h] = l;
            }
        }
    }
    free(kg);
    free(vg);
    free(s);
}

void attn_local_prefill_ref(const uint16_t *q, const uint16_t *kr, const uint16_t *vr, const uint16_t *kc,
                            const uint16_t *vc, float *out, float *lse, int n_q, int q_offset, int S, int W,
                            int n_head, int n_kv_head, int d)
{
    local_rows(q, kr, vr, kc, vc, out, lse, n_q, q_offset, q_offset, S, W, n_head, n_kv_head, d);
}

void attn_local_decode_ref(const uint16_t *q, const uint16_t *kr, const uint16_t *vr, float *out, float *lse,
                           int pos, int S, int W, int n_head, int n_kv_head, int d)
{
    local_rows(q, kr, vr, NULL, NULL, out, lse, 1, pos, pos + 1, S, W, n_head, n_kv_head, d);
}

void attn_local_store_ref(uint16_t *kr, uint16_t *vr, const uint16_t *kc, const uint16_t *vc, int pos0, int n,
                          int S, int W, int n_kv_head, int d)
{
    if (pos0 < 0 || n < 0 || S < 0 || W < 1) abort();
    const size_t row = (size_t)n_kv_head * d;
    for (int t = 0; t < n; t++) {
        const int p = pos0 + t;
        if (p >= S && p < pos0 + n - W) continue; /* overwritten later in the chunk */
        memcpy(kr + (size_t)attn_local_row(p, S, W) * row, kc + (size_t)t * row, sizeof(uint16_t) * row);
        memcpy(vr + (size_t)attn_local_row(p, S, W) * row, vc + (size_t)t * row, sizeof(uint16_t) * row);
    }
}
