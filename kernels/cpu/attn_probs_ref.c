/* attn_probs_ref.c — the CPU twin of the probability-row kernel
 * (kernels/attn_probs.h): per (head, row) the scores of the visible keys,
 * their max, exp, sum and the division, in f32, the rest of the row 0.
 * Plain loops on purpose: this is what the GPU rows are judged against.
 */
#include "kernels/attn_probs.h"

#include <math.h>

#include "kernels/attn_kernels.h"

void attn_probs_ref(float *p, long ldp, const float *q, const uint16_t *k, int n_q, int q_pos0, int n_head,
                    int n_kv_head, int d, int window)
{
    const int kv_end = q_pos0 + n_q, group = n_head / n_kv_head;
    const float scale = 1.0f / sqrtf((float)d);
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < n_q; i++) {
            const int pos = q_pos0 + i, lo = window && pos - window + 1 > 0 ? pos - window + 1 : 0;
            const float *qi = q + ((size_t)i * n_head + h) * d;
            float *row = p + ((size_t)h * n_q + i) * ldp, m = -INFINITY, sum = 0.0f;
            for (int j = 0; j < kv_end; j++) row[j] = 0.0f;
            for (int j = lo; j <= pos; j++) {
                const uint16_t *kj = k + ((size_t)j * n_kv_head + h / group) * d;
                float dot = 0.0f;
                for (int c = 0; c < d; c++) dot += qi[c] * attn_bf16_to_f32(kj[c]);
                row[j] = dot * scale;
                if (row[j] > m) m = row[j];
            }
            for (int j = lo; j <= pos; j++) sum += row[j] = expf(row[j] - m);
            for (int j = lo; j <= pos; j++) row[j] /= sum;
        }
}
