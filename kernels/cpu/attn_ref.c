/* attn_ref.c — the CPU twins of the attention kernels: the oracle every fast
 * attention path is checked against (kernels/attn_kernels.h has the contract).
 *
 * Straightforward on purpose: for each query row and head, all scores, their
 * max, exp, sum, then the weighted sum of v. Scores in f32, sums in double,
 * so the reference is far more exact than the bf16 kernels it judges.
 * No threads, no blocking: read it, don't tune it.
 */
#include "kernels/attn_kernels.h"

#include <math.h>
#include <stdlib.h>

/* One query vector (d values, f32) against kv head kvh of the cache:
 * attends positions 0 .. n_keys-1. out: (d) f32. Returns the LSE. */
static float attend_one(const float *qf, const uint16_t *k, const uint16_t *v, float *out,
                        int n_keys, int kvh, int n_kv_head, int d, float *s)
{
    const float scale = 1.0f / sqrtf((float)d);
    float m = -INFINITY;
    for (int j = 0; j < n_keys; j++) {
        const uint16_t *kj = k + ((size_t)j * n_kv_head + kvh) * d;
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
        const uint16_t *vj = v + ((size_t)j * n_kv_head + kvh) * d;
        for (int c = 0; c < d; c++) acc[c] += p * attn_bf16_to_f32(vj[c]);
    }
    for (int c = 0; c < d; c++) out[c] = (float)(acc[c] / l);
    return (float)(m + log(l));
}

void attn_prefill_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                      float *out, float *lse, int n_q, int kv_len, int q_offset,
                      int n_head, int n_kv_head, int d)
{
    if (n_q <= 0 || kv_len <= 0 || d <= 0 || d > 256 || n_kv_head <= 0 || n_head % n_kv_head)
        abort(); /* a caller bug, not user input */
    const int group = n_head / n_kv_head;
    float *s = malloc(sizeof(float) * (size_t)kv_len);
    float qf[256];
    if (!s) abort();
    for (int i = 0; i < n_q; i++) {
        long long last = (long long)q_offset + i; /* last position this row sees */
        int n_keys = last + 1 < kv_len ? (int)(last + 1) : kv_len;
        for (int h = 0; h < n_head; h++) {
            const uint16_t *qi = q + ((size_t)i * n_head + h) * d;
            for (int c = 0; c < d; c++) qf[c] = attn_bf16_to_f32(qi[c]);
            float *o = out + ((size_t)i * n_head + h) * d;
            if (n_keys <= 0) { /* sees nothing: defined as zeros, lse -inf */
                for (int c = 0; c < d; c++) o[c] = 0.0f;
                if (lse) lse[(size_t)i * n_head + h] = -INFINITY;
                continue;
            }
            float l = attend_one(qf, k, v, o, n_keys, h / group, n_kv_head, d, s);
            if (lse) lse[(size_t)i * n_head + h] = l;
        }
    }
    free(s);
}

void attn_decode_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                     float *out, float *lse, int kv_len, int n_head, int n_kv_head, int d)
{
    attn_prefill_ref(q, k, v, out, lse, 1, kv_len, kv_len - 1, n_head, n_kv_head, d);
}
